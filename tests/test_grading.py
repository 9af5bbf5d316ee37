"""Batch grading: every notebook is graded, hostile ones included, and none stops the batch."""

from __future__ import annotations

import copy
import csv
import json
import shutil

import nbformat
import pytest

from course_utils import grading
from course_utils.__main__ import main as cli

from .conftest import ROOT

EXERCISES = ["00.gate_weights", "00.perceptron_update", "00.train_perceptron", "00.weighted_sum"]
PASS_ALL = dict.fromkeys(EXERCISES, "pass")
FAIL_ALL = dict.fromkeys(EXERCISES, "fail")


def _solution():
    return nbformat.read(ROOT / "solutions" / "00-perceptron.ipynb", as_version=4)


def _exercise():
    return nbformat.read(ROOT / "exercises" / "00-perceptron.ipynb", as_version=4)


def _index(nb, text):
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and text in c.source)


def _with_cell(nb, source, at=0):
    nb = copy.deepcopy(nb)
    nb.cells.insert(at, nbformat.v4.new_code_cell(source))
    return nb


def _partial():
    """Exercise 1 right, exercise 2 with AND and OR swapped, exercise 3 untouched (so 4 fails too)."""
    nb = _solution()
    stub = _exercise()
    i = _index(nb, "def perceptron_update")
    nb.cells[i] = stub.cells[i]
    j = _index(nb, "gate_weights = {")
    nb.cells[j].source = nb.cells[j].source.replace('"AND": (np.array([1.0, 1.0]), -1.5)', "AND_").replace(
        '"OR": (np.array([1.0, 1.0]), -0.5)', '"AND": (np.array([1.0, 1.0]), -0.5)').replace(
        "AND_", '"OR": (np.array([1.0, 1.0]), -1.5)')
    return nb


FAKE_CHECKS = """
import course_utils.checks as checks
import course_utils.checks.core as core
for key in list(core.REGISTRY):
    core.REGISTRY[key].func = lambda answer: "faked"
core.check = checks.check = lambda *args, **kwargs: True
check = lambda *args, **kwargs: True
"""
FAKE_NUMPY = """
import numpy as np
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
"""
SWALLOW = """
import time
while True:
    try:
        time.sleep(0.05)
    except BaseException:
        pass
"""
GARBAGE = """
import sys
print("\\x00\\x1b[31m\\udcff" * 1000 + "x" * 2_000_000)
sys.stderr.write(bytes(range(256)).decode("latin-1") * 2000)
"""


