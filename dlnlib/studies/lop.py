"""The Law of Parsimony study (conventions §2): invariant blocks, ρ(t), the width-2r̂ compressed net, SVD evolution.

The theorem says that, for whitened regression (equivalently deep MF with target ``Φ = YXᵀ``) trained by GD
from an ε-orthogonal init, every factor acts on a fixed ``m``-dimensional block as ``ρ(t)·`` a fixed isometry:
``W_l(t) V_{l,2} = ρ(t) U_{l,2}`` and ``W_l(t)ᵀ U_{l,2} = ρ(t) V_{l,2}`` (bases from :func:`dlnlib.networks.lop_basis`).

Recording and comparing are separate so a check can be fed any recursion (a perturbed one in the tests):

- :func:`record_lop` trains a wide DLN and records, per recorded ``t`` and layer ``l``, the block's projection
  coefficient ``ρ̂_l(t) = tr(U_{l,2}ᵀ W_l V_{l,2})/m``, the leakage ``‖W_l V_{l,2} − ρ̂ U_{l,2}‖_F`` (and of
  ``W_lᵀ``), and all singular values;
- :func:`block_error` and :func:`sv_error` compare a record with a given ``ρ(t)`` array (plain GD:
  :func:`dlnlib.theory.lop_rho`; heavy ball: :func:`dlnlib.theory.lop_rho_momentum`);
- :func:`record_compressed` / :func:`compressed_error`: the wide net against the width-``2r̂`` compressed net;
- :func:`svd_evolution` and the plots :func:`plot_svd3d`, :func:`plot_svd_lines` (talk-t04/t05/t06, the explorer).

Because ``W V₂ − ρ̂ U₂`` is orthogonal (trace inner product) to ``U₂``, ``‖W V₂ − ρU₂‖_F² = leak² + m(ρ̂ − ρ)²``
exactly, so :func:`block_error` needs no cancellation-prone subtraction of large numbers.

Numerical floor. Every entry of ``W_l V_{l,2}`` is formed from ``W_l`` (size ``‖W_l‖``) and rounding adds
``≈ u·‖W_l‖`` (``u = 1.1e-16``), as does each GD update; relative to ``ρ`` the floor is ``≈ u‖W_l‖/ρ·(small
growth with t)``. SVD-computed singular values have backward error ``≈ u‖W_l‖₂`` absolute (Weyl), so the
relative accuracy of a singular value ``ρ`` is ``≈ u‖W_l‖₂/ρ``; :func:`sv_floor` returns that bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .._util import Tensor, default_device, make_generator
from ..metrics import max_principal_angle, vector_angles
from ..networks import DLN, LoPBasis, lop_basis, lop_compressed, wide_dln
from ..problems import Factorisation, Problem, Regression, low_rank_target, whiten
from ..report.style import OKABE_ITO
from ..optim import GD
from ..train import train

U_ROUND = float(np.finfo(np.float64).eps) / 2  # unit roundoff of float64


# ----------------------------------------------------------------------------------------------
# Problems
# ----------------------------------------------------------------------------------------------


def lop_problem(d: int, r: int, seed: int, *, case: int = 1, sigma: Sequence[float] | None = None,
                N: int | None = None, normalisation: str = "sum") -> tuple[Problem, Tensor]:
    """A problem meeting the theorem's assumptions and its ``Φ = YXᵀ``.

    Case 1: ``Φ (d, d)`` of rank ``r``; Case 2: ``Φ (r, d)`` with ``d_y = r < d``. ``sigma``: the ``r`` singular
    values of ``Φ`` (default ``r, …, 1``). ``N=None``: the MF form ``½‖W − Φ‖²``; ``N >= d``: whitened regression
    with Gaussian ``X (d, N)`` whitened by :func:`dlnlib.problems.whiten` and ``Y = Φ X_w``; the returned ``Φ``
    is then ``Y X_wᵀ`` (equal to the chosen ``Φ`` up to rounding).

    >>> P, Phi = lop_problem(6, 2, 0, case=2, N=10)
    >>> tuple(Phi.shape), P.shape
    ((2, 6), (2, 6))
    """
    d_y = d if case == 1 else r
    if case not in (1, 2):
        raise ValueError("case must be 1 (square rank-r Φ) or 2 (wide Φ with d_y = r).")
    Phi = low_rank_target(d_y, d, r, sigma, seed=seed)
    if N is None:
        return Factorisation(Phi, normalisation), Phi
    g = make_generator(seed + 7919)
    X = torch.randn(d, N, generator=g, dtype=Phi.dtype).to(Phi.device)
    Xw, _ = whiten(X)
    Y = Phi @ Xw
    P = Regression(Xw, Y, normalisation)
    return P, P.surrogate()


def gaussian_regression(d_x: int, d_y: int, N: int, seed: int, *, whitened: bool = False,
                        normalisation: str = "mean") -> Regression:
    """The talk's T5 data: ``X (d_x, N)`` and ``Y (d_y, N)`` i.i.d. standard Gaussian, ``X`` optionally whitened."""
    g = make_generator(seed)
    X = torch.randn(d_x, N, generator=g, dtype=torch.float64)
    Y = torch.randn(d_y, N, generator=g, dtype=torch.float64)
    if whitened:
        X, _ = whiten(X)
    dev = default_device()
    return Regression(X.to(dev), Y.to(dev), normalisation)


