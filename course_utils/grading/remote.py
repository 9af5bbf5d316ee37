"""The grader's stand-ins for what a notebook defined (grading, book/grading.md).

A check runs in the grader's process on stand-ins; every stand-in does its work in the
learner's sandbox, through the agent (:mod:`.agent.answers`), with plain data only:

- a function becomes a :class:`Proxy`; a class, an object, a generator or an iterator the
  notebook made becomes a stand-in that forwards calls, attribute reads, operators and
  ``next`` (:class:`RemoteObject`, :func:`remote_class`);
- a PyTorch module arrives as a description (:mod:`.agent.bridge`) and is rebuilt here: a
  module of ``torch.nn`` from its settings, which the grader computes itself and compares,
  on every forward call, with what the notebook's module computes on the same inputs (a
  description that lies fails); any other module as a mirror whose forward runs in the
  sandbox, with the mirror's state (values, modes) sent before and read back after;
- a Keras model of ``keras.layers`` is rebuilt and compared with the notebook's on salted
  inputs; a Keras initialiser is rebuilt from its settings;
- a tensor computed in the sandbox from tensors the check sent with ``requires_grad`` joins
  the check's autograd graph; its backward asks the sandbox;
- what the check hands the answer goes the other way: arrays and tensors as data, its
  modules, optimisers and loaders as descriptions (their state read back after the call),
  and its functions (an objective, an activation, a gradient) as callbacks the sandbox calls
  back, which run here.

What a notebook cannot fake: any value a check compares (it is computed or recomputed here).
What it can: the *method* behind a value, observed in the sandbox on request
(``core.remote_watch``: the modules an answer calls, the lines it runs, the helpers it
uses), which is the notebook's testimony.
"""

from __future__ import annotations

import re
import threading
import time

import numpy as np

from course_utils.grading.agent import bridge, wire
from course_utils.grading.agent.job import cap
from course_utils.grading.sandbox import SandboxError

SAFE_EXCEPTIONS = ("ArithmeticError", "AssertionError", "AttributeError", "EOFError", "FloatingPointError",
                   "IndexError", "KeyError", "LookupError", "MemoryError", "NameError", "NotImplementedError",
                   "OverflowError", "RecursionError", "RuntimeError", "StopIteration", "TypeError",
                   "UnboundLocalError", "ValueError", "ZeroDivisionError")
VERIFY_RTOL, VERIFY_ATOL = 1e-4, 1e-5  # a rebuilt model against the notebook's: float32 arithmetic
STOCHASTIC = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "RReLU")


class KernelLost(BaseException):
    """The sandbox died or hung while an answer was being judged."""


class CannotSend(BaseException):
    """The check handed the answer something the grader cannot send into the sandbox (a gap in
    the grader, never the learner's fault: the exercise is reported ``error``)."""


class Cancelled(BaseException):
    """A call made after its check was over (by a thread the check gave up on)."""


class Untrue(BaseException):
    """What the sandbox described is not what it computes (the exercise fails)."""


def remote_exception(info: dict) -> BaseException:
    """An exception standing for the one the learner's code raised in the sandbox: the
    builtin of that name for the ones checks treat specially, else a new class of that name."""
    import builtins

    name = re.sub(r"\W", "_", str(info.get("type", "Error")))[:100] or "Error"
    if name[0].isdigit():
        name = "_" + name
    message = cap(info.get("message", ""), 1000) + cap(info.get("where", ""), 300)
    cls = getattr(builtins, name) if name in SAFE_EXCEPTIONS else type(name, (Exception,), {"__module__": "learner"})
    return cls(message)


class _Call:
    """One exchange: its memo (identity across its messages) and its tensors requiring grad."""

    def __init__(self):
        self.memo = wire.Memo()
        self.grad_inputs: list = []  # (number, tensor) of the sandbox's tensors in a callback
        self.depth = 0
        self.top_modules: list = []  # modules decoded at the top (verified, when standard)


