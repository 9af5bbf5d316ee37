"""Shared fixtures: the repository root and the kernels' environment.

Kernels started by nbval inherit this process's environment, so the session applies
:func:`course_utils.authoring.notebooks.kernel_env` to ``os.environ`` first (profile ``smoke`` unless
``COURSE_PROFILE`` is set).
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

