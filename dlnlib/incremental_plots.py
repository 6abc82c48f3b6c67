"""Incremental learning figures of [K] (Figs 4, 8–13): runs, fitting times and the shared plots.

A run records, at each recorded iteration, the top singular values of the end-to-end matrix ``W_{L:1}(t)``
and the alignments ``|⟨u_i(t), u_i*⟩|``, ``|⟨v_i(t), v_i*⟩|`` of its i-th singular vectors with those of the
target ``M*`` (THEORY §6, Assumption 1). From the singular values we read off

- the fitting times ``t_i``: the (interpolated) iteration at which ``σ_i(t)`` first reaches a fraction
  (default ½) of ``σ_i*`` (:func:`fit_times`);
- the incremental order: ``t_1 ≤ t_2 ≤ … ≤ t_r`` within one run (:func:`backward_steps`;
  :func:`dlnlib.incremental.order_violations` counts the unordered instances of a batch instead);
- the trailing values ``σ_{r+1}, σ_{r+2}, …``, which should stay near their initial value ``ε^L``
  (:func:`trailing_max`);
- the waiting: ``σ_i`` is still small when ``σ_{i−1}`` has (almost) reached its target (:func:`wait_ratio`).

Matrix sensing is memory-bound on the ``m × d²`` operator; :func:`padded_cdln` embeds C-DLN into ``d × d``
factors (zero padding, exact) so that the wide DLN and C-DLN of several targets train as one batch and read the
operator once per step (:func:`stack_dlns`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ._util import Tensor
from .networks import DLN, cdln
from .problems import Problem
from .train import GD, Recorder, train


# ----------------------------------------------------------------------------------------------
# Recording
# ----------------------------------------------------------------------------------------------


def alignment_recorder(target: Tensor, k: int) -> Recorder:
    """Recorder of ``|⟨u_i(W), u_i*⟩|`` and ``|⟨v_i(W), v_i*⟩|`` for ``i < k``: a ``(..., 2, k)`` tensor.

    ``target``: ``M*`` of shape ``(..., d_out, d_in)`` (batched like the network); its SVD is computed once.
    Row 0 holds the left (u), row 1 the right (v) alignments. Same values as :func:`dlnlib.metrics.alignment`.

    >>> M = torch.diag(torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64))
    >>> f = alignment_recorder(M, 2)
    >>> f(None, torch.diag(torch.tensor([1.0, 5.0, 0.0], dtype=torch.float64)), None).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    U, _, Vh = torch.linalg.svd(target, full_matrices=False)
    Us, Vhs = U[..., :k], Vh[..., :k, :]

    def f(net, W, loss):
        Uw, _, Vhw = torch.linalg.svd(W, full_matrices=False)
        cu = (Uw[..., :k] * Us).sum(-2).abs()
        cv = (Vhw[..., :k, :] * Vhs).sum(-1).abs()
        return torch.stack([cu, cv], dim=-2)

    return f


@dataclass
class IncrementalRun:
    """One trajectory of an incremental-learning experiment.

    ``iterations (K,)``; ``sv (K, n)`` the top ``n`` singular values of ``W_{L:1}(t)``; ``align_u``/``align_v``
    ``(K, r)``; ``loss (K,)``; ``sigma_star (r,)``; ``stop_iteration``/``diverged_at`` (−1 if never);
    ``seconds`` the wall-clock time of the training call (shared by every run of a batch).
    """

    label: str
    iterations: np.ndarray
    sv: np.ndarray
    align_u: np.ndarray
    align_v: np.ndarray
    loss: np.ndarray
    sigma_star: np.ndarray
    stop_iteration: int = -1
    diverged_at: int = -1
    seconds: float = float("nan")
    seconds_per_step: float = float("nan")
    extra: dict = field(default_factory=dict)

    @property
    def r(self) -> int:
        return int(self.sigma_star.shape[0])


