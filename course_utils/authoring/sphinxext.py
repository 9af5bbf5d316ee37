"""Sphinx extension of the book: adjacent code cells tagged ``framework-pytorch`` and
``framework-keras`` (any ``framework-NAME``) become one set of synced sphinx-design tabs,
outputs included (chapters 03 and 06-14).

MyST-NB cannot nest executed code cells inside a ``tab-set`` directive, so the notebooks keep
the cells side by side at the top level and this transform groups them after execution.
"""

from __future__ import annotations

import re
from pathlib import Path

LABELS = {"pytorch": "PyTorch", "keras": "Keras", "tensorflow": "TensorFlow", "numpy": "NumPy", "jax": "JAX"}
TAG_PREFIX = "framework-"


def _framework(node) -> str | None:
    if node.get("nb_element") != "cell_code":
        return None
    for tag in node.get("cell_metadata", {}).get("tags", []):
        if tag.startswith(TAG_PREFIX):
            return tag[len(TAG_PREFIX):]
    return None


def _component(name: str, classes: list[str], children=(), **attributes):
    """A sphinx-design component: the container node its ``tab-set`` and ``tab-item``
    directives make (a ``div`` naming the component), built with docutils' public API."""
    from docutils import nodes

    node = nodes.container("", is_div=True, design_component=name, classes=classes, **attributes)
    node.extend(children)
    return node


def _tab_set(cells):
    from docutils import nodes

    tab_set = _component("tab-set", ["sd-tab-set", "framework-tabs"])
    for name, cell in cells:
        label = nodes.rubric(name, LABELS.get(name, name), classes=["sd-tab-label"])
        label["sync_id"] = name
        label["sync_group"] = "framework"
        content = _component("tab-content", ["sd-tab-content"], [cell])
        tab_set += _component("tab-item", ["sd-tab-item"], [label, content], selected=False)
    return tab_set


def group_framework_cells(app, doctree) -> None:
    """Replace each run of adjacent framework-tagged cells by one tab set."""
    from docutils import nodes

    for parent in list(doctree.findall(nodes.Element)):
        children = list(parent.children)
        if not any(_framework(c) for c in children if isinstance(c, nodes.Element)):
            continue
        rebuilt, run = [], []
        for child in children + [None]:
            name = _framework(child) if isinstance(child, nodes.Element) else None
            if name is not None and name not in {n for n, _ in run}:
                run.append((name, child))
                continue
            if run:
                rebuilt.append(_tab_set(run) if len(run) > 1 else run[0][1])
                run = []
            if name is not None:  # a second cell of the same framework starts a new run
                run.append((name, child))
            elif child is not None:
                rebuilt.append(child)
        parent.children = []
        parent.extend(rebuilt)


_FOLD_START = re.compile(r"^\s*<!--\s*fold:\s*(.+?)\s*-->\s*$", re.S)
_FOLD_END = re.compile(r"^\s*<!--\s*end fold\s*-->\s*$")


def fold_marked_runs(app, doctree) -> None:
    """Everything between ``<!-- fold: Title -->`` and ``<!-- end fold -->`` in a chapter (prose,
    code cells and their outputs, in one section) becomes one collapsed note titled ``Title``:
    a cross-check or a framework's conventions that a first reading can skip. MyST-NB cannot
    put code cells inside a dropdown directive; these HTML comments are invisible in Jupyter."""
    from docutils import nodes
    from sphinx.util import logging

    log = logging.getLogger(__name__)
    for parent in list(doctree.findall(nodes.Element)):
        children = list(parent.children)
        if not any(isinstance(c, nodes.raw) and _FOLD_START.match(c.astext()) for c in children):
            continue
        rebuilt, fold = [], None
        for child in children:
            text = child.astext() if isinstance(child, nodes.raw) else ""
            start, end = _FOLD_START.match(text), _FOLD_END.match(text)
            if start and fold is None:
                fold = nodes.admonition("", nodes.title("", start.group(1)), classes=["dropdown", "course-fold"])
                rebuilt.append(fold)
            elif end and fold is not None:
                fold = None
            elif start or end:
                log.warning("a fold starts inside another fold, or ends where none started", location=child)
            elif fold is not None:
                fold += child
            else:
                rebuilt.append(child)
        if fold is not None:
            log.warning("a fold that <!-- end fold --> does not close in the same section", location=fold)
        parent.children = []
        parent.extend(rebuilt)


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep one copy of each inline script: sphinx-thebe can add its configuration twice,
    which makes the browser report "Identifier 'THEBE_JS_URL' has already been declared"."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", str(script)) or "", getattr(script, "attributes", {}).get("body", ""))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique  # in place: later handlers add to this same list


