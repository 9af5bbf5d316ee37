"""Framework objects as plain data, the same way on both sides of the sandbox (grading,
book/grading.md). Both the grader and its agent in the learner's kernel import this module.

- A PyTorch tensor travels as its values, dtype, ``requires_grad`` and whether it is a
  parameter; when it was computed from tensors the caller sent with ``requires_grad``, also
  as a *graph* number, and the caller's copy is attached to its own autograd graph by
  :class:`RemoteGraph`, whose backward asks the other side for the vector-Jacobian product.
- A PyTorch module travels as a *description*: its class, its constructor settings when it is
  a class of ``torch.nn`` (rebuilt there from those settings, on the ``meta`` device first so
  that a description cannot allocate more than the data it carries), its parameters and
  buffers (shared tensors once), its mode, its submodules, and a number that lets the other
  side call its own forward. Any other module becomes a :class:`Mirror`: the same
  submodules, parameters and buffers, and a forward that runs on the side that owns it.
- Its *state* (values, ``requires_grad``, modes), sent before and after a call, keeps the
  two copies of a module equal.
- An optimiser of ``torch.optim`` and a ``DataLoader`` over a ``TensorDataset`` travel as
  their settings and state; Keras models (sequential chains of ``keras.layers``) and Keras
  initialisers as their class, plain settings and weights. Only classes found by name in
  ``torch.nn``, ``torch.optim``, ``keras.layers`` and ``keras.initializers`` are rebuilt;
  no serialiser of a framework ever reads data from the sandbox.
"""

from __future__ import annotations

import inspect
import sys

import numpy as np

TORCH_DTYPES = {"float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool",
                "complex64", "complex128"}
KERAS_LAYERS = ("Dense", "Activation", "Dropout", "Flatten", "Reshape", "ReLU", "LeakyReLU", "Softmax", "ELU",
                "BatchNormalization", "LayerNormalization", "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D",
                "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
                "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GRU", "LSTM", "SimpleRNN", "Embedding", "Rescaling",
                "SpatialDropout2D", "ZeroPadding2D", "Add", "Identity")  # rebuilt from their settings
LARGEST_SETTING = 10**7  # an integer setting above this is not rebuilt (a mirror is made instead)
PLAIN_SETTING = (bool, int, float, str, type(None))


def torch_loaded():
    return sys.modules.get("torch")


def is_tensor(value) -> bool:
    torch = torch_loaded()
    return torch is not None and isinstance(value, torch.Tensor)


def is_module(value) -> bool:
    torch = torch_loaded()
    return torch is not None and isinstance(value, torch.nn.Module)


def is_optimizer(value) -> bool:
    torch = torch_loaded()
    return torch is not None and isinstance(value, torch.optim.Optimizer)


def is_loader(value) -> bool:
    torch = torch_loaded()
    return torch is not None and isinstance(value, torch.utils.data.DataLoader)


def is_keras(value) -> bool:
    """A Keras model or initialiser (the objects a check may take from an answer)."""
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, (keras.Model, keras.initializers.Initializer))


# --------------------------------------------------------------------------- tensors


def tensor_array(tensor) -> tuple[np.ndarray, str]:
    """The values of a tensor as a NumPy array, and the tensor's dtype name."""
    torch = torch_loaded()
    dtype = str(tensor.dtype).removeprefix("torch.")
    values = tensor.detach().cpu()
    if dtype not in TORCH_DTYPES:
        raise TypeError(f"a tensor of {dtype}")
    if dtype == "bfloat16":
        values = values.to(torch.float32)
    return values.resolve_conj().resolve_neg().numpy(), dtype


def encode_tensor(tensor, enc, graph=None) -> dict:
    array, dtype = tensor_array(tensor)
    torch = torch_loaded()
    body = {"array": enc.array(array), "dtype": dtype, "requires_grad": bool(tensor.requires_grad),
            "param": isinstance(tensor, torch.nn.Parameter)}
    if graph is not None:
        try:  # what its backward saved (ctx.save_for_backward), as plain values
            saved = [t.detach() for t in getattr(tensor.grad_fn, "saved_tensors", ())]
        except RuntimeError:  # already freed
            saved = []
        body["graph"] = {**graph, "grad_fn": type(tensor.grad_fn).__name__[:100] if tensor.grad_fn else None,
                         "saved": [{"array": enc.array(tensor_array(t)[0])} for t in saved[:16]]}
    return {"__tensor__": body}


