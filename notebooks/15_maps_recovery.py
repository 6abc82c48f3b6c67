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
# # 15 · Maps: where [K]'s recovery claims hold (Figs 11/12 sample complexity, Fig. 19 depth)
#
# Our paper-scale runs do not show two of [K]'s empirical claims (`figures/verification.json`, notebooks 10 and 12):
#
# | claim | what our runs show |
# |---|---|
# | Figs 11/12 (App. A.1): with r = 10, sensing (m = 2000) and completion (20 % of 100×100 observed), "the first r singular values are fitted incrementally" | neither network recovers M*: completion's σ₁ ends near 90 against σ₁* ≈ 20; in sensing σ₉, σ₁₀ never reach ½σ_i* in 40k steps |
# | Fig. 19: with L = 2, C-DLN's training loss is lower than the original's and its recovery error "slightly higher" | C-DLN's loss is above the original's at 98 recorded iterations; its error is 2.2× |
#
# Both settings have few observations: 2,000 entries or measurements for a rank-10 100×100 target, which has
# **r(2d − r) = 1,900 degrees of freedom** — a ratio of 1.05. Fig. 19 observes 30 % (3,000 entries, ratio 1.58).
# Instead of arguing, we **map** each claim over the parameters that decide it, several seeds per cell, and mark
# the paper's setting.
#
# **Map 1 (Figs 11/12).** Completion (the [K] code's loss averaged over |Ω|, exact-count mask) and sensing
# (`A_i ~ N(0,1)/m`, summed loss), target `kwon_target(d, r)` (a different Gaussian per seed), the wide d×d DLN of
# depth 3 from an ε-orthogonal init, GD at 0.3 × the stability bound (`dlnlib.theory.stability_rule`). The x axis is
# the number of observations (entries or measurements) **in units of r(2d − r)**; the y axis the rank r. A cell's
# colour is the share of seeds where the claim holds: (i) the network **recovers** M*,
# `‖W_{L:1} − M*‖_F/‖M*‖_F ≤ 1e-2` at the end, **and** (ii) the first r singular values are **fitted incrementally**,
# every σ_i reaches ½σ_i* and `t_1 ≤ … ≤ t_r` (`maps_recovery.incremental_order`). We also map (i) alone.
# **Scaling assumption:** d is smaller than the paper's 100 (CPU budget), and recovery is taken to be decided by the
# observations per degree of freedom, so the paper's setting is placed at ratio 2000/1900 = 1.05 and at r/d = 0.1
# (the paper's r = 10 at d = 100). Completion's sample complexity carries an extra log d, so a smaller d makes
# completion *easier* per degree of freedom than at d = 100: where the map fails at our d it fails at the paper's too.
# Sensing: the seeds of a cell share one operator A (their targets and inits differ).
#
# **Map 2 (Fig. 19).** Completion at observed fraction p (exact count), depth L ∈ {2, 3, 4}, r/d = 0.1 as in
# Fig. 19, so the dof ratio p·d²/(r(2d−r)) does not depend on d. The wide DLN and C-DLN (r̂ = 2r, α = 2; at L = 2
# the official code's unscaled `[Vᵀ, U]`) at one step η (0.3 × the smaller stability bound). Per seed:
# **S1** "C-DLN's training loss is lower": comp's loss ≤ orig's at ≥ 90 % of the recorded iterations (a run that
# stopped at tol keeps its last value); **S2** "its recovery error is slightly higher": the final relative errors
# satisfy 1 < comp/orig ≤ 1.5. ε is 1e-2 at L = 2, 3 (the code's) and chosen at L = 4 so that ε^{L−2} — which sets the
# saddle-escape time ∝ 1/(η ε^{L−2} σ*) — equals L = 3's (ε = 0.1), else L = 4 would not leave the saddle within
# the budget. Thresholds fixed before the runs.
#
# Every cell is one call of a pure function of plain parameters (`maps_recovery.incremental_point`,
# `maps_recovery.depth_point`; a cell's seeds train as one batch), mapped with `dlnlib.sweep.sweep` and cached.
#
# **Scale.** `paper`: map 1 at d = 30, ranks {2, 3, 4, 6}, ratios {0.75, 1.05, 1.5, 2, 3, 4}, 3 seeds, ≤ 10,000
# steps; map 2 at d = 30, r = 3, p ∈ {0.15, 0.2, 0.3, 0.45, 0.6}, 3 seeds, ≤ 8,000 steps. `ci`: d = 20, fewer cells,
# 2 seeds, ≤ 3,000 steps and a larger ε (2e-2 in map 1; 3e-2 at L = 2, 3 and 0.17 at L = 4 in map 2, the same ε^{L−2}
# rule) for a faster saddle escape — the same rules otherwise. d = 30 rather than 40–60: sensing's m × d² operator makes a cell at d = 40
# and ratio 4 cost ≈ 30 s; d = 30 keeps the whole notebook within 6 minutes on one core.

