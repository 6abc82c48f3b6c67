"""dlnlib.theory: the closed-form recursions and flows, by hand and against simulation.

Each comparison with simulation is paired with a perturbed recursion that it must reject, so the checks can fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlnlib.networks import cdln, lop_basis, wide_dln
from dlnlib.problems import Factorisation, Regression, low_rank_target, spectral_factors, whiten
from dlnlib.theory import kwon_alpha, kwon_thm1, lop_rho, stability_bound, sv_flow_rhs, sv_gradient_flow
from dlnlib.optim import GD
from dlnlib.train import train

F64 = torch.float64


def thm1_by_hand(sigma, r_hat, L, eps, eta, T):
    """Theorem 1 of [K] (conventions §4) written out: λ_i and β recursions, returned as λ^L and β^L."""
    lam = [eps] * len(sigma)
    beta = eps
    out = []
    for t in range(T + 1):
        out.append([x**L for x in lam] + [beta**L] * (r_hat - len(sigma)))
        lam = [x * (1 - eta * (x**L - s) * x ** (L - 2)) for x, s in zip(lam, sigma)]
        beta = beta * (1 - eta * beta ** (2 * (L - 1)))
    return np.array(out)


# ----------------------------------------------------------------------------------------------
# Theorem 1 and the α extension
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("L", [2, 3, 4])
def test_kwon_thm1_is_the_written_recursion(L):
    sigma, r_hat, eps, eta, T = [3.0, 1.5], 4, 0.3, 0.05, 60
    got = kwon_thm1(sigma, r_hat, L, eps, eta, T)
    assert got.shape == (T + 1, r_hat)
    assert np.abs(got - thm1_by_hand(sigma, r_hat, L, eps, eta, T)).max() < 1e-13
    assert np.allclose(got, kwon_alpha(sigma, r_hat, L, eps, eta, 1.0, T), rtol=0, atol=0)


def test_kwon_thm1_one_step_by_hand():
    # L = 2, ε = 0.5, η = 0.1, σ* = 1: λ(1) = 0.5(1 − 0.1(0.25 − 1)) = 0.5375, β(1) = 0.5(1 − 0.1·0.25) = 0.4875
    got = kwon_thm1([1.0], 2, 2, 0.5, 0.1, 1)
    assert np.allclose(got, [[0.25, 0.25], [0.5375**2, 0.4875**2]], rtol=0, atol=1e-15)


def test_kwon_loss_scale_multiplies_eta():
    a = kwon_alpha([2.0, 1.0], 3, 3, 0.2, 0.5, 1.5, 40, loss_scale=0.1)
    b = kwon_alpha([2.0, 1.0], 3, 3, 0.2, 0.05, 1.5, 40)
    assert np.abs(a - b).max() < 1e-14


def test_kwon_alpha_bad_input():
    with pytest.raises(ValueError, match="r_hat = 1 must be >= r = 2"):
        kwon_alpha([2.0, 1.0], 1, 3, 0.1, 0.1, 1.0, 5)
    with pytest.raises(ValueError, match="depth L must be >= 2"):
        kwon_alpha([2.0], 1, 1, 0.1, 0.1, 1.0, 5)


def _cdln_diagonal(L, alpha, eta, T, eps=0.3, d=6, r=2, r_hat=3):
    """C-DLN on factorisation: ``diag(U*ᵀ W̃_{L:1}(t) V*)`` over t (the values Theorem 1 predicts)."""
    sigma = [2.0, 1.0]
    M = low_rank_target(d, d, r, sigma, seed=0, device="cpu")
    net = cdln(M, r_hat, L, eps, alpha)
    U, _, V = spectral_factors(M, r_hat)

    def diag(n, W, loss):
        return torch.diagonal(U.T @ W @ V)

    h = train(net, Factorisation(M), GD(eta), T, record_at=range(T + 1), recorders={"diag": diag})
    return sigma, r_hat, h["diag"]


@pytest.mark.parametrize("L,alpha", [(2, 1.0), (3, 1.0), (3, 2.5), (4, 0.5)])
def test_kwon_alpha_matches_cdln_simulation(L, alpha):
    eta, T, eps = 0.05, 80, 0.3
    sigma, r_hat, sim = _cdln_diagonal(L, alpha, eta, T, eps)
    pred = kwon_alpha(sigma, r_hat, L, eps, eta, alpha, T)
    assert np.abs(sim - pred).max() < 1e-12 * max(1.0, np.abs(pred).max())
    assert sim[-1, 0] > 0.5  # the run moved: the comparison is not between two tiny numbers


def test_kwon_alpha_check_rejects_perturbed_recursions():
    L, alpha, eta, T, eps = 3, 2.5, 0.05, 80, 0.3
    sigma, r_hat, sim = _cdln_diagonal(L, alpha, eta, T, eps)
    ok = np.abs(sim - kwon_alpha(sigma, r_hat, L, eps, eta, alpha, T)).max()
    assert ok < 1e-12
    # the α = 1 recursion (Theorem 1 as stated) does not describe an α ≠ 1 run
    assert np.abs(sim - kwon_thm1(sigma, r_hat, L, eps, eta, T)).max() > 1e-3
    # a wrong depth exponent
    assert np.abs(sim[:, :2] - kwon_alpha(sigma, r_hat, L + 1, eps, eta, alpha, T)[:, :2]).max() > 1e-3
    # wrong step
    assert np.abs(sim - kwon_alpha(sigma, r_hat, L, eps, 1.01 * eta, alpha, T)).max() > 1e-6


# ----------------------------------------------------------------------------------------------
# Law of Parsimony ρ(t)
# ----------------------------------------------------------------------------------------------


def test_lop_rho_case1_by_hand():
    # ρ(1) = 0.5(1 − 0.1·0.5²) = 0.4875; ρ(2) = 0.4875(1 − 0.1·0.4875²)
    r = lop_rho(0.5, 0.1, 2, 2)
    assert np.allclose(r, [0.5, 0.4875, 0.4875 * (1 - 0.1 * 0.4875**2)], rtol=0, atol=1e-15)
    # L = 3 with weight decay λ = 0.2: ρ(1) = 0.5(1 − 0.1·0.2 − 0.1·0.5⁴)
    r = lop_rho(0.5, 0.1, 3, 1, weight_decay=0.2)
    assert r[1] == pytest.approx(0.5 * (1 - 0.02 - 0.1 * 0.0625), abs=1e-15)
    # loss_scale multiplies η in the gradient term only: 0.5(1 − 0.1·0.2 − 0.1·0.5·0.5⁴)
    r = lop_rho(0.5, 0.1, 3, 1, weight_decay=0.2, loss_scale=0.5)
    assert r[1] == pytest.approx(0.5 * (1 - 0.02 - 0.05 * 0.0625), abs=1e-15)


def test_lop_rho_case2_closed_form():
    eps, eta, lam, T = 0.3, 0.05, 0.4, 50
    r = lop_rho(eps, eta, 4, T, weight_decay=lam, case=2)
    assert np.abs(r - eps * (1 - eta * lam) ** np.arange(T + 1)).max() < 1e-15
    assert np.all(lop_rho(eps, eta, 4, T, case=2) == eps)  # no weight decay: ρ stays ε


def test_lop_rho_bad_case():
    with pytest.raises(ValueError, match="case must be 1 or 2"):
        lop_rho(0.1, 0.1, 2, 3, case=3)


@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_lop_rho_matches_wide_dln_on_its_invariant_subspace(lam):
    """conventions §2.2: for a square rank-r target and ε-orthogonal init, ``W_l(t) V_{l,2} = ρ(t) U_{l,2}``."""
    d, r, L, eps, eta, T = 8, 2, 3, 0.5, 0.05, 60
    Phi = low_rank_target(d, d, r, [2.0, 1.0], seed=1, device="cpu")
    net = wide_dln([d] * (L + 1), eps, "orthogonal", seed=0, device="cpu")
    B = lop_basis(net.weights, Phi)
    pred = lop_rho(eps, eta, L, T, weight_decay=lam)

    def rho(n, W, loss):  # W_1(t) V_{1,2} = ρ(t) U_{1,2}: read ρ off, and the residual of the structure
        X = n.weights[0] @ B.V12
        rho_t = (X * B.U2[0]).sum() / B.m
        return torch.stack([rho_t, (X - rho_t * B.U2[0]).abs().max()])

    h = train(net, Factorisation(Phi), GD(eta, weight_decay=lam), T, record_at=range(T + 1), recorders={"rho": rho})
    assert np.abs(h["rho"][:, 0] - pred).max() < 1e-12
    assert h["rho"][:, 1].max() < 1e-12
    assert pred[-1] < 0.95 * eps  # ρ moved
    # the check rejects a wrong exponent (2L instead of 2(L−1)) and a missing weight decay
    wrong_exp = lop_rho(eps, eta, L + 1, T, weight_decay=lam)
    assert np.abs(h["rho"][:, 0] - wrong_exp).max() > 1e-4
    if lam:
        assert np.abs(h["rho"][:, 0] - lop_rho(eps, eta, L, T)).max() > 1e-4


def test_lop_rho_case2_matches_wide_target_regression():
    """Case 2: ``d_y = r < d_x`` with whitened X; the invariant block only decays by weight decay."""
    dx, dy, N, L, eps, eta, lam, T = 6, 2, 20, 3, 0.3, 0.05, 0.3, 40
    g = torch.Generator().manual_seed(0)
    Xw, _ = whiten(torch.randn(dx, N, generator=g, dtype=F64))
    Y = torch.randn(dy, N, generator=g, dtype=F64)
    P = Regression(Xw, Y)
    Phi = P.surrogate()  # (dy, dx) of rank dy
    net = wide_dln([dx, dx, dx, dy], eps, "orthogonal", seed=1, device="cpu")
    # invariant input directions: the null space of Φ (and of W_{L:1}(0)ᵀ... here only Φ's row space moves)
    _, _, Vh = torch.linalg.svd(torch.cat([Phi, net.end_to_end()], 0), full_matrices=True)
    V12 = Vh[2 * dy:].T  # d_x − 2d_y directions annihilated by Φ and W_{L:1}(0)
    U12 = net.weights[0] @ V12 / eps

    def rho(n, W, loss):
        X = n.weights[0] @ V12
        return (X * U12).sum() / V12.shape[1]

    h = train(net, P, GD(eta, weight_decay=lam), T, record_at=range(T + 1), recorders={"rho": rho})
    pred = lop_rho(eps, eta, L, T, weight_decay=lam, case=2)
    assert np.abs(h["rho"] - pred).max() < 1e-12
    assert np.abs(h["rho"] - lop_rho(eps, eta, L, T, weight_decay=lam, case=1)).max() > 1e-6


# ----------------------------------------------------------------------------------------------
# Singular-value gradient flow
# ----------------------------------------------------------------------------------------------


def test_sv_flow_rhs():
    s, sig = np.array([0.5, 2.0]), np.array([1.0, 1.0])
    assert np.allclose(sv_flow_rhs(s, sig, 2), -2 * s * (s - sig), rtol=1e-15)
    assert np.allclose(sv_flow_rhs(s, sig, 3), -3 * s ** (4 / 3) * (s - sig), rtol=1e-14)
    assert np.allclose(sv_flow_rhs(s, sig, 1), -(s - sig), rtol=1e-15)


def test_sv_gradient_flow_L2_is_logistic():
    """``ṡ = −2s(s − σ)``: ``s(t) = σ / (1 + (σ/s₀ − 1) e^{−2σt})``."""
    sigma = np.array([3.0, 1.0, 0.5])
    s0 = 1e-2
    times = np.array([0.0, 0.1, 0.7, 1.5, 2.5, 4.0, 8.0])
    got = sv_gradient_flow(sigma, 2, s0, times, dt=1e-3)
    exact = sigma / (1 + (sigma / s0 - 1) * np.exp(-2 * np.outer(times, sigma)))
    assert got.shape == (times.size, 3)
    assert np.abs(got - exact).max() < 1e-8
    # the check can fail: a wrong rate (e^{−σt}) is far off
    wrong = sigma / (1 + (sigma / s0 - 1) * np.exp(-np.outer(times, sigma)))
    assert np.abs(got - wrong).max() > 0.1


def test_sv_gradient_flow_L1_and_loss_scale():
    sigma, s0 = np.array([2.0]), 0.5
    times = np.linspace(0, 3, 7)
    got = sv_gradient_flow(sigma, 1, s0, times)
    assert np.abs(got[:, 0] - (sigma[0] + (s0 - sigma[0]) * np.exp(-times))).max() < 1e-10
    # loss_scale c: flow time runs c times faster
    a = sv_gradient_flow(sigma, 3, s0, times, loss_scale=0.5)
    b = sv_gradient_flow(sigma, 3, s0, 0.5 * times)
    assert np.abs(a - b).max() < 1e-9


def test_gd_approaches_the_flow_for_small_steps():
    """GD with step η for t steps ≈ flow at time ηt; the gap shrinks with η (first order)."""
    sigma, L, s0 = [1.0], 2, 0.1
    errs = []
    for eta in (0.02, 0.01):
        T = int(round(3.0 / eta))
        gd = kwon_thm1(sigma, 1, L, math.sqrt(s0), eta, T)[:, 0]  # diagonal GD from s(0) = λ(0)^2 = s0
        flow = sv_gradient_flow(sigma, L, s0, eta * np.arange(T + 1))[:, 0]
        errs.append(np.abs(gd - flow).max())
    assert errs[1] < 0.6 * errs[0] and errs[1] < 0.02


def test_stability_bound():
    assert stability_bound(4.0, 2) == pytest.approx(2 / (2 * 4.0))
    assert stability_bound(8.0, 3, loss_scale=0.5) == pytest.approx(2 / (0.5 * 3 * 8.0 ** (4 / 3)))
