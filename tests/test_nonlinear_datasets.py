"""dlnlib.nonlinear.datasets: class-balanced subsets, standardisation, the CIFAR subset's split, the Gaussian mixture."""

import numpy as np
import pytest
import torch

from dlnlib import data as D
from dlnlib.nonlinear.datasets import Dataset, _take, gaussian_mixture, load_dataset


def test_take_is_class_balanced_and_keeps_the_order():
    y = np.repeat(np.arange(4), 25)
    X = np.arange(100)
    Xs, ys = _take(X, y, 20, np.random.default_rng(0))
    assert np.bincount(ys).tolist() == [5, 5, 5, 5] and np.all(np.diff(Xs) > 0)
    assert _take(X, y, None, np.random.default_rng(0))[0] is X


def test_gaussian_mixture_shapes_and_dataset_properties():
    ds = gaussian_mixture(3, 5, 30, 9, seed=0)
    assert isinstance(ds, Dataset) and ds.input_shape == (5,) and ds.d_in == 5 and ds.n_classes == 3
    assert ds.y_train.tolist()[:4] == [0, 1, 2, 0] and tuple(ds.X_test.shape) == (9, 5)
    assert torch.equal(ds.to("cpu").X_train, ds.X_train)


@pytest.mark.skipif(not D.available("fashion-mnist"), reason="Fashion-MNIST not in DLN_DATA_DIR")
def test_load_dataset_subsets_and_standardises():
    ds = load_dataset("fashion-mnist", 500, 100, seed=0)
    assert tuple(ds.X_train.shape) == (500, 784) and tuple(ds.X_test.shape) == (100, 784)
    assert np.bincount(ds.y_train.numpy()).tolist() == [50] * 10
    assert abs(float(ds.X_train.mean())) < 1e-4 and float(ds.X_train.std()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.skipif(not D.available("cifar10-subset"), reason="CIFAR subset not in DLN_DATA_DIR")
def test_cifar_subset_split():
    ds = load_dataset("cifar10-subset", flatten=False)
    assert tuple(ds.X_train.shape) == (3000, 3, 32, 32) and tuple(ds.X_test.shape) == (1000, 3, 32, 32)


def test_unknown_data_set_is_named():
    with pytest.raises(ValueError, match="unknown data set 'nope'"):
        load_dataset("nope")
