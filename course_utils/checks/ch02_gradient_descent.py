"""Checks for chapter 02, loss functions and gradient descent."""

from __future__ import annotations

import inspect
import math

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    calls_into,
    expect_close,
    expect_pair,
    numerical_gradient,
    register,
    seeded_rng,
    to_array,
)

#: Modules an answer must not call into where the preamble says "Use NumPy only".
NOT_NUMPY = ("math", "statistics", "scipy", "sklearn", "torch", "jax", "tensorflow")


@register("02.mse")
def check_mse(mse):
    """mse(y_true, y_pred): mean squared error, also for a column against a vector."""
    rng = seeded_rng(20)
    y_true, y_pred = np.array([1.0, 3.0]), np.array([1.5, 2.0])
    watch = calls_into(mse, NOT_NUMPY)
    value = call(watch.func, y_true, y_pred, name="mse")
    watch.refuse("mse calls {seen}: use NumPy only.")
    if np.ndim(value) != 0:
        raise CheckFailed(f"mse returned an array of shape {np.shape(value)}: return the mean as one number.")
    expect_close(value, 0.625, "mse", case="y_true = [1, 3], y_pred = [1.5, 2]",
                 mistakes={"divide by the number of samples: that is the sum, not the mean": 1.25,
                           "square the differences before averaging": -0.25,
                           "the mean of absolute differences is the MAE, not the MSE": 0.75,
                           "that is the root mean squared error; do not take the square root": math.sqrt(0.625)})
    for n in (5, 12):
        y_true, y_pred = rng.normal(size=n), rng.normal(size=n)
        diff = [p - t for p, t in zip(y_pred, y_true, strict=True)]
        expected = sum(d * d for d in diff) / n
        expect_close(call(mse, y_true, y_pred, name="mse"), expected, "mse", case=f"random vectors of length {n}",
                     mistakes={"divide by the number of samples: that is the sum, not the mean": expected * n,
                               "square the differences before averaging": np.mean(diff),
                               "the mean of absolute differences is the MAE, not the MSE": np.mean(np.abs(diff)),
                               "that is the root mean squared error; do not take the square root": math.sqrt(expected)})
    for column_first in (False, True):
        vector, column = rng.normal(size=6), rng.normal(size=(6, 1))
        y_true, y_pred = (column, vector) if column_first else (vector, column)
        expected = float(np.mean((column[:, 0] - vector) ** 2))
        got = call(mse, y_true, y_pred, name="mse")
        which = "y_true of shape (6, 1) and y_pred of shape (6,)" if column_first else \
            "y_true of shape (6,) and y_pred of shape (6, 1)"
        expect_close(got, expected, "mse", case=which,
                     mistakes={"a column (n, 1) minus a vector (n,) broadcasts to an n x n matrix: flatten both "
                               "first (np.ravel), whichever argument is the column":
                                   np.mean((y_pred - y_true) ** 2),
                               "return one number (the mean over all samples), not one value per sample":
                                   (column[:, 0] - vector) ** 2})
    return "fixed and random cases, a column against a vector both ways round"


def _bce_reference(y, z):
    """Mean BCE from logits, sample by sample with math.log1p / math.exp."""
    total = 0.0
    for yi, zi in zip(np.ravel(y), np.ravel(z), strict=True):
        softplus = zi + math.log1p(math.exp(-zi)) if zi > 0 else math.log1p(math.exp(zi))
        total += softplus - yi * zi
    return total / np.size(y)


