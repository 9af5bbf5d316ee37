"""Trusted judging (course_utils.grading.judge), with an in-process stand-in for the sandbox."""

from __future__ import annotations

import json

import numpy as np
import pytest

from course_utils.checks import core
from course_utils.grading import judge
from course_utils.grading.agent import wire
from course_utils.grading.agent.answers import Answers


class InProcessChannel:
    """Stands for the sandbox: requests go straight to an Answers object, through JSON."""

    def __init__(self, namespace):
        self.answers = Answers(namespace)
        self.seen = []

    def request(self, op, timeout, **fields):
        self.seen.append((op, fields))
        return json.loads(self.answers.handle(json.dumps({"op": op, "timeout": timeout, **fields})))

    def busy(self):
        return False


def _weighted_sum(X, w, b):
    return np.asarray(X) @ np.asarray(w) + b


def test_judge_passes_a_right_answer_and_names_a_mistake():
    channel = InProcessChannel({"weighted_sum": _weighted_sum,
                                "perceptron_update": lambda w, b, x, y, lr: (w, b)})
    right = judge.judge_exercise(channel, "00.weighted_sum", 30)
    assert right.status == "pass" and right.judged == "grader" and right.message.startswith("passed")
    wrong = judge.judge_exercise(channel, "00.perceptron_update", 30)
    assert wrong.status == "fail" and "trial" in wrong.message
    missing = judge.judge_exercise(InProcessChannel({}), "00.weighted_sum", 30)
    assert missing.status == "fail" and "is not defined" in missing.message


def test_judge_sees_changes_in_place_as_the_check_did():
    def update(w, b, x, y, lr):
        w += lr * (y - int(x @ w + b >= 0)) * x
        return w, b + lr * (y - int(x @ w + b >= 0))

    result = judge.judge_exercise(InProcessChannel({"perceptron_update": update}), "00.perceptron_update", 30)
    assert result.status == "fail" and "in place" in result.message


def test_a_function_an_answer_returns_is_called_in_the_sandbox():
    def fit(x, y, n):
        return lambda grid: np.asarray(grid) * 0 + n

    channel = InProcessChannel({"fit": fit})
    proxy = judge.Proxy(channel, "fit", deadline=float("inf"))
    predict = proxy(np.ones(3), np.ones(3), 7)
    assert isinstance(predict, judge.Proxy) and np.array_equal(predict(np.zeros(2)), [7, 7])
    assert channel.seen[-1][1]["target"].startswith("#function")
    with pytest.raises(ValueError):
        wire.decode({"__handle__": 0})


def test_an_answer_cannot_find_the_reference_on_the_stack():
    def peek(X, w, b):
        import inspect

        for frame in inspect.stack():
            for name, value in frame.frame.f_locals.items():
                if name in ("expected", "reference") and value is not None:
                    return value
        return 0.0

    # in-process, only the kernel's own frames are on the stack: the check's are in another process
    result = judge.judge_exercise(InProcessChannel({"weighted_sum": peek}), "00.weighted_sum", 30)
    assert result.status == "fail"


def test_the_secret_changes_the_inputs_but_not_the_verdict():
    seen = {}

    def recording(X, w, b):
        seen.setdefault(core._SECRET[0], []).append(np.asarray(X).tolist())
        return _weighted_sum(X, w, b)

    try:
        for secret in (None, 12345, 67890):
            core.set_secret(secret)
            assert judge.judge_exercise(InProcessChannel({"weighted_sum": recording}), "00.weighted_sum",
                                        30).status == "pass"
    finally:
        core.set_secret(None)
    assert seen[None][0] == seen[12345][0], "the worked example stays"
    assert seen[None][1:] != seen[12345][1:] != seen[67890][1:], "random cases follow the secret"


def test_remote_exceptions_keep_the_types_checks_know():
    assert type(judge.remote_exception({"type": "NotImplementedError"})) is NotImplementedError
    odd = judge.remote_exception({"type": "E" * 5000 + "!", "message": "m", "where": " at line 1"})
    assert isinstance(odd, Exception) and len(type(odd).__name__) == 100 and str(odd) == "m at line 1"
    assert not isinstance(judge.remote_exception({"type": "SystemExit"}), SystemExit)
    assert not isinstance(judge.remote_exception({"type": "CheckFailed"}), core.CheckFailed)


def test_answers_that_are_not_plain_data_are_declared_on_their_checks():
    from course_utils.checks import REGISTRY

    in_sandbox = {k for k, chk in REGISTRY.items() if not chk.plain_data}
    assert in_sandbox and len(REGISTRY) - len(in_sandbox) >= 40
