"""Training: the loop that drives a step engine, records, stops at a tolerance and detects divergence.

:func:`train` runs plain GD on a fused engine (:mod:`dlnlib._engines`) and any other optimiser of
:mod:`dlnlib.optim` on the reference step; :mod:`dlnlib.recorders` says what a run records.

**Blocks of steps.** The loop runs the engine in blocks of steps without looking at the losses in between:
the losses of the checked iterations are written on the device into a ring buffer and read once per block
(about :data:`_BLOCK_S` seconds of steps, at most :data:`_RING` steps, and every block ends at a recorded
iteration). The checks are then replayed on the host exactly as a step-by-step loop would make them. When a
member met its tolerance (or diverged under ``on_divergence="flag"``) inside a block, the engine goes back to
the block's start (a snapshot of the weights) and re-runs the steps up to that iteration, so the member is
frozen exactly where a step-by-step check freezes it; a block costs one host synchronisation instead of one
per step.

**Which iterations are checked by default** (``check_every=None``). Where the loss is a call of its own (the
fused engine's norm of the residual, ~15 % of a C-DLN step at ``d = 100``) and the weights can be restored,
the loss is computed only at every :data:`_WINDOW`-th iteration, at the recorded ones and at the last (the
*window ends*). When a window end's loss qualifies (``<= tol``, or bad: not finite or above the divergence
threshold), the block is re-run from its snapshot with every step's loss and the steps of that window are
checked one by one. A run therefore stops, is flagged or raises at the iteration a check every step gives,
unless its loss went below ``tol`` (or above the threshold) and back between two window ends — which GD
converging linearly (or diverging geometrically) does not do; ``check_every=1`` checks every step. Blocks end
at window ends, so the result does not depend on the block lengths (on the machine's speed). Elsewhere (the
generic engine, whose step computes the loss anyway; Adam and momentum, whose state cannot be rewound) every
step is checked, as with ``check_every=1``.

**Batches that compact.** In a batch, a member that stopped (or was flagged) is frozen; once it has made
its last (frozen) step and at least :data:`_REPACK` of the working batch has left, the fused engine repacks
the members that still move into smaller buffers (see :mod:`dlnlib._engines`), so finished runs cost nothing.
The :class:`~dlnlib.recorders.History` is unchanged by it: every member's recorded values, stopping
iteration and final weights are bit-identical to a run without repacking (``tests/test_compaction.py``).
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Iterable, Sequence

import numpy as np
import torch

from ._engines import _make_engine
from ._util import Tensor, broadcasts_to, check_int, check_real
from .networks import DLN
from .optim import GD, Adam, DivergenceError, _fmt
from .problems import Problem
from .recorders import History, Recorder, builtin_recorders, record_grid

_RING = 256
"""Rows of the device ring of checked losses: the most steps in one block."""
_BLOCK_S = 5e-3
"""Target seconds of steps between two reads of the ring (the per-block work, ~50 µs, is then ~1 % of them)."""
_WINDOW = 16
"""With the default ``check_every`` on the fused engine, the loss is computed every ``_WINDOW`` steps (and at the
recorded and the last iterations); a window whose last loss qualifies is re-run with every step's loss."""
_REPACK = 0.125
"""Repack a batch once this fraction of its working members (at least one) has stopped and been frozen."""
DIVERGENCE_FACTOR = {"gd": 1e10, "momentum": 1e6, "adam": 1e6}
"""The default ``divergence_factor`` of :func:`train` per optimiser: a run diverged when a checked loss exceeds
this factor × its initial loss. Plain GD above its stability bound grows geometrically and reaches ``inf``
within tens of steps, so ``1e10`` only shortens that. Adam's per-entry step is about ``η`` whatever the gradient,
so a too large ``η`` does not blow up: the loss climbs to a high level and oscillates there (a 10×10 completion,
``L = 3``, Adam ``η = 10``: a peak at 4e8 × the initial loss, then ~5×; ``η = 30``: 3e11×, then 1e6×), and
heavy-ball momentum can overshoot before it blows up; for both the limit is ``1e6`` × the initial loss (Adam at
``η = 1`` on the same problems peaks at ~1e3× and converges; the workbook's Adam runs (``η ≤ 0.03``) and heavy-ball
runs (notebook 02, ``μ = 0.9``, ``η = 0.02``) stay far below the limit: their tests pass unchanged).
The reference is the initial loss, not the best one so far: near convergence Adam's loss legitimately jumps by
many orders of magnitude above its best (its step does not shrink with the gradient)."""
_NAMES = {"gd": "GD", "momentum": "GD with momentum", "adam": "Adam"}


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
    divergence_factor: float | None = None,
    on_divergence: str = "raise",
    check_every: int | None = None,
    progress: bool | str = False,
    in_place: bool = False,
    stall_window: int | None = None,
    stall_rtol: float = 1e-3,
    _compact: bool = True,
    _block: int | None = None,
) -> History:
    """Run ``iterations`` optimiser steps of ``net`` on ``problem`` and record what was asked.

    ``record_at``: iterations to record (0 = the initial state), or an int ``n`` for ``n`` evenly spaced ones
    (default 100). ``record``: names from ``loss, recovery_error, test_error, half_mse_unobserved,
    half_mse_masked, sv, layer_sv, angles``;
    ``recorders``: extra ``name -> f(net, W_end, loss)`` (always given the whole batch). ``tol``: a run stops
    (its steps are frozen) at the first checked iteration whose loss is ``<= tol``; training ends when all
    runs of the batch have stopped. A NaN/Inf loss, or growth above ``divergence_factor`` × the initial loss
    (default :data:`DIVERGENCE_FACTOR`: ``1e10`` for plain GD, ``1e6`` for Adam and GD with momentum), raises
    :class:`DivergenceError` naming the first bad checked iteration, the optimiser, ``η`` and the per-factor
    scales, what to reduce (``η``, α/γ, the momentum) and the stability rule of this problem
    (:func:`dlnlib.theory.stability_rule`) (``on_divergence="raise"``), or, with ``"flag"``, freezes only the
    diverged runs and records when.
    ``progress``: a tqdm bar (or its label). The network is copied unless ``in_place``. ``stall_window``
    (opt-in, needs ``"loss"`` in ``record``): warn with :class:`NoProgressWarning` when a run that neither
    stopped at ``tol`` nor diverged ends with a loss above ``(1 − stall_rtol)`` × its recorded loss
    ``stall_window`` iterations earlier (a plateau from a too small ε or η, or GD oscillating just above the
    stability bound).

    ``check_every``: the checked iterations are the multiples of ``check_every`` and the last one; a run
    stops (or is flagged) at the first of them where its loss qualifies (it may miss a loss that dips below
    ``tol`` between two of them). The default (``None``) stops, flags and raises at the iteration a check every
    step gives, at a fraction of its cost (module notes above: the loss every 16th step, a window searched step
    by step when its end qualifies; a dip below ``tol`` that is over before a window's end is not seen).
    ``check_every=1`` computes and checks every step's loss.

    Plain GD runs on a fused engine (``3(L−1)`` matmuls a step, no temporaries; see :mod:`dlnlib._engines`),
    whose batches repack as their members stop (module notes); other optimisers use :func:`layer_grads` and
    ``optimizer.step`` and are checked step by step when a member can stop early. ``_compact=False`` and
    ``_block=k`` (fixed block length) are for tests and benchmarks: neither changes a number of the result.
    """
    _check_args(net, problem, optimizer, iterations, record_at, tol, divergence_factor, on_divergence, check_every,
                record, stall_window, stall_rtol)
    net = net if in_place else net.clone()
    if divergence_factor is None:
        divergence_factor = DIVERGENCE_FACTOR[_kind(optimizer)]
    if record_at is None:
        record_at = 100
    rec_it = record_grid(iterations, record_at) if isinstance(record_at, int) else np.unique(
        np.asarray(list(record_at), dtype=int))
    if len(rec_it) and (rec_it.min() < 0 or rec_it.max() > iterations):
        raise ValueError(f"record_at must lie in [0, {iterations}].")
    fns = builtin_recorders(record, net, problem)
    fns.update(recorders or {})

    batch = net.batch_shape
    every = 1 if check_every is None else int(check_every)
    freezes = tol is not None or (on_divergence == "flag" and bool(batch))  # a member can stop mid-block
    engine = _make_engine(net, problem, optimizer, _RING)
    # the loss is a call of its own: compute it at the window ends, search a window whose end qualifies step by step
    windowed = check_every is None and engine.can_rewind and engine.norm_costs
    if freezes and not engine.can_rewind:  # no snapshots (optimiser state): check step by step
        k, adapt = 1, False
    elif freezes or windowed:  # blocks of ~_BLOCK_S (a re-run costs at most one block)
        k, adapt = min(_block or 4, _RING), _block is None
    else:  # every check's loss kept on the device, no re-runs: long blocks
        k, adapt = min(_block or 64, _RING), False
    ck = _Checks(batch, tol, on_divergence)
    out: dict[str, list] = {name: [] for name in fns}
    times: list[float] = []
    it_rec: list[int] = []
    rec_set = set(int(i) for i in rec_it)
    rec_sorted = np.asarray(sorted(rec_set), dtype=np.int64)

    def record_now(t: int, loss: Tensor) -> None:
        times.append(time.perf_counter() - t0)
        it_rec.append(t)
        W_end = engine.end_to_end()
        with torch.no_grad():
            for name, f in fns.items():
                # a copy: a recorder may return a view of a buffer or of a weight that later steps overwrite
                out[name].append(f(net, W_end, loss).detach().to("cpu", copy=True).numpy())

    def settle(ev, s: int, e: int, snap: bool) -> tuple[int, bool]:
        """Act on a check's event at iteration ``u`` of the block ``(s, e]``: ``(new iteration, ended)``."""
        kind, u = ev[0], ev[1]
        if u < e and snap:  # back to the block's start and forward to u: the state a step-by-step check stops at
            engine.restore()
            engine.steps([None] * (u - s))
        if kind == "raise":
            engine.sync()  # (an in-place network is left at the first bad iteration, where a snapshot allows)
            raise DivergenceError(_divergence_message(
                u, torch.as_tensor(ev[2]).reshape(batch), torch.as_tensor(ev[3]).reshape(batch), optimizer, net,
                problem, loss0.detach().cpu().reshape(batch), divergence_factor))
        if kind == "freeze":
            engine.set_active(ck.active.reshape(batch))
        return u, kind == "end"

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=iterations, desc=progress if isinstance(progress, str) else net.name, leave=False)

    t0 = time.perf_counter()
    loss = None
    if 0 in rec_set:
        loss = engine.loss_now()
        record_now(0, loss)
    loss0 = (engine.loss_now() if loss is None else loss).detach().clone()
    if not torch.isfinite(loss0).all():
        raise DivergenceError("the initial loss is not finite: check the target and the initialisation.")
    ck.start((divergence_factor * loss0.clamp_min(1e-300)).cpu().numpy().reshape(-1))
    t, done = 0, False
    ev = ck.scan([0], loss0.cpu().numpy().reshape(1, -1))  # iteration 0 is always checked
    if ev is not None:
        t, done = settle(ev, 0, 0, False)
    while not done and t < iterations:
        s = t
        j = int(np.searchsorted(rec_sorted, s, side="right"))
        e = s + k
        if windowed:  # blocks end at a window's end: the windows do not depend on the block lengths
            e = max(e // _WINDOW, s // _WINDOW + 1) * _WINDOW
        e = min(e, iterations, int(rec_sorted[j]) if j < len(rec_sorted) else iterations)
        n = e - s
        snap = n > 1 and (freezes or windowed)
        if snap:
            engine.snapshot()
        if every == 1 and not windowed:
            ts = list(range(s + 1, e + 1))
            slots = list(range(n))
        else:
            step = _WINDOW if windowed else every
            ts = [u for u in range(s + 1, e + 1) if u % step == 0 or u == iterations or (windowed and u == e)]
            pos = {u: i for i, u in enumerate(ts)}
            slots = [pos.get(u) for u in range(s + 1, e + 1)]
        tb = time.perf_counter()
        engine.steps(slots)
        dt = time.perf_counter() - tb
        rows = ck.rows(engine.ring_losses(len(ts)), engine.work) if ts else None
        busy = ts and ck.any_event(rows)  # else no check of this block acts (the usual case)
        if busy and windowed and n > 1:  # re-run it checking every step of the windows whose end qualifies
            ts, rows = _open_windows(engine, ck, s, ts, rows)
        last = bool(busy) and ts[-1] == e
        ev = (ck.scan(ts[:-1], rows[:-1]) if last else ck.scan(ts, rows)) if busy else None
        if ev is None:  # as step by step: record at e, then check e
            if e in rec_set:
                record_now(e, engine.loss_now())
            if last:
                ev = ck.scan(ts[-1:], rows[-1:])
        if ev is None:
            t = e
        else:
            t, done = settle(ev, s, e, snap)
        if bar is not None:
            bar.update(t - s)
        if adapt:
            k = max(1, min(_RING, int(_BLOCK_S * n / max(dt, 1e-9))))
        if _compact and engine.can_compact and not done and t < iterations:
            _repack(engine, ck, t)
    elapsed = time.perf_counter() - t0
    engine.sync()
    if bar is not None:
        bar.close()
    # record the final state if the run ended early at a tolerance
    if it_rec and it_rec[-1] != t and (tol is not None or ck.div_at.max() >= 0) and t not in rec_set:
        record_now(t, engine.loss_now())
    values = {name: np.stack(v) if v else np.zeros((0,)) for name, v in out.items()}
    stop_it, div_at = ck.stop_it.reshape(batch), ck.div_at.reshape(batch)
    if stall_window is not None:
        _warn_if_stalled(np.asarray(it_rec), values, stop_it, div_at, stall_window, stall_rtol)
    return History(np.asarray(it_rec), values, np.asarray(times), stop_it, div_at, net, elapsed / max(t, 1))


def _open_windows(engine, ck, s: int, ts: list[int], rows: np.ndarray) -> tuple[list[int], np.ndarray]:
    """The block ``(s, ts[-1]]`` re-run from its snapshot with every step's loss: the checks to replay are each
    step of a window ``(ts[j-1], ts[j]]`` whose end ``ts[j]`` may act (:meth:`_Checks.any_event`), and only the
    end of the others, so a stop or a flag lands where a step-by-step check puts it unless the loss crossed
    back within a window."""
    cand = ck._candidates(rows)
    n = ts[-1] - s
    engine.restore()
    engine.steps(range(n))
    full = ck.rows(engine.ring_losses(n), engine.work)
    its, keep, prev = np.arange(s + 1, s + n + 1), [], s
    for j, u in enumerate(ts):
        keep.extend(range(prev - s, u - s) if cand[j] else [u - s - 1])
        prev = u
    return its[keep].tolist(), full[keep]


class _Checks:
    """The tolerance and divergence checks of a step-by-step loop, made on blocks of iterations.

    Flat per-member arrays (one entry for an unbatched run): ``active``, ``stop_it``, ``div_at`` and
    ``frozen_at`` (when a member stopped moving); ``frozen`` holds the losses of the members that left the
    engine's working set. :meth:`scan` replays the checks of the rows in order and returns the first event.
    """

    def __init__(self, batch: tuple, tol: float | None, on_divergence: str):
        self.n = math.prod(batch) if batch else 1
        self.batch, self.tol = bool(batch), tol
        self.raises = on_divergence == "raise" or not batch  # a single run raises even under "flag"
        self.active = np.ones(self.n, dtype=bool)
        self.stop_it = np.full(self.n, -1, dtype=np.int64)
        self.div_at = np.full(self.n, -1, dtype=np.int64)
        self.frozen_at = np.full(self.n, -1, dtype=np.int64)

    def start(self, thr: np.ndarray) -> None:
        self.thr = thr
        self.frozen = np.zeros(self.n, dtype=thr.dtype)

    def rows(self, L: np.ndarray, work: np.ndarray | None) -> np.ndarray:
        """Whole-batch loss rows from the working set's ``(n, B_work)``: members that left are frozen."""
        if work is None:
            return L
        full = np.empty((L.shape[0], self.n), dtype=L.dtype)
        full[:] = self.frozen
        full[:, work] = L
        return full

    def _candidates(self, rows: np.ndarray) -> np.ndarray:
        """Rows (vectorised) at which :meth:`_act` may change something; every other row is a no-op."""
        bad = ~np.isfinite(rows) | (rows > self.thr)
        cand = bad.any(-1) if self.raises else (bad & (self.div_at < 0)).any(-1)
        if self.tol is not None:
            hit = rows <= self.tol
            cand = cand | ((hit & (self.stop_it < 0) & (self.div_at < 0)).any(-1) if self.batch else hit.any(-1))
        return cand

    def any_event(self, rows: np.ndarray) -> bool:
        return bool(self._candidates(rows).any())

    def scan(self, ts: Sequence[int], rows: np.ndarray):
        """Check the iterations ``ts`` (losses ``rows (len(ts), B)``) in order; the first event or None:
        ``("raise", t, loss, bad)``, ``("freeze", t)`` (some member stopped), ``("end", t)`` (all stopped)."""
        i = 0
        while i < len(ts):
            nz = np.flatnonzero(self._candidates(rows[i:]))
            if not len(nz):
                return None
            i += int(nz[0])
            ev = self._act(int(ts[i]), rows[i])
            if ev is not None:
                return ev
            i += 1
        return None

    def _act(self, t: int, loss: np.ndarray):
        """The check of one iteration, as the step-by-step loop makes it."""
        was = self.active.copy()
        bad = ~np.isfinite(loss) | (loss > self.thr)
        changed = end = False
        if bad.any():
            if self.raises:
                return "raise", t, loss, bad
            newly = bad & (self.div_at < 0)
            self.div_at[newly] = t
            changed = bool((self.active & bad).any())
            self.active &= ~bad
        if self.tol is not None:
            hit = loss <= self.tol
            if self.batch:
                newly = hit & (self.stop_it < 0) & (self.div_at < 0)
                self.stop_it[newly] = t
                changed = changed or bool((self.active & (self.stop_it >= 0)).any())
                self.active &= ~(self.stop_it >= 0)
                end = not self.active.any()
            elif hit.any():
                self.stop_it[:] = t
                end = True
        end = end or (self.batch and not self.active.any())
        self.frozen_at[was & ~self.active] = t
        if end:
            return "end", t
        return ("freeze", t) if changed else None


def _repack(engine, ck: _Checks, t: int) -> None:
    """Drop from the engine's working set the members frozen before ``t`` (they have made their last, frozen
    step) once they are at least :data:`_REPACK` of it; keep ``engine.min_work`` members."""
    if ck.active.all():
        return
    work = np.arange(ck.n) if engine.work is None else engine.work
    left = ~ck.active[work] & (ck.frozen_at[work] >= 0) & (ck.frozen_at[work] < t)
    n_left = int(left.sum())
    if n_left == 0 or n_left < _REPACK * len(work):
        return
    keep = work[~left]
    if len(keep) < engine.min_work:  # passengers: frozen members that stay (and keep making frozen steps)
        keep = np.sort(np.concatenate([keep, work[left][len(keep) - engine.min_work:]]))
    if len(keep) == len(work):
        return
    gone = ~np.isin(work, keep)
    ck.frozen[work[gone]] = engine.loss_work()[gone]
    engine.compact(keep)


class NoProgressWarning(UserWarning):
    """A run made no measurable progress over the window the caller asked to watch (``stall_window``)."""


def _warn_if_stalled(its: np.ndarray, values: dict, stop_it: np.ndarray, div_at: np.ndarray, window: int,
                     rtol: float) -> None:
    """Warn when ``loss(t_end) > (1 − rtol)·loss(t_j)``, ``t_j`` the latest record at or before ``t_end − window``."""
    if len(its) < 2 or its[-1] - its[0] < window:
        return
    j = int(np.nonzero(its <= its[-1] - window)[0][-1])
    first, last = values["loss"][j].reshape(-1), values["loss"][-1].reshape(-1)
    live = (stop_it.reshape(-1) < 0) & (div_at.reshape(-1) < 0)
    stalled = live & ~(last <= (1 - rtol) * first)
    if stalled.any():
        idx = np.nonzero(stalled)[0].tolist()
        which = f"runs {idx[:10]} of the batch" if stop_it.ndim else "the run"
        warnings.warn(NoProgressWarning(
            f"{which} made no progress over the last {its[-1] - its[j]} iterations: loss {first[idx[0]]:.4g} at "
            f"iteration {its[j]} → {last[idx[0]]:.4g} at {its[-1]} (less than a {rtol:g} relative decrease). "
            "A plateau: raise ε or η; or GD oscillating near the stability bound: lower η (or α)."), stacklevel=3)


def _check_args(net, problem, optimizer, iterations, record_at, tol, divergence_factor, on_divergence,
                check_every, record=("loss",), stall_window=None, stall_rtol=1e-3) -> None:
    """Reject bad arguments of :func:`train` with a message naming the argument, its value and what is allowed."""
    if not isinstance(net, DLN):
        raise TypeError(f"net must be a dlnlib DLN, got {type(net).__name__}.")
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a dlnlib Problem, got {type(problem).__name__}.")
    if not isinstance(optimizer, (GD, Adam)):
        raise TypeError(f"optimizer must be dlnlib.GD or dlnlib.Adam, got {type(optimizer).__name__}.")
    check_int("iterations", iterations, 0)
    if isinstance(record_at, int) and not isinstance(record_at, bool):
        check_int("record_at", record_at, 1)
    elif record_at is not None and len(list(record_at)) == 0:
        raise ValueError("record_at is empty: pass the iterations to record, or an int n for n evenly spaced ones.")
    if tol is not None:
        check_real("tol", tol, low=0.0)
    if divergence_factor is not None:
        check_real("divergence_factor", divergence_factor, low=1.0, low_open=True)
    if on_divergence not in ("raise", "flag"):
        raise ValueError(f"on_divergence must be 'raise' or 'flag', got {on_divergence!r}.")
    if check_every is not None:
        check_int("check_every", check_every, 1)
    if stall_window is not None:
        check_int("stall_window", stall_window, 1)
        if "loss" not in record:
            raise ValueError("stall_window watches the recorded loss: include 'loss' in record.")
        check_real("stall_rtol", stall_rtol, low=0.0, high=1.0, low_open=True, high_open=True)
    if (net.widths[-1], net.widths[0]) != tuple(problem.shape):
        raise ValueError(f"the network maps R^{net.widths[0]} -> R^{net.widths[-1]} but the problem's matrices are "
                         f"{problem.shape[0]}×{problem.shape[1]}; set d_L = {problem.shape[0]}, d_0 = {problem.shape[1]}.")
    target = getattr(problem, "target", None)
    measured = target is None and getattr(problem, "y", None) is not None  # sensing from measurements y (*b, m)
    ref = target if target is not None else problem.A if measured else getattr(problem, "X", None)
    if ref is not None and ref.dtype != net.weights[0].dtype:
        raise TypeError(f"the problem is {ref.dtype} but the network is {net.weights[0].dtype}; build both in one "
                        "dtype (float64 by default, float32 allowed).")
    pb = tuple(ref.shape[:-2]) if target is not None else tuple(problem.y.shape[:-1]) if measured else ()
    if not broadcasts_to(pb, net.batch_shape):
        raise ValueError(f"the problem's batch shape {pb} does not fit the network's batch shape {net.batch_shape}: "
                         "a batch of problems needs a network with the same batch (build it with batch=(B,) or "
                         "dlnlib.batching.stack_nets); one problem may serve a batch of networks.")


def _kind(optimizer) -> str:
    """``"adam"``, ``"momentum"`` (GD with heavy ball) or ``"gd"``: the key of :data:`DIVERGENCE_FACTOR`."""
    if isinstance(optimizer, Adam):
        return "adam"
    return "momentum" if getattr(optimizer, "momentum", 0.0) else "gd"


_GENERIC_RULE = ("for factorisation with the ½‖·‖² loss, GD is stable roughly when η·L·σ_max^(2−2/L) < 2 "
                 "(no closed-form rule for this problem)")


def _rule_text(problem, net, optimizer) -> str:
    """The stability rule of this problem (:func:`dlnlib.theory.stability_rule`), or the generic factorisation
    rule where it does not apply (a problem type it does not know, shapes it cannot read)."""
    from .theory import stability_rule

    try:
        return stability_rule(problem, net, optimizer).text.rstrip(".")
    except (TypeError, ValueError, RuntimeError):
        return _GENERIC_RULE


def _divergence_message(t, loss, bad, optimizer, net, problem=None, loss0=None, factor=None) -> str:
    """``training diverged at iteration t …: loss = …`` (and its growth over the initial loss), the optimiser and
    its step sizes, what to reduce, and the stability rule of ``problem`` (the generic one without it)."""
    mult = [f"{k} = {_fmt(v)}" for k, v in (("α", net.alpha), ("γ", net.gamma))
            if isinstance(v, Tensor) or v != 1.0]
    idx = torch.nonzero(bad.reshape(-1)).flatten().tolist()
    which = f" (runs {idx[:10]} of the batch)" if bad.ndim else ""
    x = loss.reshape(-1)[idx[0]].item()
    kind = _kind(optimizer)
    grew = ""
    if math.isfinite(x) and loss0 is not None and factor is not None:
        x0 = loss0.reshape(-1)[idx[0] if loss0.numel() > 1 else 0].item()
        grew = (f", {x / x0:.3g}× the initial loss {x0:.3e} (the limit is divergence_factor = {factor:g}"
                + (f", the default for {_NAMES[kind]}" if factor == DIVERGENCE_FACTOR[kind]
                   else "") + ")") if x0 > 0 else ""
    reduce = "η" + (f" (or {' / '.join(m.split(' ')[0] for m in mult)})" if mult else "")
    if kind == "momentum":
        reduce += f" or the momentum μ = {optimizer.momentum:g}"
    rule = _rule_text(problem, net, optimizer) if problem is not None else _GENERIC_RULE
    return (
        f"training diverged at iteration {t}{which}: loss = {x:.3e}{grew}. "
        f"The step size is too large{' for ' + _NAMES[kind] if kind != 'gd' else ''}: {optimizer.describe()}"
        + (f", outer-factor step multiplier {', '.join(mult)}" if mult else "") + ". "
        f"Reduce {reduce} — {rule}."
    )

