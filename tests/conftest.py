"""Shared fixtures: the repository root and the kernels' environment; the ``slow`` mark.

Kernels started by nbval inherit this process's environment, so the session applies
:func:`course_utils.authoring.notebooks.kernel_env` to ``os.environ`` first (profile ``smoke`` unless
``COURSE_PROFILE`` is set). Every test that runs a notebook, a kernel, the book build or the
grader is marked ``slow`` (nbval's notebook cells here), so ``pytest -m "not slow"`` is the
fast part.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from course_utils.authoring.notebooks import course_variables
from tests import executed_book

ROOT = Path(__file__).resolve().parent.parent
os.environ.update(course_variables(profile=os.environ.get("COURSE_PROFILE", "smoke")))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


#: Session fixtures that several modules share and that take minutes to make: the workers of a
#: parallel run share one (tests/course/conftest.py), so only the first module using one runs early.
SHARED_BUILDS = ("built_book",)


def pytest_configure(config):
    executed_book.register(config, ROOT / "book")


def pytest_collection_modifyitems(config, items):
    """nbval's notebook cells run a kernel: they are slow. With ``-n N --dist loadscope
    --no-loadscope-reorder`` (scripts/course.sh) modules go to the workers in the order given
    here (a stable sort keeps each notebook's cells in order), so that the long pieces start
    early and the quick ones fill in at the end:

    1. the book's notebooks under nbval, whose outputs the book build takes
       (tests/executed_book.py);
    2. the first module that uses a shared build, which makes it as soon as they are done;
    3. the other slow tests (grading every chapter's notebooks, the exercise notebooks ...);
    4. the other modules that use a shared build, made by then;
    5. the fast tests."""
    for item in items:
        if type(item).__module__.startswith("nbval"):
            item.add_marker(pytest.mark.slow)

    def module(item):
        return item.nodeid.split("::")[0]

    users = {}
    for item in items:
        for name in SHARED_BUILDS:
            if name in getattr(item, "fixturenames", ()):
                users.setdefault(name, []).append(module(item))
    makers = {modules[0] for modules in users.values()}
    reusers = {m for modules in users.values() for m in modules} - makers
    book = (ROOT / "book").resolve()

    def rank(item):
        if type(item).__module__.startswith("nbval") and Path(item.path).resolve().parent == book:
            return 0
        if module(item) in makers:
            return 1
        if module(item) in reusers:
            return 3
        return 2 if item.get_closest_marker("slow") else 4

    items.sort(key=rank)