@register("02.binary_cross_entropy")
def check_binary_cross_entropy(binary_cross_entropy):
    """binary_cross_entropy(y, z): mean BCE from logits, exact for |z| up to 1000."""
    rng = seeded_rng(21)
    for n in (4, 15):
        y = rng.integers(0, 2, size=n).astype(float)
        z = rng.normal(scale=3.0, size=n)
        expected = _bce_reference(y, z)
        got = to_array(call(binary_cross_entropy, y, z, name="binary_cross_entropy"), "binary_cross_entropy")
        if got.size == 1 and not np.all(np.isfinite(got)):
            raise CheckFailed("binary_cross_entropy is NaN or inf for ordinary logits: z holds logits (any real "
                              "number), not probabilities, so log(z) or log(1 - z) is undefined. Apply the sigmoid, "
                              "or better, use the logit form log(1 + e^z) - y z.")
        expect_close(got, expected, "binary_cross_entropy", case=f"{n} random labels and logits",
                     mistakes={"the sign is wrong: the loss is MINUS the mean log-likelihood": -expected,
                               "divide by the number of samples: that is the sum, not the mean": expected * n,
                               "y and 1 - y are swapped: y multiplies log(sigma(z))": _bce_reference(1 - y, z)})
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    z = np.array([-1000.0, 1000.0, 1000.0, -1000.0, -40.0, 40.0])
    got = to_array(call(binary_cross_entropy, y, z, name="binary_cross_entropy"), "binary_cross_entropy")
    if got.size == 1 and not np.all(np.isfinite(got)):
        raise CheckFailed("binary_cross_entropy is inf or NaN when a logit is +-1000: sigma(z) rounds to 0 or 1 "
                          "and log(0) = -inf. Write the loss with the logit, log(1 + e^z) - y z, and compute "
                          "log(1 + e^z) as max(z, 0) + log1p(exp(-|z|)).")
    expected = _bce_reference(y, z)
    if got.size == 1 and float(got.ravel()[0]) < 0.5 * expected:
        raise CheckFailed("binary_cross_entropy is far too small for confident wrong predictions (logits +-1000): "
                          "clipping the probabilities to [eps, 1 - eps] caps the loss of a sample at -log(eps), "
                          "about 1000 is right. Work with the logit: log(1 + e^z) - y z, with a stable "
                          "log(1 + e^z) = max(z, 0) + log1p(exp(-|z|)).")
    expect_close(got, expected, "binary_cross_entropy", case="logits of +-40 and +-1000", rtol=1e-6)
    return "random cases and logits of +-1000"


def _logistic_loss(params, X, y):
    z = X @ params[:-1] + params[-1]
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


@register("02.logistic_gradient")
def check_logistic_gradient(logistic_gradient):
    """logistic_gradient(X, y, w, b) = (X^T (p - y) / n, mean(p - y)), checked numerically."""
    rng = seeded_rng(22)
    for n, d in [(8, 2), (25, 3), (40, 1)]:
        X = rng.normal(size=(n, d))
        y = rng.integers(0, 2, size=n).astype(float)
        w, b = rng.normal(size=d), float(rng.normal())
        params = np.append(w, b)
        grad = numerical_gradient(lambda p_, X=X, y=y: _logistic_loss(p_, X, y), params)
        out = call(logistic_gradient, X, y, w, b, name="logistic_gradient")
        expect_pair(out, "logistic_gradient", "(grad_w, grad_b)")
        case = f"X of shape {(n, d)}"
        if np.shape(out[0]) != w.shape:
            raise CheckFailed(f"grad_w for {case} has shape {np.shape(out[0])}: it should have the shape of w, "
                              f"{w.shape}.")
        expect_close(out[0], grad[:-1], "grad_w", case=case, rtol=1e-5, atol=1e-7,
                     mistakes={"divide by the number of samples n: the loss is a mean": grad[:-1] * n,
                               "the sign is wrong: use (prediction - target), not (target - prediction)": -grad[:-1],
                               "apply the sigmoid: the prediction is sigmoid(X @ w + b), not X @ w + b":
                                   X.T @ (X @ w + b - y) / n,
                               "the factor 2 belongs to the MSE, not to the cross-entropy": 2 * grad[:-1]})
        grad_b = to_array(out[1], "grad_b")
        if grad_b.ndim != 0:
            raise CheckFailed(f"grad_b should be one number (the mean of the errors), not an array of shape "
                              f"{grad_b.shape}.")
        expect_close(grad_b.reshape(()), grad[-1], "grad_b", case=case, rtol=1e-5, atol=1e-7,
                     mistakes={"divide the bias gradient by n too (use the mean of the errors)": grad[-1] * n,
                               "the bias gradient has the wrong sign": -grad[-1],
                               "the bias gradient is not zero: it is the mean of (prediction - target)": 0.0,
                               "apply the sigmoid in the bias gradient too": np.mean(X @ w + b - y)})
    return "matches the numerical gradient on three data sets"


