"""Every notebook is committed twice: the stripped ``.ipynb`` (run by papermill and nbval) and its jupytext
percent-format ``.py`` pair (the readable diff). This test keeps the two in step: after editing either side, run
``make sync`` (``jupytext --sync notebooks/[0-9]*.ipynb``), which updates the older one from the newer."""

from __future__ import annotations

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
IPYNB = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


def test_every_notebook_has_a_pair_and_every_pair_a_notebook():
    assert IPYNB, "no notebooks found"
    assert {p.stem for p in IPYNB} == {p.stem for p in NOTEBOOKS.glob("[0-9]*.py")}, "run `make sync`"


def in_step(nb: Path) -> bool:
    """Whether ``nb``'s ``.py`` pair is exactly what jupytext writes for the notebook."""
    return nb.with_suffix(".py").read_text(encoding="utf-8") == jupytext.writes(jupytext.read(nb), fmt="py:percent")


@pytest.mark.parametrize("nb", IPYNB, ids=lambda p: p.stem)
def test_the_py_pair_is_the_notebook(nb):
    assert in_step(nb), f"{nb.name} and {nb.with_suffix('.py').name} differ: run `make sync` and commit both"


def test_the_check_fails_on_a_stale_pair(tmp_path):
    nb = tmp_path / IPYNB[0].name
    nb.write_bytes(IPYNB[0].read_bytes())
    py = nb.with_suffix(".py")
    py.write_text(IPYNB[0].with_suffix(".py").read_text(encoding="utf-8"), encoding="utf-8")
    assert in_step(nb)
    py.write_text(py.read_text(encoding="utf-8").replace("scale = ", "scale  = ", 1), encoding="utf-8")
    assert not in_step(nb)
