"""The grading report (grading, book/grading.md): written as results come, and atomically.

For ``--out reports/week1`` the grader writes

- ``reports/week1-results/``: one JSON file per notebook, as soon as it is graded (a killed
  batch keeps every result so far, and ``--resume`` grades only the rest);
- ``reports/week1.csv`` and ``reports/week1.json``: one row per learner, notebook and
  exercise, and everything (rewritten as results come);
- ``reports/week1-gradebook.csv``: one row per learner, a column per exercise and a total,
  for import into an LMS (Canvas, Moodle);
- ``reports/week1-feedback/``: one Markdown file per learner with each exercise's message.

Every file is written to a temporary name beside it and renamed into place. An output path
that is a symbolic link, a folder where a file goes, a named pipe or any other special file
is refused. CSV cells that a spreadsheet would read as a formula are escaped.
"""

from __future__ import annotations

import collections
import csv
import hashlib
import io
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from course_utils.grading.agent.job import cap
from course_utils.grading.contracts import STATUSES, NotebookResult

CSV_COLUMNS = ("learner", "notebook", "chapter", "exercise", "status", "message", "seconds", "judged", "slow",
               "notes")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


class OutputError(ValueError):
    """The output path cannot be written safely."""


@dataclass(frozen=True)
class OutputPaths:
    """Every path the report writes, from the ``--out`` argument."""

    csv: Path
    json: Path
    gradebook: Path
    feedback: Path
    results: Path

    @classmethod
    def from_out(cls, out) -> OutputPaths:
        out = Path(out)
        base = out.with_suffix("") if out.suffix.lower() in (".csv", ".json") else out
        parent, name = base.parent, base.name
        return cls(parent / f"{name}.csv", parent / f"{name}.json", parent / f"{name}-gradebook.csv",
                   parent / f"{name}-feedback", parent / f"{name}-results")

    def prepare(self) -> None:
        """Create the folders; refuse links, pipes, devices and folders where files go."""
        parent = self.csv.parent
        parent.mkdir(parents=True, exist_ok=True)
        if not parent.is_dir():
            raise OutputError(f"{parent} is not a folder")
        for path in (self.csv, self.json, self.gradebook):
            _check_file(path)
        for folder in (self.feedback, self.results):
            _check_folder(folder)
            folder.mkdir(exist_ok=True)


def _check_file(path: Path) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise OutputError(f"{path} is a symbolic link: the report will not write through it")
    if stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{path} is a folder, not a report file")
    if not stat.S_ISREG(info.st_mode):
        raise OutputError(f"{path} is not a regular file (a named pipe or a device?)")


def _check_folder(path: Path) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{path} should be a folder (not a link or a file)")


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def csv_cell(value):
    """A CSV cell a spreadsheet shows as text: formulas escaped, control characters removed."""
    if not isinstance(value, str):
        return value
    value = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", value)
    return "'" + value if value.startswith(FORMULA_START) else value


