"""Simulation-versus-theory comparisons shared by the notebooks (each returns numbers; notebooks assert)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._util import Tensor
from .networks import DLN, cdln
from .problems import Factorisation, spectral_factors
from .theory import kwon_alpha
from .train import GD, train


@dataclass
class RecursionCheck:
    """C-DLN singular values against the closed-form recursion.

    ``iterations (K,)``; ``simulated``/``predicted`` ``(K, r̂)`` singular values of ``W̃_{L:1}(t)`` paired with
    ``U*_r̂, V*_r̂``; ``rel_error`` max over all ``t, i`` of ``|sim − pred|/pred``; ``offdiag`` max
    ``|(U*ᵀW̃V*)_{ij}|/σ_1*`` over ``i ≠ j``; ``residual`` ``‖W̃_{L:1} − U* diag(pred) V*ᵀ‖_F/‖M*‖_F`` at the last iteration.
    """

    iterations: np.ndarray
    simulated: np.ndarray
    predicted: np.ndarray
    rel_error: float
    offdiag: float
    residual: float
    final_loss: float


def spectral_diagonal(net: DLN, U: Tensor, V: Tensor) -> Tensor:
    """``U ᵀ W̃_{L:1} V`` formed factor by factor: ``(Uᵀ W̃_L) W̃_{L−1} ⋯ W̃_2 (W̃_1 V)``, an ``(r̂, r̂)`` matrix.

    Projecting each outer factor first keeps the tiny singular values (``β^L``) accurate to relative
    precision: rounding errors scale with each row's own size, not with ``σ_1``.
    """
    A = U.transpose(-1, -2) @ net.weights[-1]
    for W in net.weights[-2:0:-1]:
        A = A @ W
    return A @ (net.weights[0] @ V)


def cdln_vs_recursion(M: Tensor, r: int, r_hat: int, depth: int, eps: float, eta: float, T: int,
                      alpha: float = 1.0, record_at: int = 60, normalisation: str = "sum",
                      recursion=kwon_alpha) -> RecursionCheck:
    """Train C-DLN (Algorithm 1) on factorisation of ``M (d_out, d_in)`` and compare with :func:`kwon_alpha`.

    ``eta`` is the step on the chosen loss normalisation (the recursion uses ``c·η``). ``recursion`` (same
    signature as :func:`kwon_alpha`) replaces the closed form, e.g. by a perturbed one in the tests.
    """
    problem = Factorisation(M, normalisation)
    U, s, V = spectral_factors(M, r_hat)
    net = cdln(problem, r_hat, depth, eps, alpha, r=r)
    sigma = s[:r].cpu().numpy()

    def diag_rec(n, W, loss):
        A = spectral_diagonal(n, U, V)
        return A

    h = train(net, problem, GD(eta), T, record_at=record_at, record=("loss",), recorders={"A": diag_rec})
    A = torch.as_tensor(h["A"])  # (K, r̂, r̂)
    sim = torch.diagonal(A, dim1=-2, dim2=-1).numpy()
    pred = recursion(sigma, r_hat, depth, eps, eta, alpha, T, problem.loss_scale)[h.iterations]
    off = (A - torch.diag_embed(torch.diagonal(A, dim1=-2, dim2=-1))).abs().amax((-2, -1)).numpy() / sigma[0]
    # full end-to-end residual against the theorem's matrix form, at the last recorded iteration
    Wend = h.net.end_to_end()
    Wpred = (U * torch.as_tensor(pred[-1], dtype=U.dtype, device=U.device)) @ V.T
    residual = float(torch.linalg.matrix_norm(Wend - Wpred) / torch.linalg.matrix_norm(M))
    rel = np.abs(sim - pred) / np.abs(pred)
    return RecursionCheck(h.iterations, sim, pred, float(rel.max()), float(off.max()), residual, float(h.loss[-1]))
