"""dlnlib.report.figures and ._files: output folders, reproducible figure files, one figure as one atomic set.

The kill tests run a writer in a child process, SIGKILL it mid-way, and check what is left on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlnlib.report import _files  # noqa: E402
from dlnlib.report import figures as RF  # noqa: E402
from dlnlib.report.style import COLORS, OKABE_ITO, use_style  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def figdir(monkeypatch, tmp_path):
    monkeypatch.setenv("DLN_FIGURES_DIR", str(tmp_path))
    return tmp_path


def _figure(title=""):
    use_style()
    fig, ax = plt.subplots(figsize=(3, 2))
    x = np.linspace(0, 1, 50)
    ax.plot(x, x**2, color=COLORS["orig"], label="orig")
    ax.semilogy(x, np.exp(-5 * x) + 1e-3, color=OKABE_ITO[1], label="comp")
    ax.set(xlabel="iteration $t$", ylabel="value", title=title)
    ax.legend()
    return fig


def _set(folder, fid="fig"):
    return {ext: (folder / f"{fid}.{ext}").read_bytes() for ext in ("pdf", "png", "json")}


def test_output_dirs(figdir):
    assert RF.output_dir("paper") == figdir
    assert RF.output_dir("ci") == figdir / "_ci" and (figdir / "_ci").is_dir()
    with pytest.raises(ValueError, match=r"scale must be one of \('ci', 'paper'\), got 'full'"):
        RF.output_dir("full")


def test_default_figures_root_is_the_current_directory_outside_the_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv("DLN_FIGURES_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert RF.figures_root() == tmp_path / "figures"  # a user's script: ./figures, never the package tree
    monkeypatch.chdir(REPO / "notebooks")
    assert RF.figures_root() == REPO / "figures"  # the workbook's notebooks: the checkout's figures/
    monkeypatch.chdir(REPO)
    assert RF.figures_root() == REPO / "figures"


def test_save_figure_is_byte_identical_and_matches_a_plain_savefig(tmp_path):
    fig = _figure()
    params = {"d": 10, "eta": np.float64(0.1), "grid": np.arange(3), "nested": {"x": (1, 2)}, "bad": float("inf")}
    pdf = RF.save_figure(fig, "test-fig", tmp_path, scale="ci", params=params, runtime_s=1.234, caption="cap")
    assert pdf == tmp_path / "test-fig.pdf"
    first = _set(tmp_path, "test-fig")
    assert first["pdf"].startswith(b"%PDF") and b"CreationDate" not in first["pdf"]
    fig.savefig(tmp_path / "plain.pdf", metadata=RF.PDF_METADATA)  # what save_figure wrote before the atomic sets
    fig.savefig(tmp_path / "plain.png", metadata=RF.PNG_METADATA)
    assert (tmp_path / "plain.pdf").read_bytes() == first["pdf"] and (tmp_path / "plain.png").read_bytes() == first["png"]
    RF.save_figure(fig, "test-fig", tmp_path, scale="ci", params=params, runtime_s=1.234, caption="cap")
    assert _set(tmp_path, "test-fig")["pdf"] == first["pdf"]  # the same figure saved twice
    plt.close(fig)
    fig2 = _figure()
    RF.save_figure(fig2, "test-fig", tmp_path, scale="ci", params=params, runtime_s=1.234, caption="cap")
    assert _set(tmp_path, "test-fig")["pdf"] == first["pdf"]  # and a figure redrawn from the same numbers
    plt.close(fig2)
    assert first["png"].startswith(b"\x89PNG")
    info = json.loads(first["json"])
    assert (info["figure"], info["scale"], info["preset"], info["caption"], info["runtime_s"]) == (
        "test-fig", "ci", "ci", "cap (ci scale)", 1.23)  # the caption names the scale
    assert info["params"] == {"d": 10, "eta": 0.1, "grid": [0, 1, 2], "nested": {"x": [1, 2]}, "bad": "inf"}
    assert isinstance(info["device"], str) and info["device"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries or journals left


def test_a_failing_writer_leaves_the_old_set_and_no_temporaries(tmp_path):
    fig = _figure("old")
    RF.save_figure(fig, "fig", tmp_path, scale="ci", caption="old")
    old = _set(tmp_path)

    class Boom(Exception):
        pass

    def broken(fname, **kw):
        if kw.get("format") == "png":
            Path(fname).write_bytes(b"\x89PNG half")
            raise Boom
        return plt.Figure.savefig(fig, fname, **kw)

    fig.savefig = broken
    with pytest.raises(Boom):
        RF.save_figure(fig, "fig", tmp_path, scale="ci", caption="new")
    assert _set(tmp_path) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.json", "fig.pdf", "fig.png"]


CHILD = r"""
import os, sys, time
import matplotlib
matplotlib.use("Agg")
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from tests.test_report_figures import _figure
from dlnlib.report import figures as RF
folder, flag, stage = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
fig = _figure("new")
if stage == "render":  # a slow writer: killed while the PNG is half written
    plain = fig.savefig
    def slow(fname, **kw):
        if kw.get("format") == "png":
            Path(fname).write_bytes(b"\x89PNG half")
            flag.write_text("go")
            time.sleep(120)
        return plain(fname, **kw)
    fig.savefig = slow
