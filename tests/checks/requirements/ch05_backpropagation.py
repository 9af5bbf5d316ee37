"""Requirement table of chapter 05, backpropagation (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import math

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

# --------------------------------------------------------------------------- 05.fib_memo


def fib(n, *, shift=0, skip=False, as_float=False):
    """The solution's answer by a loop; the keywords make it break one requirement."""
    a, b = 1, 1
    for k in range(3, n + 1 + shift):
        a, b = b, a + b + (1 if skip and k == 5 else 0)
    value = a if n + shift <= 1 else b if n + shift > 2 else 1
    return float(value) if as_float else value


def fib_naive(n):
    return 1 if n <= 2 else fib_naive(n - 1) + fib_naive(n - 2)


# --------------------------------------------------------------------------- 05.neuron_backward


def neuron(X, y, w, b, *, slope=True, mean=True, factor=2.0, first_only=False, as_array=False,
           finite_difference=False):
    """The solution's answer; the keywords make it break one requirement."""
    if first_only:
        X, y = X[:1], y[:1]
    if finite_difference:
        def loss(w_, b_):
            return np.mean((1 / (1 + np.exp(-(X @ w_ + b_))) - y) ** 2)
        eps = 1e-6
        dw = np.array([(loss(w + eps * e, b) - loss(w - eps * e, b)) / (2 * eps) for e in np.eye(len(w))])
        return dw, (loss(w, b + eps) - loss(w, b - eps)) / (2 * eps)
    a = 1 / (1 + np.exp(-(X @ w + b)))
    grad_z = factor * (a - y) / (len(y) if mean else 1)
    if slope:
        grad_z = grad_z * a * (1 - a)
    if as_array:
        return np.r_[X.T @ grad_z, grad_z.sum()]
    return X.T @ grad_z, grad_z.sum()


# --------------------------------------------------------------------------- 05.backward_order


