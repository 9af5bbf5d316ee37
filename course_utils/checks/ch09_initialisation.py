"""Checks for chapter 09, initialisation and vanishing or exploding gradients."""

from __future__ import annotations

import numbers

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    expect_equal,
    expect_pair,
    numerical_gradient,
    register,
    require_answer,
    seeded_rng,
    to_array,
)
from course_utils.frameworks import require_framework

# --------------------------------------------------------------------------- initialisers


def _draw(init, name, fan_in, fan_out, seed):
    """Call an initialiser (rng passed by keyword: drawing numbers changes its state) and
    return its weights as a float array of shape (fan_in, fan_out)."""
    result = call(init, fan_in, fan_out, rng=seeded_rng(seed), name=name)
    W = to_array(result, f"{name}({fan_in}, {fan_out}, rng)")
    if W.shape == (fan_out, fan_in) and fan_in != fan_out:
        raise CheckFailed(f"{name}({fan_in}, {fan_out}, rng) has shape {W.shape}: the matrix is "
                          "transposed. This course's layers compute x @ W, so W has shape (fan_in, fan_out).")
    if W.shape != (fan_in, fan_out):
        raise CheckFailed(f"{name}({fan_in}, {fan_out}, rng) has shape {W.shape}, expected (fan_in, fan_out) "
                          f"= {(fan_in, fan_out)}.")
    W = W.astype(float)
    if not np.all(np.isfinite(W)):
        raise CheckFailed(f"{name}({fan_in}, {fan_out}, rng) contains NaN or inf.")
    return W


def _check_uses_rng(init, name):
    first = _draw(init, name, 20, 30, seed=5)
    again = _draw(init, name, 20, 30, seed=5)
    other = _draw(init, name, 20, 30, seed=6)
    if not np.array_equal(first, again):
        raise CheckFailed(f"two calls of {name} with generators seeded alike gave different weights: draw "
                          "the numbers from the `rng` argument (rng.uniform, rng.normal), not from np.random.")
    if np.array_equal(first, other):
        raise CheckFailed(f"{name} gave the same weights for two different generators: are the weights "
                          "random at all, drawn from `rng`?")
    if np.unique(first).size < first.size // 2:
        raise CheckFailed(f"the weights of {name} repeat the same few values: draw each weight separately.")


def _kurtosis(W):
    centred = W - W.mean()
    return float(np.mean(centred**4) / np.mean(centred**2) ** 2)


def _diagnose_variance(name, W, expected, case, ratios, formula):
    """Compare the sample variance of W with ``expected``; name the mistake whose ratio matches."""
    ratio = float(W.var() / expected)
    if abs(ratio - 1.0) <= 0.03:
        return
    for hint, wrong_ratio in ratios.items():
        if abs(ratio / wrong_ratio - 1.0) <= 0.03:
            raise CheckFailed(f"the variance of {name}'s weights for {case} is {ratio:.3g} times {formula}: {hint}")
    raise CheckFailed(f"the variance of {name}'s weights for {case} is {ratio:.3g} times {formula}, the "
                      "variance it should have.")


def _check_mean(name, W, case):
    if abs(W.mean()) > 0.1 * W.std() + 1e-12:
        raise CheckFailed(f"the weights of {name} for {case} do not have mean 0 (their mean is "
                          f"{W.mean():.3g}, their std {W.std():.3g}): draw from a distribution centred on 0.")


