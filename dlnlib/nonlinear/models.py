"""Nonlinear networks with a tracked penultimate layer ([K] §2.3, §4.2; talk T1–T3, T10): layers and models.

Every model exposes ``model.penultimate``, the layer whose end-to-end matrix ``matrix() (d_out, d_in)`` Figs 1/20
track; layers map ``(…, d_in) → (…, d_out)`` as ``x ↦ x Wᵀ + b``.

- Layers: :class:`LinearLayer` (the "Original"), :class:`DLNLayer` (``W_L ⋯ W_1``), :class:`CDLNLayer`
  (Algorithm 1 of [K]: ``W̃_1 = εV_r̂ᵀ``, ``W̃_l = εI``, ``W̃_L = εU_r̂`` with ``r̂ = 4·d_y`` by default; ``V`` from
  ``M^corr = Y Xᵀ`` of the layer's input features where applicable, :func:`corr_subspaces`), :class:`LowRankLinear`.
- Models: :class:`PenultimateMLP` (``ψ(x) = W_out ρ(P ρ(W_k ⋯ ρ(W_1 x)))`` with ``P`` of kind ``"linear"``,
  ``"dln"`` or ``"cdln"``, :data:`KINDS`), :class:`DeepMLP` (ReLU after the first ``n_nonlinear`` layers only),
  :class:`LowRankMLP` (T10), :class:`SmallVGG`, :class:`SmallViT` (the penultimate layer is the last block's
  ``fc2``); :func:`build_model` by architecture name.

Weights are float32 (as the paper's nets); inits draw on the CPU from seeded generators.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .._util import Tensor, check_integer, check_positive
from ..problems import random_orthonormal
from .datasets import Dataset


#: The penultimate-layer kinds of Table 1 and their row labels.
KINDS = ("linear", "dln", "cdln")
KIND_LABELS = {"linear": "Original", "dln": "Original + DLN", "cdln": "Original + C-DLN"}


def _sizes(**sizes) -> None:
    """Each keyword a width, depth or count: an integer ``>= 1`` (``None`` skipped), checked by its name."""
    for name, v in sizes.items():
        if v is not None:
            check_integer(name, v, 1)


def _check_init(init: str, eps: float) -> None:
    if init not in ("uniform", "orthogonal"):
        raise ValueError(f"init must be 'uniform' or 'orthogonal', got {init!r}.")
    check_positive("eps (the init scale ε)", eps)


def _check_matrix(name: str, x, rows: int | None = None) -> None:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.is_complex() or not x.is_floating_point():
        what = f"a {type(x).__name__}" if not isinstance(x, Tensor) else f"a {x.dtype} tensor of shape {tuple(x.shape)}"
        raise TypeError(f"{name} must be a real floating-point matrix (2-d tensor), got {what}.")
    if rows is not None and x.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} rows, got shape {tuple(x.shape)}.")


def uniform_(W: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """PyTorch's default ``nn.Linear`` init ``U(−1/√fan_in, 1/√fan_in)`` ("random uniform", [K] App. A.4)."""
    bound = 1.0 / math.sqrt(W.shape[1])
    with torch.no_grad():
        W.copy_((2 * torch.rand(W.shape, generator=generator) - 1) * bound)
    return W


def _orthonormal(n: int, k: int, g: torch.Generator | None) -> Tensor:
    """Haar-random ``(n, k)`` float32 matrix with orthonormal columns (``k ≤ n``), drawn on the CPU with ``g``
    (``None``: torch's global generator)."""
    return random_orthonormal(n, k, torch.default_generator if g is None else g, dtype=torch.float32, device="cpu")


def orthogonal_(d_out: int, d_in: int, eps: float, g: torch.Generator | None) -> Tensor:
    """``eps·Q`` with ``Q (d_out, d_in)`` Haar-random with orthonormal columns (or rows, when ``d_out < d_in``)."""
    return eps * (_orthonormal(d_out, d_in, g) if d_out >= d_in else _orthonormal(d_in, d_out, g).T)


class LinearLayer(nn.Module):
    """``x ↦ W x + b`` with ``W (d_out, d_in)`` (random uniform init); ``weight`` is the tracked matrix."""

    outer_names: tuple[str, ...] = ()

    def __init__(self, d_in: int, d_out: int, generator: torch.Generator | None = None, bias: bool = True):
        super().__init__()
        _sizes(d_in=d_in, d_out=d_out)
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
        _sizes(d_in=d_in, d_out=d_out, depth=depth, width=width)
        _check_init(init, eps)
        width = width or max(d_in, d_out)
        dims = [d_in] + [width] * (depth - 1) + [d_out]
        ws = []
        for a, b in zip(dims[:-1], dims[1:]):
            W = torch.empty(b, a)
            if init == "uniform":
                uniform_(W, generator)
            elif init == "orthogonal":
                W = orthogonal_(b, a, eps, generator)
            else:
                raise ValueError(f"init must be 'uniform' or 'orthogonal', got {init!r}.")
            ws.append(nn.Parameter(W.contiguous()))
        self.factors = nn.ParameterList(ws)
        self.bias = nn.Parameter(torch.zeros(d_out)) if bias else None

    def matrix(self) -> Tensor:
        """The end-to-end matrix ``W_L ⋯ W_1``, ``(d_out, d_in)``."""
        P = self.factors[0]
        for W in self.factors[1:]:
            P = W @ P
        return P

    def forward(self, x: Tensor) -> Tensor:
        for W in self.factors:
            x = x @ W.T
        return x if self.bias is None else x + self.bias


