"""Checks for chapter 00, the perceptron."""

from __future__ import annotations

import time

import numpy as np

from course_utils.checks.ch03_fluids import learner_lines
from course_utils.checks.core import (
    CheckFailed,
    call,
    calls_of_global,
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


def _seconds(func, *args) -> float:
    """Wall time of one call (the fastest of three, so a pause of the machine does not count)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        func(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def _check_no_loop_by_time(weighted_sum, rng):
    """The same 300,000 numbers as 300,000 samples of one feature and as 3,000 samples of 100
    features: copying and moving them costs the same, a matrix product about the same, but a
    loop over the samples a hundred times more for the first (at least half a microsecond per
    sample, over 0.1 s here)."""
    tall, wide = rng.normal(size=(300_000, 1)), rng.normal(size=(3_000, 100))
    w_tall, w_wide, b = rng.normal(size=1), rng.normal(size=100), float(rng.normal())
    t_wide = _seconds(lambda: call(weighted_sum, wide, w_wide, b, name="weighted_sum", time_limit=20))
    t_tall = _seconds(lambda: call(weighted_sum, tall, w_tall, b, name="weighted_sum", time_limit=20))
    if t_tall - t_wide > 0.08 and t_tall > 3 * t_wide:
        raise CheckFailed(f"weighted_sum took {t_tall:.2f} s for 300,000 samples of one feature, but "
                          f"{t_wide:.3f} s for 3,000 samples of 100 features (the same amount of data): do not "
                          "loop over the samples, use one matrix product.")


@register("00.weighted_sum")
def check_weighted_sum(weighted_sum):
    """weighted_sum(X, w, b) returns z = X @ w + b for one sample or a batch."""
    rng = seeded_rng(0)
    x, w, b = np.array([-1.0, 2.0]), np.array([3.0, -2.0]), 1.0
    z = call(weighted_sum, x, w, b, name="weighted_sum")
    if np.shape(z) != ():
        raise CheckFailed(f"for one sample X of shape (d,), weighted_sum should return a number, not an array of "
                          f"shape {np.shape(z)}.")
    expect_close(z, -6.0, "weighted_sum", case="the worked example x=[-1, 2], w=[3, -2], b=1",
                 mistakes={"the bias is missing": -7.0, "the bias should be added, not subtracted": -8.0,
                           "check the signs of the products": 8.0})
    for n, d in [(5, 3), (1, 4), (8, 1)]:
        X, w, b = rng.normal(size=(n, d)), rng.normal(size=d), float(rng.normal())
        z = call(weighted_sum, X, w, b, name="weighted_sum")
        if np.ndim(z) == 0 and n > 1:
            raise CheckFailed(f"for a batch X of shape {(n, d)}, weighted_sum returned one number: it should "
                              "return one value per sample, shape (n,): sum over the features (axis 1), one z "
                              "per sample.")
        if np.shape(z) == (n, 1):
            raise CheckFailed(f"for a batch X of shape {(n, d)}, weighted_sum returned a column of shape {(n, 1)}: "
                              "return one value per sample, shape (n,).")
        expect_close(z, np.einsum("nd,d->n", X, w) + b, "weighted_sum",
                     case=f"a batch X of shape {(n, d)}",
                     mistakes={"the bias is missing": X @ w,
                               "the bias should be added, not subtracted": X @ w - b,
                               "sum over the features (axis 1), one z per sample": (X * w).sum() + b})
    # "Do not loop over samples": a loop runs more lines of the answer's own code as n grows.
    counts = []
    for n in (10, 2000):
        with learner_lines(weighted_sum) as lines:
            call(lines.func, rng.normal(size=(n, 3)), rng.normal(size=3), 0.5, name="weighted_sum")
        counts.append(lines.count)
    if counts[0] is not None and counts[1] > counts[0] + 50:
        raise CheckFailed(f"weighted_sum ran {counts[0]} lines of its code for 10 samples and {counts[1]} for "
                          "2,000: do not loop over the samples, use one matrix product.")
    if counts[0] is None:  # not a Python function here (the grader's stand-in): time it instead
        _check_no_loop_by_time(weighted_sum, rng)
    return "one sample, batches of samples, and no loop over the samples"


#: The gates of exercise 2 (none of them in the lecture's table), outputs on the corners
#: (0, 0), (0, 1), (1, 0), (1, 1).
EXERCISE_GATES = {"NAND": [1, 1, 1, 0], "NOR": [1, 0, 0, 0], "x1 AND NOT x2": [0, 0, 1, 0]}
_OTHER_GATES = {**LOGIC_GATES, "x2 AND NOT x1": [0, 1, 0, 0], "NOT x1": [1, 1, 0, 0],
                "NOT x2": [1, 0, 1, 0], "x1": [0, 0, 1, 1], "x2": [0, 1, 0, 1]}


@register("00.gate_weights")
def check_gate_weights(gate_weights):
    """gate_weights maps 'NAND', 'NOR', 'x1 AND NOT x2' to (w, b) of a threshold neuron."""
    require_answer(gate_weights, "gate_weights")
    if not isinstance(gate_weights, dict):
        raise CheckFailed(f"gate_weights should be a dict like {{'NAND': (w, b), ...}}, "
                          f"not a {type(gate_weights).__name__}.")
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    for gate, truth in EXERCISE_GATES.items():
        if gate not in gate_weights:
            raise CheckFailed(f"gate_weights has no entry for {gate!r} (the three keys are "
                              f"{', '.join(map(repr, EXERCISE_GATES))}).")
        entry = gate_weights[gate]
        if not isinstance(entry, (tuple, list)) or len(entry) != 2:
            raise CheckFailed(f"gate_weights[{gate!r}] should be a pair (w, b).")
        w, b = to_array(entry[0], f"w of {gate}"), to_array(entry[1], f"b of {gate}")
        if w.shape != (2,) or b.size != 1:
            raise CheckFailed(f"for {gate}, w should have 2 values and b one; got shapes "
                              f"{w.shape} and {b.shape}.")
        z = X @ w.astype(float) + float(b.reshape(-1)[0])
        if np.any(np.isclose(z, 0.0)):
            raise CheckFailed(f"for {gate}, an input lies exactly on the boundary (z = 0): keep every "
                              "corner strictly off the line (move it with the bias).")
        others = {f"your weights compute {name}, not {gate}"
                  + (": swap the two weights" if name == "x2 AND NOT x1" else ""): np.array(t)
                  for name, t in _OTHER_GATES.items() if t != truth}
        expect_equal(heaviside(z), np.array(truth), f"the {gate} neuron's outputs",
                     case="the four inputs (0,0), (0,1), (1,0), (1,1)", mistakes=others)
    return "NAND, NOR and x1 AND NOT x2"


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
            if trial == 0:  # a correct prediction first: it tells "always update" from a wrong sign
                y = int(x @ w + b >= 0)
            elif trial == 1:  # then a mistake on class 1 (z < 0)
                y = 1
                w, b = (w, b) if x @ w + b < 0 else (-w, -b)
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
                          bias=True, use_lr=True, reverse=False):
    """Rosenblatt's rule from zero, in order (the keywords give typical mistakes)."""
    w, b = np.zeros(X.shape[1]), b0
    step = lr if use_lr else 1.0
    if reverse:
        X, y = X[::-1], y[::-1]
    for _ in range(n_epochs + extra_epochs):
        for x_i, y_i in zip(X, y, strict=True):
            z = x_i @ w + b
            error = y_i - int(z > 0 if strict else z >= 0)
            w, b = w + sign * step * error * x_i, b + (sign * step * error if bias else 0.0)
    return w, b


@register("00.train_perceptron")
def check_train_perceptron(train_perceptron):
    """train_perceptron(X, y, lr, n_epochs) returns (w, b) separating separable data."""
    X, y = logic_gate("XOR")
    try:
        call(train_perceptron, X, y, 1.0, 50, name="train_perceptron", time_limit=5)
    except CheckFailed as err:
        if "did not finish" not in str(err):
            raise
        raise CheckFailed("train_perceptron did not finish on XOR with n_epochs = 50: it must stop after "
                          "n_epochs passes even when the data is not separable (no clean epoch ever comes).") from None
    rng = seeded_rng(2)
    X, y = make_linearly_separable(n=12, seed=int(rng.integers(2**31)), margin=0.1, w=(1.0, -2.0), b=0.5)
    y = y.copy()
    y[[2, 7]] = 1 - y[[2, 7]]  # two flipped labels
    # and one point twice with both labels: not separable, so every epoch makes an update
    X, y = np.vstack([X, X[4]]), np.append(y, 1 - y[4])
    for lr, n_epochs in [(1.0, 1), (0.5, 2), (2.0, 3), (0.1, 0)]:
        with calls_of_global(train_perceptron, "perceptron_update") as uses:
            out = call(train_perceptron, X, y, lr, n_epochs, name="train_perceptron", time_limit=20)
        if uses.count == 0 and n_epochs > 0:
            raise CheckFailed("train_perceptron never called perceptron_update: apply your perceptron_update "
                              "(exercise 3) to every sample, as the statement asks.")
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
            "visit the samples in the given order, first to last":
                _perceptron_reference(X, y, lr, n_epochs, reverse=True),
        }
        case = f"13 samples that no line separates, lr={lr:g}, n_epochs={n_epochs}"
        flat = {text: np.append(*wrong) for text, wrong in mistakes.items()}
        expect_close(np.append(w.astype(float), float(b.reshape(-1)[0])), np.append(ref_w, ref_b),
                     "(w[0], w[1], b)", case=case, mistakes=flat)
    for seed in rng.integers(2**31, size=3):
        X, y = make_linearly_separable(n=60, seed=int(seed), margin=0.3, w=(1.0, -2.0), b=0.5)
        out = call(train_perceptron, X, y, 1.0, 100, name="train_perceptron", time_limit=20)
        expect_pair(out, "train_perceptron", "(w, b)")
        w, b = to_array(out[0], "w"), to_array(out[1], "b")
        accuracy = np.mean(heaviside(X @ w + float(b.reshape(-1)[0])) == y)
        if accuracy < 1.0:
            raise CheckFailed(f"on linearly separable data (seed {seed}) your perceptron "
                              f"classifies {accuracy:.0%} correctly after 100 epochs; it should "
                              "reach 100 %. Does it loop over every sample, every epoch?")
    return "stops on XOR, exact after 0 to 3 epochs at four rates, separates three data sets"


