"""Trusted judging (course_utils.grading.judge, .remote), with an in-process stand-in for the sandbox."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import core
from course_utils.grading import judge, remote
from course_utils.grading.agent import wire
from tests.grading.inprocess import InProcessLink


def _weighted_sum(X, w, b):
    return np.asarray(X) @ np.asarray(w) + b


def _session(namespace):
    return remote.Session(InProcessLink(namespace))


def _answer(namespace, target):
    found, value = remote.describe_answer(_session(namespace), target)
    assert found
    return value


def test_judge_passes_a_right_answer_and_names_a_mistake():
    link = InProcessLink({"weighted_sum": _weighted_sum, "perceptron_update": lambda w, b, x, y, lr: (w, b)})
    right = judge.judge_exercise(link, "00.weighted_sum", 30)
    assert right.status == "pass" and right.judged == "grader" and right.message.startswith("passed")
    wrong = judge.judge_exercise(link, "00.perceptron_update", 30)
    assert wrong.status == "fail" and "trial" in wrong.message
    missing = judge.judge_exercise(InProcessLink({}), "00.weighted_sum", 30)
    assert missing.status == "fail" and "is not defined" in missing.message


def test_judge_sees_changes_in_place_as_the_check_did():
    def update(w, b, x, y, lr):
        w += lr * (y - int(x @ w + b >= 0)) * x
        return w, b + lr * (y - int(x @ w + b >= 0))

    result = judge.judge_exercise(InProcessLink({"perceptron_update": update}), "00.perceptron_update", 30)
    assert result.status == "fail" and "in place" in result.message


def test_a_function_an_answer_returns_is_called_in_the_sandbox():
    link = InProcessLink({"fit": lambda x, y, n: (lambda grid: np.asarray(grid) * 0 + n)})
    fit = remote.describe_answer(remote.Session(link), "fit")[1]
    predict = fit(np.ones(3), np.ones(3), 7)
    assert isinstance(predict, remote.Proxy) and np.array_equal(predict(np.zeros(2)), [7, 7])
    with pytest.raises(ValueError):
        wire.decode({"__remote__": {"n": 0, "kind": "function"}})  # no hook on this side: refused


def test_a_function_the_check_hands_the_answer_runs_in_the_grader():
    seen = []

    def objective(v):
        seen.append(float(v))
        return (v - 3.0) ** 2

    def minimise(f, x0, steps):
        x = x0
        for _ in range(steps):
            x = x - 0.25 * (f(x + 1e-6) - f(x - 1e-6)) / 2e-6
        return x

    minimise = _answer({"minimise": minimise}, "minimise")
    assert abs(minimise(objective, 0.0, 40) - 3.0) < 1e-6 and len(seen) == 80


def test_classes_objects_and_generators_of_the_notebook_stand_in_here():
    namespace = {}
    exec("class Value:\n"
         "    def __init__(self, data):\n        self.data = data\n"
         "    def __add__(self, other):\n"
         "        return Value(self.data + (other.data if isinstance(other, Value) else other))\n"
         "    __radd__ = __add__\n"
         "    def double(self):\n        return Value(2 * self.data)\n"
         "def count(n):\n    yield from range(n)\n", namespace)
    session = _session(namespace)
    Value = remote.describe_answer(session, "Value")[1]
    assert isinstance(Value, type) and Value.__name__ == "Value"
    total = 1 + Value(2) + Value(3)
    assert isinstance(total, Value) and total.data == 6 and total.double().data == 12
    count = remote.describe_answer(session, "count")[1]
    import inspect

    made = count(4)
    assert inspect.isgenerator(made) and list(made) == [0, 1, 2, 3]


def test_a_check_observes_the_method_in_the_sandbox():
    namespace = {}
    exec("import math\ndef rooted(x):\n    return [math.sqrt(v) for v in x]\n", namespace)
    rooted = _answer(namespace, "rooted")
    watch = core.calls_into(rooted, ("math",))
    assert watch.observed and watch.func([4.0]) == [2.0] and watch.seen == "math.sqrt"
    with core.learner_lines(rooted) as lines:
        lines.func([1.0] * 30)
    assert lines.count >= 30


class LyingLink(InProcessLink):
    """A notebook whose kernel describes its modules truly but answers their forward calls
    with something else (a hostile notebook can rewrite the grader's helper in its kernel)."""

    def request(self, op, timeout, on_callback=None, **fields):
        reply = super().request(op, timeout, on_callback, **fields)
        value = reply.get("value")
        if op == "call" and isinstance(fields.get("target"), int) and isinstance(value, dict) \
                and "__tensor__" in value:
            array = wire.decode(value["__tensor__"]["array"] and {"__ndarray__": value["__tensor__"]["array"]})
            value["__tensor__"]["array"] = wire.encode(array + 1)["__ndarray__"]
        return reply


def test_a_model_the_notebook_describes_is_rebuilt_and_checked_against_its_own_forward():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    got = remote.describe_answer(_session({"model": model}), "model")[1]
    assert isinstance(got, torch.nn.Sequential) and type(got).__name__ == "Sequential"
    x = torch.randn(4, 3)
    assert torch.allclose(got(x), model(x))
    lied = remote.describe_answer(remote.Session(LyingLink({"model": model})), "model")[1]
    with pytest.raises(remote.Untrue):
        lied(x)


def test_a_description_that_lies_fails_the_exercise():
    torch = pytest.importorskip("torch")

    def numpy_to_linear(W, b):
        layer = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(W.T))
            layer.bias.copy_(torch.as_tensor(b))
        return layer

    assert judge.judge_exercise(InProcessLink({"numpy_to_linear": numpy_to_linear}), "06.numpy_to_linear",
                                60).status == "pass"
    lied = judge.judge_exercise(LyingLink({"numpy_to_linear": numpy_to_linear}), "06.numpy_to_linear", 60)
    assert lied.status == "fail" and "does not compute what" in lied.message


