"""Batch grading: ``python -m course_utils grade SUBMISSIONS... --out REPORT`` (book/grading.md).

Every submitted notebook is read into memory first, then graded by its own worker process
(:mod:`course_utils.grading_worker`): a fresh copy in a temporary folder, its own kernel with
time and memory limits, then the chapter's checks from a fresh import of the grader's
``course_utils``. One broken or hostile notebook never stops the batch. The report lists, per
learner and exercise, ``pass`` / ``fail`` / ``error``, the message and the seconds taken, as
CSV and JSON.

Names: a notebook named after its chapter (``NN-slug.ipynb``, e.g. ``alice/00-perceptron.ipynb``)
belongs to the learner named by its folder; any other notebook (``alice.ipynb``) to the learner
named by its file stem, and its chapter is read from the ``check("NN.name", ...)`` calls in it.
"""

from __future__ import annotations

import collections
import csv
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHAPTER_PREFIX = re.compile(r"^(\d\d)[-_]")
CHECK_ID = re.compile(r"""check\(\s*\\?["'](\d\d)\.[A-Za-z0-9_]+""")
MAX_NOTEBOOK_BYTES = 20 * 2**20
CSV_COLUMNS = ("learner", "notebook", "chapter", "exercise", "status", "message", "seconds", "notes")
DEFAULTS = {"cell_timeout": 120.0, "total_timeout": 600.0, "check_timeout": 60.0, "memory_mb": 4096.0,
            "profile": "smoke", "rlimit": True}


class GradingError(ValueError):
    """The grader was used wrongly (no notebooks found, a bad option): exit code 2."""


# --------------------------------------------------------------------------- submissions


def find_notebooks(paths) -> list[Path]:
    """The ``.ipynb`` files given, and those found (recursively) in the folders given."""
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb")
                            if ".ipynb_checkpoints" not in p.parts and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise GradingError(f"no such file or folder: {raw}")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise GradingError("no notebooks (.ipynb) found in " + ", ".join(map(str, paths)))
    return unique


def chapter_of(path: Path, text: str) -> str | None:
    """The chapter ``NN`` of a notebook: from its file name, else from its check calls."""
    match = CHAPTER_PREFIX.match(path.name)
    if match:
        return match.group(1)
    ids = CHECK_ID.findall(text)
    return collections.Counter(ids).most_common(1)[0][0] if ids else None


def learner_of(path: Path) -> str:
    """The learner: the folder of a notebook named after its chapter, else the file stem."""
    return path.parent.name if CHAPTER_PREFIX.match(path.name) else path.stem


def package_snapshot() -> dict[str, str]:
    """The text of every source file of the grader's ``course_utils``, read before any notebook
    runs (a notebook that edits the files on disk cannot change the checks)."""
    files = {}
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".json", ".txt", ".csv"):
            files[str(Path("course_utils") / path.relative_to(PACKAGE_DIR))] = path.read_text(encoding="utf-8")
    return files


def make_job(path: Path, options: dict, package: dict, chapter: str | None = None) -> dict:
    """Read one notebook and describe its grading (the worker's input)."""
    from course_utils.checks import checks_for

    job = {"learner": learner_of(path), "notebook": str(path), "chapter": chapter or "", "exercises": [],
           "options": options, "package": package, "text": "", "problem": "",
           "token": secrets.token_hex(16)}
    try:
        data = path.read_bytes()
    except OSError as err:
        job["problem"] = f"could not read the file: {err}"
        return job
    if len(data) > MAX_NOTEBOOK_BYTES:
        job["problem"] = f"the notebook is larger than {MAX_NOTEBOOK_BYTES >> 20} MB"
    text = data.decode("utf-8", errors="replace")
    job["text"] = text
    if not job["problem"]:
        try:
            import nbformat

            nbformat.reads(text, as_version=4)
        except Exception as err:
            job["problem"] = f"not a readable notebook ({type(err).__name__}: {str(err)[:200]})"
    job["chapter"] = chapter or chapter_of(path, text) or ""
    if not job["chapter"]:
        job["problem"] = job["problem"] or ("cannot tell the chapter: name the file NN-slug.ipynb or keep "
                                            "its check(\"NN.name\", ...) cells")
    else:
        job["exercises"] = sorted(checks_for(job["chapter"]))
        if not job["exercises"]:
            job["problem"] = job["problem"] or f"chapter {job['chapter']} has no registered checks"
    return job


