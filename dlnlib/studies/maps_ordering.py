"""Maps of three claims our runs do not show at the sources' settings (issue 14, items 1–2): where they hold.

* **Theorem 2's ordering beyond factorisation** ([K] Figs 6, 15): ``‖W̃(t) − M*‖ ≤ ‖W(t) − M*‖`` for C-DLN (α) and
  the original DLN on completion / sensing. :func:`ordering_point` runs ``B`` random instances at one
  ``(kind, α, ρ)`` (:func:`dlnlib.studies.kwon_thm2.orig_and_comp`) and returns, per instance, the fraction of
  recorded iterations where the ordering holds. The number of observations is given as the **oversampling**
  ``ρ = observations / (r(2d − r))`` (the degrees of freedom of a rank-``r`` ``d×d`` matrix): completion observes
  each entry with ``p = ρ r(2d − r)/d²``, sensing takes ``m = round(ρ r(2d − r))`` measurements.
* **Fig. 16, α ≤ 1** ([K] App.): C-DLN needs more iterations to ``tol`` than the original. :func:`fig16_point`
  runs the α grid as one batch (:func:`dlnlib.studies.kwon_compare.alpha_sweep`) and the original to the same
  ``tol`` (:func:`~dlnlib.studies.kwon_compare.time_to_tol`) at one ``(ε, η)``, with ``η`` a fraction of the
  α = 1 stability bound (:func:`dlnlib.theory.stability_rule`); returns the iteration ratios comp/orig per α.
* **Talk T17**: the compressed net (γ = 0.01) converges in fewer iterations than a random narrow DLN of width
  ``2r̂``. :func:`t17_point` runs both (:func:`dlnlib.studies.lop_compressed.compressed_sweep`,
  :func:`~dlnlib.studies.lop_compressed.narrow_sweep`) at one ``(d, ε, r̂)`` on the notebook-14 completion
  problem and returns the iterations of every trial.

Every point function takes plain parameters and returns a small dataclass of numpy arrays, so a map is
``dlnlib.sweep.sweep(point, grid, cache=nb.cached, key=...)``. :func:`plot_map` draws one 2-D map (cells on
index axes, values printed, the source's setting outlined). Conventions: float64, one thread, steps on each
problem's declared loss (conventions §1.4).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .._util import check_int, check_real
from ..networks import cdln
from ..optim import GD
from ..problems import Completion, bernoulli_mask, exact_count_mask, make_problem, sensing, truncated_gaussian_target
from ..theory import learning_time, mf_equivalent_scale, stability_bound, stability_rule
from . import kwon_compare, lop_compressed
from .kwon_cor1 import kwon_targets, separated_targets
from .kwon_thm2 import orig_and_comp
from .maps_recovery import dof

#: Relative-error rounding allowance of the ordering (as notebook 04's Theorem 2 rows).
ALLOW = 1e-12


def observations(kind: str, d: int, r: int, oversample: float) -> float:
    """Completion: the sampling probability ``p = ρ r(2d − r)/d²`` (≤ 1); sensing: ``m = round(ρ r(2d − r))``.

    >>> observations("mc", 100, 5, 2.0), observations("ms", 100, 5, 2.0)
    (0.195, 1950)
    """
    n = oversample * dof(d, r)
    if kind == "mc":
        p = n / d**2
        if not 0 < p <= 1:
            raise ValueError(f"oversample: ρ = {oversample} gives p = {p:.3g} for d = {d}, r = {r}; need 0 < p ≤ 1.")
        return p
    if kind == "ms":
        return int(round(n))
    raise ValueError(f"kind must be 'mc' (completion) or 'ms' (sensing), got {kind!r}.")


def oversampling(kind: str, d: int, r: int, value: float) -> float:
    """Inverse of :func:`observations`: ``ρ`` of a completion ``p`` or a sensing ``m``.

    >>> oversampling("mc", 100, 5, 0.3), round(oversampling("ms", 100, 5, 2000), 4)
    (3.076923076923077, 2.0513)
    """
    return value * (d**2 if kind == "mc" else 1) / dof(d, r)


# ----------------------------------------------------------------------------------------------
# Theorem 2's ordering on completion and sensing
# ----------------------------------------------------------------------------------------------


@dataclass
class OrderingPoint:
    """One ``(kind, α, ρ)`` point over ``B`` instances, arrays ``(B,)``: ``frac_ok`` fraction of recorded
    iterations with ``err_comp ≤ err_orig + ALLOW``; ``frac_ok_fit`` the same over the iterations where the
    original is still fitting (``err_orig > 2 × its final error``: before both sit on their end plateaus);
    ``max_excess`` largest ``(comp − orig)/orig``; ``first_bad`` first violating recorded iteration as a fraction
    of ``T`` (nan if none); ``final_orig``, ``final_comp`` relative recovery errors at ``T``; ``diverged`` either
    net; ``T``; ``seconds`` CPU time of the point (one thread: the time on one idle core)."""

    frac_ok: np.ndarray
    frac_ok_fit: np.ndarray
    max_excess: np.ndarray
    first_bad: np.ndarray
    final_orig: np.ndarray
    final_comp: np.ndarray
    diverged: np.ndarray
    T: int
    seconds: float

    @property
    def clean(self) -> np.ndarray:
        """Instances with no violation at any recorded iteration ``(B,)``."""
        return self.frac_ok >= 1.0


def ordering_counts(err_orig: np.ndarray, err_comp: np.ndarray, iterations: np.ndarray, T: int,
                    allowance: float = ALLOW, plateau: float = 2.0) -> tuple[np.ndarray, ...]:
    """Per instance of ``(K, B)`` error arrays: fraction of rows with ``comp ≤ orig + allowance``, the same over
    the rows with ``orig > plateau × orig[-1]`` (1 where there are none), largest ``(comp − orig)/orig``, and the
    first violating iteration / ``T`` (nan if none).

    >>> o = np.array([[1.0, 1.0], [0.5, 0.5]]); c = np.array([[1.0, 0.9], [0.6, 0.4]])
    >>> [np.round(a, 6).tolist() for a in ordering_counts(o, c, np.array([0, 10]), 10)]
    [[0.5, 1.0], [1.0, 1.0], [0.2, -0.1], [1.0, nan]]
    """
    bad = err_comp > err_orig + allowance
    fitting = err_orig > plateau * err_orig[-1:]
    frac = 1.0 - bad.mean(0)
    frac_fit = 1.0 - (bad & fitting).sum(0) / np.maximum(fitting.sum(0), 1)
    excess = ((err_comp - err_orig) / err_orig).max(0)
    first = np.where(bad.any(0), np.asarray(iterations)[bad.argmax(0)] / T, np.nan)
    return frac, frac_fit, excess, first


def _targets(family: str, B: int, d: int, r: int, seed: int) -> torch.Tensor:
    if family == "kwon":
        return kwon_targets(B, d, r, seed)
    if family == "separated":
        return separated_targets(B, d, r, seed)
    raise ValueError(f"targets must be 'kwon' or 'separated', got {family!r}.")


def ordering_problem(kind: str, d: int, r: int, oversample: float, B: int, seed: int, targets: str = "kwon"):
    """``B`` random instances as one batched problem: completion (Bernoulli mask, loss averaged over the observed
    entries) or Gaussian sensing (mean loss), as notebook 04's Theorem 2 rows."""
    M = _targets(targets, B, d, r, seed)
    if kind == "mc":
        mask = bernoulli_mask(d, d, observations(kind, d, r, oversample), seed=seed + 2, batch=(B,))
        return Completion(M, mask, "observed")
    return sensing(M, observations(kind, d, r, oversample), seed=seed + 1, normalisation="mean")


