"""dlnlib.theory: the closed-form recursions and flows, by hand and against simulation.

Each comparison with simulation is paired with a perturbed recursion that it must reject, so the checks can fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlnlib.networks import cdln, lop_basis, wide_dln
from dlnlib.problems import (Completion, Factorisation, Regression, exact_count_mask, low_rank_target, sensing,
                             spectral_factors, whiten)
from dlnlib.theory import kwon_alpha, kwon_thm1, lop_rho, stability_bound, sv_flow_rhs, sv_gradient_flow
from dlnlib.optim import GD, Adam, DivergenceError
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
    with pytest.raises(ValueError, match="depth L must be an integer >= 2, got 1"):
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


# ----------------------------------------------------------------------------------------------
# Bad input: every closed form names the argument, its value and what is allowed
# ----------------------------------------------------------------------------------------------

from dlnlib.theory import (learning_time, lop_rho_momentum, mf_equivalent_scale, recursion_recovery_error,  # noqa: E402
                           stability_bound_alpha, stability_rule)

_ETA = r"eta \(the step size η\)"
_ALPHA = r"alpha \(the outer-factor step multiplier α\) must be finite and > 0"
_EPS = r"eps \(the init scale ε\) must be finite and > 0"
_SIG = r"sigma_star \(the target singular values σ\*\)"


def _ka(**kw):
    args = dict(sigma_star=[2.0, 1.0], r_hat=3, depth=3, eps=0.1, eta=0.05, alpha=2.0, T=10, loss_scale=1.0)
    args.update(kw)
    return lambda: kwon_alpha(**args)


BAD_CLOSED_FORMS = [
    # α < 0 (the issue: the recursion check then reported a relative error of 1e17), α = 0, NaN, inf
    (_ka(alpha=-1.0), ValueError, _ALPHA + r", got -1.0"),
    (_ka(alpha=0.0), ValueError, _ALPHA + r", got 0.0"),
    (_ka(alpha=float("nan")), ValueError, _ALPHA + r", got nan"),
    (lambda: recursion_recovery_error([1.0], 2, 3, 0.1, 0.05, -2.0, np.array([0, 5])), ValueError, _ALPHA),
    (lambda: learning_time([1.0], 1, 2, 0.1, 0.1, alpha=-1.0), ValueError, _ALPHA),
    (lambda: stability_bound_alpha(2.0, 3, -1.0), ValueError, _ALPHA),
    # η: zero with steps to take, negative, NaN, inf, a string, an array
    (_ka(eta=0.0), ValueError, _ETA + r" must be finite and > 0, got 0.0 \(η = 0 is allowed only with T = 0"),
    (_ka(eta=-10.0), ValueError, _ETA + r" must be finite and >= 0, got -10.0"),
    (_ka(eta=float("nan")), ValueError, _ETA + r" must be finite and >= 0, got nan"),
    (_ka(eta=float("inf")), ValueError, _ETA + r" must be finite and >= 0, got inf"),
    (_ka(eta="0.1"), TypeError, _ETA + r" must be a real number, got str '0.1'"),
    (_ka(eta=np.array([0.1, 0.2])), TypeError, _ETA + r" must be a single real number, got an array of shape \(2,\)"),
    (lambda: lop_rho(0.5, -0.1, 2, 5), ValueError, _ETA + r" must be finite and >= 0, got -0.1"),
    # ε
    (_ka(eps=0.0), ValueError, _EPS + r", got 0.0"),
    (_ka(eps=-0.1), ValueError, _EPS + r", got -0.1"),
    (_ka(eps=float("nan")), ValueError, _EPS + r", got nan"),
    (lambda: lop_rho(0.0, 0.1, 2, 5), ValueError, _EPS),
    # depth, T, r_hat: integers with the minimum the formula needs (NumPy integers pass, floats and bools do not)
    (_ka(depth=1), ValueError, r"depth L must be an integer >= 2, got 1"),
    (_ka(depth=3.0), TypeError, r"depth L must be an integer, got float 3.0"),
    (_ka(depth=True), TypeError, r"depth L must be an integer, got bool True"),
    (_ka(depth="3"), TypeError, r"depth L must be an integer, got str '3'"),
    (_ka(T=-1), ValueError, r"T \(the number of steps\) must be an integer >= 0, got -1"),
    (_ka(T=10.5), TypeError, r"T \(the number of steps\) must be an integer, got float 10.5"),
    (_ka(r_hat=1), ValueError, r"r_hat = 1 must be >= r = 2 \(the number of target singular values σ\*\)"),
    (_ka(r_hat=0), ValueError, r"r_hat must be an integer >= 1, got 0"),
    (lambda: lop_rho(0.5, 0.1, 0, 5), ValueError, r"depth L must be an integer >= 1, got 0"),
    (lambda: stability_bound(2.0, 0), ValueError, r"depth L must be an integer >= 1, got 0"),
    (lambda: stability_bound_alpha(2.0, 1, 1.0), ValueError, r"depth L must be an integer >= 2, got 1"),
    (lambda: sv_gradient_flow([1.0], -3, 0.1, [0.0, 1.0]), ValueError, r"depth L must be an integer >= 1, got -3"),
    # σ*: finite, >= 0, a non-empty vector
    (_ka(sigma_star=[2.0, float("nan")]), ValueError, _SIG + r" must be finite, got \[nan\]"),
    (_ka(sigma_star=[2.0, -1.0]), ValueError, _SIG + r" must have entries >= 0, got -1.0"),
    (_ka(sigma_star=[]), ValueError, _SIG + r" must have at least 1 entry, got shape \(0,\)"),
    (_ka(sigma_star=np.eye(2)), ValueError, _SIG + r" must have 0 or 1 dimension\(s\), got shape \(2, 2\)"),
    (_ka(sigma_star="2.0"), TypeError, _SIG + r" must be an array of real numbers, got str"),
    (lambda: recursion_recovery_error([0.0], 1, 2, 0.1, 0.1, 1.0, np.array([0, 5])), ValueError,
     r"sigma_star is all zero"),
    # loss scale, σ_max
    (_ka(loss_scale=0.0), ValueError, r"loss_scale \(the loss constant c\) must be finite and > 0, got 0.0"),
    (lambda: stability_bound(2.0, 3, loss_scale=-1.0), ValueError, r"loss_scale .* must be finite and > 0, got -1.0"),
    (lambda: stability_bound(0.0, 3), ValueError, r"sigma_max \(the largest target singular value\) must be finite "
     r"and > 0, got 0.0"),
    # ρ(t): weight decay, momentum, case
    (lambda: lop_rho(0.5, 0.1, 2, 5, weight_decay=-0.1), ValueError, r"weight_decay \(λ\) must be finite and >= 0, "
     r"got -0.1"),
    (lambda: lop_rho(0.5, 0.1, 2, 0, case=3), ValueError, r"case must be 1 or 2 .*got 3"),
    (lambda: lop_rho_momentum(0.5, 0.1, 2, 5, 1.0), ValueError, r"momentum \(μ\) must be a finite number in \[0, 1\), "
     r"got 1.0"),
    (lambda: lop_rho_momentum(0.5, 0.1, 2, 5, 0.5, case=0), ValueError, r"case must be 1 or 2"),
    # gradient flow: times non-decreasing and >= 0, s0 >= 0 and of σ*'s size, dt > 0
    (lambda: sv_gradient_flow([1.0], 2, 0.1, [0.0, 2.0, 1.0]), ValueError, r"times must be non-decreasing, got "
     r"\[0.0, 2.0, 1.0\]"),
    (lambda: sv_gradient_flow([1.0], 2, 0.1, [-1.0, 1.0]), ValueError, r"times must have entries >= 0"),
    (lambda: sv_gradient_flow([1.0, 2.0], 2, [0.1, 0.1, 0.1], [1.0]), ValueError, r"s0 has 3 entries but sigma_star "
     r"has 2"),
    (lambda: sv_gradient_flow([1.0], 2, -0.1, [1.0]), ValueError, r"s0 \(the initial singular values\) must have "
     r"entries >= 0"),
    (lambda: sv_gradient_flow([1.0], 2, 0.1, [1.0], dt=0.0), ValueError, r"dt \(the RK4 step\) must be finite and > 0"),
    # learning_time, recursion_recovery_error's iterations, mf_equivalent_scale's problem
    (lambda: learning_time([1.0], 1, 2, 0.1, 0.1, frac=1.0), ValueError, r"frac must be a finite number in \(0, 1\), "
     r"got 1.0"),
    (lambda: learning_time([1.0], 1, 2, 0.1, 0.1, T_max=0), ValueError, r"T_max must be an integer >= 1, got 0"),
    (lambda: learning_time([1.0], 1, 2, 0.1, 0.1, chunk=2.5), TypeError, r"chunk must be an integer, got float 2.5"),
    (lambda: recursion_recovery_error([1.0], 1, 2, 0.1, 0.1, 1.0, np.array([0.0, 2.5])), ValueError,
     r"iterations must be whole numbers of steps, got \[2.5\]"),
    (lambda: recursion_recovery_error([1.0], 1, 2, 0.1, 0.1, 1.0, np.array([-1, 2])), ValueError,
     r"iterations must have entries >= 0"),
    (lambda: mf_equivalent_scale(torch.eye(3)), TypeError, r"problem must be a dlnlib Problem .*got Tensor"),
]


@pytest.mark.parametrize("call,err,msg", BAD_CLOSED_FORMS)
def test_closed_forms_reject_bad_arguments_by_name(call, err, msg):
    with pytest.raises(err, match=msg):
        call()


def test_closed_forms_accept_numpy_scalars_and_a_zero_step_without_steps():
    ref = kwon_alpha([2.0, 1.0], 3, 3, 0.1, 0.05, 2.0, 10)
    got = kwon_alpha(np.array([2.0, 1.0]), np.int64(3), np.int32(3), np.float64(0.1), np.float64(0.05),
                     np.float64(2.0), np.int64(10))
    assert np.array_equal(got, ref)
    # η = 0 with T = 0 reads p(0) (kwon_cor1 does this): ε^L on every index
    assert np.array_equal(kwon_alpha([2.0], 2, 3, 0.1, 0.0, 1.0, 0), np.full((1, 2), 0.1 ** 3))
    assert lop_rho(0.5, 0.0, 2, 0).tolist() == [0.5]


def test_negative_alpha_no_longer_reaches_the_recursion_check():
    """The issue's example: C-DLN with α < 0 against the recursion reported a relative error of 1e17."""
    from dlnlib.studies.kwon_thm1 import cdln_vs_recursion

    M = torch.diag(torch.tensor([2.0, 1.0, 0.0], dtype=F64))
    with pytest.raises(ValueError, match="alpha must be finite and > 0, got -1.0"):
        cdln_vs_recursion(M, 2, 2, 3, 0.3, 0.05, 60, alpha=-1.0, record_at=20)


