"""Chapter 08 checks: wrong answers get the right hint, other correct answers pass."""

import math

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

# ----------------------------------------------------------------- momentum


def momentum_good(params, grads, state, lr, beta):
    v = beta * state["v"] + grads if "v" in state else grads.copy()
    return params - lr * v, {"v": v}


def momentum_keras_form(params, grads, state, lr, beta):
    """Keras stores u = -lr * v: the same path for a constant learning rate."""
    u = beta * state.get("u", np.zeros_like(params)) - lr * grads
    return params + u, {"u": u}


def momentum_float32(params, grads, state, lr, beta):
    v = np.float32(beta) * state.get("v", np.zeros(len(params), np.float32)) + grads.astype(np.float32)
    return (params - lr * v).astype(np.float32), {"v": v}


def make_momentum(sign=1, damp=False, carry=True, lr_twice=False, in_place=False):
    def step(params, grads, state, lr, beta):
        v_old = state.get("v", np.zeros_like(params)) if carry else np.zeros_like(params)
        v = beta * v_old + ((1 - beta) if damp else 1) * grads * (lr if lr_twice else 1)
        if in_place:
            state["v"] = v
            return params - sign * lr * v, state
        return params - sign * lr * v, {"v": v}
    return step


@pytest.mark.parametrize("answer", [momentum_good, momentum_keras_form, momentum_float32])
def test_momentum_accepts(answer):
    assert check("08.momentum_step", answer)


@pytest.mark.parametrize("answer,hint", [
    (make_momentum(sign=-1), "against the velocity"),
    (make_momentum(damp=True), "dampened"),
    (make_momentum(carry=False), "not carried over"),
    (make_momentum(lr_twice=True), "applied twice"),
    (make_momentum(in_place=True), "changed the state dictionary"),
    (lambda p, g, s, lr, beta: p, "pair"),
])
def test_momentum_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("08.momentum_step", answer)


def test_momentum_params_in_place():
    def in_place(params, grads, state, lr, beta):
        params -= lr * grads
        return params, {}

    with pytest.raises(CheckFailed, match="in place"):
        check("08.momentum_step", in_place)


# ----------------------------------------------------------------- centred RMSprop


def centred_good(params, grads, state, lr, rho, eps):
    s = rho * state.get("s", 0.0) + (1 - rho) * grads**2
    a = rho * state.get("a", 0.0) + (1 - rho) * grads
    return params - lr * grads / (np.sqrt(s - a**2) + eps), {"s": s, "a": a}


def centred_loop(params, grads, state, lr, rho, eps):
    pairs = state.get("pairs", [(0.0, 0.0)] * len(params))
    pairs = [(rho * s + (1 - rho) * g * g, rho * a + (1 - rho) * g)
             for (s, a), g in zip(pairs, grads, strict=True)]
    new = [p - lr * g / (math.sqrt(max(s - a * a, 0.0)) + eps)
           for p, g, (s, a) in zip(params, grads, pairs, strict=True)]
    return np.array(new), {"pairs": pairs}


def make_centred(plain=False, minus_a=False, eps_inside=False, swap=False, carry=True, carry_a=True,
                 sign=1):
    def step(params, grads, state, lr, rho, eps):
        s_old = state.get("s", 0.0) if carry else 0.0
        a_old = state.get("a", 0.0) if carry and carry_a else 0.0
        keep, new = (1 - rho, rho) if swap else (rho, 1 - rho)
        s = keep * s_old + new * grads**2
        a = keep * a_old + new * grads
        variance = s if plain else np.abs(s - a) if minus_a else s - a**2
        denom = np.sqrt(variance + eps) if eps_inside else np.sqrt(variance) + eps
        return params - sign * lr * grads / denom, {"s": s, "a": a}
    return step


@pytest.mark.parametrize("answer", [centred_good, centred_loop])
def test_centred_rmsprop_accepts(answer):
    assert check("08.centered_rmsprop_step", answer)


