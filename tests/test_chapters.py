"""The chapter list, names, ids and files (course_utils.chapters)."""

import pytest

from course_utils import chapters

from .conftest import ROOT


def test_every_lecture_is_a_chapter_with_its_files():
    found = chapters.chapters(ROOT)
    assert [c.id for c in found] == sorted({c.id for c in found}), "chapter ids repeat or are out of order"
    for chapter in found:
        assert chapters.is_chapter_id(chapter.id)
        for kind in chapters.FOLDERS:
            assert (ROOT / chapter.path(kind)).exists(), chapter.path(kind)


def test_names_and_ids():
    chapter = chapters.chapter("14-transfer-learning")
    assert (chapter.id, chapter.slug, chapter.name) == ("14", "transfer-learning", "14-transfer-learning")
    assert str(chapter.lecture) == "book/14-transfer-learning.md"
    assert str(chapter.notebooks()["exercise"]) == "exercises/14-transfer-learning.ipynb"
    assert chapters.parse("book/03-fluids.ipynb") == chapters.Chapter("03", "fluids")
    assert chapters.parse("book/index") is None and chapters.parse("3-fluids.md") is None
    assert chapters.id_from_filename("alice/03_fluids.ipynb") == "03"
    assert chapters.id_from_filename("alice.ipynb") is None
    assert chapters.exercise_chapter("03.fit_bingham") == "03"
    with pytest.raises(ValueError, match="NN-slug"):
        chapters.chapter("fluids")


def test_check_calls_in_order():
    text = 'x = 1\ncheck("03.fit_bingham", fit)\nprint("check(\'09.x\')")\ncheck( "03.mse", f)\n'
    assert chapters.check_calls(text) == ["03.fit_bingham", "03.mse"]
