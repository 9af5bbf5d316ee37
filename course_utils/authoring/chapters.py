"""The chapters of the course: their names, ids and files (the one module that knows them).

A chapter is named ``NN-slug`` (``03-fluids``); ``NN`` is its id. Its three notebooks share
that name: the lecture ``book/NN-slug.md``, the solution ``solutions/NN-slug.md`` and the
generated exercise ``exercises/NN-slug.md``, each paired with an ``.ipynb``; its checks are the
module ``course_utils/checks/chNN_slug.py``. An exercise id is ``NN.name``
(``03.fit_bingham``) and a notebook checks an answer with ``check("NN.name", ...)``, in the
cell after the answer, which a solution marks between ``# BEGIN SOLUTION`` and
``# END SOLUTION``. The checks, the exercise generator, the benchmark, the course map, mutation
testing, the grader and the tests ask this module; none of them spells a pattern again.
"""

from __future__ import annotations

import collections
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
# Anywhere in a notebook file's text, quotes escaped or not (a raw .ipynb is JSON).
_CHECK_CALL_IN_FILE = re.compile(r"""check\(\s*\\?["'](\d\d)\.[A-Za-z0-9_]+""")
# A chapter's check module: course_utils/checks/chNN_slug.py.
CHECK_MODULE = re.compile(r"ch(?P<id>\d\d)_(?P<slug>[a-z0-9]+(?:_[a-z0-9]+)*)")
#: The markers of a solution: a code block between CODE_BEGIN and CODE_END lines, a written
#: answer in a Markdown cell between TEXT_BEGIN and TEXT_END.
CODE_BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION\s*$")
CODE_END = re.compile(r"^\s*# END SOLUTION\s*$")
TEXT_BEGIN = "<!-- BEGIN SOLUTION -->"
TEXT_END = "<!-- END SOLUTION -->"


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

    @property
    def check_module(self) -> str:
        """The name of its check module in ``course_utils.checks``: ``ch03_fluids``."""
        return f"ch{self.id}_{self.slug.replace('-', '_')}"


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


def checked_exercise(cell_source: str) -> str | None:
    """The exercise id a check cell checks (its first line is ``check("NN.name", ...)``), else None."""
    match = _CHECK_CALL.match(cell_source.strip())
    return match.group(1) if match else None


def chapter_of_checks(text: str) -> str | None:
    """The chapter most ``check("NN.name", ...)`` calls in a notebook file's text name (a raw
    ``.ipynb`` too, whose quotes are escaped), else None: how the grader tells the chapter of
    a submission not named after it."""
    ids = _CHECK_CALL_IN_FILE.findall(text)
    return collections.Counter(ids).most_common(1)[0][0] if ids else None


def is_check_module(name: str) -> bool:
    """True for the name of a chapter's check module (``ch03_fluids``; a dotted name or a file
    name is read by its last part)."""
    stem = name.rsplit(".", 1)[-1] if not name.endswith(".py") else PurePosixPath(name).stem
    return bool(CHECK_MODULE.fullmatch(stem))


class MarkerError(ValueError):
    """A solution block is not closed, or is nested."""


@dataclass(frozen=True)
class SolutionBlock:
    """One answer in a solution's code cell: the lines of its two markers (1-based) and the
    indent of the first."""

    begin: int
    end: int
    indent: str

    @property
    def lines(self) -> range:
        """The answer's own lines, between the markers."""
        return range(self.begin + 1, self.end)


def solution_blocks(source: str) -> list[SolutionBlock]:
    """The answers marked in a code cell, in order; :class:`MarkerError` for a marker without
    its partner or a block inside another."""
    blocks, begin, indent = [], None, ""
    for number, line in enumerate(source.split("\n"), start=1):
        opening = CODE_BEGIN.match(line)
        if opening and begin is not None:
            raise MarkerError("nested BEGIN SOLUTION")
        if opening:
            begin, indent = number, opening.group("indent")
        elif CODE_END.match(line):
            if begin is None:
                raise MarkerError("END SOLUTION without BEGIN SOLUTION")
            blocks.append(SolutionBlock(begin, number, indent))
            begin = None
    if begin is not None:
        raise MarkerError("BEGIN SOLUTION without END SOLUTION")
    return blocks


# --------------------------------------------------------------------------- statements

#: The key of a chapter's preamble (the text before its first section) in exercise_statements().
PREAMBLE = "preamble"
_HEADING = re.compile(r"^(?P<level>#{1,6})\s")
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def exercise_statements(text: str) -> dict[str, str]:
    """The statement of each checked exercise of a solution notebook's MyST text, by exercise id:
    the Markdown of its section, from the last ``##`` heading (or the previous check cell) to its
    check cell, without headings, written answers and comments. ``PREAMBLE`` holds the text
    between the title and the first ``##`` heading, which may state rules for every exercise.
    The requirement tables (tests/checks/requirements) hold every sentence of these."""
    import jupytext

    statements, pending, preamble = {}, [], None
    for cell in jupytext.reads(text, fmt="md:myst").cells:
        if cell.cell_type == "code":
            exercise_id = checked_exercise(cell.source)
            if exercise_id:
                statements[exercise_id] = _statement_text(pending)
                pending = []
            continue
        if cell.cell_type != "markdown":
            continue
        for line in _COMMENT.sub("", _without_written_answers(cell.source)).split("\n"):
            heading = _HEADING.match(line)
            if heading and len(heading["level"]) <= 2:
                if preamble is None and len(heading["level"]) == 2:
                    preamble = _statement_text(pending)
                pending = []
            elif not heading:
                pending.append(line)
    return {PREAMBLE: preamble or "", **statements}


def _without_written_answers(markdown: str) -> str:
    pattern = re.escape(TEXT_BEGIN) + ".*?" + re.escape(TEXT_END)
    return re.sub(pattern, "", markdown, flags=re.S)


def _statement_text(lines: list[str]) -> str:
    return "\n".join(lines).strip()
