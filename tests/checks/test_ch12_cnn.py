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


# ---------------------------------------------------------------- 12.residual_block


def residual_class(relu_first=False, always_project=False, stride_in_second=False, bias=False,
                   never_project=False, add_without_shortcut=False, middle_relu=True):
    """The solution's block; each keyword makes one typical mistake."""

    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride=1, shortcut=True):
            super().__init__()
            first, second = (1, stride) if stride_in_second else (stride, 1)
            self.branch = nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, stride=first, padding=1, bias=bias), nn.BatchNorm2d(c_out),
                *([nn.ReLU()] if middle_relu else []),
                nn.Conv2d(c_out, c_out, 3, stride=second, padding=1, bias=bias), nn.BatchNorm2d(c_out))
            self.add = shortcut or add_without_shortcut
            self.shortcut = nn.Identity()
            changes = stride != 1 or c_in != c_out
            if shortcut and (changes or always_project) and not never_project:
                self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                              nn.BatchNorm2d(c_out))

        def forward(self, x):
            out = self.branch(x)
            if relu_first:
                return torch.relu(out) + self.shortcut(x)
            return torch.relu(out + self.shortcut(x) if self.add else out)

    return Block


class ResidualByHand(nn.Module):
    """Layers as attributes, the projection only when needed, ReLU modules: another style."""

    def __init__(self, c_in, c_out, stride=1, shortcut=True):
        super().__init__()
        self.conv2 = nn.Conv2d(c_out, c_out, kernel_size=(3, 3), padding=(1, 1), bias=False)
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(c_out), nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.use_shortcut = shortcut
        self.project = shortcut and (stride != 1 or c_in != c_out)
        if self.project:
            self.proj_conv = nn.Conv2d(c_in, c_out, 1, stride, bias=False)
            self.proj_bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        if self.use_shortcut:
            y = y + (self.proj_bn(self.proj_conv(x)) if self.project else x)
        return self.relu(y)


@pytest.mark.parametrize("answer", [residual_class(), ResidualByHand])
def test_residual_block_accepts(answer):
    assert check("12.residual_block", answer)


@pytest.mark.parametrize("answer,hint", [
    (residual_class(relu_first=True), "after the addition"),
    (residual_class(always_project=True), "the input itself, without a projection"),
    (residual_class(never_project=True), "the shortcut is a projection"),
    (residual_class(stride_in_second=True), "has the block's stride; yours has it in the second"),
    (residual_class(bias=True), "bias=False"),
    (residual_class(add_without_shortcut=True), "shortcut=False the block returns relu\\(branch\\(x\\)\\)"),
    (residual_class(middle_relu=False), "ReLU between the two conv-BN layers"),
])
def test_residual_block_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("12.residual_block", answer)


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
