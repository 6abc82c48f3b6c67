"""Deep linear networks: initialisations, the wide DLN, C-DLN (Algorithm 1), narrow and LoP-compressed nets.

A :class:`DLN` is a list of factors ``W_1 … W_L`` with ``W_l`` of shape ``(..., d_l, d_{l-1})`` (leading
batch dimensions allowed, shared by all factors) and a per-factor learning-rate multiplier
(``α`` on C-DLN's outer factors, ``γ`` on the LoP net's frozen/slow outer factors, 1 elsewhere).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import torch

from ._util import Tensor, check_finite, check_int, check_matrix, check_multiplier, check_rank, make_generator, resolve
from .problems import Problem, random_orthonormal, spectral_factors

Init = Literal["orthogonal", "normal", "uniform"]


def _is_one(x) -> bool:
    return isinstance(x, (int, float)) and x == 1.0


@dataclass
class DLN:
    """A deep linear network ``x ↦ W_L ⋯ W_1 x``.

    ``weights[l-1]`` is ``W_l`` with shape ``(*batch, d_l, d_{l-1})``. The outer factors ``W_1`` and ``W_L`` move
    with step ``α·γ·η``, the others with ``η``: ``alpha`` is C-DLN's discrepant step (Algorithm 1 of [K]),
    ``gamma`` the LoP-compressed net's step on its basis factors (``γ = 0`` freezes them). Each is a float or a
    ``(*batch)`` tensor (an α grid). ``name`` labels figures.

    >>> net = DLN([torch.ones(2, 3), torch.ones(2, 2), torch.ones(1, 2)], alpha=5.0)
    >>> net.depth, net.widths, net.lr_scales
    (3, [3, 2, 2, 1], [5.0, 1.0, 5.0])
    """

    weights: list[Tensor]
    name: str = "DLN"
    alpha: float | Tensor = 1.0
    gamma: float | Tensor = 1.0

    def __post_init__(self):
        if not isinstance(self.weights, (list, tuple)) or len(self.weights) < 1:
            raise ValueError("a DLN needs a list of at least one factor W_1, …, W_L.")
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {type(self.name).__name__} (step multipliers are the "
                            "keyword arguments alpha= and gamma=).")
        self.weights = list(self.weights)
        for i, W in enumerate(self.weights):
            check_matrix(f"W_{i + 1}", W)
        for i in range(1, len(self.weights)):
            if self.weights[i].shape[-1] != self.weights[i - 1].shape[-2]:
                raise ValueError(
                    f"factor shapes do not chain: W_{i + 1} has {self.weights[i].shape[-1]} columns but "
                    f"W_{i} has {self.weights[i - 1].shape[-2]} rows (W_l must be d_l × d_(l-1))."
                )
        for k in ("alpha", "gamma"):
            check_multiplier(k, getattr(self, k), allow_zero=k == "gamma")

    @property
    def lr_scales(self) -> list:
        """Per-factor step multipliers ``[α·γ, 1, …, 1, α·γ]`` (read-only; set ``alpha``/``gamma``)."""
        a, g = self.alpha, self.gamma
        outer = a if _is_one(g) else g if _is_one(a) else a * g
        if self.depth == 1:
            return [outer]
        return [outer] + [1.0] * (self.depth - 2) + [outer]

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def widths(self) -> list[int]:
        """``[d_0, d_1, …, d_L]``."""
        return [self.weights[0].shape[-1]] + [W.shape[-2] for W in self.weights]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.weights[0].shape[:-2])

    @property
    def n_params(self) -> int:
        """Trainable parameters of one network of the batch."""
        return sum(W.shape[-1] * W.shape[-2] for W, s in zip(self.weights, self.lr_scales)
                   if not (isinstance(s, (int, float)) and s == 0.0))

    def end_to_end(self) -> Tensor:
        """``W_{L:1}`` of shape ``(*batch, d_L, d_0)``."""
        P = self.weights[0]
        for W in self.weights[1:]:
            P = W @ P
        return P

    def clone(self) -> "DLN":
        return DLN([W.clone() for W in self.weights], self.name, alpha=self.alpha, gamma=self.gamma)


# ----------------------------------------------------------------------------------------------
# Initialisations
# ----------------------------------------------------------------------------------------------


def init_weight(d_out: int, d_in: int, eps: float, init: Init = "orthogonal", seed=None, *, batch=(),
                dtype=None, device=None) -> Tensor:
    """One factor ``(*batch, d_out, d_in)`` at scale ``eps``.

    - ``orthogonal``: ``eps·Q`` with ``Q`` (semi-)orthogonal, so ``WᵀW = eps²I`` or ``WWᵀ = eps²I`` (conventions §1.3);
    - ``normal``: ``eps·N(0,1)·√min/√(d_out·d_in)``; ``uniform``: ``U(−eps, eps)·√3·√min/√(d_out·d_in)``
      (same expected Frobenius norm ``eps·√min(d_out, d_in)`` as the orthogonal init).

    >>> W = init_weight(4, 3, 0.1, seed=0)
    >>> bool(torch.allclose(W.T @ W, 0.01 * torch.eye(3, dtype=W.dtype)))
    True
    """
    dtype, device = resolve(dtype, device)
    if not (eps >= 0 and math.isfinite(eps)):
        raise ValueError(f"init scale eps must be finite and >= 0, got {eps}.")
    g = make_generator(seed)
    k = min(d_out, d_in)
    if init == "orthogonal":
        Q = random_orthonormal(max(d_out, d_in), k, g, batch=tuple(batch), dtype=dtype, device=device)
        return eps * (Q if d_out >= d_in else Q.transpose(-1, -2))
    scale = math.sqrt(k) / math.sqrt(d_out * d_in)
    shape = tuple(batch) + (d_out, d_in)
    if init == "normal":
        W = torch.randn(shape, generator=g, dtype=torch.float64) * eps * scale
    elif init == "uniform":
        W = (2 * torch.rand(shape, generator=g, dtype=torch.float64) - 1) * eps * math.sqrt(3) * scale
    else:
        raise ValueError(f"init must be 'orthogonal', 'normal' or 'uniform', got {init!r}.")
    return W.to(dtype=dtype, device=device)


def wide_dln(widths: Sequence[int], eps: float, init: Init = "orthogonal", seed=None, *, batch=(),
             dtype=None, device=None, name: str = "DLN") -> DLN:
    """The original (wide) DLN with widths ``[d_0, …, d_L]`` and i.i.d. factor inits at scale ``eps``.

    >>> net = wide_dln([5, 5, 5, 5], eps=0.1, seed=0)
    >>> net.depth, net.widths
    (3, [5, 5, 5, 5])
    """
    if len(widths) < 2:
        raise ValueError(f"widths must list d_0, ..., d_L (at least two numbers), got {list(widths)}.")
    for i, w in enumerate(widths):
        check_int(f"widths[{i}]", w, 1)
    g = make_generator(seed)
    Ws = [init_weight(widths[i + 1], widths[i], eps, init, g, batch=batch, dtype=dtype, device=device)
          for i in range(len(widths) - 1)]
    return DLN(Ws, name=name)


def cdln(surrogate: Tensor | Problem, r_hat: int, depth: int, eps, alpha=1.0, *,
         scale_outer: bool = True, r: int | None = None, name: str = "C-DLN") -> DLN:
    """Compressed DLN, Algorithm 1 of [K]: spectral init from the surrogate and step ``α·η`` on the outer factors.

    ``W̃_1(0) = ε V_r̂ᵀ`` (``r̂×d_in``), ``W̃_l(0) = ε I_r̂`` (middle), ``W̃_L(0) = ε U_r̂`` (``d_out×r̂``), where
    ``U_r̂, V_r̂`` are the top-``r̂`` singular vectors of the surrogate ``(…, d_out, d_in)`` (or of
    ``problem.surrogate()``). ``eps`` and ``alpha`` may be floats or ``(B,)`` grids (tensors or sequences); the
    batch shape is the broadcast of the surrogate's batch with the grids', and the spectral factors are computed
    once per surrogate. ``scale_outer=False`` gives the official code's unscaled ``[Vᵀ, U]`` for ``L = 2``.
    ``r`` (optional) checks ``r̂ >= r``.

    >>> M = torch.diag(torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64))
    >>> net = cdln(M, 2, 3, eps=[0.1, 0.2], alpha=5.0); net.batch_shape, net.widths, net.lr_scales
    ((2,), [3, 2, 2, 3], [5.0, 1.0, 5.0])
    """
    S = surrogate.surrogate() if isinstance(surrogate, Problem) else surrogate
    check_matrix("surrogate", S)
    check_finite("surrogate", S)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
        raise ValueError(f"C-DLN needs an integer depth L >= 2, got depth={depth!r}.")
    if r is not None and r_hat < r:
        raise ValueError(f"r_hat = {r_hat} is below the target rank r = {r}; C-DLN needs r <= r_hat <= d.")
    check_rank(r_hat, S.shape[-2], S.shape[-1], "r_hat")
    eps, alpha = (_grid(k, x, S) for k, x in (("eps", eps), ("alpha", alpha)))
    U, _, V = spectral_factors(S, r_hat)
    batch = tuple(S.shape[:-2])
    for g in (eps, alpha):
        if isinstance(g, Tensor) and g.ndim:
            batch = tuple(torch.broadcast_shapes(batch, g.shape))
    e = eps.reshape(eps.shape + (1, 1)) if isinstance(eps, Tensor) else eps
    s = e if scale_outer else 1.0
    eye = torch.eye(r_hat, dtype=S.dtype, device=S.device).expand(batch + (r_hat, r_hat))
    Vt = V.transpose(-1, -2).expand(batch + (r_hat, S.shape[-1]))
    U = U.expand(batch + (S.shape[-2], r_hat))
    Ws = [(s * Vt).contiguous()] + [(e * eye).contiguous() for _ in range(depth - 2)] + [(s * U).contiguous()]
    return DLN(Ws, name, alpha=alpha)


def _grid(name: str, x, like: Tensor):
    """A float stays a float; a sequence or tensor becomes a tensor of ``like``'s dtype and device."""
    if isinstance(x, Tensor) or isinstance(x, (list, tuple)) or hasattr(x, "__array__"):
        t = torch.as_tensor(x, dtype=like.dtype, device=like.device)
        check_multiplier(name, t)
        return t.item() if t.ndim == 0 and not isinstance(x, Tensor) else t
    check_multiplier(name, x)
    return x


