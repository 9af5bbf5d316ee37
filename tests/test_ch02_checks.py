"""Chapter 02 checks: wrong answers get the right hint, other correct answers pass."""

import math

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check

# ----------------------------------------------------------------------- 02.mse


def mse_loop(y_true, y_pred):
    a, b = np.ravel(y_true), np.ravel(y_pred)
    return sum((p - t) ** 2 for p, t in zip(a, b, strict=True)) / len(a)


@pytest.mark.parametrize("answer", [
    lambda y_true, y_pred: np.mean((np.ravel(y_pred) - np.ravel(y_true)) ** 2),
    mse_loop,
    lambda y_true, y_pred: np.float32(np.square(np.reshape(y_true, -1) - np.reshape(y_pred, -1)).mean()),
])
def test_mse_accepts(answer):
    assert check("02.mse", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda t, p: np.sum((np.ravel(p) - np.ravel(t)) ** 2), "sum, not the mean"),
    (lambda t, p: np.mean(np.ravel(p) - np.ravel(t)), "square the differences"),
    (lambda t, p: np.sqrt(np.mean((np.ravel(p) - np.ravel(t)) ** 2)), "root mean squared"),
    (lambda t, p: np.mean(np.abs(np.ravel(p) - np.ravel(t))), "MAE"),
    (lambda t, p: np.mean((np.asarray(p) - np.asarray(t)) ** 2), "n x n matrix"),
    (lambda t, p: (np.ravel(p) - np.ravel(t)) ** 2, "not one value per sample|single number|shape"),
])
def test_mse_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.mse", answer)


# ----------------------------------------------------------------------- 02.binary_cross_entropy


def bce_logaddexp(y, z):
    return np.mean(np.logaddexp(0.0, z) - y * z)


def bce_two_terms(y, z):
    """y * softplus(-z) + (1 - y) * softplus(z), written with np.where."""
    y, z = np.asarray(y, dtype=float), np.asarray(z, dtype=float)

    def softplus(v):
        return np.where(v > 0, v + np.log1p(np.exp(-np.abs(v))), np.log1p(np.exp(-np.abs(v))))

    return np.mean(y * softplus(-z) + (1 - y) * softplus(z))


@pytest.mark.parametrize("answer", [bce_logaddexp, bce_two_terms])
def test_bce_accepts(answer):
    assert check("02.binary_cross_entropy", answer)


def _sig(z):
    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))


@pytest.mark.parametrize("answer,hint", [
    (lambda y, z: -bce_logaddexp(y, z), "sign is wrong"),
    (lambda y, z: len(y) * bce_logaddexp(y, z), "sum, not the mean"),
    (lambda y, z: bce_logaddexp(1 - y, z), "swapped"),
    (lambda y, z: -np.mean(y * np.log(_sig(z)) + (1 - y) * np.log(1 - _sig(z))), "log\\(0\\) = -inf"),
    (lambda y, z: -np.mean(y * np.log(np.clip(_sig(z), 1e-7, 1 - 1e-7))
                           + (1 - y) * np.log(1 - np.clip(_sig(z), 1e-7, 1 - 1e-7))), "caps the loss"),
    (lambda y, z: -np.mean(y * np.log(z) + (1 - y) * np.log(1 - z)), "not probabilities"),
])
def test_bce_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.binary_cross_entropy", answer)


# ----------------------------------------------------------------------- 02.logistic_gradient


def grad_loop(X, y, w, b):
    n, d = X.shape
    gw, gb = np.zeros(d), 0.0
    for i in range(n):
        p = 1 / (1 + math.exp(-(X[i] @ w + b)))
        gw += (p - y[i]) * X[i] / n
        gb += (p - y[i]) / n
    return gw, gb


def grad_einsum(X, y, w, b):
    error = np.tanh((X @ w + b) / 2) / 2 + 0.5 - y  # sigma via tanh
    return np.einsum("nd,n->d", X, error) / len(y), float(error.sum() / len(y))


@pytest.mark.parametrize("answer", [grad_loop, grad_einsum])
def test_logistic_gradient_accepts(answer):
    assert check("02.logistic_gradient", answer)


def _grad(scale=1.0, sign=1.0, use_sigmoid=True, bias=True):
    def gradient(X, y, w, b):
        z = X @ w + b
        error = sign * ((_sig(z) if use_sigmoid else z) - y)
        n = len(y) if scale == 1.0 else 1
        return X.T @ error / n, (error.mean() if bias else 0.0)
    return gradient


@pytest.mark.parametrize("answer,hint", [
    (_grad(scale=0.0), "divide by the number of samples"),
    (_grad(sign=-1.0), "sign is wrong"),
    (_grad(use_sigmoid=False), "apply the sigmoid"),
    (_grad(bias=False), "bias gradient is not zero"),
    (lambda X, y, w, b: (2 * _grad()(X, y, w, b)[0], _grad()(X, y, w, b)[1]), "factor 2"),
    (lambda X, y, w, b: _grad()(X, y, w, b)[0], "pair"),
])
def test_logistic_gradient_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.logistic_gradient", answer)


