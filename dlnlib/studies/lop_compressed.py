"""The LoP-compressed networks study (talk T7, T8, T9, T17): bases from the gradient at ``t = 0``, the
wide-versus-compressed equivalence check, principal-component trajectories and the width / depth / narrow sweeps.

The compressed net itself is :func:`dlnlib.networks.lop_compressed` (conventions §2.5): a ``depth + 2`` factor DLN
``[V_{1,1}ᵀ, εI, …, εI, U_{L,1}]`` whose outer factors move with step ``γη``. Its bases come either from the exact
construction of conventions §2.4 (:func:`dlnlib.networks.lop_basis` with ``Φ``; factorisation) or, as in the [Y] code
(``compute_factor``), from the top-``r̂`` singular subspaces of the end-to-end gradient at ``t = 0``
(:func:`gradient_basis`; completion, where ``Ω ⊙ Φ`` is not low rank and no exact basis exists).

For factorisation the wide network's end-to-end matrix is the compressed one plus ``ρ(t)^L U_{L,2}V_{1,2}ᵀ``
(conventions §2.5); :func:`equivalence_recorder` measures the difference during training without storing ``d×d``
iterates and :func:`equivalence_error` compares it with a predicted ``ρ(t)``. :func:`talk_step` moves the talk's
step sizes to this workbook's targets. Threshold crossings, rank correlations and path distances are the engine's
(:func:`dlnlib.metrics.first_crossing`, :func:`~dlnlib.metrics.spearman`, :func:`~dlnlib.metrics.polyline_distance`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .._util import Tensor
from ..batching import stack_nets
from ..networks import DLN, LoPBasis, lop_basis, lop_compressed, wide_dln
from ..problems import Problem, rescale_step
from ..optim import GD, prefix_products
from ..recorders import History
from ..sweep import sweep
from ..train import train


# ----------------------------------------------------------------------------------------------
# Bases
# ----------------------------------------------------------------------------------------------


def gradient_basis(weights0: Sequence[Tensor], problem: Problem, r_hat: int) -> LoPBasis:
    """The [Y] code's compressed-net bases: conventions §2.4 applied to the rank-``r̂`` truncation of ``∇_{W_{L:1}}ℓ(0)``.

    ``weights0``: the wide net's ε-orthogonal square factors ``(d, d)`` at ``t = 0`` (unbatched). The [Y] code
    intersects the complements of the top-``r̂`` right singular vectors of ``∇_{W_1}ℓ`` and of ``W_1ᵀ`` times its
    top-``r̂`` left ones; since ``∇_{W_1}ℓ = W_{L:2}ᵀ G`` with ``W_{L:2}`` a scaled orthogonal matrix, that is the
    null space of ``[G_r̂; G_r̂ᵀ W_{L:1}(0)]`` with ``G_r̂`` the truncated end-to-end gradient ``G``, i.e.
    :func:`dlnlib.networks.lop_basis` with ``Φ = G_r̂``. Returns a basis with ``V_{1,1}`` of width ``2r̂``.
    """
    P = prefix_products(list(weights0))
    _, G = problem.loss_grad(P[-1])
    if G.ndim != 2:
        raise ValueError("gradient_basis works on one (unbatched) network and problem.")
    U, s, Vh = torch.linalg.svd(G, full_matrices=False)
    G_r = (U[:, :r_hat] * s[:r_hat]) @ Vh[:r_hat]
    return lop_basis(list(weights0), G_r, r_hat)


def compressed_trials(problem: Problem, r_hat: int, depth: int, eps: float, gamma: float, seeds: Sequence[int],
                      *, exact_phi: Tensor | None = None) -> tuple[DLN, list[LoPBasis], float]:
    """Compressed nets for several wide inits (one per seed), stacked into one batched DLN.

    Each trial draws a wide ``d×d`` ε-orthogonal DLN (``seed``) and builds its bases with :func:`gradient_basis`
    (or, with ``exact_phi``, the exact :func:`dlnlib.networks.lop_basis` of ``Φ``). Returns
    ``(net, bases, setup_seconds_per_trial)``: the set-up time (wide init, product and SVDs) is what the
    compressed net pays before its first step.
    """
    d_out, d_in = problem.shape
    if d_out != d_in:
        raise ValueError("compressed_trials needs a square problem (d_out = d_in).")
    nets, bases = [], []
    t0 = time.perf_counter()
    for s in seeds:
        wide = wide_dln([d_in] * (depth + 1), eps, seed=s)
        B = lop_basis(wide.weights, exact_phi, r_hat) if exact_phi is not None else gradient_basis(wide.weights, problem, r_hat)
        bases.append(B)
        nets.append(lop_compressed(B, depth, eps, gamma, name="compressed"))
    setup = (time.perf_counter() - t0) / max(len(seeds), 1)
    return stack_nets(nets), bases, setup


# ----------------------------------------------------------------------------------------------
# The talk's step sizes on this workbook's targets
# ----------------------------------------------------------------------------------------------


def talk_step(eta_talk: float, d_talk: int, problem: Problem, depth: int, normalisation: str | None = None) -> float:
    """The step that matches the talk's step ``eta_talk`` (on the ``½‖·‖²`` loss of its ``d_talk × d_talk`` target).

    The talk's targets have ``σ₁ ≈ 2√d_talk``, and GD on the top singular value moves with ``η·L·σ₁^{2−2/L}``
    (:func:`dlnlib.theory.stability_bound`); the same product on ``problem.target (d_out, d_in)`` with top singular
    value ``σ₁`` needs ``η_sum = η_talk·(2√d_talk/σ₁)^{2−2/L}`` on the ``½‖·‖²`` ("sum") loss, returned as the step
    on ``normalisation`` (default: the problem's own) by :func:`dlnlib.problems.rescale_step` (conventions §1.4).

    >>> from dlnlib.problems import Factorisation
    >>> P = Factorisation(torch.diag(torch.tensor([20.0, 1.0], dtype=torch.float64)), "mean")  # σ₁ = 2√100
    >>> talk_step(1e-3, 100, P, 3), talk_step(1e-3, 100, P, 3, "sum")
    (0.004, 0.001)
    """
    s1 = float(torch.linalg.svdvals(problem.target)[0])
    eta_sum = eta_talk * (2 * math.sqrt(d_talk) / s1) ** (2 - 2 / depth)
    return rescale_step(eta_sum, dataclasses.replace(problem, normalisation="sum"),
                        normalisation or problem.normalisation)


# ----------------------------------------------------------------------------------------------
# Wide versus compressed: the exact equivalence for factorisation (conventions §2.5)
# ----------------------------------------------------------------------------------------------


def inner_recorder(net: DLN, W: Tensor, loss: Tensor) -> Tensor:
    """``W̃_{L:1}``: the product of a compressed net's middle factors ``(2r̂, 2r̂)`` (record it with ``train``)."""
    P = net.weights[1]
    for Wl in net.weights[2:-1]:
        P = Wl @ P
    return P


def equivalence_recorder(basis: LoPBasis, inner: np.ndarray) -> Callable[[DLN, Tensor, Tensor], Tensor]:
    """A ``train`` recorder for the wide net: splits ``ΔW(t) = W_{L:1}(t) − U_{L,1}W̃_{L:1}(t)V_{1,1}ᵀ``.

    ``inner (K, 2r̂, 2r̂)``: the compressed net's ``W̃_{L:1}`` at the same ``K`` recorded iterations (from
    :func:`inner_recorder`, frozen outer factors), consumed in order. With ``O = U_{L,2}V_{1,2}ᵀ`` (``‖O‖_F² = m``)
    the recorder returns ``[‖ΔW‖_F, a, ‖ΔW − aO‖_F]`` with ``a = ⟨ΔW, O⟩/m``, so that for any predicted
    ``ρ``, ``‖ΔW − ρ^L O‖_F² = ‖ΔW − aO‖_F² + m(a − ρ^L)²`` exactly (no cancellation).
    """
    O = basis.U2[-1] @ basis.V12.T
    m = basis.m
    V11, UL1 = basis.V11, basis.UL1
    inner_t = torch.as_tensor(np.asarray(inner), dtype=O.dtype, device=O.device)
    k = [0]

    def f(net, W, loss):
        i = k[0]
        if i >= inner_t.shape[0]:
            raise IndexError("the wide net recorded more iterations than the compressed inner products given.")
        k[0] += 1
        dW = W - UL1 @ inner_t[i] @ V11.T
        a = (dW * O).sum() / m
        return torch.stack([torch.linalg.matrix_norm(dW), a, torch.linalg.matrix_norm(dW - a * O)])
    return f


@dataclass
class EquivalenceError:
    """Per recorded ``t`` (``(K,)`` arrays): ``residual`` ``‖ΔW − ρ^L O‖_F/(√m ρ^L)`` (the theorem: 0),
    ``norm`` ``|‖ΔW‖_F − √m ρ^L|/(√m ρ^L)`` (the theorem: 0) and ``phi`` ``‖ΔW − ρ^L O‖_F/‖Φ‖_F``."""

    residual: np.ndarray
    norm: np.ndarray
    phi: np.ndarray

    @property
    def worst(self) -> float:
        return float(max(self.residual.max(), self.norm.max()))


def equivalence_error(gap: np.ndarray, iterations: np.ndarray, rho: np.ndarray, depth: int, m: int,
                      phi_norm: float) -> EquivalenceError:
    """Compare the recorded split ``gap (K, 3)`` of :func:`equivalence_recorder` with a predicted ``ρ(t)``.

    ``rho``: ``ρ(t)`` for ``t = 0..T`` (e.g. :func:`dlnlib.theory.lop_rho`), read at ``iterations (K,)``.

    >>> g = np.array([[3.0, 1.0, 0.0]]); equivalence_error(g, np.array([0]), np.array([1.0]), 2, 9, 1.0).worst
    0.0
    """
    rho = np.asarray(rho, dtype=np.float64)
    if rho.shape[0] <= int(np.max(iterations)):
        raise ValueError(f"rho must list ρ(t) for t = 0..{int(np.max(iterations))}.")
    pL = rho[np.asarray(iterations)] ** depth
    gap = np.asarray(gap, dtype=np.float64)
    norm_dw, a, perp = gap[:, 0], gap[:, 1], gap[:, 2]
    res = np.sqrt(perp**2 + m * (a - pL) ** 2)
    scale = math.sqrt(m) * np.abs(pL)
    return EquivalenceError(res / scale, np.abs(norm_dw - scale) / scale, res / phi_norm)


@dataclass
class MFEquivalence:
    """Wide versus compressed (``γ = 0``) on one factorisation problem (talk T7), from :func:`mf_equivalence`.

    ``iterations (K,)`` the compressed net's record grid and ``iterations_wide (K_w,)`` its first ``K_w`` points
    (the wide run stops at its tolerance); ``loss_*``, ``time_*`` on those grids: wall-clock seconds (the
    compressed net's include its set-up); ``gap (K_w, 3)`` the split of :func:`equivalence_recorder`;
    ``pc_wide (K_w, 3)``/``pc_comp (K, 3)`` both trajectories in the
    coordinates of the top principal components of the wide net's centred iterates, ``pc_explained (3,)``;
    ``m = d − 2r̂``; ``phi_norm``; parameter counts; ``sps_*`` seconds per step; ``stop_*`` first iteration with
    loss ≤ ``tol`` (−1: never).
    """

    iterations: np.ndarray
    iterations_wide: np.ndarray
    loss_wide: np.ndarray
    loss_comp: np.ndarray
    time_wide: np.ndarray
    time_comp: np.ndarray
    gap: np.ndarray
    pc_wide: np.ndarray
    pc_comp: np.ndarray
    pc_explained: np.ndarray
    m: int
    phi_norm: float
    params_wide: int
    params_comp: int
    setup_s: float
    sps_wide: float
    sps_comp: float
    stop_wide: int
    stop_comp: int


def mf_equivalence(problem: Problem, depth: int, eps: float, eta: float, r_hat: int, tol: float, max_iter: int,
                   record_every: int, *, seed: int = 0, comp_tol_factor: float = 0.1) -> MFEquivalence:
    """Train the compressed net (exact bases of ``problem.target``, ``γ = 0``) and the wide ``d×d`` DLN it came from.

    ``eta`` is the step on the problem's loss normalisation. The compressed net runs first, until its loss is
    ``≤ comp_tol_factor·tol`` (or ``max_iter``), recording ``W̃_{L:1}`` every ``record_every`` steps; the wide net
    then runs at most as long, until its loss is ``≤ tol``, recording the equivalence split
    (:func:`equivalence_recorder`) and its end-to-end iterates (float32, for the PCs). Wall-clock times include
    the recorders' cost (similar for both nets) and, for the compressed net, the basis construction.
    """
    d_out, d = problem.shape
    M = problem.target
    wide = wide_dln([d] * depth + [d_out], eps, seed=seed, name="wide")
    t0 = time.perf_counter()
    basis = lop_basis(wide.weights, M, r_hat)
    comp = lop_compressed(basis, depth, eps, gamma=0.0, name="compressed")
    setup = time.perf_counter() - t0
    rec = list(range(0, max_iter + 1, record_every))
    hc = train(comp, problem, GD(eta), max_iter, record_at=rec, record=("loss",), recorders={"inner": inner_recorder},
               tol=comp_tol_factor * tol, check_every=record_every)
    T = int(hc.iterations[-1])
    rec_w = [t for t in rec if t <= T]
    e2e32 = lambda n, W, loss: W.to(torch.float32).clone()  # noqa: E731
    hw = train(wide, problem, GD(eta), T, record_at=rec_w, record=("loss",),
               recorders={"gap": equivalence_recorder(basis, hc["inner"]), "e2e": e2e32}, tol=tol,
               check_every=record_every)
    mu, dirs, ev = pc_basis(hw["e2e"], 3)
    pc_wide = pc_project(hw["e2e"], mu, dirs)
    # the compressed iterates in the same coordinates, in factored form: ⟨PC_j, U W̃ Vᵀ⟩ = ⟨Uᵀ PC_j V, W̃⟩
    Ut, Vt = basis.UL1.cpu().numpy(), basis.V11.cpu().numpy()
    proj = np.einsum("ia,kij,jb->kab", Ut, dirs.reshape(3, d_out, d), Vt, optimize=True)  # (3, 2r̂, 2r̂)
    pc_comp = np.einsum("kab,tab->tk", proj, hc["inner"]) - (dirs @ mu)[None, :]
    return MFEquivalence(hc.iterations, hw.iterations, hw.loss, hc.loss, hw.wall_time, hc.wall_time + setup,
                         hw["gap"], pc_wide, pc_comp, ev, basis.m, float(torch.linalg.matrix_norm(M)),
                         wide.n_params, comp.n_params, setup, hw.seconds_per_step, hc.seconds_per_step,
                         int(hw.stop_iteration), int(hc.stop_iteration))


# ----------------------------------------------------------------------------------------------
# Completion: wide versus compressed with discrepant learning rates (talk T9)
# ----------------------------------------------------------------------------------------------


@dataclass
class Trajectory:
    """One run of :func:`mc_trajectories`: ``iterations (K,)``, ``seconds (K,)`` (set-up included), ``loss``,
    ``test_error`` (mean squared residual on the unobserved entries, no ½), ``rel_error`` (``‖W − M*‖_F/‖M*‖_F``),
    ``e2e (K, d, d)`` float32 end-to-end iterates, ``stop`` (first iteration with loss ≤ tol, −1: never),
    ``setup_s``, ``sps``; ``half_mse_masked (K,)``: the [Y] code's test loss ``½‖P_Ωᶜ(W − M*)‖_F²/d²``
    (:func:`dlnlib.metrics.half_mse_masked`, what the talk's T9 panels plot; conventions §8)."""

    label: str
    iterations: np.ndarray
    seconds: np.ndarray
    loss: np.ndarray
    test_error: np.ndarray
    rel_error: np.ndarray
    e2e: np.ndarray
    stop: int
    setup_s: float
    sps: float
    half_mse_masked: np.ndarray | None = None


def trajectory_point(label: str, net: DLN, problem: Problem, eta: float, max_iter: int, record_every: int,
                     tol: float, setup_s: float = 0.0) -> Trajectory:
    """One :class:`Trajectory`: ``net`` trained with GD (step ``eta``) on ``problem`` until its loss is ``≤ tol``
    (checked every ``record_every`` steps) or ``max_iter``, recording every ``record_every`` steps the losses,
    errors and the float32 end-to-end iterate ``(d, d)``; ``setup_s`` is added to its times. One point of
    :func:`mc_trajectories`."""
    e2e32 = lambda n, W, loss: W.to(torch.float32).clone()  # noqa: E731
    h = train(net, problem, GD(eta), max_iter, record_at=list(range(0, max_iter + 1, record_every)),
              record=("loss", "test_error", "recovery_error", "half_mse_masked"), recorders={"e2e": e2e32},
              tol=tol, check_every=record_every)
    return Trajectory(label, h.iterations, h.wall_time + setup_s, h.loss, h["test_error"], h["recovery_error"],
                      h["e2e"], int(h.stop_iteration), setup_s, h.seconds_per_step, h["half_mse_masked"])


def mc_trajectories(problem: Problem, depth: int, eps: float, eta: float, r_hat: int, gammas: Sequence[float],
                    tol_wide: float, tol_comp: float, max_iter: int, record_every: int, *,
                    seed: int = 0) -> dict[str, Trajectory]:
    """The wide DLN and, for each ``γ``, the compressed net with bases from :func:`gradient_basis` of that wide
    init (step ``γη`` on the bases), on one completion problem; keys ``"wide"`` and ``"gamma=<γ>"``. The runs
    are the points of a :func:`dlnlib.sweep.sweep` of :func:`trajectory_point`."""
    d_out, d = problem.shape
    wide = wide_dln([d] * depth + [d_out], eps, seed=seed, name="wide")
    t0 = time.perf_counter()
    basis = gradient_basis(wide.weights, problem, r_hat)
    setup = time.perf_counter() - t0
    fixed = dict(problem=problem, eta=eta, max_iter=max_iter, record_every=record_every)
    pts = [dict(fixed, label="wide", net=wide, tol=tol_wide)] + [
        dict(fixed, label=f"gamma={g:g}", net=lop_compressed(basis, depth, eps, g, name=f"compressed γ={g:g}"),
             tol=tol_comp, setup_s=setup) for g in gammas]
    return dict(zip([p["label"] for p in pts], sweep(trajectory_point, pts)))


# ----------------------------------------------------------------------------------------------
# Trajectories in principal-component coordinates (talk T7, T9 left panels)
# ----------------------------------------------------------------------------------------------


def pc_basis(reference: np.ndarray, k: int = 3, components: Sequence[int] | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal components of the centred iterates ``reference (K, …)`` from the ``K×K`` Gram matrix.

    Returns ``(mean (D,), directions (k, D), explained_variance_ratio (k,))`` with ``D`` the flattened size;
    ``components``: 0-based indices (default the top ``k``). float32 input stays float32 (memory), the mean is
    float64.
    """
    X = np.asarray(reference).reshape(len(reference), -1)
    mu = X.mean(0, dtype=np.float64)
    Xc = X - mu.astype(X.dtype)
    w, V = np.linalg.eigh((Xc @ Xc.T).astype(np.float64))
    order = np.argsort(w)[::-1]
    w, V = np.clip(w[order], 0, None), V[:, order]
    idx = list(components) if components is not None else list(range(k))
    coef = V[:, idx] / np.sqrt(np.clip(w[idx], 1e-300, None))
    dirs = (Xc.T @ coef.astype(X.dtype)).T.astype(np.float64)
    return mu, dirs, w[idx] / max(w.sum(), 1e-300)


def pc_project(Y: np.ndarray, mu: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Coordinates ``(K, k)`` of iterates ``Y (K, …)`` on the directions of :func:`pc_basis`."""
    Y = np.asarray(Y).reshape(len(Y), -1)
    return (Y @ dirs.T.astype(Y.dtype)).astype(np.float64) - (dirs @ mu)[None, :]


def pc_coordinates(reference: np.ndarray, others: Sequence[np.ndarray] = (), k: int = 3,
                   components: Sequence[int] | None = None) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Project trajectories onto principal components of the centred ``reference`` iterates (:func:`pc_basis`).

    Returns ``(ref_coords (K, k), [coords (K_j, k)], explained_variance_ratio (k,))``, relative to the
    reference mean.

    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.1]]); c, _, ev = pc_coordinates(X, k=1)
    >>> bool(ev[0] > 0.99), bool(abs(abs(c[2, 0] - c[0, 0]) - 2.0) < 0.01)
    (True, True)
    """
    mu, dirs, ev = pc_basis(reference, k, components)
    return pc_project(reference, mu, dirs), [pc_project(Y, mu, dirs) for Y in others], ev


# ----------------------------------------------------------------------------------------------
# Sweeps: iterations and time to converge, final recovery errors (talk T8, T17)
# ----------------------------------------------------------------------------------------------


@dataclass
class SweepPoint:
    """One configuration (a width, an ``r̂``) over ``trials`` batched runs, all arrays ``(trials,)``.

    ``iterations``: first checked iteration with loss ≤ ``tol`` (the cap if never, see ``converged``);
    ``seconds``: wall-clock training time until then (batched runs: the batch's time), plus ``setup_s``;
    ``test_error``: mean squared error on unobserved entries at the end (no ½); ``rel_error``: ``‖W − M*‖_F/‖M*‖_F``;
    ``half_mse_masked``: the [Y] code's test loss ``½‖P_Ωᶜ(W − M*)‖_F²/d²`` at the end
    (:func:`dlnlib.metrics.half_mse_masked`, conventions §8).
    """

    value: int
    iterations: np.ndarray
    seconds: np.ndarray
    test_error: np.ndarray
    rel_error: np.ndarray
    converged: np.ndarray
    setup_s: float = 0.0
    seconds_per_step: float = float("nan")
    half_mse_masked: np.ndarray | None = None


def _point(value: int, h: History, cap: int, setup_s: float) -> SweepPoint:
    stop = np.asarray(h.stop_iteration).reshape(-1)
    conv = stop >= 0
    its = np.where(conv, stop, cap)
    idx = np.searchsorted(h.iterations, its)
    idx = np.clip(idx, 0, len(h.iterations) - 1)
    secs = h.wall_time[idx] + setup_s
    last = lambda k: np.asarray(h[k][-1]).reshape(-1)  # noqa: E731 - frozen runs keep their final state
    return SweepPoint(value, its, secs, last("test_error"), last("recovery_error"), conv, setup_s, h.seconds_per_step,
                      last("half_mse_masked"))


def run_batch(net: DLN, problem: Problem, eta: float, iterations: int, tol: float, check_every: int = 100,
              setup_s: float = 0.0, value: int = 0) -> SweepPoint:
    """Train a batched net with GD (step ``eta`` on the problem's normalised loss) until every run's loss ≤ ``tol``
    (checked every ``check_every`` steps, the [Y] code's outer loop) or ``iterations``; one :class:`SweepPoint`."""
    rec = list(range(0, iterations + 1, check_every))
    h = train(net, problem, GD(eta), iterations, record_at=rec,
              record=("loss", "test_error", "recovery_error", "half_mse_masked"), tol=tol, check_every=check_every)
    return _point(value, h, iterations, setup_s)


def narrow_point(problem: Problem, width: int, depth: int, eps: float, eta: float, trials: int, iterations: int,
                 tol: float, seed: int, check_every: int = 100) -> SweepPoint:
    """Random ε-orthogonal DLNs ``[d_in, w, …, w, d_out]`` (``depth`` factors, width ``w``, init ``seed``): ``trials``
    inits trained as one batch by :func:`run_batch`; one point of :func:`narrow_sweep`."""
    d_out, d_in = problem.shape
    widths = [d_in] + [width] * (depth - 1) + [d_out]
    net = wide_dln(widths, eps, seed=seed, batch=(trials,), name=f"narrow w={width}")
    return run_batch(net, problem, eta, iterations, tol, check_every, value=width)


def narrow_sweep(problem: Problem, widths: Sequence[int], depth: int, eps: float, eta: float, trials: int,
                 iterations: int, tol: float, *, seed: int = 0, check_every: int = 100) -> list[SweepPoint]:
    """:func:`narrow_point` for each width ``widths[i]`` (init seed ``seed + 1000i``), mapped by
    :func:`dlnlib.sweep.sweep` (on the active Dask client, else in-process); one :class:`SweepPoint` per width."""
    fixed = dict(problem=problem, depth=depth, eps=eps, eta=eta, trials=trials, iterations=iterations, tol=tol,
                 check_every=check_every)
    return sweep(narrow_point, [dict(fixed, width=w, seed=seed + 1000 * i) for i, w in enumerate(widths)])


def compressed_point(problem: Problem, r_hat: int, depth: int, eps: float, eta: float, gamma: float,
                     iterations: int, tol: float, seeds: Sequence[int], check_every: int = 100) -> SweepPoint:
    """The compressed net (:func:`compressed_trials`: :func:`gradient_basis`, step ``γη`` on the bases) of rank
    ``r̂`` for the wide inits ``seeds``, one trial each, as one batch; the set-up time per trial is added to its
    training time. One point of :func:`compressed_sweep`."""
    net, _, setup = compressed_trials(problem, r_hat, depth, eps, gamma, seeds)
    return run_batch(net, problem, eta, iterations, tol, check_every, setup_s=setup, value=r_hat)


def compressed_sweep(problem: Problem, r_hats: Sequence[int], depth: int, eps: float, eta: float, gamma: float,
                     trials: int, iterations: int, tol: float, *, seed: int = 0,
                     check_every: int = 100) -> list[SweepPoint]:
    """:func:`compressed_point` for each ``r̂ = r_hats[i]`` with the wide-init seeds ``seed + 1000i + t``,
    ``t < trials``, mapped by :func:`dlnlib.sweep.sweep`; one :class:`SweepPoint` per ``r̂``."""
    fixed = dict(problem=problem, depth=depth, eps=eps, eta=eta, gamma=gamma, iterations=iterations, tol=tol,
                 check_every=check_every)
    return sweep(compressed_point, [dict(fixed, r_hat=rh, seeds=[seed + 1000 * i + t for t in range(trials)])
                                    for i, rh in enumerate(r_hats)])


def summarise(points: Sequence[SweepPoint], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values, mean, std)`` of ``key`` (``iterations``, ``seconds``, ``test_error``, ``rel_error``,
    ``half_mse_masked``) over trials."""
    vals = np.array([p.value for p in points])
    a = np.stack([np.asarray(getattr(p, key), dtype=np.float64) for p in points])
    return vals, a.mean(1), a.std(1)
