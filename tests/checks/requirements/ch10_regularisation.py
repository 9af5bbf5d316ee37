"""Requirement table of chapter 10, regularisation (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

# --------------------------------------------------------------------------- 10.l2_penalty


def l2(params, lam, *, half=0.5, by_ndim=False, include_biases=False, swap=False, as_list=False,
       drop_bias_keys=False, extra_key=False, scalar_bias=False, double_grad=False, in_place=False, l1=False):
    """The solution's answer; the keywords make it break one requirement."""
    penalty, grads = 0.0, {}
    for name, value in params.items():
        is_weight = np.ndim(value) > 1 if by_ndim else name.startswith("W")
        if is_weight or include_biases:
            penalty += half * lam * (np.sum(np.abs(value)) if l1 else np.sum(np.asarray(value) ** 2))
            grads[name] = (2 if double_grad else 1) * lam * np.asarray(value)
        elif not drop_bias_keys:
            grads[name] = 0.0 if scalar_bias else np.zeros_like(value)
        if in_place:
            value *= 1.0 - lam  # the weights shrunk in place, as a decay step would
    if extra_key:
        grads["total"] = penalty
    out = (grads, penalty) if swap else (penalty, grads)
    return [grads[k] for k in grads] if as_list else out


# --------------------------------------------------------------------------- 10.spatial_dropout


