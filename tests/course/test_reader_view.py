"""What a reader sees of a notebook's source: no bookkeeping in the code they read, no cell
that echoes a bookkeeping call, no inline equation that Markdown turns into a list item.
The built pages are checked for the same faults in ``test_built_site.py``."""

from __future__ import annotations

import ast
import re

import jupytext
import pytest

from course_utils.authoring import chapters
from course_utils.authoring.exercises import is_notebook
from tests.conftest import ROOT

#: Calls that keep the book's books: they belong in a cell tagged ``remove-cell``.
BOOKKEEPING = {"glue", "glue_comparison", "record_metric"}
#: Lectures still being rewritten with their bookkeeping in the teaching cells; empty this as
#: each one is moved (docs/AUTHORING.md, "Bookkeeping").
NOT_YET_MOVED: set[str] = set()

LECTURES = chapters.files("lecture", ROOT)
NOTEBOOKS = [p for folder in ("book", "solutions") for p in sorted((ROOT / folder).glob("*.md"))
             if is_notebook(p)]


def _calls(source: str) -> list[tuple[int, str]]:
    """(line, name) of every bookkeeping call or import in a cell's code."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: read the lines instead
        return [(i + 1, m.group(1)) for i, line in enumerate(source.splitlines())
                if (m := re.match(r"\s*(\w+)\(", line)) and m.group(1) in BOOKKEEPING]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BOOKKEEPING:
            found.append((node.lineno, node.func.id))
        if isinstance(node, ast.ImportFrom) and any(a.name in BOOKKEEPING for a in node.names):
            found.append((node.lineno, "import"))
    return found


def bookkeeping_in_view(notebook) -> list[str]:
    """Bookkeeping calls in code cells a reader sees (any cell not tagged ``remove-cell``)."""
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or "remove-cell" in cell.metadata.get("tags", []):
            continue
        for line, _name in _calls(cell.source):
            text = cell.source.splitlines()[line - 1].strip()
            problems.append(f"cell {index}, line {line}: {text[:70]}")
    return problems


def echoing_cells(notebook) -> list[str]:
    """Cells whose last statement is a bookkeeping call without ``;``: its value is printed."""
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        try:
            body = ast.parse(cell.source).body
        except SyntaxError:
            continue
        last = body[-1] if body else None
        if (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                and isinstance(last.value.func, ast.Name) and last.value.func.id in BOOKKEEPING
                and not cell.source.rstrip().endswith(";")):
            problems.append(f"cell {index}: {cell.source.strip().splitlines()[-1][:70]}")
    return problems


#: A list marker at the start of a line: Markdown starts a list item there, even mid-paragraph.
LIST_MARKER = re.compile(r"\s*(?:[-+*]|\d+[.)])\s")


def math_broken_by_a_line_start(markdown: str) -> list[str]:
    """Lines that start with a list marker while an inline ``$...$`` is still open: Markdown
    cuts the equation there and shows its TeX source."""
    problems, paragraph, fence = [], "", None
    for number, line in enumerate(markdown.splitlines(), 1):
        if fence is None and re.match(r"\s*(```|~~~|:::)", line):
            fence, paragraph = line.strip()[:3], ""
            continue
        if fence is not None:
            if line.strip().startswith(fence) and line.strip() in (fence, fence + "`"):
                fence = None
            continue
        if not line.strip():
            paragraph = ""
            continue
        unclosed = len(re.findall(r"(?<!\\)\$", paragraph.replace("$$", ""))) % 2
        if paragraph and unclosed and LIST_MARKER.match(line):
            problems.append(f"line {number}: {line.strip()[:70]}")
        paragraph = line if LIST_MARKER.match(line) else f"{paragraph} {line}"
    return problems


@pytest.mark.parametrize("lecture", LECTURES, ids=lambda p: p.stem)
def test_no_bookkeeping_in_the_code_a_reader_reads(lecture):
    if lecture.stem in NOT_YET_MOVED:
        pytest.skip(f"{lecture.stem}: its bookkeeping moves with the chapter's rewrite")
    problems = bookkeeping_in_view(jupytext.read(lecture))
    assert not problems, (f"{lecture.name}: glue and metric calls go in a cell tagged remove-cell "
                          "right after the cell that computes the values:\n" + "\n".join(problems))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_cell_echoes_a_bookkeeping_call(path):
    if path.parent.name == "book" and path.stem in NOT_YET_MOVED:
        pytest.skip(f"{path.stem}: its bookkeeping moves with the chapter's rewrite")
    problems = echoing_cells(jupytext.read(path))
    assert not problems, f"{path.name}: end the call with ';' or move it up:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_inline_math_starts_a_list_item(path):
    markdown = "\n\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "markdown")
    problems = math_broken_by_a_line_start(markdown)
    assert not problems, (f"{path.name}: an inline equation wraps onto a line that starts with a "
                          "list marker; break the line before the '$':\n" + "\n".join(problems))


def test_the_rules_flag_what_they_should():
    notebook = jupytext.reads(
        "```{code-cell} ipython3\nacc = 0.9\nglue('acc', acc)\n```\n\n"
        "```{code-cell} ipython3\n:tags: [remove-cell]\n\nglue('acc', acc);\n```\n\n"
        "```{code-cell} ipython3\nprint(record_metric('x', 1))\n```\n", fmt="md:myst")
    assert [p.split(",")[0] for p in bookkeeping_in_view(notebook)] == ["cell 0", "cell 2"]
    assert echoing_cells(notebook) == ["cell 0: glue('acc', acc)"]
    broken = "The sum $a + b\n+ c$ is wrong.\n\n- a real item with $x$\n- another"
    assert math_broken_by_a_line_start(broken) == ["line 2: + c$ is wrong."]
    assert math_broken_by_a_line_start("The sum $a + b +\nc$ is fine.\n") == []
