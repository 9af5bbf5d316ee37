"""Chapter 01 checks: wrong answers get the right hint, other correct answers pass."""

import math

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check


def stable_sigmoid(z):
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def tanh_sigmoid(z):
    """sigma(z) = (1 + tanh(z / 2)) / 2: a different, equally stable formula."""
    return 0.5 * (1 + np.tanh(np.asarray(z, dtype=float) / 2))


def loop_sigmoid(z):
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    for idx, v in np.ndenumerate(z):
        out[idx] = 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))
    return out


def float32_sigmoid(z):
    z = np.asarray(z, dtype=np.float32)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(np.float32)


# ----------------------------------------------------------------------- 01.sigmoid


@pytest.mark.parametrize("answer", [stable_sigmoid, tanh_sigmoid, loop_sigmoid, float32_sigmoid])
def test_sigmoid_accepts(answer):
    assert check("01.sigmoid", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda z: 1 / (1 + np.exp(z)), "sign in the exponent"),
    (lambda z: np.exp(z) / (1 + np.exp(z)), "np.exp overflowed"),
    (lambda z: 1 / (1 + np.exp(-z)), "BOTH branches"),
    (lambda z: np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z))), "BOTH branches"),
    (np.tanh, "tanh, not the sigmoid"),
    (lambda z: None, "is None"),
])
def test_sigmoid_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("01.sigmoid", answer)


def test_sigmoid_in_place_and_crash():
    def in_place(z):
        z *= -1
        return stable_sigmoid(-z)

    with pytest.raises(CheckFailed, match="in place"):
        check("01.sigmoid", in_place)
    with pytest.raises(CheckFailed, match="raised ZeroDivisionError"):
        check("01.sigmoid", lambda z: 1 / 0)


# ----------------------------------------------------------------------- 01.sigmoid_derivative


@pytest.mark.parametrize("answer", [
    lambda z: stable_sigmoid(z) * (1 - stable_sigmoid(z)),
    lambda z: stable_sigmoid(z) * stable_sigmoid(-z),
    lambda z: 0.25 / np.cosh(np.asarray(z, dtype=float) / 2) ** 2,
])
def test_sigmoid_derivative_accepts(answer):
    with np.errstate(over="ignore"):
        assert check("01.sigmoid_derivative", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda z: z * (1 - z), "not to z itself"),
    (lambda z: -stable_sigmoid(z) * (1 - stable_sigmoid(z)), "sign is wrong"),
    (lambda z: stable_sigmoid(z), "factor is missing"),
    (lambda z: stable_sigmoid(z) ** 2, r"sigma\(z\)\*\*2"),
    (lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2, "inf / inf"),
])
def test_sigmoid_derivative_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("01.sigmoid_derivative", answer)


# ----------------------------------------------------------------------- 01.tanh_from_sigmoid


@pytest.mark.parametrize("answer", [
    lambda z: 2 * stable_sigmoid(2 * z) - 1,
    lambda z: stable_sigmoid(2 * z) - stable_sigmoid(-2 * z),
    lambda z: (1 - stable_sigmoid(-2 * z)) * 2 - 1,
])
def test_tanh_accepts(answer):
    assert check("01.tanh_from_sigmoid", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda z: 2 * stable_sigmoid(z) - 1, "sigmoid of 2z"),
    (lambda z: stable_sigmoid(2 * z) - 1, "multiply the sigmoid by 2"),
    (lambda z: 2 * stable_sigmoid(2 * z) + 1, "subtract 1"),
    (lambda z: np.tanh(z), "calls np.tanh"),
])
def test_tanh_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("01.tanh_from_sigmoid", answer)
    assert np.tanh is not None and np.tanh(0.0) == 0.0  # the spy was removed


# ----------------------------------------------------------------------- 01.leaky_relu_derivative


def leaky_loop(z, alpha=0.01):
    z = np.asarray(z, dtype=float)
    return np.array([1.0 if v > 0 else alpha for v in z.ravel()]).reshape(z.shape)


@pytest.mark.parametrize("answer", [
    lambda z, alpha=0.01: np.where(z > 0, 1.0, alpha),
    leaky_loop,
    lambda z, alpha=0.01: alpha + (1 - alpha) * (np.asarray(z) > 0),
])
def test_leaky_accepts(answer):
    assert check("01.leaky_relu_derivative", answer)


def _in_place_leaky(z, alpha=0.01):
    z[z > 0] = 1.0
    z[z <= 0] = alpha
    return z


@pytest.mark.parametrize("answer,hint", [
    (lambda z, alpha=0.01: np.where(z > 0, z, alpha * z), "leaky ReLU itself"),
    (lambda z, alpha=0.01: (z > 0).astype(float), "ReLU's derivative"),
    (lambda z, alpha=0.01: np.where(z > 0, alpha, 1.0), "branches are swapped"),
    (lambda z, alpha=0.01: np.where(z > 0, 1.0, 0.01), "use the alpha argument"),
    (lambda z, alpha=0.01: np.where(z >= 0, 1.0, alpha), "f'\\(0\\) = alpha"),
    (_in_place_leaky, "in place"),
])
def test_leaky_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("01.leaky_relu_derivative", answer)


# ----------------------------------------------------------------------- 01.softmax


def softmax_logsumexp(Z):
    Z = np.asarray(Z, dtype=float)
    top = Z.max(axis=-1, keepdims=True)
    log_norm = top + np.log(np.exp(Z - top).sum(axis=-1, keepdims=True))
    return np.exp(Z - log_norm)


def softmax_rows(Z):
    Z = np.asarray(Z, dtype=np.float32)
    if Z.ndim == 1:
        return softmax_rows(Z[None])[0]
    out = []
    for row in Z:
        e = np.exp(row - row.max())
        out.append(e / e.sum())
    return np.array(out)


@pytest.mark.parametrize("answer", [softmax_logsumexp, softmax_rows])
def test_softmax_accepts(answer):
    assert check("01.softmax", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda Z: np.exp(Z) / np.exp(Z).sum(axis=-1, keepdims=True), "exp overflowed"),
    (lambda Z: np.exp(Z - Z.max()) / np.exp(Z - Z.max()).sum(axis=-1, keepdims=True), "each row's own maximum"),
    (lambda Z: np.exp(Z - Z.max(axis=0)) / np.exp(Z - Z.max(axis=0)).sum(axis=0), "not down the columns"),
    (lambda Z: np.exp(Z - Z.max()) / np.exp(Z - Z.max()).sum(), "sum of the whole matrix"),
    (lambda Z: np.exp(Z - Z.max(axis=0)) / np.exp(Z - Z.max(axis=0)).sum(axis=-1, keepdims=True), "not of each column"),
    (lambda Z: np.exp(Z - Z.max(axis=1, keepdims=True)) / np.exp(Z - Z.max(axis=1, keepdims=True)).sum(axis=1,
                                                                                                    keepdims=True),
     "AxisError|axis 1 is out of bounds"),
])
def test_softmax_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("01.softmax", answer)
