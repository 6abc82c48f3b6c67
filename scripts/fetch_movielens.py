#!/usr/bin/env python3
"""Fetch MovieLens-100K ratings into DEST_DIR/ml-100k/u.data (from the recbole==1.2.1 wheel on PyPI).

GroupLens does not allow redistributing MovieLens-100K, so the workbook does not store it. The RecBole wheel on
PyPI ships the ratings as ``recbole/dataset_example/ml-100k/ml-100k.inter``; without its header line the file is
byte-identical to GroupLens' ``u.data`` (checked by sha256). Usage::

    python scripts/fetch_movielens.py [DEST_DIR]      # default: $DLN_CACHE_DIR or ~/.cache/dlnlib/data
    python scripts/fetch_movielens.py DEST_DIR --wheel recbole-1.2.1-py3-none-any.whl   # offline

Idempotent: does nothing if the file is already there with the right checksum. Needs only the standard library
(and pip, unless ``--wheel`` is given). Using the data means accepting the GroupLens terms (research use, no
redistribution, acknowledge use; cite Harper & Konstan, ACM TiiS 5(4):19, 2015).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "recbole==1.2.1"
MEMBER = "recbole/dataset_example/ml-100k/ml-100k.inter"
RELPATH = "ml-100k/u.data"
SHA256 = "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"


def default_dest() -> Path:
    return Path(os.environ.get("DLN_CACHE_DIR") or "~/.cache/dlnlib/data").expanduser()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_wheel(tmp: Path) -> Path:
    """``pip download --no-deps recbole==1.2.1`` into ``tmp``; returns the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", PACKAGE, "-d", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(tmp.glob("recbole-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
        raise SystemExit(f"error: `{' '.join(cmd[2:])}` failed (exit {proc.returncode}); it needs network access "
                         f"to PyPI. Download recbole-1.2.1-py3-none-any.whl elsewhere and pass --wheel PATH.\n"
                         f"pip said:\n{tail}")
    return wheels[0]


def extract_u_data(wheel: Path) -> bytes:
    """The bytes of ``u.data``: the wheel's ``ml-100k.inter`` without its header line, checked by sha256."""
    try:
        with zipfile.ZipFile(wheel) as z:
            inter = z.read(MEMBER)
    except (zipfile.BadZipFile, KeyError) as e:
        raise SystemExit(f"error: cannot read {MEMBER} from {wheel}: {e}")
    header, _, body = inter.partition(b"\n")
    if not header.startswith(b"user_id"):
        raise SystemExit(f"error: unexpected header line in {MEMBER}: {header[:80]!r}")
    if sha256(body) != SHA256:
        raise SystemExit(f"error: extracted u.data has sha256 {sha256(body)}, expected {SHA256}; "
                         f"is {wheel.name} the recbole 1.2.1 wheel?")
    return body


def fetch(dest: Path, wheel: Path | None = None) -> Path:
    """Write ``dest/ml-100k/u.data`` unless it is already there with the right checksum; returns its path."""
    target = dest / RELPATH
    if target.is_file():
        if sha256(target.read_bytes()) == SHA256:
            print(f"{target} already present (sha256 ok)")
            return target
        print(f"{target} has the wrong sha256; fetching it again", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        body = extract_u_data(wheel if wheel is not None else download_wheel(Path(tmp)))
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    part.write_bytes(body)
    os.replace(part, target)
    print(f"wrote {target} ({len(body):,} bytes, sha256 ok). MovieLens-100K is GroupLens data: research use only, "
          f"no redistribution; cite Harper & Konstan, ACM TiiS 5(4):19, 2015.")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dest", nargs="?", type=Path, default=None,
                    help="data folder (default: $DLN_CACHE_DIR or ~/.cache/dlnlib/data); "
                         "the file goes to DEST/ml-100k/u.data")
    ap.add_argument("--wheel", type=Path, default=None, help="use this recbole-1.2.1 wheel instead of pip download")
    args = ap.parse_args(argv)
    fetch((args.dest or default_dest()).expanduser(), args.wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
