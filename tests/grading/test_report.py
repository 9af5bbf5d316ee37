"""The grading report (course_utils.grading.report)."""

from __future__ import annotations

from course_utils.grading import report
from course_utils.grading.contracts import ExerciseResult, NotebookResult


def test_csv_cells_that_look_like_formulas_are_escaped():
    assert report.csv_cell("=1+1") == "'=1+1"
    assert report.csv_cell("+cmd|' /C calc'!A0") .startswith("'+")
    assert report.csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert report.csv_cell("alice") == "alice"
    assert report.csv_cell("a\x00b\x1b") == "ab"
    assert report.csv_cell(0.5) == 0.5


def test_safe_names_stay_apart():
    names = {report.safe_name(n) for n in ("a/b", "a_b", "../x", "", "é")}
    assert len(names) == 5 and all("/" not in n and not n.startswith(".") for n in names)


def _result(learner, chapter, statuses, notebook=None):
    res = NotebookResult(learner, notebook or f"/{learner}/{chapter}-x.ipynb", chapter)
    res.results = [ExerciseResult(f"{chapter}.e{i}", status=s, message="m") for i, s in enumerate(statuses)]
    return res


def test_gradebook_one_row_per_learner_best_of_duplicates():
    results = [_result("ann", "00", ["pass", "fail"]), _result("ann", "00", ["pass", "pass"], "/other.ipynb"),
               _result("bob", "01", ["fail"])]
    header, table = report.gradebook(results)
    assert header == ["Student", "SIS Login ID", "00.e0", "00.e1", "01.e0", "Total"]
    assert [row["Total"] for row in table] == [2, 0]
    assert report.duplicates(results) == {("ann", "00"): ["/ann/00-x.ipynb", "/other.ipynb"]}


def test_results_are_saved_atomically_and_read_back(tmp_path):
    store = report.ResultStore(tmp_path)
    res = _result("ann", "00", ["pass"])
    res.digest = "abc"
    store.save(res)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert store.load(res.notebook, "abc").results[0].status == "pass"
    assert store.load(res.notebook, "changed") is None