# ----------------------------------------------------------------------- 02.gradient_descent


def gd_preallocated(grad, x0, lr, n_steps):
    x0 = np.asarray(x0, dtype=np.float64)
    out = np.zeros((n_steps + 1,) + x0.shape)
    out[0] = x0
    for k in range(1, n_steps + 1):
        out[k] = out[k - 1] - lr * grad(out[k - 1])
    return out


def gd_list(grad, x0, lr, n_steps):
    x, path = x0, [x0]
    for _ in range(n_steps):
        x = x - lr * grad(x)
        path.append(x)
    return np.array(path)


@pytest.mark.parametrize("answer", [gd_preallocated, gd_list])
def test_gradient_descent_accepts(answer):
    assert check("02.gradient_descent", answer)


def _gd_in_place(grad, x0, lr, n_steps):
    x = np.array(x0, dtype=float)
    path = [x]
    for _ in range(n_steps):
        x -= lr * grad(x)
        path.append(x)
    return np.array(path)


def _gd_mutates_x0(grad, x0, lr, n_steps):
    if isinstance(x0, np.ndarray):
        x0 -= 0.0 * x0 + 1e-3
    return gd_list(grad, x0, lr, n_steps)


@pytest.mark.parametrize("answer,hint", [
    (lambda g, x0, lr, n: gd_list(lambda v: -g(v), x0, lr, n), "uphill"),
    (lambda g, x0, lr, n: gd_list(g, x0, lr, n)[1:], "starting point"),
    (lambda g, x0, lr, n: gd_list(g, x0, lr, n + 1), "one point too many"),
    (lambda g, x0, lr, n: gd_list(g, x0, 1.0, n), "learning rate"),
    (lambda g, x0, lr, n: gd_list(g, x0, lr, n)[-1], "only the last point"),
    (_gd_in_place, "equals the last one"),
    (_gd_mutates_x0, "in place"),
])
def test_gradient_descent_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.gradient_descent", answer)


# ----------------------------------------------------------------------- 02.minibatches


def batches_ok(X, y, batch_size, rng):
    order = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        yield X[order[start:start + batch_size]], y[order[start:start + batch_size]]


def batches_split(X, y, batch_size, rng):
    """Returns a list (not a generator), built with np.array_split on a shuffled copy."""
    order = rng.permutation(len(X))
    n_batches = math.ceil(len(X) / batch_size)
    chunks = [order[i * batch_size:(i + 1) * batch_size] for i in range(n_batches)]
    return [(X[c], y[c]) for c in chunks]


@pytest.mark.parametrize("answer", [batches_ok, batches_split])
def test_minibatches_accepts(answer):
    assert check("02.minibatches", answer)


def _no_shuffle(X, y, batch_size, rng):
    for start in range(0, len(X), batch_size):
        yield X[start:start + batch_size], y[start:start + batch_size]


def _separate(X, y, batch_size, rng):
    ox, oy = rng.permutation(len(X)), rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        yield X[ox[start:start + batch_size]], y[oy[start:start + batch_size]]


def _drop_last(X, y, batch_size, rng):
    order = rng.permutation(len(X))
    for start in range(0, len(X) - batch_size + 1, batch_size):
        yield X[order[start:start + batch_size]], y[order[start:start + batch_size]]


def _with_replacement(X, y, batch_size, rng):
    for start in range(0, len(X), batch_size):
        idx = rng.integers(0, len(X), size=min(batch_size, len(X) - start))
        yield X[idx], y[idx]


def _in_place(X, y, batch_size, rng):
    state = rng.bit_generator.state
    rng.shuffle(X)
    rng.bit_generator.state = state
    rng.shuffle(y)
    for start in range(0, len(X), batch_size):
        yield X[start:start + batch_size], y[start:start + batch_size]


def _fixed_seed(X, y, batch_size, rng):
    return batches_ok(X, y, batch_size, np.random.default_rng(123))


@pytest.mark.parametrize("answer,hint", [
    (_no_shuffle, "original order"),
    (_separate, "SAME permutation"),
    (_drop_last, "last batch"),
    (_with_replacement, "appear twice"),
    (_in_place, "in place"),
    (_fixed_seed, "use the rng argument"),
])
def test_minibatches_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.minibatches", answer)


def test_make_linear_regression_is_seeded_and_linear():
    from course_utils.data.synthetic import make_linear_regression

    X, y = make_linear_regression(n=500, seed=3, w=(2.0, -1.0), b=0.5, noise=0.0)
    assert X.shape == (500, 2) and y.shape == (500,)
    np.testing.assert_allclose(y, X @ np.array([2.0, -1.0]) + 0.5)
    X2, y2 = make_linear_regression(n=500, seed=3, w=(2.0, -1.0), b=0.5, noise=0.0)
    np.testing.assert_array_equal(X, X2)
    _, noisy = make_linear_regression(n=2000, seed=0, noise=0.3)
    assert noisy.shape == (2000,)
