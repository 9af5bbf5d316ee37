"""Checks for chapter 12, CNNs for Fashion-MNIST."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    calls_into,
    expect_close,
    expect_equal,
    expect_pair,
    register,
    seeded_global_random,
    seeded_rng,
    to_array,
)
from course_utils.frameworks import require_framework

NOT_NUMPY = ("torch", "scipy", "tensorflow", "keras", "jax")  # exercises 2 to 4 use NumPy only


def _numpy_only(watch, name):
    if watch.seen:
        raise CheckFailed(f"`{name}` called {watch.seen}: exercise 1 uses PyTorch, the others NumPy only.")


def _draws_from(rng_state, rng, name):
    """Fail unless the answer drew its random numbers from the generator it was given."""
    if rng.bit_generator.state == rng_state:
        raise CheckFailed(f"`{name}` did not use the generator it was given: draw the random numbers from `rng` "
                          "(rng.random, rng.integers), so that a seeded generator gives the same result.")


def _same_for_same_seed(first, second, name):
    if not np.array_equal(to_array(first, name), to_array(second, name), equal_nan=True):
        raise CheckFailed(f"`{name}` gives different results for two generators with the same seed: draw the "
                          "random numbers from `rng` only (not from np.random or another generator).")


@register("12.spatial_dropout")
def check_spatial_dropout(spatial_dropout):
    """spatial_dropout(x, rate, rng, training) drops whole channels of x (N, C, H, W) and rescales."""
    rng = seeded_rng(120)
    x = rng.uniform(0.5, 2.0, size=(64, 32, 4, 5))
    watch = calls_into(spatial_dropout, NOT_NUMPY)
    seeds = [int(s) for s in rng.integers(2**31, size=4)]

    def run(x, rate, seed, *training):
        generator = seeded_rng(seed)
        before = generator.bit_generator.state
        out = call(watch.func, x, rate, generator, *training, name="spatial_dropout")
        _numpy_only(watch, "spatial_dropout")
        return out, generator, before

    evaluated, _, _ = run(x, 0.3, seeds[0], False)
    expect_close(evaluated, x, "spatial_dropout(x, 0.3, rng, training=False)", case="evaluation mode",
                 mistakes={"at evaluation time (training=False) return x unchanged: no dropping, no scaling":
                           x / 0.7, "at evaluation time (training=False) return x unchanged, not scaled by "
                           "1 - rate": x * 0.7})
    for rate in (0.3, round(float(rng.uniform(0.45, 0.7)), 3)):
        out, generator, before = run(x, rate, seeds[1], True)
        out = to_array(out, "spatial_dropout(x, rate, rng)")
        case = f"rate {rate}"
        if out.shape != x.shape:
            raise CheckFailed(f"spatial_dropout for {case} has shape {out.shape}, expected {x.shape}.")
        if not np.all(np.isfinite(out)):
            raise CheckFailed(f"spatial_dropout for {case} contains NaN or inf.")
        _draws_from(before, generator, "spatial_dropout")
        _same_for_same_seed(out, run(x, rate, seeds[1], True)[0], "spatial_dropout")
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
    expect_close(run(x, 0.0, seeds[2], True)[0], x, "spatial_dropout(x, 0.0, rng)", case="rate 0")
    try:
        by_default, _, _ = run(x, 0.4, seeds[3])
    except CheckFailed as err:
        if "TypeError" in str(err):
            raise CheckFailed(f"`spatial_dropout` takes training=True by default: spatial_dropout(x, rate, rng) "
                              f"must work. ({err})") from None
        raise
    if not np.array_equal(to_array(by_default, "spatial_dropout"), to_array(run(x, 0.4, seeds[3], True)[0],
                                                                            "spatial_dropout")):
        raise CheckFailed("spatial_dropout(x, rate, rng) differs from the same call with training=True: "
                          "training=True by default.")
    return "whole channels dropped at the right rate from rng, kept ones rescaled, identity at evaluation"


def _shift_fill(images, dy, dx):
    """Shift every image of a stack (..., H, W) by (dy, dx) pixels, filling with zeros."""
    out = np.zeros_like(images)
    h, w = images.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[..., max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = \
        images[..., max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    return out


def _shift_edge(images, dy, dx):
    """Shift every image by (dy, dx), filling with the nearest edge pixel."""
    h, w = images.shape[-2:]
    pad = [(0, 0)] * (images.ndim - 2) + [(abs(dy), abs(dy)), (abs(dx), abs(dx))]
    padded = np.pad(images, pad, mode="edge")
    return padded[..., abs(dy) - dy:abs(dy) - dy + h, abs(dx) - dx:abs(dx) - dx + w]


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
    rng = seeded_rng(121)
    m = 2
    images = rng.uniform(0.1, 1.0, size=(400, 6, 7))
    labels = rng.integers(0, 10, size=len(images))
    watch = calls_into(random_shift, NOT_NUMPY)
    seed = int(rng.integers(2**31))

    def run(images, labels, max_shift, seed):
        generator = seeded_rng(seed)
        before = generator.bit_generator.state
        out = call(watch.func, images, labels, max_shift, generator, name="random_shift")
        _numpy_only(watch, "random_shift")
        return out, generator, before

    out, generator, before = run(images, labels, m, seed)
    out = expect_pair(out, "random_shift", "(shifted_images, labels)")
    shifted = to_array(out[0], "the shifted images")
    if shifted.shape != images.shape:
        raise CheckFailed(f"the shifted images have shape {shifted.shape}, expected {images.shape}: keep each "
                          "image's height and width (fill the uncovered border with zeros, crop what moves out).")
    expect_equal(to_array(out[1], "the labels"), labels, "the labels",
                 mistakes={"the labels must stay with their images: return them unchanged": np.sort(labels)})
    shifts = _find_shifts(images, shifted, 5)
    for i, found in enumerate(shifts):
        if found is None:
            if _find_shifts(images[i:i + 1], shifted[i:i + 1], m, fill=_roll)[0] is not None:
                raise CheckFailed("the image wraps around (like np.roll): what moves out on one side must not "
                                  "come back on the other; fill the uncovered border with zeros.")
            if _find_shifts(images[i:i + 1], shifted[i:i + 1], m, fill=_shift_edge)[0] is not None:
                raise CheckFailed("the uncovered border repeats the edge pixels: fill it with zeros.")
            raise CheckFailed(f"image {i} is not a shifted copy of the input: move the pixels by whole steps "
                              "and fill the uncovered border with zeros.")
        if max(abs(found[0]), abs(found[1])) > m:
            raise CheckFailed(f"image {i} moved by {found} pixels, more than max_shift = {m}.")
    _draws_from(before, generator, "random_shift")
    _same_for_same_seed(shifted, run(images, labels, m, seed)[0][0], "random_shift")
    shifts = np.array(shifts)
    if np.all(shifts == shifts[0]):
        raise CheckFailed("every image moved by the same shift: draw a separate random shift for each image.")
    values = np.arange(-m, m + 1)
    for axis, name in ((0, "vertical"), (1, "horizontal")):
        if shifts[:, axis].min() >= 0 or shifts[:, axis].max() <= 0:
            raise CheckFailed(f"the {name} shifts all go one way: draw them from -max_shift to +max_shift.")
        shares = np.array([np.mean(shifts[:, axis] == v) for v in values])
        if shares[0] == 0 or shares[-1] == 0:
            raise CheckFailed(f"no image moved by {-m if shares[0] == 0 else m} ({name}) in {len(images)} draws: "
                              "both ends included, each shift drawn from -max_shift to max_shift "
                              "(rng.integers(-max_shift, max_shift + 1)).")
        if np.max(np.abs(shares - 1 / len(values))) > 0.1:  # five standard errors of a share
            raise CheckFailed(f"the {name} shifts are not drawn uniformly: their shares of -{m} .. {m} are "
                              f"{np.round(shares, 2).tolist()}, each should be about {1 / len(values):.2f}.")
    if abs(np.mean(shifts[:, 0] == shifts[:, 1]) - 1 / len(values)) > 0.1:
        raise CheckFailed(f"dy equals dx in {np.mean(shifts[:, 0] == shifts[:, 1]):.0%} of the images: dy and dx "
                          "are drawn independently, each from -max_shift to max_shift.")
    zero, _, _ = run(images[:8], labels[:8], 0, seed)
    expect_close(expect_pair(zero, "random_shift", "(shifted_images, labels)")[0], images[:8],
                 "random_shift(images, labels, 0, rng)[0]", case="max_shift 0")
    return f"{len(images)} images, each its own uniform zero-filled shift within max_shift, labels kept"


def _receptive_field_backwards(layers):
    """Walk from one output pixel back to the input: r <- s * r + (k - s)."""
    r = 1
    for k, s in reversed(list(layers)):
        r = s * r + (k - s)
    return r


@register("12.receptive_field")
def check_receptive_field(receptive_field):
    """receptive_field(layers) for a list of (kernel, stride) pairs."""
    rng = seeded_rng(122)
    cases = [[], [(3, 1)], [(3, 1), (3, 1)], [(3, 1), (2, 2)], [(3, 1), (2, 2), (3, 1), (2, 2)],
             [(5, 1), (2, 2), (5, 1), (2, 2)], [(7, 2), (3, 2), (3, 1), (3, 1)], [[2, 5], [4, 3], [3, 2]]]
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
        "each layer is a pair (kernel_size, stride): the kernel size comes first":
            lambda layers: _receptive_field_backwards([(s, k) for k, s in layers]),
    }
    answers = []
    for layers in cases:
        got = call(receptive_field, [type(p)(p) for p in layers], name="receptive_field")
        value = to_array(got, "receptive_field(layers)")
        if value.size != 1:
            raise CheckFailed(f"receptive_field should return one number, not an array of shape {value.shape}.")
        answers.append(float(value.reshape(-1)[0]))
    expected = [float(_receptive_field_backwards(layers)) for layers in cases]
    wrong = [i for i, (a, e) in enumerate(zip(answers, expected, strict=True)) if a != e]
    if not wrong:
        return f"{len(cases)} stacks of layers, the empty one included"
    if wrong == [0]:
        raise CheckFailed(f"receptive_field([]) is {answers[0]:g}: an empty stack has r = 1 (a unit sees its own "
                          "pixel).")
    case = f"layers {cases[wrong[0]]}"
    for hint, mistake in mistakes.items():
        if all(a == mistake(layers) for a, layers in zip(answers[1:], cases[1:], strict=True)):
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


_STAGE = ["Conv2d", "BatchNorm2d", "ReLU"]
_FLOW = _STAGE + ["MaxPool2d"] + _STAGE + ["MaxPool2d"] + _STAGE + ["AdaptiveAvgPool2d", "Linear"]
_TYPES = ("Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "AdaptiveAvgPool2d", "Flatten", "Linear")


def _data_flow(torch, model, images):
    """The layer types a forward pass goes through, in order (nn.Flatten or a functional flatten)."""
    seen, hooks = [], []
    for module in model.modules():
        if not list(module.children()):
            hooks.append(module.register_forward_hook(lambda m, i, o: seen.append(type(m).__name__)))
    try:
        with torch.no_grad():
            call(model, images, name="your model")
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def _check_flow(flow, case):
    if flow == _FLOW:
        return
    others = sorted(set(flow) - set(_TYPES))
    if {"Softmax", "LogSoftmax"} & set(others):
        raise CheckFailed(f"the model ends in a {others[0]}: return logits, without a softmax ({case}).")
    if others:
        raise CheckFailed(f"the network is built from only these layer types: {', '.join(_TYPES)}; yours also "
                          f"runs {', '.join(others)} ({case}).")
    stages = [k for k in flow if k in _STAGE]
    if stages != _STAGE * 3:
        raise CheckFailed(f"each stage is Conv2d -> BatchNorm2d -> ReLU; your order is {' -> '.join(stages)} "
                          f"({case}).")
    relus = [i for i, k in enumerate(flow) if k == "ReLU"]
    pools = [i for i, k in enumerate(flow) if k == "MaxPool2d"]
    after = [sum(r < p for r in relus) for p in pools]  # how many stages each pooling follows
    if 3 in after and len(pools) > 2:
        raise CheckFailed(f"nn.MaxPool2d(2) comes after the first and after the second stage, not after the third "
                          f"({case}).")
    if len(pools) != 2:
        raise CheckFailed(f"expected two 2x2 max-pooling layers (after stages 1 and 2), found {len(pools)} "
                          f"({case}).")
    if sorted(after) != [1, 2] or any(flow[p - 1] != "ReLU" for p in pools):
        raise CheckFailed(f"nn.MaxPool2d(2) comes after the first and after the second stage, each after its ReLU: "
                          f"the layers run in this order: {' -> '.join(_FLOW)}; yours: {' -> '.join(flow)} "
                          f"({case}).")
    raise CheckFailed(f"the layers run in this order: {' -> '.join(_FLOW)}; yours: {' -> '.join(flow)} ({case}).")


@register("12.build_gap_cnn")
def check_build_gap_cnn(build_gap_cnn):
    """build_gap_cnn(width) returns three conv-BN-ReLU stages (width, 2 width, 4 width channels; 2x2 max
    pooling after the first two), global average pooling and a Linear layer to 10 logits."""
    torch = require_framework("torch")
    nn = torch.nn
    rng = seeded_rng(123)
    for width in (8, 4, int(rng.integers(5, 13))):
        with seeded_global_random(width):
            model = call(build_gap_cnn, width, name="build_gap_cnn")
        case = f"width={width}"
        if not isinstance(model, nn.Module):
            raise CheckFailed(f"build_gap_cnn should return a torch.nn.Module, not a {type(model).__name__}.")
        layers = [m for m in model.modules() if not list(m.children())]
        kinds = [type(m) for m in layers]
        convs = [m for m in layers if isinstance(m, nn.Conv2d)]
        norms = [m for m in layers if isinstance(m, nn.BatchNorm2d)]
        gaps = [m for m in layers if isinstance(m, nn.AdaptiveAvgPool2d)]
        if not gaps:
            hint = (" Flatten + Linear on the 7x7 maps ties the network to 28x28 inputs; global average "
                    "pooling (nn.AdaptiveAvgPool2d(1)) averages each map to one number."
                    if nn.Flatten in kinds and not any("Adaptive" in k.__name__ for k in kinds) else "")
            raise CheckFailed(f"there is no nn.AdaptiveAvgPool2d(1) layer ({case}).{hint}")
        if any(m.output_size not in (1, (1, 1)) for m in gaps):
            raise CheckFailed(f"global average pooling is nn.AdaptiveAvgPool2d(1): it averages each map to one "
                              f"number; yours has output_size {gaps[0].output_size} ({case}).")
        got = [(m.in_channels, m.out_channels) for m in convs]
        want = [(1, width), (width, 2 * width), (2 * width, 4 * width)]
        if got != want:
            raise CheckFailed(f"the convolutions map channels {got}; expected {want}: width, 2 * width and "
                              f"4 * width output channels ({case}).")
        for m in convs:
            if m.kernel_size != (3, 3):
                raise CheckFailed(f"every convolution is 3x3; one has kernel {m.kernel_size} ({case}).")
            if m.padding != (1, 1):
                raise CheckFailed(f"every convolution has padding=1 (a 3x3 kernel then keeps the map's size); one "
                                  f"has padding {m.padding} ({case}).")
            if m.stride != (1, 1):
                raise CheckFailed(f"every convolution has stride 1 (the max pooling halves the maps); one has "
                                  f"stride {m.stride} ({case}).")
            if m.bias is not None:
                raise CheckFailed(f"the convolutions need bias=False: the batch normalisation after each "
                                  f"has its own shift ({case}).")
        if [m.num_features for m in norms] != [width, 2 * width, 4 * width]:
            raise CheckFailed(f"expected one nn.BatchNorm2d after each convolution (Conv2d -> BatchNorm2d -> ReLU), "
                              f"with {width}, {2 * width} and {4 * width} channels ({case}).")
        linears = [m for m in layers if isinstance(m, nn.Linear)]
        if [(m.in_features, m.out_features) for m in linears] != [(4 * width, 10)]:
            raise CheckFailed(f"the head is one nn.Linear({4 * width}, 10) after the pooling, found "
                              f"{[(m.in_features, m.out_features) for m in linears]} ({case}).")
        for m in (m for m in layers if isinstance(m, nn.MaxPool2d)):
            kernel, stride = (tuple(v) if isinstance(v, (tuple, list)) else (v, v)
                              for v in (m.kernel_size, m.stride))  # 2 or (2, 2)
            if kernel != (2, 2) or stride != (2, 2):
                raise CheckFailed(f"the max pooling is nn.MaxPool2d(2): a 2x2 window with stride 2 halves "
                                  f"each side; yours has kernel {kernel} and stride {stride} ({case}).")
        model.eval()
        for size in (28, 36):
            images = torch.as_tensor(rng.random((3, 1, size, size)), dtype=torch.float32)
            _check_flow([k for k in _data_flow(torch, model, images) if k != "Flatten"], case)
            with torch.no_grad():
                out = to_array(call(model, images, name="your model"), "the model's output")
            if out.shape != (3, 10):
                raise CheckFailed(f"a batch of 3 images of {size}x{size} gives shape {out.shape}, expected "
                                  f"(3, 10) ({case}).")
            if np.allclose(out.sum(axis=1), 1.0, atol=1e-4) and np.all(out >= 0):
                raise CheckFailed("the outputs sum to 1: return logits, without a softmax.")
        n_params = sum(int(p.numel()) for p in model.parameters())
        expect_equal(n_params, gap_cnn_parameters(width), "the number of parameters", case=case)
    return "three stages in the data flow, global average pooling, any input size"
