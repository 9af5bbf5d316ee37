"""Command line: ``python -m course_utils {sync,grade,benchmark,checks}``."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_sync = sub.add_parser("sync", help="regenerate exercises/ and every .ipynb twin from the .md sources")
    p_sync.add_argument("--root", default=".")
    p_sync.add_argument("--check", action="store_true", help="only report; exit 1 if anything is stale")
    sub.add_parser("checks", help="list the registered exercise checks")
    args = parser.parse_args(argv)

    if args.command == "sync":
        return _sync(args)
    if args.command == "checks":
        from course_utils.checks import REGISTRY

        for key, chk in sorted(REGISTRY.items()):
            print(f"{key:32s} {chk.target:24s} {len(chk.mistakes)} mistakes  {chk.description}")
        print(f"{len(REGISTRY)} checks")
        return 0
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
        stale = [p.relative_to(copy) for p in sync(copy)]
    for path in stale:
        print(f"stale: {path}")
    if stale:
        print("Run `python -m course_utils sync` and commit the result.")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
