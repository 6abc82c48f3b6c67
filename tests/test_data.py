"""dlnlib.data: readers on small synthetic files, file lookup and checksums, the MovieLens split; plus checks
against the real data when ``DLN_DATA_DIR`` holds it (skipped otherwise)."""

from __future__ import annotations

import gzip
import importlib.util
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dlnlib import data
from dlnlib.data import (DatasetMissingError, available, data_dirs, find_file, load_cifar10_subset, load_mnist,
                         load_usps, movielens_matrix, read_cifar_subset, read_idx, read_movielens, read_usps_h5)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(monkeypatch, tmp_path):
    """An isolated environment: an empty cache folder, ``DLN_DATA_DIR`` set by calling the returned function."""
    monkeypatch.setenv("DLN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DLN_DATA_DIR", raising=False)

    def set_dirs(*dirs: Path) -> None:
        monkeypatch.setenv("DLN_DATA_DIR", os.pathsep.join(str(d) for d in dirs))

    return set_dirs


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """IDX file bytes written straight from the format description (big-endian header and data)."""
    dt = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(dt).tobytes()


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# ----------------------------------------------------------------------------------------------- readers

def test_read_idx_gz_and_raw(tmp_path):
    imgs = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    gz = write(tmp_path / "imgs-idx3-ubyte.gz", gzip.compress(idx_bytes(imgs)))
    out = read_idx(gz)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4) and np.array_equal(out, imgs)
    ints = np.array([[1, -2], [70000, 3]], dtype=np.int64)
    out = read_idx(write(tmp_path / "ints-idx2-int", idx_bytes(ints, 0x0C)))
    assert out.dtype == np.dtype("int32") and out.dtype.isnative and np.array_equal(out, ints)
    out = read_idx(write(tmp_path / "f-idx1", idx_bytes(np.array([0.5, -1.25]), 0x0D)))
    assert out.dtype == np.float32 and out.tolist() == [0.5, -1.25]


