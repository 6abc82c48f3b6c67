"""Training: the loop that drives a step engine, records, stops at a tolerance and detects divergence.

:func:`train` runs plain GD on a fused engine (:mod:`dlnlib._engines`) and any other optimiser of
:mod:`dlnlib.optim` on the reference step; :mod:`dlnlib.recorders` says what a run records.
"""

from __future__ import annotations

import time
import warnings
from typing import Iterable, Sequence

import numpy as np
import torch

from ._engines import _make_engine
from ._util import Tensor, check_int, check_real
from .networks import DLN
from .optim import GD, Adam, DivergenceError, _fmt
from .optim import layer_grads, loss_and_grads, prefix_products  # noqa: F401  TRANSITIONAL re-export, removed after the move
from .problems import Problem
from .recorders import History, Recorder, builtin_recorders, record_grid

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
    stall_window: int | None = None,
    stall_rtol: float = 1e-3,
) -> History:
    """Run ``iterations`` optimiser steps of ``net`` on ``problem`` and record what was asked.

    ``record_at``: iterations to record (0 = the initial state), or an int ``n`` for ``n`` evenly spaced ones
    (default 100). ``record``: names from ``loss, recovery_error, test_error, sv, layer_sv, angles``;
    ``recorders``: extra ``name -> f(net, W_end, loss)``. ``tol``: a run stops (its steps are frozen) once its
    loss is ``<= tol``; training ends when all runs of the batch have stopped. The loss is checked every
    ``check_every`` steps: a NaN/Inf, or growth above ``divergence_factor`` × the initial loss, raises
    :class:`DivergenceError` naming ``η`` and the per-factor scales (``on_divergence="raise"``), or, with
    ``"flag"``, freezes only the diverged runs and records when. ``progress``: a tqdm bar (or its label).
    The network is copied unless ``in_place``. ``stall_window`` (opt-in, needs ``"loss"`` in ``record``): warn
    with :class:`NoProgressWarning` when a run that neither stopped at ``tol`` nor diverged ends with a loss
    above ``(1 − stall_rtol)`` × its recorded loss ``stall_window`` iterations earlier (a plateau from a too
    small ε or η, or GD oscillating just above the stability bound).

    Plain GD runs on a fused engine (``3(L−1)`` matmuls a step, no temporaries; see the engine notes above);
    other optimisers use :func:`layer_grads` and ``optimizer.step``. Where the divergence check can only
    raise (no ``tol``; ``on_divergence="raise"`` or one run), the losses of the checked iterations are
    collected on the device and inspected in blocks — the error still names the first bad iteration and its
    loss, and recorders never see a state past it.
    """
    _check_args(net, problem, optimizer, iterations, record_at, tol, divergence_factor, on_divergence, check_every,
                record, stall_window, stall_rtol)
    net = net if in_place else net.clone()
    if record_at is None:
        record_at = 100
    rec_it = record_grid(iterations, record_at) if isinstance(record_at, int) else np.unique(
        np.asarray(list(record_at), dtype=int))
    if len(rec_it) and (rec_it.min() < 0 or rec_it.max() > iterations):
        raise ValueError(f"record_at must lie in [0, {iterations}].")
    fns = builtin_recorders(record, net, problem)
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
    if stall_window is not None:
        _warn_if_stalled(np.asarray(it_rec), values, stop_it, div_at, stall_window, stall_rtol)
    return History(np.asarray(it_rec), values, np.asarray(times), stop_it, div_at, net,
                   elapsed / max(steps_done, 1))


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
    check_real("divergence_factor", divergence_factor, low=1.0, low_open=True)
    if on_divergence not in ("raise", "flag"):
        raise ValueError(f"on_divergence must be 'raise' or 'flag', got {on_divergence!r}.")
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
    ref = target if target is not None else getattr(problem, "X", None)
    if ref is not None and ref.dtype != net.weights[0].dtype:
        raise TypeError(f"the problem is {ref.dtype} but the network is {net.weights[0].dtype}; build both in one "
                        "dtype (float64 by default, float32 allowed).")
    pb = tuple(ref.shape[:-2]) if target is not None else ()
    try:
        ok = tuple(torch.broadcast_shapes(pb, net.batch_shape)) == tuple(net.batch_shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(f"the problem's batch shape {pb} does not fit the network's batch shape {net.batch_shape}: "
                         "a batch of problems needs a network with the same batch (build it with batch=(B,) or "
                         "dlnlib.batching.stack_nets); one problem may serve a batch of networks.")


def _divergence_message(t, loss, bad, optimizer, net) -> str:
    mult = [f"{k} = {_fmt(v)}" for k, v in (("α", net.alpha), ("γ", net.gamma))
            if isinstance(v, Tensor) or v != 1.0]
    idx = torch.nonzero(bad.reshape(-1)).flatten().tolist()
    which = f" (runs {idx[:10]} of the batch)" if bad.ndim else ""
    return (
        f"training diverged at iteration {t}{which}: loss = {loss.reshape(-1)[idx[0]].item():.3e}. "
        f"The step size is too large: {optimizer.describe()}"
        + (f", outer-factor step multiplier {', '.join(mult)}" if mult else "") + ". "
        f"Reduce η{' (or ' + ' / '.join(m.split(' ')[0] for m in mult) + ')' if mult else ''} — for factorisation "
        f"with the ½‖·‖² loss, GD is stable roughly when η·L·σ_max^(2−2/L) < 2."
    )
