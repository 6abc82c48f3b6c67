"""Data sets: the file table, lookup, checksums, readers, loaders and the fetcher behind ``make data``.

Five data sets: MNIST, Fashion-MNIST, USPS, the first 4,000 images of CIFAR-10 and MovieLens-100K (origins,
licences and checksums in ``docs/data.md``). A file is named by its path relative to a data folder
(``mnist/train-images-idx3-ubyte.gz``, ``ml-100k/u.data``) and looked up in :func:`data_dirs`: each folder of
``DLN_DATA_DIR`` (several, separated by ``os.pathsep``), then the download folder :func:`data_cache_dir`
(``DLN_DATA_CACHE``, default ``~/.cache/dlnlib/data``). Every known file is checked against its sha256 (once
per process); a gzip file whose wrapper differs from the pinned copy passes if its decompressed bytes match.

Loaders never download. ``python -m dlnlib.data fetch [--dest DIR] [NAME ...]`` (what ``make data`` runs)
fetches what is missing from the public sources (base URLs overridable with ``DLN_DATA_MIRROR``), verifies
each file before moving it into place, and says what to do when a source cannot be reached;
``python -m dlnlib.data status`` lists where each file was found.

Loaders return NumPy arrays: images as float32 in ``[0, 1]``, labels as int64.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

Split = Literal["train", "test"]


# ----------------------------------------------------------------------------------------------- the file table

@dataclass(frozen=True)
class DataFile:
    """One file of a data set: path under a data folder, size in bytes, sha256 of its bytes and, for a gzip
    file, ``content_sha256`` of the decompressed bytes (what stays equal when only the gzip header differs)."""

    relpath: str
    size: int
    sha256: str
    content_sha256: str | None = None


@dataclass(frozen=True)
class Source:
    """Where a data set comes from and how ``fetch`` rebuilds its files.

    ``kind``: ``"files"`` (each file's base name under each URL of ``urls`` in turn), ``"cifar-binary"`` (the
    official binary archive at ``urls``, cut to the first ``take`` images of ``data_batch_1``) or
    ``"pypi-wheel"`` (``urls[0]`` is a pip requirement whose wheel ships the file). ``hint``: how to get it by hand.
    """

    name: str
    files: tuple[DataFile, ...]
    kind: Literal["files", "cifar-binary", "pypi-wheel"]
    urls: tuple[str, ...]
    hint: str
    take: int = 0


def _idx_files(folder: str, sums: dict[str, tuple[int, str, str]]) -> tuple[DataFile, ...]:
    return tuple(DataFile(f"{folder}/{name}", size, sha, content) for name, (size, sha, content) in sums.items())


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("mnist", _idx_files("mnist", {
        "train-images-idx3-ubyte.gz": (9_630_610, "71524e2cd1ad2968737f7f2f2ff69cbfc32df8ccddff51593f7cb2d4e0eb5b64",
                                       "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        "train-labels-idx1-ubyte.gz": (28_881, "ec02e7948609e5754d47881c09b8afdd8dfa60600b9e5388c8c54a67069ec772",
                                       "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        "t10k-images-idx3-ubyte.gz": (1_648_877, "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
                                      "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        "t10k-labels-idx1-ubyte.gz": (4_542, "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
                                      "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    }), "files", ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        "download the four files of Yann LeCun's MNIST page into mnist/ (any copy passes: the decompressed "
        "bytes are checked)"),
    Source("fashion-mnist", _idx_files("fashion-mnist", {
        "train-images-idx3-ubyte.gz": (26_421_856, "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                                       "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        "train-labels-idx1-ubyte.gz": (29_491, "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
                                       "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        "t10k-images-idx3-ubyte.gz": (4_422_079, "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                                      "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "t10k-labels-idx1-ubyte.gz": (5_125, "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
                                      "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    }), "files", ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                  "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        "download the four files of github.com/zalandoresearch/fashion-mnist (data/fashion/) into fashion-mnist/"),
    Source("usps", (DataFile("usps/usps.h5", 2_913_522,
                             "734f88c541104a956d88be2c95d03b4a463ffd74ccc2ba9c80841fb98e3fcb36"),),
           "files", ("https://raw.githubusercontent.com/niuers/Learning-From-Data-A-Short-Course/"
                     "879a698b960e5867f7c2b11f8938fa89c3d21839/data/",),
           "download data/usps.h5 of github.com/niuers/Learning-From-Data-A-Short-Course (commit 879a698) into usps/"),
    Source("cifar10-subset", (
        DataFile("cifar10-subset/images.bin.gz", 11_331_740,
                 "07b479d2dac89ccd25e187e4dc844b4a4b7e870b2589281899b824ffee2e3aa5",
                 "bac45b45504ed1289a3f437be4bfbefece248abbc094a428a0b4dfab00e776ae"),
        DataFile("cifar10-subset/labels.txt", 8_000, "12324eb5b8a5d1c2c91dcf12bfdc7b4f6e7171439db5d64483e932c80c5822d5"),
        DataFile("cifar10-subset/batches.meta.txt", 60,
                 "2ce042b1e0b48db4bb214408e6414ba18b2731c24af244f2d6c112fddf31af00"),
    ), "cifar-binary", ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
        "download cifar-10-binary.tar.gz (www.cs.toronto.edu/~kriz/cifar.html) and cut the first 4,000 images "
        "of data_batch_1 into cifar10-subset/ (dlnlib.data.cut_cifar_subset does it)", take=4000),
    Source("movielens100k", (DataFile("ml-100k/u.data", 1_979_173,
                                      "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"),),
           "pypi-wheel", ("recbole==1.2.1",),
           "run `make data` or `python -m dlnlib.data fetch movielens100k`, which extracts ml-100k/u.data from the "
           "recbole==1.2.1 wheel on PyPI (with a wheel downloaded elsewhere: add `--wheel FILE`)"),
)}

KNOWN_SHA256: dict[str, str] = {f.relpath: f.sha256 for s in SOURCES.values() for f in s.files}
KNOWN_CONTENT_SHA256: dict[str, str] = {f.relpath: f.content_sha256 for s in SOURCES.values() for f in s.files
                                        if f.content_sha256}
DATASETS: dict[str, tuple[str, ...]] = {name: tuple(f.relpath for f in s.files) for name, s in SOURCES.items()}

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

_verified: dict[tuple[str, int, int, bool], str | None] = {}  # (path, size, mtime_ns, decompressed) -> sha256


class DatasetMissingError(FileNotFoundError):
    """A data file is in none of :func:`data_dirs`; the message says where to get it."""


class ChecksumError(ValueError):
    """A file's bytes do not match its pinned sha256; the message names the file and both hashes."""


