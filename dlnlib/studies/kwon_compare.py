"""Original (wide) DLN versus C-DLN ([K] Figs 2, 3, 5, 6, 15, 16, 18, 19, Table 3): runs, curves and their plots.

A :class:`Curve` is one network's recorded trajectory. :func:`run` is the one runner: it trains a (possibly
batched) network with GD and returns one :class:`Curve` per batch member; :func:`orig_vs_comp` builds the wide
``d×d`` DLN and/or C-DLN (Algorithm 1) on one problem and runs them through it, and :func:`time_to_tol`
([K] Table 3) and :func:`alpha_sweep` (Fig. 16) are built on :func:`run` too. The problems are
:func:`dlnlib.problems.make_problem` (the official code's normalisations, conventions §1.4); C-DLN's predicted
error on factorisation is :func:`dlnlib.theory.recursion_recovery_error`; batches of networks of different widths
are stacked with :func:`dlnlib.batching.stack_nets`; first crossings of a level are
:func:`dlnlib.metrics.first_crossing`.

Sweep points (module-level, so they pickle to Dask workers; mapped with :func:`dlnlib.sweep.sweep` and
:class:`dlnlib.sweep.timed` by notebooks 10 and 11): :func:`preset_orig_vs_comp`, :func:`preset_altmin` and
:func:`preset_timing` run one preset (a dict of the notebooks' ``PRESETS``) on :func:`preset_problem`.

Readers of the figures: :func:`violations` (C-DLN above the original), :func:`increases` (monotonicity),
:func:`top_vector_similarity` (Fig. 3), :func:`altmin_curve` (Fig. 6). Plots: :func:`plot_curves`,
:func:`plot_iter_time`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .._util import Tensor
from ..networks import DLN, cdln, wide_dln
from ..problems import Completion, Problem, make_problem, rescale_step
from ..report.style import COLORS
from ..optim import GD
from ..recorders import History
from ..train import train

METHODS = {"orig": "Original DLN", "comp": "C-DLN"}
"""The two networks of [K]'s comparisons and their labels in the figures."""


@dataclass
class Curve:
    """One trajectory: ``iterations (K,)``, ``wall_time (K,)`` seconds (setup included), ``values[name] (K, …)``.

    ``setup_s``: time before the first step (the spectral init's SVD for C-DLN); ``seconds_per_step``;
    ``stop_iteration``: first iteration with loss ≤ tol (−1 if never); ``diverged_at`` (−1 if not, flagged runs);
    ``train_s``: seconds of the whole training call (shared by the members of a batch).

    >>> c = Curve("a", np.array([0, 10]), np.array([0.0, 0.5]), {"loss": np.array([1.0, 0.1])})
    >>> float(c["loss"][-1]), c.stop_iteration
    (0.1, -1)
    """

    label: str
    iterations: np.ndarray
    wall_time: np.ndarray
    values: dict[str, np.ndarray]
    setup_s: float = 0.0
    seconds_per_step: float = float("nan")
    stop_iteration: int = -1
    extra: dict = field(default_factory=dict)
    diverged_at: int = -1
    train_s: float = float("nan")

    def __getitem__(self, k: str) -> np.ndarray:
        return self.values[k]


def _records(problem: Problem) -> tuple[str, ...]:
    """The built-in records every comparison keeps: the loss, the recovery error if there is a target, the test
    error for completion."""
    rec = ["loss"]
    if getattr(problem, "target", None) is not None:
        rec.append("recovery_error")
    if isinstance(problem, Completion):
        rec.append("test_error")
    return tuple(rec)