# Matplotlib's HTML animations link Font Awesome from a CDN; the book loads nothing from the network.
CDN_STYLESHEET = re.compile(r"<link[^>]*href=[\"']https?://[^\"']*font-awesome[^>]*>\s*", re.I)


IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)", re.I)


def _cell_alt(node) -> str:
    """The ``mystnb.image.alt`` of the code cell a node belongs to, or ""."""
    while node is not None:
        metadata = node.get("cell_metadata") if hasattr(node, "get") else None
        if metadata:
            return str(((metadata.get("mystnb") or {}).get("image") or {}).get("alt", ""))
        node = node.parent
    return ""


def fix_raw_html_outputs(app, doctree, docname) -> None:
    """Raw HTML cell outputs: a Matplotlib animation (chapter 02) becomes an animated WebP
    (``figures.animation_as_image``) instead of megabytes of inline frames; otherwise CDN
    stylesheet links are removed, since the book loads nothing from the network, and images
    without alt text get their cell's."""
    import html
    import posixpath

    from docutils import nodes

    from course_utils.authoring import figures

    for raw in list(doctree.findall(nodes.raw)):
        if "html" not in raw.get("format", ""):
            continue
        alt = _cell_alt(raw)
        if app is not None and app.builder.format == "html":
            image = figures.animation_as_image(raw.astext(), alt, Path(app.outdir))
            if image is not None:
                folder = posixpath.relpath("_images", posixpath.dirname(docname) or ".")
                raw.parent.replace(raw, nodes.raw("", image[1].replace("{imgdir}", folder), format="html"))
                continue
        text = CDN_STYLESHEET.sub("", raw.astext())
        if alt:
            text = IMG_WITHOUT_ALT.sub(f'<img alt="{html.escape(alt)}"', text)
        if text != raw.astext():
            raw.parent.replace(raw, nodes.raw("", text, format="html"))


#: The folder of the book's own stylesheet, ``course.css`` (layout on a phone), shipped in the package.
STATIC_DIR = Path(__file__).parent / "static"
#: Theme templates the book overrides: a lighter layout, and buttons named by what they show.
TEMPLATES_DIR = Path(__file__).parent / "templates"


def add_static_and_templates(app, config) -> None:
    config.html_static_path.append(str(STATIC_DIR))
    config.templates_path.insert(0, str(TEMPLATES_DIR))


_FONTAWESOME_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=\"[^\"]*fontawesome\.js[^\"]*\"[^>]*>\s*</script>\s*", re.I)


def without_fontawesome_script(html: str) -> str:
    """The theme's head without its Font Awesome script: the theme's stylesheet draws the
    same icons from its fonts, which ``icons.write_icon_fonts`` cuts to the glyphs in use."""
    return _FONTAWESOME_SCRIPT.sub("", str(html))


_STYLESHEET = re.compile(r'<link\b(?=[^>]*\brel="stylesheet")[^>]*\bhref="([^"?]*_static/)([^"?]+\.css)[^"]*"[^>]*>\s*')
#: The one stylesheet every page links instead of the dozen the theme and extensions add (a
#: phone on a slow network waits for each before it paints): theirs, in order, in one file.
BUNDLE = "course-bundle.css"


def bundled_stylesheets(app, html: str) -> str:
    """The page head's stylesheet links, under ``_static``, replaced by one link to
    :data:`BUNDLE`; the stylesheets are recorded, in order, for :func:`write_bundle`."""
    recorded = app.env.__dict__.setdefault("course_stylesheets", [])
    found = _STYLESHEET.findall(str(html))
    if not found:
        return html
    for _, name in found:
        if name not in recorded and name != BUNDLE:
            recorded.append(name)
    prefix = found[0][0]
    first = [True]

    def replace(match):
        if first[0]:
            first[0] = False
            return f'<link rel="stylesheet" href="{prefix}{BUNDLE}?v={app.env.course_bundle_version}" />\n'
        return ""

    return _STYLESHEET.sub(replace, str(html))


