"""The sandbox side of grading: runs ONE notebook, then answers the grader (book/grading.md).

The grader starts ``python -m course_utils.grading.agent.driver`` inside the sandbox and talks
to it in JSON lines: on stdin first a :class:`~.contracts.KernelJob`, then requests
(``describe``, ``call``, ``check``, ``interrupt``, ``stop``); on stdout ``{"op": "ran", ...}``
once the cells have run, then one reply per request. The notebook's kernel and this driver
both live in the sandbox (the kernel's ZMQ sockets use the sandbox's own loopback).

This process shares the sandbox with the learner's code, so the grader trusts nothing it
says: replies are plain data, checked and capped, and every verdict is reached outside.
It runs the code cells one by one with nbclient (public API) under a per-cell and a total
time limit, carries on after errors, time-outs and dead kernels (restarting the kernel), and
keeps no cell output, so a notebook that prints gigabytes fills nothing.
"""

from __future__ import annotations

import ast
import json
import os
import queue
import resource
import signal
import sys
import threading
import time
from pathlib import Path

from course_utils.grading.agent.channel import Channel
from course_utils.grading.agent.job import KernelJob, cap
from course_utils.grading.agent.processes import MemoryWatchdog, kill_tree

HEARTBEAT = 1.5  # seconds between two "alive" messages
GRADER_NAME = "_course_grader"
INSTALL_CODE = ("import course_utils.grading.agent.answers as _course_grader_module\n"
                "_course_grader_module.install()\ndel _course_grader_module")


def apply_limits(limits: dict) -> None:
    """Lower this process's resource limits (children inherit them and cannot raise them)."""
    for name, value in limits.items():
        which = getattr(resource, name)
        soft, hard = resource.getrlimit(which)
        value = int(value)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def notebook_env(job: KernelJob, home: Path) -> dict:
    """The environment of the notebook's kernel: every kernel's (:func:`course_utils.authoring.
    notebooks.kernel_env`, with a private home) on a base that keeps nothing of the grader's but
    the paths."""
    from course_utils.authoring.notebooks import kernel_env

    base = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "LANG", "COURSE_CACHE_DIR", "COURSE_GRADER_MARK")
            if k in os.environ}
    return kernel_env(base=base, profile=job.profile, threads=1, home=home, USER="learner", MPLBACKEND="Agg",
                      PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1", PYTHONUNBUFFERED="1",
                      PYDEVD_DISABLE_FILE_VALIDATION="1")


