"""Where the course lives online, and the one function that makes "Open in Colab" links
(every chapter page, the landing page and the README)."""

from __future__ import annotations

from pathlib import PurePosixPath

REPOSITORY = "open-nn-course/nn-course"
BRANCH = "main"
REPOSITORY_URL = f"https://github.com/{REPOSITORY}"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"

#: The first code cell of every notebook: makes it run in Colab or on a fresh machine.
SETUP_CELL = f'''# Colab or a fresh machine: install the course package when it is missing.
import importlib.util

if importlib.util.find_spec("course_utils") is None:
    %pip install --quiet "course_utils @ git+{REPOSITORY_URL}"'''

KINDS = {"lecture": "book", "exercise": "exercises", "solution": "solutions"}


def colab_url(path: str) -> str:
    """The Colab URL that opens the notebook at ``path`` (relative to the repository root;
    a ``.md`` source is mapped to its paired ``.ipynb``)."""
    notebook = PurePosixPath(path).with_suffix(".ipynb")
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{notebook}"


def chapter_paths(chapter: str) -> dict:
    """The repository paths of a chapter's lecture, exercise and solution notebooks."""
    return {kind: f"{folder}/{chapter}.ipynb" for kind, folder in KINDS.items()}


def chapter_links_markdown(chapter: str) -> str:
    """Markdown with three "Open in Colab" badges: lecture, exercise, solution."""
    parts = []
    for kind, path in chapter_paths(chapter).items():
        parts.append(f"**{kind.capitalize()}** [![Open the {kind} in Colab]({COLAB_BADGE})]"
                     f"({colab_url(path)})")
    return " &nbsp; ".join(parts)


def chapter_links(chapter: str):
    """Display the chapter's Colab badges in a notebook (rendered as Markdown in the book)."""
    from IPython.display import Markdown

    return Markdown(chapter_links_markdown(chapter))
