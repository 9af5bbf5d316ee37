"""Framework objects as plain data (course_utils.grading.agent.bridge): descriptions and states."""

from __future__ import annotations

import json

import numpy as np
import pytest

from course_utils.grading.agent import bridge, wire

torch = pytest.importorskip("torch")
nn = torch.nn


def _hooks(remote=None):
    def out(value, enc):
        if bridge.is_tensor(value):
            return bridge.encode_tensor(value, enc)
        if bridge.is_module(value):
            return bridge.describe_module(value, enc, {"handle": 1})
        if bridge.is_optimizer(value):
            return bridge.describe_optimizer(value, enc)
        if bridge.is_loader(value):
            return bridge.describe_loader(value, enc)
        return None

    def into(tag, body, dec, number):
        if tag == "__tensor__":
            return bridge.decode_tensor(body, dec)
        if tag == "__module__":
            return bridge.rebuild_module(body, dec, lambda b: remote)
        if tag == "__optimizer__":
            return bridge.rebuild_optimizer(body, dec)
        if tag == "__loader__":
            return bridge.rebuild_loader(body, dec)
        raise ValueError(tag)

    return out, into


def _across(value, remote=None):
    out, into = _hooks(remote)
    return wire.decode(json.loads(json.dumps(wire.encode(value, hook=out))), hook=into)


def test_a_module_of_torch_nn_is_rebuilt_from_its_settings_and_computes_the_same():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, (3, 2), stride=2, padding=1, bias=False), nn.BatchNorm2d(3), nn.ReLU(),
                          nn.Flatten(), nn.Linear(3 * 3 * 4, 4), nn.GRU(4, 5, batch_first=True))
    model[1].running_mean.uniform_()
    model.eval()
    model[1].train()
    back = _across(model)
    assert type(back) is nn.Sequential and type(back[0]) is nn.Conv2d and type(back[5]) is nn.GRU
    assert back[0].stride == (2, 2) and back[0].bias is None and back[5].batch_first
    assert [m.training for m in back.modules()] == [m.training for m in model.modules()]
    x = torch.randn(2, 2, 5, 7)
    with torch.no_grad():
        assert torch.equal(back[:5](x), model[:5](x))


def test_shared_weights_stay_shared_and_parameters_stay_parameters():
    model = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5))
    model[1].weight = model[0].weight
    model[1].bias.requires_grad_(False)
    back = _across(model)
    assert back[1].weight is back[0].weight and isinstance(back[0].weight, nn.Parameter)
    assert not back[1].bias.requires_grad


def test_any_other_module_becomes_a_mirror_whose_forward_runs_elsewhere():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(2, 2)

        def forward(self, x):
            return 2 * self.inner(x)

    calls = []
    back = _across(Twice(), remote=lambda module, args, kwargs: calls.append(args) or "ran there")
    assert type(back).__name__ == "Twice" and bridge.is_mirror(back) and type(back.inner) is nn.Linear
    assert back(torch.ones(2)) == "ran there" and len(calls) == 1


def test_a_description_allocates_no_more_than_the_data_it_carries():
    """A linear layer described as 10**6 x 10**6 without its weights is never allocated."""
    out, into = _hooks()
    data = json.loads(json.dumps(wire.encode(nn.Linear(2, 2), hook=out)))
    data["__module__"]["settings"].update(in_features=10**6, out_features=10**6)
    back = wire.decode(data, hook=into)
    assert bridge.is_mirror(back), "the settings do not match the weights: not rebuilt as nn.Linear"
    data["__module__"]["settings"].update(in_features=10**9, out_features=10**9)
    assert bridge.is_mirror(wire.decode(data, hook=into))


def test_the_state_of_a_module_goes_both_ways():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    copy = _across(model)
    with torch.no_grad():
        copy[0].weight.add_(1.0)
    copy[1].running_mean += 3
    copy.eval()
    copy[0].bias.requires_grad_(False)
    bridge.apply_state(model, wire.decode(json.loads(json.dumps(wire.encode(bridge.module_state(copy))))))
    assert torch.equal(model[0].weight, copy[0].weight) and torch.equal(model[1].running_mean, copy[1].running_mean)
    assert not model.training and not model[1].training and not model[0].bias.requires_grad


def test_optimisers_and_loaders_travel_with_their_settings_and_state():
    from course_utils.frameworks import torch_loader

    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    loader = torch_loader(np.arange(10.0).reshape(5, 2), np.arange(5), batch_size=2, shuffle=True, seed=4)
    back_model, back_optimizer, back_loader = _across([model, optimizer, loader])
    assert back_optimizer.param_groups[0]["params"][0] is back_model.weight
    assert back_optimizer.param_groups[0]["lr"] == 0.3 and back_optimizer.param_groups[0]["momentum"] == 0.9
    assert [b[1].tolist() for b in back_loader] == [b[1].tolist() for b in loader]
    back_optimizer.param_groups[0]["lr"] = 0.1
    bridge.apply_optimizer_state(optimizer, bridge.optimizer_state(back_optimizer))
    assert optimizer.param_groups[0]["lr"] == 0.1


def test_a_value_computed_elsewhere_joins_this_sides_graph():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    elsewhere = x.detach().requires_grad_(True)
    y_there = (elsewhere ** 3).sum()
    y = bridge.attach_graph(y_there.detach(), [x], lambda g: bridge.vector_jacobian(y_there, [elsewhere], g),
                            "CubeBackward")
    assert type(y.grad_fn).__name__ == "CubeBackward"
    y.backward()
    assert torch.allclose(x.grad, 3 * x.detach() ** 2)


def test_keras_chains_and_initialisers_are_rebuilt_from_their_settings():
    keras = pytest.importorskip("keras")
    from course_utils.frameworks import require_framework

    keras = require_framework("keras")
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(2)])
    init = keras.initializers.VarianceScaling(scale=1 / 3, mode="fan_in", distribution="uniform", seed=5)

    def out(value, enc):
        return bridge.describe_keras(value, enc)

    def into(tag, body, dec, number):
        return bridge.rebuild_keras(body, dec)

    back_model, back_init = wire.decode(json.loads(json.dumps(wire.encode([model, init], hook=out))), hook=into)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    assert np.allclose(np.asarray(back_model(x)), np.asarray(model(x)), atol=1e-6)
    assert np.array_equal(np.asarray(back_init((4, 3))), np.asarray(init((4, 3))))

    class Custom(keras.layers.Layer):
        def call(self, x):
            return x

    inputs = keras.Input(shape=(3,))
    assert bridge.describe_keras(keras.Model(inputs, Custom()(inputs)), None) is None
