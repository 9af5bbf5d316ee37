"""Checks for chapter 11, convolution from scratch."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    expect_equal,
    register,
    seeded_rng,
    to_array,
)


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


@register("11.conv_output_size")
def check_conv_output_size(conv_output_size):
    """conv_output_size(n, k, p, s) returns floor((n + 2p - k) / s) + 1."""
    cases = [(28, 3, 0, 1), (28, 3, 1, 1), (28, 5, 2, 1), (28, 3, 1, 2), (7, 3, 0, 2), (32, 5, 0, 3),
             (224, 7, 3, 2), (10, 4, 1, 3)]
    rng = seeded_rng(11)
    for _ in range(12):
        k = int(rng.integers(1, 8))
        cases.append((int(rng.integers(k, 60)), k, int(rng.integers(0, 4)), int(rng.integers(1, 5))))
    for n, k, p, s in cases:
        got = call(conv_output_size, n, k, p, s, name="conv_output_size")
        value = to_array(got, "conv_output_size(...)")
        if value.size != 1:
            raise CheckFailed(f"conv_output_size should return one number, not an array of shape {value.shape}.")
        expected = len(range(0, n + 2 * p - k + 1, s))  # count the window positions
        case = f"n={n}, k={k}, p={p}, s={s}"
        mistakes = {"padding adds p on both sides: use n + 2p": (n + p - k) // s + 1,
                    "the stride is missing: divide by s": n + 2 * p - k + 1,
                    "count the first position: add 1": (n + 2 * p - k) // s,
                    "round down (floor) the division: only whole steps fit": (n + 2 * p - k) / s + 1}
        if (n + 2 * p - k) % s:
            exact = (n + 2 * p - k) / s + 1
            if np.isclose(float(value.reshape(-1)[0]), exact):
                raise CheckFailed(f"conv_output_size for {case} is wrong: round down (floor) the division: "
                                  "only whole steps fit.")
        expect_equal(value.reshape(()).astype(float), float(expected), "conv_output_size", case=case,
                     mistakes=mistakes)
    return f"{len(cases)} layer shapes"


@register("11.correlate2d")
def check_correlate2d(correlate2d):
    """correlate2d(image, kernel) is the 'valid' cross-correlation of one channel."""
    rng = seeded_rng(12)
    image = np.arange(16.0).reshape(4, 4)
    sobel_x = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    cases = [(image, sobel_x, "a 4x4 ramp and the Sobel x kernel")]
    for trial in range(6):
        h, w = int(rng.integers(3, 12)), int(rng.integers(3, 12))
        kh, kw = int(rng.integers(1, min(h, 5) + 1)), int(rng.integers(1, min(w, 5) + 1))
        if trial == 0:
            kh, kw = 2, 3
        cases.append((rng.normal(size=(h, w)), rng.normal(size=(kh, kw)), f"a random {h}x{w} image, {kh}x{kw} kernel"))
    for image, kernel, case in cases:
        got = call(correlate2d, image, kernel, name="correlate2d")
        expected = _reference_conv(image[None], kernel[None, None], [0.0], 1, 0)[0]
        flipped = _reference_conv(image[None], kernel[None, None, ::-1, ::-1], [0.0], 1, 0)[0]
        mistakes = {"the kernel is flipped: that is true convolution; deep learning's 'convolution' is "
                    "cross-correlation (no flip)": flipped}
        if expected.shape[0] != expected.shape[1]:
            mistakes["rows and columns are swapped (transposed output)"] = expected.T
        array = to_array(got, "correlate2d(image, kernel)")
        if array.shape != expected.shape:
            raise CheckFailed(f"correlate2d for {case} has shape {array.shape}, expected {expected.shape}: "
                              "a 'valid' output has (H - kh + 1) x (W - kw + 1) positions.")
        expect_close(array, expected, "correlate2d", case=case, mistakes=mistakes)
    return "the Sobel example and random images and kernels"


@register("11.conv2d")
def check_conv2d(conv2d):
    """conv2d(x, w, b, stride, padding) for x (C_in, H, W) and w (C_out, C_in, kh, kw)."""
    rng = seeded_rng(13)
    cases = [(2, 2, 6, 6, 3, 1, 0), (3, 3, 7, 7, 3, 1, 1), (3, 3, 8, 8, 3, 2, 1), (1, 4, 9, 7, 2, 1, 0),
             (2, 5, 10, 10, 5, 2, 2), (4, 4, 5, 6, 3, 3, 1)]
    for c_in, c_out, h, w_, k, s, p in cases:
        x = rng.normal(size=(c_in, h, w_))
        w = rng.normal(size=(c_out, c_in, k, k))
        b = rng.normal(size=c_out)
        case = f"C_in={c_in}, C_out={c_out}, input {h}x{w_}, kernel {k}x{k}, stride {s}, padding {p}"
        got = call(conv2d, x, w, b, s, p, name="conv2d")
        expected = _reference_conv(x, w, b, s, p)
        mistakes = {"the bias is missing": expected - b[:, None, None],
                    "the kernel is flipped: use cross-correlation, no flip": _reference_conv(x, w[:, :, ::-1, ::-1],
                                                                                             b, s, p)}
        if s > 1:
            mistakes["the stride is ignored: step the window by `stride`"] = _reference_conv(x, w, b, 1, p)
        if p > 0:
            mistakes["the padding is ignored: pad the input with zeros first"] = _reference_conv(x, w, b, s, 0)
        if c_in == c_out:
            mistakes["the weight layout is (out, in, kh, kw): w[o, c] is used for output o and input c"] = \
                _reference_conv(x, w.transpose(1, 0, 2, 3), b, s, p)
        if c_in > 1:
            only_first = _reference_conv(x[:1], w[:, :1], b, s, p)
            mistakes["sum over all input channels, not only the first"] = only_first
        expect_close(got, expected, "conv2d(x, w, b, stride, padding)", case=case, mistakes=mistakes)
    return "six layer shapes with channels, strides and padding"


@register("11.max_pool2d")
def check_max_pool2d(max_pool2d):
    """max_pool2d(x, size, stride) pools each channel of x (C, H, W) separately."""
    rng = seeded_rng(14)
    for c, h, w, size, stride in [(1, 4, 4, 2, 2), (3, 6, 6, 2, 2), (2, 7, 7, 3, 2), (2, 8, 6, 2, 1), (4, 9, 9, 3, 3)]:
        x = rng.normal(size=(c, h, w))
        case = f"x of shape {(c, h, w)}, size {size}, stride {stride}"
        got = call(max_pool2d, x, size, stride, name="max_pool2d")
        h_out, w_out = (h - size) // stride + 1, (w - size) // stride + 1
        windows = np.stack([x[:, u:u + stride * (h_out - 1) + 1:stride, v:v + stride * (w_out - 1) + 1:stride]
                            for u in range(size) for v in range(size)])
        expected = windows.max(axis=0)
        mistakes = {"this is average pooling: take the maximum of each window": windows.mean(axis=0)}
        if c > 1:
            mistakes["pool each channel separately, not across channels"] = np.broadcast_to(
                expected.max(axis=0), expected.shape)
        array = to_array(got, "max_pool2d(x, size, stride)")
        if array.shape != expected.shape and stride != size:
            wrong = ((h - size) // size + 1, (w - size) // size + 1)
            if array.shape[1:] == wrong:
                raise CheckFailed(f"max_pool2d for {case} has shape {array.shape}, expected {expected.shape}: "
                                  "the stride is wrong; step the window by `stride`, not by `size`.")
        if array.shape != expected.shape and stride != 1:
            if array.shape[1:] == (h - size + 1, w - size + 1):
                raise CheckFailed(f"max_pool2d for {case} has shape {array.shape}, expected {expected.shape}: "
                                  "the stride is wrong; the window moves by `stride` pixels.")
        expect_close(array, expected, "max_pool2d", case=case, mistakes=mistakes)
    return "five shapes, sizes and strides"
