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
# # 05 · Symbolic derivations (sympy) of the gradients and recursions that dlnlib implements
#
# **Claim.** The closed forms in `dlnlib.theory` and `dlnlib.train` follow from gradient descent on the loss, with
# nothing added by hand:
# 1. the layer gradient `∇_{W_l}ℓ = W_{L:l+1}ᵀ (W_{L:1} − M) W_{l−1:1}ᵀ` of `ℓ = ½‖W_L⋯W_1 − M‖²` (conventions §1.1),
#    and, at diagonal factors and a diagonal target, a diagonal gradient — the mechanism of Theorem 1;
# 2. Theorem 1's update `λ ← λ(1 − η(λ^L − σ*)λ^{L−2})` ([K], conventions §4) from the diagonal-factor loss
#    `½(w_1⋯w_L − σ)²` with all factors equal (for L = 2…5 and for symbolic L);
# 3. the α ≠ 1 form (conventions §4.3): outer factors `a` (step αη), middle factors `b`;
# 4. ρ(t) of the Law of Parsimony (conventions §2.2–2.3) with decoupled weight decay: Case 1
#    `ρ ← ρ(1 − ηλ − ηρ^{2(L−1)})`, Case 2 `ρ(t) = ε(1 − ηλ)^t` (solved by `sympy.rsolve`);
# 5. the singular-value gradient flow `ṡ = −L(s²)^{1−1/L}(s − σ*)` (Proposition 1 with aligned vectors).
#
# **Assertions:** each derived expression minus the closed form simplifies to 0; the lambdified sympy maps,
# iterated in float64, agree with `dlnlib.theory` (`kwon_thm1`, `kwon_alpha`, `lop_rho`, `sv_flow_rhs`) and
# `dlnlib.train.layer_grads` to ≤ 1e-12 relative. The derivations live in `dlnlib.studies.symbolic` (`sym_*`).

# %% tags=["parameters"]
scale = "ci"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from IPython.display import display
import torch

from dlnlib.report import OKABE_ITO, Session, use_style
from dlnlib.studies.perturbed import perturbed_recursion, perturbed_rho
from dlnlib.studies.symbolic import (iterate_rho_sym, iterate_thm1_sym, max_rel_diff, sym_alpha_step,
                                     sym_diagonal_invariance, sym_equal, sym_flow_rhs, sym_matrix_gradients,
                                     sym_rho_step, sym_thm1_step)
from dlnlib.theory import kwon_alpha, kwon_thm1, lop_rho, stability_bound_alpha, sv_flow_rhs
from dlnlib.optim import layer_grads

torch.set_num_threads(1)
use_style()
TOL = 1e-12
PRESETS = {
    "ci": dict(depths=[2, 3, 4, 5], matrix_depths=[2, 3], matrix_dims={2: [2, 3, 2], 3: [2, 3, 2, 2]},
               diag_depths=[2, 3], T=400, sigma=[3.0, 2.0, 1.0], r_hat=5, eps=[0.05, 0.3], f=[0.1, 0.4],
               alpha=[0.5, 1.0, 3.0], rho=dict(eps=[0.1, 0.6], eta=[0.05, 0.2], lam=[0.0, 0.5], T=300),
               n_flow=200, seed=0),
    "paper": dict(depths=[2, 3, 4, 5, 6], matrix_depths=[2, 3, 4], matrix_dims={2: [2, 3, 2], 3: [2, 3, 2, 3],
                                                                                4: [2, 2, 3, 2, 2]},
                  diag_depths=[2, 3, 4], T=3000, sigma=[4.0, 3.0, 2.0, 1.0], r_hat=8, eps=[1e-2, 0.05, 0.3],
                  f=[0.05, 0.2, 0.4], alpha=[0.5, 1.0, 2.0, 5.0],
                  rho=dict(eps=[0.01, 0.1, 0.6], eta=[0.01, 0.05, 0.2], lam=[0.0, 0.1, 0.5], T=3000),
                  n_flow=2000, seed=0),
}
nb = Session(scale, presets=PRESETS)  # checks scale; the preset run, output folder, device
P = nb.params
t0 = time.perf_counter()
P

