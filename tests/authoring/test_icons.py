"""The theme's icon fonts cut to the glyphs the pages show (course_utils.authoring.icons)."""

from __future__ import annotations

from course_utils.authoring import icons

CSS = ('.fa-bars:before,.fa-navicon:before{content:"\\f0c9"}.fa-sun:before{content:"\\f185"}'
       '.fa-github:before{content:"\\f09b"}.fa-skull:before{content:"\\f54c"}'
       ':root{--pst-icon-admonition-tip:"\uf0eb"}.onthispage:after{content:"\\f107"}')


def test_only_the_glyphs_the_pages_and_stylesheets_show_are_kept():
    html = ['<i class="fa-solid fa-bars"></i><span class="fa-brands fa-github"></span>',
            '<button><i class="theme-switch fa-solid fa-sun fa-lg"></i></button>']
    needed = icons.glyphs_needed([CSS], html)
    assert needed == {0xF0C9, 0xF185, 0xF09B, 0xF0EB, 0xF107}  # not the unused skull


def test_the_cut_fonts_hold_those_glyphs_and_replace_the_full_ones(tmp_path):
    import pydata_sphinx_theme  # noqa: F401  (the theme ships the fonts)
    from fontTools.ttLib import TTFont

    fonts = icons.fontawesome_fonts()
    site = tmp_path / "html"
    (site / icons.FONT_DIR).mkdir(parents=True)
    for font in fonts:
        (site / icons.FONT_DIR / font.name).write_bytes(font.read_bytes())
    rules = icons.subset_fonts(site, {0xF0C9, 0xF09B})
    solid = site / icons.OUT_DIR / "fa-solid-900.woff"
    assert set(TTFont(solid).getBestCmap()) == {0xF0C9}
    assert set(TTFont(site / icons.OUT_DIR / "fa-brands-400.woff").getBestCmap()) == {0xF09B}
    assert solid.stat().st_size < 10_000
    assert rules.count("@font-face") == 3 and '"Font Awesome 6 Free"' in rules


def test_the_stylesheet_keeps_the_rules_of_the_icons_in_use_only():
    used = icons.classes_in_use(['<i class="fa-solid fa-bars"></i>'], ['el.classList = "fa-solid fa-xmark"'])
    assert {"fa-bars", "fa-xmark"} <= used
    css = icons.without_unused_icon_rules(CSS, used)
    assert ".fa-bars:before,.fa-navicon:before" in css and "fa-skull" not in css and "fa-sun" not in css
    assert "--pst-icon-admonition-tip" in css and ".onthispage:after" in css  # not catalogue rules
