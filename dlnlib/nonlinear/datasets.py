"""Classification data sets for the nonlinear networks: :class:`Dataset` (tensors), :func:`load_dataset`
(MNIST, Fashion-MNIST, USPS, the CIFAR-10 subset via :mod:`dlnlib.data`) and :func:`gaussian_mixture`.

Images are ``(N, C, H, W)`` float32 (``flatten=True``: ``(N, C·H·W)``), labels ``(N,)`` int64 in ``0..K−1``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from .. import data as D
from .._util import Tensor, check_integer, check_positive


@dataclass
class Dataset:
    """A classification set as tensors: ``X_train (N, …)``, ``y_train (N,)``, ``X_test``, ``y_test``, ``n_classes``."""

    name: str
    X_train: Tensor
    y_train: Tensor
    X_test: Tensor
    y_test: Tensor
    n_classes: int = 10

    def __post_init__(self):
        """Check that the tensors agree: ``X`` real floating point with one row per label, train and test samples of
        one shape, labels integer ``(N,)`` in ``[0, n_classes)``."""
        check_integer("n_classes", self.n_classes, 1)
        for split in ("train", "test"):
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            for name, x in ((f"X_{split}", X), (f"y_{split}", y)):
                if not isinstance(x, Tensor):
                    raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}.")
            if X.ndim < 2 or X.is_complex() or not X.is_floating_point():
                raise TypeError(f"X_{split} must be a real floating-point tensor (N, …) (float32 as the paper's nets), "
                                f"got {X.dtype} of shape {tuple(X.shape)}.")
            if y.ndim != 1 or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
                raise TypeError(f"y_{split} must be an integer tensor of labels (N,), got {y.dtype} of shape "
                                f"{tuple(y.shape)}.")
            if X.shape[0] != y.shape[0]:
                raise ValueError(f"X_{split} has {X.shape[0]} samples but y_{split} has {y.shape[0]} labels.")
            if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.n_classes):
                raise ValueError(f"y_{split} must lie in [0, n_classes) = [0, {self.n_classes}), got labels in "
                                 f"[{int(y.min())}, {int(y.max())}].")
        if self.X_test.shape[0] and self.X_test.shape[1:] != self.X_train.shape[1:]:
            raise ValueError(f"X_train samples have shape {tuple(self.X_train.shape[1:])} but X_test's have "
                             f"{tuple(self.X_test.shape[1:])}.")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one sample, ``X_train.shape[1:]`` (``(C, H, W)`` or ``(d,)``)."""
        return tuple(self.X_train.shape[1:])

    @property
    def d_in(self) -> int:
        """Features per sample, the product of :attr:`input_shape`."""
        return int(np.prod(self.input_shape))

    def to(self, device) -> "Dataset":
        """The same data set with every tensor on ``device``."""
        return Dataset(self.name, self.X_train.to(device), self.y_train.to(device), self.X_test.to(device),
                       self.y_test.to(device), self.n_classes)


