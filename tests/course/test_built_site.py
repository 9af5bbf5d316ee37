"""The built book as a reader gets it: clean text (no TeX source outside math, no echo of the
book's bookkeeping), light pages (the first-view byte budget, no math or icon JavaScript, the
search index only where search is used), figures and equations legible on a phone with no
unmarked sideways scroll, dark mode, a description and accessible names on every page.

The build and the browser come from conftest.py (``COURSE_BUILT_BOOK`` reuses a built book).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import jupytext
import pytest

from course_utils.authoring import chapters
from course_utils.authoring.figures import MIN_TEXT_PX
from course_utils.authoring.site import FIRST_VIEW_BUDGET, emulate_desktop, emulate_phone, first_view
from tests.conftest import ROOT
from tests.course.test_reader_view import BOOKKEEPING, NOT_YET_MOVED

SCREENSHOTS = ROOT / "_build" / "screenshots"
LECTURES = chapters.files("lecture", ROOT)

#: TeX a reader should never see as text: a command (\mathbf), a $...$ pair, \( \) or \[ \],
#: or a braced superscript or subscript.
TEX_SOURCE = re.compile(r"\\[A-Za-z]{2,}|\$[^$\s][^$\n]{0,200}\$|\\[()\[\]]|[\^_]\{")


def _parse(path: Path):
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(), "html.parser")


_soup = functools.cache(_parse)  # a page parsed once for the tests that only read it


def visible_tex(html_path: Path) -> list[str]:
    """Bits of TeX source in a page's article text outside equations and code."""
    soup = _parse(html_path)  # its own copy: the equations and code are cut out of it
    article = soup.find("article") or soup
    for hidden in article.select("script, style, pre, code, .math, .katex, math, .highlight"):
        hidden.decompose()
    text = " ".join(article.get_text(" ").split())
    return [text[max(0, m.start() - 40):m.end() + 40] for m in TEX_SOURCE.finditer(text)]


def _pages(built_book: Path) -> list[Path]:
    return sorted(built_book.glob("book/*.html"))  # the site's index.html only redirects to book/


@pytest.mark.slow
def test_no_tex_source_is_visible_outside_math(built_book):
    problems = {page.name: found for page in _pages(built_book) if (found := visible_tex(page))}
    assert not problems, f"TeX source shown as text: {problems}"


def _last_statement_is_bookkeeping(source: str) -> bool:
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    last = body[-1] if body else None
    return (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
            and isinstance(last.value.func, ast.Name) and last.value.func.id in BOOKKEEPING)


@pytest.mark.slow
@pytest.mark.parametrize("lecture", LECTURES, ids=lambda p: p.stem)
def test_no_output_is_the_echo_of_a_bookkeeping_call(built_book, lecture):
    """The page's cells, in order, are the notebook's code cells that are not removed; a cell
    whose last statement is a glue or metric call must show no output."""
    if lecture.stem in NOT_YET_MOVED:
        pytest.skip(f"{lecture.stem}: its bookkeeping moves with the chapter's rewrite")
    shown = [c for c in jupytext.read(lecture).cells
             if c.cell_type == "code" and "remove-cell" not in c.metadata.get("tags", [])]
    cells = _soup(built_book / "book" / f"{lecture.stem}.html").select("div.cell")
    assert len(cells) == len(shown), f"{lecture.stem}: {len(cells)} cells on the page, {len(shown)} in the notebook"
    echoes = [cell.source.strip().splitlines()[-1] for cell, html in zip(shown, cells, strict=True)
              if _last_statement_is_bookkeeping(cell.source) and html.select("div.cell_output > *")]
    assert not echoes, f"{lecture.stem}: outputs that only echo a bookkeeping call: {echoes}"


@pytest.mark.slow
def test_pages_load_no_math_or_icon_javascript_and_search_only_where_used(built_book):
    for page in _pages(built_book) + [built_book / "search.html"]:
        scripts = [s.get("src", "") for s in _soup(page).select("script[src]")]
        assert not [s for s in scripts if re.search(r"mathjax|katex|fontawesome", s, re.I)], (page.name, scripts)
        uses_search = page.name == "search.html"
        assert any("searchindex.js" in s for s in scripts) == uses_search, (page.name, "searchindex.js")
    assert not (built_book / "_static" / "scripts" / "fontawesome.js").exists()


