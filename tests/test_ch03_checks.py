"""Chapter 03 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check


def grad_vectorised(x, y, w, b):
    error = w * x + b - y
    return 2 * np.mean(error * x), 2 * np.mean(error)


def grad_loop(x, y, w, b):
    dw = db = 0.0
    for xi, yi in zip(x, y, strict=True):
        dw += 2 * (w * xi + b - yi) * xi / len(x)
        db += 2 * (w * xi + b - yi) / len(x)
    return dw, db


def grad_matrix(x, y, w, b):
    A = np.c_[x, np.ones_like(x)]
    return tuple(2 / len(x) * A.T @ (A @ np.array([w, b]) - y))


@pytest.mark.parametrize("answer", [grad_vectorised, grad_loop, grad_matrix])
def test_mse_gradient_accepts(answer):
    assert check("03.mse_gradient", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda x, y, w, b: (np.mean((w * x + b - y) * x), np.mean(w * x + b - y)), "factor 2"),
    (lambda x, y, w, b: (2 * np.sum((w * x + b - y) * x), 2 * np.sum(w * x + b - y)), "1/n"),
    (lambda x, y, w, b: (2 * np.mean((y - w * x - b) * x), 2 * np.mean(y - w * x - b)), "wrong sign"),
    (lambda x, y, w, b: grad_vectorised(x, y, w, b)[::-1], "swapped"),
    (lambda x, y, w, b: None, "pair"),
])
def test_mse_gradient_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("03.mse_gradient", answer)


def fit_gd(rate, stress, steps=300, map_back=True, swap=False):
    mean, std = rate.mean(), rate.std()
    z = (rate - mean) / std
    w = b = 0.0
    for _ in range(steps):
        dw, db = grad_vectorised(z, stress, w, b)
        w, b = w - 0.1 * dw, b - 0.1 * db
    out = (b - w * mean / std, w / std) if map_back else (b, w)
    return out[::-1] if swap else out


def fit_scaled_by_max(rate, stress):
    """Scale by the maximum instead of standardising, and use float32 arithmetic."""
    scale = np.float32(rate.max())
    x, t = (rate / scale).astype(np.float32), stress.astype(np.float32)
    w = b = np.float32(0)
    for _ in range(3000):
        e = w * x + b - t
        w, b = w - np.float32(0.5) * 2 * np.mean(e * x), b - np.float32(0.5) * 2 * np.mean(e)
    return b, w / scale


@pytest.mark.parametrize("answer", [fit_gd, fit_scaled_by_max])
def test_fit_bingham_accepts(answer):
    assert check("03.fit_bingham", answer)


def fit_raw_large_lr(rate, stress):
    w = b = 0.0
    for _ in range(200):
        dw, db = grad_vectorised(rate, stress, w, b)
        w, b = w - 0.1 * dw, b - 0.1 * db
    return b, w


@pytest.mark.parametrize("answer,hint", [
    (lambda r, s: fit_gd(r, s, map_back=False), "standardised problem"),
    (lambda r, s: fit_gd(r, s, swap=True), "return \\(tau_y, mu\\)"),
    (lambda r, s: fit_gd(r, s, steps=5), "converged"),
    (fit_raw_large_lr, "diverged"),
    (lambda r, s: 5.0, "pair"),
])
def test_fit_bingham_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("03.fit_bingham", answer)


def split_perm(X, y, val_fraction, seed):
    order = np.random.default_rng(seed).permutation(len(X))
    n_val = int(round(val_fraction * len(X)))
    return X[order[n_val:]], X[order[:n_val]], y[order[n_val:]], y[order[:n_val]]


def split_mask(X, y, val_fraction, seed):
    rng = np.random.default_rng(seed)
    is_val = np.zeros(len(X), dtype=bool)
    is_val[rng.choice(len(X), size=int(round(val_fraction * len(X))), replace=False)] = True
    return X[~is_val], X[is_val], y[~is_val], y[is_val]


@pytest.mark.parametrize("answer", [split_perm, split_mask])
def test_split_accepts(answer):
    assert check("03.train_val_split", answer)


def split_unshuffled(X, y, f, seed):
    n_val = int(round(f * len(X)))
    return X[:-n_val], X[-n_val:], y[:-n_val], y[-n_val:]


def split_overlap(X, y, f, seed):
    rng = np.random.default_rng(seed)
    n_val = int(round(f * len(X)))
    val = rng.choice(len(X), n_val, replace=False)
    train = rng.choice(len(X), len(X) - n_val, replace=False)
    return X[train], X[val], y[train], y[val]


def split_misaligned(X, y, f, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.permutation(len(X)), rng.permutation(len(X))
    n_val = int(round(f * len(X)))
    return X[a[n_val:]], X[a[:n_val]], y[b[n_val:]], y[b[:n_val]]


def split_swapped(X, y, f, seed):
    X_train, X_val, y_train, y_val = split_perm(X, y, f, seed)
    return X_val, X_train, y_val, y_train


def split_unseeded(X, y, f, seed):
    return split_perm(X, y, f, None)


@pytest.mark.parametrize("answer,hint", [
    (split_unshuffled, "not shuffled"),
    (split_overlap, "overlap"),
    (split_misaligned, "same permutation"),
    (split_swapped, "swapped"),
    (lambda X, y, f, seed: split_perm(X, y, 1 - f, seed), "wrong sizes|swapped"),
    (split_unseeded, "same seed"),
])
def test_split_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("03.train_val_split", answer)


def stop_counter(losses, patience):
    best, best_epoch, wait = float("inf"), 0, 0
    for epoch, loss in enumerate(losses):
        if loss < best:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait == patience:
                return best_epoch, epoch
    return best_epoch, len(losses) - 1


def stop_running_min(losses, patience):
    losses = np.asarray(losses, dtype=np.float32)
    running = np.minimum.accumulate(losses)
    new_best = np.r_[True, running[1:] < running[:-1]]
    best_at = np.maximum.accumulate(np.where(new_best, np.arange(len(losses)), 0))
    late = np.nonzero(np.arange(len(losses)) - best_at >= patience)[0]
    stop = int(late[0]) if late.size else len(losses) - 1
    return int(best_at[stop]), stop


@pytest.mark.parametrize("answer", [stop_counter, stop_running_min])
def test_early_stopping_accepts(answer):
    assert check("03.early_stopping", answer)


def stop_no_reset(losses, patience):
    best, best_epoch, wait = float("inf"), 0, 0
    for epoch, loss in enumerate(losses):
        if loss < best:
            best, best_epoch = loss, epoch
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
    return best_epoch, len(losses) - 1


def stop_late(losses, patience):
    return stop_counter(losses, patience + 1)


def stop_ties(losses, patience):
    best, best_epoch = float("inf"), 0
    for epoch, loss in enumerate(losses):
        if loss <= best:
            best, best_epoch = loss, epoch
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, len(losses) - 1


def stop_returns_last(losses, patience):
    _, stop = stop_counter(losses, patience)
    return stop, stop


def stop_past_the_end(losses, patience):
    best, stop = stop_counter(losses, patience)
    return best, (len(losses) if stop == len(losses) - 1 else stop)


@pytest.mark.parametrize("answer,hint", [
    (stop_no_reset, "reset the count"),
    (stop_late, "not patience \\+ 1"),
    (stop_ties, "not an improvement"),
    (stop_returns_last, "not the epoch where you stop"),
    (stop_past_the_end, "last epoch"),
])
def test_early_stopping_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("03.early_stopping", answer)
