"""Requirement table of chapter 12, CNNs for Fashion-MNIST (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

NUMPY_ONLY = "Exercise 1 uses PyTorch, the others NumPy only"

# --------------------------------------------------------------------------- 12.build_gap_cnn


def gap_cnn(width, *, kernel=3, padding=1, stride=1, bias=False, order="cbr", pools=(0, 1), pool=2,
            channels=(1, 2, 4), head="gap", extra=None, softmax=False, transpose_out=False, adaptive=1):
    """The solution's network; the keywords make it break one requirement."""
    from torch import nn

    layers, c_in = [], 1
    for stage, factor in enumerate(channels):
        c_out = factor * width
        parts = {"c": nn.Conv2d(c_in, c_out, kernel, padding=padding, stride=stride, bias=bias),
                 "b": nn.BatchNorm2d(c_out if order.index("c") < order.index("b") else c_in),
                 "r": nn.ReLU(), "p": nn.MaxPool2d(pool)}
        layers += [parts[k] for k in order if k != "p" or stage in pools]
        if "p" not in order and stage in pools:
            layers.append(nn.MaxPool2d(pool))
        if extra is not None:
            layers.append(extra())
        c_in = c_out
    if head == "gap":
        layers += [nn.AdaptiveAvgPool2d(adaptive), nn.Flatten(), nn.Linear(c_in * adaptive**2, 10)]
    elif head == "max":
        layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c_in, 10)]
    elif head == "two":
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, 32), nn.ReLU(), nn.Linear(32, 10)]
    else:
        layers += [nn.Flatten(), nn.Linear(c_in * 7 * 7, 10)]
    if softmax:
        layers.append(nn.Softmax(dim=1))
    model = nn.Sequential(*layers)
    if transpose_out:
        class Transposed(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = model

            def forward(self, x):
                return self.net(x).T
        return Transposed()
    return model


class NumpyGapCnn:
    """A network written with NumPy: callable, but no torch.nn.Module."""

    def __init__(self, width):
        self.head = np.zeros((width, 10))

    def __call__(self, images):
        return np.zeros((len(images), 10))


def with_dropout():
    from torch import nn

    return nn.Dropout2d(0.1)


# --------------------------------------------------------------------------- 12.spatial_dropout


def dropout(x, rate, rng, training=True, *, shape="nc", keep_prob=False, scale="divide", evaluate="same"):
    """The solution's answer; the keywords make it break one requirement."""
    if not training:
        return x if evaluate == "same" else x * (1 - rate)
    if rate == 0:
        return x
    n, c = x.shape[:2]
    draw = {"nc": (n, c, 1, 1), "pixels": x.shape, "c": (1, c, 1, 1), "n": (n, 1, 1, 1)}[shape]
    keep = rng.random(draw) >= rate
    if keep_prob:
        keep = ~keep
    factor = {"divide": 1 / (1 - rate), "none": 1.0, "multiply": 1 - rate}[scale]
    return np.where(keep, x * factor, 0.0)


def dropout_without_default(x, rate, rng, training):
    return dropout(x, rate, rng, training)


def dropout_global_random(x, rate, rng, training=True):
    return dropout(x, rate, np.random, training)


def dropout_in_place(x, rate, rng, training=True):
    if training and rate > 0:
        x *= (rng.random((*x.shape[:2], 1, 1)) >= rate) / (1 - rate)
    return x


def dropout_with_torch(x, rate, rng, training=True):
    import torch

    torch.manual_seed(int(rng.integers(2**31)))
    return torch.nn.functional.dropout2d(torch.as_tensor(x), rate, training).numpy()


# --------------------------------------------------------------------------- 12.random_shift


def _place(img, dy, dx, fill="zeros"):
    h, w = img.shape
    if fill == "wrap":
        return np.roll(img, (dy, dx), axis=(0, 1))
    padded = np.pad(img, ((abs(dy), abs(dy)), (abs(dx), abs(dx))), mode="edge" if fill == "edge" else "constant")
    return padded[abs(dy) - dy:abs(dy) - dy + h, abs(dx) - dx:abs(dx) - dx + w]


def shift(images, labels, max_shift, rng, *, draw="uniform", fill="zeros", one_shift=False):
    """The solution's answer; the keywords make it break one requirement."""
    m = max_shift
    out = np.empty_like(images)
    shared = rng.integers(-m, m + 1, size=2)
    for i in range(len(images)):
        if one_shift:
            dy, dx = shared
        elif draw == "uniform":
            dy, dx = rng.integers(-m, m + 1, size=2)
        elif draw == "exclusive":
            dy, dx = rng.integers(-m, m, size=2)
        elif draw == "normal":
            dy, dx = np.clip(np.rint(rng.normal(0, m / 3, size=2)), -m, m).astype(int)
        elif draw == "same":
            dy = dx = rng.integers(-m, m + 1)
        out[i] = _place(images[i], int(dy), int(dx), fill)
    return out, labels


def shift_half_pixels(images, labels, max_shift, rng):
    moved, _ = shift(images, labels, max_shift, rng)
    return (moved + shift(images, labels, max_shift, rng)[0]) / 2, labels


def shift_global_random(images, labels, max_shift, rng):
    return shift(images, labels, max_shift, np.random.default_rng())


def shift_images_only(images, labels, max_shift, rng):
    return shift(images, labels, max_shift, rng)[0]


def shift_padded(images, labels, max_shift, rng):
    m = max_shift
    return np.pad(shift(images, labels, m, rng)[0], ((0, 0), (m, m), (m, m))), labels


def shift_labels_sorted(images, labels, max_shift, rng):
    return shift(images, labels, max_shift, rng)[0], np.sort(labels)


def shift_in_place(images, labels, max_shift, rng):
    images[:] = shift(images, labels, max_shift, rng)[0]
    return images, labels


def shift_with_torch(images, labels, max_shift, rng):
    import torch

    m = max_shift
    padded = torch.nn.functional.pad(torch.as_tensor(images), (m, m, m, m))
    out = torch.empty_like(torch.as_tensor(images))
    h, w = images.shape[1:]
    for i in range(len(images)):
        dy, dx = (int(v) for v in rng.integers(-m, m + 1, size=2))
        out[i] = padded[i, m - dy:m - dy + h, m - dx:m - dx + w]
    return out.numpy(), labels


# --------------------------------------------------------------------------- 12.receptive_field


def field(layers, *, swap=False, empty=1, rule="before"):
    """The solution's answer; the keywords make it break one requirement."""
    if not layers:
        return empty
    r, jump = 1, 1
    for pair in layers:
        kernel, stride = pair[::-1] if swap else pair
        if rule == "own":
            jump *= stride
        r += (kernel - 1) * (1 if rule == "ignore" else jump)
        if rule == "before":
            jump *= stride
    return r


# --------------------------------------------------------------------------- the table

FORMULA = "$$ r = 1 + \\sum_{i=1}^{L} (k_i - 1) \\prod_{j < i} s_j , $$"

TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/12-cnn`", "where to read first"),
        free("exercise 5 is a discussion", "not checked"),
    ],
    "12.build_gap_cnn": [
        free("The lecture's CNN flattens its last feature maps", "what the lecture did"),
        free("Many modern networks end instead in global average pooling",
             "explains the idea; the list below prescribes the layers"),
        requirement("returns a PyTorch model", NumpyGapCnn, r"should return a torch.nn.Module"),
        requirement("from (N, 1, H, W) to (N, 10) logits", lambda w: gap_cnn(w, transpose_out=True),
                    r"expected \(3, 10\)"),
        requirement("(no softmax)", lambda w: gap_cnn(w, softmax=True), r"return logits, without a softmax"),
        requirement("built from these layer types", lambda w: gap_cnn(w, extra=with_dropout),
                    r"only these layer types"),
        requirement("in this order", lambda w: gap_cnn(w, order="cpbr"), r"in this order"),
        requirement("each `nn.Conv2d` (3x3", lambda w: gap_cnn(w, kernel=5, padding=2), r"is 3x3"),
        requirement("padding 1, stride 1", lambda w: gap_cnn(w, padding=0), r"padding=1"),
        requirement("padding 1, stride 1", lambda w: gap_cnn(w, stride=2), r"stride 1"),
        requirement("`bias=False`", lambda w: gap_cnn(w, bias=True), r"bias=False"),
        requirement("-> `nn.BatchNorm2d` -> `nn.ReLU`", lambda w: gap_cnn(w, order="bcr"),
                    r"Conv2d -> BatchNorm2d -> ReLU"),
        requirement("with `width`, `2 * width` and `4 * width` output channels",
                    lambda w: gap_cnn(w, channels=(1, 2, 2)), r"output channels"),
        requirement("`nn.MaxPool2d(2)` after", lambda w: gap_cnn(w, pool=3), r"nn.MaxPool2d\(2\)"),
        requirement("after the first and after the second stage", lambda w: gap_cnn(w, pools=(1, 2)),
                    r"after the first and after the second stage"),
        requirement("(not after the third)", lambda w: gap_cnn(w, pools=(0, 1, 2)), r"not after the third"),
        requirement("`nn.AdaptiveAvgPool2d(1)`", lambda w: gap_cnn(w, head="max"), r"nn.AdaptiveAvgPool2d\(1\)"),
        requirement("`nn.AdaptiveAvgPool2d(1)`", lambda w: gap_cnn(w, adaptive=2), r"nn.AdaptiveAvgPool2d\(1\)"),
        requirement("one `nn.Linear(4 * width, 10)`", lambda w: gap_cnn(w, head="two"), r"one nn.Linear"),
        free("The check looks at the layer types", "describes the check; the rows above test each part"),
    ],
    "12.spatial_dropout": [
        requirement("`spatial_dropout(x, rate, rng, training=True)`", dropout_without_default,
                    r"training=True by default"),
        free("for feature maps `x` of shape (N, C, H, W)", "the input's layout; the rows below test the axes"),
        requirement("drop each channel of each sample", lambda *a, **k: dropout(*a, **k, shape="c"),
                    r"same channels in every sample"),
        requirement("drop each channel of each sample", lambda *a, **k: dropout(*a, **k, shape="n"),
                    r"all channels of a sample together"),
        requirement("the whole H x W map at once", lambda *a, **k: dropout(*a, **k, shape="pixels"),
                    r"whole channels"),
        requirement("with probability `rate`", lambda *a, **k: dropout(*a, **k, keep_prob=True),
                    r"probability of dropping"),
        requirement("(draw the random numbers from the NumPy generator `rng`)", dropout_global_random,
                    r"draw the random numbers from `rng`"),
        requirement("divide the kept maps by `1 - rate`", lambda *a, **k: dropout(*a, **k, scale="none"),
                    r"not rescaled"),
        requirement("divide the kept maps by `1 - rate`", lambda *a, **k: dropout(*a, **k, scale="multiply"),
                    r"do not multiply"),
        requirement("With `training=False` return `x` unchanged", lambda *a, **k: dropout(*a, **k, evaluate="scale"),
                    r"training=False"),
        requirement("Do not modify `x`", dropout_in_place, r"in place"),
        requirement(NUMPY_ONLY, dropout_with_torch, r"NumPy only"),
    ],
    "12.random_shift": [
        free("for a batch of images of shape (N, H, W)", "the input's layout; the rows below test the shifts"),
        requirement("Move each image by its own random", lambda *a: shift(*a, one_shift=True), r"same shift"),
        requirement("whole number of pixels", shift_half_pixels, r"whole steps"),
        free("`dy` down and `dx` right", "names the directions: each is drawn symmetrically, so either sign "
             "gives the same distribution and no answer differs by it"),
        requirement("each drawn uniformly from `-max_shift` to `max_shift`", lambda *a: shift(*a, draw="exclusive"),
                    r"both ends included"),
        requirement("each drawn uniformly from `-max_shift` to `max_shift`", lambda *a: shift(*a, draw="normal"),
                    r"uniformly"),
        requirement("each drawn uniformly", lambda *a: shift(*a, draw="same"), r"dy and dx are drawn independently"),
        requirement("with `rng`", shift_global_random, r"draw the random numbers from `rng`"),
        requirement("fill the uncovered border with zeros", lambda *a: shift(*a, fill="edge"), r"with zeros"),
        requirement("it does not wrap around", lambda *a: shift(*a, fill="wrap"), r"wraps around"),
        requirement("Return the pair `(shifted_images, labels)`", shift_images_only, r"should return the pair"),
        requirement("same shape as the input", shift_padded, r"keep each image's height and width"),
        requirement("labels unchanged", shift_labels_sorted, r"labels must stay with their images"),
        requirement("Do not modify `images`", shift_in_place, r"in place"),
        requirement(NUMPY_ONLY, shift_with_torch, r"NumPy only"),
    ],
    "12.receptive_field": [
        free("The receptive field of a unit is the size of the input patch it sees", "a definition"),
        requirement("each given as a pair `(kernel_size, stride)`", lambda layers: field(layers, swap=True),
                    r"\(kernel_size, stride\)"),
        requirement(FORMULA, lambda layers: field(layers, rule="ignore"), r"strides are ignored"),
        requirement(FORMULA, lambda layers: field(layers, rule="own"), r"not including the layer's own stride"),
        requirement(FORMULA, lambda layers: sum(k for k, _ in layers) or 1, r"do not add the kernel sizes"),
        free("since layer $i$ widens the patch", "explains the formula; its rows test it"),
        free("Write `receptive_field(layers)`", "the signature"),
        requirement("an empty stack has $r = 1$", lambda layers: field(layers, empty=0), r"an empty stack"),
        free("Pooling layers count too", "how to describe a network as pairs; the function only sees pairs"),
    ],
}
