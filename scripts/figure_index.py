"""Write the README's figure index from the records saved beside the figures and tables (``figures/<id>.json``,
``figures/<id>.table.json``).

    python scripts/figure_index.py        # rewrites the block between the FIGURE-INDEX markers in README.md

One line per id: thumbnail, files (pdf, md, csv), caption, notebook, scale/preset/device and runtime. The table is
written by :func:`dlnlib.report.tables.markdown_table` (cells escaped) and README.md is replaced atomically.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlnlib.report._files import recover, write_text  # noqa: E402
from dlnlib.report.tables import markdown_table  # noqa: E402

START, END = "<!-- FIGURE-INDEX:START -->", "<!-- FIGURE-INDEX:END -->"


def key(fig_id: str):
    """Sort key: family, kind, number, suffix (``kwon-fig2`` before ``kwon-fig10``)."""
    m = re.match(r"([a-z]+)-([a-z]*)(\d*)(.*)", fig_id)
    return (m.group(1), m.group(2), int(m.group(3) or 0), m.group(4)) if m else (fig_id,)


def records(folder: Path) -> dict[str, dict]:
    """The record of every id in ``folder``: its figure's ``<id>.json``, else its table's ``<id>.table.json``."""
    recs: dict[str, dict] = {}
    for j in sorted(folder.glob("*.json")):
        if j.name == "verification.json":
            continue
        info = json.loads(j.read_text(encoding="utf-8"))
        fid = info.get("figure", j.name.split(".")[0])
        if j.name.endswith(".table.json") and fid in recs:
            continue  # a figure's record describes the id; its table is listed among the files
        recs[fid] = info
    return recs


def table(root: Path = ROOT) -> str:
    """The index as a Markdown table (paths relative to ``root``, the folder holding README.md and figures/)."""
    folder = root / "figures"
    recover(folder)  # finish any figure set a killed writer left half-moved
    recs = records(folder)
    rows = []
    for fid in sorted(recs, key=key):
        info = recs[fid]
        thumb = f'<img src="figures/{fid}.png" width="160">' if (folder / f"{fid}.png").exists() else ""
        files = [f"[pdf](figures/{fid}.pdf)"] if (folder / f"{fid}.pdf").exists() else []
        files += [f"[{ext}](figures/{fid}.{ext})" for ext in ("md", "csv") if (folder / f"{fid}.{ext}").exists()]
        nb = info.get("notebook", "")
        made = ", ".join(x for x in (info.get("scale", ""), f"preset {info['preset']}" if info.get("preset") and
                                     info.get("preset") != info.get("scale") else "", info.get("device", "")) if x)
        rt = info.get("runtime_s")
        rows.append([thumb, f"`{fid}` " + " ".join(files), info.get("caption") or "", f"[{nb}](notebooks/{nb})" if nb
                     else "", made, "" if rt is None else rt])
    return markdown_table(["thumbnail", "id", "what it shows", "notebook", "scale, device", "runtime (s)"], rows)


def main(root: Path = ROOT) -> int:
    """Rewrite the FIGURE-INDEX block of ``root/README.md``."""
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    if START not in text:
        raise SystemExit("README.md lacks the FIGURE-INDEX markers")
    pre, rest = text.split(START, 1)
    _, post = rest.split(END, 1)
    write_text(readme, pre + START + "\n" + table(root) + "\n" + END + post)
    print("figure index updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
