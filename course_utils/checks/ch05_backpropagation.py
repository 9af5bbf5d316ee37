"""Checks for chapter 05, backpropagation."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    calls_of_global,
    expect_close,
    expect_pair,
    numerical_gradient,
    register,
    require_answer,
    seeded_rng,
    to_array,
)

FIB_TIME_LIMIT = 2.0


def _fib_table(n_max):
    table = [0, 1]
    while len(table) <= n_max:
        table.append(table[-1] + table[-2])
    return table


def _as_exact_int(value, name):
    """Python int from an int-like answer; floats are reported, not silently rounded."""
    if isinstance(value, (bool, np.bool_)):
        raise CheckFailed(f"{name} should be a whole number, not a bool.")
    if isinstance(value, (int, np.integer)):
        return int(value)
    array = to_array(value, name)
    if array.size != 1:
        raise CheckFailed(f"{name} should be a single number, not an array of shape {array.shape}.")
    return array.reshape(()).item()


def _fib_call(fib_memo, n):
    try:
        return call(fib_memo, n, name="fib_memo", time_limit=FIB_TIME_LIMIT)
    except CheckFailed as err:
        if "did not finish" in str(err):
            raise CheckFailed(f"fib_memo({n}) did not finish within {FIB_TIME_LIMIT:g} s. Plain recursion "
                              f"calls itself about F_{n} times: store each F_k in a table (dict or list) the "
                              "first time you compute it and look it up afterwards.") from None
        raise


@register("05.fib_memo")
def check_fib_memo(fib_memo):
    """fib_memo(n) returns F_n (F_1 = F_2 = 1) fast, with memoisation."""
    table = _fib_table(95)
    got = [_as_exact_int(call(fib_memo, n, name="fib_memo", time_limit=FIB_TIME_LIMIT), f"fib_memo({n})")
           for n in range(1, 13)]
    for n in sorted(seeded_rng(3).choice(np.arange(13, 90), size=4, replace=False).tolist()):
        value = _as_exact_int(_fib_call(fib_memo, n), f"fib_memo({n})")
        if value != table[n] and got == table[1:13]:
            raise CheckFailed(f"fib_memo({n}) is wrong (yours: {value!r}) although fib_memo(1..12) was right: is "
                              "the memo table shared between calls with different meanings, or too short?")
    if got != table[1:13]:
        if got == table[0:12]:
            hint = "it returns F_(n-1): with F_1 = F_2 = 1, fib_memo(1) is 1 and fib_memo(3) is 2."
        elif got == table[2:14]:
            hint = "it returns F_(n+1): with F_1 = F_2 = 1, fib_memo(2) is 1 and fib_memo(3) is 2."
        elif got[:2] != [1, 1]:
            hint = "check the base cases: F_1 = F_2 = 1."
        else:
            hint = "check the recurrence F_n = F_(n-1) + F_(n-2)."
        first = next(n for n in range(1, 13) if got[n - 1] != table[n])
        raise CheckFailed(f"fib_memo({first}) is {got[first - 1]!r}, which is wrong: {hint}")
    got = _as_exact_int(_fib_call(fib_memo, 90), "fib_memo(90)")
    if isinstance(got, float):
        if abs(got - table[90]) <= 1e-12 * table[90]:
            raise CheckFailed("fib_memo(90) is a float: floats keep about 16 digits, so F_n is no longer "
                              "exact beyond F_78. Keep whole numbers (Python ints) in your table, "
                              "not np.zeros(...).")
        got = int(got) if np.isfinite(got) else got
    if got != table[90]:
        raise CheckFailed(f"fib_memo(90) is wrong (yours: {got!r}); fib_memo(1..12) was right: is the "
                          "memo table shared between calls with different meanings, or too short?")
    return "F_1 to F_12 and F_90 in under 2 s"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # same function as 1 / (1 + exp(-z)), written differently


def _neuron_loss(X, y, w, b):
    return float(np.mean((_sigmoid(X @ w + b) - y) ** 2))


@register("05.neuron_backward")
def check_neuron_backward(neuron_backward):
    """neuron_backward(X, y, w, b) returns (dw, db) of L = mean((sigmoid(X w + b) - y)^2)."""
    rng = seeded_rng(5)
    cases = [("the worked example of the lecture (one sample)", np.array([[1.0, 2.0]]), np.array([1.0]),
              np.array([0.5, -0.25]), 0.1)]
    for n, d in [(5, 3), (12, 2), (1, 4)]:
        cases.append((f"a random batch of {n} samples with {d} features", rng.normal(size=(n, d)),
                      rng.uniform(0, 1, size=n), rng.normal(size=d), float(rng.normal())))
    cases.append(("a batch of 6 samples with large inputs (up to 50)", rng.uniform(-50, 50, size=(6, 3)),
                  rng.uniform(0, 1, size=6), rng.normal(0, 0.02, size=3), float(rng.normal(0, 0.3))))
    for case, X, y, w, b in cases:
        out = call(neuron_backward, X, y, w, b, name="neuron_backward")
        expect_pair(out, "neuron_backward", "(dw, db)")
        ref_w = numerical_gradient(lambda v, X=X, y=y, b=b: _neuron_loss(X, y, v, b), w)
        ref_b = numerical_gradient(lambda v, X=X, y=y, w=w: _neuron_loss(X, y, w, v[0]), np.array([b]))[0]
        a = _sigmoid(X @ w + b)
        n = len(y)
        no_slope = 2 * (a - y) / n
        for got, ref, name, wrong_no_slope in [(out[0], ref_w, "dw", X.T @ no_slope), (out[1], ref_b, "db",
                                                                                        no_slope.sum())]:
            got = to_array(got, name)
            if name == "db" and got.size == 1:
                got = got.reshape(())
            mistakes = {"a factor 2 is missing: d/da (a - y)^2 = 2 (a - y)": ref / 2,
                        "the sign is wrong: the error is (a - y), not (y - a)": -ref,
                        "the sigmoid's derivative a (1 - a) is missing": wrong_no_slope}
            if n > 1:
                mistakes["the loss is a mean: divide by the number of samples"] = ref * n
                g0 = 2 * (a[0] - y[0]) * a[0] * (1 - a[0])
                mistakes["the loss averages over every sample of the batch: use all rows of X, not only "
                          "the first"] = X[0] * g0 if name == "dw" else g0
            expect_close(got, ref, name, case=case, rtol=1e-5, atol=1e-8, mistakes=mistakes)
            exact = X.T @ (no_slope * a * (1 - a)) if name == "dw" else np.sum(no_slope * a * (1 - a))
            if got.dtype == np.float64 and not np.allclose(got, exact, rtol=1e-11, atol=1e-14):
                raise CheckFailed(f"{name} for {case} is close but not exact: a finite difference? Walk the "
                                  "graph backwards with the local derivatives (chain rule), which is exact.")
    return "the worked example and four random batches, exact to 1e-11"


def _mean_ce(logits, labels):
    m = logits.max(axis=1, keepdims=True)
    log_norm = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return float(np.mean(log_norm - logits[np.arange(len(labels)), labels]))


@register("05.softmax_ce_grad", target="softmax_cross_entropy_grad", hides="course_utils.backprop")
def check_softmax_ce_grad(softmax_cross_entropy_grad):
    """softmax_cross_entropy_grad(logits, labels) returns dL/dlogits of the mean cross-entropy."""
    rng = seeded_rng(7)
    cases = [("a batch of 2 samples and 3 classes", np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]),
              np.array([1, 2]))]
    for n, c in [(4, 5), (1, 3), (8, 10)]:
        cases.append((f"random logits of shape {(n, c)}", rng.normal(scale=2.0, size=(n, c)),
                      rng.integers(0, c, size=n)))
    cases.append(("large logits (around 1000)", 1000 + rng.normal(scale=5.0, size=(3, 4)), np.array([0, 3, 1])))
    cases.append(("rows on different scales (one around +1000, one around -1000)",
                  np.array([[1000.0, 998.0, 1001.0], [-1000.0, -1003.0, -999.0]]), np.array([2, 0])))
    for case, logits, labels in cases:
        got = call(softmax_cross_entropy_grad, logits, labels, name="softmax_cross_entropy_grad")
        if "different scales" in case and not np.all(np.isfinite(to_array(got, "the gradient"))):
            raise CheckFailed(f"the gradient for {case} contains NaN or inf: subtract each row's own "
                              "maximum, logits.max(axis=1, keepdims=True), not the maximum of the whole "
                              "batch (exp underflows to 0 in the other rows).")
        ref = numerical_gradient(lambda z, labels=labels: _mean_ce(z, labels), logits, eps=1e-5)
        n, c = logits.shape
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        Y = np.eye(c)[labels]
        mistakes = {"the sign is wrong: the gradient is P - Y, not Y - P": -ref,
                    "subtract a one-hot matrix Y, not the integer labels": (P - labels[:, None]) / n,
                    "apply the softmax to the logits first: P - Y, not logits - Y": (logits - Y) / n}
        if n > 1:
            e0 = np.exp(logits - logits.max(axis=0, keepdims=True))
            mistakes["the softmax normalises each row (axis=1), one sample at a time, not each column"] = (
                e0 / e0.sum(axis=0, keepdims=True) - Y) / n
        if n > 1:
            mistakes["the 1/n of the mean is missing"] = ref * n
        expect_close(got, ref, "the gradient", case=case, rtol=1e-5, atol=1e-7, mistakes=mistakes)
    return "six batches, large logits and rows on different scales included (against numerical gradients)"


def _dtanh(Z):
    return 1.0 / np.cosh(Z) ** 2  # sech^2, the same as 1 - tanh^2, written differently


@register("05.tanh_layer_backward")
def check_tanh_layer_backward(tanh_layer_backward):
    """tanh_layer_backward(X, W, b, dH) returns (dX, dW, db) of H = tanh(X W + b)."""
    rng = seeded_rng(13)
    for n, d, h in [(5, 3, 4), (1, 2, 6), (7, 4, 4), (6, 5, 2)]:
        X, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, h)), rng.normal(size=h)
        dH = rng.normal(size=(n, h))
        case = f"X {X.shape}, W {W.shape}"
        out = call(tanh_layer_backward, X, W, b, dH, name="tanh_layer_backward")
        require_answer(out, "the value returned by tanh_layer_backward")
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise CheckFailed("tanh_layer_backward should return the tuple (dX, dW, db), not "
                              f"{type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, (tuple, list))
                                                         else "") + ".")
        Z = X @ W + b
        H = np.tanh(Z)
        dZ = dH * _dtanh(Z)
        refs = {"dX": dZ @ W.T, "dW": X.T @ dZ, "db": dZ.sum(axis=0)}
        dZ_no_bias = dH * _dtanh(X @ W)
        wrong = {
            "dX": {"the tanh derivative 1 - H**2 is missing: dZ = dH * (1 - H**2)": dH @ W.T,
                   "the bias b is inside the tanh: H = tanh(X W + b)": dZ_no_bias @ W.T,
                   "the tanh derivative is 1 - tanh(Z)**2, not 1 - tanh(Z)": (dH * (1 - H)) @ W.T,
                   "dX = dZ @ W.T: multiply by the transpose of W": dZ @ W if d == h else None},
            "dW": {"the tanh derivative 1 - H**2 is missing: dZ = dH * (1 - H**2)": X.T @ dH,
                   "dW is transposed: it has the shape of W, (d, h) = X.T @ dZ": (X.T @ dZ).T,
                   "the tanh derivative is 1 - tanh(Z)**2, not 1 - tanh(Z)": X.T @ (dH * (1 - H))},
            "db": {"db sums dZ over the samples (axis 0), one value per unit": dZ.sum(axis=1),
                   "the tanh derivative 1 - H**2 is missing in db": dH.sum(axis=0)},
        }
        for k, name in enumerate(("dX", "dW", "db")):
            mistakes = {text: value for text, value in wrong[name].items() if value is not None}
            expect_close(out[k], refs[name], name, case=case, mistakes=mistakes)
    return "four layers of different shapes"


def _log_softmax(Z):
    m = Z.max(axis=1, keepdims=True)
    return Z - m - np.log(np.exp(Z - m).sum(axis=1, keepdims=True))


@register("05.soft_cross_entropy")
def check_soft_cross_entropy(soft_cross_entropy):
    """soft_cross_entropy(Z, T) returns (loss, dZ) of -mean_i sum_c T_ic log softmax(Z)_ic, stably."""
    rng = seeded_rng(17)
    cases = [("one-hot targets", np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]),
              np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))]
    for n, c in [(4, 5), (1, 3), (8, 10)]:
        T = rng.dirichlet(np.ones(c), size=n)
        cases.append((f"soft targets, logits of shape {(n, c)}", rng.normal(scale=2.0, size=(n, c)), T))
    cases.append(("a confident mistake: logits (0, 200, -50), targets (0.5, 0.5, 0)",
                  np.array([[0.0, 200.0, -50.0]]), np.array([[0.5, 0.5, 0.0]])))
    cases.append(("large logits (around 1000)", 1000 + rng.normal(scale=5.0, size=(3, 4)),
                  rng.dirichlet(np.ones(4), size=3)))
    cases.append(("rows on different scales (one around +1000, one around -1000)",
                  np.array([[1000.0, 998.0, 1001.0], [-1000.0, -1003.0, -999.0]]) + rng.normal(size=(2, 3)),
                  rng.dirichlet(np.ones(3), size=2)))
    for case, Z, T in cases:
        out = call(soft_cross_entropy, Z.copy(), T.copy(), name="soft_cross_entropy")
        if "different scales" in case and not np.all(np.isfinite(to_array(out[1] if isinstance(out, (tuple, list))
                                                                           and len(out) == 2 else out, "dZ"))):
            raise CheckFailed(f"dZ for {case} contains NaN or inf: subtract each row's own maximum, "
                              "Z.max(axis=1, keepdims=True), not the maximum of the whole batch.")
        expect_pair(out, "soft_cross_entropy", "(loss, dZ)")
        n = len(Z)
        log_P = _log_softmax(Z)
        P = np.exp(log_P)
        loss_ref = -np.sum(T * log_P) / n
        loss = to_array(out[0], "the loss")
        if loss.size != 1:
            raise CheckFailed(f"the loss should be one number (the mean over the samples), not shape "
                              f"{loss.shape}, for {case}.")
        with np.errstate(all="ignore"):
            clipped = -np.sum(T * np.log(P + 1e-12)) / n
        hard = np.eye(T.shape[1])[T.argmax(axis=1)]
        mistakes = {"use the soft targets T themselves, not their argmax (one-hot targets)":
                    -np.sum(hard * log_P) / n,
                    "compute log softmax as Z - logsumexp(Z) (log-sum-exp), not log(p + small): the "
                    "small constant caps the loss of confident mistakes": clipped,
                    "the loss is a mean over the samples: divide the sum by n": loss_ref * n,
                    "the sign is wrong: the cross-entropy is MINUS sum T log P": -loss_ref}
        if n == 1:
            mistakes.pop("the loss is a mean over the samples: divide the sum by n")
        expect_close(loss.reshape(()), loss_ref, "the loss", case=case, mistakes=mistakes)
        grad_ref = (P - T) / n
        grad_mistakes = {"the sign is wrong: dZ = (P - T) / n, not (T - P) / n": -grad_ref,
                         "apply the softmax first: dZ = (softmax(Z) - T) / n, not (Z - T) / n": (Z - T) / n}
        if n > 1:
            grad_mistakes["the 1/n of the mean is missing"] = grad_ref * n
        expect_close(out[1], grad_ref, "dZ", case=case, mistakes=grad_mistakes)
    return "one-hot and soft targets, a confident mistake and large logits"


@register("05.mlp_jvp")
def check_mlp_jvp(mlp_jvp):
    """mlp_jvp(x, v, W1, b1, W2, b2) returns (g(x), J v) of g(x) = tanh(x W1 + b1) W2 + b2, exactly."""
    rng = seeded_rng(19)
    for d, h, m in [(3, 4, 2), (1, 5, 3), (4, 3, 1), (5, 6, 5)]:
        x, v = rng.normal(size=d), rng.normal(size=d)
        W1, b1, W2, b2 = rng.normal(size=(d, h)), rng.normal(size=h), rng.normal(size=(h, m)), rng.normal(size=m)
        case = f"x in R^{d}, {h} hidden units, output in R^{m}"
        out = call(mlp_jvp, x, v, W1, b1, W2, b2, name="mlp_jvp")
        expect_pair(out, "mlp_jvp", "(g(x), J v)")
        Z = x @ W1 + b1
        expect_close(out[0], np.tanh(Z) @ W2 + b2, "g(x)", case=case)
        jvp_ref = (_dtanh(Z) * (v @ W1)) @ W2
        got = to_array(out[1], "J v")
        if got.shape == (d,) and d != m:
            raise CheckFailed(f"J v has shape {got.shape}, the shape of the input, for {case}: a JVP has "
                              "the shape of the OUTPUT. Did you compute a vector-Jacobian product "
                              "(reverse mode) instead of pushing the tangent v forward?")
        mistakes = {"the tanh derivative is missing: the tangent of h is (1 - h**2) * (v @ W1)": v @ W1 @ W2,
                    "the tangent does not include b1 or b2: they are constants": (_dtanh(Z) * (v @ W1 + b1)) @ W2}
        expect_close(got, jvp_ref, "J v", case=case, mistakes=mistakes)
        if not np.allclose(got.astype(float), jvp_ref, rtol=1e-12, atol=1e-13):
            raise CheckFailed(f"J v is close but not exact for {case}: a finite difference? Push the tangent "
                              "v through each operation exactly (forward mode).")
    _check_jvp_memory(mlp_jvp, rng)
    return "four networks of different shapes, exact to 1e-12, and a wide one without building J"


JVP_WIDE = 2000  # input and output size of the memory case: J would hold 4 million numbers
JVP_MEMORY_LIMIT = 4_000_000  # bytes a JVP may allocate there (J alone takes 32 MB)


def _check_jvp_memory(mlp_jvp, rng):
    """A JVP through a wide network needs memory in proportion to d + h + m; the Jacobian needs
    d * m. Observed with tracemalloc (NumPy reports its allocations to it)."""
    import tracemalloc

    d = m = JVP_WIDE
    x, v = rng.normal(size=d), rng.normal(size=d)
    W1, b1 = rng.normal(size=(d, 3)) / np.sqrt(d), rng.normal(size=3)
    W2, b2 = rng.normal(size=(3, m)), rng.normal(size=m)
    peak = {}

    def traced(*args):
        tracemalloc.start()
        try:
            return mlp_jvp(*args)
        finally:
            peak["bytes"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()

    out = call(traced, x, v, W1, b1, W2, b2, name="mlp_jvp")
    expect_pair(out, "mlp_jvp", "(g(x), J v)")
    case = f"x in R^{d}, 3 hidden units, output in R^{m}"
    Z = x @ W1 + b1
    expect_close(out[1], (_dtanh(Z) * (v @ W1)) @ W2, "J v", case=case)
    if peak.get("bytes", 0) > JVP_MEMORY_LIMIT:
        raise CheckFailed(f"J v is right for {case}, but mlp_jvp allocated {peak['bytes'] / 1e6:.0f} MB: it "
                          f"builds the {m} x {d} Jacobian. Never build J: push the tangent v forward through "
                          "each operation, which needs memory for vectors only.")


def _reachable(parents, output):
    seen, stack = {output}, [output]
    while stack:
        for parent in parents[stack.pop()]:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def _order_graphs(rng):
    """(what, parents, output) cases: a diamond whose paths differ in length, a node used
    twice by one operation, unreachable nodes, random graphs with shared nodes, a long chain."""
    cases = [("f = a + (a * b), where a is reached by paths of length 1 and 2",
              {"a": [], "b": [], "ab": ["a", "b"], "f": ["a", "ab"]}, "f"),
             ("f = g + a with g = 2 h and h = a * b (paths of length 1 and 3 to a)",
              {"a": [], "b": [], "h": ["a", "b"], "g": ["h"], "f": ["g", "a"]}, "f"),
             ("f = x * x (x listed twice), with an input g that f does not use",
              {"x": [], "g": [], "f": ["x", "x"]}, "f"),
             ("a single input", {"x": []}, "x")]
    for size in (12, 40):
        names = [f"n{i}" for i in rng.permutation(size)]
        parents = {}
        for i, name in enumerate(names):
            count = int(rng.integers(0, min(i, 3) + 1))
            parents[name] = [names[j] for j in rng.choice(i, size=count)] if count else []
        cases.append((f"a random graph of {size} nodes with shared and repeated parents",
                      parents, names[-1]))
    chain = {"n0": []}
    for i in range(1, 10_000):
        chain[f"n{i}"] = [f"n{i - 1}"] + ([f"n{i - 2}"] if i % 3 == 0 and i > 1 else [])
    cases.append(("a chain of 10,000 nodes", chain, "n9999"))
    return cases


@register("05.backward_order")
def check_backward_order(backward_order):
    """backward_order(parents, output) lists output and everything it depends on, each before its parents."""
    rng = seeded_rng(23)
    for what, parents, output in _order_graphs(rng):
        before = {name: list(value) for name, value in parents.items()}
        out = call(backward_order, parents, output, name="backward_order", time_limit=5)
        if not isinstance(out, list):
            raise CheckFailed(f"backward_order should return a list of names, not a {type(out).__name__}, "
                              f"for {what}.")
        if any(parents[name] != before[name] for name in parents):
            raise CheckFailed(f"backward_order changed the lists in `parents` for {what}: leave the graph "
                              "as it is.")
        needed = _reachable(parents, output)
        if len(set(out)) != len(out):
            twice = next(name for name in out if out.count(name) > 1) if len(out) < 200 else "a node"
            raise CheckFailed(f"for {what}, {twice!r} appears more than once: list each node once, even "
                              "when it is reached by several paths (remember which ones you have visited).")
        extra = [name for name in out if name not in needed]
        if extra:
            raise CheckFailed(f"for {what}, {extra[0]!r} is listed although {output!r} was not computed "
                              "from it: list only the nodes reachable from the output through `parents`.")
        missing = needed - set(out)
        if output in missing:
            raise CheckFailed(f"for {what}, {output!r} is missing: the list must include the output itself, "
                              "first.")
        if missing:
            raise CheckFailed(f"for {what}, {len(missing)} node(s) that {output!r} depends on are missing, "
                              f"for example {sorted(missing)[0]!r}.")
        position = {name: i for i, name in enumerate(out)}
        if out and out[-1] == output and len(out) > 1:
            raise CheckFailed(f"for {what}, the output comes last: the backward pass starts at the output, "
                              "so each node must come BEFORE the nodes it was computed from (reverse the "
                              "order of a list that puts parents first).")
        for name in out:
            for parent in parents[name]:
                if position[parent] < position[name]:
                    raise CheckFailed(f"for {what}, {parent!r} comes before {name!r}, which was computed "
                                      f"from it: {parent!r}'s gradient is not complete until every node "
                                      "computed from it has been visited. Order by a depth-first search "
                                      "that adds a node after all of its parents (then reverse), not by "
                                      "distance from the output.")
    return "diamonds, repeated parents, unreachable nodes, random graphs and a chain of 10,000"


def _value_cases(rng):
    """(what, build, inputs, exact value, exact gradients or None for a numerical reference); the
    numbers are drawn from the salted generator, the bases positive."""
    x1, x2 = float(rng.uniform(0.2, 1.2)), float(rng.uniform(-3.5, -1.5))
    a, b = float(rng.uniform(1.2, 2.5)), float(rng.uniform(0.2, 0.9))
    a2, b2 = float(rng.uniform(0.15, 0.6)), float(rng.uniform(1.5, 3.0))
    p, e, s = float(rng.uniform(1.2, 2.0)), float(rng.uniform(0.5, 1.8)), float(rng.uniform(1.1, 1.8))
    c1, c2 = float(rng.uniform(0.8, 1.6)), float(rng.uniform(0.3, 0.9))
    return [
        (f"x.tanh() at x = {x1:.4g}", lambda x: x.tanh(), [x1], np.tanh(x1), [1 - np.tanh(x1) ** 2]),
        (f"x.tanh() at x = {x2:.4g}", lambda x: x.tanh(), [x2], np.tanh(x2), [1 - np.tanh(x2) ** 2]),
        (f"a ** 3 with a plain exponent, a = {p:.4g}", lambda u: u**3, [p], p**3, [3 * p**2]),
        (f"a ** b with a = {a:.4g}, b = {b:.4g}", lambda u, v: u**v, [a, b],
         a**b, [b * a ** (b - 1), a**b * np.log(a)]),
        (f"a ** b with a = {a2:.4g}, b = {b2:.4g}", lambda u, v: u**v, [a2, b2],
         a2**b2, [b2 * a2 ** (b2 - 1), a2**b2 * np.log(a2)]),
        (f"2 ** b with b = {e:.4g}", lambda v: 2**v, [e], 2**e, [2**e * np.log(2)]),
        (f"a ** a with a = {s:.4g} (one node as base and exponent)", lambda u: u**u, [s],
         s**s, [s**s * (np.log(s) + 1)]),
        (f"(a ** b).tanh() * a + 2 ** b with a = {c1:.4g}, b = {c2:.4g}",
         lambda u, v: (u**v).tanh() * u + 2**v, [c1, c2], None, None),
    ]


def _value_case(Value, build, inputs, what):
    """Build an expression of the learner's Values, run backward: (data, grads)."""
    def run():
        leaves = [Value(x) for x in inputs]
        out = build(*leaves)
        if not isinstance(out, Value):
            return out, None
        out.backward()
        return float(out.data), [float(leaf.grad) for leaf in leaves]

    data, grads = call(run, name=f"your Value on {what}")
    if grads is None:
        raise CheckFailed(f"{what} gave a {type(data).__name__}: each new operation should return a new Value "
                          "(which records its parents and local derivatives), not a plain number.")
    return data, grads


