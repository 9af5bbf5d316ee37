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
    # two samples exactly on the boundary first (z = 0 predicts 1), then random ones
    edges = [(np.array([1.0, -1.0]), 0.0, np.array([2.0, 2.0]), 0, 0.5),
             (np.array([0.5, 0.5]), -1.0, np.array([1.0, 1.0]), 1, 1.0)]
    for trial in range(14):
        if trial >= 12:
            w, b, x, y, lr = edges[trial - 12]
        else:
            d = int(rng.integers(1, 5))
            w, x, b = rng.normal(size=d), rng.normal(size=d), float(rng.normal())
            y = int(rng.integers(0, 2))
            lr = float(rng.choice([0.1, 0.5, 1.0]))
        y_hat = int(x @ w + b >= 0)
        error = y - y_hat
        out = call(perceptron_update, w, b, x, y, lr, name="perceptron_update")
        new_w, new_b = expect_pair(out, "perceptron_update", "(new_w, new_b)")
        state = "a misclassified sample" if error else "a correctly classified sample"
        if trial >= 12:
            state = f"a sample exactly on the boundary (w.x + b = 0, so y_hat = 1) with y = {y}"
        case = f"{state} (trial {trial + 1})"
        edge = {"step(z) is 1 for z >= 0: a sample with z = 0 predicts 1":
                (w + lr * (y - (1 - y_hat)) * x, b + lr * (y - (1 - y_hat)))} if trial >= 12 else {}
        expect_close(new_w, w + lr * error * x, "new_w", case=case,
                     mistakes={"the update has the wrong sign: use (y - y_hat)": w - lr * error * x,
                               "the learning rate is missing": w + error * x,
                               "a correct prediction must leave the weights alone": w + lr * x,
                               **{text: wrong[0] for text, wrong in edge.items()}})
        expect_close(np.asarray(new_b, dtype=float).reshape(()), b + lr * error, "new_b", case=case,
                     mistakes={"the bias is not updated": b,
                               "the bias update has the wrong sign": b - lr * error,
                               "the learning rate is missing from the bias update": b + error,
                               **{text: wrong[1] for text, wrong in edge.items()}})
    return "14 steps, two of them on the boundary"


def _perceptron_reference(X, y, lr, n_epochs, *, sign=1.0, b0=0.0, extra_epochs=0, strict=False,
                          bias=True, use_lr=True):
    """Rosenblatt's rule from zero, in order (the keywords give typical mistakes)."""
    w, b = np.zeros(X.shape[1]), b0
    step = lr if use_lr else 1.0
    for _ in range(n_epochs + extra_epochs):
        for x_i, y_i in zip(X, y, strict=True):
            z = x_i @ w + b
            error = y_i - int(z > 0 if strict else z >= 0)
            w, b = w + sign * step * error * x_i, b + (sign * step * error if bias else 0.0)
    return w, b


@register("00.train_perceptron")
def check_train_perceptron(train_perceptron):
    """train_perceptron(X, y, lr, n_epochs) returns (w, b) separating separable data."""
    X, y = make_linearly_separable(n=12, seed=5, margin=0.1, w=(1.0, -2.0), b=0.5)
    y = y.copy()
    y[[2, 7]] = 1 - y[[2, 7]]  # two flipped labels: the rule keeps updating in every epoch
    for lr, n_epochs in [(1.0, 1), (0.5, 2), (2.0, 3), (0.1, 0)]:
        out = call(train_perceptron, X, y, lr, n_epochs, name="train_perceptron", time_limit=20)
        expect_pair(out, "train_perceptron", "(w, b)")
        w, b = to_array(out[0], "w"), to_array(out[1], "b")
        if w.shape != (2,):
            raise CheckFailed(f"w should have one weight per feature, shape (2,), not {w.shape}.")
        ref_w, ref_b = _perceptron_reference(X, y, lr, n_epochs)
        mistakes = {
            "the update has the wrong sign: w + lr * (y - y_hat) * x":
                _perceptron_reference(X, y, lr, n_epochs, sign=-1.0),
            "start from zero weights and a zero bias": _perceptron_reference(X, y, lr, n_epochs, b0=1.0),
            "it runs one epoch too many: range(n_epochs) passes over the data n_epochs times":
                _perceptron_reference(X, y, lr, n_epochs, extra_epochs=1),
            "step(z) is 1 for z >= 0: with zero weights the first sample predicts 1":
                _perceptron_reference(X, y, lr, n_epochs, strict=True),
            "the bias is never updated": _perceptron_reference(X, y, lr, n_epochs, bias=False),
            "the learning rate lr is not used": _perceptron_reference(X, y, lr, n_epochs, use_lr=False),
        }
        case = f"12 samples with two flipped labels, lr={lr:g}, n_epochs={n_epochs}"
        flat = {text: np.append(*wrong) for text, wrong in mistakes.items()}
        expect_close(np.append(w.astype(float), float(b.reshape(-1)[0])), np.append(ref_w, ref_b),
                     "(w[0], w[1], b)", case=case, mistakes=flat)
    for seed in range(3):
        X, y = make_linearly_separable(n=60, seed=seed, margin=0.3, w=(1.0, -2.0), b=0.5)
        out = call(train_perceptron, X, y, 1.0, 100, name="train_perceptron", time_limit=20)
        expect_pair(out, "train_perceptron", "(w, b)")
        w, b = to_array(out[0], "w"), to_array(out[1], "b")
        accuracy = np.mean(heaviside(X @ w + float(b.reshape(-1)[0])) == y)
        if accuracy < 1.0:
            raise CheckFailed(f"on linearly separable data (seed {seed}) your perceptron "
                              f"classifies {accuracy:.0%} correctly after 100 epochs; it should "
                              "reach 100 %. Does it loop over every sample, every epoch?")
    X, y = logic_gate("XOR")
    call(train_perceptron, X, y, 1.0, 50, name="train_perceptron", time_limit=20)
    return "exact after 0 to 3 epochs at four rates, separates three data sets, stops on XOR"


