"""Grading on a Dask distributed cluster (here a local one): same results as on one machine."""

from __future__ import annotations

import shutil

import pytest

from course_utils.__main__ import main as cli
from course_utils.checks import checks_for
from course_utils.grading.bubblewrap import bwrap_problem
from tests.conftest import ROOT

distributed = pytest.importorskip("distributed")


@pytest.mark.slow
@pytest.mark.skipif(bool(bwrap_problem()), reason="no sandbox here")
def test_grading_on_a_local_dask_cluster(tmp_path):
    import json

    for learner, folder in (("ann", "solutions"), ("ben", "exercises"), ("cy", "solutions")):
        (tmp_path / "subs" / learner).mkdir(parents=True)
        shutil.copy(ROOT / folder / "00-perceptron.ipynb", tmp_path / "subs" / learner / "00-perceptron.ipynb")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}) as cluster:
        out = tmp_path / "out" / "r"
        assert cli(["grade", str(tmp_path / "subs"), "--out", str(out), "--scheduler", cluster.scheduler_address,
                    "--no-progress"]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    totals = {s["learner"]: [r["status"] for r in s["results"]] for s in report["submissions"]}
    n = len(checks_for("00"))
    assert totals == {"ann": ["pass"] * n, "ben": ["fail"] * n, "cy": ["pass"] * n}
    assert report["options"]["scheduler"].startswith("tcp://")
    assert all(s["sandbox"] == "bubblewrap" for s in report["submissions"])


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    shutil.copy(ROOT / "solutions" / "00-perceptron.ipynb", tmp_path / "x.ipynb")
    assert cli(["grade", str(tmp_path / "x.ipynb"), "--out", str(tmp_path / "r"), "--scheduler",
                "tcp://127.0.0.1:1", "--no-progress"]) == 2
    assert "Dask scheduler" in capsys.readouterr().err
