"""Interactive explorers: thin ``ipywidgets`` wrappers over pure compute + plot functions.

Each explorer is ``compute_*(params) -> result`` (cached in memory and on disk) and ``plot_*(result) -> Figure``.
The committed figures call the same ``plot_*`` functions, so what one explores and what one publishes
cannot drift. Training-backed controls run on a button (``manual``), and a bad combination of controls
(a diverging η, r̂ < r, …) prints the engine's message instead of a traceback.

``ipywidgets`` is imported only when an explorer is built, so :mod:`dlnlib` stays importable without Jupyter.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from . import figures as F
from .compare import orig_vs_comp, plot_curves
from .metrics import compression, fit_log_linear, layer_features, separation
from .networks import wide_dln
from .problems import Completion, Factorisation, Regression, bernoulli_mask, low_rank_target, sensing
from .theory import kwon_thm1, lop_rho
from .train import GD, DivergenceError, train

# ----------------------------------------------------------------------------------------------
# Law of Parsimony: singular values and angles of every layer, with ρ(t)
# ----------------------------------------------------------------------------------------------


@dataclass
class LoPDynamics:
    """``iterations (K,)``, ``layer_sv (K, L, d)``, ``angles (K, L, 2, d)`` (left/right, radians), ``rho (K,)``."""

    iterations: np.ndarray
    layer_sv: np.ndarray
    angles: np.ndarray
    rho: np.ndarray
    params: dict


@functools.lru_cache(maxsize=32)
def compute_lop(depth: int = 3, d: int = 30, r: int = 3, eps: float = 0.5, eta: float = 0.1,
                weight_decay: float = 0.0, iterations: int = 200, seed: int = 0) -> LoPDynamics:
    """GD on deep factorisation of a rank-``r`` ``d×d`` target (= whitened regression) from ε-orthogonal init."""
    params = dict(depth=depth, d=d, r=r, eps=eps, eta=eta, weight_decay=weight_decay, iterations=iterations, seed=seed)

    def run():
        Phi = low_rank_target(d, d, r, seed=seed, device="cpu")
        net = wide_dln([d] * (depth + 1), eps, seed=seed + 1, device="cpu")
        h = train(net, Factorisation(Phi), GD(eta, weight_decay), iterations, record_at=min(iterations + 1, 80),
                  record=("layer_sv", "angles"))
        rho = lop_rho(eps, eta, depth, iterations, weight_decay)[h.iterations]
        return LoPDynamics(h.iterations, h["layer_sv"], h["angles"], rho, params)

    return F.cached("explore-lop", params, run)


def plot_lop(res: LoPDynamics, layers=None):
    """Top row: singular values of each ``W_l(t)`` (ρ(t) dashed black). Bottom: angles ``∠(v_i(t), v_i(0))``."""
    import matplotlib.pyplot as plt

    L = res.layer_sv.shape[1]
    layers = list(range(L)) if layers is None else list(layers)
    fig, axes = plt.subplots(2, len(layers), figsize=(2.2 * len(layers), 3.6), squeeze=False, sharex=True)
    r = res.params["r"]
    for j, l in enumerate(layers):
        ax = axes[0, j]
        sv = res.layer_sv[:, l]
        d = sv.shape[1]
        for i in range(d):
            mid = r <= i < d - r
            ax.plot(res.iterations, sv[:, i], color="0.6" if mid else F.OKABE_ITO[i % 8], lw=0.8)
        ax.plot(res.iterations, res.rho, "k--", lw=1.2, label="ρ(t) recursion")
        ax.set_title(f"$W_{l + 1}$ singular values")
        ax = axes[1, j]
        ang = np.degrees(res.angles[:, l, 1])
        for i in range(ang.shape[1]):
            mid = r <= i < d - r
            ax.plot(res.iterations, ang[:, i], color="0.6" if mid else F.OKABE_ITO[i % 8], lw=0.8)
        ax.set_title(f"$\\angle(v_i(t), v_i(0))$, layer {l + 1}")
        ax.set_xlabel("iteration")
    axes[0, 0].legend()
    axes[1, 0].set_ylabel("degrees")
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
    if r_hat < r:
        raise ValueError(f"r_hat = {r_hat} is below the target rank r = {r}; C-DLN needs r <= r_hat <= d.")

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
        curves = orig_vs_comp(P, depth=3, eps=eps, eta=eta, alpha=alpha, r_hat=r_hat, iterations=iterations,
                              record_at=60, seed=seed + 2)
        theory = None
        if problem == "factorisation" and alpha == 1.0:
            sv = kwon_thm1(sig, r_hat, 3, eps, eta, iterations)[curves["comp"].iterations]
            pad = np.zeros((sv.shape[0], r))
            pad[:, :] = sv[:, :r]
            err = np.sqrt(((pad - sig) ** 2).sum(1) + (sv[:, r:] ** 2).sum(1)) / np.linalg.norm(sig)
            theory = (curves["comp"].iterations, err)
        return curves, theory

    return F.cached("explore-cdln", params, run)


def plot_cdln(result):
    """Recovery error against iteration and against time; Theorem 1's curve dotted where it applies."""
    import matplotlib.pyplot as plt

    curves, theory = result
    fig, axes = plt.subplots(1, 2, figsize=(6.8, 2.5))
    plot_curves(axes[0], curves, "recovery_error", "iteration", ylabel="relative recovery error")
    if theory is not None:
        axes[0].plot(*theory, ":", color=F.COLORS["theory"], label="Theorem 1")
    plot_curves(axes[1], curves, "recovery_error", "time", ylabel="relative recovery error")
    axes[0].legend()
    return fig


