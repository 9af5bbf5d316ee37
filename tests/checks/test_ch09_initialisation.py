"""Chapter 09 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

# --------------------------------------------------------------------------- xavier_uniform


def xavier_direct(fan_in, fan_out, rng):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def xavier_from_unit(fan_in, fan_out, rng):
    """Scale U(0, 1) samples: different code, same distribution, float32."""
    variance = 2.0 / (fan_in + fan_out)
    return ((rng.random((fan_in, fan_out)) * 2 - 1) * np.sqrt(3 * variance)).astype(np.float32)


@pytest.mark.parametrize("answer", [xavier_direct, xavier_from_unit])
def test_xavier_uniform_accepts(answer):
    assert check("09.xavier_uniform", answer)


def _uniform_with_limit(limit_of):
    def init(fan_in, fan_out, rng):
        limit = limit_of(fan_in, fan_out)
        return rng.uniform(-limit, limit, size=(fan_in, fan_out))
    return init


@pytest.mark.parametrize("answer,hint", [
    (_uniform_with_limit(lambda i, o: np.sqrt(2 / (i + o))), "a\\*\\*2 / 3"),
    (_uniform_with_limit(lambda i, o: np.sqrt(6 / i)), "fan_in only"),
    (_uniform_with_limit(lambda i, o: 6 / (i + o)), "missing its square root"),
    (lambda i, o, rng: rng.normal(0, np.sqrt(2 / (i + o)), size=(i, o)), "look normally distributed"),
    (lambda i, o, rng: xavier_direct(o, i, rng), "transposed"),
    (lambda i, o, rng: np.random.uniform(-np.sqrt(6 / (i + o)), np.sqrt(6 / (i + o)), size=(i, o)),
     "from the `rng` argument"),
    (lambda i, o, rng: rng.uniform(0, np.sqrt(6 / (i + o)), size=(i, o)), "mean 0"),
    (lambda i, o, rng: None, "is None"),
])
def test_xavier_uniform_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("09.xavier_uniform", answer)


def test_xavier_uniform_stub():
    def stub(fan_in, fan_out, rng):
        raise NotImplementedError("exercise")

    with pytest.raises(CheckFailed, match="not written yet"):
        check("09.xavier_uniform", stub)


# --------------------------------------------------------------------------- he_normal


@pytest.mark.parametrize("answer", [
    lambda i, o, rng: rng.normal(0.0, np.sqrt(2.0 / i), size=(i, o)),
    lambda i, o, rng: (rng.standard_normal((i, o)) * (2.0 / i) ** 0.5).astype(np.float32),
])
def test_he_normal_accepts(answer):
    assert check("09.he_normal", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda i, o, rng: rng.normal(0.0, np.sqrt(1.0 / i), size=(i, o)), "factor 2 is missing"),
    (lambda i, o, rng: rng.normal(0.0, np.sqrt(2.0 / o), size=(i, o)), "not fan_out"),
    (lambda i, o, rng: rng.normal(0.0, np.sqrt(2.0 / (i + o)), size=(i, o)), "Xavier variance"),
    (lambda i, o, rng: rng.normal(0.0, 2.0 / i, size=(i, o)), "standard deviation, not the variance"),
    (lambda i, o, rng: rng.uniform(-np.sqrt(6 / i), np.sqrt(6 / i), size=(i, o)), "uniform one 1.8"),
    (lambda i, o, rng: np.zeros((i, o)), "random at all"),
])
def test_he_normal_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("09.he_normal", answer)


# --------------------------------------------------------------------------- layer_stds


def stds_loop(X, weights, f):
    out, a = [], X
    for W in weights:
        a = f(a @ W)
        out.append(a.std())
    return out


def stds_ddof(X, weights, f):
    """Sample standard deviation (ddof=1) in float32: still accepted."""
    out, a = [], np.asarray(X, dtype=np.float32)
    for W in weights:
        a = f(a @ W.astype(np.float32))
        out.append(np.std(a, ddof=1))
    return np.array(out, dtype=np.float32)


@pytest.mark.parametrize("answer", [stds_loop, stds_ddof])
def test_layer_stds_accepts(answer):
    assert check("09.layer_stds", answer)


def _stds_pre(X, weights, f):
    out, a = [], X
    for W in weights:
        z = a @ W
        out.append(z.std())
        a = f(z)
    return out


def _stds_per_unit(X, weights, f):
    out, a = [], X
    for W in weights:
        a = f(a @ W)
        out.append(a.std(axis=0).mean())
    return out


@pytest.mark.parametrize("answer,hint", [
    (_stds_pre, "not the pre-activations"),
    (lambda X, weights, f: [X.std()] + stds_loop(X, weights, f), "without the input"),
    (_stds_per_unit, "per-unit"),
    (lambda X, weights, f: stds_loop(X, weights, lambda z: z), "apply f after every layer"),
])
def test_layer_stds_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("09.layer_stds", answer)


# --------------------------------------------------------------------------- gradient_norms


def norms_backprop(X, Y, weights, f, df, at_activation=False, derivative=True, scale=1.0, reverse=False):
    zs, acts = [], [X]
    for W in weights:
        zs.append(acts[-1] @ W)
        acts.append(f(zs[-1]))
    grad_a = scale * (acts[-1] - Y) / len(X)
    norms = []
    for layer in reversed(range(len(weights))):
        slope = df(acts[layer + 1]) if at_activation else df(zs[layer])
        grad_z = grad_a * slope if derivative else grad_a
        norms.append(np.linalg.norm(acts[layer].T @ grad_z))
        grad_a = grad_z @ weights[layer].T
    return norms if reverse else norms[::-1]


def norms_recursive(X, Y, weights, f, df):
    """A recursive formulation in float64 with explicit sums: different code, same numbers."""
    def backward(a_in, layer):
        z = a_in @ weights[layer]
        a = f(z)
        if layer == len(weights) - 1:
            grad_a = (a - Y) / X.shape[0]
            later = []
        else:
            grad_a, later = backward(a, layer + 1)
        grad_z = grad_a * df(z)
        grad_W = np.einsum("ni,nj->ij", a_in, grad_z)
        return grad_z @ weights[layer].T, [np.sqrt(np.sum(grad_W**2))] + later

    return backward(X, 0)[1]


@pytest.mark.parametrize("answer", [norms_backprop, norms_recursive])
def test_gradient_norms_accepts(answer):
    assert check("09.gradient_norms", answer)


@pytest.mark.parametrize("kwargs,hint", [
    ({"reverse": True}, "reverse order"),
    ({"derivative": False}, "activation's derivative"),
    ({"at_activation": True}, "not at the activation"),
    ({"scale": len}, "divide the output error by n"),
    ({"scale": 2.0}, "without a factor 2"),
])
def test_gradient_norms_rejects(kwargs, hint):
    if kwargs.get("scale") is len:
        def answer(X, Y, weights, f, df):
            return norms_backprop(X, Y, weights, f, df, scale=len(X))
    else:
        def answer(X, Y, weights, f, df):
            return norms_backprop(X, Y, weights, f, df, **kwargs)
    with pytest.raises(CheckFailed, match=hint):
        check("09.gradient_norms", answer)


def test_gradient_norms_crash_is_a_failure():
    def broken(X, Y, weights, f, df):
        return weights[0] @ X  # shapes do not match

    with pytest.raises(CheckFailed, match="raised ValueError"):
        check("09.gradient_norms", broken)


# --------------------------------------------------------------------------- kernel_fans


def fans_unpacking(shape, layout):
    if layout == "torch":
        c_out, c_in, *kernel = shape
    else:
        *kernel, c_in, c_out = shape
    field = int(np.prod(kernel))
    return c_in * field, c_out * field


def fans_loop(shape, layout):
    """Reorder the Keras layout into PyTorch's, then multiply in a loop; returns a list."""
    shape = list(shape)
    if layout == "keras":
        shape = [shape[-1], shape[-2]] + shape[:-2]
    field = 1
    for size in shape[2:]:
        field *= size
    return [shape[1] * field, shape[0] * field]