class Session:
    """The grader's side of one notebook: its link to the agent, the stand-ins of the
    notebook's objects (by handle), the grader's functions the sandbox may call back."""

    def __init__(self, link, deadline: float = float("inf")):
        self.link = link
        self.deadline = deadline
        self.stand_ins: dict = {}  # handle -> stand-in (or the grader's object the sandbox holds a copy of)
        self.linked: dict = {}  # handle -> the grader's module, optimiser or loader the sandbox holds a copy of
        self.handles: dict = {}  # id(stand-in) -> handle
        self.callbacks: list = []  # the grader's functions, by number
        self.callback_numbers: dict = {}
        self.graphs: list = []  # (output, inputs) of callbacks the sandbox may back-propagate through
        self.lock = threading.RLock()
        self.cancelled = False  # the check is over: a call it left behind may not go on

    # -- requests
    def timeout(self) -> float:
        return max(1.0, self.deadline - time.monotonic())

    def request(self, op: str, **fields) -> dict:
        if self.cancelled:
            raise Cancelled()
        try:
            reply = self.link.request(op, self.timeout(), on_callback=self.run_callback, **fields)
        except SandboxError as err:
            raise KernelLost(str(err)) from None
        if not isinstance(reply, dict):
            raise KernelLost("the sandbox sent an unreadable reply")
        if not reply.get("ok"):
            error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            if error.get("type") in ("KernelDied", "NotReady") or reply.get("dead"):
                raise KernelLost(cap(error.get("message", "the kernel died"), 200))
            if error.get("type") == "Timeout":
                raise KernelLost("the kernel hung")
        return reply

    def call(self, op: str, target, args=(), kwargs=None, *, observe=None, report=None, apply_synced=True,
             **fields):
        """Run ``op`` on the notebook's ``target`` (a name or a handle) in the sandbox; the
        result here, with the arguments' changes applied and the observations reported."""
        call = _Call()
        hook = self._out(call)
        sync = [handle for handle in self.linked if handle != target]
        if isinstance(target, int) and op == "call" and bridge.state_of(self.stand_ins.get(target))[0]:
            sync.append(target)
        try:
            payload = {"args": wire.encode(list(args), hook=hook, memo=call.memo),
                       "kwargs": wire.encode(dict(kwargs or {}), hook=hook, memo=call.memo),
                       "sync": [[h, *self._state(self.stand_ins[h])] for h in sync]}
        except wire.Uncarriable as err:
            raise CannotSend(f"the check handed the answer {err}, which the grader cannot send") from None
        sent = list(call.memo.objects)
        if observe:
            payload["observe"] = observe
        shared = _shared_random()
        if shared is not None:  # inside the check's seeded_global_random: the kernel draws from the same states
            payload["random"] = wire.encode(shared)
        reply = self.request(op, target=target, **payload, **fields)
        if not reply.get("ok"):
            raise remote_exception(reply.get("error") if isinstance(reply.get("error"), dict) else {})
        if reply.get("stop"):
            raise StopIteration
        try:
            value = wire.decode(reply.get("value"), hook=self._into(call), memo=call.memo)
            self._write_back(args, sent, reply)
            for entry in reply.get("synced") or []:
                handle, kind, state = entry
                if handle in sync and (apply_synced or handle != target):
                    bridge.apply(self.stand_ins[handle], kind, wire.decode(state))
            if shared is not None and isinstance(reply.get("random"), (dict, list)):
                shared["states"] = wire.decode(reply["random"])
            for number, handle in reply.get("linked") or []:
                if isinstance(number, int) and 0 <= number < len(sent) and isinstance(handle, int) \
                        and bridge.state_of(sent[number])[0] is not None:
                    self._remember(handle, sent[number])
                    self.linked[handle] = sent[number]
        except (ValueError, TypeError, KeyError, RecursionError) as err:
            raise remote_exception({"type": "UnreadableResult",
                                    "message": f"the result was not plain data ({cap(err, 100)})"}) from None
        for module in call.top_modules:
            self._verify(module)
        if report is not None:
            report(reply.get("observed") if isinstance(reply.get("observed"), dict) else {})
        return value

    @staticmethod
    def _state(obj) -> list:
        kind, state = bridge.state_of(obj)
        return [kind, wire.encode(state)]

    def _write_back(self, args, sent, reply) -> None:
        changed = reply.get("changed") or {}
        for index, data in (changed.items() if isinstance(changed, dict) else ()):
            if str(index).isdigit() and int(index) < len(args):
                _write_back(args[int(index)], wire.decode(data))
        for number, kind, state in reply.get("states") or []:
            if isinstance(number, int) and 0 <= number < len(sent):
                bridge.apply(sent[number], kind, wire.decode(state))

    # -- the grader's objects, out to the sandbox
    def _out(self, call: _Call):
        def hook(value, enc):
            handle = self.handles.get(id(value))
            if handle is not None and self.stand_ins.get(handle) is value:
                body = {"n": handle}
                kind, state = bridge.state_of(value)
                if kind is not None:
                    body.update(kind=kind, state=enc.plain(state))
                return {"__ref__": body}
            if bridge.is_tensor(value):
                return bridge.encode_tensor(value, enc, self._graph(call, value))
            if bridge.is_module(value):
                hooks = [["pre", self.callback_number(h)] for h in value._forward_pre_hooks.values()]
                hooks += [["post", self.callback_number(h)] for h in value._forward_hooks.values()]
                return bridge.describe_module(value, enc, {"callback": self.callback_number(value)}, hooks)
            if bridge.is_optimizer(value):
                return bridge.describe_optimizer(value, enc)
            if bridge.is_loader(value):
                return bridge.describe_loader(value, enc)
            if callable(value) and not isinstance(value, type):
                return {"__callback__": {"n": self.callback_number(value),
                                         "name": str(getattr(value, "__name__", "callback"))[:100]}}
            return None

        return hook

    def callback_number(self, func) -> int:
        with self.lock:
            number = self.callback_numbers.get(id(func))
            if number is None or self.callbacks[number] is not func:
                self.callbacks.append(func)
                number = self.callback_numbers[id(func)] = len(self.callbacks) - 1
            return number

    def _graph(self, call: _Call, tensor):
        if not (tensor.requires_grad and tensor.grad_fn is not None and call.grad_inputs):
            return None
        with self.lock:
            self.graphs.append((tensor, [t for _, t in call.grad_inputs]))
            number = len(self.graphs) - 1
        return {"n": number, "inputs": [n for n, _ in call.grad_inputs]}

    # -- the notebook's objects, in from the sandbox
    def _into(self, call: _Call):
        def hook(tag, body, dec, number):
            if tag == "__remote__":
                return self.stand_in(body)
            if tag == "__tensor__":
                tensor = bridge.decode_tensor(body, dec)
                graph = body.get("graph") if isinstance(body, dict) else None
                if isinstance(graph, dict):
                    return self._attach(call, tensor, graph, bridge.graph_saved(graph, dec))
                if tensor.requires_grad:
                    call.grad_inputs.append((number, tensor))
                return tensor
            if tag == "__module__":
                handle = body.get("handle") if isinstance(body, dict) else None
                if not isinstance(handle, int) or isinstance(handle, bool):
                    raise ValueError("a module without a handle")
                call.depth += 1
                try:
                    module = bridge.rebuild_module(body, dec, self._mirror_forward)
                finally:
                    call.depth -= 1
                known = self.stand_ins.get(handle)
                if bridge.is_module(known):  # met before: the same stand-in, with the values sent now
                    bridge.copy_direct(known, module)
                    return known
                self._remember(handle, module)
                if call.depth == 0 and not bridge.is_mirror(module):
                    call.top_modules.append(module)
                return module
            if tag == "__keras__":
                handle = body.get("handle") if isinstance(body, dict) else None
                if isinstance(handle, int) and handle in self.stand_ins:
                    return self.stand_ins[handle]
                model = bridge.rebuild_keras(body, dec)
                if isinstance(handle, int):
                    self._remember(handle, model)
                    if body.get("kind") == "model":
                        self._verify_keras(model, handle, body)
                return model
            raise ValueError(f"unknown tag {str(tag)[:40]!r}")

        return hook

    def _remember(self, handle: int, obj) -> None:
        with self.lock:
            self.stand_ins[handle] = obj
            self.handles[id(obj)] = handle

    def _attach(self, call: _Call, value, graph: dict, saved=()):
        objects = call.memo.objects
        inputs = [objects[n] for n in graph.get("inputs", []) if isinstance(n, int) and not isinstance(n, bool)
                  and 0 <= n < len(objects) and bridge.is_tensor(objects[n])]
        number = graph.get("n")

        def vjp(grad):
            return self.call("vjp", None, [grad], graph=number)

        return bridge.attach_graph(value, inputs, vjp, graph.get("grad_fn"), saved)

    def stand_in(self, body):
        """The stand-in of a notebook's object (one per handle)."""
        if not isinstance(body, dict) or not isinstance(body.get("n"), int) or isinstance(body.get("n"), bool):
            raise ValueError("bad handle")
        handle = body["n"]
        with self.lock:
            if handle in self.stand_ins:
                return self.stand_ins[handle]
        kind = body.get("kind")
        name = re.sub(r"\W", "_", str(body.get("name") or "answer"))[:100] or "answer"
        bases = [str(b) for b in body.get("bases", []) if isinstance(b, str)] if isinstance(body.get("bases"),
                                                                                          list) else []
        if kind == "function":
            made = Proxy(self, handle, name)
        elif kind == "class":
            made = remote_class(self, handle, name, bases)
        elif kind == "generator":
            made = _remote_generator(self, handle)
        elif kind in ("iterator", "object"):
            cls_handle = body.get("class")
            type_name = re.sub(r"\W", "_", str(body.get("type") or "object"))[:100] or "object"
            cls = remote_class(self, cls_handle if isinstance(cls_handle, int) else None, type_name, bases,
                               iterator=kind == "iterator")
            made = object.__new__(cls if isinstance(cls, RemoteClassMeta) else _instance_class(kind == "iterator"))
            object.__setattr__(made, "_course_session", self)
            object.__setattr__(made, "_course_handle", handle)
        else:
            raise ValueError("bad handle kind")
        self._remember(handle, made)
        return made

    def _mirror_forward(self, body):
        handle = body.get("handle")

        def forward(module, args, kwargs):
            return self.call("call", handle, args, kwargs)

        return forward

    # -- checking a description against the notebook's own computation
    def _verify(self, module) -> None:
        """From now on, every forward call of a rebuilt ``torch.nn`` model is computed here and
        compared with the notebook's."""
        cls = type(module)
        if getattr(cls, "_course_verified", False):
            return
        module.__class__ = _verified_class(cls)
        object.__setattr__(module, "_course_session", self)

    def _verify_keras(self, model, handle: int, body) -> None:
        from course_utils.checks.core import seeded_rng

        shape = [int(s) if isinstance(s, int) else 3 for s in (model.input_shape or [None])[1:]]
        x = seeded_rng(8_500_001).normal(size=(4, *shape)).astype("float32")
        local = np.asarray(model(x))
        remote = _as_array(self.call("call", handle, [x]))
        if remote is None or remote.shape != local.shape or not np.allclose(remote, local, rtol=VERIFY_RTOL,
                                                                            atol=VERIFY_ATOL * 10):
            raise Untrue(f"the Keras model the notebook returned ({cap(body.get('name', 'a model'), 60)}) does not "
                         "compute what its layers and weights say it computes")

    def run_callback(self, message: dict) -> dict:
        """The sandbox calls one of the grader's functions back (it runs here): its reply."""
        call = _Call()
        module = None
        try:
            args = wire.decode(message.get("args", []), hook=self._into(call), memo=call.memo)
            kwargs = wire.decode(message.get("kwargs", {"__dict__": []}), hook=self._into(call), memo=call.memo)
            if not isinstance(args, list) or not isinstance(kwargs, dict) or \
                    not all(isinstance(k, str) for k in kwargs):
                raise ValueError("bad arguments")
            if "vjp" in message:
                graph = message["vjp"]
                if not isinstance(graph, int) or not 0 <= graph < len(self.graphs) or len(args) != 1:
                    raise ValueError("no such graph")
                output, inputs = self.graphs[graph]
                value = bridge.vector_jacobian(output, inputs, args[0])
            else:
                number = message.get("callback")
                if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < len(self.callbacks):
                    raise ValueError("no such callback")
                func = self.callbacks[number]
                if message.get("hook") in ("pre", "post"):  # a check's hook on a module the sandbox runs
                    import torch

                    owner = message.get("module")
                    if not isinstance(owner, int) or not 0 <= owner < len(self.callbacks):
                        raise ValueError("no such module")
                    with torch.set_grad_enabled(message.get("grad_enabled") is True):
                        value = func(self.callbacks[owner], *[tuple(a) if i == 0 else a for i, a in enumerate(args)])
                    return {"ok": True, "value": wire.encode(value, hook=self._out(call), memo=call.memo)}
                if message.get("state") is not None:  # the forward of a check's module the sandbox holds
                    if not bridge.is_module(func):
                        raise ValueError("not a module")
                    module = func
                    bridge.apply_state(module, wire.decode(message["state"]))
                value = func(*args, **kwargs)
            reply = {"ok": True, "value": wire.encode(value, hook=self._out(call), memo=call.memo)}
            if module is not None:
                reply["state"] = wire.encode(bridge.module_state(module))
            return reply
        except (KernelLost, CannotSend, Untrue):
            raise
        except BaseException as err:  # noqa: B036 - the sandbox waits for an answer
            return {"ok": False, "error": {"type": type(err).__name__[:100], "message": cap(err, 500)}}


