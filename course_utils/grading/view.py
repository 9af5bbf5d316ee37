"""The learner's view of the package (grading, book/grading.md): the read-only copy of
``course_utils`` that a chapter's sandbox mounts.

It is the package as a learner installs it, less what would judge or answer the exercises:
no grader but its agent (:mod:`.agent`, which runs in the sandbox), no chapter's checks (a
stand-in ``checks/__init__.py``, :mod:`.agent.learner_checks`, keeps the check API), and no
module that a check of the chapter declares it ``hides`` (``register(..., hides=...)``: code
that implements the answer under another name).
"""

from __future__ import annotations

import atexit
import compileall
import os
import shutil
import tempfile
import threading
from pathlib import Path

from course_utils.authoring.chapters import is_check_module

PACKAGE_DIR = Path(__file__).resolve().parent.parent
AGENT = "grading/agent/"  # the grader's code that runs in the sandbox
STAND_INS = {"checks/__init__.py": "grading/agent/learner_checks.py"}


def module_path(module: str) -> str:
    """The file of a module of the package, relative to it: ``course_utils.backprop`` -> ``backprop.py``."""
    parts = "/".join(module.split(".")[1:])
    return f"{parts}/__init__.py" if (PACKAGE_DIR / parts / "__init__.py").exists() else f"{parts}.py"


def hidden_modules(chapter: str) -> set[str]:
    """The package's modules (paths relative to it) a learner of ``chapter`` may not import:
    every chapter's checks, the grader but its agent, and what the chapter's checks hide."""
    from course_utils.checks import checks_for

    hidden = {module_path(m) for chk in checks_for(chapter).values() for m in chk.hides}
    for path in PACKAGE_DIR.rglob("*.py"):
        rel = path.relative_to(PACKAGE_DIR).as_posix()
        if (rel.startswith("checks/") and is_check_module(path.stem)) or (
                rel.startswith("grading/") and not rel.startswith(AGENT) and rel != "grading/__init__.py"):
            hidden.add(rel)
    return hidden


_VIEWS_LOCK = threading.RLock()
SUPPORT = ".support"  # beside the package in a view: files the sandbox's kernel starts faster with
_FONTS: list = []


def matplotlib_cache() -> Path | None:
    """Matplotlib's font list for this machine's fonts, built once per grading process (in a
    child process): each notebook's fresh home gets a copy, so that its kernel does not rebuild
    it on ``import matplotlib.pyplot`` (half a second with a few fonts, seconds with many)."""
    import subprocess
    import sys

    with _VIEWS_LOCK:
        if not _FONTS:
            folder = Path(tempfile.mkdtemp(prefix="course-fonts-"))
            atexit.register(shutil.rmtree, folder, True)
            try:
                subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], timeout=120, check=True,
                               capture_output=True, env={**os.environ, "MPLCONFIGDIR": str(folder)})
            except (OSError, subprocess.SubprocessError):
                pass
            _FONTS.append(folder if any(folder.glob("fontlist-*.json")) else None)
        return _FONTS[0]


_VIEWS: dict = {}


def package_view(chapter: str) -> Path:
    """A read-only copy of ``course_utils`` for the sandbox of a ``chapter`` notebook (built
    once per process); the folder that holds it goes on the sandbox's PYTHONPATH."""
    with _VIEWS_LOCK:
        if chapter in _VIEWS and _VIEWS[chapter].exists():
            return _VIEWS[chapter]
        root = Path(tempfile.mkdtemp(prefix="course-view-"))
        os.chmod(root, 0o755)
        atexit.register(shutil.rmtree, root, True)
        hidden = hidden_modules(chapter)
        for path in sorted(PACKAGE_DIR.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
                continue
            rel = path.relative_to(PACKAGE_DIR).as_posix()
            if rel in hidden:
                continue
            target = root / "course_utils" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel == "grading/__init__.py":
                target.write_text('"""Grading: only its agent, which runs in this sandbox, is here."""\n',
                                  encoding="utf-8")
            else:
                shutil.copyfile(PACKAGE_DIR / STAND_INS.get(rel, rel), target)
        fonts = matplotlib_cache()
        if fonts is not None:
            shutil.copytree(fonts, root / SUPPORT / "matplotlib")
        # compiled once here: the sandbox cannot write __pycache__, so every kernel and agent
        # would otherwise compile the modules it imports from source
        compileall.compile_dir(root / "course_utils", quiet=1, workers=1)
        for folder, dirs, files in os.walk(root):
            for name in dirs:
                os.chmod(os.path.join(folder, name), 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        _VIEWS[chapter] = root
        return root