# %% tags=["parameters"]
scale = "ci"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Image, display

from dlnlib.report import Session, use_style
from dlnlib.studies import maps_recovery as MR
from dlnlib.sweep import sweep

torch.set_num_threads(1)  # the CPU is shared: one thread is faster and steadier under load
use_style()

PAPER_SETTING = dict(ratio=2000 / 1900, r_over_d=0.1, p19=0.3, L19=2)  # [K] App. A.1 and the Fig. 19 notebook
COMMON1 = dict(depth=3, eps=1e-2, safety=0.3, tol=1e-12, rec_tol=1e-2, frac=0.5, seed=0)
COMMON2 = dict(alpha=2.0, safety=0.3, tol=1e-12, seed=0)
PRESETS = {
    "ci": {
        "inc": dict(COMMON1, d=20, ranks=[1, 2, 4], ratios=[1.05, 2.0, 3.0], seeds=2, iterations=3000, records=100,
                    eps=2e-2, longer=3),
        "depth": dict(COMMON2, d=20, r=2, ps=[0.3, 0.6], depths=[2, 3, 4], eps={2: 3e-2, 3: 3e-2, 4: 0.17}, seeds=2,
                      iterations=3000, records=60),
    },
    "paper": {
        "inc": dict(COMMON1, d=30, ranks=[2, 3, 4, 6], ratios=[0.75, 1.05, 1.5, 2.0, 3.0, 4.0], seeds=3,
                    iterations=10000, records=200, longer=4),
        "depth": dict(COMMON2, d=30, r=3, ps=[0.15, 0.2, 0.3, 0.45, 0.6], depths=[2, 3, 4],
                      eps={2: 1e-2, 3: 1e-2, 4: 0.1}, seeds=3, iterations=8000, records=100),
    },
}
nb = Session(scale, presets=PRESETS, study=MR)  # checks scale; the preset run, output folder, device
P = nb.params
P

# %% [markdown]
# ## Map 1 — sample complexity × rank (Figs 11/12)

# %%
q1 = P["inc"]
point_kw = {k: q1[k] for k in ("depth", "eps", "safety", "tol", "rec_tol", "frac", "seed", "seeds", "iterations",
                               "records")}
grid1 = {kind: [dict(point_kw, kind=kind, d=q1["d"], r=r, ratio=x) for r in q1["ranks"] for x in q1["ratios"]]
         for kind in ("mc", "ms")}
shape1 = (len(q1["ranks"]), len(q1["ratios"]))
t0 = time.perf_counter()
res1 = {kind: sweep(MR.incremental_point, grid1[kind], cache=nb.cached, key=f"maps-incremental-{kind}")
        for kind in grid1}
wall1 = time.perf_counter() - t0
cost1 = {kind: sum(p["cpu_seconds"] for p in res1[kind]) for kind in res1}  # training CPU seconds (also when cached)
wall_train1 = sum(p["seconds"] for kind in res1 for p in res1[kind])
holds = {k: MR.fraction_map(res1[k], shape1, "holds") for k in res1}
recov = {k: MR.fraction_map(res1[k], shape1, "recovered") for k in res1}
order = {k: MR.fraction_map(res1[k], shape1, "ordered") for k in res1}
print(f"map 1: {wall1:.1f} s here (cached or not); training CPU seconds: completion {cost1['mc']:.1f}, sensing "
      f"{cost1['ms']:.1f} (wall clock {wall_train1:.1f} s)")
