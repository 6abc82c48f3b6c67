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
# # 12 · Incremental learning in deep matrix factorisation, sensing and completion ([K] Figs 4, 8–13)
#
# **Claim** ([K] §3.2 and App. A.1; conventions §6, Assumption 1; [K] Fig. 4, 8–13). Trained by GD from the
# small ε-orthogonal initialisation, the end-to-end matrix `W_{L:1}(t)` fits the first r singular values of the
# target **one at a time**, largest first: there are times `t_1 ≤ t_2 ≤ … ≤ t_r` before which `σ_i(t)` stays near
# its initial value `ε^L` and after which `σ_i(t) ≈ σ_i*`, with the singular vectors `u_i(t), v_i(t)` aligned with
# `u_i*, v_i*` from then on. The values `σ_{r+1}, σ_{r+2}, …` stay (almost) unchanged from initialisation
# (Fig. 13). [K] proves nothing here: it is Assumption 1, which the paper supports with these figures, for
# factorisation (MF, Figs 4, 10, 13), sensing (MS, Figs 9, 11) and completion (MC, Figs 8, 12).
#
# **Setup** (App. A.1, "paper" preset): d = 100, L = 3, ε = 1e-3, r̂ = 2r, GD with η = 10 on the
# **normalised** losses of conventions §1.4, α = 5 (MF), 2 (MS), 5 (MC); MS: m = 2000 Gaussian measurements;
# MC: MCAR, each entry observed with probability 0.2. r = 5 (Figs 4, 8, 9, 13) or 10 (Figs 10, 11, 12).
#
# - MF loss `½·mean((W − M*)²)`; MC loss `½ Σ_Ω (W − M*)² / |Ω|` (the [K] code); a step η there is `η/d²`
#   resp. `η/|Ω|` on `½‖·‖²`.
# - MS: the [K] code draws `A_i` with i.i.d. N(0,1)/m entries and uses the plain sum loss
#   (`sensing(scale="official")`). That is the paper's N(0,1) operator with the loss divided by m²: the same
#   problem, with the printed η meaning a step ≈ η/m on `½‖W − M*‖²`.
# - **Target**: the paper does not give σ*. We use the official code's generator `dlnlib.kwon_target`
#   (every (d/2r)-th singular triple of a d×d standard Gaussian, conventions §9.9), which gives well-separated σ*
#   (19.9, 16.3, 13.8, 11.6, 9.9 for r = 5). MC mask: Bernoulli(0.2) (the paper's MCAR; the code draws an
#   exact count instead).
#
# **What we plot.** Each of Figs 4, 8–12: top row the original (wide, d×d) DLN — `σ_i(W_{L:1}(t))`
# (i = 1..r in colour, dark = largest; the trailing `σ_{r+1..2r}` in grey) with dotted lines at `σ_i*`, then
# `|⟨u_i(t),u_i*⟩|` and `|⟨v_i(t),v_i*⟩|`; bottom row the same for C-DLN (Algorithm 1, r̂ = 2r, the paper's α),
# since App. A.1 specifies α. Fig. 13: the original DLN only, σ_1..σ_r (linear, dotted σ_i*) and σ_1..σ_{2r}
# (log scale, to show the trailing values at ε^L).
#
# **Checks** (fitting time `t_i` = the iteration at which `σ_i(t)` first reaches ½·σ_i*, interpolated between
# recorded iterations; thresholds fixed before running):
# 1. *order*: `t_1 ≤ … ≤ t_r` and all r values reach ½·σ_i* — value = #violations + #unfitted, tolerance 0;
# 2. *fit*: at the end, `max_i |σ_i − σ_i*| / σ_i* ≤ 1e-2` (the values are learned, not just passed);
# 3. *trailing*: `max_t σ_{r+1}(t) / ε^L ≤ 2` (the trailing values stay near their initial value);
# 4. *alignment*: at the end, `1 − min_i min(|⟨u_i,u_i*⟩|, |⟨v_i,v_i*⟩|) ≤ 1e-3`;
# 5. Fig. 13: *waiting*, `σ_i(τ_{i−1}) / σ_i* ≤ 0.01` where `τ_{i−1}` is when `σ_{i−1}` reaches 90 % of its
#    target; *unchanged tail*, `max_t max_{j>r} |σ_j(t)/ε^L − 1| ≤ 0.01`.
#
# Also reported (not asserted): the Assumption 1 times of `dlnlib.incremental.incremental_times` (the first
# recorded iteration from which on `(σ_i − σ_i*)²/σ_i*² ≤ 1e-2` and `1 − |⟨·,·⟩| ≤ 1e-2` for both vectors) and
# their order; when the vectors align relative to the values (`t_align_i / t_i`, alignment ≥ 0.9 for good);
# the C-DLN order.
#
# For MF (Figs 4, 10, 13) all checks are asserted. For MS and MC the paper's evidence is empirical only:
# each check is asserted where it held on our paper-scale run and reported otherwise (the `ASSERT` table
# below; the discussion at the end gives the numbers). C-DLN rows are reported, not asserted.