def _quartic_grad(x):
    return 4 * x**3 - 12 * x + 3


def _descend(grad, x0, lr, n_steps):
    """Reference trajectory, written with an explicit array of n_steps + 1 rows."""
    x0 = np.asarray(x0, dtype=float)
    out = np.empty((n_steps + 1,) + x0.shape)
    out[0] = x0
    for k in range(n_steps):
        out[k + 1] = out[k] - lr * grad(out[k])
    return out


@register("02.gradient_descent")
def check_gradient_descent(gradient_descent):
    """gradient_descent(grad, x0, lr, n_steps) returns the n_steps + 1 points visited."""
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    x0 = np.array([1.0, -2.0])
    expected = _descend(lambda v: A @ v, x0, 0.1, 10)
    out = call(gradient_descent, lambda v: A @ v, x0, 0.1, 10, name="gradient_descent")
    if not isinstance(out, np.ndarray):
        raise CheckFailed(f"gradient_descent should return the trajectory as a NumPy array, not a "
                          f"{type(out).__name__}.")
    got = to_array(out, "the trajectory")
    if got.shape == expected.shape and np.allclose(got, expected[-1]):
        raise CheckFailed("every point of the trajectory equals the last one: you append the same array and then "
                          "change it in place (x -= ...). Use x = x - lr * grad(x) or append a copy.")
    expect_close(got, expected, "the trajectory", case="the quadratic 0.5 x^T A x in 2-D from x0 = [1, -2], lr = 0.1",
                 mistakes={"the step goes uphill: subtract lr * grad(x), do not add it":
                               _descend(lambda v: -(A @ v), x0, 0.1, 10),
                           "the starting point x0 must be the first point of the trajectory": expected[1:],
                           "the trajectory has one point too many: n_steps steps give n_steps + 1 points":
                               _descend(lambda v: A @ v, x0, 0.1, 11),
                           "multiply the gradient by the learning rate lr": _descend(lambda v: A @ v, x0, 1.0, 10),
                           "return the whole trajectory, not only the last point": expected[-1]})
    rng = seeded_rng(25)
    M = rng.normal(size=(3, 3))
    H = M @ M.T + np.eye(3)  # a random bowl in 3-D
    x0, n_steps = rng.normal(size=3), int(rng.integers(5, 12))
    lr = float(rng.uniform(0.2, 1.0)) / np.linalg.eigvalsh(H)[-1]
    expected = _descend(lambda v: H @ v, x0, lr, n_steps)
    got = to_array(call(gradient_descent, lambda v: H @ v, x0.copy(), lr, n_steps, name="gradient_descent"),
                   "the trajectory")
    expect_close(got, expected, "the trajectory", case=f"a random 3-D quadratic bowl, lr = {lr:.4g}, {n_steps} steps",
                 mistakes={"the step goes uphill: subtract lr * grad(x), do not add it":
                               _descend(lambda v: -(H @ v), x0, lr, n_steps),
                           "the starting point x0 must be the first point of the trajectory": expected[1:]})
    for x0, lr, n_steps in [(-3.0, 0.01, 20), (2.0, 0.02, 15), (float(rng.uniform(-2.5, -1.5)), 0.01, 10)]:
        expected = _descend(_quartic_grad, x0, lr, n_steps)
        got = to_array(call(gradient_descent, _quartic_grad, x0, lr, n_steps, name="gradient_descent"),
                       "the trajectory")
        case = f"f(x) = x^4 - 6x^2 + 3x from x0 = {x0} with lr = {lr}, {n_steps} steps"
        if got.shape == (n_steps + 1, 1):
            raise CheckFailed(f"the trajectory for {case} has shape {got.shape}: for a number x0 it should have "
                              f"shape (n_steps + 1,) = {(n_steps + 1,)}.")
        if not np.all(np.isfinite(got)):
            raise CheckFailed(f"the trajectory diverges (inf or NaN) for {case}: it should converge. Subtract "
                              "lr * grad(x), and do not forget the learning rate.")
        expect_close(got, expected, "the trajectory", case=case,
                     mistakes={"the starting point x0 must be the first point of the trajectory": expected[1:],
                               "return the whole trajectory, not only the last point": expected[-1]})
    return "the quartic from three starts, a 2-D quadratic and a random 3-D bowl"


