"""The parts of the grader, one by one, without kernels: wire, kernel side, judge, report, sandbox view."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from course_utils.checks import core
from course_utils.grading import judge, report, sandbox, wire
from course_utils.grading.contracts import ExerciseResult, NotebookResult, cap
from course_utils.grading.inkernel import Answers
from course_utils.grading.kernel_side import apply_limits, kernel_env

from .conftest import ROOT

# --------------------------------------------------------------------------- wire


@pytest.mark.parametrize("value", [
    None, True, 3, 2**80, -1.5, float("inf"), "text", [1, [2, 3]], (1, "a"), {"AND": (np.ones(2), -1.5)},
    {1: "x", (2, 3): [4]}, np.arange(6, dtype=np.int32).reshape(2, 3), np.float32(0.5), np.bool_(True),
    complex(1, -2), {1, 2}, Ellipsis, np.zeros((0, 3)),
])
def test_wire_round_trips_plain_data(value):
    back = wire.decode(json.loads(json.dumps(wire.encode(value))))
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    elif isinstance(value, dict) and "AND" in value:
        assert np.array_equal(back["AND"][0], value["AND"][0]) and back["AND"][1] == -1.5
    else:
        assert back == value and type(back) is type(value)


def test_wire_carries_a_generator_state():
    rng = np.random.default_rng(5)
    rng.normal()
    back = wire.decode(wire.encode(rng))
    assert back.normal() == rng.normal()


@pytest.mark.parametrize("value", [print, np, type, np.array([object()]), lambda: 1, iter([1])])
def test_wire_refuses_what_is_not_plain_data(value):
    with pytest.raises(wire.Uncarriable):
        wire.encode(value)


@pytest.mark.parametrize("data", [
    {"__pickle__": "gASVAAAA"}, {"__ndarray__": {"dtype": "object", "shape": [1], "data": ""}},
    {"__ndarray__": {"dtype": "float64", "shape": [10**9], "data": ""}},
    {"__ndarray__": {"dtype": "float64", "shape": [2], "data": "AAAA"}}, {"a": 1, "b": 2},
    {"__rng__": {"__dict__": [["bit_generator", "MT19937"]]}}, {"__float__": "1e400"},
])
def test_wire_refuses_malformed_data(data):
    with pytest.raises((ValueError, wire.Uncarriable)):
        wire.decode(data)


def test_wire_refuses_deep_nesting():
    data = []
    for _ in range(wire.MAX_DEPTH + 5):
        data = [data]
    with pytest.raises(ValueError):
        wire.decode(data)


def test_wire_takes_iterators_and_tensors_only_when_asked():
    assert wire.decode(wire.encode((i for i in range(3)), iterators=True)) == [0, 1, 2]

    class Tensor:
        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return np.ones(2)

    assert np.array_equal(wire.decode(wire.encode(Tensor(), tensors=True)), np.ones(2))


# --------------------------------------------------------------------------- the kernel side


def _ask(answers, **request):
    return json.loads(answers.handle(json.dumps(request)))


def test_answers_describe_what_a_name_holds():
    answers = Answers({"f": lambda x: x, "v": {"a": np.ones(2)}, "m": np, "stub": ...})
    assert _ask(answers, op="describe", target="nothing") == {"ok": True, "kind": "missing"}
    assert _ask(answers, op="describe", target="f")["kind"] == "callable"
    value = _ask(answers, op="describe", target="v")
    assert value["kind"] == "value" and np.array_equal(wire.decode(value["value"])["a"], np.ones(2))
    assert _ask(answers, op="describe", target="m") == {"ok": True, "kind": "opaque", "type": "module"}
    assert wire.decode(_ask(answers, op="describe", target="stub")["value"]) is Ellipsis


def test_answers_call_reports_results_errors_and_changes_in_place():
    def shuffle_in_place(x):
        x += 1
        return x.sum()

    def broken(x):
        raise ValueError("E" * 5000)

    def leaves(x):
        raise SystemExit(3)

    answers = Answers({"f": shuffle_in_place, "g": broken, "h": leaves, "gen": lambda n: (i for i in range(n))})
    reply = _ask(answers, op="call", target="f", args=wire.encode([np.zeros(3)]), kwargs=wire.encode({}))
    assert reply["ok"] and wire.decode(reply["value"]) == 3.0
    assert np.array_equal(wire.decode(reply["changed"]["0"]), np.ones(3))
    error = _ask(answers, op="call", target="g", args=wire.encode([1]), kwargs=wire.encode({}))["error"]
    assert error["type"] == "ValueError" and len(error["message"]) == 1000 and "line" in error["where"]
    assert _ask(answers, op="call", target="h", args=wire.encode([1]), kwargs=wire.encode({}))["error"]["type"] \
        == "SystemExit"
    reply = _ask(answers, op="call", target="gen", args=wire.encode([3]), kwargs=wire.encode({}))
    assert wire.decode(reply["value"]) == [0, 1, 2]
    assert _ask(answers, op="nonsense")["ok"] is False
    assert json.loads(answers.handle("not json"))["ok"] is False


def test_changes_in_place_are_seen_inside_dictionaries_of_arrays():
    def step(params, grads, state):
        state["v"] = state.get("v", 0) + grads
        return params - state["v"], dict(state)

    answers = Answers({"step": step})
    state = {"v": np.ones(2)}
    reply = _ask(answers, op="call", target="step", args=wire.encode([np.zeros(2), np.ones(2), state]),
                 kwargs=wire.encode({}))
    assert np.array_equal(wire.decode(reply["changed"]["2"])["v"], 2 * np.ones(2))


def test_the_weaker_path_refuses_a_notebook_that_patched_numpy(monkeypatch):
    import course_utils.checks.ch00_perceptron  # noqa: F401 - registers the real check here
    from course_utils.grading import inkernel

    answers = Answers({"weighted_sum": _weighted_sum})
    assert _ask(answers, op="check", exercise="00.weighted_sum", target="weighted_sum")["status"] == "pass"
    fake = eval("lambda *args, **kwargs: True")  # a function the notebook defined
    monkeypatch.setattr(np, "allclose", fake)
    assert inkernel.from_notebook(fake)
    reply = _ask(answers, op="check", exercise="00.weighted_sum", target="weighted_sum")
    assert reply["status"] == "error" and "numpy.allclose" in reply["message"]


def test_kernel_env_keeps_nothing_of_the_grader(monkeypatch, tmp_path):
    from course_utils.grading.contracts import KernelJob

    monkeypatch.setenv("SOME_TOKEN", "secret")
    monkeypatch.setenv("COURSE_CHECK_SECRET", "123")
    env = kernel_env(KernelJob("n.ipynb", "", 1, 1, "smoke"), tmp_path)
    assert "SOME_TOKEN" not in env and "COURSE_CHECK_SECRET" not in env
    assert env["HOME"] == str(tmp_path) and env["IPYTHONDIR"].startswith(str(tmp_path))


def test_limits_are_set_and_cannot_be_raised_again():
    code = ("import resource; from course_utils.grading.kernel_side import apply_limits; "
            "apply_limits({'RLIMIT_FSIZE': 4096, 'RLIMIT_NPROC': 10000}); "
            "print(resource.getrlimit(resource.RLIMIT_FSIZE))\n"
            "try:\n    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192)); print('raised')\n"
            "except (ValueError, OSError): print('refused')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = done.stdout.split()
    assert "(4096," in done.stdout and (lines[-1] == "refused" or os.geteuid() == 0)
    assert callable(apply_limits)


# --------------------------------------------------------------------------- the judge


class InProcessChannel:
    """Stands for the sandbox: requests go straight to an Answers object, through JSON."""

    def __init__(self, namespace):
        self.answers = Answers(namespace)
        self.seen = []

    def request(self, op, timeout, **fields):
        self.seen.append((op, fields))
        return json.loads(self.answers.handle(json.dumps({"op": op, "timeout": timeout, **fields})))

    def busy(self):
        return False


def _weighted_sum(X, w, b):
    return np.asarray(X) @ np.asarray(w) + b


def test_judge_passes_a_right_answer_and_names_a_mistake():
    channel = InProcessChannel({"weighted_sum": _weighted_sum,
                                "perceptron_update": lambda w, b, x, y, lr: (w, b)})
    right = judge.judge_exercise(channel, "00.weighted_sum", 30)
    assert right.status == "pass" and right.judged == "grader" and right.message.startswith("passed")
    wrong = judge.judge_exercise(channel, "00.perceptron_update", 30)
    assert wrong.status == "fail" and "trial" in wrong.message
    missing = judge.judge_exercise(InProcessChannel({}), "00.weighted_sum", 30)
    assert missing.status == "fail" and "is not defined" in missing.message


def test_judge_sees_changes_in_place_as_the_check_did():
    def update(w, b, x, y, lr):
        w += lr * (y - int(x @ w + b >= 0)) * x
        return w, b + lr * (y - int(x @ w + b >= 0))

    result = judge.judge_exercise(InProcessChannel({"perceptron_update": update}), "00.perceptron_update", 30)
    assert result.status == "fail" and "in place" in result.message


def test_a_function_an_answer_returns_is_called_in_the_sandbox():
    def fit(x, y, n):
        return lambda grid: np.asarray(grid) * 0 + n

    channel = InProcessChannel({"fit": fit})
    proxy = judge.Proxy(channel, "fit", deadline=float("inf"))
    predict = proxy(np.ones(3), np.ones(3), 7)
    assert isinstance(predict, judge.Proxy) and np.array_equal(predict(np.zeros(2)), [7, 7])
    assert channel.seen[-1][1]["target"].startswith("#function")
    with pytest.raises(ValueError):
        wire.decode({"__handle__": 0})


def test_an_answer_cannot_find_the_reference_on_the_stack():
    def peek(X, w, b):
        import inspect

        for frame in inspect.stack():
            for name, value in frame.frame.f_locals.items():
                if name in ("expected", "reference") and value is not None:
                    return value
        return 0.0

    # in-process, only the kernel's own frames are on the stack: the check's are in another process
    result = judge.judge_exercise(InProcessChannel({"weighted_sum": peek}), "00.weighted_sum", 30)
    assert result.status == "fail"


def test_the_secret_changes_the_inputs_but_not_the_verdict():
    seen = {}

    def recording(X, w, b):
        seen.setdefault(core._SECRET[0], []).append(np.asarray(X).tolist())
        return _weighted_sum(X, w, b)

    try:
        for secret in (None, 12345, 67890):
            core.set_secret(secret)
            assert judge.judge_exercise(InProcessChannel({"weighted_sum": recording}), "00.weighted_sum",
                                        30).status == "pass"
    finally:
        core.set_secret(None)
    assert seen[None][0] == seen[12345][0], "the worked example stays"
    assert seen[None][1:] != seen[12345][1:] != seen[67890][1:], "random cases follow the secret"


def test_remote_exceptions_keep_the_types_checks_know():
    assert type(judge.remote_exception({"type": "NotImplementedError"})) is NotImplementedError
    odd = judge.remote_exception({"type": "E" * 5000 + "!", "message": "m", "where": " at line 1"})
    assert isinstance(odd, Exception) and len(type(odd).__name__) == 100 and str(odd) == "m at line 1"
    assert not isinstance(judge.remote_exception({"type": "SystemExit"}), SystemExit)
    assert not isinstance(judge.remote_exception({"type": "CheckFailed"}), core.CheckFailed)


def test_the_in_sandbox_list_names_real_exercises():
    from course_utils.checks import REGISTRY

    assert judge.IN_SANDBOX <= set(REGISTRY)
    assert len(REGISTRY) - len(judge.IN_SANDBOX) >= 40


# --------------------------------------------------------------------------- the report


def test_csv_cells_that_look_like_formulas_are_escaped():
    assert report.csv_cell("=1+1") == "'=1+1"
    assert report.csv_cell("+cmd|' /C calc'!A0") .startswith("'+")
    assert report.csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert report.csv_cell("alice") == "alice"
    assert report.csv_cell("a\x00b\x1b") == "ab"
    assert report.csv_cell(0.5) == 0.5


def test_safe_names_stay_apart():
    names = {report.safe_name(n) for n in ("a/b", "a_b", "../x", "", "é")}
    assert len(names) == 5 and all("/" not in n and not n.startswith(".") for n in names)


def _result(learner, chapter, statuses, notebook=None):
    res = NotebookResult(learner, notebook or f"/{learner}/{chapter}-x.ipynb", chapter)
    res.results = [ExerciseResult(f"{chapter}.e{i}", status=s, message="m") for i, s in enumerate(statuses)]
    return res


def test_gradebook_one_row_per_learner_best_of_duplicates():
    results = [_result("ann", "00", ["pass", "fail"]), _result("ann", "00", ["pass", "pass"], "/other.ipynb"),
               _result("bob", "01", ["fail"])]
    header, table = report.gradebook(results)
    assert header == ["Student", "SIS Login ID", "00.e0", "00.e1", "01.e0", "Total"]
    assert [row["Total"] for row in table] == [2, 0]
    assert report.duplicates(results) == {("ann", "00"): ["/ann/00-x.ipynb", "/other.ipynb"]}


def test_results_are_saved_atomically_and_read_back(tmp_path):
    store = report.ResultStore(tmp_path)
    res = _result("ann", "00", ["pass"])
    res.digest = "abc"
    store.save(res)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert store.load(res.notebook, "abc").results[0].status == "pass"
    assert store.load(res.notebook, "changed") is None


def test_contracts_validate_and_cap():
    with pytest.raises(ValueError):
        ExerciseResult("x", status="passed")
    assert len(ExerciseResult("x", message="m" * 10**6).message) == 1000
    res = NotebookResult.from_dict({"learner": "a", "notebook": "n", "chapter": "00", "evil": 1,
                                    "results": [{"exercise": "00.a", "status": "pass"}], "notes": ["n" * 10**5] * 99})
    assert len(res.notes) == 20 and len(res.notes[0]) == 300
    assert cap("a\x00b", 10) == "ab"


# --------------------------------------------------------------------------- the sandbox's view


def test_the_learners_view_hides_the_grader_the_checks_and_the_answers():
    hidden = sandbox.hidden_modules("05", {"mlp_backward"})
    assert "backprop.py" in hidden and "checks/ch05_backpropagation.py" in hidden
    assert "backprop.py" in sandbox.hidden_modules("01", {"softmax"}), "it defines softmax"
    view = sandbox.package_view("00", {"weighted_sum"}) / "course_utils"
    assert not (view / "checks" / "ch00_perceptron.py").exists()
    assert not (view / "grading" / "judge.py").exists() and (view / "grading" / "kernel_side.py").exists()
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


@pytest.mark.skipif(bool(sandbox.bwrap_problem()), reason="no sandbox here")
def test_the_sandbox_has_no_network_no_host_files_and_a_read_only_package():
    view = sandbox.package_view("00", {"weighted_sum"})
    code = ("import os, socket, course_utils\n"
            "s = socket.socket()\n"
            "try:\n    s.connect(('1.1.1.1', 80)); print('network')\nexcept OSError: print('no network')\n"
            f"print('host files' if os.path.exists({str(ROOT / 'tests')!r}) else 'no host files')\n"
            "try:\n    open(os.path.join(os.path.dirname(course_utils.__file__), 'x'), 'w'); print('writable')\n"
            "except OSError: print('read-only')\n"
            "print(len([p for p in os.listdir('/proc') if p.isdigit()]))\n")
    argv = sandbox.bwrap_argv([sys.executable, "-c", code], view=view, tmpfs_mb=16)
    done = subprocess.run(argv, env=sandbox._sandbox_env(view, None), capture_output=True, text=True, timeout=60)
    lines = done.stdout.split("\n")
    assert lines[:3] == ["no network", "no host files", "read-only"], done.stdout + done.stderr
    assert int(lines[3]) <= 3, "its own process namespace"


# --------------------------------------------------------------------------- the driver, without a sandbox


@pytest.mark.slow
def test_the_driver_runs_a_notebook_and_answers_in_json_lines(tmp_path):
    import nbformat

    from course_utils.grading.contracts import KernelJob

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\ndef f(x):\n    x += 1\n    return x * 2\nv = {'a': 1}"),
        nbformat.v4.new_code_cell("print('x' * 10**6)\nraise ValueError('E' * 10**5)"),
    ])
    job = KernelJob("n.ipynb", nbformat.writes(nb), 30, 60, "smoke", {"RLIMIT_CORE": 0})
    proc = subprocess.Popen([sys.executable, "-m", "course_utils.grading.kernel_side"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)})
    channel = sandbox.Channel(proc)
    try:
        channel.send({"job": job.to_dict(), "memory_mb": 1000, "in_sandbox": False})
        ran = channel.event("ran", 120)
        assert ran["ok"] and ran["cells"]["errors"] == 1 and len(ran["notes"][0]) < 200
        assert channel.event("ready", 60)["ok"]
        assert channel.request("describe", 10, target="v")["kind"] == "value"
        reply = channel.request("call", 10, target="f", args=wire.encode([np.ones(2)]), kwargs=wire.encode({}))
        assert np.array_equal(wire.decode(reply["value"]), [4, 4])
        assert np.array_equal(wire.decode(reply["changed"]["0"]), [2, 2])
        proxy = judge.Proxy(channel, "f", deadline=float("inf"))
        data = np.zeros(3)
        assert np.array_equal(proxy(data), [2, 2, 2]) and np.array_equal(data, [1, 1, 1])
    finally:
        channel.send({"op": "stop"})
        proc.wait(timeout=30)
    assert proc.returncode == 0
