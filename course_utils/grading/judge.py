"""Trusted judging (grading, book/grading.md): the checks run in the grader's process.

For each exercise the check of the installed package runs here, on a stand-in for the
learner's answer: a value the notebook defined is fetched once as plain data; a function
becomes a :class:`Proxy` whose calls send their arguments to the sandbox as plain data
(:mod:`.wire`) and bring the result back the same way. The learner's code never sees the
check, the reference or the comparison, and the random inputs are salted with a secret
drawn for the batch (:func:`course_utils.checks.core.set_secret`).

Answers that cannot travel as plain data (PyTorch and Keras models, classes, functions that
take callbacks) are judged by the check inside the sandbox instead (``judged: sandbox``): their
checks say so when they register (``plain_data=False``). That path is weaker: a hostile
notebook can fake its result there; the report says which path each verdict took.
"""

from __future__ import annotations

import builtins
import re
import time

import numpy as np

from course_utils.grading.agent import wire
from course_utils.grading.agent.answers import HANDLE_PREFIX
from course_utils.grading.agent.job import cap
from course_utils.grading.contracts import ExerciseResult
from course_utils.grading.sandbox import AgentLink, SandboxError

# Any other exercise whose check turns out to hand the answer something the proxy cannot carry
# (NeedsSandbox) is judged in the sandbox too, after every verdict reached here.
SAFE_EXCEPTIONS = {name: getattr(builtins, name) for name in (
    "ArithmeticError", "AssertionError", "AttributeError", "EOFError", "FloatingPointError", "IndexError",
    "KeyError", "LookupError", "MemoryError", "NameError", "NotImplementedError", "OverflowError",
    "RecursionError", "RuntimeError", "TypeError", "UnboundLocalError", "ValueError", "ZeroDivisionError")}


class NeedsSandbox(BaseException):
    """A check passed something that cannot travel as plain data (its registration should
    say ``plain_data=False``). A BaseException, so no check swallows it."""


class KernelLost(BaseException):
    """The sandbox died or hung while an answer was being judged."""


def remote_exception(info: dict) -> Exception:
    """An exception standing for the one the learner's code raised in the sandbox: the
    builtin of that name for the ones checks treat specially, else a new class of that name."""
    name = str(info.get("type", "Error"))
    name = re.sub(r"\W", "_", name)[:100] or "Error"
    if name[0].isdigit():
        name = "_" + name
    message = cap(info.get("message", ""), 1000) + cap(info.get("where", ""), 300)
    cls = SAFE_EXCEPTIONS.get(name) or type(name, (Exception,), {"__module__": "learner"})
    return cls(message)


def _opaque(type_name: str):
    """A stand-in for a value that is not plain data, with the type name of the original."""
    name = re.sub(r"\W", "_", str(type_name))[:100] or "object"
    return type(name, (), {"__module__": "learner", "__repr__": lambda self: f"<a {name}>"})()


def _write_back(original, new) -> None:
    """Apply an in-place change the learner's function made to an argument, so that the
    check sees it as before (``call`` reports such changes)."""
    try:
        if isinstance(original, np.random.Generator) and isinstance(new, np.random.Generator):
            original.bit_generator.state = new.bit_generator.state
        elif isinstance(original, np.ndarray) and isinstance(new, np.ndarray) and original.flags.writeable:
            if new.shape == original.shape:
                np.copyto(original, new, casting="unsafe")
            else:
                original.flat[:] = 0  # shape changed in place (resize): certainly not the original
        elif isinstance(original, list) and isinstance(new, list):
            original[:] = new
        elif isinstance(original, dict) and isinstance(new, dict):
            original.clear()
            original.update(new)
    except (TypeError, ValueError):
        pass


class Proxy:
    """The learner's function, called across the sandbox boundary with plain data."""

    def __init__(self, channel: AgentLink, target: str, deadline: float):
        self._channel = channel
        self._target = target
        self._deadline = deadline
        self.__name__ = target
        self.__qualname__ = target

    def __repr__(self):
        return f"<your function {self._target}>"

    def _returned(self, number: int) -> Proxy:
        """A function the answer returned: called, like the answer, in the sandbox."""
        proxy = Proxy(self._channel, f"{HANDLE_PREFIX}{number}", self._deadline)
        proxy.__name__ = proxy.__qualname__ = f"the function {self._target} returned"
        return proxy

    def __call__(self, *args, **kwargs):
        try:
            payload = {"args": wire.encode(list(args)), "kwargs": wire.encode(dict(kwargs))}
        except wire.Uncarriable as err:
            raise NeedsSandbox(f"the check passed {err} to `{self._target}`") from None
        timeout = max(1.0, self._deadline - time.monotonic())
        try:
            reply = self._channel.request("call", timeout, target=self._target, **payload)
        except SandboxError as err:
            raise KernelLost(str(err)) from None
        if not reply.get("ok"):
            error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            if error.get("type") in ("KernelDied", "NotReady"):
                raise KernelLost(cap(error.get("message", "the kernel died"), 200))
            if error.get("type") == "Timeout":
                raise KernelLost("the kernel hung")
            raise remote_exception(error)
        try:
            value = wire.decode(reply.get("value"), handle=self._returned)
            changed = reply.get("changed") or {}
            for index, data in (changed.items() if isinstance(changed, dict) else ()):
                if str(index).isdigit() and int(index) < len(args):
                    _write_back(args[int(index)], wire.decode(data))
        except (ValueError, TypeError) as err:
            raise remote_exception({"type": "UnreadableResult", "message": f"the result was not plain data "
                                    f"({cap(err, 100)})"}) from None
        return value


