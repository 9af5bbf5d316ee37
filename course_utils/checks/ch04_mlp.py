"""Checks for chapter 04, multi-layer perceptrons."""

from __future__ import annotations

import numpy as np

from course_utils.checks.ch03_fluids import learner_lines
from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    expect_equal,
    expect_ndarray,
    heaviside,
    register,
    require_answer,
    seeded_rng,
    to_array,
)
from course_utils.data.synthetic import LOGIC_GATES, logic_gate

_CORNERS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
_TABLES = {**LOGIC_GATES, "x1": [0, 0, 1, 1], "x2": [0, 1, 0, 1], "NOT x1": [1, 1, 0, 0],
           "NOT x2": [1, 0, 1, 0], "XNOR": [1, 0, 0, 1], "always 0": [0, 0, 0, 0], "always 1": [1, 1, 1, 1],
           "x1 AND NOT x2": [0, 0, 1, 0], "x2 AND NOT x1": [0, 1, 0, 0],
           "x1 OR NOT x2": [1, 0, 1, 1], "x2 OR NOT x1": [1, 1, 0, 1]}


def _gate_name(table) -> str:
    table = [int(v) for v in table]
    return next((name for name, t in _TABLES.items() if list(t) == table), str(table))


@register("04.xor_weights")
def check_xor_weights(xor_weights):
    """xor_weights = {"W1", "b1", "w2", "b2"} of a 2-2-1 threshold network computing XOR."""
    require_answer(xor_weights, "xor_weights")
    if not isinstance(xor_weights, dict):
        raise CheckFailed(f"xor_weights should be a dict with keys 'W1', 'b1', 'w2', 'b2', "
                          f"not a {type(xor_weights).__name__}.")
    for key in ("W1", "b1", "w2", "b2"):
        if key not in xor_weights:
            raise CheckFailed(f"xor_weights has no entry {key!r}.")
    W1, b1 = to_array(xor_weights["W1"], "W1").astype(float), to_array(xor_weights["b1"], "b1").astype(float)
    w2, b2 = to_array(xor_weights["w2"], "w2").astype(float), to_array(xor_weights["b2"], "b2").astype(float)
    if W1.shape != (2, 2) or b1.shape != (2,) or w2.shape != (2,) or b2.size != 1:
        raise CheckFailed(f"expected shapes W1 (2, 2), b1 (2,), w2 (2,) and one number b2; got "
                          f"{W1.shape}, {b1.shape}, {w2.shape} and {b2.shape}.")
    w2, b2 = w2.reshape(-1), float(b2.reshape(-1)[0])
    Z1 = _CORNERS @ W1 + b1
    if np.any(np.isclose(Z1, 0.0)):
        raise CheckFailed("a hidden neuron's weighted sum is exactly 0 for some input: move its line "
                          "away from the corners with the bias.")
    H = heaviside(Z1)
    z2 = H @ w2 + b2
    if np.any(np.isclose(z2, 0.0)):
        raise CheckFailed("the output neuron's weighted sum is exactly 0 for some input: change b2.")
    out = heaviside(z2)
    _, target = logic_gate("XOR")
    if np.array_equal(out, target):
        return "the network computes XOR"
    hidden = [_gate_name(H[:, j]) for j in range(2)]
    output_gate = _gate_name(heaviside(_CORNERS @ w2 + b2)).replace("x1", "h1").replace("x2", "h2")
    message = (f"your network computes {_gate_name(out)}, not XOR. Hidden neuron 1 computes {hidden[0]}, "
               f"hidden neuron 2 computes {hidden[1]}, and the output neuron computes {output_gate} of "
               "(h1, h2). ")
    ones = {tuple(h) for h, t in zip(H, target, strict=True) if t == 1}
    zeros = {tuple(h) for h, t in zip(H, target, strict=True) if t == 0}
    if ones & zeros:
        raise CheckFailed(message + "The hidden layer sends an XOR-1 input and an XOR-0 input to the same "
                          "point, so no output neuron can fix it: the hidden gates are wrong (try OR and "
                          "NAND, as in the lecture). Remember W1 has one column per hidden neuron.")
    raise CheckFailed(message + "The hidden layer is fine; the output gate is wrong: which gate of "
                      "(h1, h2) is 1 exactly for the hidden values of the XOR-1 inputs?")