@register("02.minibatches")
def check_minibatches(minibatches):
    """minibatches(X, y, batch_size, rng) yields shuffled, paired batches covering each sample once."""
    n, d = 23, 3
    X = np.arange(n * d, dtype=float).reshape(n, d)
    y = np.arange(n) * 10
    X_before, y_before = X.copy(), y.copy()

    def one_epoch(batch_size, seed):
        return call(lambda: list(minibatches(X, y, batch_size, seeded_rng(seed))), name="minibatches")

    made = call(minibatches, X, y, 5, seeded_rng(0), name="minibatches")
    if not inspect.isgenerator(made):
        raise CheckFailed(f"minibatches returned a {type(made).__name__}: write it as a generator, which yields "
                          "one batch at a time (use yield).")
    batches = one_epoch(5, 0)
    if not np.array_equal(X, X_before) or not np.array_equal(y, y_before):
        raise CheckFailed("minibatches changed X or y in place (rng.shuffle(X)?): shuffle an array of indices "
                          "with rng.permutation(n) and index X and y with it.")
    if not batches:
        raise CheckFailed("minibatches yielded nothing for 23 samples and batch_size 5.")
    for i, batch in enumerate(batches):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise CheckFailed(f"batch {i} is not a pair (X_batch, y_batch).")
    xs = [to_array(b[0], f"X_batch {i}") for i, b in enumerate(batches)]
    ys = [to_array(b[1], f"y_batch {i}") for i, b in enumerate(batches)]
    sizes = [len(yb) for yb in ys]
    if any(xb.ndim != 2 or xb.shape[1] != d or len(xb) != len(yb) for xb, yb in zip(xs, ys, strict=True)):
        raise CheckFailed("each batch should be the pair (X_batch, y_batch): X_batch of shape (batch, 3), with as "
                          "many rows as y_batch has labels.")
    if sum(sizes) == 20 and sizes == [5, 5, 5, 5]:
        raise CheckFailed("with 23 samples and batch_size 5 the last batch (3 samples) is missing: keep the "
                          "smaller last batch so that every sample is used in the epoch.")
    if sizes != [5, 5, 5, 5, 3]:
        raise CheckFailed(f"with 23 samples and batch_size 5 the batch sizes should be [5, 5, 5, 5, 3], not {sizes}.")
    X_all, y_all = np.concatenate(xs), np.concatenate(ys)
    if sorted(y_all.tolist()) != sorted(y.tolist()):
        raise CheckFailed("over one epoch some samples appear twice and others never: draw one permutation per "
                          "epoch (rng.permutation), not random indices with replacement.")
    if not np.array_equal(X_all[:, 0] / d * 10, y_all):
        raise CheckFailed("rows of X_batch no longer match their labels in y_batch: X and y must be indexed "
                          "with the SAME permutation.")
    if np.array_equal(y_all, y):
        raise CheckFailed("the batches come in the original order: shuffle the samples with rng.permutation at "
                          "the start of the epoch.")
    second = one_epoch(5, 1)
    again = one_epoch(5, 0)
    order = lambda bs: np.concatenate([to_array(b[1]) for b in bs])  # noqa: E731
    if np.array_equal(order(second), y_all):
        raise CheckFailed("two different random generators give the same order: use the rng argument to shuffle "
                          "(rng.permutation), not a fixed seed or np.random.")
    if not np.array_equal(order(again), y_all):
        raise CheckFailed("the same rng seed gives different orders: shuffle with the rng argument only.")
    big = one_epoch(50, 2)
    if len(big) != 1 or len(to_array(big[0][1])) != n:
        raise CheckFailed("with batch_size larger than n there should be one batch holding all the samples.")
    return "paired, shuffled batches covering every sample once"


