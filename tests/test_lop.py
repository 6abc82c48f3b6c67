"""Tests of dlnlib.studies.lop: the Law of Parsimony checks pass for the theorem's recursion and fail for perturbed ones."""

import dataclasses

import numpy as np
import pytest
import torch

import dlnlib as dl
from dlnlib.metrics import max_principal_angle
from dlnlib.studies import lop
from dlnlib.theory import lop_rho, lop_rho_momentum

TOL = 1e-10


@pytest.fixture(scope="module")
def case1():
    P, Phi = lop.lop_problem(12, 2, 0, case=1, sigma=[2.0, 1.0])
    q = dict(eps=0.5, eta=0.05, L=3, T=200, lam=0.05)
    rec, basis = lop.record_lop(P, [12] * 4, q["eps"], q["eta"], q["T"], weight_decay=q["lam"], seed=1, record_at=20)
    return rec, basis, q


@pytest.fixture(scope="module")
def case2():
    P, Phi = lop.lop_problem(12, 3, 0, case=2, N=30)
    q = dict(eps=0.5, eta=0.05, L=3, T=200, lam=0.05)
    rec, basis = lop.record_lop(P, [12, 12, 12, 3], q["eps"], q["eta"], q["T"], weight_decay=q["lam"], seed=1,
                                record_at=20)
    return rec, q


def test_case1_exact(case1):
    rec, basis, q = case1
    rho = lop_rho(q["eps"], q["eta"], q["L"], q["T"], q["lam"])
    assert rec.m == 12 - 4
    assert lop.block_error(rec, rho).max() <= TOL
    assert lop.sv_error(rec, rho).max() <= TOL
    assert lop.sv_floor(rec, rho) <= TOL


@pytest.mark.parametrize("wrong", ["exponent", "no_decay", "shift", "scale"])
def test_case1_check_fails_for_perturbed_recursion(case1, wrong):
    rec, _, q = case1
    eps, eta, L, T, lam = q["eps"], q["eta"], q["L"], q["T"], q["lam"]
    rho = {
        "exponent": lop_rho(eps, eta, L + 1, T, lam),                 # ρ^{2L} instead of ρ^{2(L−1)}
        "no_decay": lop_rho(eps, eta, L, T, 0.0),                      # weight-decay term dropped
        "shift": np.concatenate([[eps], lop_rho(eps, eta, L, T, lam)[:-1]]),  # off by one iteration
        "scale": lop_rho(eps, eta, L, T, lam, loss_scale=1.01),       # wrong loss scale
    }[wrong]
    assert lop.block_error(rec, rho).max() > 1e3 * TOL
    assert lop.sv_error(rec, rho).max() > 1e3 * TOL


def test_case2_exact_and_perturbed(case2):
    rec, q = case2
    eps, eta, L, T, lam = q["eps"], q["eta"], q["L"], q["T"], q["lam"]
    rho = lop_rho(eps, eta, L, T, lam, case=2)
    assert np.allclose(rho, eps * (1 - eta * lam) ** np.arange(T + 1), rtol=1e-14)
    assert lop.block_error(rec, rho).max() <= TOL
    assert lop.sv_error(rec, rho).max() <= TOL
    assert rec.zero_block.max() <= TOL
    for bad in (lop_rho(eps, eta, L, T, lam, case=1),                 # Case-1 update in Case 2
                eps * (1 - eta * lam) ** (np.arange(T + 1) + 1.0)):   # wrong exponent of the decay
        assert lop.block_error(rec, bad).max() > 1e3 * TOL
        assert lop.sv_error(rec, bad).max() > 1e3 * TOL


def test_block_error_is_pythagorean():
    """The cancellation-free formula equals the direct norm ‖WV₂ − ρU₂‖/(ρ√m)."""
    P, Phi = lop.lop_problem(10, 2, 3, case=1)
    net = dl.wide_dln([10] * 3, 0.7, seed=4)
    basis = dl.lop_basis(net.weights, Phi)
    rec, _ = lop.record_lop(P, [10] * 3, 0.7, 0.05, 5, seed=4, record_at=[5])
    # recompute directly at t = 5
    h = dl.train(net, P, dl.GD(0.05), 5, record_at=[5])
    W = h.net.weights[0]
    for rho in (0.3, 0.65):
        direct = float(torch.linalg.matrix_norm(W @ basis.V2(1) - rho * basis.U2[0])) / (rho * np.sqrt(basis.m))
        formula = lop.block_error(rec, np.full(6, rho))[0, 0]
        assert abs(direct - formula) <= 1e-12 * direct


