"""Requirement table of chapter 09, initialisation (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

# --------------------------------------------------------------------------- 09.xavier_uniform


def xavier(fan_in, fan_out, rng, *, normal=False, limit_of=None, shift=0.0, transpose=False, global_rng=False):
    """The solution's answer; the keywords make it break one requirement."""
    limit = np.sqrt(6.0 / (fan_in + fan_out)) if limit_of is None else limit_of(fan_in, fan_out)
    shape = (fan_out, fan_in) if transpose else (fan_in, fan_out)
    if normal:
        return rng.normal(0.0, limit / np.sqrt(3.0), size=shape)
    draw = np.random.uniform if global_rng else rng.uniform
    return draw(-limit + shift, limit + shift, size=shape)


# --------------------------------------------------------------------------- 09.leaky_relu_gain


def leaky(negative_slope, *, sampled=None, array=False, inverse=False, wrong_at=None, skip_negative=False,
          skip_above_one=False):
    """The solution's answer; the keywords make it break one requirement."""
    a = negative_slope
    if skip_negative and a < 0:
        a = 0.0
    if skip_above_one and a > 1:
        a = 1.0
    if sampled is not None:  # a sample estimate, seeded (the same each call) or not
        u = np.random.default_rng(sampled if sampled >= 0 else None).normal(size=100_000)
        gain = float(1 / np.sqrt(np.mean(np.where(u > 0, u, a * u) ** 2)))
    else:
        gain = float(np.sqrt(2.0 / (1.0 + a * a)))
    if inverse:
        gain = 1 / gain
    if wrong_at is not None and negative_slope == wrong_at:
        gain *= 1.1
    return np.array([gain]) if array else gain


# --------------------------------------------------------------------------- 09.activation_gain


def gain_of(f, q=1.0, *, nodes=100, normalise=True, inside=np.sqrt, variance=False, square=False,
            array=False, only_tanh=False, ignore_q=False, sampled=False, numerator=True):
    """The solution's answer; the keywords make it break one requirement."""
    if only_tanh:
        f = np.tanh
    if ignore_q:
        q = 1.0
    if sampled:
        u = np.random.default_rng(0).normal(size=100_000)
        values = f(np.sqrt(q) * u)
        moment = float(np.mean(values**2))
    else:
        u, w = np.polynomial.hermite_e.hermegauss(nodes)
        w = w / w.sum() if normalise else w
        values = f(inside(q) * u)
        moment = float(np.sum(w * values**2))
        if variance:
            moment -= float(np.sum(w * values)) ** 2
    gain_squared = (q if numerator else 1.0) / moment
    gain = gain_squared if square else float(np.sqrt(gain_squared))
    return np.array([gain]) if array else gain


def gain_default(default):
    """A correct answer whose default q is `default` instead of 1.0."""
    def activation_gain(f, q=default):
        return gain_of(f, q)
    return activation_gain


# --------------------------------------------------------------------------- 09.orthogonal


def ortho(fan_in, fan_out, rng, gain=1.0, *, sign_fix=True, use_gain=True, transpose=False, gaussian=False,
          wide_gaussian=False, global_rng=False, default_gain=None):
    """The solution's answer; the keywords make it break one requirement."""
    if default_gain is not None and gain == 1.0:
        gain = default_gain
    draw = np.random.standard_normal if global_rng else rng.standard_normal
    tall = draw((max(fan_in, fan_out), min(fan_in, fan_out)))
    if gaussian or (wide_gaussian and fan_in < fan_out):
        Q = tall / np.linalg.norm(tall, axis=0)  # unit columns, not orthogonal
    else:
        Q, R = np.linalg.qr(tall)
        if sign_fix:
            Q = Q * np.sign(np.diag(R))
    W = (gain if use_gain else 1.0) * (Q if fan_in >= fan_out else Q.T)
    return W.T if transpose else W


def ortho_default_gain(fan_in, fan_out, rng, gain=2.0):
    """A correct answer whose default gain is 2.0 instead of 1.0."""
    return ortho(fan_in, fan_out, rng, gain)


# --------------------------------------------------------------------------- 09.residual_gradient_norms


