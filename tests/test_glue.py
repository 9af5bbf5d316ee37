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


def test_a_comparison_names_both_quantities_and_its_verdict_follows_the_numbers():
    from course_utils.glue import comparison
    ahead = comparison([0.90, 0.91, 0.92], [0.80, 0.82, 0.81], a_name="the probe", b_name="scratch",
                       paired=True, more="ahead of", less="behind", same="level with")
    assert ahead == "the probe (0.910 ± 0.010) is ahead of scratch (0.810 ± 0.010)"
    behind = comparison([0.80, 0.82, 0.81], [0.90, 0.91, 0.92], a_name="scratch", b_name="the probe",
                        paired=True, more="ahead of", less="behind", same="level with")
    assert behind.startswith("scratch (0.810 ± 0.010) is behind the probe")
    noisy = comparison([0.5, 0.9, 0.7], [0.6, 0.8, 0.62], a_name="a", b_name="b")
    assert " is not distinguishable from b " in noisy


def test_paired_comparison_sees_a_consistent_small_gain_that_unpaired_does_not():
    from course_utils.glue import comparison
    base = np.array([0.6, 0.8, 0.7, 0.9, 0.65])
    gained = base + np.array([0.011, 0.009, 0.010, 0.012, 0.008])
    assert "larger than" in comparison(gained, base, a_name="a", b_name="b", paired=True)
    assert "not distinguishable" in comparison(gained, base, a_name="a", b_name="b")


def test_single_numbers_compare_as_they_are_and_mixed_sizes_are_refused():
    from course_utils.glue import comparison
    assert comparison(1e-10, 1e-6, a_name="x", b_name="y", fmt=".0e") == "x (1e-10) is smaller than y (1e-06)"
    with pytest.raises(ValueError):
        comparison([1.0, 2.0], 1.0, a_name="x", b_name="y")
    with pytest.raises(ValueError):
        comparison([1.0, 2.0], [1.0, 2.0, 3.0], a_name="x", b_name="y", paired=True)
