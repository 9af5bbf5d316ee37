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
    same_value,
    seeded_rng,
    to_array,
)


def _weights(decay: float, n: int) -> np.ndarray:
    """Lower-triangular matrix L[k, i] = decay**(k - i) for i <= k (a moving sum as a product)."""
    k, i = np.indices((n, n))
    return np.where(i <= k, decay ** np.maximum(k - i, 0), 0.0)


def _path(p0, updates):
    """Parameters after each step, p_t = p_0 - sum of the first t updates."""
    return p0 - np.cumsum(updates, axis=0)


def _same_state(before: dict, after) -> bool:
    """False only when the state was shown to change; a value that cannot be compared (a
    nested dict of arrays, say) is "cannot tell", never a change."""
    return same_value(before, after) is not False


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
        if not _same_state(kept_state, state):
            raise CheckFailed(f"`{name}` changed the state dictionary it was given (step {t}): build and "
                              "return a new dictionary instead of writing into `state`.")
        new_params, state = expect_pair(out, f"`{name}`", "(new_params, new_state)")
        if not isinstance(state, dict):
            raise CheckFailed(f"the new state returned by `{name}` should be a dict, not "
                              f"{type(state).__name__}.")
        new_params = to_array(new_params, "new_params").astype(float)
        if new_params.shape != params.shape:
            raise CheckFailed(f"new_params has shape {new_params.shape}, expected {params.shape} (step {t}).")
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


# --------------------------------------------------------------------------- RMSprop


@register("08.rmsprop_step")
def check_rmsprop_step(rmsprop_step):
    """rmsprop_step(params, grads, state, lr, rho, eps): moving average of g**2, divide by its root."""
    for seed, lr, rho, eps, scale in [(3, 0.01, 0.9, 1e-3, 0.02), (4, 0.1, 0.99, 1e-8, 1.0),
                                      (5, 0.05, 0.5, 1e-2, 0.1)]:
        p0, grads = _cases(seed, scale=scale)
        hyper = {"lr": lr, "rho": rho, "eps": eps}
        got = _learner_path(rmsprop_step, "rmsprop_step", p0, grads, hyper)
        square = (1 - rho) * _weights(rho, len(grads)) @ grads**2
        expected = _path(p0, lr * grads / (np.sqrt(square) + eps))
        swapped = rho * _weights(1 - rho, len(grads)) @ grads**2
        mistakes = {
            "epsilon belongs outside the square root: g / (sqrt(s) + eps)":
                _path(p0, lr * grads / np.sqrt(square + eps)),
            "divide by the square root of the average, sqrt(s) + eps": _path(p0, lr * grads / (square + eps)),
            "rho and 1 - rho are swapped: s = rho * s + (1 - rho) * g**2":
                _path(p0, lr * grads / (np.sqrt(swapped) + eps)),
            "the state is not carried over: return the new average in the state and use it next step":
                _path(p0, lr * grads / (np.sqrt((1 - rho) * grads**2) + eps)),
            "the parameters should move against the gradient": _path(p0, -lr * grads / (np.sqrt(square) + eps)),
        }
        expect_close(got, expected, "the parameters after each step",
                     case=f"7 steps with lr={lr}, rho={rho}, eps={eps}", mistakes=mistakes)
    return "7 steps, three settings, state handled"


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
    for base_lr, warmup, total in [(0.1, 5, 30), (3e-4, 10, 100), (1.0, 0, 12)]:
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
        }
        if warmup == 0:
            mistakes.pop("start with the linear warm-up: base_lr * step / warmup_steps for step < warmup_steps")
        expect_close(got, expected, "the learning rates", case=f"steps 0 to {total + 7}, base_lr={base_lr}, "
                     f"warmup_steps={warmup}, total_steps={total}", mistakes=mistakes)
    return "three schedules, every step"
