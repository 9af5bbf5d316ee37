"""Requirement tables (tests/checks/requirements): every row's violation is rejected with a message
that names its requirement, and every clause of every statement has an entry."""

from __future__ import annotations

import re

import pytest

from course_utils.authoring import chapters
from course_utils.checks import REGISTRY, CheckFailed
from tests.checks import requirements
from tests.checks.requirements import PENDING, clauses, free, has_table, requirement
from tests.conftest import ROOT

CHAPTERS = chapters.chapters(ROOT)
ROWS = [(exercise_id, row) for chapter in CHAPTERS if has_table(chapter)
        for exercise_id, row in requirements.rows(chapter)]


def _row_id(item):
    return f"{item[0]}: {item[1].quote[:50]}" if isinstance(item, tuple) else None


@pytest.mark.parametrize("exercise_id,row", ROWS, ids=[_row_id(r) for r in ROWS])
def test_row_is_rejected_with_a_message_naming_its_requirement(exercise_id, row):
    assert exercise_id in REGISTRY, f"{exercise_id} has no check"
    with pytest.raises(CheckFailed) as failure:
        REGISTRY[exercise_id].verdict(row.violation)
    if not re.search(row.message, str(failure.value)):
        pytest.fail(f"{exercise_id} rejects the violation of {row.quote!r}, but its message does not "
                    f"match {row.message!r}:\n{failure.value}", pytrace=False)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.name)
def test_every_clause_of_every_statement_has_an_entry(chapter):
    if chapter.id in PENDING:
        pytest.skip(f"chapter {chapter.id} has no requirement table yet; pending: {', '.join(PENDING)}")
    problems = requirements.uncovered(chapter)
    assert not problems, (f"the requirement table of chapter {chapter.id} "
                          f"(tests/checks/requirements/{chapter.check_module}.py) does not match "
                          f"{chapter.solution}:\n" + "\n".join(problems))


def test_pending_lists_exactly_the_chapters_without_a_table():
    without = [c.id for c in CHAPTERS if not has_table(c)]
    assert list(PENDING) == without, ("tests/checks/requirements/__init__.py PENDING must list exactly the "
                                      f"chapters without a table: {without}")


def test_clauses_cut_sentences_but_not_math_code_or_abbreviations():
    text = ("Write `f(x, y=1.5)` for $x \\in [0. 5]$, e.g. a batch. Return it; keep **x**.\n"
            "\n$$\na = b. c\n$$\n\n- first item,\n  continued;\n- second item? Yes!")
    assert clauses(text) == ["Write `f(x, y=1.5)` for $x \\in [0. 5]$, e.g. a batch.", "Return it;",
                             "keep x.", "$$ a = b. c $$", "first item, continued;", "second item?", "Yes!"]


def test_statements_are_read_from_the_solution_between_heading_and_check():
    text = """# 99: Title

Rules for every exercise. More rules.

```{code-cell} ipython3
import numpy as np
```

## Exercise 1: first

Write `f(x)`. Return a number.

```{code-cell} ipython3
def f(x):
    # BEGIN SOLUTION
    return 1
    # END SOLUTION
```

```{code-cell} ipython3
check("99.f", f)
```

What it does: not part of the next statement.

## Exercise 2: second
<!-- a comment -->
Write `g`.

<!-- BEGIN SOLUTION -->
a written answer
<!-- END SOLUTION -->

```{code-cell} ipython3
check("99.g", g)
```
"""
    found = chapters.exercise_statements(text)
    assert found == {chapters.PREAMBLE: "Rules for every exercise. More rules.",
                     "99.f": "Write `f(x)`. Return a number.", "99.g": "Write `g`."}


def test_an_unclassified_clause_and_a_stale_quote_are_reported(monkeypatch):
    chapter = chapters.Chapter("99", "demo")
    monkeypatch.setattr(requirements, "statements", lambda c: {
        chapters.PREAMBLE: "Each exercise asks for a function.",
        "99.f": "Write `f(x)`. Return a float. Never loop."})
    monkeypatch.setattr(requirements, "table", lambda c: {
        chapters.PREAMBLE: [free("Each exercise asks", "how the page works")],
        "99.f": [free("Write `f(x)`", "the signature"), requirement("Return a float", None, "float"),
                 requirement("Return an integer", None, "integer")]})
    problems = requirements.uncovered(chapter)
    assert problems == ["99.f: quote 'Return an integer' is not in one clause of its statement (or of the preamble)",
                        "99.f: clause without an entry: 'Never loop.'"]
