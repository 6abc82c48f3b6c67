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
# # 13 · Talk T7 and T9: the width-2r̂ compressed network against the wide DLN (MF exactly, MC with a discrepant LR)
#
# **Setting** (conventions §2.4–2.5, the talk [T]). The wide DLN has `L` square `d×d` factors from an ε-orthogonal
# init. The talk's compressed network is `W_comp(t) = U_{L,1} W̃_L(t)⋯W̃_1(t) V_{1,1}ᵀ` with `W̃_l(0) = εI_{2r̂}` and
# the bases `U_{L,1}, V_{1,1}` (width 2r̂) taken from the wide init — in `dlnlib` a `L+2` factor DLN
# `[V_{1,1}ᵀ, εI, …, εI, U_{L,1}]` (`dlnlib.networks.lop_compressed`) whose outer factors move with step `γη`.
#
# | figure | claim | how we check it |
# |---|---|---|
# | T7 (MF) | wide and compressed trajectories coincide: `W_{L:1}(t) − W_comp(t) = ρ(t)^L U_{L,2}V_{1,2}ᵀ` exactly, so its norm is `√(d−2r̂)·ρ(t)^L` | assert at every recorded t: the norm to 1e-6 relative, the whole matrix to 1e-10·‖Φ‖_F |
# | T7 (MF) | the compressed net reaches the same loss in a fraction of the time | assert: time to the tolerance, compressed / wide < 1 (paper scale) |
# | T9 (MC) | with frozen bases (γ = 0) the compressed net does not recover | assert: final relative error ≥ 0.1 while the wide net's ≤ 1e-2 |
# | T9 (MC) | with γ = 0.01 it tracks the wide net and reaches low recovery error faster in time | assert: final error ≤ 1e-2 and time to relative error 1e-2 shorter (paper scale); *report* how far its path strays from the wide net's (threshold 0.1·‖Φ‖_F) |
#
# **Bases.** T7 uses the exact construction of conventions §2.4 (`lop_basis` with `Φ`). T9 follows the [Y] code
# (`compute_factor`): the same construction applied to the rank-r̂ truncation of the end-to-end gradient at
# `t = 0` (`dlnlib.studies.lop_compressed.gradient_basis`; `Ω ⊙ Φ` is not low rank, so no exact basis exists). Both
# use r̂ = r (width 2r), as the code does. Targets are the [Y] code's (best rank-r approximation of a Gaussian
# matrix), masks take exactly ⌊p d²⌋ entries, losses are the [Y] code's `½·mean(·)` over all d² entries.
#
# **Scale (honest).** The talk runs d = 1000, ε = 1e-3 (T7: η = 1e3 on the mean loss, ≤ 5000×200 iterations in
# the stored `fig_equiv_traj_L2` notebook; our figure list gave η = 0.1 (conventions §9.13), which would need ≈ 1/(η_eff σ ε) ≈ 10⁸
# iterations, so it cannot be the figure's value; T9: η = 5e3, ≤ 1700×100 iterations). One wide d = 1000 GD step
# costs ≈ 0.19 s here (one thread), and escaping the ε-saddle takes ≈ 1/(η_eff σ₁ ε) ≳ 5000 steps at ε = 1e-3 even at the
# largest stable step: ≳ 16 min per run for the escape alone, and the talk's caps (10⁶ and 1.7·10⁵ steps) are 53 and
# 9 hours on this CPU. The `"code"` preset records the talk's values (not
# run). What we run:
# - **T7 paper**: the talk's d = 1000, r = 10, L = 3 and step (η_eff = 1e-3 per ½‖·‖²), but **ε = 0.05** (converged
#   in ≈ 400 steps). The equivalence is exact for every ε; only the size of the correction `√(d−2r̂)ρ^L` grows
#   (3.9e-3, i.e. 2e-5·‖Φ‖_F).
# - **T9 paper**: **d = 200** (scaled down to d = 200–300 to fit a CPU), r = 5, p = 0.2, L = 3, **ε = 1e-2**, and the
#   talk's step transported to the smaller target: `η_eff = η_eff^talk·(σ₁^talk/σ₁)^{2−2/L}` with
#   `σ₁^talk ≈ 2√1000` (same position relative to the stability limit `η L σ₁^{2−2/L} < 2`).
# - **ci**: d = 150 (T7) and d = 100 (T9), the same rules.
#
# Timings are wall-clock on the shared 2-core CPU (other jobs run alongside); the compressed net's time includes
# building its bases, and both nets' include the same light recording.

