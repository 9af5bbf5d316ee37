"""Every generated exercise notebook runs, and each of its checks fails with CheckFailed."""

from __future__ import annotations

import pytest

from course_utils.authoring import chapters
from course_utils.authoring.notebooks import run_notebook
from tests.conftest import ROOT

STUB_ERRORS = {"NotImplementedError", "CheckFailed"}


def _errors(cell):
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.slow
@pytest.mark.parametrize("md", chapters.files("exercise", ROOT), ids=lambda p: p.name)
def test_exercise_checks_fail_cleanly(md):
    nb = run_notebook(md.with_suffix(".ipynb"), allow_errors=True)
    seen = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = _errors(cell)
        ids = chapters.check_calls(cell.source)
        if ids:
            seen += ids
            assert errors, f"cell {index}: check {ids} passed on the untouched exercise"
            assert errors[0]["ename"] == "CheckFailed", \
                f"cell {index}: check {ids} crashed with {errors[0]['ename']}: {errors[0]['evalue']}"
        elif errors:
            assert errors[0]["ename"] in STUB_ERRORS, \
                f"cell {index} crashed with {errors[0]['ename']}: {errors[0]['evalue']}"
    solution = (ROOT / "solutions" / md.name).read_text()
    assert seen == chapters.check_calls(solution)
