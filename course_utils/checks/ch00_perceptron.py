"""Checks for chapter 00, the perceptron."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    expect_equal,
    expect_pair,
    heaviside,
    register,
    require_answer,
    seeded_rng,
    to_array,
)
from course_utils.data.synthetic import LOGIC_GATES, logic_gate, make_linearly_separable


@register("00.weighted_sum")
def check_weighted_sum(weighted_sum):
    """weighted_sum(X, w, b) returns z = X @ w + b for one sample or a batch."""
    rng = seeded_rng(0)
    x, w, b = np.array([-1.0, 2.0]), np.array([3.0, -2.0]), 1.0
    z = call(weighted_sum, x, w, b, name="weighted_sum")
    expect_close(z, -6.0, "weighted_sum", case="the worked example x=[-1, 2], w=[3, -2], b=1",
                 mistakes={"the bias is missing": -7.0, "the bias should be added, not subtracted": -8.0,
                           "check the signs of the products": 8.0})
    for n, d in [(5, 3), (1, 4), (8, 1)]:
        X, w, b = rng.normal(size=(n, d)), rng.normal(size=d), float(rng.normal())
        z = call(weighted_sum, X, w, b, name="weighted_sum")
        expect_close(z, np.einsum("nd,d->n", X, w) + b, "weighted_sum",
                     case=f"a batch X of shape {(n, d)}",
                     mistakes={"the bias is missing": X @ w,
                               "the bias should be added, not subtracted": X @ w - b,
                               "sum over the features (axis 1), one z per sample": (X * w).sum() + b})
    return "one sample and batches of samples"


@register("00.gate_weights")
def check_gate_weights(gate_weights):
    """gate_weights maps 'AND', 'OR', 'NAND' to (w, b) of a threshold neuron."""
    require_answer(gate_weights, "gate_weights")
    if not isinstance(gate_weights, dict):
        raise CheckFailed(f"gate_weights should be a dict like {{'AND': (w, b), ...}}, "
                          f"not a {type(gate_weights).__name__}.")
    for gate in ("AND", "OR", "NAND"):
        if gate not in gate_weights:
            raise CheckFailed(f"gate_weights has no entry for {gate!r}.")
        entry = gate_weights[gate]
        if not isinstance(entry, (tuple, list)) or len(entry) != 2:
            raise CheckFailed(f"gate_weights[{gate!r}] should be a pair (w, b).")
        w, b = to_array(entry[0], f"w of {gate}"), to_array(entry[1], f"b of {gate}")
        if w.shape != (2,) or b.size != 1:
            raise CheckFailed(f"for {gate}, w should have 2 values and b one; got shapes "
                              f"{w.shape} and {b.shape}.")
        X, target = logic_gate(gate)
        z = X @ w.astype(float) + float(b.reshape(-1)[0])
        if np.any(np.isclose(z, 0.0)):
            raise CheckFailed(f"for {gate}, an input lies exactly on the boundary (z = 0): move "
                              "the line away from the corners with the bias.")
        others = {f"your weights compute {name}, not {gate}": np.array(t)
                  for name, t in LOGIC_GATES.items() if name != gate}
        expect_equal(heaviside(z), target, f"the {gate} neuron's outputs", case="the four inputs",
                     mistakes=others)
    return "AND, OR and NAND"


@register("00.perceptron_update")
def check_perceptron_update(perceptron_update):
    """perceptron_update(w, b, x, y, lr) applies one step of Rosenblatt's rule."""
    rng = seeded_rng(1)
    for trial in range(12):
        d = int(rng.integers(1, 5))
        w, x, b = rng.normal(size=d), rng.normal(size=d), float(rng.normal())
        y = int(rng.integers(0, 2))
        lr = float(rng.choice([0.1, 0.5, 1.0]))
        y_hat = int(x @ w + b >= 0)
        error = y - y_hat
        out = call(perceptron_update, w, b, x, y, lr, name="perceptron_update")
        new_w, new_b = expect_pair(out, "perceptron_update", "(new_w, new_b)")
        state = "a misclassified sample" if error else "a correctly classified sample"
        case = f"{state} (trial {trial + 1})"
        expect_close(new_w, w + lr * error * x, "new_w", case=case,
                     mistakes={"the update has the wrong sign: use (y - y_hat)": w - lr * error * x,
                               "the learning rate is missing": w + error * x,
                               "a correct prediction must leave the weights alone": w + lr * x})
        expect_close(np.asarray(new_b, dtype=float).reshape(()), b + lr * error, "new_b", case=case,
                     mistakes={"the bias is not updated": b,
                               "the bias update has the wrong sign": b - lr * error,
                               "the learning rate is missing from the bias update": b + error})
    return "12 random steps"


@register("00.train_perceptron")
def check_train_perceptron(train_perceptron):
    """train_perceptron(X, y, lr, n_epochs) returns (w, b) separating separable data."""
    for seed in range(3):
        X, y = make_linearly_separable(n=60, seed=seed, margin=0.3, w=(1.0, -2.0), b=0.5)
        out = call(train_perceptron, X, y, 1.0, 100, name="train_perceptron", time_limit=20)
        expect_pair(out, "train_perceptron", "(w, b)")
        w, b = to_array(out[0], "w"), to_array(out[1], "b")
        if w.shape != (2,):
            raise CheckFailed(f"w should have one weight per feature, shape (2,), not {w.shape}.")
        accuracy = np.mean(heaviside(X @ w + float(b.reshape(-1)[0])) == y)
        if accuracy < 1.0:
            raise CheckFailed(f"on linearly separable data (seed {seed}) your perceptron "
                              f"classifies {accuracy:.0%} correctly after 100 epochs; it should "
                              "reach 100 %. Does it loop over every sample, every epoch?")
    X, y = logic_gate("XOR")
    call(train_perceptron, X, y, 1.0, 50, name="train_perceptron", time_limit=20)
    return "separates three data sets and stops after n_epochs on XOR"