for k, name in (("mc", "completion"), ("ms", "sensing")):
    print(f"{name}: share of seeds that recover AND fit incrementally (rows r = {q1['ranks']}, columns ratio = {q1['ratios']})")
    print(np.array2string(holds[k], precision=2))
    print("  recovers:", np.array2string(recov[k], precision=2).replace("\n", "\n            "))
    print("  ordered: ", np.array2string(order[k], precision=2).replace("\n", "\n            "))
    med = np.array([np.median(p["rel_error"]) for p in res1[k]]).reshape(shape1)
    print("  median final relative error:", np.array2string(med, precision=2, max_line_width=150).replace("\n", "\n  "))


# %%
def paper_cell(q):
    """(row, column) of the cell nearest the paper's setting: ratio 2000/1900, r = 0.1·d (nearest in r/d)."""
    i = int(np.argmin(np.abs(np.array(q["ranks"]) / q["d"] - PAPER_SETTING["r_over_d"])))
    j = int(np.argmin(np.abs(np.log(np.array(q["ratios"]) / PAPER_SETTING["ratio"]))))
    return i, j


def region(frac, q, level=2 / 3):
    """Per rank: the smallest ratio from which the claim holds for ≥ level of the seeds at every larger feasible ratio."""
    out = {}
    for i, r in enumerate(q["ranks"]):
        ok = [j for j in range(frac.shape[1]) if all(not np.isfinite(frac[i, k]) or frac[i, k] >= level
                                                     for k in range(j, frac.shape[1])) and np.isfinite(frac[i, j])]
        out[r] = q["ratios"][ok[0]] if ok else None
    return out


ip, jp = paper_cell(q1)
r_paper = q1["ranks"][ip]
# the paper's cell again with `longer` × the steps: too few steps, or too few observations?
long_grid = [dict(g, iterations=q1["longer"] * q1["iterations"]) for g in (grid1["mc"][ip * shape1[1] + jp],
                                                                         grid1["ms"][ip * shape1[1] + jp])]
long1 = dict(zip(("mc", "ms"), sweep(MR.incremental_point, long_grid, cache=nb.cached, key="maps-incremental-long")))
cost1_long = sum(p["cpu_seconds"] for p in long1.values())
for k, res in long1.items():
    short = res1[k][ip * shape1[1] + jp]
    def fmt(a, f):
        return "[" + ", ".join(format(x, f) for x in a) + "]"
    print(f"{k} at the paper's cell, {q1['iterations']} → {long_grid[0]['iterations']} steps: training loss "
          f"{fmt(short['train_loss'], '.1e')} → {fmt(res['train_loss'], '.1e')}, relative error "
          f"{fmt(short['rel_error'], '.2f')} → {fmt(res['rel_error'], '.2f')}, in order {res['ordered'].tolist()}")


def why(k):
    """The most likely reason the claim fails at the paper's cell, from the longer run."""
    short, long_ = res1[k][ip * shape1[1] + jp], long1[k]
    n_long = long_grid[0]["iterations"]
    if long_["recovered"].mean() >= 2 / 3:
        return f"too few steps: with {n_long} steps {long_['recovered'].mean():.0%} of the seeds recover"
    fell = np.median(long_["train_loss"]) < 0.1 * np.median(short["train_loss"])
    return ((f"too few observations for the rank: with {n_long} steps the training loss falls "
             f"{np.median(short['train_loss']) / np.median(long_['train_loss']):.0f}× (median) while the relative "
             f"error stays at {np.median(long_['rel_error']):.2f} — the net fits the observations with another matrix")
            if fell else
            (f"too few observations or steps: with {n_long} steps neither the training loss (median "
             f"{np.median(long_['train_loss']):.1e}) nor the relative error ({np.median(long_['rel_error']):.2f}) "
             "comes down"))