@pytest.mark.slow
def test_every_page_has_a_description(built_book):
    for page in _pages(built_book):
        meta = _soup(page).select_one('meta[name="description"]')
        assert meta is not None and len(meta["content"].split()) >= 5, f"{page.name}: no description"
        assert not TEX_SOURCE.search(meta["content"]), f"{page.name}: TeX in the description"


# --------------------------------------------------------------------------- in the browser

def _chapter_urls():
    return [f"book/{lecture.stem}.html" for lecture in LECTURES] + ["book/index.html"]


@pytest.mark.slow
@pytest.mark.browser
def test_first_view_of_every_chapter_is_within_the_byte_budget(browser, server):
    """What a phone fetches to show a page, text gzipped as a web host serves it, figures near
    the screen included (the rest load lazily as the reader scrolls)."""
    emulate_phone(browser)
    try:
        over = {}
        for page in _chapter_urls():
            view = first_view(browser, f"{server}/{page}")
            if view["bytes"] > FIRST_VIEW_BUDGET:
                heaviest = sorted(view["files"], key=lambda f: -f[1])[:5]
                over[page] = (view["bytes"], [(name.rsplit("/", 1)[-1][:40], size) for name, size, _ in heaviest])
        assert not over, f"first view over {FIRST_VIEW_BUDGET} bytes: {over}"
    finally:
        emulate_desktop(browser)


_LEGIBILITY = """
const px = (img) => img.getBoundingClientRect().width / img.naturalWidth;
const shown = (el) => el.getClientRects().length > 0;
const figures = Array.from(document.querySelectorAll('.cell_output img'))
  .filter(i => shown(i) && i.naturalWidth > 0 && i.src.includes('/_images/') && !i.closest('.animation'));
return {
  unmeasured: figures.filter(i => !i.dataset.textPt).map(i => i.alt.slice(0, 60)),
  small: figures.filter(i => i.dataset.textPt)
    .map(i => [i.alt.slice(0, 60), parseFloat(i.dataset.textPt) * parseFloat(i.dataset.dpi) / 72 * px(i)])
    .filter(([, textPx]) => textPx < MIN_TEXT_PX - 0.05),
  animations: Array.from(document.querySelectorAll('.animation img')).filter(i => shown(i) && i.naturalWidth)
    .map(i => [i.alt.slice(0, 60), px(i) * parseFloat(i.dataset.dpi) / 72])
    .filter(([, scale]) => scale < 0.99),
  unmarked: Array.from(document.querySelectorAll('.cell_output, .animation, div.math'))
    .filter(el => shown(el) && el.scrollWidth > el.clientWidth + 1 && !el.classList.contains('course-wide'))
    .map(el => el.className + ': ' + el.textContent.slice(0, 40)),
  page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
};
""".replace("MIN_TEXT_PX", str(MIN_TEXT_PX))


