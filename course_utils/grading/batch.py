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
import secrets
import stat
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path

from course_utils.authoring import chapters
from course_utils.grading.agent.job import KernelJob, cap
from course_utils.grading.contracts import ExerciseResult, Job, NotebookResult, Options
from course_utils.grading.report import OutputError, OutputPaths, ResultStore, write_all

MAX_NOTEBOOK_BYTES = 20 * 2**20
REWRITE_EVERY = 5.0  # seconds between two rewrites of the reports during a batch


class GradingError(ValueError):
    """The grader was used wrongly (no notebooks found, a bad option, no sandbox): exit code 2."""


# --------------------------------------------------------------------------- submissions


def find_notebooks(paths, skipped: list | None = None) -> list[Path]:
    """The ``.ipynb`` files given, and those found (recursively) in the folders given.
    Inside folders, symbolic links are skipped (and added to ``skipped``): a submission is a
    file the learner handed in."""
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for candidate in sorted(path.rglob("*.ipynb")):
                if ".ipynb_checkpoints" in candidate.parts:
                    continue
                if _linked(candidate, path):
                    if skipped is not None:
                        skipped.append(str(candidate))
                elif candidate.is_file():
                    found.append(candidate)
        elif path.is_file():
            found.append(path)
        else:
            raise GradingError(f"no such file or folder: {raw}")
    unique = list(dict.fromkeys(p.absolute() for p in found))
    if not unique:
        raise GradingError("no notebooks (.ipynb) found in " + ", ".join(map(str, paths)))
    return unique


def _linked(path: Path, top: Path) -> bool:
    """True when ``path`` or a folder between it and ``top`` is a symbolic link."""
    for part in [path, *path.parents]:
        if part == top:
            return False
        if part.is_symlink():
            return True
    return False


def chapter_of(path: Path, text: str) -> str | None:
    """The chapter ``NN`` of a notebook: from its file name, else from its check calls."""
    return chapters.id_from_filename(path) or chapters.chapter_of_checks(text)


def learner_of(path: Path) -> str:
    """The learner: the folder of a notebook named after its chapter, else the file stem."""
    return cap(path.parent.name if chapters.id_from_filename(path) else path.stem, 200)


def _read(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        with os.fdopen(fd, "rb") as handle:
            fd = None
            return handle.read(MAX_NOTEBOOK_BYTES + 1)
    finally:
        if fd is not None:
            os.close(fd)


def make_job(path: Path, chapter: str | None = None) -> Job:
    """Read one notebook (never through a symbolic link) and describe its grading."""
    import nbformat

    from course_utils.checks import checks_for

    learner, problem, text = learner_of(path), "", ""
    try:
        data = _read(path)
    except OSError as err:
        return Job(learner, str(path), chapter or "", problem=f"could not read the file: {cap(err, 200)}")
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
            problem = f"not a readable notebook ({type(err).__name__}: {cap(err, 200)})"
    chapter = chapter or chapter_of(path, text) or ""
    exercises = tuple(sorted(checks_for(chapter))) if chapter else ()
    if not chapter:
        problem = problem or ("cannot tell the chapter: name the file NN-slug.ipynb or keep its "
                              "check(\"NN.name\", ...) cells")
    elif not exercises:
        problem = problem or f"chapter {chapter} has no registered checks"
    return Job(learner, str(path), chapter, text if not problem else "", problem, exercises, digest)


# --------------------------------------------------------------------------- one notebook


def _limits(options: Options, n_exercises: int) -> dict:
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
            "RLIMIT_CPU": int(options.total_timeout + n_exercises * options.check_timeout + 120)}


def _failed(job: Job, message: str, **extra) -> NotebookResult:
    result = NotebookResult(job.learner, job.notebook, job.chapter, status="error", digest=job.digest, **extra)
    result.results = [ExerciseResult(ex, message=message) for ex in (job.exercises or ("",))]
    return result


