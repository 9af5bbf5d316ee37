"""Rendered glyphs (course_utils.data.glyphs): MNIST's layout, seeded draws, and classes that
no digit belongs to."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from course_utils.data import glyphs, make_glyphs


def test_shapes_types_and_balanced_labels():
    X, y = make_glyphs(3, 0, n_classes=20)
    assert X.shape == (60, 28, 28) and X.dtype == np.uint8
    assert y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), np.full(20, 3))
    assert not np.array_equal(y, np.sort(y)), "the images come shuffled"


def test_seeded():
    a, ya = make_glyphs(2, 5, n_classes=30)
    b, yb = make_glyphs(2, 5, n_classes=30)
    c, _ = make_glyphs(2, 6, n_classes=30)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)


def test_laid_out_like_mnist():
    X, _ = make_glyphs(4, 1, n_classes=100)
    ink = X.astype(float)
    mass = ink.sum(axis=(1, 2))
    assert mass.min() > 0, "every image has ink"
    index = np.arange(28)
    rows = (ink.sum(axis=2) * index).sum(axis=1) / mass
    cols = (ink.sum(axis=1) * index).sum(axis=1) / mass
    # centre of mass at the centre; MNIST's digits sit within a pixel of it too
    assert np.abs(rows - 13.5).max() < 1.0 and np.abs(cols - 13.5).max() < 1.0
    # the larger side of the ink is about 20 pixels, as MNIST's digits' bounding box
    extent = [max(np.ptp(np.flatnonzero(im.any(axis=1))), np.ptp(np.flatnonzero(im.any(axis=0))))
              for im in X > 64]
    assert 14 <= np.median(extent) <= 22 and max(extent) <= 27
    assert X.max() == 255 and np.median(X[:, :2, :]) == 0  # white ink, black margin


def test_random_transforms_make_every_image_different():
    X, y = make_glyphs(6, 2, classes="AЖΨ")
    for c in range(3):
        same = X[y == c].reshape(6, -1).astype(float)
        assert len({row.tobytes() for row in same}) == 6
        # ... yet images of one class look more alike than images of different classes
    within = np.mean([np.corrcoef(X[y == c].reshape(6, -1)).mean() for c in range(3)])
    between = np.corrcoef(X[y == 0].reshape(6, -1), X[y == 1].reshape(6, -1))[:6, 6:].mean()
    assert within > between


def test_classes_exclude_digits_and_look_alikes():
    classes = glyphs.glyph_classes()
    assert len(classes) >= 1000
    assert len(set(classes)) == len(classes)
    assert not any(glyphs._lookalike_letter(c) for c in classes)
    assert not set(classes) & set(glyphs.DIGIT_LOOKALIKE_SYMBOLS)
    # the rule by name takes every twin of a look-alike letter, and keeps other letters
    assert all(glyphs._lookalike_letter(c) for c in "OøʐẔǵɓЗэΘδΙӏ")
    assert not any(glyphs._lookalike_letter(c) for c in "AЖΨЯKΩ")
    assert not set(classes) & set("0123456789")
    assert all(unicodedata.numeric(c, None) is None for c in classes)
    assert all(unicodedata.category(c)[0] in "LS" for c in classes)
    # the first hundred classes already span several scripts and symbol blocks
    assert len({glyphs.block_of(c) for c in classes[:100]}) >= 6


def test_no_class_is_drawn_like_a_digit():
    """The rule in the docstring, measured: plain renderings of the classes correlate at most
    DIGIT_SIMILARITY with the digits' in DejaVu Sans."""
    classes = glyphs.glyph_classes()[:300]
    drawn, _ = glyphs._canonical(classes, "DejaVuSans.ttf")
    digits, _ = glyphs._canonical("0123456789", "DejaVuSans.ttf")
    assert glyphs._correlations(drawn, digits).max() <= glyphs.DIGIT_SIMILARITY
    letters, _ = glyphs._canonical("OlZS", "DejaVuSans.ttf")  # look-alikes the filter sees
    assert glyphs._correlations(letters, digits).max(axis=1).min() > 0.5


def test_chosen_classes_and_bad_arguments():
    X, y = make_glyphs(2, 0, classes="AЖ→")
    assert X.shape == (6, 28, 28) and set(y) == {0, 1, 2}
    with pytest.raises(ValueError, match="not glyph classes"):
        make_glyphs(2, 0, classes="A7")
    with pytest.raises(ValueError, match="not both"):
        make_glyphs(2, 0, n_classes=3, classes="AЖ→")
    with pytest.raises(ValueError, match="twice"):
        make_glyphs(2, 0, classes="AA")
    with pytest.raises(ValueError, match="n_classes"):
        make_glyphs(2, 0, n_classes=10**6)
    with pytest.raises(ValueError, match="n_per_class"):
        make_glyphs(0, 0, n_classes=3)
    with pytest.raises(ValueError, match="size"):
        make_glyphs(1, 0, n_classes=3, size=(20.0, 30.0))
