"""Figures as a phone should get them (every chapter page of the book).

Notebook figures arrive as 144-dpi RGBA PNGs. For each page the build writes each figure as a
palette WebP (a fifth of the bytes, the same pixels to the eye), gives its ``<img>`` width and
height (no layout shift) and lazy loading, and, where the figure carries its smallest text size
(``course_utils.plotting.TEXT_SIZE_KEY``), the narrowest width at which that text is still
:data:`MIN_TEXT_PX` CSS pixels high. ``course.css`` keeps the figure at least that wide; on a
phone a wider figure then scrolls sideways inside its output, and ``WIDE_FIGURES_JS`` marks
such an output with a visible cue. Matplotlib's HTML animations (chapter 02) become an
animated WebP of the same frames, loaded lazily, instead of megabytes of inline base64 PNGs.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
import re
from pathlib import Path

#: The smallest figure text a reader must be able to read, in CSS pixels (COURSE_DESIGN.md).
MIN_TEXT_PX = 9
PALETTE_COLOURS = 256

_IMG = re.compile(r"<img\b([^>]*?)\s*/?>", re.I)
_ATTR = re.compile(r'([\w:-]+)="([^"]*)"')


def compress(png: bytes) -> bytes:
    """A figure PNG as a lossless WebP of its colours reduced to a palette (no dithering: flat
    plot colours stay flat)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if "A" in image.getbands() and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")  # an opaque figure: no alpha channel to store
    method = Image.Quantize.FASTOCTREE
    palette = image.quantize(PALETTE_COLOURS, method=method, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.convert(image.mode).save(out, "WEBP", lossless=True, quality=100, method=4)
    return out.getvalue()


def figure_facts(png: bytes) -> dict:
    """Pixel size, dots per inch and smallest text size (points, or None) of a figure PNG."""
    from PIL import Image

    from course_utils.plotting import TEXT_SIZE_KEY

    image = Image.open(io.BytesIO(png))
    dpi = round(image.info.get("dpi", (72, 72))[0] or 72)  # PNG stores dots per metre: 143.99
    text = getattr(image, "text", {}).get(TEXT_SIZE_KEY)
    return {"width": image.width, "height": image.height, "dpi": float(dpi),
            "text_pt": float(text) if text else None}


def legible_width(facts: dict) -> int | None:
    """The narrowest width, in CSS pixels, at which the figure's smallest text is
    :data:`MIN_TEXT_PX` high; None when the figure does not say its text size."""
    if not facts.get("text_pt"):
        return None
    pixels_per_point = facts["dpi"] / 72  # image pixels per point of text
    return math.ceil(facts["width"] * MIN_TEXT_PX / (facts["text_pt"] * pixels_per_point))


def _attributes(text: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _ATTR.findall(text)}


def _tag(attributes: dict[str, str]) -> str:
    return "<img " + " ".join(f'{name}="{html.escape(str(value), quote=True)}"'
                              for name, value in attributes.items()) + " />"


class FigureWriter:
    """Rewrites the ``<img>`` tags of a page body; writes each figure's WebP once per build."""

    def __init__(self, outdir: Path, images: dict[str, str], srcdir: Path, imgpath: str = "_images"):
        self.outdir = Path(outdir)
        self.srcdir = Path(srcdir)
        self.imgpath = imgpath
        self.sources = {Path(built).name: source for source, built in images.items()}
        self.done: dict[str, dict] = {}

    def _figure(self, name: str) -> dict | None:
        """The WebP's file name and the facts of the built image ``name``, written on first use."""
        if name in self.done:
            return self.done[name]
        source = self.sources.get(name)
        path = Path(source) if source and Path(source).is_absolute() else self.srcdir / (source or "")
        if not name.lower().endswith(".png") or source is None or not path.is_file():
            self.done[name] = None
            return None
        png = path.read_bytes()
        facts = figure_facts(png)
        webp = Path(name).with_suffix(".webp").name
        target = self.outdir / self.imgpath / webp
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.stat().st_mtime < path.stat().st_mtime:
            target.write_bytes(compress(png))
        self.done[name] = {"webp": webp, **facts}
        return self.done[name]

    def rewrite(self, body: str) -> str:
        def replace(match: re.Match) -> str:
            attributes = _attributes(match.group(1))
            src = attributes.get("src", "")
            folder, _, name = src.rpartition("/")
            if not folder.endswith(self.imgpath):
                return match.group(0)
            figure = self._figure(name)
            if figure is None:
                return match.group(0)
            attributes["src"] = f"{folder}/{figure['webp']}"
            attributes.setdefault("width", str(figure["width"]))
            attributes.setdefault("height", str(figure["height"]))
            attributes.setdefault("loading", "lazy")
            attributes.setdefault("decoding", "async")
            width = legible_width(figure)
            if width is not None:
                attributes["data-text-pt"] = f"{figure['text_pt']:g}"
                attributes["data-dpi"] = f"{figure['dpi']:g}"
                style = attributes.get("style", "")
                attributes["style"] = f"{style}; --legible-width: {min(width, figure['width'])}px".lstrip("; ")
            return _tag(attributes)

        return _IMG.sub(replace, body)


# --------------------------------------------------------------------------- animations

_FRAME = re.compile(r'frames\[(\d+)\]\s*=\s*"data:image/(png|jpeg);base64,([A-Za-z0-9+/=\\\n]+)"')
_INTERVAL = re.compile(r"new Animation\(\s*frames\s*,\s*\w+\s*,\s*\w+\s*,\s*(\d+(?:\.\d+)?)")
_ANIMATION = re.compile(r"<div class=\"animation\">", re.I)


def animation_frames(raw: str) -> tuple[list[bytes], int] | None:
    """The frames (PNG or JPEG bytes) and the interval in ms of a Matplotlib JS-HTML animation,
    or None when ``raw`` is not one."""
    if not _ANIMATION.search(raw):
        return None
    frames = sorted((int(i), base64.b64decode(data.replace("\\\n", "").replace("\n", "")))
                    for i, _, data in _FRAME.findall(raw))
    if not frames:
        return None
    interval = _INTERVAL.search(raw)
    return [data for _, data in frames], int(float(interval.group(1))) if interval else 200


def animated_webp(frames: list[bytes], interval_ms: int) -> tuple[bytes, int, int]:
    """One looping animated WebP of the frames (palette colours, lossless, frame differences
    only); returns its bytes, width and height."""
    from PIL import Image

    images = []
    for data in frames:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        images.append(image.quantize(PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE,
                                     dither=Image.Dither.NONE).convert("RGB"))
    out = io.BytesIO()
    images[0].save(out, "WEBP", save_all=True, append_images=images[1:], duration=interval_ms, loop=0,
                   lossless=True, quality=100, method=4, minimize_size=True)
    return out.getvalue(), images[0].width, images[0].height


def animation_as_image(raw: str, alt: str, outdir: Path, imgdir: str = "_images") -> tuple[str, str] | None:
    """Replace a Matplotlib JS-HTML animation by an animated WebP written into
    ``outdir/imgdir``; returns (file name, the HTML that shows it with the folder as
    ``{imgdir}``) or None when ``raw`` is not an animation."""
    found = animation_frames(raw)
    if found is None:
        return None
    frames, interval = found
    digest = hashlib.sha256(b"".join(frames)).hexdigest()[:20]
    name = f"animation-{digest}.webp"
    target = Path(outdir) / imgdir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    data, width, height = animated_webp(frames, interval)
    target.write_bytes(data)
    # The frames do not say their text size: keep them at least at one CSS pixel per point (their
    # natural size at 72 dpi), where text of 9 pt or more is 9 CSS pixels or more.
    dpi = figure_facts(frames[0])["dpi"]
    legible = min(width, math.ceil(width * 72 / dpi))
    tag = _tag({"src": "{imgdir}/" + name, "alt": alt or "An animation", "width": str(width),
                "height": str(height), "loading": "lazy", "decoding": "async", "class": "course-animation",
                "data-dpi": f"{dpi:g}", "style": f"--legible-width: {legible}px"})
    return name, f'<div class="animation">{tag}</div>'


#: Marks outputs and equations wider than their column (a phone), so course.css shows the cue.
#: Each is measured as it comes near the screen (no layout of the whole page at load), again
#: when an image in it loads and after a resize; ``courseMarkWide()`` measures them all.
WIDE_FIGURES_JS = """
(() => {
  const boxes = () => document.querySelectorAll(".cell_output, .animation, div.math");
  const mark = (box) => box.classList.toggle("course-wide", box.scrollWidth > box.clientWidth + 1);
  const near = new IntersectionObserver((entries) => {
    for (const entry of entries) if (entry.isIntersecting) mark(entry.target);
  }, {rootMargin: "300px 0px"});
  const watch = () => { near.disconnect(); boxes().forEach((box) => near.observe(box)); };
  window.courseMarkWide = () => boxes().forEach(mark);
  document.addEventListener("DOMContentLoaded", watch);
  addEventListener("resize", watch);
  document.addEventListener("load", (event) => {
    const box = event.target.tagName === "IMG" && event.target.closest(".cell_output, .animation");
    if (box) mark(box);
  }, true);
})();
"""
