"""Processes on both sides of the sandbox (grading, book/grading.md): a process with all its
descendants, their memory summed, a watchdog that acts when that sum goes above a limit, and
the one way the grader ends them. The grader watches a whole sandbox with it; the agent inside
watches the notebook's kernel."""

from __future__ import annotations

import threading

import psutil


def process_tree(pid: int) -> list:
    """The process ``pid`` and all its descendants (psutil processes), root first; [] when gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def resident_bytes(processes) -> int:
    """The resident memory of ``processes`` together (one that has ended counts 0)."""
    total = 0
    for proc in processes:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def kill_tree(pid: int | None) -> None:
    """Kill the process ``pid`` and every descendant it has now, the descendants first."""
    if not pid:
        return
    tree = process_tree(pid)
    for proc in tree[1:] + tree[:1]:
        try:
            proc.kill()
        except psutil.Error:
            pass


class MemoryWatchdog:
    """Every ``interval`` seconds, sums the memory of the process ``pid_of()`` returns (None:
    nothing to watch now) and its descendants, keeps the peak in ``peak_mb``, and calls
    ``on_exceed(pid)`` when the sum is above ``limit_bytes``. Runs in a daemon thread until
    :meth:`stop`."""

    def __init__(self, pid_of, limit_bytes: float, on_exceed, interval: float):
        self.pid_of, self.limit_bytes, self.on_exceed, self.interval = pid_of, limit_bytes, on_exceed, interval
        self.peak_mb = 0.0
        self._stopped = threading.Event()
        threading.Thread(target=self._watch, daemon=True, name="memory watchdog").start()

    def _watch(self) -> None:
        while not self._stopped.wait(self.interval):
            pid = self.pid_of()
            if not pid:
                continue
            tree = process_tree(pid)
            if not tree:
                continue
            rss = resident_bytes(tree)
            self.peak_mb = max(self.peak_mb, rss / 2**20)
            if rss > self.limit_bytes:
                self.on_exceed(pid)

    def stop(self) -> None:
        self._stopped.set()
