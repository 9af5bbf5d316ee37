"""Chapter 05 checks: wrong answers get the right hint, other correct answers pass."""

import functools

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

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


# ---------------------------------------------------------------- 05.tanh_layer_backward


def tanh_backward_loops(X, W, b, dH):
    n, d = X.shape
    h = W.shape[1]
    dX, dW, db = np.zeros((n, d)), np.zeros((d, h)), np.zeros(h)
    for i in range(n):
        for j in range(h):
            dz = dH[i, j] * (1 - np.tanh(X[i] @ W[:, j] + b[j]) ** 2)
            db[j] += dz
            dW[:, j] += dz * X[i]
            dX[i] += dz * W[:, j]
    return dX, dW, db


def tanh_backward_einsum_float32(X, W, b, dH):
    f = np.float32
    Z = (X.astype(f) @ W.astype(f) + b.astype(f))
    dZ = dH.astype(f) / np.cosh(Z) ** 2
    return [np.einsum("nh,dh->nd", dZ, W.astype(f)), np.einsum("nd,nh->dh", X.astype(f), dZ),
            dZ.sum(axis=0)]


@pytest.mark.parametrize("answer", [tanh_backward_loops, tanh_backward_einsum_float32])
def test_tanh_layer_backward_accepts(answer):
    assert check("05.tanh_layer_backward", answer)


def _tanh_parts(X, W, b, dH):
    H = np.tanh(X @ W + b)
    return H, dH * (1 - H**2)


@pytest.mark.parametrize("answer,hint", [
    (lambda X, W, b, dH: (dH @ W.T, X.T @ dH, dH.sum(0)), "derivative 1 - H\\*\\*2 is missing"),
    (lambda X, W, b, dH: (dH * (1 - np.tanh(X @ W + b))) @ W.T, "should return the tuple"),
    (lambda X, W, b, dH: ((lambda H, dZ: (dZ @ W.T, (X.T @ dZ).T, dZ.sum(0)))(*_tanh_parts(X, W, b, dH))),
     "dW is transposed"),
    (lambda X, W, b, dH: ((lambda H, dZ: (dZ @ W.T, X.T @ dZ, dZ.sum(1)))(*_tanh_parts(X, W, b, dH))),
     "axis 0"),
    (lambda X, W, b, dH: ((lambda H, dZ: (dZ @ W.T, X.T @ (dH * (1 - H)), dZ.sum(0)))(
        *_tanh_parts(X, W, b, dH))), "not 1 - tanh\\(Z\\)"),
    (lambda X, W, b, dH: None, "is None"),
])
def test_tanh_layer_backward_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.tanh_layer_backward", answer)


# ---------------------------------------------------------------- 05.soft_cross_entropy


def soft_ce_logaddexp(Z, T):
    log_norm = np.logaddexp.reduce(Z, axis=1, keepdims=True)
    log_P = Z - log_norm
    return float(-np.mean(np.sum(T * log_P, axis=1))), (np.exp(log_P) - T) / len(Z)


def soft_ce_loops(Z, T):
    n, _ = Z.shape
    loss, grad = 0.0, np.zeros_like(Z)
    for i in range(n):
        m = max(Z[i])
        log_sum = m + np.log(sum(np.exp(z - m) for z in Z[i]))
        loss -= sum(t * (z - log_sum) for t, z in zip(T[i], Z[i], strict=True))
        grad[i] = (np.exp(Z[i] - log_sum) - T[i]) / n
    return [loss / n, grad]


@pytest.mark.parametrize("answer", [soft_ce_logaddexp, soft_ce_loops])
def test_soft_cross_entropy_accepts(answer):
    assert check("05.soft_cross_entropy", answer)


def _stable_parts(Z):
    shifted = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return P


@pytest.mark.parametrize("answer,hint", [
    (lambda Z, T: (-np.sum(T * np.log(_stable_parts(Z) + 1e-12)) / len(Z), (_stable_parts(Z) - T) / len(Z)),
     "log-sum-exp"),
    (lambda Z, T: (-np.sum(T * np.log(_stable_parts(Z) + 1e-300)) * 0 + soft_ce_logaddexp(Z, T)[0],
                   (T - _stable_parts(Z)) / len(Z)), "sign is wrong"),
    (lambda Z, T: (soft_ce_logaddexp(Z, T)[0] * len(Z), soft_ce_logaddexp(Z, T)[1]), "divide the sum by n"),
    (lambda Z, T: (soft_ce_logaddexp(Z, T)[0], _stable_parts(Z) - T), "1/n of the mean"),
    (lambda Z, T: soft_ce_logaddexp(Z, T)[1], "should return the pair"),
])
def test_soft_cross_entropy_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.soft_cross_entropy", answer)


# ---------------------------------------------------------------- 05.mlp_jvp


def jvp_by_jacobian(x, v, W1, b1, W2, b2):
    """Another method: build the Jacobian explicitly, then multiply."""
    h = np.tanh(x @ W1 + b1)
    J = W2.T @ np.diag(1 - h**2) @ W1.T
    return h @ W2 + b2, J @ v


def jvp_complex_step(x, v, W1, b1, W2, b2):
    """Complex-step differentiation: exact to rounding, another forward-mode trick."""
    eps = 1e-30
    out = np.tanh((x + 1j * eps * v) @ W1 + b1) @ W2 + b2
    return out.real, out.imag / eps


@pytest.mark.parametrize("answer", [jvp_by_jacobian, jvp_complex_step])
def test_mlp_jvp_accepts(answer):
    assert check("05.mlp_jvp", answer)


def jvp_finite_difference(x, v, W1, b1, W2, b2, eps=1e-6):
    def g(z):
        return np.tanh(z @ W1 + b1) @ W2 + b2
    return g(x), (g(x + eps * v) - g(x)) / eps


def jvp_reverse(x, v, W1, b1, W2, b2):
    h = np.tanh(x @ W1 + b1)
    return h @ W2 + b2, ((np.ones(W2.shape[1]) @ W2.T) * (1 - h**2)) @ W1.T * v


@pytest.mark.parametrize("answer,hint", [
    (lambda x, v, W1, b1, W2, b2: (np.tanh(x @ W1 + b1) @ W2 + b2, v @ W1 @ W2), "tanh derivative is missing"),
    (jvp_finite_difference, "finite difference"),
    (jvp_reverse, "vector-Jacobian"),
    (lambda x, v, W1, b1, W2, b2: (x @ W1 @ W2, v @ W1 @ W2), "g\\(x\\)"),
    (lambda x, v, W1, b1, W2, b2: np.zeros(3), "should return the pair"),
])
def test_mlp_jvp_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.mlp_jvp", answer)


# --------------------------------------------------------------------------- held-out answers
# Each wrong answer here passed an earlier version of its check (a check holds the
# exercise statement, not a few outputs); each correct answer in another style must pass.


def test_stability_softmax_gradient_needs_the_row_maximum():
    """Subtracting the batch maximum is stable on one scale only: rows on +-1000 tell it apart."""
    def global_max(Z, y):
        e = np.exp(Z - Z.max())
        P = e / e.sum(axis=1, keepdims=True)
        P[np.arange(len(y)), y] -= 1.0
        return P / len(y)

    with pytest.raises(CheckFailed, match="each row's own maximum"):
        check("05.softmax_ce_grad", global_max)



@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("05")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
