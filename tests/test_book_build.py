"""A strict build of the whole book in the smoke profile (-W -n --keep-going)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT


@pytest.mark.slow
def test_strict_book_build(tmp_path):
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    env = dict(os.environ, COURSE_PROFILE="smoke")
    result = subprocess.run([jb, "build", str(ROOT), "-W", "-n", "--keep-going",
                             "--path-output", str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=1800)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    html = tmp_path / "_build" / "html"
    for lecture in sorted((ROOT / "book").glob("[0-9][0-9]-*.md")):
        page = html / "book" / f"{lecture.stem}.html"
        assert page.exists(), page
        text = page.read_text()
        assert "colab.research.google.com/github/" in text
        assert "Traceback" not in text, f"{page.name} shows a traceback"
