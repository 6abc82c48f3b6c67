"""A small workbook site for the tests of ``scripts/build_book.py``: two executed notebooks, three figures and a
verification ledger (with one failing row) made by the report layer's own writers, built once per test session.

:func:`demo_inputs` writes the inputs (no Sphinx); :func:`demo_site` also builds the HTML (cached: the site tests
of ``test_book.py`` and ``test_browser.py`` share one build). The repository's docs (README, CONTRIBUTING,
``docs/``) are used as they are, and the API reference holds one module, so the build takes seconds.
"""

from __future__ import annotations

import atexit
import base64
import functools
import importlib.util
import io
import itertools
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = ["01_demo.ipynb", "02_demo.ipynb", "03_not_run.ipynb"]  # the last one has no executed copy
API = ["dlnlib.metrics"]
_IDS = itertools.count()


def build_book():
    """``scripts/build_book.py`` as a module (imported once)."""
    if "build_book" not in sys.modules:
        spec = importlib.util.spec_from_file_location("build_book", ROOT / "scripts" / "build_book.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["build_book"] = mod  # dataclasses look their module up there
        spec.loader.exec_module(mod)
    return sys.modules["build_book"]


def _png(title: str, color: str) -> tuple:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), layout="constrained")
    ax.plot([0, 1, 2], [2, 1, 0.5], color=color)
    ax.set_title(title)
    ax.set(xlabel="x", ylabel="y")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return fig, buf.getvalue()


def _cell(kind: str, source: str, outputs=(), **meta) -> dict:
    c = {"cell_type": kind, "id": f"demo-{next(_IDS)}", "metadata": meta, "source": source}
    if kind == "code":
        c.update(execution_count=1, outputs=list(outputs))
    return c


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _image(png: bytes) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure size 300x200>"}}


def _notebook(cells: list, scale: str = "paper") -> dict:
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "papermill": {"parameters": {"scale": scale}, "end_time": "2026-01-02T03:04:05.000000",
                          "exception": None}}
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": meta, "cells": cells}


