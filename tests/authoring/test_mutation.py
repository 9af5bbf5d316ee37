"""Mutation testing of the checks (``python -m course_utils mutate``): the operators, a sampled
run of one chapter, and the committed report."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from course_utils.authoring import mutation
from course_utils.checks import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
TINY = '''def f(x, y, w, model):
    # BEGIN SOLUTION
    if x > 0:
        total = x
        total = total + y
        return sum(p for p in model if p.ok)
    out = np.sum(x.T * w, axis=1, keepdims=True)
    for _ in range(3):
        out[0, 1] = -out[1, 0]
    return out, {"a": x, "b": y}, [x, y]
    # END SOLUTION
'''
LINES = set(range(3, 11))


def _mutants():
    return [(m["operator"], m["before"], m["after"]) for m in mutation.mutants_of(TINY, LINES)]


@pytest.mark.parametrize("operator,before,after", [
    ("swap operator", "total + y", "total - y"),
    ("swap operator", "x.T * w", "x.T / w"),
    ("drop term", "total + y", "total"),
    ("move edge", "x > 0", "x >= 0"),
    ("negate condition", "if x > 0:", "if not x > 0:"),
    ("change constant", "0", "1"),
    ("change constant", "True", "False"),
    ("move bound", "range(3)", "range(3 + 1)"),
    ("swap index", "out[0, 1]", "out[1, 0]"),
    ("change axis", "np.sum(x.T * w, axis=1, keepdims=True)", "np.sum(x.T * w, axis=0, keepdims=True)"),
    ("drop keyword", "np.sum(x.T * w, axis=1, keepdims=True)", "np.sum(x.T * w, keepdims=True)"),
    ("drop .T", "x.T", "x"),
    ("drop minus", "-out[1, 0]", "out[1, 0]"),
    ("make in place", "total = total + y", "total += y"),
    ("drop statement", "out[0, 1] = -out[1, 0]", "pass"),
    ("drop condition", " for p in model if p.ok", " for p in model"),
    ("swap values", "{'a': x, 'b': y}", "{'a': y, 'b': x}"),
    ("swap elements", "[x, y]", "[y, x]"),
])
def test_operators_produce_the_expected_mutants(operator, before, after):
    assert (operator, before, after) in _mutants()


def test_only_solution_lines_are_mutated_and_each_mutant_applies():
    mutants = mutation.mutants_of(TINY, {9})
    assert mutants and all(m["line"] == 9 for m in mutants)
    assert all(m["operator"] in mutation.OPERATORS for m in mutation.mutants_of(TINY, LINES))
    for index, found in enumerate(mutation.mutants_of(TINY, LINES)):
        mutated = mutation.mutate(TINY, LINES, index)
        assert mutated != mutation.mutate(TINY, LINES, -1), found  # -1 applies none
        compile(mutated, "<mutant>", "exec")


def test_solution_notebook_maps_each_check_to_its_answer_block():
    cells, exercises = mutation.read_solution(ROOT / "solutions" / "00-perceptron.md")
    ids = [e.exercise_id for e in exercises]
    assert ids == [k for k in REGISTRY if k.startswith("00.")] or sorted(ids) == sorted(
        k for k in REGISTRY if k.startswith("00."))
    for exercise in exercises:
        assert exercise.answer_cells, exercise.exercise_id
        assert max(exercise.answer_cells) < exercise.check_cell


def test_a_sample_of_chapter_00_mutants_is_killed():
    results = mutation.run_chapter(ROOT / "solutions" / "00-perceptron.md", sample=6)
    report = mutation.summarise(results, mutation.load_judged(ROOT / mutation.JUDGED))
    for exercise_id, result in report["exercises"].items():
        assert "error" not in result, result
        assert result["mutants"] == min(6, result["sites"])
        assert result["score"] >= mutation.GOAL, (exercise_id, result["survivors"])


def test_a_reference_slower_than_the_call_limit_is_still_judged(monkeypatch):
    """The reference runs under the check's own limits, its mutants under 3x its time."""
    from course_utils.checks import core

    monkeypatch.setattr(mutation, "CALL_TIME_LIMIT", 1e-6)
    results = mutation.run_chapter(ROOT / "solutions" / "00-perceptron.md",
                                   exercise_ids={"00.train_perceptron"}, sample=3)
    assert "error" not in results["00.train_perceptron"], results
    assert results["00.train_perceptron"]["killed"] == 3
    assert core.call(time.sleep, 0.05) is None, "no cap is left behind"


def test_the_command_writes_a_report(tmp_path, monkeypatch, capsys):
    from course_utils.__main__ import main

    monkeypatch.chdir(ROOT)
    out = tmp_path / "mutation.json"
    main(["mutate", "--exercise", "00.weighted_sum", "--out", str(out), "--sample", "3"])
    report = json.loads(out.read_text())
    assert report["sample"] == 3 and list(report["exercises"]) == ["00.weighted_sum"]
    assert "00.weighted_sum" in capsys.readouterr().out


# --------------------------------------------------------------------------- committed report


@pytest.fixture(scope="module")
def committed():
    return json.loads((ROOT / mutation.REPORT).read_text())


def test_committed_report_schema(committed):
    assert committed["goal"] == mutation.GOAL and committed["operators"] == list(mutation.OPERATORS)
    assert "sample" not in committed, "the committed report is a full run"
    assert set(committed["exercises"]) == set(REGISTRY), "every registered check is mutation-tested"
    totals = {}
    for exercise_id, result in committed["exercises"].items():
        assert {"chapter", "mutants", "killed", "survivors", "equivalent", "score"} <= set(result), exercise_id
        assert result["chapter"] == exercise_id[:2] and "error" not in result, exercise_id
        assert result["killed"] + len(result["survivors"]) == result["mutants"] > 0, exercise_id
        chapter = totals.setdefault(result["chapter"], [0, 0])
        chapter[0] += result["mutants"]
        chapter[1] += result["killed"]
    assert {k: [v["mutants"], v["killed"]] for k, v in committed["chapters"].items()} == totals


def test_every_check_kills_its_share_and_every_survivor_is_judged(committed):
    judged = mutation.load_judged(ROOT / mutation.JUDGED)
    for exercise_id, result in committed["exercises"].items():
        assert result["score"] >= mutation.GOAL, exercise_id
        for survivor in result["survivors"]:
            assert survivor["judged"], (exercise_id, survivor["mutant"])
            assert judged[exercise_id][survivor["mutant"]] == survivor["judged"]
    stale = [(k, m) for k, verdicts in judged.items() for m in verdicts
             if m not in {s["mutant"] for s in committed["exercises"].get(k, {}).get("survivors", [])}]
    assert not stale, f"verdicts for mutants that no longer survive: {stale}"
