"""Figures used across chapters. Every helper takes ``ax=None`` and returns the axes."""

from __future__ import annotations

import numpy as np


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 3.5))
    return ax


def plot_activation(func, derivative=None, x=None, name: str = "", ax=None):
    """Plot an activation function and, optionally, its derivative (chapters 00 and 01)."""
    ax = _axes(ax)
    x = np.linspace(-6, 6, 401) if x is None else np.asarray(x)
    ax.plot(x, func(x), label=name or getattr(func, "__name__", "f"), lw=2)
    if derivative is not None:
        ax.plot(x, derivative(x), "--", label="derivative", lw=1.5)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_xlabel("z")
    ax.legend(loc="best")
    return ax


def plot_decision_boundary(predict, X, y, ax=None, resolution: int = 200, margin: float = 0.5,
                           title: str = ""):
    """Shade the regions a classifier ``predict(points) -> labels or scores`` assigns, and
    scatter the data ``X`` (n, 2) coloured by ``y`` (chapters 00 and 04)."""
    ax = _axes(ax)
    X = np.asarray(X, dtype=float)
    (x0, y0), (x1, y1) = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.c_[gx.ravel(), gy.ravel()]
    z = np.asarray(predict(grid), dtype=float).reshape(gx.shape)
    ax.contourf(gx, gy, z, levels=20 if np.unique(z).size > 2 else 1, cmap="RdBu", alpha=0.3)
    ax.contour(gx, gy, z, levels=[0.5] if z.min() >= 0 else [0.0], colors="k", linewidths=1)
    for label, marker in zip(np.unique(y), "os^v", strict=False):
        pts = X[np.asarray(y) == label]
        ax.scatter(pts[:, 0], pts[:, 1], marker=marker, edgecolor="k", label=f"class {label}")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_line(w, b, ax=None, **style):
    """Draw the line ``w[0] x1 + w[1] x2 + b = 0`` across the current limits (chapter 00)."""
    ax = _axes(ax)
    w = np.asarray(w, dtype=float)
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    if abs(w[1]) > 1e-12:
        xs = np.array(xlim)
        ax.plot(xs, -(w[0] * xs + b) / w[1], **style)
    elif abs(w[0]) > 1e-12:
        ax.axvline(-b / w[0], **style)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    return ax


def plot_loss_curve(history, ax=None, log: bool = False, xlabel: str = "epoch", ylabel: str = "loss"):
    """Plot one or several loss curves: a sequence, or a dict ``name -> sequence``
    (for example ``{"training": ..., "validation": ...}``) (chapters 00-14)."""
    ax = _axes(ax)
    curves = history if isinstance(history, dict) else {ylabel: history}
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(curves) > 1:
        ax.legend(loc="best")
    return ax


def show_images(images, labels=None, class_names=None, n: int = 10, ax=None, predictions=None):
    """Show ``n`` images with their labels (and predictions in red when wrong), in rows of at
    most five so that a phone shows the labels legibly (chapters 05, 07 and 12). ``ax`` may be
    a sequence of axes."""
    import matplotlib.pyplot as plt

    images = np.asarray(images)[:n]
    if ax is None:
        columns = min(5, len(images))
        rows = -(-len(images) // columns)
        _, ax = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.9 * rows), squeeze=False)
        for extra in ax.ravel()[len(images):]:
            extra.set_visible(False)
    axes = np.ravel(ax)
    for i, (a, img) in enumerate(zip(axes, images, strict=False)):
        a.imshow(img.reshape(28, 28) if img.size == 784 else img, cmap="gray_r")
        a.set_xticks([])
        a.set_yticks([])
        if labels is not None:
            text = class_names[labels[i]] if class_names is not None else str(labels[i])
            color = "k"
            if predictions is not None:
                guess = class_names[predictions[i]] if class_names is not None else str(predictions[i])
                color = "k" if predictions[i] == labels[i] else "crimson"
                text = f"{text}\n({guess})" if predictions[i] != labels[i] else text
            a.set_title(text, fontsize="medium", color=color)
    return ax


#: PNG text key under which the book's figures carry the size of their smallest text, in points.
TEXT_SIZE_KEY = "course:smallest-text-pt"


def smallest_text_pt(fig) -> float | None:
    """Size in points of the smallest text a figure shows (titles, labels, tick labels, legends,
    annotations), or None when it shows none. The book's build reads it to keep every figure's
    text at least 9 CSS pixels high on a phone (every chapter)."""
    from matplotlib.text import Text

    hidden = set()
    for ax in fig.axes:
        if not (ax.axison and ax.get_visible()):
            for axis in (ax.xaxis, ax.yaxis, getattr(ax, "zaxis", None)):
                if axis is not None:
                    hidden.update(id(t) for t in axis.get_ticklabels(which="both"))
                    hidden.update((id(axis.label), id(axis.get_offset_text())))
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and id(t) not in hidden
             and (t.axes is None or t.axes.get_visible())]
    return min(sizes) if sizes else None


def _with_text_chunk(png: bytes, key: str, value: str) -> bytes:
    """``png`` with a tEXt chunk ``key: value`` before its end."""
    import struct
    import zlib

    data = key.encode("latin-1") + b"\0" + value.encode("latin-1")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    end = png.rfind(b"IEND") - 4
    return png[:end] + chunk + png[end:]


def _figure_png(fig):
    from IPython.core.pylabtools import print_figure

    png = print_figure(fig, "png", bbox_inches="tight")
    size = smallest_text_pt(fig)
    return png if png is None or size is None else _with_text_chunk(png, TEXT_SIZE_KEY, f"{size:g}")


def book_figure_hook(fig) -> None:
    """Called by Matplotlib for each new figure in the book's kernels (``figure.hooks`` in
    book/matplotlibrc): IPython then shows figures as PNGs that carry their smallest text size
    (:data:`TEXT_SIZE_KEY`), which the book's build reads (every chapter). Elsewhere, nothing."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    from matplotlib.figure import Figure

    shell.display_formatter.formatters["image/png"].for_type(Figure, _figure_png)