def _count_updates_reference(X, y, max_epochs, *, w0=0.0, reverse=False, lr=1.0, strict=False):
    """Folded-bias perceptron from zero, samples in order, until a clean epoch (the keywords give
    typical mistakes)."""
    X_aug = np.hstack([np.asarray(X, dtype=float), np.ones((len(X), 1))])
    y = np.asarray(y)
    if reverse:
        X_aug, y = X_aug[::-1], y[::-1]
    w, n_updates = np.full(X_aug.shape[1], w0), 0
    for epoch in range(1, max_epochs + 1):
        clean = True
        for x_i, y_i in zip(X_aug, y, strict=True):
            error = int(y_i) - int(x_i @ w > 0 if strict else x_i @ w >= 0)
            if error:
                w, n_updates, clean = w + lr * error * x_i, n_updates + 1, False
        if clean:
            return w, n_updates, epoch
    return w, n_updates, max_epochs


def _count_updates_cases():
    """(X, y, max_epochs, description) for the count_updates check: the one that never
    converges first, so that an answer ignoring max_epochs is told so at once."""
    rng = seeded_rng(5)
    X_xor, y_xor = logic_gate("XOR")
    cases = [(X_xor, y_xor, 7, "XOR with max_epochs = 7 (never converges)")]
    for margin in [0.05, 0.2, 0.4]:
        X, y = make_linearly_separable(n=50, seed=int(rng.integers(2**31)), margin=margin,
                                       w=(1.0, -1.5), b=0.3)
        cases.append((X, y, 500, f"separable 2-D data (gap {margin})"))
    X3 = rng.normal(size=(40, 3))
    y3 = (X3 @ np.array([1.0, -2.0, 0.5]) - 0.3 > 0).astype(int)
    cases.append((X3, y3, 500, "separable 3-D data (40 samples)"))
    cases.append((np.array([[1.0, 2.0], [-1.0, -1.0]]), np.array([0, 1]), 50,
                  "two points whose first is class 0 (tests step(0) = 1)"))
    return cases


