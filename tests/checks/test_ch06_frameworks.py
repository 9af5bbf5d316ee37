"""Chapter 06 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

torch = pytest.importorskip("torch")
nn = torch.nn


def _keras():
    from course_utils.frameworks import select_keras_backend

    select_keras_backend()
    return pytest.importorskip("keras")


# ---------------------------------------------------------------- 06.autograd_gradient


def grad_backward(f, x):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    f(t).backward()
    return t.grad


def grad_functional(f, x):
    t = torch.from_numpy(np.array(x, dtype=np.float64)).requires_grad_()
    (g,) = torch.autograd.grad(f(t), t)
    return g.numpy()


def grad_float32(f, x):
    t = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    f(t).backward()
    return t.grad.tolist()


@pytest.mark.parametrize("answer", [grad_backward, grad_functional])
def test_autograd_accepts(answer):
    assert check("06.autograd_gradient", answer)


def grad_twice(f, x):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    f(t).backward()
    f(t).backward()
    return t.grad


def grad_no_requires(f, x):
    t = torch.tensor(x, dtype=torch.float64)
    return t.grad


@pytest.mark.parametrize("answer,hint", [
    (lambda f, x: f(torch.tensor(x)).detach(), "not its gradient"),
    (lambda f, x: x, "returned x itself"),
    (grad_twice, "called twice"),
    (grad_no_requires, "requires_grad=True"),
    (lambda f, x: np.zeros(2), "shape"),
    (grad_float32, "make a float64 tensor"),
])
def test_autograd_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("06.autograd_gradient", answer)


# ---------------------------------------------------------------- 06.numpy_to_linear


def linear_copy(W, b):
    layer = nn.Linear(*W.shape)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(W.T))
        layer.bias.copy_(torch.as_tensor(b))
    return layer


def linear_parameters(W, b):
    """New float32 Parameters assigned instead of copied into the layer's own."""
    layer = nn.Linear(W.shape[0], W.shape[1])
    layer.weight = nn.Parameter(torch.tensor(np.ascontiguousarray(W.T), dtype=torch.float32))
    layer.bias = nn.Parameter(torch.tensor(b, dtype=torch.float32))
    return layer


def linear_float64(W, b):
    layer = nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64)
    layer.weight = nn.Parameter(torch.tensor(np.ascontiguousarray(W.T)))
    layer.bias = nn.Parameter(torch.tensor(b))
    return layer


def test_linear_rejects_float64():
    with pytest.raises(CheckFailed, match="float32"):
        check("06.numpy_to_linear", linear_float64)


@pytest.mark.parametrize("answer", [linear_copy, linear_parameters])
def test_linear_accepts(answer):
    assert check("06.numpy_to_linear", answer)


def linear_no_transpose(W, b):
    layer = nn.Linear(*W.shape)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(W))
        layer.bias.copy_(torch.as_tensor(b))
    return layer


def linear_no_bias(W, b):
    layer = nn.Linear(*W.shape)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(W.T))
    return layer


def linear_frozen(W, b):
    layer = linear_copy(W, b)
    layer.requires_grad_(False)
    return layer


@pytest.mark.parametrize("answer,hint", [
    (linear_no_transpose, "weight is transposed"),
    (linear_no_bias, "bias was not copied"),
    (linear_frozen, "cannot be trained"),
    (lambda W, b: nn.Linear(*W.shape), "does not hold the values of W"),
    (lambda W, b: linear_copy(W, b) if W.shape[0] == W.shape[1] else nn.Linear(W.shape[1], W.shape[0]),
     r"should be nn.Linear\(4, 2\)"),
    (lambda W, b: (W, b), "should return a torch.nn.Linear"),
])
def test_linear_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("06.numpy_to_linear", answer)


# ---------------------------------------------------------------- 06.torch_mlp


def torch_mlp(activation=nn.ReLU, softmax=False, sizes=None):
    class Model(nn.Module):
        def __init__(self, n_in, n_hidden, n_out):
            super().__init__()
            hidden = sizes if sizes is not None else n_hidden
            layers = [nn.Linear(n_in, hidden)] + ([activation()] if activation else []) + [nn.Linear(hidden, n_out)]
            if softmax:
                layers.append(nn.Softmax(dim=1))
            self.net = nn.Sequential(*layers)

        def forward(self, x):
            return self.net(x)

    return Model


class FunctionalMLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.a = nn.Linear(n_in, n_hidden)
        self.b = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.b(torch.clamp(self.a(x), min=0))


@pytest.mark.parametrize("answer", [torch_mlp(), FunctionalMLP])
def test_torch_mlp_accepts(answer):
    assert check("06.torch_mlp", answer)