def _value_reference(build, inputs):
    """Value and numerical gradient of the expression with plain floats."""
    class Num(float):  # plain numbers with the two new operations
        def tanh(self):
            return Num(np.tanh(float(self)))

        def __pow__(self, other):
            return Num(float(self) ** float(other))

        def __rpow__(self, base):
            return Num(float(base) ** float(self))

        def __mul__(self, other):
            return Num(float(self) * float(other))

        def __add__(self, other):
            return Num(float(self) + float(other))

        __rmul__, __radd__ = __mul__, __add__

    def f(p):
        return float(build(*[Num(v) for v in p]))

    return f(np.array(inputs)), numerical_gradient(f, np.array(inputs, dtype=float))


def _value_mistakes(what, inputs):
    """Hints for the typical mistakes of one case: what the wrong rule would give."""
    if what.startswith("x.tanh()"):
        t = np.tanh(inputs[0])
        return {"the derivative of tanh is 1 - tanh(x)**2, not 1 - tanh(x)": [1 - t],
                "the derivative of tanh is 1 - tanh(x)**2 (the square is of tanh, not of x)": [1 - inputs[0] ** 2],
                "the new Value does not record its parents (or its local derivative): backward cannot "
                "reach x": [0.0]}
    if what.startswith("a ** b"):
        a, b = inputs
        return {"d(a^b)/db = a^b ln(a): the exponent's local derivative is missing or zero (a Value "
                "exponent is a parent too)": [b * a ** (b - 1), 0.0],
                "d(a^b)/db = a^b ln(a), not b a^(b-1) ln(a)": [b * a ** (b - 1), b * a ** (b - 1) * np.log(a)],
                "d(a^b)/db = a^b ln(a), not ln(a)": [b * a ** (b - 1), np.log(a)],
                "d(a^b)/da = b a^(b-1): the factor b is missing": [a ** (b - 1), a**b * np.log(a)]}
    if what.startswith("2 ** b"):
        return {"d(2^b)/db = 2^b ln 2, not b 2^(b-1) (the variable is the exponent)":
                [inputs[0] * 2 ** (inputs[0] - 1)]}
    if what.startswith("a ** a"):
        a = inputs[0]
        return {"a node used as base and exponent gets both contributions: add them (+=), do not overwrite":
                [a**a * np.log(a)],
                "a node used as base and exponent gets both contributions (the base's a * a**(a-1) is "
                "missing)": [a * a ** (a - 1)]}
    return {}


