"""The package as a whole: organised by audience, no import circle."""

from __future__ import annotations

import ast
from pathlib import Path

import course_utils

PACKAGE = Path(course_utils.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_between_modules() -> dict[str, set[str]]:
    """Each module of the package and the modules of the package it imports (anywhere in it)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                          for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_circle():
    graph = imports_between_modules()
    state: dict[str, str] = {}

    def visit(name, path):
        state[name] = "open"
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                raise AssertionError("import circle: " + " -> ".join([*path, name, other][path.index(other)
                                                                                             if other in path else 0:]))
            if other not in state:
                visit(other, [*path, name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_learner_modules_do_not_import_the_grader():
    """What notebooks import never needs the grader (Colab installs the package as a learner)."""
    graph = imports_between_modules()
    for name, imported in graph.items():
        if not name.startswith(("course_utils.grading", "course_utils.authoring", "course_utils.__main__")):
            assert not {m for m in imported if m.startswith("course_utils.grading")}, name
