"""Training: the hand-written DLN gradient, optimisers, and the GD loop with recording.

The gradient of a loss ``ℓ(W_{L:1})`` with end-to-end gradient ``G = ∂ℓ/∂W_{L:1}`` is
``∇_{W_l} ℓ = W_{L:l+1}ᵀ G W_{l-1:1}ᵀ``. :func:`layer_grads` computes it with ``3(L−1)`` matmuls
(``L−1`` forward prefix products, then ``B_{l-1} = W_lᵀ B_l`` and ``∇_l = B_l P_{l-1}ᵀ`` backwards), the
floor for an ``L``-factor step; no autograd. Every tensor may carry leading batch dimensions, so a
seed, α or ε sweep is one tensor program (``batch = (B,)``) and equals ``B`` separate runs.

:func:`train` runs plain GD on a fused engine (the same ``3(L−1)`` matmuls with the weight update and the
residual folded into them, on preallocated buffers); ``benchmarks/bench_train.py`` measures it against the
machine's matmul throughput.
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
            if isinstance(step, Tensor):
                W.addcmul_(step, g, value=-1)  # no temporary for step·g
            else:
                W.add_(g, alpha=-step)


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


# ----------------------------------------------------------------------------------------------
# Step engines: the loop in train() drives one of two, with the same interface
# ----------------------------------------------------------------------------------------------
#
# ``_Reference`` is the textbook step (prefix products, problem.loss_grad, layer_grads, optimizer.step) and
# serves every optimiser. ``_FusedGD`` is the hot path for plain GD (no momentum): the same arithmetic in
# 3(L−1) matmuls on preallocated buffers, with the weight update folded into the matmul
# (``W ← βW − a·B Pᵀ`` is one addmm), the factorisation/completion residual folded into the last forward
# matmul (``R = W_L P_{L−1} − M`` is one addmm with β = −1) and the loss taken as one norm of ``R``; the
# step is a precompiled list of calls, so the Python loop adds little. (Cutting a batch into cache-sized
# chunks was tried and measured slower on the workbook machine.) Both engines hold the state *after* the
# forward pass of the current iterate: ``loss_now()``, ``end_to_end()``; ``step(slot)`` makes one optimiser
# step and the next forward pass, writing that iterate's loss into ``ring[slot]`` when ``slot`` is not None.


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class _Reference:
    """Any optimiser: prefix products, ``problem.loss_grad``, :func:`layer_grads`, ``optimizer.step``."""

    def __init__(self, net: DLN, problem: Problem, optimizer, ring_len: int):
        self.net, self.problem, self.opt = net, problem, optimizer
        W = net.weights[0]
        self.dtype, self.device = W.dtype, W.device
        batch = net.batch_shape
        self.active = torch.ones(batch, dtype=W.dtype, device=W.device) if batch else None
        self.ring: Tensor | None = None
        self.ring_len = ring_len
        self._forward()

    def _forward(self):
        self.P = prefix_products(self.net.weights)
        self.loss, self.G = self.problem.loss_grad(self.P[-1])

    def _store(self, slot):
        if slot is not None:
            if self.ring is None:
                self.ring = torch.empty((self.ring_len,) + tuple(self.loss.shape), dtype=self.loss.dtype,
                                        device=self.loss.device)
            self.ring[slot].copy_(self.loss)

    def store(self, slot: int) -> None:
        self._store(slot)

    def losses(self, n: int) -> Tensor:
        return self.ring[:n]

    def loss_now(self) -> Tensor:
        return self.loss

    def end_to_end(self) -> Tensor:
        return self.P[-1]

    def set_active(self, mask: np.ndarray) -> None:
        self.active = torch.as_tensor(mask, dtype=self.dtype, device=self.device)

    def step(self, slot: int | None) -> None:
        grads = layer_grads(self.net.weights, self.G, self.P)
        self.opt.step(self.net.weights, grads, self.net.lr_scales, self.active)
        self._forward()
        self._store(slot)


def _mm(a: Tensor, b: Tensor, out: Tensor) -> None:
    (torch.mm if a.ndim == 2 else torch.bmm)(a, b, out=out)


class _FusedGD:
    """Plain GD (no momentum) fused into ``3(L−1)`` matmuls per step on preallocated buffers (see above).

    ``mode``: ``"fact"`` / ``"comp"`` (residual and loss computed here with the formulas of
    :class:`~dlnlib.problems.Factorisation` / :class:`~dlnlib.problems.Completion`, equal up to rounding)
    or ``"generic"`` (``problem.loss_grad`` on the end-to-end matrix). Batch dims are flattened to one.
    """

    def __init__(self, net: DLN, problem: Problem, opt: GD, mode: str, ring_len: int):
        self.net, self.problem, self.opt, self.mode = net, problem, opt, mode
        Ws = net.weights
        W0 = Ws[0]
        self.dtype, self.device = dt, dev = W0.dtype, W0.device
        self.batch = batch = net.batch_shape
        self.B = Bn = math.prod(batch) if batch else 0
        self.L = L = len(Ws)
        flat = (lambda x: x.view((Bn,) + tuple(x.shape[-2:]))) if batch else (lambda x: x)
        self.W = [flat(W) for W in Ws]  # views: in-place updates land in net.weights
        d0, dL = Ws[0].shape[-1], Ws[-1].shape[-2]
        lead = (Bn,) if batch else ()
        # zeros, not empty: the pages are touched here, in the set-up, not in the first steps
        emp = lambda *s: torch.zeros(lead + s, dtype=dt, device=dev)  # noqa: E731
        self.P = [self.W[0]] + [emp(W.shape[-2], d0) for W in Ws[1:-1]]  # P[i] = W_{i+1:1}, i < L-1
        self.Bb = [emp(W.shape[-2], d0) for W in Ws[:-1]]  # Bb[i] carries the gradient to layer i
        self.R = emp(dL, d0)  # residual (fact/comp) or end-to-end matrix (generic)
        if mode in ("fact", "comp"):
            self.M = self._per_run_matrix(problem.target)
            self.mask = self._per_run_matrix(problem.mask) if mode == "comp" else None
            c = problem.loss_scale
            self.cg = c if _is_number(c) or c.ndim else float(c)  # G = c·R: c folds into the step coefficients
            self.c = self.cg if _is_number(self.cg) else \
                self.cg.to(dtype=dt, device=dev).expand(batch).reshape(-1)  # (B,) for the loss
        else:
            self.M = self.mask = None
            self.c, self.cg = 1.0, 1.0
        self.ring = torch.empty((ring_len,) + lead, dtype=dt, device=dev)
        self.tmp: list[Tensor | None] = [None] * L
        self.norm_ops: dict = {}
        self.set_active(None)
        self._forward_all(None)

    # -- setup ---------------------------------------------------------------------------------

    def _per_run_matrix(self, X: Tensor) -> Tensor:
        X = X.to(dtype=self.dtype)
        if not self.batch or X.ndim == 2:
            return X
        return X.expand(self.batch + tuple(X.shape[-2:])).reshape((self.B,) + tuple(X.shape[-2:]))

    def _coef(self, *factors) -> float | Tensor:
        """Product of numbers and per-run tensors: a float, or a ``(B, 1, 1)`` tensor in the weights' dtype."""
        num, ten = 1.0, None
        for f in factors:
            if f is None:
                continue
            if isinstance(f, Tensor):
                if f.ndim == 0:
                    num = num * float(f)
                else:
                    f = f.to(dtype=torch.float64, device=self.device).expand(self.batch).reshape(-1)
                    ten = f if ten is None else ten * f
            else:
                num = num * f
        if ten is None:
            return num
        return (ten * num).to(self.dtype).reshape(-1, 1, 1)

    def set_active(self, mask: np.ndarray | None) -> None:
        """Per-run ``0/1`` multipliers of the step (stopped / diverged runs are frozen)."""
        act = None
        if mask is not None and not mask.all():
            act = torch.as_tensor(mask, dtype=torch.float64, device=self.device)
        lr, lam = self.opt.lr, self.opt.weight_decay
        self.a, self.beta = [], []
        for s in self.net.lr_scales:
            if isinstance(s, float) and s == 0.0:
                self.a.append(None)
                self.beta.append(1.0)
                continue
            self.a.append(self._coef(-1.0, lr, s, self.cg, act))  # the step is W += a·(…)
            if lam:
                lr_act = self._coef(lr, act)
                self.beta.append(1.0 - lr_act * lam)
            else:
                self.beta.append(1.0)
        # which gradient carriers are needed: B_i only if some layer <= i trains
        self.needB = [any(a is not None for a in self.a[: i + 1]) for i in range(self.L - 1)]
        for i in range(1, self.L):
            a = self.a[i]
            if isinstance(a, Tensor) and self.tmp[i] is None:
                # scale the smaller operand of B_i P_{i-1}ᵀ by the per-run coefficient
                self.tmp[i] = torch.zeros_like(self.Bb[i] if i < self.L - 1 else self.R) \
                    if self._scale_B(i) else torch.zeros_like(self.P[i - 1])
        self.plans: dict = {}
        self.base_plan: list | None = None

    def _scale_B(self, i: int) -> bool:
        return self.W[i].shape[-2] <= self.W[i].shape[-1]

    # -- forward / step: each is a precompiled list of (function, args, kwargs) --------------

    def _ops_forward(self, slot: int | None) -> list:
        W, P, R, L = self.W, self.P, self.R, self.L
        mm = torch.mm if R.ndim == 2 else torch.bmm
        ops = [(mm, (W[i], P[i - 1]), {"out": P[i]}) for i in range(1, L - 1)]
        if L == 1:
            ops.append((torch.sub, (W[0], self.M), {"out": R}))
        else:  # R = W_L P_{L-1} − M in one call
            ops.append((torch.addmm if R.ndim == 2 else torch.baddbmm, (self.M, W[L - 1], P[L - 2]),
                        {"beta": -1, "out": R}))
        if self.mask is not None:
            ops.append((R.mul_, (self.mask,), {}))
        if slot is not None:
            ops.append(self._norm_op(slot))
        return ops

    def _norm_op(self, slot: int) -> tuple:
        """``‖R‖`` per run into ``ring[slot]``."""
        op = self.norm_ops.get(slot)
        if op is None:
            R = self.R
            Rf = R.view(-1) if R.ndim == 2 else R.view(R.shape[0], -1)
            op = self.norm_ops[slot] = (torch.linalg.vector_norm, (Rf,), {"dim": -1, "out": self.ring[slot]})
        return op

    def _ops_update(self, G: Tensor) -> list:
        W, P, Bb, a, beta, tmp, L = self.W, self.P, self.Bb, self.a, self.beta, self.tmp, self.L
        mm = torch.mm if G.ndim == 2 else torch.bmm
        ops = []
        Bc = G
        for i in range(L - 1, 0, -1):
            Wi = W[i]
            addmm_ = Wi.addmm_ if Wi.ndim == 2 else Wi.baddbmm_
            if self.needB[i - 1]:
                ops.append((mm, (Wi.mT, Bc), {"out": Bb[i - 1]}))  # B_{i-1} = W_iᵀ B_i, before W_i moves
            ai, bi = a[i], beta[i]
            if ai is not None:
                if not isinstance(bi, float):
                    ops.append((Wi.mul_, (bi,), {}))
                    bi = 1.0
                if isinstance(ai, float):  # W_i ← β W_i + a·B_i P_{i-1}ᵀ in one call
                    ops.append((addmm_, (Bc, P[i - 1].mT), {"beta": bi, "alpha": ai}))
                elif self._scale_B(i):  # per-run a: scale the smaller operand first
                    ops.append((torch.mul, (Bc, ai), {"out": tmp[i]}))
                    ops.append((addmm_, (tmp[i], P[i - 1].mT), {"beta": bi}))
                else:
                    ops.append((torch.mul, (P[i - 1], ai), {"out": tmp[i]}))
                    ops.append((addmm_, (Bc, tmp[i].mT), {"beta": bi}))
            Bc = Bb[i - 1]
        a0, b0 = a[0], beta[0]
        if a0 is not None:
            if not (isinstance(b0, float) and b0 == 1.0):
                ops.append((W[0].mul_, (b0,), {}))
            if isinstance(a0, float):
                ops.append((W[0].add_, (Bc,), {"alpha": a0}))
            else:
                ops.append((W[0].addcmul_, (a0, Bc), {}))
        return ops

    def _plan(self, slot: int | None) -> list:
        plan = self.plans.get(slot)
        if plan is None:
            if self.base_plan is None:  # built once per set of coefficients; only the loss slot varies
                self.base_plan = self._ops_update(self.R) + self._ops_forward(None)
            plan = self.plans[slot] = self.base_plan + ([self._norm_op(slot)] if slot is not None else [])
        return plan

    def _forward_generic(self, slot: int | None) -> None:
        W, P, L = self.W, self.P, self.L
        for i in range(1, L - 1):
            _mm(W[i], P[i - 1], P[i])
        if L == 1:
            E = W[0]
        else:
            _mm(W[L - 1], P[L - 2], self.R)
            E = self.R
        E = E.view(self.batch + tuple(E.shape[-2:])) if self.batch else E
        self.loss, G = self.problem.loss_grad(E)
        self.G = G.reshape(self.R.shape) if self.batch else G
        if slot is not None:
            self.ring[slot].copy_(self.loss.reshape(self.ring[slot].shape))

    def _forward_all(self, slot):
        if self.mode == "generic":
            self._forward_generic(slot)
        else:
            for f, args, kw in self._ops_forward(slot):
                f(*args, **kw)

    def step(self, slot: int | None) -> None:
        if self.mode == "generic":
            for f, args, kw in self._ops_update(self.G):
                f(*args, **kw)
            self._forward_generic(slot)
            return
        plan = self.plans.get(slot)
        for f, args, kw in (plan if plan is not None else self._plan(slot)):
            f(*args, **kw)

    def store(self, slot: int) -> None:
        if self.mode == "generic":
            self.ring[slot].copy_(self.loss.reshape(self.ring[slot].shape))
        else:
            self.ring[slot].copy_(self._norm())

    # -- read-out ------------------------------------------------------------------------------

    def _norm(self) -> Tensor:
        R = self.R
        return torch.linalg.vector_norm(R.view(-1) if R.ndim == 2 else R.view(R.shape[0], -1), dim=-1)

    def _finalize(self, norms: Tensor) -> Tensor:
        """``½·c·‖R‖²`` from norms ``(..., B)``, reshaped to ``(..., *batch)``."""
        out = (0.5 * self.c) * norms.square() if _is_number(self.c) else 0.5 * self.c * norms.square()
        return out.reshape(norms.shape[:-1] + self.batch) if self.batch else out

    def losses(self, n: int) -> Tensor:
        if self.mode == "generic":
            return self.ring[:n].reshape((n,) + self.batch).clone()
        return self._finalize(self.ring[:n])

    def loss_now(self) -> Tensor:
        return self.loss if self.mode == "generic" else self._finalize(self._norm())

    def end_to_end(self) -> Tensor:
        if self.mode == "generic":
            E = self.R if self.L > 1 else self.W[0]
            E = E.clone()
        elif self.L == 1:
            return self.net.weights[0]
        else:
            E = torch.matmul(self.W[-1], self.P[-1])
        return E.view(self.batch + tuple(E.shape[-2:])) if self.batch else E


