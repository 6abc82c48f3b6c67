"""dlnlib.networks: initialisations, the DLN container, C-DLN (Algorithm 1), LoP invariant basis and compressed net."""

from __future__ import annotations

import math

import pytest
import torch

from dlnlib._util import default_device
from dlnlib.networks import DLN, cdln, init_weight, lop_basis, lop_compressed, narrow_dln, wide_dln
from dlnlib.problems import Completion, Factorisation, exact_count_mask, low_rank_target, spectral_factors

F64 = torch.float64
DEV = default_device()


def randn(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=F64).to(DEV)


def eye(n, batch=()):
    return torch.eye(n, dtype=F64, device=DEV).expand(tuple(batch) + (n, n))


def assert_close(a, b, tol=1e-12):
    a, b = a.cpu(), b.cpu()
    assert a.shape == b.shape, (a.shape, b.shape)
    err = (a - b).abs().max().item() if a.numel() else 0.0
    assert err <= tol * max(1.0, b.abs().max().item()), err


# ----------------------------------------------------------------------------------------------
# init_weight
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d_out,d_in", [(5, 5), (7, 3), (3, 7), (1, 4), (4, 1)])
@pytest.mark.parametrize("batch", [(), (2, 3)])
def test_orthogonal_init_is_eps_semi_orthogonal(d_out, d_in, batch):
    eps = 0.3
    W = init_weight(d_out, d_in, eps, "orthogonal", seed=1, batch=batch)
    assert W.shape == tuple(batch) + (d_out, d_in)
    assert W.dtype == F64
    Wt = W.transpose(-1, -2)
    if d_out >= d_in:
        assert_close(Wt @ W, eps**2 * eye(d_in, batch))
    else:
        assert_close(W @ Wt, eps**2 * eye(d_out, batch))


@pytest.mark.parametrize("init", ["normal", "uniform"])
@pytest.mark.parametrize("d_out,d_in", [(6, 4), (4, 9)])
def test_random_init_frobenius_scale(init, d_out, d_in):
    """Expected ``‖W‖_F² = ε²·min(d_out, d_in)``, the orthogonal init's norm."""
    eps, B = 0.2, 4000
    W = init_weight(d_out, d_in, eps, init, seed=0, batch=(B,))
    mean_sq = W.square().sum((-2, -1)).mean().item()
    target = eps**2 * min(d_out, d_in)
    # ‖W‖² is a sum of d_out·d_in i.i.d. terms; 4000 draws give a relative standard error below 1%
    assert mean_sq == pytest.approx(target, rel=0.03)
    assert (W.abs() > 0).all()
    if init == "uniform":
        bound = eps * math.sqrt(3) * math.sqrt(min(d_out, d_in)) / math.sqrt(d_out * d_in)
        assert W.abs().max().item() <= bound


def test_init_reproducible_and_seed_dependent():
    a = init_weight(4, 4, 1.0, "normal", seed=3)
    assert torch.equal(a, init_weight(4, 4, 1.0, "normal", seed=3))
    assert not torch.equal(a, init_weight(4, 4, 1.0, "normal", seed=4))


def test_init_zero_scale():
    assert (init_weight(3, 4, 0.0, "orthogonal", seed=0) == 0).all()


def test_init_bad_input():
    with pytest.raises(ValueError, match="init must be 'orthogonal', 'normal' or 'uniform', got 'gaussian'"):
        init_weight(3, 3, 0.1, "gaussian")
    for eps in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="eps must be finite and >= 0"):
            init_weight(3, 3, eps)


# ----------------------------------------------------------------------------------------------
# DLN container, wide and narrow nets
# ----------------------------------------------------------------------------------------------


def test_wide_dln():
    net = wide_dln([4, 6, 5, 3], 0.1, seed=0, batch=(2,))
    assert net.depth == 3
    assert net.widths == [4, 6, 5, 3]
    assert net.batch_shape == (2,)
    assert [tuple(W.shape) for W in net.weights] == [(2, 6, 4), (2, 5, 6), (2, 3, 5)]
    assert net.lr_scales == [1.0, 1.0, 1.0]
    assert net.n_params == 24 + 30 + 15
    E = net.weights[2] @ net.weights[1] @ net.weights[0]
    assert_close(net.end_to_end(), E)
    c = net.clone()
    c.weights[0].add_(1.0)
    assert not torch.equal(c.weights[0], net.weights[0])  # clone is deep
    with pytest.raises(ValueError, match="at least two numbers"):
        wide_dln([4], 0.1)


def test_narrow_dln():
    net = narrow_dln(6, 5, 2, 4, 0.1, seed=0)
    assert net.widths == [5, 2, 2, 2, 6]
    assert net.depth == 4


