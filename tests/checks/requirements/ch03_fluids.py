"""Requirement table of chapter 03, fitting a fluid with a neuron (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import time

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

# --------------------------------------------------------------------------- 03.fit_bingham


def fit(rate, stress, *, steps=300, lr=0.1, standardise=True, map_back=True, forget_offset=False, swap=False,
        closed_form=False, slow=False):
    """The solution's answer; the keywords make it break one requirement."""
    if slow:
        time.sleep(3)
    if closed_form:
        mu, tau = np.polyfit(rate, stress, 1)
        return tau, mu
    mean, std = (rate.mean(), rate.std()) if standardise else (0.0, 1.0)
    z = (rate - mean) / std
    w, b = 0.0, 0.0
    for _ in range(steps):
        error = w * z + b - stress
        w, b = w - lr * 2 * np.mean(error * z), b - lr * 2 * np.mean(error)
    if not map_back:
        out = (b, w)
    elif forget_offset:
        out = (b, w / std)
    else:
        out = (b - w * mean / std, w / std)
    return out[::-1] if swap else out


# --------------------------------------------------------------------------- 03.hb_gradient


def hb(rate, stress, tau_y, k, n, *, mean=True, factor=2.0, sign=1.0, power_rule=False, nan_at_zero=False,
       two_numbers=False):
    """The solution's answer; the keywords make it break one requirement."""
    power = rate**n
    if nan_at_zero:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = power * np.log(rate)
    elif power_rule:
        safe = np.where(rate > 0, rate, 1.0)
        log_term = n * safe ** (n - 1) * (rate > 0)
    else:
        log_term = power * np.log(np.where(rate > 0, rate, 1.0))
    error = sign * (tau_y + k * power - stress)
    m = len(rate) if mean else 1
    out = (factor * np.sum(error) / m, factor * np.sum(error * power) / m, factor * np.sum(error * k * log_term) / m)
    return out[:2] if two_numbers else out


# --------------------------------------------------------------------------- 03.early_stopping


def stopping(val_losses, patience, *, strict=True, reset=True, offset=0, from_one=False, as_floats=False,
             swapped=False, past_the_end=False):
    """The solution's answer written with a wait counter; the keywords make it break one requirement."""
    best, best_epoch, wait, stop = np.inf, 0, 0, None
    for epoch, loss in enumerate(val_losses):
        if (loss < best) if strict else (loss <= best):
            best, best_epoch = loss, epoch
            if reset:
                wait = 0
        else:
            wait += 1
            if wait >= patience + offset:
                stop = epoch
                break
    if stop is None:
        stop = len(val_losses) if past_the_end else len(val_losses) - 1
    out = (best_epoch + from_one, stop + from_one)
    if as_floats:
        out = (float(out[0]), float(out[1]))
    return out[::-1] if swapped else out


# --------------------------------------------------------------------------- 03.k_fold_splits


def folds(n, k, seed, *, shuffle=True, seed_used=True, unseeded=False, as_tuple=False, masks=False,
          overlapping=False, unbalanced=False, train_all=False, refuse_k_equal_n=False):
    """The solution's answer; the keywords make it break one requirement."""
    if refuse_k_equal_n and k == n:
        raise ValueError("k must be smaller than n")
    if unseeded:
        order = np.random.permutation(n)
    else:
        order = np.random.default_rng(seed if seed_used else 0).permutation(n) if shuffle else np.arange(n)
    if unbalanced:
        size = n // k
        parts = [order[i * size:(i + 1) * size] for i in range(k - 1)] + [order[(k - 1) * size:]]
    elif overlapping:
        parts = [np.array_split(np.random.default_rng([seed, i]).permutation(n), k)[i] for i in range(k)]
    else:
        parts = np.array_split(order, k)
    out = []
    for fold in parts:
        train = order if train_all else np.setdiff1d(order, fold)
        if masks:
            mask = np.zeros(n, dtype=bool)
            mask[fold] = True
            out.append((~mask, mask))
        else:
            out.append((train, fold))
    return tuple(out) if as_tuple else out


# --------------------------------------------------------------------------- 03.relu_network_gradients