@register("05.value_ops", target="Value")
def check_value_ops(Value):
    """Value has tanh() and powers with a Value exponent (a ** b, 2 ** b), differentiated exactly by backward()."""
    require_answer(Value, "Value")
    if not isinstance(Value, type):
        raise CheckFailed(f"`Value` should be the class, not a {type(Value).__name__}: pass the class itself.")
    for what, build, inputs, value, grads in _value_cases(seeded_rng(41)):
        data, got = _value_case(Value, build, inputs, what)
        exact = value is not None
        if exact:
            reference = np.array(grads, dtype=float)
        else:
            value, reference = _value_reference(build, inputs)
        if not np.isclose(data, value, rtol=1e-9, atol=1e-12):
            raise CheckFailed(f"the value of {what} is {data:.6g}, expected {value:.6g}: check the forward "
                              "computation of the new operation.")
        got = np.array(got)
        mistakes = {k: np.array(v, dtype=float) for k, v in _value_mistakes(what, inputs).items()}
        expect_close(got, reference, f"the gradients for {what}", rtol=1e-5, atol=1e-7, mistakes=mistakes)
        if exact and not np.allclose(got, reference, rtol=1e-12, atol=1e-14):
            raise CheckFailed(f"the gradients for {what} are close but not exact: a finite difference? "
                              "Store the local derivative given by its formula (exact), not a difference "
                              "quotient.")
    return "tanh, a ** 3, a ** b, 2 ** b, a ** a and a composite expression, exact to 1e-12"


