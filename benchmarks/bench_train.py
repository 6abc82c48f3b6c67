"""Training speed of dlnlib's GD engine against the machine's matmul throughput (a script, not a test).

    .venv/bin/python benchmarks/bench_train.py [--threads 1,2] [--quick] [--baseline COMMIT] [--budget 60]
                                               [--parts steps,sweep,tol-sweep,checks] [--tol-sweep-reps 1]

Prints, for each thread count (``torch.set_num_threads``):

1. GD iterations per second of ``train`` for the wide DLN (``L = 3``, all widths ``d``) and for C-DLN
   (``L = 3``, ``r̂ = 10``) on deep matrix factorisation, ``d ∈ {100, 300, 1000}``, float64 and float32, next
   to the *6-matmul floor*: a 3-layer step needs ``3(L−1) = 6`` products of ``d×d`` matrices, so with
   ``t_mm`` the measured time of one ``d×d×d`` matmul (``torch.mm`` into a preallocated output) no step can
   beat ``6·t_mm``. ``ratio = 6·t_mm / t_step`` is the fraction of the matmul roofline the loop reaches.
   Completion (``p = 0.3``) adds one mask multiply per step; its wide-DLN ratio is printed for ``d = 300``.
2. The α-sweep: 16 C-DLN runs (``d = 100``, ``r̂ ∈ {10, 20}``, 16 values of α) trained one by one (16 calls
   of ``cdln`` + ``train``) and as one batched run (``alpha`` a ``(16,)`` tensor): wall time of the whole
   sweep (construction, training, 20 recorded points) and time per step; factorisation and completion.
3. (one thread) Issue 13's α-sweep *to its tolerance*: 16 C-DLN runs on [K]'s α-ablation completion problem
   (``d = 100``, ``r = 5``, ``p = 0.2``, ``L = 3``, ``ε = 1e-2``, ``η = 10`` on the observed loss, ``r̂ = 10``,
   ``α = 0.5·2^(k/3)``, tol ``1e-10``: 1,979 to 22,348 iterations), end to end, as 16 runs one after another,
   as one batch that repacks as its members stop, and as one batch that does not (``_compact=False``, the
   arithmetic of the engine before repacking), with the member-steps each computes.
4. (one thread) The cost of the checks: µs per step of ``train`` for the C-DLN of part 3 (completion) and on
   factorisation without checks, with the default checks, with ``tol`` (the default: every 16th step's loss, a
   window re-run step by step when its end qualifies), with ``tol`` and ``check_every = 1`` and
   with ``check_every = 10``; next to the fused step alone, its 6 matmul calls timed alone, and its flops at
   the rate of a ``100×100×100`` matmul.

``--baseline COMMIT`` also times ``dlnlib/train.py`` (and ``dlnlib/_engines.py``) as they were at ``COMMIT``
(read with ``git show``) in the same interleaved windows and prints before → after columns. ``--budget``
bounds the wall time per thread count of parts 1 and 2: past it, repetitions stop early (the header of each
table says how many windows it is the best of), so a loaded machine does not stretch the run beyond a few
minutes; parts 3 and 4 take about 1 minute (2 with a baseline).

The 2 cores of the workbook machine are shared with other jobs. Every figure is therefore the *minimum*
over many short windows, and the matmul roofline, the training loops (and the baseline) are measured in
the same run, interleaved window by window, so that all of them see the same machine; a matmul window
runs the ``6n`` matmuls of an ``n``-step training window, so both are equally exposed to disturbance.
With one thread, times are the thread's CPU time (``time.thread_time``; the train modules' clock is
swapped for it, so ``History.seconds_per_step`` counts only time on a core): other jobs can then slow a
window only through shared caches and memory, not by taking the core. With two threads the times are
wall-clock (CPU time would count OpenMP spin-waiting), and on a loaded machine they are unreliable. The load average
is printed before and after; with a load far above 2 the absolute numbers (and the 2-thread ones most)
are pessimistic.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dlnlib._engines as _engines  # noqa: E402
from dlnlib.networks import cdln, wide_dln  # noqa: E402
from dlnlib.problems import Completion, Factorisation, exact_count_mask, low_rank_target, make_problem  # noqa: E402
from dlnlib.optim import GD  # noqa: E402
from dlnlib.train import train  # noqa: E402

L = 3
EPS = 0.1
LR = 1e-3  # small: nothing moves far (or diverges) within a benchmark window
R_TARGET = 5
ALPHAS = torch.linspace(0.5, 2.0, 16, dtype=torch.float64)
SWEEP_LR = 0.01  # η·L·α·σ_max^(4/3) ≈ 0.5 < 2 for the largest α: every run of the sweep is stable
SWEEP_D = 100


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "n/a"


def load_1min() -> float:
    try:
        return float(open("/proc/loadavg").read().split()[0])
    except (OSError, ValueError):
        return 0.0


def load_baseline(commit: str):
    """``dlnlib/train.py`` at ``commit`` as module ``dlnlib._baseline_train``, with ``dlnlib/_engines.py`` of that
    commit (where it has one) as ``dlnlib._baseline_engines``; other relative imports: today's dlnlib."""
    def show(path: str) -> str | None:
        r = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else None

    src, eng = show("dlnlib/train.py"), show("dlnlib/_engines.py")
    if src is None:
        raise SystemExit(f"no dlnlib/train.py at {commit}")
    mods = []
    if eng is not None:
        mods.append(("dlnlib._baseline_engines", eng))
        src = src.replace("from ._engines import", "from ._baseline_engines import")
    mods.append(("dlnlib._baseline_train", src))
    for name, text in mods:
        path = Path("/tmp") / f"{name.replace('.', '_')}_{commit[:12]}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    return mod


