"""dlnlib.studies.symbolic: sympy re-derives the gradients and recursions that dlnlib.theory and dlnlib.train
implement, as expressions and, lambdified, as numbers; and the comparisons fail on perturbed closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from dlnlib.studies.perturbed import perturbed_recursion, perturbed_rho
from dlnlib.studies.symbolic import iterate_rho_sym, iterate_thm1_sym, max_rel_diff, sym_alpha_step, sym_diagonal_invariance, sym_equal, sym_flow_rhs, sym_matrix_gradients, sym_rho_step, sym_thm1_step
from dlnlib.theory import kwon_alpha, kwon_thm1, lop_rho, stability_bound_alpha, sv_flow_rhs
from dlnlib.optim import layer_grads

@pytest.mark.parametrize("L", [None, 2, 3, 4, 5])
def test_thm1_step_and_flow(L):
    assert sym_thm1_step(L)["equal"]
    assert sym_flow_rhs(L)["equal"]


@pytest.mark.parametrize("L", [2, 3, 4, 5])
def test_alpha_step(L):
    st = sym_alpha_step(L)
    assert st["equal"]
    assert (st["b_next"] is None) == (L == 2)


@pytest.mark.parametrize("L,case", [(2, 1), (3, 1), (4, 2), (5, 2)])
def test_rho_step(L, case):
    st = sym_rho_step(L, case)
    assert st["equal"]
    if case == 2:
        rho, eta, lam, eps = st["symbols"]
        t = sp.Symbol("t", integer=True, nonnegative=True)
        assert sp.simplify(st["solution"] - eps * (1 - eta * lam) ** t) == 0


def test_rho_case_rejected():
    with pytest.raises(ValueError):
        sym_rho_step(3, 3)


def test_matrix_gradient_symbolic_and_numeric():
    dims = [2, 3, 2, 2]
    Ws, M, derived, formula = sym_matrix_gradients(3, dims)
    assert all(sym_equal(a, b) for a, b in zip(derived, formula))
    syms = [x for W in Ws for x in W] + list(M)
    f = sp.lambdify(syms, [sp.Matrix(g) for g in derived], "numpy")
    rng = np.random.default_rng(0)
    vals = [rng.standard_normal((dims[l + 1], dims[l])) for l in range(3)]
    Mv = rng.standard_normal((dims[-1], dims[0]))
    got = f(*[v for W in vals for v in W.ravel()], *Mv.ravel())
    Wt = [torch.tensor(v) for v in vals]
    ref = layer_grads(Wt, Wt[2] @ Wt[1] @ Wt[0] - torch.tensor(Mv))
    for g, r in zip(got, ref):
        assert np.allclose(np.asarray(g, dtype=float), r.numpy(), rtol=1e-12, atol=1e-14)


def test_matrix_gradient_dims_checked():
    with pytest.raises(ValueError):
        sym_matrix_gradients(3, [2, 2])


@pytest.mark.parametrize("L", [2, 3])
def test_diagonal_invariance(L):
    assert sym_diagonal_invariance(L, 2)


@pytest.mark.parametrize("L,alpha", [(2, 1.0), (3, 1.0), (3, 2.5), (5, 0.5)])
def test_iterated_sympy_update_matches_theory(L, alpha):
    sig = [3.0, 1.0]
    eta = 0.3 * stability_bound_alpha(3.0, L, alpha)
    got = iterate_thm1_sym(L, sig, 4, 0.2, eta, alpha, 300, loss_scale=0.9)
    ref = kwon_alpha(sig, 4, L, 0.2, eta, alpha, 300, loss_scale=0.9)
    assert max_rel_diff(got, ref) < 1e-12
    if alpha == 1.0:
        assert max_rel_diff(got, kwon_thm1(sig, 4, L, 0.2, eta, 300, 0.9)) < 1e-12


@pytest.mark.parametrize("case", [1, 2])
def test_iterated_rho_matches_lop_rho(case):
    got = iterate_rho_sym(3, 0.5, 0.1, 200, weight_decay=0.3, case=case, loss_scale=0.7)
    assert max_rel_diff(got, lop_rho(0.5, 0.1, 3, 200, 0.3, case, 0.7)) < 1e-12


def test_flow_lambdified_matches_theory():
    fl = sym_flow_rhs(4)
    f = sp.lambdify((fl["s"], fl["sigma"]), fl["derived"], "numpy")
    s, sig = np.linspace(1e-4, 5, 50), np.linspace(0, 4, 50)
    assert max_rel_diff(f(s, sig), sv_flow_rhs(s, sig, 4)) < 1e-12


def test_sym_equal():
    x = sp.Symbol("x")
    assert sym_equal((x + 1) ** 2, x**2 + 2 * x + 1)
    assert not sym_equal((x + 1) ** 2, x**2 + 1)



# ---- each check fails when fed a perturbed closed form, a wrong pairing or a wrong formula ----



@pytest.mark.parametrize("kind", ["exponent", "coupled_decay", "no_decay"])
def test_rho_comparison_fails_on_perturbed_rho(kind):
    ok = max_rel_diff(iterate_rho_sym(3, 0.5, 0.1, 200, 0.3, 1), lop_rho(0.5, 0.1, 3, 200, 0.3, 1))
    bad = max_rel_diff(iterate_rho_sym(3, 0.5, 0.1, 200, 0.3, 1), perturbed_rho(kind)(0.5, 0.1, 3, 200, 0.3, 1))
    assert ok <= 1e-12 and not bad <= 1e-12


def test_rho_case2_comparison_fails_without_decay():
    sym = iterate_rho_sym(3, 0.5, 0.1, 200, 0.3, 2)
    assert not max_rel_diff(sym, perturbed_rho("no_decay")(0.5, 0.1, 3, 200, 0.3, 2)) <= 1e-12


@pytest.mark.parametrize("kind", ["exponent", "alpha_middle", "tail_sigma"])
def test_sympy_update_comparison_fails_on_perturbed_recursion(kind):
    sym = iterate_thm1_sym(3, [3.0, 1.0], 4, 0.2, 0.05, 2.0, 300)
    assert max_rel_diff(sym, kwon_alpha([3.0, 1.0], 4, 3, 0.2, 0.05, 2.0, 300)) <= 1e-12
    assert not max_rel_diff(sym, perturbed_recursion(kind)([3.0, 1.0], 4, 3, 0.2, 0.05, 2.0, 300)) <= 1e-12


def test_symbolic_expression_check_fails_on_wrong_closed_form():
    th = sym_thm1_step(3)
    lam, eta, sigma = th["lam"], th["eta"], th["sigma"]
    assert sym_equal(th["derived"], th["closed"])
    assert not sym_equal(th["derived"], lam * (1 - eta * (lam**3 - sigma) * lam**2))  # λ^{L−1}
    rho = sym_rho_step(3, 1)
    r, e, l, _ = rho["symbols"]
    assert not sym_equal(rho["derived"], r * (1 - e * l) * (1 - e * r**4))
