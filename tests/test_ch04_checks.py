"""Chapter 04 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check

OR_NAND_AND = {"W1": [[1, -1], [1, -1]], "b1": [-0.5, 1.5], "w2": [1, 1], "b2": -1.5}


def test_xor_weights_accepts():
    assert check("04.xor_weights", OR_NAND_AND)
    assert check("04.xor_weights", {"W1": np.array([[2.0, 1.0], [2.0, 1.0]]), "b1": np.array([-1.0, -1.5]),
                                    "w2": np.array([1.0, -2.0]), "b2": np.float32(-0.5)})


@pytest.mark.parametrize("answer,hint", [
    ({**OR_NAND_AND, "b2": -0.5}, "computes OR of \\(h1, h2\\)"),
    ({**OR_NAND_AND, "b1": [-1.5, 1.5]}, "Hidden neuron 1 computes AND"),
    ({**OR_NAND_AND, "W1": [[1, 1], [-1, -1]]}, "hidden gates are wrong"),
    ({**OR_NAND_AND, "b1": [-1.0, 1.5]}, "exactly 0"),
    ({"W1": OR_NAND_AND["W1"], "b1": [-0.5, 1.5], "w2": [1, 1]}, "no entry 'b2'"),
    ({**OR_NAND_AND, "W1": [1, 1, 1, 1]}, "expected shapes"),
    (None, "is None"),
])
def test_xor_weights_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("04.xor_weights", answer)


def forward_loops(X, W1, b1, W2, b2):
    out = np.zeros((len(X), W2.shape[1]))
    for i, x in enumerate(X):
        hidden = [max(0.0, float(x @ W1[:, j] + b1[j])) for j in range(W1.shape[1])]
        out[i] = np.array(hidden) @ W2 + b2
    return out


def forward_float32(X, W1, b1, W2, b2):
    f = np.float32
    H = (X.astype(f) @ W1.astype(f) + b1.astype(f)).clip(min=0)
    return H @ W2.astype(f) + b2.astype(f)


@pytest.mark.parametrize("answer", [forward_loops, forward_float32])
def test_mlp_forward_accepts(answer):
    assert check("04.mlp_forward", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda X, W1, b1, W2, b2: (X @ W1 + b1) @ W2 + b2, "needs its ReLU"),
    (lambda X, W1, b1, W2, b2: np.maximum(X @ W1, 0) @ W2 + b2, "hidden bias"),
    (lambda X, W1, b1, W2, b2: np.maximum(X @ W1 + b1, 0) @ W2, "output bias"),
    (lambda X, W1, b1, W2, b2: np.maximum(np.maximum(X @ W1 + b1, 0) @ W2 + b2, 0), "no ReLU after it"),
    (lambda X, W1, b1, W2, b2: W2.T @ np.maximum(W1.T @ X.T + b1[:, None], 0) + b2[:, None], "not \\(k, n\\)"),
    (lambda X, W1, b1, W2, b2: W1 @ X, "raised ValueError"),
])
def test_mlp_forward_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("04.mlp_forward", answer)


def features_broadcast(x, weights, biases):
    return np.maximum(0.0, x[:, None] * weights + biases)


def features_loop(x, weights, biases):
    return np.array([[max(0.0, w * xi + b) for w, b in zip(weights, biases, strict=True)] for xi in x])


@pytest.mark.parametrize("answer", [features_broadcast, features_loop])
def test_relu_features_accepts(answer):
    assert check("04.relu_features", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda x, w, b: np.outer(x, w) + b, "apply the ReLU"),
    (lambda x, w, b: np.maximum(0, np.outer(x, w) - b), "do not subtract"),
    (lambda x, w, b: np.maximum(0, np.outer(x, w) + b).T, "not \\(k, n\\)"),
    (lambda x, w, b: np.minimum(0, np.outer(x, w) + b), "not min"),
])
def test_relu_features_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("04.relu_features", answer)


def _features(x, w, b):
    return np.maximum(0.0, np.outer(x, w) + b)


def fit_even_knots(x, y, n_neurons):
    knots = np.linspace(x.min(), x.max(), n_neurons + 1)[:-1]

    def design(x_new):
        return np.c_[np.ones(len(x_new)), _features(x_new, np.ones(n_neurons), -knots)]

    coef, *_ = np.linalg.lstsq(design(x), y, rcond=None)
    return lambda x_new: design(np.asarray(x_new)) @ coef


def fit_quantile_knots_mixed_slopes(x, y, n_neurons):
    """Knots at quantiles, alternating slopes +1 / -1 (hinges opening left or right)."""
    knots = np.quantile(x, (np.arange(n_neurons) + 0.5) / n_neurons)
    slopes = np.where(np.arange(n_neurons) % 2 == 0, 1.0, -1.0)

    def design(x_new):
        return np.c_[np.ones(len(x_new)), _features(np.asarray(x_new), slopes, -slopes * knots)]

    coef, *_ = np.linalg.lstsq(design(x), y, rcond=None)
    return lambda x_new: (design(x_new) @ coef)[:, None]


@pytest.mark.parametrize("answer", [fit_even_knots, fit_quantile_knots_mixed_slopes])
def test_fit_relu_sum_accepts(answer):
    assert check("04.fit_relu_sum", answer)


def fit_polynomial(x, y, n_neurons):
    coef = np.polyfit(x, y, 3)
    return lambda x_new: np.polyval(coef, x_new)


def fit_no_bias(x, y, n_neurons):
    knots = np.linspace(0, x.max(), n_neurons + 1)[:-1]
    coef, *_ = np.linalg.lstsq(_features(x, np.ones(n_neurons), -knots), y, rcond=None)
    return lambda x_new: _features(np.asarray(x_new), np.ones(n_neurons), -knots) @ coef


def fit_too_many(x, y, n_neurons):
    return fit_even_knots(x, y, 4 * n_neurons)


@pytest.mark.parametrize("answer,hint", [
    (fit_polynomial, "bends at"),
    (fit_no_bias, "RMSE"),
    (fit_too_many, "at most one kink per neuron"),
    (lambda x, y, n: np.zeros(len(x)), "should be a function"),
    (lambda x, y, n: (lambda x_new: 0.0), "one value per point"),
])
def test_fit_relu_sum_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("04.fit_relu_sum", answer)