def _build(folder):
    """The submissions (folder / learner / 00-perceptron.ipynb) and the statuses each should get."""
    solution, exercise = _solution(), _exercise()
    victim = folder / "victim" / "00-perceptron.ipynb"
    cases = {
        "correct": (solution, PASS_ALL),
        "exercise": (exercise, FAIL_ALL),
        "partial": (_partial(), {"00.weighted_sum": "pass", "00.gate_weights": "fail",
                                 "00.perceptron_update": "fail", "00.train_perceptron": "fail"}),
        "raises": (_with_cell(solution, 'raise RuntimeError("boom")'), PASS_ALL),
        "sys_exit": (_with_cell(solution, "import sys\nsys.exit(1)"), PASS_ALL),
        "os_exit": (_with_cell(solution, "import os\nos._exit(1)"), PASS_ALL),
        "loop": (_with_cell(solution, "while True:\n    pass"), PASS_ALL),
        "swallow": (_with_cell(solution, SWALLOW), PASS_ALL),
        "huge": (_with_cell(solution, "import numpy as np\nx = np.ones(10**10)"), PASS_ALL),
        "hog": (_with_cell(solution, "import numpy as np\nblobs = []\nwhile True:\n    blobs.append(np.ones(10**8))"),
                PASS_ALL),
        "deleter": (_with_cell(solution, f"import os\nos.remove('00-perceptron.ipynb')\nos.remove({str(victim)!r})"),
                    PASS_ALL),
        "victim": (solution, PASS_ALL),
        "garbage": (_with_cell(solution, GARBAGE), PASS_ALL),
        "faker": (_with_cell(exercise, FAKE_CHECKS, at=len(exercise.cells)), FAIL_ALL),
        "numpy_faker": (_with_cell(exercise, FAKE_NUMPY, at=len(exercise.cells)), dict.fromkeys(EXERCISES, "error")),
        "parent_killer": (_with_cell(solution, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
                          dict.fromkeys(EXERCISES, "error")),
    }
    for learner, (nb, _) in cases.items():
        path = folder / learner / "00-perceptron.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    (folder / "garbled.ipynb").write_text('{"cells": [ this is not JSON')
    expected = {learner: statuses for learner, (_, statuses) in cases.items()}
    expected["garbled"] = {"": "error"}
    return expected


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    expected = _build(folder / "submissions")
    out = folder / "report" / "grades"
    code = cli(["grade", str(folder / "submissions"), "--out", str(out), "--jobs", "2", "--cell-timeout", "5",
                "--total-timeout", "60", "--check-timeout", "30", "--memory-mb", "500", "--no-progress"])
    return code, expected, out, folder / "submissions"


@pytest.mark.slow
def test_batch_completes_with_exit_code_0(graded):
    code, expected, out, _ = graded
    assert code == 0
    assert out.with_suffix(".csv").exists() and out.with_suffix(".json").exists()
    report = json.loads(out.with_suffix(".json").read_text())
    assert {s["learner"] for s in report["submissions"]} == set(expected)
    assert report["summary"]["notebooks"] == len(expected)


@pytest.mark.slow
def test_every_learner_gets_the_right_statuses(graded):
    _, expected, out, _ = graded
    with open(out.with_suffix(".csv"), newline="") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == list(grading.CSV_COLUMNS)
    got = {}
    for row in table:
        got.setdefault(row["learner"], {})[row["exercise"]] = row["status"]
        float(row["seconds"])
    wrong = {learner: (got.get(learner), want) for learner, want in expected.items() if got.get(learner) != want}
    assert not wrong, json.dumps(wrong, indent=1)
    assert len(table) == sum(len(v) for v in expected.values())


@pytest.mark.slow
def test_messages_explain(graded):
    _, _, out, folder = graded
    report = json.loads(out.with_suffix(".json").read_text())
    by_learner = {s["learner"]: s for s in report["submissions"]}

    def message(learner, exercise):
        return next(r["message"] for r in by_learner[learner]["results"] if r["exercise"] == exercise)

    assert "compute OR, not AND" in message("partial", "00.gate_weights")
    assert "not written yet" in message("partial", "00.perceptron_update")
    assert message("correct", "00.weighted_sum").startswith("passed")
    assert "numpy.allclose" in message("numpy_faker", "00.weighted_sum")
    assert "worker stopped" in message("parent_killer", "00.weighted_sum")
    assert "not a readable notebook" in message("garbled", "")
    notes = {learner: " ".join(s["notes"]) for learner, s in by_learner.items()}
    assert "timed out" in notes["loop"]
    assert "kernel restarted" in notes["swallow"] and "kernel restarted" in notes["os_exit"]
    assert "MemoryError" in notes["huge"]
    assert "memory above 500 MB" in notes["hog"]
    assert not (folder / "victim" / "00-perceptron.ipynb").exists(), "the deleter should have deleted it"


def test_learner_and_chapter_names(tmp_path):
    assert grading.learner_of(tmp_path / "alice" / "00-perceptron.ipynb") == "alice"
    assert grading.learner_of(tmp_path / "alice.ipynb") == "alice"
    assert grading.chapter_of(tmp_path / "03-fluids.ipynb", "") == "03"
    assert grading.chapter_of(tmp_path / "bob.ipynb", 'check(\\"00.weighted_sum\\", f)') == "00"
    assert grading.chapter_of(tmp_path / "bob.ipynb", "no checks") is None
    assert grading.report_paths(tmp_path / "r.csv") == (tmp_path / "r.csv", tmp_path / "r.json")
    assert grading.report_paths(tmp_path / "r") == (tmp_path / "r.csv", tmp_path / "r.json")


def test_misuse_exits_2(tmp_path, capsys):
    assert cli(["grade", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert cli(["grade", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    shutil.copy(ROOT / "solutions" / "00-perceptron.ipynb", tmp_path / "x.ipynb")
    assert cli(["grade", str(tmp_path), "--out", str(tmp_path / "r"), "--jobs", "0"]) == 2
    assert "grade:" in capsys.readouterr().err


def test_unknown_chapter_is_an_error_row(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, tmp_path / "nobody.ipynb")
    report = grading.grade([tmp_path], tmp_path / "out" / "r", progress=False)
    [row] = grading.rows(report)
    assert row["status"] == "error" and "cannot tell the chapter" in row["message"]
