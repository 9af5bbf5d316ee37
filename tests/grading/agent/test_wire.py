"""Plain data across the sandbox boundary (course_utils.grading.agent.wire)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_an_object_met_twice_arrives_as_one_object():
    shared = np.ones(3)
    data = json.loads(json.dumps(wire.encode([shared, {"again": shared}])))
    back = wire.decode(data)
    assert back[0] is back[1]["again"]
    memo = wire.Memo()
    args = [[1, 2]]
    wire.encode(args, memo=memo)
    assert wire.encode(args[0], memo=memo) == {"__same__": 1}, "a later message refers to an earlier one"


@pytest.mark.parametrize("value", [print, np, type, np.array([object()]), lambda: 1, iter([1])])
def test_wire_refuses_what_is_not_plain_data(value):
    with pytest.raises(wire.Uncarriable):
        wire.encode(value)


def test_a_hook_carries_what_it_knows_and_both_sides_number_alike():
    class Thing:
        def __init__(self, n):
            self.n = n

    def out(value, enc):
        return {"__thing__": value.n} if isinstance(value, Thing) else None

    def into(tag, body, dec, number):
        return Thing(body)

    thing = Thing(4)
    data = wire.encode([thing, thing, np.ones(1)], hook=out)
    back = wire.decode(data, hook=into)
    assert back[0].n == 4 and back[0] is back[1]
    with pytest.raises(wire.Uncarriable):
        wire.encode(print, hook=out)
    with pytest.raises(ValueError):
        wire.decode({"__thing__": 1})  # no hook: an unknown tag


@pytest.mark.parametrize("data", [
    {"__pickle__": "gASVAAAA"}, {"__ndarray__": {"dtype": "object", "shape": [1], "data": ""}},
    {"__ndarray__": {"dtype": "float64", "shape": [10**9], "data": ""}},
    {"__ndarray__": {"dtype": "float64", "shape": [2], "data": "AAAA"}}, {"a": 1, "b": 2},
    {"__rng__": {"__dict__": [["bit_generator", "MT19937"]]}}, {"__float__": "1e400"},
    {"__complex__": [[1], 2]}, {"__same__": 5}, {"__dict__": [[[1], 2]]}, {"__rng__": {"__dict__": [
        ["bit_generator", "PCG64"], ["state", 3]]}},
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


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["__same__", "__ndarray__", "__dict__", "__tuple__", "__rng__", "__set__",
                                         "__complex__", "__float__", "__npscalar__", "__tensor__", "dtype", "shape",
                                         "data", "x"]), inner, max_size=3), max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_decoding_any_json_gives_plain_data_or_a_value_error(data):
    """Fuzz: the grader reads whatever the sandbox sends without any other exception."""
    try:
        wire.decode(data)
    except ValueError:
        pass
