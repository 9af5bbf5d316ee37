"""Chapter 00 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check


def good_sum(X, w, b):
    return np.dot(X, w) + b


def loop_sum(X, w, b):
    """A loop over samples and features: different code, same function."""
    rows = np.atleast_2d(X)
    out = np.array([sum(xi * wi for xi, wi in zip(row, w, strict=True)) + b for row in rows])
    return out if np.ndim(X) == 2 else out[0]


@pytest.mark.parametrize("answer", [good_sum, loop_sum, lambda X, w, b: np.float32(1) * (X @ w) + b])
def test_weighted_sum_accepts(answer):
    assert check("00.weighted_sum", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda X, w, b: X @ w, "bias is missing"),
    (lambda X, w, b: X @ w - b, "added, not subtracted"),
    (lambda X, w, b: np.sum(X * w) + b, "axis 1"),
    (lambda X, w, b: None, "is None"),
])
def test_weighted_sum_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("00.weighted_sum", answer)


def test_gate_weights():
    check("00.gate_weights", {"AND": ([2, 2], -3), "OR": ((1, 1), -0.5), "NAND": (np.array([-1, -1]), 1.5)})
    with pytest.raises(CheckFailed, match="compute OR, not AND"):
        check("00.gate_weights", {"AND": ([1, 1], -0.5), "OR": ([1, 1], -0.5), "NAND": ([-1, -1], 1.5)})
    with pytest.raises(CheckFailed, match="exactly on the boundary"):
        check("00.gate_weights", {"AND": ([1, 1], -1.0), "OR": ([1, 1], -0.5), "NAND": ([-1, -1], 1.5)})
    with pytest.raises(CheckFailed, match="no entry for 'NAND'"):
        check("00.gate_weights", {"AND": ([1, 1], -1.5), "OR": ([1, 1], -0.5)})
    with pytest.raises(CheckFailed, match="should be a dict"):
        check("00.gate_weights", [1, 2])


def _update(sign=1, bias=True, lr_used=True, always=False):
    def update(w, b, x, y, lr):
        error = y - int(np.dot(w, x) + b >= 0)
        if always:
            error = 1
        rate = lr if lr_used else 1
        return w + sign * rate * error * x, (b + sign * rate * error if bias else b)
    return update


def test_perceptron_update():
    check("00.perceptron_update", _update())
    for wrong, hint in [(_update(sign=-1), "wrong sign"), (_update(bias=False), "bias is not updated"),
                        (_update(lr_used=False), "learning rate is missing"),
                        (_update(always=True), "correct prediction must leave")]:
        with pytest.raises(CheckFailed, match=hint):
            check("00.perceptron_update", wrong)


def test_train_perceptron():
    def train(X, y, lr, n_epochs):
        w, b = np.zeros(2), 0.0
        for _ in range(n_epochs):
            for x_i, y_i in zip(X, y, strict=True):
                error = y_i - (x_i @ w + b >= 0)
                w, b = w + lr * error * x_i, b + lr * error
        return w, b

    check("00.train_perceptron", train)

    def one_epoch_only(X, y, lr, n_epochs):
        return train(X[:3], y[:3], lr, 1)

    with pytest.raises(CheckFailed, match="n_epochs=1 is wrong"):
        check("00.train_perceptron", one_epoch_only)
    with pytest.raises(CheckFailed, match="pair"):
        check("00.train_perceptron", lambda X, y, lr, n: np.zeros(2))