@pytest.mark.slow
@pytest.mark.browser
def test_figures_and_equations_are_legible_on_a_phone(browser, server):
    """At 390 CSS px every figure's smallest text is at least 9 px high (from the text size and
    resolution each figure carries), the page is no wider than the screen, and whatever scrolls
    sideways (a wide figure or equation) says so."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    emulate_phone(browser)
    try:
        for page in _chapter_urls():
            browser.get(f"{server}/{page}")
            browser.execute_script("document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
            _wait(browser, "return Array.from(document.images).every(i => i.complete)")
            browser.execute_script("courseMarkWide()")  # what the page marks as each box nears the screen
            found = browser.execute_script(_LEGIBILITY)
            assert not found["unmeasured"], f"{page}: figures that do not say their text size {found['unmeasured']}"
            assert not found["small"], f"{page}: figure text under {MIN_TEXT_PX} CSS px {found['small']}"
            assert not found["animations"], f"{page}: animations shrunk below their natural size {found['animations']}"
            assert not found["unmarked"], f"{page}: sideways scroll without its cue {found['unmarked']}"
            width, screen = found["page"]
            assert width <= screen, f"{page}: {width} px wide on a {screen} px screen"
            if any(n in page for n in ("00-", "05-", "12-", "14-")):
                browser.execute_script("window.scrollTo(0, 0)")
                browser.save_screenshot(str(SCREENSHOTS / f"phone_{Path(page).stem}.png"))
                browser.execute_script("document.querySelector('.cell_output img[data-text-pt]')?.scrollIntoView();"
                                       "window.scrollBy(0, -120)")
                browser.save_screenshot(str(SCREENSHOTS / f"phone_{Path(page).stem}_figure.png"))
    finally:
        emulate_desktop(browser)


def _wait(driver, script, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


@pytest.mark.slow
@pytest.mark.browser
def test_search_snippets_show_no_tex(browser, server):
    browser.get(f"{server}/search.html?q=gradient")
    _wait(browser, "return document.querySelectorAll('ul.search li p.context').length > 0", timeout=60)
    snippets = browser.execute_script(
        "return Array.from(document.querySelectorAll('ul.search li p.context')).map(p => p.textContent)")
    tex = [s for s in snippets if TEX_SOURCE.search(s)]
    assert not tex, f"search snippets show TeX source: {tex[:3]}"


@pytest.mark.slow
@pytest.mark.browser
def test_dark_mode_and_icons_work_without_font_awesome_javascript(browser, server):
    page = f"{server}/book/{LECTURES[0].stem}.html"
    browser.get(page)
    browser.execute_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark')")
    try:
        browser.get(page)
        _wait(browser, "return document.fonts.status === 'loaded' && document.readyState === 'complete'")
        state = browser.execute_script("""
            const icon = Array.from(document.querySelectorAll('.fa-solid'))
                .find(e => e.getBoundingClientRect().width > 0);
            const glyph = getComputedStyle(icon, '::before');
            const cut = Array.from(document.fonts).some(f => f.family.includes('Font Awesome 6 Free')
                && f.status === 'loaded');
            const fetched = performance.getEntriesByType('resource').map(e => e.name)
                .filter(n => /fontawesome|webfonts/.test(n));
            return [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor,
                    glyph.content, cut, icon.getBoundingClientRect().width, fetched];""")
        theme, background, content, cut_font_loaded, icon_width, full_fonts = state
        assert theme == "dark"
        red, green, blue = (int(v) for v in re.findall(r"\d+", background)[:3])
        assert red + green + blue < 150, f"dark mode background is {background}"
        assert content not in ("none", "normal", '""') and cut_font_loaded and icon_width > 4, state
        assert not full_fonts, f"the theme's full icon fonts or script were fetched: {full_fonts}"
    finally:
        browser.execute_script("localStorage.clear()")


@pytest.mark.slow
@pytest.mark.browser
def test_every_block_that_scrolls_becomes_a_tab_stop_after_load(browser, server, built_book):
    """The theme's tab stops (code and outputs that scroll sideways are reachable by keyboard),
    set in idle time after load (sphinxext.idle_tab_stops), not in one pass over the page."""
    from course_utils.authoring.sphinxext import IDLE_TAB_STOPS

    assert IDLE_TAB_STOPS in (built_book / "_static" / "scripts" / "pydata-sphinx-theme.js").read_text()
    emulate_phone(browser)
    try:
        browser.get(f"{server}/book/{LECTURES[-1].stem}.html")
        _wait(browser, "return Array.from(document.querySelectorAll('pre, .cell_output > .output')).every(e =>"
                       " e.tabIndex === (e.scrollWidth > e.clientWidth || e.scrollHeight > e.clientHeight ? 0 : -1))",
              timeout=30)
        assert browser.execute_script("return document.querySelectorAll('pre[tabindex=\"0\"]').length") > 0
    finally:
        emulate_desktop(browser)


@pytest.mark.slow
@pytest.mark.browser
def test_buttons_and_images_have_accessible_names(browser, server):
    """axe-core (from the repository's node_modules, `npm ci`), on every chapter: the theme's
    search and colour-mode buttons and the code-cell toggles are named by what they show, and
    nothing lacks a name."""
    axe = ROOT / "node_modules" / "axe-core" / "axe.min.js"
    if not axe.exists():
        pytest.skip("axe-core not installed: run `npm ci` (bash scripts/course.sh setup)")
    rules = ["label-content-name-mismatch", "button-name", "image-alt", "link-name", "html-has-lang"]
    for page in ["book/index.html", *(f"book/{lecture.stem}.html" for lecture in LECTURES), "search.html"]:
        browser.get(f"{server}/{page}")
        browser.execute_script(axe.read_text())
        violations = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'rule', values: arguments[0]}})"
            ".then(r => done(r.violations.map(v => [v.id, v.nodes.map(n => n.html.slice(0, 100))])));", rules)
        assert not violations, f"{page}: {violations}"