@register("09.xavier_uniform")
def check_xavier_uniform(xavier_uniform):
    """xavier_uniform(fan_in, fan_out, rng) draws from U(-a, a), a = sqrt(6 / (fan_in + fan_out))."""
    name = "xavier_uniform"
    _check_uses_rng(xavier_uniform, name)
    for fan_in, fan_out in [(300, 500), (400, 100)]:
        case = f"fan_in={fan_in}, fan_out={fan_out}"
        W = _draw(xavier_uniform, name, fan_in, fan_out, seed=fan_in)
        _check_mean(name, W, case)
        expected = 2.0 / (fan_in + fan_out)
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        kurtosis = _kurtosis(W)
        if kurtosis > 2.4:
            raise CheckFailed(f"the weights of {name} for {case} look normally distributed (kurtosis "
                              f"{kurtosis:.2f}; a uniform distribution has 1.8): use rng.uniform(-limit, limit).")
        ratios = {
            "the limit a satisfies a**2 / 3 = variance: did you use sqrt(2 / (fan_in + fan_out)) as the limit?": 1 / 3,
            "the limit uses fan_in only (that is He's uniform limit); Xavier uses fan_in + fan_out":
            (fan_in + fan_out) / fan_in,
            "the limit uses fan_out only; Xavier uses fan_in + fan_out": (fan_in + fan_out) / fan_out,
            "the limit is missing its square root": 6.0 / (fan_in + fan_out),
            "the limit uses 3 / (fan_in + fan_out): the variance is 2 / (fan_in + fan_out), "
            "and a uniform U(-a, a) has variance a**2 / 3": 0.5,
        }
        _diagnose_variance(name, W, expected, case, ratios, "the Xavier variance")
        if np.abs(W).max() > limit * (1 + 1e-9):
            raise CheckFailed(f"some weights of {name} for {case} lie outside [-a, a], "
                              "a = sqrt(6 / (fan_in + fan_out)).")
        if np.abs(W).max() < 0.97 * limit:
            raise CheckFailed(f"the weights of {name} for {case} do not reach the limits of [-a, a], "
                              "a = sqrt(6 / (fan_in + fan_out)).")
    return "shape, bounds, mean and variance for two layer sizes"


# --------------------------------------------------------------------------- deep networks


def _tanh_prime(z):
    return 1.0 / np.cosh(z) ** 2


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _sigmoid_prime(z):
    s = _sigmoid(z)
    return s - s * s


def _relu(z):
    return np.where(z > 0, z, 0.0)


def _relu_prime(z):
    return np.heaviside(z, 0.0)


ACTIVATION_CASES = {"tanh": (np.tanh, _tanh_prime), "relu": (_relu, _relu_prime),
                    "sigmoid": (_sigmoid, _sigmoid_prime)}


# --------------------------------------------------------------------------- gains


def _real_number(value, name):
    """A learner's single number as a float; a clear failure for arrays, lists and text."""
    require_answer(value, name)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        kind = f"an array of shape {value.shape}" if isinstance(value, np.ndarray) else f"a {type(value).__name__}"
        raise CheckFailed(f"{name} should return one float, not {kind}: return float(...).")
    value = float(value)
    if not np.isfinite(value):
        raise CheckFailed(f"{name} returned {value}: the gain is a finite positive number.")
    return value


def _leaky_gain(a):
    return float(np.sqrt(2.0 / (1.0 + a * a)))


@register("09.leaky_relu_gain")
def check_leaky_relu_gain(leaky_relu_gain):
    """leaky_relu_gain(negative_slope) returns sqrt(2 / (1 + a**2)) from the derived formula."""
    name = "leaky_relu_gain"
    drawn = seeded_rng(90).uniform(-3.0, 3.0, size=3)
    slopes = [0.0, 0, 2.0, 0.5, 0.01, 1.0, -1.0, -0.3, 5.5] + [float(a) for a in drawn]
    for a in slopes:
        case = f"negative_slope={a!r}"
        got = _real_number(call(leaky_relu_gain, a, name=name), f"{name}({a!r})")
        again = _real_number(call(leaky_relu_gain, a, name=name), f"{name}({a!r})")
        expected = _leaky_gain(a)
        relative = abs(got / expected - 1.0)
        if got != again:
            raise CheckFailed(f"two calls of {name}({a!r}) gave {got!r} and {again!r}: compute the gain "
                              "from the formula you derived, not from random samples.")
        if 1e-12 < relative < 1e-2:
            raise CheckFailed(f"{name}({a!r}) agrees with the gain to a relative {relative:.1e} only: the "
                              "exercise asks for the exact value from your formula, not an estimate.")
        expect_close(got, expected, f"{name}({a!r})", case=case, rtol=1e-12, atol=0.0, mistakes={
            "the negative half keeps a**2 of its second moment: square the slope":
            np.sqrt(2 / (1 + a)) if a > -1 else np.inf,
            "that is g**2: the gain multiplies the standard deviation, so take the square root":
            2 / (1 + a * a),
            "that is 1 / g: the gain must make up for what the activation removes, so it is above 1 "
            "when |a| < 1": np.sqrt((1 + a * a) / 2),
            "each half of a symmetric distribution carries half of its second moment, so "
            "E[f(z)**2] = (1 + a**2) q / 2": np.sqrt(1 / (0.5 + a * a)),
        })
    return "the derived formula for slopes 0, 1, above 1, negative and random ones"