def decode_tensor(body, dec):
    import torch

    if not isinstance(body, dict) or body.get("dtype") not in TORCH_DTYPES:
        raise ValueError("bad tensor")
    array = dec.array(body.get("array"))
    tensor = torch.from_numpy(array)
    dtype = getattr(torch, body["dtype"])
    if tensor.dtype != dtype:
        tensor = tensor.to(dtype)
    requires_grad = body.get("requires_grad") is True and (tensor.is_floating_point() or tensor.is_complex())
    if body.get("param") is True:
        return torch.nn.Parameter(tensor, requires_grad=requires_grad)
    return tensor.requires_grad_(requires_grad) if requires_grad else tensor


_GRAPH_CLASSES: dict = {}


def remote_graph(grad_fn: str | None):
    """The autograd Function that joins a value computed on the other side to this side's
    graph, named so that its ``grad_fn`` reads as the other side's did (``SoftplusBackward``)."""
    import re

    import torch

    name = re.sub(r"\W", "_", (grad_fn or "RemoteBackward").removesuffix("Backward"))[:80] or "Remote"
    name = name if not name[0].isdigit() else "_" + name
    if name not in _GRAPH_CLASSES:
        def forward(ctx, vjp, value, saved, *inputs):
            ctx.vjp = vjp
            ctx.count = len(inputs)
            ctx.save_for_backward(*saved)  # what the other side's backward saved, to be seen here
            return value.detach().clone()

        def backward(ctx, grad):
            grads = ctx.vjp(grad)
            if not isinstance(grads, (list, tuple)) or len(grads) != ctx.count:
                raise RuntimeError("the other side sent no gradient for every input")
            return (None, None, None, *grads)

        _GRAPH_CLASSES[name] = type(name, (torch.autograd.Function,), {
            "forward": staticmethod(forward), "backward": staticmethod(backward), "__module__": "remote"})
    return _GRAPH_CLASSES[name]


def attach_graph(value, inputs, vjp, grad_fn, saved=()):
    """``value`` (computed on the other side from ``inputs``) as part of this side's graph;
    ``saved``: the tensors the other side's backward saved."""
    return remote_graph(grad_fn).apply(vjp, value, tuple(saved), *inputs)


def graph_saved(graph: dict, dec) -> list:
    """The saved tensors a graph description carries."""
    import torch

    saved = graph.get("saved") or []
    if not isinstance(saved, list) or not all(isinstance(s, dict) for s in saved):
        raise ValueError("bad saved tensors")
    return [torch.from_numpy(dec.array(s.get("array"))) for s in saved]


def vector_jacobian(output, inputs, grad) -> list:
    """The gradients of ``output`` with respect to ``inputs`` for the upstream ``grad``."""
    import torch

    grads = torch.autograd.grad([output], list(inputs), [grad.to(output.dtype)], allow_unused=True,
                                retain_graph=True)
    return [None if g is None else g.detach() for g in grads]


# --------------------------------------------------------------------------- modules


def is_standard(module) -> bool:
    """True for an instance of a class of ``torch.nn`` itself (not a subclass of one)."""
    import torch

    cls = type(module)
    return getattr(torch.nn, cls.__name__, None) is cls and cls.__module__.startswith("torch.nn.")


