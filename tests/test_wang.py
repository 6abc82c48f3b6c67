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


# ----------------------------------------------------------------------------------------------
# D_l on unbalanced classes: the two centres of Σ_B (issue 14, item 4b)
# ----------------------------------------------------------------------------------------------


def _unbalanced(counts, d=6, seed=7):
    """Features with class means apart and within-class noise; class k has counts[k] samples."""
    g = torch.Generator().manual_seed(seed)
    K = len(counts)
    labels = torch.arange(K).repeat_interleave(torch.tensor(counts))
    mu = torch.randn(d, K, generator=g, dtype=torch.float64)
    Z = mu[:, labels] + 0.3 * torch.randn(d, len(labels), generator=g, dtype=torch.float64)
    return Z, labels


def test_compression_centres_agree_on_balanced_classes(trained):
    data, res = trained
    a = C.layer_metrics(res.weights, data)
    b = C.layer_metrics(res.weights, data, centre="sample")
    assert a.centre == "class_means" and b.centre == "sample"
    np.testing.assert_allclose(b.D[:-1], a.D[:-1], rtol=1e-9)  # D_L of the interpolating net is ~0: compare l < L
    np.testing.assert_array_equal(a.S, b.S)                  # S_l does not depend on the centre of D_l


def test_compression_centres_differ_on_unbalanced_classes():
    # two classes of 11 and 5: tr Σ_B(sample) / tr Σ_B(class means) = 2(n_1² + n_2²)/N² = 292/256 exactly
    Z, labels = _unbalanced((11, 5))
    d_cm = float(dl.metrics.compression(Z, labels))
    d_s = float(dl.metrics.compression(Z, labels, centre="sample"))
    assert d_cm / d_s == pytest.approx(292 / 256, rel=1e-12)  # 14.1 % apart
    # the default is unchanged (mean of the class means), and the sample centre is the plain data mean
    means = torch.stack([Z[:, labels == k].mean(1) for k in range(2)], 1)
    within = sum((Z[:, labels == k] - means[:, k:k + 1]).square().sum() for k in range(2)) / Z.shape[1]
    for centre, c in (("class_means", means.mean(1, keepdim=True)), ("sample", Z.mean(1, keepdim=True))):
        between = (means - c).square().sum() / 2
        assert float(dl.metrics.compression(Z, labels, centre=centre)) == pytest.approx(float(within / between),
                                                                                        rel=1e-12)
    # through layer_metrics on an unbalanced data set (three classes 8, 4, 2; a random linear net)
    Z3, lab3 = _unbalanced((8, 4, 2), d=14, seed=8)
    data = C.ClassData(Z3, torch.nn.functional.one_hot(lab3, 3).T.to(Z3.dtype), lab3, 3, 0)
    W = C.mlp_init([14, 14, 14, 3], 1.0, init="normal", seed=9)
    a, b = C.layer_metrics(W, data), C.layer_metrics(W, data, centre="sample")
    assert np.all(b.D < a.D)  # the class-means centre minimises Σ_k ‖z̄_k − c‖²: the sample centre's D is smaller
    assert np.all(a.D / b.D - 1 > 0.01)


def test_compression_centre_is_validated():
    Z, labels = _unbalanced((3, 2))
    with pytest.raises(ValueError, match=r"centre must be one of \('class_means', 'sample'\).*got 'global'"):
        dl.metrics.compression(Z, labels, centre="global")


# ----------------------------------------------------------------------------------------------
# train_mlp's check interval (issue 14, item 4c)
# ----------------------------------------------------------------------------------------------


def _mlp_run(**kw):
    data = C.class_data(3, 4, seed=2)
    W0 = C.mlp_init([12, 12, 12, 3], [0.3, 0.5, 0.7], seed=3, batch=(3,))
    return C.train_mlp(W0, data.X, data.Y, 5.0, 3000, tol=1e-6, record_every=7, **kw)


def test_check_every_default_and_one_are_today_exactly():
    a, b = _mlp_run(), _mlp_run(check_every=1)
    assert np.all(a.stop > 0) and len(set(a.stop.tolist())) > 1  # members stop at different iterations
    for x, y in zip(a.weights, b.weights):
        assert torch.equal(x, y)
    np.testing.assert_array_equal(a.stop, b.stop)
    np.testing.assert_array_equal(a.iterations, b.iterations)
    np.testing.assert_array_equal(a.loss, b.loss)


def test_check_every_stops_at_the_check_granularity():
    k = 25
    a, c = _mlp_run(), _mlp_run(check_every=k)
    assert np.all(c.stop % k == 0)
    # each run stops at the first multiple of k at or after its per-step stop (GD's loss decreases here)
    np.testing.assert_array_equal(c.stop, -(-a.stop // k) * k)
    assert c.iterations[-1] == c.stop.max()
    # the losses at the stops qualify, and the run that stopped last ran exactly to its check
    assert np.all(c.loss[-1] <= 1e-6)


def test_check_every_names_the_divergence_at_a_check():
    data = C.class_data(3, 4, seed=2)
    W0 = C.mlp_init([12, 12, 12, 3], 1.0, seed=3)
    with pytest.raises(FloatingPointError, match="at iteration"):
        C.train_mlp(W0, data.X, data.Y, 1e4, 200)
    with pytest.raises(FloatingPointError, match=r"at or before iteration \d+ \(checked every 50\)"):
        C.train_mlp(W0, data.X, data.Y, 1e4, 200, check_every=50)


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (2.5, TypeError), (True, TypeError)])
def test_check_every_is_validated(bad, exc):
    data = C.class_data(3, 4, seed=2)
    with pytest.raises(exc, match="check_every must be an integer"):
        C.train_mlp(C.mlp_init([12, 3], 0.5, seed=3), data.X, data.Y, 1.0, 5, check_every=bad)


def test_trained_point_and_scaling_point():
    """notebook 06/07's sweep points: trained_point = mlp_init + train_mlp (batched over ε); scaling_point gives one
    row per ε with D_l at both tolerances."""
    data = C.class_data(2, 3, seed=0)
    pt = C.trained_point(data, 3, [0.5, 0.3], None, 1.0, 100, 1e-6, seed=3, batch=(2,), record_every=20)
    ref = C.train_mlp(C.mlp_init([6] * 3 + [2], [0.5, 0.3], seed=3, batch=(2,)), data.X, data.Y, 1.0, 100, tol=1e-6,
                      record_every=20)
    assert all(torch.equal(a, b) for a, b in zip(pt.weights, ref.weights)) and np.array_equal(pt.loss, ref.loss)
    rows = C.scaling_point(2, 3, 3, [0.5, 0.3], 1.0, 300, seed=0)
    assert [r["eps"] for r in rows] == [0.5, 0.3] and all(r["D12"].shape == (4,) and r["L"] == 3 for r in rows)
