"""The grader's code inside a learner's kernel (grading, book/grading.md).

After the notebook's cells have run, the sandbox driver (:mod:`.driver`) creates one
:class:`Answers` in the kernel and asks it, one JSON request at a time, what a name holds
(``describe``), to call the learner's function on plain-data arguments (``call``), or, for
the few exercises whose answers cannot travel as plain data, to run the check here
(``check``, the weaker path). Everything it returns is plain data (:mod:`.wire`). Nothing in
this module decides a grade on the trusted path: the kernel is the learner's, so whatever it
answers is treated as the learner's answer.
"""

from __future__ import annotations

import copy
import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout

from course_utils.checks.core import learner_line, same_value
from course_utils.grading.agent import wire

ERROR_TYPE_LIMIT = 100
ERROR_LIMIT = 1000
HANDLE_PREFIX = "#function "  # a target naming a function an answer returned


class _Capped(io.StringIO):
    """Keeps the first few thousand characters printed, drops the rest."""

    def write(self, text):
        if self.tell() < 4000:
            super().write(str(text)[:4000])
        return len(text)


def error_info(err: BaseException) -> dict:
    """An exception as plain data: its type name, message and place, all capped."""
    try:
        message = str(err)
    except Exception:  # a hostile __str__
        message = "(unprintable)"
    return {"type": str(type(err).__name__)[:ERROR_TYPE_LIMIT], "message": message[:ERROR_LIMIT],
            "where": learner_line(err.__traceback__)[:300]}


WATCHED = ("builtins", "numpy", "numpy.linalg", "numpy.random", "math", "copy", "signal", "threading",
           "traceback", "json", "time", "os", "io", "contextlib", "importlib", "types", "functools", "operator",
           "inspect", "torch", "torch.nn", "torch.nn.functional", "keras", "keras.ops", "scipy.special")
#: NumPy functions the checks compare with: the modules that define them are watched too (a name
#: replaced there changes them), found from the functions, whatever NumPy calls its internals.
NUMPY_COMPARISONS = ("allclose", "isclose", "array_equal", "sum", "mean")


def watched_modules() -> list[str]:
    """The imported modules whose names :func:`tampering` reads."""
    import inspect

    names = [m for m in WATCHED if m in sys.modules]
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        defining = {inspect.unwrap(getattr(numpy, f)).__globals__["__name__"] for f in NUMPY_COMPARISONS}
        names += sorted(defining - set(names))
    return names + [m for m in list(sys.modules) if m == "course_utils" or m.startswith("course_utils.")]


def from_notebook(obj) -> bool:
    """True for an object the notebook defined (its functions, lambdas, classes, instances)."""
    import functools
    import types

    try:
        if isinstance(obj, functools.partial):
            obj = obj.func
        if isinstance(obj, types.MethodType):
            obj = obj.__func__
        if isinstance(obj, types.FunctionType):
            filename = obj.__code__.co_filename
            return (obj.__module__ in ("__main__", None) or "ipykernel_" in filename
                    or filename.startswith(("<ipython-input", "<string>")))
        if isinstance(obj, type):
            return obj.__module__ == "__main__"
        return type(obj).__module__ == "__main__"
    except Exception:
        return True


def tampering() -> list[str]:
    """Names in library and course modules that now hold the notebook's own objects (the
    weaker path refuses to judge then: the check would run on the notebook's code)."""
    found = []
    for module_name in watched_modules():
        try:
            items = list(vars(sys.modules[module_name]).items())
        except TypeError:
            continue
        for attr, value in items:
            if from_notebook(value):
                found.append(f"{module_name}.{attr}")
    return found


