"""Every chapter through the grader's sandbox (smoke profile): every solution notebook passes
every exercise with no error note, every exercise notebook fails every exercise cleanly, and a
notebook that replays the answers recorded with the published seeds fails every exercise (the
grader's secret salts every check)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
import zlib
from types import SimpleNamespace

import nbformat
import pytest

from course_utils import grading
from course_utils.authoring import chapters
from course_utils.checks import checks_for
from course_utils.grading import batch, view
from course_utils.grading.bubblewrap import bwrap_problem
from course_utils.grading.sandbox import AgentLink, Sandbox
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(bwrap_problem()), reason="no sandbox here")]
CHAPTERS = chapters.chapters(ROOT)
#: Exercises whose whole input domain is a handful of values the statement names: a table of
#: their answers passes whatever the salt. Each is a statement to rephrase (a continuous input);
#: the test fails when one of them no longer passes the replay (remove it then).
UNSALTABLE: dict[str, str] = {
}
OPTIONS = {"jobs": 2, "progress": False, "reference": False, "cell_timeout": 300, "total_timeout": 900}


def request_key(request: dict) -> str:
    """A request as the replaying notebook's kernel receives it, without its id and time limit."""
    kept = {k: v for k, v in request.items() if k not in ("id", "timeout")}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


REPLAY = """
import base64, hashlib, json, zlib
import course_utils.grading.agent.answers as answers
TABLE = json.loads(zlib.decompress(base64.b64decode({table!r})))
def reply(self, request):
    kept = {{k: v for k, v in request.items() if k not in ("id", "timeout")}}
    key = hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()
    if key in TABLE:
        return TABLE[key]
    if request.get("op") == "describe":
        return {{"ok": True, "found": False}}
    return {{"ok": False, "error": {{"type": "LookupError", "message": "not in the table", "where": ""}}}}
answers.Answers.reply = reply
"""


def _computed(reply: dict) -> bool:
    """A reply a table may replay: not an answer that is a plain value (nothing computed it)."""
    text = json.dumps(reply.get("value"))
    return any(tag in text for tag in ('"__remote__"', '"__module__"', '"__keras__"'))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Solutions graded with the published seeds (every request and reply recorded, per
    chapter); then exercises and replays graded in one batch, salted as always."""
    folder = tmp_path_factory.mktemp("every_chapter")
    for kind in ("solution", "exercise"):
        (folder / kind).mkdir()
        for chapter in CHAPTERS:
            shutil.copy(ROOT / chapter.path(kind, ".ipynb"), folder / kind / f"{chapter.name}.ipynb")
    tables: dict = {chapter.id: {} for chapter in CHAPTERS}
    request, init = AgentLink.request, Sandbox.__init__
    chapter_of_view = {}

    def recording_init(self, view_path, **kwargs):
        init(self, view_path, **kwargs)
        self.link.chapter = chapter_of_view.get(view_path)

    def recording_request(self, op, timeout, on_callback=None, **fields):
        reply = request(self, op, timeout, on_callback, **fields)
        chapter = getattr(self, "chapter", None)
        if chapter and (op != "describe" or _computed(reply)):
            tables[chapter][request_key({"op": op, **fields})] = reply
        return reply

    for chapter in CHAPTERS:
        chapter_of_view[view.package_view(chapter.id)] = chapter.id
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Sandbox, "__init__", recording_init)
        patch.setattr(AgentLink, "request", recording_request)
        patch.setattr(batch, "secrets", SimpleNamespace(randbits=lambda bits: None,  # the published seeds
                                                        token_hex=secrets.token_hex))
        solutions = grading.grade([folder / "solution"], folder / "out" / "solutions", **OPTIONS)
    (folder / "replay").mkdir()
    for chapter in CHAPTERS:
        table = base64.b64encode(zlib.compress(json.dumps(tables[chapter.id]).encode(), 9)).decode()
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(REPLAY.format(table=table))])
        nbformat.write(nb, folder / "replay" / f"{chapter.name}.ipynb")
    with pytest.MonkeyPatch.context() as patch:  # a table of every answer is larger than a notebook may be
        patch.setattr(batch, "MAX_NOTEBOOK_BYTES", 512 * 2**20)
        others = grading.grade([folder / "exercise", folder / "replay"], folder / "out" / "others", **OPTIONS)
    by_kind = {"solution": solutions["submissions"]}
    for submission in others["submissions"]:
        by_kind.setdefault(submission["learner"], []).append(submission)
    return by_kind, tables


def _by_chapter(submissions):
    return {s["chapter"]: s for s in submissions}


@pytest.mark.parametrize("chapter", [c.id for c in CHAPTERS])
def test_the_solution_passes_every_exercise_with_no_error_note(graded, chapter):
    """The solution notebooks' one run in the suite (nbval runs the lectures): every cell runs,
    without an error or a time-out, and every exercise passes."""
    submission = _by_chapter(graded[0]["solution"])[chapter]
    cells = submission["cells"]
    assert cells["cells"] > 0 and cells["errors"] == cells["timeouts"] == cells["not_run"] == 0, cells
    failed = {r["exercise"]: r["message"] for r in submission["results"] if r["status"] != "pass"}
    assert not failed, failed
    assert {r["exercise"] for r in submission["results"]} == set(checks_for(chapter))
    assert not submission["notes"], submission["notes"]
    assert all(r["judged"] == "grader" for r in submission["results"])


@pytest.mark.parametrize("chapter", [c.id for c in CHAPTERS])
def test_the_exercise_notebook_fails_every_exercise_cleanly(graded, chapter):
    submission = _by_chapter(graded[0]["exercise"])[chapter]
    assert {r["status"] for r in submission["results"]} == {"fail"}, [
        (r["exercise"], r["message"]) for r in submission["results"] if r["status"] != "fail"]
    assert not [n for n in submission["notes"] if "NotImplementedError" not in n], submission["notes"]


@pytest.mark.parametrize("chapter", [c.id for c in CHAPTERS])
def test_answers_replayed_from_the_published_seeds_fail_every_exercise(graded, chapter):
    submission = _by_chapter(graded[0]["replay"])[chapter]
    assert graded[1][chapter], "the solution's requests were recorded"
    passed = {r["exercise"] for r in submission["results"] if r["status"] == "pass"}
    unsaltable = {ex for ex in UNSALTABLE if ex.startswith(chapter + ".")}
    assert passed == unsaltable, f"a table recorded with the published seeds passes {sorted(passed)}: salt their " \
        f"checks (or, once salted, remove them from UNSALTABLE: {sorted(unsaltable - passed)})"
    assert {r["status"] for r in submission["results"] if r["exercise"] not in unsaltable} == {"fail"}, \
        submission["results"]
