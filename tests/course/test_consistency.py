"""The notebooks are consistent: pairs in sync, exercises generated, links resolve, ids match."""

from __future__ import annotations

import re

import jupytext
import pytest
import yaml

from course_utils import links
from course_utils.authoring import chapters, sync
from course_utils.authoring.exercises import exercise_md_text, is_notebook, paired_ipynb_text
from course_utils.checks import checks_for
from tests.conftest import ROOT

NOTEBOOK_MDS = [p for kind in chapters.FOLDERS for p in chapters.files(kind, ROOT)]
ALL_NOTEBOOK_MDS = [p for folder in chapters.FOLDERS.values()
                    for p in sorted((ROOT / folder).glob("*.md")) if is_notebook(p)]
LECTURES = chapters.files("lecture", ROOT)
SOLUTIONS = chapters.files("solution", ROOT)


def test_every_chapter_has_its_three_notebooks():
    lectures = {p.name for p in LECTURES}
    assert lectures, "no chapters"
    assert lectures == {p.name for p in SOLUTIONS} == {p.name for p in chapters.files("exercise", ROOT)}


@pytest.mark.parametrize("md", ALL_NOTEBOOK_MDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ipynb_twin_in_sync_and_without_outputs(md):
    twin = md.with_suffix(".ipynb")
    assert twin.exists(), f"{twin} missing: run `python -m course_utils sync`"
    assert twin.read_text() == paired_ipynb_text(md), f"{twin} is stale: run `python -m course_utils sync`"
    nb = jupytext.read(twin)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_exercise_is_freshly_generated(solution):
    exercise = ROOT / "exercises" / solution.name
    assert exercise.read_text() == exercise_md_text(solution), \
        f"{exercise} is stale: run `python -m course_utils sync`"
    assert "BEGIN SOLUTION" not in exercise.read_text()


@pytest.mark.parametrize("md", NOTEBOOK_MDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_first_code_cell_sets_up_colab(md):
    nb = jupytext.read(md)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source.strip() == sync.setup_cell(links.SETTING).strip()
    assert is_notebook(md)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_solution_calls_every_check_of_its_chapter(solution):
    chapter = chapters.chapter(solution.stem).id
    called = chapters.check_calls(solution.read_text())
    registered = set(checks_for(chapter))
    assert len(registered) >= 3, f"chapter {chapter} has fewer than three checked exercises"
    assert set(called) == registered, f"called {sorted(called)}, registered {sorted(registered)}"
    assert len(called) == len(set(called)), "a check is called twice"


def test_repository_settings_match_links():
    """`links` (and so the notebooks' first cells) follow `repository:` in _config.yml."""
    assert sync.read_repository(ROOT / "_config.yml") == links.SETTING


def test_colab_links_point_at_files_that_exist():
    for lecture in LECTURES:
        for path in chapters.chapter(lecture.stem).notebooks().values():
            assert (ROOT / path).exists(), path
            assert links.colab_url(path).endswith(f"/{links.SETTING.slug}/blob/{links.SETTING.branch}/{path}")
        text = lecture.read_text()
        assert f'chapter_links("{lecture.stem}")' in text, f"{lecture.name} has no Colab links cell"


def _toc_files(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("file", "root"):
                yield value
            yield from _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _toc_files(item)


def test_toc_lists_every_chapter_and_only_existing_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = list(_toc_files(toc))
    for name in files:
        assert any((ROOT / f"{name}{ext}").exists() for ext in (".md", ".ipynb")), name
    for lecture in LECTURES:
        assert f"book/{lecture.stem}" in files, f"{lecture.name} is not in _toc.yml"


MAX_CODE_LINE = 88  # what the book's column shows without scrolling


@pytest.mark.parametrize("md", NOTEBOOK_MDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_code_lines_fit_the_column(md):
    nb = jupytext.read(md)
    long_lines = [line for cell in nb.cells if cell.cell_type == "code"
                  for line in cell.source.splitlines() if len(line) > MAX_CODE_LINE]
    assert not long_lines, f"{len(long_lines)} code line(s) over {MAX_CODE_LINE} characters:\n" + "\n".join(long_lines)


def test_math_uses_no_macro_only_the_book_defines():
    """Jupyter and Colab render the notebooks' math with stock MathJax: no book-only macros."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "mathjax3_config" not in config["sphinx"].get("config", {}), "define no MathJax macros for the book only"
    for md in ALL_NOTEBOOK_MDS:
        assert not re.search(r"\\R\b", md.read_text()), f"{md.name} uses \\R: write \\mathbb{{R}}"