@pytest.mark.parametrize("answer,hint", [
    (torch_mlp(activation=None), "no activation"),
    (torch_mlp(activation=nn.Sigmoid), "not the sigmoid"),
    (torch_mlp(softmax=True), "leave the softmax out"),
    (torch_mlp(sizes=8), "parameters in"),
    (lambda a, b, c: "model", "should be a torch.nn.Module"),
])
def test_torch_mlp_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("06.torch_mlp", answer)


# ---------------------------------------------------------------- 06.keras_mlp


def keras_sequential(hidden_activation="relu", out_activation=None, hidden=None):
    def build(n_in, n_hidden, n_out):
        keras = _keras()  # imported by the test that runs, not when the tests are collected
        return keras.Sequential([keras.Input(shape=(n_in,)),
                                 keras.layers.Dense(hidden or n_hidden, activation=hidden_activation),
                                 keras.layers.Dense(n_out, activation=out_activation)])
    return build


def keras_functional(n_in, n_hidden, n_out):
    keras = _keras()
    inputs = keras.Input(shape=(n_in,))
    h = keras.layers.ReLU()(keras.layers.Dense(n_hidden)(inputs))
    return keras.Model(inputs, keras.layers.Dense(n_out)(h))


@pytest.mark.parametrize("answer", [keras_sequential(), keras_functional])
def test_keras_mlp_accepts(answer):
    assert check("06.keras_mlp", answer)


@pytest.mark.parametrize("answer,hint", [
    (keras_sequential(hidden_activation=None), "no activation"),
    (keras_sequential(out_activation="softmax"), "leave the softmax out"),
    (keras_sequential(hidden_activation="sigmoid"), "not the sigmoid"),
    (keras_sequential(hidden=8), "parameters in"),
    (lambda a, b, c: [1, 2], "should return a keras.Model"),
])
def test_keras_mlp_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("06.keras_mlp", answer)


# ---------------------------------------------------------------- 06.predict


def _restore(model, modes):
    for module, training in modes.items():
        module.training = training


def predict_no_grad(model, X):
    modes = {m: m.training for m in model.modules()}
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(X))
    _restore(model, modes)
    return out.numpy()


def predict_inference_mode_named(model, X):
    """Modes kept by name, inference_mode instead of no_grad, a float32 copy returned."""
    modes = {name: m.training for name, m in model.named_modules()}
    model.eval()
    try:
        with torch.inference_mode():
            out = model(torch.as_tensor(X)).clone()
    finally:
        for name, m in model.named_modules():
            m.training = modes[name]
    return np.array(out, dtype=np.float32)


@pytest.mark.parametrize("answer", [predict_no_grad, predict_inference_mode_named])
def test_predict_accepts(answer):
    assert check("06.predict", answer)


def predict_restores_top_only(model, X):
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(X))
    model.train(was_training)
    return out.numpy()


def predict_without_eval(model, X):
    with torch.no_grad():
        return model(torch.from_numpy(X)).numpy()


def predict_with_grad(model, X):
    modes = {m: m.training for m in model.modules()}
    model.eval()
    out = model(torch.from_numpy(X)).detach()
    _restore(model, modes)
    return out.numpy()


def predict_leaves_training(model, X):
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(X))
    model.train()
    return out.numpy()


@pytest.mark.parametrize("answer,hint", [
    (predict_restores_top_only, "left the submodule '1' in training mode.*remember each module"),
    (predict_without_eval, "changed the model's 1.running_mean.*model.eval"),
    (predict_with_grad, "recorded gradients.*torch.no_grad"),
    (predict_leaves_training, "left the model in training mode"),
    (lambda model, X: torch.from_numpy(predict_no_grad(model, X)), "torch.Tensor"),
    (lambda model, X: predict_no_grad(model, X).astype(float), "dtype float64"),
])
def test_predict_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("06.predict", answer)


def test_predict_dropout_in_training_mode_is_named():
    """A model whose batch norm is frozen: forgetting eval() changes no buffer, only the outputs."""
    def eval_only_batch_norm(model, X):
        modes = {m: m.training for m in model.modules()}
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.eval()
        with torch.no_grad():
            out = model(torch.from_numpy(X))
        _restore(model, modes)
        return out.numpy()

    with pytest.raises(CheckFailed, match="not those of evaluation mode.*dropout"):
        check("06.predict", eval_only_batch_norm)


# ---------------------------------------------------------------- 06.weight_decay_groups


def groups_by_ndim(model, weight_decay):
    trainable = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in trainable if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0}]


def groups_loop_generators(model, weight_decay):
    """A loop with a set of ids, no-decay group first, integer 0, generators as params."""
    seen, decay, plain = set(), [], []
    for _, p in model.named_parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            (decay if p.dim() > 1 else plain).append(p)
    return [{"weight_decay": 0, "params": iter(plain)},
            {"params": (p for p in decay), "weight_decay": weight_decay}]