def _make_engine(net: DLN, problem: Problem, optimizer, ring_len: int):
    """The fused engine where it applies (plain GD, uniform batch, matching dtypes), else the reference one."""
    if type(optimizer) is GD and not optimizer.momentum and _fusable(net, problem, optimizer):
        from .problems import Completion, Factorisation
        lg = type(problem).loss_grad
        mode = "fact" if lg is Factorisation.loss_grad else "comp" if lg is Completion.loss_grad else "generic"
        if mode != "generic":
            X = [problem.target] + ([problem.mask] if mode == "comp" else [])
            c = problem.loss_scale
            ok = all(x.device == net.weights[0].device and _broadcasts(x.shape[:-2], net.batch_shape) for x in X)
            ok = ok and problem.target.dtype == net.weights[0].dtype
            ok = ok and (_is_number(c) or (isinstance(c, Tensor) and _broadcasts(c.shape, net.batch_shape)))
            if not ok:
                mode = "generic"
        try:
            return _FusedGD(net, problem, optimizer, mode, ring_len)
        except RuntimeError:  # e.g. weights that cannot be viewed with one flat batch dim
            pass
    return _Reference(net, problem, optimizer, ring_len)


def _broadcasts(shape, batch) -> bool:
    try:
        return tuple(torch.broadcast_shapes(tuple(shape), tuple(batch))) == tuple(batch)
    except RuntimeError:
        return False