def test_dln_shapes_must_chain():
    with pytest.raises(ValueError, match=r"factor shapes do not chain: W_2 has 5 columns but W_1 has 3 rows"):
        DLN([randn(3, 4), randn(2, 5)])
    with pytest.raises(ValueError, match="at least one factor"):
        DLN([])
    with pytest.raises(TypeError, match="name must be a string.*alpha= and gamma="):
        DLN([randn(3, 4), randn(2, 3)], [1.0])
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="alpha must be finite and > 0"):
            DLN([randn(3, 4)], alpha=bad)
    with pytest.raises(ValueError, match="gamma must be finite and >= 0"):
        DLN([randn(3, 4)], gamma=-0.5)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        DLN([randn(3, 4)], alpha="2")
    with pytest.raises(ValueError, match="must be a matrix"):
        DLN([randn(3)])


def test_n_params_excludes_frozen_factors():
    net = DLN([randn(3, 4), randn(3, 3), randn(2, 3)], gamma=0.0)
    assert net.n_params == 9


# ----------------------------------------------------------------------------------------------
# C-DLN, Algorithm 1
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [2, 3, 5])
@pytest.mark.parametrize("r_hat", [2, 4])
def test_cdln_init_is_algorithm_1(depth, r_hat):
    S = randn(7, 6, seed=1)
    eps, alpha = 0.05, 3.0
    net = cdln(S, r_hat, depth, eps, alpha)
    U, _, V = spectral_factors(S, r_hat)
    assert net.depth == depth
    assert net.widths == [6] + [r_hat] * (depth - 1) + [7]
    assert_close(net.weights[0], eps * V.T)  # W̃_1 = ε V_r̂ᵀ
    for W in net.weights[1:-1]:
        assert_close(W, eps * eye(r_hat))  # W̃_l = ε I_r̂
    assert_close(net.weights[-1], eps * U)  # W̃_L = ε U_r̂
    assert net.lr_scales == [alpha] + [1.0] * (depth - 2) + [alpha]
    # the end-to-end matrix is ε^L U_r̂ V_r̂ᵀ
    assert_close(net.end_to_end(), eps**depth * U @ V.T)


def test_cdln_from_problem_uses_its_surrogate():
    M = low_rank_target(6, 6, 2, seed=0)
    P = Completion(M, exact_count_mask(6, 6, 0.6, seed=1))
    a, b = cdln(P, 3, 3, 0.1), cdln(P.surrogate(), 3, 3, 0.1)
    for x, y in zip(a.weights, b.weights):
        assert torch.equal(x, y)


def test_cdln_unscaled_outer_factors():
    S = randn(5, 5, seed=0)
    U, _, V = spectral_factors(S, 2)
    net = cdln(S, 2, 2, 0.01, scale_outer=False)  # official code: [Vᵀ, U]
    assert_close(net.weights[0], V.T)
    assert_close(net.weights[1], U)


def test_cdln_alpha_grid_and_batched_surrogate():
    S = randn(6, 5, seed=0)
    alpha = torch.tensor([0.5, 1.0, 2.0], dtype=F64)
    net = cdln(S, 2, 3, 0.1, alpha)
    assert net.batch_shape == (3,)
    single = cdln(S, 2, 3, 0.1, 1.0)
    for Wb, W in zip(net.weights, single.weights):
        assert Wb.shape == (3,) + W.shape
        for i in range(3):
            assert torch.equal(Wb[i], W)
    assert torch.equal(net.lr_scales[0], alpha) and torch.equal(net.lr_scales[-1], alpha)
    Sb = randn(4, 6, 5, seed=1)
    netb = cdln(Sb, 2, 3, 0.1)
    assert netb.batch_shape == (4,)
    assert_close(netb.weights[0][2], cdln(Sb[2], 2, 3, 0.1).weights[0])


def test_cdln_bad_input():
    S = randn(6, 5, seed=0)
    with pytest.raises(ValueError, match=r"r_hat = 1 is below the target rank r = 2; C-DLN needs r <= r_hat <= d"):
        cdln(S, 1, 3, 0.1, r=2)
    with pytest.raises(ValueError, match=r"r_hat = 6 exceeds the dimension min\(d_out, d_in\) = 5; choose r_hat <= 5"):
        cdln(S, 6, 3, 0.1)
    with pytest.raises(ValueError, match="depth L >= 2"):
        cdln(S, 2, 1, 0.1)
    bad = S.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        cdln(bad, 2, 3, 0.1)


# ----------------------------------------------------------------------------------------------
# Law of Parsimony: invariant basis and the compressed net
# ----------------------------------------------------------------------------------------------


def _lop_setup(d=8, r=2, L=3, eps=0.1, seed=0):
    net = wide_dln([d] * (L + 1), eps, "orthogonal", seed=seed)
    Phi = low_rank_target(d, d, r, seed=seed + 100)
    return net, Phi