def _shared_random():
    from course_utils.checks.core import shared_random

    return shared_random()


def _as_array(value):
    try:
        return np.asarray(value.detach().numpy() if hasattr(value, "detach") else value, dtype=float)
    except Exception:
        return None


def _write_back(original, new) -> None:
    """Apply an in-place change the learner's function made to an argument, so that the
    check sees it as before (``call`` reports such changes)."""
    try:
        if isinstance(original, np.random.Generator) and isinstance(new, np.random.Generator):
            original.bit_generator.state = new.bit_generator.state
        elif isinstance(original, np.ndarray) and isinstance(new, np.ndarray) and original.flags.writeable:
            if new.shape == original.shape:
                np.copyto(original, new, casting="unsafe")
            else:
                original.flat[:] = 0  # shape changed in place (resize): certainly not the original
        elif isinstance(original, list) and isinstance(new, list):
            original[:] = new
        elif isinstance(original, dict) and isinstance(new, dict):
            original.clear()
            original.update(new)
    except (TypeError, ValueError):
        pass


# --------------------------------------------------------------------------- stand-ins


class _Watched:
    """While active, every call of a :class:`Proxy` is observed in the sandbox."""

    def __init__(self, proxy, what, report):
        self.proxy, self.entry = proxy, (what, report)

    def __enter__(self):
        with self.proxy._watch_lock:
            self.proxy._watches.append(self.entry)
        return self

    def __exit__(self, *exc):
        with self.proxy._watch_lock:
            if self.entry in self.proxy._watches:
                self.proxy._watches.remove(self.entry)
        return False