# %% tags=["parameters"]
scale = "ci"

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Image, display

import dlnlib as dl
from dlnlib.report import COLORS, OKABE_ITO, Session, use_style
from dlnlib.metrics import first_crossing, polyline_distance
from dlnlib.studies import lop_compressed as LC
from dlnlib.theory import lop_rho

torch.set_num_threads(1)  # the CPU is shared: one thread is faster and steadier under load
use_style()

T7_CODE = dict(d=1000, r=10, r_hat=10, L=3, eps=1e-3, eta_mean=1e3, iterations=5000 * 200, tol=1e-10)
T9_CODE = dict(d=1000, r=5, r_hat=5, L=3, p=0.2, eps=1e-3, eta_mean=5e3, iterations=1700 * 100, tol_wide=1e-9,
               tol_comp=1e-13, gammas=(0.0, 0.01))
PRESETS = {
    "ci": {
        "t07": dict(d=150, r=10, r_hat=10, L=3, eps=0.05, eta_talk=1e-3, d_talk=1000, tol=1e-10, max_iter=3000,
                    record_every=5, seed=0),
        "t09": dict(d=100, r=5, r_hat=5, L=3, p=0.2, eps=1e-2, eta_talk=5e-3, d_talk=1000, tol_wide=1e-9,
                    tol_comp=1e-13, gammas=(0.0, 0.01), max_iter=6000, record_every=50, seed=0),
    },
    "paper": {
        "t07": dict(d=1000, r=10, r_hat=10, L=3, eps=0.05, eta_talk=1e-3, d_talk=1000, tol=1e-10, max_iter=3000,
                    record_every=5, seed=0),
        "t09": dict(d=200, r=5, r_hat=5, L=3, p=0.2, eps=1e-2, eta_talk=5e-3, d_talk=1000, tol_wide=1e-9,
                    tol_comp=1e-13, gammas=(0.0, 0.01), max_iter=10000, record_every=25, seed=0),
    },
    "code": {"t07": T7_CODE, "t09": T9_CODE},  # the talk's values (the talk [T]), documented, not run here
}
nb = Session(scale, presets=PRESETS, study=LC)  # checks scale; the preset run, output folder, device
P = nb.params
ASSERT_TIME = scale != "ci"  # wall-clock claims are asserted at paper scale (ci timings are mostly overhead)
LOW = 1e-2  # "low recovery error": ‖W − M*‖_F/‖M*‖_F
P

# %% [markdown]
# ## T7 — deep matrix factorisation: wide and compressed coincide
# Both nets start from the same wide init. The compressed net runs first (until its loss ≤ tol/10), recording
# `W̃_{L:1}(t)`; the wide net then runs (until its loss ≤ tol), and at each recorded t we split
# `ΔW = W_{L:1}(t) − U_{L,1}W̃_{L:1}(t)V_{1,1}ᵀ` into its component along `O = U_{L,2}V_{1,2}ᵀ` and the rest
# (`dlnlib.studies.lop_compressed.equivalence_recorder`) and compare with ρ(t) from the recursion
# `ρ ← ρ(1 − η_eff ρ^{2(L−1)})` (conventions §2.2).

# %%
q7 = P["t07"]
M7 = dl.truncated_gaussian_target(q7["d"], q7["d"], q7["r"], seed=q7["seed"])
prob7 = dl.Factorisation(M7, "mean")
eta7 = LC.talk_step(q7["eta_talk"], q7["d_talk"], prob7, q7["L"])  # on the mean loss
t0 = time.perf_counter()
res7 = nb.cached("talk-t07", dict(q7, eta=eta7),
                lambda: LC.mf_equivalence(prob7, q7["L"], q7["eps"], eta7, q7["r_hat"], q7["tol"], q7["max_iter"],
                                         q7["record_every"], seed=q7["seed"] + 1))
