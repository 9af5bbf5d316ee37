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
    watch.refuse(f"`{name}` called {{seen}}: exercise 1 uses PyTorch, the others NumPy only.")


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


# --------------------------------------------------------------------------- residual block

_RES_TYPES = ("Conv2d", "BatchNorm2d", "ReLU", "Identity", "Sequential", "ModuleList", "ModuleDict")


def _res_case(c_in, c_out, stride, shortcut):
    return f"ResidualBlock({c_in}, {c_out}, stride={stride}, shortcut={shortcut})"


def _needs_projection(c_in, c_out, stride):
    return stride != 1 or c_in != c_out


def _randomise(torch, block, rng):
    """Random weights, BN affine parameters and running statistics, so that every layer shows."""
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.as_tensor(rng.normal(scale=0.3, size=tuple(p.shape)), dtype=p.dtype))
        for m in block.modules():
            if isinstance(m, torch.nn.BatchNorm2d) and m.running_mean is not None:
                m.running_mean.copy_(torch.as_tensor(rng.normal(scale=0.3, size=m.num_features)))
                m.running_var.copy_(torch.as_tensor(rng.uniform(0.5, 2.0, size=m.num_features)))


def _res_structure(nn, block, c_in, c_out, stride, shortcut, case):
    """The block's convolutions and batch norms by role; fails with the requirement a layer breaks."""
    leaves = [m for m in block.modules() if not list(m.children())]
    others = sorted({type(m).__name__ for m in leaves} - set(_RES_TYPES))
    if others:
        raise CheckFailed(f"the block is built from convolutions, batch normalisation and ReLU only; yours also "
                          f"has {', '.join(others)} ({case}).")
    convs = [m for m in leaves if isinstance(m, nn.Conv2d)]
    norms = [m for m in leaves if isinstance(m, nn.BatchNorm2d)]
    if any(m.bias is not None for m in convs):
        raise CheckFailed(f"no convolution has a bias (bias=False): the batch normalisation after each has its "
                          f"own shift ({case}).")
    threes = [m for m in convs if m.kernel_size == (3, 3)]
    ones = [m for m in convs if m.kernel_size == (1, 1)]
    if len(threes) != 2 or len(convs) - len(threes) - len(ones):
        raise CheckFailed(f"the branch has two 3x3 convolutions (and the projection one 1x1); yours has kernels "
                          f"{[m.kernel_size for m in convs]} ({case}).")
    for m in threes:
        if m.padding != (1, 1):
            raise CheckFailed(f"the 3x3 convolutions have padding 1; one has padding {m.padding} ({case}).")
    first = [m for m in threes if m.in_channels == c_in and m.stride == (stride, stride)]
    first.sort(key=lambda m: m.out_channels != c_out)  # one with c_out outputs, if any
    if not first or first[0].out_channels != c_out:
        strided = [m for m in threes if m.stride == (stride, stride)]
        if stride != 1 and strided and all(m.in_channels != c_in for m in strided):
            raise CheckFailed(f"the first 3x3 convolution has the block's stride; yours has it in the second "
                              f"({case}).")
        raise CheckFailed(f"the first 3x3 convolution maps c_in = {c_in} to c_out = {c_out} channels with the "
                          f"block's stride {stride}; yours have (in, out, stride) "
                          f"{[(m.in_channels, m.out_channels, m.stride) for m in threes]} ({case}).")
    second = [m for m in threes if m is not first[0]]
    if second[0].stride != (1, 1) or (second[0].in_channels, second[0].out_channels) != (c_out, c_out):
        raise CheckFailed(f"the second 3x3 convolution maps c_out = {c_out} to {c_out} channels with stride 1 "
                          f"({case}).")
    projection = _needs_projection(c_in, c_out, stride) and shortcut
    if ones and not shortcut:
        raise CheckFailed(f"with shortcut=False the block is the plain twin: no shortcut and no projection layer "
                          f"({case}).")
    if ones and not projection:
        raise CheckFailed(f"when stride == 1 and c_in == c_out the shortcut is the input itself, without a "
                          f"projection ({case}).")
    if projection and not ones:
        raise CheckFailed(f"when the stride is not 1 or c_in != c_out, x does not have the branch's shape: the "
                          f"shortcut is a projection, a 1x1 convolution from c_in to c_out channels with the "
                          f"block's stride, followed by batch normalisation ({case}).")
    if ones and ((ones[0].in_channels, ones[0].out_channels) != (c_in, c_out) or ones[0].stride != (stride, stride)):
        raise CheckFailed(f"the projection is a 1x1 convolution from c_in to c_out channels with the block's "
                          f"stride; yours maps {ones[0].in_channels} to {ones[0].out_channels} with stride "
                          f"{ones[0].stride} ({case}).")
    wanted = 3 if projection else 2
    if len(norms) != wanted or any(m.num_features != c_out for m in norms):
        what = ("each of the two 3x3 convolutions and the projection is followed by nn.BatchNorm2d(c_out)"
                if projection else "each of the two 3x3 convolutions is followed by nn.BatchNorm2d(c_out)")
        raise CheckFailed(f"{what}; yours has {len(norms)} batch normalisation layer(s) with "
                          f"{[m.num_features for m in norms]} channels ({case}).")
    return first[0], second[0], (ones[0] if ones else None), norms