# ----------------------------------------------------------------------------------------------
# The stability rule of a (problem, network, optimiser)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("norm", ["sum", "mean"])
@pytest.mark.parametrize("L,alpha", [(2, 1.0), (3, 1.0), (3, 4.0), (4, 0.5)])
def test_stability_rule_on_factorisation_is_stability_bound_alpha(norm, L, alpha):
    M = low_rank_target(6, 5, 2, [3.0, 1.0], seed=0, device="cpu")
    P = Factorisation(M, norm)
    rule = stability_rule(P, cdln(P, 3, L, 0.1, alpha), GD(0.01))
    assert rule.bound == stability_bound_alpha(rule.sigma_max, L, alpha, loss_scale=P.loss_scale)  # same arithmetic
    assert rule.bound == pytest.approx(stability_bound_alpha(3.0, L, alpha, loss_scale=P.loss_scale), rel=1e-14)
    assert rule.sigma_max == pytest.approx(3.0, rel=1e-14) and rule.loss_scale == P.loss_scale
    assert rule.text.startswith(f"for this factorisation ('{norm}' loss; c = ")
    assert (f"α = {alpha:g}" in rule.text) == (alpha != 1.0)
    assert "GD is stable roughly when η < 2/(c·L·" in rule.text and rule.text.endswith("× that.")


