"""Chapter 02 checks: wrong answers get the right hint, other correct answers pass."""

import math

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

# ----------------------------------------------------------------------- 02.mse


def mse_loop(y_true, y_pred):
    a, b = np.ravel(y_true), np.ravel(y_pred)
    return sum((p - t) ** 2 for p, t in zip(a, b, strict=True)) / len(a)


@pytest.mark.parametrize("answer", [
    lambda y_true, y_pred: np.mean((np.ravel(y_pred) - np.ravel(y_true)) ** 2),
    mse_loop,
    lambda y_true, y_pred: np.float32(np.square(np.reshape(y_true, -1) - np.reshape(y_pred, -1)).mean()),
])
def test_mse_accepts(answer):
    assert check("02.mse", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda t, p: np.sum((np.ravel(p) - np.ravel(t)) ** 2), "sum, not the mean"),
    (lambda t, p: np.mean(np.ravel(p) - np.ravel(t)), "square the differences"),
    (lambda t, p: np.sqrt(np.mean((np.ravel(p) - np.ravel(t)) ** 2)), "root mean squared"),
    (lambda t, p: np.mean(np.abs(np.ravel(p) - np.ravel(t))), "MAE"),
    (lambda t, p: np.mean((np.asarray(p) - np.asarray(t)) ** 2), "n x n matrix"),
    (lambda t, p: (np.ravel(p) - np.ravel(t)) ** 2, "not one value per sample|single number|shape"),
])
def test_mse_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.mse", answer)


# ----------------------------------------------------------------------- 02.binary_cross_entropy


def bce_logaddexp(y, z):
    return np.mean(np.logaddexp(0.0, z) - y * z)


def bce_two_terms(y, z):
    """y * softplus(-z) + (1 - y) * softplus(z), written with np.where."""
    y, z = np.asarray(y, dtype=float), np.asarray(z, dtype=float)

    def softplus(v):
        return np.where(v > 0, v + np.log1p(np.exp(-np.abs(v))), np.log1p(np.exp(-np.abs(v))))

    return np.mean(y * softplus(-z) + (1 - y) * softplus(z))


@pytest.mark.parametrize("answer", [bce_logaddexp, bce_two_terms])
def test_bce_accepts(answer):
    assert check("02.binary_cross_entropy", answer)


def _sig(z):
    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))


@pytest.mark.parametrize("answer,hint", [
    (lambda y, z: -bce_logaddexp(y, z), "sign is wrong"),
    (lambda y, z: len(y) * bce_logaddexp(y, z), "sum, not the mean"),
    (lambda y, z: bce_logaddexp(1 - y, z), "swapped"),
    (lambda y, z: -np.mean(y * np.log(_sig(z)) + (1 - y) * np.log(1 - _sig(z))), "log\\(0\\) = -inf"),
    (lambda y, z: -np.mean(y * np.log(np.clip(_sig(z), 1e-7, 1 - 1e-7))
                           + (1 - y) * np.log(1 - np.clip(_sig(z), 1e-7, 1 - 1e-7))), "caps the loss"),
    (lambda y, z: -np.mean(y * np.log(z) + (1 - y) * np.log(1 - z)), "not probabilities"),
])
def test_bce_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.binary_cross_entropy", answer)


# ----------------------------------------------------------------------- 02.logistic_gradient


def grad_loop(X, y, w, b):
    n, d = X.shape
    gw, gb = np.zeros(d), 0.0
    for i in range(n):
        p = 1 / (1 + math.exp(-(X[i] @ w + b)))
        gw += (p - y[i]) * X[i] / n
        gb += (p - y[i]) / n
    return gw, gb


def grad_einsum(X, y, w, b):
    error = np.tanh((X @ w + b) / 2) / 2 + 0.5 - y  # sigma via tanh
    return np.einsum("nd,n->d", X, error) / len(y), float(error.sum() / len(y))


@pytest.mark.parametrize("answer", [grad_loop, grad_einsum])
def test_logistic_gradient_accepts(answer):
    assert check("02.logistic_gradient", answer)


def _grad(scale=1.0, sign=1.0, use_sigmoid=True, bias=True):
    def gradient(X, y, w, b):
        z = X @ w + b
        error = sign * ((_sig(z) if use_sigmoid else z) - y)
        n = len(y) if scale == 1.0 else 1
        return X.T @ error / n, (error.mean() if bias else 0.0)
    return gradient


