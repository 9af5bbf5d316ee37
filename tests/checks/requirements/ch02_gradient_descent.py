"""Requirement table of chapter 02, losses and gradient descent (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import statistics

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement


def sigmoid(z):
    """The notebook's stable sigmoid (the cell before exercise 3)."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


# --------------------------------------------------------------------------- 02.mse


def mse(y_true, y_pred, *, total=False, one_raveled=False, as_array=False):
    """The solution's answer; the keywords make it break one requirement."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if one_raveled:
        y_pred = y_pred.ravel()  # only y_pred: a column y_true still broadcasts
    else:
        y_true, y_pred = y_true.ravel(), y_pred.ravel()
    value = np.sum((y_pred - y_true) ** 2) if total else np.mean((y_pred - y_true) ** 2)
    return np.array([value]) if as_array else value


def mse_statistics(y_true, y_pred):
    """Right values through the standard library's statistics module."""
    diffs = np.ravel(y_pred) - np.ravel(y_true)
    return statistics.fmean(float(d) ** 2 for d in diffs)


# --------------------------------------------------------------------------- 02.binary_cross_entropy


def bce(y, z, *, total=False, swapped=False, clipped=False, naive=False):
    """The solution's answer; the keywords make it break one requirement."""
    y, z = np.asarray(y, dtype=float), np.asarray(z, dtype=float)
    if swapped:
        y = 1 - y
    if clipped or naive:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            p = 1 / (1 + np.exp(-z))
            if clipped:
                p = np.clip(p, 1e-7, 1 - 1e-7)
            losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    else:
        losses = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - y * z
    return np.sum(losses) if total else np.mean(losses)


# --------------------------------------------------------------------------- 02.logistic_gradient


def logistic(X, y, w, b, *, pair=True, column=False, b_array=False, total=False):
    """The solution's answer; the keywords make it break one requirement."""
    error = sigmoid(X @ w + b) - y
    n = 1 if total else len(y)
    grad_w, grad_b = X.T @ error / n, np.sum(error) / n
    if column:
        grad_w = grad_w[:, None]
    if b_array:
        grad_b = np.array([grad_b])
    return (grad_w, grad_b) if pair else np.append(grad_w, grad_b)


# --------------------------------------------------------------------------- 02.gradient_descent


def descend(grad, x0, lr, n_steps, *, uphill=False, no_lr=False, as_list=False, skip_start=False, extra=0,
            column=False, in_place=False):
    """The solution's answer; the keywords make it break one requirement."""
    x = x0 if in_place else np.asarray(x0, dtype=float)
    if column:
        x = np.atleast_1d(x)
    points = [] if skip_start else [np.copy(x)]
    for _ in range(n_steps + extra):
        step = (1.0 if no_lr else lr) * grad(x)
        if in_place and isinstance(x, np.ndarray):
            x -= step
        else:
            x = x + step if uphill else x - step
        points.append(np.copy(x))
    return points if as_list else np.array(points)


# --------------------------------------------------------------------------- 02.minibatches


def batches(X, y, batch_size, rng, *, as_list=False, swapped=False, global_rng=False, drop_last=False,
            replace=False, unpaired=False, shuffle_in_place=False, size=None):
    """The solution's answer; the keywords make it break one requirement."""
    n = len(X)
    if shuffle_in_place:
        rng.shuffle(X)
    order = np.random.permutation(n) if global_rng else rng.permutation(n)
    if replace:
        order = rng.integers(0, n, size=n)
    other = rng.permutation(n) if unpaired else order
    step = size or batch_size
    out = []
    for start in range(0, n, step):
        if drop_last and start + step > n:
            break
        idx, idx_y = order[start:start + step], other[start:start + step]
        out.append((y[idx_y], X[idx]) if swapped else (X[idx], y[idx_y]))
    if as_list:
        return out
    return (pair for pair in out)


# --------------------------------------------------------------------------- 02.hinge_step


