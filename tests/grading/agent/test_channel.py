"""The one message channel of grading (course_utils.grading.agent.channel)."""

from __future__ import annotations

import io

from course_utils.grading.agent.channel import Channel


def test_messages_go_one_a_line_and_bad_lines_are_skipped():
    out = io.BytesIO()
    Channel(io.BytesIO(), out).send({"op": "ran", "cells": {"errors": 1}})
    assert out.getvalue() == b'{"op": "ran", "cells": {"errors": 1}}\n'
    incoming = io.BytesIO(b'{"id": 1}\nnot json\n[1, 2]\n{"op": "alive"}\n')
    assert list(Channel(incoming, io.BytesIO()).receive()) == [{"id": 1}, {"op": "alive"}]


def test_a_line_longer_than_the_limit_ends_the_conversation():
    incoming = io.BytesIO(b'{"id": 1}\n{"x": "' + b"a" * 100 + b'"}\n{"id": 2}\n')
    assert list(Channel(incoming, io.BytesIO(), max_line=50).receive()) == [{"id": 1}]
