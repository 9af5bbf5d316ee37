"""Every result number in the prose is glued from the code, never typed.

A number in a Markdown cell counts as a *result* when it looks like one: a decimal (0.87), a
percentage (88 %), a power of ten (1e-8, 10^{-3}), a duration (22 min), a ratio (40 times
faster) or any number after "about", "around", "roughly" or an approximately-equal sign. Such a
number is allowed only when

- the notebook's code contains it as a literal (a constant the text introduces, like a
  learning rate of 0.1 or 88 % as a target), or
- the cell declares it in an HTML comment, ``<!-- constants: 0.5, 97.5 -->``, for a
  mathematical fact or a cited value that no code in the book computes.

Results go into the prose with ``{glue:text}`name:.3f``` (see ``course_utils.glue``); glued
roles, inline code, links and comments are not read.
"""

from __future__ import annotations

import io
import math
import re
import tokenize

import jupytext
import pytest

from course_utils.authoring.exercises import is_notebook
from tests.conftest import ROOT

NOTEBOOKS = [p for folder in ("book", "solutions") for p in sorted((ROOT / folder).glob("*.md")) if is_notebook(p)]

DECLARED = re.compile(r"<!--\s*constants:(.*?)-->", re.S)
NOT_PROSE = [
    re.compile(r"<!--.*?-->", re.S),                       # comments
    re.compile(r"^\s*(```|:::).*$", re.M),                 # directive fences
    re.compile(r"^\s*:[\w-]+:.*$", re.M),                  # directive options
    re.compile(r"\{[\w:.-]+\}`[^`]*`"),                    # roles: glue, ref, doc, numref ...
    re.compile(r"`[^`]*`"),                                # inline code
    re.compile(r"\]\([^)]*\)"),                            # link targets
    re.compile(r"https?://\S+"),                           # bare URLs
    re.compile(r"^\([\w-]+\)=\s*$", re.M),                 # labels
]
NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
POWER = r"(?:\d+(?:\.\d+)?\s*(?:\\times|×)\s*)?10\^\{?[-−]?\d+\}?"
RESULT_PATTERNS = [  # longest forms first: a number inside one already read is not read again
    re.compile(POWER),                                                                   # 2.2 \times 10^{-16}
    re.compile(rf"(?<![\w.]){NUMBER}\s*(?:%|\\%|percent\b)"),                            # 88 %
    re.compile(r"(?<![\w.])\d+\.\d+(?:[eE][-−+]?\d+)?(?!\w|\.\d)"),                        # 0.87, 2.5e-3
    re.compile(r"(?<![\w.])\d+[eE][-−+]?\d+(?!\w|\.\d)"),                                  # 1e-8
    re.compile(rf"(?<![\w.]){NUMBER}\s*(?:ms|s|sec|seconds?|min|minutes?|h|hours?)\b(?!-)"),  # 22 min
    re.compile(rf"(?<![\w.]){NUMBER}\s*(?:×|times|x)\s+(?:faster|slower|more|fewer|larger|smaller)\b"),
    re.compile(rf"(?:≈|\\approx|\\sim|~|\babout|\baround|\broughly|\bnearly|\balmost|\bclose to)\s*\$?\s*"
               rf"[-−]?(?:{POWER}|{NUMBER})"),
]


def _value(text: str) -> float | None:
    """The number a prose match stands for (10^{-3} -> 0.001, 88 % -> 88), or None."""
    text = text.replace("−", "-").replace(",", "")
    power = re.search(r"10\^\{?(-?\d+)\}?", text)
    if power:
        text = text[:power.start()]
        mantissa = re.search(r"(-?\d+(?:\.\d+)?)\s*(?:\\times|×)\s*$", text)
        return (float(mantissa.group(1)) if mantissa else 1.0) * 10.0 ** int(power.group(1))
    found = re.search(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", text)
    return float(found.group()) if found else None


def code_literals(notebook) -> list[float]:
    """Every numeric literal in the notebook's code cells (magics skipped)."""
    values = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            for token in tokenize.generate_tokens(io.StringIO(source).readline):
                if token.type == tokenize.NUMBER:
                    values.append(float(complex(token.string.replace("_", "")).real))
        except (tokenize.TokenError, SyntaxError, ValueError):
            continue
    return values


def _allowed(value: float, text: str, literals: list[float], declared: list[float]) -> bool:
    candidates = [value] + ([value / 100] if "%" in text or "percent" in text else [])
    return any(math.isclose(c, known, rel_tol=1e-9)
               for c in candidates for known in literals + declared)


def typed_results(path) -> list[str]:
    """``"line N: text"`` for each result number typed into the prose of one notebook."""
    notebook = jupytext.read(path)
    literals = code_literals(notebook)
    source_lines = path.read_text().splitlines()
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        declared = [v for block in DECLARED.findall(cell.source) for part in block.split(",")
                    if (v := _value(part)) is not None]
        prose = cell.source
        for pattern in NOT_PROSE:
            prose = pattern.sub(lambda m: " " * len(m.group()), prose)
        read: list[range] = []
        for pattern in RESULT_PATTERNS:
            for match in pattern.finditer(prose):
                if any(match.start() in span or match.end() - 1 in span for span in read):
                    continue
                read.append(range(match.start(), match.end()))
                value = _value(match.group())
                if value is None or _allowed(value, match.group(), literals, declared):
                    continue
                line_text = prose[:match.start()].count("\n")
                first_line = cell.source.splitlines()[line_text] if cell.source else ""
                line_no = next((i + 1 for i, line in enumerate(source_lines) if line == first_line), 0)
                found.append(f"line {line_no}: {match.group().strip()!r} in {first_line.strip()[:90]!r}")
    return sorted(set(found))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_result_number_is_typed_into_the_prose(path):
    typed = typed_results(path)
    assert not typed, (
        f"{len(typed)} result number(s) typed into {path.relative_to(ROOT)}; glue them "
        "({glue:text}`name:.3f`), or declare a true constant with <!-- constants: ... -->:\n  "
        + "\n  ".join(typed))


def test_the_rule_flags_results_and_spares_constants(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "---\njupytext:\n  formats: md:myst\n  text_representation:\n    extension: .md\n"
        "    format_name: myst\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n"
        "# Title\n\n```{code-cell} ipython3\nlr = 0.1\ntarget = 0.88\n```\n\n"
        "With a learning rate of 0.1 the loss oscillates; the target is 88 %.\n"
        "The test accuracy is 91.4 %, the condition number about 130, the run took 22 min.\n"
        "Accuracy {glue:text}`acc:.1%` and `x = 0.25` in code are not read.\n"
        "<!-- constants: 0.5 -->\nThe sigmoid at zero is 0.5, about 10^{-3} below 0.501.\n")
    typed = " ".join(typed_results(page))
    for result in ("91.4 %", "about 130", "22 min", "0.501", "10^{-3}"):
        assert repr(result) in typed, (result, typed)
    for constant in ("0.1", "88 %", "0.25", "'0.5'"):
        assert f"'{constant.strip(chr(39))}'" not in typed, (constant, typed)