def _init_names(cls) -> list[str]:
    try:
        parameters = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        parameters = []
    names = [p.name for p in parameters if p.name != "self"
             and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    if not names:  # torch.nn.GRU and its kin take *args, **kwargs; their settings are constants
        names = [c for c in getattr(cls, "__constants__", ()) if c != "mode"]
        if cls.__name__ in ("RNN", "RNNCell"):
            names.append("nonlinearity")
    return [n for n in names if not n.startswith("_") and n not in ("device", "dtype")]


def _plain_setting(value) -> bool:
    if isinstance(value, (tuple, list)):
        return len(value) <= 8 and all(_plain_setting(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, int):
        return isinstance(value, PLAIN_SETTING) and (not isinstance(value, str) or len(value) <= 100)
    return abs(value) <= LARGEST_SETTING


def settings(module) -> dict:
    """The constructor settings of a ``torch.nn`` module, read off its attributes."""
    import torch

    found = {}
    for name in _init_names(type(module)):
        if not hasattr(module, name):
            continue
        value = getattr(module, name)
        if name == "bias" and (value is None or isinstance(value, torch.Tensor)):
            found["bias"] = value is not None
        elif name == "proj_size" and value == 0:
            continue
        elif not isinstance(value, (torch.Tensor, torch.nn.Module)) and _plain_setting(value):
            found[name] = list(value) if isinstance(value, tuple) else value
    return found


def describe_module(module, enc, origin: dict, hooks: list | None = None) -> dict:
    """A module as a description; ``origin`` says where its forward runs (``{"handle": n}``
    on the kernel's side, ``{"callback": n}`` on the grader's); ``hooks``: its forward hooks
    as ``[kind, number]`` (``pre`` or ``post``), which run on the grader's side."""
    standard = is_standard(module)
    body = {"class": type(module).__name__[:100], "standard": standard, **origin,
            "settings": settings(module) if standard else {}, "training": bool(module.training),
            "params": [[name, None if p is None else enc.encode(p)] for name, p in module._parameters.items()],
            "buffers": [[name, None if b is None else enc.encode(b), name not in module._non_persistent_buffers_set]
                        for name, b in module._buffers.items()],
            "children": [[name, None if m is None else enc.encode(m)] for name, m in module._modules.items()]}
    if hooks:
        body["hooks"] = hooks
    return {"__module__": body}


class _MirrorBase:
    pass


_MIRRORS: dict = {}


def mirror_class(name: str):
    """A :class:`torch.nn.Module` class named like the original, whose forward runs remotely."""
    import re

    import torch

    name = re.sub(r"\W", "_", name)[:100] or "Module"
    name = name if not name[0].isdigit() else "_" + name
    if name not in _MIRRORS:
        def forward(self, *args, **kwargs):
            remote = self.__dict__.get("_course_remote")
            if remote is None:
                raise RuntimeError(f"{type(self).__name__}'s forward cannot run here")
            return remote(self, args, kwargs)

        _MIRRORS[name] = type(name, (torch.nn.Module, _MirrorBase), {"forward": forward, "__module__": "remote"})
    return _MIRRORS[name]


def is_mirror(module) -> bool:
    return isinstance(module, _MirrorBase)


def _pairs(body, key, size):
    value = body.get(key)
    if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == size and isinstance(p[0], str)
                                              for p in value):
        raise ValueError(f"bad module description ({key})")
    return value


def rebuild_module(body, dec, remote_for, hook_for=None):
    """The module a description describes. ``remote_for(body)`` gives the function that runs
    the original's forward (for mirrors), or None when there is none; ``hook_for(kind, number,
    body)`` the function that stands for one of its forward hooks."""
    import torch

    if not isinstance(body, dict) or not isinstance(body.get("class"), str):
        raise ValueError("bad module description")
    params = [(name, dec.decode(p)) for name, p in _pairs(body, "params", 2)]
    buffers = [(name, dec.decode(b), bool(persistent)) for name, b, persistent in _pairs(body, "buffers", 3)]
    children = [(name, dec.decode(m)) for name, m in _pairs(body, "children", 2)]
    for name, p in params:
        if p is not None and not isinstance(p, torch.nn.Parameter):
            raise ValueError(f"parameter {name[:40]} is not a parameter")
    for name, b, _ in buffers:
        if b is not None and not isinstance(b, torch.Tensor):
            raise ValueError(f"buffer {name[:40]} is not a tensor")
    for name, m in children:
        if m is not None and not isinstance(m, torch.nn.Module):
            raise ValueError(f"submodule {name[:40]} is not a module")
    module = _standard(body, params, buffers, children) if body.get("standard") is True else None
    if module is None:
        module = mirror_class(body["class"])()
        object.__setattr__(module, "_course_remote", remote_for(body))
    for name, p in params:
        module._parameters[name] = p
    for name, b, persistent in buffers:
        module._buffers[name] = b
        if not persistent:
            module._non_persistent_buffers_set.add(name)
    for name, m in children:
        module._modules[name] = m
    module.training = body.get("training") is True
    for entry in body.get("hooks") or []:
        if hook_for is None or not (isinstance(entry, list) and len(entry) == 2 and entry[0] in ("pre", "post")
                                    and isinstance(entry[1], int)):
            raise ValueError("bad module hook")
        stand_in = hook_for(entry[0], entry[1], body)
        (module.register_forward_pre_hook if entry[0] == "pre" else module.register_forward_hook)(stand_in)
    return module


def _standard(body, params, buffers, children):
    """A fresh ``torch.nn`` module built on the meta device from the described settings, if
    its parameters, buffers and submodules have the described names and shapes; else None."""
    import torch

    cls = getattr(torch.nn, body["class"], None)
    config = body.get("settings")
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module) and cls.__module__.startswith("torch.nn.")
            and isinstance(config, dict) and all(isinstance(k, str) and _plain_setting(v) for k, v in config.items())):
        return None
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    try:
        with torch.device("meta"):
            module = cls(**config)
    except Exception:
        return None
    shapes = {n: tuple(p.shape) for n, p in module._parameters.items() if p is not None}
    described = {n for n, _ in children}
    container = isinstance(module, (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict))
    if shapes != {n: tuple(p.shape) for n, p in params if p is not None} or \
            set(module._buffers) - {n for n, _, _ in buffers} or \
            not (set(module._modules) <= described if container else set(module._modules) == described):
        return None
    for name, b, _ in buffers:
        if b is not None and name in module._buffers and module._buffers[name] is not None \
                and tuple(module._buffers[name].shape) != tuple(b.shape):
            return None
    return module