def _reference_mlp(X, W1, b1, W2, b2):
    pre = np.einsum("nd,dh->nh", X, W1) + b1
    return np.einsum("nh,hk->nk", np.where(pre > 0, pre, 0.0), W2) + b2


@register("04.mlp_forward")
def check_mlp_forward(mlp_forward):
    """mlp_forward(X, W1, b1, W2, b2) = relu(X W1 + b1) W2 + b2."""
    rng = seeded_rng(4)
    for n, d, h, k in [(5, 3, 4, 2), (1, 2, 6, 1), (7, 4, 3, 5)]:
        X, W1, b1 = rng.normal(size=(n, d)), rng.normal(size=(d, h)), rng.normal(size=h)
        W2, b2 = rng.normal(size=(h, k)), rng.normal(size=k)
        got = call(mlp_forward, X, W1, b1, W2, b2, name="mlp_forward")
        pre = X @ W1 + b1
        expect_close(got, _reference_mlp(X, W1, b1, W2, b2), "the output", case=f"n={n}, d={d}, h={h}, k={k}",
                     mistakes={"the hidden layer needs its ReLU activation": pre @ W2 + b2,
                               "the hidden bias b1 is missing": np.maximum(X @ W1, 0) @ W2 + b2,
                               "the output bias b2 is missing": np.maximum(pre, 0) @ W2,
                               "the output layer is linear: no ReLU after it":
                               np.maximum(np.maximum(pre, 0) @ W2 + b2, 0),
                               "one row per sample: the output should be (n, k), not (k, n)":
                               (np.maximum(pre, 0) @ W2 + b2).T,
                               "one output row for every sample of the batch X, not only the first":
                               (np.maximum(pre, 0) @ W2 + b2)[:1]})
    return "three random networks of different shapes"


@register("04.relu_features")
def check_relu_features(relu_features):
    """relu_features(x, weights, biases) returns max(0, x w_j + b_j), shape (n, k)."""
    rng = seeded_rng(5)
    cases = [(np.array([-1.0, 0.0, 2.0]), np.array([1.0, -2.0]), np.array([0.5, 1.0]))]
    for n, k in [(10, 4), (1, 3), (6, 1)]:
        cases.append((rng.uniform(-2, 2, n), rng.normal(size=k), rng.normal(size=k)))
    for x, w, b in cases:
        got = call(relu_features, x, w, b, name="relu_features")
        linear = x[:, None] * w[None, :] + b[None, :]
        expected = np.clip(linear, 0.0, None)
        expect_close(got, expected, "Phi", case=f"{len(x)} samples and {len(w)} neurons",
                     mistakes={"apply the ReLU max(0, .) to the weighted sums": linear,
                               "add the bias, do not subtract it": np.clip(x[:, None] * w - b, 0, None),
                               "rows are samples and columns are neurons: shape (n, k), not (k, n)": expected.T,
                               "the ReLU is max(0, z), not min(0, z)": np.minimum(linear, 0.0)})
    counts = []
    for n, k in [(10, 3), (1000, 3), (10, 300)]:
        with learner_lines(relu_features) as lines:
            call(lines.func, rng.uniform(-2, 2, n), rng.normal(size=k), rng.normal(size=k), name="relu_features")
        counts.append(lines.count)
    if counts[0] is not None and max(counts[1], counts[2]) > counts[0] + 50:
        raise CheckFailed(f"relu_features ran {counts[0]} lines of its code for 10 samples and 3 neurons, "
                          f"{counts[1]} for 1,000 samples and {counts[2]} for 300 neurons: it loops in Python. "
                          "Compute the whole matrix at once, without a Python loop (np.outer or broadcasting).")
    return "four sets of samples and neurons, without a Python loop"


def _interpolant_weights(t, v):
    slopes = np.diff(v) / np.diff(t)
    return np.diff(np.concatenate([[0.0], slopes]))


