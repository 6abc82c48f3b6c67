"""The verification ledger: one row per numerical claim, its criterion and its status; merging, rendering, the CLI.

A row (one JSON object in ``verification.json`` beside the figures of its scale) holds

- ``claim``, ``figure``, ``statement``: what is checked, for which figure, in words;
- ``value``: the measured number (non-finite values as the strings ``"nan"``, ``"inf"``);
- ``direction`` and ``tolerance``: the criterion ``value <direction> tolerance``, direction one of ``<=``, ``<``,
  ``>=``, ``>``, ``==`` (:data:`DIRECTIONS`); both ``None`` for a reported row without a criterion;
- ``status``: ``passed`` / ``failed`` (asserted rows: the criterion, and an explicit ``passed=`` when given, hold
  or not), ``reported`` (measured, not asserted) or ``skipped`` (with its ``reason``);
- ``scale`` and ``preset`` (the preset actually run, e.g. ``cpu`` for ``scale="paper"`` without a GPU);
- ``run`` and ``time``: the writing process and the UTC time of writing.

Rows are superseded per ``(claim, scale)`` by the newest ``time``, never by the order of files; at equal times the
worse status wins (failed > skipped > reported > passed), so merging can never turn a failure into a pass. A row
skipped for missing data is superseded by a newer measured row of its figure and scale from another run.
Rows written before these fields existed are read with the direction inferred from their ``passed`` flag
(:func:`normalise_row`); their values are unchanged.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ._files import dumps, write_text
from .figures import figures_root, validate_scale
from .tables import markdown_table

DIRECTIONS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq}
SYMBOLS = {"<=": "≤", "<": "<", ">=": "≥", ">": ">", "==": "="}
STATUSES = ("passed", "reported", "skipped", "failed")  # from best to worst
RUN_ID = f"{os.getpid()}-{time.time_ns()}"  # tells this process's rows from earlier runs'


def now() -> str:
    """The current UTC time, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def holds(value, tolerance, direction: str | None) -> bool:
    """Whether ``value <direction> tolerance``; ``False`` for NaN or a missing criterion.

    >>> holds(1e-12, 1e-10, "<="), holds(0.7, 0.1, ">="), holds(float("nan"), 1.0, "<="), holds(1.0, None, "<=")
    (True, True, False, False)
    """
    if value is None or tolerance is None or direction is None:
        return False
    return bool(DIRECTIONS[direction](float(value), float(tolerance)))  # float("nan"): values stored as text


def infer_direction(value: float, tolerance: float, passed: bool) -> str:
    """The direction in which ``value`` against ``tolerance`` gives ``passed`` (``<=`` when both or neither do).

    >>> infer_direction(0.75, 0.1, True), infer_direction(0.05, 0.1, False), infer_direction(0.5, 1.0, True)
    ('>=', '>=', '<=')
    """
    for d in ("<=", ">="):
        if holds(value, tolerance, d) == bool(passed):
            return d
    return "<="


def _preset_from(statement: str, scale: str) -> str:
    m = re.search(r"preset '?(ci|cpu|paper)\b", statement, re.IGNORECASE)
    return m.group(1) if m else scale


def normalise_row(row: dict) -> dict:
    """A row with every field of the current format: legacy rows get their direction (inferred from their
    ``passed`` flag), their preset (named in the statement, else the scale) and empty
    ``run``/``time`` (older than any new row). Values, tolerances of rows that had one, and statuses are unchanged.
    """
    r = dict(row)
    if "direction" not in r:
        if r.get("tolerance") is not None and r.get("value") is not None and r.get("passed") is not None:
            r["direction"] = infer_direction(r["value"], r["tolerance"], r["passed"])
        else:
            r["direction"] = None
    r.setdefault("preset", _preset_from(r.get("statement", ""), r["scale"]))
    r.setdefault("run", None)
    r.setdefault("time", None)
    return r


def problem(row: dict) -> str | None:
    """Why an asserted row counts as failed, or ``None``: its status says failed, it has no criterion, or its
    value violates its criterion although it says passed (an explicit ``passed=`` can only make a check stricter).
    """
    if row["status"] not in ("passed", "failed"):
        return None
    if row["status"] == "failed":
        return "failed"
    if row.get("tolerance") is None or row.get("direction") not in DIRECTIONS:
        return "asserted without a tolerance and direction"
    if not holds(row["value"], row["tolerance"], row["direction"]):
        return f"recorded as passed, but {row['value']} {SYMBOLS[row['direction']]} {row['tolerance']} is false"
    return None


