"""Original (wide) DLN versus C-DLN on one problem: runs, curves and the plots the figures share.

A :class:`Curve` is one method's recorded trajectory; :func:`orig_vs_comp` trains both networks on the same
problem from the paper's inits, and :func:`plot_curves` draws error against iteration or wall-clock time.
The explorers (:mod:`dlnlib.widgets`) call the same plotting functions as the committed figures.

For the [K] comparison figures (notebooks 10–11): :func:`make_problem` (the official code's normalisations),
:func:`run_methods` (orig and/or comp, any init, extra records), :func:`altmin_curve`, :func:`top_vector_similarity`
(Fig. 3), :func:`stack_nets` / :func:`unstack_curves` (lockstep batched training, exact zero padding),
:class:`BlockedSensing` (one pass over a sensing operator per step), :func:`learning_times`, :func:`increases`,
:func:`recursion_recovery_error` (Theorem 1 / §4.3 prediction of C-DLN's error), :func:`alpha_sweep` (Fig. 16),
:func:`time_to_tol` (Table 3) and :func:`timed_cached`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .figures import COLORS
from .networks import DLN, cdln, wide_dln
from .problems import Completion, Problem, Sensing
from ._util import Tensor
from .train import GD, History, train


@dataclass
class Curve:
    """One trajectory: ``iterations (K,)``, ``wall_time (K,)`` seconds (setup included), ``values[name] (K,)``.

    ``setup_s``: time before the first step (the spectral init's SVD for C-DLN); ``seconds_per_step``;
    ``stop_iteration``: first iteration with loss ≤ tol (−1 if never).
    """

    label: str
    iterations: np.ndarray
    wall_time: np.ndarray
    values: dict[str, np.ndarray]
    setup_s: float = 0.0
    seconds_per_step: float = float("nan")
    stop_iteration: int = -1
    extra: dict = field(default_factory=dict)

    def __getitem__(self, k: str) -> np.ndarray:
        return self.values[k]


def _records(problem: Problem) -> tuple[str, ...]:
    rec = ["loss"]
    if getattr(problem, "target", None) is not None:
        rec.append("recovery_error")
    if isinstance(problem, Completion):
        rec.append("test_error")
    return tuple(rec)


def curve_from_history(label: str, h: History, setup_s: float = 0.0) -> Curve:
    vals = {k: np.asarray(v) for k, v in h.values.items()}
    return Curve(label, h.iterations, h.wall_time + setup_s, vals, setup_s, h.seconds_per_step,
                 int(np.asarray(h.stop_iteration).max()) if np.asarray(h.stop_iteration).size else -1)


def run(net: DLN, problem: Problem, eta: float, iterations: int, *, label: str | None = None, record_at=100,
        tol: float | None = None, setup_s: float = 0.0, progress: bool = False, **kw) -> Curve:
    """Train ``net`` with GD at step ``eta`` (on the problem's loss normalisation) and return its :class:`Curve`."""
    h = train(net, problem, GD(eta), iterations, record_at=record_at, record=_records(problem), tol=tol,
              progress=progress and (label or net.name), **kw)
    return curve_from_history(label or net.name, h, setup_s)


def orig_vs_comp(problem: Problem, *, depth: int, eps: float, eta: float, alpha: float, r_hat: int,
                 iterations: int, record_at=100, seed: int = 0, init: str = "orthogonal", tol: float | None = None,
                 comp_scale_outer: bool = True, progress: bool = False) -> dict[str, Curve]:
    """Train the wide ``d×d`` DLN (ε-``init``) and C-DLN (Algorithm 1, ``r̂``, α) on ``problem`` with step ``eta``.

    Returns ``{"orig": Curve, "comp": Curve}``; C-DLN's time axis includes the SVD of the surrogate.
    """
    d_out, d_in = problem.shape
    dtype, device = problem.surrogate().dtype, problem.surrogate().device
    widths = [d_in] + [max(d_out, d_in)] * (depth - 1) + [d_out]
    orig = wide_dln(widths, eps, init, seed, dtype=dtype, device=device, name="orig")
    t0 = time.perf_counter()
    comp = cdln(problem, r_hat, depth, eps, alpha, scale_outer=comp_scale_outer, name="comp")
    svd_s = time.perf_counter() - t0
    return {
        "orig": run(orig, problem, eta, iterations, label="Original DLN", record_at=record_at, tol=tol, progress=progress),
        "comp": run(comp, problem, eta, iterations, label="C-DLN", record_at=record_at, tol=tol, setup_s=svd_s,
                    progress=progress),
    }


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


def time_to(c: Curve, key: str, threshold: float) -> float:
    """Wall-clock seconds until ``c[key]`` first drops to ``threshold`` (``inf`` if never)."""
    hit = np.nonzero(c[key] <= threshold)[0]
    return float(c.wall_time[hit[0]]) if hit.size else float("inf")


def iterations_to(c: Curve, key: str, threshold: float) -> float:
    hit = np.nonzero(c[key] <= threshold)[0]
    return float(c.iterations[hit[0]]) if hit.size else float("inf")


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


# ----------------------------------------------------------------------------------------------
# Extensions for the [K] comparison figures (figs 2, 3, 5, 6, 15, 16, 18, 19, Table 3)
# ----------------------------------------------------------------------------------------------


def run_methods(problem: Problem, *, depth: int, eps: float, eta: float, alpha: float, r_hat: int, iterations: int,
                record_at=100, seed: int = 0, init: str = "orthogonal", tol: float | None = None,
                comp_scale_outer: bool = True, methods: Sequence[str] = ("orig", "comp"), record: Sequence[str] = (),
                recorders: dict | None = None, check_every: int = 1, progress: bool = False) -> dict[str, Curve]:
    """Like :func:`orig_vs_comp`, with a choice of ``methods`` (``"orig"``, ``"comp"``), extra built-in
    ``record`` names (e.g. ``("sv",)``), extra ``recorders`` (applied to every method) and ``check_every``.

    ``init`` is the original DLN's init (``"orthogonal"``, ``"normal"``, ``"uniform"``); C-DLN always uses
    Algorithm 1's spectral init (``comp_scale_outer=False``: the official code's unscaled ``[Vᵀ, U]`` at L = 2).
    """
    d_out, d_in = problem.shape
    S = problem.surrogate()
    rec = tuple(_records(problem)) + tuple(k for k in record if k not in _records(problem))
    out: dict[str, Curve] = {}
    kw = dict(record_at=record_at, record=rec, recorders=recorders, tol=tol, check_every=check_every)
    for name in methods:
        if name == "orig":
            widths = [d_in] + [max(d_out, d_in)] * (depth - 1) + [d_out]
            net = wide_dln(widths, eps, init, seed, dtype=S.dtype, device=S.device, name="orig")
            label, setup = "Original DLN", 0.0
        elif name == "comp":
            t0 = time.perf_counter()
            net = cdln(problem, r_hat, depth, eps, alpha, scale_outer=comp_scale_outer, name="comp")
            label, setup = "C-DLN", time.perf_counter() - t0
        else:
            raise ValueError(f"unknown method {name!r}; choose 'orig' or 'comp'.")
        h = train(net, problem, GD(eta), iterations, progress=progress and label, **kw)
        out[name] = curve_from_history(label, h, setup)
    return out


def altmin_curve(problem: Completion, r_hat: int, iterations: int) -> Curve:
    """AltMin (:func:`dlnlib.baselines.altmin`) as a :class:`Curve` with ``loss``, ``recovery_error``, ``test_error``.

    Its time axis includes the surrogate's SVD (AltMin starts from the same spectral factors as C-DLN).
    """
    from .baselines import altmin

    res = altmin(problem, r_hat, iterations)
    vals = {"loss": res.train_loss, "recovery_error": res.recovery_error, "test_error": res.test_error}
    steps = max(len(res.iterations) - 1, 1)
    return Curve("AltMin", res.iterations, res.wall_time, vals, 0.0, float(res.wall_time[-1]) / steps)


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


def stack_nets(nets: Sequence[DLN], name: str = "stacked") -> DLN:
    """Several unbatched DLNs of one depth as one batched DLN ``(B, …)``, each factor zero-padded to the largest shape.

    Zero padding is exact under GD: a padded row/column of a factor receives an exactly zero gradient, so each
    member's end-to-end matrix equals its own network's bit for bit in exact arithmetic and to rounding here.
    Per-factor step multipliers (``α`` of C-DLN) become ``(B,)`` tensors. Used to train the original DLN and
    C-DLN in lockstep when the loss evaluation dominates (sensing: one pass over the measurement operator
    serves every member); the members then share one time axis, so only iteration axes are meaningful.

    >>> a = DLN([torch.ones(1, 2, dtype=torch.float64), torch.ones(2, 1, dtype=torch.float64)], [2.0, 2.0])
    >>> b = DLN([torch.ones(2, 2, dtype=torch.float64), torch.ones(2, 2, dtype=torch.float64)])
    >>> s = stack_nets([a, b]); s.batch_shape, s.widths, s.lr_scales[0].tolist()
    ((2,), [2, 2, 2], [2.0, 1.0])
    """
    depth = {n.depth for n in nets}
    if len(depth) != 1:
        raise ValueError(f"stack_nets needs networks of one depth, got depths {sorted(depth)}.")
    if any(n.batch_shape for n in nets):
        raise ValueError("stack_nets stacks unbatched networks.")
    Ws, scales = [], []
    for l in range(depth.pop()):
        rows = max(n.weights[l].shape[-2] for n in nets)
        cols = max(n.weights[l].shape[-1] for n in nets)
        ref = nets[0].weights[l]
        W = torch.zeros((len(nets), rows, cols), dtype=ref.dtype, device=ref.device)
        for i, n in enumerate(nets):
            w = n.weights[l]
            W[i, :w.shape[-2], :w.shape[-1]] = w
        Ws.append(W)
        s = [float(n.lr_scales[l]) for n in nets]
        scales.append(s[0] if len(set(s)) == 1 else torch.tensor(s, dtype=ref.dtype, device=ref.device))
    return DLN(Ws, scales, name=name)


def unstack_curves(h: History, labels: Sequence[str]) -> list[Curve]:
    """Split a batched :class:`History` (batch ``(B,)``) into ``B`` curves sharing its iteration and time axes."""
    out = []
    for i, lab in enumerate(labels):
        vals = {k: np.asarray(v)[:, i] for k, v in h.values.items()}
        out.append(Curve(lab, h.iterations, h.wall_time, vals, 0.0, h.seconds_per_step,
                         int(np.asarray(h.stop_iteration).reshape(-1)[i]), {"stacked": True}))
    return out


def learning_times(sv: np.ndarray, iterations: np.ndarray, sigma_star: np.ndarray, frac: float = 0.5) -> np.ndarray:
    """First recorded iteration at which ``σ_i(t) ≥ frac·σ_i*`` for each ``i`` (``inf`` if never).

    ``sv (K, ≥r)`` recorded singular values of ``W_{L:1}(t)`` (descending), ``sigma_star (r,)``.

    >>> learning_times(np.array([[0, 0], [2, 0], [3, 1]]), np.array([0, 10, 20]), np.array([3.0, 2.0])).tolist()
    [10.0, 20.0]
    """
    r = len(sigma_star)
    hit = sv[:, :r] >= frac * np.asarray(sigma_star)[None, :]
    return np.array([float(iterations[np.argmax(h)]) if h.any() else float("inf") for h in hit.T])


def increases(y: Sequence[float]) -> int:
    """Number of adjacent pairs with ``y[i+1] > y[i]`` (0 for a non-increasing sequence).

    >>> increases([5, 4, 4, 6, 2])
    1
    """
    y = np.asarray(y, dtype=np.float64)
    return int((np.diff(y) > 0).sum())


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
                iterations: int, tol: float, check_every: int = 1, timing_steps: int = 300, chunks: int = 1,
                divergence_factor: float = 1e10) -> AlphaSweep:
    """Train C-DLN for every α of the grid as batched programs (α as a ``(B,)`` tensor), each member stopping at
    its own ``tol`` or flagged when it diverges (``on_divergence="flag"``).

    ``chunks``: the grid (in the given order) is split into that many batches of neighbouring α, so the slow
    small-α members do not keep the fast ones' batch running. The time per α is estimated from the measured
    per-step time of one unbatched C-DLN (the step's cost does not depend on α) and the measured SVD time.
    """
    dtype = problem.surrogate().dtype
    stop, div = [], []
    t0 = time.perf_counter()
    for part in np.array_split(np.asarray(alphas, dtype=np.float64), chunks):
        net = cdln(problem, r_hat, depth, eps, torch.as_tensor(part, dtype=dtype), name="comp")
        h = train(net, problem, GD(eta), iterations, record_at=[0], tol=tol, on_divergence="flag",
                  check_every=check_every, divergence_factor=divergence_factor)
        stop.append(np.asarray(h.stop_iteration).reshape(-1))
        div.append(np.asarray(h.diverged_at).reshape(-1))
    wall = time.perf_counter() - t0
    svd = []
    for _ in range(3):
        t0 = time.perf_counter()
        one = cdln(problem, r_hat, depth, eps, 1.0)
        svd.append(time.perf_counter() - t0)
    ht = train(one, problem, GD(eta), timing_steps, record_at=[0], check_every=check_every)
    return AlphaSweep(np.asarray(alphas, dtype=np.float64), np.concatenate(stop), np.concatenate(div),
                      ht.seconds_per_step, float(np.median(svd)), iterations, wall)


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
                tol: float, seed: int = 0, check_every: int = 1, svd_repeats: int = 5,
                methods: Sequence[str] = ("orig", "comp")) -> list[TimingRow]:
    """Train the original DLN and C-DLN on the same ``problem`` until the loss is ≤ ``tol`` (or the cap), timing
    the SVD of Algorithm 1 (median of ``svd_repeats``) and the training loop separately ([K] Table 3)."""
    d = problem.shape[0]
    S = problem.surrogate()
    rows = []
    for name in methods:
        if name == "orig":
            widths = [problem.shape[1]] + [max(problem.shape)] * (depth - 1) + [problem.shape[0]]
            net = wide_dln(widths, eps, "orthogonal", seed, dtype=S.dtype, device=S.device, name="orig")
            svd_s = 0.0
        else:
            ts = []
            for _ in range(svd_repeats):
                t0 = time.perf_counter()
                net = cdln(problem, r_hat, depth, eps, alpha, name="comp")
                ts.append(time.perf_counter() - t0)
            svd_s = float(np.median(ts))
        t0 = time.perf_counter()
        h = train(net, problem, GD(eta), iterations, record_at=[0], tol=tol, check_every=check_every)
        train_s = time.perf_counter() - t0
        stop = int(np.asarray(h.stop_iteration).reshape(-1)[0])
        err = float(torch.linalg.matrix_norm(h.net.end_to_end() - problem.target) / torch.linalg.matrix_norm(problem.target))
        rows.append(TimingRow("DLN" if name == "orig" else "C-DLN", d, svd_s, train_s,
                              stop if stop >= 0 else iterations, stop >= 0, err))
    return rows


