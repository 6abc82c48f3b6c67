"""The recovery maps of issue 14 (dlnlib.studies.maps_recovery): point functions on tiny cases, the helpers, the
sweep wiring and the plot."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlnlib.studies import maps_recovery as MR
from dlnlib.sweep import sweep

torch.set_num_threads(1)

TINY = dict(d=8, r=1, seeds=2, iterations=1500, records=40, eps=5e-2)


def test_dof_and_observations():
    assert MR.dof(100, 10) == 1900 and MR.dof(40, 4) == 304
    assert MR.n_observations(100, 10, 2000 / 1900) == 2000  # the paper's setting: 20 % of 100×100, m = 2000
    with pytest.raises(ValueError, match="r must be at most d"):
        MR.dof(3, 4)
    with pytest.raises(ValueError, match="ratio"):
        MR.n_observations(10, 1, 0.0)


def test_incremental_order_on_a_synthetic_trajectory():
    """σ_i(t) = σ_i*/(1 + exp(−(t − τ_i))): crossing ½σ_i* exactly at τ_i; ordered iff the τ_i increase."""
    t = np.linspace(0, 30, 301)
    s_star = np.array([3.0, 2.0, 1.0])
    tau = np.array([5.0, 12.0, 20.0])
    sv = s_star / (1 + np.exp(-(t[:, None] - tau)))
    sv = np.hstack([sv, np.full((t.size, 1), 1e-6)])  # a trailing value, ignored
    times, ok = MR.incremental_order(sv, t, s_star)
    assert ok and np.allclose(times, tau, atol=0.05)
    times, ok = MR.incremental_order(sv[:, [1, 0, 2]], t, s_star[[1, 0, 2]])  # σ_1 learned after σ_2
    assert not ok
    _, ok = MR.incremental_order(sv[:, :3] * np.array([1, 1, 0.1]), t, s_star)  # σ_3 never reaches ½σ_3*
    assert not ok


def test_full_observation_recovers_incrementally():
    """Completion with every entry observed (ratio = d²/dof) recovers M* and fits σ_i in order; far too few
    observations (ratio 0.3) do not recover."""
    d, r = TINY["d"], TINY["r"]
    full = MR.incremental_point("mc", ratio=d * d / MR.dof(d, r), **TINY)
    assert full["feasible"] and full["n_obs"] == d * d and full["p"] == 1.0
    assert full["recovered"].all() and full["ordered"].all() and full["holds"].all()
    assert np.all(full["rel_error"] < 1e-2) and full["rel_error"].shape == (2,) and full["t_fit"].shape == (2, r)
    few = MR.incremental_point("mc", ratio=0.3, **TINY)
    assert not few["recovered"].any()


def test_sensing_point_and_infeasible_cell():
    ms = MR.incremental_point("ms", ratio=3.0, **TINY)
    assert ms["recovered"].all() and ms["n_obs"] == 3 * MR.dof(8, 1)
    bad = MR.incremental_point("mc", ratio=10.0, **TINY)  # 150 entries of a 8×8 matrix: not feasible, not trained
    assert not bad["feasible"] and np.isnan(bad["rel_error"]).all() and bad["seconds"] == 0.0
    with pytest.raises(ValueError, match="kind"):
        MR.incremental_point("mf", ratio=1.0, **TINY)


def test_depth_point_shapes_and_meaning():
    res = MR.depth_point(8, 1, 0.6, 2, seeds=2, iterations=400, records=20)
    for k in ("loss_below", "err_ratio", "err_orig", "err_comp", "loss_orig", "loss_comp"):
        assert res[k].shape == (2,)
    assert np.all((0 <= res["loss_below"]) & (res["loss_below"] <= 1))
    assert np.allclose(res["err_ratio"], res["err_comp"] / res["err_orig"])
    assert res["n_obs"] == int(0.6 * 64) and res["eta"] > 0


def test_maps_go_through_sweep_and_the_cache():
    store, calls = {}, []

    def cache(name, params, compute):
        k = (name, tuple(sorted(params.items())))
        if k not in store:
            calls.append(name)
            store[k] = compute()
        return store[k]

    grid = [dict(TINY, kind="mc", ratio=x) for x in (0.3, 64 / 15)]
    first = sweep(MR.incremental_point, grid, cache=cache, key="maps-test")
    again = sweep(MR.incremental_point, grid, cache=cache, key="maps-test")
    assert len(store) == 2 and all(a is b for a, b in zip(first, again))  # the second sweep is served by the cache
    frac = MR.fraction_map(first, (1, 2), "recovered")
    assert frac.tolist() == [[0.0, 1.0]]


def test_plot_map_marks_the_setting_and_labels_axes():
    fig, ax = plt.subplots()
    frac = np.array([[0.0, 0.5], [1.0, np.nan]])
    im = MR.plot_map(ax, [1.0, 2.0], [2, 4], frac, xlabel="x", ylabel="y", title="t", mark=(1.2, 2))
    (star,) = ax.lines
    assert star.get_xdata()[0] == pytest.approx(0.2) and star.get_ydata()[0] == pytest.approx(0.0)
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y" and im.get_clim() == (0.0, 1.0)
    assert len(ax.texts) == 4 and ax.texts[0].get_position() == (0, -0.32)  # under the star: moved down
    plt.close(fig)
