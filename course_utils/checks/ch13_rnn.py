"""Checks for chapter 13, recurrent networks."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    expect_pair,
    numerical_gradient,
    register,
    seeded_rng,
)


def _windows(series, window):
    view = np.lib.stride_tricks.sliding_window_view(np.asarray(series, dtype=float), window)
    return view[:-1].copy(), np.asarray(series, dtype=float)[window:]


def _pair(out, name):
    return expect_pair(out, name, "(X, y)")


@register("13.make_windows")
def check_make_windows(make_windows):
    """make_windows(series, window) returns X (n - window, window) and the next values y."""
    rng = seeded_rng(13)
    cases = [(np.arange(10.0), 3, "series 0..9, window 3"), (np.arange(6.0), 1, "series 0..5, window 1")]
    cases += [(rng.normal(size=n), w, f"a random series of length {n}, window {w}")
              for n, w in [(30, 5), (17, 16), (50, 12)]]
    for series, window, case in cases:
        X, y = _pair(call(make_windows, series, window, name="make_windows"), "make_windows")
        X_ref, y_ref = _windows(series, window)
        n = len(series)
        last = np.array([series[i + window - 1] for i in range(n - window)])
        skip = np.array([series[i + window + 1] for i in range(n - window - 1)])
        expect_close(y, y_ref, "y", case=case,
                     mistakes={"the target is the last value *inside* the window; it should be the value "
                               "right after it, series[i + window]": last,
                               "the target skips a step: use series[i + window]": skip,
                               "y has one value too few: the last window, whose target is the last "
                               "value of the series, is missing": y_ref[:-1]})
        X_extra = np.lib.stride_tricks.sliding_window_view(series, window)
        expect_close(X, X_ref, "X", case=case,
                     mistakes={"X has one window too many: the last window has no value after it to "
                               "predict": X_extra,
                               "X has one window too few: the last window is missing": X_ref[:-1],
                               "X should be 2-D, shape (n - window, window), one window per row":
                               X_ref[..., None],
                               "X is transposed: one window per row, shape (n - window, window)": X_ref.T})
    return "windows and targets on five series"


def _step(x, h, W_x, W_h, b):
    return np.tanh(np.einsum("ij,j->i", W_x, x) + np.einsum("ij,j->i", W_h, h) + b)


def _random_cell(rng, d_x, d_h):
    return (rng.normal(size=(d_h, d_x)), rng.normal(size=(d_h, d_h)) * 0.6, rng.normal(size=d_h))


@register("13.rnn_step")
def check_rnn_step(rnn_step):
    """rnn_step(x, h, W_x, W_h, b) returns tanh(W_x x + W_h h + b)."""
    rng = seeded_rng(131)
    for d_x, d_h in [(3, 3), (2, 4), (5, 3), (1, 1)]:
        W_x, W_h, b = _random_cell(rng, d_x, d_h)
        x, h = rng.normal(size=d_x), rng.normal(size=d_h)
        case = f"d_x={d_x}, d_h={d_h}"
        got = call(rnn_step, x, h, W_x, W_h, b, name="rnn_step")
        a = W_x @ x + W_h @ h + b
        mistakes = {"the tanh is missing: h_t = tanh(W_x x + W_h h + b)": a,
                    "use tanh, not the sigmoid": 1 / (1 + np.exp(-a)),
                    "use tanh, not ReLU": np.maximum(a, 0),
                    "the bias b is missing": np.tanh(W_x @ x + W_h @ h),
                    "W_h is transposed: the recurrent term is W_h @ h": np.tanh(W_x @ x + W_h.T @ h + b)}
        if d_x == d_h:
            mistakes["W_x is transposed: the input term is W_x @ x"] = np.tanh(W_x.T @ x + W_h @ h + b)
        expect_close(got, _step(x, h, W_x, W_h, b), "the new state", case=case, mistakes=mistakes)
    return "four cell sizes"


@register("13.rnn_forward")
def check_rnn_forward(rnn_forward):
    """rnn_forward(xs, h0, W_x, W_h, b) returns the states h_1..h_T, shape (T, d_h)."""
    rng = seeded_rng(132)
    for T, d_x, d_h in [(6, 2, 3), (1, 3, 2), (12, 1, 4)]:
        W_x, W_h, b = _random_cell(rng, d_x, d_h)
        xs, h0 = rng.normal(size=(T, d_x)), rng.normal(size=d_h)
        states, h = [], h0
        for x in xs:
            h = _step(x, h, W_x, W_h, b)
            states.append(h)
        expected = np.array(states)
        fresh = np.array([_step(x, h0, W_x, W_h, b) for x in xs])
        got = call(rnn_forward, xs, h0, W_x, W_h, b, name="rnn_forward")
        expect_close(got, expected, "the states", case=f"T={T}, d_x={d_x}, d_h={d_h}",
                     mistakes={"only the last state is returned: return every state h_1..h_T": expected[-1],
                               "h0 is included: return h_1..h_T only": np.vstack([h0, expected]),
                               "h0 is included and h_T is missing: store the state after each step":
                               np.vstack([h0, expected[:-1]]),
                               "each step starts from h0: carry the new state into the next step": fresh})
    return "three sequences"


def _loss(xs, ys, h0, W_x, W_h, b):
    h, total = h0, 0.0
    for x, y in zip(xs, ys, strict=True):
        h = _step(x, h, W_x, W_h, b)
        total += 0.5 * float(np.sum((h - y) ** 2))
    return total


def _bptt_variant(xs, ys, h0, W_x, W_h, b, recurrent=True, tanh_grad=True, transpose=True, prev=True):
    """BPTT with one deliberate change per flag (the mistakes the hints name)."""
    hs, h = [], h0
    for x in xs:
        h = _step(x, h, W_x, W_h, b)
        hs.append(h)
    grads = [np.zeros_like(W_x), np.zeros_like(W_h), np.zeros_like(b)]
    delta_next = np.zeros_like(b)
    for t in reversed(range(len(xs))):
        back = (W_h.T if transpose else W_h) @ delta_next
        grad_h = hs[t] - ys[t] + (back if recurrent else 0.0)
        delta = grad_h * (1 - hs[t] ** 2) if tanh_grad else grad_h
        h_prev = (hs[t - 1] if t > 0 else h0) if prev else hs[t]
        grads[0] += np.outer(delta, xs[t])
        grads[1] += np.outer(delta, h_prev)
        grads[2] += delta
        delta_next = delta
    return grads


def _numerical_grads(xs, ys, h0, params):
    """Central-difference gradients of the loss for every parameter (the independent reference)."""
    grads = {}
    for name, value in params.items():
        def loss_of(p, name=name):
            return _loss(xs, ys, h0, **{**params, name: p})

        grads[name] = numerical_gradient(loss_of, value)
    return grads


@register("13.rnn_bptt")
def check_rnn_bptt(rnn_bptt):
    """rnn_bptt(xs, ys, h0, W_x, W_h, b) returns (dW_x, dW_h, db), checked against a numerical gradient."""
    rng = seeded_rng(133)
    for T, d_x, d_h in [(4, 2, 3), (1, 2, 2), (7, 3, 4)]:
        W_x, W_h, b = _random_cell(rng, d_x, d_h)
        xs, ys, h0 = rng.normal(size=(T, d_x)), rng.normal(size=(T, d_h)), rng.normal(size=d_h)
        params = {"W_x": W_x, "W_h": W_h, "b": b}
        out = call(rnn_bptt, xs, ys, h0, W_x, W_h, b, name="rnn_bptt")
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise CheckFailed("rnn_bptt should return the three gradients (dW_x, dW_h, db).")
        variants = {
            "the gradient from later steps is missing: add W_h.T @ delta_{t+1} to dL/dh_t":
                _bptt_variant(xs, ys, h0, W_x, W_h, b, recurrent=False),
            "the tanh derivative (1 - h_t**2) is missing": _bptt_variant(xs, ys, h0, W_x, W_h, b, tanh_grad=False),
            "W_h must be transposed when the gradient flows back: W_h.T @ delta":
                _bptt_variant(xs, ys, h0, W_x, W_h, b, transpose=False),
            "dW_h pairs delta_t with the previous state h_{t-1}, not with h_t":
                _bptt_variant(xs, ys, h0, W_x, W_h, b, prev=False),
        }
        case = f"T={T}, d_x={d_x}, d_h={d_h}"
        references = _numerical_grads(xs, ys, h0, params)
        for index, (name, reference) in enumerate(references.items()):
            mistakes = {hint: grads[index] for hint, grads in variants.items()}
            mistakes["the gradient is twice too large: the 1/2 in the loss cancels the 2 of the square"] = 2 * reference
            mistakes["the gradient is half what it should be: d/dh of 1/2 (h - y)^2 is (h - y)"] = reference / 2
            mistakes["the gradient has the wrong sign: it is (h_t - y_t), not (y_t - h_t)"] = -reference
            expect_close(out[index], reference, f"d{name}", case=case, rtol=1e-5, atol=1e-7, mistakes=mistakes)
    return "three sequences against numerical gradients"