# ----------------------------------------------------------------------------------------------- locating files

def data_dirs() -> list[Path]:
    """Folders searched for data files, in order: each entry of ``DLN_DATA_DIR``, then :func:`data_cache_dir`.

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, DLN_DATA_DIR=os.pathsep.join(["/a", "/b"]), DLN_DATA_CACHE="/c"):
    ...     [p.as_posix() for p in data_dirs()]
    ['/a', '/b', '/c']
    """
    env = os.environ.get("DLN_DATA_DIR", "")
    dirs = [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    cache = data_cache_dir()
    return dirs + ([cache] if cache not in dirs else [])


def data_cache_dir() -> Path:
    """The download folder (searched last): ``DLN_DATA_CACHE`` if set, else ``~/.cache/dlnlib/data``."""
    return Path(os.environ.get("DLN_DATA_CACHE") or "~/.cache/dlnlib/data").expanduser()


def sha256_file(path: str | os.PathLike, decompress: bool = False) -> str | None:
    """Hex sha256 of a file's bytes (of its gunzipped bytes with ``decompress``; ``None`` if it is not gzip),
    cached per process by ``(path, size, mtime)``."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns, decompress)
    if key not in _verified:
        h = hashlib.sha256()
        try:
            with (gzip.open(p, "rb") if decompress else open(p, "rb")) as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            _verified[key] = h.hexdigest()
        except (OSError, EOFError, zlib.error):
            if not decompress:
                raise
            _verified[key] = None
    return _verified[key]


def check_file(path: str | os.PathLike, sha256: str, content_sha256: str | None = None, name: str | None = None) -> None:
    """Raise :class:`ChecksumError` unless the file's sha256 is ``sha256`` or, for gzip, its decompressed
    bytes' sha256 is ``content_sha256``. ``name`` (default: the path) is what the message calls the file."""
    actual = sha256_file(path)
    if actual == sha256.lower():
        return
    expected, got = f"sha256 {sha256}", f"{actual}"
    if content_sha256:
        content = sha256_file(path, decompress=True)
        if content == content_sha256.lower():
            return
        expected += f" (or {content_sha256} once gunzipped)"
        got += f" ({'not gzip' if content is None else content + ' gunzipped'})"
    raise ChecksumError(f"checksum mismatch for {name or path}: expected {expected}, got {got}; the file is corrupt "
                        f"or a different version: delete it and fetch it again (`make data`, docs/data.md).")


def find_file(relpath: str, sha256: str | None = None) -> Path:
    """Path of ``relpath`` in the first of :func:`data_dirs` that holds it, checked against its sha256.

    ``sha256`` defaults to the entry of :data:`KNOWN_SHA256` (no check for unknown files); known gzip files also
    pass on :data:`KNOWN_CONTENT_SHA256`. Raises :class:`DatasetMissingError` if no folder holds the file,
    :class:`ChecksumError` (a ``ValueError``) if the checksum differs.
    """
    if not isinstance(relpath, (str, os.PathLike)) or not str(relpath) or Path(relpath).is_absolute():
        raise ValueError(f"relpath must be a relative path inside a data folder (e.g. 'ml-100k/u.data'), got "
                         f"{relpath!r}.")
    relpath = str(relpath)
    expected = sha256 or KNOWN_SHA256.get(relpath)
    dirs = data_dirs()
    for d in dirs:
        p = d / relpath
        if p.is_file():
            if expected is not None:
                check_file(p, expected, None if sha256 else KNOWN_CONTENT_SHA256.get(relpath))
            return p
    raise DatasetMissingError(_missing_message(relpath, dirs))


def _source_of(relpath: str) -> Source | None:
    return next((s for s in SOURCES.values() if any(f.relpath == relpath for f in s.files)), None)


def _missing_message(relpath: str, dirs: list[Path]) -> str:
    src = _source_of(relpath)
    if src is None:
        hint = "put it under one of these folders or add its folder to DLN_DATA_DIR"
    elif src.kind == "pypi-wheel":
        hint = src.hint + ", into the data cache or into a folder listed in DLN_DATA_DIR"
    else:
        hint = (f"run `make data` (or `python -m dlnlib.data fetch {src.name}`), which downloads it into the data "
                f"cache, or set DLN_DATA_DIR to a folder that already holds it; by hand: {src.hint}; "
                f"see docs/data.md")
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
    key = _dataset_key(name)
    try:
        for rel in DATASETS[key]:
            find_file(rel)
    except DatasetMissingError:
        return False
    return True


def _dataset_key(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"a data set name must be a str, got {type(name).__name__} {name!r}; known: "
                        f"{', '.join(DATASETS)}")
    key = name.lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return key


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
    if r.dtype.kind not in "iuf":
        raise TypeError(f"ratings must be numbers (int rows 'user item rating ...'), got dtype {r.dtype}.")
    if r.dtype.kind == "f" and not (np.isfinite(r[:, :2]).all() and (r[:, :2] == np.round(r[:, :2])).all()):
        raise ValueError("ratings' user and item ids (columns 0 and 1) must be whole numbers.")
    if r.dtype.kind == "f" and not np.isfinite(r[:, 2]).all():
        raise ValueError("ratings' values (column 2) must be finite.")
    if isinstance(test_fraction, (bool, str, bytes)) or not hasattr(test_fraction, "__float__") \
            or not 0.0 <= float(test_fraction) <= 1.0:
        raise ValueError(f"test_fraction must lie in [0, 1], got {test_fraction!r}.")
    if shape is not None and (len(tuple(shape)) != 2 or any(
            isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in tuple(shape))):
        raise ValueError(f"shape must be two integers (n_users, n_items) >= 1, got {shape!r}.")
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


# ----------------------------------------------------------------------------------------------- fetching

class DownloadError(OSError):
    """No source answered with the file (offline, moved, refused); the message lists what was tried."""


MOVIELENS_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.inter"


def _open_url(url: str, timeout: float):
    """The one place that opens a URL (tests replace it to stay on 127.0.0.1)."""
    import urllib.request

    return urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "dlnlib-data"}), timeout=timeout)