def curves_from_history(h: History, labels: Sequence[str], setup_s: float = 0.0,
                        train_s: float = float("nan")) -> list[Curve]:
    """One :class:`Curve` per member of ``h``'s batch (one for an unbatched run), in batch order.

    Values ``(K, B, …)`` are split into ``(K, …)``; members share the iteration and time axes (``wall_time`` =
    the history's plus ``setup_s``).
    """
    nb = np.asarray(h.stop_iteration).ndim  # batch dimensions (0: one run)
    stop = np.asarray(h.stop_iteration).reshape(-1)
    div = np.asarray(h.diverged_at).reshape(-1)
    if len(labels) != stop.size:
        raise ValueError(f"give one label per run of the batch ({stop.size}), got {len(labels)}.")
    flat = {k: np.asarray(v).reshape(v.shape[:1] + (stop.size,) + v.shape[1 + nb:]) for k, v in h.values.items()}
    out = []
    for i, lab in enumerate(labels):
        vals = {k: v[:, i] for k, v in flat.items()}
        out.append(Curve(lab, h.iterations, h.wall_time + setup_s, vals, setup_s, h.seconds_per_step, int(stop[i]),
                         diverged_at=int(div[i]), train_s=train_s))
    return out


def run(net: DLN, problem: Problem, eta: float, iterations: int, *, labels: Sequence[str] | str | None = None,
        setup_s: float = 0.0, record_at=100, record: Sequence[str] = ("loss",), recorders: dict | None = None,
        tol: float | None = None, check_every: int | None = None, on_divergence: str = "raise", progress: bool = False,
        **train_kw) -> list[Curve]:
    """Train ``net`` with GD at step ``eta`` (on the problem's declared loss, conventions §1.4) and return one
    :class:`Curve` per batch member: the one runner of the orig-vs-C-DLN comparisons.

    ``net`` unbatched or of batch shape ``(B,)`` (e.g. :func:`dlnlib.batching.stack_nets`); ``labels`` one per
    member (a string for one run; default ``net.name``); ``setup_s`` is added to the time axis (C-DLN's SVD).
    ``record``/``recorders``/``record_at``/``tol``/``check_every``/``on_divergence`` and ``train_kw`` go to
    :func:`dlnlib.train.train`; ``train_s`` of each curve is the training call's wall-clock time.

    >>> from dlnlib.problems import Factorisation
    >>> P = Factorisation(torch.diag(torch.tensor([2.0, 1.0], dtype=torch.float64)))
    >>> c, = run(DLN([0.1 * torch.eye(2, dtype=torch.float64)] * 2), P, 0.2, 400, record_at=[0, 400])
    >>> c.label, c.iterations.tolist(), bool(c["loss"][-1] < 1e-6 * c["loss"][0])
    ('DLN', [0, 400], True)
    """
    B = int(np.prod(net.batch_shape)) if net.batch_shape else 1
    labels = [labels or net.name] * B if labels is None or isinstance(labels, str) else list(labels)
    t0 = time.perf_counter()
    h = train(net, problem, GD(eta), iterations, record_at=record_at, record=record, recorders=recorders, tol=tol,
              check_every=check_every, on_divergence=on_divergence, progress=progress and labels[0], **train_kw)
    return curves_from_history(h, labels, setup_s, time.perf_counter() - t0)


def method_net(problem: Problem, method: str, *, depth: int, eps: float, alpha, r_hat: int, seed: int = 0,
               init: str = "orthogonal", comp_scale_outer: bool = True, setup_repeats: int = 1) -> tuple[DLN, float]:
    """The network of ``method`` on ``problem`` and its setup seconds.

    ``"orig"``: the wide DLN, widths ``[d_in, max(d_out, d_in), …, d_out]``, ε-``init`` (``"orthogonal"``,
    ``"normal"``, ``"uniform"``) with ``seed``; setup 0. ``"comp"``: C-DLN (Algorithm 1: spectral init of width
    ``r̂`` from the surrogate, step ``α·η`` on the outer factors; ``comp_scale_outer=False`` is the official code's
    unscaled ``[Vᵀ, U]`` at L = 2); setup = the median over ``setup_repeats`` builds (the SVD dominates).

    >>> from dlnlib.problems import Factorisation
    >>> P = Factorisation(torch.diag(torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)))
    >>> net, s = method_net(P, "comp", depth=3, eps=0.1, alpha=2.0, r_hat=2); net.widths, net.alpha, s > 0
    ([3, 2, 2, 3], 2.0, True)
    """
    if method == "orig":
        d_out, d_in = problem.shape
        S = problem.surrogate()
        widths = [d_in] + [max(d_out, d_in)] * (depth - 1) + [d_out]
        return wide_dln(widths, eps, init, seed, dtype=S.dtype, device=S.device, name="orig"), 0.0
    if method != "comp":
        raise ValueError(f"unknown method {method!r}; choose 'orig' or 'comp'.")
    ts = []
    for _ in range(setup_repeats):
        t0 = time.perf_counter()
        net = cdln(problem, r_hat, depth, eps, alpha, scale_outer=comp_scale_outer, name="comp")
        ts.append(time.perf_counter() - t0)
    return net, float(np.median(ts))


