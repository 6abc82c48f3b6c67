"""Batches that compact (dlnlib.train, dlnlib._engines): members that stop at ``tol`` or are flagged as diverged
leave the working batch, and the History stays bit for bit what the non-compacting loop records; the blocked
checks give the stopping iterations of a step-by-step check.

"Bit for bit" is tested on the bytes of every recorded array, of ``stop_iteration``/``diverged_at`` and of the
final weights. Against *separate* runs of the same members only the iterations are identical and the values
agree to ~1e-15: a batch member's arithmetic differs from a single run's in the last bits even without
compaction (its α is a per-run coefficient tensor, ``(a·B)Pᵀ`` instead of ``a·(BPᵀ)``, and the middle factors
switch to that form when the first member of the batch stops), which the tests record as such.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dlnlib._engines as engines
from dlnlib.batching import stack_nets
from dlnlib.networks import DLN, cdln, wide_dln
from dlnlib.optim import GD, DivergenceError
from dlnlib.problems import Completion, Factorisation, exact_count_mask, low_rank_target, make_problem
from dlnlib.train import train

F64 = torch.float64
ALPHAS = [0.5, 1.0, 2.0, 4.0, 8.0, 200.0]  # α = 200 diverges (flagged); the others stop at 1462 … 9835
T = 12_000


@pytest.fixture(scope="module")
def mc():
    return make_problem("mc", 30, 2, p=0.3, mask="exact", device="cpu")


@pytest.fixture
def repacks(monkeypatch):
    """The sizes of the working batches the engine repacked to, in order."""
    sizes = []
    orig = engines._FusedGD.compact

    def spy(self, keep):
        sizes.append(len(keep))
        return orig(self, keep)

    monkeypatch.setattr(engines._FusedGD, "compact", spy)
    return sizes


def _bytes(x) -> bytes:
    return np.ascontiguousarray(np.asarray(x)).tobytes()


def assert_same_history(a, b):
    """Every field of two Histories bit for bit (timings excepted)."""
    assert a.iterations.tolist() == b.iterations.tolist()
    assert a.stop_iteration.tolist() == b.stop_iteration.tolist()
    assert a.diverged_at.tolist() == b.diverged_at.tolist()
    assert set(a.values) == set(b.values)
    for k in a.values:
        assert a.values[k].shape == b.values[k].shape, k
        assert _bytes(a.values[k]) == _bytes(b.values[k]), k
    for Wa, Wb in zip(a.net.weights, b.net.weights):
        assert Wa.shape == Wb.shape and _bytes(Wa.numpy()) == _bytes(Wb.numpy())


def sweep(mc, **kw):
    seen = []

    def whole_batch(net, W, loss):  # a custom recorder: always the whole batch, even after repacking
        seen.append((net.batch_shape, tuple(W.shape), tuple(loss.shape)))
        return W.square().sum((-2, -1)) + loss

    h = train(cdln(mc, 4, 3, 1e-2, torch.tensor(ALPHAS, dtype=F64)), mc, GD(3.0), T,
              record_at=[0, 20, 40, 1000, 1500, 2500, 4000, 7000, T], tol=1e-10, on_divergence="flag",
              record=("loss", "recovery_error", "test_error", "sv", "layer_sv"), recorders={"whole": whole_batch},
              **kw)
    return h, seen


def test_alpha_sweep_compacts_and_equals_the_non_compacting_run(mc, repacks):
    h, seen = sweep(mc)
    assert repacks and repacks == sorted(repacks, reverse=True) and repacks[-1] == 1  # shrank to the last member
    ref, _ = sweep(mc, _compact=False)
    assert_same_history(h, ref)
    stops, div = h.stop_iteration.tolist(), h.diverged_at.tolist()
    assert div[:5] == [-1] * 5 and div[5] > 0  # α = 200 flagged …
    assert stops[5] == -1 and all(s > 0 for s in stops[:5]) and stops[:5] == sorted(stops[:5], reverse=True)
    assert len(set(stops[:5])) == 5  # … the others stop at five different iterations
    assert h.iterations[-1] == stops[0]  # training ended when the last member stopped (recorded there)
    # frozen members keep their final state in the records: the loss of a stopped member repeats its last value
    i = int(np.argmin(np.where(np.array(stops) > 0, stops, T)))
    after = h.iterations >= stops[i]
    assert np.unique(h.loss[after, i]).size == 1 and h.loss[after, i][0] <= 1e-10
    after_div = h.iterations >= div[5]
    assert np.unique(h.loss[after_div, 5]).size == 1 and h.loss[after_div, 5][0] > 1e10 * h.loss[0, 5]
    # the custom recorder saw the whole batch at every record
    assert seen and all(s == ((6,), (6, 30, 30), (6,)) for s in seen)


def test_blocks_give_the_step_by_step_checks(mc):
    """The blocked checks (any block length, re-running a block to a stop) equal a check every step."""
    a, _ = sweep(mc)
    for kw in ({"_block": 1}, {"_block": 5, "_compact": False}, {"check_every": 1, "_block": 64}):
        b, _ = sweep(mc, **kw)
        assert_same_history(a, b)


def test_separate_runs_give_the_same_iterations_and_values_to_the_last_bits(mc):
    h, _ = sweep(mc)
    for i, a in enumerate(ALPHAS):
        kw = dict(record_at=[0, 20, 40, 1000, 1500, 2500, 4000, 7000, T], tol=1e-10, record=("loss", "test_error"))
        if a == 200.0:
            with pytest.raises(DivergenceError, match=f"diverged at iteration {h.diverged_at[i]}:"):
                train(cdln(mc, 4, 3, 1e-2, a), mc, GD(3.0), T, **kw)
            continue
        s = train(cdln(mc, 4, 3, 1e-2, a), mc, GD(3.0), T, **kw)
        assert int(s.stop_iteration) == h.stop_iteration[i]
        common = np.intersect1d(h.iterations, s.iterations)  # the single run also records its stop
        hb, hs = np.isin(h.iterations, common), np.isin(s.iterations, common)
        frozen = h.iterations >= s.stop_iteration  # the batch records a stopped member's final state
        for k in ("loss", "test_error"):
            np.testing.assert_allclose(h[k][hb, i], s[k][hs], rtol=1e-11, atol=0)
            np.testing.assert_allclose(h[k][frozen, i], s[k][-1], rtol=1e-11, atol=0)
        for Wb, W in zip(h.net.weights, s.net.weights):
            np.testing.assert_allclose(Wb[i].numpy(), W.numpy(), rtol=0, atol=1e-13)


def _seeds(n=6, d=8):
    return DLN([torch.stack(w) for w in zip(*(wide_dln([d] * 4, 0.3, seed=s).weights for s in range(n)))])


@pytest.mark.parametrize("kw", [{}, {"weight_decay": 1e-3}], ids=["plain", "weight-decay"])
def test_scalar_step_batch(kw, repacks):
    """Scalar η and α: the first stop switches every member to per-run coefficients (as without compaction)."""
    P = Factorisation(low_rank_target(8, 8, 2, seed=0, batch=(6,)))
    args = dict(record_at=[0, 100, 2000, 4000], tol=1e-4, record=("loss", "sv"))
    h = train(_seeds(), P, GD(0.05, **kw), 4000, **args)
    assert len(set(h.stop_iteration.tolist())) > 3 and (h.stop_iteration > 0).all() and repacks
    assert_same_history(h, train(_seeds(), P, GD(0.05, **kw), 4000, _compact=False, **args))


def test_per_run_targets_masks_and_loss_scales(repacks):
    """Batched targets and masks under the "observed" loss (a (B,) loss scale) and a per-run step η."""
    B, d = 5, 20
    M = low_rank_target(d, d, 2, seed=0, batch=(B,))
    P = Completion(M, torch.stack([exact_count_mask(d, d, 0.25 + 0.05 * s, seed=s) for s in range(B)]))
    assert isinstance(P.loss_scale, torch.Tensor) and P.loss_scale.shape == (B,)
    net = stack_nets([cdln(Completion(M[s], P.mask[s]), 3, 3, 1e-2, 1.0) for s in range(B)])
    opt = lambda: GD(torch.tensor([20.0, 25.0, 30.0, 35.0, 40.0], dtype=F64))  # noqa: E731
    args = dict(record_at=[0, 500, 2000, 6000], tol=1e-12, record=("loss", "recovery_error", "test_error"))
    h = train(net, P, opt(), 6000, **args)
    assert len(set(h.stop_iteration[h.stop_iteration > 0].tolist())) == 3 and repacks
    assert_same_history(h, train(net, P, opt(), 6000, _compact=False, **args))


def test_width_one_keeps_two_members(repacks):
    """A matrix with a dimension 1 takes another kernel in a batch of one: the working batch keeps two."""
    P = Completion(low_rank_target(1, 30, 1, seed=0), exact_count_mask(1, 30, 0.5, seed=2))
    net = cdln(P, 1, 3, 1e-1, torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=F64))
    h = train(net, P, GD(0.5), 4000, record_at=[0, 200, 4000], tol=1e-8)
    assert len(set(h.stop_iteration.tolist())) == 4 and min(repacks) == 2
    assert_same_history(h, train(net, P, GD(0.5), 4000, record_at=[0, 200, 4000], tol=1e-8, _compact=False))


def test_last_members_stopping_in_one_block_and_two_dim_batch():
    net1 = wide_dln([6, 6, 6], 0.3, seed=1)
    net = DLN([W.expand(2, 3, *W.shape).contiguous() for W in net1.weights])
    lr = torch.tensor([[0.05, 0.07, 0.1], [0.2, 0.15, 0.12]], dtype=F64)
    P = Factorisation(low_rank_target(6, 6, 2, seed=0))
    args = dict(record_at=[0, 5000], tol=1e-5)
    h = train(net, P, GD(lr), 5000, _block=256, **args)
    assert h.stop_iteration.shape == (2, 3) and (h.stop_iteration > 0).all()
    assert_same_history(h, train(net, P, GD(lr), 5000, _compact=False, _block=1, **args))


def test_member_diverging_to_nan_leaves_after_its_frozen_step(mc, repacks):
    """A flagged member whose residual is not finite turns NaN in its frozen step (0·inf): the repacked run
    keeps that step, so its records and final weights are the non-compacting run's (NaN included)."""
    a = torch.tensor([0.5, 1.0, 2.0, 4.0, 1e4, 1e5], dtype=F64)
    args = dict(record_at=[0, 5, 10, 20, 100, 3000], tol=1e-10, on_divergence="flag", divergence_factor=1e300,
                record=("loss", "test_error"))
    h = train(cdln(mc, 4, 3, 1e-2, a), mc, GD(3.0), 3000, **args)
    assert (h.diverged_at[4:] > 0).all() and np.isnan(h.loss[-1, 4:]).all() and repacks
    assert all(torch.isnan(W[4:]).all() for W in h.net.weights)
    assert_same_history(h, train(cdln(mc, 4, 3, 1e-2, a), mc, GD(3.0), 3000, _compact=False, **args))
