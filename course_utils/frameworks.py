"""Small shared helpers for the PyTorch and Keras chapters (chapters 06-14).

Nothing here imports torch, tensorflow or keras at module import time. Every optional
framework the package needs is imported through :func:`require_framework`, which says how
to install it when it is missing.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
import sys
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # NumPy is imported where it is used: the grader's sandbox agent imports this module
    import numpy as np

KERAS_BACKENDS = ("tensorflow", "torch", "jax")
#: Module name -> (what to call it, what to install).
OPTIONAL_FRAMEWORKS = {"torch": ("PyTorch", "torch"), "keras": ("Keras", "keras"),
                       "tensorflow": ("TensorFlow", "tensorflow-cpu")}
#: TensorFlow quiet, and with the same numerics on every CPU (oneDNN off: on CPUs with AVX-512
#: it is on by default and prints a notice). Every kernel the course starts gets them
#: (``course_utils.authoring.notebooks.KERNEL_DEFAULTS``); :func:`select_keras_backend` sets them too.
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


class FrameworkMissing(ImportError):
    """An optional framework is not installed; the message says how to install it. A check
    that needs it fails with this message (see :class:`course_utils.checks.core.Check`)."""


def has_module(name: str) -> bool:
    """True when a module can be imported (without importing it)."""
    return importlib.util.find_spec(name) is not None


def has_tensorflow() -> bool:
    """True when TensorFlow is installed; TensorFlow-only cells check this and say so."""
    return has_module("tensorflow")


def require_framework(name: str):
    """Import and return the optional framework ``name`` (``"torch"``, ``"keras"`` or
    ``"tensorflow"``); for Keras the backend is chosen first (:func:`select_keras_backend`).
    Raises :class:`FrameworkMissing` with the command that installs it."""
    if name not in OPTIONAL_FRAMEWORKS:
        raise ValueError(f"unknown framework {name!r}; choose one of {', '.join(OPTIONAL_FRAMEWORKS)}")
    if name == "keras":
        select_keras_backend()
    try:
        return importlib.import_module(name)
    except ImportError:
        title, package = OPTIONAL_FRAMEWORKS[name]
        raise FrameworkMissing(f"this needs {title}, which is not installed: pip install {package}") from None


# What TensorFlow's native code prints on import, on some CPUs whatever TF_CPP_MIN_LOG_LEVEL
# says: absl's preamble, INFO lines in glog format, and the CPU-feature notice's second line.
NATIVE_CHATTER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\] "
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.)")


@contextlib.contextmanager
def without_native_chatter(pattern: re.Pattern = NATIVE_CHATTER):
    """Run a block with the process's native stderr (file descriptor 2) caught, then write back
    every line that is not start-up chatter: real warnings and errors still show."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught.read().decode(errors="replace").splitlines(keepends=True)
                    if not pattern.match(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def keras_backend_choice() -> str:
    """The backend :func:`select_keras_backend` picks: ``$KERAS_BACKEND`` if set, else the first
    of TensorFlow, PyTorch and JAX that is installed (chapters 06-14, the benchmark report)."""
    return os.environ.get("KERAS_BACKEND") or next((b for b in KERAS_BACKENDS if has_module(b)), "tensorflow")


def select_keras_backend() -> str:
    """Choose Keras' backend and import Keras quietly: ``$KERAS_BACKEND`` if set, else
    TensorFlow, PyTorch or JAX, whichever is installed first. Returns its name.

    TensorFlow is asked for quiet and CPU-independent numerics (:data:`QUIET_TENSORFLOW`, unless
    the environment says otherwise), and what its native code still prints while it loads
    is dropped (:func:`without_native_chatter`). Call it before ``import keras``."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    for name, value in QUIET_TENSORFLOW.items():  # a kernel the course did not start (Colab)
        os.environ.setdefault(name, value)
    chosen = os.environ["KERAS_BACKEND"] = keras_backend_choice()
    if has_module("keras"):
        with without_native_chatter():
            import keras  # noqa: F401
    return chosen


def images_to_float(images: np.ndarray, flatten: bool = False, channels_last: bool | None = None) -> np.ndarray:
    """Scale uint8 images to float32 in [0, 1]; ``flatten`` gives (N, 784); ``channels_last``
    True gives (N, 28, 28, 1) (Keras), False gives (N, 1, 28, 28) (PyTorch)."""
    import numpy as np

    x = np.asarray(images, dtype=np.float32) / 255.0
    if flatten:
        return x.reshape(len(x), -1)
    if channels_last is True:
        return x[..., None]
    if channels_last is False:
        return x[:, None]
    return x


def torch_loader(X, y, batch_size: int = 64, shuffle: bool = True, seed: int = 0):
    """A ``torch.utils.data.DataLoader`` over NumPy arrays (float32 inputs, int64 labels or
    float32 targets), shuffled with its own seeded generator."""
    import numpy as np

    torch = require_framework("torch")
    DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset

    X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    y = np.asarray(y)
    y = torch.as_tensor(y.astype(np.int64) if np.issubdtype(y.dtype, np.integer) else y.astype(np.float32))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle, generator=generator)


def torch_accuracy(model, loader, device=None) -> float:
    """Classification accuracy of a PyTorch model over a loader (evaluation mode, no grad)."""
    torch = require_framework("torch")

    device = device or next(model.parameters()).device
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for xb, yb in loader:
            pred = model(xb.to(device)).argmax(dim=1).cpu()
            correct += int((pred == yb).sum())
            total += len(yb)
    return correct / max(total, 1)


def torch_fit(model, train_loader, optimizer, loss_fn, epochs: int, val_loader=None, device=None,
              progress: bool = True, metric=None) -> dict:
    """A plain PyTorch training loop with a tqdm progress bar; returns a history dict with
    ``loss`` (mean training loss per epoch) and, given ``val_loader``, ``val_loss`` and, for
    classifiers (``metric="accuracy"``), ``val_accuracy``."""
    from tqdm.auto import tqdm

    torch = require_framework("torch")

    device = device or next(model.parameters()).device
    history = {"loss": []}
    if val_loader is not None:
        history["val_loss"] = []
        if metric == "accuracy":
            history["val_accuracy"] = []
    # Non-interactive runs (the book build, tests, the grader) set $TQDM_DISABLE, so that no
    # progress widget is saved into a page; tqdm's notebook bar does not read it by itself.
    quiet = os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes")
    bar = tqdm(range(epochs), desc="epochs", leave=False, disable=quiet or not progress)
    for _ in bar:
        model.train()
        total, count = 0.0, 0
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            count += len(xb)
        history["loss"].append(total / count)
        if val_loader is not None:
            model.eval()
            v_total, v_count = 0.0, 0
            with torch.no_grad():
                for xb, yb in val_loader:
                    xb, yb = xb.to(device), yb.to(device)
                    v_total += float(loss_fn(model(xb), yb)) * len(xb)
                    v_count += len(xb)
            history["val_loss"].append(v_total / v_count)
            if metric == "accuracy":
                history["val_accuracy"].append(torch_accuracy(model, val_loader, device))
        bar.set_postfix(loss=f"{history['loss'][-1]:.4f}")
    return history