def orig_vs_comp(problem: Problem, *, depth: int, eps: float, eta: float, alpha: float, r_hat: int, iterations: int,
                 methods: Sequence[str] = ("orig", "comp"), seed: int = 0, init: str = "orthogonal",
                 comp_scale_outer: bool = True, record_at=100, record: Sequence[str] = (), recorders: dict | None = None,
                 tol: float | None = None, check_every: int | None = None, setup_repeats: int = 1,
                 progress: bool = False) -> dict[str, Curve]:
    """Train the wide DLN and/or C-DLN (:func:`method_net`) on ``problem`` with step ``eta``, one after the other.

    Each keeps ``loss``, ``recovery_error`` (with a target), ``test_error`` (completion), the extra built-in
    ``record`` names (e.g. ``("sv",)``) and ``recorders`` (applied to every method). Returns ``{method: Curve}``
    labelled as in :data:`METHODS`; C-DLN's time axis includes the SVD of the surrogate.
    """
    rec = _records(problem) + tuple(k for k in record if k not in _records(problem))
    out: dict[str, Curve] = {}
    for name in methods:
        net, setup = method_net(problem, name, depth=depth, eps=eps, alpha=alpha, r_hat=r_hat, seed=seed, init=init,
                                comp_scale_outer=comp_scale_outer, setup_repeats=setup_repeats)
        out[name], = run(net, problem, eta, iterations, labels=METHODS[name], setup_s=setup, record_at=record_at,
                         record=rec, recorders=recorders, tol=tol, check_every=check_every, progress=progress)
    return out


# ----------------------------------------------------------------------------------------------
# Reading the figures
# ----------------------------------------------------------------------------------------------


def violations(a: Curve, b: Curve, key: str = "recovery_error", rtol: float = 0.0,
               hold_last: bool = False) -> tuple[int, int]:
    """Recorded iterations where ``b[key] > a[key]·(1+rtol)`` (b should be ≤ a), and how many were compared.

    Compares at the iterations both curves recorded. With ``hold_last``, a curve that ended early (stopped at
    its tolerance: its weights are frozen from then on) keeps its last value, so the comparison also covers
    the other curve's later iterations.

    >>> a = Curve("a", np.array([0, 10, 20, 30]), np.zeros(4), {"e": np.array([1.0, 0.9, 0.5, 0.2])})
    >>> b = Curve("b", np.array([0, 10, 15]), np.zeros(3), {"e": np.array([1.0, 0.3, 0.25])})
    >>> violations(a, b, "e"), violations(a, b, "e", hold_last=True)
    ((0, 2), (1, 4))
    """
    if not hold_last:
        common, ia, ib = np.intersect1d(a.iterations, b.iterations, return_indices=True)
        bad = b[key][ib] > a[key][ia] * (1 + rtol)
        return int(bad.sum()), int(common.size)
    grid = np.union1d(a.iterations, b.iterations)
    ok = (np.isin(grid, a.iterations) | (grid > a.iterations[-1])) & (np.isin(grid, b.iterations) | (grid > b.iterations[-1]))
    grid = grid[ok]
    va = a[key][np.searchsorted(a.iterations, grid, side="right") - 1]
    vb = b[key][np.searchsorted(b.iterations, grid, side="right") - 1]
    return int((vb > va * (1 + rtol)).sum()), int(grid.size)


