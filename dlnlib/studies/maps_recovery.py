"""Maps of where [K]'s recovery claims hold (issue 14): sample complexity × rank (Figs 11/12) and depth × p (Fig. 19).

One point of a map is one call of a pure function of plain parameters that trains the ``seeds`` runs of that
point as one batch and returns a small dict of NumPy arrays (one entry per seed); the maps are
:func:`dlnlib.sweep.sweep` over a grid of such points, cached by the caller.

**Figs 11/12** (:func:`incremental_point`). Deep matrix completion (``kind="mc"``, the [K] code's loss averaged
over ``|Ω|``, ``Ω`` an exact-count mask) or sensing (``kind="ms"``, ``A_i ~ N(0,1)/m``, summed loss; one
operator per point shared by its seeds), target ``M* = kwon_target(d, r)`` (a different Gaussian per seed), the
wide ``d×d`` DLN of depth ``L`` from an ε-orthogonal init. The number of observations ``n`` (entries or
measurements) is given in units of the degrees of freedom of a rank-``r`` ``d×d`` matrix,

    ``ratio = n / (r(2d − r))``,

so that maps at different ``d`` are comparable (the scaling assumption: recovery is decided by ``n`` against the
``r(2d − r)`` unknowns, up to the ``log d`` factors of completion). A seed **recovers** when
``‖W_{L:1} − M*‖_F/‖M*‖_F ≤ rec_tol`` at the end; it **fits incrementally** when every ``σ_i`` (``i ≤ r``)
reaches ``frac·σ_i*`` and the fitting times are ordered, ``t_1 ≤ … ≤ t_r`` (:func:`incremental_order`).
The step is ``safety`` × the GD stability bound of the problem (:func:`dlnlib.theory.stability_rule`).

**Fig. 19** (:func:`depth_point`). Completion at observed fraction ``p`` (exact count), the wide DLN ("orig")
against C-DLN ("comp", Algorithm 1, width ``r̂``, step ``α·η`` on the outer factors; at ``L = 2`` the official
code's unscaled ``[Vᵀ, U]``), both at one step ``η``. Per seed: the share of recorded iterations at which comp's
training loss is at or below orig's (:func:`dlnlib.studies.kwon_compare.violations`, ``hold_last``), and the
ratio of the final recovery errors comp/orig.

Plots: :func:`plot_map` (one heat map, the paper's setting marked).
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch

from .._util import check_int, check_real
from ..metrics import first_crossing
from ..networks import cdln, wide_dln
from ..optim import GD
from ..problems import Completion, exact_count_mask, kwon_target, sensing
from ..sweep import fold
from ..theory import stability_rule
from .kwon_compare import run, violations
from .kwon_incremental import backward_steps

__all__ = ["dof", "n_observations", "incremental_order", "safe_step", "incremental_point", "depth_point",
           "fraction_map", "plot_map"]


def dof(d: int, r: int) -> int:
    """Degrees of freedom of a rank-``r`` ``d×d`` matrix: ``r(2d − r)``.

    >>> dof(100, 10)
    1900
    """
    d, r = check_int("d", d, 1), check_int("r", r, 1)
    if r > d:
        raise ValueError(f"r must be at most d = {d}, got r = {r}.")
    return r * (2 * d - r)


def n_observations(d: int, r: int, ratio: float) -> int:
    """``round(ratio · r(2d − r))``, the entries (completion) or measurements (sensing) at ``ratio`` dof units.

    >>> n_observations(100, 10, 2000 / 1900)
    2000
    """
    check_real("ratio", ratio, low=0.0, low_open=True)
    return int(round(ratio * dof(d, r)))


def incremental_order(sv: np.ndarray, iterations: np.ndarray, sigma_star: np.ndarray,
                      frac: float = 0.5) -> tuple[np.ndarray, bool]:
    """Fitting times ``t_i`` (first ``σ_i ≥ frac·σ_i*``, interpolated; ``inf`` never) and whether they are
    incremental: all finite and ``t_1 ≤ … ≤ t_r`` (:func:`dlnlib.studies.kwon_incremental.backward_steps`).

    ``sv (K, n ≥ r)`` recorded singular values, ``iterations (K,)``, ``sigma_star (r,)``.

    >>> sv = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 1.0]])
    >>> t, ok = incremental_order(sv, np.array([0, 10, 20]), np.array([2.0, 1.0])); t.tolist(), ok
    ([5.0, 15.0], True)
    >>> incremental_order(sv[:, ::-1], np.array([0, 10, 20]), np.array([1.0, 2.0]))[1]  # σ_2 first: not ordered
    False
    """
    s = np.asarray(sigma_star, dtype=float)
    check_real("frac", frac, low=0.0, high=1.0, low_open=True)
    t = first_crossing(np.asarray(sv)[:, :s.size], np.asarray(iterations), frac * s, interpolate=True)
    return t, bool(np.isfinite(t).all() and backward_steps(t)[0] == 0)


def safe_step(problem, nets: Sequence, safety: float) -> float:
    """``safety`` × the smallest GD stability bound (:func:`dlnlib.theory.stability_rule`) over ``nets`` and the
    problem's batch: one step for every run of a point."""
    check_real("safety", safety, low=0.0, high=1.0, low_open=True)
    return safety * min(float(np.min(stability_rule(problem, net, GD(1.0)).bound)) for net in nets)


