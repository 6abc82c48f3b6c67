"""Proposition 1 and Theorem 2 of [K] checked by simulation: GD singular values against the gradient flow (gap,
order of convergence in η, velocity residual) and the ordering ``‖W̃(t) − M*‖ ≤ ‖W(t) − M*‖`` of C-DLN's recovery
error below the original DLN's, on batches of runs.

Every check returns numbers; notebook 04 asserts on them. The closed form a check compares against is an argument
(``flow=``, ``rhs=``) so that a test can feed a perturbed one; C-DLN's error predicted by the recursion is
:func:`dlnlib.theory.recursion_recovery_error`. Conventions: float64; steps ``eta``
on the problem's loss normalisation, flow time ``τ = c·η·t`` (conventions §1.4, §6).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..batching import repeat_problem
from ..networks import cdln, wide_dln
from .._util import Tensor
from ..problems import Factorisation, Problem
from ..theory import sv_flow_rhs, sv_gradient_flow
from ..optim import GD
from ..train import train
from .kwon_assumption1 import spectral_recorder

# ----------------------------------------------------------------------------------------------
# Proposition 1: GD singular values against the gradient flow, order of convergence in η
# ----------------------------------------------------------------------------------------------


def convergence_order(etas: Sequence[float], gaps: Sequence[float]) -> float:
    """Least-squares slope of ``log gap`` against ``log η`` (1 for a first-order method).

    >>> round(convergence_order([0.1, 0.05, 0.025], [2e-3, 1e-3, 5e-4]), 12)
    1.0
    """
    x, y = np.log(np.asarray(etas, dtype=np.float64)), np.log(np.asarray(gaps, dtype=np.float64))
    return float(np.polyfit(x, y, 1)[0])


def flow_gap(gd_sv: np.ndarray, times: np.ndarray, sigma_star: np.ndarray, depth: int, s0: float, *,
             loss_scale: float = 1.0, flow=sv_gradient_flow, dt: float = 2e-3) -> float:
    """``max_{t,i,b} |σ_i^{GD} − s_i(τ)|/σ_i*`` between GD singular values ``gd_sv (K, B, k)`` recorded at flow times
    ``times (K,)`` and the flow ``flow(sigma, depth, s0, times, dt, loss_scale)`` integrated for all ``B·k``
    components at once (the flow is elementwise). Flow time is ``τ = c·η·t`` (pass ``loss_scale=1`` then).

    >>> sig = np.array([[1.0]]); s = sv_gradient_flow(sig[0], 2, 0.1, [0.0, 1.0], 2e-3)
    >>> flow_gap(s[:, None, :], np.array([0.0, 1.0]), sig, 2, 0.1)
    0.0
    """
    sig = np.atleast_2d(sigma_star)
    B, k = sig.shape
    s = np.asarray(flow(sig.ravel(), depth, s0, times, dt, loss_scale)).reshape(len(times), B, k)
    return float((np.abs(gd_sv[:, :, :k] - s) / sig[None]).max())


def velocity_residual(sv_t: np.ndarray, sv_next: np.ndarray, proj: np.ndarray, step: float, depth: int,
                      rhs: Callable | None = None) -> np.ndarray:
    """Proposition 1 on GD: ``(σ(t+1) − σ(t))/(cη)`` against ``−L(σ²)^{1−1/L}(σ − u_iᵀM*v_i)``.

    Inputs ``(K, B, k)`` (``step = c·η``); returns ``max_t |fd − formula| / max_t |formula|``, shape ``(B, k)``.
    ``rhs(s, proj, L)`` replaces the formula (default :func:`theory.sv_flow_rhs` with ``σ* → proj``).

    >>> s, p = np.array([[[1.0]]]), np.array([[[2.0]]])
    >>> velocity_residual(s, s + 1e-3 * sv_flow_rhs(s, p, 2), p, 1e-3, 2).round(9).tolist()
    [[0.0]]
    """
    rhs = rhs or sv_flow_rhs
    fd = (sv_next - sv_t) / step
    formula = rhs(sv_t, proj, depth)
    return np.abs(fd - formula).max(0) / np.abs(formula).max(0)


# ----------------------------------------------------------------------------------------------
# Theorem 2: ordering of recovery errors
# ----------------------------------------------------------------------------------------------


def ordering_violations(err_orig: np.ndarray, err_comp: np.ndarray, allowance: float = 0.0) -> tuple[int, float]:
    """Theorem 2 ordering ``‖W̃ − M*‖ ≤ ‖W − M*‖``: number of entries of ``(K, B)`` arrays with
    ``err_comp > err_orig + allowance``, and the largest ``(err_comp − err_orig)/err_orig`` (≤ 0 when it holds).

    >>> ordering_violations(np.array([[1.0, 2.0]]), np.array([[0.5, 2.5]]))
    (1, 0.25)
    """
    bad = err_comp > err_orig + allowance
    return int(bad.sum()), float(((err_comp - err_orig) / err_orig).max())


@dataclass
class OrigComp:
    """Original DLN and C-DLN on the same batched problem: ``iterations (K,)``, ``err_orig``/``err_comp (K, B)``
    relative recovery errors, ``rec_orig``/``rec_comp (K, B, 5, k)`` :func:`spectral_recorder` records,
    ``sigma_star (B, k)``, ``diverged (B,)`` either net diverged, ``seconds`` wall time of both runs."""

    iterations: np.ndarray
    err_orig: np.ndarray
    err_comp: np.ndarray
    rec_orig: np.ndarray
    rec_comp: np.ndarray
    sigma_star: np.ndarray
    diverged: np.ndarray
    seconds: float


def orig_and_comp(problem: Problem, r: int, r_hat: int, depth: int, eps: float, eta: float, T: int, *,
                  alpha=1.0, k: int | None = None, record_at=100, seed: int = 0, init: str = "orthogonal",
                  spectral: bool = True) -> OrigComp:
    """Train the wide DLN (ε-``init``) and C-DLN (α) on a problem with batched targets ``(B, d, d)`` (GD, step
    ``eta``), recording recovery errors and, if ``spectral``, :func:`spectral_recorder` for the top ``k`` (default ``r``)."""
    M = problem.target
    B, d = M.shape[0], M.shape[-1]
    k = k or r
    t0 = time.perf_counter()
    orig = wide_dln([d] * (depth + 1), eps, init, seed, batch=(B,), dtype=M.dtype, device=M.device, name="orig")
    alphas = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (B,)).copy()  # α per run: GD's per-run step path
    comp = cdln(problem, r_hat, depth, eps, alphas, name="comp")
    rec = {"s": spectral_recorder(M, k)} if spectral else {}
    kw = dict(record_at=record_at, record=("recovery_error",), recorders=rec, on_divergence="flag")
    ho, hc = train(orig, problem, GD(eta), T, **kw), train(comp, problem, GD(eta), T, **kw)
    K = len(ho.iterations)
    get = lambda h: np.asarray(h["s"]) if spectral else np.zeros((K, B, 5, k))
    diverged = lambda h: np.asarray(h.diverged_at).reshape(B) >= 0
    return OrigComp(ho.iterations, np.asarray(ho["recovery_error"]).reshape(K, B),
                    np.asarray(hc["recovery_error"]).reshape(K, B), get(ho), get(hc),
                    torch.linalg.svdvals(M)[:, :k].cpu().numpy(), diverged(ho) | diverged(hc),
                    time.perf_counter() - t0)


def comp_errors(problem: Problem, r_hat: int, depth: int, eps: float, eta: float, T: int, alpha, *,
                record_at=100) -> tuple[np.ndarray, np.ndarray]:
    """Relative recovery errors of C-DLN for several ``alpha`` on a problem with targets ``(B, d, d)``: one batched
    run over ``len(alpha)·B`` networks (alpha-major). Returns ``(iterations (K,), errors (K, len(alpha), B))``."""
    B = problem.target.shape[0]
    alphas = np.atleast_1d(np.asarray(alpha, dtype=np.float64))
    n = alphas.size
    net = cdln(problem.surrogate().repeat(n, 1, 1), r_hat, depth, eps, np.repeat(alphas, B), name="comp")
    h = train(net, repeat_problem(problem, n), GD(eta), T, record_at=record_at, record=("recovery_error",),
              on_divergence="flag")
    return h.iterations, np.asarray(h["recovery_error"]).reshape(len(h.iterations), n, B)


def ordering_point(problem: Problem, r: int, r_hat: int, depth: int, eps: float, eta: float, T: int, *,
                   alphas: Sequence[float] = (), record_at=100, seed: int = 0) -> dict:
    """Theorem 2's ordering on one problem with targets ``(B, d, d)``: ``{"oc": orig_and_comp(...)}`` (α = 1) and
    ``"alpha"``: :func:`comp_errors` at ``alphas`` (``None`` when empty); one point of notebook 04's sweep over
    factorisation, sensing and completion."""
    oc = orig_and_comp(problem, r, r_hat, depth, eps, eta, T, record_at=record_at, seed=seed)
    alpha = comp_errors(problem, r_hat, depth, eps, eta, T, alphas, record_at=record_at) if len(alphas) else None
    return dict(oc=oc, alpha=alpha)


def prop1_point(M: Tensor, r: int, depth: int, eps: float, eta: float, taus: np.ndarray, seed: int = 0) -> dict:
    """Proposition 1's GD runs at one step ``eta`` on the factorisation of ``M (B, d, d)`` (``½‖·‖²`` loss), up
    to flow time ``taus[-1]``: C-DLN (α = 1 per run) recorded at ``round(τ/η)`` for ``τ`` in ``taus``, and the wide
    ε-orthogonal DLN (``seed``) at the consecutive pairs ``t, t + 1`` of the interior ones (for the velocity).
    Returns ``its (K,)``, ``comp (K, B, 5, r)``, ``pairs (K',)``, ``orig (K', B, 5, r)`` (:func:`spectral_recorder`
    records); one point of notebook 04's sweep over η."""
    B, d = M.shape[0], M.shape[-1]
    problem = Factorisation(M)
    its = np.round(np.asarray(taus) / eta).astype(int)
    T = int(its[-1])
    comp = cdln(problem, r, depth, eps, np.ones(B))
    hc = train(comp, problem, GD(eta), T, record_at=its, recorders={"s": spectral_recorder(M, r)})
    pairs = np.unique(np.concatenate([its[1:-1], its[1:-1] + 1]))
    orig = wide_dln([d] * (depth + 1), eps, seed=seed, batch=(B,))
    ho = train(orig, problem, GD(eta), T, record_at=pairs, recorders={"s": spectral_recorder(M, r)})
    return dict(its=hc.iterations, comp=np.asarray(hc["s"]), pairs=ho.iterations, orig=np.asarray(ho["s"]))
