"""Checks for chapter 07, an MLP classifier for Fashion-MNIST."""

from __future__ import annotations

import functools

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    expect_close,
    expect_ndarray,
    register,
    require_answer,
    require_callable,
    seeded_global_random,
    seeded_rng,
    to_array,
)
from course_utils.frameworks import require_framework


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
        got = expect_ndarray(out, "preprocess")
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


def _top_k_reference(logits, labels, k):
    """Hits counted one row at a time: the label's rank among the row's logits."""
    hits = 0
    for row, label in zip(np.asarray(logits, dtype=float), labels, strict=True):
        larger = sum(1 for value in row if value > row[label])
        hits += int(larger < k)
    return hits / len(labels)


def _top_k_by_sorting(logits, labels, k, *, largest=True, ties_against=False):
    """What sorting gives: the k first positions of a stable sort (ties by position), the k
    smallest, or the label counted only when no other logit equals or beats it."""
    logits = np.asarray(logits, dtype=float)
    if ties_against:
        true_logit = logits[np.arange(len(labels)), labels]
        return float(np.mean(np.sum(logits >= true_logit[:, None], axis=1) <= k))
    order = np.argsort(-logits if largest else logits, axis=1, kind="stable")[:, :k]
    return float(np.mean([label in row for row, label in zip(order, labels, strict=True)]))


def _top_k_cases():
    rng = seeded_rng(3)
    tied = np.array([[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 2.0, 0.0], [2.0, 0.0, 1.0, 1.0],
                     [2.0, 0.0, 1.0, 0.0], [2.0, 2.0, 2.0, 2.0], [2.0, 0.0, 2.0, 0.0]])
    tied_labels = np.array([0, 1, 2, 1, 0, 2])
    cases = [(tied, tied_labels, k, f"tied logits with k={k}") for k in (1, 2)]
    logits = rng.normal(size=(37, 10))
    labels = rng.integers(0, 10, size=37)
    labels[:12] = logits[:12].argmax(axis=1)
    labels[12:20] = np.argsort(-logits[12:20], axis=1)[:, 2]  # third largest
    cases += [(logits, labels, k, f"37 rows of 10 logits, k={k}") for k in (1, 3, 5, 10)]
    wide = rng.normal(size=(1, 7))
    cases.append((wide, np.array([int(np.argsort(-wide[0])[3])]), 4, "one row of 7 logits, k=4"))
    return cases


@register("07.top_k_accuracy")
def check_top_k_accuracy(top_k_accuracy):
    """top_k_accuracy(logits, labels, k): fraction of rows whose label is among the k largest logits."""
    for logits, labels, k, case in _top_k_cases():
        n, n_classes = logits.shape
        expected = _top_k_reference(logits, labels, k)
        got = require_answer(call(top_k_accuracy, logits, labels, k, name="top_k_accuracy"),
                             "what top_k_accuracy returned")
        if isinstance(got, np.ndarray) and got.size != 1:
            raise CheckFailed(f"top_k_accuracy should return one number, not an array of shape {got.shape} "
                              f"(for {case}; did you forget the mean over the rows?).")
        if not isinstance(got, (float, int, np.floating)) or isinstance(got, bool):
            raise CheckFailed(f"top_k_accuracy returned a {type(got).__name__}; return one float, for example "
                              "float(hits.mean()).")
        got = to_array(got, "top_k_accuracy(...)")
        mistakes = {
            "return the fraction of rows that are hits, not their count": expected * n,
            "return a fraction between 0 and 1, not a percentage": expected * 100,
            "take the k largest logits, not the k smallest (sort in decreasing order, or use "
            "argsort(-logits))": _top_k_by_sorting(logits, labels, k, largest=False),
        }
        if k + 1 <= n_classes:
            mistakes["that is the top-(k+1) accuracy: a hit needs fewer than k larger logits, so at "
                     "most k - 1 of them"] = _top_k_reference(logits, labels, k + 1)
        if k > 1:
            mistakes["that is the top-(k-1) accuracy: keep k classes, the true label may be the k-th "
                     "largest"] = _top_k_reference(logits, labels, k - 1)
        ties = "ties count for the label: a row is a hit when fewer than k logits are strictly larger " \
               "than the true label's (a sort breaks ties by position, arg-max takes the first maximum)"
        mistakes[ties] = _top_k_by_sorting(logits, labels, k)
        mistakes[ties + "; the label's own logit is not larger than itself"] = \
            _top_k_by_sorting(logits, labels, k, ties_against=True)
        values = [round(v, 9) for v in mistakes.values()]  # a value two mistakes share names neither
        mistakes = {h: v for h, v in mistakes.items()
                    if not np.isclose(v, expected) and values.count(round(v, 9)) == 1}
        expect_close(got.reshape(()), expected, "the top-k accuracy", case=case, mistakes=mistakes)
    return "ties, k from 1 to K, several shapes"


