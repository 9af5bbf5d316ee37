"""Requirement table of chapter 01, activation functions (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import math

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

# --------------------------------------------------------------------------- the learner's sigmoid


def sigmoid(z):
    """The notebook's stable sigmoid (exercise 1): answers below that use it look it up here."""
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _silent_exp(x):
    with np.errstate(over="ignore"):
        return np.exp(x)


# --------------------------------------------------------------------------- 01.sigmoid


def sigmoid_math_loop(z):
    """Right values with math.exp, element by element."""
    z = np.asarray(z, dtype=float)
    return np.array([1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))
                     for v in z.ravel()]).reshape(z.shape)


def sigmoid_numpy_loop(z):
    """NumPy only, right values, but one Python step per element."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    for index in np.ndindex(z.shape):
        e = np.exp(-abs(z[index]))
        out[index] = 1 / (1 + e) if z[index] >= 0 else e / (1 + e)
    return out


def sigmoid_flat(z):
    return sigmoid(z).ravel()


def sigmoid_where_both_branches(z):
    """np.where with the textbook branches: both are evaluated, exp(-z) overflows for z = -1000."""
    z = np.asarray(z, dtype=float)
    return np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))


# --------------------------------------------------------------------------- 01.sigmoid_derivative


def sigmoid_derivative_inline(z):
    """Stable and right, but it never calls the notebook's sigmoid."""
    e = np.exp(-np.abs(np.asarray(z, dtype=float)))
    return e / (1 + e) ** 2


def sigmoid_derivative_quotient(z):
    """exp(-z) / (1 + exp(-z))**2: inf / inf for z = -1000."""
    z = np.asarray(z, dtype=float)
    sigmoid(z)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(-z) / (1 + np.exp(-z)) ** 2


# --------------------------------------------------------------------------- 01.tanh_from_sigmoid


def tanh_inline(z):
    """2 / (1 + exp(-2z)) - 1: no np.tanh, but not built from the notebook's sigmoid."""
    z = np.asarray(z, dtype=float)
    return 2.0 / (1.0 + _silent_exp(-2 * z)) - 1.0


def tanh_through_np_tanh(z):
    sigmoid(z)
    return np.tanh(z)


# --------------------------------------------------------------------------- 01.leaky_relu_derivative


def leaky(z, alpha=0.01, *, ones=False, strict_zero=False, in_place=False):
    """The solution's answer; the keywords make it break one requirement."""
    if in_place:
        z[...] = np.where(z > 0, 1.0, alpha)
        return z
    z = np.asarray(z)
    if ones:
        return np.ones_like(z, dtype=float)
    return np.where(z >= 0 if strict_zero else z > 0, 1.0, alpha)


# --------------------------------------------------------------------------- 01.softmax