# %% tags=["parameters"]
scale = "ci"

# %%
import time

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import torch

import dlnlib as dl
from dlnlib.report import Session, use_style
from dlnlib.batching import stack_nets
from dlnlib.problems import BlockedSensing, problem_kind
from dlnlib.studies import kwon_incremental as ki
from dlnlib.studies.kwon_assumption1 import incremental_times
from dlnlib.sweep import sweep

torch.set_num_threads(1)  # 2 threads on a loaded 2-core machine spin-wait: 30x slower
use_style()

COMMON = dict(depth=3, frac=0.5, tol=1e-10)
PRESETS = {
    # a smoke test: d = 30, larger ε (faster escape) and the measurement budgets scaled with the degrees of freedom
    "ci": dict(COMMON, d=30, eps=1e-2, eta=5.0, ranks={"r5": 2, "r10": 4}, alpha={"mf": 5.0, "ms": 2.0, "mc": 5.0},
               m=450, p=0.5, iterations={"mf": 8000, "ms": 5000, "mc": 10000}, record_at=400, seed=0),
    # App. A.1 of [K]
    "paper": dict(COMMON, d=100, eps=1e-3, eta=10.0, ranks={"r5": 5, "r10": 10}, alpha={"mf": 5.0, "ms": 2.0, "mc": 5.0},
                  m=2000, p=0.2, iterations={"mf": 200000, "ms": 40000, "mc": 300000}, record_at=1500, seed=0),
}
nb = Session(scale, presets=PRESETS, study=ki)  # checks scale; the preset run, output folder, device
P = nb.params
# which checks are asserted, per figure (MF: all; MS/MC: those that held on our paper-scale run, see the discussion)
_ALL = {"order": True, "fit": True, "trailing": True, "align": True}
ASSERT = {"kwon-fig04": _ALL, "kwon-fig10": _ALL,
          "kwon-fig08": {"order": True, "fit": True, "trailing": False, "align": True},   # MC r = 5
          "kwon-fig09": {"order": True, "fit": True, "trailing": False, "align": True},   # MS r = 5
          "kwon-fig12": {"order": True, "fit": False, "trailing": False, "align": False},  # MC r = 10
          "kwon-fig11": {"order": False, "fit": False, "trailing": False, "align": False}}  # MS r = 10
FIGS = {("mf", "r5"): "kwon-fig04", ("mc", "r5"): "kwon-fig08", ("ms", "r5"): "kwon-fig09",
        ("mf", "r10"): "kwon-fig10", ("ms", "r10"): "kwon-fig11", ("mc", "r10"): "kwon-fig12"}
NAMES = {"mf": "matrix factorisation", "ms": "matrix sensing", "mc": "matrix completion"}
P

# %% [markdown]
# ## Runs
# MF and MC: the wide DLN and C-DLN train separately, one point per (problem, rank) of a `dlnlib.sweep.sweep` of
# `kwon_incremental.orig_and_comp_point`. MS is memory-bound on the m × d² operator, so the four
# MS networks (wide and C-DLN, r = 5 and r = 10; C-DLN zero-padded to d×d, which is exact) train as one batch
# sharing one operator A, read once per step block by block (`dlnlib.problems.BlockedSensing`, same loss and
# gradient up to rounding). Training is cached (`F.cached`); the runtimes below are those of the training calls.

# %%
d, L, eps = P["d"], P["depth"], P["eps"]


def target(rk):
    return dl.kwon_target(d, P["ranks"][rk], seed=P["seed"] + P["ranks"][rk])


def orig_net():
    return dl.wide_dln([d] * (L + 1), eps, seed=P["seed"] + 100)


