"""The notebook runner and the kernels' environment (course_utils.authoring.notebooks)."""

import os

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from course_utils.__main__ import main as cli
from course_utils.authoring.notebooks import course_variables, kernel_env, run_notebook


def test_kernel_env_defaults_and_overrides():
    env = kernel_env(base={"PATH": "/bin"}, profile="smoke", metrics_file="m.jsonl", threads=1)
    assert env["PATH"] == "/bin"
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "2" and env["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert env["COURSE_PROFILE"] == "smoke" and env["COURSE_METRICS_FILE"] == "m.jsonl"
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert kernel_env(base={}, TF_CPP_MIN_LOG_LEVEL="0")["TF_CPP_MIN_LOG_LEVEL"] == "0"
    assert kernel_env(base={"TF_ENABLE_ONEDNN_OPTS": "1"})["TF_ENABLE_ONEDNN_OPTS"] == "1"


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="smoke"):
        course_variables(profile="fast")


def test_env_command_prints_shell_exports(capsys):
    assert cli(["env", "--shell", "--profile", "smoke"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "export COURSE_PROFILE=smoke" in lines and "export TF_ENABLE_ONEDNN_OPTS=0" in lines
    assert cli(["env", "--profile", "fast"]) == 2


@pytest.mark.slow
def test_run_notebook_gives_the_kernel_its_environment(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os; print(os.environ['COURSE_PROFILE'], os.getcwd())"),
        nbformat.v4.new_code_cell("raise ValueError('boom')"),
    ])
    before = dict(os.environ)
    env = kernel_env(profile="gpu")
    done = run_notebook(nb, env=env, cwd=tmp_path, cell_timeout=60, allow_errors=True)
    assert done.cells[0].outputs[0]["text"].split() == ["gpu", str(tmp_path)]
    assert done.cells[1].outputs[0]["ename"] == "ValueError"
    assert dict(os.environ) == before
    with pytest.raises(CellExecutionError, match="boom"):
        run_notebook(nb, env=env, cwd=tmp_path, cell_timeout=60)