def copy_direct(known, fresh) -> None:
    """Give ``known`` the values, ``requires_grad`` and mode of ``fresh`` (the same module,
    described again), its own tensors only (submodules are copied on their own)."""
    import torch

    for store in ("_parameters", "_buffers"):
        mine, theirs = getattr(known, store), getattr(fresh, store)
        for name, tensor in theirs.items():
            if tensor is None or mine.get(name) is None:
                continue
            with torch.no_grad():
                if mine[name].shape == tensor.shape and mine[name].dtype == tensor.dtype:
                    mine[name].copy_(tensor)
                else:
                    mine[name].data = tensor.detach().clone()
            if store == "_parameters":
                mine[name].requires_grad_(tensor.requires_grad)
    known.training = fresh.training


def module_state(module) -> dict:
    """What a call may change in a module: every tensor's values and ``requires_grad``, and
    every submodule's mode (plain data: arrays, names, flags)."""
    tensors = []
    for kind, named in (("param", module.named_parameters(remove_duplicate=False)),
                        ("buffer", module.named_buffers(remove_duplicate=False))):
        for name, tensor in named:
            array, dtype = tensor_array(tensor)
            tensors.append([name, kind, array, dtype, bool(tensor.requires_grad)])
    modes = [[name, bool(m.training)] for name, m in module.named_modules(remove_duplicate=False)]
    return {"tensors": tensors, "modes": modes}


def apply_state(module, state) -> None:
    """Make ``module`` hold ``state`` (from :func:`module_state` on the other side's copy)."""
    import torch

    if not isinstance(state, dict):
        raise ValueError("bad module state")
    found = dict(module.named_parameters(remove_duplicate=False))
    found.update(module.named_buffers(remove_duplicate=False))
    modules = dict(module.named_modules(remove_duplicate=False))
    for entry in state.get("tensors", []):
        if not (isinstance(entry, list) and len(entry) == 5 and entry[0] in found
                and isinstance(entry[2], np.ndarray) and entry[3] in TORCH_DTYPES):
            raise ValueError("bad tensor in a module state")
        name, _, array, dtype, requires_grad = entry
        tensor = found[name]
        value = torch.from_numpy(array).to(getattr(torch, dtype))
        with torch.no_grad():
            if tuple(tensor.shape) == tuple(value.shape) and tensor.dtype == value.dtype:
                tensor.copy_(value)
            else:
                tensor.data = value
        if isinstance(tensor, torch.nn.Parameter) and tensor.requires_grad != bool(requires_grad):
            tensor.requires_grad_(bool(requires_grad))
    for entry in state.get("modes", []):
        if isinstance(entry, list) and len(entry) == 2 and entry[0] in modules:
            modules[entry[0]].training = entry[1] is True


