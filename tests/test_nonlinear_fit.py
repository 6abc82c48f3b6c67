"""dlnlib.nonlinear.fit: step groups, the training loop and its trackers, full-batch fits, layerwise metrics."""

import numpy as np
import pytest
import torch

from dlnlib.metrics import count_above, subspace_distance, top_singular_subspace
from dlnlib.nonlinear.datasets import gaussian_mixture
from dlnlib.nonlinear.fit import FitResult, fit, fit_full_batch, layerwise_metrics, param_groups, pick_device
from dlnlib.nonlinear.models import DeepMLP, build_penultimate_mlp


def tiny_data(d=20, K=4, n=200, seed=0):
    return gaussian_mixture(K, d, n, 100, separation_=4.0, seed=seed)


def test_param_groups_scale_only_cdln_outer_factors():
    ds = tiny_data()
    m = build_penultimate_mlp("cdln", ds, 16, r_hat=8)
    groups = param_groups(m, 0.1, alpha=5.0)
    assert len(groups) == 2 and groups[1]["lr"] == pytest.approx(0.5)
    outer = {id(m.penultimate.factors[0]), id(m.penultimate.factors[2])}
    assert {id(p) for p in groups[1]["params"]} == outer
    assert len(param_groups(build_penultimate_mlp("dln", ds, 16), 0.1, 5.0)) == 1


def test_fit_learns_and_records():
    ds = tiny_data()
    m = build_penultimate_mlp("cdln", ds, 32, r_hat=8)
    res = fit(m, ds, iterations=150, batch_size=32, lr=0.1, record_every=50, sv_every=50, dist_every=50, r=4,
              n_sv=8, device="cpu")
    assert res.iterations.tolist() == [0, 50, 100, 150]
    assert res.final_acc > 80 and res.test_acc[-1] > res.test_acc[0]
    assert np.all(np.diff(res.train_time) >= 0)
    assert res.update_sv.shape == (4, 8) and np.all(res.update_sv[0] == 0)
    assert res.weight_sv.shape == (4, 8)
    assert res.dist_iterations.tolist() == [0, 50, 100] and np.all(res.subspace_dist >= -1e-9)
    assert 0 < res.time_to_fraction(0.99) <= res.train_time[-1]
    with pytest.raises(ValueError, match="optimizer must be"):
        fit(m, ds, iterations=1, optimizer="lbfgs", device="cpu")


def test_time_to_fraction_is_the_first_record_at_the_level():
    z, e = np.zeros((0, 0)), np.zeros(0)
    res = FitResult(np.arange(4), np.array([0.0, 1.0, 2.0, 3.0]), np.array([10.0, 50.0, 99.5, 100.0]), e, z, e,
                    e, e, 100.0, 1.0)
    assert res.time_to_fraction(0.99) == 2.0 and res.time_to_fraction(0.5) == 1.0 and res.time_to_fraction(0.0) == 0.0


def test_update_rank_check_fails_for_a_full_rank_update():
    """Fig. 1's check (count of σ_i(W(T)−W(0)) above 10% of σ_1 ≤ 2K) on a genuinely low-rank update and on a
    perturbed, full-rank one."""
    g = torch.Generator().manual_seed(0)
    low = torch.randn(64, 5, generator=g) @ torch.randn(5, 64, generator=g)
    sv = torch.linalg.svdvals(low).numpy()
    assert count_above(sv, 0.1 * sv[0]) <= 20
    full = low + torch.randn(64, 64, generator=g) * 3
    sv = torch.linalg.svdvals(full).numpy()
    assert count_above(sv, 0.1 * sv[0]) > 20


def test_subspace_distance_check_fails_for_a_rotating_subspace():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(30, 30, generator=g, dtype=torch.float64)
    U1 = top_singular_subspace(W, 10)
    U2 = top_singular_subspace(W + 1e-6 * torch.randn(30, 30, generator=g, dtype=torch.float64), 10)
    assert float(subspace_distance(U1, U2)) < 0.1
    U3 = top_singular_subspace(torch.randn(30, 30, generator=g, dtype=torch.float64), 10)
    assert float(subspace_distance(U1, U3)) > 0.1


def test_deep_mlp_layerwise_metrics_on_separable_data():
    ds = tiny_data(d=30, K=3, n=150)
    m = DeepMLP(30, 3, 32, depth=4)  # ReLU after layers 1-3, uniform init (T1's net)
    hist = fit_full_batch(m, ds.X_train, ds.y_train, 3, iterations=300, lr=1e-3, optimizer="adam")
    assert len(hist) == 300 and hist[-1] < hist[0]
    met = layerwise_metrics(m, ds.X_train, ds.y_train, 3)
    assert met["compression"].shape == (5,) and met["separation"].shape == (5,)
    assert met["compression"][-2] < met["compression"][0]
    with pytest.raises(FloatingPointError, match="diverged"):
        fit_full_batch(DeepMLP(30, 3, 32, depth=4), ds.X_train, ds.y_train, 3, iterations=50, lr=1e6)


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
