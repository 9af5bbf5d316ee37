"""The bubblewrap sandbox (course_utils.grading.bubblewrap, course_utils.grading.view)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


SYSCALLS = """
import ctypes, errno, os, threading
libc = ctypes.CDLL(None, use_errno=True)
numbers = NUMBERS
for name in ("ptrace", "unshare", "setns", "io_uring_setup", "keyctl", "bpf", "userfaultfd", "perf_event_open",
             "clone3"):
    result = libc.syscall(numbers[name], 0, 0, 0, 0, 0)
    print(name, result, errno.errorcode.get(ctypes.get_errno()))
libc.syscall(numbers["clone"], 0x10000000 | 17, 0, 0, 0, 0)  # a new user namespace
print("clone_newuser", errno.errorcode.get(ctypes.get_errno()))
thread = threading.Thread(target=lambda: None)
thread.start()
thread.join()
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("threads fork")
"""


@pytest.mark.skipif(bool(bubblewrap.bwrap_problem() or bubblewrap.seccomp_problem()), reason="no seccomp sandbox")
def test_the_seccomp_filter_refuses_what_a_notebook_has_no_use_for():
    package = view.package_view("00")
    fd = bubblewrap.seccomp_fd()
    try:
        from course_utils.grading.seccomp import NUMBERS, machine

        code = SYSCALLS.replace("NUMBERS", repr(NUMBERS[machine()]))
        argv = bubblewrap.bwrap_argv([sys.executable, "-c", code], view=package, tmpfs_mb=16, seccomp_fd=fd)
        done = subprocess.run(argv, env=bubblewrap.sandbox_env(package, None), capture_output=True, text=True,
                              timeout=60, pass_fds=(fd,))
    finally:
        import os

        os.close(fd)
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    for name in ("ptrace", "unshare", "setns", "io_uring_setup", "keyctl", "bpf", "userfaultfd", "perf_event_open"):
        assert lines.get(name) == "-1 EPERM", (name, done.stdout, done.stderr)
    assert lines["clone3"] == "-1 ENOSYS" and lines["clone_newuser"] == "EPERM"
    assert lines["threads"] == "fork", "threads and processes still work"


def test_the_seccomp_tables_match_the_kernel_headers_where_they_are_installed():
    import re
    from pathlib import Path

    from course_utils.grading import seccomp

    headers = {"x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
               "aarch64": Path("/usr/include/asm-generic/unistd.h")}
    checked = 0
    for arch, header in headers.items():
        if not header.exists():
            continue
        table = {name: int(n) for name, n in re.findall(r"#define __NR_(\w+)\s+(\d+)\b", header.read_text())}
        wrong = {name: (n, table.get(name)) for name, n in seccomp.NUMBERS[arch].items() if table.get(name) != n}
        assert not wrong, (arch, wrong)
        checked += 1
    assert seccomp.program("sparc") is None
    assert len(seccomp.program("x86_64")) % 8 == 0
    if not checked:
        pytest.skip("no kernel headers here")


class _FakeAgent:
    """Stands for a sandbox's process whose agent writes ``output`` (a hijacked driver)."""

    def __init__(self, output: bytes):
        import io

        self.stdout, self.stdin = io.BytesIO(output), io.BytesIO()


def test_a_sandbox_that_sends_anything_ends_its_notebook_with_a_reason():
    from course_utils.grading.sandbox import AgentLink, SandboxError

    deep = b"[" * 200_000 + b"]" * 200_000 + b"\n"
    link = AgentLink(_FakeAgent(b'{"op": "ran", "ok": true}\n' + deep + b'{"op": "ready", "ok": true}\n'))
    assert link.event("ran", 5)["ok"]
    with pytest.raises(SandboxError, match=r"unreadable message \(RecursionError\)"):
        link.event("ready", 5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=60), st.sampled_from(
    [b'{"op": "ran", "ok": true}', b'{"id": 1, "ok": true}', b'{"op": "callback", "for": 1}', b"[" * 5000,
     b'{"op": "ready"}', b'"text"', b"\xff"])), max_size=6))
def test_the_grader_reads_any_sandbox_output_without_dying(lines):
    """Fuzz: whatever a sandbox writes, waiting on it returns a message or raises SandboxError."""
    from course_utils.grading.sandbox import AgentLink, SandboxError

    link = AgentLink(_FakeAgent(b"\n".join(lines)))
    for op in ("ran", "ready"):
        try:
            assert isinstance(link.event(op, 0.5), dict)
        except SandboxError:
            pass
    try:
        link.request("describe", 0.2, target="x")
    except SandboxError:
        pass
