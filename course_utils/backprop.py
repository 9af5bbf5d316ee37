"""A two-layer NumPy classifier with hand-written backpropagation (chapters 05 and 06).

Chapter 05 derives and writes these functions step by step; chapter 06 imports them to
compare the hand-made gradients with PyTorch's and TensorFlow's automatic differentiation.
Convention: ``Z = X @ W + b`` with ``W`` of shape ``(n_in, n_out)``.
"""

from __future__ import annotations

import numpy as np


def relu(z):
    """max(0, z), element-wise."""
    return np.maximum(z, 0.0)


def softmax(logits):
    """Row-wise softmax, shifted by the row maximum so that exp never overflows."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def one_hot(labels, n_classes: int):
    """Integer labels (n,) to a one-hot matrix (n, n_classes)."""
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def cross_entropy(probs, labels):
    """Mean negative log-probability of the true classes."""
    picked = probs[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, None))))


def init_mlp(n_in: int, n_hidden: int, n_out: int, seed: int = 0, dtype=np.float64) -> dict:
    """He-initialised weights and zero biases of a two-layer MLP."""
    rng = np.random.default_rng(seed)
    return {
        "W1": (rng.standard_normal((n_in, n_hidden)) * np.sqrt(2.0 / n_in)).astype(dtype),
        "b1": np.zeros(n_hidden, dtype=dtype),
        "W2": (rng.standard_normal((n_hidden, n_out)) * np.sqrt(1.0 / n_hidden)).astype(dtype),
        "b2": np.zeros(n_out, dtype=dtype),
    }


def mlp_forward(params: dict, X):
    """Forward pass: returns the class probabilities and a cache of intermediate values."""
    Z1 = X @ params["W1"] + params["b1"]
    H = relu(Z1)
    Z2 = H @ params["W2"] + params["b2"]
    P = softmax(Z2)
    return P, {"X": X, "Z1": Z1, "H": H, "P": P}


def mlp_backward(params: dict, cache: dict, labels) -> dict:
    """Backward pass of the mean cross-entropy: the gradient of every parameter."""
    n = len(labels)
    dZ2 = (cache["P"] - one_hot(labels, cache["P"].shape[1])) / n
    dH = dZ2 @ params["W2"].T
    dZ1 = dH * (cache["Z1"] > 0)
    return {"W1": cache["X"].T @ dZ1, "b1": dZ1.sum(axis=0),
            "W2": cache["H"].T @ dZ2, "b2": dZ2.sum(axis=0)}


def mlp_loss(params: dict, X, labels) -> float:
    """Mean cross-entropy of the MLP on ``(X, labels)``."""
    return cross_entropy(mlp_forward(params, X)[0], labels)
