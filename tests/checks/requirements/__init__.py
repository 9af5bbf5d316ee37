"""Requirement tables: every sentence of an exercise statement that constrains the answer,
an answer that violates only it, and the words the check's message must say.

One table per chapter, ``tests/checks/requirements/chNN_slug.py`` (the name of the chapter's
check module), holding ``TABLE``: for the key ``chapters.PREAMBLE`` (the chapter's text before
its first exercise) and for every checked exercise id, a list of entries:

- ``requirement(quote, violation, message)``: ``quote`` is words of the statement (a clause of
  it or part of one), ``violation`` the answer the check is given (a function, a class or a
  value, like the learner's) that breaks only this requirement, ``message`` a regular
  expression the check's message for it must match (``re.search``), naming the requirement;
- ``free(quote, reason)``: words of a sentence that do not constrain the answer, and why.

``tests/checks/test_requirements.py`` runs every row and fails while a clause of a statement
(see :func:`clauses`) holds no quote of its exercise's entries (the preamble's clauses: of any
entry). ``python -m tests.checks.requirements`` counts the rows per chapter. docs/AUTHORING.md,
"Requirement tables", says how to write one.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from course_utils.authoring import chapters
from tests.conftest import ROOT

#: Chapters still without a table: remove the id in the commit that adds the chapter's table.
#: The completeness test skips them by name and fails when one has a table or another lacks one.
PENDING = (
)
MIN_QUOTE = 8  # characters: a quote names words of the statement, not a letter of it


@dataclass(frozen=True)
class Requirement:
    """One row: the statement's words, an answer that violates only them, the check's message."""

    quote: str
    violation: object
    message: str


@dataclass(frozen=True)
class Free:
    """Words of a sentence that do not constrain the answer, with the reason."""

    quote: str
    reason: str


def requirement(quote: str, violation, message: str) -> Requirement:
    """A row of a requirement table (see the module's docstring)."""
    return Requirement(quote, violation, message)


def free(quote: str, reason: str) -> Free:
    """A sentence declared as not constraining the answer (see the module's docstring)."""
    return Free(quote, reason)


# --------------------------------------------------------------------------- clauses

# spans a sentence never ends inside: display and inline math, inline code, abbreviations
_PROTECTED = re.compile(r"\$\$.*?\$\$|\$[^$]+\$|`[^`\n]*`|\b(?:e\.g|i\.e|etc|vs|cf|al)\.", re.S)
_ITEM = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+\.)\s)")  # blank lines and list items
_ITEM_MARK = re.compile(r"^(?:[-*+]|\d+\.)\s+")


def normalise(text: str) -> str:
    """Whitespace collapsed and bold markers dropped: how quotes and clauses are compared."""
    return " ".join(text.replace("**", "").split())


def _sentences(text: str) -> list[str]:
    """Cut after ``.``, ``;``, ``?`` and ``!`` followed by white space, outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0) if depth or char == "(" else 0
        if char in ".;?!" and depth == 0 and (i + 1 == len(text) or text[i + 1].isspace()):
            parts.append(text[start:i + 1])
            start = i + 1
    return parts + [text[start:]]


def clauses(statement: str) -> list[str]:
    """The clauses of a statement: each paragraph and list item, cut after every ``.``, ``;``,
    ``?`` and ``!`` that is not inside parentheses, math, code or an abbreviation (normalised)."""
    spans: list[str] = []

    def hide(match):
        spans.append(match.group(0))
        return f"\x00{len(spans) - 1}\x00"

    def show(text):
        return re.sub("\x00(\\d+)\x00", lambda m: spans[int(m.group(1))], text)

    out = []
    for item in _ITEM.split(_PROTECTED.sub(hide, statement)):
        for part in _sentences(_ITEM_MARK.sub("", item.strip())):
            text = normalise(show(part))
            if re.search(r"\w", text):
                out.append(text)
    return out


# --------------------------------------------------------------------------- tables


def table_module(chapter: chapters.Chapter) -> str:
    """The dotted name of a chapter's table: ``tests.checks.requirements.ch11_convolution``."""
    return f"{__name__}.{chapter.check_module}"


def has_table(chapter: chapters.Chapter) -> bool:
    return (ROOT / "tests" / "checks" / "requirements" / f"{chapter.check_module}.py").exists()


