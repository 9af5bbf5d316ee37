"""Checks for chapter 11, convolution from scratch."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    calls_into,
    expect_close,
    expect_ndarray,
    register,
    seeded_global_random,
    seeded_rng,
    to_array,
)
from course_utils.frameworks import require_framework

NOT_NUMPY = ("torch", "scipy", "tensorflow", "keras", "jax")  # exercises 1 to 3 use NumPy only


def _numpy_only(watch, name):
    watch.refuse(f"`{name}` called {{seen}}: exercises 1 to 3 use NumPy only (no scipy.signal, "
                 "no deep-learning library).")


def _defaults_work(func, args, name, signature):
    """Call ``func`` without stride and padding, which default to 1 and 0 (after the cases that
    name them have passed, so it only has to agree with stride 1, padding 0)."""
    try:
        got = call(func, *args, name=name)
    except CheckFailed as err:
        if "TypeError" in str(err) and "argument" in str(err):
            raise CheckFailed(f"`{name}` takes stride=1, padding=0 by default: {signature} must work. "
                              f"({err})") from None
        raise
    explicit = call(func, *args, 1, 0, name=name)
    if not np.allclose(to_array(got, name), to_array(explicit, name), rtol=1e-5, atol=1e-7):
        raise CheckFailed(f"{signature} differs from the same call with stride=1, padding=0: those are the "
                          "defaults.")


def _call_with_pairs(func, args, name, stride, padding):
    """Call ``func``; a failure on an int or a pair says that both are allowed."""
    try:
        return call(func, *args, name=name)
    except CheckFailed as err:
        if "raised" not in str(err):
            raise
        given = [v for v in (stride, padding)]
        kind = "a pair (rows, cols)" if any(not np.isscalar(v) for v in given) else "an int"
        raise CheckFailed(f"{err} Here stride = {stride!r}, padding = {padding!r}: stride and padding can be "
                          f"{kind}.") from None


def _pair(value):
    return (value, value) if np.isscalar(value) else tuple(value)


def _reference_conv(x, w, b, stride, padding, mode="constant"):
    """Batched cross-correlation with (rows, cols) strides and paddings, by explicit window sums."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    x = np.pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode=mode)
    c_out, _, kh, kw = w.shape
    h_out, w_out = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = np.empty((x.shape[0], c_out, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, :, sh * i:sh * i + kh, sw * j:sw * j + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    return out + np.asarray(b, dtype=float)[None, :, None, None]


def _out_size(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


@register("11.conv2d_nchw")
def check_conv2d_nchw(conv2d_nchw):
    """conv2d_nchw(x, w, b, stride, padding): a batch (N, C_in, H, W), non-square kernels, stride and
    padding as an int or a pair (rows, cols)."""
    rng = seeded_rng(31)
    watch = calls_into(conv2d_nchw, NOT_NUMPY)
    cases = [  # N, C_in, C_out, H, W, kh, kw, stride, padding
        (2, 3, 4, 7, 9, 3, 2, 1, 0), (1, 2, 3, 8, 6, 3, 3, 2, 1), (3, 1, 2, 9, 7, 2, 3, (2, 1), (1, 0)),
        (2, 2, 2, 6, 10, 1, 4, (1, 3), (0, 2)), (1, 3, 1, 5, 5, 5, 1, 1, (2, 0)), (2, 2, 3, 11, 8, 3, 2, 3, 1),
        (2, 2, 2, 6, 5, 3, 3, 1, 1),
    ]
    extra = tuple(int(v) for v in rng.integers(1, 4, size=2))
    cases.append((int(rng.integers(2, 4)), 2, 3, 10, 9, 3, 2, extra, (1, int(rng.integers(0, 2)))))
    for index, (n, c_in, c_out, h, w_, kh, kw, stride, padding) in enumerate(cases):
        x = rng.normal(size=(n, c_in, h, w_))
        w = rng.normal(size=(c_out, c_in, kh, kw))
        b = rng.normal(size=c_out)
        case = (f"x {x.shape}, w {w.shape}, stride {stride}, padding {padding}")
        if index % 2:  # the statement's names as keywords work as well as positions
            got = _call_with_pairs(lambda *a: watch.func(*a[:3], stride=a[3], padding=a[4]),
                                   (x, w, b, stride, padding), "conv2d_nchw", stride, padding)
        else:
            got = _call_with_pairs(watch.func, (x, w, b, stride, padding), "conv2d_nchw", stride, padding)
        _numpy_only(watch, "conv2d_nchw")
        expect_ndarray(got, "conv2d_nchw")
        expected = _reference_conv(x, w, b, stride, padding)
        (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
        mistakes = {"the bias is missing": expected - b[None, :, None, None],
                    "the kernel is flipped: use cross-correlation, no flip":
                    _reference_conv(x, w[:, :, ::-1, ::-1], b, stride, padding),
                    "every sample must be convolved: the batch axis comes first":
                    np.broadcast_to(expected[:1], expected.shape)}
        if ph or pw:
            mistakes["pad with zeros: the rows and columns added around x are 0"] = \
                _reference_conv(x, w, b, stride, padding, mode="edge")
        if sh != sw:
            mistakes["stride is (rows, cols): the first entry steps down the rows"] = \
                _reference_conv(x, w, b, (sw, sh), padding)
        if ph != pw:
            mistakes["padding is (rows, cols): the first entry pads the top and bottom"] = \
                _reference_conv(x, w, b, stride, (pw, ph))
        array = to_array(got, "conv2d_nchw(x, w, b, stride, padding)")
        if array.shape != expected.shape:
            hint = ""
            square = [(_out_size(h, k, sh, ph), _out_size(w_, k, sw, pw)) for k in (kh, kw)]
            if kh != kw and array.ndim == 4 and (array.shape[2:] in square or array.shape[2:] == (
                    _out_size(h, kw, sh, ph), _out_size(w_, kh, sw, pw))):
                hint = ": the kernel is (kh, kw): kh rows, kw columns (it need not be square)"
            elif array.ndim == 3:
                hint = ": keep the batch axis, the output is (N, C_out, H_out, W_out)"
            elif array.shape == (n, *expected.shape[2:], c_out):
                hint = ": the output is (N, C_out, H_out, W_out), channels before rows and columns"
            for text, wrong in mistakes.items():
                if np.shape(wrong) == array.shape and np.allclose(array, wrong, rtol=1e-4, atol=1e-6):
                    hint = f": {text}"
            raise CheckFailed(f"conv2d_nchw for {case} has shape {array.shape}, expected {expected.shape}{hint}.")
        expect_close(array, expected, "conv2d_nchw", case=case, mistakes=mistakes)
    x, w, b = rng.normal(size=(2, 2, 6, 7)), rng.normal(size=(3, 2, 3, 2)), rng.normal(size=3)
    _defaults_work(watch.func, (x, w, b), "conv2d_nchw", "conv2d_nchw(x, w, b)")
    return "eight shapes: batches, non-square kernels and inputs, pairs of strides and paddings, defaults"


def _reference_backward_input(grad_out, w, input_shape, stride, padding, crop="both"):
    """Scatter every output gradient back onto the window it came from."""
    c_in, h, w_ = input_shape
    _, _, kh, kw = w.shape
    dx = np.zeros((c_in, max(h + 2 * padding, stride * (grad_out.shape[1] - 1) + kh),
                   max(w_ + 2 * padding, stride * (grad_out.shape[2] - 1) + kw)))
    for i in range(grad_out.shape[1]):
        for j in range(grad_out.shape[2]):
            dx[:, stride * i:stride * i + kh, stride * j:stride * j + kw] += np.tensordot(
                grad_out[:, i, j], w, axes=(0, 0))
    if crop == "start":
        return dx[:, :h, :w_]
    return dx[:, padding:padding + h, padding:padding + w_]


@register("11.conv2d_backward_input")
def check_conv2d_backward_input(conv2d_backward_input):
    """conv2d_backward_input(grad_out, w, input_shape, stride, padding) returns dL/dx (C_in, H, W)."""
    rng = seeded_rng(32)
    watch = calls_into(conv2d_backward_input, NOT_NUMPY)
    cases = [(2, 2, 5, 4, 3, 3, 1, 2), (3, 3, 7, 8, 3, 2, 2, 1), (2, 3, 6, 5, 3, 3, 1, 0), (3, 2, 7, 8, 3, 2, 2, 1),
             (1, 4, 9, 9, 3, 3, 2, 0), (2, 2, 8, 7, 2, 3, 3, 1), (3, 1, 5, 6, 1, 1, 2, 0), (2, 3, 10, 6, 4, 2, 3, 2),
             (int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(6, 11)), int(rng.integers(6, 11)),
              3, 2, int(rng.integers(2, 4)), int(rng.integers(0, 2)))]
    for c_in, c_out, h, w_, kh, kw, stride, padding in cases:
        w = rng.normal(size=(c_out, c_in, kh, kw))
        h_out = (h + 2 * padding - kh) // stride + 1
        w_out = (w_ + 2 * padding - kw) // stride + 1
        grad_out = rng.normal(size=(c_out, h_out, w_out))
        shape = (c_in, h, w_)
        case = f"input (C_in, H, W) = {shape}, w {w.shape}, stride {stride}, padding {padding}"
        got = call(watch.func, grad_out, w, shape, stride, padding, name="conv2d_backward_input")
        _numpy_only(watch, "conv2d_backward_input")
        array = to_array(expect_ndarray(got, "conv2d_backward_input"), "conv2d_backward_input(...)")
        if array.shape != shape:
            if array.shape == (c_in, h + 2 * padding, w_ + 2 * padding) and padding:
                raise CheckFailed(f"for {case} the result has the shape of the padded input: cut the padding "
                                  "off, the gradient is for the input itself.")
            raise CheckFailed(f"for {case} the result has shape {array.shape}: the shape of dx is input_shape "
                              f"{shape} (take H and W from input_shape: grad_out cannot tell them when the "
                              "stride skips the last rows).")
        expected = _reference_backward_input(grad_out, w, shape, stride, padding)
        mistakes = {"the kernel is flipped twice (or not at all): the pixel at a + u met W[..., u, ...]":
                    _reference_backward_input(grad_out, w[:, :, ::-1, ::-1], shape, stride, padding)}
        if stride > 1:
            mistakes["the stride is ignored: output (i, j) used the window that starts at (s i, s j)"] = \
                _reference_backward_input(grad_out, w, shape, 1, padding)
        if padding:
            mistakes["the windows start at (s i, s j) of the padded input: cut `padding` rows and columns off "
                     "each side, not only at the end"] = \
                _reference_backward_input(grad_out, w, shape, stride, padding, crop="start")
        if c_in == c_out:
            mistakes["w is (C_out, C_in, kh, kw): the gradient sums over its first axis, the output channels"] = \
                _reference_backward_input(grad_out, np.swapaxes(w, 0, 1), shape, stride, padding)
        expect_close(array, expected, "conv2d_backward_input", case=case, mistakes=mistakes)
        # the adjoint identity <conv(x), g> = <x, dx> for a random x: the definition of dL/dx
        x = rng.normal(size=(1, *shape))
        forward = _reference_conv(x, w, np.zeros(c_out), stride, padding)[0]
        if not np.isclose(np.sum(forward * grad_out), np.sum(x[0] * array.astype(float)), rtol=1e-5):
            raise CheckFailed(f"for {case}, sum(conv(x) * grad_out) differs from sum(x * dx): dx is not the "
                              "gradient.")
    w, grad_out = rng.normal(size=(2, 3, 2, 3)), rng.normal(size=(2, 4, 3))
    _defaults_work(watch.func, (grad_out, w, (3, 5, 5)), "conv2d_backward_input",
                   "conv2d_backward_input(grad_out, w, input_shape)")
    return "nine shapes with strides 1 to 3, padding up to 2, non-square kernels and rows the stride skips"


def _reference_pool_backward(x, grad_out, size, stride, ties="first", step=None):
    step = stride if step is None else step
    dx = np.zeros_like(x, dtype=float)
    for c in range(x.shape[0]):
        for i in range(grad_out.shape[1]):
            for j in range(grad_out.shape[2]):
                rows, cols = slice(step * i, step * i + size), slice(step * j, step * j + size)
                window = x[c, rows, cols]
                if ties == "all":
                    dx[c, rows, cols] += grad_out[c, i, j] * (window == window.max())
                elif ties == "spread":
                    dx[c, rows, cols] += grad_out[c, i, j]
                elif ties == "columns":
                    v, u = np.unravel_index(int(np.argmax(window.T)), window.T.shape)
                    dx[c, step * i + u, step * j + v] += grad_out[c, i, j]
                else:
                    u, v = np.unravel_index(int(np.argmax(window)), window.shape)
                    if ties == "assign":
                        dx[c, step * i + u, step * j + v] = grad_out[c, i, j]
                    else:
                        dx[c, step * i + u, step * j + v] += grad_out[c, i, j]
    return dx


@register("11.max_pool2d_backward")
def check_max_pool2d_backward(max_pool2d_backward):
    """max_pool2d_backward(x, grad_out, size, stride) routes each output gradient to the first maximum of
    its window and adds up where windows overlap."""
    rng = seeded_rng(33)
    watch = calls_into(max_pool2d_backward, NOT_NUMPY)
    cases = [(2, 9, 6, 2, 3), (2, 6, 8, 2, 2), (1, 7, 7, 3, 2), (3, 5, 9, 3, 1), (1, 8, 5, 4, 2),
             (int(rng.integers(1, 4)), int(rng.integers(6, 10)), int(rng.integers(6, 10)), int(rng.integers(2, 4)),
              int(rng.integers(1, 4)))]
    for c, h, w_, size, stride in cases:
        x = rng.normal(size=(c, h, w_))
        h_out, w_out = (h - size) // stride + 1, (w_ - size) // stride + 1
        grad_out = rng.normal(size=(c, h_out, w_out))
        case = f"x {x.shape}, size {size}, stride {stride}"
        got = call(watch.func, x, grad_out, size, stride, name="max_pool2d_backward")
        _numpy_only(watch, "max_pool2d_backward")
        array = to_array(expect_ndarray(got, "max_pool2d_backward"), "max_pool2d_backward(...)")
        if array.shape != x.shape:
            raise CheckFailed(f"max_pool2d_backward for {case} has shape {array.shape}: it should have the shape "
                              f"of x, {x.shape} (rows and columns no window reaches are part of it, with zero "
                              "gradient).")
        reached = np.zeros(x.shape[1:], dtype=bool)
        reached[:stride * (h_out - 1) + size, :stride * (w_out - 1) + size] = True
        if np.any(array[:, ~reached] != 0):
            raise CheckFailed(f"max_pool2d_backward for {case} gives a gradient to rows or columns that no "
                              "window reaches: they did not affect the output, so they get zero.")
        expected = _reference_pool_backward(x, grad_out, size, stride)
        mistakes = {"each output's gradient went to every entry of its window: send it to the window's "
                    "maximum only":
                    _reference_pool_backward(x, grad_out, size, stride, "spread"),
                    "that is the gradient of an average over the window: send each output's gradient to "
                    "the maximum of its window only":
                    _reference_pool_backward(x, grad_out, size, stride, "spread") / size**2}
        if stride < size:
            mistakes["overlapping windows can share their maximum: add the gradients (+=), do not "
                      "overwrite them"] = _reference_pool_backward(x, grad_out, size, stride, "assign")
        if stride > size:
            mistakes["the windows step by `stride`, not by `size`: window (i, j) starts at (stride i, "
                      "stride j)"] = _reference_pool_backward(x, grad_out, size, stride, step=size)
        expect_close(array, expected, "max_pool2d_backward", case=case, mistakes=mistakes)
    x = np.array([[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 1.0, 3.0], [0.0, 0.0, 5.0, 5.0], [0.0, 0.0, 5.0, 5.0]]])
    x = x * rng.uniform(0.5, 2.0)
    grad_out = rng.normal(size=(1, 2, 2))
    got = call(watch.func, x, grad_out, 2, 2, name="max_pool2d_backward")
    _numpy_only(watch, "max_pool2d_backward")
    expect_close(got, _reference_pool_backward(x, grad_out, 2, 2), "max_pool2d_backward",
                 case="windows with tied maxima", mistakes={
                     "with ties, only the first maximum of the window (row by row) gets the gradient, as in "
                     "PyTorch": _reference_pool_backward(x, grad_out, 2, 2, "all"),
                     "with ties, the first maximum is the first row by row (x[0, 1] before x[1, 0]), not column "
                     "by column": _reference_pool_backward(x, grad_out, 2, 2, "columns")})
    return "six shapes with overlapping and gapped windows, unreached rows, and tied maxima"


def _conv_matrix_reference(torch, layer, input_shape):
    n_in = int(np.prod(input_shape))
    basis = torch.eye(n_in, dtype=layer.weight.dtype).reshape(n_in, *input_shape)
    with torch.no_grad():
        columns = torch.nn.functional.conv2d(basis, layer.weight, None, layer.stride, layer.padding,
                                             layer.dilation, layer.groups)
    return columns.reshape(n_in, -1).T.numpy().astype(float)


@register("11.conv_as_matrix")
def check_conv_as_matrix(conv_as_matrix):
    """conv_as_matrix(layer, input_shape) returns the matrix M of a torch.nn.Conv2d (bias left out):
    layer(x)[0].ravel() == M @ x.ravel() + the bias of each output."""
    torch = require_framework("torch")
    nn = torch.nn
    rng = seeded_rng(34)
    with seeded_global_random(34):
        layers = [("Conv2d(2, 3, 3)", nn.Conv2d(2, 3, 3), (2, 5, 6)),
                  ("Conv2d(1, 2, (3, 2), stride=2, padding=1)", nn.Conv2d(1, 2, (3, 2), stride=2, padding=1),
                   (1, 6, 5)),
                  ("Conv2d(3, 1, 2, bias=False, dilation=2)", nn.Conv2d(3, 1, 2, bias=False, dilation=2), (3, 5, 5)),
                  ("Conv2d(2, 2, 1, stride=(1, 2))", nn.Conv2d(2, 2, 1, stride=(1, 2)), (2, 3, 4))]
    for description, layer, shape in layers:
        case = f"{description} on inputs of shape {shape}"
        got = call(conv_as_matrix, layer, shape, name="conv_as_matrix")
        array = to_array(expect_ndarray(got, "conv_as_matrix"), "conv_as_matrix(layer, input_shape)")
        expected = _conv_matrix_reference(torch, layer, shape)
        if array.shape == expected.T.shape and expected.shape[0] != expected.shape[1]:
            raise CheckFailed(f"for {case} the matrix has shape {array.shape}: it is transposed. M has one row "
                              "per output value and one column per input value.")
        mistakes = {}
        if layer.bias is not None:
            bias = layer.bias.detach().numpy().astype(float)
            per_output = np.repeat(bias, expected.shape[0] // len(bias))
            mistakes["the bias is not part of M (it would be added to every column): use the layer without "
                     "its bias, or subtract layer(zeros)"] = expected + per_output[:, None]
        with torch.no_grad():
            y_shape = tuple(layer(torch.zeros(1, *shape)).shape[1:])
        rows_hwc = np.arange(expected.shape[0]).reshape(y_shape).transpose(1, 2, 0).ravel()
        cols_hwc = np.arange(expected.shape[1]).reshape(shape).transpose(1, 2, 0).ravel()
        mistakes["flatten in PyTorch's (C, H, W) order, as x.ravel() and layer(x).ravel() do"] = \
            expected[rows_hwc][:, cols_hwc]
        if array.shape == expected.shape:
            for text, wrong in mistakes.items():
                if np.allclose(array, wrong, rtol=1e-4, atol=1e-5):
                    raise CheckFailed(f"conv_as_matrix for {case} is wrong: {text}")
            x = rng.normal(size=shape)
            with torch.no_grad():
                y = layer(torch.as_tensor(x[None], dtype=layer.weight.dtype))[0].double().numpy().ravel()
            bias_part = 0.0 if layer.bias is None else np.repeat(layer.bias.detach().double().numpy(),
                                                                 y.size // layer.out_channels)
            if not np.allclose(array.astype(float) @ x.ravel() + bias_part, y, rtol=1e-4, atol=1e-4):
                raise CheckFailed(f"for {case} and a random x, M @ x.ravel() + bias does not give layer(x)[0].ravel(): "
                                  "each row of M holds the weights that output value takes from each input value.")
        elif array.ndim == 2:
            raise CheckFailed(f"for {case} M has shape {array.shape}, expected (C_out * H_out * W_out, C_in * H * W) "
                              f"= {expected.shape}.")
        expect_close(array, expected, "conv_as_matrix", case=case, rtol=1e-5, atol=1e-6, mistakes=mistakes)
    return "four layers: padding, strides, a non-square kernel, dilation, with and without bias"
