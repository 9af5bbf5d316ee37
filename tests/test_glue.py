"""course_utils.glue pastes plain numbers, so the prose's format specs work on them."""

import numpy as np
import pytest
from myst_nb.core.variables import format_plain_text

from course_utils.glue import glue, plain
from course_utils.metrics import read_metrics


@pytest.mark.parametrize("value, spec, text", [
    (np.float64(0.91444), ".1%", "91.4%"),
    (np.float32(2.5), ".2f", "2.50"),
    (np.int64(7), "d", "7"),
    (np.array(0.125), ".3f", "0.125"),
])
def test_numpy_values_are_glued_as_numbers_the_roles_can_format(value, spec, text):
    assert format_plain_text(repr(plain(value)), spec) == text


def test_glue_displays_nothing_and_records_only_when_asked(tmp_path, monkeypatch, capsys):
    target = tmp_path / "metrics.jsonl"
    monkeypatch.setenv("COURSE_METRICS_FILE", str(target))
    assert glue("a", np.float64(0.5)) == 0.5
    assert glue("b", 3, metric=True) == 3
    assert read_metrics(target) == {"b": 3.0}
    assert capsys.readouterr().out == ""
