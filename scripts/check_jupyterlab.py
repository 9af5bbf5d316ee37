"""Prove that JupyterLab opens the course's paired Markdown files as notebooks: start a real
JupyterLab on this repository (with the repository's settings, jupyter-config/), open a chapter's
.md in headless Chromium and look for notebook cells, not a text editor.

    .venv/bin/python scripts/check_jupyterlab.py                       # book/00-perceptron.md
    .venv/bin/python scripts/check_jupyterlab.py --screenshot lab.png  # and keep a screenshot

Needs JupyterLab and Jupytext in the environment (requirements.txt installs both)
and Debian's chromium and chromium-driver. Exits 0 when the file opened as a notebook, 1 when
it opened as text. tests/course/test_jupyterlab.py runs it (scripts/course.sh installs JupyterLab).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "jupyter-config"

#: What the page shows once the document is open: notebook cells, or a text editor.
STATE = """
const panel = document.querySelector('.jp-MainAreaWidget:not(.lm-mod-hidden) .jp-Notebook, '
                                   + '.jp-MainAreaWidget:not(.lm-mod-hidden) .jp-FileEditor');
if (!panel) return null;
return {notebook: panel.classList.contains('jp-Notebook'),
        code: panel.querySelectorAll('.jp-CodeCell').length,
        markdown: panel.querySelectorAll('.jp-MarkdownCell').length,
        title: document.querySelector('.lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel')?.textContent};
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("google-chrome")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def _jupytext_serves(port: int, path: str) -> bool:
    """Whether the server's contents API reads ``path`` as a notebook (Jupytext's contents
    manager is active): true with or without the repository's settings."""
    import json
    import urllib.request

    url = f"http://127.0.0.1:{port}/api/contents/{path}?type=notebook&content=1"
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            model = json.load(reply)
    except (OSError, ValueError):
        return False
    return model.get("type") == "notebook" and bool(model.get("content", {}).get("cells"))


def open_in_jupyterlab(path: str, screenshot: Path | None = None, timeout: float = 120,
                       settings: bool = True) -> dict:
    """Open ``path`` (relative to the repository) in a fresh JupyterLab, with the repository's
    settings or (``settings=False``) without them; return what it shows."""
    os.environ.setdefault("SE_AVOID_STATS", "true")
    port = _free_port()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, HOME=home, JUPYTER_RUNTIME_DIR=str(Path(home) / "runtime"))
        if settings:
            env.update(JUPYTER_CONFIG_DIR=str(Path(home) / ".jupyter"), JUPYTER_CONFIG_PATH=str(SETTINGS))
        else:
            # The control: no configuration folder at all (not even the environment's, where
            # scripts/course.sh installs the settings), with Jupytext's server extension enabled
            # on the command line, so the settings file is the only difference.
            env.update(JUPYTER_NO_CONFIG="1", JUPYTER_CONFIG_PATH="")
        extensions = ("--ServerApp.jpserver_extensions={'jupyterlab': True, 'jupyterlab_jupytext': True}",)
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", *extensions,
             "--IdentityProvider.token=",
             "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={ROOT}",
             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        driver = None
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("JupyterLab did not start:\n" + server.stderr.read()[-3000:]) from None
                    time.sleep(0.5)
            state_jupytext = _jupytext_serves(port, path)
            driver = _browser()
            driver.get(f"http://127.0.0.1:{port}/lab/tree/{path}")
            # A notebook renders its cells in steps, and re-renders them (the first Markdown cell
            # alone for a moment) when the document reloads: on a busy machine a first look can
            # catch either. The answer is a view with code cells (or a text editor) that holds
            # for a second, within the time limit, counted from the page's load.
            state, settled, deadline = None, None, time.monotonic() + timeout
            while time.monotonic() < deadline:
                state = driver.execute_script(STATE)
                shown = bool(state) and (not state["notebook"] or state["code"] > 0)
                if shown and state == settled:
                    break
                settled = state if shown else None
                time.sleep(1 if shown else 0.5)
            if screenshot is not None:
                driver.save_screenshot(str(screenshot))
            return {**(state or {"notebook": False, "code": 0, "markdown": 0, "title": None}),
                    "jupytext": state_jupytext}
        finally:
            if driver is not None:
                driver.quit()
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default="book/00-perceptron.md")
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--without-settings", action="store_true",
                        help="the control: JupyterLab without the repository's settings")
    args = parser.parse_args(argv)
    state = open_in_jupyterlab(args.path, args.screenshot, settings=not args.without_settings)
    print(f"{args.path}: opened as {'a notebook' if state['notebook'] else 'text'} "
          f"({state['code']} code cells, {state['markdown']} Markdown cells)")
    return 0 if state["notebook"] and state["code"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
