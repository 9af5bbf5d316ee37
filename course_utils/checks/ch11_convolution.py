"""Checks for chapter 11, convolution from scratch."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import CheckFailed, call, expect_close, register, seeded_rng, to_array
from course_utils.frameworks import require_framework


def _reference_conv(x, w, b, stride, padding):
    """Direct sum over kernel offsets: out[o, i, j] = b[o] + sum_c,u,v w[o,c,u,v] x[c, s*i+u, s*j+v]."""
    x = np.pad(np.asarray(x, dtype=float), ((0, 0), (padding, padding), (padding, padding)))
    c_out, _, kh, kw = w.shape
    h_out = (x.shape[1] - kh) // stride + 1
    w_out = (x.shape[2] - kw) // stride + 1
    out = np.zeros((c_out, h_out, w_out))
    for u in range(kh):
        for v in range(kw):
            patch = x[:, u:u + stride * (h_out - 1) + 1:stride, v:v + stride * (w_out - 1) + 1:stride]
            out += np.tensordot(w[:, :, u, v], patch, axes=(1, 0))
    return out + np.asarray(b, dtype=float)[:, None, None]


def _pair(value):
    return (value, value) if np.isscalar(value) else tuple(value)


def _reference_conv_pairs(x, w, b, stride, padding):
    """Batched cross-correlation with (rows, cols) strides and paddings, by explicit window sums."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    x = np.pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    c_out, _, kh, kw = w.shape
    h_out, w_out = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = np.empty((x.shape[0], c_out, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, :, sh * i:sh * i + kh, sw * j:sw * j + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    return out + np.asarray(b, dtype=float)[None, :, None, None]


@register("11.conv2d_nchw")
def check_conv2d_nchw(conv2d_nchw):
    """conv2d_nchw(x, w, b, stride, padding): a batch (N, C_in, H, W), non-square kernels, stride and
    padding as an int or a pair (rows, cols)."""
    rng = seeded_rng(31)
    cases = [  # N, C_in, C_out, H, W, kh, kw, stride, padding
        (2, 3, 4, 7, 9, 3, 2, 1, 0), (1, 2, 3, 8, 6, 3, 3, 2, 1), (3, 1, 2, 9, 7, 2, 3, (2, 1), (1, 0)),
        (2, 2, 2, 6, 10, 1, 4, (1, 3), (0, 2)), (1, 3, 1, 5, 5, 5, 1, 1, (2, 0)), (2, 2, 3, 11, 8, 3, 2, 3, 1),
    ]
    for n, c_in, c_out, h, w_, kh, kw, stride, padding in cases:
        x = rng.normal(size=(n, c_in, h, w_))
        w = rng.normal(size=(c_out, c_in, kh, kw))
        b = rng.normal(size=c_out)
        case = (f"x {x.shape}, w {w.shape}, stride {stride}, padding {padding}")
        got = call(conv2d_nchw, x, w, b, stride, padding, name="conv2d_nchw")
        expected = _reference_conv_pairs(x, w, b, stride, padding)
        (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
        mistakes = {"the bias is missing": expected - b[None, :, None, None],
                    "the kernel is flipped: use cross-correlation, no flip":
                    _reference_conv_pairs(x, w[:, :, ::-1, ::-1], b, stride, padding),
                    "every sample must be convolved: the batch axis comes first":
                    np.broadcast_to(expected[:1], expected.shape)}
        if sh != sw:
            mistakes["stride is (rows, cols): the first entry steps down the rows"] = \
                _reference_conv_pairs(x, w, b, (sw, sh), padding)
        if ph != pw:
            mistakes["padding is (rows, cols): the first entry pads the top and bottom"] = \
                _reference_conv_pairs(x, w, b, stride, (pw, ph))
        array = to_array(got, "conv2d_nchw(x, w, b, stride, padding)")
        if array.shape != expected.shape:
            hint = ""
            if kh != kw and array.shape[2:] == expected.shape[2:][::-1]:
                hint = ": the kernel is (kh, kw): kh rows, kw columns"
            elif array.ndim == 3:
                hint = ": keep the batch axis, the output is (N, C_out, H_out, W_out)"
            for text, wrong in mistakes.items():
                if np.shape(wrong) == array.shape and np.allclose(array, wrong, rtol=1e-4, atol=1e-6):
                    hint = f": {text}"
            raise CheckFailed(f"conv2d_nchw for {case} has shape {array.shape}, expected {expected.shape}{hint}.")
        expect_close(array, expected, "conv2d_nchw", case=case, mistakes=mistakes)
    return "six shapes: batches, non-square kernels and inputs, pairs of strides and paddings"


def _reference_backward_input(grad_out, w, input_shape, stride, padding):
    """Scatter every output gradient back onto the window it came from."""
    c_in, h, w_ = input_shape
    _, _, kh, kw = w.shape
    dx = np.zeros((c_in, h + 2 * padding, w_ + 2 * padding))
    for i in range(grad_out.shape[1]):
        for j in range(grad_out.shape[2]):
            dx[:, stride * i:stride * i + kh, stride * j:stride * j + kw] += np.tensordot(
                grad_out[:, i, j], w, axes=(0, 0))
    return dx[:, padding:padding + h, padding:padding + w_]


@register("11.conv2d_backward_input")
def check_conv2d_backward_input(conv2d_backward_input):
    """conv2d_backward_input(grad_out, w, input_shape, stride, padding) returns dL/dx (C_in, H, W)."""
    rng = seeded_rng(32)
    cases = [(2, 3, 6, 5, 3, 3, 1, 0), (3, 2, 7, 8, 3, 2, 2, 1), (1, 4, 9, 9, 3, 3, 2, 0), (2, 2, 8, 7, 2, 3, 3, 1),
             (3, 1, 5, 6, 1, 1, 2, 0), (2, 3, 10, 6, 4, 2, 3, 2), (2, 2, 5, 4, 3, 3, 1, 2)]
    for c_in, c_out, h, w_, kh, kw, stride, padding in cases:
        w = rng.normal(size=(c_out, c_in, kh, kw))
        h_out = (h + 2 * padding - kh) // stride + 1
        w_out = (w_ + 2 * padding - kw) // stride + 1
        grad_out = rng.normal(size=(c_out, h_out, w_out))
        case = f"input (C_in, H, W) = {(c_in, h, w_)}, w {w.shape}, stride {stride}, padding {padding}"
        got = call(conv2d_backward_input, grad_out, w, (c_in, h, w_), stride, padding,
                   name="conv2d_backward_input")
        expected = _reference_backward_input(grad_out, w, (c_in, h, w_), stride, padding)
        array = to_array(got, "conv2d_backward_input(...)")
        if array.shape == (c_in, h + 2 * padding, w_ + 2 * padding) and padding:
            raise CheckFailed(f"for {case} the result has the shape of the padded input: cut the padding "
                              "off, the gradient is for the input itself.")
        mistakes = {"the kernel is flipped twice (or not at all): the pixel at a + u met W[..., u, ...]":
                    _reference_backward_input(grad_out, w[:, :, ::-1, ::-1], (c_in, h, w_), stride, padding)}
        expect_close(array, expected, "conv2d_backward_input", case=case, mistakes=mistakes)
        # the adjoint identity <conv(x), g> = <x, dx> for a random x: the definition of dL/dx
        x = rng.normal(size=(c_in, h, w_))
        forward = _reference_conv(x, w, np.zeros(c_out), stride, padding)
        if not np.isclose(np.sum(forward * grad_out), np.sum(x * array.astype(float)), rtol=1e-5):
            raise CheckFailed(f"for {case}, sum(conv(x) * grad_out) differs from sum(x * dx): dx is not the "
                              "gradient.")
    return "seven shapes with strides 1 to 3, padding up to 2, non-square kernels and rows the stride skips"


def _reference_pool_backward(x, grad_out, size, stride, ties="first"):
    dx = np.zeros_like(x, dtype=float)
    for c in range(x.shape[0]):
        for i in range(grad_out.shape[1]):
            for j in range(grad_out.shape[2]):
                window = x[c, stride * i:stride * i + size, stride * j:stride * j + size]
                if ties == "all":
                    mask = window == window.max()
                    dx[c, stride * i:stride * i + size, stride * j:stride * j + size] += grad_out[c, i, j] * mask
                elif ties == "spread":
                    dx[c, stride * i:stride * i + size, stride * j:stride * j + size] += grad_out[c, i, j]
                elif ties == "assign":
                    u, v = np.unravel_index(int(np.argmax(window)), window.shape)
                    dx[c, stride * i + u, stride * j + v] = grad_out[c, i, j]
                else:
                    u, v = np.unravel_index(int(np.argmax(window)), window.shape)
                    dx[c, stride * i + u, stride * j + v] += grad_out[c, i, j]
    return dx


@register("11.max_pool2d_backward")
def check_max_pool2d_backward(max_pool2d_backward):
    """max_pool2d_backward(x, grad_out, size, stride) routes each output gradient to the first maximum of
    its window and adds up where windows overlap."""
    rng = seeded_rng(33)
    cases = [(2, 6, 8, 2, 2), (1, 7, 7, 3, 2), (3, 5, 9, 3, 1), (2, 9, 6, 2, 3), (1, 8, 5, 4, 2)]
    for c, h, w_, size, stride in cases:
        x = rng.normal(size=(c, h, w_))
        h_out, w_out = (h - size) // stride + 1, (w_ - size) // stride + 1
        grad_out = rng.normal(size=(c, h_out, w_out))
        case = f"x {x.shape}, size {size}, stride {stride}"
        got = call(max_pool2d_backward, x, grad_out, size, stride, name="max_pool2d_backward")
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
        expect_close(got, expected, "max_pool2d_backward", case=case, mistakes=mistakes)
    x = np.array([[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 1.0, 3.0], [0.0, 0.0, 5.0, 5.0], [0.0, 0.0, 5.0, 5.0]]])
    grad_out = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    got = call(max_pool2d_backward, x, grad_out, 2, 2, name="max_pool2d_backward")
    expect_close(got, _reference_pool_backward(x, grad_out, 2, 2), "max_pool2d_backward",
                 case="windows with tied maxima", mistakes={
                     "with ties, only the first maximum of the window (row by row) gets the gradient, as in "
                     "PyTorch": _reference_pool_backward(x, grad_out, 2, 2, "all")})
    return "five shapes with overlapping and gapped windows, and tied maxima"


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
    torch.manual_seed(0)
    nn = torch.nn
    layers = [("Conv2d(2, 3, 3)", nn.Conv2d(2, 3, 3), (2, 5, 6)),
              ("Conv2d(1, 2, (3, 2), stride=2, padding=1)", nn.Conv2d(1, 2, (3, 2), stride=2, padding=1), (1, 6, 5)),
              ("Conv2d(3, 1, 2, bias=False, dilation=2)", nn.Conv2d(3, 1, 2, bias=False, dilation=2), (3, 5, 5)),
              ("Conv2d(2, 2, 1, stride=(1, 2))", nn.Conv2d(2, 2, 1, stride=(1, 2)), (2, 3, 4))]
    for description, layer, shape in layers:
        case = f"{description} on inputs of shape {shape}"
        got = call(conv_as_matrix, layer, shape, name="conv_as_matrix")
        array = to_array(got, "conv_as_matrix(layer, input_shape)")
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
        expect_close(array, expected, "conv_as_matrix", case=case, rtol=1e-5, atol=1e-6, mistakes=mistakes)
    return "four layers: padding, strides, a non-square kernel, dilation, with and without bias"
