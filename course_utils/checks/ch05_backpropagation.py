"""Checks for chapter 05, backpropagation."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
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


@register("05.fib_memo")
def check_fib_memo(fib_memo):
    """fib_memo(n) returns F_n (F_1 = F_2 = 1) fast, with memoisation."""
    table = _fib_table(95)
    got = [_as_exact_int(call(fib_memo, n, name="fib_memo", time_limit=FIB_TIME_LIMIT), f"fib_memo({n})")
           for n in range(1, 13)]
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
    try:
        out = call(fib_memo, 90, name="fib_memo", time_limit=FIB_TIME_LIMIT)
    except CheckFailed as err:
        if "did not finish" in str(err):
            raise CheckFailed(f"fib_memo(90) did not finish within {FIB_TIME_LIMIT:g} s. Plain recursion "
                              "calls itself about F_90 ~ 3e18 times: store each F_k in a table (dict or "
                              "list) the first time you compute it and look it up afterwards.") from None
        raise
    got = _as_exact_int(out, "fib_memo(90)")
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
            expect_close(got, ref, name, case=case, rtol=1e-5, atol=1e-8, mistakes=mistakes)
    return "the worked example and three random batches (against numerical gradients)"


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
            mistakes["the 1/n of the mean is missing"] = ref * n
        expect_close(got, ref, "the gradient", case=case, rtol=1e-5, atol=1e-7, mistakes=mistakes)
    return "six batches, large logits and rows on different scales included (against numerical gradients)"


def _dtanh(Z):
    return 1.0 / np.cosh(Z) ** 2  # sech^2, the same as 1 - tanh^2, written differently


@register("05.tanh_layer_backward")
def check_tanh_layer_backward(tanh_layer_backward):
    """tanh_layer_backward(X, W, b, dH) returns (dX, dW, db) of H = tanh(X W + b)."""
    rng = np.random.default_rng(13)
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
        wrong = {
            "dX": {"the tanh derivative 1 - H**2 is missing: dZ = dH * (1 - H**2)": dH @ W.T,
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
    rng = np.random.default_rng(17)
    cases = [("one-hot targets", np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]),
              np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))]
    for n, c in [(4, 5), (1, 3), (8, 10)]:
        T = rng.dirichlet(np.ones(c), size=n)
        cases.append((f"soft targets, logits of shape {(n, c)}", rng.normal(scale=2.0, size=(n, c)), T))
    cases.append(("a confident mistake: logits (0, 200, -50), targets (0.5, 0.5, 0)",
                  np.array([[0.0, 200.0, -50.0]]), np.array([[0.5, 0.5, 0.0]])))
    cases.append(("large logits (around 1000)", 1000 + rng.normal(scale=5.0, size=(3, 4)),
                  rng.dirichlet(np.ones(4), size=3)))
    for case, Z, T in cases:
        out = call(soft_cross_entropy, Z.copy(), T.copy(), name="soft_cross_entropy")
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
        mistakes = {"compute log softmax as Z - logsumexp(Z) (log-sum-exp), not log(p + small): the "
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
    rng = np.random.default_rng(19)
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
        if not np.allclose(got.astype(float), jvp_ref, rtol=1e-9, atol=1e-11):
            raise CheckFailed(f"J v is close but not exact for {case}: a finite difference? Push the tangent "
                              "v through each operation exactly (forward mode).")
    return "four networks of different shapes, exact to 1e-9"
