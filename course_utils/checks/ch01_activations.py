"""Checks for chapter 01, activation functions and their derivatives."""

from __future__ import annotations

import math

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    numerical_derivative,
    register,
    seeded_rng,
    to_array,
)

LARGE = np.array([-1000.0, -750.0, -40.0, 40.0, 750.0, 1000.0])


def _sigmoid_reference(z):
    """Sigmoid written element by element with math (independent of any NumPy trick)."""
    z = np.asarray(z, dtype=float)
    out = [1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v)) for v in z.ravel()]
    return np.array(out).reshape(z.shape)


def _overflows(func, *args) -> bool:
    """True when ``func(*args)`` overflows (or computes inf/inf) inside NumPy."""
    try:
        with np.errstate(over="raise", invalid="raise"):
            func(*args)
    except FloatingPointError:
        return True
    except Exception:  # other errors were already reported by ``call``
        return False
    return False


def _random_z(rng, shape):
    return rng.normal(scale=4.0, size=shape)


@register("01.sigmoid")
def check_sigmoid(sigmoid):
    """sigmoid(z): the logistic function, stable for any input."""
    rng = seeded_rng(10)
    fixed = np.array([0.0, 1.0, -2.0, 6.0])
    expect_close(call(sigmoid, fixed.copy(), name="sigmoid"), _sigmoid_reference(fixed), "sigmoid(z)",
                 case="z = [0, 1, -2, 6]",
                 mistakes={"the sign in the exponent is wrong: use exp(-z), not exp(z)": 1 - _sigmoid_reference(fixed),
                           "that is tanh, not the sigmoid": np.tanh(fixed)})
    for shape in [(7,), (3, 4)]:
        z = _random_z(rng, shape)
        expect_close(call(sigmoid, z, name="sigmoid"), _sigmoid_reference(z), "sigmoid(z)",
                     case=f"a random array of shape {shape}",
                     mistakes={"the sign in the exponent is wrong: use exp(-z), not exp(z)": _sigmoid_reference(-z)})
    out = to_array(call(sigmoid, LARGE.copy(), name="sigmoid"), "sigmoid(z)")
    if out.shape == LARGE.shape and not np.all(np.isfinite(out)):
        raise CheckFailed("sigmoid(z) gives NaN or inf for large |z| (z = +-1000): np.exp overflowed. "
                          "Call np.exp only on numbers <= 0, for example exp(-|z|).")
    expect_close(out, _sigmoid_reference(LARGE), "sigmoid(z)", case="large inputs z = +-40, +-750, +-1000")
    if _overflows(sigmoid, LARGE.copy()):
        raise CheckFailed("sigmoid(z) gives the right values, but np.exp overflows inside it for z = +-1000 "
                          "(NumPy warns 'overflow encountered in exp'). np.where evaluates BOTH branches "
                          "before choosing: compute e = exp(-|z|) once and build both branches from it.")
    return "exact on random inputs, no overflow for |z| = 1000"


@register("01.sigmoid_derivative")
def check_sigmoid_derivative(sigmoid_derivative):
    """sigmoid_derivative(z) = sigma(z) (1 - sigma(z)), finite everywhere."""
    rng = seeded_rng(11)
    z = _random_z(rng, (12,))
    s = _sigmoid_reference(z)
    expected = numerical_derivative(_sigmoid_reference, z)
    expect_close(call(sigmoid_derivative, z, name="sigmoid_derivative"), expected, "sigmoid_derivative(z)",
                 case="random z (compared with a finite difference)", rtol=1e-5, atol=1e-8,
                 mistakes={"apply s * (1 - s) to s = sigmoid(z), not to z itself": z * (1 - z),
                           "the sign is wrong: the sigmoid is increasing": -s * (1 - s),
                           "a factor is missing: the derivative is sigma(z) * (1 - sigma(z))": s,
                           "that is sigma(z)**2; the derivative is sigma(z) * (1 - sigma(z))": s**2})
    z = np.array([[0.0, 2.0], [-3.0, 0.5]])
    expect_close(call(sigmoid_derivative, z, name="sigmoid_derivative"),
                 _sigmoid_reference(z) * _sigmoid_reference(-z), "sigmoid_derivative(z)",
                 case="a (2, 2) array; the value at z = 0 is 1/4")
    out = to_array(call(sigmoid_derivative, LARGE.copy(), name="sigmoid_derivative"), "sigmoid_derivative(z)")
    if out.shape == LARGE.shape and not np.all(np.isfinite(out)):
        raise CheckFailed("sigmoid_derivative(z) gives NaN or inf for z = +-1000. The quotient "
                          "exp(-z) / (1 + exp(-z))**2 becomes inf / inf; use sigma(z) * (1 - sigma(z)) "
                          "with a stable sigmoid.")
    expect_close(out, _sigmoid_reference(LARGE) * _sigmoid_reference(-LARGE), "sigmoid_derivative(z)",
                 case="large inputs z = +-40, +-750, +-1000")
    return "matches a finite difference and stays finite for |z| = 1000"


