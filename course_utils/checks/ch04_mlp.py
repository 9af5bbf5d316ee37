"""Checks for chapter 04, multi-layer perceptrons."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    heaviside,
    register,
    require_answer,
    require_callable,
    seeded_rng,
    to_array,
)
from course_utils.data.synthetic import LOGIC_GATES, logic_gate, make_cubic

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
    if W1.shape != (2, 2) or b1.shape != (2,) or w2.reshape(-1).shape != (2,) or b2.size != 1:
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
                               (np.maximum(pre, 0) @ W2 + b2).T})
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
    return "four sets of samples and neurons"


def _count_bent_points(values, tol):
    second = values[2:] - 2 * values[1:-1] + values[:-2]
    return int(np.sum(np.abs(second) > tol))


@register("04.fit_relu_sum")
def check_fit_relu_sum(fit_relu_sum):
    """fit_relu_sum(x, y, n_neurons) returns predict(x_new), a sum of n_neurons ReLUs."""
    X, y = make_cubic(n=300, seed=2)
    x = X[:, 0]
    grid = np.linspace(-1.45, 1.45, 1201)
    truth = grid**3 + 0.1 * grid**2 - grid + 0.1
    for n_neurons, limit in [(8, 0.08), (32, 0.008)]:
        predict = call(fit_relu_sum, x, y, n_neurons, name="fit_relu_sum", time_limit=10)
        require_callable(predict, "the value returned by fit_relu_sum")
        values = to_array(call(predict, grid.copy(), name="predict"), "predict(x_new)").astype(float)
        if values.size != grid.size:
            raise CheckFailed(f"predict(x_new) should return one value per point: {grid.size} values for "
                              f"{grid.size} points, not shape {values.shape}.")
        values = values.reshape(-1)
        if not np.all(np.isfinite(values)):
            raise CheckFailed("predict(x_new) returned NaN or inf.")
        rmse = float(np.sqrt(np.mean((values - truth) ** 2)))
        if rmse > limit:
            raise CheckFailed(f"with {n_neurons} neurons the RMSE on [-1.45, 1.45] is {rmse:.4f}, it should be "
                              f"below {limit}: spread the knots over the whole range of x and keep the output "
                              "bias c (a column of ones).")
        bent = _count_bent_points(values, tol=1e-7 * (1 + np.max(np.abs(values))))
        if bent > 2 * n_neurons + 2:
            raise CheckFailed(f"with {n_neurons} neurons, predict bends at {bent} of {grid.size} grid points: "
                              "a sum of ReLUs is piecewise linear with at most one kink per neuron. Use "
                              f"exactly n_neurons = {n_neurons} ReLU features (no polynomial fit).")
    return "8 and 32 neurons within the error limits"