def _order(row: dict) -> tuple:
    return row.get("time") or "", STATUSES.index(row["status"]) if row.get("status") in STATUSES else len(STATUSES)


def supersede(rows: list[dict]) -> list[dict]:
    """The rows that stand: the newest per ``(claim, scale)`` (worse status first at equal times), minus rows
    skipped for missing data that a newer measured row of the same figure and scale from another run replaces.
    Sorted by figure, claim and scale.
    """
    latest: dict[tuple, dict] = {}
    for r in sorted((normalise_row(r) for r in rows), key=_order):
        latest[(r["claim"], r["scale"])] = r
    kept = list(latest.values())
    measured = [r for r in kept if r["status"] != "skipped"]

    def replaced(s: dict) -> bool:
        return s["status"] == "skipped" and s.get("missing_data", False) and any(
            m["figure"] == s["figure"] and m["scale"] == s["scale"] and (m["time"] or "") >= (s["time"] or "")
            and m.get("run") != s.get("run") for m in measured)

    return sorted((r for r in kept if not replaced(r)), key=lambda r: (r["figure"], r["claim"], r["scale"]))


def load_rows(path: Path) -> list[dict]:
    """The rows of a ``verification.json`` (normalised, :func:`normalise_row`); ``[]`` if there is none."""
    path = Path(path)
    return [normalise_row(r) for r in json.loads(path.read_text(encoding="utf-8"))] if path.exists() else []


def run_status_line(folder: Path, prefix: str = "") -> str:
    """``"N passed, N failed, N reported, N skipped"``: the rows of ``folder/verification.json`` that this process
    wrote (:data:`RUN_ID`) with a claim starting with ``prefix`` — what a notebook's golden cell prints (data-
    dependent: a run without its data writes skipped rows instead).

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> _ = check("demo-a", "f", "a", 0.0, 1.0, folder=d, scale="ci"); skip("demo-b", "f", "b", "no data", folder=d, scale="ci")
    SKIPPED demo-b: no data
    >>> run_status_line(d), run_status_line(d, prefix="demo-b")
    ('1 passed, 0 failed, 0 reported, 1 skipped', '0 passed, 0 failed, 0 reported, 1 skipped')
    """
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str (the start of the claims to count), got {type(prefix).__name__}.")
    mine = [r for r in load_rows(Path(folder) / "verification.json")
            if r.get("run") == RUN_ID and r["claim"].startswith(prefix)]
    return ", ".join(f"{sum(r['status'] == s for r in mine)} {s}" for s in ("passed", "failed", "reported", "skipped"))


def write_row(row: dict, folder: Path) -> None:
    """Add ``row`` to ``folder/verification.json`` and keep the rows that stand (:func:`supersede`).

    Holds an exclusive lock on ``verification.json.lock`` so notebooks running in parallel do not lose rows; the
    file is replaced atomically.
    """
    import fcntl

    path = Path(folder) / "verification.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".json.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        write_text(path, dumps(supersede(load_rows(path) + [row])))


