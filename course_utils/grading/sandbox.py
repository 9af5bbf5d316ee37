"""One sandbox per notebook (grading, book/grading.md): bubblewrap on Linux.

The sandbox has no network, its own process, IPC and host-name namespaces, a read-only view
of the system, the Python environment and a *learner's view* of ``course_utils`` (no
grader, no checks of the chapter being graded, no module that implements its answers), and a
private, size-capped temporary folder as its only writable place. The submissions, the
reports and the grader's files are not mounted at all. When the grader runs as root, the
code inside runs as a fresh unprivileged user id with no capabilities. Limits on memory
(address space), processes, file size and CPU time are set inside before any learner code
runs, and no child can raise them; a watchdog outside sums the memory of every process in the
sandbox. Ending the sandbox's first process ends its process namespace: everything the
notebook started, daemons included, dies with it.

:class:`Sandbox` starts the driver (:mod:`.agent.driver`) and speaks to it through
:class:`Channel`; :func:`package_view` builds the learner's view; :func:`bwrap_problem`
says why no sandbox can be had.
"""

from __future__ import annotations

import ast
import atexit
import functools
import json
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

PACKAGE_DIR = Path(__file__).resolve().parent.parent
MARK_ENV = "COURSE_GRADER_MARK"
VIEW_ROOT = "/opt/course"  # where the learner's view of the package is mounted in the sandbox
MAX_REPLY = 64 * 2**20  # bytes of one line from the sandbox
SILENCE_LIMIT = 20.0  # seconds without a word (the driver says "alive" every 1.5 s): stopped or hung
CHECKS_STUB = '''"""The checks of this chapter run in the grader, outside this sandbox (book/grading.md)."""

from course_utils.checks.core import *  # noqa: F403
from course_utils.checks.core import REGISTRY, CheckFailed  # noqa: F401


def checks_for(chapter):
    return {k: REGISTRY[k] for k in sorted(REGISTRY) if REGISTRY[k].chapter == chapter}


def check(exercise_id, answer):
    """While grading, the grader checks the answers itself: this only says so."""
    if exercise_id in REGISTRY:
        return REGISTRY[exercise_id](answer)
    print(f"{exercise_id}: checked by the grader")
    return True
'''
AGENT_DIR = "grading/agent/"  # the grader's code that runs in the sandbox


class SandboxError(RuntimeError):
    """The sandbox could not be started or stopped talking."""


