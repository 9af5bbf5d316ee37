"""Held-out-style answers for each weakness class of issue 15: a check holds the exercise
statement, not a few outputs. Each wrong answer here passed an earlier version of its check
(or would have); each correct answer in another style must pass.

Kept in one module, apart from the chapter test modules, so that chapters can grow their own
tests at the end of theirs without conflicts.
"""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check

# --------------------------------------------------------------------------- boundary values


def test_boundary_perceptron_step_at_zero():
    """step(z) = 1 for z >= 0: an update that treats z = 0 as class 0 is wrong only on the edge."""
    def strict_step(w, b, x, y, lr):
        error = y - int(np.dot(w, x) + b > 0)
        return w + lr * error * x, b + lr * error

    with pytest.raises(CheckFailed, match=r"exactly on the boundary.*z >= 0"):
        check("00.perceptron_update", strict_step)


def test_boundary_early_stopping_never_fires_with_later_best():
    """A run that never stops, best epoch not the first: the best epoch must still be reported."""
    def best_from_start(val_losses, patience):
        best, best_loss = 0, np.inf
        for epoch, loss in enumerate(val_losses):
            if loss < best_loss:
                best, best_loss = epoch, loss
            elif epoch - best >= patience:
                return best, epoch
        return 0, len(val_losses) - 1

    with pytest.raises(CheckFailed, match="never stops"):
        check("03.early_stopping", best_from_start)


def test_boundary_top_k_ties_count_for_the_label():
    """"Fewer than k strictly larger": a sort or torch.topk breaks ties by position."""
    torch = pytest.importorskip("torch")

    def with_topk(logits, labels, k):
        top = torch.topk(torch.as_tensor(logits), k, dim=1).indices
        return (top == torch.as_tensor(labels)[:, None]).any(dim=1).double().mean().item()

    with pytest.raises(CheckFailed, match="ties count for the label"):
        check("07.top_k_accuracy", with_topk)

    def by_rank(logits, labels, k):
        """The label's competition rank (1 + the number of strictly larger logits)."""
        logits = np.asarray(logits)
        rank = 1 + (logits > logits[np.arange(len(labels)), labels][:, None]).sum(axis=1)
        return float((rank <= k).mean())

    assert check("07.top_k_accuracy", by_rank)


# --------------------------------------------------------------------------- parameters varied


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


def _centred_rmsprop(params, grads, state, lr, rho, eps):
    s_a = state.get("s_a", np.zeros((2, len(params))))
    s_a = rho * s_a + (1 - rho) * np.stack([grads**2, grads])
    return params - lr * grads / (np.sqrt(s_a[0] - s_a[1] ** 2) + eps), {"s_a": s_a}


def test_parameters_varied_centred_rmsprop_needs_the_mean_gradient():
    """Gradients with a steady part tell centred RMSprop from the plain one."""
    def plain(params, grads, state, lr, rho, eps):
        s = rho * state.get("s", 0.0) + (1 - rho) * grads**2
        return params - lr * grads / (np.sqrt(s) + eps), {"s": s}

    with pytest.raises(CheckFailed, match="plain RMSprop"):
        check("08.centered_rmsprop_step", plain)
    assert check("08.centered_rmsprop_step", _centred_rmsprop)  # both averages in one array


