"""The check framework: ``CheckFailed``, the registry, and safe ways to try a learner's answer.

A check takes what the learner wrote, tries it on fixed and random inputs against an
independent reference, and either prints one success line or raises :class:`CheckFailed`
with a hint that names the likely mistake. It never crashes on a bad answer.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import math
import os
import signal
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_utils.authoring.chapters import EXERCISE_ID, exercise_chapter
from course_utils.frameworks import FrameworkMissing

PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)
DEFAULT_TIME_LIMIT = 10.0  # seconds for one call of learner code, unless a check says otherwise
_TIME_LIMIT_CAP = contextvars.ContextVar("time_limit_cap", default=None)  # see time_limit_cap()


_SECRET = [int(os.environ["COURSE_CHECK_SECRET"]) if os.environ.get("COURSE_CHECK_SECRET") else None]


_SALTED = {"users": 0, "before": None}  # salted(): how many are inside, the secret they found
_SALTED_LOCK = threading.Lock()


def set_secret(secret: int | None) -> None:
    """Salt every random draw of the checks with ``secret`` (the grader's, unknown to learners);
    ``None`` restores the published seeds. Checks assert the same things either way."""
    _SECRET[0] = None if secret is None else int(secret)


@contextlib.contextmanager
def salted(secret: int | None):
    """The checks salted with ``secret`` inside the block, the secret found before restored when
    the last of the threads inside it leaves (a grading batch's threads share one secret)."""
    secret = None if secret is None else int(secret)
    with _SALTED_LOCK:
        if _SALTED["users"] == 0:
            _SALTED["before"] = _SECRET[0]
            _SECRET[0] = secret
        elif _SECRET[0] != secret:
            raise RuntimeError("checks salted with two secrets at once in one process")
        _SALTED["users"] += 1
    try:
        yield
    finally:
        with _SALTED_LOCK:
            _SALTED["users"] -= 1
            if _SALTED["users"] == 0:
                _SECRET[0] = _SALTED["before"]


def seeded_rng(seed) -> np.random.Generator:
    """``np.random.default_rng(seed)``, salted with the grader's secret when one is set."""
    secret = _SECRET[0]
    if secret is None:
        return np.random.default_rng(seed)
    return np.random.default_rng([secret, *np.atleast_1d(np.asarray(seed, dtype=np.int64)).tolist()])


class CheckFailed(AssertionError):
    """An answer is wrong; the message says what is wrong and how to look for the mistake."""


class TimeUp(BaseException):
    """Raised inside learner code when its time is up (a BaseException, so ``except
    Exception`` in learner code cannot swallow it); :func:`run_limited` raises it."""


@dataclass
class Check:
    """One registered check: ``Check(answer)`` prints a success line or raises CheckFailed.
    Besides its function it carries the facts the grader needs (see :func:`register`)."""

    exercise_id: str
    func: object
    target: str
    description: str = ""
    hides: tuple[str, ...] = ()

    @property
    def chapter(self) -> str:
        return exercise_chapter(self.exercise_id)

    def verdict(self, answer) -> str:
        """``"passed"`` or ``"passed: <what was tried>"``; raises CheckFailed (the grader's entry)."""
        try:
            detail = self.func(answer)
        except (CheckFailed, FrameworkMissing) as err:
            raise CheckFailed(f"{self.exercise_id}: {err}") from None
        except TimeUp:
            raise CheckFailed(f"{self.exercise_id}: your code ran out of time.") from None
        except Exception as err:  # a bug in the check itself must still read as a failure
            raise CheckFailed(f"{self.exercise_id}: the check could not use your answer "
                              f"({type(err).__name__}: {err}).") from None
        return f"passed: {detail}" if detail else "passed"

    def __call__(self, answer):
        message = self.verdict(answer)
        print(f"\u2714 {self.exercise_id} {message}" + ("" if ":" in message else "."))
        return True


REGISTRY: dict[str, Check] = {}


def register(exercise_id: str, target: str | None = None, description: str = "", *,
             hides: tuple[str, ...] = ()):
    """Decorator that adds a check function to :data:`REGISTRY` under ``exercise_id`` (``NN.name``),
    with the facts the grader reads off the check (docs/AUTHORING.md, "Adding a check"):

    - ``target``: the name the notebook gives the learner's answer (the grader looks it up);
      it defaults to the ``name`` part of the id;
    - ``description``: defaults to the first line of the check's docstring;
    - ``hides``: modules of the package (``"course_utils.backprop"``) that implement the
      answer under another name; the sandbox of that chapter's notebooks does not mount them.
    """
    match = EXERCISE_ID.fullmatch(exercise_id)
    if match is None:
        raise ValueError(f"exercise id {exercise_id!r} is not NN.name, e.g. '03.fit_bingham'")
    hides = (hides,) if isinstance(hides, str) else tuple(hides)
    if not all(isinstance(m, str) and m.startswith("course_utils.") for m in hides):
        raise ValueError(f"{exercise_id}: hides names modules of the package, e.g. 'course_utils.backprop'")

    def decorate(func):
        if exercise_id in REGISTRY:
            raise ValueError(f"duplicate exercise id {exercise_id!r}")
        REGISTRY[exercise_id] = Check(exercise_id, func, target or match["name"],
                                      description or (func.__doc__ or "").strip().split("\n")[0], hides=hides)
        return func

    return decorate


def checks_for(chapter: str) -> dict[str, Check]:
    """The checks of one chapter, e.g. ``checks_for("00")``, in id order."""
    return {k: REGISTRY[k] for k in sorted(REGISTRY) if REGISTRY[k].chapter == chapter}


class Passed:
    """What :func:`check` returns: true, and shown as nothing in a notebook (the check has
    already printed its success line)."""

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "Passed()"

    def _ipython_display_(self) -> None:
        pass


def check(exercise_id: str, answer) -> Passed:
    """Run the registered check ``exercise_id`` on ``answer``; raises :class:`CheckFailed`."""
    if exercise_id not in REGISTRY:
        chapter = exercise_id.split(".", 1)[0]
        known = sorted(k for k in REGISTRY if k.startswith(chapter + "."))
        raise CheckFailed(f"no exercise {exercise_id!r}; this chapter has: {', '.join(known) or 'none'}")
    REGISTRY[exercise_id](answer)
    return Passed()


# --------------------------------------------------------------------------- answers


def require_answer(value, name: str):
    """Fail clearly when ``value`` is still a stub."""
    if value is Ellipsis:
        raise CheckFailed(f"`{name}` is still the placeholder `...`: replace it with your answer.")
    if value is None:
        raise CheckFailed(f"`{name}` is None: did your code forget a `return`, or did you not "
                          "run the cell that defines it?")
    return value


def require_callable(func, name: str):
    """Fail clearly unless ``func`` is a function (or class)."""
    require_answer(func, name)
    if not callable(func):
        raise CheckFailed(f"`{name}` should be a function, but it is a {type(func).__name__}.")
    return func


def _library_dirs() -> tuple[str, ...]:
    """Folders of installed code (this package, the standard library, site-packages): a
    traceback frame in them is never the learner's line."""
    import sysconfig

    dirs = {PACKAGE_DIR}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(str(Path(path).resolve()))
    return tuple(sorted(dirs))


LIBRARY_DIRS = _library_dirs()


def _is_learner_frame(filename: str) -> bool:
    if filename.startswith("<") or "ipykernel" in filename:
        return True
    if not os.path.isabs(filename) or filename.endswith((".pyx", ".pxd")):
        return False  # compiled library code (NumPy's random generators name their .pyx files)
    try:
        resolved = str(Path(filename).resolve())
    except OSError:
        resolved = filename
    return not any(resolved.startswith(d + os.sep) or resolved == d for d in LIBRARY_DIRS) \
        and "site-packages" not in resolved and "dist-packages" not in resolved


def learner_line(tb) -> str:
    """`` at line N of your cell: `code` `` for the learner's deepest frame (NumPy, PyTorch and
    this package's frames are skipped), or "" when no frame is the learner's. The checks and
    the grader's helper in the learner's kernel say where an error came from in these words."""
    frames = [f for f in traceback.extract_tb(tb) if _is_learner_frame(f.filename)]
    if not frames:
        return ""
    last = frames[-1]
    where = "your cell" if ("ipykernel" in last.filename or last.filename.startswith("<")) \
        else os.path.basename(last.filename)
    return f" at line {last.lineno} of {where}" + (f": `{last.line}`" if last.line else "")


def run_limited(func, args=(), kwargs=None, *, seconds: float, thread: bool = False):
    """``func(*args, **kwargs)``, or :class:`TimeUp` after ``seconds``. In the main thread an
    alarm interrupts the call itself (unless ``thread``); elsewhere it runs in a daemon thread
    that is abandoned when its time is up. The one time limit of the course: the checks' calls
    of learner code, the grader's checks, mutation testing's notebook cells."""
    kwargs = kwargs or {}
    if not thread and threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        def on_alarm(signum, frame):
            raise TimeUp()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return func(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    outcome = {}

    def target():
        try:
            outcome["value"] = func(*args, **kwargs)
        except BaseException as err:  # handed back to the caller's thread
            outcome["error"] = err

    context = contextvars.copy_context()  # the call sees its caller's context (time cap, shared random state)
    worker = threading.Thread(target=context.run, args=(target,), daemon=True,
                              name=f"limited {getattr(func, '__name__', 'call')}")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeUp()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@contextlib.contextmanager
def time_limit_cap(seconds: float | None):
    """Within the block (in this thread), no call of learner code gets more than ``seconds``,
    whatever its check allows; ``None`` lifts any cap. Tests and mutation testing use it."""
    token = _TIME_LIMIT_CAP.set(seconds)
    try:
        yield
    finally:
        _TIME_LIMIT_CAP.reset(token)


def same_value(a, b):
    """True when ``a`` and ``b`` hold equal data, False when they differ, None when it cannot
    be told (a comparison raised). Dicts, lists and tuples are compared element by element,
    arrays with NaN equal to NaN; random generators and callables change state when used,
    which is not an in-place change, so they count as equal."""
    if isinstance(a, np.random.Generator) or callable(a):
        return True
    try:
        if isinstance(a, dict) or isinstance(b, dict):
            if not (isinstance(a, dict) and isinstance(b, dict)) or a.keys() != b.keys():
                return False
            return _all_same(same_value(a[k], b[k]) for k in a)
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            if type(a) is not type(b) or len(a) != len(b):
                return False
            return _all_same(same_value(x, y) for x, y in zip(a, b, strict=True))
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            a_array, b_array = np.asarray(a), np.asarray(b)
            if a_array.dtype == object or b_array.dtype == object:
                if a_array.shape != b_array.shape:
                    return False
                return _all_same(same_value(x, y) for x, y in zip(a_array.flat, b_array.flat, strict=True))
            return bool(np.array_equal(a_array, b_array, equal_nan=a_array.dtype.kind in "fc"
                                       and b_array.dtype.kind in "fc"))
        equal = a == b
        if isinstance(equal, np.ndarray) or hasattr(equal, "shape"):
            return bool(np.all(equal))
        return bool(equal)
    except Exception:  # an exception while comparing is "cannot tell", never a verdict
        return None


def _all_same(verdicts) -> bool | None:
    verdicts = list(verdicts)
    if False in verdicts:
        return False
    return None if None in verdicts else True


def unchanged(before, after) -> bool:
    """Not shown to have changed: equal, or cannot tell (the learner gets the benefit). How a
    check sees an argument or a state its learner's function was given."""
    return same_value(before, after) is not False


def call(func, *args, name: str | None = None, time_limit: float | None = None, **kwargs):
    """Call learner code safely: stubs, exceptions, time-outs and in-place changes of the
    inputs all become :class:`CheckFailed` with a message that says what happened.
    ``time_limit`` defaults to :data:`DEFAULT_TIME_LIMIT`, capped by :func:`time_limit_cap`."""
    time_limit = DEFAULT_TIME_LIMIT if time_limit is None else time_limit
    cap = _TIME_LIMIT_CAP.get()
    if cap is not None:
        time_limit = min(time_limit, cap)
    name = name or getattr(func, "__name__", "your function")
    require_callable(func, name)
    originals = [copy.deepcopy(a) for a in args]
    try:
        with np.errstate(all="ignore"):
            result = run_limited(func, args, kwargs, seconds=time_limit)
    except TimeUp:
        raise CheckFailed(f"`{name}` did not finish within {time_limit:g} s: is there a loop "
                          "that never ends?") from None
    except NotImplementedError:
        raise CheckFailed(f"`{name}` is not written yet: replace `raise NotImplementedError` "
                          "with your code.") from None
    except RecursionError:
        raise CheckFailed(f"`{name}` recursed too deeply.") from None
    except MemoryError:
        raise CheckFailed(f"`{name}` ran out of memory: is an array much larger than needed?") from None
    except Exception as err:
        raise CheckFailed(f"`{name}` raised {type(err).__name__}: {err}"
                          f"{learner_line(err.__traceback__)}") from None
    for i, (before, after) in enumerate(zip(originals, args, strict=True)):
        if not unchanged(before, after):
            raise CheckFailed(f"`{name}` changed its argument number {i + 1} in place: work on a "
                              "copy (for example `w = w + ...` rather than `w += ...`).")
    if result is Ellipsis:
        raise CheckFailed(f"`{name}` returned `...`: it is still the placeholder.")
    return result


class calls_of_global:
    """Count the calls a learner's function makes to a function it looks up among its own
    globals (the notebook's), e.g. ``mse_gradient`` inside ``fit_bingham``: the way to see the
    method a statement prescribes. ``count`` stays None when it cannot be observed (not a
    Python function, or no such global)."""

    def __init__(self, func, global_name: str):
        self.namespace = getattr(func, "__globals__", None)
        self.global_name, self.count, self._original = global_name, None, None
        self._remote = remote_watch(func, {"globals": [global_name]}, self._counted_remotely)

    def _counted_remotely(self, observed: dict) -> None:
        counts = observed.get("globals")
        count = counts.get(self.global_name) if isinstance(counts, dict) else None
        if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            self.count = (self.count or 0) + count

    def __enter__(self):
        if self._remote is not None:
            self._remote.__enter__()
            return self
        if isinstance(self.namespace, dict) and callable(self.namespace.get(self.global_name)):
            self._original = original = self.namespace[self.global_name]
            self.count = 0

            def counted(*args, **kwargs):
                self.count += 1
                return original(*args, **kwargs)

            self.namespace[self.global_name] = counted
        return self

    def __exit__(self, *exc):
        if self._remote is not None:
            self._remote.__exit__(*exc)
        if self._original is not None:
            self.namespace[self.global_name] = self._original
        return False


def remote_watch(func, what: dict, report):
    """For the grader's stand-in of a function that runs in the learner's sandbox (it has
    ``__course_watch__``): a context manager within which every call of it is observed there,
    as ``what`` asks (``{"calls_into": modules}``, ``{"lines": True}``, ``{"globals": names}``),
    and ``report(observed)`` gets what was seen; None for any other function. What is
    observed in the sandbox is the notebook's own testimony: values are judged by the grader,
    the method behind them is reported by the notebook's kernel (book/grading.md)."""
    watch = getattr(type(func), "__course_watch__", None)
    return None if watch is None else watch(func, what, report)


def _watched_remotely(func, what: dict, report):
    """``func`` (the grader's stand-in), observed on every call as ``what`` asks; None when
    ``func`` runs here."""
    if getattr(type(func), "__course_watch__", None) is None:
        return None

    def watched(*args, **kwargs):
        with remote_watch(func, what, report):
            return func(*args, **kwargs)

    watched.__name__ = watched.__qualname__ = getattr(func, "__name__", "your function")
    return watched


class learner_lines:
    """Count the lines a learner's Python function runs in its own cell (its nested functions and
    comprehensions included): how a check sees an iteration the statement prescribes or a loop it
    forbids. ``with learner_lines(func) as lines: call(lines.func, ...)``, then ``lines.count``;
    it stays None when the answer is not a Python function, so a check only judges what it
    observed. For the grader's stand-in the lines are counted in the sandbox. Chapters 00 to 04."""

    def __init__(self, func):
        code = getattr(func, "__code__", None)
        self.filename, self.count = (code.co_filename if code is not None else None), None
        remote = _watched_remotely(func, {"lines": True}, self._counted_remotely)
        self.func = remote or (func if code is None else self._traced(func))

    def _counted_remotely(self, observed: dict) -> None:
        count = observed.get("lines")
        self.count = count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None

    def _traced(self, func):
        import functools
        import sys

        def local(frame, event, arg):
            if event == "line":
                self.count += 1
            return local

        def tracer(frame, event, arg):
            return local if frame.f_code.co_filename == self.filename else None

        @functools.wraps(func)
        def traced(*args, **kwargs):
            self.count = 0
            previous = sys.gettrace()
            sys.settrace(tracer)
            try:
                return func(*args, **kwargs)
            finally:
                sys.settrace(previous)

        return traced

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def expect_pair(value, name: str, what: str):
    """Fail clearly unless a learner's function returned a pair (a tuple or list of two)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise CheckFailed(f"{name} should return the pair {what}, not a {type(value).__name__}.")
    return value


# --------------------------------------------------------------------------- arrays


def to_array(value, name: str = "the result") -> np.ndarray:
    """Convert lists, scalars and PyTorch / TensorFlow tensors to a NumPy array, or fail clearly."""
    require_answer(value, name)
    if hasattr(value, "detach"):  # torch.Tensor
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # tf.Tensor, jax
        value = value.numpy()
    try:
        array = np.asarray(value)
    except Exception as err:
        raise CheckFailed(f"{name} cannot be read as an array: {err}") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == bool):
        raise CheckFailed(f"{name} should hold numbers, but it holds {array.dtype} values "
                          f"(type {type(value).__name__}).")
    return array


def _tolerance(array: np.ndarray, rtol, atol):
    if array.dtype in (np.float16,):
        return rtol or 1e-2, atol or 1e-3
    if array.dtype == np.float32:
        return rtol or 1e-4, atol or 1e-5
    return rtol or 1e-6, atol or 1e-8


def expect_close(got, expected, name: str = "the result", *, case: str = "", rtol=None,
                 atol=None, mistakes: dict | None = None) -> np.ndarray:
    """Compare an answer with the reference; on a mismatch, name the mistake it matches.

    ``mistakes`` maps a hint to the value a typical mistake would give on the same case.
    Tolerances suit float64 and are loosened for float32 answers. The reference is never
    printed.
    """
    where = f" for {case}" if case else ""
    array = to_array(got, name)
    expected = np.asarray(expected, dtype=float)
    if array.shape != expected.shape:
        if array.size == expected.size:
            hint = " (same number of values: a reshape or a transposed axis?)"
        elif array.ndim == 0 and expected.ndim > 0:
            hint = " (a single number: did you sum over the whole array instead of along an axis?)"
        else:
            hint = ""
        for text, wrong in (mistakes or {}).items():
            if np.shape(wrong) == array.shape and np.allclose(array, wrong, rtol=1e-4, atol=1e-6):
                hint = f": {text}"
                break
        raise CheckFailed(f"{name}{where} has shape {array.shape}, expected {expected.shape}{hint}")
    if array.dtype != bool and not np.all(np.isfinite(array)) and np.all(np.isfinite(expected)):
        raise CheckFailed(f"{name}{where} contains NaN or inf: an overflow for large inputs? "
                          "(for example exp of a large number).")
    rtol, atol = _tolerance(array, rtol, atol)
    if np.allclose(array.astype(float), expected, rtol=rtol, atol=atol):
        return array
    for text, wrong in (mistakes or {}).items():
        wrong = np.asarray(wrong, dtype=float)
        if wrong.shape == array.shape and np.allclose(array.astype(float), wrong, rtol=max(rtol, 1e-4),
                                                      atol=max(atol, 1e-6), equal_nan=True):
            raise CheckFailed(f"{name}{where} is wrong: {text}")
    array = array.astype(float)
    message = f"{name}{where} is wrong{_worst_element(array, expected, rtol, atol)}"
    relation = _relation_hint(array, expected, rtol, atol)
    raise CheckFailed(f"{message} {relation}" if relation else message)


SIMPLE_FACTORS = (2, 0.5, 3, 1 / 3, 4, 0.25, 10, 0.1, 100, 0.01)


def _relation_hint(array: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str:
    """What the wrong answer did, read off its relation to the expected value as a whole: the
    opposite sign, a constant factor, a constant offset, or a transpose; '' when none fits.
    For one number only the sign and simple factors (2, 1/2, 100, ...) say anything."""
    def matches(candidate):
        return np.allclose(array, candidate, rtol=max(rtol, 1e-4), atol=max(atol, 1e-6))

    if np.any(np.abs(expected) > atol) and matches(-expected):
        return "It has the opposite sign everywhere: a sign error (+ for -, or a dropped minus)?"
    nonzero = np.abs(expected) > max(atol, 1e-12)
    if np.sum(nonzero) >= 2 and np.all(np.isfinite(array)):
        factor = float(np.median(array[nonzero] / expected[nonzero]))
        if factor != 0 and not np.isclose(factor, 1) and matches(factor * expected):
            return (f"It is {factor:.4g} times the expected value everywhere: a constant factor (a "
                    "missing 1/2 or 1/n, a sum for a mean, a term counted twice)?")
    elif expected.size == 1 and nonzero.all():
        factor = float(array.reshape(-1)[0] / expected.reshape(-1)[0])
        simple = [f for f in SIMPLE_FACTORS if np.isclose(factor, f, rtol=1e-4)]
        if simple:
            return (f"It is {factor:.4g} times the expected value: a constant factor (a missing 1/2 "
                    "or 1/n, a sum for a mean, a percentage for a fraction)?")
    if expected.size >= 2:
        offset = float(np.median(array - expected))
        if not np.isclose(offset, 0, atol=max(atol, 1e-9)) and matches(expected + offset):
            return (f"It is the expected value plus {offset:.4g} everywhere: a constant term added or "
                    "left out?")
    if array.ndim == 2 and array.shape[0] == array.shape[1] > 1 and matches(expected.T):
        return "It is the transpose of the expected matrix: rows and columns swapped?"
    return ""


def _worst_element(array: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str:
    """Name the element furthest out of tolerance (relative to its own tolerance, so a large
    element inside its tolerance never hides a small one outside it)."""
    diff = np.abs(array - expected)
    excess = np.where(np.isnan(diff), np.inf, diff / (atol + rtol * np.abs(expected)))
    if not diff.ndim:
        return f": your value is {float(array):.6g}, off by {float(diff):.3g}."
    worst = np.unravel_index(int(np.argmax(excess)), diff.shape)
    index = tuple(int(i) for i in worst)
    count = int(np.sum(excess > 1))
    return (f" at index {index} ({count} of {diff.size} values out of tolerance): your value is "
            f"{float(array[worst]):.6g}, off by {float(diff[worst]):.3g}.")


def expect_equal(got, expected, name: str = "the result", *, case: str = "", mistakes=None):
    """Exact comparison for integers, labels and booleans (with the same hints as expect_close)."""
    where = f" for {case}" if case else ""
    array = to_array(got, name)
    expected = np.asarray(expected)
    if array.shape != expected.shape:
        raise CheckFailed(f"{name}{where} has shape {array.shape}, expected {expected.shape}")
    if np.array_equal(array, expected):
        return array
    for text, wrong in (mistakes or {}).items():
        if np.shape(wrong) == array.shape and np.array_equal(array, np.asarray(wrong)):
            raise CheckFailed(f"{name}{where} is wrong: {text}")
    if array.size == 1:
        raise CheckFailed(f"{name}{where} is wrong: your value is {array.reshape(-1)[0].item()!r}.")
    wrong = array != expected
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    raise CheckFailed(f"{name}{where} is wrong in {int(np.sum(wrong))} of {expected.size} places, first at "
                      f"index {first}: your value is {array[first].item()!r}.")


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar function ``f`` at ``x`` (the reference behind
    every derivative check)."""
    x = np.asarray(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        grad[idx] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def numerical_derivative(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Element-wise central difference of an element-wise function ``f``."""
    x = np.asarray(x, dtype=float)
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def finite(value) -> bool:
    """True when ``value`` is one finite number (chapter 10's search result)."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def heaviside(z) -> np.ndarray:
    """The threshold neuron's step: 1 where ``z >= 0``, else 0, as integers (chapters 00 and 04)."""
    return (np.asarray(z) >= 0).astype(int)


# --------------------------------------------------------------------------- salted state, watched calls


@contextlib.contextmanager
def seeded_global_random(seed):
    """Within the block, the global random states of Python, NumPy and (when imported) PyTorch
    are seeded from :func:`seeded_rng` ``(seed)``, so salted like every input of a check; they
    are restored afterwards. For what draws from them and takes no generator: a layer's initial
    weights, a learner's answer that calls ``np.random`` (chapters 11 to 14)."""
    import random
    import sys

    torch = sys.modules.get("torch")
    saved = (random.getstate(), np.random.get_state(), torch.random.get_rng_state() if torch else None)
    seeds = seeded_rng(seed).integers(2**32, size=3)
    token = _SHARED_RANDOM.set({"seeds": [int(s) for s in seeds], "states": None})
    try:
        random.seed(int(seeds[0]))
        np.random.seed(int(seeds[1]))
        if torch:
            with torch.random.fork_rng():  # also keeps and restores the accelerators' states
                torch.manual_seed(int(seeds[2]))
                yield
        else:
            yield
    finally:
        _SHARED_RANDOM.reset(token)
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        if torch:
            torch.random.set_rng_state(saved[2])


_SHARED_RANDOM = contextvars.ContextVar("shared_random", default=None)


def shared_random() -> dict | None:
    """Within :func:`seeded_global_random` (in this context): ``{"seeds": [python, numpy,
    torch], "states": ...}``, which the grader's stand-ins carry into the learner's kernel, so
    that an answer running there draws from the same seeded global states as it would in the
    notebook (``states``: where its last call in the block left them; None before the first)."""
    return _SHARED_RANDOM.get()


class calls_into:
    """Watch a learner's function for calls into the named modules (``("torch", "scipy")``),
    directly or through other code: the way to see a forbidden shortcut ("NumPy only", "no
    closed form"). ``watch = calls_into(func, ("torch",))``, then ``call(watch.func, ...)``;
    ``watch.seen`` names the first such function called (or a module imported), else None. It
    stays None when the answer is not a Python function (``watch.observed`` is then False)."""

    def __init__(self, func, modules):
        import functools
        import sys
        import types

        self.modules, self.seen, self._previous = tuple(modules), None, None
        remote = _watched_remotely(func, {"calls_into": list(self.modules)}, self._seen_remotely)
        if remote is not None:  # the grader's stand-in: watched in the sandbox
            self.observed, self.func = True, remote
            return
        self.observed = isinstance(func, (types.FunctionType, types.MethodType))

        def profile(frame, event, arg):
            if self._previous is not None:  # another watcher (a test's) keeps seeing the calls
                self._previous(frame, event, arg)
            if self.seen is not None:
                return
            if event == "call":
                module, name = frame.f_globals.get("__name__", ""), frame.f_code.co_name
            elif event == "c_call":
                owner = getattr(arg, "__self__", None)
                module = getattr(arg, "__module__", None) or type(owner).__module__
                name = getattr(arg, "__name__", "?")
            else:
                return
            if isinstance(module, str) and module.split(".")[0] in self.modules:
                self.seen = f"{module}.{name}"

        @functools.wraps(func)
        def watched(*args, **kwargs):
            self._previous = previous = sys.getprofile()
            sys.setprofile(profile)
            try:
                return func(*args, **kwargs)
            finally:
                sys.setprofile(previous)

        self.func = watched if self.observed else func

    def refuse(self, message: str) -> None:
        """Fail with ``message`` (its ``{seen}`` filled in) when the answer called a watched module."""
        if self.seen:
            raise CheckFailed(message.format(seen=self.seen))

    def _seen_remotely(self, observed: dict) -> None:
        seen = observed.get("calls_into")
        if self.seen is None and isinstance(seen, str) and seen:
            self.seen = seen[:200]


def expect_ndarray(value, name: str) -> np.ndarray:
    """Fail unless a learner's function returned a NumPy array, as a statement that says
    "return an array" asks (a list, a tensor or a number is named in the message)."""
    require_answer(value, f"what `{name}` returned")
    if not isinstance(value, np.ndarray):
        convert = " (convert it with .numpy())" if hasattr(value, "detach") or hasattr(value, "numpy") else ""
        raise CheckFailed(f"`{name}` should return a NumPy array, not a {type(value).__name__}{convert}.")
    return value