class Answers:
    """Serves the grader's requests on the names a notebook defined."""

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.handles: list = []  # functions an answer returned, called by number

    def _handle(self, func) -> int:
        self.handles.append(func)
        return len(self.handles) - 1

    def handle(self, request_text: str) -> str:
        """One request (JSON text) in, one reply (JSON text) out; never raises."""
        try:
            request = json.loads(request_text)
            op = request.get("op")
            if op == "describe":
                reply = self.describe(request["target"])
            elif op == "call":
                reply = self.call(request["target"], request.get("args", []), request.get("kwargs", {}))
            elif op == "check":
                reply = self.check(request["exercise"], request["target"])
            elif op == "load":
                reply = self.load(str(request["module"]), str(request["chapter"]), str(request["source"]))
            else:
                reply = {"ok": False, "error": {"type": "BadRequest", "message": str(op)[:100], "where": ""}}
        except BaseException as err:  # noqa: B036 - the reply must always come back
            reply = {"ok": False, "error": error_info(err)}
        try:
            return json.dumps(reply)
        except (TypeError, ValueError) as err:
            return json.dumps({"ok": False, "error": {"type": "Unreadable", "message": str(err)[:200], "where": ""}})

    def describe(self, target: str) -> dict:
        """What the notebook holds under ``target``: missing, a callable, or plain data."""
        if target not in self.namespace:
            return {"ok": True, "kind": "missing"}
        value = self.namespace[target]
        if callable(value):
            return {"ok": True, "kind": "callable", "type": type(value).__name__[:ERROR_TYPE_LIMIT]}
        try:
            return {"ok": True, "kind": "value", "value": wire.encode(value, tensors=True)}
        except wire.Uncarriable:
            return {"ok": True, "kind": "opaque", "type": type(value).__name__[:ERROR_TYPE_LIMIT]}

    def call(self, target: str, args, kwargs) -> dict:
        """Call the learner's ``target`` on decoded arguments; return its result as plain data,
        and the arguments it changed in place (the grader applies the changes to its copies)."""
        import numpy as np

        if target.startswith(HANDLE_PREFIX):
            func = self.handles[int(target[len(HANDLE_PREFIX):])]
        else:
            func = self.namespace.get(target)
        args = wire.decode(args)
        kwargs = wire.decode(kwargs)
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ValueError("bad arguments")
        before = [copy.deepcopy(a) for a in args]
        out = _Capped()
        try:
            with redirect_stdout(out), redirect_stderr(out), np.errstate(all="ignore"):
                value = func(*args, **kwargs)
                encoded = wire.encode(value, iterators=True, tensors=True, handle=self._handle)
        except wire.Uncarriable as err:
            return {"ok": False, "error": {"type": "UnreadableResult", "where": "",
                                           "message": f"it returned {err}, which is not plain data"}}
        except BaseException as err:  # noqa: B036 - SystemExit and KeyboardInterrupt are answers too
            return {"ok": False, "error": error_info(err)}
        changed = {}
        for index, (old, new) in enumerate(zip(before, args, strict=True)):
            # reported unless shown equal: a change the grader misses would hide an in-place write
            if isinstance(new, np.random.Generator) or (isinstance(new, (np.ndarray, list, dict))
                                                        and same_value(old, new) is not True):
                try:
                    changed[str(index)] = wire.encode(new)
                except wire.Uncarriable:
                    pass
        return {"ok": True, "value": encoded, "changed": changed}

    def load(self, module_name: str, chapter: str, source: str) -> dict:
        """The weaker path: the chapter's checks, sent by the grader once every exercise it
        judges itself has its verdict (so that no answer could use them)."""
        import types

        from course_utils.authoring.chapters import exercise_chapter
        from course_utils.checks import REGISTRY

        for key in [k for k in list(REGISTRY) if exercise_chapter(str(k)) == chapter]:  # by id: the
            del REGISTRY[key]  # notebook may have put anything there
        module = types.ModuleType(module_name)
        module.__file__ = f"<{module_name}>"
        sys.modules[module_name] = module
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        return {"ok": True}

    def check(self, exercise_id: str, target: str) -> dict:
        """The weaker path: run the chapter's check here, in the learner's kernel."""
        from course_utils.checks import REGISTRY, CheckFailed

        chk = REGISTRY[exercise_id]
        if target not in self.namespace:
            return {"ok": True, "status": "fail", "message": f"`{target}` is not defined in the notebook"}
        replaced = tampering()
        if replaced:
            return {"ok": True, "status": "error", "message": "not graded: the notebook replaced "
                    + ", ".join(replaced[:5]) + " (the grader refuses a notebook that changes the libraries "
                    "its checks use)"}
        out = _Capped()
        try:
            with redirect_stdout(out), redirect_stderr(out):
                message = chk.verdict(self.namespace[target])
            replaced = tampering()
            if replaced:
                return {"ok": True, "status": "error", "message": "not graded: during the check the answer "
                        "replaced " + ", ".join(replaced[:5])}
            return {"ok": True, "status": "pass", "message": message}
        except CheckFailed as err:
            text = str(err)
            prefix = exercise_id + ": "
            return {"ok": True, "status": "fail", "message": text[len(prefix):] if text.startswith(prefix) else text}
        except BaseException as err:  # noqa: B036
            info = error_info(err)
            return {"ok": True, "status": "error", "message": f"the check raised {info['type']}: {info['message']}"}


def install(namespace_name: str = "_course_grader") -> None:
    """Create the :class:`Answers` object in the running IPython kernel (called by the driver)."""
    from IPython import get_ipython

    ip = get_ipython()
    for event in list(ip.events.callbacks):
        ip.events.callbacks[event] = []
    ip.ast_transformers[:] = []
    sys.settrace(None)
    sys.setprofile(None)
    ip.user_ns[namespace_name] = Answers(ip.user_ns)
