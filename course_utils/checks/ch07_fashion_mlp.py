"""Checks for chapter 07, an MLP classifier for Fashion-MNIST."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    expect_equal,
    register,
    seeded_rng,
    to_array,
)


@register("07.preprocess")
def check_preprocess(preprocess):
    """preprocess(images) turns uint8 (n, 28, 28) into float32 (n, 784) in [0, 1]."""
    rng = seeded_rng(7)
    for n in (5, 1, 12):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, :3] = (0, 255, 128)
        out = call(preprocess, images, name="preprocess")
        rows = np.stack([img.ravel() for img in images.astype(float)])
        expected = rows * (1.0 / 255.0)
        got = to_array(out, "preprocess(images)")
        expect_close(got, expected, "preprocess(images)", case=f"{n} random images", rtol=1e-5, atol=1e-6,
                     mistakes={"the values are not scaled: divide by 255 so they lie in [0, 1]": rows,
                               "divide by 255 (the largest pixel value), not 256": rows / 256.0,
                               "integer division keeps only 0 and 1: convert to float before dividing":
                                   rows // 255,
                               "flatten each image to a vector of 784 values, shape (n, 784)":
                                   expected.reshape(n, 28, 28),
                               "keep one row per image: reshape to (n, 784), not one long vector":
                                   expected.ravel()})
        if got.dtype != np.float32:
            raise CheckFailed(f"preprocess(images) has dtype {got.dtype}; frameworks compute in float32: "
                              "convert with .astype(np.float32).")
    return "scaled, flattened float32 images"


def _accuracy_reference(logits, labels):
    hits = 0
    for row, label in zip(logits, labels, strict=True):
        best = 0
        for k in range(1, len(row)):
            if row[k] > row[best]:
                best = k
        hits += int(best == label)
    return hits / len(labels)


@register("07.accuracy_from_logits")
def check_accuracy_from_logits(accuracy_from_logits):
    """accuracy_from_logits(logits, labels) is the fraction of rows whose arg-max is the label."""
    rng = seeded_rng(3)
    for n in (10, 37, 1):
        while True:  # draw until the typical mistakes give values different from each other
            logits = rng.normal(size=(n, 10))
            labels = rng.integers(0, 10, size=n)
            labels[: n // 2] = logits[: n // 2].argmax(axis=1)  # about half right
            if n != 10:
                break
            values = {np.mean(logits.argmax(axis=0) == labels), np.mean(logits.argmin(axis=1) == labels),
                      _accuracy_reference(logits, labels)}
            if len(values) == 3:
                break
        expected = _accuracy_reference(logits, labels)
        got = call(accuracy_from_logits, logits, labels, name="accuracy_from_logits")
        mistakes = {}
        if n == 10:
            mistakes["take the argmax along axis 1 (over the classes of each row), not axis 0"] = \
                float(np.mean(logits.argmax(axis=0) == labels))
        mistakes |= {"return the fraction of correct rows, not their count": expected * n,
                    "return a fraction between 0 and 1, not a percentage": expected * 100,
                    "the prediction is the largest logit (argmax), not the smallest":
                        float(np.mean(logits.argmin(axis=1) == labels))}
        got = to_array(got, "accuracy_from_logits(...)")
        if got.size != 1:
            raise CheckFailed(f"accuracy_from_logits should return one number, not an array of shape {got.shape}"
                              " (did you forget the mean?).")
        expect_close(got.reshape(()), expected, "the accuracy", case=f"{n} rows of 10 logits", mistakes=mistakes)
    return "fixed and random logits"


@register("07.confusion_matrix")
def check_confusion_matrix(confusion_matrix):
    """confusion_matrix(y_true, y_pred, n_classes): C[i, j] counts true i predicted as j."""
    rng = seeded_rng(5)
    cases = [(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 4, "a small example with class 3 absent")]
    y = rng.integers(0, 10, size=300)
    cases.append((y, np.where(rng.random(300) < 0.7, y, rng.integers(0, 10, size=300)), 10, "300 random labels"))
    for y_true, y_pred, n_classes, case in cases:
        got = to_array(call(confusion_matrix, y_true, y_pred, n_classes, name="confusion_matrix"),
                       "confusion_matrix(...)")
        expected = np.bincount(y_true * n_classes + y_pred, minlength=n_classes ** 2).reshape(n_classes, n_classes)
        if got.shape != expected.shape:
            k = int(max(y_true.max(), y_pred.max())) + 1
            hint = (": use n_classes for the size; classes that never occur still need a row and a column"
                    if got.shape == (k, k) else "")
            raise CheckFailed(f"the confusion matrix for {case} has shape {got.shape}, expected "
                              f"{expected.shape}{hint}")
        rows = expected.sum(axis=1, keepdims=True)
        expect_close(got, expected, "the confusion matrix", case=case,
                     mistakes={"rows must be the true classes and columns the predictions: your matrix is "
                               "transposed": expected.T,
                               "count the samples; do not divide by the row totals":
                                   expected / np.maximum(rows, 1),
                               "count the samples; do not divide by the number of samples": expected / len(y_true)})
        expect_equal(np.round(got).astype(np.int64), expected, "the confusion matrix", case=case)
        if not np.issubdtype(got.dtype, np.integer):
            raise CheckFailed(f"the confusion matrix for {case} has the right counts, stored as {got.dtype}: "
                              "return an integer array, for example np.zeros((n_classes, n_classes), dtype=int).")
    return "rows are true classes, columns predictions, integer counts"


def _numpy_epoch(W, b, batches, lr, accumulate=False):
    """Reference: SGD on a linear softmax classifier, gradients written out in NumPy."""
    W, b = W.astype(float).copy(), b.astype(float).copy()
    gW_acc, gb_acc = np.zeros_like(W), np.zeros_like(b)
    losses, sizes = [], []
    for X, y in batches:
        z = X @ W.T + b
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        losses.append(float(-np.mean(np.log(p[np.arange(len(y)), y]))))
        sizes.append(len(y))
        delta = p.copy()
        delta[np.arange(len(y)), y] -= 1.0
        delta /= len(y)
        gW, gb = delta.T @ X, delta.sum(axis=0)
        if accumulate:
            gW_acc, gb_acc = gW_acc + gW, gb_acc + gb
            gW, gb = gW_acc, gb_acc
        W, b = W - lr * gW, b - lr * gb
    return W, b, losses, sizes


@register("07.train_one_epoch")
def check_train_one_epoch(train_one_epoch):
    """train_one_epoch(model, loader, optimizer, loss_fn) runs one epoch and returns the mean loss."""
    from course_utils.frameworks import require_framework, torch_loader

    torch = require_framework("torch")
    nn = torch.nn

    rng = seeded_rng(11)
    X = rng.normal(size=(22, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=22)
    loader = torch_loader(X, y, batch_size=8, shuffle=False)  # batches of 8, 8 and 6
    batches = [(X[i:i + 8].astype(float), y[i:i + 8]) for i in range(0, 22, 8)]
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    W0, b0 = model.weight.detach().numpy().copy(), model.bias.detach().numpy().copy()
    lr = 0.5
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    model.eval()
    out = call(lambda: train_one_epoch(model, loader, optimizer, nn.CrossEntropyLoss()), name="train_one_epoch")
    if not model.training:
        raise CheckFailed("the model is still in evaluation mode: call model.train() at the start of the epoch "
                          "(dropout and batch normalisation behave differently in training).")
    W, b = model.weight.detach().numpy(), model.bias.detach().numpy()
    if np.allclose(W, W0) and np.allclose(b, b0):
        raise CheckFailed("the weights did not change: call optimizer.step() after loss.backward() for each batch.")
    W_ref, b_ref, losses, sizes = _numpy_epoch(W0, b0, batches, lr)
    W_acc, _, _, _ = _numpy_epoch(W0, b0, batches, lr, accumulate=True)
    expect_close(W, W_ref, "the weights after one epoch", case="a linear model, SGD, three batches",
                 rtol=1e-4, atol=1e-5,
                 mistakes={"the gradients add up across batches: call optimizer.zero_grad() before each "
                           "backward pass": W_acc,
                           "only the first batch was used: loop over every batch of the loader":
                               _numpy_epoch(W0, b0, batches[:1], lr)[0]})
    mean_loss = float(np.dot(losses, sizes) / np.sum(sizes))
    got = to_array(out, "the returned loss")
    if got.size != 1:
        raise CheckFailed(f"train_one_epoch should return one number (the mean loss), not shape {got.shape}.")
    expect_close(got.reshape(()).astype(float), mean_loss, "the returned mean loss", case="batches of 8, 8 and 6",
                 rtol=1e-4, atol=1e-6,
                 mistakes={"weight each batch's loss by its number of samples (the last batch is smaller)":
                               float(np.mean(losses)),
                           "return the mean loss per sample, not the sum": float(np.dot(losses, sizes)),
                           "return the mean loss, not the sum of the batch losses": float(np.sum(losses)),
                           "return the mean over the whole epoch, not the last batch's loss": losses[-1]})
    return "weights and mean loss match a reference epoch"
