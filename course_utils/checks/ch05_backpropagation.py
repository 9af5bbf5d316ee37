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


@register("05.softmax_ce_grad", target="softmax_cross_entropy_grad")
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


def _mlp_loss(X, y, W1, b1, W2, b2):
    H = np.where(X @ W1 + b1 > 0, X @ W1 + b1, 0.0)
    return _mean_ce(H @ W2 + b2, y)


@register("05.mlp_backward")
def check_mlp_backward(mlp_backward):
    """mlp_backward(X, y, W1, b1, W2, b2) returns (dW1, db1, dW2, db2) of the mean cross-entropy."""
    rng = seeded_rng(11)
    for n, d, h, c in [(6, 4, 5, 3), (10, 3, 7, 4), (1, 5, 3, 2)]:
        X, y = rng.normal(size=(n, d)), rng.integers(0, c, size=n)
        params = [rng.normal(size=(d, h)), rng.normal(scale=0.5, size=h), rng.normal(size=(h, c)),
                  rng.normal(scale=0.5, size=c)]
        case = f"n={n} samples, {d} inputs, {h} hidden units, {c} classes"
        out = call(mlp_backward, X, y, *params, name="mlp_backward")
        if isinstance(out, dict):
            raise CheckFailed("mlp_backward should return the tuple (dW1, db1, dW2, db2), not a dict.")
        if not isinstance(out, (tuple, list)) or len(out) != 4:
            raise CheckFailed("mlp_backward should return four gradients: (dW1, db1, dW2, db2).")
        refs = []
        for k in range(4):
            def loss_k(v, k=k, X=X, y=y, params=params):
                args = list(params)
                args[k] = v
                return _mlp_loss(X, y, *args)

            refs.append(numerical_gradient(loss_k, params[k], eps=1e-6))
        # the typical wrong answers, computed from the same forward pass
        Z1 = X @ params[0] + params[1]
        H = np.maximum(Z1, 0)
        Z2 = H @ params[2] + params[3]
        P = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        dZ2 = (P - np.eye(c)[y]) / n
        dZ1_no_mask = dZ2 @ params[2].T
        dZ1 = dZ1_no_mask * (Z1 > 0)
        names = ("dW1", "db1", "dW2", "db2")
        wrong = {
            "dW2": {"dW2 is transposed: it must have the shape of W2, (hidden, classes) = H.T @ dZ2": refs[2].T},
            "db2": {"db2 is summed over the wrong axis: sum over the samples (axis 0), one value per class":
                    dZ2.sum(axis=1),
                    "db2 should have one value per class: sum dZ2 over axis 0 only": dZ2.sum()},
            "dW1": {"dW1 is transposed: it must have the shape of W1, (inputs, hidden) = X.T @ dZ1": refs[0].T,
                    "the ReLU mask is missing: multiply dH by (Z1 > 0)": X.T @ dZ1_no_mask},
            "db1": {"db1 is summed over the wrong axis: sum over the samples (axis 0), one value per hidden unit":
                    dZ1.sum(axis=1),
                    "the ReLU mask is missing in db1: multiply dH by (Z1 > 0)": dZ1_no_mask.sum(axis=0),
                    "db1 should have one value per hidden unit: sum dZ1 over axis 0 only": dZ1.sum()},
        }
        for k in (2, 3, 0, 1):  # in backward order, so the first mistake found is the earliest one
            name = names[k]
            mistakes = dict(wrong[name])
            mistakes[f"{name} has the wrong sign: the output gradient is P - Y, not Y - P"] = -refs[k]
            if n > 1:
                mistakes[f"{name} is n times too large: the loss is a mean, divide dZ2 by n"] = refs[k] * n
            expect_close(out[k], refs[k], name, case=case, rtol=1e-5, atol=1e-7, mistakes=mistakes)
    return "three networks of different sizes (against numerical gradients)"
