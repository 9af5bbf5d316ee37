"""Requirement table of chapter 11, convolution from scratch (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

NUMPY_ONLY = "Exercises 1 to 3 use NumPy only (no `scipy.signal`, no deep-learning library)"

# --------------------------------------------------------------------------- 11.conv2d_nchw


def _pairs(stride, padding):
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    return sh, sw, ph, pw


def conv(x, w, b, stride=1, padding=0, *, mode="constant", flip=False, swap_stride=False,
         swap_padding=False):
    """The solution's answer; the keywords make it break one requirement."""
    sh, sw, ph, pw = _pairs(stride, padding)
    if swap_stride:
        sh, sw = sw, sh
    if swap_padding:
        ph, pw = pw, ph
    x = np.pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode=mode)
    if flip:
        w = w[:, :, ::-1, ::-1]
    c_out, _, kh, kw = w.shape
    h_out, w_out = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], c_out, h_out, w_out))
    for u in range(kh):
        for v in range(kw):
            patch = x[:, :, u:u + sh * (h_out - 1) + 1:sh, v:v + sw * (w_out - 1) + 1:sw]
            out += np.einsum("oc,nchw->nohw", w[:, :, u, v], patch)
    return out + b[None, :, None, None]


def conv_without_defaults(x, w, b, stride, padding):
    return conv(x, w, b, stride, padding)


def conv_first_sample_only(x, w, b, stride=1, padding=0):
    first = conv(x[:1], w, b, stride, padding)
    return np.repeat(first, len(x), axis=0)


def conv_square_kernels_only(x, w, b, stride=1, padding=0):
    k = w.shape[2]
    return conv(x, w[:, :, :k, :k] if w.shape[3] >= k else np.resize(w, (*w.shape[:2], k, k)), b, stride, padding)


def conv_without_bias(x, w, b, stride=1, padding=0):
    return conv(x, w, np.zeros_like(b), stride, padding)


def conv_ints_only(x, w, b, stride=1, padding=0):
    if not (np.isscalar(stride) and np.isscalar(padding)):
        raise TypeError("unsupported operand type(s) for *: 'int' and 'tuple'")
    return conv(x, w, b, stride, padding)


def conv_pairs_only(x, w, b, stride=1, padding=0):
    (sh, sw), (ph, pw) = stride, padding  # TypeError for an int
    return conv(x, w, b, (sh, sw), (ph, pw))


def conv_channels_last(x, w, b, stride=1, padding=0):
    return conv(x, w, b, stride, padding).transpose(0, 2, 3, 1)


def conv_as_list(x, w, b, stride=1, padding=0):
    return conv(x, w, b, stride, padding).tolist()


def conv_with_torch(x, w, b, stride=1, padding=0):
    import torch

    sh, sw, ph, pw = _pairs(stride, padding)
    out = torch.nn.functional.conv2d(torch.as_tensor(x), torch.as_tensor(w), torch.as_tensor(b),
                                     stride=(sh, sw), padding=(ph, pw))
    return out.numpy()


# --------------------------------------------------------------------------- 11.conv2d_backward_input


def backward(grad_out, w, input_shape, stride=1, padding=0, *, crop="both", step=None):
    """The solution's answer; the keywords make it break one requirement."""
    step = stride if step is None else step
    c_in, h, w_ = input_shape
    kh, kw = w.shape[2:]
    h_out, w_out = grad_out.shape[1:]
    dx = np.zeros((c_in, max(h + 2 * padding, step * (h_out - 1) + kh), max(w_ + 2 * padding, step * (w_out - 1) + kw)))
    for u in range(kh):
        for v in range(kw):
            dx[:, u:u + step * (h_out - 1) + 1:step, v:v + step * (w_out - 1) + 1:step] += np.einsum(
                "oc,ohw->chw", w[:, :, u, v], grad_out)
    if crop == "none":
        return dx[:, :h + 2 * padding, :w_ + 2 * padding]
    if crop == "start":
        return dx[:, :h, :w_]
    return dx[:, padding:padding + h, padding:padding + w_]