class Proxy:
    """The learner's function, called across the sandbox boundary with plain data."""

    def __init__(self, session: Session, target, name: str | None = None):
        self._session = session
        self._target = target
        self.__name__ = self.__qualname__ = name or str(target)
        self._watches: list = []
        self._watch_lock = threading.Lock()

    def __repr__(self):
        return f"<your function {self.__name__}>"

    def __course_watch__(self, what: dict, report):
        return _Watched(self, what, report)

    def __call__(self, *args, **kwargs):
        with self._watch_lock:
            watches = list(self._watches)
        observe, reports = {}, []
        for what, report in watches:
            for key, value in what.items():
                if key in observe and isinstance(value, list):
                    observe[key] = list(dict.fromkeys([*observe[key], *value]))
                else:
                    observe[key] = value
            reports.append(report)

        def report_all(observed):
            for report in reports:
                report(observed)

        return self._session.call("call", self._target, args, kwargs, observe=observe or None,
                                  report=report_all if reports else None)

    def __get__(self, instance, owner=None):  # a stand-in stored on a class stays a plain function
        return self


def _remote_generator(session: Session, handle: int):
    def pull():
        while True:
            try:
                value = session.call("next", handle)
            except StopIteration:
                return
            yield value

    return pull()


class RemoteObject:
    """An object the notebook made: attributes, calls, operators and iteration in the sandbox."""

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._course_session.call("getattr", self._course_handle, name=name)

    def __call__(self, *args, **kwargs):
        return self._course_session.call("call", self._course_handle, args, kwargs)

    def __repr__(self):
        return f"<your {type(self).__name__} object>"

    def __iter__(self):
        return self._op("iter")

    def _op(self, name, *other, reflected=False):
        return self._course_session.call("op", self._course_handle, list(other), operator=name, reflected=reflected)