verdict1 = {}
for k, name, fig in (("mc", "completion", "Fig. 12"), ("ms", "sensing", "Fig. 11"), ):
    reg = region(holds[k], q1)
    at = float(holds[k][ip, jp])
    rec_at, ord_at = float(recov[k][ip, jp]), float(order[k][ip, jp])
    ordered_all = float(np.nanmean([p["ordered"].mean() for p in res1[k] if p["feasible"]]))
    reason = why(k) if at < 2 / 3 else "—"
    verdict1[k] = dict(at=at, region=reg, rec_at=rec_at, ord_at=ord_at, ordered_all=ordered_all, reason=reason)
    statement = (f"{fig} map ({name}, d = {q1['d']}, L = 3, {q1['seeds']} seeds): share of seeds that recover M* "
                 f"(rel. error ≤ {q1['rec_tol']:g}) and fit σ_1..σ_r incrementally at the paper's setting "
                 f"(ratio {q1['ratios'][jp]:g} ≈ 2000/1900 dof units, r = {r_paper} = 0.1·d; recovered "
                 f"{rec_at:.2f}, ordered {ord_at:.2f}). The claim holds (≥ 2/3 of seeds) from ratio "
                 + ", ".join(f"r = {r}: {'never' if v is None else f'{v:g}'}" for r, v in reg.items())
                 + f"; σ_i fitted in order in {ordered_all:.0%} of all runs; the paper's setting is "
                 + ("inside" if at >= 2 / 3 else "outside") + f" the region. Most likely reason: {reason}.")
    nb.check(f"maps-fig11-12-{k}", "maps-fig11-12-sample-complexity", statement, at, 2 / 3, direction=">=",
             passed=at >= 2 / 3, assert_=False)
    print(statement)
    # (ii) alone — the paper's sentence "the first r singular values are fitted incrementally" — at the paper's cell:
    # asserted, because the map shows it holding there (every seed, at both scales) even though (i) fails
    nb.check(f"maps-fig11-12-{k}-order", "maps-fig11-12-sample-complexity",
             f"{fig} ({name}, d = {q1['d']}, L = 3): share of seeds whose σ_1..σ_r all reach ½σ_i* in order "
             f"(t_1 ≤ … ≤ t_r) at the paper's setting in dof units (ratio {q1['ratios'][jp]:g}, r = {r_paper}), "
             f"although they do not recover M* (recovered {rec_at:.2f}; the map's (ii) alone)", ord_at, 2 / 3,
             direction=">=")

# %%
fig, axes = plt.subplots(3, 2, figsize=(6.6, 6.4), sharex="col", sharey=True, layout="constrained")
for col, (k, name) in enumerate((("mc", "completion (Fig. 12)"), ("ms", "sensing (Fig. 11)"))):
    for row, (frac, what) in enumerate(((holds[k], "recovers and in order"), (recov[k], "(i) recovers M*"),
                                        (order[k], "(ii) first r values in order"))):
        ax = axes[row, col]
        im = MR.plot_map(ax, q1["ratios"], q1["ranks"], frac, xlabel="observations / r(2d − r)",
                         ylabel=f"rank r (d = {q1['d']})", title=f"{name}: {what}",
                         mark=(PAPER_SETTING["ratio"], PAPER_SETTING["r_over_d"] * q1["d"]))
        ax.tick_params(labelbottom=True)
fig.colorbar(im, ax=axes, shrink=0.8, label="share of seeds")
fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=1, fontsize=7)
pdf = nb.save_figure(fig, "maps-fig11-12-sample-complexity", dict(q1, paper_setting=PAPER_SETTING,
                                                                   runtime="CPU seconds of training"), sum(cost1.values()),
                     caption=f"Figs 11/12 map at d = {q1['d']}, {q1['seeds']} seeds a cell: share of seeds that recover "
                             f"M* and fit σ_1..σ_r in order (top), that recover (middle), that fit in order (bottom); "
                             f"grey: more entries than d²; star: the paper's setting in dof units (ratio 1.05, r/d = 0.1).")
