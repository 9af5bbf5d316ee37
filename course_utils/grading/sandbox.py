"""One sandbox per notebook (grading, book/grading.md): the agent, started in a bubblewrap
sandbox (:mod:`.bubblewrap`) over the learner's view of the package (:mod:`.view`), and the
grader's link to it.

Limits on memory (address space), processes, file size and CPU time are set inside before any
learner code runs, and no child can raise them; a watchdog outside sums the memory of every
process in the sandbox. Ending the sandbox's first process ends its process namespace:
everything the notebook started, daemons included, dies with it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from course_utils.grading.agent.channel import Channel
from course_utils.grading.agent.processes import MemoryWatchdog, kill_tree
from course_utils.grading.bubblewrap import bwrap_argv, sandbox_env, seccomp_fd, seccomp_problem

MARK_ENV = "COURSE_GRADER_MARK"
SILENCE_LIMIT = 20.0  # seconds without a word (the agent says "alive" every 1.5 s): stopped or hung


class SandboxError(RuntimeError):
    """The sandbox could not be started or stopped talking."""


class AgentLink:
    """The grader's end of the channel to the agent in a sandbox: requests numbered and their
    replies matched by id, the agent's own words (``ran``, ``ready``) kept as events. Nothing
    the agent says is trusted: messages are capped and checked; a closed or silent agent
    raises SandboxError."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.channel = Channel(proc.stdout, proc.stdin)
        self.cond = threading.Condition()
        self.replies: dict = {}
        self.callbacks: dict = {}  # request id -> the sandbox's callbacks waiting to run
        self.events: list = []
        self.closed = False
        self.next_id = 0
        self.pending: set = set()
        self.last_seen = time.monotonic()
        threading.Thread(target=self._read, daemon=True).start()

    def _silent(self) -> bool:
        return time.monotonic() - self.last_seen > SILENCE_LIMIT

    def _read(self):
        try:
            for message in self.channel.receive():
                self.last_seen = time.monotonic()
                if message.get("op") == "alive":
                    continue
                with self.cond:
                    if message.get("op") == "callback":
                        if message.get("for") in self.pending and len(self.callbacks.get(message["for"], ())) < 2:
                            self.callbacks.setdefault(message["for"], []).append(message)
                    elif "id" in message and message["id"] in self.pending:
                        self.replies[message["id"]] = message
                        self.pending.discard(message["id"])
                    elif "op" in message and "id" not in message and len(self.events) < 10:
                        self.events.append(message)
                    self.cond.notify_all()
        except Exception as err:  # the reader never dies with a traceback: the notebook ends, with a reason
            self.channel.why = f"the grader could not read the sandbox ({type(err).__name__})"
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def send(self, message: dict) -> None:
        try:
            self.channel.send(message)
        except (OSError, ValueError) as err:
            raise SandboxError("the sandbox stopped listening") from err

    def _wait(self, take, timeout: float, margin: float, waiting_for: str):
        """Wait (holding ``self.cond``) until ``take()`` returns a message, the sandbox ends or
        falls silent, or ``timeout + margin`` seconds pass."""
        deadline = time.monotonic() + timeout + margin
        while (message := take()) is None:
            left = deadline - time.monotonic()
            if self.closed:
                why = self.channel.why
                raise SandboxError("the sandbox ended" + (f": {why}" if why and why != "the stream ended" else ""))
            if self._silent():
                raise SandboxError("the sandbox stopped answering (stopped or hung)")
            if left <= 0:
                raise SandboxError(f"no {waiting_for} from the sandbox within {timeout:g} s")
            self.cond.wait(min(left, 1.0))
        return message

    def event(self, op: str, timeout: float) -> dict:
        """Wait for the driver's ``op`` message (``ran``, ``ready``)."""
        def take():
            for message in self.events:
                if message.get("op") == op:
                    self.events.remove(message)
                    return message
            return None

        with self.cond:
            return self._wait(take, timeout, 0, "word")

    def request(self, op: str, timeout: float, on_callback=None, **fields) -> dict:
        """Send a request and wait for its reply (at most ``timeout`` seconds, plus a margin).
        While it waits, the callbacks the sandbox makes for it run here: ``on_callback(message)``
        returns the reply sent back (none given: the callback fails)."""
        with self.cond:
            self.next_id += 1
            request_id = self.next_id
            self.pending.add(request_id)
        self.send({"id": request_id, "op": op, "timeout": timeout, **fields})
        deadline = time.monotonic() + timeout

        def take():
            if request_id in self.replies:
                return self.replies.pop(request_id)
            waiting = self.callbacks.get(request_id)
            return waiting.pop(0) if waiting else None

        try:
            while True:
                with self.cond:
                    message = self._wait(take, max(0.0, deadline - time.monotonic()), 5, "answer")
                if message.get("op") != "callback":
                    return message
                try:
                    reply = on_callback(message) if on_callback is not None else {
                        "ok": False, "error": {"type": "RuntimeError", "message": "no callbacks here"}}
                except BaseException:
                    self.send({"op": "callback_reply", "ok": False,
                               "error": {"type": "RuntimeError", "message": "the grader gave up"}})
                    raise
                self.send({"op": "callback_reply", **reply})
        finally:
            with self.cond:
                self.callbacks.pop(request_id, None)

    def busy(self) -> bool:
        with self.cond:
            return bool(self.pending)

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.pending and not self.closed and not self._silent():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.5))
            return not self.pending


