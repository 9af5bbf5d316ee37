"""Checks for chapter 12, CNNs for Fashion-MNIST."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import CheckFailed, call, expect_close, expect_equal, expect_pair, register, to_array
from course_utils.frameworks import require_framework


def _positive_maps(rng, n, c, h=4, w=5):
    return rng.uniform(0.5, 2.0, size=(n, c, h, w))


@register("12.spatial_dropout")
def check_spatial_dropout(spatial_dropout):
    """spatial_dropout(x, rate, rng, training) drops whole channels of x (N, C, H, W) and rescales."""
    rng = np.random.default_rng(120)
    x = _positive_maps(rng, 64, 32)

    def run(x, rate, seed, training):
        return call(spatial_dropout, x, rate, np.random.default_rng(seed), training, name="spatial_dropout")

    evaluated = run(x, 0.3, 1, False)
    expect_close(evaluated, x, "spatial_dropout(x, 0.3, rng, training=False)", case="evaluation mode",
                 mistakes={"at evaluation time (training=False) return x unchanged: no dropping, no scaling":
                           x / 0.7})
    for rate in (0.3, 0.6):
        out = to_array(run(x, rate, 3, True),
                       "spatial_dropout(x, rate, rng)")
        case = f"rate {rate}"
        if out.shape != x.shape:
            raise CheckFailed(f"spatial_dropout for {case} has shape {out.shape}, expected {x.shape}.")
        if not np.all(np.isfinite(out)):
            raise CheckFailed(f"spatial_dropout for {case} contains NaN or inf.")
        zero = out == 0
        per_map = zero.mean(axis=(2, 3))
        if np.any((per_map > 0) & (per_map < 1)):
            raise CheckFailed(f"spatial_dropout for {case} zeroes single pixels: spatial dropout drops whole "
                              "channels (feature maps), so a map is either all zero or all kept. Draw one "
                              "mask value per (sample, channel), shape (N, C, 1, 1).")
        dropped = per_map == 1
        fraction = dropped.mean()
        if abs(fraction - (1 - rate)) < 0.06 and abs(fraction - rate) > 0.06:
            raise CheckFailed(f"spatial_dropout for {case} drops {fraction:.0%} of the channels: `rate` is the "
                              "probability of dropping a channel, not of keeping it.")
        if abs(fraction - rate) > 0.06:
            raise CheckFailed(f"spatial_dropout for {case} drops {fraction:.0%} of the channels; expected about "
                              f"{rate:.0%}.")
        if np.all(dropped == dropped[:1]):
            raise CheckFailed(f"spatial_dropout for {case} drops the same channels in every sample: draw a "
                              "separate mask for each sample, shape (N, C, 1, 1).")
        if np.all(dropped == dropped[:, :1]):
            raise CheckFailed(f"spatial_dropout for {case} drops all channels of a sample together: draw one "
                              "value per (sample, channel), shape (N, C, 1, 1).")
        kept = ~dropped
        ratio = out[kept] / x[kept]
        expect_close(ratio, np.full(ratio.shape, 1 / (1 - rate)), "the kept channels divided by x", case=case,
                     mistakes={"the kept channels are not rescaled: divide them by (1 - rate) so that the "
                               "expected value stays x": np.ones(ratio.shape),
                               "divide the kept channels by (1 - rate), do not multiply": np.full(ratio.shape,
                                                                                                   1 - rate)})
    expect_close(run(x, 0.0, 2, True), x,
                 "spatial_dropout(x, 0.0, rng)", case="rate 0")
    return "whole channels dropped at the right rate, kept ones rescaled, identity at evaluation"


def _shift_fill(images, dy, dx):
    """Shift every image of a stack (..., H, W) by (dy, dx) pixels, filling with zeros."""
    out = np.zeros_like(images)
    h, w = images.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[..., max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = \
        images[..., max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    return out


def _roll(images, dy, dx):
    return np.roll(images, (dy, dx), axis=(-2, -1))


def _find_shifts(originals, shifted, reach, fill=_shift_fill):
    """For each image the (dy, dx) with |dy|, |dx| <= reach that turns the original into the shifted one,
    or None."""
    found = [None] * len(originals)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            match = np.all(np.isclose(fill(originals, dy, dx), shifted), axis=(-2, -1))
            for i in np.flatnonzero(match):
                found[i] = found[i] or (dy, dx)
    return found


@register("12.random_shift")
def check_random_shift(random_shift):
    """random_shift(images, labels, max_shift, rng) moves each image by its own random integer shift."""
    rng = np.random.default_rng(121)
    images = rng.uniform(0.1, 1.0, size=(48, 9, 10))
    labels = rng.integers(0, 10, size=48)

    def run(images, labels, max_shift, seed):
        return call(random_shift, images, labels, max_shift, np.random.default_rng(seed), name="random_shift")

    out = expect_pair(run(images, labels, 2, 5), "random_shift", "(shifted_images, labels)")
    shifted = to_array(out[0], "the shifted images")
    if shifted.shape != images.shape:
        raise CheckFailed(f"the shifted images have shape {shifted.shape}, expected {images.shape}: keep each "
                          "image's height and width (fill the uncovered border with zeros, crop what moves out).")
    expect_equal(to_array(out[1], "the labels"), labels, "the labels",
                 mistakes={"the labels must stay with their images: return them unchanged": np.sort(labels)})
    shifts = _find_shifts(images, shifted, 5)
    for i, found in enumerate(shifts):
        if found is None:
            if _find_shifts(images[i:i + 1], shifted[i:i + 1], 2, fill=_roll)[0] is not None:
                raise CheckFailed("the image wraps around (like np.roll): what moves out on one side must not "
                                  "come back on the other; fill the uncovered border with zeros.")
            raise CheckFailed(f"image {i} is not a shifted copy of the input: move the pixels by whole steps "
                              "and fill the uncovered border with zeros.")
        if max(abs(found[0]), abs(found[1])) > 2:
            raise CheckFailed(f"image {i} moved by {found} pixels, more than max_shift = 2.")
    shifts = np.array(shifts)
    if np.all(shifts == shifts[0]):
        raise CheckFailed("every image moved by the same shift: draw a separate random shift for each image.")
    for axis, name in ((0, "vertical"), (1, "horizontal")):
        if shifts[:, axis].min() >= 0 or shifts[:, axis].max() <= 0:
            raise CheckFailed(f"the {name} shifts all go one way: draw them from -max_shift to +max_shift.")
    zero = run(images, labels, 0, 6)
    expect_close(zero[0], images, "random_shift(images, labels, 0, rng)[0]", case="max_shift 0")
    return "each image its own zero-filled shift within max_shift, labels kept"


def _receptive_field_backwards(layers):
    """Walk from one output pixel back to the input: r <- s * r + (k - s)."""
    r = 1
    for k, s in reversed(list(layers)):
        r = s * r + (k - s)
    return r


@register("12.receptive_field")
def check_receptive_field(receptive_field):
    """receptive_field(layers) for a list of (kernel, stride) pairs."""
    rng = np.random.default_rng(122)
    cases = [[], [(3, 1)], [(3, 1), (3, 1)], [(3, 1), (2, 2)], [(3, 1), (2, 2), (3, 1), (2, 2)],
             [(5, 1), (2, 2), (5, 1), (2, 2)], [(7, 2), (3, 2), (3, 1), (3, 1)]]
    for _ in range(10):
        cases.append([(int(rng.integers(1, 8)), int(rng.integers(1, 4))) for _ in range(int(rng.integers(1, 6)))])
    def jumps(layers):
        return np.cumprod([1] + [s for _, s in layers])

    mistakes = {
        "the strides are ignored: a layer's kernel counts (k - 1) times the product of the earlier strides":
            lambda layers: 1 + sum(k - 1 for k, _ in layers),
        "do not add the kernel sizes: each layer adds (k - 1) x (product of earlier strides)":
            lambda layers: sum(k for k, _ in layers),
        "use the strides of the layers before, not including the layer's own stride":
            lambda layers: 1 + sum((k - 1) * jumps(layers)[i + 1] for i, (k, _) in enumerate(layers)),
    }
    answers = []
    for layers in cases:
        got = call(receptive_field, list(layers), name="receptive_field")
        value = to_array(got, "receptive_field(layers)")
        if value.size != 1:
            raise CheckFailed(f"receptive_field should return one number, not an array of shape {value.shape}.")
        answers.append(float(value.reshape(-1)[0]))
    expected = [float(_receptive_field_backwards(layers)) for layers in cases]
    wrong = [i for i, (a, e) in enumerate(zip(answers, expected, strict=True)) if a != e]
    if not wrong:
        return f"{len(cases)} stacks of layers"
    case = f"layers {cases[wrong[0]]}"
    for hint, mistake in mistakes.items():
        if all(a == mistake(layers) for a, layers in zip(answers, cases, strict=True)):
            raise CheckFailed(f"receptive_field for {case} is wrong: {hint}")
    raise CheckFailed(f"receptive_field for {case} is {answers[wrong[0]]:g}, which is wrong "
                      f"({len(wrong)} of {len(cases)} cases wrong).")


# --------------------------------------------------------------------------- depth pass


def gap_cnn_parameters(width: int) -> int:
    """Parameters of the all-convolutional network of exercise 12.build_gap_cnn."""
    channels = [1, width, 2 * width, 4 * width]
    convs = sum(9 * c_in * c_out for c_in, c_out in zip(channels[:-1], channels[1:], strict=True))
    batch_norm = 2 * sum(channels[1:])
    return convs + batch_norm + 4 * width * 10 + 10


@register("12.build_gap_cnn")
def check_build_gap_cnn(build_gap_cnn):
    """build_gap_cnn(width) returns three conv-BN-ReLU stages (width, 2 width, 4 width channels; 2x2 max
    pooling after the first two), global average pooling and a Linear layer to 10 logits."""
    torch = require_framework("torch")
    nn = torch.nn
    for width in (8, 4, 12):
        torch.manual_seed(width)
        model = call(build_gap_cnn, width, name="build_gap_cnn")
        case = f"width={width}"
        if not isinstance(model, nn.Module):
            raise CheckFailed(f"build_gap_cnn should return a torch.nn.Module, not a {type(model).__name__}.")
        layers = [m for m in model.modules() if not list(m.children())]
        kinds = [type(m) for m in layers]
        convs = [m for m in layers if isinstance(m, nn.Conv2d)]
        norms = [m for m in layers if isinstance(m, nn.BatchNorm2d)]
        if nn.AdaptiveAvgPool2d not in kinds:
            hint = (" Flatten + Linear on the 7x7 maps ties the network to 28x28 inputs; global average "
                    "pooling (nn.AdaptiveAvgPool2d(1)) averages each map to one number."
                    if nn.Flatten in kinds else "")
            raise CheckFailed(f"there is no nn.AdaptiveAvgPool2d layer ({case}).{hint}")
        got = [(m.in_channels, m.out_channels) for m in convs]
        want = [(1, width), (width, 2 * width), (2 * width, 4 * width)]
        if got != want:
            raise CheckFailed(f"the convolutions map channels {got}; expected {want} ({case}).")
        for m in convs:
            if m.kernel_size != (3, 3) or m.padding != (1, 1) or m.stride != (1, 1):
                raise CheckFailed(f"every convolution is 3x3 with padding=1 and stride 1; one has kernel "
                                  f"{m.kernel_size}, padding {m.padding}, stride {m.stride} ({case}).")
            if m.bias is not None:
                raise CheckFailed(f"the convolutions need bias=False: the batch normalisation after each "
                                  f"has its own shift ({case}).")
        if [m.num_features for m in norms] != [width, 2 * width, 4 * width]:
            raise CheckFailed(f"expected one nn.BatchNorm2d after each convolution, with {width}, {2 * width} "
                              f"and {4 * width} channels ({case}).")
        order = [k for k in kinds if k in (nn.Conv2d, nn.BatchNorm2d, nn.ReLU)]
        if order != [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] * 3:
            names = " -> ".join(k.__name__ for k in order)
            raise CheckFailed(f"each stage is Conv2d -> BatchNorm2d -> ReLU; your order is {names} ({case}).")
        pools = [m for m in layers if isinstance(m, nn.MaxPool2d)]
        if len(pools) != 2:
            raise CheckFailed(f"expected two 2x2 max-pooling layers (after stages 1 and 2), found {len(pools)} "
                              f"({case}).")
        for m in pools:
            kernel, stride = (tuple(v) if isinstance(v, (tuple, list)) else (v, v)
                              for v in (m.kernel_size, m.stride))  # 2 or (2, 2)
            if kernel != (2, 2) or stride != (2, 2):
                raise CheckFailed(f"the max pooling is nn.MaxPool2d(2): a 2x2 window with stride 2 halves "
                                  f"each side; yours has kernel {kernel} and stride {stride} ({case}).")
        linears = [m for m in layers if isinstance(m, nn.Linear)]
        if [(m.in_features, m.out_features) for m in linears] != [(4 * width, 10)]:
            raise CheckFailed(f"the head is one nn.Linear({4 * width}, 10) after the pooling, found "
                              f"{[(m.in_features, m.out_features) for m in linears]} ({case}).")
        if kinds.index(nn.AdaptiveAvgPool2d) < max(i for i, k in enumerate(kinds) if k is nn.Conv2d):
            raise CheckFailed(f"global average pooling comes after the last convolution ({case}).")
        model.eval()
        for size in (28, 36):
            out = to_array(call(model, torch.rand(3, 1, size, size), name="your model"), "the model's output")
            if out.shape != (3, 10):
                raise CheckFailed(f"a batch of 3 images of {size}x{size} gives shape {out.shape}, expected "
                                  f"(3, 10) ({case}).")
            if np.allclose(out.sum(axis=1), 1.0, atol=1e-4) and np.all(out >= 0):
                raise CheckFailed("the outputs sum to 1: return logits, without a softmax.")
        n_params = sum(int(p.numel()) for p in model.parameters())
        expect_equal(n_params, gap_cnn_parameters(width), "the number of parameters", case=case)
    return "three stages, global average pooling, any input size"
