"""The course's own pretrained model: a small CNN trained on Fashion-MNIST (chapter 14).

The source task is the five clothing classes of Fashion-MNIST (``SOURCE_CLASSES``); the
other five (footwear, bags and shirts, ``TARGET_CLASSES``) are held out as the target task
of transfer learning (:func:`course_utils.data.fashion_classes` loads either).
``load_source_model()`` returns the trained PyTorch model, building it
on first use (seconds to a minute on a CPU) and caching its weights under
``cache_dir()/models``. The script ``scripts/train_source_model.py`` does the same from the
command line. The network is ``model.base`` (two convolution blocks that turn an image into
32 feature maps of 7 x 7) followed by ``model.head`` (flatten, a dense layer of 64 units, one
output per source class). ``keras_source_model`` builds the same network in Keras and copies
the PyTorch weights into it.

Nothing here imports torch or keras at module import time.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from course_utils.data.datasets import cache_dir, fashion_classes
from course_utils.frameworks import images_to_float, require_framework

N_BASE_FEATURES = 32 * 7 * 7  # the base turns a 28 x 28 image into 32 maps of 7 x 7
N_HIDDEN = 64
SOURCE_CLASSES = (0, 1, 2, 3, 4)  # T-shirt/top, Trouser, Pullover, Dress, Coat
TARGET_CLASSES = (5, 6, 7, 8, 9)  # Sandal, Shirt, Sneaker, Bag, Ankle boot
#: Training settings of the source model per profile: images, epochs.
SOURCE_SETTINGS = {"smoke": {"n_train": 600, "epochs": 1},
                   "full": {"n_train": 10000, "epochs": 2},
                   "gpu": {"n_train": 30000, "epochs": 5}}


def make_head(n_classes: int, seed: int | None = None):
    """A fresh classification head for the source CNN's base: flatten the (32, 7, 7) feature
    maps, a dense layer of 64 ReLU units, then ``n_classes`` outputs (chapter 14)."""
    torch = require_framework("torch")
    nn = torch.nn

    if seed is not None:
        torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(N_BASE_FEATURES, N_HIDDEN), nn.ReLU(),
                         nn.Linear(N_HIDDEN, n_classes))


def build_source_cnn(n_classes: int = len(SOURCE_CLASSES), seed: int = 0):
    """The source network as ``torch.nn.Sequential`` with two parts: ``base`` (``block1``: conv 16
    - ReLU - pool; ``block2``: conv 32 - ReLU - pool) and ``head`` (:func:`make_head`) (chapter 14)."""
    from collections import OrderedDict

    torch = require_framework("torch")
    nn = torch.nn

    torch.manual_seed(seed)
    base = nn.Sequential(OrderedDict(
        block1=nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        block2=nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
    ))
    return nn.Sequential(OrderedDict(base=base, head=make_head(n_classes)))


def source_weights_path(n_train: int, epochs: int, seed: int = 0) -> Path:
    """Where the weights of a source model trained with these settings are cached (chapter 14)."""
    return cache_dir() / "models" / f"fashion_source_cnn_v2_n{n_train}_e{epochs}_s{seed}.pt"


def train_source_model(n_train: int = 10000, epochs: int = 2, seed: int = 0, batch_size: int = 128,
                       lr: float = 2e-3, verbose: bool = True):
    """Train the source CNN on ``n_train`` Fashion-MNIST images of the source classes; return
    ``(model, test_accuracy)`` (chapter 14)."""
    from course_utils.frameworks import torch_accuracy, torch_fit, torch_loader

    torch = require_framework("torch")
    data = fashion_classes(SOURCE_CLASSES, n_train=n_train, n_test=2000, seed=seed, verbose=verbose)
    x_train = images_to_float(data.x_train, channels_last=False)
    x_test = images_to_float(data.x_test, channels_last=False)
    model = build_source_cnn(len(data.class_names), seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    train_loader = torch_loader(x_train, data.y_train, batch_size=batch_size, seed=seed)
    torch_fit(model, train_loader, optimizer, torch.nn.CrossEntropyLoss(), epochs, progress=False)
    accuracy = torch_accuracy(model, torch_loader(x_test, data.y_test, batch_size=500, shuffle=False))
    model.eval()
    return model, accuracy


def load_source_model(n_train: int | None = None, epochs: int | None = None, seed: int = 0,
                      profile=None, retrain: bool = False, verbose: bool = True):
    """The pretrained Fashion-MNIST CNN: loaded from the cache, or trained and saved there on
    first use. Sizes default to the run profile's (``SOURCE_SETTINGS``) (chapter 14)."""
    from course_utils.profile import get_profile

    torch = require_framework("torch")

    settings = SOURCE_SETTINGS[(profile or get_profile()).name]
    n_train = settings["n_train"] if n_train is None else n_train
    epochs = settings["epochs"] if epochs is None else epochs
    path = source_weights_path(n_train, epochs, seed)
    model = build_source_cnn(len(SOURCE_CLASSES), seed=seed)
    if path.is_file() and not retrain:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["weights"])
        if verbose:
            print(f"Loaded the source model from {path} (source-task test accuracy "
                  f"{state['test_accuracy']:.3f}).")
    else:
        if verbose:
            print(f"Training the source model on {n_train} Fashion-MNIST images for {epochs} "
                  "epoch(s); it is cached for next time.")
        start = time.perf_counter()
        model, accuracy = train_source_model(n_train, epochs, seed, verbose=verbose)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        torch.save({"weights": model.state_dict(), "test_accuracy": accuracy,
                    "n_train": n_train, "epochs": epochs, "seed": seed}, tmp)
        tmp.replace(path)
        if verbose:
            print(f"Trained in {time.perf_counter() - start:.0f} s, source-task test accuracy "
                  f"{accuracy:.3f}; saved to {path}.")
    model.eval()
    return model


