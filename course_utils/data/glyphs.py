"""Glyphs rendered from the fonts matplotlib ships: a source task of up to about a thousand
classes that no digit belongs to, for transfer learning (chapter 14).

``make_glyphs(n_per_class, seed)`` draws 28 x 28 grey images laid out like MNIST: white ink
on black, the glyph scaled so that its larger side fits a box of about 20 pixels, and its
centre of mass at the centre of the image. Each image takes a random font among those that
have the character (DejaVu Sans, Serif and Mono, STIX, in upright, bold and italic cuts), a
random size, rotation, shear, aspect ratio and stroke width.

Speed: each character is rasterised once per font (FreeType through matplotlib's
``FT2Font``) into an atlas; every image is then one random affine map of an atlas entry,
sampled bilinearly with NumPy. A thousand classes of 40 images take a few seconds.

The classes (:func:`glyph_classes`) are letters and symbols of the Unicode blocks in
``GLYPH_BLOCKS``, chosen by rules, so that a target task of handwritten digits is unseen:

- no character that Unicode counts as a number (digits of any script, numerals, fractions);
- no letter drawn like a digit in some common hand or font, with all its accented, hooked
  and small-capital twins: a letter whose Unicode name's base letter is in ``DIGIT_LOOKALIKES``
  (O and o for 0; I, l and the Cyrillic palochka for 1; Z for 2; the Cyrillic Ze and E, ezh
  and yogh for 3; Che for 4; S for 5; b, the Cyrillic be and delta for 6; B, beta and the
  Cyrillic ve for 8; q and g for 9; and the like in Greek, Armenian and Georgian), and no
  symbol in ``DIGIT_LOOKALIKE_SYMBOLS`` (circles and slashed circles for 0, bars for 1, the
  Tironian et and a hooked arrow for 7, infinity for 8, the partial sign for 6);
- no character whose plain rendering correlates more than ``DIGIT_SIMILARITY`` with the
  rendering of a digit in the same font (this catches look-alikes the list misses);
- no near-duplicate: a character is dropped when its rendering correlates more than
  ``DUPLICATE_SIMILARITY`` with one kept before it (Cyrillic A after Latin A), and none
  smaller than a third of the font's size (dots, accents alone).

The kept characters come in one fixed shuffled order, so the first ``n_classes`` of them
span the blocks for any ``n_classes``.
"""

from __future__ import annotations

import functools
import os
import unicodedata

import numpy as np