@register("04.relu_interpolant")
def check_relu_interpolant(relu_interpolant):
    """relu_interpolant(t, v) returns a (k,) with v[0] + sum_j a_j relu(x - t_j) through the points."""
    rng = seeded_rng(41)
    cases = [("the zigzag t = [0, 1, 2, 3], v = [0, 1, 0, 1]", np.array([0.0, 1.0, 2.0, 3.0]),
              np.array([0.0, 1.0, 0.0, 1.0])),
             ("two points (one unit)", np.array([-1.0, 2.0]), np.array([3.0, -3.0]))]
    for k in (5, 12):
        t = np.sort(rng.uniform(-2, 2, k + 1))
        t[1:] = np.maximum(t[1:], t[:-1] + 0.05)
        cases.append((f"{k + 1} unevenly spaced random points", t, rng.normal(size=k + 1)))
    for case, t, v in cases:
        got = expect_ndarray(call(relu_interpolant, t.copy(), v.copy(), name="relu_interpolant"), "relu_interpolant")
        expected = _interpolant_weights(t, v)
        slopes = np.diff(v) / np.diff(t)
        k = len(t) - 1
        got_array = to_array(got, "a")
        if got_array.shape == (k + 1,):
            raise CheckFailed(f"a has {k + 1} entries for {k + 1} points ({case}): the hinges sit at "
                              "t_0 ... t_(k-1), one unit per segment, so a has len(t) - 1 entries; "
                              "no hinge is needed at the last point.")
        mistakes = {"a_j is the CHANGE of slope at t_j (slope after minus slope before), "
                    "not the slope itself": slopes,
                    "divide the value differences by the knot spacing: a slope is "
                    "(v[j+1] - v[j]) / (t[j+1] - t[j])": np.diff(np.concatenate([[0.0], np.diff(v)])),
                    "the first unit starts from slope 0: a_0 is the first slope itself":
                    np.concatenate([[0.0], np.diff(slopes)]),
                    "the sign is flipped: slope after minus slope before": -expected}
        expect_close(got_array, expected, "a", case=case, mistakes=mistakes)
    return "four sets of points, evenly and unevenly spaced"


@register("04.dead_units")
def check_dead_units(dead_units):
    """dead_units(X, W1, b1) returns a bool (h,): True where X W1 + b1 <= 0 for every row of X."""
    rng = seeded_rng(43)
    X0 = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    W0 = np.array([[1.0, -1.0, 0.0, -1.0], [1.0, -1.0, 0.0, 1.0]])
    b0 = np.array([0.0, 0.0, 0.0, -1.0])  # alive, dead, dead (always exactly 0), dead (0 or -1)
    cases = [("three samples and four units, some pre-activations exactly 0", X0, W0, b0)]
    for n, d, h in [(20, 1, 7), (6, 3, 10), (1, 4, 3)]:
        W = rng.normal(size=(d, h))
        b = rng.normal(size=h) - 1.5 * np.abs(W).sum(axis=0) * rng.integers(0, 2, h)
        cases.append((f"X of shape {(n, d)} and {h} units", rng.uniform(-1, 1, (n, d)), W, b))
    for case, X, W, b in cases:
        got = call(dead_units, X.copy(), W.copy(), b.copy(), name="dead_units")
        array = to_array(got, "dead_units(X, W1, b1)")
        Z = X @ W + b
        expected = np.all(Z <= 0, axis=0)
        if array.ndim == 0:
            raise CheckFailed(f"dead_units returned the single value {array.item()!r} ({case}): "
                              "return one boolean per hidden unit, shape (h,), not a count.")
        expect_ndarray(got, "dead_units")
        if array.dtype != bool:
            raise CheckFailed(f"dead_units should return a boolean array, not {array.dtype} ({case}): "
                              "a comparison such as (Z <= 0) gives booleans.")
        expect_equal(array, expected, "the dead-unit mask", case=case,
                     mistakes={"a pre-activation of exactly 0 gives no gradient either (the ReLU mask is "
                               "Z > 0): dead means Z <= 0 for every sample, not Z < 0": np.all(Z < 0, axis=0),
                               "a unit is dead when it is off for EVERY sample (np.all), not for some "
                               "sample (np.any)": np.any(Z <= 0, axis=0),
                               "True should mark the dead units, not the live ones": ~expected})
    return "four batches, pre-activations of exactly 0 included"


