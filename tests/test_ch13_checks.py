"""Chapter 13 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check


def windows_loop(series, window):
    X = np.zeros((len(series) - window, window))
    y = np.zeros(len(series) - window)
    for i in range(len(series) - window):
        for j in range(window):
            X[i, j] = series[i + j]
        y[i] = series[i + window]
    return X, y


def windows_strided(series, window):
    view = np.lib.stride_tricks.sliding_window_view(np.asarray(series, dtype=np.float32), window)
    return view[:-1], np.asarray(series, dtype=np.float32)[window:]


@pytest.mark.parametrize("answer", [windows_loop, windows_strided])
def test_make_windows_accepts(answer):
    assert check("13.make_windows", answer)


def _windows(target_shift=0, n_extra=0, x3d=False):
    def make(series, window):
        series = np.asarray(series, dtype=float)
        n = len(series) - window + n_extra
        X = np.array([series[i:i + window] for i in range(n)]).reshape(n, window)
        y = np.array([series[i + window + target_shift] for i in range(min(n, len(series) - window - target_shift))])
        return (X[..., None] if x3d else X), y
    return make


@pytest.mark.parametrize("answer,hint", [
    (_windows(target_shift=-1), "last value \\*inside\\* the window"),
    (_windows(target_shift=1), "skips a step"),
    (lambda s, w: (windows_loop(s, w)[0], windows_loop(s, w)[1][:-1]), "one value too few"),
    (lambda s, w: (np.lib.stride_tricks.sliding_window_view(np.asarray(s, float), w), windows_loop(s, w)[1]),
     "one window too many"),
    (_windows(x3d=True), "should be 2-D"),
    (lambda s, w: windows_loop(s, w)[0], "pair"),
])
def test_make_windows_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("13.make_windows", answer)


def step_loops(x, h, W_x, W_h, b):
    out = np.zeros(len(b))
    for i in range(len(b)):
        a = b[i] + sum(W_x[i, j] * x[j] for j in range(len(x))) + sum(W_h[i, j] * h[j] for j in range(len(h)))
        out[i] = (np.exp(2 * a) - 1) / (np.exp(2 * a) + 1)
    return out


@pytest.mark.parametrize("answer", [
    step_loops,
    lambda x, h, W_x, W_h, b: np.tanh(x @ W_x.T + h @ W_h.T + b).astype(np.float32),
])
def test_rnn_step_accepts(answer):
    assert check("13.rnn_step", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda x, h, W_x, W_h, b: W_x @ x + W_h @ h + b, "tanh is missing"),
    (lambda x, h, W_x, W_h, b: np.tanh(W_x @ x + W_h @ h), "bias b is missing"),
    (lambda x, h, W_x, W_h, b: np.tanh(W_x @ x + W_h.T @ h + b), "W_h is transposed"),
    (lambda x, h, W_x, W_h, b: np.tanh(W_x.T @ x + W_h @ h + b), "W_x is transposed"),
    (lambda x, h, W_x, W_h, b: 1 / (1 + np.exp(-(W_x @ x + W_h @ h + b))), "not the sigmoid"),
    (lambda x, h, W_x, W_h, b: None, "is None"),
])
def test_rnn_step_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("13.rnn_step", answer)


def _cell(x, h, W_x, W_h, b):
    return np.tanh(W_x @ x + W_h @ h + b)


def forward_preallocated(xs, h0, W_x, W_h, b):
    hs = np.empty((len(xs), len(h0)))
    for t in range(len(xs)):
        hs[t] = _cell(xs[t], h0 if t == 0 else hs[t - 1], W_x, W_h, b)
    return hs


def forward_recursive(xs, h0, W_x, W_h, b):
    if len(xs) == 0:
        return np.zeros((0, len(h0)))
    h1 = _cell(xs[0], h0, W_x, W_h, b)
    return np.vstack([h1[None], forward_recursive(xs[1:], h1, W_x, W_h, b)])


@pytest.mark.parametrize("answer", [forward_preallocated, forward_recursive])
def test_rnn_forward_accepts(answer):
    assert check("13.rnn_forward", answer)


def forward_last(xs, h0, W_x, W_h, b):
    return forward_preallocated(xs, h0, W_x, W_h, b)[-1]


def forward_with_h0(xs, h0, W_x, W_h, b):
    return np.vstack([h0, forward_preallocated(xs, h0, W_x, W_h, b)])


def forward_no_carry(xs, h0, W_x, W_h, b):
    return np.array([_cell(x, h0, W_x, W_h, b) for x in xs])


def forward_shifted(xs, h0, W_x, W_h, b):
    return np.vstack([h0, forward_preallocated(xs, h0, W_x, W_h, b)[:-1]])


@pytest.mark.parametrize("answer,hint", [
    (forward_last, "only the last state"),
    (forward_with_h0, "h0 is included: return"),
    (forward_no_carry, "each step starts from h0"),
    (forward_shifted, "store the state after each step"),
])
def test_rnn_forward_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("13.rnn_forward", answer)


def bptt_vectorised(xs, ys, h0, W_x, W_h, b, factor=1.0, recurrent=True, tanh_grad=True, transpose=True):
    hs = forward_preallocated(xs, h0, W_x, W_h, b)
    prev = np.vstack([h0, hs[:-1]])
    deltas = np.zeros_like(hs)
    carry = np.zeros(len(b))
    for t in range(len(xs) - 1, -1, -1):
        grad = factor * (hs[t] - ys[t]) + ((W_h.T if transpose else W_h) @ carry if recurrent else 0)
        deltas[t] = grad * (1 - hs[t] ** 2) if tanh_grad else grad
        carry = deltas[t]
    return deltas.T @ xs, deltas.T @ prev, deltas.sum(axis=0)


def bptt_numeric(xs, ys, h0, W_x, W_h, b):
    """A correct answer written very differently: finite differences of the loss."""
    def loss(W_x, W_h, b):
        return 0.5 * np.sum((forward_preallocated(xs, h0, W_x, W_h, b) - ys) ** 2)

    grads = []
    for k, p in enumerate((W_x, W_h, b)):
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            up, down = [q.copy() for q in (W_x, W_h, b)], [q.copy() for q in (W_x, W_h, b)]
            up[k][idx] += 1e-6
            down[k][idx] -= 1e-6
            g[idx] = (loss(*up) - loss(*down)) / 2e-6
        grads.append(g)
    return tuple(grads)


@pytest.mark.parametrize("answer", [bptt_vectorised, bptt_numeric])
def test_rnn_bptt_accepts(answer):
    assert check("13.rnn_bptt", answer)


@pytest.mark.parametrize("kwargs,hint", [
    ({"recurrent": False}, "gradient from later steps is missing"),
    ({"tanh_grad": False}, "tanh derivative"),
    ({"transpose": False}, "must be transposed"),
    ({"factor": 2.0}, "twice too large"),
    ({"factor": -1.0}, "wrong sign"),
])
def test_rnn_bptt_rejects(kwargs, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("13.rnn_bptt", lambda *args: bptt_vectorised(*args, **kwargs))


def test_rnn_bptt_rejects_wrong_state_and_stub():
    def uses_h_t(xs, ys, h0, W_x, W_h, b):
        dW_x, _, db = bptt_vectorised(xs, ys, h0, W_x, W_h, b)
        hs = forward_preallocated(xs, h0, W_x, W_h, b)
        deltas = []
        carry = np.zeros(len(b))
        for t in range(len(xs) - 1, -1, -1):
            carry = ((hs[t] - ys[t]) + W_h.T @ carry) * (1 - hs[t] ** 2)
            deltas.insert(0, carry)
        return dW_x, np.array(deltas).T @ hs, db

    with pytest.raises(CheckFailed, match="previous state"):
        check("13.rnn_bptt", uses_h_t)
    with pytest.raises(CheckFailed, match="three gradients"):
        check("13.rnn_bptt", lambda *args: 0.0)

    def stub(*args):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="not written yet"):
        check("13.rnn_bptt", stub)
