"""Exercise checks, one per exercise, in one registry (every chapter's exercise notebook).

Use in a notebook::

    from course_utils.checks import check
    check("00.weighted_sum", weighted_sum)

Each chapter's checks live in their own module ``chNN_slug.py``; importing this package
imports them all, so :data:`REGISTRY` maps every stable exercise id to its check.
"""

import importlib
import pkgutil

from course_utils.authoring.chapters import is_check_module
from course_utils.checks.core import (
    REGISTRY,
    Check,
    CheckFailed,
    call,
    check,
    checks_for,
    expect_close,
    expect_equal,
    expect_pair,
    numerical_derivative,
    numerical_gradient,
    register,
    require_answer,
    require_callable,
    to_array,
)

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if is_check_module(m.name)):
    importlib.import_module(f"{__name__}.{_module}")


__all__ = [
    "REGISTRY", "Check", "CheckFailed", "call", "check", "checks_for", "expect_close",
    "expect_equal", "expect_pair", "numerical_derivative", "numerical_gradient", "register", "require_answer",
    "require_callable", "to_array",
]
