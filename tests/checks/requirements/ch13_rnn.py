"""Requirement table of chapter 13, recurrent networks (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

# --------------------------------------------------------------------------- 13.make_windows


def windows(series, window, horizon, *, short=0, reverse=False, inside=False, flat_y=False, x3d=False,
            y_transposed=False):
    """The solution's answer; the keywords make it break one requirement."""
    series = np.asarray(series, dtype=float)
    m = len(series) - window - horizon + 1 - short
    start = window - 1 if inside else window
    X = np.array([series[i:i + window] for i in range(m)]).reshape(m, window)
    Y = np.array([series[i + start:i + start + horizon] for i in range(m)]).reshape(m, horizon)
    if reverse:
        X = X[:, ::-1]
    if flat_y and horizon == 1:
        Y = Y[:, 0]
    if x3d:
        X = X[..., None]
    return X, (Y.T if y_transposed else Y)


def windows_in_place(series, window, horizon):
    X, Y = windows(series, window, horizon)
    series[:] = series - series.mean() if isinstance(series, np.ndarray) else series
    return X, Y


# --------------------------------------------------------------------------- 13.clip_by_global_norm


def clip(grads, max_norm, *, each=False, always=False, after=False, summed=False, flat=False, share=False,
         as_array=False, zero_guard=True):
    """The solution's answer; the keywords make it break one requirement."""
    norms = [float(np.sqrt(np.sum(np.square(g)))) for g in grads]
    global_norm = sum(norms) if summed else float(np.sqrt(sum(n * n for n in norms)))
    if not zero_guard or global_norm > 0:
        scale = max_norm / global_norm if always else min(1.0, max_norm / global_norm)
    else:
        scale = 1.0
    clipped = []
    for g, n in zip(grads, norms, strict=True):
        factor = min(1.0, max_norm / n) if each and n > 0 else scale
        if share and factor == 1.0:
            clipped.append(g)
        else:
            clipped.append((np.asarray(g) * factor).ravel() if flat else np.asarray(g) * factor)
    norm = global_norm * scale if after else global_norm
    return clipped, (np.array(norm) if as_array else norm)


def clip_two_dimensions_at_most(grads, max_norm):
    if any(np.ndim(g) > 2 for g in grads):
        np.linalg.norm(next(g for g in grads if np.ndim(g) > 2), "fro")  # raises for a 3-D array
    return clip(grads, max_norm)


def clip_in_place(grads, max_norm):
    clipped, norm = clip(grads, max_norm)
    for g, c in zip(grads, clipped, strict=True):
        g[...] = c
    return grads, norm


def clip_without_zero_case(grads, max_norm):
    with np.errstate(all="ignore"):
        return clip(grads, max_norm, zero_guard=False)


# --------------------------------------------------------------------------- 13.gru_step_cho


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def gru(x, h, kernel, recurrent_kernel, bias, *, after=False, swap_z=False, blocks=(0, 1, 2), reset=True,
        candidate=np.tanh, use_bias=True, batch_only=False, single_only=False):
    """The solution's answer; the keywords make it break one requirement."""
    shape = np.shape(h)
    if batch_only:
        x, h = np.atleast_2d(x), np.atleast_2d(h)
    if single_only:
        x, h = np.ravel(x)[:kernel.shape[0]], np.ravel(h)[:recurrent_kernel.shape[0]]
    units = h.shape[-1]
    K = [kernel[:, b * units:(b + 1) * units] for b in blocks]
    U = [recurrent_kernel[:, b * units:(b + 1) * units] for b in blocks]
    B = [bias[b * units:(b + 1) * units] * use_bias for b in blocks]
    z = _sigmoid(x @ K[0] + h @ U[0] + B[0])
    r = _sigmoid(x @ K[1] + h @ U[1] + B[1])
    if after:
        cand = candidate(x @ K[2] + r * (h @ U[2]) + B[2])
    else:
        cand = candidate(x @ K[2] + ((r * h) if reset else h) @ U[2] + B[2])
    new = (1 - z) * h + z * cand if swap_z else z * h + (1 - z) * cand
    return new if not single_only else new.reshape(shape) if new.size == np.prod(shape) else new


# --------------------------------------------------------------------------- 13.rnn_bptt_truncated