def narrow_dln(d_out: int, d_in: int, width: int, depth: int, eps: float, init: Init = "orthogonal", seed=None,
               **kw) -> DLN:
    """A DLN of inner width ``width`` with random init: widths ``[d_in, width, …, width, d_out]``.

    >>> narrow_dln(5, 5, 2, depth=0, eps=0.1)
    Traceback (most recent call last):
    ...
    ValueError: depth must be an integer >= 1, got 0.
    """
    check_int("depth", depth, 1)
    check_int("width", width, 1)
    return wide_dln([d_in] + [width] * (depth - 1) + [d_out], eps, init, seed, name="narrow DLN", **kw)


# ----------------------------------------------------------------------------------------------
# Law of Parsimony: invariant basis (conventions §2.4) and the width-2r̂ compressed net (§2.5)
# ----------------------------------------------------------------------------------------------


@dataclass
class LoPBasis:
    """Invariant bases of a wide DLN at ``t = 0``.

    ``V12 (d, m)``: the invariant input block ``V_{1,2}``; ``U2[l] (d, m)``: ``U_{l,2} = W_l(0) V_{l,2}/ε``
    for ``l = 1..L`` (so ``V_{l+1,2} = U_{l,2}``); ``V11 (d, 2r̂)`` and ``UL1 (d_L, 2r̂)`` the learning blocks.
    """

    V12: Tensor
    U2: list[Tensor]
    V11: Tensor
    UL1: Tensor
    eps: float

    @property
    def m(self) -> int:
        return self.V12.shape[-1]

    def V2(self, l: int) -> Tensor:
        """``V_{l,2}`` (1-based ``l``)."""
        return self.V12 if l == 1 else self.U2[l - 2]


