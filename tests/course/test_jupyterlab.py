"""JupyterLab opens the course's paired Markdown files as notebooks, by the repository's own
settings (jupyter-config/), proven with a real JupyterLab in headless Chromium. Runs where
JupyterLab is installed (`.venv/bin/python -m pip install jupyterlab`); the test command's
environment does not install it."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def lab():
    if importlib.util.find_spec("jupyterlab") is None or importlib.util.find_spec("jupytext") is None:
        pytest.skip("JupyterLab is not installed here (README: Run it locally)")
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        pytest.skip("chromium / chromium-driver not installed")
    sys.path.insert(0, str(ROOT / "scripts"))
    import check_jupyterlab

    return check_jupyterlab


def test_a_chapter_opens_as_a_notebook(lab, tmp_path):
    state = lab.open_in_jupyterlab("book/00-perceptron.md", tmp_path / "lab.png")
    assert state["notebook"] and state["code"] > 0, state


def test_without_the_settings_it_would_open_as_text(lab):
    installed = Path(sys.prefix) / "etc" / "jupyter" / "labconfig" / "default_setting_overrides.json"
    if installed.exists():
        pytest.skip("the settings are installed in this environment too (scripts/course.sh setup)")
    assert not lab.open_in_jupyterlab("book/00-perceptron.md", settings=False)["notebook"]
