"""dlnlib.data: readers on small synthetic files, file lookup and checksums, the MovieLens split, the fetcher
(against a loopback HTTP server on 127.0.0.1 serving files the tests make; nothing else is reachable: see
``no_network``); plus checks against the real data when ``DLN_DATA_DIR`` holds it (skipped otherwise)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import socket
import struct
import tarfile
import threading
import urllib.parse
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from dlnlib import data
from dlnlib.data import (ChecksumError, DataFile, DatasetMissingError, DownloadError, Source, available, data_dirs,
                         fetch, fetch_source, find_file, load_cifar10_subset, load_mnist, load_usps, movielens_matrix,
                         read_cifar_subset, read_idx, read_movielens, read_usps_h5)

@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every test: URLs may only point at 127.0.0.1, and pip is never asked for a wheel."""
    real_open = data._open_url

    def loopback_only(url, timeout):
        host = urllib.parse.urlsplit(url).hostname
        if host != "127.0.0.1":
            raise AssertionError(f"a test tried to reach {url}; only 127.0.0.1 is allowed")
        return real_open(url, timeout)

    def no_pip(requirement, folder):
        raise AssertionError(f"a test tried to pip download {requirement}")

    monkeypatch.setattr(data, "_open_url", loopback_only)
    monkeypatch.setattr(data, "pip_download", no_pip)
    monkeypatch.delenv("DLN_DATA_MIRROR", raising=False)


@pytest.fixture
def env(monkeypatch, tmp_path):
    """An isolated environment: an empty cache folder, ``DLN_DATA_DIR`` set by calling the returned function."""
    monkeypatch.setenv("DLN_DATA_CACHE", str(tmp_path / "cache"))
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
    assert "mnist/train-images-idx3-ubyte.gz" in msg and "DLN_DATA_DIR" in msg and "make data" in msg
    assert "python -m dlnlib.data fetch mnist" in msg and "docs/data.md" in msg
    assert str(tmp_path / "nowhere") in msg and str(tmp_path / "cache") in msg
    with pytest.raises(DatasetMissingError) as e:
        data.load_movielens100k()
    msg = str(e.value)
    assert "ml-100k/u.data" in msg and "python -m dlnlib.data fetch movielens100k" in msg and "recbole==1.2.1" in msg
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


# ----------------------------------------------------------------------------------------------- fetching

def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


class Loopback:
    """A static HTTP server on 127.0.0.1 (ephemeral port, daemon thread) over ``root``; counts GET requests.

    Bounded: each request times out after 10 s, and a timer shuts the server down after 60 s whatever happens.
    """

    def __init__(self, root: Path):
        self.root, self.requests = root, []

        class Handler(http.server.SimpleHTTPRequestHandler):
            timeout = 10

            def do_GET(handler):  # noqa: N805
                self.requests.append(handler.path)
                super().do_GET()

            def log_message(handler, *args):  # noqa: N805
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.guard = threading.Timer(60.0, self.server.shutdown)
        self.guard.daemon = True

    def __enter__(self) -> "Loopback":
        self.thread.start()
        self.guard.start()
        return self

    def __exit__(self, *exc) -> None:
        self.guard.cancel()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def served(tmp_path):
    """A loopback server over ``tmp_path / "www"``; yields it while the test runs, then stops it."""
    root = tmp_path / "www"
    root.mkdir()
    with Loopback(root) as srv:
        yield srv


def tiny_idx(mtime: float = 0.0) -> tuple[bytes, bytes]:
    """A tiny labels IDX file and its gzip (gzip header timestamp ``mtime``)."""
    raw = idx_bytes(np.array([3, 1, 4, 1, 5], np.uint8))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=mtime) as g:
        g.write(raw)
    return raw, buf.getvalue()


def tiny_source(base: str, gz: bytes, raw: bytes | None = None, name: str = "tiny") -> Source:
    f = DataFile(f"{name}/t10k-labels-idx1-ubyte.gz", len(gz), sha(gz), None if raw is None else sha(raw))
    return Source(name, (f,), "files", (base + "nowhere/", base + "files/"), "copy it by hand")


