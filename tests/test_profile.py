import subprocess
import sys

import pytest

from course_utils.profile import Profile, get_profile


def test_default_is_full(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert get_profile().name == "full"


@pytest.mark.parametrize("name", ["smoke", "full", "gpu", " GPU "])
def test_reads_environment(monkeypatch, name):
    monkeypatch.setenv("COURSE_PROFILE", name)
    assert get_profile().name == name.strip().lower()


def test_unknown_profile_lists_valid_ones(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "huge")
    with pytest.raises(ValueError, match="smoke, full, gpu"):
        get_profile()


def test_choose_falls_back_to_full_for_gpu():
    assert Profile("smoke").choose(smoke=1, full=2) == 1
    assert Profile("full").choose(smoke=1, full=2) == 2
    assert Profile("gpu").choose(smoke=1, full=2) == 2
    assert Profile("gpu").choose(smoke=1, full=2, gpu=3) == 3


def test_import_loads_no_framework():
    code = ("import sys, course_utils, course_utils.checks, course_utils.data, course_utils.plotting, "
            "course_utils.links, course_utils.authoring.exercises, course_utils.metrics; "
            "print('torch' in sys.modules, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_the_graders_sandbox_agent_loads_no_numpy():
    """The agent starts once per graded notebook: NumPy (a tenth of a CPU-second) waits for the
    kernel that needs it."""
    code = "import sys, course_utils.grading.agent.driver; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]