def check(claim: str, figure: str, statement: str, value: float, tolerance: float | None, *, folder: Path,
          scale: str, preset: str | None = None, direction: str | None = None, passed: bool | None = None,
          assert_: bool = True) -> bool:
    """Record a verification row in ``folder`` and, when ``assert_``, raise ``AssertionError`` if the claim fails.

    The claim passes iff ``value <direction> tolerance`` (so NaN fails) and, when given, ``passed`` is true.
    ``direction`` defaults to ``<=``, or, with an explicit ``passed``, to the direction that agrees with it
    (:func:`infer_direction`; give it explicitly in new code). An asserted claim needs a tolerance;
    ``assert_=False`` records a measured-but-not-asserted claim (status ``reported``), which may have none if
    ``passed`` is given.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> check("demo", "kwon-thm1", "error below 1e-10", 3e-14, 1e-10, folder=d, scale="ci")
    True
    >>> check("demo", "kwon-thm1", "error below 1e-10", 3e-5, 1e-10, folder=d, scale="ci")
    Traceback (most recent call last):
    ...
    AssertionError: [demo] error below 1e-10: measured 3e-05, must be ≤ 1e-10
    >>> check("ctrl", "kwon-thm1", "a perturbed run is rejected", 0.7, 1e-6, folder=d, scale="ci", direction=">")
    True
    """
    scale = validate_scale(scale)
    value = float(value)
    if direction is not None and direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {tuple(DIRECTIONS)}, got {direction!r}.")
    if tolerance is None:
        if passed is None:
            raise ValueError(f"[{claim}] give a tolerance or an explicit passed=...")
        if assert_:
            raise ValueError(f"[{claim}] an asserted claim needs a tolerance (and a direction, default '<='); "
                             "pass assert_=False to report the value without a criterion.")
        direction = None
    else:
        tolerance = float(tolerance)
        direction = direction or ("<=" if passed is None else infer_direction(value, tolerance, passed))
        passed = holds(value, tolerance, direction) and (passed is None or bool(passed))
    row = {"claim": claim, "figure": figure, "statement": statement, "value": value, "tolerance": tolerance,
           "direction": direction, "passed": bool(passed), "scale": scale, "preset": preset or scale,
           "status": ("passed" if passed else "failed") if assert_ else "reported", "run": RUN_ID, "time": now()}
    write_row(row, folder)
    if assert_ and not passed:
        raise AssertionError(f"[{claim}] {statement}: measured {value:.3g}, must be {SYMBOLS[direction]} {tolerance:.3g}")
    return bool(passed)


def skip(claim: str, figure: str, statement: str, reason: str, *, folder: Path, scale: str,
         preset: str | None = None, missing_data: bool | None = None) -> None:
    """Record a ``skipped`` row in ``folder`` and print why.

    ``missing_data`` (default: ``"not found"`` in ``reason``, the data loaders' wording) marks the row as
    superseded by a later measured row of the same figure and scale (:func:`supersede`); other skips (e.g. a model
    too large for this machine) stay until their claim is measured.
    """
    if missing_data is None:
        missing_data = "not found" in reason
    row = {"claim": claim, "figure": figure, "statement": f"{statement} — skipped: {reason}", "value": None,
           "tolerance": None, "direction": None, "passed": False, "scale": validate_scale(scale),
           "preset": preset or scale, "status": "skipped", "reason": reason, "run": RUN_ID, "time": now()}
    if missing_data:
        row["missing_data"] = True
    write_row(row, folder)
    print(f"SKIPPED {claim}: {reason}")


def merge_reports(*paths: Path, out: Path) -> list[dict]:
    """The rows that stand (:func:`supersede`) among several ``verification.json`` files, written to ``out``.

    The order of ``paths`` does not matter.
    """
    rows = supersede([r for p in paths for r in load_rows(Path(p))])
    write_text(Path(out), dumps(rows))
    return rows


def _fmt(v) -> str:
    if v is None:
        return "—"
    return f"{v:.3g}" if isinstance(v, (int, float)) else str(v)  # non-finite values are stored as text


def criterion(row: dict) -> str:
    """The criterion in words: ``≤ 1e-10``, ``≥ 0.95``, or ``reported`` / ``—`` for rows without one."""
    if row.get("direction") in SYMBOLS and row.get("tolerance") is not None:
        return f"{SYMBOLS[row['direction']]} {_fmt(row['tolerance'])}"
    return "reported" if row["status"] == "reported" else "—"


def reason(row: dict) -> str:
    """Why a row was skipped (its ``reason``, or the text after "skipped:" in a legacy statement)."""
    return row.get("reason") or row["statement"].rsplit("skipped: ", 1)[-1]


def summary(rows: list[dict]) -> dict:
    """Counts of rows per status, with asserted rows that have a :func:`problem` counted as failed."""
    failed = [r for r in rows if problem(r)]
    return {"rows": len(rows), "failed": len(failed),
            "passed": sum(r["status"] == "passed" for r in rows) - sum(r["status"] == "passed" for r in failed),
            "reported": sum(r["status"] == "reported" for r in rows),
            "skipped": sum(r["status"] == "skipped" for r in rows)}


