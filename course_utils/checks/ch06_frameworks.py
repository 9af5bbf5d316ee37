"""Checks for chapter 06, PyTorch and Keras. Torch and Keras are imported inside the checks."""

from __future__ import annotations

import copy

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    numerical_gradient,
    register,
    require_callable,
    seeded_global_random,
    seeded_rng,
    to_array,
)
from course_utils.frameworks import require_framework


def _test_functions(torch, rng):
    return [
        ("f(x) = sum(x**2)", lambda t: (t ** 2).sum(), rng.normal(size=3)),
        ("f(x) = sin(x[0]) * sum(exp(x))", lambda t: torch.sin(t[0]) * torch.exp(t).sum(),
         rng.normal(scale=0.7, size=4)),
        ("f(X) = logsumexp of a (2, 3) matrix", lambda t: torch.logsumexp(t.reshape(-1), dim=0),
         rng.normal(size=(2, 3))),
    ]


@register("06.autograd_gradient")
def check_autograd_gradient(autograd_gradient):
    """autograd_gradient(f, x) returns df/dx at the NumPy array x, computed with torch.autograd."""
    torch = require_framework("torch")
    for case, f, x in _test_functions(torch, seeded_rng(2)):
        def f_numpy(v, f=f):
            with torch.no_grad():
                return float(f(torch.tensor(v, dtype=torch.float64)))

        ref = numerical_gradient(f_numpy, x)
        tracked = []

        dtypes = []

        def f_watched(t, f=f, tracked=tracked, dtypes=dtypes):
            tracked.append(bool(getattr(t, "requires_grad", False)))
            dtypes.append(getattr(t, "dtype", None))
            return f(t)

        out = call(autograd_gradient, f_watched, x.copy(), name="autograd_gradient")
        if out is None:
            raise CheckFailed(f"autograd_gradient returned None for {case}: `x.grad` stays None unless the "
                              "tensor was created with requires_grad=True and loss.backward() was called.")
        got = to_array(out, "the gradient")
        value = f_numpy(x)
        expect_close(got, ref, "the gradient", case=case, rtol=1e-4, atol=1e-6,
                     mistakes={"you returned f(x), not its gradient: call .backward() and return x.grad": value,
                               "you returned x itself: return x.grad, the gradient stored on x": x,
                               "the gradient is doubled: .backward() was called twice, and gradients "
                               "accumulate in .grad": 2 * ref})
        if any(d is not None and d != torch.float64 for d in dtypes):
            raise CheckFailed(f"for {case}, f was given a tensor of dtype {dtypes[0]}: make a float64 tensor "
                              "(torch.tensor(x, dtype=torch.float64, requires_grad=True)), so that the gradient "
                              "keeps NumPy's precision.")
        if tracked and not any(tracked):
            raise CheckFailed(f"for {case}, f never saw a tensor with requires_grad=True: the gradient must "
                              "come from autograd (torch.tensor(x, requires_grad=True), f(t).backward(), "
                              "t.grad), not from finite differences.")
    return "three functions, against numerical gradients"


