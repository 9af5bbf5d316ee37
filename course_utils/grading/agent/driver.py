"""The sandbox side of grading: runs ONE notebook, then answers the grader (book/grading.md).

The grader starts ``python -m course_utils.grading.agent.driver`` inside the sandbox and talks
to it in JSON lines (:mod:`.channel`): on stdin first a :class:`~.job.KernelSetup` (the
driver starts the kernel, no notebook in it yet: a batch starts sandboxes ahead of their turn),
then a :class:`~.job.KernelJob` (the notebook), then requests (``describe``, ``call``,
``getattr``, ``op``, ``next``, ``vjp``, ``callback_reply``, ``interrupt``, ``stop``); on stdout
``{"op": "ran", ...}`` once the cells have run, ``{"op": "ready", ...}`` once the grader's
helper runs in the kernel (:mod:`.answers`), then the replies and the helper's callbacks. The
driver relays between the grader and the helper's Unix socket; the notebook's kernel and this
driver both live in the sandbox (the kernel's ZMQ sockets use the sandbox's own loopback).

This process shares the sandbox with the learner's code, so the grader trusts nothing it
says: replies are plain data, checked and capped, and every verdict is reached outside.
It runs the code cells one by one with nbclient (public API) under a per-cell and a total
time limit, carries on after errors, time-outs and dead kernels (restarting the kernel), and
keeps no cell output, so a notebook that prints gigabytes fills nothing.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import resource
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from course_utils.grading.agent.channel import Channel
from course_utils.grading.agent.job import KernelJob, KernelSetup, cap
from course_utils.grading.agent.processes import MemoryWatchdog, kill_tree

HEARTBEAT = 1.5  # seconds between two "alive" messages
#: What jsonschema (under nbformat) imports, where installed, only to check string formats
#: (IRIs, dates, durations, colours) that nbformat's schema never uses; JupyterLab's
#: dependencies install them. The IRI grammar alone is built on import, a second of every
#: notebook's grading; the others a twentieth. Blocked, jsonschema goes on without them.
FORMAT_CHECKERS = ("rfc3987_syntax", "rfc3987", "rfc3986_validator", "rfc3339_validator", "isoduration", "arrow",
                   "webcolors", "uri_template", "fqdn", "jsonpointer")
MAX_LINE = 256 * 2**20  # bytes of one message from the kernel


def apply_limits(limits: dict) -> None:
    """Lower this process's resource limits (children inherit them and cannot raise them)."""
    for name, value in limits.items():
        which = getattr(resource, name)
        soft, hard = resource.getrlimit(which)
        value = int(value)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def notebook_env(setup: KernelSetup, home: Path) -> dict:
    """The environment of the notebook's kernel: every kernel's (:func:`course_utils.authoring.
    notebooks.kernel_env`, with a private home) on a base that keeps nothing of the grader's but
    the paths."""
    from course_utils.authoring.notebooks import kernel_env

    base = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "LANG", "COURSE_CACHE_DIR", "COURSE_GRADER_MARK")
            if k in os.environ}
    return kernel_env(base=base, profile=setup.profile, threads=1, home=home, USER="learner", MPLBACKEND="Agg",
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

    def read_next(self) -> dict:
        """The grader's next message, read here (before :meth:`start_reader`); {} once it is gone."""
        message = next(self._messages, {})
        return message if isinstance(message, dict) else {}

    def start_heartbeat(self) -> None:
        threading.Thread(target=self._heartbeat, daemon=True).start()

    def start_reader(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

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


@functools.cache
def _client_class():
    from nbclient import NotebookClient

    class QuietClient(NotebookClient):
        """Keeps no output at all (errors still raise, from the execution reply)."""

        def output(self, outs, msg, display_id, cell_index):
            return None

    return QuietClient


@functools.cache
def _ready_client_class():
    from jupyter_client import protocol_version_info
    from jupyter_client.asynchronous import AsyncKernelClient

    class ReadyClient(AsyncKernelClient):
        """A kernel client that is ready as soon as the kernel has answered ``kernel_info`` on
        both channels. jupyter_client's own wait ends with 0.2 s of silence on IOPub, a fifth of
        the time a short notebook's kernel takes to start."""

        async def wait_for_ready(self, timeout=None):
            deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
            while time.monotonic() < deadline:
                if await self._answered_kernel_info():
                    return
                if not await self.is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
            raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

        async def _answered_kernel_info(self) -> bool:
            """Ask once; True when the reply came on the shell channel and the kernel's "idle"
            after it on IOPub (IOPub subscribes late: a miss means ask again)."""
            msg_id = self.kernel_info()
            reply = await self._message(self.shell_channel, msg_id, 1.0, "kernel_info_reply")
            if reply is None:
                return False
            if await self._message(self.iopub_channel, msg_id, 0.5, "status", "idle") is None:
                return False
            version = int(reply["content"]["protocol_version"].split(".")[0])
            if version != protocol_version_info[0]:  # an older kernel: translate its messages
                self.session.adapt_version = version
            return True

        @staticmethod
        async def _message(channel, msg_id: str, timeout: float, msg_type: str, state: str | None = None):
            end = time.monotonic() + timeout
            while (left := end - time.monotonic()) > 0:
                try:
                    msg = await channel.get_msg(timeout=left)
                except queue.Empty:
                    return None
                if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == msg_type
                        and (state is None or msg["content"].get("execution_state") == state)):
                    return msg
            return None

    return ReadyClient


class NotebookRun:
    """One notebook in one kernel, restarted as often as needed (nbclient, public API)."""

    def __init__(self, setup: KernelSetup, workdir: Path, home: Path):
        import nbformat

        self.nb = nbformat.v4.new_notebook()  # until the job comes: the kernel starts first
        self.job: KernelJob | None = None
        self.workdir = workdir
        self.env = notebook_env(setup, home)
        self.notes: list[str] = []
        self.memory_mb = setup.memory_mb
        self.client = None
        self.blocking = None
        self.memory_tripped = False
        self._watch = threading.Event()
        self.watchdog = MemoryWatchdog(lambda: self.pid if self._watch.is_set() else None,
                                       setup.memory_mb * 2**20, self._memory_exceeded, interval=0.1)

    def load(self, nb, job: KernelJob) -> None:
        """The notebook to run, in the kernel already started."""
        self.nb, self.job = nb, job
        self.client.nb = nb

    # -- kernel life
    def start(self):
        # no time limit here: run_cells sets each cell's
        self.client = _client_class()(self.nb, kernel_name="python3", allow_errors=False,
                                      interrupt_on_timeout=False, startup_timeout=120, shutdown_kernel="immediate",
                                      # IPython's history database: nothing reads it back
                                      extra_arguments=["--HistoryManager.enabled=False"],
                                      resources={"metadata": {"path": str(self.workdir)}})
        self.client.km = self.client.create_kernel_manager()
        self.client.km.client_factory = _ready_client_class()
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

    # -- the grader's own code, through a blocking client of jupyter_client
    def _blocking(self):
        from jupyter_client import BlockingKernelClient

        if self.blocking is None:
            self.blocking = BlockingKernelClient()
            self.blocking.load_connection_info(self.client.km.get_connection_info())
            self.blocking.start_channels()
        return self.blocking

    def execute(self, code: str) -> str:
        """Start ``code`` silently (no hooks, no history) and return at once: its message id."""
        return self._blocking().execute(code, silent=True, store_history=False, allow_stdin=False)

    def reply_to(self, msg_id: str):
        """The content of the reply to ``msg_id`` if it has come (and drop output); else None."""
        kc = self._blocking()
        try:
            while True:
                kc.get_iopub_msg(timeout=0)
        except queue.Empty:
            pass
        try:
            while True:
                msg = kc.get_shell_msg(timeout=0)
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    return msg["content"]
        except queue.Empty:
            return None

    def ask(self, code: str, timeout: float) -> dict:
        """Run ``code`` silently and wait for its reply content (``dead`` or ``timeout`` else)."""
        msg_id = self.execute(code)
        deadline = time.monotonic() + timeout
        while True:
            content = self.reply_to(msg_id)
            if content is not None:
                return content
            if not self.alive():
                return {"status": "dead"}
            if time.monotonic() > deadline:
                return {"status": "timeout"}
            time.sleep(0.02)


def run_cells(run: NotebookRun) -> dict:
    """Execute the notebook's code cells; carry on after errors, time-outs and dead kernels."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    job = run.job
    started = time.monotonic()
    deadline = started + job.total_timeout
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
        run.notes.append(f"time limit of {job.total_timeout:g} s for all the cells reached: {stats['not_run']} "
                         "cells not run")
    stats["seconds"] = round(time.monotonic() - started, 3)
    return stats


def serve(run: NotebookRun, channel: GraderLink) -> None:
    """Start the grader's helper in the kernel (:func:`.answers.serve`), then relay: the
    grader's requests to the kernel's socket, the kernel's replies and callbacks to the
    grader, until the grader says stop. A kernel that dies or closes its socket gets every
    pending request answered ``KernelDied``; an ``interrupt`` interrupts the kernel."""
    link = KernelLink(run, channel)
    ready, why = link.start()
    channel.send({"op": "ready", "ok": ready, "why": why})
    if ready:
        link.relay()
    else:
        while channel.requests.get().get("op") != "stop":
            pass
    link.close()


class KernelLink:
    """The driver's end of the socket to the grader's helper in the kernel."""

    def __init__(self, run: NotebookRun, channel: GraderLink):
        import secrets
        import socket

        self.run, self.channel = run, channel
        self.token = secrets.token_hex(16)
        self.path = str(run.workdir.parent / f"grader-{secrets.token_hex(8)}.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        os.chmod(self.path, 0o600)
        self.listener.listen(1)
        self.listener.settimeout(0.2)
        self.connection = self.stream = None
        self.pending: list = []  # ids of the grader's requests the kernel has not answered, in order
        self.lock = threading.Lock()
        self.dead = ""

    def start(self) -> tuple[bool, str]:
        if not self.run.alive():
            return False, f"{self.run.why_dead()} before grading"
        code = (f"import course_utils.grading.agent.answers as _course_grader_module\n"
                f"_course_grader_module.serve({self.path!r}, {self.token!r})")
        msg_id = self.run.execute(code)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                failed = self.run.reply_to(msg_id)
                if failed is not None:
                    return False, "the grader's code could not start in the kernel: " + cap(
                        f"{failed.get('ename', failed.get('status'))}: {failed.get('evalue', '')}", 200)
                if not self.run.alive():
                    return False, f"{self.run.why_dead()} before grading"
                continue
            connection.settimeout(30)
            stream = connection.makefile("rwb")
            try:
                hello = json.loads(stream.readline(4096))
            except (OSError, ValueError, RecursionError):
                hello = {}
            if isinstance(hello, dict) and hello.get("token") == self.token:
                connection.settimeout(None)
                self.connection, self.stream = connection, stream
                return True, ""
            connection.close()
        return False, "the grader's code did not start in the kernel within 120 s"

    def relay(self) -> None:
        threading.Thread(target=self._from_kernel, daemon=True, name="from kernel").start()
        while True:
            try:
                request = self.channel.requests.get(timeout=0.2)
            except queue.Empty:
                request = None
            if self.channel.interrupted.is_set():
                self.channel.interrupted.clear()
                self.run.interrupt()
            if request is None:
                continue
            if request.get("op") == "stop":
                self._to_kernel({"op": "stop"})
                return
            with self.lock:
                if "id" in request and request.get("op") != "callback_reply":
                    if self.dead:
                        self.channel.send({"id": request["id"], "ok": False, "error": {
                            "type": "KernelDied", "message": self.dead, "where": ""}})
                        continue
                    self.pending.append(request["id"])
            self._to_kernel(request)

    def _to_kernel(self, message: dict) -> None:
        try:
            self.stream.write(json.dumps(message).encode() + b"\n")
            self.stream.flush()
        except (OSError, ValueError):
            self._died()

    def _from_kernel(self) -> None:
        while True:
            try:
                line = self.stream.readline(MAX_LINE)
            except (OSError, ValueError):
                line = b""
            if not line or not line.endswith(b"\n"):
                self._died()
                return
            try:
                message = json.loads(line)
            except Exception as err:  # ValueError, RecursionError, MemoryError...: the helper was replaced
                self._died(f"the kernel sent an unreadable message ({type(err).__name__})")
                return
            if not isinstance(message, dict):
                self._died("the kernel sent a message that is not a JSON object")
                return
            with self.lock:
                if message.get("op") == "callback":
                    message["for"] = self.pending[-1] if self.pending else None
                elif "id" in message and message["id"] in self.pending:
                    self.pending.remove(message["id"])
                else:
                    continue
            self.channel.send(message)

    def _died(self, why: str = "") -> None:
        with self.lock:
            if self.dead:
                return
            self.dead = why or (self.run.why_dead() if not self.run.alive() else "the kernel stopped answering")
            pending, self.pending = self.pending, []
        for request_id in pending:
            self.channel.send({"id": request_id, "ok": False, "dead": True,
                               "error": {"type": "KernelDied", "message": self.dead, "where": ""}})

    def close(self) -> None:
        import socket

        for closer in (lambda: self.connection.shutdown(socket.SHUT_RDWR), lambda: self.stream.close(),
                       self.listener.close, lambda: os.unlink(self.path)):
            try:
                closer()
            except Exception:
                pass


def writable_cache(source: Path, dest: Path) -> Path:
    """A writable stand-in for the read-only data cache: its folders made afresh under ``dest``
    (the sandbox's private temporary folder), its files linked there. What a notebook saves in
    the cache (a model it trained) stays in its sandbox; the cache itself no notebook changes."""
    for folder, _dirs, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        (dest / relative).mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                (dest / relative / name).symlink_to(Path(folder) / name)
            except OSError:
                pass
    return dest


def _kill_sandbox_rest() -> None:
    """Inside a sandbox (its own process namespace): end every process but this one."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) not in (1, os.getpid()):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass


def not_dumpable() -> None:
    """Make this process non-dumpable: the notebook's processes, though they run as the same
    user, can then neither open its file descriptors (its pipes to the grader) nor its memory
    through /proc."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def main() -> int:
    not_dumpable()
    channel = GraderLink()
    setup = KernelSetup.from_dict(channel.read_next().get("setup"))
    apply_limits(setup.limits)
    channel.start_heartbeat()
    for name in FORMAT_CHECKERS:
        sys.modules.setdefault(name, None)
    import nbformat

    base = Path(os.environ.get("TMPDIR") or "/tmp")
    home, workdir = base / "home", base / "work"
    home.mkdir(parents=True, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    fonts = Path(__file__).resolve().parents[3] / ".support" / "matplotlib"  # from the grader's view
    if fonts.is_dir():
        shutil.copytree(fonts, home / ".matplotlib", dirs_exist_ok=True)
    cache = os.environ.get("COURSE_CACHE_DIR")
    if cache and Path(cache).is_dir() and not os.access(cache, os.W_OK):
        os.environ["COURSE_CACHE_DIR"] = str(writable_cache(Path(cache), base / "cache"))
    run = NotebookRun(setup, workdir, home)
    try:
        started, failed = time.monotonic(), ""
        try:
            run.start()
        except Exception as err:
            failed = cap(f"the kernel did not start ({type(err).__name__}: {err})", 300)
        kernel_start = round(time.monotonic() - started, 3)
        job = KernelJob.from_dict(channel.read_next().get("job"))  # the notebook, once its turn comes
        channel.start_reader()
        if failed:
            channel.send({"op": "ran", "ok": False, "why": failed, "cells": {}, "notes": []})
            return 0
        (workdir / job.name).write_text(job.text, encoding="utf-8")
        run.load(nbformat.reads(job.text, as_version=4), job)
        stats = run_cells(run)
        stats["kernel_start"] = kernel_start
        channel.send({"op": "ran", "ok": True, "cells": stats, "notes": run.notes[:20],
                      "peak_memory_mb": round(run.peak_mb, 1)})
        serve(run, channel)
    finally:
        run.stop()
        if setup.in_sandbox:
            _kill_sandbox_rest()
    return 0


if __name__ == "__main__":
    sys.exit(main())
