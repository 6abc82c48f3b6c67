"""Write the README's figure index from the presets saved beside the figures (``figures/<id>.json``).

    python scripts/figure_index.py        # rewrites the block between the FIGURE-INDEX markers in README.md
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- FIGURE-INDEX:START -->", "<!-- FIGURE-INDEX:END -->"


def key(fig_id: str):
    m = re.match(r"([a-z]+)-([a-z]*)(\d*)(.*)", fig_id)
    return (m.group(1), m.group(2), int(m.group(3) or 0), m.group(4)) if m else (fig_id,)


def table() -> str:
    rows = ["| thumbnail | id | what it shows | notebook | scale, device | runtime (s) |", "|---|---|---|---|---|---|"]
    for j in sorted((ROOT / "figures").glob("*.json"), key=lambda p: key(p.stem)):
        if j.name == "verification.json":
            continue
        info = json.loads(j.read_text())
        fid = info["figure"]
        cap = (info.get("caption") or "").replace("|", "\\|").replace("\n", " ")
        thumb = f'<img src="figures/{fid}.png" width="160">' if (ROOT / "figures" / f"{fid}.png").exists() else ""
        files = f"[pdf](figures/{fid}.pdf)" if (ROOT / "figures" / f"{fid}.pdf").exists() else ""
        for ext in ("md", "csv"):
            if (ROOT / "figures" / f"{fid}.{ext}").exists():
                files += f" [{ext}](figures/{fid}.{ext})"
        nb = info.get("notebook", "")
        nb_link = f"[{nb}](notebooks/{nb})" if nb else ""
        rt = info.get("runtime_s")
        rows.append(f"| {thumb} | `{fid}` {files} | {cap} | {nb_link} | {info.get('scale', '')}, {info.get('device', '')} "
                    f"| {'' if rt is None else rt} |")
    return "\n".join(rows)


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text:
        raise SystemExit("README.md lacks the FIGURE-INDEX markers")
    pre, rest = text.split(START, 1)
    _, post = rest.split(END, 1)
    readme.write_text(pre + START + "\n" + table() + "\n" + END + post)
    print("figure index updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
