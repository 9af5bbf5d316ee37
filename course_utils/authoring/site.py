"""The built book as a reader's browser gets it: a local server that compresses text as a
web host does, and what a page's first view costs (the byte budget of every chapter page,
``tests/course/test_built_site.py`` and ``scripts/page_weight.py``)."""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import io
import threading
from pathlib import Path

#: Every chapter page's first view, figures included, gzipped (COURSE_DESIGN.md, "Budgets").
FIRST_VIEW_BUDGET = 600_000
#: What a phone shows: the browser test's screen, in CSS pixels.
PHONE = (390, 844)
COMPRESSED = {".html", ".css", ".js", ".mjs", ".json", ".svg", ".txt", ".xml", ".map", ".ipynb", ".md"}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, without a log line per request (tests and scripts print what matters)."""

    def log_message(self, *args):
        pass


class GzipHandler(QuietHandler):
    """Static files; text gzipped (level 6, as web servers do) when the client accepts it."""

    _cache: dict[Path, bytes] = {}

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (accepts and path.suffix in COMPRESSED and path.is_file()):
            return super().send_head()
        body = self._cache.get(path)
        if body is None:
            body = self._cache[path] = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        return io.BytesIO(body)


@contextlib.contextmanager
def serve(folder: Path | str, *, compress: bool = True):
    """Serve ``folder`` on a free local port (gzipped text unless ``compress=False``); yields the
    base URL."""
    handler_class = GzipHandler if compress else QuietHandler
    if compress:
        handler_class = type("FolderGzipHandler", (GzipHandler,), {"_cache": {}})
    handler = functools.partial(handler_class, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def emulate_phone(driver, width: int = PHONE[0], height: int = PHONE[1], scale: float = 3.0) -> None:
    """Make a Selenium Chrome driver's pages lay out as on a phone of ``width`` CSS pixels
    (a desktop window cannot be narrower than 500 px in headless Chromium)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": scale, "mobile": True})


def emulate_desktop(driver) -> None:
    """Undo :func:`emulate_phone`."""
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


#: Sizes, over the network, of the page and of everything it fetched so far (the resource
#: timing entries; with the cache off, transferSize is what came over the wire, headers included).
_TRANSFERS = """
const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
return entries.filter(e => !e.name.startsWith('data:'))
              .map(e => [e.name, e.transferSize, e.initiatorType]);
"""


def first_view(driver, url: str, *, settle: float = 1.5, timeout: float = 30) -> dict:
    """Open ``url`` with an empty cache and return what its first view fetched:
    ``{"bytes": total transferred, "requests": count, "files": [(url, bytes, kind), ...]}``.

    Waits for the load event, then until no new request starts for ``settle`` seconds (lazy
    images near the screen, fonts). ``driver`` is a Selenium Chrome driver.
    """
    import time

    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    driver.get(url)
    deadline = time.monotonic() + timeout
    while driver.execute_script("return document.readyState") != "complete" and time.monotonic() < deadline:
        time.sleep(0.1)
    count, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        files = driver.execute_script(_TRANSFERS)
        if len(files) != count:
            count, quiet_since = len(files), time.monotonic()
        elif time.monotonic() - quiet_since >= settle:
            break
        time.sleep(0.2)
    files = [(name, int(size), kind) for name, size, kind in driver.execute_script(_TRANSFERS)]
    return {"bytes": sum(size for _, size, _ in files), "requests": len(files), "files": files}
