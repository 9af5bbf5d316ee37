"""scripts/sample_class.py: a sample class of submissions, graded (a demo and a benchmark)."""

from __future__ import annotations

import importlib.util

import nbformat
import pytest

from course_utils.grading.bubblewrap import bwrap_problem
from tests.conftest import ROOT


def _script():
    spec = importlib.util.spec_from_file_location("sample_class", ROOT / "scripts" / "sample_class.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_class_mixes_answers_and_stubs_and_ends_with_hostile_learners(tmp_path):
    paths = _script().make_class("00-perceptron", tmp_path, n=10, seed=1)
    assert [p.parent.name for p in paths][-2:] == ["learner09-loop", "learner10-exit"]
    sources = ["".join(c.source for c in nbformat.read(p, as_version=4).cells) for p in paths[:8]]
    exercise = "".join(c.source for c in nbformat.read(ROOT / "exercises" / "00-perceptron.ipynb", as_version=4).cells)
    assert any("YOUR CODE HERE" in s or "YOUR ANSWER HERE" in s for s in sources)  # the exercise's stubs
    assert exercise not in sources and len(set(sources)) > 1, "answers mixed, learner by learner"


@pytest.mark.slow
@pytest.mark.skipif(bool(bwrap_problem()), reason="no sandbox here")
def test_the_class_is_graded_and_summarised(tmp_path, capsys):
    assert _script().main(["--out", str(tmp_path), "--n", "3", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 notebooks (3 graded in" in out and f"report: {tmp_path / 'report.csv'}" in out
    assert "throughput:" in out and "load average" in out


def test_a_class_of_solutions_has_no_stub_and_no_hostile_learner(tmp_path):
    paths = _script().make_class("00-perceptron", tmp_path, n=6, seed=1, kind="solution")
    solution = nbformat.read(ROOT / "solutions" / "00-perceptron.ipynb", as_version=4)
    assert all(nbformat.read(p, as_version=4).cells == solution.cells for p in paths)
    assert all(p.parent.name.startswith("learner") and "-" not in p.parent.name for p in paths)
