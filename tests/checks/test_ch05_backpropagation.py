"""Chapter 05 checks: wrong answers get the right hint, other correct answers pass."""

import functools

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

# ---------------------------------------------------------------- 05.fib_memo


def fib_loop(n):
    a, b = 1, 1
    for _ in range(n - 1):
        a, b = b, a + b
    return a


@functools.cache
def fib_cached(n):
    return 1 if n <= 2 else fib_cached(n - 1) + fib_cached(n - 2)


@pytest.mark.parametrize("answer", [fib_loop, fib_cached, lambda n: np.int64(fib_loop(n))])
def test_fib_accepts(answer):
    assert check("05.fib_memo", answer)


def fib_naive(n):
    return 1 if n <= 2 else fib_naive(n - 1) + fib_naive(n - 2)


def fib_float(n):
    memo = np.zeros(n + 1)
    memo[1:3] = 1
    for k in range(3, n + 1):
        memo[k] = memo[k - 1] + memo[k - 2]
    return memo[n]


@pytest.mark.parametrize("answer,hint", [
    (fib_naive, "store each F_k"),
    (fib_float, "is a float"),
    (lambda n: fib_loop(n + 1), r"F_\(n\+1\)"),
    (lambda n: fib_loop(n - 1) if n > 1 else 0, r"F_\(n-1\)"),
    (lambda n: 2 if n == 1 else fib_loop(n), "base cases"),
    (lambda n: None, "is None"),
])
def test_fib_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.fib_memo", answer)


# ---------------------------------------------------------------- 05.neuron_backward


def neuron(factor=2.0, sign=1.0, slope=True, mean=True):
    def backward(X, y, w, b):
        a = 1 / (1 + np.exp(-(X @ w + b)))
        g = sign * factor * (a - y) / (len(y) if mean else 1)
        if slope:
            g = g * a * (1 - a)
        return X.T @ g, g.sum()
    return backward


def neuron_loop(X, y, w, b):
    dw, db = np.zeros_like(w), 0.0
    for x_i, y_i in zip(X, y, strict=True):
        a = 1 / (1 + np.exp(-(np.dot(x_i, w) + b)))
        dz = 2 * (a - y_i) * a * (1 - a) / len(y)
        dw += dz * x_i
        db += dz
    return list(dw), np.array([db])


def neuron_float32(X, y, w, b):
    dw, db = neuron()(X.astype(np.float32), y.astype(np.float32), w.astype(np.float32), np.float32(b))
    return dw, db


@pytest.mark.parametrize("answer", [neuron(), neuron_loop, neuron_float32])
def test_neuron_accepts(answer):
    assert check("05.neuron_backward", answer)


@pytest.mark.parametrize("answer,hint", [
    (neuron(factor=1.0), "factor 2 is missing"),
    (neuron(sign=-1.0), "sign is wrong"),
    (neuron(slope=False), "derivative a \\(1 - a\\) is missing"),
    (neuron(mean=False), "divide by the number of samples"),
    (lambda X, y, w, b: np.zeros(3), "pair"),
])
def test_neuron_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.neuron_backward", answer)


# ---------------------------------------------------------------- 05.softmax_ce_grad


def ce_grad(Z, y):
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P = P / P.sum(axis=1, keepdims=True)
    return (P - np.eye(Z.shape[1])[y]) / len(y)


def ce_grad_logsumexp(Z, y):
    """Via log-probabilities, row by row."""
    out = []
    for z, label in zip(Z, y, strict=True):
        m = z.max()
        log_p = z - m - np.log(np.sum(np.exp(z - m)))
        row = np.exp(log_p)
        row[label] -= 1.0
        out.append(row / len(y))
    return np.array(out)


def ce_naive(Z, y):
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    return (P - np.eye(Z.shape[1])[y]) / len(y)


@pytest.mark.parametrize("answer", [ce_grad, ce_grad_logsumexp])
def test_ce_accepts(answer):
    assert check("05.softmax_ce_grad", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda Z, y: ce_grad(Z, y) * len(y), "1/n of the mean is missing"),
    (lambda Z, y: -ce_grad(Z, y), "sign is wrong"),
    (lambda Z, y: (ce_grad(Z, y) * len(y) + np.eye(Z.shape[1])[y] - y[:, None]) / len(y), "one-hot"),
    (lambda Z, y: (Z - np.eye(Z.shape[1])[y]) / len(y), "apply the softmax"),
    (ce_naive, "NaN or inf"),
])
def test_ce_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.softmax_ce_grad", answer)