def _res_variants(F, x, conv_a, conv_b, proj, norms, shortcut):
    """Outputs of the right block and of typical wrong ones, for every assignment of the batch norms."""
    import itertools

    for order in itertools.permutations(norms):
        bn_a, bn_b = order[0], order[1]
        middle = bn_a(conv_a(x))
        branch = bn_b(conv_b(F.relu(middle)))
        no_middle_relu = bn_b(conv_b(middle))
        skip = x if proj is None else order[2](proj(x))
        if not shortcut:
            yield F.relu(branch), {"with shortcut=False the block returns relu(branch(x)), without adding the "
                                   "input": F.relu(branch + x) if branch.shape == x.shape else None,
                                   "put a ReLU between the two conv-BN layers of the branch":
                                   F.relu(no_middle_relu)}
            continue
        yield F.relu(branch + skip), {
            "the ReLU comes after the addition: relu(branch(x) + shortcut(x)), not relu(branch(x)) + shortcut(x)":
                F.relu(branch) + skip,
            "the block ends in a ReLU after the addition": branch + skip,
            "put a ReLU between the two conv-BN layers of the branch": F.relu(no_middle_relu + skip),
            "with shortcut=True the block adds the shortcut to the branch before the last ReLU": F.relu(branch),
        }


def _check_defaults(torch, ResidualBlock, c_in, c_out, rng):
    """ResidualBlock(c_in, c_out) is ResidualBlock(c_in, c_out, stride=1, shortcut=True)."""
    hint = (f"ResidualBlock({c_in}, {c_out}) must mean ResidualBlock({c_in}, {c_out}, stride=1, shortcut=True): "
            "those are the defaults")
    with seeded_global_random(99):
        try:
            default = call(ResidualBlock, c_in, c_out, name="ResidualBlock")
        except CheckFailed as err:
            if "TypeError" in str(err):
                raise CheckFailed(f"{hint} ({err})") from None
            raise
    with seeded_global_random(99):
        explicit = call(ResidualBlock, c_in, c_out, stride=1, shortcut=True, name="ResidualBlock")
    if not isinstance(default, torch.nn.Module) or not isinstance(explicit, torch.nn.Module):
        return  # the loop below names the type
    shapes = [tuple(p.shape) for p in default.parameters()], [tuple(p.shape) for p in explicit.parameters()]
    if shapes[0] != shapes[1]:
        raise CheckFailed(f"{hint}; the two have different layers.")
    x = torch.as_tensor(rng.normal(size=(2, c_in, 7, 8)), dtype=torch.float32)
    with torch.no_grad():
        outputs = [to_array(call(b.eval(), x, name="your block"), "the block's output") for b in (default, explicit)]
    if outputs[0].shape != outputs[1].shape or not np.allclose(*outputs, rtol=1e-5, atol=1e-6):
        raise CheckFailed(f"{hint}; the two compute different outputs.")