@register("06.numpy_to_linear")
def check_numpy_to_linear(numpy_to_linear):
    """numpy_to_linear(W, b) returns an nn.Linear computing X @ W + b (W of shape (inputs, outputs))."""
    torch = require_framework("torch")
    rng = seeded_rng(3)
    for n_in, n_out in [(3, 3), (4, 2), (1, 5)]:
        W, b = rng.normal(size=(n_in, n_out)), rng.normal(size=n_out)
        case = f"W of shape {(n_in, n_out)}"
        with seeded_global_random(rng.integers(2**31)):  # nn.Linear draws its first weights
            layer = call(numpy_to_linear, W, b, name="numpy_to_linear")
        if not isinstance(layer, torch.nn.Linear):
            raise CheckFailed(f"numpy_to_linear should return a torch.nn.Linear, not a {type(layer).__name__}.")
        if (layer.in_features, layer.out_features) != (n_in, n_out):
            raise CheckFailed(f"for {case} the layer should be nn.Linear({n_in}, {n_out}), not "
                              f"nn.Linear({layer.in_features}, {layer.out_features}).")
        if tuple(layer.weight.shape) != (n_out, n_in):
            raise CheckFailed(f"for {case} layer.weight has shape {tuple(layer.weight.shape)}; nn.Linear "
                              f"stores (outputs, inputs) = {(n_out, n_in)}: copy W.T.")
        if layer.bias is None:
            raise CheckFailed("the layer has no bias: create it with nn.Linear(n_in, n_out) (bias=True).")
        if layer.weight.dtype != torch.float32 or layer.bias.dtype != torch.float32:
            raise CheckFailed(f"the layer's parameters are {layer.weight.dtype}; the statement asks for float32 "
                              "(copy_ converts: build nn.Linear(n_in, n_out) and copy into it).")
        if not (layer.weight.requires_grad and layer.bias.requires_grad):
            raise CheckFailed("the layer's parameters no longer require gradients, so it cannot be trained: "
                              "copy the values with `with torch.no_grad(): layer.weight.copy_(...)`.")
        weight = layer.weight.detach().cpu().numpy().astype(float)
        if not (np.allclose(weight, W.T, atol=1e-5) or np.allclose(weight, W, atol=1e-5)):
            raise CheckFailed(f"for {case} layer.weight does not hold the values of W: copy them in, "
                              "transposed, with `with torch.no_grad(): layer.weight.copy_(...)`.")
        X = rng.normal(size=(6, n_in))
        with torch.no_grad():
            out = layer(torch.as_tensor(X, dtype=layer.weight.dtype)).detach().cpu().numpy()
        their_bias = layer.bias.detach().cpu().numpy().astype(float)
        mistakes = {"the bias was not copied: set layer.bias to b": X @ W + their_bias}
        if n_in == n_out:
            mistakes["the weight is transposed: nn.Linear computes X @ weight.T, so set weight to W.T"] = X @ W.T + b
        expect_close(out, X @ W + b, "the layer's output", case=case, rtol=1e-4, atol=1e-5, mistakes=mistakes)
    return "three weight shapes; the layer computes X @ W + b and stays trainable"


def _expected_param_count(n_in, n_hidden, n_out):
    return n_in * n_hidden + n_hidden + n_hidden * n_out + n_out


def _mlp_diagnosis(out, x, W1, b1, W2, b2, name, case):
    """Compare a model's output with the ReLU network built from its own weights."""
    z1 = x @ W1 + b1
    logits = np.maximum(z1, 0) @ W2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    sigmoid_hidden = 1 / (1 + np.exp(-z1))
    expect_close(out, logits, name, case=case, rtol=1e-4, atol=1e-5,
                 mistakes={"the hidden layer has no activation: apply ReLU between the two layers": z1 @ W2 + b2,
                           "return the logits: leave the softmax out (the loss applies it)":
                           e / e.sum(axis=1, keepdims=True),
                           "use ReLU, not the sigmoid, in the hidden layer": sigmoid_hidden @ W2 + b2,
                           "the output layer should have no activation (logits)": np.maximum(logits, 0)})


