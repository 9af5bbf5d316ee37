"""Chapter 00 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly


def good_sum(X, w, b):
    return np.dot(X, w) + b


def einsum_sum(X, w, b):
    """Einstein summation over the last axis: different code, same function."""
    return np.einsum("...d,d->...", np.asarray(X), np.asarray(w)) + b


def loop_sum(X, w, b):
    """A loop over samples and features: the right values, but the statement forbids the loop."""
    rows = np.atleast_2d(X)
    out = np.array([sum(xi * wi for xi, wi in zip(row, w, strict=True)) + b for row in rows])
    return out if np.ndim(X) == 2 else out[0]


@pytest.mark.parametrize("answer", [good_sum, einsum_sum, lambda X, w, b: np.float32(1) * (X @ w) + b])
def test_weighted_sum_accepts(answer):
    assert check("00.weighted_sum", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda X, w, b: X @ w, "bias is missing"),
    (lambda X, w, b: X @ w - b, "added, not subtracted"),
    (lambda X, w, b: np.sum(X * w) + b, "axis 1"),
    (lambda X, w, b: None, "is None"),
    (loop_sum, "do not loop over the samples"),
])
def test_weighted_sum_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("00.weighted_sum", answer)


GOOD_GATES = {"NAND": ([-2, -2], 3), "NOR": ((-1, -1), 0.5), "x1 AND NOT x2": (np.array([1, -1]), -0.5)}


def test_gate_weights_accepts():
    check("00.gate_weights", GOOD_GATES)
    scaled = {name: (np.array(w, dtype=np.float32) * 3, np.float32(b) * 3) for name, (w, b) in GOOD_GATES.items()}
    check("00.gate_weights", scaled)
    check("00.gate_weights", {**GOOD_GATES, "AND": ([1, 1], -1.5)})  # an extra gate is harmless


@pytest.mark.parametrize("change,hint", [
    ({"NAND": ([1, 1], -1.5)}, "compute AND, not NAND"),
    ({"NOR": ([1, 1], -0.5)}, "compute OR, not NOR"),
    ({"x1 AND NOT x2": ([-1, 1], -0.5)}, "swap the two weights"),
    ({"NOR": ([-1, -1], 1.0)}, "exactly on the boundary"),
    ({"NAND": ([-1, -1], 1.5, 0)}, "pair"),
    ({"NOR": ([-1, -1, 0], 0.5)}, "2 values"),
])
def test_gate_weights_rejects(change, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("00.gate_weights", {**GOOD_GATES, **change})


def test_gate_weights_rejects_missing_or_wrong_type():
    with pytest.raises(CheckFailed, match="no entry for 'x1 AND NOT x2'"):
        check("00.gate_weights", {"NAND": GOOD_GATES["NAND"], "NOR": GOOD_GATES["NOR"]})
    with pytest.raises(CheckFailed, match="should be a dict"):
        check("00.gate_weights", [1, 2])


def _update(sign=1, bias=True, lr_used=True, always=False):
    def update(w, b, x, y, lr):
        error = y - int(np.dot(w, x) + b >= 0)
        if always:
            error = 1
        rate = lr if lr_used else 1
        return w + sign * rate * error * x, (b + sign * rate * error if bias else b)
    return update


def test_perceptron_update():
    check("00.perceptron_update", _update())
    for wrong, hint in [(_update(sign=-1), "wrong sign"), (_update(bias=False), "bias is not updated"),
                        (_update(lr_used=False), "learning rate is missing"),
                        (_update(always=True), "correct prediction must leave")]:
        with pytest.raises(CheckFailed, match=hint):
            check("00.perceptron_update", wrong)


def test_train_perceptron():
    def train(X, y, lr, n_epochs):
        w, b = np.zeros(2), 0.0
        for _ in range(n_epochs):
            for x_i, y_i in zip(X, y, strict=True):
                error = y_i - (x_i @ w + b >= 0)
                w, b = w + lr * error * x_i, b + lr * error
        return w, b

    check("00.train_perceptron", train)

    def one_epoch_only(X, y, lr, n_epochs):
        return train(X[:3], y[:3], lr, 1)

    with pytest.raises(CheckFailed, match="n_epochs=1 is wrong"):
        check("00.train_perceptron", one_epoch_only)
    with pytest.raises(CheckFailed, match="pair"):
        check("00.train_perceptron", lambda X, y, lr, n: np.zeros(2))


# ----------------------------------------------------------------- 00.count_updates


def _counter(tie_class_one=True, bias_first=False, fold=True, stop=True, count_first_epoch_only=False,
             as_float=False):
    def count_updates(X, y, max_epochs):
        ones = np.ones((len(X), 1))
        X_aug = np.hstack([ones, X] if bias_first else [X, ones]) if fold else np.asarray(X, float)
        w, n_updates, epochs = np.zeros(X_aug.shape[1]), 0, 0
        for epoch in range(max_epochs):
            epochs = epoch + 1
            wrong = 0
            for x_i, y_i in zip(X_aug, y, strict=True):
                z = x_i @ w
                error = y_i - int(z >= 0 if tie_class_one else z > 0)
                if error:
                    w, wrong = w + error * x_i, wrong + 1
            if epoch == 0 or not count_first_epoch_only:
                n_updates += wrong
            if wrong == 0 and stop:
                break
        return (w.astype(np.float32) if as_float else w), n_updates, epochs
    return count_updates


def _counter_lists(X, y, max_epochs):
    """Plain Python lists and a while loop: different code, same answer."""
    rows = [list(map(float, row)) + [1.0] for row in X]
    w, n_updates, epoch = [0.0] * len(rows[0]), 0, 0
    while epoch < max_epochs:
        epoch += 1
        before = n_updates
        for row, label in zip(rows, y, strict=True):
            guess = 1 if sum(a * b for a, b in zip(w, row, strict=True)) >= 0 else 0
            if guess != label:
                w = [a + (label - guess) * b for a, b in zip(w, row, strict=True)]
                n_updates += 1
        if n_updates == before:
            break
    return np.array(w), n_updates, epoch


@pytest.mark.parametrize("answer", [_counter(), _counter_lists, _counter(as_float=True)])
def test_count_updates_accepts(answer):
    assert check("00.count_updates", answer)


@pytest.mark.parametrize("answer,hint", [
    (_counter(tie_class_one=False), "step\\(0\\) must be 1"),
    (_counter(bias_first=True), "LAST entry"),
    (_counter(fold=False), "fold the bias in"),
    (_counter(stop=False), "Stop after the first epoch without a mistake"),
    (_counter(count_first_epoch_only=True), "in every epoch"),
    (lambda X, y, m: (np.zeros(3), 0), "triple"),
])
def test_count_updates_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("00.count_updates", answer)


# ---------------------------------------------------------- 00.multiclass_perceptron


def _multiclass(subtract=True, bias_first=False, fold=True, transpose=False):
    def multiclass_perceptron(X, y, n_classes, n_epochs):
        ones = np.ones((len(X), 1))
        X_aug = np.hstack([ones, X] if bias_first else [X, ones]) if fold else np.asarray(X, float)
        W = np.zeros((n_classes, X_aug.shape[1]))
        for _ in range(n_epochs):
            for x_i, y_i in zip(X_aug, y, strict=True):
                guess = np.argmax(W @ x_i)
                if guess != y_i:
                    W[y_i] += x_i
                    if subtract:
                        W[guess] -= x_i
        return W.T if transpose else W
    return multiclass_perceptron


def _multiclass_einsum(X, y, n_classes, n_epochs):
    """Scores by einsum, updates through a one-hot difference, float32: same rule."""
    X_aug = np.concatenate([X, np.ones((len(X), 1))], axis=1).astype(np.float32)
    W = np.zeros((n_classes, X_aug.shape[1]), dtype=np.float32)
    eye = np.eye(n_classes, dtype=np.float32)
    for _ in range(n_epochs):
        for i in range(len(X_aug)):
            guess = int(np.argmax(np.einsum("kd,d->k", W, X_aug[i])))
            W = W + np.outer(eye[y[i]] - eye[guess], X_aug[i])
    return W


@pytest.mark.parametrize("answer", [_multiclass(), _multiclass_einsum])
def test_multiclass_accepts(answer):
    assert check("00.multiclass_perceptron", answer)


@pytest.mark.parametrize("answer,hint", [
    (_multiclass(subtract=False), "also subtract"),
    (_multiclass(bias_first=True), "LAST column"),
    (_multiclass(fold=False), "fold the bias in"),
    (_multiclass(transpose=True), "one ROW per class"),
    (lambda X, y, k, e: _multiclass()(X, y, k, e).T if k == X.shape[1] + 1 else _multiclass()(X, y, k, e),
     "transpose"),
])
def test_multiclass_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("00.multiclass_perceptron", answer)


# ----------------------------------------------------------- 00.perceptron_criterion


def _criterion(tie_class_one=True, mean=True, margin=0.0, signs=True, sign=1.0, loss_array=False):
    def perceptron_criterion(w_aug, X_aug, y):
        y = np.asarray(y, dtype=float)
        t = 2 * y - 1 if signs else y
        z = X_aug @ w_aug
        y_hat = (z >= 0) if tie_class_one else (z > 0)
        n = len(y) if mean else 1
        losses = np.maximum(0.0, margin - t * z) / n
        return (losses if loss_array else float(losses.sum())), sign * -((y - y_hat) @ X_aug) / n
    return perceptron_criterion


def _criterion_loop(w_aug, X_aug, y):
    """A loop over samples with the per-sample subgradient: same function."""
    loss, sub = 0.0, np.zeros_like(w_aug, dtype=float)
    for x_i, y_i in zip(X_aug, y, strict=True):
        z = float(np.dot(w_aug, x_i))
        t = 1 if y_i == 1 else -1
        loss += max(0.0, -t * z)
        sub -= (y_i - (1 if z >= 0 else 0)) * x_i
    return loss / len(y), sub / len(y)


def _criterion_where(w_aug, X_aug, y):
    """np.where on the margin, the kink handled by the class: another formula."""
    t = np.where(np.asarray(y) == 1, 1.0, -1.0)
    margin = t * (X_aug @ w_aug)
    mistake = (margin < 0) | ((margin == 0) & (t < 0))
    return np.mean(np.where(margin < 0, -margin, 0.0)), -(t * mistake) @ X_aug / len(t)


@pytest.mark.parametrize("answer", [_criterion(), _criterion_loop, _criterion_where])
def test_perceptron_criterion_accepts(answer):
    assert check("00.perceptron_criterion", answer)


@pytest.mark.parametrize("answer,hint", [
    (_criterion(tie_class_one=False), "at z = 0 a sample of class 0 is a mistake"),
    (_criterion(mean=False), "the mean"),
    (_criterion(margin=1.0), "hinge loss"),
    (_criterion(signs=False), "signs t = 2y - 1"),
    (_criterion(sign=-1.0), "wrong sign"),
    (_criterion(loss_array=True), "one number"),
])
def test_perceptron_criterion_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("00.perceptron_criterion", answer)


# ------------------------------------------------------------ 00.averaged_perceptron


def _averaged(after_updates_only=False, with_start=False, before=False, strict=False, last=False, split=True):
    def averaged_perceptron(X, y, n_epochs):
        X_aug = np.hstack([X, np.ones((len(X), 1))])
        w = np.zeros(X_aug.shape[1])
        total, count = (w.copy(), 1) if with_start else (np.zeros_like(w), 0)
        for _ in range(n_epochs):
            for x_i, y_i in zip(X_aug, y, strict=True):
                error = y_i - int(x_i @ w > 0 if strict else x_i @ w >= 0)
                if before:
                    total, count = total + w, count + 1
                w = w + error * x_i
                if not before and (error or not after_updates_only):
                    total, count = total + w, count + 1
        average = w if last else total / count
        return (average[:-1], float(average[-1])) if split else average
    return averaged_perceptron


def _averaged_lazy(X, y, n_epochs):
    """The classic trick: sum the updates weighted by how many visits they stay in force."""
    X_aug = np.hstack([X, np.ones((len(X), 1))]).astype(np.float32)
    w, weighted = np.zeros(X_aug.shape[1], np.float32), np.zeros(X_aug.shape[1])
    n_visits = n_epochs * len(X)
    step = 0
    for _ in range(n_epochs):
        for x_i, y_i in zip(X_aug, y, strict=True):
            error = y_i - int(x_i @ w >= 0)
            if error:
                w = w + error * x_i
                weighted += (n_visits - step) * error * x_i
            step += 1
    average = weighted / n_visits
    return average[:-1], np.float64(average[-1])


@pytest.mark.parametrize("answer", [_averaged(), _averaged_lazy])
def test_averaged_perceptron_accepts(answer):
    assert check("00.averaged_perceptron", answer)


@pytest.mark.parametrize("answer,hint", [
    (_averaged(after_updates_only=True), "after EVERY visit"),
    (_averaged(with_start=True), "zero weights of the start"),
    (_averaged(before=True), "not before it"),
    (_averaged(strict=True), "step\\(0\\) must be 1"),
    (_averaged(last=True), "not the last weights"),
    (_averaged(split=False), "pair"),
])
def test_averaged_perceptron_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("00.averaged_perceptron", answer)


# --------------------------------------------------------------------------- held-out answers
# Each wrong answer here passed an earlier version of its check (a check holds the
# exercise statement, not a few outputs); each correct answer in another style must pass.


def test_boundary_perceptron_step_at_zero():
    """step(z) = 1 for z >= 0: an update that treats z = 0 as class 0 is wrong only on the edge."""
    def strict_step(w, b, x, y, lr):
        error = y - int(np.dot(w, x) + b > 0)
        return w + lr * error * x, b + lr * error

    with pytest.raises(CheckFailed, match=r"exactly on the boundary.*z >= 0"):
        check("00.perceptron_update", strict_step)


def _train(X, y, lr, n_epochs, *, use_lr=True, epochs=None):
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(n_epochs if epochs is None else epochs):
        for x_i, y_i in zip(X, y, strict=True):
            error = y_i - int(x_i @ w + b >= 0)
            rate = lr if use_lr else 1.0
            w, b = w + rate * error * x_i, b + rate * error
    return w, b


@pytest.mark.parametrize("answer,hint", [
    (lambda X, y, lr, n: _train(X, y, lr, n, use_lr=False), "learning rate lr is not used"),
    (lambda X, y, lr, n: _train(X, y, lr, n, epochs=100), "n_epochs=1 is wrong"),
    (lambda X, y, lr, n: _train(X, y, lr, n + 1), "one epoch too many"),
])
def test_parameters_varied_train_perceptron(answer, hint):
    """Every call used lr = 1 and 100 epochs, so an answer ignoring them passed."""
    with pytest.raises(CheckFailed, match=hint):
        check("00.train_perceptron", answer)


def test_both_shapes_weighted_sum_single_sample():
    """Only batches tried would pass an answer that returns shape (1,) for one sample."""
    with pytest.raises(CheckFailed, match=r"one sample.*should return a number, not an array of shape \(1,\)"):
        check("00.weighted_sum", lambda X, w, b: np.atleast_2d(X) @ w + b)



@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("00")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
