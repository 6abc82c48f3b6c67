# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 30 · Explorers: change a control, see the dynamics
#
# Three explorers, each a thin `ipywidgets.interactive` wrapper over a pure compute function and a pure
# plotting function in `dlnlib.report.explorers`. The compute functions train through the same dlnlib code as the
# committed figures (`dlnlib.studies.lop.record_snapshots`/`svd_evolution` and `theory.lop_rho` as talk-t04;
# `dlnlib.studies.wang.class_data`/`mlp_init`/`train_mlp`/`layer_metrics`/`decay_rate` as talk-t12), and the
# plotting functions draw through the functions that draw those figures (`lop.plot_svd_lines`/`plot_svd3d`,
# `wang.plot_decay`/`plot_separation`), so what you explore and what is published cannot drift. Training runs when you press **Train**; repeated
# settings come from a cache. A bad combination of controls (η past the stability bound, r̂ < r) prints
# the engine's message instead of a traceback.
#
# Open in JupyterLab with `make lab`. Under papermill/nbval each explorer is run once at its default
# controls (output cells are ignored by nbval) and the default picture is saved to `figures/explore-*`.

# %% tags=["parameters"]
scale = "ci"

# %%
import contextlib
import io
import time

import matplotlib.pyplot as plt
from IPython.display import display

from dlnlib.report import explorers as E
from dlnlib.report import Session, use_style

use_style()
PRESETS = {"ci": {}, "paper": {}}  # the explorers' defaults are small enough for both scales
nb = Session(scale, presets=PRESETS)


def show(widget, fig_id, caption):
    """Run the explorer once at its defaults, display it, and save its picture for the README."""
    t0 = time.perf_counter()
    widget.update()
    display(widget)
    fig = widget.result
    assert fig is not None, "the explorer failed at its default controls"
    nb.save_figure(fig, fig_id, {k: c.value for k, c in zip(widget.kwargs, widget.kwargs_widgets)},
                  time.perf_counter() - t0, caption=caption)
    return fig


# %% [markdown]
# ## Law of Parsimony
# Singular values of every layer over time (the `d − 2r` grey ones equal ρ(t), dashed black, from the
# recursion) and the angles of the right singular vectors to those of the first iterate after 0 (the init's
# singular values are all ε, so its SVD basis is arbitrary): the top and bottom r per index, and the middle
# block as a subspace — its largest principal angle (grey); per-index angles inside that degenerate block
# would be meaningless. The `view` control switches to talk-t04's 3-D panels (`lop.plot_svd3d`).

# %%
# NBVAL_IGNORE_OUTPUT
lop = E.lop_explorer()
_ = show(lop, "explore-lop", "Explorer: singular values and angles of each layer, with ρ(t) (Law of Parsimony)")

# %% [markdown]
# ## C-DLN against the wide DLN
# Problem (factorisation, sensing, completion), p or m, r̂, α, ε, η → recovery error against iteration
# and time for both networks; the Theorem 1 curve where it applies (factorisation, α = 1).

# %%
# NBVAL_IGNORE_OUTPUT
cd = E.cdln_explorer()
_ = show(cd, "explore-cdln", "Explorer: recovery error of the wide DLN and C-DLN against iteration and time")

# %% [markdown]
# ## Wang et al.: compression and separation
# Depth, ε, init type → D_l (with the fitted per-layer ratio and R²) and S_l per layer.

# %%
# NBVAL_IGNORE_OUTPUT
col = E.collapse_explorer()
_ = show(col, "explore-collapse", "Explorer: feature compression D_l and separation S_l across layers")

# %% [markdown]
# A bad combination shows the message, not a traceback:

# %%
# NBVAL_CHECK_OUTPUT
bad = E.cdln_explorer()
bad.kwargs_widgets[2].value = 5   # r = 5
bad.kwargs_widgets[5].value = 2   # r̂ = 2 < r
with contextlib.redirect_stdout(io.StringIO()) as shown:  # in JupyterLab it appears in the explorer's output area
    bad.update()
print("figure drawn:", bad.result is not None)
print("explorer showed:", shown.getvalue().strip())
try:
    E.compute_cdln(r=5, r_hat=2)
except ValueError as e:
    print("message:", e)
