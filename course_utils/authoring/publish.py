"""Publishing the built book by hand (``bash scripts/course.sh publish``).

``scripts/course.sh book`` brackets the strict build with ``build-info start`` and
``build-info finish``, which write ``_build/build-info.json``: the profile, the git commit,
a SHA-256 of every book input as it was when the build started, and the build's exit status
and warning count. ``publish`` refuses a build that is missing, unfinished, failed, made with
warnings, not made in the ``full`` profile, or older than the inputs; otherwise ghp-import
writes ``_build/html`` (plus ``.nojekyll``) as the single commit of the ``gh-pages`` branch
and pushes it to the remote, by default ``repository.url`` of ``_config.yml``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

BUILD_DIR = "_build"
STAMP_NAME = "build-info.json"
PUBLISHED_PROFILE = "full"
#: Files git sees that the book does not read: editing them does not make a build stale.
NOT_BOOK_INPUTS = ("tests/", "docs/", "binder/", ".github/", ".ci/", "README.md")
SPHINX_WARNING = re.compile(r"\bWARNING: ")  # Sphinx's "file:line: WARNING: ..." (not IPKernelApp's "WARNING |")


class PublishRefused(RuntimeError):
    """The build may not be published; the message says why and what to do."""


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def book_inputs(root: Path) -> dict[str, str]:
    """SHA-256 of every file git sees (tracked, or untracked and not ignored) that the book may
    read, keyed by path; a tracked file that was deleted maps to ``"deleted"``."""
    try:
        listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    except (OSError, subprocess.CalledProcessError) as err:
        raise PublishRefused(f"cannot list the book's sources with git in {root}: {err}") from err
    digests = {}
    for name in sorted(set(filter(None, listed))):
        if name.startswith(NOT_BOOK_INPUTS):
            continue
        path = root / name
        digests[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "deleted"
    return digests


def count_warnings(log_text: str) -> int:
    """How many Sphinx warnings a build log holds."""
    return sum(1 for line in log_text.splitlines() if SPHINX_WARNING.search(line))


def stamp_path(root: Path) -> Path:
    return root / BUILD_DIR / STAMP_NAME


def start_build(root: Path, profile: str) -> dict:
    """Write the stamp of a build that is starting (status ``running``) and return it."""
    try:
        commit = _git(root, "rev-parse", "HEAD").strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    try:
        inputs = book_inputs(root)
    except PublishRefused as err:  # the build goes on; only publishing it by hand is refused
        print(f"Note: {err}; this build cannot be published by hand", file=sys.stderr)
        inputs = None
    stamp = {"status": "running", "profile": profile, "commit": commit, "inputs": inputs}
    path = stamp_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stamp, indent=1) + "\n")
    return stamp


def finish_build(root: Path, exit_status: int, log_path: Path) -> dict:
    """Record how the build ended: its exit status and the warnings in its log."""
    path = stamp_path(root)
    if not path.exists():
        raise PublishRefused(f"{path} is missing: `build-info start` must run before the build")
    stamp = json.loads(path.read_text())
    log_text = log_path.read_text(errors="replace") if log_path.exists() else ""
    warnings = count_warnings(log_text)
    stamp.update(exit_status=exit_status, warnings=warnings,
                 status="succeeded" if exit_status == 0 and warnings == 0 and log_text else "failed")
    path.write_text(json.dumps(stamp, indent=1) + "\n")
    return stamp


def check_build(root: Path) -> dict:
    """The stamp of a build that may be published; :class:`PublishRefused` says why not."""
    path, html = stamp_path(root), root / BUILD_DIR / "html"
    rebuild = "Build it with `bash scripts/course.sh book`, then publish."
    if not path.exists():
        raise PublishRefused(f"No build stamp {path.relative_to(root)}: the book was not built by "
                             f"`bash scripts/course.sh book`. {rebuild}")
    stamp = json.loads(path.read_text())
    if stamp.get("status") == "running":
        raise PublishRefused(f"The last build did not finish. {rebuild}")
    if stamp.get("status") != "succeeded":
        raise PublishRefused(f"The last build failed (exit status {stamp.get('exit_status')}, "
                             f"{stamp.get('warnings')} warnings; see {BUILD_DIR}/build.log). "
                             f"Fix them, then build again.")
    if stamp.get("profile") != PUBLISHED_PROFILE:
        raise PublishRefused(f"The last build used profile {stamp.get('profile')!r}; the published book "
                             f"is built in profile {PUBLISHED_PROFILE!r}. {rebuild}")
    if not (html / "index.html").is_file():
        raise PublishRefused(f"{html.relative_to(root)}/index.html is missing. {rebuild}")
    then = stamp.get("inputs")
    if then is None:
        raise PublishRefused(f"The last build could not record its sources (was git there?). {rebuild}")
    now = book_inputs(root)
    changed = sorted(name for name in set(now) | set(then) if now.get(name) != then.get(name))
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise PublishRefused(f"The build is stale: {shown} changed since it started. {rebuild}")
    return stamp


def default_remote(root: Path) -> str:
    """Where ``publish`` pushes unless told: ``repository.url`` of ``_config.yml``."""
    from course_utils.authoring.sync import read_repository

    return read_repository(root / "_config.yml").url


def publish(root: Path, remote: str | None = None, branch: str = "gh-pages") -> str:
    """Push ``_build/html`` to ``branch`` of ``remote`` with ghp-import; return the remote."""
    from ghp_import import GhpError, ghp_import

    stamp = check_build(root)
    remote = remote or default_remote(root)
    commit = (stamp.get("commit") or "an uncommitted tree")[:12]
    message = f"Publish the book built from {commit} (profile {stamp['profile']})"
    cwd = os.getcwd()
    try:
        os.chdir(root)  # ghp-import works on the repository in the current directory
        # A fresh branch each time (the old pages are not worth their history); ghp-import
        # only drops the local branch itself when the remote is a named, fetched remote.
        subprocess.run(["git", "update-ref", "-d", f"refs/heads/{branch}"], check=False, capture_output=True)
        ghp_import(str(root / BUILD_DIR / "html"), mesg=message, remote=remote, branch=branch,
                   push=True, no_history=True, nojekyll=True)
    except (GhpError, subprocess.CalledProcessError) as err:
        raise PublishRefused(f"ghp-import could not publish to {remote} ({branch}): {err}") from err
    finally:
        os.chdir(cwd)
    return remote


def add_arguments(sub) -> None:
    """The ``build-info`` and ``publish`` sub-commands of ``python -m course_utils``."""
    info = sub.add_parser("build-info", help="write the build stamp _build/build-info.json (scripts/course.sh book)")
    info.add_argument("stage", choices=["start", "finish"])
    info.add_argument("--status", type=int, help="finish: the build's exit status")
    info.add_argument("--log", type=Path, help="finish: the build's log")
    pub = sub.add_parser("publish", help="push the built book to the gh-pages branch of a remote")
    pub.add_argument("--remote", help="a git remote name or URL (default: repository.url in _config.yml)")
    pub.add_argument("--branch", default="gh-pages")


def main(args) -> int:
    """``python -m course_utils build-info {start,finish}`` and ``python -m course_utils publish``."""
    root = Path.cwd()
    try:
        if args.command == "build-info" and args.stage == "start":
            start_build(root, os.environ.get("COURSE_PROFILE", PUBLISHED_PROFILE))
        elif args.command == "build-info":
            if args.status is None or args.log is None:
                print("build-info finish needs --status and --log", file=sys.stderr)
                return 2
            stamp = finish_build(root, args.status, args.log)
            print(f"Build {stamp['status']}: exit status {stamp['exit_status']}, {stamp['warnings']} warnings "
                  f"(recorded in {stamp_path(root).relative_to(root)})")
        else:
            remote = publish(root, args.remote, args.branch)
            print(f"Published {BUILD_DIR}/html to the {args.branch} branch of {remote}")
            if args.remote is None:
                from course_utils.authoring.sync import read_repository

                print(f"GitHub Pages serves it at {read_repository(root / '_config.yml').pages_url}")
    except PublishRefused as err:
        print(f"Not published: {err}" if args.command == "publish" else str(err), file=sys.stderr)
        return 1
    return 0
