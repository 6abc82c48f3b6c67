"""Interactive explorers: thin ``ipywidgets`` wrappers over the studies' compute and plot functions.

Each explorer is ``compute_*(params) -> result`` (cached in memory and on disk) and ``plot_*(result) -> Figure``,
drawn through the studies' plot functions (:mod:`dlnlib.studies.lop`, :mod:`dlnlib.studies.wang`,
:mod:`dlnlib.studies.kwon_compare`) that also draw the committed figures, so what one explores and what one
publishes cannot drift. Training-backed controls run on a button (``manual``), and a bad combination of controls
(a diverging η, r̂ < r, …) prints the engine's message instead of a traceback.

``ipywidgets`` is imported only when an explorer is built, so :mod:`dlnlib` stays importable without Jupyter.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import numpy as np

from .._util import check_integer, check_positive
from ..problems import Completion, Factorisation, bernoulli_mask, low_rank_target, sensing
from ..studies import kwon_compare, lop, wang
from ..theory import kwon_thm1, lop_rho
from ..optim import DivergenceError
from .cache import cached
from .style import COLORS, STYLE


@contextlib.contextmanager
def _one_thread():
    """Train on one torch thread: the explorers' matrices are small, and on a shared CPU several threads can be
    40× slower (measured: the default collapse run 70 s with 2 threads under load, 1.6 s with 1)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


# ----------------------------------------------------------------------------------------------
# Law of Parsimony: singular values and angles of every layer, with ρ(t)
# ----------------------------------------------------------------------------------------------


@dataclass
class LoPDynamics:
    """``iterations (K,)``, ``evs`` one :class:`dlnlib.studies.lop.SVDEvolution` per layer (angles against the first
    iterate after 0; the middle block as a subspace), ``rho (K,)`` the recursion at those iterations."""

    iterations: np.ndarray
    evs: list
    rho: np.ndarray
    params: dict

    @property
    def layer_sv(self) -> np.ndarray:
        """Singular values ``(K, L, d)`` of every factor."""
        return np.stack([ev.sv for ev in self.evs], 1)


@functools.lru_cache(maxsize=32)
def compute_lop(depth: int = 3, d: int = 30, r: int = 3, eps: float = 0.5, eta: float = 0.1,
                weight_decay: float = 0.0, iterations: int = 200, seed: int = 0) -> LoPDynamics:
    """GD on deep factorisation of a rank-``r`` ``d×d`` target (= whitened regression) from ε-orthogonal init,
    through :func:`dlnlib.studies.lop.record_snapshots` and :func:`~dlnlib.studies.lop.svd_evolution` (as talk-t04)."""
    params = dict(depth=depth, d=d, r=r, eps=eps, eta=eta, weight_decay=weight_decay, iterations=iterations, seed=seed)
    _counts(depth=depth, d=d, r=r, iterations=iterations)
    _positive(eps=eps, eta=eta)
    check_positive("weight_decay (λ)", weight_decay, allow_zero=True)
    if 2 * r >= d:
        raise ValueError(f"d = {d} must exceed 2r = {2 * r} for the invariant middle block to exist.")

    @_one_thread()
    def run():
        problem = Factorisation(low_rank_target(d, d, r, seed=seed, device="cpu"))
        snaps = lop.record_snapshots(problem, [d] * (depth + 1), eps, eta, iterations, seed=seed + 1,
                                     weight_decay=weight_decay, record_at=min(iterations + 1, 80),
                                     layers=tuple(range(1, depth + 1)))
        its = snaps["iterations"]
        evs = [lop.svd_evolution(its, snaps["W"][l], r) for l in range(1, depth + 1)]
        rho = lop_rho(eps, eta, depth, iterations, weight_decay, loss_scale=problem.loss_scale)[its]
        return LoPDynamics(its, evs, rho, params)

    return cached("explore-lop", params, run, study=lop)


