"""Bubblewrap, the sandbox of grading on Linux (book/grading.md): whether it can run here, and
the command line that runs a command inside a fresh one.

The sandbox has no network, its own process, IPC and host-name namespaces, a seccomp filter
(:mod:`.seccomp`) against the system calls a notebook has no use for, a read-only view
of the system, the Python environment and the learner's view of ``course_utils``
(:mod:`.view`, mounted at :data:`VIEW_ROOT`), and a private, size-capped temporary folder as
its only writable place. The submissions, the reports and the grader's files are not mounted
at all. When the grader runs as root, the code inside runs as a fresh unprivileged user id
with no capabilities.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

VIEW_ROOT = "/opt/course"  # where the learner's view of the package is mounted in the sandbox


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str:
    """Why bubblewrap cannot sandbox here ("" when it can)."""
    if not sys.platform.startswith("linux"):
        return "the sandbox needs Linux (bubblewrap)"
    exe = shutil.which("bwrap")
    if not exe:
        return "bubblewrap is not installed (Debian: apt-get install bubblewrap)"
    try:
        done = subprocess.run(bwrap_argv(["true"], tmpfs_mb=16), capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bubblewrap did not run: {err}"
    if done.returncode != 0:
        return "bubblewrap cannot create a sandbox here: " + done.stderr.decode(errors="replace").strip()[:300]
    return ""


def _system_binds() -> list[str]:
    args = []
    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    prefixes = []
    for prefix in {sys.base_prefix, sys.prefix, sys.exec_prefix}:
        if not any(str(prefix).startswith(p + os.sep) for p in ("/usr", "/etc")):
            prefixes.append(str(Path(prefix).resolve()))
            if str(Path(prefix)) != prefixes[-1]:
                prefixes.append(str(Path(prefix)))
    exe = Path(sys.executable)
    for link in (exe, exe.resolve()):
        folder = str(link.parent.parent)
        if not folder.startswith(("/usr", "/bin")):
            prefixes.append(folder)
    for prefix in sorted(set(prefixes)):
        if Path(prefix).is_dir():
            args += _ro_bind(prefix, prefix)
    return args


def _ro_bind(source, dest) -> list[str]:
    """A read-only bind whose missing parent folders are created traversable (0755)."""
    args = []
    for parent in reversed(Path(dest).parents[:-1]):
        args += ["--perms", "0755", "--dir", str(parent)]
    return args + ["--ro-bind", str(source), str(dest)]


def bwrap_argv(command: list[str], *, view: Path | None = None, tmpfs_mb: float = 1024,
               cache: Path | None = None, seccomp_fd: int | None = None) -> list[str]:
    """The bubblewrap command line that runs ``command`` in a fresh sandbox; ``seccomp_fd``:
    a readable file descriptor holding the seccomp filter (:func:`with_seccomp`)."""
    root = os.geteuid() == 0
    argv = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session"]
    if not root:
        argv += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    # the private /tmp first: an environment that lives under /tmp is bound on top of it
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(int(tmpfs_mb * 2**20)),
             "--tmpfs", "/tmp"]
    argv += _system_binds()
    if view is not None:
        argv += _ro_bind(view, VIEW_ROOT)
    if cache is not None and cache.is_dir():
        argv += _ro_bind(cache, cache)
    argv += ["--chdir", "/tmp"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    if root:  # drop to a fresh user id, no capabilities, before any of our code runs
        uid = str(200_000 + secrets.randbelow(800_000))
        command = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                   "--bounding-set=-all", "--no-new-privs", "--", *command]
    return argv + ["--", *command]


def seccomp_fd() -> int | None:
    """A pipe's read end holding this machine's seccomp filter (:mod:`.seccomp`), to pass to
    bubblewrap (``pass_fds``) and close after; None where no filter is known."""
    from course_utils.grading.seccomp import program

    code = program()
    if code is None:
        return None
    read, write = os.pipe()
    os.write(write, code)  # a few hundred bytes: far below a pipe's buffer
    os.close(write)
    return read


@functools.lru_cache(maxsize=1)
def seccomp_problem() -> str:
    """Why the sandbox runs without its seccomp filter here ("" when it has it)."""
    fd = seccomp_fd()
    if fd is None:
        return f"no seccomp filter is known for this machine ({os.uname().machine})"
    try:
        done = subprocess.run(bwrap_argv(["true"], tmpfs_mb=16, seccomp_fd=fd), capture_output=True, timeout=30,
                              pass_fds=(fd,))
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bubblewrap did not run with the filter: {err}"
    finally:
        os.close(fd)
    if done.returncode != 0:
        return "bubblewrap refused the seccomp filter: " + done.stderr.decode(errors="replace").strip()[:300]
    return ""


def sandbox_env(view: Path | None, cache: Path | None) -> dict:
    """The agent's whole environment in a sandbox: the paths it needs, the learner's view on
    PYTHONPATH, the data cache; nothing else of the grader's."""
    env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
           "LANG": "C.UTF-8", "TMPDIR": "/tmp", "HOME": "/tmp/home", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONNOUSERSITE": "1"}
    if view is not None:
        env["PYTHONPATH"] = VIEW_ROOT
    if cache is not None:
        env["COURSE_CACHE_DIR"] = str(cache)
    return env
