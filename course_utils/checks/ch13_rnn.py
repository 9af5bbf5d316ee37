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
    seeded_global_random,
    seeded_rng,
    to_array,
)
from course_utils.frameworks import require_framework


def _horizon_windows(series, window, horizon):
    series = np.asarray(series, dtype=float)
    rows = len(series) - window - horizon + 1
    X = np.array([[series[i + j] for j in range(window)] for i in range(rows)]).reshape(rows, window)
    Y = np.array([[series[i + window + j] for j in range(horizon)] for i in range(rows)]).reshape(rows, horizon)
    return X, Y


@register("13.make_windows")
def check_make_windows(make_windows):
    """make_windows(series, window, horizon) returns X (m, window) and the next horizon values Y (m, horizon)."""
    rng = seeded_rng(13)
    cases = [(np.arange(10.0), 3, 2, "series 0..9, window 3, horizon 2"),
             (list(rng.normal(size=12)), 4, 2, "a random series given as a list, window 4, horizon 2"),
             (np.arange(6.0), 1, 1, "series 0..5, window 1, horizon 1"),
             (np.arange(7.0), 4, 3, "series 0..6, window 4, horizon 3 (a single example)")]
    cases += [(rng.normal(size=n), w, k, f"a random series of length {n}, window {w}, horizon {k}")
              for n, w, k in [(30, 5, 4), (17, 2, 9), (50, 12, 1)]]
    for series, window, horizon, case in cases:
        out = call(make_windows, series, window, horizon, name="make_windows")
        X, Y = expect_pair(out, "make_windows", "(X, Y)")
        X_ref, Y_ref = _horizon_windows(series, window, horizon)
        rows = len(X_ref)
        inside = np.array([series[i + window - 1 : i + window - 1 + horizon] for i in range(rows)])
        only_last = np.array([series[i + window + horizon - 1] for i in range(rows)])
        Y_array = to_array(Y, "Y")
        if Y_array.ndim == 1 and horizon > 1 and Y_array.shape == only_last.shape \
                and np.allclose(Y_array, only_last):
            raise CheckFailed(f"Y for {case} holds only the value `horizon` steps ahead: it should "
                              "hold all `horizon` next values, shape (m, horizon).")
        expect_close(Y, Y_ref, "Y", case=case,
                     mistakes={"the targets start inside the window: the first target of row i is "
                               "series[i + window]": inside,
                               "Y should be 2-D, shape (m, horizon), even when horizon is 1":
                               Y_ref.reshape(-1),
                               "Y is transposed: one example per row, shape (m, horizon)": Y_ref.T,
                               "Y has one row too few: m = n - window - horizon + 1": Y_ref[:-1]})
        expect_close(X, X_ref, "X", case=case,
                     mistakes={"X has one window too few: m = n - window - horizon + 1": X_ref[:-1],
                               "each row of X keeps the order of the series: series[i], ..., "
                               "series[i + window - 1], oldest first": X_ref[:, ::-1],
                               "X should be 2-D, shape (m, window), one window per row":
                               X_ref[..., None],
                               "X is transposed: one window per row, shape (m, window)": X_ref.T})
    return "windows and multi-step targets on seven series, one given as a list"


def _sigmoid(a):
    return 0.5 * (1 + np.tanh(0.5 * a))


def _gru_cho_variants(x, h, kernel, recurrent_kernel, bias):
    """Cho et al.'s GRU step in Keras' layout (blocks z, r, h) and the typical mistakes."""
    units = h.shape[-1]
    blocks = [slice(k * units, (k + 1) * units) for k in range(3)]
    xk = [np.einsum("...i,ij->...j", x, kernel[:, s]) + bias[s] for s in blocks]
    U = [recurrent_kernel[:, s] for s in blocks]
    z = _sigmoid(xk[0] + h @ U[0])
    r = _sigmoid(xk[1] + h @ U[1])
    candidate = np.tanh(xk[2] + (r * h) @ U[2])
    swapped_r, swapped_z = _sigmoid(xk[0] + h @ U[0]), _sigmoid(xk[1] + h @ U[1])
    swapped = np.tanh(xk[2] + (swapped_r * h) @ U[2])
    return z * h + (1 - z) * candidate, {
        "the reset gate is applied after the recurrent product (PyTorch's placement); Cho et "
        "al. reset the state first: (r * h) @ U_h": z * h + (1 - z) * np.tanh(xk[2] + r * (h @ U[2])),
        "z and 1 - z are swapped: h_t = z * h_{t-1} + (1 - z) * candidate":
            (1 - z) * h + z * candidate,
        "the gate blocks are in the wrong order: Keras' columns are z, r, h":
            swapped_z * h + (1 - swapped_z) * swapped,
        "the reset gate is missing from the candidate": z * h + (1 - z) * np.tanh(xk[2] + h @ U[2]),
        "the candidate uses the sigmoid: it uses tanh": z * h + (1 - z) * _sigmoid(xk[2] + (r * h) @ U[2]),
        "the bias is missing": None,
    }