class _solves_linear_systems:
    """Watch a learner's function for calls into numpy.linalg (lstsq, solve, inv, pinv; np.polyfit
    calls lstsq): the closed form that "by gradient descent" forbids. ``seen`` names the first."""

    def __init__(self, func):
        import functools
        import sys
        import types

        self.seen = None
        if not isinstance(func, types.FunctionType):
            self.func = func
            return

        def profile(frame, event, arg):
            if self.seen is None and event == "call":
                module = frame.f_globals.get("__name__", "")
                if isinstance(module, str) and module.startswith(("numpy.linalg", "scipy.linalg")):
                    self.seen = f"{module.split('._')[0]}.{frame.f_code.co_name}"

        @functools.wraps(func)
        def watched(*args, **kwargs):
            previous = sys.getprofile()
            sys.setprofile(profile)
            try:
                return func(*args, **kwargs)
            finally:
                sys.setprofile(previous)

        self.func = watched


def _tanh_net(params, x):
    W1 = to_array(params["W1"], "W1").astype(float)
    b1 = to_array(params["b1"], "b1").astype(float)
    w2 = to_array(params["w2"], "w2").astype(float)
    b2 = float(to_array(params["b2"], "b2").astype(float).reshape(-1)[0])
    return np.tanh(x[:, None] @ W1 + b1) @ w2 + b2


@register("04.train_tanh_regressor")
def check_train_tanh_regressor(train_tanh_regressor):
    """train_tanh_regressor(x, y, n_hidden, seed) returns {'W1', 'b1', 'w2', 'b2'} of a tanh net, RMSE < 0.05."""
    rng = seeded_rng(47)
    grid = np.linspace(-1.9, 1.9, 381)
    for name, target, n_hidden in [("sin(2x)", lambda x: np.sin(2 * x), 8),
                                   ("exp(-4 x^2)", lambda x: np.exp(-4 * x**2), 6)]:
        x = rng.uniform(-2, 2, 200)
        y = target(x)
        watch = _solves_linear_systems(train_tanh_regressor)
        out = call(watch.func, x.copy(), y.copy(), n_hidden, 0, name="train_tanh_regressor", time_limit=30)
        require_answer(out, "the value returned by train_tanh_regressor")
        if not isinstance(out, dict) or not {"W1", "b1", "w2", "b2"} <= set(out):
            raise CheckFailed("train_tanh_regressor should return a dict with the keys 'W1', 'b1', 'w2' "
                              f"and 'b2', not {type(out).__name__}"
                              + (f" with keys {sorted(out)}" if isinstance(out, dict) else "") + ".")
        if watch.seen:
            raise CheckFailed(f"train_tanh_regressor called {watch.seen}: the exercise asks for training by "
                              "gradient descent on the mean squared error, not a least-squares solve of the "
                              "output layer.")
        shapes = {key: to_array(out[key], key).shape for key in ("W1", "b1", "w2", "b2")}
        if shapes["b2"] != ():
            raise CheckFailed(f"b2 should be one number (a float), not an array of shape {shapes['b2']}.")
        if (shapes["W1"] != (1, n_hidden) or shapes["b1"] != (n_hidden,) or shapes["w2"] != (n_hidden,)
                or int(np.prod(shapes["b2"])) != 1):
            raise CheckFailed(f"with n_hidden={n_hidden} the shapes should be W1 (1, {n_hidden}), b1 "
                              f"({n_hidden},), w2 ({n_hidden},) and one number b2; got {shapes}.")
        predictions = _tanh_net(out, grid)
        if not np.all(np.isfinite(predictions)):
            raise CheckFailed(f"on {name} the trained network outputs NaN or inf: the learning rate is too "
                              "large, or the gradients blow up.")
        truth = target(grid)
        rmse = float(np.sqrt(np.mean((predictions - truth) ** 2)))
        line_rmse = float(np.sqrt(np.mean((np.polyval(np.polyfit(grid, truth, 1), grid) - truth) ** 2)))
        if rmse >= 0.05:
            if rmse > 0.8 * line_rmse:
                hint = ("it does no better than a straight line: are the hidden weights W1, b1 updated "
                        "too, with the tanh derivative 1 - H**2 in their gradient?")
            else:
                hint = ("it learned something but not enough: more steps, a larger learning rate or "
                        "momentum, spread initial biases b1 so the units start at different places, and "
                        "the hidden layer's gradient with the tanh derivative 1 - H**2.")
            raise CheckFailed(f"on {name} with {n_hidden} tanh units, the RMSE of "
                              "tanh(x W1 + b1) @ w2 + b2 on [-1.9, 1.9] is "
                              f"{rmse:.3f}; it should be below 0.05: {hint}")
    return "sin(2x) with 8 and a bump with 6 tanh units, both below RMSE 0.05"


