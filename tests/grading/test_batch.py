"""Batch grading: honest, broken and hostile notebooks; none fools the grader or harms the batch."""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import shutil
import sysconfig

import nbformat
import psutil
import pytest

from course_utils import grading
from course_utils.__main__ import main as cli
from course_utils.grading.bubblewrap import bwrap_problem
from course_utils.grading.view import PACKAGE_DIR
from tests.conftest import ROOT
from tests.grading.hostile_notebooks import CASES, ERROR_ALL, EXERCISES, FAIL_ALL, PASS_ALL

needs_sandbox = pytest.mark.skipif(bool(bwrap_problem()), reason=f"no sandbox here: {bwrap_problem()}")


def _solution():
    return nbformat.read(ROOT / "solutions" / "00-perceptron.ipynb", as_version=4)


def _exercise():
    return nbformat.read(ROOT / "exercises" / "00-perceptron.ipynb", as_version=4)


def _index(nb, text):
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and text in c.source)


def _with_cell(nb, source, at=0):
    nb = copy.deepcopy(nb)
    nb.cells.insert(at if at >= 0 else len(nb.cells), nbformat.v4.new_code_cell(source))
    return nb


def _partial():
    """Exercise 1 right, exercise 2 with NOR's bias for NAND, exercise 3 untouched (so 4 fails too)."""
    nb = _solution()
    stub = _exercise()
    i = _index(nb, "def perceptron_update")
    nb.cells[i] = stub.cells[i]
    j = _index(nb, "gate_weights = {")
    nand = '"NAND": (np.array([-1.0, -1.0]), 1.5)'
    assert nand in nb.cells[j].source
    nb.cells[j].source = nb.cells[j].source.replace(nand, '"NAND": (np.array([-1.0, -1.0]), 0.5)')
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
FORMULA = '=HYPERLINK("x.invalid","click")+1'
MARKER = "7654321"


def _package_digest():
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _fill(code, fields):
    for key, value in fields.items():
        code = code.replace("{" + key + "!r}", repr(value)).replace("{" + key + "}", value)
    return code.replace("{{", "{").replace("}}", "}")


# A kernel's memory grows only as fast as the machine maps fresh pages, which on some virtual
# machines is seconds per gigabyte: the memory cases get a long cell limit of their own, so the
# watchdog, not a cell time-out, is what stops them on any machine.
MEMORY_CASES = ("huge", "hog", "hoard")


