"""What each page of a built book costs a phone: first-view bytes (gzipped, as a web host serves
them) and requests, measured in headless Chromium at 390 px, and, with --lighthouse, Lighthouse's
mobile performance score against the same gzip-serving local server.

    python scripts/page_weight.py _build/html                       # bytes and requests
    python scripts/page_weight.py _build/html --lighthouse --runs 3 --out weight.json
    python scripts/page_weight.py _build/html --screenshots shots/  # phone screenshots too

Lighthouse comes from the npm registry: `npm install --prefix ~/.cache/lighthouse lighthouse@12`
(any version that runs on your Node.js); pass its folder with --lighthouse-bin if it is not on
PATH. The numbers depend on the machine; they are reported, not asserted (the byte budget is
asserted by tests/course/test_built_site.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from course_utils.authoring.site import FIRST_VIEW_BUDGET, emulate_desktop, emulate_phone, first_view, serve

#: How many screens a page runs to: its height over the window's (1280 x 900 on a desktop), with
#: every section laid out (off-screen sections otherwise count at an estimated height).
SCREENS = """
document.querySelectorAll('.bd-article section').forEach(s => { s.style.contentVisibility = 'visible'; });
return document.documentElement.scrollHeight / window.innerHeight;
"""
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chapter_pages(html: Path) -> list[str]:
    pages = sorted(p.relative_to(html).as_posix() for p in (html / "book").glob("[0-9][0-9]-*.html"))
    return ["book/index.html", *pages]


def browser(width: int = 1280, height: int = 900):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("google-chrome")
    for flag in [*CHROME_FLAGS, "--disable-dev-shm-usage", f"--window-size={width},{height}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def lighthouse(binary: str, url: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        chrome = shutil.which("chromium") or shutil.which("google-chrome")
        subprocess.run([binary, url, "--quiet", "--output=json", f"--output-path={report}",
                        "--only-categories=performance", f"--chrome-flags={' '.join(CHROME_FLAGS)}"],
                       check=True, env={"CHROME_PATH": chrome, "PATH": "/usr/bin:/bin"}, timeout=300)
        data = json.loads(report.read_text())
    audits = data["audits"]
    return {"performance": round(100 * data["categories"]["performance"]["score"]),
            "lcp_s": round(audits["largest-contentful-paint"]["numericValue"] / 1000, 1),
            "tbt_ms": round(audits["total-blocking-time"]["numericValue"]),
            "total_bytes": int(audits["total-byte-weight"]["numericValue"])}


def lighthouse_runs(binary: str, url: str, runs: int) -> dict:
    """Lighthouse ``runs`` times (its scores vary from run to run with the machine's load): the
    median run's figures, and the lowest and highest performance score."""
    results = sorted((lighthouse(binary, url) for _ in range(max(1, runs))), key=lambda r: r["performance"])
    median = results[len(results) // 2]
    return {**median, "performance_range": [results[0]["performance"], results[-1]["performance"]]} \
        if runs > 1 else median


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("html", type=Path, help="the built book (_build/html)")
    parser.add_argument("--lighthouse", action="store_true", help="also run Lighthouse (mobile)")
    parser.add_argument("--lighthouse-bin", default=shutil.which("lighthouse") or "lighthouse")
    parser.add_argument("--runs", type=int, default=1,
                        help="Lighthouse runs per page: the median is reported, with the lowest and highest score")
    parser.add_argument("--screenshots", type=Path, help="save a phone screenshot of each page here")
    parser.add_argument("--out", type=Path, help="write the numbers as JSON")
    args = parser.parse_args(argv)

    results = {}
    driver = browser()
    emulate_phone(driver)
    try:
        with serve(args.html) as url:
            for page in chapter_pages(args.html):
                view = first_view(driver, f"{url}/{page}")
                row = {"bytes": view["bytes"], "requests": view["requests"],
                       "phone_screens": round(driver.execute_script(SCREENS), 1)}
                if args.screenshots:
                    args.screenshots.mkdir(parents=True, exist_ok=True)
                    driver.save_screenshot(str(args.screenshots / f"{Path(page).stem}.png"))
                emulate_desktop(driver)
                driver.get(f"{url}/{page}")
                row["desktop_screens"] = round(driver.execute_script(SCREENS), 1)
                emulate_phone(driver)
                if args.lighthouse:
                    row.update(lighthouse_runs(args.lighthouse_bin, f"{url}/{page}", args.runs))
                results[page] = row
                shown = "  ".join(f"{k} {v}" for k, v in row.items())
                flag = "" if row["bytes"] <= FIRST_VIEW_BUDGET else "  OVER BUDGET"
                print(f"{page:34s} {shown}{flag}", flush=True)
    finally:
        driver.quit()
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