# ---------------------------------------------------------------- 05.tanh_layer_backward


def tanh_backward_loops(X, W, b, dH):
    n, d = X.shape
    h = W.shape[1]
    dX, dW, db = np.zeros((n, d)), np.zeros((d, h)), np.zeros(h)
    for i in range(n):
        for j in range(h):
            dz = dH[i, j] * (1 - np.tanh(X[i] @ W[:, j] + b[j]) ** 2)
            db[j] += dz
            dW[:, j] += dz * X[i]
            dX[i] += dz * W[:, j]
    return dX, dW, db


def tanh_backward_einsum_float32(X, W, b, dH):
    f = np.float32
    Z = (X.astype(f) @ W.astype(f) + b.astype(f))
    dZ = dH.astype(f) / np.cosh(Z) ** 2
    return [np.einsum("nh,dh->nd", dZ, W.astype(f)), np.einsum("nd,nh->dh", X.astype(f), dZ),
            dZ.sum(axis=0)]


@pytest.mark.parametrize("answer", [tanh_backward_loops, tanh_backward_einsum_float32])
def test_tanh_layer_backward_accepts(answer):
    assert check("05.tanh_layer_backward", answer)


def _tanh_parts(X, W, b, dH):
    H = np.tanh(X @ W + b)
    return H, dH * (1 - H**2)


@pytest.mark.parametrize("answer,hint", [
    (lambda X, W, b, dH: (dH @ W.T, X.T @ dH, dH.sum(0)), "derivative 1 - H\\*\\*2 is missing"),
    (lambda X, W, b, dH: (dH * (1 - np.tanh(X @ W + b))) @ W.T, "should return the tuple"),
    (lambda X, W, b, dH: ((lambda H, dZ: (dZ @ W.T, (X.T @ dZ).T, dZ.sum(0)))(*_tanh_parts(X, W, b, dH))),
     "dW is transposed"),
    (lambda X, W, b, dH: ((lambda H, dZ: (dZ @ W.T, X.T @ dZ, dZ.sum(1)))(*_tanh_parts(X, W, b, dH))),
     "axis 0"),
    (lambda X, W, b, dH: ((lambda H, dZ: (dZ @ W.T, X.T @ (dH * (1 - H)), dZ.sum(0)))(
        *_tanh_parts(X, W, b, dH))), "not 1 - tanh\\(Z\\)"),
    (lambda X, W, b, dH: None, "is None"),
])
def test_tanh_layer_backward_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.tanh_layer_backward", answer)


# ---------------------------------------------------------------- 05.soft_cross_entropy


def soft_ce_logaddexp(Z, T):
    log_norm = np.logaddexp.reduce(Z, axis=1, keepdims=True)
    log_P = Z - log_norm
    return float(-np.mean(np.sum(T * log_P, axis=1))), (np.exp(log_P) - T) / len(Z)


def soft_ce_loops(Z, T):
    n, _ = Z.shape
    loss, grad = 0.0, np.zeros_like(Z)
    for i in range(n):
        m = max(Z[i])
        log_sum = m + np.log(sum(np.exp(z - m) for z in Z[i]))
        loss -= sum(t * (z - log_sum) for t, z in zip(T[i], Z[i], strict=True))
        grad[i] = (np.exp(Z[i] - log_sum) - T[i]) / n
    return [loss / n, grad]


@pytest.mark.parametrize("answer", [soft_ce_logaddexp, soft_ce_loops])
def test_soft_cross_entropy_accepts(answer):
    assert check("05.soft_cross_entropy", answer)


def soft_ce_global_max(Z, T):
    """Shifted by the batch's maximum: stable on one scale only."""
    shifted = Z - Z.max()
    log_P = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -np.sum(T * log_P) / len(Z), (np.exp(log_P) - T) / len(Z)


def _stable_parts(Z):
    shifted = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return P


@pytest.mark.parametrize("answer,hint", [
    (lambda Z, T: (-np.sum(T * np.log(_stable_parts(Z) + 1e-12)) / len(Z), (_stable_parts(Z) - T) / len(Z)),
     "log-sum-exp"),
    (lambda Z, T: (-np.sum(T * np.log(_stable_parts(Z) + 1e-300)) * 0 + soft_ce_logaddexp(Z, T)[0],
                   (T - _stable_parts(Z)) / len(Z)), "sign is wrong"),
    (lambda Z, T: (soft_ce_logaddexp(Z, T)[0] * len(Z), soft_ce_logaddexp(Z, T)[1]), "divide the sum by n"),
    (lambda Z, T: (soft_ce_logaddexp(Z, T)[0], _stable_parts(Z) - T), "1/n of the mean"),
    (lambda Z, T: soft_ce_logaddexp(Z, T)[1], "should return the pair"),
    (lambda Z, T: soft_ce_global_max(Z, T), "each row's own maximum"),
])
def test_soft_cross_entropy_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.soft_cross_entropy", answer)


