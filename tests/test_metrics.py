"""dlnlib.metrics on small hand-made data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlnlib.metrics import (alignment, compression, fit_log_linear, half_mse_masked, half_mse_unobserved, layer_features,
                            nmse, principal_angles, relative_error, separation, subspace_distance,
                            top_singular_subspace)
from dlnlib.problems import Completion, Factorisation, exact_count_mask, low_rank_target, random_orthonormal

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


# ----------------------------------------------------------------------------------------------
# Bad input: shapes that do not match, empty inputs, NaN where it has no meaning, wrong types
# ----------------------------------------------------------------------------------------------

from dlnlib.metrics import (count_above, first_crossing, max_principal_angle, polyline_distance,  # noqa: E402
                            spearman, vector_angles)

_I3 = torch.eye(3, dtype=F64)
_Z = torch.tensor([[1.0, 1.2, -1.0, -1.2]], dtype=F64)
_LAB = torch.tensor([0, 0, 1, 1])

BAD_METRICS = [
    (lambda: relative_error(torch.ones(3, 4), torch.ones(4, 3)), ValueError,
     r"W has shape \(3, 4\) but M has \(4, 3\); their trailing \(rows, cols\) must match"),
    (lambda: relative_error(torch.ones(2, 3, 3), torch.ones(4, 3, 3)), ValueError,
     r"the batch shapes of W \(2,\) and M \(4,\) do not broadcast"),
    (lambda: relative_error(torch.ones(0, 3), torch.ones(0, 3)), ValueError, r"W is empty \(shape \(0, 3\)\)"),
    (lambda: relative_error(torch.ones(3), torch.ones(3)), ValueError, r"W must be a matrix of shape \(\.\.\., rows, cols\)"),
    (lambda: relative_error(torch.ones(2, 2, dtype=torch.complex128), torch.ones(2, 2)), TypeError, r"W must be real"),
    (lambda: relative_error("W", torch.ones(2, 2)), TypeError, r"W must be a tensor or an array of numbers, got str"),
    (lambda: nmse(torch.ones(2, 2), torch.ones(2, 2), torch.zeros(2, 2)), ValueError, r"mask selects no entry"),
    (lambda: nmse(torch.ones(2, 2), torch.ones(2, 2), torch.ones(3, 3)), ValueError,
     r"mask has shape \(3, 3\) but W has \(2, 2\)"),
    (lambda: principal_angles(_I3[:, :1], torch.eye(4, dtype=F64)[:, :1]), ValueError, r"A has 3 rows but B has 4"),
    (lambda: subspace_distance(_I3[:, :2], _I3[:, :1]), ValueError, r"U_t has shape \(3, 2\) but U_next has \(3, 1\)"),
    (lambda: top_singular_subspace(_I3, 0), ValueError, r"r must be an integer in \[1, 3\], got 0"),
    (lambda: top_singular_subspace(_I3, 4), ValueError, r"r must be an integer in \[1, 3\], got 4"),
    (lambda: top_singular_subspace(_I3, 1.5), TypeError, r"r must be an integer, got float 1.5"),
    (lambda: top_singular_subspace(_I3, 1, "up"), ValueError, r"side must be 'left' or 'right', got 'up'"),
    (lambda: alignment(_I3, _I3[:2], 1), ValueError, r"W has shape \(3, 3\) but M has \(2, 3\)"),
    (lambda: alignment(_I3, _I3, 0), ValueError, r"k must be an integer in \[1, 3\], got 0"),
    (lambda: compression(_Z, torch.tensor([0, 0, 1])), ValueError, r"labels must have shape \(N,\) = \(4,\)"),
    (lambda: compression(_Z, torch.tensor([0.0, 0.0, 1.0, 1.0])), TypeError, r"labels must be integers, got dtype "
     r"torch.float32"),
    (lambda: compression(_Z, _LAB, 3), ValueError, r"classes \[2\] of K = 3 have none: class means, and so D and S, "
     r"would be NaN"),
    (lambda: compression(_Z, torch.tensor([0, 0, 0, 0])), ValueError, r"labels name only K = 1 class; D and S compare classes and need K >= 2"),
    (lambda: compression(_Z, torch.tensor([0, 0, 1, 5]), 2), ValueError, r"labels must lie in \[0, K\) = \[0, 2\), "
     r"got values from 0 to 5"),
    (lambda: compression(_Z[:, :0], _LAB[:0]), ValueError, r"Z \(features\) must be a non-empty \(d, N\) matrix"),
    (lambda: separation(_Z, _LAB, 1), ValueError, r"K \(the number of classes\) must be an integer >= 2, got 1"),
    (lambda: separation(_Z, _LAB, centred="yes"), TypeError, r"centred must be True or False, got str 'yes'"),
    (lambda: layer_features([torch.ones(2, 3)], torch.ones(4, 5)), ValueError,
     r"weights\[0\] has 3 columns but its input has 4 rows \(X\)"),
    (lambda: layer_features([torch.ones(2, 3), torch.ones(2, 3)], torch.ones(3, 5)), ValueError,
     r"weights\[1\] has 3 columns but its input has 2 rows \(weights\[0\]\)"),
    (lambda: layer_features([], torch.ones(3, 5)), ValueError, r"weights must be a non-empty list"),
    (lambda: layer_features([torch.ones(2, 3)], torch.ones(3, 5), "relu"), TypeError,
     r"activation must be a function \(e.g. torch.relu\) or None, got str"),
    (lambda: fit_log_linear([1.0]), ValueError, r"values must have at least 2 entries"),
    (lambda: fit_log_linear([1.0, 0.0, 2.0]), ValueError, r"values must be > 0 \(their logarithm is fitted\), got \[0.0\]"),
    (lambda: fit_log_linear([1.0, float("nan")]), ValueError, r"values must be finite, got \[nan\]"),
    (lambda: first_crossing(np.array([1.0, 2.0]), np.array([0.0, np.nan]), 1.5), ValueError, r"x must be finite"),
    (lambda: first_crossing(np.array([1.0, 2.0]), np.array([0.0, 1.0]), float("nan")), ValueError,
     r"level must not be NaN"),
    (lambda: first_crossing(np.zeros(0), np.zeros(0), 1.0), ValueError, r"values has no records"),
    (lambda: first_crossing(np.ones((2, 3)), np.arange(2), np.ones(2)), ValueError,
     r"level has 2 entries but values have 3 column\(s\)"),
    (lambda: first_crossing(np.ones(2), np.arange(2), 1.0, below=1), TypeError, r"below must be True or False, got int 1"),
    (lambda: first_crossing(np.ones(3), np.arange(2), 1.0), ValueError, r"x has shape \(2,\) but values have 3 records"),
    (lambda: vector_angles(np.eye(2), np.eye(3)), ValueError, r"a has shape \(2, 2\) but b has \(3, 3\)"),
    (lambda: max_principal_angle(np.eye(3)[:, :1], np.eye(2)[:, :1]), ValueError,
     r"A has shape \(3, 1\) and B \(2, 1\): they need the same number n >= 1 of rows"),
    (lambda: spearman([1, 2, 3], [1, 2]), ValueError, r"x has 3 values but y has 2"),
    (lambda: spearman([1.0], [2.0]), ValueError, r"x must have at least 2 entries"),
    (lambda: spearman([1.0, float("nan")], [1.0, 2.0]), ValueError, r"x must be finite"),
    (lambda: polyline_distance(np.zeros((2, 3)), np.zeros((2, 4))), ValueError,
     r"points have shape \(2, 3\) and path \(2, 4\)"),
    (lambda: polyline_distance(np.zeros((0, 3)), np.zeros((2, 3))), ValueError, r"points must have at least 1 entry"),
    (lambda: count_above(np.array([3.0, 1.0]), float("nan")), ValueError, r"threshold must be a finite number"),
    (lambda: count_above(np.array([3.0, np.nan]), 1.0), ValueError, r"values must be finite, got \[nan\]"),
]


@pytest.mark.parametrize("call,err,msg", BAD_METRICS)
def test_metrics_reject_bad_input_by_name(call, err, msg):
    with pytest.raises(err, match=msg):
        call()


def test_metrics_accept_what_they_did():
    # NaN in W (a diverged run) propagates; batch shapes broadcast; numpy and int inputs are converted
    W = torch.tensor([[float("nan"), 0.0], [0.0, 1.0]], dtype=F64)
    assert math.isnan(float(relative_error(W, torch.eye(2, dtype=F64))))
    assert relative_error(torch.zeros(3, 2, 2, dtype=F64), torch.eye(2, dtype=F64)).shape == (3,)
    assert float(relative_error(np.zeros((2, 2)), np.eye(2))) == 1.0
    assert float(relative_error(torch.zeros(2, 2, dtype=torch.int64), torch.eye(2, dtype=torch.int64))) == 1.0
    # first_crossing: NaN values never count (documented), a (K, 0) array gives an empty result
    assert first_crossing(np.array([np.nan, 2.0]), np.arange(2), 1.0) == 1.0
    assert first_crossing(np.ones((3, 0)), np.arange(3), 1.0).shape == (0,)
    assert first_crossing(np.array([0.0, 2.0]), np.arange(2), np.array([1.0])) == 1.0
    # compression with NumPy labels and an explicit K
    assert float(compression(_Z, np.array([0, 0, 1, 1]), 2)) == pytest.approx(0.008264, abs=1e-6)


# ----------------------------------------------------------------------------------------------
# The official codes' completion test losses (issue 14, item 3; conventions §8)
# ----------------------------------------------------------------------------------------------


def test_completion_test_losses_by_hand():
    M = torch.zeros(3, 4, dtype=F64)
    mask = torch.zeros(3, 4, dtype=F64)
    mask[0, :] = 1.0                                   # Ω: the first row; 8 unobserved entries
    W = torch.arange(12, dtype=F64).reshape(3, 4)
    P = Completion(M, mask)
    sse = float((W[1:] ** 2).sum())                    # only the unobserved rows count
    assert float(P.test_error(W)) == pytest.approx(sse / 8, rel=1e-15)                # mean, no ½
    assert float(half_mse_unobserved(W, P)) == pytest.approx(0.5 * sse / 8, rel=1e-15)   # [K]: ½·mean over Ωᶜ
    assert float(half_mse_masked(W, P)) == pytest.approx(0.5 * sse / 12, rel=1e-15)      # [Y]: ½·Σ_Ωᶜ / d_out·d_in
    # the observed entries do not enter
    W2 = W.clone()
    W2[0] += 100.0
    assert float(half_mse_unobserved(W2, P)) == float(half_mse_unobserved(W, P))
    assert float(half_mse_masked(W2, P)) == float(half_mse_masked(W, P))


def test_completion_test_losses_relations_batched():
    M = low_rank_target(10, 10, 2, seed=0)
    masks = exact_count_mask(10, 10, 0.3, seed=1, batch=(3,))        # 30 observed, 70 unobserved each
    P = Completion(M, masks)
    W = M + 0.1 * torch.randn(3, 10, 10, generator=torch.Generator().manual_seed(2), dtype=F64)
    k, y = half_mse_unobserved(W, P), half_mse_masked(W, P)
    assert k.shape == y.shape == (3,)
    assert torch.allclose(k, 0.5 * P.test_error(W), rtol=1e-14, atol=0)
    assert torch.allclose(y, k * 70 / 100, rtol=1e-14, atol=0)        # |Ωᶜ|/d² × [K]'s value
    # the mask's own normalisation ("observed", "mean", "sum") does not change a test loss
    for norm in ("mean", "sum"):
        assert torch.equal(half_mse_masked(W, Completion(M, masks, norm)), y)
    # a full mask: nothing unobserved, both are 0
    full = Completion(M, torch.ones(10, 10, dtype=F64))
    assert float(half_mse_unobserved(M + 1, full)) == 0.0 == float(half_mse_masked(M + 1, full))


def test_completion_test_losses_bad_input():
    P = Completion(torch.zeros(3, 4, dtype=F64), torch.ones(3, 4, dtype=F64))
    with pytest.raises(TypeError, match="problem must be a dlnlib Completion .* got Factorisation"):
        half_mse_unobserved(torch.zeros(3, 4, dtype=F64), Factorisation(torch.zeros(3, 4, dtype=F64)))
    with pytest.raises(TypeError, match="problem must be a dlnlib Completion"):
        half_mse_masked(torch.zeros(3, 4, dtype=F64), None)
    with pytest.raises(ValueError, match=r"W has shape \(4, 3\) but problem.target has \(3, 4\)"):
        half_mse_masked(torch.zeros(4, 3, dtype=F64), P)


def test_angles_take_lists_as_well_as_arrays():
    """The checked inputs are what is computed on: plain lists work (they raised AttributeError/TypeError)."""
    from dlnlib.metrics import max_principal_angle, vector_angles

    assert float(vector_angles([1.0, 0.0], [0.0, 1.0])) == pytest.approx(np.pi / 2)
    assert max_principal_angle([[1.0], [0.0]], [[0.0], [1.0]]) == pytest.approx(np.pi / 2)