# ----------------------------------------------------------------------------------------------
# Recording the invariant block during training
# ----------------------------------------------------------------------------------------------


@dataclass
class LoPRecord:
    """What :func:`record_lop` measured.

    ``iterations (K,)``; ``rho_hat (K, L)`` ``tr(U_{l,2}ᵀ W_l V_{l,2})/m``; ``leak (K, L)`` ``max(‖W_l V₂ − ρ̂U₂‖_F,
    ‖W_lᵀU₂ − ρ̂V₂‖_F)`` (absolute); ``sv (K, L, n)`` singular values of each factor (descending, NaN-padded);
    ``loss (K,)``; ``m`` the block dimension; ``case``; ``zero_block (K,)`` Case 2 only: ``‖W_L V_{L,2}‖_F/‖W_L‖_F``
    (the theorem: 0); ``end_to_end (K, d_L, d_0)`` when kept.
    """

    iterations: np.ndarray
    rho_hat: np.ndarray
    leak: np.ndarray
    sv: np.ndarray
    loss: np.ndarray
    m: int
    case: int
    zero_block: np.ndarray | None = None
    end_to_end: np.ndarray | None = None

    @property
    def rho_layers(self) -> int:
        """Number of factors carrying ρ: ``L`` (Case 1) or ``L − 1`` (Case 2)."""
        return self.rho_hat.shape[1] if self.case == 1 else self.rho_hat.shape[1] - 1


def _block_recorder(basis: LoPBasis):
    m = basis.m

    def f(net: DLN, W, loss):
        out = []
        for l, Wl in enumerate(net.weights, start=1):
            V2, U2 = basis.V2(l), basis.U2[l - 1]
            WV = Wl @ V2
            WtU = Wl.transpose(-1, -2) @ U2
            rh = (U2 * WV).sum() / m
            leak = torch.maximum(torch.linalg.matrix_norm(WV - rh * U2), torch.linalg.matrix_norm(WtU - rh * V2))
            out.append(torch.stack([rh, leak, torch.linalg.matrix_norm(WV) / torch.linalg.matrix_norm(Wl)]))
        return torch.stack(out)
    return f


