"""Checks for chapter 10, regularisation."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import CheckFailed, call, expect_close, expect_pair, finite, register, to_array

# --------------------------------------------------------------------------- L2 penalty


def _params(seed):
    rng = np.random.default_rng(seed)
    shapes = {"W1": (3, 5), "b1": (5,), "W2": (5, 4), "b2": (4,), "W3": (4, 1), "b3": (1,)}
    return {name: rng.normal(0.0, 1.5, size=shape) for name, shape in shapes.items()}


def _split_penalty(result, name):
    penalty, grads = expect_pair(result, name, "(penalty, grads)")
    penalty = to_array(penalty, "the penalty")
    if penalty.size != 1:
        raise CheckFailed(f"the penalty should be one number (a sum over all weights), not an array of shape "
                          f"{penalty.shape}.")
    if not isinstance(grads, dict):
        raise CheckFailed(f"grads should be a dict with the same keys as params, not a {type(grads).__name__}.")
    return float(penalty.reshape(-1)[0]), grads


@register("10.l2_penalty")
def check_l2_penalty(l2_penalty):
    """l2_penalty(params, lam) returns (lam/2 sum ||W||^2, grads) with biases excluded."""
    for trial, lam in enumerate([0.1, 0.03, 1.0]):
        params = _params(trial)
        weights = [v for k, v in params.items() if k.startswith("W")]
        given = {key: value.copy() for key, value in params.items()}
        result = call(l2_penalty, given, lam, name="l2_penalty")
        if set(given) != set(params) or any(not np.array_equal(given[k], params[k]) for k in params):
            raise CheckFailed("l2_penalty changed `params` in place: compute the penalty and the gradients "
                              "without assigning to params or its arrays.")
        penalty, grads = _split_penalty(result, "l2_penalty")
        squares = sum(float(np.sum(w * w)) for w in weights)
        all_squares = sum(float(np.sum(v * v)) for v in params.values())
        case = f"three layers and lam={lam}"
        expect_close(penalty, 0.5 * lam * squares, "the penalty", case=case,
                     mistakes={"the factor 1/2 is missing: the penalty is (lam / 2) * sum of squares": lam * squares,
                               "biases are not penalised: sum over the weight matrices (keys starting "
                               "with 'W') only": 0.5 * lam * all_squares,
                               "sum the squares of every weight matrix, not only the last one":
                               0.5 * lam * float(np.sum(weights[-1] ** 2)),
                               "sum the squares of every weight matrix, not only the first one":
                               0.5 * lam * float(np.sum(weights[0] ** 2)),
                               "that is an L1 penalty: square the weights":
                               0.5 * lam * sum(float(np.sum(np.abs(w))) for w in weights),
                               "the penalty should not be divided by the number of weights":
                               0.5 * lam * squares / sum(w.size for w in weights)})
        missing = [k for k in params if k not in grads]
        if missing:
            raise CheckFailed(f"grads has no entry for {missing[0]!r}: give every parameter a gradient "
                              "(an array of zeros for a bias).")
        for key, value in params.items():
            if key.startswith("W"):
                expect_close(grads[key], lam * value, f"grads[{key!r}]", case=case,
                             mistakes={"the gradient of (lam / 2) * w**2 is lam * w, not 2 * lam * w":
                                       2 * lam * value,
                                       "the gradient of (lam / 2) * w**2 is lam * w, not lam * w / 2":
                                       0.5 * lam * value,
                                       "that is the gradient of an L1 penalty": lam * np.sign(value)})
            else:
                expect_close(grads[key], np.zeros_like(value), f"grads[{key!r}]", case=case,
                             mistakes={"biases are not penalised: their gradient is zero": lam * value,
                                       "biases are not penalised (and the gradient of (lam / 2) b**2 "
                                       "would be lam * b anyway)": 2 * lam * value})
    return "penalty and gradients for three networks"


# --------------------------------------------------------------------------- dropout


def _dropout(dropout_forward, x, p, training, seed):
    return call(dropout_forward, x, p, training, rng=np.random.default_rng(seed), name="dropout_forward")


@register("10.dropout_forward")
def check_dropout_forward(dropout_forward):
    """dropout_forward(x, p, training, rng): inverted dropout in training, identity in evaluation."""
    p = 0.3
    x = np.random.default_rng(0).normal(size=(40, 25))
    out = to_array(_dropout(dropout_forward, x, p, False, seed=1), "dropout_forward(x, p, training=False, rng)")
    if out.shape == x.shape and not np.allclose(out, x):
        zeros = np.mean(out == 0)
        if zeros > 0.1:
            raise CheckFailed("in evaluation mode (training=False) dropout must not drop anything: return x "
                              "unchanged.")
    expect_close(out, x, "dropout_forward(x, p, training=False, rng)", case="evaluation mode",
                 mistakes={"in evaluation mode inverted dropout does not scale: return x unchanged":
                           x * (1 - p),
                           "in evaluation mode inverted dropout does not scale (the rescaling by 1/(1-p) "
                           "happens in training): return x unchanged": x / (1 - p)})

    ones = np.ones((400, 250))
    for p in (0.3, 0.6):
        out = to_array(_dropout(dropout_forward, ones, p, True, seed=2), "dropout_forward(x, p, training=True, rng)")
        if out.shape != ones.shape:
            raise CheckFailed(f"dropout_forward(x, p, training=True, rng) has shape {out.shape}, expected the shape "
                              f"of x, {ones.shape}.")
        if not np.all(np.isfinite(out)):
            raise CheckFailed("dropout_forward returned NaN or inf in training mode.")
        zeros = float(np.mean(out == 0))
        case = f"p={p} on an array of ones"
        if abs(zeros - (1 - p)) < 0.02 and abs(p - 0.5) > 0.05:
            raise CheckFailed(f"for {case}, {zeros:.1%} of the values are zero: p is the probability of "
                              "dropping a value, not of keeping it.")
        if abs(zeros - p) > 0.02:
            raise CheckFailed(f"for {case}, {zeros:.1%} of the values are zero; about {p:.0%} should be.")
        kept = out[out != 0]
        values = np.unique(np.round(kept, 6))
        if values.size != 1:
            raise CheckFailed(f"for {case}, the kept values are not all equal: every kept value should be "
                              "x / (1 - p).")
        value = float(values[0])
        for hint, wrong in {"the kept values are not rescaled: divide them by 1 - p so that the mean "
                            "stays the same": 1.0,
                            "divide the kept values by 1 - p (the keep probability), not by p": 1 / p,
                            "divide the kept values by 1 - p, do not multiply": 1 - p}.items():
            if np.isclose(value, wrong) and not np.isclose(value, 1 / (1 - p)):
                raise CheckFailed(f"for {case}: {hint}")
        if not np.isclose(value, 1 / (1 - p)):
            raise CheckFailed(f"for {case}, the kept values are {value:.4g}; they should be 1 / (1 - p).")
        rows = (out == 0).mean(axis=1)
        if np.all((rows == 0) | (rows == 1)):
            raise CheckFailed("whole samples are dropped at once: draw one random number per entry, "
                              "rng.random(x.shape).")
        cols = (out == 0).mean(axis=0)
        if np.all((cols == 0) | (cols == 1)):
            raise CheckFailed("every sample gets the same mask (whole features are dropped): draw one random "
                              "number per entry, rng.random(x.shape).")

    x = np.random.default_rng(3).normal(size=(30, 20))
    first = to_array(_dropout(dropout_forward, x, 0.5, True, seed=4), "dropout_forward")
    again = to_array(_dropout(dropout_forward, x, 0.5, True, seed=4), "dropout_forward")
    other = to_array(_dropout(dropout_forward, x, 0.5, True, seed=5), "dropout_forward")
    if not np.array_equal(first, again):
        raise CheckFailed("two calls with generators seeded alike dropped different values: draw the mask "
                          "from the `rng` argument, not from np.random.")
    if np.array_equal(first, other):
        raise CheckFailed("two different generators gave the same mask: is the mask drawn from `rng`?")
    expect_close(first, np.where(first != 0, x / 0.5, 0.0), "dropout_forward(x, 0.5, True, rng)",
                 case="random inputs: every value must be 0 or x / (1 - p)")
    return "evaluation, drop rate, rescaling, independent masks and the generator"


# --------------------------------------------------------------------------- batch norm


def _bn_reference(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    """Batch norm written with explicit sums over the batch axis."""
    m = x.shape[0]
    if training:
        mu = np.sum(x, axis=0) / m
        squared = np.sum((x - mu) ** 2, axis=0)
        scale = squared / m
        new_mean = momentum * mu + (1 - momentum) * running_mean
        new_var = momentum * squared / (m - 1) + (1 - momentum) * running_var
    else:
        mu, scale = running_mean, running_var
        new_mean, new_var = running_mean, running_var
    return beta + gamma * (x - mu) / np.sqrt(scale + eps), new_mean, new_var


def _bn_case(seed, m=16, d=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, d)) * np.array([2.0, 0.5, 5.0, 0.01, 1.0])[:d] + rng.normal(0, 3, size=d)
    gamma, beta = rng.uniform(0.5, 2.0, d), rng.normal(size=d)
    running_mean, running_var = rng.normal(size=d), rng.uniform(0.5, 2.0, d)
    return x, gamma, beta, running_mean, running_var


def _split_bn(result):
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise CheckFailed("batchnorm_forward should return the triple (out, new_running_mean, new_running_var).")
    return result


@register("10.batchnorm_forward")
def check_batchnorm_forward(batchnorm_forward):
    """batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps) like BatchNorm1d."""
    for trial, (momentum, eps) in enumerate([(0.1, 1e-5), (0.25, 1e-3)]):
        x, gamma, beta, r_mean, r_var = _bn_case(trial)
        m = x.shape[0]
        out, new_mean, new_var = _split_bn(call(batchnorm_forward, x, gamma, beta, r_mean, r_var, True,
                                                momentum, eps, name="batchnorm_forward"))
        ref_out, ref_mean, ref_var = _bn_reference(x, gamma, beta, r_mean, r_var, True, momentum, eps)
        mu, var = x.mean(axis=0), x.var(axis=0)
        mu1, var1 = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
        case = f"training mode, momentum={momentum}, eps={eps}"
        expect_close(out, ref_out, "out", case=case, mistakes={
            "in training, normalise with the batch statistics, not the running ones":
            gamma * (x - r_mean) / np.sqrt(r_var + eps) + beta,
            "the statistics are per feature, over the batch axis (axis=0)":
            gamma * (x - mu1) / np.sqrt(var1 + eps) + beta,
            "normalise with the biased batch variance (divide by the batch size), as PyTorch does":
            gamma * (x - mu) / np.sqrt(var * m / (m - 1) + eps) + beta,
            "eps goes inside the square root: sqrt(var + eps)": gamma * (x - mu) / (np.sqrt(var) + eps) + beta,
            "gamma and beta are missing: out = gamma * x_hat + beta": (x - mu) / np.sqrt(var + eps),
            "gamma scales and beta shifts: out = gamma * x_hat + beta, not beta * x_hat + gamma":
            beta * (x - mu) / np.sqrt(var + eps) + gamma})
        expect_close(new_mean, ref_mean, "new_running_mean", case=case, mistakes={
            "momentum is the weight of the new batch: new = (1 - momentum) * old + momentum * batch":
            momentum * r_mean + (1 - momentum) * mu,
            "update the running mean in training mode": r_mean,
            "the running mean is a moving average of the old value and the batch mean, not the batch mean": mu})
        expect_close(new_var, ref_var, "new_running_var", case=case, mistakes={
            "the running variance uses the unbiased batch variance (divide by batch size - 1), as PyTorch does":
            (1 - momentum) * r_var + momentum * var,
            "momentum is the weight of the new batch: new = (1 - momentum) * old + momentum * batch":
            momentum * r_var + (1 - momentum) * var * m / (m - 1),
            "update the running variance in training mode": r_var})

        x_eval = _bn_case(10 + trial, m=7)[0]
        out, new_mean, new_var = _split_bn(call(batchnorm_forward, x_eval, gamma, beta, r_mean, r_var, False,
                                                momentum, eps, name="batchnorm_forward"))
        ref_out, _, _ = _bn_reference(x_eval, gamma, beta, r_mean, r_var, False, momentum, eps)
        mu_e, var_e = x_eval.mean(axis=0), x_eval.var(axis=0)
        case = f"evaluation mode, eps={eps}"
        expect_close(out, ref_out, "out", case=case, mistakes={
            "in evaluation mode normalise with the running statistics, not the batch's":
            gamma * (x_eval - mu_e) / np.sqrt(var_e + eps) + beta,
            "eps goes inside the square root: sqrt(running_var + eps)":
            gamma * (x_eval - r_mean) / (np.sqrt(r_var) + eps) + beta})
        expect_close(new_mean, r_mean, "new_running_mean", case=case,
                     mistakes={"evaluation must not update the running statistics: return them unchanged":
                               (1 - momentum) * r_mean + momentum * mu_e})
        expect_close(new_var, r_var, "new_running_var", case=case,
                     mistakes={"evaluation must not update the running statistics: return them unchanged":
                               (1 - momentum) * r_var + momentum * x_eval.var(axis=0, ddof=1)})

    x, gamma, beta, r_mean, r_var = _bn_case(5, m=64, d=3)
    out = to_array(_split_bn(call(batchnorm_forward, x, np.ones(3), np.zeros(3), r_mean, r_var, True,
                                  name="batchnorm_forward"))[0], "out")
    if out.shape == x.shape and not (np.allclose(out.mean(axis=0), 0, atol=1e-6)
                                     and np.allclose(out.var(axis=0), 1, atol=1e-2)):
        raise CheckFailed("with gamma = 1, beta = 0 and the default momentum and eps, every feature of out "
                          "should have mean 0 and variance 1 in training mode.")
    return "training and evaluation mode, outputs and running statistics"


# --------------------------------------------------------------------------- random search


class _Recorder:
    """An objective that records the parameters it was called with."""

    def __init__(self):
        self.calls = []

    def __call__(self, params):
        self.calls.append(dict(params))
        return _score(params)


def _score(params):
    lr, rate = float(params["lr"]), float(params["rate"])
    return (np.log10(lr) + 2.5) ** 2 + 4 * (rate - 0.3) ** 2


SPACE = {"lr": (1e-5, 1e-1, "log"), "rate": (0.0, 0.8, "linear")}


def _search(random_search, n_trials, seed):
    objective = _Recorder()
    result = call(random_search, objective=objective, space=dict(SPACE), n_trials=n_trials,
                  rng=np.random.default_rng(seed), name="random_search")
    return objective, expect_pair(result, "random_search", "(best_params, best_score)")


@register("10.random_search")
def check_random_search(random_search):
    """random_search(objective, space, n_trials, rng) minimises over random draws (log-uniform or uniform)."""
    n_trials = 400
    objective, (best_params, best_score) = _search(random_search, n_trials, seed=0)
    if len(objective.calls) != n_trials:
        raise CheckFailed(f"random_search called the objective {len(objective.calls)} times for n_trials="
                          f"{n_trials}: call it once per trial.")
    for params in objective.calls:
        if not isinstance(params, dict) or set(params) != set(SPACE):
            raise CheckFailed(f"the objective should get a dict with one value per hyperparameter, "
                              f"{sorted(SPACE)}, not {params!r}.")
    lrs = np.array([float(c["lr"]) for c in objective.calls])
    rates = np.array([float(c["rate"]) for c in objective.calls])
    if np.all((lrs >= -5 - 1e-9) & (lrs <= -1 + 1e-9)):
        raise CheckFailed("the values of the log-scale hyperparameter lie between -5 and -1: the bounds are "
                          "the values 1e-5 and 1e-1, not exponents. Draw log(value) uniformly between "
                          "log(low) and log(high), then exponentiate.")
    if np.all((lrs >= 1.0) & (lrs <= 10 ** 0.1 + 1e-9)):
        raise CheckFailed("the values of the log-scale hyperparameter lie between 1 and 10**0.1: did you raise "
                          "10 to a value drawn between low and high? Draw the exponent between log10(low) "
                          "and log10(high).")
    if lrs.min() < 1e-5 * (1 - 1e-9) or lrs.max() > 1e-1 * (1 + 1e-9):
        raise CheckFailed("some values of the log-scale hyperparameter fall outside [low, high].")
    if rates.min() < 0 or rates.max() > 0.8:
        raise CheckFailed("some values of the linear-scale hyperparameter fall outside [low, high].")
    below_middle = float(np.mean(lrs < 1e-3))
    if below_middle < 0.1:
        raise CheckFailed(f"only {below_middle:.0%} of the log-scale values are below 1e-3, the geometric middle "
                          "of [1e-5, 1e-1]: they are drawn uniformly on a linear scale. Draw the logarithm "
                          "uniformly instead.")
    if abs(below_middle - 0.5) > 0.1:
        raise CheckFailed(f"{below_middle:.0%} of the log-scale values are below 1e-3, the geometric middle of "
                          "[1e-5, 1e-1]; about half should be (log-uniform).")
    if abs(float(np.mean(rates < 0.4)) - 0.5) > 0.1:
        raise CheckFailed("the linear-scale values are not uniform on [low, high]: draw them with "
                          "rng.uniform(low, high).")
    scores = np.array([_score(c) for c in objective.calls])
    if not finite(best_score):
        raise CheckFailed("best_score should be a finite number.")
    best_score = float(to_array(best_score, "best_score").reshape(-1)[0])
    if np.isclose(best_score, scores.max()) and not np.isclose(best_score, scores.min()):
        raise CheckFailed("best_score is the highest score of all trials: the search should minimise.")
    if np.isclose(best_score, scores[-1]) and not np.isclose(best_score, scores.min()):
        raise CheckFailed("best_score is the score of the last trial: keep the best one seen so far.")
    expect_close(best_score, scores.min(), "best_score", case=f"{n_trials} trials")
    if not isinstance(best_params, dict):
        raise CheckFailed("best_params should be the dict of hyperparameters of the best trial.")
    index = int(np.argmin(scores))
    for name in SPACE:
        if name not in best_params or not np.isclose(float(best_params[name]), float(objective.calls[index][name])):
            raise CheckFailed("best_params are not the parameters of the trial with the best score.")
    again, _ = _search(random_search, 20, seed=0)
    same, _ = _search(random_search, 20, seed=0)
    other, _ = _search(random_search, 20, seed=1)
    if again.calls != same.calls:
        raise CheckFailed("two searches with generators seeded alike tried different values: draw them from "
                          "the `rng` argument, not from np.random.")
    if again.calls == other.calls:
        raise CheckFailed("two different generators gave the same trials: are the values drawn from `rng`?")
    return "trials, bounds, log and linear scales, the best trial and the generator"
