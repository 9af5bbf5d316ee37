"""Hostile submissions for the grader's tests: one or more per class of attack (book/grading.md).

Each entry: the class of attack, the notebook it starts from (``solution`` or ``exercise``),
the code cell appended to it (``{victim}``, ``{report}``, ``{marker}`` and ``{package}`` are
filled in by the test) and the statuses the grader must give. An attack on an untouched
exercise that gets anything but ``fail`` fooled the grader; the harm checks (files, other
learners, processes left, the report) are asserted by the tests themselves.
"""

from course_utils.checks import checks_for

EXERCISES = sorted(checks_for("00"))  # every exercise of the chapter-00 notebooks graded here
PASS_ALL = dict.fromkeys(EXERCISES, "pass")
FAIL_ALL = dict.fromkeys(EXERCISES, "fail")
ERROR_ALL = dict.fromkeys(EXERCISES, "error")

# -- the checks ran inside the learner's process
NUMPY_DEEP = """
import numpy as np, numpy._core.numeric as numeric, numpy._core.fromnumeric as fromnumeric
numeric.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
numeric.allclose = np.allclose = lambda *args, **kwargs: True
numeric.array_equal = np.array_equal = lambda *args, **kwargs: True
fromnumeric.all = np.all = lambda *args, **kwargs: True
"""
LIBRARY_NAMED = """
import numpy as np
scope = dict()
exec(compile("def allclose(*args, **kwargs):\\n    return True\\n", np.__file__, "exec"), scope)
fake = scope["allclose"]
fake.__module__ = "numpy"
np.allclose = fake
import course_utils.checks.core as core
core.expect_close = lambda got, *args, **kwargs: np.asarray(got)
core.expect_equal = lambda got, *args, **kwargs: np.asarray(got)
"""
STACK_PEEK = """
import inspect
import numpy as np
def _peek():
    for frame in inspect.stack():
        for name in ("expected", "reference", "z_ref", "target"):
            if name in frame.frame.f_locals:
                return frame.frame.f_locals[name]
    return None
def weighted_sum(X, w, b):
    found = _peek()
    return found if found is not None else 0.0
def perceptron_update(w, b, x, y, lr):
    return _peek() or (w, b)
"""
AFTER_RESET = """
import sys, threading, time
import course_utils.checks.core as core
def _cheat():
    while True:
        for chk in list(core.REGISTRY.values()):
            chk.func = lambda answer: "faked"
        time.sleep(0.001)
threading.Thread(target=_cheat, daemon=True).start()
sys.addaudithook(lambda event, args: [setattr(c, "func", lambda a: "faked") for c in core.REGISTRY.values()])
"""
CHECK_SOURCE = """
import importlib
try:
    source = importlib.import_module("course_utils.checks.ch00_perceptron")
    weighted_sum = lambda X, w, b: source.np.einsum("nd,d->n", source.np.atleast_2d(X), w) + b
except ImportError as err:
    print("no check source:", err)
try:
    judge = importlib.import_module("course_utils.grading.judge")
    judge.judge_exercise = lambda *args, **kwargs: "pass"
except (ImportError, AttributeError, KeyError) as err:
    print("no grader:", err)
"""
# -- the grader's helper in the kernel rewritten: it answers every request from its own table
AGENT_REWRITE = """
import json
import numpy as np
import course_utils.grading.agent.answers as answers
from course_utils.grading.agent import wire
def reply(self, request):
    if request.get("op") == "describe":
        value = {"NAND": (np.array([-1.0, -1.0]), 1.5), "NOR": (np.array([-1.0, -1.0]), 0.5),
                 "x1 AND NOT x2": (np.array([1.0, -1.0]), -0.5)} if request.get("target") == "gate_weights" else 0
        return {"ok": True, "found": True, "value": wire.encode(value)}
    return {"ok": True, "value": wire.encode(np.zeros(3)), "changed": {}, "states": [], "linked": [],
            "synced": [], "observed": {"lines": 1, "calls_into": None, "globals": {}}}
answers.Answers.reply = reply
"""
# -- a forged channel: the driver's pipes to the grader reopened through /proc (refused: the
# driver is not dumpable), and the grader's helper replaced by one that sends a 200,000-deep
# JSON line on the driver's socket
REOPEN_PIPES = """
import os
parent = os.getppid()
try:
    fds = os.listdir(f"/proc/{parent}/fd")
except OSError as err:
    fds = []
    print("refused:", err)
for fd in fds:
    try:
        with open(f"/proc/{parent}/fd/{fd}", "wb", buffering=0) as pipe:
            pipe.write(b"[" * 200_000 + b"]" * 200_000 + b"\\n")
    except OSError as err:
        print(fd, err)
try:
    with open(f"/proc/{parent}/mem", "wb") as memory:
        print("opened the driver's memory")
except OSError as err:
    print("refused:", err)
"""
FORGE_CHANNEL = """
import json, socket
import course_utils.grading.agent.answers as answers
def serve(path, token, namespace_name="_course_grader"):
    connection = socket.socket(socket.AF_UNIX)
    connection.connect(path)
    connection.sendall(json.dumps({"op": "hello", "token": token}).encode() + b"\\n")
    connection.recv(1 << 20)
    connection.sendall(b"[" * 200_000 + b"]" * 200_000 + b"\\n")
    connection.recv(1 << 20)
answers.serve = serve
"""
CLASSMATE = """
import json
cells = json.load(open({victim!r}))["cells"]
for cell in cells:
    if cell["cell_type"] == "code":
        try:
            exec("".join(cell["source"]), globals())
        except Exception:
            pass
"""
# -- state that outlives one notebook
PERSIST = """
import os, sys, sysconfig, glob
written = []
def _try(path, text):
    try:
        with open(path, "w") as handle:
            handle.write(text)
        written.append(path)
    except OSError as err:
        print("refused:", path, err)
_try(os.path.join(sysconfig.get_paths()["purelib"], "zz_course_cheat.pth"), "import os\\n")
_try(os.path.join({package!r}, "checks", "ch00_perceptron.py"), "# cheat\\n")
for spec in glob.glob(os.path.join(sys.prefix, "share", "jupyter", "kernels", "*", "kernel.json")):
    _try(spec, "{{}}")
startup = os.path.expanduser("~/.ipython/profile_default/startup")
os.makedirs(startup, exist_ok=True)
_try(os.path.join(startup, "00-cheat.py"), "import course_utils.checks.core as c\\n")
import course_utils
_try(os.path.join(os.path.dirname(course_utils.__file__), "checks", "core.py"), "# cheat\\n")
print(written)
"""
# -- processes that escape
DAEMON = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for key in [k for k in os.environ if k.startswith("COURSE")]:
            del os.environ[key]
        os.execvp("sleep", ["sleep", "{marker}"])
    os._exit(0)
