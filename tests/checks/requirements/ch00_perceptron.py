"""Requirement table of chapter 00, the perceptron (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

# --------------------------------------------------------------------------- 00.weighted_sum


def weighted_sum(X, w, b, *, bias=True, column=False, one_as_array=False, total=False):
    """The solution's answer; the keywords make it break one requirement."""
    z = np.asarray(X) @ np.asarray(w) + (b if bias else 0.0)
    if np.ndim(X) == 2 and column:
        return z[:, None]
    if np.ndim(X) == 2 and total:
        return np.sum(z)
    return np.atleast_1d(z) if one_as_array else z


def weighted_sum_loop(X, w, b):
    """Right values, one Python step per sample."""
    if np.ndim(X) == 1:
        return float(np.dot(X, w) + b)
    return np.array([float(np.dot(row, w) + b) for row in X])


# --------------------------------------------------------------------------- 00.gate_weights

GATES = {"NAND": (np.array([-1.0, -1.0]), 1.5), "NOR": (np.array([-1.0, -1.0]), 0.5),
         "x1 AND NOT x2": (np.array([1.0, -1.0]), -0.5)}


def gates(**changes):
    return {**GATES, **changes}


# --------------------------------------------------------------------------- 00.perceptron_update


def update(w, b, x, y, lr, *, strict=False, sign=1.0, use_lr=True, pair=True, in_place=False):
    """The solution's answer; the keywords make it break one requirement."""
    z = np.dot(w, x) + b
    error = y - int(z > 0 if strict else z >= 0)
    rate = lr if use_lr else 1.0
    if in_place:
        w += sign * rate * error * x
        new_w = w
    else:
        new_w = w + sign * rate * error * x
    new_b = b + sign * rate * error
    return (new_w, new_b) if pair else (new_w, new_b, error)


# --------------------------------------------------------------------------- 00.train_perceptron


def train(X, y, lr, n_epochs, *, b0=0.0, reverse=False, extra=0, pair=True, until_clean=False, inline=False):
    """The solution's answer (it calls the notebook's `perceptron_update`, here the lecture's
    rule); the keywords make it break one requirement."""
    w, b = np.zeros(X.shape[1]), b0
    order = range(len(X) - 1, -1, -1) if reverse else range(len(X))
    epoch = 0
    while epoch < n_epochs + extra or until_clean:
        n_changed = 0
        for i in order:
            before = (w.copy(), b)
            if inline:
                error = y[i] - int(X[i] @ w + b >= 0)
                w, b = w + lr * error * X[i], b + lr * error
            else:
                w, b = perceptron_update(w, b, X[i], y[i], lr)
            n_changed += not (np.array_equal(before[0], w) and before[1] == b)
        epoch += 1
        if until_clean and n_changed == 0:  # runs until an epoch without a mistake
            break
    return (w, b) if pair else w


def perceptron_update(w, b, x, y, lr):
    """The rule the notebook's exercise 3 defines (looked up by `train` among its globals)."""
    error = y - int(np.dot(w, x) + b >= 0)
    return w + lr * error * x, b + lr * error


# --------------------------------------------------------------------------- 00.count_updates


def counter(X, y, max_epochs, *, bias_first=False, w0=0.0, reverse=False, lr=1.0, strict=False, stop=True,
            no_limit=False, triple=True, weights_list=False, float_count=False, first_epoch_only=False,
            count_clean=True):
    """The solution's answer; the keywords make it break one requirement."""
    ones = np.ones((len(X), 1))
    X_aug = np.hstack([ones, X] if bias_first else [X, ones])
    order = list(range(len(X)))[::-1] if reverse else list(range(len(X)))
    w, n_updates, epoch = np.full(X_aug.shape[1], w0), 0, 0
    while no_limit or epoch < max_epochs:
        epoch += 1
        wrong = 0
        for i in order:
            z = X_aug[i] @ w
            error = int(y[i]) - int(z > 0 if strict else z >= 0)
            if error:
                w, wrong = w + lr * error * X_aug[i], wrong + 1
        if epoch == 1 or not first_epoch_only:
            n_updates += wrong
        if wrong == 0 and stop:
            if not count_clean:
                epoch -= 1
            break
    out_w = list(w) if weights_list else w
    count = float(n_updates) if float_count else n_updates
    return (out_w, count, epoch) if triple else (out_w, count)


# --------------------------------------------------------------------------- 00.perceptron_criterion