plt.close(fig)
display(Image(filename=str(pdf.with_suffix(".png")), width=700))  # the saved PNG: no second render

# %% [markdown]
# ## Map 2 — depth × observed fraction (Fig. 19)

# %%
q2 = P["depth"]
grid2 = [dict(d=q2["d"], r=q2["r"], p=p, depth=L, eps=q2["eps"][L], alpha=q2["alpha"], safety=q2["safety"],
              tol=q2["tol"], seed=q2["seed"], seeds=q2["seeds"], iterations=q2["iterations"], records=q2["records"])
         for L in q2["depths"] for p in q2["ps"]]
shape2 = (len(q2["depths"]), len(q2["ps"]))
t0 = time.perf_counter()
res2 = sweep(MR.depth_point, grid2, cache=nb.cached, key="maps-depth")
wall2 = time.perf_counter() - t0
cost2 = sum(p["cpu_seconds"] for p in res2)  # training CPU seconds
wall_train2 = sum(p["seconds"] for p in res2)
s1 = MR.fraction_map(res2, shape2, fn=lambda p: p["loss_below"] >= 0.9)
s2 = MR.fraction_map(res2, shape2, fn=lambda p: (p["err_ratio"] > 1.0) & (p["err_ratio"] <= 1.5))
higher = MR.fraction_map(res2, shape2, fn=lambda p: p["err_ratio"] > 1.0)
ratio_med = np.array([np.median(p["err_ratio"]) for p in res2]).reshape(shape2)
below_med = np.array([np.median(p["loss_below"]) for p in res2]).reshape(shape2)
print(f"map 2: {wall2:.1f} s here; training CPU seconds {cost2:.1f} (wall clock {wall_train2:.1f} s)")
print(f"rows L = {q2['depths']}, columns p = {q2['ps']}")
print("S1 (comp's loss ≤ orig's at ≥ 90 % of records):\n", np.array2string(s1, precision=2))
print("   median share of records with comp's loss ≤ orig's:\n", np.array2string(below_med, precision=2))
print("S2 (1 < error ratio comp/orig ≤ 1.5):\n", np.array2string(s2, precision=2))
print("   error ratio > 1:\n", np.array2string(higher, precision=2))
print("   median error ratio comp/orig:\n", np.array2string(ratio_med, precision=3))
print("   median final error orig:\n",
      np.array2string(np.array([np.median(p["err_orig"]) for p in res2]).reshape(shape2), precision=3))

# %%
i2 = q2["depths"].index(PAPER_SETTING["L19"])
j2 = int(np.argmin(np.abs(np.array(q2["ps"]) - PAPER_SETTING["p19"])))
cell2 = res2[i2 * shape2[1] + j2]
both2 = MR.fraction_map(res2, shape2, fn=lambda p: (p["loss_below"] >= 0.9) & (p["err_ratio"] > 1.0)
                        & (p["err_ratio"] <= 1.5))
where_both = [f"(L = {L}, p = {p:g})" for i, L in enumerate(q2["depths"]) for p, f in zip(q2["ps"], both2[i])
              if f >= 2 / 3]