time.sleep(0.5)
"""
HOARD = """
import os, time
import numpy as np
for _ in range(4):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            block = np.ones(600 * 2**20 // 8)  # 600 MB each, outside the kernel's process tree
            time.sleep(600)
        os._exit(0)
time.sleep(8)
"""
STOP_DRIVER = """
import os, signal
os.kill(os.getppid(), signal.SIGSTOP)
"""
# -- the grader and its files within reach
REACH = """
import os, glob
for path in [{victim!r}, {report!r}]:
    try:
        os.remove(path)
        print("removed", path)
    except OSError as err:
        print("refused", path, err)
try:
    open({victim!r}, "w").write("{{}}")
except OSError as err:
    print("refused", err)
print(glob.glob("/**/*.csv", recursive=True)[:5])
"""
KILL_GRADER = """
import os, signal
for pid in range(2, 4 * 2**15):
    if pid != os.getpid():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
"""
# -- resources and reports
FLOOD = """
import sys
for _ in range(200):
    sys.stderr.write("E" * 1_000_000)
raise RuntimeError("x" * 20_000_000)
"""
BIG_NAME = """
raise type("E" * 2_000_000, (Exception,), {{}})("y" * 3_000_000)
"""

CASES = {
    # name: (class, base notebook, code, expected statuses)
    "numpy_deep": ("checks in the learner's process", "exercise", NUMPY_DEEP, FAIL_ALL),
    "library_named": ("checks in the learner's process", "exercise", LIBRARY_NAMED, FAIL_ALL),
    "stack_peek": ("checks in the learner's process", "exercise", STACK_PEEK, FAIL_ALL),
    "after_reset": ("checks in the learner's process", "exercise", AFTER_RESET, FAIL_ALL),
    "check_source": ("checks in the learner's process", "exercise", CHECK_SOURCE, FAIL_ALL),
    "agent_rewrite": ("the grader's helper rewritten", "exercise", AGENT_REWRITE, FAIL_ALL),
    "reopen_pipes": ("a forged channel", "solution", REOPEN_PIPES, PASS_ALL),
    "forge_channel": ("a forged channel", "solution", FORGE_CHANNEL, ERROR_ALL),
    "classmate": ("checks in the learner's process", "exercise", CLASSMATE, FAIL_ALL),
    "persist": ("state that outlives one notebook", "exercise", PERSIST, FAIL_ALL),
    "daemon": ("processes that escape", "solution", DAEMON, PASS_ALL),
    "hoard": ("processes that escape", "solution", HOARD, ERROR_ALL),
    "stop_driver": ("processes that escape", "solution", STOP_DRIVER, ERROR_ALL),
    "reach": ("grader and files within reach", "solution", REACH, PASS_ALL),
    "kill_grader": ("grader and files within reach", "solution", KILL_GRADER, ERROR_ALL),
    "flood": ("resources and reports", "solution", FLOOD, PASS_ALL),
    "big_name": ("resources and reports", "solution", BIG_NAME, PASS_ALL),
}
