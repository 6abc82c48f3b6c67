"""Symbolic derivations (dlnlib.incremental.sym_*): sympy re-derives the gradients and recursions that
dlnlib.theory and dlnlib.train implement, as expressions and, lambdified, as numbers."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from dlnlib import incremental as I
from dlnlib.theory import kwon_alpha, kwon_thm1, lop_rho, sv_flow_rhs
from dlnlib.train import layer_grads


@pytest.mark.parametrize("L", [None, 2, 3, 4, 5])
def test_thm1_step_and_flow(L):
    assert I.sym_thm1_step(L)["equal"]
    assert I.sym_flow_rhs(L)["equal"]


@pytest.mark.parametrize("L", [2, 3, 4, 5])
def test_alpha_step(L):
    st = I.sym_alpha_step(L)
    assert st["equal"]
    assert (st["b_next"] is None) == (L == 2)


@pytest.mark.parametrize("L,case", [(2, 1), (3, 1), (4, 2), (5, 2)])
def test_rho_step(L, case):
    st = I.sym_rho_step(L, case)
    assert st["equal"]
    if case == 2:
        rho, eta, lam, eps = st["symbols"]
        t = sp.Symbol("t", integer=True, nonnegative=True)
        assert sp.simplify(st["solution"] - eps * (1 - eta * lam) ** t) == 0


def test_rho_case_rejected():
    with pytest.raises(ValueError):
        I.sym_rho_step(3, 3)


def test_matrix_gradient_symbolic_and_numeric():
    dims = [2, 3, 2, 2]
    Ws, M, derived, formula = I.sym_matrix_gradients(3, dims)
    assert all(I.sym_equal(a, b) for a, b in zip(derived, formula))
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
        I.sym_matrix_gradients(3, [2, 2])


@pytest.mark.parametrize("L", [2, 3])
def test_diagonal_invariance(L):
    assert I.sym_diagonal_invariance(L, 2)


@pytest.mark.parametrize("L,alpha", [(2, 1.0), (3, 1.0), (3, 2.5), (5, 0.5)])
def test_iterated_sympy_update_matches_theory(L, alpha):
    sig = [3.0, 1.0]
    eta = 0.3 * I.stability_bound_alpha(3.0, L, alpha)
    got = I.iterate_thm1_sym(L, sig, 4, 0.2, eta, alpha, 300, loss_scale=0.9)
    ref = kwon_alpha(sig, 4, L, 0.2, eta, alpha, 300, loss_scale=0.9)
    assert I.max_rel_diff(got, ref) < 1e-12
    if alpha == 1.0:
        assert I.max_rel_diff(got, kwon_thm1(sig, 4, L, 0.2, eta, 300, 0.9)) < 1e-12


@pytest.mark.parametrize("case", [1, 2])
def test_iterated_rho_matches_lop_rho(case):
    got = I.iterate_rho_sym(3, 0.5, 0.1, 200, weight_decay=0.3, case=case, loss_scale=0.7)
    assert I.max_rel_diff(got, lop_rho(0.5, 0.1, 3, 200, 0.3, case, 0.7)) < 1e-12


def test_flow_lambdified_matches_theory():
    fl = I.sym_flow_rhs(4)
    f = sp.lambdify((fl["s"], fl["sigma"]), fl["derived"], "numpy")
    s, sig = np.linspace(1e-4, 5, 50), np.linspace(0, 4, 50)
    assert I.max_rel_diff(f(s, sig), sv_flow_rhs(s, sig, 4)) < 1e-12


def test_sym_equal():
    x = sp.Symbol("x")
    assert I.sym_equal((x + 1) ** 2, x**2 + 2 * x + 1)
    assert not I.sym_equal((x + 1) ** 2, x**2 + 1)
