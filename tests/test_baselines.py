"""dlnlib.baselines: AltMin on small completion instances, Burer–Monteiro."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnlib.baselines import altmin, burer_monteiro
from dlnlib.networks import cdln
from dlnlib.problems import Completion, Factorisation, exact_count_mask, low_rank_target, spectral_factors
from dlnlib.optim import GD
from dlnlib.train import train


def _instance(d=20, r=2, p=0.7, seed=0):
    M = low_rank_target(d, d, r, seed=seed)
    return Completion(M, exact_count_mask(d, d, p, seed=seed + 1))


def test_altmin_decreases_training_loss_and_recovers():
    P = _instance()
    res = altmin(P, 2, 30)
    assert res.iterations.tolist() == list(range(31))
    for k in ("train_loss", "recovery_error", "test_error", "wall_time"):
        assert getattr(res, k).shape == (31,)
    # each half-step is an exact least-squares solve: the training loss never increases
    assert np.all(np.diff(res.train_loss) <= 1e-12 * res.train_loss[0])
    assert res.train_loss[-1] < 1e-20 * res.train_loss[0]
    assert res.recovery_error[-1] < 1e-9  # 280 of 400 entries seen: the rank-2 matrix is recovered
    assert res.test_error[-1] < 1e-18
    assert res.U.shape == (20, 2) and res.V.shape == (20, 2)
    W = res.U @ res.V.T
    assert float(torch.linalg.matrix_norm(W - P.target) / torch.linalg.matrix_norm(P.target)) == pytest.approx(
        res.recovery_error[-1], abs=1e-12)
    assert res.train_loss[0] == pytest.approx(float(P.loss(_spectral_start(P))), rel=1e-10)


def _spectral_start(P):
    U, s, V = spectral_factors(P.surrogate(), 2)
    return (U * (s * P.n_observed)) @ V.T


def test_altmin_extra_records_and_timing():
    P = _instance()
    res = altmin(P, 2, 10, recorders={"w00": lambda W: W[0, 0], "loss_again": P.loss})
    assert sorted(res.values) == ["loss_again", "w00"] and res.values["w00"].shape == (11,)
    assert np.array_equal(res.values["loss_again"], res.train_loss)
    assert res.values["w00"][-1] == float((res.U @ res.V.T)[0, 0])
    # the clock counts the half-steps only: it starts at 0 and the SVD is reported apart
    assert res.wall_time[0] == 0.0 and np.all(np.diff(res.wall_time) > 0) and res.setup_s > 0
    # the same iterates with or without extra records (to rounding: torch.linalg.lstsq's default CPU driver is not
    # bitwise reproducible from call to call, a few ulps now and then)
    assert np.allclose(altmin(P, 2, 10).recovery_error, res.recovery_error, rtol=1e-10, atol=0)


def test_altmin_with_too_few_samples_does_not_recover():
    P = _instance(d=20, r=2, p=0.1, seed=3)  # 40 observations for 76 degrees of freedom
    res = altmin(P, 2, 20, ridge=1e-8)  # some rows and columns have fewer than r̂ observations
    assert np.isfinite(res.train_loss).all()
    assert res.train_loss[-1] < 1e-3 * res.train_loss[0]  # it fits the observed entries ...
    assert res.recovery_error[-1] > 0.1  # ... but cannot recover the matrix


def test_altmin_rejects_batches():
    M = low_rank_target(5, 5, 1, seed=0, batch=(2,))
    with pytest.raises(ValueError, match="one \\(unbatched\\) problem at a time"):
        altmin(Completion(M, torch.ones(5, 5, dtype=M.dtype)), 1, 3)


def test_burer_monteiro_is_a_two_factor_cdln():
    M = low_rank_target(6, 5, 2, seed=0)
    P = Factorisation(M)
    bm = burer_monteiro(P, 2)
    assert bm.depth == 2 and bm.widths == [5, 2, 6] and bm.name == "Burer–Monteiro"
    assert bm.lr_scales == [1.0, 1.0]
    ref = cdln(P, 2, 2, 1.0)
    for a, b in zip(bm.weights, ref.weights):
        assert torch.equal(a, b)
    h = train(bm, P, GD(0.1), 200, record_at=[0, 200])
    assert h.loss[-1] < 1e-10


@pytest.mark.parametrize("call,err,msg", [
    (lambda P: altmin(P, 0, 3), ValueError, r"r_hat must be an integer in \[1, 20\], got 0"),
    (lambda P: altmin(P, 21, 3), ValueError, r"r_hat must be an integer in \[1, 20\], got 21"),
    (lambda P: altmin(P, 2.0, 3), TypeError, r"r_hat must be an integer, got float 2.0"),
    (lambda P: altmin(P, 2, -1), ValueError, r"iterations must be an integer >= 0, got -1"),
    (lambda P: altmin(P, 2, 10.5), TypeError, r"iterations must be an integer, got float 10.5"),
    (lambda P: altmin(P, 2, 3, ridge=-1e-3), ValueError, r"ridge must be finite and >= 0, got -0.001"),
    (lambda P: altmin(P, 2, 3, ridge=float("nan")), ValueError, r"ridge must be finite and >= 0, got nan"),
    (lambda P: altmin(P, 2, 3, recorders={"a": 1.0}), TypeError, r"recorders must be a dict \{name: f\(W\) -> scalar\}"),
    (lambda P: altmin(P, 2, 3, recorders={"test_error": P.loss}), ValueError,
     r"recorders \['test_error'\] clash with the built-in records"),
    (lambda P: altmin(Factorisation(P.target), 2, 3), TypeError, r"altmin solves a Completion problem, got Factorisation"),
    (lambda P: burer_monteiro(P, 2, alpha=-1.0), ValueError, r"alpha must be finite and > 0, got -1.0"),
    (lambda P: burer_monteiro(P, 2, eps=0.0), ValueError, r"eps must be finite and > 0, got 0.0"),
    (lambda P: burer_monteiro(P.target, 2), TypeError, r"problem must be a dlnlib Problem, got Tensor"),
], ids=["r_hat-0", "r_hat-above-d", "r_hat-float", "iterations-negative", "iterations-float", "ridge-negative",
        "ridge-nan", "recorder-not-callable", "recorder-clash", "not-completion", "bm-alpha-negative", "bm-eps-zero",
        "bm-not-problem"])
def test_baselines_reject_bad_arguments_by_name(call, err, msg):
    with pytest.raises(err, match=msg):
        call(_instance())
