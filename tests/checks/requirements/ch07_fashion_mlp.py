"""Requirement table of chapter 07, an MLP classifier for Fashion-MNIST (docs/AUTHORING.md,
"Requirement tables")."""

from __future__ import annotations

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

# --------------------------------------------------------------------------- 07.preprocess


def preprocess(images, *, scale=255.0, flatten="rows", dtype=np.float32, in_place=False, tensor=False):
    """The solution's answer; the keywords make it break one requirement."""
    images = np.asarray(images)
    if in_place:
        images //= 2
        images *= 2
    x = images.astype(np.float64) / scale
    x = {"rows": x.reshape(len(x), -1), "none": x, "ravel": x.ravel()}[flatten].astype(dtype)
    if tensor:
        import torch
        return torch.from_numpy(x)
    return x


# --------------------------------------------------------------------------- 07.top_k_accuracy


def top_k(logits, labels, k, *, mode="right", output="float"):
    """The solution's answer; the keywords make it break one requirement."""
    logits, labels = np.asarray(logits, dtype=float), np.asarray(labels)
    true_logit = logits[np.arange(len(labels)), labels]
    if mode == "sort":
        order = np.argsort(-logits, axis=1, kind="stable")[:, :k]
        hits = np.array([label in row for row, label in zip(order, labels, strict=True)])
    elif mode == "smallest":
        order = np.argsort(logits, axis=1, kind="stable")[:, :k]
        hits = np.array([label in row for row, label in zip(order, labels, strict=True)])
    elif mode == "at_most":
        hits = np.sum(logits > true_logit[:, None], axis=1) <= k
    elif mode == "ties_against":
        hits = np.sum(logits >= true_logit[:, None], axis=1) <= k
    else:
        hits = np.sum(logits > true_logit[:, None], axis=1) < k
    if output == "count":
        return int(hits.sum())
    if output == "percent":
        return float(100 * hits.mean())
    if output == "array":
        return hits.astype(float)
    if output == "tensor":
        import torch
        return torch.tensor(hits.mean())
    return float(hits.mean())


# --------------------------------------------------------------------------- 07.per_class_f1


def f1(y_true, y_pred, n_classes, *, score="f1", size="n_classes", unseen="zero", output="array"):
    """The solution's answer; the keywords make it break one requirement."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    k = n_classes if size == "n_classes" else int(max(y_true.max(), y_pred.max())) + 1
    classes = np.arange(k)[:, None]
    tp = np.sum((y_true == classes) & (y_pred == classes), axis=1)
    fp = np.sum((y_true != classes) & (y_pred == classes), axis=1)
    fn = np.sum((y_true == classes) & (y_pred != classes), axis=1)
    with np.errstate(all="ignore"):
        if score == "recall":
            out = np.nan_to_num(tp / (tp + fn))
        elif score == "average":
            out = np.nan_to_num((tp / (tp + fp) + tp / (tp + fn)) / 2)
        elif score == "no_two":
            out = np.nan_to_num(tp / (tp + fp + fn))
        elif score == "macro":
            return float((2 * tp / np.maximum(2 * tp + fp + fn, 1)).mean())
        else:
            denominator = 2 * tp + fp + fn
            out = 2 * tp / (denominator if unseen == "nan" else np.maximum(denominator, 1))
    if output == "list":
        return out.tolist()
    if output == "int":
        return (2 * tp * 100 // np.maximum(2 * tp + fp + fn, 1)).astype(int)
    return out


# --------------------------------------------------------------------------- 07.train_one_epoch


def epoch(model, loader, optimizer, loss_fn, *, train_mode=True, zero_grad=True, step=True, passes=1,
          mean="samples"):
    """The solution's answer; the keywords make it break one requirement."""
    if train_mode:
        model.train()
    total, count, losses = 0.0, 0, []
    for _ in range(passes):
        for xb, yb in loader:
            if zero_grad:
                optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            if step:
                optimizer.step()
            total += loss.item() * len(xb)
            count += len(xb)
            losses.append(loss.item())
    return {"samples": total / count, "batches": float(np.mean(losses)), "sum": float(np.sum(losses)),
            "last": losses[-1]}[mean]


def epoch_first_batch_only(model, loader, optimizer, loss_fn):
    model.train()
    xb, yb = next(iter(loader))
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    optimizer.step()
    return loss.item()


# --------------------------------------------------------------------------- 07.fit_temperature


def temperature(logits, labels, *, low=0.01, high=10_000.0, stable=True, invert=False, grid=None,
                output="float", in_place=False):
    """The solution's answer (a golden-section search over log T); the keywords break one requirement."""
    z, rows = np.asarray(logits, dtype=float), np.arange(len(labels))
    if in_place:
        logits -= logits.max(axis=1, keepdims=True)
        z = np.asarray(logits, dtype=float)

    def nll(log_t):
        scaled = z / np.exp(log_t)
        if stable:
            scaled = scaled - scaled.max(axis=1, keepdims=True)
        with np.errstate(all="ignore"):
            return np.mean(np.log(np.exp(scaled).sum(axis=1)) - scaled[rows, labels])

    if grid is not None:
        values = [nll(np.log(t)) for t in grid]
        t = float(grid[int(np.nanargmin(values))])
    else:
        lo, hi, ratio = np.log(low), np.log(high), (np.sqrt(5) - 1) / 2
        for _ in range(100):
            a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
            lo, hi = (lo, b) if nll(a) < nll(b) else (a, hi)
        t = float(np.exp((lo + hi) / 2))
    t = 1 / t if invert else t
    if output == "array":
        return np.array([t])
    if output == "tensor":
        import torch
        return torch.tensor(t)
    return t