def _cache_parts(cache, count, name):
    if not isinstance(cache, (tuple, list)) or len(cache) != count:
        raise CheckFailed(f"the cache of {name} should be the pair (X, W), not "
                          f"{type(cache).__name__}" + (f" of length {len(cache)}" if isinstance(cache, (tuple, list))
                                                       else "") + ".")
    return cache


@register("05.affine_forward")
def check_affine_forward(affine_forward):
    """affine_forward(X, W, b) returns (X @ W + b, (X, W))."""
    rng = seeded_rng(27)
    for n, d, h in [(5, 3, 4), (1, 4, 2), (6, 3, 3)]:
        X, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, h)), rng.normal(size=h)
        case = f"X of shape {X.shape}, W of shape {W.shape}"
        out = call(affine_forward, X, W, b, name="affine_forward")
        expect_pair(out, "affine_forward", "(output, cache)")
        first = to_array(out[0], "the output") if not isinstance(out[0], (tuple, list)) else None
        if first is None:
            raise CheckFailed(f"affine_forward should return the output first, then the cache: (X @ W + b, "
                              f"(X, W)), for {case}.")
        expect_close(first, X @ W + b, "the output X @ W + b", case=case,
                     mistakes={"the bias b is missing: X @ W + b": X @ W})
        X_c, W_c = _cache_parts(out[1], 2, "affine_forward")
        if np.shape(X_c) == W.shape and np.shape(W_c) == X.shape and X.shape != W.shape:
            raise CheckFailed(f"the cache of affine_forward for {case} holds (W, X): the cache is the pair "
                              "(X, W), in that order.")
        expect_close(X_c, X, "the cache's X", case=case)
        expect_close(W_c, W, "the cache's W", case=case)
    return "three shapes: the output and the cache (X, W)"