def _take(X: np.ndarray, y: np.ndarray, n: int | None, rng: np.random.Generator, balanced: bool = True):
    """``n`` of the samples ``X (N, …)``, ``y (N,)`` in their original order (class-balanced: ``n // K`` per class,
    the rest at random); all of them when ``n`` is ``None`` or ``≥ N``."""
    if n is None or n >= len(y):
        return X, y
    if balanced:
        K = int(y.max()) + 1
        idx = np.concatenate([rng.permutation(np.nonzero(y == k)[0])[: n // K] for k in range(K)])
        rest = np.setdiff1d(np.arange(len(y)), idx)
        idx = np.concatenate([idx, rng.permutation(rest)[: n - len(idx)]])
    else:
        idx = rng.permutation(len(y))[:n]
    idx = np.sort(idx)
    return X[idx], y[idx]


KNOWN = ("mnist", "fashion-mnist", "usps", "cifar10-subset")
"""The names :func:`load_dataset` knows."""


@functools.lru_cache(maxsize=8)
def _raw(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The raw arrays of a data set, read once per process: ``(X_train, y_train, X_test, y_test)`` with images
    ``(N, C, H, W)``; ``cifar10-subset``'s single split is returned as train (and empty test)."""
    key = name.lower()
    if key == "cifar10-subset":
        X, y = D.load_cifar10_subset(flatten=False)
        return X, y, X[:0], y[:0]
    loader = {"mnist": D.load_mnist, "fashion-mnist": D.load_fashion_mnist, "usps": D.load_usps}.get(key)
    if loader is None:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(KNOWN)}.")
    Xtr, ytr = loader("train")
    Xte, yte = loader("test")
    return Xtr[:, None], ytr, Xte[:, None], yte


def load_dataset(name: str, n_train: int | None = None, n_test: int | None = None, seed: int = 0,
                 flatten: bool = True, standardise: bool = True) -> Dataset:
    """Load ``mnist``, ``fashion-mnist``, ``usps`` or ``cifar10-subset`` (via :mod:`dlnlib.data`) as float32 tensors.

    ``n_train``/``n_test``: class-balanced random subsets (``None``: all; ``n_test = 0``: no test samples).
    ``cifar10-subset`` has no test split: its 4,000 images are split 3,000/1,000 (after subsetting) at random.
    ``standardise`` subtracts the training mean and divides by the training std (one scalar per channel). Raises
    :class:`dlnlib.data.DatasetMissingError` when the files are absent.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a data set name (str), got {type(name).__name__}; known: {', '.join(KNOWN)}.")
    for arg, v, least in (("n_train", n_train, 1), ("n_test", n_test, 0)):  # n_test = 0: no test samples
        if v is not None:
            check_integer(arg, v, least)
    rng = np.random.default_rng(seed)
    key = name.lower()
    Xtr, ytr, Xte, yte = _raw(key)
    if key == "cifar10-subset":
        X, y = Xtr, ytr
        perm = rng.permutation(len(y))
        n_te = 1000
        Xte, yte, Xtr, ytr = X[perm[:n_te]], y[perm[:n_te]], X[perm[n_te:]], y[perm[n_te:]]
    Xtr, ytr = _take(Xtr, ytr, n_train, rng)
    Xte, yte = _take(Xte, yte, n_test, rng)
    Xtr, Xte = torch.as_tensor(Xtr, dtype=torch.float32), torch.as_tensor(Xte, dtype=torch.float32)
    if standardise:
        mean = Xtr.mean(dim=(0, 2, 3), keepdim=True)
        std = Xtr.std(dim=(0, 2, 3), keepdim=True)
        Xtr, Xte = (Xtr - mean) / std, (Xte - mean) / std
    if flatten:
        Xtr, Xte = Xtr.flatten(1), Xte.flatten(1)
    return Dataset(key, Xtr, torch.as_tensor(ytr), Xte, torch.as_tensor(yte), 10)


def gaussian_mixture(n_classes: int = 10, d: int = 100, n_train: int = 2000, n_test: int = 1000,
                     separation_: float = 3.0, seed: int = 0) -> Dataset:
    """A synthetic ``K``-class Gaussian mixture (unit-variance noise around random means of norm ``separation_``);
    the workbook's proxy for [K] Fig. 1 when MNIST is absent.

    >>> ds = gaussian_mixture(3, 5, 30, 9, seed=0)
    >>> tuple(ds.X_train.shape), int(ds.y_train.max()) + 1
    ((30, 5), 3)
    """
    check_integer("n_classes", n_classes, 1)
    check_integer("d", d, 1)
    check_integer("n_train", n_train, 1)
    check_integer("n_test", n_test, 0)
    check_positive("separation_", separation_, allow_zero=True)
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n_classes, d, generator=g)
    means = separation_ * means / means.norm(dim=1, keepdim=True)

    def draw(n):
        y = torch.arange(n) % n_classes
        return means[y] + torch.randn(n, d, generator=g), y
    Xtr, ytr = draw(n_train)
    Xte, yte = draw(n_test)
    return Dataset("gaussian-mixture", Xtr, ytr, Xte, yte, n_classes)
