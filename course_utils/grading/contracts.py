"""What crosses a process boundary in grading (book/grading.md), as dataclasses.

``Options`` and ``Job`` go from the batch to a grading process (a thread here or a Dask
worker elsewhere); ``KernelSetup`` and ``KernelJob`` (:mod:`.agent.job`) go from the grading
process into the sandbox, as JSON; ``ExerciseResult`` and ``NotebookResult`` come back.
``from_dict`` validates what it reads: a result read from disk or a message from the sandbox is
data, never trusted code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from course_utils.grading.agent.job import cap, from_mapping

STATUSES = ("pass", "fail", "error")
NOTE_LIMIT = 300  # characters kept of one note
NOTES_LIMIT = 20  # notes kept per notebook


@dataclass(frozen=True)
class Options:
    """How every notebook of a batch is graded (the command's options)."""

    cell_timeout: float = 120.0
    total_timeout: float = 600.0
    check_timeout: float = 60.0
    memory_mb: float = 4096.0
    profile: str = "smoke"
    sandbox: str = "bwrap"  # "bwrap", or "none" when the instructor allowed unsandboxed grading
    processes: int = 256  # processes and threads one notebook may run at once
    file_mb: float = 256.0  # largest file a notebook may write
    disk_mb: float = 1024.0  # all the files a notebook may write (its private temporary folder)
    reference: bool = True  # grade each chapter's solution first: its times set the budgets

    def validate(self) -> Options:
        for key in ("cell_timeout", "total_timeout", "check_timeout", "memory_mb", "file_mb", "disk_mb"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{key} must be positive")
        if self.sandbox not in ("bwrap", "none"):
            raise ValueError("sandbox must be 'bwrap' or 'none'")
        if not isinstance(self.processes, int) or self.processes < 16:
            raise ValueError("processes must be an integer of at least 16")
        return self


@dataclass(frozen=True)
class Job:
    """One submitted notebook, read into memory before any notebook runs."""

    learner: str
    notebook: str
    chapter: str
    text: str = ""
    problem: str = ""  # set when the notebook cannot be graded at all
    exercises: tuple = ()
    digest: str = ""  # sha256 of the notebook's bytes
    budget: dict = field(default_factory=dict)  # from the reference: cells, judging (s), exercises {id: s}


@dataclass
class ExerciseResult:
    """The verdict on one exercise. ``judged`` is ``grader`` (every verdict is reached in the
    grader's process); ``slow`` says how much longer than the reference's its judging took."""

    exercise: str
    status: str = "error"
    message: str = "not graded"
    seconds: float = 0.0
    judged: str = "grader"
    slow: str = ""  # set when judging took far longer than the reference solution's

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"bad status {self.status!r}")
        self.exercise = cap(self.exercise, 100)
        self.message = cap(self.message)
        self.slow = cap(self.slow, 200)
        self.seconds = round(float(self.seconds), 3)

    @classmethod
    def from_dict(cls, data: dict) -> ExerciseResult:
        return from_mapping(cls, data)


@dataclass
class NotebookResult:
    """Everything known about one graded notebook."""

    learner: str
    notebook: str
    chapter: str
    status: str = "graded"  # or "error" when nothing could be graded
    results: list = field(default_factory=list)  # ExerciseResult
    notes: list = field(default_factory=list)
    cells: dict = field(default_factory=dict)
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    sandbox: str = ""
    digest: str = ""
    budget: dict = field(default_factory=dict)  # the time limits it was graded with (seconds)

    def note(self, text: str) -> None:
        if len(self.notes) < NOTES_LIMIT:
            self.notes.append(cap(text, NOTE_LIMIT))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["results"] = [asdict(r) if not isinstance(r, dict) else r for r in self.results]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> NotebookResult:
        result = from_mapping(cls, data)
        result.results = [ExerciseResult.from_dict(r) for r in result.results]
        result.notes = [cap(n, NOTE_LIMIT) for n in list(result.notes)[:NOTES_LIMIT]]
        return result

    @property
    def passed(self) -> int:
        return sum(r.status == "pass" for r in self.results)
