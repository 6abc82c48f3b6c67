"""dlnlib.problems: every loss_grad against autograd, batching, surrogates, whitening, targets, masks, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlnlib._util import default_device
from dlnlib.problems import (Completion, Factorisation, Regression, Sensing, bernoulli_mask, exact_count_mask, rescale_step,
                             kwon_target, low_rank_target, random_orthonormal, sensing, spectral_factors,
                             truncated_gaussian_target, whiten)

F64 = torch.float64
DEV = default_device()


def randn(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=F64).to(DEV)


def autograd_grad(problem, W):
    """``∂ Σ_batch loss / ∂W`` by autograd through the problem's own loss."""
    W = W.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(problem.loss(W).sum(), W)
    return g


def assert_close(a, b, tol=1e-12):
    a, b = torch.as_tensor(a, dtype=F64).cpu(), torch.as_tensor(b, dtype=F64).cpu()
    assert a.shape == b.shape, (a.shape, b.shape)
    err = (a - b).abs().max().item() if a.numel() else 0.0
    assert err <= tol * max(1.0, b.abs().max().item()), err


# ----------------------------------------------------------------------------------------------
# Problems: loss against the definition, gradient against autograd
# ----------------------------------------------------------------------------------------------

D_OUT, D_IN = 5, 4


def _factorisation(norm):
    return Factorisation(randn(D_OUT, D_IN, seed=1), norm)


def _completion(norm):
    M = randn(D_OUT, D_IN, seed=1)
    return Completion(M, exact_count_mask(D_OUT, D_IN, 0.5, seed=2), norm)


def _sensing(norm, scale="paper"):
    return sensing(randn(D_OUT, D_IN, seed=1), 7, seed=3, scale=scale, normalisation=norm)


def _regression(norm):
    return Regression(randn(D_IN, 9, seed=4), randn(D_OUT, 9, seed=5), norm)


def reference_loss(P, W):
    """The loss written from its definition ``(c/2)‖residual‖²`` with ``c`` from the normalisation name."""
    if isinstance(P, Factorisation):
        R = W - P.target
        c = {"sum": 1.0, "mean": 1.0 / R.numel()}[P.normalisation]
    elif isinstance(P, Completion):
        R = P.mask * (W - P.target)
        c = {"sum": 1.0, "mean": 1.0 / R.numel(), "observed": 1.0 / P.mask.sum().item()}[P.normalisation]
    elif isinstance(P, Sensing):
        R = torch.stack([(A * W).sum() - (A * P.target).sum() for A in P.A])
        c = {"sum": 1.0, "mean": 1.0 / P.A.shape[0]}[P.normalisation]
    else:
        R = W @ P.X - P.Y
        c = {"sum": 1.0, "mean": 1.0 / P.Y.numel()}[P.normalisation]
    return 0.5 * c * R.square().sum(), c


CASES = [
    ("factorisation-sum", lambda: _factorisation("sum")),
    ("factorisation-mean", lambda: _factorisation("mean")),
    ("completion-observed", lambda: _completion("observed")),
    ("completion-mean", lambda: _completion("mean")),
    ("completion-sum", lambda: _completion("sum")),
    ("sensing-paper-sum", lambda: _sensing("sum")),
    ("sensing-paper-mean", lambda: _sensing("mean")),
    ("sensing-official-sum", lambda: _sensing("sum", "official")),
    ("sensing-official-mean", lambda: _sensing("mean", "official")),
    ("regression-sum", lambda: _regression("sum")),
    ("regression-mean", lambda: _regression("mean")),
]


@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
def test_loss_grad_matches_definition_and_autograd(name, make):
    P = make()
    assert P.shape == (D_OUT, D_IN)
    W = randn(D_OUT, D_IN, seed=10)
    loss, G = P.loss_grad(W)
    ref, c = reference_loss(P, W)
    assert loss.shape == ()
    assert_close(loss, ref)
    assert float(P.loss_scale) == pytest.approx(c, rel=1e-15)
    assert_close(G, autograd_grad(P, W))
    # the gradient of the reference loss too (not only of the implementation's own formula)
    Wr = W.clone().requires_grad_(True)
    (g_ref,) = torch.autograd.grad(reference_loss(P, Wr)[0], Wr)
    assert_close(G, g_ref)