def _fusable(net: DLN, problem: Problem, opt: GD) -> bool:
    Ws, batch = net.weights, net.batch_shape
    W0 = Ws[0]
    if not (W0.dtype.is_floating_point and not W0.dtype.is_complex):
        return False
    if any(W.shape[:-2] != W0.shape[:-2] or W.dtype != W0.dtype or W.device != W0.device for W in Ws):
        return False
    for x in [opt.lr] + list(net.lr_scales):
        if isinstance(x, Tensor):
            if x.device != W0.device and x.ndim:
                return False
            if not _broadcasts(x.shape, batch):
                return False
        elif not _is_number(x):
            return False
    return True


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

    Plain GD runs on a fused engine (``3(L−1)`` matmuls a step, no temporaries; see the engine notes above);
    other optimisers use :func:`layer_grads` and ``optimizer.step``. Where the divergence check can only
    raise (no ``tol``; ``on_divergence="raise"`` or one run), the losses of the checked iterations are
    collected on the device and inspected in blocks — the error still names the first bad iteration and its
    loss, and recorders never see a state past it.
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
    check_every = max(int(check_every), 1)
    # deferred checks: nothing but an exception can follow a bad loss, so inspect losses in blocks
    defer = tol is None and (on_divergence == "raise" or not batch)
    block = 64 if defer else 1
    engine = _make_engine(net, problem, optimizer, block)
    active = np.ones(batch, dtype=bool) if batch else None
    stop_it = np.full(batch, -1, dtype=np.int64)
    div_at = np.full(batch, -1, dtype=np.int64)
    out: dict[str, list] = {k: [] for k in fns}
    times: list[float] = []
    it_rec: list[int] = []
    rec_set = set(int(i) for i in rec_it)
    pending: list[int] = []  # checked iterations whose loss waits in the engine's ring
    thr = None

    def bad_of(loss_np: np.ndarray) -> np.ndarray:
        return ~np.isfinite(loss_np) | (loss_np > thr)

    def flush() -> None:
        if not pending:
            return
        L = engine.losses(len(pending))
        Lnp = L.detach().cpu().numpy()
        bad = bad_of(Lnp).reshape(len(pending), -1).any(-1)
        if bad.any():
            k = int(np.argmax(bad))
            bad_k = torch.as_tensor(bad_of(Lnp[k]))
            raise DivergenceError(_divergence_message(pending[k], L[k], bad_k, optimizer, net))
        pending.clear()

    def record_now(t: int, loss: Tensor) -> None:
        times.append(time.perf_counter() - t0)
        it_rec.append(t)
        W_end = engine.end_to_end()
        with torch.no_grad():
            for k, f in fns.items():
                # a copy: a recorder may return a view of a buffer or of a weight that later steps overwrite
                out[k].append(f(net, W_end, loss).detach().to("cpu", copy=True).numpy())

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=iterations, desc=progress if isinstance(progress, str) else net.name, leave=False)

    t0 = time.perf_counter()
    steps_done = 0
    t = 0
    for t in range(iterations + 1):
        loss = None
        if t in rec_set:
            flush()
            loss = engine.loss_now()
            record_now(t, loss)
        if t == 0:
            loss = engine.loss_now() if loss is None else loss
            loss0 = loss.detach().clone()
            if not torch.isfinite(loss0).all():
                raise DivergenceError("the initial loss is not finite: check the target and the initialisation.")
            thr = (divergence_factor * loss0.clamp_min(1e-300)).cpu().numpy()
        if t % check_every == 0 or t == iterations:
            if defer:
                if t == 0:
                    engine.store(0)
                pending.append(t)
                if len(pending) == block or t == iterations:
                    flush()
            else:
                loss = engine.loss_now() if loss is None else loss
                lnp = loss.detach().cpu().numpy()
                bad = bad_of(lnp)
                changed = False
                if bad.any():
                    if on_divergence == "raise" or not batch:
                        raise DivergenceError(_divergence_message(t, loss, torch.as_tensor(bad), optimizer, net))
                    newly = bad & (div_at < 0)
                    div_at[newly] = t
                    changed = bool((active & bad).any())
                    active = active & ~bad
                if tol is not None:
                    hit = lnp <= tol
                    if batch:
                        newly = hit & (stop_it < 0) & (div_at < 0)
                        stop_it[newly] = t
                        changed = changed or bool((active & (stop_it >= 0)).any())
                        active = active & ~(stop_it >= 0)
                        if not active.any():
                            break
                    elif hit:
                        stop_it[()] = t
                        break
                if batch and not active.any():
                    break
                if changed:
                    engine.set_active(active)
        if t == iterations:
            break
        if defer and t + 1 in rec_set:
            flush()  # recorders see no state past a bad loss
        engine.step(len(pending) if defer and ((t + 1) % check_every == 0 or t + 1 == iterations) else None)
        steps_done += 1
        if bar is not None and (t % 100 == 99):
            bar.update(100)
    elapsed = time.perf_counter() - t0
    if bar is not None:
        bar.close()
    # record the final state if the run ended early at a tolerance
    if it_rec and it_rec[-1] != t and (tol is not None or div_at.max() >= 0) and t not in rec_set:
        record_now(t, engine.loss_now())
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
