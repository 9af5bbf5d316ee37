"""Requirement table of chapter 08, optimizers from scratch (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

# --------------------------------------------------------------------------- the solution's answers, breakable


def momentum(params, grads, state, lr, beta, *, sign=1, damp=False, carry=True, shape=None, as_list=False,
             in_place=None):
    """The solution's momentum step; the keywords make it break one requirement."""
    v = beta * state["v"] + grads if carry and "v" in state else np.array(grads, dtype=float)
    if damp:
        v = beta * state.get("v", 0.0) + (1 - beta) * grads
    if in_place == "params":
        params -= lr * v
        return params, {"v": v}
    if in_place == "grads":
        grads *= beta  # the velocity is already computed; the caller's gradient is changed
        return params - lr * v, {"v": v}
    if in_place == "state":
        state["v"] = v
        return params - lr * v, state
    new = params - sign * lr * v
    if shape is not None:
        new = new.reshape(shape)
    return (new.tolist() if as_list else new), {"v": v}


def momentum_params_only(*args, **kwargs):
    return momentum(*args, **kwargs)[0]


def momentum_list_state(*args, **kwargs):
    new, st = momentum(*args, **kwargs)
    return new, [st["v"]]


def centered(params, grads, state, lr, rho, eps, *, centre=True, square_mean=True, eps_inside=False,
             swap=False, carry=True, flat=False, dict_first=False):
    """The solution's centred RMSprop step; the keywords make it break one requirement."""
    a_rho, a_new = (1 - rho, rho) if swap else (rho, 1 - rho)
    s = a_rho * (state.get("s", 0.0) if carry else 0.0) + a_new * grads**2
    a = a_rho * (state.get("a", 0.0) if carry else 0.0) + a_new * grads
    var = s - (a**2 if square_mean else a) if centre else s
    var = np.abs(var)
    denominator = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
    new = params - lr * grads / denominator
    if flat:
        new = new.reshape(-1, 1)
    out = (new, {"s": s, "a": a})
    return out[::-1] if dict_first else out


def adam(params, grads, state, lr, beta1, beta2, eps, *, correct=(True, True), eps_inside=False, swap=False,
         t_from=1, count=True, carry=True):
    """The solution's Adam step; the keywords make it break one requirement."""
    if swap:
        beta1, beta2 = beta2, beta1
    if not carry:
        state = {}
    t = (state.get("t", t_from - 1) + 1) if count else t_from
    m = beta1 * (state.get("m", 0.0) if carry else 0.0) + (1 - beta1) * grads
    v = beta2 * (state.get("v", 0.0) if carry else 0.0) + (1 - beta2) * grads**2
    m_hat = m / (1 - beta1**t) if correct[0] else m
    v_hat = v / (1 - beta2**t) if correct[1] else v
    with np.errstate(all="ignore"):
        step = m_hat / (np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps)
    return params - lr * step, {"t": t, "m": m, "v": v}


def warmup_cosine(step, base_lr, warmup_steps, total_steps, *, off_by_one=False, no_warmup=False,
                  span="rest", shifted=True, clamp=True):
    """The solution's schedule; the keywords make it break one requirement."""
    if step < warmup_steps and not no_warmup:
        return base_lr * (step + off_by_one) / warmup_steps
    if step >= total_steps and clamp:
        return 0.0
    start = warmup_steps if shifted else 0
    length = total_steps - warmup_steps if span == "rest" else total_steps
    if no_warmup:
        start, length = 0, total_steps
    return 0.5 * base_lr * (1 + np.cos(np.pi * (step - start) / length))