@register("06.torch_mlp", target="TorchMLP")
def check_torch_mlp(TorchMLP):
    """TorchMLP(n_in, n_hidden, n_out) is an nn.Module: Linear, ReLU, Linear, returning logits."""
    torch = require_framework("torch")
    require_callable(TorchMLP, "TorchMLP")
    rng = seeded_rng(4)
    for n_in, n_hidden, n_out in [(10, 7, 3), (4, 16, 2)]:
        with seeded_global_random(rng.integers(2**31)):
            model = call(TorchMLP, n_in, n_hidden, n_out, name="TorchMLP")
        if not isinstance(model, torch.nn.Module):
            raise CheckFailed(f"TorchMLP(...) should be a torch.nn.Module, not a {type(model).__name__}: "
                              "write `class TorchMLP(nn.Module)` and call super().__init__().")
        case = f"TorchMLP({n_in}, {n_hidden}, {n_out})"
        n_params = sum(p.numel() for p in model.parameters())
        expected = _expected_param_count(n_in, n_hidden, n_out)
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        if n_params != expected or len(linears) != 2:
            sizes = ", ".join(f"Linear({m.in_features}, {m.out_features})" for m in linears) or "no nn.Linear"
            raise CheckFailed(f"{case} has {n_params} parameters in {sizes}; it should have {expected}: "
                              f"Linear({n_in}, {n_hidden}) then Linear({n_hidden}, {n_out}), both with a bias.")
        x = rng.normal(size=(5, n_in))
        model.eval()
        with torch.no_grad():
            out = call(model, torch.as_tensor(x, dtype=torch.float32), name="model(x)")
        got = to_array(out, "the model's output")
        if got.shape != (5, n_out):
            raise CheckFailed(f"{case} maps a batch of shape (5, {n_in}) to shape {got.shape}; expected "
                              f"(5, {n_out}): one row of logits per sample.")
        first, second = linears
        W1, b1 = first.weight.detach().numpy().T.astype(float), first.bias.detach().numpy().astype(float)
        W2, b2 = second.weight.detach().numpy().T.astype(float), second.bias.detach().numpy().astype(float)
        _mlp_diagnosis(got, x, W1, b1, W2, b2, "the model's output", case)
    return "two sizes: parameter count, output shape and the ReLU network's values"


@register("06.keras_mlp", target="build_keras_mlp")
def check_keras_mlp(build_keras_mlp):
    """build_keras_mlp(n_in, n_hidden, n_out) returns a keras.Model: Dense ReLU, Dense logits."""
    keras = require_framework("keras")
    rng = seeded_rng(5)
    uses = _tensorflow_names(build_keras_mlp)
    if uses:
        raise CheckFailed(f"build_keras_mlp uses TensorFlow ({uses[0]}): the model must work on any Keras backend, "
                          "so build it with `keras` alone (keras.Sequential, keras.layers.Dense).")
    sizes = [(int(rng.integers(8, 13)), int(rng.integers(5, 9)), 3), (4, int(rng.integers(12, 20)), 2)]
    for n_in, n_hidden, n_out in sizes:
        with seeded_global_random(rng.integers(2**31)):
            model = call(build_keras_mlp, n_in, n_hidden, n_out, name="build_keras_mlp", time_limit=30)
        if not isinstance(model, keras.Model):
            raise CheckFailed(f"build_keras_mlp should return a keras.Model (for example keras.Sequential), "
                              f"not a {type(model).__name__}.")
        case = f"build_keras_mlp({n_in}, {n_hidden}, {n_out})"
        x = rng.normal(size=(5, n_in)).astype("float32")
        out = call(model, x, name="model(x)", time_limit=30)
        got = to_array(keras.ops.convert_to_numpy(out), "the model's output")
        expected = _expected_param_count(n_in, n_hidden, n_out)
        denses = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        if model.count_params() != expected or len(denses) != 2:
            sizes = ", ".join(f"Dense({d.units})" for d in denses) or "no Dense layer"
            raise CheckFailed(f"{case} has {model.count_params()} parameters in {sizes}; it should have "
                              f"{expected}: Dense({n_hidden}) then Dense({n_out}) on {n_in} inputs.")
        if got.shape != (5, n_out):
            raise CheckFailed(f"{case} maps a batch of shape (5, {n_in}) to shape {got.shape}; expected "
                              f"(5, {n_out}).")
        (W1, b1), (W2, b2) = [[np.asarray(w, dtype=float) for w in d.get_weights()] for d in denses]
        _mlp_diagnosis(got, x.astype(float), W1, b1, W2, b2, "the model's output", case)
    return "two sizes: parameter count, output shape and the ReLU network's values"


def _torch_stack(torch, sizes, rng):
    """An nn.Sequential of Linear layers with ReLU between them, initialised from ``rng``."""
    layers = []
    with seeded_global_random(rng.integers(2**31)):
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            if i:
                layers.append(torch.nn.ReLU())
            layers.append(torch.nn.Linear(n_in, n_out))
    return torch.nn.Sequential(*layers)


