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

ROOT = Path(__file__).resolve().parent.parent
os.environ.update(course_variables(profile=os.environ.get("COURSE_PROFILE", "smoke")))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


#: Session fixtures that several modules share and that take minutes to make: the workers of a
#: parallel run share one (tests/course/conftest.py), so only the first module using one runs early.
SHARED_BUILDS = ("built_book",)


def pytest_collection_modifyitems(config, items):
    """nbval's notebook cells run a kernel: they are slow. Slow tests run first, in collection
    order (a stable sort keeps each notebook's cells in order): with ``-n 2 --dist loadscope
    --no-loadscope-reorder`` (scripts/course.sh) the long pieces (the book build, the grading
    batch, every notebook) start early and the quick ones fill in around them, instead of a
    long one starting last. The other modules that use a shared build go last, when it is
    done, rather than wait for it while the first module makes it."""
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
    reusers = {m for modules in users.values() for m in dict.fromkeys(modules) if m != modules[0]}

    def rank(item):
        if module(item) in reusers:
            return 2
        return 0 if item.get_closest_marker("slow") else 1

    items.sort(key=rank)
