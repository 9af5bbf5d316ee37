"""What crosses a process boundary in grading (course_utils.grading.contracts, agent.job)."""

from __future__ import annotations

import pytest

from course_utils.grading.agent.job import cap
from course_utils.grading.contracts import ExerciseResult, NotebookResult


def test_contracts_validate_and_cap():
    with pytest.raises(ValueError):
        ExerciseResult("x", status="passed")
    assert len(ExerciseResult("x", message="m" * 10**6).message) == 1000
    res = NotebookResult.from_dict({"learner": "a", "notebook": "n", "chapter": "00", "evil": 1,
                                    "results": [{"exercise": "00.a", "status": "pass"}], "notes": ["n" * 10**5] * 99})
    assert len(res.notes) == 20 and len(res.notes[0]) == 300
    assert cap("a\x00b", 10) == "ab"
