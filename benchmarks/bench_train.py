"""Training speed of dlnlib's GD engine against the machine's matmul throughput (a script, not a test).

    .venv/bin/python benchmarks/bench_train.py [--threads 1,2] [--quick] [--baseline COMMIT] [--budget 60]

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

``--baseline COMMIT`` also times ``dlnlib/train.py`` as it was at ``COMMIT`` (read with ``git show``) in the
same interleaved windows and prints before → after columns. ``--budget`` bounds the wall time per thread
count: past it, repetitions stop early (the header of each table says how many windows it is the best of),
so a loaded machine does not stretch the run beyond a few minutes.

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

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlnlib.networks import cdln, wide_dln  # noqa: E402
from dlnlib.problems import Completion, Factorisation, exact_count_mask, low_rank_target  # noqa: E402
from dlnlib.train import GD, train  # noqa: E402

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
    """``dlnlib/train.py`` at ``commit`` as module ``dlnlib._baseline_train`` (relative imports: today's dlnlib)."""
    src = subprocess.run(["git", "show", f"{commit}:dlnlib/train.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    path = Path("/tmp") / f"dlnlib_baseline_train_{commit[:12]}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("dlnlib._baseline_train", path)
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (torch.set_num_threads)")
    ap.add_argument("--quick", action="store_true", help="fewer windows, no d = 1000 (a smoke run)")
    ap.add_argument("--baseline", metavar="COMMIT", help="also time dlnlib/train.py at this git commit")
    ap.add_argument("--budget", type=float, default=60.0,
                    help="wall seconds per thread count after which repetitions stop early (default 60)")
    args = ap.parse_args()
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
    step_rows, sweep_rows = [], []
    busy = {}
    for nt in threads:
        torch.set_num_threads(nt)
        use_cpu_clock(nt == 1, modules)
        best = Best()
        busy[nt] = load_1min() > 1.5  # the benchmark itself accounts for about 1
        if busy[nt] and nt > 1:
            print(f"\nWARNING: load average {load_1min():.1f} with {nt} threads on {os.cpu_count()} CPUs: other jobs "
                  f"are running, {nt}-thread wall-clock figures will be dominated by OpenMP spin-waiting.")
        rounds = bench_steps(cases, impls, reps, window, best, args.budget * 0.5)
        step_rows += print_steps(cases, impls, nt, best, rounds)
        done = bench_sweep(problems, r_hats, impls, sweep_T, sweep_reps, window, best, args.budget * 0.5)
        sweep_rows += print_sweep(problems, r_hats, impls, sweep_T, nt, best, done)

    print("\nSummary against the targets of the engine issue")
    for nt in threads:
        big = [r for r in step_rows if r[0] == nt and r[1] == "factorisation" and r[3] >= 300]
        worst = min(big, key=lambda r: r[4])
        verdict = "PASS" if worst[4] >= 0.70 else "FAIL"
        if any(r[4] > 1.02 for r in step_rows if r[0] == nt):
            verdict = "UNRELIABLE (a ratio above 100 %: the matmul windows were disturbed)"
        print(f"  threads = {nt}: wide-DLN step >= 70 % of the 6-matmul floor for d >= 300: "
              f"{verdict} (lowest: {worst[4]:.0%}, {worst[2]}, d = {worst[3]})")
    for nt in threads:
        sw = [r for r in sweep_rows if r[0] == nt and r[1] == "factorisation"]
        verdict = ("n/a" if any(r[3] != r[3] for r in sw) else "PASS" if all(r[3] >= 3.0 for r in sw) else "FAIL")
        if nt > 1 and busy[nt]:
            verdict += " [UNRELIABLE: the machine was busy]"
        print(f"  threads = {nt}: batched 16-run α-sweep of C-DLN (d = {SWEEP_D}) >= 3× faster than 16 single runs, "
              f"end to end: {verdict} ("
              + "; ".join(f"r̂ = {r[2]}: {r[3]:.2f}× end to end, {r[4]:.2f}× per step" for r in sw) + ")")
    if len(threads) > 1:
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
    print(f"\nload average at end: {load()}; benchmark took {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
