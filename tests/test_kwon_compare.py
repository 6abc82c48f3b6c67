"""dlnlib.studies.kwon_compare: the one runner, orig-vs-comp runs, stacked lockstep training, α sweeps, timing rows,
and the checks' power; the problems (make_problem, BlockedSensing) and the recursion it is checked against."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlnlib.batching import stack_nets
from dlnlib.metrics import first_crossing
from dlnlib.networks import cdln, wide_dln
from dlnlib.problems import BlockedSensing, Completion, Factorisation, Sensing, kwon_target, make_problem
from dlnlib.studies import kwon_compare as C
from dlnlib.theory import recursion_recovery_error
from dlnlib.optim import GD
from dlnlib.train import train


def _mf(d=12, r=2):
    return make_problem("mf", d, r, seed=0)


# ----------------------------------------------------------------------------------------------
# problems
# ----------------------------------------------------------------------------------------------


def test_make_problem_normalisations():
    mf = make_problem("mf", 10, 2)
    assert isinstance(mf, Factorisation) and mf.loss_scale == pytest.approx(1 / 100)
    mc = make_problem("mc", 10, 2, p=0.3, mask="exact")
    assert isinstance(mc, Completion) and int(mc.n_observed) == 30
    assert float(mc.loss_scale) == pytest.approx(1 / 30)
    mcb = make_problem("mc", 10, 2, p=0.3, mask="bernoulli")
    assert 0 < int(mcb.n_observed) < 100
    ms = make_problem("ms", 10, 2, m=50)
    assert isinstance(ms, Sensing) and ms.m == 50 and ms.loss_scale == 1.0
    assert float(ms.A.std()) == pytest.approx(1 / 50, rel=0.1)  # official scaling N(0,1)/m
    assert torch.equal(mf.target, kwon_target(10, 2, seed=0))
    with pytest.raises(ValueError):
        make_problem("mc", 10, 2)
    with pytest.raises(ValueError):
        make_problem("xx", 10, 2)


# ----------------------------------------------------------------------------------------------
# runs and curves
# ----------------------------------------------------------------------------------------------


def test_orig_vs_comp_records_and_orders():
    P = _mf()
    res = C.orig_vs_comp(P, depth=3, eps=1e-2, eta=4.0, alpha=2.0, r_hat=4, iterations=4000, record_at=30,
                        record=("sv",), check_every=10)
    assert set(res) == {"orig", "comp"}
    o, c = res["orig"], res["comp"]
    assert o["sv"].shape == (len(o.iterations), 12) and c["recovery_error"].shape == c.iterations.shape
    assert c.setup_s > 0 and o.setup_s == 0
    assert np.all(np.diff(o.wall_time) >= 0)
    assert C.violations(o, c, hold_last=True)[0] == 0
    only = C.orig_vs_comp(P, depth=2, eps=1e-2, eta=4.0, alpha=1.0, r_hat=4, iterations=10, methods=("comp",),
                         comp_scale_outer=False)
    assert set(only) == {"comp"}
    with pytest.raises(ValueError):
        C.orig_vs_comp(P, depth=3, eps=1e-2, eta=1.0, alpha=1.0, r_hat=4, iterations=1, methods=("bad",))


def test_random_init_orig_runs():
    res = C.orig_vs_comp(_mf(), depth=3, eps=1e-2, eta=4.0, alpha=2.0, r_hat=4, iterations=50, init="uniform",
                        methods=("orig",))
    assert np.isfinite(res["orig"]["loss"]).all()


def test_violations_detects_a_perturbed_curve():
    it = np.arange(0, 100, 10)
    a = C.Curve("a", it, it * 0.0, {"e": np.linspace(1, 0.1, 10)})
    good = C.Curve("b", it, it * 0.0, {"e": np.linspace(1, 0.1, 10) * 0.5})
    assert C.violations(a, good, "e") == (0, 10)
    bad = C.Curve("b", it, it * 0.0, {"e": good["e"] * np.where(it == 50, 3.0, 1.0)})
    assert C.violations(a, bad, "e") == (1, 10)
    # a run that stopped early keeps its last value; if that is above the other curve's later values, it counts
    early = C.Curve("b", it[:3], it[:3] * 0.0, {"e": np.array([0.5, 0.4, 0.35])})
    assert C.violations(a, early, "e") == (0, 3)
    assert C.violations(a, early, "e", hold_last=True)[0] > 0


def test_learning_times_and_increases():
    sv = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [2.0, 1.5, 0.0], [2.0, 1.5, 0.0]])
    t = first_crossing(sv, np.array([0, 5, 9, 12]), 0.5 * np.array([2.0, 2.0, 1.0]))  # learning times σ_i ≥ σ_i*/2
    assert t[0] == 5 and t[1] == 9 and math.isinf(t[2])
    assert C.increases([3, 2, 2, 1]) == 0 and C.increases([1, 2, 3]) == 2


def test_altmin_curve():
    P = make_problem("mc", 20, 2, p=0.6, mask="exact")
    c = C.altmin_curve(P, 2, 15)
    assert c.label == "AltMin" and c["loss"].shape == (16,) and c.iterations[-1] == 15
    assert c["loss"][-1] < 1e-8 * c["loss"][0]
    assert c.setup_s > 0 and c.wall_time[0] == c.setup_s  # the time axis starts after the spectral init's SVD


def test_top_vector_similarity_at_the_spectral_init():
    P = _mf()
    U, s, Vh = torch.linalg.svd(P.target)
    rec = C.top_vector_similarity(U[:, 0], Vh[0])
    # C-DLN's outer factors are εU_r̂ and εV_r̂ᵀ: exactly aligned (up to the tie-free top direction)
    net = cdln(P, 4, 3, 1e-2, 1.0)
    net.weights[-1][:, 0] *= 2  # break the tie of the equal singular values
    net.weights[0][0, :] *= 2
    sim = rec(net, None, None)
    assert sim.shape == (2,) and torch.allclose(sim, torch.ones(2, dtype=sim.dtype))
    rnd = rec(wide_dln([12, 12, 12, 12], 1e-2, "normal", seed=3), None, None)
    assert float(rnd.max()) < 0.99


# ----------------------------------------------------------------------------------------------
# stacked lockstep training
# ----------------------------------------------------------------------------------------------


def test_stack_nets_is_exact():
    P = _mf()
    orig = wide_dln([12] * 4, 1e-1, seed=1)
    comp = cdln(P, 4, 3, 1e-1, 3.0)
    stacked = stack_nets([orig, comp])
    assert stacked.batch_shape == (2,) and stacked.widths == [12, 12, 12, 12]
    assert torch.equal(stacked.lr_scales[0], torch.tensor([1.0, 3.0], dtype=torch.float64))
    h = train(stacked, P, GD(2.0), 200, record_at=[0, 200], record=("loss",))
    curves = C.run(stacked, P, 2.0, 200, labels=["o", "c"], record_at=[0, 200])
    ho = train(orig, P, GD(2.0), 200, record_at=[0, 200], record=("loss",))
    hc = train(comp, P, GD(2.0), 200, record_at=[0, 200], record=("loss",))
    W = h.net.end_to_end()
    assert torch.allclose(W[0], ho.net.end_to_end(), atol=1e-13, rtol=0)
    assert torch.allclose(W[1], hc.net.end_to_end(), atol=1e-13, rtol=0)
    # the padding of C-DLN stays exactly zero
    assert torch.count_nonzero(h.net.weights[0][1, 4:, :]) == 0
    assert torch.count_nonzero(h.net.weights[2][1, :, 4:]) == 0
    assert [c.label for c in curves] == ["o", "c"] and curves[1]["loss"].shape == (2,)
    assert curves[1]["loss"][-1] == pytest.approx(hc.loss[-1], rel=1e-10)
    assert curves[0]["loss"][-1] == h.loss[-1, 0] and curves[0].train_s > 0
    with pytest.raises(ValueError):
        C.run(stacked, P, 2.0, 1, labels=["only one"])


# ----------------------------------------------------------------------------------------------
# Theorem 1 / §4.3 recursion check and its power
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [1.0, 3.0])
def test_comp_matches_recursion_and_perturbed_recursions_fail(alpha):
    P = _mf()
    r, r_hat, L, eps, eta = 2, 4, 3, 1e-1, 3.0
    res = C.orig_vs_comp(P, depth=L, eps=eps, eta=eta, alpha=alpha, r_hat=r_hat, iterations=1500, record_at=40,
                        methods=("comp",))
    c = res["comp"]
    sig = torch.linalg.svdvals(P.target)[:r].numpy()
    pred = recursion_recovery_error(sig, r_hat, L, eps, eta, alpha, c.iterations, loss_scale=P.loss_scale)
    assert np.abs(pred - c["recovery_error"]).max() < 1e-12
    assert c["recovery_error"][-1] < 1e-3  # σ_1, σ_2 learned (the β tail decays slowly): the whole trajectory
    wrong = [recursion_recovery_error(sig, r_hat, L + 1, eps, eta, alpha, c.iterations, P.loss_scale),  # depth
             recursion_recovery_error(sig, r_hat, L, eps, eta * 1.05, alpha, c.iterations, P.loss_scale),  # step
             recursion_recovery_error(sig, r_hat, L, eps, eta, alpha * 1.5 if alpha != 1 else 2.0, c.iterations,
                                        P.loss_scale),  # α
             recursion_recovery_error(sig * 1.01, r_hat, L, eps, eta, alpha, c.iterations, P.loss_scale)]  # σ*
    for w in wrong:
        assert np.abs(w - c["recovery_error"]).max() > 1e-4


# ----------------------------------------------------------------------------------------------
# α sweep and the timing table
# ----------------------------------------------------------------------------------------------


def test_alpha_sweep_orders_and_flags_divergence():
    P = make_problem("mc", 20, 2, p=0.5, mask="exact")
    sw = C.alpha_sweep(P, [0.5, 1.0, 2.0, 4.0, 500.0], depth=3, eps=1e-2, eta=2.0, r_hat=4, iterations=20_000,
                       tol=1e-10, check_every=10, timing_steps=20)
    assert sw.alphas.tolist() == [0.5, 1.0, 2.0, 4.0, 500.0]
    assert list(sw.converged) == [True, True, True, True, False]
    assert C.increases(sw.stop_iteration[:4]) == 0  # larger α, fewer iterations
    assert sw.diverged_at[-1] >= 0 and np.all(sw.diverged_at[:4] < 0)
    assert np.isinf(sw.time_s[-1]) and np.all(np.diff(sw.time_s[:4]) < 0)
    assert sw.seconds_per_step > 0 and sw.svd_s > 0


def test_time_to_tol_rows():
    P = make_problem("mc", 20, 2, p=0.5, mask="exact")
    rows = C.time_to_tol(P, depth=3, eps=1e-2, eta=2.0, alpha=2.0, r_hat=4, iterations=20_000, tol=1e-10,
                         check_every=10)
    assert [r.method for r in rows] == ["DLN", "C-DLN"]
    dln, comp = rows
    assert dln.svd_s == 0 and comp.svd_s > 0 and comp.total_s == pytest.approx(comp.svd_s + comp.train_s)
    assert dln.converged and comp.converged and comp.iterations < dln.iterations
    assert comp.recovery_error < 1e-3
    only = C.time_to_tol(P, depth=3, eps=1e-2, eta=2.0, alpha=2.0, r_hat=4, iterations=10, tol=1e-10,
                         methods=("orig",))
    assert len(only) == 1 and not only[0].converged and only[0].iterations == 10


def _same_values(a: C.Curve, b: C.Curve) -> bool:
    """The recorded iterations and values of two curves agree bit for bit (their times never do)."""
    return (np.array_equal(a.iterations, b.iterations) and a.values.keys() == b.values.keys()
            and all(a[k].tobytes() == b[k].tobytes() for k in a.values) and a.stop_iteration == b.stop_iteration)


def test_preset_points_equal_their_runs():
    """The sweep points of notebooks 10 and 11 are the runs the notebooks made before, bit for bit."""
    pre = dict(d=16, r=2, r_hat=4, L=3, kind="mc", p=0.4, mask="exact", eps=1e-2, eta=5.0, alpha=2.0, T=300,
               tol=1e-12, record=7, altmin_iters=10)
    prob = make_problem("mc", 16, 2, p=0.4, mask="exact", seed=3)
    assert torch.equal(C.preset_problem(pre, seed=3).mask, prob.mask)
    assert isinstance(C.preset_problem(pre, "mf"), Factorisation)
    got = C.preset_orig_vs_comp(pre, "mc", 2, record=("sv",), scale_outer=False, seed=3)
    want = C.orig_vs_comp(prob, depth=2, eps=1e-2, eta=5.0, alpha=2.0, r_hat=4, iterations=300, record_at=7, seed=5,
                          tol=1e-12, comp_scale_outer=False, record=("sv",), check_every=10)
    assert got.keys() == want.keys() and all(_same_values(got[k], want[k]) for k in got)
    am, am_ref = C.preset_altmin(pre, seed=3), C.altmin_curve(prob, 4, 10)  # lstsq differs run to run in the last bits
    assert np.array_equal(am.iterations, am_ref.iterations) and all(
        np.allclose(am[k], am_ref[k], rtol=1e-6, atol=0) for k in am_ref.values)
    t3 = dict(pre, eta_eff=2e-3, T=2000, tol=1e-8)
    rows = C.preset_timing(t3, 16)
    mc = make_problem("mc", 16, 2, p=0.4, mask="exact")
    ref = C.time_to_tol(mc, depth=3, eps=1e-2, eta=2e-3 * 16 ** 2, alpha=2.0, r_hat=4, iterations=2000, tol=1e-8,
                        seed=2, check_every=10)
    assert [(r.method, r.d, r.iterations, r.converged, r.recovery_error) for r in rows] == [
        (r.method, r.d, r.iterations, r.converged, r.recovery_error) for r in ref]


def test_blocked_sensing_equals_sensing():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(37, 6, 5, dtype=torch.float64, generator=g)
    M = torch.randn(3, 6, 5, dtype=torch.float64, generator=g)
    plain, fast = Sensing(A, M, "mean"), BlockedSensing(A, M, "mean", rows=4)
    assert torch.equal(plain.y, fast.y)
    for W in (torch.randn(3, 6, 5, dtype=torch.float64, generator=g), torch.randn(6, 5, dtype=torch.float64, generator=g)):
        (l1, g1), (l2, g2) = plain.loss_grad(W), fast.loss_grad(W)
        assert l1.shape == l2.shape == (3,) and g1.shape == g2.shape == (3, 6, 5)
        assert torch.allclose(l1, l2, rtol=1e-12) and torch.allclose(g1, g2, rtol=1e-12, atol=1e-12)
    one = BlockedSensing(A, M[0], rows=5)
    l, G = one.loss_grad(torch.zeros(6, 5, dtype=torch.float64))
    assert l.shape == () and G.shape == (6, 5)
    assert torch.allclose(G, Sensing(A, M[0]).loss_grad(torch.zeros(6, 5, dtype=torch.float64))[1])