# ---------------------------------------------------------------- 05.mlp_jvp


def jvp_by_jacobian(x, v, W1, b1, W2, b2):
    """Another method: build the Jacobian explicitly, then multiply."""
    h = np.tanh(x @ W1 + b1)
    J = W2.T @ np.diag(1 - h**2) @ W1.T
    return h @ W2 + b2, J @ v


def jvp_complex_step(x, v, W1, b1, W2, b2):
    """Complex-step differentiation: exact to rounding, another forward-mode trick."""
    eps = 1e-30
    out = np.tanh((x + 1j * eps * v) @ W1 + b1) @ W2 + b2
    return out.real, out.imag / eps


def jvp_loops(x, v, W1, b1, W2, b2):
    """Another style: loops over the units, tangents carried number by number."""
    h_values, h_tangents = [], []
    for j in range(W1.shape[1]):
        z = sum(x[i] * W1[i, j] for i in range(len(x))) + b1[j]
        dz = sum(v[i] * W1[i, j] for i in range(len(x)))
        t = np.tanh(z)
        h_values.append(t)
        h_tangents.append((1 - t * t) * dz)
    g = np.array([sum(h_values[j] * W2[j, k] for j in range(len(h_values))) + b2[k] for k in range(W2.shape[1])])
    jv = np.array([sum(h_tangents[j] * W2[j, k] for j in range(len(h_values))) for k in range(W2.shape[1])])
    return g, jv


@pytest.mark.parametrize("answer", [jvp_loops, jvp_complex_step])
def test_mlp_jvp_accepts(answer):
    assert check("05.mlp_jvp", answer)


def jvp_finite_difference(x, v, W1, b1, W2, b2, eps=1e-6):
    def g(z):
        return np.tanh(z @ W1 + b1) @ W2 + b2
    return g(x), (g(x + eps * v) - g(x)) / eps


def jvp_reverse(x, v, W1, b1, W2, b2):
    h = np.tanh(x @ W1 + b1)
    return h @ W2 + b2, ((np.ones(W2.shape[1]) @ W2.T) * (1 - h**2)) @ W1.T * v


@pytest.mark.parametrize("answer,hint", [
    (lambda x, v, W1, b1, W2, b2: (np.tanh(x @ W1 + b1) @ W2 + b2, v @ W1 @ W2), "tanh derivative is missing"),
    (jvp_finite_difference, "finite difference"),
    (jvp_reverse, "vector-Jacobian"),
    (jvp_by_jacobian, "Never build J"),
    (lambda x, v, W1, b1, W2, b2: (x @ W1 @ W2, v @ W1 @ W2), "g\\(x\\)"),
    (lambda x, v, W1, b1, W2, b2: np.zeros(3), "should return the pair"),
])
def test_mlp_jvp_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.mlp_jvp", answer)


# ---------------------------------------------------------------- 05.backward_order


def order_iterative(parents, output):
    order, done, stack = [], set(), [(output, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif node not in done:
            done.add(node)
            stack.append((node, True))
            stack.extend((p, False) for p in parents[node])
    return order[::-1]


def order_kahn(parents, output):
    """Kahn's algorithm on the reachable part: a node is emitted once all its users are."""
    reachable, stack = {output}, [output]
    while stack:
        for p in parents[stack.pop()]:
            if p not in reachable:
                reachable.add(p)
                stack.append(p)
    users = {name: 0 for name in reachable}
    for name in reachable:
        for p in set(parents[name]):
            users[p] += 1
    ready, order = [output], []
    while ready:
        node = ready.pop()
        order.append(node)
        for p in set(parents[node]):
            users[p] -= 1
            if users[p] == 0:
                ready.append(p)
    return order


def order_recursive(parents, output):
    """Recursion with a raised limit (restored afterwards)."""
    import sys
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 30_000))
    order, seen = [], set()

    def visit(node):
        if node not in seen:
            seen.add(node)
            for p in parents[node]:
                visit(p)
            order.append(node)

    try:
        visit(output)
    finally:
        sys.setrecursionlimit(limit)
    return list(reversed(order))