@register("05.relu_forward")
def check_relu_forward(relu_forward):
    """relu_forward(Z) returns (np.maximum(Z, 0), Z)."""
    rng = seeded_rng(33)
    for shape in [(4, 5), (1, 3), (6, 2)]:
        Z = rng.normal(size=shape)
        Z.flat[::4] = 0.0
        case = f"Z of shape {shape}"
        out = call(relu_forward, Z, name="relu_forward")
        expect_pair(out, "relu_forward", "(output, cache)")
        expect_close(out[0], np.maximum(Z, 0), "the output", case=case,
                     mistakes={"return the output first, then the cache Z": Z,
                               "the ReLU is max(Z, 0), not min(Z, 0)": np.minimum(Z, 0),
                               "the ReLU is max(Z, 0), not |Z|": np.abs(Z)})
        expect_close(out[1], Z, "the cache", case=case,
                     mistakes={"the cache is Z, the layer's input, not its output max(Z, 0)": np.maximum(Z, 0)})
    return "three shapes with exact zeros: the output and the cache Z"


def _affine_reference(dout, X, W):
    return dout @ W.T, X.T @ dout, dout.sum(axis=0)


@register("05.affine_backward")
def check_affine_backward(affine_backward):
    """affine_backward(dout, (X, W)) returns (dX, dW, db) of Z = X W + b."""
    rng = seeded_rng(29)
    for n, d, h in [(5, 3, 4), (1, 4, 2), (6, 3, 3), (7, 2, 5)]:
        X, W, dout = rng.normal(size=(n, d)), rng.normal(size=(d, h)), rng.normal(size=(n, h))
        case = f"X of shape {X.shape}, W of shape {W.shape}"
        try:
            out = call(affine_backward, dout, (X, W), name="affine_backward")
        except CheckFailed as err:
            if " raised " not in str(err):
                raise
            raise CheckFailed(f"{err} (for {case}: the cache is the pair (X, W), in that order)") from None
        require_answer(out, "the value returned by affine_backward")
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise CheckFailed("affine_backward should return the tuple (dX, dW, db), not a "
                              f"{type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, (tuple, list))
                                                         else "") + ".")
        dX, dW, db = _affine_reference(dout, X, W)
        wrong = {"dX": {"dX = dout @ W.T: multiply by the transpose of W": dout @ W if d == h else None,
                        "dX is dout @ W.T, not X-shaped ones": np.ones_like(X) * dout.sum() if n > 1 else None},
                 "dW": {"dW = X.T @ dout, the shape of W; yours is transposed": (X.T @ dout).T,
                        "dW is a sum over the samples, not a mean: X.T @ dout, no 1/n": X.T @ dout / n
                        if n > 1 else None},
                 "db": {"db sums dout over the samples (axis 0), one value per unit": dout.sum(axis=1),
                        "db is a sum over the samples, not a mean": dout.mean(axis=0) if n > 1 else None}}
        for k, (name, ref) in enumerate((("dX", dX), ("dW", dW), ("db", db))):
            mistakes = {text: value for text, value in wrong[name].items() if value is not None}
            expect_close(out[k], ref, name, case=case, mistakes=mistakes)
    return "four shapes, against X.T @ dout, dout @ W.T and the column sums"


