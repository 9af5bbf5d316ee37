"""Math rendered when the book is built (every chapter): KaTeX, run once per build by Node.js,
turns each equation into HTML (and MathML for screen readers), so a reader's browser runs no
math JavaScript and loads only KaTeX's stylesheet and the few fonts a page uses.

KaTeX is installed with the repository's ``package.json`` (``npm ci``, which
``bash scripts/course.sh setup`` runs; pinned by ``package-lock.json`` and offline once
installed). An equation KaTeX cannot render is a build warning, so the strict build fails.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).with_name("katex_render.js")
#: Where the stylesheet and fonts go in the built site (``_static/katex``).
STATIC = Path("_static") / "katex"
HOW_TO_INSTALL = ("KaTeX renders the book's math at build time: install Node.js 18 or later and run "
                  "`npm ci` in the repository (`bash scripts/course.sh setup` does both)")


class KatexError(RuntimeError):
    """KaTeX is missing, or could not render an equation (the message says which)."""


def find_katex(start: Path) -> Path:
    """The ``node_modules/katex`` folder of the repository that holds ``start``."""
    for folder in [start, *start.parents]:
        candidate = folder / "node_modules" / "katex"
        if (candidate / "package.json").exists():
            return candidate
    raise KatexError(f"{HOW_TO_INSTALL} (no node_modules/katex above {start})")


class Renderer:
    """One Node.js process that renders TeX to HTML, a request at a time; results are cached."""

    def __init__(self, katex_dir: Path):
        node = shutil.which("node") or shutil.which("nodejs")
        if node is None:
            raise KatexError(f"{HOW_TO_INSTALL} (no `node` on PATH)")
        self.katex_dir = katex_dir
        env = dict(os.environ, NODE_PATH=str(katex_dir.parent))
        self._process = subprocess.Popen([node, str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, encoding="utf-8", env=env, bufsize=1)
        self._cache: dict[tuple[str, bool], str] = {}

    def render(self, tex: str, display: bool) -> str:
        key = (tex, display)
        if key not in self._cache:
            self._process.stdin.write(json.dumps({"tex": tex, "display": display}) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
            if not line:
                raise KatexError("the KaTeX process stopped; run `node course_utils/authoring/katex_render.js` "
                                 "to see why")
            answer = json.loads(line)
            if "error" in answer:
                raise KatexError(answer["error"])
            self._cache[key] = answer["html"]
        return self._cache[key]

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            self._process.wait(timeout=10)


_RENDERERS: dict[tuple[int, Path], Renderer] = {}


def renderer(start: Path) -> Renderer:
    """The renderer of this process for the repository around ``start`` (one Node.js process
    per build process; Sphinx may fork workers)."""
    katex_dir = find_katex(start)
    key = (os.getpid(), katex_dir)
    if key not in _RENDERERS:
        _RENDERERS[key] = Renderer(katex_dir)
    return _RENDERERS[key]


def display_tex(text: str, nowrap: bool) -> str:
    """The TeX of a display equation as Sphinx's MathJax renderer would typeset it: blank lines
    separate equations, aligned together; a part with ``\\\\`` is split over lines."""
    if nowrap:
        return text
    parts = [part for part in text.split("\n\n") if part.strip()]
    parts = [rf"\begin{{split}}{part}\end{{split}}" if r"\\" in part else part for part in parts]
    if len(parts) > 1:
        return r"\begin{aligned}" + r"\\".join(parts) + r"\end{aligned}"
    return parts[0] if parts else ""


def _render_or_warn(translator, node, tex: str, display: bool) -> str:
    from sphinx.util import logging

    try:
        return renderer(Path(translator.builder.srcdir)).render(tex, display)
    except KatexError as error:
        logging.getLogger(__name__).warning("KaTeX cannot render %r: %s", tex[:80], error, location=node)
        return f'<code class="math-error">{html.escape(tex)}</code>'


def visit_math(translator, node) -> None:
    from docutils import nodes

    translator.body.append(translator.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    translator.body.append(_render_or_warn(translator, node, node.astext(), display=False) + "</span>")
    raise nodes.SkipNode


def visit_displaymath(translator, node) -> None:
    from docutils import nodes
    from sphinx.locale import _
    from sphinx.util.math import get_node_equation_number

    translator.body.append(translator.starttag(node, "div", CLASS="math notranslate nohighlight"))
    if node.get("number"):
        number = get_node_equation_number(translator, node)
        translator.body.append(f'<span class="eqno">({number})')
        translator.add_permalink_ref(node, _("Link to this equation"))
        translator.body.append("</span>")
    tex = display_tex(node.astext(), node.get("nowrap", False))
    translator.body.append(_render_or_warn(translator, node, tex, display=True) + "</div>\n")
    raise nodes.SkipNode


def use_katex(app, config) -> None:
    """Make KaTeX the HTML math renderer (MathJax's script is then not added to any page)."""
    config.html_math_renderer = "katex"


def add_stylesheet(app, pagename, templatename, context, doctree) -> None:
    """Link KaTeX's stylesheet from the pages that have math."""
    if doctree is not None and app.builder.env.get_domain("math").has_equations(pagename):
        app.add_css_file("katex/katex.min.css")  # added here: this page only


_FONT_SOURCE = re.compile(r"src:url\(fonts/([\w-]+)\.woff2\) format\(\"woff2\"\)[^;}]*")


def copy_stylesheet(app, exception) -> None:
    """Copy KaTeX's stylesheet and its WOFF2 fonts (every browser in use reads WOFF2) into
    ``_static/katex``, the stylesheet trimmed to name only those."""
    if exception is not None or app.builder.format != "html":
        return
    dist = find_katex(Path(app.srcdir)) / "dist"
    target = Path(app.outdir) / STATIC
    (target / "fonts").mkdir(parents=True, exist_ok=True)
    css = (dist / "katex.min.css").read_text()
    css = _FONT_SOURCE.sub(lambda m: f'src:url(fonts/{m.group(1)}.woff2) format("woff2")', css)
    (target / "katex.min.css").write_text(css)
    for font in (dist / "fonts").glob("*.woff2"):
        shutil.copy2(font, target / "fonts" / font.name)


def setup(app) -> None:
    app.add_html_math_renderer("katex", (visit_math, None), (visit_displaymath, None))
    app.connect("config-inited", use_katex)
    app.connect("html-page-context", add_stylesheet)
    app.connect("build-finished", copy_stylesheet)
