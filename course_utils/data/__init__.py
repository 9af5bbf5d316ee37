"""Data for the course: seeded synthetic generators and offline-first dataset loaders.

Generators take ``n`` and ``seed`` and return ``(X, y)`` like scikit-learn's ``make_*``.
Loaders return an :class:`~course_utils.data.datasets.ImageDataset` and say which source they used.
"""

from course_utils.data.datasets import (
    DatasetUnavailable,
    ImageDataset,
    load_fashion_mnist,
    load_mnist,
)
from course_utils.data.synthetic import (
    logic_gate,
    make_bingham,
    make_circles,
    make_cubic,
    make_herschel_bulkley,
    make_linearly_separable,
    make_noisy_regression,
    make_oscillator,
    make_xor,
)

__all__ = [
    "DatasetUnavailable",
    "ImageDataset",
    "load_fashion_mnist",
    "load_mnist",
    "logic_gate",
    "make_bingham",
    "make_circles",
    "make_cubic",
    "make_herschel_bulkley",
    "make_linearly_separable",
    "make_noisy_regression",
    "make_oscillator",
    "make_xor",
]