def judge_exercise(channel: AgentLink, exercise_id: str, check_timeout: float,
                   in_sandbox: bool | None = None) -> ExerciseResult:
    """The verdict on one exercise, reached here or, for a check registered with
    ``plain_data=False`` (or ``in_sandbox``), in the sandbox. Raises :class:`NeedsSandbox` when
    the check needs the sandbox after all."""
    from course_utils.checks import REGISTRY, CheckFailed

    chk = REGISTRY[exercise_id]
    sandboxed = not chk.plain_data if in_sandbox is None else in_sandbox
    start = time.perf_counter()
    deadline = time.monotonic() + check_timeout
    result = ExerciseResult(exercise_id, judged="sandbox" if sandboxed else "grader")
    try:
        if sandboxed:
            reply = channel.request("check", check_timeout, exercise=exercise_id, target=chk.target)
            if not reply.get("ok"):
                error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
                raise KernelLost(cap(error.get("message") or error.get("type", "no answer"), 200))
            status = reply.get("status") if reply.get("status") in ("pass", "fail", "error") else "error"
            result.status, result.message = status, cap(reply.get("message", ""))
            return result
        described = channel.request("describe", min(check_timeout, 30), target=chk.target)
        kind = described.get("kind") if described.get("ok") else None
        if kind is None:
            raise KernelLost(cap((described.get("error") or {}).get("message", "no answer"), 200))
        if kind == "missing":
            result.status = "fail"
            result.message = (f"`{chk.target}` is not defined in the notebook: did the cell that defines it "
                              "fail, or was it renamed?")
            return result
        if kind == "callable":
            answer = Proxy(channel, chk.target, deadline)
        elif kind == "value":
            answer = wire.decode(described.get("value"))
        else:
            answer = _opaque(described.get("type", "object"))
        result.message = _run_check(chk, answer, check_timeout)
        result.status = "pass"
    except CheckFailed as err:
        text = str(err)
        prefix = exercise_id + ": "
        result.status, result.message = "fail", text[len(prefix):] if text.startswith(prefix) else text
    except KernelLost as err:
        result.message = f"not graded: {err} while grading {exercise_id}"
        raise KernelLost(result.message) from None
    except (SandboxError, ValueError) as err:
        result.message = f"not graded: {cap(err, 200)} while grading {exercise_id}"
        raise KernelLost(result.message) from None
    finally:
        result.seconds = round(time.perf_counter() - start, 3)
        result.message = cap(result.message)
    return result


def _run_check(chk, answer, timeout: float) -> str:
    """Run a check with an overall time limit (its calls of the answer have their own), in a
    thread of its own: a check that never returns is abandoned, not waited for."""
    from course_utils.checks.core import TimeUp, run_limited

    try:
        return run_limited(chk.verdict, (answer,), seconds=timeout + 10, thread=True)
    except TimeUp:
        raise KernelLost(f"the check did not finish within {timeout:g} s") from None


def _send_checks(channel: AgentLink, exercise_id: str, timeout: float) -> None:
    """Give the sandbox the source of the chapter's checks (the weaker path only)."""
    import inspect
    import sys

    from course_utils.checks import REGISTRY

    chk = REGISTRY[exercise_id]
    module = sys.modules[chk.func.__module__]
    reply = channel.request("load", timeout, module=module.__name__, chapter=chk.chapter,
                            source=inspect.getsource(module))
    if not reply.get("ok"):
        error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
        raise KernelLost(cap(f"the checks could not be loaded in the kernel ({error.get('type', '')}: "
                             f"{error.get('message', '')})", 300))


def judge_all(channel: AgentLink, exercises, check_timeout: float) -> list[ExerciseResult]:
    """Every exercise of a notebook: first those judged here, then (their checks sent only
    now) those judged in the sandbox; once the kernel is lost the rest are errors."""
    results = {}
    lost = ""
    loaded = False
    from course_utils.checks import REGISTRY

    in_sandbox = {ex: not REGISTRY[ex].plain_data for ex in exercises}
    queue = [(ex, in_sandbox[ex]) for ex in sorted(exercises, key=in_sandbox.get)]
    while queue:
        exercise_id, sandboxed = queue.pop(0)
        if lost:
            results[exercise_id] = ExerciseResult(exercise_id, message=lost)
            continue
        try:
            if sandboxed and not loaded:
                _send_checks(channel, exercise_id, check_timeout)
                loaded = True
            results[exercise_id] = judge_exercise(channel, exercise_id, check_timeout, in_sandbox=sandboxed)
        except NeedsSandbox:
            queue.append((exercise_id, True))  # judged in the sandbox, after the others
            continue
        except KernelLost as err:
            lost = str(err)
            results[exercise_id] = ExerciseResult(exercise_id, message=lost)
            continue
        if channel.busy():  # a call the check gave up on (a time-out) is still running
            channel.send({"op": "interrupt"})
            if not channel.wait_idle(5):
                lost = f"not graded: the kernel hung while grading {exercise_id}"
    return [results[ex] for ex in exercises]
