"""Checks for chapter 10, regularisation."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    expect_pair,
    finite,
    numerical_gradient,
    register,
    seeded_global_random,
    seeded_rng,
    to_array,
)
from course_utils.frameworks import require_framework

# --------------------------------------------------------------------------- L2 penalty


def _params(seed, row_biases=False):
    """A network's parameters; with row_biases the biases are (1, n) rows, so that only their names,
    not their number of dimensions, tell them from the weights."""
    rng = seeded_rng(seed)
    shapes = {"W1": (3, 5), "b1": (5,), "W2": (5, 4), "b2": (4,), "W3": (4, 1), "b3": (1,)}
    if row_biases:
        shapes = {name: (1,) + shape if name.startswith("b") else shape for name, shape in shapes.items()}
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
    for trial, lam in enumerate([0.1, 0.03, 1.0, 0.2]):
        params = _params(trial, row_biases=trial == 3)
        weights = [v for k, v in params.items() if k.startswith("W")]
        given = {key: value.copy() for key, value in params.items()}
        result = call(l2_penalty, given, lam, name="l2_penalty")
        if set(given) != set(params) or any(not np.array_equal(given[k], params[k]) for k in params):
            raise CheckFailed("l2_penalty changed `params` in place: compute the penalty and the gradients "
                              "without assigning to params or its arrays.")
        if isinstance(result, (tuple, list)) and len(result) == 2 and isinstance(result[0], dict):
            raise CheckFailed("l2_penalty returned (grads, penalty): the pair is (penalty, grads), in that order.")
        penalty, grads = _split_penalty(result, "l2_penalty")
        squares = sum(float(np.sum(w * w)) for w in weights)
        all_squares = sum(float(np.sum(v * v)) for v in params.values())
        case = f"three layers and lam={lam}" + (", biases of shape (1, n)" if trial == 3 else "")
        expect_close(penalty, 0.5 * lam * squares, "the penalty", case=case,
                     mistakes={"the factor 1/2 is missing: the penalty is (lam / 2) * sum of squares": lam * squares,
                               "biases are not penalised: sum over the weight matrices (keys starting "
                               "with 'W') only, whatever their shape": 0.5 * lam * all_squares,
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
        extra = [k for k in grads if k not in params]
        if extra:
            raise CheckFailed(f"grads has the key {extra[0]!r}, which params does not have: grads has exactly "
                              "the keys of params.")
        for key, value in params.items():
            if np.shape(grads[key]) != value.shape:
                raise CheckFailed(f"grads[{key!r}] has shape {np.shape(grads[key])} for {case}: each gradient is "
                                  f"an array of the parameter's shape {value.shape} (an array of zeros for a bias).")
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


# --------------------------------------------------------------------------- random search


class _Recorder:
    """An objective that records the parameters it was called with."""

    def __init__(self):
        self.calls = []

    def __call__(self, params):
        self.calls.append(dict(params) if isinstance(params, dict) else params)
        if not isinstance(params, dict) or set(params) != set(SPACE):
            return 1e9  # the check names the mistake once the search is over
        return _score(params)


def _score(params):
    lr, rate = float(params["lr"]), float(params["rate"])
    return (np.log10(lr) + 2.5) ** 2 + 4 * (rate - 0.3) ** 2


SPACE = {"lr": (1e-5, 1e-1, "log"), "rate": (0.1, 0.8, "linear")}


def _search(random_search, n_trials, seed):
    objective = _Recorder()
    result = call(random_search, objective=objective, space=dict(SPACE), n_trials=n_trials,
                  rng=seeded_rng(seed), name="random_search")
    pair = expect_pair(result, "random_search", "(best_params, best_score)")
    if isinstance(pair[1], dict) and not isinstance(pair[0], dict):
        raise CheckFailed("random_search returned (best_score, best_params): the pair is (best_params, "
                          "best_score), in that order.")
    return objective, pair


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
    if rates.min() < 0.1 or rates.max() > 0.8:
        raise CheckFailed("some values of the linear-scale hyperparameter fall outside [low, high].")
    below_middle = float(np.mean(lrs < 1e-3))
    if below_middle < 0.1:
        raise CheckFailed(f"only {below_middle:.0%} of the log-scale values are below 1e-3, the geometric middle "
                          "of [1e-5, 1e-1]: they are drawn uniformly on a linear scale. Draw the logarithm "
                          "uniformly instead.")
    if abs(below_middle - 0.5) > 0.1:
        raise CheckFailed(f"{below_middle:.0%} of the log-scale values are below 1e-3, the geometric middle of "
                          "[1e-5, 1e-1]; about half should be (log-uniform).")
    if abs(float(np.mean(rates < 0.45)) - 0.5) > 0.1:
        raise CheckFailed("the linear-scale values are not uniform on [low, high]: draw them with "
                          "rng.uniform(low, high).")
    correlation = float(np.corrcoef(np.log(lrs), rates)[0, 1])
    if abs(correlation) > 0.2:
        raise CheckFailed(f"the values of the two hyperparameters move together (correlation {correlation:.2f} "
                          "over the trials): draw one value for every hyperparameter, each independently.")
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


# --------------------------------------------------------------------------- spatial dropout


def _spatial(spatial_dropout, x, p, training, seed, channels_last=False):
    return to_array(call(spatial_dropout, x, p, training, seeded_rng(seed),
                         channels_last=channels_last, name="spatial_dropout"),
                    "spatial_dropout(x, p, training, rng)")


def _channel_view(out, channels_last):
    """(N, C, H*W) view of a 4-D result in either layout."""
    if channels_last:
        out = np.moveaxis(out, -1, 1)
    return out.reshape(out.shape[0], out.shape[1], -1)


@register("10.spatial_dropout")
def check_spatial_dropout(spatial_dropout):
    """spatial_dropout(x, p, training, rng, channels_last=False) drops whole channels of each
    sample and rescales the kept ones by 1 / (1 - p)."""
    rng = seeded_rng(21)
    x = rng.normal(size=(6, 5, 4, 7))  # N, C, H, W: nothing square
    out = _spatial(spatial_dropout, x, 0.4, False, seed=1)
    expect_close(out, x, "spatial_dropout(x, p, training=False, rng)", case="evaluation mode",
                 mistakes={"in evaluation mode nothing is dropped or scaled: return x unchanged":
                           x * 0.6,
                           "in evaluation mode nothing is scaled (the 1 / (1 - p) happens in "
                           "training): return x unchanged": x / 0.6})
    for channels_last in (False, True):
        layout = "(N, H, W, C)" if channels_last else "(N, C, H, W)"
        ones = np.ones((300, 40, 3, 5))
        if channels_last:
            ones = np.ones((300, 3, 5, 40))
        for p in (0.25, 0.6):
            case = f"p={p}, x of ones in the layout {layout}"
            out = _spatial(spatial_dropout, ones, p, True, seed=2, channels_last=channels_last)
            if out.shape != ones.shape:
                raise CheckFailed(f"for {case} the result has shape {out.shape}, expected {ones.shape}.")
            view = _channel_view(out, channels_last)
            zero = view == 0
            per_channel = zero.mean(axis=2)
            if not np.all((per_channel == 0) | (per_channel == 1)):
                other = _channel_view(out, not channels_last) if out.shape[1] != out.shape[-1] else None
                if other is not None:
                    other_frac = (other == 0).mean(axis=2)
                    if np.all((other_frac == 0) | (other_frac == 1)):
                        raise CheckFailed(f"for {case}: the wrong axis is treated as the channel axis: "
                                          + ("with channels_last=True the channels are the last axis."
                                             if channels_last else "with channels_last=False the "
                                             "channels are axis 1."))
                raise CheckFailed(f"for {case}, some channels are only partly zero: spatial dropout drops "
                                  "a whole channel (every pixel of it) or keeps it; draw one random number "
                                  "per sample and channel.")
            dropped = per_channel == 1
            fraction = float(dropped.mean())
            if np.all(dropped == dropped[:1]):
                raise CheckFailed(f"for {case}, every sample drops the same channels: draw a mask per "
                                  "sample and channel, of shape (N, C).")
            if np.all(dropped == dropped[:, :1]):
                raise CheckFailed(f"for {case}, each sample drops all its channels or none: draw one "
                                  "number per sample AND channel.")
            # independent decisions: neighbouring channels, and neighbouring samples, agree as often as
            # two independent draws would, p**2 + (1 - p)**2 of the time
            independent = p**2 + (1 - p) ** 2
            for axis, what in [(1, "channels of a sample"), (0, "samples")]:
                a, b = np.take(dropped, range(0, dropped.shape[axis] - 1), axis), np.take(
                    dropped, range(1, dropped.shape[axis]), axis)
                agree = float(np.mean(a == b))
                if abs(agree - independent) > 0.06:
                    raise CheckFailed(f"for {case}, neighbouring {what} are dropped together in {agree:.0%} of "
                                      f"the cases, where independent draws agree in {independent:.0%}: draw "
                                      "for every sample and every channel independently.")
            if abs(fraction - (1 - p)) < 0.03 and abs(p - 0.5) > 0.05:
                raise CheckFailed(f"for {case}, {fraction:.0%} of the channels are dropped: p is the "
                                  "probability of dropping a channel, not of keeping it.")
            # 12,000 channels: the dropped fraction has a standard deviation below 0.005
            if abs(fraction - p) > 0.02:
                raise CheckFailed(f"for {case}, {fraction:.1%} of the channels are dropped; about "
                                  f"{p:.0%} should be.")
            kept = view[~zero]
            for hint, wrong in {"the kept channels are not rescaled: divide them by 1 - p": 1.0,
                                "divide the kept channels by 1 - p (the keep probability), not by p":
                                1 / p,
                                "divide the kept channels by 1 - p, do not multiply": 1 - p}.items():
                if np.allclose(kept, wrong) and not np.isclose(wrong, 1 / (1 - p)):
                    raise CheckFailed(f"for {case}: {hint}")
            if not np.allclose(kept, 1 / (1 - p)):
                raise CheckFailed(f"for {case}, the kept values are not all 1 / (1 - p).")
            mean = float(out.mean())
            if abs(mean - 1.0) > 0.05:
                raise CheckFailed(f"for {case}, the mean of the output is {mean:.3f}; inverted dropout "
                                  "keeps the expected value, 1.")
    x = rng.normal(size=(4, 3, 5, 2))
    default = to_array(call(spatial_dropout, np.ones((200, 30, 2, 3)), 0.5, True, seeded_rng(3),
                            name="spatial_dropout"), "spatial_dropout(x, p, training, rng)")
    if default.shape == (200, 30, 2, 3):
        per_channel = (default == 0).reshape(200, 30, -1).mean(axis=2)
        if not np.all((per_channel == 0) | (per_channel == 1)):
            raise CheckFailed("with channels_last left at its default, False, the channels are axis 1 "
                              "(N, C, H, W): the default layout is PyTorch's.")
    first = _spatial(spatial_dropout, x, 0.5, True, seed=4)
    again = _spatial(spatial_dropout, x, 0.5, True, seed=4)
    if not np.array_equal(first, again):
        raise CheckFailed("two calls with generators seeded alike dropped different channels: draw the "
                          "mask from the `rng` argument, not from np.random.")
    expect_close(first, np.where(first != 0, x / 0.5, 0.0), "spatial_dropout(x, 0.5, True, rng)",
                 case="random inputs: every value must be 0 or x / (1 - p)")
    expect_close(_spatial(spatial_dropout, x, 0.0, True, seed=4), x, "spatial_dropout(x, 0.0, True, rng)",
                 case="p = 0, the edge of 0 <= p < 1: nothing is dropped")
    return "evaluation, whole channels per sample, rate, rescaling, both layouts and the generator"


# --------------------------------------------------------------------------- batch norm 2d backward


def _bn2d_forward(x, gamma, beta, eps):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    return gamma[None, :, None, None] * (x - mean) / np.sqrt(var + eps) + beta[None, :, None, None]


def _bn2d_wrong_dx(x, gamma, grad_out, eps):
    """dx of typical mistakes: the direct path only, a missing x_hat term, statistics per pixel."""
    axes = (0, 2, 3)
    m = x.shape[0] * x.shape[2] * x.shape[3]
    g = gamma[None, :, None, None]
    sigma = np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    x_hat = (x - x.mean(axis=axes, keepdims=True)) / sigma
    d = g * grad_out
    full_sum = d.sum(axis=axes, keepdims=True)
    proj = np.sum(d * x_hat, axis=axes, keepdims=True)
    sigma1 = np.sqrt(x.var(axis=axes, keepdims=True, ddof=1) + eps)
    x_hat1 = (x - x.mean(axis=axes, keepdims=True)) / sigma1
    unbiased = (m * d - full_sum - x_hat1 * np.sum(d * x_hat1, axis=axes, keepdims=True)) / (m * sigma1)
    n = x.shape[0]
    batch_only = (n * d - full_sum - x_hat * proj) / (n * sigma)
    sigma0 = np.sqrt(x.var(axis=0, keepdims=True) + eps)
    x_hat0 = (x - x.mean(axis=0, keepdims=True)) / sigma0
    d0 = d
    per_pixel = (x.shape[0] * d0 - d0.sum(axis=0, keepdims=True)
                 - x_hat0 * np.sum(d0 * x_hat0, axis=0, keepdims=True)) / (x.shape[0] * sigma0)
    return {
        "only the direct path: the batch mean and variance also depend on x (subtract the mean of "
        "the incoming gradient and its component along x_hat)": d / sigma,
        "the term with x_hat * sum(d * x_hat), the path through the variance, is missing":
        (m * d - full_sum) / (m * sigma),
        "the path through the mean is missing (subtract the mean of gamma * grad_out)":
        (m * d - x_hat * proj) / (m * sigma),
        "gamma is missing: the gradient with respect to x_hat is gamma * grad_out":
        (m * grad_out - grad_out.sum(axis=axes, keepdims=True)
         - x_hat * np.sum(grad_out * x_hat, axis=axes, keepdims=True)) / (m * sigma),
        "the statistics of BatchNorm2d are per channel over the batch AND the pixels, axes (0, 2, 3), "
        "not over the batch alone": per_pixel,
        "BatchNorm2d normalises with the biased variance (divided by m, not m - 1)": unbiased,
        "m is the number of values per channel, N * H * W, not the batch size N": batch_only,
    }


@register("10.batchnorm2d_backward")
def check_batchnorm2d_backward(batchnorm2d_backward):
    """batchnorm2d_backward(x, gamma, grad_out, eps) returns (dx, dgamma, dbeta) of training-mode batch
    norm on x (N, C, H, W), statistics per channel."""
    rng = seeded_rng(22)
    for n, c, h, w, eps in [(2, 3, 2, 4, 1e-5), (3, 2, 3, 1, 1e-3), (1, 4, 3, 2, 1e-5), (5, 1, 2, 2, 0.1)]:
        x = rng.normal(size=(n, c, h, w)) * rng.uniform(0.5, 3.0, size=(1, c, 1, 1)) + rng.normal(0, 2, (1, c, 1, 1))
        gamma, beta = rng.uniform(0.5, 2.0, c), rng.normal(size=c)
        grad_out = rng.normal(size=x.shape)
        case = f"x of shape {(n, c, h, w)}, eps={eps}"
        result = call(batchnorm2d_backward, x, gamma, grad_out, eps, name="batchnorm2d_backward")
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise CheckFailed("batchnorm2d_backward should return the triple (dx, dgamma, dbeta).")
        dx, dgamma, dbeta = result
        if np.shape(dx) == (c,) and np.shape(dbeta) == x.shape and c != x.size:
            raise CheckFailed("batchnorm2d_backward returned dx last: the triple is (dx, dgamma, dbeta), "
                              "in that order.")
        def loss_of_x(z, g=grad_out, scale=gamma, shift=beta, e=eps):
            return float(np.sum(g * _bn2d_forward(z, scale, shift, e)))

        def loss_of_gamma(scale, g=grad_out, z=x, shift=beta, e=eps):
            return float(np.sum(g * _bn2d_forward(z, scale, shift, e)))

        ref_dx = numerical_gradient(loss_of_x, x)
        ref_dgamma = numerical_gradient(loss_of_gamma, gamma)
        ref_dbeta = grad_out.sum(axis=(0, 2, 3))
        x_hat = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + eps)
        expect_close(dbeta, ref_dbeta, "dbeta", case=case, mistakes={
            "dbeta sums grad_out over the batch and the pixels, axes (0, 2, 3), not over the batch only":
            grad_out.sum(axis=0)})
        expect_close(dx, ref_dx, "dx", case=case, rtol=1e-5, atol=1e-6,
                     mistakes=_bn2d_wrong_dx(x, gamma, grad_out, eps))
        x_hat_unbiased = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(
            x.var(axis=(0, 2, 3), keepdims=True, ddof=1) + eps) if x.size > c else x_hat
        expect_close(dgamma, ref_dgamma, "dgamma", case=case, rtol=1e-5, atol=1e-6, mistakes={
            "dgamma is the sum of grad_out * x_hat over axes (0, 2, 3), not of grad_out * x":
            np.sum(grad_out * x, axis=(0, 2, 3)),
            "dgamma sums over the batch and the pixels, axes (0, 2, 3)": np.sum(grad_out * x_hat, axis=0),
            "BatchNorm2d normalises with the biased variance (divided by m, not m - 1)":
            np.sum(grad_out * x_hat_unbiased, axis=(0, 2, 3))})
    x = rng.normal(size=(3, 2, 2, 2)) * 0.05  # a small spread, so that eps matters
    gamma, grad_out = rng.uniform(0.5, 2.0, 2), rng.normal(size=x.shape)
    result = call(batchnorm2d_backward, x, gamma, grad_out, name="batchnorm2d_backward")
    if isinstance(result, (tuple, list)) and len(result) == 3:
        def loss_default(z):
            return float(np.sum(grad_out * _bn2d_forward(z, gamma, np.zeros(2), 1e-5)))
        expect_close(result[0], numerical_gradient(loss_default, x), "dx", rtol=1e-5, atol=1e-6,
                     case="eps left at its default (it is 1e-5)")
    return "four shapes (one pixel, one channel, one sample among them), against finite differences"


# --------------------------------------------------------------------------- parameter groups


def _group_models(torch):
    nn = torch.nn
    with seeded_global_random(23):  # the layers draw their initial weights from the global state
        return [
            ("Linear-BatchNorm1d-ReLU-Linear", nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.ReLU(),
                                                              nn.Linear(7, 3))),
            ("Conv2d-BatchNorm2d-Linear", nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                                                         nn.Flatten(), nn.Linear(4 * 3 * 3, 2))),
            ("Linear without bias, LayerNorm, Linear", nn.Sequential(nn.Linear(6, 8, bias=False),
                                                                     nn.LayerNorm(8), nn.Linear(8, 1))),
        ]


@register("10.decay_param_groups")
def check_decay_param_groups(decay_param_groups):
    """decay_param_groups(model, weight_decay) returns two optimiser parameter groups: the weight
    matrices and kernels with weight_decay, everything else (biases, normalisation scales and
    shifts) with 0."""
    torch = require_framework("torch")
    for weight_decay in (0.05, 0.3):
        for description, model in _group_models(torch):
            case = f"a {description} model and weight_decay={weight_decay}"
            groups = call(decay_param_groups, model, weight_decay, name="decay_param_groups")
            if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
                raise CheckFailed("decay_param_groups should return a list of dicts, each with the keys "
                                  f"'params' and 'weight_decay', not a {type(groups).__name__}.")
            if len(groups) != 2:
                raise CheckFailed(f"decay_param_groups returned {len(groups)} groups; expected two: the "
                                  "parameters to decay and the rest.")
            for group in groups:
                if "params" not in group or "weight_decay" not in group:
                    raise CheckFailed("every group needs the keys 'params' (a list of parameters) and "
                                      "'weight_decay' (a number).")
                group["params"] = list(group["params"])  # a generator is read once, here
            named = dict(model.named_parameters())
            names = {id(p): n for n, p in named.items()}
            seen = [id(p) for g in groups for p in g["params"]]
            if any(s not in names for s in seen):
                raise CheckFailed(f"for {case}, a group holds something that is not a parameter of the "
                                  "model: put the model's parameters themselves (model.parameters()).")
            if len(seen) != len(set(seen)):
                raise CheckFailed(f"for {case}, a parameter appears in both groups (or twice): each "
                                  "parameter belongs to exactly one group.")
            missing = [n for n, p in named.items() if id(p) not in set(seen)]
            if missing:
                raise CheckFailed(f"for {case}, the parameter {missing[0]!r} is in no group: every "
                                  "parameter must be handed to the optimiser.")
            if np.isclose(float(groups[0]["weight_decay"]), 0.0) and not np.isclose(
                    float(groups[1]["weight_decay"]), 0.0):
                raise CheckFailed(f"for {case}, the first group has weight_decay 0: the first group holds the "
                                  "weights to decay, the second everything else.")
            decays = {}
            for group in groups:
                value = float(group["weight_decay"])
                for p in group["params"]:
                    decays[names[id(p)]] = value
            for name, p in named.items():
                want = weight_decay if p.ndim > 1 else 0.0
                got = decays[name]
                if np.isclose(got, want):
                    continue
                if p.ndim > 1:
                    if np.isclose(got, 0.0):
                        raise CheckFailed(f"for {case}, the weight {name!r} (shape {tuple(p.shape)}) is "
                                          "not decayed: weight matrices and convolution kernels get "
                                          "weight_decay.")
                    raise CheckFailed(f"for {case}, {name!r} has weight_decay {got:g}; use the value "
                                      "given as the argument.")
                kind = "a bias" if name.endswith("bias") else "a normalisation scale or shift (1-D)"
                raise CheckFailed(f"for {case}, {name!r} is {kind} and is decayed: only parameters with "
                                  "two or more dimensions (weights and kernels) are decayed.")
            optimizer = torch.optim.SGD(groups, lr=0.5)
            before = {n: p.detach().clone() for n, p in named.items()}
            for p in model.parameters():
                p.grad = torch.zeros_like(p)
            optimizer.step()
            for name, p in named.items():
                factor = 1 - 0.5 * weight_decay if p.ndim > 1 else 1.0
                if not torch.allclose(p.detach(), before[name] * factor):
                    raise CheckFailed(f"for {case}, one SGD step with these groups did not scale {name!r} "
                                      f"by {factor:g}: are the groups in the form torch.optim expects?")
    return "three models (dense, convolutional, normalisation without bias), two decay strengths"