def plot_lop(res: LoPDynamics, layers=None, view: str = "2-D"):
    """Per layer: singular values of ``W_l(t)`` (ρ(t) dashed black) over angles against the first iterate (top/
    bottom ``r`` per index, the middle block's principal angle grey), by :func:`dlnlib.studies.lop.plot_svd_lines`;
    ``view="3-D"``: the talk-t04 panels of :func:`dlnlib.studies.lop.plot_svd3d`, one row per layer."""
    import matplotlib.pyplot as plt

    L = len(res.evs)
    layers = list(range(L)) if layers is None else list(layers)
    if view.startswith("3"):
        fig = plt.figure(figsize=(7.0, 2.4 * len(layers)))
        gs = fig.add_gridspec(len(layers), 3)
        for row, l in enumerate(layers):
            lop.plot_svd3d(fig, [gs[row, j] for j in range(3)], res.evs[l], f"W{l + 1}: ")
        return fig
    fig, axes = plt.subplots(2, len(layers), figsize=(2.4 * len(layers), 3.8), squeeze=False, sharex=True)
    for j, l in enumerate(layers):
        lop.plot_svd_lines(axes[0, j], axes[1, j], res.evs[l], res.rho, title=f"$W_{l + 1}$: ")
    axes[0, 0].legend(fontsize=6)
    axes[1, 0].legend(fontsize=6)
    axes[1, 0].set_ylabel("angle [°]")
    return fig


# ----------------------------------------------------------------------------------------------
# C-DLN against the wide DLN
# ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def compute_cdln(problem: str = "factorisation", d: int = 40, r: int = 3, p: float = 0.3, m: int = 800,
                 r_hat: int = 6, alpha: float = 1.0, eps: float = 1e-2, eta: float = 0.05, iterations: int = 1500,
                 seed: int = 0):
    """Train the wide DLN and C-DLN (L = 3) on one problem (``½‖·‖²`` losses, step ``eta``); returns the curves
    and, for factorisation at α = 1, the Theorem 1 prediction of the recovery error."""
    params = dict(problem=problem, d=d, r=r, p=p, m=m, r_hat=r_hat, alpha=alpha, eps=eps, eta=eta,
                  iterations=iterations, seed=seed)
    if problem not in ("factorisation", "completion", "sensing"):
        raise ValueError(f"problem must be factorisation, completion or sensing, got {problem!r}.")
    _counts(d=d, r=r, m=m, r_hat=r_hat, iterations=iterations)
    _positive(alpha=alpha, eps=eps, eta=eta)
    if not 0.0 < check_positive("p", p) <= 1.0:
        raise ValueError(f"p (the sampling probability) must be in (0, 1], got {p!r}.")
    if r > d:
        raise ValueError(f"r = {r} exceeds d = {d}; the target is d×d of rank r <= d.")
    if r_hat < r:
        raise ValueError(f"r_hat = {r_hat} is below the target rank r = {r}; C-DLN needs r <= r_hat <= d.")

    @_one_thread()
    def run():
        sig = np.linspace(2.0, 1.0, r) if r > 1 else np.array([1.5])
        M = low_rank_target(d, d, r, sig, seed=seed, device="cpu")
        if problem == "factorisation":
            P = Factorisation(M)
        elif problem == "completion":
            P = Completion(M, bernoulli_mask(d, d, p, seed=seed + 1, device="cpu"), "sum")
        elif problem == "sensing":
            P = sensing(M, m, seed=seed + 1, normalisation="mean")
        else:
            raise ValueError(f"problem must be factorisation, completion or sensing, got {problem!r}.")
        curves = kwon_compare.orig_vs_comp(P, depth=3, eps=eps, eta=eta, alpha=alpha, r_hat=r_hat,
                                           iterations=iterations, record_at=60, seed=seed + 2)
        theory = None
        if problem == "factorisation" and alpha == 1.0:
            sv = kwon_thm1(sig, r_hat, 3, eps, eta, iterations)[curves["comp"].iterations]
            err = np.sqrt(((sv[:, :r] - sig) ** 2).sum(1) + (sv[:, r:] ** 2).sum(1)) / np.linalg.norm(sig)
            theory = (curves["comp"].iterations, err)
        return curves, theory

    return cached("explore-cdln", params, run, study=kwon_compare)