@pytest.mark.parametrize("r_hat", [None, 3])
def test_lop_basis_invariance(r_hat):
    d, r, L, eps = 8, 2, 3, 0.1
    net, Phi = _lop_setup(d, r, L, eps)
    B = lop_basis(net.weights, Phi, r_hat)
    m = d - 2 * (r if r_hat is None else r_hat)
    assert B.m == m and B.V12.shape == (d, m)
    assert B.eps == pytest.approx(eps, rel=1e-12)
    I_m = eye(m)
    assert_close(B.V12.T @ B.V12, I_m)
    E = net.end_to_end()
    # V_{1,2} spans (part of) the null space of [Φ; Φᵀ W_{L:1}(0)]
    assert (Phi @ B.V12).abs().max() < 1e-12
    assert (Phi.T @ E @ B.V12).abs().max() < 1e-12
    for l in range(1, L + 1):
        # W_l(0) V_{l,2} = ε U_{l,2}, V_{l+1,2} = U_{l,2}, and the U_{l,2} are orthonormal
        assert_close(net.weights[l - 1] @ B.V2(l), eps * B.U2[l - 1])
        assert_close(B.U2[l - 1].T @ B.U2[l - 1], I_m)
    # V_{1,1} ⊕ V_{1,2} is an orthonormal basis of R^d
    Q = torch.cat([B.V11, B.V12], 1)
    assert_close(Q.T @ Q, eye(d))


@pytest.mark.parametrize("depth", [2, 3])
def test_lop_compressed(depth):
    d, r, L, eps = 8, 2, depth, 0.1
    net, Phi = _lop_setup(d, r, L, eps)
    B = lop_basis(net.weights, Phi, 2)
    comp = lop_compressed(B, depth, eps, gamma=0.5)
    k = 2 * 2
    assert comp.depth == depth + 2
    assert comp.widths == [d] + [k] * (depth + 1) + [d]
    assert_close(comp.weights[0], B.V11.T)
    for W in comp.weights[1:-1]:
        assert_close(W, eps * eye(k))
    assert_close(comp.weights[-1], B.UL1)
    assert comp.lr_scales == [0.5] + [1.0] * depth + [0.5]
    # at t = 0: W_{L:1}(0) = (compressed net) + ε^L U_{L,2} V_{1,2}ᵀ (the invariant part)
    assert_close(comp.end_to_end() + eps**L * B.U2[-1] @ B.V12.T, net.end_to_end())
    assert comp.n_params == depth * k * k + 2 * d * k  # γ = 0.5: the basis factors train too
    assert lop_compressed(B, depth, eps).n_params == depth * k * k  # γ = 0: frozen bases do not count


def test_lop_basis_bad_input():
    net, Phi = _lop_setup()
    with pytest.raises(ValueError, match=r"2·r_hat = 10 exceeds d = 8"):
        lop_basis(net.weights, Phi, 5)
    with pytest.raises(ValueError, match="unbatched"):
        lop_basis([W.unsqueeze(0) for W in net.weights], Phi)
    with pytest.raises(ValueError, match=r"Phi has shape \(8, 7\) but the network maps to \(8, 8\)"):
        lop_basis(net.weights, Phi[:, :7])
    with pytest.raises(ValueError, match="only 4 exist"):
        lop_basis(net.weights, Phi, 1)  # r = 2 leaves 8 − 4 = 4 invariant directions, r_hat = 1 asks for 6


@pytest.mark.parametrize("make, err, msg", [
    (lambda: narrow_dln(5, 5, 2, depth=0, eps=0.1), ValueError, "depth must be an integer >= 1, got 0"),
    (lambda: narrow_dln(5, 5, 2, depth=-3, eps=0.1), ValueError, "depth must be an integer >= 1, got -3"),
    (lambda: wide_dln([4, 2.5, 3], 0.1), TypeError, r"widths\[1\] must be an integer"),
    (lambda: cdln(randn(4, 4), 2, 3, eps=0.0), ValueError, "eps must be finite and > 0"),
    (lambda: cdln(randn(4, 4), 2, 3, eps=-0.1), ValueError, "eps must be finite and > 0"),
    (lambda: cdln(randn(4, 4), 2, 3, eps=float("nan")), ValueError, "eps must be finite and > 0"),
    (lambda: cdln(randn(4, 4), 2, 3, eps=0.1, alpha=-1.0), ValueError, "alpha must be finite and > 0"),
    (lambda: cdln(randn(4, 4), 2, 3, eps=[0.1, 0.0]), ValueError, "eps must be finite and > 0 everywhere"),
    (lambda: cdln(randn(4, 4), 2, 1, eps=0.1), ValueError, "C-DLN needs an integer depth L >= 2"),
])
def test_network_builders_reject_bad_arguments_by_name(make, err, msg):
    with pytest.raises(err, match=msg):
        make()


def test_cdln_grid_equals_separate_nets():
    M = randn(5, 4)
    eps, alpha = [0.1, 0.2, 0.3], torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    grid = cdln(M, 2, 3, eps, alpha)
    assert grid.batch_shape == (3,) and torch.equal(grid.alpha, alpha)
    for b in range(3):
        one = cdln(M, 2, 3, eps[b], float(alpha[b]))
        for Wg, W in zip(grid.weights, one.weights):
            assert torch.equal(Wg[b], W)