def _f1_reference(y_true, y_pred, n_classes):
    """F1 from a confusion matrix built with bincount: TP on the diagonal, FP down a column,
    FN along a row."""
    C = np.bincount(np.asarray(y_true) * n_classes + np.asarray(y_pred),
                    minlength=n_classes ** 2).reshape(n_classes, n_classes).astype(float)
    tp = np.diag(C)
    fp, fn = C.sum(axis=0) - tp, C.sum(axis=1) - tp
    with np.errstate(all="ignore"):
        precision, recall = tp / (tp + fp), tp / (tp + fn)
        f1 = np.where(tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    return f1, np.nan_to_num(precision), np.nan_to_num(recall)


@register("07.per_class_f1")
def check_per_class_f1(per_class_f1):
    """per_class_f1(y_true, y_pred, n_classes): F1 = 2 TP / (2 TP + FP + FN) per class, 0 when unseen."""
    rng = seeded_rng(5)
    cases = [(np.array([0, 0, 1, 2, 2, 2, 4]), np.array([0, 1, 1, 2, 0, 2, 1]), 5,
              "7 labels, class 3 never seen, class 4 never predicted")]
    y = rng.integers(0, 10, size=300)
    cases.append((y, np.where(rng.random(300) < 0.6, y, rng.integers(0, 10, size=300)), 10,
                  "300 random labels of 10 classes"))
    y = rng.integers(0, 3, size=40)
    cases.append((y, (y + (rng.random(40) < 0.3)) % 3, 6, "40 labels of classes 0-2, n_classes=6"))
    for y_true, y_pred, n_classes, case in cases:
        expected, precision, recall = _f1_reference(y_true, y_pred, n_classes)
        got = call(per_class_f1, y_true, y_pred, n_classes, name="per_class_f1")
        if isinstance(got, (float, int, np.number)):
            raise CheckFailed(f"per_class_f1 returned one number for {case}; return one score per class, shape "
                              f"({n_classes},), not the macro mean.")
        got = expect_ndarray(got, "per_class_f1")
        if got.dtype.kind != "f":
            raise CheckFailed(f"per_class_f1 returned an array of dtype {got.dtype}; F1 scores are fractions: "
                              "return a float array (integer division truncates them).")
        seen = int(max(y_true.max(), y_pred.max())) + 1
        if got.shape == (seen,) and seen != n_classes:
            raise CheckFailed(f"per_class_f1 for {case} has shape {got.shape}, expected ({n_classes},): "
                              "use n_classes for the size; a class that never occurs still gets its score.")
        if got.shape == expected.shape and np.any(np.isnan(got.astype(float))):
            raise CheckFailed(f"per_class_f1 for {case} contains NaN: a class that is neither true nor "
                              "predicted has 2 TP + FP + FN = 0; give it 0.0 instead of dividing 0 by 0.")
        with np.errstate(all="ignore"):
            mean_of_two = np.nan_to_num((precision + recall) / 2)
        expect_close(got, expected, "the F1 scores", case=case, mistakes={
            "that is the recall TP / (TP + FN) of every class; F1 also needs the precision":
                recall,
            "that is the precision TP / (TP + FP) of every class; F1 also needs the recall":
                precision,
            "F1 is the harmonic mean of precision and recall, 2 P R / (P + R), not their average":
                mean_of_two,
            "the factor 2 is missing: F1 = 2 TP / (2 TP + FP + FN)":
                expected / (2 - expected),
            "return one score per class, shape (n_classes,), not the macro mean": expected.mean(),
        })
    return "absent classes, n_classes beyond the labels, random labels"


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
    with seeded_global_random(12):
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
                               _numpy_epoch(W0, b0, batches[:1], lr)[0],
                           "the loader was gone through twice: one epoch is one pass over its batches":
                               _numpy_epoch(W0, b0, batches * 2, lr)[0]})
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