class _CPUClock:
    """Stands in for the ``time`` module inside the train modules: ``perf_counter`` reads this thread's CPU
    time, so ``History.seconds_per_step`` counts only the time the loop spends on a core."""

    perf_counter = staticmethod(time.thread_time)


CLOCK = time.perf_counter


def use_cpu_clock(on: bool, modules) -> None:
    """1 thread: time on the core (``thread_time``), immune to preemption by other jobs; else wall time."""
    global CLOCK
    CLOCK = time.thread_time if on else time.perf_counter
    for m in modules:
        m.time = _CPUClock if on else time


class Best(dict):
    """Minimum seconds per key."""

    def add(self, key, seconds: float) -> None:
        self[key] = min(self.get(key, math.inf), seconds)


def steps_in(seconds_each: float, window: float, lo: int = 2) -> int:
    return max(lo, int(window / max(seconds_each, 1e-7)))


def mm_window(A, B, C, n: int) -> float:
    t = CLOCK()
    for _ in range(n):
        torch.mm(A, B, out=C)
    return (CLOCK() - t) / n


nan = float("nan")


def dname(dt) -> str:
    return str(dt).replace("torch.", "")


# ----------------------------------------------------------------------------------------------
# 1. steps per second against the 6-matmul floor
# ----------------------------------------------------------------------------------------------


def make_cases(dims, dtypes):
    cases = []
    for dt in dtypes:
        for d in dims:
            M = low_rank_target(d, d, R_TARGET, seed=0, dtype=dt, device="cpu")
            P = Factorisation(M)
            cases.append(dict(
                key=(dname(dt), d), P=P, wide=wide_dln([d] * (L + 1), EPS, seed=1, dtype=dt, device="cpu"),
                cd=cdln(P, 10, L, EPS, 1.0), mats=[torch.randn(d, d, dtype=dt) for _ in range(3)],
                t_mm=2 * d**3 / 1e9 / (60.0 if dt == torch.float64 else 120.0),  # first guess, refined
                comp=Completion(M, exact_count_mask(d, d, 0.3, seed=1, dtype=dt, device="cpu")) if d == 300 else None))
    return cases


