"""The result cache: a computation stored on disk, keyed by its parameters and by the code of the study it runs.

``cached(name, params, compute, study=S)`` returns ``compute()``, stored as ``<name>-<key>.pkl`` where the key
hashes ``params`` and the *code fingerprint* of the study module ``S`` and of every dlnlib module it imports,
transitively (:func:`study_modules`). A fingerprint is the module's syntax tree without docstrings, comments and
top-level ``plot_*`` functions (:func:`code_fingerprint`), so an edit of a docstring, a comment or a plot does not
retrain, while any change of the numerics in the study or in the engine code it uses does. Without ``study`` the
key covers every numerical module of dlnlib (conservative). The report layer itself (style, saving, this cache,
the ledger) is never part of a key: it only draws, saves and reports.

Settings: ``DLN_RESULTS_DIR`` is the cache folder (default: the checkout's ``.cache/results`` when working inside
the workbook, else ``./.dlnlib-cache/results`` of the current directory); ``DLN_CACHE=0`` disables the cache. The
data sets have their own folder, ``DLN_DATA_DIR`` (:mod:`dlnlib.data`). An entry that cannot be read (truncated,
garbage, a class that moved) is reported with its path, moved aside as ``<entry>.corrupt-<time>`` and recomputed;
a result that cannot be pickled is returned uncached, with a warning, and leaves no temporary behind.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import pickle
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from ._files import jsonable, write_files

PACKAGE = "dlnlib"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Modules that only draw, save and report, relative to the package: never part of a cache key.
REPORT_MODULES = frozenset({"figures", "report"} | {f"report.{m}" for m in (
    "__main__", "_files", "cache", "figures", "session", "style", "tables", "verification")})


def is_report_module(name: str) -> bool:
    """Whether module ``name`` (``<package>.<rest>``) belongs to the report layer (:data:`REPORT_MODULES`).

    >>> is_report_module("dlnlib.report.style"), is_report_module("dlnlib.report.explorers"), is_report_module("dlnlib")
    (True, False, False)
    """
    return "." in name and name.split(".", 1)[1] in REPORT_MODULES


def code_fingerprint(source: str) -> str:
    """The source's syntax tree without docstrings and without top-level ``plot_*`` functions (which only draw).

    Comments and formatting are not in the tree either.

    >>> code_fingerprint("def f(x):\\n    'Doc.'\\n    return x  # note") == code_fingerprint("def f(x): return x")
    True
    >>> code_fingerprint("def f(x): return x") == code_fingerprint("def f(x): return -x")
    False
    >>> code_fingerprint("def plot_f(ax): ax.plot([0])") == code_fingerprint("def plot_f(ax): ax.plot([1])")
    True
    """
    tree = ast.parse(source)
    tree.body = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name.startswith("plot_"))]
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


_FINGERPRINTS: dict[tuple, str] = {}


def _fingerprint_file(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _FINGERPRINTS:
        _FINGERPRINTS[key] = code_fingerprint(path.read_text(encoding="utf-8"))
    return _FINGERPRINTS[key]


def module_file(name: str, *, root: Path = PACKAGE_DIR, package: str = PACKAGE) -> Path | None:
    """The source file of module ``name`` inside ``package`` (rooted at ``root``), or ``None`` if there is none.

    >>> module_file("dlnlib.theory").name, module_file("dlnlib").name, module_file("numpy")
    ('theory.py', '__init__.py', None)
    """
    parts = name.split(".")
    if parts[0] != package:
        return None
    base = root.joinpath(*parts[1:])
    for p in (base.with_suffix(".py") if len(parts) > 1 else None, base / "__init__.py"):
        if p is not None and p.is_file():
            return p
    return None


def imported_modules(name: str, source: str, *, root: Path = PACKAGE_DIR, package: str = PACKAGE) -> set[str]:
    """The modules of ``package`` that the source of module ``name`` imports, anywhere in it (also inside functions).

    ``from X import a`` counts ``X.a`` when that is a module, else ``X`` (``a`` is a name defined in ``X``);
    relative imports are resolved against ``name``. Parent packages' ``__init__`` are not counted.

    >>> sorted(imported_modules("dlnlib.studies.s", "from ..theory import f\\nfrom .. import metrics\\nimport os"))
    ['dlnlib.metrics', 'dlnlib.theory']
    """
    is_package = module_file(name, root=root, package=package) == root.joinpath(*name.split(".")[1:], "__init__.py")
    here = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            target = ".".join(base + (node.module.split(".") if node.module else []))
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.add(sub if module_file(sub, root=root, package=package) else target)
    return {m for m in found if module_file(m, root=root, package=package) is not None}


def study_modules(study: ModuleType | str, *, root: Path = PACKAGE_DIR, package: str = PACKAGE) -> list[str]:
    """The study module and every module of ``package`` it imports, transitively, minus the report layer.

    ``study`` is a module or a module name (``"dlnlib.studies.lop"``); a module outside the package (a user's own
    study) is followed through its imports of the package.

    >>> "dlnlib.theory" in study_modules("dlnlib.theory") and "dlnlib.figures" not in study_modules("dlnlib.theory")
    True
    """
    if isinstance(study, ModuleType):
        name, path = study.__name__, getattr(study, "__file__", None)
        path = module_file(name, root=root, package=package) or (Path(path) if path else None)
    else:
        name, path = str(study), module_file(str(study), root=root, package=package)
    if path is None:
        raise ValueError(f"study must be a module of {package} or a module with a source file, got {study!r}.")
    seen: dict[str, Path] = {name: Path(path)}
    todo = [name]
    while todo:
        m = todo.pop()
        for dep in imported_modules(m, seen[m].read_text(encoding="utf-8"), root=root, package=package):
            if dep not in seen and not is_report_module(dep):
                seen[dep] = module_file(dep, root=root, package=package)
                todo.append(dep)
    return sorted(seen)


def all_modules(*, root: Path = PACKAGE_DIR, package: str = PACKAGE) -> list[str]:
    """Every module of ``package`` but the report layer (the key of a result cached without a study)."""
    names = []
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root).with_suffix("").parts
        name = ".".join((package, *rel[:-1])) if rel[-1] == "__init__" else ".".join((package, *rel))
        if not is_report_module(name) and "__pycache__" not in rel:
            names.append(name)
    return names


def code_hash(study: ModuleType | str | None = None, *, root: Path = PACKAGE_DIR, package: str = PACKAGE) -> str:
    """Hash of the code fingerprints of :func:`study_modules` (or of :func:`all_modules` for ``study=None``)."""
    names = all_modules(root=root, package=package) if study is None else study_modules(study, root=root,
                                                                                          package=package)
    h = hashlib.sha256()
    for n in names:
        p = module_file(n, root=root, package=package)
        if p is None and isinstance(study, ModuleType) and n == study.__name__:
            p = Path(study.__file__)
        h.update(n.encode() + _fingerprint_file(p).encode())
    return h.hexdigest()[:12]


def results_dir() -> Path:
    """``DLN_RESULTS_DIR``, else the checkout's ``.cache/results`` inside the workbook, else ``./.dlnlib-cache/results``."""
    from .figures import workbook_root

    if os.environ.get("DLN_RESULTS_DIR"):
        return Path(os.environ["DLN_RESULTS_DIR"])
    root = workbook_root()
    return root / ".cache" / "results" if root is not None else Path.cwd() / ".dlnlib-cache" / "results"


