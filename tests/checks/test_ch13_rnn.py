"""Chapter 13 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

# --------------------------------------------------------------------------- make_windows


def windows_loop(series, window, horizon):
    m = len(series) - window - horizon + 1
    X, Y = np.zeros((m, window)), np.zeros((m, horizon))
    for i in range(m):
        for j in range(window):
            X[i, j] = series[i + j]
        for j in range(horizon):
            Y[i, j] = series[i + window + j]
    return X, Y


def windows_strided(series, window, horizon):
    view = np.lib.stride_tricks.sliding_window_view(np.asarray(series, dtype=np.float32),
                                                    window + horizon)
    return view[:, :window], view[:, window:]


@pytest.mark.parametrize("answer", [windows_loop, windows_strided])
def test_make_windows_accepts(answer):
    assert check("13.make_windows", answer)


def windows_inside(series, window, horizon):
    X, _ = windows_loop(series, window, horizon)
    Y = np.array([series[i + window - 1 : i + window - 1 + horizon] for i in range(len(X))])
    return X, Y


def windows_flat_y(series, window, horizon):
    X, Y = windows_loop(series, window, horizon)
    return X, (Y[:, 0] if horizon == 1 else Y)


def windows_last_only(series, window, horizon):
    X, Y = windows_loop(series, window, horizon)
    return X, Y[:, -1]


def windows_one_short(series, window, horizon):
    X, Y = windows_loop(series, window, horizon)
    return X[:-1], Y[:-1]


@pytest.mark.parametrize("answer,hint", [
    (windows_inside, "start inside the window"),
    (windows_flat_y, "2-D, shape \\(m, horizon\\)"),
    (windows_last_only, "only the value `horizon` steps ahead"),
    (windows_one_short, "has shape"),
    (lambda s, w, k: (windows_loop(s, w, k)[0][..., None], windows_loop(s, w, k)[1]), "should be 2-D"),
    (lambda s, w, k: windows_loop(s, w, k)[0], "pair"),
])
def test_make_windows_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("13.make_windows", answer)


# --------------------------------------------------------------------------- gru_step_cho


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def gru_cho_loops(x, h, kernel, recurrent_kernel, bias, *, after=False, swap_z=False,
                  swap_blocks=False, no_bias=False):
    """A loop version, one unit at a time; the flags introduce the typical mistakes."""
    x2, h2 = np.atleast_2d(x), np.atleast_2d(h)
    units = h2.shape[1]
    order = (1, 0, 2) if swap_blocks else (0, 1, 2)
    out = np.zeros_like(h2, dtype=float)
    for n in range(len(h2)):
        def pre(block, vec, mat, n=n):
            cols = range(order[block] * units, (order[block] + 1) * units)
            return np.array([sum(vec[i] * mat[i, c] for i in range(len(vec))) for c in cols])

        b = [np.zeros(units) if no_bias else bias[order[k] * units:(order[k] + 1) * units]
             for k in range(3)]
        z = _sigmoid(pre(0, x2[n], kernel) + pre(0, h2[n], recurrent_kernel) + b[0])
        r = _sigmoid(pre(1, x2[n], kernel) + pre(1, h2[n], recurrent_kernel) + b[1])
        if after:
            cand = np.tanh(pre(2, x2[n], kernel) + b[2] + r * pre(2, h2[n], recurrent_kernel))
        else:
            cand = np.tanh(pre(2, x2[n], kernel) + pre(2, r * h2[n], recurrent_kernel) + b[2])
        out[n] = (1 - z) * h2[n] + z * cand if swap_z else z * h2[n] + (1 - z) * cand
    return out.reshape(np.shape(h))


def gru_cho_float32(x, h, kernel, recurrent_kernel, bias):
    x, h, kernel, recurrent_kernel, bias = (np.asarray(a, np.float32) for a in
                                            (x, h, kernel, recurrent_kernel, bias))
    u = h.shape[-1]
    a_x = x @ kernel + bias
    z = _sigmoid(a_x[..., :u] + h @ recurrent_kernel[:, :u])
    r = _sigmoid(a_x[..., u:2 * u] + h @ recurrent_kernel[:, u:2 * u])
    return z * h + (1 - z) * np.tanh(a_x[..., 2 * u:] + (r * h) @ recurrent_kernel[:, 2 * u:])


@pytest.mark.parametrize("answer", [gru_cho_loops, gru_cho_float32])
def test_gru_step_cho_accepts(answer):
    assert check("13.gru_step_cho", answer)


@pytest.mark.parametrize("flag,hint", [
    ("after", "after the recurrent product"),
    ("swap_z", "z and 1 - z are swapped"),
    ("swap_blocks", "wrong order"),
    ("no_bias", "bias is missing"),
])
def test_gru_step_cho_rejects(flag, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("13.gru_step_cho", lambda *args: gru_cho_loops(*args, **{flag: True}))


def test_gru_step_cho_rejects_a_single_shape_only():
    def batch_only(x, h, kernel, recurrent_kernel, bias):
        return gru_cho_float32(np.atleast_2d(x), np.atleast_2d(h), kernel, recurrent_kernel, bias)

    with pytest.raises(CheckFailed, match="has shape"):
        check("13.gru_step_cho", batch_only)


# --------------------------------------------------------------------------- clip_by_global_norm


def clip_loops(grads, max_norm):
    total = 0.0
    for g in grads:
        for value in np.asarray(g, dtype=float).ravel():
            total += value * value
    norm = total ** 0.5
    factor = max_norm / norm if norm > max_norm else 1.0
    return [np.asarray(g) * factor for g in grads], norm


def clip_like_torch(grads, max_norm):
    """PyTorch's formula: scale by max_norm / (norm + 1e-6), capped at 1; float32."""
    flat = np.concatenate([np.ravel(g).astype(np.float32) for g in grads])
    norm = np.linalg.norm(flat)
    factor = min(1.0, max_norm / (norm + 1e-6))
    return tuple((np.asarray(g, np.float32) * np.float32(factor)) for g in grads), float(norm)