def problem_of(kind, rk):
    """MF (mean loss) or MC (Bernoulli(p) mask, "observed" loss) of the rank-ranks[rk] target."""
    r = P["ranks"][rk]
    if kind == "mf":
        return dl.Factorisation(target(rk), "mean")
    return dl.Completion(target(rk), dl.bernoulli_mask(d, d, P["p"], seed=P["seed"] + 200 + r), "observed")


def sensing_batch():
    """The four MS networks as one batch: [orig r5, comp r5, orig r10, comp r10]."""
    rs = [P["ranks"]["r5"], P["ranks"]["r5"], P["ranks"]["r10"], P["ranks"]["r10"]]
    Ms = torch.stack([target("r5"), target("r5"), target("r10"), target("r10")])
    plain = dl.sensing(Ms, P["m"], seed=P["seed"] + 300, scale="official")
    prob = BlockedSensing(plain.A, Ms, "sum", rows=16)
    S = prob.surrogate()
    nets = [orig_net(), dl.cdln(S[1], 2 * rs[1], L, eps, P["alpha"]["ms"]),
            orig_net(), dl.cdln(S[3], 2 * rs[3], L, eps, P["alpha"]["ms"])]  # stack_nets zero-pads C-DLN to d×d
    runs = ki.run_incremental(stack_nets(nets), prob, P["eta"], P["iterations"]["ms"], r=rs, n_sv=max(rs) * 2,
                              labels=["Original DLN", "C-DLN"] * 2, record_at=P["record_at"], tol=P["tol"])
    for run in runs:  # keep 2r singular values per run
        run.sv = run.sv[:, :2 * run.r]
    return {"r5": runs[:2], "r10": runs[2:]}


t0 = time.perf_counter()
grid = [(kind, rk) for kind in ("mf", "mc") for rk in ("r5", "r10")]
pts = [dict(problem=problem_of(kind, rk), orig=orig_net(), r=P["ranks"][rk], depth=L, eps=eps, alpha=P["alpha"][kind],
            eta=P["eta"], iterations=P["iterations"][kind], record_at=P["record_at"], tol=P["tol"]) for kind, rk in grid]
RK = {r: rk for rk, r in P["ranks"].items()}
kind_rk = lambda p: (problem_kind(p["problem"]), RK[p["r"]])  # a point's (kind, rk), as cached
RUNS = dict(zip(grid, sweep(ki.orig_and_comp_point, pts, key="incremental", cache=nb.cached_by(
    lambda p: dict(P, kind=kind_rk(p)[0], rk=kind_rk(p)[1]),
    name_of=lambda key, p: "{}-{}-{}".format(key, *kind_rk(p))))))  # cached as incremental-<kind>-<rk>
ms = nb.cached("incremental-ms", dict(P, kind="ms"), sensing_batch)
RUNS[("ms", "r5")], RUNS[("ms", "r10")] = ms["r5"], ms["r10"]
wall = time.perf_counter() - t0
RUNTIME = {k: (v[0].seconds + v[1].seconds if k[0] != "ms" else v[0].seconds) for k, v in RUNS.items()}
print(f"runs loaded/computed in {wall:.1f} s; training seconds per experiment:",
      {f"{k[0]}-{k[1]}": round(s, 1) for k, s in RUNTIME.items()})

# %% [markdown]
# ## Numbers
# Fitting times `t_i` (½·σ_i*), order violations, the largest trailing value over the run relative to
# `ε^L`, the final alignment, the largest relative error of `σ_1..σ_r` at the end, and where the run stopped
# (loss ≤ tol) or diverged (−1: never).

# %%
SUM = {k: [ki.summary(run, P["frac"]) for run in v] for k, v in RUNS.items()}


def assumption1_times(run, tau=1e-2):
    """Assumption 1 times via dlnlib.incremental.incremental_times (the engine's estimator of t_i)."""
    c_val_rel = (run.sv[:, :run.r] - run.sigma_star) ** 2 / run.sigma_star**2
    c_vec = 1 - np.minimum(run.align_u, run.align_v)
    return incremental_times(c_val_rel, c_vec, run.iterations, tau, tau)