def _gelu(z):
    return 0.5 * z * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (z + 0.044715 * z**3)))


def _silu(z):
    return z / (1.0 + np.exp(-z))


GAIN_ACTIVATIONS = {"tanh": np.tanh, "sigmoid": _sigmoid, "GELU (tanh form)": _gelu, "SiLU": _silu,
                    "ReLU": _relu, "the identity": lambda z: 1.0 * z}
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(200)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def _second_moment(f, q):
    """E[f(sqrt(q) u)**2] for u ~ N(0, 1), by Gauss-Hermite quadrature with 200 nodes."""
    return float(np.sum(_WEIGHTS * f(np.sqrt(q) * _NODES) ** 2))


@register("09.activation_gain")
def check_activation_gain(activation_gain):
    """activation_gain(f, q=1.0) returns the gain that makes q a fixed point of the variance map."""
    name = "activation_gain"
    drawn = seeded_rng(91).uniform(0.2, 3.0, size=2)
    cases = [("tanh", 1.0), ("sigmoid", 1.0), ("tanh", 0.3), ("GELU (tanh form)", 2.0),
             ("SiLU", float(drawn[0])), ("ReLU", 0.7), ("the identity", 4.0), ("sigmoid", float(drawn[1]))]
    for index, (act, q) in enumerate(cases):
        f = GAIN_ACTIVATIONS[act]
        case = f"f = {act}, q = {q:.4g}" if index else f"f = {act}, q left at its default, 1.0"
        result = call(activation_gain, f, q=q, name=name) if index else call(activation_gain, f, name=name)
        got = _real_number(result, f"{name}(f, q)")
        moment = _second_moment(f, q)
        expected = np.sqrt(q / moment)
        mean = float(np.sum(_WEIGHTS * f(np.sqrt(q) * _NODES)))
        mistakes = {
            "the weights of hermegauss sum to sqrt(2 pi): divide by their sum to turn the weighted sum "
            "into an expectation": np.sqrt(q / (moment * np.sqrt(2 * np.pi))),
            "that is g**2: the gain multiplies the standard deviation of the weights": q / moment,
            "evaluate f at sqrt(q) * u: u has variance 1 and the pre-activation variance q":
            np.sqrt(q / _second_moment(f, q * q)),
            "the map uses the second moment E[f(z)**2], not the variance of f(z)":
            np.sqrt(q / (moment - mean**2)) if moment > mean**2 else np.inf,
            "the fixed point is q = g**2 E[f(sqrt(q) u)**2], so g = sqrt(q / E[...]): q is missing "
            "from the numerator": np.sqrt(1 / moment),
            "np.polynomial.hermite.hermgauss integrates against exp(-x**2), a normal of variance "
            "1/2: use hermite_e.hermegauss (or multiply its nodes by sqrt(2))":
            np.sqrt(q / _second_moment(f, q / 2)),
        }
        if index:  # the default q = 1 is used in the first case only
            mistakes["the gain depends on q: evaluate the map at the q you are given"] = \
                np.sqrt(1 / _second_moment(f, 1.0))
        relative = abs(got / expected - 1.0)
        if 1e-6 < relative < 0.1 and not any(np.isclose(got, v, rtol=1e-4) for v in mistakes.values()):
            raise CheckFailed(f"{name}(f, q) for {case} is right to a relative {relative:.1e} only; six "
                              "significant digits are asked: use Gauss-Hermite quadrature with more nodes "
                              "(a sample mean over random draws is not accurate enough).")
        expect_close(got, expected, f"{name}(f, q)", case=case, rtol=1e-6, atol=0.0, mistakes=mistakes)
    return "tanh, sigmoid, GELU, SiLU, ReLU and the identity at several variances q"


# --------------------------------------------------------------------------- orthogonal


def _orthonormality_gap(W, gain):
    """Largest deviation of W^T W (tall or square) or W W^T (wide) from gain**2 I."""
    gram = W.T @ W if W.shape[0] >= W.shape[1] else W @ W.T
    return float(np.abs(gram - gain**2 * np.eye(len(gram))).max())