def ordering_point(kind: str, alpha: float, oversample: float, *, d: int, r: int, r_hat: int, B: int,
                   depth: int = 3, eps: float = 1e-2, eta_frac: float = 0.08, margin: float = 2.5, record: int = 100,
                   seed: int = 0, targets: str = "kwon") -> OrderingPoint:
    """Theorem 2's ordering on ``B`` random ``kind`` instances (``"mc"`` or ``"ms"``) at C-DLN step multiplier
    ``alpha`` and oversampling ``oversample`` (:func:`observations`).

    The step is ``η·c_eff = eta_frac × stability_bound(σ_max)`` (α = 1, on ``½‖W − M*‖²``; ``c_eff`` =
    :func:`dlnlib.theory.mf_equivalent_scale`), the horizon ``T`` = ``margin`` × C-DLN's recursion time to fit
    every σ_i* (slowest instance, α = 1), ``record`` recorded iterations.

    >>> pt = ordering_point("mc", 1.0, 4.0, d=8, r=1, r_hat=2, B=2, eps=0.1, eta_frac=0.2, record=20)
    >>> pt.frac_ok.shape, bool((pt.frac_ok > 0.5).all())
    ((2,), True)
    """
    check_int("d", d, 2)
    check_int("B", B, 1)
    check_real("alpha", alpha, low=0.0, low_open=True)
    check_real("eta_frac", eta_frac, low=0.0, low_open=True)
    t0 = time.process_time()
    prob = ordering_problem(kind, d, r, oversample, B, seed, targets)
    sig = torch.linalg.svdvals(prob.target)[:, :r].numpy()
    eta_sum = eta_frac * stability_bound(float(sig.max()), depth)
    eta = eta_sum / mf_equivalent_scale(prob)
    T = int(margin * max(learning_time(s, r_hat, depth, eps, eta_sum) for s in sig))
    oc = orig_and_comp(prob, r, r_hat, depth, eps, eta, T, alpha=alpha, record_at=record, seed=seed,
                       spectral=False)
    frac, frac_fit, excess, first = ordering_counts(oc.err_orig, oc.err_comp, oc.iterations, T)
    return OrderingPoint(frac, frac_fit, excess, first, oc.err_orig[-1].copy(), oc.err_comp[-1].copy(), oc.diverged, T,
                         time.process_time() - t0)


