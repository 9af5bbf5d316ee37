"""Chapter 14 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check, checks_for
from tests.checks.bad_answers import BAD_ANSWERS, assert_fails_cleanly

torch = pytest.importorskip("torch")


# ----------------------------------------------------------------- linear probe (depth pass)


def _probe_scipy(features, labels, n_classes, l2, penalise_bias=False, loss_scale=1.0):
    from scipy.optimize import minimize

    F = np.asarray(features, dtype=float)
    d = F.shape[1]
    Y = np.eye(n_classes)[labels]

    def fun(theta):
        W, b = theta[: d * n_classes].reshape(d, n_classes), theta[d * n_classes:]
        z = F @ W + b
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        loss = -np.mean(np.sum(Y * np.log(p), axis=1)) * loss_scale + 0.5 * l2 * np.sum(W ** 2)
        gW = F.T @ (p - Y) / len(F) * loss_scale + l2 * W
        gb = (p - Y).mean(axis=0) * loss_scale
        if penalise_bias:
            loss += 0.5 * l2 * np.sum(b ** 2)
            gb = gb + l2 * b
        return loss, np.concatenate([gW.ravel(), gb])

    theta = minimize(fun, np.zeros(d * n_classes + n_classes), jac=True, method="L-BFGS-B",
                     options={"maxiter": 5000, "gtol": 1e-12, "ftol": 1e-15}).x
    return theta[: d * n_classes].reshape(d, n_classes), theta[d * n_classes:]


def _probe_torch_lbfgs(features, labels, n_classes, l2):
    F = torch.as_tensor(np.asarray(features, dtype=np.float64))
    y = torch.as_tensor(labels)
    W = torch.zeros(F.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([W, b], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(F @ W + b, y) + 0.5 * l2 * (W ** 2).sum()
        loss.backward()
        return loss

    for _ in range(3):
        optimizer.step(closure)
    return W.detach().numpy().astype(np.float32), b.detach().numpy().astype(np.float32)


@pytest.mark.parametrize("answer", [_probe_scipy, _probe_torch_lbfgs])
def test_linear_probe_accepts(answer):
    assert check("14.fit_linear_probe", answer)


def _probe_few_steps(features, labels, n_classes, l2):
    F = np.asarray(features, dtype=float)
    W, b = np.zeros((F.shape[1], n_classes)), np.zeros(n_classes)
    Y = np.eye(n_classes)[labels]
    for _ in range(5):
        z = F @ W + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        W, b = W - 0.1 * (F.T @ (p - Y) / len(F) + l2 * W), b - 0.1 * (p - Y).mean(0)
    return W, b


@pytest.mark.parametrize("answer,hint", [
    (lambda F, y, c, l2: _probe_scipy(F, y, c, l2, penalise_bias=True), "bias is penalised"),
    (lambda F, y, c, l2: _probe_scipy(F, y, c, l2, loss_scale=len(y)), "sum"),
    (lambda F, y, c, l2: _probe_scipy(F, y, c, 2 * l2), "twice too strong"),
    (lambda F, y, c, l2: tuple(a.T if a.ndim == 2 else a for a in _probe_scipy(F, y, c, l2)), r"\(d, n_classes\)"),
    (_probe_few_steps, "not the minimum"),
    (lambda F, y, c, l2: tuple(torch.as_tensor(a) for a in _probe_scipy(F, y, c, l2)), "NumPy arrays"),
    (lambda F, y, c, l2: (_probe_scipy(F, y, c, l2)[0], list(_probe_scipy(F, y, c, l2)[1])), "b is a list"),
])
def test_linear_probe_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("14.fit_linear_probe", answer)


# ----------------------------------------------------------------- discriminative learning rates


def _blocks(base):
    return [m for m in base.children() if len(list(m.parameters())) > 0]


def groups_loop(model, head_lr, decay, n_trainable):
    blocks = _blocks(model.base)
    model.base.requires_grad_(False)
    model.head.requires_grad_(True)
    groups = [{"params": list(model.head.parameters()), "lr": head_lr}]
    lr = head_lr
    for block in blocks[::-1][:n_trainable]:
        lr = lr * decay
        block.requires_grad_(True)
        groups.append({"params": list(block.parameters()), "lr": lr})
    return groups


def groups_by_index(model, head_lr, decay, n_trainable):
    blocks = _blocks(model.base)
    first_trainable = len(blocks) - n_trainable
    groups = []
    for i, block in enumerate(blocks):
        trains = i >= first_trainable
        for p in block.parameters():
            p.requires_grad = trains
        if trains:
            groups.append({"params": block.parameters(), "lr": head_lr * decay ** (len(blocks) - i)})
    for p in model.head.parameters():
        p.requires_grad = True
    return groups + [{"params": model.head.parameters(), "lr": head_lr}]


@pytest.mark.parametrize("answer", [groups_loop, groups_by_index])
def test_discriminative_groups_accept(answer):
    assert check("14.discriminative_param_groups", answer)


def _groups_first_blocks(model, head_lr, decay, n_trainable):
    blocks = _blocks(model.base)
    model.base.requires_grad_(False)
    model.head.requires_grad_(True)
    groups = [{"params": list(model.head.parameters()), "lr": head_lr}]
    for j, block in enumerate(blocks[:n_trainable]):
        block.requires_grad_(True)
        groups.append({"params": list(block.parameters()), "lr": head_lr * decay ** (j + 1)})
    return groups


def _groups_off_by_one(model, head_lr, decay, n_trainable):
    groups = groups_loop(model, head_lr, decay, n_trainable)
    for g in groups[1:]:
        g["lr"] = g["lr"] / decay
    return groups


def _groups_all_children(model, head_lr, decay, n_trainable):
    children = list(model.base.children())
    model.base.requires_grad_(False)
    model.head.requires_grad_(True)
    groups = [{"params": list(model.head.parameters()), "lr": head_lr}]
    for j, block in enumerate(children[::-1][:n_trainable]):
        block.requires_grad_(True)
        groups.append({"params": list(block.parameters()), "lr": head_lr * decay ** (j + 1)})
    return groups


def _groups_with_frozen(model, head_lr, decay, n_trainable):
    groups = groups_loop(model, head_lr, decay, n_trainable)
    trained = {id(p) for g in groups for p in g["params"]}
    groups.append({"params": [p for p in model.base.parameters() if id(p) not in trained], "lr": 0.0})
    return groups


def _groups_two_tensor_blocks(model, head_lr, decay, n_trainable):
    """The mutant `len(list(b.parameters())) > 1`: skips a block with one weight and no bias."""
    blocks = [b for b in model.base.children() if len(list(b.parameters())) > 1]
    model.base.requires_grad_(False)
    model.head.requires_grad_(True)
    groups = [{"params": list(model.head.parameters()), "lr": head_lr}]
    for j, block in enumerate(reversed(blocks[len(blocks) - n_trainable:] if n_trainable else []), start=1):
        block.requires_grad_(True)
        groups.append({"params": list(block.parameters()), "lr": head_lr * decay**j})
    return groups


@pytest.mark.parametrize("answer,hint", [
    (_groups_two_tensor_blocks, "single parameter tensor"),
    (_groups_first_blocks, "first"),
    (_groups_off_by_one, r"head_lr \* decay,"),
    (_groups_all_children, "should be frozen|must train|learning rate"),
    (_groups_with_frozen, "frozen parameter"),
])
def test_discriminative_groups_reject(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("14.discriminative_param_groups", answer)


# ----------------------------------------------------------------- frozen batch-norm statistics


def frozen_bn_isinstance(model, freeze_affine=False):
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
            m.weight.requires_grad = not freeze_affine
            m.bias.requires_grad = not freeze_affine
    return model


def frozen_bn_named(model, freeze_affine=False):
    kinds = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)
    model.train(True)
    for m in model.modules():
        if type(m) in kinds:
            m.train(False)
            m.requires_grad_(not freeze_affine)
    return model


@pytest.mark.parametrize("answer", [frozen_bn_isinstance, frozen_bn_named])
def test_frozen_bn_accepts(answer):
    assert check("14.train_with_frozen_bn", answer)


def _bn_whole_eval(model, freeze_affine=False):
    model.eval()
    return model


def _bn_only_2d(model, freeze_affine=False):
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
            m.requires_grad_(not freeze_affine)
    return model


def _bn_requires_grad_only(model, freeze_affine=False):
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.requires_grad_(False)
    return model


def _bn_no_train(model, freeze_affine=False):
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
            m.requires_grad_(not freeze_affine)
    return model


@pytest.mark.parametrize("answer,hint", [
    (_bn_whole_eval, "whole model"),
    (_bn_only_2d, "BatchNorm1d is still in training mode"),
    (_bn_requires_grad_only, "still in training mode"),
    (_bn_no_train, "whole model|not batch normalisation is in evaluation"),
])
def test_frozen_bn_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("14.train_with_frozen_bn", answer)



@pytest.mark.parametrize("kind", BAD_ANSWERS)
@pytest.mark.parametrize("exercise_id", sorted(checks_for("14")))
def test_every_check_fails_cleanly_on_a_bad_answer(exercise_id, kind):
    assert_fails_cleanly(exercise_id, kind)


# ----------------------------------------------------------------- probe accuracy (exercise 4a)


def fit_linear_probe(features, labels, n_classes, l2):
    """The learner's exercise 1, which their probe_accuracy looks up among its globals."""
    return _probe_scipy(features, labels, n_classes, l2)