def test_centred_rmsprop_statement_is_pytorchs():
    """The statement's update is torch.optim.RMSprop(centered=True) step for step."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(9, 4)) + 0.5
    param = torch.tensor(rng.normal(size=4), requires_grad=True)
    params, state = param.detach().numpy().copy(), {}
    optimizer = torch.optim.RMSprop([param], lr=0.05, alpha=0.8, eps=1e-6, centered=True)
    for g in grads:
        param.grad = torch.tensor(g)
        optimizer.step()
        params, state = _centred_rmsprop(params, g, state, lr=0.05, rho=0.8, eps=1e-6)
        np.testing.assert_allclose(params, param.detach().numpy(), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- numerical stability


def test_stability_softmax_gradient_needs_the_row_maximum():
    """Subtracting the batch maximum is stable on one scale only: rows on +-1000 tell it apart."""
    def global_max(Z, y):
        e = np.exp(Z - Z.max())
        P = e / e.sum(axis=1, keepdims=True)
        P[np.arange(len(y)), y] -= 1.0
        return P / len(y)

    with pytest.raises(CheckFailed, match="each row's own maximum"):
        check("05.softmax_ce_grad", global_max)


# --------------------------------------------------------------------------- both shapes


def test_both_shapes_weighted_sum_single_sample():
    """Only batches tried would pass an answer that returns shape (1,) for one sample."""
    with pytest.raises(CheckFailed, match=r"shape \(1,\), expected \(\)"):
        check("00.weighted_sum", lambda X, w, b: np.atleast_2d(X) @ w + b)


# --------------------------------------------------------------------------- dtype and integers


def test_integer_labels_per_class_f1_unseen_class_is_zero():
    """"0.0, not NaN": a division 0 / 0 for a class that is neither true nor predicted."""
    def nan_for_unseen(y_true, y_pred, n_classes):
        C = np.zeros((n_classes, n_classes))
        np.add.at(C, (y_true, y_pred), 1)
        with np.errstate(all="ignore"):
            return 2 * np.diag(C) / (C.sum(axis=0) + C.sum(axis=1))

    with pytest.raises(CheckFailed, match="contains NaN.*give it 0.0"):
        check("07.per_class_f1", nan_for_unseen)

    def harmonic_mean_form(y_true, y_pred, n_classes):
        """2 P R / (P + R) with 0 for empty classes: the same number written differently."""
        scores = np.zeros(n_classes)
        for c in range(n_classes):
            tp = np.sum((y_true == c) & (y_pred == c))
            precision = tp / max(np.sum(y_pred == c), 1)
            recall = tp / max(np.sum(y_true == c), 1)
            if precision + recall > 0:
                scores[c] = 2 * precision * recall / (precision + recall)
        return scores

    assert check("07.per_class_f1", harmonic_mean_form)


def test_integer_result_early_stopping_epochs():
    def float_epochs(val_losses, patience):
        best = int(np.argmin(val_losses[:1]))
        best_loss = val_losses[0]
        for epoch, loss in enumerate(val_losses):
            if loss < best_loss:
                best, best_loss = epoch, loss
            elif epoch - best >= patience:
                return float(best), float(epoch)
        return float(best), float(len(val_losses) - 1)

    with pytest.raises(CheckFailed, match="return them as ints"):
        check("03.early_stopping", float_epochs)


# --------------------------------------------------------------------------- square and symmetric


def test_non_square_kernel_correlate2d():
    """Swapped kernel dimensions pass a check that only tries square kernels."""
    def swapped(image, kernel):
        image, kernel = np.asarray(image, float), np.asarray(kernel, float)
        kw, kh = kernel.shape
        out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel.reshape(kh, kw))
        return out

    with pytest.raises(CheckFailed):
        check("11.correlate2d", swapped)


def test_non_square_shape_xavier_uniform():
    def transposed(fan_in, fan_out, rng):
        a = np.sqrt(6 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=(fan_out, fan_in))

    with pytest.raises(CheckFailed, match="shape"):
        check("09.xavier_uniform", transposed)


# --------------------------------------------------------------------------- random draws


def _shift_with(draw):
    def random_shift(images, labels, max_shift, rng):
        m = max_shift
        n, h, w = images.shape
        padded = np.pad(images, ((0, 0), (m, m), (m, m)))
        out = np.empty_like(images)
        shared = draw(rng, m)
        for i in range(n):
            dy, dx = shared if shared is not None else rng.integers(-m, m + 1, size=2)
            out[i] = padded[i, m - dy:m - dy + h, m - dx:m - dx + w]
        return out, labels
    return random_shift


def test_random_shift_inclusive_bounds_accepted():
    assert check("12.random_shift", _shift_with(lambda rng, m: None))


def test_random_shift_exclusive_upper_bound_rejected():
    def exclusive(images, labels, max_shift, rng):
        m = max_shift
        n, h, w = images.shape
        padded = np.pad(images, ((0, 0), (m, m), (m, m)))
        out = np.empty_like(images)
        for i in range(n):
            dy, dx = rng.integers(-m, m, size=2)  # never +max_shift
            out[i] = padded[i, m - dy:m - dy + h, m - dx:m - dx + w]
        return out, labels

    with pytest.raises(CheckFailed):
        check("12.random_shift", exclusive)


def test_random_shift_one_shift_for_the_batch_rejected():
    """Independence: every image gets its own shift."""
    with pytest.raises(CheckFailed):
        check("12.random_shift", _shift_with(lambda rng, m: tuple(rng.integers(-m, m + 1, size=2))))


# --------------------------------------------------------------------------- prescribed method


def mse_gradient(x, y, w, b):
    """The chapter's helper, as the notebook defines it (fit_bingham looks it up globally)."""
    error = w * x + b - y
    return 2 * np.mean(error * x), 2 * np.mean(error)


