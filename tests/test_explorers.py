"""Explorers: built without a browser, controls set, results and plots checked."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from dlnlib.report import explorers as E

widgets = pytest.importorskip("ipywidgets")


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("DLN_RESULTS_DIR", str(tmp_path))


def _controls(w):
    return {c.description: c for c in w.kwargs_widgets if hasattr(c, "description")}


def _lines(fig):
    return [l.get_ydata().copy() for ax in fig.axes for l in ax.lines]


def test_cdln_explorer_runs_and_replots_on_change():
    w = E.cdln_explorer()
    c = _controls(w)
    c["d"].value, c["r"].value, c["r̂"].value, c["iterations"].value = 12, 2, 4, 300
    c["ε"].value = 0.3
    w.update()
    first = w.result
    assert first is not None and len(first.axes) == 2
    c["α"].value = 3.0
    w.update()
    second = w.result
    assert second is not first
    a, b = _lines(first), _lines(second)
    assert any(x.shape != y.shape or not np.allclose(x, y) for x, y in zip(a, b))


def test_cdln_explorer_bad_controls_show_message(capsys):
    w = E.cdln_explorer()
    c = _controls(w)
    c["d"].value, c["r"].value, c["r̂"].value, c["iterations"].value = 12, 3, 2, 50
    w.update()
    assert w.result is None
    assert "r_hat = 2 is below the target rank r = 3" in capsys.readouterr().out


def test_cdln_explorer_divergence_shows_message(capsys):
    w = E.cdln_explorer()
    c = _controls(w)
    c["d"].value, c["r"].value, c["r̂"].value, c["iterations"].value = 12, 2, 4, 300
    c["η"].value, c["ε"].value = 10.0, 1.0
    w.update()
    assert w.result is None
    assert "diverged" in capsys.readouterr().out


def test_lop_explorer_overlays_rho():
    w = E.lop_explorer()
    c = _controls(w)
    c["d"].value, c["r"].value, c["iterations"].value = 10, 2, 30
    w.update()
    fig = w.result
    assert fig is not None
    res = E.compute_lop(3, 10, 2, 0.5, 0.1, 0.0, 30, 0)
    mid = res.layer_sv[:, 0, 2:-2]  # the d - 2r invariant singular values equal rho(t)
    np.testing.assert_allclose(mid, np.repeat(res.rho[:, None], mid.shape[1], 1), rtol=1e-9)


def test_collapse_explorer_fits_rate():
    w = E.collapse_explorer()
    c = _controls(w)
    c["L"].value, c["iterations"].value = 4, 300
    w.update()
    assert w.result is not None
    res = E.compute_collapse(4, 0.5, "orthogonal", 5, 10, 1.0, 300, 0)
    assert res["D"].shape == (4,) and 0 <= res["r2"] <= 1


def test_lop_explorer_middle_block_angle_and_3d_view():
    res = E.compute_lop(3, 10, 2, 0.5, 0.1, 0.0, 30, 0)
    assert len(res.evs) == 3
    for ev in res.evs:  # the middle block, compared as a subspace, never moves
        assert np.nanmax(ev.right[:, ev.k]) < 1e-9 and np.nanmax(ev.left[:, ev.k]) < 1e-9
    fig = E.plot_lop(res, view="3-D (as talk-t04)")
    assert len(fig.axes) == 9


def test_explorers_draw_through_the_committed_figure_functions(monkeypatch):
    from dlnlib.studies import lop, wang

    calls = []
    for mod, name in ((lop, "plot_svd_lines"), (wang, "plot_decay"), (wang, "plot_separation")):
        orig = getattr(mod, name)
        monkeypatch.setattr(mod, name, lambda *a, _o=orig, _n=name, **k: (calls.append(_n), _o(*a, **k))[1])
    E.plot_lop(E.compute_lop(3, 10, 2, 0.5, 0.1, 0.0, 30, 0))
    E.plot_collapse(E.compute_collapse(4, 0.5, "orthogonal", 5, 10, 1.0, 300, 0))
    assert {"plot_svd_lines", "plot_decay", "plot_separation"} <= set(calls)


def test_lop_explorer_rejects_missing_middle_block(capsys):
    w = E.lop_explorer()
    c = _controls(w)
    c["d"].value, c["r"].value, c["iterations"].value = 8, 4, 20
    w.update()
    assert w.result is None
    assert "must exceed 2r" in capsys.readouterr().out


@pytest.mark.parametrize("compute, kw, err, words", [
    (E.compute_lop, dict(depth=0), ValueError, "depth must be an integer >= 1, got 0"),
    (E.compute_lop, dict(eta=-0.1), ValueError, "eta must be finite and > 0, got -0.1"),
    (E.compute_lop, dict(iterations=10.5), TypeError, "iterations must be an integer, got float 10.5"),
    (E.compute_lop, dict(weight_decay=-1e-3), ValueError, "weight_decay (λ) must be finite and >= 0"),
    (E.compute_cdln, dict(problem="bogus"), ValueError, "problem must be factorisation, completion or sensing"),
    (E.compute_cdln, dict(p=1.5), ValueError, "p (the sampling probability) must be in (0, 1], got 1.5"),
    (E.compute_cdln, dict(alpha=0.0), ValueError, "alpha must be finite and > 0, got 0.0"),
    (E.compute_cdln, dict(d=10, r=11, r_hat=12), ValueError, "r = 11 exceeds d = 10"),
    (E.compute_cdln, dict(eps="0.1"), TypeError, "eps must be a real number, got str '0.1'"),
    (E.compute_collapse, dict(init="gaussian"), ValueError, "init must be 'orthogonal', 'normal' or 'uniform'"),
    (E.compute_collapse, dict(K=1), ValueError, "K (classes) must be an integer >= 2, got 1"),
    (E.compute_collapse, dict(eta=float("nan")), ValueError, "eta must be finite and > 0, got nan"),
])
def test_compute_functions_reject_bad_controls_by_name(compute, kw, err, words):
    with pytest.raises(err) as e:
        compute(**kw)
    assert words in str(e.value)


def test_a_bad_control_value_shows_a_message_not_a_traceback(capsys):
    """Values a slider cannot produce but a caller of the guarded function can: a message, no exception."""
    f = E._guarded(E.compute_cdln, E.plot_cdln)
    assert f(d=12, r=2, r_hat=4, iterations=10.5) is None
    assert "⚠ iterations must be an integer, got float 10.5" in capsys.readouterr().out
    assert f(d=12, r=2, r_hat=4, eta=-1.0) is None
    assert "⚠ eta must be finite and > 0, got -1.0" in capsys.readouterr().out
    g = E._guarded(E.compute_collapse, E.plot_collapse)
    assert g(init="gaussian") is None
    assert "⚠ init must be 'orthogonal'" in capsys.readouterr().out
