"""Results of the code, pasted into the prose of the book (every chapter).

``glue("test_accuracy", acc)`` stores a value under a name in the cell's output; the text then
writes ``{glue:text}`test_accuracy:.1%``` and the book shows the number the code computed.
The book build (MyST-NB) does the pasting; in Jupyter or Colab the cell shows nothing and the
role stays as written, so a result a reader must see is printed by its cell too.
"""

from __future__ import annotations

import numbers

import numpy as np

from course_utils.metrics import record_metric


def plain(value):
    """NumPy scalars and 0-d arrays as Python numbers, so that format specs like ``:.3f`` work."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


def glue(name: str, value, *, metric: bool = False):
    """Glue ``value`` (number, string or figure) under ``name`` without displaying it; with
    ``metric=True`` also record it for the benchmark report. Returns the value."""
    value = plain(value)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # Colab and plain Jupyter: nothing to paste into
        myst_glue = None
    if myst_glue is not None:
        myst_glue(name, value, display=False)
    if metric:
        record_metric(name, value)
    return value


def _summary(sample) -> tuple[float, float, int]:
    sample = np.asarray(sample, dtype=float).reshape(-1)
    spread = float(sample.std(ddof=1)) if sample.size > 1 else 0.0
    return float(sample.mean()), spread, int(sample.size)


def comparison(a, b, *, a_name: str, b_name: str, paired: bool = False, fmt: str = ".3f",
               more: str = "larger than", less: str = "smaller than",
               same: str = "not distinguishable from", z: float = 2.0) -> str:
    """A whole clause comparing ``a`` with ``b``, subject first, e.g. ``"the frozen base
    (0.881 ± 0.012) is larger than scratch (0.751 ± 0.020)"`` (every chapter's comparisons).

    ``a`` and ``b`` are one number or one number per seeded run. With several runs the two
    differ only when the means are more than ``z`` standard errors apart: of the paired
    differences when ``paired`` (run i of a and of b share their seed and data), else of the
    two independent means. Single numbers are compared as they are. ``more``, ``less`` and
    ``same`` are the verbs for a above, below and level with b. Because the clause names
    both quantities, its subject and its verdict cannot disagree.
    """
    mean_a, sd_a, n_a = _summary(a)
    mean_b, sd_b, n_b = _summary(b)
    if min(n_a, n_b) == 1 < max(n_a, n_b):
        raise ValueError("compare one run with one run, or several with several")
    if paired and n_a != n_b:
        raise ValueError(f"paired samples must have the same length, not {n_a} and {n_b}")
    if n_a == 1 and n_b == 1:
        error = 0.0
    elif paired:
        error = _summary(np.asarray(a, float).reshape(-1) - np.asarray(b, float).reshape(-1))[1] / np.sqrt(n_a)
    else:
        error = float(np.sqrt(sd_a**2 / n_a + sd_b**2 / n_b))
    difference = mean_a - mean_b
    apart = abs(difference) > z * error if error > 0 else not np.isclose(mean_a, mean_b)
    verb = (more if difference > 0 else less) if apart else same

    def shown(mean, spread, n):
        return f"{mean:{fmt}}" + (f" ± {spread:{fmt}}" if n > 1 else "")

    return f"{a_name} ({shown(mean_a, sd_a, n_a)}) is {verb} {b_name} ({shown(mean_b, sd_b, n_b)})"


def glue_comparison(name: str, a, b, **words) -> str:
    """Glue the clause :func:`comparison` builds (keywords as there) under ``name``: the prose
    writes ``{glue:text}`name``` where the sentence needs the whole comparison."""
    return glue(name, comparison(a, b, **words))
