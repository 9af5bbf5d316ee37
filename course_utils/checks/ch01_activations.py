"""Checks for chapter 01, activation functions and their derivatives."""

from __future__ import annotations

import math

import numpy as np

from course_utils.checks.ch03_fluids import learner_lines
from course_utils.checks.core import (
    CheckFailed,
    call,
    calls_into,
    calls_of_global,
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


def _same_shape(out, z, name):
    """Fail unless an element-wise answer kept the shape of its input (any shape, 0-d included)."""
    if np.shape(out) != np.shape(z):
        raise CheckFailed(f"{name} returned shape {np.shape(out)} for an input of shape {np.shape(z)}: keep the "
                          "shape of z (any shape).")


def _uses_own(func, helper, args, name):
    """Fail when the answer never calls the notebook's ``helper`` the statement prescribes (only
    observable when the answer is a Python function of the notebook)."""
    with calls_of_global(func, helper) as uses:
        call(func, *args, name=name)
    if uses.count == 0:
        raise CheckFailed(f"{name} never calls your {helper}: the statement asks you to build it from your "
                          f"`{helper}`.")


@register("01.sigmoid")
def check_sigmoid(sigmoid):
    """sigmoid(z): the logistic function, stable for any input."""
    rng = seeded_rng(10)
    fixed = np.array([0.0, 1.0, -2.0, 6.0])
    expect_close(call(sigmoid, fixed.copy(), name="sigmoid"), _sigmoid_reference(fixed), "sigmoid(z)",
                 case="z = [0, 1, -2, 6]",
                 mistakes={"the sign in the exponent is wrong: use exp(-z), not exp(z)": 1 - _sigmoid_reference(fixed),
                           "that is tanh, not the sigmoid": np.tanh(fixed)})
    watch = calls_into(sigmoid, ("math", "scipy", "torch", "jax", "tensorflow"))
    call(watch.func, fixed.copy(), name="sigmoid")
    watch.refuse("sigmoid calls {seen}: use NumPy only, on whole arrays.")
    for shape in [(7,), (3, 4), (2, 1, 3), ()]:
        z = _random_z(rng, shape)
        out = call(sigmoid, z, name="sigmoid")
        _same_shape(out, z, "sigmoid(z)")
        expect_close(out, _sigmoid_reference(z), "sigmoid(z)",
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
    # "work on whole arrays (no Python loops)": a loop runs more lines of the answer's own code as the
    # array grows
    counts = []
    for n in (10, 5000):
        with learner_lines(sigmoid) as lines:
            call(lines.func, rng.normal(size=n), name="sigmoid")
        counts.append(lines.count)
    if counts[0] is not None and counts[1] > counts[0] + 50:
        raise CheckFailed(f"sigmoid ran {counts[0]} lines of its code for 10 numbers and {counts[1]} for 5,000: "
                          "work on whole arrays, with no Python loop over the elements.")
    return "exact on random inputs of four shapes, no overflow for |z| = 1000, whole arrays"


@register("01.sigmoid_derivative")
def check_sigmoid_derivative(sigmoid_derivative):
    """sigmoid_derivative(z) = sigma(z) (1 - sigma(z)), finite everywhere."""
    rng = seeded_rng(11)
    _uses_own(sigmoid_derivative, "sigmoid", (np.array([0.5, -1.0]),), "sigmoid_derivative")
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
    _uses_own(tanh_from_sigmoid, "sigmoid", (z.copy(),), "tanh_from_sigmoid")
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
    default = to_array(default, "leaky_relu_derivative(z)")
    explicit = to_array(call(leaky_relu_derivative, np.array([-1.0, 1.0]), 0.01, name="leaky_relu_derivative"),
                        "leaky_relu_derivative(z, 0.01)")
    if default.shape == explicit.shape == (2,) and np.allclose(explicit, [0.01, 1.0]) \
            and not np.allclose(default, explicit):
        raise CheckFailed(f"leaky_relu_derivative(z) without alpha gives {default[0]:.4g} for z < 0: the default "
                          "alpha is 0.01.")
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


@register("01.softmax", hides="course_utils.backprop")
def check_softmax(softmax):
    """softmax(Z): row-wise, stable softmax of a (n, K) matrix or a (K,) vector."""
    rng = seeded_rng(14)
    z = np.array([2.0, 1.0, 0.1])
    try:
        vector_out = call(softmax, z, name="softmax")
    except CheckFailed as err:
        raise CheckFailed(f"{err} softmax must also accept a single vector of shape (K,).") from None
    if np.shape(vector_out) != z.shape:
        raise CheckFailed(f"softmax of a single vector of shape {z.shape} returned shape {np.shape(vector_out)}: "
                          "for a vector, return a vector of the same shape.")
    expect_close(vector_out, _softmax_reference(z)[0], "softmax(z)", case="the vector [2, 1, 0.1]")
    Z = rng.normal(scale=2.0, size=(4, 3))
    e = np.exp(Z)
    expect_close(call(softmax, Z, name="softmax"), _softmax_reference(Z), "softmax(Z)",
                 case="a random (4, 3) matrix (4 samples, 3 classes)",
                 mistakes={"normalise along each row (axis=-1 or axis=1), not down the columns": e / e.sum(axis=0),
                           "normalise each row by its own sum (keepdims=True), not by the sum of the whole matrix":
                               e / e.sum(),
                           "normalise along each row (axis=-1 or axis=1), not down the columns ":
                               np.exp(Z - Z.max(axis=1, keepdims=True))
                               / np.exp(Z - Z.max(axis=1, keepdims=True)).sum(axis=0),
                           "subtract the max of each row, not of each column (axis=-1, keepdims=True)":
                               np.exp(Z - Z.max(axis=0)) / np.exp(Z - Z.max(axis=0)).sum(axis=1, keepdims=True)})
    # the third row: a shift by the row's mean or minimum still overflows there
    big = np.array([[1000.0, 1001.0, 999.0], [-5.0, 2.0, 0.5], [1000.0, -1000.0, 0.0]])
    out = to_array(call(softmax, big, name="softmax"), "softmax(Z)")
    if out.shape == big.shape and not np.all(np.isfinite(out)):
        finite_rows = np.all(np.isfinite(out), axis=1)
        if finite_rows[0] and finite_rows[1] and not finite_rows[2]:
            raise CheckFailed("softmax(Z) gives NaN or inf for the row [1000, -1000, 0]: exp overflowed. Subtract "
                              "each row's maximum, not its mean or minimum, which leave exp(1000) in that row.")
        if finite_rows[0] and not finite_rows[1]:
            raise CheckFailed("softmax(Z) gives NaN for the small row when another row holds logits near 1000: "
                              "you subtract one maximum for the whole matrix. Subtract each row's own maximum "
                              "(Z.max(axis=-1, keepdims=True)).")
        raise CheckFailed("softmax(Z) gives NaN or inf for logits in the thousands: exp overflowed. Subtract each "
                          "row's maximum (not its mean or minimum) before np.exp; the result does not change.")
    expect_close(out, _softmax_reference(big), "softmax(Z)",
                 case="a row of logits near 1000, a row of small ones, and the row [1000, -1000, 0]")
    sums = out.sum(axis=-1)
    if not np.allclose(sums, 1.0):
        raise CheckFailed("the rows of softmax(Z) do not sum to 1.")
    return "rows of probabilities, stable for logits in the thousands"


GELU_C = math.sqrt(2.0 / math.pi)
GELU_K = 0.044715


def _gelu_tanh_derivative_reference(z):
    """Derivative of 0.5 z (1 + tanh(c (z + k z^3))), element by element with math."""
    z = np.asarray(z, dtype=float)
    out = []
    for v in z.ravel():
        t = math.tanh(GELU_C * (v + GELU_K * v**3))
        out.append(0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * GELU_K * v * v))
    return np.array(out).reshape(z.shape)


def _gelu_tanh(z):
    z = np.asarray(z, dtype=float)
    return 0.5 * z * (1 + np.tanh(GELU_C * (z + GELU_K * z**3)))


@register("01.gelu_tanh_derivative")
def check_gelu_tanh_derivative(gelu_tanh_derivative):
    """gelu_tanh_derivative(z): derivative of the tanh approximation of GELU, any shape."""
    rng = seeded_rng(15)
    fixed = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    t = np.tanh(GELU_C * (fixed + GELU_K * fixed**3))
    erf = np.vectorize(math.erf)
    exact = 0.5 * (1 + erf(fixed / math.sqrt(2))) + fixed * np.exp(-fixed**2 / 2) / math.sqrt(2 * math.pi)
    expect_close(call(gelu_tanh_derivative, fixed.copy(), name="gelu_tanh_derivative"),
                 _gelu_tanh_derivative_reference(fixed), "gelu_tanh_derivative(z)",
                 case="z = [-3, -1, -0.5, 0, 0.5, 1, 3]", rtol=1e-7, atol=1e-9,
                 mistakes={"the product rule: d/dz [0.5 z (1 + tanh(u))] has the term 0.5 (1 + tanh(u)) too":
                               0.5 * fixed * (1 - t**2) * GELU_C * (1 + 3 * GELU_K * fixed**2),
                           "the inner derivative of z + 0.044715 z^3 is 1 + 3 * 0.044715 z^2":
                               0.5 * (1 + t) + 0.5 * fixed * (1 - t**2) * GELU_C * (1 + GELU_K * fixed**2),
                           "the inner derivative sqrt(2/pi) (1 + 3 k z^2) is missing":
                               0.5 * (1 + t) + 0.5 * fixed * (1 - t**2),
                           "that is the derivative of the exact GELU z Phi(z); differentiate the tanh "
                           "approximation": exact,
                           "d tanh(u) / du is 1 - tanh(u)^2, not 1 + tanh(u)^2":
                               0.5 * (1 + t) + 0.5 * fixed * (1 + t**2) * GELU_C * (1 + 3 * GELU_K * fixed**2)})
    for shape in [(9,), (3, 5), (2, 2, 2), ()]:
        z = rng.normal(scale=2.5, size=shape)
        out = call(gelu_tanh_derivative, z.copy(), name="gelu_tanh_derivative")
        if not isinstance(out, np.ndarray) and shape != ():
            raise CheckFailed(f"gelu_tanh_derivative should return a NumPy array, not a {type(out).__name__}.")
        _same_shape(out, z, "gelu_tanh_derivative(z)")
        expect_close(out, numerical_derivative(_gelu_tanh, z), "gelu_tanh_derivative(z)",
                     case=f"a random array of shape {shape} (compared with a finite difference)",
                     rtol=1e-5, atol=1e-7)
    large = np.array([-1000.0, -700.0, -40.0, 40.0, 700.0, 1000.0])
    out = to_array(call(gelu_tanh_derivative, large.copy(), name="gelu_tanh_derivative"), "gelu_tanh_derivative(z)")
    expect_close(out, _gelu_tanh_derivative_reference(large), "gelu_tanh_derivative(z)",
                 case="large inputs z = +-40, +-700, +-1000 (the derivative is 0 far left, 1 far right)")
    # There tanh(u) is exactly +-1, so the derivative is exactly 0 or 1; a finite difference of g is
    # off by rounding (a small step) or by its curvature elsewhere (a large one).
    gap = float(np.max(np.abs(out.astype(float) - _gelu_tanh_derivative_reference(large))))
    if gap > 1e-12:
        raise CheckFailed(f"gelu_tanh_derivative is off by {gap:.1e} for large z, where the exact derivative is "
                          "exactly 0 or 1: derive g'(z) by hand; a finite difference of g is not exact.")
    return "fixed values, finite differences on four shapes, exact values for large inputs"


def _swish_derivative_reference(z, beta):
    z = np.asarray(z, dtype=float)
    s = _sigmoid_reference(beta * z)
    return s + beta * z * s * (1 - s)


@register("01.swish_derivative")
def check_swish_derivative(swish_derivative):
    """swish_derivative(z, beta): derivative of z * sigmoid(beta * z), stable, any shape."""
    rng = seeded_rng(16)
    _uses_own(swish_derivative, "sigmoid", (np.array([0.5, -1.0]), 1.0), "swish_derivative")
    pair = np.array([-1.0, 2.0])
    silu = _swish_derivative_reference(pair, 1.0)
    explicit = to_array(call(swish_derivative, pair.copy(), 1.0, name="swish_derivative"), "swish_derivative(z, 1.0)")
    default = to_array(call(swish_derivative, pair.copy(), name="swish_derivative"), "swish_derivative(z)")
    if explicit.shape == default.shape == (2,) and np.allclose(explicit, silu) and not np.allclose(default, silu):
        raise CheckFailed("swish_derivative(z) without beta differs from swish_derivative(z, 1.0): the default is "
                          "beta = 1.0 (the SiLU).")
    fixed = np.array([-4.0, -1.0, 0.0, 0.5, 2.0])
    for beta in (1.0, 0.5, 3.0):
        s = _sigmoid_reference(beta * fixed)
        s1 = _sigmoid_reference(fixed)
        expect_close(call(swish_derivative, fixed.copy(), beta, name="swish_derivative"),
                     _swish_derivative_reference(fixed, beta), "swish_derivative(z, beta)",
                     case=f"z = [-4, -1, 0, 0.5, 2] and beta = {beta}",
                     mistakes={"the chain rule: the derivative of sigmoid(beta z) is beta sigma'(beta z)":
                                   s + fixed * s * (1 - s),
                               "the product rule: d/dz [z sigmoid(beta z)] also has the term sigmoid(beta z)":
                                   beta * fixed * s * (1 - s),
                               "use sigmoid(beta * z), not sigmoid(z)": s1 + beta * fixed * s1 * (1 - s1),
                               "that is the derivative for beta = 1; use the beta argument":
                                   _swish_derivative_reference(fixed, 1.0)})
    expect_close(call(swish_derivative, fixed.copy(), 0.0, name="swish_derivative"), np.full(5, 0.5),
                 "swish_derivative(z, beta)", case="beta = 0 (then f(z) = z / 2)")
    for shape, beta in [((8,), 1.7), ((2, 6), 0.3), ((2, 1, 2), 2.0), ((), 1.2)]:
        z = rng.normal(scale=3.0, size=shape)
        out = call(swish_derivative, z.copy(), beta, name="swish_derivative")
        _same_shape(out, z, "swish_derivative(z, beta)")
        expect_close(out,
                     numerical_derivative(lambda v, b=beta: v * _sigmoid_reference(b * v), z),
                     "swish_derivative(z, beta)", case=f"a random array of shape {shape}, beta = {beta} "
                     "(compared with a finite difference)", rtol=1e-5, atol=1e-7)
    large = np.array([-1000.0, -50.0, 50.0, 1000.0])
    for beta in (1.0, 10.0):
        expect_close(call(swish_derivative, large.copy(), beta, name="swish_derivative"),
                     _swish_derivative_reference(large, beta), "swish_derivative(z, beta)",
                     case=f"large inputs z = +-50, +-1000 with beta = {beta}")
    return "four values of beta, two shapes, large inputs"


def _softmax_backward_reference(Z, G):
    """dL/dZ through the explicit Jacobian diag(p) - p p^T of each row."""
    P = _softmax_reference(Z)
    G = np.atleast_2d(np.asarray(G, dtype=float))
    return np.array([(np.diag(p) - np.outer(p, p)).T @ g for p, g in zip(P, G, strict=True)])


@register("01.softmax_backward")
def check_softmax_backward(softmax_backward):
    """softmax_backward(Z, G): dL/dZ from G = dL/dP for P = softmax(Z), row by row."""
    rng = seeded_rng(17)
    z, g = np.array([2.0, 1.0, 0.1]), np.array([0.5, -1.0, 2.0])
    p = _softmax_reference(z)[0]
    try:
        vector_out = call(softmax_backward, z.copy(), g.copy(), name="softmax_backward")
    except CheckFailed as err:
        raise CheckFailed(f"{err} softmax_backward must also accept Z and G of shape (K,).") from None
    if np.shape(vector_out) != z.shape:
        raise CheckFailed(f"softmax_backward for Z and G of shape {z.shape} returned shape {np.shape(vector_out)}: "
                          "return an array of the same shape as Z.")
    expect_close(vector_out,
                 _softmax_backward_reference(z, g)[0], "softmax_backward(z, g)",
                 case="one vector z = [2, 1, 0.1], g = [0.5, -1, 2]",
                 mistakes={"p * g is only the diagonal part of the Jacobian; subtract p * (g . p) too": p * g,
                           "the Jacobian is diag(p) - p p^T, so the result is p * (g - g . p), not "
                           "p * (g + g . p)": p * (g + g @ p),
                           "multiply by p: the result is p * (g - g . p)": g - g @ p})
    for n, K in [(4, 3), (2, 7), (5, 2)]:
        Z, G = rng.normal(scale=2.0, size=(n, K)), rng.normal(size=(n, K))
        P = _softmax_reference(Z)
        expect_close(call(softmax_backward, Z.copy(), G.copy(), name="softmax_backward"),
                     _softmax_backward_reference(Z, G), "softmax_backward(Z, G)",
                     case=f"a random batch of shape {(n, K)}",
                     mistakes={"take the dot product g . p row by row (axis=-1, keepdims=True), not over the "
                               "whole batch": P * (G - np.sum(G * P)),
                               "p * g is only the diagonal part of the Jacobian; subtract p * (g . p) too": P * G})
    Z = np.array([[1000.0, 1001.0, 999.0], [-3.0, 0.0, 2.0]])
    G = rng.normal(size=Z.shape)
    expect_close(call(softmax_backward, Z.copy(), G.copy(), name="softmax_backward"),
                 _softmax_backward_reference(Z, G), "softmax_backward(Z, G)",
                 case="a row of logits near 1000 (compute a stable softmax first)")
    y = np.eye(4)[[2, 0]]
    Z = rng.normal(size=(2, 4))
    P = _softmax_reference(Z)
    expect_close(call(softmax_backward, Z.copy(), -y / P, name="softmax_backward"), P - y,
                 "softmax_backward(Z, -y / p)", case="the cross-entropy's G = -y / p (the answer is p - y)")
    _check_no_jacobian(softmax_backward, rng)
    return "vectors, batches, large logits, the cross-entropy's p - y, and no K x K matrix"


SOFTMAX_WIDE = 3000  # classes of the memory case: one K x K Jacobian would take 72 MB
SOFTMAX_MEMORY_LIMIT = 8_000_000  # bytes softmax_backward may allocate there


def _check_no_jacobian(softmax_backward, rng):
    """The backward pass needs memory in proportion to n K; a Jacobian needs K^2 per sample.
    Observed with tracemalloc (NumPy reports its allocations to it)."""
    import tracemalloc

    Z, G = rng.normal(size=(2, SOFTMAX_WIDE)), rng.normal(size=(2, SOFTMAX_WIDE))
    peak = {}

    def traced(*args):
        tracemalloc.start()
        try:
            return softmax_backward(*args)
        finally:
            peak["bytes"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()

    out = call(traced, Z, G, name="softmax_backward", time_limit=20)
    P = _softmax_reference(Z)
    expect_close(out, P * (G - np.sum(G * P, axis=-1, keepdims=True)), "softmax_backward(Z, G)",
                 case=f"2 samples of {SOFTMAX_WIDE} classes")
    if peak.get("bytes", 0) > SOFTMAX_MEMORY_LIMIT:
        raise CheckFailed(f"softmax_backward is right for 2 samples of {SOFTMAX_WIDE} classes, but it allocated "
                          f"{peak['bytes'] / 1e6:.0f} MB: it builds a K x K matrix. Use "
                          "p * (g - g . p), which needs memory for vectors only.")
