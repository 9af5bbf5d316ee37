"""Chapter 14's ImageNet route: the cells a reader who is online runs, run here offline against
stand-ins in the real formats, so that the code such a reader gets is the code tested.

- PyTorch: ResNet-18's weights, a state dict with torchvision's names and shapes (random
  values), served by a local HTTP server; the chapter's ``torch.hub.load_state_dict_from_url``
  downloads it into an empty hub cache. torchvision itself cannot be installed beside this
  torch build, so the kernel finds a stand-in package instead, whose ``models.resnet18()``
  builds torchvision's ResNet-18 architecture under torchvision's parameter names.
- Keras: MobileNetV2's base weights in the legacy HDF5 layout of the published file, under the
  published file's name in an empty ``$KERAS_HOME/models``, where ``keras.applications`` looks
  before it downloads.

The test sends the package's ``RESNET18_URL`` to the local server in a cell of its own, run
before the chapter's; the chapter's cells run unchanged.
"""

from __future__ import annotations

import importlib.util
import os
import re
import textwrap

import jupytext
import nbformat
import pytest

from course_utils.authoring.notebooks import kernel_env, run_notebook
from course_utils.authoring.site import serve
from course_utils.pretrained import MOBILENET_V2_FILE, RESNET18_URL
from tests.conftest import ROOT

LECTURE = ROOT / "book" / "14-transfer-learning.md"
RESNET18_FILE = RESNET18_URL.rsplit("/", 1)[1]

STAND_IN_TORCHVISION = '''
"""A stand-in for torchvision, for tests: ``models.resnet18()`` builds torchvision's ResNet-18
architecture, with torchvision's parameter names, and random weights."""
'''

STAND_IN_MODELS = '''
"""torchvision.models.resnet18's architecture and parameter names (He et al., 2015)."""
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                            nn.BatchNorm2d(c_out))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
        for i, (c_in, c_out, stride) in enumerate(widths, start=1):
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(c_in, c_out, stride),
                                                     BasicBlock(c_out, c_out, 1)))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(*, weights=None, progress=True, **kwargs):
    if weights is not None:
        raise NotImplementedError("the stand-in has no weights of its own")
    return ResNet(**kwargs)
'''

STAND_IN_KERAS_WEIGHTS = '''
# MobileNetV2's base with random weights, written in the legacy HDF5 layout of the published
# file (a group per layer, its weight names in an attribute), under the published file's name.
import os

import h5py

from course_utils.frameworks import select_keras_backend
from course_utils.pretrained import MOBILENET_V2_FILE, keras_home

select_keras_backend()
import keras

stand_in = keras.applications.MobileNetV2(include_top=False, weights=None,
                                          input_shape=(96, 96, 3), pooling="avg")
os.makedirs(keras_home() / "models", exist_ok=True)
with h5py.File(keras_home() / "models" / MOBILENET_V2_FILE, "w") as f:
    f.attrs["layer_names"] = [layer.name.encode() for layer in stand_in.layers]
    f.attrs["backend"] = b"tensorflow"
    f.attrs["keras_version"] = b"2.2.4"
    for layer in stand_in.layers:
        group = f.create_group(layer.name)
        weights = layer.trainable_weights + layer.non_trainable_weights
        names = [f"{layer.name}/{w.name}:0".encode() for w in weights]
        group.attrs["weight_names"] = names
        for name, weight in zip(names, weights):
            group.create_dataset(name.decode(), data=keras.ops.convert_to_numpy(weight))
del stand_in
'''


def imagenet_cells() -> list:
    """The code cells of the lecture's section "The ImageNet route"."""
    cells = jupytext.read(LECTURE).cells
    start = next(i for i, c in enumerate(cells)
                 if c.cell_type == "markdown" and "## The ImageNet route" in c.source)
    end = next(i for i, c in enumerate(cells)
               if i > start and c.cell_type == "markdown" and re.search(r"^## ", c.source, re.M))
    return [c for c in cells[start:end] if c.cell_type == "code"]


def _outputs(cell) -> str:
    return "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                     for o in cell.get("outputs", []))


def _run(cells, env, setup=()):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(textwrap.dedent(code)) for code in setup] + cells
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    executed = run_notebook(notebook, env=env, cwd=ROOT / "book", cell_timeout=600)
    return executed.cells[len(setup):]


def _tagged(cells, tag):
    return [c for c in cells if tag in c.metadata.get("tags", [])]


def test_the_section_has_both_frameworks_and_is_self_contained():
    cells = imagenet_cells()
    assert len(_tagged(cells, "framework-pytorch")) == 1
    assert len(_tagged(cells, "framework-keras")) == 1
    assert any("import torch" in c.source for c in cells if not c.metadata.get("tags"))


@pytest.mark.slow
def test_a_readers_imagenet_route_runs_against_stand_ins(tmp_path):
    if importlib.util.find_spec("h5py") is None:
        pytest.skip("h5py (a dependency of Keras' HDF5 files) is not installed")
    package = tmp_path / "stand_ins" / "torchvision"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(STAND_IN_TORCHVISION + "from torchvision import models\n")
    (package / "models.py").write_text(STAND_IN_MODELS)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    spec = importlib.util.spec_from_file_location("stand_in_models", package / "models.py")
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    import torch

    torch.save(models.resnet18().state_dict(), mirror / RESNET18_FILE)

    env = kernel_env(profile="smoke")
    env.update(TORCH_HOME=str(tmp_path / "torch"), KERAS_HOME=str(tmp_path / "keras"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path / "stand_ins"),
                                                        env.get("PYTHONPATH")])))
    with serve(mirror, compress=False) as url:
        point = (f"import course_utils.pretrained as pretrained\n"
                 f"pretrained.RESNET18_URL = {url + '/' + RESNET18_FILE!r}\n")
        cells = _run(imagenet_cells(), env, setup=[point, STAND_IN_KERAS_WEIGHTS])
    torch_text = _outputs(_tagged(cells, "framework-pytorch")[0])
    keras_text = _outputs(_tagged(cells, "framework-keras")[0])
    for text in (torch_text, keras_text):
        assert "Skipped" not in text
        assert "output shape: (8, 10)" in text, text
    assert "fc.weight (1000, 512)" in torch_text
    assert "5,130 parameters train" in torch_text  # 512 x 10 + 10: the new head only
    assert "12,810 train" in keras_text  # 1280 x 10 + 10
    assert (tmp_path / "torch" / "hub" / "checkpoints" / RESNET18_FILE).is_file()
    assert (tmp_path / "keras" / "models" / MOBILENET_V2_FILE).is_file()


@pytest.mark.slow
def test_without_weights_or_network_the_cells_say_so(tmp_path):
    env = kernel_env(profile="smoke")
    env.update(TORCH_HOME=str(tmp_path / "torch"), KERAS_HOME=str(tmp_path / "keras"))
    closed = ("import course_utils.pretrained as pretrained\n"
              "pretrained.RESNET18_URL = 'http://127.0.0.1:9/resnet18-f37072fd.pth'\n"
              "pretrained.MOBILENET_V2_URL = 'http://127.0.0.1:9/mobilenet.h5'\n")
    cells = _run(imagenet_cells(), env, setup=[closed])
    for tag in ("framework-pytorch", "framework-keras"):
        assert "Skipped" in _outputs(_tagged(cells, tag)[0])
