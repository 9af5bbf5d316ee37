"""Figures used across chapters (course_utils.plotting): every helper takes ``ax=None`` and
returns the axes it drew on."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import plotting  # noqa: E402

X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
Y = np.array([0, 1, 1, 1])
DRAWINGS = {
    "plot_activation": lambda ax: plotting.plot_activation(np.tanh, lambda z: 1 - np.tanh(z) ** 2, ax=ax),
    "plot_decision_boundary": lambda ax: plotting.plot_decision_boundary(
        lambda P: (P.sum(axis=1) > 0.5).astype(int), X, Y, ax=ax, resolution=20),
    "plot_line": lambda ax: plotting.plot_line(np.array([1.0, 1.0]), -0.5, ax=ax),
    "plot_loss_curve": lambda ax: plotting.plot_loss_curve([1.0, 0.5, 0.25], ax=ax),
    "show_images": lambda ax: plotting.show_images(np.zeros((3, 28, 28), np.uint8), [0, 1, 2], n=3, ax=ax),
}


@pytest.mark.parametrize("name", DRAWINGS)
def test_each_helper_draws_on_the_axes_given_or_new_ones(name):
    fig, ax = plt.subplots()
    try:
        assert DRAWINGS[name](ax) is ax
    finally:
        plt.close(fig)
    drawn = DRAWINGS[name](None)
    try:
        assert drawn is not None
    finally:
        plt.close("all")