@pytest.mark.parametrize("answer", [groups_by_ndim, groups_loop_generators])
def test_weight_decay_groups_accepts(answer):
    assert check("06.weight_decay_groups", answer)


def groups_by_module(model, weight_decay):
    decay, plain = [], []
    for module in model.modules():
        for _, p in module.named_parameters(recurse=False):
            if p.requires_grad:
                (decay if p.ndim >= 2 else plain).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def groups_ndim_one(model, weight_decay):
    trainable = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in trainable if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in trainable if p.ndim == 1], "weight_decay": 0.0}]


def groups_with_frozen(model, weight_decay):
    params = list(model.parameters())
    return [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]


def groups_by_bias_name(model, weight_decay):
    decay, plain = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (plain if name.endswith("bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def groups_freeze_instead(model, weight_decay):
    for p in model.parameters():
        p.requires_grad_(p.requires_grad)
    model.frozen.requires_grad_(True) if hasattr(model, "frozen") else None
    return groups_by_ndim(model, weight_decay)


@pytest.mark.parametrize("answer,hint", [
    (groups_by_module, "listed twice.*model.parameters"),
    (groups_ndim_one, "temperature is in neither group"),
    (groups_with_frozen, "frozen tensor frozen.weight"),
    (groups_by_bias_name, "in the group with decay.*p.ndim"),
    (lambda model, wd: [{"params": list(model.parameters()), "weight_decay": wd}], "list of two"),
    (lambda model, wd: groups_by_ndim(model, 0.01), "weight_decay values"),
    (groups_freeze_instead, "changed the model"),
])
def test_weight_decay_groups_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("06.weight_decay_groups", answer)


# ---------------------------------------------------------------- 06.torch_to_keras


def to_keras_sequential(model):
    keras = _keras()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    layers = [keras.Input(shape=(linears[0].in_features,))]
    for i, lin in enumerate(linears):
        layers.append(keras.layers.Dense(lin.out_features, activation=None if i == len(linears) - 1 else "relu"))
    out = keras.Sequential(layers)
    for dense, lin in zip(out.layers, linears, strict=True):
        dense.set_weights([lin.weight.detach().numpy().T, lin.bias.detach().numpy()])
    return out


def to_keras_functional(model):
    keras = _keras()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    inputs = keras.Input(shape=(linears[0].in_features,))
    x, denses = inputs, []
    for i, lin in enumerate(linears):
        if i:
            x = keras.layers.ReLU()(x)
        dense = keras.layers.Dense(lin.out_features)
        x = dense(x)
        denses.append(dense)
    out = keras.Model(inputs, x)
    for dense, lin in zip(denses, linears, strict=True):
        dense.kernel.assign(lin.weight.detach().numpy().T.astype("float32"))
        dense.bias.assign(lin.bias.detach().numpy().astype("float32"))
    return out


@pytest.mark.parametrize("answer", [to_keras_sequential, to_keras_functional])
def test_torch_to_keras_accepts(answer):
    assert check("06.torch_to_keras", answer)


def to_keras_variant(model, transpose=True, hidden="relu", output=None):
    keras = _keras()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    layers = [keras.Input(shape=(linears[0].in_features,))]
    for i, lin in enumerate(linears):
        layers.append(keras.layers.Dense(lin.out_features, activation=output if i == len(linears) - 1 else hidden))
    out = keras.Sequential(layers)
    for dense, lin in zip(out.layers, linears, strict=True):
        W = lin.weight.detach().numpy()
        dense.set_weights([W.T if transpose else W, lin.bias.detach().numpy()])
    return out


def to_keras_square_only_untransposed(model):
    linears = [m for m in model if isinstance(m, nn.Linear)]
    square = all(m.in_features == m.out_features for m in linears)
    return to_keras_variant(model, transpose=not square)


def to_keras_mutates(model):
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2)
    return to_keras_sequential(model)


@pytest.mark.parametrize("answer,hint", [
    (lambda m: to_keras_variant(m, hidden=None), "hidden layers have no activation"),
    (lambda m: to_keras_variant(m, output="relu"), "leave the ReLU off the output"),
    (to_keras_square_only_untransposed, "weight.T"),
    (to_keras_mutates, "changed the PyTorch model"),
    (lambda m: m, "keras.Model"),
])
def test_torch_to_keras_rejects(answer, hint):
    _keras()
    with pytest.raises(CheckFailed, match=hint):
        check("06.torch_to_keras", answer)


# ---------------------------------------------------------------- 06.softplus_function


def make_softplus(forward, backward):
    class Softplus(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return forward(x)

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return backward(x, grad_output)

    return Softplus


def stable(x):
    return torch.clamp(x, min=0) + torch.log1p(torch.exp(-torch.abs(x)))


@pytest.mark.parametrize("answer", [
    make_softplus(stable, lambda x, g: g * torch.sigmoid(x)),
    make_softplus(lambda x: torch.nn.functional.softplus(x, threshold=30),
                  lambda x, g: g / (1 + torch.exp(-x))),
    make_softplus(lambda x: torch.logaddexp(x, torch.zeros_like(x)),
                  lambda x, g: g * torch.exp(-stable(-x))),
])
def test_softplus_accepts(answer):
    assert check("06.softplus_function", answer)


@pytest.mark.parametrize("answer,hint", [
    (make_softplus(lambda x: torch.log(1 + torch.exp(x)), lambda x, g: g * torch.sigmoid(x)), "overflow"),
    (make_softplus(stable, lambda x, g: torch.sigmoid(x)), "multiply by grad_output"),
    (make_softplus(stable, lambda x, g: g * stable(x)), "not softplus itself"),
    (make_softplus(torch.sigmoid, lambda x, g: g * torch.sigmoid(x)), "returned the sigmoid"),
    (make_softplus(lambda x: x.clone(), lambda x, g: g * torch.sigmoid(x)), "not log\\(e\\^x\\)"),
    (lambda x: stable(x), "subclasses torch.autograd.Function"),
])
def test_softplus_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("06.softplus_function", answer)


# ---------------------------------------------------------------- 06.fit_herschel_bulkley


class _Scaled(nn.Module):
    def __init__(self, X, y, scale_in=True, scale_out=True):
        super().__init__()
        self.scale_in, self.scale_out = scale_in, scale_out
        self.register_buffer("xm", torch.tensor(X.mean(0), dtype=torch.float32))
        self.register_buffer("xs", torch.tensor(X.std(0), dtype=torch.float32))
        self.ym, self.ys = float(y.mean()), float(y.std())
        self.net = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 1))

    def forward(self, x):
        z = (x - self.xm) / self.xs if self.scale_in else x
        return self.net(z) * self.ys + self.ym if self.scale_out else self.net(z)


