"""Requirement table of chapter 06, PyTorch and Keras (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

# --------------------------------------------------------------------------- 06.autograd_gradient


def gradient(f, x, *, dtype="float64", returns="grad", twice=False, flatten=False, method="autograd"):
    """The solution's answer; the keywords make it break one requirement."""
    import torch

    if method == "finite":  # central differences: close, but not autograd
        x = np.asarray(x, dtype=float)
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[i] = 1e-6
            with torch.no_grad():
                g[i] = (float(f(torch.tensor(x + e))) - float(f(torch.tensor(x - e)))) / 2e-6
        return g
    t = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
    value = f(t)
    if returns == "value":
        return value.detach()
    value.backward()
    if twice:
        f(t).backward()
    g = t.grad.numpy()
    return g.ravel() if flatten else g


# --------------------------------------------------------------------------- 06.numpy_to_linear


def linear(W, b, *, transpose=True, bias=True, dtype="float32", trainable=True, kind="linear"):
    """The solution's answer; the keywords make it break one requirement."""
    import torch
    from torch import nn

    layer = nn.Linear(W.shape[0], W.shape[1], bias=bias, dtype=getattr(torch, dtype))
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(W.T if transpose else W.reshape(layer.weight.shape)))
        if bias:
            layer.bias.copy_(torch.as_tensor(b))
    if not trainable:
        layer.requires_grad_(False)
    return nn.Sequential(layer) if kind == "sequential" else layer


# --------------------------------------------------------------------------- 06.torch_mlp


def torch_mlp_class(activation="relu", output=None, subclass=True):
    """A TorchMLP class like the solution's; the keywords make it break one requirement."""
    import torch
    from torch import nn

    acts = {"relu": torch.relu, "sigmoid": torch.sigmoid, None: lambda z: z}
    base = nn.Module if subclass else object

    class TorchMLP(base):
        def __init__(self, n_in, n_hidden, n_out):
            super().__init__()
            self.hidden = nn.Linear(n_in, n_hidden)
            self.output = nn.Linear(n_hidden, n_out)

        def forward(self, x):
            logits = self.output(acts[activation](self.hidden(x)))
            return torch.softmax(logits, dim=1) if output == "softmax" else logits

        def __call__(self, x):
            return self.forward(x)

    return TorchMLP


# --------------------------------------------------------------------------- 06.keras_mlp


def keras_mlp(n_in, n_hidden, n_out, *, hidden="relu", output=None, kind="model"):
    """The solution's answer; the keywords make it break one requirement."""
    import keras

    model = keras.Sequential([keras.Input(shape=(n_in,)), keras.layers.Dense(n_hidden, activation=hidden),
                              keras.layers.Dense(n_out, activation=output)])
    return (lambda x: model(x)) if kind == "function" else model


def keras_mlp_through_tensorflow(n_in, n_hidden, n_out):
    """The same model built with tf.keras: it ties the answer to the TensorFlow backend."""
    import tensorflow as tf

    return tf.keras.Sequential([tf.keras.Input(shape=(n_in,)), tf.keras.layers.Dense(n_hidden, activation="relu"),
                                tf.keras.layers.Dense(n_out)])


# --------------------------------------------------------------------------- 06.predict


def predict(model, X, *, restore="each", evaluate=True, no_grad=True, output="numpy"):
    """The solution's answer; the keywords make it break one requirement."""
    import torch

    modes = {module: module.training for module in model.modules()}
    was_training = model.training
    if evaluate:
        model.eval()
    if no_grad:
        with torch.no_grad():
            out = model(torch.from_numpy(X))
    else:
        out = model(torch.from_numpy(X)).detach()
    if restore == "each":
        for module, training in modes.items():
            module.training = training
    elif restore == "top":
        model.train(was_training)
    elif restore == "train":
        model.train()
    if output == "tensor":
        return out
    return out.numpy().astype(np.float64 if output == "float64" else np.float32)


def predict_batch_norm_only(model, X):
    """Evaluation mode for the batch-norm layers only: dropout stays on."""
    import torch

    modes = {module: module.training for module in model.modules()}
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(X))
    for module, training in modes.items():
        module.training = training
    return out.numpy()


# --------------------------------------------------------------------------- 06.weight_decay_groups


