"""The grader's agent inside the sandbox (grading, book/grading.md): the only part of the grader
mounted there. :mod:`.driver` runs the notebook in its kernel and answers the grader;
:mod:`.answers` is the grader's helper inside the learner's kernel; :mod:`.wire` carries
plain data across the boundary and :mod:`.job` says what the sandbox is given.
"""
