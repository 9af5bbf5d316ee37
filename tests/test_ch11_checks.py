"""Chapter 11 checks: wrong answers get the right hint, other correct answers pass."""

import math

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check

# ---------------------------------------------------------------- 11.conv_output_size


@pytest.mark.parametrize("answer", [
    lambda n, k, p, s: (n + 2 * p - k) // s + 1,
    lambda n, k, p, s: math.floor((n + 2 * p - k) / s) + 1,
    lambda n, k, p, s: len(range(0, n + 2 * p - k + 1, s)),
])
def test_conv_output_size_accepts(answer):
    assert check("11.conv_output_size", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda n, k, p, s: (n + p - k) // s + 1, "n \\+ 2p"),
    (lambda n, k, p, s: (n + 2 * p - k) / s + 1, "floor"),
    (lambda n, k, p, s: n + 2 * p - k + 1, "stride is missing"),
    (lambda n, k, p, s: (n + 2 * p - k) // s, "add 1"),
    (lambda n, k, p, s: None, "is None"),
    (lambda n, k, p, s: [1, 2], "one number"),
])
def test_conv_output_size_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("11.conv_output_size", answer)


# ---------------------------------------------------------------- 11.correlate2d


def correlate_loops(image, kernel):
    kh, kw = kernel.shape
    return np.array([[np.sum(image[i:i + kh, j:j + kw] * kernel) for j in range(image.shape[1] - kw + 1)]
                     for i in range(image.shape[0] - kh + 1)])


def correlate_offsets(image, kernel):
    """Sum of shifted images, float32: different code, same function."""
    image, kernel = image.astype(np.float32), kernel.astype(np.float32)
    kh, kw = kernel.shape
    h, w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    return sum(kernel[u, v] * image[u:u + h, v:v + w] for u in range(kh) for v in range(kw))


def correlate_windows(image, kernel):
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijuv,uv->ij", windows, kernel)


@pytest.mark.parametrize("answer", [correlate_loops, correlate_offsets, correlate_windows])
def test_correlate2d_accepts(answer):
    assert check("11.correlate2d", answer)


def same_size(image, kernel):
    padded = np.pad(image, ((0, kernel.shape[0] - 1), (0, kernel.shape[1] - 1)))
    return correlate_loops(padded, kernel)


def in_place(image, kernel):
    image -= 0
    image[0, 0] = 123.0
    return correlate_loops(image, kernel)


@pytest.mark.parametrize("answer,hint", [
    (lambda image, kernel: correlate_loops(image, kernel[::-1, ::-1]), "flipped"),
    (same_size, "'valid' output"),
    (lambda image, kernel: correlate_loops(image, kernel).T, "transposed|swapped|\\(H - kh"),
    (in_place, "in place"),
    (lambda image, kernel: 2 * correlate_loops(image, kernel), "off by"),
])
def test_correlate2d_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("11.correlate2d", answer)


# ---------------------------------------------------------------- 11.conv2d


def conv_loops(x, w, b, stride=1, padding=0):
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    c_out, _, kh, kw = w.shape
    h_out, w_out = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((c_out, h_out, w_out))
    for o in range(c_out):
        for i in range(h_out):
            for j in range(w_out):
                out[o, i, j] = np.sum(x[:, i * stride:i * stride + kh, j * stride:j * stride + kw] * w[o]) + b[o]
    return out


def conv_windows(x, w, b, stride=1, padding=0):
    """sliding_window_view + einsum in float32: different code, same function."""
    x = np.pad(x.astype(np.float32), ((0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(1, 2))[:, ::stride, ::stride]
    return np.einsum("chwuv,ocuv->ohw", windows, w.astype(np.float32)) + b.astype(np.float32)[:, None, None]


@pytest.mark.parametrize("answer", [conv_loops, conv_windows])
def test_conv2d_accepts(answer):
    assert check("11.conv2d", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda x, w, b, s=1, p=0: conv_loops(x, w, 0 * b, s, p), "bias is missing"),
    (lambda x, w, b, s=1, p=0: conv_loops(x, w, b, 1, p), "stride is ignored"),
    (lambda x, w, b, s=1, p=0: conv_loops(x, w, b, s, 0), "padding is ignored"),
    (lambda x, w, b, s=1, p=0: conv_loops(x, w[:, :, ::-1, ::-1], b, s, p), "flipped"),
    (lambda x, w, b, s=1, p=0: conv_loops(x, w.transpose(1, 0, 2, 3), b, s, p), "weight layout"),
    (lambda x, w, b, s=1, p=0: conv_loops(x[:1], w[:, :1], b, s, p), "all input channels"),
    (lambda x, w, b, s=1, p=0: "oops", "should hold numbers"),
])
def test_conv2d_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("11.conv2d", answer)


# ---------------------------------------------------------------- 11.max_pool2d


def pool_loops(x, size=2, stride=2):
    c, h, w = x.shape
    h_out, w_out = (h - size) // stride + 1, (w - size) // stride + 1
    return np.array([[[x[ch, i * stride:i * stride + size, j * stride:j * stride + size].max()
                       for j in range(w_out)] for i in range(h_out)] for ch in range(c)])


def pool_windows(x, size=2, stride=2):
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float32), (size, size), axis=(1, 2))
    return windows[:, ::stride, ::stride].max(axis=(-2, -1))


@pytest.mark.parametrize("answer", [pool_loops, pool_windows])
def test_max_pool2d_accepts(answer):
    assert check("11.max_pool2d", answer)


def avg_pool(x, size=2, stride=2):
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(1, 2))
    return windows[:, ::stride, ::stride].mean(axis=(-2, -1))


def relu_in_place(x, size=2, stride=2):
    np.maximum(x, 0, out=x)
    return pool_loops(x, size, stride)


@pytest.mark.parametrize("answer,hint", [
    (avg_pool, "average pooling"),
    (lambda x, size=2, stride=2: pool_loops(x, size, size), "stride is wrong"),
    (lambda x, size=2, stride=2: pool_loops(x, size, 1), "stride is wrong"),
    (lambda x, size=2, stride=2: np.broadcast_to(pool_loops(x, size, stride).max(axis=0), pool_loops(x, size,
                                                                                                   stride).shape),
     "each channel separately"),
    (relu_in_place, "in place"),
    (lambda x, size=2, stride=2: 1 / 0, "ZeroDivisionError"),
])
def test_max_pool2d_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("11.max_pool2d", answer)