def criterion(w_aug, X_aug, y, *, pair=True, loss_array=False, mean=True, margin=0.0, signs=True,
              sub_shape=None, sub_list=False, sign=1.0, strict=False, in_place=False):
    """The solution's answer; the keywords make it break one requirement."""
    y = np.asarray(y, dtype=float)
    t = 2 * y - 1 if signs else y
    z = X_aug @ w_aug
    y_hat = (z > 0) if strict else (z >= 0)
    n = len(y) if mean else 1
    losses = np.maximum(0.0, margin - t * z) / n
    loss = losses[None].sum(axis=1) if loss_array else float(losses.sum())
    sub = sign * -((y - y_hat) @ X_aug) / n
    if sub_shape is not None:
        sub = sub.reshape(sub_shape)
    if sub_list:
        sub = list(sub)
    if in_place:
        w_aug *= 1.0 + 1e-3
    return (loss, sub) if pair else loss


# --------------------------------------------------------------------------- 00.averaged_perceptron


def averaged(X, y, n_epochs, *, strict=False, lr=1.0, w0=0.0, reverse=False, extra=0, bias=True,
             updates_only=False, before=False, last=False, total=False, pair=True, w_full=False,
             w_list=False, b_array=False):
    """The solution's answer; the keywords make it break one requirement."""
    X_aug = np.hstack([X, np.ones((len(X), 1))])
    w, running, count = np.full(X_aug.shape[1], w0), np.zeros(X_aug.shape[1]), 0
    order = list(range(len(X)))[::-1] if reverse else list(range(len(X)))
    for _ in range(n_epochs + extra):
        for i in order:
            z = X_aug[i] @ w
            error = int(y[i]) - int(z > 0 if strict else z >= 0)
            if before:
                running, count = running + w, count + 1
            step = lr * error * X_aug[i]
            w = w + (step if bias else np.append(step[:-1], 0.0))
            if not before and (error or not updates_only):
                running, count = running + w, count + 1
    average = w if last else (running if total else running / count)
    if not pair:
        return average
    w_out = average if w_full else average[:-1]
    w_out = list(w_out) if w_list else w_out
    return w_out, (np.array([average[-1]]) if b_array else float(average[-1]))


# --------------------------------------------------------------------------- 00.multiclass_perceptron


def multiclass(X, y, n_classes, n_epochs, *, transpose=False, last_on_ties=False, subtract=True, w0=0.0,
               reverse=False, extra=0, as_int=False, as_list=False, bias_first=False, classes_from_labels=False):
    """The solution's answer; the keywords make it break one requirement."""
    ones = np.ones((len(X), 1))
    X_aug = np.hstack([ones, X] if bias_first else [X, ones])
    k = int(np.max(y)) + 1 if classes_from_labels else n_classes
    W = np.full((k, X_aug.shape[1]), w0)
    order = list(range(len(X)))[::-1] if reverse else list(range(len(X)))
    for _ in range(n_epochs + extra):
        for i in order:
            scores = W @ X_aug[i]
            guess = int(len(scores) - 1 - np.argmax(scores[::-1])) if last_on_ties else int(np.argmax(scores))
            if guess != y[i]:
                W[int(y[i])] += X_aug[i]
                if subtract:
                    W[guess] -= X_aug[i]
    if as_int:
        W = np.round(W).astype(int)
    if transpose:
        W = W.T
    return W.tolist() if as_list else W


TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function or a value", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/00-perceptron`", "where to read first"),
        free("Exercise 9 is a written one", "which exercise is not checked"),
    ],
    "00.weighted_sum": [
        requirement("returns $z = \\mathbf{X}\\mathbf{w} + b$", lambda X, w, b: weighted_sum(X, w, b, bias=False),
                    r"bias is missing"),
        requirement("for one sample `X` of shape `(d,)` (returning a number)",
                    lambda X, w, b: weighted_sum(X, w, b, one_as_array=True), r"one sample.*a number"),
        requirement("for a batch of shape `(n, d)` (returning one value per sample, shape `(n,)`)",
                    lambda X, w, b: weighted_sum(X, w, b, column=True), r"one value per sample, shape"),
        requirement("for a batch of shape `(n, d)` (returning one value per sample, shape `(n,)`)",
                    lambda X, w, b: weighted_sum(X, w, b, total=True), r"one z per sample"),
        requirement("Do not loop over samples", weighted_sum_loop, r"loop over the samples"),
    ],
    "00.gate_weights": [
        free("The lecture's table gives AND, OR and NOT", "what the lecture did"),
        requirement("Find a weight vector `w` (two numbers)",
                    gates(NOR=(np.array([-1.0, -1.0, 0.0]), 0.5)), r"w should have 2 values"),
        requirement("and a bias `b` for each of three more gates",
                    gates(NOR=(np.array([-1.0, -1.0]), np.array([0.5, 0.5]))), r"b one"),
        free("so that `step(w @ x + b)` reproduces its truth table, with `step(z) = 1` for `z >= 0`",
             "the rule the truth-table rows below test; no corner may sit at z = 0, so the convention "
             "never decides an output"),
        requirement("0 only when both inputs are 1", gates(NAND=(np.array([1.0, 1.0]), -1.5)),
                    r"compute AND, not NAND"),
        requirement("1 only when both inputs are 0", gates(NOR=(np.array([1.0, 1.0]), -0.5)),
                    r"compute OR, not NOR"),
        requirement("1 only for $x_1 = 1, x_2 = 0$", gates(**{"x1 AND NOT x2": (np.array([-1.0, 1.0]), -0.5)}),
                    r"swap the two weights"),
        requirement("Keep every corner of the square strictly off the line",
                    gates(NOR=(np.array([-1.0, -1.0]), 1.0)), r"exactly on the boundary"),
        free("Then think", "a question to think about, answered in the written solution"),
    ],
    "00.perceptron_update": [
        free("for one sample `x` with label `y` in `{0, 1}`", "the inputs every row uses"),
        requirement("predict $\\hat y = \\text{step}(\\mathbf{w}\\cdot\\mathbf{x} + b)$",
                    lambda *a: update(*a, strict=True), r"step\(z\) is 1 for z >= 0"),
        requirement("then return the new pair", lambda *a: update(*a, pair=False), r"pair"),
        requirement("$(\\mathbf{w} + \\eta (y - \\hat y)\\mathbf{x},\\; b + \\eta (y - \\hat y))$",
                    lambda *a: update(*a, sign=-1.0), r"wrong sign"),
        requirement("$(\\mathbf{w} + \\eta (y - \\hat y)\\mathbf{x},\\; b + \\eta (y - \\hat y))$",
                    lambda *a: update(*a, use_lr=False), r"learning rate is missing"),
        requirement("Return new values", lambda *a: update(*a, in_place=True), r"in place"),
        requirement("do not modify `w` in place", lambda *a: update(*a, in_place=True), r"in place"),
    ],
    "00.train_perceptron": [
        requirement("starts from zero weights and bias", lambda *a: train(*a, b0=1.0),
                    r"start from zero weights and a zero bias"),
        requirement("applies `perceptron_update` to every sample", lambda *a: train(*a, inline=True),
                    r"apply your perceptron_update"),
        requirement("to every sample in order", lambda *a: train(*a, reverse=True), r"in the given order"),
        requirement("for `n_epochs` passes over the data", lambda *a: train(*a, extra=1), r"one epoch too many"),
        requirement("and returns `(w, b)`", lambda *a: train(*a, pair=False), r"pair"),
        requirement("It must stop after `n_epochs` even when the data is not separable",
                    lambda *a: train(*a, until_clean=True), r"stop after n_epochs.*not separable"),
    ],
    "00.count_updates": [
        free("Fold the bias into the weights as in the lecture", "the method, spelled out by the clauses below"),
        requirement("append a constant 1 as the last column of `X`", lambda *a: counter(*a, bias_first=True),
                    r"LAST entry"),
        free("(shape `(n, d)`, labels `y` in `{0, 1}`)", "the inputs every row uses"),
        requirement("start from zero weights", lambda *a: counter(*a, w0=0.5), r"start from zero weights"),
        requirement("visit the samples in the given order", lambda *a: counter(*a, reverse=True),
                    r"in the given order"),
        requirement("with $\\eta = 1$", lambda *a: counter(*a, lr=0.5), r"eta = 1"),
        requirement("$\\hat y = 1$ when $z \\ge 0$", lambda *a: counter(*a, strict=True), r"step\(0\) must be 1"),
        requirement("stop after the first epoch in which no sample was misclassified",
                    lambda *a: counter(*a, stop=False), r"Stop after the first epoch without a mistake"),
        requirement("or after `max_epochs` epochs", lambda *a: counter(*a, no_limit=True),
                    r"stop after max_epochs"),
        requirement("Return the triple `(w_aug, n_updates, n_epochs)`", lambda *a: counter(*a, triple=False),
                    r"triple"),
        requirement("an array of shape `(d + 1,)` with the bias last", lambda *a: counter(*a, weights_list=True),
                    r"NumPy array"),
        requirement("the total number of updates (mistakes) as an `int`", lambda *a: counter(*a, float_count=True),
                    r"n_updates should be an int"),
        requirement("the total number of updates (mistakes)", lambda *a: counter(*a, first_epoch_only=True),
                    r"in every epoch"),
        requirement("the clean last epoch included", lambda *a: counter(*a, count_clean=False),
                    r"including the last one"),
    ],
    "00.perceptron_criterion": [
        free("The lecture showed Rosenblatt's rule as stochastic gradient descent", "what the lecture did"),
        free("Take the batch view", "motivation"),
        requirement("returns the pair `(loss, subgradient)`", lambda *a: criterion(*a, pair=False), r"pair"),
        requirement("`loss`, a float", lambda *a: criterion(*a, loss_array=True), r"one number \(a float\)"),
        requirement("the mean perceptron loss", lambda *a: criterion(*a, mean=False), r"the mean"),
        requirement("$L = \\frac1n\\sum_i \\max(0, -t_i z_i)$", lambda *a: criterion(*a, margin=1.0),
                    r"hinge loss"),
        requirement("with $t_i = 2y_i - 1$", lambda *a: criterion(*a, signs=False), r"signs t = 2y - 1"),
        requirement("an array of the shape of `w_aug`", lambda *a: criterion(*a, sub_shape=(1, -1)),
                    r"shape of w_aug"),
        requirement("`subgradient`, an array", lambda *a: criterion(*a, sub_list=True), r"NumPy array"),
        requirement("the mean of the lecture's per-sample subgradients", lambda *a: criterion(*a, sign=-1.0),
                    r"wrong sign"),
        requirement("with $\\hat y_i = 1$ when $z_i \\ge 0$", lambda *a: criterion(*a, strict=True),
                    r"at z = 0 a sample of class 0 is a mistake"),
        requirement("Do not change `w_aug`, `X_aug` or `y`", lambda *a: criterion(*a, in_place=True), r"in place"),
        free("What are the loss and the subgradient at", "a question; the check tries zero weights"),
    ],
    "00.averaged_perceptron": [
        free("On data that no line separates", "motivation"),
        free("The lecture's pocket perceptron keeps the best weights seen", "what the lecture did"),
        free("the averaged perceptron instead returns the average", "the idea, spelled out below"),
        free("for `X` of shape `(n, d)` and labels `y` in `{0, 1}`", "the inputs every row uses"),
        requirement("run Rosenblatt's rule with the bias folded in", lambda *a: averaged(*a, bias=False),
                    r"update the bias"),
        requirement("$\\eta = 1$", lambda *a: averaged(*a, lr=0.5), r"eta = 1"),
        requirement("$\\hat y = 1$ when $z \\ge 0$", lambda *a: averaged(*a, strict=True), r"step\(0\) must be 1"),
        requirement("from zero weights", lambda *a: averaged(*a, w0=0.5), r"start from zero weights"),
        requirement("visiting the samples in the given order", lambda *a: averaged(*a, reverse=True),
                    r"in the given order"),
        requirement("for `n_epochs` epochs", lambda *a: averaged(*a, extra=1), r"n_epochs epochs"),
        requirement("after each of the `n * n_epochs` visits", lambda *a: averaged(*a, updates_only=True),
                    r"after EVERY visit"),
        requirement("(after its update, if it made one)", lambda *a: averaged(*a, before=True), r"not before it"),
        requirement("add the current weights to a running sum", lambda *a: averaged(*a, last=True),
                    r"not the last weights"),
        requirement("Return the average as `(w, b)`", lambda *a: averaged(*a, total=True), r"divide the sum"),
        requirement("Return the average as `(w, b)`", lambda *a: averaged(*a, pair=False), r"pair"),
        requirement("`w` an array of shape `(d,)`", lambda *a: averaged(*a, w_full=True), r"shape \(\d+,\)"),
        requirement("`w` an array of shape `(d,)`", lambda *a: averaged(*a, w_list=True), r"NumPy array"),
        requirement("`b` a float", lambda *a: averaged(*a, b_array=True), r"b .*one number \(a float\)"),
    ],
    "00.multiclass_perceptron": [
        requirement("the rows of a matrix $W$ of shape `(K, d + 1)`", lambda *a: multiclass(*a, transpose=True),
                    r"one ROW per class"),
        requirement("which picks the first class on ties", lambda *a: multiclass(*a, last_on_ties=True),
                    r"first class on ties"),
        requirement("the predicted class away from it", lambda *a: multiclass(*a, subtract=False),
                    r"also subtract"),
        free("$W_{y} \\leftarrow W_{y} + \\tilde{\\mathbf{x}}$", "the update, whose rows are above"),
        requirement("for labels `y` in `0 .. n_classes - 1`", lambda *a: multiclass(*a, classes_from_labels=True),
                    r"n_classes rows"),
        requirement("start from zeros", lambda *a: multiclass(*a, w0=0.5), r"start from zeros"),
        requirement("visit the samples in order", lambda *a: multiclass(*a, reverse=True), r"in the given order"),
        requirement("for exactly `n_epochs` epochs", lambda *a: multiclass(*a, extra=1), r"n_epochs epochs"),
        requirement("a float array", lambda *a: multiclass(*a, as_int=True), r"float array"),
        requirement("a float array", lambda *a: multiclass(*a, as_list=True), r"NumPy array"),
        requirement("the bias in the last column", lambda *a: multiclass(*a, bias_first=True), r"LAST column"),
    ],
}