def record_lop(problem: Problem, widths: Sequence[int], eps: float, eta: float, T: int, *, seed: int = 0,
               weight_decay: float = 0.0, momentum: float = 0.0, record_at=40, r_hat: int | None = None,
               keep_end_to_end: bool = False) -> tuple[LoPRecord, LoPBasis]:
    """Train the wide DLN (ε-orthogonal init, ``widths = [d, …, d, d_y]``) with GD and record the invariant block.

    The bases come from :func:`dlnlib.networks.lop_basis` at ``t = 0`` with ``Φ = problem.surrogate()``
    (``r_hat`` cuts the block to ``d − 2r̂``). ``eta`` is the step on the problem's loss normalisation.
    Case 2 is detected from ``d_y < d``: the last factor is then recorded as ``zero_block`` instead.
    """
    net = wide_dln(list(widths), eps, seed=seed)
    Phi = problem.surrogate()
    basis = lop_basis(net.weights, Phi, r_hat)
    case = 1 if widths[-1] == widths[0] else 2
    recs = {"block": _block_recorder(basis)}
    if keep_end_to_end:
        recs["e2e"] = lambda n, W, loss: W.clone()
    h = train(net, problem, GD(eta, weight_decay=weight_decay, momentum=momentum), T, record_at=record_at,
              record=("loss", "layer_sv"), recorders=recs)
    b = h["block"]
    return LoPRecord(h.iterations, b[..., 0], b[..., 1], h["layer_sv"], h.loss, basis.m, case,
                     b[:, -1, 2] if case == 2 else None, h["e2e"] if keep_end_to_end else None), basis


