"""Assumption 1 of [K] (incremental learning) measured on runs: the spectral recorder ``c_val(t)``, ``c_vec(t)``,
the incremental learning times ``t_i`` and whether they come in order ``t_1 ≤ t_2 ≤ … ≤ t_r``.

Every function returns numbers; notebook 04 asserts on them. Conventions: float64; ``W_{L:1} = W_L⋯W_1``;
``c_val`` and ``c_vec`` as in conventions §6 (Assumption 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._util import Tensor
from ..problems import spectral_factors

FIELDS = ("sv", "c_val", "c_vec_u", "c_vec_v", "proj")
"""Rows of :func:`spectral_recorder`'s output."""


def spectral_recorder(M: Tensor, k: int):
    """Recorder for :func:`train`: per recorded iteration a ``(..., 5, k)`` tensor with rows :data:`FIELDS`:

    ``sv`` the top-``k`` singular values ``σ_i(t)`` of ``W_{L:1}(t)``; ``c_val = (σ_i(t) − σ_i*)²``;
    ``c_vec_u = 1 − |⟨u_i(t), u_i*⟩|`` and ``c_vec_v`` likewise, computed as ``½‖u_i − ±u_i*‖²`` (no cancellation,
    so values far below 1e-16 are resolved); ``proj = u_i(t)ᵀ M* v_i(t)`` (Proposition 1's projection).
    ``M`` is the target ``(..., d_out, d_in)``.

    >>> M = torch.diag(torch.tensor([2.0, 1.0, 0.0], dtype=torch.float64))
    >>> spectral_recorder(M, 2)(None, M, None)[[0, 1, 4]].tolist()
    [[2.0, 1.0], [0.0, 0.0], [2.0, 1.0]]
    """
    Us, ss, Vs = spectral_factors(M, k)

    def close(x, y):
        sgn = torch.where((x * y).sum(-2, keepdim=True) >= 0, 1.0, -1.0).to(x.dtype)
        return 0.5 * (x - sgn * y).square().sum(-2)

    def f(net, W, loss):
        U, s, Vh = torch.linalg.svd(W, full_matrices=False)
        u, v = U[..., :k], Vh[..., :k, :].transpose(-1, -2)
        proj = (u * (M @ v)).sum(-2)
        return torch.stack([s[..., :k], (s[..., :k] - ss).square(), close(u, Us), close(v, Vs), proj], -2)

    return f


def incremental_times(c_val_rel: np.ndarray, c_vec: np.ndarray, iterations: np.ndarray, tau_val: float,
                      tau_vec: float) -> np.ndarray:
    """Estimated ``t_i``: the first recorded iteration from which on ``c_val_rel ≤ τ_val`` and ``c_vec ≤ τ_vec``
    hold at every later recorded iteration. Inputs ``(K, ..., r)``; returns ``(..., r)`` ints, −1 if never.

    (Not a first crossing: a component that fits and then leaves again is not counted until it fits for good.)

    >>> cv = np.array([[1, 1], [0, 1], [0, 0], [0, 0]], dtype=float)
    >>> incremental_times(cv, 0 * cv, np.arange(4), 0.5, 0.5).tolist()
    [1, 2]
    """
    ok = (c_val_rel <= tau_val) & (c_vec <= tau_vec)
    tail_ok = np.flip(np.logical_and.accumulate(np.flip(ok, 0), 0), 0)  # ok at k and every later k
    first = np.argmax(tail_ok, 0)
    return np.where(tail_ok.any(0), np.asarray(iterations)[first], -1)


def order_violations(t: np.ndarray) -> int:
    """Instances (rows of ``t (..., r)``) whose times are not ordered ``t_1 ≤ t_2 ≤ … ≤ t_r`` or contain −1.

    >>> order_violations(np.array([[1, 2, 2], [3, 2, 5], [1, -1, 4]]))
    2
    """
    t = np.asarray(t).reshape(-1, np.shape(t)[-1])
    bad = (np.diff(t, axis=-1) < 0).any(-1) | (t < 0).any(-1)
    return int(bad.sum())


@dataclass
class Assumption1:
    """Assumption 1 on a batch of runs: ``times (B, r)`` (:func:`incremental_times`), ``order_violations``,
    ``final_c_val_rel``, ``final_c_vec`` (max over runs and ``i`` at the last iteration), ``min_c_val``/``min_c_vec``
    (smallest values reached, max over ``i`` and runs), ``early_max (B, r−1)`` ``max_{t < t_i} σ_{i+1}(t)/σ_{i+1}*``."""

    times: np.ndarray
    order_violations: int
    final_c_val_rel: float
    final_c_vec: float
    min_c_val: float
    min_c_vec: float
    early_max: np.ndarray


def assumption1(rec: np.ndarray, sigma_star: np.ndarray, iterations: np.ndarray, tau_val: float = 1e-2,
                tau_vec: float = 1e-2) -> Assumption1:
    """Summarise a :func:`spectral_recorder` record ``rec (K, B, 5, r)`` for targets ``sigma_star (B, r)``;
    ``c_val`` is taken relative to ``σ_i*²`` and ``c_vec = max(c_vec_u, c_vec_v)``.

    >>> rec = np.zeros((3, 1, 5, 2)); rec[:, 0, 0] = [2.0, 1.0]
    >>> assumption1(rec, np.array([[2.0, 1.0]]), np.arange(3)).times.tolist()
    [[0, 0]]
    """
    sv, c_val, cu, cv = rec[:, :, 0], rec[:, :, 1], rec[:, :, 2], rec[:, :, 3]
    c_rel = c_val / sigma_star[None] ** 2
    c_vec = np.maximum(cu, cv)
    t = incremental_times(c_rel, c_vec, iterations, tau_val, tau_vec)
    r = sv.shape[-1]
    early = np.full((sv.shape[1], max(r - 1, 0)), np.nan)
    for b in range(sv.shape[1]):
        for i in range(r - 1):
            before = np.asarray(iterations) < t[b, i] if t[b, i] >= 0 else np.ones(len(iterations), bool)
            early[b, i] = (sv[before, b, i + 1] / sigma_star[b, i + 1]).max() if before.any() else 0.0
    return Assumption1(t, order_violations(t), float(c_rel[-1].max()), float(c_vec[-1].max()),
                       float(c_rel.min(0).max()), float(c_vec.min(0).max()), early)
