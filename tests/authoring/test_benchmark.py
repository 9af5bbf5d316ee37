"""The benchmark command times notebooks and collects the metrics they record."""

import json

import nbformat
import pytest

from course_utils.__main__ import main as cli
from course_utils.authoring import benchmark


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


@pytest.mark.slow
def test_benchmark_update_replaces_only_the_notebooks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = _notebook(tmp_path / "01-first.ipynb",
                      "from course_utils.metrics import record_metric\n"
                      "record_metric('kept', 1.0)")
    second = _notebook(tmp_path / "02-second.ipynb",
                       "from course_utils.metrics import record_metric\n"
                       "record_metric('old_name', 2.0)")
    out = tmp_path / "bench"
    args = ["--profile", "smoke", "--out", str(out), "--timeout", "60"]
    assert cli(["benchmark", str(first), str(second), *args]) == 0
    (report_path,) = out.glob("smoke-*.json")
    report = json.loads(report_path.read_text())
    report["notebooks"][0]["date"] = "2000-01-01"  # an earlier run of the first notebook
    report_path.write_text(json.dumps(report))
    _notebook(second, "from course_utils.metrics import record_metric\n"
                      "record_metric('new_name', 3.0)")
    assert cli(["benchmark", str(second), "--update", *args]) == 0
    report = json.loads(report_path.read_text())
    assert [n["notebook"] for n in report["notebooks"]] == ["01-first.ipynb", "02-second.ipynb"]
    assert report["notebooks"][0]["date"] == "2000-01-01"  # not re-run, kept as it was
    assert report["notebooks"][1]["date"] == report["date"] != "2000-01-01"
    assert report["metrics"] == {"kept": 1.0, "new_name": 3.0}  # the stale metric is gone
    assert cli(["benchmark", str(second), *args]) == 0  # without --update: a new report
    assert [n["notebook"] for n in json.loads(report_path.read_text())["notebooks"]] == [
        "02-second.ipynb"]


def test_benchmark_update_refuses_a_report_of_another_profile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "bench"
    out.mkdir()
    (out / "smoke-cpu.json").write_text(json.dumps(
        {"profile": "full", "device": "CPU: x (2 cores)", "notebooks": [], "metrics": {}}))
    monkeypatch.setattr(benchmark, "device_name", lambda: "CPU: x (2 cores)")
    with pytest.raises(SystemExit, match="is for full"):
        cli(["benchmark", str(tmp_path / "01-x.ipynb"), "--update", "--profile", "smoke",
             "--out", str(out)])


def test_device_slug():
    assert benchmark.device_slug("CPU: AMD EPYC (2 cores)") == "cpu"
    assert benchmark.device_slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