@register("12.residual_block", target="ResidualBlock")
def check_residual_block(ResidualBlock):
    """ResidualBlock(c_in, c_out, stride=1, shortcut=True): relu(branch(x) + shortcut(x)), a projection
    (1x1 conv + BN) when the shapes differ, the plain twin with shortcut=False."""
    torch = require_framework("torch")
    nn, F = torch.nn, torch.nn.functional
    rng = seeded_rng(124)
    cases = [(6, 6, 1, True), (5, 8, 2, True), (5, 8, 1, True), (6, 6, 2, True), (6, 6, 1, False),
             (5, 8, 2, False), (int(rng.integers(2, 6)), int(rng.integers(6, 10)), 3, True)]
    name = "ResidualBlock"
    for index, (c_in, c_out, stride, shortcut) in enumerate(cases):
        case = _res_case(c_in, c_out, stride, shortcut)
        with seeded_global_random(index):
            if index % 2:
                block = call(ResidualBlock, c_in, c_out, stride=stride, shortcut=shortcut, name=name)
            else:
                block = call(ResidualBlock, c_in, c_out, stride, shortcut, name=name)
        if not isinstance(block, nn.Module):
            raise CheckFailed(f"ResidualBlock(...) should make a torch.nn.Module, not a {type(block).__name__} "
                              f"({case}).")
        conv_a, conv_b, proj, norms = _res_structure(nn, block, c_in, c_out, stride, shortcut, case)
        if index == 0:
            _check_defaults(torch, ResidualBlock, c_in, c_out, rng)
        _randomise(torch, block, rng)
        height, width = int(rng.integers(7, 12)), int(rng.integers(7, 12))
        x = torch.as_tensor(rng.normal(size=(3, c_in, height, width)), dtype=torch.float32)
        expected_shape = (3, c_out, -(-height // stride), -(-width // stride))
        block.train()
        with torch.no_grad():
            out = call(block, x, name="your block")
        out_shape = tuple(getattr(out, "shape", ()))
        if out_shape != expected_shape:
            raise CheckFailed(f"a batch of shape {tuple(x.shape)} gives {out_shape}; expected {expected_shape}: "
                              f"(N, c_out, ceil(H / stride), ceil(W / stride)) ({case}).")
        block.eval()
        with torch.no_grad():
            got = to_array(call(block, x, name="your block"), "the block's output").astype(np.float64)
            variants = list(_res_variants(F, x, conv_a, conv_b, proj, norms, shortcut))
            if len(set(map(id, [conv_a, conv_b]))) == 2 and conv_a.in_channels == conv_b.in_channels \
                    and conv_a.stride == conv_b.stride:  # the two 3x3 convolutions cannot be told apart
                variants += list(_res_variants(F, x, conv_b, conv_a, proj, norms, shortcut))

        def close(value, got=got):
            return value is not None and np.allclose(got, value.numpy(), rtol=1e-4, atol=1e-5)

        if any(close(right) for right, _ in variants):
            continue
        for _, mistakes in variants:
            for hint, value in mistakes.items():
                if close(value):
                    raise CheckFailed(f"the block's output is wrong in evaluation mode ({case}): {hint}.")
        raise CheckFailed(f"the block's output is not relu(branch(x) + shortcut(x)) "
                          f"{'with its projection ' if proj is not None else ''}in evaluation mode ({case}): "
                          "branch = BN(conv(ReLU(BN(conv(x))))), and nothing else on either path.")
    return f"{len(cases)} blocks: identity and projection shortcuts, strides 1 to 3, the plain twin"