def demo_inputs(folder: Path) -> dict:
    """Write ``figures/`` (PNG/PDF/JSON per figure, ``verification.json``, ``VERIFICATION.md``), ``notebooks/``
    (two executed notebooks) and ``screenshots/`` under ``folder``; return their paths and facts for the tests."""
    from dlnlib.report import figures as RF
    from dlnlib.report import verification as RV

    folder = Path(folder)
    figs, nbs, shots = folder / "figures", folder / "notebooks", folder / "screenshots"
    for d in (figs, nbs, shots):
        d.mkdir(parents=True, exist_ok=True)
    pngs = {}
    old = os.environ.get("DLN_NOTEBOOK")
    try:
        for fid, nb, color in (("demo-fig1", "01_demo.ipynb", "C0"), ("demo-fig2", "02_demo.ipynb", "C1"),
                               ("demo-fig3", "02_demo.ipynb", "C2")):
            os.environ["DLN_NOTEBOOK"] = nb
            fig, pngs[fid] = _png(fid, color)
            RF.save_figure(fig, fid, figs, scale="paper", preset="cpu", params={"d": 10, "preset": "cpu"},
                           runtime_s=1.25, caption=f"Caption of {fid}: the error decays", device="cpu: demo, 1 threads")
            fig.clf()
    finally:
        if old is None:
            os.environ.pop("DLN_NOTEBOOK", None)
        else:
            os.environ["DLN_NOTEBOOK"] = old
    RV.check("demo-fig1-error", "demo-fig1", "simulation equals the recursion (max rel. error)", 3e-14, 1e-10,
             folder=figs, scale="paper")
    RV.check("demo-fig1-error", "demo-fig1", "simulation equals the recursion (max rel. error)", 5e-14, 1e-10,
             folder=figs, scale="ci")
    RV.check("demo-fig1-order", "demo-fig1", "C-DLN reaches the tolerance first (violations)", 2, 0,
             folder=figs, scale="paper", assert_=False)
    try:
        RV.check("demo-fig2-bound", "demo-fig2", "error below the bound", 0.5, 1e-3, folder=figs, scale="paper")
    except AssertionError:
        pass  # the failing row the site must show in red
    RV.skip("demo-fig3-data", "demo-fig3", "MovieLens held-out error", "data not found", folder=figs, scale="paper")
    rows = RV.load_rows(figs / "verification.json")
    RV.render_report(rows, figs / "VERIFICATION.md")

    _, extra = _png("explorer", "C3")
    (shots / "demo-fig2.png").write_bytes(extra)
    nb1 = _notebook([
        _cell("markdown", "# 01 · Demo: the simulation follows the recursion\n\n**Claim.** The error of the "
                          "simulation stays below $10^{-10}$ at every step."),
        _cell("code", 'scale = "ci"', tags=["parameters"]),
        _cell("code", "# Parameters\nscale = \"paper\"\n", tags=["injected-parameters"]),
        _cell("markdown", "## Figure `demo-fig1`\nThe simulated singular values against the recursion."),
        _cell("code", 'fig = draw()\nS.save_figure(fig, "demo-fig1", P, runtime)', [_image(pngs["demo-fig1"])]),
        _cell("code", 'S.check("demo-fig1-error", "demo-fig1", "simulation equals the recursion", err, 1e-10)\n'
                      'S.check("demo-fig1-order", "demo-fig1", "C-DLN first", v, 0, assert_=False)',
              [_stream("Verdict: the recursion holds to 3e-14 (tolerance 1e-10): passed\n")]),
        _cell("code", "sympy_expression", [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                            "data": {"text/latex": "$\\displaystyle \\lambda_{next} = "
                                                                   "\\lambda (1 - \\eta \\lambda^{L})$",
                                                     "text/plain": "Eq(lambda_next, ...)"}}]),
    ])
    nb2 = _notebook([
        _cell("markdown", "# 02 · Demo: a bound that fails\n\n**Claim.** The error stays below the bound."),
        _cell("markdown", "## Figure `demo-fig2`"),
        _cell("code", 'S.save_figure(draw(), "demo-fig2", P, rt)\n'
                      'S.check("demo-fig2-bound", "demo-fig2", "e", x, 1e-3)',
              [_image(pngs["demo-fig2"]), _stream("Verdict: error 0.5 above the bound 1e-3: FAILED\n")]),
        _cell("markdown", "## Figure `demo-fig3` and an explorer"),
        _cell("code", 'S.skip("demo-fig3-data", "demo-fig3", "held-out error", "data not found")\n'
                      'S.save_figure(draw(), "demo-fig3", P, rt)\nexplorer',
              [_image(pngs["demo-fig3"]),
               {"output_type": "display_data", "metadata": {},
                "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                                      "version_minor": 0},
                         "text/plain": "interactive(children=(Dropdown(...),))"}}]),
    ])
    (nbs / "01_demo.ipynb").write_text(json.dumps(nb1), encoding="utf-8")
    (nbs / "02_demo.ipynb").write_text(json.dumps(nb2), encoding="utf-8")
    return {"figures": figs, "notebooks": nbs, "screenshots": shots, "report": figs / "VERIFICATION.md",
            "figure_ids": sorted(pngs), "rows": rows}


@functools.lru_cache(maxsize=1)
def demo_site() -> dict:
    """Build the demo site once (a temporary folder removed at exit); its facts plus ``html`` and ``warnings``.

    Raises ``RuntimeError`` with Sphinx's exit status if the build fails.
    """
    folder = Path(tempfile.mkdtemp(prefix="dln-book-"))
    atexit.register(shutil.rmtree, folder, True)
    bb = build_book()
    facts = demo_inputs(folder / "in")
    out = folder / "book"
    source = bb.Source(facts["notebooks"], "paper", "Demo notebooks executed at paper scale.")
    info = bb.generate(notebooks=facts["notebooks"], figures=facts["figures"], src=out / "src",
                       screenshots=facts["screenshots"], api=API, source=source, expected=EXPECTED)
    rc = bb.sphinx(out / "src", out / "html", out / "doctrees", out / "warnings.txt", in_process=True)
    if rc != 0:
        raise RuntimeError(f"Sphinx failed on the demo site (exit {rc}): "
                           f"{(out / 'warnings.txt').read_text(errors='replace')[-2000:]}")
    return {**facts, "info": info, "html": out / "html", "src": out / "src",
            "warnings": (out / "warnings.txt").read_text(encoding="utf-8", errors="replace")}
