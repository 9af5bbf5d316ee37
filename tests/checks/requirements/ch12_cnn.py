"""Requirement table of chapter 12, CNNs for Fashion-MNIST (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

NUMPY_ONLY = "Exercise 1 uses PyTorch, the others NumPy only"

# --------------------------------------------------------------------------- 12.residual_block


def residual(*, kernel=3, padding=1, stride_in="first", first_out="c_out", bias=False, middle_relu=True,
             norms="both", relu="after", add=True, project="needed", project_kernel=1, project_stride=True,
             project_norm=True, plain_adds=False, default_shortcut=True, extra=None, permute=False):
    """The solution's block as a class; the keywords make it break one requirement."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride=1, shortcut=default_shortcut):
            super().__init__()
            s1, s2 = (stride, 1) if stride_in == "first" else (1, stride)
            mid = c_out if first_out == "c_out" else c_in
            layers = [nn.Conv2d(c_in, mid, kernel, stride=s1, padding=padding, bias=bias)]
            layers += [nn.BatchNorm2d(mid)] if norms in ("both", "first") else []
            layers += [nn.ReLU()] if middle_relu else []
            layers += [nn.Conv2d(mid, c_out, kernel, stride=s2, padding=padding, bias=bias)]
            layers += [nn.BatchNorm2d(c_out)] if norms in ("both", "second") else []
            layers += [extra()] if extra is not None else []
            self.branch = nn.Sequential(*layers)
            self.add = (shortcut and add) or (plain_adds and not shortcut)
            needed = stride != 1 or c_in != c_out
            self.proj = None
            if (project == "needed" and needed and shortcut) or project == "always" \
                    or (project == "plain_too" and needed):
                k = project_kernel
                conv = nn.Conv2d(c_in, c_out, k, stride=stride if project_stride else 1, padding=k // 2, bias=False)
                self.proj = nn.Sequential(conv, nn.BatchNorm2d(c_out)) if project_norm else conv

        def forward(self, x):
            out = self.branch(x)
            if relu == "before":
                out = torch.relu(out)
            if self.add:
                skip = self.proj(x) if self.proj is not None else x
                out = out + skip
            if relu == "after":
                out = torch.relu(out)
            return out.transpose(2, 3) if permute else out

    return Block


class NotAModule:
    """A block written as a plain Python class: callable, but no torch.nn.Module."""

    def __init__(self, c_in, c_out, stride=1, shortcut=True):
        self.c_out, self.stride = c_out, stride

    def __call__(self, x):
        import torch

        return torch.zeros(x.shape[0], self.c_out, -(-x.shape[2] // self.stride), -(-x.shape[3] // self.stride))


def dropout_layer():
    from torch import nn

    return nn.Dropout2d(0.1)


def residual_without_defaults():
    block = residual()

    class NoDefaults(block):
        def __init__(self, c_in, c_out, stride, shortcut):
            super().__init__(c_in, c_out, stride, shortcut)

    return NoDefaults


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
        free("Each exercise asks for a function or a class", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/12-cnn`", "where to read first"),
        free("exercise 5 is a discussion", "not checked"),
    ],
    "12.residual_block": [
        free("The lecture's `Block` keeps the number of channels", "what the lecture did"),
        free("The first block of a ResNet stage halves the resolution", "why the exercise exists"),
        requirement("`ResidualBlock(c_in, c_out, stride=1, shortcut=True)`", residual_without_defaults(),
                    r"those are the defaults"),
        requirement("`ResidualBlock(c_in, c_out, stride=1, shortcut=True)`", residual(default_shortcut=False),
                    r"those are the defaults"),
        requirement("a `torch.nn.Module`", NotAModule, r"should make a torch.nn.Module"),
        requirement("maps a batch of shape (N, c_in, H, W) to (N, c_out,", residual(permute=True),
                    r"expected \(3, \d+, \d+, \d+\)"),
        requirement("the branch is the lecture's, two 3x3 convolutions", residual(kernel=5, padding=2),
                    r"two 3x3 convolutions"),
        requirement("the branch is the lecture's, two 3x3 convolutions", residual(extra=dropout_layer),
                    r"convolutions, batch normalisation and ReLU only"),
        requirement("with padding 1", residual(padding=0), r"padding 1"),
        requirement("each followed by `nn.BatchNorm2d`", residual(norms="first"),
                    r"each of the two 3x3 convolutions is followed by nn.BatchNorm2d"),
        requirement("with a ReLU between them", residual(middle_relu=False), r"ReLU between the two conv-BN"),
        requirement("the first convolution has the block's stride", residual(stride_in="second"),
                    r"has the block's stride; yours has it in the second"),
        requirement("and `c_out` output channels", residual(first_out="c_in"),
                    r"first 3x3 convolution maps c_in = \d+ to c_out"),
        requirement("no convolution has a bias", residual(bias=True), r"bias=False"),
        requirement("the block returns relu(branch(x) + s(x))", residual(relu="before"), r"after the addition"),
        requirement("the block returns relu(branch(x) + s(x))", residual(add=False),
                    r"adds the shortcut to the branch before the last ReLU"),
        requirement("the block returns relu(branch(x) + s(x))", residual(relu="none"),
                    r"ends in a ReLU after the addition"),
        requirement("s(x) is x itself when `stride == 1` and `c_in == c_out`", residual(project="always"),
                    r"the input itself, without a projection"),
        requirement("otherwise s is a projection", residual(project="never"), r"the shortcut is a projection"),
        requirement("a 1x1 convolution from `c_in` to `c_out` channels", residual(project_kernel=3),
                    r"the projection one 1x1"),
        requirement("with the block's stride, followed by batch normalisation", residual(project_stride=False),
                    r"projection is a 1x1 convolution from c_in to c_out channels with the block's stride"),
        requirement("with the block's stride, followed by batch normalisation", residual(project_norm=False),
                    r"the projection is followed by nn.BatchNorm2d"),
        requirement("with `shortcut=False` it returns relu(branch(x))", residual(plain_adds=True),
                    r"shortcut=False the block returns relu\(branch\(x\)\)"),
        requirement("without any shortcut or projection layer", residual(project="plain_too"),
                    r"no shortcut and no projection layer"),
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
