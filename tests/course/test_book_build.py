"""The book: a strict build in the smoke profile (-W -n --keep-going), then the built pages
checked in headless Chromium as a reader sees them."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from course_utils import links
from course_utils.authoring import chapters
from tests.conftest import ROOT

SCREENSHOTS = ROOT / "_build" / "screenshots"


def _toc_parts():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [(part["caption"], [c["file"] for c in part.get("chapters", [])]) for part in toc["parts"]]


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    env = dict(os.environ, COURSE_PROFILE="smoke")
    result = subprocess.run([jb, "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(out)],
                            capture_output=True, text=True, env=env, timeout=3000)
    log = result.stdout + result.stderr
    warnings = [line for line in log.splitlines() if "WARNING" in line and "IPKernelApp" not in line]
    assert result.returncode == 0 and not warnings, "\n".join(warnings) or log[-6000:]
    return out / "_build" / "html"


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

def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def browser():
    if _chromium() is None or shutil.which("chromedriver") is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium and chromium-driver for the browser test")
        pytest.skip("chromium / chromium-driver not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _chromium()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--disable-component-update", "--no-first-run",
                 "--window-size=1280,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server(built_book):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


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
            _wait(browser, "return document.querySelectorAll('mjx-container').length > 0")
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, f"{page}: console errors {errors}"
        outside = _requests_off_this_machine(browser, server)
        assert not outside, f"{page}: loads from the network {outside}"
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
def test_figures_are_readable_on_a_phone(browser, server):
    """At 390 CSS pixels no output figure is shrunk so far that its text drops below 7 px, and
    no page is wider than the screen (a long inline code span must wrap)."""
    from course_utils.authoring.sphinxext import MIN_FIGURE_SCALE

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(390, 844)
    try:
        for page in _pages_to_check():
            browser.get(f"{server}/{page}.html")
            _wait(browser, "return document.readyState === 'complete'")
            _wait(browser, "return Array.from(document.images).every(i => i.complete)")
            scales = browser.execute_script(
                "return Array.from(document.querySelectorAll('.cell_output img'))"
                ".filter(i => i.naturalWidth > 0 && i.getClientRects().length > 0)"  # shown, not in a hidden tab
                ".map(i => [i.alt, i.getBoundingClientRect().width / i.naturalWidth])")
            small = [(alt[:60], round(scale, 2)) for alt, scale in scales if scale < MIN_FIGURE_SCALE - 0.01]
            assert not small, f"{page}: figures too small to read on a phone {small}"
            page_width, screen_width = browser.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert page_width <= screen_width, f"{page}: {page_width} px wide on a {screen_width} px screen"
            if page in ("book/00-perceptron", "book/12-cnn"):
                browser.save_screenshot(str(SCREENSHOTS / f"phone_{page.replace('/', '_')}.png"))
                browser.execute_script(
                    "const i = Array.from(document.querySelectorAll('.cell_output img'))"
                    ".find(i => i.getClientRects().length > 0); if (i) i.scrollIntoView();")
                browser.save_screenshot(str(SCREENSHOTS / f"phone_{page.replace('/', '_')}_figure.png"))
    finally:
        browser.set_window_size(1280, 1000)


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