def lop_basis(weights0: Sequence[Tensor], Phi: Tensor, r_hat: int | None = None) -> LoPBasis:
    """Construct the invariant bases of conventions §2.4 from the initial weights (ε-orthogonal, square) and ``Φ``.

    ``V_{1,2}`` spans the null space of ``[Φ; Φᵀ W_{L:1}(0)]`` (generically ``d − 2r``-dimensional); with
    ``r_hat`` it is cut to ``d − 2r̂`` columns (any sub-block is invariant). Unbatched only.
    """
    L = len(weights0)
    d = weights0[0].shape[-1]
    if Phi.ndim != 2 or weights0[0].ndim != 2:
        raise ValueError("lop_basis works on one (unbatched) network.")
    eps = float(torch.linalg.matrix_norm(weights0[0], ord=2))
    E = weights0[0]
    for W in weights0[1:]:
        E = W @ E
    if tuple(Phi.shape) != tuple(E.shape):
        raise ValueError(f"Phi has shape {tuple(Phi.shape)} but the network maps to {tuple(E.shape)}.")
    stacked = torch.cat([Phi, Phi.T @ E], dim=0)
    _, s, Vh = torch.linalg.svd(stacked, full_matrices=True)
    tol = s.max() * max(stacked.shape) * torch.finfo(s.dtype).eps
    rank = int((s > tol).sum())
    V_null = Vh[rank:].T
    V_row = Vh[:rank].T
    if r_hat is not None:
        keep = d - 2 * r_hat
        if keep < 0:
            raise ValueError(f"2·r_hat = {2 * r_hat} exceeds d = {d}.")
        if keep > V_null.shape[1]:
            raise ValueError(f"r_hat = {r_hat} asks for a {keep}-dim invariant block but only {V_null.shape[1]} exist.")
        V_row = torch.cat([V_row, V_null[:, keep:]], 1)
        V_null = V_null[:, :keep]
    U2, V = [], V_null
    for W in weights0:
        V = W @ V / eps
        U2.append(V)
    UL1 = E @ V_row / eps**L
    return LoPBasis(V_null, U2, V_row, UL1, eps)


def lop_compressed(basis: LoPBasis, depth: int, eps: float, gamma: float = 0.0, name: str = "LoP-compressed") -> DLN:
    """The talk's compressed network ``U_{L,1} W̃_L ⋯ W̃_1 V_{1,1}ᵀ`` with ``W̃_l(0) = ε I_{2r̂}`` (conventions §2.5).

    Returned as a ``depth + 2`` factor DLN ``[V_{1,1}ᵀ, εI, …, εI, U_{L,1}]`` whose outer (basis) factors
    move with step ``γ·η`` (``γ = 0``: frozen, exact for factorisation).
    """
    k = basis.V11.shape[1]
    eye = torch.eye(k, dtype=basis.V11.dtype, device=basis.V11.device)
    Ws = [basis.V11.T.contiguous()] + [eps * eye.clone() for _ in range(depth)] + [basis.UL1.contiguous()]
    return DLN(Ws, name, gamma=gamma)
