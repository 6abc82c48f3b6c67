"""dlnlib.studies.movielens: split, held-out error, AltMin with held-out records, DLN/C-DLN runs."""

import math

import numpy as np
import pytest
import torch

from dlnlib import data as D
from dlnlib.metrics import first_crossing
from dlnlib.studies import movielens as ML


def synthetic_ratings(n_users=30, n_items=40, rank=2, density=0.6, seed=0):
    """Ratings rows ``user item rating 0`` from ``3 + (rank-``rank`` term)`` (rank ``rank + 1``), values in about [1, 5]."""
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(n_users, rank))
    V = rng.normal(size=(n_items, rank))
    M = 3 + 0.7 * U @ V.T / math.sqrt(rank)
    obs = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(obs)
    return np.stack([u + 1, i + 1, M[u, i], np.zeros_like(u)], 1), M


def test_split_is_disjoint_and_complete():
    r, _ = synthetic_ratings()
    s = ML.make_split(r, 0.2, seed=1)
    tr, te = s.problem.mask.bool(), s.test_mask.bool()
    assert not (tr & te).any()
    assert int((tr | te).sum()) == len(r)
    assert s.n_test == round(0.2 * len(r)) and s.n_train + s.n_test == len(r)
    assert s.problem.normalisation == "observed"


def test_subsample_keeps_most_active():
    r = np.array([[1, 1, 5, 0], [1, 2, 4, 0], [1, 3, 3, 0], [2, 1, 2, 0], [3, 2, 1, 0], [3, 1, 1, 0]])
    sub = ML.subsample_ratings(r, 2, 2)
    # users 1 (3 ratings) and 3 (2 ratings); items 1 (3) and 2 (3)
    assert sub[:, 0].max() == 2 and sub[:, 1].max() == 2
    assert len(sub) == 4


def test_heldout_error_uses_only_the_test_mask():
    M = torch.tensor([[1.0, 2.0, 0.0], [3.0, 0.0, 5.0]], dtype=torch.float64)
    te = torch.tensor([[0, 1, 0], [0, 0, 1]], dtype=torch.float64)
    W = M + torch.tensor([[9.0, 1.0, 7.0], [9.0, 7.0, 3.0]], dtype=torch.float64)
    assert float(ML.heldout_error(W, M, te)) == pytest.approx(0.5 * (1 + 9) / 2)
    # bit for bit the formula the study used before it called dlnlib.metrics.nmse
    g = torch.Generator().manual_seed(0)
    M2, W2 = torch.randn(2, 7, 9, generator=g, dtype=torch.float64).unbind(0)
    te2 = (torch.rand(7, 9, generator=g) < 0.3).double()
    assert torch.equal(ML.heldout_error(W2, M2, te2), 0.5 * (te2 * (W2 - M2)).square().sum((-2, -1)) / te2.sum())
    # perturbation: the completion problem's own test_error averages over *all* unobserved entries,
    # including unrated ones (target 0), and gives a different number
    from dlnlib.problems import Completion

    train = torch.tensor([[1, 0, 0], [1, 0, 0]], dtype=torch.float64)
    assert float(Completion(M, train).test_error(W)) != pytest.approx(float(ML.heldout_error(W, M, te)))


def time_to_reach(values, times, level):
    """The pre-refactor helper of this study, kept here to show that first_crossing reproduces it bit for bit."""
    v, t = np.asarray(values, dtype=float), np.asarray(times, dtype=float)
    hit = np.nonzero(v <= level)[0]
    if hit.size == 0:
        return float("inf")
    i = int(hit[0])
    if i == 0:
        return float(t[0])
    v0, v1 = v[i - 1], v[i]
    frac = (v0 - level) / (v0 - v1) if v0 != v1 else 1.0
    return float(t[i - 1] + frac * (t[i] - t[i - 1]))