# ----------------------------------------------------------------------------------------------
# Fig. 16: iterations to tol, C-DLN over the original, for α around 1
# ----------------------------------------------------------------------------------------------


@dataclass
class Fig16Point:
    """One ``(ε, η)`` point of the α map: ``alphas (A,)``, ``comp_its (A,)`` C-DLN iterations to ``tol`` (−1: not
    reached), ``orig_its`` the original's (−1: not reached), ``eta`` the step on the declared loss, ``bound`` the
    α = 1 stability bound, ``seconds`` CPU time of the point."""

    alphas: np.ndarray
    comp_its: np.ndarray
    orig_its: int
    eta: float
    bound: float
    seconds: float

    @property
    def ratio(self) -> np.ndarray:
        """comp/orig iterations per α (nan where either did not reach ``tol``)."""
        ok = (self.comp_its >= 0) & (self.orig_its >= 0)
        return np.where(ok, self.comp_its / max(self.orig_its, 1), np.nan)


def fig16_bound(d: int, r: int, p: float, r_hat: int, depth: int, eps: float, seed: int = 0,
                mask: str = "exact") -> float:
    """The α = 1 C-DLN stability bound on the step ``η`` (declared loss) of the [K] completion problem
    :func:`dlnlib.problems.make_problem` ``("mc", d, r, p)``: :func:`dlnlib.theory.stability_rule`."""
    prob = make_problem("mc", d, r, p=p, mask=mask, seed=seed)
    return float(stability_rule(prob, cdln(prob, r_hat, depth, eps, 1.0), GD(1.0)).bound)


