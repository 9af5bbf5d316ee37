"""The benchmark command times notebooks and collects the metrics they record."""

import json

import nbformat
import pytest

from course_utils import benchmark
from course_utils.__main__ import main as cli
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


def _notebook(path, source):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_benchmark_writes_the_report(tmp_path, monkeypatch):
    good = _notebook(tmp_path / "01-good.ipynb",
                     "from course_utils import get_profile\n"
                     "from course_utils.metrics import record_metric\n"
                     "record_metric('answer', 42 if get_profile().name == 'smoke' else 0)")
    bad = _notebook(tmp_path / "02-bad.ipynb", "raise ValueError('boom')")
    out = tmp_path / "bench"
    monkeypatch.chdir(tmp_path)  # the repository root: reports name notebooks relative to it
    code = cli(["benchmark", str(good), str(bad), "--profile", "smoke", "--out", str(out), "--timeout", "60"])
    assert code == 1  # one notebook failed
    (report_path,) = out.glob("smoke-*.json")
    report = json.loads(report_path.read_text())
    assert report["profile"] == "smoke" and report["device"]
    assert report["metrics"] == {"answer": 42.0}
    names = [n["notebook"] for n in report["notebooks"]]
    assert names == ["01-good.ipynb", "02-bad.ipynb"]  # no folder of this machine
    assert "error" in report["notebooks"][1] and "ValueError" in report["notebooks"][1]["error"]
    assert all(n["seconds"] > 0 for n in report["notebooks"])
    assert "numpy" in report["packages"]


def test_device_slug():
    assert benchmark.device_slug("CPU: AMD EPYC (2 cores)") == "cpu"
    assert benchmark.device_slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