def probe_accuracy_no_grad(base, X_train, y_train, X_test, y_test, l2):
    base.eval()
    with torch.no_grad():
        F_train = base(torch.as_tensor(X_train)).numpy()
        F_test = base(torch.as_tensor(X_test)).numpy()
    W, b = fit_linear_probe(F_train, y_train, len(np.unique(y_train)), l2)
    return float(np.mean((F_test @ W + b).argmax(axis=1) == y_test))


def probe_accuracy_inference_mode(base, X_train, y_train, X_test, y_test, l2):
    base.train(False)
    with torch.inference_mode():
        features = [base(torch.from_numpy(x)).double().numpy() for x in (X_train, X_test)]
    n_classes = int(y_train.max()) + 1
    W, b = fit_linear_probe(features[0], y_train, n_classes, l2)
    predicted = np.argmax(features[1] @ W + b, axis=-1)
    return np.float64((predicted == y_test).sum() / len(y_test))


@pytest.mark.parametrize("answer", [probe_accuracy_no_grad, probe_accuracy_inference_mode])
def test_probe_accuracy_accepts(answer):
    assert check("14.probe_accuracy", answer)


def _probe_train_mode(base, X_train, y_train, X_test, y_test, l2):
    with torch.no_grad():
        F_train = base(torch.as_tensor(X_train)).numpy()
        F_test = base(torch.as_tensor(X_test)).numpy()
    W, b = fit_linear_probe(F_train, y_train, len(np.unique(y_train)), l2)
    return float(np.mean((F_test @ W + b).argmax(axis=1) == y_test))