@register("00.count_updates")
def check_count_updates(count_updates):
    """count_updates(X, y, max_epochs) -> (w_aug, n_updates, n_epochs) of the folded perceptron."""
    for X, y, max_epochs, case in _count_updates_cases():
        try:
            out = call(count_updates, X.copy(), y.copy(), max_epochs, name="count_updates",
                       time_limit=5 if "never converges" in case else 20)
        except CheckFailed as err:
            if "did not finish" not in str(err) or "never converges" not in case:
                raise
            raise CheckFailed(f"count_updates did not finish on {case}: stop after max_epochs epochs when no "
                              "epoch is clean.") from None
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise CheckFailed("count_updates should return the triple (w_aug, n_updates, n_epochs), "
                              f"not a {type(out).__name__}.")
        w_ref, n_ref, epochs_ref = _count_updates_reference(X, y, max_epochs)
        if not isinstance(out[0], np.ndarray):
            raise CheckFailed(f"w_aug should be a NumPy array of shape (d + 1,), not a {type(out[0]).__name__}.")
        w_aug = to_array(out[0], "w_aug")
        d = X.shape[1]
        if w_aug.shape == (d,):
            raise CheckFailed(f"w_aug for {case} has shape {(d,)}: fold the bias in, so that it has "
                              f"d + 1 = {d + 1} entries, the bias last.")
        if w_aug.shape == w_ref.shape and not np.allclose(w_aug, w_ref):
            factor = float(w_aug @ w_ref) / max(float(w_ref @ w_ref), 1e-12)
            if factor > 0 and not np.isclose(factor, 1.0) and np.allclose(w_aug, factor * w_ref):
                raise CheckFailed(f"w_aug for {case} is {factor:.3g} times the expected weights: use eta = 1.")
        expect_close(w_aug, w_ref, "w_aug", case=case,
                     mistakes={"the bias should be the LAST entry (append the constant 1 as the last "
                               "column)": np.roll(w_ref, 1),
                               "step(0) must be 1: predict class 1 when z >= 0":
                               _count_updates_reference(X, y, max_epochs, strict=True)[0],
                               "start from zero weights": _count_updates_reference(X, y, max_epochs, w0=0.5)[0],
                               "visit the samples in the given order, first to last":
                               _count_updates_reference(X, y, max_epochs, reverse=True)[0]})
        for value, name in [(out[1], "n_updates"), (out[2], "n_epochs")]:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise CheckFailed(f"{name} should be an int, not a {type(value).__name__}.")
        if int(out[1]) != n_ref:
            hint = (" Count every update, in every epoch, not only those of the first epoch."
                    if int(out[1]) < n_ref else " Count only the samples that were misclassified.")
            raise CheckFailed(f"n_updates for {case} is {int(out[1])}, expected {n_ref}.{hint}")
        if int(out[2]) != epochs_ref:
            if "never converges" in case:
                hint = " No epoch is clean here: stop after max_epochs epochs."
            elif int(out[2]) > epochs_ref:
                hint = " Stop after the first epoch without a mistake (and count that epoch)."
            else:
                hint = (" Count the epochs you ran, including the last one, which had no mistake;"
                        " never stop before an epoch without mistakes or max_epochs.")
            raise CheckFailed(f"n_epochs for {case} is {int(out[2])}, expected {epochs_ref}.{hint}")
    return "updates, epochs and weights on 2-D, 3-D and non-separable data"