def adamw(params, grads, state, lr, beta1, beta2, eps, weight_decay, *, order="before", coupled=False,
          params_only=False):
    """The solution's AdamW step; the keywords make it break one requirement."""
    g = grads + weight_decay * params if coupled else grads
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    v = beta2 * state.get("v", 0.0) + (1 - beta2) * g**2
    direction = (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    if coupled or order == "none":
        new = params - lr * direction
    elif order == "before":
        new = params * (1 - lr * weight_decay) - lr * direction
    elif order == "after":
        new = (params - lr * direction) * (1 - lr * weight_decay)
    else:  # "no_lr"
        new = params * (1 - weight_decay) - lr * direction
    return new if params_only else (new, {"t": t, "m": m, "v": v})


def nesterov(params, state, grad_fn, lr, mu, *, at="look_ahead", carry=True, sign=1, start="zero",
             params_only=False):
    """The solution's Nesterov step; the keywords make it break one requirement."""
    if "v" in state and carry:
        v = state["v"]
    else:
        v = -lr * grad_fn(params) if start == "step" and "v" not in state else np.zeros_like(params)
    point = {"look_ahead": params + mu * v, "here": params, "behind": params - mu * v}[at]
    v = mu * v - lr * grad_fn(point)
    new = params + sign * v
    return new if params_only else (new, {"v": v})


def scheduler(optimizer, warmup_steps, step_size, gamma, *, variant="right"):
    """The solution's scheduler; the keywords make it break one requirement."""
    import torch

    lr0 = optimizer.param_groups[0]["lr"]

    def factor(t):
        if variant == "no_warmup":
            return gamma ** (t // step_size)
        if t < warmup_steps:
            value = (t if variant == "zero_start" else t + 1) / warmup_steps
        else:
            since = t if variant == "from_zero" else t - warmup_steps
            value = gamma ** (since / step_size) if variant == "smooth" else gamma ** (since // step_size)
        return value * lr0 if variant == "absolute" else value

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class HandScheduler:
    """A scheduler written by hand: it sets the rate itself, but it is no torch scheduler."""

    def __init__(self, optimizer, warmup_steps, step_size, gamma):
        self.optimizer, self.t = optimizer, 0
        self.lr0 = optimizer.param_groups[0]["lr"]
        self.w, self.k, self.g = warmup_steps, step_size, gamma
        self._set()

    def _set(self):
        t, w = self.t, self.w
        rate = self.lr0 * ((t + 1) / w if t < w else self.g ** ((t - w) // self.k))
        for group in self.optimizer.param_groups:
            group["lr"] = rate

    def step(self):
        self.t += 1
        self._set()


def heavy_ball(mu, L, *, variant="right"):
    """The solution's settings; the keywords make it break one requirement."""
    a, b = np.sqrt(mu), np.sqrt(L)
    lr, beta = 4 / (a + b) ** 2, ((b - a) / (b + a)) ** 2
    if variant == "swap":
        return float(beta), float(lr)
    if variant == "root":
        return float(lr), float((b - a) / (b + a))
    if variant == "beta09":
        return float(lr), 0.9
    if variant == "divide":
        return float(4 * np.sqrt(beta) / (L - mu)) if L != mu else float("nan"), float(beta)
    if variant == "array":
        return np.array([lr, beta])
    if variant == "tensor":
        import torch
        return torch.tensor(lr), torch.tensor(beta)
    return float(lr), float(beta)


# --------------------------------------------------------------------------- the table

CENTRED = ("$s_t = \\rho s_{t-1} + (1 - \\rho) g_t^2$, $a_t = \\rho a_{t-1} + (1 - \\rho) g_t$ (from "
           "$s_0 = a_0 = 0$), and the step is $-\\eta\\, g_t / (\\sqrt{s_t - a_t^2} + \\epsilon)$")
ADAM = "correct both, $\\hat m_t = m_t / (1 - \\beta_1^t)$ and $\\hat v_t = v_t / (1 - \\beta_2^t)$"
ADAMW = ("$$ \\theta_t = \\theta_{t-1}\\,(1 - \\eta\\lambda) - \\eta\\,\\frac{\\hat m_t}{\\sqrt{\\hat v_t} + "
         "\\epsilon}, $$")
NESTEROV = ("$$ v_t = \\mu\\, v_{t-1} - \\eta\\, \\nabla f(\\theta_{t-1} + \\mu\\, v_{t-1}), \\qquad "
            "\\theta_t = \\theta_{t-1} + v_t, \\qquad v_0 = 0 . $$")

TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/08-optimizers`", "where to read first"),
        free("put in it whatever your method must remember, under any keys you like",
             "a permission: the tests accept a velocity kept in a list and Adam's moments in a nested dict"),
        free("is a dictionary that is empty (`{}`) before the first step",
             "what the answer is given; the row 'a new dictionary' tests what it returns"),
    ],
    "08.momentum_step": [
        requirement("`step(params, grads, state, ...) -> (new_params, new_state)`", momentum_params_only,
                    r"should return the pair"),
        requirement("`step(params, grads, state, ...) -> (new_params, new_state)`", momentum_list_state,
                    r"should be a dict"),
        requirement("Do not modify `params`, `grads` or `state` in place",
                    lambda *a, **k: momentum(*a, **k, in_place="params"), r"changed params or grads in place"),
        requirement("Do not modify `params`, `grads` or `state` in place",
                    lambda *a, **k: momentum(*a, **k, in_place="grads"), r"changed params or grads in place"),
        requirement("build new arrays and a new dictionary", lambda *a, **k: momentum(*a, **k, in_place="state"),
                    r"changed the state dictionary"),
        requirement("build new arrays", lambda *a, **k: momentum(*a, **k, as_list=True), r"float NumPy array"),
        free("Write `momentum_step(params, grads, state, lr, beta)`", "the signature every row calls"),
        requirement("the velocity starts as the first gradient and then follows $v_t = \\beta v_{t-1} + g_t$",
                    lambda *a, **k: momentum(*a, **k, damp=True), r"dampened"),
        requirement("the velocity starts as the first gradient and then follows $v_t = \\beta v_{t-1} + g_t$",
                    lambda *a, **k: momentum(*a, **k, carry=False), r"state is not carried over"),
        requirement("the parameters move by $-\\eta\\, v_t$", lambda *a, **k: momentum(*a, **k, sign=-1),
                    r"move against the velocity"),
    ],
    "08.centered_rmsprop_step": [
        free("The lecture's RMSprop divides by the root of a moving average", "motivation"),
        free("The centred form (Graves, 2013;", "the definition; the formula's rows test it"),
        requirement(CENTRED, lambda *a, **k: centered(*a, **k, centre=False), r"plain RMSprop"),
        requirement(CENTRED, lambda *a, **k: centered(*a, **k, square_mean=False), r"square of the average gradient"),
        requirement(CENTRED, lambda *a, **k: centered(*a, **k, eps_inside=True), r"epsilon belongs outside"),
        requirement(CENTRED, lambda *a, **k: centered(*a, **k, swap=True), r"rho and 1 - rho are swapped"),
        requirement(CENTRED, lambda *a, **k: centered(*a, **k, carry=False), r"state is not carried over"),
        free("Write `centered_rmsprop_step(params, grads, state, lr, rho, eps)`", "the signature"),
        requirement("it returns `(new_params, new_state)` like the others",
                    lambda *a, **k: centered(*a, **k, dict_first=True),
                    r"should be a dict"),
        requirement("`new_params` a float array of the shape of `params`", lambda *a, **k: centered(*a, **k, flat=True),
                    r"has shape"),
    ],
    "08.adam_step": [
        free("Write `adam_step(params, grads, state, lr, beta1, beta2, eps)`", "the signature"),
        requirement("Count the steps $t = 1, 2, \\dots$", lambda *a, **k: adam(*a, **k, t_from=0),
                    r"count the steps from t = 1"),
        requirement("Count the steps $t = 1, 2, \\dots$", lambda *a, **k: adam(*a, **k, count=False), r"stays at 1"),
        requirement("update $m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t$", lambda *a, **k: adam(*a, **k, swap=True),
                    r"beta1 and beta2 are swapped"),
        requirement("(from $m_0 = v_0 = 0$)", lambda *a, **k: adam(*a, **k, carry=False), r"state is not carried over"),
        requirement(ADAM, lambda *a, **k: adam(*a, **k, correct=(False, False)), r"bias correction is missing"),
        requirement(ADAM, lambda *a, **k: adam(*a, **k, correct=(True, False)), r"correct v with"),
        requirement(ADAM, lambda *a, **k: adam(*a, **k, correct=(False, True)), r"correct m with"),
        requirement("step by $-\\eta\\,\\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon)$",
                    lambda *a, **k: adam(*a, **k, eps_inside=True), r"epsilon belongs outside"),
    ],
    "08.warmup_cosine": [
        free("Write `warmup_cosine(step, base_lr, warmup_steps, total_steps)` for an integer `step >= 0`",
             "the signature"),
        requirement("the rate grows linearly: `base_lr * step / warmup_steps`",
                    lambda *a, **k: warmup_cosine(*a, **k, off_by_one=True), r"off by one"),
        requirement("during warm-up, `step < warmup_steps`", lambda *a, **k: warmup_cosine(*a, **k, no_warmup=True),
                    r"start with the linear warm-up"),
        requirement("over the remaining `total_steps - warmup_steps` steps",
                    lambda *a, **k: warmup_cosine(*a, **k, span="total"), r"over total_steps - warmup_steps"),
        requirement("then it follows half a cosine from `base_lr` down to 0",
                    lambda *a, **k: warmup_cosine(*a, **k, shifted=False), r"starts after the warm-up"),
        requirement("from `step >= total_steps` on it stays at 0", lambda *a, **k: warmup_cosine(*a, **k, clamp=False),
                    r"stay at 0"),
    ],
    "08.adamw_step": [
        free("Weight decay pulls every parameter towards zero", "motivation"),
        free("Adding $\\lambda\\theta$ to the gradient (an L2 penalty) does that in SGD", "motivation"),
        free("AdamW (Loshchilov and Hutter, 2019) decouples the decay", "the idea; the formula's rows test it"),
        requirement(ADAMW, lambda *a, **k: adamw(*a, **k, order="no_lr"), r"multiplied by the learning rate"),
        requirement(ADAMW, lambda *a, **k: adamw(*a, **k, order="none"), r"weight decay is missing"),
        requirement("exactly as in Adam (from the gradient alone)", lambda *a, **k: adamw(*a, **k, coupled=True),
                    r"Adam with an L2 penalty"),
        requirement("the decay applied to the old parameters", lambda *a, **k: adamw(*a, **k, order="after"),
                    r"decay the old parameters"),
        requirement("returning `(new_params, new_state)`", lambda *a, **k: adamw(*a, **k, params_only=True),
                    r"should return the pair"),
    ],
    "08.nesterov_step": [
        free("The lecture's `momentum(..., nesterov=True)` is PyTorch's rewriting", "context"),
        free("The original form evaluates the gradient at the point", "the idea; the formula's rows test it"),
        requirement(NESTEROV, lambda *a, **k: nesterov(*a, **k, at="here"), r"that is heavy-ball momentum"),
        requirement(NESTEROV, lambda *a, **k: nesterov(*a, **k, at="behind"), r"look-ahead point is params \+ mu"),
        requirement(NESTEROV, lambda *a, **k: nesterov(*a, **k, sign=-1), r"move by \+ v"),
        requirement(NESTEROV, lambda *a, **k: nesterov(*a, **k, start="step"), r"velocity starts at zero"),
        free("Because the gradient is taken somewhere else than at `params`", "why grad_fn is an argument"),
        free("Write `nesterov_step(params, state, grad_fn, lr, mu)`", "the signature every row calls"),
        requirement("with the velocity in the state", lambda *a, **k: nesterov(*a, **k, carry=False),
                    r"velocity is not carried over"),
        requirement("it returns `(new_params, new_state)`", lambda *a, **k: nesterov(*a, **k, params_only=True),
                    r"should return the pair"),
    ],
    "08.warmup_step_scheduler": [
        requirement("returns a scheduler from `torch.optim.lr_scheduler`", HandScheduler,
                    r"from torch.optim.lr_scheduler"),
        requirement("$\\eta_0\\,(t+1)/W$ for $t < W$", lambda *a, **k: scheduler(*a, **k, variant="zero_start"),
                    r"should start at lr / warmup_steps"),
        requirement("$\\eta_0\\,(t+1)/W$ for $t < W$", lambda *a, **k: scheduler(*a, **k, variant="no_warmup"),
                    r"warm-up is missing"),
        requirement("from $t = W$ on, with $k$ = `step_size`: full rate right after the warm-up",
                    lambda *a, **k: scheduler(*a, **k, variant="from_zero"), r"count the decay steps from the end"),
        requirement("then divided by $1/\\gamma$ every $k$ steps", lambda *a, **k: scheduler(*a, **k, variant="smooth"),
                    r"drops in steps"),
        requirement("for the optimizer's initial rate $\\eta_0$",
                    lambda *a, **k: scheduler(*a, **k, variant="absolute"),
                    r"return a factor, not a rate"),
        free("so the first step already moves", "explains the (t + 1)"),
    ],
    "08.heavy_ball_settings": [
        free("On a quadratic whose curvatures", "the setting; the rows below test the answer"),
        free("Along that direction the error shrinks per step", "the setting"),
        free("$$ e_{t+1} = (1 + \\beta - \\eta\\lambda)\\, e_t - \\beta\\, e_{t-1} . $$", "the setting"),
        requirement("make the slowest direction as fast as possible", lambda mu, L: heavy_ball(mu, L, variant="beta09"),
                    r"slowest direction shrinks by"),
        requirement("make the slowest direction as fast as possible", lambda mu, L: heavy_ball(mu, L, variant="root"),
                    r"beta is its square"),
        requirement("returns them as the pair `(lr, beta)`", lambda mu, L: heavy_ball(mu, L, variant="swap"),
                    r"swapped"),
        requirement("returns them as the pair `(lr, beta)`", lambda mu, L: heavy_ball(mu, L, variant="array"),
                    r"should return the pair"),
        requirement("of two floats", lambda mu, L: heavy_ball(mu, L, variant="tensor"), r"two floats"),
        free("(Hint: when the roots are complex", "a hint"),
        requirement("With $\\mu = L$ the answer is plain gradient descent",
                    lambda mu, L: heavy_ball(mu, L, variant="divide"),
                    r"with mu = L the settings must still be finite"),
    ],
}