def softmax(Z, *, columns=False, no_shift=False, global_max=False, mean_shift=False):
    """The solution's answer; the keywords make it break one requirement."""
    Z = np.asarray(Z, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        if no_shift:
            shift = 0.0
        elif global_max:
            shift = Z.max()
        elif mean_shift:
            shift = Z.mean(axis=-1, keepdims=True)
        else:
            shift = Z.max(axis=-1, keepdims=True)
        e = np.exp(Z - shift)
        axis = 0 if columns and Z.ndim == 2 else -1
        return e / e.sum(axis=axis, keepdims=True)


# --------------------------------------------------------------------------- 01.gelu_tanh_derivative

C, K = math.sqrt(2 / math.pi), 0.044715


def gelu(z, *, flat=False, as_list=False, finite_difference=False, overflowing=False):
    """The solution's answer; the keywords make it break one requirement."""
    z = np.asarray(z, dtype=float)
    if finite_difference:
        def g(v):
            return 0.5 * v * (1 + np.tanh(C * (v + K * v**3)))
        h = 1e-5
        out = (g(z + h) - g(z - h)) / (2 * h)
    elif overflowing:  # 1 - tanh(u)^2 written as 4 e^{2u} / (e^{2u} + 1)^2
        u = C * (z + K * z**3)
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(2 * u)
            out = 0.5 * (1 + np.tanh(u)) + 0.5 * z * 4 * e / (e + 1) ** 2 * C * (1 + 3 * K * z**2)
    else:
        t = np.tanh(C * (z + K * z**3))
        out = 0.5 * (1 + t) + 0.5 * z * (1 - t**2) * C * (1 + 3 * K * z**2)
    if flat:
        out = np.ravel(out)
    return out.tolist() if as_list and out.ndim else out


# --------------------------------------------------------------------------- 01.swish_derivative


def swish(z, beta=1.0, *, flat=False, inline=False):
    """The solution's answer; the keywords make it break one requirement."""
    z = np.asarray(z, dtype=float)
    if inline:  # calls the notebook's sigmoid, then uses exp(x) / (1 + exp(x)) instead
        sigmoid(beta * z)
        with np.errstate(over="ignore", invalid="ignore"):
            s = np.exp(beta * z) / (1 + np.exp(beta * z))
    else:
        s = sigmoid(beta * z)
    out = s + beta * z * s * (1 - s)
    return out.ravel() if flat else out


def backward_batches_only(Z, G):
    """Reads the batch size off Z.shape, so a single vector fails."""
    n, k = np.shape(Z)
    return backward(Z, G)


def swish_default_half(z, beta=0.5):
    return swish(z, beta)


def swish_inline_stable(z, beta=1.0):
    """Stable and right, but it never calls the notebook's sigmoid."""
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(beta * z))
    s = np.where(beta * z >= 0, 1 / (1 + e), e / (1 + e))
    return s + beta * z * s * (1 - s)


# --------------------------------------------------------------------------- 01.softmax_backward


def backward(Z, G, *, whole_batch_dot=False, vector_as_row=False, unstable=False, jacobian=False):
    """The solution's answer; the keywords make it break one requirement."""
    Z, G = np.asarray(Z, dtype=float), np.asarray(G, dtype=float)
    if vector_as_row:
        Z, G = np.atleast_2d(Z), np.atleast_2d(G)
    if unstable:
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(Z)
            P = e / e.sum(axis=-1, keepdims=True)
    else:
        P = softmax(Z)
    if jacobian:
        P2, G2 = np.atleast_2d(P), np.atleast_2d(G)
        out = np.array([(np.diag(p) - np.outer(p, p)) @ g for p, g in zip(P2, G2, strict=True)])
        return out if Z.ndim == 2 else out[0]
    dot = np.sum(G * P) if whole_batch_dot else np.sum(G * P, axis=-1, keepdims=True)
    return P * (G - dot)


TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/01-activations`", "where to read first"),
        free("Exercise 9 is a written one", "which exercise is not checked"),
    ],
    "01.sigmoid": [
        requirement("Use NumPy only", sigmoid_math_loop, r"NumPy only"),
        requirement("work on whole arrays (no Python loops)", sigmoid_numpy_loop, r"no Python loop"),
        requirement("for an array `z` (any shape)", sigmoid_flat, r"keep the shape of z"),
        requirement("returns $\\sigma(z) = 1/(1+e^{-z})$", lambda z: sigmoid(-np.asarray(z, dtype=float)),
                    r"sign in the exponent"),
        requirement("never evaluates `np.exp` of a large positive number", sigmoid_where_both_branches,
                    r"np.where evaluates BOTH branches"),
        free("Hint: $e^{-|z|}$ is always between 0 and 1", "a hint on how to start"),
    ],
    "01.sigmoid_derivative": [
        requirement("$= \\sigma'(z)$", lambda z: sigmoid(z) ** 2, r"sigma\(z\)\*\*2"),
        requirement("using your `sigmoid`", sigmoid_derivative_inline, r"never calls your sigmoid"),
        requirement("It must be finite for $z = \\pm 1000$", sigmoid_derivative_quotient, r"inf / inf"),
    ],
    "01.tanh_from_sigmoid": [
        free("The hyperbolic tangent is a shifted and rescaled sigmoid", "the idea"),
        requirement("then write `tanh_from_sigmoid(z)` using your `sigmoid`", tanh_inline,
                    r"never calls your sigmoid"),
        requirement("and no `np.tanh`", tanh_through_np_tanh, r"calls np.tanh"),
        requirement("Find the identity", lambda z: 2 * sigmoid(z) - 1, r"sigmoid of 2z"),
    ],
    "01.leaky_relu_derivative": [
        requirement("Write `leaky_relu_derivative(z, alpha=0.01)`", lambda z, alpha=0.1: leaky(z, alpha),
                    r"default alpha is 0.01"),
        requirement("the derivative of $f(z) = \\max(\\alpha z, z)$", lambda z, alpha=0.01: leaky(z, 0.01),
                    r"use the alpha argument"),
        free("for $0 < \\alpha < 1$", "the range of alpha every row uses"),
        requirement("Use the convention $f'(0) = \\alpha$", lambda z, alpha=0.01: leaky(z, alpha, strict_zero=True),
                    r"f'\(0\) = alpha"),
        requirement("do not change `z` in place", lambda z, alpha=0.01: leaky(z, alpha, in_place=True), r"in place"),
    ],
    "01.softmax": [
        requirement("that returns the softmax of each row", lambda Z: softmax(Z, columns=True), r"along each row"),
        requirement("It must also accept a single vector of shape `(K,)`",
                    lambda Z: softmax(Z) if np.ndim(Z) == 2 else softmax(Z)[None], r"a single vector"),
        requirement("it must stay finite for logits in the thousands", lambda Z: softmax(Z, no_shift=True),
                    r"exp overflowed"),
        requirement("even when one row's logits are huge and another's are small",
                    lambda Z: softmax(Z, global_max=True), r"each row's own maximum"),
        requirement("it must stay finite for logits in the thousands", lambda Z: softmax(Z, mean_shift=True),
                    r"not its mean or minimum"),
        free("one row of `K` logits per sample", "the layout, tested by the row above"),
        free("(each output row sums to 1)", "a property of the softmax, tested with it"),
    ],
    "01.gelu_tanh_derivative": [
        free("Many libraries compute GELU with the approximation", "defines g, whose derivative the rows test"),
        requirement("Derive $g'(z)$ by hand", lambda z: gelu(z, finite_difference=True), r"derive g'\(z\) by hand"),
        requirement("for an array `z` of any shape", lambda z: gelu(z, flat=True), r"keep the shape of z"),
        requirement("returning an array of the same shape", lambda z: gelu(z, as_list=True), r"NumPy array"),
        requirement("It must be finite for $|z|$ up to 1000", lambda z: gelu(z, overflowing=True), r"NaN or inf"),
        free("The check compares it with fixed values", "how the page checks"),
    ],
    "01.swish_derivative": [
        free("Swish is often written with a parameter $\\beta \\ge 0$", "defines f, whose derivative the rows test"),
        requirement("Write `swish_derivative(z, beta=1.0)`", swish_default_half, r"the default is beta = 1.0"),
        requirement("for an array `z` of any shape", lambda z, beta=1.0: swish(z, beta, flat=True),
                    r"keep the shape of z"),
        requirement("using your stable `sigmoid`", swish_inline_stable, r"never calls your sigmoid"),
        requirement("so that it is finite for $|z|$ up to 1000 and $\\beta$ up to 10",
                    lambda z, beta=1.0: swish(z, beta, inline=True), r"NaN or inf"),
    ],
    "01.softmax_backward": [
        free("Backpropagation (chapter 05) receives", "what backpropagation needs"),
        free("With the lecture's Jacobian", "a derivation to make, tested by the values"),
        requirement("for `Z` and `G` of shape `(n, K)` (one row per sample)",
                    lambda Z, G: backward(Z, G, whole_batch_dot=True), r"row by row"),
        requirement("or `(K,)`", backward_batches_only, r"shape \(K,\)"),
        requirement("returning an array of the same shape", lambda Z, G: backward(Z, G, vector_as_row=True),
                    r"same shape"),
        requirement("without building any $K \\times K$ matrix", lambda Z, G: backward(Z, G, jacobian=True),
                    r"K x K matrix"),
        requirement("Use a stable softmax: logits near 1000 must work", lambda Z, G: backward(Z, G, unstable=True),
                    r"NaN or inf"),
    ],
}
