"""Where the sources' dynamics claims hold: one point function per claim, to be mapped with :func:`dlnlib.sweep.sweep`.

Four claims our preset runs do not show (issue 14, items 1–2), each mapped over the one or two parameters that
decide it. A point function takes plain parameters and returns a small dict of numpy results (picklable, cached
per point by the sweep); the aggregation and the plots are separate pure functions.

- :func:`align_point` — [K] Figs 4/10, "the singular vectors align at the same times as the values grow": the
  ratios ``t_align_i / t_i`` (alignment ≥ 0.9 for good / ``σ_i`` reaching ½σ_i*) of a wide DLN on deep matrix
  factorisation with a geometric spectrum ``σ_i* = g^{−(i−1)}`` (spectral gap ``g = σ_i*/σ_{i+1}*``), against
  the init scale ``ε`` and ``g`` (runs: :func:`dlnlib.studies.kwon_incremental.run_incremental`, read by
  :func:`~dlnlib.studies.kwon_incremental.summary`).
- :func:`track_point` — talk T9, "with γ = 0.01 the compressed path stays within 0.1‖Φ‖_F of the wide net's":
  the path distance ``max_t min_s ‖W_wide(t) − W_comp(s)‖_F / ‖M*‖_F`` (:func:`dlnlib.metrics.polyline_distance`)
  for several ``γ`` at one ``ε`` (wide run: :func:`dlnlib.studies.lop_compressed.mc_trajectories`; bases:
  :func:`~dlnlib.studies.lop_compressed.gradient_basis` of the same init).
- :func:`separation_point` — Wang et al./talk T13, "S_l increases with depth": the fraction of layer steps
  ``l → l+1`` (``l = 1..L−2``) in which the un-centred and the centred ``S_l`` increase, for a trained linear net on
  a Gaussian mixture (:func:`mixture_data`) whose class means share an offset (cosine between un-centred class
  means ``c²/(1 + c²)`` for offset ``c``) and have within-class spread ``s`` (training
  :func:`dlnlib.studies.wang.train_mlp`, metrics :func:`~dlnlib.studies.wang.layer_metrics`).
- :func:`count_point` — [K] Fig. 1, "only a few (≤ 2K) singular values of ``W(t) − W(0)`` change": the count of
  singular values of the penultimate update above 10 % of the largest, for a ReLU MLP
  (:class:`dlnlib.nonlinear.models.DeepMLP`, trained by :func:`dlnlib.nonlinear.fit.fit`) on the synthetic
  Gaussian mixture :func:`dlnlib.nonlinear.datasets.gaussian_mixture` (always available), against width and
  training length.

:func:`dlnlib.sweep.fold` folds a sweep's results into an array over the grid's axes; :func:`plot_map` draws a map (a
heat map with a labelled colour bar, the region where the claim holds outlined, the source's setting marked).
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch

from .._util import check_int, check_real, make_generator
from ..batching import stack_nets
from ..metrics import count_above, polyline_distance
from ..networks import lop_compressed, wide_dln
from ..optim import GD, DivergenceError
from ..problems import Completion, Factorisation, exact_count_mask, low_rank_target, random_orthonormal
from ..problems import truncated_gaussian_target
from ..theory import learning_time, stability_bound
from ..train import train
from . import kwon_incremental as ki
from . import lop_compressed as LC
from . import wang

__all__ = ["geometric_spectrum", "align_point", "track_point", "mixture_data", "separation_point", "count_point", "RECIPES",
           "plot_map", "mark_setting"]


# ----------------------------------------------------------------------------------------------
# (a) [K] Figs 4/10: alignment time against fitting time
# ----------------------------------------------------------------------------------------------


def geometric_spectrum(r: int, gap: float) -> np.ndarray:
    """``σ_i* = gap^{−(i−1)}``, ``i = 1..r`` (``σ_1* = 1``, constant ratio ``σ_i*/σ_{i+1}* = gap``).

    >>> geometric_spectrum(3, 2.0).tolist()
    [1.0, 0.5, 0.25]
    """
    check_int("r", r, 1)
    check_real("gap", gap, low=1.0)
    return float(gap) ** -np.arange(r, dtype=np.float64)


def align_point(eps: float, gap: float, *, d: int = 20, r: int = 3, depth: int = 3, seeds: Sequence[int] = (0, 1, 2),
                step: float = 0.5, records: int = 200, level: float = 0.9, frac: float = 0.5,
                horizon: float = 2.0) -> dict[str, Any]:
    """Alignment-time ratios of a wide ``d×d`` DLN on deep MF with target spectrum :func:`geometric_spectrum`.

    One target per seed (``low_rank_target(d, d, r, σ*, seed=1000 + seed)``, Haar singular vectors) and an
    ε-orthogonal wide DLN of ``depth`` factors (``seed``), trained as one batch by GD on ``½‖W − M*‖_F²`` with step
    ``step·stability_bound(σ_1* = 1, depth)`` for ``horizon×`` the iterations C-DLN's recursion needs to reach 99 %
    of every ``σ_i*`` (:func:`dlnlib.theory.learning_time`), recorded at ``records`` evenly spaced iterations.

    Returns ``{"ratio": (S, r) t_align_i/t_i, "t_fit": (S, r), "t_align": (S, r), "iterations": T}``, ``S =
    len(seeds)``; ``t_i``: ``σ_i`` first reaches ``frac·σ_i*`` (interpolated), ``t_align_i``: from then on
    ``min(|⟨u_i,u_i*⟩|, |⟨v_i,v_i*⟩|) ≥ level`` (:func:`dlnlib.studies.kwon_incremental.summary`; ``inf`` if never).
    The claim "the vectors align at the same times as the values grow" is a ratio near 1.
    """
    check_real("eps", eps, low=0.0, low_open=True)
    s = geometric_spectrum(r, gap)
    check_int("d", d, r + 1)
    eta = step * stability_bound(1.0, depth)
    T = int(math.ceil(horizon * learning_time(s, r, depth, eps, eta, frac=0.99)))
    Ms = torch.stack([low_rank_target(d, d, r, s, seed=1000 + k) for k in seeds])
    net = stack_nets([wide_dln([d] * (depth + 1), eps, seed=k) for k in seeds])
    runs = ki.run_incremental(net, Factorisation(Ms, "sum"), eta, T, r=r, n_sv=r + 1, labels="wide DLN",
                              record_at=records)
    t_fit, t_al = [], []
    for run in runs:
        run.extra = {}
        summ = ki.summary(run, frac)
        t_fit.append(summ["t_fit"])
        t_al.append(ki.alignment_times(run, level))
    t_fit, t_al = np.array(t_fit), np.array(t_al)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = t_al / t_fit
    return {"ratio": ratio, "t_fit": t_fit, "t_align": t_al, "iterations": T}


# ----------------------------------------------------------------------------------------------
# (b) talk T9: does the compressed path (γ > 0) track the wide one?
# ----------------------------------------------------------------------------------------------


def track_point(eps: float, *, gammas: Sequence[float] = (0.001, 0.01, 0.1), d: int = 60, r: int = 2, p: float = 0.2,
                depth: int = 3, seed: int = 0, eta_talk: float = 5e-3, d_talk: int = 1000, tol: float = 1e-9,
                iter_base: int = 3000, iter_per_inv_eps: float = 30.0, records: int = 120) -> dict[str, Any]:
    """How far the LoP-compressed net's path strays from the wide net's on deep matrix completion (talk T9).

    Target ``truncated_gaussian_target(d, d, r, seed)``, ``exact_count_mask(d, d, p, seed + 1)``, mean loss; the
    talk's step (:func:`dlnlib.studies.lop_compressed.talk_step`) per observed entry, matched at ``p = 0.2``
    (``×0.2/p``). The wide net (ε-orthogonal, ``seed + 2``) runs through
    :func:`~dlnlib.studies.lop_compressed.mc_trajectories`; for each ``γ`` the compressed net
    (:func:`dlnlib.networks.lop_compressed`, bases :func:`~dlnlib.studies.lop_compressed.gradient_basis` of the same
    init, step ``γη`` on the bases) runs alike. Both stop at loss ``≤ tol`` or ``iter_base + iter_per_inv_eps/ε``
    iterations (the escape from the init takes ∝ 1/ε steps at depth 3), recorded at ``records`` iterations.

    Returns ``{"stray": (G,) max_t min_s ‖W_wide(t) − W_comp(s)‖_F/‖M*‖_F`` over the piecewise-linear paths
    (``nan``: the compressed run diverged), ``"final_error": (G,)`` its final ``‖W − M*‖_F/‖M*‖_F``,
    ``"wide_error"``, ``"wide_stop"`` (−1: not converged), ``"iterations"``.
    """
    check_real("eps", eps, low=0.0, low_open=True)
    check_real("p", p, low=0.0, high=1.0, low_open=True)
    M = truncated_gaussian_target(d, d, r, seed=seed)
    prob = Completion(M, exact_count_mask(d, d, p, seed=seed + 1), "mean")
    eta = LC.talk_step(eta_talk, d_talk, prob, depth) * 0.2 / p
    T = int(iter_base + round(iter_per_inv_eps / eps))
    every = max(T // records, 1)
    nan = np.full(len(gammas), np.nan)
    try:
        wide = LC.mc_trajectories(prob, depth, eps, eta, r, (), tol, tol, T, every, seed=seed + 2)["wide"]
    except DivergenceError:
        return {"stray": nan, "final_error": nan, "wide_error": np.nan, "wide_stop": -1, "iterations": T}
    basis = LC.gradient_basis(wide_dln([d] * (depth + 1), eps, seed=seed + 2).weights, prob, r)
    nM = float(torch.linalg.matrix_norm(M))
    e2e32 = lambda n, W, loss: W.to(torch.float32).clone()  # noqa: E731
    stray, final = nan.copy(), nan.copy()
    for j, g in enumerate(gammas):
        try:
            h = train(lop_compressed(basis, depth, eps, g), prob, GD(eta), T, record_at=list(range(0, T + 1, every)),
                      record=("recovery_error",), recorders={"e2e": e2e32}, tol=tol, check_every=every)
        except DivergenceError:
            continue
        stray[j] = polyline_distance(wide.e2e, h["e2e"]) / nM
        final[j] = float(h["recovery_error"][-1])
    return {"stray": stray, "final_error": final, "wide_error": float(wide.rel_error[-1]),
            "wide_stop": int(wide.stop), "iterations": T}


# ----------------------------------------------------------------------------------------------
# (c) Wang et al.: does S_l increase with depth? Class geometry of a Gaussian mixture
# ----------------------------------------------------------------------------------------------


def mixture_data(K: int, n: int, d: int, offset: float, spread: float, seed: int = 0) -> wang.ClassData:
    """``K`` balanced classes of ``n`` samples in ``R^d``: ``x = (c·μ_0 + e_k + s·z/√d)/√(1 + c² + s²)``.

    ``μ_0, e_1..e_K`` orthonormal (Haar), ``z ~ N(0, I_d)``; ``c = offset`` (a mean shared by all classes),
    ``s = spread`` (within-class). The un-centred class means then have pairwise cosine ``c²/(1 + c²)`` (plus
    noise), so their un-centred separation is ``S_0 ≈ 1/(1 + c²)``; the centred class means do not see ``c``.
    Columns are scaled to mean squared norm ≈ 1 (the step of :func:`separation_point` is then comparable).

    >>> D = mixture_data(3, 4, 24, offset=0.0, spread=0.0)
    >>> tuple(D.X.shape), round(float((D.X[:, 0] @ D.X[:, 4]).abs()), 12)
    ((24, 12), 0.0)
    """
    check_int("K", K, 2)
    check_int("n", n, 1)
    check_int("d", d, K + 1)
    check_real("offset", offset, low=0.0)
    check_real("spread", spread, low=0.0)
    g = make_generator(seed)
    Q = random_orthonormal(d, K + 1, g)
    labels = torch.arange(K).repeat_interleave(n)
    X = offset * Q[:, :1] + Q[:, 1:][:, labels] + spread * torch.randn(d, K * n, generator=g,
                                                                       dtype=torch.float64) / math.sqrt(d)
    X = X / math.sqrt(1 + offset**2 + spread**2)
    Y = torch.nn.functional.one_hot(labels, K).T.to(X.dtype)
    return wang.ClassData(X, Y, labels, K, n)


def separation_point(offset: float, spread: float, *, K: int = 4, n: int = 8, depth: int = 6, eps: float = 0.5,
                     eta: float = 10.0, d_factor: int = 2, seed: int = 0, max_its: int = 4000,
                     tol: float = 1e-5, kind: str = "mixture") -> dict[str, Any]:
    """Un-centred and centred ``S_l`` of a trained linear ``depth``-layer net on :func:`mixture_data`
    (``kind="mixture"``) or on Wang et al.'s orthonormal samples (``kind="orthonormal"``:
    :func:`dlnlib.studies.wang.class_data`, ``θ = 0``; ``offset`` and ``spread`` must then be 0).

    Data ``d = d_factor·K·n`` (full column rank, so the net can interpolate); factors ``[d]*depth + [K]`` at scale
    ``eps`` (:func:`dlnlib.studies.wang.mlp_init`, ``seed + 1``); GD with step ``eta/max(1, ‖X‖_2²)`` (the
    shared offset adds a large singular value) on ``½·mean((f(X) − Y)²)`` until loss ``≤ tol`` or ``max_its``.

    Returns ``{"S": (L+1,), "S_centred": (L+1,), "up": fraction of l = 1..L−2 with S_{l+1} > S_l (un-centred),
    "up_centred": same for the centred S, "loss": final, "stop": first iteration at tol (−1: never)}``.
    """
    if kind == "mixture":
        data = mixture_data(K, n, d_factor * K * n, offset, spread, seed)
    elif kind == "orthonormal":
        if offset != 0 or spread != 0:
            raise ValueError(f"kind='orthonormal' has no offset or spread; got offset={offset!r}, spread={spread!r} "
                             "(pass 0 for both).")
        data = wang.class_data(K, n, d_factor * K * n, seed=seed, kind="orthogonal")
    else:
        raise ValueError(f"kind must be 'mixture' or 'orthonormal', got {kind!r}.")
    W0 = wang.mlp_init([data.X.shape[0]] * depth + [K], eps, seed=seed + 1)
    s1 = float(torch.linalg.matrix_norm(data.X, 2)) ** 2
    res = wang.train_mlp(W0, data.X, data.Y, eta / max(1.0, s1), max_its, tol=tol, record_every=max_its)
    m = wang.layer_metrics(res.weights, data)
    up = lambda S: float((np.diff(S[1:depth]) > 0).mean())  # noqa: E731 - the steps l → l+1 of notebook 06
    return {"S": m.S, "S_centred": m.S_centred, "up": up(m.S), "up_centred": up(m.S_centred),
            "loss": float(res.loss[-1]), "stop": int(res.stop)}


# ----------------------------------------------------------------------------------------------
# (d) [K] Fig. 1: how many singular values of the penultimate update change?
# ----------------------------------------------------------------------------------------------


#: Optimiser recipes of [K] Fig. 1 (App. A.4) for :func:`count_point`: the MNIST MLP's plain SGD, the VGG's SGD with
#: momentum, weight decay and cosine annealing, the ViT's Adam with cosine annealing; ``lr`` is the default step
#: (the SGD steps are 5× [K]'s 0.01 so that short runs on the mixture learn).
RECIPES: dict[str, dict] = {
    "sgd": dict(optimizer="sgd", lr=0.05),
    "sgd-momentum-wd": dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, cosine=True),
    "adam": dict(optimizer="adam", lr=1e-3, cosine=True),
}


def count_point(width: int, iterations: int, *, n_classes: int = 10, d: int = 100, n_train: int = 2000,
                separation: float = 3.0, depth: int = 4, lr: float | None = None, batch_size: int = 128, seed: int = 0,
                level: float = 0.1, recipe: str = "sgd") -> dict[str, Any]:
    """[K] Fig. 1's count for a ReLU MLP (:class:`dlnlib.nonlinear.models.DeepMLP`, ``depth`` layers of ``width``)
    trained with the optimiser ``recipe`` of :data:`RECIPES` (step ``lr``, default the recipe's; ``batch_size``, ``iterations`` steps,
    cross-entropy; :func:`dlnlib.nonlinear.fit.fit`)
    on :func:`dlnlib.nonlinear.datasets.gaussian_mixture` (``n_classes`` classes in ``R^d``, means of norm
    ``separation``).

    Returns ``{"count": #σ_j(W(T) − W(0)) > level·σ_1 of the penultimate matrix, "sv": (n,) those singular
    values, "top_share": share of ‖W(T) − W(0)‖_F² in the top n_classes, "acc": test accuracy (%), "seconds"}``.
    """
    from ..nonlinear.datasets import gaussian_mixture
    from ..nonlinear.fit import fit
    from ..nonlinear.models import DeepMLP

    check_int("width", width, 1)
    check_int("iterations", iterations, 1)
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {sorted(RECIPES)}, got {recipe!r}.")
    data = gaussian_mixture(n_classes, d, n_train, 500, separation, seed=seed)
    data = type(data)(data.name, data.X_train.double(), data.y_train, data.X_test.double(), data.y_test,
                      data.n_classes)
    model = DeepMLP(d, n_classes, width=width, depth=depth, seed=seed).double()
    t0 = time.perf_counter()
    kw = dict(RECIPES[recipe])
    kw["lr"] = kw["lr"] if lr is None else lr
    res = fit(model, data, iterations=iterations, batch_size=batch_size, record_every=iterations, sv_every=iterations,
              dist_every=None, n_sv=width, seed=seed, device="cpu", **kw)
    sv = np.asarray(res.update_sv[-1], dtype=np.float64)
    share = float((sv[:n_classes] ** 2).sum() / max((sv**2).sum(), 1e-300))
    return {"count": count_above(sv, level * sv[0]), "sv": sv, "top_share": share, "acc": float(res.final_acc),
            "seconds": time.perf_counter() - t0}


# ----------------------------------------------------------------------------------------------
# Folding sweeps into arrays, and drawing maps
# ----------------------------------------------------------------------------------------------


def plot_map(ax, x: Sequence[float], y: Sequence[float], Z: np.ndarray, *, xlabel: str, ylabel: str, cbar_label: str,
             holds: np.ndarray | None = None, logx: bool = False, logy: bool = False, cmap: str = "viridis",
             vmin: float | None = None, vmax: float | None = None, fmt: str = "{:.2f}") -> Any:
    """A map ``Z (len(y), len(x))`` on the grid ``x × y`` as equally sized cells (categorical axes labelled with the
    grid values, ``log`` only changes the tick text), each cell annotated with its value; cells where ``holds`` is
    true are outlined in black (the region where the claim holds). Returns the colour bar (labelled ``cbar_label``).
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.shape != (len(y), len(x)):
        raise ValueError(f"Z has shape {Z.shape}, expected (len(y), len(x)) = {(len(y), len(x))}.")
    im = ax.imshow(np.ma.masked_invalid(Z), origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    for i in range(len(y)):
        for j in range(len(x)):
            z = Z[i, j]
            txt = "n/a" if not np.isfinite(z) else fmt.format(z)
            rgb = np.asarray(im.cmap(im.norm(z)))[:3] if np.isfinite(z) else np.ones(3)
            dark = float(rgb @ np.array([0.299, 0.587, 0.114])) < 0.5  # the cell's luminance decides the text colour
            ax.text(j, i, txt, ha="center", va="center", fontsize=6, color="w" if dark else "k")
            if holds is not None and bool(np.asarray(holds)[i, j]):
                ax.add_patch(_cell(j, i))
    tick = (lambda v: f"{v:g}")
    ax.set_xticks(range(len(x)), [tick(v) for v in x])
    ax.set_yticks(range(len(y)), [tick(v) for v in y])
    ax.set_xlabel(xlabel + (" (log-spaced)" if logx else ""))
    ax.set_ylabel(ylabel + (" (log-spaced)" if logy else ""))
    cb = ax.figure.colorbar(im, ax=ax)
    cb.set_label(cbar_label)
    return cb


def _cell(j: float, i: float):
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.48, i - 0.48), 0.96, 0.96, fill=False, lw=1.2, ec="k")


def mark_setting(ax, x: Sequence[float], y: Sequence[float], x0: float, y0: float, label: str) -> None:
    """Mark the source's setting ``(x0, y0)`` on a :func:`plot_map`: a dashed red box of one cell's size centred at its
    position in cell coordinates (interpolated in log space between grid values, clipped to the grid's edge cells
    when the setting lies outside the grid — say so in ``label``), with a legend entry ``label``. Zero grid
    values and settings are placed as the smallest positive ones."""
    from matplotlib.patches import Rectangle

    def pos(vals, v):
        vals = np.asarray(vals, dtype=np.float64)
        pos_min = vals[vals > 0].min() if (vals > 0).any() else 1.0
        lv = np.log(np.where(vals > 0, vals, pos_min * 1e-3))
        order = np.argsort(lv)
        return float(np.interp(math.log(v if v > 0 else pos_min * 1e-3), lv[order], np.arange(len(vals))[order]))

    ax.add_patch(Rectangle((pos(x, x0) - 0.5, pos(y, y0) - 0.5), 1.0, 1.0, fill=False, lw=1.8, ls="--", ec="#D55E00",
                           label=label))
