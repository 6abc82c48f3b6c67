"""Tests of dlnlib.studies.wang: training, metrics, assumptions, and that the decay-rate check fails for a wrong law."""

import math

import numpy as np
import pytest
import torch

import dlnlib as dl
from dlnlib.studies import wang as C


@pytest.fixture(scope="module")
def trained():
    data = C.class_data(4, 5, seed=0)                       # K = 4, n = 5, d = N = 20, orthonormal X
    W0 = C.mlp_init([20] * 4 + [4], 0.5, seed=1)
    res = C.train_mlp(W0, data.X, data.Y, 10.0, 5000, tol=1e-12)
    return data, res


def test_linear_trainer_matches_engine():
    data = C.class_data(3, 4, seed=2)
    W0 = C.mlp_init([12, 12, 12, 3], 0.5, seed=3)
    mine = C.train_mlp(W0, data.X, data.Y, 2.0, 40)
    h = dl.train(dl.DLN([W.clone() for W in W0]), dl.Regression(data.X, data.Y, "mean"), dl.GD(2.0), 40)
    for a, b in zip(mine.weights, h.net.weights):
        assert torch.allclose(a, b, rtol=0, atol=1e-13)


def test_relu_gradients_match_autograd():
    data = C.class_data(3, 4, d=15, seed=4, kind="gaussian")
    Ws = [w.requires_grad_(True) for w in C.mlp_init([15, 10, 8, 3], 1.0, init="normal", seed=5)]
    loss, grads = C.loss_and_grads([w.detach() for w in Ws], data.X, data.Y, "relu")
    out = C.forward(Ws, data.X, "relu")[-1]
    auto = torch.autograd.grad(0.5 * (out - data.Y).square().mean(), Ws)
    for g, a in zip(grads, auto):
        assert torch.allclose(g, a, atol=1e-14)


def test_batched_training_equals_separate_runs():
    data = C.class_data(3, 4, seed=6)
    eps = [0.5, 0.3]
    Wb = C.mlp_init([12] * 3 + [3], eps, seed=7, batch=(2,))
    rb = C.train_mlp(Wb, data.X, data.Y, 5.0, 3000, tol=1e-8)
    for i in range(2):
        r = C.train_mlp(C.select(Wb, i), data.X, data.Y, 5.0, 3000, tol=1e-8)
        assert rb.stop[i] == r.stop
        for a, b in zip(C.select(rb.weights, i), r.weights):
            assert torch.allclose(a, b, atol=1e-12)


def test_data_theta():
    assert C.data_theta(C.class_data(3, 4, seed=0).X) <= 1e-12
    assert C.data_theta(C.class_data(3, 4, d=200, seed=0, kind="gaussian").X) > 0.1


def test_assumptions_at_init_and_after_training(trained):
    data, res = trained
    W0 = C.mlp_init([20] * 4 + [4], 0.5, seed=1)
    A0 = C.check_assumptions(W0, data, 0.5)
    assert A0.balance <= 1e-14                               # ε-orthogonal init is balanced on l ∈ [L−2]
    assert abs(A0.delta - 0.25 * math.sqrt(20 - 4)) <= 1e-12  # ‖ε²P − ε²I‖_F = ε²√(d−K)
    A = C.check_assumptions(res.weights, data, 0.5)
    assert A.loss <= 1e-11 and A.minnorm <= 1e-4
    assert abs(A.lowrank_upper) <= 1e-10 and A.lowrank_rho <= 1e-10   # LoP Case 2: the middle block stays at ε
    assert abs(A.delta - A0.delta) <= 0.05 * A0.delta                 # δ is (nearly) conserved by GD


def test_metrics_on_known_features():
    labels = torch.tensor([0, 0, 1, 1])
    Z = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]], dtype=torch.float64)
    data = C.ClassData(Z, torch.nn.functional.one_hot(labels).T.double(), labels, 2, 2)
    M = C.layer_metrics([torch.eye(2, dtype=torch.float64)], data)
    assert M.D[0] == 0.0 and M.S[0] == 1.0
    # centred means of two classes are antipodal: |cos| = 1, S = 0
    assert abs(M.S_centred[0]) <= 1e-15


def test_decay_matches_law_and_fails_for_perturbed_law(trained):
    data, res = trained
    D = C.layer_metrics(res.weights, data).D
    assert C.decay_rate(D).r2 >= 0.99
    good = C.decay_vs_prediction(D, 0.5, data.n, 4)
    assert abs(good) <= 0.1          # the theorem's own band is log(8)/L = 0.52 wide; constants unknown
    wrong_eps = C.decay_vs_prediction(D, 0.5, data.n, 4, predict=lambda e, n, L: e / n ** (1 / L))
    wrong_n = C.decay_vs_prediction(D, 0.5, data.n, 4, predict=lambda e, n, L: e**2 / n ** (2 / L))
    assert abs(wrong_eps) > 0.5 and abs(wrong_n) > 0.3


def test_scaling_fit_recovers_exponents():
    eps = np.array([0.5, 0.35, 0.25] * 3)
    n = np.repeat([5, 10, 20], 3)
    L = np.full(9, 4)
    y = -0.1 + 1.0 * np.log(eps**2) - 1.0 * np.log(n) / L
    f = C.scaling_fit(eps, n, L, y)
    assert abs(f.p - 1) <= 1e-12 and abs(f.q - 1) <= 1e-12 and abs(f.a + 0.1) <= 1e-12
    f2 = C.scaling_fit(eps, n, L, 0.5 * np.log(eps**2) - np.log(n) / L)   # a wrong law is detected
    assert abs(f2.p - 1) > 0.4
