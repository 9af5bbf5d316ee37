"""Checks for chapter 08, optimizers written from scratch.

Every optimizer exercise has the form ``step(params, grads, state, **hyper) -> (params, state)``
with ``state == {}`` before the first step. The checks run several steps with a fixed sequence
of random gradients and compare the whole path with closed-form sums (the references below
are written as weighted sums over past gradients, not as the recursive update).
"""

from __future__ import annotations

import copy

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    expect_pair,
    register,
    require_answer,
    require_callable,
    seeded_rng,
    to_array,
    unchanged,
)
from course_utils.frameworks import require_framework


def _weights(decay: float, n: int) -> np.ndarray:
    """Lower-triangular matrix L[k, i] = decay**(k - i) for i <= k (a moving sum as a product)."""
    k, i = np.indices((n, n))
    return np.where(i <= k, decay ** np.maximum(k - i, 0), 0.0)


def _path(p0, updates):
    """Parameters after each step, p_t = p_0 - sum of the first t updates."""
    return p0 - np.cumsum(updates, axis=0)


def _step_result(out, name, shape, step):
    """(new_params as floats, new_state) from what one optimizer step returned, or CheckFailed."""
    new_params, state = expect_pair(out, f"`{name}`", "(new_params, new_state)")
    if not isinstance(state, dict):
        raise CheckFailed(f"the new state returned by `{name}` should be a dict, not "
                          f"{type(state).__name__}.")
    if not isinstance(new_params, np.ndarray) or new_params.dtype.kind != "f":
        kind = (f"an array of dtype {new_params.dtype}" if isinstance(new_params, np.ndarray)
                else f"a {type(new_params).__name__}")
        raise CheckFailed(f"new_params returned by `{name}` is {kind}; build a new float NumPy array "
                          f"(step {step}).")
    new_params = new_params.astype(float)
    if new_params.shape != shape:
        raise CheckFailed(f"new_params has shape {new_params.shape}, expected {shape} (step {step}).")
    return new_params, state


def _learner_path(step, name, p0, grads, hyper):
    """Run the learner's step over the gradient sequence; guard inputs against in-place changes."""
    params, state, path = p0.copy(), {}, []
    for t, g in enumerate(grads, start=1):
        g = g.copy()
        kept_params, kept_grads, kept_state = params.copy(), g.copy(), copy.deepcopy(state)
        out = call(lambda p=params, g=g, s=state: step(p, g, s, **hyper), name=name)
        if not np.array_equal(params, kept_params) or not np.array_equal(g, kept_grads):
            raise CheckFailed(f"`{name}` changed params or grads in place at step {t}: compute new arrays, "
                              "for example `params - lr * v` rather than `params -= lr * v`.")
        if not unchanged(kept_state, state):
            raise CheckFailed(f"`{name}` changed the state dictionary it was given (step {t}): build and "
                              "return a new dictionary instead of writing into `state`.")
        new_params, state = _step_result(out, name, params.shape, t)
        if not np.all(np.isfinite(new_params)):
            raise CheckFailed(f"new_params contains NaN or inf at step {t}: a division by zero? "
                              "(for Adam: count the steps from t = 1, so that 1 - beta**t is never 0).")
        params = new_params
        path.append(params)
    return np.array(path)


def _cases(seed, n_steps=7, d=3, scale=1.0):
    rng = seeded_rng(seed)
    return rng.normal(size=d), scale * rng.normal(size=(n_steps, d))


# --------------------------------------------------------------------------- momentum


