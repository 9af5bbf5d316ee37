"""Chapter 01 checks: wrong answers get the right hint, other correct answers pass."""

import math

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly


def stable_sigmoid(z):
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def tanh_sigmoid(z):
    """sigma(z) = (1 + tanh(z / 2)) / 2: a different, equally stable formula."""
    return 0.5 * (1 + np.tanh(np.asarray(z, dtype=float) / 2))


def exp_min_sigmoid(z):
    """exp(min(z, 0)) / (1 + exp(-|z|)): another stable formula."""
    z = np.asarray(z, dtype=float)
    return np.exp(np.minimum(z, 0.0)) / (1.0 + np.exp(-np.abs(z)))


def loop_sigmoid(z):
    """Right values, but math and a loop over the elements: the preamble asks for NumPy only."""
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


@pytest.mark.parametrize("answer", [stable_sigmoid, tanh_sigmoid, exp_min_sigmoid, float32_sigmoid])
def test_sigmoid_accepts(answer):
    assert check("01.sigmoid", answer)


def test_sigmoid_rejects_math_and_loops():
    with pytest.raises(CheckFailed, match="NumPy only"):
        check("01.sigmoid", loop_sigmoid)


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


# ------------------------------------------------------ 01.gelu_tanh_derivative

C_GELU, K_GELU = math.sqrt(2 / math.pi), 0.044715


def gelu_tanh_derivative(z):
    z = np.asarray(z, dtype=float)
    t = np.tanh(C_GELU * (z + K_GELU * z**3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t**2) * C_GELU * (1 + 3 * K_GELU * z**2)


def gelu_tanh_derivative_cosh(z):
    """1 - tanh^2 = 1 / cosh^2 and 0.5 (1 + tanh u) = sigmoid(2u): other formulas, loops."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    for idx, v in np.ndenumerate(z):
        u = C_GELU * (v + K_GELU * v**3)
        sech2 = 0.0 if abs(u) > 350 else 1 / math.cosh(u) ** 2
        out[idx] = 1 / (1 + math.exp(-2 * u)) if u > -350 else 0.0
        out[idx] += 0.5 * v * sech2 * C_GELU * (1 + 3 * K_GELU * v * v)
    return out


@pytest.mark.parametrize("answer", [gelu_tanh_derivative, gelu_tanh_derivative_cosh])
def test_gelu_tanh_derivative_accepts(answer):
    assert check("01.gelu_tanh_derivative", answer)


def _gelu_wrong(kind):
    def derivative(z):
        z = np.asarray(z, dtype=float)
        t = np.tanh(C_GELU * (z + K_GELU * z**3))
        inner = {"no3": C_GELU * (1 + K_GELU * z**2)}.get(kind, C_GELU * (1 + 3 * K_GELU * z**2))
        first = 0 if kind == "product" else 0.5 * (1 + t)
        if kind == "exact":
            erf = np.vectorize(math.erf)
            return 0.5 * (1 + erf(z / math.sqrt(2))) + z * np.exp(-z**2 / 2) / math.sqrt(2 * math.pi)
        return first + 0.5 * z * (1 - t**2) * inner
    return derivative


@pytest.mark.parametrize("kind,hint", [("product", "product rule"), ("no3", "1 \\+ 3 \\* 0.044715"),
                                       ("exact", "exact GELU")])
def test_gelu_tanh_derivative_rejects(kind, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("01.gelu_tanh_derivative", _gelu_wrong(kind))


# ----------------------------------------------------------- 01.swish_derivative


def swish_derivative(z, beta=1.0):
    s = stable_sigmoid(beta * np.asarray(z, dtype=float))
    return s + beta * z * s * (1 - s)


def swish_derivative_float32(z, beta=1.0):
    """sigma(x) (1 - sigma(x)) = sigma(x) sigma(-x), in float32."""
    x = (beta * np.asarray(z, dtype=np.float32)).astype(np.float32)
    return (stable_sigmoid(x) * (1 + x * stable_sigmoid(-x))).astype(np.float32)


@pytest.mark.parametrize("answer", [swish_derivative, swish_derivative_float32])
def test_swish_derivative_accepts(answer):
    assert check("01.swish_derivative", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda z, beta=1.0: stable_sigmoid(beta * z) + z * stable_sigmoid(beta * z) * (1 - stable_sigmoid(beta * z)),
     "chain rule"),
    (lambda z, beta=1.0: swish_derivative(z, 1.0), "beta = 1"),
    (lambda z, beta=1.0: stable_sigmoid(z) + beta * z * stable_sigmoid(z) * (1 - stable_sigmoid(z)),
     "not sigmoid\\(z\\)"),
    (lambda z, beta=1.0: beta * z * stable_sigmoid(beta * z) * (1 - stable_sigmoid(beta * z)), "product rule"),
])
def test_swish_derivative_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("01.swish_derivative", answer)


# ----------------------------------------------------------- 01.softmax_backward


def _softmax(Z):
    Z = np.asarray(Z, dtype=float)
    e = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_backward(Z, G):
    P = _softmax(Z)
    return P * (G - np.sum(G * P, axis=-1, keepdims=True))


def softmax_backward_einsum(Z, G):
    """The row-wise dot product with einsum: another way to write p * (g - g . p)."""
    P = _softmax(Z)
    return P * G - P * np.einsum("...k,...k->...", G, P)[..., None]


def softmax_backward_jacobian(Z, G):
    """Builds each row's Jacobian: the right numbers, but the statement forbids the K x K matrix."""
    P = np.atleast_2d(_softmax(Z))
    G2 = np.atleast_2d(G)
    out = np.array([(np.diag(p) - np.outer(p, p)) @ g for p, g in zip(P, G2, strict=True)])
    return out if np.ndim(Z) == 2 else out[0]


@pytest.mark.parametrize("answer", [softmax_backward, softmax_backward_einsum])
def test_softmax_backward_accepts(answer):
    assert check("01.softmax_backward", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda Z, G: _softmax(Z) * G, "only the diagonal part"),
    (lambda Z, G: _softmax(Z) * (G - np.sum(G * _softmax(Z))), "row by row"),
    (lambda Z, G: _softmax(Z) * (G + np.sum(G * _softmax(Z), axis=-1, keepdims=True)), "not p \\* \\(g \\+"),
    (lambda Z, G: np.exp(Z) / np.exp(Z).sum(-1, keepdims=True) * (G - np.sum(G * np.exp(Z) / np.exp(Z).sum(
        -1, keepdims=True), axis=-1, keepdims=True)), "NaN or inf"),
    (softmax_backward_jacobian, "K x K matrix"),
])
def test_softmax_backward_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("01.softmax_backward", answer)



@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("01")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