def _build(folder, report, only=None):
    """The submissions (folder / learner / 00-perceptron.ipynb) and the statuses each should get:
    the cases named in ``only``, or all but the memory cases."""
    solution, exercise = _solution(), _exercise()
    victim = folder / "victim" / "00-perceptron.ipynb"
    fields = {"victim": str(victim), "report": str(report.with_suffix(".csv")), "marker": MARKER,
              "package": str(PACKAGE_DIR)}
    cases = {
        "correct": (solution, PASS_ALL),
        "exercise": (exercise, FAIL_ALL),
        "partial": (_partial(), {**PASS_ALL, "00.gate_weights": "fail",
                                 "00.perceptron_update": "fail", "00.train_perceptron": "fail"}),
        "raises": (_with_cell(solution, 'raise RuntimeError("boom")'), PASS_ALL),
        "sys_exit": (_with_cell(solution, "import sys\nsys.exit(1)"), PASS_ALL),
        "os_exit": (_with_cell(solution, "import os\nos._exit(1)"), PASS_ALL),
        "loop": (_with_cell(solution, "while True:\n    pass"), PASS_ALL),
        "swallow": (_with_cell(solution, SWALLOW), PASS_ALL),
        "huge": (_with_cell(solution, "import numpy as np\nx = np.ones(10**10)"), PASS_ALL),
        "hog": (_with_cell(solution, "import numpy as np\nblobs = []\nwhile True:\n    blobs.append(np.ones(10**8))"),
                PASS_ALL),
        "victim": (solution, PASS_ALL),
        "garbage": (_with_cell(solution, GARBAGE), PASS_ALL),
        "faker": (_with_cell(exercise, FAKE_CHECKS, at=-1), FAIL_ALL),
        "numpy_faker": (_with_cell(exercise, FAKE_NUMPY, at=-1), FAIL_ALL),
        "parent_killer": (_with_cell(solution, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"), ERROR_ALL),
        FORMULA: (solution, PASS_ALL),
        "answer_loops": (_with_cell(solution, "def weighted_sum(X, w, b):\n    while True:\n        pass", at=-1),
                         {**PASS_ALL, "00.weighted_sum": "fail"}),
    }
    for name, (_, base, code, statuses) in CASES.items():
        start = solution if base == "solution" else exercise
        cases[name] = (_with_cell(start, _fill(code, fields), at=-1 if base == "exercise" else 0), statuses)
    cases = {k: v for k, v in cases.items() if (k in only if only else k not in MEMORY_CASES)}
    for learner, (nb, _) in cases.items():
        path = folder / learner / "00-perceptron.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    expected = {learner: statuses for learner, (_, statuses) in cases.items()}
    if only:
        return expected
    nbformat.write(exercise, folder / "twice.ipynb")  # twice: two notebooks for one learner
    (folder / "twice").mkdir()
    nbformat.write(solution, folder / "twice" / "00-perceptron.ipynb")
    (folder / "garbled.ipynb").write_text('{"cells": [ this is not JSON')
    (folder / "linked").mkdir()
    (folder / "linked" / "00-perceptron.ipynb").symlink_to("/etc/passwd")
    expected["garbled"] = {"": "error"}
    expected["linked"] = dict.fromkeys(EXERCISES, "error")
    return expected


def _grade(submissions, out, *, cell_timeout, total_timeout):
    """The grade command as the class fixtures run it: 2 jobs, 30 s per check, 500 MB."""
    return cli(["grade", str(submissions), "--out", str(out), "--jobs", "2", "--cell-timeout", str(cell_timeout),
                "--total-timeout", str(total_timeout), "--check-timeout", "30", "--memory-mb", "500",
                "--no-progress"])


def _class(tmp_path_factory, name, only=None):
    """A class folder with its submissions built: (submissions, grades report stem, expected)."""
    if bwrap_problem():
        pytest.skip(f"no sandbox here: {bwrap_problem()}")
    folder = tmp_path_factory.mktemp(name)
    out = folder / "report" / "grades"
    return folder / "submissions", out, _build(folder / "submissions", out, only=only)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    submissions, out, expected = _class(tmp_path_factory, "class")
    victim_bytes = (submissions / "victim" / "00-perceptron.ipynb").read_bytes()
    site = sysconfig.get_paths()["purelib"]
    before = {"package": _package_digest(), "site": sorted(os.listdir(site))}
    code = _grade(submissions, out, cell_timeout=5, total_timeout=60)
    after = {"package": _package_digest(), "site": sorted(os.listdir(site))}
    return {"code": code, "expected": expected, "out": out, "folder": submissions,
            "victim_bytes": victim_bytes, "before": before, "after": after}


@pytest.fixture(scope="module")
def graded_memory(tmp_path_factory):
    submissions, out, expected = _class(tmp_path_factory, "memory", only=MEMORY_CASES)
    code = _grade(submissions, out, cell_timeout=60, total_timeout=120)
    return {"code": code, "expected": expected, "out": out}


def _report(graded):
    return json.loads(graded["out"].with_suffix(".json").read_text())


def _table(graded):
    with open(graded["out"].with_suffix(".csv"), newline="") as handle:
        return list(csv.DictReader(handle))


def _learner(row):
    return row["learner"][1:] if row["learner"].startswith("'=") else row["learner"]


def _statuses(rows):
    """{learner: {exercise: status}} of grade-table rows."""
    got = {}
    for row in rows:
        got.setdefault(_learner(row), {})[row["exercise"]] = row["status"]
    return got


@pytest.mark.slow
def test_batch_completes_with_exit_code_0(graded):
    assert graded["code"] == 0
    report = _report(graded)
    learners = {s["learner"] for s in report["submissions"]}
    assert learners == set(graded["expected"]) | {"twice"}
    assert report["sandbox"] == "bubblewrap"


@pytest.mark.slow
def test_every_learner_gets_the_right_statuses(graded):
    table = _table(graded)
    assert list(table[0]) == list(grading.CSV_COLUMNS)
    for row in table:
        float(row["seconds"])
    got = _statuses(row for row in table if row["learner"] != "twice")
    wrong = {learner: (got.get(learner), want) for learner, want in graded["expected"].items()
             if got.get(learner) != want}
    assert not wrong, json.dumps(wrong, indent=1)


@pytest.mark.slow
def test_messages_explain(graded):
    by_learner = {s["learner"]: s for s in _report(graded)["submissions"]}

    def message(learner, exercise):
        return next(r["message"] for r in by_learner[learner]["results"] if r["exercise"] == exercise)

    assert "compute NOR, not NAND" in message("partial", "00.gate_weights")
    assert "not written yet" in message("partial", "00.perceptron_update")
    assert message("correct", "00.weighted_sum").startswith("passed")
    assert "not graded" in message("parent_killer", "00.weighted_sum")
    assert "stopped answering" in message("stop_driver", "00.weighted_sum")
    assert "not a readable notebook" in message("garbled", "")
    assert "did not finish within" in message("answer_loops", "00.weighted_sum")
    assert "unreadable message (RecursionError)" in message("forge_channel", "00.weighted_sum")
    assert all(r["judged"] == "grader" for s in by_learner.values() for r in s["results"])
    notes = {learner: " ".join(s["notes"]) for learner, s in by_learner.items()}
    assert "timed out" in notes["loop"]
    assert "kernel restarted" in notes["swallow"] and "kernel restarted" in notes["os_exit"]
    assert "duplicate" in notes["twice"]


@pytest.mark.slow
def test_memory_is_limited_on_any_machine(graded_memory):
    assert graded_memory["code"] == 0
    by_learner = {s["learner"]: s for s in _report(graded_memory)["submissions"]}
    assert set(by_learner) == set(MEMORY_CASES)
    assert _statuses(_table(graded_memory)) == graded_memory["expected"]
    notes = {learner: " ".join(s["notes"]) for learner, s in by_learner.items()}
    hoard = next(r["message"] for r in by_learner["hoard"]["results"] if r["exercise"] == "00.weighted_sum")
    assert "memory above 500 MB" in hoard, "processes outside the kernel's tree count too"
    assert "MemoryError" in notes["huge"], "one allocation past the address-space limit fails at once"
    assert "memory above 500 MB" in notes["hog"], notes["hog"]


@pytest.mark.slow
def test_no_harm_outside_the_notebook(graded):
    folder = graded["folder"]
    assert (folder / "victim" / "00-perceptron.ipynb").read_bytes() == graded["victim_bytes"]
    assert graded["before"] == graded["after"], "a notebook changed the package or site-packages"
    leftover = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"])
                if MARKER in " ".join(p.info["cmdline"] or [])]
    assert not leftover, leftover
    text = graded["out"].with_suffix(".json").read_text()
    assert "root:x:0:0" not in text, "a linked submission was read"
    linked = next(s for s in _report(graded)["submissions"] if s["learner"] == "linked")
    assert "symbolic link" in linked["results"][0]["message"]
    assert graded["out"].with_suffix(".json").stat().st_size < 2 * 2**20
    assert max(len(r["message"]) for r in _table(graded)) <= 1000


@pytest.mark.slow
def test_csv_escapes_formulas_and_gradebook_has_one_row_per_learner(graded):
    table = _table(graded)
    assert any(row["learner"] == "'" + FORMULA for row in table)
    assert not any(row["learner"].startswith("=") for row in table)
    gradebook = graded["out"].parent / "grades-gradebook.csv"
    with open(gradebook, newline="") as handle:
        book = list(csv.DictReader(handle))
    assert [k for k in book[0]] == ["Student", "SIS Login ID", *EXERCISES, "Total"]
    students = [row["Student"] for row in book]
    assert len(students) == len(set(students))
    twice = next(row for row in book if row["Student"] == "twice")
    assert twice["Total"] == str(len(EXERCISES)), "the better of two notebooks counts"
    correct = next(row for row in book if row["Student"] == "correct")
    assert correct["Total"] == str(len(EXERCISES)) and correct["00.weighted_sum"] == "1"
    feedback = list((graded["out"].parent / "grades-feedback").glob("partial-*.md"))
    assert len(feedback) == 1 and "compute NOR, not NAND" in feedback[0].read_text()
    report = _report(graded)
    assert report["duplicates"] and report["duplicates"][0]["learner"] == "twice"


def test_learner_and_chapter_names(tmp_path):
    assert grading.learner_of(tmp_path / "alice" / "00-perceptron.ipynb") == "alice"
    assert grading.learner_of(tmp_path / "alice.ipynb") == "alice"
    assert grading.chapter_of(tmp_path / "03-fluids.ipynb", "") == "03"
    assert grading.chapter_of(tmp_path / "bob.ipynb", 'check(\\"00.weighted_sum\\", f)') == "00"
    assert grading.chapter_of(tmp_path / "bob.ipynb", "no checks") is None
    for out in (tmp_path / "r.csv", tmp_path / "r"):
        paths = grading.OutputPaths.from_out(out)
        assert (paths.csv, paths.json) == (tmp_path / "r.csv", tmp_path / "r.json")


def test_each_sandbox_starts_while_the_jobs_before_it_run_and_none_is_left_open(monkeypatch):
    from course_utils.grading import batch

    opened, closed = [], []

    class Box:
        def __init__(self, job):
            self.job = job
            opened.append(job)

        def close(self):
            closed.append(self.job)

    monkeypatch.setattr(batch, "open_sandbox", lambda job, options: Box(job))
    jobs = ["a", "b", "c", "d"]
    line = batch._Queue(jobs, options=None, ahead=2)
    job, box = line.take()
    assert (job, box.job) == ("a", "a") and opened == ["a", "b", "c"]  # a now, b and c ahead
    assert line.take()[1].job == "b" and opened == ["a", "b", "c", "d"]
    assert line.take()[1].job == "c" and line.take()[1].job == "d" and line.take() is None
    assert len(opened) == 4 and not closed  # each opened once, and every one taken
    line = batch._Queue(jobs, options=None, ahead=2)
    line.take()
    line.close()  # the batch ends early: the sandboxes started ahead are closed
    assert closed == ["b", "c"]


def test_misuse_exits_2(tmp_path, capsys):
    assert cli(["grade", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert cli(["grade", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    shutil.copy(ROOT / "solutions" / "00-perceptron.ipynb", tmp_path / "x.ipynb")
    assert cli(["grade", str(tmp_path), "--out", str(tmp_path / "r"), "--jobs", "0"]) == 2
    assert "grade:" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["fifo", "folder", "symlink"])
def test_bad_report_paths_are_refused(tmp_path, kind, capsys):
    shutil.copy(ROOT / "solutions" / "00-perceptron.ipynb", tmp_path / "x.ipynb")
    out = tmp_path / "out"
    out.mkdir()
    target = out / "r.csv"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    else:
        (tmp_path / "precious.txt").write_text("keep me")
        target.symlink_to(tmp_path / "precious.txt")
    assert cli(["grade", str(tmp_path / "x.ipynb"), "--out", str(out / "r"), "--no-progress"]) == 2
    assert "cannot write the report" in capsys.readouterr().err
    if kind == "symlink":
        assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_no_sandbox_means_no_grading_unless_allowed(tmp_path, monkeypatch, capsys):
    from course_utils.grading import bubblewrap

    monkeypatch.setattr(bubblewrap, "bwrap_problem", lambda: "bubblewrap is not installed")
    shutil.copy(ROOT / "solutions" / "00-perceptron.ipynb", tmp_path / "x.ipynb")
    assert cli(["grade", str(tmp_path / "x.ipynb"), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    assert "--allow-unsandboxed" in capsys.readouterr().err


@pytest.mark.slow
def test_unsandboxed_when_allowed_grades_the_same(tmp_path, monkeypatch):
    from course_utils.grading import bubblewrap

    monkeypatch.setattr(bubblewrap, "bwrap_problem", lambda: "bubblewrap is not installed")
    (tmp_path / "a").mkdir()
    shutil.copy(ROOT / "solutions" / "00-perceptron.ipynb", tmp_path / "a" / "00-perceptron.ipynb")
    report = grading.grade([tmp_path / "a"], tmp_path / "out" / "r", progress=False, allow_unsandboxed=True)
    assert report["sandbox"].startswith("none")
    assert [r["status"] for r in report["submissions"][0]["results"]] == ["pass"] * len(EXERCISES)


@pytest.mark.slow
def test_unsandboxed_daemons_that_keep_the_mark_are_ended(tmp_path, monkeypatch):
    from course_utils.grading import bubblewrap

    monkeypatch.setattr(bubblewrap, "bwrap_problem", lambda: "bubblewrap is not installed")
    daemon = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              "        os.execvp('sleep', ['sleep', '7654322'])\n    os._exit(0)\ntime.sleep(0.5)")
    (tmp_path / "a").mkdir()
    nbformat.write(_with_cell(_solution(), daemon), tmp_path / "a" / "00-perceptron.ipynb")
    grading.grade([tmp_path / "a"], tmp_path / "out" / "r", progress=False, allow_unsandboxed=True)
    assert not [p for p in psutil.process_iter(["cmdline"]) if "7654322" in " ".join(p.info["cmdline"] or [])]


def test_unknown_chapter_is_an_error_row(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, tmp_path / "nobody.ipynb")
    report = grading.grade([tmp_path], tmp_path / "out" / "r", progress=False, allow_unsandboxed=True)
    [row] = grading.rows(report)
    assert row["status"] == "error" and "cannot tell the chapter" in row["message"]


@needs_sandbox
@pytest.mark.slow
def test_a_killed_batch_keeps_its_results_and_resumes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    for k in range(4):
        (tmp_path / "subs" / f"l{k}").mkdir(parents=True)
        shutil.copy(ROOT / "solutions" / "00-perceptron.ipynb", tmp_path / "subs" / f"l{k}" / "00-perceptron.ipynb")
    out = tmp_path / "out" / "r"
    command = [sys.executable, "-m", "course_utils", "grade", str(tmp_path / "subs"), "--out", str(out),
               "--jobs", "1", "--no-progress"]
    proc = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(ROOT)})
    results = tmp_path / "out" / "r-results"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 1:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = len(list(results.glob("*.json")))
    assert 1 <= saved < 4
    report = grading.grade([tmp_path / "subs"], out, progress=False, resume=True, jobs=2)
    summary = report["summary"]
    assert summary["notebooks"] == 4 and summary["all_passed"] == 4
    assert (summary["kept"], summary["graded"]) == (saved, 4 - saved), "saved results are not graded again"
    assert summary["notebooks_per_minute"] == pytest.approx(60 * (4 - saved) / summary["seconds"], rel=0.01)


STALL_CELL = "import time\ntime.sleep(1.9)"
STALL_ANSWERS = """
import functools, time
def _slow(func):
    @functools.wraps(func)
    def slow(*args, **kwargs):
        time.sleep(9.5)  # just under the 10 s a check gives one call
        return func(*args, **kwargs)
    return slow
for _name in ["weighted_sum", "perceptron_update", "train_perceptron", "averaged_perceptron", "count_updates",
              "multiclass_perceptron", "perceptron_criterion"]:
    globals()[_name] = _slow(globals()[_name])
"""


@needs_sandbox
@pytest.mark.slow
def test_a_notebook_that_stalls_while_passing_is_bounded_and_flagged(tmp_path, monkeypatch):
    """Right answers that sleep just under each call's limit, and cells that sleep just under the
    cell limit: the notebook costs its budgets (from the reference's own times), not the sum of
    every limit; the answers the budget leaves unjudged fail, and the report says why."""
    from course_utils.grading import judge

    for name, value in (("CELLS_FACTOR", 1.0), ("CELLS_FLOOR", 8.0), ("BUDGET_FACTOR", 1.0),
                        ("BUDGET_FLOOR", 8.0)):
        monkeypatch.setattr(judge, name, value)
    nb = _with_cell(_solution(), STALL_ANSWERS, at=-1)
    for _ in range(8):
        nb = _with_cell(nb, STALL_CELL, at=-1)
    (tmp_path / "staller").mkdir()
    nbformat.write(nb, tmp_path / "staller" / "00-perceptron.ipynb")
    report = grading.grade([tmp_path / "staller"], tmp_path / "out" / "r", progress=False, cell_timeout=2)
    [staller] = report["submissions"]
    limits = staller["budget"]
    assert limits["cells"] <= 20 and limits["judging"] <= 20, limits
    assert staller["cells"]["not_run"] >= 1 and any("cells not run" in n for n in staller["notes"])
    statuses = [r["status"] for r in staller["results"]]
    assert "pass" not in statuses[1:] and statuses.count("fail") >= len(EXERCISES) - 1
    assert any("not judged" in r["message"] for r in staller["results"])
    assert staller["seconds"] <= limits["cells"] + limits["judging"] + 60, staller["seconds"]
    feedback = next((tmp_path / "out" / "r-feedback").glob("staller-*.md")).read_text()
    assert "not judged" in feedback


def test_the_grading_page_states_the_time_a_notebook_can_cost_at_the_defaults():
    from course_utils.grading import batch, judge
    from course_utils.grading.contracts import Job, Options

    fast_reference = {"cells": judge.CELLS_FLOOR / judge.CELLS_FACTOR, "judging": 1.0}
    limits = batch.budgets(Options(), Job("x", "x", "00", exercises=tuple(EXERCISES), budget=fast_reference))
    assert limits == {"cells": judge.CELLS_FLOOR, "judging": judge.BUDGET_FLOOR, "check": Options().check_timeout}
    page = (ROOT / "book" / "grading.md").read_text()
    stalled = limits["cells"] + limits["judging"]
    assert f"{stalled:.0f} s" in page, "the cost of a notebook that stalls while passing"
    assert f"{batch.worst_case_seconds(limits):.0f} s" in page, "the hard bound"
    unknown = batch.budgets(Options(), Job("x", "x", "00", exercises=tuple(EXERCISES)))
    assert f"{batch.worst_case_seconds(unknown):.0f} s" in page, "the hard bound without a reference"