def plot_cdln(result):
    """Recovery error against iteration and against time; Theorem 1's curve dotted where it applies."""
    import matplotlib.pyplot as plt

    curves, theory = result
    fig, axes = plt.subplots(1, 2, figsize=(6.8, 2.5))
    kwon_compare.plot_iter_time(axes, curves, "recovery_error", ylabel="relative recovery error")
    if theory is not None:
        axes[0].plot(*theory, ":", color=COLORS["theory"], label="Theorem 1")
    axes[0].legend()
    return fig


# ----------------------------------------------------------------------------------------------
# Wang et al.: feature compression D_l and separation S_l across layers
# ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def compute_collapse(depth: int = 6, eps: float = 0.5, init: str = "orthogonal", K: int = 5, n: int = 10,
                     eta: float = 1.0, iterations: int = 2000, seed: int = 0) -> dict:
    """Train a width-``nK`` linear DLN on orthonormal ``K``-class data (T12 setup, mean loss) with
    :func:`dlnlib.studies.wang.train_mlp`; return ``D (L,)`` (layers ``0..L−1``), the
    :class:`~dlnlib.studies.wang.LayerMetrics`, the :class:`~dlnlib.studies.wang.DecayFit` over ``l = 0..L−1``
    (as talk-t12), its ``slope``, ``r2`` and the final ``loss``."""
    params = dict(depth=depth, eps=eps, init=init, K=K, n=n, eta=eta, iterations=iterations, seed=seed)
    _counts(depth=depth, n=n, iterations=iterations)
    check_integer("K (classes)", K, 2)
    _positive(eps=eps, eta=eta)
    if init not in ("orthogonal", "normal", "uniform"):
        raise ValueError(f"init must be 'orthogonal', 'normal' or 'uniform', got {init!r}.")

    @_one_thread()
    def run():
        data = wang.class_data(K, n, seed=seed)
        W0 = wang.mlp_init([data.N] * depth + [K], eps, init, seed + 1)
        tr = wang.train_mlp(W0, data.X, data.Y, eta, iterations, record_every=max(iterations, 1))
        m = wang.layer_metrics(tr.weights, data)
        fit = wang.decay_rate(m.D)
        return dict(D=m.D[:depth], metrics=m, fit=fit, slope=fit.slope, r2=fit.r2, loss=float(tr.loss[-1]),
                    params=params)

    return cached("explore-collapse", params, run, study=wang)


