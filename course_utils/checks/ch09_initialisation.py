"""Checks for chapter 09, initialisation and vanishing or exploding gradients."""

from __future__ import annotations

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
    to_array,
)
from course_utils.frameworks import require_framework

# --------------------------------------------------------------------------- initialisers


def _draw(init, name, fan_in, fan_out, seed):
    """Call an initialiser (rng passed by keyword: drawing numbers changes its state) and
    return its weights as a float array of shape (fan_in, fan_out)."""
    result = call(init, fan_in, fan_out, rng=np.random.default_rng(seed), name=name)
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


@register("09.he_normal")
def check_he_normal(he_normal):
    """he_normal(fan_in, fan_out, rng) draws from N(0, 2 / fan_in)."""
    name = "he_normal"
    _check_uses_rng(he_normal, name)
    for fan_in, fan_out in [(300, 500), (1000, 64)]:
        case = f"fan_in={fan_in}, fan_out={fan_out}"
        W = _draw(he_normal, name, fan_in, fan_out, seed=fan_in + 1)
        _check_mean(name, W, case)
        expected = 2.0 / fan_in
        ratios = {
            "the factor 2 is missing: ReLU halves the second moment, so He uses 2 / fan_in": 0.5,
            "use fan_in, the number of inputs of the layer, not fan_out": fan_in / fan_out,
            "the factor 2 is missing and fan_out is used instead of fan_in": fan_in / (2 * fan_out),
            "that is the Xavier variance 2 / (fan_in + fan_out); He uses 2 / fan_in": fan_in / (fan_in + fan_out),
            "rng.normal takes the standard deviation, not the variance: take the square root": (2.0 / fan_in),
        }
        _diagnose_variance(name, W, expected, case, ratios, "the He variance")
        kurtosis = _kurtosis(W)
        if kurtosis < 2.6:
            raise CheckFailed(f"the weights of {name} for {case} do not look normally distributed (kurtosis "
                              f"{kurtosis:.2f}, a normal distribution has 3; a uniform one 1.8): use rng.normal.")
        if kurtosis > 3.4:
            raise CheckFailed(f"the weights of {name} for {case} have heavier tails than a normal distribution "
                              f"(kurtosis {kurtosis:.2f} instead of 3): use rng.normal.")
    return "shape, mean, variance and a normal shape for two layer sizes"


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


