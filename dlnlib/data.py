"""Data sets: locate, verify and read MNIST, Fashion-MNIST, USPS, a CIFAR-10 subset and MovieLens-100K.

Files are named by a relative path (``mnist/train-images-idx3-ubyte.gz``, ``ml-100k/u.data``) and looked up
in :func:`data_dirs`: the folders in ``DLN_DATA_DIR`` (several allowed, ``os.pathsep``-separated), then the
cache folder ``DLN_CACHE_DIR`` (default ``~/.cache/dlnlib/data``). Known files are checked against the sha256
sums in :data:`KNOWN_SHA256` (once per process). Nothing is downloaded here; the image sets come from the
workbook's ``shared/data`` folder (``export DLN_DATA_DIR=/path/to/shared/data``) and MovieLens-100K from
``scripts/fetch_movielens.py`` (which extracts ``u.data`` from the ``recbole==1.2.1`` wheel on PyPI).

Loaders return NumPy arrays: images as float32 in ``[0, 1]``, labels as int64.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from typing import Literal

import numpy as np

Split = Literal["train", "test"]

KNOWN_SHA256: dict[str, str] = {
    "mnist/train-images-idx3-ubyte.gz": "71524e2cd1ad2968737f7f2f2ff69cbfc32df8ccddff51593f7cb2d4e0eb5b64",
    "mnist/train-labels-idx1-ubyte.gz": "ec02e7948609e5754d47881c09b8afdd8dfa60600b9e5388c8c54a67069ec772",
    "mnist/t10k-images-idx3-ubyte.gz": "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
    "mnist/t10k-labels-idx1-ubyte.gz": "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
    "fashion-mnist/train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "fashion-mnist/train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "fashion-mnist/t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    "usps/usps.h5": "734f88c541104a956d88be2c95d03b4a463ffd74ccc2ba9c80841fb98e3fcb36",
    "cifar10-subset/images.bin.gz": "07b479d2dac89ccd25e187e4dc844b4a4b7e870b2589281899b824ffee2e3aa5",
    "cifar10-subset/labels.txt": "12324eb5b8a5d1c2c91dcf12bfdc7b4f6e7171439db5d64483e932c80c5822d5",
    "cifar10-subset/batches.meta.txt": "2ce042b1e0b48db4bb214408e6414ba18b2731c24af244f2d6c112fddf31af00",
    "ml-100k/u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
}

DATASETS: dict[str, tuple[str, ...]] = {
    "mnist": tuple(k for k in KNOWN_SHA256 if k.startswith("mnist/")),
    "fashion-mnist": tuple(k for k in KNOWN_SHA256 if k.startswith("fashion-mnist/")),
    "usps": ("usps/usps.h5",),
    "cifar10-subset": tuple(k for k in KNOWN_SHA256 if k.startswith("cifar10-subset/")),
    "movielens100k": ("ml-100k/u.data",),
}

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

_IMAGE_HINT = ("set DLN_DATA_DIR to a folder holding mnist/, fashion-mnist/, usps/ and cifar10-subset/, "
               "e.g. the workbook's shared/data (export DLN_DATA_DIR=/path/to/shared/data)")
_MOVIELENS_HINT = ("run `make data` or `python scripts/fetch_movielens.py DEST`, which extracts ml-100k/u.data "
                   "from the recbole==1.2.1 wheel on PyPI, into the cache folder or into a folder listed in "
                   "DLN_DATA_DIR")

_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256 of the file's bytes


class DatasetMissingError(FileNotFoundError):
    """A data file is in none of :func:`data_dirs`; the message says where to get it."""


# ----------------------------------------------------------------------------------------------- locating files

def data_dirs() -> list[Path]:
    """Folders searched for data files, in order: each entry of ``DLN_DATA_DIR``, then :func:`cache_dir`.

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, DLN_DATA_DIR=os.pathsep.join(["/a", "/b"]), DLN_CACHE_DIR="/c"):
    ...     [p.as_posix() for p in data_dirs()]
    ['/a', '/b', '/c']
    """
    env = os.environ.get("DLN_DATA_DIR", "")
    dirs = [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    cache = cache_dir()
    return dirs + ([cache] if cache not in dirs else [])


def cache_dir() -> Path:
    """The default data folder: ``DLN_CACHE_DIR`` if set, else ``~/.cache/dlnlib/data``."""
    return Path(os.environ.get("DLN_CACHE_DIR") or "~/.cache/dlnlib/data").expanduser()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, cached per process by ``(path, size, mtime)``."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _verified[key] = h.hexdigest()
    return _verified[key]


def find_file(relpath: str, sha256: str | None = None) -> Path:
    """Path of ``relpath`` in the first of :func:`data_dirs` that holds it, checked against its sha256.

    ``sha256`` defaults to the entry of :data:`KNOWN_SHA256` (no check for unknown files). Raises
    :class:`DatasetMissingError` if no folder holds the file, ``ValueError`` if the checksum differs.
    """
    expected = sha256 or KNOWN_SHA256.get(relpath)
    dirs = data_dirs()
    for d in dirs:
        p = d / relpath
        if p.is_file():
            if expected is not None:
                actual = sha256_file(p)
                if actual != expected.lower():
                    raise ValueError(f"checksum mismatch for {p}: expected sha256 {expected}, got {actual}; "
                                     f"the file is corrupt or a different version, replace it.")
            return p
    raise DatasetMissingError(_missing_message(relpath, dirs))


def _missing_message(relpath: str, dirs: list[Path]) -> str:
    if relpath.startswith("ml-100k/"):
        hint = _MOVIELENS_HINT
    elif relpath in KNOWN_SHA256:
        hint = _IMAGE_HINT
    else:
        hint = "put it under one of these folders or add its folder to DLN_DATA_DIR"
    env = os.environ.get("DLN_DATA_DIR")
    searched = ", ".join(str(d) for d in dirs)
    return (f"data file {relpath!r} not found; searched: {searched} "
            f"(DLN_DATA_DIR={'unset' if env is None else repr(env)}). To get it: {hint}.")


def available(name: str) -> bool:
    """Whether every file of data set ``name`` (a key of :data:`DATASETS`) is present.

    Raises ``ValueError`` for an unknown name, or if a present file fails its checksum.

    >>> available("no-such-set")
    Traceback (most recent call last):
    ...
    ValueError: unknown data set 'no-such-set'; known: mnist, fashion-mnist, usps, cifar10-subset, movielens100k
    """
    key = name.lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    try:
        for rel in DATASETS[key]:
            find_file(rel)
    except DatasetMissingError:
        return False
    return True


# ----------------------------------------------------------------------------------------------- format readers

_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_maybe_gzip(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzipped): an array of the shape and dtype its header gives (native byte order).

    Header: two zero bytes, a dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
    0x0E float64), the number of dimensions ``k``, then ``k`` big-endian uint32 sizes.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "tiny-idx1-ubyte"
    >>> _ = p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(p)
    array([7, 8, 9], dtype=uint8)
    """
    buf = _read_maybe_gzip(path)
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic bytes {buf[:4].hex()!r}; expected 0000 then a dtype "
                         f"code in {sorted(hex(c) for c in _IDX_DTYPES)} and the number of dimensions).")
    dtype, ndim = _IDX_DTYPES[buf[2]], buf[3]
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise ValueError(f"{path}: IDX header truncated ({len(buf)} bytes, header needs {header}).")
    shape = tuple(int(s) for s in np.frombuffer(buf, ">u4", count=ndim, offset=4))
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(buf) - header != need:
        raise ValueError(f"{path}: IDX sizes {shape} need {need} data bytes after the {header}-byte header, "
                         f"the file has {len(buf) - header}.")
    return np.frombuffer(buf, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_usps_h5(path: str | os.PathLike, split: Split = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read one split of ``usps.h5``: ``X`` float32 ``(N, 256)`` (rows are 16×16 images) and ``y`` int64 ``(N,)``.

    Layout: groups ``train`` and ``test``, each with ``data`` (N, 256) and ``target`` (N,).
    """
    import h5py

    _check_split(split)
    with h5py.File(path, "r") as f:
        if f"{split}/data" not in f or f"{split}/target" not in f:
            raise ValueError(f"{path}: expected datasets '{split}/data' and '{split}/target'; "
                             f"the file has {sorted(f.keys())} at the top level.")
        X = np.asarray(f[f"{split}/data"][()], dtype=np.float32)
        y = np.asarray(f[f"{split}/target"][()], dtype=np.int64)
    if X.ndim != 2 or X.shape[1] != 256 or y.shape != (X.shape[0],):
        raise ValueError(f"{path}: '{split}' has data {X.shape} and target {y.shape}; expected (N, 256) and (N,).")
    return X, y


def read_cifar_subset(directory: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a CIFAR-subset folder: ``X`` uint8 ``(N, 32, 32, 3)`` (NHWC, RGB), ``y`` int64 ``(N,)``, class names.

    Files: ``images.bin.gz`` (headerless uint8 NHWC, gzipped or raw), ``labels.txt`` (one label per line),
    ``batches.meta.txt`` (one class name per line). ``N`` is the number of labels.
    """
    d = Path(directory)
    y = np.loadtxt(d / "labels.txt", dtype=np.int64, ndmin=1)
    classes = (d / "batches.meta.txt").read_text().split()
    buf = _read_maybe_gzip(d / "images.bin.gz")
    if len(buf) != y.size * 32 * 32 * 3:
        raise ValueError(f"{d / 'images.bin.gz'}: {len(buf)} bytes, but {y.size} labels need "
                         f"{y.size} x 32 x 32 x 3 = {y.size * 3072} bytes.")
    if y.size and (y.min() < 0 or y.max() >= len(classes)):
        raise ValueError(f"{d / 'labels.txt'}: labels must lie in 0..{len(classes) - 1} (one per class name).")
    return np.frombuffer(buf, np.uint8).reshape(y.size, 32, 32, 3).copy(), y, classes


def read_movielens(path: str | os.PathLike) -> np.ndarray:
    """Read a MovieLens ``u.data`` file (tab-separated ``user item rating timestamp``): int64 ``(n, 4)``."""
    try:
        r = np.loadtxt(path, dtype=np.int64, delimiter="\t", ndmin=2)
    except ValueError as e:
        raise ValueError(f"{path}: expected tab-separated integer rows 'user item rating timestamp' ({e}).") from e
    if r.shape[0] == 0 or r.shape[1] != 4:
        raise ValueError(f"{path}: expected rows of 4 tab-separated integers, got an array of shape {r.shape}.")
    return r


# ----------------------------------------------------------------------------------------------- loaders

def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")


def _load_idx_pair(folder: str, split: Split, flatten: bool) -> tuple[np.ndarray, np.ndarray]:
    _check_split(split)
    prefix = "train" if split == "train" else "t10k"
    X = read_idx(find_file(f"{folder}/{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(find_file(f"{folder}/{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    if X.ndim != 3 or y.shape != (X.shape[0],):
        raise ValueError(f"{folder} {split}: images {X.shape} and labels {y.shape} do not match.")
    X = X.astype(np.float32) / np.float32(255)
    return (X.reshape(len(X), -1) if flatten else X), y


def load_mnist(split: Split = "train", flatten: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """MNIST: images float32 in [0, 1], ``(N, 28, 28)`` or ``(N, 784)`` if ``flatten``; labels int64 ``(N,)``.

    ``N`` = 60,000 (train) or 10,000 (test).
    """
    return _load_idx_pair("mnist", split, flatten)


def load_fashion_mnist(split: Split = "train", flatten: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST, as :func:`load_mnist`; class names in :data:`FASHION_MNIST_CLASSES`."""
    return _load_idx_pair("fashion-mnist", split, flatten)


def load_usps(split: Split = "train", flatten: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """USPS digits: images float32 in [0, 1], ``(N, 16, 16)`` or ``(N, 256)``; labels int64 ``(N,)``.

    ``N`` = 7,291 (train) or 2,007 (test).
    """
    X, y = read_usps_h5(find_file("usps/usps.h5"), split)
    return (X if flatten else X.reshape(-1, 16, 16)), y


def load_cifar10_subset(flatten: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The first 4,000 CIFAR-10 training images: float32 in [0, 1], ``(N, 3, 32, 32)`` (CHW) or ``(N, 3072)``.

    Flattened rows are in CIFAR's own order (1024 R, 1024 G, 1024 B). Labels int64 ``(N,)``, class names in
    :data:`CIFAR10_CLASSES`.
    """
    folders = {find_file(rel).parent for rel in DATASETS["cifar10-subset"]}
    if len(folders) != 1:
        raise ValueError(f"the cifar10-subset files are split across folders {sorted(map(str, folders))}.")
    X, y, _ = read_cifar_subset(folders.pop())
    X = X.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255)
    return (X.reshape(len(X), -1) if flatten else np.ascontiguousarray(X)), y


def load_movielens100k() -> np.ndarray:
    """MovieLens-100K ratings, int64 ``(100000, 4)``: user (1..943), item (1..1682), rating (1..5), timestamp."""
    return read_movielens(find_file("ml-100k/u.data"))


def movielens_matrix(ratings: np.ndarray, test_fraction: float = 0.2, seed: int = 0,
                     shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rating matrix and a random train/test split of its observed entries.

    ``ratings``: int ``(n, ≥3)`` rows ``user item rating …`` with 1-based ids. Returns ``M`` float64
    ``(n_users, n_items)`` (0 where unobserved; ``shape`` defaults to the largest ids, (943, 1682) for
    MovieLens-100K) and boolean masks ``train_mask``, ``test_mask`` of that shape: disjoint, their union is
    the observed set, and ``round(test_fraction · n)`` entries are in the test mask.

    >>> M, tr, te = movielens_matrix(np.array([[1, 1, 5, 0], [1, 2, 3, 0], [2, 2, 4, 0], [3, 1, 1, 0]]), 0.25)
    >>> M.tolist()
    [[5.0, 3.0], [0.0, 4.0], [1.0, 0.0]]
    >>> int(tr.sum()), int(te.sum()), bool((tr & te).any()), bool(((tr | te) == (M > 0)).all())
    (3, 1, False, True)
    """
    r = np.asarray(ratings)
    if r.ndim != 2 or r.shape[1] < 3 or len(r) == 0:
        raise ValueError(f"ratings must have shape (n, >=3) with rows 'user item rating ...', got {r.shape}.")
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must lie in [0, 1], got {test_fraction}.")
    u, i = r[:, 0].astype(np.int64) - 1, r[:, 1].astype(np.int64) - 1
    if u.min() < 0 or i.min() < 0:
        raise ValueError("user and item ids must be 1-based (>= 1).")
    shape = (int(u.max()) + 1, int(i.max()) + 1) if shape is None else tuple(shape)
    if u.max() >= shape[0] or i.max() >= shape[1]:
        raise ValueError(f"ids up to ({u.max() + 1}, {i.max() + 1}) do not fit shape {shape}.")
    if np.unique(u * shape[1] + i).size != len(r):
        raise ValueError("ratings contain repeated (user, item) pairs.")
    M = np.zeros(shape, dtype=np.float64)
    M[u, i] = r[:, 2]
    test = np.random.default_rng(seed).permutation(len(r))[: int(round(test_fraction * len(r)))]
    test_mask = np.zeros(shape, dtype=bool)
    test_mask[u[test], i[test]] = True
    train_mask = np.zeros(shape, dtype=bool)
    train_mask[u, i] = True
    train_mask &= ~test_mask
    return M, train_mask, test_mask
