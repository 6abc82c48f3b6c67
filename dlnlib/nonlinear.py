"""Nonlinear networks with a linear, DLN or C-DLN penultimate layer ([K] §2.3, §4.2, Figs 1, 20, 21, Table 1; talk T1–T3, T10).

Models (``torch.nn``; every model exposes ``model.penultimate``, the layer whose weight Figs 1/20 track):

- :class:`PenultimateMLP`: ``ψ(x) = W_out ρ(P ρ(W_k … ρ(W_1 x)))`` with the penultimate map ``P`` one of
  :class:`LinearLayer` (the "Original"), :class:`DLNLayer` (``P = W̃_3 W̃_2 W̃_1``, three square factors, the
  "Original + DLN") or :class:`CDLNLayer` (``P = W̃_3 W̃_2 W̃_1`` with ``W̃_1 = εV_r̂ᵀ`` (``r̂×d``), ``W̃_2 = εI``,
  ``W̃_3 = εU_r̂`` (``d×r̂``), Algorithm 1 of [K] with ``r̂ = 4·d_y``; ``V`` from ``M^corr = Y Xᵀ`` of the
  penultimate layer's input features ``X`` where applicable (right side), ``U`` random (THEORY §3)).
- :class:`DeepMLP`: a plain ``depth``-layer MLP whose first ``n_nonlinear`` layers have ReLU (T1/T3, Fig. 1 DLN
  when ``n_nonlinear = 0``), :class:`LowRankMLP` (T10: hidden weights factorised ``W = B A``).
- :class:`SmallVGG` (3×3 conv blocks + two linear layers) and :class:`SmallViT` (patch embedding, pre-norm
  transformer blocks; the penultimate layer is the last linear map of the last MLP block, as in [K] §4.2).

Training (:func:`fit`): mini-batch SGD (momentum, weight decay) or Adam, optional cosine annealing, per-group
step multipliers (C-DLN's ``α`` on the outer factors); records test accuracy against iterations and against the
**training** wall-clock time (evaluation excluded), and the penultimate-layer trackers: the singular values of
``W(t) − W(0)`` (Fig. 1) and the subspace distance ``r − ‖U_r(t)ᵀU_r(t+1)‖_F²`` between consecutive iterations
(eq. 20, Fig. 20). Costs (:func:`count_params`, :func:`count_macs`, :func:`training_memory`) are counted, not
profiled: MACs per sample of the forward pass from the layer shapes, memory as parameters + gradients + optimiser
state + the activations autograd saves for one batch (measured with saved-tensor hooks).

The device is ``cuda`` when available (``device="auto"``); computations run in float32 (as the paper's nets).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .metrics import compression, separation, subspace_distance

Tensor = torch.Tensor


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``cuda`` if available for ``"auto"``, else the given device."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """A classification set as tensors: ``X_train (N, …)``, ``y_train (N,)``, ``X_test``, ``y_test``, ``n_classes``."""

    name: str
    X_train: Tensor
    y_train: Tensor
    X_test: Tensor
    y_test: Tensor
    n_classes: int = 10

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.X_train.shape[1:])

    @property
    def d_in(self) -> int:
        return int(np.prod(self.input_shape))

    def to(self, device) -> "Dataset":
        return Dataset(self.name, self.X_train.to(device), self.y_train.to(device), self.X_test.to(device),
                       self.y_test.to(device), self.n_classes)


def _take(X: np.ndarray, y: np.ndarray, n: int | None, rng: np.random.Generator, balanced: bool = True):
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


@functools.lru_cache(maxsize=8)
def _raw(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The raw arrays of a data set, read once per process: ``(X_train, y_train, X_test, y_test)`` with images
    ``(N, C, H, W)``; ``cifar10-subset``'s single split is returned as train (and empty test)."""
    from . import data as D

    key = name.lower()
    if key == "cifar10-subset":
        X, y = D.load_cifar10_subset(flatten=False)
        return X, y, X[:0], y[:0]
    loader = {"mnist": D.load_mnist, "fashion-mnist": D.load_fashion_mnist, "usps": D.load_usps}.get(key)
    if loader is None:
        raise ValueError(f"unknown data set {name!r}; known: mnist, fashion-mnist, usps, cifar10-subset.")
    Xtr, ytr = loader("train")
    Xte, yte = loader("test")
    return Xtr[:, None], ytr, Xte[:, None], yte


def load_dataset(name: str, n_train: int | None = None, n_test: int | None = None, seed: int = 0,
                 flatten: bool = True, standardise: bool = True) -> Dataset:
    """Load ``mnist``, ``fashion-mnist``, ``usps`` or ``cifar10-subset`` (via :mod:`dlnlib.data`) as float32 tensors.

    ``n_train``/``n_test``: class-balanced random subsets (``None``: all). ``cifar10-subset`` has no test split:
    its 4,000 images are split 3,000/1,000 (after subsetting) at random. ``standardise`` subtracts the training
    mean and divides by the training std (one scalar per channel). Raises
    :class:`dlnlib.data.DatasetMissingError` when the files are absent.
    """
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
    FIGURES.md's proxy for Fig. 1 when MNIST is absent.

    >>> ds = gaussian_mixture(3, 5, 30, 9, seed=0)
    >>> tuple(ds.X_train.shape), int(ds.y_train.max()) + 1
    ((30, 5), 3)
    """
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n_classes, d, generator=g)
    means = separation_ * means / means.norm(dim=1, keepdim=True)

    def draw(n):
        y = torch.arange(n) % n_classes
        return means[y] + torch.randn(n, d, generator=g), y
    Xtr, ytr = draw(n_train)
    Xte, yte = draw(n_test)
    return Dataset("gaussian-mixture", Xtr, ytr, Xte, yte, n_classes)


# ----------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------


def uniform_(W: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """PyTorch's default ``nn.Linear`` init ``U(−1/√fan_in, 1/√fan_in)`` ("random uniform", [K] App. A.4)."""
    bound = 1.0 / math.sqrt(W.shape[1])
    with torch.no_grad():
        W.copy_((2 * torch.rand(W.shape, generator=generator) - 1) * bound)
    return W


def _orthonormal(n: int, k: int, g: torch.Generator) -> Tensor:
    Q, R = torch.linalg.qr(torch.randn(n, k, generator=g, dtype=torch.float64))
    return (Q * torch.sign(torch.diagonal(R))).float()