def add_template_filters(app) -> None:
    import time

    app.env.course_bundle_version = f"{int(time.time()):x}"
    templates = getattr(app.builder, "templates", None)
    if templates is not None and hasattr(templates, "environment"):
        templates.environment.filters["without_fontawesome_script"] = without_fontawesome_script
        templates.environment.filters["bundled_stylesheets"] = lambda html: bundled_stylesheets(app, html)


_CSS_URL = re.compile(r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)")
_CSS_IMPORT = re.compile(r"@import\s+(?:url\()?\s*['\"]([^'\"]+)['\"]\s*\)?\s*;")


def bundle_text(static: Path, names: list[str]) -> str:
    """The stylesheets ``names`` (paths under ``static``) as one, their ``@import``s inlined and
    their ``url()``s made relative to ``static``."""
    import posixpath

    seen: set[str] = set()

    def text_of(name: str) -> str:
        if name in seen or not (static / name).is_file():
            return ""
        seen.add(name)
        folder = posixpath.dirname(name)
        css = _CSS_IMPORT.sub(lambda m: text_of(posixpath.normpath(posixpath.join(folder, m.group(1)))),
                              (static / name).read_text())

        def rebase(match):
            url = match.group(2)
            if re.match(r"^(data:|[a-z]+:|/|#)", url):
                return match.group(0)
            return f'url("{posixpath.normpath(posixpath.join(folder, url))}")'

        return f"/* {name} */\n" + _CSS_URL.sub(rebase, css)

    return "\n".join(text_of(name) for name in names)


