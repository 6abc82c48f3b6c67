"""Theorem 1 of [K] and its α extension checked by simulation: one C-DLN run against the recursion, batched grids
of ``(ε, η, α)``, where the theorem stops holding (past the stability bound, beyond factorisation).

Every check returns numbers; the notebooks (01, 03) assert on them. Each comparison takes the closed form it
compares against as ``recursion=`` (a :data:`Recursion`, default :func:`theory.kwon_alpha`), so a test can feed a
perturbed one (:mod:`dlnlib.studies.perturbed`) and see the check fail. Conventions: float64; step sizes ``eta``
are on the problem's loss normalisation and the recursion gets the problem's ``loss_scale`` ``c``
(conventions §1.4, §4, §4.3). Batched runs carry one leading batch dimension ``B``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .._util import Tensor
from ..metrics import relative_error
from ..networks import cdln
from ..problems import Factorisation, Problem, spectral_factors
from ..recorders import spectral_diagonal
from ..theory import kwon_alpha, mf_equivalent_scale
from ..optim import GD
from ..train import train

Recursion = Callable[..., np.ndarray]
"""``recursion(sigma_star, r_hat, depth, eps, eta, alpha, T, loss_scale) -> (T+1, r̂)``, like :func:`theory.kwon_alpha`."""


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------


def _vec(x, B: int | None = None) -> np.ndarray:
    """A scalar or sequence as a float64 ``(B,)`` array (broadcast when ``B`` is given)."""
    a = np.atleast_1d(np.asarray(x, dtype=np.float64))
    return a if B is None else np.broadcast_to(a, (B,)).copy()


def grid(**axes: Sequence[float]) -> dict[str, np.ndarray]:
    """Cartesian product of named axes as flat ``(B,)`` arrays (first axis slowest).

    >>> g = grid(eps=[0.1, 0.2], alpha=[1, 2, 3])
    >>> g["eps"].tolist(), g["alpha"].tolist()
    ([0.1, 0.1, 0.1, 0.2, 0.2, 0.2], [1.0, 2.0, 3.0, 1.0, 2.0, 3.0])
    """
    mesh = np.meshgrid(*[np.asarray(v, dtype=np.float64) for v in axes.values()], indexing="ij")
    return {k: m.ravel() for k, m in zip(axes, mesh)}


def _sigma_rows(M: Tensor, r: int, B: int) -> np.ndarray:
    """Top-``r`` singular values of ``M`` (``(d, d)`` or ``(B, d, d)``) as a ``(B, r)`` array."""
    s = torch.linalg.svdvals(M)[..., :r].cpu().numpy()
    return np.broadcast_to(s.reshape(-1, r), (B, r)).copy()


def _offdiag_max(A: Tensor) -> Tensor:
    """``max_{i≠j} |A_ij|`` of ``A (..., k, k)``, shape ``(...)``."""
    return (A - torch.diag_embed(torch.diagonal(A, dim1=-2, dim2=-1))).abs().amax((-2, -1))


# ----------------------------------------------------------------------------------------------
# One run: C-DLN against the recursion (notebook 01)
# ----------------------------------------------------------------------------------------------


@dataclass
class RecursionCheck:
    """C-DLN singular values against the closed-form recursion.

    ``iterations (K,)``; ``simulated``/``predicted`` ``(K, r̂)`` singular values of ``W̃_{L:1}(t)`` paired with
    ``U*_r̂, V*_r̂``; ``rel_error`` max over all ``t, i`` of ``|sim − pred|/pred``; ``offdiag`` max
    ``|(U*ᵀW̃V*)_{ij}|/σ_1*`` over ``i ≠ j``; ``residual`` ``‖W̃_{L:1} − U* diag(pred) V*ᵀ‖_F/‖M*‖_F`` at the last
    iteration; ``final_loss``.
    """

    iterations: np.ndarray
    simulated: np.ndarray
    predicted: np.ndarray
    rel_error: float
    offdiag: float
    residual: float
    final_loss: float


def cdln_vs_recursion(M: Tensor, r: int, r_hat: int, depth: int, eps: float, eta: float, T: int,
                      alpha: float = 1.0, record_at: int = 60, normalisation: str = "sum",
                      recursion: Recursion = kwon_alpha) -> RecursionCheck:
    """Train C-DLN (Algorithm 1) on factorisation of ``M (d_out, d_in)`` and compare with ``recursion``.

    ``eta`` is the step on the chosen loss normalisation (the recursion gets ``loss_scale = c``).

    >>> M = torch.diag(torch.tensor([2.0, 1.0, 0.0], dtype=torch.float64))
    >>> c = cdln_vs_recursion(M, 2, 2, 3, 0.3, 0.05, 60, record_at=20)
    >>> c.rel_error < 1e-12, c.offdiag < 1e-12
    (True, True)
    """
    problem = Factorisation(M, normalisation)
    U, s, V = spectral_factors(M, r_hat)
    net = cdln(problem, r_hat, depth, eps, alpha, r=r)
    sigma = s[:r].cpu().numpy()
    h = train(net, problem, GD(eta), T, record_at=record_at, record=("loss",),
              recorders={"A": lambda n, W, loss: spectral_diagonal(n, U, V)})
    A = torch.as_tensor(h["A"])  # (K, r̂, r̂)
    sim = torch.diagonal(A, dim1=-2, dim2=-1).numpy()
    pred = recursion(sigma, r_hat, depth, eps, eta, alpha, T, problem.loss_scale)[h.iterations]
    off = _offdiag_max(A).numpy() / sigma[0]
    # full end-to-end residual against the theorem's matrix form, at the last recorded iteration
    Wpred = (U * torch.as_tensor(pred[-1], dtype=U.dtype, device=U.device)) @ V.T
    residual = float(torch.linalg.matrix_norm(h.net.end_to_end() - Wpred) / torch.linalg.matrix_norm(M))
    rel = np.abs(sim - pred) / np.abs(pred)
    return RecursionCheck(h.iterations, sim, pred, float(rel.max()), float(off.max()), residual, float(h.loss[-1]))


# ----------------------------------------------------------------------------------------------
# Theorem 1 on a grid of (ε, η, α), and where it stops holding (notebook 03)
# ----------------------------------------------------------------------------------------------


@dataclass
class GridCheck:
    """C-DLN singular values against a recursion on a batch of runs ``b = 0..B−1``.

    ``iterations (K,)``; ``simulated``/``predicted`` ``(K, B, r̂)``; per run: ``rel_error (B,)`` max over
    recorded ``t`` (before divergence) and ``i`` of ``|sim − pred|/|pred|`` (NaN if the recursion overflowed),
    ``offdiag (B,)`` max ``|(U*ᵀW̃V*)_{ij}|/σ_1*`` over ``i ≠ j``, ``diverged_at (B,)`` (−1 if not), ``final_loss (B,)``;
    ``params``: per-run ``eps, eta, alpha (B,)``, ``sigma (B, r)``, and ``r_hat, depth, loss_scale``.
    """

    iterations: np.ndarray
    simulated: np.ndarray
    predicted: np.ndarray
    rel_error: np.ndarray
    offdiag: np.ndarray
    diverged_at: np.ndarray
    final_loss: np.ndarray
    params: dict

    @property
    def max_rel_error(self) -> float:
        """Max over runs (NaN propagates: a NaN run fails any ``≤`` check)."""
        return float(np.max(self.rel_error)) if self.rel_error.size else float("nan")


def _diag_recorder(U: Tensor, V: Tensor, sigma1: Tensor):
    """Recorder: the spectral diagonal ``(…, r̂)`` and, appended, the max off-diagonal entry over ``σ_1*``."""
    def f(net, W, loss):
        A = spectral_diagonal(net, U, V)
        d = torch.diagonal(A, dim1=-2, dim2=-1)
        return torch.cat([d, (_offdiag_max(A) / sigma1).unsqueeze(-1)], -1)
    return f


def thm1_grid(M: Tensor, r: int, r_hat: int, depth: int, eps, eta, alpha=1.0, *, T: int, record_at=60,
              normalisation: str = "sum", recursion: Recursion = kwon_alpha) -> GridCheck:
    """Train C-DLN on factorisation of ``M`` (``(d_out, d_in)`` or ``(B, d_out, d_in)``) for every run of the grid
    ``eps, eta, alpha`` (scalars or ``(B,)``) as one batched program, and compare with ``recursion``.

    Runs whose loss explodes are frozen and flagged (``diverged_at``); their comparison stops there.

    >>> M = torch.diag(torch.tensor([2.0, 1.0, 0.0], dtype=torch.float64))
    >>> c = thm1_grid(M, 2, 2, 3, [0.1, 0.3], 0.05, [1.0, 2.0], T=60, record_at=20)
    >>> c.simulated.shape, c.max_rel_error < 1e-12
    ((20, 2, 2), True)
    """
    sizes = [np.size(eps), np.size(eta), np.size(alpha), M.shape[0] if M.ndim == 3 else 1]
    B = max(sizes)
    eps_, eta_, al_ = _vec(eps, B), _vec(eta, B), _vec(alpha, B)
    problem = Factorisation(M, normalisation)
    U, s, V = spectral_factors(M, r_hat)
    sigma = _sigma_rows(M, r, B)
    net = cdln(M, r_hat, depth, eps_, al_)
    lr = torch.as_tensor(eta_, dtype=M.dtype, device=M.device)
    with np.errstate(all="ignore"):
        h = train(net, problem, GD(lr), T, record_at=record_at, record=("loss",),
                  recorders={"A": _diag_recorder(U, V, s[..., 0])}, on_divergence="flag")
    A = np.asarray(h["A"])  # (K, B, r̂ + 1)
    sim, off = A[..., :r_hat], A[..., r_hat]
    div = np.asarray(h.diverged_at).reshape(B)
    chk = GridCheck(h.iterations, sim, sim, np.zeros(B), np.zeros(B), div, np.asarray(h.loss[-1]).reshape(B),
                    {"eps": eps_, "eta": eta_, "alpha": al_, "sigma": sigma, "r_hat": r_hat, "depth": depth,
                     "loss_scale": problem.loss_scale})
    chk.offdiag = np.where(_valid(chk), off, 0.0).max(0)
    return regrade(chk, recursion)


def _valid(chk: GridCheck) -> np.ndarray:
    """``(K, B)``: recorded iterations before the run diverged."""
    div = chk.diverged_at
    return (div[None, :] < 0) | (chk.iterations[:, None] < div[None, :])


def regrade(chk: GridCheck, recursion: Recursion = kwon_alpha) -> GridCheck:
    """Recompute ``predicted`` and ``rel_error`` of a :class:`GridCheck` against another ``recursion`` (no retraining)."""
    P, it = chk.params, chk.iterations
    B = chk.simulated.shape[1]
    with np.errstate(all="ignore"):
        pred = np.stack([recursion(P["sigma"][b], P["r_hat"], P["depth"], P["eps"][b], P["eta"][b], P["alpha"][b],
                                   int(it[-1]), P["loss_scale"])[it] for b in range(B)], 1)
        rel = np.abs(chk.simulated - pred) / np.abs(pred)
    valid = _valid(chk)
    rel = np.where(valid[..., None], rel, 0.0)
    rel_b = np.where(np.isfinite(rel).all((0, 2)), rel.max((0, 2)), np.nan)
    return GridCheck(it, chk.simulated, pred, rel_b, chk.offdiag, chk.diverged_at, chk.final_loss, P)


# ----------------------------------------------------------------------------------------------
# Beyond factorisation: C-DLN on sensing and completion in M*'s spectral basis (notebook 03)
# ----------------------------------------------------------------------------------------------


def offdiag_mass(W: Tensor, U: Tensor, V: Tensor) -> Tensor:
    """Fraction of ``W (..., d_out, d_in)`` off the diagonal in the basis ``U (…, d_out, k)``, ``V (…, d_in, k)``:
    ``‖W − U diag(UᵀWV) Vᵀ‖_F / ‖W‖_F`` (0 when ``W = U diag(·) Vᵀ``). Shape ``(...)``.

    >>> I = torch.eye(3, dtype=torch.float64)
    >>> float(offdiag_mass(torch.diag(torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)), I, I))
    0.0
    """
    A = U.transpose(-1, -2) @ W @ V
    D = (U * torch.diagonal(A, dim1=-2, dim2=-1).unsqueeze(-2)) @ V.transpose(-1, -2)
    return relative_error(D, W)


@dataclass
class BeyondMF:
    """C-DLN on a non-MF problem measured in ``M*``'s spectral basis: ``iterations (K,)``, ``offdiag (K, B)``
    (:func:`offdiag_mass` with ``M*``'s full singular bases), ``sv_dev (K, B)`` ``max_i |σ_i(W̃) − p_i|/σ_i*``
    against the MF recursion with ``c_eff`` (:func:`theory.mf_equivalent_scale`), ``recovery (K, B)``, ``c_eff``."""

    iterations: np.ndarray
    offdiag: np.ndarray
    sv_dev: np.ndarray
    recovery: np.ndarray
    c_eff: float


def cdln_beyond_mf(problem: Problem, r: int, r_hat: int, depth: int, eps: float, eta: float, T: int, *,
                   alpha: float = 1.0, record_at=40, recursion: Recursion = kwon_alpha) -> BeyondMF:
    """Train C-DLN (spectral init from the surrogate) on a sensing/completion (or MF) problem with batched
    targets ``(B, d, d)`` and measure how far it is from Theorem 1's diagonal form and recursion."""
    M = problem.target
    B = M.shape[0] if M.ndim == 3 else 1
    Ufull, _, Vfull = spectral_factors(M, min(problem.shape))
    net = cdln(problem, r_hat, depth, eps, _vec(alpha, B))  # α per run, (B,): GD's per-run step, as in thm1_grid

    def rec(n, W, loss):
        sv = torch.linalg.svdvals(W)[..., :r_hat]
        return torch.cat([offdiag_mass(W, Ufull, Vfull).unsqueeze(-1), sv], -1)

    h = train(net, problem, GD(eta), T, record_at=record_at, record=("recovery_error",), recorders={"x": rec})
    x = np.asarray(h["x"]).reshape(len(h.iterations), B, r_hat + 1)
    c = mf_equivalent_scale(problem)
    sigma = _sigma_rows(M, r, B)
    pred = np.stack([recursion(sigma[b], r_hat, depth, eps, eta, alpha, int(h.iterations[-1]), c)[h.iterations]
                     for b in range(B)], 1)
    dev = (np.abs(x[..., 1:1 + r] - pred[..., :r]) / sigma[None]).max(-1)
    return BeyondMF(h.iterations, x[..., 0], dev, np.asarray(h["recovery_error"]).reshape(-1, B), c)
