"""The run profile, read from the ``COURSE_PROFILE`` environment variable (every chapter).

- ``smoke``: what tests and CI use; every notebook runs in seconds, same code paths.
- ``full`` (default): a laptop CPU or free Colab; minutes at most a chapter.
- ``gpu``: full-size data and training for the framework chapters on an accelerator.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # NumPy is imported where it is used: the grader's sandbox agent imports this module
    import numpy as np

PROFILES = ("smoke", "full", "gpu")
ENV_VAR = "COURSE_PROFILE"


@dataclass(frozen=True)
class Profile:
    """A named run profile; ``choose`` picks a size or epoch count for it."""

    name: str

    @property
    def is_smoke(self) -> bool:
        return self.name == "smoke"

    def choose(self, *, smoke, full, gpu=None):
        """Return the value for this profile; ``gpu`` defaults to ``full``."""
        return {"smoke": smoke, "full": full, "gpu": full if gpu is None else gpu}[self.name]

    def torch_device(self):
        """The ``torch.device`` to train on: CUDA when present, else CPU (with a note in gpu)."""
        from course_utils.frameworks import require_framework

        torch = require_framework("torch")

        if torch.cuda.is_available():
            return torch.device("cuda")
        if self.name == "gpu":
            print("Profile 'gpu' but no CUDA device is visible: running on the CPU.")
        return torch.device("cpu")

    def device_name(self) -> str:
        """A human-readable name of the accelerator in use, or ``"CPU"``."""
        from course_utils.frameworks import FrameworkMissing, require_framework

        try:
            torch = require_framework("torch")
        except FrameworkMissing:
            return "CPU"
        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
        return "CPU"

    def __str__(self) -> str:
        return self.name


def get_profile() -> Profile:
    """Read ``COURSE_PROFILE`` (default ``full``); an unknown name is an error that lists the valid ones."""
    name = os.environ.get(ENV_VAR, "full").strip().lower() or "full"
    if name not in PROFILES:
        raise ValueError(f"{ENV_VAR}={name!r} is not a profile; choose one of {', '.join(PROFILES)}.")
    return Profile(name)


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python, NumPy and (when already imported) PyTorch and Keras; return a NumPy Generator."""
    import sys

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)
    return np.random.default_rng(seed)
