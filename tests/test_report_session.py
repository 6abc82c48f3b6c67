"""dlnlib.report.Session: scale validation, the preset actually run and where it is recorded; the old API's shim.
"""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlnlib.report import Session  # noqa: E402

PRESETS = {"ci": {"n": 1}, "cpu": {"n": 2}, "paper": {"n": 3}}


@pytest.fixture
def figdir(monkeypatch, tmp_path):
    monkeypatch.setenv("DLN_FIGURES_DIR", str(tmp_path))
    monkeypatch.setenv("DLN_RESULTS_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("bad", ["bogus", "CI", "cpu", None, 1])
def test_a_bad_scale_lists_the_valid_ones(figdir, bad):
    with pytest.raises(ValueError, match=r"scale must be one of \('ci', 'paper'\), got "):
        Session(bad)
    assert not list(figdir.iterdir())  # nothing written, nothing trained


def test_outputs_go_where_the_scale_says(figdir):
    assert Session("ci").out == figdir / "_ci" and Session("paper").out == figdir
    assert Session("ci", out=figdir / "mine").out == figdir / "mine"


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the CPU fallback")
def test_paper_scale_without_a_gpu_runs_the_cpu_preset_and_says_so(figdir):
    S = Session("paper", presets=PRESETS)
    assert (S.scale, S.preset, S.device, S.params) == ("paper", "cpu", "cpu", {"n": 2})
    assert Session("paper").preset == "paper"  # a notebook without a cpu preset runs the paper one
    assert Session("ci", presets=PRESETS).params == {"n": 1}
    with pytest.raises(ValueError, match="no CUDA GPU"):
        Session("paper", device="cuda")
    with pytest.raises(ValueError, match=r"presets has no 'paper' preset; it has \['ci', 'code'\]"):
        Session("paper", presets={"ci": 1, "code": 2})
    assert "preset='cpu'" in repr(S)


def test_the_preset_is_recorded_in_rows_figures_tables_and_captions(figdir):
    S = Session("paper", device="cpu", presets=PRESETS)
    S.check("c", "fig-a", "error small", 1e-12, 1e-10)
    S.skip("s", "fig-a", "needs data", "mnist not found")
    rows = json.loads((figdir / "verification.json").read_text())
    assert [(r["claim"], r["preset"], r["scale"]) for r in rows] == [("c", "cpu", "paper"), ("s", "cpu", "paper")]
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    ax.set(xlabel="x", ylabel="y")
    S.save_figure(fig, "fig-a", {"n": 2}, 1.0, caption="A figure.")
    S.save_figure(fig, "fig-b", {"n": 2}, 1.0, caption="Preset 'cpu' on this machine.")
    plt.close(fig)
    a, b = (json.loads((figdir / f"fig-{x}.json").read_text()) for x in "ab")
    assert a["preset"] == "cpu" and a["caption"] == "A figure. (preset 'cpu')"
    assert b["caption"] == "Preset 'cpu' on this machine."  # already said: not repeated
    S.save_table("tab-a", ["x"], [[1]], {"n": 2}, 1.0, caption="A table.")
    assert json.loads((figdir / "tab-a.table.json").read_text())["preset"] == "cpu"
    assert "(preset 'cpu')" in (figdir / "tab-a.md").read_text()


def test_ci_captions_are_unchanged(figdir):
    S = Session("ci")
    assert S.caption("A figure.") == "A figure."


def test_session_cache(figdir):
    S = Session("ci")
    calls = []
    for _ in range(2):
        assert S.cached("run", {"a": 1}, lambda: calls.append(1) or 5, study="dlnlib.theory") == 5
    assert len(calls) == 1 and list((figdir / "cache").glob("run-*.pkl"))


def test_cached_by_keys_each_point_and_refuses_what_is_not_a_function(figdir, monkeypatch):
    monkeypatch.delenv("DLN_CACHE", raising=False)
    nb = Session("ci")
    cache = nb.cached_by(lambda p: {"d": p["d"]}, name_of=lambda key, p: f"{key}-d{p['d']}")
    calls = []
    assert cache("run", {"d": 3, "M": object()}, lambda: calls.append(1) or 7) == 7
    assert cache("run", {"d": 3, "M": object()}, lambda: calls.append(1) or 8) == 7 and calls == [1]  # a hit
    with pytest.raises(TypeError, match="cached_by: params_of must be a function of a sweep point, got dict"):
        nb.cached_by({"d": 3})
    with pytest.raises(TypeError, match="cached_by: name_of must be a function of a sweep point, got str"):
        nb.cached_by(lambda p: p, name_of="run")
