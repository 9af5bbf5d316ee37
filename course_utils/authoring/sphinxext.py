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


def local_mathjax_dir():
    """MathJax 3's ``es5`` folder from the ``django-static-mathjax`` wheel, or None."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    return folder if (folder / "tex-chtml.js").exists() else None


def use_local_mathjax(app, config) -> None:
    """Serve MathJax from the book itself, so equations render offline too."""
    if local_mathjax_dir() is not None:
        config.mathjax_path = "mathjax/tex-chtml.js"


def copy_local_mathjax(app, exception) -> None:
    import shutil
    from pathlib import Path

    folder = local_mathjax_dir()
    if exception is None and folder is not None and app.builder.format == "html":
        shutil.copytree(folder, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


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


# Matplotlib's HTML animations link Font Awesome from a CDN; the book's theme ships it.
CDN_STYLESHEET = re.compile(r"<link[^>]*href=[\"']https?://[^\"']*font-awesome[^>]*>\s*", re.I)

#: Output figures are drawn at 144 dpi (book/matplotlibrc): 20 image pixels per 10-pt letter.
#: On a narrow screen an image is never shrunk below this share of its natural width, so its
#: text stays at least 7 CSS pixels high; a wider figure scrolls sideways inside its output.
MIN_FIGURE_SCALE = 0.35
READABLE_FIGURES_JS = f"""
document.addEventListener("DOMContentLoaded", () => {{
  for (const img of document.querySelectorAll(".cell_output img")) {{
    const fit = () => {{
      img.style.minWidth = Math.round(img.naturalWidth * {MIN_FIGURE_SCALE}) + "px";
      img.parentElement.style.overflowX = "auto";
    }};
    if (img.complete) fit(); else img.addEventListener("load", fit);
  }}
}});
"""


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
    """Raw HTML cell outputs (chapter 02's animation): CDN stylesheet links removed, since the
    book loads nothing from the network, and images without alt text given their cell's."""
    import html

    from docutils import nodes

    for raw in list(doctree.findall(nodes.raw)):
        if "html" not in raw.get("format", ""):
            continue
        text = CDN_STYLESHEET.sub("", raw.astext())
        alt = _cell_alt(raw)
        if alt:
            text = IMG_WITHOUT_ALT.sub(f'<img alt="{html.escape(alt)}"', text)
        if text != raw.astext():
            raw.parent.replace(raw, nodes.raw("", text, format="html"))


#: The folder of the book's own stylesheet, ``course.css`` (layout on a phone), shipped in the package.
STATIC_DIR = Path(__file__).parent / "static"


def add_static_dir(app, config) -> None:
    config.html_static_path.append(str(STATIC_DIR))


def setup(app):
    app.setup_extension("sphinx_design")
    app.connect("config-inited", add_static_dir)
    app.add_css_file("course.css")
    app.connect("doctree-resolved", fix_raw_html_outputs)
    app.add_js_file(None, body=READABLE_FIGURES_JS)
    app.connect("doctree-read", group_framework_cells)
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", copy_local_mathjax)
    app.connect("html-page-context", drop_duplicate_scripts, priority=100)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