@register("01.tanh_from_sigmoid")
def check_tanh_from_sigmoid(tanh_from_sigmoid):
    """tanh_from_sigmoid(z) = 2 sigma(2z) - 1, without np.tanh."""
    rng = seeded_rng(12)
    z = _random_z(rng, (10,)) / 2
    s1, s2 = _sigmoid_reference(z), _sigmoid_reference(2 * z)
    original_tanh, calls = np.tanh, []

    def spy(*args, **kwargs):
        calls.append(1)
        return original_tanh(*args, **kwargs)

    np.tanh = spy
    try:
        got = call(tanh_from_sigmoid, z, name="tanh_from_sigmoid")
    finally:
        np.tanh = original_tanh
    expect_close(got, np.array([math.tanh(v) for v in z]), "tanh_from_sigmoid(z)", case="random z",
                 mistakes={"use the sigmoid of 2z, not of z": 2 * s1 - 1,
                           "multiply the sigmoid by 2: the range must be (-1, 1)": s2 - 1,
                           "the shift is wrong: subtract 1, do not add it": 2 * s2 + 1,
                           "that is the sigmoid itself": s1})
    if calls:
        raise CheckFailed("tanh_from_sigmoid(z) is right but calls np.tanh: build it from your sigmoid.")
    out = to_array(call(tanh_from_sigmoid, LARGE.copy(), name="tanh_from_sigmoid"), "tanh_from_sigmoid(z)")
    expect_close(out, np.sign(LARGE) * 1.0, "tanh_from_sigmoid(z)", case="large inputs z = +-40, +-750, +-1000")
    return "equals tanh on random and large inputs"


@register("01.leaky_relu_derivative")
def check_leaky_relu_derivative(leaky_relu_derivative):
    """leaky_relu_derivative(z, alpha) = 1 for z > 0, alpha otherwise."""
    rng = seeded_rng(13)
    for alpha, shape in [(0.01, (9,)), (0.2, (3, 5)), (0.05, (6,))]:
        z = _random_z(rng, shape)
        positive = z > 0
        reference = numerical_derivative(lambda v, a=alpha: np.maximum(a * v, v), z)
        got = call(leaky_relu_derivative, z, alpha, name="leaky_relu_derivative")
        expect_close(got, reference, "leaky_relu_derivative(z, alpha)", case=f"random z, alpha = {alpha}",
                     mistakes={"that is the leaky ReLU itself, not its derivative": np.where(positive, z, alpha * z),
                               "for z <= 0 the derivative is alpha, not 0 (that is the ReLU's derivative)":
                                   positive.astype(float),
                               "the branches are swapped: the slope is 1 for z > 0 and alpha for z <= 0":
                                   np.where(positive, alpha, 1.0),
                               "use the alpha argument, not a fixed 0.01": np.where(positive, 1.0, 0.01)})
    z = np.array([-2.0, 0.0, 3.0])
    expect_close(call(leaky_relu_derivative, z, 0.1, name="leaky_relu_derivative"), [0.1, 0.1, 1.0],
                 "leaky_relu_derivative(z, alpha)", case="z = [-2, 0, 3], alpha = 0.1 (convention f'(0) = alpha)",
                 mistakes={"at z = 0 use the convention f'(0) = alpha (test z > 0, not z >= 0)": [0.1, 1.0, 1.0]})
    default = call(leaky_relu_derivative, np.array([-1.0, 1.0]), name="leaky_relu_derivative")
    expect_close(default, [0.01, 1.0], "leaky_relu_derivative(z)", case="the default alpha = 0.01")
    return "three values of alpha, the convention at 0 and the default"


def _softmax_reference(Z):
    """Row-wise softmax through log-sum-exp written with math, row by row."""
    Z = np.atleast_2d(np.asarray(Z, dtype=float))
    rows = []
    for row in Z:
        top = max(row)
        log_norm = top + math.log(sum(math.exp(v - top) for v in row))
        rows.append([math.exp(v - log_norm) for v in row])
    return np.array(rows)


@register("01.softmax")
def check_softmax(softmax):
    """softmax(Z): row-wise, stable softmax of a (n, K) matrix or a (K,) vector."""
    rng = seeded_rng(14)
    z = np.array([2.0, 1.0, 0.1])
    expect_close(call(softmax, z, name="softmax"), _softmax_reference(z)[0], "softmax(z)",
                 case="the vector [2, 1, 0.1]")
    Z = rng.normal(scale=2.0, size=(4, 3))
    e = np.exp(Z)
    expect_close(call(softmax, Z, name="softmax"), _softmax_reference(Z), "softmax(Z)",
                 case="a random (4, 3) matrix (4 samples, 3 classes)",
                 mistakes={"normalise along each row (axis=-1 or axis=1), not down the columns": e / e.sum(axis=0),
                           "normalise each row by its own sum (keepdims=True), not by the sum of the whole matrix":
                               e / e.sum(),
                           "subtract the max of each row, not of each column (axis=-1, keepdims=True)":
                               np.exp(Z - Z.max(axis=0)) / np.exp(Z - Z.max(axis=0)).sum(axis=1, keepdims=True)})
    big = np.array([[1000.0, 1001.0, 999.0], [-5.0, 2.0, 0.5]])
    out = to_array(call(softmax, big, name="softmax"), "softmax(Z)")
    if out.shape == big.shape and not np.all(np.isfinite(out)):
        if np.all(np.isfinite(out[0])):
            raise CheckFailed("softmax(Z) gives NaN for the small row when another row holds logits near 1000: "
                              "you subtract one maximum for the whole matrix. Subtract each row's own maximum "
                              "(Z.max(axis=-1, keepdims=True)).")
        raise CheckFailed("softmax(Z) gives NaN or inf for logits near 1000: exp overflowed. Subtract each row's "
                          "maximum before np.exp; the result does not change.")
    expect_close(out, _softmax_reference(big), "softmax(Z)", case="a row of logits near 1000 and a row of small ones")
    sums = out.sum(axis=-1)
    if not np.allclose(sums, 1.0):
        raise CheckFailed("the rows of softmax(Z) do not sum to 1.")
    return "rows of probabilities, stable for logits in the thousands"