print("S1 and S2 together:\n", np.array2string(both2, precision=2), "\n  hold (≥ 2/3 of seeds) at", where_both or "no cell")
verdict2 = {}
for key, frac, what in (("train", s1, "C-DLN's training loss ≤ the original's at ≥ 90 % of recorded iterations"),
                        ("recovery", s2, "C-DLN's final recovery error is slightly higher, 1 < comp/orig ≤ 1.5")):
    at = float(frac[i2, j2])
    where = [f"L = {L}: p ∈ {{{', '.join(f'{p:g}' for p, f in zip(q2['ps'], frac[i]) if f >= 2 / 3)}}}"
             for i, L in enumerate(q2["depths"])]
    if key == "train":
        reason = (f"At L = 2, p = {q2['ps'][j2]:g} comp's loss is at or below orig's at a median "
                  f"{np.median(cell2['loss_below']):.0%} of the records (seeds: "
                  f"{', '.join(f'{x:.0%}' for x in cell2['loss_below'])})")
    else:
        reason = (f"At L = 2, p = {q2['ps'][j2]:g} the error ratio comp/orig is "
                  f"{', '.join(f'{x:.2f}' for x in cell2['err_ratio'])} (seeds): C-DLN's error is higher, by more "
                  "than 'slightly'" if np.median(cell2["err_ratio"]) > 1.5 else
                  f"At L = 2, p = {q2['ps'][j2]:g} the error ratio comp/orig is "
                  f"{', '.join(f'{x:.2f}' for x in cell2['err_ratio'])} (seeds)")
    statement = (f"Fig. 19 map (completion, d = {q2['d']}, r = {q2['r']}, {q2['seeds']} seeds): {what} — share of "
                 f"seeds at the paper's setting (L = 2, p = {q2['ps'][j2]:g}). Holds (≥ 2/3 of seeds) at "
                 + "; ".join(where) + "; the paper's setting is " + ("inside" if at >= 2 / 3 else "outside")
                 + f" the region; S1 and S2 hold together at {', '.join(where_both) or 'no cell'}. {reason}.")
    verdict2[key] = dict(at=at, where=where, reason=reason)
    nb.check(f"maps-fig19-{key}", "maps-fig19-depth", statement, at, 2 / 3, direction=">=", passed=at >= 2 / 3,
             assert_=False)
    print(statement)

# %%
fig, axes = plt.subplots(1, 2, figsize=(6.6, 2.6), sharey=True, layout="constrained")
for ax, frac, title in ((axes[0], s1, "S1: C-DLN's training loss lower"),
                        (axes[1], s2, "S2: recovery error slightly higher")):
    im = MR.plot_map(ax, q2["ps"], q2["depths"], frac, xlabel="observed fraction p", ylabel="depth L", title=title,
                     mark=(PAPER_SETTING["p19"], PAPER_SETTING["L19"]))
fig.colorbar(im, ax=axes, shrink=0.9, label="share of seeds")
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", fontsize=7)
pdf = nb.save_figure(fig, "maps-fig19-depth", dict(q2, paper_setting=PAPER_SETTING, runtime="CPU seconds of training"),
                     cost2,
                     caption=f"Fig. 19 map (completion, d = {q2['d']}, r/d = 0.1, {q2['seeds']} seeds a cell): share "
                             "of seeds where C-DLN's training loss is below the original's at ≥ 90 % of the records "
                             "(left) and where its final recovery error is 1–1.5× the original's (right); star: the "
                             "paper's setting (L = 2, p = 0.3).")
plt.close(fig)
display(Image(filename=str(pdf.with_suffix(".png")), width=700))  # the saved PNG: no second render

# %% [markdown]
# ## Costs
# CPU seconds of training (the cost on one idle core; the wall clock on a shared machine is longer), summed over
# the cells, whether this run computed them or read them from the cache.

# %%
print(f"map 1 (Figs 11/12): {sum(cost1.values()):.1f} CPU s of training ({len(grid1['mc']) + len(grid1['ms'])} cells × "
      f"{q1['seeds']} seeds) + {cost1_long:.1f} s for the longer runs at the paper's cell; map 2 (Fig. 19): {cost2:.1f} CPU s ({len(grid2)} cells × {q2['seeds']} seeds × 2 nets)")

# %%
# NBVAL_CHECK_OUTPUT
for k, name in (("mc", "completion"), ("ms", "sensing")):
    print(f"{name}: claim holds at the paper's setting: {verdict1[k]['at'] >= 2 / 3}; "
          f"recovers somewhere on the map: {bool(np.nanmax(recov[k]) >= 2 / 3)}")
print("Fig. 19 S1 holds at L = 2, p = 0.3:", verdict2["train"]["at"] >= 2 / 3)
print("Fig. 19 S2 holds at L = 2, p = 0.3:", verdict2["recovery"]["at"] >= 2 / 3)

