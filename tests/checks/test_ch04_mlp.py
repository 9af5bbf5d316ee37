"""Chapter 04 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from course_utils.checks.core import salted
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

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


def features_einsum(x, weights, biases):
    """Another style: einsum and a where, float32."""
    z = np.einsum("n,k->nk", x.astype(np.float32), weights.astype(np.float32)) + biases.astype(np.float32)
    return np.where(z > 0, z, np.float32(0))


@pytest.mark.parametrize("answer", [features_broadcast, features_einsum])
def test_relu_features_accepts(answer):
    assert check("04.relu_features", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda x, w, b: np.outer(x, w) + b, "apply the ReLU"),
    (lambda x, w, b: np.maximum(0, np.outer(x, w) - b), "do not subtract"),
    (lambda x, w, b: np.maximum(0, np.outer(x, w) + b).T, "not \\(k, n\\)"),
    (lambda x, w, b: np.minimum(0, np.outer(x, w) + b), "not min"),
    (features_loop, "without a Python loop"),
])
def test_relu_features_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("04.relu_features", answer)


# ---------------------------------------------------------------- 04.relu_interpolant


def interpolant_loop(t, v):
    a, previous = [], 0.0
    for j in range(len(t) - 1):
        slope = (v[j + 1] - v[j]) / (t[j + 1] - t[j])
        a.append(slope - previous)
        previous = slope
    return np.array(a)


def interpolant_lstsq(t, v):
    """Another method: solve the square system of the k interpolation conditions."""
    t, v = np.asarray(t), np.asarray(v)
    design = np.maximum(0.0, t[1:, None] - t[None, :-1])
    return np.linalg.solve(design, v[1:] - v[0]).astype(np.float32)


@pytest.mark.parametrize("answer", [interpolant_loop, interpolant_lstsq])
def test_relu_interpolant_accepts(answer):
    assert check("04.relu_interpolant", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda t, v: np.diff(v) / np.diff(t), "CHANGE of slope"),
    (lambda t, v: np.diff(np.diff(v), prepend=0.0), "knot spacing"),
    (lambda t, v: np.concatenate([[0.0], np.diff(np.diff(v) / np.diff(t))]),
     "first unit starts from slope 0"),
    (lambda t, v: np.diff(np.diff(v) / np.diff(t), prepend=0.0, append=0.0), "len\\(t\\) - 1"),
    (lambda t, v: None, "is None"),
])
def test_relu_interpolant_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("04.relu_interpolant", answer)


# ---------------------------------------------------------------- 04.dead_units


def dead_loop(X, W1, b1):
    return np.array([all(float(x @ W1[:, j] + b1[j]) <= 0 for x in X) for j in range(W1.shape[1])])


def dead_max(X, W1, b1):
    return (X @ W1 + b1).max(axis=0) <= 0


@pytest.mark.parametrize("answer", [dead_loop, dead_max])
def test_dead_units_accepts(answer):
    assert check("04.dead_units", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda X, W1, b1: np.all(X @ W1 + b1 < 0, axis=0), "exactly 0 gives no gradient"),
    (lambda X, W1, b1: np.any(X @ W1 + b1 <= 0, axis=0), "EVERY sample"),
    (lambda X, W1, b1: ~np.all(X @ W1 + b1 <= 0, axis=0), "not the live ones"),
    (lambda X, W1, b1: int(np.all(X @ W1 + b1 <= 0, axis=0).sum()), "not a count"),
    (lambda X, W1, b1: np.all(X @ W1 + b1 <= 0, axis=0).astype(float), "boolean array"),
    (lambda X, W1, b1: np.all(X @ W1 + b1 <= 0, axis=1), "shape"),
])
def test_dead_units_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("04.dead_units", answer)


# ---------------------------------------------------------------- 04.train_tanh_regressor


def tanh_gd(x, y, n_hidden, seed=0, steps=4000, lr=0.02, momentum=0.9, train_hidden=True):
    rng = np.random.default_rng(seed)
    X = np.asarray(x, dtype=float).reshape(-1, 1)
    params = [rng.normal(0, 1, (1, n_hidden)), rng.uniform(-2, 2, n_hidden),
              rng.normal(0, 1 / np.sqrt(n_hidden), n_hidden), 0.0]
    velocity = [0.0] * 4
    for _ in range(steps):
        W1, b1, w2, b2 = params
        H = np.tanh(X @ W1 + b1)
        g = 2 * (H @ w2 + b2 - y) / len(X)
        dZ = np.outer(g, w2) * (1 - H**2)
        grads = [X.T @ dZ * train_hidden, dZ.sum(axis=0) * train_hidden, H.T @ g, g.sum()]
        velocity = [momentum * v - lr * gr for v, gr in zip(velocity, grads, strict=True)]
        params = [p + v for p, v in zip(params, velocity, strict=True)]
    return dict(zip(["W1", "b1", "w2", "b2"], params, strict=True))


def tanh_adam_float32(x, y, n_hidden, seed=0):
    """Another optimiser, float32 parameters and a list-of-arrays loop."""
    rng = np.random.default_rng(seed + 1)
    X = np.asarray(x, dtype=np.float32)[:, None]
    y = np.asarray(y, dtype=np.float32)
    p = [rng.normal(0, 1, (1, n_hidden)).astype(np.float32),
         rng.uniform(-2, 2, n_hidden).astype(np.float32),
         np.zeros(n_hidden, np.float32), np.zeros(1, np.float32)]
    m = [np.zeros_like(a) for a in p]
    v = [np.zeros_like(a) for a in p]
    for t in range(1, 3001):
        H = np.tanh(X @ p[0] + p[1])
        g = 2 * (H @ p[2] + p[3] - y) / len(X)
        dZ = np.outer(g, p[2]) * (1 - H**2)
        grads = [X.T @ dZ, dZ.sum(0), H.T @ g, g.sum(keepdims=True)]
        for i, gr in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * gr
            v[i] = 0.999 * v[i] + 0.001 * gr**2
            p[i] = p[i] - 0.01 * (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
    return {"W1": p[0], "b1": p[1], "w2": p[2], "b2": p[3][0]}


@pytest.mark.parametrize("answer", [tanh_gd, tanh_adam_float32])
def test_train_tanh_regressor_accepts(answer):
    assert check("04.train_tanh_regressor", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda x, y, h, seed=0: tanh_gd(x, y, h, seed, train_hidden=False, steps=300), "straight line"),
    (lambda x, y, h, seed=0: tanh_gd(x, y, h, seed, steps=100), "not enough"),
    (lambda x, y, h, seed=0: tanh_gd(x, y, h, seed, lr=5.0, steps=200), "NaN or inf"),
    (lambda x, y, h, seed=0: tuple(tanh_gd(x, y, h, seed, steps=10).values()), "dict"),
    (lambda x, y, h, seed=0: tanh_gd(x, y, h + 1, seed, steps=10), "shapes should be"),
])
def test_train_tanh_regressor_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("04.train_tanh_regressor", answer)



# ---------------------------------------------------------------- 04.shallow_sawtooth


def sawtooth_knots(depth, lo, hi, slope_scale=1.0, units=None):
    """One hinge max(0, x - t_j) at the start of each piece; ``units`` pads with idle ones."""
    pieces = 2**depth
    knots = lo + (hi - lo) * np.arange(pieces) / pieces
    slopes = slope_scale * pieces / (hi - lo) * (-1.0) ** np.arange(pieces)
    a = np.diff(slopes, prepend=0.0)
    if units is not None:
        extra = units - pieces
        return (np.r_[np.ones(pieces), np.ones(extra)], np.r_[-knots, -(hi + 1) * np.ones(extra)],
                np.r_[a, np.zeros(extra)], 0.0)
    return np.ones(pieces), -knots, a, 0.0


def sawtooth_mirrored(depth, lo, hi):
    """The sawtooth is symmetric about the middle of [lo, hi], so hinges facing left,
    max(0, (hi + lo - t_j) - x), with the same output weights; returned as lists and a float32."""
    _, minus_knots, a, _ = sawtooth_knots(depth, lo, hi)
    return list(-np.ones(2**depth)), list(hi + lo + minus_knots), list(a), np.float32(0.0)


def sawtooth_rescaled(depth, lo, hi):
    """The lecture's hinges on u = (x - lo) / (hi - lo): w = 1 / (hi - lo), slopes +-2**depth."""
    pieces = 2**depth
    a = np.diff(pieces * (-1.0) ** np.arange(pieces), prepend=0.0)
    return np.full(pieces, 1 / (hi - lo)), -(lo / (hi - lo) + np.arange(pieces) / pieces), a, 0.0