def recursion_recovery_error(sigma_star, r_hat: int, depth: int, eps: float, eta: float, alpha: float,
                             iterations: np.ndarray, loss_scale: float = 1.0) -> np.ndarray:
    """C-DLN's relative recovery error on factorisation predicted by Theorem 1 / its α extension (THEORY §4, §4.3).

    ``‖W̃_{L:1}(t) − M*‖_F/‖M*‖_F = ‖p(t) − σ*‖/‖σ*‖`` with ``p(t)`` from :func:`dlnlib.theory.kwon_alpha`,
    evaluated at ``iterations``.
    """
    from .theory import kwon_alpha

    s = np.asarray(sigma_star, dtype=np.float64)
    T = int(np.max(iterations))
    p = kwon_alpha(s, r_hat, depth, eps, eta, alpha, T, loss_scale)[np.asarray(iterations, dtype=int)]
    tgt = np.concatenate([s, np.zeros(r_hat - s.size)])
    return np.linalg.norm(p - tgt, axis=1) / np.linalg.norm(s)


def plot_iter_time(axes, curves: dict[str, Curve], key: str = "recovery_error", ylabel: str | None = None,
                   **kw) -> None:
    """``key`` against iteration on ``axes[0]`` and against wall-clock time on ``axes[1]``."""
    plot_curves(axes[0], curves, key, "iteration", ylabel, **kw)
    plot_curves(axes[1], curves, key, "time", ylabel, **kw)