def _hinge_step_reference(w, b, X, y, lr, lam):
    """One subgradient step on mean hinge + lam ||w||^2, labels {0, 1}, slope 0 at margin 1."""
    X = np.asarray(X, dtype=float)
    t = 2.0 * np.asarray(y, dtype=float) - 1.0
    margin = t * (X @ w + b)
    active = (margin < 1).astype(float)
    grad_w = -(X * (t * active)[:, None]).mean(axis=0) + 2 * lam * w
    grad_b = -(t * active).mean()
    return w - lr * grad_w, b - lr * grad_b


@register("02.hinge_step")
def check_hinge_step(hinge_step):
    """hinge_step(w, b, X, y, lr, lam) -> (new_w, new_b): one regularised hinge subgradient step."""
    rng = seeded_rng(23)
    X = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0], [0.5, 0.5]])
    y = np.array([1, 0, 0, 1])
    w, b = np.array([1.0, -0.5]), 0.0  # margins 1 (exactly), 1, -0.5, 0.25
    cases = [(w, b, X, y, 0.1, 0.0, "the fixed 4-sample case, two margins exactly 1"),
             (w, b, X, y, 0.5, 0.1, "the fixed case with lam = 0.1, lr = 0.5")]
    for n, d in [(7, 3), (12, 1), (5, 4)]:
        cases.append((rng.normal(size=d), float(rng.normal()), rng.normal(size=(n, d)),
                      rng.integers(0, 2, size=n), float(rng.choice([0.05, 0.3])),
                      float(rng.choice([0.0, 0.01, 0.2])), f"random data, {n} samples, {d} features"))
    for w, b, X, y, lr, lam, case in cases:
        out = call(hinge_step, w.copy(), b, X.copy(), y.copy(), lr, lam, name="hinge_step")
        new_w, new_b = expect_pair(out, "hinge_step", "(new_w, new_b)")
        if not isinstance(new_w, np.ndarray) or new_w.shape != w.shape:
            raise CheckFailed(f"new_w for {case} should be an array of the shape of w, {w.shape}, not a "
                              f"{type(new_w).__name__} of shape {np.shape(new_w)}.")
        if np.ndim(new_b) != 0:
            raise CheckFailed(f"new_b for {case} should be a number, not an array of shape {np.shape(new_b)}.")
        ref_w, ref_b = _hinge_step_reference(w, b, X, y, lr, lam)
        t = 2.0 * y - 1.0
        margin = t * (X @ w + b)
        mistakes_w = {
            "labels are 0/1: convert them to signs t = 2 y - 1 first":
                w - lr * (-(X * (y * (y * (X @ w + b) < 1))[:, None]).mean(axis=0) + 2 * lam * w),
            "at a margin of exactly 1 the hinge is flat on the right: use margin < 1, not <= 1":
                w - lr * (-(X * (t * (margin <= 1))[:, None]).mean(axis=0) + 2 * lam * w),
            "the penalty lam ||w||^2 has gradient 2 lam w":
                w - lr * (-(X * (t * (margin < 1))[:, None]).mean(axis=0) + lam * w),
            "average the hinge subgradient over the samples (mean, not sum)":
                w - lr * (-(X * (t * (margin < 1))[:, None]).sum(axis=0) + 2 * lam * w),
            "the step goes against the subgradient: w - lr * g": 2 * w - ref_w,
        }
        expect_close(new_w, ref_w, "new_w", case=case, mistakes=mistakes_w)
        expect_close(np.asarray(to_array(new_b, "new_b"), dtype=float).reshape(()), ref_b, "new_b",
                     case=case, mistakes={"the bias is not penalised: leave lam out of its step":
                                          ref_b - lr * 2 * lam * b,
                                          "the bias is not updated": b})
    return "fixed and random steps, margins exactly 1, every parameter varied"


