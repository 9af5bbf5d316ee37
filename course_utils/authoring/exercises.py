"""The exercise notebooks of exercises/, written from the solution notebooks of solutions/,
and the ``.ipynb`` twin of every MyST Markdown notebook (``python -m course_utils sync``,
:mod:`.sync`, writes them).

A solution marks each answer between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` (or, in a
Markdown cell, between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``). The
exercise keeps a stub that still parses and runs: inside a function,
``raise NotImplementedError``; at the top level, ``name = ...`` for each name the answer assigns.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from course_utils.authoring.chapters import TEXT_BEGIN, TEXT_END, MarkerError, solution_blocks

EXERCISE_BANNER = ("> **Exercise notebook.** Replace each stub (`...` or `raise NotImplementedError`) "
                   "with your code, then run the check below it.")


def _stub_for(block: list[str], indent: str) -> list[str]:
    if indent:
        return [f"{indent}# YOUR CODE HERE", f'{indent}raise NotImplementedError("exercise")']
    try:
        tree = ast.parse("\n".join(block))
    except SyntaxError as err:
        raise MarkerError(f"the solution block does not parse: {err}") from err
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name) and name.id not in names:
                    names.append(name.id)
    if not names:
        return ["# YOUR CODE HERE"]
    return [f"{name} = ...  # YOUR ANSWER HERE" for name in names]


def strip_code(source: str) -> str:
    """Replace every solution block of a code cell with its stub."""
    lines, out, done = source.split("\n"), [], 0
    for block in solution_blocks(source):
        out += lines[done:block.begin - 1]
        out += _stub_for([line[len(block.indent):] for line in lines[block.begin:block.end - 1]], block.indent)
        done = block.end
    return "\n".join(out + lines[done:])


def strip_text(source: str) -> str:
    """Replace written answers in a Markdown cell with a prompt."""
    pattern = re.compile(re.escape(TEXT_BEGIN) + r".*?" + re.escape(TEXT_END), re.S)
    return pattern.sub("*Write your answer here.*", source)


def make_exercise(solution_nb):
    """Return a copy of a solution notebook (nbformat) with every answer replaced by a stub."""
    import copy

    nb = copy.deepcopy(solution_nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = strip_code(cell.source)
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown":
            cell.source = strip_text(cell.source)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            title, _, rest = cell.source.partition("\n")
            cell.source = f"{title}\n\n{EXERCISE_BANNER}\n{rest}"
            break
    return nb


def paired_ipynb_text(md_path: Path) -> str:
    """The ``.ipynb`` text that belongs beside a MyST notebook: same cells, no outputs."""
    import jupytext

    nb = jupytext.read(md_path, fmt="md:myst")
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:03d}"  # stable ids keep the twin reproducible
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return jupytext.writes(nb, fmt="ipynb")


def exercise_md_text(solution_md: Path) -> str:
    """The MyST text of the exercise notebook generated from ``solution_md``."""
    import jupytext

    nb = make_exercise(jupytext.read(solution_md, fmt="md:myst"))
    nb.metadata.setdefault("jupytext", {})["formats"] = "md:myst,ipynb"
    return jupytext.writes(nb, fmt="md:myst")


def is_notebook(md_path: Path) -> bool:
    """True for a MyST notebook (a Markdown file with a jupytext kernelspec header)."""
    head = md_path.read_text()[:400]
    return head.startswith("---") and "kernelspec" in head
