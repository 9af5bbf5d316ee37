"""The course's own pretrained model: a small CNN trained on Fashion-MNIST (chapter 14).

The source task is five Fashion-MNIST classes (``SOURCE_CLASSES``); the other five
(``TARGET_CLASSES``) are held out as the target task of transfer learning
(:func:`course_utils.data.fashion_classes` loads either). ``load_source_model()`` returns the
trained PyTorch model, training it on first use (one to a few minutes on a CPU in the full
profile, depending on the load) and caching its weights under ``cache_dir()/models``; later calls only load
them. ``scripts/train_source_model.py`` does the same from the command line. The network is
``model.base``, which turns an image into ``N_FEATURES`` numbers (``block1`` and ``block2``:
convolution, batch normalisation, ReLU, pooling; then ``flatten`` of the 32 maps of 7 x 7),
followed by the source task's ``model.head`` (a dense ReLU layer of 128 units and one output
per class). A target task replaces the head by :func:`make_head`, one linear layer. ``keras_source_model``
builds the same network in Keras and copies the PyTorch weights, batch-norm statistics
included, into it.

Nothing here imports torch or keras at module import time.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from course_utils.data.datasets import cache_dir, fashion_classes
from course_utils.frameworks import images_to_float, require_framework

N_FEATURES = 32 * 7 * 7  # the base turns a 28 x 28 image into 32 maps of 7 x 7, flattened
N_HIDDEN = 128  # the source head's dense layer
SOURCE_CLASSES = (0, 1, 4, 5, 8)  # T-shirt/top, Trouser, Coat, Sandal, Bag
TARGET_CLASSES = (2, 3, 6, 7, 9)  # Pullover, Dress, Shirt, Sneaker, Ankle boot
#: Training settings of the source model per profile: images (None: all 30,000), epochs.
SOURCE_SETTINGS = {"smoke": {"n_train": 600, "epochs": 1},
                   "full": {"n_train": None, "epochs": 3},
                   "gpu": {"n_train": None, "epochs": 10}}


def make_head(n_classes: int, seed: int | None = None):
    """A fresh linear head (a linear probe) for the source CNN's base: ``N_FEATURES`` features to
    ``n_classes`` logits (chapter 14)."""
    torch = require_framework("torch")

    if seed is not None:
        torch.manual_seed(seed)
    return torch.nn.Linear(N_FEATURES, n_classes)


def build_source_cnn(n_classes: int = len(SOURCE_CLASSES), seed: int = 0, head: str = "linear"):
    """The CNN of chapter 14 as ``torch.nn.Sequential`` with two parts: ``base`` (``block1``: conv 16 -
    BN - ReLU - pool; ``block2``: conv 32 - BN - ReLU - pool; ``flatten``) and ``head``: a linear
    layer (:func:`make_head`, ``head="linear"``) or, for the source task, ``head="mlp"``: dense 128,
    ReLU, linear (chapter 14)."""
    from collections import OrderedDict

    torch = require_framework("torch")
    nn = torch.nn
    if head not in ("linear", "mlp"):
        raise ValueError("head must be 'linear' or 'mlp'")

    def conv_block(c_in, c_out):
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                             nn.ReLU(), nn.MaxPool2d(2))

    torch.manual_seed(seed)
    base = nn.Sequential(OrderedDict(block1=conv_block(1, 16), block2=conv_block(16, 32), flatten=nn.Flatten()))
    if head == "mlp":
        top = nn.Sequential(nn.Linear(N_FEATURES, N_HIDDEN), nn.ReLU(), nn.Linear(N_HIDDEN, n_classes))
    else:
        top = make_head(n_classes)
    return nn.Sequential(OrderedDict(base=base, head=top))


def source_weights_path(n_train: int | None, epochs: int, seed: int = 0) -> Path:
    """Where the weights of a source model trained with these settings are cached (chapter 14)."""
    size = "all" if n_train is None else str(n_train)
    classes = "".join(str(c) for c in SOURCE_CLASSES)
    return cache_dir() / "models" / f"fashion_source_cnn_v4_c{classes}_n{size}_e{epochs}_s{seed}.pt"


def fit_cnn(x_train, y_train, n_classes: int, epochs: int, seed: int = 0, batch_size: int = 128,
            max_lr: float = 3e-3):
    """A fresh CNN with the source task's MLP head (:func:`build_source_cnn`) trained on images
    ``x_train`` (N, 1, 28, 28) and labels ``y_train`` with Adam and a one-cycle schedule; returned
    in evaluation mode (chapter 14)."""
    from course_utils.frameworks import torch_fit, torch_loader

    torch = require_framework("torch")
    model = build_source_cnn(n_classes, seed=seed, head="mlp")
    train_loader = torch_loader(x_train, y_train, batch_size=batch_size, seed=seed)
    optimizer = torch.optim.Adam(model.parameters())
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, cycle_momentum=False,
                                                   total_steps=epochs * len(train_loader))
    optimizer.register_step_post_hook(lambda *args: schedule.step())
    torch_fit(model, train_loader, optimizer, torch.nn.CrossEntropyLoss(), epochs, progress=False)
    model.eval()
    return model


def train_source_model(n_train: int | None = None, epochs: int = 3, seed: int = 0, batch_size: int = 128,
                       max_lr: float = 3e-3, verbose: bool = True):
    """Train the source CNN on ``n_train`` Fashion-MNIST images of the source classes (None: all of
    them) with :func:`fit_cnn`; return ``(model, test_accuracy)`` (chapter 14)."""
    from course_utils.frameworks import torch_accuracy, torch_loader

    data = fashion_classes(SOURCE_CLASSES, n_train=n_train, n_test=2000, seed=seed, verbose=verbose)
    x_train = images_to_float(data.x_train, channels_last=False)
    x_test = images_to_float(data.x_test, channels_last=False)
    model = fit_cnn(x_train, data.y_train, len(data.class_names), epochs, seed, batch_size, max_lr)
    accuracy = torch_accuracy(model, torch_loader(x_test, data.y_test, batch_size=500, shuffle=False))
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
    model = build_source_cnn(len(SOURCE_CLASSES), seed=seed, head="mlp")
    if path.is_file() and not retrain:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["weights"])
        if verbose:
            print(f"Loaded the source model, trained by this course earlier (source-task test "
                  f"accuracy {state['test_accuracy']:.3f}).")
    else:
        size = "all" if n_train is None else f"{n_train:,}"
        if verbose:
            print(f"Training the source model on {size} Fashion-MNIST images of the source classes "
                  f"for {epochs} epoch(s), once: the weights are cached for next time.")
        start = time.perf_counter()
        model, accuracy = train_source_model(n_train, epochs, seed, verbose=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        torch.save({"weights": model.state_dict(), "test_accuracy": accuracy,
                    "n_train": n_train, "epochs": epochs, "seed": seed}, tmp)
        tmp.replace(path)
        if verbose:
            print(f"Trained in {time.perf_counter() - start:.0f} s, source-task test accuracy "
                  f"{accuracy:.3f}.")
    model.eval()
    return model


def keras_source_model(torch_model=None, n_classes: int = len(SOURCE_CLASSES), head: str = "mlp"):
    """The same network in Keras (channels last), with the weights of ``torch_model`` copied in
    when given. Layers are named ``block1_conv``, ``block1_bn``, ..., ``flatten`` and, for the
    ``"mlp"`` head, ``head_dense`` and ``head_out`` (``"linear"``: ``head_out`` only) (chapter 14)."""
    keras = require_framework("keras")
    layers = keras.layers

    def conv_block(name, c_out):
        return [layers.Conv2D(c_out, 3, padding="same", use_bias=False, name=f"{name}_conv"),
                layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn"),
                layers.ReLU(name=f"{name}_relu"), layers.MaxPooling2D(2, name=f"{name}_pool")]

    top = [layers.Dense(n_classes, name="head_out")]
    if head == "mlp":
        top = [layers.Dense(N_HIDDEN, activation="relu", name="head_dense")] + top
    model = keras.Sequential([keras.Input((28, 28, 1)), *conv_block("block1", 16), *conv_block("block2", 32),
                              layers.Flatten(name="flatten"), *top], name="source_cnn")
    if torch_model is not None:
        copy_torch_weights_to_keras(torch_model, model)
    return model


def _flatten_order(weight):
    """A dense layer's (out, 32*7*7) weights from PyTorch's (channel, row, column) input order to
    Keras' (row, column, channel) order, as (32*7*7, out)."""
    return weight.reshape(-1, 32, 7, 7).transpose(2, 3, 1, 0).reshape(N_FEATURES, -1)


