"""Bad input at the remaining public entry points gets a clear error naming the argument, its value and what is
allowed: the nonlinear models, datasets and training loop (``dlnlib.nonlinear``), the data loaders
(``dlnlib.data``) and the sweep (``dlnlib.sweep``). The table in ``tests/README.md`` lists every case."""

import numpy as np
import pytest
import torch

from dlnlib import data as D
from dlnlib.nonlinear import datasets as ND
from dlnlib.nonlinear import fit as NF
from dlnlib.nonlinear import models as NM
from dlnlib.sweep import sweep


def _toy(n=12, d=5, K=3):
    return ND.gaussian_mixture(K, d, n, 6, seed=0)


def _raises(err, words, f, *a, **kw):
    with pytest.raises(err) as e:
        f(*a, **kw)
    assert words in str(e.value), str(e.value)


# ----------------------------------------------------------------------------------------------
# dlnlib.nonlinear.models
# ----------------------------------------------------------------------------------------------

U4, V4 = torch.linalg.qr(torch.randn(6, 4))[0], torch.linalg.qr(torch.randn(8, 4))[0]


@pytest.mark.parametrize("make, err, words", [
    (lambda: NM.LinearLayer(0, 3), ValueError, "d_in must be an integer >= 1, got 0"),
    (lambda: NM.LinearLayer(3, 2.5), TypeError, "d_out must be an integer, got float 2.5"),
    (lambda: NM.DLNLayer(4, 4, depth=0), ValueError, "depth must be an integer >= 1, got 0"),
    (lambda: NM.DLNLayer(4, 4, depth=-3), ValueError, "depth must be an integer >= 1, got -3"),
    (lambda: NM.DLNLayer(4, 4, width=0), ValueError, "width must be an integer >= 1, got 0"),
    (lambda: NM.DLNLayer(4, 4, init="gaussian"), ValueError, "init must be 'uniform' or 'orthogonal', got 'gaussian'"),
    (lambda: NM.DLNLayer(4, 4, init="orthogonal", eps=-0.1), ValueError, "eps (the init scale ε) must be finite and > 0"),
    (lambda: NM.CDLNLayer(U4, V4, depth=1), ValueError, "depth (C-DLN needs L >= 2 factors) must be an integer >= 2"),
    (lambda: NM.CDLNLayer(U4, V4, eps=0.0), ValueError, "eps (the init scale ε) must be finite and > 0, got 0.0"),
    (lambda: NM.CDLNLayer(U4.numpy(), V4), TypeError, "U must be a real floating-point matrix (2-d tensor), got a ndarray"),
    (lambda: NM.CDLNLayer(U4, V4[:, :3]), ValueError, "U has 4 columns but V has 3"),
    (lambda: NM.corr_subspaces(torch.randn(10, 8), torch.zeros(9), 3, 4, 6), ValueError,
     "y must be a tensor of shape (N,) = (10,)"),
    (lambda: NM.corr_subspaces(torch.randn(10, 8), torch.zeros(10), 3, 0, 6), ValueError,
     "r_hat must be an integer >= 1, got 0"),
    (lambda: NM.PenultimateMLP(10, 3, 8, n_hidden=0), ValueError, "n_hidden must be an integer >= 1, got 0"),
    (lambda: NM.PenultimateMLP(10, 3, 8, kind="relu"), ValueError, "kind must be 'linear', 'dln' or 'cdln'"),
    (lambda: NM.PenultimateMLP(10, 3, 8, kind="cdln", dln_depth=1), ValueError, "dln_depth must be an integer >= 2"),
    (lambda: NM.PenultimateMLP(10, 0, 8), ValueError, "n_classes must be an integer >= 1, got 0"),
    (lambda: NM.DeepMLP(10, 3, 8, depth=1), ValueError, "depth (layers incl. the classifier; the penultimate is "
                                                        "layers[-2]) must be an integer >= 2, got 1"),
    (lambda: NM.DeepMLP(10, 3, 8, depth=4, n_nonlinear=4), ValueError, "n_nonlinear must be an integer in [0, 3], got 4"),
    (lambda: NM.DeepMLP(10, 3, 8, depth=4, init="normal"), ValueError, "init must be 'uniform' or 'orthogonal'"),
    (lambda: NM.DeepMLP(10, 3, "8", depth=4), TypeError, "width must be an integer, got str '8'"),
    (lambda: NM.LowRankMLP(10, 3, 8, rank=9), ValueError, "rank must be an integer in [1, 8], got 9"),
    (lambda: NM.LowRankLinear(4, 4, 0), ValueError, "rank must be an integer >= 1, got 0"),
    (lambda: NM.SmallVGG(channels=()), ValueError, "channels must be a non-empty sequence"),
    (lambda: NM.SmallVGG(channels=(16, 0)), ValueError, "channels[1] must be an integer >= 1, got 0"),
    (lambda: NM.SmallVGG(channels=(4, 4, 4, 4, 4, 4), image=32), ValueError,
     "image = 32 is too small for 6 2×2 poolings"),
    (lambda: NM.SmallViT(image=32, patch=5), ValueError, "patch = 5 must divide image = 32"),
    (lambda: NM.SmallViT(dim=64, heads=5), ValueError, "heads = 5 must divide dim = 64"),
    (lambda: NM.SmallViT(pen_kind="wide"), ValueError, "pen_kind must be 'linear', 'dln' or 'cdln', got 'wide'"),
    (lambda: NM.build_model("resnet", _toy(), {}), ValueError, "arch must be 'dln', 'mlp', 'vgg' or 'vit'"),
    (lambda: NM.build_model("mlp", {"X": 1}, {}), TypeError, "data must be a dlnlib.nonlinear.Dataset, got dict"),
    (lambda: NM.build_model("mlp", _toy(), [("width", 8)]), TypeError, "model_kw must be a dict"),
    (lambda: NM.build_penultimate_mlp("cdln", _toy(), 0), ValueError, "width must be an integer >= 1, got 0"),
])
def test_models_reject_bad_arguments_by_name(make, err, words):
    _raises(err, words, make)


