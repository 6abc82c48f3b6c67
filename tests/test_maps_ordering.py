"""Tests of dlnlib.studies.maps_ordering: the point functions on tiny cases, their reading, the sweep wiring, the map plot."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlnlib.problems import Factorisation
from dlnlib.studies import maps_ordering as MO
from dlnlib.studies.kwon_cor1 import separated_targets
from dlnlib.studies.kwon_thm2 import orig_and_comp
from dlnlib.sweep import fold, sweep

torch.set_num_threads(1)


def test_theorem2_on_factorisation_has_no_violation():
    """At α = 1 on factorisation Theorem 2 holds: the counting used by the maps finds no violation."""
    M = separated_targets(3, 8, 2, seed=1)
    oc = orig_and_comp(Factorisation(M), 2, 4, 3, 0.1, 0.02, 1500, record_at=30, spectral=False)
    frac, frac_fit, excess, first = MO.ordering_counts(oc.err_orig, oc.err_comp, oc.iterations, 1500)
    assert frac.tolist() == [1.0, 1.0, 1.0] and frac_fit.tolist() == [1.0, 1.0, 1.0]
    assert (excess <= MO.ALLOW).all() and np.isnan(first).all()


def test_ordering_counts_separates_plateau_violations():
    """A violation after the original has reached its plateau counts in frac_ok but not in frac_ok_fit."""
    orig = np.array([[1.0], [0.5], [1e-6], [1e-6]])
    comp = np.array([[1.0], [0.1], [2e-6], [2e-6]])
    frac, frac_fit, excess, first = MO.ordering_counts(orig, comp, np.array([0, 1, 2, 3]), 4)
    assert frac.tolist() == [0.5] and frac_fit.tolist() == [1.0]
    assert excess[0] == pytest.approx(1.0) and first[0] == pytest.approx(0.5)


def test_observations_and_oversampling_are_inverse():
    assert MO.oversampling("mc", 30, 3, MO.observations("mc", 30, 3, 2.5)) == pytest.approx(2.5)
    assert MO.observations("ms", 100, 5, 2.0) == 1950
    with pytest.raises(ValueError, match="oversample"):
        MO.observations("mc", 10, 3, 5.0)
    with pytest.raises(ValueError, match="kind"):
        MO.observations("mf", 10, 3, 1.0)


@pytest.mark.parametrize("kind", ["mc", "ms"])
def test_ordering_point_tiny(kind):
    pt = MO.ordering_point(kind, 1.0, 3.0, d=8, r=1, r_hat=2, B=2, eps=0.1, eta_frac=0.2, record=20)
    assert pt.frac_ok.shape == (2,) and ((pt.frac_ok >= 0) & (pt.frac_ok <= 1)).all()
    assert (pt.frac_ok_fit >= pt.frac_ok - 1e-12).all()  # the fitting rows are a subset
    assert not pt.diverged.any() and pt.T > 0 and pt.seconds > 0
    assert (pt.final_orig < 0.5).all()  # both fitted the rank-1 target from 3× its degrees of freedom


def test_sweep_wiring_and_cache():
    """The map goes through dlnlib.sweep with a cache: the second sweep is served without computing."""
    store, calls = {}, []

    def cache(name, params, compute):
        k = (name, tuple(sorted(params.items())))
        if k not in store:
            calls.append(k)
            store[k] = compute()
        return store[k]

    grid = {"kind": ["mc"], "alpha": [1.0, 2.0], "oversample": [3.0], "d": [8], "r": [1], "r_hat": [2], "B": [1],
            "eps": [0.1], "eta_frac": [0.2], "record": [10]}
    first = sweep(MO.ordering_point, grid, cache=cache)
    n = len(calls)
    again = sweep(MO.ordering_point, grid, cache=cache)
    assert len(first) == 2 and n >= 2 and len(calls) == n  # second sweep: every point from the cache
    assert [a.frac_ok.tolist() for a in again] == [b.frac_ok.tolist() for b in first]
    Z = fold(first, (2, 1), lambda x: x.frac_ok.mean())
    assert Z.shape == (2, 1)


def test_fig16_point_matches_its_parts():
    pt = MO.fig16_point(0.1, 0.3, alphas=[0.5, 1.0, 2.0], d=10, r=1, p=0.5, r_hat=2, tol=1e-6, T=3000)
    assert pt.alphas.tolist() == [0.5, 1.0, 2.0] and pt.orig_its > 0
    assert (pt.comp_its > 0).all() and np.isfinite(pt.ratio).all()
    assert (np.diff(pt.comp_its) <= 0).all()  # a larger outer step fits no later
    assert pt.eta == pytest.approx(0.3 * pt.bound)


def test_t17_point_shapes():
    pt = MO.t17_point(12, 0.05, 2, r=1, p=0.5, trials=2, max_iter=300, tol=1e-6)
    assert pt.comp_its.shape == pt.narrow_its.shape == pt.converged.shape == (2,)
    assert pt.ratio == pytest.approx(pt.comp_its.mean() / pt.narrow_its.mean())


def test_region_and_nearest():
    Z = np.array([[0.5, 1.5], [np.nan, 2.0]])
    assert MO.region(Z, lambda z: z > 1) == (2, 3)
    assert MO.nearest([1.5, 2.0, 3.0, 5.0], 3.08) == 2


def test_plot_map_lints_clean():
    from dlnlib.report import lint
    from dlnlib.report.style import use_style

    use_style()
    fig, ax = plt.subplots(figsize=(3.4, 2.5), layout="constrained")
    MO.plot_map(ax, np.array([[0.2, 1.0], [np.nan, 0.7]]), [1.5, 3.0], [1.0, 5.0], xlabel="ρ", ylabel="α",
                clabel="fraction", marks=[(1, 1)], vmin=0, vmax=1)
    problems = lint.lint_figure(fig, {"caption": "A map (ci scale).", "scale": "ci", "preset": "ci"})
    plt.close(fig)
    assert problems == []