else:  # killed between the moves: the new PDF is in place, the PNG and JSON are not
    real = os.replace
    def slow_replace(a, b):
        real(a, b)
        if str(b).endswith("fig.pdf"):
            flag.write_text("go")
            time.sleep(120)
    os.replace = slow_replace
RF.save_figure(fig, "fig", folder, scale="ci", caption="new", device="cpu: test")
"""


def _kill_mid_write(folder: Path, stage: str) -> None:
    flag = folder.parent / f"{stage}.flag"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(flag), stage, str(REPO)])
    try:
        deadline = time.time() + 120
        while not flag.exists():
            assert child.poll() is None, "the writer ended before it was killed"
            assert time.time() < deadline, "the writer never reached the point to kill it at"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL


def test_a_writer_killed_while_rendering_leaves_the_old_set_intact(tmp_path):
    folder = tmp_path / "figs"
    RF.save_figure(_figure("old"), "fig", folder, scale="ci", caption="old", device="cpu: test")
    old = _set(folder)
    _kill_mid_write(folder, "render")
    assert _set(folder) == old  # the previous set, whole and unchanged
    stale = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert stale and all(n.startswith((".fig.pdf.", ".fig.png.")) for n in stale)
    RF.save_figure(_figure("new"), "fig", folder, scale="ci", caption="new", device="cpu: test")
    assert sorted(p.name for p in folder.iterdir()) == ["fig.json", "fig.pdf", "fig.png"]  # stale temporaries cleaned
    assert json.loads(_set(folder)["json"])["caption"] == "new (ci scale)"


def test_a_writer_killed_between_the_moves_is_completed_by_the_next_write(tmp_path):
    folder, ref = tmp_path / "figs", tmp_path / "ref"
    RF.save_figure(_figure("old"), "fig", folder, scale="ci", caption="old", device="cpu: test")
    RF.save_figure(_figure("new"), "fig", ref, scale="ci", caption="new", device="cpu: test")
    old, new = _set(folder), _set(ref)
    assert old["png"] != new["png"]
    _kill_mid_write(folder, "moves")
    assert _set(folder)["pdf"] == new["pdf"] and _set(folder)["png"] == old["png"]  # mixed until recovered
    assert [p.name for p in folder.glob(".*.set")]  # the journal says what is left to move
    _files.recover(folder)  # what every later write in the folder does first
    got = _set(folder)
    assert (got["pdf"], got["png"]) == (new["pdf"], new["png"]) and json.loads(got["json"])["caption"] == "new (ci scale)"
    assert sorted(p.name for p in folder.iterdir()) == ["fig.json", "fig.pdf", "fig.png"]


def test_temporaries_of_live_writers_are_kept(tmp_path):
    mine = _files.temporary(tmp_path / "x.pdf")
    mine.write_text("in progress")
    dead = tmp_path / ".x.png.999999999.abcd.tmp"  # no such pid
    dead.write_text("left by a killed writer")
    _files.recover(tmp_path)
    assert mine.exists() and not dead.exists()


def test_a_figure_placed_by_hand_is_saved_as_placed(tmp_path):
    """layout="none" under the style's constrained layout: savefig would switch constrained layout on after the
    PDF, so the PNG would show another layout; save_figure pins the layout first."""
    use_style()
    fig = plt.figure(figsize=(4, 3), layout="none")
    ax = fig.add_gridspec(1, 1, left=0.2, right=0.9, bottom=0.2, top=0.5).subplots()
    ax.plot([0, 1], [0, 1])
    ax.set(xlabel="x", ylabel="y")
    RF.save_figure(fig, "placed", tmp_path, scale="ci", caption="c", device="cpu: t")
    assert ax.get_position().y1 == pytest.approx(0.5)  # not re-laid out by constrained layout
    fig.savefig(tmp_path / "again.png", metadata=RF.PNG_METADATA)
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "placed.png").read_bytes()
    plt.close(fig)


def test_a_set_must_share_one_folder(tmp_path):
    with pytest.raises(ValueError, match="share one folder"):
        _files.write_files({tmp_path / "a": lambda t: t.write_text(""), tmp_path / "b" / "c": lambda t: None})
