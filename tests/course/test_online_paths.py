"""The paths a reader online takes that the offline test machine never would: a chapter's
download of full MNIST (``load_mnist(source="auto")`` in the full profile) and of
Fashion-MNIST (a machine without Debian's package, as on Colab), run through the chapter's own
cells against a local server of small files in the real formats (gzipped IDX), with no
network. Chapter 14's ImageNet route is tested with that chapter."""

from __future__ import annotations

import gzip
import hashlib
import struct

import jupytext
import nbformat
import numpy as np
import pytest

from course_utils.authoring.notebooks import kernel_env, run_notebook
from course_utils.authoring.site import serve
from course_utils.data.datasets import IDX_FILES
from tests.conftest import ROOT

#: (lecture, what the reader's run must report): the chapters whose cells download data.
ONLINE_PATHS = [
    ("07-fashion-mlp", ["Fashion-MNIST, downloaded into the course cache", "MNIST full set"]),
]


def _idx(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes, as the MNIST publishers write them."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _stand_in(folder, n_train=600, n_test=200, seed=0) -> dict:
    """Four gzipped IDX files of 28x28 images with labels 0-9 (each class its own blob, so a
    network can learn them); returns the MD5 of each .gz and the SHA-256 of its content."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    sums = {"md5": {}, "sha256": {}}
    for part, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, size=(n, 28, 28))
        for k, label in enumerate(labels):
            row, col = divmod(int(label), 4)
            images[k, 4 + 6 * row: 10 + 6 * row, 3 + 6 * col: 9 + 6 * col] += 180
        for kind, array in (("images", images), ("labels", labels)):
            name = IDX_FILES[f"{part}_{kind}"]
            raw = _idx(array)
            packed = gzip.compress(raw, mtime=0)
            (folder / name).write_bytes(packed)
            sums["md5"][name] = hashlib.md5(packed).hexdigest()
            sums["sha256"][name] = hashlib.sha256(raw).hexdigest()
    return sums


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """A local server with stand-ins of both publishers' files; yields (url, checksums)."""
    root = tmp_path_factory.mktemp("mirror")
    sums = {name: _stand_in(root / name, seed=seed) for seed, name in enumerate(("mnist", "fashion"))}
    with serve(root, compress=False) as url:
        yield url, sums


def _pointing_at(url: str, sums: dict, missing_dir) -> str:
    """The cell that sends the course's loaders to the stand-ins, run before the chapter's
    imports. The test, not the package, swaps the publishers' URLs and checksums; the loader
    code and the chapter's cells run as a reader's would."""
    return f"""
from pathlib import Path
import course_utils.data.datasets as datasets

datasets.MNIST_URL = "{url}/mnist/"
datasets.MNIST_DOWNLOAD_MD5 = {sums["mnist"]["md5"]!r}
datasets.FASHION_URL = "{url}/fashion/"
datasets.FASHION_DOWNLOAD_MD5 = {sums["fashion"]["md5"]!r}
datasets.FASHION_SHA256 = {sums["fashion"]["sha256"]!r}
datasets.DEBIAN_FASHION_DIR = Path({str(missing_dir)!r})  # a machine without Debian's package
_load_mnist = datasets.load_mnist


def _as_in_the_full_profile(**kwargs):  # the full set when it can be downloaded
    return _load_mnist(**dict(kwargs, source="auto"))


datasets.load_mnist = _as_in_the_full_profile
"""


@pytest.mark.slow
@pytest.mark.parametrize(("lecture", "reports"), ONLINE_PATHS, ids=[p[0] for p in ONLINE_PATHS])
def test_a_readers_download_path_runs_against_stand_ins(mirror, tmp_path, lecture, reports):
    url, sums = mirror
    notebook = jupytext.read(ROOT / "book" / f"{lecture}.md")
    first_code = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")
    notebook.cells.insert(first_code + 1, nbformat.v4.new_code_cell(_pointing_at(url, sums, tmp_path / "none")))
    env = kernel_env(profile="smoke")
    env.update(COURSE_CACHE_DIR=str(tmp_path / "cache"), COURSE_DATA_DIR=str(tmp_path / "empty"))
    executed = run_notebook(notebook, env=env, cwd=ROOT / "book", cell_timeout=600)
    text = "\n".join(str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
                     for cell in executed.cells if cell.cell_type == "code" for output in cell.get("outputs", []))
    for report in reports:
        assert report in text, f"{lecture}: the run never reported {report!r}"
    for name in IDX_FILES.values():
        assert (tmp_path / "cache" / "mnist" / name).is_file(), f"{name} not downloaded"