def _probe_percent(*args):
    return 100 * probe_accuracy_no_grad(*args)


def _probe_on_training_images(base, X_train, y_train, X_test, y_test, l2):
    return probe_accuracy_no_grad(base, X_train, y_train, X_train, y_train, l2)


def _probe_fixed_l2(base, X_train, y_train, X_test, y_test, l2):
    return probe_accuracy_no_grad(base, X_train, y_train, X_test, y_test, 0.1)


def _probe_sklearn_style(base, X_train, y_train, X_test, y_test, l2):
    """Its own few gradient steps instead of fit_linear_probe."""
    base.eval()
    with torch.no_grad():
        F_train, F_test = base(torch.as_tensor(X_train)).numpy(), base(torch.as_tensor(X_test)).numpy()
    W, b = _probe_few_steps(F_train, y_train, len(np.unique(y_train)), l2)
    return float(np.mean((F_test @ W + b).argmax(axis=1) == y_test))


def _probe_tensor(*args):
    return torch.tensor(probe_accuracy_no_grad(*args))


@pytest.mark.parametrize("answer,hint", [
    (_probe_train_mode, "evaluation mode|base.eval"),
    (_probe_percent, "percentage"),
    (_probe_on_training_images, "training images"),
    (_probe_fixed_l2, "ignore l2"),
    (_probe_sklearn_style, "never calls fit_linear_probe"),
    (_probe_tensor, "one number"),
])
def test_probe_accuracy_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("14.probe_accuracy", answer)
