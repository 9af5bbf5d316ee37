"""Every registered check, of every chapter, fails with CheckFailed on a stub or a broken answer.

The check functions are called directly (not through the ``Check`` wrapper, which would turn
a crash into a generic "could not use your answer"), so a check that crashes on bad input
fails here with the exception it raised.
"""

from __future__ import annotations

import time

import pytest

from course_utils.checks import REGISTRY, CheckFailed, core


def _not_implemented(*args, **kwargs):
    raise NotImplementedError("exercise")


def _sleeps_forever(*args, **kwargs):
    time.sleep(3600)


BAD_ANSWERS = {
    "None": None,
    "Ellipsis": ...,
    "int": 3,
    "not_implemented": _not_implemented,
    "sleeps_forever": _sleeps_forever,
}


@pytest.fixture
def short_time_limit(monkeypatch):
    monkeypatch.setattr(core, "TIME_LIMIT_CAP", 0.2)


@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
def test_check_fails_cleanly_on_bad_answer(exercise_id, kind, short_time_limit):
    check = REGISTRY[exercise_id]
    start = time.perf_counter()
    try:
        check.func(BAD_ANSWERS[kind])
    except CheckFailed as err:
        assert str(err).strip(), f"{exercise_id} failed with an empty message on {kind}"
    except BaseException as err:  # any other exception is the bug we look for
        pytest.fail(f"{exercise_id} crashed on {kind}: {type(err).__name__}: {err}")
    else:
        pytest.fail(f"{exercise_id} accepted {kind}")
    # generous: the first check of a chapter may import torch or keras
    assert time.perf_counter() - start < 60, f"{exercise_id} took too long on {kind}"


def test_time_limit_cap_applies_to_explicit_limits(short_time_limit):
    start = time.perf_counter()
    with pytest.raises(CheckFailed, match="did not finish within 0.2 s"):
        core.call(_sleeps_forever, 1, time_limit=20)
    assert time.perf_counter() - start < 3


def test_default_time_limit_is_read_at_call_time(monkeypatch):
    monkeypatch.setattr(core, "DEFAULT_TIME_LIMIT", 0.1)
    with pytest.raises(CheckFailed, match="did not finish within 0.1 s"):
        core.call(_sleeps_forever, 1)