@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
def test_loss_scale_is_the_normalisation_constant(name, make):
    """A normalised loss is ``c`` times the ``½‖·‖²`` loss of the same problem."""
    P = make()
    if P.normalisation == "sum":
        assert P.loss_scale == 1.0
        return
    if isinstance(P, Completion):
        S = Completion(P.target, P.mask, "sum")
    elif isinstance(P, Sensing):
        S = Sensing(P.A, P.target, "sum")
    elif isinstance(P, Regression):
        S = Regression(P.X, P.Y, "sum")
    else:
        S = Factorisation(P.target, "sum")
    W = randn(D_OUT, D_IN, seed=11)
    assert_close(P.loss(W), float(P.loss_scale) * S.loss(W))
    assert_close(P.loss_grad(W)[1], float(P.loss_scale) * S.loss_grad(W)[1])


def test_sensing_scales():
    M = randn(6, 5, seed=0)
    paper = sensing(M, 400, seed=7)
    official = sensing(M, 400, seed=7, scale="official")
    assert_close(official.A, paper.A / 400)
    assert abs(paper.A.std().item() - 1.0) < 0.02  # N(0, 1) entries
    assert_close(paper.y, torch.einsum("mij,ij->m", paper.A, M))
    assert_close(paper.measure(M), paper.y)
    z = randn(400, seed=8)
    # adjoint: <A(W), z> = <W, A†(z)>
    W = randn(6, 5, seed=9)
    assert_close((paper.measure(W) * z).sum(), (W * paper.adjoint(z)).sum())
    assert paper.m == 400


# ----------------------------------------------------------------------------------------------
# Batching: a batch of problems equals the problems one by one
# ----------------------------------------------------------------------------------------------


def _check_batched(Pb, singles, W):
    loss, G = Pb.loss_grad(W)
    assert loss.shape == W.shape[:-2]
    for i, P in enumerate(singles):
        li, Gi = P.loss_grad(W[i])
        assert_close(loss[i], li)
        assert_close(G[i], Gi)
    assert_close(G, autograd_grad(Pb, W))


@pytest.mark.parametrize("norm", ["sum", "mean"])
def test_batched_factorisation(norm):
    M = randn(3, 4, 5, seed=0)
    _check_batched(Factorisation(M, norm), [Factorisation(M[i], norm) for i in range(3)], randn(3, 4, 5, seed=1))


@pytest.mark.parametrize("norm", ["observed", "mean", "sum"])
def test_batched_completion_with_per_member_masks(norm):
    M = randn(3, 4, 5, seed=0)
    mask = torch.stack([exact_count_mask(4, 5, p, seed=i) for i, p in enumerate([0.3, 0.5, 0.8])]).to(DEV)
    Pb = Completion(M, mask, norm)
    singles = [Completion(M[i], mask[i], norm) for i in range(3)]
    _check_batched(Pb, singles, randn(3, 4, 5, seed=1))
    assert_close(Pb.surrogate(), torch.stack([P.surrogate() for P in singles]))
    assert_close(Pb.test_error(M + 1.0), torch.ones(3, dtype=F64))


def test_batched_completion_shared_mask_and_batched_w():
    """One problem, a batch of end-to-end matrices (e.g. a seed sweep of the network on one instance)."""
    P = _completion("observed")
    W = randn(2, 3, D_OUT, D_IN, seed=4)
    loss, G = P.loss_grad(W)
    assert loss.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            li, Gi = P.loss_grad(W[i, j])
            assert_close(loss[i, j], li)
            assert_close(G[i, j], Gi)


@pytest.mark.parametrize("norm", ["sum", "mean"])
def test_batched_sensing_shared_measurements(norm):
    M = randn(3, 4, 5, seed=0)
    Pb = sensing(M, 6, seed=2, normalisation=norm)
    assert Pb.y.shape == (3, 6)
    singles = [Sensing(Pb.A, M[i], norm) for i in range(3)]
    _check_batched(Pb, singles, randn(3, 4, 5, seed=1))
    assert_close(Pb.surrogate(), torch.stack([P.surrogate() for P in singles]))


