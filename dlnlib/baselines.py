"""Baselines: alternating minimisation (AltMin) and Burer–Monteiro (a two-factor C-DLN)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ._util import Tensor
from .networks import DLN, cdln
from .problems import Completion, Problem, spectral_factors


@dataclass
class AltMinResult:
    """``iterations (K,)``, ``train_loss``, ``recovery_error``, ``test_error`` ``(K,)``, ``wall_time (K,)``, final ``U, V``."""

    iterations: np.ndarray
    train_loss: np.ndarray
    recovery_error: np.ndarray
    test_error: np.ndarray
    wall_time: np.ndarray
    U: Tensor
    V: Tensor


def altmin(problem: Completion, r_hat: int, iterations: int, ridge: float = 0.0) -> AltMinResult:
    """Alternating least squares for completion on ``W = U Vᵀ`` (``U (d_out, r̂)``, ``V (d_in, r̂)``).

    Starts from the surrogate's top-``r̂`` factors ``U = U_r̂ √s``, ``V = V_r̂ √s``; each half-step solves the
    row-wise least-squares problems over the observed entries exactly (``ridge`` adds ``ridge·I``). One record per
    full iteration (``U`` then ``V`` update). ``train_loss`` uses the problem's normalisation.
    """
    if problem.target.ndim != 2:
        raise ValueError("altmin runs one (unbatched) problem at a time.")
    M, mask = problem.target, problem.mask
    S = problem.surrogate()
    U, s, V = spectral_factors(S, r_hat)
    scale = (s * problem.n_observed).sqrt()  # undo the 1/|Ω| of the surrogate
    U, V = U * scale, V * scale
    eye = torch.eye(r_hat, dtype=M.dtype, device=M.device)
    Mo = mask * M
    rec = ([], [], [], [])
    t0 = time.perf_counter()

    def solve(F, Mo, mask):  # rows: min_x Σ_j mask_ij (M_ij − x·F_j)²
        A = torch.einsum("ij,jk,jl->ikl", mask, F, F) + ridge * eye  # (rows, r̂, r̂)
        b = Mo @ F  # (rows, r̂)
        return torch.linalg.lstsq(A, b.unsqueeze(-1)).solution.squeeze(-1)

    for t in range(iterations + 1):
        W = U @ V.T
        rec[0].append(float(problem.loss(W)))
        rec[1].append(float(torch.linalg.matrix_norm(W - M) / torch.linalg.matrix_norm(M)))
        rec[2].append(float(problem.test_error(W)))
        rec[3].append(time.perf_counter() - t0)
        if t == iterations:
            break
        U = solve(V, Mo, mask)
        V = solve(U, Mo.T, mask.T)
    it = np.arange(iterations + 1)
    return AltMinResult(it, *(np.asarray(x) for x in rec), U, V)


def burer_monteiro(problem: Problem, r_hat: int, eps: float = 1.0, alpha: float = 1.0) -> DLN:
    """Burer–Monteiro: the ``L = 2`` factorisation ``W = W_2 W_1`` from the surrogate's spectral factors
    (the official code's unscaled ``[V_r̂ᵀ, U_r̂]`` when ``eps = 1``). Train it with :func:`dlnlib.train.train`."""
    return cdln(problem, r_hat, 2, eps, alpha, name="Burer–Monteiro")
