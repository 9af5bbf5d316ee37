"""The book: a strict build in the smoke profile (-W -n --keep-going), then the built pages
checked in headless Chromium as a reader sees them (the build and the browser: conftest.py;
weight, phones, math and accessibility: test_built_site.py)."""

from __future__ import annotations

import re

import pytest
import yaml

from course_utils import links
from course_utils.authoring import chapters
from tests.conftest import ROOT

SCREENSHOTS = ROOT / "_build" / "screenshots"


def _toc_parts():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [(part["caption"], [c["file"] for c in part.get("chapters", [])]) for part in toc["parts"]]


@pytest.mark.slow
def test_strict_build_has_every_page(built_book):
    for _, files in _toc_parts():
        for name in files:
            page = built_book / f"{name}.html"
            assert page.exists(), page
            text = page.read_text()
            assert "highlight-ipythontb" not in text, f"{page.name} shows an error traceback from a cell"
    for lecture in chapters.files("lecture", ROOT):
        text = (built_book / "book" / f"{lecture.stem}.html").read_text()
        for kind in ("book", "exercises", "solutions"):
            assert links.colab_url(f"{kind}/{lecture.stem}.ipynb") in text, f"{lecture.stem}: no Colab link to {kind}"
        setting = links.SETTING
        binder = f"mybinder.org/v2/gh/{setting.slug}/{setting.branch}?urlpath=tree/book/{lecture.stem}.ipynb"
        assert binder in text, f"{lecture.stem}: no Binder launch button for the setting's repository"


# --------------------------------------------------------------------------- browser

def _pages_to_check():
    return [name for _, files in _toc_parts() for name in files] + ["book/index"]


#: An alt text that is only the image's file name or path, as MyST-NB writes when none is given.
PATH_LIKE_ALT = re.compile(r"(^|/)_images/|\.(png|jpe?g|svg|gif)$|^[0-9a-f]{16,}$", re.I)


def _requests_off_this_machine(driver, local: str) -> list[str]:
    """URLs the page asked for from anywhere but the book's own server (CDNs, fonts ...)."""
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith((local, "data:", "blob:", "about:", "chrome")):
                urls.append(url)
    return urls


def _wait(driver, script, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


@pytest.mark.slow
@pytest.mark.browser
def test_pages_in_a_browser(browser, server):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    checked_links = 0
    for page in _pages_to_check():
        browser.get_log("performance")  # forget the previous page's requests
        browser.get(f"{server}/{page}.html")
        _wait(browser, "return document.readyState === 'complete'")
        if browser.execute_script("return document.querySelectorAll('.math').length") > 0:
            assert browser.execute_script("return document.querySelectorAll('.math .katex').length > 0"), \
                f"{page}: equations not rendered at build time"
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, f"{page}: console errors {errors}"
        outside = _requests_off_this_machine(browser, server)
        assert not outside, f"{page}: loads from the network {outside}"
        browser.execute_script("document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
        _wait(browser, "return Array.from(document.images).every(i => i.complete)")
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.src, i.complete && i.naturalWidth > 0])")
        broken = [src for src, ok in images if not ok]
        assert not broken, f"{page}: images not loaded {broken}"
        alts = browser.execute_script(
            "return Array.from(document.querySelectorAll('main img')).map(i => [i.src.slice(-40), i.alt])")
        bad_alt = [(src, alt) for src, alt in alts if not alt.strip() or PATH_LIKE_ALT.search(alt.strip())]
        assert not bad_alt, f"{page}: images without a meaningful alt text {bad_alt}"
        if chapters.parse(page):
            stem = page.split("/")[1]
            hrefs = browser.execute_script(
                "return Array.from(document.querySelectorAll('a')).map(a => a.href)"
                ".filter(h => h.includes('colab.research.google.com/github'))")
            kinds = {h.split("/blob/main/")[1] for h in hrefs}
            assert {f"book/{stem}.ipynb", f"exercises/{stem}.ipynb", f"solutions/{stem}.ipynb"} <= kinds
            for target in kinds:
                assert (ROOT / target).exists(), target
            checked_links += len(hrefs)
        browser.save_screenshot(str(SCREENSHOTS / f"{page.replace('/', '_')}.png"))
    assert checked_links > 0


@pytest.mark.slow
@pytest.mark.browser
def test_framework_tabs_switch_together(browser, server, built_book):
    from selenium.webdriver.common.by import By

    pages = [p for p in sorted((built_book / "book").glob("*.html")) if "framework-tabs" in p.read_text()]
    if not pages:
        pytest.skip("no chapter with PyTorch / Keras tabs yet")
    page = pages[0].relative_to(built_book)
    browser.get(f"{server}/{page}")
    _wait(browser, "return document.readyState === 'complete'")
    labels = browser.find_elements(By.CSS_SELECTOR, ".framework-tabs label[data-sync-id='keras']")
    assert labels
    browser.execute_script("arguments[0].scrollIntoView(); arguments[0].click();", labels[0])
    checked = browser.execute_script(
        "return Array.from(document.querySelectorAll(\".framework-tabs label[data-sync-id='keras']\"))"
        ".map(l => document.getElementById(l.htmlFor).checked)")
    assert all(checked), "clicking Keras in one tab set did not switch the others"
    browser.save_screenshot(str(SCREENSHOTS / f"tabs_{page.stem}.png"))


@pytest.mark.slow
@pytest.mark.browser
def test_search_finds_a_term(browser, server):
    browser.get(f"{server}/search.html?q=perceptron")
    _wait(browser, "return document.querySelectorAll('#search-results li, ul.search li').length > 0", timeout=30)