# --------------------------------------------------------------------------- running


def _worker_limit(job: dict) -> float:
    options = job["options"]
    return options["total_timeout"] + len(job["exercises"]) * (options["check_timeout"] + 10) + 300


def run_job(job: dict) -> dict:
    """Grade one notebook in a worker process; whatever happens, return a result."""
    from course_utils.grading_worker import _kill_marked, grade_job

    if job["problem"]:
        return grade_job(job)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="grade-job-") as tmp:
        result_path = Path(tmp) / f"{secrets.token_hex(12)}.json"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_DIR.parent)] + ([env["PYTHONPATH"]] if env.get(
            "PYTHONPATH") else []))
        payload = json.dumps({**job, "result_path": str(result_path)})
        problem = ""
        proc = subprocess.Popen([sys.executable, "-m", "course_utils.grading_worker"], cwd=tmp, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            proc.communicate(payload.encode(), timeout=_worker_limit(job))
            if proc.returncode != 0:
                problem = f"the grading worker stopped (exit code {proc.returncode})"
        except subprocess.TimeoutExpired:
            problem = f"grading took longer than {_worker_limit(job):g} s"
        finally:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, 9)
                except OSError:
                    proc.kill()
                proc.wait()
            _kill_marked(job["token"])
        result = None
        if not problem:
            try:
                result = json.loads(result_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                problem = f"the grading worker left no result ({type(err).__name__})"
    if result is None:
        result = grade_job({**job, "problem": problem})
        result["seconds"] = round(time.perf_counter() - start, 3)
    return result


def grade(paths, out, jobs: int = 2, progress: bool = True, chapter: str | None = None, **options) -> dict:
    """Grade every notebook in ``paths``; write the CSV and JSON reports; return the report."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise GradingError(f"unknown options {sorted(unknown)}")
    options = {**DEFAULTS, **options}
    for key in ("cell_timeout", "total_timeout", "check_timeout", "memory_mb"):
        if not options[key] or options[key] <= 0:
            raise GradingError(f"{key} must be positive")
    if jobs < 1:
        raise GradingError("--jobs must be at least 1")
    if chapter is not None and not re.fullmatch(r"\d\d", chapter):
        raise GradingError("--chapter must be two digits, e.g. 03")
    csv_path, json_path = report_paths(out)
    notebooks = find_notebooks(paths)
    package = package_snapshot()
    # Read everything before running anything: a notebook may delete files.
    job_list = [make_job(path, options, package, chapter) for path in notebooks]
    start = time.perf_counter()
    results = []
    from tqdm.auto import tqdm

    with ThreadPoolExecutor(max_workers=jobs) as pool, \
            tqdm(total=len(job_list), desc="grading", unit="notebook", disable=not progress) as bar:
        futures = [pool.submit(run_job, job) for job in job_list]
        for future in as_completed(futures):
            results.append(future.result())
            bar.update(1)
    wall = time.perf_counter() - start
    results.sort(key=lambda r: (r["learner"], r["chapter"], r["notebook"]))
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "options": {**options, "jobs": jobs},
        "summary": summarize(results, wall),
        "submissions": results,
    }
    write_report(report, csv_path, json_path)
    return report


def summarize(results: list[dict], wall: float) -> dict:
    """Counts per status and per exercise, and the throughput."""
    statuses = collections.Counter()
    exercises: dict[str, collections.Counter] = {}
    for result in results:
        for row in result["results"]:
            statuses[row["status"]] += 1
            exercises.setdefault(row["exercise"], collections.Counter())[row["status"]] += 1
    return {
        "notebooks": len(results),
        "notebooks_with_errors": sum(any(r["status"] == "error" for r in res["results"]) or not res["results"]
                                     for res in results),
        "all_passed": sum(bool(res["results"]) and all(r["status"] == "pass" for r in res["results"])
                          for res in results),
        "statuses": {s: statuses.get(s, 0) for s in ("pass", "fail", "error")},
        "exercises": {ex: {s: c.get(s, 0) for s in ("pass", "fail", "error")} for ex, c in sorted(exercises.items())},
        "seconds": round(wall, 2),
        "notebooks_per_minute": round(60 * len(results) / wall, 2) if wall > 0 else None,
    }


def report_paths(out) -> tuple[Path, Path]:
    """``report.csv`` and ``report.json`` from ``report``, ``report.csv`` or ``report.json``."""
    out = Path(out)
    base = out.with_suffix("") if out.suffix.lower() in (".csv", ".json") else out
    return base.parent / (base.name + ".csv"), base.parent / (base.name + ".json")


def rows(report: dict) -> list[dict]:
    """One row per learner, notebook and exercise (the CSV report)."""
    table = []
    for result in report["submissions"]:
        notes = "; ".join(result.get("notes", []))[:2000]
        entries = result["results"] or [{"exercise": "", "status": "error", "message": "nothing graded",
                                         "seconds": 0.0}]
        for entry in entries:
            table.append({"learner": result["learner"], "notebook": result["notebook"],
                          "chapter": result["chapter"], "exercise": entry["exercise"], "status": entry["status"],
                          "message": entry["message"], "seconds": entry["seconds"], "notes": notes})
    return table


def write_report(report: dict, csv_path: Path, json_path: Path) -> None:
    """Write the CSV (one row per learner and exercise) and the JSON (everything)."""
    for path in (csv_path, json_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows(report))
    json_path.write_text(json.dumps(report, indent=1), encoding="utf-8")


def print_summary(report: dict, csv_path: Path, json_path: Path, stream=None) -> None:
    """A short summary for the terminal."""
    stream = stream or sys.stdout
    summary = report["summary"]
    print(f"{summary['notebooks']} notebooks in {summary['seconds']:.1f} s "
          f"({summary['notebooks_per_minute']} per minute); all checks passed: {summary['all_passed']}; "
          f"with errors: {summary['notebooks_with_errors']}", file=stream)
    for exercise, counts in summary["exercises"].items():
        print(f"  {exercise:32s} pass {counts['pass']:4d}  fail {counts['fail']:4d}  error {counts['error']:4d}",
              file=stream)
    print(f"report: {csv_path} and {json_path}", file=stream)


def add_arguments(parser) -> None:
    """The options of ``python -m course_utils grade``."""
    parser.add_argument("submissions", nargs="+", help="notebooks (.ipynb) or folders of them")
    parser.add_argument("--out", required=True, help="report path: REPORT writes REPORT.csv and REPORT.json")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks graded at once (default 2)")
    parser.add_argument("--cell-timeout", type=float, default=DEFAULTS["cell_timeout"],
                        help="seconds per code cell (default %(default)g)")
    parser.add_argument("--total-timeout", type=float, default=DEFAULTS["total_timeout"],
                        help="seconds for all the cells of one notebook (default %(default)g)")
    parser.add_argument("--check-timeout", type=float, default=DEFAULTS["check_timeout"],
                        help="seconds per check (default %(default)g)")
    parser.add_argument("--memory-mb", type=float, default=DEFAULTS["memory_mb"],
                        help="memory cap of a notebook's kernel in MB (default %(default)g)")
    parser.add_argument("--profile", default=DEFAULTS["profile"], choices=("smoke", "full", "gpu"),
                        help="COURSE_PROFILE inside the kernels (default %(default)s)")
    parser.add_argument("--chapter", default=None, help="grade every notebook as chapter NN")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args) -> int:
    """Run the grade command from parsed arguments; 0 unless the command itself was misused."""
    try:
        report = grade(args.submissions, args.out, jobs=args.jobs, progress=not args.no_progress,
                       chapter=args.chapter, cell_timeout=args.cell_timeout, total_timeout=args.total_timeout,
                       check_timeout=args.check_timeout, memory_mb=args.memory_mb, profile=args.profile)
    except GradingError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    print_summary(report, *report_paths(args.out))
    return 0