rt7 = time.perf_counter() - t0
rho7 = lop_rho(q7["eps"], eta7, q7["L"], int(res7.iterations[-1]), loss_scale=prob7.loss_scale)
eq7 = LC.equivalence_error(res7.gap, res7.iterations_wide, rho7, q7["L"], res7.m, res7.phi_norm)
it_w, t_wide = (first_crossing(res7.loss_wide, x, q7["tol"], below=True) for x in (res7.iterations_wide, res7.time_wide))
it_c, t_comp = (first_crossing(res7.loss_comp, x, q7["tol"], below=True) for x in (res7.iterations, res7.time_comp))
print(f"η on the mean loss = {eta7:.4g} (η_eff = {eta7 * prob7.loss_scale:.3g}); m = d − 2r̂ = {res7.m}")
print(f"|‖ΔW‖_F − √m ρ^L| / (√m ρ^L): max {eq7.norm.max():.2e};  ‖ΔW − ρ^L O‖_F / (√m ρ^L): max {eq7.residual.max():.2e}"
      f";  ‖ΔW − ρ^L O‖_F / ‖Φ‖_F: max {eq7.phi.max():.2e}")
print(f"√m ρ(T)^L = {math.sqrt(res7.m) * rho7[-1] ** q7['L']:.3e}, ‖Φ‖_F = {res7.phi_norm:.1f}")
print(f"loss ≤ {q7['tol']:g}: wide at iteration {it_w:.0f} "
      f"({t_wide:.2f} s, {res7.sps_wide * 1e3:.1f} ms/step); compressed at {it_c:.0f} "
      f"({t_comp:.2f} s incl. {res7.setup_s:.2f} s set-up, {res7.sps_comp * 1e3:.2f} ms/step)")
print(f"parameters: wide L·d² = {res7.params_wide:,}; compressed (trainable) L·(2r̂)² = {res7.params_comp:,} "
      f"(+ 2·d·2r̂ = {2 * q7['d'] * 2 * q7['r_hat']:,} frozen)")

# %%
nb.check("talk-t07-norm", "talk-t07",
        "T7 MF: ‖W_{L:1}(t) − W_comp(t)‖_F = √(d−2r̂)·ρ(t)^L at every recorded t (max relative deviation)",
        eq7.norm.max(), 1e-6)
nb.check("talk-t07-matrix", "talk-t07",
        "T7 MF: W_{L:1}(t) − W_comp(t) = ρ(t)^L U_{L,2}V_{1,2}ᵀ as matrices (max ‖residual‖_F/‖Φ‖_F over t)",
        eq7.phi.max(), 1e-10)
nb.check("talk-t07-matrix-rel", "talk-t07",
        "T7 MF: the same residual relative to the correction's own size √(d−2r̂)ρ^L (rounding level, reported)",
        eq7.residual.max(), None, passed=bool(eq7.residual.max() <= 1e-5), assert_=False)
nb.check("talk-t07-time", "talk-t07",
        f"T7 MF: wall-clock time to loss ≤ {q7['tol']:g}, compressed (incl. basis set-up) / wide",
        t_comp / t_wide, 1.0, assert_=ASSERT_TIME)
nb.check("talk-t07-iterations", "talk-t07",
        "T7 MF: |iterations to the tolerance, wide − compressed| (the same trajectory; reported)",
        abs(it_w - it_c), None, passed=bool(math.isfinite(it_w) and math.isfinite(it_c)), assert_=False)

# %% [markdown]
# ### Figure `talk-t07`
# Left: both end-to-end trajectories in the coordinates of the top three principal components of the wide net's
# centred iterates (the talk's code uses PCs 8–10 of the last 10 saved iterates; we show the whole trajectory).
# Middle: the two relative deviations asserted above, at every recorded t (ρ(t) from the recursion). Right:
# training loss against wall-clock time.

# %%
def pc_axes(fig):
    """The left panel of T7/T9: a 3-D axes for a trajectory in the top three PCs, labelled, with room for its
    z-label (constrained layout does not see it)."""
    ax = fig.add_subplot(1, 3, 1, projection="3d")
    ax.set_box_aspect(None, zoom=0.75)
    ax.set_xlabel("PC 1", labelpad=-4); ax.set_ylabel("PC 2", labelpad=-1); ax.set_zlabel("PC 3", labelpad=0)
    ax.tick_params(labelsize=6, pad=-1)
    for a_ in (ax.xaxis, ax.yaxis, ax.zaxis):
        a_.set_major_locator(plt.MaxNLocator(3))
    fig.get_layout_engine().set(wspace=0.12)
    return ax


