"""Chapter 11 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

# ---------------------------------------------------------------- 11.conv2d_nchw


def _pairs(stride, padding):
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    return sh, sw, ph, pw


def conv_offsets(x, w, b, stride=1, padding=0):
    sh, sw, ph, pw = _pairs(stride, padding)
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    _, _, kh, kw = w.shape
    h_out, w_out = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], w.shape[0], h_out, w_out))
    for u in range(kh):
        for v in range(kw):
            patch = x[:, :, u:u + sh * (h_out - 1) + 1:sh, v:v + sw * (w_out - 1) + 1:sw]
            out += np.einsum("oc,nchw->nohw", w[:, :, u, v], patch)
    return out + b[None, :, None, None]


def conv_windows_float32(x, w, b, stride=1, padding=0):
    """sliding_window_view and float32: different code, same function."""
    sh, sw, ph, pw = _pairs(stride, padding)
    x = np.pad(x.astype(np.float32), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))[:, :, ::sh, ::sw]
    return np.einsum("ncijuv,ocuv->noij", windows, w.astype(np.float32)) + b[None, :, None, None].astype(np.float32)


@pytest.mark.parametrize("answer", [conv_offsets, conv_windows_float32])
def test_conv2d_nchw_accepts(answer):
    assert check("11.conv2d_nchw", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda x, w, b, stride=1, padding=0: conv_offsets(x, w, b, stride, padding) - b[None, :, None, None],
     "bias is missing"),
    (lambda x, w, b, stride=1, padding=0: conv_offsets(x, w[:, :, ::-1, ::-1], b, stride, padding), "flipped"),
    (lambda x, w, b, stride=1, padding=0: conv_offsets(
        x, w, b, stride if np.isscalar(stride) else stride[::-1], padding), "stride is \\(rows, cols\\)"),
    (lambda x, w, b, stride=1, padding=0: conv_offsets(
        x, w, b, stride, padding if np.isscalar(padding) else padding[::-1]), "padding is \\(rows, cols\\)"),
    (lambda x, w, b, stride=1, padding=0: conv_offsets(x, w.transpose(0, 1, 3, 2), b, stride, padding),
     "kh rows, kw columns|shape"),
    (lambda x, w, b, stride=1, padding=0: conv_offsets(x[:1], w, b, stride, padding)[0], "batch axis"),
])
def test_conv2d_nchw_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("11.conv2d_nchw", answer)


# ---------------------------------------------------------------- 11.conv2d_backward_input


def backward_scatter(grad_out, w, input_shape, stride=1, padding=0):
    c_in, h, w_ = input_shape
    kh, kw = w.shape[2:]
    dx = np.zeros((c_in, h + 2 * padding, w_ + 2 * padding))
    for i in range(grad_out.shape[1]):
        for j in range(grad_out.shape[2]):
            dx[:, stride * i:stride * i + kh, stride * j:stride * j + kw] += np.einsum(
                "o,ocuv->cuv", grad_out[:, i, j], w)
    return dx[:, padding:padding + h, padding:padding + w_]


def backward_dilate_then_full(grad_out, w, input_shape, stride=1, padding=0):
    """Insert stride - 1 zeros, then the lecture's full convolution with the flipped kernel."""
    c_in, h, w_ = input_shape
    c_out, _, kh, kw = w.shape
    hp, wp = h + 2 * padding, w_ + 2 * padding
    dilated = np.zeros((c_out, hp - kh + 1, wp - kw + 1))
    dilated[:, ::stride, ::stride][:, :grad_out.shape[1], :grad_out.shape[2]] = grad_out
    g = np.pad(dilated, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    flipped = w[:, :, ::-1, ::-1]
    windows = np.lib.stride_tricks.sliding_window_view(g, (kh, kw), axis=(1, 2))
    dx = np.einsum("oijuv,ocuv->cij", windows, flipped)
    return dx[:, padding:padding + h, padding:padding + w_].astype(np.float32)


@pytest.mark.parametrize("answer", [backward_scatter, backward_dilate_then_full])
def test_conv2d_backward_input_accepts(answer):
    assert check("11.conv2d_backward_input", answer)


def keep_padding(grad_out, w, input_shape, stride=1, padding=0):
    c_in, h, w_ = input_shape
    dx = backward_scatter(grad_out, w, (c_in, h + 2 * padding, w_ + 2 * padding), stride, 0)
    return dx


@pytest.mark.parametrize("answer,hint", [
    (keep_padding, "cut the padding"),
    (lambda g, w, shape, stride=1, padding=0: backward_scatter(g, w[:, :, ::-1, ::-1], shape, stride, padding),
     "flipped"),
    (lambda g, w, shape, stride=1, padding=0: 2 * backward_scatter(g, w, shape, stride, padding), "off by"),
    (lambda g, w, shape, stride=1, padding=0: backward_scatter(g, w, shape, 1, padding), "wrong|shape"),
])
def test_conv2d_backward_input_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("11.conv2d_backward_input", answer)


# ---------------------------------------------------------------- 11.max_pool2d_backward


def pool_back_loops(x, grad_out, size, stride):
    dx = np.zeros(x.shape)
    for c in range(x.shape[0]):
        for i in range(grad_out.shape[1]):
            for j in range(grad_out.shape[2]):
                window = x[c, stride * i:stride * i + size, stride * j:stride * j + size]
                u, v = np.unravel_index(np.argmax(window), window.shape)
                dx[c, stride * i + u, stride * j + v] += grad_out[c, i, j]
    return dx


def pool_back_add_at(x, grad_out, size, stride):
    """np.add.at over all windows at once, as a list: different code, same function."""
    dx = np.zeros(x.shape, dtype=np.float32)
    c, h_out, w_out = grad_out.shape
    for i in range(h_out):
        for j in range(w_out):
            flat = x[:, stride * i:stride * i + size, stride * j:stride * j + size].reshape(c, -1)
            k = flat.argmax(axis=1)
            np.add.at(dx, (np.arange(c), stride * i + k // size, stride * j + k % size), grad_out[:, i, j])
    return dx


@pytest.mark.parametrize("answer", [pool_back_loops, pool_back_add_at])
def test_max_pool2d_backward_accepts(answer):
    assert check("11.max_pool2d_backward", answer)


def pool_back_assign(x, grad_out, size, stride):
    dx = np.zeros(x.shape)
    for c in range(x.shape[0]):
        for i in range(grad_out.shape[1]):
            for j in range(grad_out.shape[2]):
                window = x[c, stride * i:stride * i + size, stride * j:stride * j + size]
                u, v = np.unravel_index(np.argmax(window), window.shape)
                dx[c, stride * i + u, stride * j + v] = grad_out[c, i, j]
    return dx


def pool_back_all_ties(x, grad_out, size, stride):
    dx = np.zeros(x.shape)
    for c in range(x.shape[0]):
        for i in range(grad_out.shape[1]):
            for j in range(grad_out.shape[2]):
                window = x[c, stride * i:stride * i + size, stride * j:stride * j + size]
                dx[c, stride * i:stride * i + size, stride * j:stride * j + size] += (
                    grad_out[c, i, j] * (window == window.max()))
    return dx


def pool_back_average(x, grad_out, size, stride):
    dx = np.zeros(x.shape)
    for i in range(grad_out.shape[1]):
        for j in range(grad_out.shape[2]):
            dx[:, stride * i:stride * i + size, stride * j:stride * j + size] += grad_out[:, i, j, None, None] / size**2
    return dx


@pytest.mark.parametrize("answer,hint", [
    (pool_back_assign, "add the gradients"),
    (pool_back_all_ties, "only the first maximum"),
    (pool_back_average, "average over the window"),
    (lambda x, grad_out, size, stride: pool_back_loops(x, grad_out, size, size), "wrong|shape"),
])
def test_max_pool2d_backward_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("11.max_pool2d_backward", answer)


# ---------------------------------------------------------------- 11.conv_as_matrix

torch = pytest.importorskip("torch")


def matrix_from_layer(layer, input_shape):
    n_in = int(np.prod(input_shape))
    basis = torch.eye(n_in).reshape(n_in, *input_shape)
    with torch.no_grad():
        zero = layer(torch.zeros(1, *input_shape))
        columns = layer(basis) - zero
    return columns.reshape(n_in, -1).T.numpy()


def matrix_from_weights(layer, input_shape):
    """Loops over output positions and kernel taps, float64: no forward pass at all."""
    w = layer.weight.detach().numpy().astype(float)
    (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation
    c_in, h, w_ = input_shape
    c_out, _, kh, kw = w.shape
    h_out = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    w_out = (w_ + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    m = np.zeros((c_out, h_out, w_out, c_in, h, w_))
    for i in range(h_out):
        for j in range(w_out):
            for u in range(kh):
                for v in range(kw):
                    r, c = sh * i + dh * u - ph, sw * j + dw * v - pw
                    if 0 <= r < h and 0 <= c < w_:
                        m[:, i, j, :, r, c] += w[:, :, u, v]
    return m.reshape(c_out * h_out * w_out, -1)


@pytest.mark.parametrize("answer", [matrix_from_layer, matrix_from_weights])
def test_conv_as_matrix_accepts(answer):
    assert check("11.conv_as_matrix", answer)


def with_bias(layer, input_shape):
    n_in = int(np.prod(input_shape))
    with torch.no_grad():
        return layer(torch.eye(n_in).reshape(n_in, *input_shape)).reshape(n_in, -1).T.numpy()


def channels_last_order(layer, input_shape):
    m = matrix_from_layer(layer, input_shape)
    with torch.no_grad():
        y_shape = tuple(layer(torch.zeros(1, *input_shape)).shape[1:])
    rows = np.arange(m.shape[0]).reshape(y_shape).transpose(1, 2, 0).ravel()
    cols = np.arange(m.shape[1]).reshape(input_shape).transpose(1, 2, 0).ravel()
    return m[rows][:, cols]


@pytest.mark.parametrize("answer,hint", [
    (with_bias, "bias is not part of M"),
    (lambda layer, shape: matrix_from_layer(layer, shape).T, "transposed"),
    (channels_last_order, "\\(C, H, W\\) order"),
])
def test_conv_as_matrix_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("11.conv_as_matrix", answer)


# --------------------------------------------------------------------------- other styles
# Correct answers written in other styles the statements allow (the violations of each
# requirement are in tests/checks/requirements/ch11_convolution.py).


def conv_loops_keywords(x, w, b, *, stride=1, padding=0):
    """Plain loops over every output value, with stride and padding taken as keywords too."""
    sh, sw, ph, pw = _pairs(stride, padding)
    x = np.pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, h, w_ = x.shape
    c_out, _, kh, kw = w.shape
    out = np.zeros((n, c_out, (h - kh) // sh + 1, (w_ - kw) // sw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, sh * i:sh * i + kh, sw * j:sw * j + kw]
            out[:, :, i, j] = np.einsum("ncuv,ocuv->no", window, w) + b
    return out


def test_conv2d_nchw_accepts_loops_and_keyword_calls():
    def positional_or_keyword(x, w, b, *args, **kwargs):
        names = dict(zip(("stride", "padding"), args, strict=False))
        return conv_loops_keywords(x, w, b, **names, **kwargs)

    assert check("11.conv2d_nchw", positional_or_keyword)


@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("11")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
