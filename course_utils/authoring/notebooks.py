"""Running notebooks: the one runner and the one place that sets every kernel's environment.

:func:`run_notebook` executes a notebook in a fresh kernel with nbclient; the tests and the
benchmark call it (the grader's sandboxed driver, :mod:`course_utils.grading.agent.driver`,
runs cell by cell with restarts, but takes its environment from here too). :func:`kernel_env`
is the environment of every kernel the course starts: the run profile, the metrics file,
thread counts, TensorFlow's quieting variables and no progress bars. The book build and
``nbval`` start their own kernels, which inherit the
environment of their process: ``scripts/course.sh`` exports
``python -m course_utils env --shell`` and ``tests/conftest.py`` applies :func:`kernel_env`.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from course_utils.frameworks import QUIET_TENSORFLOW
from course_utils.metrics import ENV_VAR as METRICS_ENV
from course_utils.profile import ENV_VAR as PROFILE_ENV
from course_utils.profile import PROFILES

#: Set in every kernel unless the caller's environment already sets them.
KERNEL_DEFAULTS = {
    **QUIET_TENSORFLOW,
    "TQDM_DISABLE": "1",  # no progress bars (widgets) saved into pages, test logs or reports
}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
DEFAULT_CELL_TIMEOUT = 600  # seconds


def course_variables(*, profile: str | None = None, metrics_file=None, threads: int | None = None,
                     home=None, base=None, **overrides) -> dict[str, str]:
    """Only the variables the course sets in a kernel, given the environment ``base`` (default
    ``os.environ``): the defaults it does not set yet, then ``profile`` (``COURSE_PROFILE``),
    ``metrics_file`` (``COURSE_METRICS_FILE``), ``threads`` (OpenMP/BLAS threads), ``home`` (a
    private home folder: HOME there, temporary files beside it, and fresh IPython, Jupyter and
    Matplotlib folders inside it, as the grader gives a learner's kernel), and last any
    ``NAME=value`` in ``overrides``."""
    base = os.environ if base is None else base
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"profile {profile!r} is not one of {', '.join(PROFILES)}")
    variables = {name: base.get(name, value) for name, value in KERNEL_DEFAULTS.items()}
    if profile is not None:
        variables[PROFILE_ENV] = profile
    if metrics_file is not None:
        variables[METRICS_ENV] = str(metrics_file)
    if threads is not None:
        variables.update(dict.fromkeys(THREAD_VARS, str(int(threads))))
    if home is not None:
        home = Path(home)
        variables.update(HOME=str(home), TMPDIR=str(home.parent), MPLCONFIGDIR=str(home / ".matplotlib"),
                         IPYTHONDIR=str(home / ".ipython"), JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
                         JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"))
    variables.update({name: str(value) for name, value in overrides.items()})
    return variables


def kernel_env(*, base=None, **settings) -> dict[str, str]:
    """The whole environment of a kernel: ``base`` (default ``os.environ``) with
    :func:`course_variables` applied; ``settings`` are those of :func:`course_variables`,
    e.g. ``kernel_env(profile="smoke", metrics_file=path, KERAS_BACKEND="torch")``."""
    base = dict(os.environ if base is None else base)
    return {**base, **course_variables(base=base, **settings)}


def shell_exports(variables: dict[str, str]) -> str:
    """``export NAME=value`` lines for a POSIX shell (``eval "$(python -m course_utils env --shell)"``)."""
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in variables.items())


def read_notebook(path: Path | str):
    """A notebook from an ``.ipynb`` file, or from a MyST ``.md`` file through jupytext."""
    path = Path(path)
    if path.suffix == ".md":
        import jupytext

        return jupytext.read(path, fmt="md:myst")
    import nbformat

    return nbformat.read(path, as_version=4)


def run_notebook(notebook, *, env: dict | None = None, cwd: Path | str | None = None,
                 cell_timeout: float = DEFAULT_CELL_TIMEOUT, allow_errors: bool = False,
                 kernel_name: str = "python3", startup_timeout: float = 60):
    """Execute a notebook (a path or an nbformat ``NotebookNode``) top to bottom in a fresh kernel
    and return the executed notebook.

    ``env`` is the kernel's whole environment (default :func:`kernel_env`); ``cwd`` its working
    folder (default the notebook's folder, for a path). ``cell_timeout`` limits each cell.
    Without ``allow_errors`` the first failing cell raises nbclient's ``CellExecutionError``;
    with it, errors are kept in the cells' outputs and the run goes on. A kernel that dies
    raises ``DeadKernelError``; a cell past its time, ``CellTimeoutError`` (a ``TimeoutError``).
    """
    from nbclient import NotebookClient

    if isinstance(notebook, (str, Path)):
        cwd = Path(notebook).resolve().parent if cwd is None else cwd
        notebook = read_notebook(notebook)
    cwd = Path.cwd() if cwd is None else Path(cwd)
    client = NotebookClient(notebook, timeout=cell_timeout, startup_timeout=startup_timeout,
                            kernel_name=kernel_name, allow_errors=allow_errors,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute(env=kernel_env() if env is None else env, cwd=str(cwd))
    return notebook
