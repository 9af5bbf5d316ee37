"""The learner's view of the package that the sandbox mounts."""

from __future__ import annotations

from course_utils.grading import sandbox
from tests.conftest import ROOT


def test_the_learners_view_hides_the_grader_the_checks_and_the_answers():
    hidden = sandbox.hidden_modules("05", {"mlp_backward"})
    assert "backprop.py" in hidden and "checks/ch05_backpropagation.py" in hidden
    assert "backprop.py" in sandbox.hidden_modules("01", {"softmax"}), "it defines softmax"
    view = sandbox.package_view("00", {"weighted_sum"}) / "course_utils"
    assert not (view / "checks" / "ch00_perceptron.py").exists()
    assert not (view / "grading" / "judge.py").exists() and (view / "grading" / "agent" / "driver.py").exists()
    assert "checked by the grader" in (view / "checks" / "__init__.py").read_text()
    assert not list((view / "checks").glob("ch*.py"))


def test_no_exercise_notebook_needs_a_module_hidden_from_its_chapter():
    import ast
    import re

    from course_utils.checks import REGISTRY

    def module(rel):
        return "course_utils." + rel[:-3].replace("/", ".").removesuffix(".__init__")

    imports = {}
    for path in sandbox.PACKAGE_DIR.rglob("*.py"):
        rel = path.relative_to(sandbox.PACKAGE_DIR).as_posix()
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_utils"):
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names if a.name.startswith("course_utils")}
        imports[module(rel)] = names
    for chapter in sorted({c.chapter for c in REGISTRY.values()}):
        targets = {c.target for c in REGISTRY.values() if c.chapter == chapter}
        hidden = {module(r) for r in sandbox.hidden_modules(chapter, targets) if not r.startswith(("checks/ch",
                                                                                                   "grading/"))}
        text = next((ROOT / "exercises").glob(f"{chapter}-*.md")).read_text()
        todo, used = re.findall(r"(?:from|import) (course_utils[\w.]*)", text), set()
        while todo:
            name = todo.pop()
            if name not in used:
                used.add(name)
                todo += imports.get(name, ())
        assert not hidden & used, (chapter, hidden & used)