@register("08.momentum_step")
def check_momentum_step(momentum_step):
    """momentum_step(params, grads, state, lr, beta): v = beta v + g, params - lr v."""
    for seed, lr, beta in [(0, 0.05, 0.9), (1, 0.1, 0.5), (2, 0.3, 0.0)]:
        p0, grads = _cases(seed)
        got = _learner_path(momentum_step, "momentum_step", p0, grads, {"lr": lr, "beta": beta})
        velocity = _weights(beta, len(grads)) @ grads
        expected = _path(p0, lr * velocity)
        mistakes = {
            "the parameters should move against the velocity: params - lr * v": _path(p0, -lr * velocity),
            "the state is not carried over: return the new velocity in the state and use it next step":
                _path(p0, lr * grads),
            "this velocity is dampened: use v = beta * v + g, without the factor (1 - beta)":
                _path(p0, lr * (1 - beta) * velocity),
            "the learning rate is applied twice (in the velocity and in the step)":
                _path(p0, lr * lr * velocity),
        }
        expect_close(got, expected, "the parameters after each step",
                     case=f"7 steps with lr={lr}, beta={beta}", mistakes=mistakes)
    return "7 steps, three settings, state handled"


# --------------------------------------------------------------------------- centred RMSprop


@register("08.centered_rmsprop_step")
def check_centered_rmsprop_step(centered_rmsprop_step):
    """centered_rmsprop_step(params, grads, state, lr, rho, eps): divide by sqrt(avg g**2 - avg(g)**2)."""
    for seed, lr, rho, eps, scale, drift in [(3, 0.01, 0.9, 1e-3, 0.02, 0.0), (4, 0.1, 0.99, 1e-8, 1.0, 2.0),
                                             (5, 0.05, 0.5, 1e-2, 0.1, -0.3)]:
        p0, grads = _cases(seed, scale=scale)
        grads = grads + drift * scale  # a steady part, which only the centred form removes
        hyper = {"lr": lr, "rho": rho, "eps": eps}
        got = _learner_path(centered_rmsprop_step, "centered_rmsprop_step", p0, grads, hyper)
        weights = (1 - rho) * _weights(rho, len(grads))
        square, mean = weights @ grads**2, weights @ grads
        variance = np.maximum(square - mean**2, 0.0)
        expected = _path(p0, lr * grads / (np.sqrt(variance) + eps))
        swapped = rho * _weights(1 - rho, len(grads))
        with np.errstate(all="ignore"):
            mistakes = {
                "this is the plain RMSprop: subtract the squared average gradient, sqrt(s - a**2)":
                    _path(p0, lr * grads / (np.sqrt(square) + eps)),
                "subtract the square of the average gradient, a**2, not a itself":
                    _path(p0, lr * grads / (np.sqrt(np.abs(square - mean)) + eps)),
                "square the average of the gradients, a**2, not average the squares twice":
                    _path(p0, lr * grads / (np.sqrt(np.abs(square - square**2)) + eps)),
                "epsilon belongs outside the square root: g / (sqrt(s - a**2) + eps)":
                    _path(p0, lr * grads / np.sqrt(variance + eps)),
                "rho and 1 - rho are swapped: s = rho * s + (1 - rho) * g**2, the same for a":
                    _path(p0, lr * grads / (np.sqrt(np.abs(swapped @ grads**2 - (swapped @ grads) ** 2)) + eps)),
                "the state is not carried over: return both averages in the state and use them next step":
                    _path(p0, lr * grads / (np.sqrt(rho * (1 - rho) * grads**2) + eps)),
                "the average gradient a is not carried over: keep it in the state with s":
                    _path(p0, lr * grads / (np.sqrt(np.abs(square - ((1 - rho) * grads) ** 2)) + eps)),
                "divide the current gradient g, not the average gradient a":
                    _path(p0, lr * mean / (np.sqrt(variance) + eps)),
                "the parameters should move against the gradient":
                    _path(p0, -lr * grads / (np.sqrt(variance) + eps)),
            }
        expect_close(got, expected, "the parameters after each step",
                     case=f"7 steps with lr={lr}, rho={rho}, eps={eps}", mistakes=mistakes)
    return "7 steps, three settings, both averages carried"


# --------------------------------------------------------------------------- Adam


def _moments(grads, beta1, beta2):
    """Adam's m_t and v_t for every t, as weighted sums of past gradients."""
    n = len(grads)
    return (1 - beta1) * _weights(beta1, n) @ grads, (1 - beta2) * _weights(beta2, n) @ grads**2


