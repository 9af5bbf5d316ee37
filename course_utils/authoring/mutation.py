"""Mutation testing of the exercise checks: ``python -m course_utils mutate``.

Each exercise's reference answer (the code between ``# BEGIN SOLUTION`` and ``# END SOLUTION``
in ``solutions/NN-slug.md``) is mutated once per site (an operator swapped, a comparison edge
moved, a constant off by one, two arguments or two index axes swapped, an ``axis=`` changed
or dropped, a term or a statement dropped, a sign flipped, an assignment made in place, a
``.T`` dropped). The solution notebook's cells run in-process up to the check call, the
mutated cell replaces the original, and the chapter's registered check judges the answer
under the name the check reads. A check that rejects a mutant kills it. Survivors are either
equivalent to the solution (judged by hand in ``benchmarks/mutation-judged.json``) or a hole
in the check. The report, ``benchmarks/mutation.json``, gives per exercise the mutants, the
killed and the survivors with their verdicts.

The operators are written on Python's ``ast`` rather than taken from mutmut or cosmic-ray:
both mutate whole source files and judge each mutant by running a test command (mutmut 3
through pytest and trampolines in a copied tree, cosmic-ray through a session database and a
subprocess per mutant), while here the unit is one answer block inside a notebook cell and
the judge is one in-process check call; neither exposes its operators for that use.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import json
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from course_utils.authoring import chapters

REPORT = Path("benchmarks/mutation.json")
JUDGED = Path("benchmarks/mutation-judged.json")
GOAL = 0.9  # each check kills at least this share of its non-equivalent mutants
CELL_TIME_LIMIT = 60.0  # seconds to execute one notebook cell
CALL_TIME_LIMIT = 5.0  # seconds for one call of a mutant inside a check (or 3x the reference)
_MAGIC = re.compile(r"^(?P<indent>\s*)[%!].*$", re.M)

# --------------------------------------------------------------------------- operators

_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
         ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.MatMult: ast.Mult,
         ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd}
_EDGE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
         ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn,
         ast.NotIn: ast.In}
_AXIS_KEYWORDS = ("axis", "dim")
OPERATORS = ("swap operator", "drop term", "move edge", "swap and/or", "change constant",
             "move bound", "swap arguments", "swap index", "swap elements", "swap values",
             "change axis", "drop keyword", "negate condition", "drop condition", "drop minus",
             "drop not", "negate result", "make in place", "drop .T", "drop statement")


def _changed_constant(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return 0 if value == 1 else value + 1
    if isinstance(value, float):
        return 0.0 if value == 1.0 else value + 1.0
    return None


def _candidates(node, axis_values: set) -> list[tuple[str, ast.AST]]:
    """Every mutant of ``node`` itself (not of its children): (operator, replacement)."""
    out = []
    new = copy.deepcopy
    if isinstance(node, ast.BinOp):
        if type(node.op) in _SWAP:
            out.append(("swap operator", ast.BinOp(new(node.left), _SWAP[type(node.op)](), new(node.right))))
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            out.append(("drop term", new(node.left)))
        if isinstance(node.op, (ast.Add, ast.Mult)):
            out.append(("drop term", new(node.right)))
    elif isinstance(node, ast.AugAssign) and type(node.op) in _SWAP:
        out.append(("swap operator", ast.AugAssign(new(node.target), _SWAP[type(node.op)](), new(node.value))))
    elif isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _EDGE:
                ops = [new(o) for o in node.ops]
                ops[i] = _EDGE[type(op)]()
                out.append(("move edge", ast.Compare(new(node.left), ops, new(node.comparators))))
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        out.append(("swap and/or", ast.BoolOp(other, new(node.values))))
    elif isinstance(node, ast.Constant) and id(node) not in axis_values:
        changed = _changed_constant(node.value)
        if changed is not None:
            out.append(("change constant", ast.Constant(changed)))
    elif isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "range" and node.args \
                and len(node.args) <= 2:
            moved = new(node)
            stop = len(moved.args) - 1
            moved.args[stop] = ast.BinOp(moved.args[stop], ast.Add(), ast.Constant(1))
            out.append(("move bound", moved))
        positional = [a for a in node.args if not isinstance(a, ast.Starred)]
        if len(positional) == len(node.args) >= 2 and ast.dump(node.args[0]) != ast.dump(node.args[1]):
            swapped = new(node)
            swapped.args[0], swapped.args[1] = swapped.args[1], swapped.args[0]
            out.append(("swap arguments", swapped))
        for i, keyword in enumerate(node.keywords):
            if keyword.arg not in _AXIS_KEYWORDS:
                continue
            value = keyword.value
            if isinstance(value, ast.Constant) and isinstance(value.value, int):
                changed = new(node)
                changed.keywords[i].value = ast.Constant({0: 1, 1: 0}.get(value.value, 0))
                out.append(("change axis", changed))
        for i, keyword in enumerate(node.keywords):
            if keyword.arg is not None:
                dropped = new(node)
                del dropped.keywords[i]
                out.append(("drop keyword", dropped))
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple) \
            and len(node.slice.elts) >= 2 and ast.dump(node.slice.elts[0]) != ast.dump(node.slice.elts[1]):
        swapped = new(node)
        elts = swapped.slice.elts
        elts[0], elts[1] = elts[1], elts[0]
        out.append(("swap index", swapped))
    elif isinstance(node, (ast.List, ast.Tuple)) and isinstance(node.ctx, ast.Load) \
            and len(node.elts) >= 2 and ast.dump(node.elts[0]) != ast.dump(node.elts[1]) \
            and not any(isinstance(e, ast.Starred) for e in node.elts[:2]):
        swapped = new(node)
        swapped.elts[0], swapped.elts[1] = swapped.elts[1], swapped.elts[0]
        out.append(("swap elements", swapped))
    elif isinstance(node, ast.Dict) and len(node.values) >= 2 and None not in node.keys[:2] \
            and ast.dump(node.values[0]) != ast.dump(node.values[1]):
        swapped = new(node)
        swapped.values[0], swapped.values[1] = swapped.values[1], swapped.values[0]
        out.append(("swap values", swapped))
    elif isinstance(node, (ast.If, ast.While, ast.IfExp)):
        negated = new(node)
        negated.test = ast.UnaryOp(ast.Not(), negated.test)
        out.append(("negate condition", negated))
    elif isinstance(node, ast.comprehension) and node.ifs:
        dropped = new(node)
        dropped.ifs = []
        out.append(("drop condition", dropped))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        out.append(("drop minus" if isinstance(node.op, ast.USub) else "drop not", new(node.operand)))
    elif isinstance(node, ast.Attribute) and node.attr == "T":
        out.append(("drop .T", new(node.value)))
    if isinstance(node, ast.Return) and node.value is not None:
        values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
        for i, value in enumerate(values):
            if isinstance(value, ast.Constant) and not isinstance(value.value, (int, float)) \
                    or isinstance(value, (ast.Dict, ast.List, ast.Set, ast.ListComp, ast.DictComp,
                                          ast.Lambda)):
                continue
            negated = new(node)
            target_values = negated.value.elts if isinstance(negated.value, ast.Tuple) else None
            if target_values is None:
                negated.value = ast.UnaryOp(ast.USub(), negated.value)
            else:
                target_values[i] = ast.UnaryOp(ast.USub(), target_values[i])
            out.append(("negate result", negated))
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
            and isinstance(node.value, ast.BinOp) and type(node.value.op) in _SWAP \
            and isinstance(node.value.left, ast.Name) and node.value.left.id == node.targets[0].id:
        out.append(("make in place", ast.AugAssign(ast.Name(node.targets[0].id, ast.Store()),
                                                   new(node.value.op), new(node.value.right))))
    if isinstance(node, (ast.Expr, ast.AugAssign)) and not (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
        out.append(("drop statement", ast.Pass()))
    elif isinstance(node, ast.Assign) and isinstance(node.targets[0], (ast.Subscript, ast.Attribute)):
        out.append(("drop statement", ast.Pass()))
    return out


class _Mutator(ast.NodeTransformer):
    """Numbers every mutant inside ``lines`` in a fixed order; applies the one numbered
    ``target`` (or none, when listing)."""

    def __init__(self, lines: set[int], target: int | None = None):
        self.lines, self.target = lines, target
        self.found: list[dict] = []
        self.axis_values: set = set()
        self._inside, self._line = False, 0

    def visit(self, node):
        if isinstance(node, ast.Call):
            self.axis_values.update(id(k.value) for k in node.keywords if k.arg in _AXIS_KEYWORDS)
        if hasattr(node, "lineno"):
            self._line = node.lineno
            inside = node.lineno in self.lines and node.end_lineno in self.lines
        else:  # a comprehension: inside when its parent is
            inside = self._inside
        self._inside, outer = inside, self._inside
        try:
            return self._visit(node, inside)
        finally:
            self._inside = outer

    def _visit(self, node, inside):
        if inside:
            for operator, replacement in _candidates(node, self.axis_values):
                index = len(self.found)
                self.found.append({"operator": operator, "line": getattr(node, "lineno", self._line),
                                   "before": _short(node), "after": _short(replacement)})
                if index == self.target:
                    return ast.copy_location(replacement, node) if hasattr(node, "lineno") else replacement
        return self.generic_visit(node)


def _short(node) -> str:
    text = ast.unparse(node).split("\n")[0]
    return text if len(text) <= 70 else text[:67] + "..."


def mutants_of(source: str, lines: set[int]) -> list[dict]:
    """The mutants of the code in ``source`` on ``lines`` (1-based): operator, line, before,
    after."""
    mutator = _Mutator(lines)
    mutator.visit(ast.parse(source))
    return mutator.found


def mutate(source: str, lines: set[int], index: int) -> str:
    """``source`` with its mutant number ``index`` applied."""
    tree = _Mutator(lines, index).visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


# --------------------------------------------------------------------------- solutions


@dataclass
class Exercise:
    """One checked exercise of a solution notebook: the cells that define its answer."""

    exercise_id: str
    target: str
    check_cell: int
    answer_cells: dict[int, set[int]] = field(default_factory=dict)  # cell -> solution lines
    block_start: dict[int, int] = field(default_factory=dict)  # cell -> first solution line


def _solution_lines(source: str) -> tuple[set[int], int | None]:
    """The lines of a cell's answers (1-based) and the first of them, None without answers."""
    lines = {line for block in chapters.solution_blocks(source) for line in block.lines}
    return lines, min(lines, default=None)


