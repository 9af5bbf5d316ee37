"""Plain data across the sandbox boundary (grading, book/grading.md): JSON, never pickle.

``encode`` turns numbers, strings, lists, tuples, dicts, sets, NumPy arrays and scalars and
NumPy random generators (their bit generator's state) into JSON-ready data; ``decode`` turns
them back, refusing anything else, object arrays, and data deeper or larger than the limits.
Nothing decoded can run code.

What is not plain data goes through a *hook* that each side of the boundary gives
(:mod:`.bridge` names the objects a notebook's answer may hold: functions, classes, tensors,
PyTorch modules, Keras models); without a hook it is :class:`Uncarriable`. A :class:`Memo`
shared by the messages of one call keeps identity: an object met twice is sent once and then
as ``{"__same__": k}``, so a result that *is* one of the arguments (``return model``), or two
layers that share one weight, arrive as one object on the other side. Both sides number the
objects in the same order (pre-order: a container before what it holds).
"""

from __future__ import annotations

import base64
import math

import numpy as np

MAX_DEPTH = 64
MAX_ITEMS = 40_000_000  # values in one message (array elements count one each)
DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"}
_PENDING = object()  # a number reserved for an object still being decoded


class Uncarriable(TypeError):
    """A value that is not plain data and that no hook carries (a module, a socket...)."""


class Memo:
    """The objects of one call's messages, numbered in the order they were met."""

    def __init__(self):
        self.objects: list = []
        self.numbers: dict = {}  # id(object) -> its number (the objects are kept alive above)

    def number_of(self, obj):
        return self.numbers.get(id(obj))

    def add(self, obj) -> int:
        self.objects.append(obj)
        self.numbers[id(obj)] = len(self.objects) - 1
        return len(self.objects) - 1

    def reserve(self) -> int:
        self.objects.append(_PENDING)
        return len(self.objects) - 1

    def fill(self, number: int, obj) -> None:
        self.objects[number] = obj
        self.numbers.setdefault(id(obj), number)

    def get(self, number):
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < len(self.objects) \
                or self.objects[number] is _PENDING:
            raise ValueError("a reference to an unknown object")
        return self.objects[number]


class _Budget:
    def __init__(self):
        self.items = 0

    def take(self, n: int = 1, error=Uncarriable):
        self.items += n
        if self.items > MAX_ITEMS:
            raise error(f"more than {MAX_ITEMS} values")


