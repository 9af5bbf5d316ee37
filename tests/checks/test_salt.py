"""Salted inputs (docs/AUTHORING.md, "Salted inputs"): every check, run on its solution's answer,
draws its random inputs from its salted generator only: it leaves Python's, NumPy's and
PyTorch's global random states as it found them, makes no generator of its own, and gives the
answer different inputs under two different secrets."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import random
import sys

import numpy as np
import pytest

from course_utils.authoring import chapters, mutation
from course_utils.checks import REGISTRY, checks_for, core
from tests.conftest import ROOT

#: Chapters whose checks do not yet draw only from their salted generator; their test is
#: expected to fail (strictly: remove the id in the commit that makes the chapter pass).
PENDING = (
)
SECRETS = (271828, 314159)
CHAPTERS = chapters.chapters(ROOT)


@functools.cache
def reference_answers(chapter: chapters.Chapter) -> dict:
    """The solution's answer to each checked exercise: its cells run in-process in order, as
    mutation testing runs them, each answer taken when its check cell is reached."""
    cells, exercises = mutation.read_solution(ROOT / chapter.solution)
    namespace, answers, done = {"__name__": "__main__"}, {}, 0
    for exercise in exercises:
        done = mutation.run_cells(cells, namespace, done, exercise.check_cell)
        answers[exercise.exercise_id] = namespace.get(exercise.target)
    return answers


# --------------------------------------------------------------------------- global states


def _global_states() -> dict:
    states = {"Python's": random.getstate(), "NumPy's": np.random.get_state(legacy=False)}
    if "torch" in sys.modules:
        states["PyTorch's"] = sys.modules["torch"].random.get_rng_state().numpy().tobytes()
    return states


def _same(a, b) -> bool:
    return core.same_value(a, b) is not False


# functions a check could make or seed a generator of its own with (classes stay: isinstance)
_CONSTRUCTORS = [(np.random, "default_rng"), (np.random, "seed"), (random, "seed")]


@contextlib.contextmanager
def watching_randomness(offences: list):
    """Record a check's own generators and seeds (calls from a chapter's check module) and
    any change of the global random states over the block."""
    random.seed(99991)
    np.random.seed(99991)
    targets = list(_CONSTRUCTORS)
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.manual_seed(99991)
        targets += [(torch, "manual_seed"), (torch.random, "manual_seed"), (torch, "seed")]
    before = _global_states()
    originals = [(owner, name, getattr(owner, name)) for owner, name in targets]

    def watched(owner, name, original):
        def record(*args, **kwargs):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if chapters.is_check_module(caller):
                offences.append(f"calls {getattr(owner, '__name__', owner)}.{name} itself "
                                "(draw from seeded_rng / seeded_global_random)")
            return original(*args, **kwargs)
        return record

    for owner, name, original in originals:
        setattr(owner, name, watched(owner, name, original))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    after = _global_states()
    for which, state in before.items():
        if not _same(state, after.get(which)):
            offences.append(f"changed {which} global random state (use seeded_global_random)")


# --------------------------------------------------------------------------- inputs


def _digest(value, h, depth=0):
    if depth > 6:
        return
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        h.update(f"{value.dtype}{value.shape}".encode() + np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (list, tuple)):
        for item in value:
            _digest(item, h, depth + 1)
    elif isinstance(value, dict):
        for key in sorted(value, key=repr):
            h.update(repr(key).encode())
            _digest(value[key], h, depth + 1)
    elif isinstance(value, np.random.Generator):
        h.update(repr(value.bit_generator.state).encode())
    elif torch is not None and isinstance(value, torch.nn.Module):
        _digest(dict(value.state_dict()), h, depth + 1)
    elif value is None or isinstance(value, (bool, int, float, complex, str, np.generic)):
        h.update(repr(value).encode())
    else:
        h.update(type(value).__qualname__.encode())


def _answer_codes(answer) -> set:
    if isinstance(answer, type):
        return {f.__code__ for f in vars(answer).values() if hasattr(f, "__code__")}
    code = getattr(answer, "__code__", None)
    return {code} if code else set()


def inputs_given(check, answer, secret) -> list[str]:
    """Digests of the arguments of every call of the answer's code (and of every PyTorch
    module's forward) while ``check`` judges ``answer`` under ``secret``."""
    codes, seen = _answer_codes(answer), []
    torch = sys.modules.get("torch")

    def profile(frame, event, arg):
        if event != "call":
            return
        is_forward = (torch is not None and frame.f_code.co_name == "forward"
                      and isinstance(frame.f_locals.get("self"), torch.nn.Module))
        if frame.f_code in codes or is_forward:
            h = hashlib.sha1()
            _digest({k: v for k, v in frame.f_locals.items() if k != "self"}, h)
            seen.append(h.hexdigest())

    core.set_secret(secret)
    sys.setprofile(profile)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            check.verdict(answer)
    finally:
        sys.setprofile(None)
        core.set_secret(None)
    return seen


def salt_problems(chapter: chapters.Chapter) -> list[str]:
    answers = reference_answers(chapter)
    problems = []
    for exercise_id, check in checks_for(chapter.id).items():
        offences: list[str] = []
        try:
            with watching_randomness(offences):
                first = inputs_given(check, answers[exercise_id], SECRETS[0])
            second = inputs_given(check, answers[exercise_id], SECRETS[1])
        except core.CheckFailed as err:
            problems.append(f"{exercise_id}: the solution's answer fails its check: {err}")
            continue
        if first and first == second:
            offences.append(f"gives the same inputs under two secrets ({len(first)} calls)")
        problems += [f"{exercise_id}: {o}" for o in dict.fromkeys(offences)]
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("chapter", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=f"chapter {c.id} is not salted yet (PENDING)"))
    if c.id in PENDING else c for c in CHAPTERS], ids=lambda c: c.name)
def test_every_check_draws_its_inputs_from_its_salted_generator(chapter):
    assert set(checks_for(chapter.id)) <= set(REGISTRY)
    problems = salt_problems(chapter)
    assert not problems, f"chapter {chapter.id}:\n" + "\n".join(problems)
