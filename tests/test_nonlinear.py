"""Tests for dlnlib.nonlinear: models, C-DLN layer, M^corr subspaces, costs, training loop and trackers."""

import math

import numpy as np
import pytest
import torch

from dlnlib import data as D
from dlnlib import nonlinear as N
from dlnlib.metrics import subspace_distance


def tiny_data(d=20, K=4, n=200, seed=0):
    return N.gaussian_mixture(K, d, n, 100, separation_=4.0, seed=seed)


def test_table1_parameter_counts_match_the_paper():
    """[K] Table 1: MLP 1.850M / +DLN 3.080M / +C-DLN 1.300M parameters with width 784 and r̂ = 40."""
    ds = N.Dataset("fake", torch.zeros(8, 784), torch.arange(8) % 10, torch.zeros(2, 784), torch.zeros(2).long(), 10)
    counts = {k: N.count_params(N.PenultimateMLP(784, 10, 784, 2, k, r_hat=40)) for k in N.KINDS}
    assert round(counts["linear"] / 1e6, 2) == 1.85
    assert round(counts["dln"] / 1e6, 2) == 3.08
    assert round(counts["cdln"] / 1e6, 2) == 1.30
    macs = {k: N.count_macs(N.PenultimateMLP(784, 10, 784, 2, k, r_hat=40), ds.X_train) for k in N.KINDS}
    assert macs["cdln"] < macs["linear"] < macs["dln"]
    # paper's MACs ratios 1.670 : 2.370 : 3.940 equal the parameter ratios
    assert macs["dln"] / macs["linear"] == pytest.approx(3.94 / 2.37, rel=0.01)
    assert macs["cdln"] / macs["linear"] == pytest.approx(1.67 / 2.37, rel=0.01)


def test_vit_dln_cdln_parameter_changes_match_the_paper():
    """[K] Table 1 ViT: +DLN adds ≈ 18.9M, C-DLN removes ≈ 1.4M (dim 512, MLP 3072, r̂ = 40): check the deltas only."""
    def fc2_params(kind):
        m = N.SmallViT(image=8, patch=8, dim=512, depth=1, heads=8, mlp_dim=3072, pen_kind=kind)
        return sum(p.numel() for p in m.blocks[-1].fc2.parameters())
    lin, dln, cd = (fc2_params(k) for k in N.KINDS)
    assert (dln - lin) / 1e6 == pytest.approx(18.9, abs=0.1)
    assert (lin - cd) / 1e6 == pytest.approx(1.4, abs=0.05)


def test_cdln_layer_is_algorithm_1():
    g = torch.Generator().manual_seed(0)
    U = N._orthonormal(12, 5, g)
    V = N._orthonormal(9, 5, g)
    layer = N.CDLNLayer(U, V, depth=3, eps=0.5, bias=False)
    assert torch.allclose(layer.matrix(), 0.5**3 * U @ V.T, atol=1e-6)
    assert layer.r_hat == 5 and layer.outer_names == ("factors.0", "factors.2")
    x = torch.randn(4, 9, generator=g)
    assert torch.allclose(layer(x), x @ layer.matrix().T, atol=1e-6)
    with pytest.raises(ValueError, match="exceeds"):
        N.CDLNLayer(N._orthonormal(6, 4, g), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="columns"):
        N.CDLNLayer(N._orthonormal(6, 4, g), N._orthonormal(6, 3, g))


def test_corr_subspaces_span_mcorr():
    X = torch.randn(300, 30)
    y = torch.arange(300) % 5
    U, V = N.corr_subspaces(X, y, 5, 12, 16)
    assert torch.allclose(V.T @ V, torch.eye(12), atol=1e-5) and torch.allclose(U.T @ U, torch.eye(12), atol=1e-5)
    Mc = torch.nn.functional.one_hot(y, 5).T.float() @ X  # (K, d_in), rank 5
    # the rows of M^corr lie in span(V[:, :5]); the random completion is orthogonal to them
    P = V[:, :5] @ V[:, :5].T
    assert torch.allclose(Mc @ P, Mc, atol=1e-3)
    assert float((Mc @ V[:, 5:]).abs().max()) < 1e-3
    # perturbation: random subspaces do not contain M^corr's row space
    _, Vr = N.corr_subspaces(X, y, 5, 12, 16, use_corr=False)
    Pr = Vr[:, :5] @ Vr[:, :5].T
    assert not torch.allclose(Mc @ Pr, Mc, atol=1e-1)


def test_param_groups_scale_only_cdln_outer_factors():
    ds = tiny_data()
    m = N.build_penultimate_mlp("cdln", ds, 16, r_hat=8)
    groups = N.param_groups(m, 0.1, alpha=5.0)
    assert len(groups) == 2 and groups[1]["lr"] == pytest.approx(0.5)
    outer = {id(m.penultimate.factors[0]), id(m.penultimate.factors[2])}
    assert {id(p) for p in groups[1]["params"]} == outer
    assert len(N.param_groups(N.build_penultimate_mlp("dln", ds, 16), 0.1, 5.0)) == 1


def test_shared_initialisation_across_kinds():
    ds = tiny_data()
    a, b = N.build_penultimate_mlp("linear", ds, 16, seed=3), N.build_penultimate_mlp("cdln", ds, 16, r_hat=8, seed=3)
    for la, lb in zip(a.body, b.body):
        assert torch.equal(la.weight, lb.weight)
    assert torch.equal(a.head.weight, b.head.weight)