def bptt(xs, ys, h0, W_x, W_h, b, k, *, size=None, cut=True, restart=False, skip_last=False, from_end=False,
         factor=1.0, mean=False, order=(0, 1, 2), transpose=False):
    """The solution's answer; the keywords make it break one requirement."""
    size = size or k
    T = len(xs)
    starts = list(range(0, T, size))
    if from_end:
        starts = sorted({max(0, T - size * (j + 1)) for j in range(-(-T // size))})
    states, h = [], h0
    for t, x in enumerate(xs):
        if restart and t in starts:
            h = h0
        h = np.tanh(W_x @ x + W_h @ h + b)
        states.append(h)
    grads = [np.zeros_like(W_x), np.zeros_like(W_h), np.zeros_like(b)]
    bounds = [(s, min(e, T)) for s, e in zip(starts, starts[1:] + [T], strict=True)]
    if skip_last and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < size:
        bounds = bounds[:-1]
    for start, end in bounds if cut else [(0, T)]:
        delta_next = np.zeros_like(b)
        for t in range(end - 1, start - 1, -1):
            h_prev = (h0 if restart and t == start else states[t - 1]) if t > 0 else h0
            delta = (factor * (states[t] - ys[t]) + W_h.T @ delta_next) * (1 - states[t] ** 2)
            grads[0] = grads[0] + np.outer(delta, xs[t])
            grads[1] = grads[1] + np.outer(delta, h_prev)
            grads[2] = grads[2] + delta
            delta_next = delta
    if mean:
        grads = [g / len(bounds) for g in grads]
    if transpose:
        grads[0] = grads[0].T
    return tuple(grads[i] for i in order)


# --------------------------------------------------------------------------- 13.torch_gru_to_keras


def convert(gru, *, order=(1, 0, 2), transpose=True, add=False, swap_rows=False, tensors=False,
            batch_first_only=False, from_hh=False):
    """The solution's answer; the keywords make it break one requirement."""
    if batch_first_only and not gru.batch_first:
        raise ValueError("unsupported layout")

    def blocks(p):
        parts = (p.detach() if tensors else p.detach().numpy()).chunk(3) if tensors else np.split(
            p.detach().numpy(), 3)
        joined = [parts[i] for i in order]
        if tensors:
            import torch

            return torch.cat(joined)
        return np.concatenate(joined)

    kernel = blocks(gru.weight_hh_l0 if from_hh else gru.weight_ih_l0)
    recurrent = blocks(gru.weight_hh_l0)
    b_ih, b_hh = blocks(gru.bias_ih_l0), blocks(gru.bias_hh_l0)
    if tensors:
        import torch

        return [kernel.T, recurrent.T, torch.stack([b_ih, b_hh])]
    bias = b_ih + b_hh if add else np.stack([b_hh, b_ih] if swap_rows else [b_ih, b_hh])
    return [kernel.T if transpose else kernel, recurrent.T if transpose else recurrent, bias]


def convert_and_zero(gru):
    import torch

    result = convert(gru)
    with torch.no_grad():
        gru.bias_hh_l0.zero_()
    return result


# --------------------------------------------------------------------------- the table

GRU_FORMULA = ("\\mathbf{h}_{\\text{new}} = \\mathbf{z}\\odot\\mathbf{h} + (1 - \\mathbf{z})\\odot"
               "\\tilde{\\mathbf{h}}")

TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/13-rnn`", "where to read first"),
    ],
    "13.make_windows": [
        free("The lecture's windows have one target", "what the lecture did"),
        free("To forecast $H$ steps at once", "why the windows need H targets"),
        requirement("`X` of shape `(m, window)`", lambda *a: windows(*a, x3d=True), r"X should be 2-D"),
        requirement("`Y` of shape `(m, horizon)`", lambda *a: windows(*a, y_transposed=True), r"Y is transposed"),
        requirement("with $m = n - \\text{window} - \\text{horizon} + 1$", lambda *a: windows(*a, short=1),
                    r"m = n - window - horizon \+ 1"),
        requirement("row `i` of `X` is `series[i], ..., series[i + window - 1]`",
                    lambda *a: windows(*a, reverse=True), r"keeps the order of the series"),
        requirement("row `i` of `Y` is `series[i + window], ..., series[i + window + horizon - 1]`",
                    lambda *a: windows(*a, inside=True), r"the targets start inside the window"),
        requirement("`Y` is 2-D even when `horizon` is 1", lambda *a: windows(*a, flat_y=True),
                    r"Y should be 2-D, shape \(m, horizon\), even when horizon is 1"),
        requirement("Do not change `series`", windows_in_place, r"in place"),
    ],
    "13.clip_by_global_norm": [
        requirement("for a list of gradient arrays of any shapes", clip_two_dimensions_at_most,
                    r"gradients can have any shape"),
        requirement("It returns the pair `(clipped, global_norm)`", lambda g, m: clip(g, m)[0], r"pair"),
        requirement("`global_norm` is the float", lambda g, m: clip(g, m, as_array=True),
                    r"the global norm should be a float"),
        requirement("over all entries of all arrays", lambda g, m: clip(g, m, summed=True),
                    r"not the sum of the arrays' norms"),
        requirement("measured before clipping", lambda g, m: clip(g, m, after=True), r"before clipping"),
        requirement("`clipped` is a list of new arrays", lambda g, m: clip(g, m, share=True),
                    r"new arrays"),
        requirement("$\\mathbf{g}_j \\cdot \\min(1, \\text{max\\_norm}/\\lVert\\mathbf{g}\\rVert)$",
                    lambda g, m: clip(g, m, each=True), r"clipped by its own norm"),
        requirement("$\\mathbf{g}_j \\cdot \\min(1, \\text{max\\_norm}/\\lVert\\mathbf{g}\\rVert)$",
                    lambda g, m: clip(g, m, always=True), r"below the threshold must stay unchanged"),
        requirement("with the shapes of the inputs", lambda g, m: clip(g, m, flat=True),
                    r"the shape of its gradient"),
        requirement("When all gradients are zero, nothing is scaled", clip_without_zero_case,
                    r"all gradients are zero"),
        requirement("Leave the inputs unchanged", clip_in_place, r"in place"),
    ],
    "13.gru_step_cho": [
        free("The lecture's `gru_forward` applies the reset gate", "what the lecture did"),
        requirement("which is Keras' `GRU(reset_after=False)`", lambda *a: gru(*a, after=True),
                    r"after the recurrent product"),
        requirement(GRU_FORMULA, lambda *a: gru(*a, swap_z=True), r"z and 1 - z are swapped"),
        requirement("(\\mathbf{r}\\odot\\mathbf{h})U_h", lambda *a: gru(*a, reset=False),
                    r"reset gate is missing"),
        requirement("\\tilde{\\mathbf{h}} = \\tanh", lambda *a: gru(*a, candidate=_sigmoid),
                    r"the candidate uses the sigmoid"),
        requirement("+ \\mathbf{b}_z", lambda *a: gru(*a, use_bias=False), r"the bias is missing"),
        requirement("whose column blocks are $z, r, h$ in that order", lambda *a: gru(*a, blocks=(1, 0, 2)),
                    r"blocks are in the wrong order"),
        requirement("`x` is `(d_x,)` and `h` `(units,)` for one sequence", lambda *a: gru(*a, batch_only=True),
                    r"the shape of h"),
        requirement("or `(batch, d_x)` and `(batch, units)` for a batch", lambda *a: gru(*a, single_only=True),
                    r"the shape of h"),
        requirement("return the new state with the shape of `h`", lambda *a: gru(*a)[..., None],
                    r"the shape of h"),
    ],
    "13.rnn_bptt_truncated": [
        free("On a long sequence, BPTT through every step costs memory", "why truncation is used"),
        requirement("cuts the sequence into chunks of $k$ steps", lambda *a: bptt(*a[:-1], a[-1], size=a[-1] + 1),
                    r"the chunks have k \+ 1 steps"),
        requirement("steps $0..k-1$, then $k..2k-1$, and so on", lambda *a: bptt(*a, from_end=True),
                    r"the chunks start at step 0"),
        requirement("(the last chunk may be shorter)", lambda *a: bptt(*a, skip_last=True), r"the last chunk"),
        requirement("each chunk starting from the state the previous chunk ended with",
                    lambda *a: bptt(*a, restart=True), r"starts again from h0"),
        requirement("the backward pass of each chunk stops at the chunk's start", lambda *a: bptt(*a, cut=False),
                    r"crosses the chunk boundaries"),
        requirement("$L = \\tfrac12 \\sum_t \\lVert\\mathbf{h}_t - \\mathbf{y}_t\\rVert^2$",
                    lambda *a: bptt(*a, factor=2.0), r"the loss has the factor 1/2"),
        requirement("returning the gradients `(dW_x, dW_h, db)`", lambda *a: bptt(*a, order=(1, 0, 2)),
                    r"\(dW_x, dW_h, db\) in this order"),
        requirement("summed over all chunks", lambda *a: bptt(*a, mean=True), r"summed over the chunks"),
        requirement("each with the shape of its parameter", lambda *a: bptt(*a, transpose=True),
                    r"the shape of its parameter"),
        free("With $k \\ge T$ it is the full BPTT of the lecture", "follows from the definition; the check tries k = T "
             "and k > T"),
        free("with $k = 1$ no gradient flows between steps", "follows from the definition; the check tries k = 1"),
    ],
    "13.torch_gru_to_keras": [
        free("Models move between libraries", "motivation"),
        requirement("(`batch_first` either way)", lambda g: convert(g, batch_first_only=True), r"batch_first"),
        requirement("three NumPy arrays", lambda g: convert(g, tensors=True), r"NumPy arrays"),
        requirement("`kernel` of shape `(d_x, 3 * units)`", lambda g: convert(g, transpose=False),
                    r"must be transposed"),
        requirement("`kernel` of shape `(d_x, 3 * units)`", lambda g: convert(g, from_hh=True),
                    r"use weight_ih_l0"),
        requirement("`bias` `(2, 3 * units)`", lambda g: convert(g, add=True), r"they are not added"),
        requirement("(row 0 the input bias, row 1 the recurrent bias)", lambda g: convert(g, swap_rows=True),
                    r"rows are swapped"),
        requirement("every block in Keras' gate order $z, r, h$", lambda g: convert(g, order=(0, 1, 2)),
                    r"still in PyTorch's order"),
        free("PyTorch stores `weight_ih_l0`", "describes the input"),
        free("Read the GRU's weights", "what to do; the next clause is the requirement"),
        requirement("do not change them", convert_and_zero, r"changed the GRU's weights"),
    ],
}
