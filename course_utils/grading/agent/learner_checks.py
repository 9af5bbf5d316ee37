"""``course_utils.checks`` as the sandbox's learner view has it (grading, book/grading.md): the
check API without any chapter's checks, which the grader runs outside. A notebook's check
cells then only say so; the grader's view copies this module to ``checks/__init__.py``."""

from course_utils.checks.core import *  # noqa: F403 - the API a notebook may import


def check(exercise_id, answer):
    """While grading, the grader checks the answers itself: this only says so."""
    print(f"{exercise_id}: checked by the grader")
    return True
