"""Tables as data first: ``<id>.csv`` holds the numbers, ``<id>.table.json`` how they were made (scale, preset,
device, runtime, caption, parameters), and ``<id>.md`` is rendered from the two by :func:`render_markdown`.

:func:`markdown_table` is the one place a Markdown table is written in the workbook (tables, the verification
report, the README's figure index); it escapes ``|`` in cells, so every row has as many cells as the header.

>>> print(markdown_table(["a", "b"], [["1 | 2", 3]]))
| a | b |
|---|---|
| 1 \\| 2 | 3 |
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any, Sequence

from ._files import dumps, write_files
from .figures import device_name, figure_info, validate_scale


def markdown_cell(x: Any) -> str:
    """``x`` as the text of one Markdown table cell: ``|`` escaped, line breaks as spaces, ``None`` empty.

    >>> markdown_cell("a | b\\nc"), markdown_cell(None), markdown_cell(0.5)
    ('a \\\\| b c', '', '0.5')
    """
    text = "" if x is None else str(x)
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ")


def markdown_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (no trailing newline); each row must have as many cells as ``header``."""
    for i, r in enumerate(rows):
        if len(r) != len(header):
            raise ValueError(f"row {i} has {len(r)} cells, the header {len(header)}: {list(r)!r}")
    lines = ["| " + " | ".join(markdown_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(markdown_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def split_row(line: str) -> list[str]:
    """The cells of one Markdown table line, split at unescaped ``|``.

    >>> split_row("| a \\\\| b | c |")
    ['a \\\\| b', 'c']
    """
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [c.strip() for c in re.split(r"(?<!\\)\|", body)]


def parse_markdown_tables(text: str) -> list[list[list[str]]]:
    """Every table in a Markdown text (runs of lines starting with ``|``), each as a list of rows of cells.

    >>> parse_markdown_tables("x\\n| a | b |\\n|---|---|\\n| 1 | 2 |\\n\\n| c |\\n|---|")
    [[['a', 'b'], ['---', '---'], ['1', '2']], [['c'], ['---']]]
    """
    tables, block = [], []
    for line in text.splitlines() + [""]:
        if line.lstrip().startswith("|"):
            block.append(split_row(line))
        elif block:
            tables.append(block)
            block = []
    return tables


def table_paths(folder: Path, table_id: str) -> tuple[Path, Path, Path]:
    """``(<id>.csv, <id>.table.json, <id>.md)`` in ``folder``."""
    folder = Path(folder)
    return folder / f"{table_id}.csv", folder / f"{table_id}.table.json", folder / f"{table_id}.md"


def _csv_text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    w.writerows([["" if c is None else c for c in r] for r in rows])
    return buf.getvalue()


def render_markdown(csv_text: str, info: dict) -> str:
    """The ``<id>.md`` of a table: caption, how it was made, and the table of the CSV's cells."""
    header, *rows = list(csv.reader(io.StringIO(csv_text)))
    rt = info.get("runtime_s")
    made = (f"Preset `{info['preset']}` at scale `{info['scale']}` on {info['device']}"
            + ("" if rt is None else f", {rt} s") + f". Numbers: `{info['figure']}.csv`; parameters: "
            f"`{info['figure']}.table.json`.")
    return "\n\n".join([s for s in (info.get("caption", ""), made, markdown_table(header, rows)) if s]) + "\n"


def save_table(table_id: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], folder: Path, *, scale: str,
               preset: str | None = None, params: dict | None = None, runtime_s: float | None = None,
               caption: str = "", device: str | None = None) -> Path:
    """Write a table as ``<id>.csv``, ``<id>.table.json`` and ``<id>.md`` (one set); return the ``.md`` path.

    ``rows`` are sequences of cells (text as it should read, or numbers) in the order of ``columns``.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> md = save_table("t", ["method", "paper"], [["C-DLN", "90.3 | 54.9 s"]], d, scale="ci", caption="Demo.")
    >>> print(md.read_text().splitlines()[-1]); (d / "t.csv").read_text().splitlines()[1]
    | C-DLN | 90.3 \\| 54.9 s |
    'C-DLN,90.3 | 54.9 s'
    """
    columns = [str(c) for c in columns]
    markdown_table(columns, rows)  # rejects rows with the wrong number of cells before anything is written
    info = figure_info(table_id, scale=validate_scale(scale), preset=preset or scale, device=device or device_name(),
                       params=params, runtime_s=runtime_s, caption=caption)
    info["columns"] = columns
    text = _csv_text(columns, rows)
    p_csv, p_json, p_md = table_paths(folder, table_id)
    write_files({p_csv: lambda t: t.write_text(text, encoding="utf-8"),
                 p_json: lambda t: t.write_text(dumps(info, sort_keys=True), encoding="utf-8"),
                 p_md: lambda t: t.write_text(render_markdown(text, info), encoding="utf-8")})
    return p_md


def load_table(folder: Path, table_id: str) -> tuple[list[str], list[list[str]], dict]:
    """``(columns, rows, info)`` of a saved table, read back from its ``.csv`` and ``.table.json``."""
    p_csv, p_json, _ = table_paths(folder, table_id)
    header, *rows = list(csv.reader(io.StringIO(p_csv.read_text(encoding="utf-8"))))
    return header, rows, json.loads(p_json.read_text(encoding="utf-8"))