@pytest.mark.parametrize("answer", [clip_loops, clip_like_torch])
def test_clip_by_global_norm_accepts(answer):
    assert check("13.clip_by_global_norm", answer)


def clip_each(grads, max_norm):
    norm = clip_loops(grads, max_norm)[1]
    return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads], norm


def clip_always(grads, max_norm):
    norm = clip_loops(grads, max_norm)[1]
    return [g * max_norm / norm for g in grads], norm


def clip_norm_after(grads, max_norm):
    clipped, norm = clip_loops(grads, max_norm)
    return clipped, min(norm, max_norm)


def clip_sum_of_norms(grads, max_norm):
    norm = sum(np.linalg.norm(g) for g in grads)
    return [g * min(1.0, max_norm / norm) for g in grads], norm


def clip_in_place(grads, max_norm):
    clipped, norm = clip_loops(grads, max_norm)
    for g, c in zip(grads, clipped, strict=True):
        g[...] = c
    return grads, norm


@pytest.mark.parametrize("answer,hint", [
    (clip_each, "clipped by its own norm"),
    (clip_always, "below the threshold must stay unchanged"),
    (clip_norm_after, "before clipping"),
    (clip_sum_of_norms, "not the sum of the arrays' norms"),
    (clip_in_place, "in place"),
    (lambda grads, max_norm: clip_loops(grads, max_norm)[0], "pair"),
])
def test_clip_by_global_norm_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("13.clip_by_global_norm", answer)


# --------------------------------------------------------------------------- truncated BPTT


def _states(xs, h0, W_x, W_h, b, restart_every=None):
    hs, h = [], h0
    for t, x in enumerate(xs):
        if restart_every and t % restart_every == 0:
            h = h0
        h = np.tanh(W_x @ x + W_h @ h + b)
        hs.append(h)
    return np.array(hs)


def bptt_truncated_vectorised(xs, ys, h0, W_x, W_h, b, k, cut=True, size=None,
                              restart=False):
    """Deltas per step, cut at the chunk starts; flags introduce the typical mistakes."""
    size = size or k
    hs = _states(xs, h0, W_x, W_h, b, restart_every=size if restart else None)
    prev = np.vstack([h0, hs[:-1]])
    if restart:
        prev[::size] = h0
    deltas, carry = np.zeros_like(hs), np.zeros(len(b))
    for t in range(len(xs) - 1, -1, -1):
        if cut and (t + 1) % size == 0:
            carry = np.zeros(len(b))
        deltas[t] = ((hs[t] - ys[t]) + W_h.T @ carry) * (1 - hs[t] ** 2)
        carry = deltas[t]
    return deltas.T @ xs, deltas.T @ prev, deltas.sum(axis=0)