def write_bundle(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    names = app.env.__dict__.get("course_stylesheets", [])
    if names:
        (static / BUNDLE).write_text(bundle_text(static, names))


_PARAGRAPH = re.compile(r"<p\b[^>]*>(.*?)</p>", re.S | re.I)


def page_description(body: str, limit: int = 160) -> str:
    """A page's description for search engines and link previews: its first paragraph of at
    least twelve words, as plain text, cut at a word boundary to ``limit`` characters."""
    import html

    for paragraph in _PARAGRAPH.findall(body or ""):
        paragraph = re.sub(r'<span class="katex-mathml">.*?</span>', "", paragraph, flags=re.S)
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", paragraph)).split())
        if len(text.split()) >= 12:
            if len(text) <= limit:
                return text
            return text[: text.rfind(" ", 0, limit - 1)].rstrip(",;:") + "…"
    return ""


def describe_page(app, pagename, templatename, context, doctree) -> None:
    context["page_description"] = page_description(context.get("body", "")) or app.config.project


#: MyST-NB names every "Show code cell source" toggle "Toggle hidden content" for screen readers,
#: which then hear a name that is not the one on the screen (WCAG 2.5.3); without the label the
#: toggle is named by the text it shows.
HIDDEN_CELL_TOGGLE = '<summary aria-label="Toggle hidden content">'


def name_toggles_by_their_text(app, pagename, templatename, context, doctree) -> None:
    if "body" in context:
        context["body"] = context["body"].replace(HIDDEN_CELL_TOGGLE, "<summary>")


def rewrite_figures(app, pagename, templatename, context, doctree) -> None:
    """Figures as WebP with their size, lazy loading and legible width (``figures``)."""
    from course_utils.authoring.figures import FigureWriter

    if "body" not in context or app.builder.format != "html":
        return
    writer = getattr(app.builder, "_course_figures", None)
    if writer is None:
        writer = FigureWriter(Path(app.outdir), app.builder.images, Path(app.srcdir), app.builder.imagedir)
        app.builder._course_figures = writer
    writer.sources.update({Path(built).name: source for source, built in app.builder.images.items()})
    context["body"] = writer.rewrite(context["body"])


#: On the search page, result snippets are the pages' text; KaTeX's MathML keeps each equation's
#: TeX source for screen readers, so it is left out of the snippets (the rendered glyphs stay).
SEARCH_SNIPPETS_JS = """
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined") return;
  const pageText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".katex-mathml, annotation").forEach((el) => el.remove());
    return pageText(page.documentElement.outerHTML, anchor);
  };
});
"""


#: Scripts that code run while the page is parsed needs (inline settings; the search page's
#: searchtools.js calls doctools' ``_ready``): they must not wait.
RUN_AT_ONCE = ("documentation_options.js", "doctools.js")


def defer_scripts(app, pagename, templatename, context, doctree) -> None:
    """Every script file of the page waits for the page to be parsed (``defer``, in order), so
    none blocks the first paint; inline scripts only set configuration the files read later."""
    for script in context.get("script_files", []):
        filename = getattr(script, "filename", None)
        attributes = getattr(script, "attributes", None)
        if not filename or attributes is None or filename.endswith(RUN_AT_ONCE):
            continue
        if "async" not in attributes:
            attributes["defer"] = "defer"


def search_page_scripts(app, pagename, templatename, context, doctree) -> None:
    if pagename == "search":
        app.add_js_file(None, body=SEARCH_SNIPPETS_JS)  # in this handler: the search page only


#: pydata-sphinx-theme's (0.15-0.17) pass over every code block and output, made on page load:
#: it asks each one whether it scrolls (a tab stop then, for keyboard readers). Asked of every
#: block at once, that lays out the whole page at load, off-screen sections included (a third of
#: a second on a phone, Lighthouse's main long task on the long chapters).
_BLOCKS = ('document.querySelectorAll(["pre",".nboutput > .output_area",".cell_output > .output",'
           '".jp-RenderedHTMLCommon",".pst-scrollable-table-container"].join(", "))')
_TAB_STOP = "e=>{e.tabIndex=e.scrollWidth>e.clientWidth||e.scrollHeight>e.clientHeight?0:-1}"
THEME_TAB_STOPS = f"{_BLOCKS}.forEach({_TAB_STOP})"
#: The same answers for the same blocks, eight at a time while the browser is idle.
IDLE_TAB_STOPS = (f"(()=>{{const q=Array.from({_BLOCKS});const idle=window.requestIdleCallback||(f=>setTimeout(f,50));"
                  f"const step=()=>{{q.splice(0,8).forEach({_TAB_STOP});q.length&&idle(step)}};idle(step)}})()")


def idle_tab_stops(script: str) -> str | None:
    """The theme's script with its tab-stop pass spread over idle time; None if the theme's
    code is not there (a theme upgrade: the build warns)."""
    if IDLE_TAB_STOPS in script:
        return script
    return script.replace(THEME_TAB_STOPS, IDLE_TAB_STOPS, 1) if THEME_TAB_STOPS in script else None


def finish_site(app, exception) -> None:
    """After a successful HTML build: cut the icon fonts to the glyphs in use, drop the
    theme's Font Awesome script, which no page loads, and move the theme's tab-stop pass to
    idle time."""
    from sphinx.util import logging

    from course_utils.authoring import icons

    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    icons.write_icon_fonts(outdir)
    for leftover in (outdir / "_static" / "scripts").glob("fontawesome.js*"):
        leftover.unlink()
    theme = outdir / "_static" / "scripts" / "pydata-sphinx-theme.js"
    if theme.exists():
        patched = idle_tab_stops(theme.read_text(encoding="utf-8"))
        if patched is None:
            logging.getLogger(__name__).warning(
                "pydata-sphinx-theme's tab-stop pass was not found in %s: the theme changed; update "
                "course_utils.authoring.sphinxext.THEME_TAB_STOPS (pages load slower without it)", theme)
        else:
            theme.write_text(patched, encoding="utf-8")


def setup(app):
    from course_utils.authoring import katex
    from course_utils.authoring.figures import WIDE_FIGURES_JS

    app.setup_extension("sphinx_design")
    katex.setup(app)
    app.connect("config-inited", add_static_and_templates)
    app.connect("builder-inited", add_template_filters)
    app.add_css_file("course-icons/course-icons.css")
    app.add_css_file("course.css")
    app.add_js_file(None, body=WIDE_FIGURES_JS)
    app.connect("doctree-read", group_framework_cells)
    app.connect("doctree-read", fold_marked_runs)
    app.connect("doctree-resolved", fix_raw_html_outputs)
    app.connect("html-page-context", drop_duplicate_scripts, priority=100)
    app.connect("html-page-context", rewrite_figures)
    app.connect("html-page-context", describe_page)
    app.connect("html-page-context", name_toggles_by_their_text)
    app.connect("html-page-context", search_page_scripts)
    app.connect("html-page-context", defer_scripts, priority=900)
    app.connect("build-finished", finish_site)
    app.connect("build-finished", write_bundle)  # after finish_site: it trims the stylesheets
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