def test_rmse_and_time_to_reach():
    assert ML.rmse(0.54) == pytest.approx(1.0392, abs=1e-4)
    assert np.allclose(ML.rmse(np.array([0.5, 2.0])), [1.0, 2.0])
    reach = dict(below=True, interpolate=True)
    assert first_crossing(np.array([3.0, 1.0]), np.array([0.0, 2.0]), 5.0, **reach) == 0.0
    assert math.isinf(first_crossing(np.array([3.0, 2.0]), np.array([0.0, 1.0]), 1.0, **reach))
    rng = np.random.default_rng(0)
    for _ in range(200):
        v = np.exp(-np.cumsum(rng.random(30))) * rng.random() * 3
        v[rng.random(30) < 0.05] = np.nan
        t, level = np.cumsum(rng.random(30)), rng.random()
        assert np.array_equal([first_crossing(v, t, level, **reach)], [time_to_reach(v, t, level)], equal_nan=True)


def test_altmin_recovers_a_low_rank_matrix_on_the_heldout_ratings():
    r, M = synthetic_ratings(rank=2, density=0.7)
    s = ML.make_split(r, 0.2, seed=0)
    c = ML.run_altmin(s, 3, 20)  # 3 + rank-2 term: rank 3
    assert c.label == "AltMin" and sorted(c.values) == ["heldout", "loss"] and c.iterations.tolist() == list(range(21))
    assert c["heldout"][-1] < 1e-6 and c["loss"][-1] < 1e-6
    assert c.wall_time[0] == c.setup_s >= 0.0 and np.all(np.diff(c.wall_time) >= 0)
    # the held-out record is heldout_error of AltMin's iterate (same start and steps as dlnlib.baselines.altmin)
    from dlnlib.baselines import altmin

    res = altmin(s.problem, 3, 20)  # (equal up to rounding: LAPACK's least squares may round differently per call)
    assert np.allclose(c["loss"], res.train_loss, rtol=1e-9, atol=1e-15)
    assert float(ML.heldout_error(res.U @ res.V.T, s.target, s.test_mask)) == pytest.approx(c["heldout"][-1], abs=1e-12)
    # a wrong rank-1 model cannot fit the held-out ratings: the check distinguishes
    assert ML.run_altmin(s, 1, 10)["heldout"][-1] > 1e-3


def test_cdln_and_wide_reduce_the_heldout_error():
    r, _ = synthetic_ratings(n_users=20, n_items=24, rank=2, density=0.7)
    s = ML.make_split(r, 0.2, seed=0)
    kw = dict(depth=3, eps=0.3, eta=0.5, record_at=20)
    comp = ML.run_dln(s, "cdln", iterations=400, r_hat=4, alpha=1.0, **kw)
    wide = ML.run_dln(s, "wide", iterations=400, **kw)
    for c in (comp, wide):
        assert c["heldout"][-1] < 0.1 * c["heldout"][0]
        assert c.diverged_at == -1
    assert comp.setup_s >= 0 and comp.wall_time[0] >= comp.setup_s
    summ = ML.summarise(comp)
    assert summ["final_rmse"] == pytest.approx(math.sqrt(2 * summ["final"]))


def test_divergence_is_flagged_not_raised():
    r, _ = synthetic_ratings(n_users=20, n_items=24, rank=2, density=0.7)
    s = ML.make_split(r, 0.2, seed=0)
    c = ML.run_dln(s, "cdln", depth=3, eps=0.3, eta=50.0, iterations=200, r_hat=4, alpha=50.0, record_at=200)
    assert c.diverged_at >= 0
    assert np.all(np.isfinite(c["heldout"]))


@pytest.mark.skipif(not D.available("movielens100k"), reason="MovieLens-100K not fetched (make data)")
def test_real_movielens_split():
    s = ML.make_split(D.load_movielens100k(), 0.2, 0)
    assert s.shape == (943, 1682)
    assert (s.n_train, s.n_test) == (80000, 20000)
    sub = ML.make_split(D.load_movielens100k(), 0.2, 0, users=300, items=500)
    assert sub.shape == (300, 500)