def test_model_validation_changes_no_initialisation():
    """The checks draw nothing: a model built twice with one seed has equal weights, and DLNLayer/DeepMLP accept
    NumPy integers as sizes."""
    a, b = NM.DeepMLP(10, 3, 8, depth=np.int64(4), seed=1), NM.DeepMLP(10, 3, 8, depth=4, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


# ----------------------------------------------------------------------------------------------
# dlnlib.nonlinear.datasets
# ----------------------------------------------------------------------------------------------

def test_dataset_tensors_must_agree():
    X, y = torch.randn(6, 4), torch.arange(6) % 3
    _raises(ValueError, "X_train has 6 samples but y_train has 5 labels", ND.Dataset, "t", X, y[:5], X, y, 3)
    _raises(TypeError, "y_train must be an integer tensor of labels (N,), got torch.float32", ND.Dataset, "t", X,
            y.float(), X, y, 3)
    _raises(TypeError, "X_test must be a real floating-point tensor", ND.Dataset, "t", X, y, X.long(), y, 3)
    _raises(ValueError, "y_train must lie in [0, n_classes) = [0, 2), got labels in [0, 2]", ND.Dataset, "t", X, y,
            X, y, 2)
    _raises(ValueError, "X_train samples have shape (4,) but X_test's have (5,)", ND.Dataset, "t", X, y,
            torch.randn(6, 5), y, 3)
    _raises(TypeError, "X_train must be a torch tensor, got ndarray", ND.Dataset, "t", X.numpy(), y, X, y, 3)
    _raises(ValueError, "n_classes must be an integer >= 1, got 0", ND.Dataset, "t", X, y, X, y, 0)


def test_load_dataset_and_mixture_arguments():
    _raises(ValueError, "unknown data set 'cifar100'; known: mnist, fashion-mnist, usps, cifar10-subset",
            ND.load_dataset, "cifar100")
    _raises(TypeError, "name must be a data set name (str), got int", ND.load_dataset, 3)
    _raises(ValueError, "n_train must be an integer >= 1, got 0", ND.load_dataset, "mnist", n_train=0)
    _raises(TypeError, "n_test must be an integer, got float 10.5", ND.load_dataset, "mnist", n_test=10.5)
    _raises(ValueError, "n_test must be an integer >= 0, got -1", ND.load_dataset, "mnist", n_test=-1)
    _raises(ValueError, "n_classes must be an integer >= 1, got 0", ND.gaussian_mixture, 0)
    _raises(ValueError, "separation_ must be finite and >= 0, got -1.0", ND.gaussian_mixture, 3, 5, 10, 5, -1.0)
    assert len(ND.gaussian_mixture(3, 5, 9, 0, seed=0).y_test) == 0  # no test set: allowed


# ----------------------------------------------------------------------------------------------
# dlnlib.nonlinear.fit
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, err, words", [
    (dict(lr=0.0), ValueError, "lr (the step size η) must be finite and > 0, got 0.0"),
    (dict(lr=-0.1), ValueError, "lr (the step size η) must be finite and > 0, got -0.1"),
    (dict(lr=float("nan")), ValueError, "lr (the step size η) must be finite and > 0, got nan"),
    (dict(lr="0.1"), TypeError, "lr (the step size η) must be a real number, got str '0.1'"),
    (dict(iterations=-1), ValueError, "iterations must be an integer >= 0, got -1"),
    (dict(iterations=10.5), TypeError, "iterations must be an integer, got float 10.5"),
    (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1, got 0"),
    (dict(batch_size=4.0), TypeError, "batch_size must be an integer, got float 4.0"),
    (dict(optimizer="lbfgs"), ValueError, "optimizer must be 'sgd' or 'adam', got 'lbfgs'"),
    (dict(loss="hinge"), ValueError, "loss must be 'ce' (cross-entropy) or 'mse', got 'hinge'"),
    (dict(momentum=1.0), ValueError, "momentum must be a finite number in [0, 1), got 1.0"),
    (dict(weight_decay=-1e-3), ValueError, "weight_decay must be a finite number in [0, inf], got -0.001"),
    (dict(alpha=0.0), ValueError, "alpha (the outer factors' step multiplier α) must be finite and > 0"),
    (dict(cosine="yes"), TypeError, "cosine must be True or False, got str 'yes'"),
    (dict(record_every=0), ValueError, "record_every must be an integer >= 1, got 0"),
    (dict(sv_every=-5), ValueError, "sv_every must be an integer >= 0, got -5"),
    (dict(dist_every=1, r=9), ValueError, "r (the subspace rank of eq. 20) must be an integer in [1, 8], got 9"),
    (dict(eval_test=0), ValueError, "eval_test must be an integer >= 1, got 0"),
    (dict(device="gpu0"), ValueError, "device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"),
])
def test_fit_rejects_bad_arguments_by_name(kw, err, words):
    data = _toy()
    model = NM.DeepMLP(data.d_in, data.n_classes, 8, 3)
    args = dict(iterations=2, batch_size=4, lr=0.01, device="cpu")
    _raises(err, words, NF.fit, model, data, **dict(args, **kw))