def _binary(name):
    return (lambda self, other: self._op(name, other)), (lambda self, other: self._op(name, other, reflected=True))


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul"):
    _forward, _reflected = _binary(_name)
    setattr(RemoteObject, f"__{_name}__", _forward)
    setattr(RemoteObject, f"__r{_name}__", _reflected)
for _name in ("lt", "le", "gt", "ge"):
    setattr(RemoteObject, f"__{_name}__", _binary(_name)[0])
for _name in ("neg", "pos", "abs", "len", "float", "int"):
    setattr(RemoteObject, f"__{_name}__", (lambda name: lambda self: self._op(name))(_name))
RemoteObject.__getitem__ = lambda self, key: self._op("getitem", key)


class _RemoteIterator(RemoteObject):
    def __next__(self):
        return self._course_session.call("next", self._course_handle)

    def __iter__(self):
        return self


def _instance_class(iterator: bool):
    return _RemoteIterator if iterator else RemoteObject


class RemoteClassMeta(type):
    """The type of a stand-in for a class the notebook defined: calling it makes an instance
    in the sandbox; its attributes are read there."""

    def __call__(cls, *args, **kwargs):
        if cls._course_handle is None:
            raise TypeError(f"{cls.__name__} cannot be called here")
        return cls._course_session.call("call", cls._course_handle, args, kwargs)

    def __getattr__(cls, name):
        if name.startswith("__") and name.endswith("__") or cls.__dict__.get("_course_handle") is None:
            raise AttributeError(name)
        return cls._course_session.call("getattr", cls._course_handle, name=name)

    def __repr__(cls):
        return f"<your class {cls.__name__}>"