def test_the_secret_changes_the_inputs_but_not_the_verdict():
    seen = {}

    def recording(X, w, b):
        seen.setdefault(core._SECRET[0], []).append(np.asarray(X).tolist())
        return _weighted_sum(X, w, b)

    try:
        for secret in (None, 12345, 67890):
            core.set_secret(secret)
            assert judge.judge_exercise(InProcessLink({"weighted_sum": recording}), "00.weighted_sum",
                                        30).status == "pass"
    finally:
        core.set_secret(None)
    assert seen[None][0] == seen[12345][0], "the worked example stays"
    assert seen[None][1:] != seen[12345][1:] != seen[67890][1:], "random cases follow the secret"


def test_remote_exceptions_keep_the_types_checks_know():
    assert type(remote.remote_exception({"type": "NotImplementedError"})) is NotImplementedError
    odd = remote.remote_exception({"type": "E" * 5000 + "!", "message": "m", "where": " at line 1"})
    assert isinstance(odd, Exception) and len(type(odd).__name__) == 100 and str(odd) == "m at line 1"
    assert not isinstance(remote.remote_exception({"type": "SystemExit"}), SystemExit)
    assert not isinstance(remote.remote_exception({"type": "CheckFailed"}), core.CheckFailed)


def test_what_the_grader_cannot_send_is_its_own_error_not_the_learners_failure():
    import threading

    result = judge.judge_exercise(InProcessLink({"weighted_sum": _weighted_sum}), "00.weighted_sum", 30)
    assert result.status == "pass"
    session = _session({"f": lambda x: x})
    f = remote.describe_answer(session, "f")[1]
    with pytest.raises(remote.CannotSend):
        f(threading.Lock())


def test_the_judging_budget_is_a_multiple_of_the_references_time_with_a_floor():
    assert judge.budget(None) == judge.BUDGET_FLOOR == judge.budget(0.5)
    assert judge.budget(100.0) == 100.0 * judge.BUDGET_FACTOR
    assert judge.slow_note(0.3, 0.1) == "" and judge.slow_note(30.0, None) == ""
    assert "reference solution 0.10 s" in judge.slow_note(30.0, 0.1)


def test_a_notebook_that_spends_its_budget_gets_the_rest_unjudged_and_flagged_slow():
    import time

    def slow_sum(X, w, b):
        time.sleep(0.35)
        return _weighted_sum(X, w, b)

    link = InProcessLink({"weighted_sum": slow_sum, "perceptron_update": lambda *a: None})
    results = judge.judge_all(link, ["00.weighted_sum", "00.perceptron_update"], 30, notebook_budget=2.0,
                              reference={"00.weighted_sum": 0.01})
    first, second = results
    assert first.status == "fail" and "did not finish within 2 s" in first.message
    assert second.status == "fail" and "not judged" in second.message
    link = InProcessLink({"weighted_sum": slow_sum})
    [result] = judge.judge_all(link, ["00.weighted_sum"], 60, notebook_budget=60.0,
                               reference={"00.weighted_sum": 0.01})
    assert result.status == "pass" and "reference solution" in result.slow
