"""JupyterLab opens the course's paired Markdown files as notebooks, by the repository's own
settings (jupyter-config/), proven with a real JupyterLab in headless Chromium (requirements.txt
installs JupyterLab for it)."""

from __future__ import annotations

import importlib.util
import shutil
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def lab():
    assert importlib.util.find_spec("jupyterlab"), "JupyterLab is missing: requirements.txt installs it"
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        pytest.skip("chromium / chromium-driver not installed")
    sys.path.insert(0, str(ROOT / "scripts"))
    import check_jupyterlab

    return check_jupyterlab


def test_a_chapter_opens_as_a_notebook(lab, tmp_path):
    state = lab.open_in_jupyterlab("book/00-perceptron.md", tmp_path / "lab.png")
    assert state["jupytext"] and state["notebook"] and state["code"] > 0, state


def test_without_the_settings_it_would_open_as_text(lab):
    """The control: the same server, Jupytext's contents manager active (it reads the file as a
    notebook), but no repository settings: the default viewer of a .md stays the text editor."""
    state = lab.open_in_jupyterlab("book/00-perceptron.md", settings=False)
    assert state["jupytext"] and not state["notebook"], state