def file_urls(src: Source, f: DataFile, mirror: str | None = None) -> list[str]:
    """URLs to try for ``f``: ``<mirror>/<relpath>`` when a mirror of the data-folder layout is given, else the
    file's base name under each of the source's URLs.

    >>> file_urls(SOURCES["usps"], SOURCES["usps"].files[0], "http://127.0.0.1:8000/data/")
    ['http://127.0.0.1:8000/data/usps/usps.h5']
    >>> file_urls(SOURCES["mnist"], SOURCES["mnist"].files[1])[0]
    'https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz'
    """
    if mirror:
        return [mirror.rstrip("/") + "/" + f.relpath]
    return [base + f.relpath.rsplit("/", 1)[-1] for base in src.urls]


def write_verified(target: Path, f: DataFile, write, origin: str) -> Path:
    """Write ``target`` atomically: ``write(binary_file)`` fills a temporary file beside it, which is checked
    against ``f`` (:func:`check_file`) and only then moved into place; on any failure it is deleted."""
    made = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the permissions open() would
        check_file(tmp, f.sha256, f.content_sha256, name=f"{f.relpath} (from {origin})")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        for d in made:  # the folders this call created, innermost first, if still empty
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        raise
    return target


def download(url: str, target: Path, f: DataFile, *, timeout: float = 20.0) -> Path:
    """Download ``url`` into ``target`` through :func:`write_verified` (checksum before it lands)."""
    def copy(out):
        with _open_url(url, timeout) as resp:
            for block in iter(lambda: resp.read(1 << 20), b""):
                out.write(block)

    return write_verified(Path(target), f, copy, url)


