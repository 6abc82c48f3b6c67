"""dlnlib.report.verification: rows and their criteria, superseding by time, the report and its exit code.

Every test writes into ``tmp_path`` (``DLN_FIGURES_DIR``), never into the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlnlib.report import verification as V

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def figdir(monkeypatch, tmp_path):
    monkeypatch.setenv("DLN_FIGURES_DIR", str(tmp_path))
    (tmp_path / "_ci").mkdir()
    return tmp_path


def rows(path):
    return json.loads(Path(path).read_text())


def check(*args, folder, scale="ci", **kw):
    return V.check(*args, folder=folder, scale=scale, **kw)


def test_check_passes_and_writes_a_full_row(tmp_path):
    assert check("c1", "fig-a", "error small", 1e-12, 1e-10, folder=tmp_path) is True
    (row,) = rows(tmp_path / "verification.json")
    assert {k: row[k] for k in ("claim", "figure", "statement", "value", "tolerance", "direction", "passed", "scale",
                                "preset", "status")} == {
        "claim": "c1", "figure": "fig-a", "statement": "error small", "value": 1e-12, "tolerance": 1e-10,
        "direction": "<=", "passed": True, "scale": "ci", "preset": "ci", "status": "passed"}
    assert row["run"] == V.RUN_ID and row["time"].endswith("+00:00")
    assert check("c2", "fig-a", "at the tolerance", 1e-10, 1e-10, folder=tmp_path)  # value == tolerance passes


def test_check_raises_and_records_the_failure(tmp_path):
    with pytest.raises(AssertionError, match=r"\[c1\] error small: measured 0.002, must be ≤ 0.001"):
        check("c1", "fig-a", "error small", 2e-3, 1e-3, folder=tmp_path, scale="paper")
    (row,) = rows(tmp_path / "verification.json")
    assert row["passed"] is False and row["status"] == "failed"


def test_check_fails_on_nan_whatever_passed_says(tmp_path):
    with pytest.raises(AssertionError, match="measured nan"):
        check("c-nan", "fig-a", "finite error", float("nan"), 1.0, folder=tmp_path)
    with pytest.raises(AssertionError):
        check("c-nan2", "fig-a", "finite error", float("nan"), 1.0, folder=tmp_path, passed=True)
    by = {r["claim"]: r for r in rows(tmp_path / "verification.json")}
    assert by["c-nan"]["status"] == by["c-nan2"]["status"] == "failed" and by["c-nan"]["value"] == "nan"


@pytest.mark.parametrize("direction,value,ok", [(">=", 0.7, True), (">=", 0.05, False), (">", 0.1, False),
                                                ("<", 0.1, False), ("==", 0.1, True), ("<=", 0.1, True)])
def test_directions(tmp_path, direction, value, ok):
    if ok:
        assert check("d", "f", "s", value, 0.1, folder=tmp_path, direction=direction)
    else:
        with pytest.raises(AssertionError, match=f"must be {V.SYMBOLS[direction]} 0.1"):
            check("d", "f", "s", value, 0.1, folder=tmp_path, direction=direction)
    (row,) = rows(tmp_path / "verification.json")
    assert row["direction"] == direction and row["status"] == ("passed" if ok else "failed")


def test_explicit_passed_infers_the_direction_and_cannot_loosen_a_criterion(tmp_path):
    # legacy calls: passed=bool(x >= tol) records direction ">=" with the same status as before
    assert check("frozen", "f", "does not recover (≥ 0.1)", 0.75, 0.1, folder=tmp_path, passed=True)
    with pytest.raises(AssertionError, match="must be ≥ 0.1"):
        check("frozen2", "f", "does not recover (≥ 0.1)", 0.05, 0.1, folder=tmp_path, passed=False)
    # an explicit direction with passed=True does not hide a violated criterion
    with pytest.raises(AssertionError):
        check("strict", "f", "s", 2.0, 1.0, folder=tmp_path, direction="<=", passed=True)
    # passed=False makes a check stricter
    with pytest.raises(AssertionError):
        check("stricter", "f", "s", 0.5, 1.0, folder=tmp_path, direction="<=", passed=False)
    by = {r["claim"]: r for r in rows(tmp_path / "verification.json")}
    assert by["frozen"]["direction"] == by["frozen2"]["direction"] == ">="
    assert by["strict"]["status"] == by["stricter"]["status"] == "failed"


def test_reported_rows_and_missing_criteria(tmp_path):
    assert check("r", "fig-b", "empirical claim", 5.0, 1.0, folder=tmp_path, assert_=False) is False
    assert check("r2", "fig-b", "measured", 3.0, None, folder=tmp_path, passed=True, assert_=False) is True
    with pytest.raises(ValueError, match="an asserted claim needs a tolerance"):
        check("e", "fig-b", "count", 3, None, folder=tmp_path, passed=True)
    with pytest.raises(ValueError, match="give a tolerance or an explicit passed"):
        check("x", "fig-b", "no tolerance", 1.0, None, folder=tmp_path)
    with pytest.raises(ValueError, match="direction must be one of"):
        check("y", "fig-b", "s", 1.0, 1.0, folder=tmp_path, direction="=<")
    by = {r["claim"]: r for r in rows(tmp_path / "verification.json")}
    assert by["r"]["status"] == "reported" and by["r"]["direction"] == "<=" and by["r"]["passed"] is False
    assert by["r2"]["status"] == "reported" and by["r2"]["direction"] is None and by["r2"]["tolerance"] is None
    assert set(by) == {"r", "r2"}


def test_an_asserted_claim_without_tolerance_is_refused(tmp_path):
    with pytest.raises(ValueError, match="an asserted claim needs a tolerance"):
        check("wang-loglinear-grid", "wang-scaling", "min R²", 0.99, None, folder=tmp_path, passed=True)
    assert not (tmp_path / "verification.json").exists()


def test_rows_are_upserted_by_claim_and_scale(tmp_path):
    check("b-claim", "fig-2", "s", 1.0, 2.0, folder=tmp_path)
    check("a-claim", "fig-2", "s", 1.0, 2.0, folder=tmp_path)
    check("z-claim", "fig-1", "s", 1.0, 2.0, folder=tmp_path)
    check("b-claim", "fig-2", "s", 1.5, 2.0, folder=tmp_path)  # replaces the first row
    check("b-claim", "fig-2", "s", 0.5, 2.0, folder=tmp_path / "p", scale="paper")  # another scale, another file
    ci = rows(tmp_path / "verification.json")
    assert [(r["figure"], r["claim"]) for r in ci] == [("fig-1", "z-claim"), ("fig-2", "a-claim"), ("fig-2", "b-claim")]
    assert ci[2]["value"] == 1.5
    (paper,) = rows(tmp_path / "p" / "verification.json")
    assert paper["value"] == 0.5 and paper["scale"] == "paper"


def test_skip_writes_a_skipped_row_with_its_reason(tmp_path, capsys):
    V.skip("s1", "fig-c", "needs data", "MNIST not found", folder=tmp_path, scale="ci", preset="ci")
    (row,) = rows(tmp_path / "verification.json")
    assert row["status"] == "skipped" and row["value"] is None and row["reason"] == "MNIST not found"
    assert "MNIST not found" in row["statement"] and row["missing_data"] is True
    assert "SKIPPED s1" in capsys.readouterr().out


def test_measured_row_supersedes_rows_skipped_for_missing_data(tmp_path, monkeypatch):
    ci, paper = tmp_path / "ci", tmp_path / "paper"
    V.skip("t-mnist", "fig-d", "on mnist", "mnist not found", folder=ci, scale="ci")
    V.skip("t-big", "fig-d", "big model", "GPU-scale model, not run on this CPU", folder=ci, scale="ci")
    V.skip("t-mnist", "fig-d", "on mnist", "mnist not found", folder=paper, scale="paper")
    V.skip("u-mnist", "fig-e", "on mnist", "mnist not found", folder=ci, scale="ci")
    check("t-acc", "fig-d", "accuracy", 0.5, 1.0, folder=ci)  # same run: its own skips stay
    assert len(rows(ci / "verification.json")) == 4
    monkeypatch.setattr(V, "RUN_ID", "a later run")
    check("t-acc", "fig-d", "accuracy", 0.5, 1.0, folder=ci)  # a later run with the data
    left = {r["claim"] for r in rows(ci / "verification.json")}
    assert left == {"t-big", "u-mnist", "t-acc"}  # other figure, other reason: kept
    assert {r["claim"] for r in rows(paper / "verification.json")} == {"t-mnist"}  # other scale: kept
    V.skip("t-mnist", "fig-d", "on mnist", "mnist not found", folder=ci, scale="ci")  # never removes measured rows
    assert "t-acc" in {r["claim"] for r in rows(ci / "verification.json")}


def _row(claim, value, status, time, scale="ci", **kw):
    return dict(claim=claim, figure="f", statement="s", value=value, tolerance=1.0, direction="<=",
                passed=status == "passed", scale=scale, preset=scale, status=status, run="r", time=time, **kw)


def test_supersede_goes_by_time_not_by_file_order(tmp_path):
    old, new = _row("x", 0.5, "passed", "2020-01-01T00:00:00+00:00"), _row("x", 2.0, "failed", "2021-01-01T00:00:00+00:00")
    for order in ([old], [new]), ([new], [old]):
        p1, p2 = tmp_path / "1.json", tmp_path / "2.json"
        p1.write_text(json.dumps(order[0]))
        p2.write_text(json.dumps(order[1]))
        (merged,) = V.merge_reports(p1, p2, out=tmp_path / "m.json")
        assert merged["status"] == "failed" and merged["value"] == 2.0
    legacy_pass = {k: v for k, v in old.items() if k not in ("time", "run", "direction", "preset")}
    legacy_fail = dict(legacy_pass, value=2.0, passed=False, status="failed")
    assert V.supersede([legacy_fail, legacy_pass])[0]["status"] == "failed"  # equal times: the worse status wins
    assert V.supersede([legacy_pass, new])[0]["status"] == "failed"  # a timed row is newer than a legacy one


def test_report_flags_rows_whose_value_violates_their_criterion(tmp_path):
    lying = _row("lie", 5.0, "passed", "2021-01-01T00:00:00+00:00")  # says passed, but 5 ≤ 1 is false
    no_tol = dict(_row("nt", 5.0, "passed", "2021-01-01T00:00:00+00:00"), tolerance=None, direction=None)
    assert V.problem(lying).startswith("recorded as passed, but 5.0 ≤ 1.0 is false")
    assert V.problem(no_tol) == "asserted without a tolerance and direction"
    text = V.render_report([lying, no_tol], tmp_path / "V.md")
    assert "2 rows; 0 passed, 2 failed" in text and text.count("| FAILED |") == 2 and "## Failed" in text


def test_render_report(tmp_path):
    rs = [_row("a", 1.23456e-11, "passed", None, scale="paper") | {"statement": "x | y", "tolerance": 1e-10},
          _row("b", 2.0, "failed", None),
          _row("c", 0.5, "reported", None, scale="paper") | {"tolerance": None, "direction": None},
          {"claim": "d", "figure": "f2", "statement": "no data — skipped: mnist not found", "value": None,
           "tolerance": None, "passed": False, "scale": "paper", "status": "skipped"}]
    out = tmp_path / "VERIFICATION.md"
    text = V.render_report(rs, out)
    assert out.read_text() == text and text.startswith("# Verification report\n")
    assert "4 rows; 1 passed, 1 failed, 1 reported, 1 skipped." in text
    assert "| f | a | paper | paper | x \\| y | 1.23e-11 | ≤ 1e-10 | passed |" in text
    assert "| f | c | paper | paper | s | 0.5 | reported | reported |" in text
    assert "| f2 | d | paper | paper | no data — skipped: mnist not found | — | — | skipped |" in text
    assert text.rstrip().endswith("- f2 / d (paper): mnist not found")  # skipped rows are listed last, with reasons


def test_a_fresh_failing_row_fails_the_report(figdir, capsys):
    """The bug of the old report: a fresh failing ci row hidden behind an older passing copy in figures/."""
    check("a", "f1", "s", 1.0, 2.0, folder=figdir / "_ci")
    check("b", "f1", "s", 1.0, 2.0, folder=figdir, scale="paper")
    assert V.main(["report"]) == 0  # ci rows are merged into figures/verification.json
    assert {(r["claim"], r["scale"]) for r in rows(figdir / "verification.json")} == {("a", "ci"), ("b", "paper")}
    assert "2 rows; 2 passed, 0 failed" in (figdir / "VERIFICATION.md").read_text()
    with pytest.raises(AssertionError):
        check("a", "f1", "s", 3.0, 2.0, folder=figdir / "_ci")  # the fresh ci row fails
    V.skip("s", "f2", "needs data", "mnist not found", folder=figdir / "_ci", scale="ci")
    capsys.readouterr()
    assert V.main([]) == 1
    out = capsys.readouterr().out
    (a,) = [r for r in rows(figdir / "verification.json") if r["claim"] == "a"]
    assert a["value"] == 3.0 and a["status"] == "failed"
    md = (figdir / "VERIFICATION.md").read_text()
    assert "1 failed" in md and "| f1 | a | ci | ci | s | 3 | ≤ 2 | FAILED |" in md
    assert "!!! 1 FAILED" in out and "f1 / a [ci]" in out
    assert out.rstrip().splitlines()[-1] == "!!!   f2 / s [ci]: mnist not found"  # skips are the last thing printed
    assert V.main(["check", "ci"]) == 1 and V.main(["check", "paper"]) == 0  # read-only check of one scale
    assert V.main(["bogus"]) == 2


def test_committed_rows_keep_their_values_and_state_their_criterion():
    path = REPO / "figures" / "verification.json"
    raw = json.loads(path.read_text())
    norm = [V.normalise_row(r) for r in raw]
    for a, b in zip(raw, norm):
        assert (a["value"], a["status"], a["passed"]) == (b["value"], b["status"], b["passed"])
        if b["status"] in ("passed", "failed"):
            assert b["direction"] in V.DIRECTIONS and b["tolerance"] is not None, b["claim"]
            assert V.problem(b) is None or b["status"] == "failed", b["claim"]
    assert sum(r["direction"] == ">=" and r["status"] == "passed" for r in norm) >= 18