def groups(model, weight_decay, *, rule="ndim", frozen=False, shared="once", container=list, n_groups=2,
           decay_value=None, touch=False):
    """The solution's answer; the keywords make it break one requirement."""
    if touch:
        for p in model.parameters():
            p.requires_grad_(True)
    if shared == "once":
        params = list(model.parameters())
    else:  # module by module: a tensor two layers share is met twice
        params = [p for m in model.modules() for p in m.parameters(recurse=False)]
    if not frozen:
        params = [p for p in params if p.requires_grad]
    if rule == "ndim":
        decay, plain = [p for p in params if p.ndim >= 2], [p for p in params if p.ndim < 2]
    elif rule == "ndim1":
        decay, plain = [p for p in params if p.ndim >= 2], [p for p in params if p.ndim == 1]
    else:  # by name: everything called bias is plain, the rest decays
        names = {id(p): n for n, p in model.named_parameters()}
        decay = [p for p in params if not names.get(id(p), "").endswith("bias")]
        plain = [p for p in params if names.get(id(p), "").endswith("bias")]
    value = weight_decay if decay_value is None else decay_value
    if n_groups == 1:
        return [{"params": container(params), "weight_decay": value}]
    return [{"params": container(decay), "weight_decay": value}, {"params": container(plain), "weight_decay": 0.0}]


# --------------------------------------------------------------------------- 06.torch_to_keras


def to_keras(model, *, transpose=True, hidden="relu", output=None, first_two=False, mutate=False):
    """The solution's answer; the keywords make it break one requirement."""
    import keras
    import torch
    from torch import nn

    linears = [m for m in model if isinstance(m, nn.Linear)]
    if first_two:
        linears = linears[:2]
    layers = [keras.Input(shape=(linears[0].in_features,))]
    for i, layer in enumerate(linears):
        last = i == len(linears) - 1
        layers.append(keras.layers.Dense(layer.out_features, activation=output if last else hidden))
    keras_model = keras.Sequential(layers)
    for dense, layer in zip(keras_model.layers, linears, strict=True):
        W = layer.weight.detach().numpy()
        dense.set_weights([W.T if transpose else W.reshape(W.shape[::-1]), layer.bias.detach().numpy()])
    if mutate:
        with torch.no_grad():
            for layer in linears:
                layer.weight.mul_(0.5)
    return keras_model


def to_keras_function(model):
    keras_model = to_keras(model)
    return lambda x: keras_model(x)


# --------------------------------------------------------------------------- 06.softplus_function