def safe_name(learner: str) -> str:
    """A file name for a learner: letters, digits, dots, dashes; a hash keeps names apart."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", learner).strip("._")[:60] or "learner"
    return f"{slug}-{hashlib.sha256(learner.encode('utf-8', 'replace')).hexdigest()[:8]}"


def result_key(notebook: str) -> str:
    return hashlib.sha256(notebook.encode("utf-8", "replace")).hexdigest()[:24]


class ResultStore:
    """One JSON file per graded notebook, in a folder no sandbox can reach."""

    def __init__(self, folder: Path):
        self.folder = folder

    def save(self, result: NotebookResult) -> None:
        atomic_write(self.folder / f"{result_key(result.notebook)}.json", json.dumps(result.to_dict()))

    def load(self, notebook: str, digest: str) -> NotebookResult | None:
        path = self.folder / f"{result_key(notebook)}.json"
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                return None
            result = NotebookResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        return result if result.notebook == notebook and result.digest == digest else None


def rows(report: dict) -> list[dict]:
    """One row per learner, notebook and exercise (the CSV report)."""
    table = []
    for result in report["submissions"]:
        notes = cap("; ".join(result.get("notes", [])), 2000)
        entries = result["results"] or [{"exercise": "", "status": "error", "message": "nothing graded",
                                         "seconds": 0.0, "judged": ""}]
        for entry in entries:
            table.append({"learner": result["learner"], "notebook": result["notebook"],
                          "chapter": result["chapter"], "exercise": entry["exercise"], "status": entry["status"],
                          "message": entry["message"], "seconds": entry["seconds"],
                          "judged": entry.get("judged", ""), "slow": entry.get("slow", ""), "notes": notes})
    return table


def _csv_text(header, table) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    for row in table:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return buffer.getvalue()


def duplicates(results: list[NotebookResult]) -> dict:
    """``{(learner, chapter): [notebooks]}`` for learners with more than one submission."""
    seen = collections.defaultdict(list)
    for result in results:
        seen[(result.learner, result.chapter)].append(result.notebook)
    return {key: sorted(paths) for key, paths in seen.items() if len(paths) > 1}


def gradebook(results: list[NotebookResult]) -> tuple[list[str], list[dict]]:
    """One row per learner: 1 per passed exercise, 0 otherwise, and the total. A learner with
    several notebooks for one chapter gets the best of them (the report flags it)."""
    exercises = sorted({r.exercise for res in results for r in res.results if r.exercise})
    best: dict = {}
    for result in results:
        key = (result.learner, result.chapter)
        if key not in best or result.passed > best[key].passed:
            best[key] = result
    learners = collections.defaultdict(dict)
    for (learner, _), result in sorted(best.items()):
        learners.setdefault(learner, {})  # a row even for a hand-in that could not be graded
        for entry in result.results:
            if entry.exercise:
                learners[learner][entry.exercise] = 1 if entry.status == "pass" else 0
    header = ["Student", "SIS Login ID", *exercises, "Total"]
    table = []
    for learner in sorted(learners):
        scores = learners[learner]
        row = {"Student": learner, "SIS Login ID": learner}
        row.update({ex: scores.get(ex, 0) for ex in exercises})
        row["Total"] = sum(scores.values())
        table.append(row)
    return header, table


def feedback(learner: str, results: list[NotebookResult]) -> str:
    """A learner's feedback: per notebook, each exercise's verdict and message."""
    lines = [f"# Feedback for {learner}", ""]
    for result in sorted(results, key=lambda r: (r.chapter, r.notebook)):
        lines += [f"## Chapter {result.chapter}: {Path(result.notebook).name}", ""]
        for entry in result.results:
            mark = {"pass": "passed", "fail": "not yet", "error": "not graded"}[entry.status]
            slow = f" (Slow: {entry.slow}; make it faster.)" if entry.slow else ""
            lines.append(f"- **{entry.exercise or 'notebook'}**: {mark}. {entry.message}{slow}")
        lines += ["", f"{result.passed} of {len(result.results)} exercises passed.", ""]
    return "\n".join(lines)


def summarize(results: list[NotebookResult], wall: float, kept: int = 0) -> dict:
    """Counts per status and per exercise, and the throughput of this run (``kept`` results
    were saved by an earlier run: counted, but not as graded now)."""
    statuses = collections.Counter()
    exercises: dict = {}
    for result in results:
        for row in result.results:
            statuses[row.status] += 1
            exercises.setdefault(row.exercise, collections.Counter())[row.status] += 1
    return {
        "notebooks": len(results),
        "notebooks_with_errors": sum(any(r.status == "error" for r in res.results) or not res.results
                                     for res in results),
        "all_passed": sum(bool(res.results) and all(r.status == "pass" for r in res.results) for res in results),
        "statuses": {s: statuses.get(s, 0) for s in STATUSES},
        "exercises": {ex: {s: c.get(s, 0) for s in STATUSES} for ex, c in sorted(exercises.items())},
        "slow": sum(bool(r.slow) for res in results for r in res.results),
        "graded": len(results) - kept,
        "kept": kept,
        "seconds": round(wall, 2),
        "notebooks_per_minute": round(60 * (len(results) - kept) / wall, 2) if wall > 0 else None,
    }


def write_all(paths: OutputPaths, results: list[NotebookResult], header: dict, wall: float, kept: int = 0) -> dict:
    """Write the CSV, JSON, gradebook and feedback files for ``results``; return the report."""
    results = sorted(results, key=lambda r: (r.learner, r.chapter, r.notebook))
    doubles = duplicates(results)
    report = {**header, "summary": summarize(results, wall, kept),
              "duplicates": [{"learner": k[0], "chapter": k[1], "notebooks": v} for k, v in sorted(doubles.items())],
              "submissions": [r.to_dict() for r in results]}
    atomic_write(paths.csv, _csv_text(CSV_COLUMNS, rows(report)))
    atomic_write(paths.json, json.dumps(report, indent=1))
    columns, table = gradebook(results)
    atomic_write(paths.gradebook, _csv_text(columns, table))
    by_learner = collections.defaultdict(list)
    for result in results:
        by_learner[result.learner].append(result)
    for learner, own in by_learner.items():
        atomic_write(paths.feedback / f"{safe_name(learner)}.md", feedback(learner, own))
    return report
