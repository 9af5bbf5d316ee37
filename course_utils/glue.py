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