def plot_collapse(res: dict):
    """``D_l`` (log scale) with its fitted line (:func:`dlnlib.studies.wang.plot_decay`, as talk-t12) and ``S_l``
    un-centred/centred (:func:`dlnlib.studies.wang.plot_separation`, as talk-t13) against layer ``l``."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(5.6, 2.3))
    f = res["fit"]
    wang.plot_decay(axes[0], res["D"], f, color=COLORS["orig"], fit_color=COLORS["theory"], label="$D_l$",
                    fit_label=f"fit: ratio {np.exp(f.slope):.2f}/layer, $R^2$={f.r2:.3f}")
    axes[0].set_xlabel("layer l")
    axes[0].legend(fontsize=6)
    wang.plot_separation(axes[1], res["metrics"], color=COLORS["comp"])
    axes[1].set_xlabel("layer l")
    axes[1].set_ylabel("$S_l$ (o: un-c., x: centred)")
    return fig


# ----------------------------------------------------------------------------------------------
# Widgets
# ----------------------------------------------------------------------------------------------


def _counts(**kw) -> None:
    """Each keyword an explorer control that counts something: an integer ``>= 1``."""
    for name, v in kw.items():
        check_integer(name, v, 1)


def _positive(**kw) -> None:
    """Each keyword a step, scale or multiplier: finite and ``> 0``."""
    for name, v in kw.items():
        check_positive(name, v)


def _guarded(compute, plot, plot_keys=()):
    """Run compute+plot (``plot_keys``: controls passed to ``plot``, not ``compute``); show the engine's message
    (not a traceback) for bad control combinations: a ``ValueError`` or ``TypeError`` naming the control, a
    :class:`~dlnlib.optim.DivergenceError`, a ``FloatingPointError`` from a run that blew up."""
    import matplotlib.pyplot as plt

    def f(**kw):
        pk = {k: kw.pop(k) for k in plot_keys}
        try:
            with plt.style.context(str(STYLE)):
                fig = plot(compute(**kw), **pk)
        except (DivergenceError, ValueError, TypeError, FloatingPointError) as e:
            print(f"⚠ {e}")
            return None
        plt.show()
        return fig

    return f


def _slider(kind, value, lo, hi, step=None, desc=""):
    import ipywidgets as W

    cls = {"int": W.IntSlider, "float": W.FloatSlider, "log": W.FloatLogSlider}[kind]
    kw = dict(value=value, description=desc, continuous_update=False)
    if kind == "log":
        kw.update(base=10, min=lo, max=hi, step=step or 0.25)
    else:
        kw.update(min=lo, max=hi, step=step or (1 if kind == "int" else 0.05))
    return cls(**kw)


def lop_explorer():
    """Law of Parsimony explorer: L, d, r, ε, η, λ, iterations; view 2-D lines or the talk-t04 3-D panels."""
    import ipywidgets as W

    return W.interactive(_guarded(compute_lop, plot_lop, ("view",)), {"manual": True, "manual_name": "Train"},
                         depth=_slider("int", 3, 2, 6, desc="L"), d=_slider("int", 30, 8, 80, desc="d"),
                         r=_slider("int", 3, 1, 10, desc="r"), eps=_slider("log", 0.5, -2, 0, desc="ε"),
                         eta=_slider("log", 0.1, -3, 0, desc="η"),
                         weight_decay=_slider("float", 0.0, 0.0, 0.5, 0.01, desc="λ"),
                         iterations=_slider("int", 200, 10, 2000, 10, desc="iterations"), seed=W.fixed(0),
                         view=W.Dropdown(options=["2-D", "3-D (as talk-t04)"], value="2-D", description="view"))


def cdln_explorer():
    """C-DLN against the wide DLN: problem, p or m, r̂, α, ε, η."""
    import ipywidgets as W

    return W.interactive(_guarded(compute_cdln, plot_cdln), {"manual": True, "manual_name": "Train"},
                         problem=W.Dropdown(options=["factorisation", "completion", "sensing"], value="factorisation"),
                         d=_slider("int", 40, 10, 100, desc="d"), r=_slider("int", 3, 1, 10, desc="r"),
                         p=_slider("float", 0.3, 0.05, 1.0, desc="p (MC)"), m=_slider("int", 800, 50, 4000, 50, desc="m (MS)"),
                         r_hat=_slider("int", 6, 1, 40, desc="r̂"), alpha=_slider("float", 1.0, 0.25, 20.0, 0.25, desc="α"),
                         eps=_slider("log", 1e-2, -4, 0, desc="ε"), eta=_slider("log", 0.05, -3, 1, desc="η"),
                         iterations=_slider("int", 1500, 100, 10000, 100, desc="iterations"), seed=W.fixed(0))


def collapse_explorer():
    """Wang et al.: depth, ε, init type → D_l and S_l per layer with the fitted rate."""
    import ipywidgets as W

    return W.interactive(_guarded(compute_collapse, plot_collapse), {"manual": True, "manual_name": "Train"},
                         depth=_slider("int", 6, 3, 12, desc="L"), eps=_slider("float", 0.5, 0.1, 1.0, 0.05, desc="ε"),
                         init=W.Dropdown(options=["orthogonal", "normal", "uniform"], value="orthogonal"),
                         K=W.fixed(5), n=W.fixed(10), eta=W.fixed(1.0),
                         iterations=_slider("int", 2000, 100, 20000, 100, desc="iterations"), seed=W.fixed(0))