def leftovers(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*")) if d.exists() else []


def test_download_verify_and_skip_present(env, tmp_path, served):
    """First URL 404s, the second serves the file: it lands verified; a second fetch asks the server nothing."""
    raw, gz = tiny_idx()
    write(served.root / "files" / "t10k-labels-idx1-ubyte.gz", gz)
    src = tiny_source(served.url, gz)
    dest = tmp_path / "dest"
    written = fetch_source(src, dest, log=lambda *_: None)
    assert written == [dest / "tiny/t10k-labels-idx1-ubyte.gz"]
    assert read_idx(written[0]).tolist() == [3, 1, 4, 1, 5]
    assert served.requests == ["/nowhere/t10k-labels-idx1-ubyte.gz", "/files/t10k-labels-idx1-ubyte.gz"]
    assert leftovers(dest) == ["tiny", "tiny/t10k-labels-idx1-ubyte.gz"]  # no temporary file left
    assert fetch_source(src, dest, log=lambda *_: None) == []
    assert len(served.requests) == 2  # already present and valid: not downloaded again
    env(dest)  # present in a DLN_DATA_DIR folder counts too, whatever --dest says
    assert fetch_source(src, tmp_path / "elsewhere", log=lambda *_: None) == [] and len(served.requests) == 2


def test_corrupted_download_is_rejected(env, tmp_path, served):
    raw, gz = tiny_idx()
    src = tiny_source(served.url, gz)
    bad = gz[:-8] + b"\x00" * 8  # same size, wrong bytes
    write(served.root / "files" / "t10k-labels-idx1-ubyte.gz", bad)
    dest = tmp_path / "dest"
    with pytest.raises(ChecksumError) as e:
        fetch_source(src, dest, log=lambda *_: None)
    msg = str(e.value)
    assert "tiny/t10k-labels-idx1-ubyte.gz" in msg and sha(gz) in msg and sha(bad) in msg
    assert f"{served.url}files/t10k-labels-idx1-ubyte.gz" in msg
    assert leftovers(dest) == []  # neither the file nor its temporary copy nor the folders made for it
    # a corrupt copy already in dest is replaced by a good download
    write(dest / "tiny/t10k-labels-idx1-ubyte.gz", b"junk")
    write(served.root / "files" / "t10k-labels-idx1-ubyte.gz", gz)
    fetch_source(src, dest, log=lambda *_: None)
    assert (dest / "tiny/t10k-labels-idx1-ubyte.gz").read_bytes() == gz


def test_other_gzip_wrapper_passes_on_content(env, tmp_path, served, monkeypatch):
    """A copy whose gzip header differs (another timestamp) is accepted by its decompressed bytes, by the fetcher
    and by the loaders; without a content hash it is rejected."""
    raw, gz = tiny_idx(mtime=0)
    _, other = tiny_idx(mtime=1_600_000_000)
    assert other != gz
    write(served.root / "files" / "t10k-labels-idx1-ubyte.gz", other)
    dest = tmp_path / "dest"
    fetch_source(tiny_source(served.url, gz, raw), dest, log=lambda *_: None)
    assert (dest / "tiny/t10k-labels-idx1-ubyte.gz").read_bytes() == other
    rel = "tiny/t10k-labels-idx1-ubyte.gz"
    monkeypatch.setitem(data.KNOWN_SHA256, rel, sha(gz))
    env(dest)
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        find_file(rel)  # file hash differs and no content hash is known yet
    monkeypatch.setitem(data.KNOWN_CONTENT_SHA256, rel, sha(raw))
    assert find_file(rel) == dest / rel
    with pytest.raises(ChecksumError):
        fetch_source(tiny_source(served.url, gz), tmp_path / "strict", log=lambda *_: None)


def test_mirror_env_and_cli(env, tmp_path, served, monkeypatch, capsys):
    """``DLN_DATA_MIRROR`` replaces the public URLs by ``<mirror>/<relpath>``; the CLI reports and exits 0."""
    raw, gz = tiny_idx()
    write(served.root / "mirror" / "mnist" / "t10k-labels-idx1-ubyte.gz", gz)
    public = Source("mnist", (DataFile("mnist/t10k-labels-idx1-ubyte.gz", len(gz), sha(gz)),), "files",
                    ("https://example.invalid/",), "by hand")
    monkeypatch.setitem(data.SOURCES, "mnist", public)
    monkeypatch.setenv("DLN_DATA_MIRROR", served.url + "mirror")
    assert data.main(["fetch", "mnist"]) == 0
    assert (tmp_path / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes() == gz
    assert served.requests == ["/mirror/mnist/t10k-labels-idx1-ubyte.gz"]
    out = capsys.readouterr().out
    assert "mnist:" in out and "sha256 ok" in out
    assert data.main(["fetch", "--offline", "mnist"]) == 0 and "present" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        data.main(["fetch", "imagenet"])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_source_is_reported_not_fatal(env, tmp_path, monkeypatch, capsys):
    port = closed_port()
    src = Source("usps", (DataFile("usps/usps.h5", 1, "0" * 64),), "files", (f"http://127.0.0.1:{port}/",),
                 "download usps.h5 by hand")
    monkeypatch.setitem(data.SOURCES, "usps", src)
    res = fetch(["usps"], tmp_path / "dest", log=print)
    assert [r.status for r in res] == ["unavailable"]
    out = capsys.readouterr().out
    assert "usps" in out and "not fetched" in out and "make data" in out and "DLN_DATA_DIR" in out
    assert "download usps.h5 by hand" in out and f"127.0.0.1:{port}" in out
    assert leftovers(tmp_path / "dest") == []
    assert data.main(["fetch", "usps", "--dest", str(tmp_path / "dest")]) == 0
    assert data.main(["fetch", "usps", "--strict", "--dest", str(tmp_path / "dest")]) == 1
    assert data.main(["fetch", "usps", "--offline"]) == 0 and "offline" in capsys.readouterr().out


def cifar_binary_tarball(path: Path, images: np.ndarray, labels: np.ndarray, level: int = 6) -> Path:
    """A ``cifar-10-binary.tar.gz`` look-alike: records of 1 label byte + 3072 CHW pixel bytes."""
    rec = np.concatenate([labels.astype(np.uint8)[:, None], images.transpose(0, 3, 1, 2).reshape(len(images), -1)], 1)
    members = {"cifar-10-batches-bin/data_batch_1.bin": rec.tobytes(),
               "cifar-10-batches-bin/batches.meta.txt": ("\n".join(data.CIFAR10_CLASSES) + "\n\n").encode()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz", compresslevel=level) as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def test_cifar_cut_and_fetch(env, tmp_path, served):
    rng = np.random.default_rng(2)
    X = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    y = np.array([6, 9, 9, 4, 1])
    cifar_binary_tarball(served.root / "cifar-10-binary.tar.gz", X, y)
    made = data.cut_cifar_subset(served.root / "cifar-10-binary.tar.gz", take=3)
    assert made["labels.txt"] == b"6\n9\n9\n" and made["batches.meta.txt"].decode().split() == list(data.CIFAR10_CLASSES)
    assert gzip.decompress(made["images.bin.gz"]) == X[:3].tobytes()  # NHWC
    files = tuple(DataFile(f"cifar10-subset/{k}", len(v), sha(v)) for k, v in made.items())
    src = Source("cifar10-subset", files, "cifar-binary", (served.url + "cifar-10-binary.tar.gz",), "by hand", take=3)
    dest = tmp_path / "dest"
    assert len(fetch_source(src, dest, log=lambda *_: None)) == 3
    Xr, yr, classes = read_cifar_subset(dest / "cifar10-subset")
    assert np.array_equal(Xr, X[:3]) and yr.tolist() == [6, 9, 9] and classes == list(data.CIFAR10_CLASSES)
    with pytest.raises(ValueError, match="not 6 or more records"):
        data.cut_cifar_subset(served.root / "cifar-10-binary.tar.gz", take=4 + 2)
    write(served.root / "broken.tar.gz", b"not a tarball")
    with pytest.raises(ValueError, match="not a readable"):
        data.cut_cifar_subset(served.root / "broken.tar.gz")


def test_movielens_from_wheel(env, tmp_path):
    """MovieLens comes out of a RecBole wheel: header dropped, checked; a wrong or unreadable wheel leaves nothing."""
    whl = tmp_path / "recbole-1.2.1-py3-none-any.whl"
    body = b"1\t2\t3\t4\n5\t6\t2\t8\n"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr(data.MOVIELENS_MEMBER, b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + body)
    dest = tmp_path / "dest"
    with pytest.raises(ChecksumError, match="sha256"):
        fetch_source(data.SOURCES["movielens100k"], dest, wheel=whl, log=lambda *_: None)
    assert leftovers(dest) == []
    ok = Source("movielens100k", (DataFile("ml-100k/u.data", len(body), sha(body)),), "pypi-wheel",
                ("recbole==1.2.1",), "by hand")
    assert fetch_source(ok, dest, wheel=whl, log=lambda *_: None) == [dest / "ml-100k/u.data"]
    assert read_movielens(dest / "ml-100k/u.data").tolist() == [[1, 2, 3, 4], [5, 6, 2, 8]]
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("other.txt", "")
    with pytest.raises(ValueError, match="cannot read"):
        fetch_source(data.SOURCES["movielens100k"], tmp_path / "d2", wheel=whl, log=lambda *_: None)
    res = fetch(["movielens100k"], tmp_path / "d3", wheel=whl, log=lambda *_: None)
    assert res[0].status == "failed" and "cannot read" in res[0].message
    assert data.main(["fetch", "movielens100k", "--wheel", str(whl), "--dest", str(tmp_path / "d3")]) == 1


def test_docs_list_every_file_with_its_size_and_hashes():
    """docs/data.md and the table in code agree: every file appears with its size, sha256 and content sha256."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text()
    for src in data.SOURCES.values():
        for f in src.files:
            row = next((line for line in doc.splitlines() if line.startswith(f"| `{f.relpath}` |")), "")
            assert f"{f.size:,}" in row and f.sha256 in row, f.relpath
            assert f.content_sha256 is None or f.content_sha256 in row, f.relpath
        assert all(u in doc for u in src.urls), src.name


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


def test_cifar_cut_reproduces_the_pinned_files(tmp_path):
    """From a binary batch rebuilt out of the stored subset, the cut gives the pinned bytes (the image file's
    decompressed bytes at least: the gzip stream depends on the zlib version)."""
    need("cifar10-subset")
    X, y, _ = read_cifar_subset(find_file("cifar10-subset/labels.txt").parent)
    made = data.cut_cifar_subset(cifar_binary_tarball(tmp_path / "c.tar.gz", X, y, level=1), take=len(y))
    for f in data.SOURCES["cifar10-subset"].files:
        b = made[Path(f.relpath).name]
        assert sha(b) == f.sha256 or sha(gzip.decompress(b)) == f.content_sha256, f.relpath
