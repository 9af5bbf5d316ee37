"""Grades ONE submitted notebook in its own kernel (the batch grader's worker process).

``python -m course_utils.grading_worker`` reads a job (JSON) on stdin and writes the result
(JSON) to the path the job names. :mod:`course_utils.grading` starts one worker per notebook,
so nothing a notebook does (killing its parent, ``os._exit``, a hung kernel) can stop the batch.

The worker copies the notebook into a fresh folder, starts a kernel there (its own process
group, a memory watchdog and an address-space limit), runs the code cells one by one with a
per-cell and a total time limit, and carries on after an error, a time-out or a dead kernel
(interrupting, then restarting the kernel when needed). Then it writes a snapshot of the
grader's ``course_utils`` (read before any notebook ran) into a fresh folder with a random
name, imports it anew inside the kernel (every ``course_utils*`` module purged first, import
hooks reset) and runs the chapter's checks on the objects the notebook defined under the
checks' ``target`` names. Results go to a file with a random name, never through stdout.
Used by the grade command (see ``book/grading.md``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

MESSAGE_LIMIT = 1000  # characters kept of any message in the report

# --------------------------------------------------------------------------- kernel code
# Run (silently, so no pre-run hooks see it) right after the kernel starts.
SETUP_CODE = """
def _course_grader_limit(limit):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if limit and (hard == resource.RLIM_INFINITY or hard > limit):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
_course_grader_limit({as_limit!r})
del _course_grader_limit
"""

# Run (silently) after the notebook's cells: defines the grader in its own namespace and
# stores one function in the user namespace under a random name.
PREPARE_CODE = r'''
def _course_grader_prepare(package_parent, chapter, results_path):
    import builtins, functools, importlib, io, json, sys, threading, time, types
    from contextlib import redirect_stderr, redirect_stdout
    from IPython import get_ipython

    ip = get_ipython()
    namespace = ip.user_ns

    def from_notebook(obj):
        """True for an object the notebook defined (its functions, lambdas, classes)."""
        try:
            if isinstance(obj, functools.partial):
                obj = obj.func
            if isinstance(obj, types.MethodType):
                obj = obj.__func__
            if isinstance(obj, types.FunctionType):
                filename = obj.__code__.co_filename
                return (obj.__module__ == "__main__" or "ipykernel_" in filename
                        or filename.startswith("<ipython-input"))
            if isinstance(obj, type):
                return obj.__module__ == "__main__"
            return type(obj).__module__ == "__main__"
        except Exception:
            return False

    # 1. Undo what could intercept the grader: hooks, tracers, import hooks.
    for event in list(ip.events.callbacks):
        ip.events.callbacks[event] = []
    ip.ast_transformers[:] = []
    sys.settrace(None)
    sys.setprofile(None)
    threading.settrace(None)
    threading.setprofile(None)
    sys.meta_path[:] = [f for f in sys.meta_path if not from_notebook(f)]
    sys.path_hooks[:] = [h for h in sys.path_hooks if not from_notebook(h)]
    sys.path_importer_cache.clear()

    # 2. A fresh course_utils from the grader's snapshot.
    for name in list(sys.modules):
        if name == "course_utils" or name.startswith("course_utils."):
            del sys.modules[name]
    sys.path.insert(0, package_parent)
    importlib.invalidate_caches()
    checks = importlib.import_module("course_utils.checks")
    core = importlib.import_module("course_utils.checks.core")
    problems = []
    for name, module in list(sys.modules.items()):
        if (name == "course_utils" or name.startswith("course_utils.")) and module is not None:
            if not str(getattr(module, "__file__", "") or "").startswith(package_parent):
                problems.append(f"{name} was not imported from the grader's copy")
    chapter_checks = checks.checks_for(chapter)
    targets = {key: namespace.get(chk.target, namespace) for key, chk in chapter_checks.items()}
    for key, chk in chapter_checks.items():
        if not chk.func.__code__.co_filename.startswith(package_parent):
            problems.append(f"the check {key} does not come from the grader's copy")

    watched = ("builtins", "numpy", "numpy.linalg", "numpy.random", "math", "copy", "signal",
               "threading", "traceback", "json", "time", "os", "io", "contextlib", "importlib",
               "types", "functools", "operator", "torch", "torch.nn.functional", "keras",
               "keras.ops", "scipy.special")

    def tampering():
        """Names in library modules that the notebook replaced with its own objects."""
        found = list(problems)
        names = [m for m in watched if m in sys.modules]
        names += [m for m in list(sys.modules) if m == "course_utils" or m.startswith("course_utils.")]
        for module_name in names:
            module = sys.modules.get(module_name)
            try:
                items = list(vars(module).items())
            except TypeError:
                continue
            for attr, value in items:
                if from_notebook(value):
                    found.append(f"{module_name}.{attr}")
                elif (isinstance(value, type) and module_name.startswith("course_utils")
                      and value.__module__ == module_name):
                    found += [f"{module_name}.{attr}.{a}" for a, v in list(vars(value).items())
                              if from_notebook(v)]
        if checks.REGISTRY is not core.REGISTRY or set(checks.checks_for(chapter)) != set(chapter_checks):
            found.append("course_utils.checks.REGISTRY")
        return found

    class Capped(io.StringIO):
        def write(self, text):
            if self.tell() < 4000:
                super().write(str(text)[:4000])
            return len(text)

    def record(entry):
        with open(results_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def grade(exercise_id):
        chk = chapter_checks[exercise_id]
        answer = targets[exercise_id]
        entry = {"exercise": exercise_id, "status": "error", "message": "", "seconds": 0.0}
        before = tampering()
        start = time.perf_counter()
        if before:
            entry["message"] = ("not graded: the notebook replaced " + ", ".join(before[:5])
                                + " (grading refuses a notebook that changes the libraries the checks use)")
        elif answer is namespace:
            entry.update(status="fail", message=f"`{chk.target}` is not defined in the notebook: did the cell "
                         "that defines it fail, or was it renamed?")
        else:
            out = Capped()
            try:
                with redirect_stdout(out), redirect_stderr(out):
                    chk(answer)
                entry["status"] = "pass"
                lines = [ln for ln in out.getvalue().splitlines() if ln.startswith("\u2714 " + exercise_id)]
                entry["message"] = lines[-1][len(exercise_id) + 3:] if lines else "passed"
            except core.CheckFailed as err:
                text = str(err)
                prefix = exercise_id + ": "
                entry.update(status="fail", message=text[len(prefix):] if text.startswith(prefix) else text)
            except SystemExit:
                entry.update(status="fail", message="the answer called sys.exit() during the check")
            except KeyboardInterrupt:
                entry["message"] = "interrupted: the check ran out of time"
            except BaseException as err:
                entry["message"] = f"the check raised {type(err).__name__}: {err}"
            after = tampering()
            if after:
                entry.update(status="error", message="not graded: during the check the answer replaced "
                             + ", ".join(after[:5]))
        entry["seconds"] = round(time.perf_counter() - start, 3)
        entry["message"] = str(entry["message"])[:1000]
        record(entry)

    return grade, sorted(chapter_checks)
__GRADER_NAME__, _course_grader_ids = _course_grader_prepare(__PACKAGE_PARENT__, __CHAPTER__, __RESULTS_PATH__)
del _course_grader_prepare
_course_grader_ids
'''

GRADE_CODE = "{name}({exercise_id!r})"


# --------------------------------------------------------------------------- processes


def _kill_tree(pid: int | None) -> None:
    """SIGKILL a process, its process group and all its descendants."""
    import psutil

    if not pid:
        return
    try:
        root = psutil.Process(pid)
        procs = root.children(recursive=True) + [root]
    except psutil.Error:
        procs = []
    try:
        pgid = os.getpgid(pid)
        if pgid != os.getpgid(0):
            os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass


def _kill_marked(token: str) -> int:
    """SIGKILL every process that still carries this job's marker in its environment
    (daemons a notebook started and detached from the kernel's process tree)."""
    import psutil

    killed = 0
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get("COURSE_GRADER_TOKEN") == token:
                proc.kill()
                killed += 1
        except psutil.Error:
            continue
    return killed


class MemoryWatchdog(threading.Thread):
    """Kills the kernel's process tree when its resident memory goes above ``limit_mb``."""

    def __init__(self, limit_mb: float, interval: float = 0.1):
        super().__init__(daemon=True)
        self.limit = limit_mb * 2**20
        self.interval = interval
        self.pid: int | None = None
        self.tripped = False
        self.peak_mb = 0.0
        self._stop_event = threading.Event()

    def run(self):
        import psutil

        while not self._stop_event.wait(self.interval):
            pid = self.pid
            if not pid:
                continue
            try:
                root = psutil.Process(pid)
                procs = [root] + root.children(recursive=True)
                rss = 0
                for proc in procs:
                    try:
                        rss += proc.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                continue
            self.peak_mb = max(self.peak_mb, rss / 2**20)
            if rss > self.limit:
                self.tripped = True
                _kill_tree(pid)

    def stop(self):
        self._stop_event.set()


# --------------------------------------------------------------------------- the worker


def _client_class():
    from nbclient import NotebookClient

    class QuietClient(NotebookClient):
        """Keeps only error outputs: a notebook printing gigabytes cannot fill our memory."""

        def output(self, outs, msg, display_id, cell_index):
            if msg["msg_type"] == "error":
                return super().output(outs, msg, display_id, cell_index)
            return None

    return QuietClient


class NotebookRun:
    """One notebook in one kernel, restarted as often as needed."""

    def __init__(self, nb, workdir: Path, options: dict, token: str):
        import nbformat

        self.options = options
        self.workdir = workdir
        self.token = token
        self.notes: list[str] = []
        self.restarts = 0
        self.watchdog = MemoryWatchdog(options["memory_mb"])
        self.watchdog.start()
        env = dict(os.environ)
        env.update(COURSE_PROFILE=options.get("profile", "smoke"), MPLBACKEND="Agg",
                   COURSE_GRADER_TOKEN=token, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", PYDEVD_DISABLE_FILE_VALIDATION="1", PYTHONUNBUFFERED="1")
        self.env = env
        self.client = _client_class()(nb, timeout=options["cell_timeout"], kernel_name="python3",
                                      allow_errors=False, interrupt_on_timeout=False,
                                      startup_timeout=120, shutdown_kernel="immediate",
                                      resources={"metadata": {"path": str(workdir)}})
        self.dummy = nbformat.v4.new_code_cell(source="# grader")

    @property
    def pid(self):
        km = self.client.km
        return getattr(getattr(km, "provisioner", None), "pid", None) if km is not None else None

    def start(self):
        client = self.client
        client.km = client.create_kernel_manager()
        client.start_new_kernel(cwd=str(self.workdir), env=self.env)
        client.start_new_kernel_client()
        self.watchdog.tripped = False
        self.watchdog.pid = self.pid
        as_limit = int((2 * self.options["memory_mb"] + 2048) * 2**20) if self.options.get("rlimit", True) else 0
        self.silent(SETUP_CODE.format(as_limit=as_limit), 60)

    def stop(self):
        pid = self.pid
        self.watchdog.pid = None
        try:
            if self.client.km is not None:
                self.client._cleanup_kernel()
        except Exception:
            pass
        _kill_tree(pid)
        self.client.km = None
        self.client.kc = None

    def restart(self, why: str):
        self.restarts += 1
        self.notes.append(f"kernel restarted ({why})")
        self.stop()
        self.start()

    def alive(self) -> bool:
        try:
            return bool(self.client.km is not None and self.client.km.has_kernel
                        and _run_sync(self.client.km.is_alive)())
        except Exception:
            return False

    def silent(self, code: str, timeout: float):
        """Run harness code without running the notebook's pre-run hooks; return the reply."""
        client = self.client
        client.timeout = max(1, int(timeout))
        msg_id = client.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        reply = client.wait_for_reply(msg_id, self.dummy)
        return reply["content"] if reply else {"status": "error", "ename": "NoReply", "evalue": ""}

    def responsive(self) -> bool:
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        try:
            _run_sync(self.client.km.interrupt_kernel)()
            self.silent("pass", 3)
            return True
        except (CellTimeoutError, DeadKernelError, Exception):
            return False

    def why_dead(self) -> str:
        if self.watchdog.tripped:
            return f"memory above {self.options['memory_mb']:g} MB"
        return "the kernel died"


def _run_sync(coro_func):
    from nbclient.util import run_sync

    return run_sync(coro_func)


def run_cells(run: NotebookRun, nb) -> dict:
    """Execute the notebook's code cells; carry on after errors, time-outs and dead kernels."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    options = run.options
    deadline = time.monotonic() + options["total_timeout"]
    stats = {"cells": 0, "errors": 0, "timeouts": 0, "not_run": 0}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 1:
            stats["not_run"] += 1
            continue
        stats["cells"] += 1
        run.client.timeout = max(1, int(min(options["cell_timeout"], remaining)))
        try:
            run.client.execute_cell(cell, index)
        except CellExecutionError as err:
            stats["errors"] += 1
            name = getattr(err, "ename", "") or "error"
            if name != "CheckFailed":  # the learner's own check cells: the report says why
                value = str(getattr(err, "evalue", ""))[:120]
                run.notes.append(f"cell {index}: {name}" + (f": {value}" if value else ""))
        except CellTimeoutError:
            stats["timeouts"] += 1
            run.notes.append(f"cell {index}: timed out after {run.client.timeout} s")
            if not run.responsive():
                run.restart(f"cell {index} could not be interrupted")
        except DeadKernelError:
            stats["errors"] += 1
            run.restart(f"{run.why_dead()} in cell {index}")
        except Exception as err:  # a harness problem (e.g. a broken channel): restart and go on
            stats["errors"] += 1
            run.restart(f"cell {index}: {type(err).__name__}: {str(err)[:100]}")
        finally:
            cell.outputs = []
        if run.watchdog.tripped and not run.alive():
            run.restart(f"{run.why_dead()} in cell {index}")
    if stats["not_run"]:
        run.notes.append(f"total time limit of {options['total_timeout']:g} s reached: "
                         f"{stats['not_run']} cells not run")
    return stats


def run_checks(run: NotebookRun, chapter: str, exercises: list[str], package: dict) -> list[dict]:
    """Grade in the kernel from a fresh import of the grader's snapshot of course_utils."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    options = run.options
    results = {ex: {"exercise": ex, "status": "error", "message": "not graded", "seconds": 0.0} for ex in exercises}
    snapshot = Path(tempfile.mkdtemp(prefix="grader-pkg-"))
    results_dir = Path(tempfile.mkdtemp(prefix="grader-out-"))
    results_path = results_dir / f"{secrets.token_hex(16)}.jsonl"
    try:
        for rel, text in package.items():
            target = snapshot / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        if not run.alive():
            run.restart(run.why_dead() + " before grading")
        name = f"_course_grader_{secrets.token_hex(8)}"
        code = PREPARE_CODE.replace("__GRADER_NAME__", name).replace("__PACKAGE_PARENT__", repr(str(snapshot))) \
            .replace("__CHAPTER__", repr(chapter)).replace("__RESULTS_PATH__", repr(str(results_path)))
        try:
            reply = run.silent(code, 120)
        except (CellTimeoutError, DeadKernelError) as err:
            reply = {"status": "error", "ename": type(err).__name__, "evalue": "while importing the checks"}
        if reply.get("status") != "ok":
            for entry in results.values():
                entry["message"] = (f"the grader could not start in this kernel: {reply.get('ename')}: "
                                    f"{reply.get('evalue')}")[:MESSAGE_LIMIT]
            return list(results.values())
        dead = ""
        for exercise in exercises:
            if dead:
                results[exercise]["message"] = dead
                continue
            start = time.perf_counter()
            try:
                run.silent(GRADE_CODE.format(name=name, exercise_id=exercise), options["check_timeout"])
                results[exercise]["message"] = "the check gave no result"
            except CellTimeoutError:
                results[exercise].update(message=f"the check did not finish within {options['check_timeout']:g} s",
                                         seconds=round(time.perf_counter() - start, 3))
                if not run.responsive():
                    dead = f"not graded: the kernel hung while grading {exercise}"
                    run.stop()
            except DeadKernelError:
                dead = f"not graded: the kernel died ({run.why_dead()}) while grading {exercise}"
                results[exercise]["message"] = dead
                run.stop()
        if results_path.exists():
            for line in results_path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("exercise") in results and \
                        entry.get("status") in ("pass", "fail", "error"):
                    results[entry["exercise"]] = {
                        "exercise": entry["exercise"], "status": entry["status"],
                        "message": str(entry.get("message", ""))[:MESSAGE_LIMIT],
                        "seconds": float(entry.get("seconds", 0.0))}
        return [results[ex] for ex in exercises]
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)
        shutil.rmtree(results_dir, ignore_errors=True)


def grade_job(job: dict) -> dict:
    """Grade one notebook described by ``job`` (see :func:`course_utils.grading.make_job`)."""
    import nbformat

    start = time.perf_counter()
    exercises = list(job["exercises"])
    result = {"learner": job["learner"], "notebook": job["notebook"], "chapter": job["chapter"],
              "status": "graded", "notes": [], "cells": {}, "results": [], "seconds": 0.0}

    def fail_all(message):
        result["status"] = "error"
        result["results"] = [{"exercise": ex, "status": "error", "message": message[:MESSAGE_LIMIT], "seconds": 0.0}
                             for ex in exercises or [""]]
        return result

    if job.get("problem"):
        fail_all(job["problem"])
        result["seconds"] = round(time.perf_counter() - start, 3)
        return result
    try:
        nb = nbformat.reads(job["text"], as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
        for cell in nb.cells:
            if cell.get("cell_type") == "code" and not isinstance(cell.get("source"), str):
                raise ValueError("a code cell without source")
    except Exception as err:
        fail_all(f"not a readable notebook ({type(err).__name__}: {str(err)[:200]})")
        result["seconds"] = round(time.perf_counter() - start, 3)
        return result

    token = job.get("token") or secrets.token_hex(16)
    workdir = Path(tempfile.mkdtemp(prefix="grade-nb-"))
    (workdir / Path(job["notebook"]).name).write_text(job["text"], encoding="utf-8")
    run = NotebookRun(nb, workdir, job["options"], token)
    try:
        try:
            run.start()
        except Exception as err:
            return fail_all(f"the kernel did not start ({type(err).__name__}: {err})")
        result["cells"] = run_cells(run, nb)
        result["results"] = run_checks(run, job["chapter"], exercises, job["package"])
    finally:
        run.stop()
        run.watchdog.stop()
        killed = _kill_marked(token)
        if killed:
            run.notes.append(f"{killed} leftover processes killed")
        shutil.rmtree(workdir, ignore_errors=True)
        result["notes"] = run.notes
        result["peak_memory_mb"] = round(run.watchdog.peak_mb, 1)
        result["seconds"] = round(time.perf_counter() - start, 3)
    return result


def main() -> int:
    job = json.loads(sys.stdin.read())
    sys.stdin.close()
    out = job.pop("result_path")
    result = grade_job(job)
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
