"""dlnlib.studies.lop_compressed: bases from the gradient, the wide-vs-compressed equivalence check (it passes for the
theorem's ρ recursion and fails for perturbed ones), PC projections, path distances and the sweeps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dlnlib as dl
from dlnlib.metrics import first_crossing, polyline_distance, spearman
from dlnlib.networks import lop_basis, lop_compressed, wide_dln
from dlnlib.studies import lop_compressed as C
from dlnlib.theory import lop_rho
from dlnlib.optim import prefix_products

F64 = torch.float64


# ----------------------------------------------------------------------------------------------
# Bases
# ----------------------------------------------------------------------------------------------


def _y_code_basis(weights0, G, r_hat):
    """The [Y] code's compute_factor, transcribed independently: intersect span(W_1ᵀ U_grad[:, r̂:]/ε) and
    span(V_grad[:, r̂:]) for ∇_{W_1} = W_{L:2}ᵀ G; return the complement (d, 2r̂)."""
    W1 = weights0[0]
    eps = float(torch.linalg.matrix_norm(W1, ord=2))
    P = weights0[1]
    for W in weights0[2:]:
        P = W @ P
    grad1 = P.T @ G
    Ug, _, Vhg = torch.linalg.svd(grad1)
    Va = W1.T @ Ug[:, r_hat:] / eps
    Vb = Vhg[r_hat:].T
    # intersection of two subspaces: null space of [Va, -Vb]
    A = torch.cat([Va, -Vb], 1)
    _, s, Vh = torch.linalg.svd(A)
    k = A.shape[1] - int((s > 1e-10).sum())
    coeff = Vh[-k:].T[: Va.shape[1]]
    V0 = Va @ coeff
    Q, _ = torch.linalg.qr(V0)
    full, _, _ = torch.linalg.svd(Q)
    return full[:, Q.shape[1]:]  # complement of the invariant block


def _sin_max(A, B):
    """Largest principal angle (sine) between spans of orthonormal A, B."""
    R = B - A @ (A.T @ B)
    return float(torch.linalg.matrix_norm(R, ord=2))


@pytest.mark.parametrize("r_hat", [2, 3])
def test_gradient_basis_matches_y_code(r_hat):
    d, L = 14, 3
    M = dl.low_rank_target(d, d, 2, [3.0, 1.5], seed=0)
    mask = dl.exact_count_mask(d, d, 0.5, seed=1)
    prob = dl.Completion(M, mask, "mean")
    net = wide_dln([d] * (L + 1), 0.1, seed=2)
    B = C.gradient_basis(net.weights, prob, r_hat)
    assert B.V11.shape == (d, 2 * r_hat) and B.m == d - 2 * r_hat
    assert torch.allclose(B.V11.T @ B.V11, torch.eye(2 * r_hat, dtype=F64), atol=1e-12)
    _, G = prob.loss_grad(prefix_products(net.weights)[-1])
    ref = _y_code_basis(net.weights, G, r_hat)
    assert ref.shape == B.V11.shape
    assert _sin_max(B.V11, ref) < 1e-8


def test_gradient_basis_block_is_orthogonal_to_truncated_gradient():
    d, L, r_hat = 12, 3, 2
    M = dl.low_rank_target(d, d, 2, [2.0, 1.0], seed=3)
    prob = dl.Completion(M, dl.exact_count_mask(d, d, 0.6, seed=4), "mean")
    net = wide_dln([d] * (L + 1), 0.2, seed=5)
    B = C.gradient_basis(net.weights, prob, r_hat)
    E = prefix_products(net.weights)[-1]
    _, G = prob.loss_grad(E)
    U, s, Vh = torch.linalg.svd(G)
    Gr = (U[:, :r_hat] * s[:r_hat]) @ Vh[:r_hat]
    assert float(torch.linalg.matrix_norm(Gr @ B.V12)) < 1e-12 * float(s[0])
    assert float(torch.linalg.matrix_norm(Gr.T @ E @ B.V12)) < 1e-12 * float(s[0])


def test_compressed_trials_stack_individual_nets():
    d, L = 10, 3
    M = dl.low_rank_target(d, d, 1, [2.0], seed=0)
    prob = dl.Completion(M, dl.exact_count_mask(d, d, 0.5, seed=1), "mean")
    net, bases, setup = C.compressed_trials(prob, 2, L, 0.1, 0.01, [7, 8])
    assert net.batch_shape == (2,) and net.depth == L + 2 and setup >= 0
    assert net.gamma == 0.01 and net.lr_scales == [0.01, 1.0, 1.0, 1.0, 0.01]
    for i, s in enumerate([7, 8]):
        single = lop_compressed(C.gradient_basis(wide_dln([d] * (L + 1), 0.1, seed=s).weights, prob, 2), L, 0.1, 0.01)
        for Wb, Ws in zip(net.weights, single.weights):
            assert torch.equal(Wb[i], Ws)


# ----------------------------------------------------------------------------------------------
# The equivalence of wide and compressed nets for factorisation
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mf_run():
    """A small MF where ρ(t) moves visibly: ε = 0.5, step 0.05 on the ½‖·‖² loss, 300 steps."""
    d, L, r, eps, eta = 12, 3, 2, 0.5, 0.05
    M = dl.low_rank_target(d, d, r, [2.0, 1.0], seed=0)
    prob = dl.Factorisation(M, "sum")
    res = C.mf_equivalence(prob, L, eps, eta, r, tol=1e-30, max_iter=300, record_every=10, seed=1)
    q = dict(d=d, L=L, r=r, eps=eps, eta=eta, T=int(res.iterations[-1]))
    return res, q, prob


def test_equivalence_exact(mf_run):
    res, q, prob = mf_run
    assert res.m == q["d"] - 2 * q["r"]
    assert res.iterations[-1] == 300 and len(res.iterations_wide) == len(res.iterations)  # tol never reached
    rho = lop_rho(q["eps"], q["eta"], q["L"], q["T"], loss_scale=prob.loss_scale)
    assert rho[-1] < 0.9 * q["eps"]  # ρ moves, so the perturbations below are visible
    e = C.equivalence_error(res.gap, res.iterations_wide, rho, q["L"], res.m, res.phi_norm)
    assert e.worst <= 1e-10 and e.phi.max() <= 1e-12
    # the two nets reach the same loss up to the invariant block's m·ρ^{2L}/2
    np.testing.assert_allclose(res.loss_wide - res.loss_comp, 0.5 * res.m * rho[res.iterations] ** (2 * q["L"]),
                               rtol=1e-8, atol=1e-14)
    # in orthonormal PC coordinates the trajectories differ by the projection of ρ^L U_{L,2}V_{1,2}ᵀ only
    gap = np.linalg.norm(res.pc_wide - res.pc_comp[: len(res.pc_wide)], axis=1)
    bound = math.sqrt(res.m) * rho[res.iterations_wide] ** q["L"]
    assert np.all(gap <= bound * (1 + 1e-4) + 1e-5)
    assert gap.max() > 0.1 * bound.max()  # and the bound is not vacuous here (ε = 0.5)


@pytest.mark.parametrize("wrong", ["exponent", "update", "loss_scale", "shift", "constant"])
def test_equivalence_check_fails_for_perturbed_recursion(mf_run, wrong):
    res, q, prob = mf_run
    eps, eta, L, T = q["eps"], q["eta"], q["L"], q["T"]
    rho = lop_rho(eps, eta, L, T, loss_scale=prob.loss_scale)
    bad = {
        "exponent": rho ** ((L + 1) / L),                               # ρ^{L+1} in place of ρ^L
        "update": lop_rho(eps, eta, L + 1, T),                          # ρ^{2L} in the update, not ρ^{2(L−1)}
        "loss_scale": lop_rho(eps, eta, L, T, loss_scale=0.5),          # wrong loss normalisation
        "shift": np.concatenate([[eps], rho[:-1]]),                     # off by one iteration
        "constant": np.full(T + 1, eps),                                # ρ ≡ ε
    }[wrong]
    e = C.equivalence_error(res.gap, res.iterations_wide, bad, L, res.m, res.phi_norm)
    assert e.worst > 1e-4


def test_equivalence_check_detects_moving_bases():
    """With γ ≠ 0 the bases move and the wide net is no longer compressed + ρ^L U_{L,2}V_{1,2}ᵀ."""
    d, L, r, eps, eta, T = 10, 3, 2, 0.5, 0.05, 100
    M = dl.low_rank_target(d, d, r, [2.0, 1.0], seed=0)
    prob = dl.Factorisation(M, "sum")
    wide = wide_dln([d] * (L + 1), eps, seed=1)
    B = lop_basis(wide.weights, M, r)
    rec = list(range(0, T + 1, 10))
    moving = lop_compressed(B, L, eps, gamma=0.5)
    hc = dl.train(moving, prob, dl.GD(eta), T, record_at=rec, recorders={"inner": C.inner_recorder})
    hw = dl.train(wide, prob, dl.GD(eta), T, record_at=rec, recorders={"gap": C.equivalence_recorder(B, hc["inner"])})
    rho = lop_rho(eps, eta, L, T)
    e = C.equivalence_error(hw["gap"], hw.iterations, rho, L, B.m, float(torch.linalg.matrix_norm(M)))
    assert e.residual.max() > 1e-3


def test_equivalence_recorder_runs_out():
    d, L, eps = 8, 2, 0.3
    M = dl.low_rank_target(d, d, 1, [1.0], seed=0)
    wide = wide_dln([d] * (L + 1), eps, seed=1)
    B = lop_basis(wide.weights, M, 1)
    f = C.equivalence_recorder(B, np.zeros((1, 2, 2)))
    f(wide, wide.end_to_end(), None)
    with pytest.raises(IndexError):
        f(wide, wide.end_to_end(), None)


def test_equivalence_error_needs_long_enough_rho():
    with pytest.raises(ValueError):
        C.equivalence_error(np.zeros((2, 3)), np.array([0, 5]), np.ones(3), 2, 4, 1.0)


# ----------------------------------------------------------------------------------------------
# PCs, distances, statistics
# ----------------------------------------------------------------------------------------------


def test_pc_coordinates_match_numpy_pca():
    g = np.random.default_rng(0)
    X = g.normal(size=(9, 30)) @ np.diag(np.linspace(3, 0.1, 30))
    Y = g.normal(size=(4, 30))
    ref, (oth,), ev = C.pc_coordinates(X, [Y], k=3)
    Xc = X - X.mean(0)
    _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    for j in range(3):
        sign = np.sign(ref[:, j] @ (Xc @ Vt[j]))
        np.testing.assert_allclose(ref[:, j] * sign, Xc @ Vt[j], atol=1e-10)
        np.testing.assert_allclose(oth[:, j] * sign, (Y - X.mean(0)) @ Vt[j], atol=1e-10)
    np.testing.assert_allclose(ev, s[:3] ** 2 / (s**2).sum(), rtol=1e-10)
    mu, dirs, _ = C.pc_basis(X.astype(np.float32), components=[1, 2])
    assert dirs.shape == (2, 30) and np.allclose(dirs @ dirs.T, np.eye(2), atol=1e-4)


def test_polyline_distance_against_dense_sampling():
    g = np.random.default_rng(1)
    for _ in range(5):
        A, B = g.normal(size=(6, 4)), g.normal(size=(5, 4))
        t = np.linspace(0, 1, 2001)[:, None]
        dense = np.concatenate([B[i] + t * (B[i + 1] - B[i]) for i in range(len(B) - 1)])
        brute = max(np.linalg.norm(dense - a, axis=1).min() for a in A)
        assert abs(polyline_distance(A, B) - brute) < 1e-3
    assert polyline_distance(A, A) == pytest.approx(0.0, abs=1e-7)
    assert polyline_distance(A, B[:1]) == pytest.approx(np.linalg.norm(A - B[0], axis=1).max())


def test_spearman_and_first_crossing():
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [5, 5, 5]) != spearman([1, 2, 3], [5, 5, 5])  # NaN: no variation
    assert first_crossing(np.array([np.nan, 2.0]), np.arange(2), 1.0, below=True) == math.inf


# ----------------------------------------------------------------------------------------------
# Sweeps and the completion runs
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_mc():
    d, r = 16, 1
    M = dl.low_rank_target(d, d, r, [2.0], seed=0)
    return dl.Completion(M, dl.exact_count_mask(d, d, 0.6, seed=1), "mean")


def test_narrow_sweep_converges_and_counts(small_mc):
    pts = C.narrow_sweep(small_mc, [1, 2], 3, 0.1, 0.2 / small_mc.loss_scale, 3, 3000, 1e-7, check_every=50)
    assert [p.value for p in pts] == [1, 2]
    for p in pts:
        assert p.iterations.shape == (3,) and p.converged.all()
        assert np.all(p.iterations % 50 == 0) and np.all(p.iterations > 0)
        assert np.all(p.rel_error < 1e-2) and np.all(p.seconds > 0)
    vals, mu, sd = C.summarise(pts, "iterations")
    assert vals.tolist() == [1, 2] and mu.shape == sd.shape == (2,)
    # the [Y] code's test loss ½·Σ_Ωᶜ/d² is (|Ωᶜ|/d²)/2 × the unobserved-entry MSE (d = 16: d² = 256)
    n_un = float((1 - small_mc.mask).sum())
    for p in pts:
        np.testing.assert_allclose(p.half_mse_masked, 0.5 * p.test_error * n_un / 256, rtol=1e-12)
    assert C.summarise(pts, "half_mse_masked")[1].shape == (2,)


def test_sweep_cap_marks_unconverged(small_mc):
    (p,) = C.narrow_sweep(small_mc, [2], 2, 0.1, 0.2 / small_mc.loss_scale, 2, 100, 1e-30, check_every=50)
    assert not p.converged.any() and np.all(p.iterations == 100)


def test_compressed_sweep_adds_setup_time(small_mc):
    (p,) = C.compressed_sweep(small_mc, [1], 3, 0.1, 0.2 / small_mc.loss_scale, 0.01, 2, 2000, 1e-7,
                              check_every=100)
    assert p.setup_s > 0 and np.all(p.seconds >= p.setup_s) and p.converged.all() and np.all(p.rel_error < 1e-2)


def test_mc_trajectories_frozen_vs_moving_bases(small_mc):
    R = C.mc_trajectories(small_mc, 3, 0.05, 0.2 / small_mc.loss_scale, 1, (0.0, 0.01), 1e-9, 1e-12, 3000, 50,
                          seed=2)
    assert set(R) == {"wide", "gamma=0", "gamma=0.01"}
    w = R["wide"]
    assert w.e2e.dtype == np.float32 and w.e2e.shape[1:] == (16, 16) and len(w.e2e) == len(w.iterations)
    assert w.rel_error[-1] < 1e-2
    n_un = float((1 - small_mc.mask).sum())
    for tr in R.values():  # the [Y] code's test loss, recorded at every recorded iteration
        assert tr.half_mse_masked.shape == tr.test_error.shape
        np.testing.assert_allclose(tr.half_mse_masked, 0.5 * tr.test_error * n_un / 256, rtol=1e-12)
    for k in ("gamma=0", "gamma=0.01"):
        assert R[k].setup_s > 0 and R[k].seconds[0] >= R[k].setup_s
    # frozen bases confine the end-to-end matrix to a fixed 2r̂-dimensional row and column space
    E = R["gamma=0"].e2e.astype(np.float64)
    assert max(np.linalg.matrix_rank(x, tol=1e-6 * np.abs(x).max()) for x in E[1:]) <= 2


def test_talk_step_is_the_talks_step_moved_to_the_target(small_mc):
    """η_sum = η_talk·(2√d_talk/σ₁)^{2−2/L} on ½‖·‖², then η_sum/c on the problem's own (mean) loss."""
    L = 3
    s1 = float(torch.linalg.svdvals(small_mc.target)[0])
    eta_sum = 5e-3 * (2 * math.sqrt(1000) / s1) ** (2 - 2 / L)
    assert C.talk_step(5e-3, 1000, small_mc, L, "sum") == eta_sum
    assert C.talk_step(5e-3, 1000, small_mc, L) == eta_sum / small_mc.loss_scale
    # a target with the talk's σ₁ = 2√d_talk keeps the talk's step on the sum loss
    P = dl.Factorisation(torch.diag(torch.tensor([2 * math.sqrt(1000), 1.0], dtype=F64)), "sum")
    assert C.talk_step(5e-3, 1000, P, L) == pytest.approx(5e-3, rel=1e-15)


def test_sweeps_are_their_points(small_mc):
    """narrow_sweep / compressed_sweep map narrow_point / compressed_point with seeds seed + 1000i (+ t per trial)."""
    eta = 0.2 / small_mc.loss_scale
    pts = C.narrow_sweep(small_mc, [1, 2], 3, 0.1, eta, 2, 300, 1e-7, seed=5, check_every=50)
    one = C.narrow_point(small_mc, 2, 3, 0.1, eta, 2, 300, 1e-7, seed=1005, check_every=50)
    assert np.array_equal(pts[1].rel_error, one.rel_error) and np.array_equal(pts[1].iterations, one.iterations)
    (c,) = C.compressed_sweep(small_mc, [1], 3, 0.1, eta, 0.01, 2, 300, 1e-7, seed=5, check_every=50)
    d = C.compressed_point(small_mc, 1, 3, 0.1, eta, 0.01, 300, 1e-7, [5, 6], check_every=50)
    assert np.array_equal(c.rel_error, d.rel_error) and c.value == d.value == 1
