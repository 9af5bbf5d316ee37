"""The bubblewrap sandbox (course_utils.grading.bubblewrap, course_utils.grading.view)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from course_utils.grading import bubblewrap, view
from tests.conftest import ROOT


@pytest.mark.skipif(bool(bubblewrap.bwrap_problem()), reason="no sandbox here")
def test_the_sandbox_has_no_network_no_host_files_and_a_read_only_package():
    package = view.package_view("00")
    code = ("import os, socket, course_utils\n"
            "s = socket.socket()\n"
            "try:\n    s.connect(('1.1.1.1', 80)); print('network')\nexcept OSError: print('no network')\n"
            f"print('host files' if os.path.exists({str(ROOT / 'tests')!r}) else 'no host files')\n"
            "try:\n    open(os.path.join(os.path.dirname(course_utils.__file__), 'x'), 'w'); print('writable')\n"
            "except OSError: print('read-only')\n"
            "print(len([p for p in os.listdir('/proc') if p.isdigit()]))\n")
    argv = bubblewrap.bwrap_argv([sys.executable, "-c", code], view=package, tmpfs_mb=16)
    done = subprocess.run(argv, env=bubblewrap.sandbox_env(package, None), capture_output=True, text=True, timeout=60)
    lines = done.stdout.split("\n")
    assert lines[:3] == ["no network", "no host files", "read-only"], done.stdout + done.stderr
    assert int(lines[3]) <= 3, "its own process namespace"
