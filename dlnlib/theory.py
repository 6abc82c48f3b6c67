"""Closed-form recursions and gradient flows (THEORY §2, §4, §6), in float64 NumPy.

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
    """The α ≠ 1 extension (THEORY §4.3): outer factors ``a_i`` (step αη), middle factors ``b_i`` (step η).

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
    """ρ(t), ``t = 0..T``, of the Law of Parsimony (THEORY §2.2–2.3).

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
