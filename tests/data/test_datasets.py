"""The dataset loaders (course_utils.data.datasets): offline fallbacks, checksums, downloads."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from course_utils.data import datasets


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_parse_idx_roundtrip_and_errors(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", array)
    assert np.array_equal(datasets.parse_idx(gzip.decompress((tmp_path / "a.gz").read_bytes())), array)
    with pytest.raises(ValueError):
        datasets.parse_idx(b"garbage!")


def test_fashion_missing_everywhere_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_DIR", tmp_path / "nothing")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    with pytest.raises(datasets.DatasetUnavailable, match="apt-get install dataset-fashion-mnist"):
        datasets.load_fashion_mnist(download=False, verbose=False)


def test_fashion_checksum_mismatch_is_reported(tmp_path, monkeypatch):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name in datasets.IDX_FILES.values():
        _write_idx(folder / name, np.zeros((2, 28, 28) if "images" in name else (2,)))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(datasets.DatasetUnavailable, match="checksum mismatch"):
        datasets.load_fashion_mnist(verbose=False)


@pytest.mark.skipif(not datasets.DEBIAN_FASHION_DIR.exists(),
                    reason="needs Debian's dataset-fashion-mnist (installed by the README setup)")
def test_fashion_from_debian_package():
    data = datasets.load_fashion_mnist(n_train=500, n_test=200, seed=0, verbose=False)
    (x_train, y_train), (x_test, y_test) = data
    assert x_train.shape == (500, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (200, 28, 28) and set(np.unique(y_train)) <= set(range(10))
    assert "Fashion-MNIST" in data.source and len(data.class_names) == 10


def test_mnist_offline_subset_reports_its_source():
    data = datasets.load_mnist(source="subset", verbose=False)
    assert data.x_train.shape == (4000, 28, 28) and data.x_test.shape == (1000, 28, 28)
    assert np.bincount(data.y_test).tolist() == [100] * 10
    assert "subset" in data.source


def test_mnist_auto_falls_back_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(datasets, "_download", offline)
    assert "subset" in datasets.load_mnist(verbose=False).source
    with pytest.raises(datasets.DatasetUnavailable, match="source='subset'"):
        datasets.load_mnist(source="full", verbose=False)


@pytest.fixture
def idx_mirror(tmp_path):
    """A local HTTP server that serves four tiny IDX files; yields (base URL, their MD5s)."""
    import functools
    import hashlib
    import http.server
    import threading

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    md5 = {}
    for name in datasets.IDX_FILES.values():
        raw = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02ab")
        (mirror / name).write_bytes(raw)
        md5[name] = hashlib.md5(raw).hexdigest()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(mirror))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", md5
    server.shutdown()


def test_download_checks_md5_and_stays_quiet(idx_mirror, tmp_path, capfd):
    url, md5 = idx_mirror
    target = tmp_path / "cache"
    datasets._download(url, target, md5, timeout=5, verbose=False)
    assert sorted(p.name for p in target.iterdir()) == sorted(datasets.IDX_FILES.values())
    assert datasets._read_idx(target, None)["train_labels"].tolist() == [97, 98]
    datasets._check_md5(target, md5)
    assert capfd.readouterr().err == ""  # no download announcements in a notebook's stderr


def test_download_keeps_nothing_that_fails_its_checksum(idx_mirror, tmp_path):
    url, md5 = idx_mirror
    wrong = dict(md5, **{"t10k-labels-idx1-ubyte.gz": "0" * 32})
    target = tmp_path / "cache"
    with pytest.raises(ValueError, match="MD5"):
        datasets._download(url, target, wrong, timeout=5, verbose=False)
    assert not (target / "t10k-labels-idx1-ubyte.gz").exists()
    with pytest.raises(datasets.DatasetUnavailable, match="is missing"):
        datasets._check_md5(target, wrong)
    (target / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not the release")
    with pytest.raises(datasets.DatasetUnavailable, match="checksum mismatch"):
        datasets._check_md5(target, wrong)


def test_fashion_download_failure_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_DIR", tmp_path / "no-debian-package")

    def corrupt(*args, **kwargs):
        raise ValueError("MD5 hash of downloaded file does not match the known hash")

    monkeypatch.setattr(datasets, "_download", corrupt)
    with pytest.raises(datasets.DatasetUnavailable, match="apt-get install dataset-fashion-mnist"):
        datasets.load_fashion_mnist(verbose=False)