@pytest.mark.parametrize("norm", ["sum", "mean"])
def test_batched_regression(norm):
    X, Y = randn(5, 8, seed=0), randn(3, 4, 8, seed=1)
    _check_batched(Regression(X, Y, norm), [Regression(X, Y[i], norm) for i in range(3)], randn(3, 4, 5, seed=2))


# ----------------------------------------------------------------------------------------------
# Surrogates
# ----------------------------------------------------------------------------------------------


def test_surrogates():
    M = randn(5, 4, seed=0)
    assert_close(Factorisation(M).surrogate(), M)

    mask = exact_count_mask(5, 4, 0.5, seed=1)
    S = Completion(M, mask).surrogate()  # P_Ω(M*)/|Ω|
    assert_close(S, torch.where(mask.bool(), M, torch.zeros_like(M)) / 10)

    P = sensing(M, 9, seed=2)  # (1/m) Σ y_i A_i
    assert_close(P.surrogate(), sum(P.y[i] * P.A[i] for i in range(9)) / 9)

    X, Y = randn(4, 7, seed=3), randn(5, 7, seed=4)
    assert_close(Regression(X, Y).surrogate(), Y @ X.T)


def test_surrogate_does_not_depend_on_normalisation():
    M = randn(5, 4, seed=0)
    mask = exact_count_mask(5, 4, 0.5, seed=1)
    assert_close(Completion(M, mask, "sum").surrogate(), Completion(M, mask, "observed").surrogate())


def test_regression_with_whitened_data_is_factorisation_of_phi():
    """With ``XXᵀ = I``: ``½‖WX − Y‖² = ½‖W − Φ‖² + const`` and the gradients agree (conventions §1.1)."""
    Xw, _ = whiten(randn(4, 30, seed=0))
    Y = randn(3, 30, seed=1)
    R = Regression(Xw, Y)
    F = Factorisation(R.surrogate())
    W1, W2 = randn(3, 4, seed=2), randn(3, 4, seed=3)
    assert_close(R.loss(W1) - F.loss(W1), R.loss(W2) - F.loss(W2), 1e-10)
    assert_close(R.loss_grad(W1)[1], F.loss_grad(W1)[1], 1e-10)


# ----------------------------------------------------------------------------------------------
# Whitening
# ----------------------------------------------------------------------------------------------


def test_whiten():
    X = randn(4, 12, seed=0) * torch.tensor([[1.0], [10.0], [0.1], [3.0]], dtype=F64, device=DEV)
    Xw, P = whiten(X)
    assert_close(Xw @ Xw.T, torch.eye(4, dtype=F64), 1e-10)
    assert_close(Xw, P @ X)
    assert_close(P, P.T)
    # P = (XXᵀ)^{-1/2}: P (XXᵀ) P = I
    assert_close(P @ (X @ X.T) @ P, torch.eye(4, dtype=F64), 1e-10)


def test_whiten_bad_input():
    with pytest.raises(ValueError, match="at least as many samples"):
        whiten(randn(5, 3))
    X = randn(3, 10)
    X[2] = X[0] + X[1]  # rank-deficient
    with pytest.raises(ValueError, match="singular.*eps > 0"):
        whiten(X)
    Xw, _ = whiten(X, eps=1e-3)  # regularised whitening works
    assert torch.isfinite(Xw).all()


# ----------------------------------------------------------------------------------------------
# Targets
# ----------------------------------------------------------------------------------------------


def test_random_orthonormal():
    Q = random_orthonormal(6, 3, seed=0, batch=(2,))
    assert Q.shape == (2, 6, 3)
    assert_close(Q.transpose(-1, -2) @ Q, torch.eye(3, dtype=F64).expand(2, 3, 3))
    assert_close(Q, random_orthonormal(6, 3, seed=0, batch=(2,)), 0)