@register("08.adam_step")
def check_adam_step(adam_step):
    """adam_step(params, grads, state, lr, beta1, beta2, eps): bias-corrected Adam."""
    for seed, lr, b1, b2, eps, scale in [(6, 0.01, 0.9, 0.999, 1e-3, 0.02), (7, 0.1, 0.8, 0.99, 1e-8, 1.0),
                                         (8, 0.05, 0.5, 0.9, 1e-2, 0.1)]:
        p0, grads = _cases(seed, scale=scale)
        n = len(grads)
        t = np.arange(1, n + 1)[:, None]
        hyper = {"lr": lr, "beta1": b1, "beta2": b2, "eps": eps}
        got = _learner_path(adam_step, "adam_step", p0, grads, hyper)

        m, v = _moments(grads, b1, b2)
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        expected = _path(p0, lr * m_hat / (np.sqrt(v_hat) + eps))
        m_sw, v_sw = _moments(grads, b2, b1)
        mistakes = {
            "the bias correction is missing: divide m by (1 - beta1**t) and v by (1 - beta2**t)":
                _path(p0, lr * m / (np.sqrt(v) + eps)),
            "only the first moment is bias-corrected: correct v with (1 - beta2**t) too":
                _path(p0, lr * m_hat / (np.sqrt(v) + eps)),
            "only the second moment is bias-corrected: correct m with (1 - beta1**t) too":
                _path(p0, lr * m / (np.sqrt(v_hat) + eps)),
            "epsilon belongs outside the square root: m_hat / (sqrt(v_hat) + eps)":
                _path(p0, lr * m_hat / np.sqrt(v_hat + eps)),
            "beta1 and beta2 are swapped: beta1 goes with m (the gradient), beta2 with v (its square)":
                _path(p0, lr * (m_sw / (1 - b2**t)) / (np.sqrt(v_sw / (1 - b1**t)) + eps)),
            "the step count t must increase by one every step (it stays at 1)":
                _path(p0, lr * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps)),
            "the state is not carried over: return t, m and v in the state and use them next step":
                _path(p0, lr * grads / (np.abs(grads) + eps)),
        }
        expect_close(got, expected, "the parameters after each step",
                     case=f"7 steps with lr={lr}, beta1={b1}, beta2={b2}, eps={eps}", mistakes=mistakes)
    return "7 steps, three settings, bias correction and state"


# --------------------------------------------------------------------------- schedule


def _warmup_cosine_reference(steps, base_lr, warmup, total):
    steps = np.asarray(steps, dtype=float)
    ramp = base_lr * steps / max(warmup, 1)
    x = np.clip((steps - warmup) / (total - warmup), 0.0, 1.0)
    return np.where(steps < warmup, ramp, base_lr * np.cos(np.pi * x / 2) ** 2)