def _float(value: float):
    if math.isfinite(value):
        return value
    return {"__float__": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def encode(value, *, hook=None, memo: Memo | None = None):
    """JSON-ready plain data for ``value``; :class:`Uncarriable` for anything else that
    ``hook(value, encoder)`` does not carry (it returns ``None`` for what it does not know)."""
    return Encoder(hook, memo or Memo()).encode(value)


class Encoder:
    """One message: its hook, its memo and its budget."""

    def __init__(self, hook, memo: Memo):
        self.hook, self.memo, self.budget, self.depth = hook, memo, _Budget(), 0

    def encode(self, value):
        if self.depth > MAX_DEPTH:
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
            return {"__npscalar__": self.array(np.asarray(value))}
        seen = self.memo.number_of(value)
        if seen is not None:
            return {"__same__": seen}
        self.depth += 1
        try:
            return self._object(value)
        finally:
            self.depth -= 1

    def _object(self, value):
        if isinstance(value, np.ndarray):
            self.memo.add(value)
            return {"__ndarray__": self.array(value)}
        if isinstance(value, np.random.Generator):
            self.memo.add(value)
            return {"__rng__": self.plain(value.bit_generator.state)}
        if type(value) in (list, tuple, dict, set, frozenset):
            self.memo.add(value)
            if isinstance(value, list):
                return [self.encode(v) for v in value]
            if isinstance(value, tuple):
                return {"__tuple__": [self.encode(v) for v in value]}
            if isinstance(value, dict):
                return {"__dict__": [[self.plain(k), self.encode(v)] for k, v in value.items()]}
            return {"__set__": [self.plain(v) for v in value]}
        if self.hook is not None:
            self.memo.add(value)
            data = self.hook(value, self)
            if data is not None:
                return data
        raise Uncarriable(f"a {type(value).__name__}")

    def plain(self, value):
        """Keys, set items and generator states: plain data only, no hook."""
        hook, self.hook = self.hook, None
        try:
            return self.encode(value)
        finally:
            self.hook = hook

    def array(self, array: np.ndarray) -> dict:
        if array.dtype.name not in DTYPES:
            raise Uncarriable(f"an array of {array.dtype}")
        self.budget.take(array.size)
        data = np.ascontiguousarray(array).tobytes()
        return {"dtype": array.dtype.name, "shape": list(array.shape), "data": base64.b64encode(data).decode("ascii")}


def decode(data, *, hook=None, memo: Memo | None = None):
    """The value that :func:`encode` described; ``ValueError`` for anything malformed.
    ``hook(tag, body, decoder, number)`` makes the objects of the tags it knows (``number`` is
    the object's place in the memo). Whatever goes wrong reading the data is a ``ValueError``."""
    try:
        return Decoder(hook, memo or Memo()).decode(data)
    except ValueError:
        raise
    except Exception as err:  # TypeError, KeyError, OverflowError, RecursionError...: malformed data
        raise ValueError(f"not plain data ({type(err).__name__})") from None


class Decoder:
    """One message read back: its hook, its memo and its budget."""

    def __init__(self, hook, memo: Memo):
        self.hook, self.memo, self.budget, self.depth = hook, memo, _Budget(), 0

    def decode(self, data):
        if self.depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH}")
        self.budget.take(error=ValueError)
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        self.depth += 1
        try:
            return self._object(data)
        finally:
            self.depth -= 1

    def _object(self, data):
        if isinstance(data, list):
            out: list = []
            self.memo.add(out)
            out.extend(self.decode(v) for v in data)
            return out
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
            real, imag = (self.decode(v) for v in _list(body, 2))
            return complex(float(real), float(imag))
        if tag == "__npscalar__":
            return self.array(body)[()]
        if tag == "__same__":
            return self.memo.get(body)
        if tag == "__ndarray__":
            number = self.memo.reserve()
            array = self.array(body)
            self.memo.fill(number, array)
            return array
        if tag == "__tuple__":
            number = self.memo.reserve()
            value = tuple(self.decode(v) for v in _list(body))
            self.memo.fill(number, value)
            return value
        if tag == "__set__":
            number = self.memo.reserve()
            value = {self.key(v) for v in _list(body)}
            self.memo.fill(number, value)
            return value
        if tag == "__dict__":
            out: dict = {}
            self.memo.add(out)
            for pair in _list(body):
                key, value = _list(pair, 2)
                key = self.key(key)
                out[key] = self.decode(value)
            return out
        if tag == "__rng__":
            number = self.memo.reserve()
            state = self.plain(body)
            if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
                raise ValueError("only PCG64 generators are carried")
            bit_generator = np.random.PCG64()
            bit_generator.state = state
            rng = np.random.Generator(bit_generator)
            self.memo.fill(number, rng)
            return rng
        if self.hook is not None and isinstance(tag, str) and tag.startswith("__") and tag.endswith("__"):
            number = self.memo.reserve()
            value = self.hook(tag, body, self, number)
            self.memo.fill(number, value)
            return value
        raise ValueError(f"unknown tag {str(tag)[:40]!r}")

    def plain(self, data):
        hook, self.hook = self.hook, None
        try:
            return self.decode(data)
        finally:
            self.hook = hook

    def key(self, data):
        """A dict key or a set item: plain and hashable."""
        value = self.plain(data)
        try:
            hash(value)
        except TypeError:
            raise ValueError("an unhashable key") from None
        return value

    def array(self, body) -> np.ndarray:
        if not isinstance(body, dict) or set(body) != {"dtype", "shape", "data"}:
            raise ValueError("bad array")
        dtype, shape = body["dtype"], body["shape"]
        if dtype not in DTYPES or not isinstance(shape, list) or len(shape) > 32 or not all(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in shape):
            raise ValueError("bad array header")
        size = math.prod(shape)
        self.budget.take(size, error=ValueError)
        if not isinstance(body["data"], str):
            raise ValueError("bad array data")
        try:
            raw = base64.b64decode(body["data"], validate=True)
        except (ValueError, TypeError) as err:
            raise ValueError(f"bad array data ({type(err).__name__})") from None
        if len(raw) != size * np.dtype(dtype).itemsize:
            raise ValueError("array data and shape disagree")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _list(body, length: int | None = None) -> list:
    if not isinstance(body, list) or (length is not None and len(body) != length):
        raise ValueError("expected a list" + (f" of {length}" if length else ""))
    return body
