"""Wang et al.'s study (conventions §7): progressive feature compression ``D_l`` and separation ``S_l`` in trained DLNs.

- :func:`class_data`: balanced ``K``-class data with (near-)orthonormal inputs, one-hot targets;
- :func:`train_mlp`: GD on ``½·mean((f(X) − Y)²)`` for linear or ReLU MLPs (hand-written backprop, batchable;
  for linear nets it matches the engine's GD to rounding, tests/test_wang.py); runs stop at a tolerance checked
  every ``check_every`` iterations (default every one);
- :func:`layer_metrics`: ``D_l``, un-centred and centred ``S_l`` on the input and every layer's output; ``D_l``'s
  between-class covariance is centred at the mean of the class means (default) or, as the [W] code does, at the
  sample mean (``centre="sample"``; the two differ only for unbalanced classes);
- :func:`check_assumptions`: the theorem's assumptions measured on trained weights (θ, balancedness, δ,
  approximate low rank, min-norm interpolation);
- :func:`decay_rate` / :func:`scaling_fit`: the log-linear decay of ``D_l`` and its dependence on ``ε`` and ``n``
  against the predicted per-layer ratio ``ε²/n^{1/L}`` (the theorem's constants κ, c are undefined in the
  sources, so only the scaling is testable);
- :func:`plot_decay` / :func:`plot_separation`: the panels of talk-t12/t13/t14/t16 and of the explorer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .._util import Tensor, check_int, make_generator
from ..metrics import compression, fit_log_linear, layer_features, relative_error, separation
from ..networks import init_weight
from ..problems import random_orthonormal
from ..optim import prefix_products


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


@dataclass
class ClassData:
    """``X (d, N)`` inputs (sample ``i`` of class ``k`` is column ``k·n + i``), ``Y (K, N)`` one-hot, ``labels (N,)``."""

    X: Tensor
    Y: Tensor
    labels: Tensor
    K: int
    n: int

    @property
    def N(self) -> int:
        return self.K * self.n


def class_data(K: int, n: int, d: int | None = None, seed: int = 0, kind: str = "orthogonal") -> ClassData:
    """Balanced data: ``kind="orthogonal"`` gives orthonormal columns (``θ = 0``, needs ``d >= N = nK``; the [Y]
    code's ``d = N`` square orthogonal ``X``); ``"gaussian"`` gives ``N(0, I/d)`` columns (near-orthonormal).

    >>> D = class_data(3, 2, seed=0)
    >>> tuple(D.X.shape), D.labels.tolist()
    ((6, 6), [0, 0, 1, 1, 2, 2])
    """
    N = K * n
    d = N if d is None else d
    g = make_generator(seed)
    if kind == "orthogonal":
        if d < N:
            raise ValueError(f"orthonormal columns need d >= N = {N}, got d = {d}.")
        X = random_orthonormal(d, N, g)
    elif kind == "gaussian":
        X = torch.randn(d, N, generator=g, dtype=torch.float64) / math.sqrt(d)
    else:
        raise ValueError("kind must be 'orthogonal' or 'gaussian'.")
    labels = torch.arange(K).repeat_interleave(n)
    Y = torch.nn.functional.one_hot(labels, K).T.to(X.dtype)
    return ClassData(X, Y.to(X.device), labels.to(X.device), K, n)


def data_theta(X: Tensor) -> float:
    """Smallest ``θ`` with ``|‖x_i‖² − 1| ≤ θ/N`` and ``|⟨x_i, x_j⟩| ≤ θ/N`` (i ≠ j): ``N·max|XᵀX − I|``.

    >>> data_theta(torch.eye(4, dtype=torch.float64))
    0.0
    """
    G = X.T @ X
    N = X.shape[1]
    return float(N * (G - torch.eye(N, dtype=G.dtype, device=G.device)).abs().max())


# ----------------------------------------------------------------------------------------------
# Networks and training
# ----------------------------------------------------------------------------------------------


def mlp_init(widths: Sequence[int], eps, init: str = "orthogonal", seed: int = 0, batch: tuple = ()) -> list[Tensor]:
    """Factors ``W_l (*batch, d_l, d_{l−1})`` at scale ``eps`` (a float, or a ``(B,)`` sequence with ``batch=(B,)``:
    the same draws rescaled per run, so an ε sweep shares its random matrices)."""
    g = make_generator(seed)
    Ws = [init_weight(widths[i + 1], widths[i], 1.0, init, g, batch=batch) for i in range(len(widths) - 1)]
    e = torch.as_tensor(eps, dtype=Ws[0].dtype, device=Ws[0].device)
    if e.ndim:
        e = e.reshape(e.shape + (1, 1))
    return [e * W for W in Ws]


def forward(weights: Sequence[Tensor], X: Tensor, activation: str | None = None) -> list[Tensor]:
    """Features ``[X, h_1, …, h_L]`` (``X (d_0, N)``, ``h_l (*batch, d_l, N)``): ``h_l = σ(W_l h_{l−1})`` with
    ``σ = ReLU`` on all but the last layer (``activation="relu"``) or none; :func:`dlnlib.metrics.layer_features`."""
    if activation not in (None, "relu"):
        raise ValueError("activation must be None (linear) or 'relu'.")
    return layer_features(weights, X, torch.relu if activation == "relu" else None)


def loss_and_grads(weights: Sequence[Tensor], X: Tensor, Y: Tensor, activation: str | None = None):
    """``ℓ = ½·mean((h_L − Y)²)`` over the ``d_y·N`` entries and its gradients (hand-written backprop).

    >>> W = [torch.eye(2, dtype=torch.float64)]
    >>> l, g = loss_and_grads(W, torch.eye(2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64))
    >>> float(l), g[0].tolist()
    (0.25, [[0.25, 0.0], [0.0, 0.25]])
    """
    H = forward(weights, X, activation)
    c = 1.0 / (Y.shape[-2] * Y.shape[-1])
    R = H[-1] - Y
    loss = 0.5 * c * R.square().sum((-2, -1))
    delta = c * R
    grads: list[Tensor] = [None] * len(weights)  # type: ignore[list-item]
    for l in range(len(weights) - 1, -1, -1):
        grads[l] = delta @ H[l].transpose(-1, -2)
        if l > 0:
            delta = weights[l].transpose(-1, -2) @ delta
            if activation == "relu":
                delta = delta * (H[l] > 0).to(delta.dtype)
    return loss, grads


@dataclass
class TrainResult:
    """``weights`` (final), ``iterations (K,)`` and ``loss (K, *batch)`` recorded, ``stop (*batch)`` first iteration
    with loss ≤ tol (−1 if never)."""

    weights: list[Tensor]
    iterations: np.ndarray
    loss: np.ndarray
    stop: np.ndarray
    wall_s: float = 0.0


def train_mlp(weights: Sequence[Tensor], X: Tensor, Y: Tensor, eta: float, iterations: int, *,
              activation: str | None = None, tol: float | None = None, record_every: int = 10,
              check_every: int | None = None) -> TrainResult:
    """Plain GD ``W ← W − η∇ℓ`` on the mean loss (the [Y]/[W] code's convention); runs of a batch stop
    (freeze) individually once their loss is ``≤ tol``; training ends when all have stopped.

    ``check_every`` (as in :func:`dlnlib.train.train`): the checked iterations are the multiples of
    ``check_every`` and the last one (``iterations``). At a checked iteration a non-finite loss raises
    :class:`FloatingPointError` and a run whose loss is ``≤ tol`` stops there: ``stop`` is that iteration and its
    weights are frozen from then on. Between checks nothing is read back from the device and every run keeps
    stepping, so a run stops at the first *checked* iteration where its loss qualifies (it may miss a loss that
    dips below ``tol`` between two checks), and a divergence is named at the first checked iteration after it.
    The default (``None``) checks every iteration, exactly like ``check_every=1`` (today's behaviour: the same
    weights, ``stop`` and records, bit for bit). Recording (every ``record_every`` iterations, the last one, and
    the iteration where the last run stops) is independent of the checks.
    """
    every = 1 if check_every is None else check_int("check_every", check_every, 1)
    Ws = [W.clone() for W in weights]
    batch = Ws[0].shape[:-2]
    active = torch.ones(batch, dtype=Ws[0].dtype, device=Ws[0].device)
    stop = np.full(tuple(batch), -1, dtype=np.int64)
    its, losses = [], []
    t0 = time.perf_counter()
    for t in range(iterations + 1):
        loss, grads = loss_and_grads(Ws, X, Y, activation)
        done = False
        if t % every == 0 or t == iterations:
            if not torch.isfinite(loss).all():
                when = f"at iteration {t}" if every == 1 else f"at or before iteration {t} (checked every {every})"
                raise FloatingPointError(f"training diverged {when} (η = {eta}); reduce the step size.")
            if tol is not None:
                hit = (loss <= tol).cpu().numpy() & (stop < 0)
                stop[hit] = t
                active = active * (loss > tol).to(active.dtype)
                done = not bool(active.any())
        if t % record_every == 0 or t == iterations or done:
            its.append(t)
            losses.append(loss.detach().cpu().numpy().copy())
        if t == iterations or done:
            break
        step = eta * active.reshape(tuple(batch) + (1, 1)) if len(batch) else eta * active
        for W, g in zip(Ws, grads):
            W.sub_(step * g)
    return TrainResult(Ws, np.asarray(its), np.stack(losses), stop, time.perf_counter() - t0)


def select(weights: Sequence[Tensor], index) -> list[Tensor]:
    """One run ``index`` of a batched network."""
    return [W[index] for W in weights]


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------


@dataclass
class LayerMetrics:
    """Per evaluated layer ``l = 0..L`` (input, then each layer's output): ``D (L+1,)`` (centred as
    ``centre`` says), ``S (L+1,)`` un-centred without abs (the [W] code), ``S_centred (L+1,)`` ([T]'s formula)."""

    D: np.ndarray
    S: np.ndarray
    S_centred: np.ndarray
    centre: str = "class_means"


def layer_metrics(weights: Sequence[Tensor], data: ClassData, activation: str | None = None, *,
                  centre: str = "class_means") -> LayerMetrics:
    """``D_l``, ``S_l`` on ``[X, h_1, …, h_L]`` (``D_L`` of a zero-loss net is 0/undefined; fits use ``l ≤ L−1``).

    ``centre``: the centre ``c`` of the between-class covariance of ``D_l = tr Σ_W / tr Σ_B`` with
    ``Σ_B = (1/K) Σ_k (z̄_k − c)(z̄_k − c)ᵀ`` (:func:`dlnlib.metrics.compression`): ``"class_means"`` (default,
    ``c = (1/K) Σ_k z̄_k``, [T]) or ``"sample"`` (``c = (1/N) Σ_i z_i``, the [W] code). They agree on balanced
    classes (:func:`class_data`); on unbalanced labels ``"sample"`` gives the smaller ``D_l`` (with two classes of
    ``n_1, n_2`` samples, by the factor ``N²/(2(n_1² + n_2²))``: 1/1.14 for 11 and 5)."""
    H = forward(weights, data.X, activation)
    D = np.array([float(compression(h, data.labels, data.K, centre=centre)) for h in H])
    S = np.array([float(separation(h, data.labels, data.K)) for h in H])
    Sc = np.array([float(separation(h, data.labels, data.K, centred=True)) for h in H])
    return LayerMetrics(D, S, Sc, centre)


def predicted_ratio(eps: float, n: int, depth: int) -> float:
    """The theorem's per-layer compression ratio up to the undefined constants: ``ε²/n^{1/L}``.

    >>> round(predicted_ratio(0.5, 16, 4), 6)
    0.125
    """
    return eps**2 / n ** (1.0 / depth)


@dataclass
class DecayFit:
    """Least-squares fit ``log D_l ≈ a + b·l`` over ``layers``: slope ``b`` (``exp(b)`` the per-layer ratio), ``R²``."""

    slope: float
    intercept: float
    r2: float
    layers: tuple[int, int]


def decay_rate(D: np.ndarray, first: int = 0, last: int | None = None) -> DecayFit:
    """Fit ``log D_l`` for ``l = first..last`` (default ``0..L−1``, as the [Y] code's figure: input and the
    outputs of layers ``1..L−1``; the theorem's ratios ``D_{l+1}/D_l``, ``l ∈ [L−2]``, use ``first=1``)."""
    last = len(D) - 2 if last is None else last
    b, a, r2 = fit_log_linear(D[first:last + 1])
    return DecayFit(b, a - b * first, r2, (first, last))


@dataclass
class ScalingFit:
    """``log(ratio) ≈ a + p·log(ε²) − q·log(n^{1/L})`` over the runs: the theorem predicts ``p = q = 1``;
    ``a`` absorbs the undefined constants (``log`` of a number in ``[c/(κ4^{1/L}), κ2^{1/L}/c]``)."""

    p: float
    q: float
    a: float
    r2: float
    residual_max: float


def scaling_fit(eps: Sequence[float], n: Sequence[int], depth: Sequence[int], log_ratio: Sequence[float]) -> ScalingFit:
    """Least squares of the measured per-layer log-ratios on ``log ε²`` and ``−log n^{1/L}`` (plus a constant)."""
    e = np.log(np.asarray(eps, dtype=float) ** 2)
    m = -np.log(np.asarray(n, dtype=float)) / np.asarray(depth, dtype=float)
    y = np.asarray(log_ratio, dtype=float)
    A = np.stack([np.ones_like(e), e, m], 1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    res = y - A @ coef
    ss = ((y - y.mean()) ** 2).sum()
    return ScalingFit(float(coef[1]), float(coef[2]), float(coef[0]), float(1 - (res**2).sum() / ss) if ss > 0 else 1.0,
                      float(np.abs(res).max()))


# ----------------------------------------------------------------------------------------------
# Assumptions of the theorem, measured
# ----------------------------------------------------------------------------------------------


@dataclass
class Assumptions:
    """Measured on one trained linear net (conventions §7).

    ``theta``: data near-orthonormality; ``balance``: ``max_{l∈[L−2]} ‖W_{l+1}ᵀW_{l+1} − W_lW_lᵀ‖_F/‖W_lW_lᵀ‖_F``;
    ``delta``: ``‖W_LᵀW_L − W_{L−1}W_{L−1}ᵀ‖_F``; ``lowrank_upper``: ``max_{l≤L−1, K<i≤d−K} (σ_i − ε)/ε`` (≤ 0 when
    ``σ_i ≤ ε``); ``lowrank_rho``: ``max (ε − σ_i)`` (the assumption's ρ, must be < ε); ``minnorm``:
    ``‖W_{L:1} − Y(XᵀX)^{-1}Xᵀ‖_F/‖Y(XᵀX)^{-1}Xᵀ‖_F``; ``loss``.
    """

    theta: float
    balance: float
    delta: float
    lowrank_upper: float
    lowrank_rho: float
    minnorm: float
    loss: float
    eps: float
    separation_bound: np.ndarray = field(default_factory=lambda: np.zeros(0))


def check_assumptions(weights: Sequence[Tensor], data: ClassData, eps: float) -> Assumptions:
    """Measure every assumption of Wang et al.'s theorem on trained linear weights; also the separation lower
    bound ``1 − 32(θ + 4δ)(L − l − 1)/L`` it implies for ``l = 0..L−1`` (``o(1)`` dropped)."""
    L = len(weights)
    K = data.K
    bal = 0.0
    for l in range(L - 2):
        A = weights[l + 1].T @ weights[l + 1]
        B = weights[l] @ weights[l].T
        bal = max(bal, float(relative_error(A, B)))
    delta = float(torch.linalg.matrix_norm(weights[-1].T @ weights[-1] - weights[-2] @ weights[-2].T))
    up, rho = -np.inf, 0.0
    for W in weights[:-1]:
        s = torch.linalg.svdvals(W).cpu().numpy()
        d = s.size
        mid = s[K:d - K]
        up = max(up, float(((mid - eps) / eps).max()))
        rho = max(rho, float((eps - mid).max()))
    E = prefix_products(weights)[-1]
    X, Y = data.X, data.Y
    Wmn = Y @ torch.linalg.solve(X.T @ X, X.T)
    mn = float(relative_error(E, Wmn))
    loss = float(0.5 * (E @ X - Y).square().mean())
    theta = data_theta(X)
    ls = np.arange(L)
    bound = 1 - 32 * (theta + 4 * delta) * (L - ls - 1) / L
    return Assumptions(theta, bal, delta, up, rho, mn, loss, eps, bound)


def decay_vs_prediction(D: np.ndarray, eps: float, n: int, depth: int, predict=predicted_ratio,
                        first: int = 1) -> float:
    """``slope − log(predict(ε, n, L))``: the measured per-layer log-ratio of ``D_l`` (fit over ``l = first..L−1``,
    by default the theorem's range) minus the predicted one. ``predict`` is a parameter so a test can feed a
    perturbed law (e.g. ``ε`` instead of ``ε²``) and see the comparison fail."""
    return decay_rate(D, first).slope - math.log(predict(eps, n, depth))


# ----------------------------------------------------------------------------------------------
# Sweep points (notebook 06 maps them over its grids with dlnlib.sweep.sweep)
# ----------------------------------------------------------------------------------------------


def trained_point(data: ClassData, depth: int, eps, activation: str | None, eta: float, iterations: int,
                  tol: float | None, seed: int, init: str = "orthogonal", batch: tuple = (),
                  record_every: int = 50) -> TrainResult:
    """An MLP with widths ``[d]·depth + [K]`` (:func:`mlp_init`: ``init`` at scale ``eps``, ``seed``, ``batch``)
    trained by :func:`train_mlp` on ``data`` (``X (d, K·n)``, ``Y (K, K·n)``) with ``activation`` until its loss is
    ``≤ tol``; one point of a sweep over depths, activations or inits."""
    W0 = mlp_init([data.X.shape[0]] * depth + [data.K], eps, init=init, seed=seed, batch=batch)
    return train_mlp(W0, data.X, data.Y, eta, iterations, activation=activation, tol=tol, record_every=record_every)


def scaling_point(K: int, n: int, depth: int, eps: Sequence[float], eta: float, iterations: int, seed: int
                  ) -> list[dict]:
    """The per-layer ratio of ``D_l`` for one ``(n, L)`` over the ``ε`` grid: linear nets on :func:`class_data`
    ``(K, n, seed + n)``, one batched run over ``eps`` (the same factors, seed ``seed + L``, rescaled) trained to
    loss 1e-6 and on to 1e-12. One row per ``ε``: ``D6``, ``D12 (L + 1,)``, their slopes over ``l = 1..L−1``
    (:func:`decay_rate`), ``r2`` of the 1e-12 fit, ``lowrank_rho`` and ``loss`` (:func:`check_assumptions`)."""
    dat = class_data(K, n, seed=seed + n)
    W0 = mlp_init([dat.N] * depth + [dat.K], list(eps), seed=seed + depth, batch=(len(eps),))
    r6 = train_mlp(W0, dat.X, dat.Y, eta, iterations, tol=1e-6, record_every=100)
    r12 = train_mlp(r6.weights, dat.X, dat.Y, eta, iterations, tol=1e-12, record_every=100)
    out = []
    for i, e in enumerate(eps):
        D6 = layer_metrics(select(r6.weights, i), dat).D
        D12 = layer_metrics(select(r12.weights, i), dat).D
        A = check_assumptions(select(r12.weights, i), dat, e)
        out.append(dict(eps=e, n=n, L=depth, D6=D6, D12=D12, slope6=decay_rate(D6, 1).slope,
                        slope12=decay_rate(D12, 1).slope, r2=decay_rate(D12).r2, lowrank_rho=A.lowrank_rho,
                        loss=A.loss))
    return out


# ----------------------------------------------------------------------------------------------
# Plotting (the committed talk-t12/t13/t14/t16 figures and the explorer draw through these)
# ----------------------------------------------------------------------------------------------


def plot_decay(ax, D: np.ndarray, fit: DecayFit, *, color=None, fit_color=None, label: str | None = None,
               fit_label: str | None = None, ms: float = 3) -> None:
    """``D_l (n_layers,)`` against ``l = 0, 1, …`` on a log axis (markers) with the fitted line
    ``exp(a + b·l)`` dashed (``fit_color``, default ``color``); the y-label is ``$D_l$`` unless ``ax`` has one."""
    ls = np.arange(len(D))
    ax.plot(ls, D, "o", ms=ms, color=color, label=label)
    ax.plot(ls, np.exp(fit.intercept + fit.slope * ls), "--", lw=0.8,
            color=fit_color if fit_color is not None else color, label=fit_label)
    ax.set_yscale("log")
    if not ax.get_ylabel():
        ax.set_ylabel("$D_l$")


def plot_separation(ax, m: LayerMetrics, *, color=None, label: str | None = None, centred: bool = True,
                    ms: float = 2.5) -> None:
    """``S_l`` un-centred (``o-``) and, if ``centred``, centred (``x:``) against ``l = 0..L``."""
    ls = np.arange(len(m.S))
    ax.plot(ls, m.S, "o-", ms=ms, color=color, label=label)
    if centred:
        ax.plot(ls, m.S_centred, "x:", ms=ms, color=color, lw=0.8)
