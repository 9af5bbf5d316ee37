"""Make a sample class of submitted notebooks and grade it (a demo and a throughput benchmark).

    python scripts/sample_class.py --out /tmp/sample_class            # 20 learners, chapter 00
    python scripts/sample_class.py --chapter 01-activations --n 10 --jobs 2
    python scripts/sample_class.py --kind solution --n 50 --jobs 2     # the throughput benchmark

Each learner's notebook mixes the solution's and the exercise's answer cells at random (so
some exercises are right and some are still stubs); the last few learners are hostile (an
endless loop, os._exit, a 80 GB array, a notebook that fakes the checks). With ``--kind
solution`` every learner hands in the solution itself. The class is written to
OUT/submissions/<learner>/<chapter>.ipynb and graded into OUT/report.{csv,json} with
``python -m course_utils grade``; the summary, the throughput and the machine's load (the
1-minute load average before and after) are printed.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import sys
import time
from pathlib import Path

import nbformat

from course_utils.authoring import chapters

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = {
    "loop": "while True:\n    pass",
    "exit": "import os\nos._exit(1)",
    "huge": "import numpy as np\nx = np.ones(10**10)",
    "faker": ("import course_utils.checks.core as core\n"
              "for key in list(core.REGISTRY):\n"
              "    core.REGISTRY[key].func = lambda answer: 'faked'\n"
              "check = lambda *args, **kwargs: True"),
}


def make_class(chapter: str, folder: Path, n: int, seed: int, kind: str = "mixed") -> list[Path]:
    """Write ``n`` submissions of ``chapter`` (e.g. ``00-perceptron``) under ``folder``: mixed
    answers and a few hostile learners, or (``kind="solution"``) the solution n times."""
    found = chapters.chapter(chapter)
    solution = nbformat.read(ROOT / found.path("solution", ".ipynb"), as_version=4)
    exercise = nbformat.read(ROOT / found.path("exercise", ".ipynb"), as_version=4)
    assert len(solution.cells) == len(exercise.cells), "the exercise should mirror the solution cell by cell"
    answers = [i for i, c in enumerate(solution.cells) if c.cell_type == "code" and chapters.solution_blocks(c.source)]
    rng = random.Random(seed)
    hostile = list(HOSTILE.items())[: max(0, min(len(HOSTILE), n // 5))] if kind == "mixed" else []
    paths = []
    for k in range(n):
        nb = copy.deepcopy(solution)
        for i in answers:
            if kind == "mixed" and rng.random() < 0.35:
                nb.cells[i] = copy.deepcopy(exercise.cells[i])
        kind = ""
        if k >= n - len(hostile):
            kind, code = hostile[k - (n - len(hostile))]
            if kind == "faker":  # all answers wrong, and an attempt to make every check pass
                nb = copy.deepcopy(exercise)
            nb.cells.insert(0 if kind != "faker" else len(nb.cells), nbformat.v4.new_code_cell(code))
        path = folder / f"learner{k + 1:02d}{'-' + kind if kind else ''}" / f"{chapter}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="/tmp/sample_class", help="folder for the class and its report")
    parser.add_argument("--chapter", default="00-perceptron")
    parser.add_argument("--n", type=int, default=20, help="number of learners")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kind", choices=("mixed", "solution"), default="mixed",
                        help="mixed answers and hostile learners, or the solution for every learner")
    parser.add_argument("--cell-timeout", type=float, default=10)
    parser.add_argument("--memory-mb", type=float, default=1500)
    parser.add_argument("--no-grade", action="store_true", help="only write the submissions")
    args = parser.parse_args(argv)

    out = Path(args.out)
    submissions = out / "submissions"
    if submissions.exists():
        import shutil

        shutil.rmtree(submissions)
    paths = make_class(args.chapter, submissions, args.n, args.seed, args.kind)
    print(f"wrote {len(paths)} submissions to {submissions}")
    if args.no_grade:
        return 0
    from course_utils import grading

    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    report = grading.grade([submissions], out / "report", jobs=args.jobs, cell_timeout=args.cell_timeout,
                           total_timeout=120, check_timeout=60, memory_mb=args.memory_mb)
    wall = time.perf_counter() - start
    grading.print_summary(report, grading.OutputPaths.from_out(out / "report"))
    print(f"throughput: {60 * len(paths) / wall:.1f} notebooks per minute with {args.jobs} jobs "
          f"({wall:.1f} s in all, the reference solution included); load average (1 min) "
          f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