#: Library classes a stand-in may claim as its bases (checks test ``isinstance`` against them):
#: the qualified name the sandbox reports, and where the grader finds the class itself.
LIBRARY_BASES = {
    "torch.optim.lr_scheduler.LRScheduler": ("torch.optim.lr_scheduler", "LRScheduler"),
    "torch.optim.optimizer.Optimizer": ("torch.optim", "Optimizer"),
    "keras.src.initializers.initializer.Initializer": ("keras.initializers", "Initializer"),
}


class _Forwarding:
    """Every attribute read in the sandbox, including those its library base class defines
    (a stand-in that claims ``torch.optim.lr_scheduler.LRScheduler`` steps the notebook's)."""

    def __getattribute__(self, name):
        if name.startswith(("_course_", "__")) or name == "_op":
            return object.__getattribute__(self, name)
        return object.__getattribute__(self, "_course_session").call(
            "getattr", object.__getattribute__(self, "_course_handle"), name=name)


def _library_bases(bases: list[str]) -> tuple:
    import importlib

    found = []
    for base in bases:
        if base in LIBRARY_BASES:
            module, attribute = LIBRARY_BASES[base]
            if base.startswith("keras"):
                from course_utils.frameworks import require_framework

                require_framework("keras")
            cls = getattr(importlib.import_module(module), attribute)
            if cls not in found:
                found.append(cls)
    return tuple(found)