def test_fit_checks_model_and_data_types_and_trains_full_batch_above_n():
    data = _toy()
    model = NM.DeepMLP(data.d_in, data.n_classes, 8, 3)
    _raises(TypeError, "model must be a torch.nn.Module, got function", NF.fit, lambda x: x, data, iterations=1)
    _raises(TypeError, "data must be a dlnlib.nonlinear.Dataset, got tuple", NF.fit, model,
            (data.X_train, data.y_train), iterations=1)
    res = NF.fit(model, data, iterations=3, batch_size=1000, lr=0.01, record_every=1, device="cpu")
    assert len(res.iterations) == 4 and np.isfinite(res.train_loss[1:]).all()  # batch above N: all N every step


def test_fit_full_batch_accuracy_and_layerwise_metrics_check_their_inputs():
    data = _toy()
    model = NM.DeepMLP(data.d_in, data.n_classes, 8, 3)
    X, y = data.X_train, data.y_train
    _raises(ValueError, "X has 12 samples but y has 11 labels", NF.fit_full_batch, model, X, y[:11], 3,
            iterations=1, lr=0.1)
    _raises(TypeError, "y must be an integer tensor of labels (N,), got torch.float32", NF.fit_full_batch, model, X,
            y.float(), 3, iterations=1, lr=0.1)
    _raises(ValueError, "y must lie in [0, n_classes) = [0, 2)", NF.fit_full_batch, model, X, y, 2, iterations=1,
            lr=0.1)
    _raises(ValueError, "optimizer must be 'sgd' or 'adam', got 'sgdm'", NF.fit_full_batch, model, X, y, 3,
            iterations=1, lr=0.1, optimizer="sgdm")
    _raises(ValueError, "lr (the step size η) must be finite and > 0, got -1.0", NF.fit_full_batch, model, X, y, 3,
            iterations=1, lr=-1.0)
    _raises(ValueError, "batch must be an integer >= 1, got 0", NF.accuracy, model, X, y, 0)
    _raises(TypeError, "X must be a torch tensor, got ndarray", NF.accuracy, model, X.numpy(), y)
    _raises(TypeError, "model must be a DeepMLP", NF.layerwise_metrics, NM.LowRankMLP(5, 3, 8), X, y, 3)
    _raises(ValueError, "alpha (the outer factors' step multiplier α) must be finite and > 0", NF.param_groups,
            model, 0.1, -1.0)


