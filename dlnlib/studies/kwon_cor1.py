"""Lemma 1 (Mirsky's inequality) and Corollary 1 of [K] at ``t = 0``, with the proof chain, and the random
instances they are checked on (well-separated targets, the official code's targets).

Every check returns numbers; notebook 03 asserts on them. ``lemma1`` takes the singular-value map and pairing
it compares (``svals=``, ``pair=``) and ``corollary1`` the recursion (``recursion=``), so a test can feed wrong
ones and see the check fail. :func:`cor1_grid` lists notebook 03's Corollary 1 instances and :func:`cor1_point`
checks one, to be mapped with :func:`dlnlib.sweep.sweep`. Conventions: float64; orientation ``E = W_L⋯W_1``
(conventions §1.2); Lemma 1 and Corollary 1 as in conventions §5, the recursion's ``p(0) = ε^L`` in §4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .._util import Tensor, resolve
from ..networks import cdln, wide_dln
from ..problems import kwon_target, random_orthonormal, spectral_factors
from ..theory import kwon_alpha
from ..recorders import spectral_diagonal
from .kwon_thm1 import Recursion

# ----------------------------------------------------------------------------------------------
# Lemma 1
# ----------------------------------------------------------------------------------------------


def sorted_svals(A: Tensor) -> Tensor:
    """Singular values of ``A (..., m, n)`` in decreasing order (``torch.linalg.svdvals``), shape ``(..., min(m, n))``."""
    return torch.linalg.svdvals(A)


def lemma1(A: Tensor, B: Tensor, svals: Callable[[Tensor], Tensor] = sorted_svals,
           pair: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] | None = None) -> tuple[Tensor, Tensor]:
    """Both sides of Lemma 1 (Mirsky): ``(‖A − B‖_F², ‖Σ_A − Σ_B‖_F²)`` for ``A, B (..., m, n)``; shapes ``(...)``.

    ``svals`` maps a matrix to its singular values (decreasing); ``pair(s_A, s_B)`` may re-pair them (the lemma
    pairs the i-th largest with the i-th largest; a test passes a wrong pairing to show the check can fail).

    >>> A = torch.diag(torch.tensor([3.0, 1.0], dtype=torch.float64))
    >>> [round(float(x), 12) for x in lemma1(A, torch.zeros_like(A))]
    [10.0, 10.0]
    """
    lhs = (A - B).square().sum((-2, -1))
    sa, sb = svals(A), svals(B)
    if pair is not None:
        sa, sb = pair(sa, sb)
    rhs = (sa - sb).square().sum(-1)
    return lhs, rhs


LEMMA1_KINDS = ("gaussian", "low_rank", "perturbed", "shared_svd")
"""The kinds of pairs :func:`lemma1_instances` draws, in turn."""


def lemma1_instances(n: int, seed: int = 0, max_dim: int = 12) -> list[tuple[Tensor, Tensor, str]]:
    """``n`` random pairs ``(A, B, kind)`` of one random shape ``(m, q)`` each, ``m, q ≤ max_dim``: independent
    Gaussians, low-rank pairs, small perturbations ``B = A + δE``, and equality cases ``B = U_A diag(s) V_Aᵀ`` with
    sorted ``s`` (:data:`LEMMA1_KINDS` in turn).

    >>> [k for _, _, k in lemma1_instances(5)]
    ['gaussian', 'low_rank', 'perturbed', 'shared_svd', 'gaussian']
    """
    g = torch.Generator().manual_seed(seed)
    randn = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)
    out = []
    for k in range(n):
        m, q = (int(x) for x in torch.randint(1, max_dim + 1, (2,), generator=g))
        kind = LEMMA1_KINDS[k % len(LEMMA1_KINDS)]
        A = randn(m, q) * float(10 ** torch.empty(1).uniform_(-2, 2, generator=g))
        if kind == "gaussian":
            B = randn(m, q)
        elif kind == "low_rank":
            rk = int(torch.randint(1, min(m, q) + 1, (1,), generator=g))
            A = randn(m, rk) @ randn(rk, q)
            B = randn(m, rk) @ randn(rk, q)
        elif kind == "perturbed":
            B = A + 10 ** float(torch.empty(1).uniform_(-8, 0, generator=g)) * randn(m, q)
        else:
            U, _, Vh = torch.linalg.svd(A, full_matrices=False)
            s = torch.sort(torch.rand(U.shape[-1], generator=g, dtype=torch.float64) * 5, descending=True).values
            B = (U * s) @ Vh
        out.append((A, B, kind))
    return out


# ----------------------------------------------------------------------------------------------
# Corollary 1 (t = 0) and its proof chain
# ----------------------------------------------------------------------------------------------


@dataclass
class Cor1Result:
    """Corollary 1 at ``t = 0`` on a batch of targets (all ``(B,)``):

    ``lhs = ‖W_{L:1}(0) − M*‖²`` (original, ε-orthogonal), ``rhs = ‖W̃_{L:1}(0) − M*‖²`` (C-DLN), ``gap = lhs − rhs``
    computed without cancellation (``(‖W‖² − ‖W̃‖²) − 2⟨W − W̃, M*⟩``), ``scale`` the size of the expected gap
    (``2ε^L Σσ* + (d − r̂)ε^{2L}``), the proof chain ``step1 = ‖Σ_W − Σ*‖²`` (Lemma 1 bound),
    ``step2 = Σ_{i≤r}(ε^L − σ_i*)² + (d − r)ε^{2L}``, ``closed = Σ_{i≤r̂}(p_i(0) − σ_i*)²`` from the recursion, and
    ``sv0_rel`` the max relative error of C-DLN's spectral diagonal at ``t = 0`` against ``p(0)``.
    """

    lhs: np.ndarray
    rhs: np.ndarray
    gap: np.ndarray
    scale: np.ndarray
    step1: np.ndarray
    step2: np.ndarray
    closed: np.ndarray
    sv0_rel: np.ndarray


def corollary1(M: Tensor, r: int, r_hat: int, depth: int, eps: float, seed: int = 0, *, init: str = "orthogonal",
               recursion: Recursion = kwon_alpha) -> Cor1Result:
    """Both sides of Corollary 1 at ``t = 0`` and its proof chain for targets ``M (B, d, d)`` of rank ``r``.

    >>> res = corollary1(separated_targets(2, 6, 2, seed=0), 2, 3, 3, 0.1)
    >>> bool((res.gap > 0).all()), bool(np.allclose(res.closed, res.rhs, rtol=1e-12))
    (True, True)
    """
    B, d = M.shape[0], M.shape[-1]
    orig = wide_dln([d] * (depth + 1), eps, init, seed, batch=(B,), dtype=M.dtype, device=M.device)
    comp = cdln(M, r_hat, depth, eps)
    W, Wt = orig.end_to_end(), comp.end_to_end()
    sq = lambda X: X.square().sum((-2, -1))
    lhs, rhs = sq(W - M), sq(Wt - M)
    gap = (sq(W) - sq(Wt)) - 2 * ((W - Wt) * M).sum((-2, -1))
    sig_all = torch.linalg.svdvals(M)
    step1 = (torch.linalg.svdvals(W) - sig_all).square().sum(-1)
    sig = sig_all[..., :r].cpu().numpy()
    eL = eps**depth
    step2 = ((eL - sig) ** 2).sum(-1) + (d - r) * eL**2
    p0 = np.stack([recursion(sig[b], r_hat, depth, eps, 0.0, 1.0, 0)[0] for b in range(B)])  # (B, r̂)
    tgt = np.concatenate([sig, np.zeros((B, r_hat - r))], 1)
    closed = ((p0 - tgt) ** 2).sum(-1)
    U, _, V = spectral_factors(M, r_hat)
    diag0 = torch.diagonal(spectral_diagonal(comp, U, V), dim1=-2, dim2=-1).cpu().numpy()
    sv0_rel = (np.abs(diag0 - p0) / np.abs(p0)).max(-1)
    scale = 2 * eL * sig.sum(-1) + (d - r_hat) * eL**2
    f = lambda x: x.cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)
    return Cor1Result(f(lhs), f(rhs), f(gap), scale, f(step1), step2, closed, sv0_rel)


def cor1_grid(dims: Sequence[int], depths: Sequence[int], eps: Sequence[float], ranks: Sequence[int], B: int,
              init: str = "orthogonal") -> list[dict]:
    """The points of the Corollary 1 sweep, in order ``d, L, ε, r`` (slowest first), then ``r̂ ∈ sorted({r, 2r, d})``:
    keyword arguments of :func:`cor1_point`.

    >>> [(p["d"], p["r"], p["r_hat"]) for p in cor1_grid([4], [2], [0.1], [1, 3], B=2)]
    [(4, 1, 1), (4, 1, 2), (4, 1, 4), (4, 3, 3), (4, 3, 4), (4, 3, 6)]
    """
    return [dict(d=d, depth=L, eps=e, r=r, r_hat=rh, B=B, init=init)
            for d in dims for L in depths for e in eps for r in ranks for rh in sorted({r, 2 * r, d})]


def cor1_point(d: int, depth: int, eps: float, r: int, r_hat: int, B: int, init: str = "orthogonal") -> Cor1Result:
    """:func:`corollary1` on ``B`` rank-``r`` targets ``(B, d, d)`` from :func:`separated_targets` (seed
    ``1000d + 10L + r``, consecutive ratios in ``[0.2, 1]``) with the original net's init seed ``d + L + r̂``; one
    point of :func:`cor1_grid`. Results ``(B,)`` as :class:`Cor1Result`.

    >>> bool((cor1_point(6, 3, 0.1, 2, 4, B=2).gap > 0).all())
    True
    """
    M = separated_targets(B, d, r, seed=1000 * d + 10 * depth + r, ratio=(0.2, 1.0))
    return corollary1(M, r, r_hat, depth, eps, seed=d + depth + r_hat, init=init)


# ----------------------------------------------------------------------------------------------
# Random targets with well-separated singular values
# ----------------------------------------------------------------------------------------------


def separated_targets(B: int, d: int, r: int, seed: int = 0, *, top=(3.0, 5.0), ratio=(0.5, 0.7), dtype=None,
                      device=None) -> Tensor:
    """``B`` random rank-``r`` targets ``(B, d, d)``: Haar ``U, V`` and ``σ_i* = σ_1 ρ^{i−1}`` with ``σ_1 ~ U(top)``,
    ``ρ ~ U(ratio)`` per instance (consecutive ratios ≤ ``ratio[1]``: well separated).

    >>> M = separated_targets(2, 6, 3, seed=0)
    >>> s = torch.linalg.svdvals(M)[:, :3]
    >>> bool(((s[:, 1:] / s[:, :-1]) < 0.71).all())
    True
    """
    dtype, device = resolve(dtype, device)
    g = torch.Generator().manual_seed(seed)
    s1 = torch.empty(B, 1, dtype=torch.float64).uniform_(*top, generator=g)
    rho = torch.empty(B, 1, dtype=torch.float64).uniform_(*ratio, generator=g)
    s = s1 * rho ** torch.arange(r, dtype=torch.float64)
    U = random_orthonormal(d, r, g, batch=(B,), dtype=torch.float64, device="cpu")
    V = random_orthonormal(d, r, g, batch=(B,), dtype=torch.float64, device="cpu")
    return ((U * s.unsqueeze(-2)) @ V.transpose(-1, -2)).to(dtype=dtype, device=device)


def kwon_targets(B: int, d: int, r: int, seed: int = 0, **kw) -> Tensor:
    """``B`` targets of the official [K] code (:func:`problems.kwon_target`), seeds ``seed..seed+B−1``: ``(B, d, d)``.

    >>> kwon_targets(2, 5, 2).shape
    torch.Size([2, 5, 5])
    """
    return torch.stack([kwon_target(d, r, seed + b, **kw) for b in range(B)])