def test_low_rank_target_rank_and_singular_values():
    M = low_rank_target(7, 5, 3, [1.0, 4.0, 2.0], seed=0)
    s = torch.linalg.svdvals(M)
    assert_close(s, torch.tensor([4.0, 2.0, 1.0, 0.0, 0.0], dtype=F64))
    assert int(torch.linalg.matrix_rank(M)) == 3
    # default singular values r, r-1, ..., 1
    assert_close(torch.linalg.svdvals(low_rank_target(6, 6, 3, seed=1))[:3], torch.tensor([3.0, 2.0, 1.0], dtype=F64))
    # batch: every member has the spectrum, members differ
    Mb = low_rank_target(6, 6, 2, [2.0, 1.0], seed=2, batch=(3,))
    assert Mb.shape == (3, 6, 6)
    assert_close(torch.linalg.svdvals(Mb)[:, :3], torch.tensor([[2.0, 1.0, 0.0]] * 3, dtype=F64))
    assert (Mb[0] - Mb[1]).abs().max() > 0.1
    # reproducible from the seed
    assert torch.equal(low_rank_target(6, 6, 2, seed=5), low_rank_target(6, 6, 2, seed=5))


def test_kwon_target_index_rule():
    """``M* = Σ_k s_{j_k} u_{j_k} v_{j_k}ᵀ`` with ``j_k = floor(k·d/(2r))`` from the SVD of a seeded Gaussian."""
    d, r, seed = 12, 3, 4
    M = kwon_target(d, r, seed=seed)
    G = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=F64)
    U, s, Vh = torch.linalg.svd(G)
    idx = [math.floor(k * d / (2 * r)) for k in range(r)]
    assert idx == [0, 2, 4]
    assert_close(M, sum(s[j] * torch.outer(U[:, j], Vh[j]) for j in idx), 1e-12)
    assert_close(torch.linalg.svdvals(M)[:r], s[idx], 1e-12)
    assert int(torch.linalg.matrix_rank(M)) == r


def test_truncated_gaussian_target():
    d_out, d_in, r, seed = 6, 8, 2, 3
    M = truncated_gaussian_target(d_out, d_in, r, seed=seed).cpu()
    G = torch.randn(d_out, d_in, generator=torch.Generator().manual_seed(seed), dtype=F64)
    s = torch.linalg.svdvals(G)
    assert int(torch.linalg.matrix_rank(M)) == r
    assert_close(torch.linalg.svdvals(M)[:r], s[:r])
    # best rank-r approximation (Eckart–Young): the error is the tail of the spectrum
    assert torch.linalg.matrix_norm(G - M).item() == pytest.approx(s[r:].square().sum().sqrt().item(), rel=1e-12)


def test_spectral_factors_completion_above_rank():
    M = low_rank_target(6, 5, 2, seed=0)
    U, s, V = spectral_factors(M, 4)
    assert U.shape == (6, 4) and s.shape == (4,) and V.shape == (5, 4)
    assert_close(U.T @ U, torch.eye(4, dtype=F64))
    assert_close(V.T @ V, torch.eye(4, dtype=F64))
    assert_close((U[:, :2] * s[:2]) @ V[:, :2].T, M)


# ----------------------------------------------------------------------------------------------
# Masks
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d_out,d_in,p", [(10, 10, 0.25), (7, 9, 0.5), (20, 20, 0.125), (4, 4, 1.0),
                                           (10, 10, 0.57), (10, 10, 0.29), (20, 20, 0.58)])
def test_exact_count_mask(d_out, d_in, p):
    m = exact_count_mask(d_out, d_in, p, seed=0, batch=(3,))
    assert m.shape == (3, d_out, d_in)
    assert ((m == 0) | (m == 1)).all()
    k = {0.57: 57, 0.29: 29, 0.58: 232}.get(p, math.floor(p * d_out * d_in))  # float p·n is 56.99…, 28.99…, 231.99…
    assert m.sum((-2, -1)).tolist() == [k] * 3
    if p < 1:
        assert not torch.equal(m[0], m[1])  # independent draws per member
    assert torch.equal(exact_count_mask(d_out, d_in, p, seed=0), exact_count_mask(d_out, d_in, p, seed=0))


def test_bernoulli_mask_frequency():
    p, n = 0.3, 4 * 100 * 100
    m = bernoulli_mask(100, 100, p, seed=0, batch=(4,))
    assert m.shape == (4, 100, 100)
    assert ((m == 0) | (m == 1)).all()
    assert abs(m.mean().item() - p) < 4 * math.sqrt(p * (1 - p) / n)
    assert not torch.equal(m[0], m[1])


