"""Families of yield-stress fluids whose material parameters are inputs (chapter 03).

Each sample is one measurement of one fluid: the shear rate and the fluid's parameters are
drawn at random, and the target is the shear stress. ``make_bingham`` and
``make_herschel_bulkley`` in :mod:`course_utils.data.synthetic` give one fluid at a time.
"""

from __future__ import annotations

import numpy as np


def make_bingham_family(n: int = 1000, seed: int = 0, *, max_rate: float = 10.0,
                        max_yield_stress: float = 10.0, max_viscosity: float = 5.0):
    """Inputs ``X`` (n, 3) = (shear rate, yield stress, viscosity) drawn uniformly, target
    ``y`` (n,) = yield stress + viscosity * rate (chapter 03)."""
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.0, max_rate, n)
    yield_stress = rng.uniform(0.0, max_yield_stress, n)
    viscosity = rng.uniform(0.0, max_viscosity, n)
    return np.c_[rate, yield_stress, viscosity], yield_stress + viscosity * rate


def make_herschel_bulkley_family(n: int = 1000, seed: int = 0, *, max_rate: float = 10.0,
                                 max_yield_stress: float = 5.0, max_consistency: float = 2.0,
                                 flow_index_range=(0.5, 1.0)):
    """Inputs ``X`` (n, 4) = (shear rate, yield stress, consistency k, flow index n) drawn
    uniformly, target ``y`` (n,) = yield stress + k * rate**n (chapter 03)."""
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.0, max_rate, n)
    yield_stress = rng.uniform(0.0, max_yield_stress, n)
    consistency = rng.uniform(0.0, max_consistency, n)
    flow_index = rng.uniform(*flow_index_range, n)
    return np.c_[rate, yield_stress, consistency, flow_index], yield_stress + consistency * rate**flow_index