def fig16_point(eps: float, eta_frac: float, *, alphas: Sequence[float], d: int, r: int, p: float, r_hat: int,
                depth: int = 3, tol: float = 1e-10, T: int = 20_000, seed: int = 0, mask: str = "exact",
                check_every: int = 10) -> Fig16Point:
    """[K] Fig. 16 at one ``(ε, η = eta_frac × bound)``: C-DLN for every α of ``alphas`` (one batch, each
    stopping at loss ≤ ``tol``) and the original DLN to the same ``tol``, on ``make_problem("mc", d, r, p)``.

    >>> pt = fig16_point(0.1, 0.3, alphas=[0.5, 2.0], d=10, r=1, p=0.5, r_hat=2, tol=1e-6, T=3000)
    >>> pt.ratio.shape, bool(np.isfinite(pt.ratio).all())
    ((2,), True)
    """
    check_real("eps", eps, low=0.0, low_open=True)
    check_real("eta_frac", eta_frac, low=0.0, low_open=True)
    t0 = time.process_time()
    prob = make_problem("mc", d, r, p=p, mask=mask, seed=seed)
    bound = float(stability_rule(prob, cdln(prob, r_hat, depth, eps, 1.0), GD(1.0)).bound)
    eta = eta_frac * bound
    sw = kwon_compare.alpha_sweep(prob, list(alphas), depth=depth, eps=eps, eta=eta, r_hat=r_hat, iterations=T,
                                  tol=tol, check_every=check_every, timing_steps=1)
    row, = kwon_compare.time_to_tol(prob, depth=depth, eps=eps, eta=eta, alpha=1.0, r_hat=r_hat, iterations=T,
                                    tol=tol, seed=seed + 2, check_every=check_every, svd_repeats=1,
                                    methods=("orig",))
    return Fig16Point(sw.alphas, sw.stop_iteration.astype(np.int64), row.iterations if row.converged else -1, eta,
                      bound, time.process_time() - t0)


# ----------------------------------------------------------------------------------------------
# Talk T17: compressed (γ) against a narrow DLN of width 2r̂
# ----------------------------------------------------------------------------------------------


@dataclass
class T17Point:
    """One ``(d, ε, r̂)`` point: iterations to ``tol`` of every trial ``(trials,)`` for the compressed net and the
    narrow width-``2r̂`` DLN, their convergence flags, ``seconds`` CPU time of the point."""

    comp_its: np.ndarray
    narrow_its: np.ndarray
    converged: np.ndarray
    seconds: float

    @property
    def ratio(self) -> float:
        """Mean compressed iterations over mean narrow iterations (the talk's comparison)."""
        return float(np.mean(self.comp_its) / np.mean(self.narrow_its))


def t17_problem(d: int, r: int, p: float, seed: int) -> Completion:
    """Notebook 14's T17 problem: rank-``r`` truncated Gaussian target, exactly ``⌊p d²⌋`` observed, mean loss."""
    M = truncated_gaussian_target(d, d, r, seed=seed)
    return Completion(M, exact_count_mask(d, d, p, seed=seed + 1), "mean")