@register("08.warmup_cosine")
def check_warmup_cosine(warmup_cosine):
    """warmup_cosine(step, base_lr, warmup_steps, total_steps): linear warm-up, then cosine to 0."""
    rng = seeded_rng(31)
    cases = [(float(rng.uniform(0.05, 0.5)), int(rng.integers(3, 8)), 0),
             (float(rng.uniform(1e-4, 1e-3)), int(rng.integers(8, 15)), 0),
             (float(rng.uniform(0.5, 2.0)), 0, 0)]
    cases = [(lr, w, w + int(rng.integers(10, 40))) for lr, w, _ in cases]
    for base_lr, warmup, total in cases:
        steps = np.arange(0, total + 8)
        got = np.array([to_array(call(warmup_cosine, int(s), base_lr, warmup, total, name="warmup_cosine"),
                                 f"warmup_cosine({s}, ...)").astype(float).reshape(-1)[0] for s in steps])
        expected = _warmup_cosine_reference(steps, base_lr, warmup, total)
        s = steps.astype(float)
        cos_part = 0.5 * base_lr * (1 + np.cos(np.pi * (s - warmup) / (total - warmup)))
        mistakes = {
            "the rate must stay at 0 once step >= total_steps (the cosine rises again after its minimum)":
                np.where(s < warmup, base_lr * s / max(warmup, 1), cos_part),
            "start with the linear warm-up: base_lr * step / warmup_steps for step < warmup_steps":
                _warmup_cosine_reference(steps, base_lr, 0, total),
            "the warm-up is off by one: at step 0 the rate is 0 (base_lr * step / warmup_steps)":
                np.where(s < warmup, base_lr * (s + 1) / max(warmup, 1), expected),
            "the cosine runs over total_steps - warmup_steps steps, not over total_steps":
                np.where(s < warmup, base_lr * s / max(warmup, 1),
                         np.where(s >= total, 0.0,
                                  0.5 * base_lr * (1 + np.cos(np.pi * np.clip((s - warmup) / total, 0, 1))))),
            "the cosine starts after the warm-up: use (step - warmup_steps) in it":
                np.where(s < warmup, base_lr * s / max(warmup, 1),
                         0.5 * base_lr * (1 + np.cos(np.pi * np.clip(s / (total - warmup), 0, 1)))),
            "the cosine starts after the warm-up: use (step - warmup_steps) in it (it reaches 0 late)":
                np.where(s < warmup, base_lr * s / max(warmup, 1),
                         np.where(s >= total, 0.0, 0.5 * base_lr * (1 + np.cos(np.pi * s / (total - warmup))))),
        }
        if warmup == 0:
            mistakes.pop("start with the linear warm-up: base_lr * step / warmup_steps for step < warmup_steps")
        expect_close(got, expected, "the learning rates", case=f"steps 0 to {total + 7}, base_lr={base_lr}, "
                     f"warmup_steps={warmup}, total_steps={total}", mistakes=mistakes)
    return "three schedules (one without warm-up), every step"


# --------------------------------------------------------------------------- AdamW


def _adamw_reference(p0, grads, lr, beta1, beta2, eps, weight_decay, coupled=False, order="before"):
    """AdamW (decoupled) as in torch.optim.AdamW; variants for the hints."""
    m_all, v_all = _moments(grads, beta1, beta2)
    params, path = p0.copy(), []
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        if coupled:  # L2 penalty folded into the gradient: Adam on g + wd * params
            g = g + weight_decay * params
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g**2
            m_t, v_t = m, v
        else:
            m_t, v_t = m_all[t - 1], v_all[t - 1]
        direction = (m_t / (1 - beta1**t)) / (np.sqrt(v_t / (1 - beta2**t)) + eps)
        if coupled:
            params = params - lr * direction
        elif order == "before":
            params = params * (1 - lr * weight_decay) - lr * direction
        elif order == "after":
            params = (params - lr * direction) * (1 - lr * weight_decay)
        elif order == "no_lr":
            params = params * (1 - weight_decay) - lr * direction
        path.append(params)
    return np.array(path)


@register("08.adamw_step")
def check_adamw_step(adamw_step):
    """adamw_step(params, grads, state, lr, beta1, beta2, eps, weight_decay): decoupled decay."""
    for seed, lr, b1, b2, eps, wd, scale in [(11, 0.01, 0.9, 0.999, 1e-8, 0.1, 1.0),
                                             (12, 0.1, 0.8, 0.99, 1e-3, 0.5, 0.05),
                                             (13, 0.05, 0.5, 0.9, 1e-6, 0.0, 1.0),
                                             (14, 0.02, 0.9, 0.999, 1e-8, 2.0, 0.3)]:
        p0, grads = _cases(seed, scale=scale)
        p0 = 3.0 * p0  # large weights make the decay visible
        hyper = {"lr": lr, "beta1": b1, "beta2": b2, "eps": eps, "weight_decay": wd}
        got = _learner_path(adamw_step, "adamw_step", p0, grads, hyper)
        ref = _adamw_reference(p0, grads, lr, b1, b2, eps, wd)
        mistakes = {} if wd == 0 else {
            "that is Adam with an L2 penalty (weight_decay * params added to the gradient); AdamW "
            "decays the parameters directly, outside the moments":
                _adamw_reference(p0, grads, lr, b1, b2, eps, wd, coupled=True),
            "the decay is multiplied by the learning rate: params * (1 - lr * weight_decay)":
                _adamw_reference(p0, grads, lr, b1, b2, eps, wd, order="no_lr"),
            "decay the old parameters (before the Adam step), as torch.optim.AdamW does":
                _adamw_reference(p0, grads, lr, b1, b2, eps, wd, order="after"),
            "the weight decay is missing": _adamw_reference(p0, grads, lr, b1, b2, eps, 0.0),
        }
        expect_close(got, ref, "the parameters after each step",
                     case=f"7 steps with lr={lr}, betas=({b1}, {b2}), eps={eps}, weight_decay={wd}",
                     mistakes=mistakes)
    return "7 steps, four settings (weight_decay 0 included), decay decoupled"


