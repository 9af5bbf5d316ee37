"""Seeded synthetic data sets. Each generator takes ``n`` and ``seed``, then keyword-only
settings, and returns ``(X, y)``; ``make_oscillator_series`` and ``make_van_der_pol_series`` return
a time series ``(t, x)``."""

from __future__ import annotations

import numpy as np

LOGIC_GATES = {
    "AND": [0, 0, 0, 1],
    "OR": [0, 1, 1, 1],
    "NAND": [1, 1, 1, 0],
    "NOR": [1, 0, 0, 0],
    "XOR": [0, 1, 1, 0],
}


def logic_gate(name: str):
    """Truth table of a two-input gate as ``(X, y)``, X of shape (4, 2) (chapter 00)."""
    key = name.upper()
    if key not in LOGIC_GATES:
        raise ValueError(f"unknown gate {name!r}; choose one of {', '.join(LOGIC_GATES)}")
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    return X, np.array(LOGIC_GATES[key], dtype=int)


def make_linearly_separable(n: int = 100, seed: int = 0, *, margin: float = 0.5, w=(1.0, -1.0), b=0.0):
    """Two classes in 2-D on either side of the line ``w.x + b = 0``, at least ``margin`` away.

    Labels are 0/1 (chapter 00).
    """
    rng = np.random.default_rng(seed)
    w = np.asarray(w, dtype=float)
    unit = w / np.linalg.norm(w)
    X = np.empty((0, 2))
    while len(X) < n:
        cand = rng.uniform(-3, 3, size=(2 * n, 2))
        dist = (cand @ w + b) / np.linalg.norm(w)
        X = np.vstack([X, cand[np.abs(dist) >= margin]])
    X = X[:n]
    y = (X @ w + b > 0).astype(int)
    assert np.all(np.abs((X @ unit) + b / np.linalg.norm(w)) >= margin - 1e-12)
    return X, y


def make_xor(n: int = 200, seed: int = 0, *, noise: float = 0.15):
    """Noisy XOR: four clusters around the corners of the unit square (chapters 00 and 04)."""
    rng = np.random.default_rng(seed)
    corners, labels = logic_gate("XOR")
    idx = rng.integers(0, 4, size=n)
    X = corners[idx] + noise * rng.standard_normal((n, 2))
    return X, labels[idx]


def make_circles(n: int = 200, seed: int = 0, *, noise: float = 0.1, factor: float = 0.5):
    """Two concentric rings, not linearly separable; inner ring is class 1 (chapter 04)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    radius = np.where(y == 1, factor, 1.0)
    angle = rng.uniform(0, 2 * np.pi, size=n)
    X = np.c_[radius * np.cos(angle), radius * np.sin(angle)]
    return X + noise * rng.standard_normal((n, 2)), y


def make_bingham(n: int = 100, seed: int = 0, *, yield_stress: float = 5.0, viscosity: float = 2.0,
                 noise: float = 0.5, max_rate: float = 10.0):
    """Shear rate ``X`` (n, 1) and stress ``y`` (n,) of a Bingham fluid,
    ``tau = yield_stress + viscosity * rate``, with Gaussian noise (chapter 03)."""
    rng = np.random.default_rng(seed)
    rate = np.sort(rng.uniform(0.0, max_rate, size=n))
    stress = yield_stress + viscosity * rate + noise * rng.standard_normal(n)
    return rate[:, None], stress


def make_herschel_bulkley(n: int = 200, seed: int = 0, *, yield_stress: float = 5.0,
                          consistency: float = 2.0, flow_index: float = 0.5,
                          noise: float = 0.3, max_rate: float = 10.0):
    """Shear rate ``X`` (n, 1) and stress ``y`` (n,) of a Herschel-Bulkley fluid,
    ``tau = yield_stress + consistency * rate**flow_index``, with noise (chapter 03)."""
    rng = np.random.default_rng(seed)
    rate = np.sort(rng.uniform(0.0, max_rate, size=n))
    stress = yield_stress + consistency * rate**flow_index + noise * rng.standard_normal(n)
    return rate[:, None], stress


def make_cubic(n: int = 200, seed: int = 0, *, noise: float = 0.0, low: float = -1.5, high: float = 1.5):
    """Samples of ``x**3 + 0.1 x**2 - x + 0.1`` on [low, high] (chapter 04)."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(low, high, size=n))
    y = x**3 + 0.1 * x**2 - x + 0.1 + noise * rng.standard_normal(n)
    return x[:, None], y