def _count_updates_reference(X, y, max_epochs):
    """Folded-bias perceptron from zero, samples in order, until a clean epoch."""
    X_aug = np.hstack([np.asarray(X, dtype=float), np.ones((len(X), 1))])
    w, n_updates = np.zeros(X_aug.shape[1]), 0
    for epoch in range(1, max_epochs + 1):
        clean = True
        for x_i, y_i in zip(X_aug, y, strict=True):
            error = int(y_i) - int(x_i @ w >= 0)
            if error:
                w, n_updates, clean = w + error * x_i, n_updates + 1, False
        if clean:
            return w, n_updates, epoch
    return w, n_updates, max_epochs


def _count_updates_cases():
    """(X, y, max_epochs, description) for the count_updates check."""
    rng = np.random.default_rng(5)
    cases = []
    for seed, margin in [(0, 0.05), (1, 0.2), (2, 0.4)]:
        X, y = make_linearly_separable(n=50, seed=20 + seed, margin=margin, w=(1.0, -1.5), b=0.3)
        cases.append((X, y, 500, f"separable 2-D data (seed {seed}, gap {margin})"))
    X3 = rng.normal(size=(40, 3))
    y3 = (X3 @ np.array([1.0, -2.0, 0.5]) - 0.3 > 0).astype(int)
    cases.append((X3, y3, 500, "separable 3-D data (40 samples)"))
    X_xor, y_xor = logic_gate("XOR")
    cases.append((X_xor, y_xor, 7, "XOR with max_epochs = 7 (never converges)"))
    cases.append((np.array([[1.0, 2.0], [-1.0, -1.0]]), np.array([0, 1]), 50,
                  "two points whose first is class 0 (tests step(0) = 1)"))
    return cases


@register("00.count_updates")
def check_count_updates(count_updates):
    """count_updates(X, y, max_epochs) -> (w_aug, n_updates, n_epochs) of the folded perceptron."""
    for X, y, max_epochs, case in _count_updates_cases():
        out = call(count_updates, X.copy(), y.copy(), max_epochs, name="count_updates",
                   time_limit=20)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise CheckFailed("count_updates should return the triple (w_aug, n_updates, n_epochs), "
                              f"not a {type(out).__name__}.")
        w_ref, n_ref, epochs_ref = _count_updates_reference(X, y, max_epochs)
        w_aug = to_array(out[0], "w_aug")
        d = X.shape[1]
        if w_aug.shape == (d,):
            raise CheckFailed(f"w_aug for {case} has shape {(d,)}: fold the bias in, so that it has "
                              f"d + 1 = {d + 1} entries, the bias last.")
        expect_close(w_aug, w_ref, "w_aug", case=case,
                     mistakes={"the bias should be the LAST entry (append the constant 1 as the last "
                               "column)": np.roll(w_ref, 1),
                               "step(0) must be 1: predict class 1 when z >= 0":
                               _count_updates_strict(X, y, max_epochs)[0]})
        for value, name in [(out[1], "n_updates"), (out[2], "n_epochs")]:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise CheckFailed(f"{name} should be an int, not a {type(value).__name__}.")
        if int(out[1]) != n_ref:
            hint = (" Count every update, in every epoch, not only those of the first epoch."
                    if int(out[1]) < n_ref else " Count only the samples that were misclassified.")
            raise CheckFailed(f"n_updates for {case} is {int(out[1])}, expected {n_ref}.{hint}")
        if int(out[2]) != epochs_ref:
            hint = (" Stop after the first epoch without a mistake (and count that epoch)."
                    if int(out[2]) > epochs_ref else
                    " Count the epochs you ran, including the last one, which had no mistake;"
                    " never stop before an epoch without mistakes or max_epochs.")
            raise CheckFailed(f"n_epochs for {case} is {int(out[2])}, expected {epochs_ref}.{hint}")
    return "updates, epochs and weights on 2-D, 3-D and non-separable data"


