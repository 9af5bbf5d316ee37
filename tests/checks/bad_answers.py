"""Answers no check may accept or crash on: every chapter's test module runs each of its checks
on each of them (the design: "a check never crashes on bad input").

The check functions are called directly (not through the ``Check`` wrapper, which would turn
a crash into a generic "could not use your answer"), so a check that crashes on bad input
fails with the exception it raised.
"""

from __future__ import annotations

import time

import pytest

from course_utils.checks import REGISTRY, CheckFailed, core


def not_implemented(*args, **kwargs):
    raise NotImplementedError("exercise")


def sleeps_forever(*args, **kwargs):
    time.sleep(3600)


BAD_ANSWERS = {
    "None": None,
    "Ellipsis": ...,
    "int": 3,
    "not_implemented": not_implemented,
    "sleeps_forever": sleeps_forever,
}
SHORT_TIME_LIMIT = 0.2  # seconds: no call of learner code gets more in these tests


def assert_fails_cleanly(exercise_id: str, kind: str) -> None:
    """The check of ``exercise_id`` rejects ``BAD_ANSWERS[kind]`` with a CheckFailed that says why."""
    check = REGISTRY[exercise_id]
    start = time.perf_counter()
    try:
        with core.time_limit_cap(SHORT_TIME_LIMIT):
            check.func(BAD_ANSWERS[kind])
    except CheckFailed as err:
        assert str(err).strip(), f"{exercise_id} failed with an empty message on {kind}"
    except BaseException as err:  # any other exception is the bug we look for
        pytest.fail(f"{exercise_id} crashed on {kind}: {type(err).__name__}: {err}")
    else:
        pytest.fail(f"{exercise_id} accepted {kind}")
    # generous: the first check of a chapter may import torch or keras
    assert time.perf_counter() - start < 60, f"{exercise_id} took too long on {kind}"