# --------------------------------------------------------------------------- temperature scaling

def _softmax_nll(z, labels, temperature):
    scaled = z / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(scaled).sum(axis=1)) - scaled[np.arange(len(labels)), labels]))


def _best_temperature(z, labels):
    """The minimiser by bisection on the derivative in beta = 1/T, where the NLL is convex:
    d NLL / d beta = mean over rows of (E_softmax(beta z)[z] - z_label), increasing in beta."""
    rows = np.arange(len(labels))

    def slope(beta):
        s = beta * z
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return float(np.mean((p * z).sum(axis=1) - z[rows, labels]))

    lo, hi = np.log(1e-6), np.log(1e6)  # log beta
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if slope(np.exp(mid)) < 0 else (lo, mid)
    return float(np.exp(-(lo + hi) / 2))


def _temperature_cases():
    """Logits c * base with labels drawn from softmax(base): the best T is near c."""
    rng = seeded_rng(71)
    cases = []
    for n, k, scale, offset, case in [
            (600, 10, 3.0, 0.0, "overconfident logits (600 x 10)"),
            (400, 4, 0.4, 0.0, "underconfident logits (400 x 4)"),
            (500, 6, 2000.0, 0.0, "logits in the thousands, T in the thousands (500 x 6)"),
            (300, 5, 1.5, float(rng.uniform(2000, 5000)), "logits in the thousands, T near 1.5 (300 x 5)")]:
        base = rng.normal(scale=1.5, size=(n, k))
        gumbel = -np.log(-np.log(rng.uniform(1e-12, 1.0, size=(n, k))))
        labels = np.argmax(base + gumbel, axis=1).astype(np.int64)  # a draw from softmax(base)
        cases.append((base * scale + offset, labels, case))  # softmax ignores the offset
    return cases


@register("07.fit_temperature")
def check_fit_temperature(fit_temperature):
    """fit_temperature(logits, labels): the T > 0 minimising the NLL of softmax(logits / T), within 1 %."""
    require_callable(fit_temperature, "fit_temperature")
    for logits, labels, case in _temperature_cases():
        expected = _best_temperature(logits, labels)
        got = call(fit_temperature, logits, labels, name="fit_temperature", time_limit=30)
        if type(got).__module__.startswith("torch"):
            raise CheckFailed("fit_temperature returned a tensor; return a Python float (T.item()).")
        if isinstance(got, np.ndarray) and got.size == 1:
            raise CheckFailed(f"fit_temperature returned a NumPy array of shape {got.shape}; return a Python "
                              "float (float(T)).")
        if not isinstance(got, (float, int)) or isinstance(got, bool):
            raise CheckFailed(f"fit_temperature returned a {type(got).__name__}; return the temperature as a "
                              "Python float.")
        got = float(got)
        if not np.isfinite(got):
            raise CheckFailed(f"fit_temperature returned {got} for {case}: did the softmax overflow? Shift each "
                              "row of logits / T by its maximum before taking exp (a log-sum-exp).")
        if got <= 0:
            raise CheckFailed(f"fit_temperature returned {got:.4g} for {case}; a temperature is positive.")
        if abs(got / expected - 1) <= 0.01:
            continue
        hint = ""
        with np.errstate(over="ignore"):  # at your T, or at the best one: an unshifted softmax breaks there
            overflows = bool(np.isinf(np.exp(logits / got)).any() or np.isinf(np.exp(logits / expected)).any())
        if abs(got * expected - 1) <= 0.01 and abs(expected - 1) > 0.05:
            hint = (" That is 1/T: the logits are divided by the temperature, softmax(logits / T), "
                    "not multiplied.")
        elif overflows:
            hint = (" For these logits exp(logits / T) overflows to inf, and a search that compares NaN "
                    "cross-entropies stops anywhere: shift each row of logits / T by its maximum before exp "
                    "(a log-sum-exp).")
        elif expected > 100 and got < 0.5 * expected:
            hint = (" With logits in the thousands the best T is in the thousands too: search up to 10,000, "
                    "and compute the cross-entropy stably (shift each row by its maximum).")
        if not hint and _softmax_nll(logits, labels, got) <= _softmax_nll(logits, labels, expected) * (1 + 1e-9):
            hint = " (Your T gives a cross-entropy as low as the exact minimiser's: a tolerance issue.)"
        if not hint:
            hint = (f" Your T gives a mean cross-entropy of {_softmax_nll(logits, labels, got):.4f}, the best T "
                    f"{_softmax_nll(logits, labels, expected):.4f}: search finer, or on a log scale of T.")
        raise CheckFailed(f"fit_temperature returned T = {got:.4g} for {case}; the minimiser is "
                          f"{expected:.4g} (within 1 % is enough).{hint}")
    return "over- and underconfident logits and logits in the thousands, within 1 %"


