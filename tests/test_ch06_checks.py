"""Chapter 06 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check

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


@pytest.mark.parametrize("answer", [grad_backward, grad_functional, grad_float32])
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
    layer = nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64)
    layer.weight = nn.Parameter(torch.tensor(np.ascontiguousarray(W.T)))
    layer.bias = nn.Parameter(torch.tensor(b))
    return layer


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
    keras = _keras()

    def build(n_in, n_hidden, n_out):
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
