"""Shared fixtures: the repository root and notebook execution with nbclient."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("COURSE_PROFILE", "smoke")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def execute_notebook(path: Path, timeout: int = 600):
    """Execute a notebook in a fresh kernel with errors allowed; return the executed notebook."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def chapters(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("[0-9][0-9]-*.md"))