def _tensorflow_names(func):
    """The names through which a function (and the functions nested in it) reaches TensorFlow:
    globals of its module bound to a TensorFlow module or object. Keras' own use of its backend
    does not count: only what the learner's code names."""
    import types

    code, namespace, found = getattr(func, "__code__", None), getattr(func, "__globals__", {}), []
    stack = [code] if code is not None else []
    while stack:
        current = stack.pop()
        for name in current.co_names:
            if name.split(".")[0] in ("tensorflow", "tf_keras"):  # an import inside the function
                found.append(name)
                continue
            value = namespace.get(name)
            module = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", "")
            if isinstance(module, str) and module.split(".")[0] in ("tensorflow", "tf_keras"):
                found.append(name)
        stack += [c for c in current.co_consts if isinstance(c, types.CodeType)]
    return found


# --------------------------------------------------------------------------- predict in evaluation mode

def _regularised_net(torch, n_in, n_out):
    """Linear, batch norm, ReLU, dropout, Linear, with running statistics far from a batch's own."""
    nn = torch.nn
    net = nn.Sequential(nn.Linear(n_in, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5),
                        nn.Linear(16, n_out))
    with torch.no_grad():
        net[1].running_mean.uniform_(-1.0, 1.0)
        net[1].running_var.uniform_(0.5, 2.0)
    return net


def _modes(model):
    return [(name, module.training) for name, module in model.named_modules()]


def _state_copy(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@register("06.predict", hides="course_utils.backprop")  # defines a predict too
def check_predict(predict):
    """predict(model, X) returns float32 outputs in evaluation mode, without gradients; the model unchanged."""
    torch = require_framework("torch")
    require_callable(predict, "predict")
    rng = seeded_rng(61)
    settings = [("a model in training mode", lambda net: net.train()),
                ("a model in evaluation mode", lambda net: net.eval()),
                ("a model in training mode whose batch-norm layer is in evaluation mode",
                 lambda net: (net.train(), net[1].eval()))]
    for (case, set_mode), (n, n_in, n_out) in zip(settings, [(7, 5, 3), (4, 3, 2), (9, 6, 4)], strict=True):
        with seeded_global_random(rng.integers(2**31)):
            model = _regularised_net(torch, n_in, n_out)
        set_mode(model)
        X = rng.normal(size=(n, n_in)).astype(np.float32)
        modes, state = _modes(model), _state_copy(model)
        reference = copy.deepcopy(model).eval()
        with torch.no_grad():
            expected = reference(torch.from_numpy(X)).numpy()
        grad_enabled = []
        hook = model.register_forward_pre_hook(
            lambda module, args, seen=grad_enabled: seen.append(torch.is_grad_enabled()))
        try:
            out = call(predict, model, X.copy(), name="predict")
        finally:
            hook.remove()
        after = dict(_modes(model))
        changed = [name for name, before in modes if after[name] != before]
        if changed:
            which = f"the submodule {changed[0]!r}" if changed[0] else "the model"
            raise CheckFailed(
                f"for {case}, predict left {which} in {'training' if after[changed[0]] else 'evaluation'} mode: "
                "leave every submodule in the mode it was in. model.train(was_training) sets every submodule to "
                "one mode; remember each module's mode (for module in model.modules()) and restore each.")
        moved = [k for k, v in model.state_dict().items() if not torch.equal(v, state[k])]
        if moved:
            raise CheckFailed(f"for {case}, predict changed the model's {moved[0]}: the forward pass ran in "
                              "training mode, where batch normalisation updates its running statistics; call "
                              "model.eval() before the forward pass.")
        if any(grad_enabled):
            raise CheckFailed(f"for {case}, the forward pass recorded gradients: run it inside torch.no_grad() "
                              "(or torch.inference_mode()); model.eval() alone does not stop autograd.")
        if isinstance(out, torch.Tensor):
            raise CheckFailed("predict returned a torch.Tensor; return a NumPy array (out.numpy()).")
        if not isinstance(out, np.ndarray):
            raise CheckFailed(f"predict returned a {type(out).__name__}; return a NumPy array.")
        if out.dtype != np.float32:
            raise CheckFailed(f"predict returned an array of dtype {out.dtype}; return float32, the model's own "
                              "dtype.")
        if out.shape != expected.shape:
            raise CheckFailed(f"predict returned shape {out.shape} for {n} inputs; expected {expected.shape}, "
                              "the model's output.")
        if not grad_enabled:
            raise CheckFailed("predict did not call the model (or called model.forward, which skips PyTorch's "
                              "hooks): compute the outputs with model(torch.from_numpy(X)).")
        if any(training for _, training in modes) and not np.allclose(out, expected, rtol=1e-5, atol=1e-6):
            raise CheckFailed(f"for {case}, the outputs are not those of evaluation mode: call model.eval() before "
                              "the forward pass (in training mode dropout zeroes random units).")
        expect_close(out, expected, "predict(model, X)", case=case, rtol=1e-5, atol=1e-6)
    return "training, evaluation and mixed modes; outputs, modes, buffers and autograd"


# --------------------------------------------------------------------------- weight-decay groups

def _tied_net(torch, vocabulary, width):
    """An embedding, a body with LayerNorm, BatchNorm and a bias-free Linear, a frozen layer, a
    learned scalar and a head that shares the embedding's weight."""
    nn = torch.nn

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocabulary, width)
            self.body = nn.Sequential(nn.Linear(width, 8), nn.LayerNorm(8), nn.ReLU(),
                                      nn.Linear(8, 8, bias=False), nn.BatchNorm1d(8))
            self.frozen = nn.Linear(8, 8)
            self.frozen.requires_grad_(False)
            self.project = nn.Linear(8, width)
            self.temperature = nn.Parameter(torch.tensor(1.0))
            self.head = nn.Linear(width, vocabulary)
            self.head.weight = self.embed.weight  # tied: one tensor, two layers

        def forward(self, tokens):
            h = self.project(self.frozen(self.body(self.embed(tokens))))
            return self.head(h) / self.temperature

    return Tied()


