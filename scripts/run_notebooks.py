"""Execute the workbook's notebooks with papermill at one scale.

    python scripts/run_notebooks.py --scale ci|paper [--jobs N] [NOTEBOOK ...]

Executed copies go to ``build/notebooks/<scale>/``; the committed notebooks are not modified. Every notebook
trains on one thread, so ``--jobs`` notebooks run side by side (default: one per CPU core, at most 4), the
longest first according to the runtimes of the previous run (``build/notebooks/<scale>/runtimes.json``).
Prints the runtime of each notebook and the wall time, and exits non-zero if any failed (all are run first).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_one(nb: str, scale: str, out_dir: str) -> tuple[str, float, str]:
    """Run one notebook in this (worker) process; returns (name, seconds, error text or "")."""
    import papermill as pm

    name = Path(nb).name
    os.environ["DLN_NOTEBOOK"] = name  # recorded by dlnlib.figures.save_figure
    t0 = time.perf_counter()
    print(f"[{scale}] {name} ...", flush=True)
    try:
        pm.execute_notebook(nb, str(Path(out_dir) / name), parameters={"scale": scale}, cwd=str(Path(nb).parent),
                            kernel_name="python3", language="python", progress_bar=False)
        err = ""
    except Exception as e:  # papermill raises PapermillExecutionError with the cell's traceback
        err = str(e)[-3000:] or repr(e)
    return name, round(time.perf_counter() - t0, 1), err


def longest_first(notebooks: list[Path], previous: dict[str, float]) -> list[Path]:
    """Order for the pool: longest previous runtime first, unknown ones before all, ties in the given order.

    >>> [p.name for p in longest_first([Path("a"), Path("b"), Path("c")], {"a": 5.0, "c": 60.0})]
    ['b', 'c', 'a']
    """
    return sorted(notebooks, key=lambda p: -previous.get(p.name, float("inf")))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", choices=["ci", "paper"], required=True)
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                    help="notebooks run side by side (each trains on one thread)")
    ap.add_argument("--out-dir", type=Path, help="executed copies and runtimes.json (default build/notebooks/<scale>)")
    ap.add_argument("notebooks", nargs="*")
    args = ap.parse_args()
    nbs = [Path(p).resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    out_dir = args.out_dir or ROOT / "build" / "notebooks" / args.scale
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "runtimes.json"
    previous = json.loads(log.read_text()) if log.exists() else {}
    nbs = longest_first(nbs, previous)
    failed, times = [], {}
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_one, str(nb), args.scale, str(out_dir)) for nb in nbs]
        for fut in as_completed(futures):
            name, seconds, err = fut.result()
            times[name] = seconds
            if err:
                failed.append(name)
                print(err, file=sys.stderr)
            print(f"[{args.scale}] {name}: {'FAILED' if err else 'ok'} in {seconds} s", flush=True)
    wall = time.perf_counter() - t0
    log.write_text(json.dumps(dict(sorted({**previous, **times}.items())), indent=1) + "\n")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(sorted(failed))}", file=sys.stderr)
        return 1
    print(f"all {len(nbs)} notebooks ran at scale={args.scale}: {sum(times.values()):.0f} s of notebook time, "
          f"{wall:.0f} s wall with {args.jobs} job(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
