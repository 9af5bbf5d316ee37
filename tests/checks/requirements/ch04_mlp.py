"""Requirement table of chapter 04, multi-layer perceptrons (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

# --------------------------------------------------------------------------- 04.xor_weights

OR_NAND_AND = {"W1": np.array([[1.0, -1.0], [1.0, -1.0]]), "b1": np.array([-0.5, 1.5]),
               "w2": np.array([1.0, 1.0]), "b2": -1.5}
# OR and NAND as rows instead of columns: each "neuron" mixes x1 of one gate with x2 of the other
ROWS_AS_NEURONS = {**OR_NAND_AND, "W1": np.array([[1.0, 1.0], [-1.0, -1.0]])}

# --------------------------------------------------------------------------- 04.mlp_forward


def forward(X, W1, b1, W2, b2, *, relu=True, hidden_bias=True, output_bias=True, relu_out=False,
            transposed=False, first_row=False):
    """The solution's answer; the keywords make it break one requirement."""
    if first_row:
        X = X[:1]
    H = X @ W1 + (b1 if hidden_bias else 0)
    H = np.maximum(0.0, H) if relu else H
    out = H @ W2 + (b2 if output_bias else 0)
    out = np.maximum(out, 0) if relu_out else out
    return out.T if transposed else out


# --------------------------------------------------------------------------- 04.relu_features


def features(x, weights, biases, *, relu=True, transposed=False, loop=False):
    """The solution's answer; the keywords make it break one requirement."""
    if loop:
        return np.array([[max(0.0, w * xi + b) for w, b in zip(weights, biases, strict=True)] for xi in x])
    out = np.outer(x, weights) + biases
    out = np.maximum(0.0, out) if relu else out
    return out.T if transposed else out


# --------------------------------------------------------------------------- 04.relu_interpolant


def interpolant(t, v, *, slopes_only=False, no_spacing=False, as_list=False, one_too_many=False, sign=1.0):
    """The solution's answer; the keywords make it break one requirement."""
    slopes = np.diff(v) / (1.0 if no_spacing else np.diff(t))
    a = slopes if slopes_only else np.diff(slopes, prepend=0.0)
    if one_too_many:
        a = np.r_[a, 0.0]
    a = sign * a
    return a.tolist() if as_list else a


# --------------------------------------------------------------------------- 04.dead_units


def dead(X, W1, b1, *, strict=False, any_sample=False, as_ints=False, as_list=False, count=False, alive=False):
    """The solution's answer; the keywords make it break one requirement."""
    Z = X @ W1 + b1
    off = (Z < 0) if strict else (Z <= 0)
    mask = np.any(off, axis=0) if any_sample else np.all(off, axis=0)
    if alive:
        mask = ~mask
    if count:
        return int(mask.sum())
    if as_ints:
        return mask.astype(int)
    return mask.tolist() if as_list else mask


# --------------------------------------------------------------------------- 04.train_tanh_regressor


def tanh_regressor(x, y, n_hidden, seed=0, *, steps=4000, lr=0.02, derivative=True, closed_form=False,
                   as_tuple=False, fixed_width=None, b2_array=False):
    """The solution's answer; the keywords make it break one requirement."""
    rng = np.random.default_rng(seed)
    h = fixed_width or n_hidden
    X = np.asarray(x, dtype=float).reshape(-1, 1)
    params = [rng.normal(0, 1, (1, h)), rng.uniform(-2, 2, h), rng.normal(0, 1 / np.sqrt(h), h), 0.0]
    if closed_form:  # random hidden units, output layer by least squares: no gradient descent
        W1, b1 = rng.normal(0, 2, (1, h)), rng.uniform(-3, 3, h)
        design = np.c_[np.tanh(X @ W1 + b1), np.ones(len(X))]
        coef = np.linalg.lstsq(design, y, rcond=None)[0]
        params = [W1, b1, coef[:-1], float(coef[-1])]
    else:
        velocity = [0.0] * 4
        for _ in range(steps):
            W1, b1, w2, b2 = params
            H = np.tanh(X @ W1 + b1)
            g = 2 * (H @ w2 + b2 - y) / len(X)
            dZ = np.outer(g, w2) * ((1 - H**2) if derivative else 1.0)
            grads = [X.T @ dZ, dZ.sum(axis=0), H.T @ g, g.sum()]
            velocity = [0.9 * v - lr * gr for v, gr in zip(velocity, grads, strict=True)]
            params = [p + v for p, v in zip(params, velocity, strict=True)]
    if b2_array:
        params[3] = np.array([params[3]])
    out = dict(zip(["W1", "b1", "w2", "b2"], params, strict=True))
    return tuple(out.values()) if as_tuple else out


# --------------------------------------------------------------------------- 04.shallow_sawtooth


