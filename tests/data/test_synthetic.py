"""Seeded synthetic data (course_utils.data.synthetic)."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.data import synthetic


def test_logic_gates():
    X, y = synthetic.logic_gate("and")
    assert X.shape == (4, 2) and y.tolist() == [0, 0, 0, 1]
    assert synthetic.logic_gate("XOR")[1].tolist() == [0, 1, 1, 0]
    with pytest.raises(ValueError, match="unknown gate"):
        synthetic.logic_gate("maybe")


def test_linearly_separable_is_separable_with_margin_and_seeded():
    X, y = synthetic.make_linearly_separable(n=150, seed=4, margin=0.4, w=(2.0, 1.0), b=-0.5)
    assert X.shape == (150, 2) and set(np.unique(y)) == {0, 1}
    z = (X @ np.array([2.0, 1.0]) - 0.5) / np.sqrt(5)
    assert np.all((z > 0) == (y == 1)) and np.all(np.abs(z) >= 0.4)
    X2, y2 = synthetic.make_linearly_separable(n=150, seed=4, margin=0.4, w=(2.0, 1.0), b=-0.5)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(X, synthetic.make_linearly_separable(n=150, seed=5)[0])


def test_bingham_follows_the_law():
    X, y = synthetic.make_bingham(n=2000, seed=1, noise=0.1)
    slope, intercept = np.polyfit(X[:, 0], y, 1)
    assert abs(slope - 2.0) < 0.02 and abs(intercept - 5.0) < 0.05


def test_herschel_bulkley_and_others_shapes():
    X, y = synthetic.make_herschel_bulkley(n=50, seed=0, noise=0.0)
    assert np.allclose(y, 5 + 2 * np.sqrt(X[:, 0]))
    assert synthetic.make_xor(n=30)[0].shape == (30, 2)
    assert synthetic.make_circles(n=30)[0].shape == (30, 2)
    x, y = synthetic.make_cubic(n=20, noise=0.0)
    assert np.allclose(y, x[:, 0] ** 3 + 0.1 * x[:, 0] ** 2 - x[:, 0] + 0.1)
    assert synthetic.make_noisy_regression(n=10)[0].shape == (10, 1)
    t, pos = synthetic.make_oscillator_series(n=200, seed=0, damping=0.0, drive=0.0, omega=1.0)
    energy = pos[:-1] ** 2 + (np.diff(pos) / (t[1] - t[0])) ** 2
    assert np.ptp(energy[:50]) < 0.2 * energy.mean()


def test_van_der_pol_settles_on_its_limit_cycle():
    """Whatever the start, the oscillation settles to an amplitude of about 2 (mu = 2); the
    noise is seeded; the series is nonlinear (the waveform is not a sinusoid)."""
    tails = []
    for seed in (0, 1):
        t, x = synthetic.make_van_der_pol_series(n=1500, seed=seed, dt=0.1, mu=2.0)
        assert t.shape == x.shape == (1500,) and np.isclose(t[1] - t[0], 0.1)
        tails.append(x[-800:])
        assert abs(np.max(np.abs(x[-800:])) - 2.0) < 0.1
    assert not np.allclose(tails[0], tails[1])  # another start, another phase
    noisy = synthetic.make_van_der_pol_series(n=100, seed=3, noise=0.1)[1]
    assert np.array_equal(noisy, synthetic.make_van_der_pol_series(n=100, seed=3, noise=0.1)[1])
    # a relaxation oscillation: the position spends most of its time near the extremes
    assert np.mean(np.abs(tails[0]) > 1.0) > 0.6
