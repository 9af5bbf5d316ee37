"""A chapter's Colab links and badges (course_utils.links)."""

from __future__ import annotations

import base64

from course_utils import links


def test_colab_url_maps_md_to_ipynb():
    url = links.colab_url("book/00-perceptron.md")
    assert url == f"https://colab.research.google.com/github/{links.SETTING.slug}/blob/{links.SETTING.branch}/book/00-perceptron.ipynb"


def test_chapter_links_have_three_badges_with_alt_text():
    html = links.chapter_links_markdown("00-perceptron")
    for kind in ("book", "exercises", "solutions"):
        assert f"/blob/main/{kind}/00-perceptron.ipynb" in html
    assert html.count('alt="Open the') == 3
    svg = base64.b64decode(html.split("base64,")[1].split('"')[0]).decode()
    assert svg.startswith("<svg") and "Open in Colab" in svg


def _relative_luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_badge_text_has_a_contrast_of_at_least_4_5():
    import re

    svg = base64.b64decode(links.badge_svg("Lecture").split("base64,")[1]).decode()
    text_colour = re.search(r'<g fill="(#[0-9a-f]{3,6})"', svg).group(1)
    text_colour = "#" + "".join(c * 2 for c in text_colour[1:]) if len(text_colour) == 4 else text_colour
    for background in re.findall(r'<rect[^>]*fill="(#[0-9a-f]{3,6})"', svg):
        background = "#" + "".join(c * 2 for c in background[1:]) if len(background) == 4 else background
        light, dark = sorted([_relative_luminance(text_colour), _relative_luminance(background)], reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 4.5, (text_colour, background)