A1 = {k: [assumption1_times(run) for run in v] for k, v in RUNS.items()}
epsL = eps**L
for key in sorted(FIGS, key=FIGS.get):
    for s in SUM[key]:
        print(f"{FIGS[key]} {key[0].upper()} r={P['ranks'][key[1]]:2d} {s['label']:13s} t_i = "
              f"{np.array2string(s['t_fit'], precision=0, floatmode='fixed', max_line_width=200)}  "
              f"violations {s['order_violations']} unfitted {int((~np.isfinite(s['t_fit'])).sum())}  "
              f"trailing/ε^L {s['trailing_max'] / epsL:.4g}  final align {s['final_alignment']:.6f}  "
              f"σ rel err {s['final_rel_sv_error']:.2e}  stop {s['stop_iteration']}  diverged {s['diverged_at']}")
    print(f"{'':22s} Assumption 1 t_i: orig {A1[key][0].tolist()}, C-DLN {A1[key][1].tolist()}")

# %% [markdown]
# ## Checks

# %%
RESULTS = {}
for key, fig in sorted(FIGS.items(), key=lambda kv: kv[1]):
    kind, rk = key
    r = P["ranks"][rk]
    so, sc = SUM[key]
    A = ASSERT[fig]
    where = f"{NAMES[kind]}, r = {r}"
    unfit = int((~np.isfinite(so["t_fit"])).sum())
    RESULTS[(fig, "order")] = nb.check(
        f"{fig}-order", fig, f"{where}, original DLN: t_1 ≤ … ≤ t_r (σ_i reaches ½σ_i*) and all r reach it "
        f"(#violations + #unfitted; t_i = {np.round(so['t_fit']).tolist()})",
        so["order_violations"] + unfit, 0, assert_=A["order"])
    RESULTS[(fig, "fit")] = nb.check(
        f"{fig}-fit", fig, f"{where}, original DLN: max_i |σ_i − σ_i*|/σ_i* at the end (stopped at "
        f"{so['stop_iteration']}, −1: not converged by {P['iterations'][kind]})",
        so["final_rel_sv_error"], 1e-2, assert_=A["fit"])
    RESULTS[(fig, "trailing")] = nb.check(
        f"{fig}-trailing", fig, f"{where}, original DLN: max_t σ_(r+1)(t) / ε^L (trailing values stay near ε^L)",
        so["trailing_max"] / epsL, 2.0, assert_=A["trailing"])
    RESULTS[(fig, "align")] = nb.check(
        f"{fig}-align", fig, f"{where}, original DLN: 1 − min_i min(|⟨u_i,u_i*⟩|, |⟨v_i,v_i*⟩|) at the end",
        1 - so["final_alignment"], 1e-3, assert_=A["align"])
    ta = A1[key][0]
    nb.check(f"{fig}-assumption1", fig, f"{where}, original DLN: Assumption 1 times (c_val/σ*² ≤ 1e-2 and c_vec ≤ 1e-2 "
            f"from then on; −1 never) ordered and all reached (#violations + #never; t_i = {ta.tolist()})",
            int((np.diff(ta) < 0).sum() + (ta < 0).sum()), 0, assert_=False)
    with np.errstate(invalid="ignore"):
        ratio = so["t_align"] / so["t_fit"]
    nb.check(f"{fig}-align-time", fig, f"{where}, original DLN: max_i t_align_i / t_i (vectors aligned ≥ 0.9 for good, "
            f"relative to the value reaching ½σ_i*; per i: {np.round(ratio, 2).tolist()})",
            np.max(ratio) if np.isfinite(ratio).all() else np.inf, 1.0, assert_=False)
    unfit_c = int((~np.isfinite(sc["t_fit"])).sum())
    nb.check(f"{fig}-order-comp", fig, f"{where}, C-DLN (α = {P['alpha'][kind]:g}): t_1 ≤ … ≤ t_r and all reach "
            f"½σ_i* (#violations + #unfitted; t_i = {np.round(sc['t_fit']).tolist()}; final max rel. σ error "
            f"{sc['final_rel_sv_error']:.1e})", sc["order_violations"] + unfit_c, 0, assert_=False)

# Fig. 13: close-up of the MF r = 5 run
run13 = RUNS[("mf", "r5")][0]
waits = ki.wait_ratio(run13.sv, run13.iterations, run13.sigma_star, done=0.9)
tail_change = float(np.max(np.abs(run13.sv[:, run13.r:] / epsL - 1)))
RESULTS[("kwon-fig13", "wait")] = nb.check(
    "kwon-fig13-wait", "kwon-fig13", "MF r = 5, original DLN: σ_i / σ_i* when σ_(i−1) reaches 90 % of σ_(i−1)* "
    f"(max over i = 2..r; per i: {[float(f'{w:.2e}') for w in waits]})", np.nanmax(waits), 0.01)