def run_incremental(net: DLN, problem: Problem, eta: float, iterations: int, *, r: int | Sequence[int],
                    n_sv: int, labels: Sequence[str] | str, record_at=400, tol: float | None = None,
                    target: Tensor | None = None) -> list[IncrementalRun]:
    """Train ``net`` with GD (step ``eta`` on the problem's loss normalisation) and record the incremental dynamics.

    ``net`` may be batched (``batch = (B,)``, e.g. from :func:`stack_dlns`); ``problem`` then carries ``B``
    targets. ``r``: the target rank (one per run for a batch); ``n_sv``: how many singular values to keep
    (``>= r``, the rest are the trailing ones). ``target``: ``M*`` (default ``problem.target``). Divergence is
    flagged, not raised. Returns one :class:`IncrementalRun` per batch member.
    """
    M = problem.target if target is None else target
    batch = net.batch_shape
    B = int(np.prod(batch)) if batch else 1
    rs = [r] * B if isinstance(r, int) else list(r)
    labels = [labels] * B if isinstance(labels, str) else list(labels)
    if len(rs) != B or len(labels) != B:
        raise ValueError(f"give one r and one label per run of the batch ({B}).")
    k = max(rs)
    t0 = time.perf_counter()
    h = train(net, problem, GD(eta), iterations, record_at=record_at, record=("loss", "sv"),
              recorders={"align": alignment_recorder(M, k)}, tol=tol, on_divergence="flag" if batch else "raise")
    seconds = time.perf_counter() - t0
    s_star = torch.linalg.svdvals(M).cpu().numpy()
    sv, al, loss = h["sv"], h["align"], h["loss"]
    stop, div = np.asarray(h.stop_iteration).reshape(-1), np.asarray(h.diverged_at).reshape(-1)
    if not batch:
        sv, al, loss, s_star = sv[:, None], al[:, None], loss[:, None], s_star[None]
    runs = []
    for b in range(B):
        rb = rs[b]
        runs.append(IncrementalRun(labels[b], h.iterations, sv[:, b, :n_sv], al[:, b, 0, :rb], al[:, b, 1, :rb],
                                   loss[:, b], s_star[b, :rb], int(stop[b]), int(div[b]), seconds,
                                   h.seconds_per_step))
    return runs


# ----------------------------------------------------------------------------------------------
# Batching the wide DLN and C-DLN (matrix sensing)
# ----------------------------------------------------------------------------------------------


def pad_to(W: Tensor, rows: int, cols: int) -> Tensor:
    """Zero-pad the trailing two dims of ``W (..., m, n)`` to ``(..., rows, cols)``."""
    m, n = W.shape[-2:]
    if m > rows or n > cols:
        raise ValueError(f"cannot pad a {m}×{n} matrix to {rows}×{cols}.")
    return torch.nn.functional.pad(W, (0, cols - n, 0, rows - m))


def padded_cdln(surrogate, r_hat: int, depth: int, eps: float, alpha: float, width: int) -> DLN:
    """C-DLN (Algorithm 1) with its inner width ``r̂`` zero-padded to ``width``.

    The padded rows/columns receive exactly zero gradient (every gradient factor multiplies them by an exact
    zero), so ``W_{L:1}(t)`` equals C-DLN's at every step; the padding only lets it share a batch with the
    wide ``width``-wide DLN.

    >>> M = torch.diag(torch.tensor([2.0, 1.0, 0.0, 0.0], dtype=torch.float64))
    >>> net = padded_cdln(M, 2, 3, 0.1, 5.0, 4)
    >>> [tuple(W.shape) for W in net.weights], net.lr_scales
    ([(4, 4), (4, 4), (4, 4)], [5.0, 1.0, 5.0])
    """
    net = cdln(surrogate, r_hat, depth, eps, alpha)
    Ws = [pad_to(W, width if i < depth - 1 else W.shape[-2], width) for i, W in enumerate(net.weights)]
    return DLN(Ws, list(net.lr_scales), name=net.name)


def stack_dlns(nets: Sequence[DLN], name: str = "batch") -> DLN:
    """Stack unbatched networks with equal factor shapes into one batched DLN (``batch = (len(nets),)``).

    Per-factor step multipliers become ``(B,)`` tensors when they differ between the networks.
    """
    if not nets:
        raise ValueError("nothing to stack.")
    L = nets[0].depth
    for n in nets:
        if n.depth != L or [tuple(W.shape) for W in n.weights] != [tuple(W.shape) for W in nets[0].weights]:
            raise ValueError("networks must have the same depth and factor shapes (pad C-DLN with padded_cdln).")
        if n.batch_shape:
            raise ValueError("stack unbatched networks only.")
    Ws = [torch.stack([n.weights[l] for n in nets]) for l in range(L)]
    scales = []
    for l in range(L):
        s = [float(n.lr_scales[l]) for n in nets]
        scales.append(s[0] if len(set(s)) == 1 else torch.tensor(s, dtype=Ws[0].dtype, device=Ws[0].device))
    return DLN(Ws, scales, name=name)