# --------------------------------------------------------------------------- optimisers and loaders


def describe_optimizer(optimizer, enc) -> dict:
    import torch

    cls = type(optimizer)
    if getattr(torch.optim, cls.__name__, None) is not cls:
        return None
    groups = []
    for group in optimizer.param_groups:
        entry = {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items()
                 if k != "params" and _plain_setting(v)}
        groups.append([enc.encode(list(group["params"])), enc.encode(entry)])
    defaults = {k: (list(v) if isinstance(v, tuple) else v) for k, v in optimizer.defaults.items()
                if _plain_setting(v)}
    return {"__optimizer__": {"class": cls.__name__, "groups": groups, "defaults": enc.encode(defaults),
                              "state": enc.encode(optimizer_state(optimizer))}}


def rebuild_optimizer(body, dec):
    import torch

    cls = getattr(torch.optim, body.get("class", ""), None) if isinstance(body, dict) else None
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise ValueError("not an optimiser of torch.optim")
    groups = []
    for pair in body.get("groups") or []:
        params, options = dec.decode(pair[0]), dec.decode(pair[1])
        if not isinstance(params, list) or not isinstance(options, dict):
            raise ValueError("bad parameter group")
        groups.append({"params": params, **{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}})
    defaults = dec.decode(body.get("defaults"))
    optimizer = cls(groups, **{k: tuple(v) if isinstance(v, list) else v for k, v in defaults.items()})
    apply_optimizer_state(optimizer, dec.decode(body.get("state")))
    return optimizer


def optimizer_state(optimizer) -> dict:
    """Its groups' settings (the learning rate a scheduler sets...) and, per parameter in
    order, its state as arrays and numbers."""
    per_parameter = []
    for group in optimizer.param_groups:
        for p in group["params"]:
            entry = {}
            for key, value in optimizer.state.get(p, {}).items():
                entry[str(key)] = tensor_array(value)[0] if is_tensor(value) else value
            per_parameter.append(entry)
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items()
               if k != "params" and _plain_setting(v)} for group in optimizer.param_groups]
    return {"groups": groups, "parameters": per_parameter}


def apply_optimizer_state(optimizer, state) -> None:
    import torch

    params = [p for group in optimizer.param_groups for p in group["params"]]
    if not isinstance(state, dict) or not isinstance(state.get("parameters"), list) \
            or len(state["parameters"]) != len(params) or not isinstance(state.get("groups"), list) \
            or len(state["groups"]) != len(optimizer.param_groups):
        raise ValueError("bad optimiser state")
    for group, settings in zip(optimizer.param_groups, state["groups"], strict=True):
        if not isinstance(settings, dict):
            raise ValueError("bad optimiser state")
        for key, value in settings.items():
            if key != "params" and key in group:
                group[key] = tuple(value) if isinstance(value, list) else value
    for p, entry in zip(params, state["parameters"], strict=True):
        if not isinstance(entry, dict):
            raise ValueError("bad optimiser state")
        if entry:
            optimizer.state[p] = {k: torch.from_numpy(v.copy()) if isinstance(v, np.ndarray) else v
                                  for k, v in entry.items()}