def increases(y: Sequence[float]) -> int:
    """Number of adjacent pairs with ``y[i+1] > y[i]`` (0 for a non-increasing sequence).

    >>> increases([5, 4, 4, 6, 2])
    1
    """
    y = np.asarray(y, dtype=np.float64)
    return int((np.diff(y) > 0).sum())


def top_vector_similarity(u_star: Tensor, v_star: Tensor):
    """Recorder for [K] Fig. 3: ``(|⟨u_{L,1}(t), u*⟩|, |⟨v_{1,1}(t), v*⟩|)``, shape ``(..., 2)``.

    ``u_{L,1}`` is the top left singular vector of the last factor ``W_L`` and ``v_{1,1}`` the top right singular
    vector of the first factor ``W_1``; ``u_star (d_out,)``, ``v_star (d_in,)`` are unit vectors (``u_1*, v_1*``).

    >>> W = [torch.diag(torch.tensor([1.0, 3.0], dtype=torch.float64))] * 2
    >>> e2 = torch.tensor([0.0, 1.0], dtype=torch.float64)
    >>> top_vector_similarity(e2, e2)(DLN(W), None, None).tolist()
    [1.0, 1.0]
    """
    def f(net: DLN, W, loss):
        U, _, _ = torch.linalg.svd(net.weights[-1], full_matrices=False)
        _, _, Vh = torch.linalg.svd(net.weights[0], full_matrices=False)
        su = (U[..., :, 0] * u_star.to(U.dtype)).sum(-1).abs()
        sv = (Vh[..., 0, :] * v_star.to(Vh.dtype)).sum(-1).abs()
        return torch.stack([su, sv], -1)
    return f


def altmin_curve(problem: Completion, r_hat: int, iterations: int) -> Curve:
    """AltMin (:func:`dlnlib.baselines.altmin`) as a :class:`Curve` with ``loss``, ``recovery_error``, ``test_error``.

    Its time axis includes the surrogate's SVD (``setup_s``: AltMin starts from the same spectral factors as C-DLN).
    """
    from ..baselines import altmin

    res = altmin(problem, r_hat, iterations)
    vals = {"loss": res.train_loss, "recovery_error": res.recovery_error, "test_error": res.test_error,
            "half_mse_unobserved": 0.5 * np.asarray(res.test_error)}  # [K]'s test loss (AltMin keeps no iterates)
    steps = max(len(res.iterations) - 1, 1)
    return Curve("AltMin", res.iterations, res.wall_time + res.setup_s, vals, res.setup_s,
                 float(res.wall_time[-1]) / steps)


# ----------------------------------------------------------------------------------------------
# Fig. 16 (α sweep) and Table 3 (time to a tolerance)
# ----------------------------------------------------------------------------------------------


@dataclass
class AlphaSweep:
    """[K] Fig. 16: C-DLN iterations to ``tol`` over an α grid (one batched run).

    ``alphas (B,)``; ``stop_iteration (B,)`` first iteration with loss ≤ tol (−1: not within the cap or diverged);
    ``diverged_at (B,)`` (−1 if not); ``seconds_per_step`` of one unbatched C-DLN step (measured); ``svd_s`` the
    spectral init's SVD; ``time_s (B,)`` = ``svd_s + stop_iteration·seconds_per_step`` (``inf`` if not reached).
    """

    alphas: np.ndarray
    stop_iteration: np.ndarray
    diverged_at: np.ndarray
    seconds_per_step: float
    svd_s: float
    cap: int
    batched_wall_s: float

    @property
    def converged(self) -> np.ndarray:
        return self.stop_iteration >= 0

    @property
    def time_s(self) -> np.ndarray:
        return np.where(self.converged, self.svd_s + self.stop_iteration * self.seconds_per_step, np.inf)


