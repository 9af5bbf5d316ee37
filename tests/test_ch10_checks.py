"""Chapter 10 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check

# --------------------------------------------------------------------------- l2_penalty


def l2_dict(params, lam):
    penalty = sum(0.5 * lam * np.sum(v**2) for k, v in params.items() if k.startswith("W"))
    grads = {k: (lam * v if k.startswith("W") else np.zeros_like(v)) for k, v in params.items()}
    return penalty, grads


def l2_loops(params, lam):
    """Element by element, in float32: different code, same numbers."""
    penalty, grads = np.float32(0.0), {}
    for key, value in params.items():
        value = np.asarray(value, dtype=np.float32)
        grads[key] = np.zeros_like(value)
        if key[0] == "W":
            for idx in np.ndindex(value.shape):
                penalty += np.float32(lam) * value[idx] * value[idx] / 2
                grads[key][idx] = lam * value[idx]
    return penalty, grads


@pytest.mark.parametrize("answer", [l2_dict, l2_loops])
def test_l2_penalty_accepts(answer):
    assert check("10.l2_penalty", answer)


def _l2(penalty_factor=0.5, grad_factor=1.0, biases=False, only_last=False, l1=False):
    def answer(params, lam):
        keys = [k for k in params if biases or k.startswith("W")]
        if only_last:
            keys = [k for k in keys if k.startswith("W")][-1:]
        size = np.abs if l1 else np.square
        penalty = sum(penalty_factor * lam * np.sum(size(params[k])) for k in keys)
        grads = {k: (grad_factor * lam * params[k] if k in keys else np.zeros_like(params[k])) for k in params}
        return penalty, grads
    return answer


@pytest.mark.parametrize("answer,hint", [
    (_l2(penalty_factor=1.0, grad_factor=2.0), "factor 1/2 is missing"),
    (_l2(grad_factor=2.0), "not 2 \\* lam \\* w"),
    (_l2(grad_factor=0.5), "not lam \\* w / 2"),
    (_l2(biases=True), "biases are not penalised"),
    (_l2(only_last=True), "not only the last one"),
    (_l2(l1=True), "L1 penalty"),
    (lambda params, lam: (_l2()(params, lam)[0], {k: v for k, v in _l2()(params, lam)[1].items() if k[0] == "W"}),
     "no entry for 'b1'"),
    (lambda params, lam: 0.0, "pair"),
])
def test_l2_penalty_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("10.l2_penalty", answer)


def test_l2_penalty_in_place_is_caught():
    def in_place(params, lam):
        penalty, grads = l2_dict(params, lam)
        for key in params:
            params[key] = params[key] * 0       # changes the caller's dict
        return penalty, grads

    with pytest.raises(CheckFailed, match="in place"):
        check("10.l2_penalty", in_place)


# --------------------------------------------------------------------------- dropout


def dropout_where(x, p, training, rng):
    if not training:
        return x
    return np.where(rng.random(np.shape(x)) < p, 0.0, x / (1 - p))


def dropout_binomial(x, p, training, rng):
    """A Bernoulli mask from rng.binomial, in float32."""
    if not training:
        return np.array(x, copy=True)
    mask = rng.binomial(1, 1 - p, size=np.shape(x)).astype(np.float32)
    return (np.asarray(x, dtype=np.float32) * mask / np.float32(1 - p))


@pytest.mark.parametrize("answer", [dropout_where, dropout_binomial])
def test_dropout_accepts(answer):
    assert check("10.dropout_forward", answer)


def _bad_dropout(kind):
    def answer(x, p, training, rng):
        if kind == "eval drops" or training:
            keep = rng.random(np.shape(x)) >= (1 - p if kind == "keep" else p)
            if kind == "rows":
                keep = np.repeat(rng.random((np.shape(x)[0], 1)) >= p, np.shape(x)[1], axis=1)
            if kind == "cols":
                keep = np.repeat(rng.random((1, np.shape(x)[1])) >= p, np.shape(x)[0], axis=0)
            scale = {"no rescale": 1.0, "by p": 1 / p}.get(kind, 1 / (1 - p))
            return np.where(keep, x * scale, 0.0)
        if kind == "eval scales":
            return x * (1 - p)
        return x
    return answer


@pytest.mark.parametrize("kind,hint", [
    ("no rescale", "not rescaled"),
    ("eval drops", "must not drop anything"),
    ("eval scales", "does not scale"),
    ("keep", "probability of dropping"),
    ("by p", "not by p"),
    ("rows", "whole samples"),
    ("cols", "same mask"),
])
def test_dropout_rejects(kind, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("10.dropout_forward", _bad_dropout(kind))


def test_dropout_global_random_state_is_rejected():
    def global_rng(x, p, training, rng):
        return dropout_where(x, p, training, np.random.default_rng()) if training else x

    with pytest.raises(CheckFailed, match="from the `rng` argument"):
        check("10.dropout_forward", global_rng)


# --------------------------------------------------------------------------- batch norm


def bn_torch_style(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    if training:
        mean, var = x.mean(0), x.var(0)
        unbiased = x.var(0, ddof=1)
        return (gamma * (x - mean) / np.sqrt(var + eps) + beta,
                running_mean + momentum * (mean - running_mean),
                running_var + momentum * (unbiased - running_var))
    return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta, running_mean.copy(), running_var.copy()


def bn_loops(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Feature by feature with explicit loops."""
    n, d = x.shape
    out = np.empty_like(x, dtype=float)
    new_mean, new_var = np.array(running_mean, dtype=float), np.array(running_var, dtype=float)
    for j in range(d):
        column = [float(v) for v in x[:, j]]
        if training:
            mu = sum(column) / n
            ss = sum((v - mu) ** 2 for v in column)
            var = ss / n
            new_mean[j] = (1 - momentum) * running_mean[j] + momentum * mu
            new_var[j] = (1 - momentum) * running_var[j] + momentum * ss / (n - 1)
        else:
            mu, var = running_mean[j], running_var[j]
        for i in range(n):
            out[i, j] = gamma[j] * (column[i] - mu) / (var + eps) ** 0.5 + beta[j]
    return out, new_mean, new_var