def make_problem(kind: str, d: int, r: int, *, p: float | None = None, m: int | None = None, mask: str = "bernoulli",
                 seed: int = 0, dtype=None, device=None) -> Problem:
    """The [K] synthetic problems with the official code's normalisations (THEORY §1.4), from a preset.

    ``kind``: ``"mf"`` (``Factorisation(M*, "mean")``, step η/d² on ``½‖·‖²``), ``"mc"`` (``Completion`` with the
    loss averaged over observed entries; ``mask`` ``"bernoulli"`` (MCAR, the paper) or ``"exact"`` (⌊p d²⌋ entries,
    the code)), ``"ms"`` (Gaussian sensing with ``A_i ~ N(0,1)/m`` and the summed loss: step ≈ η/m). The target is
    :func:`dlnlib.problems.kwon_target` (seed ``seed``); the mask / operator use ``seed + 1``.

    >>> P = make_problem("mc", 10, 2, p=0.5, mask="exact"); int(P.n_observed), P.shape
    (50, (10, 10))
    """
    from .problems import Factorisation, bernoulli_mask, exact_count_mask, kwon_target, sensing

    M = kwon_target(d, r, seed=seed, dtype=dtype, device=device)
    if kind == "mf":
        return Factorisation(M, "mean")
    if kind == "mc":
        if p is None:
            raise ValueError("completion needs a sampling probability p.")
        make = {"bernoulli": bernoulli_mask, "exact": exact_count_mask}[mask]
        return Completion(M, make(d, d, p, seed + 1, dtype=M.dtype, device=M.device), "observed")
    if kind == "ms":
        if m is None:
            raise ValueError("sensing needs a number of measurements m.")
        return sensing(M, m, seed + 1, scale="official", normalisation="sum")
    raise ValueError(f"kind must be 'mf', 'mc' or 'ms', got {kind!r}.")