def test_fit_learns_and_records():
    ds = tiny_data()
    m = N.build_penultimate_mlp("cdln", ds, 32, r_hat=8)
    res = N.fit(m, ds, iterations=150, batch_size=32, lr=0.1, record_every=50, sv_every=50, dist_every=50, r=4,
                n_sv=8, device="cpu")
    assert res.iterations.tolist() == [0, 50, 100, 150]
    assert res.final_acc > 80 and res.test_acc[-1] > res.test_acc[0]
    assert np.all(np.diff(res.train_time) >= 0)
    assert res.update_sv.shape == (4, 8) and np.all(res.update_sv[0] == 0)
    assert res.weight_sv.shape == (4, 8)
    assert res.dist_iterations.tolist() == [0, 50, 100] and np.all(res.subspace_dist >= -1e-9)
    assert 0 < res.time_to_fraction(0.99) <= res.train_time[-1]


def test_update_rank_check_fails_for_a_full_rank_update():
    """Fig. 1's check (count of σ_i(W(T)−W(0)) above 10% of σ_1 ≤ 2K) on a genuinely low-rank update and on a
    perturbed, full-rank one."""
    g = torch.Generator().manual_seed(0)
    low = torch.randn(64, 5, generator=g) @ torch.randn(5, 64, generator=g)
    sv = torch.linalg.svdvals(low).numpy()
    assert N.count_above(sv, 0.1 * sv[0]) <= 20
    full = low + torch.randn(64, 64, generator=g) * 3
    sv = torch.linalg.svdvals(full).numpy()
    assert N.count_above(sv, 0.1 * sv[0]) > 20


def test_subspace_distance_check_fails_for_a_rotating_subspace():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(30, 30, generator=g, dtype=torch.float64)
    U1 = N._top_left(W, 10)
    U2 = N._top_left(W + 1e-6 * torch.randn(30, 30, generator=g, dtype=torch.float64), 10)
    assert float(subspace_distance(U1, U2)) < 0.1
    U3 = N._top_left(torch.randn(30, 30, generator=g, dtype=torch.float64), 10)
    assert float(subspace_distance(U1, U3)) > 0.1


def test_lowrank_mlp_and_costs():
    m = N.LowRankMLP(100, 10, 50, rank=3)
    assert N.count_params(m) == 100 * 50 + 50 + 2 * (3 * 50 + 50 * 3 + 50) + 50 * 10 + 10
    assert N.count_macs(m, torch.zeros(4, 100)) == 100 * 50 + 2 * (2 * 3 * 50) + 50 * 10
    full = N.LowRankMLP(100, 10, 50)
    x = torch.randn(16, 100)
    mem_full = N.training_memory(full, x, "adam")
    mem_low = N.training_memory(m, x, "adam")
    assert mem_full["optimizer"] == 2 * mem_full["params"] and mem_low["total"] < mem_full["total"]
    assert N.activation_bytes(full, x) > 0


def test_vgg_and_vit_forward_and_penultimate():
    x = torch.randn(2, 3, 16, 16)
    vgg = N.SmallVGG(channels=(4, 8), width=16, image=16)
    assert vgg(x).shape == (2, 10) and tuple(vgg.penultimate.matrix().shape) == (16, 16)
    vit = N.SmallViT(image=16, patch=4, dim=48, depth=2, heads=4, mlp_dim=96, pen_kind="cdln")
    assert vit(x).shape == (2, 10) and tuple(vit.penultimate.matrix().shape) == (48, 96)
    conv_macs = 16 * 16 * 4 * 3 * 9 + 8 * 8 * 8 * 4 * 9
    assert N.count_macs(vgg, x) == conv_macs + 8 * 4 * 4 * 16 + 16 * 16 + 16 * 10


def test_deep_mlp_layerwise_metrics_on_separable_data():
    ds = tiny_data(d=30, K=3, n=150)
    m0 = N.DeepMLP(30, 3, 32, depth=4, n_nonlinear=0, init="orthogonal", eps=1.0)
    assert torch.allclose(m0.layers[1].weight @ m0.layers[1].weight.T, torch.eye(32), atol=1e-5)
    m = N.DeepMLP(30, 3, 32, depth=4)  # ReLU after layers 1-3, uniform init (T1's net)
    N.fit_full_batch(m, ds.X_train, ds.y_train, 3, iterations=300, lr=1e-3, optimizer="adam")
    met = N.layerwise_metrics(m, ds.X_train, ds.y_train, 3)
    assert met["compression"].shape == (5,) and met["separation"].shape == (5,)
    assert met["compression"][-2] < met["compression"][0]


@pytest.mark.skipif(not D.available("fashion-mnist"), reason="Fashion-MNIST not in DLN_DATA_DIR")
def test_load_dataset_subsets_and_standardises():
    ds = N.load_dataset("fashion-mnist", 500, 100, seed=0)
    assert tuple(ds.X_train.shape) == (500, 784) and tuple(ds.X_test.shape) == (100, 784)
    assert np.bincount(ds.y_train.numpy()).tolist() == [50] * 10
    assert abs(float(ds.X_train.mean())) < 1e-4 and float(ds.X_train.std()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.skipif(not D.available("cifar10-subset"), reason="CIFAR subset not in DLN_DATA_DIR")
def test_cifar_subset_split():
    ds = N.load_dataset("cifar10-subset", flatten=False)
    assert tuple(ds.X_train.shape) == (3000, 3, 32, 32) and tuple(ds.X_test.shape) == (1000, 3, 32, 32)
