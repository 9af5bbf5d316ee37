"""The theme's Font Awesome icons without Font Awesome's JavaScript and with only the glyphs
and stylesheet rules the book uses (every page).

The theme draws its icons twice over: a 1.5 MB ``fontawesome.js`` turns each
``<i class="fa-solid fa-bars">`` into an SVG, and its stylesheet draws the same icons, and the
admonition and link icons, from three web fonts of 120-160 KB each. The book's layout drops the
script (the stylesheet draws the ``<i>`` icons by itself), and after the build this module cuts
each font down to the glyphs the stylesheets and pages can show and declares the cut fonts
last, so they replace the full ones; the stylesheets keep the rules of the icons in use only.
Font Awesome Free's fonts are under the SIL OFL 1.1
(https://fontawesome.com/license/free), which allows subsetting.
"""

from __future__ import annotations

import re
from pathlib import Path

#: The theme's three fonts: file stem -> the @font-face descriptors that select it.
FONTS = {
    "fa-solid-900": ('"Font Awesome 6 Free"', 900),
    "fa-regular-400": ('"Font Awesome 6 Free"', 400),
    "fa-brands-400": ('"Font Awesome 6 Brands"', 400),
}
#: Where the theme keeps them in the built site, and where the cut fonts and their stylesheet go.
FONT_DIR = Path("_static") / "vendor" / "fontawesome" / "webfonts"
OUT_DIR = Path("_static") / "course-icons"
STYLESHEET = "course-icons.css"

_PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]|\\(f[0-9a-f]{3})\b", re.I)
_ICON_RULE = re.compile(r"((?:\.fa-[\w-]+:{1,2}before,?)+)\{content:\s*\"([^\"]*)\"\}")
_ICON_CLASSES = re.compile(r"\bclass=\"([^\"]*\bfa-[^\"]*)\"", re.I)


def fontawesome_fonts() -> list[Path]:
    """The theme's own copies of the three fonts (pydata-sphinx-theme), as TrueType."""
    import pydata_sphinx_theme

    folder = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static" / \
        "vendor" / "fontawesome"
    return sorted(p for p in folder.rglob("*.ttf") if p.stem in FONTS)


def _code_points(text: str) -> set[int]:
    return {int(m.group(1), 16) if m.group(1) else ord(m.group(0)) for m in _PRIVATE_USE.finditer(text)}


def glyphs_needed(css_texts: list[str], html_texts: list[str]) -> set[int]:
    """Code points the pages can show: every private-use character the stylesheets use outside
    Font Awesome's one-rule-per-icon catalogue (admonition, link and toggle icons), and those
    of the ``fa-*`` icon classes the pages use."""
    needed, by_class = set(), {}
    for css in css_texts:
        for selectors, content in _ICON_RULE.findall(css):
            for selector in re.findall(r"\.(fa-[\w-]+)", selectors):
                by_class.setdefault(selector, set()).update(_code_points(content))
        needed |= _code_points(_ICON_RULE.sub("", css))
    for html in html_texts:
        for classes in _ICON_CLASSES.findall(html):
            for name in classes.split():
                needed |= by_class.get(name, set())
    return needed


def subset_fonts(outdir: Path, needed: set[int]) -> str:
    """Write the cut fonts into ``outdir/OUT_DIR`` and return the @font-face rules that use them."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    (outdir / OUT_DIR).mkdir(parents=True, exist_ok=True)
    rules = ["/* Font Awesome Free (SIL OFL 1.1), cut to the glyphs this book shows. */"]
    for stem, (family, weight) in FONTS.items():
        source = outdir / FONT_DIR / f"{stem}.ttf"  # the theme ships each as .ttf and .woff2
        if not source.exists():
            continue
        font = TTFont(source)
        present = set(font.getBestCmap()) & needed
        options = subset.Options()
        options.flavor = "woff"  # zlib: WOFF2 would need the brotli module
        options.layout_features = []
        options.name_IDs = ["*"]  # keep the licence and copyright names
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(present) or [0x20])
        subsetter.subset(font)
        target = outdir / OUT_DIR / f"{stem}.woff"
        font.flavor = "woff"
        font.save(target)
        rules.append(f"@font-face {{ font-family: {family}; font-style: normal; font-weight: {weight}; "
                     f"font-display: block; src: url(\"{stem}.woff\") format(\"woff\"); }}")
    return "\n".join(rules) + "\n"


_CLASS_NAME = re.compile(r"\bfa-[a-z0-9-]+")


def classes_in_use(html_texts: list[str], script_texts: list[str]) -> set[str]:
    """Font Awesome class names the pages carry or their scripts may add (``fa-xmark``)."""
    used = {name for html in html_texts for classes in _ICON_CLASSES.findall(html)
            for name in classes.split() if name.startswith("fa-")}
    return used | {name for script in script_texts for name in _CLASS_NAME.findall(script)}


def without_unused_icon_rules(css: str, used: set[str]) -> str:
    """``css`` without the catalogue rules of icons no page uses: the theme's stylesheet names
    about 1,900 icons, a third of its size."""
    def keep(match: re.Match) -> str:
        names = set(re.findall(r"\.(fa-[\w-]+)", match.group(1)))
        return match.group(0) if names & used else ""

    return _ICON_RULE.sub(keep, css)


def write_icon_fonts(outdir: Path) -> Path:
    """Cut the theme's icon fonts for the built site in ``outdir`` and write the stylesheet that
    declares them (linked from every page as ``_static/course-icons/course-icons.css``)."""
    stylesheets = [p for p in (outdir / "_static").rglob("*.css") if OUT_DIR.name not in p.parts]
    css = [p.read_text(errors="replace") for p in stylesheets]
    html = [p.read_text(errors="replace") for p in outdir.rglob("*.html")]
    rules = subset_fonts(outdir, glyphs_needed(css, html))
    scripts = [p.read_text(errors="replace") for p in (outdir / "_static").rglob("*.js")
               if "fontawesome" not in p.name]
    used = classes_in_use(html, scripts)
    for path, text in zip(stylesheets, css, strict=True):
        lighter = without_unused_icon_rules(text, used)
        if lighter != text:
            path.write_text(lighter)
    target = outdir / OUT_DIR / STYLESHEET
    target.write_text(rules)
    return target
