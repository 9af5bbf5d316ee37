"""The book's Sphinx extension: framework-tagged cells become synced tabs (course_utils.authoring.sphinxext)."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from course_utils.authoring import sphinxext

nodes = pytest.importorskip("docutils.nodes")
pytest.importorskip("sphinx_design")


def cell(tag=None, text="x"):
    node = nodes.container("", nodes.literal_block(text, text), nb_element="cell_code",
                           cell_metadata={"tags": [tag] if tag else []})
    return node


def tabs_of(section):
    return [child for child in section.children if "framework-tabs" in child.get("classes", [])]


def labels(tab_set):
    return [rubric.astext() for rubric in tab_set.findall(nodes.rubric)]


def test_adjacent_framework_cells_become_one_synced_tab_set():
    section = nodes.section("", nodes.paragraph("", "before"), cell("framework-pytorch", "torch code"),
                            cell("framework-keras", "keras code"), nodes.paragraph("", "after"))
    doctree = nodes.document(None, None)
    doctree += section
    sphinxext.group_framework_cells(None, doctree)
    (tab_set,) = tabs_of(section)
    assert labels(tab_set) == ["PyTorch", "Keras"]
    assert [r["sync_id"] for r in tab_set.findall(nodes.rubric)] == ["pytorch", "keras"]
    assert "torch code" in tab_set.astext() and "keras code" in tab_set.astext()
    assert [c.astext() for c in section.children if isinstance(c, nodes.paragraph)] == ["before", "after"]


def test_a_lone_cell_a_repeated_framework_and_plain_cells_stay_apart():
    section = nodes.section("", cell("framework-pytorch", "a"), cell(text="plain"),
                            cell("framework-pytorch", "b"), cell("framework-pytorch", "c"),
                            cell("framework-keras", "d"))
    doctree = nodes.document(None, None)
    doctree += section
    sphinxext.group_framework_cells(None, doctree)
    kinds = ["tabs" if "framework-tabs" in c.get("classes", []) else c.astext() for c in section.children]
    assert kinds == ["a", "plain", "b", "tabs"]
    assert labels(tabs_of(section)[0]) == ["PyTorch", "Keras"]


def test_duplicate_inline_scripts_are_dropped_in_place():
    one = SimpleNamespace(filename="", attributes={"body": "var THEBE_JS_URL = 1"})
    two = SimpleNamespace(filename="", attributes={"body": "var THEBE_JS_URL = 1"})
    other = SimpleNamespace(filename="x.js", attributes={})
    scripts = [one, other, two]
    context = {"script_files": scripts}
    sphinxext.drop_duplicate_scripts(None, "page", None, context, None)
    assert context["script_files"] is scripts and scripts == [one, other]


def test_the_theme_head_loses_only_its_font_awesome_script():
    head = ('<link href="_static/styles/theme.css" rel="stylesheet" />\n'
            '<script defer src="../_static/scripts/fontawesome.js?digest=55c2"></script>\n'
            '<link rel="preload" as="script" href="../_static/scripts/bootstrap.js?digest=55c2" />')
    lighter = sphinxext.without_fontawesome_script(head)
    assert "fontawesome" not in lighter
    assert "theme.css" in lighter and "bootstrap.js" in lighter


def test_the_theme_asks_every_block_whether_it_scrolls_only_in_idle_time():
    import pydata_sphinx_theme

    script = "function I(){const e=()=>{" + sphinxext.THEME_TAB_STOPS + "},t=_(e,300);e()}"
    patched = sphinxext.idle_tab_stops(script)
    assert sphinxext.THEME_TAB_STOPS not in patched and sphinxext.IDLE_TAB_STOPS in patched
    assert patched.startswith("function I(){const e=()=>{") and patched.endswith("},t=_(e,300);e()}")
    assert sphinxext.idle_tab_stops(patched) == patched  # a rebuild over a patched file
    assert sphinxext.idle_tab_stops("function I(){}") is None  # another theme: the build warns
    installed = (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static" / "scripts"
                 / "pydata-sphinx-theme.js")  # what the build copies
    assert sphinxext.idle_tab_stops(installed.read_text(encoding="utf-8")) is not None, \
        "the installed pydata-sphinx-theme no longer has the tab-stop pass THEME_TAB_STOPS names"


def test_a_page_is_described_by_its_first_real_paragraph():
    body = ('<h1>03: Fluids</h1><p>Lecture</p><p>After this chapter you can</p>'
            '<p>A <em>yield-stress</em> fluid flows only once the stress passes a threshold '
            '<span class="math"><span class="katex"><span class="katex-mathml">\\tau_0</span>'
            '<span class="katex-html">τ0</span></span></span>, and then like a liquid whose '
            'viscosity we fit, here with gradient descent on synthetic measurements.</p>')
    description = sphinxext.page_description(body, limit=120)
    assert description.startswith("A yield-stress fluid flows only once the stress passes a threshold τ0")
    assert "\\tau" not in description and len(description) <= 120 and description.endswith("…")
    assert sphinxext.page_description("<p>Too short.</p>") == ""


def test_raw_html_outputs_lose_cdn_links_and_get_their_cells_alt_text():
    from docutils import nodes

    doctree = nodes.document(None, None)
    cell = nodes.container(cell_metadata={"mystnb": {"image": {"alt": "Steps of gradient descent"}}})
    cell += nodes.raw("", '<link rel="stylesheet"\nhref="https://maxcdn.bootstrapcdn.com/font-awesome/4.4.0/'
                          'css/font-awesome.min.css">\n<img id="frame" src="data:,">', format="html")
    doctree += cell
    sphinxext.fix_raw_html_outputs(None, doctree, "page")
    html = next(iter(doctree.findall(nodes.raw))).astext()
    assert "font-awesome" not in html and "https://" not in html
    assert '<img alt="Steps of gradient descent" id="frame"' in html


def test_a_marked_run_of_prose_and_cells_becomes_one_collapsed_note():
    from docutils import nodes

    section = nodes.section("", nodes.paragraph("", "before"),
                            nodes.raw("", "<!-- fold: Cross-check with autograd -->", format="html"),
                            nodes.paragraph("", "inside"), cell(text="check code"),
                            nodes.raw("", "<!-- end fold -->", format="html"), nodes.paragraph("", "after"))
    doctree = nodes.document(None, None)
    doctree += section
    sphinxext.fold_marked_runs(None, doctree)
    kinds = [type(c).__name__ for c in section.children]
    assert kinds == ["paragraph", "admonition", "paragraph"]
    fold = section.children[1]
    assert "dropdown" in fold["classes"] and fold.children[0].astext() == "Cross-check with autograd"
    assert [c.astext() for c in fold.children[1:]] == ["inside", "check code"]


def test_the_page_head_links_one_bundle_of_the_stylesheets_in_order(tmp_path):
    app = SimpleNamespace(env=SimpleNamespace(course_bundle_version="v1"))
    head = ('<link href="../_static/styles/theme.css?digest=1" rel="stylesheet" />\n'
            '<script defer src="../_static/x.js"></script>\n'
            '<link rel="stylesheet" type="text/css" href="../_static/katex/katex.min.css?v=2" />\n'
            '<link rel="stylesheet" href="https://example.org/other.css" />')
    out = sphinxext.bundled_stylesheets(app, head)
    assert out.count('rel="stylesheet"') == 2 and '../_static/course-bundle.css?v=v1' in out
    assert "x.js" in out and "example.org" in out  # scripts and other sites untouched
    assert app.env.course_stylesheets == ["styles/theme.css", "katex/katex.min.css"]
    static = tmp_path / "_static"
    (static / "styles").mkdir(parents=True)
    (static / "katex").mkdir()
    (static / "basic.css").write_text("p { margin: 0 }")
    (static / "styles" / "theme.css").write_text('@import "../basic.css";\nbody { background: url(../img/bg.png) }')
    (static / "katex" / "katex.min.css").write_text('@font-face { src: url(fonts/KaTeX_Main.woff2) }')
    bundle = sphinxext.bundle_text(static, app.env.course_stylesheets)
    assert bundle.index("p { margin: 0 }") < bundle.index("body") < bundle.index("@font-face")
    assert 'url("img/bg.png")' in bundle and 'url("katex/fonts/KaTeX_Main.woff2")' in bundle
    assert "@import" not in bundle