@pytest.mark.parametrize("answer,hint", [
    (make_centred(plain=True), "plain RMSprop"),
    (make_centred(minus_a=True), "not a itself"),
    (make_centred(eps_inside=True), "outside the square root"),
    (make_centred(swap=True), "swapped"),
    (make_centred(carry=False), "state is not carried over"),
    (make_centred(carry_a=False), "average gradient a is not carried"),
    (make_centred(sign=-1), "against the gradient"),
    (lambda p, g, s, lr, rho, eps: None, "pair"),
])
def test_centred_rmsprop_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("08.centered_rmsprop_step", answer)


# ----------------------------------------------------------------- Adam


def adam_good(params, grads, state, lr, beta1, beta2, eps):
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * grads
    v = beta2 * state.get("v", 0.0) + (1 - beta2) * grads**2
    return params - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), {"t": t, "m": m, "v": v}


def adam_torch_form(params, grads, state, lr, beta1, beta2, eps):
    """PyTorch's arrangement: step size lr / bc1, denominator sqrt(v) / sqrt(bc2) + eps."""
    step = state.get("step", 0) + 1
    m = state.get("m", np.zeros_like(params)) + (1 - beta1) * (grads - state.get("m", np.zeros_like(params)))
    v = state.get("v", np.zeros_like(params)) * beta2 + (1 - beta2) * grads * grads
    bc1, bc2 = 1 - beta1**step, 1 - beta2**step
    return params - (lr / bc1) * m / (np.sqrt(v) / math.sqrt(bc2) + eps), {"step": step, "m": m, "v": v}


def make_adam(correct_m=True, correct_v=True, eps_inside=False, swap=False, t_fixed=False, carry=True, t0=False):
    def step(params, grads, state, lr, beta1, beta2, eps):
        b1, b2 = (beta2, beta1) if swap else (beta1, beta2)
        old = state if carry else {}
        t = 1 if t_fixed else old.get("t", 0) + 1
        m = b1 * old.get("m", 0.0) + (1 - b1) * grads
        v = b2 * old.get("v", 0.0) + (1 - b2) * grads**2
        tc = t - 1 if t0 else t
        with np.errstate(all="ignore"):
            m_hat = m / (1 - b1**tc) if correct_m else m
            v_hat = v / (1 - b2**tc) if correct_v else v
        denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return params - lr * m_hat / denom, {"t": t, "m": m, "v": v}
    return step


@pytest.mark.parametrize("answer", [adam_good, adam_torch_form])
def test_adam_accepts(answer):
    assert check("08.adam_step", answer)


@pytest.mark.parametrize("answer,hint", [
    (make_adam(correct_m=False, correct_v=False), "bias correction is missing"),
    (make_adam(correct_v=False), "only the first moment"),
    (make_adam(correct_m=False), "only the second moment"),
    (make_adam(eps_inside=True), "outside the square root"),
    (make_adam(swap=True), "swapped"),
    (make_adam(t_fixed=True), "must increase"),
    (make_adam(carry=False), "not carried over"),
    (make_adam(t0=True), "count the steps from t = 1"),
])
def test_adam_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("08.adam_step", answer)


# ----------------------------------------------------------------- schedule


def schedule_good(step, base_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    if step >= total_steps:
        return 0.0
    return 0.5 * base_lr * (1 + math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps)))


def schedule_numpy(step, base_lr, warmup_steps, total_steps):
    """Vectorised style with np.where and np.clip, returns a 0-d float32 array."""
    s = np.float64(step)
    progress = np.clip((s - warmup_steps) / (total_steps - warmup_steps), 0, 1)
    with np.errstate(all="ignore"):
        ramp = base_lr * s / warmup_steps if warmup_steps else 0.0
    return np.asarray(np.where(s < warmup_steps, ramp, base_lr * np.sin(np.pi * (1 - progress) / 2) ** 2),
                      dtype=np.float32)


def make_schedule(clamp=True, warm=True, off_by_one=False, over_total=False, unshifted=False):
    def schedule(step, base_lr, warmup_steps, total_steps):
        if warm and step < warmup_steps:
            return base_lr * (step + off_by_one) / warmup_steps
        if clamp and step >= total_steps:
            return 0.0
        w = warmup_steps if warm else 0
        shifted = step if unshifted else step - w
        span = total_steps if over_total else total_steps - w
        return 0.5 * base_lr * (1 + math.cos(math.pi * min(shifted / span, 1.0 if clamp else 9e9)))
    return schedule