def keras_source_model(torch_model=None, n_classes: int = len(SOURCE_CLASSES)):
    """The same network in Keras (channels last), with the weights of ``torch_model`` copied in
    when given. Layers are named ``block1_conv``, ``block2_conv``, ``head_dense`` and ``head_out``
    (chapter 14)."""
    keras = require_framework("keras")
    layers = keras.layers

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu", name="block1_conv"),
        layers.MaxPooling2D(2, name="block1_pool"),
        layers.Conv2D(32, 3, padding="same", activation="relu", name="block2_conv"),
        layers.MaxPooling2D(2, name="block2_pool"),
        layers.Flatten(name="head_flatten"),
        layers.Dense(N_HIDDEN, activation="relu", name="head_dense"),
        layers.Dense(n_classes, name="head_out"),
    ], name="source_cnn")
    if torch_model is not None:
        copy_torch_weights_to_keras(torch_model, model)
    return model


def copy_torch_weights_to_keras(torch_model, keras_model) -> None:
    """Copy the source CNN's weights from PyTorch to Keras: convolution kernels go from
    (out, in, h, w) to (h, w, in, out) and the dense layer after ``Flatten`` is reordered from
    channels-first to channels-last (chapter 14)."""
    state = {k: v.detach().cpu().numpy() for k, v in torch_model.state_dict().items()}
    for block in ("block1", "block2"):  # conv kernels (out, in, h, w) -> (h, w, in, out)
        kernel, bias = state[f"base.{block}.0.weight"], state[f"base.{block}.0.bias"]
        keras_model.get_layer(f"{block}_conv").set_weights([np.transpose(kernel, (2, 3, 1, 0)), bias])
    dense = state["head.1.weight"]  # (64, 32*7*7), inputs in (channel, row, column) order
    dense = dense.reshape(-1, 32, 7, 7).transpose(2, 3, 1, 0).reshape(N_BASE_FEATURES, -1)
    keras_model.get_layer("head_dense").set_weights([dense, state["head.1.bias"]])
    out = keras_model.get_layer("head_out")
    if out.get_weights()[0].shape == state["head.3.weight"].T.shape:
        out.set_weights([state["head.3.weight"].T, state["head.3.bias"]])
