"""The course's own pretrained model: a small CNN trained on rendered glyphs (chapter 14).

The source task is to name the glyph classes of :func:`course_utils.data.make_glyphs`
(letters and symbols of many scripts, no digits and no digit look-alikes), so that
handwritten digits are a target task whose classes the source never saw.
``load_source_model()`` returns the trained PyTorch model, training it on first use (well
under a minute on a CPU in the full profile) and caching its weights under
``cache_dir()/models``; later calls only load them. ``scripts/train_source_model.py`` does
the same from the command line.

The network (:func:`build_source_cnn`) is ``model.base``, which turns a 28 x 28 image into
``N_FEATURES`` numbers (``block1`` and ``block2``: convolution, batch normalisation, ReLU,
pooling; ``flatten`` of the 32 maps of 7 x 7; ``dense``: 128 ReLU units), followed by
``model.head``, one linear layer with an output per class. A target task replaces the head
(:func:`make_head`). ``keras_source_model`` builds the same network in Keras and copies the
PyTorch weights, batch-norm statistics included, into it.

Nothing here imports torch or keras at module import time.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import urllib.parse
from pathlib import Path

import numpy as np

from course_utils.data.datasets import cache_dir
from course_utils.frameworks import images_to_float, require_framework

N_MAPS = 32 * 7 * 7  # block2's 32 maps of 7 x 7, flattened
N_FEATURES = 128  # the base's output: the dense layer's ReLU units
#: The source model of each profile: glyph classes, images per class, epochs.
SOURCE_SETTINGS = {"smoke": {"n_classes": 100, "n_per_class": 10, "epochs": 1},
                   "full": {"n_classes": 1000, "n_per_class": 40, "epochs": 4},
                   "gpu": {"n_classes": 1000, "n_per_class": 200, "epochs": 10}}
#: ImageNet weights that chapter 14 shows for readers who are online: the URL torch.hub
#: downloads ResNet-18's from, and the file keras.applications keeps MobileNetV2's base in.
RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
MOBILENET_V2_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
MOBILENET_V2_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
                    + MOBILENET_V2_FILE)


def make_head(n_classes: int, seed: int | None = None):
    """A fresh linear head (a linear probe) for the source CNN's base: ``N_FEATURES``
    features to ``n_classes`` logits (chapter 14)."""
    torch = require_framework("torch")

    if seed is not None:
        torch.manual_seed(seed)
    return torch.nn.Linear(N_FEATURES, n_classes)


def build_source_cnn(n_classes: int = 10, seed: int = 0):
    """The CNN of chapter 14 as ``torch.nn.Sequential`` with two parts: ``base``
    (``block1``: conv 16 - BN - ReLU - pool; ``block2``: conv 32 - BN - ReLU - pool;
    ``flatten``; ``dense``: linear 128 - ReLU) and ``head``: one linear layer
    (:func:`make_head`). Its weights are stored channels last, which makes convolutions
    on a CPU faster and changes no result (chapter 14)."""
    from collections import OrderedDict

    torch = require_framework("torch")
    nn = torch.nn

    def conv_block(c_in, c_out):
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                             nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2))

    torch.manual_seed(seed)
    base = nn.Sequential(OrderedDict(
        block1=conv_block(1, 16), block2=conv_block(16, 32), flatten=nn.Flatten(),
        dense=nn.Sequential(nn.Linear(N_MAPS, N_FEATURES), nn.ReLU()),
    ))
    model = nn.Sequential(OrderedDict(base=base, head=make_head(n_classes)))
    return model.to(memory_format=torch.channels_last)


def _classes_tag(classes) -> str:
    return hashlib.sha1("".join(classes).encode()).hexdigest()[:10]


def source_weights_path(classes, n_per_class: int, epochs: int, seed: int = 0) -> Path:
    """Where the weights of a source model trained on these glyph classes with these
    settings are cached (chapter 14)."""
    name = f"glyph_source_cnn_v1_k{len(classes)}_{_classes_tag(classes)}_n{n_per_class}_e{epochs}_s{seed}.pt"
    return cache_dir() / "models" / name


def fit_cnn(x_train, y_train, n_classes: int, epochs: int, seed: int = 0,
            batch_size: int = 128, max_lr: float = 3e-3, device=None):
    """A fresh CNN (:func:`build_source_cnn`) trained on images ``x_train`` (N, 1, 28, 28)
    and labels ``y_train`` with Adam and a one-cycle schedule, on ``device`` (default the
    CPU); returned on the CPU in evaluation mode (chapter 14)."""
    from course_utils.frameworks import torch_fit, torch_loader

    torch = require_framework("torch")
    model = build_source_cnn(n_classes, seed=seed)
    if device is not None:
        model = model.to(device)
    train_loader = torch_loader(x_train, y_train, batch_size=batch_size, seed=seed)
    optimizer = torch.optim.Adam(model.parameters())
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, cycle_momentum=False, total_steps=epochs * len(train_loader))
    optimizer.register_step_post_hook(lambda *args: schedule.step())
    torch_fit(model, train_loader, optimizer, torch.nn.CrossEntropyLoss(), epochs,
              progress=False)
    return model.cpu().eval()


def train_source_model(n_classes: int | None = 1000, n_per_class: int = 40, epochs: int = 4,
                       seed: int = 0, classes=None, device=None):
    """Train the source CNN on ``n_per_class`` rendered images of each glyph class (the
    first ``n_classes`` of :func:`course_utils.data.glyphs.glyph_classes`, or the characters
    of ``classes``) with :func:`fit_cnn`; return ``(model, accuracy)``, the accuracy on
    fresh glyphs of the same classes (chapter 14)."""
    from course_utils.data.glyphs import make_glyphs

    torch = require_framework("torch")
    if classes is not None:
        n_classes = None
    x, y = make_glyphs(n_per_class, seed, n_classes=n_classes, classes=classes)
    model = fit_cnn(images_to_float(x, channels_last=False), y, int(y.max()) + 1, epochs,
                    seed, device=device)
    x_check, y_check = make_glyphs(2, seed + 1, n_classes=n_classes, classes=classes)
    with torch.no_grad():
        logits = model(torch.as_tensor(images_to_float(x_check, channels_last=False)))
    return model, float(np.mean(logits.argmax(dim=1).numpy() == y_check))


def load_source_model(n_classes: int | None = None, n_per_class: int | None = None,
                      epochs: int | None = None, seed: int = 0, classes=None, profile=None,
                      retrain: bool = False, verbose: bool = True):
    """The pretrained glyph CNN: loaded from the cache, or trained (and saved there) on
    first use. Unset sizes are the run profile's (``SOURCE_SETTINGS``); ``classes`` (a
    string of glyph characters) replaces the first ``n_classes`` classes (chapter 14)."""
    from course_utils.data.glyphs import glyph_classes
    from course_utils.profile import get_profile

    torch = require_framework("torch")
    profile = profile or get_profile()
    settings = SOURCE_SETTINGS[profile.name]
    n_per_class = settings["n_per_class"] if n_per_class is None else n_per_class
    epochs = settings["epochs"] if epochs is None else epochs
    if classes is None:
        n_classes = settings["n_classes"] if n_classes is None else n_classes
        chosen = glyph_classes()[:n_classes]
    elif n_classes is not None:
        raise ValueError("give n_classes or classes, not both")
    else:
        chosen = tuple(classes)
    path = source_weights_path(chosen, n_per_class, epochs, seed)
    model = build_source_cnn(len(chosen), seed=seed)
    if path.is_file() and not retrain:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["weights"])
        if verbose:
            print(f"Loaded the source model ({len(chosen)} glyph classes), trained by this "
                  f"course earlier; accuracy on fresh glyphs {state['accuracy']:.3f}.")
        return model.eval()
    if verbose:
        print(f"Training the source model on {n_per_class} rendered images of each of "
              f"{len(chosen)} glyph classes for {epochs} epoch(s), once: the weights are "
              "cached for next time.")
    start = time.perf_counter()
    device = profile.torch_device() if profile.name == "gpu" else None
    model, accuracy = train_source_model(n_per_class=n_per_class, epochs=epochs, seed=seed,
                                         classes=chosen, device=device)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(f".{os.getpid()}.part")
    torch.save({"weights": model.state_dict(), "accuracy": accuracy, "classes": "".join(chosen),
                "n_per_class": n_per_class, "epochs": epochs, "seed": seed}, part)
    part.replace(path)
    if verbose:
        print(f"Trained in {time.perf_counter() - start:.0f} s; accuracy on fresh glyphs "
              f"{accuracy:.3f}.")
    return model.eval()


def keras_source_model(torch_model=None, n_classes: int = 10):
    """The same network in Keras (channels last), with the weights of ``torch_model``
    copied in when given. Layers are named ``block1_conv``, ``block1_bn``, ...,
    ``flatten``, ``dense`` and ``head`` (chapter 14)."""
    keras = require_framework("keras")
    layers = keras.layers

    def conv_block(name, c_out):
        return [layers.Conv2D(c_out, 3, padding="same", use_bias=False, name=f"{name}_conv"),
                layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn"),
                layers.ReLU(name=f"{name}_relu"), layers.MaxPooling2D(2, name=f"{name}_pool")]

    if torch_model is not None:
        n_classes = torch_model.head.out_features
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), *conv_block("block1", 16), *conv_block("block2", 32),
         layers.Flatten(name="flatten"),
         layers.Dense(N_FEATURES, activation="relu", name="dense"),
         layers.Dense(n_classes, name="head")],
        name="source_cnn")
    if torch_model is not None:
        copy_torch_weights_to_keras(torch_model, model)
    return model


def copy_torch_weights_to_keras(torch_model, keras_model) -> None:
    """Copy the CNN's weights from PyTorch to Keras: convolution kernels go from (out, in,
    h, w) to (h, w, in, out), batch norm keeps (gamma, beta, mean, variance), and the dense
    layer after ``Flatten`` is reordered from channels-first to channels-last (chapter 14)."""
    state = {k: v.detach().cpu().numpy() for k, v in torch_model.state_dict().items()}
    for block in ("block1", "block2"):
        kernel = state[f"base.{block}.0.weight"]  # (out, in, h, w) -> (h, w, in, out)
        keras_model.get_layer(f"{block}_conv").set_weights([np.transpose(kernel, (2, 3, 1, 0))])
        bn = [state[f"base.{block}.1.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
        keras_model.get_layer(f"{block}_bn").set_weights(bn)
    dense = state["base.dense.0.weight"]  # (128, 32*7*7), inputs in (channel, row, column) order
    dense = dense.reshape(-1, 32, 7, 7).transpose(2, 3, 1, 0).reshape(N_MAPS, -1)
    keras_model.get_layer("dense").set_weights([dense, state["base.dense.0.bias"]])
    keras_model.get_layer("head").set_weights([state["head.weight"].T, state["head.bias"]])


def keras_home() -> Path:
    """The folder Keras keeps downloaded files in: ``$KERAS_HOME``, else ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def torch_hub_checkpoints() -> Path:
    """The folder torch.hub keeps downloaded weights in (``$TORCH_HOME/hub/checkpoints``)."""
    torch = require_framework("torch")
    return Path(torch.hub.get_dir()) / "checkpoints"


def _reachable(url: str, timeout: float = 1.5) -> bool:
    """True when a TCP connection to the host of ``url`` opens within ``timeout`` seconds."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def imagenet_weights_available(framework: str) -> bool:
    """True when the ImageNet weights chapter 14 shows for ``framework`` ("torch" or
    "keras") are in that framework's download cache, or can be downloaded (chapter 14)."""
    if framework == "torch":
        cached = torch_hub_checkpoints() / RESNET18_URL.rsplit("/", 1)[1]
        return cached.is_file() or _reachable(RESNET18_URL)
    if framework == "keras":
        cached = keras_home() / "models" / MOBILENET_V2_FILE
        return cached.is_file() or _reachable(MOBILENET_V2_URL)
    raise ValueError(f"framework must be 'torch' or 'keras', not {framework!r}")
