"""Tests of dlnlib.studies.maps_dynamics: the point functions on tiny cases against known values, the sweep wiring
(cached per point), the folding of results and the map plot (linted)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlnlib.metrics import separation  # noqa: E402
from dlnlib.report import lint  # noqa: E402
from dlnlib.report.style import use_style  # noqa: E402
from dlnlib.studies import maps_dynamics as MD  # noqa: E402
from dlnlib.sweep import fold, sweep  # noqa: E402


def test_geometric_spectrum_and_validation():
    assert MD.geometric_spectrum(4, 2.0).tolist() == [1.0, 0.5, 0.25, 0.125]
    with pytest.raises(ValueError, match="gap"):
        MD.geometric_spectrum(3, 0.5)


def test_align_point_tiny_factorisation():
    out = MD.align_point(0.1, 3.0, d=6, r=2, seeds=(0,), records=80)
    t = out["t_fit"][0]
    assert out["ratio"].shape == (1, 2)
    assert np.isfinite(t).all() and t[0] < t[1]  # incremental: the larger value is fitted first
    assert np.isfinite(out["ratio"]).all() and (out["ratio"] > 0).all()
    # the alignment time is a recorded iteration within the run
    assert (out["t_align"] <= out["iterations"]).all()
    with pytest.raises(ValueError, match="eps"):
        MD.align_point(0.0, 2.0)


def test_mixture_geometry_matches_closed_form():
    # spread 0: the un-centred class means are (c·μ0 + e_k)/√(1+c²), pairwise cosine c²/(1+c²), so S_0 = 1/(1+c²)
    for c in (0.0, 1.0, 2.0):
        D = MD.mixture_data(3, 4, 16, offset=c, spread=0.0, seed=1)
        assert float(separation(D.X, D.labels, D.K)) == pytest.approx(1 / (1 + c**2), abs=1e-12)
        assert float(D.X.square().sum(0).mean()) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="offset"):
        MD.mixture_data(3, 4, 16, offset=-1.0, spread=0.0)


def test_separation_point_runs_and_validates():
    out = MD.separation_point(1.0, 0.5, K=3, n=2, depth=4, max_its=300)
    assert out["S"].shape == (5,) and 0.0 <= out["up"] <= 1.0 and 0.0 <= out["up_centred"] <= 1.0
    assert out["S"][-1] <= 1.0 + 1e-12
    with pytest.raises(ValueError, match="orthonormal"):
        MD.separation_point(1.0, 0.0, kind="orthonormal")
    with pytest.raises(ValueError, match="kind"):
        MD.separation_point(0.0, 0.0, kind="cubes")


def test_track_point_tiny_completion():
    out = MD.track_point(0.05, gammas=(0.1,), d=16, r=1, p=0.5, iter_base=200, iter_per_inv_eps=5.0, records=20)
    assert out["stray"].shape == (1,) and out["final_error"].shape == (1,)
    assert np.isfinite(out["stray"]).all() and (out["stray"] >= 0).all()
    assert out["iterations"] == 300


def test_count_point_tiny_mlp():
    out = MD.count_point(8, 5, n_classes=3, d=5, n_train=30, depth=3)
    sv = out["sv"]
    assert 1 <= out["count"] <= 8 and np.all(np.diff(sv) <= 1e-12)
    assert out["count"] == int((sv > 0.1 * sv[0]).sum())
    assert 0.0 < out["top_share"] <= 1.0 + 1e-12


def test_sweep_wiring_caches_each_point():
    store, calls = {}, []

    def cache(name, params, compute):
        k = (name, tuple(sorted((p, repr(v)) for p, v in params.items())))
        if k not in store:  # the sweep first probes with a compute that raises: only a stored result counts
            store[k] = compute()
            calls.append(k)
        return store[k]

    grid = {"offset": [0.0, 1.0], "spread": [0.0], "K": [3], "n": [2], "depth": [3], "max_its": [50]}
    res = sweep(MD.separation_point, grid, cache=cache, key="maps-sep-test")
    again = sweep(MD.separation_point, grid, cache=cache, key="maps-sep-test")
    assert len(calls) == 2 and all(np.array_equal(a["S"], b["S"]) for a, b in zip(res, again))
    up = fold(res, {"offset": [0.0, 1.0], "spread": [0.0]}, lambda r: r["up"])
    assert up.shape == (2, 1)
    with pytest.raises(ValueError, match="grid has"):
        fold(res, {"offset": [0.0, 1.0, 2.0]}, lambda r: r["up"])


def test_plot_map_lints_clean():
    use_style()
    fig, ax = plt.subplots(figsize=(4.6, 2.6))
    Z = np.array([[0.2, 0.9], [np.nan, 1.1]])
    cb = MD.plot_map(ax, [1.1, 2.0], [0.1, 0.01], Z, xlabel="gap", ylabel="eps", cbar_label="ratio",
                     holds=Z > 0.8)
    MD.mark_setting(ax, [1.1, 2.0], [0.1, 0.01], 1.2, 1e-3, "paper")
    fig.legend(loc="outside lower center", frameon=False)
    assert cb.ax.get_ylabel() == "ratio"
    assert lint.lint_figure(fig, {"caption": "A map (ci scale).", "scale": "ci", "preset": "ci"}) == []
    with pytest.raises(ValueError, match="expected"):
        MD.plot_map(ax, [1, 2, 3], [1], Z, xlabel="x", ylabel="y", cbar_label="z")
    plt.close(fig)
