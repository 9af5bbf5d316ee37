"""Plain data across the sandbox boundary (course_utils.grading.agent.wire)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from course_utils.grading.agent import wire


@pytest.mark.parametrize("value", [
    None, True, 3, 2**80, -1.5, float("inf"), "text", [1, [2, 3]], (1, "a"), {"AND": (np.ones(2), -1.5)},
    {1: "x", (2, 3): [4]}, np.arange(6, dtype=np.int32).reshape(2, 3), np.float32(0.5), np.bool_(True),
    complex(1, -2), {1, 2}, Ellipsis, np.zeros((0, 3)),
])
def test_wire_round_trips_plain_data(value):
    back = wire.decode(json.loads(json.dumps(wire.encode(value))))
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    elif isinstance(value, dict) and "AND" in value:
        assert np.array_equal(back["AND"][0], value["AND"][0]) and back["AND"][1] == -1.5
    else:
        assert back == value and type(back) is type(value)


def test_wire_carries_a_generator_state():
    rng = np.random.default_rng(5)
    rng.normal()
    back = wire.decode(wire.encode(rng))
    assert back.normal() == rng.normal()


@pytest.mark.parametrize("value", [print, np, type, np.array([object()]), lambda: 1, iter([1])])
def test_wire_refuses_what_is_not_plain_data(value):
    with pytest.raises(wire.Uncarriable):
        wire.encode(value)


@pytest.mark.parametrize("data", [
    {"__pickle__": "gASVAAAA"}, {"__ndarray__": {"dtype": "object", "shape": [1], "data": ""}},
    {"__ndarray__": {"dtype": "float64", "shape": [10**9], "data": ""}},
    {"__ndarray__": {"dtype": "float64", "shape": [2], "data": "AAAA"}}, {"a": 1, "b": 2},
    {"__rng__": {"__dict__": [["bit_generator", "MT19937"]]}}, {"__float__": "1e400"},
])
def test_wire_refuses_malformed_data(data):
    with pytest.raises((ValueError, wire.Uncarriable)):
        wire.decode(data)


def test_wire_refuses_deep_nesting():
    data = []
    for _ in range(wire.MAX_DEPTH + 5):
        data = [data]
    with pytest.raises(ValueError):
        wire.decode(data)


def test_wire_takes_iterators_and_tensors_only_when_asked():
    assert wire.decode(wire.encode((i for i in range(3)), iterators=True)) == [0, 1, 2]

    class Tensor:
        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return np.ones(2)

    assert np.array_equal(wire.decode(wire.encode(Tensor(), tensors=True)), np.ones(2))


def test_each_encode_keeps_its_own_handle():
    """No switch shared between calls: an encode inside another (or in another thread) uses
    only its own options."""
    def handle(func):
        with pytest.raises(wire.Uncarriable):
            wire.encode(func)  # this call was given no handle
        return 7

    assert wire.encode([print, len], handle=handle) == [{"__handle__": 7}, {"__handle__": 7}]