class Sandbox:
    """The agent of one notebook in its sandbox (or, when allowed, without one)."""

    def __init__(self, view: Path, *, sandboxed: bool, memory_mb: float, tmpfs_mb: float):
        from course_utils.data.datasets import cache_dir

        cache = cache_dir()
        cache = cache if cache.is_dir() else None
        module = ["-m", "course_utils.grading.agent.driver"]
        self.sandboxed = sandboxed
        self.workdir = None
        self.mark = secrets.token_hex(16)  # without a sandbox: finds what the notebook left running
        fds: tuple = ()
        if sandboxed:
            fd = seccomp_fd() if not seccomp_problem() else None
            fds = (fd,) if fd is not None else ()
            argv = bwrap_argv([sys.executable, *module], view=view, tmpfs_mb=tmpfs_mb, cache=cache, seccomp_fd=fd)
            env = sandbox_env(view, cache)
            cwd = "/"
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="grade-nb-"))
            argv = [sys.executable, *module]
            env = {**sandbox_env(view, cache), "TMPDIR": str(self.workdir), "HOME": str(self.workdir / "home"),
                   "PYTHONPATH": str(view), MARK_ENV: self.mark}
            cwd = str(self.workdir)
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, cwd=cwd, env=env, start_new_session=True,
                                         pass_fds=fds)
        finally:
            for fd in fds:
                os.close(fd)
        self.link = AgentLink(self.proc)
        self.memory_killed = False
        self.watchdog = MemoryWatchdog(lambda: self.proc.pid, (1.5 * memory_mb + 1024) * 2**20,  # all of it
                                       self._memory_exceeded, interval=0.2)

    def _memory_exceeded(self, pid):
        self.memory_killed = True
        self.kill()

    @property
    def peak_mb(self) -> float:
        return self.watchdog.peak_mb

    def send(self, message: dict) -> None:
        """Tell the agent what to run: its :class:`~.agent.job.KernelSetup`, then its :class:`~.agent.job.KernelJob`."""
        self.link.send(message)

    def kill(self) -> None:
        """End the sandbox: every process in it (its first process holds its process namespace,
        so everything else dies with it; without a sandbox, what detached itself but kept the
        mark goes too)."""
        import psutil

        kill_tree(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        if not self.sandboxed:
            for proc in psutil.process_iter(["pid"]):
                try:
                    if proc.pid != os.getpid() and proc.environ().get(MARK_ENV) == self.mark:
                        proc.kill()
                except psutil.Error:
                    continue

    def close(self) -> None:
        """End the sandbox at once: nothing in it is needed any more, and its processes tidying
        up after themselves would only cost time."""
        self.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.watchdog.stop()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