def backward_without_defaults(grad_out, w, input_shape, stride, padding):
    return backward(grad_out, w, input_shape, stride, padding)


def backward_stride_one(grad_out, w, input_shape, stride=1, padding=0):
    return backward(grad_out, w, input_shape, stride, padding, step=1)


def backward_channels_swapped(grad_out, w, input_shape, stride=1, padding=0):
    """Reads w as (C_in, C_out, kh, kw)."""
    c_in, h, w_ = input_shape
    swapped = np.swapaxes(w, 0, 1)
    if swapped.shape[0] != grad_out.shape[0]:
        raise ValueError("operands could not be broadcast together")
    return backward(grad_out, swapped, (swapped.shape[1], h, w_), stride, padding)


def backward_shape_from_grad_out(grad_out, w, input_shape, stride=1, padding=0):
    """Recovers H and W from grad_out, which misses the rows the stride skips."""
    kh, kw = w.shape[2:]
    h = stride * (grad_out.shape[1] - 1) + kh - 2 * padding
    w_ = stride * (grad_out.shape[2] - 1) + kw - 2 * padding
    return backward(grad_out, w, (input_shape[0], h, w_), stride, padding)


def backward_padded_shape(grad_out, w, input_shape, stride=1, padding=0):
    return backward(grad_out, w, input_shape, stride, padding, crop="none")


def backward_as_list(grad_out, w, input_shape, stride=1, padding=0):
    return backward(grad_out, w, input_shape, stride, padding).tolist()


def backward_cropped_at_the_start(grad_out, w, input_shape, stride=1, padding=0):
    return backward(grad_out, w, input_shape, stride, padding, crop="start")