def fit_by_gradient_descent(rate, stress):
    mean, std = rate.mean(), rate.std()
    z = (rate - mean) / std
    w = b = 0.0
    for _ in range(200):
        dw, db = mse_gradient(z, stress, w, b)
        w, b = w - 0.1 * dw, b - 0.1 * db
    return b - w * mean / std, w / std


def fit_closed_form(rate, stress):
    mu, tau = np.polyfit(rate, stress, 1)
    return tau, mu


def test_prescribed_method_gradient_descent_observed():
    """The closed form recovers the same parameters; the statement asks for gradient descent."""
    assert check("03.fit_bingham", fit_by_gradient_descent)
    with pytest.raises(CheckFailed, match="called your mse_gradient 0 times"):
        check("03.fit_bingham", fit_closed_form)
    assert mse_gradient.__name__ == "mse_gradient"  # the check put the original back


def test_prescribed_method_autograd_observed():
    pytest.importorskip("torch")
    import torch

    def finite_differences(f, x):
        x = np.asarray(x, dtype=float)
        grad = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            step = np.zeros_like(x)
            step[idx] = 1e-6
            grad[idx] = (float(f(torch.tensor(x + step))) - float(f(torch.tensor(x - step)))) / 2e-6
        return grad

    with pytest.raises(CheckFailed, match="must come from autograd"):
        check("06.autograd_gradient", finite_differences)

    def functorch_grad(f, x):
        return torch.func.grad(f)(torch.tensor(x)).numpy()

    assert check("06.autograd_gradient", functorch_grad)


# --------------------------------------------------------------------------- every correct answer


def adam_nested_state(params, grads, state, lr, beta1, beta2, eps):
    """Adam keeping its moments in a nested dict (the 3 of 45 textbook answers once rejected)."""
    t = state.get("t", 0) + 1
    moments = state.get("moments", {"m": np.zeros_like(params), "v": np.zeros_like(params)})
    m = beta1 * moments["m"] + (1 - beta1) * grads
    v = beta2 * moments["v"] + (1 - beta2) * grads**2
    step = lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return params - step, {"t": t, "moments": {"m": m, "v": v}}


def momentum_list_state(params, grads, state, lr, beta):
    """The velocity kept in a list of one array, float32 arithmetic."""
    v = [beta * state["v"][0] + grads] if "v" in state else [np.array(grads, dtype=np.float32)]
    return params - lr * v[0], {"v": v}


@pytest.mark.parametrize("exercise_id,answer", [
    ("08.adam_step", adam_nested_state),
    ("08.momentum_step", momentum_list_state),
])
def test_nested_state_is_not_a_change(exercise_id, answer):
    assert check(exercise_id, answer)


def test_nested_state_written_in_place_is_still_reported():
    def writes_into_state(params, grads, state, lr, beta1, beta2, eps):
        new_params, new_state = adam_nested_state(params, grads, state, lr, beta1, beta2, eps)
        if "moments" in state:
            state["moments"]["m"] += 1.0
        return new_params, new_state

    with pytest.raises(CheckFailed, match="changed the state dictionary"):
        check("08.adam_step", writes_into_state)
