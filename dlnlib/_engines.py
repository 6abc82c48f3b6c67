"""Step engines: the loop in :func:`dlnlib.train.train` drives one of two, with the same interface.

``_Reference`` is the textbook step (prefix products, problem.loss_grad, layer_grads, optimizer.step) and
serves every optimiser. ``_FusedGD`` is the hot path for plain GD (no momentum): the same arithmetic in
3(L−1) matmuls on preallocated buffers, with the weight update folded into the matmul
(``W ← βW − a·B Pᵀ`` is one addmm), the factorisation residual folded into the last forward matmul
(``R = W_L P_{L−1} − M`` is one addmm with β = −1), the completion residual ``Ω⊙(W_L P_{L−1} − M)`` one
addcmul after it (``−Ω⊙M + Ω⊙X``: the same bits as a subtraction and a mask multiply, with one pass less
over ``R``) and the loss taken as one norm of ``R``; the
step is a precompiled list of calls, so the Python loop adds little. (Cutting a batch into cache-sized
chunks was tried and measured slower on the workbook machine; a subtraction after a plain matmul instead of
the β = −1 addmm and calls bound with ``functools.partial`` were no faster; ``torch.compile`` of the C-DLN
step took 72 s to compile, changed the last bits and ran 3.6× slower.) Both engines hold the state *after*
the forward pass of the current iterate: ``loss_now()``, ``end_to_end()``; ``steps(slots)`` makes one
optimiser step and the next forward pass per entry of ``slots``, writing that iterate's loss into
``ring[slot]`` when the entry is not None (the loop reads the ring once per block of steps).

**Working set.** ``_FusedGD`` on factorisation/completion can *repack* (``compact``): the members of a
batch that still move are gathered into smaller contiguous buffers and the engine is rebuilt for them; the
full-size weights (``net.weights``) keep every member, and the members that left keep their frozen state
there. ``loss_now()``/``end_to_end()`` always describe the whole batch (at a record the working members are
scattered back and the whole batch's forward pass is recomputed with the very calls a non-repacked engine
makes), ``loss_work()``/``ring_losses()`` only the working set. Repacking is exact because each batched call
(``bmm``, ``baddbmm``, elementwise ops, the row norms) gives a member the same bits whatever the batch around
it — measured on this machine's torch/MKL for batches of 2 and more; a batch of *one* is routed to a
different kernel (``gemv``) when a matrix has a dimension 1, and with several threads to a multithreaded
gemm that rounds differently, so the working set keeps 2 members unless neither applies (see
:attr:`_FusedGD.min_work`). ``snapshot()``/``restore()`` save and restore the working weights (the loop
re-runs a block from its start to stop a member at the exact iteration where it met its tolerance).
``benchmarks/bench_train.py`` measures the fused engine against the machine's matmul throughput.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._util import Tensor, broadcasts_to
from .networks import DLN
from .optim import GD, layer_grads, prefix_products
from .problems import Completion, Factorisation, Problem


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class _Reference:
    """Any optimiser: prefix products, ``problem.loss_grad``, :func:`layer_grads`, ``optimizer.step``.

    No snapshots (an optimiser keeps its own state) and no repacking: the loop checks such runs step by step
    whenever a member can stop early.
    """

    can_rewind = False
    norm_costs = False
    can_compact = False
    work = None

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

    def ring_losses(self, n: int) -> np.ndarray:
        """Losses of the first ``n`` ring rows, ``(n, B)`` (``B = 1`` unbatched)."""
        return self.ring[:n].detach().cpu().numpy().reshape(n, -1)

    def loss_work(self) -> np.ndarray:
        return self.loss.detach().cpu().numpy().reshape(-1)

    def loss_now(self) -> Tensor:
        return self.loss

    def end_to_end(self) -> Tensor:
        return self.P[-1]

    def set_active(self, mask: np.ndarray | None) -> None:
        self.active = None if mask is None else torch.as_tensor(mask, dtype=self.dtype, device=self.device)

    def sync(self) -> None:
        pass

    def step(self, slot: int | None) -> None:
        grads = layer_grads(self.net.weights, self.G, self.P)
        self.opt.step(self.net.weights, grads, self.net.lr_scales, self.active)
        self._forward()
        self._store(slot)

    def steps(self, slots) -> None:
        for s in slots:
            self.step(s)


class _FusedGD:
    """Plain GD (no momentum) fused into ``3(L−1)`` matmuls per step on preallocated buffers (see above).

    ``mode``: ``"fact"`` / ``"comp"`` (residual and loss computed here with the formulas of
    :class:`~dlnlib.problems.Factorisation` / :class:`~dlnlib.problems.Completion`, equal up to rounding)
    or ``"generic"`` (``problem.loss_grad`` on the end-to-end matrix). Batch dims are flattened to one.
    ``W``, ``P``, ``Bb``, ``R``, ``M``, ``mask``, ``c``, ``a``, ``beta``, ``ring`` describe the working set
    (the whole batch until :meth:`compact`); ``Wf``, ``Mf``, ``maskf``, ``cf`` the whole batch.
    """

    can_rewind = True

    def __init__(self, net: DLN, problem: Problem, opt: GD, mode: str, ring_len: int):
        self.net, self.problem, self.opt, self.mode = net, problem, opt, mode
        Ws = net.weights
        W0 = Ws[0]
        self.dtype, self.device = dt, dev = W0.dtype, W0.device
        self.batch = batch = net.batch_shape
        self.B = Bn = math.prod(batch) if batch else 0
        self.L = len(Ws)
        self.ring_len = ring_len
        flat = (lambda x: x.view((Bn,) + tuple(x.shape[-2:]))) if batch else (lambda x: x)
        self.Wf = [flat(W) for W in Ws]  # views: in-place updates land in net.weights
        if mode in ("fact", "comp"):
            self.Mf = self._per_run_matrix(problem.target)
            self.maskf = self._per_run_matrix(problem.mask) if mode == "comp" else None
            # −Ω⊙M: the masked residual Ω⊙(W − M) is then one call, addcmul(−Ω⊙M, Ω, W) (Ω is 0/1, so Ω⊙W is
            # exact and the sum rounds as W − M does: the same bits, up to the sign of a zero)
            self.negf = torch.mul(self.maskf, self.Mf).neg_() if mode == "comp" else None
            c = problem.loss_scale
            self.cg = c if _is_number(c) or c.ndim else float(c)  # G = c·R: c folds into the step coefficients
            self.cf = self.cg if _is_number(self.cg) else \
                self.cg.to(dtype=dt, device=dev).expand(batch).reshape(-1)  # (B,) for the loss
        else:
            self.Mf = self.maskf = self.negf = None
            self.cf, self.cg = 1.0, 1.0
        self.norm_costs = mode != "generic"  # the loss is a call of its own (the generic step computes it anyway)
        # repacking: CPU only (cuBLAS picks batched kernels by batch size: untested there), fused residual only
        self.can_compact = bool(batch) and mode != "generic" and dev.type == "cpu"
        #: smallest working set: one member only where a batch of one takes the batched kernels' path
        self.min_work = 1 if (torch.get_num_threads() == 1 and min(net.widths) >= 2) else 2
        self.work: np.ndarray | None = None  # full-batch indices of the working set; None: the whole batch
        self.work_t: Tensor | None = None
        self.full_act = None
        self._full: tuple | None = None  # (P, R) of the whole batch, kept for records once repacked
        self._full_fresh = False
        self._setup(self.Wf)
        self.set_active(None)
        self._forward_all(None)

    # -- setup ---------------------------------------------------------------------------------

    def _per_run_matrix(self, X: Tensor) -> Tensor:
        X = X.to(dtype=self.dtype)
        if not self.batch or X.ndim == 2:
            return X
        return X.expand(self.batch + tuple(X.shape[-2:])).reshape((self.B,) + tuple(X.shape[-2:]))

    def _take(self, x):
        """The working set's rows of a per-run tensor (numbers and shared matrices pass through)."""
        # per run: c (B,), coefficients (B, 1, 1), targets and masks (B, m, n); shared: numbers, (m, n) matrices
        if self.work_t is None or not isinstance(x, Tensor) or x.ndim not in (1, 3):
            return x
        return x.index_select(0, self.work_t)

    def _setup(self, W: list) -> None:
        """Buffers for the working weights ``W`` (views of the whole batch, or repacked copies)."""
        self.W = W
        lead = (W[0].shape[0],) if self.batch else ()
        d0, dL = W[0].shape[-1], W[-1].shape[-2]
        # zeros, not empty: the pages are touched here, in the set-up, not in the first steps
        emp = lambda *s: torch.zeros(lead + s, dtype=self.dtype, device=self.device)  # noqa: E731
        self.P = [W[0]] + [emp(Wi.shape[-2], d0) for Wi in W[1:-1]]  # P[i] = W_{i+1:1}, i < L-1
        self.Bb = [emp(Wi.shape[-2], d0) for Wi in W[:-1]]  # Bb[i] carries the gradient to layer i
        self.R = emp(dL, d0)  # residual (fact/comp) or end-to-end matrix (generic)
        self.M, self.mask, self.c = self._take(self.Mf), self._take(self.maskf), self._take(self.cf)
        self.neg = self._take(self.negf)
        self.ring = torch.empty((self.ring_len,) + lead, dtype=self.dtype, device=self.device)
        self.tmp: list[Tensor | None] = [None] * self.L
        self.norm_ops: dict = {}
        self.snap: list | None = None

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
        """Per-run ``0/1`` multipliers of the step over the *whole* batch (stopped / diverged runs are frozen).

        The coefficients are computed for the whole batch, as without repacking, and the working set's rows
        taken from them, so a member's arithmetic does not depend on which others are still in the batch.
        """
        self.full_act = mask
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
            self.a.append(self._take(self._coef(-1.0, lr, s, self.cg, act)))  # the step is W += a·(…)
            if lam:
                lr_act = self._coef(lr, act)
                self.beta.append(self._take(1.0 - lr_act * lam))
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

    # -- working set -----------------------------------------------------------------------------

    def compact(self, keep: np.ndarray) -> None:
        """Repack: only the whole-batch members ``keep`` (sorted flat indices, a subset of the working set)
        stay in the working buffers; the others keep their current (frozen) weights in ``net.weights``."""
        self.sync()
        if self._full is None:
            self._full = (self.P, self.R)  # the whole batch's buffers, reused by the records
        self.work = np.asarray(keep, dtype=np.int64)
        self.work_t = torch.as_tensor(self.work, device=self.device)
        self._setup([Wf.index_select(0, self.work_t) for Wf in self.Wf])
        self.set_active(self.full_act)
        self._forward_all(None)
        self._full_fresh = False

    def sync(self) -> None:
        """Write the working members' weights into the whole-batch weights (``net.weights``)."""
        if self.work is not None:
            for Wf, W in zip(self.Wf, self.W):
                Wf.index_copy_(0, self.work_t, W)

    def snapshot(self) -> None:
        if self.snap is None:
            self.snap = [torch.empty_like(W) for W in self.W]
        for s, W in zip(self.snap, self.W):
            s.copy_(W)

    def restore(self) -> None:
        """Back to the last :meth:`snapshot` (same coefficients), forward pass included."""
        for s, W in zip(self.snap, self.W):
            W.copy_(s)
        self._forward_all(None)
        self._full_fresh = False

    # -- forward / step: each is a precompiled list of (function, args, kwargs) --------------

    def _ops_forward(self, slot: int | None, W=None, P=None, R=None, M=None, mask=None, neg=None) -> list:
        """The forward pass on the working buffers (or on the given ones: the whole batch at a record)."""
        if W is None:
            W, P, R, M, mask, neg = self.W, self.P, self.R, self.M, self.mask, self.neg
        L = self.L
        mm = torch.mm if R.ndim == 2 else torch.bmm
        ops = [(mm, (W[i], P[i - 1]), {"out": P[i]}) for i in range(1, L - 1)]
        if mask is not None:  # R = Ω⊙(W_L P_{L-1} − M) = −Ω⊙M + Ω⊙(W_L P_{L-1}): a product and one addcmul
            if L > 1:
                ops.append((mm, (W[L - 1], P[L - 2]), {"out": R}))
            ops.append((torch.addcmul, (neg, mask, R if L > 1 else W[0]), {"out": R}))
        elif L == 1:
            ops.append((torch.sub, (W[0], M), {"out": R}))
        else:  # R = W_L P_{L-1} − M in one call
            ops.append((torch.addmm if R.ndim == 2 else torch.baddbmm, (M, W[L - 1], P[L - 2]),
                        {"beta": -1, "out": R}))
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
                kw = {} if bi == 1.0 else {"beta": bi}  # β = 1 is the default: one argument less to parse
                if isinstance(ai, float):  # W_i ← β W_i + a·B_i P_{i-1}ᵀ in one call
                    ops.append((addmm_, (Bc, P[i - 1].mT), {**kw, "alpha": ai}))
                elif self._scale_B(i):  # per-run a: scale the smaller operand first
                    ops.append((torch.mul, (Bc, ai), {"out": tmp[i]}))
                    ops.append((addmm_, (tmp[i], P[i - 1].mT), kw))
                else:
                    ops.append((torch.mul, (P[i - 1], ai), {"out": tmp[i]}))
                    ops.append((addmm_, (Bc, tmp[i].mT), kw))
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
        self.steps((slot,))

    def steps(self, slots) -> None:
        """One GD step (and the next forward pass) per entry of ``slots``; an int stores that iterate's
        ``‖R‖`` in ``ring[slot]``."""
        self._full_fresh = False
        if self.mode == "generic":
            for slot in slots:
                for f, args, kw in self._ops_update(self.G):
                    f(*args, **kw)
                self._forward_generic(slot)
            return
        plans = self.plans
        for slot in slots:
            plan = plans.get(slot)
            for f, args, kw in (plan if plan is not None else self._plan(slot)):
                f(*args, **kw)

    # -- read-out ------------------------------------------------------------------------------

    @staticmethod
    def _norm(R: Tensor) -> Tensor:
        return torch.linalg.vector_norm(R.view(-1) if R.ndim == 2 else R.view(R.shape[0], -1), dim=-1)

    @staticmethod
    def _finalize(norms: Tensor, c) -> Tensor:
        """``½·c·‖R‖²`` from norms ``(..., B)``."""
        return (0.5 * c) * norms.square() if _is_number(c) else 0.5 * c * norms.square()

    def _whole(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[:-1] + self.batch) if self.batch else x

    def ring_losses(self, n: int) -> np.ndarray:
        """The working set's losses of the first ``n`` ring rows, ``(n, B_work)`` (``B_work = 1`` unbatched)."""
        if self.mode == "generic":
            L = self.ring[:n]
        else:
            L = self._finalize(self.ring[:n], self.c)
        return L.detach().cpu().numpy().reshape(n, -1)

    def loss_work(self) -> np.ndarray:
        """The working set's current losses, flat."""
        L = self.loss if self.mode == "generic" else self._finalize(self._norm(self.R), self.c)
        return L.detach().cpu().numpy().reshape(-1)

    def _full_forward(self) -> None:
        """The whole batch's forward pass on its own buffers (after a repack), with the same calls."""
        if not self._full_fresh:
            self.sync()
            P, R = self._full
            for f, args, kw in self._ops_forward(None, self.Wf, P, R, self.Mf, self.maskf, self.negf):
                f(*args, **kw)
            self._full_fresh = True

    def loss_now(self) -> Tensor:
        """The whole batch's current losses, shaped like the batch."""
        if self.mode == "generic":
            return self.loss
        if self.work is None:
            return self._whole(self._finalize(self._norm(self.R), self.cf))
        self._full_forward()
        return self._whole(self._finalize(self._norm(self._full[1]), self.cf))

    def end_to_end(self) -> Tensor:
        """The whole batch's end-to-end matrices ``(*batch, d_L, d_0)``."""
        if self.mode == "generic":
            E = self.R if self.L > 1 else self.W[0]
            E = E.clone()
        elif self.L == 1:
            self.sync()
            return self.net.weights[0]
        elif self.work is None:
            E = torch.matmul(self.W[-1], self.P[-1])
        else:
            self._full_forward()
            E = torch.matmul(self.Wf[-1], self._full[0][-1])
        return E.view(self.batch + tuple(E.shape[-2:])) if self.batch else E


