"""Atomic file writing and JSON encoding shared by the report layer: a file, or a set of files, is whole or absent.

Every writer renders into a temporary file in the target's folder, ``.<name>.<pid>.<token>.tmp``, and moves it into
place with :func:`os.replace` (atomic within one file system). A *set* of files (a figure's PDF, PNG and JSON) is
first rendered completely into temporaries; then a journal ``.<name>.<pid>.<token>.set`` listing the moves is
written (itself atomically), the moves are made and the journal is removed. So

- a writer killed while rendering leaves the previous set untouched (its temporaries are stale, and the next write
  in that folder deletes them: their process is gone);
- a writer killed between the moves leaves a journal, and the next write in that folder (or :func:`recover`)
  finishes the moves, so the new set is whole.

>>> import tempfile; d = Path(tempfile.mkdtemp())
>>> write_files({d / "a.txt": lambda t: t.write_text("new a"), d / "b.txt": lambda t: t.write_text("new b")})
>>> sorted(p.name for p in d.iterdir()), (d / "b.txt").read_text()
(['a.txt', 'b.txt'], 'new b')
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

STALE_AFTER_S = 24 * 3600  # a temporary this old is stale even if a process with its pid is alive (pid reuse)


def jsonable(x: Any) -> Any:
    """``x`` with numpy scalars/arrays and tensors turned into Python numbers/lists, tuples into lists, dict keys
    into strings, and non-finite floats into the strings ``"nan"``, ``"inf"``, ``"-inf"`` (valid JSON).

    >>> jsonable({1: (np.float64(0.5), np.arange(2)), "x": float("inf")})
    {'1': [0.5, [0, 1]], 'x': 'inf'}
    """
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return jsonable(x.item())
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if hasattr(x, "tolist"):
        return jsonable(x.tolist())
    return x


def dumps(obj: Any, *, sort_keys: bool = False) -> str:
    """Indented JSON text of ``jsonable(obj)`` ending in a newline (the format of every JSON file the report writes)."""
    return json.dumps(jsonable(obj), indent=1, sort_keys=sort_keys, ensure_ascii=False) + "\n"


def temporary(path: Path) -> Path:
    """A fresh temporary path beside ``path``: ``.<name>.<pid>.<token>.tmp`` in the same folder.

    >>> temporary(Path("/x/fig.pdf")).name.startswith(".fig.pdf.") and temporary(Path("/x/fig.pdf")).suffix
    '.tmp'
    """
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def _pid_of(p: Path) -> int | None:
    """The writer's pid in a ``.<name>.<pid>.<token>.(tmp|set)`` name, or ``None`` for any other name."""
    parts = p.name.rsplit(".", 3)
    return int(parts[1]) if len(parts) == 4 and p.name.startswith(".") and parts[1].isdigit() else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _stale(p: Path) -> bool:
    """A temporary or journal whose writer is gone (or that is older than :data:`STALE_AFTER_S`)."""
    try:
        age = time.time() - p.stat().st_mtime
    except FileNotFoundError:
        return False
    pid = _pid_of(p)
    if pid is None:  # a temporary in an older naming scheme (``x.json.tmp``): stale after an hour
        return age > 3600
    return age > STALE_AFTER_S or not _alive(pid)


def recover(folder: Path) -> None:
    """Finish the moves of every journal in ``folder`` whose writer died mid-way, then delete stale temporaries."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for journal in sorted(folder.glob(".*.set")):
        if not _stale(journal):
            continue  # a live writer is moving its set right now
        try:
            moves = json.loads(journal.read_text())
        except (OSError, ValueError):
            moves = []  # a journal is written atomically, so this is not expected; drop it
        for tmp, final in moves:
            if (folder / tmp).exists():
                os.replace(folder / tmp, folder / final)
        journal.unlink(missing_ok=True)
    for tmp in folder.glob("*.tmp"):  # hidden names too: pathlib's ``*`` matches a leading dot
        if _stale(tmp):
            tmp.unlink(missing_ok=True)


def write_files(files: dict[Path, Callable[[Path], Any]]) -> None:
    """Write several files in one folder as one set: ``files[path](tmp)`` renders each into a temporary, then all
    are moved into place (see the module docstring). An exception while rendering removes the temporaries and
    leaves the old files as they were.
    """
    paths = [Path(p) for p in files]
    folder = paths[0].parent
    if any(p.parent != folder for p in paths):
        raise ValueError(f"a set of files must share one folder, got {[str(p) for p in paths]}.")
    folder.mkdir(parents=True, exist_ok=True)
    recover(folder)
    temps: dict[Path, Path] = {}
    try:
        for path, render in zip(paths, files.values()):
            temps[path] = temporary(path)
            render(temps[path])
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise
    if len(temps) == 1:
        ((path, tmp),) = temps.items()
        os.replace(tmp, path)
        return
    journal = temporary(paths[0]).with_suffix(".set")
    journal_tmp = temporary(journal)
    journal_tmp.write_text(json.dumps([[t.name, p.name] for p, t in temps.items()]))
    os.replace(journal_tmp, journal)
    for path, tmp in temps.items():
        os.replace(tmp, path)
    journal.unlink()


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_files({Path(path): lambda t: t.write_text(text, encoding="utf-8")})
