"""Checks for chapter 03, fitting a fluid with a neuron."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    expect_equal,
    expect_pair,
    numerical_gradient,
    register,
    seeded_rng,
    to_array,
)
from course_utils.data.synthetic import make_bingham


def _pair(out, name: str, what: str):
    if isinstance(out, np.ndarray) and out.size == 2:
        out = tuple(out.reshape(-1))
    expect_pair(out, name, what)
    return float(to_array(out[0]).reshape(-1)[0]), float(to_array(out[1]).reshape(-1)[0])


@register("03.mse_gradient", target="mse_gradient",
          mistakes=("missing factor 2", "sum instead of mean (missing 1/n)", "wrong sign",
                    "dw and db swapped", "input changed in place"))
def check_mse_gradient(mse_gradient):
    """mse_gradient(x, y, w, b) returns (dL/dw, dL/db) of the mean squared error."""
    rng = seeded_rng(3)
    for trial in range(6):
        n = int(rng.integers(3, 40))
        x, y = rng.uniform(-2, 10, n), rng.normal(5, 3, n)
        w, b = float(rng.normal()), float(rng.normal())
        loss = lambda p, x=x, y=y: np.mean((p[0] * x + p[1] - y) ** 2)  # noqa: E731
        reference = numerical_gradient(loss, np.array([w, b]))
        out = call(mse_gradient, x, y, w, b, name="mse_gradient")
        got = np.array(_pair(out, "mse_gradient", "(dL/dw, dL/db)"))
        expect_close(got, reference, "(dL/dw, dL/db)", case=f"{n} samples (trial {trial + 1})",
                     rtol=1e-5, atol=1e-6,
                     mistakes={"a factor 2 is missing: d/dw of (w x + b - y)^2 is 2 (w x + b - y) x":
                               reference / 2,
                               "use the mean over the samples, not the sum (the 1/n is missing)": reference * n,
                               "the gradient has the wrong sign: the error is y_hat - y": -reference,
                               "dw and db are swapped": reference[::-1]})
    return "six random data sets against a numerical gradient"


def _least_squares(rate, stress):
    A = np.c_[np.ones_like(rate), rate]
    (tau_y, mu), *_ = np.linalg.lstsq(A, stress, rcond=None)
    return tau_y, mu


@register("03.fit_bingham", target="fit_bingham",
          mistakes=("standardised weights returned", "tau_y and mu swapped", "not converged",
                    "diverged (raw input, large learning rate)"))
def check_fit_bingham(fit_bingham):
    """fit_bingham(rate, stress) recovers (tau_y, mu) within 2 %."""
    fluids = [(5.0, 2.0, 10.0, 0), (3.0, 1.5, 10.0, 1), (12.0, 0.4, 50.0, 2), (0.8, 6.0, 2.0, 3)]
    for tau_true, mu_true, max_rate, seed in fluids:
        X, stress = make_bingham(n=400, seed=seed, yield_stress=tau_true, viscosity=mu_true,
                                 noise=0.02 * tau_true, max_rate=max_rate)
        rate = X[:, 0]
        out = call(fit_bingham, rate, stress, name="fit_bingham", time_limit=5)
        tau, mu = _pair(out, "fit_bingham", "(tau_y, mu)")
        case = f"a fluid with tau_y = {tau_true:g}, mu = {mu_true:g}, rates 0 to {max_rate:g}"
        if not (np.isfinite(tau) and np.isfinite(mu)) or max(abs(tau), abs(mu)) > 1e6:
            raise CheckFailed(f"fit_bingham returned NaN, inf or a huge value for {case}: gradient descent diverged. "
                              "Standardise the shear rate, or lower the learning rate.")
        tau_ls, mu_ls = _least_squares(rate, stress)
        if abs(tau - mu_ls) < 0.02 * abs(mu_ls) and abs(mu - tau_ls) < 0.02 * abs(tau_ls):
            raise CheckFailed(f"for {case} you returned (mu, tau_y): return (tau_y, mu).")
        z = (rate - rate.mean()) / rate.std()
        b_std, w_std = _least_squares(z, stress)
        if abs(mu - w_std) < 0.02 * abs(w_std) or abs(tau - b_std) < 0.02 * abs(b_std):
            raise CheckFailed(f"for {case} you returned the weights of the standardised problem: "
                              "map them back with mu = w / std and tau_y = b - w * mean / std.")
        err_tau, err_mu = abs(tau - tau_true) / tau_true, abs(mu - mu_true) / mu_true
        if max(err_tau, err_mu) > 0.02:
            raise CheckFailed(f"for {case} you found tau_y = {tau:.4g}, mu = {mu:.4g}: more than 2 % off. "
                              "Has gradient descent converged? Standardise the rate and take more steps.")
    return "four fluids within 2 %"


@register("03.train_val_split", target="train_val_split",
          mistakes=("not shuffled", "overlapping sets", "wrong sizes", "X and y misaligned",
                    "ignores the seed"))
def check_train_val_split(train_val_split):
    """train_val_split(X, y, val_fraction, seed) returns a shuffled, disjoint split."""
    for n, d, fraction, seed in [(50, 2, 0.2, 0), (101, 3, 0.3, 7), (10, 1, 0.5, 1)]:
        ids = np.arange(n, dtype=float)
        X = np.c_[ids, seeded_rng(seed).normal(size=(n, d - 1))]
        y = 1000.0 + ids
        case = f"n = {n}, val_fraction = {fraction}"
        out = call(train_val_split, X, y, fraction, seed, name="train_val_split")
        if not isinstance(out, (tuple, list)) or len(out) != 4:
            raise CheckFailed("train_val_split should return four arrays: X_train, X_val, y_train, y_val.")
        X_train, X_val, y_train, y_val = (to_array(a, name) for a, name in
                                          zip(out, ("X_train", "X_val", "y_train", "y_val"), strict=True))
        n_val = int(round(fraction * n))
        if X_train.ndim != 2 or X_val.ndim != 2 or X_train.shape[1] != d or X_val.shape[1] != d:
            raise CheckFailed(f"for {case}, X_train and X_val should keep the {d} columns of X; "
                              f"got shapes {X_train.shape} and {X_val.shape}.")
        if len(X_val) == n - n_val != n_val and len(X_train) == n_val:
            raise CheckFailed(f"for {case}, the training and validation sets are swapped: "
                              f"the validation set should hold val_fraction of the rows ({n_val}).")
        if len(X_val) != n_val or len(X_train) != n - n_val:
            raise CheckFailed(f"for {case}, expected {n - n_val} training and {n_val} validation rows, "
                              f"got {len(X_train)} and {len(X_val)}: wrong sizes.")
        if len(y_train) != len(X_train) or len(y_val) != len(X_val):
            raise CheckFailed(f"for {case}, y_train and y_val should have as many values as X_train and X_val.")
        train_ids, val_ids = X_train[:, 0], X_val[:, 0]
        if np.intersect1d(train_ids, val_ids).size or len(np.unique(np.r_[train_ids, val_ids])) != n:
            raise CheckFailed(f"for {case}, some rows are in both sets (overlap) or in neither: use one "
                              "permutation and split it into two disjoint parts.")
        if not (np.array_equal(y_train, 1000.0 + train_ids) and np.array_equal(y_val, 1000.0 + val_ids)):
            raise CheckFailed(f"for {case}, y no longer matches X row by row: shuffle X and y with the "
                              "same permutation.")
        ordered = [np.arange(n - n_val, n), np.arange(n_val)]
        if any(np.array_equal(np.sort(val_ids), o) for o in ordered) and n > 10:
            raise CheckFailed(f"for {case}, the validation set is the first or last rows in order: the "
                              "data is not shuffled (our shear rates are sorted, so that would be "
                              "extrapolation, not validation).")
        again = call(train_val_split, X, y, fraction, seed, name="train_val_split")
        if not np.array_equal(to_array(again[1], "X_val"), X_val):
            raise CheckFailed("the same seed gave two different splits: draw the permutation from "
                              "np.random.default_rng(seed).")
        other = call(train_val_split, X, y, fraction, seed + 100, name="train_val_split")
        if n > 10 and np.array_equal(to_array(other[1], "X_val"), X_val):
            raise CheckFailed("a different seed gave the same split: use the seed argument.")
    return "three splits: sizes, no overlap, aligned, shuffled, reproducible"


def _patience_rule(losses, patience, strict=True, reset=True, offset=0, report_last=False):
    """The rule written with a wait counter; variants reproduce typical mistakes."""
    best, best_epoch, wait = np.inf, 0, 0
    for epoch, loss in enumerate(losses):
        improved = loss < best if strict else loss <= best
        if improved:
            best, best_epoch = loss, epoch
            if reset:
                wait = 0
        else:
            wait += 1
            if wait >= patience + offset:
                return (epoch if report_last else best_epoch), epoch
    return (len(losses) - 1 if report_last else best_epoch), len(losses) - 1


@register("03.early_stopping", target="early_stopping",
          mistakes=("counter not reset", "one epoch early or late", "ties counted as improvements",
                    "last epoch returned instead of best", "never stops"))
def check_early_stopping(early_stopping):
    """early_stopping(val_losses, patience) returns (best_epoch, stop_epoch)."""
    rng = seeded_rng(11)
    cases = [([5, 4, 3, 3.5, 3.2, 3.1, 2.9, 3.0], 2, "the example"),
             ([3, 2, 2, 2, 2, 1], 3, "a plateau of equal losses"),
             ([4, 3, 3.5, 2, 2.5, 1.5, 1.6, 1.7, 1.8, 1.9], 3, "a loss that improves now and then"),
             ([1, 2, 3, 4], 10, "a run shorter than the patience")]
    for _ in range(5):
        curve = np.abs(np.cumsum(rng.normal(-0.05, 0.3, 60))) + 0.1
        cases.append((curve.tolist(), int(rng.integers(2, 8)), "a random validation curve"))
    for losses, patience, what in cases:
        case = f"{what} with patience {patience}"
        out = call(early_stopping, list(losses), patience, name="early_stopping")
        got = np.array(_pair(out, "early_stopping", "(best_epoch, stop_epoch)"))
        expect_equal(got.astype(int) if np.all(got == np.round(got)) else got,
                     np.array(_patience_rule(losses, patience)), "(best_epoch, stop_epoch)", case=case,
                     mistakes={"a loss equal to the best is not an improvement (use <, not <=)":
                               np.array(_patience_rule(losses, patience, strict=False)),
                               "reset the count of epochs without improvement whenever a new best appears":
                               np.array(_patience_rule(losses, patience, reset=False)),
                               "stop when epoch - best_epoch reaches patience, not patience + 1":
                               np.array(_patience_rule(losses, patience, offset=1)),
                               "stop when epoch - best_epoch reaches patience, not patience - 1":
                               np.array(_patience_rule(losses, patience, offset=-1)),
                               "return the epoch with the best loss, not the epoch where you stop":
                               np.array(_patience_rule(losses, patience, report_last=True)),
                               "if the rule never fires, stop_epoch is the last epoch":
                               np.array([_patience_rule(losses, patience)[0], len(losses)])})
    return f"{len(cases)} validation curves"