fig = plt.figure(figsize=(7.0, 3.0))
ax = pc_axes(fig)
pw, pc = res7.pc_wide, res7.pc_comp
ax.plot(*pw.T, color=COLORS["orig"], lw=2.2, label="original (wide)")
ax.plot(*pc.T, color=COLORS["comp"], ls="--", lw=1.2, label="compressed")
ax.scatter(*pw[0], marker="*", s=60, color="k", label="init", depthshade=False)
ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=6, ncol=2)
ax = fig.add_subplot(1, 3, 2)
tiny = 1e-18  # log axis: exact zeros are drawn at 1e-18
ax.plot(res7.iterations_wide, np.maximum(eq7.norm, tiny), "o", mfc="none", ms=2.5, color=COLORS["comp"],
        label=r"$|\,\|\Delta W\|_F/(\sqrt{m}\rho^L)-1|$")
ax.plot(res7.iterations_wide, np.maximum(eq7.residual, tiny), "s", mfc="none", ms=2.5, color=COLORS["orig"],
        label=r"$\|\Delta W-\rho^L U_{L,2}V_{1,2}^\top\|_F/(\sqrt{m}\rho^L)$")
ax.axhline(1e-6, color=COLORS["theory"], lw=0.8, ls=":", label="tolerance (norm)")
ax.set_yscale("log"); ax.set_xlabel("iteration $t$"); ax.set_ylabel("relative deviation")
ax.set_ylim(top=1e-2)
ax.set_title(rf"$\Delta W = W_{{L:1}}-W_{{\rm comp}}$; $\sqrt{{m}}\rho^L \approx$ "
             rf"{math.sqrt(res7.m) * rho7[-1] ** q7['L']:.1e}", fontsize=7)
ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.25))
ax = fig.add_subplot(1, 3, 3)
ax.plot(res7.time_wide, res7.loss_wide, color=COLORS["orig"], lw=2.2, label="original (wide)")
ax.plot(res7.time_comp, res7.loss_comp, color=COLORS["comp"], ls="--", label="compressed")
ax.set_yscale("log"); ax.set_xlabel("time (s)"); ax.set_ylabel("training loss (mean)")
ax.set_ylim(bottom=q7["tol"] / 10)
ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.25))  # below: the curves move with the timing
fig.suptitle(f"T7: deep MF, d = {q7['d']}, r = {q7['r']} (width 2r̂ = {2 * q7['r_hat']}), L = {q7['L']}, "
             f"ε = {q7['eps']:g}, $\\eta_{{\\rm eff}}$ = {eta7 * prob7.loss_scale:.2g}", fontsize=8)
pdf = nb.save_figure(fig, "talk-t07", dict(q7, eta_mean=eta7, eta_eff=eta7 * prob7.loss_scale,
                                               code_preset=T7_CODE,
                                               note="ε = 0.05 instead of the talk's 1e-3 (CPU budget); see notebook 13"),
                    rt7, caption=f"Wide vs compressed DLN on deep MF: identical trajectories up to ρ^L U_L2 V_12ᵀ "
                                 f"(max rel. dev. {eq7.norm.max():.1e}); compressed reaches loss {q7['tol']:g} "
                                 f"{t_wide / t_comp:.0f}× faster in time.")
plt.close(fig)
display(Image(filename=str(pdf.with_suffix(".png")), width=700))  # the saved PNG: no second render

# %% [markdown]
# ## T9 — deep matrix completion: frozen bases fail, discrepant learning rates recover
# The wide net, the compressed net with frozen bases (γ = 0, `W_comp^{(0)}`) and with slowly moving bases
# (γ = 0.01, `W_comp^{(γ)}`), all from the same wide init. Tolerances as in the code (1e-9 wide, 1e-13
# compressed); the compressed nets' times include building the bases. How far a path strays from the wide one
# is `max_t min_s ‖W_wide(t) − W_comp(s)‖_F/‖Φ‖_F` over the piecewise-linear path through the recorded iterates
# (`dlnlib.metrics.polyline_distance`, blind to timing); the threshold 0.1 was fixed before the runs.

# %%
q9 = P["t09"]
M9 = dl.truncated_gaussian_target(q9["d"], q9["d"], q9["r"], seed=q9["seed"])
mask9 = dl.exact_count_mask(q9["d"], q9["d"], q9["p"], seed=q9["seed"] + 1)
prob9 = dl.Completion(M9, mask9, "mean")
eta9 = LC.talk_step(q9["eta_talk"], q9["d_talk"], prob9, q9["L"])  # on the mean loss