# --------------------------------------------------------------------------- Nesterov, look-ahead form


def _quadratic_grad(rng, d):
    A = rng.normal(size=(d, d))
    H, b = A @ A.T / d + 0.5 * np.eye(d), rng.normal(size=d)
    return lambda p: H @ np.asarray(p, dtype=float) - b


def _bumpy_grad(p):
    p = np.asarray(p, dtype=float)
    return p + np.sin(3 * p) + 0.2 * p**3


def _nesterov_reference(grad_fn, p0, lr, mu, n, at="look_ahead", carry=True, sign=1, start="zero"):
    params, path = p0.copy(), []
    v = -lr * grad_fn(p0) if start == "step" else np.zeros_like(p0)
    for _ in range(n):
        point = {"look_ahead": params + mu * v, "here": params, "behind": params - mu * v}[at]
        v_new = mu * v - lr * grad_fn(point)
        params = params + sign * v_new
        v = v_new if carry else np.zeros_like(p0)
        path.append(params)
    return np.array(path)


@register("08.nesterov_step")
def check_nesterov_step(nesterov_step):
    """nesterov_step(params, state, grad_fn, lr, mu): v = mu v - lr grad(params + mu v)."""
    name = "nesterov_step"
    require_callable(nesterov_step, name)
    rng = seeded_rng(41)
    for lr, mu, d, kind in [(0.1, 0.9, 3, "quadratic"), (0.05, 0.5, 4, "quadratic"),
                            (0.02, 0.95, 2, "bumpy"), (0.3, 0.0, 3, "quadratic")]:
        grad_fn = _quadratic_grad(rng, d) if kind == "quadratic" else _bumpy_grad
        p0 = rng.normal(size=d)
        params, state, path = p0.copy(), {}, []
        for t in range(8):
            kept_params, kept_state = params.copy(), copy.deepcopy(state)
            out = call(nesterov_step, params, state, grad_fn, lr=lr, mu=mu, name=name)
            if not np.array_equal(params, kept_params) or not unchanged(kept_state, state):
                raise CheckFailed(f"`{name}` changed params or the state in place at step {t + 1}: return "
                                  "new arrays and a new dictionary.")
            params, state = _step_result(out, name, p0.shape, t + 1)
            path.append(params)
        case = f"8 steps on a {kind} function in {d} dimensions, lr={lr}, mu={mu}"
        mistakes = {} if mu == 0 else {
            "the gradient is taken at params: that is heavy-ball momentum; Nesterov evaluates it at the "
            "look-ahead point params + mu * v": _nesterov_reference(grad_fn, p0, lr, mu, 8, at="here"),
            "the look-ahead point is params + mu * v (v holds the last step, already pointing downhill)":
                _nesterov_reference(grad_fn, p0, lr, mu, 8, at="behind"),
            "the velocity is not carried over: return it in the state and use it next step":
                _nesterov_reference(grad_fn, p0, lr, mu, 8, carry=False),
            "the velocity starts at zero, v_0 = 0 (the first step is -lr * grad_fn(params))":
                _nesterov_reference(grad_fn, p0, lr, mu, 8, start="step"),
        }
        mistakes["the parameters move by + v, theta_t = theta_{t-1} + v_t: v already points downhill"] = \
            _nesterov_reference(grad_fn, p0, lr, mu, 8, sign=-1)
        expect_close(np.array(path), _nesterov_reference(grad_fn, p0, lr, mu, 8),
                     "the parameters after each step", case=case, mistakes=mistakes)
    return "8 steps on quadratic and non-quadratic functions, four settings"