# ----------------------------------------------------------------------------------------------
# Reading the figures: fitting times, order, trailing values
# ----------------------------------------------------------------------------------------------


def fit_times(sv: np.ndarray, iterations: np.ndarray, sigma_star: np.ndarray, frac: float = 0.5) -> np.ndarray:
    """``t_i``: the first iteration at which ``σ_i(t) >= frac·σ_i*``, for ``i = 1..r``; ``inf`` if never.

    ``sv (K, n≥r)``, ``iterations (K,)``, ``sigma_star (r,)``. Between two recorded iterations the crossing is
    interpolated linearly in ``σ``.

    >>> its = np.array([0, 10, 20, 30])
    >>> sv = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [2.0, 0.5]])
    >>> fit_times(sv, its, np.array([2.0, 2.0])).tolist()
    [10.0, inf]
    """
    r = len(sigma_star)
    out = np.full(r, np.inf)
    for i in range(r):
        thr = frac * sigma_star[i]
        hit = np.nonzero(sv[:, i] >= thr)[0]
        if hit.size == 0:
            continue
        j = hit[0]
        if j == 0:
            out[i] = float(iterations[0])
            continue
        s0, s1 = sv[j - 1, i], sv[j, i]
        w = (thr - s0) / (s1 - s0) if s1 > s0 else 1.0
        out[i] = float(iterations[j - 1] + w * (iterations[j] - iterations[j - 1]))
    return out


def backward_steps(times: np.ndarray) -> tuple[int, float]:
    """Count of ``i`` with ``t_{i+1} < t_i`` and the largest backward gap ``max(t_i − t_{i+1}, 0)``.

    An unfitted value (``t = inf``) after a fitted one is in order; a fitted one after an unfitted one is not
    (its gap is ``inf``).

    >>> backward_steps(np.array([1.0, 2.0, 2.0, np.inf]))
    (0, 0.0)
    >>> backward_steps(np.array([1.0, 3.0, 2.0]))
    (1, 1.0)
    """
    t = np.asarray(times, dtype=float)
    if t.size < 2:
        return 0, 0.0
    with np.errstate(invalid="ignore"):
        gap = t[:-1] - t[1:]
    gap = np.where(np.isinf(t[:-1]) & np.isinf(t[1:]), 0.0, gap)
    return int((gap > 0).sum()), float(max(gap.max(), 0.0))


def trailing_max(sv: np.ndarray, r: int) -> float:
    """``max_t max_{j>r} σ_j(t)``: the largest trailing singular value over the whole run (``sv (K, n>r)``)."""
    if sv.shape[1] <= r:
        raise ValueError(f"record more than r = {r} singular values to see the trailing ones.")
    return float(np.max(sv[:, r:]))


def wait_ratio(sv: np.ndarray, iterations: np.ndarray, sigma_star: np.ndarray, done: float = 0.9) -> np.ndarray:
    """``σ_i(τ_{i−1}) / σ_i*`` for ``i = 2..r``, where ``τ_{i−1}`` is the first recorded iteration with
    ``σ_{i−1} >= done·σ_{i−1}*`` (``nan`` if ``σ_{i−1}`` never gets there).

    Small values mean ``σ_i`` is still near its initial value when the previous one has been learned
    ([K] Fig. 13, claim 1).

    >>> sv = np.array([[0.0, 0.0], [1.0, 0.01], [1.0, 1.0]])
    >>> wait_ratio(sv, np.arange(3), np.array([1.0, 1.0])).tolist()
    [0.01]
    """
    r = len(sigma_star)
    out = np.full(max(r - 1, 0), np.nan)
    for i in range(1, r):
        hit = np.nonzero(sv[:, i - 1] >= done * sigma_star[i - 1])[0]
        if hit.size:
            out[i - 1] = sv[hit[0], i] / sigma_star[i]
    return out