def hinge(w, b, X, y, lr, lam, *, bias_penalty=False, total=False, zero_one=False, at_one=False, no_two=False,
          pair=True, w_list=False, b_array=False, in_place=False):
    """The solution's answer; the keywords make it break one requirement."""
    t = np.asarray(y) if zero_one else 2 * np.asarray(y) - 1
    margin = t * (X @ w + b)
    inside = margin <= 1 if at_one else margin < 1
    n = 1 if total else len(t)
    grad_w = -X.T @ (t * inside) / n + (1 if no_two else 2) * lam * w
    grad_b = -np.sum(t * inside) / n + (2 * lam * b if bias_penalty else 0.0)
    if in_place:
        w -= lr * grad_w
        new_w = w
    else:
        new_w = w - lr * grad_w
    new_b = b - lr * grad_b
    if w_list:
        new_w = list(new_w)
    if b_array:
        new_b = np.array([new_b])
    return (new_w, new_b) if pair else np.append(new_w, new_b)


# --------------------------------------------------------------------------- 02.gaussian_nll


def nll(y, mu, log_var, *, constant=True, total=False, per_sample=False, first_log_var=False, arrays_only=False):
    """The solution's answer; the keywords make it break one requirement."""
    if arrays_only:
        log_var = np.array([log_var[i] for i in range(len(y))])  # fails for one shared number
    if first_log_var:
        log_var = np.ravel(log_var)[0]
    values = 0.5 * ((np.log(2 * np.pi) if constant else 0.0) + log_var + (y - mu) ** 2 * np.exp(-log_var))
    values = np.broadcast_to(values, np.shape(y))
    if per_sample:
        return values
    return np.sum(values) if total else np.mean(values)


# --------------------------------------------------------------------------- 02.backtracking_line_search


def search(f, grad, x, lr0, shrink, c, *, start_shrunk=False, plain_decrease=False, norm_not_squared=False,
           strict=False, as_array=False, one_more=False):
    """The solution's answer; the keywords make it break one requirement."""
    g = grad(x)
    f_x, g_squared = f(x), float(np.sum(g * g))
    slope = np.sqrt(g_squared) if norm_not_squared else g_squared
    lr = lr0 * shrink if start_shrunk else lr0

    def passes(rate):
        value = f(x - rate * g)
        bound = f_x if plain_decrease else f_x - c * rate * slope
        return value < bound if strict else value <= bound

    while not passes(lr):
        lr *= shrink
    if one_more:
        lr *= shrink
    return np.array([lr]) if as_array else lr


# --------------------------------------------------------------------------- 02.best_rate


def best(H, *, diagonal=False, limit=False, steep=False, rho_over_max=False, swap=False, as_array=False,
         in_place=False):
    """The solution's answer; the keywords make it break one requirement."""
    curvatures = np.diag(H) if diagonal else np.linalg.eigvalsh(H)
    low, high = float(np.min(curvatures)), float(np.max(curvatures))
    eta = 2 / high if limit else (1 / high if steep else 2 / (low + high))
    rho = (high - low) / high if rho_over_max else (high - low) / (high + low)
    if in_place:
        H *= 1.0
        H += 0.0 * H + 1e-3 * np.eye(len(H))
    pair = (rho, eta) if swap else (eta, rho)
    return np.array(pair) if as_array else pair


def best_float_arrays(H):
    eta, rho = best(H)
    return np.array([eta]), np.array([rho])


TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/02-gradient-descent`", "where to read first"),
        free("Exercise 10 is a written one", "which exercise is not checked"),
    ],
    "02.mse": [
        requirement("Use NumPy only", mse_statistics, r"NumPy only"),
        requirement("returns the mean of the squared differences", lambda a, b: mse(a, b, total=True),
                    r"the sum, not the mean"),
        requirement("as one number", lambda a, b: mse(a, b, as_array=True), r"one number"),
        requirement("when one argument is a column of shape `(n, 1)` and the other a vector",
                    lambda a, b: mse(a, b, one_raveled=True), r"whichever argument is the column"),
        free("(What does `y_true - y_pred` give for those two shapes?)", "a question that leads to the answer"),
    ],
    "02.binary_cross_entropy": [
        free("A classifier outputs logits", "what z holds"),
        requirement("that returns the mean binary cross-entropy", lambda y, z: bce(y, z, total=True),
                    r"the sum, not the mean"),
        requirement("$$ L = -\\frac{1}{n}\\sum_i", lambda y, z: bce(y, z, swapped=True), r"y and 1 - y are swapped"),
        free("for labels `y` in $\\{0, 1\\}$", "the labels every row uses"),
        requirement("It must be accurate for logits as large as $\\pm 1000$", lambda y, z: bce(y, z, naive=True),
                    r"inf or NaN when a logit is \+-1000"),
        requirement("a confident, wrong prediction must cost about $1000$", lambda y, z: bce(y, z, clipped=True),
                    r"far too small for confident wrong predictions"),
        free("Hint: show that", "a hint on how to start"),
    ],
    "02.logistic_gradient": [
        requirement("returns the pair `(grad_w, grad_b)`", lambda *a: logistic(*a, pair=False), r"pair"),
        requirement("$\\nabla_\\mathbf{w} L$ with the shape of `w`", lambda *a: logistic(*a, column=True),
                    r"shape of w"),
        requirement("$\\partial L/\\partial b$ as a number", lambda *a: logistic(*a, b_array=True),
                    r"grad_b should be one number"),
        requirement("with the mean binary cross-entropy", lambda *a: logistic(*a, total=True), r"divide by the number"),
        free("The check compares it with a numerical gradient", "how the page checks"),
    ],
    "02.gradient_descent": [
        requirement("takes `n_steps` steps $x \\leftarrow x - \\eta\\, \\text{grad}(x)$",
                    lambda *a: descend(*a, uphill=True), r"goes uphill"),
        requirement("takes `n_steps` steps $x \\leftarrow x - \\eta\\, \\text{grad}(x)$",
                    lambda *a: descend(*a, no_lr=True), r"multiply the gradient by the learning rate"),
        requirement("as a NumPy array of `n_steps + 1` points", lambda *a: descend(*a, as_list=True), r"NumPy array"),
        requirement("as a NumPy array of `n_steps + 1` points", lambda *a: descend(*a, extra=1), r"one point too many"),
        requirement("the start included", lambda *a: descend(*a, skip_start=True), r"starting point x0"),
        requirement("(shape `(n_steps + 1,)` for a number", lambda *a: descend(*a, column=True),
                    r"shape \(n_steps \+ 1,\)"),
        free("starts at `x0` (a number or a NumPy array)", "the inputs; the rows use both"),
        requirement("Do not modify `x0` in place", lambda *a: descend(*a, in_place=True), r"in place"),
    ],
    "02.minibatches": [
        requirement("Write a generator", lambda *a: batches(*a, as_list=True), r"generator"),
        requirement("draw a random order of the `n` samples with `rng`", lambda *a: batches(*a, global_rng=True),
                    r"rng argument"),
        requirement("then `yield` the pairs `(X_batch, y_batch)`", lambda *a: batches(*a, swapped=True),
                    r"the pair \(X_batch, y_batch\)"),
        requirement("of consecutive chunks of `batch_size` samples in that order",
                    lambda X, y, b, r: batches(X, y, b, r, size=b + 1), r"batch sizes should be"),
        requirement("the last batch is smaller when `batch_size` does not divide `n`",
                    lambda *a: batches(*a, drop_last=True), r"last batch .* is missing"),
        requirement("Rows of `X` must stay paired with their labels", lambda *a: batches(*a, unpaired=True),
                    r"SAME permutation"),
        requirement("every sample must appear exactly once per epoch", lambda *a: batches(*a, replace=True),
                    r"appear twice"),
        requirement("and `X` and `y` must not change", lambda *a: batches(*a, shuffle_in_place=True), r"in place"),
    ],
    "02.hinge_step": [
        requirement("minimises the mean hinge loss", lambda *a: hinge(*a, total=True), r"mean, not sum"),
        requirement("plus a penalty on the weights (not on the bias)", lambda *a: hinge(*a, bias_penalty=True),
                    r"bias is not penalised"),
        requirement("\\lambda\\lVert\\mathbf{w}\\rVert^2$", lambda *a: hinge(*a, no_two=True), r"gradient 2 lam w"),
        requirement("with signs $t_i = 2y_i - 1$", lambda *a: hinge(*a, zero_one=True), r"convert them to signs"),
        requirement("returns `(new_w, new_b)`", lambda *a: hinge(*a, pair=False), r"pair"),
        requirement("(an array of the shape of `w`", lambda *a: hinge(*a, w_list=True), r"array of the shape of w"),
        requirement("and a number)", lambda *a: hinge(*a, b_array=True), r"new_b .*should be a number"),
        requirement("using the subgradient 0 for samples whose margin is exactly 1",
                    lambda *a: hinge(*a, at_one=True), r"margin < 1"),
        requirement("Do not modify `w` in place", lambda *a: hinge(*a, in_place=True), r"in place"),
    ],
    "02.gaussian_nll": [
        free("The lecture showed that the cross-entropies are negative log-likelihoods", "what the lecture did"),
        free("For a regression model that predicts", "defines the likelihood the rows test"),
        requirement("Take minus its logarithm", lambda *a: nll(*a, constant=False), r"0.5 log\(2 pi\)"),
        requirement("returning the mean over the samples", lambda *a: nll(*a, total=True), r"mean over the samples"),
        requirement("as one number", lambda *a: nll(*a, per_sample=True), r"one number"),
        requirement("`log_var` is an array like `y`", lambda *a: nll(*a, first_log_var=True),
                    r"each sample's own log-variance"),
        requirement("or one number shared by all samples", lambda *a: nll(*a, arrays_only=True),
                    r"one number shared by all samples"),
        free("(With a fixed variance", "a question to think about"),
    ],
    "02.backtracking_line_search": [
        free("Instead of fixing $\\eta$, a backtracking line search", "the idea"),
        requirement("start from $\\eta = $ `lr0`", lambda *a: search(*a, start_shrunk=True), r"starting with lr0"),
        requirement("multiply by `shrink` (between 0 and 1) until", lambda *a: search(*a, one_more=True),
                    r"not the one after it"),
        requirement("$f(\\mathbf{x} - \\eta\\mathbf{g}) \\le f(\\mathbf{x}) - c\\,\\eta\\,\\lVert\\mathbf{g}\\rVert^2$",
                    lambda *a: search(*a, plain_decrease=True), r"sufficient-decrease"),
        requirement("$f(\\mathbf{x} - \\eta\\mathbf{g}) \\le f(\\mathbf{x}) - c\\,\\eta\\,\\lVert\\mathbf{g}\\rVert^2$",
                    lambda *a: search(*a, norm_not_squared=True), r"squared length"),
        requirement("$f(\\mathbf{x} - \\eta\\mathbf{g}) \\le f(\\mathbf{x}) - c\\,\\eta\\,\\lVert\\mathbf{g}\\rVert^2$",
                    lambda *a: search(*a, strict=True), r"less than OR EQUAL"),
        requirement("return that $\\eta$ as a number", lambda *a: search(*a, as_array=True), r"one number"),
        free("`x` is a NumPy array", "what the check passes"),
        free("`f` returns a number", "what the check passes"),
    ],
    "02.best_rate": [
        free("The lecture found the best rate for a valley", "what the lecture did"),
        free("A real loss near its minimum is a bowl", "defines the bowl"),
        requirement("returns the pair `(eta, rho)`", lambda H: best(H, swap=True), r"in that order"),
        requirement("returns the pair `(eta, rho)`", lambda H: best(H, as_array=True), r"pair"),
        requirement("of floats", best_float_arrays, r"one float"),
        requirement("shrink the worst starting direction fastest", lambda H: best(H, limit=True),
                    r"diverges, not the best rate"),
        requirement("shrink the worst starting direction fastest", lambda H: best(H, steep=True), r"balance the two"),
        requirement("the factor $\\rho$ by which that direction shrinks per step",
                    lambda H: best(H, rho_over_max=True), r"kappa - 1\) / \(kappa \+ 1\)"),
        requirement("Do not assume that $H$ is diagonal", lambda H: best(H, diagonal=True), r"eigenvalues"),
        requirement("and do not change `H`", lambda H: best(H, in_place=True), r"in place"),
        free("(Which directions does $H$ stretch", "a question that leads to the answer"),
    ],
}