@register("05.relu_backward")
def check_relu_backward(relu_backward):
    """relu_backward(dout, Z) returns dout where Z > 0 and 0 elsewhere (slope 0 at exactly 0)."""
    rng = seeded_rng(31)
    for shape in [(4, 5), (1, 3), (6, 2)]:
        Z = rng.normal(size=shape)
        Z.flat[:: 3] = 0.0  # exact zeros: the slope there is 0
        Z.flat[1] = -Z.flat[1] if Z.flat[1] > 0 else Z.flat[1]
        dout = rng.normal(size=shape)
        dout[Z < 0] = np.abs(dout[Z < 0])  # positive upstream gradients where the unit is off
        case = f"Z of shape {shape} with exact zeros"
        out = call(relu_backward, dout, Z, name="relu_backward")
        mistakes = {"the slope at exactly 0 is 0 here: use Z > 0, not Z >= 0": dout * (Z >= 0),
                    "multiply dout by the mask (Z > 0); the mask alone is not the gradient": (Z > 0).astype(float),
                    "the mask comes from the forward input Z (the cache), not from dout": dout * (dout > 0),
                    "the ReLU's derivative is 0 or 1, not Z itself: dout * (Z > 0)": dout * np.maximum(Z, 0)}
        expect_close(out, dout * (Z > 0), "dZ", case=case, mistakes=mistakes)
    return "three shapes with exact zeros and negative inputs"