# ----------------------------------------------------------------------------------------------
# Wang et al.: feature compression D_l and separation S_l across layers
# ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def compute_collapse(depth: int = 6, eps: float = 0.5, init: str = "orthogonal", K: int = 5, n: int = 10,
                     eta: float = 1.0, iterations: int = 2000, seed: int = 0) -> dict:
    """Train a width-``nK`` DLN on near-orthonormal ``K``-class data (T12 setup, mean loss), return D_l, S_l per layer."""
    params = dict(depth=depth, eps=eps, init=init, K=K, n=n, eta=eta, iterations=iterations, seed=seed)

    def run():
        N = n * K
        g = torch.Generator().manual_seed(seed)
        X = torch.linalg.qr(torch.randn(N, N, generator=g, dtype=torch.float64))[0]
        labels = torch.arange(K).repeat_interleave(n)
        Y = torch.nn.functional.one_hot(labels, K).T.to(torch.float64)
        net = wide_dln([N] * depth + [K], eps, init, seed + 1, device="cpu")
        h = train(net, Regression(X, Y, "mean"), GD(eta), iterations, record_at=[iterations])
        Z = layer_features(h.net.weights, X)[:-1]
        D = [float(compression(z, labels, K)) for z in Z]
        S = [float(separation(z, labels, K)) for z in Z]
        slope, _, r2 = fit_log_linear(D[1:])
        return dict(D=np.array(D), S=np.array(S), slope=slope, r2=r2, loss=float(h.loss[-1]), params=params)

    return F.cached("explore-collapse", params, run)


def plot_collapse(res: dict):
    """``D_l`` (log scale, with the fitted line over layers 1..L−1) and ``S_l`` against layer ``l``."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(5.6, 2.3))
    l = np.arange(res["D"].size)
    axes[0].semilogy(l, res["D"], "o-", label="$D_l$")
    fit = np.exp(np.log(res["D"][1]) + res["slope"] * (l[1:] - 1))
    axes[0].semilogy(l[1:], fit, "k--", lw=1, label=f"fit: ratio {np.exp(res['slope']):.2f}/layer, $R^2$={res['r2']:.3f}")
    axes[0].set_xlabel("layer l")
    axes[0].legend()
    axes[1].plot(l, res["S"], "o-", color=F.COLORS["comp"])
    axes[1].set_xlabel("layer l")
    axes[1].set_ylabel("$S_l$ (un-centred)")
    return fig


# ----------------------------------------------------------------------------------------------
# Widgets
# ----------------------------------------------------------------------------------------------


def _guarded(compute, plot):
    """Run compute+plot; show the engine's message (not a traceback) for bad control combinations."""
    import matplotlib.pyplot as plt

    def f(**kw):
        try:
            with plt.style.context(str(F.STYLE)):
                fig = plot(compute(**kw))
        except (DivergenceError, ValueError) as e:
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
    """Law of Parsimony explorer: L, d, r, ε, η, λ, iterations."""
    import ipywidgets as W

    return W.interactive(_guarded(compute_lop, plot_lop), {"manual": True, "manual_name": "Train"},
                         depth=_slider("int", 3, 2, 6, desc="L"), d=_slider("int", 30, 8, 80, desc="d"),
                         r=_slider("int", 3, 1, 10, desc="r"), eps=_slider("log", 0.5, -2, 0, desc="ε"),
                         eta=_slider("log", 0.1, -3, 0, desc="η"),
                         weight_decay=_slider("float", 0.0, 0.0, 0.5, 0.01, desc="λ"),
                         iterations=_slider("int", 200, 10, 2000, 10, desc="iterations"), seed=W.fixed(0))


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