def t17_point(d: int, eps: float, r_hat: int, *, r: int, p: float, depth: int = 3, eta_talk: float = 5e-3,
              d_talk: int = 1000, gamma: float = 0.01, trials: int = 3, max_iter: int = 20_000, tol: float = 1e-10,
              seed: int = 0) -> T17Point:
    """T17 at one ``(d, ε, r̂)``: ``trials`` compressed nets (γ) and narrow ``[d, 2r̂, …, 2r̂, d]`` DLNs, the talk's
    step transported to the target (:func:`dlnlib.studies.lop_compressed.talk_step`), to loss ≤ ``tol``.

    >>> pt = t17_point(12, 0.05, 2, r=1, p=0.5, trials=2, max_iter=300, tol=1e-6)
    >>> pt.comp_its.shape, pt.narrow_its.shape, pt.ratio > 0
    ((2,), (2,), True)
    """
    check_int("r_hat", r_hat, 1)
    check_real("eps", eps, low=0.0, low_open=True)
    t0 = time.process_time()
    prob = t17_problem(d, r, p, seed)
    eta = lop_compressed.talk_step(eta_talk, d_talk, prob, depth)
    c, = lop_compressed.compressed_sweep(prob, [r_hat], depth, eps, eta, gamma, trials, max_iter, tol,
                                         seed=seed + 100)
    n, = lop_compressed.narrow_sweep(prob, [2 * r_hat], depth, eps, eta, trials, max_iter, tol, seed=seed + 200)
    return T17Point(c.iterations.astype(np.int64), n.iterations.astype(np.int64), c.converged & n.converged,
                    time.process_time() - t0)


# ----------------------------------------------------------------------------------------------
# Reading and drawing maps
# ----------------------------------------------------------------------------------------------


def region(Z: np.ndarray, holds) -> tuple[int, int]:
    """Cells where ``holds(Z)`` is true and cells with a finite value: ``(holding, finite)``.

    >>> region(np.array([[1.2, 0.8], [np.nan, 1.1]]), lambda z: z > 1)
    (2, 3)
    """
    ok = np.isfinite(Z)
    with np.errstate(invalid="ignore"):
        return int((holds(Z) & ok).sum()), int(ok.sum())


def plot_map(ax, Z: np.ndarray, xs: Sequence, ys: Sequence, *, xlabel: str, ylabel: str, clabel: str,
             marks: Sequence[tuple[int, int]] = (), vmin: float | None = None, vmax: float | None = None,
             cmap: str = "viridis", fmt: str = "{:.2f}", fig=None):
    """Draw ``Z (len(ys), len(xs))`` as cells on index axes labelled with ``xs``/``ys``, each cell's value printed,
    a labelled colour bar, and the cells ``marks = [(ix, iy), …]`` (the source's setting) outlined. Returns the mesh."""
    import matplotlib.patches as mpatches

    Z = np.asarray(Z, dtype=np.float64)
    mesh = ax.pcolormesh(np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5, np.ma.masked_invalid(Z),
                         cmap=cmap, vmin=vmin, vmax=vmax, shading="flat")
    for iy in range(Z.shape[0]):
        for ix in range(Z.shape[1]):
            z = Z[iy, ix]
            rgb = mesh.cmap(mesh.norm(z))[:3] if np.isfinite(z) else (1.0, 1.0, 1.0)
            dark = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 0.5  # luminance of the cell
            ax.text(ix, iy, "–" if not np.isfinite(z) else fmt.format(z), ha="center", va="center", fontsize=5.5,
                    color="white" if dark else "black")
    ax.grid(False)
    for ix, iy in marks:
        ax.add_patch(mpatches.Rectangle((ix - 0.5, iy - 0.5), 1, 1, fill=False, ec="#D55E00", lw=1.6))
    ax.set_xticks(range(len(xs)), [f"{x:g}" if isinstance(x, (int, float)) else str(x) for x in xs])
    ax.set_yticks(range(len(ys)), [f"{y:g}" if isinstance(y, (int, float)) else str(y) for y in ys])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    cb = (fig or ax.figure).colorbar(mesh, ax=ax)
    cb.set_label(clabel)
    return mesh


def nearest(values: Sequence[float], x: float, log: bool = True) -> int:
    """Index of the grid value nearest ``x`` (in log scale by default).

    >>> nearest([0.5, 1, 2, 5], 1.9), nearest([1e-3, 1e-2, 1e-1], 2e-2)
    (2, 1)
    """
    v = np.asarray(values, dtype=np.float64)
    f = np.log if log else (lambda a: a)
    return int(np.argmin(np.abs(f(v) - f(x))))
