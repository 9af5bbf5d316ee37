"""The one message channel of grading (course_utils.grading.agent.channel): any input ends well."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.grading.agent.channel import Channel


def test_messages_go_one_a_line():
    out = io.BytesIO()
    Channel(io.BytesIO(), out).send({"op": "ran", "cells": {"errors": 1}})
    assert out.getvalue() == b'{"op": "ran", "cells": {"errors": 1}}\n'
    incoming = io.BytesIO(b'{"id": 1}\n{"op": "alive"}\n')
    assert list(Channel(incoming, io.BytesIO()).receive()) == [{"id": 1}, {"op": "alive"}]


def test_a_line_that_cannot_be_decoded_ends_the_conversation_with_its_reason():
    for line, why in [(b"not json\n", "unreadable message (JSONDecodeError)"),
                      (b"[1, 2]\n", "not a JSON object"),
                      (b"\xff\xfe\n", "unreadable message"),
                      (b"[" * 200_000 + b"]" * 200_000 + b"\n", "unreadable message (RecursionError)")]:
        channel = Channel(io.BytesIO(b'{"id": 1}\n' + line + b'{"id": 2}\n'), io.BytesIO())
        assert list(channel.receive()) == [{"id": 1}], line[:20]
        assert why in channel.why


def test_a_line_longer_than_the_limit_ends_the_conversation():
    channel = Channel(io.BytesIO(b'{"id": 1}\n{"x": "' + b"a" * 100 + b'"}\n{"id": 2}\n'), io.BytesIO(), max_line=50)
    assert list(channel.receive()) == [{"id": 1}] and "longer than 50 bytes" in channel.why
    channel = Channel(io.BytesIO(b'{"id": 1}'), io.BytesIO())
    assert list(channel.receive()) == [] and "inside a message" in channel.why


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_the_channel_survives_any_bytes(lines):
    """Fuzz: whatever arrives, receive yields dicts only and stops with a reason, never raises."""
    channel = Channel(io.BytesIO(b"\n".join(lines)), io.BytesIO())
    messages = list(channel.receive())
    assert all(isinstance(m, dict) for m in messages) and channel.why


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                 max_size=4), max_leaves=30))
def test_the_channel_carries_any_json_object(value):
    out = io.BytesIO()
    Channel(io.BytesIO(), out).send({"value": value})
    back = list(Channel(io.BytesIO(out.getvalue()), io.BytesIO()).receive())
    assert len(back) == 1 and back[0].keys() == {"value"}