def order(parents, output, *, how="dfs", as_tuple=False, everything=False, without_output=False,
          direct_only=False):
    """The solution's answer (an explicit-stack depth-first search); the keywords make it break
    one requirement."""
    if how == "bfs":
        out, seen, queue = [], {output}, [output]
        while queue:
            node = queue.pop(0)
            out.append(node)
            for p in parents[node]:
                if p not in seen:
                    seen.add(p)
                    queue.append(p)
    elif how == "preorder":  # no memory of visited nodes: shared nodes come twice
        out, stack = [], [output]
        while stack and len(out) < 50_000:
            node = stack.pop()
            out.append(node)
            stack.extend(parents[node])
    else:
        post, done, stack = [], set(), [(output, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                post.append(node)
            elif node not in done:
                done.add(node)
                stack.append((node, True))
                stack.extend((p, False) for p in parents[node] if p not in done)
        out = post if how == "parents_first" else post[::-1]
    if direct_only:
        out = [output] + list(dict.fromkeys(parents[output]))
    if everything:
        out = out + [name for name in parents if name not in out]
    if without_output:
        out = [name for name in out if name != output]
    return tuple(out) if as_tuple else out


def order_recursive(parents, output):
    """Plain recursion at Python's default limit: fails on the chain of 10,000."""
    out, seen = [], set()

    def visit(node):
        if node not in seen:
            seen.add(node)
            for p in parents[node]:
                visit(p)
            out.append(node)

    visit(output)
    return out[::-1]


def order_kahn_counting_repeats(parents, output):
    """Kahn's algorithm that counts a repeated parent twice but releases it once: a node
    computed as x * x never frees x."""
    reachable, stack = {output}, [output]
    while stack:
        for p in parents[stack.pop()]:
            if p not in reachable:
                reachable.add(p)
                stack.append(p)
    users = {name: 0 for name in reachable}
    for name in reachable:
        for p in parents[name]:
            users[p] += 1
    ready, out = [output], []
    while ready:
        node = ready.pop()
        out.append(node)
        for p in set(parents[node]):
            users[p] -= 1
            if users[p] == 0:
                ready.append(p)
    return out


def order_sorting_parents(parents, output):
    for value in parents.values():
        value.sort()
    return order(parents, output)


# --------------------------------------------------------------------------- 05.value_ops


def make_value(*, tanh_forward=math.tanh, tanh_slope=lambda t, x: 1 - t * t, exponent=True,
               plain_exponent=True, rpow=True, base_slope=lambda a, b: b * a ** (b - 1),
               exponent_slope=lambda a, b, c: c * math.log(a), overwrite=False, float_tanh=False,
               no_parents=False, finite_difference=False):
    """A Value class like the solution's; the keywords make it break one requirement."""

    class Value:
        def __init__(self, data, parents=(), local_grads=()):
            self.data, self.grad = float(data), 0.0
            self.parents, self.local_grads = parents, local_grads

        def __add__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            return Value(self.data + other.data, (self, other), (1.0, 1.0))

        def __mul__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            return Value(self.data * other.data, (self, other), (other.data, self.data))

        __radd__, __rmul__ = __add__, __mul__

        def __pow__(self, other):
            if not isinstance(other, Value):
                if not plain_exponent:
                    other = other.data  # AttributeError for a plain number
                return Value(self.data**other, (self,), (other * self.data ** (other - 1),))
            a, b = self.data, other.data
            c = a**b
            if not exponent:
                return Value(c, (self,), (base_slope(a, b),))
            return Value(c, (self, other), (base_slope(a, b), exponent_slope(a, b, c)))

        if rpow:
            def __rpow__(self, base):
                return Value(base) ** self

        def tanh(self):
            t = tanh_forward(self.data)
            if float_tanh:
                return t
            if no_parents:
                return Value(t)
            slope = tanh_slope(t, self.data)
            if finite_difference:
                slope = (math.tanh(self.data + 1e-6) - math.tanh(self.data - 1e-6)) / 2e-6
            return Value(t, (self,), (slope,))

        def backward(self):
            topo, seen = [], set()

            def visit(node):
                if id(node) not in seen:
                    seen.add(id(node))
                    for p in node.parents:
                        visit(p)
                    topo.append(node)

            visit(self)
            self.grad = 1.0
            for node in reversed(topo):
                for p, local in zip(node.parents, node.local_grads, strict=True):
                    if overwrite:
                        p.grad = node.grad * local
                    else:
                        p.grad += node.grad * local

    return Value


# --------------------------------------------------------------------------- 05.softmax_ce_grad


def ce_grad(Z, y, *, axis=1, sign=1.0, mean=True, labels_for_one_hot=False, shift=True):
    """The solution's answer; the keywords make it break one requirement."""
    Z = np.asarray(Z, dtype=float)
    e = np.exp(Z - Z.max(axis=axis, keepdims=True)) if shift else np.exp(Z)
    P = e / e.sum(axis=axis, keepdims=True)
    Y = y[:, None] if labels_for_one_hot else np.eye(Z.shape[1])[y]
    return sign * (P - Y) / (len(y) if mean else 1)


# --------------------------------------------------------------------------- 05.tanh_layer_backward


def tanh_layer(X, W, b, dH, *, bias=True, derivative=True, transpose_dW=False, db_axis=0, tuple_out=True):
    """The solution's answer; the keywords make it break one requirement."""
    H = np.tanh(X @ W + (b if bias else 0))
    dZ = dH * (1 - H**2) if derivative else dH
    dW = X.T @ dZ
    out = (dZ @ W.T, dW.T if transpose_dW else dW, dZ.sum(axis=db_axis))
    return out if tuple_out else out[0]


# --------------------------------------------------------------------------- 05.affine_forward, backward


def affine_fwd(X, W, b, *, bias=True, cache_first=False, swap_cache=False):
    """The solution's affine_forward; the keywords make it break one requirement."""
    out, cache = X @ W + (b if bias else 0), ((W, X) if swap_cache else (X, W))
    return (cache, out) if cache_first else (out, cache)



def affine_answer(dout, cache, *, swap_cache=False, transpose_dW=False, db_mean=False, pair=False):
    """The solution's answer; the keywords make it break one requirement."""
    W, X = cache if swap_cache else cache[::-1]
    dW = X.T @ dout
    out = (dout @ W.T, dW.T if transpose_dW else dW, dout.mean(axis=0) if db_mean else dout.sum(axis=0))
    return out[:2] if pair else out


# --------------------------------------------------------------------------- 05.relu_backward


def relu_backward(dout, cache, *, at_zero=False, mask_only=False, from_dout=False, times_z=False):
    """The solution's answer; the keywords make it break one requirement."""
    Z = cache
    if times_z:
        return dout * np.maximum(Z, 0)
    mask = (dout > 0) if from_dout else (Z >= 0) if at_zero else (Z > 0)
    return mask.astype(float) if mask_only else dout * mask


# --------------------------------------------------------------------------- 05.network_gradients
# The layers are this module's globals, as in a notebook: the check counts their calls.


def affine_forward(X, W, b):
    return X @ W + b, (X, W)


def affine_backward(dout, cache):
    X, W = cache
    return dout @ W.T, X.T @ dout, dout.sum(axis=0)


def relu_forward(Z):
    return np.maximum(Z, 0), Z


def network(params, X, y, *, relu_last=False, mean=True, clipped_log=False, reverse=False, as_dict=False,
            loss_array=False, grads_only=False, two_layers_only=False, forward_twice=False):
    """The solution's answer, composed from the layers; the keywords make it break one requirement."""
    if two_layers_only:
        params = [params[0], params[1]]  # IndexError for one layer
    caches, h = [], X
    for i, (W, b) in enumerate(params):
        h, cache = affine_forward(h, W, b)
        if forward_twice:
            affine_forward(cache[0], W, b)
        relu_cache = None
        if i < len(params) - 1 or relu_last:
            h, relu_cache = relu_forward(h)
        caches.append((cache, relu_cache))
    shifted = h - h.max(axis=1, keepdims=True)
    P = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    if clipped_log:
        log_p = np.log(P + 1e-12)
    else:
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y) if mean else 1
    loss = -float(np.sum(log_p[np.arange(len(y)), y])) / n
    grad = P.copy()
    grad[np.arange(len(y)), y] -= 1
    grad /= n
    grads = []
    for cache, relu_cache in reversed(caches):
        if relu_cache is not None:
            grad = grad * (relu_cache > 0)
        grad, dW, db = affine_backward(grad, cache)
        grads.append((dW, db))
    grads = grads if reverse else grads[::-1]
    if as_dict:
        grads = {i: pair for i, pair in enumerate(grads)}
    if grads_only:
        return grads
    return (np.array([loss]) if loss_array else loss), grads


def network_forward_twice(params, X, y):
    return network(params, X, y, forward_twice=True)


# --------------------------------------------------------------------------- 05.soft_cross_entropy


def soft_ce(Z, T, *, mean=True, sign=1.0, clipped=False, hard_targets=False, per_sample=False, dz_only=False):
    """The solution's answer; the keywords make it break one requirement."""
    if hard_targets:
        T = np.eye(T.shape[1])[T.argmax(axis=1)]
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_P = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    if clipped:
        log_P = np.log(np.exp(log_P) + 1e-12)
    n = len(Z) if mean else 1
    losses = -np.sum(T * log_P, axis=1) / n
    dZ = sign * (np.exp(log_P) - T) / len(Z)
    if dz_only:
        return dZ
    return (losses if per_sample else float(losses.sum())), dZ


# --------------------------------------------------------------------------- 05.mlp_jvp


def jvp(x, v, W1, b1, W2, b2, *, no_b2=False, no_derivative=False, reverse=False, by_jacobian=False,
        finite_difference=False, pair=True, row=False):
    """The solution's answer; the keywords make it break one requirement."""
    h = np.tanh(x @ W1 + b1)
    g = h @ W2 + (0 if no_b2 else b2)
    if finite_difference:
        def gx(z):
            return np.tanh(z @ W1 + b1) @ W2 + b2
        tangent = (gx(x + 1e-6 * v) - gx(x - 1e-6 * v)) / 2e-6
    elif by_jacobian:
        J = (W2.T * (1 - h**2)) @ W1.T  # the m x d Jacobian
        tangent = J @ v
    elif reverse:
        tangent = ((np.ones(W2.shape[1]) @ W2.T) * (1 - h**2)) @ W1.T * v
    else:
        tangent = ((1 if no_derivative else 1 - h**2) * (v @ W1)) @ W2
    if row:
        g, tangent = g[None, :], tangent[None, :]
    return (g, tangent) if pair else np.r_[g, tangent]


TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/05-backpropagation`", "where to read first"),
    ],
    "05.fib_memo": [
        free("Write `fib_memo(n)` that returns the Fibonacci number", "the signature every row calls"),
        requirement("with $F_1 = F_2 = 1$", lambda n: fib(n, shift=1), r"F_\(n\+1\)"),
        requirement("$F_n = F_{n-1} + F_{n-2}$", lambda n: fib(n, skip=True), r"recurrence"),
        requirement("as an exact whole number", lambda n: fib(n, as_float=True), r"is a float"),
        requirement("It must compute `fib_memo(90)` in well under a second", fib_naive,
                    r"did not finish within .*store each F_k"),
        free("which plain recursion cannot", "why the time limit matters"),
        free("Compute each $F_k$ only once, for example by", "how to meet the time limit, which observes it"),
        free("Recursion or a loop, both are fine", "a permission: the tests accept a loop and a cached recursion"),
    ],
    "05.neuron_backward": [
        requirement("For a batch `X` of shape `(n, d)`", lambda X, y, w, b: neuron(X, y, w, b, first_only=True),
                    r"every sample of the batch"),
        free("targets `y` of shape `(n,)`, weights `w` of shape `(d,)` and a scalar bias `b`",
             "the inputs the check passes"),
        requirement("the neuron predicts $a_i = \\sigma(\\mathbf{x}_i\\cdot\\mathbf{w} + b)$",
                    lambda X, y, w, b: neuron(X, y, w, b, slope=False), r"derivative a \(1 - a\) is missing"),
        requirement("its loss is the mean squared error", lambda X, y, w, b: neuron(X, y, w, b, mean=False),
                    r"divide by the number of samples"),
        requirement("$L = \\frac{1}{n}\\sum_i (a_i - y_i)^2$", lambda X, y, w, b: neuron(X, y, w, b, factor=1.0),
                    r"factor 2 is missing"),
        requirement("returns the pair `(dw, db)`", lambda X, y, w, b: neuron(X, y, w, b, as_array=True),
                    r"should return the pair"),
        requirement("by walking the graph backwards", lambda X, y, w, b: neuron(X, y, w, b, finite_difference=True),
                    r"finite difference"),
    ],
    "05.backward_order": [
        free("`Value.backward` visits the nodes in reverse topological order", "what the lecture did"),
        free("Write that order for a graph given as plain data", "introduces the format"),
        free("`parents` is a dict that maps each node's name to the list of names",
             "the input format the check passes"),
        requirement("a node computed as `x * x` lists `x` twice", order_kahn_counting_repeats, r"x listed twice"),
        requirement("returns a list of the names", lambda p, o: order(p, o, as_tuple=True), r"should return a list"),
        requirement("every node that `output` was computed from, directly or not",
                    lambda p, o: order(p, o, direct_only=True), r"missing"),
        requirement("and `output` itself", lambda p, o: order(p, o, without_output=True), r"the output itself"),
        requirement("each exactly once", lambda p, o: order(p, o, how="preorder"), r"more than once"),
        requirement("ordered so that every node comes before all of the nodes it was computed from",
                    lambda p, o: order(p, o, how="bfs"), r"comes before .* computed from it"),
        requirement("(`output` first)", lambda p, o: order(p, o, how="parents_first"), r"output comes last"),
        requirement("Nodes that `output` does not depend on must not appear",
                    lambda p, o: order(p, o, everything=True), r"not computed from it"),
        requirement("`parents` must not be changed", order_sorting_parents, r"changed its argument number 1 in place"),
        requirement("It must work for a chain of 10,000 nodes", order_recursive, r"recursed too deeply"),
        free("deeper than Python's default limit of 1,000 nested calls", "why recursion fails there"),
        free("keep your own stack instead of recursing (or raise the limit)",
             "two ways allowed: the tests accept an explicit stack and a recursion with a raised limit"),
    ],
    "05.value_ops": [
        free("Here is the lecture's `Value`, with fewer operations", "introduces the given code"),
        free("Add two:", "introduces the list"),
        requirement("`tanh()`, the hyperbolic tangent", make_value(tanh_forward=math.atan), r"value of x\.tanh\(\)"),
        requirement("whose derivative is $1 - \\tanh^2$", make_value(tanh_slope=lambda t, x: 1 - t),
                    r"1 - tanh\(x\)\*\*2, not 1 - tanh\(x\)"),
        requirement("may be a plain number (as in the lecture)", make_value(plain_exponent=False),
                    r"plain exponent"),
        requirement("or a `Value`", make_value(exponent=False), r"exponent's local derivative is missing"),
        requirement("$2^b$ with a plain number as the base", make_value(rpow=False), r"2 \*\* b"),
        free("(`__pow__`)", "names the method"),
        free("Derive the local derivatives yourself", "how to work"),
        requirement("$\\partial c/\\partial a$", make_value(base_slope=lambda a, b: a ** (b - 1)),
                    r"d\(a\^b\)/da = b a\^\(b-1\): the factor b"),
        requirement("$\\partial c/\\partial b$",
                    make_value(exponent_slope=lambda a, b, c: b * a ** (b - 1) * math.log(a)),
                    r"not b a\^\(b-1\) ln\(a\)"),
        requirement("Each new operation returns a new `Value`", make_value(float_tanh=True),
                    r"should return a new Value"),
        requirement("records its parents and its local derivatives", make_value(no_parents=True),
                    r"record its parents"),
        requirement("differentiates it exactly (not by finite differences)", make_value(finite_difference=True),
                    r"not exact: a finite difference"),
        requirement("Gradients must still add up over paths", make_value(overwrite=True), r"add them \(\+=\)"),
        free("the base and the exponent are the same node", "the example of the requirement before"),
    ],
    "05.softmax_ce_grad": [
        free("For logits `Z` of shape `(n, C)`", "the inputs the check passes"),
        requirement("integer labels `y` of shape `(n,)`", lambda Z, y: ce_grad(Z, y, labels_for_one_hot=True),
                    r"one-hot"),
        requirement("the mean cross-entropy", lambda Z, y: ce_grad(Z, y, mean=False), r"1/n of the mean"),
        requirement("returns $\\partial L/\\partial Z = (P - Y)/n$", lambda Z, y: ce_grad(Z, y, sign=-1.0),
                    r"sign is wrong"),
        requirement("$P$ is the row-wise softmax", lambda Z, y: ce_grad(Z, y, axis=0), r"each row"),
        requirement("$Y$ the one-hot matrix of the labels", lambda Z, y: ce_grad(Z, y, labels_for_one_hot=True),
                    r"one-hot matrix"),
        requirement("It must also work for large logits (around 1000) without overflow",
                    lambda Z, y: ce_grad(Z, y, shift=False), r"NaN or inf"),
    ],
    "05.tanh_layer_backward": [
        requirement("$H = \\tanh(XW + \\mathbf b)$", lambda X, W, b, dH: tanh_layer(X, W, b, dH, bias=False),
                    r"the bias b is inside the tanh"),
        free("for a batch `X` of shape `(n, d)`, `W` of shape `(d, h)`", "the inputs the check passes"),
        requirement("`b` of shape `(h,)`", lambda X, W, b, dH: tanh_layer(X, W, b, dH, db_axis=1), r"axis 0"),
        free("Given the upstream gradient `dH`", "the input the check passes"),
        requirement("returns the tuple `(dX, dW, db)`", lambda X, W, b, dH: tanh_layer(X, W, b, dH, tuple_out=False),
                    r"should return the tuple"),
        requirement("each with the shape of its quantity",
                    lambda X, W, b, dH: tanh_layer(X, W, b, dH, transpose_dW=True), r"dW is transposed"),
        requirement("The derivative of tanh is $1 - \\tanh^2$",
                    lambda X, W, b, dH: tanh_layer(X, W, b, dH, derivative=False), r"1 - H\*\*2 is missing"),
        free("The lecture's layers are ReLUs", "what the lecture did"),
    ],
    "05.affine_forward": [
        free("Frameworks build networks from layers", "motivation"),
        free("Write three layers as pairs of functions", "the plan of the exercise"),
        free("the backward function takes the upstream gradient and that cache",
             "the shape of the API; the rows of each layer hold its parts"),
        requirement("returns `(X @ W + b, (X, W))`", lambda X, W, b: affine_fwd(X, W, b, bias=False),
                    r"bias b is missing"),
        requirement("the output and the cache", lambda X, W, b: affine_fwd(X, W, b, cache_first=True),
                    r"output first, then the cache"),
        requirement("+ b, (X, W))`", lambda X, W, b: affine_fwd(X, W, b, swap_cache=True),
                    r"cache is the pair \(X, W\)"),
    ],
    "05.affine_backward": [
        requirement("`(dX, dW, db)`", lambda dout, cache: affine_answer(dout, cache, db_mean=True), r"not a mean"),
        requirement("with `cache = (X, W)`", lambda dout, cache: affine_answer(dout, cache, swap_cache=True),
                    r"cache is the pair \(X, W\)"),
        requirement("returns the tuple `(dX, dW, db)`", lambda dout, cache: affine_answer(dout, cache, pair=True),
                    r"should return the tuple"),
        requirement("each with the shape of its quantity",
                    lambda dout, cache: affine_answer(dout, cache, transpose_dW=True), r"transposed"),
    ],
    "05.relu_forward": [
        requirement("returns `(np.maximum(Z, 0), Z)`", lambda Z: (np.abs(Z), Z), r"not \|Z\|"),
        requirement("the output and the cache", lambda Z: (Z, np.maximum(Z, 0)), r"output first, then the cache"),
        requirement("`(np.maximum(Z, 0), Z)`", lambda Z: (np.maximum(Z, 0),) * 2, r"the cache is Z"),
    ],
    "05.relu_backward": [
        requirement("returns `dZ` $= \\partial L/\\partial Z$",
                    lambda dout, cache: relu_backward(dout, cache, times_z=True), r"not Z itself"),
        requirement("with `cache = Z`", lambda dout, cache: relu_backward(dout, cache, from_dout=True),
                    r"not from dout"),
        requirement("returns `dZ`", lambda dout, cache: relu_backward(dout, cache, mask_only=True), r"mask alone"),
        requirement("Take the ReLU's slope at exactly 0 as 0",
                    lambda dout, cache: relu_backward(dout, cache, at_zero=True), r"Z > 0, not Z >= 0"),
    ],
    "05.network_gradients": [
        free("The loss layer is your `softmax_cross_entropy_grad` of Exercise 5",
             "which function to reuse; any exact gradient of the loss is accepted"),
        requirement("for a network of any depth", lambda p, X, y: network(p, X, y, two_layers_only=True),
                    r"1 layer of sizes"),
        free("`params` is a list of $L \\ge 1$ pairs `(W, b)`", "the input format the check passes"),
        requirement("with no ReLU after the last layer", lambda p, X, y: network(p, X, y, relu_last=True),
                    r"last layer has no ReLU"),
        free("the network is affine, ReLU, affine, ReLU", "the architecture; its last part is a row"),
        requirement("the loss is the mean softmax cross-entropy", lambda p, X, y: network(p, X, y, mean=False),
                    r"mean over the samples"),
        requirement("computed with log-sum-exp", lambda p, X, y: network(p, X, y, clipped_log=True),
                    r"log-sum-exp"),
        requirement("Return `(loss, grads)`", lambda p, X, y: network(p, X, y, grads_only=True),
                    r"should return the pair"),
        requirement("the loss as a float", lambda p, X, y: network(p, X, y, loss_array=True), r"one number"),
        requirement("`grads` a list of $L$ pairs `(dW, db)`", lambda p, X, y: network(p, X, y, as_dict=True),
                    r"list of \d+ pairs"),
        requirement("in the order of `params`", lambda p, X, y: network(p, X, y, reverse=True),
                    r"order of params"),
        requirement("one call of `affine_forward` and one of `affine_backward` per layer", network_forward_twice,
                    r"called your affine_forward"),
        free("Compose it from your layer functions", "the requirement after it says how many calls"),
    ],
    "05.soft_cross_entropy": [
        free("Sometimes the targets are not one-hot but probabilities", "motivation"),
        free("For logits `Z` of shape `(n, C)`", "the inputs the check passes"),
        requirement("targets `T` of the same shape", lambda Z, T: soft_ce(Z, T, hard_targets=True),
                    r"soft targets T themselves"),
        requirement("the mean cross-entropy is", lambda Z, T: soft_ce(Z, T, mean=False), r"divide the sum by n"),
        requirement("$\\partial L/\\partial Z = (\\operatorname{softmax}(Z) - T)/n$",
                    lambda Z, T: soft_ce(Z, T, sign=-1.0), r"sign is wrong"),
        requirement("returns the pair `(loss, dZ)`", lambda Z, T: soft_ce(Z, T, dz_only=True),
                    r"should return the pair"),
        requirement("a float and an array of shape `(n, C)`", lambda Z, T: soft_ce(Z, T, per_sample=True),
                    r"one number"),
        requirement("Compute the log-softmax with log-sum-exp", lambda Z, T: soft_ce(Z, T, clipped=True),
                    r"log-sum-exp"),
    ],
    "05.mlp_jvp": [
        requirement("$g(\\mathbf x) = \\tanh(\\mathbf x W_1 + \\mathbf b_1) W_2 + \\mathbf b_2$",
                    lambda *a: jvp(*a, no_b2=True), r"g\(x\)"),
        requirement("returns the pair `(g(x), J v)`", lambda *a: jvp(*a, pair=False), r"should return the pair"),
        requirement("both of shape `(m,)`", lambda *a: jvp(*a, row=True), r"shape"),
        free("where $J$ is the Jacobian of $g$", "defines J"),
        requirement("Do it in forward mode", lambda *a: jvp(*a, reverse=True), r"vector-Jacobian"),
        requirement("carry the tangent along with each value", lambda *a: jvp(*a, no_derivative=True),
                    r"tanh derivative is missing"),
        requirement("never build $J$", lambda *a: jvp(*a, by_jacobian=True), r"[Nn]ever build J"),
        requirement("The result must be exact, not a finite difference", lambda *a: jvp(*a, finite_difference=True),
                    r"finite difference"),
    ],
}