def _download_first(urls: list[str], target: Path, f: DataFile, timeout: float, log) -> Path:
    """Try each URL in turn; the first verified copy wins. Raises the last :class:`ChecksumError` if a source
    answered with wrong bytes, else :class:`DownloadError` listing every failure."""
    errors: list[Exception] = []
    for url in urls:
        log(f"  downloading {url}")
        try:
            return download(url, target, f, timeout=timeout)
        except ChecksumError as e:
            errors.append(e)
        except (OSError, http.client.HTTPException) as e:
            errors.append(DownloadError(f"{url}: {getattr(e, 'reason', None) or e}"))
    bad = [e for e in errors if isinstance(e, ChecksumError)]
    if bad:
        raise bad[-1]
    raise DownloadError(f"could not download {f.relpath}: " + "; ".join(str(e) for e in errors))


def _gzip_deterministic(raw: bytes, name: str) -> bytes:
    """gzip level 9 with ``mtime = 0`` and ``name`` in the header: the same bytes on every run."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", compresslevel=9, fileobj=buf, mtime=0) as g:
        g.write(raw)
    return buf.getvalue()


def cut_cifar_subset(archive: str | os.PathLike, take: int = 4000) -> dict[str, bytes]:
    """The CIFAR-subset files cut from the official binary archive ``cifar-10-binary.tar.gz``.

    ``data_batch_1.bin`` holds 10,000 records of 1 label byte + 3,072 pixel bytes (1024 R, 1024 G, 1024 B, each
    32×32 row-major). The first ``take`` records become ``images.bin.gz`` (uint8 NHWC, gzipped deterministically),
    ``labels.txt`` (one label a line) and ``batches.meta.txt`` (one class name a line), keyed by file name.
    Reads the two members it needs straight from the archive; nothing is unpacked to disk.
    """
    if isinstance(take, bool) or not isinstance(take, (int, np.integer)) or not 1 <= take <= 10_000:
        raise ValueError(f"take must be an integer in [1, 10000] (the records of data_batch_1.bin), got {take!r}.")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = {"data_batch_1.bin", "batches.meta.txt"} - set(members)
            if missing:
                raise ValueError(f"{archive}: no {', '.join(sorted(missing))} inside; is it cifar-10-binary.tar.gz?")
            batch = tar.extractfile(members["data_batch_1.bin"]).read()
            names = tar.extractfile(members["batches.meta.txt"]).read().decode("ascii").split()
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise ValueError(f"{archive}: not a readable cifar-10-binary.tar.gz ({e}).") from e
    if len(batch) % 3073 or len(batch) // 3073 < take:
        raise ValueError(f"{archive}: data_batch_1.bin has {len(batch)} bytes, not {take} or more records of 3073.")
    rec = np.frombuffer(batch, np.uint8).reshape(-1, 3073)[:take]
    images = rec[:, 1:].reshape(take, 3, 32, 32).transpose(0, 2, 3, 1)
    return {"images.bin.gz": _gzip_deterministic(np.ascontiguousarray(images).tobytes(),
                                                 f"images_uint8_{take}x32x32x3.bin"),
            "labels.txt": "".join(f"{y}\n" for y in rec[:, 0]).encode(),
            "batches.meta.txt": ("\n".join(names) + "\n").encode()}


def movielens_from_wheel(wheel: str | os.PathLike) -> bytes:
    """The bytes of ``u.data``: RecBole's ``ml-100k.inter`` without its header line (GroupLens' own file)."""
    try:
        with zipfile.ZipFile(wheel) as z:
            inter = z.read(MOVIELENS_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise ValueError(f"cannot read {MOVIELENS_MEMBER} from {wheel}: {e}") from e
    header, _, body = inter.partition(b"\n")
    if not header.startswith(b"user_id"):
        raise ValueError(f"unexpected header line in {MOVIELENS_MEMBER}: {header[:80]!r}")
    return body


def pip_download(requirement: str, folder: Path) -> Path:
    """``pip download --no-deps <requirement>`` (one wheel) into ``folder``; returns the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", requirement, "-d", str(folder)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(folder.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        raise DownloadError(f"`pip download {requirement}` failed (exit {proc.returncode}; it needs PyPI): {tail}")
    return wheels[0]