def test_momentum_recursion():
    np.testing.assert_allclose(lop_rho_momentum(0.5, 0.1, 3, 20, 0.0, 0.02), lop_rho(0.5, 0.1, 3, 20, 0.02), rtol=1e-14)
    P, Phi = lop.lop_problem(12, 2, 0, case=1)
    rec, _ = lop.record_lop(P, [12] * 4, 0.5, 0.02, 150, momentum=0.9, seed=1, record_at=15)
    rho = lop_rho_momentum(0.5, 0.02, 3, 150, 0.9)
    assert lop.block_error(rec, rho).max() <= TOL
    assert lop.block_error(rec, lop_rho(0.5, 0.02, 3, 150)).max() > 1e3 * TOL        # plain-GD recursion
    assert lop.block_error(rec, lop_rho_momentum(0.5, 0.02, 3, 150, 0.8)).max() > 1e3 * TOL


@pytest.mark.parametrize("r_hat,lam", [(None, 0.0), (4, 0.05)])
def test_compressed_equivalence(r_hat, lam):
    Phi = dl.low_rank_target(14, 14, 2, [2.0, 1.0], seed=5)
    c = lop.record_compressed(Phi, 3, 0.5, 0.05, 150, r_hat=r_hat, weight_decay=lam, record_at=10)
    rho = lop_rho(0.5, 0.05, 3, 150, lam)
    assert lop.compressed_error(c, rho).max() <= TOL
    assert c.m == 14 - 2 * (r_hat or 2)
    assert lop.compressed_error(c, lop_rho(0.5, 0.05, 4, 150, lam)).max() > 1e3 * TOL   # wrong exponent
    assert lop.compressed_error(c, 0 * rho).max() > 1e3 * TOL                           # ρ^L term dropped


def test_rho_requires_full_range(case1):
    rec, _, q = case1
    with pytest.raises(ValueError, match="t = 0..T"):
        lop.block_error(rec, np.ones(5))


def test_svd_evolution_angles():
    """A known rotation of the top singular vector is measured; the middle block of a static matrix stays at 0."""
    n, K = 6, 4
    s = np.array([3.0, 2.0, 1.0, 1.0, 0.5, 0.25])
    snaps = []
    for t in range(K):
        th = 0.1 * t
        R = np.eye(n)
        R[:2, :2] = [[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]
        snaps.append(R @ np.diag(s))
    ev = lop.svd_evolution(np.arange(K), np.stack(snaps), 2, ref=1)
    assert np.isnan(ev.left[0]).all()
    np.testing.assert_allclose(ev.left[:, 0][1:], [0.0, 0.1, 0.2], atol=1e-12)
    assert np.nanmax(ev.left[:, 2]) <= 1e-12 and np.nanmax(ev.right) <= 1e-12


def test_max_principal_angle_small():
    rng = np.random.default_rng(0)
    A, _ = np.linalg.qr(rng.standard_normal((8, 3)))
    th = 1e-12
    B = A.copy()
    perp = np.linalg.qr(np.c_[A, rng.standard_normal(8)])[0][:, 3]
    B[:, 0] = np.cos(th) * A[:, 0] + np.sin(th) * perp
    assert abs(max_principal_angle(A, B) - th) <= 1e-15


def test_momentum_sign_change_of_rho():
    """With momentum, ρ can overshoot through 0: the block carries ρ (signed), the singular values are |ρ|."""
    P, Phi = lop.lop_problem(10, 2, 1, case=1)
    q = dict(eps=1.0, eta=0.02, L=2, T=600, mu=0.9, lam=0.05)
    rho = lop_rho_momentum(q["eps"], q["eta"], q["L"], q["T"], q["mu"], q["lam"])
    assert rho.min() < 0
    rec, _ = lop.record_lop(P, [10] * 3, q["eps"], q["eta"], q["T"], weight_decay=q["lam"], momentum=q["mu"],
                            seed=2, record_at=30)
    assert lop.block_error(rec, rho).max() <= TOL
    assert lop.sv_error(rec, rho).max() <= TOL
    assert lop.block_error(rec, np.abs(rho)).max() > 1e3 * TOL     # the sign is real, not an artefact


def test_theorem_point_is_the_fixture_run(case1):
    """notebook 02's sweep point: lop_problem (seed) + record_lop (init seed + 1) on [d]·L + [d_y], bit for bit."""
    rec, _, q = case1
    pt = lop.theorem_point(1, None, 12, 2, q["L"], q["eps"], q["eta"], q["lam"], q["T"], [2.0, 1.0], 0, record_at=20)
    for f in dataclasses.fields(rec):
        assert np.array_equal(np.asarray(getattr(pt, f.name)), np.asarray(getattr(rec, f.name))), f.name