RESULTS[("kwon-fig13", "tail")] = nb.check(
    "kwon-fig13-tail", "kwon-fig13", "MF r = 5, original DLN: max_t max_(j>r) |σ_j(t)/ε^L − 1| (σ_6.. unchanged)",
    tail_change, 0.01)

# %%
# NBVAL_CHECK_OUTPUT
for (fig, what), ok in sorted(RESULTS.items()):
    print(fig, what, "holds" if ok else "does not hold")

# %% [markdown]
# ## Figures

# %%
LEG = [plt.Line2D([], [], color="k", ls=":", lw=0.8, label=r"$\sigma_i^*$"),
       plt.Line2D([], [], color="0.6", lw=0.8, label=r"trailing $\sigma_{r+1..2r}$")]


def incremental_figure(key):
    kind, rk = key
    fig_id, r = FIGS[key], P["ranks"][rk]
    o, c = RUNS[key]
    fig, axes = plt.subplots(2, 3, figsize=(7.0, 3.9), sharex=True)
    for row, run in enumerate((o, c)):
        ki.plot_singular_values(axes[row, 0], [run], n_trailing=r)
        ki.plot_alignment(axes[row, 1], [run], "u")
        ki.plot_alignment(axes[row, 2], [run], "v")
        name = run.label if row == 0 else f"C-DLN (r̂ = {2 * r}, α = {P['alpha'][kind]:g})"
        axes[row, 0].set_title(name, loc="left")
        if run.diverged_at >= 0:
            axes[row, 0].set_title(f"{name} — diverged at {run.diverged_at}", loc="left")
    for ax in axes[0]:
        ax.set_xlabel("")
    axes[1, 0].xaxis.set_major_locator(MaxNLocator(4))  # shared by the column: 6-digit iterations fit at paper scale
    fig.legend(handles=LEG, loc="upper right", ncol=2)
    fig.suptitle(f"{NAMES[kind]}, d = {d}, r = {r}, L = {L}, ε = {eps:g}, η = {P['eta']:g}"
                 + (f", m = {P['m']}" if kind == "ms" else f", p = {P['p']:g}" if kind == "mc" else ""), x=0.02, ha="left")
    so = SUM[key][0]
    nb.save_figure(fig, fig_id, dict(P, problem=kind, r=r), RUNTIME[key],
                  caption=f"Incremental learning, {NAMES[kind]}, r = {r}: singular values (dotted: σ_i*) and "
                          f"singular-vector alignment of the original DLN (top) and C-DLN (bottom). "
                          f"Original DLN t_i(½σ*) = {np.round(so['t_fit']).tolist()}."
                          + (" Training shared by the four MS runs (one batch)." if kind == "ms" else ""))
    return fig


for key in sorted(FIGS, key=FIGS.get):
    incremental_figure(key)
    plt.show()

# %%
fig, (a1, a2) = plt.subplots(1, 2, figsize=(6.4, 2.4))
ki.plot_singular_values(a1, [run13])
ki.plot_singular_values(a2, [run13], n_trailing=run13.r, logy=True, star_lines=False)
a2.axhline(epsL, color="k", ls=":", lw=0.8)
a2.legend(handles=[plt.Line2D([], [], color="k", ls=":", lw=0.8, label=r"$\varepsilon^L$"), LEG[1]], loc="upper left")
a1.set_title(f"$\\sigma_1, \\ldots, \\sigma_{{{run13.r}}}$ (dotted: $\\sigma_i^*$)", loc="left")
a2.set_title(f"$\\sigma_1, \\ldots, \\sigma_{{{2 * run13.r}}}$, log scale", loc="left")
nb.save_figure(fig, "kwon-fig13", dict(P, problem="mf", r=run13.r), RUNTIME[("mf", "r5")],
              caption="Close-up of incremental learning in MF, r = 5 (the Fig. 4 run, original DLN): σ_i(W_{L:1}(t)) "
                      f"with σ_i*; trailing values stay at ε^L (max relative change {tail_change:.1e}).")
plt.show()