@pytest.mark.parametrize("answer", [order_iterative, order_kahn, order_recursive])
def test_backward_order_accepts(answer):
    assert check("05.backward_order", answer)


def order_bfs(parents, output):
    order, seen, queue = [], {output}, [output]
    while queue:
        node = queue.pop(0)
        order.append(node)
        for p in parents[node]:
            if p not in seen:
                seen.add(p)
                queue.append(p)
    return order


def order_preorder_repeats(parents, output):
    order, stack = [], [output]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(parents[node])
        if len(order) > 50_000:
            break
    return order


def order_recursive_default_limit(parents, output):
    order, seen = [], set()

    def visit(node):
        if node not in seen:
            seen.add(node)
            for p in parents[node]:
                visit(p)
            order.append(node)

    visit(output)
    return order[::-1]


@pytest.mark.parametrize("answer,hint", [
    (order_bfs, "distance from the output"),
    (order_preorder_repeats, "more than once"),
    (lambda parents, output: order_iterative(parents, output)[::-1], "output comes last"),
    (lambda parents, output: order_iterative(parents, output) + [n for n in parents
                                                                 if n not in order_iterative(parents, output)],
     "was not computed from it"),
    (order_recursive_default_limit, "recursed too deeply"),
    (lambda parents, output: tuple(order_iterative(parents, output)), "should return a list"),
])
def test_backward_order_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.backward_order", answer)


def test_backward_order_rejects_a_changed_graph():
    def sorts_in_place(parents, output):
        for value in parents.values():
            value.sort()
        return order_iterative(parents, output)

    with pytest.raises(CheckFailed, match="changed"):
        check("05.backward_order", sorts_in_place)


# ---------------------------------------------------------------- 05.value_ops


def make_value(tanh_slope=lambda t, x: 1 - t * t, exponent_grad=True, overwrite=False,
               rpow_slope=None):
    """A Value class in the lecture's style, with switches for typical mistakes."""
    import math

    class V:
        def __init__(self, data, parents=(), local_grads=()):
            self.data, self.grad = float(data), 0.0
            self.parents, self.local_grads = parents, local_grads

        def __add__(self, other):
            other = other if isinstance(other, V) else V(other)
            return V(self.data + other.data, (self, other), (1.0, 1.0))

        def __mul__(self, other):
            other = other if isinstance(other, V) else V(other)
            return V(self.data * other.data, (self, other), (other.data, self.data))

        __radd__, __rmul__ = __add__, __mul__

        def __pow__(self, other):
            if not isinstance(other, V):
                return V(self.data**other, (self,), (other * self.data ** (other - 1),))
            c = self.data**other.data
            if not exponent_grad:
                return V(c, (self,), (other.data * self.data ** (other.data - 1),))
            return V(c, (self, other), (other.data * self.data ** (other.data - 1), c * math.log(self.data)))

        def __rpow__(self, base):
            if rpow_slope is not None:
                return V(base**self.data, (self,), (rpow_slope(base, self.data),))
            return V(base) ** self

        def tanh(self):
            t = math.tanh(self.data)
            return V(t, (self,), (tanh_slope(t, self.data),))

        def backward(self):
            order, seen = [], set()

            def visit(node):
                if id(node) not in seen:
                    seen.add(id(node))
                    for p in node.parents:
                        visit(p)
                    order.append(node)

            visit(self)
            self.grad = 1.0
            for node in reversed(order):
                for p, local in zip(node.parents, node.local_grads, strict=True):
                    if overwrite:
                        p.grad = node.grad * local
                    else:
                        p.grad += node.grad * local

    return V