# %% [markdown]
# ## 1 · The layer gradient, and why diagonal factors stay diagonal
# sympy differentiates `½‖W_L⋯W_1 − M‖²` entry by entry (symbol matrices of the listed shapes) and compares
# with the closed form; then the same derivative, lambdified, is evaluated at random matrices and compared with
# `dlnlib.train.layer_grads` (the hand-written gradient every run uses).

# %%
mat_ok, mat_err = {}, 0.0
rng = np.random.default_rng(P["seed"])
for L in P["matrix_depths"]:
    dims = P["matrix_dims"][L]
    Ws, M, derived, formula = sym_matrix_gradients(L, dims)
    mat_ok[L] = all(sym_equal(a, b) for a, b in zip(derived, formula))
    syms = [x for W in Ws for x in W] + list(M)
    f = sp.lambdify(syms, [sp.Matrix(g) for g in derived], "numpy")
    vals = [rng.standard_normal((dims[l + 1], dims[l])) for l in range(L)]
    Mv = rng.standard_normal((dims[-1], dims[0]))
    got = f(*[v for W in vals for v in W.ravel()], *Mv.ravel())
    Wt = [torch.tensor(v) for v in vals]
    E = Wt[0]
    for W in Wt[1:]:
        E = W @ E
    ref = layer_grads(Wt, E - torch.tensor(Mv))
    for g_sym, g_ref in zip(got, ref):
        mat_err = max(mat_err, max_rel_diff(np.asarray(g_sym, dtype=float), g_ref.numpy()))
    print(f"L={L}, dims {dims}: symbolic ∂ℓ/∂W_l = W_(L:l+1)ᵀ R W_(l−1:1)ᵀ: {mat_ok[L]}")
print(f"lambdified sympy gradient vs dlnlib.train.layer_grads: max relative difference {mat_err:.1e}")
diag_ok = {L: sym_diagonal_invariance(L, 2) for L in P["diag_depths"]}
print("gradient diagonal at diagonal factors and target:", diag_ok)
nb.check("kwon-sym-layer-grad", "kwon-symbolic",
        f"sympy ∂ℓ/∂W_l equals W_(L:l+1)ᵀ(W_(L:1)−M)W_(l−1:1)ᵀ for L∈{P['matrix_depths']} (expressions not equal)",
        sum(not v for v in mat_ok.values()), 0)
nb.check("kwon-sym-layer-grad-numeric", "kwon-symbolic",
        "lambdified sympy gradient vs dlnlib.train.layer_grads at random matrices (max rel. difference)",
        mat_err, TOL)
nb.check("kwon-sym-diagonal", "kwon-symbolic",
        f"diagonal factors + diagonal target ⇒ diagonal gradient (Theorem 1's invariance), L∈{P['diag_depths']} (failures)",
        sum(not v for v in diag_ok.values()), 0)

# %% [markdown]
# ## 2 · Theorem 1, the α ≠ 1 form, ρ(t) and the flow, as expressions

# %%
rows = []
for L in [None] + P["depths"]:
    th = sym_thm1_step(L)
    fl = sym_flow_rhs(L)
    rows.append(("Theorem 1 step", "L" if L is None else L, th["equal"]))
    rows.append(("flow ṡ", "L" if L is None else L, fl["equal"]))
for L in P["depths"]:
    rows.append(("α ≠ 1 step", L, sym_alpha_step(L)["equal"]))
    for case in (1, 2):
        rows.append((f"ρ case {case}", L, sym_rho_step(L, case)["equal"]))
for name, L, ok in rows:
    print(f"{name:15s} L={L}: derived == closed form: {ok}")