def _count_updates_strict(X, y, max_epochs):
    """The same perceptron with the wrong tie rule step(0) = 0 (a typical mistake)."""
    X_aug = np.hstack([np.asarray(X, dtype=float), np.ones((len(X), 1))])
    w = np.zeros(X_aug.shape[1])
    for _ in range(max_epochs):
        clean = True
        for x_i, y_i in zip(X_aug, y, strict=True):
            error = int(y_i) - int(x_i @ w > 0)
            if error:
                w, clean = w + error * x_i, False
        if clean:
            break
    return w, None


def _multiclass_reference(X, y, n_classes, n_epochs, subtract=True):
    X_aug = np.hstack([np.asarray(X, dtype=float), np.ones((len(X), 1))])
    W = np.zeros((n_classes, X_aug.shape[1]))
    for _ in range(n_epochs):
        for x_i, y_i in zip(X_aug, y, strict=True):
            guess = int(np.argmax(W @ x_i))
            if guess != y_i:
                W[int(y_i)] += x_i
                if subtract:
                    W[guess] -= x_i
    return W


def _blobs(rng, n, n_classes, d, spread=0.4):
    centres = rng.normal(scale=3.0, size=(n_classes, d))
    y = rng.permutation(np.arange(n) % n_classes)
    return centres[y] + spread * rng.normal(size=(n, d)), y


@register("00.multiclass_perceptron")
def check_multiclass_perceptron(multiclass_perceptron):
    """multiclass_perceptron(X, y, n_classes, n_epochs) -> W (n_classes, d + 1), bias last."""
    rng = np.random.default_rng(6)
    for n, n_classes, d, n_epochs in [(30, 3, 2, 1), (45, 3, 2, 5), (40, 4, 3, 4), (24, 2, 2, 3),
                                      (30, 5, 1, 2)]:
        X, y = _blobs(rng, n, n_classes, d, spread=1.5)
        out = call(multiclass_perceptron, X.copy(), y.copy(), n_classes, n_epochs,
                   name="multiclass_perceptron", time_limit=20)
        W_ref = _multiclass_reference(X, y, n_classes, n_epochs)
        case = f"{n} samples, {n_classes} classes, {d} features, {n_epochs} epochs"
        W = to_array(out, "W")
        if W.shape == (n_classes, d):
            raise CheckFailed(f"W for {case} has shape {W.shape}: fold the bias in as a last column "
                              f"(shape {(n_classes, d + 1)}).")
        if W.shape == (d + 1, n_classes) != (n_classes, d + 1):
            raise CheckFailed(f"W for {case} has shape {W.shape}: one ROW per class, shape "
                              f"{(n_classes, d + 1)}.")
        expect_close(W, W_ref, "W", case=case,
                     mistakes={"on a mistake, also subtract x from the row of the wrongly predicted "
                               "class": _multiclass_reference(X, y, n_classes, n_epochs, False),
                               "the bias should be the LAST column": np.roll(W_ref, 1, axis=1),
                               "one ROW per class (did you transpose W?)": W_ref.T})
    rng = np.random.default_rng(7)
    y = np.arange(90) % 3
    X = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])[y] + 0.4 * rng.normal(size=(90, 2))
    W = to_array(call(multiclass_perceptron, X, y, 3, 50, name="multiclass_perceptron",
                      time_limit=20), "W")
    accuracy = np.mean(np.argmax(np.hstack([X, np.ones((len(X), 1))]) @ W.T, axis=1) == y)
    if accuracy < 1.0:
        raise CheckFailed(f"on three well separated clusters your perceptron classifies {accuracy:.0%} "
                          "of the training points correctly after 50 epochs; it should reach 100 %.")
    return "exact weights on five data sets, separates three clusters"