def describe_loader(loader, enc) -> dict | None:
    import torch

    data = torch.utils.data
    if type(loader) is not data.DataLoader or type(loader.dataset) is not data.TensorDataset:
        return None
    shuffle = isinstance(loader.sampler, data.RandomSampler)
    generator = loader.generator if loader.generator is not None else getattr(loader.sampler, "generator", None)
    return {"__loader__": {"tensors": enc.encode(list(loader.dataset.tensors)), "batch_size": loader.batch_size,
                           "shuffle": shuffle, "drop_last": bool(loader.drop_last),
                           "generator": None if generator is None else enc.array(generator.get_state().numpy())}}


def rebuild_loader(body, dec):
    import torch

    data = torch.utils.data
    tensors = dec.decode(body.get("tensors"))
    if not isinstance(tensors, list) or not all(is_tensor(t) for t in tensors):
        raise ValueError("bad loader")
    batch_size = body.get("batch_size")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("bad batch size")
    generator = None
    if body.get("generator") is not None:
        generator = torch.Generator()
        generator.set_state(torch.from_numpy(dec.array(body["generator"])))
    return data.DataLoader(data.TensorDataset(*tensors), batch_size=batch_size, shuffle=body.get("shuffle") is True,
                           drop_last=body.get("drop_last") is True, generator=generator)


def loader_state(loader):
    generator = loader.generator if loader.generator is not None else getattr(loader.sampler, "generator", None)
    return None if generator is None else generator.get_state().numpy()


def apply_loader_state(loader, state) -> None:
    import torch

    generator = loader.generator if loader.generator is not None else getattr(loader.sampler, "generator", None)
    if generator is not None and isinstance(state, np.ndarray):
        generator.set_state(torch.from_numpy(state.copy()))


# --------------------------------------------------------------------------- Keras


def describe_keras(obj, enc) -> dict | None:
    """A Keras initialiser of ``keras.initializers``, or a model that is a chain of layers of
    ``keras.layers`` (Sequential, or functional with one path), as class, settings and
    weights; None for anything else (a subclassed model, a layer of the notebook's own)."""
    keras = sys.modules["keras"]
    if isinstance(obj, keras.initializers.Initializer):
        cls = type(obj)
        if getattr(keras.initializers, cls.__name__, None) is not cls:
            return None
        return {"__keras__": {"kind": "initializer", "class": cls.__name__,
                              "settings": enc.encode(_keras_settings(obj.get_config()))}}
    if not isinstance(obj, keras.Model):
        return None
    layers = [layer for layer in obj.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not isinstance(obj, keras.Sequential) and not _is_chain(obj, layers):
        return None
    described = []
    for layer in layers:
        cls = type(layer)
        if cls.__name__ not in KERAS_LAYERS or getattr(keras.layers, cls.__name__, None) is not cls:
            return None
        described.append({"class": cls.__name__, "settings": _keras_settings(layer.get_config()),
                          "weights": [np.asarray(w) for w in layer.get_weights()]})
    try:
        shape = list(obj.input_shape)
    except (AttributeError, ValueError):
        return None
    return {"__keras__": {"kind": "model", "input_shape": enc.encode(shape), "layers": enc.encode(described),
                          "name": str(type(obj).__name__)[:100]}}


def _is_chain(model, layers) -> bool:
    try:
        inputs, outputs = model.inputs, model.outputs
        if len(inputs) != 1 or len(outputs) != 1:
            return False
        tensor = outputs[0]
        for layer in reversed(layers):
            history = tensor._keras_history
            if history.operation is not layer:
                return False
            (tensor,) = history.operation._inbound_nodes[history.node_index].input_tensors
        return tensor is inputs[0]
    except Exception:
        return False


def _keras_settings(config) -> dict:
    """The plain settings of a Keras object: nested objects (initialisers, regularisers,
    constraints) are left out, a dtype policy becomes its name."""
    out = {}
    for key, value in (config or {}).items():
        if key == "dtype" and isinstance(value, dict):
            value = (value.get("config") or {}).get("name")
        if key == "seed" and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
            out[key] = value  # any seed: it allocates nothing
        elif _plain_setting(value) or (isinstance(value, list) and _plain_setting(tuple(value))):
            out[str(key)] = list(value) if isinstance(value, tuple) else value
    return out


def rebuild_keras(body, dec):
    import keras

    if not isinstance(body, dict):
        raise ValueError("bad Keras description")
    if body.get("kind") == "initializer":
        cls = getattr(keras.initializers, str(body.get("class")), None)
        if not (isinstance(cls, type) and issubclass(cls, keras.initializers.Initializer)):
            raise ValueError("not an initialiser of keras.initializers")
        return cls(**_settings_for(cls, dec.decode(body.get("settings"))))
    if body.get("kind") != "model":
        raise ValueError("bad Keras description")
    shape = dec.decode(body.get("input_shape"))
    layers = dec.decode(body.get("layers"))
    if not isinstance(shape, list) or not all(s is None or isinstance(s, int) and 0 < s <= LARGEST_SETTING
                                              for s in shape) or not isinstance(layers, list):
        raise ValueError("bad Keras model")
    model = keras.Sequential([keras.Input(shape=tuple(shape[1:]))])
    for entry in layers:
        name = entry.get("class") if isinstance(entry, dict) else None
        cls = getattr(keras.layers, name, None) if name in KERAS_LAYERS else None
        if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)) or issubclass(cls, keras.Model):
            raise ValueError("not a layer of keras.layers")
        model.add(cls(**_settings_for(cls, entry.get("settings"))))
    for layer, entry in zip(model.layers, layers, strict=True):
        weights = entry.get("weights")
        if not isinstance(weights, list) or not all(isinstance(w, np.ndarray) for w in weights):
            raise ValueError("bad Keras weights")
        layer.set_weights(weights)
    return model