@register("13.gru_step_cho")
def check_gru_step_cho(gru_step_cho):
    """gru_step_cho(x, h, kernel, recurrent_kernel, bias): one GRU step, reset before the product, Keras' layout."""
    rng = seeded_rng(1301)
    for batch, d_x, units in [(None, 3, 3), (4, 2, 5), (None, 1, 2), (3, 6, 1), (2, 3, 4)]:
        kernel = rng.normal(scale=0.8, size=(d_x, 3 * units))
        recurrent_kernel = rng.normal(scale=0.8, size=(units, 3 * units))
        bias = rng.normal(size=3 * units)
        shape = () if batch is None else (batch,)
        x, h = rng.normal(size=shape + (d_x,)), rng.uniform(-1, 1, size=shape + (units,))
        case = (f"one sequence, d_x={d_x}, units={units}" if batch is None
                else f"a batch of {batch}, d_x={d_x}, units={units}")
        expected, mistakes = _gru_cho_variants(x, h, kernel, recurrent_kernel, bias)
        mistakes["the bias is missing"] = _gru_cho_variants(x, h, kernel, recurrent_kernel, 0 * bias)[0]
        got = to_array(call(gru_step_cho, x, h, kernel, recurrent_kernel, bias, name="gru_step_cho"),
                       "the new state")
        if got.shape != h.shape:
            raise CheckFailed(f"the new state for {case} has shape {got.shape}, expected {h.shape}: return the "
                              "new state with the shape of h ((units,) for one sequence, (batch, units) for a batch).")
        expect_close(got, expected, "the new state", case=case, mistakes=mistakes)
    return "five cells, single sequences and batches"


def _global_norm(grads):
    return float(np.sqrt(sum(float(np.sum(np.asarray(g, dtype=float) ** 2)) for g in grads)))


