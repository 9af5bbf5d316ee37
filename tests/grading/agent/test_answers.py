"""The grader's helper inside the learner's kernel (course_utils.grading.agent.answers), without a kernel."""

from __future__ import annotations

import json

import numpy as np

from course_utils.grading.agent import wire
from course_utils.grading.agent.answers import Answers


def _ask(answers, **request):
    return json.loads(answers.handle(json.dumps(request)))


def _call(answers, target, *args, observe=None, **kwargs):
    request = {"op": "call", "target": target, "args": wire.encode(list(args)), "kwargs": wire.encode(kwargs)}
    if observe:
        request["observe"] = observe
    return _ask(answers, **request)


def test_answers_describe_what_a_name_holds():
    answers = Answers({"f": lambda x: x, "v": {"a": np.ones(2)}, "m": np, "stub": ...})
    assert _ask(answers, op="describe", target="nothing") == {"ok": True, "found": False}
    function = _ask(answers, op="describe", target="f")["value"]["__remote__"]
    assert function["kind"] == "function" and isinstance(function["n"], int)
    value = _ask(answers, op="describe", target="v")
    assert np.array_equal(wire.decode(value["value"])["a"], np.ones(2))
    assert _ask(answers, op="describe", target="m")["value"]["__remote__"]["kind"] == "object"
    assert wire.decode(_ask(answers, op="describe", target="stub")["value"]) is Ellipsis


def test_answers_call_reports_results_errors_and_changes_in_place():
    def shuffle_in_place(x):
        x += 1
        return x.sum()

    def broken(x):
        raise ValueError("E" * 5000)

    def leaves(x):
        raise SystemExit(3)

    answers = Answers({"f": shuffle_in_place, "g": broken, "h": leaves})
    reply = _call(answers, "f", np.zeros(3))
    assert reply["ok"] and wire.decode(reply["value"]) == 3.0
    assert np.array_equal(wire.decode(reply["changed"]["0"]), np.ones(3))
    error = _call(answers, "g", 1)["error"]
    assert error["type"] == "ValueError" and len(error["message"]) == 1000 and "line" in error["where"]
    assert _call(answers, "h", 1)["error"]["type"] == "SystemExit"
    assert _ask(answers, op="nonsense")["ok"] is False
    assert json.loads(answers.handle("not json"))["ok"] is False
    assert _call(answers, 10**6)["ok"] is False, "no such handle"


def test_a_generator_stays_in_the_kernel_and_is_advanced_there():
    answers = Answers({"gen": lambda n: (i * i for i in range(n))})
    made = _call(answers, "gen", 3)["value"]["__remote__"]
    assert made["kind"] == "generator"
    values = []
    while True:
        reply = _ask(answers, op="next", target=made["n"])
        if reply.get("stop"):
            break
        values.append(wire.decode(reply["value"]))
    assert values == [0, 1, 4]


def test_changes_in_place_are_seen_inside_dictionaries_of_arrays():
    def step(params, grads, state):
        state["v"] = state.get("v", 0) + grads
        return params - state["v"], dict(state)

    answers = Answers({"step": step})
    reply = _call(answers, "step", np.zeros(2), np.ones(2), {"v": np.ones(2)})
    assert np.array_equal(wire.decode(reply["changed"]["2"])["v"], 2 * np.ones(2))


def test_a_result_that_is_an_argument_comes_back_as_that_argument():
    answers = Answers({"same": lambda x: x})
    reply = _call(answers, "same", [np.ones(2)])
    assert reply["value"] == {"__same__": 1}, "number 0 is the list of arguments, 1 its first"


def test_callbacks_go_to_the_grader_and_their_results_come_back():
    asked = []

    def ask(message):
        asked.append(message)
        x = wire.decode(message["args"])[0]
        return {"op": "callback_reply", "ok": True, "value": wire.encode(2 * x)}

    answers = Answers({"twice_f": lambda f, x: f(x) + f(x)}, ask=ask)
    args = [{"__callback__": {"n": 7, "name": "f"}}, wire.encode(np.arange(3.0))]
    reply = _ask(answers, op="call", target="twice_f", args=args, kwargs=wire.encode({}))
    assert np.array_equal(wire.decode(reply["value"]), [0, 4, 8])
    assert [m["callback"] for m in asked] == [7, 7]


def test_the_method_behind_an_answer_is_observed_on_request():
    namespace = {}
    exec("import math\n"
         "def helper(v):\n    return v + 1\n"
         "def looped(xs):\n    total = 0\n    for x in xs:\n        total += helper(x)\n    return math.sqrt(total)\n",
         namespace)
    answers = Answers(namespace)
    observe = {"lines": True, "globals": ["helper"], "calls_into": ["math"]}
    short = _call(answers, "looped", [1.0] * 2, observe=observe)["observed"]
    long = _call(answers, "looped", [1.0] * 50, observe=observe)["observed"]
    assert short["globals"] == {"helper": 2} and long["globals"] == {"helper": 50}
    assert long["lines"] > short["lines"] + 90
    assert short["calls_into"] == "math.sqrt"