#: Font files of matplotlib's ``mpl-data/fonts/ttf`` that the glyphs are drawn in.
FONT_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf", "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
)
#: The Unicode blocks the classes come from (first and last code point of each range).
GLYPH_BLOCKS = {
    "Latin": ((0x0041, 0x024F), (0x0250, 0x02AF)),
    "Greek": ((0x0370, 0x03FF),),
    "Cyrillic": ((0x0400, 0x052F),),
    "Armenian": ((0x0531, 0x058F),),
    "Hebrew": ((0x05D0, 0x05EA),),
    "Georgian": ((0x10A0, 0x10FF),),
    "Canadian syllabics": ((0x1400, 0x167F),),
    "Tifinagh": ((0x2D30, 0x2D7F),),
    "Lisu": ((0xA4D0, 0xA4FF),),
    "letterlike symbols": ((0x2100, 0x214F),),
    "arrows": ((0x2190, 0x21FF), (0x27F0, 0x27FF), (0x2900, 0x297F), (0x2B00, 0x2BFF)),
    "mathematical symbols": ((0x2200, 0x22FF), (0x27C0, 0x27EF), (0x2980, 0x2AFF)),
    "other symbols": ((0x2300, 0x23FF), (0x25A0, 0x25FF), (0x2600, 0x26FF), (0x2700, 0x27BF)),
}
#: Base letters (the part of a letter's Unicode name after LETTER, before WITH) drawn like a
#: digit in some hand or font; a name's base matches when it is one of these or ends in one
#: of these words (SCRIPT G, DOTLESS I, TONE TWO). A pair (script, base) holds for one script.
DIGIT_LOOKALIKES = {
    "0": ("O", "OMICRON", "THETA", "FITA", "OH"),
    "1": ("I", "L", "IOTA", "PALOCHKA", "YI"),
    "2": ("Z", "ZETA", "TWO"),
    "3": ("ZE", ("CYRILLIC", "E"), "EZH", "YOGH", "OPEN E", "REVERSED OPEN E", "VIN"),
    "4": ("CHE",),
    "5": ("S", "DZE", "FIVE"),
    "6": ("B", "BE", "DELTA", "SIX"),
    "8": ("BETA", "VE", "OU"),
    "9": ("Q", "G", "GIM", "CO"),
}
#: Symbols drawn like a digit: circles and slashed circles, bars, hooks, infinity.
DIGIT_LOOKALIKE_SYMBOLS = "○◯◦⊘∅⌀⦰ʘ⊙∂∣∥⏐⁊↴∞"
DIGIT_SIMILARITY = 0.7
DUPLICATE_SIMILARITY = 0.9
MIN_FONTS = 4  # a class needs at least this many fonts, for variety
ATLAS = 48  # atlas canvas side in pixels, with a zero border of at least two
CANONICAL = {"box": 20.0, "rotation": 0.0, "shear": 0.0, "aspect": 1.0, "stroke": 0.0}


def font_path(name: str) -> str:
    """The path of one of matplotlib's bundled fonts (chapter 14)."""
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name)


@functools.cache
def _charmaps() -> dict:
    from matplotlib.ft2font import FT2Font

    return {name: frozenset(FT2Font(font_path(name)).get_charmap()) for name in FONT_FILES}