def test_read_idx_rejects_bad_magic_and_sizes(tmp_path):
    good = idx_bytes(np.zeros((3, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(write(tmp_path / "bad.gz", gzip.compress(b"\x12\x34" + good[2:])))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(write(tmp_path / "badcode", b"\x00\x00\x07" + good[3:]))
    with pytest.raises(ValueError, match="need 12 data bytes"):
        read_idx(write(tmp_path / "short.gz", gzip.compress(good[:-1])))
    with pytest.raises(ValueError, match="header truncated"):
        read_idx(write(tmp_path / "hdr", good[:10]))


def write_usps(path: Path, n_train: int = 5, n_test: int = 3) -> None:
    import h5py

    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for split, n in (("train", n_train), ("test", n_test)):
            f.create_dataset(f"{split}/data", data=rng.random((n, 256), dtype=np.float32))
            f.create_dataset(f"{split}/target", data=np.arange(n, dtype=np.int32) % 10)


def test_read_usps_h5(tmp_path):
    p = tmp_path / "usps.h5"
    write_usps(p)
    for split, n in (("train", 5), ("test", 3)):
        X, y = read_usps_h5(p, split)
        assert X.shape == (n, 256) and X.dtype == np.float32
        assert y.dtype == np.int64 and y.tolist() == list(range(n))
    with pytest.raises(ValueError, match="split must be"):
        read_usps_h5(p, "val")
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("X", data=np.zeros(3))
    with pytest.raises(ValueError, match="train/data"):
        read_usps_h5(tmp_path / "other.h5")


def write_cifar(d: Path, n: int = 3) -> np.ndarray:
    X = np.random.default_rng(1).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    write(d / "images.bin.gz", gzip.compress(X.tobytes()))
    write(d / "labels.txt", "".join(f"{k % 10}\n" for k in range(n)).encode())
    write(d / "batches.meta.txt", "\n".join(data.CIFAR10_CLASSES).encode() + b"\n")
    return X


def test_read_cifar_subset(tmp_path):
    X = write_cifar(tmp_path)
    Xr, y, classes = read_cifar_subset(tmp_path)
    assert Xr.shape == (3, 32, 32, 3) and Xr.dtype == np.uint8 and np.array_equal(Xr, X)
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2] and classes == list(data.CIFAR10_CLASSES)
    write(tmp_path / "images.bin.gz", gzip.compress(X.tobytes()[:-1]))
    with pytest.raises(ValueError, match="3 labels need"):
        read_cifar_subset(tmp_path)


def test_read_movielens(tmp_path):
    p = write(tmp_path / "u.data", b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    r = read_movielens(p)
    assert r.dtype == np.int64 and r.tolist() == [[196, 242, 3, 881250949], [186, 302, 3, 891717742]]
    with pytest.raises(ValueError, match="4 tab-separated"):
        read_movielens(write(tmp_path / "three", b"1\t2\t3\n4\t5\t6\n"))
    with pytest.raises(ValueError, match="tab-separated"):
        read_movielens(write(tmp_path / "ragged", b"1\t2\t3\t4\n4\t5\t6\n"))


# ----------------------------------------------------------------------------------------------- locating files

def test_env_var_multi_dir_search(env, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write(a / "x.bin", b"x")
    write(b / "y.bin", b"y")
    write(a / "both.bin", b"a")
    write(b / "both.bin", b"b")
    env(a, b)
    assert data_dirs() == [a, b, tmp_path / "cache"]
    assert find_file("x.bin") == a / "x.bin"
    assert find_file("y.bin") == b / "y.bin"
    assert find_file("both.bin") == a / "both.bin"  # first folder wins
    write(tmp_path / "cache" / "z.bin", b"z")
    assert find_file("z.bin") == tmp_path / "cache" / "z.bin"  # the cache folder is searched last


def test_checksum_mismatch(env, tmp_path):
    env(tmp_path)
    p = write(tmp_path / "f.bin", b"hello")
    actual = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert find_file("f.bin", actual) == p
    with pytest.raises(ValueError) as e:
        find_file("f.bin", "0" * 64)
    assert "f.bin" in str(e.value) and "0" * 64 in str(e.value) and actual in str(e.value)
    # known files are checked against the table without passing a hash
    write(tmp_path / "mnist/train-labels-idx1-ubyte.gz", b"not mnist")
    with pytest.raises(ValueError, match=data.KNOWN_SHA256["mnist/train-labels-idx1-ubyte.gz"]):
        find_file("mnist/train-labels-idx1-ubyte.gz")


def test_missing_file_message(env, tmp_path):
    env(tmp_path / "nowhere")
    with pytest.raises(DatasetMissingError) as e:
        find_file("mnist/train-images-idx3-ubyte.gz")
    msg = str(e.value)
    assert isinstance(e.value, FileNotFoundError)
    assert "mnist/train-images-idx3-ubyte.gz" in msg and "DLN_DATA_DIR" in msg and "shared/data" in msg
    assert str(tmp_path / "nowhere") in msg and str(tmp_path / "cache") in msg
    with pytest.raises(DatasetMissingError) as e:
        data.load_movielens100k()
    msg = str(e.value)
    assert "ml-100k/u.data" in msg and "fetch_movielens.py" in msg and "recbole==1.2.1" in msg
    assert "make data" in msg and "DLN_DATA_DIR" in msg


def test_available(env, tmp_path, monkeypatch):
    env(tmp_path)
    assert not available("movielens100k")
    write(tmp_path / "ml-100k/u.data", b"1\t1\t5\t0\n")
    with pytest.raises(ValueError, match="checksum mismatch"):
        available("movielens100k")
    monkeypatch.delitem(data.KNOWN_SHA256, "ml-100k/u.data")
    assert available("movielens100k")
    with pytest.raises(ValueError, match="unknown data set"):
        available("imagenet")


# ----------------------------------------------------------------------------------------------- loaders (synthetic)

def test_loaders_on_synthetic_files(env, tmp_path, monkeypatch):
    """The loaders' scaling, shapes and layouts, with the checksum table emptied so synthetic files pass."""
    monkeypatch.setattr(data, "KNOWN_SHA256", {})
    env(tmp_path)
    imgs = np.array([[[0, 255], [51, 102]]] * 3, dtype=np.uint8)
    write(tmp_path / "mnist/t10k-images-idx3-ubyte.gz", gzip.compress(idx_bytes(imgs)))
    write(tmp_path / "mnist/t10k-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(np.array([7, 0, 9], np.uint8))))
    X, y = load_mnist("test")
    assert X.dtype == np.float32 and X.shape == (3, 2, 2) and y.dtype == np.int64 and y.tolist() == [7, 0, 9]
    assert np.allclose(X[0], [[0, 1], [0.2, 0.4]])
    assert load_mnist("test", flatten=True)[0].shape == (3, 4)
    with pytest.raises(ValueError, match="split"):
        load_mnist("valid")

    write_usps(tmp_path / "usps/usps.h5")
    X, y = load_usps("train")
    assert X.shape == (5, 16, 16) and load_usps("test", flatten=True)[0].shape == (3, 256)

    raw = write_cifar(tmp_path / "cifar10-subset")
    X, y = load_cifar10_subset()
    assert X.shape == (3, 3, 32, 32) and X.dtype == np.float32 and X.flags.c_contiguous
    assert X[1, 2, 5, 7] == np.float32(raw[1, 5, 7, 2]) / 255  # CHW from NHWC
    Xf, _ = load_cifar10_subset(flatten=True)
    assert np.array_equal(Xf, raw.transpose(0, 3, 1, 2).reshape(3, 3072) / np.float32(255))


# ----------------------------------------------------------------------------------------------- MovieLens matrix

def synthetic_ratings(n_users=30, n_items=20, n=200, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    flat = rng.choice(n_users * n_items, n, replace=False)
    return np.stack([flat // n_items + 1, flat % n_items + 1, rng.integers(1, 6, n), rng.integers(0, 10**9, n)], 1)


def test_movielens_matrix_split():
    r = synthetic_ratings()
    M, tr, te = movielens_matrix(r, test_fraction=0.2, seed=3)
    assert M.dtype == np.float64 and tr.dtype == te.dtype == np.bool_
    assert M.shape == tr.shape == te.shape == (int(r[:, 0].max()), int(r[:, 1].max()))
    assert np.array_equal(M[r[:, 0] - 1, r[:, 1] - 1], r[:, 2])
    observed = M > 0
    assert observed.sum() == len(r)
    assert not (tr & te).any() and np.array_equal(tr | te, observed)
    assert te.sum() == 40 and tr.sum() == 160
    # deterministic per seed, different across seeds
    assert np.array_equal(movielens_matrix(r, 0.2, seed=3)[2], te)
    assert not np.array_equal(movielens_matrix(r, 0.2, seed=4)[2], te)
    M2, tr2, te2 = movielens_matrix(r, 0.0, shape=(40, 25))
    assert M2.shape == (40, 25) and te2.sum() == 0 and tr2.sum() == len(r)


def test_movielens_matrix_rejects_bad_input():
    r = synthetic_ratings()
    with pytest.raises(ValueError, match="repeated"):
        movielens_matrix(np.vstack([r, r[:1]]))
    with pytest.raises(ValueError, match="test_fraction"):
        movielens_matrix(r, 1.5)
    with pytest.raises(ValueError, match="1-based"):
        movielens_matrix(np.array([[0, 1, 5, 0]]))
    with pytest.raises(ValueError, match="do not fit"):
        movielens_matrix(r, shape=(2, 2))


# ----------------------------------------------------------------------------------------------- fetch script

def test_fetch_script_rejects_wrong_wheel(tmp_path):
    spec = importlib.util.spec_from_file_location("fetch_movielens", REPO / "scripts" / "fetch_movielens.py")
    fm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fm)
    whl = tmp_path / "recbole-1.2.1-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr(fm.MEMBER, "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t2\t3\t4\n")
    with pytest.raises(SystemExit, match="sha256"):
        fm.fetch(tmp_path / "dest", whl)
    assert not (tmp_path / "dest" / "ml-100k" / "u.data").exists()
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("other.txt", "")
    with pytest.raises(SystemExit, match="cannot read"):
        fm.fetch(tmp_path / "dest", whl)


# ----------------------------------------------------------------------------------------------- real data

def need(name: str) -> None:
    if not available(name):
        pytest.skip(f"{name} not found in {[str(d) for d in data_dirs()]}; set DLN_DATA_DIR")


def test_real_mnist():
    need("mnist")
    X, y = load_mnist("train")
    assert X.shape == (60000, 28, 28) and X.dtype == np.float32
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert abs(X.mean() - 0.1307) < 1e-4 and abs(X.std() - 0.3081) < 1e-4
    X, y = load_mnist("test", flatten=True)
    assert X.shape == (10000, 784)
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_fashion_mnist():
    need("fashion-mnist")
    X, y = data.load_fashion_mnist("train")
    assert X.shape == (60000, 28, 28) and np.bincount(y).tolist() == [6000] * 10
    assert abs(X.mean() - 0.2860) < 1e-4 and abs(X.std() - 0.3530) < 1e-4
    X, y = data.load_fashion_mnist("test")
    assert X.shape == (10000, 28, 28) and np.bincount(y).tolist() == [1000] * 10


def test_real_usps():
    need("usps")
    X, y = load_usps("train")
    assert X.shape == (7291, 16, 16) and 0 <= X.min() and X.max() <= 1
    assert np.bincount(y).tolist() == [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644]
    X, y = load_usps("test")
    assert X.shape == (2007, 16, 16)
    assert np.bincount(y).tolist() == [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]


def test_real_cifar10_subset():
    need("cifar10-subset")
    X, y = load_cifar10_subset()
    assert X.shape == (4000, 3, 32, 32) and X.dtype == np.float32
    assert y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert np.bincount(y).tolist() == [396, 366, 420, 384, 422, 393, 414, 385, 407, 413]
    assert (X[0, 0, 0, :5] * 255).round().tolist() == [59, 43, 50, 68, 98]  # red channel, top row


def test_real_movielens100k():
    need("movielens100k")
    r = data.load_movielens100k()
    assert r.shape == (100000, 4) and r[0].tolist() == [196, 242, 3, 881250949]
    assert np.unique(r[:, 0]).size == 943 and np.unique(r[:, 1]).size == 1682
    assert np.bincount(r[:, 2])[1:].tolist() == [6110, 11370, 27145, 34174, 21201]
    M, tr, te = movielens_matrix(r)
    assert M.shape == (943, 1682) and te.sum() == 20000 and tr.sum() == 80000 and not (tr & te).any()
