"""Colab links, badges and the course map."""

import base64

from course_utils import chapters, links
from course_utils.coursemap import chapter_summary, course_map_markdown

from .conftest import ROOT


def test_colab_url_maps_md_to_ipynb():
    url = links.colab_url("book/00-perceptron.md")
    assert url == "https://colab.research.google.com/github/open-nn-course/nn-course/blob/main/book/00-perceptron.ipynb"


def test_chapter_links_have_three_badges_with_alt_text():
    html = links.chapter_links_markdown("00-perceptron")
    for kind in ("book", "exercises", "solutions"):
        assert f"/blob/main/{kind}/00-perceptron.ipynb" in html
    assert html.count('alt="Open the') == 3
    svg = base64.b64decode(html.split("base64,")[1].split('"')[0]).decode()
    assert svg.startswith("<svg") and "Open in Colab" in svg


def test_setup_cell_installs_from_the_repository():
    assert links.REPOSITORY_URL in links.SETUP_CELL and "%pip install" in links.SETUP_CELL


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