def _gaussian_nll_reference(y, mu, log_var):
    y, mu, log_var = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (y, mu, log_var)))
    values = [0.5 * (math.log(2 * math.pi) + lv + (a - m) ** 2 * math.exp(-lv))
              for a, m, lv in zip(y.ravel(), mu.ravel(), log_var.ravel(), strict=True)]
    return float(np.mean(values))


@register("02.gaussian_nll")
def check_gaussian_nll(gaussian_nll):
    """gaussian_nll(y, mu, log_var): mean Gaussian negative log-likelihood, one number."""
    rng = seeded_rng(24)
    cases = [(np.array([1.0, 2.0, 0.0]), np.array([1.5, 1.0, 0.0]), np.array([0.0, 0.0, 0.0]),
              "three samples with unit variance (log_var = 0)")]
    for n in (6, 11):
        cases.append((rng.normal(size=n), rng.normal(size=n), rng.normal(size=n),
                      f"{n} random samples with their own log-variances"))
    cases.append((rng.normal(size=5), rng.normal(size=5), np.float64(np.log(0.3)),
                  "one shared log-variance (a scalar log_var)"))
    cases.append((np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([-60.0, 60.0]),
                  "extreme log-variances -60 and 60 (exact predictions)"))
    for y, mu, log_var, case in cases:
        try:
            out = call(gaussian_nll, y.copy(), mu.copy(), np.copy(log_var), name="gaussian_nll")
        except CheckFailed as err:
            if np.ndim(log_var) != 0:
                raise
            raise CheckFailed(f"{err} log_var may also be one number shared by all samples.") from None
        value = to_array(out, "gaussian_nll(y, mu, log_var)")
        if value.size != 1:
            raise CheckFailed(f"gaussian_nll should return one number (the mean over samples), not an array "
                              f"of shape {value.shape}.")
        lv = np.broadcast_to(log_var, y.shape)
        sq = (y - mu) ** 2
        expect_close(value.reshape(()), _gaussian_nll_reference(y, mu, log_var), "gaussian_nll", case=case,
                     mistakes={"the constant 0.5 log(2 pi) is part of the NLL":
                                   np.mean(0.5 * (lv + sq * np.exp(-lv))),
                               "log_var is the LOG of the variance: divide by exp(log_var)":
                                   np.mean(0.5 * (np.log(2 * np.pi) + lv + sq / np.where(lv == 0, 1, lv)))
                                   if np.all(lv != 0) else np.nan,
                               "the whole bracket is halved: 0.5 (log 2 pi + log_var + (y - mu)^2 / var)":
                                   np.mean(np.log(2 * np.pi) + lv + sq * np.exp(-lv)),
                               "the log-variance term is missing: the NLL has + 0.5 log_var":
                                   np.mean(0.5 * (np.log(2 * np.pi) + sq * np.exp(-lv))),
                               "log_var is per sample: use each sample's own log-variance, not the first one":
                                   _gaussian_nll_reference(y, mu, lv.ravel()[0]),
                               "take the mean over the samples, not the sum":
                                   np.sum(0.5 * (np.log(2 * np.pi) + lv + sq * np.exp(-lv)))})
    return "fixed, random, scalar and extreme log-variances"