def _plain_net(torch, width):
    nn = torch.nn
    return nn.Sequential(nn.Linear(width, 12), nn.ReLU(), nn.Linear(12, 3))


def _group_hint(model, params, want_decay):
    """Name what a wrong parameter list holds: the mistake, not just that it is wrong."""
    names = {id(p): n for n, p in model.named_parameters(remove_duplicate=False)}
    seen = set()
    for p in params:
        if id(p) in seen:
            return (f"the tensor {names.get(id(p), '?')} is listed twice: two layers share it (the head's weight "
                    "is the embedding's); collect from model.parameters(), which lists a shared tensor once.")
        seen.add(id(p))
    for p in params:
        if not p.requires_grad:
            return (f"the frozen tensor {names.get(id(p), '?')} (requires_grad False) is in a group: leave frozen "
                    "parameters out.")
    for p in params:
        if (p.ndim >= 2) != want_decay:
            where = "with decay" if want_decay else "without decay"
            dims = f"{p.ndim} dimension" + ("" if p.ndim == 1 else "s")
            return (f"{names.get(id(p), '?')} has {dims} and is in the group {where}: decide by "
                    "p.ndim, 2 or more dimensions decay, fewer (biases, normalisation weights, scalars) do not.")
    return None


@register("06.weight_decay_groups")
def check_weight_decay_groups(weight_decay_groups):
    """weight_decay_groups(model, wd): decay for trainable tensors of 2+ dims, 0.0 for the rest, each once."""
    torch = require_framework("torch")
    require_callable(weight_decay_groups, "weight_decay_groups")
    rng = seeded_rng(62)
    for case, build, weight_decay in [
            ("a model with a shared weight, a frozen layer, norms and a scalar",
             lambda: _tied_net(torch, 11, 6), float(rng.choice([0.01, 0.05]))),
            ("Linear, ReLU, Linear", lambda: _plain_net(torch, 5), float(rng.choice([0.1, 0.2])))]:
        with seeded_global_random(rng.integers(2**31)):
            model = build()
        flags = [p.requires_grad for p in model.parameters()]
        values = [p.detach().clone() for p in model.parameters()]
        groups = call(weight_decay_groups, model, weight_decay, name="weight_decay_groups")
        if [p.requires_grad for p in model.parameters()] != flags or not all(
                torch.equal(p, v) for p, v in zip(model.parameters(), values, strict=True)):
            raise CheckFailed(f"for {case}, weight_decay_groups changed the model (its values or requires_grad "
                              "flags): only read it.")
        if not isinstance(groups, (list, tuple)) or len(groups) != 2 or not all(isinstance(g, dict) for g in groups):
            raise CheckFailed("weight_decay_groups should return a list of two dictionaries, each with the keys "
                              "'params' and 'weight_decay'.")
        if any("params" not in g or "weight_decay" not in g for g in groups):
            raise CheckFailed("each group is a dictionary with the keys 'params' and 'weight_decay'; yours have "
                              f"{[sorted(g) for g in groups]}.")
        if any(isinstance(g["params"], (set, frozenset)) for g in groups):
            raise CheckFailed("a group's params is a set: torch.optim needs an ordered collection (a list), so that "
                              "a saved optimizer state matches its parameters.")
        groups = [{**g, "params": list(g["params"])} for g in groups]
        decays = sorted((g["weight_decay"] for g in groups), key=float)
        if [float(d) for d in decays] != [0.0, weight_decay]:
            raise CheckFailed(f"with weight_decay={weight_decay} the groups' weight_decay values are "
                              f"{[g['weight_decay'] for g in groups]}; expected {weight_decay} for one group and 0.0 "
                              "for the other.")
        decayed, plain = sorted(groups, key=lambda g: float(g["weight_decay"]), reverse=True)
        for group, want_decay in [(decayed, True), (plain, False)]:
            hint = _group_hint(model, group["params"], want_decay)
            if hint:
                raise CheckFailed(f"for {case}: {hint}")
        taken = {id(p) for g in groups for p in g["params"]}
        if len(taken) != sum(len(g["params"]) for g in groups):
            raise CheckFailed(f"for {case}, a tensor is in both groups: each parameter belongs to exactly one.")
        missing = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in taken]
        if missing:
            raise CheckFailed(f"for {case}, the trainable tensor {missing[0]} is in neither group: every trainable "
                              "parameter belongs to one (a learned scalar has 0 dimensions: no decay).")
        try:
            torch.optim.AdamW(groups, lr=1e-3)
        except Exception as err:  # torch.optim's own refusal, in its words
            raise CheckFailed(f"torch.optim.AdamW refuses these groups: {err}") from None
    return "a shared weight, a frozen layer, norms, a scalar and a plain MLP"