th = sym_thm1_step(None)
display(sp.Eq(sp.Symbol("lambda_next"), sp.factor(th["derived"])))
al = sym_alpha_step(4)
display(sp.Eq(sp.Symbol("a_next"), sp.factor(al["a_next"])), sp.Eq(sp.Symbol("b_next"), sp.factor(al["b_next"])))
display(sp.Eq(sp.Symbol("rho_next"), sp.factor(sym_rho_step(3, 1)["derived"])))
rho2 = sym_rho_step(3, 2)
display(sp.Eq(sp.Function("rho")(sp.Symbol("t")), rho2["solution"]))
display(sp.Eq(sp.Symbol("s_dot"), sp.simplify(sym_flow_rhs(None)["derived"])))
n_bad = sum(not ok for _, _, ok in rows)
nb.check("kwon-sym-expressions", "kwon-symbolic",
        f"sympy-derived updates equal the closed forms (Theorem 1 for L∈{P['depths']} and symbolic L, α≠1 form, ρ cases 1–2 "
        f"incl. rsolve, flow): {len(rows)} comparisons, failures", n_bad, 0)

# %% [markdown]
# ## 3 · Lambdified derivations against `dlnlib.theory`, numerically
# The sympy-derived step maps are iterated in float64 (`iterate_thm1_sym`, `iterate_rho_sym`) and compared
# with `kwon_thm1` / `kwon_alpha` / `lop_rho` on a grid; η is a fraction f of the stability bound.

# %%
sig = np.array(P["sigma"])
num = {"thm1": 0.0, "alpha": 0.0, "rho": 0.0, "flow": 0.0}
traj = {}
for L in P["depths"]:
    for eps in P["eps"]:
        for f in P["f"]:
            for a in P["alpha"]:
                eta = f * stability_bound_alpha(sig[0], L, a)
                s_ = iterate_thm1_sym(L, sig, P["r_hat"], eps, eta, a, P["T"])
                ref = kwon_thm1(sig, P["r_hat"], L, eps, eta, P["T"]) if a == 1 else kwon_alpha(sig, P["r_hat"], L, eps, eta, a, P["T"])
                key = "thm1" if a == 1 else "alpha"
                d = max_rel_diff(s_, ref)
                num[key] = max(num[key], d)
                if L == 3 and eps == P["eps"][-1] and f == P["f"][-1]:
                    traj[("p", a)] = (s_, ref)
R = P["rho"]
for L in P["depths"]:
    for case in (1, 2):
        for eps in R["eps"]:
            for eta in R["eta"]:
                for lam in R["lam"]:
                    s_ = iterate_rho_sym(L, eps, eta, R["T"], lam, case)
                    ref = lop_rho(eps, eta, L, R["T"], lam, case)
                    num["rho"] = max(num["rho"], max_rel_diff(s_, ref))
                    if L == 3 and eps == R["eps"][-1] and eta == R["eta"][-1] and lam == R["lam"][-1]:
                        traj[("rho", case)] = (s_, ref)
rng = np.random.default_rng(P["seed"] + 1)
for L in P["depths"]:
    fl = sym_flow_rhs(L)
    fn = sp.lambdify((fl["s"], fl["sigma"]), fl["derived"], "numpy")
    s_v, sig_v = rng.uniform(1e-6, 5, P["n_flow"]), rng.uniform(0, 5, P["n_flow"])
    num["flow"] = max(num["flow"], max_rel_diff(fn(s_v, sig_v), sv_flow_rhs(s_v, sig_v, L)))
for k, v in num.items():
    print(f"{k:6s}: max relative difference sympy vs dlnlib {v:.1e}")
nb.check("kwon-sym-thm1-numeric", "kwon-symbolic", "lambdified Theorem 1 update iterated vs theory.kwon_thm1 (max rel. diff)",
        num["thm1"], TOL)
nb.check("kwon-sym-alpha-numeric", "kwon-symbolic", "lambdified α ≠ 1 update iterated vs theory.kwon_alpha (max rel. diff)",
        num["alpha"], TOL)
nb.check("kwon-sym-rho-numeric", "kwon-symbolic", "lambdified ρ update (cases 1, 2, with weight decay) vs theory.lop_rho",
        num["rho"], TOL)
nb.check("kwon-sym-flow-numeric", "kwon-symbolic", "lambdified flow ṡ vs theory.sv_flow_rhs at random points (max rel. diff)",
        num["flow"], TOL)

# %% [markdown]
# *Controls:* a wrong exponent in the Theorem 1 update and a coupled weight decay in the ρ update
# (`ρ(1 − ηλ)(1 − ηρ^{2(L−1)})`, a plausible mis-reading of [T]) are both far from the sympy derivation
# (the `*_fails_*` unit tests in `tests/test_symbolic.py` and `tests/test_kwon_*.py` repeat this for every
# check).