# ----------------------------------------------------------------------------------------------
# dlnlib.data
# ----------------------------------------------------------------------------------------------

def test_data_loaders_reject_bad_arguments_by_name():
    _raises(ValueError, "unknown data set 'movielens1m'; known: mnist, fashion-mnist, usps, cifar10-subset, "
                        "movielens100k", D.available, "movielens1m")
    _raises(TypeError, "a data set name must be a str, got int 3", D.available, 3)
    _raises(ValueError, "split must be 'train' or 'test', got 'validation'", D.load_mnist, "validation")
    _raises(ValueError, "relpath must be a relative path inside a data folder", D.find_file, "/etc/passwd")
    _raises(ValueError, "relpath must be a relative path inside a data folder", D.find_file, "")
    _raises(ValueError, "take must be an integer in [1, 10000]", D.cut_cifar_subset, "x.tar.gz", 0)
    _raises(ValueError, "timeout must be a positive number of seconds, got 0", D.fetch, ["mnist"], offline=True,
            timeout=0, log=lambda *a: None)
    _raises(ValueError, "unknown data set 'cifar100'", D.fetch, ["cifar100"], offline=True, log=lambda *a: None)


def test_fetch_takes_one_name_as_a_string(tmp_path):
    res = D.fetch("usps", tmp_path, offline=True, log=lambda *a: None)  # once: 'u', 's', 'p', 's' were tried
    assert [r.name for r in res] == ["usps"]


def test_movielens_matrix_rejects_bad_arguments_by_name():
    r = np.array([[1, 1, 5, 0], [1, 2, 3, 0], [2, 2, 4, 0]])
    _raises(ValueError, "test_fraction must lie in [0, 1], got 1.5", D.movielens_matrix, r, 1.5)
    _raises(ValueError, "test_fraction must lie in [0, 1], got nan", D.movielens_matrix, r, float("nan"))
    _raises(ValueError, "test_fraction must lie in [0, 1], got '0.2'", D.movielens_matrix, r, "0.2")
    _raises(ValueError, "ids (columns 0 and 1) must be whole numbers", D.movielens_matrix, r + 0.5, 0.2)
    _raises(TypeError, "ratings must be numbers", D.movielens_matrix, r.astype(str), 0.2)
    _raises(ValueError, "shape must be two integers (n_users, n_items) >= 1, got (2,)", D.movielens_matrix, r, 0.2,
            shape=(2,))
    _raises(ValueError, "ids up to (2, 2) do not fit shape (1, 2)", D.movielens_matrix, r, 0.2, shape=(1, 2))
    M, tr, te = D.movielens_matrix(r.astype(float), 0.0)  # whole-number float ids are fine
    assert M.shape == (2, 2) and int(tr.sum()) == 3 and not te.any()