def _stack_numpy(weights, x, transpose=True, hidden_relu=True, output_relu=False):
    """Forward pass of the stack from its (weight, bias) pairs, with typical mistakes."""
    for i, (W, b) in enumerate(weights):
        x = x @ (W.T if transpose else W) + b
        last = i == len(weights) - 1
        if (not last and hidden_relu) or (last and output_relu):
            x = np.maximum(x, 0)
    return x


@register("06.torch_to_keras", target="torch_to_keras")
def check_torch_to_keras(torch_to_keras):
    """torch_to_keras(model) returns a keras.Model computing what the PyTorch stack computes."""
    torch = require_framework("torch")
    keras = require_framework("keras")
    rng = seeded_rng(6)
    for sizes in [(4, 4, 4), (5, 7, 3), (3, 8, 6, 2), (1, 2, 1)]:  # square first: a missing .T shows
        model = _torch_stack(torch, sizes, rng)
        before = [p.detach().clone() for p in model.parameters()]
        case = "an nn.Sequential of " + " -> ".join(str(s) for s in sizes) + " units"
        with seeded_global_random(rng.integers(2**31)):  # Keras draws first weights before they are set
            out_model = call(torch_to_keras, model, name="torch_to_keras", time_limit=30)
        if not isinstance(out_model, keras.Model):
            raise CheckFailed(f"torch_to_keras should return a keras.Model (for example keras.Sequential), "
                              f"not a {type(out_model).__name__}.")
        if any(not torch.equal(a, p.detach()) for a, p in zip(before, model.parameters(), strict=True)):
            raise CheckFailed("torch_to_keras changed the PyTorch model's weights: only read them.")
        x = rng.normal(size=(6, sizes[0])).astype("float32")
        got = to_array(keras.ops.convert_to_numpy(call(out_model, x, name="keras_model(x)", time_limit=30)),
                       "the Keras model's output").astype(float)
        if got.shape != (6, sizes[-1]):
            more = (" Copy every nn.Linear of the stack: it may have three or more." if got.ndim == 2
                    and got.shape[1] in sizes[1:-1] else "")
            raise CheckFailed(f"for {case} the Keras model maps a batch of shape (6, {sizes[0]}) to "
                              f"{got.shape}; expected (6, {sizes[-1]}).{more}")
        weights = [(m.weight.detach().numpy().astype(float), m.bias.detach().numpy().astype(float))
                   for m in model if isinstance(m, torch.nn.Linear)]
        expected = _stack_numpy(weights, x.astype(float))
        mistakes = {"ReLU belongs between the layers: the hidden layers have no activation":
                    _stack_numpy(weights, x.astype(float), hidden_relu=False),
                    "the last layer has no activation: leave the ReLU off the output":
                    _stack_numpy(weights, x.astype(float), output_relu=True)}
        if all(W.shape[0] == W.shape[1] for W, _ in weights):
            mistakes["nn.Linear stores (outputs, inputs): a Dense kernel is weight.T"] = _stack_numpy(
                weights, x.astype(float), transpose=False)
        expect_close(got, expected, "the Keras model's output", case=case, rtol=1e-4, atol=1e-5,
                     mistakes=mistakes)
    return "four stacks, two and three layers, square and not: outputs match PyTorch's"