# --------------------------------------------------------------------------- availability


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str:
    """Why bubblewrap cannot sandbox here ("" when it can)."""
    if not sys.platform.startswith("linux"):
        return "the sandbox needs Linux (bubblewrap)"
    exe = shutil.which("bwrap")
    if not exe:
        return "bubblewrap is not installed (Debian: apt-get install bubblewrap)"
    try:
        done = subprocess.run(bwrap_argv(["true"], tmpfs_mb=16), capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bubblewrap did not run: {err}"
    if done.returncode != 0:
        return "bubblewrap cannot create a sandbox here: " + done.stderr.decode(errors="replace").strip()[:300]
    return ""


# --------------------------------------------------------------------------- the learner's view


# Modules that implement a chapter's exercises under other names (the lecture's own code).
ANSWER_MODULES = {"05": {"backprop.py"}}


def hidden_modules(chapter: str, targets: set[str]) -> set[str]:
    """Modules of the package (paths relative to it) a learner of ``chapter`` must not import:
    the grader, every chapter's checks, any module defining a name an exercise asks for, and
    those :data:`ANSWER_MODULES` lists."""
    hidden = set(ANSWER_MODULES.get(chapter, ()))
    for path in PACKAGE_DIR.rglob("*.py"):
        rel = path.relative_to(PACKAGE_DIR).as_posix()
        if rel.startswith("grading/") or (rel.startswith("checks/ch")):
            hidden.add(rel)
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        names = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        names |= {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                  if isinstance(t, ast.Name)}
        if names & targets and not rel.endswith("__init__.py"):
            hidden.add(rel)
    return hidden


_VIEWS: dict = {}
_VIEWS_LOCK = threading.Lock()


def package_view(chapter: str, targets: set[str]) -> Path:
    """A read-only copy of ``course_utils`` for the sandbox of a ``chapter`` notebook (built
    once per process): no grader but its sandbox side, no chapter's checks, no module that
    defines a name the chapter's exercises ask for."""
    key = (chapter, frozenset(targets))
    with _VIEWS_LOCK:
        if key in _VIEWS and _VIEWS[key].exists():
            return _VIEWS[key]
        root = Path(tempfile.mkdtemp(prefix="course-view-"))
        os.chmod(root, 0o755)
        atexit.register(shutil.rmtree, root, True)
        hidden = hidden_modules(chapter, targets)
        for path in sorted(PACKAGE_DIR.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
                continue
            rel = path.relative_to(PACKAGE_DIR).as_posix()
            if rel.startswith("grading/"):
                if not (rel.startswith(AGENT_DIR) or rel == "grading/__init__.py"):
                    continue
            elif rel in hidden:
                continue
            target = root / "course_utils" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel == "checks/__init__.py":
                target.write_text(CHECKS_STUB, encoding="utf-8")
            elif rel == "grading/__init__.py":
                target.write_text('"""Grading: only its sandbox side is here."""\n', encoding="utf-8")
            else:
                shutil.copyfile(path, target)
        for folder, dirs, files in os.walk(root):
            for name in dirs:
                os.chmod(os.path.join(folder, name), 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        _VIEWS[key] = root
        return root


# --------------------------------------------------------------------------- the command


def _system_binds() -> list[str]:
    args = []
    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    prefixes = []
    for prefix in {sys.base_prefix, sys.prefix, sys.exec_prefix}:
        if not any(str(prefix).startswith(p + os.sep) for p in ("/usr", "/etc")):
            prefixes.append(str(Path(prefix).resolve()))
            if str(Path(prefix)) != prefixes[-1]:
                prefixes.append(str(Path(prefix)))
    exe = Path(sys.executable)
    for link in (exe, exe.resolve()):
        folder = str(link.parent.parent)
        if not folder.startswith(("/usr", "/bin")):
            prefixes.append(folder)
    for prefix in sorted(set(prefixes)):
        if Path(prefix).is_dir():
            args += _ro_bind(prefix, prefix)
    return args


def _ro_bind(source, dest) -> list[str]:
    """A read-only bind whose missing parent folders are created traversable (0755)."""
    args = []
    for parent in reversed(Path(dest).parents[:-1]):
        args += ["--perms", "0755", "--dir", str(parent)]
    return args + ["--ro-bind", str(source), str(dest)]


def bwrap_argv(command: list[str], *, view: Path | None = None, tmpfs_mb: float = 1024,
               cache: Path | None = None) -> list[str]:
    """The bubblewrap command line that runs ``command`` in a fresh sandbox."""
    root = os.geteuid() == 0
    argv = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session"]
    if not root:
        argv += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    # the private /tmp first: an environment that lives under /tmp is bound on top of it
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(int(tmpfs_mb * 2**20)),
             "--tmpfs", "/tmp"]
    argv += _system_binds()
    if view is not None:
        argv += _ro_bind(view, VIEW_ROOT)
    if cache is not None and cache.is_dir():
        argv += _ro_bind(cache, cache)
    argv += ["--chdir", "/tmp"]
    if root:  # drop to a fresh user id, no capabilities, before any of our code runs
        uid = str(200_000 + secrets.randbelow(800_000))
        command = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                   "--bounding-set=-all", "--no-new-privs", "--", *command]
    return argv + ["--", *command]


def _sandbox_env(view: Path | None, cache: Path | None) -> dict:
    env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
           "LANG": "C.UTF-8", "TMPDIR": "/tmp", "HOME": "/tmp/home", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONNOUSERSITE": "1"}
    if view is not None:
        env["PYTHONPATH"] = VIEW_ROOT
    if cache is not None:
        env["COURSE_CACHE_DIR"] = str(cache)
    return env


# --------------------------------------------------------------------------- talking to the driver


class Channel:
    """JSON lines to and from the driver; replies matched to requests by id. Anything the
    driver sends is capped and checked; a closed or silent driver raises SandboxError."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lock = threading.Lock()
        self.cond = threading.Condition()
        self.replies: dict = {}
        self.events: list = []
        self.closed = False
        self.next_id = 0
        self.pending: set = set()
        self.last_seen = time.monotonic()
        threading.Thread(target=self._read, daemon=True).start()

    def _silent(self) -> bool:
        return time.monotonic() - self.last_seen > SILENCE_LIMIT

    def _read(self):
        stream = self.proc.stdout
        try:
            while True:
                line = stream.readline(MAX_REPLY)
                if not line:
                    break
                if not line.endswith(b"\n"):  # longer than MAX_REPLY: a broken or hostile driver
                    break
                self.last_seen = time.monotonic()
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(message, dict) or message.get("op") == "alive":
                    continue
                with self.cond:
                    if "id" in message and message["id"] in self.pending:
                        self.replies[message["id"]] = message
                        self.pending.discard(message["id"])
                    elif "op" in message and "id" not in message and len(self.events) < 10:
                        self.events.append(message)
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def send(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\n"
        with self.lock:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (OSError, ValueError) as err:
                raise SandboxError("the sandbox stopped listening") from err

    def _wait(self, take, timeout: float, margin: float, waiting_for: str):
        """Wait (holding ``self.cond``) until ``take()`` returns a message, the sandbox ends or
        falls silent, or ``timeout + margin`` seconds pass."""
        deadline = time.monotonic() + timeout + margin
        while (message := take()) is None:
            left = deadline - time.monotonic()
            if self.closed:
                raise SandboxError("the sandbox ended")
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

    def request(self, op: str, timeout: float, **fields) -> dict:
        """Send a request and wait for its reply (at most ``timeout`` seconds, plus a margin)."""
        with self.cond:
            self.next_id += 1
            request_id = self.next_id
            self.pending.add(request_id)
        self.send({"id": request_id, "op": op, "timeout": timeout, **fields})
        with self.cond:
            return self._wait(lambda: self.replies.pop(request_id, None), timeout, 5, "answer")

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
    """The driver of one notebook in its sandbox (or, when allowed, without one)."""

    def __init__(self, view: Path, *, sandboxed: bool, memory_mb: float, tmpfs_mb: float):
        from course_utils.data.datasets import cache_dir

        cache = cache_dir()
        cache = cache if cache.is_dir() else None
        module = ["-m", "course_utils.grading.agent.driver"]
        self.sandboxed = sandboxed
        self.workdir = None
        self.mark = secrets.token_hex(16)  # without a sandbox: finds what the notebook left running
        if sandboxed:
            argv = bwrap_argv([sys.executable, *module], view=view, tmpfs_mb=tmpfs_mb, cache=cache)
            env = _sandbox_env(view, cache)
            cwd = "/"
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="grade-nb-"))
            argv = [sys.executable, *module]
            env = {**_sandbox_env(view, cache), "TMPDIR": str(self.workdir), "HOME": str(self.workdir / "home"),
                   "PYTHONPATH": str(view), MARK_ENV: self.mark}
            cwd = str(self.workdir)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, cwd=cwd, env=env, start_new_session=True)
        self.channel = Channel(self.proc)
        self.memory_limit = (1.5 * memory_mb + 1024) * 2**20  # all its processes together
        self.peak_mb = 0.0
        self.memory_killed = False
        self._done = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _tree(self):
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            return [root] + root.children(recursive=True)
        except psutil.Error:
            return []

    def _watch(self):
        import psutil

        while not self._done.wait(0.2):
            rss = 0
            for proc in self._tree():
                try:
                    rss += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_mb = max(self.peak_mb, rss / 2**20)
            if rss > self.memory_limit:
                self.memory_killed = True
                self.kill()
                return

    def start(self, job_message: dict) -> None:
        self.channel.send(job_message)

    def kill(self) -> None:
        """End the sandbox: its first process, hence its whole process namespace."""
        import psutil

        tree = self._tree()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        for proc in tree:  # without a sandbox (and as a backstop): every descendant
            try:
                proc.kill()
            except psutil.Error:
                pass
        if not self.sandboxed:  # and what detached itself but kept the mark
            for proc in psutil.process_iter(["pid"]):
                try:
                    if proc.pid != os.getpid() and proc.environ().get(MARK_ENV) == self.mark:
                        proc.kill()
                except psutil.Error:
                    continue

    def close(self) -> None:
        try:
            self.channel.send({"op": "stop"})
            self.proc.wait(timeout=3)
        except (SandboxError, subprocess.TimeoutExpired):
            pass
        self.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._done.set()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
