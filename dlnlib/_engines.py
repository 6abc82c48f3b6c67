"""Step engines: the loop in :func:`dlnlib.train.train` drives one of two, with the same interface.

``_Reference`` is the textbook step (prefix products, problem.loss_grad, layer_grads, optimizer.step) and
serves every optimiser. ``_FusedGD`` is the hot path for plain GD (no momentum): the same arithmetic in
3(L−1) matmuls on preallocated buffers, with the weight update folded into the matmul
(``W ← βW − a·B Pᵀ`` is one addmm), the factorisation/completion residual folded into the last forward
matmul (``R = W_L P_{L−1} − M`` is one addmm with β = −1) and the loss taken as one norm of ``R``; the
step is a precompiled list of calls, so the Python loop adds little. (Cutting a batch into cache-sized
chunks was tried and measured slower on the workbook machine.) Both engines hold the state *after* the
forward pass of the current iterate: ``loss_now()``, ``end_to_end()``; ``step(slot)`` makes one optimiser
step and the next forward pass, writing that iterate's loss into ``ring[slot]`` when ``slot`` is not None.
``benchmarks/bench_train.py`` measures the fused engine against the machine's matmul throughput.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._util import Tensor
from .networks import DLN
from .optim import GD, layer_grads, prefix_products
from .problems import Completion, Factorisation, Problem

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


