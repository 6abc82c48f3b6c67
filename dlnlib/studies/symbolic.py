"""Symbolic derivations (sympy) of the workbook's closed forms: the layer gradient of ``½‖W_L⋯W_1 − M‖_F²``, the
diagonal invariance behind Theorem 1, Theorem 1's update and its α extension, the Law of Parsimony's ρ(t), and the
singular-value flow; and the derived updates lambdified and iterated, to compare number by number with
:mod:`dlnlib.theory` (notebook 05).

Each ``sym_*`` returns the derived expression beside the closed form it should equal (``"equal"``); ``iterate_*``
iterate the derived update in float64 NumPy with the signature of the closed form they reproduce. sympy is
imported on first use. Conventions: the ``½‖·‖²`` loss, step ``η`` times the loss scale ``c`` (conventions §1.4);
Theorem 1 and α ≠ 1 in §4, §4.3; ρ(t) in §2.2–2.3; the flow in §6.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _sp():
    import sympy

    return sympy


def sym_equal(a, b) -> bool:
    """``True`` iff sympy simplifies ``a − b`` to 0 (expressions, or matrices entry by entry).

    >>> import sympy as sp; x = sp.Symbol("x")
    >>> sym_equal((x + 1) ** 2, x**2 + 2 * x + 1), sym_equal((x + 1) ** 2, x**2 + 1)
    (True, False)
    """
    sp = _sp()
    d = sp.Matrix(a) - sp.Matrix(b) if isinstance(a, sp.MatrixBase) else sp.Matrix([a - b])
    return all(sp.simplify(sp.expand(x)) == 0 for x in d)


def sym_matrix_gradients(depth: int, dims: Sequence[int]):
    """Symbolic gradient of ``ℓ = ½‖W_L ⋯ W_1 − M‖_F²`` with respect to every entry of every ``W_l``.

    ``dims = [d_0, …, d_L]``. Returns ``(Ws, M, derived, formula)``: the symbol matrices, the entrywise
    derivatives ``∂ℓ/∂W_l`` and the closed form ``W_{L:l+1}ᵀ (W_{L:1} − M) W_{l−1:1}ᵀ`` (conventions §1.1).
    """
    sp = _sp()
    if len(dims) != depth + 1:
        raise ValueError("dims must list d_0, ..., d_L.")
    Ws = [sp.Matrix(dims[l + 1], dims[l], lambda i, j, l=l: sp.Symbol(f"w{l + 1}_{i}{j}")) for l in range(depth)]
    M = sp.Matrix(dims[-1], dims[0], lambda i, j: sp.Symbol(f"m_{i}{j}"))

    def chain(ws):
        P = None
        for W in ws:
            P = W if P is None else W * P
        return P

    E = chain(Ws)
    R = E - M
    loss = sum(x**2 for x in R) / 2
    derived = [W.applyfunc(lambda w: sp.diff(loss, w)) for W in Ws]
    formula = []
    for l in range(depth):
        left = chain(Ws[l + 1:]) if l + 1 < depth else sp.eye(dims[-1])
        right = chain(Ws[:l]) if l > 0 else sp.eye(dims[0])
        formula.append(left.T * R * right.T)
    return Ws, M, derived, formula


def sym_diagonal_invariance(depth: int, n: int = 2) -> bool:
    """Symbolic check of Theorem 1's mechanism: at diagonal factors and a diagonal target (the spectral basis),
    every entrywise gradient ``∂ℓ/∂W_l`` is diagonal, so GD keeps the factors diagonal (``n×n`` factors)."""
    sp = _sp()
    Ws, M, derived, _ = sym_matrix_gradients(depth, [n] * (depth + 1))
    subs = {}
    for W in Ws + [M]:
        for i in range(n):
            for j in range(n):
                if i != j:
                    subs[W[i, j]] = 0
    for G in derived:
        for i in range(n):
            for j in range(n):
                if i != j and sp.simplify(G[i, j].subs(subs)) != 0:
                    return False
    return True


def sym_diag_loss(depth: int):
    """The per-component diagonal-factor loss ``ℓ = ½(w_1 w_2 ⋯ w_L − σ)²`` and its gradient.

    Returns ``(loss, ws, sigma, grads)`` with ``grads[l] = ∂ℓ/∂w_{l+1} = (Π_k w_k − σ) Π_{k≠l} w_k``.
    """
    sp = _sp()
    ws = sp.symbols(f"w1:{depth + 1}", positive=True)
    sigma = sp.Symbol("sigma", nonnegative=True)
    loss = (sp.Mul(*ws) - sigma) ** 2 / 2
    return loss, ws, sigma, [sp.diff(loss, w) for w in ws]


def sym_thm1_step(depth: int | None = None) -> dict:
    """Derive Theorem 1's update from GD on the diagonal-factor loss with all factors equal to ``λ``.

    ``depth`` an int: from the full product (checks that every factor gets the same update, so equal factors
    stay equal). ``depth=None``: for symbolic ``L`` (one factor ``w`` times ``λ^{L−1}``).
    Returns ``{"derived", "closed", "equal", "lam", "sigma", "eta", "L"}``; ``closed`` is conventions §4's
    ``λ(1 − η(λ^L − σ)λ^{L−2})``.
    """
    sp = _sp()
    lam, eta = sp.symbols("lambda eta", positive=True)
    sigma = sp.Symbol("sigma", nonnegative=True)
    if depth is None:
        L = sp.Symbol("L", integer=True, positive=True)
        w = sp.Symbol("w", positive=True)
        loss = (w * lam ** (L - 1) - sigma) ** 2 / 2
        g = sp.diff(loss, w).subs(w, lam)
        same = True
    else:
        L = depth
        loss, ws, s_, grads = sym_diag_loss(depth)
        at = {w: lam for w in ws}
        gs = [gr.subs(at).subs(s_, sigma) for gr in grads]
        g = gs[0]
        same = all(sp.simplify(x - g) == 0 for x in gs)
    derived = lam - eta * g
    closed = lam * (1 - eta * (lam**L - sigma) * lam ** (L - 2))
    ok = sp.simplify(sp.powsimp(sp.expand(derived - closed), force=True)) == 0
    return {"derived": derived, "closed": closed, "equal": bool(ok and same), "lam": lam, "sigma": sigma,
            "eta": eta, "L": L}


def sym_alpha_step(depth: int) -> dict:
    """Derive the α ≠ 1 update (conventions §4.3): outer factors ``w_1 = w_L = a`` (step ``αη``), middle ``b`` (step ``η``).

    Returns ``{"a_next", "b_next", "closed_a", "closed_b", "equal", "symbols"}``; ``b_next`` is ``None`` for ``L = 2``.
    """
    sp = _sp()
    a, b, eta, alpha = sp.symbols("a b eta alpha", positive=True)
    sigma = sp.Symbol("sigma", nonnegative=True)
    loss, ws, s_, grads = sym_diag_loss(depth)
    at = {ws[0]: a, ws[-1]: a}
    at.update({w: b for w in ws[1:-1]})
    g_out = [grads[0].subs(at).subs(s_, sigma), grads[-1].subs(at).subs(s_, sigma)]
    g_mid = [gr.subs(at).subs(s_, sigma) for gr in grads[1:-1]]
    p = a**2 * b ** (depth - 2)
    a_next = a - alpha * eta * g_out[0]
    closed_a = a - alpha * eta * (p - sigma) * a * b ** (depth - 2)
    ok = sp.simplify(g_out[0] - g_out[1]) == 0 and sp.simplify(a_next - closed_a) == 0
    b_next = closed_b = None
    if depth > 2:
        b_next = b - eta * g_mid[0]
        closed_b = b - eta * (p - sigma) * a**2 * b ** (depth - 3)
        ok = ok and all(sp.simplify(x - g_mid[0]) == 0 for x in g_mid) and sp.simplify(b_next - closed_b) == 0
    return {"a_next": a_next, "b_next": b_next, "closed_a": closed_a, "closed_b": closed_b, "equal": bool(ok),
            "symbols": (a, b, sigma, eta, alpha)}


def sym_rho_step(depth: int, case: int = 1) -> dict:
    """Derive ρ(t) of the Law of Parsimony (conventions §2.2–2.3) from GD with decoupled weight decay
    ``w ← (1 − ηλ)w − η∂ℓ/∂w`` on the invariant block, where every factor equals ``ρ`` and the target is 0.

    Case 1: the block's loss is ``½(w_1⋯w_L)²``. Case 2 (wide target): the output factor has no row for the
    block (``w_L = 0``), so the gradient vanishes and ``ρ ← (1 − ηλ)ρ``; sympy's ``rsolve`` then gives the
    closed form ``ε(1 − ηλ)^t``. Returns ``{"derived", "closed", "equal", "solution", "symbols"}``.
    """
    sp = _sp()
    rho, eta, lam, eps = sp.symbols("rho eta lambda epsilon", positive=True)
    loss, ws, s_, grads = sym_diag_loss(depth)
    at = {w: rho for w in ws}
    if case == 1:
        g = grads[0].subs(s_, 0).subs(at)
        closed = rho * (1 - eta * lam - eta * rho ** (2 * (depth - 1)))
    elif case == 2:
        g = grads[0].subs(s_, 0).subs({ws[-1]: 0}).subs(at)
        closed = rho * (1 - eta * lam)
    else:
        raise ValueError("case must be 1 or 2.")
    derived = (1 - eta * lam) * rho - eta * g
    ok = sp.simplify(derived - closed) == 0
    solution = None
    if case == 2:
        t = sp.Symbol("t", integer=True, nonnegative=True)
        f = sp.Function("rho")
        sol = sp.rsolve(f(t + 1) - derived.subs(rho, f(t)), f(t), {f(0): eps})
        solution = sp.simplify(sol)
        ok = ok and sp.simplify(solution - eps * (1 - eta * lam) ** t) == 0
    return {"derived": derived, "closed": closed, "equal": bool(ok), "solution": solution, "grad": g,
            "symbols": (rho, eta, lam, eps)}


def sym_flow_rhs(depth: int | None = None) -> dict:
    """Derive the singular-value flow (Proposition 1 for aligned factors): with ``λ̇ = −∂ℓ/∂w|_{w=λ}`` and
    ``s = λ^L``, ``ṡ = Lλ^{L−1}λ̇ = −L(s²)^{1−1/L}(s − σ)``. ``depth=None``: symbolic ``L``.
    Returns ``{"derived", "closed", "equal", "s", "sigma", "L"}`` (``derived`` written in ``s``)."""
    sp = _sp()
    s, lam = sp.symbols("s lambda", positive=True)
    sigma = sp.Symbol("sigma", nonnegative=True)
    L = sp.Symbol("L", integer=True, positive=True) if depth is None else depth
    w = sp.Symbol("w", positive=True)
    lam_dot = -sp.diff((w * lam ** (L - 1) - sigma) ** 2 / 2, w).subs(w, lam)
    s_dot = (L * lam ** (L - 1) * lam_dot).subs(lam, s ** (sp.Integer(1) / L))
    closed = -L * (s**2) ** (1 - sp.Integer(1) / L) * (s - sigma)
    ok = sp.simplify(sp.powsimp(sp.expand(s_dot - closed), force=True)) == 0
    return {"derived": s_dot, "closed": closed, "equal": bool(ok), "s": s, "sigma": sigma, "L": L}


def iterate_thm1_sym(depth: int, sigma_star, r_hat: int, eps: float, eta: float, alpha: float, T: int,
                     loss_scale: float = 1.0) -> np.ndarray:
    """Iterate the **sympy-derived** update (lambdified :func:`sym_alpha_step`; at ``α = 1`` it reduces to
    :func:`sym_thm1_step`) from ``a = b = ε``; returns ``p(t) = a²b^{L−2}``, ``(T+1, r̂)``, like ``kwon_alpha``.

    >>> from dlnlib.theory import kwon_alpha
    >>> max_rel_diff(iterate_thm1_sym(3, [2.0], 2, 0.3, 0.05, 2.0, 50), kwon_alpha([2.0], 2, 3, 0.3, 0.05, 2.0, 50)) < 1e-12
    True
    """
    sp = _sp()
    st = sym_alpha_step(depth)
    a, b, sigma, eta_s, alpha_s = st["symbols"]
    fa = sp.lambdify((a, b, sigma, eta_s, alpha_s), st["a_next"], "numpy")
    fb = sp.lambdify((a, b, sigma, eta_s, alpha_s), st["b_next"], "numpy") if depth > 2 else None
    s = np.asarray(sigma_star, dtype=np.float64).ravel()
    tgt = np.concatenate([s, np.zeros(r_hat - s.size)])
    av, bv = np.full(r_hat, float(eps)), np.full(r_hat, float(eps))
    e = eta * loss_scale
    out = np.empty((T + 1, r_hat))
    for t in range(T + 1):
        out[t] = av * av * bv ** (depth - 2)
        if t == T:
            break
        if depth > 2:
            av, bv = fa(av, bv, tgt, e, alpha), fb(av, bv, tgt, e, alpha)
        else:
            av = fa(av, bv, tgt, e, alpha)
    return out


def iterate_rho_sym(depth: int, eps: float, eta: float, T: int, weight_decay: float = 0.0, case: int = 1,
                    loss_scale: float = 1.0) -> np.ndarray:
    """Iterate the sympy-derived ρ update (:func:`sym_rho_step`), ``(T+1,)`` like :func:`theory.lop_rho`.

    The loss scale ``c`` multiplies η in the gradient term only (conventions §1.4)."""
    sp = _sp()
    st = sym_rho_step(depth, case)
    rho, eta_s, lam, _ = st["symbols"]
    grad = sp.lambdify((rho,), st["grad"], "numpy")  # the derived ∂ℓ/∂w at w = ρ
    out = np.empty(T + 1)
    out[0] = eps
    for t in range(1, T + 1):
        p = out[t - 1]
        out[t] = (1 - eta * weight_decay) * p - eta * loss_scale * grad(p)
    return out


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a − b| / |b|`` over all entries of arrays of one shape (NaN-propagating).

    >>> max_rel_diff([1.0, 2.2], [1.0, 2.0])
    0.10000000000000009
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(all="ignore"):
        return float(np.max(np.abs(a - b) / np.abs(b)))
