"""dlnlib.incremental: the batched C-DLN grid, Theorem 1 beyond α = 1, Lemma 1 / Corollary 1, Assumption 1,
Proposition 1 and Theorem 2 helpers — each on small problems, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dlnlib as dl
from dlnlib import incremental as I
from dlnlib.networks import cdln, wide_dln
from dlnlib.theory import kwon_alpha, stability_bound
from dlnlib.train import GD, train
from dlnlib.verify import cdln_vs_recursion


@pytest.fixture(scope="module")
def target():
    return dl.low_rank_target(8, 8, 2, [3.0, 1.5], seed=0)


def test_grid_and_vec():
    g = I.grid(a=[1, 2], b=[3, 4, 5])
    assert g["a"].tolist() == [1, 1, 1, 2, 2, 2] and g["b"].tolist() == [3, 4, 5, 3, 4, 5]


def test_batched_cdln_equals_separate_cdlns(target):
    eps, alpha = np.array([0.1, 0.3]), np.array([1.0, 2.0])
    net = I.batched_cdln(target, 4, 3, eps, alpha)
    assert net.batch_shape == (2,)
    for b in range(2):
        ref = cdln(target, 4, 3, float(eps[b]), float(alpha[b]))
        for W, R in zip(net.weights, ref.weights):
            assert torch.allclose(W[b], R, atol=1e-15)
    assert torch.equal(net.lr_scales[0], torch.tensor(alpha, dtype=torch.float64))


def test_batched_cdln_rejects_mismatched_sizes(target):
    with pytest.raises(ValueError):
        I.batched_cdln(target, 4, 3, [0.1, 0.2], [1.0, 2.0, 3.0])


def test_stability_bound_alpha_matches_theory_at_alpha_one():
    assert I.stability_bound_alpha(3.0, 3, 1.0) == pytest.approx(stability_bound(3.0, 3))


@pytest.mark.parametrize("L,alpha", [(2, 1.0), (3, 0.5), (3, 3.0), (4, 2.0)])
def test_stability_bound_alpha_separates_convergence(L, alpha):
    """Just below the bound the recursion converges to σ*; just above it does not."""
    bound = I.stability_bound_alpha(3.0, L, alpha)
    with np.errstate(all="ignore"):
        below = kwon_alpha([3.0], 1, L, 0.1, 0.97 * bound, alpha, 20000)[-1, 0]
        above = kwon_alpha([3.0], 1, L, 0.1, 1.03 * bound, alpha, 20000)[-1, 0]
    assert abs(below - 3.0) < 1e-9
    assert not abs(above - 3.0) < 1e-3


def test_thm1_grid_matches_recursion_and_single_runs(target):
    g = I.grid(eps=[0.1, 0.4], alpha=[1.0, 3.0])
    eta = 0.2 * I.stability_bound_alpha(3.0, 3, 3.0)
    c = I.thm1_grid(target, 2, 4, 3, g["eps"], eta, g["alpha"], T=300, record_at=20)
    assert c.max_rel_error <= 1e-10 and c.offdiag.max() <= 1e-10
    assert (c.diverged_at < 0).all()
    # the batched run equals a single (unbatched) run with verify.cdln_vs_recursion
    one = cdln_vs_recursion(target, 2, 4, 3, 0.4, eta, 300, alpha=3.0, record_at=20)
    j = 3  # eps = 0.4, alpha = 3
    assert np.allclose(c.simulated[:, j], one.simulated, rtol=1e-12, atol=0)


def test_thm1_grid_batched_targets():
    M = I.separated_targets(3, 6, 2, seed=1)
    c = I.thm1_grid(M, 2, 3, 2, 0.2, 0.05, 1.0, T=200, record_at=10)
    assert c.simulated.shape == (len(c.iterations), 3, 3)
    assert c.max_rel_error <= 1e-10


def test_thm1_grid_flags_divergence(target):
    bound = stability_bound(3.0, 2)
    c = I.thm1_grid(target, 2, 2, 2, 0.3, np.array([0.5, 3.0]) * bound, 1.0, T=200, record_at=20)
    assert c.diverged_at[0] == -1 and c.diverged_at[1] > 0
    assert c.rel_error[0] <= 1e-10


def test_regrade_reproduces_and_detects(target):
    c = I.thm1_grid(target, 2, 4, 3, 0.2, 0.02, 2.0, T=200, record_at=10)
    assert I.regrade(c).max_rel_error == pytest.approx(c.max_rel_error)
    assert I.regrade(c, I.perturbed_recursion("no_alpha")).max_rel_error > 1e-3


def test_offdiag_mass_and_beyond_mf():
    M = I.separated_targets(2, 10, 2, seed=2)
    U, s, V = dl.spectral_factors(M, 10)
    assert float(I.offdiag_mass(M, U, V).max()) < 1e-14
    mf = I.cdln_beyond_mf(dl.Factorisation(M), 2, 4, 3, 0.2, 0.03, 200, record_at=10)
    assert mf.offdiag.max() < 1e-12 and mf.sv_dev.max() < 1e-10
    ms = I.cdln_beyond_mf(dl.sensing(M, 60, seed=3, normalisation="mean"), 2, 4, 3, 0.2, 0.03, 200, record_at=10)
    assert ms.offdiag.max() > 1e-3


def test_mf_equivalent_scale():
    M = I.separated_targets(2, 10, 2, seed=2)
    assert I.mf_equivalent_scale(dl.Factorisation(M, "mean")) == pytest.approx(0.01)
    assert I.mf_equivalent_scale(dl.sensing(M, 4000, seed=0, normalisation="mean")) == pytest.approx(1.0, rel=0.02)
    mask = dl.exact_count_mask(10, 10, 0.3, seed=0, batch=(2,))
    assert I.mf_equivalent_scale(dl.Completion(M, mask, "observed")) == pytest.approx(0.01)


def test_lemma1_basic_and_equality():
    g = torch.Generator().manual_seed(0)
    A, B = torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64)
    lhs, rhs = I.lemma1(A, B)
    assert float(lhs) >= float(rhs)
    U, _, Vh = torch.linalg.svd(A, full_matrices=False)
    Bs = (U * torch.tensor([4.0, 3.0, 2.0, 1.0], dtype=torch.float64)) @ Vh
    lhs, rhs = I.lemma1(A, Bs)
    assert float(lhs) == pytest.approx(float(rhs), rel=1e-12)
    kinds = {k for _, _, k in I.lemma1_instances(8)}
    assert kinds == {"gaussian", "low_rank", "perturbed", "shared_svd"}


@pytest.mark.parametrize("L,eps", [(2, 0.5), (3, 1e-2), (5, 1e-3)])
def test_corollary1_holds_and_gap_is_accurate(L, eps):
    M = I.separated_targets(6, 8, 2, seed=L)
    res = I.corollary1(M, 2, 4, L, eps, seed=1)
    assert (res.gap > 0).all()
    assert np.allclose(res.gap / res.scale, (res.lhs - res.rhs) / res.scale, atol=1e-3 if eps > 0.1 else 1.0)
    assert np.allclose(res.step1, res.step2, rtol=1e-12)
    assert np.allclose(res.closed, res.rhs, rtol=1e-12)
    assert res.sv0_rel.max() < 1e-12


def test_separated_and_kwon_targets():
    M = I.separated_targets(4, 7, 3, seed=5)
    s = torch.linalg.svdvals(M)
    assert (s[:, 3:] < 1e-12).all() and ((s[:, 1:3] / s[:, :2]) <= 0.7 + 1e-12).all()
    K = I.kwon_targets(2, 10, 2, seed=3)
    assert torch.allclose(K[1], dl.kwon_target(10, 2, seed=4))


def test_spectral_recorder_fields():
    M = I.separated_targets(1, 6, 2, seed=0)
    f = I.spectral_recorder(M, 2)
    x = f(None, M.clone(), None)  # W = M*: exact fit
    assert x.shape == (1, 5, 2)
    sv, c_val, cu, cv, proj = x[0]
    assert torch.allclose(sv, torch.linalg.svdvals(M)[0, :2])
    assert c_val.max() < 1e-26 and cu.max() < 1e-26 and cv.max() < 1e-26
    assert torch.allclose(proj, sv)
    y = f(None, -M.clone(), None)  # sign flips do not count
    assert y[0, 2].max() < 1e-26


def test_incremental_times_and_order():
    it = np.arange(5)
    c = np.array([[1, 1], [0, 1], [1, 1], [0, 0], [0, 0]], dtype=float)  # i=1 drops, comes back, drops again
    assert I.incremental_times(c, 0 * c, it, 0.5, 0.5).tolist() == [3, 3]
    assert I.incremental_times(c, 0 * c + 1, it, 0.5, 0.5).tolist() == [-1, -1]
    assert I.order_violations(np.array([[1, 2], [2, 1]])) == 1


def test_assumption1_on_a_small_run():
    M = I.separated_targets(3, 10, 2, seed=4)
    oc = I.orig_and_comp(dl.Factorisation(M), 2, 4, 3, 0.1, 0.03, 1500, record_at=60)
    a = I.assumption1(oc.rec_orig, oc.sigma_star, oc.iterations)
    assert a.order_violations == 0 and a.final_c_val_rel < 1e-10 and a.final_c_vec < 1e-10
    n, worst = I.ordering_violations(oc.err_orig, oc.err_comp, 1e-12)
    assert n == 0 and worst < 0


def test_comp_error_recursion_equals_simulation():
    M = I.separated_targets(2, 10, 2, seed=6)
    oc = I.orig_and_comp(dl.Factorisation(M), 2, 4, 3, 0.1, 0.03, 400, record_at=20, spectral=False)
    e = I.comp_error_recursion(oc.sigma_star, 4, 3, 0.1, 0.03, oc.iterations)
    assert np.allclose(e, oc.err_comp, rtol=1e-9)


def test_comp_errors_alpha_batch():
    M = I.separated_targets(2, 8, 2, seed=7)
    it, e = I.comp_errors(dl.Factorisation(M), 4, 3, 0.1, 0.02, 100, [1.0, 2.0], record_at=5)
    oc = I.orig_and_comp(dl.Factorisation(M), 2, 4, 3, 0.1, 0.02, 100, record_at=5, spectral=False)
    assert e.shape == (len(it), 2, 2)
    assert np.allclose(e[:, 0], oc.err_comp, rtol=1e-12)


def test_convergence_order_and_flow_gap():
    assert I.convergence_order([1, 0.5, 0.25], [4, 1, 0.25]) == pytest.approx(2.0)
    sig = np.array([[2.0, 1.0]])
    etas = [0.04, 0.02, 0.01]
    gaps = []
    for eta in etas:
        T = int(round(8 / eta))
        p = kwon_alpha(sig[0], 2, 3, 0.2, eta, 1.0, T)
        its = np.arange(0, T + 1, T // 20)
        gaps.append(I.flow_gap(p[its][:, None, :], its * eta, sig, 3, 0.2**3))
    assert abs(I.convergence_order(etas, gaps) - 1) < 0.2


def test_velocity_residual_is_first_order():
    M = I.separated_targets(2, 8, 2, seed=8)
    P = dl.Factorisation(M)
    res = []
    for eta in (0.04, 0.02):
        its = np.array([20, 21]) * int(0.04 / eta)
        its[1] = its[0] + 1
        net = wide_dln([8] * 4, 0.3, seed=0, batch=(2,))
        h = train(net, P, GD(eta), int(its[1]), record_at=its, recorders={"s": I.spectral_recorder(M, 2)})
        x = np.asarray(h["s"])
        res.append(I.velocity_residual(x[:1, :, 0], x[1:, :, 0], x[:1, :, 4], eta, 3).max())
    assert res[1] < 0.7 * res[0]


def test_learning_time():
    t = I.learning_time([2.0, 1.0], 2, 2, 0.1, 0.1)
    p = kwon_alpha([2.0, 1.0], 2, 2, 0.1, 0.1, 1.0, t)
    assert (p[t] >= 0.99 * np.array([2.0, 1.0])).all() and not (p[t - 1] >= 0.99 * np.array([2.0, 1.0])).all()
    assert I.learning_time([1.0], 1, 3, 1e-6, 1e-3, T_max=100) == -1