class LinearLayer(nn.Module):
    """``x ↦ W x + b`` with ``W (d_out, d_in)`` (random uniform init); ``weight`` is the tracked matrix."""

    outer_names: tuple[str, ...] = ()

    def __init__(self, d_in: int, d_out: int, generator: torch.Generator | None = None, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(uniform_(torch.empty(d_out, d_in), generator))
        self.bias = nn.Parameter(torch.zeros(d_out)) if bias else None

    def matrix(self) -> Tensor:
        """The end-to-end matrix ``(d_out, d_in)``."""
        return self.weight

    def forward(self, x: Tensor) -> Tensor:
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias


class DLNLayer(nn.Module):
    """A linear map overparameterised as ``W_L ⋯ W_1`` (``depth`` factors, inner ``width``; [K] eq. before §2.3).

    ``init="uniform"``: each factor PyTorch's default init (as a stack of ``nn.Linear``); ``"orthogonal"``:
    ``eps·Q``. The bias sits on the last factor. ``forward`` applies the factors one by one (``depth`` matmuls
    per sample, which is what the MAC count and the timing measure).
    """

    outer_names: tuple[str, ...] = ()

    def __init__(self, d_in: int, d_out: int, depth: int = 3, width: int | None = None, init: str = "uniform",
                 eps: float = 1.0, generator: torch.Generator | None = None, bias: bool = True):
        super().__init__()
        width = width or max(d_in, d_out)
        dims = [d_in] + [width] * (depth - 1) + [d_out]
        ws = []
        for a, b in zip(dims[:-1], dims[1:]):
            W = torch.empty(b, a)
            if init == "uniform":
                uniform_(W, generator)
            elif init == "orthogonal":
                W = eps * (_orthonormal(b, a, generator) if b >= a else _orthonormal(a, b, generator).T)
            else:
                raise ValueError(f"init must be 'uniform' or 'orthogonal', got {init!r}.")
            ws.append(nn.Parameter(W.contiguous()))
        self.factors = nn.ParameterList(ws)
        self.bias = nn.Parameter(torch.zeros(d_out)) if bias else None

    def matrix(self) -> Tensor:
        P = self.factors[0]
        for W in self.factors[1:]:
            P = W @ P
        return P

    def forward(self, x: Tensor) -> Tensor:
        for W in self.factors:
            x = x @ W.T
        return x if self.bias is None else x + self.bias


class CDLNLayer(DLNLayer):
    """C-DLN penultimate layer (Algorithm 1 of [K], THEORY §3): ``W̃_1 = εVᵀ (r̂×d_in)``, ``W̃_l = εI (r̂×r̂)``,
    ``W̃_L = εU (d_out×r̂)``. ``U (d_out, r̂)``, ``V (d_in, r̂)`` orthonormal (see :func:`corr_subspaces`).
    The outer factors (``factors.0`` and ``factors.{L-1}``) take step ``α·η`` (:func:`param_groups`).
    """

    def __init__(self, U: Tensor, V: Tensor, depth: int = 3, eps: float = 1.0, bias: bool = True):
        nn.Module.__init__(self)
        r_hat = U.shape[1]
        if V.shape[1] != r_hat:
            raise ValueError(f"U has {r_hat} columns but V has {V.shape[1]}; both must have r̂ columns.")
        if r_hat > min(U.shape[0], V.shape[0]):
            raise ValueError(f"r̂ = {r_hat} exceeds min(d_out, d_in) = {min(U.shape[0], V.shape[0])}; "
                             f"C-DLN needs r̂ <= both widths.")
        eye = torch.eye(r_hat)
        ws = [eps * V.T.float()] + [eps * eye.clone() for _ in range(depth - 2)] + [eps * U.float()]
        self.factors = nn.ParameterList([nn.Parameter(W.contiguous()) for W in ws])
        self.bias = nn.Parameter(torch.zeros(U.shape[0])) if bias else None
        self.outer_names = ("factors.0", f"factors.{depth - 1}")

    @property
    def r_hat(self) -> int:
        return self.factors[0].shape[0]


def corr_subspaces(X: Tensor, y: Tensor, n_classes: int, r_hat: int, d_out: int, seed: int = 0,
                   use_corr: bool = True) -> tuple[Tensor, Tensor]:
    """Outer subspaces for :class:`CDLNLayer` from ``M^corr = Y Xᵀ`` ([K] §2.3; THEORY §1.1, §3).

    ``X (N, d_in)``: the features entering the layer; ``y (N,)`` labels; ``Y`` one-hot ``(K, N)``.
    ``V (d_in, r̂)``: the right singular vectors of ``M^corr`` (rank ≤ K) for its nonzero singular values, completed
    by random directions orthogonal to them; ``U (d_out, r̂)``: random orthonormal (``M^corr``'s left side lives in
    ``R^K``, not in the layer's output space, so "otherwise random"). ``use_corr=False``: both random.

    >>> X = torch.randn(50, 8); y = torch.arange(50) % 3
    >>> U, V = corr_subspaces(X, y, 3, 4, 6)
    >>> tuple(U.shape), tuple(V.shape), bool(torch.allclose(V.T @ V, torch.eye(4), atol=1e-5))
    ((6, 4), (8, 4), True)
    """
    g = torch.Generator().manual_seed(seed)
    d_in = X.shape[1]
    if r_hat > min(d_in, d_out):
        raise ValueError(f"r̂ = {r_hat} exceeds min(d_in, d_out) = {min(d_in, d_out)}; choose r̂ <= both widths.")
    U = _orthonormal(d_out, r_hat, g)
    if not use_corr:
        return U, _orthonormal(d_in, r_hat, g)
    Y = torch.nn.functional.one_hot(y.long(), n_classes).T.double()  # (K, N)
    Mc = Y @ X.double()  # (K, d_in)
    _, s, Vh = torch.linalg.svd(Mc, full_matrices=False)
    k = int((s > s.max() * 1e-10).sum()) if s.numel() else 0
    k = min(k, r_hat)
    Vc = Vh[:k].T  # (d_in, k)
    if k < r_hat:  # random completion orthogonal to the correlation directions
        R = torch.randn(d_in, r_hat - k, generator=g, dtype=torch.float64)
        R = R - Vc @ (Vc.T @ R)
        Q, Rr = torch.linalg.qr(R)
        Vc = torch.cat([Vc, Q * torch.sign(torch.diagonal(Rr))], 1)
    return U, Vc.float()


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------


class PenultimateMLP(nn.Module):
    """``ψ(x) = W_out ρ(P ρ(W_k ⋯ ρ(W_1 x)))`` ([K] §4.2 with ``k = 2``): ``hidden`` widths for ``W_1..W_k``,
    penultimate map ``P`` (``width → width``) of kind ``"linear"``, ``"dln"`` or ``"cdln"``.

    For ``"cdln"`` pass ``subspaces=(U, V)`` (from :func:`corr_subspaces` on ``self.features(X)`` of a
    ``"linear"`` twin built with the same seed, see :func:`build_penultimate_mlp`).
    """

    def __init__(self, d_in: int, n_classes: int, width: int, n_hidden: int = 2, kind: str = "linear", *,
                 r_hat: int | None = None, eps: float = 1.0, subspaces: tuple[Tensor, Tensor] | None = None,
                 dln_depth: int = 3, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        dims = [d_in] + [width] * n_hidden
        self.body = nn.ModuleList([LinearLayer(a, b, g) for a, b in zip(dims[:-1], dims[1:])])
        g_pen = torch.Generator().manual_seed(seed + 7919)
        if kind == "linear":
            self.penultimate = LinearLayer(width, width, g_pen)
        elif kind == "dln":
            self.penultimate = DLNLayer(width, width, dln_depth, width, "uniform", generator=g_pen)
        elif kind == "cdln":
            if subspaces is None:
                r_hat = r_hat or 4 * n_classes
                subspaces = corr_subspaces(torch.zeros(1, width), torch.zeros(1), n_classes, r_hat, width, seed,
                                           use_corr=False)
            self.penultimate = CDLNLayer(*subspaces, depth=dln_depth, eps=eps)
        else:
            raise ValueError(f"kind must be 'linear', 'dln' or 'cdln', got {kind!r}.")
        self.kind = kind
        self.head = LinearLayer(width, n_classes, torch.Generator().manual_seed(seed + 104729))

    def features(self, x: Tensor) -> Tensor:
        """The penultimate layer's input ``ρ(W_k ⋯ ρ(W_1 x))``, ``(N, width)``."""
        x = x.flatten(1)
        for layer in self.body:
            x = torch.relu(layer(x))
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.head(torch.relu(self.penultimate(self.features(x))))


def build_penultimate_mlp(kind: str, data: Dataset, width: int, n_hidden: int = 2, *, r_hat: int | None = None,
                          eps: float = 1.0, use_corr: bool = True, n_corr: int = 5000, seed: int = 0) -> PenultimateMLP:
    """A :class:`PenultimateMLP` for ``data``; for ``"cdln"`` the outer subspaces come from ``M^corr = Y Xᵀ`` of the
    penultimate input features at initialisation (first ``n_corr`` training samples) with ``r̂ = 4·d_y`` by default.
    All three kinds share ``W_1..W_k`` and ``W_out`` at initialisation (same seed)."""
    K = data.n_classes
    if kind != "cdln":
        return PenultimateMLP(data.d_in, K, width, n_hidden, kind, seed=seed)
    r_hat = r_hat or 4 * K
    twin = PenultimateMLP(data.d_in, K, width, n_hidden, "linear", seed=seed)
    with torch.no_grad():
        X = twin.features(data.X_train[:n_corr].cpu())
    U, V = corr_subspaces(X, data.y_train[:n_corr].cpu(), K, r_hat, width, seed, use_corr)
    return PenultimateMLP(data.d_in, K, width, n_hidden, "cdln", r_hat=r_hat, eps=eps, subspaces=(U, V), seed=seed)


class DeepMLP(nn.Module):
    """``depth`` linear layers of width ``width`` (+ a linear classifier counted in ``depth``); ReLU after the first
    ``n_nonlinear`` layers only (``n_nonlinear = 0``: a DLN; T3's hybrid: 4 then 6 linear). Default init:
    random uniform; ``init="orthogonal"`` scales orthogonal factors by ``eps``. The penultimate layer is
    ``layers[-2]``. :meth:`layer_features` returns every layer's output (for compression/separation).
    """

    def __init__(self, d_in: int, n_classes: int, width: int, depth: int, n_nonlinear: int | None = None,
                 init: str = "uniform", eps: float = 1.0, seed: int = 0, bias: bool = True):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        n_nonlinear = depth - 1 if n_nonlinear is None else n_nonlinear
        dims = [d_in] + [width] * (depth - 1) + [n_classes]
        layers = []
        for a, b in zip(dims[:-1], dims[1:]):
            L = LinearLayer(a, b, g, bias=bias)
            if init == "orthogonal":
                with torch.no_grad():
                    L.weight.copy_(eps * (_orthonormal(b, a, g) if b >= a else _orthonormal(a, b, g).T))
            layers.append(L)
        self.layers = nn.ModuleList(layers)
        self.n_nonlinear = n_nonlinear

    @property
    def penultimate(self) -> LinearLayer:
        return self.layers[-2]

    def layer_features(self, x: Tensor) -> list[Tensor]:
        """Outputs of every layer (after its activation), ``[(N, width), …, (N, n_classes)]``."""
        x = x.flatten(1)
        out = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < self.n_nonlinear and i < len(self.layers) - 1:
                x = torch.relu(x)
            out.append(x)
        return out

    def forward(self, x: Tensor) -> Tensor:
        return self.layer_features(x)[-1]


class LowRankLinear(nn.Module):
    """``x ↦ B A x + b`` with ``A (r, d_in)``, ``B (d_out, r)`` (T10), default-uniform scaled so ``BA`` has the
    variance of an ``nn.Linear`` init."""

    outer_names: tuple[str, ...] = ()

    def __init__(self, d_in: int, d_out: int, rank: int, generator: torch.Generator | None = None):
        super().__init__()
        A = uniform_(torch.empty(rank, d_in), generator)
        B = uniform_(torch.empty(d_out, rank), generator) * math.sqrt(3.0)
        self.A, self.B = nn.Parameter(A), nn.Parameter(B)
        self.bias = nn.Parameter(torch.zeros(d_out))

    def matrix(self) -> Tensor:
        return self.B @ self.A

    def forward(self, x: Tensor) -> Tensor:
        return (x @ self.A.T) @ self.B.T + self.bias


class LowRankMLP(nn.Module):
    """MLP with 3 hidden layers (T10); with ``rank`` the weights of the last two hidden layers are ``B A``."""

    def __init__(self, d_in: int, n_classes: int, width: int, rank: int | None = None, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        mk = (lambda a, b: LinearLayer(a, b, g)) if rank is None else (lambda a, b: LowRankLinear(a, b, rank, g))
        self.layers = nn.ModuleList([LinearLayer(d_in, width, g), mk(width, width), mk(width, width),
                                     LinearLayer(width, n_classes, g)])

    @property
    def penultimate(self):
        return self.layers[-2]

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


class SmallVGG(nn.Module):
    """VGG-style CNN: ``len(channels)`` blocks of (3×3 conv, ReLU, 2×2 max-pool), then
    ``flatten → Linear(width) → ReLU → Linear(width, width)`` (the penultimate) ``→ ReLU → Linear(K)``."""

    def __init__(self, in_ch: int = 3, n_classes: int = 10, channels: Sequence[int] = (16, 32, 64), width: int = 128,
                 image: int = 32, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        convs, c = [], in_ch
        for ch in channels:
            convs += [nn.Conv2d(c, ch, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c = ch
        self.convs = nn.Sequential(*convs)
        g = torch.Generator().manual_seed(seed)
        flat = c * (image // 2 ** len(channels)) ** 2
        self.fc1 = LinearLayer(flat, width, g)
        self.penultimate = LinearLayer(width, width, g)
        self.head = LinearLayer(width, n_classes, g)

    def forward(self, x: Tensor) -> Tensor:
        x = self.convs(x).flatten(1)
        return self.head(torch.relu(self.penultimate(torch.relu(self.fc1(x)))))


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_dim: int, g: torch.Generator):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = LinearLayer(dim, 3 * dim, g)
        self.proj = LinearLayer(dim, dim, g)
        self.fc1 = LinearLayer(dim, mlp_dim, g)
        self.fc2 = LinearLayer(mlp_dim, dim, g)

    def forward(self, x: Tensor) -> Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D // self.heads), dim=-1) @ v
        x = x + self.proj(a.transpose(1, 2).reshape(B, T, D))
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.norm2(x))))


class SmallViT(nn.Module):
    """A small ViT: ``patch×patch`` patches → ``dim`` tokens (+ class token, learned positions), ``depth`` pre-norm
    blocks (``heads``-head self-attention, MLP ``dim → mlp_dim → dim``), LayerNorm, linear head. The penultimate
    layer is the last block's ``fc2`` ([K] §4.2). ``pen_kind`` replaces that ``fc2`` by a DLN/C-DLN."""

    def __init__(self, image: int = 32, patch: int = 4, in_ch: int = 3, n_classes: int = 10, dim: int = 64,
                 depth: int = 2, heads: int = 4, mlp_dim: int = 128, seed: int = 0, pen_kind: str = "linear",
                 r_hat: int | None = None, eps: float = 1.0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        n_tok = (image // patch) ** 2
        self.patch = patch
        self.embed = LinearLayer(in_ch * patch * patch, dim, g)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(0.02 * torch.randn(1, n_tok + 1, dim, generator=g))
        self.blocks = nn.ModuleList([_Block(dim, heads, mlp_dim, g) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = LinearLayer(dim, n_classes, g)
        self.dims = dict(n_tok=n_tok + 1, dim=dim, mlp_dim=mlp_dim, depth=depth, heads=heads)
        g_pen = torch.Generator().manual_seed(seed + 7919)
        if pen_kind == "dln":  # 3 factors, inner width max(mlp_dim, dim) ([K] Table 1: +18.9M params for ViT)
            self.blocks[-1].fc2 = DLNLayer(mlp_dim, dim, 3, max(mlp_dim, dim), "uniform", generator=g_pen)
        elif pen_kind == "cdln":  # random outer subspaces (M^corr does not apply to a token-wise layer)
            r_hat = r_hat or 4 * n_classes
            U, V = corr_subspaces(torch.zeros(1, mlp_dim), torch.zeros(1), n_classes, r_hat, dim, seed,
                                  use_corr=False)
            self.blocks[-1].fc2 = CDLNLayer(U, V, 3, eps)
        elif pen_kind != "linear":
            raise ValueError(f"pen_kind must be 'linear', 'dln' or 'cdln', got {pen_kind!r}.")

    @property
    def penultimate(self):
        return self.blocks[-1].fc2

    def forward(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        p = self.patch
        x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(B, (H // p) * (W // p), C * p * p)
        x = torch.cat([self.cls.expand(B, -1, -1), self.embed(x)], 1) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x[:, 0]))


# ----------------------------------------------------------------------------------------------
# Costs
# ----------------------------------------------------------------------------------------------


def count_params(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, example: Tensor) -> int:
    """Multiply–accumulates of one forward pass **per sample**, counted from the layer shapes with forward hooks:
    :class:`LinearLayer`/:class:`LowRankLinear`/:class:`DLNLayer` (``Σ d_out·d_in`` per factor and token),
    ``nn.Conv2d`` (``k²·C_in·C_out·H_out·W_out``) and the attention products of :class:`SmallViT`
    (``2·T²·dim`` per block). Element-wise operations are not counted.

    >>> m = PenultimateMLP(4, 2, 3, 1, "dln")
    >>> count_macs(m, torch.zeros(5, 4))  # 4·3 + 3·(3·3) + 3·2
    45
    """
    total = [0]
    hooks = []

    def lin(mod, inp, out):
        x = inp[0]
        tokens = x.numel() // x.shape[-1]
        if isinstance(mod, DLNLayer):
            total[0] += tokens * sum(W.shape[0] * W.shape[1] for W in mod.factors)
        elif isinstance(mod, LowRankLinear):
            total[0] += tokens * (mod.A.numel() + mod.B.numel())
        else:
            total[0] += tokens * mod.weight.numel()

    def conv(mod, inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1]
        total[0] += out.numel() * k * mod.in_channels // mod.groups

    def attn(mod, inp, out):
        B, T, D = inp[0].shape
        total[0] += B * 2 * T * T * D

    for m in model.modules():
        if isinstance(m, (LinearLayer, DLNLayer, LowRankLinear)):
            hooks.append(m.register_forward_hook(lin))
        elif isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, _Block):
            hooks.append(m.register_forward_hook(attn))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in hooks:
            h.remove()
    return total[0] // example.shape[0]


def activation_bytes(model: nn.Module, example: Tensor, loss_fn=None, y: Tensor | None = None) -> int:
    """Bytes of the tensors autograd saves in one forward pass on the batch ``example`` (unique storages)."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t):
        try:
            seen[(t.data_ptr(), t.numel())] = t.numel() * t.element_size()
        except Exception:  # pragma: no cover
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(example)
        if loss_fn is not None and y is not None:
            loss_fn(out, y)
    params = {p.data_ptr() for p in model.parameters()}
    return int(sum(v for k, v in seen.items() if k[0] not in params))


def training_memory(model: nn.Module, example: Tensor, optimizer: str = "sgd", momentum: float = 0.0) -> dict:
    """Training memory estimate in bytes for one batch ``example``: parameters, gradients, optimiser state
    (momentum buffer for SGD with momentum, two moments for Adam) and saved activations; ``"total"`` their sum."""
    pbytes = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    n_state = 2 if optimizer == "adam" else (1 if momentum else 0)
    act = activation_bytes(model, example.clone())
    return {"params": pbytes, "grads": pbytes, "optimizer": n_state * pbytes, "activations": act,
            "total": pbytes * (2 + n_state) + act}


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------


def param_groups(model: nn.Module, lr: float, alpha: float = 1.0) -> list[dict]:
    """Optimiser groups: C-DLN outer factors (``CDLNLayer.outer_names``) at ``α·lr``, everything else at ``lr``."""
    outer = []
    for name, mod in model.named_modules():
        for o in getattr(mod, "outer_names", ()):
            outer.append(f"{name}.{o}" if name else o)
    fast, rest = [], []
    for name, p in model.named_parameters():
        (fast if name in outer else rest).append(p)
    groups = [{"params": rest, "lr": lr}]
    if fast:
        groups.append({"params": fast, "lr": alpha * lr})
    return groups


@dataclass
class FitResult:
    """What :func:`fit` recorded. ``iterations (K,)``, ``train_time (K,)`` seconds of training (evaluation excluded),
    ``test_acc (K,)`` in %, ``train_loss (K,)`` (mean over the steps since the last record),
    ``update_sv (K', q)`` singular values of ``W(t) − W(0)`` and ``weight_sv (K', q)`` those of ``W(t)`` at
    ``sv_iterations (K',)``, ``subspace_dist (K'',)``
    eq. (20) between ``t`` and ``t+1`` at ``dist_iterations``; ``final_acc``; ``seconds_per_step``."""

    iterations: np.ndarray
    train_time: np.ndarray
    test_acc: np.ndarray
    train_loss: np.ndarray
    update_sv: np.ndarray
    sv_iterations: np.ndarray
    subspace_dist: np.ndarray
    dist_iterations: np.ndarray
    final_acc: float
    seconds_per_step: float
    weight_sv: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    extra: dict = field(default_factory=dict)

    def time_to_fraction(self, fraction: float = 0.99) -> float:
        """Training time until the test accuracy first reaches ``fraction`` × its final value (Table 1's "time to 99%")."""
        hit = np.nonzero(self.test_acc >= fraction * self.final_acc)[0]
        return float(self.train_time[hit[0]]) if hit.size else float("nan")


@torch.no_grad()
def accuracy(model: nn.Module, X: Tensor, y: Tensor, batch: int = 2048) -> float:
    """Classification accuracy in % (eval mode)."""
    was = model.training
    model.eval()
    correct = 0
    for i in range(0, len(y), batch):
        correct += int((model(X[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    model.train(was)
    return 100.0 * correct / max(len(y), 1)


def _top_left(W: Tensor, r: int) -> Tensor:
    U, _, _ = torch.linalg.svd(W.detach().double(), full_matrices=False)
    return U[:, :r]


def fit(model: nn.Module, data: Dataset, *, iterations: int, batch_size: int = 128, lr: float = 0.01,
        optimizer: str = "sgd", momentum: float = 0.0, weight_decay: float = 0.0, alpha: float = 1.0,
        cosine: bool = False, loss: str = "ce", record_every: int = 50, sv_every: int | None = None,
        dist_every: int | None = None, r: int = 10, n_sv: int = 40, seed: int = 0, eval_test: int | None = None,
        device: str | torch.device = "auto") -> FitResult:
    """Train ``model`` on ``data`` for ``iterations`` mini-batch steps and record what Figs 1, 20, 21 and Table 1 need.

    ``optimizer``: ``"sgd"`` (``momentum``, ``weight_decay``) or ``"adam"``; ``alpha`` multiplies the step of
    C-DLN outer factors; ``cosine``: cosine annealing of every group's step to 0 over ``iterations``.
    ``loss``: ``"ce"`` (cross-entropy) or ``"mse"`` (½·mean over classes of the squared error to one-hot labels).
    Every ``record_every`` steps: test accuracy (on the first ``eval_test`` test samples, default all) and the
    training time so far. ``sv_every``: the top ``n_sv`` singular values of ``W(t) − W(0)`` for
    ``model.penultimate`` (its end-to-end matrix); ``dist_every``: eq. (20) with ``r`` between ``U_r(t)`` and
    ``U_r(t+1)`` (one step apart). Batches are drawn by a seeded permutation, epoch after epoch.
    """
    dev = pick_device(device)
    model = model.to(dev)
    data = data.to(dev)
    torch.manual_seed(seed)
    groups = param_groups(model, lr, alpha)
    if optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}.")
    base_lrs = [gr["lr"] for gr in opt.param_groups]
    K = data.n_classes
    Xte = data.X_test if eval_test is None else data.X_test[:eval_test]
    yte = data.y_test if eval_test is None else data.y_test[:eval_test]

    def loss_fn(out, y):
        if loss == "ce":
            return torch.nn.functional.cross_entropy(out, y)
        return 0.5 * (out - torch.nn.functional.one_hot(y, K).to(out.dtype)).square().mean()

    pen = getattr(model, "penultimate", None)
    W0 = pen.matrix().detach().clone() if pen is not None else None
    g = torch.Generator().manual_seed(seed)
    N = len(data.y_train)
    perm = torch.randperm(N, generator=g).to(dev)
    pos = 0
    its, times, accs, losses = [], [], [], []
    sv_its, svs, wsvs, d_its, dists = [], [], [], [], []
    train_time = 0.0
    run_loss, n_loss = 0.0, 0
    pending_U = None

    def record(t):
        its.append(t)
        times.append(train_time)
        accs.append(accuracy(model, Xte, yte))
        losses.append(run_loss / n_loss if n_loss else float("nan"))

    for t in range(iterations + 1):
        with torch.no_grad():
            if pending_U is not None:  # U_r(t) one step after the recorded t-1
                dists.append(float(subspace_distance(pending_U, _top_left(pen.matrix(), r))))
                pending_U = None
            if t % record_every == 0 or t == iterations:
                record(t)
                run_loss, n_loss = 0.0, 0
            if sv_every and pen is not None and (t % sv_every == 0 or t == iterations):
                Wt = pen.matrix().detach().double()
                s = torch.linalg.svdvals(Wt - W0.double())[:n_sv]
                svs.append(torch.nn.functional.pad(s, (0, n_sv - s.numel())).cpu().numpy())
                s = torch.linalg.svdvals(Wt)[:n_sv]
                wsvs.append(torch.nn.functional.pad(s, (0, n_sv - s.numel())).cpu().numpy())
                sv_its.append(t)
            if dist_every and pen is not None and t % dist_every == 0 and t < iterations:
                pending_U = _top_left(pen.matrix(), r)
                d_its.append(t)
        if t == iterations:
            break
        if pos + batch_size > N:
            perm = torch.randperm(N, generator=g).to(dev)
            pos = 0
        idx = perm[pos:pos + batch_size]
        pos += batch_size
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        if cosine:
            f = 0.5 * (1 + math.cos(math.pi * t / iterations))
            for gr, b in zip(opt.param_groups, base_lrs):
                gr["lr"] = b * f
        opt.zero_grad(set_to_none=True)
        out = model(data.X_train[idx])
        L = loss_fn(out, data.y_train[idx])
        L.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        train_time += time.perf_counter() - t0
        run_loss += float(L.detach())
        n_loss += 1
        if not math.isfinite(run_loss):
            raise FloatingPointError(f"training diverged at step {t}: loss {run_loss}; lower lr = {lr} (α = {alpha}).")
    return FitResult(np.asarray(its), np.asarray(times), np.asarray(accs), np.asarray(losses),
                     np.asarray(svs) if svs else np.zeros((0, n_sv)), np.asarray(sv_its), np.asarray(dists),
                     np.asarray(d_its[:len(dists)]), float(accs[-1]), train_time / max(iterations, 1),
                     np.asarray(wsvs) if wsvs else np.zeros((0, n_sv)))


def fit_full_batch(model: nn.Module, X: Tensor, y: Tensor, n_classes: int, *, iterations: int, lr: float,
                   optimizer: str = "sgd", momentum: float = 0.9, weight_decay: float = 0.0, loss: str = "mse",
                   seed: int = 0) -> list[float]:
    """Full-batch training on ``(X, y)`` (T1/T3: fit the training set); returns the loss every step."""
    torch.manual_seed(seed)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    Y = torch.nn.functional.one_hot(y, n_classes).float()
    hist = []
    for _ in range(iterations):
        opt.zero_grad(set_to_none=True)
        out = model(X)
        L = torch.nn.functional.cross_entropy(out, y) if loss == "ce" else 0.5 * (out - Y).square().sum(1).mean()
        L.backward()
        opt.step()
        hist.append(float(L.detach()))
        if not math.isfinite(hist[-1]):
            raise FloatingPointError(f"full-batch training diverged (lr = {lr}).")
    return hist


@torch.no_grad()
def layerwise_metrics(model: DeepMLP, X: Tensor, y: Tensor, n_classes: int) -> dict[str, np.ndarray]:
    """Per-layer feature compression ``D_l`` and separation ``S_l`` (un-centred and centred) of
    :meth:`DeepMLP.layer_features` on ``(X, y)`` (THEORY §7; :func:`dlnlib.metrics.compression`/``separation``).
    Layer 0 is the input. Returns ``{"compression", "separation", "separation_centred"}`` arrays of length ``depth+1``."""
    Z = [X.flatten(1)] + model.layer_features(X)
    D, S, Sc = [], [], []
    for z in Z:
        zt = z.double().T  # (d, N)
        D.append(float(compression(zt, y, n_classes)))
        S.append(float(separation(zt, y, n_classes)))
        Sc.append(float(separation(zt, y, n_classes, centred=True)))
    return {"compression": np.asarray(D), "separation": np.asarray(S), "separation_centred": np.asarray(Sc)}


def count_above(sv: np.ndarray, threshold: float) -> int:
    """Number of entries of ``sv`` above ``threshold`` (Fig. 1's "how many singular values moved").

    >>> count_above(np.array([3.0, 1.0, 0.1]), 0.5)
    2
    """
    return int((np.asarray(sv) > threshold).sum())


# ----------------------------------------------------------------------------------------------
# Experiments shared by the notebooks (presets live here so that notebooks 21 and 22 share cached runs)
# ----------------------------------------------------------------------------------------------

#: Fig. 1 / Fig. 20 / T2: the four architectures whose penultimate weights are tracked. ``paper``: [K] App. A.4
#: optimisers and step sizes; sizes and lengths are not given in [K], so they are our choice (marked "ours");
#: the CIFAR-10 runs can only use the 4,000-image subset that the workbook ships. ``cpu``: what a 2-core CPU runs
#: in about a minute (narrower nets, fewer steps, larger steps for the short runs). ``ci``: a few seconds.
FIG1_PRESETS: dict[str, dict] = {
    "ci": {
        "dln": dict(data="mnist", n_train=2000, n_test=500, model=dict(width=64, depth=4, n_nonlinear=0,
                    init="orthogonal", eps=1.0), fit=dict(optimizer="sgd", lr=0.01, batch_size=128, iterations=100)),
        "mlp": dict(data="mnist", n_train=2000, n_test=500, model=dict(width=64, depth=4),
                    fit=dict(optimizer="sgd", lr=0.01, batch_size=128, iterations=100)),
        "vgg": dict(data="cifar10-subset", n_train=None, n_test=None, model=dict(channels=(4, 8, 16), width=32),
                    fit=dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, cosine=True, batch_size=64,
                             iterations=40)),
        "vit": dict(data="cifar10-subset", n_train=None, n_test=None,
                    model=dict(patch=8, dim=32, depth=1, heads=2, mlp_dim=64),
                    fit=dict(optimizer="adam", lr=1e-3, cosine=True, batch_size=64, iterations=40)),
        "track": dict(sv_every=20, dist_every=20, r=10, n_sv=32),
    },
    "cpu": {
        "dln": dict(data="mnist", n_train=None, n_test=2000, model=dict(width=256, depth=4, n_nonlinear=0,
                    init="orthogonal", eps=1.0), fit=dict(optimizer="sgd", lr=0.01, batch_size=128, iterations=1500)),
        "mlp": dict(data="mnist", n_train=None, n_test=2000, model=dict(width=256, depth=4),
                    fit=dict(optimizer="sgd", lr=0.01, batch_size=128, iterations=1500)),
        "vgg": dict(data="cifar10-subset", n_train=None, n_test=None, model=dict(channels=(8, 16, 32), width=128),
                    fit=dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, cosine=True, batch_size=128,
                             iterations=400)),
        "vit": dict(data="cifar10-subset", n_train=None, n_test=None,
                    model=dict(patch=8, dim=64, depth=2, heads=4, mlp_dim=256),
                    fit=dict(optimizer="adam", lr=1e-3, cosine=True, batch_size=128, iterations=500)),
        "track": dict(sv_every=25, dist_every=25, r=10, n_sv=64),
    },
    "paper": {
        "dln": dict(data="mnist", n_train=None, n_test=None, model=dict(width=512, depth=4, n_nonlinear=0,
                    init="orthogonal", eps=1.0), fit=dict(optimizer="sgd", lr=0.01, batch_size=128, iterations=20000)),
        "mlp": dict(data="mnist", n_train=None, n_test=None, model=dict(width=512, depth=4),
                    fit=dict(optimizer="sgd", lr=0.01, batch_size=128, iterations=20000)),
        "vgg": dict(data="cifar10-subset", n_train=None, n_test=None,
                    model=dict(channels=(64, 128, 256, 512), width=512),
                    fit=dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, cosine=True, batch_size=128,
                             iterations=6000)),
        "vit": dict(data="cifar10-subset", n_train=None, n_test=None,
                    model=dict(patch=4, dim=768, depth=12, heads=12, mlp_dim=3072),
                    fit=dict(optimizer="adam", lr=1e-5, cosine=True, batch_size=512, iterations=6000)),
        "track": dict(sv_every=100, dist_every=100, r=10, n_sv=64),
    },
}


def build_model(arch: str, data: Dataset, model_kw: dict, seed: int = 0) -> nn.Module:
    """``"dln"``/``"mlp"`` → :class:`DeepMLP`, ``"vgg"`` → :class:`SmallVGG`, ``"vit"`` → :class:`SmallViT`."""
    kw = dict(model_kw)
    if arch == "dln":
        return DeepMLP(data.d_in, data.n_classes, seed=seed, **kw)
    if arch == "mlp":
        return DeepMLP(data.d_in, data.n_classes, seed=seed, **kw)
    if arch == "vgg":
        return SmallVGG(data.input_shape[0], data.n_classes, image=data.input_shape[-1], seed=seed, **kw)
    if arch == "vit":
        return SmallViT(image=data.input_shape[-1], in_ch=data.input_shape[0], n_classes=data.n_classes, seed=seed,
                        **kw)
    raise ValueError(f"arch must be 'dln', 'mlp', 'vgg' or 'vit', got {arch!r}.")


def dataset_for(spec: dict, flatten: bool, seed: int = 0) -> Dataset:
    return load_dataset(spec["data"], spec.get("n_train"), spec.get("n_test"), seed=seed, flatten=flatten)


def update_dynamics(arch: str, preset: dict, seed: int = 0, device="auto") -> dict:
    """Train one Fig. 1 architecture and track its penultimate layer (Figs 1, 20; talk T2).

    Returns ``{"fit": FitResult, "shape": (d_out, d_in) of the penultimate matrix, "params": int,
    "n_classes": int}``."""
    spec, track = preset[arch], preset["track"]
    data = dataset_for(spec, flatten=arch in ("dln", "mlp"), seed=seed)
    model = build_model(arch, data, spec["model"], seed)
    res = fit(model, data, seed=seed, device=device, record_every=max(track["sv_every"], 1),
              sv_every=track["sv_every"], dist_every=track["dist_every"], r=track["r"], n_sv=track["n_sv"],
              **spec["fit"])
    shape = tuple(model.penultimate.matrix().shape)
    return {"fit": res, "shape": shape, "params": count_params(model), "n_classes": data.n_classes}


#: Fig. 21 / Table 1: MLP on Fashion-MNIST with a linear / DLN / C-DLN penultimate layer; small ViT on the
#: CIFAR-10 subset with the last MLP block's ``fc2`` linear / DLN / C-DLN. ``paper``: [K] §4.2 (MLP width 784,
#: which reproduces Table 1's parameter counts 1.850M / 3.080M / 1.300M; η = 5e-3, α = 1, r̂ = 4·d_y = 40,
#: 5 seeds; ViT 6 blocks, dim 512, MLP 3072, η = 1e-4 (Adam), cosine; lengths not given, ours).
TABLE1_PRESETS: dict[str, dict] = {
    "ci": {
        "mlp": dict(data="fashion-mnist", n_train=4000, n_test=1000, width=128, seeds=[0, 1],
                    fit=dict(optimizer="sgd", lr=0.05, batch_size=128, iterations=100, alpha=1.0), eps=1.0),
        "vit": dict(data="cifar10-subset", n_train=None, n_test=None, seeds=[0],
                    model=dict(patch=8, dim=64, depth=1, heads=2, mlp_dim=256),
                    fit=dict(optimizer="adam", lr=1e-3, cosine=True, batch_size=64, iterations=40, alpha=1.0), eps=1.0),
        "record_every": 10,
    },
    "cpu": {
        "mlp": dict(data="fashion-mnist", n_train=None, n_test=5000, width=256, seeds=[0, 1, 2],
                    fit=dict(optimizer="sgd", lr=0.05, batch_size=128, iterations=1500, alpha=1.0), eps=1.0),
        "vit": dict(data="cifar10-subset", n_train=None, n_test=None, seeds=[0, 1],
                    model=dict(patch=8, dim=64, depth=2, heads=4, mlp_dim=256),
                    fit=dict(optimizer="adam", lr=1e-3, cosine=True, batch_size=64, iterations=300, alpha=1.0),
                    eps=1.0),
        "record_every": 50,
    },
    "paper": {
        "mlp": dict(data="fashion-mnist", n_train=None, n_test=None, width=784, seeds=[0, 1, 2, 3, 4],
                    fit=dict(optimizer="sgd", lr=5e-3, batch_size=128, iterations=50000, alpha=1.0), eps=1.0),
        "vit": dict(data="cifar10-subset", n_train=None, n_test=None, seeds=[0, 1, 2, 3, 4],
                    model=dict(patch=4, dim=512, depth=6, heads=8, mlp_dim=3072),
                    fit=dict(optimizer="adam", lr=1e-4, cosine=True, batch_size=128, iterations=20000, alpha=1.0),
                    eps=1.0),
        "record_every": 500,
    },
}

KINDS = ("linear", "dln", "cdln")
KIND_LABELS = {"linear": "Original", "dln": "Original + DLN", "cdln": "Original + C-DLN"}


def penultimate_run(arch: str, kind: str, preset: dict, seed: int, device="auto") -> dict:
    """One Table 1 run: returns ``{"fit": FitResult, "params", "macs", "memory"}`` (memory for one training batch)."""
    spec = preset[arch]
    data = load_dataset(spec["data"], spec.get("n_train"), spec.get("n_test"), seed=0, flatten=arch == "mlp")
    if arch == "mlp":
        model = build_penultimate_mlp(kind, data, spec["width"], eps=spec["eps"], seed=seed)
    else:
        model = SmallViT(image=data.input_shape[-1], in_ch=data.input_shape[0], n_classes=data.n_classes, seed=seed,
                         pen_kind=kind, eps=spec["eps"], **spec["model"])
    fk = dict(spec["fit"])
    example = data.X_train[: fk["batch_size"]]
    costs = {"params": count_params(model), "macs": count_macs(model, example[:8]),
             "memory": training_memory(model, example, fk["optimizer"], fk.get("momentum", 0.0))["total"]}
    res = fit(model, data, seed=seed, device=device, record_every=preset["record_every"], **fk)
    return dict(costs, fit=res)


def table_rows(runs: dict[str, list[dict]]) -> list[dict]:
    """Table 1 rows from ``{kind: [penultimate_run results over seeds]}``: accuracy mean/std (%), time to 99% of
    the final accuracy mean/std (s), total training time, MACs, memory (MB), parameters (M)."""
    rows = []
    for kind, rs in runs.items():
        acc = np.array([r["fit"].final_acc for r in rs])
        t99 = np.array([r["fit"].time_to_fraction(0.99) for r in rs])
        tot = np.array([r["fit"].train_time[-1] for r in rs])
        rows.append({"method": KIND_LABELS.get(kind, kind), "kind": kind, "acc_mean": acc.mean(),
                     "acc_std": acc.std(ddof=1) if len(acc) > 1 else 0.0, "t99_mean": t99.mean(),
                     "t99_std": t99.std(ddof=1) if len(t99) > 1 else 0.0, "time_total": tot.mean(),
                     "macs": rs[0]["macs"], "memory_mb": rs[0]["memory"] / 1e6, "params_m": rs[0]["params"] / 1e6,
                     "n_seeds": len(rs)})
    return rows


def lowrank_run(dataset: str, rank: int | None, spec: dict, seed: int = 0, device="auto") -> dict:
    """T10: train :class:`LowRankMLP` (``rank=None``: normal training) on ``dataset`` with ``spec`` =
    ``{"width", "n_train", "n_test", "fit": fit kwargs}``. Returns ``{"acc", "params", "macs", "memory",
    "train_flops", "fit"}``; ``train_flops = 6 · MACs/sample · samples seen`` (2 FLOPs per MAC, backward ≈ 2×
    forward), a convention, not a measurement."""
    data = load_dataset(dataset, spec.get("n_train"), spec.get("n_test"), seed=0, flatten=True)
    model = LowRankMLP(data.d_in, data.n_classes, spec["width"], rank, seed=seed)
    fk = dict(spec["fit"])
    example = data.X_train[: fk["batch_size"]]
    macs = count_macs(model, example[:8])
    mem = training_memory(model, example, fk["optimizer"], fk.get("momentum", 0.0))["total"]
    res = fit(model, data, seed=seed, device=device, record_every=fk["iterations"], **fk)
    return {"acc": res.final_acc, "params": count_params(model), "macs": macs, "memory": mem,
            "train_flops": 6 * macs * fk["batch_size"] * fk["iterations"], "fit": res}


def layerwise_run(n_nonlinear: int, spec: dict, seed: int = 0, device="auto") -> dict:
    """T1/T3: fit a :class:`DeepMLP` (``spec["depth"]`` layers, ReLU after the first ``n_nonlinear``) to a
    class-balanced training set by full-batch training and measure per-layer compression and separation on it.

    ``spec``: ``{"data", "n_train", "width", "depth", "init", "eps", "fit": fit_full_batch kwargs}``. Returns
    ``{"metrics": layerwise_metrics(...) at the end, "metrics0": at init, "loss": history, "train_acc"}``."""
    dev = pick_device(device)
    data = load_dataset(spec["data"], spec["n_train"], 0 if spec["data"] == "cifar10-subset" else 10, seed=0,
                        flatten=True)
    X, y = data.X_train.to(dev), data.y_train.to(dev)
    model = DeepMLP(data.d_in, data.n_classes, spec["width"], spec["depth"], n_nonlinear, spec.get("init", "uniform"),
                    spec.get("eps", 1.0), seed=seed).to(dev)
    m0 = layerwise_metrics(model, X, y, data.n_classes)
    hist = fit_full_batch(model, X, y, data.n_classes, seed=seed, **spec["fit"])
    return {"metrics": layerwise_metrics(model, X, y, data.n_classes), "metrics0": m0, "loss": np.asarray(hist),
            "train_acc": accuracy(model, X, y), "n_train": len(y)}