@pytest.mark.parametrize("fn", [bernoulli_mask, exact_count_mask])
@pytest.mark.parametrize("p", [0.0, -0.1, 1.5])
def test_mask_bad_probability(fn, p):
    with pytest.raises(ValueError, match=r"must be in \(0, 1\]"):
        fn(4, 4, p)


def test_exact_count_mask_observing_nothing():
    with pytest.raises(ValueError, match="observes no entry.*raise p"):
        exact_count_mask(3, 3, 0.1)


# ----------------------------------------------------------------------------------------------
# Bad input: each error says what to change
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: low_rank_target(4, 3, 4),
    lambda: kwon_target(4, 5),
    lambda: truncated_gaussian_target(5, 3, 4),
    lambda: spectral_factors(torch.zeros(3, 4, dtype=F64), 4),
])
def test_rank_above_dimension(make):
    with pytest.raises(ValueError, match=r"exceeds the dimension min\(d_out, d_in\) = \d+; choose .* <= \d+"):
        make()


@pytest.mark.parametrize("r", [0, -1, 2.0])
def test_rank_not_positive_integer(r):
    with pytest.raises(ValueError, match="must be a positive integer"):
        low_rank_target(4, 4, r)


def test_low_rank_target_bad_singular_values():
    with pytest.raises(ValueError, match="has 2 entries but the rank r = 3"):
        low_rank_target(5, 5, 3, [1.0, 2.0])
    with pytest.raises(ValueError, match="finite and non-negative"):
        low_rank_target(5, 5, 2, [1.0, -2.0])
    with pytest.raises(ValueError, match="finite and non-negative"):
        low_rank_target(5, 5, 2, [1.0, float("nan")])


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_target(bad):
    M = randn(4, 4)
    M[1, 2] = bad
    mask = torch.ones(4, 4, dtype=F64)
    for make in (lambda: Factorisation(M), lambda: Completion(M, mask), lambda: sensing(M, 3, seed=0),
                 lambda: Regression(randn(4, 6), torch.cat([M, M[:, :2]], 1))):
        with pytest.raises(ValueError, match="NaN or Inf.*(pass a finite tensor|at observed entries)"):
            make()


def test_completion_mask_errors():
    M = randn(4, 5)
    with pytest.raises(ValueError, match=r"observes no entry.*raise the sampling probability p"):
        Completion(M, torch.zeros(4, 5, dtype=F64))
    batch_mask = torch.ones(2, 4, 5, dtype=F64)
    batch_mask[1] = 0  # one member of a batch sees nothing
    with pytest.raises(ValueError, match="observes no entry"):
        Completion(torch.stack([M, M]), batch_mask)
    with pytest.raises(ValueError, match=r"mask shape \(5, 4\) does not match target shape \(4, 5\)"):
        Completion(M, torch.ones(5, 4, dtype=F64))
    with pytest.raises(ValueError, match="only 0 and 1"):
        Completion(M, torch.full((4, 5), 0.5, dtype=F64))
    with pytest.raises(ValueError, match="must be a matrix"):
        Completion(M, torch.ones(5, dtype=F64))


def test_completion_accepts_bool_mask():
    M = randn(4, 5)
    mask = exact_count_mask(4, 5, 0.5, seed=0)
    P = Completion(M, mask.bool())
    assert P.mask.dtype == F64
    assert int(P.n_observed) == 10


def test_sensing_bad_input():
    M = randn(4, 5)
    with pytest.raises(ValueError, match=r"A must have shape \(m, d_out, d_in\) = \(m, 4, 5\), got \(3, 5, 4\)"):
        Sensing(randn(3, 5, 4), M)
    with pytest.raises(ValueError, match=r"A must have shape"):
        Sensing(randn(20, 3), M)
    with pytest.raises(ValueError, match="measurements m must be >= 1"):
        sensing(M, 0)
    with pytest.raises(ValueError, match="scale must be 'paper' or 'official'"):
        sensing(M, 3, scale="Official")


def test_regression_sample_mismatch():
    with pytest.raises(ValueError, match="X has 6 samples .* but Y has 7"):
        Regression(randn(3, 6), randn(2, 7))


