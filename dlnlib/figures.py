"""Figure style and saving, result caching, and the verification report.

Conventions (used by every notebook):

- ``scale`` is ``"ci"`` (fast) or ``"paper"``. Paper-scale outputs go to ``figures/``; ci-scale outputs to
  ``figures/_ci/`` (not committed), so running the tests never overwrites the committed figures.
  ``DLN_FIGURES_DIR`` overrides the root.
- A figure ``<id>`` is saved as ``<id>.pdf`` (fixed metadata: byte-identical reruns), ``<id>.png`` and
  ``<id>.json`` (the parameter preset it was drawn from, its scale, device and runtime).
- :func:`check` appends a row to ``verification.json`` in the same folder and raises ``AssertionError``
  when an asserted claim fails. :func:`render_report` writes ``VERIFICATION.md``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

STYLE = Path(__file__).with_name("dln.mplstyle")
SCALES = ("ci", "paper")
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
COLORS = {"orig": "#0072B2", "comp": "#E69F00", "altmin": "#009E73", "theory": "#000000", "narrow": "#CC79A7"}


def project_root() -> Path:
    """The repository root: the nearest parent of the working directory holding ``pyproject.toml``."""
    here = Path.cwd().resolve()
    for p in [here, *here.parents]:
        if (p / "pyproject.toml").exists() and (p / "dlnlib").is_dir():
            return p
    return Path(__file__).resolve().parents[1]


def output_dir(scale: str) -> Path:
    """``figures/`` for ``scale="paper"``, ``figures/_ci/`` for ``"ci"`` (created)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}.")
    root = Path(os.environ.get("DLN_FIGURES_DIR", project_root() / "figures"))
    d = root if scale == "paper" else root / "_ci"
    d.mkdir(parents=True, exist_ok=True)
    return d


def use_style() -> None:
    """Apply the workbook's matplotlib style (``dlnlib/dln.mplstyle``)."""
    import matplotlib.pyplot as plt

    plt.style.use(str(STYLE))


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.generic,)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if hasattr(x, "tolist"):
        return x.tolist()
    return x


def device_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"cuda: {torch.cuda.get_device_name(0)}"
        return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    except Exception:  # pragma: no cover
        return "cpu"


def save_figure(fig, fig_id: str, scale: str, params: dict | None = None, runtime_s: float | None = None,
                caption: str = "") -> Path:
    """Save ``fig`` as ``<id>.pdf`` and ``<id>.png`` and its preset as ``<id>.json`` in :func:`output_dir`.

    The PDF carries fixed metadata (no dates), so a rerun from the same numbers is byte-identical.
    """
    d = output_dir(scale)
    meta = {"Creator": "DLN Workbook", "Producer": "matplotlib", "CreationDate": None, "ModDate": None}
    fig.savefig(d / f"{fig_id}.pdf", metadata=meta)
    fig.savefig(d / f"{fig_id}.png", metadata={"Software": None})
    info = {"figure": fig_id, "scale": scale, "device": device_name(), "caption": caption,
            "notebook": os.environ.get("DLN_NOTEBOOK", ""),
            "runtime_s": None if runtime_s is None else round(runtime_s, 2), "params": _jsonable(params or {})}
    (d / f"{fig_id}.json").write_text(json.dumps(info, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return d / f"{fig_id}.pdf"


# ----------------------------------------------------------------------------------------------
# Caching
# ----------------------------------------------------------------------------------------------


def _code_fingerprint(source: str) -> str:
    """The source's syntax tree without docstrings and without top-level ``plot_*`` functions (which only draw).

    Comments and formatting are not in the tree either.

    >>> _code_fingerprint("def f(x):\\n    'Doc.'\\n    return x  # note") == _code_fingerprint("def f(x): return x")
    True
    >>> _code_fingerprint("def f(x): return x") == _code_fingerprint("def f(x): return -x")
    False
    >>> _code_fingerprint("def plot_f(ax): ax.plot([0])") == _code_fingerprint("def plot_f(ax): ax.plot([1])")
    True
    """
    import ast

    tree = ast.parse(source)
    tree.body = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name.startswith("plot_"))]
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