@pytest.mark.parametrize("answer", [bn_torch_style, bn_loops])
def test_batchnorm_accepts(answer):
    assert check("10.batchnorm_forward", answer)


def _bad_bn(kind):
    def answer(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        axis = 1 if kind == "axis" else 0
        mean, var = x.mean(axis, keepdims=True), x.var(axis, keepdims=True)
        if kind == "unbiased norm":
            var = x.var(0, ddof=1, keepdims=True)
        running_batch_var = x.var(0) if kind == "biased running" else x.var(0, ddof=1)
        m = momentum
        new_mean = (1 - m) * running_mean + m * x.mean(0)
        new_var = (1 - m) * running_var + m * running_batch_var
        if kind == "momentum":
            new_mean = m * running_mean + (1 - m) * x.mean(0)
            new_var = m * running_var + (1 - m) * x.var(0, ddof=1)
        if not training:
            if kind != "batch stats in eval":
                mean, var = running_mean, running_var
            if kind != "update in eval":
                new_mean, new_var = running_mean, running_var
        if kind == "eps outside":
            return gamma * (x - mean) / (np.sqrt(var) + eps) + beta, new_mean, new_var
        if kind == "no gamma":
            return (x - mean) / np.sqrt(var + eps), new_mean, new_var
        return gamma * (x - mean) / np.sqrt(var + eps) + beta, new_mean, new_var
    return answer


@pytest.mark.parametrize("kind,hint", [
    ("batch stats in eval", "evaluation mode normalise with the running statistics"),
    ("axis", "axis=0"),
    ("unbiased norm", "biased batch variance"),
    ("biased running", "unbiased batch variance"),
    ("momentum", "weight of the new batch"),
    ("update in eval", "must not update the running statistics"),
    ("eps outside", "inside the square root"),
    ("no gamma", "gamma and beta are missing"),
])
def test_batchnorm_rejects(kind, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("10.batchnorm_forward", _bad_bn(kind))


def test_batchnorm_in_place_update_is_caught():
    def in_place(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        out, new_mean, new_var = bn_torch_style(x, gamma, beta, running_mean, running_var, training, momentum, eps)
        running_mean[:] = new_mean
        return out, running_mean, new_var

    with pytest.raises(CheckFailed, match="argument number 4 in place"):
        check("10.batchnorm_forward", in_place)


# --------------------------------------------------------------------------- random search


def search_loop(objective, space, n_trials, rng):
    best = (None, np.inf)
    for _ in range(n_trials):
        params = {}
        for name, (low, high, scale) in space.items():
            params[name] = 10 ** rng.uniform(np.log10(low), np.log10(high)) if scale == "log" \
                else rng.uniform(low, high)
        score = objective(params)
        if score < best[1]:
            best = (params, score)
    return best


def search_all_then_pick(objective, space, n_trials, rng):
    """Draw every trial first, score them all, then pick with argmin."""
    def draw(lo, hi, kind):
        if kind == "log":
            return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        return float(lo + (hi - lo) * rng.random())

    trials = [{name: draw(*bounds) for name, bounds in space.items()} for _ in range(n_trials)]
    scores = [objective(t) for t in trials]
    i = int(np.argmin(scores))
    return trials[i], scores[i]


@pytest.mark.parametrize("answer", [search_loop, search_all_then_pick])
def test_random_search_accepts(answer):
    assert check("10.random_search", answer)


def _bad_search(kind):
    def answer(objective, space, n_trials, rng):
        results = []
        for _ in range(n_trials - (1 if kind == "count" else 0)):
            params = {}
            for name, (low, high, scale) in space.items():
                if scale == "log" and kind == "linear":
                    params[name] = rng.uniform(low, high)
                elif scale == "log" and kind == "exponents":
                    params[name] = rng.uniform(np.log10(low), np.log10(high))
                elif scale == "log" and kind == "power of bounds":
                    params[name] = 10 ** rng.uniform(low, high)
                elif scale == "log":
                    params[name] = 10 ** rng.uniform(np.log10(low), np.log10(high))
                else:
                    params[name] = rng.uniform(low, high)
            results.append((objective(params), params))
        if kind == "max":
            score, params = max(results, key=lambda r: r[0])
        elif kind == "last":
            score, params = results[-1]
        else:
            score, params = min(results, key=lambda r: r[0])
        return params, score
    return answer


@pytest.mark.parametrize("kind,hint", [
    ("max", "should minimise"),
    ("last", "last trial"),
    ("linear", "linear scale"),
    ("exponents", "not exponents"),
    ("power of bounds", "raise 10 to a value drawn between low and high"),
    ("count", "once per trial"),
])
def test_random_search_rejects(kind, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("10.random_search", _bad_search(kind))


def test_random_search_mismatched_best():
    def mismatched(objective, space, n_trials, rng):
        params, score = search_loop(objective, space, n_trials, rng)
        return {name: value * 1.5 for name, value in params.items()}, score

    with pytest.raises(CheckFailed, match="not the parameters of the trial"):
        check("10.random_search", mismatched)