# --------------------------------------------------------------------------- training to a target

TARGET_ACCURACY = 0.86
_N_GIVEN, _N_HELD_OUT = 20_000, 5_000


@functools.lru_cache(maxsize=2)
def _target_data(seed):
    """The images handed to the learner (from the training set) and the held-out images the model
    is measured on (from the test set), drawn with ``seed``."""
    from course_utils.data.datasets import DatasetUnavailable, load_fashion_mnist

    try:
        data = load_fashion_mnist(n_train=_N_GIVEN, n_test=_N_HELD_OUT, seed=seed, verbose=False)
    except DatasetUnavailable as err:
        raise CheckFailed(f"07.train_to_target needs the Fashion-MNIST files: {err}") from None

    def flat(images):
        return (images.reshape(len(images), -1) / 255.0).astype(np.float32)

    return flat(data.x_train), data.y_train.astype(np.int64), flat(data.x_test), data.y_test.astype(np.int64)


@register("07.train_to_target")
def check_train_to_target(train_to_target):
    """train_to_target(X, y) returns a PyTorch model reaching the target accuracy on unseen images."""
    torch = require_framework("torch")
    name = "train_to_target"
    require_callable(train_to_target, name)
    X, y, X_held_out, y_held_out = _target_data(int(seeded_rng(7).integers(2**31)))
    with seeded_global_random(8):
        model = call(train_to_target, X.copy(), y.copy(), name=name, time_limit=150)
    require_answer(model, f"{name}(X, y)")
    if not isinstance(model, torch.nn.Module):
        raise CheckFailed(f"{name} should return the trained PyTorch model (a torch.nn.Module), not a "
                          f"{type(model).__name__}.")
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes and dtypes != {torch.float32}:
        raise CheckFailed(f"the model's parameters are {', '.join(sorted(map(str, dtypes)))}; it must take float32 "
                          "images, so keep it in float32 (model.float()).")
    model.eval()

    def predict(inputs):
        with torch.no_grad():
            return model(torch.from_numpy(inputs))

    logits = to_array(call(predict, X_held_out, name="your model"), "the model's output on new images")
    if logits.shape != (len(X_held_out), 10):
        raise CheckFailed(f"the model maps {len(X_held_out)} flattened images (n, 784) to shape {logits.shape}; "
                          "it should return 10 logits per image, shape (n, 10).")
    if not np.all(np.isfinite(logits)):
        raise CheckFailed("the model's outputs on new images contain NaN or inf: is the learning rate too large?")
    accuracy = float(np.mean(logits.argmax(axis=1) == y_held_out))
    if accuracy < TARGET_ACCURACY:
        n_parameters = sum(p.numel() for p in model.parameters())
        if accuracy < 0.2:
            hint = ("that is about chance: did the model train at all (optimizer.step() called, the loss "
                    "computed on the right labels, the trained model returned)?")
        elif n_parameters == 784 * 10 + 10:
            hint = ("that is a linear model (softmax regression), which stays below the target on these images: "
                    "add hidden layers.")
        else:
            hint = ("train on all the images you were given except the validation split, with Adam (learning "
                    "rate about 1e-3) and a schedule that lowers it (cosine) for about ten epochs, and keep "
                    "the weights of the epoch with the best validation accuracy "
                    "(copy.deepcopy(model.state_dict())).")
        raise CheckFailed(f"your model classifies {accuracy:.1%} of {len(X_held_out)} images it never saw "
                          f"correctly; the target is {TARGET_ACCURACY:.0%}: {hint}")
    return f"{accuracy:.1%} on {len(X_held_out)} held-out images (target {TARGET_ACCURACY:.0%})"
