"""dlnlib.metrics on small hand-made data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlnlib.metrics import (alignment, compression, fit_log_linear, layer_features, nmse, principal_angles,
                            relative_error, separation, subspace_distance, top_singular_subspace)
from dlnlib.problems import low_rank_target, random_orthonormal

F64 = torch.float64


def rot(theta):
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[c, -s], [s, c]], dtype=F64)


def test_relative_error_and_nmse():
    M = torch.tensor([[3.0, 0.0], [0.0, 4.0]], dtype=F64)
    W = torch.tensor([[3.0, 1.0], [0.0, 4.0]], dtype=F64)
    assert float(relative_error(W, M)) == pytest.approx(1 / 5)
    assert float(nmse(W, M)) == pytest.approx(1 / 4)
    mask = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=F64)
    assert float(nmse(W, M, mask)) == pytest.approx(1 / 2)
    assert relative_error(torch.stack([W, M]), M).tolist() == pytest.approx([0.2, 0.0])


def test_principal_angles_by_hand():
    # span{e1, e2} vs span{e1, cos θ e2 + sin θ e3}: angles 0 and θ
    th = 0.3
    A = torch.eye(3, dtype=F64)[:, :2]
    B = torch.tensor([[1.0, 0.0], [0.0, math.cos(th)], [0.0, math.sin(th)]], dtype=F64)
    ang = principal_angles(A, B)
    assert ang.tolist() == pytest.approx([0.0, th], abs=1e-7)
    assert torch.all(ang[1:] >= ang[:-1])


def test_subspace_distance_is_sum_of_squared_sines():
    th = [0.2, 0.9]
    A = torch.eye(4, dtype=F64)[:, :2]
    B = torch.zeros(4, 2, dtype=F64)
    B[0, 0], B[2, 0] = math.cos(th[0]), math.sin(th[0])
    B[1, 1], B[3, 1] = math.cos(th[1]), math.sin(th[1])
    assert float(subspace_distance(A, B)) == pytest.approx(sum(math.sin(t) ** 2 for t in th), abs=1e-14)
    # random subspaces, batched: r − ‖AᵀB‖² = Σ sin² θ_i, within [0, r]
    U = random_orthonormal(7, 3, seed=0, batch=(5,))
    V = random_orthonormal(7, 3, seed=1, batch=(5,))
    dist = subspace_distance(U, V)
    assert dist.shape == (5,)
    ref = torch.sin(principal_angles(U, V)).square().sum(-1)
    assert torch.allclose(dist, ref, atol=1e-12, rtol=0)
    assert bool(((dist >= 0) & (dist <= 3)).all())
    # invariant to the choice of basis within a subspace, zero for the same subspace
    Q = random_orthonormal(3, 3, seed=2)
    assert float(subspace_distance(U[0], U[0] @ Q)) == pytest.approx(0.0, abs=1e-12)


def test_top_singular_subspace_and_alignment():
    M = low_rank_target(6, 5, 2, [3.0, 1.0], seed=0)
    U = top_singular_subspace(M, 2)
    V = top_singular_subspace(M, 2, "right")
    assert U.shape == (6, 2) and V.shape == (5, 2)
    assert torch.allclose(U @ U.T @ M, M, atol=1e-12)
    assert torch.allclose(M @ V @ V.T, M, atol=1e-12)
    cu, cv = alignment(2 * M, M, 2)
    assert torch.allclose(cu, torch.ones(2, dtype=F64)) and torch.allclose(cv, torch.ones(2, dtype=F64))
    # swapping the two singular directions: zero alignment
    Us, s, Vh = torch.linalg.svd(M)
    Wsw = 1.0 * torch.outer(Us[:, 0], Vh[0]) + 3.0 * torch.outer(Us[:, 1], Vh[1])
    cu, cv = alignment(Wsw, M, 2)
    assert cu.abs().max() < 1e-12 and cv.abs().max() < 1e-12


def test_compression_by_hand():
    # 2-D features, classes of sizes 2 and 3 (unequal); means μ0 = (1, 0), μ1 = (−1, 2)
    Z = torch.tensor([[1.5, 0.5, -1.0, -1.0, -1.0],
                      [0.0, 0.0, 1.0, 2.0, 3.0]], dtype=F64)
    labels = torch.tensor([0, 0, 1, 1, 1])
    within = (0.25 + 0.25 + 1.0 + 0.0 + 1.0) / 5  # mean squared distance to the own class mean
    # between: class means centred at their average (0, 1): (1, −1) and (−1, 1), averaged over K = 2
    between = (2.0 + 2.0) / 2
    assert float(compression(Z, labels)) == pytest.approx(within / between, rel=1e-14)
    # perfectly collapsed classes: D = 0
    Zc = torch.tensor([[1.0, 1.0, -1.0, -1.0]], dtype=F64)
    assert float(compression(Zc, torch.tensor([0, 0, 1, 1]))) == 0.0
    # invariance to a global scale and a global shift
    assert float(compression(3 * Z + 1, labels)) == pytest.approx(within / between, rel=1e-12)


def test_separation_by_hand():
    labels = torch.tensor([0, 0, 1, 1])
    # orthogonal class means: S = 1 − 0 = 1
    Z = torch.tensor([[1.0, 3.0, 0.0, 0.0], [0.0, 0.0, 2.0, 2.0]], dtype=F64)
    assert float(separation(Z, labels)) == pytest.approx(1.0, abs=1e-15)
    # means at 60°: S = 1 − cos 60° = 0.5
    Z = torch.tensor([[1.0, 1.0, 0.5, 0.5], [0.0, 0.0, math.sqrt(3) / 2, math.sqrt(3) / 2]], dtype=F64)
    assert float(separation(Z, labels)) == pytest.approx(0.5, abs=1e-14)
    # opposite means: un-centred S = 1 − (−1) = 2; centred with |cos|: 1 − 1 = 0
    Z = torch.tensor([[1.0, 1.0, -1.0, -1.0]], dtype=F64)
    assert float(separation(Z, labels)) == pytest.approx(2.0)
    assert float(separation(Z, labels, centred=True)) == pytest.approx(0.0, abs=1e-15)
    # three classes: the worst pair decides
    Z3 = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=F64)
    assert float(separation(Z3, torch.tensor([0, 1, 2]))) == pytest.approx(1 - 1 / math.sqrt(2), abs=1e-14)


def test_layer_features():
    W1 = torch.tensor([[1.0, -1.0], [2.0, 0.0], [0.0, 1.0]], dtype=F64)
    W2 = torch.tensor([[1.0, 1.0, -1.0]], dtype=F64)
    X = torch.tensor([[1.0, -2.0], [3.0, 1.0]], dtype=F64)
    Z = layer_features([W1, W2], X)
    assert len(Z) == 3 and torch.equal(Z[0], X)
    assert torch.allclose(Z[2], W2 @ W1 @ X)
    Zr = layer_features([W1, W2], X, torch.relu)
    assert torch.allclose(Zr[1], torch.relu(W1 @ X))
    assert torch.allclose(Zr[2], W2 @ torch.relu(W1 @ X))  # no activation after the last layer


def test_fit_log_linear_exact_on_geometric_data():
    vals = 3.0 * 0.5 ** np.arange(6)
    b, a, r2 = fit_log_linear(vals)
    assert b == pytest.approx(math.log(0.5), abs=1e-12)
    assert a == pytest.approx(math.log(3.0), abs=1e-12)
    assert r2 == pytest.approx(1.0, abs=1e-12)
    assert math.exp(b) == pytest.approx(0.5, abs=1e-12)
    b, a, r2 = fit_log_linear([2.0, 2.0, 2.0])  # constant: slope 0, R² defined as 1
    assert b == pytest.approx(0.0, abs=1e-12) and r2 == 1.0
    _, _, r2 = fit_log_linear([1.0, 0.1, 1.0, 0.1])
    assert r2 < 0.5
