"""Checks for chapter 14, transfer learning. PyTorch is imported inside the checks only."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import (
    CheckFailed,
    call,
    calls_of_global,
    expect_pair,
    register,
    seeded_global_random,
    seeded_rng,
)
from course_utils.frameworks import require_framework


def _model(n_classes=5, seed=0):
    """The chapter's CNN with weights drawn from the check's salted seed; the learner's
    global random state is left as it was."""
    from course_utils.pretrained import build_source_cnn

    require_framework("torch")
    with seeded_global_random(140 + seed):  # build_source_cnn seeds torch's global state
        return build_source_cnn(n_classes, seed=int(seeded_rng(150 + seed).integers(2**31)))


# --------------------------------------------------------------------------- depth pass


def _probe_objective(W, b, features, labels, l2, penalise_bias=False):
    """Mean cross-entropy of softmax(F W + b) plus (l2/2)||W||^2, and its gradient."""
    logits = features @ W + b
    logits = logits - logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    n = len(labels)
    loss = -log_p[np.arange(n), labels].mean() + 0.5 * l2 * np.sum(W * W)
    delta = np.exp(log_p)
    delta[np.arange(n), labels] -= 1.0
    grad_W = features.T @ delta / n + l2 * W
    grad_b = delta.mean(axis=0)
    if penalise_bias:
        loss += 0.5 * l2 * np.sum(b * b)
        grad_b = grad_b + l2 * b
    return loss, grad_W, grad_b


def _probe_minimum(features, labels, n_classes, l2, penalise_bias=False):
    from scipy.optimize import minimize

    d = features.shape[1]

    def fun(theta):
        W, b = theta[: d * n_classes].reshape(d, n_classes), theta[d * n_classes:]
        loss, gW, gb = _probe_objective(W, b, features, labels, l2, penalise_bias)
        return loss, np.concatenate([gW.ravel(), gb])

    result = minimize(fun, np.zeros(d * n_classes + n_classes), jac=True, method="L-BFGS-B",
                      options={"maxiter": 5000, "gtol": 1e-12, "ftol": 1e-15})
    return result.fun


@register("14.fit_linear_probe")
def check_fit_linear_probe(fit_linear_probe):
    """fit_linear_probe(features, labels, n_classes, l2) returns NumPy float arrays (W, b) that
    minimise the mean cross-entropy of softmax(features @ W + b) plus (l2/2)||W||^2 (bias not
    penalised)."""
    rng = seeded_rng(141)
    cases = [(25, 8, 5, 0.1, np.float64), (40, 16, 3, 0.01, np.float64), (12, 4, 2, 1.0, np.float64),
             (30, 32, 5, 0.05, np.float32), (int(rng.integers(20, 50)), int(rng.integers(3, 12)), 4, 0.2,
                                             np.float64)]
    for n, d, n_classes, l2, dtype in cases:
        labels = rng.permutation(np.arange(n) % n_classes)
        centres = rng.normal(size=(n_classes, d))
        features = (centres[labels] + rng.normal(scale=1.0, size=(n, d)) + 0.5).astype(dtype)
        case = f"{n} feature vectors of length {d}, {n_classes} classes, l2={l2:g}, {np.dtype(dtype).name}"
        out = call(fit_linear_probe, features, labels, n_classes, l2, name="fit_linear_probe", time_limit=20)
        W, b = expect_pair(out, "fit_linear_probe", "(W, b)")
        for name, value in (("W", W), ("b", b)):
            if not isinstance(value, np.ndarray):
                hint = (" (a tensor: .detach().numpy() turns it into one)"
                        if hasattr(value, "detach") else "")
                raise CheckFailed(f"{name} is a {type(value).__name__}: return NumPy arrays{hint}.")
            if value.dtype.kind != "f":
                raise CheckFailed(f"{name} has dtype {value.dtype}: return floating-point arrays.")
        W, b = W.astype(float), b.astype(float)
        if W.shape == (n_classes, d) and d != n_classes:
            raise CheckFailed(f"W has shape {W.shape}: it should be (d, n_classes) = ({d}, {n_classes}), so that "
                              f"features @ W gives one logit per class ({case}).")
        if W.shape != (d, n_classes):
            raise CheckFailed(f"W has shape {W.shape}, expected (d, n_classes) = ({d}, {n_classes}) ({case}).")
        if b.shape != (n_classes,):
            raise CheckFailed(f"b has shape {b.shape}, expected (n_classes,) = ({n_classes},) ({case}).")
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise CheckFailed(f"W or b contains NaN or inf: is the learning rate too large? ({case})")
        f64 = features.astype(float)
        best = _probe_minimum(f64, labels, n_classes, l2)
        got = _probe_objective(W, b, f64, labels, l2)[0]
        tol = 1e-5 * max(1.0, abs(best))
        if got - best <= tol:
            continue
        alternatives = {
            "the bias is penalised too: the penalty (l2/2)||W||^2 covers W only": (l2, True),
            "the penalty is twice too strong: use (l2/2)||W||^2, whose gradient is l2 * W": (2 * l2, False),
            "the penalty is half as strong as asked: use (l2/2)||W||^2, whose gradient is l2 * W": (l2 / 2, False),
            "the loss is the *sum* of the cross-entropies; use their mean (divide by the number of "
            "examples)": (l2 / n, False),
        }
        for hint, (alt_l2, alt_bias) in alternatives.items():
            alt_best = _probe_minimum(f64, labels, n_classes, alt_l2, alt_bias)
            alt_got = _probe_objective(W, b, f64, labels, alt_l2, alt_bias)[0]
            if alt_got - alt_best <= 1e-5 * max(1.0, abs(alt_best)):
                raise CheckFailed(f"your (W, b) minimises a different objective: {hint} ({case}).")
        _, gW, gb = _probe_objective(W, b, f64, labels, l2)
        raise CheckFailed(f"(W, b) is not the minimum: the objective is {got:.6f}, but {best:.6f} can be "
                          f"reached (largest gradient entry {max(np.abs(gW).max(), np.abs(gb).max()):.2g}). Train "
                          f"longer, or use L-BFGS (torch.optim.LBFGS or scipy.optimize.minimize) ({case}).")
    return "five probes at the minimum of the regularised cross-entropy"


def _blocks_with_parameters(base):
    return [child for child in base.children() if any(True for _ in child.parameters())]


def _deep_base_model(seed=0):
    from collections import OrderedDict

    torch = require_framework("torch")
    nn = torch.nn
    with seeded_global_random(145 + seed):
        return _deep_base(nn, OrderedDict)


def _deep_base(nn, OrderedDict):
    base = nn.Sequential(OrderedDict(
        stem=nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()),
        act=nn.ReLU(),
        stage1=nn.Sequential(nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        stage2=nn.Sequential(nn.Conv2d(6, 8, 3, padding=1, bias=False), nn.ReLU()),  # one tensor
        pool=nn.AdaptiveAvgPool2d(1),
        stage3=nn.Linear(1, 3),
        flat=nn.Flatten(),
    ))
    return nn.Sequential(OrderedDict(base=base, head=nn.Linear(3, 4)))


@register("14.discriminative_param_groups")
def check_discriminative_param_groups(discriminative_param_groups):
    """discriminative_param_groups(model, head_lr, decay, n_trainable) trains the head at head_lr and the
    last n_trainable blocks of model.base at head_lr * decay**j, freezes the rest, returns groups."""
    torch = require_framework("torch")
    cases = [("the chapter's CNN", _model, 1e-3, 0.1, 1), ("the chapter's CNN", _model, 3e-3, 0.5, 2),
             ("the chapter's CNN", _model, 1e-2, 0.3, 0), ("the chapter's CNN", _model, 2e-3, 0.2, 3),
             ("a base with parameterless layers between its blocks", _deep_base_model, 1e-3, 0.5, 2),
             ("a base with parameterless layers between its blocks", _deep_base_model, 5e-3, 0.1, 4)]
    for index, (what, build, head_lr, decay, n_trainable) in enumerate(cases):
        model = build()
        if index % 2:  # start from a model whose head and first block were frozen before
            model.head.requires_grad_(False)
            _blocks_with_parameters(model.base)[0].requires_grad_(False)
        case = f"{what}, head_lr={head_lr:g}, decay={decay:g}, n_trainable={n_trainable}"
        groups = call(lambda m=model, h=head_lr, d=decay, k=n_trainable: discriminative_param_groups(m, h, d, k),
                      name="discriminative_param_groups")
        if isinstance(groups, dict) or not hasattr(groups, "__iter__"):
            raise CheckFailed("return a list of dicts like [{'params': [...], 'lr': ...}, ...].")
        groups = list(groups)
        if not groups or not all(isinstance(g, dict) and "params" in g and "lr" in g for g in groups):
            raise CheckFailed("each group should be a dict with a 'params' and an 'lr' entry.")
        groups = [dict(g, params=list(g["params"])) for g in groups]
        try:
            torch.optim.SGD([g for g in groups if g["params"]], lr=0.5)
        except (ValueError, TypeError) as err:
            raise CheckFailed(f"torch.optim could not use your groups: {err} ({case}).") from None
        lr_of = {}
        for g in groups:
            for p in g["params"]:
                if id(p) in lr_of:
                    raise CheckFailed(f"a parameter is in two groups ({case}).")
                lr_of[id(p)] = float(g["lr"])
        blocks = _blocks_with_parameters(model.base)
        expected = {id(p): head_lr for p in model.head.parameters()}
        for j, block in enumerate(reversed(blocks[len(blocks) - n_trainable:] if n_trainable else [])):
            expected.update({id(p): head_lr * decay ** (j + 1) for p in block.parameters()})
        if any(not p.requires_grad for p in model.head.parameters()):
            raise CheckFailed(f"the head does not train: set requires_grad = True for its parameters (it may "
                              f"have been frozen before the call) ({case}).")
        for block in blocks[len(blocks) - n_trainable:] if n_trainable else []:
            (p, *rest) = block.parameters()
            if not rest and (not p.requires_grad or id(p) not in lr_of):
                raise CheckFailed(f"a block with a single parameter tensor (a Conv2d without bias) is among "
                                  f"the last {n_trainable} blocks with parameters and must train, but yours "
                                  f"is left out: count every block that has any parameter ({case}).")
        for name, p in model.base.named_parameters():
            if id(p) in expected and not p.requires_grad:
                raise CheckFailed(f"{name} belongs to one of the last {n_trainable} blocks and must train "
                                  f"(requires_grad = True) ({case}).")
            if id(p) not in expected and p.requires_grad:
                first_blocks = {id(q) for b in blocks[:n_trainable] for q in b.parameters()}
                hint = (" You unfroze the *first* blocks; fine-tuning trains the last ones, nearest the head."
                        if id(p) in first_blocks else "")
                raise CheckFailed(f"{name} should be frozen (requires_grad = False): only the last "
                                  f"{n_trainable} block(s) with parameters of model.base train.{hint} ({case})")
            if id(p) in lr_of and id(p) not in expected:
                raise CheckFailed(f"the frozen parameter {name} is in a group ({case}).")
        missing = [name for name, p in model.named_parameters() if id(p) in expected and id(p) not in lr_of]
        if missing:
            raise CheckFailed(f"{missing[0]} trains but is in no group ({case}).")
        for name, p in model.named_parameters():
            if id(p) not in expected:
                continue
            want, got = expected[id(p)], lr_of[id(p)]
            if np.isclose(got, want, rtol=1e-6):
                continue
            if n_trainable and name.startswith("base.") and np.isclose(got, want / decay, rtol=1e-6):
                raise CheckFailed(f"{name} has learning rate {got:g}, expected {want:g}: the last block gets "
                                  f"head_lr * decay, the one before head_lr * decay**2, and so on ({case}).")
            raise CheckFailed(f"{name} has learning rate {got:g}, expected {want:g} ({case}).")
    return "six models: the last blocks train with decaying learning rates, the rest is frozen"


def _bn_test_model(seed=0):
    torch = require_framework("torch")
    nn = torch.nn
    with seeded_global_random(142 + seed):
        return nn.Sequential(
            nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Dropout2d(0.5)),
            nn.Flatten(),
            nn.Sequential(nn.Linear(3 * 4 * 4, 6), nn.BatchNorm1d(6), nn.ReLU()),
            nn.Dropout(0.5),
            nn.Linear(6, 2),
        )


@register("14.train_with_frozen_bn")
def check_train_with_frozen_bn(train_with_frozen_bn):
    """train_with_frozen_bn(model, freeze_affine) puts the model in training mode except its batch-norm
    layers, which normalise with their stored statistics; freeze_affine also stops training their
    weight and bias. Returns the model."""
    torch = require_framework("torch")
    nn = torch.nn
    bn_type = nn.modules.batchnorm._BatchNorm
    builds = [("a model with BatchNorm2d, BatchNorm1d and dropout", _bn_test_model, (1, 6, 6)),
              ("the chapter's CNN", _model, (1, 28, 28))]
    for what, build, shape in builds:
        for freeze_affine in (False, True):
            model = build()
            model.eval()  # the function has to switch training mode on itself
            first_weight = next(m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))).weight
            first_weight.requires_grad_(False)  # a choice made before the call, to be left alone
            rng = seeded_rng(144)
            with torch.no_grad():  # give the statistics values that differ from a fresh batch
                for m in model.modules():
                    if isinstance(m, bn_type):
                        m.running_mean.copy_(torch.as_tensor(rng.uniform(-1, 1, m.num_features)))
                        m.running_var.copy_(torch.as_tensor(rng.uniform(0.5, 2, m.num_features)))
            case = f"{what}, freeze_affine={freeze_affine}"
            out = call(lambda m=model, f=freeze_affine: train_with_frozen_bn(m, f), name="train_with_frozen_bn")
            if out is not model:
                raise CheckFailed("train_with_frozen_bn should change the model it is given and return it.")
            bns = [m for m in model.modules() if isinstance(m, bn_type)]
            others = [m for m in model.modules() if not isinstance(m, bn_type)]
            if all(not m.training for m in model.modules()):
                raise CheckFailed(f"the whole model is in evaluation mode: dropout is off too. Call model.train() "
                                  f"first, then .eval() on the batch-norm layers only ({case}).")
            if any(not m.training for m in others):
                raise CheckFailed(f"a layer that is not batch normalisation is in evaluation mode: only the "
                                  f"batch-norm layers should be ({case}).")
            if any(m.training for m in bns):
                kinds = sorted({type(m).__name__ for m in bns if m.training})
                raise CheckFailed(f"{', '.join(kinds)} is still in training mode, so it would update its running "
                                  f"statistics. Test with isinstance(m, nn.modules.batchnorm._BatchNorm), or name "
                                  f"every kind (BatchNorm1d, BatchNorm2d, ...) ({case}).")
            if first_weight.requires_grad:
                raise CheckFailed(f"a parameter that was frozen before the call trains now: change requires_grad "
                                  f"of the batch-norm weights and biases only ({case}).")
            for m in bns:
                for p in (m.weight, m.bias):
                    if p.requires_grad == freeze_affine:
                        want = "frozen (requires_grad = False)" if freeze_affine else "trainable"
                        raise CheckFailed(f"with freeze_affine={freeze_affine} the batch-norm weight and bias "
                                          f"should be {want} ({case}).")
            others_grad = [p.requires_grad for m in others for p in m.parameters(recurse=False)]
            if sum(1 for g in others_grad if not g) != 1:
                raise CheckFailed(f"requires_grad of a layer that is not batch normalisation changed ({case}).")
            stats = [m.running_mean.clone() for m in bns]
            x = torch.as_tensor(seeded_rng(143).normal(2.0, 3.0, size=(8, *shape)), dtype=torch.float32)
            with torch.no_grad(), seeded_global_random(143):  # dropout draws from the global state
                a, b = model(x), model(x)
            if any(not torch.equal(s, m.running_mean) for s, m in zip(stats, bns, strict=True)):
                raise CheckFailed(f"the running statistics changed during a forward pass ({case}).")
            if torch.allclose(a, b) and any(isinstance(m, (nn.Dropout, nn.Dropout2d)) for m in others):
                raise CheckFailed(f"two forward passes gave the same output: dropout is not active ({case}).")
    return "batch norm uses its stored statistics, dropout still drops, requires_grad as asked"


# --------------------------------------------------------------------------- probe accuracy


def _probe_bases():
    """Two frozen bases: the chapter's (its batch-norm statistics set away from a fresh
    batch's) and a small one with dropout, whose output changes in training mode."""
    torch = require_framework("torch")
    nn = torch.nn
    chapter = _model(5, seed=1).base
    rng = seeded_rng(146)
    with torch.no_grad():
        for m in chapter.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.as_tensor(rng.uniform(0.0, 0.4, m.num_features)))
                m.running_var.copy_(torch.as_tensor(rng.uniform(0.02, 0.2, m.num_features)))
    with seeded_global_random(147):
        small = nn.Sequential(nn.Conv2d(1, 6, 5, stride=3), nn.ReLU(), nn.Flatten(),
                              nn.Dropout(0.5), nn.Linear(6 * 8 * 8, 24), nn.ReLU())
    return [("the chapter's base", chapter), ("a base with dropout", small)]