@pytest.mark.parametrize("answer,hint", [
    (_grad(scale=0.0), "divide by the number of samples"),
    (_grad(sign=-1.0), "sign is wrong"),
    (_grad(use_sigmoid=False), "apply the sigmoid"),
    (_grad(bias=False), "bias gradient is not zero"),
    (lambda X, y, w, b: (2 * _grad()(X, y, w, b)[0], _grad()(X, y, w, b)[1]), "factor 2"),
    (lambda X, y, w, b: _grad()(X, y, w, b)[0], "pair"),
])
def test_logistic_gradient_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.logistic_gradient", answer)


# ----------------------------------------------------------------------- 02.gradient_descent


def gd_preallocated(grad, x0, lr, n_steps):
    x0 = np.asarray(x0, dtype=np.float64)
    out = np.zeros((n_steps + 1,) + x0.shape)
    out[0] = x0
    for k in range(1, n_steps + 1):
        out[k] = out[k - 1] - lr * grad(out[k - 1])
    return out


def gd_list(grad, x0, lr, n_steps):
    x, path = x0, [x0]
    for _ in range(n_steps):
        x = x - lr * grad(x)
        path.append(x)
    return np.array(path)


@pytest.mark.parametrize("answer", [gd_preallocated, gd_list])
def test_gradient_descent_accepts(answer):
    assert check("02.gradient_descent", answer)


def _gd_in_place(grad, x0, lr, n_steps):
    x = np.array(x0, dtype=float)
    path = [x]
    for _ in range(n_steps):
        x -= lr * grad(x)
        path.append(x)
    return np.array(path)


def _gd_mutates_x0(grad, x0, lr, n_steps):
    if isinstance(x0, np.ndarray):
        x0 -= 0.0 * x0 + 1e-3
    return gd_list(grad, x0, lr, n_steps)


@pytest.mark.parametrize("answer,hint", [
    (lambda g, x0, lr, n: gd_list(lambda v: -g(v), x0, lr, n), "uphill"),
    (lambda g, x0, lr, n: gd_list(g, x0, lr, n)[1:], "starting point"),
    (lambda g, x0, lr, n: gd_list(g, x0, lr, n + 1), "one point too many"),
    (lambda g, x0, lr, n: gd_list(g, x0, 1.0, n), "learning rate"),
    (lambda g, x0, lr, n: gd_list(g, x0, lr, n)[-1], "only the last point"),
    (_gd_in_place, "equals the last one"),
    (_gd_mutates_x0, "in place"),
])
def test_gradient_descent_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.gradient_descent", answer)


# ----------------------------------------------------------------------- 02.minibatches


def batches_ok(X, y, batch_size, rng):
    order = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        yield X[order[start:start + batch_size]], y[order[start:start + batch_size]]


def batches_split(X, y, batch_size, rng):
    """Returns a list: the right batches, but the statement asks for a generator."""
    order = rng.permutation(len(X))
    n_batches = math.ceil(len(X) / batch_size)
    chunks = [order[i * batch_size:(i + 1) * batch_size] for i in range(n_batches)]
    return [(X[c], y[c]) for c in chunks]


def batches_array_split(X, y, batch_size, rng):
    """A generator over np.array_split of the shuffled indices at multiples of batch_size."""
    order = rng.permutation(len(X))
    yield from ((X[c], y[c]) for c in np.array_split(order, range(batch_size, len(X), batch_size)))


@pytest.mark.parametrize("answer", [batches_ok, batches_array_split])
def test_minibatches_accepts(answer):
    assert check("02.minibatches", answer)


def test_minibatches_must_be_a_generator():
    with pytest.raises(CheckFailed, match="generator"):
        check("02.minibatches", batches_split)


def _no_shuffle(X, y, batch_size, rng):
    for start in range(0, len(X), batch_size):
        yield X[start:start + batch_size], y[start:start + batch_size]


def _separate(X, y, batch_size, rng):
    ox, oy = rng.permutation(len(X)), rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        yield X[ox[start:start + batch_size]], y[oy[start:start + batch_size]]


def _drop_last(X, y, batch_size, rng):
    order = rng.permutation(len(X))
    for start in range(0, len(X) - batch_size + 1, batch_size):
        yield X[order[start:start + batch_size]], y[order[start:start + batch_size]]


def _with_replacement(X, y, batch_size, rng):
    for start in range(0, len(X), batch_size):
        idx = rng.integers(0, len(X), size=min(batch_size, len(X) - start))
        yield X[idx], y[idx]


