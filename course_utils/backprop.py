"""The two-layer NumPy classifier of chapter 05, with hand-written backpropagation.

These are the functions the chapter 05 lecture defines, letter for letter (a test compares
them with the lecture's cells); chapter 04 trains its digit recipe with them, and chapter 06
compares the hand-made gradients with PyTorch's and TensorFlow's automatic differentiation.
Convention: ``Z = X @ W + b`` with ``W`` of shape ``(n_in, n_out)``; ``params`` is a dict with
``W1``, ``b1``, ``W2``, ``b2``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["softmax", "log_softmax", "init_params", "forward", "backward", "predict", "train_minibatch"]


def softmax(logits):
    """Row-wise softmax; subtracting the row maximum avoids overflow in exp."""
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(logits):
    """Row-wise log-softmax, Z - logsumexp(Z), computed without overflow."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def init_params(n_in, n_hidden, n_out, seed=0):
    """He-scaled random weights (chapter 09 explains the scale), zero biases."""
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.standard_normal((n_in, n_hidden)) * np.sqrt(2 / n_in),
        "b1": np.zeros(n_hidden),
        "W2": rng.standard_normal((n_hidden, n_out)) * np.sqrt(1 / n_hidden),
        "b2": np.zeros(n_out),
    }


def forward(params, X, y):
    """Forward pass: the mean cross-entropy and the cache the backward pass needs."""
    Z1 = X @ params["W1"] + params["b1"]
    H = np.maximum(Z1, 0)
    log_P = log_softmax(H @ params["W2"] + params["b2"])
    loss = -np.mean(log_P[np.arange(len(y)), y])
    return loss, (X, Z1, H, np.exp(log_P))


def backward(params, cache, y):
    """Backward pass: the gradient of the loss for every parameter."""
    X, Z1, H, P = cache
    dZ2 = P.copy()
    dZ2[np.arange(len(y)), y] -= 1  # P - Y without building Y
    dZ2 /= len(y)
    dH = dZ2 @ params["W2"].T
    dZ1 = dH * (Z1 > 0)
    return {
        "W1": X.T @ dZ1,
        "b1": dZ1.sum(axis=0),
        "W2": H.T @ dZ2,
        "b2": dZ2.sum(axis=0),
    }


def predict(params, X):
    """Predicted class of each row of X."""
    H = np.maximum(X @ params["W1"] + params["b1"], 0)
    return np.argmax(H @ params["W2"] + params["b2"], axis=1)


def train_minibatch(params, X, y, lr, epochs, batch_size, optimiser="sgd", decay=False,
                    seed=0):
    """Mini-batch training with the hand-written backward pass, by "sgd" or "adam"
    steps; with decay=True the step size falls linearly to 0. Returns the epoch
    losses."""
    if optimiser not in ("sgd", "adam"):
        raise ValueError(f"optimiser must be 'sgd' or 'adam', not {optimiser!r}")
    rng = np.random.default_rng(seed)
    moments = {name: (np.zeros_like(v), np.zeros_like(v)) for name, v in params.items()}
    n_steps = epochs * -(-len(X) // batch_size)
    beta1, beta2, step, losses = 0.9, 0.999, 0, []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        total = 0.0
        for start in range(0, len(X), batch_size):
            batch = order[start : start + batch_size]
            loss, cache = forward(params, X[batch], y[batch])
            step += 1
            rate = lr * (1 - (step - 1) / n_steps) if decay else lr
            for name, grad in backward(params, cache, y[batch]).items():
                if optimiser == "sgd":
                    params[name] -= rate * grad
                    continue
                m, v = moments[name]
                m += (1 - beta1) * (grad - m)           # running mean of g
                v += (1 - beta2) * (grad * grad - v)    # running mean of g^2
                m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
                params[name] -= rate * m_hat / (np.sqrt(v_hat) + 1e-7)
            total += loss * len(batch)
        losses.append(total / len(X))
    return losses
