"""dlnlib.report.cache: the result cache, keyed per study; its folder; recovery from corrupt entries.

Every test writes into ``tmp_path`` (``DLN_RESULTS_DIR``), never into the repository.
"""

from __future__ import annotations

import pickle
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dlnlib.report import cache as K
from dlnlib.report.cache import timed_cached

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cachedir(monkeypatch, tmp_path):
    monkeypatch.setenv("DLN_RESULTS_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DLN_CACHE", raising=False)
    return tmp_path / "cache"


def test_cached_returns_the_stored_value_without_recomputing(cachedir):
    calls = []

    def compute():
        calls.append(1)
        return {"loss": np.arange(4.0), "n": len(calls)}

    a = K.cached("run", {"eta": 0.1, "grid": np.arange(3)}, compute)
    b = K.cached("run", {"grid": np.arange(3), "eta": 0.1}, compute)  # same params, other key order
    assert len(calls) == 1 and b["n"] == 1 and np.array_equal(a["loss"], b["loss"])
    assert len(list(cachedir.glob("run-*.pkl"))) == 1
    assert K.cached("run", {"eta": 0.2, "grid": np.arange(3)}, compute)["n"] == 2  # other params: recompute
    K.cached("other", {"eta": 0.1, "grid": np.arange(3)}, compute)  # other name: recompute
    assert len(calls) == 3
    assert not [p for p in cachedir.iterdir() if p.suffix != ".pkl"]


def test_cache_can_be_disabled(cachedir, monkeypatch):
    monkeypatch.setenv("DLN_CACHE", "0")
    calls = []
    for _ in range(2):
        K.cached("run", {"a": 1}, lambda: calls.append(1) or 7)
    assert len(calls) == 2 and not cachedir.exists()


def test_results_dir_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("DLN_RESULTS_DIR", raising=False)
    monkeypatch.setenv("DLN_DATA_CACHE", str(tmp_path / "data-cache"))  # the data cache has its own setting
    monkeypatch.chdir(tmp_path)
    assert K.results_dir() == tmp_path / ".dlnlib-cache" / "results"  # a user's script: the current directory
    monkeypatch.chdir(REPO / "notebooks")
    assert K.results_dir() == REPO / ".cache" / "results"  # the workbook: the checkout's cache
    monkeypatch.setenv("DLN_RESULTS_DIR", str(tmp_path / "r"))
    assert K.results_dir() == tmp_path / "r"


def test_a_corrupt_entry_is_reported_moved_aside_and_recomputed(cachedir):
    K.cached("run", {"a": 1}, lambda: [1, 2, 3])
    (entry,) = cachedir.glob("run-*.pkl")
    for garbage in (entry.read_bytes()[:5], b"not a pickle at all", b""):
        entry.write_bytes(garbage)
        with pytest.warns(RuntimeWarning, match=rf"cache entry {re.escape(str(entry))} is unreadable .*moved to .*recomputing"):
            assert K.cached("run", {"a": 1}, lambda: [4, 5]) == [4, 5]
        assert pickle.loads(entry.read_bytes()) == [4, 5]
        entry.write_bytes(pickle.dumps([1, 2, 3]))
    assert len(list(cachedir.glob("run-*.pkl.corrupt-*"))) >= 1  # kept for inspection


def test_an_unpicklable_result_is_returned_and_leaves_no_temporary(cachedir):
    with pytest.warns(RuntimeWarning, match="cannot be pickled"):
        out = K.cached("run", {"a": 1}, lambda: (lambda x: x))
    assert out(3) == 3
    assert not list(cachedir.iterdir())  # neither an entry nor a temporary


def _fake_package(root: Path) -> Path:
    """A package ``fakepkg``: engine modules a, b, c (a imports c); a study importing only a; a report module."""
    pkg = root / "fakepkg"
    (pkg / "studies").mkdir(parents=True)
    (pkg / "report").mkdir()
    files = {
        "__init__.py": "from .b import g\n",
        "a.py": "from .c import h\n\ndef f(x):\n    return h(x) + 1\n",
        "b.py": "def g(x):\n    return 2 * x\n",
        "c.py": "def h(x):\n    return x\n",
        "studies/__init__.py": "",
        "studies/s.py": textwrap.dedent("""\
            '''A study.'''
            from .. import a
            from ..report.style import COLORS


            def run(n):
                return a.f(n)


            def plot_run(ax, r):
                ax.plot(r)
            """),
        "report/__init__.py": "",
        "report/style.py": "COLORS = {}\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    return pkg


def test_a_study_key_covers_its_module_and_the_engine_modules_it_imports(tmp_path):
    pkg = _fake_package(tmp_path)
    kw = dict(root=pkg, package="fakepkg")
    assert K.study_modules("fakepkg.studies.s", **kw) == ["fakepkg.a", "fakepkg.c", "fakepkg.studies.s"]
    before = K.code_hash("fakepkg.studies.s", **kw)
    (pkg / "b.py").write_text("def g(x):\n    return 3 * x\n")  # an engine module the study does not use
    assert K.code_hash("fakepkg.studies.s", **kw) == before
    s = pkg / "studies" / "s.py"
    s.write_text(s.read_text().replace("'''A study.'''", "'''A study, documented.'''  # and commented")
                 .replace("ax.plot(r)", "ax.semilogy(r)"))  # docstring, comment and plot: same key
    assert K.code_hash("fakepkg.studies.s", **kw) == before
    (pkg / "c.py").write_text("def h(x):\n    return -x\n")  # imported transitively (s -> a -> c): new key
    assert K.code_hash("fakepkg.studies.s", **kw) != before


def test_report_modules_are_not_part_of_a_key():
    names = K.study_modules("dlnlib.report.session")
    assert names == ["dlnlib._util", "dlnlib.report.session"]
    assert not [n for n in K.all_modules() if K.is_report_module(n)]
    assert "dlnlib.theory" in K.all_modules()


def test_cached_keys_on_the_study(cachedir, monkeypatch):
    calls = []
    K.cached("run", {"a": 1}, lambda: calls.append(1), study="dlnlib.theory")
    K.cached("run", {"a": 1}, lambda: calls.append(1), study="dlnlib.theory")
    assert len(calls) == 1
    import dlnlib.theory

    K.cached("run", {"a": 1}, lambda: calls.append(1), study=dlnlib.theory)  # a module or its name: same key
    assert len(calls) == 1
    with pytest.raises(ValueError, match="study must be a module"):
        K.cached("run", {"a": 1}, lambda: 0, study="dlnlib.no_such_module")
    real = K.code_hash
    monkeypatch.setattr(K, "code_hash", lambda study=None, **kw: "changed" if study else real(study, **kw))
    K.cached("run", {"a": 1}, lambda: calls.append(1), study="dlnlib.theory")  # the study's code changed
    assert len(calls) == 2


def test_timed_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("DLN_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("DLN_CACHE", "1")  # the cache may be switched off in the caller's environment
    calls = []
    out, s = timed_cached("t", {"a": 1}, lambda: calls.append(1) or 7, study="dlnlib.theory")
    out2, s2 = timed_cached("t", {"a": 1}, lambda: calls.append(1) or 8, study="dlnlib.theory")
    assert (out, out2, len(calls)) == (7, 7, 1) and s == s2 >= 0