def _multiclass_reference(X, y, n_classes, n_epochs, subtract=True, *, last_on_ties=False, w0=0.0,
                          reverse=False, extra=0):
    """The multi-class perceptron (the keywords give typical mistakes)."""
    X_aug = np.hstack([np.asarray(X, dtype=float), np.ones((len(X), 1))])
    y = np.asarray(y)
    if reverse:
        X_aug, y = X_aug[::-1], y[::-1]
    W = np.full((n_classes, X_aug.shape[1]), w0)
    for _ in range(n_epochs + extra):
        for x_i, y_i in zip(X_aug, y, strict=True):
            scores = W @ x_i
            guess = int(len(scores) - 1 - np.argmax(scores[::-1])) if last_on_ties else int(np.argmax(scores))
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
    rng = seeded_rng(6)
    cases = []
    for n, n_classes, d, n_epochs in [(30, 3, 2, 1), (45, 3, 2, 5), (40, 4, 3, 4), (24, 2, 2, 3), (30, 5, 1, 2)]:
        cases.append((*_blobs(rng, n, n_classes, d, spread=1.5), n_classes, n_epochs,
                      f"{n} samples, {n_classes} classes, {d} features, {n_epochs} epochs"))
    X, y = _blobs(rng, 20, 3, 2, spread=1.0)
    cases.append((X, y, 4, 2, "20 samples of classes 0 to 2 with n_classes = 4 (class 3 has no sample)"))
    for X, y, n_classes, n_epochs, case in cases:
        d = X.shape[1]
        out = call(multiclass_perceptron, X.copy(), y.copy(), n_classes, n_epochs,
                   name="multiclass_perceptron", time_limit=20)
        if not isinstance(out, np.ndarray):
            raise CheckFailed(f"W should be a NumPy array (a float array), not a {type(out).__name__}.")
        W_ref = _multiclass_reference(X, y, n_classes, n_epochs)
        W = to_array(out, "W")
        if W.dtype.kind != "f":
            raise CheckFailed(f"W for {case} has dtype {W.dtype}: return a float array.")
        if W.shape == (n_classes, d):
            raise CheckFailed(f"W for {case} has shape {W.shape}: fold the bias in as a last column "
                              f"(shape {(n_classes, d + 1)}).")
        if W.shape == (d + 1, n_classes) != (n_classes, d + 1):
            raise CheckFailed(f"W for {case} has shape {W.shape}: one ROW per class, shape "
                              f"{(n_classes, d + 1)}.")
        if W.ndim == 2 and W.shape[0] != n_classes:
            raise CheckFailed(f"W for {case} has {W.shape[0]} rows: it needs n_classes rows, one per class "
                              "0 .. n_classes - 1, whether or not every class occurs in y.")
        expect_close(W, W_ref, "W", case=case,
                     mistakes={"on a mistake, also subtract x from the row of the wrongly predicted "
                               "class": _multiclass_reference(X, y, n_classes, n_epochs, False),
                               "the bias should be the LAST column": np.roll(W_ref, 1, axis=1),
                               "one ROW per class (did you transpose W?)": W_ref.T,
                               "np.argmax picks the first class on ties (with zero weights, class 0)":
                                   _multiclass_reference(X, y, n_classes, n_epochs, last_on_ties=True),
                               "start from zeros": _multiclass_reference(X, y, n_classes, n_epochs, w0=0.5),
                               "visit the samples in the given order, first to last":
                                   _multiclass_reference(X, y, n_classes, n_epochs, reverse=True),
                               "run exactly n_epochs epochs":
                                   _multiclass_reference(X, y, n_classes, n_epochs, extra=1)})
    rng = seeded_rng(7)
    y = np.arange(90) % 3
    X = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])[y] + 0.4 * rng.normal(size=(90, 2))
    W = to_array(call(multiclass_perceptron, X, y, 3, 50, name="multiclass_perceptron",
                      time_limit=20), "W")
    accuracy = np.mean(np.argmax(np.hstack([X, np.ones((len(X), 1))]) @ W.T, axis=1) == y)
    if accuracy < 1.0:
        raise CheckFailed(f"on three well separated clusters your perceptron classifies {accuracy:.0%} "
                          "of the training points correctly after 50 epochs; it should reach 100 %.")
    return "exact weights on six data sets (one with an empty class), separates three clusters"