def spatial(x, p, training, rng, channels_last=False, *, default_last=False, same_for_samples=False,
            per_pixel=False, keep_prob=False, no_scale=False, global_rng=False, pairs=False, scale_in_eval=False,
            reshape=False, in_place=False, zero_p_breaks=False, ignore_layout=False):
    """The solution's answer; the keywords make it break one requirement."""
    if default_last:
        channels_last = True if channels_last is None else channels_last
    if ignore_layout:
        channels_last = False
    if not training:
        return x / (1 - p) if scale_in_eval else x
    if zero_p_breaks and p == 0:
        return np.zeros_like(x)
    draw = np.random.random if global_rng else rng.random
    n, c = x.shape[0], x.shape[-1] if channels_last else x.shape[1]
    if per_pixel:
        u = draw(x.shape)
        out = np.where(u >= p, x / (1 - p), 0.0)
    else:
        u = draw((1, c)) if same_for_samples else draw((n, (c + 1) // 2 if pairs else c))
        if pairs:
            u = np.repeat(u, 2, axis=1)[:, :c]
        if same_for_samples:
            u = np.repeat(u, n, axis=0)
        keep = (u < p) if keep_prob else (u >= p)
        keep = keep * (1.0 if no_scale else 1.0 / (1.0 - p))
        shape = (n, 1, 1, c) if channels_last else (n, c, 1, 1)
        if in_place:
            x *= keep.reshape(shape)
            out = x
        else:
            out = x * keep.reshape(shape)
    return out.reshape(n, -1) if reshape else out


def spatial_default_last(x, p, training, rng, channels_last=True):
    """A correct answer whose default layout is Keras' instead of PyTorch's."""
    return spatial(x, p, training, rng, channels_last)


# --------------------------------------------------------------------------- 10.batchnorm2d_backward


def bn2d(x, gamma, grad_out, eps=1e-5, *, axes=(0, 2, 3), ddof=0, m_batch=False, direct=False, order=None,
         keepdims=False, default_eps=None):
    """The solution's answer; the keywords make it break one requirement."""
    if default_eps is not None and eps == 1e-5:
        eps = default_eps
    m = x.shape[0] if m_batch else int(np.prod([x.shape[a] for a in axes]))
    sigma = np.sqrt(x.var(axis=axes, keepdims=True, ddof=ddof) + eps)
    x_hat = (x - x.mean(axis=axes, keepdims=True)) / sigma
    d = gamma[None, :, None, None] * grad_out
    if direct:
        dx = d / sigma
    else:
        dx = (m * d - d.sum(axis=axes, keepdims=True)
              - x_hat * np.sum(d * x_hat, axis=axes, keepdims=True)) / (m * sigma)
    dgamma = np.sum(grad_out * x_hat, axis=(0, 2, 3), keepdims=keepdims)
    dbeta = grad_out.sum(axis=(0, 2, 3))
    out = {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}
    return tuple(out[k] for k in (order or ("dx", "dgamma", "dbeta")))


def bn2d_default_eps(x, gamma, grad_out, eps=1e-3):
    """A correct answer whose default eps is Keras' 1e-3 instead of 1e-5."""
    return bn2d(x, gamma, grad_out, eps)


# --------------------------------------------------------------------------- 10.random_search


def search(objective, space, n_trials, rng, *, maximise=False, linear_as_log=False, log_as_linear=False,
           exponents=False, ignore_low=False, global_rng=False, twice=False, as_list=False, shared=False,
           last=False, swap=False, drop_key=False):
    """The solution's answer; the keywords make it break one requirement."""
    best_params, best_score = None, -np.inf if maximise else np.inf
    for _ in range(n_trials):
        params, u = {}, None
        for name, (low, high, scale) in space.items():
            draw = np.random.uniform if global_rng else rng.uniform
            if shared:
                u = draw(0.0, 1.0) if u is None else u
                params[name] = (float(np.exp(np.log(low) + u * (np.log(high) - np.log(low)))) if scale == "log"
                                else float(low + u * (high - low)))
                continue
            low = 0.0 if ignore_low and scale == "linear" else low
            if (scale == "log") != log_as_linear or (scale == "linear" and linear_as_log):
                if exponents:
                    params[name] = float(10 ** draw(low, high))
                else:
                    params[name] = float(np.exp(draw(np.log(low), np.log(high))))
            else:
                params[name] = float(draw(low, high))
        if drop_key:
            params.pop(next(iter(params)))
        arg = list(params.values()) if as_list else params
        score = objective(arg)
        if twice:
            objective(arg)
        better = score > best_score if maximise else score < best_score
        if better or last:
            best_params, best_score = params, score
    return (best_score, best_params) if swap else (best_params, best_score)


def searcher(**options):
    """The solution's answer, with the learner's argument names, breaking what ``options`` say."""
    def random_search(objective, space, n_trials, rng):
        return search(objective, space, n_trials, rng, **options)
    return random_search


# --------------------------------------------------------------------------- 10.decay_param_groups


def groups(model, weight_decay, *, as_tuple=False, swap=False, fixed=None, bias_decayed=False, norm_decayed=False,
           three=False, twice=False, missing=False):
    """The solution's answer; the keywords make it break one requirement."""
    decayed = [p for p in model.parameters() if p.ndim > 1]
    others = [p for n, p in model.named_parameters() if p.ndim <= 1]
    if bias_decayed:
        names = dict(model.named_parameters())
        decayed += [p for n, p in names.items() if n.endswith("bias")]
        others = [p for p in others if all(p is not q for q in decayed)]
    if norm_decayed:
        names = dict(model.named_parameters())
        extra = [p for n, p in names.items() if p.ndim == 1 and not n.endswith("bias")]
        decayed += extra
        others = [p for p in others if all(p is not q for q in extra)]
    if twice:
        others = others + decayed[:1]
    if missing:
        others = others[1:]
    result = [{"params": decayed, "weight_decay": weight_decay if fixed is None else fixed},
              {"params": others, "weight_decay": 0.0}]
    if three:
        result = [result[0], {"params": others[:1], "weight_decay": 0.0},
                  {"params": others[1:], "weight_decay": 0.0}]
    if swap:
        result = result[::-1]
    return tuple(result) if as_tuple else result


TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("Spatial dropout and random search are random", "what the checks do"),
        free("Exercise 5 needs PyTorch", "what to install"),
        free("The lecture is `book/10-regularisation`", "a pointer"),
    ],
    "10.l2_penalty": [
        free("A network's parameters are a dict such as", "what the argument is"),
        requirement("the names of weight matrices start with `\"W\"`", lambda p, lam: l2(p, lam, by_ndim=True),
                    r"keys starting with 'W'"),
        requirement("returns the pair `(penalty, grads)`", lambda p, lam: l2(p, lam, swap=True), r"in that order"),
        requirement("`penalty` $= \\frac{\\lambda}{2}\\sum_{W}\\lVert W\\rVert^2$",
                    lambda p, lam: l2(p, lam, half=1.0), r"factor 1/2"),
        requirement("\\lVert W\\rVert^2", lambda p, lam: l2(p, lam, l1=True), r"L1 penalty"),
        requirement("summed over the weight matrices only (biases are not penalised)",
                    lambda p, lam: l2(p, lam, include_biases=True), r"biases are not penalised"),
        requirement("`grads`, a dict with the same keys as `params`",
                    lambda p, lam: l2(p, lam, drop_bias_keys=True), r"no entry for"),
        requirement("a dict with the same keys", lambda p, lam: l2(p, lam, extra_key=True),
                    r"exactly the keys of params"),
        requirement("the gradient of the penalty with respect to each parameter",
                    lambda p, lam: l2(p, lam, double_grad=True), r"not 2 \* lam \* w"),
        requirement("(an array of zeros for a bias)", lambda p, lam: l2(p, lam, scalar_bias=True),
                    r"an array of the parameter's shape"),
        requirement("Do not modify `params`", lambda p, lam: l2(p, lam, in_place=True), r"in place"),
    ],
    "10.spatial_dropout": [
        free("For images, dropping single pixels of a feature map does little", "motivation"),
        free("Spatial dropout drops whole channels instead", "what the method is; the rows below hold it"),
        requirement("`spatial_dropout(x, p, training, rng, channels_last=False)`", spatial_default_last,
                    r"default"),
        requirement("of shape (N, C, H, W) (PyTorch's layout)",
                    lambda x, p, t, rng, channels_last=False: spatial(x, p, t, rng, channels_last=True),
                    r"channels are axis 1|wrong axis"),
        requirement("with `channels_last=True`, (N, H, W, C) (Keras' layout)",
                    lambda x, p, t, rng, channels_last=False: spatial(x, p, t, rng, channels_last, ignore_layout=True),
                    r"channels are the last axis|wrong axis|layout \(N, H, W, C\)"),
        requirement("for every sample and every channel independently",
                    lambda x, p, t, rng, channels_last=False: spatial(x, p, t, rng, channels_last,
                                                                     same_for_samples=True),
                    r"every sample drops the same channels"),
        requirement("every channel independently",
                    lambda x, p, t, rng, channels_last=False: spatial(x, p, t, rng, channels_last, pairs=True),
                    r"independently"),
        requirement("drop the whole channel (every pixel set to zero)",
                    lambda x, p, t, rng, channels_last=False: spatial(x, p, t, rng, channels_last, per_pixel=True),
                    r"whole channel"),
        requirement("with probability `p`",
                    lambda x, p, t, rng, channels_last=False: spatial(x, p, t, rng, channels_last, keep_prob=True),
                    r"probability of dropping"),
        requirement("drawing the mask from `rng`",
                    lambda x, p, t, rng, channels_last=False: spatial(x, p, t, rng, channels_last, global_rng=True),
                    r"from the `rng` argument"),
        free("(one number per sample and channel)", "how to draw the mask; the independence rows hold it"),
        requirement("divide the kept channels by `1 - p`",
                    lambda x, p, t, rng, channels_last=False: spatial(x, p, t, rng, channels_last, no_scale=True),
                    r"not rescaled"),
        requirement("In evaluation mode return `x` unchanged",
                    lambda x, p, t, rng, channels_last=False: spatial(x, p, t, rng, channels_last,
                                                                     scale_in_eval=True),
                    r"evaluation mode"),
        requirement("Return an array of the shape of `x`",
                    lambda x, p, t, rng, channels_last=False: spatial(x, p, t, rng, channels_last, reshape=True),
                    r"shape"),
        requirement("do not modify `x`",
                    lambda x, p, t, rng, channels_last=False: spatial(x, p, t, rng, channels_last, in_place=True),
                    r"in place"),
        requirement("assume `0 <= p < 1`",
                    lambda x, p, t, rng, channels_last=False: spatial(x, p, t, rng, channels_last,
                                                                     zero_p_breaks=True),
                    r"p = 0"),
    ],
    "10.batchnorm2d_backward": [
        requirement("the mean and the biased variance", lambda x, g, go, eps=1e-5: bn2d(x, g, go, eps, ddof=1),
                    r"biased variance"),
        requirement("over the batch and all pixels, axes (0, 2, 3)",
                    lambda x, g, go, eps=1e-5: bn2d(x, g, go, eps, axes=(0,)), r"axes \(0, 2, 3\)"),
        free("`gamma`, `beta` have one entry per channel", "what the arguments are"),
        requirement("`batchnorm2d_backward(x, gamma, grad_out, eps=1e-5)`", bn2d_default_eps,
                    r"eps left at its default"),
        requirement("for training mode", lambda x, g, go, eps=1e-5: bn2d(x, g, go, eps, direct=True),
                    r"only the direct path"),
        requirement("return the triple `(dx, dgamma, dbeta)`",
                    lambda x, g, go, eps=1e-5: bn2d(x, g, go, eps, order=("dgamma", "dbeta", "dx")),
                    r"in that order"),
        requirement("with shapes (N, C, H, W), (C,) and (C,)",
                    lambda x, g, go, eps=1e-5: bn2d(x, g, go, eps, keepdims=True), r"shape"),
        free("The lecture derives the formula for (batch, features)", "where to start"),
        requirement("its $m = N \\cdot H \\cdot W$ values the role of the batch",
                    lambda x, g, go, eps=1e-5: bn2d(x, g, go, eps, m_batch=True), r"N \* H \* W"),
    ],
    "10.random_search": [
        requirement("that *minimises* `objective`", searcher(maximise=True),
                    r"should minimise"),
        requirement("with `scale == \"linear\"` draw the value uniformly from `[low, high]`",
                    searcher(linear_as_log=True), r"linear-scale values"),
        requirement("from `[low, high]`", searcher(ignore_low=True),
                    r"outside \[low, high\]"),
        requirement("with `scale == \"log\"` draw it log-uniformly",
                    searcher(log_as_linear=True), r"linear scale"),
        requirement("its logarithm is uniform between `log(low)` and `log(high)`",
                    searcher(exponents=True), r"not exponents|raise 10"),
        requirement("Each trial draws one value for every hyperparameter",
                    searcher(shared=True), r"independently"),
        requirement("from `rng`", searcher(global_rng=True),
                    r"from the `rng` argument"),
        requirement("calls `objective(params)`", searcher(twice=True),
                    r"once per trial"),
        requirement("with the dict of values", searcher(as_list=True),
                    r"should get a dict"),
        requirement("one value for every hyperparameter", searcher(drop_key=True),
                    r"one value per hyperparameter"),
        requirement("Return the pair `(best_params, best_score)`",
                    searcher(swap=True), r"in that order"),
        requirement("of the trial with the lowest score", searcher(last=True),
                    r"last trial"),
    ],
    "10.decay_param_groups": [
        requirement("returns the two parameter groups", lambda m, wd: groups(m, wd, three=True), r"expected two"),
        requirement("as a list of two dicts", lambda m, wd: groups(m, wd, as_tuple=True), r"list of dicts"),
        requirement("\"weight_decay\": weight_decay}", lambda m, wd: groups(m, wd, fixed=0.01),
                    r"use the value given"),
        requirement("the first holds the weight matrices and convolution kernels",
                    lambda m, wd: groups(m, wd, swap=True), r"the first group"),
        requirement("the second everything else (biases",
                    lambda m, wd: groups(m, wd, bias_decayed=True), r"is a bias"),
        requirement("the scale and shift of normalisation layers",
                    lambda m, wd: groups(m, wd, norm_decayed=True), r"normalisation scale or shift"),
        requirement("belongs to exactly one group", lambda m, wd: groups(m, wd, twice=True), r"exactly one group"),
        requirement("Every parameter of `model`", lambda m, wd: groups(m, wd, missing=True), r"is in no group"),
        free("The cell after the check trains with your groups", "what follows"),
    ],
}