def _present(f: DataFile, dirs: list[Path], log) -> Path | None:
    """The first valid copy of ``f`` in ``dirs``; warns about invalid copies on the way."""
    for d in dirs:
        p = d / f.relpath
        if p.is_file():
            try:
                check_file(p, f.sha256, f.content_sha256)
                return p
            except ChecksumError as e:
                log(f"  warning: {e}")
    return None


def fetch_source(src: Source, dest: Path, *, mirror: str | None = None, wheel: str | os.PathLike | None = None,
                 offline: bool = False, timeout: float = 20.0, log=print) -> list[Path]:
    """Bring every file of ``src`` into ``dest`` unless a valid copy is in ``dest`` or on :func:`data_dirs`.

    Returns the paths written (empty if all were present). Raises :class:`DownloadError` when no source can be
    reached (or a file is missing and ``offline``), :class:`ChecksumError` when a source answers with wrong
    bytes; nothing is left behind either way.
    """
    dest = Path(dest).expanduser()
    dirs = [dest] + [d for d in data_dirs() if d != dest]
    missing = [f for f in src.files if _present(f, dirs, log) is None]
    if not missing:
        return []
    if offline:
        raise DownloadError(f"offline: {', '.join(f.relpath for f in missing)} missing, nothing downloaded")
    if mirror or src.kind == "files":
        return [_download_first(file_urls(src, f, mirror), dest / f.relpath, f, timeout, log) for f in missing]
    with tempfile.TemporaryDirectory() as tmp:
        if src.kind == "pypi-wheel":
            whl = Path(wheel) if wheel is not None else pip_download(src.urls[0], Path(tmp))
            made, origin = {"u.data": movielens_from_wheel(whl)}, whl.name
        else:
            archive = Path(tmp) / "archive.tar.gz"
            _download_archive(src.urls, archive, timeout, log)
            made, origin = cut_cifar_subset(archive, src.take), src.urls[0]
    return [write_verified(dest / f.relpath, f, lambda out, b=made[Path(f.relpath).name]: out.write(b), origin)
            for f in missing]


