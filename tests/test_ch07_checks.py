"""Chapter 07 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check

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


# ----------------------------------------------------------------- accuracy

def accuracy_loop(logits, labels):
    return sum(int(np.argmax(row) == t) for row, t in zip(logits, labels, strict=True)) / len(labels)


@pytest.mark.parametrize("answer", [
    lambda z, y: np.mean(np.argmax(z, axis=1) == y),
    accuracy_loop,
    lambda z, y: (torch.as_tensor(z).argmax(dim=-1) == torch.as_tensor(y)).float().mean(),
])
def test_accuracy_accepts(answer):
    assert check("07.accuracy_from_logits", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda z, y: np.mean(np.argmax(z, axis=0) == y), "axis 1"),
    (lambda z, y: np.sum(np.argmax(z, axis=1) == y), "not their count"),
    (lambda z, y: 100 * np.mean(np.argmax(z, axis=1) == y), "not a percentage"),
    (lambda z, y: np.mean(np.argmin(z, axis=1) == y), "not the smallest"),
    (lambda z, y: np.argmax(z, axis=1) == y, "one number"),
])
def test_accuracy_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("07.accuracy_from_logits", answer)


# ----------------------------------------------------------------- confusion matrix

def confusion_add_at(y_true, y_pred, n):
    C = np.zeros((n, n), dtype=int)
    np.add.at(C, (y_true, y_pred), 1)
    return C


def confusion_compare(y_true, y_pred, n):
    t = np.asarray(y_true)[:, None, None] == np.arange(n)[None, :, None]
    p = np.asarray(y_pred)[:, None, None] == np.arange(n)[None, None, :]
    return (t & p).sum(axis=0)


@pytest.mark.parametrize("answer", [confusion_add_at, confusion_compare])
def test_confusion_accepts(answer):
    assert check("07.confusion_matrix", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda t, p, n: confusion_add_at(t, p, n).T, "transposed"),
    (lambda t, p, n: confusion_add_at(t, p, int(max(t.max(), p.max())) + 1), "use n_classes"),
    (lambda t, p, n: confusion_add_at(t, p, n) / np.maximum(confusion_add_at(t, p, n).sum(1, keepdims=True), 1),
     "row totals"),
    (lambda t, p, n: confusion_add_at(t, p, n) / len(t), "number of samples"),
])
def test_confusion_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("07.confusion_matrix", answer)


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