# %%
L, eps, a = 3, P["eps"][-1], 2.0
eta = P["f"][-1] * stability_bound_alpha(sig[0], L, a)
ctrl_p = max_rel_diff(perturbed_recursion("exponent")(sig, P["r_hat"], L, eps, eta, a, P["T"]),
                      iterate_thm1_sym(L, sig, P["r_hat"], eps, eta, a, P["T"]))
ctrl_r = max_rel_diff(perturbed_rho("coupled_decay")(R["eps"][-1], R["eta"][-1], L, R["T"], R["lam"][-1], 1),
                      iterate_rho_sym(L, R["eps"][-1], R["eta"][-1], R["T"], R["lam"][-1], 1))
print(f"wrong exponent: {ctrl_p:.2e}; coupled weight decay: {ctrl_r:.2e}")
nb.check("kwon-sym-control", "kwon-symbolic", "controls: perturbed Theorem 1 / ρ updates differ from the derivation (> 1e-6)",
        min(ctrl_p, ctrl_r), 1e-6, passed=bool(min(ctrl_p, ctrl_r) > 1e-6))
runtime = time.perf_counter() - t0

# %%
# NBVAL_CHECK_OUTPUT
print("symbolic gradients and recursions equal the closed forms:", all(mat_ok.values()) and all(diag_ok.values()) and n_bad == 0)
print("lambdified derivations match dlnlib within 1e-12:", mat_err <= TOL and all(v <= TOL for v in num.values()))
print("perturbed updates rejected:", min(ctrl_p, ctrl_r) > 1e-6)

# %% [markdown]
# ## Figure `kwon-symbolic`
# Relative difference between the iterated sympy derivation and `dlnlib.theory`, per iteration (L = 3): (a) the
# Theorem 1 / α ≠ 1 singular values `p_i(t)`; (b) ρ(t), cases 1 and 2. Dashed: the perturbed controls.

# %%
fig, ax = plt.subplots(1, 2, figsize=(5.0, 1.9), sharey=True)
for k, a in enumerate(P["alpha"]):
    s_, ref = traj[("p", a)]
    ax[0].plot(np.maximum(np.abs(s_ - ref) / np.abs(ref), 1e-18).max(1), color=OKABE_ITO[k], lw=0.8, label=f"α={a:g}")
ctrl_traj = perturbed_recursion("exponent")(sig, P["r_hat"], 3, P["eps"][-1], P["f"][-1] * stability_bound_alpha(sig[0], 3, 1.0), 1.0, P["T"])
s_, ref = traj[("p", 1.0)]
ax[0].plot(np.abs(ctrl_traj - ref).max(1) / np.abs(ref).max(1), "k--", lw=0.8, label="wrong exponent")
for k, case in enumerate((1, 2)):
    s_, ref = traj[("rho", case)]
    ax[1].plot(np.maximum(np.abs(s_ - ref) / np.abs(ref), 1e-18), color=OKABE_ITO[k], lw=0.8, label=f"case {case}")
ctrl_rho = perturbed_rho("coupled_decay")(R["eps"][-1], R["eta"][-1], 3, R["T"], R["lam"][-1], 1)
s_, ref = traj[("rho", 1)]
ax[1].plot(np.abs(ctrl_rho - ref) / np.abs(ref), "k--", lw=0.8, label="coupled decay")
for a_ in ax:
    a_.set_yscale("log"); a_.set_xlabel("iteration t"); a_.axhline(TOL, color="k", ls=":", lw=0.6); a_.legend(fontsize=5)
ax[0].set_ylabel("rel. difference sympy vs dlnlib"); ax[0].set_title("(a) Theorem 1 / α ≠ 1, L = 3"); ax[1].set_title("(b) ρ(t), L = 3")
nb.save_figure(fig, "kwon-symbolic", P, runtime,
              caption=f"sympy derivations vs dlnlib: max rel. difference {max(num.values()):.1e} (controls ≥ {min(ctrl_p, ctrl_r):.1e})")
plt.show()
