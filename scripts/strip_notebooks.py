"""Strip outputs and execution counts from notebooks, keeping the outputs of golden cells.

    python scripts/strip_notebooks.py notebooks/*.ipynb [--check]

A golden cell's source starts with ``# NBVAL_CHECK_OUTPUT``: nbval compares its committed output with a fresh
run. ``--check`` changes nothing and exits 1 if a notebook is not stripped (used by the tests).

    python scripts/strip_notebooks.py --golden

copies the ci-scale papermill runs in ``build/notebooks/ci/`` over ``notebooks/`` (dropping papermill's
injected-parameters cell) and strips them: this refreshes the golden outputs (``make golden``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

GOLDEN = "# NBVAL_CHECK_OUTPUT"


def strip(nb: dict) -> dict:
    nb["cells"] = [c for c in nb["cells"] if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    for cell in nb["cells"]:
        md = cell.get("metadata", {})
        for k in ("execution", "papermill", "collapsed", "scrolled"):
            md.pop(k, None)
        if md.get("tags") == []:
            md.pop("tags")
        if cell["cell_type"] != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        src = "".join(cell["source"])
        if not src.lstrip().startswith(GOLDEN):
            cell["outputs"] = []
            cell["execution_count"] = None
        else:  # nbval refuses reference outputs of a cell marked unrun (execution_count None)
            cell["execution_count"] = 1
            for o in cell["outputs"]:
                if "execution_count" in o:
                    o["execution_count"] = 1
    for k in ("papermill", "widgets"):  # jupytext stays: it names the .py pair
        nb["metadata"].pop(k, None)
    nb["metadata"]["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb["metadata"]["language_info"] = {"name": "python"}
    return nb


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    if "--golden" in argv:
        root = Path(__file__).resolve().parents[1]
        for src in sorted((root / "build" / "notebooks" / "ci").glob("*.ipynb")):
            (root / "notebooks" / src.name).write_text(dumps(strip(json.loads(src.read_text()))))
        return 0
    check = "--check" in argv
    dirty = []
    for p in [Path(a) for a in argv if a != "--check"]:
        text = p.read_text()
        new = dumps(strip(json.loads(text)))
        if new != text:
            dirty.append(str(p))
            if not check:
                p.write_text(new)
    if check and dirty:
        print("not stripped (run `make strip`):", *dirty, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
