"""The grader's helper inside the learner's kernel (course_utils.grading.agent.answers), without a kernel."""

from __future__ import annotations

import json
import sys

import numpy as np

from course_utils.grading.agent import wire
from course_utils.grading.agent.answers import Answers


def _weighted_sum(X, w, b):
    return np.asarray(X) @ np.asarray(w) + b


def _ask(answers, **request):
    return json.loads(answers.handle(json.dumps(request)))


def test_answers_describe_what_a_name_holds():
    answers = Answers({"f": lambda x: x, "v": {"a": np.ones(2)}, "m": np, "stub": ...})
    assert _ask(answers, op="describe", target="nothing") == {"ok": True, "kind": "missing"}
    assert _ask(answers, op="describe", target="f")["kind"] == "callable"
    value = _ask(answers, op="describe", target="v")
    assert value["kind"] == "value" and np.array_equal(wire.decode(value["value"])["a"], np.ones(2))
    assert _ask(answers, op="describe", target="m") == {"ok": True, "kind": "opaque", "type": "module"}
    assert wire.decode(_ask(answers, op="describe", target="stub")["value"]) is Ellipsis


def test_answers_call_reports_results_errors_and_changes_in_place():
    def shuffle_in_place(x):
        x += 1
        return x.sum()

    def broken(x):
        raise ValueError("E" * 5000)

    def leaves(x):
        raise SystemExit(3)

    answers = Answers({"f": shuffle_in_place, "g": broken, "h": leaves, "gen": lambda n: (i for i in range(n))})
    reply = _ask(answers, op="call", target="f", args=wire.encode([np.zeros(3)]), kwargs=wire.encode({}))
    assert reply["ok"] and wire.decode(reply["value"]) == 3.0
    assert np.array_equal(wire.decode(reply["changed"]["0"]), np.ones(3))
    error = _ask(answers, op="call", target="g", args=wire.encode([1]), kwargs=wire.encode({}))["error"]
    assert error["type"] == "ValueError" and len(error["message"]) == 1000 and "line" in error["where"]
    assert _ask(answers, op="call", target="h", args=wire.encode([1]), kwargs=wire.encode({}))["error"]["type"] \
        == "SystemExit"
    reply = _ask(answers, op="call", target="gen", args=wire.encode([3]), kwargs=wire.encode({}))
    assert wire.decode(reply["value"]) == [0, 1, 2]
    assert _ask(answers, op="nonsense")["ok"] is False
    assert json.loads(answers.handle("not json"))["ok"] is False


def test_changes_in_place_are_seen_inside_dictionaries_of_arrays():
    def step(params, grads, state):
        state["v"] = state.get("v", 0) + grads
        return params - state["v"], dict(state)

    answers = Answers({"step": step})
    state = {"v": np.ones(2)}
    reply = _ask(answers, op="call", target="step", args=wire.encode([np.zeros(2), np.ones(2), state]),
                 kwargs=wire.encode({}))
    assert np.array_equal(wire.decode(reply["changed"]["2"])["v"], 2 * np.ones(2))


def test_the_weaker_path_refuses_a_notebook_that_patched_numpy(monkeypatch):
    import course_utils.checks.ch00_perceptron  # noqa: F401 - registers the real check here
    from course_utils.grading.agent.answers import from_notebook

    answers = Answers({"weighted_sum": _weighted_sum})
    assert _ask(answers, op="check", exercise="00.weighted_sum", target="weighted_sum")["status"] == "pass"
    fake = eval("lambda *args, **kwargs: True")  # a function the notebook defined
    monkeypatch.setattr(np, "allclose", fake)
    assert from_notebook(fake)
    reply = _ask(answers, op="check", exercise="00.weighted_sum", target="weighted_sum")
    assert reply["status"] == "error" and "numpy.allclose" in reply["message"]


def test_the_modules_that_define_numpys_comparisons_are_watched(monkeypatch):
    """Whatever NumPy calls its internals (numpy._core on 2.x, numpy.core on 1.x), the module
    np.allclose reads its names from is scanned."""
    import inspect

    from course_utils.grading.agent.answers import tampering, watched_modules

    internals = inspect.unwrap(np.allclose).__globals__["__name__"]
    assert internals in watched_modules() and internals != "numpy"
    fake = eval("lambda *args, **kwargs: True")  # a function the notebook defined
    monkeypatch.setattr(sys.modules[internals], "isclose", fake)
    assert f"{internals}.isclose" in tampering()