def residual(X, Y, weights, f, df, *, identity=True, adds=True, output_f=False, first_linear=False,
             as_list=False, squared=False, reverse=False, scale=1.0, at_activation=False, wrong_two=False):
    """The solution's answer; the keywords make it break one requirement."""
    inputs, zs = [X], []
    for i, W in enumerate(weights[:-1]):
        zs.append(inputs[-1] @ W)
        if i == 0:
            inputs.append(zs[-1] if first_linear else f(zs[-1]))
        else:
            inputs.append(inputs[-1] + f(zs[-1]) if adds else f(zs[-1]))
    out = inputs[-1] @ weights[-1]
    grad = scale * ((f(out) - Y) * df(out) if output_f else out - Y) / len(X)
    norms = [np.linalg.norm(inputs[-1].T @ grad)]
    grad_a = grad @ weights[-1].T
    for layer in range(len(weights) - 2, -1, -1):
        slope = df(inputs[layer + 1]) if at_activation else df(zs[layer])
        grad_z = grad_a * (1.0 if layer == 0 and first_linear else slope)
        norms.append(np.linalg.norm(inputs[layer].T @ grad_z))
        branch = grad_z @ weights[layer].T
        grad_a = grad_a + branch if identity and adds and layer > 0 else branch
    norms = norms if reverse else norms[::-1]
    if wrong_two and len(weights) == 2:
        norms = norms[::-1]
    norms = [n**2 for n in norms] if squared else norms
    return norms if as_list else np.array(norms)


def residual_at_activation(X, Y, weights, f, df):
    """df evaluated at the activation f(z) instead of the pre-activation z."""
    inputs, zs = [X], []
    for i, W in enumerate(weights[:-1]):
        zs.append(inputs[-1] @ W)
        inputs.append(f(zs[-1]) if i == 0 else inputs[-1] + f(zs[-1]))
    grad = (inputs[-1] @ weights[-1] - Y) / len(X)
    norms = [np.linalg.norm(inputs[-1].T @ grad)]
    grad_a = grad @ weights[-1].T
    for layer in range(len(weights) - 2, -1, -1):
        grad_z = grad_a * df(f(zs[layer]))
        norms.append(np.linalg.norm(inputs[layer].T @ grad_z))
        branch = grad_z @ weights[layer].T
        grad_a = grad_a + branch if layer > 0 else branch
    return np.array(norms[::-1])


# --------------------------------------------------------------------------- 09.kernel_fans


def fans(shape, layout, *, swap=False, read_as=None, no_field=False, out_no_field=False, floats=False,
         field_sum=False, two_axes=False, dense_wrong=False):
    """The solution's answer; the keywords make it break one requirement."""
    layout = read_as.get(layout, layout) if read_as else layout
    if layout == "torch":
        c_out, c_in, *kernel = shape
    else:
        *kernel, c_in, c_out = shape
    if two_axes:
        kernel = kernel[:2]
    field = int(sum(kernel)) if field_sum and kernel else int(np.prod(kernel, dtype=np.int64))
    if dense_wrong and not kernel:
        field = 0
    fan_in = c_in * (1 if no_field else field)
    fan_out = c_out * (1 if no_field or out_no_field else field)
    out = (fan_out, fan_in) if swap else (fan_in, fan_out)
    return tuple(float(v) for v in out) if floats else out


# --------------------------------------------------------------------------- 09.lsuv


def lsuv(X, weights, f, *, multiply=False, activations=False, naive=False, columns=False, negative=False,
         as_tuple=False, in_place=False, transpose=False):
    """The solution's answer; the keywords make it break one requirement."""
    scaled, a, a_plain = [], X, X
    for i, W in enumerate(weights):
        source = a_plain if naive else a
        z = source @ W
        spread = f(z).std() if activations else (z.std(axis=0) if columns else z.std())
        new = W * spread if multiply else W / spread
        new = -new if negative else new
        if in_place:
            weights[i] = new
        scaled.append(new.T if transpose else new)
        a = f(a @ new)
        a_plain = f(a_plain @ W)
    if in_place:
        return weights
    return tuple(scaled) if as_tuple else scaled


# --------------------------------------------------------------------------- 09.torch_default_for_keras