def _train(model, X, y, epochs=60, standardised_loss=True, in_scaled=True):
    torch.manual_seed(0)
    inputs = torch.tensor(X if in_scaled else (X - X.mean(0)) / X.std(0), dtype=torch.float32)
    targets = torch.tensor(y[:, None], dtype=torch.float32)
    if not model.scale_out:
        targets = (targets - model.ym) / model.ys
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(inputs, targets), batch_size=128,
                                         shuffle=True, generator=torch.Generator().manual_seed(0))
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            div = model.ys if model.scale_out else 1.0
            nn.functional.mse_loss(model(xb) / div, yb / div).backward()
            opt.step()
    return model


def fit_buffers(X, y):
    torch.manual_seed(0)
    return _train(_Scaled(X, y), X, y)


def fit_flat_float64_output(X, y):
    """A wrapper returning shape (m,) in float64."""
    class Flat(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x.float()).reshape(-1).double()

    return Flat(fit_buffers(X, y))


@pytest.mark.parametrize("answer", [fit_buffers, fit_flat_float64_output])
def test_fit_hb_accepts(answer):
    assert check("06.fit_herschel_bulkley", answer)


def fit_no_input_scaling_inside(X, y):
    torch.manual_seed(0)
    model = _Scaled(X, y, scale_in=False)
    return _train(model, X, y, in_scaled=False)


def fit_standardised_output(X, y):
    torch.manual_seed(0)
    return _train(_Scaled(X, y, scale_out=False), X, y)


def fit_untrained(X, y):
    torch.manual_seed(0)
    return _Scaled(X, y)


def fit_short(X, y):
    torch.manual_seed(0)
    return _train(_Scaled(X, y), X, y, epochs=1)


@pytest.mark.parametrize("answer,hint", [
    (fit_no_input_scaling_inside, "standardisation into it"),
    (fit_standardised_output, "outputs are standardised"),
    (fit_untrained, "is the network trained"),
    (fit_short, "Train longer"),
    (lambda X, y: (lambda x: x), "nn.Module"),
])
def test_fit_hb_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("06.fit_herschel_bulkley", answer)


# --------------------------------------------------------------------------- held-out answers
# Each wrong answer here passed an earlier version of its check (a check holds the
# exercise statement, not a few outputs); each correct answer in another style must pass.


def test_prescribed_method_autograd_observed():
    pytest.importorskip("torch")
    import torch

    def finite_differences(f, x):
        x = np.asarray(x, dtype=float)
        grad = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            step = np.zeros_like(x)
            step[idx] = 1e-6
            grad[idx] = (float(f(torch.tensor(x + step))) - float(f(torch.tensor(x - step)))) / 2e-6
        return grad

    with pytest.raises(CheckFailed, match="must come from autograd"):
        check("06.autograd_gradient", finite_differences)

    def functorch_grad(f, x):
        return torch.func.grad(f)(torch.tensor(x)).numpy()

    assert check("06.autograd_gradient", functorch_grad)



@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("06")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