def table(chapter: chapters.Chapter) -> dict[str, list]:
    """A chapter's ``TABLE``."""
    return importlib.import_module(table_module(chapter)).TABLE


def statements(chapter: chapters.Chapter) -> dict[str, str]:
    """The statements of a chapter's checked exercises and its preamble (from the solution)."""
    return chapters.exercise_statements((ROOT / chapter.solution).read_text())


def rows(chapter: chapters.Chapter) -> list[tuple[str, Requirement]]:
    """Every (exercise id, row) of a chapter's table."""
    return [(exercise_id, entry) for exercise_id, entries in table(chapter).items()
            for entry in entries if isinstance(entry, Requirement)]


def uncovered(chapter: chapters.Chapter) -> list[str]:
    """What is wrong with a chapter's table against its statements, one line each (empty: complete)."""
    found, entries = statements(chapter), table(chapter)
    problems = []
    checked = set(found) - {chapters.PREAMBLE}
    for exercise_id in sorted(set(entries) - checked - {chapters.PREAMBLE}):
        problems.append(f"{exercise_id}: in the table, but no exercise of the solution checks it")
    preamble = [normalise(q) for es in entries.values() for e in es for q in [e.quote]]
    for exercise_id in sorted(checked):
        mine = entries.get(exercise_id)
        if not mine:
            problems.append(f"{exercise_id}: no entries in the table")
            continue
        if not any(isinstance(e, Requirement) for e in mine):
            problems.append(f"{exercise_id}: no requirement row (every checked statement constrains its answer)")
        own, context = clauses(found[exercise_id]), clauses(found[chapters.PREAMBLE])
        for entry in mine:
            quote = normalise(entry.quote)
            if len(quote) < MIN_QUOTE:
                problems.append(f"{exercise_id}: quote {entry.quote!r} is shorter than {MIN_QUOTE} characters")
            elif not any(quote in c for c in own + context):
                problems.append(f"{exercise_id}: quote {entry.quote!r} is not in one clause of its statement "
                                "(or of the preamble)")
            if isinstance(entry, Free) and not entry.reason.strip():
                problems.append(f"{exercise_id}: free({entry.quote!r}) gives no reason")
            if isinstance(entry, Requirement) and not entry.message.strip():
                problems.append(f"{exercise_id}: the row for {entry.quote!r} names no message")
        quotes = [normalise(e.quote) for e in mine]
        for clause in own:
            if not any(q and q in clause for q in quotes):
                problems.append(f"{exercise_id}: clause without an entry: {clause!r}")
    for entry in entries.get(chapters.PREAMBLE, []):
        if isinstance(entry, Requirement):
            problems.append(f"preamble: the row for {entry.quote!r} belongs under the exercise whose check it runs")
        elif not any(normalise(entry.quote) in c for c in clauses(found[chapters.PREAMBLE])):
            problems.append(f"preamble: quote {entry.quote!r} is not in one clause of the preamble")
    for clause in clauses(found[chapters.PREAMBLE]):
        if not any(q and q in clause for q in preamble):
            problems.append(f"preamble: clause without an entry: {clause!r}")
    return problems


def counts() -> dict[str, dict[str, int]]:
    """Per chapter: exercises, requirement rows and free sentences of its table (None: pending)."""
    out = {}
    for chapter in chapters.chapters(ROOT):
        if not has_table(chapter):
            out[chapter.id] = None
            continue
        entries = table(chapter)
        out[chapter.id] = {
            "exercises": len([k for k in entries if k != chapters.PREAMBLE]),
            "rows": sum(isinstance(e, Requirement) for es in entries.values() for e in es),
            "free": sum(isinstance(e, Free) for es in entries.values() for e in es),
        }
    return out


def main() -> None:
    """Print the rows per chapter: ``python -m tests.checks.requirements``."""
    total = 0
    for chapter_id, count in counts().items():
        if count is None:
            print(f"{chapter_id}  no table yet (pending)")
            continue
        total += count["rows"]
        print(f"{chapter_id}  {count['rows']:3d} rows, {count['free']:3d} free sentences, "
              f"{count['exercises']} exercises")
    print(f"total {total} rows")


if __name__ == "__main__":
    main()