def _criterion_reference(w_aug, X_aug, y, *, tie_class_one=True, mean=True, hinge=False, sign=1.0,
                         labels_as_signs=True, all_nonpositive=False):
    """Mean perceptron loss max(0, -t z) and the mean of -(y - step(z)) x (keywords: mistakes)."""
    y = np.asarray(y, dtype=float)
    t = 2 * y - 1 if labels_as_signs else y
    z = X_aug @ w_aug
    scale = len(y) if mean else 1
    loss = np.sum(np.maximum(0.0, (1.0 if hinge else 0.0) - t * z)) / scale
    if all_nonpositive:  # every sample with t z <= 0 counted as a mistake
        coeff = np.where(t * z <= 0, t, 0.0)
    else:
        y_hat = (z >= 0) if tie_class_one else (z > 0)
        coeff = y - y_hat
    return loss, sign * -(coeff @ X_aug) / scale


def _criterion_cases(rng):
    """(w_aug, X_aug, y, description) for the perceptron_criterion check."""
    cases = []
    for n, d in [(7, 2), (12, 3), (1, 1), (20, 4)]:
        X_aug = np.hstack([rng.normal(size=(n, d)), np.ones((n, 1))])
        cases.append((rng.normal(size=d + 1), X_aug, rng.integers(0, 2, size=n),
                      f"{n} random samples with {d} features"))
    X_aug = np.hstack([rng.normal(size=(9, 2)), np.ones((9, 1))])
    y = rng.integers(0, 2, size=9)
    y[:2] = [0, 1]
    cases.append((np.zeros(3), X_aug, y, "zero weights (every z = 0; samples of both classes)"))
    a, c = rng.uniform(0.5, 2.0, size=2)
    X_tie = np.array([[a, a, 1.0], [c, c, 1.0], [a, -a, 1.0], [-c, c, 1.0], [2 * a, 0.0, 1.0]])
    cases.append((np.array([1.0, -1.0, 0.0]), X_tie, np.array([0, 1, 0, 1, 1]),
                  "two samples exactly on the line (z = 0), one of each class"))
    cases.append((np.array([1.0, -1.0, 0.0]), X_tie, np.array([0.0, 1.0, 1.0, 0.0, 0.0]),
                  "the same samples with float labels 0.0 / 1.0"))
    return cases