def _blob_images(rng, labels):
    """28 x 28 images in [0, 1], float32, (n, 1, 28, 28): each class a bright square in its
    own place, plus noise, so that a probe can learn them."""
    images = rng.uniform(0.0, 0.3, size=(len(labels), 1, 28, 28))
    for i, label in enumerate(labels):
        row, col = divmod(int(label), 3)
        top, left = 3 + 8 * row + rng.integers(-1, 2), 3 + 8 * col + rng.integers(-1, 2)
        images[i, 0, top:top + 6, left:left + 6] += 0.7
    return images.astype(np.float32)


def _reference_probe(features, labels, n_classes, l2):
    from scipy.optimize import minimize

    d = features.shape[1]

    def fun(theta):
        W, b = theta[: d * n_classes].reshape(d, n_classes), theta[d * n_classes:]
        loss, gW, gb = _probe_objective(W, b, features, labels, l2)
        return loss, np.concatenate([gW.ravel(), gb])

    theta = minimize(fun, np.zeros(d * n_classes + n_classes), jac=True, method="L-BFGS-B",
                     options={"maxiter": 5000, "gtol": 1e-10, "ftol": 1e-15}).x
    return theta[: d * n_classes].reshape(d, n_classes), theta[d * n_classes:]


@register("14.probe_accuracy")
def check_probe_accuracy(probe_accuracy):
    """probe_accuracy(base, X_train, y_train, X_test, y_test, l2) computes the frozen base's
    features in evaluation mode (the base unchanged), fits fit_linear_probe on them and returns
    the fraction of test images classified correctly."""
    torch = require_framework("torch")
    rng = seeded_rng(148)
    cases = [(0, 4, 3, 0.05), (1, 5, 2, 1e-3), (0, 6, 2, 10.0), (1, 4, 4, 0.3)]
    bases = _probe_bases()
    for which, n_classes, per_class, l2 in cases:
        what, base = bases[which]
        y_train = rng.permutation(np.repeat(np.arange(n_classes), per_class))
        y_test = rng.integers(0, n_classes, size=int(rng.integers(150, 220)))
        X_train, X_test = _blob_images(rng, y_train), _blob_images(rng, y_test)
        case = (f"{what}, {n_classes} classes, {per_class} labelled images each, "
                f"{len(y_test)} test images, l2={l2:g}")
        base.eval()
        with torch.no_grad():
            F_train = base(torch.as_tensor(X_train)).double().numpy()
            F_test = base(torch.as_tensor(X_test)).double().numpy()
        W, b = _reference_probe(F_train, y_train, n_classes, l2)
        expected = float(np.mean((F_test @ W + b).argmax(axis=1) == y_test))
        train_accuracy = float(np.mean((F_train @ W + b).argmax(axis=1) == y_train))
        W_other, b_other = _reference_probe(F_train, y_train, n_classes, 0.1)
        default_l2 = float(np.mean((F_test @ W_other + b_other).argmax(axis=1) == y_test))
        state = {k: v.clone() for k, v in base.state_dict().items()}
        base.train()  # the function must choose the mode itself
        watch = calls_of_global(probe_accuracy, "fit_linear_probe")
        with watch, seeded_global_random(149):
            got = call(probe_accuracy, base, X_train, y_train, X_test, y_test, l2,
                       name="probe_accuracy", time_limit=30)
        changed = [k for k, v in base.state_dict().items() if not torch.equal(v, state[k])]
        left_training = any(m.training for m in base.modules())
        base.load_state_dict(state)
        if changed:
            hint = (" Its batch-norm statistics moved: put the base in evaluation mode "
                    "(base.eval()) before computing features."
                    if any("running" in k for k in changed) else "")
            raise CheckFailed(f"the base changed ({changed[0]}): a frozen base stays as it is.{hint} ({case})")
        if watch.count == 0:
            raise CheckFailed("probe_accuracy never calls fit_linear_probe: fit the probe with your "
                              "answer to exercise 1.")
        if hasattr(got, "detach") or isinstance(got, (list, tuple, np.ndarray)) and np.ndim(got) > 0:
            raise CheckFailed(f"return one number (a float), not a {type(got).__name__}.")
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (float, int, np.floating, np.integer)):
            raise CheckFailed(f"return one number (a float), not a {type(got).__name__}.")
        got = float(got)
        one_image = 1.0 / len(y_test) + 1e-12
        if abs(got - expected) <= one_image:
            continue
        if abs(got - 100 * expected) <= 100 * one_image:
            raise CheckFailed(f"{got:g} is a percentage: return the fraction, between 0 and 1 ({case}).")
        if abs(got - train_accuracy) <= 1e-12 and abs(train_accuracy - expected) > one_image:
            raise CheckFailed(f"that is the accuracy on the labelled training images; measure it on "
                              f"X_test, y_test ({case}).")
        if abs(got - default_l2) <= one_image and abs(default_l2 - expected) > one_image:
            raise CheckFailed(f"the probe seems to ignore l2: pass l2 on to fit_linear_probe ({case}).")
        mode = (" The base was left in training mode, where dropout makes its features random: "
                "base.eval()." if left_training else "")
        raise CheckFailed(f"the test accuracy is {got:.4f}, but the exact probe on the base's "
                          f"features reaches {expected:.4f}.{mode} ({case})")
    return "four probes on two frozen bases, at the accuracy of the exact probe"