def cache_key(name: str, params: dict, study: ModuleType | str | None = None) -> str:
    """``<name>-<16 hex digits>``: the file stem of the entry for ``params`` and the study's code."""
    digest = hashlib.sha256(json.dumps(jsonable(params), sort_keys=True).encode() + code_hash(study).encode())
    return f"{name}-{digest.hexdigest()[:16]}"


def _load(path: Path) -> tuple[bool, Any]:
    """``(True, value)`` of a readable entry; ``(False, None)`` when absent or corrupt (then moved aside, warned)."""
    try:
        with path.open("rb") as f:
            return True, pickle.load(f)
    except FileNotFoundError:
        return False, None
    except Exception as e:  # truncated (EOFError), garbage (UnpicklingError), a class that moved (ImportError), …
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            os.replace(path, aside)
        except FileNotFoundError:  # another process moved it first
            pass
        warnings.warn(f"cache entry {path} is unreadable ({type(e).__name__}: {e}); moved to {aside.name}, "
                      "recomputing", RuntimeWarning, stacklevel=3)
        return False, None


def cached(name: str, params: dict, compute: Callable[[], Any], study: ModuleType | str | None = None) -> Any:
    """Return ``compute()``, cached on disk under ``name``, ``params`` and the study's code (:func:`code_hash`).

    A rerun with the same parameters and the same code loads the result instead of recomputing; a change of
    parameters or of the numerical code of ``study`` (or of the engine modules it imports) recomputes.
    ``DLN_CACHE=0`` disables the cache. Results must be picklable (numpy arrays, dicts, dataclasses).

    >>> import tempfile; os.environ["DLN_RESULTS_DIR"] = tempfile.mkdtemp()
    >>> cached("demo", {"n": 3}, lambda: list(range(3)), study="dlnlib.theory")
    [0, 1, 2]
    >>> cached("demo", {"n": 3}, lambda: "not recomputed", study="dlnlib.theory")
    [0, 1, 2]
    >>> del os.environ["DLN_RESULTS_DIR"]
    """
    if os.environ.get("DLN_CACHE", "1") == "0":
        return compute()
    path = results_dir() / f"{cache_key(name, params, study)}.pkl"
    hit, value = _load(path)
    if hit:
        return value
    out = compute()

    def dump(tmp: Path) -> None:
        with tmp.open("wb") as f:
            pickle.dump(out, f)

    try:
        write_files({path: dump})
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        warnings.warn(f"the result of cached({name!r}) cannot be pickled ({type(e).__name__}: {e}); returned "
                      "without caching", RuntimeWarning, stacklevel=2)
    return out


def timed_cached(name: str, params: dict, compute: Callable[[], Any],
                 study: ModuleType | str | None = None) -> tuple[Any, float]:
    """:func:`cached` that also stores how long ``compute()`` took: returns ``(result, seconds)``, the seconds of
    the run that filled the cache (so a figure that reuses another figure's cached runs still reports their cost).

    >>> import tempfile; os.environ["DLN_RESULTS_DIR"] = tempfile.mkdtemp()
    >>> out, s = timed_cached("demo", {"n": 1}, lambda: 7, study="dlnlib.theory"); out, s >= 0
    (7, True)
    >>> del os.environ["DLN_RESULTS_DIR"]
    """
    def run_and_time():
        t0 = time.perf_counter()
        out = compute()
        return {"result": out, "compute_s": time.perf_counter() - t0}

    r = cached(name, params, run_and_time, study)
    return r["result"], float(r["compute_s"])