def _sawtooth(x, depth):
    """The tent map t(x) = 2 relu(x) - 4 relu(x - 1/2) composed depth times."""
    for _ in range(depth):
        x = 2 * np.maximum(x, 0) - 4 * np.maximum(x - 0.5, 0)
    return x


def _one_layer(x, w, b, a, c):
    return c.reshape(()) + np.maximum(np.outer(x, w) + b, 0) @ a


@register("04.shallow_sawtooth")
def check_shallow_sawtooth(shallow_sawtooth):
    """shallow_sawtooth(depth, lo, hi) returns (w, b, a, c): one ReLU layer of <= 2**depth units equal to the
    sawtooth t composed depth times, stretched onto [lo, hi]."""
    rng = seeded_rng(41)
    for depth in rng.permutation(np.arange(1, 11)).tolist():  # every depth, in a salted order
        # a random interval, its width kept away from 1/2 and 1 so that each mistake below has its own output
        lo = round(float(rng.uniform(-3, 2)), 2)
        hi = round(lo + float(rng.uniform(1.25, 4)), 2)
        case = f"depth {depth} on [lo, hi] = [{lo}, {hi}]"
        out = call(shallow_sawtooth, depth, lo, hi, name="shallow_sawtooth")
        if not isinstance(out, (tuple, list)) or len(out) != 4:
            raise CheckFailed(f"shallow_sawtooth({depth}, {lo}, {hi}) should return the four parts (w, b, a, c), "
                              f"not {type(out).__name__}"
                              + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "") + ".")
        w, b, a = (to_array(part, name).astype(float) for part, name in zip(out[:3], ("w", "b", "a"),
                                                                            strict=True))
        c = to_array(out[3], "c").astype(float)
        if c.size != 1:
            raise CheckFailed(f"c should be one number (the output bias), not an array of shape {c.shape}, "
                              f"for {case}.")
        if w.ndim != 1 or w.shape != b.shape or w.shape != a.shape:
            raise CheckFailed(f"w, b and a should be 1-D arrays of one length, one entry per hidden unit; got "
                              f"shapes {w.shape}, {b.shape} and {a.shape} for {case}.")
        pieces = 2**depth
        if len(w) > pieces:
            raise CheckFailed(f"for {case} your layer has {len(w)} units; at most 2**{depth} = {pieces} are "
                              "allowed. The sawtooth has 2**depth straight pieces: one unit per bend, plus one "
                              "for the first slope, is enough.")
        knots = np.arange(pieces + 1) / pieces  # the bends of the sawtooth on [0, 1], and its ends
        u = np.unique(np.r_[np.linspace(0, 1, 8 * pieces + 1), knots, (knots[:-1] + knots[1:]) / 2,
                            rng.uniform(0, 1, 200)])
        x = lo + (hi - lo) * u
        got = _one_layer(x, w, b, a, c)
        expected = _sawtooth(u, depth)
        if not np.allclose(got, expected, rtol=0, atol=1e-6) and np.allclose(
                _one_layer(u, w, b, a, c), expected, rtol=0, atol=1e-6):
            raise CheckFailed(f"for {case} your network computes the lecture's sawtooth on [0, 1], not s on "
                              "[lo, hi]: stretch it, with its bends at lo + j (hi - lo) / 2**depth.")
        mistakes = {"the teeth rise from 0 to 1 and fall back: the slopes are +-2**depth / (hi - lo), not half "
                    "of that": 0.5 * expected,
                    "(x - lo) / (hi - lo) runs from 0 to 1 over [lo, hi], so divide the slopes by hi - lo: "
                    "they are +-2**depth / (hi - lo), not +-2**depth": (hi - lo) * expected,
                    "that is the single tent, not the tent composed depth times": _sawtooth(u, 1)}
        mistakes = {k: v for k, v in mistakes.items() if not np.allclose(v, expected)}
        expect_close(got, expected, f"your network's output on [lo, hi] ({len(x)} points, the bends included)",
                     case=case, rtol=0, atol=1e-6, mistakes=mistakes)
    return "depths 1 to 10, each on a random interval [lo, hi], within 2**depth units"
