"""A batch of submissions (grading, book/grading.md): find, read, grade, report.

Every notebook is read into memory before any runs; each is then graded by
:func:`grade_notebook` (its own sandbox, then trusted judging), in threads on this machine
or, with ``--scheduler ADDRESS``, as tasks of a Dask distributed cluster whose workers each
sandbox their own notebooks. Results are saved one by one as they come
(:class:`~.report.ResultStore`) and the reports rewritten as the batch goes.

Names: a notebook named after its chapter (``NN-slug.ipynb``, e.g. ``alice/00-perceptron.ipynb``)
belongs to the learner named by its folder; any other notebook (``alice.ipynb``) to the learner
named by its file stem, and its chapter is read from the ``check("NN.name", ...)`` calls in it.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import os
import queue
import secrets
import stat
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from course_utils.authoring import chapters
from course_utils.grading.agent.job import KernelJob, KernelSetup, cap
from course_utils.grading.contracts import ExerciseResult, Job, NotebookResult, Options
from course_utils.grading.report import OutputError, OutputPaths, ResultStore, write_all

MAX_NOTEBOOK_BYTES = 20 * 2**20
REWRITE_EVERY = 5.0  # seconds between two rewrites of the reports during a batch


class GradingError(ValueError):
    """The grader was used wrongly (no notebooks found, a bad option, no sandbox): exit code 2."""


# --------------------------------------------------------------------------- submissions

#: What each kind of entry is called in a warning or an error row.
ENTRY_KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
               stat.S_IFBLK: "a block device", stat.S_IFLNK: "a symbolic link"}


@dataclass
class Submissions:
    """Every entry found under the paths given: the notebooks to read, the entries that get an
    error row (a learner handed in something that cannot be graded) and those that get a
    named warning (nothing is dropped in silence)."""

    notebooks: list = field(default_factory=list)  # Path
    refused: list = field(default_factory=list)  # Job with a problem
    skipped: list = field(default_factory=list)  # {"path", "why"}

    def skip(self, path, why: str) -> None:
        self.skipped.append({"path": str(path), "why": why})


def find_submissions(paths) -> Submissions:
    """Walk the paths given (folders recursively, never through a symbolic link inside them)."""
    found = Submissions()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            _walk(path, found, top=path)
        elif path.is_file():
            found.notebooks.append(path)
        elif path.exists() or path.is_symlink():
            _entry(path, found, os.lstat(path), top=path.parent)
        else:
            raise GradingError(f"no such file or folder: {raw}")
    found.notebooks = list(dict.fromkeys(p.absolute() for p in found.notebooks))
    if not found.notebooks and not found.refused:
        raise GradingError("no notebooks (.ipynb) found in " + ", ".join(map(str, paths)))
    return found


def _walk(folder: Path, found: Submissions, top: Path) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as err:
        found.skip(folder, f"could not read the folder ({type(err).__name__})")
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError as err:
            found.skip(path, f"could not read ({type(err).__name__})")
            continue
        _entry(path, found, info, top)


def _entry(path: Path, found: Submissions, info, top: Path) -> None:
    kind = stat.S_IFMT(info.st_mode)
    notebook = path.name.endswith(".ipynb")
    if path.name == ".ipynb_checkpoints" and kind == stat.S_IFDIR:
        found.skip(path, "a folder of Jupyter's automatic checkpoints, not a submission")
    elif path.name.startswith("."):
        found.skip(path, "a hidden file or folder")
    elif kind == stat.S_IFDIR:
        _walk(path, found, top)
    elif kind == stat.S_IFREG and notebook:
        found.notebooks.append(path)
    elif kind == stat.S_IFREG:
        found.skip(path, "not a notebook (.ipynb)")
    elif notebook or (kind == stat.S_IFLNK and path.parent == top):
        what = ENTRY_KINDS.get(kind, "not a regular file")
        learner = path.name if not notebook else learner_of(path)
        chapter = chapters.id_from_filename(path) or ""
        found.refused.append(Job(learner, str(path.absolute()), chapter, exercises=_exercises(chapter),
                                 problem=f"not graded: the submission is {what}, not a notebook file"))
    else:
        found.skip(path, ENTRY_KINDS.get(kind, "not a regular file"))


def find_notebooks(paths, skipped: list | None = None) -> list[Path]:
    """The ``.ipynb`` files given, and those found (recursively) in the folders given; every
    other entry is added to ``skipped`` (``{"path", "why"}``)."""
    found = find_submissions(paths)
    if skipped is not None:
        skipped += found.skipped + [{"path": job.notebook, "why": job.problem} for job in found.refused]
    return found.notebooks


def chapter_of(path: Path, text: str) -> str | None:
    """The chapter ``NN`` of a notebook: from its file name, else from its check calls."""
    return chapters.id_from_filename(path) or chapters.chapter_of_checks(text)


def learner_of(path: Path) -> str:
    """The learner: the folder of a notebook named after its chapter, else the file stem."""
    return cap(path.parent.name if chapters.id_from_filename(path) else path.stem, 200)


class Refused(OSError):
    """A submission the grader will not read (its message never quotes the file)."""


def _read(path: Path, trusted: bool = False) -> bytes:
    """The bytes of a submission: a regular file, not through a link, with one name only
    (a hard link could be someone else's file) and owned by the user who grades."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"it is {ENTRY_KINDS.get(stat.S_IFMT(info.st_mode), 'not a regular file')}")
        if info.st_nlink > 1 and not trusted:
            raise Refused(f"the file has {info.st_nlink} hard links (it could be another person's file)")
        if info.st_uid != os.geteuid() and not trusted:
            raise Refused("the file belongs to another user than the one grading")
        with os.fdopen(fd, "rb") as handle:
            fd = None
            return handle.read(MAX_NOTEBOOK_BYTES + 1)
    finally:
        if fd is not None:
            os.close(fd)


def make_job(path: Path, chapter: str | None = None, trusted: bool = False) -> Job:
    """Read one notebook (never through a symbolic link) and describe its grading. No message
    quotes the file's contents. ``trusted``: the course's own file (any owner, any links)."""
    import nbformat

    from course_utils.checks import checks_for

    learner, problem, text = learner_of(path), "", ""
    named = chapter or chapters.id_from_filename(path) or ""
    try:
        data = _read(path, trusted)
    except Refused as err:
        return Job(learner, str(path), named, exercises=_exercises(named), problem=f"not graded, not read: {err}")
    except OSError as err:
        return Job(learner, str(path), named, exercises=_exercises(named),
                   problem=f"could not read the file ({type(err).__name__})")
    if len(data) > MAX_NOTEBOOK_BYTES:
        problem = f"the notebook is larger than {MAX_NOTEBOOK_BYTES >> 20} MB"
        data = b""
    digest = hashlib.sha256(data).hexdigest()
    text = data.decode("utf-8", errors="replace")
    if not problem:
        try:
            nb = nbformat.reads(text, as_version=4)
            if not isinstance(nb.get("cells"), list) or any(
                    c.get("cell_type") == "code" and not isinstance(c.get("source"), str) for c in nb.cells):
                raise ValueError("no list of cells with text sources")
        except Exception as err:
            problem = f"not a readable notebook ({type(err).__name__}{_where(err)})"
    chapter = chapter or chapter_of(path, text) or ""
    exercises = tuple(sorted(checks_for(chapter))) if chapter else ()
    if not chapter:
        problem = problem or ("cannot tell the chapter: name the file NN-slug.ipynb or keep its "
                              "check(\"NN.name\", ...) cells")
    elif not exercises:
        problem = problem or f"chapter {chapter} has no registered checks"
    return Job(learner, str(path), chapter, text if not problem else "", problem, exercises, digest)


def _exercises(chapter: str) -> tuple:
    from course_utils.checks import checks_for

    return tuple(sorted(checks_for(chapter))) if chapter else ()


def _where(err: Exception) -> str:
    """Where a JSON error is, without any of the text there."""
    line, column = getattr(err, "lineno", None), getattr(err, "colno", None)
    return f" at line {line}, column {column}" if isinstance(line, int) and isinstance(column, int) else ""


# --------------------------------------------------------------------------- one notebook


def _limits(options: Options, n_exercises: int, limits: dict) -> dict:
    """Resource limits set inside the sandbox before the notebook runs."""
    import psutil

    processes = options.processes
    if os.geteuid() != 0:  # the sandbox shares this user id: leave room for what already runs
        me = os.getuid()
        running = 0
        for proc in psutil.process_iter(["uids", "num_threads"]):
            try:
                if proc.info["uids"] and proc.info["uids"].real == me:
                    running += proc.info["num_threads"] or 1
            except psutil.Error:
                continue
        processes += running
    return {"RLIMIT_AS": int((2 * options.memory_mb + 2048) * 2**20), "RLIMIT_NPROC": processes,
            "RLIMIT_FSIZE": int(options.file_mb * 2**20), "RLIMIT_CORE": 0,
            "RLIMIT_CPU": int(limits["cells"] + limits["judging"] + 2 * STARTUP_SECONDS)}


def _failed(job: Job, message: str, **extra) -> NotebookResult:
    result = NotebookResult(job.learner, job.notebook, job.chapter, status="error", digest=job.digest, **extra)
    result.results = [ExerciseResult(ex, message=message) for ex in (job.exercises or ("",))]
    return result


def open_sandbox(job: Job, options: Options):
    """The sandbox ``job`` will run in, started: its agent starts the kernel at once, with no
    notebook in it yet (:class:`~.agent.job.KernelSetup`). None where the job cannot run
    (a refused notebook, no sandbox on this machine)."""
    from course_utils.grading.bubblewrap import bwrap_problem
    from course_utils.grading.sandbox import Sandbox
    from course_utils.grading.view import package_view

    sandboxed = options.sandbox == "bwrap"
    if job.problem or (sandboxed and bwrap_problem()):
        return None
    limits = budgets(options, job)
    setup = KernelSetup(options.profile, _limits(options, len(job.exercises), limits), options.memory_mb, sandboxed)
    box = Sandbox(package_view(job.chapter), sandboxed=sandboxed, memory_mb=options.memory_mb,
                  tmpfs_mb=min(options.disk_mb, options.memory_mb))
    box.send({"setup": setup.to_dict()})
    return box


def grade_notebook(job: Job, options: Options, secret: int | None, close=None, box=None) -> NotebookResult:
    """Grade one notebook in its own sandbox (``box``, from :func:`open_sandbox`, or opened
    here), judging its answers here; always a result. The sandbox is ended by
    ``close(box.close)`` when given (a batch ends it in the background and moves on), else
    before returning."""
    from course_utils.checks.core import salted
    from course_utils.grading.bubblewrap import bwrap_problem
    from course_utils.grading.judge import judge_all
    from course_utils.grading.sandbox import SandboxError

    start = time.perf_counter()
    box = box or open_sandbox(job, options)
    if box is None:
        return _failed(job, job.problem or f"not graded: no sandbox on this machine ({bwrap_problem()})")
    limits = budgets(options, job)
    result = NotebookResult(job.learner, job.notebook, job.chapter, digest=job.digest,
                            sandbox="bubblewrap" if box.sandboxed else "none", budget=limits)
    try:
        box.send({"job": KernelJob(Path(job.notebook).name, job.text, options.cell_timeout,
                                    limits["cells"]).to_dict()})
        ran = box.link.event("ran", limits["cells"] + STARTUP_SECONDS + 2 * RESTART_SECONDS)
        for note in ran.get("notes", [])[:20] if isinstance(ran.get("notes"), list) else []:
            result.note(note)
        cells = ran.get("cells") if isinstance(ran.get("cells"), dict) else {}
        result.cells = {k: v for k, v in cells.items() if k in ("cells", "errors", "timeouts", "not_run", "seconds",
                                                                 "kernel_start")
                        and isinstance(v, (int, float)) and not isinstance(v, bool)}
        if not ran.get("ok"):
            raise SandboxError(cap(ran.get("why", "the notebook could not run"), 300))
        ready = box.link.event("ready", HELPER_SECONDS + 5)
        if not ready.get("ok"):
            raise SandboxError(cap(ready.get("why", "the grader could not start in the kernel"), 300))
        reference = job.budget.get("exercises") if isinstance(job.budget.get("exercises"), dict) else {}
        with salted(secret):
            result.results = judge_all(box.link, job.exercises, options.check_timeout, limits["judging"],
                                       reference)
        for entry in result.results:
            if entry.slow:
                result.note(f"slow: {entry.exercise}: {entry.slow}")
    except SandboxError as err:
        why = f"memory above {options.memory_mb:g} MB" if box.memory_killed else str(err)
        result.status = "error"
        result.results = [ExerciseResult(ex, message=f"not graded: {why}") for ex in job.exercises]
        result.note(f"sandbox ended: {why}")
    finally:
        result.peak_memory_mb = round(box.peak_mb, 1)
        if close is None:
            box.close()
        else:
            close(box.close)
        result.seconds = round(time.perf_counter() - start, 3)
    return result


#: Seconds the parts of grading around the cells and the checks may take at most: the kernel's
#: start (and each restart), the grader's helper starting in the kernel.
STARTUP_SECONDS = 120.0
RESTART_SECONDS = 125.0  # a restart after a cell the kernel would not give up: 3 s to interrupt, then a start
HELPER_SECONDS = 120.0
CLOSE_SECONDS = 10.0  # ending the sandbox (killed at once; 10 s at most for its processes to go)
INTERRUPT_SECONDS = 5.0  # waiting for the kernel to give up a call the check abandoned


def budgets(options: Options, job: Job) -> dict:
    """The time limits of one notebook: its cells may take ``cells`` seconds in all, the
    judging of its answers ``judging`` (each check at most ``check_timeout``). Both come from
    the reference solution's own times when it was graded first (``job.budget``): a multiple of
    them, with a floor, and never more than the options allow (``--total-timeout``, and
    ``--check-timeout`` per exercise); without a reference, those options."""
    from course_utils.grading.judge import CELLS_FACTOR, CELLS_FLOOR, budget

    reference = job.budget or {}
    cells, judging = reference.get("cells"), reference.get("judging")
    per_notebook = options.check_timeout * max(1, len(job.exercises))
    cells = options.total_timeout if not isinstance(cells, (int, float)) else \
        min(options.total_timeout, max(CELLS_FLOOR, CELLS_FACTOR * cells))
    judging = per_notebook if not isinstance(judging, (int, float)) else min(per_notebook, budget(judging))
    return {"cells": round(float(cells), 1), "judging": round(float(judging), 1), "check": options.check_timeout}


def worst_case_seconds(limits: dict) -> float:
    """The longest one notebook can keep a grading job busy with these limits (book/grading.md):
    the kernel's start, every cell (a cell that will not stop costs a restart once the time is
    up), the helper's start, the judging and the interrupt after the last check, the end."""
    return (STARTUP_SECONDS + limits["cells"] + RESTART_SECONDS + HELPER_SECONDS + limits["judging"]
            + INTERRUPT_SECONDS + CLOSE_SECONDS)


# --------------------------------------------------------------------------- the batch


class _Queue:
    """The jobs of a local batch in order, each handed out with its sandbox, and the sandboxes
    of the next ``ahead`` jobs started meanwhile: their agents and kernels come up (no notebook
    in them) while the jobs before them run, so a notebook's turn begins with its kernel ready.
    At most ``workers`` notebooks run at once."""

    def __init__(self, jobs: list[Job], options: Options, ahead: int):
        self.jobs, self.options, self.ahead = jobs, options, ahead
        self.boxes: dict = {}
        self.taken = 0
        self.lock = threading.Lock()

    def take(self):
        """The next job and its sandbox (None when the job cannot run); None when none is left."""
        with self.lock:
            index = self.taken
            if index >= len(self.jobs):
                return None
            self.taken += 1
            box = self.boxes.pop(index) if index in self.boxes else self._open(self.jobs[index])
            for later in range(index + 1, min(index + 1 + self.ahead, len(self.jobs))):
                if later not in self.boxes:
                    self.boxes[later] = self._open(self.jobs[later])
        return self.jobs[index], box

    def _open(self, job: Job):
        try:
            return open_sandbox(job, self.options)
        except Exception:  # the job's own turn says why
            return None

    def close(self) -> None:
        with self.lock:
            boxes, self.boxes = list(self.boxes.values()), {}
        for box in boxes:
            if box is not None:
                box.close()


def _run_local(jobs: list[Job], options: Options, secret: int, workers: int):
    # each job's sandbox starts while the job before it runs; a graded notebook's sandbox ends
    # in the background while its worker starts the next; the batch returns once every sandbox
    # has ended
    line = _Queue(jobs, options, ahead=workers)
    results: queue.Queue = queue.Queue()

    def work(closer):
        while (taken := line.take()) is not None:
            job, box = taken
            try:
                results.put(grade_notebook(job, options, secret, closer, box))
            except Exception as err:  # a bug in the grader must not lose the batch
                results.put(_failed(job, f"not graded: the grader failed ({type(err).__name__}: {cap(err, 200)})"))

    try:
        with ThreadPoolExecutor(max_workers=workers) as closers, ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in range(min(workers, len(jobs))):
                pool.submit(work, closers.submit)
            for _ in jobs:
                yield results.get()
    finally:
        line.close()


def _run_dask(jobs: list[Job], options: Options, secret: int, address: str):
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as err:
        raise GradingError("--scheduler needs Dask distributed: pip install 'dask[distributed]'") from err
    try:
        client = Client(address, timeout=10)
    except Exception as err:
        raise GradingError(f"cannot reach the Dask scheduler at {address}: {cap(err, 200)}") from err
    try:
        token = secrets.token_hex(6)
        futures = {client.submit(grade_notebook, job, options, secret, pure=False, retries=1,
                                 key=f"grade-{token}-{i}"): job for i, job in enumerate(jobs)}
        for future in dask_completed(futures):
            job = futures[future]
            try:
                yield future.result()
            except Exception as err:  # a worker lost, a task failed
                yield _failed(job, f"not graded: the Dask task failed ({type(err).__name__}: {cap(err, 200)})")
    finally:
        client.close()


def reference_job(chapter: str) -> Job | None:
    """The chapter's solution notebook, from the repository the package runs from (None when
    it is not there, e.g. an installed package): graded first, its times set the budgets."""
    for path in chapters.files("solution", chapters.REPO_ROOT, suffix=".ipynb"):
        if chapters.id_from_filename(path) == chapter:
            job = make_job(path, chapter, trusted=True)
            return dataclasses.replace(job, learner=f"reference solution {chapter}")
    return None


def reference_times(result: NotebookResult) -> dict:
    """What the reference's grading took: its cells, its judging and each exercise (seconds)."""
    passed = {r.exercise: r.seconds for r in result.results if r.status == "pass"}
    return {"notebook": result.notebook, "cells": result.cells.get("seconds"),
            "judging": round(sum(r.seconds for r in result.results), 3) if result.status != "error" else None,
            "exercises": passed, "passed": f"{len(passed)} of {len(result.results)}"}


def grade(paths, out, jobs: int = 2, progress: bool = True, chapter: str | None = None,
          scheduler: str | None = None, allow_unsandboxed: bool = False, resume: bool = False,
          **options) -> dict:
    """Grade every notebook in ``paths``; write the reports as results come; return the report."""
    from course_utils.grading.bubblewrap import bwrap_problem

    known = {f.name for f in dataclasses.fields(Options)} - {"sandbox"}
    unknown = set(options) - known
    if unknown:
        raise GradingError(f"unknown options {sorted(unknown)}")
    if jobs < 1:
        raise GradingError("--jobs must be at least 1")
    if chapter is not None and not chapters.is_chapter_id(chapter):
        raise GradingError("--chapter must be two digits, e.g. 03")
    problem = bwrap_problem() if scheduler is None else ""
    if problem and not allow_unsandboxed:
        raise GradingError(f"no sandbox: {problem}. Grading untrusted notebooks without one lets them "
                           "change files, other grades and the grader itself; pass --allow-unsandboxed "
                           "only for notebooks you trust.")
    try:
        opts = Options(**options, sandbox="none" if problem else "bwrap").validate()
    except (TypeError, ValueError) as err:
        raise GradingError(str(err)) from None
    outputs = OutputPaths.from_out(out)
    try:
        outputs.prepare()
    except (OutputError, OSError) as err:
        raise GradingError(f"cannot write the report: {err}") from None
    found = find_submissions(paths)
    import course_utils.checks  # noqa: F401 - the trusted checks, imported before any notebook runs

    job_list = [make_job(path, chapter) for path in found.notebooks] + found.refused
    store = ResultStore(outputs.results)
    results, todo = [], []
    for job in job_list:
        kept = store.load(job.notebook, job.digest) if resume and job.digest else None
        (results.append(kept) if kept else todo.append(job))
    kept_count = len(results)
    header = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "options": {**dataclasses.asdict(opts), "jobs": jobs, "scheduler": scheduler or ""},
              "sandbox": "bubblewrap" if opts.sandbox == "bwrap" else "none: " + problem,
              "skipped": found.skipped, "reference": {}}
    secret = secrets.randbits(63)
    start = time.perf_counter()

    def run(batch):
        return _run_dask(batch, opts, secret, scheduler) if scheduler else _run_local(batch, opts, secret, jobs)

    references = [r for r in (reference_job(c) for c in sorted({j.chapter for j in todo if not j.problem}))
                  if r is not None] if opts.reference else []
    for result in run(references) if references else ():
        header["reference"][result.chapter] = reference_times(result)
    todo = [dataclasses.replace(job, budget=header["reference"].get(job.chapter, {})) if not job.problem else job
            for job in todo]
    last_write = 0.0
    from tqdm.auto import tqdm

    with tqdm(total=len(job_list), initial=len(results), desc="grading", unit="notebook",
              disable=not progress) as bar:
        for result in run(todo):
            store.save(result)
            results.append(result)
            bar.update(1)
            if time.perf_counter() - last_write > REWRITE_EVERY:
                write_all(outputs, results, header, time.perf_counter() - start, kept=kept_count)
                last_write = time.perf_counter()
    _flag_duplicates(results)
    return write_all(outputs, results, header, time.perf_counter() - start, kept=kept_count)


