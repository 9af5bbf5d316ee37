"""Requirement table of chapter 14, transfer learning (docs/AUTHORING.md, "Requirement tables")."""

from __future__ import annotations

import numpy as np

from course_utils.authoring.chapters import PREAMBLE
from tests.checks.requirements import free, requirement

# --------------------------------------------------------------------------- 14.fit_linear_probe


def probe(features, labels, n_classes, l2, *, bias_penalty=False, scale=1.0, strength=1.0, steps=None,
          as_tensors=False, transpose=False, b_shape=None, only_float64=False, in_place=False,
          integer=False):
    """The solution's answer (the exact minimum, by scipy); the keywords make it break one
    requirement."""
    from scipy.optimize import minimize

    if only_float64 and np.asarray(features).dtype != np.float64:
        raise TypeError("expects float64 features")
    X = np.asarray(features, dtype=float)
    n, d = X.shape
    Y = np.eye(n_classes)[labels]
    lam = strength * l2

    def fun(theta):
        W, b = theta[: d * n_classes].reshape(d, n_classes), theta[d * n_classes:]
        z = X @ W + b
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        loss = -np.mean(np.sum(Y * np.log(p), axis=1)) * scale + 0.5 * lam * np.sum(W**2)
        gW, gb = X.T @ (p - Y) / n * scale + lam * W, (p - Y).mean(axis=0) * scale
        if bias_penalty:
            loss, gb = loss + 0.5 * lam * np.sum(b**2), gb + lam * b
        return loss, np.concatenate([gW.ravel(), gb])

    options = {"maxiter": steps or 5000, "gtol": 1e-12, "ftol": 1e-15}
    theta = minimize(fun, np.zeros(d * n_classes + n_classes), jac=True, method="L-BFGS-B", options=options).x
    W, b = theta[: d * n_classes].reshape(d, n_classes), theta[d * n_classes:]
    if in_place:
        features -= features.mean(axis=0)
    if transpose:
        W = W.T
    if b_shape:
        b = b.reshape(b_shape)
    if integer:
        W, b = np.rint(W).astype(int), np.rint(b).astype(int)
    if as_tensors:
        import torch

        W, b = torch.as_tensor(W), torch.as_tensor(b)
    return W, b


# --------------------------------------------------------------------------- 14.discriminative_param_groups


def groups(model, head_lr, decay, n_trainable, *, first=False, shift=0, count_all=False, keep_frozen=False,
           two_tensor=False, head=True, unfreeze=True, duplicate=False, as_dict=False, freeze_rest=True):
    """The solution's answer; the keywords make it break one requirement."""
    children = list(model.base.children())
    blocks = [b for b in children if len(list(b.parameters())) > (1 if two_tensor else 0)]
    if count_all:
        blocks = children
    chosen = blocks[:n_trainable] if first else (blocks[len(blocks) - n_trainable:] if n_trainable else [])
    if freeze_rest:
        model.base.requires_grad_(False)
    if head:
        model.head.requires_grad_(True)
    out = [{"params": list(model.head.parameters()), "lr": head_lr}]
    for j, block in enumerate(reversed(chosen), start=1):
        if unfreeze:
            block.requires_grad_(True)
        out.append({"params": list(block.parameters()), "lr": head_lr * decay ** (j - shift)})
    if keep_frozen:
        trained = {id(p) for g in out for p in g["params"]}
        out.append({"params": [p for p in model.base.parameters() if id(p) not in trained], "lr": 0.0})
    if duplicate:
        out.append({"params": list(model.head.parameters()), "lr": head_lr})
    return out[0] if as_dict else out


# --------------------------------------------------------------------------- 14.train_with_frozen_bn


def frozen_bn(model, freeze_affine=False, *, whole=False, kinds=None, train=True, affine=True, others=False,
              give_back=True, bn_eval=True):
    """The solution's answer; the keywords make it break one requirement."""
    import torch

    nn = torch.nn
    if train:
        model.train()
    if whole:
        model.eval()
    for m in model.modules():
        if isinstance(m, kinds or nn.modules.batchnorm._BatchNorm):
            if bn_eval:
                m.eval()
            if affine:
                m.requires_grad_(not freeze_affine)
        elif others:
            m.requires_grad_(True)
    return model if give_back else None


# --------------------------------------------------------------------------- 14.probe_accuracy


def fit_linear_probe(features, labels, n_classes, l2):
    """Exercise 1's answer, which probe_accuracy looks up among its globals."""
    return probe(features, labels, n_classes, l2)


