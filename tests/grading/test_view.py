"""The learner's view of the package that the sandbox mounts (course_utils.grading.view)."""

from __future__ import annotations

import ast
import re

from course_utils.checks import REGISTRY, checks_for
from course_utils.grading import view
from tests.conftest import ROOT

CHAPTERS = sorted({c.chapter for c in REGISTRY.values()})


def test_the_learners_view_hides_the_grader_the_checks_and_the_answers():
    hidden = view.hidden_modules("05")
    assert "backprop.py" in hidden and "checks/ch05_backpropagation.py" in hidden
    assert "backprop.py" in view.hidden_modules("01"), "it defines softmax"
    assert "backprop.py" not in view.hidden_modules("00")
    package = view.package_view("00") / "course_utils"
    assert not (package / "checks" / "ch00_perceptron.py").exists()
    assert not (package / "grading" / "judge.py").exists() and (package / "grading" / "agent" / "driver.py").exists()
    assert "checked by the grader" in (package / "checks" / "__init__.py").read_text()
    assert not list((package / "checks").glob("ch*.py"))


def test_a_module_that_defines_an_answer_is_hidden_by_the_chapters_checks():
    """No module of a chapter's view defines a name one of its exercises asks for, unless a
    check of the chapter hides it (``register(..., hides=...)``)."""
    defined = {}
    for path in view.PACKAGE_DIR.rglob("*.py"):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        names |= {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                  if isinstance(t, ast.Name)}
        defined[path.relative_to(view.PACKAGE_DIR).as_posix()] = names
    for chapter in CHAPTERS:
        targets = {c.target for c in checks_for(chapter).values()}
        hidden = view.hidden_modules(chapter)
        exposed = {rel: names & targets for rel, names in defined.items() if rel not in hidden and names & targets}
        assert not exposed, (chapter, exposed)


def test_no_exercise_notebook_needs_a_module_hidden_from_its_chapter():
    def module(rel):
        return "course_utils." + rel[:-3].replace("/", ".").removesuffix(".__init__")

    imports = {}
    for path in view.PACKAGE_DIR.rglob("*.py"):
        rel = path.relative_to(view.PACKAGE_DIR).as_posix()
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_utils"):
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names if a.name.startswith("course_utils")}
        imports[module(rel)] = names
    for chapter in CHAPTERS:
        hidden = {module(r) for r in view.hidden_modules(chapter) if not r.startswith(("checks/ch", "grading/"))}
        text = next((ROOT / "exercises").glob(f"{chapter}-*.md")).read_text()
        todo, used = re.findall(r"(?:from|import) (course_utils[\w.]*)", text), set()
        while todo:
            name = todo.pop()
            if name not in used:
                used.add(name)
                todo += imports.get(name, ())
        assert not hidden & used, (chapter, hidden & used)


def test_every_module_a_check_hides_exists():
    for chk in REGISTRY.values():
        for module in chk.hides:
            assert (view.PACKAGE_DIR / view.module_path(module)).is_file(), (chk.exercise_id, module)