def _targets(d: int, r: int, seeds: int, seed: int) -> torch.Tensor:
    return torch.stack([kwon_target(d, r, seed=seed + s) for s in range(seeds)])


def incremental_point(kind: str, d: int, r: int, ratio: float, *, seeds: int = 3, seed: int = 0, depth: int = 3,
                      eps: float = 1e-2, safety: float = 0.3, iterations: int = 20000, records: int = 200,
                      tol: float = 1e-12, rec_tol: float = 1e-2, frac: float = 0.5) -> dict:
    """One cell of the Figs 11/12 map: ``seeds`` runs of the wide DLN on completion/sensing at ``ratio`` dof units.

    Returns a dict of NumPy arrays/numbers: ``n_obs``, ``p`` (``n_obs/d²``), ``eta``, ``feasible`` (completion:
    ``n_obs ≤ d²``; an infeasible cell returns NaN results without training), ``rel_error (S,)``,
    ``train_loss (S,)``, ``stopped (S,)`` (loss reached ``tol``), ``t_fit (S, r)``, ``ordered (S,)``,
    ``recovered (S,)``, ``holds (S,)`` = ordered and recovered, ``seconds`` (wall clock of the training) and
    ``cpu_seconds`` (its CPU time: the cost on an idle core when the machine is shared).
    """
    if kind not in ("mc", "ms"):
        raise ValueError(f"kind must be 'mc' (completion) or 'ms' (sensing), got {kind!r}.")
    seeds, depth, iterations = check_int("seeds", seeds, 1), check_int("depth", depth, 2), check_int("iterations", iterations, 1)
    n = n_observations(d, r, ratio)
    out = dict(n_obs=n, p=n / d**2, feasible=not (kind == "mc" and n > d * d), eta=float("nan"), seconds=0.0,
               cpu_seconds=0.0)
    nan = np.full(seeds, np.nan)
    if not out["feasible"] or n < 1:
        return dict(out, feasible=False, rel_error=nan, train_loss=nan, stopped=np.zeros(seeds, bool),
                    t_fit=np.full((seeds, r), np.nan), ordered=np.zeros(seeds, bool), recovered=np.zeros(seeds, bool),
                    holds=np.zeros(seeds, bool))
    M = _targets(d, r, seeds, seed)
    if kind == "mc":
        mask = exact_count_mask(d, d, n / d**2, seed + 1000, batch=(seeds,), dtype=M.dtype)
        problem = Completion(M, mask, "observed")
    else:
        problem = sensing(M, n, seed + 1000, scale="official", normalisation="sum")
    net = wide_dln([d] * (depth + 1), eps, seed=seed + 2000, batch=(seeds,))
    eta = safe_step(problem, [net], safety)
    t0, c0 = time.perf_counter(), time.process_time()
    curves = run(net, problem, eta, iterations, labels=[f"seed {s}" for s in range(seeds)], record_at=records,
                 record=("loss", "recovery_error", "sv"), tol=tol, on_divergence="flag")
    s_star = torch.linalg.svdvals(M)[:, :r].numpy()
    t_fit, ordered = zip(*(incremental_order(c["sv"], c.iterations, s_star[i], frac) for i, c in enumerate(curves)))
    rel = np.array([c["recovery_error"][-1] for c in curves])
    recovered = rel <= rec_tol
    ordered = np.array(ordered)
    return dict(out, eta=eta, seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0, rel_error=rel,
                train_loss=np.array([c["loss"][-1] for c in curves]),
                stopped=np.array([c.stop_iteration >= 0 for c in curves]), t_fit=np.array(t_fit), ordered=ordered,
                recovered=recovered, holds=ordered & recovered)


