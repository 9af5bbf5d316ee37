"""Trusted judging (grading, book/grading.md): every check runs in the grader's process.

For each exercise the check of the installed package runs here on the stand-in of what the
notebook defined under the check's target (:mod:`.remote`): values are fetched as plain data,
functions, classes and objects are called in the sandbox, models are rebuilt here and
compared with the notebook's, and what the check hands the answer (arrays, its models, its
functions as callbacks) is sent there. The learner's code never sees the check, the reference
or the comparison, and the random inputs are salted with a secret drawn for the batch
(:func:`course_utils.checks.core.salted`). There is no other path.

Judging a notebook has a budget of time (:func:`budget`): a multiple of the time the
reference solution's judging took, with a floor. An exercise whose judging takes much longer
than the reference's is flagged ``slow``; once the budget is spent, the exercises left fail
without being judged.
"""

from __future__ import annotations

import time

from course_utils.grading.agent.job import cap
from course_utils.grading.contracts import ExerciseResult
from course_utils.grading.remote import CannotSend, KernelLost, Session, Untrue, describe_answer
from course_utils.grading.sandbox import AgentLink, SandboxError

BUDGET_FACTOR = 10.0  # a notebook's judging may take this many times the reference's...
BUDGET_FLOOR = 60.0  # ...or this many seconds, whichever is more
CELLS_FACTOR = 10.0  # its cells, this many times the reference's cells...
CELLS_FLOOR = 120.0  # ...or this many seconds (never more than --total-timeout)
SLOW_FACTOR = 5.0  # an exercise is flagged slow above this many times the reference's time...
SLOW_FLOOR = 2.0  # ...and this many seconds


class CheckTimeUp(Exception):
    """A check did not finish within the time it was given."""


def budget(reference_seconds: float | None) -> float:
    """The judging budget of one notebook, from the reference's judging time (None: unknown)."""
    return max(BUDGET_FLOOR, BUDGET_FACTOR * (reference_seconds or 0.0))


def slow_note(seconds: float, reference: float | None) -> str:
    """``"12.3 s; the reference 0.40 s"`` when an exercise took much longer than the reference's."""
    if reference is None or seconds <= max(SLOW_FLOOR, SLOW_FACTOR * reference):
        return ""
    return f"{seconds:.1f} s to judge; the reference solution {reference:.2f} s"


def judge_exercise(link: AgentLink, exercise_id: str, check_timeout: float) -> ExerciseResult:
    """The verdict on one exercise, reached here. Raises :class:`KernelLost` when the sandbox
    is lost, :class:`CheckTimeUp` when the check runs out of time."""
    from course_utils.checks import REGISTRY, CheckFailed

    chk = REGISTRY[exercise_id]
    start = time.perf_counter()
    session = Session(link, time.monotonic() + check_timeout)
    result = ExerciseResult(exercise_id, judged="grader")
    try:
        found, answer = describe_answer(session, chk.target)
        if not found:
            result.status = "fail"
            result.message = (f"`{chk.target}` is not defined in the notebook: did the cell that defines it "
                              "fail, or was it renamed?")
            return result
        result.message = _run_check(chk, answer, check_timeout)
        result.status = "pass"
    except CheckFailed as err:
        text = str(err)
        prefix = exercise_id + ": "
        result.status, result.message = "fail", text[len(prefix):] if text.startswith(prefix) else text
    except Untrue as err:
        result.status, result.message = "fail", f"{err}."
    except CannotSend as err:
        result.message = f"not graded: {cap(err, 300)} (a gap in the grader, not in your answer)"
    except CheckTimeUp:
        result.status = "fail"
        result.message = (f"judging did not finish within {check_timeout:g} s: your answers take far longer "
                          "than they should (a loop that never ends, or a very slow one?)")
    except KernelLost as err:
        result.message = f"not graded: {err} while grading {exercise_id}"
        raise KernelLost(result.message) from None
    except (SandboxError, ValueError) as err:
        result.message = f"not graded: {cap(err, 200)} while grading {exercise_id}"
        raise KernelLost(result.message) from None
    finally:
        session.cancelled = True  # a call the check gave up on may not go on
        result.seconds = round(time.perf_counter() - start, 3)
        result.message = cap(result.message)
    return result


def _run_check(chk, answer, timeout: float) -> str:
    """Run a check with an overall time limit (its calls of the answer have their own), in a
    thread of its own: a check that never returns is abandoned, not waited for."""
    from course_utils.checks.core import TimeUp, run_limited

    try:
        return run_limited(chk.verdict, (answer,), seconds=timeout, thread=True)
    except TimeUp:
        raise CheckTimeUp() from None


def judge_all(link: AgentLink, exercises, check_timeout: float, notebook_budget: float | None = None,
              reference: dict | None = None) -> list[ExerciseResult]:
    """Every exercise of a notebook, within ``notebook_budget`` seconds in all; once the
    kernel is lost the rest are errors, once the budget is spent they fail unjudged."""
    results = {}
    lost = ""
    spent = 0.0
    reference = reference or {}
    for exercise_id in exercises:
        if lost:
            results[exercise_id] = ExerciseResult(exercise_id, message=lost, judged="grader")
            continue
        left = (notebook_budget - spent) if notebook_budget is not None else check_timeout
        if left < 1.0:
            results[exercise_id] = ExerciseResult(
                exercise_id, status="fail", judged="grader",
                message=f"not judged: judging this notebook may take {notebook_budget:.0f} s in all (a multiple of "
                        "the reference solution's time), and the answers above used it up")
            continue
        try:
            result = judge_exercise(link, exercise_id, min(check_timeout, left))
        except KernelLost as err:
            lost = str(err)
            results[exercise_id] = ExerciseResult(exercise_id, message=lost, judged="grader")
            continue
        spent += result.seconds
        result.slow = slow_note(result.seconds, reference.get(exercise_id))
        results[exercise_id] = result
        if link.busy():  # a call the check gave up on (a time-out) is still running
            link.send({"op": "interrupt"})
            if not link.wait_idle(5):
                lost = f"not graded: the kernel hung while grading {exercise_id}"
    return [results[ex] for ex in exercises]
