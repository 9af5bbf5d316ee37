"""Command line: ``python -m course_utils {sync,checks,grade,benchmark,mutate,env,build-info,publish}``."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_sync = sub.add_parser("sync", help="regenerate exercises/, every .ipynb twin and every first cell "
                                         "(from _config.yml's repository:)")
    p_sync.add_argument("--root", default=".")
    p_sync.add_argument("--check", action="store_true", help="only report; exit 1 if anything is stale")
    sub.add_parser("checks", help="list the registered exercise checks")
    p_bench = sub.add_parser("benchmark", help="time the notebooks under a profile (benchmarks/PROFILE-DEVICE.json)")
    from course_utils.authoring.benchmark import add_arguments as add_benchmark_arguments

    add_benchmark_arguments(p_bench)
    p_mutate = sub.add_parser("mutate", help="mutation-test the checks on the solutions (benchmarks/mutation.json)")
    from course_utils.authoring.mutation import add_arguments as add_mutate_arguments

    add_mutate_arguments(p_mutate)
    p_env = sub.add_parser("env", help="the variables every kernel gets (course_utils.authoring.notebooks.kernel_env)")
    p_env.add_argument("--shell", action="store_true", help="print them as `export` lines for a shell's eval")
    p_env.add_argument("--profile", default=None, help="COURSE_PROFILE for the kernels")
    p_env.add_argument("--threads", type=int, default=None, help="OpenMP/BLAS threads per kernel")
    from course_utils.authoring.publish import add_arguments as add_publish_arguments

    add_publish_arguments(sub)
    p_grade = sub.add_parser("grade", help="execute submitted notebooks and grade them (CSV/JSON report)")
    from course_utils.grading import add_arguments

    add_arguments(p_grade)
    args = parser.parse_args(argv)

    if args.command == "sync":
        return _sync(args)
    if args.command == "checks":
        from course_utils.checks import REGISTRY

        for key, chk in sorted(REGISTRY.items()):
            print(f"{key:32s} {chk.target:28s} {chk.description}")
        print(f"{len(REGISTRY)} checks")
        return 0
    if args.command == "grade":
        from course_utils.grading import main as grade_main

        return grade_main(args)
    if args.command == "benchmark":
        from course_utils.authoring.benchmark import main as benchmark_main

        return benchmark_main(args)
    if args.command == "mutate":
        from course_utils.authoring.mutation import main as mutate_main

        return mutate_main(args)
    if args.command == "env":
        return _env(args)
    if args.command in ("build-info", "publish"):
        from course_utils.authoring.publish import main as publish_main

        return publish_main(args)
    return 2


def _env(args) -> int:
    from course_utils.authoring.notebooks import course_variables, shell_exports

    try:
        variables = course_variables(profile=args.profile, threads=args.threads)
    except ValueError as err:
        print(f"env: {err}", file=sys.stderr)
        return 2
    print(shell_exports(variables) if args.shell else "\n".join(f"{k}={v}" for k, v in variables.items()))
    return 0


def _sync(args) -> int:
    from pathlib import Path

    from course_utils.authoring.sync import stale_files, sync

    root = Path(args.root)
    if not args.check:
        for path in sync(root):
            print(f"wrote {path}")
        return 0
    stale = stale_files(root)
    for path in stale:
        print(f"stale: {path}")
    if stale:
        print("Run `python -m course_utils sync` and commit the result.")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