def _aligned(rec_iterations: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """``ρ`` given for ``t = 0..T`` (``T`` ≥ the last recorded iteration), read at the recorded iterations."""
    rho = np.asarray(rho, dtype=np.float64)
    if rho.ndim != 1 or rho.shape[0] <= rec_iterations.max():
        raise ValueError(f"rho must list ρ(t) for t = 0..T with T >= {rec_iterations.max()}, got shape {rho.shape}.")
    return rho[rec_iterations]


def block_error(rec: LoPRecord, rho: np.ndarray) -> np.ndarray:
    """``max(‖W_l V₂ − ρU₂‖_F, ‖W_lᵀU₂ − ρV₂‖_F)/(ρ√m)`` per recorded ``t`` and ρ-carrying layer: ``(K, L')``.

    ``rho``: the predicted ``ρ(t)`` for ``t = 0..T`` (e.g. :func:`dlnlib.theory.lop_rho`).
    """
    p = _aligned(rec.iterations, rho)[:, None]
    k = rec.rho_layers
    rh, lk = rec.rho_hat[:, :k], rec.leak[:, :k]
    return np.sqrt(lk**2 + rec.m * (rh - p) ** 2) / (np.abs(p) * np.sqrt(rec.m))


def sv_error(rec: LoPRecord, rho: np.ndarray) -> np.ndarray:
    """For each ``t`` and ρ-carrying layer, the ``m``-th smallest ``|σ_i(W_l) − |ρ||/|ρ|``: ``(K, L')``.

    It is ≤ τ iff at least ``m`` singular values lie within relative distance τ of ``|ρ(t)|`` (ρ may change sign,
    e.g. with momentum overshoot; the block then carries ``ρ`` times the isometry and singular values ``|ρ|``).
    """
    p = np.abs(_aligned(rec.iterations, rho))[:, None, None]
    k = rec.rho_layers
    s = rec.sv[:, :k, :]
    dev = np.abs(s - p) / p
    dev = np.where(np.isnan(dev), np.inf, dev)
    return np.sort(dev, axis=-1)[..., rec.m - 1]


def sv_floor(rec: LoPRecord, rho: np.ndarray) -> float:
    """The a-priori accuracy of SVD-computed singular values equal to ρ: ``max_t,l n·u·‖W_l‖₂/ρ``."""
    p = _aligned(rec.iterations, rho)[:, None]
    k = rec.rho_layers
    n = rec.sv.shape[-1]
    return float(np.max(n * U_ROUND * np.nanmax(rec.sv[:, :k, :], axis=-1) / np.abs(p)))


def rho_positions(rec: LoPRecord, rho: np.ndarray, tol: float = 1e-8) -> tuple[int, int]:
    """Smallest and largest 0-based descending index of a singular value within ``tol`` of ρ (over all t>0, l)."""
    p = np.abs(_aligned(rec.iterations, rho))[:, None, None]
    k = rec.rho_layers
    hit = np.abs(rec.sv[1:, :k, :] - p[1:]) <= tol * p[1:]
    idx = np.nonzero(hit.any(axis=(0, 1)))[0]
    return (int(idx.min()), int(idx.max())) if idx.size else (-1, -1)


# ----------------------------------------------------------------------------------------------
# The width-2r̂ compressed network of conventions §2.5
# ----------------------------------------------------------------------------------------------


@dataclass
class CompressedRecord:
    """Wide versus compressed end-to-end matrices.

    ``iterations (K,)``; ``diff (K, d_L, d_0)`` = ``W_{L:1}^{wide}(t) − W_comp(t)``; ``outer (d_L, d_0)`` =
    ``U_{L,2}V_{1,2}ᵀ``; ``phi_norm`` ``‖Φ‖_F``; ``m``; ``depth``; losses of both; parameter counts.
    """

    iterations: np.ndarray
    diff: np.ndarray
    outer: np.ndarray
    phi_norm: float
    m: int
    depth: int
    loss_wide: np.ndarray
    loss_comp: np.ndarray
    params_wide: int
    params_comp: int


def record_compressed(Phi: Tensor, depth: int, eps: float, eta: float, T: int, *, r_hat: int | None = None,
                      seed: int = 0, weight_decay: float = 0.0, record_at=30,
                      normalisation: str = "sum") -> CompressedRecord:
    """Train the wide ``d×d`` DLN and the §2.5 compressed net (frozen outer factors, width ``2r̂``) on MF of ``Φ``."""
    d_out, d = Phi.shape
    problem = Factorisation(Phi, normalisation)
    wide = wide_dln([d] * depth + [d_out], eps, seed=seed)
    basis = lop_basis(wide.weights, Phi, r_hat)
    comp = lop_compressed(basis, depth, eps, gamma=0.0)
    opt = lambda: GD(eta, weight_decay=weight_decay)
    hw = train(wide, problem, opt(), T, record_at=record_at, recorders={"e2e": lambda n, W, l: W.clone()})
    hc = train(comp, problem, opt(), T, record_at=record_at, recorders={"e2e": lambda n, W, l: W.clone()})
    outer = (basis.U2[-1] @ basis.V12.T).cpu().numpy()
    k = basis.V11.shape[1]
    return CompressedRecord(hw.iterations, hw["e2e"] - hc["e2e"], outer, float(torch.linalg.matrix_norm(Phi)),
                            basis.m, depth, hw.loss, hc.loss, wide.n_params, depth * k * k)


def compressed_error(rec: CompressedRecord, rho: np.ndarray, relative_to: str = "phi") -> np.ndarray:
    """``‖W^{wide}_{L:1}(t) − W_comp(t) − ρ(t)^L U_{L,2}V_{1,2}ᵀ‖_F`` divided by ``‖Φ‖_F`` (``relative_to="phi"``)
    or by the correction's own size ``√m ρ(t)^L`` (``"rho"``): ``(K,)``."""
    p = _aligned(rec.iterations, rho)
    R = rec.diff - (p**rec.depth)[:, None, None] * rec.outer[None]
    e = np.sqrt((R**2).sum((-2, -1)))
    return e / (rec.phi_norm if relative_to == "phi" else np.sqrt(rec.m) * np.abs(p) ** rec.depth)


def theorem_point(case: int, N: int | None, d: int, r: int, L: int, eps: float, eta: float, lam: float, T: int,
                  sigma: Sequence[float], seed: int, record_at=40, mu: float = 0.0) -> LoPRecord:
    """One run of the theorem's check: :func:`lop_problem` (``d``, rank ``r`` with singular values ``sigma``, Case
    ``case``, ``N``, ``seed``) and :func:`record_lop` of the wide DLN ``[d]·L + [d_y]`` (init seed ``seed + 1``),
    GD with step ``eta``, weight decay ``lam`` and heavy ball ``mu`` for ``T`` steps; one point of notebook 02's
    sweeps."""
    problem, Phi = lop_problem(d, r, seed, case=case, sigma=sigma, N=N)
    rec, _ = record_lop(problem, [d] * L + [Phi.shape[0]], eps, eta, T, seed=seed + 1, weight_decay=lam,
                        momentum=mu, record_at=record_at)
    return rec


def compressed_point(d: int, r: int, r_hat: int | None, L: int, eps: float, eta: float, lam: float, T: int,
                     sigma: Sequence[float], seed: int, record_at=30) -> CompressedRecord:
    """:func:`record_compressed` on MF of a rank-``r`` target ``Φ (d, d)`` with singular values ``sigma``
    (:func:`dlnlib.problems.low_rank_target`, ``seed``; init seed ``seed + 1``), weight decay ``lam``; one point of
    notebook 02's sweep."""
    Phi = low_rank_target(d, d, r, sigma, seed=seed)
    return record_compressed(Phi, L, eps, eta, T, r_hat=r_hat, seed=seed + 1, weight_decay=lam, record_at=record_at)


# ----------------------------------------------------------------------------------------------
# SVD evolution of one factor (talk T4–T6)
# ----------------------------------------------------------------------------------------------


@dataclass
class SVDEvolution:
    """Singular values and vector angles of one factor over training.

    ``iterations (K,)``; ``sv (K, n)``; ``right``/``left`` ``(K, 2k + 1)`` angles (radians) against the reference
    iterate: columns ``0..k−1`` the top-``k`` vectors (per index), column ``k`` the largest principal angle of
    the middle block (indices ``k..n−k−1``), columns ``k+1..2k`` the bottom ``k`` (per index); ``ref`` index.
    Rows before ``ref`` are NaN (the init's SVD basis is arbitrary).
    """

    iterations: np.ndarray
    sv: np.ndarray
    right: np.ndarray
    left: np.ndarray
    k: int
    ref: int


def svd_evolution(iterations: np.ndarray, snapshots: np.ndarray, k: int, ref: int = 1, *,
                  mid_value: float | None = None, mid_right: np.ndarray | None = None,
                  mid_left: np.ndarray | None = None) -> SVDEvolution:
    """Angles of the SVD of ``snapshots (K, p, n)`` (one factor over time) against snapshot ``ref``.

    The ε-orthogonal init has all singular values equal (its SVD basis is arbitrary), so the reference is the
    first iterate after 0 by default (``ref = 1``); the middle block is compared as a subspace.

    By default the middle block is indices ``k..q−k−1`` and is compared with the same block at ``ref``. Where the
    structure is not exact (non-whitened data) that is ambiguous (an index can change block), so one may give
    ``mid_value`` (the middle block = the ``q − 2k`` singular vectors whose singular values are nearest to it) and
    fixed references ``mid_right (n, q−2k)`` / ``mid_left (p, q−2k)``, e.g. the theorem's ``V_{1,2}``, ``U_{1,2}``.
    """
    K, p, n = snapshots.shape
    q = min(p, n)
    U0, _, Vh0 = np.linalg.svd(snapshots[ref], full_matrices=False)
    V0 = Vh0.T
    sv = np.empty((K, q))
    right = np.empty((K, 2 * k + 1))
    left = np.empty((K, 2 * k + 1))
    top, bot = slice(0, k), slice(q - k, q)
    mid_idx = np.arange(k, q - k)
    ref_mid = {"right": V0[:, mid_idx] if mid_right is None else mid_right,
               "left": U0[:, mid_idx] if mid_left is None else mid_left}
    for i in range(K):
        U, s, Vh = np.linalg.svd(snapshots[i], full_matrices=False)
        V = Vh.T
        sv[i] = s
        mid = mid_idx if mid_value is None else np.sort(np.argsort(np.abs(s - mid_value))[:q - 2 * k])
        for out, A, A0, side in ((right, V, V0, "right"), (left, U, U0, "left")):
            out[i, :k] = vector_angles(A[:, top], A0[:, top])
            out[i, k] = max_principal_angle(ref_mid[side], A[:, mid])
            out[i, k + 1:] = vector_angles(A[:, bot], A0[:, bot])
    right[:ref] = np.nan
    left[:ref] = np.nan
    return SVDEvolution(np.asarray(iterations), sv, right, left, k, ref)


def record_snapshots(problem: Problem, widths: Sequence[int], eps: float, eta: float, T: int, *, seed: int = 0,
                     momentum: float = 0.0, weight_decay: float = 0.0, record_at=50, layers=(1,)) -> dict:
    """Train the wide DLN and keep the factors ``layers`` (1-based) at the recorded iterations.

    Returns ``{"iterations", "loss", "W": {l: (K, d_l, d_{l−1})}, "basis": LoPBasis or None}``.
    """
    net = wide_dln(list(widths), eps, seed=seed)
    try:
        basis = lop_basis(net.weights, problem.surrogate())
    except ValueError:
        basis = None
    recs = {f"W{l}": (lambda l: (lambda n, W, loss: n.weights[l - 1].clone()))(l) for l in layers}
    h = train(net, problem, GD(eta, weight_decay=weight_decay, momentum=momentum), T, record_at=record_at,
              recorders=recs)
    return {"iterations": h.iterations, "loss": h.loss, "W": {l: h[f"W{l}"] for l in layers}, "basis": basis}


def snapshot_block_error(snapshots: np.ndarray, V2: np.ndarray, U2: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """``‖W(t)V₂ − ρ(t)U₂‖_F/(|ρ(t)|√m)`` for factor snapshots ``(K, p, n)``, bases ``V₂ (n, m)``, ``U₂ (p, m)`` and
    ``rho (K,)`` at the snapshots' iterations — the theorem's block statement measured directly (e.g. where it
    only holds approximately)."""
    R = snapshots @ V2[None] - rho[:, None, None] * U2[None]
    return np.sqrt((R**2).sum((-2, -1))) / (np.abs(rho) * np.sqrt(V2.shape[1]))


def cluster_basis(W: np.ndarray, value: float, m: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Right ``(n, m)`` and left ``(p, m)`` singular vectors of ``W`` for the ``m`` singular values nearest ``value``,
    and the relative gap ``|σ_(m+1) − value|/value`` of the next one (the subspace is well defined when it is ≫ u)."""
    U, s, Vh = np.linalg.svd(W, full_matrices=False)
    order = np.argsort(np.abs(s - value))
    idx = np.sort(order[:m])
    gap = float(np.abs(s[order[m]] - value) / abs(value)) if m < s.size else np.inf
    return Vh[idx].T, U[:, idx], gap


# ----------------------------------------------------------------------------------------------
# Plotting (the committed talk-t04/t05/t06 figures and the explorer draw through these)
# ----------------------------------------------------------------------------------------------


def _index_colors(n: int, k: int) -> list:
    """Top ``k`` blue, bottom ``k`` orange, the middle block grey (Okabe–Ito)."""
    return [OKABE_ITO[0] if i < k else (OKABE_ITO[1] if i >= n - k else "0.5") for i in range(n)]


def expand_angles(ev: SVDEvolution, side: str = "right") -> np.ndarray:
    """Per-index angles ``(K, n)`` (radians): the middle block's principal angle repeated over its ``n − 2k``
    indices (per-index angles there are meaningless: the block's singular values are equal)."""
    A = ev.right if side == "right" else ev.left
    k, n = ev.k, ev.sv.shape[1]
    return np.concatenate([A[:, :k], np.repeat(A[:, k:k + 1], n - 2 * k, 1), A[:, k + 1:]], 1)


def svd_color_key(n: int, k: int, middle: str = "invariant block") -> list:
    """Legend handles for the index colours of :func:`plot_svd3d` and :func:`plot_svd_lines` (``n`` indices, top and
    bottom ``k``): put them in a legend, e.g. ``fig.legend(handles=svd_color_key(30, 3), loc="outside lower center")``.

    >>> [h.get_label() for h in svd_color_key(30, 3)][1:]
    ['middle 24 (invariant block)', 'bottom 3 ($i > 27$)']
    """
    from matplotlib.lines import Line2D

    cols = _index_colors(n, k)
    return [Line2D([], [], color=cols[0], lw=1.5, label=f"top {k} ($i \\leq {k}$)"),
            Line2D([], [], color=cols[k], lw=1.5, label=f"middle {n - 2 * k} ({middle})"),
            Line2D([], [], color=cols[-1], lw=1.5, label=f"bottom {k} ($i > {n - k}$)")]


def plot_svd3d(fig, spec, ev: SVDEvolution, title_prefix: str = "", logt: bool = False) -> list:
    """Three 3-D panels into ``fig`` at subplot specs ``spec``: singular values, right- and left-vector angles
    (degrees) over (index i, iteration t) — talk-t04/t05/t06. Colours by index (:func:`svd_color_key` gives
    their legend); the panels' titles say what each shows, the z-labels its unit."""
    from matplotlib.ticker import MaxNLocator

    k, n = ev.k, ev.sv.shape[1]
    panels = [(ev.sv, "singular values $\\sigma_i(t)$", "$\\sigma_i$"),
              (np.degrees(expand_angles(ev, "right")), "$\\angle(v_i(t), v_i(1))$", "angle [°]"),
              (np.degrees(expand_angles(ev, "left")), "$\\angle(u_i(t), u_i(1))$", "angle [°]")]
    cols = _index_colors(n, k)
    axs = []
    for j, (A, title, zlabel) in enumerate(panels):
        ax = fig.add_subplot(spec[j], projection="3d")
        keep = ev.iterations > 0 if logt else slice(None)
        tt = np.log10(ev.iterations[keep]) if logt else ev.iterations
        for i in range(n):
            ax.plot(np.full(len(tt), i + 1), tt, A[keep, i], color=cols[i], lw=0.7)
        ax.set_xlim(1, n)
        ax.set_xlabel("index $i$")
        ax.set_ylabel("$\\log_{10} t$" if logt else "iteration $t$")
        ax.set_zlabel(zlabel)
        ax.set_title(f"{title_prefix}{title}")
        ax.tick_params(labelsize=6, pad=0)
        ax.set_box_aspect(None, zoom=0.9)
        ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.zaxis.set_major_locator(MaxNLocator(4))
        ax.view_init(elev=25, azim=-60)
        axs.append(ax)
    return axs


def plot_svd_lines(ax_sv, ax_ang, ev: SVDEvolution, rho: np.ndarray | None = None, title: str = "",
                   side: str = "right") -> None:
    """2-D view of the same data as :func:`plot_svd3d`: singular values against iteration (``rho (K,)`` at
    ``ev.iterations`` dashed black) and the angles (degrees) of the top/bottom ``k`` vectors per index plus the
    middle block's largest principal angle (grey) against the reference iterate."""
    k, n = ev.k, ev.sv.shape[1]
    cols = _index_colors(n, k)
    for i in range(n):
        ax_sv.plot(ev.iterations, ev.sv[:, i], color=cols[i], lw=0.8)
    if rho is not None:
        ax_sv.plot(ev.iterations, np.abs(rho), "k--", lw=1.2, label="ρ(t) recursion")
    ax_sv.set_title(f"{title}singular values", fontsize=7)
    ax_sv.set_ylabel("$\\sigma_i(t)$")
    A = np.degrees(ev.right if side == "right" else ev.left)
    for i in range(k):
        ax_ang.plot(ev.iterations, A[:, i], color=cols[i], lw=0.8)
        ax_ang.plot(ev.iterations, A[:, k + 1 + i], color=cols[n - k + i], lw=0.8)
    ax_ang.plot(ev.iterations, A[:, k], color="0.5", lw=1.6, label="middle block (principal angle)")
    v = "v" if side == "right" else "u"
    ax_ang.set_title(f"{title}$\\angle({v}_i(t), {v}_i({{\\rm ref}}))$", fontsize=7)
    ax_ang.set_xlabel("iteration")
    ax_ang.set_ylabel("angle [°]")