def read_solution(path: Path) -> tuple[list[str], list[Exercise]]:
    """The code cells of a solution notebook and its checked exercises, in order."""
    import jupytext

    notebook = jupytext.read(path, fmt="md:myst")
    cells = [c.source for c in notebook.cells if c.cell_type == "code"]
    exercises, pending = [], {}
    for index, source in enumerate(cells):
        exercise_id = chapters.checked_exercise(source)
        if exercise_id:
            from course_utils.checks import REGISTRY

            target = REGISTRY[exercise_id].target if exercise_id in REGISTRY else ""
            exercise = Exercise(exercise_id, target, index)
            for cell, (lines, first) in pending.items():
                exercise.answer_cells[cell], exercise.block_start[cell] = lines, first
            exercises.append(exercise)
            pending = {}
            continue
        lines, first = _solution_lines(source)
        if lines:
            pending[index] = (lines, first)
    return cells, exercises


def _runnable(source: str) -> str:
    """A cell's source as plain Python: IPython magics become ``pass``."""
    return _MAGIC.sub(lambda m: f"{m['indent']}pass", source)


def _execute(source: str, namespace: dict, label: str):
    from course_utils.checks.core import run_limited

    code = compile(_runnable(source), f"<{label}>", "exec")
    with contextlib.redirect_stdout(io.StringIO()):
        run_limited(exec, (code, namespace), seconds=CELL_TIME_LIMIT)
    _close_figures()