@register("09.orthogonal")
def check_orthogonal(orthogonal):
    """orthogonal(fan_in, fan_out, rng, gain=1.0) draws gain times a uniform matrix with
    orthonormal columns (fan_in >= fan_out) or rows."""
    name = "orthogonal"
    for k, (fan_in, fan_out, gain) in enumerate([(6, 4, 1.0), (4, 6, 1.0), (5, 5, 2.5), (7, 3, np.sqrt(2)),
                                                 (3, 7, 0.5), (1, 3, 1.0), (3, 1, 1.0)]):
        case = f"fan_in={fan_in}, fan_out={fan_out}, gain={gain:.4g}"
        result = call(orthogonal, fan_in, fan_out, seeded_rng(300 + k), gain=gain, name=name)
        W = to_array(result, f"{name}({fan_in}, {fan_out}, rng, gain)")
        if W.shape == (fan_in, fan_in) and fan_in < fan_out:
            raise CheckFailed(f"for {case} the matrix has shape {W.shape}: with more outputs than inputs, "
                              "decompose the tall matrix of shape (fan_out, fan_in) and transpose its Q.")
        if W.shape == (fan_out, fan_in) and fan_in != fan_out:
            raise CheckFailed(f"for {case} the matrix has shape {W.shape}: it is transposed. This course's "
                              "layers compute x @ W, so W has shape (fan_in, fan_out).")
        if W.shape != (fan_in, fan_out):
            raise CheckFailed(f"for {case} the matrix has shape {W.shape}, expected (fan_in, fan_out) = "
                              f"{(fan_in, fan_out)}.")
        tolerance = 1e-5 if W.dtype == np.float32 else 1e-9
        W = W.astype(float)
        if _orthonormality_gap(W, gain) <= tolerance * max(1.0, gain**2):
            continue
        which = "columns" if fan_in >= fan_out else "rows"
        if _orthonormality_gap(W, 1.0) <= tolerance:
            raise CheckFailed(f"for {case} the {which} are orthonormal, but the gain is missing: multiply the "
                              "matrix by gain.")
        if _orthonormality_gap(W, gain**2) <= tolerance * max(1.0, gain**4):
            raise CheckFailed(f"for {case} the matrix is scaled by gain**2: multiply by gain once.")
        raise CheckFailed(f"for {case} the {which} of the matrix are not orthonormal (times gain): "
                          f"{'W.T @ W' if which == 'columns' else 'W @ W.T'} should be gain**2 I. Take Q from "
                          "the QR decomposition of a tall Gaussian matrix.")
    W = to_array(call(orthogonal, 4, 4, seeded_rng(309), name=name), f"{name}(4, 4, rng)").astype(float)
    if W.shape == (4, 4) and _orthonormality_gap(W, 1.0) > 1e-5:
        raise CheckFailed(f"{name}(4, 4, rng) with gain left at its default should have orthonormal columns: "
                          "the default gain is 1.0.")
    _check_uses_rng(orthogonal, name)
    same_rng = seeded_rng(310)
    first, second = (to_array(call(orthogonal, 5, 5, same_rng, name=name), name) for _ in range(2))
    if np.array_equal(first, second):
        raise CheckFailed(f"two calls of {name} with the same generator gave the same matrix: draw from the "
                          "`rng` you are given (it moves on after each draw), do not seed a new one.")
    for fan_in, fan_out in [(3, 3), (4, 2), (2, 4)]:
        draws = np.array([to_array(call(orthogonal, fan_in, fan_out, seeded_rng((320, fan_in, fan_out, i)),
                                        name=name), name).astype(float) for i in range(300)])
        case = f"300 matrices of shape {(fan_in, fan_out)}"
        positive = (draws > 0).mean(axis=0)
        if positive[0, 0] < 0.02 or positive[0, 0] > 0.98:
            raise CheckFailed(f"for {case}, W[0, 0] has the same sign in every draw: the matrices are not "
                              "drawn uniformly. Multiply each column of Q by the sign of the matching "
                              "diagonal entry of R.")
        if np.any(np.abs(positive - 0.5) > 0.15):
            i, j = np.unravel_index(int(np.argmax(np.abs(positive - 0.5))), positive.shape)
            raise CheckFailed(f"for {case}, W[{i}, {j}] is positive in {positive[i, j]:.0%} of the draws; a "
                              "uniformly drawn orthogonal matrix has every entry positive half of the time.")
        mean_square = (draws**2).mean(axis=0)
        expected = 1.0 / max(fan_in, fan_out)
        if np.any(np.abs(mean_square / expected - 1.0) > 0.3):
            raise CheckFailed(f"for {case}, some entries are systematically larger than others (mean square "
                              f"from {mean_square.min():.3f} to {mean_square.max():.3f}, expected "
                              f"{expected:.3f} for each): draw the Gaussian matrix with independent "
                              "standard normal entries.")
    return "shapes, orthonormal columns or rows, the gain, the generator and uniform draws"