def t9_run():
    R = LC.mc_trajectories(prob9, q9["L"], q9["eps"], eta9, q9["r_hat"], q9["gammas"], q9["tol_wide"], q9["tol_comp"],
                          q9["max_iter"], q9["record_every"], seed=q9["seed"] + 2)
    wide = R["wide"]
    mu, dirs, ev = LC.pc_basis(wide.e2e, 3)
    nM = float(torch.linalg.matrix_norm(M9))
    extra = {"pc_explained": ev}
    for k, tr in R.items():
        extra[k] = dict(pc=LC.pc_project(tr.e2e, mu, dirs),
                        stray=polyline_distance(wide.e2e, tr.e2e) / nM if k != "wide" else 0.0,
                        final_gap=float(np.linalg.norm(wide.e2e[-1].astype(np.float64) - tr.e2e[-1]) / nM))
        n = min(len(wide.iterations), len(tr.iterations))
        extra[k]["sync_gap"] = float(np.max(np.linalg.norm(
            (wide.e2e[:n].astype(np.float64) - tr.e2e[:n]).reshape(n, -1), axis=1)) / nM)
    for tr in R.values():
        tr.e2e = np.zeros(0, dtype=np.float32)  # keep the cache small
    return R, extra


t0 = time.perf_counter()
R9, X9 = nb.cached("talk-t09", dict(q9, eta=eta9), t9_run)
rt9 = time.perf_counter() - t0
g0, gg = f"gamma={q9['gammas'][0]:g}", f"gamma={q9['gammas'][1]:g}"
print(f"η on the mean loss = {eta9:.4g} (η_eff = {eta9 * prob9.loss_scale:.3g})")
times9 = {}
for k, tr in R9.items():
    times9[k] = tuple(first_crossing(tr.rel_error, x, LOW, below=True) for x in (tr.iterations, tr.seconds))
    print(f"{k:11s} stop {tr.stop:6d}  final rel. error {tr.rel_error[-1]:.2e}  test MSE {tr.test_error[-1]:.2e}  "
          f"test loss ([Y] code) {tr.half_mse_masked[-1]:.2e}  "
          f"rel. error ≤ {LOW:g} at iteration {times9[k][0]:.0f} / {times9[k][1]:.2f} s  "
          f"({tr.sps * 1e3:.2f} ms/step)  strays {X9[k]['stray']:.3f}  equal-t gap {X9[k]['sync_gap']:.3f}")

# %%
e_w, e_0, e_g = (float(R9[k].rel_error[-1]) for k in ("wide", g0, gg))
nb.check("talk-t09-wide-recovers", "talk-t09", "T9 MC: the wide DLN recovers M* (final ‖W−M*‖_F/‖M*‖_F ≤ 1e-2)",
        e_w, 1e-2)
nb.check("talk-t09-frozen-fails", "talk-t09",
        "T9 MC: the compressed net with frozen bases (γ = 0) does not recover (final relative error ≥ 0.1)",
        e_0, 0.1, passed=bool(e_0 >= 0.1))
nb.check("talk-t09-gamma-recovers", "talk-t09",
        "T9 MC: with γ = 0.01 the compressed net recovers M* (final relative error ≤ 1e-2)", e_g, 1e-2)
nb.check("talk-t09-gamma-faster", "talk-t09",
        f"T9 MC: wall-clock time to relative error {LOW:g}, compressed γ = 0.01 (incl. set-up) / wide",
        times9[gg][1] / times9["wide"][1], 1.0, assert_=ASSERT_TIME)
nb.check("talk-t09-gamma-tracks", "talk-t09",
        "T9 MC: the γ = 0.01 path stays within 0.1·‖Φ‖_F of the wide net's (max over the wide iterates of the "
        "distance to the compressed path; not shown at our scale, reported)",
        X9[gg]["stray"], 0.1, assert_=False)
nb.check("talk-t09-frozen-strays", "talk-t09",
        "T9 MC: the same distance for γ = 0 (reported, for contrast)", X9[g0]["stray"], None,
        passed=bool(X9[g0]["stray"] > X9[gg]["stray"]), assert_=False)

