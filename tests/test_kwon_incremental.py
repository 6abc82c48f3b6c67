"""dlnlib.studies.kwon_incremental: recorders, exact C-DLN padding and batching, and the incremental-learning checks
(fitting order, trailing values, waiting, alignment) — each check passes on the Theorem 1 recursion and FAILS on
a perturbed one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dlnlib as dl
from dlnlib.batching import pad_to, stack_nets
from dlnlib.metrics import alignment, first_crossing
from dlnlib.studies import kwon_incremental as ki
from dlnlib.theory import kwon_thm1

torch.set_num_threads(1)
SIGMA = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
EPS, L, ETA, T = 1e-2, 3, 0.02, 6000


def recursion(sigma, *, step_weight=None, beta_growth=0.0):
    """Theorem 1 recursion (α = 1) for ``λ_i``, optionally perturbed: per-index step weights, or a trailing ``β``
    that grows (``β ← β(1 − ηβ^{2(L−1)} + beta_growth)``). Returns ``(T+1, r + 2)`` singular values."""
    s = np.asarray(sigma, float)
    w = np.ones_like(s) if step_weight is None else np.asarray(step_weight, float)
    lam, beta = np.full(s.size, EPS), EPS
    out = np.empty((T + 1, s.size + 2))
    for t in range(T + 1):
        out[t, :s.size] = lam**L
        out[t, s.size:] = beta**L
        lam = lam * (1 - ETA * w * (lam**L - s) * lam ** (L - 2))
        beta = beta * (1 - ETA * beta ** (2 * (L - 1)) + beta_growth)
    return out


def test_recursion_helper_matches_theory():
    ref = kwon_thm1(SIGMA, SIGMA.size + 2, L, EPS, ETA, 200)
    assert np.allclose(recursion(SIGMA)[:201], ref, rtol=1e-12, atol=0)


# ---- fitting order -----------------------------------------------------------------------------


def fit_times(sv, its, sigma, frac=0.5):
    """t_i as kwon_incremental.summary reads them: first σ_i ≥ frac·σ_i*, interpolated."""
    return first_crossing(sv[:, :len(sigma)], its, frac * sigma, interpolate=True)


def test_order_holds_on_theorem1_recursion():
    sv = recursion(SIGMA)
    t = fit_times(sv, np.arange(T + 1), SIGMA)
    assert np.isfinite(t).all()
    assert ki.backward_steps(t) == (0, 0.0)
    assert np.all(np.diff(t) > 0)


def test_order_check_fails_on_perturbed_recursion():
    # step weighted by (σ_1*/σ_i*)²: escape time ∝ σ_i*, so smaller values are learned first
    sv = recursion(SIGMA, step_weight=(SIGMA[0] / SIGMA) ** 2)
    t = fit_times(sv, np.arange(T + 1), SIGMA)
    assert np.isfinite(t).all()
    n, gap = ki.backward_steps(t)
    assert n == SIGMA.size - 1 and gap > 0


def test_order_counts_unfitted_after_fitted_as_in_order_but_not_the_reverse():
    assert ki.backward_steps(np.array([1.0, np.inf, np.inf])) == (0, 0.0)
    n, gap = ki.backward_steps(np.array([np.inf, 3.0]))
    assert n == 1 and gap == np.inf


def test_fit_times_interpolates_and_handles_never():
    its = np.array([0, 100, 200])
    sv = np.array([[0.0, 0.0], [0.5, 0.1], [1.5, 0.2]])
    t = fit_times(sv, its, np.array([2.0, 2.0]))
    assert t[0] == pytest.approx(150.0) and t[1] == np.inf
    run = ki.IncrementalRun("x", its, np.hstack([sv, np.zeros((3, 1))]), np.ones((3, 2)), np.ones((3, 2)),
                            np.zeros(3), np.array([2.0, 2.0]))
    assert ki.summary(run)["t_fit"].tolist() == t.tolist()


# ---- trailing values -------------------------------------------------------------------------------


def test_trailing_stays_at_eps_L_on_recursion_and_check_fails_when_perturbed():
    r = SIGMA.size
    assert ki.trailing_max(recursion(SIGMA), r) / EPS**L <= 1.0 + 1e-12
    bad = recursion(SIGMA, beta_growth=2e-4)  # β grows by a factor (1 + 2e-4)^6000 ≈ 3.3
    assert ki.trailing_max(bad, r) / EPS**L > 2.0
    with pytest.raises(ValueError):
        ki.trailing_max(recursion(SIGMA)[:, :r], r)


# ---- waiting (Fig. 13 claim 1) -------------------------------------------------------------------------


def test_wait_ratio_small_on_recursion_and_large_when_learned_together():
    ok = ki.wait_ratio(recursion(SIGMA), np.arange(T + 1), SIGMA)
    assert np.nanmax(ok) < 0.01
    # weights 1/σ_i*: every value escapes at the same time, nobody waits
    together = ki.wait_ratio(recursion(SIGMA, step_weight=1 / SIGMA), np.arange(T + 1), SIGMA)
    assert np.nanmax(together) > 0.5


# ---- alignment --------------------------------------------------------------------------------------


def test_alignment_recorder_matches_metrics_alignment_batched():
    g = torch.Generator().manual_seed(0)
    M = torch.randn(3, 7, 6, generator=g, dtype=torch.float64)
    W = M + 0.1 * torch.randn(3, 7, 6, generator=g, dtype=torch.float64)
    out = ki.alignment_recorder(M, 4)(None, W, None)
    cu, cv = alignment(W, M, 4)
    assert out.shape == (3, 2, 4)
    assert torch.allclose(out[:, 0], cu) and torch.allclose(out[:, 1], cv)


def test_final_alignment_and_alignment_times():
    its = np.arange(4)
    run = ki.IncrementalRun("x", its, np.ones((4, 2)), np.array([[0.1], [0.95], [0.5], [0.99]]),
                            np.array([[0.2], [0.99], [0.99], [0.999]]), np.zeros(4), np.array([1.0]))
    assert ki.final_alignment(run) == pytest.approx(0.99)
    assert ki.alignment_times(run, 0.9).tolist() == [3.0]  # dips below 0.9 at t = 2, aligned for good at t = 3
    bad = ki.IncrementalRun("y", its, np.ones((4, 2)), np.full((4, 1), 0.3), np.ones((4, 1)), np.zeros(4),
                            np.array([1.0]))
    assert 1 - ki.final_alignment(bad) > 1e-3


def test_threshold_readers_equal_their_loop_definitions():
    """wait_ratio and alignment_times read first crossings through metrics.first_crossing: same numbers as the
    loops that define them."""
    g = np.random.default_rng(0)
    its = np.sort(g.choice(1000, 40, replace=False))
    sv = np.maximum.accumulate(g.random((40, 4)) * np.array([4.0, 3.0, 2.0, 1.0]), axis=0)
    sig = np.array([3.5, 2.9, 1.2, 0.99])
    ref_wait = []
    for i in range(1, 4):
        hit = np.nonzero(sv[:, i - 1] >= 0.9 * sig[i - 1])[0]
        ref_wait.append(sv[hit[0], i] / sig[i] if hit.size else np.nan)
    assert np.array_equal(ki.wait_ratio(sv, its, sig), np.array(ref_wait), equal_nan=True)
    a = g.random((40, 3)) * 0.2 + np.array([0.85, 0.7, 0.9])
    run = ki.IncrementalRun("x", its, sv, a, np.ones_like(a), np.zeros(40), sig[:3])
    ref = []
    for i in range(3):
        below = np.nonzero(a[:, i] < 0.9)[0]
        ref.append(float(its[0]) if below.size == 0 else float(its[below[-1] + 1]) if below[-1] + 1 < 40 else np.inf)
    assert ki.alignment_times(run, 0.9).tolist() == ref


# ---- padding and batching are exact -------------------------------------------------------------------


def _small_sensing(batch=False):
    d, r = 12, 2
    M = dl.kwon_target(d, r, seed=1)
    if batch:
        M = torch.stack([M, M])
    return dl.sensing(M, 100, seed=2, scale="official"), d, r


def test_zero_padded_cdln_follows_cdln_exactly():
    prob, d, r = _small_sensing()
    comp = dl.cdln(prob, 2 * r, 3, 1e-2, 2.0)
    padded = stack_nets([comp, dl.wide_dln([d] * 4, 1e-2, seed=3)])  # C-DLN zero-padded to d × d (member 0)
    padded = dl.DLN([W[0] for W in padded.weights], alpha=float(padded.alpha[0]))
    h1 = dl.train(comp, prob, dl.GD(2.0), 300, record_at=30, record=("sv",))
    h2 = dl.train(padded, prob, dl.GD(2.0), 300, record_at=30, record=("sv",))
    assert np.abs(h1["sv"] - h2["sv"]).max() <= 1e-12 * h1["sv"].max()
    Wp = h2.net.weights
    assert torch.count_nonzero(Wp[0][2 * r:]) == 0 and torch.count_nonzero(Wp[1][2 * r:]) == 0
    assert torch.count_nonzero(Wp[1][:, 2 * r:]) == 0 and torch.count_nonzero(Wp[2][:, 2 * r:]) == 0


def test_stacked_batch_equals_separate_runs():
    prob, d, r = _small_sensing()
    probb, _, _ = _small_sensing(batch=True)
    orig = dl.wide_dln([d] * 4, 1e-2, seed=3)
    comp = dl.cdln(prob, 2 * r, 3, 1e-2, 2.0)
    net = stack_nets([orig, comp])
    assert isinstance(net.lr_scales[0], torch.Tensor) and net.lr_scales[1] == 1.0
    runs = ki.run_incremental(net, probb, 2.0, 200, r=[r, r], n_sv=2 * r, labels=["o", "c"], record_at=20)
    for run, single_net in zip(runs, (orig, comp)):
        ref = ki.run_incremental(single_net, prob, 2.0, 200, r=r, n_sv=2 * r, labels="s", record_at=20)[0]
        assert np.allclose(run.sv, ref.sv, rtol=1e-10, atol=1e-14)
        assert np.allclose(run.align_u, ref.align_u, atol=1e-8)


def test_run_incremental_rejects_a_label_count_off_the_batch():
    prob, d, r = _small_sensing()
    net = stack_nets([dl.wide_dln([d] * 4, 0.1, seed=0)] * 2)
    with pytest.raises(ValueError):
        ki.run_incremental(net, prob, 1.0, 1, r=r, n_sv=r, labels=["a", "b", "c"])
    with pytest.raises(ValueError):
        pad_to(torch.zeros(3, 3), 2, 3)


# ---- an end-to-end run ----------------------------------------------------------------------------------


def test_small_factorisation_run_is_incremental():
    d, r = 16, 3
    M = dl.kwon_target(d, r, seed=0)
    prob = dl.Factorisation(M, "mean")
    run = ki.run_incremental(dl.wide_dln([d] * 4, 1e-2, seed=1), prob, 5.0, 8000, r=r, n_sv=2 * r,
                             labels="orig", record_at=400, tol=1e-10)[0]
    s = ki.summary(run)
    assert s["all_fitted"] and s["order_violations"] == 0
    assert s["trailing_max"] / 1e-6 <= 2.0
    assert 1 - s["final_alignment"] <= 1e-3
    assert run.stop_iteration > 0


def test_orig_and_comp_point_trains_both():
    """notebook 12's sweep point: [orig, comp] with 2r singular values each, C-DLN from Algorithm 1 with r̂ = 2r."""
    M = dl.kwon_target(8, 2, seed=0)
    o, c = ki.orig_and_comp_point(dl.Factorisation(M, "mean"), dl.wide_dln([8] * 4, 0.1, seed=1), 2, 3, 0.1, 2.0,
                                  0.5, 100, record_at=20)
    assert (o.label, c.label) == ("Original DLN", "C-DLN") and o.sv.shape[1] == c.sv.shape[1] == 4
    assert c.r == o.r == 2 and np.array_equal(o.iterations, c.iterations) and o.iterations[-1] == 100