@pytest.mark.parametrize("make,allowed", [
    (lambda n: Factorisation(randn(3, 3), n), "['mean', 'sum']"),
    (lambda n: Completion(randn(3, 3), torch.ones(3, 3, dtype=F64), n), "['mean', 'sum']"),
    (lambda n: sensing(randn(3, 3), 4, normalisation=n), "['mean', 'sum']"),
    (lambda n: Regression(randn(3, 5), randn(2, 5), n), "['mean', 'sum']"),
])
@pytest.mark.parametrize("name", ["avg", "Mean"])
def test_bad_normalisation_name(make, allowed, name):
    with pytest.raises(ValueError, match=rf"normalisation '{name}' is not defined .*choose one of " + r"\['mean', 'sum'\]"):
        make(name)


@pytest.mark.parametrize("make", [lambda: Factorisation(randn(3, 3), "observed"),
                                  lambda: sensing(randn(3, 3), 4, normalisation="observed")])
def test_observed_normalisation_is_completion_only(make):
    with pytest.raises(ValueError, match="'observed' is not defined"):
        make()


def test_end_to_end_shape_check():
    P = Factorisation(randn(3, 4))
    P.check_end_to_end(randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"trailing shape \(3, 4\)"):
        P.check_end_to_end(randn(4, 3))


def test_completion_nan_marks_missing_entries():
    M = randn(4, 5)
    ratings = M.clone()
    ratings[0, 1] = ratings[2, 3] = float("nan")
    P = Completion.from_matrix(ratings)
    assert P.mask.sum() == 18 and P.mask[0, 1] == 0 and P.mask[2, 3] == 0
    assert torch.isfinite(P.target).all()
    mask = (~torch.isnan(ratings)).to(F64)
    assert torch.equal(Completion(ratings, mask).target, P.target)  # NaN where the mask is 0 is accepted
    with pytest.raises(ValueError, match="NaN or Inf at observed entries"):
        Completion(ratings, torch.ones_like(M))


@pytest.mark.parametrize("make, err, msg", [
    (lambda: Factorisation(torch.ones(3, 3, dtype=torch.float16)), TypeError, "target has dtype torch.float16"),
    (lambda: Factorisation(torch.ones(3, 3, dtype=torch.complex128)), TypeError, "target must be real"),
    (lambda: Factorisation("abc"), TypeError, "target must be a tensor or an array of numbers"),
    (lambda: Factorisation(torch.ones(3)), ValueError, "target must be a matrix"),
    (lambda: Completion(torch.ones(4, 3, 3, dtype=F64), torch.ones(3, 3, 3, dtype=F64)), ValueError,
     r"mask's batch shape \(3,\) and the target's \(4,\) do not broadcast"),
])
def test_problem_inputs_are_checked_by_name(make, err, msg):
    with pytest.raises(err, match=msg):
        make()


def test_integer_and_numpy_targets_are_converted():
    P = Factorisation(np.arange(6).reshape(2, 3))
    assert P.target.dtype == torch.float64
    assert Factorisation(torch.arange(6).reshape(2, 3)).target.dtype == torch.float64
    assert Factorisation(torch.ones(2, 2, dtype=torch.float32)).target.dtype == torch.float32


def test_rescale_step_maps_between_normalisations():
    M = randn(4, 5)
    P = Factorisation(M, "mean")
    assert rescale_step(2.0, P, "sum") == 2.0 / 20
    assert rescale_step(2.0, P, "mean") == 2.0
    mask = torch.zeros(4, 5, dtype=F64)
    mask[:, :2] = 1
    C = Completion(M, mask)  # observed: c = 1/8
    assert rescale_step(1.0, C, "mean") == pytest.approx(20 / 8)
    with pytest.raises(ValueError, match="eta must be a finite number > 0"):
        rescale_step(-1.0, P, "sum")
    with pytest.raises(ValueError, match="normalisation 'observed' is not defined for factorisation"):
        rescale_step(1.0, P, "observed")


# ----------------------------------------------------------------------------------------------
# Sensing from measured y, no ground truth (issue 14, item 4a)
# ----------------------------------------------------------------------------------------------