def final_alignment(run: IncrementalRun) -> float:
    """``min_i min(|⟨u_i,u_i*⟩|, |⟨v_i,v_i*⟩|)`` at the last recorded iteration (1 = every vector aligned)."""
    return float(min(run.align_u[-1].min(), run.align_v[-1].min()))


def alignment_times(run: IncrementalRun, level: float = 0.9) -> np.ndarray:
    """First recorded iteration at which ``min(|⟨u_i,u_i*⟩|, |⟨v_i,v_i*⟩|) >= level`` and stays so (``inf`` if never)."""
    a = np.minimum(run.align_u, run.align_v)
    out = np.full(run.r, np.inf)
    for i in range(run.r):
        below = np.nonzero(a[:, i] < level)[0]
        if below.size == 0:
            out[i] = float(run.iterations[0])
        elif below[-1] + 1 < len(run.iterations):
            out[i] = float(run.iterations[below[-1] + 1])
    return out


def summary(run: IncrementalRun, frac: float = 0.5) -> dict:
    """The numbers reported per run: fitting times, order violations, trailing maximum, waits, alignments."""
    t = fit_times(run.sv, run.iterations, run.sigma_star, frac)
    nviol, gap = backward_steps(t)
    return {"label": run.label, "t_fit": t, "order_violations": nviol, "max_backward_gap": gap,
            "all_fitted": bool(np.isfinite(t).all()), "trailing_max": trailing_max(run.sv, run.r),
            "wait_ratio_max": float(np.nanmax(wait_ratio(run.sv, run.iterations, run.sigma_star)))
            if run.r > 1 and np.isfinite(wait_ratio(run.sv, run.iterations, run.sigma_star)).any() else float("nan"),
            "final_alignment": final_alignment(run), "t_align": alignment_times(run),
            "final_rel_sv_error": float(np.max(np.abs(run.sv[-1, :run.r] - run.sigma_star) / run.sigma_star)),
            "stop_iteration": run.stop_iteration, "diverged_at": run.diverged_at}


# ----------------------------------------------------------------------------------------------
# Plots
# ----------------------------------------------------------------------------------------------


def index_colors(r: int) -> list:
    """One colour per singular-value index ``i = 1..r`` (viridis, dark = largest)."""
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("viridis")
    return [cmap(0.9 * i / max(r - 1, 1)) for i in range(r)]


def plot_singular_values(ax, runs: Sequence[IncrementalRun], *, n_trailing: int = 0, logy: bool = False,
                         star_lines: bool = True, styles: Sequence[dict] | None = None) -> None:
    """``σ_i(W_{L:1}(t))`` against iteration for each run (solid, dashed, …), dotted lines at ``σ_i*``.

    ``n_trailing`` trailing values ``σ_{r+1..r+n}`` are drawn in grey.
    """
    styles = styles or [dict(ls="-"), dict(ls="--"), dict(ls=":")]
    r = runs[0].r
    cols = index_colors(r)
    for run, st in zip(runs, styles):
        for i in range(r):
            ax.plot(run.iterations, run.sv[:, i], color=cols[i], **st)
        for j in range(r, min(r + n_trailing, run.sv.shape[1])):
            ax.plot(run.iterations, run.sv[:, j], color="0.6", lw=0.8, **st)
    if star_lines:
        for i in range(r):
            ax.axhline(runs[0].sigma_star[i], color=cols[i], ls=":", lw=0.8)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel(r"$\sigma_i(W_{L:1}(t))$")


def plot_alignment(ax, runs: Sequence[IncrementalRun], side: str = "u", styles: Sequence[dict] | None = None) -> None:
    """``|⟨u_i(t), u_i*⟩|`` (``side="u"``) or ``|⟨v_i(t), v_i*⟩|`` against iteration, one colour per ``i``."""
    styles = styles or [dict(ls="-"), dict(ls="--"), dict(ls=":")]
    r = runs[0].r
    cols = index_colors(r)
    for run, st in zip(runs, styles):
        a = run.align_u if side == "u" else run.align_v
        for i in range(r):
            ax.plot(run.iterations, a[:, i], color=cols[i], **st)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("iteration")
    ax.set_ylabel(rf"$|\langle {side}_i(t), {side}_i^*\rangle|$")