def alpha_sweep(problem: Problem, alphas: Sequence[float], *, depth: int, eps: float, eta: float, r_hat: int,
                iterations: int, tol: float, check_every: int | None = None, timing_steps: int = 300, chunks: int = 1,
                divergence_factor: float = 1e10) -> AlphaSweep:
    """Train C-DLN for every α of the grid as batched programs (α as a ``(B,)`` tensor), each member stopping at
    its own ``tol`` or flagged when it diverges (``on_divergence="flag"``).

    ``chunks``: the grid (in the given order) is split into that many batches of neighbouring α, so the slow
    small-α members do not keep the fast ones' batch running. The time per α is estimated from the measured
    per-step time of one unbatched C-DLN (the step's cost does not depend on α) and the measured SVD time.
    """
    dtype = problem.surrogate().dtype
    members = []
    t0 = time.perf_counter()
    for part in np.array_split(np.asarray(alphas, dtype=np.float64), chunks):
        net = cdln(problem, r_hat, depth, eps, torch.as_tensor(part, dtype=dtype), name="comp")
        members += run(net, problem, eta, iterations, record_at=[0], tol=tol, on_divergence="flag",
                       check_every=check_every, divergence_factor=divergence_factor)
    wall = time.perf_counter() - t0
    one, svd_s = method_net(problem, "comp", depth=depth, eps=eps, alpha=1.0, r_hat=r_hat, setup_repeats=3)
    timing, = run(one, problem, eta, timing_steps, record_at=[0], check_every=check_every)
    return AlphaSweep(np.asarray(alphas, dtype=np.float64), np.array([c.stop_iteration for c in members]),
                      np.array([c.diverged_at for c in members]), timing.seconds_per_step, svd_s, iterations, wall)


@dataclass
class TimingRow:
    """One row of [K] Table 3: seconds for the SVD step, for training to ``tol`` and in total."""

    method: str
    d: int
    svd_s: float
    train_s: float
    iterations: int
    converged: bool
    recovery_error: float

    @property
    def total_s(self) -> float:
        return self.svd_s + self.train_s


def time_to_tol(problem: Problem, *, depth: int, eps: float, eta: float, alpha: float, r_hat: int, iterations: int,
                tol: float, seed: int = 0, check_every: int | None = None, svd_repeats: int = 5,
                methods: Sequence[str] = ("orig", "comp")) -> list[TimingRow]:
    """Train the original DLN and C-DLN on the same ``problem`` until the loss is ≤ ``tol`` (or the cap), timing
    the SVD of Algorithm 1 (median of ``svd_repeats``) and the training call separately ([K] Table 3).

    Only the start and the end are recorded; the row's recovery error ``‖W_{L:1} − M*‖_F/‖M*‖_F`` is the end's.
    """
    curves = orig_vs_comp(problem, depth=depth, eps=eps, eta=eta, alpha=alpha, r_hat=r_hat, iterations=iterations,
                          methods=methods, seed=seed, record_at=[0], tol=tol, check_every=check_every,
                          setup_repeats=svd_repeats)
    return [TimingRow("DLN" if name == "orig" else "C-DLN", problem.shape[0], c.setup_s, c.train_s,
                      c.stop_iteration if c.stop_iteration >= 0 else iterations, c.stop_iteration >= 0,
                      float(c["recovery_error"][-1])) for name, c in curves.items()]


# ----------------------------------------------------------------------------------------------
# Sweep points: one preset of notebooks 10 and 11
# ----------------------------------------------------------------------------------------------


def preset_problem(pre: dict, kind: str | None = None, seed: int = 0) -> Problem:
    """The [K] synthetic problem of preset ``pre``: :func:`dlnlib.problems.make_problem` of ``kind`` (default
    ``pre["kind"]``), size ``pre["d"]``, rank ``pre["r"]``, and for completion ``pre["p"]`` and ``pre["mask"]``
    (default ``"bernoulli"``); target seed ``seed``, mask seed ``seed + 1``.

    >>> preset_problem({"d": 6, "r": 2, "p": 0.5, "mask": "exact"}, "mc").n_observed.item()
    18.0
    """
    return make_problem(kind or pre["kind"], pre["d"], pre["r"], p=pre.get("p"), mask=pre.get("mask", "bernoulli"),
                        seed=seed)


