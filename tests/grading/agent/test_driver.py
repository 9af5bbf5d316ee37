"""The agent's driver inside the sandbox (course_utils.grading.agent.driver): limits, the kernel's
environment, and a notebook run end to end without a sandbox."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from course_utils.grading import remote, sandbox
from course_utils.grading.agent import wire
from course_utils.grading.agent.driver import apply_limits, notebook_env
from tests.conftest import ROOT


def test_kernel_env_keeps_nothing_of_the_grader(monkeypatch, tmp_path):
    from course_utils.grading.agent.job import KernelSetup

    monkeypatch.setenv("SOME_TOKEN", "secret")
    monkeypatch.setenv("COURSE_CHECK_SECRET", "123")
    env = notebook_env(KernelSetup("smoke"), tmp_path)
    assert "SOME_TOKEN" not in env and "COURSE_CHECK_SECRET" not in env
    assert env["HOME"] == str(tmp_path) and env["IPYTHONDIR"].startswith(str(tmp_path))


def test_limits_are_set_and_cannot_be_raised_again():
    code = ("import resource; from course_utils.grading.agent.driver import apply_limits; "
            "apply_limits({'RLIMIT_FSIZE': 4096, 'RLIMIT_NPROC': 10000}); "
            "print(resource.getrlimit(resource.RLIMIT_FSIZE))\n"
            "try:\n    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192)); print('raised')\n"
            "except (ValueError, OSError): print('refused')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = done.stdout.split()
    assert "(4096," in done.stdout and (lines[-1] == "refused" or os.geteuid() == 0)
    assert callable(apply_limits)


@pytest.mark.slow
def test_the_driver_runs_a_notebook_and_answers_in_json_lines(tmp_path):
    import nbformat

    from course_utils.grading.agent.job import KernelJob, KernelSetup

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\ndef f(x):\n    x += 1\n    return x * 2\nv = {'a': 1}"),
        nbformat.v4.new_code_cell("print('x' * 10**6)\nraise ValueError('E' * 10**5)"),
    ])
    setup = KernelSetup("smoke", {"RLIMIT_CORE": 0}, memory_mb=1000)
    job = KernelJob("n.ipynb", nbformat.writes(nb), 30, 60)
    proc = subprocess.Popen([sys.executable, "-m", "course_utils.grading.agent.driver"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)})
    channel = sandbox.AgentLink(proc)
    try:
        channel.send({"setup": setup.to_dict()})
        channel.send({"job": job.to_dict()})
        ran = channel.event("ran", 120)
        assert ran["ok"] and ran["cells"]["errors"] == 1 and len(ran["notes"][0]) < 200
        assert channel.event("ready", 60)["ok"]
        assert wire.decode(channel.request("describe", 10, target="v")["value"]) == {"a": 1}
        reply = channel.request("call", 10, target="f", args=wire.encode([np.ones(2)]), kwargs=wire.encode({}))
        assert np.array_equal(wire.decode(reply["value"]), [4, 4])
        assert np.array_equal(wire.decode(reply["changed"]["0"]), [2, 2])
        proxy = remote.Proxy(remote.Session(channel), "f")
        data = np.zeros(3)
        assert np.array_equal(proxy(data), [2, 2, 2]) and np.array_equal(data, [1, 1, 1])
    finally:
        channel.send({"op": "stop"})
        proc.wait(timeout=30)
    assert proc.returncode == 0
