"""dlnlib.nonlinear.models: the C-DLN layer is Algorithm 1, M^corr subspaces, shared inits, forward shapes."""

import pytest
import torch

from dlnlib.nonlinear.datasets import gaussian_mixture
from dlnlib.nonlinear.models import (CDLNLayer, DeepMLP, DLNLayer, SmallVGG, SmallViT, _orthonormal, build_model,
                                     build_penultimate_mlp, corr_subspaces)


def test_cdln_layer_is_algorithm_1():
    g = torch.Generator().manual_seed(0)
    U = _orthonormal(12, 5, g)
    V = _orthonormal(9, 5, g)
    layer = CDLNLayer(U, V, depth=3, eps=0.5, bias=False)
    assert torch.allclose(layer.matrix(), 0.5**3 * U @ V.T, atol=1e-6)
    assert layer.r_hat == 5 and layer.outer_names == ("factors.0", "factors.2")
    x = torch.randn(4, 9, generator=g)
    assert torch.allclose(layer(x), x @ layer.matrix().T, atol=1e-6)
    with pytest.raises(ValueError, match="exceeds"):
        CDLNLayer(_orthonormal(6, 4, g), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="columns"):
        CDLNLayer(_orthonormal(6, 4, g), _orthonormal(6, 3, g))


def test_orthonormal_is_the_engines_haar_draw_in_float32():
    """_orthonormal draws exactly what the pre-split code drew (QR of a float64 Gaussian, sign-fixed)."""
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    Q, R = torch.linalg.qr(torch.randn(7, 3, generator=g2, dtype=torch.float64))
    assert torch.equal(_orthonormal(7, 3, g1), (Q * torch.sign(torch.diagonal(R))).float())
    torch.manual_seed(5)
    a = _orthonormal(4, 2, None)  # no generator: torch's global one, as before
    torch.manual_seed(5)
    assert torch.equal(a, _orthonormal(4, 2, None))


def test_orthogonal_dln_layer_is_eps_times_orthogonal():
    layer = DLNLayer(6, 4, depth=3, width=8, init="orthogonal", eps=0.5, generator=torch.Generator().manual_seed(0))
    first, last = layer.factors[0], layer.factors[-1]  # (8, 6) orthonormal columns, (4, 8) orthonormal rows
    assert torch.allclose(first.T @ first, 0.25 * torch.eye(6), atol=1e-6)
    assert torch.allclose(last @ last.T, 0.25 * torch.eye(4), atol=1e-6)
    with pytest.raises(ValueError, match="init must be"):
        DLNLayer(6, 4, init="normal")


def test_corr_subspaces_span_mcorr():
    X = torch.randn(300, 30)
    y = torch.arange(300) % 5
    U, V = corr_subspaces(X, y, 5, 12, 16)
    assert torch.allclose(V.T @ V, torch.eye(12), atol=1e-5) and torch.allclose(U.T @ U, torch.eye(12), atol=1e-5)
    Mc = torch.nn.functional.one_hot(y, 5).T.float() @ X  # (K, d_in), rank 5
    # the rows of M^corr lie in span(V[:, :5]); the random completion is orthogonal to them
    P = V[:, :5] @ V[:, :5].T
    assert torch.allclose(Mc @ P, Mc, atol=1e-3)
    assert float((Mc @ V[:, 5:]).abs().max()) < 1e-3
    # perturbation: random subspaces do not contain M^corr's row space
    _, Vr = corr_subspaces(X, y, 5, 12, 16, use_corr=False)
    Pr = Vr[:, :5] @ Vr[:, :5].T
    assert not torch.allclose(Mc @ Pr, Mc, atol=1e-1)


def test_shared_initialisation_across_kinds():
    ds = gaussian_mixture(4, 20, 200, 100, separation_=4.0, seed=0)
    a, b = build_penultimate_mlp("linear", ds, 16, seed=3), build_penultimate_mlp("cdln", ds, 16, r_hat=8, seed=3)
    for la, lb in zip(a.body, b.body):
        assert torch.equal(la.weight, lb.weight)
    assert torch.equal(a.head.weight, b.head.weight)


def test_deep_mlp_orthogonal_init_and_layer_features():
    m0 = DeepMLP(30, 3, 32, depth=4, n_nonlinear=0, init="orthogonal", eps=1.0)
    assert torch.allclose(m0.layers[1].weight @ m0.layers[1].weight.T, torch.eye(32), atol=1e-5)
    x = torch.randn(5, 30)
    feats = m0.layer_features(x)
    assert [tuple(f.shape) for f in feats] == [(5, 32)] * 3 + [(5, 3)] and m0.penultimate is m0.layers[-2]
    # all linear: the output is the product of the layers applied to x
    assert torch.allclose(feats[-1], m0(x))


def test_vgg_and_vit_forward_and_penultimate():
    x = torch.randn(2, 3, 16, 16)
    vgg = SmallVGG(channels=(4, 8), width=16, image=16)
    assert vgg(x).shape == (2, 10) and tuple(vgg.penultimate.matrix().shape) == (16, 16)
    vit = SmallViT(image=16, patch=4, dim=48, depth=2, heads=4, mlp_dim=96, pen_kind="cdln")
    assert vit(x).shape == (2, 10) and tuple(vit.penultimate.matrix().shape) == (48, 96)
    with pytest.raises(ValueError, match="pen_kind"):
        SmallViT(image=16, patch=4, dim=48, pen_kind="wide")


def test_build_model_by_architecture():
    ds = gaussian_mixture(3, 12, 10, 5, seed=0)
    assert isinstance(build_model("mlp", ds, dict(width=8, depth=3)), DeepMLP)
    with pytest.raises(ValueError, match="arch must be"):
        build_model("resnet", ds, {})
