"""``python -m course_utils sync``: every generated file of the course brought up to date.

It copies the ``repository:`` setting of ``_config.yml`` into ``course_utils/_repository.py``
(which :mod:`course_utils.links` reads) and into the first code cell of every notebook (the
setup cell that installs the package in Colab), writes exercises/ from solutions/ and the
``.ipynb`` twin of every MyST notebook (:mod:`.exercises`).
"""

from __future__ import annotations

import re
from pathlib import Path

from course_utils.authoring.chapters import FOLDERS
from course_utils.authoring.exercises import exercise_md_text, is_notebook, paired_ipynb_text
from course_utils.links import Repository

LECTURES, EXERCISES, SOLUTIONS = FOLDERS["lecture"], FOLDERS["exercise"], FOLDERS["solution"]
SETUP_MARKER = "# Colab or a fresh machine: install the course package when it is missing."


def read_repository(config_path: Path | str = "_config.yml") -> Repository:
    """The ``repository:`` setting of a Jupyter Book ``_config.yml``."""
    import yaml

    config = yaml.safe_load(Path(config_path).read_text()) or {}
    setting = config.get("repository")
    if not isinstance(setting, dict) or "url" not in setting:
        raise ValueError(f"{config_path} has no `repository: url:` setting")
    return Repository(url=str(setting["url"]), branch=str(setting.get("branch", "main")),
                      path_to_book=str(setting.get("path_to_book") or ""))


def repository_module_text(repository: Repository) -> str:
    """The text of ``course_utils/_repository.py`` for a setting (written by ``sync``)."""
    return ('"""Generated from `repository:` in _config.yml by `python -m course_utils sync`; do not edit."""\n\n'
            f"URL = {repository.url!r}\nBRANCH = {repository.branch!r}\nPATH_TO_BOOK = {repository.path_to_book!r}\n")


def setup_cell(repository: Repository) -> str:
    """The first code cell of every notebook: makes it run in Colab or on a fresh machine."""
    source = f"git+{repository.url}@{repository.branch}"
    if repository.path_to_book:
        source += f"#subdirectory={repository.path_to_book}"
    return (f"{SETUP_MARKER}\nimport importlib.util\n\n"
            'if importlib.util.find_spec("course_utils") is None:\n'
            f'    %pip install --quiet "{source}"')


FIRST_CODE_CELL = re.compile(r"(```\{code-cell\}[^\n]*\n(?::[^\n]*\n)*\n?)(.*?)(\n```)", re.S)


def with_setup_cell(md_text: str, cell: str) -> str:
    """A MyST notebook's text with its first code cell replaced by ``cell`` when that cell is
    a setup cell (it starts with :data:`SETUP_MARKER`); otherwise the text unchanged."""
    match = FIRST_CODE_CELL.search(md_text)
    if match is None or not match.group(2).startswith(SETUP_MARKER):
        return md_text
    return md_text[:match.start(2)] + cell + md_text[match.end(2):]


def sync(root: Path | str = ".") -> list[Path]:
    """Regenerate exercises/ from solutions/ and every ``.ipynb`` twin, after copying the
    ``repository:`` setting of ``_config.yml`` (when there is one) into
    ``course_utils/_repository.py`` and every first code cell; return changed files."""
    root = Path(root)
    changed = []

    def write(path: Path, text: str):
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)

    if (root / "_config.yml").exists():
        repository = read_repository(root / "_config.yml")
        (root / "course_utils").mkdir(exist_ok=True)
        write(root / "course_utils" / "_repository.py", repository_module_text(repository))
        cell = setup_cell(repository)
        for folder in (LECTURES, SOLUTIONS):
            for md in sorted((root / folder).glob("*.md")):
                if is_notebook(md):
                    write(md, with_setup_cell(md.read_text(), cell))

    (root / EXERCISES).mkdir(exist_ok=True)
    sources = {p.name for p in (root / SOLUTIONS).glob("*.md")}
    for stale in (root / EXERCISES).glob("*"):
        if stale.suffix in (".md", ".ipynb") and stale.with_suffix(".md").name not in sources:
            stale.unlink()
            changed.append(stale)
    for solution in sorted((root / SOLUTIONS).glob("*.md")):
        write(root / EXERCISES / solution.name, exercise_md_text(solution))
    for folder in (LECTURES, SOLUTIONS, EXERCISES):
        for md in sorted((root / folder).glob("*.md")):
            if is_notebook(md):
                write(md.with_suffix(".ipynb"), paired_ipynb_text(md))
    return changed


def stale_files(root: Path | str = ".") -> list[Path]:
    """The files :func:`sync` would change under ``root`` (relative to it), found on a copy:
    nothing under ``root`` is written (``python -m course_utils sync --check``)."""
    import shutil
    import tempfile

    root = Path(root)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy"
        for folder in FOLDERS.values():
            if (root / folder).exists():
                shutil.copytree(root / folder, copy / folder)
        for name in ("_config.yml", "course_utils/_repository.py"):
            if (root / name).exists():
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / name, copy / name)
        return [p.relative_to(copy) for p in sync(copy)]
