"""The chapters of the course: their names, ids and files (the one module that knows them).

A chapter is named ``NN-slug`` (``03-fluids``); ``NN`` is its id. Its three notebooks share
that name: the lecture ``book/NN-slug.md``, the solution ``solutions/NN-slug.md`` and the
generated exercise ``exercises/NN-slug.md``, each paired with an ``.ipynb``. An exercise id is
``NN.name`` (``03.fit_bingham``) and a notebook checks an answer with ``check("NN.name", ...)``.
The benchmark, the course map, the grader and the tests ask this module; none of them spells
the pattern again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: The folder of each kind of notebook, relative to the repository root.
FOLDERS = {"lecture": "book", "exercise": "exercises", "solution": "solutions"}
#: The repository root when the package runs from a checkout (tests, benchmark, book build).
REPO_ROOT = Path(__file__).resolve().parents[2]

CHAPTER_NAME = re.compile(r"(?P<id>\d\d)-(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)")
CHAPTER_ID = re.compile(r"\d\d")
# A submitted file may be named ``03-fluids.ipynb`` or ``03_fluids.ipynb``.
_FILE_PREFIX = re.compile(r"(\d\d)[-_]")
EXERCISE_ID = re.compile(r"(?P<chapter>\d\d)\.(?P<name>[A-Za-z0-9_]+)")
# A check cell's first line is check("NN.name", ...).
_CHECK_CALL = re.compile(r"""^check\(\s*["'](\d\d\.[A-Za-z0-9_]+)["']""", re.M)


@dataclass(frozen=True)
class Chapter:
    """One chapter, e.g. ``Chapter("03", "fluids")``; paths are relative to the repository root."""

    id: str
    slug: str

    @property
    def name(self) -> str:
        return f"{self.id}-{self.slug}"

    def path(self, kind: str, suffix: str = ".md") -> PurePosixPath:
        """The file of one of its notebooks: ``kind`` is lecture, exercise or solution."""
        if kind not in FOLDERS:
            raise ValueError(f"kind must be one of {', '.join(FOLDERS)}, not {kind!r}")
        return PurePosixPath(FOLDERS[kind]) / f"{self.name}{suffix}"

    @property
    def lecture(self) -> PurePosixPath:
        return self.path("lecture")

    @property
    def exercise(self) -> PurePosixPath:
        return self.path("exercise")

    @property
    def solution(self) -> PurePosixPath:
        return self.path("solution")

    def notebooks(self, suffix: str = ".ipynb") -> dict[str, PurePosixPath]:
        """Lecture, exercise and solution, in that order (the Colab badges)."""
        return {kind: self.path(kind, suffix) for kind in FOLDERS}


def parse(name: str | Path) -> Chapter | None:
    """The chapter a file or page is named after (``book/03-fluids.ipynb`` -> 03), else None."""
    match = CHAPTER_NAME.fullmatch(PurePosixPath(str(name)).name.split(".", 1)[0])
    return Chapter(match["id"], match["slug"]) if match else None


def chapter(name: str) -> Chapter:
    """The chapter named ``NN-slug``; a clear error for any other name."""
    found = parse(name)
    if found is None:
        raise ValueError(f"{name!r} is not a chapter name: expected NN-slug, e.g. 03-fluids")
    return found


def files(kind: str, root: Path | str = REPO_ROOT, suffix: str = ".md") -> list[Path]:
    """The chapter notebooks of one kind that exist under ``root``, in chapter order."""
    folder = Path(root) / FOLDERS[kind]
    return sorted(p for p in folder.glob(f"*{suffix}") if parse(p) is not None)


def chapters(root: Path | str = REPO_ROOT) -> list[Chapter]:
    """Every chapter of the course: one per lecture ``book/NN-slug.md``, in order."""
    return [parse(p) for p in files("lecture", root)]


def is_chapter_id(text: str) -> bool:
    """True for a chapter id such as ``"03"``."""
    return bool(CHAPTER_ID.fullmatch(str(text)))


def id_from_filename(name: str | Path) -> str | None:
    """The chapter id a file name starts with (``03-fluids.ipynb`` or ``03_x.ipynb``), else None."""
    match = _FILE_PREFIX.match(PurePosixPath(str(name)).name)
    return match.group(1) if match else None


def exercise_chapter(exercise_id: str) -> str:
    """The chapter id of an exercise id: ``"03.fit_bingham"`` -> ``"03"``."""
    return exercise_id.split(".", 1)[0]


def check_calls(text: str) -> list[str]:
    """The exercise ids of the ``check("NN.name", ...)`` lines in a notebook's MyST text or in a
    cell's source, in order (read a ``.ipynb`` with nbformat first and pass each cell)."""
    return _CHECK_CALL.findall(text)
