"""Finding and reading submissions (course_utils.grading.batch): nothing is dropped in silence,
nothing that is not the learner's own file is read."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from course_utils import grading
from course_utils.grading import batch
from course_utils.grading.bubblewrap import bwrap_problem
from tests.conftest import ROOT

SECRET = "instructor-only: the answer key is 42"


def _class(tmp_path):
    """A submissions folder with one entry of every kind (those that need root only as root)."""
    subs = tmp_path / "subs"
    (subs / "ann").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "00-perceptron.ipynb", subs / "ann" / "00-perceptron.ipynb")
    (subs / "ann" / "notes.txt").write_text("my notes")
    (subs / "ann" / ".ipynb_checkpoints").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(ROOT / "solutions" / "00-perceptron.ipynb", elsewhere / "00-perceptron.ipynb")
    (subs / "bob").symlink_to(elsewhere)  # a learner folder that is a link
    (subs / "cy").mkdir()
    (subs / "cy" / "00-perceptron.ipynb").symlink_to(elsewhere / "00-perceptron.ipynb")
    (subs / "dee").mkdir()
    os.mkfifo(subs / "dee" / "00-perceptron.ipynb")  # a pipe named like a notebook
    os.mkfifo(subs / "pipe")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(subs / "sock.ipynb"))
    key = tmp_path / "answer-key.ipynb"
    key.write_text(SECRET)
    (subs / "eve").mkdir()
    os.link(key, subs / "eve" / "00-perceptron.ipynb")  # a hard link to the instructor's file
    if os.geteuid() == 0:
        os.mknod(subs / "dev.ipynb", 0o600 | 0o020000, os.makedev(1, 3))  # a character device
        (subs / "fay").mkdir()
        (subs / "fay" / "00-perceptron.ipynb").write_text(SECRET)
        os.chown(subs / "fay" / "00-perceptron.ipynb", 12345, 12345)  # another user's file
    return subs, listener


def test_every_entry_gets_a_row_or_a_named_warning(tmp_path):
    subs, listener = _class(tmp_path)
    try:
        found = batch.find_submissions([subs])
    finally:
        listener.close()
    jobs = [batch.make_job(path) for path in found.notebooks] + found.refused
    rows = {job.learner: job.problem for job in jobs}
    skipped = {os.path.relpath(e["path"], subs): e["why"] for e in found.skipped}
    assert rows["ann"] == ""
    assert "symbolic link" in rows["bob"] and "symbolic link" in rows["cy"]
    assert "named pipe" in rows["dee"] and "socket" in rows["sock"]
    assert "hard links" in rows["eve"] and "not read" in rows["eve"]
    assert skipped == {"ann/.ipynb_checkpoints": "a folder of Jupyter's automatic checkpoints, not a submission",
                       "ann/notes.txt": "not a notebook (.ipynb)", "pipe": "a named pipe (FIFO)"}
    if os.geteuid() == 0:
        assert "character device" in rows["dev"] and "another user" in rows["fay"]
    every = {os.path.relpath(j.notebook, subs) for j in jobs} | set(skipped)
    on_disk = {os.path.relpath(os.path.join(d, n), subs) for d, dirs, files in os.walk(subs)
               for n in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]}
    assert on_disk - {"ann/.ipynb_checkpoints"} <= every | {"bob"}, on_disk - every
    assert "bob" in {j.learner for j in jobs}, "the linked folder is its learner's row"
    assert not any(SECRET in job.problem for job in jobs)


def test_unreadable_files_are_named_not_dropped(tmp_path, monkeypatch):
    (tmp_path / "gus").mkdir()
    path = tmp_path / "gus" / "00-perceptron.ipynb"
    path.write_text("{}")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads a file of mode 0: the refusal a grader of another user meets
        real_open = os.open

        def refusing_open(name, *args, **kwargs):
            if Path(name) == path:
                raise PermissionError(errno.EACCES, "Permission denied", str(name))
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr(batch.os, "open", refusing_open)
    job = batch.make_job(path)
    assert "could not read" in job.problem and job.learner == "gus"


def test_a_notebook_that_is_not_json_is_named_without_quoting_it(tmp_path):
    path = tmp_path / "hal.ipynb"
    path.write_text('{"cells": [ ' + SECRET)
    job = batch.make_job(path)
    assert "not a readable notebook" in job.problem and SECRET not in job.problem and "42" not in job.problem


@pytest.mark.slow
@pytest.mark.skipif(bool(bwrap_problem()), reason="no sandbox here")
def test_refused_entries_are_in_the_report_the_gradebook_and_the_feedback_unquoted(tmp_path, capsys):
    subs, listener = _class(tmp_path)
    try:
        report = grading.grade([subs], tmp_path / "out" / "r", progress=False, reference=False)
        grading.print_summary(report, grading.OutputPaths.from_out(tmp_path / "out" / "r"))
    finally:
        listener.close()
    learners = {s["learner"]: s for s in report["submissions"]}
    assert all(r["status"] == "pass" for r in learners["ann"]["results"])
    for learner in ("bob", "cy", "dee", "eve"):
        assert {r["status"] for r in learners[learner]["results"]} == {"error"}, learner
    gradebook = (tmp_path / "out" / "r-gradebook.csv").read_text()
    assert all(f"\n{learner}," in gradebook for learner in ("bob", "cy", "dee", "eve"))
    everything = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert SECRET not in everything and "answer key" not in everything
    assert "not graded: " in capsys.readouterr().err
    assert json.loads((tmp_path / "out" / "r.json").read_text())["skipped"]