def _close_figures():
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def _noop_check(*args, **kwargs):
    return True


def run_cells(cells: list[str], namespace: dict, start: int, stop: int) -> int:
    """Run a solution's cells ``start`` to ``stop - 1`` in ``namespace`` as mutation testing runs
    them (in this process, magics skipped, the checks' calls answered ``True``); return ``stop``."""
    for cell in range(start, stop):
        _execute(cells[cell], namespace, f"solution cell {cell}")
        namespace["check"] = _noop_check
    return max(start, stop)


# --------------------------------------------------------------------------- judging


def judge(exercise_id: str, answer) -> tuple[bool, str]:
    """(killed, how): run the registered check on ``answer``; any rejection kills."""
    from course_utils.checks import REGISTRY
    from course_utils.checks.core import CheckFailed, TimeUp

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            REGISTRY[exercise_id].func(answer)
    except CheckFailed as err:
        return True, f"rejected: {str(err).splitlines()[0][:160]}"
    except TimeUp:
        return True, "rejected: out of time"
    except Exception as err:  # the Check wrapper reports this as a rejection too
        return True, f"check error: {type(err).__name__}: {str(err)[:120]}"
    return False, "passed"


def run_exercise(cells: list[str], exercise: Exercise, namespace: dict, *, sample: int | None = None,
                 seed: int = 0, log=None, call_limit: float | None = None) -> dict:
    """Mutate one exercise's answer and judge every mutant; ``namespace`` is the notebook's
    state just before the first answer cell. ``call_limit`` caps each call of a mutant in its
    check (at least three times what the reference took); None leaves the check's limits."""
    first = min(exercise.answer_cells)
    sites = []
    for cell, lines in sorted(exercise.answer_cells.items()):
        for index, found in enumerate(mutants_of(_runnable(cells[cell]), lines)):
            line = found["line"] - exercise.block_start[cell] + 1
            description = f"L{line} {found['operator']}: `{found['before']}` -> `{found['after']}`"
            sites.append((cell, index, description))
    descriptions = _unique([d for _, _, d in sites])
    sites = [(cell, index, d) for (cell, index, _), d in zip(sites, descriptions, strict=True)]
    total = len(sites)
    if sample is not None and sample < total:
        sites = sorted(random.Random(f"{exercise.exercise_id}-{seed}").sample(sites, sample),
                       key=lambda s: (s[0], s[1]))
    result = {"chapter": chapters.exercise_chapter(exercise.exercise_id), "mutants": len(sites),
              "killed": 0, "survivors": [], "sites": total}

    def answer_after(replaced: dict[int, str]):
        state = dict(namespace)
        for cell in range(first, exercise.check_cell):
            _execute(replaced.get(cell, cells[cell]), state, f"solution cell {cell}")
            state["check"] = _noop_check
        return state.get(exercise.target, None)

    from course_utils.checks.core import time_limit_cap

    # the reference runs under the check's own time limits; a mutant gets ``call_limit`` or,
    # for a check that trains a network, a few times what the reference took
    start = time.perf_counter()
    with time_limit_cap(None):
        baseline_killed, how = judge(exercise.exercise_id, answer_after({}))
    if baseline_killed:
        result["error"] = f"the reference solution fails its check: {how}"
        return result
    mutant_limit = None if call_limit is None else max(call_limit, 3 * (time.perf_counter() - start))
    with time_limit_cap(mutant_limit):
        result["kinds"] = _judge_mutants(exercise, cells, sites, answer_after, result, log)
    return result