def accuracy(base, X_train, y_train, X_test, y_test, l2, *, train_mode=False, percent=False,
             on_training=False, fixed_l2=None, own_probe=False, tensor=False, argmin=False):
    """The solution's answer; the keywords make it break one requirement."""
    import torch

    if not train_mode:
        base.eval()
    if on_training:
        X_test, y_test = X_train, y_train
    with torch.no_grad():
        F_train = base(torch.as_tensor(X_train)).numpy()
        F_test = base(torch.as_tensor(X_test)).numpy()
    n_classes = len(np.unique(y_train))
    fit = probe if own_probe else fit_linear_probe
    W, b = fit(F_train, y_train, n_classes, l2 if fixed_l2 is None else fixed_l2)
    logits = F_test @ W + b
    predicted = logits.argmin(axis=1) if argmin else logits.argmax(axis=1)
    value = float(np.mean(predicted == y_test)) * (100 if percent else 1)
    return torch.tensor(value) if tensor else value


TABLE = {
    PREAMBLE: [
        free("Each coded exercise asks for a function", "how the page works"),
        free("the cell after it runs a check", "how the page works"),
        free("The lecture is `book/14-transfer-learning`", "where to read first"),
        free("The models here are the chapter's small CNN", "names the models the exercises use"),
        free("its trained version, the source model", "where the trained model comes from"),
        free("Exercise 4 is an experiment the lecture does not run", "what the exercises are"),
        free("exercise 5 is a discussion", "not checked"),
    ],
    "14.fit_linear_probe": [
        free("The lecture trained its linear probe with a fixed number of Adam steps", "what the lecture did"),
        free("The probe's objective is convex", "why an exact answer exists"),
        requirement("returns the pair `(W, b)`", lambda *a: probe(*a)[0], r"should return the pair \(W, b\)"),
        requirement("of NumPy floating-point arrays", lambda *a: probe(*a, as_tensors=True), r"return NumPy arrays"),
        requirement("of NumPy floating-point arrays", lambda *a: probe(*a, integer=True), r"floating-point arrays"),
        requirement("`W` of shape `(d, n_classes)`", lambda *a: probe(*a, transpose=True),
                    r"should be \(d, n_classes\)"),
        requirement("`b` of shape `(n_classes,)`", lambda *a: probe(*a, b_shape=(1, -1)), r"b has shape"),
        requirement("minimising", lambda *a: probe(*a, steps=3), r"not the minimum"),
        requirement(r"\frac{1}{n} \sum_{i=1}^{n}", lambda F, y, c, l2: probe(F, y, c, l2, scale=len(y)),
                    r"\*sum\* of the cross-entropies"),
        requirement(r"\frac{\lambda}{2} \lVert W \rVert^2", lambda *a: probe(*a, strength=2.0), r"twice too strong"),
        requirement(r"\frac{\lambda}{2} \lVert W \rVert^2", lambda *a: probe(*a, strength=0.5), r"half as strong"),
        requirement("float32 or float64", lambda *a: probe(*a, only_float64=True), r"raised TypeError"),
        free("integer `labels` $y_i$ in `0..n_classes-1`", "the labels' type and range, as the check draws them"),
        free("`l2` $= \\lambda > 0$", "the penalty's range, as the check draws it"),
        requirement("the bias is not penalised", lambda *a: probe(*a, bias_penalty=True), r"bias is penalised"),
        requirement("`features` must not change", lambda *a: probe(*a, in_place=True), r"in place"),
        free("Any method that reaches the minimum is fine", "allows every method"),
        free("The check compares $J$ at your answer with the minimum", "describes the check"),
    ],
    "14.discriminative_param_groups": [
        free("Fine-tuning often trains several top blocks", "explains the idea; the list prescribes"),
        free("Write `discriminative_param_groups(model, head_lr, decay, n_trainable)` that",
             "the signature; the rows below test what it does"),
        requirement("freezes (`requires_grad = False`) every block of `model.base`",
                    lambda *a: groups(*a, freeze_rest=False), r"should be frozen"),
        requirement("except the last `n_trainable` blocks", lambda *a: groups(*a, first=True), r"first"),
        requirement("blocks that have parameters", lambda *a: groups(*a, count_all=True),
                    r"should be frozen|must train|learning rate"),
        requirement("(layers without parameters, such as `Flatten` or `ReLU`, do not count)",
                    lambda *a: groups(*a, two_tensor=True), r"single parameter tensor"),
        requirement("makes those and `model.head` trainable", lambda *a: groups(*a, head=False),
                    r"the head does not train"),
        requirement("some may have been frozen before the call", lambda *a: groups(*a, unfreeze=False),
                    r"must train"),
        requirement("returns a list of parameter groups for `torch.optim`", lambda *a: groups(*a, as_dict=True),
                    r"list of dicts"),
        requirement("the head with `lr = head_lr`, the last block with `head_lr * decay`",
                    lambda *a: groups(*a, shift=1), r"head_lr \* decay,"),
        requirement("the one before it with `head_lr * decay2`", lambda *a: groups(*a, shift=1),
                    r"the one before head_lr \* decay\*\*2"),
        requirement("Frozen parameters appear in no group", lambda *a: groups(*a, keep_frozen=True),
                    r"frozen parameter"),
        requirement("no parameter twice", lambda *a: groups(*a, duplicate=True),
                    r"more than one parameter group|in two groups"),
        free("A block is a child of `model.base`", "defines a word of the statement"),
    ],
    "14.train_with_frozen_bn": [
        free("The lecture put the whole base in evaluation mode", "what the lecture did"),
        free("In general a model mixes batch normalisation and dropout anywhere", "why the exercise"),
        requirement("puts `model` in training mode", lambda m, f=False: frozen_bn(m, f, train=False),
                    r"whole model|not batch normalisation"),
        requirement("then every batch-normalisation layer in it", lambda m, f=False: frozen_bn(m, f, bn_eval=False),
                    r"still in training mode"),
        requirement("(of any kind: `BatchNorm1d`, `BatchNorm2d`, ...)",
                    lambda m, f=False: frozen_bn(m, f, kinds=__import__("torch").nn.BatchNorm2d),
                    r"BatchNorm1d is still in training mode"),
        requirement("in evaluation mode", lambda m, f=False: frozen_bn(m, f, whole=True), r"whole model"),
        free("so that they normalise with their stored statistics", "what evaluation mode does; tested above"),
        requirement("while dropout keeps dropping", lambda m, f=False: frozen_bn(m, f, whole=True),
                    r"dropout is off too"),
        requirement("With `freeze_affine=True` it also sets `requires_grad = False`",
                    lambda m, f=False: frozen_bn(m, f, affine=False), r"freeze_affine=True"),
        requirement("(with `False`, `requires_grad = True`)", lambda m, f=False: frozen_bn(m, True),
                    r"freeze_affine=False"),
        requirement("the `requires_grad` of all other parameters stays as it was",
                    lambda m, f=False: frozen_bn(m, f, others=True), r"frozen before the call trains now"),
        requirement("Return the model", lambda m, f=False: frozen_bn(m, f, give_back=False), r"return it"),
        free("Note that `model.train()` undoes it", "advice for using the answer"),
    ],
    "14.probe_accuracy": [
        free("The lecture varied the *number* of source classes", "what the lecture did"),
        free("Here you vary their *kind* at the same breadth", "the experiment's question, answered in 4b"),
        requirement("the test accuracy of the exact linear probe", lambda *a: accuracy(*a, own_probe=True),
                    r"never calls fit_linear_probe"),
        requirement("computes the base's features of the images `X_train` and `X_test`",
                    lambda *a: accuracy(*a, on_training=True), r"training images"),
        free("(float32 arrays of shape `(n, 1, 28, 28)`)", "the inputs' type and shape, as the check draws them"),
        requirement("with the base in evaluation mode", lambda *a: accuracy(*a, train_mode=True),
                    r"evaluation mode"),
        requirement("so that the base does not change", lambda *a: accuracy(*a, train_mode=True),
                    r"the base changed"),
        requirement("and dropout, if any, is off", lambda *a: accuracy(*a, train_mode=True),
                    r"base.eval\(\)"),
        free("use `torch.no_grad()`, since no gradient is needed", "advice: features with gradients are equal"),
        requirement("fits the probe with your `fit_linear_probe` from exercise 1",
                    lambda *a: accuracy(*a, own_probe=True), r"never calls fit_linear_probe"),
        requirement("with `l2`", lambda *a: accuracy(*a, fixed_l2=0.1), r"ignore l2"),
        free("as many classes as `y_train` has", "a probe with classes no label uses predicts none of them"),
        requirement("returns the fraction of the test images whose largest logit is their label",
                    lambda *a: accuracy(*a, argmin=True), r"the test accuracy is"),
        requirement("one float between 0 and 1", lambda *a: accuracy(*a, percent=True), r"percentage"),
        requirement("one float between 0 and 1", lambda *a: accuracy(*a, tensor=True), r"one number"),
    ],
}