# --------------------------------------------------------------------------- a PyTorch scheduler


def _warmup_step_rates(lr0, warmup, step_size, gamma, n, variant="right"):
    t = np.arange(n)
    if variant == "zero_start":
        warm = lr0 * t / warmup
    else:
        warm = lr0 * (t + 1) / warmup
    since = t if variant == "from_zero" else t - warmup
    decay = lr0 * gamma ** (np.maximum(since, 0) // step_size)
    if variant == "no_warmup":
        return lr0 * gamma ** (t // step_size)
    if variant == "smooth":
        decay = lr0 * gamma ** (np.maximum(since, 0) / step_size)
    rates = np.where(t < warmup, warm, decay)
    return rates * lr0 if variant == "absolute" else rates


@register("08.warmup_step_scheduler")
def check_warmup_step_scheduler(warmup_step_scheduler):
    """warmup_step_scheduler(optimizer, warmup_steps, step_size, gamma) -> a torch scheduler."""
    torch = require_framework("torch")
    name = "warmup_step_scheduler"
    require_callable(warmup_step_scheduler, name)
    rng = seeded_rng(51)
    cases = [(0.1, 5, 10, 0.5, 40), (0.3, 1, 3, 0.1, 12), (0.05, 8, 4, 0.9, 30), (1.0, 3, 1, 0.7, 10)]
    cases = [(float(lr0 * rng.uniform(0.5, 1.5)), w, k, float(g * rng.uniform(0.9, 1.0)), n)
             for lr0, w, k, g, n in cases]
    for lr0, warmup, step_size, gamma, n in cases:
        weight = torch.zeros(2, requires_grad=True)
        optimizer = torch.optim.SGD([weight], lr=lr0)
        scheduler = call(lambda o=optimizer, w=warmup, k=step_size, g=gamma: warmup_step_scheduler(o, w, k, g),
                         name=name)
        require_answer(scheduler, f"{name}(...)")
        if not isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
            raise CheckFailed(f"{name} should return a scheduler from torch.optim.lr_scheduler (for example a "
                              f"LambdaLR), not a {type(scheduler).__name__}.")
        rates = []
        for _ in range(n):
            rates.append(float(optimizer.param_groups[0]["lr"]))
            optimizer.step()
            call(scheduler.step, name="scheduler.step")
        case = f"lr={lr0}, warmup_steps={warmup}, step_size={step_size}, gamma={gamma}"
        expected = _warmup_step_rates(lr0, warmup, step_size, gamma, n)
        mistakes = {
            "the warm-up should start at lr / warmup_steps, not at 0 (the factor is (t + 1) / warmup_steps)":
                _warmup_step_rates(lr0, warmup, step_size, gamma, n, "zero_start"),
            "count the decay steps from the end of the warm-up, not from step 0":
                _warmup_step_rates(lr0, warmup, step_size, gamma, n, "from_zero"),
            "the warm-up is missing": _warmup_step_rates(lr0, warmup, step_size, gamma, n, "no_warmup"),
            "the rate drops in steps, gamma ** floor((t - warmup_steps) / step_size), not smoothly":
                _warmup_step_rates(lr0, warmup, step_size, gamma, n, "smooth"),
            "LambdaLR multiplies the initial rate by your function's value: return a factor, not a rate":
                _warmup_step_rates(lr0, warmup, step_size, gamma, n, "absolute"),
        }
        expect_close(np.array(rates), expected, "the learning rate at each step", case=case,
                     rtol=1e-6, atol=1e-9, mistakes=mistakes)
    return "four schedules followed for 10 to 40 steps through torch.optim"


# --------------------------------------------------------------------------- heavy-ball settings

def _worst_rate(lr, beta, curvatures):
    """The largest |root| of r^2 - (1 + beta - lr lambda) r + beta over the given curvatures."""
    rates = [max(abs(np.roots([1.0, -(1.0 + beta - lr * lam), beta]))) for lam in curvatures]
    return float(max(rates))


@register("08.heavy_ball_settings")
def check_heavy_ball_settings(heavy_ball_settings):
    """heavy_ball_settings(mu, L) returns (lr, beta) with the fastest worst-case rate on curvatures in [mu, L]."""
    require_callable(heavy_ball_settings, "heavy_ball_settings")
    rng = seeded_rng(81)
    cases = [(1.0, 100.0, "mu = 1, L = 100"), (3.0, 3.0, "mu = L = 3 (no conditioning)")]
    mu = float(rng.uniform(0.01, 0.5))
    cases.append((mu, float(mu * rng.uniform(20, 400)), "random mu and L"))
    mu = float(rng.uniform(2.0, 5.0))
    cases.append((mu, float(mu * rng.uniform(1.5, 4.0)), "a mild condition number"))
    for mu, L, case in cases:
        out = call(heavy_ball_settings, mu, L, name="heavy_ball_settings")
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise CheckFailed(f"heavy_ball_settings should return the pair (lr, beta), not a {type(out).__name__}.")
        if not all(isinstance(v, (float, int)) and not isinstance(v, bool) for v in out):
            raise CheckFailed("heavy_ball_settings should return two floats (lr, beta), not "
                              f"{[type(v).__name__ for v in out]}: convert with float(...).")
        lr, beta = (float(v) for v in out)
        if not (np.isfinite(lr) and np.isfinite(beta)):
            raise CheckFailed(f"for {case} heavy_ball_settings returns ({lr}, {beta}): with mu = L the settings "
                              "must still be finite (a formula that divides by L - mu, or by sqrt(L) - sqrt(mu), "
                              "breaks there).")
        root_mu, root_L = np.sqrt(mu), np.sqrt(L)
        want_lr, want_beta = 4 / (root_L + root_mu) ** 2, ((root_L - root_mu) / (root_L + root_mu)) ** 2
        if np.isclose(lr, want_lr, rtol=1e-6, atol=1e-12) and np.isclose(beta, want_beta, rtol=1e-6, atol=1e-12):
            continue
        settings = f"for {case} you return lr = {lr:.6g}, beta = {beta:.6g}"
        if np.isclose(lr, want_beta, rtol=1e-6, atol=1e-12) and np.isclose(beta, want_lr, rtol=1e-6, atol=1e-12):
            raise CheckFailed(f"{settings}: the two are swapped; return (lr, beta) in that order.")
        if np.isclose(beta, np.sqrt(want_beta), rtol=1e-6, atol=1e-12) and mu != L:
            raise CheckFailed(f"{settings}: that beta is (sqrt L - sqrt mu) / (sqrt L + sqrt mu), the best rate "
                              "per step; with complex roots |r| = sqrt(beta), so beta is its square.")
        if np.isclose(lr, 2 / (mu + L), rtol=1e-6):
            raise CheckFailed(f"{settings}: lr = 2 / (mu + L) is gradient descent's best rate; with momentum the "
                              "double roots at mu and at L give another one.")
        if np.isclose(lr, 1 / L, rtol=1e-6) and mu != L:
            raise CheckFailed(f"{settings}: lr = 1/L is gradient descent's safe rate, not the best one with "
                              "momentum: make the roots double at lambda = mu and at lambda = L.")
        ours, theirs = _worst_rate(want_lr, want_beta, (mu, L)), _worst_rate(lr, beta, np.linspace(mu, L, 201))
        raise CheckFailed(f"{settings}; with them the slowest direction shrinks by {theirs:.4g} per step, the "
                          f"best settings reach {ours:.4g}. Solve 1 + beta - lr mu = 2 sqrt(beta) and "
                          "1 + beta - lr L = -2 sqrt(beta) for lr and beta.")
    return "four (mu, L) pairs, mu = L included"