@register("00.perceptron_criterion")
def check_perceptron_criterion(perceptron_criterion):
    """perceptron_criterion(w_aug, X_aug, y) -> (mean perceptron loss, its subgradient)."""
    rng = seeded_rng(8)
    for w_aug, X_aug, y, case in _criterion_cases(rng):
        out = call(perceptron_criterion, w_aug.copy(), X_aug.copy(), y.copy(), name="perceptron_criterion")
        loss, subgradient = expect_pair(out, "perceptron_criterion", "(loss, subgradient)")
        if isinstance(loss, bool) or not isinstance(loss, (float, np.floating, int, np.integer)):
            shape = np.shape(loss)
            raise CheckFailed(f"the loss for {case} should be one number (a float), not a "
                              f"{type(loss).__name__}" + (f" of shape {shape}: take the mean over the "
                                                          "samples" if shape else "") + ".")
        ref_loss, ref_sub = _criterion_reference(w_aug, X_aug, y)
        wrong = {
            "average over the samples (the mean), not the sum": dict(mean=False),
            "the perceptron loss is max(0, -t z), with no margin 1 (that is the hinge loss)":
                dict(hinge=True),
            "use the signs t = 2y - 1 in the loss, not the labels 0/1": dict(labels_as_signs=False),
            "the subgradient has the wrong sign: it is -(y - y_hat) x": dict(sign=-1.0),
            "y_hat = 1 when z >= 0: at z = 0 a sample of class 0 is a mistake, one of class 1 "
            "is not": dict(tie_class_one=False),
            "a sample of class 1 with z = 0 is predicted 1, so it is correct: its subgradient is 0":
                dict(all_nonpositive=True),
        }
        mistakes = {text: _criterion_reference(w_aug, X_aug, y, **kw) for text, kw in wrong.items()}
        expect_close(float(loss), ref_loss, "the loss", case=case,
                     mistakes={text: m[0] for text, m in mistakes.items()})
        if not isinstance(subgradient, np.ndarray):
            raise CheckFailed(f"the subgradient should be a NumPy array, not a {type(subgradient).__name__}.")
        subgradient = to_array(subgradient, "the subgradient")
        if subgradient.shape != w_aug.shape:
            raise CheckFailed(f"the subgradient for {case} has shape {subgradient.shape}; it should "
                              f"have the shape of w_aug, {w_aug.shape} (average over the samples).")
        expect_close(subgradient, ref_sub, "the subgradient", case=case,
                     mistakes={text: m[1] for text, m in mistakes.items()})
    return "loss and subgradient on random data, at zero weights and at z = 0 for both classes"


