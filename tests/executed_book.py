"""Each chapter of the book is executed once a test run, not twice.

nbval runs every notebook of ``book/`` cell by cell (each cell a test). What the cells printed
and displayed, nbval keeps on its test items; once every cell of a notebook has passed, this
plugin writes the executed notebook into the jupyter-cache where the strict book build
(``built_book`` in tests/course/conftest.py) looks first, keyed as the build keys it (the
notebook's code). The build waits for the notebooks nbval still has under way, then executes
only what is not in the cache: a notebook whose cells did not all pass, or one this run did
not collect. The glued numbers and figures of the built pages are then those nbval checked.

The workers of a parallel run (pytest-xdist) share the cache folder beside their own
temporary folders; a run without workers leaves the build to execute everything.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import os
import time
from pathlib import Path

import pytest

PLUGIN_NAME = "course-executed-book"
WIDGET = "application/vnd.jupyter.widget-view+json"
WAIT_SECONDS = 900  # the longest the build waits for nbval's notebooks before executing them itself


def shared_folder(config) -> Path | None:
    """The folder the workers of this parallel run share (None without workers)."""
    basetemp = config.getoption("basetemp", None)
    if not os.environ.get("PYTEST_XDIST_WORKER") or not basetemp:
        return None
    return Path(basetemp).resolve().parent


def build_folder(shared: Path) -> Path:
    """Where the test run builds the book (``jupyter-book build --path-output``)."""
    return shared / "book"


def cache_folder(shared: Path) -> Path:
    """Where that build keeps its execution cache."""
    return build_folder(shared) / "_build" / ".jupyter_cache"


@contextlib.contextmanager
def locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def as_in_jupyter(source: str, outputs: list) -> list:
    """The outputs a cell has in Jupyter, from those nbval saw. nbval runs cells without
    storing them in the kernel's history, so IPython cannot see a last line's ``;`` and shows
    the value it should hide (``Text(...)`` under a plot, a figure twice)."""
    from IPython.core.displayhook import DisplayHook

    if not DisplayHook.semicolon_at_end_of_expression(source):
        return outputs
    return [out for out in outputs if out.get("output_type") != "execute_result"]


class ExecutedBook:
    """Collects nbval's outputs for the notebooks of ``book_dir`` and caches each finished one."""

    def __init__(self, book_dir: Path, shared: Path):
        self.book_dir = book_dir
        self.shared = shared
        self.done_dir = shared / "nbval-done"
        self.cells: dict[Path, int] = {}  # notebook -> how many of its cells nbval collected
        self.seen: dict[Path, list] = {}  # notebook -> (cell, outputs, passed, seconds) per cell run

    @staticmethod
    def is_nbval_cell(item) -> bool:
        return type(item).__module__.startswith("nbval") and hasattr(item, "cell")

    def notebook_of(self, item) -> Path | None:
        path = Path(item.path).resolve()
        return path if self.is_nbval_cell(item) and path.parent == self.book_dir else None

    @property
    def expected(self) -> set[Path]:
        return set(self.cells)

    def pytest_collection_finish(self, session):
        for item in session.items:
            notebook = self.notebook_of(item)
            if notebook is not None:
                self.cells[notebook] = self.cells.get(notebook, 0) + 1

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        notebook = self.notebook_of(item)
        if notebook is None or notebook not in self.cells:
            return report
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outputs = copy.deepcopy(getattr(item, "test_outputs", None) or [])
            self.seen.setdefault(notebook, []).append((item.cell, outputs, report.passed, report.duration))
            if len(self.seen[notebook]) == self.cells[notebook]:
                self._finish(item.parent.nb, item.parent.kernel, notebook)
        return report

    def _finish(self, nb, kernel, notebook: Path) -> None:
        runs = self.seen.pop(notebook)
        try:
            language = self._language_info(kernel)
            if language and all(passed for _, _, passed, _ in runs) and not self._widgets(runs):
                self._cache(nb, notebook, runs, language)
        finally:
            self.done_dir.mkdir(parents=True, exist_ok=True)
            (self.done_dir / notebook.stem).touch()

    @staticmethod
    def _language_info(kernel) -> dict | None:
        """What the kernel says of its language, as an executed notebook's metadata carries it
        (the book highlights code with its lexer); None when it no longer answers."""
        try:
            reply = kernel.kc.kernel_info(reply=True, timeout=10)
        except Exception:
            return None
        return reply["content"].get("language_info")

    @staticmethod
    def _widgets(runs: list) -> bool:
        """Whether a cell displayed a widget: its state, which the build saves into the page,
        comes from messages nbval does not keep, so the build runs such a notebook itself."""
        return any(WIDGET in output.get("data", {}) for _, outputs, _, _ in runs for output in outputs)

    def _cache(self, nb, notebook: Path, runs: list, language: dict) -> None:
        from jupyter_cache import get_cache
        from jupyter_cache.base import CacheBundleIn

        executed = copy.deepcopy(nb)
        executed.metadata["language_info"] = language
        by_cell = {id(cell): outputs for cell, outputs, _, _ in runs}
        count = 0
        for original, cell in zip(nb.cells, executed.cells, strict=True):
            if cell.cell_type != "code":
                continue
            count += 1
            cell.outputs = as_in_jupyter(cell.source, by_cell.get(id(original), []))
            cell.execution_count = count
        source = notebook.with_suffix(".md") if notebook.with_suffix(".md").exists() else notebook
        with locked(self.shared / "book-cache.lock"):
            get_cache(str(cache_folder(self.shared))).cache_notebook_bundle(
                CacheBundleIn(executed, str(source), data={"execution_seconds": sum(r[3] for r in runs)}),
                check_validity=False, overwrite=True)

    def wait(self, timeout: float = WAIT_SECONDS) -> list[str]:
        """Wait until nbval has finished every notebook it collected (or ``timeout``); return
        the ones still under way, which the build will execute itself."""
        deadline = time.monotonic() + timeout
        while True:
            left = sorted(p.stem for p in self.expected if not (self.done_dir / p.stem).exists())
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(1)


def register(config, book_dir: Path) -> None:
    """Install the plugin in this test process when it runs as a worker of a parallel run."""
    shared = shared_folder(config)
    if shared is not None and config.getoption("nbval", False):
        config.pluginmanager.register(ExecutedBook(book_dir.resolve(), shared), PLUGIN_NAME)


def plugin(config) -> ExecutedBook | None:
    return config.pluginmanager.get_plugin(PLUGIN_NAME)
