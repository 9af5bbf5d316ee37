"""Chapter 07 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

torch = pytest.importorskip("torch")


# ----------------------------------------------------------------- preprocess

def preprocess_loop(images):
    out = np.empty((len(images), 784), dtype=np.float32)
    for i, img in enumerate(images):
        out[i] = np.asarray(img, dtype=np.float32).flatten() / np.float32(255)
    return out


@pytest.mark.parametrize("answer", [
    lambda im: (im.reshape(len(im), -1) / 255.0).astype(np.float32),
    preprocess_loop,
    lambda im: np.float32(1 / 255) * im.reshape(im.shape[0], 784).astype(np.float32),
])
def test_preprocess_accepts(answer):
    assert check("07.preprocess", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda im: im.reshape(len(im), -1).astype(np.float32), "not scaled"),
    (lambda im: (im.reshape(len(im), -1) / 256).astype(np.float32), "not 256"),
    (lambda im: im.reshape(len(im), -1) / 255.0, "float32"),
    (lambda im: (im / 255.0).astype(np.float32), "flatten each image"),
    (lambda im: (im.ravel() / 255.0).astype(np.float32), "one row per image"),
    (lambda im: im.reshape(len(im), -1) // 255, "integer division"),
    (lambda im: None, "is None"),
])
def test_preprocess_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("07.preprocess", answer)


def test_preprocess_in_place():
    def in_place(im):
        im //= 1
        im[...] = 0
        return im.reshape(len(im), -1).astype(np.float32)

    with pytest.raises(CheckFailed, match="in place"):
        check("07.preprocess", in_place)


# ----------------------------------------------------------------- top-k accuracy

def top_k_loop(logits, labels, k):
    hits = 0
    for row, label in zip(logits, labels, strict=True):
        hits += sum(value > row[label] for value in row) < k
    return hits / len(labels)


def top_k_sorted(logits, labels, k, flip=1, shift=0, scale=1.0):
    order = np.argsort(-flip * np.asarray(logits), axis=1, kind="stable")[:, :k + shift]
    return scale * np.mean([t in row for row, t in zip(order, labels, strict=True)])


@pytest.mark.parametrize("answer", [
    top_k_loop,
    lambda z, y, k: float(np.mean((np.asarray(z) > np.take_along_axis(
        np.asarray(z), np.asarray(y)[:, None], axis=1)).sum(axis=1) < k)),
    lambda z, y, k: ((torch.as_tensor(z) > torch.as_tensor(z)[torch.arange(len(y)), torch.as_tensor(y)]
                      [:, None]).sum(dim=1) < k).double().mean().item(),
])
def test_top_k_accepts(answer):
    assert check("07.top_k_accuracy", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda z, y, k: top_k_sorted(z, y, k), "ties count for the label"),
    (lambda z, y, k: top_k_sorted(z, y, k, flip=-1), "not the k smallest"),
    (lambda z, y, k: len(y) * top_k_loop(z, y, k), "not their count"),
    (lambda z, y, k: 100 * top_k_loop(z, y, k), "not a percentage"),
    (lambda z, y, k: top_k_loop(z, y, k + 1), r"top-\(k\+1\)"),
    (lambda z, y, k: top_k_loop(z, y, max(k - 1, 0)), r"top-\(k-1\)|is wrong"),
    (lambda z, y, k: np.sum(np.asarray(z) > np.asarray(z)[np.arange(len(y)), y][:, None], axis=1) < k,
     "one number"),
    (lambda z, y, k: None, "is None"),
])
def test_top_k_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("07.top_k_accuracy", answer)


# ----------------------------------------------------------------- per-class F1

def f1_from_confusion(y_true, y_pred, n):
    C = np.zeros((n, n))
    np.add.at(C, (y_true, y_pred), 1)
    tp = np.diag(C)
    denominator = C.sum(axis=0) + C.sum(axis=1)
    return np.divide(2 * tp, denominator, out=np.zeros(n), where=denominator > 0)


def f1_loop(y_true, y_pred, n):
    scores = []
    for c in range(n):
        tp = sum(t == c and p == c for t, p in zip(y_true, y_pred, strict=True))
        fp = sum(t != c and p == c for t, p in zip(y_true, y_pred, strict=True))
        fn = sum(t == c and p != c for t, p in zip(y_true, y_pred, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return np.array(scores)


@pytest.mark.parametrize("answer", [f1_from_confusion, f1_loop])
def test_f1_accepts(answer):
    assert check("07.per_class_f1", answer)


def _precision_recall(t, p, n):
    C = np.zeros((n, n))
    np.add.at(C, (t, p), 1)
    tp = np.diag(C)
    return tp / np.maximum(C.sum(axis=0), 1), tp / np.maximum(C.sum(axis=1), 1)


@pytest.mark.parametrize("answer,hint", [
    (lambda t, p, n: _precision_recall(t, p, n)[1], "that is the recall"),
    (lambda t, p, n: _precision_recall(t, p, n)[0], "that is the precision"),
    (lambda t, p, n: sum(_precision_recall(t, p, n)) / 2, "harmonic mean"),
    (lambda t, p, n: f1_from_confusion(t, p, int(max(t.max(), p.max())) + 1), "use n_classes"),
    (lambda t, p, n: np.mean(f1_from_confusion(t, p, n)), "not the macro mean"),
    (lambda t, p, n: 2 * np.diag(confusion_add_at(t, p, n)) / (confusion_add_at(t, p, n).sum(0)
                                                                + confusion_add_at(t, p, n).sum(1)),
     "contains NaN"),
])
def test_f1_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("07.per_class_f1", answer)


def confusion_add_at(y_true, y_pred, n):
    C = np.zeros((n, n), dtype=int)
    np.add.at(C, (y_true, y_pred), 1)
    return C


# ----------------------------------------------------------------- one epoch

def make_epoch(zero_grad=True, step=True, train=True, reduce="weighted"):
    def train_one_epoch(model, loader, optimizer, loss_fn):
        if train:
            model.train()
        losses, sizes = [], []
        for xb, yb in loader:
            if zero_grad:
                optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            if step:
                optimizer.step()
            losses.append(loss.item())
            sizes.append(len(xb))
        if reduce == "weighted":
            return float(np.dot(losses, sizes) / sum(sizes))
        if reduce == "mean":
            return float(np.mean(losses))
        if reduce == "sum":
            return float(np.sum(losses))
        return losses[-1]
    return train_one_epoch


def epoch_set_to_none(model, loader, optimizer, loss_fn):
    """Another correct version: grads set to None by hand, losses summed as tensors."""
    model.train()
    total = torch.zeros(())
    for xb, yb in loader:
        for p in model.parameters():
            p.grad = None
        loss = torch.nn.functional.cross_entropy(model(xb), yb, reduction="sum")
        (loss / len(xb)).backward()
        optimizer.step()
        total = total + loss.detach()
    return total / len(loader.dataset)


@pytest.mark.parametrize("answer", [make_epoch(), epoch_set_to_none])
def test_train_one_epoch_accepts(answer):
    assert check("07.train_one_epoch", answer)


@pytest.mark.parametrize("answer,hint", [
    (make_epoch(zero_grad=False), "zero_grad"),
    (make_epoch(step=False), "optimizer.step"),
    (make_epoch(train=False), "model.train"),
    (make_epoch(reduce="mean"), "number of samples"),
    (make_epoch(reduce="sum"), "not the sum of the batch losses"),
    (make_epoch(reduce="last"), "last batch"),
])
def test_train_one_epoch_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("07.train_one_epoch", answer)


# --------------------------------------------------------------------------- fit_temperature


def temperature_golden(logits, labels):
    z, rows = np.asarray(logits, dtype=float), np.arange(len(labels))

    def nll(log_t):
        s = z / np.exp(log_t)
        s = s - s.max(axis=1, keepdims=True)
        return np.mean(np.log(np.exp(s).sum(axis=1)) - s[rows, labels])

    lo, hi, ratio = np.log(0.01), np.log(1e4), (np.sqrt(5) - 1) / 2
    for _ in range(100):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        lo, hi = (lo, b) if nll(a) < nll(b) else (a, hi)
    return float(np.exp((lo + hi) / 2))


def temperature_lbfgs(logits, labels):
    """torch.optim.LBFGS on log T, started from the spread of the logits."""
    torch = pytest.importorskip("torch")
    z, y = torch.tensor(logits, dtype=torch.float64), torch.tensor(labels)
    log_t = torch.tensor(float(np.log(np.std(logits))), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return log_t.exp().item()


@pytest.mark.parametrize("answer", [temperature_golden, temperature_lbfgs])
def test_fit_temperature_accepts(answer):
    assert check("07.fit_temperature", answer)


def temperature_naive_grid(logits, labels):
    best = None
    for T in np.geomspace(0.01, 1e4, 2000):
        p = np.exp(np.asarray(logits) / T)
        p /= p.sum(axis=1, keepdims=True)
        value = -np.mean(np.log(p[np.arange(len(labels)), labels]))
        if best is None or value < best[0]:
            best = (value, T)
    return float(best[1])


def temperature_linear_grid(logits, labels):
    z, rows = np.asarray(logits, dtype=float), np.arange(len(labels))

    def nll(T):
        s = z / T
        s = s - s.max(axis=1, keepdims=True)
        return np.mean(np.log(np.exp(s).sum(axis=1)) - s[rows, labels])

    grid = np.linspace(0.05, 20, 400)
    return float(grid[np.argmin([nll(T) for T in grid])])


@pytest.mark.parametrize("answer,hint", [
    (lambda z, y: 1 / temperature_golden(z, y), "That is 1/T"),
    (temperature_naive_grid, "overflows"),
    (temperature_linear_grid, "search up to 10,000"),
    (lambda z, y: np.array([temperature_golden(z, y)]), "NumPy array of shape"),
    (lambda z, y: -temperature_golden(z, y), "a temperature is positive"),
])
def test_fit_temperature_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("07.fit_temperature", answer)


# --------------------------------------------------------------------------- train_to_target


def _train_mlp(X, y, epochs, hidden=(256, 128), lr=1e-3, validate=True, schedule=True, keep_best=True):
    """The recipe of the lecture: Adam, a cosine schedule, the best validation epoch kept."""
    torch = pytest.importorskip("torch")
    import copy

    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    n_val = len(X) // 5 if validate else 0
    loader = DataLoader(TensorDataset(torch.from_numpy(X[n_val:]), torch.from_numpy(y[n_val:])),
                        batch_size=128, shuffle=True)
    layers, width = [], 784
    for units in hidden:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    loss_fn = nn.CrossEntropyLoss()
    best = (-1.0, copy.deepcopy(model.state_dict()))
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimizer.step()
        if schedule:
            scheduler.step()
        if validate and keep_best:
            model.eval()
            with torch.no_grad():
                accuracy = (model(torch.from_numpy(X[:n_val])).argmax(1).numpy() == y[:n_val]).mean()
            if accuracy > best[0]:
                best = (accuracy, copy.deepcopy(model.state_dict()))
    if validate and keep_best and epochs:
        model.load_state_dict(best[1])
    return model


def test_train_to_target_accepts_the_lecture_recipe():
    assert check("07.train_to_target", lambda X, y: _train_mlp(X, y, epochs=12))


def test_train_to_target_accepts_a_loop_without_dataloader():
    """Batches by slicing, one hidden layer, fixed epochs, no validation split, no schedule object."""
    torch = pytest.importorskip("torch")
    from torch import nn

    def sliced(X, y):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
        epochs = 12
        for epoch in range(epochs):
            for group in optimizer.param_groups:  # a cosine by hand
                group["lr"] = 0.5e-3 * (1 + np.cos(np.pi * epoch / epochs))
            order = torch.randperm(len(X_t))
            for start in range(0, len(X_t), 100):
                idx = order[start:start + 100]
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(X_t[idx]), y_t[idx]).backward()
                optimizer.step()
        return model

    assert check("07.train_to_target", sliced)


@pytest.mark.parametrize("make,hint", [
    (lambda X, y: _train_mlp(X, y, epochs=0), "about chance"),
    (lambda X, y: _train_mlp(X, np.random.default_rng(0).permutation(y), epochs=2), "about chance"),
    (lambda X, y: _train_mlp(X, y, epochs=15, hidden=(), lr=3e-3), "linear model"),
    (lambda X, y: _train_mlp(X[:300], y[:300], epochs=20), "all the images"),
    (lambda X, y: _train_mlp(X, y, epochs=1, lr=2e-5), "best validation accuracy"),
    (lambda X, y: "a model", "torch.nn.Module"),
])
def test_train_to_target_rejects(make, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("07.train_to_target", make)


def test_train_to_target_rejects_wrong_output_shape():
    pytest.importorskip("torch")
    from torch import nn

    def one_output(X, y):
        return nn.Sequential(nn.Linear(784, 1))

    with pytest.raises(CheckFailed, match="10 logits per image"):
        check("07.train_to_target", one_output)


# --------------------------------------------------------------------------- held-out answers
# Each wrong answer here passed an earlier version of its check (a check holds the
# exercise statement, not a few outputs); each correct answer in another style must pass.


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



@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("07")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)