@pytest.mark.parametrize("answer", [fans_unpacking, fans_loop])
def test_kernel_fans_accepts(answer):
    assert check("09.kernel_fans", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda shape, layout: fans_unpacking(shape, layout)[::-1], "wrong order"),
    (lambda shape, layout: fans_unpacking(shape, "torch"), "layout"),
    (lambda shape, layout: (shape[1], shape[0]) if layout == "torch" else (shape[-2], shape[-1]),
     "receptive field"),
    (lambda shape, layout: (fans_unpacking(shape, layout)[0],
                            shape[0] if layout == "torch" else shape[-1]), "C_out alone"),
    (lambda shape, layout: (1.5, 2), "whole numbers"),
    (lambda shape, layout: 7, "pair"),
])
def test_kernel_fans_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("09.kernel_fans", answer)


# --------------------------------------------------------------------------- lsuv


def lsuv_loop(X, weights, f):
    out, a = [], X
    for W in weights:
        s = np.std(a @ W)
        out.append(W * (1.0 / s))
        a = f(a @ out[-1])
    return out


def lsuv_iterative(X, weights, f):
    """The original iterative form: rescale until the std is within tolerance (float32)."""
    out, a = [], X
    for W in weights:
        W = W.copy()
        for _ in range(20):
            s = (a @ W).std()
            if abs(s - 1) < 1e-9:
                break
            W = W / s
        out.append(W)
        a = f(a @ W)
    return tuple(out)


