"""dlnlib.figures: verification rows, the report, reproducible figure files, the result cache.

Every test writes into ``tmp_path`` (``DLN_FIGURES_DIR`` / ``DLN_CACHE_DIR``), never into the repository.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlnlib import figures as F


@pytest.fixture
def figdir(monkeypatch, tmp_path):
    monkeypatch.setenv("DLN_FIGURES_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def cachedir(monkeypatch, tmp_path):
    monkeypatch.setenv("DLN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DLN_CACHE", raising=False)
    return tmp_path / "cache"


def rows(path):
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------------------------
# check / skip / report
# ----------------------------------------------------------------------------------------------


def test_output_dirs(figdir):
    assert F.output_dir("paper") == figdir
    assert F.output_dir("ci") == figdir / "_ci"
    assert (figdir / "_ci").is_dir()
    with pytest.raises(ValueError, match=r"scale must be one of \('ci', 'paper'\), got 'full'"):
        F.output_dir("full")


def test_check_passes_and_writes_a_row(figdir):
    assert F.check("c1", "fig-a", "error small", 1e-12, 1e-10, scale="ci") is True
    (row,) = rows(figdir / "_ci" / "verification.json")
    assert row == {"claim": "c1", "figure": "fig-a", "statement": "error small", "value": 1e-12, "tolerance": 1e-10,
                   "passed": True, "scale": "ci", "status": "passed"}
    assert F.check("c2", "fig-a", "at the tolerance", 1e-10, 1e-10, scale="ci")  # value == tolerance passes


def test_check_raises_above_tolerance_and_records_the_failure(figdir):
    with pytest.raises(AssertionError, match=r"\[c1\] error small: measured 0.002, tolerance 0.001"):
        F.check("c1", "fig-a", "error small", 2e-3, 1e-3, scale="paper")
    (row,) = rows(figdir / "verification.json")
    assert row["passed"] is False and row["status"] == "failed"


def test_check_fails_on_nan(figdir):
    with pytest.raises(AssertionError, match="measured nan"):
        F.check("c-nan", "fig-a", "finite error", float("nan"), 1.0, scale="ci")
    (row,) = rows(figdir / "_ci" / "verification.json")
    assert row["status"] == "failed" and row["value"] == "nan"  # stored as valid JSON


def test_check_reported_and_explicit(figdir):
    assert F.check("r", "fig-b", "empirical claim", 5.0, 1.0, scale="ci", assert_=False) is False
    assert F.check("e", "fig-b", "count", 3, None, scale="ci", passed=True) is True
    with pytest.raises(AssertionError):
        F.check("e2", "fig-b", "count", 0, None, scale="ci", passed=False)
    with pytest.raises(ValueError, match="give a tolerance or an explicit passed"):
        F.check("x", "fig-b", "no tolerance", 1.0, None, scale="ci")
    by_claim = {r["claim"]: r for r in rows(figdir / "_ci" / "verification.json")}
    assert by_claim["r"]["status"] == "reported" and by_claim["r"]["passed"] is False
    assert by_claim["e"]["status"] == "passed" and by_claim["e"]["tolerance"] is None
    assert by_claim["e2"]["status"] == "failed"
    assert "x" not in by_claim


def test_rows_are_upserted_by_claim_and_scale(figdir):
    F.check("b-claim", "fig-2", "s", 1.0, 2.0, scale="ci")
    F.check("a-claim", "fig-2", "s", 1.0, 2.0, scale="ci")
    F.check("z-claim", "fig-1", "s", 1.0, 2.0, scale="ci")
    F.check("b-claim", "fig-2", "s", 1.5, 2.0, scale="ci")  # replaces the first row
    F.check("b-claim", "fig-2", "s", 0.5, 2.0, scale="paper")  # another scale: another row, another file
    ci = rows(figdir / "_ci" / "verification.json")
    assert [(r["figure"], r["claim"]) for r in ci] == [("fig-1", "z-claim"), ("fig-2", "a-claim"), ("fig-2", "b-claim")]
    assert ci[2]["value"] == 1.5
    (paper,) = rows(figdir / "verification.json")
    assert paper["value"] == 0.5 and paper["scale"] == "paper"


def test_skip_writes_a_skipped_row(figdir, capsys):
    F.skip("s1", "fig-c", "needs data", "MNIST not found", scale="ci")
    (row,) = rows(figdir / "_ci" / "verification.json")
    assert row["status"] == "skipped" and row["value"] is None and "MNIST not found" in row["statement"]
    assert "SKIPPED s1" in capsys.readouterr().out


def test_render_report(tmp_path):
    rs = [
        {"claim": "a", "figure": "f1", "statement": "x | y", "value": 1.23456e-11, "tolerance": 1e-10,
         "passed": True, "scale": "paper", "status": "passed"},
        {"claim": "b", "figure": "f1", "statement": "fails", "value": 2.0, "tolerance": 1.0,
         "passed": False, "scale": "ci", "status": "failed"},
        {"claim": "c", "figure": "f2", "statement": "measured", "value": 0.5, "tolerance": None,
         "passed": False, "scale": "paper", "status": "reported"},
        {"claim": "d", "figure": "f2", "statement": "no data", "value": None, "tolerance": None,
         "passed": False, "scale": "paper", "status": "skipped"},
    ]
    out = tmp_path / "VERIFICATION.md"
    text = F.render_report(rs, out)
    assert out.read_text() == text
    assert text.startswith("# Verification report\n")
    assert "4 rows; 1 passed, 1 failed, 1 reported, 1 skipped." in text
    assert "| f1 | a | paper | x \\| y | 1.23e-11 | 1e-10 | passed |" in text
    assert "| f2 | d | paper | no data | — | — | skipped |" in text
    assert len([l for l in text.splitlines() if l.startswith(("| f1 |", "| f2 |"))]) == 4


def test_merge_reports_and_main(figdir, capsys):
    F.check("a", "f1", "s", 1.0, 2.0, scale="ci")
    F.check("b", "f1", "s", 1.0, 2.0, scale="paper")
    assert F.main(["report"]) == 0
    merged = rows(figdir / "verification.json")
    assert {(r["claim"], r["scale"]) for r in merged} == {("a", "ci"), ("b", "paper")}
    assert "2 rows; 2 passed, 0 failed" in (figdir / "VERIFICATION.md").read_text()
    F.check("c", "f1", "s", 3.0, 2.0, scale="ci", assert_=False)
    F.write_row({"claim": "d", "figure": "f1", "statement": "s", "value": 3.0, "tolerance": 2.0, "passed": False,
                 "scale": "ci", "status": "failed"}, "ci")
    assert F.main(["report"]) == 1  # a failed row makes the report command fail
    assert F.main([]) == 2
    # merge: a later file wins on the same (claim, scale)
    p1, p2 = figdir / "r1.json", figdir / "r2.json"
    p1.write_text(json.dumps([{"claim": "x", "figure": "f", "scale": "ci", "value": 1}]))
    p2.write_text(json.dumps([{"claim": "x", "figure": "f", "scale": "ci", "value": 2}]))
    assert F.merge_reports(p1, p2, out=figdir / "m.json") == [{"claim": "x", "figure": "f", "scale": "ci", "value": 2}]


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def _figure():
    import matplotlib.pyplot as plt

    F.use_style()
    fig, ax = plt.subplots(figsize=(3, 2))
    x = np.linspace(0, 1, 50)
    ax.plot(x, x**2, color=F.COLORS["orig"], label="orig")
    ax.semilogy(x, np.exp(-5 * x) + 1e-3, color=F.OKABE_ITO[1], label="comp")
    ax.set_xlabel("iteration $t$")
    ax.legend()
    return fig


def test_save_figure_is_byte_identical(figdir):
    import matplotlib.pyplot as plt

    fig = _figure()
    params = {"d": 10, "eta": np.float64(0.1), "grid": np.arange(3), "nested": {"x": (1, 2)}, "bad": float("inf")}
    pdf = F.save_figure(fig, "test-fig", "ci", params, runtime_s=1.234, caption="cap")
    assert pdf == figdir / "_ci" / "test-fig.pdf"
    first = pdf.read_bytes()
    assert first.startswith(b"%PDF") and b"CreationDate" not in first
    F.save_figure(fig, "test-fig", "ci", params, runtime_s=1.234, caption="cap")
    assert pdf.read_bytes() == first  # the same figure saved twice
    plt.close(fig)
    fig2 = _figure()
    F.save_figure(fig2, "test-fig", "ci", params, runtime_s=1.234, caption="cap")
    assert pdf.read_bytes() == first  # and a figure redrawn from the same numbers
    plt.close(fig2)
    assert (figdir / "_ci" / "test-fig.png").read_bytes().startswith(b"\x89PNG")
    info = json.loads((figdir / "_ci" / "test-fig.json").read_text())
    assert info["figure"] == "test-fig" and info["scale"] == "ci" and info["caption"] == "cap"
    assert info["runtime_s"] == 1.23
    assert info["params"] == {"d": 10, "eta": 0.1, "grid": [0, 1, 2], "nested": {"x": [1, 2]}, "bad": "inf"}
    assert isinstance(info["device"], str) and info["device"]


def test_save_figure_paper_scale_goes_to_the_root(figdir):
    import matplotlib.pyplot as plt

    fig = _figure()
    F.save_figure(fig, "paper-fig", "paper")
    plt.close(fig)
    assert (figdir / "paper-fig.pdf").exists() and not (figdir / "_ci" / "paper-fig.pdf").exists()


# ----------------------------------------------------------------------------------------------
# Cache
# ----------------------------------------------------------------------------------------------


def test_cached_returns_the_stored_value_without_recomputing(cachedir):
    calls = []

    def compute():
        calls.append(1)
        return {"loss": np.arange(4.0), "n": len(calls)}

    a = F.cached("run", {"eta": 0.1, "grid": np.arange(3)}, compute)
    b = F.cached("run", {"grid": np.arange(3), "eta": 0.1}, compute)  # same params, other key order
    assert len(calls) == 1
    assert b["n"] == 1 and np.array_equal(a["loss"], b["loss"])
    assert len(list(cachedir.glob("run-*.pkl"))) == 1
    c = F.cached("run", {"eta": 0.2, "grid": np.arange(3)}, compute)  # other params: recompute
    assert len(calls) == 2 and c["n"] == 2
    F.cached("other", {"eta": 0.1, "grid": np.arange(3)}, compute)  # other name: recompute
    assert len(calls) == 3
    assert not list(cachedir.glob("*.tmp"))


def test_cache_can_be_disabled(cachedir, monkeypatch):
    monkeypatch.setenv("DLN_CACHE", "0")
    calls = []
    for _ in range(2):
        F.cached("run", {"a": 1}, lambda: calls.append(1) or 7)
    assert len(calls) == 2
    assert not cachedir.exists() or not list(cachedir.iterdir())


def test_cache_key_depends_on_library_source(cachedir, monkeypatch):
    calls = []
    F.cached("run", {"a": 1}, lambda: calls.append(1))
    monkeypatch.setattr(F, "_source_hash", lambda: "changed-code")
    F.cached("run", {"a": 1}, lambda: calls.append(1))
    assert len(calls) == 2


def test_measured_row_supersedes_rows_skipped_for_missing_data(figdir, monkeypatch):
    F.skip("t-mnist", "fig-d", "on mnist", "mnist not found", scale="ci")
    F.skip("t-big", "fig-d", "big model", "GPU-scale model, not run on this CPU", scale="ci")
    F.skip("t-mnist", "fig-d", "on mnist", "mnist not found", scale="paper")
    F.skip("u-mnist", "fig-e", "on mnist", "mnist not found", scale="ci")
    F.check("t-acc", "fig-d", "accuracy", 0.5, 1.0, scale="ci")  # same run: its own skips stay
    assert len(rows(figdir / "_ci" / "verification.json")) == 4
    monkeypatch.setattr(F, "_RUN_ID", "a later run")
    F.check("t-acc", "fig-d", "accuracy", 0.5, 1.0, scale="ci")  # a later run with the data
    left = {(r["claim"], r["scale"]) for r in rows(figdir / "_ci" / "verification.json")}
    assert left == {("t-big", "ci"), ("u-mnist", "ci"), ("t-acc", "ci")}  # other figure, other reason: kept
    assert {r["claim"] for r in rows(figdir / "verification.json")} == {"t-mnist"}  # other scale: kept
    F.skip("t-mnist", "fig-d", "on mnist", "mnist not found", scale="ci")  # a skip never removes measured rows
    assert ("t-acc", "ci") in {(r["claim"], r["scale"]) for r in rows(figdir / "_ci" / "verification.json")}