class ClosureValue:
    """Another style: each operation stores a closure that pushes its gradient back."""

    def __init__(self, data, children=()):
        self.data, self.grad, self._prev, self._backward = float(data), 0.0, children, lambda: None

    def __add__(self, other):
        other = other if isinstance(other, ClosureValue) else ClosureValue(other)
        out = ClosureValue(self.data + other.data, (self, other))

        def back():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = back
        return out

    def __mul__(self, other):
        other = other if isinstance(other, ClosureValue) else ClosureValue(other)
        out = ClosureValue(self.data * other.data, (self, other))

        def back():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = back
        return out

    __radd__, __rmul__ = __add__, __mul__

    def exp(self):
        import math
        out = ClosureValue(math.exp(self.data), (self,))

        def back():
            self.grad += out.data * out.grad
        out._backward = back
        return out

    def log(self):
        import math
        out = ClosureValue(math.log(self.data), (self,))

        def back():
            self.grad += out.grad / self.data
        out._backward = back
        return out

    def __pow__(self, other):
        if isinstance(other, ClosureValue):  # a ** b = exp(b log a), by composition
            return (other * self.log()).exp()
        out = ClosureValue(self.data**other, (self,))

        def back():
            self.grad += other * self.data ** (other - 1) * out.grad
        out._backward = back
        return out

    def __rpow__(self, base):
        return ClosureValue(base) ** self

    def tanh(self):
        e2 = (self * 2.0).exp()
        return (e2 + -1.0) * (e2 + 1.0) ** -1

    def backward(self):
        topo, seen = [], set()

        def build(v):
            if v not in seen:
                seen.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)
        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()


@pytest.mark.parametrize("answer", [make_value(), ClosureValue])
def test_value_ops_accepts(answer):
    assert check("05.value_ops", answer)


@pytest.mark.parametrize("answer,hint", [
    (make_value(tanh_slope=lambda t, x: 1 - t), "1 - tanh\\(x\\)\\*\\*2, not 1 - tanh\\(x\\)"),
    (make_value(tanh_slope=lambda t, x: 1 - x * x), "square is of tanh"),
    (make_value(exponent_grad=False), "exponent's local derivative is missing"),
    (make_value(rpow_slope=lambda base, x: x * base ** (x - 1)), "the variable is the exponent"),
    (make_value(overwrite=True), "add them"),
    (lambda data: float(data), "should be the class"),
])
def test_value_ops_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.value_ops", answer)


# ---------------------------------------------------------------- 05.affine_backward, 05.relu_backward


def affine_backward_loops(dout, cache):
    X, W = cache
    n, d = X.shape
    h = W.shape[1]
    dX, dW, db = np.zeros((n, d)), np.zeros((d, h)), np.zeros(h)
    for i in range(n):
        db += dout[i]
        dW += np.outer(X[i], dout[i])
        dX[i] = W @ dout[i]
    return dX, dW, db


def affine_backward_einsum(dout, cache):
    X, W = cache
    return [np.einsum("nh,dh->nd", dout, W), np.einsum("nd,nh->dh", X, dout), np.einsum("nh->h", dout)]


@pytest.mark.parametrize("answer", [affine_backward_loops, affine_backward_einsum])
def test_affine_backward_accepts(answer):
    assert check("05.affine_backward", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda dout, cache: (dout @ cache[1].T, (cache[0].T @ dout).T, dout.sum(0)), "transposed"),
    (lambda dout, cache: (dout @ cache[1].T, cache[0].T @ dout, dout.sum(1)), "axis 0"),
    (lambda dout, cache: (dout @ cache[1].T, cache[0].T @ dout, dout.mean(0)), "not a mean"),
    (lambda dout, cache: (dout @ cache[1], cache[0].T @ dout, dout.sum(0)), "transpose of W"),
    (lambda dout, cache: (dout @ cache[1].T, cache[0].T @ dout), "tuple \\(dX, dW, db\\)"),
])
def test_affine_backward_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.affine_backward", answer)


@pytest.mark.parametrize("answer", [lambda dout, Z: np.where(Z > 0, dout, 0.0),
                                    lambda dout, Z: dout * np.heaviside(Z, 0.0)])
def test_relu_backward_accepts(answer):
    assert check("05.relu_backward", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda dout, Z: dout * (Z >= 0), "Z > 0, not Z >= 0"),
    (lambda dout, Z: (Z > 0).astype(float), "the mask alone"),
    (lambda dout, Z: dout * (dout > 0), "not from dout"),
    (lambda dout, Z: dout * np.maximum(Z, 0), "not Z itself"),
])
def test_relu_backward_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.relu_backward", answer)


# ---------------------------------------------------------------- 05.affine_forward, 05.relu_forward


@pytest.mark.parametrize("answer", [lambda X, W, b: (X @ W + b, (X, W)),
                                    lambda X, W, b: (np.einsum("nd,dh->nh", X, W) + b[None, :], [X, W])])
def test_affine_forward_accepts(answer):
    assert check("05.affine_forward", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda X, W, b: (X @ W, (X, W)), "bias b is missing"),
    (lambda X, W, b: (X @ W + b, (W, X)), "in that order"),
    (lambda X, W, b: ((X, W), X @ W + b), "output first"),
    (lambda X, W, b: X @ W + b, "pair"),
])
def test_affine_forward_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.affine_forward", answer)