def make_noisy_regression(n: int = 10, seed: int = 0, *, noise: float = 0.3):
    """A small noisy 1-D regression set, ``y = sin(2 pi x) + noise`` on [0, 1]; easy to overfit
    (chapters 03 and 10)."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 1.0, size=n))
    y = np.sin(2 * np.pi * x) + noise * rng.standard_normal(n)
    return x[:, None], y


def make_oscillator_series(n: int = 1000, seed: int = 0, *, dt: float = 0.05, damping: float = 0.1,
                           omega: float = 1.0, drive: float = 0.5, drive_freq: float = 0.7,
                           noise: float = 0.0):
    """A damped, driven harmonic oscillator ``x'' + 2 damping x' + omega^2 x = drive cos(drive_freq t)``
    integrated with a fourth-order Runge-Kutta step; returns times ``t`` (n,) and positions
    ``x`` (n,), the starting state drawn from ``seed`` (chapter 13)."""
    rng = np.random.default_rng(seed)
    state = rng.uniform(-1, 1, size=2)

    def deriv(t, s):
        pos, vel = s
        return np.array([vel, drive * np.cos(drive_freq * t) - 2 * damping * vel - omega**2 * pos])

    t = np.arange(n) * dt
    xs = np.empty(n)
    for i, ti in enumerate(t):
        xs[i] = state[0]
        k1 = deriv(ti, state)
        k2 = deriv(ti + dt / 2, state + dt / 2 * k1)
        k3 = deriv(ti + dt / 2, state + dt / 2 * k2)
        k4 = deriv(ti + dt, state + dt * k3)
        state = state + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return t, xs + noise * rng.standard_normal(n)


def make_van_der_pol_series(n: int = 2000, seed: int = 0, *, dt: float = 0.1, mu: float = 2.0,
                            noise: float = 0.0):
    """The Van der Pol oscillator ``x'' - mu (1 - x^2) x' + x = 0``, a nonlinear oscillator with a
    stable limit cycle, integrated with a fourth-order Runge-Kutta step; returns times ``t`` (n,)
    and positions ``x`` (n,), the starting state drawn from ``seed`` (chapter 13)."""
    rng = np.random.default_rng(seed)
    state = rng.uniform(-2, 2, size=2)

    def deriv(s):
        pos, vel = s
        return np.array([vel, mu * (1 - pos**2) * vel - pos])

    xs = np.empty(n)
    for i in range(n):
        xs[i] = state[0]
        k1 = deriv(state)
        k2 = deriv(state + dt / 2 * k1)
        k3 = deriv(state + dt / 2 * k2)
        k4 = deriv(state + dt * k3)
        state = state + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.arange(n) * dt, xs + noise * rng.standard_normal(n)


def make_linear_regression(n: int = 100, seed: int = 0, *, w=(2.0,), b: float = 1.0, noise: float = 0.5,
                           low: float = -1.0, high: float = 1.0):
    """Inputs ``X`` (n, d) uniform on [low, high] and targets ``y = X @ w + b + noise`` (n,),
    with ``d = len(w)`` (chapter 02)."""
    rng = np.random.default_rng(seed)
    w = np.atleast_1d(np.asarray(w, dtype=float))
    X = rng.uniform(low, high, size=(n, w.size))
    return X, X @ w + b + noise * rng.standard_normal(n)