def sawtooth(depth, lo, hi, *, slope_scale=1.0, extra_units=0, parts=4, c_array=False, uneven=False,
             depth_cap=None, unit_interval=False, lo_abs=False):
    """The solution's answer; the keywords make it break one requirement."""
    depth = min(depth, depth_cap) if depth_cap else depth
    lo, hi = (0.0, 1.0) if unit_interval else (abs(lo) if lo_abs else lo, hi)
    pieces = 2**depth
    knots = lo + (hi - lo) * np.arange(pieces) / pieces
    a = np.diff(slope_scale * pieces / (hi - lo) * (-1.0) ** np.arange(pieces), prepend=0.0)
    w, b = np.ones(pieces), -knots
    if extra_units:
        w, b, a = np.r_[w, np.ones(extra_units)], np.r_[b, -2 * np.ones(extra_units)], np.r_[a, np.zeros(extra_units)]
    if uneven:
        a = np.r_[a, 0.0]
    c = np.zeros(2) if c_array else 0.0
    return (w, b, a, c)[:parts]


TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a value or a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/04-mlp`", "where to read first"),
    ],
    "04.xor_weights": [
        requirement("a 2-2-1 network of threshold neurons that computes XOR", {**OR_NAND_AND, "b2": -0.5},
                    r"not XOR"),
        requirement("`W1` of shape `(2, 2)`", {**OR_NAND_AND, "W1": np.ones((2, 3))}, r"expected shapes W1 \(2, 2\)"),
        requirement("(one column per hidden neuron)", ROWS_AS_NEURONS, r"one column per hidden neuron"),
        requirement("`b1` of shape `(2,)`", {**OR_NAND_AND, "b1": np.array([[-0.5, 1.5]])}, r"b1 \(2,\)"),
        requirement("`w2` of shape `(2,)`", {**OR_NAND_AND, "w2": np.array([[1.0], [1.0]])}, r"w2 \(2,\)"),
        requirement("a number `b2`", {**OR_NAND_AND, "b2": np.array([-1.5, -1.5])}, r"one number b2"),
        requirement("Keep every weighted sum strictly away from 0", {**OR_NAND_AND, "b1": np.array([-1.0, 1.5])},
                    r"exactly 0"),
        free("hidden = step(X @ W1 + b1)", "the network the weights go into"),
        free("The lecture uses OR and NAND; any working choice is accepted",
             "a permission: the tests accept OR and AND combined differently"),
    ],
    "04.mlp_forward": [
        requirement("for a batch `X` of shape `(n, d)`", lambda *a: forward(*a, first_row=True), r"every sample"),
        requirement("a ReLU hidden layer", lambda *a: forward(*a, relu=False), r"needs its ReLU"),
        requirement("a linear output layer", lambda *a: forward(*a, relu_out=True), r"no ReLU after it"),
        requirement("$H = \\text{relu}(XW_1 + \\mathbf{b}_1)$", lambda *a: forward(*a, hidden_bias=False),
                    r"hidden bias b1"),
        requirement("$\\hat Y = HW_2 + \\mathbf{b}_2$", lambda *a: forward(*a, output_bias=False), r"output bias b2"),
        free("with `W1` of shape `(d, h)`", "the inputs the check passes"),
        requirement("Return $\\hat Y$, shape `(n, k)`", lambda *a: forward(*a, transposed=True), r"not \(k, n\)"),
    ],
    "04.relu_features": [
        free("A layer of $k$ ReLU neurons with one input $x$", "what the features are"),
        requirement("$\\Phi_{ij} = \\max(0, w_j x_i + b_j)$", lambda *a: features(*a, relu=False),
                    r"apply the ReLU"),
        requirement("returns $\\Phi$ with shape `(n, k)`", lambda *a: features(*a, transposed=True),
                    r"not \(k, n\)"),
        requirement("without a Python loop", lambda *a: features(*a, loop=True), r"without a Python loop"),
    ],
    "04.relu_interpolant": [
        free("The lecture fitted the output weights by least squares", "what the lecture did"),
        free("Here you compute them exactly", "the rows below say what exact means here"),
        requirement("with $t_0 < t_1 < \\dots < t_k$", lambda t, v: interpolant(t, v, no_spacing=True),
                    r"divide the value differences by the knot spacing"),
        requirement("passes through every point", lambda t, v: interpolant(t, v, slopes_only=True),
                    r"CHANGE of slope"),
        requirement("$$ \\hat y(x) = v_0 + \\sum_{j=0}^{k-1} a_j \\max(0,\\ x - t_j) $$",
                    lambda t, v: interpolant(t, v, sign=-1.0), r"sign is flipped"),
        free("and is straight between them", "a sum of hinges at the points is straight between them"),
        free("Hint: on $[t_j, t_{j+1}]$", "a hint"),
        requirement("returns the NumPy array `a`", lambda t, v: interpolant(t, v, as_list=True),
                    r"should return a NumPy array"),
        requirement("of shape `(k,)` (one entry fewer than the points)",
                    lambda t, v: interpolant(t, v, one_too_many=True), r"len\(t\) - 1 entries"),
    ],
    "04.dead_units": [
        requirement("is $\\le 0$ for every sample", lambda *a: dead(*a, strict=True), r"not Z < 0"),
        requirement("for every sample outputs 0 everywhere", lambda *a: dead(*a, any_sample=True), r"np\.all"),
        free("receives zero gradient (the mask is $Z > 0$)", "why a dead unit stays dead"),
        free("for a batch `X` of shape `(n, d)`", "the inputs the check passes"),
        requirement("returns a boolean NumPy array", lambda *a: dead(*a, as_ints=True), r"boolean array"),
        requirement("a boolean NumPy array", lambda *a: dead(*a, as_list=True), r"should return a NumPy array"),
        requirement("of shape `(h,)`", lambda *a: dead(*a, count=True), r"not a count"),
        requirement("`True` for the dead units", lambda *a: dead(*a, alive=True), r"not the live ones"),
    ],
    "04.train_tanh_regressor": [
        requirement("by gradient descent on the mean squared error",
                    lambda *a, **k: tanh_regressor(*a, closed_form=True, **k), r"by gradient descent"),
        requirement("returns a dict", lambda *a, **k: tanh_regressor(*a, as_tuple=True, **k),
                    r"should return a dict"),
        requirement("\"b2\": float}", lambda *a, **k: tanh_regressor(*a, b2_array=True, **k),
                    r"b2 should be one number"),
        requirement("with `h = n_hidden`", lambda *a, **k: tanh_regressor(*a, fixed_width=8, **k),
                    r"with n_hidden=6 the shapes"),
        free("on samples `x`, `y` (both shape `(n,)`)", "the inputs the check passes"),
        requirement("the derivative of tanh is $1 - \\tanh^2$",
                    lambda *a, **k: tanh_regressor(*a, derivative=False, **k), r"tanh derivative 1 - H\*\*2"),
        free("choose the initialisation, learning rate and number of steps yourself",
             "a permission: the tests accept momentum and Adam with other starts"),
        requirement("requires an RMSE below 0.05", lambda *a, **k: tanh_regressor(*a, steps=150, **k),
                    r"should be below 0.05"),
        free("within 30 s each", "the check calls with a 30 s time limit; a row would cost 30 s of test time"),
        free("The check trains on $\\sin(2x)$", "the cases of the RMSE requirement"),
    ],
    "04.shallow_sawtooth": [
        free("The lecture's deep network computes the sawtooth", "what the lecture did"),
        requirement("it computes the same sawtooth stretched onto any interval",
                    lambda depth, lo, hi: sawtooth(depth, lo, hi, unit_interval=True),
                    r"sawtooth on \[0, 1\], not s on \[lo, hi\]"),
        requirement("s(x) = t^{(\\text{depth})}", lambda depth, lo, hi: sawtooth(depth, lo, hi, slope_scale=0.5),
                    r"not half of that"),
        requirement("\\frac{x - \\text{lo}}{\\text{hi} - \\text{lo}}",
                    lambda depth, lo, hi: sawtooth(depth, lo, hi, slope_scale=hi - lo),
                    r"divide the slopes by hi - lo"),
        free("Build a network with one hidden layer",
             "the format (w, b, a, c) is one hidden layer; the rows of the format hold it"),
        requirement("returns `(w, b, a, c)`", lambda depth, lo, hi: sawtooth(depth, lo, hi, parts=3),
                    r"four parts"),
        requirement("three 1-D arrays of the same length $m$",
                    lambda depth, lo, hi: sawtooth(depth, lo, hi, uneven=True), r"one length"),
        requirement("and a number", lambda depth, lo, hi: sawtooth(depth, lo, hi, c_array=True),
                    r"c should be one number"),
        requirement("= s(x) \\quad", lambda depth, lo, hi: sawtooth(1, lo, hi), r"single tent"),
        requirement("with at most $2^{\\text{depth}}$ units",
                    lambda depth, lo, hi: sawtooth(depth, lo, hi, extra_units=2), r"at most 2\*\*"),
        requirement("for every depth from 1 to 10", lambda depth, lo, hi: sawtooth(depth, lo, hi, depth_cap=6),
                    r"for depth (7|8|9|10)\b"),
        requirement("every interval with $\\text{lo} < \\text{hi}$",
                    lambda depth, lo, hi: sawtooth(depth, lo, hi, lo_abs=True), r"on \[lo, hi\] = \[-"),
        free("(the check draws the intervals at random)", "says how the check works"),
        free("Work out where $s$ bends", "a hint"),
        free("Exercise 4's interpolant is one way", "a hint"),
    ],
}
