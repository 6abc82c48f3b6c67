"""Execute the workbook's notebooks with papermill at one scale.

    python scripts/run_notebooks.py --scale ci|paper [NOTEBOOK ...]

Executed copies go to ``build/notebooks/<scale>/``; the committed notebooks are not modified. Prints the
runtime of each notebook and exits non-zero if any failed (all are run first).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import papermill as pm

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", choices=["ci", "paper"], required=True)
    ap.add_argument("notebooks", nargs="*")
    args = ap.parse_args()
    nbs = [Path(p) for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    out_dir = ROOT / "build" / "notebooks" / args.scale
    out_dir.mkdir(parents=True, exist_ok=True)
    failed, times = [], {}
    for nb in nbs:
        t0 = time.perf_counter()
        print(f"[{args.scale}] {nb.name} ...", flush=True)
        os.environ["DLN_NOTEBOOK"] = nb.name  # recorded by dlnlib.figures.save_figure
        try:
            pm.execute_notebook(str(nb), str(out_dir / nb.name), parameters={"scale": args.scale},
                                cwd=str(nb.parent), kernel_name="python3", language="python", progress_bar=False)
            status = "ok"
        except Exception as e:  # papermill raises PapermillExecutionError with the cell's traceback
            failed.append(nb.name)
            status = "FAILED"
            print(str(e)[-3000:], file=sys.stderr)
        times[nb.name] = round(time.perf_counter() - t0, 1)
        print(f"[{args.scale}] {nb.name}: {status} in {times[nb.name]} s", flush=True)
    (out_dir / "runtimes.json").write_text(json.dumps(times, indent=1) + "\n")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(nbs)} notebooks ran at scale={args.scale} in {sum(times.values()):.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
