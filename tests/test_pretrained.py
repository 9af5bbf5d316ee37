"""Chapter 14's source model (course_utils.pretrained): its two parts, the cache, the Keras twin
that reads the same weights, and where the ImageNet weights are looked for."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import pretrained
from course_utils.profile import Profile

torch = pytest.importorskip("torch")


def test_base_and_head():
    model = pretrained.build_source_cnn(7, seed=3)
    assert [name for name, _ in model.base.named_children()] == ["block1", "block2", "flatten", "dense"]
    x = torch.rand(5, 1, 28, 28)
    model.eval()
    with torch.no_grad():
        features = model.base(x)
        assert features.shape == (5, pretrained.N_FEATURES)
        assert model.base[:3](x).shape == (5, pretrained.N_MAPS)
        assert model(x).shape == (5, 7)
    assert model.head.in_features == pretrained.N_FEATURES
    again = pretrained.build_source_cnn(7, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))


def test_trained_once_then_loaded_from_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    sizes = {"n_classes": 4, "n_per_class": 6, "epochs": 1, "profile": Profile("smoke")}
    first = pretrained.load_source_model(**sizes)
    assert "Training the source model" in capsys.readouterr().out
    files = list((tmp_path / "models").glob("*.pt"))
    assert len(files) == 1 and "k4" in files[0].name
    second = pretrained.load_source_model(**sizes)
    assert "Loaded the source model" in capsys.readouterr().out
    assert not second.training
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    chosen = pretrained.load_source_model(classes="AЖ→", n_per_class=3, epochs=1, verbose=False)
    assert chosen.head.out_features == 3
    assert len(list((tmp_path / "models").glob("*.pt"))) == 2
    with pytest.raises(ValueError, match="not both"):
        pretrained.load_source_model(n_classes=3, classes="AЖ→")


@pytest.mark.slow
def test_keras_twin_gives_the_same_outputs():
    from course_utils.frameworks import select_keras_backend

    select_keras_backend()
    keras = pytest.importorskip("keras")
    model = pretrained.build_source_cnn(6, seed=1)
    with torch.no_grad():  # batch-norm statistics away from their initial values
        for bn in (model.base.block1[1], model.base.block2[1]):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    model.eval()
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.as_tensor(x)).numpy()
    twin = pretrained.keras_source_model(model)
    got = keras.ops.convert_to_numpy(twin(np.moveaxis(x, 1, -1), training=False))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [layer.name for layer in twin.layers][-2:] == ["dense", "head"]


def test_imagenet_weights_found_in_the_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(pretrained, "RESNET18_URL", "http://127.0.0.1:9/resnet18-f37072fd.pth")
    monkeypatch.setattr(pretrained, "MOBILENET_V2_URL", "http://127.0.0.1:9/mobilenet.h5")
    assert not pretrained.imagenet_weights_available("torch")
    assert not pretrained.imagenet_weights_available("keras")
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "resnet18-f37072fd.pth").write_bytes(b"")
    (tmp_path / "keras" / "models").mkdir(parents=True)
    (tmp_path / "keras" / "models" / pretrained.MOBILENET_V2_FILE).write_bytes(b"")
    assert pretrained.imagenet_weights_available("torch")
    assert pretrained.imagenet_weights_available("keras")
    with pytest.raises(ValueError, match="torch' or 'keras"):
        pretrained.imagenet_weights_available("jax")
