"""Checks for chapter 03, fitting a fluid with a neuron."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    calls_of_global,
    expect_close,
    expect_equal,
    expect_pair,
    learner_lines,
    numerical_gradient,
    register,
    seeded_rng,
    to_array,
)


def _pair(out, name: str, what: str):
    if isinstance(out, np.ndarray) and out.size == 2:
        out = tuple(out.reshape(-1))
    expect_pair(out, name, what)
    return float(to_array(out[0]).reshape(-1)[0]), float(to_array(out[1]).reshape(-1)[0])


def _least_squares(rate, stress):
    A = np.c_[np.ones_like(rate), rate]
    (tau_y, mu), *_ = np.linalg.lstsq(A, stress, rcond=None)
    return tau_y, mu


FIT_TIME_LIMIT = 1.0  # seconds: "well under a second" (a standardised fit takes milliseconds)


@register("03.fit_bingham")
def check_fit_bingham(fit_bingham):
    """fit_bingham(rate, stress) recovers (tau_y, mu) within 2 %."""
    rng = seeded_rng(1)
    fluids = [(5.0, 2.0, 10.0), (3.0, 1.5, 10.0), (12.0, 0.4, 50.0), (0.8, 6.0, 2.0)]
    for tau_true, mu_true, max_rate in fluids:
        rate = rng.uniform(0.0, max_rate, 400)
        stress = tau_true + mu_true * rate + 0.02 * tau_true * rng.standard_normal(400)
        case = f"a fluid with tau_y = {tau_true:g}, mu = {mu_true:g}, rates 0 to {max_rate:g}"
        with calls_of_global(fit_bingham, "mse_gradient") as gradient_calls, learner_lines(fit_bingham) as lines:
            try:
                out = call(lines.func, rate, stress, name="fit_bingham", time_limit=FIT_TIME_LIMIT)
            except CheckFailed as err:
                if "did not finish" not in str(err):
                    raise
                raise CheckFailed(f"fit_bingham did not finish within {FIT_TIME_LIMIT:g} s for {case}: the "
                                  "exercise asks for well under a second. On the standardised rate a few "
                                  "hundred steps of gradient descent are enough.") from None
        if gradient_calls.count is not None and gradient_calls.count < 10:
            raise CheckFailed(f"fit_bingham called your mse_gradient {gradient_calls.count} times: the exercise "
                              "asks for gradient descent with it, one call per step (a closed-form fit such "
                              "as np.polyfit or lstsq finds the same line, but not by the method asked for).")
        tau, mu = _pair(out, "fit_bingham", "(tau_y, mu)")
        if lines.count is not None and lines.count < 20:
            raise CheckFailed(f"for {case}, fit_bingham ran only {lines.count} lines of its code: the exercise "
                              "asks for the fit by gradient descent, step after step, not a closed form "
                              "(np.polyfit, lstsq or the normal equations find the same line another way).")
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
                              "Has gradient descent converged? Standardise the shear rate first, then take "
                              "more steps.")
    return "four fluids within 2 %"


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


@register("03.early_stopping")
def check_early_stopping(early_stopping):
    """early_stopping(val_losses, patience) returns (best_epoch, stop_epoch)."""
    rng = seeded_rng(11)
    cases = [([5, 4, 3, 3.5, 3.2, 3.1, 2.9, 3.0], 2, "the example"),
             ([3, 2, 2, 2, 2, 1], 3, "a plateau of equal losses"),
             ([4, 3, 3.5, 2, 2.5, 1.5, 1.6, 1.7, 1.8, 1.9], 3, "a loss that improves now and then"),
             ([1, 2, 3, 4], 10, "a run shorter than the patience"),
             ([3, 2, 2.5, 1, 1.5, 1.2], 3, "a run that never stops, best epoch not the first")]
    for _ in range(5):
        curve = np.abs(np.cumsum(rng.normal(-0.05, 0.3, 60))) + 0.1
        cases.append((curve.tolist(), int(rng.integers(2, 8)), "a random validation curve"))
    for losses, patience, what in cases:
        case = f"{what} with patience {patience}"
        out = call(early_stopping, list(losses), patience, name="early_stopping")
        expect_pair(out, "early_stopping", "(best_epoch, stop_epoch)")
        for what_epoch, value in zip(("best_epoch", "stop_epoch"), out, strict=True):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise CheckFailed(f"{what_epoch} for {case} is {value!r}, a {type(value).__name__}: epochs "
                                  "are whole numbers, return them as ints (an index into val_losses).")
        got = np.array(out)
        expect_equal(got,
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
                               np.array([_patience_rule(losses, patience)[0], len(losses)]),
                               "epochs are numbered from 0 (the first loss is epoch 0)":
                               np.array(_patience_rule(losses, patience)) + 1,
                               "return (best_epoch, stop_epoch), in that order":
                               np.array(_patience_rule(losses, patience)[::-1])})
    return f"{len(cases)} validation curves"


def _hb_reference(rate, stress, tau_y, k, n, log_at_zero=0.0):
    """Gradient of mean((tau_y + k rate^n - stress)^2) in (tau_y, k, n)."""
    power = rate**n
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(rate > 0, power * np.log(np.where(rate > 0, rate, 1.0)), log_at_zero)
    error = tau_y + k * power - stress
    return np.array([2 * np.mean(error), 2 * np.mean(error * power), 2 * np.mean(error * k * log_term)])


@register("03.hb_gradient")
def check_hb_gradient(hb_gradient):
    """hb_gradient(rate, stress, tau_y, k, n) returns (dL/dtau_y, dL/dk, dL/dn) of the MSE."""
    rng = seeded_rng(21)
    cases = [(np.array([0.0, 0.5, 1.0, 4.0, 9.0]), 5.0, 2.0, 0.5, "rates including 0"),
             (np.array([1.0, 2.0, 3.0]), 0.0, 1.0, 1.0, "a Newtonian fluid (n = 1, tau_y = 0)")]
    for _ in range(4):
        m = int(rng.integers(4, 30))
        rate = np.sort(rng.uniform(0, 10, m))
        rate[0] = 0.0 if rng.random() < 0.5 else rate[0]
        cases.append((rate, float(rng.uniform(0, 5)), float(rng.uniform(0.1, 3)),
                      float(rng.uniform(0.3, 1.2)), f"{m} random rates"))
    for rate, tau_y, k, n, what in cases:
        stress = 3.0 + 1.5 * np.sqrt(rate) + rng.normal(0, 0.3, len(rate))
        reference = _hb_reference(rate, stress, tau_y, k, n)

        def loss(p, rate=rate, stress=stress):
            return np.mean((p[0] + p[1] * rate**p[2] - stress) ** 2)

        if np.all(rate > 0):  # the finite difference is exact away from rate 0
            reference = numerical_gradient(loss, np.array([tau_y, k, n]))
        case = f"{what}, tau_y = {tau_y:.3g}, k = {k:.3g}, n = {n:.3g}"
        out = call(hb_gradient, rate.copy(), stress.copy(), tau_y, k, n, name="hb_gradient")
        got = to_array(out, "(dL/dtau_y, dL/dk, dL/dn)").astype(float).reshape(-1)
        if got.shape != (3,):
            raise CheckFailed(f"hb_gradient should return three numbers (dL/dtau_y, dL/dk, dL/dn), "
                              f"got {got.size} for {case}.")
        if not np.all(np.isfinite(got)):
            raise CheckFailed(f"hb_gradient returned NaN or inf for {case}: at rate 0, rate**n * log(rate) "
                              "is 0 (its limit as the rate goes to 0), not nan; treat those rows apart.")
        error = tau_y + k * rate**n - stress
        derivative_rule = 2 * np.mean(error * k * n * np.where(rate > 0, rate, 1.0) ** (n - 1) * (rate > 0))
        mistakes = {"a factor 2 is missing: d/dp of e^2 is 2 e de/dp": reference / 2,
                    "use the mean over the samples, not the sum": reference * len(rate),
                    "the gradient has the wrong sign: the error is prediction - stress": -reference,
                    "d tau / dn is k rate^n ln(rate), not k n rate^(n-1)": np.r_[reference[:2], derivative_rule]}
        if k != 1:
            mistakes["d tau / dn is k rate^n ln(rate): the factor k is missing"] = np.r_[reference[:2],
                                                                                          reference[2] / k]
        expect_close(got, reference, "(dL/dtau_y, dL/dk, dL/dn)", case=case, rtol=1e-5, atol=1e-7,
                     mistakes=mistakes)
    return f"{len(cases)} data sets, with rates of 0, against the exact gradient"


@register("03.k_fold_splits")
def check_k_fold_splits(k_fold_splits):
    """k_fold_splits(n, k, seed) returns k (train_idx, val_idx) pairs of a shuffled k-fold split."""
    seeds = seeded_rng(13).integers(0, 2**31, size=5).tolist()
    for (n, k), seed in zip([(10, 5), (23, 4), (7, 7), (50, 2), (101, 10)], seeds, strict=True):
        case = f"n = {n}, k = {k}"
        try:
            out = call(k_fold_splits, n, k, seed, name="k_fold_splits")
        except CheckFailed as err:
            if " raised " not in str(err):
                raise
            raise CheckFailed(f"{err} (for {case}: any k from 2 to n is allowed)") from None
        if not isinstance(out, list) or len(out) != k:
            got = f"a {type(out).__name__} of {len(out)}" if isinstance(out, (list, tuple)) else type(out).__name__
            raise CheckFailed(f"for {case}, k_fold_splits should return a list of {k} pairs "
                              f"(train_idx, val_idx), got {got}.")
        val_sets, sizes = [], []
        for i, pair in enumerate(out):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise CheckFailed(f"for {case}, fold {i} should be a pair (train_idx, val_idx).")
            train, val = (to_array(a, name) for a, name in zip(pair, ("train_idx", "val_idx"), strict=True))
            if train.ndim != 1 or val.ndim != 1 or not (np.issubdtype(train.dtype, np.integer)
                                                       and np.issubdtype(val.dtype, np.integer)):
                raise CheckFailed(f"for {case}, train_idx and val_idx should be 1-D arrays of integer row "
                                  f"indices (got dtypes {train.dtype} and {val.dtype}), not masks or floats.")
            if len(np.unique(val)) != len(val) or len(np.unique(train)) != len(train):
                raise CheckFailed(f"for {case}, fold {i} repeats a row index.")
            if not np.array_equal(np.sort(np.r_[train, val]), np.arange(n)):
                raise CheckFailed(f"for {case}, fold {i}: train_idx and val_idx together should hold every "
                                  f"row 0..{n - 1} exactly once (train is every row not in val).")
            val_sets.append(val)
            sizes.append(len(val))
        if sorted(sizes) != sorted(len(part) for part in np.array_split(np.arange(n), k)):
            raise CheckFailed(f"for {case}, the validation folds have sizes {sizes}: they should differ by at "
                              f"most one row (np.array_split cuts {n} rows into {k} such parts).")
        if not np.array_equal(np.sort(np.concatenate(val_sets)), np.arange(n)):
            raise CheckFailed(f"for {case}, every row should be in exactly one validation fold.")
        if n > 10 and any(np.array_equal(np.sort(v), np.arange(v.min(), v.max() + 1)) for v in val_sets):
            raise CheckFailed(f"for {case}, a validation fold is a block of consecutive rows: shuffle the "
                              "rows first with seeded_rng(seed).permutation(n).")
        again = call(k_fold_splits, n, k, seed, name="k_fold_splits")
        if not all(np.array_equal(to_array(a[1]), v) for a, v in zip(again, val_sets, strict=True)):
            raise CheckFailed("the same seed gave two different splits: draw the permutation from "
                              "np.random.default_rng(seed).")
        if n > 10:
            other = call(k_fold_splits, n, k, seed + 1, name="k_fold_splits")
            if all(np.array_equal(to_array(a[1]), v) for a, v in zip(other, val_sets, strict=True)):
                raise CheckFailed("a different seed gave the same split: use the seed argument.")
    return "five (n, k) pairs: a partition, balanced folds, shuffled, reproducible"


def _relu_network_reference(params, X, y, l2, act="relu", penalty_biases=False, two=True, slope_at_zero=0.0):
    W1, b1, w2, b2 = (np.asarray(params[k], dtype=float) for k in ("W1", "b1", "w2", "b2"))
    pre = X @ W1 + b1
    hidden = np.maximum(pre, 0) if act == "relu" else np.tanh(pre)
    if act == "relu":
        slope = np.where(pre > 0, 1.0, np.where(pre == 0, slope_at_zero, 0.0))
    else:
        slope = 1 - hidden**2
    delta = 2 * (hidden @ w2 + b2 - y) / len(y)
    G = np.outer(delta, w2) * slope
    f = 2 if two else 1
    grads = {"W1": X.T @ G + f * l2 * W1, "b1": G.sum(axis=0), "w2": hidden.T @ delta + f * l2 * w2,
             "b2": np.array(delta.sum())}
    if penalty_biases:
        grads["b1"] = grads["b1"] + 2 * l2 * b1
        grads["b2"] = grads["b2"] + 2 * l2 * b2
    return grads


@register("03.relu_network_gradients")
def check_relu_network_gradients(relu_network_gradients):
    """relu_network_gradients(params, X, y, l2) returns the gradients of the ReLU network's penalised MSE."""
    rng = seeded_rng(31)
    for m, d, h, l2 in [(6, 1, 3, 0.0), (9, 4, 7, 0.1), (5, 3, 2, 0.5), (12, 2, 5, 0.03)]:
        X, y = rng.normal(size=(m, d)), rng.normal(size=m)
        params = {"W1": rng.normal(size=(d, h)), "b1": rng.normal(0, 0.5, h),
                  "w2": rng.normal(size=h), "b2": float(rng.normal())}
        case = f"X of shape {(m, d)}, {h} hidden units, l2 = {l2:g}"
        zeros = d > 1  # a sample of zeros and units without bias: weighted sums of exactly 0
        if zeros:
            X[0] = 0.0
            params["b1"][:2] = 0.0
            case += ", some weighted sums exactly 0"
        reference = _relu_network_reference(params, X, y, l2)
        out = call(relu_network_gradients, params, X, y, l2, name="relu_network_gradients")
        if not isinstance(out, dict) or set(out) != {"W1", "b1", "w2", "b2"}:
            keys = sorted(out) if isinstance(out, dict) else type(out).__name__
            raise CheckFailed(f"relu_network_gradients should return a dict with the keys 'W1', 'b1', "
                              f"'w2', 'b2', got {keys}.")
        for name in ("W1", "b1", "w2", "b2"):
            got = to_array(out[name], f"the gradient {name}").astype(float)
            if got.shape != np.shape(reference[name]) and not (name == "b2" and got.size == 1):
                raise CheckFailed(f"for {case}, the gradient {name} should have the shape of {name}, "
                                  f"{np.shape(reference[name])}, got {got.shape}.")
            got = got.reshape(np.shape(reference[name]))
            wrong = {"use the ReLU's derivative (1 where the weighted sum is > 0, else 0), not tanh's":
                     _relu_network_reference(params, X, y, l2, act="tanh")[name],
                     "the penalty l2 * sum(w^2) has the gradient 2 * l2 * w (a factor 2 is missing)":
                     _relu_network_reference(params, X, y, l2, two=False)[name],
                     "the penalty is on the weights W1 and w2 only, not on the biases":
                     _relu_network_reference(params, X, y, l2, penalty_biases=True)[name],
                     "the penalty's gradient is missing": _relu_network_reference(params, X, y, 0.0)[name],
                     "use the mean over the samples, not the sum (the 1/m is missing)":
                     _relu_network_reference(params, X, y, l2)[name] * m,
                     "the ReLU's slope at exactly 0 is 0 here: the mask is (weighted sum > 0), not >= 0":
                     _relu_network_reference(params, X, y, l2, slope_at_zero=1.0)[name]}
            wrong = {hint: value for hint, value in wrong.items()
                     if not np.allclose(value, reference[name], rtol=1e-6, atol=1e-9)}
            expect_close(got, reference[name], f"the gradient {name}", case=case, rtol=1e-5, atol=1e-8,
                         mistakes=wrong)

        def loss(theta, X=X, y=y, l2=l2, params=params):  # an independent finite-difference test
            p, i = {}, 0
            for name in ("W1", "b1", "w2", "b2"):
                size = np.size(params[name])
                p[name] = theta[i:i + size].reshape(np.shape(params[name]))
                i += size
            out = np.maximum(X @ p["W1"] + p["b1"], 0) @ p["w2"] + p["b2"]
            return np.mean((out - y) ** 2) + l2 * (np.sum(p["W1"] ** 2) + np.sum(p["w2"] ** 2))

        if zeros:  # the loss has a kink at a weighted sum of 0: no finite difference there
            continue
        theta = np.concatenate([np.ravel(params[k]) for k in ("W1", "b1", "w2", "b2")])
        numeric = numerical_gradient(loss, theta)
        flat = np.concatenate([np.ravel(to_array(out[k]).astype(float)) for k in ("W1", "b1", "w2", "b2")])
        if not np.allclose(flat, numeric, rtol=1e-4, atol=1e-5):
            raise CheckFailed(f"for {case}, the gradients disagree with a finite-difference gradient of the "
                              "penalised loss.")
    return "four shapes and penalties, against the exact and a numerical gradient"
