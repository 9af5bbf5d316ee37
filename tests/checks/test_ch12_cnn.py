"""Chapter 12 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

torch = pytest.importorskip("torch")
nn = torch.nn

# ---------------------------------------------------------------- 12.spatial_dropout


def dropout_channels(x, rate, rng, training=True):
    if not training or rate == 0:
        return x
    keep = rng.random((x.shape[0], x.shape[1], 1, 1)) >= rate
    return x * keep / (1 - rate)


def dropout_loops(x, rate, rng, training=True):
    """Loops and float32: different code, same function."""
    out = np.array(x, dtype=np.float32)
    if training:
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                out[n, c] = 0.0 if rng.uniform() < rate else out[n, c] / (1.0 - rate)
    return out


@pytest.mark.parametrize("answer", [dropout_channels, dropout_loops])
def test_spatial_dropout_accepts(answer):
    assert check("12.spatial_dropout", answer)


def in_place(x, rate, rng, training=True):
    if training:
        x *= (rng.random((x.shape[0], x.shape[1], 1, 1)) >= rate) / (1 - rate)
    return x


@pytest.mark.parametrize("answer,hint", [
    (lambda x, rate, rng, training=True: x * (rng.random(x.shape) >= rate) / (1 - rate) if training else x,
     "whole\nchannels|whole channels"),
    (lambda x, rate, rng, training=True: x * (rng.random((*x.shape[:2], 1, 1)) >= rate) if training else x,
     "not rescaled"),
    (lambda x, rate, rng, training=True: x * (rng.random((*x.shape[:2], 1, 1)) >= rate) * (1 - rate)
     if training else x, "do not multiply"),
    (lambda x, rate, rng, training=True: x * (rng.random((*x.shape[:2], 1, 1)) < rate) / rate if training else x,
     "probability of dropping"),
    (lambda x, rate, rng, training=True: x * (rng.random((1, x.shape[1], 1, 1)) >= rate) / (1 - rate)
     if training else x, "same channels in every sample"),
    (lambda x, rate, rng, training=True: dropout_channels(x, rate, rng, True), "training=False"),
    (in_place, "in place"),
])
def test_spatial_dropout_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("12.spatial_dropout", answer)


# ---------------------------------------------------------------- 12.random_shift


def shift_pad_crop(images, labels, max_shift, rng):
    m = max_shift
    padded = np.pad(images, ((0, 0), (m, m), (m, m)))
    h, w = images.shape[1:]
    out = np.empty_like(images)
    for i in range(len(images)):
        dy, dx = rng.integers(-m, m + 1, size=2)
        out[i] = padded[i, m - dy:m - dy + h, m - dx:m - dx + w]
    return out, labels


def shift_slices(images, labels, max_shift, rng):
    out = np.zeros(images.shape, dtype=np.float32)
    h, w = images.shape[1:]
    for i, img in enumerate(images):
        dy, dx = (int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
        out[i, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            img[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out, labels.copy()


@pytest.mark.parametrize("answer", [shift_pad_crop, shift_slices])
def test_random_shift_accepts(answer):
    assert check("12.random_shift", answer)


def rolled(images, labels, max_shift, rng):
    return np.stack([np.roll(img, tuple(rng.integers(-max_shift, max_shift + 1, size=2)), axis=(0, 1))
                     for img in images]), labels


def one_shift(images, labels, max_shift, rng):
    dy, dx = (int(v) for v in rng.integers(1, max_shift + 1, size=2))
    return np.stack([_fixed(img, dy, -dx) for img in images]), labels


def _fixed(img, dy, dx):
    out = np.zeros_like(img)
    h, w = img.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def padded_only(images, labels, max_shift, rng):
    return np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift))), labels


def positive_only(images, labels, max_shift, rng):
    return np.stack([_fixed(img, *rng.integers(0, max_shift + 1, size=2)) for img in images]), labels


def in_place_shift(images, labels, max_shift, rng):
    shifted, _ = shift_pad_crop(images, labels, max_shift, rng)
    images[:] = shifted
    return images, labels


@pytest.mark.parametrize("answer,hint", [
    (rolled, "wraps around"),
    (one_shift, "same shift"),
    (padded_only, "keep each image's height"),
    (positive_only, "all go one way"),
    (lambda images, labels, m, rng: (shift_pad_crop(images, labels, m, rng)[0], np.sort(labels)), "labels"),
    (lambda images, labels, m, rng: shift_pad_crop(images, labels, 2 * m + 1, rng), "more than max_shift"),
    (in_place_shift, "in place"),
])
def test_random_shift_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("12.random_shift", answer)


# ---------------------------------------------------------------- 12.receptive_field


def field_forward(layers):
    r, jump = 1, 1
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r


def field_recursive(layers):
    if not layers:
        return 1
    k, s = layers[-1]
    return field_recursive(layers[:-1]) + (k - 1) * int(np.prod([st for _, st in layers[:-1]]))


@pytest.mark.parametrize("answer", [field_forward, field_recursive])
def test_receptive_field_accepts(answer):
    assert check("12.receptive_field", answer)


def own_stride(layers):
    r, jump = 1, 1
    for k, s in layers:
        jump *= s
        r += (k - 1) * jump
    return r


@pytest.mark.parametrize("answer,hint", [
    (lambda layers: 1 + sum(k - 1 for k, _ in layers), "strides are ignored"),
    (lambda layers: sum(k for k, _ in layers), "do not add the kernel sizes"),
    (own_stride, "not including the layer's own stride"),
    (lambda layers: [field_forward(layers)] * 2, "one number"),
])
def test_receptive_field_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("12.receptive_field", answer)


# ---------------------------------------------------------------- 12.build_gap_cnn


def gap_sequential(width, bias=False, pool=True, softmax=False, order="cbr", n_pools=2, kernel=3,
                   pool_size=2):
    layers, c_in = [], 1
    for stage, c_out in enumerate((width, 2 * width, 4 * width)):
        conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=bias)
        block = {"c": conv, "b": nn.BatchNorm2d(c_out if order == "cbr" else c_in), "r": nn.ReLU()}
        layers += [block[k] for k in order]
        if stage < n_pools:
            layers.append(nn.MaxPool2d(pool_size))
        c_in = c_out
    if pool:
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, 10)]
    else:
        layers += [nn.Flatten(), nn.Linear(4 * width * 7 * 7, 10)]
    if softmax:
        layers.append(nn.Softmax(dim=1))
    return nn.Sequential(*layers)


class GapModule(nn.Module):
    """Stages in a ModuleList, pooling and flattening in forward: different code, same network."""

    def __init__(self, width):
        super().__init__()
        chans = [1, width, 2 * width, 4 * width]
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU())
            for a, b in zip(chans[:-1], chans[1:], strict=True))
        self.pools = nn.ModuleList([nn.MaxPool2d(2), nn.MaxPool2d(2)])
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.out = nn.Linear(4 * width, 10)

    def forward(self, x):
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < 2:
                x = self.pools[i](x)
        return self.out(self.gap(x).flatten(1))


@pytest.mark.parametrize("answer", [gap_sequential, GapModule])
def test_gap_cnn_accepts(answer):
    assert check("12.build_gap_cnn", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda w: gap_sequential(w, bias=True), "bias=False"),
    (lambda w: gap_sequential(w, pool=False), "AdaptiveAvgPool2d"),
    (lambda w: gap_sequential(w, softmax=True), "softmax"),
    (lambda w: gap_sequential(w, order="bcr"), "Conv2d -> BatchNorm2d -> ReLU|one nn.BatchNorm2d"),
    (lambda w: gap_sequential(w, n_pools=3), "not after the third"),
    (lambda w: gap_sequential(w, kernel=5), "3x3"),
    (lambda w: gap_sequential(w, pool_size=3), "MaxPool2d\\(2\\)"),
])
def test_gap_cnn_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("12.build_gap_cnn", answer)


# --------------------------------------------------------------------------- held-out answers
# Each wrong answer here passed an earlier version of its check (a check holds the
# exercise statement, not a few outputs); each correct answer in another style must pass.


def _shift_with(draw):
    def random_shift(images, labels, max_shift, rng):
        m = max_shift
        n, h, w = images.shape
        padded = np.pad(images, ((0, 0), (m, m), (m, m)))
        out = np.empty_like(images)
        shared = draw(rng, m)
        for i in range(n):
            dy, dx = shared if shared is not None else rng.integers(-m, m + 1, size=2)
            out[i] = padded[i, m - dy:m - dy + h, m - dx:m - dx + w]
        return out, labels
    return random_shift


def test_random_shift_inclusive_bounds_accepted():
    assert check("12.random_shift", _shift_with(lambda rng, m: None))


def test_random_shift_exclusive_upper_bound_rejected():
    def exclusive(images, labels, max_shift, rng):
        m = max_shift
        n, h, w = images.shape
        padded = np.pad(images, ((0, 0), (m, m), (m, m)))
        out = np.empty_like(images)
        for i in range(n):
            dy, dx = rng.integers(-m, m, size=2)  # never +max_shift
            out[i] = padded[i, m - dy:m - dy + h, m - dx:m - dx + w]
        return out, labels

    with pytest.raises(CheckFailed):
        check("12.random_shift", exclusive)


def test_random_shift_one_shift_for_the_batch_rejected():
    """Independence: every image gets its own shift."""
    with pytest.raises(CheckFailed):
        check("12.random_shift", _shift_with(lambda rng, m: tuple(rng.integers(-m, m + 1, size=2))))



@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("12")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