def copy_torch_weights_to_keras(torch_model, keras_model) -> None:
    """Copy the CNN's weights from PyTorch to Keras: convolution kernels go from (out, in, h, w) to
    (h, w, in, out), batch norm keeps (gamma, beta, mean, variance), and the dense layer after
    ``Flatten`` is reordered from channels-first to channels-last (chapter 14)."""
    state = {k: v.detach().cpu().numpy() for k, v in torch_model.state_dict().items()}
    for block in ("block1", "block2"):
        kernel = state[f"base.{block}.0.weight"]  # (out, in, h, w) -> (h, w, in, out)
        keras_model.get_layer(f"{block}_conv").set_weights([np.transpose(kernel, (2, 3, 1, 0))])
        bn = [state[f"base.{block}.1.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
        keras_model.get_layer(f"{block}_bn").set_weights(bn)
    if "head.0.weight" in state:  # the source task's MLP head
        keras_model.get_layer("head_dense").set_weights([_flatten_order(state["head.0.weight"]),
                                                         state["head.0.bias"]])
        out_w, out_b = state["head.2.weight"].T, state["head.2.bias"]
    else:  # a linear head on the flattened maps
        out_w, out_b = _flatten_order(state["head.weight"]), state["head.bias"]
    out = keras_model.get_layer("head_out")
    if out.get_weights()[0].shape == out_w.shape:
        out.set_weights([out_w, out_b])