def _final_two(P, net, opt, T=3000):
    h = train(net, P, opt, T, record_at=[T - 1, T])
    return h.loss[-1], abs(h.loss[-1] - h.loss[-2]) / h.loss[-1]


M6 = low_rank_target(6, 6, 2, [3.0, 1.0], seed=0, device="cpu")


@pytest.mark.parametrize("make", [lambda: Factorisation(M6), lambda: Factorisation(M6, "mean"),
                                  lambda: Completion(M6, exact_count_mask(6, 6, 0.8, seed=1)),
                                  lambda: sensing(M6, 60, seed=2, normalisation="mean")],
                         ids=["mf-sum", "mf-mean", "completion", "sensing"])
@pytest.mark.parametrize("alpha", [1.0, 3.0])
def test_stability_rule_predicts_where_gd_stops_converging(make, alpha):
    """GD at 0.75× the rule's bound settles; at 1.25× it keeps oscillating (the issue: it stalled silently)."""
    P = make()
    net = cdln(P, 3, 3, 0.1, alpha)
    bound = stability_rule(P, net, GD(1.0)).bound
    loss, change = _final_two(P, net, GD(0.75 * bound))
    assert change < 1e-3
    loss_hi, change_hi = _final_two(P, net, GD(1.25 * bound))
    assert change_hi > 0.1 and loss_hi > 1e3 * loss


@pytest.mark.parametrize("opt", [lambda e: GD(e, weight_decay=0.05), lambda e: GD(e, momentum=0.5)],
                         ids=["weight-decay", "momentum"])
