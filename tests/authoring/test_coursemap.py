"""The course map of the landing page (course_utils.authoring.coursemap)."""

from __future__ import annotations

from course_utils.authoring import chapters
from course_utils.authoring.coursemap import chapter_summary, course_map_markdown
from tests.conftest import ROOT


def test_chapter_summary_reads_title_and_objectives(tmp_path):
    page = tmp_path / "07-x.md"
    page.write_text("# 07: Title\n\n:::{admonition} Learning objectives\n:class: tip\n\nYou can\n\n"
                    "- do one thing;\n- do another\n  over two lines.\n:::\n\nText.\n")
    assert chapter_summary(page) == ("07: Title", ["do one thing;", "do another over two lines."])


def test_course_map_lists_every_chapter_in_the_toc():
    text = course_map_markdown(ROOT)
    for lecture in chapters.files("lecture", ROOT):
        assert f"({lecture.stem}.md)" in text
        title, objectives = chapter_summary(lecture)
        assert objectives, f"{lecture.name} has no learning objectives"
