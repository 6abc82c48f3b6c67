"""Incremental learning in [K] (Figs 4, 8–13): the alignment recorder, runs, fitting and alignment times, plots.

A run records, at each recorded iteration, the top singular values of the end-to-end matrix ``W_{L:1}(t)``
and the alignments ``|⟨u_i(t), u_i*⟩|``, ``|⟨v_i(t), v_i*⟩|`` of its i-th singular vectors with those of the
target ``M*`` (conventions §6, Assumption 1). From the singular values :func:`summary` reads off

- the fitting times ``t_i``: the (interpolated) iteration at which ``σ_i(t)`` first reaches a fraction
  (default ½) of ``σ_i*`` (:func:`dlnlib.metrics.first_crossing`);
- the incremental order: ``t_1 ≤ t_2 ≤ … ≤ t_r`` within one run (:func:`backward_steps`);
- the trailing values ``σ_{r+1}, σ_{r+2}, …``, which should stay near their initial value ``ε^L``
  (:func:`trailing_max`);
- the waiting: ``σ_i`` is still small when ``σ_{i−1}`` has (almost) reached its target (:func:`wait_ratio`);
- the alignment: final (:func:`final_alignment`) and the time from which it holds (:func:`alignment_times`).

Runs go through :func:`dlnlib.studies.kwon_compare.run`. Matrix sensing is memory-bound on the ``m × d²``
operator: :func:`dlnlib.batching.stack_nets` zero-pads C-DLN to ``d × d`` factors (exact) so that the wide DLN and
C-DLN of several targets train as one batch, and :class:`dlnlib.problems.BlockedSensing` reads the operator once
per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .._util import Tensor
from ..metrics import first_crossing
from ..networks import DLN, cdln
from ..problems import Problem
from ..recorders import Recorder
from .kwon_compare import run


# ----------------------------------------------------------------------------------------------
# Recording and running
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
    """Train ``net`` with GD (step ``eta`` on the problem's declared loss) and record the incremental dynamics.

    ``net`` may be batched (``batch = (B,)``, e.g. from :func:`dlnlib.batching.stack_nets`); ``problem`` then
    carries ``B`` targets. ``r``: the target rank (one per run for a batch); ``n_sv``: how many singular values to
    keep (``>= r``, the rest are the trailing ones). ``target``: ``M*`` (default ``problem.target``). Divergence
    of a batch member is flagged, not raised. Returns one :class:`IncrementalRun` per batch member.
    """
    M = problem.target if target is None else target
    B = int(np.prod(net.batch_shape)) if net.batch_shape else 1
    rs = [r] * B if isinstance(r, int) else list(r)
    labels = [labels] * B if isinstance(labels, str) else list(labels)
    if len(rs) != B or len(labels) != B:
        raise ValueError(f"give one r and one label per run of the batch ({B}).")
    curves = run(net, problem, eta, iterations, labels=labels, record_at=record_at, record=("loss", "sv"),
                 recorders={"align": alignment_recorder(M, max(rs))}, tol=tol,
                 on_divergence="flag" if net.batch_shape else "raise")
    s_star = torch.linalg.svdvals(M).cpu().numpy()
    s_star = np.broadcast_to(s_star, (B, s_star.shape[-1]))
    return [IncrementalRun(c.label, c.iterations, c["sv"][:, :n_sv], c["align"][:, 0, :rb], c["align"][:, 1, :rb],
                           c["loss"], s_star[b, :rb], c.stop_iteration, c.diverged_at, c.train_s, c.seconds_per_step)
            for b, (c, rb) in enumerate(zip(curves, rs))]


def orig_and_comp_point(problem: Problem, orig: DLN, r: int, depth: int, eps: float, alpha: float, eta: float,
                        iterations: int, *, record_at=400, tol: float | None = None) -> list[IncrementalRun]:
    """The wide DLN ``orig`` and C-DLN (Algorithm 1 on ``problem``: ``r̂ = 2r``, ``depth``, ``eps``, ``alpha``)
    trained separately by :func:`run_incremental` (GD, step ``eta``), each keeping ``2r`` singular values; returns
    ``[orig, comp]``. One point of notebook 12's sweep over MF and MC and the two ranks."""
    comp = cdln(problem, 2 * r, depth, eps, alpha)
    kw = dict(r=r, n_sv=2 * r, record_at=record_at, tol=tol)
    o = run_incremental(orig, problem, eta, iterations, labels="Original DLN", **kw)[0]
    c = run_incremental(comp, problem, eta, iterations, labels="C-DLN", **kw)[0]
    return [o, c]


# ----------------------------------------------------------------------------------------------
# Reading the figures: fitting times, order, trailing values, waiting, alignment
# ----------------------------------------------------------------------------------------------


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
    """``max_t max_{j>r} σ_j(t)``: the largest trailing singular value over the whole run (``sv (K, n>r)``).

    >>> trailing_max(np.array([[1.0, 0.1], [2.0, 0.3]]), 1)
    0.3
    """
    if sv.shape[1] <= r:
        raise ValueError(f"record more than r = {r} singular values to see the trailing ones.")
    return float(np.max(sv[:, r:]))


def wait_ratio(sv: np.ndarray, iterations: np.ndarray, sigma_star: np.ndarray, done: float = 0.9) -> np.ndarray:
    """``σ_i(τ_{i−1}) / σ_i*`` for ``i = 2..r``, where ``τ_{i−1}`` is the first recorded iteration with
    ``σ_{i−1} >= done·σ_{i−1}*`` (``nan`` if ``σ_{i−1}`` never gets there).

    Small values mean ``σ_i`` is still near its initial value when the previous one has been learned
    ([K] Fig. 13, claim 1). ``sv (K, n≥r)``, ``iterations (K,)``, ``sigma_star (r,)``; returns ``(r−1,)``.

    >>> sv = np.array([[0.0, 0.0], [1.0, 0.01], [1.0, 1.0]])
    >>> wait_ratio(sv, np.arange(3), np.array([1.0, 1.0])).tolist()
    [0.01]
    """
    sigma_star = np.asarray(sigma_star)
    r = len(sigma_star)
    out = np.full(max(r - 1, 0), np.nan)
    if r < 2:
        return out
    k = first_crossing(sv[:, :r - 1], np.arange(len(iterations)), done * sigma_star[:r - 1])  # record index of τ_{i−1}
    hit = np.isfinite(k)
    out[hit] = sv[k[hit].astype(int), np.arange(1, r)[hit]] / sigma_star[1:][hit]
    return out


def final_alignment(run: IncrementalRun) -> float:
    """``min_i min(|⟨u_i,u_i*⟩|, |⟨v_i,v_i*⟩|)`` at the last recorded iteration (1 = every vector aligned)."""
    return float(min(run.align_u[-1].min(), run.align_v[-1].min()))


def alignment_times(run: IncrementalRun, level: float = 0.9) -> np.ndarray:
    """First recorded iteration from which ``a_i(t) = min(|⟨u_i,u_i*⟩|, |⟨v_i,v_i*⟩|) >= level`` at every later
    record (``inf`` if never): the first crossing of ``level`` by the suffix minimum ``min_{s ≥ t} a_i(s)``.

    >>> run = IncrementalRun("x", np.arange(4), np.ones((4, 2)), np.array([[0.1], [0.95], [0.5], [0.99]]),
    ...                      np.ones((4, 1)), np.zeros(4), np.array([1.0]))
    >>> alignment_times(run, 0.9).tolist()
    [3.0]
    """
    a = np.minimum(run.align_u, run.align_v)
    held = np.minimum.accumulate(a[::-1], axis=0)[::-1]
    return first_crossing(held, run.iterations, level)


def summary(run: IncrementalRun, frac: float = 0.5) -> dict:
    """The numbers reported per run: fitting times ``t_fit`` (first ``σ_i ≥ frac·σ_i*``, interpolated), order
    violations, trailing maximum, waits, alignments."""
    t = first_crossing(run.sv[:, :run.r], run.iterations, frac * run.sigma_star, interpolate=True)
    nviol, gap = backward_steps(t)
    waits = wait_ratio(run.sv, run.iterations, run.sigma_star)
    return {"label": run.label, "t_fit": t, "order_violations": nviol, "max_backward_gap": gap,
            "all_fitted": bool(np.isfinite(t).all()), "trailing_max": trailing_max(run.sv, run.r),
            "wait_ratio_max": float(np.nanmax(waits)) if run.r > 1 and np.isfinite(waits).any() else float("nan"),
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
    for run_, st in zip(runs, styles):
        for i in range(r):
            ax.plot(run_.iterations, run_.sv[:, i], color=cols[i], **st)
        for j in range(r, min(r + n_trailing, run_.sv.shape[1])):
            ax.plot(run_.iterations, run_.sv[:, j], color="0.6", lw=0.8, **st)
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
    for run_, st in zip(runs, styles):
        a = run_.align_u if side == "u" else run_.align_v
        for i in range(r):
            ax.plot(run_.iterations, a[:, i], color=cols[i], **st)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("iteration")
    ax.set_ylabel(rf"$|\langle {side}_i(t), {side}_i^*\rangle|$")