def test_stability_rule_with_weight_decay_and_momentum(opt):
    P = Factorisation(M6)
    net = cdln(P, 3, 3, 0.1, 2.0)
    rule = stability_rule(P, net, opt(1.0))
    plain = stability_rule(P, net, GD(1.0)).bound
    h = rule.curvature
    if opt(1.0).momentum:  # heavy ball: 2(1 + μ)/h
        assert rule.bound == pytest.approx(3.0 / h, rel=1e-15) and "η < 2(1+μ)/(c·L·α^(2/L)" in rule.text
    else:  # decoupled weight decay: 2/(h + λ)
        assert rule.bound == pytest.approx(2.0 / (h + 0.05), rel=1e-15) and "σ_max^(2−2/L) + λ)" in rule.text
        assert rule.bound < plain
    _, change = _final_two(P, net, opt(0.9 * rule.bound))
    assert change < 1e-3
    try:
        _, change_hi = _final_two(P, net, opt(1.1 * rule.bound))
    except DivergenceError:
        change_hi = np.inf
    assert change_hi > 0.1


def test_stability_rule_batches_adam_and_bad_arguments():
    B = low_rank_target(6, 6, 2, seed=0, batch=(3,), device="cpu")
    P = Factorisation(B)
    grid = cdln(P, 3, 3, 0.1, torch.tensor([1.0, 2.0, 4.0], dtype=F64))
    rule = stability_rule(P, grid, GD(torch.tensor([0.1, 0.2, 0.3], dtype=F64)))
    assert rule.bound.shape == (3,)
    for b, a in enumerate([1.0, 2.0, 4.0]):
        one = stability_rule(Factorisation(B[b]), cdln(B[b], 3, 3, 0.1, a), GD(0.1))
        assert rule.bound[b] == pytest.approx(one.bound, rel=1e-14)
    assert "per run" in rule.text and "up to" in rule.text
    adam = stability_rule(Factorisation(M6), cdln(M6, 3, 3, 0.1), Adam(1e-3))
    assert adam.bound is None and "Adam has no closed-form stability bound" in adam.text
    with pytest.raises(TypeError, match="problem must be a dlnlib Problem, got Tensor"):
        stability_rule(M6, cdln(M6, 3, 3, 0.1), GD(0.1))
    with pytest.raises(TypeError, match="net must be a dlnlib DLN, got list"):
        stability_rule(Factorisation(M6), [M6], GD(0.1))
    with pytest.raises(TypeError, match="optimizer must be a dlnlib GD or Adam, got float"):
        stability_rule(Factorisation(M6), cdln(M6, 3, 3, 0.1), 0.1)


def test_stability_rule_for_completion_estimates_sigma_from_the_observed_entries():
    M = low_rank_target(30, 30, 2, [3.0, 1.0], seed=0, device="cpu")
    P = Completion(M, exact_count_mask(30, 30, 0.5, seed=1))
    rule = stability_rule(P, cdln(P, 4, 3, 0.1, 2.0), GD(1.0))
    assert rule.loss_scale == mf_equivalent_scale(P)
    assert 0.7 < rule.sigma_max / 3.0 < 1.5  # ‖P_Ω(M*)‖₂/p ≈ σ_max(M*)
    assert "completion ('observed' loss; c_eff = c·|Ω|/(d_out·d_in) = " in rule.text and "σ_max ≈ ‖P_Ω(M*)‖₂/p" in rule.text
    # regression: c_eff = c‖X‖₂², σ_max of the least-squares map; whitened data make it factorisation of Φ = YXᵀ
    g = torch.Generator().manual_seed(0)
    Xw, _ = whiten(torch.randn(5, 40, generator=g, dtype=F64))
    Y = torch.randn(3, 40, generator=g, dtype=F64)
    reg = stability_rule(Regression(Xw, Y), wide_dln([5, 4, 3], 0.1, seed=0, device="cpu"), GD(0.1))
    fac = stability_rule(Factorisation(Y @ Xw.T), wide_dln([5, 4, 3], 0.1, seed=0, device="cpu"), GD(0.1))
    assert reg.bound == pytest.approx(fac.bound, rel=1e-10)
    # γ = 0 (LoP-compressed net, bases frozen): the L − 2 middle factors set the bound
    from dlnlib.networks import DLN

    frozen = DLN([torch.eye(6, dtype=F64)] * 4, gamma=0.0)
    r = stability_rule(Factorisation(M6), frozen, GD(0.1))
    assert r.bound == pytest.approx(stability_bound(3.0, 2), rel=1e-14) and "c·(L−2)·σ_max^(2−2/(L−2))" in r.text