def depth_point(d: int, r: int, p: float, depth: int, *, seeds: int = 3, seed: int = 0, eps: float = 1e-2,
                alpha: float = 2.0, r_hat: int | None = None, safety: float = 0.3, iterations: int = 5000,
                records: int = 100, tol: float = 1e-12) -> dict:
    """One cell of the Fig. 19 map: the wide DLN and C-DLN on completion at observed fraction ``p``, depth ``L``.

    ``r_hat`` defaults to ``2r``; at ``L = 2`` C-DLN is the official code's unscaled ``[Vᵀ, U]``. One step ``η``
    (``safety`` × the smaller stability bound of the two nets) for both. Returns NumPy arrays per seed:
    ``loss_below (S,)`` share of recorded iterations with comp's training loss ≤ orig's, ``err_ratio (S,)`` final
    recovery error comp/orig, ``err_orig``/``err_comp``/``loss_orig``/``loss_comp (S,)`` final values, ``eta``,
    ``n_obs``, ``seconds``, ``cpu_seconds`` (as in :func:`incremental_point`).
    """
    seeds, depth = check_int("seeds", seeds, 1), check_int("depth", depth, 2)
    check_real("p", p, low=0.0, high=1.0, low_open=True)
    r_hat = 2 * r if r_hat is None else check_int("r_hat", r_hat, 1)
    M = _targets(d, r, seeds, seed)
    problem = Completion(M, exact_count_mask(d, d, p, seed + 1000, batch=(seeds,), dtype=M.dtype), "observed")
    orig = wide_dln([d] * (depth + 1), eps, seed=seed + 2000, batch=(seeds,))
    comp = cdln(problem, r_hat, depth, eps, alpha, scale_outer=depth != 2)
    eta = safe_step(problem, [orig, comp], safety)
    t0, c0 = time.perf_counter(), time.process_time()
    kw = dict(record_at=records, record=("loss", "recovery_error"), tol=tol, on_divergence="flag")
    co = run(orig, problem, eta, iterations, labels=[f"orig {s}" for s in range(seeds)], **kw)
    cc = run(comp, problem, eta, iterations, labels=[f"comp {s}" for s in range(seeds)], **kw)
    below = []
    for a, b in zip(co, cc):
        v, k = violations(a, b, "loss", hold_last=True)
        below.append(1.0 - v / k)
    eo = np.array([c["recovery_error"][-1] for c in co])
    ec = np.array([c["recovery_error"][-1] for c in cc])
    return dict(eta=eta, n_obs=int(problem.n_observed.reshape(-1)[0]), seconds=time.perf_counter() - t0,
                cpu_seconds=time.process_time() - c0,
                loss_below=np.array(below), err_ratio=ec / eo, err_orig=eo, err_comp=ec,
                loss_orig=np.array([c["loss"][-1] for c in co]), loss_comp=np.array([c["loss"][-1] for c in cc]))


def fraction_map(results: Sequence[dict], shape: tuple[int, int], key: str | None = None, fn=None) -> np.ndarray:
    """The ``(n_rows, n_cols)`` map of the share of seeds where ``results[k][key]`` is true (or ``fn(result)``
    gives a boolean per seed), for results in grid order (rows slowest); NaN where a point is infeasible.

    >>> fraction_map([{"ok": np.array([True, False])}, {"ok": np.array([True, True]), "feasible": False}], (1, 2), "ok")
    array([[0.5, nan]])
    """
    def share(res: dict) -> float:
        if not res.get("feasible", True):
            return np.nan
        return float(np.asarray(res[key] if fn is None else fn(res), dtype=bool).mean())

    return fold(results, shape, share)


def plot_map(ax, x: Sequence[float], y: Sequence[float], frac: np.ndarray, *, xlabel: str, ylabel: str, title: str,
             mark: tuple[float, float] | None = None, mark_label: str = "paper's setting", annotate: bool = True):
    """A heat map of ``frac (len(y), len(x))`` (share of seeds where the claim holds, 0–1, NaN grey hatched) on
    categorical axes labelled with the values of ``x`` and ``y``; ``mark`` ``(x, y)`` is drawn as a star at its
    position interpolated between the columns/rows (outside the grid: at the edge); each cell shows its share
    (under the star: in the cell's lower part). Returns the image.
    """
    import matplotlib.pyplot as plt

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
    im = ax.imshow(np.ma.masked_invalid(frac), origin="lower", aspect="auto", cmap=cmap, vmin=0.0, vmax=1.0,
                   interpolation="nearest")
    ax.grid(False)
    ax.set_xticks(range(len(x)), [f"{v:g}" for v in x])
    ax.set_yticks(range(len(y)), [f"{v:g}" for v in y])
    mx = my = None
    if mark is not None:
        mx = float(np.interp(mark[0], x, np.arange(len(x)), left=-0.45, right=len(x) - 0.55))
        my = float(np.interp(mark[1], y, np.arange(len(y)), left=-0.45, right=len(y) - 0.55))
    if annotate:  # the share in each cell; under the star, a little below it
        for i in range(frac.shape[0]):
            for j in range(frac.shape[1]):
                f = frac[i, j]
                under = mx is not None and abs(j - mx) < 0.5 and abs(i - my) < 0.5
                ax.text(j, i - 0.32 if under else i, "—" if not np.isfinite(f) else f"{f:.2g}", ha="center", va="center", fontsize=6,
                        color="black" if not np.isfinite(f) or f > 0.6 else "white")
    if mark is not None:
        ax.plot([mx], [my], marker="*", ms=9, mfc="none", mec="red", mew=1.2, ls="none", label=mark_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return im
