"""Where the course lives online, and the one function that makes "Open in Colab" links
(every chapter page, the landing page and the README).

The one setting is ``repository:`` in ``_config.yml`` (url, branch, path_to_book). Jupyter
Book's launch buttons read it directly; ``python -m course_utils sync``
(:mod:`course_utils.authoring.sync`) copies it into ``course_utils/_repository.py``, which
this module reads (so an installed package, e.g. in Colab, knows it too), and into the first
code cell of every notebook; ``python -m course_utils publish`` pushes to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from course_utils import _repository

GITHUB_URL = re.compile(r"^https://github\.com/(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class Repository:
    """The ``repository:`` setting: a GitHub URL, the branch readers see, the book's folder."""

    url: str
    branch: str = "main"
    path_to_book: str = ""

    def __post_init__(self):
        if not GITHUB_URL.match(self.url):
            raise ValueError(f"repository.url must look like https://github.com/OWNER/NAME, got {self.url!r}: "
                             "Colab and Binder open notebooks from GitHub")
        if not self.branch or any(c.isspace() for c in self.branch):
            raise ValueError(f"repository.branch must be a branch name, got {self.branch!r}")
        object.__setattr__(self, "url", self.url.rstrip("/").removesuffix(".git"))
        book = self.path_to_book.strip("/")
        object.__setattr__(self, "path_to_book", "" if book in ("", ".") else book)

    @property
    def slug(self) -> str:
        """``OWNER/NAME``."""
        match = GITHUB_URL.match(self.url)
        return f"{match['owner']}/{match['name']}"

    @property
    def pages_url(self) -> str:
        """Where GitHub Pages serves the book: ``https://OWNER.github.io/NAME/``."""
        owner, name = self.slug.split("/")
        return f"https://{owner.lower()}.github.io/{name}/"

    def repo_path(self, path: str) -> str:
        """A path relative to the book's folder, as a path relative to the repository root."""
        return str(PurePosixPath(self.path_to_book, path)) if self.path_to_book else str(PurePosixPath(path))


#: The setting the package was installed with.
SETTING = Repository(url=_repository.URL, branch=_repository.BRANCH, path_to_book=_repository.PATH_TO_BOOK)


def colab_url(path: str, repository: Repository | None = None) -> str:
    """The Colab URL that opens the notebook at ``path`` (relative to the book's folder; a
    ``.md`` source is mapped to its paired ``.ipynb``) in ``repository`` (default: the setting)."""
    repository = repository or SETTING
    notebook = repository.repo_path(str(PurePosixPath(path).with_suffix(".ipynb")))
    return f"https://colab.research.google.com/github/{repository.slug}/blob/{repository.branch}/{notebook}"


def badge_svg(label: str, text: str = "Open in Colab") -> str:
    """A small two-part badge as a ``data:`` URI: it renders offline, in the book, Jupyter and Colab."""
    import base64

    left, right = 7 * len(label) + 12, 7 * len(text) + 12
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + right}" height="20" role="img" '
           f'aria-label="{label}: {text}"><rect width="{left}" height="20" rx="3" fill="#555"/>'
           f'<rect x="{left}" width="{right}" height="20" rx="3" fill="#b35c00"/>'
           f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">'
           f'<text x="{left / 2}" y="14">{label}</text><text x="{left + right / 2}" y="14">{text}</text></g></svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def chapter_links_markdown(chapter: str) -> str:
    """HTML/Markdown with three "Open in Colab" badges: lecture, exercise, solution."""
    from course_utils.authoring.chapters import chapter as find_chapter

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