def preset_orig_vs_comp(pre: dict, kind: str, depth: int, methods: Sequence[str] = ("orig", "comp"),
                        record: Sequence[str] = (), scale_outer: bool = True, seed: int = 0) -> dict[str, Curve]:
    """:func:`orig_vs_comp` on :func:`preset_problem` ``(pre, kind, seed)`` at ``depth``, with the preset's ``eps``,
    ``eta``, ``alpha``, ``r_hat``, ``T`` iterations, ``record`` points and ``tol``; the original's init seed is
    ``seed + 2``, ``comp_scale_outer=scale_outer``, the stop checked every 10th step. ``{method: Curve}``.
    """
    return orig_vs_comp(preset_problem(pre, kind, seed), depth=depth, eps=pre["eps"], eta=pre["eta"],
                        alpha=pre["alpha"], r_hat=pre["r_hat"], iterations=pre["T"], record_at=pre["record"],
                        seed=seed + 2, tol=pre["tol"], comp_scale_outer=scale_outer, methods=methods, record=record,
                        check_every=10)


def preset_altmin(pre: dict, seed: int = 0) -> Curve:
    """:func:`altmin_curve` on :func:`preset_problem` ``(pre, seed=seed)`` (completion) with rank ``pre["r_hat"]``
    and ``pre["altmin_iters"]`` iterations."""
    return altmin_curve(preset_problem(pre, seed=seed), pre["r_hat"], pre["altmin_iters"])


def preset_timing(pre: dict, d: int) -> list[TimingRow]:
    """[K] Table 3 at size ``d``: :func:`time_to_tol` of both methods on :func:`preset_problem` of completion at
    size ``d`` (seed 0; the original's init seed 2, the stop checked
    every 10th step), at depth ``pre["L"]`` with the preset's ``eps``, ``alpha``, ``r_hat``, ``T`` and ``tol``.

    The step is the same effective step at every ``d``: ``η = eta_eff·d²``, i.e. ``η/d² = pre["eta_eff"]``
    (:func:`dlnlib.problems.rescale_step` of ``eta_eff`` from the summed to the ``"mean"`` normalisation, conventions
    §1.4).
    """
    prob = preset_problem(dict(pre, d=d), "mc")
    eta = rescale_step(pre["eta_eff"], dataclasses.replace(prob, normalisation="sum"), "mean")
    return time_to_tol(prob, depth=pre["L"], eps=pre["eps"], eta=eta, alpha=pre["alpha"], r_hat=pre["r_hat"],
                       iterations=pre["T"], tol=pre["tol"], seed=2, check_every=10)


# ----------------------------------------------------------------------------------------------
# Plots
# ----------------------------------------------------------------------------------------------


STYLE = {"orig": dict(color=COLORS["orig"], ls="-"), "comp": dict(color=COLORS["comp"], ls="--"),
         "altmin": dict(color=COLORS["altmin"], ls=":")}


def plot_curves(ax, curves: dict[str, Curve], key: str = "recovery_error", x: str = "iteration",
                ylabel: str | None = None, logy: bool = True, **kw) -> None:
    """Draw ``key`` of each curve against ``"iteration"`` or ``"time"`` (seconds) on ``ax``."""
    for name, c in curves.items():
        xs = c.iterations if x == "iteration" else c.wall_time
        style = dict(STYLE.get(name, {}))
        style.update(kw)
        ax.plot(xs, c[key], label=c.label, **style)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("iteration" if x == "iteration" else "time (s)")
    ax.set_ylabel(ylabel or key.replace("_", " "))


def plot_iter_time(axes, curves: dict[str, Curve], key: str = "recovery_error", ylabel: str | None = None,
                   **kw) -> None:
    """``key`` against iteration on ``axes[0]`` and against wall-clock time on ``axes[1]``."""
    plot_curves(axes[0], curves, key, "iteration", ylabel, **kw)
    plot_curves(axes[1], curves, key, "time", ylabel, **kw)