@register("13.clip_by_global_norm")
def check_clip_by_global_norm(clip_by_global_norm):
    """clip_by_global_norm(grads, max_norm) returns (clipped list, global norm before clipping)."""
    rng = seeded_rng(1302)
    three_four = [np.array([3.0]), np.array([[4.0]])]  # global norm exactly 5
    cases = [(three_four, 2.5, "gradients [3] and [[4]], max_norm 2.5"),
             (three_four, 5.0, "gradients [3] and [[4]] (global norm 5), max_norm 5"),
             (three_four, 10.0, "gradients [3] and [[4]], max_norm 10")]
    for n_arrays, max_norm in [(3, 1.0), (1, 0.5), (4, 50.0), (2, 3.0), (5, 2.0)]:
        grads = [rng.normal(scale=2, size=shape) for shape in
                 [(4, 3), (3,), (2, 5, 2), (1,), ()][:n_arrays]]
        cases.append((grads, max_norm, f"{n_arrays} random gradients of shapes "
                      f"{[np.shape(g) for g in grads]}, max_norm {max_norm:g}"))
    small = [np.array([0.48, 0.0]), np.array([[0.64]])]  # global norm 0.8, below 1
    cases += [(small, 0.5, "gradients [0.48, 0] and [[0.64]] (global norm 0.8), max_norm 0.5"),
              ([np.zeros((2, 3)), np.zeros(2)], 1.0, "all-zero gradients, max_norm 1")]
    for grads, max_norm, case in cases:
        try:
            out = call(clip_by_global_norm, grads, max_norm, name="clip_by_global_norm")
        except CheckFailed as err:
            if "raised" in str(err) and _global_norm(grads) == 0:
                raise CheckFailed(f"{err} When all gradients are zero the global norm is 0 and max_norm / 0 is "
                                  "undefined: return copies of them unchanged, with norm 0.") from None
            if "raised" in str(err) and any(np.ndim(g) not in (1, 2) for g in grads):
                raise CheckFailed(f"{err} The gradients can have any shape: here {[np.shape(g) for g in grads]}."
                                  ) from None
            raise
        clipped, norm = expect_pair(out, "clip_by_global_norm", "(clipped, global_norm)")
        if not isinstance(clipped, (list, tuple)) or len(clipped) != len(grads):
            raise CheckFailed(f"the clipped gradients for {case} should be a list of {len(grads)} "
                              f"arrays, one per gradient, not {type(clipped).__name__}: return the pair "
                              "(clipped, global_norm).")
        if not isinstance(norm, (float, np.floating)):
            raise CheckFailed(f"the global norm should be a float, not a {type(norm).__name__} (for {case}): "
                              "float(...) turns a NumPy number into one.")
        total = _global_norm(grads)
        zero = total == 0
        if zero and not all(np.all(np.isfinite(to_array(c, "a clipped gradient"))) for c in clipped):
            raise CheckFailed("when all gradients are zero the global norm is 0 and max_norm / 0 is undefined: "
                              "return copies of them unchanged, with norm 0.")
        scale = min(1.0, max_norm / total) if total > 0 else 1.0
        norms = [float(np.linalg.norm(np.ravel(g))) for g in grads]
        expect_close(norm, total, "the global norm", case=case, rtol=1e-5,
                     mistakes={"the global norm is the square root of the sum of ALL squared "
                               "entries, not the sum of the arrays' norms": sum(norms),
                               "return the norm before clipping": total * scale,
                               "the global norm is a norm, not its square": total ** 2,
                               "the global norm is the root of the sum of squares, not the "
                               "largest entry": max(float(np.max(np.abs(g))) for g in grads)})
        for index, (got, g) in enumerate(zip(clipped, grads, strict=True)):
            array = to_array(got, f"clipped gradient {index}")
            if array.shape != np.shape(g):
                raise CheckFailed(f"clipped gradient {index} for {case} has shape {array.shape}: it keeps the shape "
                                  f"of its gradient, {np.shape(g)}.")
            if isinstance(got, np.ndarray) and np.shares_memory(got, g):
                raise CheckFailed(f"clipped gradient {index} for {case} is the input array itself: `clipped` holds "
                                  "new arrays (g * factor makes one), so that changing them leaves the gradients "
                                  "alone.")
            expect_close(array, scale * g, f"clipped gradient {index}", case=case, rtol=1e-5,
                         mistakes={"each gradient is clipped by its own norm: scale all of them "
                                   "by max_norm / global_norm":
                                   g * min(1.0, max_norm / max(norms[index], 1e-300)),
                                   "gradients below the threshold must stay unchanged: the factor "
                                   "is min(1, max_norm / global_norm)": g * max_norm / max(total, 1e-300),
                                   "the factor is max_norm / global_norm, not its inverse":
                                   g * min(1.0, total / max_norm)})
    return "ten sets of gradients of any shape: zero, below, at and above the threshold"


