"""Plain data across the sandbox boundary (grading, book/grading.md): JSON, never pickle.

``encode`` turns numbers, strings, lists, tuples, dicts, NumPy arrays and scalars, NumPy
random generators (their bit generator's state) and, on the kernel side, tensors (as arrays)
and finished iterators (as lists) into JSON-ready data; ``decode`` turns them back, refusing
anything else, object arrays, and data deeper or larger than the limits. Nothing decoded can
run code. Both sides of the boundary use this module.
"""

from __future__ import annotations

import base64
import math

import numpy as np

MAX_DEPTH = 32
MAX_ITEMS = 1_000_000  # values in one message (array elements count one each)
MAX_ITERATOR = 100_000  # items taken from an iterator an answer returned
DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"}


class Uncarriable(TypeError):
    """A value that is not plain data (a function, a module, a model...)."""


class _Budget:
    def __init__(self):
        self.items = 0

    def take(self, n: int = 1):
        self.items += n
        if self.items > MAX_ITEMS:
            raise Uncarriable(f"more than {MAX_ITEMS} values")


def _float(value: float):
    if math.isfinite(value):
        return value
    return {"__float__": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def encode(value, *, iterators: bool = False, tensors: bool = False, handle=None):
    """JSON-ready plain data for ``value``; :class:`Uncarriable` for anything else.
    ``iterators``: take the items of a generator or iterator (kernel side, results only);
    ``tensors``: read objects with ``.detach()`` or ``.numpy()`` as arrays (kernel side);
    ``handle``: turns a function into a number that stands for it (kernel side, results only:
    the grader can then call it, through the sandbox, like any answer)."""
    return _Encoder(iterators, tensors, handle).encode(value, 0)


class _Encoder:
    """One call of :func:`encode`: its options and its budget (nothing shared between calls)."""

    def __init__(self, iterators: bool, tensors: bool, handle, budget: _Budget | None = None):
        self.iterators, self.tensors, self.handle = iterators, tensors, handle
        self.budget = budget or _Budget()

    def plain(self, value, depth):
        """Keys, set items and generator states: neither iterators nor tensors are read there."""
        return _Encoder(False, False, self.handle, self.budget).encode(value, depth)

    def encode(self, value, depth):
        if depth > MAX_DEPTH:
            raise Uncarriable(f"nested deeper than {MAX_DEPTH}")
        self.budget.take()
        if value is None or isinstance(value, (bool, str)):
            return value
        if value is Ellipsis:
            return {"__ellipsis__": True}
        if isinstance(value, int) and not isinstance(value, np.integer):
            return int(value)
        if isinstance(value, float) and not isinstance(value, np.floating):
            return _float(float(value))
        if isinstance(value, complex):
            return {"__complex__": [_float(value.real), _float(value.imag)]}
        if isinstance(value, np.generic):
            return {"__npscalar__": _array(np.asarray(value), self.budget)}
        if isinstance(value, np.ndarray):
            return {"__ndarray__": _array(value, self.budget)}
        if isinstance(value, np.random.Generator):
            return {"__rng__": self.plain(value.bit_generator.state, depth + 1)}
        if isinstance(value, list):
            return [self.encode(v, depth + 1) for v in value]
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"__dict__": [[self.plain(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if isinstance(value, (set, frozenset)):
            return {"__set__": [self.plain(v, depth + 1) for v in value]}
        if self.tensors and hasattr(value, "detach") and hasattr(value, "cpu"):
            return {"__ndarray__": _array(np.asarray(value.detach().cpu().numpy()), self.budget)}
        if self.tensors and hasattr(value, "numpy") and callable(value.numpy) and not callable(value):
            return {"__ndarray__": _array(np.asarray(value.numpy()), self.budget)}
        if self.iterators and hasattr(value, "__next__") and hasattr(value, "__iter__"):
            items = []
            for item in value:
                if len(items) >= MAX_ITERATOR:
                    raise Uncarriable(f"an iterator with more than {MAX_ITERATOR} items")
                items.append(self.encode(item, depth + 1))
            return items
        if self.handle is not None and callable(value) and not isinstance(value, type):
            return {"__handle__": int(self.handle(value))}
        raise Uncarriable(f"a {type(value).__name__}")


def _array(array: np.ndarray, budget: _Budget) -> dict:
    if array.dtype.name not in DTYPES:
        raise Uncarriable(f"an array of {array.dtype}")
    budget.take(array.size)
    data = np.ascontiguousarray(array).tobytes()
    return {"dtype": array.dtype.name, "shape": list(array.shape), "data": base64.b64encode(data).decode("ascii")}


def decode(data, handle=None):
    """The value that :func:`encode` described; ``ValueError`` for anything malformed.
    ``handle`` turns the number standing for a function into a stand-in (grader side)."""
    return _decode(data, 0, _Budget(), handle)


def _decode(data, depth, budget, handle=None):
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH}")
    budget.take()
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [_decode(v, depth + 1, budget, handle) for v in data]
    if not isinstance(data, dict) or len(data) != 1:
        raise ValueError("not plain data")
    (tag, body), = data.items()
    if tag == "__ellipsis__":
        return Ellipsis
    if tag == "__float__":
        if body not in ("nan", "inf", "-inf"):
            raise ValueError("bad float")
        return float(body)
    if tag == "__complex__":
        real, imag = (_decode(v, depth + 1, budget, handle) for v in body)
        return complex(float(real), float(imag))
    if tag == "__ndarray__":
        return _from_array(body, budget)
    if tag == "__npscalar__":
        return _from_array(body, budget)[()]
    if tag == "__tuple__":
        return tuple(_decode(v, depth + 1, budget, handle) for v in _list(body))
    if tag == "__set__":
        return {_decode(v, depth + 1, budget, handle) for v in _list(body)}
    if tag == "__dict__":
        out = {}
        for pair in _list(body):
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("bad dict item")
            key = _decode(pair[0], depth + 1, budget, handle)
            out[key] = _decode(pair[1], depth + 1, budget, handle)
        return out
    if tag == "__handle__":
        if handle is None or not isinstance(body, int) or isinstance(body, bool):
            raise ValueError("a function where plain data was expected")
        return handle(body)
    if tag == "__rng__":
        state = _decode(body, depth + 1, budget)
        if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
            raise ValueError("only PCG64 generators are carried")
        bit_generator = np.random.PCG64()
        bit_generator.state = state
        return np.random.Generator(bit_generator)
    raise ValueError(f"unknown tag {str(tag)[:40]!r}")


def _list(body):
    if not isinstance(body, list):
        raise ValueError("expected a list")
    return body


def _from_array(body, budget) -> np.ndarray:
    if not isinstance(body, dict) or set(body) != {"dtype", "shape", "data"}:
        raise ValueError("bad array")
    dtype, shape = body["dtype"], body["shape"]
    if dtype not in DTYPES or not isinstance(shape, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in shape) or len(shape) > 32:
        raise ValueError("bad array header")
    size = math.prod(shape)
    budget.take(size)
    raw = base64.b64decode(body["data"], validate=True)
    if len(raw) != size * np.dtype(dtype).itemsize:
        raise ValueError("array data and shape disagree")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