def _judge_mutants(exercise: Exercise, cells: list[str], sites, answer_after, result: dict, log) -> dict:
    """Judge every mutant of ``sites``; count the killed and list the survivors in ``result``;
    return how many were judged each way."""
    kinds: dict[str, int] = {}
    for cell, index, description in sites:
        start = time.perf_counter()
        try:
            answer = answer_after({cell: mutate(_runnable(cells[cell]), exercise.answer_cells[cell], index)})
        except BaseException as err:  # a mutant that breaks its own cell never reaches the check
            if isinstance(err, KeyboardInterrupt):
                raise
            killed, how = True, f"cell error: {type(err).__name__}"
        else:
            killed, how = judge(exercise.exercise_id, answer)
        kind = how.split(":")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
        if killed:
            result["killed"] += 1
        else:
            result["survivors"].append({"mutant": description})
        if log:
            log(f"  {'killed ' if killed else 'SURVIVED'} {time.perf_counter() - start:5.2f}s "
                f"{description} | {how}")
    return kinds


def _unique(descriptions: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for text in descriptions:
        seen[text] = seen.get(text, 0) + 1
        out.append(text if seen[text] == 1 else f"{text} (#{seen[text]})")
    return out


def run_chapter(path: Path, *, exercise_ids=None, sample=None, log=None) -> dict:
    """Mutation results of every checked exercise of one solution notebook."""
    from course_utils.checks.core import time_limit_cap

    cells, exercises = read_solution(path)
    namespace = {"__name__": "__main__"}
    results = {}
    with time_limit_cap(CALL_TIME_LIMIT):
        done = 0
        for exercise in exercises:
            wanted = exercise_ids is None or exercise.exercise_id in exercise_ids
            first = min(exercise.answer_cells) if exercise.answer_cells else exercise.check_cell
            done = run_cells(cells, namespace, done, first)
            if wanted:
                if log:
                    log(f"{exercise.exercise_id}:")
                if not exercise.answer_cells:
                    results[exercise.exercise_id] = {"chapter": chapters.parse(path).id, "mutants": 0, "killed": 0,
                                                     "survivors": [], "error": "no answer block"}
                else:
                    results[exercise.exercise_id] = run_exercise(cells, exercise, namespace, sample=sample,
                                                                 log=log, call_limit=CALL_TIME_LIMIT)
    return results


# --------------------------------------------------------------------------- report


def load_judged(path: Path = JUDGED) -> dict:
    """``{exercise_id: {mutant description: verdict}}``; a verdict starting with
    ``equivalent`` removes the mutant from the score."""
    return json.loads(path.read_text()) if path.exists() else {}


def summarise(results: dict, judged: dict) -> dict:
    """Add verdicts and scores to per-exercise results; return the whole report."""
    chapters_summary: dict[str, dict] = {}
    for exercise_id, result in sorted(results.items()):
        verdicts = judged.get(exercise_id, {})
        equivalent = 0
        for survivor in result["survivors"]:
            survivor["judged"] = verdicts.get(survivor["mutant"])
            equivalent += bool(survivor["judged"] and survivor["judged"].startswith("equivalent"))
        result["equivalent"] = equivalent
        counted = result["mutants"] - equivalent
        result["score"] = round(result["killed"] / counted, 4) if counted else 1.0
        summary = chapters_summary.setdefault(result["chapter"], {
            "mutants": 0, "killed": 0, "survivors": 0, "equivalent": 0, "unjudged": 0})
        summary["mutants"] += result["mutants"]
        summary["killed"] += result["killed"]
        summary["survivors"] += len(result["survivors"])
        summary["equivalent"] += equivalent
        summary["unjudged"] += sum(s["judged"] is None for s in result["survivors"])
    return {"command": "python -m course_utils mutate", "goal": GOAL, "operators": list(OPERATORS),
            "chapters": chapters_summary, "exercises": dict(sorted(results.items()))}


def add_arguments(parser) -> None:
    """The options of ``python -m course_utils mutate``."""
    parser.add_argument("--chapter", action="append", help="chapter id NN (repeatable; default: all)")
    parser.add_argument("--exercise", action="append", help="exercise id NN.name (repeatable)")
    parser.add_argument("--out", type=Path, default=REPORT)
    parser.add_argument("--judged", type=Path, default=JUDGED)
    parser.add_argument("--sample", type=int, default=None, help="at most N mutants per exercise")
    parser.add_argument("--verbose", action="store_true", help="one line per mutant")


def main(args) -> int:
    """Run the mutate command; 1 when a check is below the goal or a survivor is unjudged."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    wanted_chapters = set(args.chapter or []) | {chapters.exercise_chapter(e) for e in args.exercise or []}
    paths = [p for p in chapters.files("solution", Path.cwd())
             if not wanted_chapters or chapters.parse(p).id in wanted_chapters]
    if not paths:
        print("mutate: no solution notebooks found (run from the repository root)", file=sys.stderr)
        return 2
    results = {}
    if args.out.exists() and (args.chapter or args.exercise):  # a partial run updates the report
        results = json.loads(args.out.read_text()).get("exercises", {})
    for path in paths:
        start = time.perf_counter()
        chapter = run_chapter(path, exercise_ids=set(args.exercise) if args.exercise else None,
                              sample=args.sample, log=print if args.verbose else None)
        results.update(chapter)
        for exercise_id, result in chapter.items():
            print(f"{exercise_id:28s} {result['killed']:4d} / {result['mutants']:4d} killed"
                  + (f"  ERROR {result['error']}" if "error" in result else ""))
        print(f"{path.name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    report = summarise(results, load_judged(args.judged))
    if args.sample is not None:
        report["sample"] = args.sample
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    below = [k for k, r in report["exercises"].items() if r["score"] < GOAL or "error" in r]
    unjudged = [(k, s["mutant"]) for k, r in report["exercises"].items() for s in r["survivors"]
                if s["judged"] is None]
    print(f"wrote {args.out}: {len(below)} checks below {GOAL:.0%}, {len(unjudged)} survivors unjudged")
    return 1 if below or unjudged else 0