class CDLNLayer(DLNLayer):
    """C-DLN penultimate layer (Algorithm 1 of [K], conventions §3): ``W̃_1 = εVᵀ (r̂×d_in)``, ``W̃_l = εI (r̂×r̂)``,
    ``W̃_L = εU (d_out×r̂)``. ``U (d_out, r̂)``, ``V (d_in, r̂)`` orthonormal (see :func:`corr_subspaces`).
    The outer factors (``factors.0`` and ``factors.{L-1}``) take step ``α·η``
    (:func:`dlnlib.nonlinear.fit.param_groups`).
    """

    def __init__(self, U: Tensor, V: Tensor, depth: int = 3, eps: float = 1.0, bias: bool = True):
        nn.Module.__init__(self)
        _check_matrix("U", U)
        _check_matrix("V", V)
        check_integer("depth (C-DLN needs L >= 2 factors)", depth, 2)
        check_positive("eps (the init scale ε)", eps)
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
        """The inner width ``r̂`` (rows of ``W̃_1``)."""
        return self.factors[0].shape[0]


def corr_subspaces(X: Tensor, y: Tensor, n_classes: int, r_hat: int, d_out: int, seed: int = 0,
                   use_corr: bool = True) -> tuple[Tensor, Tensor]:
    """Outer subspaces for :class:`CDLNLayer` from ``M^corr = Y Xᵀ`` ([K] §2.3; conventions §1.1, §3).

    ``X (N, d_in)``: the features entering the layer; ``y (N,)`` labels; ``Y`` one-hot ``(K, N)``.
    ``V (d_in, r̂)``: the right singular vectors of ``M^corr`` (rank ≤ K) for its nonzero singular values, completed
    by random directions orthogonal to them; ``U (d_out, r̂)``: random orthonormal (``M^corr``'s left side lives in
    ``R^K``, not in the layer's output space, so "otherwise random"). ``use_corr=False``: both random.

    >>> X = torch.randn(50, 8); y = torch.arange(50) % 3
    >>> U, V = corr_subspaces(X, y, 3, 4, 6)
    >>> tuple(U.shape), tuple(V.shape), bool(torch.allclose(V.T @ V, torch.eye(4), atol=1e-5))
    ((6, 4), (8, 4), True)
    """
    _check_matrix("X (the layer's input features, (N, d_in))", X)
    if not isinstance(y, Tensor) or y.shape != (X.shape[0],):
        raise ValueError(f"y must be a tensor of shape (N,) = ({X.shape[0]},), one label per row of X, got "
                         f"{tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__}.")
    _sizes(n_classes=n_classes, r_hat=r_hat, d_out=d_out)
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
        _sizes(d_in=d_in, n_classes=n_classes, width=width, n_hidden=n_hidden, r_hat=r_hat)
        if kind not in KINDS:
            raise ValueError(f"kind must be 'linear', 'dln' or 'cdln', got {kind!r}.")
        check_integer("dln_depth", dln_depth, 2 if kind == "cdln" else 1)
        check_positive("eps (the init scale ε)", eps)
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
    if kind not in KINDS:
        raise ValueError(f"kind must be 'linear', 'dln' or 'cdln', got {kind!r}.")
    _check_dataset(data)
    _sizes(width=width, n_hidden=n_hidden, r_hat=r_hat, n_corr=n_corr)
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
        _sizes(d_in=d_in, n_classes=n_classes, width=width)
        check_integer("depth (layers incl. the classifier; the penultimate is layers[-2])", depth, 2)
        if n_nonlinear is not None:
            check_integer("n_nonlinear", n_nonlinear, 0, depth - 1)
        _check_init(init, eps)
        g = torch.Generator().manual_seed(seed)
        n_nonlinear = depth - 1 if n_nonlinear is None else n_nonlinear
        dims = [d_in] + [width] * (depth - 1) + [n_classes]
        layers = []
        for a, b in zip(dims[:-1], dims[1:]):
            L = LinearLayer(a, b, g, bias=bias)
            if init == "orthogonal":
                with torch.no_grad():
                    L.weight.copy_(orthogonal_(b, a, eps, g))
            layers.append(L)
        self.layers = nn.ModuleList(layers)
        self.n_nonlinear = n_nonlinear

    @property
    def penultimate(self) -> LinearLayer:
        """The last hidden layer ``layers[-2]``, ``(width, width)``."""
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
        _sizes(d_in=d_in, d_out=d_out, rank=rank)
        A = uniform_(torch.empty(rank, d_in), generator)
        B = uniform_(torch.empty(d_out, rank), generator) * math.sqrt(3.0)
        self.A, self.B = nn.Parameter(A), nn.Parameter(B)
        self.bias = nn.Parameter(torch.zeros(d_out))

    def matrix(self) -> Tensor:
        """``B A``, ``(d_out, d_in)`` of rank ``≤ r``."""
        return self.B @ self.A

    def forward(self, x: Tensor) -> Tensor:
        return (x @ self.A.T) @ self.B.T + self.bias