@pytest.mark.parametrize("answer", [lsuv_loop, lsuv_iterative])
def test_lsuv_accepts(answer):
    assert check("09.lsuv", answer)


def lsuv_not_in_order(X, weights, f):
    out, a = [], X
    for W in weights:
        out.append(W / (a @ W).std())
        a = f(a @ W)  # the unscaled layer feeds the next
    return out


def lsuv_activations(X, weights, f):
    out, a = [], X
    for W in weights:
        W = W / f(a @ W).std()
        out.append(W)
        a = f(a @ W)
    return out


def lsuv_columns(X, weights, f):
    out, a = [], X
    for W in weights:
        W = W / (a @ W).std(axis=0)
        out.append(W)
        a = f(a @ W)
    return out


def lsuv_multiplies(X, weights, f):
    out, a = [], X
    for W in weights:
        ref = W / (a @ W).std()
        out.append(W * (a @ W).std())
        a = f(a @ ref)
    return out


def lsuv_in_place(X, weights, f):
    a = X
    for i, W in enumerate(weights):
        weights[i] = W / (a @ W).std()
        a = f(a @ weights[i])
    return weights


@pytest.mark.parametrize("answer,hint", [
    (lsuv_not_in_order, "in order"),
    (lsuv_activations, "pre-activations"),
    (lsuv_columns, "column by column"),
    (lsuv_multiplies, "do not multiply"),
    (lsuv_in_place, "in place"),
    (lambda X, weights, f: weights[:1], "list of"),
    (lambda X, weights, f: [np.ones_like(W) for W in weights], "multiple of its old"),
])
def test_lsuv_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("09.lsuv", answer)


# --------------------------------------------------------------------------- torch_default_for_keras


def _keras():
    pytest.importorskip("keras")
    from course_utils.frameworks import select_keras_backend

    select_keras_backend()
    import keras

    return keras


def test_torch_default_for_keras_accepts():
    keras = _keras()

    def variance_scaling(seed):
        return keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform", seed=seed)

    class TorchDefault(keras.initializers.Initializer):
        """Written out: the fan-in is everything but the last axis."""

        def __init__(self, seed):
            self.seed = seed

        def __call__(self, shape, dtype=None):
            bound = 1 / np.sqrt(np.prod(shape[:-1]))
            uniform = keras.initializers.RandomUniform(-bound, bound, seed=self.seed)
            return uniform(shape, dtype=dtype)

    assert check("09.torch_default_for_keras", variance_scaling)
    assert check("09.torch_default_for_keras", TorchDefault)


@pytest.mark.parametrize("make,hint", [
    (lambda k: lambda seed: k.initializers.GlorotUniform(seed=seed), "Glorot"),
    (lambda k: lambda seed: k.initializers.HeUniform(seed=seed), "He uniform"),
    (lambda k: lambda seed: k.initializers.LecunUniform(seed=seed), "1/fan_in"),
    (lambda k: lambda seed: k.initializers.VarianceScaling(1 / 3, "fan_out", "uniform", seed=seed),
     "fan-out"),
    (lambda k: lambda seed: k.initializers.VarianceScaling(1 / 3, "fan_in", "truncated_normal",
                                                           seed=seed), "normally distributed"),
    (lambda k: lambda seed: k.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"), "seed"),
    (lambda k: lambda seed: "uniform", "initializer"),
])
def test_torch_default_for_keras_rejects(make, hint):
    keras = _keras()
    with pytest.raises(CheckFailed, match=hint):
        check("09.torch_default_for_keras", make(keras))


# --------------------------------------------------------------------------- held-out answers
# Each wrong answer here passed an earlier version of its check (a check holds the
# exercise statement, not a few outputs); each correct answer in another style must pass.


def test_non_square_shape_xavier_uniform():
    def transposed(fan_in, fan_out, rng):
        a = np.sqrt(6 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=(fan_out, fan_in))

    with pytest.raises(CheckFailed, match="shape"):
        check("09.xavier_uniform", transposed)



@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("09")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