def _in_place(X, y, batch_size, rng):
    state = rng.bit_generator.state
    rng.shuffle(X)
    rng.bit_generator.state = state
    rng.shuffle(y)
    for start in range(0, len(X), batch_size):
        yield X[start:start + batch_size], y[start:start + batch_size]


def _fixed_seed(X, y, batch_size, rng):
    return batches_ok(X, y, batch_size, np.random.default_rng(123))


@pytest.mark.parametrize("answer,hint", [
    (_no_shuffle, "original order"),
    (_separate, "SAME permutation"),
    (_drop_last, "last batch"),
    (_with_replacement, "appear twice"),
    (_in_place, "in place"),
    (_fixed_seed, "use the rng argument"),
])
def test_minibatches_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.minibatches", answer)


def test_make_linear_regression_is_seeded_and_linear():
    from course_utils.data.synthetic import make_linear_regression

    X, y = make_linear_regression(n=500, seed=3, w=(2.0, -1.0), b=0.5, noise=0.0)
    assert X.shape == (500, 2) and y.shape == (500,)
    np.testing.assert_allclose(y, X @ np.array([2.0, -1.0]) + 0.5)
    X2, y2 = make_linear_regression(n=500, seed=3, w=(2.0, -1.0), b=0.5, noise=0.0)
    np.testing.assert_array_equal(X, X2)
    _, noisy = make_linear_regression(n=2000, seed=0, noise=0.3)
    assert noisy.shape == (2000,)


# --------------------------------------------------------------- 02.hinge_step


def _hinge(signs=True, strict=True, penalty=2.0, mean=True, bias_penalised=False, sign=-1.0):
    def hinge_step(w, b, X, y, lr, lam):
        t = 2 * y - 1 if signs else y
        margin = t * (X @ w + b)
        active = margin < 1 if strict else margin <= 1
        reduce = np.mean if mean else np.sum
        grad_w = -reduce(X * (t * active)[:, None], axis=0) + penalty * lam * w
        grad_b = -np.mean(t * active) + (2 * lam * b if bias_penalised else 0.0)
        return w + sign * lr * grad_w, b + sign * lr * grad_b
    return hinge_step


def hinge_step_loop(w, b, X, y, lr, lam):
    """A loop over samples with Python floats: different code, same step."""
    gw, gb = [0.0] * len(w), 0.0
    for x_i, y_i in zip(X, y, strict=True):
        t = 1.0 if y_i == 1 else -1.0
        if t * (float(np.dot(w, x_i)) + b) < 1:
            gw = [g - t * v / len(y) for g, v in zip(gw, x_i, strict=True)]
            gb -= t / len(y)
    return np.array([wi - lr * (g + 2 * lam * wi) for wi, g in zip(w, gw, strict=True)]), b - lr * gb


@pytest.mark.parametrize("answer", [_hinge(), hinge_step_loop])
def test_hinge_step_accepts(answer):
    assert check("02.hinge_step", answer)


@pytest.mark.parametrize("answer,hint", [
    (_hinge(signs=False), "signs t = 2 y - 1"),
    (_hinge(strict=False), "margin < 1"),
    (_hinge(penalty=1.0), "2 lam w"),
    (_hinge(mean=False), "mean, not sum"),
    (_hinge(bias_penalised=True), "bias is not penalised"),
    (_hinge(sign=1.0), "against the subgradient"),
])
def test_hinge_step_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.hinge_step", answer)


# ------------------------------------------------------------- 02.gaussian_nll


def gaussian_nll(y, mu, log_var):
    return np.mean(0.5 * (np.log(2 * np.pi) + log_var + (y - mu) ** 2 * np.exp(-log_var)))


def gaussian_nll_float32(y, mu, log_var):
    """log N(y; mu, var) written as a log-density, in float32."""
    y, mu = np.float32(y), np.float32(mu)
    log_var = np.broadcast_to(np.float32(log_var), y.shape)
    log_density = -0.5 * np.log(np.float32(2 * np.pi)) - 0.5 * log_var - 0.5 * (y - mu) ** 2 / np.exp(log_var)
    return -log_density.mean()