def _flag_duplicates(results: list[NotebookResult]) -> None:
    counts = collections.Counter((r.learner, r.chapter) for r in results)
    for result in results:
        n = counts[(result.learner, result.chapter)]
        if n > 1 and not any(note.startswith("duplicate:") for note in result.notes):
            result.note(f"duplicate: {n} notebooks of {result.learner} for chapter {result.chapter}; "
                        "the gradebook keeps the best")


def print_summary(report: dict, outputs: OutputPaths, stream=None) -> None:
    """A short summary for the terminal, with the warnings an instructor must see."""
    stream = stream or sys.stdout
    summary = report["summary"]
    kept = f", {summary['kept']} kept from an earlier run" if summary.get("kept") else ""
    print(f"{summary['notebooks']} notebooks ({summary['graded']} graded in {summary['seconds']:.1f} s, "
          f"{summary['notebooks_per_minute']} per minute{kept}); all checks passed: {summary['all_passed']}; "
          f"with errors: {summary['notebooks_with_errors']}; slow answers: {summary['slow']}", file=stream)
    for exercise, counts in summary["exercises"].items():
        print(f"  {exercise:32s} pass {counts['pass']:4d}  fail {counts['fail']:4d}  error {counts['error']:4d}",
              file=stream)
    for chapter, times in sorted(report.get("reference", {}).items()):
        print(f"  reference solution of chapter {chapter}: cells {times.get('cells')} s, judging "
              f"{times.get('judging')} s, passed {times.get('passed')}", file=stream)
    for double in report.get("duplicates", []):
        print(f"warning: {double['learner']} handed in {len(double['notebooks'])} notebooks for chapter "
              f"{double['chapter']}; the gradebook keeps the best", file=sys.stderr)
    skipped = report.get("skipped", [])
    for entry in skipped[:50]:
        print(f"warning: not graded: {entry['path']}: {entry['why']}", file=sys.stderr)
    if len(skipped) > 50:
        print(f"warning: {len(skipped) - 50} more entries not graded (the report's \"skipped\" lists them)",
              file=sys.stderr)
    if not report.get("sandbox", "").startswith("bubblewrap"):
        print(f"warning: graded WITHOUT a sandbox ({report.get('sandbox')})", file=sys.stderr)
    print(f"report: {outputs.csv}, {outputs.json}; gradebook: {outputs.gradebook}; feedback: {outputs.feedback}/",
          file=stream)