@register("06.softplus_function", target="Softplus")
def check_softplus_function(Softplus):
    """Softplus is a torch.autograd.Function: forward log(1 + e^x) without overflow, backward sigmoid."""
    torch = require_framework("torch")
    if not (isinstance(Softplus, type) and issubclass(Softplus, torch.autograd.Function)):
        raise CheckFailed("Softplus should be a class that subclasses torch.autograd.Function, with "
                          "@staticmethod forward(ctx, x) and backward(ctx, grad_output).")
    rng = seeded_rng(7)
    cases = [("values from -50 to 800", np.array([-50.0, -3.0, -0.5, 0.0, 0.5, 3.0, 40.0, 800.0])),
             ("a (3, 4) matrix", rng.normal(0, 3, (3, 4))),
             ("random values", rng.normal(0, 10, 25))]
    for case, values in cases:
        x = torch.tensor(values, dtype=torch.float64, requires_grad=True)
        y = call(Softplus.apply, x, name="Softplus.apply")
        if not isinstance(y, torch.Tensor):
            raise CheckFailed(f"Softplus.apply should return a tensor, not a {type(y).__name__}.")
        if y.grad_fn is None or type(y.grad_fn).__name__ != f"{Softplus.__name__}Backward":
            raise CheckFailed("the output was not made by your Function (its grad_fn is not "
                              f"{Softplus.__name__}Backward): return the result from forward, and call it "
                              "with Softplus.apply.")
        if not getattr(y.grad_fn, "saved_tensors", ()):
            raise CheckFailed("forward saved nothing with ctx.save_for_backward: save the tensors backward needs "
                              "there (ctx.save_for_backward(x)), not as attributes of ctx, so that autograd "
                              "tracks them.")
        got = to_array(y.detach().numpy(), "Softplus(x)").astype(float)
        expected = np.logaddexp(0.0, values)
        if not np.all(np.isfinite(got)):
            raise CheckFailed(f"Softplus returned inf or nan for {case}: log(1 + exp(x)) overflows for large x. "
                              "Write it as max(x, 0) + log1p(exp(-|x|)).")
        expect_close(got, expected, "Softplus(x)", case=case, rtol=1e-6, atol=1e-9,
                     mistakes={"softplus is log(1 + e^x), not log(e^x) = x": values,
                               "softplus is log(1 + e^x); you returned the sigmoid": 1 / (1 + np.exp(-values))})
        upstream = rng.uniform(0.5, 2.0, values.shape)
        call(y.backward, torch.tensor(upstream), name="backward")
        grad = to_array(x.grad.numpy() if x.grad is not None else None, "x.grad").astype(float)
        if not np.all(np.isfinite(grad)):
            raise CheckFailed(f"the backward pass returned inf or nan for {case}: compute the sigmoid "
                              "without overflow, e.g. as torch.sigmoid(x).")
        sigmoid = 1 / (1 + np.exp(-np.clip(values, -700, 700)))
        expect_close(grad, sigmoid * upstream, "the gradient", case=case, rtol=1e-6, atol=1e-9,
                     mistakes={"multiply by grad_output: backward returns grad_output * d softplus / dx": sigmoid,
                               "d softplus / dx is the sigmoid 1 / (1 + e^-x), not softplus itself":
                               expected * upstream,
                               "d softplus / dx is the sigmoid, not e^x":
                               np.exp(np.clip(values, None, 700)) * upstream})
    return "forward values up to x = 800 and the backward pass on three inputs"


