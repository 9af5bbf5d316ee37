"""Every generated exercise notebook runs, and each of its checks fails with CheckFailed."""

from __future__ import annotations

import re

import pytest

from .conftest import ROOT, chapters, execute_notebook

CHECK_CALL = re.compile(r"""^check\(\s*["'](\d\d\.[A-Za-z0-9_]+)["']""", re.M)
STUB_ERRORS = {"NotImplementedError", "CheckFailed"}


def _errors(cell):
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.slow
@pytest.mark.parametrize("md", chapters("exercises"), ids=lambda p: p.name)
def test_exercise_checks_fail_cleanly(md):
    nb = execute_notebook(md.with_suffix(".ipynb"))
    seen = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = _errors(cell)
        ids = CHECK_CALL.findall(cell.source)
        if ids:
            seen += ids
            assert errors, f"cell {index}: check {ids} passed on the untouched exercise"
            assert errors[0]["ename"] == "CheckFailed", \
                f"cell {index}: check {ids} crashed with {errors[0]['ename']}: {errors[0]['evalue']}"
        elif errors:
            assert errors[0]["ename"] in STUB_ERRORS, \
                f"cell {index} crashed with {errors[0]['ename']}: {errors[0]['evalue']}"
    solution = (ROOT / "solutions" / md.name).read_text()
    assert seen == CHECK_CALL.findall(solution)
