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


# --------------------------------------------------------------------------- leaky_relu_gain


def gain_by_quadrature(negative_slope):
    """Symmetric Gauss-Hermite quadrature integrates a leaky ReLU's square exactly."""
    u, w = np.polynomial.hermite_e.hermegauss(40)
    moment = np.sum(w * np.where(u > 0, u, negative_slope * u) ** 2) / np.sqrt(2 * np.pi)
    return float(1 / np.sqrt(moment))


@pytest.mark.parametrize("answer", [
    lambda negative_slope: float(np.sqrt(2.0 / (1.0 + negative_slope**2))),
    lambda negative_slope: (2.0 / (1 + negative_slope * negative_slope)) ** 0.5,  # no NumPy
    lambda negative_slope: gain_by_quadrature(negative_slope),
])
def test_leaky_relu_gain_accepts(answer):
    assert check("09.leaky_relu_gain", answer)


def _sampled_gain(negative_slope):
    u = np.random.default_rng(0).normal(size=200_000)
    return float(1 / np.sqrt(np.mean(np.where(u > 0, u, negative_slope * u) ** 2)))


@pytest.mark.parametrize("answer,hint", [
    (lambda a: float(np.sqrt(2 / (1 + a))), "square the slope"),
    (lambda a: float(2 / (1 + a**2)), "square root"),
    (lambda a: float(np.sqrt((1 + a**2) / 2)), "1 / g"),
    (lambda a: float(np.sqrt(1 / (0.5 + a**2))), "half of its second moment"),
    (_sampled_gain, "exact value"),
    (lambda a: float(np.sqrt(2 / (1 + a**2)) * (1 + 1e-3 * np.random.default_rng().normal())), "two calls"),
    (lambda a: np.array([np.sqrt(2 / (1 + a**2))]), "one float"),
    (lambda a: float(np.sqrt(2)), "is wrong"),  # the ReLU's gain for every slope
])
def test_leaky_relu_gain_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("09.leaky_relu_gain", answer)


# --------------------------------------------------------------------------- activation_gain


def gain_hermegauss(f, q=1.0):
    nodes, weights = np.polynomial.hermite_e.hermegauss(100)
    return float(np.sqrt(q / (np.sum(weights * f(np.sqrt(q) * nodes) ** 2) / np.sum(weights))))


def gain_hermgauss_loop(f, q=1.0):
    """Physicists' Hermite nodes rescaled by sqrt(2), and a loop over the nodes."""
    nodes, weights = np.polynomial.hermite.hermgauss(80)
    moment = 0.0
    for x, w in zip(nodes, weights, strict=True):
        moment += w / np.sqrt(np.pi) * float(f(np.array([np.sqrt(2 * q) * x]))[0]) ** 2
    return (q / moment) ** 0.5


@pytest.mark.parametrize("answer", [gain_hermegauss, gain_hermgauss_loop])
def test_activation_gain_accepts(answer):
    assert check("09.activation_gain", answer)


def _gain_with(moment_of):
    def answer(f, q=1.0):
        nodes, weights = np.polynomial.hermite_e.hermegauss(100)
        return moment_of(f, q, nodes, weights)
    return answer


@pytest.mark.parametrize("answer,hint", [
    (_gain_with(lambda f, q, u, w: float(np.sqrt(q / np.sum(w * f(np.sqrt(q) * u) ** 2)))),
     "sum to sqrt\\(2 pi\\)"),
    (_gain_with(lambda f, q, u, w: float(np.sqrt(q / (np.sum(w * f(q * u) ** 2) / w.sum())))),
     "sqrt\\(q\\) \\* u"),
    (_gain_with(lambda f, q, u, w: float(q / (np.sum(w * f(np.sqrt(q) * u) ** 2) / w.sum()))),
     "that is g\\*\\*2"),
    (_gain_with(lambda f, q, u, w: float(np.sqrt(1 / (np.sum(w * f(np.sqrt(q) * u) ** 2) / w.sum())))),
     "missing from the numerator"),
    (_gain_with(lambda f, q, u, w: float(np.sqrt(1 / (np.sum(w * f(u) ** 2) / w.sum())))),
     "evaluate the map at the q"),
    (_gain_with(lambda f, q, u, w: float(np.sqrt(q / (
        np.sum(w * f(np.sqrt(q) * u) ** 2) / w.sum() - (np.sum(w * f(np.sqrt(q) * u)) / w.sum()) ** 2)))),
     "not the variance"),
    (lambda f, q=1.0: float(np.sqrt(q / np.mean(f(np.sqrt(q) * np.random.default_rng(0).normal(size=100_000)) ** 2))),
     "six significant digits"),
    (lambda f, q=1.0: np.array([gain_hermegauss(f, q)]), "one float"),
])
def test_activation_gain_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("09.activation_gain", answer)


def test_activation_gain_physicists_nodes_get_their_hint():
    def answer(f, q=1.0):
        nodes, weights = np.polynomial.hermite.hermgauss(100)
        return float(np.sqrt(q / (np.sum(weights * f(np.sqrt(q) * nodes) ** 2) / weights.sum())))

    with pytest.raises(CheckFailed, match="hermgauss integrates against exp"):
        check("09.activation_gain", answer)


# --------------------------------------------------------------------------- orthogonal


def orthogonal_qr(fan_in, fan_out, rng, gain=1.0):
    tall = rng.standard_normal((max(fan_in, fan_out), min(fan_in, fan_out)))
    Q, R = np.linalg.qr(tall)
    Q = Q * np.sign(np.diag(R))
    return gain * (Q if fan_in >= fan_out else Q.T)


