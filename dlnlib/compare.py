"""Original (wide) DLN versus C-DLN on one problem: runs, curves and the plots the figures share.

A :class:`Curve` is one method's recorded trajectory; :func:`orig_vs_comp` trains both networks on the same
problem from the paper's inits, and :func:`plot_curves` draws error against iteration or wall-clock time.
The explorers (:mod:`dlnlib.widgets`) call the same plotting functions as the committed figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .figures import COLORS
from .networks import DLN, cdln, wide_dln
from .problems import Completion, Problem
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


def violations(a: Curve, b: Curve, key: str = "recovery_error", rtol: float = 0.0) -> tuple[int, int]:
    """Recorded iterations where ``b[key] > a[key]·(1+rtol)`` (b should be ≤ a), and how many were compared.

    Compares at the iterations both curves recorded.
    """
    common, ia, ib = np.intersect1d(a.iterations, b.iterations, return_indices=True)
    bad = b[key][ib] > a[key][ia] * (1 + rtol)
    return int(bad.sum()), int(common.size)


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