def relu_grads(params, X, y, l2, *, act="relu", two=True, bias_penalty=False, mean=True, penalty=True,
               slope_at_zero=0.0, as_list=False):
    """The solution's answer; the keywords make it break one requirement."""
    pre = X @ params["W1"] + params["b1"]
    hidden = np.maximum(pre, 0) if act == "relu" else np.tanh(pre)
    if act == "relu":
        slope = np.where(pre > 0, 1.0, np.where(pre == 0, slope_at_zero, 0.0))
    else:
        slope = 1 - hidden**2
    delta = 2 * (hidden @ params["w2"] + params["b2"] - y) / (len(y) if mean else 1)
    G = np.outer(delta, params["w2"]) * slope
    f = (2 if two else 1) * l2 * penalty
    out = {"W1": X.T @ G + f * params["W1"], "b1": G.sum(axis=0), "w2": hidden.T @ delta + f * params["w2"],
           "b2": delta.sum()}
    if bias_penalty:
        out["b1"] = out["b1"] + 2 * l2 * params["b1"]
        out["b2"] = out["b2"] + 2 * l2 * params["b2"]
    return list(out.values()) if as_list else out


TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/03-fluids`", "where to read first"),
    ],
    "03.fit_bingham": [
        free("Write `fit_bingham(rate, stress)` that fits", "the signature every row calls"),
        requirement("by gradient descent on the mean squared error", lambda r, s: fit(r, s, closed_form=True),
                    r"by gradient descent"),
        requirement("returns `(tau_y, mu)`", lambda r, s: fit(r, s, swap=True), r"returned \(mu, tau_y\)"),
        requirement("in physical units", lambda r, s: fit(r, s, map_back=False), r"map them back"),
        requirement("Standardise the shear rate first", lambda r, s: fit(r, s, standardise=False, lr=0.01),
                    r"Standardise the shear rate first"),
        requirement("$\\tau_y = b' - w'm/s$", lambda r, s: fit(r, s, forget_offset=True), r"map them back"),
        requirement("within 2 %", lambda r, s: fit(r, s, steps=8), r"more than 2 % off"),
        requirement("in well under a second", lambda r, s: fit(r, s, slow=True), r"did not finish within"),
        free("It must recover the parameters of several fluids", "the rows of this clause hold its parts"),
    ],
    "03.hb_gradient": [
        free("Instead of a network, fit one Herschel-Bulkley fluid's three physical parameters directly",
             "what the gradient is for"),
        requirement("the model is $\\hat\\tau_i = \\tau_y + k\\,\\dot\\gamma_i^{\\,n}$",
                    lambda *a: hb(*a, power_rule=True), r"not k n rate\^\(n-1\)"),
        requirement("the loss $L = \\frac{1}{m}\\sum_i (\\hat\\tau_i - \\tau_i)^2$", lambda *a: hb(*a, mean=False),
                    r"mean over the samples"),
        requirement("the loss $L = \\frac{1}{m}", lambda *a: hb(*a, factor=1.0), r"factor 2 is missing"),
        requirement("$(\\partial L/\\partial\\tau_y,\\ \\partial L/\\partial k,\\ \\partial L/\\partial n)$",
                    lambda *a: hb(*a, sign=-1.0), r"wrong sign"),
        requirement("(values $\\ge 0$, zeros allowed)", lambda *a: hb(*a, nan_at_zero=True), r"at rate 0"),
        free("and `stress` and floats `tau_y`, `k`, `n`", "the inputs the check passes"),
        requirement("return the three numbers", lambda *a: hb(*a, two_numbers=True), r"three numbers"),
        free("as a tuple or an array of shape `(3,)`", "both accepted: the tests return a tuple and an array"),
        free("Hint: $\\frac{d}{dn}\\dot\\gamma^n", "a hint"),
    ],
    "03.early_stopping": [
        requirement("epochs are numbered from 0", lambda v, p: stopping(v, p, from_one=True), r"numbered from 0"),
        requirement("remember the epoch with the lowest loss so far", lambda v, p: stopping(v, p, reset=False),
                    r"reset the count"),
        requirement("a loss counts as an improvement only if it is strictly lower",
                    lambda v, p: stopping(v, p, strict=False), r"use <, not <="),
        requirement("stop at the first epoch that comes $p$ epochs after the best one",
                    lambda v, p: stopping(v, p, offset=1), r"not patience \+ 1"),
        free("Early stopping with patience $p$: go through the validation losses epoch by epoch",
             "the rule's parts are the rows of this clause"),
        requirement("returns `(best_epoch, stop_epoch)`", lambda v, p: stopping(v, p, swapped=True),
                    r"\(best_epoch, stop_epoch\), in that order"),
        requirement("Write `early_stopping(val_losses, patience)`", lambda v, p: stopping(v, p, as_floats=True),
                    r"return them as ints"),
        requirement("if the rule never fires, `stop_epoch` is the last epoch",
                    lambda v, p: stopping(v, p, past_the_end=True), r"stop_epoch is the last epoch"),
        free("For example, with losses", "an example"),
        free("epochs 3 and 4 do not improve", "an example"),
    ],
    "03.k_fold_splits": [
        free("With few data, one validation set is a noisy judge", "motivation"),
        free("k-fold cross-validation cuts the rows into $k$ folds", "what k-fold cross-validation is"),
        requirement("for $2 \\le k \\le n$", lambda n, k, s: folds(n, k, s, refuse_k_equal_n=True),
                    r"any k from 2 to n"),
        requirement("shuffles the row indices `0..n-1`", lambda n, k, s: folds(n, k, s, shuffle=False),
                    r"consecutive rows"),
        requirement("with `np.random.default_rng(seed)`", lambda n, k, s: folds(n, k, s, seed_used=False),
                    r"different seed gave the same split"),
        requirement("returns a list of `k` pairs `(train_idx, val_idx)`",
                    lambda n, k, s: folds(n, k, s, as_tuple=True), r"should return a list"),
        requirement("each a 1-D integer array of row indices", lambda n, k, s: folds(n, k, s, masks=True),
                    r"integer row indices"),
        requirement("every row is in exactly one `val_idx`", lambda n, k, s: folds(n, k, s, overlapping=True),
                    r"exactly one validation fold"),
        requirement("the fold sizes differ by at most one", lambda n, k, s: folds(n, k, s, unbalanced=True),
                    r"differ by at most one"),
        requirement("`train_idx` holds every row not in that fold's `val_idx`",
                    lambda n, k, s: folds(n, k, s, train_all=True), r"train is every row not in val"),
        requirement("The same seed gives the same folds", lambda n, k, s: folds(n, k, s, unseeded=True),
                    r"same seed gave two different splits"),
        free("The cell after the check uses your folds", "what follows"),
    ],
    "03.relu_network_gradients": [
        free("The lecture's network uses tanh hidden units", "what the lecture did"),
        requirement("with ReLU hidden units", lambda *a: relu_grads(*a, act="tanh"), r"not tanh's"),
        requirement("$$ L = \\frac{1}{m}\\sum_i (\\hat y_i - y_i)^2", lambda *a: relu_grads(*a, mean=False),
                    r"the 1/m is missing"),
        requirement("\\lambda\\Big(\\sum W_1^2 + \\sum \\mathbf{w}_2^2\\Big)",
                    lambda *a: relu_grads(*a, penalty=False), r"penalty's gradient is missing"),
        requirement("+ \\lambda\\Big(", lambda *a: relu_grads(*a, two=False), r"factor 2 is missing"),
        requirement("(the biases are not penalised)", lambda *a: relu_grads(*a, bias_penalty=True),
                    r"not on the biases"),
        free("`params` is a dict", "the input format the check passes"),
        requirement("Return a dict with the same keys and shapes", lambda *a: relu_grads(*a, as_list=True),
                    r"should return a dict"),
        requirement("take the ReLU's slope at exactly 0 as 0", lambda *a: relu_grads(*a, slope_at_zero=1.0),
                    r"slope at exactly 0"),
        free("Write `relu_network_gradients(params, X, y, l2)` for the same layout",
             "the signature every row calls"),
    ],
}