def orthogonal_polar(fan_in, fan_out, rng, gain=1.0):
    """The polar factor U V^T of a Gaussian matrix is uniformly distributed too (float32)."""
    U, _, Vt = np.linalg.svd(rng.normal(size=(fan_in, fan_out)), full_matrices=False)
    return (gain * U @ Vt).astype(np.float32)


@pytest.mark.parametrize("answer", [orthogonal_qr, orthogonal_polar])
def test_orthogonal_accepts(answer):
    assert check("09.orthogonal", answer)


def _ortho_without_sign_fix(fan_in, fan_out, rng, gain=1.0):
    Q, _ = np.linalg.qr(rng.standard_normal((max(fan_in, fan_out), min(fan_in, fan_out))))
    return gain * (Q if fan_in >= fan_out else Q.T)


def _ortho_square_only(fan_in, fan_out, rng, gain=1.0):
    Q, R = np.linalg.qr(rng.standard_normal((fan_in, fan_out)))
    return gain * Q * np.sign(np.diag(R))


def _ortho_own_seed(fan_in, fan_out, rng, gain=1.0):
    return orthogonal_qr(fan_in, fan_out, np.random.default_rng(0), gain)


@pytest.mark.parametrize("answer,hint", [
    (_ortho_without_sign_fix, "same sign in every draw"),
    (lambda i, o, rng, gain=1.0: orthogonal_qr(i, o, rng), "gain is missing"),
    (lambda i, o, rng, gain=1.0: orthogonal_qr(i, o, rng, gain**2), "gain\\*\\*2"),
    (_ortho_square_only, "transpose its Q"),
    (lambda i, o, rng, gain=1.0: gain * rng.normal(0, 1 / np.sqrt(max(i, o)), size=(i, o)), "not orthonormal"),
    (lambda i, o, rng, gain=1.0: orthogonal_qr(o, i, rng, gain), "transposed"),
    (_ortho_own_seed, "same generator|two different generators"),
])
def test_orthogonal_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("09.orthogonal", answer)


# --------------------------------------------------------------------------- residual_gradient_norms


def residual_norms(X, Y, weights, f, df, identity=True, output_f=False, reverse=False, scale=1.0,
                   as_list=False):
    inputs, zs = [X], []
    for i, W in enumerate(weights[:-1]):
        zs.append(inputs[-1] @ W)
        inputs.append(f(zs[-1]) if i == 0 else inputs[-1] + f(zs[-1]))
    out = inputs[-1] @ weights[-1]
    grad = scale * ((f(out) - Y) * df(out) if output_f else out - Y) / len(X)
    norms = [np.linalg.norm(inputs[-1].T @ grad)]
    grad_a = grad @ weights[-1].T
    for layer in range(len(weights) - 2, -1, -1):
        grad_z = grad_a * df(zs[layer])
        norms.append(np.linalg.norm(inputs[layer].T @ grad_z))
        branch = grad_z @ weights[layer].T
        grad_a = grad_a + branch if identity and layer > 0 else branch
    norms = norms if reverse else norms[::-1]
    return norms if as_list else np.array(norms)


def residual_norms_recursive(X, Y, weights, f, df):
    """Recursion over the layers with einsum: different code, same numbers (float32 result)."""
    def backward(a, layer):
        if layer == len(weights) - 1:
            grad_out = (a @ weights[layer] - Y) / len(X)
            return grad_out @ weights[layer].T, [np.sqrt(np.sum(np.einsum("ni,nj->ij", a, grad_out) ** 2))]
        z = a @ weights[layer]
        nxt = f(z) if layer == 0 else a + f(z)
        grad_next, later = backward(nxt, layer + 1)
        grad_z = grad_next * df(z)
        own = np.sqrt(np.sum(np.einsum("ni,nj->ij", a, grad_z) ** 2))
        grad_a = grad_z @ weights[layer].T + (grad_next if layer > 0 else 0.0)
        return grad_a, [own] + later

    return np.array(backward(X, 0)[1], dtype=np.float32)


@pytest.mark.parametrize("answer", [residual_norms, residual_norms_recursive])
def test_residual_gradient_norms_accepts(answer):
    assert check("09.residual_gradient_norms", answer)


@pytest.mark.parametrize("kwargs,hint", [
    ({"identity": False}, "two paths"),
    ({"output_f": True}, "output layer is linear"),
    ({"reverse": True}, "reverse order"),
    ({"scale": 2.0}, "without a factor 2"),
    ({"as_list": True}, "NumPy array"),
])
def test_residual_gradient_norms_rejects(kwargs, hint):
    def answer(X, Y, weights, f, df):
        return residual_norms(X, Y, weights, f, df, **kwargs)

    with pytest.raises(CheckFailed, match=hint):
        check("09.residual_gradient_norms", answer)


def test_residual_gradient_norms_plain_network_gets_its_hint():
    def plain(X, Y, weights, f, df):
        inputs, zs = [X], []
        for W in weights[:-1]:
            zs.append(inputs[-1] @ W)
            inputs.append(f(zs[-1]))
        grad = (inputs[-1] @ weights[-1] - Y) / len(X)
        norms = [np.linalg.norm(inputs[-1].T @ grad)]
        grad = grad @ weights[-1].T
        for layer in range(len(weights) - 2, -1, -1):
            grad_z = grad * df(zs[layer])
            norms.append(np.linalg.norm(inputs[layer].T @ grad_z))
            grad = grad_z @ weights[layer].T
        return np.array(norms[::-1])

    with pytest.raises(CheckFailed, match="adds its input"):
        check("09.residual_gradient_norms", plain)


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
    (lambda shape, layout: (1.5, 2), "pair of integers"),
    (lambda shape, layout: tuple(float(v) for v in fans_unpacking(shape, layout)), "pair of integers"),
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
    return out


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
