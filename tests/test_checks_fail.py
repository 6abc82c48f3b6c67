"""Every theorem check of notebooks 03–05 can fail: fed a perturbed recursion (wrong exponent, α on the wrong
factors, wrong ρ update, wrong flow, unsorted singular values, ...), the quantity the notebook asserts on
crosses its tolerance. Each test also confirms that the correct closed form passes on the same data."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

import dlnlib as dl
from dlnlib import incremental as I
from dlnlib.theory import kwon_alpha, lop_rho, sv_flow_rhs, sv_gradient_flow
from dlnlib.verify import cdln_vs_recursion

TOL = 1e-10


@pytest.fixture(scope="module")
def grid_check():
    M = dl.low_rank_target(8, 8, 2, [3.0, 1.5], seed=0)
    g = I.grid(eps=[0.1, 0.4], alpha=[1.0, 3.0])
    eta = 0.2 * I.stability_bound_alpha(3.0, 3, 3.0)
    return I.thm1_grid(M, 2, 4, 3, g["eps"], eta, g["alpha"], T=300, record_at=20)


# ---- Theorem 1 and the α ≠ 1 extension (notebooks 01, 03) ------------------------------------------------


@pytest.mark.parametrize("kind", ["exponent", "alpha_middle", "no_alpha", "tail_sigma", "init"])
def test_thm1_grid_check_fails_on_perturbed_recursion(grid_check, kind):
    assert grid_check.max_rel_error <= TOL
    bad = I.regrade(grid_check, I.perturbed_recursion(kind))
    assert not bad.max_rel_error <= TOL  # NaN also fails, as in figures.check


def test_thm1_grid_fails_when_trained_against_wrong_recursion():
    M = dl.low_rank_target(6, 6, 1, [2.0], seed=1)
    c = I.thm1_grid(M, 1, 2, 2, 0.3, 0.05, 1.0, T=100, record_at=10, recursion=I.perturbed_recursion("exponent"))
    assert not c.max_rel_error <= TOL


def test_verify_cdln_vs_recursion_fails_on_perturbed_recursion():
    M = dl.low_rank_target(6, 6, 2, [2.0, 1.0], seed=2)
    ok = cdln_vs_recursion(M, 2, 3, 3, 0.3, 0.05, 200, record_at=10)
    bad = cdln_vs_recursion(M, 2, 3, 3, 0.3, 0.05, 200, record_at=10, recursion=I.perturbed_recursion("exponent"))
    assert ok.rel_error <= TOL and not bad.rel_error <= TOL


def test_beyond_mf_control_fails_on_perturbed_recursion():
    M = I.separated_targets(2, 8, 2, seed=3)
    b = I.cdln_beyond_mf(dl.Factorisation(M), 2, 4, 3, 0.2, 0.03, 150, record_at=10,
                         recursion=I.perturbed_recursion("exponent"))
    assert not b.sv_dev.max() <= TOL


# ---- Lemma 1 and Corollary 1 (notebook 03) ---------------------------------------------------------------


def test_lemma1_fails_with_wrong_pairing():
    reversed_pairing = lambda sa, sb: (sa, torch.flip(sb, (-1,)))  # largest with smallest
    viol_ok = viol_bad = 0
    for A, B, _ in I.lemma1_instances(40, seed=0):
        l, r = I.lemma1(A, B)
        viol_ok += float(l) < float(r) - 1e-12 * float(A.square().sum() + B.square().sum())
        l, r = I.lemma1(A, B, pair=reversed_pairing)
        viol_bad += float(l) < float(r) - 1e-12 * float(A.square().sum() + B.square().sum())
    assert viol_ok == 0 and viol_bad > 0


def test_corollary1_chain_fails_on_perturbed_recursion():
    M = I.separated_targets(4, 8, 2, seed=4)
    ok = I.corollary1(M, 2, 4, 3, 0.1)
    bad = I.corollary1(M, 2, 4, 3, 0.1, recursion=I.perturbed_recursion("init"))
    assert ok.sv0_rel.max() <= TOL and np.allclose(ok.closed, ok.rhs, rtol=1e-12)
    assert not bad.sv0_rel.max() <= TOL
    assert not np.allclose(bad.closed, bad.rhs, rtol=1e-12)


def test_corollary1_inequality_fails_when_comp_is_worse():
    """The violation count the notebook asserts is > 0 if the 'compressed' side is started farther away."""
    M = I.separated_targets(4, 8, 2, seed=5)
    ok = I.corollary1(M, 2, 4, 3, 0.5)
    assert (ok.gap >= -1e-12 * ok.scale).all()
    worse = I.corollary1(M, 2, 4, 3, 0.5, init="orthogonal")
    gap_bad = worse.lhs - (worse.rhs + 2 * worse.scale)  # comp error inflated beyond the margin
    assert (gap_bad < -1e-12 * worse.scale).any()


# ---- Assumption 1 (notebook 04) --------------------------------------------------------------------------


def test_assumption1_order_fails_when_components_swap():
    it = np.arange(6)
    c = np.ones((6, 1, 2))
    c[2:, 0, 1] = 0  # component 2 fitted at t = 2
    c[4:, 0, 0] = 0  # component 1 only at t = 4
    t = I.incremental_times(c, 0 * c, it, 0.5, 0.5)
    assert t.tolist() == [[4, 2]] and I.order_violations(t) == 1


def test_assumption1_order_fails_on_wrong_target_pairing():
    """c_val graded against σ* in the wrong order (σ_1(t) compared with σ_2*): the run no longer 'fits in order'."""
    M = I.separated_targets(2, 10, 2, seed=6)
    oc = I.orig_and_comp(dl.Factorisation(M), 2, 4, 3, 0.1, 0.03, 1200, record_at=60)
    ok = I.assumption1(oc.rec_orig, oc.sigma_star, oc.iterations)
    assert ok.order_violations == 0
    rec = oc.rec_orig.copy()
    wrong = oc.sigma_star[:, ::-1]
    rec[:, :, 1] = (rec[:, :, 0] - wrong[None]) ** 2
    assert I.assumption1(rec, wrong.copy(), oc.iterations).order_violations > 0


# ---- Proposition 1 (notebook 04) -------------------------------------------------------------------------


def _gd_sv(etas, sig, recursion):
    out = []
    for eta in etas:
        T = int(round(8 / eta))
        its = np.arange(0, T + 1, T // 20)
        out.append((recursion(sig[0], 2, 3, 0.2, eta, 1.0, T)[its][:, None, :], its * eta))
    return out


def test_prop1_order_fails_with_wrong_flow():
    sig, etas = np.array([[2.0, 1.0]]), [0.04, 0.02, 0.01]

    def wrong_flow(sigma, depth, s0, times, dt, loss_scale):  # exponent 1 − 2/L instead of 1 − 1/L
        rhs = lambda s: -depth * (s * s) ** (1.0 - 2.0 / depth) * (s - sigma)
        s, out, t = np.full(sigma.shape, s0), [], 0.0
        for tt in times:
            while t < tt - 1e-12:
                h = min(dt, tt - t)
                s, t = s + h * rhs(s), t + h
            out.append(s.copy())
        return np.array(out)

    runs = _gd_sv(etas, sig, kwon_alpha)
    good = [I.flow_gap(x, ts, sig, 3, 0.2**3) for x, ts in runs]
    bad = [I.flow_gap(x, ts, sig, 3, 0.2**3, flow=wrong_flow) for x, ts in runs]
    assert abs(I.convergence_order(etas, good) - 1) <= 0.2
    assert not abs(I.convergence_order(etas, bad) - 1) <= 0.2


def test_prop1_order_fails_with_perturbed_recursion():
    sig, etas = np.array([[2.0, 1.0]]), [0.04, 0.02, 0.01]
    runs = _gd_sv(etas, sig, I.perturbed_recursion("exponent"))
    gaps = [I.flow_gap(x, ts, sig, 3, 0.2**3) for x, ts in runs]
    assert not abs(I.convergence_order(etas, gaps) - 1) <= 0.2


def test_prop1_velocity_residual_fails_with_wrong_rhs():
    s = np.array([[[1.0, 0.5]]])
    proj = np.array([[[2.0, 1.0]]])
    step = 1e-6
    s_next = s + step * sv_flow_rhs(s, proj, 3)  # an exact Euler step of Proposition 1
    assert I.velocity_residual(s, s_next, proj, step, 3).max() < 1e-9
    wrong = lambda x, p, L: -L * (x * x) ** (1 - 2 / L) * (x - p)
    assert I.velocity_residual(s, s_next, proj, step, 3, rhs=wrong).max() > 0.1


# ---- Theorem 2 (notebook 04) -----------------------------------------------------------------------------


def test_thm2_ordering_fails_on_perturbed_recursion():
    M = I.separated_targets(3, 10, 2, seed=7)
    oc = I.orig_and_comp(dl.Factorisation(M), 2, 4, 3, 0.1, 0.03, 800, record_at=40, spectral=False)
    ok = I.comp_error_recursion(oc.sigma_star, 4, 3, 0.1, 0.03, oc.iterations)
    assert I.ordering_violations(oc.err_orig, ok, 1e-12)[0] == 0
    for kind in ("exponent", "init"):
        bad = I.comp_error_recursion(oc.sigma_star, 4, 3, 0.1, 0.03, oc.iterations,
                                     recursion=I.perturbed_recursion(kind))
        assert I.ordering_violations(oc.err_orig, bad, 1e-12)[0] > 0


# ---- Symbolic derivations (notebook 05) ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["exponent", "coupled_decay", "no_decay"])
def test_rho_comparison_fails_on_perturbed_rho(kind):
    ok = I.max_rel_diff(I.iterate_rho_sym(3, 0.5, 0.1, 200, 0.3, 1), lop_rho(0.5, 0.1, 3, 200, 0.3, 1))
    bad = I.max_rel_diff(I.iterate_rho_sym(3, 0.5, 0.1, 200, 0.3, 1), I.perturbed_rho(kind)(0.5, 0.1, 3, 200, 0.3, 1))
    assert ok <= 1e-12 and not bad <= 1e-12


def test_rho_case2_comparison_fails_without_decay():
    sym = I.iterate_rho_sym(3, 0.5, 0.1, 200, 0.3, 2)
    assert not I.max_rel_diff(sym, I.perturbed_rho("no_decay")(0.5, 0.1, 3, 200, 0.3, 2)) <= 1e-12


@pytest.mark.parametrize("kind", ["exponent", "alpha_middle", "tail_sigma"])
def test_sympy_update_comparison_fails_on_perturbed_recursion(kind):
    sym = I.iterate_thm1_sym(3, [3.0, 1.0], 4, 0.2, 0.05, 2.0, 300)
    assert I.max_rel_diff(sym, kwon_alpha([3.0, 1.0], 4, 3, 0.2, 0.05, 2.0, 300)) <= 1e-12
    assert not I.max_rel_diff(sym, I.perturbed_recursion(kind)([3.0, 1.0], 4, 3, 0.2, 0.05, 2.0, 300)) <= 1e-12


def test_symbolic_expression_check_fails_on_wrong_closed_form():
    th = I.sym_thm1_step(3)
    lam, eta, sigma = th["lam"], th["eta"], th["sigma"]
    assert I.sym_equal(th["derived"], th["closed"])
    assert not I.sym_equal(th["derived"], lam * (1 - eta * (lam**3 - sigma) * lam**2))  # λ^{L−1}
    rho = I.sym_rho_step(3, 1)
    r, e, l, _ = rho["symbols"]
    assert not I.sym_equal(rho["derived"], r * (1 - e * l) * (1 - e * r**4))