def _source_hash() -> str:
    """Hash of dlnlib's computational code: every module but ``figures.py``, without docstrings, comments and
    ``plot_*`` functions.

    Cached results are keyed on it, so a change of the numerics retrains while an edit of a docstring, a
    comment or a plot does not.
    """
    h = hashlib.sha256()
    for p in sorted(Path(__file__).parent.glob("*.py")):
        if p.name != "figures.py":  # this module only draws, saves and reports
            h.update(p.name.encode() + _code_fingerprint(p.read_text()).encode())
    return h.hexdigest()[:12]


def cache_dir() -> Path:
    d = Path(os.environ.get("DLN_CACHE_DIR", project_root() / ".cache" / "results"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def cached(name: str, params: dict, compute: Callable[[], Any]) -> Any:
    """Return ``compute()``, cached on disk under ``name`` + a hash of ``params`` and of dlnlib's code (:func:`_source_hash`).

    A rerun of a figure with the same preset and the same library code loads the result instead of
    retraining; any change of parameters or of dlnlib's numerical code recomputes (docstrings, comments
    and drawing code do not count). ``DLN_CACHE=0`` disables the cache.
    Results must be picklable (numpy arrays, dicts, dataclasses).
    """
    import pickle

    if os.environ.get("DLN_CACHE", "1") == "0":
        return compute()
    key = hashlib.sha256(json.dumps(_jsonable(params), sort_keys=True).encode() + _source_hash().encode()).hexdigest()[:16]
    path = cache_dir() / f"{name}-{key}.pkl"
    if path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    out = compute()
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(out, f)
    tmp.replace(path)
    return out


# ----------------------------------------------------------------------------------------------
# Verification report
# ----------------------------------------------------------------------------------------------


_RUN_ID = f"{os.getpid()}-{time.time_ns()}"  # tells this process's skipped rows from earlier runs


def _report_path(scale: str) -> Path:
    return output_dir(scale) / "verification.json"


def load_rows(path: Path) -> list[dict]:
    return json.loads(path.read_text()) if path.exists() else []


def write_row(row: dict, scale: str) -> None:
    """Insert or replace the row with the same ``(claim, scale)`` in the scale's ``verification.json``.

    A measured row (any status but ``skipped``) also removes the figure's rows at that scale that an
    *earlier* run skipped for missing data (:func:`skip`): they are stale once the data are there, and their
    claims are named per data set, not like the rows a run with data writes. Skips of the current run (this
    process) stay: a figure may have one data set and lack another. Holds an exclusive lock on
    ``verification.json.lock`` so notebooks running in parallel do not lose rows.
    """
    import fcntl

    def stale(r: dict) -> bool:
        if r["scale"] != row["scale"]:
            return False
        return r["claim"] == row["claim"] or (row.get("status") != "skipped" and r.get("missing_data", False)
                                              and r["figure"] == row["figure"] and r.get("run") != _RUN_ID)

    path = _report_path(scale)
    with open(path.with_suffix(".json.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = [r for r in load_rows(path) if not stale(r)]
        rows.append(row)
        rows.sort(key=lambda r: (r["figure"], r["claim"]))
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(_jsonable(rows), indent=1, ensure_ascii=False) + "\n")
        tmp.replace(path)


def check(claim: str, figure: str, statement: str, value: float, tolerance: float | None, *, scale: str,
          passed: bool | None = None, assert_: bool = True) -> bool:
    """Record a verification row and, when ``assert_``, raise ``AssertionError`` if the claim fails.

    ``value`` is the measured number (an error, a count of violations, …). With ``passed=None`` the claim
    passes iff ``value <= tolerance`` (so NaN fails). ``assert_=False`` records a measured-but-not-asserted
    claim (status ``reported``).

    >>> import tempfile, os; os.environ["DLN_FIGURES_DIR"] = tempfile.mkdtemp()
    >>> check("demo", "kwon-thm1", "error below 1e-10", 3e-14, 1e-10, scale="ci")
    True
    >>> check("demo", "kwon-thm1", "error below 1e-10", 3e-5, 1e-10, scale="ci")
    Traceback (most recent call last):
    ...
    AssertionError: [demo] error below 1e-10: measured 3e-05, tolerance 1e-10
    >>> del os.environ["DLN_FIGURES_DIR"]
    """
    value = float(value)
    if passed is None:
        if tolerance is None:
            raise ValueError("give a tolerance or an explicit passed=...")
        passed = bool(value <= tolerance)  # NaN -> False
    row = {"claim": claim, "figure": figure, "statement": statement, "value": value,
           "tolerance": None if tolerance is None else float(tolerance), "passed": bool(passed), "scale": scale,
           "status": ("passed" if passed else "failed") if assert_ else "reported"}
    write_row(row, scale)
    if assert_ and not passed:
        raise AssertionError(f"[{claim}] {statement}: measured {value:.3g}, tolerance {tolerance}")
    return bool(passed)


def skip(claim: str, figure: str, statement: str, reason: str, *, scale: str, missing_data: bool | None = None) -> None:
    """Record a ``skipped`` row and print why.

    ``missing_data`` (default: ``"not found"`` in ``reason``, the data loaders' wording) marks the row as
    superseded by the next measured row of the same figure and scale (see :func:`write_row`); other skips
    (e.g. a model too large for this machine) stay.
    """
    if missing_data is None:
        missing_data = "not found" in reason
    row = {"claim": claim, "figure": figure, "statement": f"{statement} — skipped: {reason}", "value": None,
           "tolerance": None, "passed": False, "scale": scale, "status": "skipped"}
    if missing_data:  # only these carry the run, so the rows of other skips are the same on every run
        row.update(missing_data=True, run=_RUN_ID)
    write_row(row, scale)
    print(f"SKIPPED {claim}: {reason}")


def merge_reports(*paths: Path, out: Path) -> list[dict]:
    """Union of rows from several ``verification.json`` files (later files win on the same claim and scale)."""
    rows: dict[tuple, dict] = {}
    for p in paths:
        for r in load_rows(Path(p)):
            rows[(r["claim"], r["scale"])] = r
    merged = sorted(rows.values(), key=lambda r: (r["figure"], r["claim"], r["scale"]))
    Path(out).write_text(json.dumps(merged, indent=1, ensure_ascii=False) + "\n")
    return merged


def render_report(rows: list[dict], out: Path) -> str:
    """Render ``VERIFICATION.md``: one line per claim and scale."""
    def fmt(v):
        if v is None:
            return "—"
        return f"{v:.3g}" if isinstance(v, (int, float)) else str(v)  # non-finite values are stored as text

    n_fail = sum(r["status"] == "failed" for r in rows)
    lines = ["# Verification report", "",
             "Generated by `make figures` from `figures/verification.json`. Each row is a claim checked numerically "
             "by a notebook: *passed/failed* rows are assertions (value ≤ tolerance), *reported* rows are measured "
             "but not asserted, *skipped* rows lacked their data.", "",
             f"{len(rows)} rows; {sum(r['status'] == 'passed' for r in rows)} passed, {n_fail} failed, "
             f"{sum(r['status'] == 'reported' for r in rows)} reported, {sum(r['status'] == 'skipped' for r in rows)} skipped.", "",
             "| figure | claim | scale | statement | value | tolerance | status |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        stmt = r["statement"].replace("|", "\\|")
        lines.append(f"| {r['figure']} | {r['claim']} | {r['scale']} | {stmt} | {fmt(r['value'])} | "
                     f"{fmt(r['tolerance'])} | {r['status']} |")
    text = "\n".join(lines) + "\n"
    Path(out).write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    """``python -m dlnlib.figures report``: merge ci and paper rows into ``figures/verification.json`` and render."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["report"]:
        print("usage: python -m dlnlib.figures report")
        return 2
    root = output_dir("paper")
    rows = merge_reports(root / "_ci" / "verification.json", root / "verification.json", out=root / "verification.json")
    render_report(rows, root / "VERIFICATION.md")
    failed = [r for r in rows if r["status"] == "failed"]
    print(f"{len(rows)} verification rows, {len(failed)} failed -> {root / 'VERIFICATION.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