def _rasterise(chars, font_name: str, size: float = 26.0):
    """Atlas entries of ``chars`` in one font at ``size`` pixels per em: images (k, ATLAS,
    ATLAS) uint8 with the glyph centred by its bounding box (cropped to ATLAS - 4 pixels), its
    ink outline points (k, 4 * ATLAS, 2) as (x, y) pixel corners, its centre of mass (k, 2)
    and its total ink (k,)."""
    from matplotlib.ft2font import FT2Font, LoadFlags

    font = FT2Font(font_path(font_name))
    font.set_size(size, 72)
    images = np.zeros((len(chars), ATLAS, ATLAS), np.uint8)
    inner = ATLAS - 4
    for i, char in enumerate(chars):
        font.set_text(char, flags=LoadFlags.NO_HINTING)
        font.draw_glyphs_to_bitmap(antialiased=True)
        bitmap = np.asarray(font.get_image())
        rows, cols = np.flatnonzero(bitmap.any(axis=1)), np.flatnonzero(bitmap.any(axis=0))
        if len(rows) == 0:
            continue
        bitmap = bitmap[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        h, w = bitmap.shape
        top, left = max((h - inner) // 2, 0), max((w - inner) // 2, 0)
        bitmap = bitmap[top:top + inner, left:left + inner]
        h, w = bitmap.shape
        top, left = (ATLAS - h) // 2, (ATLAS - w) // 2
        images[i, top:top + h, left:left + w] = bitmap
    # outline points: the left- and rightmost ink pixel of every row, the top- and bottommost
    # of every column, as pixel corners; they include every vertex of the ink's convex hull
    ink = images > 64
    index = np.arange(ATLAS)
    points = np.zeros((len(chars), 4 * ATLAS, 2), np.float32)
    for i in range(len(chars)):
        rows, cols = np.flatnonzero(ink[i].any(axis=1)), np.flatnonzero(ink[i].any(axis=0))
        if len(rows) == 0:
            continue
        first_col = np.argmax(ink[i][rows], axis=1)
        last_col = ATLAS - 1 - np.argmax(ink[i][rows, ::-1], axis=1)
        first_row = np.argmax(ink[i][:, cols], axis=0)
        last_row = ATLAS - 1 - np.argmax(ink[i][::-1, cols], axis=0)
        pts = np.concatenate([
            np.stack([first_col - 0.5, rows], 1), np.stack([last_col + 0.5, rows], 1),
            np.stack([cols, first_row - 0.5], 1), np.stack([cols, last_row + 0.5], 1),
        ])
        points[i] = pts[np.resize(np.arange(len(pts)), 4 * ATLAS)]
    weights = images.astype(np.float32)
    mass = weights.sum(axis=(1, 2))
    safe = np.where(mass > 0, mass, 1.0)
    centre = np.stack([(weights.sum(axis=1) * index).sum(axis=1) / safe,
                       (weights.sum(axis=2) * index).sum(axis=1) / safe], axis=1)
    return images, points, centre.astype(np.float32), mass


def _draw(images, points, centres, entry, params) -> np.ndarray:
    """Images (N, 28, 28) in [0, 1]: atlas entry ``entry[i]`` under the affine map of
    ``params`` (arrays of length N: box, rotation in degrees, shear, aspect, stroke),
    its centre of mass at the image's centre (13.5, 13.5)."""
    n = len(entry)
    theta = np.deg2rad(params["rotation"])
    cos, sin = np.cos(theta), np.sin(theta)
    a = np.sqrt(params["aspect"])
    s = params["shear"]
    # A = rotation @ shear @ diag(a, 1/a), acting on (x, y) column vectors
    A = np.empty((n, 2, 2), np.float32)
    A[:, 0, 0] = cos * a
    A[:, 0, 1] = (cos * s - sin) / a
    A[:, 1, 0] = sin * a
    A[:, 1, 1] = (sin * s + cos) / a
    rel = points[entry] - centres[entry][:, None, :]  # (N, K, 2)
    moved = np.einsum("nij,nkj->nki", A, rel)
    extent = np.maximum(np.ptp(moved[..., 0], axis=1), np.ptp(moved[..., 1], axis=1))
    M = A * (params["box"] / np.maximum(extent, 1e-6))[:, None, None].astype(np.float32)
    M_inv = np.linalg.inv(M)
    grid = np.arange(28, dtype=np.float32) - 13.5
    gx, gy = np.meshgrid(grid, grid)  # output pixel centres relative to the image centre
    q = np.stack([gx.ravel(), gy.ravel()])  # (2, 784)
    p = np.einsum("nij,jk->nik", M_inv, q) + centres[entry][:, :, None]  # atlas (x, y)
    x0, y0 = np.floor(p[:, 0]), np.floor(p[:, 1])
    fx, fy = p[:, 0] - x0, p[:, 1] - y0
    # the atlas has a zero border, so coordinates clipped onto it read zero
    x0 = np.clip(x0, 0, ATLAS - 2).astype(np.int64)
    y0 = np.clip(y0, 0, ATLAS - 2).astype(np.int64)
    fx, fy = np.clip(fx, 0, 1), np.clip(fy, 0, 1)
    index = entry[:, None] * ATLAS * ATLAS + y0 * ATLAS + x0
    flat = images.reshape(-1)
    top = (1 - fx) * flat.take(index) + fx * flat.take(index + 1)
    bottom = (1 - fx) * flat.take(index + ATLAS) + fx * flat.take(index + ATLAS + 1)
    out = ((1 - fy) * top + fy * bottom).reshape(n, 28, 28) / 255.0
    # stroke width: a soft dilation by up to one pixel
    w = params["stroke"].astype(np.float32)[:, None, None]
    if np.any(w > 0):
        padded = np.pad(out, ((0, 0), (1, 1), (1, 1)))
        neighbours = np.maximum.reduce([padded[:, :-2, 1:-1], padded[:, 2:, 1:-1],
                                        padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]])
        out = np.maximum(out, w * neighbours)
    return np.clip(out, 0.0, 1.0)


def _correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of every image in a with every image in b, (len(a), len(b))."""
    def standard(x):
        x = x.reshape(len(x), -1).astype(np.float64)
        x = x - x.mean(axis=1, keepdims=True)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    return standard(a) @ standard(b).T


def _canonical(chars, font_name):
    """Plain renderings (no random transform) of chars in one font, and which have ink."""
    images, points, centres, mass = _rasterise(chars, font_name)
    n = len(chars)
    params = {k: np.full(n, v) for k, v in CANONICAL.items()}
    return _draw(images, points, centres, np.arange(n), params), mass > 0


def _lookalike_letter(char: str) -> bool:
    """Whether the base letter of char's Unicode name is drawn like a digit."""
    import re

    match = re.match(r"(\w+) (?:CAPITAL |SMALL )?LETTER (?:SMALL CAPITAL )?(.+?)(?: WITH .*)?$",
                     unicodedata.name(char, ""))
    if not match:
        return False
    script, base = match.groups()
    for bases in DIGIT_LOOKALIKES.values():
        for entry in bases:
            if isinstance(entry, tuple):
                if (script, base) == entry:
                    return True
            elif base == entry or base.endswith(" " + entry) and " " not in entry:
                return True
            elif " " in entry and base == entry:
                return True
    return False


def block_of(char: str) -> str:
    """The name of the block of ``GLYPH_BLOCKS`` that holds ``char`` (chapter 14)."""
    code = ord(char)
    for name, ranges in GLYPH_BLOCKS.items():
        if any(lo <= code <= hi for lo, hi in ranges):
            return name
    raise ValueError(f"{char!r} is in none of the glyph blocks")


@functools.cache
def glyph_classes() -> tuple[str, ...]:
    """Every glyph class, in the fixed order ``make_glyphs`` takes them (chapter 14); the
    rules are in the module's docstring."""
    from matplotlib.ft2font import FT2Font, LoadFlags

    charmaps = _charmaps()
    base = FONT_FILES[0]
    font = FT2Font(font_path(base))
    font.set_size(40.0, 72)
    candidates = []
    for ranges in GLYPH_BLOCKS.values():
        for lo, hi in ranges:
            for code in range(lo, hi + 1):
                char = chr(code)
                if (code not in charmaps[base] or char in DIGIT_LOOKALIKE_SYMBOLS
                        or _lookalike_letter(char)
                        or unicodedata.category(char) not in ("Lu", "Ll", "Lt", "Lo", "Sm", "So")
                        or unicodedata.numeric(char, None) is not None
                        or sum(code in charmaps[f] for f in FONT_FILES) < MIN_FONTS):
                    continue
                font.set_text(char, flags=LoadFlags.NO_HINTING)
                width, height = font.get_width_height()  # 26.6 fixed point
                if max(width, height) / 64 < 40.0 / 3:
                    continue  # dots and marks: too small to be a shape of their own
                candidates.append(char)
    keep = np.ones(len(candidates), bool)
    digits = "0123456789"
    for font_name in ("DejaVuSans.ttf", "DejaVuSerif.ttf", "STIXGeneral.ttf"):
        has = np.array([ord(c) in charmaps[font_name] for c in candidates])
        chars = [c for c, h in zip(candidates, has, strict=True) if h]
        drawn, inked = _canonical(chars, font_name)
        digit_images, _ = _canonical(digits, font_name)
        close = _correlations(drawn, digit_images).max(axis=1) > DIGIT_SIMILARITY
        keep[np.flatnonzero(has)[close | ~inked]] = False
    candidates = [c for c, k in zip(candidates, keep, strict=True) if k]
    drawn, _ = _canonical(candidates, base)
    similar = _correlations(drawn, drawn)
    kept = []
    for i in range(len(candidates)):
        if not kept or similar[i, kept].max() <= DUPLICATE_SIMILARITY:
            kept.append(i)
    order = np.random.default_rng(14).permutation(len(kept))
    return tuple(candidates[kept[i]] for i in order)


@functools.lru_cache(maxsize=4)
def _atlas(chars: tuple[str, ...]):
    """All (character, font) atlas entries of chars: images, outline points, centres of mass,
    and for each class the indices of its entries."""
    charmaps = _charmaps()
    parts, owners = [], []
    for font_name in FONT_FILES:
        mine = [i for i, c in enumerate(chars) if ord(c) in charmaps[font_name]]
        if not mine:
            continue
        images, points, centres, mass = _rasterise([chars[i] for i in mine], font_name)
        inked = mass > 0
        parts.append((images[inked], points[inked], centres[inked]))
        owners.extend(np.asarray(mine)[inked])
    images, points, centres = (np.concatenate(x) for x in zip(*parts, strict=True))
    owners = np.asarray(owners)
    entries = tuple(np.flatnonzero(owners == c) for c in range(len(chars)))
    return images, points, centres, entries


def make_glyphs(n_per_class: int = 40, seed: int = 0, *, n_classes: int | None = None,
                classes=None, size=(16.0, 21.0), rotation: float = 15.0, shear: float = 0.3,
                aspect: float = 0.15, stroke: float = 1.0, chunk: int = 4096):
    """``n_per_class`` images (uint8, (N, 28, 28), white on black like MNIST) of each glyph
    class, shuffled, and their labels (int64) (chapter 14).

    The classes are the first ``n_classes`` (default 1000) of :func:`glyph_classes`, or the
    characters of ``classes``. Every image: a random font that has the character, the larger
    side of the ink scaled to a random length in ``size`` pixels, a rotation up to
    ``rotation`` degrees either way, a shear up to ``shear``, an aspect ratio up to
    ``exp(aspect)``, a stroke widened by up to ``stroke`` pixels; centre of mass at the
    image centre.
    """
    pool = glyph_classes()
    if classes is not None:
        if n_classes is not None:
            raise ValueError("give n_classes or classes, not both")
        chars = tuple(classes)
        unknown = [c for c in chars if c not in pool]
        if unknown:
            raise ValueError(f"{''.join(unknown[:10])!r} are not glyph classes: choose from "
                             "course_utils.data.glyphs.glyph_classes() (no digits, no look-alikes)")
        if len(set(chars)) != len(chars):
            raise ValueError("classes has a character twice")
    else:
        n_classes = 1000 if n_classes is None else n_classes
        if not 1 <= n_classes <= len(pool):
            raise ValueError(f"n_classes must be between 1 and {len(pool)}, not {n_classes}")
        chars = pool[:n_classes]
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be at least 1, not {n_per_class}")
    if not 0 < size[0] <= size[1] <= 26:
        raise ValueError(f"size must be (low, high) with 0 < low <= high <= 26, not {size}")
    images, points, centres, entries = _atlas(chars)
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat(np.arange(len(chars)), n_per_class))
    n = len(y)
    counts = np.array([len(e) for e in entries])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    flat_entries = np.concatenate(entries)
    entry = flat_entries[starts[y] + (rng.random(n) * counts[y]).astype(np.int64)]
    params = {
        "box": rng.uniform(size[0], size[1], n),
        "rotation": rng.uniform(-rotation, rotation, n),
        "shear": rng.uniform(-shear, shear, n),
        "aspect": np.exp(rng.uniform(-aspect, aspect, n)),
        "stroke": rng.uniform(0.0, stroke, n),
    }
    X = np.empty((n, 28, 28), np.uint8)
    for lo in range(0, n, chunk):
        part = slice(lo, lo + chunk)
        drawn = _draw(images, points, centres, entry[part], {k: v[part] for k, v in params.items()})
        X[part] = np.rint(255 * drawn)
    return X, y.astype(np.int64)