class LowRankMLP(nn.Module):
    """MLP with 3 hidden layers (T10); with ``rank`` the weights of the last two hidden layers are ``B A``."""

    def __init__(self, d_in: int, n_classes: int, width: int, rank: int | None = None, seed: int = 0):
        super().__init__()
        _sizes(d_in=d_in, n_classes=n_classes, width=width)
        if rank is not None:
            check_integer("rank", rank, 1, width)
        g = torch.Generator().manual_seed(seed)
        mk = (lambda a, b: LinearLayer(a, b, g)) if rank is None else (lambda a, b: LowRankLinear(a, b, rank, g))
        self.layers = nn.ModuleList([LinearLayer(d_in, width, g), mk(width, width), mk(width, width),
                                     LinearLayer(width, n_classes, g)])

    @property
    def penultimate(self):
        """The last hidden layer ``layers[-2]`` (low-rank when ``rank`` is given)."""
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
        _sizes(in_ch=in_ch, n_classes=n_classes, width=width, image=image)
        if isinstance(channels, (str, bytes)) or not hasattr(channels, "__len__") or len(channels) == 0:
            raise ValueError(f"channels must be a non-empty sequence of channel counts, got {channels!r}.")
        for j, ch in enumerate(channels):
            check_integer(f"channels[{j}]", ch, 1)
        if image // 2 ** len(channels) < 1:
            raise ValueError(f"image = {image} is too small for {len(channels)} 2×2 poolings (channels = "
                             f"{list(channels)}); it needs image >= {2 ** len(channels)}.")
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


class ViTBlock(nn.Module):
    """A pre-norm transformer block on ``(B, T, dim)`` tokens: ``x + proj(attention(LN(x)))``, then
    ``x + fc2(GELU(fc1(LN(x))))`` (``heads``-head self-attention, MLP ``dim → mlp_dim → dim``)."""

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
        _sizes(image=image, patch=patch, in_ch=in_ch, n_classes=n_classes, dim=dim, depth=depth, heads=heads,
               mlp_dim=mlp_dim, r_hat=r_hat)
        if image % patch:
            raise ValueError(f"patch = {patch} must divide image = {image}.")
        if dim % heads:
            raise ValueError(f"heads = {heads} must divide dim = {dim}.")
        if pen_kind not in KINDS:
            raise ValueError(f"pen_kind must be 'linear', 'dln' or 'cdln', got {pen_kind!r}.")
        check_positive("eps (the init scale ε)", eps)
        g = torch.Generator().manual_seed(seed)
        n_tok = (image // patch) ** 2
        self.patch = patch
        self.embed = LinearLayer(in_ch * patch * patch, dim, g)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(0.02 * torch.randn(1, n_tok + 1, dim, generator=g))
        self.blocks = nn.ModuleList([ViTBlock(dim, heads, mlp_dim, g) for _ in range(depth)])
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
        """The last block's ``fc2``, ``(dim, mlp_dim)`` (linear, DLN or C-DLN)."""
        return self.blocks[-1].fc2

    def forward(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        p = self.patch
        x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(B, (H // p) * (W // p), C * p * p)
        x = torch.cat([self.cls.expand(B, -1, -1), self.embed(x)], 1) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x[:, 0]))


def build_model(arch: str, data: Dataset, model_kw: dict, seed: int = 0) -> nn.Module:
    """``"dln"``/``"mlp"`` → :class:`DeepMLP`, ``"vgg"`` → :class:`SmallVGG`, ``"vit"`` → :class:`SmallViT`."""
    if arch not in ("dln", "mlp", "vgg", "vit"):
        raise ValueError(f"arch must be 'dln', 'mlp', 'vgg' or 'vit', got {arch!r}.")
    _check_dataset(data)
    if not hasattr(model_kw, "keys"):
        raise TypeError(f"model_kw must be a dict of the model's keyword arguments, got {type(model_kw).__name__}.")
    kw = dict(model_kw)
    if arch in ("dln", "mlp"):
        return DeepMLP(data.d_in, data.n_classes, seed=seed, **kw)
    if arch == "vgg":
        return SmallVGG(data.input_shape[0], data.n_classes, image=data.input_shape[-1], seed=seed, **kw)
    return SmallViT(image=data.input_shape[-1], in_ch=data.input_shape[0], n_classes=data.n_classes, seed=seed,
                    **kw)  # arch == "vit" (checked above)


def _check_dataset(data) -> None:
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a dlnlib.nonlinear.Dataset, got {type(data).__name__}.")
