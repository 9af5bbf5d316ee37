"""The chapter list, names, ids and files (course_utils.authoring.chapters)."""

import pytest

from course_utils.authoring import chapters
from tests.conftest import ROOT


def test_every_lecture_is_a_chapter_with_its_files():
    found = chapters.chapters(ROOT)
    assert [c.id for c in found] == sorted({c.id for c in found}), "chapter ids repeat or are out of order"
    for chapter in found:
        assert chapters.is_chapter_id(chapter.id)
        for kind in chapters.FOLDERS:
            assert (ROOT / chapter.path(kind)).exists(), chapter.path(kind)


def test_names_and_ids():
    chapter = chapters.chapter("14-transfer-learning")
    assert (chapter.id, chapter.slug, chapter.name) == ("14", "transfer-learning", "14-transfer-learning")
    assert str(chapter.lecture) == "book/14-transfer-learning.md"
    assert str(chapter.notebooks()["exercise"]) == "exercises/14-transfer-learning.ipynb"
    assert chapters.parse("book/03-fluids.ipynb") == chapters.Chapter("03", "fluids")
    assert chapters.parse("book/index") is None and chapters.parse("3-fluids.md") is None
    assert chapters.id_from_filename("alice/03_fluids.ipynb") == "03"
    assert chapters.id_from_filename("alice.ipynb") is None
    assert chapters.exercise_chapter("03.fit_bingham") == "03"
    with pytest.raises(ValueError, match="NN-slug"):
        chapters.chapter("fluids")


def test_check_calls_in_order():
    text = 'x = 1\ncheck("03.fit_bingham", fit)\nprint("check(\'09.x\')")\ncheck( "03.mse", f)\n'
    assert chapters.check_calls(text) == ["03.fit_bingham", "03.mse"]
    assert chapters.checked_exercise('\ncheck("03.mse", f)\nmore = 1') == "03.mse"
    assert chapters.checked_exercise('x = 1\ncheck("03.mse", f)') is None, "only a check cell's first line"
    raw = '{"source": ["check(\\"00.a\\", f)\\n", "check(\\"03.b\\", g)", "check(\\"03.c\\", h)"]}'
    assert chapters.chapter_of_checks(raw) == "03" and chapters.chapter_of_checks("no checks") is None


def test_check_modules_are_named_after_their_chapter():
    assert chapters.chapter("14-transfer-learning").check_module == "ch14_transfer_learning"
    assert chapters.is_check_module("course_utils.checks.ch03_fluids") and chapters.is_check_module("ch03_fluids.py")
    assert not chapters.is_check_module("core") and not chapters.is_check_module("checks")
    import course_utils.checks as checks

    modules = sorted(m for m in vars(checks) if chapters.is_check_module(m))
    assert modules == [c.check_module for c in chapters.chapters(ROOT)], "one check module per chapter"


def test_solution_blocks_and_their_markers():
    source = ("a = 1\n# BEGIN SOLUTION\nb = 2\n# END SOLUTION\n"
              "def f():\n    # BEGIN SOLUTION  \n    return 3\n    # END SOLUTION")
    blocks = chapters.solution_blocks(source)
    assert [(b.begin, b.end, b.indent) for b in blocks] == [(2, 4, ""), (6, 8, "    ")]
    assert list(blocks[1].lines) == [7]
    for broken, problem in (("# END SOLUTION", "without BEGIN"), ("# BEGIN SOLUTION\nx = 1", "without END"),
                            ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "nested")):
        with pytest.raises(chapters.MarkerError, match=problem):
            chapters.solution_blocks(broken)


FRAMEWORKS = {"torch", "keras", "tensorflow", "jax"}


def _imported_modules(source: str) -> set[str]:
    """Top-level names of every module a notebook's code cells import (magics skipped)."""
    import ast

    import jupytext

    names = set()
    for cell in jupytext.reads(source, fmt="md:myst").cells:
        if cell.cell_type != "code":
            continue
        code = "\n".join(line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                         else line for line in cell.source.splitlines())  # a magic becomes `pass`
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("require_framework",
                                                                                 "__import__"):
                names |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    return names


def test_imported_modules_sees_every_kind_of_import():
    source = "```{code-cell} ipython3\n%pip install x\nimport torch.nn as nn\nfrom keras import layers\n" \
             "tf = require_framework('tensorflow')\n```\n"
    assert _imported_modules(source) >= {"torch", "keras", "tensorflow"}


@pytest.mark.parametrize("chapter", [c for c in chapters.chapters(ROOT) if int(c.id) <= 5], ids=str)
def test_part_one_uses_numpy_only(chapter):
    """Part I (chapters 00-05) teaches with NumPy before the frameworks of chapter 06."""
    for kind in chapters.FOLDERS:
        used = _imported_modules((ROOT / chapter.path(kind)).read_text()) & FRAMEWORKS
        assert not used, f"{chapter.path(kind)} imports {sorted(used)} before chapter 06 introduces them"