def _averaged_reference(X, y, n_epochs, *, when="visit", include_start=False, before=False,
                        tie_class_one=True, last=False, average_bias=True, bias=True, lr=1.0, w0=0.0,
                        reverse=False, extra=0, total=False):
    """The averaged perceptron (keywords give typical mistakes): (w, b)."""
    X_aug = np.hstack([np.asarray(X, dtype=float), np.ones((len(X), 1))])
    y = np.asarray(y)
    if reverse:
        X_aug, y = X_aug[::-1], y[::-1]
    w = np.full(X_aug.shape[1], w0)
    summed, count = (w.copy(), 1) if include_start else (np.zeros_like(w), 0)
    for _ in range(n_epochs + extra):
        for x_i, y_i in zip(X_aug, y, strict=True):
            z = x_i @ w
            error = int(y_i) - int(z >= 0 if tie_class_one else z > 0)
            if before:
                summed, count = summed + w, count + 1
            step = lr * error * x_i
            w = w + (step if bias else np.append(step[:-1], 0.0))
            if not before and (when == "visit" or error):
                summed, count = summed + w, count + 1
    average = w if last else (summed if total else summed / max(count, 1))
    return average[:-1], (average[-1] if average_bias else w[-1])


@register("00.averaged_perceptron")
def check_averaged_perceptron(averaged_perceptron):
    """averaged_perceptron(X, y, n_epochs) -> (w, b) averaged over all n * n_epochs visits."""
    rng = seeded_rng(9)
    cases = []
    for n, d, n_epochs in [(10, 2, 1), (15, 2, 3), (12, 3, 2), (8, 1, 4)]:
        X = rng.normal(size=(n, d))
        y = (X @ rng.normal(size=d) + rng.normal(scale=0.3) > 0).astype(int)
        flipped = rng.choice(n, size=2, replace=False)
        y[flipped] = 1 - y[flipped]  # labels no line may separate: updates keep coming
        cases.append((X, y, n_epochs, f"{n} samples, {d} features, {n_epochs} epochs, two labels flipped"))
    X = np.array([[1.0, 2.0], [-1.0, -1.0], [2.0, 0.5]])
    cases.append((X, np.array([0, 1, 1]), 3, "three points whose first is class 0 (tests step(0) = 1)"))
    for X, y, n_epochs, case in cases:
        out = call(averaged_perceptron, X.copy(), y.copy(), n_epochs, name="averaged_perceptron",
                   time_limit=20)
        w, b = expect_pair(out, "averaged_perceptron", "(w, b)")
        if not isinstance(w, np.ndarray):
            raise CheckFailed(f"w should be a NumPy array of shape (d,), not a {type(w).__name__}.")
        w = to_array(w, "w")
        d = X.shape[1]
        if w.shape != (d,):
            raise CheckFailed(f"w for {case} has shape {w.shape}; it should have one weight per feature, "
                              f"shape {(d,)}, and b the bias apart.")
        if isinstance(b, bool) or np.ndim(b) != 0 or not isinstance(np.asarray(b).item(), (int, float)):
            raise CheckFailed(f"b for {case} should be one number (a float), not {type(b).__name__} of "
                              f"shape {np.shape(b)}.")
        ref_w, ref_b = _averaged_reference(X, y, n_epochs)
        wrong = {
            "add the weights after EVERY visit of a sample, not only after updates": dict(when="update"),
            "average over the n * n_epochs visits only: the zero weights of the start are not one of "
            "them": dict(include_start=True),
            "add the weights after the visit's update, not before it": dict(before=True),
            "step(0) must be 1: predict class 1 when z >= 0": dict(tie_class_one=False),
            "return the average of the weights, not the last weights": dict(last=True),
            "average the bias too, like every weight": dict(average_bias=False),
            "update the bias too: it is the weight of the constant input 1": dict(bias=False),
            "use eta = 1 (your weights are a multiple of the expected ones)": dict(lr=0.5),
            "start from zero weights": dict(w0=0.5),
            "visit the samples in the given order, first to last": dict(reverse=True),
            "run exactly n_epochs epochs": dict(extra=1),
            "divide the sum by the number of visits, n * n_epochs": dict(total=True),
        }
        flat = {text: np.append(*_averaged_reference(X, y, n_epochs, **kw)) for text, kw in wrong.items()}
        # inputs or sums kept in float32 are allowed: a tolerance that suits them
        expect_close(np.append(w.astype(float), float(b)), np.append(ref_w, ref_b), "(w..., b)",
                     case=case, rtol=1e-5, atol=1e-6, mistakes=flat)
    return "exact averages on five data sets, with the step(0) edge"
