"""The built book, built once a test session and shared by the modules that check it
(test_book_build.py, test_built_site.py), and a headless Chromium to look at it.

``COURSE_BUILT_BOOK=path/to/_build/html`` checks a book already built (with the same sources)
instead of building one: the build is the slow part, the checks take a minute or two.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.authoring.site import serve
from tests import executed_book
from tests.conftest import ROOT


@pytest.fixture(scope="session")
def built_book(tmp_path_factory, request) -> Path:
    """The book built strictly in the smoke profile, once a test run: the workers of a parallel
    run (pytest-xdist) share one build, the first to get there builds and the others wait. The
    build executes only the chapters nbval has not already run in this session
    (tests/executed_book.py keeps their outputs in the build's cache, ``<out>/_build``)."""
    if os.environ.get("COURSE_BUILT_BOOK"):
        html = Path(os.environ["COURSE_BUILT_BOOK"])
        assert (html / "index.html").exists(), f"COURSE_BUILT_BOOK={html} holds no built book"
        return html
    import fcntl

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # this run's folder
    out, log = executed_book.build_folder(shared), shared / "book-build.log"
    with open(shared / "book.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not log.exists():
            nbval = executed_book.plugin(request.config)
            if nbval is not None:  # take what nbval executed in this run, once it is done
                nbval.wait()
            jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
            env = dict(os.environ, COURSE_PROFILE="smoke")
            result = subprocess.run([jb, "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(out)],
                                    capture_output=True, text=True, env=env, timeout=3000)
            log.write_text(f"exit {result.returncode}\n" + result.stdout + result.stderr)
    text = log.read_text()
    warnings = [line for line in text.splitlines() if "WARNING" in line and "IPKernelApp" not in line]
    assert text.startswith("exit 0\n") and not warnings, "\n".join(warnings) or text[-6000:]
    return out / "_build" / "html"


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="session")
def browser():
    if _chromium() is None or shutil.which("chromedriver") is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium and chromium-driver for the browser test")
        pytest.skip("chromium / chromium-driver not installed (apt-get install chromium chromium-driver)")
    os.environ.setdefault("SE_AVOID_STATS", "true")
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


@pytest.fixture(scope="session")
def server(built_book):
    """The built book served as a web host serves it (text gzipped); yields the base URL."""
    with serve(built_book) as url:
        yield url
