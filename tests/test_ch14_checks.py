"""Chapter 14 checks: wrong answers get the right hint, other correct answers pass."""

import numpy as np
import pytest

from course_utils.checks import CheckFailed, check

torch = pytest.importorskip("torch")


def few_shot_loop(labels, k, seed):
    rng = np.random.default_rng(seed)
    out = []
    for c in sorted(set(labels.tolist())):
        members = [i for i, label in enumerate(labels) if label == c]
        out += [members[j] for j in rng.permutation(len(members))[:k]]
    return np.array(out)


def few_shot_torch(labels, k, seed):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.as_tensor(labels)
    picks = [torch.nonzero(labels == c).flatten()[torch.randperm(int((labels == c).sum()), generator=generator)[:k]]
             for c in torch.unique(labels)]
    return torch.cat(picks)


@pytest.mark.parametrize("answer", [few_shot_loop, few_shot_torch])
def test_few_shot_accepts(answer):
    assert check("14.few_shot_indices", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda labels, k, seed: np.random.default_rng(seed).choice(len(labels), k, replace=False), "in total"),
    (lambda labels, k, seed: np.concatenate([np.random.default_rng(seed).choice(np.flatnonzero(labels == c), k)
                                             for c in np.unique(labels)]), "drawn twice"),
    (lambda labels, k, seed: np.concatenate([np.flatnonzero(labels == c)[:k] for c in np.unique(labels)]),
     "seed is ignored"),
    (lambda labels, k, seed: few_shot_loop(labels, k, None), "same seed gave different"),
    (lambda labels, k, seed: np.concatenate([np.flatnonzero(labels == c)[:k] for c in np.unique(labels)[:-1]]),
     "one class gets no examples"),
])
def test_few_shot_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("14.few_shot_indices", answer)


def freeze_with_requires_grad_(model):
    model.base.requires_grad_(False)
    model.head.requires_grad_(True)
    return model


def freeze_by_name(model):
    for name, p in model.named_parameters():
        p.requires_grad = not name.startswith("base")
    return model


@pytest.mark.parametrize("answer", [freeze_with_requires_grad_, freeze_by_name])
def test_freeze_base_accepts(answer):
    assert check("14.freeze_base", answer)


def _freeze_all(model):
    model.requires_grad_(False)
    return model


def _freeze_weights_only(model):
    for name, p in model.base.named_parameters():
        p.requires_grad = not name.endswith("weight")
    return model


def _freeze_base_only(model):
    model.base.requires_grad_(False)
    return model


@pytest.mark.parametrize("answer,hint", [
    (_freeze_all, "head is frozen too"),
    (lambda model: model, "nothing is frozen"),
    (_freeze_weights_only, "part of the base still trains"),
    (_freeze_base_only, "frozen before the call"),
    (lambda model: model.base.requires_grad_(False) and None, "return it"),
])
def test_freeze_base_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("14.freeze_base", answer)


@pytest.mark.parametrize("answer", [
    lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad),
    lambda m: int(np.sum([np.prod(p.shape) for p in m.parameters() if p.requires_grad], dtype=np.int64)),
])
def test_count_trainable_accepts(answer):
    assert check("14.count_trainable", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda m: sum(p.numel() for p in m.parameters()), "counted every parameter"),
    (lambda m: sum(1 for p in m.parameters() if p.requires_grad), "tensors"),
    (lambda m: [p.numel() for p in m.parameters() if p.requires_grad], "one number"),
    (lambda m: m.requires_grad_(False) and 0, "changed requires_grad"),
])
def test_count_trainable_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("14.count_trainable", answer)


def groups_comprehension(model, base_lr, head_lr):
    return [{"params": [p for p in model.base.parameters() if p.requires_grad], "lr": base_lr},
            {"params": [p for p in model.head.parameters() if p.requires_grad], "lr": head_lr}]


def groups_by_name(model, base_lr, head_lr):
    groups = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            lr = head_lr if name.startswith("head") else base_lr
            groups.setdefault(lr, []).append(p)
    return [{"params": ps, "lr": lr} for lr, ps in groups.items()]


@pytest.mark.parametrize("answer", [groups_comprehension, groups_by_name])
def test_param_groups_accepts(answer):
    assert check("14.finetune_param_groups", answer)


@pytest.mark.parametrize("answer,hint", [
    (lambda m, b, h: groups_comprehension(m, h, b), "swapped"),
    (lambda m, b, h: groups_comprehension(m, b, b), "same learning rate"),
    (lambda m, b, h: groups_comprehension(m, b, h)[:1], "in no group"),
    (lambda m, b, h: [{"params": list(m.base.parameters()), "lr": b},
                      {"params": list(m.head.parameters()), "lr": h}], "frozen parameter"),
    (lambda m, b, h: [{"params": [p for p in m.parameters() if p.requires_grad], "lr": b},
                      {"params": list(m.head.parameters()), "lr": h}], "could not use your groups"),
    (lambda m, b, h: {"params": m.parameters(), "lr": b}, "list of dicts"),
])
def test_param_groups_rejects(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        check("14.finetune_param_groups", answer)
