"""Chapter 10 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

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


# --------------------------------------------------------------------------- spatial dropout


def spatial_reshape(x, p, training, rng, channels_last=False):
    x = np.asarray(x, dtype=float)
    if not training:
        return x
    n, c = x.shape[0], x.shape[-1] if channels_last else x.shape[1]
    keep = (rng.random((n, c)) >= p) / (1 - p)
    return x * keep.reshape((n, 1, 1, c) if channels_last else (n, c, 1, 1))


def spatial_loops(x, p, training, rng, channels_last=False):
    """Channel by channel in float32, moving the axis: different code, same function."""
    if not training:
        return x.copy()
    y = np.moveaxis(np.array(x, dtype=np.float32), -1, 1) if channels_last else np.array(x, np.float32)
    draws = rng.random((y.shape[0], y.shape[1]))
    for i in range(y.shape[0]):
        for c in range(y.shape[1]):
            y[i, c] = 0.0 if draws[i, c] < p else y[i, c] / np.float32(1 - p)
    return np.moveaxis(y, 1, -1) if channels_last else y


@pytest.mark.parametrize("answer", [spatial_reshape, spatial_loops])
def test_spatial_dropout_accepts(answer):
    assert check("10.spatial_dropout", answer)


def _spatial_wrong(kind):
    def answer(x, p, training, rng, channels_last=False):
        x = np.asarray(x, dtype=float)
        if not training:
            return x * (1 - p) if kind == "eval_scaled" else x
        n, c = x.shape[0], x.shape[-1] if channels_last else x.shape[1]
        if kind == "per_element":
            return np.where(rng.random(x.shape) >= p, x / (1 - p), 0.0)
        if kind == "wrong_axis":
            c = x.shape[1]
            keep = (rng.random((n, c)) >= p) / (1 - p)
            return x * keep.reshape(n, c, 1, 1)
        if kind == "same_mask":
            keep = np.broadcast_to((rng.random((1, c)) >= p) / (1 - p), (n, c))
        elif kind == "keep_prob":
            keep = (rng.random((n, c)) < p) / p
        elif kind == "no_scale":
            keep = (rng.random((n, c)) >= p).astype(float)
        else:
            keep = (rng.random((n, c)) >= p) / p
        return x * keep.reshape((n, 1, 1, c) if channels_last else (n, c, 1, 1))
    return answer


@pytest.mark.parametrize("kind,hint", [
    ("eval_scaled", "return x unchanged"),
    ("per_element", "whole channel"),
    ("wrong_axis", "wrong axis|channels are the last axis"),
    ("same_mask", "every sample drops the same channels"),
    ("keep_prob", "not of keeping it"),
    ("no_scale", "not rescaled"),
    ("by_p", "not by p"),
])
def test_spatial_dropout_rejects(kind, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("10.spatial_dropout", _spatial_wrong(kind))


def test_spatial_dropout_global_random_state_is_rejected():
    def answer(x, p, training, rng, channels_last=False):
        return spatial_reshape(x, p, training, np.random.default_rng(), channels_last)
    with pytest.raises(CheckFailed, match="rng"):
        check("10.spatial_dropout", answer)


# --------------------------------------------------------------------------- batch norm 2d backward


def bn2d_formula(x, gamma, grad_out, eps=1e-5):
    axes = (0, 2, 3)
    m = x.shape[0] * x.shape[2] * x.shape[3]
    sigma = np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    x_hat = (x - x.mean(axis=axes, keepdims=True)) / sigma
    d = gamma[None, :, None, None] * grad_out
    dx = (m * d - d.sum(axis=axes, keepdims=True) - x_hat * np.sum(d * x_hat, axis=axes, keepdims=True)) / (m * sigma)
    return dx, np.sum(grad_out * x_hat, axis=axes), grad_out.sum(axis=axes)


def bn2d_chain_rule(x, gamma, grad_out, eps=1e-5):
    """Step by step through mean and variance, on the (N*H*W, C) reshaped array."""
    n, c, h, w = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(-1, c)
    g = grad_out.transpose(0, 2, 3, 1).reshape(-1, c)
    m = len(flat)
    mu = flat.mean(axis=0)
    var = ((flat - mu) ** 2).mean(axis=0)
    inv = 1 / np.sqrt(var + eps)
    x_hat = (flat - mu) * inv
    dx_hat = g * gamma
    dvar = np.sum(dx_hat * (flat - mu), axis=0) * -0.5 * inv**3
    dmu = -np.sum(dx_hat * inv, axis=0) + dvar * np.mean(-2 * (flat - mu), axis=0)
    dflat = dx_hat * inv + dvar * 2 * (flat - mu) / m + dmu / m
    dx = dflat.reshape(n, h, w, c).transpose(0, 3, 1, 2)
    return dx, np.sum(g * x_hat, axis=0), g.sum(axis=0)


@pytest.mark.parametrize("answer", [bn2d_formula, bn2d_chain_rule])
def test_batchnorm2d_backward_accepts(answer):
    assert check("10.batchnorm2d_backward", answer)


def _bn2d_wrong(kind):
    def answer(x, gamma, grad_out, eps=1e-5):
        dx, dgamma, dbeta = bn2d_formula(x, gamma, grad_out, eps)
        axes = (0, 2, 3)
        sigma = np.sqrt(x.var(axis=axes, keepdims=True) + eps)
        if kind == "direct_only":
            dx = gamma[None, :, None, None] * grad_out / sigma
        elif kind == "dbeta_batch_only":
            dbeta = grad_out.sum(axis=0)
        elif kind == "dgamma_x":
            dgamma = np.sum(grad_out * x, axis=axes)
        elif kind == "no_gamma":
            dx = bn2d_formula(x, np.ones_like(gamma), grad_out, eps)[0]
        return dx, dgamma, dbeta
    return answer


@pytest.mark.parametrize("kind,hint", [
    ("direct_only", "only the direct path"),
    ("dbeta_batch_only", "dbeta sums grad_out over the batch and the pixels"),
    ("dgamma_x", "not of grad_out \\* x"),
    ("no_gamma", "gamma is missing"),
])
def test_batchnorm2d_backward_rejects(kind, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("10.batchnorm2d_backward", _bn2d_wrong(kind))


def test_batchnorm2d_backward_needs_a_triple():
    with pytest.raises(CheckFailed, match="triple"):
        check("10.batchnorm2d_backward", lambda x, gamma, grad_out, eps=1e-5: bn2d_formula(x, gamma, grad_out)[:2])


# --------------------------------------------------------------------------- parameter groups

torch = pytest.importorskip("torch")


def groups_by_ndim(model, weight_decay):
    params = list(model.parameters())
    return [{"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]


def groups_by_module(model, weight_decay):
    """By module type, the decayed parameters as an iterator: another way to the same split."""
    decayed, rest = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            linear = isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)) and name == "weight"
            (decayed if linear else rest).append(p)
    return [{"params": iter(decayed), "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0}]


@pytest.mark.parametrize("answer", [groups_by_ndim, groups_by_module])
def test_decay_param_groups_accepts(answer):
    assert check("10.decay_param_groups", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda model, wd: [{"params": list(model.parameters()), "weight_decay": wd},
                        {"params": [], "weight_decay": 0.0}], "is a bias"),
    (lambda model, wd: [{"params": [p for n, p in model.named_parameters() if not n.endswith("bias")],
                         "weight_decay": wd},
                        {"params": [p for n, p in model.named_parameters() if n.endswith("bias")],
                         "weight_decay": 0.0}], "normalisation scale"),
    (lambda model, wd: [{"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": wd},
                        {"params": [p for n, p in model.named_parameters() if n.endswith("bias")],
                         "weight_decay": 0.0}], "in no group"),
    (lambda model, wd: [{"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": wd},
                        {"params": list(model.parameters()), "weight_decay": 0.0}], "both groups"),
    (lambda model, wd: [{"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": 0.01},
                        {"params": [p for p in model.parameters() if p.ndim <= 1], "weight_decay": 0.0}],
     "the value given"),
    (lambda model, wd: {"params": list(model.parameters()), "weight_decay": wd}, "list of dicts"),
])
def test_decay_param_groups_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("10.decay_param_groups", answer)



@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("10")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