def _network(seed, depth, width, n, n_in=None, scale=1.0):
    rng = np.random.default_rng(seed)
    n_in = n_in or width
    X = rng.normal(size=(n, n_in))
    sizes = [n_in] + [width] * depth
    weights = [rng.normal(0.0, scale / np.sqrt(a), size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    return X, weights


def _forward_layers(X, weights, f):
    """Pre-activations and activations, computed layer by layer with explicit indices."""
    zs, activations = [], []
    current = X
    for index in range(len(weights)):
        z = np.einsum("ni,ij->nj", current, weights[index])
        current = f(z)
        zs.append(z)
        activations.append(current)
    return zs, activations


def _pop_std(values):
    values = np.asarray(values, dtype=float).ravel()
    return float(np.sqrt(np.mean((values - values.mean()) ** 2)))


@register("09.layer_stds", plain_data=False)
def check_layer_stds(layer_stds):
    """layer_stds(X, weights, f) returns the standard deviation of every layer's activations."""
    for trial, (act, depth, width, n, scale) in enumerate([("tanh", 4, 20, 50, 1.0), ("relu", 6, 30, 40, 1.4),
                                                           ("sigmoid", 3, 10, 25, 3.0)]):
        f = ACTIVATION_CASES[act][0]
        X, weights = _network(100 + trial, depth, width, n, n_in=8, scale=scale)
        zs, activations = _forward_layers(X, weights, f)
        expected = [_pop_std(a) for a in activations]
        linear = [_pop_std(z) for z in _forward_layers(X, weights, lambda z: z)[0]]
        per_unit = [float(np.mean(a.std(axis=0))) for a in activations]
        result = call(layer_stds, X, weights, f, name="layer_stds")
        expect_close(result, expected, "layer_stds(X, weights, f)", rtol=3e-3, atol=1e-9,
                     case=f"{depth} {act} layers of {width} units",
                     mistakes={"use the activations f(z) of each layer, not the pre-activations z":
                               [_pop_std(z) for z in zs],
                               "return one value per layer, without the input X": [_pop_std(X)] + expected,
                               "take the std over all values of a layer (a.std()), not the mean of "
                               "the per-unit stds": per_unit,
                               "apply f after every layer: each layer's input is the previous layer's "
                               "activation": linear})
    return "three networks (tanh, ReLU, sigmoid)"


def _reference_weight_grads(X, Y, weights, f, df):
    """dL/dW_l for L = ||a_L - Y||^2 / (2n), by a backward recursion over layer indices."""
    zs, activations = _forward_layers(X, weights, f)
    n = X.shape[0]
    layer_inputs = [X] + activations[:-1]
    grads = [None] * len(weights)
    delta = (activations[-1] - Y) * df(zs[-1]) / n
    for index in range(len(weights) - 1, -1, -1):
        grads[index] = np.einsum("ni,nj->ij", layer_inputs[index], delta)
        if index > 0:
            delta = np.einsum("nj,ij->ni", delta, weights[index]) * df(zs[index - 1])
    return grads


def _variant_norms(X, Y, weights, f, df, *, at_activation=False, no_derivative=False, of_activations=False):
    """Gradient norms of a typical wrong backward pass (for the hints)."""
    zs, activations = _forward_layers(X, weights, f)
    inputs = [X] + activations[:-1]
    grad_a = (activations[-1] - Y) / len(X)
    norms = []
    for index in range(len(weights) - 1, -1, -1):
        if no_derivative:
            slope = 1.0
        elif at_activation:
            slope = df(activations[index])
        else:
            slope = df(zs[index])
        grad_z = grad_a * slope
        norms.append(np.linalg.norm(grad_a) if of_activations else np.linalg.norm(inputs[index].T @ grad_z))
        grad_a = grad_z @ weights[index].T
    return norms[::-1]


@register("09.gradient_norms", plain_data=False)
def check_gradient_norms(gradient_norms):
    """gradient_norms(X, Y, weights, f, df) returns ||dL/dW_l|| for every layer, first layer first."""
    for trial, (act, depth, width, n) in enumerate([("tanh", 5, 12, 16), ("sigmoid", 4, 10, 20),
                                                    ("relu", 6, 16, 12)]):
        f, df = ACTIVATION_CASES[act]
        X, weights = _network(20 + trial, depth, width, n, n_in=6, scale=1.3)
        Y = np.random.default_rng(30 + trial).normal(size=(n, width))
        expected = [float(np.linalg.norm(g)) for g in _reference_weight_grads(X, Y, weights, f, df)]
        result = call(gradient_norms, X, Y, weights, f, df, name="gradient_norms")
        mistakes = {"the norms are in reverse order: return the first layer's first": expected[::-1],
                    "multiply by the activation's derivative f'(z) in every layer":
                    _variant_norms(X, Y, weights, f, df, no_derivative=True),
                    "evaluate the derivative at the pre-activation z, not at the activation f(z)":
                    _variant_norms(X, Y, weights, f, df, at_activation=True),
                    "the loss is a mean over the batch: divide the output error by n": np.array(expected) * n,
                    "L = ||a - Y||^2 / (2n): its derivative is (a - Y) / n, without a factor 2":
                    np.array(expected) * 2,
                    "these are the norms of dL/da; the question asks for dL/dW_l = a_(l-1)^T dL/dz_l":
                    _variant_norms(X, Y, weights, f, df, of_activations=True)}
        expect_close(result, expected, "gradient_norms(X, Y, weights, f, df)", rtol=1e-5,
                     case=f"{depth} {act} layers of {width} units", mistakes=mistakes)
    # finally, a tiny network against central differences
    f, df = ACTIVATION_CASES["tanh"]
    X, weights = _network(7, 2, 3, 4, n_in=2)
    Y = np.random.default_rng(8).normal(size=(4, 3))

    def loss(flat):
        W0 = flat.reshape(weights[0].shape)
        a = f(f(X @ W0) @ weights[1])
        return np.sum((a - Y) ** 2) / (2 * len(X))

    first = float(np.linalg.norm(numerical_gradient(loss, weights[0].ravel())))
    result = to_array(call(gradient_norms, X, Y, weights, f, df, name="gradient_norms"), "gradient_norms(...)")
    if result.shape != (2,):
        raise CheckFailed(f"gradient_norms(...) for a network of 2 layers has shape {result.shape}: "
                          "return one norm per layer, first layer first.")
    expect_close(result[0], first, "the first layer's gradient norm", rtol=1e-5,
                 case="a two-layer tanh network (checked against finite differences)")
    return "finite differences and three deep networks"


# --------------------------------------------------------------------------- kernel fans


def _reference_fans(shape, layout):
    """Fans of a dense or convolution kernel: PyTorch (out, in, *k) or Keras (*k, in, out)."""
    receptive = int(np.prod(shape[2:] if layout == "torch" else shape[:-2], dtype=np.int64))
    n_in, n_out = (shape[1], shape[0]) if layout == "torch" else (shape[-2], shape[-1])
    return n_in * receptive, n_out * receptive


@register("09.kernel_fans")
def check_kernel_fans(kernel_fans):
    """kernel_fans(shape, layout) returns (fan_in, fan_out) of a PyTorch or Keras kernel."""
    rng = np.random.default_rng(9)
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
        if not np.all(np.isfinite(got)) or np.any(got != np.round(got)):
            raise CheckFailed(f"{case} should return two whole numbers, not {tuple(result)}.")
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
        expect_equal(np.round(got).astype(np.int64), np.array([fan_in, fan_out]), case,
                     mistakes={h: np.array(v) for h, v in mistakes.items()})
    return "dense, 1-D, 2-D and 3-D kernels in both layouts"


# --------------------------------------------------------------------------- LSUV


def _lsuv_network(seed, sizes, n):
    rng = np.random.default_rng(seed)
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
        if not isinstance(result, (list, tuple)) or len(result) != len(weights):
            raise CheckFailed(f"lsuv should return a list of {len(weights)} weight matrices, one per layer, "
                              f"for {case}; it returned a {type(result).__name__}.")
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
        if not callable(init):
            raise CheckFailed(f"{name}({seed}) should return a Keras initializer (for example an instance of "
                              f"a class from keras.initializers), not a {type(init).__name__}.")
        values = call(init, shape, name=f"{name}({seed})(shape)", time_limit=30)
        W = to_array(keras.ops.convert_to_numpy(values) if not isinstance(values, np.ndarray) else values,
                     f"the weights drawn for shape {shape}")
        if W.shape != tuple(shape):
            raise CheckFailed(f"the initializer returned shape {W.shape} for the shape {shape}.")
        return W.astype(float)

    first, again, other = draw(3, (20, 30)), draw(3, (20, 30)), draw(4, (20, 30))
    if not np.array_equal(first, again):
        raise CheckFailed(f"two initializers from {name}(3) gave different weights: pass the seed to the "
                          "initializer (seed=seed).")
    if np.array_equal(first, other):
        raise CheckFailed(f"{name}(3) and {name}(4) gave the same weights: the seed must reach the initializer.")
    for shape, fan_in, fan_out, what in [((300, 500), 300, 500, "a Dense kernel (300, 500)"),
                                         ((3, 3, 40, 60), 360, 540, "a Conv2D kernel (3, 3, 40, 60)")]:
        W = draw(7, shape)
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