def torch_default(seed, *, scale=1 / 3, mode="fan_in", distribution="uniform", use_seed=True, plain=False,
                  first_axis=False):
    """The solution's answer; the keywords make it break one requirement."""
    from course_utils.frameworks import select_keras_backend

    select_keras_backend()
    import keras

    if first_axis:  # the fan-in read as the kernel's first axis: right for Dense only
        class FirstAxisFanIn(keras.initializers.Initializer):
            def __init__(self, seed):
                self.seed = seed

            def __call__(self, shape, dtype=None):
                bound = 1.0 / np.sqrt(shape[0])
                return keras.random.uniform(shape, -bound, bound, dtype=dtype, seed=self.seed)

        return FirstAxisFanIn(seed)
    initializer = keras.initializers.VarianceScaling(scale=scale, mode=mode, distribution=distribution,
                                                     seed=seed if use_seed else None)
    if plain:
        return lambda shape, dtype=None: initializer(shape, dtype=dtype)
    return initializer


TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The initialisers are random, so their checks are statistical", "what the checks do"),
        free("The lecture is `book/09-initialisation`", "a pointer"),
    ],
    "09.xavier_uniform": [
        free("Write `xavier_uniform(fan_in, fan_out, rng)`", "the signature every row calls"),
        requirement("returns a weight matrix of shape `(fan_in, fan_out)`",
                    lambda i, o, rng: xavier(i, o, rng, transpose=True), r"transposed"),
        requirement("drawn from the uniform distribution",
                    lambda i, o, rng: xavier(i, o, rng, normal=True), r"normally distributed"),
        requirement("$\\mathcal{U}(-a, a)$", lambda i, o, rng: xavier(i, o, rng, shift=0.5 * np.sqrt(6 / (i + o))),
                    r"mean 0"),
        requirement("whose variance is the Xavier/Glorot variance",
                    lambda i, o, rng: xavier(i, o, rng, limit_of=lambda a, b: np.sqrt(6 / a)), r"variance"),
        free("Work out the limit $a$ first", "a hint on how to start; the variance row holds the result"),
        requirement("Draw the numbers from the generator `rng`",
                    lambda i, o, rng: xavier(i, o, rng, global_rng=True), r"from the `rng` argument"),
    ],
    "09.leaky_relu_gain": [
        free("A leaky ReLU passes positive inputs unchanged", "defines the activation"),
        free("derive the second moment", "the derivation; its result is held through the gain below"),
        free("Then write `leaky_relu_gain(negative_slope)`", "the signature every row calls"),
        requirement("returns, as a float", lambda a: leaky(a, array=True), r"one float"),
        requirement("keep the pre-activation variance the same from layer to layer",
                    lambda a: leaky(a, inverse=True), r"1 / g"),
        requirement("Compute it from your formula", lambda a: leaky(a, sampled=0), r"exact value|not an estimate"),
        requirement("not from random samples", lambda a: leaky(a, sampled=-1), r"two calls|random samples"),
        requirement("It must hold for every real slope", lambda a: leaky(a, skip_negative=True),
                    r"negative_slope=-"),
        requirement("0 (the ReLU", lambda a: leaky(a, wrong_at=0.0), r"negative_slope=0"),
        requirement("1 (the identity)", lambda a: leaky(a, wrong_at=1.0), r"negative_slope=1\.0"),
        requirement("slopes above 1", lambda a: leaky(a, skip_above_one=True), r"negative_slope=2\.0"),
    ],
    "09.activation_gain": [
        requirement("from the variance map", lambda f, q=1.0: gain_of(f, q, variance=True), r"second moment"),
        requirement("Write `activation_gain(f, q=1.0)`", gain_default(2.0), r"default"),
        requirement("returns, as a float", lambda f, q=1.0: gain_of(f, q, array=True), r"one float"),
        requirement("the gain $g$", lambda f, q=1.0: gain_of(f, q, square=True), r"g\*\*2"),
        requirement("the pre-activation variance `q` is a fixed point of the map",
                    lambda f, q=1.0: gain_of(f, q, ignore_q=True), r"depends on q"),
        requirement("for any activation `f`", lambda f, q=1.0: gain_of(f, q, only_tanh=True), r"f = sigmoid"),
        requirement("Compute the expectation by Gauss-Hermite quadrature",
                    lambda f, q=1.0: gain_of(f, q, sampled=True), r"Gauss-Hermite|six significant"),
        requirement("its weights sum to $\\sqrt{2\\pi}$, not to 1",
                    lambda f, q=1.0: gain_of(f, q, normalise=False), r"sum to sqrt\(2 pi\)"),
        requirement("Use enough nodes for the gain to be right to six significant digits",
                    lambda f, q=1.0: gain_of(f, q, nodes=6), r"six significant digits"),
        free("a sample mean over random draws is far less accurate",
             "why quadrature; the quadrature row rejects a sample mean"),
    ],
    "09.orthogonal": [
        requirement("`orthogonal(fan_in, fan_out, rng, gain=1.0)`", ortho_default_gain, r"default gain is 1\.0"),
        requirement("returns a `(fan_in, fan_out)` weight matrix",
                    lambda i, o, rng, gain=1.0: ortho(i, o, rng, gain, transpose=True), r"transposed"),
        requirement("drawn uniformly among the matrices",
                    lambda i, o, rng, gain=1.0: ortho(i, o, rng, gain, sign_fix=False), r"not drawn uniformly"),
        requirement("with orthonormal columns, $W^\\top W = I$, when `fan_in >= fan_out`",
                    lambda i, o, rng, gain=1.0: ortho(i, o, rng, gain, gaussian=True),
                    r"columns of the matrix are not orthonormal"),
        requirement("or with orthonormal rows, $W W^\\top = I$, when `fan_in < fan_out`",
                    lambda i, o, rng, gain=1.0: ortho(i, o, rng, gain, wide_gaussian=True),
                    r"rows of the matrix are not orthonormal"),
        requirement("and multiplied by `gain`",
                    lambda i, o, rng, gain=1.0: ortho(i, o, rng, gain, use_gain=False), r"gain is missing"),
        requirement("with independent standard normal entries from `rng`",
                    lambda i, o, rng, gain=1.0: ortho(i, o, rng, gain, global_rng=True),
                    r"generator|`rng`"),
        requirement("multiply each column of $Q$ by the sign of the matching diagonal entry of $R$",
                    lambda i, o, rng, gain=1.0: ortho(i, o, rng, gain, sign_fix=False), r"sign of the matching"),
        free("A recipe: draw a matrix $A$ of shape", "the suggested method; the rows above hold its result"),
        free("The sign step matters", "why the sign step; its row above rejects an answer without it"),
    ],
    "09.residual_gradient_norms": [
        requirement("the first layer changes the width, $\\mathbf{a}_1 = f(X W_1)$",
                    lambda X, Y, W, f, df: residual(X, Y, W, f, df, first_linear=True), r"first layer applies f"),
        requirement("every further hidden layer adds its branch to its input",
                    lambda X, Y, W, f, df: residual(X, Y, W, f, df, adds=False), r"adds its input"),
        requirement("the output layer is linear",
                    lambda X, Y, W, f, df: residual(X, Y, W, f, df, output_f=True), r"output layer is linear"),
        free("Write `residual_gradient_norms(X, Y, weights, f, df)`", "the signature every row calls"),
        requirement("returns, as a NumPy array",
                    lambda X, Y, W, f, df: residual(X, Y, W, f, df, as_list=True), r"NumPy array"),
        requirement("the Frobenius norms", lambda X, Y, W, f, df: residual(X, Y, W, f, df, squared=True),
                    r"Frobenius norm, not its square"),
        requirement("first layer first", lambda X, Y, W, f, df: residual(X, Y, W, f, df, reverse=True),
                    r"reverse order"),
        requirement("\\frac{1}{2n}", lambda X, Y, W, f, df: residual(X, Y, W, f, df, scale=2.0),
                    r"without a factor 2"),
        requirement("\\frac{1}{2n}", lambda X, Y, W, f, df: residual(X, Y, W, f, df, scale=len(X)),
                    r"divide the output error by n"),
        requirement("$W_1, \\dots, W_L$ ($L \\ge 2$)",
                    lambda X, Y, W, f, df: residual(X, Y, W, f, df, wrong_two=True), r"2 layers"),
        requirement("`df(z)` is the derivative of `f` at the pre-activation `z`", residual_at_activation,
                    r"pre-activation z"),
        requirement("the error that reaches $\\mathbf{a}_{l-1}$ arrives along two paths",
                    lambda X, Y, W, f, df: residual(X, Y, W, f, df, identity=False), r"two paths"),
        free("Work out the backward step of a residual layer first", "a hint on how to start"),
    ],
    "09.kernel_fans": [
        requirement("returns the pair `(fan_in, fan_out)`", lambda s, lay: fans(s, lay, swap=True), r"wrong order"),
        requirement("of integers", lambda s, lay: fans(s, lay, floats=True), r"pair of integers"),
        free("for a weight tensor of the given `shape` (a tuple)", "what the argument is"),
        requirement("where a kernel is stored as `(C_out, C_in, *kernel_size)`",
                    lambda s, lay: fans(s, lay, read_as={"torch": "keras"}), r"keras layout"),
        requirement("where it is stored as `(*kernel_size, C_in, C_out)`",
                    lambda s, lay: fans(s, lay, read_as={"keras": "torch"}), r"torch layout"),
        requirement("A dense layer is the case without kernel axes",
                    lambda s, lay: fans(s, lay, dense_wrong=True), r"\(500, 300\)|\(300, 500\)"),
        requirement("The receptive field is the product of the kernel sizes",
                    lambda s, lay: fans(s, lay, field_sum=True), r"product of the kernel sizes"),
        requirement("$\\text{fan}_\\text{in} = C_\\text{in} \\cdot$ receptive field",
                    lambda s, lay: fans(s, lay, no_field=True), r"multiply the channel counts"),
        requirement("$\\text{fan}_\\text{out} = C_\\text{out} \\cdot$ receptive field",
                    lambda s, lay: fans(s, lay, out_no_field=True), r"fan-out is C_out times"),
        requirement("for 1-D, 2-D and 3-D convolutions alike", lambda s, lay: fans(s, lay, two_axes=True),
                    r"3, 5, 7"),
    ],
    "09.lsuv": [
        free("Layer-sequential unit-variance (LSUV) initialisation starts from any random weights",
             "what the method is"),
        requirement("it divides each weight matrix by the standard deviation",
                    lambda X, W, f: lsuv(X, W, f, multiply=True), r"do not multiply"),
        requirement("of that layer's pre-activations", lambda X, W, f: lsuv(X, W, f, activations=True),
                    r"not the activations"),
        requirement("computed with the layers before it", lambda X, W, f: lsuv(X, W, f, naive=True),
                    r"already rescaled"),
        free("Without biases one division per layer makes that standard deviation exactly 1",
             "a consequence of the rule above"),
        free("Write `lsuv(X, weights, f)` for the network", "the signature every row calls"),
        requirement("it returns a new list of weight matrices", lambda X, W, f: lsuv(X, W, f, as_tuple=True),
                    r"new list"),
        requirement("same shapes", lambda X, W, f: lsuv(X, W, f, transpose=True), r"keep its shape"),
        requirement("each the old one divided by one positive number",
                    lambda X, W, f: lsuv(X, W, f, columns=True), r"column by column"),
        requirement("divided by one positive number", lambda X, W, f: lsuv(X, W, f, negative=True),
                    r"negative number"),
        requirement("leaves `weights` unchanged", lambda X, W, f: lsuv(X, W, f, in_place=True), r"in place"),
    ],
    "09.torch_default_for_keras": [
        free("A PyTorch `nn.Linear` or `nn.Conv2d` starts from", "the target; the distribution row holds it"),
        free("a Keras `Dense` or `Conv2D` from Glorot uniform", "context"),
        requirement("returns a Keras initializer (an object from `keras.initializers`",
                    lambda seed: torch_default(seed, plain=True), r"keras\.initializers"),
        requirement("drawing from PyTorch's default distribution",
                    lambda seed: torch_default(seed, scale=1.0, mode="fan_avg"), r"Glorot uniform"),
        requirement("PyTorch's default distribution",
                    lambda seed: torch_default(seed, distribution="untruncated_normal"), r"normally distributed"),
        requirement("with the fan-in read from the kernel's shape",
                    lambda seed: torch_default(seed, mode="fan_out"), r"fan-out"),
        requirement("`Conv2D` kernels `(k, k, C_in, C_out)` alike", lambda seed: torch_default(seed, first_axis=True),
                    r"Conv2D kernel"),
        requirement("and seeded with `seed`", lambda seed: torch_default(seed, use_seed=False), r"seed"),
        free("Hint: `keras.initializers.VarianceScaling` draws", "a hint"),
    ],
}