def test_sensing_from_measurements_equals_sensing_of_the_target():
    from dlnlib.networks import wide_dln
    from dlnlib.optim import GD
    from dlnlib.train import train

    M = low_rank_target(5, 4, 2, seed=0, device=DEV)
    P = sensing(M, 30, seed=1)
    Q = Sensing.from_measurements(P.A, P.y.clone())
    assert Q.target is None and Q.shape == (5, 4) and Q.m == 30 and Q.normalisation == "sum"
    assert Sensing(P.A, y=P.y).target is None
    W = randn(2, 5, 4, seed=3)
    for a, b in zip(P.loss_grad(W), Q.loss_grad(W)):
        assert torch.equal(a, b)
    assert torch.equal(P.surrogate(), Q.surrogate())
    assert torch.equal(autograd_grad(Q, W), autograd_grad(P, W))
    # "mean" normalisation and the step convention work without a target
    Qm = Sensing.from_measurements(P.A, P.y, "mean")
    assert Qm.loss_scale == 1 / 30 and rescale_step(1.0, Qm, "sum") == pytest.approx(1 / 30)
    # training: the same trajectory as with the target; recovery error needs the target and says so
    net = wide_dln([4, 4, 5], 0.1, seed=2)
    hp = train(net, P, GD(5e-3), 200, record_at=[0, 100, 200], record=("loss", "recovery_error"))
    hq = train(net, Q, GD(5e-3), 200, record_at=[0, 100, 200], record=("loss",))
    np.testing.assert_array_equal(hp["loss"], hq["loss"])
    assert hq["loss"][-1] < 0.1 * hq["loss"][0]
    with pytest.raises(ValueError, match="recovery_error needs a problem with a target matrix"):
        train(net, Q, GD(5e-3), 1, record=("recovery_error",))


def test_sensing_with_measured_y_and_a_target_uses_the_measurements():
    M = low_rank_target(4, 4, 1, seed=0, device=DEV)
    P = sensing(M, 12, seed=1)
    noise = 0.1 * randn(12, seed=2)
    Q = Sensing(P.A, M, "sum", P.y + noise)  # noisy measurements of a known M*
    assert torch.equal(Q.y, P.y + noise) and Q.target is M
    assert float(Q.loss(M)) == pytest.approx(0.5 * float(noise.square().sum()), rel=1e-12)


def test_sensing_from_measurements_batched_y():
    A = randn(10, 3, 3, seed=4)
    y = randn(2, 10, seed=5)
    Q = Sensing.from_measurements(A, y)
    loss, G = Q.loss_grad(torch.zeros(2, 3, 3, dtype=F64, device=DEV))
    assert loss.shape == (2,) and G.shape == (2, 3, 3)
    assert torch.allclose(loss, 0.5 * y.square().sum(-1))


def test_sensing_without_target_bad_input():
    A = randn(6, 3, 2)
    with pytest.raises(ValueError, match=r"sensing needs the measurements: give y \(shape \(\.\.\., m\)\) or a target"):
        Sensing(A)
    with pytest.raises(ValueError, match=r"y must have shape \(\.\.\., m\) = \(\.\.\., 6\) .* got \(5,\)"):
        Sensing.from_measurements(A, randn(5))
    with pytest.raises(ValueError, match=r"y must have shape \(\.\.\., m\)"):
        Sensing.from_measurements(A, torch.tensor(1.0, dtype=F64))
    with pytest.raises(ValueError, match="y contains NaN or Inf entries"):
        Sensing.from_measurements(A, torch.full((6,), float("nan"), dtype=F64))
    with pytest.raises(TypeError, match="A is torch.float64 but y is torch.float32"):
        Sensing.from_measurements(A, torch.zeros(6, dtype=torch.float32))
    with pytest.raises(ValueError, match=r"A must have shape \(m, d_out, d_in\) with m, d_out, d_in >= 1"):
        Sensing.from_measurements(randn(6, 4), randn(6))


def test_problem_kind_inverts_make_problem_and_refuses_other_problems():
    from dlnlib.problems import make_problem, problem_kind

    for kind, kw in (("mf", {}), ("mc", {"p": 0.5}), ("ms", {"m": 12})):
        assert problem_kind(make_problem(kind, 5, 1, **kw)) == kind
    X = torch.eye(3, dtype=torch.float64)
    with pytest.raises(TypeError, match="problem must be a Factorisation, Completion or Sensing, got Regression"):
        problem_kind(Regression(X, X))
