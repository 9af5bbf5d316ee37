"""Command line: ``python -m course_utils {sync,checks,grade,benchmark,build-info,publish}``."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["benchmark"]:
        from course_utils.benchmark import main as benchmark_main

        return benchmark_main(argv[1:])
    if argv[:1] in (["build-info"], ["publish"]):
        from course_utils.publish import main as publish_main

        return publish_main(argv)
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_sync = sub.add_parser("sync", help="regenerate exercises/, every .ipynb twin and every first cell "
                                         "(from _config.yml's repository:)")
    p_sync.add_argument("--root", default=".")
    p_sync.add_argument("--check", action="store_true", help="only report; exit 1 if anything is stale")
    sub.add_parser("checks", help="list the registered exercise checks")
    sub.add_parser("benchmark", help="time the notebooks under a profile (see python -m course_utils benchmark -h)")
    sub.add_parser("build-info", help="write the build stamp _build/build-info.json (scripts/course.sh book)")
    sub.add_parser("publish", help="push the built book to a gh-pages branch (scripts/course.sh publish)")
    p_grade = sub.add_parser("grade", help="execute submitted notebooks and grade them (CSV/JSON report)")
    from course_utils.grading import add_arguments

    add_arguments(p_grade)
    args = parser.parse_args(argv)

    if args.command == "sync":
        return _sync(args)
    if args.command == "checks":
        from course_utils.checks import REGISTRY

        for key, chk in sorted(REGISTRY.items()):
            print(f"{key:32s} {chk.target:24s} {len(chk.mistakes)} mistakes  {chk.description}")
        print(f"{len(REGISTRY)} checks")
        return 0
    if args.command == "grade":
        from course_utils.grading import main as grade_main

        return grade_main(args)
    return 2


def _sync(args) -> int:
    import shutil
    import tempfile
    from pathlib import Path

    from course_utils.exercises import sync

    root = Path(args.root)
    if not args.check:
        for path in sync(root):
            print(f"wrote {path}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy"
        for folder in ("book", "solutions", "exercises"):
            if (root / folder).exists():
                shutil.copytree(root / folder, copy / folder)
        for name in ("_config.yml", "course_utils/_repository.py"):
            if (root / name).exists():
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / name, copy / name)
        stale = [p.relative_to(copy) for p in sync(copy)]
    for path in stale:
        print(f"stale: {path}")
    if stale:
        print("Run `python -m course_utils sync` and commit the result.")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