def timed_cached(name: str, params: dict, compute) -> tuple:
    """:func:`dlnlib.figures.cached` that also stores how long ``compute()`` took: returns ``(result, seconds)``.

    A figure that reuses another figure's cached runs can still report the time those runs took.
    """
    from .figures import cached

    def run_and_time():
        t0 = time.perf_counter()
        out = compute()
        return {"result": out, "compute_s": time.perf_counter() - t0}

    r = cached(name, params, run_and_time)
    return r["result"], float(r["compute_s"])


@dataclass(frozen=True, eq=False)
class BlockedSensing(Sensing):
    """:class:`dlnlib.problems.Sensing` whose loss and gradient read the measurement operator once per evaluation.

    ``A(W) − y`` and ``A†(A(W) − y)`` are formed block by block over ``rows`` measurements, so each block of the
    operator is used twice while it is in cache (the plain version streams the whole ``m × d²`` operator from
    memory twice). Same loss and gradient up to rounding; worth it when the operator is larger than the cache.

    >>> M = torch.eye(3, dtype=torch.float64)
    >>> plain = Sensing(torch.randn(10, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)), M)
    >>> fast = BlockedSensing(plain.A, M, rows=3)
    >>> W = torch.zeros(2, 3, 3, dtype=torch.float64)
    >>> all(torch.allclose(a, b) for a, b in zip(plain.loss_grad(W), fast.loss_grad(W)))
    True
    """

    rows: int = 8

    def loss_grad(self, W):
        n, m = self._A2.shape[1], self._A2.shape[0]
        batch = torch.broadcast_shapes(W.shape[:-2], self.y.shape[:-1])
        Wf = W.flatten(-2).expand(batch + (n,)).reshape(-1, n)
        y = self.y.expand(batch + (m,)).reshape(-1, m)
        G = torch.zeros_like(Wf)
        sq = torch.zeros(Wf.shape[0], dtype=W.dtype, device=W.device)
        for Ab, yb in zip(self._A2.split(self.rows), y.split(self.rows, dim=1)):
            res = Wf @ Ab.T - yb
            sq += res.square().sum(-1)
            G.addmm_(res, Ab)
        c = self.loss_scale
        return (0.5 * c * sq).reshape(batch), (G * c if c != 1.0 else G).reshape(batch + self.shape)