def _quartic_value(x):
    """f(x) = sum(x^4 - 6x^2 + 3x); a wrong answer's huge step may overflow it (inf is then its value)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sum(x**4 - 6 * x**2 + 3 * x))


def _line_search_reference(f, grad, x, lr0, shrink, c):
    x = np.asarray(x, dtype=float)
    g = np.asarray(grad(x), dtype=float)
    fx, slope = float(f(x)), float(np.sum(g * g))
    lr = lr0
    for _ in range(200):
        if float(f(x - lr * g)) <= fx - c * lr * slope:
            return lr
        lr *= shrink
    return lr


@register("02.backtracking_line_search")
def check_backtracking_line_search(backtracking_line_search):
    """backtracking_line_search(f, grad, x, lr0, shrink, c) -> the first lr0 * shrink^k that passes Armijo."""
    quartic = (_quartic_value, lambda x: 4 * x**3 - 12 * x + 3)
    A = np.array([[10.0, 2.0], [2.0, 1.0]])
    bowl = (lambda x: float(0.5 * x @ A @ x), lambda x: A @ x)
    cases = [(quartic, np.array([2.5]), 1.0, 0.5, 1e-4, "the quartic at x = 2.5, lr0 = 1"),
             (quartic, np.array([2.5]), 0.01, 0.5, 1e-4, "the quartic at x = 2.5 with a small lr0 = 0.01"),
             (quartic, np.array([-1.0, 2.0]), 0.3, 0.8, 0.3, "two quartic coordinates, shrink 0.8, c = 0.3"),
             (bowl, np.array([1.0, -3.0]), 2.0, 0.5, 1e-4, "a 2-D quadratic bowl, lr0 = 2"),
             (bowl, np.array([1.0, -3.0]), 2.0, 0.3, 0.5, "the bowl with shrink 0.3 and c = 0.5")]
    rng = seeded_rng(26)
    M = rng.normal(size=(3, 3))
    H = M @ M.T + 0.5 * np.eye(3)
    random_bowl = (lambda x: float(0.5 * x @ H @ x), lambda x: H @ x)
    cases.append((random_bowl, rng.normal(size=3), float(rng.uniform(1.0, 3.0)), float(rng.uniform(0.3, 0.8)),
                  float(rng.uniform(0.05, 0.4)), "a random 3-D bowl, random lr0, shrink and c"))
    for (f, grad), x, lr0, shrink, c, case in cases:
        out = call(backtracking_line_search, f, grad, x.copy(), lr0, shrink, c,
                   name="backtracking_line_search")
        lr = to_array(out, "the learning rate")
        if lr.ndim != 0:
            raise CheckFailed(f"backtracking_line_search should return one number, the learning rate, not an array "
                              f"of shape {lr.shape}.")
        ref = _line_search_reference(f, grad, x, lr0, shrink, c)
        g = grad(x)
        value = float(lr.reshape(-1)[0])
        passes = f(x - value * g) <= f(x) - c * value * float(np.sum(g * g))
        try:
            expect_close(value, ref, "the learning rate", case=case,
                         mistakes={"the Armijo test uses the squared length of the gradient, c * lr * ||g||^2":
                                       _line_search_reference(f, grad, x, lr0, shrink, c * np.sqrt(np.sum(g * g)) /
                                                              max(np.sum(g * g), 1e-12)),
                                   "the test must hold with the sufficient-decrease term: "
                                   "f(x - lr g) <= f(x) - c lr ||g||^2, not just f(x - lr g) < f(x)":
                                       _line_search_reference(f, grad, x, lr0, shrink, 0.0),
                                   "return the first step size that passes the test, starting with lr0 "
                                   "itself (not the one after it, not a smaller start)": ref * shrink})
        except CheckFailed as err:
            if "your value is" not in str(err) or passes:
                raise
            raise CheckFailed(f"the learning rate {value:.6g} for {case} does not pass the Armijo test: "
                              "keep shrinking until f(x - lr g) <= f(x) - c lr ||g||^2 holds.") from None
    try:
        flat = call(backtracking_line_search, quartic[0], lambda x: np.zeros_like(x), np.array([1.0]), 0.7, 0.5,
                    1e-4, name="backtracking_line_search", time_limit=3)
    except CheckFailed as err:
        if "did not finish" not in str(err):
            raise
        raise CheckFailed("backtracking_line_search never stops when the gradient is zero: the Armijo test is "
                          "f(x - lr g) <= f(x) - c lr ||g||^2, less than OR EQUAL, which holds at once there "
                          "(a strict < never holds).") from None
    expect_close(float(to_array(flat, "the learning rate").reshape(-1)[0]), 0.7, "the learning rate",
                 case="a zero gradient (lr0 passes at once)")
    return "six cases varying x, lr0, shrink and c, and a zero gradient"


def _best_rate_reference(curvatures):
    low, high = float(np.min(curvatures)), float(np.max(curvatures))
    return 2 / (low + high), (high - low) / (high + low)


def _random_bowl(rng, d):
    """A symmetric positive definite matrix with random axes and curvatures, and its curvatures."""
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    curvatures = np.exp(rng.uniform(-1.0, 3.0, size=d))
    return (Q * curvatures) @ Q.T, curvatures


@register("02.best_rate")
def check_best_rate(best_rate):
    """best_rate(H) -> (eta, rho): the best fixed learning rate on 0.5 theta^T H theta and its factor."""
    rng = seeded_rng(27)
    cases = [(*_random_bowl(rng, d), f"a random {d} x {d} bowl (not diagonal)") for d in (2, 3, 5)]
    lam = np.sort(np.exp(rng.uniform(-1.0, 2.0, size=2)))
    cases.append((np.diag(lam[::-1]), lam, "a diagonal bowl, the steep direction first"))
    c = float(np.exp(rng.uniform(-1.0, 1.0)))
    cases.append((np.array([[c]]), np.array([c]), "a 1 x 1 bowl (one curvature: rho is 0)"))
    Q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    cases.append(((Q * c) @ Q.T, np.full(3, c), "a round 3-D bowl (equal curvatures, not written as diagonal)"))
    for H, curvatures, case in cases:
        out = call(best_rate, H.copy(), name="best_rate")
        eta, rho = expect_pair(out, "best_rate", "(eta, rho)")
        for value, name in [(eta, "eta"), (rho, "rho")]:
            if isinstance(value, bool) or np.ndim(value) != 0 or not np.isreal(value) or \
                    not isinstance(np.asarray(value).item(), (int, float)):
                raise CheckFailed(f"{name} for {case} should be one float, not {type(value).__name__} of shape "
                                  f"{np.shape(value)}.")
        ref_eta, ref_rho = _best_rate_reference(curvatures)
        diagonal = _best_rate_reference(np.diag(H))
        low, high = float(np.min(curvatures)), float(np.max(curvatures))
        expect_close(float(eta), ref_eta, "eta", case=case,
                     mistakes={"H is not diagonal: its curvatures are its eigenvalues (np.linalg.eigvalsh), not "
                               "its diagonal entries": diagonal[0],
                               "2 / lambda_max is the limit beyond which descent diverges, not the best rate":
                                   2 / high,
                               "1 / lambda_max removes the steep direction in one step but leaves the flat one "
                               "slow: balance the two, 1 - eta lambda_min = eta lambda_max - 1": 1 / high,
                               "the pair is (eta, rho), in that order": ref_rho})
        expect_close(float(rho), ref_rho, "rho", case=case,
                     mistakes={"H is not diagonal: its curvatures are its eigenvalues (np.linalg.eigvalsh), not "
                               "its diagonal entries": diagonal[1],
                               "rho = (kappa - 1) / (kappa + 1) with kappa = lambda_max / lambda_min":
                                   (high - low) / high,
                               "rho is the factor per step at the best rate, max |1 - eta lambda|, a number "
                               "below 1": 1 - ref_rho})
    return "random non-diagonal bowls in 2, 3 and 5 dimensions, a diagonal one, 1 x 1 and a round bowl"