@pytest.mark.parametrize("answer", [gaussian_nll, gaussian_nll_float32])
def test_gaussian_nll_accepts(answer):
    assert check("02.gaussian_nll", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda y, mu, lv: np.mean(0.5 * (lv + (y - mu) ** 2 * np.exp(-lv))), "log\\(2 pi\\)"),
    (lambda y, mu, lv: np.mean(np.log(2 * np.pi) + lv + (y - mu) ** 2 * np.exp(-lv)), "halved"),
    (lambda y, mu, lv: np.mean(0.5 * (np.log(2 * np.pi) + (y - mu) ** 2 * np.exp(-lv))), "log-variance term"),
    (lambda y, mu, lv: np.sum(0.5 * (np.log(2 * np.pi) + lv + (y - mu) ** 2 * np.exp(-lv))), "not the sum"),
    (lambda y, mu, lv: 0.5 * (np.log(2 * np.pi) + lv + (y - mu) ** 2 * np.exp(-lv)), "one number"),
])
def test_gaussian_nll_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.gaussian_nll", answer)


# ------------------------------------------------------ 02.backtracking_line_search


def _search(c_power=2, decrease=True, return_next=False, start_shrunk=False):
    def backtracking_line_search(f, grad, x, lr0, shrink, c):
        g = grad(x)
        size = np.sum(g * g) if c_power == 2 else np.sqrt(np.sum(g * g))
        lr = lr0 * shrink if start_shrunk else lr0
        while f(x - lr * g) > f(x) - (c * lr * size if decrease else 0.0):
            lr *= shrink
        return lr * shrink if return_next else lr
    return backtracking_line_search


def search_recursive(f, grad, x, lr0, shrink, c):
    """Recursion instead of a loop: same first accepted step."""
    g = grad(x)
    if f(x - lr0 * g) <= f(x) - c * lr0 * float(g @ g):
        return lr0
    return search_recursive(f, grad, x, lr0 * shrink, shrink, c)


@pytest.mark.parametrize("answer", [_search(), search_recursive])
def test_line_search_accepts(answer):
    assert check("02.backtracking_line_search", answer)


@pytest.mark.parametrize("answer,hint", [
    (_search(c_power=1), "squared length"),
    (_search(decrease=False), "sufficient-decrease"),
    (_search(return_next=True), "not the one after it"),
    (_search(start_shrunk=True), "starting with lr0"),
    (lambda f, grad, x, lr0, shrink, c: lr0, "keep shrinking"),
])
def test_line_search_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.backtracking_line_search", answer)



# ------------------------------------------------------------------------ 02.best_rate


def _best_rate(curvatures=np.linalg.eigvalsh, how="best", swap=False, as_array=False):
    def best_rate(H):
        lam = np.sort(curvatures(H))
        low, high = lam[0], lam[-1]
        eta = {"best": 2 / (low + high), "limit": 2 / high, "steep": 1 / high}[how]
        rho = (high - low) / (high + low)
        pair = (rho, eta) if swap else (eta, rho)
        return np.array(pair) if as_array else pair
    return best_rate


def best_rate_by_svd(H):
    """Singular values instead of eigenvalues (equal for a symmetric positive definite H)."""
    singular = np.linalg.svd(H, compute_uv=False)
    low, high = singular.min(), singular.max()
    return float(2.0 / (low + high)), float((high - low) / (high + low))


def best_rate_from_condition(H):
    """Through the condition number kappa: another formula, keyword arguments, NumPy floats."""
    lam = np.linalg.eigvals(H).real
    kappa = lam.max() / lam.min()
    return np.float64(2.0 / (lam.min() * (1.0 + kappa))), np.float64((kappa - 1.0) / (kappa + 1.0))


@pytest.mark.parametrize("answer", [_best_rate(), best_rate_by_svd, best_rate_from_condition])
def test_best_rate_accepts(answer):
    assert check("02.best_rate", answer)


@pytest.mark.parametrize("answer,hint", [
    (_best_rate(curvatures=np.diag), "eigenvalues"),
    (_best_rate(how="limit"), "diverges, not the best rate"),
    (_best_rate(how="steep"), "balance the two"),
    (_best_rate(swap=True), "in that order"),
    (_best_rate(as_array=True), "pair"),
    (lambda H: (1 / np.trace(H), 0.5), "eta .* is wrong"),
])
def test_best_rate_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("02.best_rate", answer)


def test_best_rate_must_not_change_H():
    def scales_in_place(H):
        eta, rho = _best_rate()(H)
        H *= 2
        return eta, rho
    with pytest.raises(CheckFailed, match="in place"):
        check("02.best_rate", scales_in_place)


@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("02")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
