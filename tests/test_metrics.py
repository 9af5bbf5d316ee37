"""Named results a notebook records for the benchmark report (course_utils.metrics)."""

from __future__ import annotations

from course_utils.metrics import read_metrics, record_metric


def test_record_metric_appends_to_the_file(tmp_path, monkeypatch, capsys):
    target = tmp_path / "m.jsonl"
    monkeypatch.setenv("COURSE_METRICS_FILE", str(target))
    record_metric("a", 0.5)
    record_metric("a", 0.75)
    record_metric("b", 2)
    assert read_metrics(target) == {"a": 0.75, "b": 2.0}
    assert capsys.readouterr().out == "", "recording a metric must not show anything to the learner"


def test_record_metric_without_file_does_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_METRICS_FILE", raising=False)
    assert record_metric("x", 1.25) == 1.25
    assert read_metrics(tmp_path / "absent") == {}