def _download_archive(urls: tuple[str, ...], path: Path, timeout: float, log) -> None:
    errors = []
    for url in urls:
        log(f"  downloading {url}")
        try:
            with _open_url(url, timeout) as resp, open(path, "wb") as out:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
            return
        except (OSError, http.client.HTTPException) as e:
            errors.append(f"{url}: {getattr(e, 'reason', None) or e}")
    raise DownloadError("could not download " + "; ".join(errors))


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch` did for one data set: ``status`` is ``present``, ``fetched``, ``unavailable`` (no source
    reachable, or ``offline``) or ``failed`` (a checksum or format error); ``message`` says it in words."""

    name: str
    status: Literal["present", "fetched", "unavailable", "failed"]
    message: str


def fetch(names=None, dest: str | os.PathLike | None = None, *, mirror: str | None = None,
          wheel: str | os.PathLike | None = None, offline: bool = False, timeout: float = 20.0,
          log=print) -> list[FetchResult]:
    """Fetch the data sets ``names`` (default: all of :data:`SOURCES`) into ``dest`` (default
    :func:`data_cache_dir`), skipping files already present and valid. ``mirror`` (default ``DLN_DATA_MIRROR``)
    replaces the public URLs by ``<mirror>/<relpath>``; ``wheel`` is a local RecBole wheel for MovieLens;
    ``offline`` only reports. Never raises for one data set's failure: each gets a :class:`FetchResult`.
    """
    if isinstance(names, str):  # one name, not its letters
        names = [names]
    if isinstance(timeout, (bool, str)) or not hasattr(timeout, "__float__") or not float(timeout) > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}.")
    keys = [_dataset_key(n) for n in (names or SOURCES)]
    dest = Path(dest).expanduser() if dest is not None else data_cache_dir()
    mirror = mirror if mirror is not None else os.environ.get("DLN_DATA_MIRROR") or None
    results = []
    for key in keys:
        src = SOURCES[key]
        log(f"{key}:")
        try:
            written = fetch_source(src, dest, mirror=mirror, wheel=wheel, offline=offline, timeout=timeout, log=log)
        except DownloadError as e:
            res = FetchResult(key, "unavailable", f"not fetched ({e}).\n  To get {key}: rerun `make data` online, "
                                                  f"or {src.hint}, into {dest}; or set DLN_DATA_DIR to a folder "
                                                  f"that holds it (docs/data.md). Notebooks skip what is missing.")
        except ValueError as e:
            res = FetchResult(key, "failed", f"FAILED: {e}")
        else:
            res = FetchResult(key, "fetched", f"wrote {', '.join(map(str, written))} (sha256 ok)") if written else \
                FetchResult(key, "present", "present (sha256 ok)")
        log(f"  {res.message}")
        results.append(res)
    if any(r.status == "fetched" for r in results) and dest not in data_dirs():
        log(f"note: loaders do not search {dest}; add it to DLN_DATA_DIR (os.pathsep-separated) to use it.")
    if any(r.name == "movielens100k" and r.status == "fetched" for r in results):
        log("MovieLens-100K is GroupLens data: research use only, no redistribution; cite Harper & Konstan, "
            "ACM TiiS 5(4):19, 2015.")
    return results


def status_lines() -> list[str]:
    """One line per known file: where the loaders find it, or that it is missing or fails its checksum."""
    lines = [f"search path: {os.pathsep.join(map(str, data_dirs()))}"]
    for key in DATASETS:
        for rel in DATASETS[key]:
            try:
                where = str(find_file(rel))
            except DatasetMissingError:
                where = "missing"
            except ChecksumError as e:
                where = f"BAD: {e}"
            lines.append(f"{key:15s} {rel:45s} {where}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m dlnlib.data fetch|status``: exit 0 when every set is present, fetched or unreachable (a clear
    line says so; ``--strict`` makes unreachable an error), 1 when a checksum or format check failed."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m dlnlib.data", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    fp = sub.add_parser("fetch", help="fetch the missing data sets from their public sources (docs/data.md)")
    fp.add_argument("names", nargs="*", metavar="NAME", help=f"data sets (default: all): {', '.join(SOURCES)}")
    fp.add_argument("--dest", type=Path, default=None, help="folder to write into (default: DLN_DATA_CACHE or "
                                                             "~/.cache/dlnlib/data)")
    fp.add_argument("--mirror", default=None, help="base URL of a copy of the data-folder layout "
                                                   "(default: DLN_DATA_MIRROR, else the public sources)")
    fp.add_argument("--wheel", type=Path, default=None, help="a local recbole-1.2.1 wheel (MovieLens, offline)")
    fp.add_argument("--offline", action="store_true", help="download nothing; report what is missing")
    fp.add_argument("--strict", action="store_true", help="exit 1 when a data set could not be fetched")
    fp.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for a server (default 20)")
    sub.add_parser("status", help="where each file is found, or what is missing")
    args = ap.parse_args(argv)
    if args.cmd == "status":
        print("\n".join(status_lines()))
        return 0
    try:
        results = fetch(args.names or None, args.dest, mirror=args.mirror, wheel=args.wheel, offline=args.offline,
                        timeout=args.timeout)
    except ValueError as e:
        ap.error(str(e))
    bad = {"failed"} | ({"unavailable"} if args.strict else set())
    return 1 if any(r.status in bad for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
