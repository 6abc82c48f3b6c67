"""Training: the hand-written DLN gradient, optimisers, and the GD loop with recording.

The gradient of a loss ``ℓ(W_{L:1})`` with end-to-end gradient ``G = ∂ℓ/∂W_{L:1}`` is
``∇_{W_l} ℓ = W_{L:l+1}ᵀ G W_{l-1:1}ᵀ``. :func:`layer_grads` computes it with ``3(L−1)`` matmuls
(``L−1`` forward prefix products, then ``B_{l-1} = W_lᵀ B_l`` and ``∇_l = B_l P_{l-1}ᵀ`` backwards), the
floor for an ``L``-factor step; no autograd. Every tensor may carry leading batch dimensions, so a
seed, α or ε sweep is one tensor program (``batch = (B,)``) and equals ``B`` separate runs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from ._util import Tensor
from .networks import DLN
from .problems import Problem


class DivergenceError(RuntimeError):
    """Training produced NaN/Inf or an exploding loss; the message names the step sizes."""


# ----------------------------------------------------------------------------------------------
# Gradient
# ----------------------------------------------------------------------------------------------


def prefix_products(weights: Sequence[Tensor]) -> list[Tensor]:
    """``[W_1, W_2W_1, …, W_{L:1}]`` (``L−1`` matmuls)."""
    P = [weights[0]]
    for W in weights[1:]:
        P.append(W @ P[-1])
    return P


def layer_grads(weights: Sequence[Tensor], G: Tensor, prefix: Sequence[Tensor] | None = None) -> list[Tensor]:
    """Gradients ``∇_{W_l} ℓ = W_{L:l+1}ᵀ G W_{l-1:1}ᵀ`` for ``l = 1..L`` from the end-to-end gradient ``G``.

    ``weights[l-1]``: ``(..., d_l, d_{l-1})``; ``G``: ``(..., d_L, d_0)``; returns tensors shaped like the weights.

    >>> Ws = [torch.randn(3, 4, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)]
    >>> G = torch.randn(2, 4, dtype=torch.float64)
    >>> g1, g2 = layer_grads(Ws, G)
    >>> bool(torch.allclose(g1, Ws[1].T @ G)) and bool(torch.allclose(g2, G @ Ws[0].T))
    True
    """
    P = prefix if prefix is not None else prefix_products(weights)
    L = len(weights)
    grads: list[Tensor] = [None] * L  # type: ignore[list-item]
    B = G
    for l in range(L - 1, 0, -1):
        grads[l] = B @ P[l - 1].transpose(-1, -2)
        B = weights[l].transpose(-1, -2) @ B
    grads[0] = B
    return grads


def loss_and_grads(net: DLN, problem: Problem) -> tuple[Tensor, Tensor, list[Tensor]]:
    """``(loss (...), W_{L:1} (..., d_L, d_0), [∇_{W_l} ℓ])`` for the network on the problem."""
    P = prefix_products(net.weights)
    loss, G = problem.loss_grad(P[-1])
    return loss, P[-1], layer_grads(net.weights, G, P)


# ----------------------------------------------------------------------------------------------
# Optimisers: pure update rules on lists of tensors, state kept in the optimiser object
# ----------------------------------------------------------------------------------------------


def _per_run(x, ndim_batch: int, like: Tensor):
    """A scalar or a ``(*batch)`` tensor, reshaped to broadcast against ``(*batch, m, n)``."""
    if isinstance(x, Tensor):
        return x.to(dtype=like.dtype, device=like.device).reshape(x.shape + (1, 1))
    return x


@dataclass
class GD:
    """Gradient descent ``W ← (1 − ηλ) W − η·s_l·(∇W + μ·momentum)``.

    ``lr`` ``η`` (float or ``(*batch)`` tensor), ``weight_decay`` ``λ`` (decoupled form of THEORY §1.3:
    ``(1 − ηλ)``, not scaled by ``s_l``), heavy-ball ``momentum`` ``μ``: ``v ← μv + ∇``, ``W ← (1−ηλ)W − η s_l v``.
    """

    lr: float | Tensor
    weight_decay: float = 0.0
    momentum: float = 0.0
    _buf: list | None = field(default=None, repr=False)

    def describe(self) -> str:
        return f"η = {_fmt(self.lr)}" + (f", λ = {self.weight_decay}" if self.weight_decay else "") + (
            f", momentum = {self.momentum}" if self.momentum else "")

    def step(self, weights: list[Tensor], grads: list[Tensor], scales: list, active: Tensor | None = None) -> None:
        nb = weights[0].ndim - 2
        if self.momentum:
            if self._buf is None:
                self._buf = [torch.zeros_like(g) for g in grads]
            for v, g in zip(self._buf, grads):
                v.mul_(self.momentum).add_(g)
            grads = self._buf
        lr = self.lr if active is None else self.lr * active
        for W, g, s in zip(weights, grads, scales):
            if isinstance(s, float) and s == 0.0:
                continue
            if self.weight_decay:
                W.mul_(1.0 - _per_run(lr, nb, W) * self.weight_decay)
            step = _per_run(lr * s, nb, W)
            if isinstance(step, float):
                W.add_(g, alpha=-step)
            else:
                W.sub_(step * g)


@dataclass
class Adam:
    """Adam with per-factor step ``η·s_l`` and optional decoupled weight decay (AdamW form)."""

    lr: float | Tensor
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    _m: list | None = field(default=None, repr=False)
    _v: list | None = field(default=None, repr=False)
    _t: int = 0

    def describe(self) -> str:
        return f"Adam η = {_fmt(self.lr)}"

    def step(self, weights, grads, scales, active=None):
        nb = weights[0].ndim - 2
        if self._m is None:
            self._m = [torch.zeros_like(g) for g in grads]
            self._v = [torch.zeros_like(g) for g in grads]
        self._t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self._t, 1 - b2**self._t
        for W, g, m, v, s in zip(weights, grads, self._m, self._v, scales):
            if isinstance(s, float) and s == 0.0:
                continue
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            lr = self.lr if active is None else self.lr * active
            step = _per_run(lr * s, nb, W)
            if self.weight_decay:
                W.mul_(1 - _per_run(lr, nb, W) * self.weight_decay)
            W.sub_(step * (m / c1) / ((v / c2).sqrt() + self.eps))


def _fmt(x) -> str:
    if isinstance(x, Tensor):
        x = x.flatten().tolist()
        return str(x[0]) if len(x) == 1 else f"[{', '.join(f'{v:g}' for v in x[:8])}{', …' if len(x) > 8 else ''}]"
    return f"{x:g}"


# ----------------------------------------------------------------------------------------------
# Recording
# ----------------------------------------------------------------------------------------------

Recorder = Callable[[DLN, Tensor, Tensor], Tensor]
"""``f(net, W_end, loss) -> tensor`` evaluated at each recorded iteration."""


def _svdvals(W: Tensor) -> Tensor:
    return torch.linalg.svdvals(W)


def _rec_recovery(problem: Problem) -> Recorder:
    def f(net, W, loss):
        M = problem.target
        return torch.linalg.matrix_norm(W - M) / torch.linalg.matrix_norm(M)
    return f


def _rec_layer_sv(net, W, loss):
    return torch.stack([_pad(_svdvals(Wl), max(net.widths)) for Wl in net.weights], dim=-2)


def _pad(s: Tensor, n: int) -> Tensor:
    return torch.nn.functional.pad(s, (0, n - s.shape[-1]), value=float("nan"))


def _rec_angles(net0: DLN) -> Recorder:
    """Angles (radians) between the i-th left/right singular vectors of each factor at t and at 0."""
    svd0 = [torch.linalg.svd(W, full_matrices=False) for W in net0.weights]

    def f(net, W, loss):
        out = []
        n = max(net.widths)
        for (U0, _, Vh0), Wl in zip(svd0, net.weights):
            U, _, Vh = torch.linalg.svd(Wl, full_matrices=False)
            cu = (U * U0).sum(-2).abs().clamp(max=1.0)
            cv = (Vh * Vh0).sum(-1).abs().clamp(max=1.0)
            out.append(torch.stack([_pad(torch.arccos(cu), n), _pad(torch.arccos(cv), n)], -2))
        return torch.stack(out, -3)  # (..., L, 2, n): [left, right]
    return f


BUILTIN = ("loss", "recovery_error", "test_error", "sv", "layer_sv", "angles")


@dataclass
class History:
    """What :func:`train` recorded.

    ``iterations (K,)``; ``values[name]`` arrays ``(K, *batch, …)`` (e.g. ``loss (K, *batch)``,
    ``sv (K, *batch, min(d_L, d_0))``, ``layer_sv (K, *batch, L, max width)``, ``angles (K, *batch, L, 2, width)``);
    ``wall_time (K,)`` seconds since the start; ``stop_iteration (*batch)`` the first iteration whose loss was
    ``<= tol`` (``-1`` if never); ``diverged_at (*batch)`` (``-1`` if not); ``net`` the final network.
    """

    iterations: np.ndarray
    values: dict[str, np.ndarray]
    wall_time: np.ndarray
    stop_iteration: np.ndarray
    diverged_at: np.ndarray
    net: DLN
    seconds_per_step: float

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    @property
    def loss(self) -> np.ndarray:
        return self.values["loss"]


def record_grid(iterations: int, n: int = 100, log: bool = False) -> np.ndarray:
    """``n``-ish recording iterations in ``[0, iterations]``, linear or log-spaced, always incl. 0 and the end.

    >>> record_grid(10, 5).tolist()
    [0, 2, 5, 8, 10]
    """
    if log:
        g = np.unique(np.round(np.logspace(0, math.log10(max(iterations, 1)), n)).astype(int))
        g = np.concatenate([[0], g])
    else:
        g = np.unique(np.round(np.linspace(0, iterations, n)).astype(int))
    return np.unique(np.clip(g, 0, iterations))


def train(
    net: DLN,
    problem: Problem,
    optimizer: GD | Adam,
    iterations: int,
    *,
    record_at: int | Iterable[int] | None = None,
    record: Sequence[str] = ("loss",),
    recorders: dict[str, Recorder] | None = None,
    tol: float | None = None,
    divergence_factor: float = 1e10,
    on_divergence: str = "raise",
    check_every: int = 1,
    progress: bool | str = False,
    in_place: bool = False,
) -> History:
    """Run ``iterations`` optimiser steps of ``net`` on ``problem`` and record what was asked.

    ``record_at``: iterations to record (0 = the initial state), or an int ``n`` for ``n`` evenly spaced ones
    (default 100). ``record``: names from ``loss, recovery_error, test_error, sv, layer_sv, angles``;
    ``recorders``: extra ``name -> f(net, W_end, loss)``. ``tol``: a run stops (its steps are frozen) once its
    loss is ``<= tol``; training ends when all runs of the batch have stopped. The loss is checked every
    ``check_every`` steps: a NaN/Inf, or growth above ``divergence_factor`` × the initial loss, raises
    :class:`DivergenceError` naming ``η`` and the per-factor scales (``on_divergence="raise"``), or, with
    ``"flag"``, freezes only the diverged runs and records when. ``progress``: a tqdm bar (or its label).
    The network is copied unless ``in_place``.
    """
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}.")
    if on_divergence not in ("raise", "flag"):
        raise ValueError("on_divergence must be 'raise' or 'flag'.")
    net = net if in_place else net.clone()
    if (net.widths[-1], net.widths[0]) != tuple(problem.shape):
        raise ValueError(f"the network maps R^{net.widths[0]} -> R^{net.widths[-1]} but the problem's matrices are "
                         f"{problem.shape[0]}×{problem.shape[1]}; set d_L = {problem.shape[0]}, d_0 = {problem.shape[1]}.")
    if record_at is None:
        record_at = 100
    rec_it = record_grid(iterations, record_at) if isinstance(record_at, int) else np.unique(
        np.asarray(list(record_at), dtype=int))
    if len(rec_it) and (rec_it.min() < 0 or rec_it.max() > iterations):
        raise ValueError(f"record_at must lie in [0, {iterations}].")
    fns: dict[str, Recorder] = {}
    for name in record:
        if name == "loss":
            fns[name] = lambda n, W, loss: loss
        elif name == "recovery_error":
            if getattr(problem, "target", None) is None:
                raise ValueError("recovery_error needs a problem with a target matrix.")
            fns[name] = _rec_recovery(problem)
        elif name == "test_error":
            if not hasattr(problem, "test_error"):
                raise ValueError("test_error is defined for completion problems only.")
            fns[name] = lambda n, W, loss: problem.test_error(W)
        elif name == "sv":
            fns[name] = lambda n, W, loss: _svdvals(W)
        elif name == "layer_sv":
            fns[name] = _rec_layer_sv
        elif name == "angles":
            fns[name] = _rec_angles(net.clone())
        else:
            raise ValueError(f"unknown record {name!r}; built-ins are {BUILTIN}, or pass recorders={{name: f}}.")
    fns.update(recorders or {})

    batch = net.batch_shape
    dev, dt = net.weights[0].device, net.weights[0].dtype
    active = torch.ones(batch, dtype=dt, device=dev) if batch else None
    stop_it = np.full(batch, -1, dtype=np.int64)
    div_at = np.full(batch, -1, dtype=np.int64)
    out: dict[str, list] = {k: [] for k in fns}
    times: list[float] = []
    it_rec: list[int] = []
    rec_set = set(int(i) for i in rec_it)

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=iterations, desc=progress if isinstance(progress, str) else net.name, leave=False)

    loss0 = None
    t0 = time.perf_counter()
    steps_done = 0
    for t in range(iterations + 1):
        P = prefix_products(net.weights)
        loss, G = problem.loss_grad(P[-1])
        if t in rec_set:
            times.append(time.perf_counter() - t0)
            it_rec.append(t)
            with torch.no_grad():
                for k, f in fns.items():
                    out[k].append(f(net, P[-1], loss).detach().cpu().numpy())
        if loss0 is None:
            loss0 = loss.detach().clone()
            if not torch.isfinite(loss0).all():
                raise DivergenceError("the initial loss is not finite: check the target and the initialisation.")
        check = (t % check_every == 0) or t == iterations
        if check:
            bad = ~torch.isfinite(loss) | (loss > divergence_factor * loss0.clamp_min(1e-300))
            if bad.any():
                if on_divergence == "raise" or not batch:
                    raise DivergenceError(_divergence_message(t, loss, bad, optimizer, net))
                newly = bad.cpu().numpy() & (div_at < 0)
                div_at[newly] = t
                active = active * (~bad).to(dt)
            if tol is not None:
                hit = (loss <= tol).cpu().numpy()
                if batch:
                    newly = hit & (stop_it < 0) & (div_at < 0)
                    stop_it[newly] = t
                    active = active * torch.as_tensor(~(stop_it >= 0), dtype=dt, device=dev)
                    if not bool(active.any()):
                        break
                elif hit:
                    stop_it[()] = t
                    break
            if batch and not bool(active.any()):
                break
        if t == iterations:
            break
        grads = layer_grads(net.weights, G, P)
        optimizer.step(net.weights, grads, net.lr_scales, active)
        steps_done += 1
        if bar is not None and (t % 100 == 99):
            bar.update(100)
    elapsed = time.perf_counter() - t0
    if bar is not None:
        bar.close()
    # record the final state if the run ended early at a tolerance
    if it_rec and it_rec[-1] != t and (tol is not None or div_at.max() >= 0) and t not in rec_set:
        times.append(time.perf_counter() - t0)
        it_rec.append(t)
        with torch.no_grad():
            for k, f in fns.items():
                out[k].append(f(net, P[-1], loss).detach().cpu().numpy())
    values = {k: np.stack(v) if v else np.zeros((0,)) for k, v in out.items()}
    return History(np.asarray(it_rec), values, np.asarray(times), stop_it, div_at, net,
                   elapsed / max(steps_done, 1))


def _divergence_message(t, loss, bad, optimizer, net) -> str:
    scales = [s for s in net.lr_scales]
    alpha = scales[0] if len(scales) > 1 else 1.0
    idx = torch.nonzero(bad.reshape(-1)).flatten().tolist()
    which = f" (runs {idx[:10]} of the batch)" if bad.ndim else ""
    return (
        f"training diverged at iteration {t}{which}: loss = {loss.reshape(-1)[idx[0]].item():.3e}. "
        f"The step size is too large: {optimizer.describe()}, outer-factor scale α = {_fmt(alpha)}. "
        f"Reduce η (or α) — for factorisation with the ½‖·‖² loss, GD is stable roughly when "
        f"η·L·σ_max^(2−2/L) < 2."
    )