def bench_steps(cases, impls, reps: int, window: float, best: Best, budget: float) -> int:
    """Interleaved windows (matmul, each loop, next case), ``reps`` rounds or until ``budget`` wall seconds
    (at least 2 rounds). Returns the number of rounds."""
    t_end = time.perf_counter() + budget
    for rep in range(reps):
        if rep >= 2 and time.perf_counter() > t_end:
            return rep
        for c in cases:
            key, d = c["key"], c["key"][1]
            if d >= 1000 and rep >= max(3, reps // 8):
                continue  # a d = 1000 step takes 0.1-0.3 s: fewer windows
            A, B, C = c["mats"]
            n = steps_in(6 * c["t_mm"], window, 3)  # >= 3 steps: train's fixed per-call work amortised
            # the matmul window does the 6n matmuls of an n-step training window: same length, same exposure
            t = mm_window(A, B, C, 6 * n)
            best.add(("mm",) + key, t)
            c["t_mm"] = min(c["t_mm"], t)
            n_cd = steps_in(best.get(("cdln", "new") + key, 1e-4), window, 10)
            for name, (tr, gd) in impls.items():
                best.add(("wide", name) + key, tr(c["wide"], c["P"], gd(LR), n, record_at=[0]).seconds_per_step)
                best.add(("cdln", name) + key, tr(c["cd"], c["P"], gd(LR), n_cd, record_at=[0]).seconds_per_step)
                if c["comp"] is not None:
                    best.add(("wide-comp", name) + key,
                             tr(c["wide"], c["comp"], gd(LR), n, record_at=[0]).seconds_per_step)
    return reps


def print_steps(cases, impls, threads: int, best: Best, rounds: int) -> list[tuple]:
    rows = []
    before = "before" in impls
    print(f"\n[threads = {threads}] GD iterations/s of train(), L = {L}, factorisation; "
          f"floor = 1 / (6 × t(d×d×d matmul)); best of {rounds} windows; load average now {load()}")
    head = (f"{'dtype':<8} {'d':>5} {'matmul GFLOP/s':>15} {'floor it/s':>11} {'wide it/s':>10} {'wide/floor':>11} "
            f"{'C-DLN r̂=10 it/s':>17}")
    if before:
        head += f"   {'before: wide it/s':>18} {'wide/floor':>11} {'C-DLN it/s':>11}"
    print(head)
    for c in cases:
        key = c["key"]
        t_mm, t_w, t_c = best[("mm",) + key], best[("wide", "new") + key], best[("cdln", "new") + key]
        ratio = 6 * t_mm / t_w
        rows.append((threads, "factorisation", key[0], key[1], ratio))
        line = (f"{key[0]:<8} {key[1]:>5} {2 * key[1]**3 / t_mm / 1e9:>15.1f} {1 / (6 * t_mm):>11.1f} "
                f"{1 / t_w:>10.1f} {ratio:>10.0%} {1 / t_c:>17.0f}")
        if before:
            tb_w, tb_c = best[("wide", "before") + key], best[("cdln", "before") + key]
            line += f"   {1 / tb_w:>18.1f} {6 * t_mm / tb_w:>10.0%} {1 / tb_c:>11.0f}"
        print(line)
    for c in cases:
        if c["comp"] is None:
            continue
        key = c["key"]
        t_mm, t_w = best[("mm",) + key], best[("wide-comp", "new") + key]
        rows.append((threads, "completion", key[0], key[1], 6 * t_mm / t_w))
        line = f"completion (p = 0.3), {key[0]}, d = {key[1]}: wide {1 / t_w:.1f} it/s = {6 * t_mm / t_w:.0%} of the floor"
        if before:
            tb = best[("wide-comp", "before") + key]
            line += f" (before: {1 / tb:.1f} it/s = {6 * t_mm / tb:.0%})"
        print(line)
    return rows


# ----------------------------------------------------------------------------------------------
# 2. batched α-sweep against 16 single runs
# ----------------------------------------------------------------------------------------------


def sweep_problems():
    M = low_rank_target(SWEEP_D, SWEEP_D, R_TARGET, seed=0, device="cpu")
    return {"factorisation": Factorisation(M),
            "completion": Completion(M, exact_count_mask(SWEEP_D, SWEEP_D, 0.3, seed=1, device="cpu"))}


def sweep_once(tr, gd, P, r_hat: int, T: int, batched: bool) -> tuple[float, float]:
    """Seconds of the whole sweep (construction + training + recording): ``(CLOCK, wall clock)``."""
    t0, w0 = CLOCK(), time.perf_counter()
    if batched:
        tr(cdln(P, r_hat, L, EPS, ALPHAS), P, gd(SWEEP_LR), T, record_at=20)
    else:
        for a in ALPHAS.tolist():
            tr(cdln(P, r_hat, L, EPS, a), P, gd(SWEEP_LR), T, record_at=20)
    return CLOCK() - t0, time.perf_counter() - w0


def bench_sweep(problems, r_hats, impls, T: int, reps: int, window: float, best: Best, budget: float) -> tuple:
    """Per step: short interleaved windows of one single run (all 16 cost the same per step; ×16) and of
    the batched run, which a shared CPU disturbs far less. End to end: whole sweeps, ``reps`` each. Each
    part stops early past half the ``budget`` (wall seconds; at least 2 rounds of windows and one sweep).
    Returns the rounds done."""
    nets = {(p, r): (cdln(P, r, L, EPS, 1.0), cdln(P, r, L, EPS, ALPHAS))
            for p, P in problems.items() for r in r_hats}
    t_end = time.perf_counter() + budget / 2
    n_win = reps * 10
    for rep in range(reps * 10):
        if rep >= 2 and time.perf_counter() > t_end:
            n_win = rep
            break
        for pname, P in problems.items():
            for r_hat in r_hats:
                single, batched = nets[(pname, r_hat)]
                for name, (tr, gd) in impls.items():
                    k = ("sweep-step", name, pname, r_hat)
                    n = steps_in(best.get(k + (False,), 3e-5 * 16) / 16, window, 5)
                    best.add(k + (False,), 16 * tr(single, P, gd(SWEEP_LR), n, record_at=[0]).seconds_per_step)
                    n = steps_in(best.get(k + (True,), 3e-4), window, 2)
                    best.add(k + (True,), tr(batched, P, gd(SWEEP_LR), n, record_at=[0]).seconds_per_step)
    t_end = time.perf_counter() + budget / 2
    configs = [(pname, P, r_hat, name, tr, gd) for pname, P in problems.items() for r_hat in r_hats
               for name, (tr, gd) in impls.items()]
    measured = False
    for rep in range(reps):
        for pname, P, r_hat, name, tr, gd in configs:
            if measured and time.perf_counter() > t_end:
                return n_win, max(rep, 1)  # out of budget: what is left stays unmeasured ("n/a")
            for batched in (False, True):
                t, wall = sweep_once(tr, gd, P, r_hat, T, batched)
                best.add(("sweep", name, pname, r_hat, batched), t)
                best.add(("sweep-wall", name, pname, r_hat, batched), wall)
            measured = True
    return n_win, reps


def print_sweep(problems, r_hats, impls, T: int, threads: int, best: Best, done: tuple) -> list[tuple]:
    rows = []
    print(f"\n[threads = {threads}] α-sweep of C-DLN, d = {SWEEP_D}, L = {L}, 16 values of α; end to end: "
          f"construction + T = {T} GD steps + 20 recorded points (loss); best of {done[1]} sweeps, "
          f"per step: best of {done[0]} windows")
    print(f"{'problem':<14} {'r̂':>3} {'16 runs [s]':>12} {'batched [s]':>12} {'speedup':>8}   "
          f"{'per step: 16 runs [µs]':>22} {'batched [µs]':>13} {'speedup':>8}")
    for name in impls:
        if name != "new":
            print(f"  {name}:")
        for pname in problems:
            for r_hat in r_hats:
                k = (name, pname, r_hat)
                s, b = best.get(("sweep",) + k + (False,), nan), best.get(("sweep",) + k + (True,), nan)
                ss, bs = best[("sweep-step",) + k + (False,)], best[("sweep-step",) + k + (True,)]
                if name == "new":
                    rows.append((threads, pname, r_hat, s / b, ss / bs, best.get(("sweep-wall",) + k + (False,), nan),
                                 best.get(("sweep-wall",) + k + (True,), nan)))
                end = (f"{s:>12.3f} {b:>12.3f} {s / b:>7.2f}×" if s == s else f"{'n/a (time budget)':>34}")
                print(f"{pname:<14} {r_hat:>3} {end}   {ss * 1e6:>22.0f} {bs * 1e6:>13.0f} {ss / bs:>7.2f}×")
    return rows


# ----------------------------------------------------------------------------------------------
# 3. the α-sweep of issue 13 to its tolerance: one batch that repacks against 16 runs one after another
# ----------------------------------------------------------------------------------------------

# [K] Fig. 16 (notebook 11's preset): completion d = 100, r = 5, p = 0.2 (exact count), L = 3, ε = 1e-2,
# η = 10 on the "observed" loss, tol 1e-10; r̂ = 10 (the preset's, = 2r); α = 0.5·2^(k/3), k = 0..15
TOL_SWEEP = dict(d=100, r=5, p=0.2, L=3, eps=1e-2, eta=10.0, r_hat=10, tol=1e-10, T=100_000)
TOL_ALPHAS = [0.5 * 2 ** (k / 3) for k in range(16)]


class StepCounter:
    """Counts the member-steps the (new) fused engine computes: steps × working batch size, re-runs included."""

    def __init__(self):
        self.n = 0
        self._orig = _engines._FusedGD.steps
        counter = self

        def steps(eng, slots):
            slots = list(slots)
            counter.n += len(slots) * (eng.W[0].shape[0] if eng.batch else 1)
            return counter._orig(eng, slots)

        _engines._FusedGD.steps = steps

    def close(self):
        _engines._FusedGD.steps = self._orig


def tol_sweep_once(tr, gd, P, how: str) -> tuple[float, float, list[int]]:
    """One whole sweep (network construction with its SVD, training to tol): ``(CLOCK s, wall s, stops)``."""
    c = TOL_SWEEP
    t0, w0 = CLOCK(), time.perf_counter()
    if how == "serial":
        stops = [int(tr(cdln(P, c["r_hat"], c["L"], c["eps"], a), P, gd(c["eta"]), c["T"], record_at=[0],
                        tol=c["tol"]).stop_iteration) for a in TOL_ALPHAS]
    else:
        kw = {"_compact": False} if how == "batched, not repacking" else {}
        h = tr(cdln(P, c["r_hat"], c["L"], c["eps"], torch.tensor(TOL_ALPHAS, dtype=torch.float64)), P,
               gd(c["eta"]), c["T"], record_at=[0], tol=c["tol"], on_divergence="flag", **kw)
        stops = h.stop_iteration.tolist()
    return CLOCK() - t0, time.perf_counter() - w0, stops


def bench_tol_sweep(impls, reps: int) -> list[tuple]:
    """Each way once per repetition, interleaved; rows ``(impl, how, best CLOCK s, best wall s, member-steps,
    stops)`` (member-steps counted for the new engine, computed from the stops for the baseline)."""
    c = TOL_SWEEP
    P = make_problem("mc", c["d"], c["r"], p=c["p"], mask="exact", device="cpu")
    ways = [("new", "serial"), ("new", "batched, repacking"), ("new", "batched, not repacking")]
    if "before" in impls:
        ways += [("before", "serial"), ("before", "batched")]
    best: dict = {}
    for _ in range(reps):
        for name, how in ways:
            tr, gd = impls[name]
            counter = StepCounter() if name == "new" else None
            try:
                t, wall, stops = tol_sweep_once(tr, gd, P, how)
            finally:
                n = counter.n if counter else None
                if counter:
                    counter.close()
            if n is None:
                n = sum(stops) if how == "serial" else len(stops) * max(stops)
            prev = best.get((name, how))
            best[(name, how)] = (min(t, prev[0]) if prev else t, min(wall, prev[1]) if prev else wall, n, stops)
    return [(name, how) + best[(name, how)] for name, how in ways]


def bench_member_steps(rounds: int, n: int) -> dict:
    """µs per member-step of the fused engine (the default tol mode: one loss norm every 16th step) on part 3's
    problem: one run (α a float) and batches of B members after their first stop (per-run coefficients, one
    member frozen)."""
    c = TOL_SWEEP
    P = make_problem("mc", c["d"], c["r"], p=c["p"], mask="exact", device="cpu")
    engines = {0: _engines._make_engine(cdln(P, c["r_hat"], c["L"], c["eps"], 1.0), P, GD(c["eta"]), n)}
    for B in (1, 2, 4, 8, 16):
        eng = _engines._make_engine(cdln(P, c["r_hat"], c["L"], c["eps"], torch.tensor(TOL_ALPHAS[:B],
                                                                                      dtype=torch.float64)),
                                    P, GD(c["eta"]), n)
        eng.set_active(np.arange(B) > 0 if B > 1 else np.zeros(1, dtype=bool) | True)
        engines[B] = eng
    best = {B: math.inf for B in engines}
    slots = [j if (j + 1) % 16 == 0 else None for j in range(n)]
    for _ in range(rounds):
        for B, eng in engines.items():
            t = CLOCK()
            eng.steps(slots)
            best[B] = min(best[B], (CLOCK() - t) / n / max(B, 1))
    return best


def print_tol_sweep(rows, reps: int) -> None:
    c = TOL_SWEEP
    print(f"\n[threads = 1] the α-sweep of issue 13 to tol: C-DLN completion d = {c['d']}, r = {c['r']}, "
          f"p = {c['p']}, L = {c['L']}, ε = {c['eps']:g}, η = {c['eta']:g} (observed loss), r̂ = {c['r_hat']}, "
          f"tol {c['tol']:g}, α = 0.5·2^(k/3), k = 0..15; end to end (construction + training); best of {reps}; "
          f"load average now {load()}")
    stops = rows[0][-1]
    print(f"iterations to tol per α: {stops}; sum {sum(stops)}, 16 × max {16 * max(stops)}")
    print(f"{'':<8} {'way':<24} {'CPU s':>7} {'wall s':>7} {'member-steps':>13} {'µs/member-step':>15}")
    for name, how, t, wall, n, _ in rows:
        print(f"{name:<8} {how:<24} {t:>7.2f} {wall:>7.2f} {n:>13} {t / n * 1e6:>15.1f}")
    by = {(r[0], r[1]): r[2] for r in rows}
    print(f"speed-up of one repacking batch over the 16 runs one after another: "
          f"{by[('new', 'serial')] / by[('new', 'batched, repacking')]:.2f}×  (not repacking: "
          f"{by[('new', 'serial')] / by[('new', 'batched, not repacking')]:.2f}×)")
    if ("before", "batched") in by:
        print(f"before: batched {by[('before', 'serial')] / by[('before', 'batched')]:.2f}× the 16 runs; "
              f"after/before: 16 runs {by[('before', 'serial')] / by[('new', 'serial')]:.2f}× faster, batch "
              f"{by[('before', 'batched')] / by[('new', 'batched, repacking')]:.2f}× faster")


def sweep_bound(per: dict, stops: list[int]) -> tuple[float, float]:
    """Seconds of the 16 runs one after another and of an ideal batch, from the per-member-step costs ``per``
    alone (no construction, no per-call work): ``Σ_i n_i·c_1`` and ``Σ_t B(t)·c(B(t))``, with ``B(t)`` the number
    of members still running at step ``t`` (an engine that drops each member the step it stops) and ``c(B)``
    interpolated in ``log B`` between the measured batch sizes."""
    n = np.sort(np.asarray(stops))[::-1]
    Bs = np.array([1, 2, 4, 8, 16], dtype=float)
    cs = np.array([per[int(b)] for b in Bs])
    serial = float(n.sum() * per[0])
    batch, prev = 0.0, 0
    for k in range(len(n), 0, -1):  # from the shortest member: k members run for steps prev..n[k-1]
        steps = int(n[k - 1]) - prev
        batch += steps * k * float(np.interp(np.log(k), np.log(Bs), cs))
        prev = int(n[k - 1])
    return serial, batch


def print_sweep_bound(per: dict, stops: list[int]) -> None:
    serial, batch = sweep_bound(per, stops)
    print(f"the bound these costs set: the 16 runs' steps {serial:.2f} s, an ideal batch's (each member dropped "
          f"the step it stops, nothing but the step) {batch:.2f} s: at most {serial / batch:.2f}× on one thread")


# ----------------------------------------------------------------------------------------------
# 4. the cost of the checks and the C-DLN step against its floor
# ----------------------------------------------------------------------------------------------

CHECK_MODES = {  # name -> train keywords (n = the window's steps)
    "no checks": lambda n: dict(check_every=n),
    "default": lambda n: {},
    "tol": lambda n: dict(tol=1e-30),
    "tol, every 1": lambda n: dict(tol=1e-30, check_every=1),
    "tol, every 10": lambda n: dict(tol=1e-30, check_every=10),
}
BEFORE_MODES = ("no checks", "default", "tol", "tol, every 10")


def check_cases():
    c = TOL_SWEEP
    comp = make_problem("mc", c["d"], c["r"], p=c["p"], mask="exact", device="cpu")
    fact = Factorisation(low_rank_target(c["d"], c["d"], c["r"], seed=0, device="cpu"))
    return [dict(name="completion", P=comp, net=cdln(comp, c["r_hat"], c["L"], c["eps"], 1.0), lr=c["eta"]),
            dict(name="factorisation", P=fact, net=cdln(fact, c["r_hat"], c["L"], EPS, 1.0), lr=LR)]


def _engine_window(case, n: int) -> float:
    eng = _engines._make_engine(case["net"].clone(), case["P"], GD(case["lr"]), 1)
    nones = [None] * n
    eng.steps(nones[:3])
    t = CLOCK()
    eng.steps(nones)
    return (CLOCK() - t) / n


def _matmul_ops(case) -> tuple[list, int]:
    """The step's 3(L−1) matmul calls on a fused engine's own buffers, and their flops."""
    eng = _engines._make_engine(case["net"].clone(), case["P"], GD(case["lr"]), 1)
    ops = [op for op in eng._plan(None) if getattr(op[0], "__name__", "") in ("mm", "addmm", "addmm_")]
    flops = sum(2 * a.shape[-2] * a.shape[-1] * b.shape[-1] for _, (*_, a, b), _ in ops)
    return ops, flops


def bench_checks(impls, rounds: int, n: int, best: Best) -> None:
    """Interleaved rounds: each matmul call of the step alone (200 calls), the fused step alone, and ``train``
    in every check mode (and the baseline's), one window each per round."""
    cases = check_cases()
    ops = {case["name"]: _matmul_ops(case) for case in cases}
    for _ in range(rounds):
        for case in cases:
            name = case["name"]
            for i, (f, args, kw) in enumerate(ops[name][0]):
                t = CLOCK()
                for _ in range(200):
                    f(*args, **kw)
                best.add(("call", name, i), (CLOCK() - t) / 200)
            best.add(("engine", name), _engine_window(case, n))
            for impl, (tr, gd) in impls.items():
                for mode, kw in CHECK_MODES.items():
                    if impl == "before" and mode not in BEFORE_MODES:
                        continue
                    h = tr(case["net"], case["P"], gd(case["lr"]), n, record_at=[0], **kw(n))
                    best.add((impl, mode, name), h.seconds_per_step)
    for case in cases:
        name = case["name"]
        best[("calls", name)] = sum(best[("call", name, i)] for i in range(len(ops[name][0])))
        best[("flops", name)] = ops[name][1]


def print_checks(impls, rounds: int, n: int, best: Best, t_mm100: float) -> list[tuple]:
    c = TOL_SWEEP
    print(f"\n[threads = 1] C-DLN step, d = {c['d']}, r̂ = {c['r_hat']}, L = {c['L']}, float64: µs per step of "
          f"train() by check mode (windows of {n} steps, best of {rounds}); load average now {load()}")
    print("  no checks: check_every = n (the loss at the end only); default: no tol; tol: tol never met, the "
          "default checks (the loss every 16th step, a window re-run step by step when its end qualifies: the "
          "stop iteration of a check every step); tol, every 1: check_every = 1 (every step's loss); tol, every 10: "
          "check_every = 10. engine: the fused step alone (no loop). 'before': the baseline's default with tol "
          "computed every step's loss.")
    modes = list(CHECK_MODES)
    head = f"{'problem':<14} {'engine':>7} " + " ".join(f"{m:>13}" for m in modes) + f" {'tol/no checks':>14}"
    print(head)
    rows = []
    for case in check_cases():
        p = case["name"]
        vals = [best[("new", m, p)] for m in modes]
        tol_over = best[("new", "tol", p)] / best[("new", "no checks", p)] - 1
        tol_bare = best[("new", "tol", p)] / best[("engine", p)] - 1
        print(f"{p:<14} {best[('engine', p)] * 1e6:>7.1f} " + " ".join(f"{v * 1e6:>13.1f}" for v in vals)
              + f" {tol_over:>+13.0%}")
        if "before" in impls:
            print(f"{'  before':<14} {'':>7} " + " ".join(
                f"{best[('before', m, p)] * 1e6:>13.1f}" if m in BEFORE_MODES else f"{'':>13}" for m in modes)
                + f" {best[('before', 'tol', p)] / best[('before', 'no checks', p)] - 1:>+13.0%}")
        calls, flops = best[("calls", p)], best[("flops", p)]
        floor = flops / (2 * 100**3 / t_mm100)
        print(f"{'':<14} the step's 6 matmul calls alone: {calls * 1e6:.1f} µs; its {flops / 1e3:.0f} kflop at the "
              f"100³ matmul's rate: {floor * 1e6:.1f} µs; engine step / calls: {best[('engine', p)] / calls:.2f}, "
              f"/ flop floor: {best[('engine', p)] / floor:.1f}")
        before = {m: best.get(("before", m, p)) for m in BEFORE_MODES}
        rows.append((p, tol_over, best[("new", "default", p)], before["default"], best[("new", "tol", p)],
                     before["tol"], best[("new", "tol, every 1", p)] / best[("new", "no checks", p)] - 1, tol_bare))
    return rows


# ----------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (torch.set_num_threads)")
    ap.add_argument("--quick", action="store_true", help="fewer windows, no d = 1000 (a smoke run)")
    ap.add_argument("--baseline", metavar="COMMIT", help="also time dlnlib/train.py at this git commit")
    ap.add_argument("--budget", type=float, default=60.0,
                    help="wall seconds per thread count after which repetitions stop early (default 60)")
    ap.add_argument("--parts", default="steps,sweep,tol-sweep,checks",
                    help="comma-separated parts: steps, sweep, tol-sweep (issue 13's α-sweep to tol), checks")
    ap.add_argument("--tol-sweep-reps", type=int, default=1, help="repetitions of the α-sweep to tol (default 1)")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    threads = [int(x) for x in args.threads.split(",")]
    dims = [100, 300] if args.quick else [100, 300, 1000]
    dtypes = [torch.float64, torch.float32]
    reps, window, sweep_T, sweep_reps = (4, 0.002, 100, 1) if args.quick else (40, 0.002, 400, 3)
    r_hats = [10, 20]
    impls = {"new": (train, GD)}
    modules = [sys.modules["dlnlib.train"]]
    if args.baseline:
        base = load_baseline(args.baseline)
        impls["before"] = (base.train, base.GD)
        modules.append(base)
    cases = make_cases(dims, dtypes)
    problems = sweep_problems()

    t_start = time.perf_counter()
    print(f"dlnlib training benchmark, {datetime.datetime.now():%Y-%m-%d %H:%M}")
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs; torch {torch.__version__} "
          f"({'MKL' if torch.backends.mkl.is_available() else 'no MKL'}), Python {platform.python_version()}")
    if args.baseline:
        print(f"baseline ('before'): dlnlib/train.py at {args.baseline}")
    print(f"load average at start: {load()}. Each figure is the minimum over up to {reps} interleaved windows of "
          f"~{window * 1e3:.0f} ms (at least 3 steps; d = 1000: {max(3, reps // 8)} windows; whole sweeps: "
          f"{sweep_reps}); 1 thread: CPU time of the thread, 2 threads: wall time")
    step_rows, sweep_rows, check_rows, tol_rows = [], [], [], []
    busy = {}
    for nt in threads:
        torch.set_num_threads(nt)
        use_cpu_clock(nt == 1, modules)
        best = Best()
        busy[nt] = load_1min() > 1.5  # the benchmark itself accounts for about 1
        if busy[nt] and nt > 1:
            print(f"\nWARNING: load average {load_1min():.1f} with {nt} threads on {os.cpu_count()} CPUs: other jobs "
                  f"are running, {nt}-thread wall-clock figures will be dominated by OpenMP spin-waiting.")
        if "steps" in parts:
            rounds = bench_steps(cases, impls, reps, window, best, args.budget * 0.5)
            step_rows += print_steps(cases, impls, nt, best, rounds)
        if "sweep" in parts:
            done = bench_sweep(problems, r_hats, impls, sweep_T, sweep_reps, window, best, args.budget * 0.5)
            sweep_rows += print_sweep(problems, r_hats, impls, sweep_T, nt, best, done)
        if nt != 1:
            continue
        if "checks" in parts:
            n_check, check_rounds = (200, 3) if args.quick else (500, 30)
            A, B, C = (torch.randn(100, 100, dtype=torch.float64) for _ in range(3))
            t_mm100 = min(mm_window(A, B, C, 300) for _ in range(30))
            bench_checks(impls, check_rounds, n_check, best)
            check_rows = print_checks(impls, check_rounds, n_check, best, t_mm100)
        if "tol-sweep" in parts:
            tol_rows = bench_tol_sweep(impls, args.tol_sweep_reps)
            print_tol_sweep(tol_rows, args.tol_sweep_reps)
            per = bench_member_steps(3 if args.quick else 20, 64)
            print("µs per member-step of the fused step with a loss norm every 16th step (best of windows of 64 "
                  f"steps): one run {per[0] * 1e6:.1f}; a batch of B after its first stop: "
                  + ", ".join(f"B = {B}: {per[B] * 1e6:.1f}" for B in (1, 2, 4, 8, 16)))
            print_sweep_bound(per, tol_rows[0][-1])

    if step_rows or sweep_rows:
        print("\nSummary against the targets of the engine issue")
    for nt in (threads if step_rows else []):
        big = [r for r in step_rows if r[0] == nt and r[1] == "factorisation" and r[3] >= 300]
        worst = min(big, key=lambda r: r[4])
        verdict = "PASS" if worst[4] >= 0.70 else "FAIL"
        if any(r[4] > 1.02 for r in step_rows if r[0] == nt):
            verdict = "UNRELIABLE (a ratio above 100 %: the matmul windows were disturbed)"
        print(f"  threads = {nt}: wide-DLN step >= 70 % of the 6-matmul floor for d >= 300: "
              f"{verdict} (lowest: {worst[4]:.0%}, {worst[2]}, d = {worst[3]})")
    for nt in (threads if sweep_rows else []):
        sw = [r for r in sweep_rows if r[0] == nt and r[1] == "factorisation"]
        verdict = ("n/a" if any(r[3] != r[3] for r in sw) else "PASS" if all(r[3] >= 3.0 for r in sw) else "FAIL")
        if nt > 1 and busy[nt]:
            verdict += " [UNRELIABLE: the machine was busy]"
        print(f"  threads = {nt}: batched 16-run α-sweep of C-DLN (d = {SWEEP_D}) >= 3× faster than 16 single runs, "
              f"end to end: {verdict} ("
              + "; ".join(f"r̂ = {r[2]}: {r[3]:.2f}× end to end, {r[4]:.2f}× per step" for r in sw) + ")")
    if len(threads) > 1 and sweep_rows:
        # each way of running at its best thread count, on one clock (wall) for both
        print("  each at its best thread count (wall clock, whole sweeps):")
        for pname in problems:
            for r_hat in r_hats:
                rs = [r for r in sweep_rows if r[1] == pname and r[2] == r_hat]
                s = min(rs, key=lambda r: r[5] if r[5] == r[5] else math.inf)
                b = min(rs, key=lambda r: r[6] if r[6] == r[6] else math.inf)
                if s[5] != s[5] or b[6] != b[6]:
                    print(f"    {pname}, r̂ = {r_hat}: n/a (time budget)")
                    continue
                print(f"    {pname}, r̂ = {r_hat}: 16 runs {s[5]:.3f} s ({s[0]} thread{'s' * (s[0] > 1)}) vs "
                      f"batched {b[6]:.3f} s ({b[0]} thread{'s' * (b[0] > 1)}): {s[5] / b[6]:.2f}×")
    if tol_rows or check_rows:
        print("\nSummary against the targets of issue 13 (one thread)")
    if tol_rows:
        by = {(r[0], r[1]): r[2] for r in tol_rows}
        x = by[("new", "serial")] / by[("new", "batched, repacking")]
        print(f"  α-sweep to tol, one repacking batch >= 2.5× the 16 runs one after another: "
              f"{'PASS' if x >= 2.5 else 'FAIL'} ({x:.2f}×; without repacking "
              f"{by[('new', 'serial')] / by[('new', 'batched, not repacking')]:.2f}×)")
    for p, tol_over, new_d, old_d, new_t, old_t, every1, tol_bare in check_rows:
        print(f"  {p}: tol with the default checks (exact stop) costs <= 3 % more than no checks: "
              f"{'PASS' if tol_over <= 0.03 else 'FAIL'} ({tol_over:+.0%}; than the fused step alone: "
              f"{tol_bare:+.0%}; check_every = 1: {every1:+.0%})")
        if old_d is not None:
            r = new_d / old_d
            print(f"  {p}: C-DLN step of train() (default checks) <= 0.75× before: {'PASS' if r <= 0.75 else 'FAIL'} "
                  f"({new_d * 1e6:.1f} vs {old_d * 1e6:.1f} µs = {r:.2f}×; with tol: {new_t * 1e6:.1f} vs "
                  f"{old_t * 1e6:.1f} µs = {new_t / old_t:.2f}×)")
    print(f"\nload average at end: {load()}; benchmark took {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
