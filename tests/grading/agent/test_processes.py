"""Processes on both sides of the sandbox (course_utils.grading.agent.processes)."""

from __future__ import annotations

import subprocess
import sys
import time

from course_utils.grading.agent.processes import MemoryWatchdog, kill_tree, process_tree

SPAWNS_A_CHILD = ("import subprocess, sys, time\n"
                  "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                  "time.sleep(60)")


def _with_child():
    parent = subprocess.Popen([sys.executable, "-c", SPAWNS_A_CHILD])
    deadline = time.monotonic() + 30
    while len(process_tree(parent.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return parent


def test_kill_tree_ends_a_process_and_its_descendants():
    parent = _with_child()
    tree = process_tree(parent.pid)
    assert len(tree) == 2
    kill_tree(parent.pid)
    parent.wait(timeout=10)
    for proc in tree[1:]:
        proc.wait(timeout=10)
        assert not proc.is_running()
    kill_tree(None)  # nothing to end is not an error


def test_the_watchdog_sums_a_tree_and_acts_above_its_limit():
    parent = _with_child()
    exceeded = []
    watchdog = MemoryWatchdog(lambda: parent.pid, 1, exceeded.append, interval=0.05)
    try:
        deadline = time.monotonic() + 30
        while not exceeded and time.monotonic() < deadline:
            time.sleep(0.05)
        assert exceeded and exceeded[0] == parent.pid and watchdog.peak_mb > 1
    finally:
        watchdog.stop()
        kill_tree(parent.pid)
        parent.wait(timeout=10)
