"""The solution stripper: exercises/ written from solutions/ (course_utils.authoring.exercises)."""

import ast

import nbformat
import pytest

from course_utils.authoring.exercises import EXERCISE_BANNER, MarkerError, make_exercise, strip_code, strip_text

SOLUTION_IN_FUNCTION = """def sigmoid(z):
    \"\"\"1 / (1 + exp(-z)).\"\"\"
    # BEGIN SOLUTION
    z = np.asarray(z)
    return 1 / (1 + np.exp(-z))
    # END SOLUTION


check("01.sigmoid", sigmoid)"""


def test_a_function_body_becomes_raise_not_implemented():
    stub = strip_code(SOLUTION_IN_FUNCTION)
    assert "np.exp" not in stub and "BEGIN SOLUTION" not in stub
    assert '    raise NotImplementedError("exercise")' in stub
    assert stub.endswith('check("01.sigmoid", sigmoid)')
    ast.parse(stub)


def test_top_level_assignments_become_placeholders():
    source = "x = 1\n# BEGIN SOLUTION\nlr = 0.1\nW, (b, c) = f(x)\nlr += 1\n# END SOLUTION\nprint(lr)"
    stub = strip_code(source)
    assert stub.splitlines() == ["x = 1", "lr = ...  # YOUR ANSWER HERE", "W = ...  # YOUR ANSWER HERE",
                                 "b = ...  # YOUR ANSWER HERE", "c = ...  # YOUR ANSWER HERE", "print(lr)"]
    assert strip_code("# BEGIN SOLUTION\nprint(1)\n# END SOLUTION") == "# YOUR CODE HERE"


def test_cells_without_markers_are_unchanged():
    assert strip_code("a = 1\nb = 2") == "a = 1\nb = 2"


@pytest.mark.parametrize("source,problem", [
    ("# BEGIN SOLUTION\nx = 1", "without END"),
    ("x = 1\n# END SOLUTION", "without BEGIN"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "nested"),
    ("# BEGIN SOLUTION\nx = (\n# END SOLUTION", "does not parse"),
])
def test_bad_markers_are_clear_errors(source, problem):
    with pytest.raises(MarkerError, match=problem):
        strip_code(source)


def test_written_answers_become_a_prompt():
    text = "Why?\n\n<!-- BEGIN SOLUTION -->\nBecause.\n<!-- END SOLUTION -->\n\nNext."
    assert strip_text(text) == "Why?\n\n*Write your answer here.*\n\nNext."


def test_make_exercise_adds_the_banner_and_keeps_the_solution():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01: Title\n\nText."),
                                         nbformat.v4.new_code_cell(SOLUTION_IN_FUNCTION)])
    exercise = make_exercise(nb)
    assert exercise.cells[0].source == f"# 01: Title\n\n{EXERCISE_BANNER}\n\nText."
    assert "NotImplementedError" in exercise.cells[1].source
    assert "np.exp" in nb.cells[1].source  # the solution notebook is not changed