def backward_with_torch(grad_out, w, input_shape, stride=1, padding=0):
    import torch

    x = torch.zeros((1, *input_shape), dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(x, torch.as_tensor(w), stride=stride, padding=padding)
    y.backward(torch.as_tensor(grad_out)[None])
    return x.grad[0].numpy()


# --------------------------------------------------------------------------- 11.max_pool2d_backward


def pool_backward(x, grad_out, size, stride, *, step=None, ties="rows", assign=False, fill_edges=False,
                  share="max"):
    """The solution's answer; the keywords make it break one requirement."""
    step = stride if step is None else step
    c = len(x)
    dx = np.zeros(x.shape)
    for i in range(grad_out.shape[1]):
        for j in range(grad_out.shape[2]):
            top, left = step * i, step * j
            window = x[:, top:top + size, left:left + size]
            if share == "mean":
                dx[:, top:top + size, left:left + size] += grad_out[:, i, j, None, None] / size**2
                continue
            flat = (window if ties == "rows" else window.transpose(0, 2, 1)).reshape(c, -1)
            first = flat.argmax(axis=1)
            rows, cols = np.unravel_index(first, (size, size))
            if ties != "rows":
                rows, cols = cols, rows
            if assign:
                dx[np.arange(c), top + rows, left + cols] = grad_out[:, i, j]
            else:
                dx[np.arange(c), top + rows, left + cols] += grad_out[:, i, j]
    if fill_edges:  # what no window reaches gets the gradient of the nearest window's row and column
        reach_h = stride * (grad_out.shape[1] - 1) + size
        reach_w = stride * (grad_out.shape[2] - 1) + size
        dx[:, reach_h:, :] = grad_out[:, -1:, :1].mean()
        dx[:, :, reach_w:] = grad_out[:, :1, -1:].mean()
    return dx


def pool_backward_steps_by_size(x, grad_out, size, stride):
    return pool_backward(x, grad_out, size, stride, step=size)


def pool_backward_unreached_not_zero(x, grad_out, size, stride):
    return pool_backward(x, grad_out, size, stride, fill_edges=True)


def pool_backward_average(x, grad_out, size, stride):
    return pool_backward(x, grad_out, size, stride, share="mean")


def pool_backward_overwrites(x, grad_out, size, stride):
    return pool_backward(x, grad_out, size, stride, assign=True)


def pool_backward_all_ties(x, grad_out, size, stride):
    dx = np.zeros(x.shape)
    for i in range(grad_out.shape[1]):
        for j in range(grad_out.shape[2]):
            window = x[:, stride * i:stride * i + size, stride * j:stride * j + size]
            top = window == window.max(axis=(1, 2), keepdims=True)
            dx[:, stride * i:stride * i + size, stride * j:stride * j + size] += top * grad_out[:, i, j, None, None]
    return dx


def pool_backward_first_by_columns(x, grad_out, size, stride):
    return pool_backward(x, grad_out, size, stride, ties="columns")


def pool_backward_reached_part_only(x, grad_out, size, stride):
    dx = pool_backward(x, grad_out, size, stride)
    return dx[:, :stride * (grad_out.shape[1] - 1) + size, :stride * (grad_out.shape[2] - 1) + size]


def pool_backward_as_list(x, grad_out, size, stride):
    return pool_backward(x, grad_out, size, stride).tolist()


def pool_backward_with_torch(x, grad_out, size, stride):
    import torch

    t = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(t[None], size, stride).backward(torch.as_tensor(grad_out)[None])
    return t.grad.numpy()


# --------------------------------------------------------------------------- 11.conv_as_matrix


def matrix(layer, input_shape, *, keep_bias=False, flip=False, tensor=False, channels_last=False):
    """The solution's answer; the keywords make it break one requirement."""
    import torch

    n_in = int(np.prod(input_shape))
    basis = torch.eye(n_in, dtype=layer.weight.dtype).reshape(n_in, *input_shape)
    with torch.no_grad():
        if flip:  # a true convolution: the kernel turned by 180 degrees
            columns = torch.nn.functional.conv2d(basis, layer.weight.flip(2, 3), layer.bias, layer.stride,
                                                 layer.padding, layer.dilation)
        else:
            columns = layer(basis)
        if layer.bias is not None and not keep_bias:
            columns = columns - layer.bias[None, :, None, None]
    if channels_last:
        columns = columns.permute(0, 2, 3, 1)
        order = np.arange(n_in).reshape(input_shape).transpose(1, 2, 0).ravel()
        columns = columns[order]
    m = columns.reshape(n_in, -1).T
    return m if tensor else m.numpy()


def matrix_as_tensor(layer, input_shape):
    return matrix(layer, input_shape, tensor=True)


def matrix_transposed(layer, input_shape):
    return matrix(layer, input_shape).T


def matrix_of_flipped_kernel(layer, input_shape):
    return matrix(layer, input_shape, flip=True)


def matrix_with_bias(layer, input_shape):
    return matrix(layer, input_shape, keep_bias=True)


def matrix_channels_last(layer, input_shape):
    return matrix(layer, input_shape, channels_last=True)


# --------------------------------------------------------------------------- the table

TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/11-convolution`", "where to read first"),
        free("exercise 4 takes a PyTorch layer", "names exercise 4's argument; its rows test it"),
    ],
    "11.conv2d_nchw": [
        requirement("`conv2d_nchw(x, w, b, stride=1, padding=0)`", conv_without_defaults,
                    r"stride=1, padding=0 by default"),
        requirement("for a batch `x` of shape (N, C_in, H, W)", conv_first_sample_only,
                    r"every sample must be convolved"),
        requirement("with possibly `kh != kw`", conv_square_kernels_only, r"kh rows, kw columns"),
        requirement("and a bias `b` (C_out,)", conv_without_bias, r"the bias is missing"),
        requirement("are each an int or a pair `(rows, cols)`", conv_ints_only,
                    r"stride and padding can be a pair \(rows, cols\)"),
        requirement("are each an int or a pair", conv_pairs_only, r"stride and padding can be an int"),
        requirement("a stride `(2, 1)` steps two rows down but one column across",
                    lambda *a, **k: conv(*a, **k, swap_stride=True),
                    r"stride is \(rows, cols\)"),
        requirement("a padding `(1, 0)` adds a zero row", lambda *a, **k: conv(*a, **k, mode="edge"),
                    r"pad with zeros"),
        requirement("above and below but no columns", lambda *a, **k: conv(*a, **k, swap_padding=True),
                    r"padding is \(rows, cols\)"),
        requirement("Return an array (N, C_out, H_out, W_out)", conv_channels_last,
                    r"\(N, C_out, H_out, W_out\)"),
        requirement("Return an array", conv_as_list, r"should return a NumPy array"),
        requirement("$Y[n, o, i, j] = b_o + \\sum_{c,u,v} X_\\text{padded}[n, c, s_h i + u, s_w j + v]\\, "
                    "W[o, c, u, v]$", lambda *a, **k: conv(*a, **k, flip=True),
                    r"the kernel is flipped: use cross-correlation"),
        requirement(NUMPY_ONLY, conv_with_torch, r"NumPy only"),
    ],
    "11.conv2d_backward_input": [
        free("The lecture computes", "what the lecture did"),
        requirement("`conv2d_backward_input(grad_out, w, input_shape, stride=1, padding=0)`",
                    backward_without_defaults, r"stride=1, padding=0 by default"),
        requirement("for one image and any stride", backward_stride_one, r"the stride is ignored"),
        requirement("`w` has shape (C_out, C_in, kh, kw)", backward_channels_swapped, r"w is \(C_out, C_in, kh, kw\)"),
        requirement("(it cannot be recovered from `grad_out` when the stride skips the last rows)",
                    backward_shape_from_grad_out, r"the shape of dx is input_shape"),
        requirement("an array of shape `input_shape`", backward_padded_shape, r"cut the padding off"),
        requirement("an array of shape `input_shape`", backward_as_list, r"should return a NumPy array"),
        requirement("used the window that starts at $(s i, s j)$ of the padded input",
                    backward_cropped_at_the_start, r"padded input"),
        free("send its gradient back there", "the hint's method; the rows above test its result"),
        requirement(NUMPY_ONLY, backward_with_torch, r"NumPy only"),
    ],
    "11.max_pool2d_backward": [
        free("The lecture's `max_pool_backward` needs windows that do not overlap", "what the lecture did"),
        requirement("any window size and stride", pool_backward_steps_by_size, r"windows step by `stride`"),
        requirement("rows and columns that no window reaches get zero", pool_backward_unreached_not_zero,
                    r"no window reaches"),
        requirement("Each output's gradient goes to the maximum of its window", pool_backward_average,
                    r"maximum of its window only"),
        requirement("and they add up", pool_backward_overwrites, r"add the gradients"),
        requirement("only the first (row by row) gets the gradient", pool_backward_all_ties,
                    r"only the first maximum"),
        requirement("only the first (row by row) gets the gradient", pool_backward_first_by_columns,
                    r"row by row"),
        requirement("Return an array of the shape of `x`", pool_backward_reached_part_only, r"the shape of x"),
        requirement("Return an array of the shape of `x`", pool_backward_as_list, r"should return a NumPy array"),
        requirement(NUMPY_ONLY, pool_backward_with_torch, r"NumPy only"),
    ],
    "11.conv_as_matrix": [
        free("A convolution is linear in its input", "why the matrix exists"),
        requirement("returns a NumPy array `M`", matrix_as_tensor, r"should return a NumPy array"),
        requirement("of shape (C_out * H_out * W_out, C_in * H * W)", matrix_transposed, r"transposed"),
        requirement("`layer(x[None])[0].ravel() == M @ x.ravel() + bias part`", matrix_of_flipped_kernel,
                    r"M @ x.ravel\(\) \+ bias does not give layer\(x\)"),
        requirement("(the bias, one value per output channel, is not part of `M`)", matrix_with_bias,
                    r"bias is not part of M"),
        requirement("Flatten in PyTorch's (C, H, W) order", matrix_channels_last, r"\(C, H, W\) order"),
        free("Any method is fine", "a permission: the accepted answers use the layer and the weights"),
        free("the layer itself can compute the columns for you", "a hint on how to start"),
    ],
}