# %% [markdown]
# ### Figure `talk-t09`
# Left: the three trajectories in the top three PCs of the wide net's centred iterates (the talk's code: PCs
# 12, 0, 2 of the last 30 saved iterates). Middle and right: the talk code's "recovery error" against iterations and
# wall-clock time, in the code's own convention: its test loss `½‖P_Ωᶜ(W − M*)‖_F²/d²`, the half-squared residual on
# the unobserved entries averaged over all d² entries (`dlnlib.metrics.half_mse_masked`, conventions §8); it is
# `(1 − p)/2` times the unobserved-entry MSE printed above. The checks use the relative error and are unchanged.

# %%
sty = {"wide": dict(color=COLORS["orig"], lw=2.2, label="original (wide)"),
       gg: dict(color=OKABE_ITO[5], ls="--", lw=1.3, label=r"$W^{(\gamma)}_{\rm comp}$, γ = 0.01"),
       g0: dict(color=COLORS["comp"], lw=1.2, label=r"$W^{(0)}_{\rm comp}$, γ = 0")}
fig = plt.figure(figsize=(7.0, 2.8))
ax = pc_axes(fig)
for k in ("wide", gg, g0):
    ax.plot(*X9[k]["pc"].T, **sty[k])
ax.scatter(*X9["wide"]["pc"][0], marker="*", s=60, color="k", label="init", depthshade=False)
ax3d = ax
for j, xkey in enumerate(("iterations", "seconds")):
    ax = fig.add_subplot(1, 3, 2 + j)
    for k in ("wide", gg, g0):
        tr = R9[k]
        x = tr.iterations if xkey == "iterations" else tr.seconds
        ax.plot(x, tr.half_mse_masked, **{kk: v for kk, v in sty[k].items()})
    ax.set_yscale("log")
    ax.set_xlabel("iteration" if xkey == "iterations" else "time (s)")
    ax.set_ylabel(r"test loss $\frac{1}{2}\|P_{\Omega^c}(W-M^*)\|_F^2/d^2$")
fig.legend(*ax3d.get_legend_handles_labels(), loc="outside lower center", ncol=4)
fig.suptitle(f"T9: deep MC, d = {q9['d']}, r = {q9['r']}, p = {q9['p']}, L = {q9['L']}, ε = {q9['eps']:g}",
             fontsize=8)
pdf = nb.save_figure(fig, "talk-t09", dict(q9, eta_mean=eta9, eta_eff=eta9 * prob9.loss_scale,
                                               code_preset=T9_CODE,
                                               error_axis="half_mse_masked: ½‖P_Ωᶜ(W − M*)‖²/d², the [Y] code's test loss",
                                               note="d = 200 and ε = 1e-2 instead of the talk's 1000 and 1e-3 (CPU budget)"),
                    rt9, caption=f"Deep MC: frozen bases fail (final rel. error {e_0:.2f}); γ = 0.01 recovers "
                                 f"({e_g:.1e}) and reaches rel. error {LOW:g} in {times9[gg][1]:.1f} s vs "
                                 f"{times9['wide'][1]:.1f} s for the wide net; its path strays {X9[gg]['stray']:.2f}·‖Φ‖_F.")
plt.close(fig)
display(Image(filename=str(pdf.with_suffix(".png")), width=700))  # the saved PNG: no second render

# %% [markdown]
# **Reading the T9 result.** At our reduced scale the γ = 0.01 network does *not* follow the wide net's path:
# it first fits the observed entries inside the (wrong) initial gradient subspace — the detour of the γ = 0
# network — and only then do its slowly moving bases rotate to the true subspaces, ending at the wide net's
# limit. Its time to low error is still shorter. The talk's 3-D panel shows only the last 30 saved iterates,
# where the two limits coincide; the claim "tracks" is therefore reported, not asserted.

# %%
# NBVAL_CHECK_OUTPUT
print("T7 trajectories coincide up to ρ^L U_{L,2}V_{1,2}ᵀ:", bool(eq7.norm.max() <= 1e-6 and eq7.phi.max() <= 1e-10))
print("T7 both nets reach the tolerance:", bool(math.isfinite(it_w) and math.isfinite(it_c)))
print("T9 wide recovers, γ = 0 fails, γ = 0.01 recovers:", bool(e_w <= 1e-2 and e_0 >= 0.1 and e_g <= 1e-2))
