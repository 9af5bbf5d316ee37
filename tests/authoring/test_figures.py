"""Figures as a phone gets them (course_utils.authoring.figures, course_utils.plotting)."""

from __future__ import annotations

import io

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from course_utils import plotting  # noqa: E402
from course_utils.authoring import figures  # noqa: E402


def _png(fig, *, text_size=True) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=144)
    plt.close(fig)
    png = out.getvalue()
    if text_size:
        png = plotting._with_text_chunk(png, plotting.TEXT_SIZE_KEY, f"{plotting.smallest_text_pt(fig):g}")
    return png


def test_smallest_text_counts_what_a_figure_shows():
    fig, (left, right) = plt.subplots(1, 2, figsize=(6, 3))
    left.set_title("title", fontsize=14)
    left.legend(handles=left.plot([0, 1], label="curve"), fontsize=8)
    right.axis("off")
    right.tick_params(labelsize=3)  # hidden with its axes: not shown, not counted
    right.text(0.5, 0.5, "", fontsize=2)  # empty: not counted
    left.tick_params(labelsize=11)
    assert plotting.smallest_text_pt(fig) == 8
    plt.close(fig)
    empty = plt.figure()
    empty.add_axes((0, 0, 1, 1)).axis("off")
    assert plotting.smallest_text_pt(empty) is None
    plt.close(empty)


def test_the_text_size_travels_in_the_png_and_sets_the_legible_width():
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot([0, 1])
    ax.tick_params(labelsize=10)
    ax.set_xlabel("x", fontsize=12)
    facts = figures.figure_facts(_png(fig))
    assert facts["text_pt"] == 10 and facts["dpi"] == pytest.approx(144, abs=1) and facts["width"] == 864
    # 10 pt at 144 dpi is 20 image pixels; 9 CSS pixels need 864 * 9 / 20 = 389 CSS pixels
    assert figures.legible_width(facts) == 389
    assert figures.legible_width({**facts, "text_pt": None}) is None


def test_compressed_figures_look_the_same_and_weigh_less():
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k in range(5):
        ax.plot(range(50), [((i * (k + 1)) % 17) for i in range(50)], label=f"run {k}")
    ax.legend()
    png = _png(fig, text_size=False)
    webp = figures.compress(png)
    assert len(webp) < len(png) / 2
    before = Image.open(io.BytesIO(png)).convert("RGB")
    after = Image.open(io.BytesIO(webp)).convert("RGB")
    assert after.size == before.size
    import numpy as np

    difference = np.abs(np.asarray(before, float) - np.asarray(after, float)).mean()
    assert difference < 2  # under 2 levels of 255 on average


def test_img_tags_get_the_webp_its_size_lazy_loading_and_legible_width(tmp_path):
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot([0, 1])
    ax.tick_params(labelsize=9)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "fig.png").write_bytes(_png(fig))
    writer = figures.FigureWriter(tmp_path / "out", {"fig.png": "abc.png"}, tmp_path / "src")
    body = ('<p>x</p><img alt="A line" src="../_images/abc.png" />'
            '<img alt="Colab" src="../_static/logo.png" />')
    page = writer.rewrite(body)
    assert (tmp_path / "out" / "_images" / "abc.webp").exists()
    assert 'src="../_images/abc.webp"' in page and 'alt="A line"' in page
    assert 'width="1152"' in page and 'loading="lazy"' in page and 'data-text-pt="9"' in page
    assert "--legible-width: 576px" in page  # 9 pt at 144 dpi: one CSS pixel per point
    assert '<img alt="Colab" src="../_static/logo.png" />' in page  # not a figure: untouched


def test_a_matplotlib_animation_becomes_one_lazy_animated_webp(tmp_path):
    from matplotlib.animation import FuncAnimation

    fig, ax = plt.subplots(figsize=(3, 2))
    (line,) = ax.plot([], [])
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 4)
    anim = FuncAnimation(fig, lambda i: line.set_data(range(i + 1), range(i + 1)), frames=4, interval=250)
    with plt.rc_context({"savefig.dpi": 72}):
        raw = anim.to_jshtml()
    plt.close(fig)
    frames, interval = figures.animation_frames(raw)
    assert len(frames) == 4 and interval == 250
    name, html = figures.animation_as_image(raw, "A growing line", tmp_path)
    image = Image.open(tmp_path / "_images" / name)
    assert image.format == "WEBP" and getattr(image, "n_frames", 1) == 4
    assert 'loading="lazy"' in html and 'alt="A growing line"' in html and "base64" not in html
    assert figures.animation_as_image("<div>not an animation</div>", "", tmp_path) is None