def remote_class(session: Session, handle, name: str, bases: list[str], iterator: bool = False):
    """The stand-in for a class the notebook defined (one per handle), with the library base
    classes a check tests for (:data:`LIBRARY_BASES`), whose attributes are then read in the
    sandbox too; a subclass of ``torch.autograd.Function`` gets an ``apply`` that runs there
    and joins the result to the check's autograd graph."""
    if handle is not None:
        with session.lock:
            if handle in session.stand_ins:
                return session.stand_ins[handle]
    if any(b == "torch.autograd.function.Function" for b in bases) and handle is not None:
        made = _function_class(session, handle, name)
    else:
        libraries = _library_bases(bases)
        parents = (_Forwarding,) if libraries else ()
        parents += (_RemoteIterator if iterator else RemoteObject, *libraries)
        made = RemoteClassMeta(name, parents, {"__module__": "learner", "_course_handle": handle,
                                               "_course_session": session})
    if handle is not None:
        session._remember(handle, made)
    return made


def _function_class(session: Session, handle: int, name: str):
    import torch

    def apply(cls, *args, **kwargs):
        method = session.call("getattr", handle, name="apply")
        return method(*args, **kwargs)

    def forward(ctx, *args, **kwargs):
        raise RuntimeError(f"{name}.forward runs in your notebook: call {name}.apply")

    return type(name, (torch.autograd.Function,), {"apply": classmethod(apply), "forward": staticmethod(forward),
                                                   "backward": staticmethod(forward), "__module__": "learner"})


_VERIFIED: dict = {}


def _verified_class(cls):
    """``cls`` (a class of ``torch.nn``) whose forward is computed here and compared with the
    notebook's module on the same inputs."""
    if cls not in _VERIFIED:
        def forward(self, *args, **kwargs):
            session = self.__dict__.get("_course_session")
            stochastic = self.training and any(type(m).__name__ in STOCHASTIC and m.training for m in self.modules())
            if session is None or stochastic:
                return cls.forward(self, *args, **kwargs)
            handle = session.handles.get(id(self))
            remote = session.call("call", handle, args, kwargs, apply_synced=False)
            local = cls.forward(self, *args, **kwargs)
            mine, theirs = _as_array(local), _as_array(remote)
            if mine is None or theirs is None or mine.shape != theirs.shape or not np.allclose(
                    mine, theirs, rtol=VERIFY_RTOL, atol=VERIFY_ATOL * max(1.0, float(np.abs(mine).max(initial=0)))):
                raise Untrue(f"the {cls.__name__} your notebook returned does not compute what its layers, "
                             "weights and settings say it computes")
            return local

        _VERIFIED[cls] = type(cls.__name__, (cls,), {"forward": forward, "_course_verified": True,
                                                     "__module__": cls.__module__})
    return _VERIFIED[cls]


def describe_answer(session: Session, target: str):
    """The stand-in of what the notebook holds under ``target``: ``(found, value)``."""
    reply = session.request("describe", target=target)
    if not reply.get("ok"):
        error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
        raise KernelLost(cap(error.get("message") or error.get("type", "no answer"), 200))
    if not reply.get("found"):
        return False, None
    if "unreadable" in reply:
        return True, _Unreadable(cap(reply["unreadable"], 200))
    call = _Call()
    try:
        value = wire.decode(reply.get("value"), hook=session._into(call), memo=call.memo)
    except (ValueError, TypeError, KeyError, RecursionError) as err:
        return True, _Unreadable(f"not plain data ({cap(err, 100)})")
    for module in call.top_modules:
        session._verify(module)
    return True, value


class _Unreadable:
    """What stands for an answer the sandbox could not describe."""

    def __init__(self, why: str):
        self.why = why

    def __repr__(self):
        return f"<an answer the grader cannot read: {self.why}>"
