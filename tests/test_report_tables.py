"""dlnlib.report.tables and scripts/figure_index.py: tables as data first, one Markdown writer, committed tables parse.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from dlnlib.report import tables as T

REPO = Path(__file__).resolve().parents[1]


def test_markdown_cells_are_escaped():
    text = T.markdown_table(["model", "paper (acc | time)"], [["MLP", "89.87 | 83.02 s"], ["two\nlines", None]])
    (table,) = T.parse_markdown_tables(text)
    assert [len(r) for r in table] == [2, 2, 2, 2]
    assert table[2] == ["MLP", "89.87 \\| 83.02 s"] and table[3] == ["two lines", ""]
    with pytest.raises(ValueError, match="row 0 has 3 cells, the header 2"):
        T.markdown_table(["a", "b"], [[1, 2, 3]])


def test_save_table_writes_csv_json_and_markdown_from_the_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("DLN_NOTEBOOK", "99_demo.ipynb")
    rows = [["MLP", 84.67, "89.87 | 83.02 s"], ["ViT", 37.7, None]]
    md = T.save_table("kwon-tabX", ["model", "acc", "paper"], rows, tmp_path, scale="paper", preset="cpu",
                      params={"seeds": (0, 1)}, runtime_s=12.345, caption="Table X.", device="cpu: test")
    assert md == tmp_path / "kwon-tabX.md"
    with open(tmp_path / "kwon-tabX.csv", newline="") as f:
        assert list(csv.reader(f)) == [["model", "acc", "paper"], ["MLP", "84.67", "89.87 | 83.02 s"], ["ViT", "37.7", ""]]
    info = json.loads((tmp_path / "kwon-tabX.table.json").read_text())
    assert {k: info[k] for k in ("figure", "scale", "preset", "device", "runtime_s", "caption", "notebook", "columns",
                                 "params")} == {
        "figure": "kwon-tabX", "scale": "paper", "preset": "cpu", "device": "cpu: test", "runtime_s": 12.35,
        "caption": "Table X.", "notebook": "99_demo.ipynb", "columns": ["model", "acc", "paper"],
        "params": {"seeds": [0, 1]}}
    text = md.read_text()
    assert text.startswith("Table X.\n\nPreset `cpu` at scale `paper` on cpu: test, 12.35 s.")
    assert text == T.render_markdown((tmp_path / "kwon-tabX.csv").read_text(), info)  # the .md is a view of the data
    assert T.parse_markdown_tables(text) == [[["model", "acc", "paper"], ["---"] * 3,
                                              ["MLP", "84.67", "89.87 \\| 83.02 s"], ["ViT", "37.7", ""]]]
    columns, back, info2 = T.load_table(tmp_path, "kwon-tabX")
    assert columns == ["model", "acc", "paper"] and back[0][2] == "89.87 | 83.02 s" and info2 == info
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kwon-tabX.csv", "kwon-tabX.md", "kwon-tabX.table.json"]


def test_save_table_rejects_ragged_rows_before_writing(tmp_path):
    with pytest.raises(ValueError, match="row 1 has 1 cells"):
        T.save_table("t", ["a", "b"], [[1, 2], [3]], tmp_path, scale="ci")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("md", sorted((REPO / "figures").glob("*.md")), ids=lambda p: p.name)
def test_committed_markdown_tables_have_consistent_columns(md):
    tables = T.parse_markdown_tables(md.read_text())
    assert tables, f"{md.name} holds no table"
    for table in tables:
        header, sep, *body = table
        assert all(set(c) <= set("-:") and c for c in sep), f"{md.name}: second line is not a separator row"
        assert len(sep) == len(header), f"{md.name}: {len(header)} header cells, {len(sep)} in the separator"
        for i, row in enumerate(body):
            assert len(row) == len(header), f"{md.name} row {i}: {len(row)} cells, header {len(header)}"


@pytest.mark.parametrize("csv_path", sorted((REPO / "figures").glob("*.csv")), ids=lambda p: p.name)
def test_committed_tables_are_data_first(csv_path):
    """Every committed table has its .table.json, and its .md is the rendering of its .csv."""
    info = json.loads(csv_path.with_suffix(".table.json").read_text())
    assert {"preset", "scale", "device", "runtime_s", "caption"} <= set(info)
    assert csv_path.with_suffix(".md").read_text() == T.render_markdown(csv_path.read_text(), info)


def _figure_index():
    spec = importlib.util.spec_from_file_location("figure_index", REPO / "scripts" / "figure_index.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_figure_index_lists_figures_and_tables(tmp_path):
    FI = _figure_index()
    figs = tmp_path / "figures"
    figs.mkdir()
    (figs / "kwon-fig2.json").write_text(json.dumps({"figure": "kwon-fig2", "caption": "a | b", "scale": "paper",
                                                     "preset": "cpu", "device": "cpu: x", "notebook": "10_x.ipynb",
                                                     "runtime_s": 1.5}))
    for ext in ("pdf", "png"):
        (figs / f"kwon-fig2.{ext}").write_bytes(b"")
    T.save_table("kwon-tab1", ["a"], [["1"]], figs, scale="paper", caption="Table 1.", device="cpu: x")
    (figs / "verification.json").write_text("[]")
    (figs / "kwon-fig10.json").write_text(json.dumps({"figure": "kwon-fig10", "scale": "paper"}))
    (tmp_path / "README.md").write_text(f"intro\n{FI.START}\nold\n{FI.END}\nend\n")
    assert FI.main(tmp_path) == 0
    text = (tmp_path / "README.md").read_text()
    assert text.startswith("intro\n") and text.endswith("end\n") and "old" not in text
    (table,) = T.parse_markdown_tables(text)
    ids = [r[1].split()[0] for r in table[2:]]
    assert ids == ["`kwon-fig2`", "`kwon-fig10`", "`kwon-tab1`"]
    assert table[2][2] == "a \\| b" and table[2][4] == "paper, preset cpu, cpu: x"
    assert "[md](figures/kwon-tab1.md) [csv](figures/kwon-tab1.csv)" in table[4][1]