@pytest.mark.parametrize("answer", [lambda Z: (np.where(Z > 0, Z, 0.0), Z), lambda Z: [Z.clip(min=0), Z.copy()]])
def test_relu_forward_accepts(answer):
    assert check("05.relu_forward", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda Z: (np.abs(Z), Z), "not \\|Z\\|"),
    (lambda Z: (np.minimum(Z, 0), Z), "not min"),
    (lambda Z: (np.maximum(Z, 0), np.maximum(Z, 0)), "the cache is Z"),
    (lambda Z: (Z, np.maximum(Z, 0)), "output first"),
])
def test_relu_forward_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.relu_forward", answer)


# ---------------------------------------------------------------- 05.network_gradients
# The layer functions are module globals, as in a notebook: the check counts their calls.


def affine_forward(X, W, b):
    return X @ W + b, (X, W)


def affine_backward(dout, cache):
    X, W = cache
    return dout @ W.T, X.T @ dout, dout.sum(axis=0)


def relu_forward(Z):
    return np.maximum(Z, 0), Z


def relu_backward(dout, Z):
    return dout * (Z > 0)


def _loss_and_grad(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    grad = np.exp(log_p)
    grad[np.arange(len(y)), y] -= 1
    return -float(np.mean(log_p[np.arange(len(y)), y])), grad / len(y)


def network_composed(params, X, y, relu_last=False, mean=True, reverse_grads=False, twice=False):
    caches, h = [], X
    for i, (W, b) in enumerate(params):
        h, cache = affine_forward(h, W, b)
        if twice:
            affine_forward(cache[0], W, b)
        relu_cache = None
        if i < len(params) - 1 or relu_last:
            h, relu_cache = relu_forward(h)
        caches.append((cache, relu_cache))
    loss, grad = _loss_and_grad(h, y)
    if not mean:
        loss, grad = loss * len(y), grad * len(y)
    grads = []
    for cache, relu_cache in reversed(caches):
        if relu_cache is not None:
            grad = relu_backward(grad, relu_cache)
        grad, dW, db = affine_backward(grad, cache)
        grads.append((dW, db))
    return loss, grads if reverse_grads else grads[::-1]


def network_recursive(params, X, y):
    """Another style: one recursive function per layer, keyword arguments."""
    def through(layer, h):
        W, b = params[layer]
        z, cache = affine_forward(X=h, W=W, b=b)
        if layer == len(params) - 1:
            loss, grad = _loss_and_grad(z, y)
            dX, dW, db = affine_backward(dout=grad, cache=cache)
            return loss, dX, [[dW, db]]
        a, relu_cache = relu_forward(z)
        loss, da, rest = through(layer + 1, a)
        dX, dW, db = affine_backward(relu_backward(da, relu_cache), cache)
        return loss, dX, [[dW, db]] + rest

    loss, _, grads = through(0, X)
    return np.float32(loss), grads


def network_twice(params, X, y):
    """Right numbers, but each layer's forward is run twice: not one call per layer."""
    return network_composed(params, X, y, twice=True)


@pytest.mark.parametrize("answer", [network_composed, network_recursive])
def test_network_gradients_accepts(answer):
    assert check("05.network_gradients", answer)


@pytest.mark.parametrize("answer,hint", [
    (functools.partial(network_composed, relu_last=True), "last layer has no ReLU"),
    (functools.partial(network_composed, mean=False), "mean"),
    (functools.partial(network_composed, reverse_grads=True), "order of params"),
    (lambda params, X, y: network_twice(params, X, y), "called your affine_forward"),
    (lambda params, X, y: network_composed(params, X, y)[1], "should return the pair"),
])
def test_network_gradients_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("05.network_gradients", answer)


# --------------------------------------------------------------------------- held-out answers
# Each wrong answer here passed an earlier version of its check (a check holds the
# exercise statement, not a few outputs); each correct answer in another style must pass.


def test_stability_softmax_gradient_needs_the_row_maximum():
    """Subtracting the batch maximum is stable on one scale only: rows on +-1000 tell it apart."""
    def global_max(Z, y):
        e = np.exp(Z - Z.max())
        P = e / e.sum(axis=1, keepdims=True)
        P[np.arange(len(y)), y] -= 1.0
        return P / len(y)

    with pytest.raises(CheckFailed, match="each row's own maximum"):
        check("05.softmax_ce_grad", global_max)



@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("05")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
