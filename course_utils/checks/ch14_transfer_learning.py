"""Checks for chapter 14, transfer learning. PyTorch is imported inside the checks only."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import CheckFailed, call, expect_equal, register, to_array
from course_utils.frameworks import require_framework


def _model(n_classes=5, seed=0):
    from course_utils.pretrained import build_source_cnn

    return build_source_cnn(n_classes, seed=seed)


@register("14.few_shot_indices")
def check_few_shot_indices(few_shot_indices):
    """few_shot_indices(labels, k, seed) returns k distinct indices of every class, reproducibly."""
    rng = np.random.default_rng(14)
    for n_classes, n, k in [(3, 30, 4), (5, 200, 1), (10, 500, 7), (4, 16, 4)]:
        labels = rng.permutation(np.arange(n) % n_classes)
        case = f"{n} labels of {n_classes} classes, k={k}"
        out = to_array(call(few_shot_indices, labels, k, 0, name="few_shot_indices"), "the indices")
        if out.ndim != 1 or not np.issubdtype(out.dtype, np.integer):
            raise CheckFailed(f"return a 1-D array of integer indices into labels, not {out.dtype} of shape "
                              f"{out.shape} ({case}).")
        if out.size and (out.min() < 0 or out.max() >= n):
            raise CheckFailed(f"some indices are outside 0..{n - 1} ({case}).")
        if out.size == k and n_classes > 1:
            raise CheckFailed(f"you returned {k} indices in total; take k={k} examples of *every* class, "
                              f"{k * n_classes} in all ({case}).")
        if len(np.unique(out)) < out.size:
            raise CheckFailed(f"some examples are drawn twice: sample without replacement "
                              f"(replace=False) ({case}).")
        counts = np.bincount(labels[out], minlength=n_classes)
        one_missing = np.r_[np.full(n_classes - 1, k), 0]
        expect_equal(counts, np.full(n_classes, k), "the number of examples per class", case=case,
                     mistakes={"one class gets no examples: loop over every class": one_missing})
        again = to_array(call(few_shot_indices, labels, k, 0, name="few_shot_indices"), "the indices")
        if not np.array_equal(np.sort(again), np.sort(out)):
            raise CheckFailed("two calls with the same seed gave different examples: create the random "
                              "generator from the seed inside the function (np.random.default_rng(seed)).")
    labels = rng.permutation(np.arange(400) % 4)
    draws = {tuple(np.sort(to_array(call(few_shot_indices, labels, 5, s, name="few_shot_indices"))))
             for s in range(4)}
    if len(draws) == 1:
        raise CheckFailed("different seeds give the same examples: the seed is ignored, or the first k of "
                          "each class are taken instead of a random draw.")
    return "k distinct examples per class, reproducible and seed-dependent"


def _states(model):
    return {name: p.requires_grad for name, p in model.named_parameters()}


@register("14.freeze_base")
def check_freeze_base(freeze_base):
    """freeze_base(model) stops training model.base and trains model.head; returns the model."""
    for start_frozen in (False, True):
        model = _model()
        if start_frozen:
            for p in model.parameters():
                p.requires_grad = False
        out = call(lambda m=model: freeze_base(m), name="freeze_base")
        if out is not model:
            raise CheckFailed("freeze_base should change the model it is given and return it "
                              "(`return model`).")
        states = _states(model)
        base = [v for k, v in states.items() if k.startswith("base.")]
        head = [v for k, v in states.items() if k.startswith("head.")]
        if all(head) and all(base):
            raise CheckFailed("nothing is frozen: set requires_grad = False for every parameter of model.base.")
        if not any(head) and not any(base):
            if start_frozen:
                raise CheckFailed("the head does not train: it was frozen before the call, so set "
                                  "requires_grad = True for the parameters of model.head.")
            raise CheckFailed("the head is frozen too: only model.base should be frozen; the new head "
                              "must train (requires_grad = True).")
        if any(base):
            trainable = [k for k, v in states.items() if k.startswith("base.") and v]
            raise CheckFailed(f"part of the base still trains ({', '.join(trainable)}): loop over "
                              "model.base.parameters(), weights and biases alike.")
        if not all(head):
            hint = (" (it was frozen before the call: set requires_grad = True for its parameters)"
                    if start_frozen else "")
            raise CheckFailed(f"some head parameters do not train{hint}.")
    return "base frozen, head trainable"


def _count_case(model, trainable_filter):
    for name, p in model.named_parameters():
        p.requires_grad = trainable_filter(name)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@register("14.count_trainable")
def check_count_trainable(count_trainable):
    """count_trainable(model) returns the number of trainable parameter values."""
    cases = [("a model with everything trainable", lambda name: True),
             ("a model with a frozen base", lambda name: name.startswith("head.")),
             ("a model with block1 frozen", lambda name: not name.startswith("base.block1")),
             ("a model whose biases are frozen", lambda name: not name.endswith("bias"))]
    for n_classes, (case, keep) in zip((5, 3, 10, 2), cases, strict=True):
        model = _model(n_classes)
        expected = _count_case(model, keep)
        before = _states(model)
        got = call(lambda m=model: count_trainable(m), name="count_trainable")
        if _states(model) != before:
            raise CheckFailed("count_trainable changed requires_grad of the model: only count.")
        total = sum(p.numel() for p in model.parameters())
        tensors = sum(1 for p in model.parameters() if p.requires_grad)
        value = to_array(got, "the count")
        if value.size != 1:
            raise CheckFailed(f"count_trainable should return one number, not shape {value.shape}.")
        expect_equal(value.reshape(()).astype(np.int64), expected, "the count", case=case,
                     mistakes={"you counted every parameter: count only those with requires_grad=True": total,
                               "you counted parameter tensors; count their values with p.numel()": tensors})
    return "four models with different frozen parts"


@register("14.finetune_param_groups")
def check_finetune_param_groups(finetune_param_groups):
    """finetune_param_groups(model, base_lr, head_lr) gives the trainable base parameters base_lr
    and the head head_lr, for torch.optim."""
    torch = require_framework("torch")
    base_lr, head_lr = 1e-4, 3e-3
    for case in ("block1 frozen", "nothing frozen", "a head parameter frozen too"):
        model = _model()
        if case != "nothing frozen":
            for p in model.base.block1.parameters():
                p.requires_grad = False
        if case == "a head parameter frozen too":  # "frozen parameters must not appear", head included
            list(model.head.parameters())[-1].requires_grad = False
        groups = call(lambda m=model: finetune_param_groups(m, base_lr, head_lr),  # noqa: B023
                      name="finetune_param_groups")
        if isinstance(groups, dict) or not hasattr(groups, "__iter__"):
            raise CheckFailed("return a list of dicts like [{'params': ..., 'lr': ...}, ...].")
        groups = list(groups)
        if not groups or not all(isinstance(g, dict) and "params" in g for g in groups):
            raise CheckFailed("each group should be a dict with a 'params' entry (and an 'lr').")
        try:
            optimizer = torch.optim.Adam(groups, lr=0.5)
        except (ValueError, TypeError) as err:
            raise CheckFailed(f"torch.optim.Adam could not use your groups: {err}") from None
        lr_of = {}
        for group in optimizer.param_groups:
            for p in group["params"]:
                lr_of[id(p)] = group["lr"]
        for name, p in model.named_parameters():
            part = "head" if name.startswith("head.") else "base"
            if not p.requires_grad and id(p) in lr_of:
                raise CheckFailed(f"the frozen parameter {name} is in a group: pass only parameters "
                                  f"with requires_grad=True ({case}).")
            if p.requires_grad and id(p) not in lr_of:
                raise CheckFailed(f"the {part} parameter {name} is in no group, so it would not train ({case}).")
        rates = {part: {lr_of[id(p)] for p in getattr(model, part).parameters() if p.requires_grad}
                 for part in ("base", "head")}
        if len(rates["base"] | rates["head"]) == 1:
            raise CheckFailed(f"every parameter got the same learning rate: the pretrained base needs the "
                              f"lower base_lr and the head head_lr ({case}).")
        if rates["base"] == {head_lr} and rates["head"] == {base_lr}:
            raise CheckFailed(f"the learning rates are swapped: the pretrained base gets the *lower* base_lr, "
                              f"the new head head_lr ({case}).")
        for part, wanted in (("base", base_lr), ("head", head_lr)):
            if not all(np.isclose(r, wanted) for r in rates[part]):
                raise CheckFailed(f"the {part} parameters have learning rate(s) "
                                  f"{', '.join(f'{r:g}' for r in sorted(rates[part]))}, expected {wanted:g} "
                                  f"({case}).")
    return "trainable base parameters at base_lr, head at head_lr, frozen ones left out"
