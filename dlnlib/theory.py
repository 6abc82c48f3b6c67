"""Closed-form recursions and gradient flows (conventions §2, §4, §6), in float64 NumPy.

All step sizes are for the ``½‖·‖²`` loss; for a loss ``(c/2)‖·‖²`` pass ``loss_scale=c`` (it multiplies
``η`` in the gradient terms only, not in the weight-decay term ``ηλ``).
"""

from __future__ import annotations

import numpy as np


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
    s = np.asarray(sigma_star, dtype=np.float64).ravel()
    r = s.size
    if r_hat < r:
        raise ValueError(f"r_hat = {r_hat} must be >= r = {r}.")
    if depth < 2:
        raise ValueError("depth L must be >= 2.")
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


def sv_flow_rhs(s: np.ndarray, sigma_star: np.ndarray, depth: int) -> np.ndarray:
    """``ṡ = −L (s²)^{1−1/L} (s − σ*)`` (Proposition 1 with aligned singular vectors)."""
    return -depth * (s * s) ** (1.0 - 1.0 / depth) * (s - sigma_star)


def sv_gradient_flow(sigma_star, depth: int, s0: float | np.ndarray, times: np.ndarray, dt: float = 1e-3,
                     loss_scale: float = 1.0) -> np.ndarray:
    """Integrate the singular-value gradient flow with classical RK4 (step ≤ ``dt``) and sample at ``times``.

    ``sigma_star (k,)``; ``s0`` scalar or ``(k,)``; ``times`` non-decreasing, starting at ≥ 0 (GD iteration
    ``t`` with step ``η`` corresponds to flow time ``η·t``). Returns ``(len(times), k)``.
    """
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
    """Rough largest stable GD step for the diagonal dynamics near ``s = σ_max``: ``η < 2/(c·L·σ_max^{2−2/L})``."""
    return 2.0 / (loss_scale * depth * sigma_max ** (2.0 - 2.0 / depth))


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
    """
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

    from .problems import Completion, Factorisation, Sensing

    d_out, d_in = problem.shape
    if isinstance(problem, Factorisation):
        return float(problem.loss_scale)
    if isinstance(problem, Sensing):
        return float(problem.loss_scale) * float(problem.A.square().sum()) / (d_out * d_in)
    if isinstance(problem, Completion):
        frac = problem.n_observed / (d_out * d_in)
        return float(torch.as_tensor(problem.loss_scale * frac).mean())
    raise TypeError(f"no factorisation equivalent for {type(problem).__name__}.")
