"""Data for the course: seeded synthetic generators and offline-first dataset loaders.

Generators take ``n`` and ``seed`` (then keyword-only settings) and return ``(X, y)`` like
scikit-learn's ``make_*``; ``make_glyphs`` takes ``n_per_class`` (every class gets as many
images); ``make_oscillator_series`` and ``make_van_der_pol_series`` return a time series
``(t, x)``.
Loaders take keyword-only sizes and a seed, return an
:class:`~course_utils.data.datasets.ImageDataset` and say which source they used.
"""

from course_utils.data.datasets import (
    DIGIT_CLASSES,
    FASHION_CLASSES,
    DatasetUnavailable,
    ImageDataset,
    fashion_classes,
    load_fashion_mnist,
    load_mnist,
)
from course_utils.data.fluids import make_bingham_family, make_herschel_bulkley_family
from course_utils.data.glyphs import make_glyphs
from course_utils.data.synthetic import (
    LOGIC_GATES,
    logic_gate,
    make_bingham,
    make_circles,
    make_cubic,
    make_herschel_bulkley,
    make_linear_regression,
    make_linearly_separable,
    make_noisy_regression,
    make_oscillator_series,
    make_van_der_pol_series,
    make_xor,
)

__all__ = [
    "DIGIT_CLASSES",
    "FASHION_CLASSES",
    "LOGIC_GATES",
    "DatasetUnavailable",
    "ImageDataset",
    "fashion_classes",
    "load_fashion_mnist",
    "load_mnist",
    "logic_gate",
    "make_bingham",
    "make_bingham_family",
    "make_circles",
    "make_cubic",
    "make_glyphs",
    "make_herschel_bulkley",
    "make_herschel_bulkley_family",
    "make_linear_regression",
    "make_linearly_separable",
    "make_noisy_regression",
    "make_oscillator_series",
    "make_van_der_pol_series",
    "make_xor",
]