def _chunks(T, k, *, from_end=False, skip_last=False):
    """The (start, end) steps of truncated BPTT's chunks; the keywords give typical mistakes."""
    starts = list(range(0, T, k))
    if from_end:
        starts = sorted({max(0, T - k * (j + 1)) for j in range(-(-T // k))})
    bounds = list(zip(starts, starts[1:] + [T], strict=True))
    if skip_last and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < k:
        bounds = bounds[:-1]
    return bounds


def _bptt_chunked(xs, ys, h0, W_x, W_h, b, bounds, carry_state=True):
    """Truncated BPTT reference by numerical gradients, one chunk at a time: each chunk's
    loss as a function of the weights, its first state held fixed."""
    params = {"W_x": W_x, "W_h": W_h, "b": b}
    total = {name: np.zeros_like(value) for name, value in params.items()}
    states, h = [h0], h0
    for x in xs:
        h = np.tanh(W_x @ x + W_h @ h + b)
        states.append(h)
    for begin, end in bounds:
        chunk = slice(begin, end)
        h_start = states[begin] if carry_state else h0

        def chunk_loss(W_x, W_h, b, chunk=chunk, h_start=h_start):
            h, loss = h_start, 0.0
            for x, y in zip(xs[chunk], ys[chunk], strict=True):
                h = np.tanh(W_x @ x + W_h @ h + b)
                loss += 0.5 * float(np.sum((h - y) ** 2))
            return loss

        for name, value in params.items():
            def of(p, name=name, chunk_loss=chunk_loss):
                return chunk_loss(**{**params, name: p})

            total[name] += numerical_gradient(of, value)
    return [total["W_x"], total["W_h"], total["b"]]


@register("13.rnn_bptt_truncated")
def check_rnn_bptt_truncated(rnn_bptt_truncated):
    """rnn_bptt_truncated(xs, ys, h0, W_x, W_h, b, k) returns (dW_x, dW_h, db) of truncated BPTT in chunks of k."""
    rng = seeded_rng(1303)
    cases = [(6, 2, 3, 2), (7, 3, 2, 3), (5, 1, 4, 5), (4, 2, 2, 1), (5, 2, 3, 8), (6, 3, 3, 4),
             (int(rng.integers(7, 10)), 2, 3, int(rng.integers(2, 5)))]
    for T, d_x, d_h, k in cases:
        W_x, W_h = rng.normal(size=(d_h, d_x)), rng.normal(size=(d_h, d_h)) * 0.6
        b = rng.normal(size=d_h)
        xs, ys, h0 = rng.normal(size=(T, d_x)), rng.normal(size=(T, d_h)), rng.normal(size=d_h)
        out = call(rnn_bptt_truncated, xs, ys, h0, W_x, W_h, b, k, name="rnn_bptt_truncated")
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise CheckFailed("rnn_bptt_truncated should return the three gradients (dW_x, dW_h, db).")
        case = f"T={T}, d_x={d_x}, d_h={d_h}, k={k}"
        shapes = [np.shape(to_array(g, name)) for g, name in zip(out, ("dW_x", "dW_h", "db"), strict=True)]
        wanted = [W_x.shape, W_h.shape, b.shape]
        if shapes != wanted:
            if sorted(shapes) == sorted(wanted):
                raise CheckFailed(f"for {case} the gradients have shapes {shapes}: return (dW_x, dW_h, db) in this "
                                  f"order, shapes {wanted}.")
            raise CheckFailed(f"for {case} the gradients have shapes {shapes}: each has the shape of its parameter, "
                              f"{wanted}.")
        reference = _bptt_chunked(xs, ys, h0, W_x, W_h, b, _chunks(T, k))
        n_chunks = len(_chunks(T, k))
        variants = {
            "the gradient crosses the chunk boundaries: stop the backward pass at the start of "
            "each chunk of k steps": _bptt_chunked(xs, ys, h0, W_x, W_h, b, _chunks(T, T)),
            "each chunk starts again from h0: the forward pass carries the state from one chunk "
            "into the next, only the gradient is cut": _bptt_chunked(xs, ys, h0, W_x, W_h, b, _chunks(T, k),
                                                                     carry_state=False),
            "the gradient stops at every step: it flows back within each chunk of k steps":
                _bptt_chunked(xs, ys, h0, W_x, W_h, b, _chunks(T, 1)),
            "the chunks start at step 0 (steps 0..k-1, then k..2k-1): only the last one may be shorter":
                _bptt_chunked(xs, ys, h0, W_x, W_h, b, _chunks(T, k, from_end=True)),
            "the last chunk is missing: it may be shorter than k, its steps count too":
                _bptt_chunked(xs, ys, h0, W_x, W_h, b, _chunks(T, k, skip_last=True)),
            "the loss has the factor 1/2: its gradient with respect to h_t is h_t - y_t":
                [2 * g for g in reference],
            "the gradients are summed over the chunks, not averaged": [g / n_chunks for g in reference],
        }
        if k + 1 <= T:
            variants["the chunks have k + 1 steps: chunk j covers steps j*k .. j*k + k - 1"] = \
                _bptt_chunked(xs, ys, h0, W_x, W_h, b, _chunks(T, k + 1))
        if k > 1:
            variants["the chunks have k - 1 steps: chunk j covers steps j*k .. j*k + k - 1"] = \
                _bptt_chunked(xs, ys, h0, W_x, W_h, b, _chunks(T, k - 1))
        if d_x == d_h:
            variants["dW_x and dW_h are swapped: return (dW_x, dW_h, db) in this order"] = \
                [reference[1], reference[0], reference[2]]
        for index, name in enumerate(("dW_x", "dW_h", "db")):
            mistakes = {hint: grads[index] for hint, grads in variants.items()
                        if not np.allclose(grads[index], reference[index], rtol=1e-4, atol=1e-6)}
            expect_close(out[index], reference[index], name, case=case, rtol=1e-5, atol=1e-7,
                         mistakes=mistakes)
    return "seven sequences and chunk lengths, against numerical gradients per chunk"


def _torch_gru(torch, d_x, units, seed, batch_first):
    with seeded_global_random(seed):
        gru = torch.nn.GRU(d_x, units, batch_first=batch_first)
        with torch.no_grad():
            for p in gru.parameters():
                p.uniform_(-1, 1)
    return gru


@register("13.torch_gru_to_keras")
def check_torch_gru_to_keras(torch_gru_to_keras):
    """torch_gru_to_keras(gru) returns [kernel, recurrent_kernel, bias] for keras.layers.GRU(reset_after=True)."""
    torch = require_framework("torch")
    for d_x, units, seed, batch_first in [(3, 4, 0, True), (1, 2, 1, False), (5, 3, 2, True), (2, 5, 3, False)]:
        gru = _torch_gru(torch, d_x, units, seed, batch_first)
        case = f"a torch.nn.GRU({d_x}, {units}, batch_first={batch_first})"
        weights = {name: p.detach().double().numpy().copy() for name, p in gru.named_parameters()}
        try:
            out = call(torch_gru_to_keras, gru, name="torch_gru_to_keras")
        except CheckFailed as err:
            if "raised" not in str(err):
                raise
            raise CheckFailed(f"{err} (for {case}: the conversion works with batch_first either way, it only "
                              "reads the weights).") from None
        if not isinstance(out, (list, tuple)) or len(out) != 3:
            raise CheckFailed("torch_gru_to_keras should return a list of three arrays "
                              "[kernel, recurrent_kernel, bias].")
        after = {name: p.detach().double().numpy() for name, p in gru.named_parameters()}
        if any(not np.array_equal(after[name], weights[name]) for name in weights):
            raise CheckFailed("torch_gru_to_keras changed the GRU's weights: read them, do not "
                              "write them.")
        for got, name in zip(out, ("kernel", "recurrent_kernel", "bias"), strict=True):
            if not isinstance(got, np.ndarray):
                raise CheckFailed(f"the {name} is a {type(got).__name__}: return three NumPy arrays "
                                  "(p.detach().numpy()), which Keras' set_weights takes on any backend.")

        def keras_order(w, axis):  # PyTorch blocks r, z, n -> Keras z, r, h
            r, z, n = np.split(w, 3, axis=axis)
            return np.concatenate([z, r, n], axis=axis)

        W_ih, W_hh = weights["weight_ih_l0"], weights["weight_hh_l0"]
        b_ih, b_hh = weights["bias_ih_l0"], weights["bias_hh_l0"]
        expected = [keras_order(W_ih, 0).T, keras_order(W_hh, 0).T,
                    np.stack([keras_order(b_ih, 0), keras_order(b_hh, 0)])]
        mistakes = [
            {"the kernel must be transposed: Keras' kernel has shape (d_x, 3 units)": keras_order(W_ih, 0),
             "the gate blocks are still in PyTorch's order r, z, n: Keras wants z, r, h": W_ih.T,
             "the kernel is built from weight_hh_l0: use weight_ih_l0": keras_order(W_hh, 0).T},
            {"the recurrent kernel must be transposed: shape (units, 3 units)": keras_order(W_hh, 0),
             "the gate blocks are still in PyTorch's order r, z, n: Keras wants z, r, h": W_hh.T},
            {"with reset_after=True the bias has two rows, input bias and recurrent bias; they "
             "are not added": keras_order(b_ih + b_hh, 0),
             "the bias rows are swapped: row 0 is bias_ih, row 1 bias_hh":
                 np.stack([keras_order(b_hh, 0), keras_order(b_ih, 0)]),
             "the bias blocks are still in PyTorch's order r, z, n: Keras wants z, r, h":
                 np.stack([b_ih, b_hh])},
        ]
        for got, reference, name, hints in zip(out, expected, ("kernel", "recurrent_kernel", "bias"),
                                               mistakes, strict=True):
            expect_close(got, reference, name, case=case, rtol=1e-5, atol=1e-6, mistakes=hints)
    return "four GRUs, batch_first either way, every block in Keras' place"
