"""Where the course lives online, and the one function that makes "Open in Colab" links
(every chapter page, the landing page and the README)."""

from __future__ import annotations

from pathlib import PurePosixPath

REPOSITORY = "open-nn-course/nn-course"
BRANCH = "main"
REPOSITORY_URL = f"https://github.com/{REPOSITORY}"

#: The first code cell of every notebook: makes it run in Colab or on a fresh machine.
SETUP_CELL = f'''# Colab or a fresh machine: install the course package when it is missing.
import importlib.util

if importlib.util.find_spec("course_utils") is None:
    %pip install --quiet "course_utils @ git+{REPOSITORY_URL}"'''

def colab_url(path) -> str:
    """The Colab URL that opens the notebook at ``path`` (relative to the repository root;
    a ``.md`` source is mapped to its paired ``.ipynb``)."""
    notebook = PurePosixPath(path).with_suffix(".ipynb")
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{notebook}"


def badge_svg(label: str, text: str = "Open in Colab") -> str:
    """A small two-part badge as a ``data:`` URI: it renders offline, in the book, Jupyter and Colab."""
    import base64

    left, right = 7 * len(label) + 12, 7 * len(text) + 12
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + right}" height="20" role="img" '
           f'aria-label="{label}: {text}"><rect width="{left}" height="20" rx="3" fill="#555"/>'
           f'<rect x="{left}" width="{right}" height="20" rx="3" fill="#e37400"/>'
           f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">'
           f'<text x="{left / 2}" y="14">{label}</text><text x="{left + right / 2}" y="14">{text}</text></g></svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def chapter_links_markdown(chapter: str) -> str:
    """HTML/Markdown with three "Open in Colab" badges: lecture, exercise, solution."""
    from course_utils.chapters import chapter as find_chapter

    parts = []
    for kind, path in find_chapter(chapter).notebooks().items():
        alt = f"Open the {kind} notebook in Colab"
        parts.append(f'<a href="{colab_url(path)}" target="_blank" rel="noopener">'
                     f'<img src="{badge_svg(kind.capitalize())}" alt="{alt}" title="{alt}"></a>')
    return " &nbsp; ".join(parts)


def chapter_links(chapter: str):
    """Display the chapter's Colab badges in a notebook (rendered as Markdown in the book)."""
    from IPython.display import Markdown

    return Markdown(chapter_links_markdown(chapter))