def sawtooth_interpolated(depth, lo, hi):
    """Exercise 4's route: interpolate 0, 1, 0, 1, ... at 2**depth + 1 evenly spaced points."""
    t = np.linspace(lo, hi, 2**depth + 1)
    v = np.arange(2**depth + 1) % 2.0
    a = np.diff(np.r_[0.0, np.diff(v) / np.diff(t)])
    return np.ones(2**depth), -t[:-1], a, v[0]


@pytest.mark.parametrize("answer", [sawtooth_knots, sawtooth_mirrored, sawtooth_rescaled, sawtooth_interpolated])
def test_shallow_sawtooth_accepts(answer):
    assert check("04.shallow_sawtooth", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda depth, lo, hi: sawtooth_knots(depth, lo, hi, slope_scale=0.5), "not half of that"),
    (lambda depth, lo, hi: sawtooth_knots(depth, lo, hi, slope_scale=hi - lo), "divide the slopes by hi - lo"),
    (lambda depth, lo, hi: sawtooth_knots(depth, 0.0, 1.0), "sawtooth on \\[0, 1\\], not s on \\[lo, hi\\]"),
    (lambda depth, lo, hi: sawtooth_knots(1, lo, hi), "single tent"),
    (lambda depth, lo, hi: sawtooth_knots(min(depth, 6), lo, hi), "for depth (7|8|9|10) on"),
    (lambda depth, lo, hi: sawtooth_knots(depth, abs(lo), hi), "on \\[lo, hi\\] = \\[-"),
    (lambda depth, lo, hi: sawtooth_knots(depth, lo, hi, units=2**depth + 2), "at most 2\\*\\*"),
    (lambda depth, lo, hi: sawtooth_knots(depth, lo, hi)[:3], "four parts"),
    (lambda depth, lo, hi: (*sawtooth_knots(depth, lo, hi)[:3], np.zeros(2)), "c should be one number"),
    (lambda depth, lo, hi: (*sawtooth_knots(depth, lo, hi)[:2], [1.0], 0.0), "one length"),
])
def test_shallow_sawtooth_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("04.shallow_sawtooth", answer)


def test_shallow_sawtooth_answers_recorded_without_the_salt_fail_with_it():
    """The intervals are drawn from the salted generator: a table of the answers to the
    published inputs passes without a secret and fails under one."""
    table = {}

    def recording(depth, lo, hi):
        table[depth, lo, hi] = sawtooth_knots(depth, lo, hi)
        return table[depth, lo, hi]

    def replaying(depth, lo, hi):
        return table.get((depth, lo, hi), sawtooth_knots(depth, 0.0, 1.0))

    assert check("04.shallow_sawtooth", recording) and check("04.shallow_sawtooth", replaying)
    with salted(271828), pytest.raises(CheckFailed):
        check("04.shallow_sawtooth", replaying)


@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("04")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
