"""Baselines: alternating minimisation (AltMin) and Burer–Monteiro (a two-factor C-DLN)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ._util import Tensor, check_integer, check_positive
from .metrics import relative_error
from .networks import DLN, cdln
from .problems import Completion, Problem, spectral_factors


@dataclass
class AltMinResult:
    """One AltMin trajectory, a record per full iteration: ``iterations (K,)``, ``train_loss``, ``recovery_error``
    (‖W − M‖_F/‖M‖_F), ``test_error`` (:meth:`Completion.test_error`), ``wall_time (K,)`` seconds of the half-steps
    so far (evaluation and the initial SVD excluded), the final factors ``U (d_out, r̂)``, ``V (d_in, r̂)``,
    ``values[name] (K,)`` for each extra recorder and ``setup_s``, the seconds of the initial SVD."""

    iterations: np.ndarray
    train_loss: np.ndarray
    recovery_error: np.ndarray
    test_error: np.ndarray
    wall_time: np.ndarray
    U: Tensor
    V: Tensor
    values: dict[str, np.ndarray] = field(default_factory=dict)
    setup_s: float = 0.0


def altmin(problem: Completion, r_hat: int, iterations: int, ridge: float = 0.0, *,
           recorders: dict[str, Callable[[Tensor], Tensor | float]] | None = None) -> AltMinResult:
    """Alternating least squares for completion on ``W = U Vᵀ`` (``U (d_out, r̂)``, ``V (d_in, r̂)``).

    Starts from the surrogate's top-``r̂`` factors ``U = U_r̂ √(s·|Ω|)``, ``V = V_r̂ √(s·|Ω|)`` (the ``|Ω|`` undoes
    the surrogate's ``1/|Ω|``); each half-step solves the row-wise least-squares problems over the observed entries
    exactly, ``min_x Σ_j Ω_ij (M_ij − x·F_j)² + ridge·|x|²``. One record per full iteration (``U`` then ``V``
    update), ``iterations + 1`` records in all. ``train_loss`` uses the problem's normalisation; ``recorders``
    ``{name: f(W (d_out, d_in)) -> scalar}`` add records (e.g. a held-out error) to ``values``. ``ridge = 0`` is
    the plain AltMin of [K].

    >>> from dlnlib.problems import exact_count_mask, low_rank_target
    >>> P = Completion(low_rank_target(20, 20, 2, seed=0), exact_count_mask(20, 20, 0.7, seed=1))
    >>> res = altmin(P, 2, 30, recorders={"w00": lambda W: W[0, 0]})
    >>> res.iterations[-1], float(res.wall_time[0]), bool(res.recovery_error[-1] < 1e-9), res.values["w00"].shape
    (np.int64(30), 0.0, True, (31,))
    """
    _altmin_args(problem, r_hat, iterations, ridge, recorders)
    if problem.target.ndim != 2:
        raise ValueError("altmin runs one (unbatched) problem at a time.")
    M, mask = problem.target, problem.mask
    t0 = time.perf_counter()
    U, s, V = spectral_factors(problem.surrogate(), r_hat)
    setup_s = time.perf_counter() - t0
    scale = (s * problem.n_observed).sqrt()  # undo the 1/|Ω| of the surrogate
    U, V = U * scale, V * scale
    eye = torch.eye(r_hat, dtype=M.dtype, device=M.device)
    Mo = mask * M

    def solve(F, Mo, mask):  # rows: min_x Σ_j mask_ij (M_ij − x·F_j)² + ridge |x|²
        A = torch.einsum("ij,jk,jl->ikl", mask, F, F) + ridge * eye  # (rows, r̂, r̂)
        b = Mo @ F  # (rows, r̂)
        return torch.linalg.lstsq(A, b.unsqueeze(-1)).solution.squeeze(-1)

    fns = {"train_loss": problem.loss, "recovery_error": lambda W: relative_error(W, M),
           "test_error": problem.test_error, **(recorders or {})}
    rec: dict[str, list[float]] = {k: [] for k in fns}
    wall, elapsed = [], 0.0
    for t in range(iterations + 1):
        W = U @ V.T
        for k, f in fns.items():
            rec[k].append(float(f(W)))
        wall.append(elapsed)
        if t == iterations:
            break
        t1 = time.perf_counter()
        U = solve(V, Mo, mask)
        V = solve(U, Mo.T, mask.T)
        elapsed += time.perf_counter() - t1
    arr = {k: np.asarray(v) for k, v in rec.items()}
    return AltMinResult(np.arange(iterations + 1), arr.pop("train_loss"), arr.pop("recovery_error"),
                        arr.pop("test_error"), np.asarray(wall), U, V, arr, setup_s)


def _altmin_args(problem, r_hat, iterations, ridge, recorders) -> None:
    """``problem`` a :class:`Completion`, ``1 ≤ r̂ ≤ min(d_out, d_in)``, ``iterations ≥ 0``, ``ridge ≥ 0`` finite,
    ``recorders`` a dict of functions."""
    if not isinstance(problem, Completion):
        raise TypeError(f"altmin solves a Completion problem, got {type(problem).__name__}.")
    check_integer("r_hat", r_hat, 1, min(problem.shape))
    check_integer("iterations", iterations, 0)
    check_positive("ridge", ridge, allow_zero=True)
    if recorders is not None and (not isinstance(recorders, dict) or not all(callable(f) for f in recorders.values())):
        raise TypeError("recorders must be a dict {name: f(W) -> scalar} of functions.")
    clash = sorted(set(recorders or {}) & {"train_loss", "recovery_error", "test_error"})
    if clash:
        raise ValueError(f"recorders {clash} clash with the built-in records; rename them.")


def burer_monteiro(problem: Problem, r_hat: int, eps: float = 1.0, alpha: float = 1.0) -> DLN:
    """Burer–Monteiro: the ``L = 2`` factorisation ``W = W_2 W_1`` from the surrogate's spectral factors
    (the official code's unscaled ``[V_r̂ᵀ, U_r̂]`` when ``eps = 1``). Train it with :func:`dlnlib.train.train`.
    ``eps``, ``alpha`` finite ``> 0`` and ``r_hat`` are checked by :func:`dlnlib.networks.cdln`."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a dlnlib Problem, got {type(problem).__name__}.")
    return cdln(problem, r_hat, 2, eps, alpha, name="Burer–Monteiro")