def bptt_truncated_by_chunks(xs, ys, h0, W_x, W_h, b, k):
    """A correct answer written differently: full BPTT (finite differences) on each chunk."""
    grads = [np.zeros_like(W_x), np.zeros_like(W_h), np.zeros_like(b)]
    start_state = h0
    for begin in range(0, len(xs), k):
        chunk_x, chunk_y = xs[begin:begin + k], ys[begin:begin + k]
        for index, p in enumerate((W_x, W_h, b)):
            for idx in np.ndindex(p.shape):
                values = []
                for sign in (1, -1):
                    params = [W_x.copy(), W_h.copy(), b.copy()]
                    params[index][idx] += sign * 1e-6
                    hs = _states(chunk_x, start_state, *params)
                    values.append(0.5 * np.sum((hs - chunk_y) ** 2))
                grads[index][idx] += (values[0] - values[1]) / 2e-6
        start_state = _states(chunk_x, start_state, W_x, W_h, b)[-1]
    return tuple(grads)


@pytest.mark.parametrize("answer", [bptt_truncated_vectorised, bptt_truncated_by_chunks])
def test_rnn_bptt_truncated_accepts(answer):
    assert check("13.rnn_bptt_truncated", answer)


@pytest.mark.parametrize("kwargs,hint", [
    ({"cut": False}, "crosses the chunk boundaries"),
    ({"restart": True}, "starts again from h0"),
    ({"size": 1}, "stops at every step"),
])
def test_rnn_bptt_truncated_rejects(kwargs, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("13.rnn_bptt_truncated",
              lambda *args: bptt_truncated_vectorised(*args, **kwargs))


def test_rnn_bptt_truncated_rejects_wrong_chunk_length_and_shape():
    with pytest.raises(CheckFailed, match="k \\+ 1 steps"):
        check("13.rnn_bptt_truncated",
              lambda *a: bptt_truncated_vectorised(*a[:-1], a[-1], size=a[-1] + 1))
    with pytest.raises(CheckFailed, match="three gradients"):
        check("13.rnn_bptt_truncated", lambda *args: bptt_truncated_vectorised(*args)[:2])


# --------------------------------------------------------------------------- torch_gru_to_keras


def _blocks(w, order):
    parts = np.split(w.detach().numpy(), 3, axis=0)
    return np.concatenate([parts[i] for i in order], axis=0)


def convert(gru, order=(1, 0, 2), transpose=True, add_biases=False, swap_rows=False):
    kernel, recurrent = _blocks(gru.weight_ih_l0, order), _blocks(gru.weight_hh_l0, order)
    b_ih, b_hh = _blocks(gru.bias_ih_l0, order), _blocks(gru.bias_hh_l0, order)
    bias = b_ih + b_hh if add_biases else np.stack([b_hh, b_ih] if swap_rows else [b_ih, b_hh])
    return [kernel.T if transpose else kernel, recurrent.T if transpose else recurrent, bias]


def convert_by_names(gru):
    """A correct answer written differently: by parameter names and index arithmetic."""
    params = dict(gru.named_parameters())
    u = gru.hidden_size
    perm = np.r_[u:2 * u, 0:u, 2 * u:3 * u]
    weights = {k: v.detach().numpy().astype(np.float64) for k, v in params.items()}
    return (weights["weight_ih_l0"][perm].T, weights["weight_hh_l0"][perm].T,
            np.vstack([weights["bias_ih_l0"][perm], weights["bias_hh_l0"][perm]]))


@pytest.mark.parametrize("answer", [convert, convert_by_names])
def test_torch_gru_to_keras_accepts(answer):
    pytest.importorskip("torch")
    assert check("13.torch_gru_to_keras", answer)


@pytest.mark.parametrize("kwargs,hint", [
    ({"order": (0, 1, 2)}, "still in PyTorch's order"),
    ({"transpose": False}, "must be transposed"),
    ({"add_biases": True}, "they are not added"),
    ({"swap_rows": True}, "rows are swapped"),
])
def test_torch_gru_to_keras_rejects(kwargs, hint):
    pytest.importorskip("torch")
    with pytest.raises(CheckFailed, match=hint):
        check("13.torch_gru_to_keras", lambda gru: convert(gru, **kwargs))


def test_torch_gru_to_keras_rejects_changing_the_weights():
    torch = pytest.importorskip("torch")

    def zeroing(gru):
        result = convert(gru)
        with torch.no_grad():
            gru.bias_hh_l0.zero_()
        return result

    with pytest.raises(CheckFailed, match="changed"):
        check("13.torch_gru_to_keras", zeroing)



@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("13")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
