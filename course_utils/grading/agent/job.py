"""What the grader tells the sandbox (grading, book/grading.md): how to start the kernel, then
the notebook and how to run it, each as one JSON line; and :func:`cap`, which bounds every text
that crosses the boundary. ``from_dict`` validates what it reads: a message is data, never
trusted code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

MESSAGE_LIMIT = 1000  # characters kept of any message


def cap(text, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` as a string of at most ``limit`` characters, without NULs."""
    text = str(text).replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def from_mapping(cls, data: dict):
    """An instance of the dataclass ``cls`` from a mapping; unknown keys are dropped."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected a mapping")
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class KernelSetup:
    """What the sandbox is told first, before any notebook (one JSON line): how to start the
    kernel. A batch starts sandboxes ahead of their notebooks with it."""

    profile: str
    limits: dict = field(default_factory=dict)  # resource name -> soft and hard limit
    memory_mb: float = 4096.0
    in_sandbox: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> KernelSetup:
        setup = from_mapping(cls, data)
        if not isinstance(setup.profile, str) or not isinstance(setup.limits, dict):
            raise ValueError("KernelSetup: bad profile or limits")
        return setup


@dataclass(frozen=True)
class KernelJob:
    """What the sandbox is told next: the notebook and how long its cells may run (one JSON line)."""

    name: str
    text: str
    cell_timeout: float
    total_timeout: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> KernelJob:
        job = from_mapping(cls, data)
        if not isinstance(job.name, str) or not isinstance(job.text, str) or "/" in job.name:
            raise ValueError("KernelJob: bad name or text")
        return job
