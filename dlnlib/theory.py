"""Closed-form recursions and gradient flows (conventions §2, §4, §6), in float64 NumPy.

All step sizes are for the ``½‖·‖²`` loss; for a loss ``(c/2)‖·‖²`` pass ``loss_scale=c`` (it multiplies
``η`` in the gradient terms only, not in the weight-decay term ``ηλ``). :func:`stability_rule` states the stable
step of a given (problem, network, optimiser), as the divergence message quotes it.

Arguments are checked by name before any arithmetic (the arithmetic itself is unchanged by the checks): ``η``
finite and ``> 0`` (``η = 0`` only with ``T = 0``, where no step is taken), ``ε``, ``α``, ``loss_scale`` finite and
``> 0``, depths and counts integers (NumPy integers too) with the minimum the formula needs, ``σ*`` a non-empty
vector of finite values ``≥ 0`` with ``r̂ ≥ len(σ*)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._util import as_real_array, check_integer, check_positive, check_scalar


# ----------------------------------------------------------------------------------------------
# Argument checks shared by the closed forms (no arithmetic here)
# ----------------------------------------------------------------------------------------------


def _sigma_star(sigma_star) -> np.ndarray:
    return as_real_array("sigma_star (the target singular values σ*)", sigma_star, ndim=(0, 1), low=0.0)


def _step(eta, T: int) -> None:
    """``η`` finite and ``> 0``; ``η = 0`` is allowed only with ``T = 0`` (no step taken, e.g. to read ``p(0)``)."""
    v = check_positive("eta (the step size η)", eta, allow_zero=True)
    if v == 0.0 and T > 0:
        raise ValueError(f"eta (the step size η) must be finite and > 0, got {eta!r} (η = 0 is allowed only with "
                         f"T = 0, no step taken; here T = {T}).")


def _recursion_args(sigma_star, r_hat, depth, eps, eta, alpha, T, loss_scale, *, min_depth: int = 2) -> None:
    """The checks of :func:`kwon_alpha` and the functions built on it."""
    s = _sigma_star(sigma_star)
    r_hat = check_integer("r_hat", r_hat, 1)
    if r_hat < s.size:
        raise ValueError(f"r_hat = {r_hat} must be >= r = {s.size} (the number of target singular values σ*).")
    check_integer("depth L", depth, min_depth)
    check_positive("eps (the init scale ε)", eps)
    T = check_integer("T (the number of steps)", T, 0)
    _step(eta, T)
    check_positive("alpha (the outer-factor step multiplier α)", alpha)
    check_positive("loss_scale (the loss constant c)", loss_scale)


def _case(case) -> int:
    if isinstance(case, bool) or case not in (1, 2):
        raise ValueError(f"case must be 1 or 2 (1: square rank-r target; 2: wide target d_y = r < d_x), got {case!r}.")
    return int(case)


def kwon_thm1(sigma_star, r_hat: int, depth: int, eps: float, eta: float, T: int, loss_scale: float = 1.0) -> np.ndarray:
    """Theorem 1 of [K] (α = 1): singular values of the C-DLN product ``W̃_{L:1}(t)``, ``t = 0..T``.

    ``sigma_star``: the ``r`` non-zero target singular values (descending). Returns ``(T+1, r̂)``: column ``i < r``
    is ``λ_i(t)^L``, columns ``r..r̂−1`` are ``β(t)^L``, paired with ``U*_r̂, V*_r̂``.

    ``λ_i(t) = λ_i(t−1)(1 − η(λ_i^L − σ_i*)λ_i^{L−2})``, ``β(t) = β(t−1)(1 − ηβ^{2(L−1)})``, ``λ_i(0) = β(0) = ε``.

    >>> kwon_thm1([1.0], 2, 2, 0.5, 0.1, 1).round(6).tolist()
    [[0.25, 0.25], [0.288906, 0.237656]]
    """
    return kwon_alpha(sigma_star, r_hat, depth, eps, eta, 1.0, T, loss_scale)


def kwon_alpha(sigma_star, r_hat: int, depth: int, eps: float, eta: float, alpha: float, T: int,
               loss_scale: float = 1.0) -> np.ndarray:
    """The α ≠ 1 extension (conventions §4.3): outer factors ``a_i`` (step αη), middle factors ``b_i`` (step η).

    ``p = a² b^{L−2}``; ``a ← a − αη(p − σ*) a b^{L−2}``; ``b ← b − η(p − σ*) a² b^{L−3}``. Returns ``p``,
    shape ``(T+1, r̂)``. At ``α = 1`` this is :func:`kwon_thm1` (``a = b = λ``).
    """
    _recursion_args(sigma_star, r_hat, depth, eps, eta, alpha, T, loss_scale)
    s = np.asarray(sigma_star, dtype=np.float64).ravel()
    r = s.size
    tgt = np.concatenate([s, np.zeros(r_hat - r)])
    a = np.full(r_hat, float(eps))
    b = np.full(r_hat, float(eps))
    e = eta * loss_scale
    L = depth
    out = np.empty((T + 1, r_hat))
    for t in range(T + 1):
        p = a * a * b ** (L - 2)
        out[t] = p
        if t == T:
            break
        res = p - tgt
        if L == 2:
            a = a - alpha * e * res * a
        else:
            a, b = a - alpha * e * res * a * b ** (L - 2), b - e * res * a * a * b ** (L - 3)
    return out


def lop_rho(eps: float, eta: float, depth: int, T: int, weight_decay: float = 0.0, case: int = 1,
            loss_scale: float = 1.0) -> np.ndarray:
    """ρ(t), ``t = 0..T``, of the Law of Parsimony (conventions §2.2–2.3).

    Case 1 (square rank-r target): ``ρ(t) = ρ(t−1)(1 − ηλ − η ρ(t−1)^{2(L−1)})``.
    Case 2 (wide target, ``d_y = r < d_x``): ``ρ(t) = ε(1 − ηλ)^t``.

    >>> lop_rho(0.5, 0.1, 2, 2).round(8).tolist()
    [0.5, 0.4875, 0.47591426]
    """
    _rho_args(eps, eta, depth, T, weight_decay, case, loss_scale)
    rho = np.empty(T + 1)
    rho[0] = eps
    e = eta * loss_scale
    for t in range(1, T + 1):
        p = rho[t - 1]
        if case == 1:
            rho[t] = p * (1.0 - eta * weight_decay - e * p ** (2 * (depth - 1)))
        elif case == 2:
            rho[t] = p * (1.0 - eta * weight_decay)
        else:
            raise ValueError("case must be 1 or 2.")
    return rho


def _rho_args(eps, eta, depth, T, weight_decay, case, loss_scale, momentum: float = 0.0) -> None:
    """The checks of :func:`lop_rho` and :func:`lop_rho_momentum`."""
    check_positive("eps (the init scale ε)", eps)
    check_integer("depth L", depth, 1)
    T = check_integer("T (the number of steps)", T, 0)
    _step(eta, T)
    check_positive("weight_decay (λ)", weight_decay, allow_zero=True)
    check_scalar("momentum (μ)", momentum, low=0.0, high=1.0, high_open=True)
    _case(case)
    check_positive("loss_scale (the loss constant c)", loss_scale)


def sv_flow_rhs(s: np.ndarray, sigma_star: np.ndarray, depth: int) -> np.ndarray:
    """``ṡ = −L (s²)^{1−1/L} (s − σ*)`` (Proposition 1 with aligned singular vectors)."""
    return -depth * (s * s) ** (1.0 - 1.0 / depth) * (s - sigma_star)


def sv_gradient_flow(sigma_star, depth: int, s0: float | np.ndarray, times: np.ndarray, dt: float = 1e-3,
                     loss_scale: float = 1.0) -> np.ndarray:
    """Integrate the singular-value gradient flow with classical RK4 (step ≤ ``dt``) and sample at ``times``.

    ``sigma_star (k,)``; ``s0`` scalar or ``(k,)``; ``times`` non-decreasing, starting at ≥ 0 (GD iteration
    ``t`` with step ``η`` corresponds to flow time ``η·t``). Returns ``(len(times), k)``.
    """
    sig_ = _sigma_star(sigma_star)
    check_integer("depth L", depth, 1)
    s0_ = as_real_array("s0 (the initial singular values)", s0, ndim=(0, 1), low=0.0)
    if s0_.ndim and s0_.size not in (1, sig_.size):
        raise ValueError(f"s0 has {s0_.size} entries but sigma_star has {sig_.size}; give one s0 or one per σ*.")
    t_ = as_real_array("times", times, ndim=(1,), min_size=0, low=0.0)
    if (np.diff(t_) < 0).any():
        raise ValueError(f"times must be non-decreasing, got {t_[:6].tolist()}{' …' if t_.size > 6 else ''}.")
    check_positive("dt (the RK4 step)", dt)
    check_positive("loss_scale (the loss constant c)", loss_scale)
    sig = np.asarray(sigma_star, dtype=np.float64).ravel()
    s = np.broadcast_to(np.asarray(s0, dtype=np.float64), sig.shape).copy()
    times = np.asarray(times, dtype=np.float64)
    out = np.empty((times.size, sig.size))
    t = 0.0
    f = lambda x: loss_scale * sv_flow_rhs(x, sig, depth)
    for k, target_t in enumerate(times):
        while t < target_t - 1e-15:
            h = min(dt, target_t - t)
            k1 = f(s)
            k2 = f(s + 0.5 * h * k1)
            k3 = f(s + 0.5 * h * k2)
            k4 = f(s + h * k3)
            s = s + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
            t += h
        out[k] = s
    return out


def stability_bound(sigma_max: float, depth: int, loss_scale: float = 1.0) -> float:
    """Rough largest stable GD step for the diagonal dynamics near ``s = σ_max``: ``η < 2/(c·L·σ_max^{2−2/L})``.

    ``sigma_max > 0``, ``depth ≥ 1``, ``loss_scale = c > 0``. For a given problem, network and optimiser (other
    normalisations, α, weight decay, momentum) see :func:`stability_rule`.

    >>> stability_bound(4.0, 2)
    0.25
    """
    _bound_args(sigma_max, depth, 1.0, loss_scale, min_depth=1)
    return 2.0 / (loss_scale * depth * sigma_max ** (2.0 - 2.0 / depth))


def _bound_args(sigma_max, depth, alpha, loss_scale, *, min_depth: int) -> None:
    check_positive("sigma_max (the largest target singular value)", sigma_max)
    check_integer("depth L", depth, min_depth)
    check_positive("alpha (the outer-factor step multiplier α)", alpha)
    check_positive("loss_scale (the loss constant c)", loss_scale)


def lop_rho_momentum(eps: float, eta: float, depth: int, T: int, momentum: float, weight_decay: float = 0.0,
                     case: int = 1, loss_scale: float = 1.0) -> np.ndarray:
    """ρ(t), ``t = 0..T``, of the Law of Parsimony for heavy-ball GD (:class:`dlnlib.optim.GD` with ``momentum = μ``).

    The workbook's derivation (not in the sources): on the invariant block the gradient is ``c·ρ^{2L−1}`` times the
    block isometry (Case 1; 0 in Case 2), so the velocity stays a multiple of it:
    ``v(t) = μ v(t−1) + c ρ(t)^{2L−1}`` (``v(−1) = 0``), ``ρ(t+1) = (1 − ηλ) ρ(t) − η v(t)``.
    With ``μ = 0`` this is :func:`lop_rho`. Returns ``(T + 1,)``.

    >>> lop_rho_momentum(0.5, 0.1, 2, 2, 0.0).round(8).tolist()
    [0.5, 0.4875, 0.47591426]
    """
    _rho_args(eps, eta, depth, T, weight_decay, case, loss_scale, momentum)
    rho = np.empty(T + 1)
    rho[0] = eps
    v = 0.0
    for t in range(T):
        g = loss_scale * rho[t] ** (2 * depth - 1) if case == 1 else 0.0
        v = momentum * v + g
        rho[t + 1] = (1.0 - eta * weight_decay) * rho[t] - eta * v
    return rho


def recursion_recovery_error(sigma_star, r_hat: int, depth: int, eps: float, eta: float, alpha: float,
                             iterations: np.ndarray, loss_scale: float = 1.0) -> np.ndarray:
    """C-DLN's relative recovery error on factorisation predicted by Theorem 1 / its α extension (conventions §4,
    §4.3): ``‖W̃_{L:1}(t) − M*‖_F/‖M*‖_F = ‖p(t) − σ*‖/‖σ*‖`` with ``p(t) (r̂,)`` from :func:`kwon_alpha` (``σ*``
    zero-padded to ``r̂``), evaluated at ``iterations (K,)``; returns ``(K,)``. ``loss_scale`` is the problem's
    ``c`` (``problem.loss_scale``).

    >>> recursion_recovery_error([1.0], 1, 2, 1.0, 0.1, 1.0, np.array([0, 5])).tolist()
    [0.0, 0.0]
    """
    it = as_real_array("iterations", iterations, ndim=(1,), low=0.0)
    if (it != np.round(it)).any():
        raise ValueError(f"iterations must be whole numbers of steps, got {it[it != np.round(it)][:4].tolist()}.")
    _recursion_args(sigma_star, r_hat, depth, eps, eta, alpha, int(it.max()), loss_scale)
    if not (_sigma_star(sigma_star) > 0).any():
        raise ValueError("sigma_star is all zero: the relative error ‖p − σ*‖/‖σ*‖ is undefined for M* = 0.")
    s = np.asarray(sigma_star, dtype=np.float64)
    T = int(np.max(iterations))
    p = kwon_alpha(s, r_hat, depth, eps, eta, alpha, T, loss_scale)[np.asarray(iterations, dtype=int)]
    tgt = np.concatenate([s, np.zeros(r_hat - s.size)])
    return np.linalg.norm(p - tgt, axis=1) / np.linalg.norm(s)


def stability_bound_alpha(sigma_max: float, depth: int, alpha: float = 1.0, loss_scale: float = 1.0) -> float:
    """Largest stable GD step at the C-DLN fixed point ``p = σ_max`` for outer step ``αη`` (conventions §4.3).

    Linearising the diagonal dynamics (outer ``a``, middle ``b``, ``p = a²b^{L−2}``, balanced as
    ``a² ≈ αb²`` for small ε) gives the curvature ``η c L α^{2/L} σ^{2−2/L}``, so GD is stable iff
    ``η < 2/(c L α^{2/L} σ_max^{2−2/L})``. At ``α = 1`` this is :func:`stability_bound`.

    >>> round(stability_bound_alpha(1.0, 2, 1.0), 12), round(stability_bound_alpha(1.0, 2, 4.0), 12)
    (1.0, 0.25)

    ``depth ≥ 2`` (a C-DLN; for one factor use :func:`stability_bound`), ``α > 0``, ``sigma_max > 0``, ``c > 0``.
    """
    _bound_args(sigma_max, depth, alpha, loss_scale, min_depth=2)
    return 2.0 / (loss_scale * depth * alpha ** (2.0 / depth) * sigma_max ** (2.0 - 2.0 / depth))


def learning_time(sigma_star, r_hat: int, depth: int, eps: float, eta: float, *, alpha: float = 1.0,
                  loss_scale: float = 1.0, frac: float = 0.99, T_max: int = 10**6, chunk: int = 1000) -> int:
    """First iteration at which C-DLN's recursion (:func:`kwon_alpha`) has ``p_i ≥ frac·σ_i*`` for every ``i ≤ r``
    (−1 if not by ``T_max``). ``sigma_star (r,)``; the recursion is run in chunks growing 4× from ``chunk``.

    Used to size the number of iterations of a run.

    >>> learning_time([1.0], 1, 2, 0.5, 0.5, frac=0.9)
    3
    """
    from .metrics import first_crossing

    _recursion_args(sigma_star, r_hat, depth, eps, eta, alpha, 1, loss_scale)
    check_scalar("frac", frac, low=0.0, high=1.0, low_open=True, high_open=True)
    check_integer("T_max", T_max, 1)
    check_integer("chunk", chunk, 1)
    s = np.asarray(sigma_star, dtype=np.float64).ravel()
    T = chunk
    while True:
        p = kwon_alpha(s, r_hat, depth, eps, eta, alpha, min(T, T_max), loss_scale)[:, :s.size]
        hit = first_crossing((p - frac * s).min(1), np.arange(len(p)), 0.0)
        if hit < np.inf:
            return int(hit)
        if T >= T_max:
            return -1
        T *= 4


def mf_equivalent_scale(problem) -> float:
    """The factorisation loss scale ``c_eff`` with ``E[∇ℓ(W)] ≈ c_eff (W − M*)`` for a problem (conventions §1.4).

    Factorisation: ``c``. Sensing: ``c·‖A‖_F²/(d_out d_in)`` (``E[A†A] = mean(A_ij²)·m·I``). Completion:
    ``c·|Ω|/(d_out d_in)`` (averaged over the batch). Used to compare MS/MC runs with the MF recursion: the step
    ``η`` on the problem then moves like ``c_eff·η`` on ``½‖W − M*‖²``.

    >>> import torch; from dlnlib.problems import Factorisation
    >>> mf_equivalent_scale(Factorisation(torch.eye(4, dtype=torch.float64), "mean"))
    0.0625
    """
    import torch

    from .problems import Completion, Factorisation, Problem, Sensing

    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a dlnlib Problem (Factorisation, Sensing, Completion), got "
                        f"{type(problem).__name__}.")
    d_out, d_in = problem.shape
    if isinstance(problem, Factorisation):
        return float(problem.loss_scale)
    if isinstance(problem, Sensing):
        return float(problem.loss_scale) * float(problem.A.square().sum()) / (d_out * d_in)
    if isinstance(problem, Completion):
        frac = problem.n_observed / (d_out * d_in)
        return float(torch.as_tensor(problem.loss_scale * frac).mean())
    raise TypeError(f"no factorisation equivalent for {type(problem).__name__}.")


# ----------------------------------------------------------------------------------------------
# The stability rule of a given (problem, network, optimiser), as the divergence message quotes it
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StabilityRule:
    """The rough largest stable step of one (problem, network, optimiser), from :func:`stability_rule`.

    ``bound``: the largest stable ``η`` on the problem's declared loss, a float or an array with the batch shape
    (``None`` for Adam, which has no curvature rule); ``curvature`` ``h`` (same shape): the linearised curvature
    ``c_eff·L·m^{2/L}·σ_max^{2−2/L}`` at the solution; ``loss_scale`` ``c_eff`` and ``sigma_max`` (float or
    per run) the factorisation-equivalent constant and the largest target singular value it was computed from;
    ``text``: one line for a message (starts lower-case, ends with a full stop).
    """

    bound: float | np.ndarray | None
    curvature: float | np.ndarray
    loss_scale: float | np.ndarray
    sigma_max: float | np.ndarray
    text: str


def _per_run(x):
    """A float for a scalar (or an array of one value), else a float64 NumPy array."""
    a = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64)
    return float(a.reshape(-1)[0]) if a.size == 1 and a.ndim <= 1 else a


def _show(x) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    v = np.asarray(x).reshape(-1)
    return f"[{', '.join(f'{u:.4g}' for u in v[:6])}{', …' if v.size > 6 else ''}] per run"


def _fit_sigma(problem) -> tuple[object, object, str, str]:
    """``(c_eff, σ_max, what c_eff is, what σ_max is)`` of a problem, per batch member where it varies."""
    import torch

    from .problems import Completion, Factorisation, Regression, Sensing

    c = problem.loss_scale
    if isinstance(problem, Factorisation):
        return c, torch.linalg.matrix_norm(problem.target, ord=2), "c", "σ_max"
    if isinstance(problem, Sensing):
        return (mf_equivalent_scale(problem), torch.linalg.matrix_norm(problem.target, ord=2),
                "c_eff = c·‖A‖_F²/(d_out·d_in)", "σ_max")
    if isinstance(problem, Completion):
        d_out, d_in = problem.shape
        p = problem.n_observed / (d_out * d_in)
        sig = torch.linalg.matrix_norm(problem.mask * problem.target, ord=2) / p
        return mf_equivalent_scale(problem), sig, "c_eff = c·|Ω|/(d_out·d_in)", "σ_max ≈ ‖P_Ω(M*)‖₂/p"
    if isinstance(problem, Regression):
        X = problem.X
        W = problem.Y @ torch.linalg.pinv(X)  # the least-squares end-to-end map
        return (c * torch.linalg.matrix_norm(X, ord=2) ** 2, torch.linalg.matrix_norm(W, ord=2), "c_eff = c·‖X‖₂²",
                "σ_max = ‖Y X⁺‖₂")
    raise TypeError(f"no stability rule for a {type(problem).__name__}; stability_rule knows Factorisation, "
                    "Sensing, Completion and Regression.")


def stability_rule(problem, net, optimizer) -> StabilityRule:
    """The stability rule of GD (or the reference value for Adam) for ``net`` trained on ``problem``.

    Linearising the diagonal dynamics at the solution ``p = σ_max`` (conventions §4.3) gives the curvature
    ``h = c_eff·L·m^{2/L}·σ_max^{2−2/L}`` with ``m = α·γ`` the outer factors' step multiplier (``h = c_eff·m`` for
    one factor; with ``γ = 0`` the outer factors are frozen and the ``L − 2`` middle ones learn:
    ``h = c_eff·(L−2)·σ_max^{2−2/(L−2)}``). Heavy-ball GD with decoupled weight decay, ``w ← (1 − ηλ)w − ηv``,
    ``v ← μv + h w``, is stable iff ``η < 2(1 + μ)/(h + (1 + μ)λ)`` (Jury's test; ``2/h`` without λ and μ, which is
    :func:`stability_bound_alpha`). ``c_eff`` is the problem's ``loss_scale`` for factorisation and
    :func:`mf_equivalent_scale` for sensing and completion (the step ``η`` on the declared loss moves like
    ``c_eff·η`` on ``½‖W − M*‖²``), ``c·‖X‖₂²`` for regression; ``σ_max`` is the target's (completion: estimated as
    ``‖P_Ω(M*)‖₂/p``; regression: of ``Y X⁺``). Batched problems and α/γ/η grids give per-run bounds. A rough
    rule: GD a little below it may still oscillate, far below it is stable.

    >>> import torch; from dlnlib.problems import Factorisation; from dlnlib.networks import cdln; from dlnlib.optim import GD
    >>> M = torch.diag(torch.tensor([4.0, 1.0, 0.0], dtype=torch.float64))
    >>> rule = stability_rule(Factorisation(M), cdln(M, 2, 2, 0.1, alpha=2.0), GD(0.1))
    >>> rule.bound == stability_bound_alpha(4.0, 2, 2.0)
    True
    >>> rule.text
    "for this factorisation ('sum' loss; c = 1, σ_max = 4) with L = 2, α = 2, GD is stable roughly when η < 2/(c·L·α^(2/L)·σ_max^(2−2/L)) = 0.125; here η = 0.1 is 0.8× that."
    """
    from .networks import DLN
    from .optim import GD, Adam
    from .problems import Problem

    for name, x, kinds, what in (("problem", problem, Problem, "a dlnlib Problem"), ("net", net, DLN, "a dlnlib DLN"),
                                 ("optimizer", optimizer, (GD, Adam), "a dlnlib GD or Adam")):
        if not isinstance(x, kinds):
            raise TypeError(f"{name} must be {what}, got {type(x).__name__}.")
    c_raw, sig_raw, what, how = _fit_sigma(problem)
    c, sig = _per_run(c_raw), _per_run(sig_raw)
    a, g = _per_run(net.alpha), _per_run(net.gamma)
    m = _per_run(np.asarray(a) * np.asarray(g))
    L = net.depth
    h = _curvature(c, sig, m, L)
    lam = float(getattr(optimizer, "weight_decay", 0.0))
    mu = float(getattr(optimizer, "momentum", 0.0))
    if isinstance(h, float):
        den = h + (1.0 + mu) * lam
        bound = 2.0 * (1.0 + mu) / den if den > 0 else math.inf  # 2/h without λ, μ: as stability_bound_alpha
    else:
        with np.errstate(divide="ignore"):
            bound = _per_run(2.0 * (1.0 + mu) / (h + (1.0 + mu) * lam))
    set_a, set_g = not (isinstance(a, float) and a == 1.0), not (isinstance(g, float) and g == 1.0)
    formula = _formula(what.split(" ")[0], "(αγ)" if set_a and set_g else "α" if set_a else "γ" if set_g else "",
                       L, bool(np.all(np.asarray(m) == 0.0)), lam, mu)
    mult = ([f"α = {_show(a)}"] if set_a else []) + ([f"γ = {_show(g)}"] if set_g else []) + (
        [f"λ = {lam:g}"] if lam else []) + ([f"μ = {mu:g}"] if mu else [])
    head = (f"for this {type(problem).__name__.lower()} ('{getattr(problem, 'normalisation', 'sum')}' loss; "
            f"{what} = {_show(c)}, {how} = {_show(sig)}) with L = {L}" + (f", {', '.join(mult)}" if mult else ""))
    rule = f"η < {formula} = {_show(bound)}"
    if isinstance(optimizer, Adam):
        return StabilityRule(None, h, c, sig, f"{head}: Adam has no closed-form stability bound (its per-entry "
                             f"step is about η times the factor's multiplier); GD would be stable roughly when {rule}.")
    eta = _per_run(optimizer.lr)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.max(np.asarray(eta) / np.asarray(bound)))
    if not (math.isfinite(ratio) and ratio > 0):
        here = ""
    elif isinstance(eta, float) and isinstance(bound, float):
        here = f"; here η = {_show(eta)} is {ratio:.3g}× that"
    else:
        here = f"; here η = {_show(eta)}, up to {ratio:.3g}× the bound"
    return StabilityRule(bound, h, c, sig, f"{head}, GD is stable roughly when {rule}{here}.")


def _curvature(c, sig, m, L: int):
    """``h``: ``c·m`` at ``L = 1``; ``c·L·m^{2/L}·σ^{2−2/L}``; ``c·(L−2)·σ^{2−2/(L−2)}`` where ``m = 0`` (frozen outer
    factors). Floats in, a float out (the arithmetic of :func:`stability_bound_alpha`); arrays broadcast."""
    if L == 1:
        return _per_run(np.asarray(c) * np.asarray(m))
    if isinstance(m, float) and isinstance(sig, float) and isinstance(c, float) and m != 0.0:
        return c * L * m ** (2.0 / L) * sig ** (2.0 - 2.0 / L)
    mid = L - 2
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            h_outer = np.asarray(c) * L * np.asarray(m) ** (2.0 / L) * np.asarray(sig) ** (2.0 - 2.0 / L)
            h_mid = np.asarray(c) * mid * np.asarray(sig) ** (2.0 - 2.0 / mid) if mid else np.zeros(np.shape(sig))
            return _per_run(np.where(np.asarray(m) == 0.0, h_mid, h_outer))
    except ValueError:
        raise ValueError(f"the problem's batch shape {np.shape(sig)} and the network's step multipliers' "
                         f"{np.shape(m)} do not broadcast.") from None


def _formula(cs: str, sym: str, L: int, frozen: bool, lam: float, mu: float) -> str:
    """The bound's formula in words, e.g. ``2/(c·L·α^(2/L)·σ_max^(2−2/L) + λ)``."""
    if L == 1:
        core = f"{cs}·{sym}" if sym else cs
    elif frozen:  # only the middle factors learn
        core = f"{cs}·(L−2)·σ_max^(2−2/(L−2))" if L > 2 else "0 (every factor frozen)"
    else:
        core = f"{cs}·L·{sym + '^(2/L)·' if sym else ''}σ_max^(2−2/L)"
    den = core + (" + (1+μ)λ" if mu else " + λ") if lam else core
    return ("2(1+μ)" if mu else "2") + "/" + (den if "·" not in den and " " not in den else f"({den})")