def _network_reference(params, X, y, relu_last=False, mean=True, logits=False):
    h, caches = X, []
    for i, (W, b) in enumerate(params):
        z = h @ W + b
        last = i == len(params) - 1
        caches.append((h, W, z))
        h = np.maximum(z, 0) if (not last or relu_last) else z
    if logits:
        return h
    m = h.max(axis=1, keepdims=True)
    log_p = h - m - np.log(np.exp(h - m).sum(axis=1, keepdims=True))
    n = len(y) if mean else 1
    loss = -float(np.sum(log_p[np.arange(len(y)), y])) / n
    grad = np.exp(log_p)
    grad[np.arange(len(y)), y] -= 1.0
    grad /= n
    grads = []
    for i in reversed(range(len(params))):
        h_in, W, z = caches[i]
        if i < len(params) - 1 or relu_last:
            grad = grad * (z > 0)
        grads.append((h_in.T @ grad, grad.sum(axis=0)))
        grad = grad @ W.T
    return loss, grads[::-1]


@register("05.network_gradients")
def check_network_gradients(network_gradients):
    """network_gradients(params, X, y) returns (loss, [(dW, db), ...]) of an L-layer ReLU network with softmax CE."""
    rng = seeded_rng(37)
    for sizes, scale in [((4, 3), 1.0), ((5, 6, 3), 1.0), ((3, 7, 5, 4), 1.0), ((6, 4, 5, 3, 2), 1.0),
                         ((4, 5, 3), 3000.0)]:
        n = int(rng.integers(5, 9))
        params = [(rng.normal(size=(m, k)) / np.sqrt(m), rng.normal(0.0, 0.3, k))
                  for m, k in zip(sizes[:-1], sizes[1:], strict=True)]
        params[-1] = (params[-1][0] * scale, params[-1][1])  # logits in the thousands: exp overflows
        X, y = rng.normal(size=(n, sizes[0])), rng.integers(0, sizes[-1], n)
        L = len(params)
        case = f"{L} layer{'s' if L > 1 else ''} of sizes {sizes}, {n} samples"
        if scale != 1:
            case += ", logits in the thousands (confident mistakes)"
        with calls_of_global(network_gradients, "affine_forward") as forwards, \
                calls_of_global(network_gradients, "affine_backward") as backwards:
            try:
                out = call(network_gradients, [tuple(p) for p in params], X, y, name="network_gradients")
            except CheckFailed as err:
                if " raised " not in str(err):
                    raise
                raise CheckFailed(f"{err} (for {case}: the network may have any depth)") from None
        expect_pair(out, "network_gradients", "(loss, grads)")
        loss_ref, grads_ref = _network_reference(params, X, y)
        loss = to_array(out[0], "the loss")
        if loss.ndim != 0:
            raise CheckFailed(f"the loss should be one number (a float), not an array of shape {loss.shape}, "
                              f"for {case}.")
        relu_last = _network_reference(params, X, y, relu_last=True)
        summed = _network_reference(params, X, y, mean=False)
        logits = _network_reference(params, X, y, logits=True)
        shifted = logits - logits.max(axis=1, keepdims=True)
        P = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore"):
            clipped = -float(np.mean(np.log(P[np.arange(n), y] + 1e-12)))
        expect_close(loss.reshape(()), loss_ref, "the loss", case=case,
                     mistakes={"the last layer has no ReLU: its outputs are the logits": relu_last[0],
                               "the loss is the mean over the samples, not the sum": summed[0],
                               "compute the loss with log-sum-exp (Z - logsumexp(Z)), not log(p + small): "
                               "the small constant caps the loss of confident mistakes": clipped})
        grads = out[1]
        if not isinstance(grads, list) or len(grads) != L:
            got = len(grads) if isinstance(grads, (list, tuple)) else type(grads).__name__
            raise CheckFailed(f"grads should be a list of {L} pairs (dW, db), one per layer, for {case}; got {got}.")
        shapes = [np.shape(pair[0]) if isinstance(pair, (list, tuple)) and len(pair) == 2 else None
                  for pair in grads]
        expected_shapes = [np.shape(dW) for dW, _ in grads_ref]
        if shapes != expected_shapes and shapes == expected_shapes[::-1]:
            raise CheckFailed(f"for {case}, grads holds the layers last first: return them in the order of "
                              "params (first layer first), for example by reversing the list you built "
                              "on the way back.")
        for i, (pair, (dW_ref, db_ref)) in enumerate(zip(grads, grads_ref, strict=True)):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise CheckFailed(f"grads[{i}] should be the pair (dW, db) of layer {i + 1}, for {case}.")
            layer = f"layer {i + 1} of {L}"
            mistakes = {"the last layer has no ReLU: its outputs are the logits": relu_last[1][i][0],
                        "the loss is a mean: the gradient carries the 1/n": summed[1][i][0]}
            if L > 1 and i != L - 1 - i and np.shape(grads_ref[L - 1 - i][0]) == np.shape(dW_ref):
                mistakes["grads must be in the order of params (first layer first)"] = grads_ref[L - 1 - i][0]
            expect_close(pair[0], dW_ref, f"dW of {layer}", case=case, mistakes=mistakes)
            expect_close(pair[1], db_ref, f"db of {layer}", case=case,
                         mistakes={"the last layer has no ReLU: its outputs are the logits":
                                   relu_last[1][i][1],
                                   "the loss is a mean: the gradient carries the 1/n": summed[1][i][1]})
        for counter, what in ((forwards, "affine_forward"), (backwards, "affine_backward")):
            if counter.count is not None and counter.count != L:
                raise CheckFailed(f"for {case}, network_gradients called your {what} {counter.count} times: "
                                  f"compose the network from your layers, one {what} call per layer ({L}).")
    return "networks of 1 to 4 layers, loss and every gradient, composed from your layers"
