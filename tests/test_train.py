"""dlnlib.train: the hand-written layer gradients against autograd, batched training against separate runs,
stopping, divergence handling, the optimiser update rules, recording and the History."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnlib._util import default_device
from dlnlib.networks import DLN, cdln, wide_dln
from dlnlib.problems import Completion, Factorisation, Regression, exact_count_mask, low_rank_target, sensing
from dlnlib.optim import GD, Adam, DivergenceError, layer_grads, loss_and_grads
from dlnlib.recorders import History, record_grid
from dlnlib.train import train

F64 = torch.float64
DEV = default_device()


def randn(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=F64).to(DEV)


def assert_close(a, b, tol=1e-12):
    a, b = torch.as_tensor(a).cpu(), torch.as_tensor(b).cpu()
    assert a.shape == b.shape, (a.shape, b.shape)
    err = (a - b).abs().max().item() if a.numel() else 0.0
    assert err <= tol * max(1.0, b.abs().max().item()), err


def stack_nets(nets):
    return DLN([torch.stack(ws) for ws in zip(*(n.weights for n in nets))], alpha=nets[0].alpha, gamma=nets[0].gamma)


# ----------------------------------------------------------------------------------------------
# Gradients
# ----------------------------------------------------------------------------------------------

WIDTHS = [3, 5, 2, 4, 6, 3]


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("batch", [(), (2, 3)])
def test_layer_grads_match_autograd(depth, batch):
    widths = WIDTHS[: depth + 1]
    Ws = [randn(*batch, widths[i + 1], widths[i], seed=i) for i in range(depth)]
    M = randn(*batch, widths[-1], widths[0], seed=99)
    P = Factorisation(M)
    E = Ws[0]
    for W in Ws[1:]:
        E = W @ E
    _, G = P.loss_grad(E)
    grads = layer_grads(Ws, G)
    leaves = [W.clone().requires_grad_(True) for W in Ws]
    E = leaves[0]
    for W in leaves[1:]:
        E = W @ E
    auto = torch.autograd.grad(P.loss(E).sum(), leaves)
    assert len(grads) == depth
    for g, a, W in zip(grads, auto, Ws):
        assert g.shape == W.shape
        assert_close(g, a)


@pytest.mark.parametrize("make", [
    lambda M: Factorisation(M, "mean"),
    lambda M: Completion(M, exact_count_mask(*M.shape, 0.5, seed=1)),
    lambda M: sensing(M, 11, seed=2, normalisation="mean"),
    lambda M: Regression(randn(M.shape[1], 9, seed=3), randn(M.shape[0], 9, seed=4)),
], ids=["factorisation", "completion", "sensing", "regression"])
def test_loss_and_grads_match_autograd(make):
    P = make(randn(4, 3, seed=0))
    net = wide_dln([3, 5, 6, 4], 0.7, "normal", seed=5)
    loss, E, grads = loss_and_grads(net, P)
    leaves = [W.clone().requires_grad_(True) for W in net.weights]
    E2 = leaves[2] @ leaves[1] @ leaves[0]
    L2 = P.loss(E2)
    auto = torch.autograd.grad(L2, leaves)
    assert_close(loss, L2.detach())
    assert_close(E, E2.detach())
    for g, a in zip(grads, auto):
        assert_close(g, a)


# ----------------------------------------------------------------------------------------------
# Batched training equals separate runs
# ----------------------------------------------------------------------------------------------


def test_batch_of_seeds_equals_separate_runs():
    B, T = 3, 40
    M = low_rank_target(5, 4, 2, seed=0, batch=(B,))
    nets = [wide_dln([4, 6, 5], 0.3, "orthogonal", seed=s) for s in range(B)]
    hb = train(stack_nets(nets), Factorisation(M), GD(0.05), T, record_at=[0, 10, T], record=("loss", "sv"))
    assert hb.loss.shape == (3, B)
    assert hb["sv"].shape == (3, B, 4)
    for i in range(B):
        h = train(nets[i], Factorisation(M[i]), GD(0.05), T, record_at=[0, 10, T], record=("loss", "sv"))
        assert np.abs(hb.loss[:, i] - h.loss).max() <= 1e-12
        assert np.abs(hb["sv"][:, i] - h["sv"]).max() <= 1e-12
        for Wb, W in zip(hb.net.weights, h.net.weights):
            assert_close(Wb[i], W)


@pytest.mark.parametrize("depth", [2, 3])
def test_alpha_grid_equals_separate_runs(depth):
    M = low_rank_target(6, 6, 2, [2.0, 1.0], seed=0)
    P = Completion(M, exact_count_mask(6, 6, 0.7, seed=1), "sum")
    alphas = [0.5, 1.0, 2.0]
    T, eta = 30, 0.1
    grid = cdln(P, 3, depth, 0.2, torch.tensor(alphas, dtype=F64))
    hb = train(grid, P, GD(eta), T, record_at=5, record=("loss", "recovery_error", "test_error"))
    for i, a in enumerate(alphas):
        h = train(cdln(P, 3, depth, 0.2, a), P, GD(eta), T, record_at=5, record=("loss", "recovery_error", "test_error"))
        for k in ("loss", "recovery_error", "test_error"):
            assert np.abs(hb[k][:, i] - h[k]).max() <= 1e-12
        for Wb, W in zip(hb.net.weights, h.net.weights):
            assert_close(Wb[i], W)
    # the α grid is not degenerate: different α give different runs
    assert abs(hb.loss[-1, 0] - hb.loss[-1, 2]) > 1e-6


def test_lr_grid_equals_separate_runs():
    M = low_rank_target(4, 4, 2, seed=0)
    P = Factorisation(M)
    lrs = [0.02, 0.05]
    net = wide_dln([4, 4, 4], 0.2, seed=1, batch=(2,))
    net.weights = [W[0].expand(2, *W.shape[1:]).contiguous() for W in net.weights]
    hb = train(net, P, GD(torch.tensor(lrs, dtype=F64)), 25)
    for i, lr in enumerate(lrs):
        h = train(DLN([W[i] for W in net.weights]), P, GD(lr), 25)
        assert np.abs(hb.loss[:, i] - h.loss).max() <= 1e-12


def test_step_on_normalised_loss_is_scaled_step_on_sum_loss():
    """``η`` on the loss ``(c/2)‖·‖²`` is ``c·η`` on ``½‖·‖²`` (Problem.loss_scale)."""
    M = low_rank_target(4, 5, 2, seed=0)
    net = wide_dln([5, 4, 4], 0.3, seed=2)
    mean = Factorisation(M, "mean")
    a = train(net, mean, GD(2.0), 20)
    b = train(net, Factorisation(M, "sum"), GD(2.0 * mean.loss_scale), 20)
    for Wa, Wb in zip(a.net.weights, b.net.weights):
        assert_close(Wa, Wb, 1e-12)


# ----------------------------------------------------------------------------------------------
# Stopping and divergence
# ----------------------------------------------------------------------------------------------


def test_tol_stops_at_first_iteration_below():
    M = low_rank_target(4, 4, 2, seed=0)
    P = Factorisation(M)
    net = wide_dln([4, 4, 4], 0.3, seed=1)
    full = train(net, P, GD(0.1), 300, record_at=range(301))
    tol = 1e-3
    first = int(np.argmax(full.loss <= tol))
    assert 0 < first < 300
    h = train(net, P, GD(0.1), 300, record_at=[0, 300], tol=tol)
    assert int(h.stop_iteration) == first
    assert h.iterations.tolist() == [0, first]  # the final state is recorded at the stop
    assert h.loss[-1] <= tol < full.loss[first - 1]
    assert_close(torch.as_tensor(h.loss[-1]), torch.as_tensor(full.loss[first]))


def test_tol_in_a_batch_freezes_each_run_at_its_own_stop():
    M = low_rank_target(4, 4, 2, seed=0)
    P = Factorisation(M)
    lrs = [0.03, 0.1]
    net = wide_dln([4, 4, 4], 0.3, seed=1)
    netb = DLN([W.expand(2, *W.shape).contiguous() for W in net.weights])
    hb = train(netb, P, GD(torch.tensor(lrs, dtype=F64)), 2000, record_at=[0], tol=1e-4)
    stops = hb.stop_iteration.tolist()
    assert stops[0] > stops[1] > 0
    for i, lr in enumerate(lrs):
        h = train(net, P, GD(lr), 2000, record_at=[0], tol=1e-4)
        assert int(h.stop_iteration) == stops[i]
        for Wb, W in zip(hb.net.weights, h.net.weights):
            assert_close(Wb[i], W)
    assert hb.iterations[-1] == stops[0]  # training ends when every run has stopped


def test_no_tol_means_no_stop():
    P = Factorisation(low_rank_target(3, 3, 1, seed=0))
    h = train(wide_dln([3, 3, 3], 0.5, seed=0), P, GD(0.1), 10)
    assert int(h.stop_iteration) == -1 and int(h.diverged_at) == -1


def test_divergence_error_names_eta_and_alpha():
    M = low_rank_target(5, 5, 2, [3.0, 2.0], seed=0)
    P = Factorisation(M)
    with pytest.raises(DivergenceError, match=r"η = 5\b.*α = 3\b.*Reduce η \(or α\)"):
        train(cdln(P, 2, 3, 0.5, alpha=3.0), P, GD(5.0), 200)
    with pytest.raises(DivergenceError, match=r"diverged at iteration \d+.*η = 5, λ = 0.1"):
        train(wide_dln([5, 5, 5], 0.5, seed=0), P, GD(5.0, weight_decay=0.1), 200)


def test_divergence_error_in_a_batch_names_the_runs():
    P = Factorisation(low_rank_target(5, 5, 2, [3.0, 2.0], seed=0))
    grid = cdln(P, 2, 3, 0.5, torch.tensor([1.0, 40.0], dtype=F64))
    with pytest.raises(DivergenceError, match=r"runs \[1\] of the batch.*η = 0.1.*α = \[1, 40\]"):
        train(grid, P, GD(0.1), 200)


def test_on_divergence_flag_freezes_only_diverged_members():
    P = Factorisation(low_rank_target(5, 5, 2, [3.0, 2.0], seed=0))
    alphas = torch.tensor([1.0, 40.0], dtype=F64)
    grid = cdln(P, 2, 3, 0.5, alphas)
    T = 60
    h = train(grid, P, GD(0.1), T, record_at=range(T + 1), on_divergence="flag", divergence_factor=1e3)
    assert int(h.diverged_at[0]) == -1
    t_div = int(h.diverged_at[1])
    assert 0 < t_div < T
    loss1 = h.loss[:, 1]
    assert loss1[t_div] > 1e3 * loss1[0] and np.all(loss1[:t_div] <= 1e3 * loss1[0])
    assert np.all(loss1[t_div:] == loss1[t_div])  # frozen from the iteration it was flagged
    assert np.isfinite(h.loss[:, 0]).all()
    ref = train(cdln(P, 2, 3, 0.5, 1.0), P, GD(0.1), T, record_at=range(T + 1))
    assert np.abs(h.loss[:, 0] - ref.loss).max() <= 1e-12


# ----------------------------------------------------------------------------------------------
# Optimiser update rules
# ----------------------------------------------------------------------------------------------


def test_gd_weight_decay_and_momentum_formula():
    """``v ← μv + ∇``, ``W ← (1 − ηλ)W − η·s·v`` on ``½‖W − M‖²`` (so ``∇ = W − M``), written out by hand."""
    W0 = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]], dtype=F64, device=DEV)
    M = torch.tensor([[0.5, 0.0, 1.0], [2.0, -1.0, 0.0]], dtype=F64, device=DEV)
    eta, lam, mu, s = 0.1, 0.5, 0.9, 2.0
    h = train(DLN([W0], alpha=s), Factorisation(M), GD(eta, weight_decay=lam, momentum=mu), 3)
    W, v = W0.clone(), torch.zeros_like(W0)
    for _ in range(3):
        v = mu * v + (W - M)
        W = (1 - eta * lam) * W - eta * s * v
    assert_close(h.net.weights[0], W, 1e-14)
    # first step by numbers: v = W0 − M, W1 = 0.95·W0 − 0.2·(W0 − M)
    h1 = train(DLN([W0], alpha=s), Factorisation(M), GD(eta, weight_decay=lam, momentum=mu), 1)
    assert_close(h1.net.weights[0], 0.95 * W0 - 0.2 * (W0 - M), 1e-14)


def test_gd_plain_step_and_frozen_factor():
    W1, W2 = randn(3, 4, seed=0), randn(2, 3, seed=1)
    P = Factorisation(randn(2, 4, seed=2))
    _, _, (g1, g2) = loss_and_grads(DLN([W1, W2]), P)
    h = train(DLN([W1, W2], gamma=0.0), P, GD(0.01), 1)
    assert torch.equal(h.net.weights[0], W1) and torch.equal(h.net.weights[1], W2)  # γ = 0: outer factors frozen
    W3 = randn(3, 3, seed=3)
    _, _, (g1, g3, g2) = loss_and_grads(DLN([W1, W3, W2]), P)
    h = train(DLN([W1, W3, W2], alpha=3.0), P, GD(0.01), 1)
    assert_close(h.net.weights[0], W1 - 0.03 * g1, 1e-14)  # outer factors at α·η
    assert_close(h.net.weights[1], W3 - 0.01 * g3, 1e-14)  # middle factor at η
    assert_close(h.net.weights[2], W2 - 0.03 * g2, 1e-14)


def test_adam_update_formula_and_progress():
    W0 = randn(3, 3, seed=0)
    M = randn(3, 3, seed=1)
    eta, (b1, b2), eps = 0.01, (0.9, 0.999), 1e-8
    h = train(DLN([W0]), Factorisation(M), Adam(eta), 4)
    W, m, v = W0.clone(), torch.zeros_like(W0), torch.zeros_like(W0)
    for t in range(1, 5):
        g = W - M
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        W = W - eta * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)
    assert_close(h.net.weights[0], W, 1e-13)


def test_adam_trains_a_dln():
    P = Factorisation(low_rank_target(5, 5, 2, seed=0))
    h = train(wide_dln([5, 5, 5, 5], 0.3, seed=0), P, Adam(0.01), 400, record_at=[0, 400])
    assert h.loss[-1] < 1e-2 * h.loss[0]


def test_adam_batched_lr_equals_separate():
    P = Factorisation(low_rank_target(4, 4, 2, seed=0))
    net = wide_dln([4, 4, 4], 0.3, seed=1)
    netb = DLN([W.expand(2, *W.shape).contiguous() for W in net.weights])
    hb = train(netb, P, Adam(torch.tensor([0.01, 0.03], dtype=F64), weight_decay=0.01), 20)
    for i, lr in enumerate([0.01, 0.03]):
        h = train(net, P, Adam(lr, weight_decay=0.01), 20)
        assert np.abs(hb.loss[:, i] - h.loss).max() <= 1e-12


# ----------------------------------------------------------------------------------------------
# Recording, validation and the History
# ----------------------------------------------------------------------------------------------


def test_record_grid():
    assert record_grid(10, 5).tolist() == [0, 2, 5, 8, 10]
    g = record_grid(1000, 20, log=True)
    assert g[0] == 0 and g[-1] == 1000 and np.all(np.diff(g) > 0)
    assert record_grid(0, 5).tolist() == [0]


def test_record_at_validation_and_forms():
    P = Factorisation(low_rank_target(3, 3, 1, seed=0))
    net = wide_dln([3, 3, 3], 0.5, seed=0)
    for bad in ([-1, 3], [0, 11]):
        with pytest.raises(ValueError, match=r"record_at must lie in \[0, 10\]"):
            train(net, P, GD(0.1), 10, record_at=bad)
    assert train(net, P, GD(0.1), 10, record_at=[7, 0, 7, 3]).iterations.tolist() == [0, 3, 7]
    assert train(net, P, GD(0.1), 10, record_at=5).iterations.tolist() == record_grid(10, 5).tolist()
    assert train(net, P, GD(0.1), 10).iterations.tolist() == list(range(11))  # default: 100 points


def test_bad_arguments():
    P = Factorisation(low_rank_target(3, 4, 1, seed=0))
    net = wide_dln([4, 3, 3], 0.5, seed=0)
    with pytest.raises(ValueError, match="iterations must be an integer >= 0"):
        train(net, P, GD(0.1), -1)
    with pytest.raises(ValueError, match="on_divergence must be 'raise' or 'flag'"):
        train(net, P, GD(0.1), 1, on_divergence="ignore")
    with pytest.raises(ValueError, match=r"maps R\^3 -> R\^3 .* set d_L = 3, d_0 = 4"):
        train(wide_dln([3, 3, 3], 0.5), P, GD(0.1), 1)
    with pytest.raises(ValueError, match=r"unknown record 'svd'.*recorders="):
        train(net, P, GD(0.1), 1, record=("svd",))
    with pytest.raises(ValueError, match="test_error is defined for completion problems only"):
        train(net, P, GD(0.1), 1, record=("test_error",))
    R = Regression(randn(4, 6), randn(3, 6))
    with pytest.raises(ValueError, match="recovery_error needs a problem with a target"):
        train(net, R, GD(0.1), 1, record=("recovery_error",))


def test_builtin_and_custom_recorders():
    M = low_rank_target(5, 4, 2, seed=0)
    P = Completion(M, exact_count_mask(5, 4, 0.6, seed=1))
    net = wide_dln([4, 6, 3, 5], 0.4, seed=2)
    calls = []

    def trace(n, W, loss):
        calls.append(1)
        return W.square().sum()

    h = train(net, P, GD(0.5), 8, record_at=[0, 4, 8],
              record=("loss", "recovery_error", "test_error", "sv", "layer_sv", "angles"),
              recorders={"fro2": trace})
    K = 3
    assert set(h.values) == {"loss", "recovery_error", "test_error", "sv", "layer_sv", "angles", "fro2"}
    assert h["loss"].shape == (K,) and h["recovery_error"].shape == (K,) and h["test_error"].shape == (K,)
    assert h["sv"].shape == (K, 4)
    assert h["layer_sv"].shape == (K, 3, 6)
    assert h["angles"].shape == (K, 3, 2, 6)
    assert len(calls) == K
    W = h.net.end_to_end()
    assert h["fro2"][-1] == pytest.approx(float(W.square().sum()), rel=1e-12)
    assert h["recovery_error"][-1] == pytest.approx(float(torch.linalg.matrix_norm(W - M) / torch.linalg.matrix_norm(M)), rel=1e-12)
    assert h["test_error"][-1] == pytest.approx(float(P.test_error(W)), rel=1e-12)
    assert h["loss"][-1] == pytest.approx(float(P.loss(W)), rel=1e-12)
    assert np.allclose(h["sv"][-1], torch.linalg.svdvals(W).cpu().numpy(), rtol=1e-12, atol=0)
    # layer singular values: W_2 is 3×6, so 3 values then NaN padding
    assert np.allclose(h["layer_sv"][-1, 1, :3], torch.linalg.svdvals(h.net.weights[1]).cpu().numpy())
    assert np.isnan(h["layer_sv"][:, 1, 3:]).all()
    assert np.nanmax(np.abs(h["angles"][0])) < 1e-6  # no rotation at t = 0
    assert np.nanmax(h["angles"][-1]) > 1e-6


def test_history_fields_and_input_net_untouched():
    P = Factorisation(low_rank_target(3, 3, 1, seed=0))
    net = wide_dln([3, 3, 3], 0.5, seed=0)
    before = [W.clone() for W in net.weights]
    h = train(net, P, GD(0.1), 20, record_at=[0, 10, 20], progress="unit test")
    assert isinstance(h, History)
    assert h.iterations.tolist() == [0, 10, 20]
    assert h.wall_time.shape == (3,) and np.all(np.diff(h.wall_time) >= 0)
    assert h.stop_iteration.shape == () and h.diverged_at.shape == ()
    assert h.seconds_per_step > 0
    assert h.loss is h.values["loss"] and h["loss"] is h.values["loss"]
    assert h.loss[-1] < h.loss[0]
    for W, W0 in zip(net.weights, before):
        assert torch.equal(W, W0)
    assert not torch.equal(h.net.weights[0], before[0])
    h2 = train(net, P, GD(0.1), 20, in_place=True)
    assert h2.net is net and not torch.equal(net.weights[0], before[0])


def test_zero_iterations_records_the_initial_state():
    P = Factorisation(low_rank_target(3, 3, 1, seed=0))
    net = wide_dln([3, 3, 3], 0.5, seed=0)
    h = train(net, P, GD(0.1), 0)
    assert h.iterations.tolist() == [0]
    assert h.loss[0] == pytest.approx(float(P.loss(net.end_to_end())), rel=1e-14)


@pytest.mark.parametrize("kw, err, msg", [
    (dict(iterations=10.5), TypeError, "iterations must be an integer, got float 10.5"),
    (dict(iterations="5"), TypeError, "iterations must be an integer"),
    (dict(record_at=0), ValueError, "record_at must be an integer >= 1"),
    (dict(record_at=[]), ValueError, "record_at is empty"),
    (dict(tol=-1.0), ValueError, r"tol must be a finite number in \[0, inf\]"),
    (dict(tol=float("nan")), ValueError, "tol must be a finite number"),
    (dict(check_every=0), ValueError, "check_every must be an integer >= 1"),
    (dict(on_divergence="ignore"), ValueError, "on_divergence must be 'raise' or 'flag', got 'ignore'"),
])
def test_train_rejects_bad_arguments_by_name(kw, err, msg):
    P = Factorisation(low_rank_target(3, 4, 1, seed=0))
    net = wide_dln([4, 3, 3], 0.5, seed=0)
    args = dict(iterations=5) | kw
    with pytest.raises(err, match=msg):
        train(net, P, GD(0.1), args.pop("iterations"), **args)


@pytest.mark.parametrize("make, err, msg", [
    (lambda: GD(0.0), ValueError, r"lr \(the step size η\) must be finite and > 0, got 0.0"),
    (lambda: GD(-10.0), ValueError, "lr .* must be finite and > 0"),
    (lambda: GD(float("nan")), ValueError, "lr .* must be finite and > 0"),
    (lambda: GD("0.1"), TypeError, "lr .* must be a real number"),
    (lambda: GD(torch.tensor([0.1, -0.1], dtype=F64)), ValueError, "must be finite and > 0 everywhere"),
    (lambda: GD(0.1, weight_decay=-1e-3), ValueError, "weight_decay must be a finite number in \\[0, inf\\]"),
    (lambda: GD(0.1, momentum=1.0), ValueError, r"momentum must be a finite number in \[0, 1\)"),
    (lambda: Adam(-1e-3), ValueError, "lr .* must be finite and > 0"),
    (lambda: Adam(1e-3, betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be"),
])
def test_optimisers_reject_bad_steps_by_name(make, err, msg):
    with pytest.raises(err, match=msg):
        make()


def test_train_rejects_mismatched_dtypes_and_batches():
    M = low_rank_target(3, 4, 1, seed=0)
    net = wide_dln([4, 3, 3], 0.5, seed=0)
    with pytest.raises(TypeError, match="the problem is torch.float32 but the network is torch.float64"):
        train(net, Factorisation(M.float()), GD(0.1), 1)
    with pytest.raises(TypeError, match="the problem is torch.float64 but the network is torch.float32"):
        train(wide_dln([4, 3, 3], 0.5, seed=0, dtype=torch.float32), Factorisation(M), GD(0.1), 1)
    Mb = M.expand(4, 3, 4).contiguous()
    with pytest.raises(ValueError, match=r"batch shape \(4,\) does not fit the network's batch shape \(\)"):
        train(net, Factorisation(Mb), GD(0.1), 1)
    with pytest.raises(ValueError, match=r"batch shape \(4,\) does not fit the network's batch shape \(3,\)"):
        train(wide_dln([4, 3, 3], 0.5, seed=0, batch=(3,)), Factorisation(Mb), GD(0.1), 1)


def test_divergence_message_names_alpha_or_gamma():
    M = 10 * low_rank_target(3, 3, 1, seed=0)
    with pytest.raises(DivergenceError, match="multiplier α = 3") as e:
        train(DLN([W.clone() for W in wide_dln([3, 3, 3], 0.5, seed=0).weights], alpha=3.0), Factorisation(M),
              GD(5.0), 50)
    assert "γ" not in str(e.value)
    with pytest.raises(DivergenceError, match="multiplier γ = 0.5") as e:
        train(DLN(wide_dln([3, 3, 3, 3], 0.5, seed=0).weights, gamma=0.5), Factorisation(M), GD(5.0), 50)
    assert "α" not in str(e.value)


def test_stall_warning_is_opt_in_and_names_the_plateau():
    import warnings

    from dlnlib.train import NoProgressWarning

    M = low_rank_target(4, 4, 2, seed=0)
    tiny = wide_dln([4, 4, 4, 4], 1e-4, seed=0)  # ε^L = 1e-12: a long plateau near zero
    with pytest.warns(NoProgressWarning, match="made no progress over the last"):
        train(tiny, Factorisation(M), GD(0.05), 200, stall_window=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(tiny, Factorisation(M), GD(0.05), 200)  # not asked: no warning
        train(wide_dln([4, 4, 4, 4], 0.5, seed=0), Factorisation(M), GD(0.05), 200, stall_window=100)
    with pytest.raises(ValueError, match="include 'loss' in record"):
        train(tiny, Factorisation(M), GD(0.05), 10, record=("sv",), stall_window=5)


# ----------------------------------------------------------------------------------------------
# Checks in blocks (check_every=None, the default) give the step-by-step checks' iterations
# ----------------------------------------------------------------------------------------------


def test_default_checks_stop_at_a_dip_below_tol_inside_a_block():
    """A loss that dips below ``tol`` for two steps and rises again: the default check (losses kept on the
    device, read once per block) stops at the first of them, as a check every step does; ``check_every=7``
    only looks at multiples of 7 and misses the dip."""
    X = torch.diag(torch.tensor([1.0, 3.0], dtype=F64, device=DEV))
    Y = torch.tensor([[1.0, 2.0]], dtype=F64, device=DEV)
    W0 = Y @ torch.linalg.inv(X) + torch.tensor([[1.0, 1e-6]], dtype=F64, device=DEV)  # one direction grows
    P = Regression(X, Y)
    full = train(DLN([W0]), P, GD(0.23), 150, record_at=range(151), divergence_factor=1e30)
    tol = 1.45e-9
    first = int(np.argmax(full.loss <= tol))
    assert first == 40 and full.loss[first + 2] > tol and full.loss[-1] > 1e6 * tol  # a dip, not the end
    for kw in ({}, {"check_every": 1}, {"_block": 1}, {"_block": 64}, {"_block": 256}):
        h = train(DLN([W0]), P, GD(0.23), 150, record_at=[0, 150], tol=tol, divergence_factor=1e30, **kw)
        assert int(h.stop_iteration) == first and h.iterations.tolist() == [0, first]
        assert h.loss[-1] == full.loss[first]
    h = train(DLN([W0]), P, GD(0.23), 150, record_at=[0, 150], tol=tol, divergence_factor=1e30, check_every=7)
    assert int(h.stop_iteration) == -1


def _dip_run(tol, **kw):
    """GD on a 2×2 factorisation, L = 2, started near the solution with η = 0.36 above the stability bound of the
    σ = 3 direction (its error grows ×1.16 a step) and below that of σ = 1 (decays ×0.28): the loss falls to a
    minimum of 7.9e-17 at iteration 13, then rises (1.7e-16 at 16, 4e-3 at 120)."""
    M = torch.diag(torch.tensor([1.0, 3.0], dtype=F64, device=DEV))
    W1 = torch.diag(torch.tensor([1.1, 3 ** 0.5 + 1e-9], dtype=F64, device=DEV))
    W2 = torch.diag(torch.tensor([1.0, 3 ** 0.5], dtype=F64, device=DEV))
    return train(DLN([W1, W2]), Factorisation(M), GD(0.36), 120, tol=tol, divergence_factor=1e300, **kw)


def test_default_tol_check_looks_at_window_ends_then_at_every_step_of_the_window():
    """On the fused engine the default computes the loss at every 16th iteration (and the recorded and last
    ones); when one is ``<= tol`` the window before it is re-run with every loss, so the run stops where a check
    every step stops it. A dip below ``tol`` that is over before the window's end is missed (documented); the
    windows do not depend on the block lengths, so neither does the result."""
    full = _dip_run(None, record_at=range(121), check_every=1)
    assert int(np.argmin(full.loss)) == 13 and full.loss[16] > 2 * full.loss[13] and full.loss[-1] > 1e12 * full.loss[13]
    blocks = ({}, {"_block": 1}, {"_block": 5}, {"_block": 37}, {"_block": 256})
    # tol met at the window's end (16): the window is searched, the stop is the first iteration <= tol (12)
    tol = 2e-16
    first = int(np.argmax(full.loss <= tol))
    assert first == 12 and full.loss[16] <= tol
    for kw in blocks + ({"check_every": 1},):
        h = _dip_run(tol, record_at=[0, 120], **kw)
        assert int(h.stop_iteration) == first and h.iterations.tolist() == [0, first] and h.loss[-1] == full.loss[first]
    # a one-step dip at 13 inside the window (0, 16]: caught by a check every step, missed by the default
    tol = 8.5e-17
    assert (full.loss <= tol).sum() == 1
    assert int(_dip_run(tol, record_at=[0, 120], check_every=1).stop_iteration) == 13
    for kw in blocks:
        assert int(_dip_run(tol, record_at=[0, 120], **kw).stop_iteration) == -1
    # a recorded iteration is checked: recording 13 catches it
    assert int(_dip_run(tol, record_at=[0, 13, 120]).stop_iteration) == 13


@pytest.mark.parametrize("batched", [False, True])
def test_default_divergence_check_names_the_first_bad_iteration(batched):
    """Without ``tol`` the default checks only the window ends (every 16th iteration), then re-runs a window
    whose end is bad step by step: the error is the one a check every step raises, whatever the block length."""
    M = low_rank_target(5, 5, 2, [3.0, 2.0], seed=0)
    P = Factorisation(M)
    alpha = torch.tensor([1.0, 3.0], dtype=F64) if batched else 3.0
    msgs = set()
    for kw in ({}, {"check_every": 1}, {"_block": 1}, {"_block": 13}, {"_block": 256}, {"record_at": 9}):
        with pytest.raises(DivergenceError) as e:
            train(cdln(P, 2, 3, 0.5, alpha=alpha), P, GD(5.0), 200, **kw)
        msgs.add(str(e.value))
    assert len(msgs) == 1 and "diverged at iteration" in msgs.pop()


def test_sensing_from_measurements_checks_the_batch():
    """A batch of measurement vectors y (B, m) without a target needs a network batch of B: our message, not
    torch's; with one it trains like any batch."""
    from dlnlib.problems import Sensing

    A = torch.randn(20, 4, 4, dtype=F64, generator=torch.Generator().manual_seed(0))
    P = Sensing(A, y=torch.randn(3, 20, dtype=F64, generator=torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError, match=r"batch shape \(3,\) does not fit the network's batch shape \(\)"):
        train(wide_dln([4, 4, 4], 0.1, seed=0), P, GD(0.01), 5)
    h = train(wide_dln([4, 4, 4], 0.1, seed=0, batch=(3,)), P, GD(0.01), 5, record_at=[0, 5])
    assert h.loss.shape == (2, 3) and np.all(h.loss[-1] < h.loss[0])