class GraderLink:
    """The agent's end of the channel to the grader, on private copies of stdin and stdout
    (the kernel's inherited stdin, stdout and stderr all point to /dev/null): requests queue
    up for :func:`serve`, an interrupt sets a flag, and a heartbeat says "alive"."""

    def __init__(self):
        self.channel = Channel(os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb"))
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        self.requests: queue.Queue = queue.Queue()
        self.interrupted = threading.Event()
        self._messages = self.channel.receive()

    def read_first(self) -> dict:
        return next(self._messages)

    def start_reader(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._heartbeat, daemon=True).start()

    def _heartbeat(self):
        """Say "alive" every second or two: a driver that stops (SIGSTOP) is noticed at once."""
        while True:
            time.sleep(HEARTBEAT)
            try:
                self.send({"op": "alive"})
            except (OSError, ValueError):
                return

    def _read(self):
        for request in self._messages:
            if request.get("op") == "interrupt":
                self.interrupted.set()
            else:
                self.requests.put(request)
        self.requests.put({"op": "stop"})

    def send(self, message: dict) -> None:
        self.channel.send(message)


def _client_class():
    from nbclient import NotebookClient

    class QuietClient(NotebookClient):
        """Keeps no output at all (errors still raise, from the execution reply)."""

        def output(self, outs, msg, display_id, cell_index):
            return None

    return QuietClient


class NotebookRun:
    """One notebook in one kernel, restarted as often as needed (nbclient, public API)."""

    def __init__(self, nb, job: KernelJob, workdir: Path, home: Path, memory_mb: float):
        self.nb = nb
        self.job = job
        self.workdir = workdir
        self.env = notebook_env(job, home)
        self.notes: list[str] = []
        self.memory_mb = memory_mb
        self.client = None
        self.blocking = None
        self.memory_tripped = False
        self._watch = threading.Event()
        self.watchdog = MemoryWatchdog(lambda: self.pid if self._watch.is_set() else None,
                                       memory_mb * 2**20, self._memory_exceeded, interval=0.1)

    # -- kernel life
    def start(self):
        self.client = _client_class()(self.nb, timeout=self.job.cell_timeout, kernel_name="python3",
                                      allow_errors=False, interrupt_on_timeout=False, startup_timeout=120,
                                      shutdown_kernel="immediate",
                                      resources={"metadata": {"path": str(self.workdir)}})
        self.client.km = self.client.create_kernel_manager()
        self.client.start_new_kernel(cwd=str(self.workdir), env=self.env)
        self.client.start_new_kernel_client()
        self.memory_tripped = False
        self._watch.set()

    @property
    def pid(self):
        km = self.client.km if self.client is not None else None
        provisioner = getattr(km, "provisioner", None) if km is not None else None
        return getattr(provisioner, "pid", None)

    def stop(self):
        self._watch.clear()
        pid = self.pid
        for closer in (lambda: self.blocking.stop_channels(), lambda: self.client.kc.stop_channels()):
            try:
                closer()
            except Exception:
                pass
        self.blocking = None
        kill_tree(pid)

    def restart(self, why: str):
        self.notes.append(cap(f"kernel restarted ({why})", 300))
        self.stop()
        self.start()

    def alive(self) -> bool:
        import psutil

        pid = self.pid
        try:
            return bool(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def interrupt(self):
        pid = self.pid
        if pid:
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass

    def why_dead(self) -> str:
        return f"memory above {self.memory_mb:g} MB" if self.memory_tripped else "the kernel died"

    def _memory_exceeded(self, pid):
        self.memory_tripped = True
        kill_tree(pid)

    @property
    def peak_mb(self) -> float:
        return self.watchdog.peak_mb

    # -- the grader's own requests, through a blocking client of jupyter_client
    def ask(self, code: str, timeout: float, expression: str | None = None, interrupted=None) -> dict:
        """Run ``code`` silently (no hooks, no history); the reply content, or an error."""
        from jupyter_client import BlockingKernelClient

        if self.blocking is None:
            self.blocking = BlockingKernelClient()
            self.blocking.load_connection_info(self.client.km.get_connection_info())
            self.blocking.start_channels()
        kc = self.blocking
        msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False,
                            user_expressions={"r": expression} if expression else None)
        deadline = time.monotonic() + timeout
        while True:
            try:
                while True:
                    kc.get_iopub_msg(timeout=0)  # drop: output is never kept
            except queue.Empty:
                pass
            if interrupted is not None and interrupted.is_set():
                interrupted.clear()
                self.interrupt()
            try:
                msg = kc.get_shell_msg(timeout=0.05)
            except queue.Empty:
                if not self.alive():
                    return {"status": "dead"}
                if time.monotonic() > deadline:
                    return {"status": "timeout"}
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg["content"]


def run_cells(run: NotebookRun) -> dict:
    """Execute the notebook's code cells; carry on after errors, time-outs and dead kernels."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    job = run.job
    deadline = time.monotonic() + job.total_timeout
    stats = {"cells": 0, "errors": 0, "timeouts": 0, "not_run": 0}
    for index, cell in enumerate(run.nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 1:
            stats["not_run"] += 1
            continue
        stats["cells"] += 1
        run.client.timeout = max(1, int(min(job.cell_timeout, remaining)))
        try:
            run.client.execute_cell(cell, index)
        except CellExecutionError as err:
            stats["errors"] += 1
            name = cap(getattr(err, "ename", "") or "error", 100)
            value = cap(getattr(err, "evalue", ""), 120)
            run.notes.append(f"cell {index}: {name}" + (f": {value}" if value else ""))
        except CellTimeoutError:
            stats["timeouts"] += 1
            run.notes.append(f"cell {index}: timed out after {run.client.timeout} s")
            run.interrupt()
            if run.ask("pass", 3).get("status") in ("dead", "timeout"):  # "aborted" is an answer too
                run.restart(f"cell {index} could not be interrupted")
        except DeadKernelError:
            stats["errors"] += 1
            run.restart(f"{run.why_dead()} in cell {index}")
        except Exception as err:  # a harness problem (a broken channel): restart and go on
            stats["errors"] += 1
            run.restart(f"cell {index}: {type(err).__name__}: {cap(err, 100)}")
        finally:
            cell.outputs = []
        if run.memory_tripped and not run.alive():
            run.restart(f"{run.why_dead()} in cell {index}")
    if stats["not_run"]:
        run.notes.append(f"total time limit of {job.total_timeout:g} s reached: {stats['not_run']} cells not run")
    return stats


def serve(run: NotebookRun, channel: GraderLink) -> None:
    """Answer the grader's requests until it says stop (or goes away)."""
    installed = run.ask(INSTALL_CODE, 60) if run.alive() else {"status": "dead"}
    ready = installed.get("status") == "ok"
    why = "" if ready else (f"{run.why_dead()} before grading" if installed.get("status") == "dead" else
                            "the grader's code could not start in the kernel: "
                            + cap(f"{installed.get('ename', installed.get('status'))}: {installed.get('evalue', '')}",
                                  200))
    channel.send({"op": "ready", "ok": ready, "why": why})
    while True:
        request = channel.requests.get()
        if request.get("op") == "stop":
            return
        reply = {"id": request.get("id")}
        if not ready:
            reply.update(ok=False, error={"type": "NotReady", "message": why, "where": ""})
        else:
            reply.update(answer(run, channel, request))
            if reply.get("dead"):
                ready, why = False, f"{run.why_dead()}"
        channel.send(reply)


def answer(run: NotebookRun, channel: GraderLink, request: dict) -> dict:
    """One request run in the kernel by the :mod:`.answers` helper; its reply, as data."""
    timeout = float(request.get("timeout", 60))
    channel.interrupted.clear()
    code = f"{GRADER_NAME}_reply = {GRADER_NAME}.handle({json.dumps(request)!r})"
    content = run.ask(code, timeout, expression=f"{GRADER_NAME}_reply", interrupted=channel.interrupted)
    if content.get("status") == "aborted":  # queued behind an interrupted request: once more
        content = run.ask(code, timeout, expression=f"{GRADER_NAME}_reply", interrupted=channel.interrupted)
    status = content.get("status")
    if status == "dead":
        return {"ok": False, "dead": True, "error": {"type": "KernelDied", "message": run.why_dead(), "where": ""}}
    if status == "timeout":
        return {"ok": False, "error": {"type": "Timeout", "message": f"no answer within {timeout:g} s", "where": ""}}
    if status != "ok":
        return {"ok": False, "error": {"type": cap(content.get("ename", "Error"), 100),
                                       "message": cap(content.get("evalue", ""), 300), "where": ""}}
    expression = (content.get("user_expressions") or {}).get("r", {})
    try:
        return json.loads(ast.literal_eval(expression["data"]["text/plain"]))
    except Exception:
        return {"ok": False, "error": {"type": "Unreadable", "message": "the kernel's reply was not readable",
                                       "where": ""}}


def _kill_sandbox_rest() -> None:
    """Inside a sandbox (its own process namespace): end every process but this one."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) not in (1, os.getpid()):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass


def main() -> int:
    channel = GraderLink()
    data = channel.read_first()
    job = KernelJob.from_dict(data["job"])
    memory_mb = float(data.get("memory_mb", 4096))
    in_sandbox = bool(data.get("in_sandbox"))
    apply_limits(job.limits)
    channel.start_reader()
    import nbformat

    base = Path(os.environ.get("TMPDIR") or "/tmp")
    home, workdir = base / "home", base / "work"
    home.mkdir(parents=True, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / job.name).write_text(job.text, encoding="utf-8")
    nb = nbformat.reads(job.text, as_version=4)
    run = NotebookRun(nb, job, workdir, home, memory_mb)
    try:
        try:
            run.start()
        except Exception as err:
            channel.send({"op": "ran", "ok": False, "why": cap(f"the kernel did not start ({type(err).__name__}: "
                                                               f"{err})", 300), "cells": {}, "notes": []})
            return 0
        stats = run_cells(run)
        channel.send({"op": "ran", "ok": True, "cells": stats, "notes": run.notes[:20],
                      "peak_memory_mb": round(run.peak_mb, 1)})
        serve(run, channel)
    finally:
        run.stop()
        if in_sandbox:
            _kill_sandbox_rest()
    return 0


if __name__ == "__main__":
    sys.exit(main())
