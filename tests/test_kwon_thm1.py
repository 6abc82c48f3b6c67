"""dlnlib.studies.kwon_thm1: one C-DLN run and batched (ε, η, α) grids against Theorem 1's recursion, past the
stability bound and beyond factorisation — on small problems, against direct computations; and each check fails
when fed a perturbed recursion. (Also the closed forms it uses from dlnlib.theory: stability_bound_alpha,
mf_equivalent_scale.)"""

from __future__ import annotations

import numpy as np
import pytest

import dlnlib as dl
from dlnlib.studies.kwon_cor1 import separated_targets
from dlnlib.studies.kwon_thm1 import cdln_beyond_mf, cdln_vs_recursion, grid, offdiag_mass, regrade, thm1_grid
from dlnlib.studies.perturbed import perturbed_recursion
from dlnlib.theory import kwon_alpha, mf_equivalent_scale, stability_bound, stability_bound_alpha

TOL = 1e-10  # the notebooks' tolerance for Theorem 1 checks


@pytest.fixture(scope="module")
def target():
    return dl.low_rank_target(8, 8, 2, [3.0, 1.5], seed=0)


def test_grid_and_vec():
    g = grid(a=[1, 2], b=[3, 4, 5])
    assert g["a"].tolist() == [1, 1, 1, 2, 2, 2] and g["b"].tolist() == [3, 4, 5, 3, 4, 5]


def test_stability_bound_alpha_matches_theory_at_alpha_one():
    assert stability_bound_alpha(3.0, 3, 1.0) == pytest.approx(stability_bound(3.0, 3))


@pytest.mark.parametrize("L,alpha", [(2, 1.0), (3, 0.5), (3, 3.0), (4, 2.0)])
def test_stability_bound_alpha_separates_convergence(L, alpha):
    """Just below the bound the recursion converges to σ*; just above it does not."""
    bound = stability_bound_alpha(3.0, L, alpha)
    with np.errstate(all="ignore"):
        below = kwon_alpha([3.0], 1, L, 0.1, 0.97 * bound, alpha, 20000)[-1, 0]
        above = kwon_alpha([3.0], 1, L, 0.1, 1.03 * bound, alpha, 20000)[-1, 0]
    assert abs(below - 3.0) < 1e-9
    assert not abs(above - 3.0) < 1e-3


def test_thm1_grid_matches_recursion_and_single_runs(target):
    g = grid(eps=[0.1, 0.4], alpha=[1.0, 3.0])
    eta = 0.2 * stability_bound_alpha(3.0, 3, 3.0)
    c = thm1_grid(target, 2, 4, 3, g["eps"], eta, g["alpha"], T=300, record_at=20)
    assert c.max_rel_error <= 1e-10 and c.offdiag.max() <= 1e-10
    assert (c.diverged_at < 0).all()
    # the batched run equals a single (unbatched) run with verify.cdln_vs_recursion
    one = cdln_vs_recursion(target, 2, 4, 3, 0.4, eta, 300, alpha=3.0, record_at=20)
    j = 3  # eps = 0.4, alpha = 3
    assert np.allclose(c.simulated[:, j], one.simulated, rtol=1e-12, atol=0)


def test_thm1_grid_batched_targets():
    M = separated_targets(3, 6, 2, seed=1)
    c = thm1_grid(M, 2, 3, 2, 0.2, 0.05, 1.0, T=200, record_at=10)
    assert c.simulated.shape == (len(c.iterations), 3, 3)
    assert c.max_rel_error <= 1e-10


def test_thm1_grid_flags_divergence(target):
    bound = stability_bound(3.0, 2)
    c = thm1_grid(target, 2, 2, 2, 0.3, np.array([0.5, 3.0]) * bound, 1.0, T=200, record_at=20)
    assert c.diverged_at[0] == -1 and c.diverged_at[1] > 0
    assert c.rel_error[0] <= 1e-10


def test_regrade_reproduces_and_detects(target):
    c = thm1_grid(target, 2, 4, 3, 0.2, 0.02, 2.0, T=200, record_at=10)
    assert regrade(c).max_rel_error == pytest.approx(c.max_rel_error)
    assert regrade(c, perturbed_recursion("no_alpha")).max_rel_error > 1e-3


def test_offdiag_mass_and_beyond_mf():
    M = separated_targets(2, 10, 2, seed=2)
    U, s, V = dl.spectral_factors(M, 10)
    assert float(offdiag_mass(M, U, V).max()) < 1e-14
    mf = cdln_beyond_mf(dl.Factorisation(M), 2, 4, 3, 0.2, 0.03, 200, record_at=10)
    assert mf.offdiag.max() < 1e-12 and mf.sv_dev.max() < 1e-10
    ms = cdln_beyond_mf(dl.sensing(M, 60, seed=3, normalisation="mean"), 2, 4, 3, 0.2, 0.03, 200, record_at=10)
    assert ms.offdiag.max() > 1e-3


def test_mf_equivalent_scale():
    M = separated_targets(2, 10, 2, seed=2)
    assert mf_equivalent_scale(dl.Factorisation(M, "mean")) == pytest.approx(0.01)
    assert mf_equivalent_scale(dl.sensing(M, 4000, seed=0, normalisation="mean")) == pytest.approx(1.0, rel=0.02)
    mask = dl.exact_count_mask(10, 10, 0.3, seed=0, batch=(2,))
    assert mf_equivalent_scale(dl.Completion(M, mask, "observed")) == pytest.approx(0.01)



# ---- each check fails when fed a perturbed closed form, a wrong pairing or a wrong formula ----



@pytest.fixture(scope="module")
def grid_check():
    M = dl.low_rank_target(8, 8, 2, [3.0, 1.5], seed=0)
    g = grid(eps=[0.1, 0.4], alpha=[1.0, 3.0])
    eta = 0.2 * stability_bound_alpha(3.0, 3, 3.0)
    return thm1_grid(M, 2, 4, 3, g["eps"], eta, g["alpha"], T=300, record_at=20)


@pytest.mark.parametrize("kind", ["exponent", "alpha_middle", "no_alpha", "tail_sigma", "init"])
def test_thm1_grid_check_fails_on_perturbed_recursion(grid_check, kind):
    assert grid_check.max_rel_error <= TOL
    bad = regrade(grid_check, perturbed_recursion(kind))
    assert not bad.max_rel_error <= TOL  # NaN also fails, as in figures.check


def test_thm1_grid_fails_when_trained_against_wrong_recursion():
    M = dl.low_rank_target(6, 6, 1, [2.0], seed=1)
    c = thm1_grid(M, 1, 2, 2, 0.3, 0.05, 1.0, T=100, record_at=10, recursion=perturbed_recursion("exponent"))
    assert not c.max_rel_error <= TOL


def test_verify_cdln_vs_recursion_fails_on_perturbed_recursion():
    M = dl.low_rank_target(6, 6, 2, [2.0, 1.0], seed=2)
    ok = cdln_vs_recursion(M, 2, 3, 3, 0.3, 0.05, 200, record_at=10)
    bad = cdln_vs_recursion(M, 2, 3, 3, 0.3, 0.05, 200, record_at=10, recursion=perturbed_recursion("exponent"))
    assert ok.rel_error <= TOL and not bad.rel_error <= TOL


def test_beyond_mf_control_fails_on_perturbed_recursion():
    M = separated_targets(2, 8, 2, seed=3)
    b = cdln_beyond_mf(dl.Factorisation(M), 2, 4, 3, 0.2, 0.03, 150, record_at=10,
                         recursion=perturbed_recursion("exponent"))
    assert not b.sv_dev.max() <= TOL