def _mm(a: Tensor, b: Tensor, out: Tensor) -> None:
    (torch.mm if a.ndim == 2 else torch.bmm)(a, b, out=out)


def _make_engine(net: DLN, problem: Problem, optimizer, ring_len: int):
    """The fused engine where it applies (plain GD, uniform batch, matching dtypes), else the reference one."""
    if type(optimizer) is GD and not optimizer.momentum and _fusable(net, problem, optimizer):
        lg = type(problem).loss_grad
        mode = "fact" if lg is Factorisation.loss_grad else "comp" if lg is Completion.loss_grad else "generic"
        if mode != "generic":
            X = [problem.target] + ([problem.mask] if mode == "comp" else [])
            c = problem.loss_scale
            ok = all(x.device == net.weights[0].device and broadcasts_to(x.shape[:-2], net.batch_shape) for x in X)
            ok = ok and problem.target.dtype == net.weights[0].dtype
            ok = ok and (_is_number(c) or (isinstance(c, Tensor) and broadcasts_to(c.shape, net.batch_shape)))
            if not ok:
                mode = "generic"
        try:
            return _FusedGD(net, problem, optimizer, mode, ring_len)
        except RuntimeError:  # e.g. weights that cannot be viewed with one flat batch dim
            pass
    return _Reference(net, problem, optimizer, ring_len)


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
            if not broadcasts_to(x.shape, batch):
                return False
        elif not _is_number(x):
            return False
    return True