@register("06.fit_herschel_bulkley", target="fit_herschel_bulkley")
def check_fit_herschel_bulkley(fit_herschel_bulkley):
    """fit_herschel_bulkley(X, y) returns a trained nn.Module: raw (rate, tau_y, k, n) -> stress."""
    torch = require_framework("torch")
    from course_utils.data.fluids import make_herschel_bulkley_family

    seeds = seeded_rng(13).integers(2**31, size=2)
    X, y = make_herschel_bulkley_family(n=4000, seed=int(seeds[0]))
    X_new, y_new = make_herschel_bulkley_family(n=2000, seed=int(seeds[1]))
    with seeded_global_random(14):  # the learner's own seeding stays inside
        model = call(fit_herschel_bulkley, X.copy(), y.copy(), name="fit_herschel_bulkley", time_limit=120)
    if not isinstance(model, torch.nn.Module):
        raise CheckFailed(f"fit_herschel_bulkley should return a torch.nn.Module, not a {type(model).__name__}.")
    if not list(model.parameters()):
        raise CheckFailed("the returned module has no parameters: return the trained network.")
    model.eval()
    dtype = next(model.parameters()).dtype

    def predict(inputs):
        with torch.no_grad():
            out = call(model, torch.as_tensor(inputs, dtype=dtype), name="model(X)", time_limit=30)
        return to_array(out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else out,
                        "the model's output").astype(float)

    pred = predict(X_new)
    if pred.shape not in ((len(X_new),), (len(X_new), 1)):
        raise CheckFailed(f"the model maps inputs of shape {X_new.shape} to {pred.shape}; expected "
                          f"({len(X_new)}, 1) or ({len(X_new)},): one stress per fluid.")
    pred = pred.reshape(-1)
    if not np.all(np.isfinite(pred)):
        raise CheckFailed("the model predicts nan or inf: training diverged; lower the learning rate and "
                          "standardise the inputs.")
    target = 0.05
    mse = float(np.mean((pred - y_new) ** 2))
    if mse <= target:
        return f"validation MSE {mse:.4f} Pa^2 on 2000 new fluids (target {target})"
    hint = ""
    x_mean, x_std, y_mean, y_std = X.mean(axis=0), X.std(axis=0), y.mean(), y.std()
    scaled_in = predict((X_new - x_mean) / x_std).reshape(-1)
    if np.mean((scaled_in - y_new) ** 2) <= target or np.mean((scaled_in * y_std + y_mean - y_new) ** 2) <= target:
        hint = (" It does well on standardised inputs: the module must take raw inputs, so build the "
                "standardisation into it (for example store the means and stds with register_buffer).")
    elif np.mean((pred * y_std + y_mean - y_new) ** 2) <= target:
        hint = (" Its outputs are standardised stresses: undo the scaling inside the module "
                "(output * y_std + y_mean).")
    elif mse > 0.5 * np.var(y_new):
        hint = " That is barely better than predicting the mean stress: is the network trained?"
    else:
        hint = " Train longer, standardise inputs and target, or use Adam with a learning rate near 0.01."
    raise CheckFailed(f"the model's mean squared error on 2000 new fluids is {mse:.3f} Pa^2; the target is "
                      f"at most {target}.{hint}")
