"""Chapter 05 checks: wrong answers get the right hint, other correct answers pass."""

import functools

import numpy as np
import pytest

from course_utils import backprop
from course_utils.checks import CheckFailed, check

# ---------------------------------------------------------------- 05.fib_memo


def fib_loop(n):
    a, b = 1, 1
    for _ in range(n - 1):
        a, b = b, a + b
    return a


@functools.cache
def fib_cached(n):
    return 1 if n <= 2 else fib_cached(n - 1) + fib_cached(n - 2)


@pytest.mark.parametrize("answer", [fib_loop, fib_cached, lambda n: np.int64(fib_loop(n))])
def test_fib_accepts(answer):
    assert check("05.fib_memo", answer)


def fib_naive(n):
    return 1 if n <= 2 else fib_naive(n - 1) + fib_naive(n - 2)


def fib_float(n):
    memo = np.zeros(n + 1)
    memo[1:3] = 1
    for k in range(3, n + 1):
        memo[k] = memo[k - 1] + memo[k - 2]
    return memo[n]


@pytest.mark.parametrize("answer,hint", [
    (fib_naive, "store each F_k"),
    (fib_float, "is a float"),
    (lambda n: fib_loop(n + 1), r"F_\(n\+1\)"),
    (lambda n: fib_loop(n - 1) if n > 1 else 0, r"F_\(n-1\)"),
    (lambda n: 2 if n == 1 else fib_loop(n), "base cases"),
    (lambda n: None, "is None"),
])
def test_fib_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.fib_memo", answer)


# ---------------------------------------------------------------- 05.neuron_backward


def neuron(factor=2.0, sign=1.0, slope=True, mean=True):
    def backward(X, y, w, b):
        a = 1 / (1 + np.exp(-(X @ w + b)))
        g = sign * factor * (a - y) / (len(y) if mean else 1)
        if slope:
            g = g * a * (1 - a)
        return X.T @ g, g.sum()
    return backward


def neuron_loop(X, y, w, b):
    dw, db = np.zeros_like(w), 0.0
    for x_i, y_i in zip(X, y, strict=True):
        a = 1 / (1 + np.exp(-(np.dot(x_i, w) + b)))
        dz = 2 * (a - y_i) * a * (1 - a) / len(y)
        dw += dz * x_i
        db += dz
    return list(dw), np.array([db])


def neuron_float32(X, y, w, b):
    dw, db = neuron()(X.astype(np.float32), y.astype(np.float32), w.astype(np.float32), np.float32(b))
    return dw, db


@pytest.mark.parametrize("answer", [neuron(), neuron_loop, neuron_float32])
def test_neuron_accepts(answer):
    assert check("05.neuron_backward", answer)


@pytest.mark.parametrize("answer,hint", [
    (neuron(factor=1.0), "factor 2 is missing"),
    (neuron(sign=-1.0), "sign is wrong"),
    (neuron(slope=False), "derivative a \\(1 - a\\) is missing"),
    (neuron(mean=False), "divide by the number of samples"),
    (lambda X, y, w, b: np.zeros(3), "pair"),
])
def test_neuron_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.neuron_backward", answer)


# ---------------------------------------------------------------- 05.softmax_ce_grad


def ce_grad(Z, y):
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P = P / P.sum(axis=1, keepdims=True)
    return (P - np.eye(Z.shape[1])[y]) / len(y)


def ce_grad_logsumexp(Z, y):
    """Via log-probabilities, row by row."""
    out = []
    for z, label in zip(Z, y, strict=True):
        m = z.max()
        log_p = z - m - np.log(np.sum(np.exp(z - m)))
        row = np.exp(log_p)
        row[label] -= 1.0
        out.append(row / len(y))
    return np.array(out)


def ce_naive(Z, y):
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    return (P - np.eye(Z.shape[1])[y]) / len(y)


@pytest.mark.parametrize("answer", [ce_grad, ce_grad_logsumexp])
def test_ce_accepts(answer):
    assert check("05.softmax_ce_grad", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda Z, y: ce_grad(Z, y) * len(y), "1/n of the mean is missing"),
    (lambda Z, y: -ce_grad(Z, y), "sign is wrong"),
    (lambda Z, y: (ce_grad(Z, y) * len(y) + np.eye(Z.shape[1])[y] - y[:, None]) / len(y), "one-hot"),
    (lambda Z, y: (Z - np.eye(Z.shape[1])[y]) / len(y), "apply the softmax"),
    (ce_naive, "NaN or inf"),
])
def test_ce_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.softmax_ce_grad", answer)


# ---------------------------------------------------------------- 05.mlp_backward


def mlp(transpose_w1=False, mask=True, bias_axis=0, mean=True, sign=1.0):
    def backward(X, y, W1, b1, W2, b2):
        Z1 = X @ W1 + b1
        H = np.maximum(Z1, 0)
        dZ2 = sign * ce_grad(H @ W2 + b2, y) * (1 if mean else len(y))
        dZ1 = dZ2 @ W2.T * ((Z1 > 0) if mask else 1)
        dW1 = (dZ1.T @ X) if transpose_w1 else X.T @ dZ1
        return dW1, dZ1.sum(axis=bias_axis), H.T @ dZ2, dZ2.sum(axis=0)
    return backward


def mlp_module(X, y, W1, b1, W2, b2):
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    grads = backprop.backward(params, backprop.forward(params, X, y)[1], y)
    return [grads[k] for k in ("W1", "b1", "W2", "b2")]


def mlp_float32(X, y, W1, b1, W2, b2):
    args = [np.asarray(a, dtype=np.float32) for a in (X, W1, b1, W2, b2)]
    return mlp()(args[0], y, *args[1:])


@pytest.mark.parametrize("answer", [mlp(), mlp_module, mlp_float32])
def test_mlp_accepts(answer):
    assert check("05.mlp_backward", answer)


@pytest.mark.parametrize("answer,hint", [
    (mlp(transpose_w1=True), "dW1 is transposed"),
    (mlp(mask=False), "ReLU mask is missing"),
    (mlp(bias_axis=1), "summed over the wrong axis"),
    (mlp(mean=False), "n times too large"),
    (mlp(sign=-1.0), "wrong sign"),
    (lambda X, y, W1, b1, W2, b2: {"W1": W1}, "not a dict"),
])
def test_mlp_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.mlp_backward", answer)

