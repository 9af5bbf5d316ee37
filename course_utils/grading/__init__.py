"""Batch grading: ``python -m course_utils grade SUBMISSIONS... --out REPORT`` (book/grading.md).

The parts, each with one job:

- :mod:`.batch` finds and reads the submissions (every entry gets a row or a named warning),
  grades each chapter's reference solution first (its times set the budgets), then the
  notebooks, here or on a Dask cluster;
- :mod:`.bubblewrap` says whether a sandbox can be had and builds its command line, with the
  seccomp filter of :mod:`.seccomp`;
- :mod:`.view` builds the learner's view of the package that a sandbox mounts;
- :mod:`.sandbox` starts the agent of one notebook in its sandbox, watches and ends it, and
  is the grader's link to it;
- :mod:`.agent` is all of the grader that runs inside the sandbox: :mod:`.agent.driver`
  executes the notebook (nbclient) and relays, :mod:`.agent.answers` is its helper inside
  the learner's kernel; both sides share its :mod:`.agent.channel` (JSON lines),
  :mod:`.agent.processes` (memory watchdog, process-tree killer), :mod:`.agent.wire` (plain
  data), :mod:`.agent.bridge` (tensors, models, optimisers as plain data) and :mod:`.agent.job`;
- :mod:`.remote` makes the grader's stand-ins for what a notebook defined, and :mod:`.judge`
  runs every check on them, in the grader's process, within the notebook's budget;
- :mod:`.report` writes the results, the report, the gradebook and the feedback;
- :mod:`.contracts` holds the dataclasses that go between the batch and its workers.

What a check needs from the grader it declares when it registers (its target, what the
sandbox must hide); the grader keeps no list of exercises, and every exercise is judged in
its process. Only :mod:`.agent` is importable inside a sandbox; this module's names load the
rest lazily.
"""

from __future__ import annotations

import sys

_EXPORTS = {
    "grade": "batch", "find_notebooks": "batch", "learner_of": "batch", "chapter_of": "batch",
    "make_job": "batch", "grade_notebook": "batch", "GradingError": "batch", "print_summary": "batch",
    "CSV_COLUMNS": "report", "OutputPaths": "report", "rows": "report",
    "Options": "contracts", "Job": "contracts", "NotebookResult": "contracts", "ExerciseResult": "contracts",
}
__all__ = [*_EXPORTS, "add_arguments", "main"]


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(name)


def add_arguments(parser) -> None:
    """The options of ``python -m course_utils grade``."""
    from course_utils.grading.contracts import Options
    from course_utils.profile import PROFILES

    defaults = Options()
    parser.add_argument("submissions", nargs="+", help="notebooks (.ipynb) or folders of them")
    parser.add_argument("--out", required=True,
                        help="report path: REPORT writes REPORT.csv, REPORT.json, REPORT-gradebook.csv, "
                             "REPORT-feedback/ and REPORT-results/")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks graded at once on this machine (default 2)")
    parser.add_argument("--cell-timeout", type=float, default=defaults.cell_timeout,
                        help="seconds per code cell (default %(default)g)")
    parser.add_argument("--total-timeout", type=float, default=defaults.total_timeout,
                        help="seconds for all the cells of one notebook (default %(default)g)")
    parser.add_argument("--check-timeout", type=float, default=defaults.check_timeout,
                        help="seconds per check (default %(default)g)")
    parser.add_argument("--memory-mb", type=float, default=defaults.memory_mb,
                        help="memory cap of one notebook's sandbox in MB (default %(default)g)")
    parser.add_argument("--profile", default=defaults.profile, choices=PROFILES,
                        help="COURSE_PROFILE inside the kernels (default %(default)s)")
    parser.add_argument("--chapter", default=None, help="grade every notebook as chapter NN")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="grade on a Dask distributed cluster (e.g. tcp://host:8786); each worker "
                             "sandboxes its own notebooks")
    parser.add_argument("--allow-unsandboxed", action="store_true",
                        help="grade without a sandbox when none can be had (trusted notebooks only)")
    parser.add_argument("--no-reference", action="store_true",
                        help="do not grade the chapters' solutions first: the time limits are then "
                             "--total-timeout for the cells and --check-timeout per exercise")
    parser.add_argument("--resume", action="store_true",
                        help="keep the saved results of notebooks unchanged since an interrupted run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args) -> int:
    """Run the grade command from parsed arguments; 0 unless the command itself was misused."""
    from course_utils.grading.batch import GradingError, grade, print_summary
    from course_utils.grading.report import OutputPaths

    try:
        report = grade(args.submissions, args.out, jobs=args.jobs, progress=not args.no_progress,
                       chapter=args.chapter, scheduler=args.scheduler, allow_unsandboxed=args.allow_unsandboxed,
                       resume=args.resume, cell_timeout=args.cell_timeout, total_timeout=args.total_timeout,
                       check_timeout=args.check_timeout, memory_mb=args.memory_mb, profile=args.profile,
                       reference=not args.no_reference)
    except GradingError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    print_summary(report, OutputPaths.from_out(args.out))
    return 0