# ----------------------------------------------------------------------------------------------
# dlnlib.sweep
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, err, words", [
    (dict(fn="f", grid=[]), TypeError, "fn must be callable, got str"),
    (dict(fn=len, grid=None), TypeError, "grid must be a list of dicts or a dict of lists, got NoneType"),
    (dict(fn=len, grid=3.5), TypeError, "grid must be a list of dicts or a dict of lists, got float"),
    (dict(fn=len, grid=[{"a": 1}], cache="disk"), TypeError, "cache must be a callable cache(name, params, compute)"),
    (dict(fn=len, grid=[], key=5), TypeError, "key must be a non-empty string without path separators, got int 5"),
    (dict(fn=len, grid=[], key=""), ValueError, "key must be a non-empty string"),
    (dict(fn=len, grid=[], timeout="10"), TypeError, "timeout must be a positive number of seconds or None, got str"),
    (dict(fn=len, grid=[], timeout=float("nan")), ValueError, "timeout must be a positive number of seconds"),
])
def test_sweep_rejects_bad_arguments_by_name(kwargs, err, words):
    _raises(err, words, sweep, **kwargs)


def test_an_empty_grid_is_documented_as_no_points():
    """An empty list (or a dict with an empty list) has no points: ``[]``, nothing called; ``{}`` is one point."""
    calls = []
    assert sweep(lambda **kw: calls.append(kw), []) == [] and sweep(lambda **kw: calls.append(kw), {"a": []}) == []
    assert calls == []
    assert sweep(lambda **kw: kw, {}) == [{}]


def test_load_dataset_output_passes_the_dataset_checks(monkeypatch):
    """The loaders' own output (uint8 images and labels, as the files hold them) passes the new checks, with
    ``n_test = 0`` (the T1/T3 runs on the CIFAR subset) too."""
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, size=(1040, 3, 8, 8), dtype=np.uint8)  # the subset's 1,000 test images + 40
    labels = (np.arange(1040) % 10).astype(np.uint8)

    def fake_raw(name):
        if name == "cifar10-subset":
            return imgs, labels, imgs[:0], labels[:0]
        return imgs[:40, :1], labels[:40], imgs[:20, :1], labels[:20]

    monkeypatch.setattr(ND, "_raw", fake_raw)
    ds = ND.load_dataset("cifar10-subset", 20, 0, flatten=False)
    assert len(ds.y_train) == 20 and len(ds.y_test) == 0 and tuple(ds.X_train.shape[1:]) == (3, 8, 8)
    ds = ND.load_dataset("mnist", 20, 10)
    assert ds.X_train.shape == (20, 64) and len(ds.y_test) == 10
    NF.fit(NM.build_model("mlp", ds, dict(width=8, depth=3)), ds, iterations=2, batch_size=8, device="cpu")


def test_fit_rejects_a_model_and_data_of_different_dtypes():
    data = _toy()
    model = NM.DeepMLP(data.d_in, data.n_classes, 8, 3).double()
    _raises(TypeError, "the model's parameters are torch.float64 but data.X_train is torch.float32", NF.fit, model,
            data, iterations=1, device="cpu")
    _raises(TypeError, "the model's parameters are torch.float64 but X is torch.float32", NF.fit_full_batch, model,
            data.X_train, data.y_train, 3, iterations=1, lr=0.1)
    d64 = ND.Dataset("t", data.X_train.double(), data.y_train, data.X_test.double(), data.y_test, 3)
    assert NF.fit(model, d64, iterations=1, batch_size=4, device="cpu").final_acc >= 0  # float64 for both: fine