def render_report(rows: list[dict], out: Path) -> str:
    """Render ``VERIFICATION.md``: a summary, one line per claim and scale, then the failed and skipped rows."""
    rows = [normalise_row(r) for r in rows]
    n = summary(rows)
    status = {id(r): ("FAILED" if problem(r) else r["status"]) for r in rows}
    table = markdown_table(["figure", "claim", "scale", "preset", "statement", "value", "criterion", "status"],
                           [[r["figure"], r["claim"], r["scale"], r["preset"], r["statement"], _fmt(r["value"]),
                             criterion(r), status[id(r)]] for r in rows])
    parts = ["# Verification report",
             "Generated by `python -m dlnlib.report` (the last step of `make figures`) from `figures/verification.json`. "
             "Each row is a claim checked numerically by a notebook. *passed/failed* rows are assertions: the "
             "value must meet the criterion (≤, <, ≥, > or = the tolerance); *reported* rows are measured but not "
             "asserted; *skipped* rows were not measured (reason below). `preset` is the parameter set actually run "
             "(`cpu`: the paper scale without a GPU).",
             f"{n['rows']} rows; {n['passed']} passed, {n['failed']} failed, {n['reported']} reported, "
             f"{n['skipped']} skipped.", table]
    failed = [r for r in rows if problem(r)]
    if failed:
        parts += ["## Failed", "\n".join(f"- **{r['figure']} / {r['claim']} ({r['scale']})**: {problem(r)} — "
                                         f"{r['statement']} (value {_fmt(r['value'])}, {criterion(r)})" for r in failed)]
    skipped = [r for r in rows if r["status"] == "skipped"]
    if skipped:
        parts += ["## Skipped", "\n".join(f"- {r['figure']} / {r['claim']} ({r['scale']}): {reason(r)}" for r in skipped)]
    text = "\n\n".join(parts) + "\n"
    write_text(Path(out), text)
    return text


def _print_tail(rows: list[dict], where: str, stream=None) -> None:
    """Print the failed and skipped rows loudly (the last thing a run shows)."""
    stream = stream or sys.stdout
    failed = [r for r in rows if problem(r)]
    skipped = [r for r in rows if r["status"] == "skipped"]
    n = summary(rows)
    print(f"{n['rows']} verification rows: {n['passed']} passed, {n['failed']} failed, {n['reported']} reported, "
          f"{n['skipped']} skipped -> {where}", file=stream)
    if failed:
        print(f"\n!!! {len(failed)} FAILED:", file=stream)
        for r in failed:
            print(f"!!!   {r['figure']} / {r['claim']} [{r['scale']}]: {problem(r)}; value {_fmt(r['value'])}, "
                  f"{criterion(r)} — {r['statement']}", file=stream)
    if skipped:
        print(f"\n!!! {len(skipped)} SKIPPED (not measured):", file=stream)
        for r in skipped:
            print(f"!!!   {r['figure']} / {r['claim']} [{r['scale']}]: {reason(r)}", file=stream)


def main(argv: list[str] | None = None) -> int:
    """``python -m dlnlib.report [report | check {ci,paper}]``.

    ``report`` (the default) merges the ci and paper rows into ``figures/verification.json``, renders
    ``figures/VERIFICATION.md`` and exits 1 if any asserted row fails. ``check SCALE`` reads that scale's
    ``verification.json`` without writing anything and exits 1 if any asserted row fails. Both end by listing the
    failed and skipped rows.
    """
    parser = argparse.ArgumentParser(prog="python -m dlnlib.report", description=main.__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", default="report", choices=["report", "check"])
    parser.add_argument("scale", nargs="?", choices=["ci", "paper"], help="for check: the scale to read")
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:
        return int(e.code or 0)
    root = figures_root()
    if args.command == "check":
        scale = args.scale or "ci"
        path = (root if scale == "paper" else root / "_ci") / "verification.json"
        rows = [r for r in supersede(load_rows(path)) if r["scale"] == scale]
        _print_tail(rows, str(path))
    else:
        rows = merge_reports(root / "_ci" / "verification.json", root / "verification.json",
                             out=root / "verification.json")
        render_report(rows, root / "VERIFICATION.md")
        _print_tail(rows, str(root / "VERIFICATION.md"))
    return 1 if any(problem(r) for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