def grade_notebook(job: Job, options: Options, secret: int | None) -> NotebookResult:
    """Grade one notebook in its own sandbox, judging its answers here; always a result."""
    from course_utils.checks.core import set_secret
    from course_utils.grading.bubblewrap import bwrap_problem
    from course_utils.grading.judge import judge_all
    from course_utils.grading.sandbox import Sandbox, SandboxError
    from course_utils.grading.view import package_view

    start = time.perf_counter()
    if job.problem:
        return _failed(job, job.problem)
    sandboxed = options.sandbox == "bwrap"
    if sandboxed and bwrap_problem():
        return _failed(job, f"not graded: no sandbox on this machine ({bwrap_problem()})")
    set_secret(secret)
    view = package_view(job.chapter)
    kernel_job = KernelJob(Path(job.notebook).name, job.text, options.cell_timeout, options.total_timeout,
                           options.profile, _limits(options, len(job.exercises)))
    result = NotebookResult(job.learner, job.notebook, job.chapter, digest=job.digest,
                            sandbox="bubblewrap" if sandboxed else "none")
    box = Sandbox(view, sandboxed=sandboxed, memory_mb=options.memory_mb,
                  tmpfs_mb=min(options.disk_mb, options.memory_mb))
    try:
        box.start({"job": kernel_job.to_dict(), "memory_mb": options.memory_mb, "in_sandbox": sandboxed})
        ran = box.link.event("ran", options.total_timeout + 300)
        for note in ran.get("notes", [])[:20] if isinstance(ran.get("notes"), list) else []:
            result.note(note)
        cells = ran.get("cells") if isinstance(ran.get("cells"), dict) else {}
        result.cells = {k: int(v) for k, v in cells.items() if k in ("cells", "errors", "timeouts", "not_run")
                        and isinstance(v, int)}
        if not ran.get("ok"):
            raise SandboxError(cap(ran.get("why", "the notebook could not run"), 300))
        ready = box.link.event("ready", 120)
        if not ready.get("ok"):
            raise SandboxError(cap(ready.get("why", "the grader could not start in the kernel"), 300))
        result.results = judge_all(box.link, job.exercises, options.check_timeout)
    except SandboxError as err:
        why = f"memory above {options.memory_mb:g} MB" if box.memory_killed else str(err)
        result.status = "error"
        result.results = [ExerciseResult(ex, message=f"not graded: {why}") for ex in job.exercises]
        result.note(f"sandbox ended: {why}")
    finally:
        box.close()
        result.peak_memory_mb = round(box.peak_mb, 1)
        result.seconds = round(time.perf_counter() - start, 3)
    return result


# --------------------------------------------------------------------------- the batch


def _run_local(jobs: list[Job], options: Options, secret: int, workers: int):
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(grade_notebook, job, options, secret): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                yield future.result()
            except Exception as err:  # a bug in the grader must not lose the batch
                yield _failed(job, f"not graded: the grader failed ({type(err).__name__}: {cap(err, 200)})")


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
    skipped: list = []
    notebooks = find_notebooks(paths, skipped)
    import course_utils.checks  # noqa: F401 - the trusted checks, imported before any notebook runs

    job_list = [make_job(path, chapter) for path in notebooks]
    store = ResultStore(outputs.results)
    results, todo = [], []
    for job in job_list:
        kept = store.load(job.notebook, job.digest) if resume else None
        (results.append(kept) if kept else todo.append(job))
    header = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "options": {**dataclasses.asdict(opts), "jobs": jobs, "scheduler": scheduler or ""},
              "sandbox": "bubblewrap" if opts.sandbox == "bwrap" else "none: " + problem,
              "skipped_links": skipped}
    secret = secrets.randbits(63)
    start = time.perf_counter()
    last_write = 0.0
    from tqdm.auto import tqdm

    stream = _run_dask(todo, opts, secret, scheduler) if scheduler else _run_local(todo, opts, secret, jobs)
    with tqdm(total=len(job_list), initial=len(results), desc="grading", unit="notebook",
              disable=not progress) as bar:
        for result in stream:
            store.save(result)
            results.append(result)
            bar.update(1)
            if time.perf_counter() - last_write > REWRITE_EVERY:
                write_all(outputs, results, header, time.perf_counter() - start)
                last_write = time.perf_counter()
    _flag_duplicates(results)
    return write_all(outputs, results, header, time.perf_counter() - start)


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
    print(f"{summary['notebooks']} notebooks in {summary['seconds']:.1f} s "
          f"({summary['notebooks_per_minute']} per minute); all checks passed: {summary['all_passed']}; "
          f"with errors: {summary['notebooks_with_errors']}", file=stream)
    for exercise, counts in summary["exercises"].items():
        print(f"  {exercise:32s} pass {counts['pass']:4d}  fail {counts['fail']:4d}  error {counts['error']:4d}",
              file=stream)
    for double in report.get("duplicates", []):
        print(f"warning: {double['learner']} handed in {len(double['notebooks'])} notebooks for chapter "
              f"{double['chapter']}; the gradebook keeps the best", file=sys.stderr)
    for link in report.get("skipped_links", []):
        print(f"warning: {link} is a symbolic link: not graded", file=sys.stderr)
    if not report.get("sandbox", "").startswith("bubblewrap"):
        print(f"warning: graded WITHOUT a sandbox ({report.get('sandbox')})", file=sys.stderr)
    print(f"report: {outputs.csv}, {outputs.json}; gradebook: {outputs.gradebook}; feedback: {outputs.feedback}/",
          file=stream)