@pytest.mark.parametrize("answer", [schedule_good, schedule_numpy])
def test_schedule_accepts(answer):
    assert check("08.warmup_cosine", answer)


@pytest.mark.parametrize("answer,hint", [
    (make_schedule(clamp=False), "stay at 0"),
    (make_schedule(warm=False), "start with the linear warm-up"),
    (make_schedule(off_by_one=True), "off by one"),
    (make_schedule(over_total=True), "not over total_steps"),
    (make_schedule(unshifted=True), "starts after the warm-up"),
    (lambda step, base_lr, w, t: "fast", "numbers"),
])
def test_schedule_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("08.warmup_cosine", answer)


# --------------------------------------------------------------------------- adamw_step


def adamw_direct(params, grads, state, lr, beta1, beta2, eps, weight_decay):
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * grads
    v = beta2 * state.get("v", 0.0) + (1 - beta2) * grads**2
    step = (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return params * (1 - lr * weight_decay) - lr * step, {"t": t, "m": m, "v": v}


def adamw_split(params, grads, state, lr, beta1, beta2, eps, weight_decay):
    """Decay first as its own array, moments kept as a list (float32 state)."""
    decayed = params - lr * weight_decay * params
    t = state.get("t", 0) + 1
    m, v = state.get("mv", [np.zeros_like(grads), np.zeros_like(grads)])
    m = (beta1 * m + (1 - beta1) * grads).astype(np.float32)
    v = (beta2 * v + (1 - beta2) * grads * grads).astype(np.float32)
    m_hat, v_hat = m.astype(float) / (1 - beta1**t), v.astype(float) / (1 - beta2**t)
    return decayed - lr * m_hat / (np.sqrt(v_hat) + eps), {"t": t, "mv": [m.astype(float), v.astype(float)]}


@pytest.mark.parametrize("answer", [adamw_direct, adamw_split])
def test_adamw_accepts(answer):
    assert check("08.adamw_step", answer)


def adamw_l2(params, grads, state, lr, beta1, beta2, eps, weight_decay):
    return adamw_direct(params, grads + weight_decay * params, state, lr, beta1, beta2, eps, 0.0)


def adamw_no_lr(params, grads, state, lr, beta1, beta2, eps, weight_decay):
    new, state = adamw_direct(params, grads, state, lr, beta1, beta2, eps, 0.0)
    return new - weight_decay * params, state


def adamw_after(params, grads, state, lr, beta1, beta2, eps, weight_decay):
    new, state = adamw_direct(params, grads, state, lr, beta1, beta2, eps, 0.0)
    return new * (1 - lr * weight_decay), state


def adamw_plain(params, grads, state, lr, beta1, beta2, eps, weight_decay):
    return adamw_direct(params, grads, state, lr, beta1, beta2, eps, 0.0)


@pytest.mark.parametrize("answer,hint", [
    (adamw_l2, "L2 penalty"),
    (adamw_no_lr, "multiplied by the learning rate"),
    (adamw_after, "before the Adam step"),
    (adamw_plain, "weight decay is missing"),
])
def test_adamw_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("08.adamw_step", answer)


# --------------------------------------------------------------------------- nesterov_step


def nesterov_direct(params, state, grad_fn, lr, mu):
    v = state.get("v", np.zeros_like(params))
    v = mu * v - lr * grad_fn(params + mu * v)
    return params + v, {"v": v}


def nesterov_list_state(params, state, grad_fn, lr, mu):
    """Velocity stored as a list, look-ahead point computed first."""
    v = np.array(state["velocity"]) if state else np.zeros(len(params))
    ahead = [p + mu * vi for p, vi in zip(params, v, strict=True)]
    g = grad_fn(np.array(ahead))
    v = [mu * vi - lr * gi for vi, gi in zip(v, g, strict=True)]
    return np.array([p + vi for p, vi in zip(params, v, strict=True)]), {"velocity": v}


@pytest.mark.parametrize("answer", [nesterov_direct, nesterov_list_state])
def test_nesterov_accepts(answer):
    assert check("08.nesterov_step", answer)


def nesterov_here(params, state, grad_fn, lr, mu):
    v = state.get("v", np.zeros_like(params))
    v = mu * v - lr * grad_fn(params)
    return params + v, {"v": v}


def nesterov_behind(params, state, grad_fn, lr, mu):
    v = state.get("v", np.zeros_like(params))
    v = mu * v - lr * grad_fn(params - mu * v)
    return params + v, {"v": v}


def nesterov_forgets(params, state, grad_fn, lr, mu):
    v = mu * np.zeros_like(params) - lr * grad_fn(params)
    return params + v, {}


def nesterov_in_place(params, state, grad_fn, lr, mu):
    v = state.setdefault("v", np.zeros_like(params))
    v *= mu
    v -= lr * grad_fn(params + v)
    return params + v, state


@pytest.mark.parametrize("answer,hint", [
    (nesterov_here, "heavy-ball"),
    (nesterov_behind, "look-ahead point is params \\+ mu"),
    (nesterov_forgets, "not carried over"),
    (nesterov_in_place, "in place"),
    (lambda params, state, grad_fn, lr, mu: params, "pair"),
])
def test_nesterov_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("08.nesterov_step", answer)


# --------------------------------------------------------------------------- warmup_step_scheduler


def _torch():
    return pytest.importorskip("torch")


def test_warmup_step_scheduler_accepts():
    torch = _torch()
    lrs = torch.optim.lr_scheduler

    def lambda_form(optimizer, warmup_steps, step_size, gamma):
        return lrs.LambdaLR(optimizer, lambda t: (t + 1) / warmup_steps if t < warmup_steps
                            else gamma ** ((t - warmup_steps) // step_size))

    def sequential_form(optimizer, warmup_steps, step_size, gamma):
        warm = lrs.LinearLR(optimizer, start_factor=1 / warmup_steps, end_factor=1.0,
                            total_iters=max(warmup_steps - 1, 1))
        decay = lrs.StepLR(optimizer, step_size=step_size, gamma=gamma)
        return lrs.SequentialLR(optimizer, [warm, decay], milestones=[warmup_steps])

    assert check("08.warmup_step_scheduler", lambda_form)
    assert check("08.warmup_step_scheduler", sequential_form)


@pytest.mark.parametrize("variant,hint", [
    ("zero_start", "start at lr / warmup_steps"),
    ("from_zero", "from the end of the warm-up"),
    ("no_warmup", "warm-up is missing"),
    ("list", "scheduler"),
])
def test_warmup_step_scheduler_rejects(variant, hint):
    torch = _torch()

    def answer(optimizer, warmup_steps, step_size, gamma):
        if variant == "list":
            return [0.1, 0.2]

        def factor(t):
            if variant == "no_warmup":
                return gamma ** (t // step_size)
            if t < warmup_steps:
                return (t + (0 if variant == "zero_start" else 1)) / warmup_steps
            since = t if variant == "from_zero" else t - warmup_steps
            return gamma ** (since // step_size)

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    with pytest.raises(CheckFailed, match=hint):
        check("08.warmup_step_scheduler", answer)


# --------------------------------------------------------------------------- held-out answers
# Each wrong answer here passed an earlier version of its check (a check holds the
# exercise statement, not a few outputs); each correct answer in another style must pass.


def _centred_rmsprop(params, grads, state, lr, rho, eps):
    s_a = state.get("s_a", np.zeros((2, len(params))))
    s_a = rho * s_a + (1 - rho) * np.stack([grads**2, grads])
    return params - lr * grads / (np.sqrt(s_a[0] - s_a[1] ** 2) + eps), {"s_a": s_a}


def test_parameters_varied_centred_rmsprop_needs_the_mean_gradient():
    """Gradients with a steady part tell centred RMSprop from the plain one."""
    def plain(params, grads, state, lr, rho, eps):
        s = rho * state.get("s", 0.0) + (1 - rho) * grads**2
        return params - lr * grads / (np.sqrt(s) + eps), {"s": s}

    with pytest.raises(CheckFailed, match="plain RMSprop"):
        check("08.centered_rmsprop_step", plain)
    assert check("08.centered_rmsprop_step", _centred_rmsprop)  # both averages in one array


def test_centred_rmsprop_statement_is_pytorchs():
    """The statement's update is torch.optim.RMSprop(centered=True) step for step."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(9, 4)) + 0.5
    param = torch.tensor(rng.normal(size=4), requires_grad=True)
    params, state = param.detach().numpy().copy(), {}
    optimizer = torch.optim.RMSprop([param], lr=0.05, alpha=0.8, eps=1e-6, centered=True)
    for g in grads:
        param.grad = torch.tensor(g)
        optimizer.step()
        params, state = _centred_rmsprop(params, g, state, lr=0.05, rho=0.8, eps=1e-6)
        np.testing.assert_allclose(params, param.detach().numpy(), rtol=1e-10, atol=1e-12)


def adam_nested_state(params, grads, state, lr, beta1, beta2, eps):
    """Adam keeping its moments in a nested dict (the 3 of 45 textbook answers once rejected)."""
    t = state.get("t", 0) + 1
    moments = state.get("moments", {"m": np.zeros_like(params), "v": np.zeros_like(params)})
    m = beta1 * moments["m"] + (1 - beta1) * grads
    v = beta2 * moments["v"] + (1 - beta2) * grads**2
    step = lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return params - step, {"t": t, "moments": {"m": m, "v": v}}


def momentum_list_state(params, grads, state, lr, beta):
    """The velocity kept in a list of one array, float32 arithmetic."""
    v = [beta * state["v"][0] + grads] if "v" in state else [np.array(grads, dtype=np.float32)]
    return params - lr * v[0], {"v": v}


@pytest.mark.parametrize("exercise_id,answer", [
    ("08.adam_step", adam_nested_state),
    ("08.momentum_step", momentum_list_state),
])
def test_nested_state_is_not_a_change(exercise_id, answer):
    assert check(exercise_id, answer)


def test_nested_state_written_in_place_is_still_reported():
    def writes_into_state(params, grads, state, lr, beta1, beta2, eps):
        new_params, new_state = adam_nested_state(params, grads, state, lr, beta1, beta2, eps)
        if "moments" in state:
            state["moments"]["m"] += 1.0
        return new_params, new_state

    with pytest.raises(CheckFailed, match="changed the state dictionary"):
        check("08.adam_step", writes_into_state)



# ---------------------------------------------------------------- 08.heavy_ball_settings


def heavy_ball_roots(mu, L):
    root_mu, root_L = np.sqrt(mu), np.sqrt(L)
    return float(4 / (root_L + root_mu) ** 2), float(((root_L - root_mu) / (root_L + root_mu)) ** 2)


def heavy_ball_kappa(mu, L):
    """The same settings written with the condition number, returned as a list."""
    k = L / mu
    return [4 / (mu * (np.sqrt(k) + 1) ** 2), ((np.sqrt(k) - 1) / (np.sqrt(k) + 1)) ** 2]


@pytest.mark.parametrize("answer", [heavy_ball_roots, heavy_ball_kappa])
def test_heavy_ball_settings_accepts(answer):
    assert check("08.heavy_ball_settings", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda mu, L: heavy_ball_roots(mu, L)[::-1], "swapped"),
    (lambda mu, L: (heavy_ball_roots(mu, L)[0], np.sqrt(heavy_ball_roots(mu, L)[1])), "beta is its square"),
    (lambda mu, L: (2 / (mu + L), heavy_ball_roots(mu, L)[1]), "gradient descent's best rate"),
    (lambda mu, L: (1 / L, 0.9), "gradient descent's safe rate"),
    (lambda mu, L: (heavy_ball_roots(mu, L)[0], 0.9), "slowest direction shrinks by"),
    (lambda mu, L: np.array(heavy_ball_roots(mu, L)), "the pair \\(lr, beta\\)"),
])
def test_heavy_ball_settings_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("08.heavy_ball_settings", answer)


@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("08")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