# --------------------------------------------------------------------------- 07.train_to_target


def target_model(X, y, *, hidden=(256, 128), epochs=12, lr=1e-3, output="model", double=False, labels="right"):
    """The solution's recipe (Adam, cosine, the best validation epoch); the keywords break one requirement."""
    import copy

    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    if labels == "shuffled":
        y = np.random.default_rng(0).permutation(y)
    n_val = len(X) // 5
    layers, width = [], 784
    for units in hidden:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    model = nn.Sequential(*layers, nn.Linear(width, 10 if output != "one_logit" else 1))
    loader = DataLoader(TensorDataset(torch.from_numpy(X[n_val:]), torch.from_numpy(y[n_val:])),
                        batch_size=128, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    best = (-1.0, copy.deepcopy(model.state_dict()))
    for _ in range(epochs if output != "one_logit" else 0):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(torch.from_numpy(X[:n_val])).argmax(1).numpy() == y[:n_val]).mean()
        if accuracy > best[0]:
            best = (accuracy, copy.deepcopy(model.state_dict()))
    if epochs and output != "one_logit":
        model.load_state_dict(best[1])
    if double:
        model = model.double()
    if output == "function":
        return lambda inputs: model(inputs)
    return model


# --------------------------------------------------------------------------- the table

TABLE = {
    PREAMBLE: [
        free("Each exercise asks for a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/07-fashion-mlp`", "where to read first"),
    ],
    "07.preprocess": [
        free("Write `preprocess(images)` that turns a uint8 array of shape `(n, 28, 28)` with values 0-255",
             "the input; the rows below test the output"),
        requirement("into a `float32` array", lambda images: preprocess(images, dtype=np.float64), r"float32"),
        requirement("into a `float32` array", lambda images: preprocess(images, tensor=True),
                    r"should return a NumPy array"),
        requirement("of shape `(n, 784)`", lambda images: preprocess(images, flatten="none"),
                    r"flatten each image to a vector of 784 values"),
        requirement("of shape `(n, 784)`", lambda images: preprocess(images, flatten="ravel"),
                    r"one row per image"),
        requirement("with values in $[0, 1]$", lambda images: preprocess(images, scale=1.0), r"divide by 255"),
        requirement("with values in $[0, 1]$", lambda images: preprocess(images, scale=256.0), r"not 256"),
        requirement("Do not change `images` in place", lambda images: preprocess(images, in_place=True),
                    r"in place"),
    ],
    "07.top_k_accuracy": [
        free("The lecture scores a prediction by its arg-max alone", "context"),
        requirement("a row is a top-k hit when its true label is among the `k` classes with the largest logits",
                    lambda *a: top_k(*a, mode="smallest"), r"k largest logits, not the k smallest"),
        free("Write `top_k_accuracy(logits, labels, k)` for `logits` of shape `(n, K)`",
             "the signature and the inputs; k from 1 to K is tried by the rows below"),
        requirement("return the fraction of hits", lambda *a: top_k(*a, output="count"), r"not their count"),
        requirement("one float between 0 and 1", lambda *a: top_k(*a, output="percent"), r"not a percentage"),
        requirement("one float between 0 and 1", lambda *a: top_k(*a, output="array"), r"one number"),
        requirement("one float between 0 and 1", lambda *a: top_k(*a, output="tensor"), r"return one float"),
        requirement("Ties count in the label's favour", lambda *a: top_k(*a, mode="sort"),
                    r"ties count for the label"),
        requirement("a row is a hit when fewer than `k` of its logits are strictly larger",
                    lambda *a: top_k(*a, mode="at_most"), r"top-\(k\+1\) accuracy"),
        requirement("a row is a hit when fewer than `k` of its logits are strictly larger",
                    lambda *a: top_k(*a, mode="ties_against"), r"not larger than itself"),
        free("(With `k = 1` and no ties this is the lecture's accuracy; with `k = K` every row is a hit.)",
             "consequences of the rule; the cases include k = 1 and k = K"),
    ],
    "07.per_class_f1": [
        free("Accuracy hides which classes a network gets wrong", "motivation"),
        free("For a class $c$, count the true positives", "definitions; F1 is symmetric in FP and FN"),
        requirement("The F1 score is the harmonic mean of the precision", lambda *a: f1(*a, score="average"),
                    r"harmonic mean"),
        requirement("$$F1_c = \\frac{2\\,TP_c}{2\\,TP_c + FP_c + FN_c}.$$", lambda *a: f1(*a, score="no_two"),
                    r"factor 2 is missing"),
        requirement("$$F1_c = \\frac{2\\,TP_c}{2\\,TP_c + FP_c + FN_c}.$$", lambda *a: f1(*a, score="recall"),
                    r"recall"),
        free("Write `per_class_f1(y_true, y_pred, n_classes)` for two integer arrays of shape `(n,)`",
             "the signature and the inputs"),
        requirement("return a float array of shape `(n_classes,)`", lambda *a: f1(*a, size="seen"),
                    r"use n_classes for the size"),
        requirement("return a float array of shape `(n_classes,)`", lambda *a: f1(*a, score="macro"),
                    r"one score per class"),
        requirement("return a float array", lambda *a: f1(*a, output="list"), r"should return a NumPy array"),
        requirement("return a float array", lambda *a: f1(*a, output="int"), r"return a float array"),
        requirement("gets `0.0`, not NaN", lambda *a: f1(*a, unseen="nan"), r"contains NaN"),
        free("The mean of the array is the macro-F1", "what the result is used for"),
    ],
    "07.train_one_epoch": [
        requirement("that puts the model in training mode", lambda *a: epoch(*a, train_mode=False),
                    r"still in evaluation mode"),
        requirement("goes once through the loader's batches", epoch_first_batch_only, r"only the first batch"),
        requirement("goes once through the loader's batches", lambda *a: epoch(*a, passes=2),
                    r"gone through twice"),
        requirement("clear the gradients", lambda *a: epoch(*a, zero_grad=False), r"zero_grad"),
        requirement("optimiser step", lambda *a: epoch(*a, step=False), r"weights did not change"),
        requirement("Return the mean training loss over the samples of the epoch",
                    lambda *a: epoch(*a, mean="sum"), r"not the sum"),
        requirement("Return the mean training loss over the samples of the epoch",
                    lambda *a: epoch(*a, mean="last"), r"not the last batch"),
        requirement("(weight each batch's loss by its size)", lambda *a: epoch(*a, mean="batches"),
                    r"weight each batch's loss by its number of samples"),
    ],
    "07.fit_temperature": [
        free("Dividing all the logits by one number $T > 0$", "what a temperature does"),
        free("Temperature scaling picks $T$ on held-out data", "the definition; the rows below test it"),
        requirement("$$ \\mathrm{NLL}(T) = -\\frac{1}{n}\\sum_{i=1}^{n} \\log \\mathrm{softmax}(z_i / T)_{y_i} . $$",
                    lambda *a: temperature(*a, invert=True), r"That is 1/T"),
        free("Write `fit_temperature(logits, labels)` for a float array of logits of shape `(n, K)`",
             "the signature and the inputs"),
        requirement("Return the minimising $T$ as a Python float", lambda *a: temperature(*a, output="array"),
                    r"return a Python float"),
        requirement("Return the minimising $T$ as a Python float", lambda *a: temperature(*a, output="tensor"),
                    r"returned a tensor"),
        requirement("within 1 % of the exact minimiser",
                    lambda *a: temperature(*a, grid=np.geomspace(0.01, 10_000, 30)), r"search finer"),
        requirement("which may lie anywhere from 0.01 to 10,000", lambda *a: temperature(*a, high=100.0),
                    r"search up to 10,000"),
        free("Any method is fine", "a permission: the tests accept a golden-section search and LBFGS"),
        requirement("It must work for logits in the thousands", lambda *a: temperature(*a, stable=False),
                    r"overflows"),
        requirement("it must not change `logits`", lambda *a: temperature(*a, in_place=True), r"in place"),
    ],
    "07.train_to_target": [
        requirement("Write `train_to_target(X, y)` that trains a network and returns it",
                    lambda X, y: target_model(X, y, epochs=0), r"about chance"),
        free("`X` is a float32 array `(n, 784)` of flattened images", "the inputs"),
        requirement("return a trained `torch.nn.Module`", lambda X, y: target_model(X, y, epochs=0, output="function"),
                    r"torch.nn.Module"),
        requirement("that maps a float32 tensor `(m, 784)`", lambda X, y: target_model(X, y, epochs=1, double=True),
                    r"keep it in float32"),
        requirement("to logits `(m, 10)`", lambda X, y: target_model(X, y, output="one_logit"),
                    r"10 logits per image"),
        free("A recipe that works:", "advice; the result is what the check measures"),
        free("The check calls your function with 20,000 training images", "what the check does"),
        requirement("it passes at 86 % accuracy", lambda X, y: target_model(X, y, epochs=1, lr=1e-4),
                    r"the target is 86%"),
        requirement("Softmax regression, the lecture's baseline, stays below that here",
                    lambda X, y: target_model(X, y, hidden=(), epochs=6, lr=3e-3), r"linear model"),
        free("the target needs hidden layers and a careful recipe", "advice"),
        # a row would have to run for 150 s; call(time_limit=150) enforces it and test_core tests call's limit
        free("The check allows your function 150 s", "enforced by call(time_limit=150), tested in test_core"),
        free("a good MLP needs well under a minute", "advice"),
    ],
}