# %% [markdown]
# ## Discussion (paper scale: d = 100, L = 3, ε = 1e-3, η = 10, `kwon_target`)
#
# **Factorisation (Figs 4, 10, 13) — the claim holds.** The original DLN fits σ_1, …, σ_r one at a time:
# r = 5, `t_i` (½σ_i*) = 63 316, 73 917, 83 949, 105 196, 124 631; r = 10, 59 973 … 138 878, no order
# violation. The values then sit on σ_i* (max relative error 1.4e-4 resp. 1.5e-4 when the loss reaches 1e-10),
# the vectors are aligned to 1 − 1e-10, the trailing values never exceed ε^L (max σ_{r+1}/ε^L = 1.0000) and
# σ_i is still ≤ 3.1e-8·σ_i* when σ_{i−1} reaches 90 % of its target (Fig. 13). The stricter Assumption 1 times
# of `dlnlib.incremental` (value within 10 % and both vectors within 1e-2, for good) are ordered too. One
# difference from the paper's wording ("the matching singular vectors align … at the same times"): the vectors
# align **earlier** than the values grow — alignment ≥ 0.9 is reached at 0.42–0.59 × t_i for r = 5 (up to 0.98 ×
# for r = 10), the power-method behaviour of Fig. 3. C-DLN (α = 5) is incremental as well and about 3.7× faster in
# iterations (t_5 = 33 777 against 124 631).
#
# **Completion, r = 5 (Fig. 8) and sensing, r = 5 (Fig. 9) — order, fit and alignment hold (asserted).** MC:
# `t_i` = 52 326, 55 721, 65 896, 96 978, 100 402; MS: 11 113, 11 620, 13 674, 17 203, 23 576; both converge
# (σ error 7.8e-5 resp. 2.5e-5, alignment 1 − 6e-8 resp. 1 − 3e-9). **Not** as in MF: the trailing values do
# grow — max σ_6/ε^L = 85 (MC) and 74 (MS), i.e. about 1e-7 in absolute terms, so "(almost) unchanged"
# holds only loosely (reported, tolerance 2 fails). The Assumption 1 times bunch at the end (MC 100 467–101 067,
# MS 23 562–23 642): the earlier-learned values overshoot or sit off target and the vectors only reach the 1e-2
# alignment when the last component is fitted; the MC r = 5 Assumption 1 times have one order violation.
#
# **Completion, r = 10 (Fig. 12) and sensing, r = 10 (Fig. 11) — the claim does not hold on our run.** With 20 %
# of entries (≈ 2000) or m = 2000 measurements for a rank-10 100×100 matrix (r(2d − r) = 1900 degrees of
# freedom) neither network recovers M*. The values still cross ½σ_i* in order (MC: 39 522 … 205 406; MS: nine of
# ten, σ_10 never reaches ½σ_10* within 40 000 iterations), but they overshoot and keep growing — at the end MC
# σ_1 = 90.3 against σ_1* = 19.6 (max relative error 3.6, alignment 0.003, loss 3.9e-5 after 300 000
# iterations), MS σ_1 = 28.5 against 19.6 (error 1.0, alignment 0.045) — and the trailing values grow to
# 470 ε^L (MC) and 930 ε^L (MS). The networks fit the measurements with matrices other than M*. Only the MC
# crossing order is asserted; everything else is reported. We did not change the setup to make these agree:
# the paper's targets for these figures are not given, and a target with more separated or larger σ*, or more
# measurements, may behave differently.
#
# **C-DLN** (reported): ordered crossings in every case; it converges for r = 5 (MF, MC, MS) and for MF r = 10,
# and fails like the wide network for MC/MS r = 10.
#
# **Runtime (paper scale, one thread, measured 2026-11-23 on the idle 2-core machine with another notebook running
# beside it, `make figures` style):** MF r = 5 47 s, MF r = 10 58 s, MC r = 5 36 s, MC r = 10 105 s (runs to its
# 300 000-iteration cap), MS (all four networks in one batch, blocked operator) 1252 s; the notebook 1521 s. MS is
# memory-bound: the operator is 2000 × 10 000 float64 (160 MB, far beyond the 2 MiB L2), read once per step, and the
# paper's η on the normalised loss needs ≈ 24 000 iterations for r = 5 (r = 10 runs to its 40 000 cap): 31 ms per
# step for the batch of four, against 22 ms for a single network (the cost of streaming the operator alone) —
# four separate runs, each stopping at its own iteration count, would take ≈ 2.2× as long. This notebook is the
# critical path of the synthetic set (`make figures` runs two notebooks side by side).