def softplus_class(*, forward="stable", backward="sigmoid", save="ctx"):
    """A Softplus Function like the solution's; the keywords make it break one requirement."""
    import torch

    class Softplus(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            if save == "ctx":
                ctx.save_for_backward(x)
            else:
                ctx.x = x
            if forward == "naive":
                return torch.log1p(torch.exp(x))
            if forward == "identity":
                return x.clone()
            return torch.clamp(x, min=0) + torch.log1p(torch.exp(-torch.abs(x)))

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors if save == "ctx" else (ctx.x,)
            if backward == "no_upstream":
                return torch.sigmoid(x)
            if backward == "softplus":
                return grad_output * (torch.clamp(x, min=0) + torch.log1p(torch.exp(-torch.abs(x))))
            return grad_output * torch.sigmoid(x)

    return Softplus


# --------------------------------------------------------------------------- 06.fit_herschel_bulkley


def fit_hb(X, y, *, epochs=60, scale_inside=True, kind="module"):
    """The solution's answer; the keywords make it break one requirement."""
    import torch
    from torch import nn

    x_mean, x_std, y_mean, y_std = X.mean(axis=0), X.std(axis=0), y.mean(), y.std()

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            for name, value in [("x_mean", x_mean), ("x_std", x_std), ("y_mean", y_mean), ("y_std", y_std)]:
                self.register_buffer(name, torch.tensor(value, dtype=torch.float32))
            self.net = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 1))

        def forward(self, x):
            z = self.net((x - self.x_mean) / self.x_std)
            return z * self.y_std + self.y_mean

    torch.manual_seed(0)
    model = Scaled()
    inputs = torch.tensor((X - x_mean) / x_std, dtype=torch.float32)
    targets = torch.tensor(((y - y_mean) / y_std)[:, None], dtype=torch.float32)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(inputs, targets), batch_size=128,
                                         shuffle=True)
    optimizer = torch.optim.Adam(model.net.parameters(), lr=0.01)
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model.net(xb), yb).backward()
            optimizer.step()
    model.eval()
    if not scale_inside:  # the network alone: it expects standardised inputs
        net = model.net

        class OutputOnly(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = net

            def forward(self, x):
                return self.net(x) * y_std + y_mean

        return OutputOnly()
    if kind == "function":
        return lambda x: model(x)
    return model


def fit_hb_standardised_output(X, y):
    """Scaling of the inputs inside, but the output left standardised."""
    from torch import nn

    model = fit_hb(X, y)

    class Standardised(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x):
            return (self.inner(x) - self.inner.y_mean) / self.inner.y_std

    return Standardised()


# --------------------------------------------------------------------------- the table

SOFTPLUS = ("`forward(ctx, x)` returns $\\mathrm{softplus}(x) = \\log(1 + e^x)$ elementwise, for a tensor `x` of "
            "any shape")

TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function or a class", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/06-frameworks`", "where to read first"),
    ],
    "06.autograd_gradient": [
        free("`f` is a function that takes a PyTorch tensor and returns a scalar tensor", "the inputs"),
        requirement("Return the gradient $\\nabla f(x)$", lambda f, x: gradient(f, x, returns="value"),
                    r"not its gradient"),
        requirement("(same shape as `x`", lambda f, x: gradient(f, x, flatten=True), r"shape"),
        requirement("computed with `torch.autograd`", lambda f, x: gradient(f, x, method="finite"),
                    r"must come from autograd"),
        requirement("make a `float64` tensor that requires gradients", lambda f, x: gradient(f, x, dtype="float32"),
                    r"make a float64 tensor"),
        requirement("call `backward()` and read the gradient", lambda f, x: gradient(f, x, twice=True),
                    r"called twice"),
    ],
    "06.numpy_to_linear": [
        free("Chapter 05 stores a layer as `W` of shape `(inputs, outputs)`", "context"),
        requirement("returns a new `torch.nn.Linear` layer", lambda W, b: linear(W, b, kind="sequential"),
                    r"should return a torch.nn.Linear"),
        requirement("computing exactly `X @ W + b`", lambda W, b: linear(W, b, transpose=False),
                    r"transposed|copy W.T|copy them in, transposed"),
        requirement("computing exactly `X @ W + b`", lambda W, b: linear(W, b, bias=False), r"has no bias"),
        requirement("in `float32`", lambda W, b: linear(W, b, dtype="float64"), r"float32"),
        requirement("whose parameters can still be trained", lambda W, b: linear(W, b, trainable=False),
                    r"no longer require gradients"),
    ],
    "06.torch_mlp": [
        requirement("a subclass of `nn.Module`", torch_mlp_class(subclass=False), r"should be a torch.nn.Module"),
        requirement("a ReLU, and an output", torch_mlp_class(activation=None), r"hidden layer has no activation"),
        requirement("a ReLU, and an output", torch_mlp_class(activation="sigmoid"), r"use ReLU, not the sigmoid"),
        requirement("Its `forward` returns the logits (no softmax)", torch_mlp_class(output="softmax"),
                    r"leave the softmax out"),
        free("Write a class `TorchMLP(n_in, n_hidden, n_out)`", "the signature; the sizes are tested by the rows"),
    ],
    "06.keras_mlp": [
        requirement("returns a `keras.Model`", lambda *a: keras_mlp(*a, kind="function"),
                    r"should return a keras.Model"),
        requirement("with a `Dense(n_hidden)` ReLU layer", lambda *a: keras_mlp(*a, hidden=None),
                    r"hidden layer has no activation"),
        requirement("with a `Dense(n_hidden)` ReLU layer", lambda *a: keras_mlp(*a, hidden="sigmoid"),
                    r"use ReLU, not the sigmoid"),
        requirement("a `Dense(n_out)` output layer without activation (logits)",
                    lambda *a: keras_mlp(*a, output="softmax"), r"leave the softmax out"),
        requirement("a `Dense(n_out)` output layer without activation (logits)",
                    lambda *a: keras_mlp(*a, output="relu"), r"output layer should have no activation"),
        requirement("use only `keras`, not `tensorflow`", keras_mlp_through_tensorflow, r"any Keras backend"),
    ],
    "06.predict": [
        free("Write `predict(model, X)`: `model` is a PyTorch `nn.Module`", "the signature and the inputs"),
        requirement("Return the model's outputs as a NumPy `float32` array",
                    lambda m, X: predict(m, X, output="tensor"), r"return a NumPy array"),
        requirement("Return the model's outputs as a NumPy `float32` array",
                    lambda m, X: predict(m, X, output="float64"), r"return float32"),
        requirement("computed in evaluation mode (dropout off", predict_batch_norm_only,
                    r"not those of evaluation mode"),
        requirement("batch normalisation with its running statistics)", lambda m, X: predict(m, X, evaluate=False),
                    r"changed the model's 1.running_mean"),
        requirement("and without recording gradients", lambda m, X: predict(m, X, no_grad=False),
                    r"recorded gradients"),
        requirement("its parameters and buffers unchanged", lambda m, X: predict(m, X, evaluate=False),
                    r"changed the model's"),
        requirement("every submodule in the mode it was in", lambda m, X: predict(m, X, restore="top"),
                    r"left the submodule"),
        requirement("every submodule in the mode it was in", lambda m, X: predict(m, X, restore="train"),
                    r"left the model in training mode"),
    ],
    "06.weight_decay_groups": [
        free("Weight decay (chapter 10) pulls parameters towards zero", "motivation"),
        free("It is meant for the weight matrices", "motivation"),
        free("common recipes leave out the biases", "motivation; the rows below test the rule"),
        requirement("a list of two dictionaries", lambda m, wd: groups(m, wd, n_groups=1), r"list of two"),
        requirement('`{"params": [...], "weight_decay": weight_decay}` with every trainable parameter of two or '
                    "more dimensions", lambda m, wd: groups(m, wd, decay_value=0.5), r"weight_decay values"),
        requirement('`{"params": [...], "weight_decay": 0.0}` with every trainable parameter of fewer than two '
                    "dimensions", lambda m, wd: groups(m, wd, rule="ndim1"), r"temperature is in neither group"),
        requirement('`{"params": [...], "weight_decay": 0.0}` with every trainable parameter of fewer than two '
                    "dimensions", lambda m, wd: groups(m, wd, rule="name"), r"in the group with decay"),
        requirement("is in neither group", lambda m, wd: groups(m, wd, frozen=True), r"frozen tensor"),
        requirement("only once, even when two layers share it", lambda m, wd: groups(m, wd, shared="module"),
                    r"listed twice"),
        requirement("Do not change the model", lambda m, wd: groups(m, wd, touch=True), r"changed the model"),
        requirement("`torch.optim.AdamW(weight_decay_groups(model, 0.01), lr=1e-3)` trains it",
                    lambda m, wd: groups(m, wd, container=set), r"set"),
    ],
    "06.torch_to_keras": [
        requirement("two, three or more `Linear` layers", lambda m: to_keras(m, first_two=True),
                    r"three or more"),
        requirement("Return a `keras.Model`", to_keras_function, r"should return a keras.Model"),
        requirement("the PyTorch weights copied in", lambda m: to_keras(m, transpose=False),
                    r"weight.T"),
        requirement("with the same layers", lambda m: to_keras(m, hidden=None), r"hidden layers have no activation"),
        requirement("with the same layers", lambda m: to_keras(m, output="relu"), r"leave the ReLU off the output"),
        requirement("Do not change the PyTorch model", lambda m: to_keras(m, mutate=True),
                    r"changed the PyTorch model"),
        free("`model` is a PyTorch `nn.Sequential` of `nn.Linear` layers", "the input"),
        free("The cell after the check compares the two", "what the notebook does next"),
    ],
    "06.softplus_function": [
        free("`torch.autograd.Function` lets you write", "what the class is"),
        free("autograd then calls your `backward`", "what the class is"),
        free("Write a class `Softplus(torch.autograd.Function)` with two static methods",
             "the class's form; PyTorch calls both through the class"),
        requirement(SOFTPLUS, softplus_class(forward="identity"), r"not log\(e\^x\) = x"),
        requirement("without overflow for large $x$", softplus_class(forward="naive"), r"overflows"),
        requirement("save what `backward` needs with `ctx.save_for_backward`", softplus_class(save="attribute"),
                    r"ctx.save_for_backward"),
        requirement("`backward(ctx, grad_output)` returns `grad_output` times the derivative",
                    softplus_class(backward="no_upstream"), r"multiply by grad_output"),
        requirement("$\\sigma(x) = 1/(1 + e^{-x})$", softplus_class(backward="softplus"), r"not softplus itself"),
        free("It is used as `y = Softplus.apply(x)`", "how the check calls it"),
        free("The softplus is the smooth cousin of the ReLU", "motivation"),
    ],
    "06.fit_herschel_bulkley": [
        free("Write `fit_herschel_bulkley(X, y)`: `X` is a NumPy array `(m, 4)` of raw inputs", "the inputs"),
        requirement("return it as an `nn.Module`", lambda X, y: fit_hb(X, y, epochs=0, kind="function"),
                    r"should return a torch.nn.Module"),
        requirement("to stresses in Pa", fit_hb_standardised_output, r"outputs are standardised stresses"),
        free("The check trains it on 4,000 fluids", "what the check does"),
        free("(your function may take up to two minutes", "the time limit, enforced by call(time_limit=120)"),
        requirement("requires a mean squared error of at most 0.05 Pa", lambda X, y: fit_hb(X, y, epochs=1),
                    r"the target is at most 0.05"),
        requirement("The standardisation of inputs and target must live inside the returned module",
                    lambda X, y: fit_hb(X, y, scale_inside=False), r"build the standardisation into it"),
        free("(for example as buffers saved with `register_buffer`)", "a suggestion"),
    ],
}