def _settings_for(cls, config) -> dict:
    if not isinstance(config, dict):
        raise ValueError("bad Keras settings")
    try:
        accepted = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        accepted = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    return {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()
            if (_plain_setting(v) or k == "seed" and isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63)
            and (k in accepted or (takes_any and k in ("name", "dtype", "trainable")))}


def state_of(obj):
    """``(kind, state)`` of a module, optimiser or loader (what :func:`apply` takes back)."""
    if is_module(obj):
        return "module", module_state(obj)
    if is_optimizer(obj):
        return "optimizer", optimizer_state(obj)
    if is_loader(obj):
        return "loader", loader_state(obj)
    return None, None


def apply(obj, kind: str, state) -> None:
    """Give a module, optimiser or loader the state the other side's copy has."""
    if kind == "module" and is_module(obj):
        apply_state(obj, state)
    elif kind == "optimizer" and is_optimizer(obj):
        apply_optimizer_state(obj, state)
    elif kind == "loader" and is_loader(obj):
        apply_loader_state(obj, state)
    else:
        raise ValueError("a state for another kind of object")


# --------------------------------------------------------------------------- global random states


def random_states() -> dict:
    """The global random states of Python, NumPy and (when loaded) PyTorch, as plain data."""
    import random

    states = {"python": random.getstate(), "numpy": np.random.get_state()}
    torch = torch_loaded()
    if torch is not None:
        states["torch"] = torch.random.get_rng_state().numpy()
    return states


def set_random_states(shared: dict) -> None:
    """Seed (``shared["states"]`` None) or restore the global random states a check shares."""
    import random

    states, seeds = shared.get("states"), shared.get("seeds")
    torch = torch_loaded()
    if states is None:
        if not (isinstance(seeds, list) and len(seeds) == 3 and all(isinstance(s, int) for s in seeds)):
            raise ValueError("bad seeds")
        random.seed(seeds[0])
        np.random.seed(seeds[1] % 2**32)
        if torch is not None:
            torch.manual_seed(seeds[2])
        return
    if not isinstance(states, dict):
        raise ValueError("bad random states")
    python = states.get("python")
    if isinstance(python, tuple) and len(python) == 3 and isinstance(python[1], tuple):
        random.setstate(python)
    numpy_state = states.get("numpy")
    if isinstance(numpy_state, tuple) and len(numpy_state) == 5 and numpy_state[0] == "MT19937":
        np.random.set_state(numpy_state)
    if torch is not None and isinstance(states.get("torch"), np.ndarray) and states["torch"].dtype == np.uint8:
        torch.random.set_rng_state(torch.from_numpy(states["torch"].copy()))