# %% [markdown]
# ## What the maps show (paper scale)
# Committed paper-scale run: 2 Dec 2026, this machine (2 cores shared by several sessions, load ≈ 10), one thread;
# runs are deterministic (float64, one thread), so the numbers below are those of any rerun.
#
# **Figs 11/12 — verdict.** Fitting the first r singular values *in order* holds wherever there are at least 1.05
# observations per degree of freedom — every seed, both problems, including the paper's setting (so it is asserted
# as new rows `maps-fig11-12-mc-order`/`-ms-order`); only at 0.75 does σ_r fail to reach ½σ_r* — but **recovering M***,
# which the figures' σ_i → σ_i* presumes, needs ≥ 1.5 dof units in sensing and 1.5–2 in completion, and the paper's
# 2,000 observations for 1,900 degrees of freedom (ratio 1.05) lie outside that region for every rank we mapped.
# The most likely reason is too few observations for the rank, not too few steps: at the paper's cell, 4× the steps
# (40,000) bring the training loss to 1e-8–1e-12 (sensing) and 1e-5–4e-9 (completion) while the relative error stays at
# 1.20–1.54 and 1.49–2.20 — the network fits the observations with another matrix, as notebook 12's d = 100 runs do.
#
# Numbers (d = 30, L = 3, 3 seeds a cell): completion recovers all seeds from ratio 2 at r = 2, 3 and from 1.5 at
# r = 4, 6 (1.5: 0/3, 1/3, 2/3, 3/3 for r = 2, 3, 4, 6); sensing recovers all seeds from 1.5 at every rank (median
# final errors ≤ 6e-5); at ratio ≤ 1.05 no seed recovers (median relative error 0.94–2.65). σ_1..σ_r are fitted in
# order in 82 % (completion) and 88 % (sensing) of all runs; every failure is at ratio 0.75.
#
# **Fig. 19 — verdict.** "C-DLN's training loss is lower" (S1) holds at L = 2 only with few observations, p ≤ 0.2
# (2/3 of the seeds), and at L = 3 (p ≤ 0.45) and L = 4 (every p); at the official notebook's p = 0.3 (the paper
# prints no setting) C-DLN's loss is at or below the original's at only 6–7 % of the recorded iterations, so the
# paper's setting lies outside S1's region. "Its recovery error is slightly higher" (S2: 1 < comp/orig ≤ 1.5) holds at
# L = 2 for p ≤ 0.3 (at p = 0.3 for 2 of 3 seeds: 1.37, 2.02, 1.18) and fails above, where the original recovers
# (error 0.04, 0.005) and C-DLN does not (7× and 32×); the two statements hold **together** at L = 2 only for
# p ≤ 0.2 (≤ 1.05 dof units), where neither net recovers M* (and at L = 4 for p = 0.2 and 0.6) — the most likely
# reason is a setting with fewer observations than p = 0.3, which the paper did not state.
#
# **Caveats.** d = 30 instead of 100: the dof units make the observation counts comparable, but completion's
# sample complexity carries a log d, so at d = 100 the recovery boundary in dof units lies a little higher — which
# only strengthens the Figs 11/12 verdict, and may move Fig. 19's boundary in p. 3 seeds a cell: a share of 2/3 is
# one seed from 1/3. At L = 4 ε is 0.1 (the ε^{L−2} rule above), not the code's 1e-2.
#
# **Costs** (CPU seconds of training, one thread — the time on one idle core; the rest of the notebook, imports and
# figures, adds ≈ 15–20 s): paper — map 1 143 s (completion 16 s, sensing 127 s: the m × d² operator; the 4×-longer
# runs at the paper's cell 17 s), map 2 13 s; the whole notebook used 206 s of CPU, ≈ 3.5 min on one idle core (33 min
# wall clock on the shared, loaded machine). ci — map 1 6.6 s (+ 1.7 s longer runs), map 2 2.4 s; the whole notebook
# 28 s of CPU.