# --------------------------------------------------------------------------- residual gradients


def _residual_network(seed, n, d_in, width, d_out, n_layers):
    rng = seeded_rng(seed)
    X = rng.normal(size=(n, d_in))
    Y = rng.normal(size=(n, d_out))
    sizes = [d_in] + [width] * (n_layers - 1) + [d_out]
    weights = [rng.normal(0.0, 0.8 / np.sqrt(a), size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    return X, Y, weights


def _residual_norms(X, Y, weights, f, df, *, identity_back=True, residual=True, output_f=False,
                    at_activation=False, of_activations=False, first_linear=False, squared=False):
    """Gradient norms of the residual network, and of typical wrong backward passes (for the hints)."""
    inputs, zs = [X], []
    for index in range(len(weights) - 1):
        z = np.einsum("ni,ij->nj", inputs[-1], weights[index])
        zs.append(z)
        if index == 0:
            inputs.append(z if first_linear else f(z))
        else:
            inputs.append(inputs[-1] + f(z) if residual else f(z))
    z_out = np.einsum("ni,ij->nj", inputs[-1], weights[-1])
    grad = ((f(z_out) - Y) * df(z_out) if output_f else z_out - Y) / len(X)
    norms = [np.linalg.norm(inputs[-1].T @ grad)]
    grad_a = np.einsum("nj,ij->ni", grad, weights[-1])
    for index in range(len(weights) - 2, -1, -1):
        slope = df(f(zs[index])) if at_activation else df(zs[index])
        if index == 0 and first_linear:
            slope = 1.0
        grad_z = grad_a * slope
        norms.append(np.linalg.norm(grad_a) if of_activations else np.linalg.norm(inputs[index].T @ grad_z))
        branch = np.einsum("nj,ij->ni", grad_z, weights[index])
        grad_a = branch if index == 0 or not (residual and identity_back) else grad_a + branch
    norms = np.array(norms[::-1])
    return norms**2 if squared else norms


@register("09.residual_gradient_norms")
def check_residual_gradient_norms(residual_gradient_norms):
    """residual_gradient_norms(X, Y, weights, f, df) returns ||dL/dW_l|| of a residual network with a
    linear output layer, first layer first, as a NumPy array."""
    name = "residual_gradient_norms"
    cases = [(50, "tanh", 7, 3, 5, 2, 4), (51, "relu", 6, 4, 6, 3, 5), (52, "sigmoid", 5, 2, 4, 1, 3),
             (53, "tanh", 4, 3, 4, 2, 2), (54, "relu", 9, 5, 3, 4, 6)]
    for seed, act, n, d_in, width, d_out, n_layers in cases:
        f, df = ACTIVATION_CASES[act]
        X, Y, weights = _residual_network(seed, n, d_in, width, d_out, n_layers)
        case = f"{n_layers} layers ({act}), X of shape {X.shape}, Y of shape {Y.shape}"
        result = call(residual_gradient_norms, X, Y, weights, f, df, name=name)
        require_answer(result, f"{name}(...)")
        if not isinstance(result, np.ndarray):
            raise CheckFailed(f"{name} should return a NumPy array (np.array(norms)), not a "
                              f"{type(result).__name__}.")
        expected = _residual_norms(X, Y, weights, f, df)

        def variant(**kw):
            return _residual_norms(X, Y, weights, f, df, **kw)  # noqa: B023 (used at once)

        mistakes = {
            "the error reaching a_(l-1) is the sum of two paths: the identity (dL/da_l itself) and the "
            "branch (dL/dz_l W_l^T)": variant(identity_back=False),
            "every hidden layer after the first adds its input: a_l = a_(l-1) + f(a_(l-1) W_l)":
            variant(residual=False),
            "the output layer is linear: no activation after W_L": variant(output_f=True),
            "the norms are in reverse order: return the first layer's first": expected[::-1],
            "evaluate the derivative at the pre-activation z, not at the activation f(z)":
            variant(at_activation=True),
            "the loss is a mean over the batch: divide the output error by n": expected * n,
            "L = ||y_hat - Y||^2 / (2n): its derivative is (y_hat - Y) / n, without a factor 2": expected * 2,
            "these are the norms of dL/da; the question asks for dL/dW_l = a_(l-1)^T dL/dz_l":
            variant(of_activations=True),
            "the first layer applies f too: a_1 = f(X W_1)": variant(first_linear=True),
            "return the Frobenius norm, not its square": variant(squared=True),
        }
        expect_close(result, expected, f"{name}(X, Y, weights, f, df)", case=case, rtol=1e-6,
                     mistakes=mistakes)
    # the reference itself, against central differences on a small network
    f, df = ACTIVATION_CASES["tanh"]
    X, Y, weights = _residual_network(55, 4, 2, 3, 2, 3)

    def loss(flat, layer):
        trial = [W.copy() for W in weights]
        trial[layer] = flat.reshape(weights[layer].shape)
        a = f(X @ trial[0])
        a = a + f(a @ trial[1])
        return np.sum((a @ trial[2] - Y) ** 2) / (2 * len(X))

    numeric = [np.linalg.norm(numerical_gradient(lambda w, i=i: loss(w, i), weights[i].ravel())) for i in range(3)]
    result = to_array(call(residual_gradient_norms, X, Y, weights, f, df, name=name), f"{name}(...)")
    expect_close(result, numeric, f"{name}(X, Y, weights, f, df)", rtol=1e-5,
                 case="a three-layer tanh network (checked against finite differences)")
    return "five residual networks (tanh, ReLU, sigmoid, two to six layers) and finite differences"


# --------------------------------------------------------------------------- kernel fans


def _reference_fans(shape, layout):
    """Fans of a dense or convolution kernel: PyTorch (out, in, *k) or Keras (*k, in, out)."""
    receptive = int(np.prod(shape[2:] if layout == "torch" else shape[:-2], dtype=np.int64))
    n_in, n_out = (shape[1], shape[0]) if layout == "torch" else (shape[-2], shape[-1])
    return n_in * receptive, n_out * receptive


@register("09.kernel_fans")
def check_kernel_fans(kernel_fans):
    """kernel_fans(shape, layout) returns (fan_in, fan_out) of a PyTorch or Keras kernel."""
    rng = seeded_rng(9)
    cases = [((32, 16, 3, 3), "torch"), ((3, 3, 16, 32), "keras"), ((8, 4, 5), "torch"),
             ((5, 4, 8), "keras"), ((6, 2, 3, 5, 7), "torch"), ((3, 5, 7, 2, 6), "keras"),
             ((500, 300), "torch"), ((300, 500), "keras")]
    for _ in range(6):
        dims = tuple(int(d) for d in rng.integers(1, 8, size=rng.integers(0, 3)))
        c_in, c_out = (int(c) for c in rng.integers(1, 40, size=2))
        cases += [((c_out, c_in) + dims, "torch"), (dims + (c_in, c_out), "keras")]
    for shape, layout in cases:
        case = f"kernel_fans({shape}, {layout!r})"
        result = expect_pair(call(kernel_fans, shape, layout, name="kernel_fans"), case,
                             "(fan_in, fan_out)")
        got = to_array(result, case)
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in result):
            raise CheckFailed(f"{case} should return a pair of integers, not {tuple(result)!r}: the fans count "
                              "weights (int(...) where a product gives a float).")
        fan_in, fan_out = _reference_fans(shape, layout)
        other = "keras" if layout == "torch" else "torch"
        wrong_in, wrong_out = _reference_fans(shape, other)
        receptive = fan_in // (shape[1] if layout == "torch" else shape[-2])
        mistakes = {
            "the two numbers are in the wrong order: return (fan_in, fan_out)": (fan_out, fan_in),
            f"that reads the shape in the {other} layout; {layout} stores "
            + ("(out, in, *kernel)" if layout == "torch" else "(*kernel, in, out)"): (wrong_in, wrong_out),
            "multiply the channel counts by the receptive field, the product of the kernel "
            "sizes": (fan_in // receptive, fan_out // receptive),
            "the fan-out is C_out times the receptive field, not C_out alone": (fan_in, fan_out // receptive),
        }
        kernel = shape[2:] if layout == "torch" else shape[:-2]
        if len(kernel) > 1 and sum(kernel) != receptive:
            field_sum = sum(kernel)
            mistakes["the receptive field is the product of the kernel sizes, not their sum"] = (
                fan_in // receptive * field_sum, fan_out // receptive * field_sum)
        expect_equal(np.round(got).astype(np.int64), np.array([fan_in, fan_out]), case,
                     mistakes={h: np.array(v) for h, v in mistakes.items()})
    return "dense, 1-D, 2-D and 3-D kernels in both layouts"


# --------------------------------------------------------------------------- LSUV


def _lsuv_network(seed, sizes, n):
    rng = seeded_rng(seed)
    X = rng.normal(1.0, 2.0, size=(n, sizes[0]))
    weights = [rng.normal(0.0, 0.3, size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    return X, weights


def _lsuv_reference(X, weights, f):
    a, scaled = X, []
    for W in weights:
        z = a @ W
        W = W / z.std()
        scaled.append(W)
        a = f(a @ W)
    return scaled


@register("09.lsuv")
def check_lsuv(lsuv):
    """lsuv(X, weights, f) rescales each layer, in order, so its pre-activations have std 1."""
    cases = [(0, [6, 9, 4, 7], 50, "tanh"), (1, [5, 12, 12, 12, 3], 80, "relu"),
             (2, [8, 3], 40, "relu"), (3, [4, 10, 6], 30, "sigmoid")]
    for seed, sizes, n, activation in cases:
        f = ACTIVATION_CASES[activation][0]
        X, weights = _lsuv_network(seed, sizes, n)
        case = f"a {activation} network with layer sizes {sizes} and {n} samples"
        originals = [W.copy() for W in weights]
        result = call(lsuv, X, weights, f, name="lsuv")
        if len(weights) != len(originals) or not all(
                np.array_equal(np.asarray(W), W0) for W, W0 in zip(weights, originals, strict=False)):
            raise CheckFailed("lsuv changed the list `weights` in place: build a new list of new "
                              "matrices and leave the argument as it was.")
        require_answer(result, "lsuv(X, weights, f)")
        if not isinstance(result, list) or len(result) != len(weights):
            raise CheckFailed(f"lsuv should return a new list of {len(weights)} weight matrices, one per layer, "
                              f"for {case}; it returned a {type(result).__name__}"
                              + (f" of {len(result)}." if isinstance(result, (list, tuple)) else "."))
        if result is weights:
            raise CheckFailed("lsuv returned the list it was given: build a new list of new matrices.")
        got = [to_array(W, f"layer {i + 1}'s weights") for i, W in enumerate(result)]
        for i, (W_new, W_old) in enumerate(zip(got, weights, strict=True)):
            if W_new.shape != W_old.shape:
                raise CheckFailed(f"layer {i + 1}'s weights have shape {W_new.shape} for {case}, expected "
                                  f"{W_old.shape}: rescale each matrix, keep its shape.")
            ratios = W_new.astype(float) / W_old
            if not np.allclose(ratios, ratios.flat[0], rtol=1e-5):
                if np.allclose(ratios, ratios[:1], rtol=1e-5):
                    raise CheckFailed(f"layer {i + 1} of {case} was scaled column by column: LSUV divides the "
                                      "whole matrix by one number, the std of all its pre-activations.")
                raise CheckFailed(f"layer {i + 1}'s new weights are not a multiple of its old ones for {case}: "
                                  "keep the directions of the initial weights and only rescale them.")
            if ratios.flat[0] <= 0:
                raise CheckFailed(f"layer {i + 1} of {case} was multiplied by a negative number: divide by "
                                  "the (positive) standard deviation.")
        reference = _lsuv_reference(X, weights, f)
        naive = [W / (X @ W).std() if i == 0 else None for i, W in enumerate(weights)]
        a_orig = X
        for i, W in enumerate(weights):  # each layer scaled on the unscaled network's input
            naive[i] = W / (a_orig @ W).std()
            a_orig = f(a_orig @ W)
        activ = []
        a = X
        for W in weights:  # normalising the activations instead of the pre-activations
            W = W / f(a @ W).std()
            activ.append(W)
            a = f(a @ W)
        for i, W_new in enumerate(got):
            expect_close(W_new, reference[i], f"layer {i + 1}'s weights", case=case, rtol=1e-5, atol=1e-9,
                         mistakes={
                             "feed each layer the output of the already rescaled layers before it "
                             "(go through the layers in order)": naive[i],
                             "normalise the pre-activations a @ W, not the activations f(a @ W)": activ[i],
                             "divide by the standard deviation, do not multiply": weights[i] * (
                                 weights[i] / reference[i]).flat[0],
                         })
    return "four networks (tanh, ReLU, sigmoid): every layer rescaled in order"


# --------------------------------------------------------------------------- Keras initializer


@register("09.torch_default_for_keras")
def check_torch_default_for_keras(torch_default_for_keras):
    """torch_default_for_keras(seed) returns a Keras initializer drawing U(-1/sqrt(fan_in), +)."""
    keras = require_framework("keras")
    name = "torch_default_for_keras"

    def draw(seed, shape):
        init = call(torch_default_for_keras, seed, name=name, time_limit=30)
        require_answer(init, f"{name}({seed})")
        if not isinstance(init, keras.initializers.Initializer):
            raise CheckFailed(f"{name}({seed}) should return a Keras initializer, an object from "
                              f"keras.initializers (a keras.initializers.Initializer), not a {type(init).__name__}.")
        values = call(init, shape, name=f"{name}({seed})(shape)", time_limit=30)
        W = to_array(keras.ops.convert_to_numpy(values) if not isinstance(values, np.ndarray) else values,
                     f"the weights drawn for shape {shape}")
        if W.shape != tuple(shape):
            raise CheckFailed(f"the initializer returned shape {W.shape} for the shape {shape}.")
        return W.astype(float)

    seed, other_seed, shape_seed = (int(s) for s in seeded_rng(92).choice(2**31 - 1, size=3, replace=False))
    first, again, other = draw(seed, (20, 30)), draw(seed, (20, 30)), draw(other_seed, (20, 30))
    if not np.array_equal(first, again):
        raise CheckFailed(f"two initializers from {name}({seed}) gave different weights: pass the seed to the "
                          "initializer (seed=seed).")
    if np.array_equal(first, other):
        raise CheckFailed(f"{name}({seed}) and {name}({other_seed}) gave the same weights: the seed must reach "
                          "the initializer.")
    for shape, fan_in, fan_out, what in [((300, 500), 300, 500, "a Dense kernel (300, 500)"),
                                         ((3, 3, 40, 60), 360, 540, "a Conv2D kernel (3, 3, 40, 60)")]:
        W = draw(shape_seed, shape)
        bound = 1.0 / np.sqrt(fan_in)
        _check_mean(name, W, what)
        if _kurtosis(W) > 2.1:
            raise CheckFailed(f"the weights for {what} look normally distributed (kurtosis {_kurtosis(W):.2f}, "
                              "uniform has 1.8): PyTorch's default is uniform (distribution='uniform').")
        ratios = {
            "that is Keras' own default, Glorot uniform; PyTorch's depends on fan_in only":
                6 * fan_in / (fan_in + fan_out),
            "that is He uniform (scale 2); PyTorch's default has a third of the fan-in variance, "
            "scale=1/3": 6.0,
            "the variance is 1/fan_in; PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)) has 1/(3 fan_in): "
            "scale=1/3": 3.0,
            "that uses the fan-out; PyTorch's default uses the fan-in (mode='fan_in')": fan_in / fan_out,
        }
        _diagnose_variance(name, W, bound**2 / 3, what, ratios, "1 / (3 fan_in)")
        largest = np.abs(W).max()
        if largest > bound * 1.0001 or largest < 0.98 * bound:
            raise CheckFailed(f"the largest weight for {what} is {largest:.4g}; PyTorch's default bound is "
                              f"1/sqrt(fan_in) = {bound:.4g}.")
    return "seeded, uniform, bound and variance for a Dense and a Conv2D kernel"
