"""Closed forms with a planted error, for the tests and controls that show each theory check can fail.

Each variant has the signature of the closed form it perturbs, so a check that takes its closed form as an
argument (``recursion=``, ``rho=``) can be fed the wrong one and must then reject it (the ``*_fails_*`` tests of
``tests/test_kwon_thm1.py`` … ``tests/test_symbolic.py``, the control rows of notebooks 03 and 05). Conventions: float64 NumPy, step ``η`` on the ``½‖·‖²`` loss times the
loss scale ``c`` (conventions §1.4).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..theory import kwon_alpha
from .kwon_thm1 import Recursion

RECURSION_KINDS = ("exponent", "alpha_middle", "no_alpha", "tail_sigma", "init")
"""The planted errors of :func:`perturbed_recursion`."""

RHO_KINDS = ("exponent", "coupled_decay", "no_decay")
"""The planted errors of :func:`perturbed_rho`."""


def _extra_factor(sigma_star, r_hat: int, depth: int, eps: float, eta: float, alpha: float, T: int,
                  loss_scale: float = 1.0) -> np.ndarray:
    """:func:`theory.kwon_alpha` with one extra factor in each gradient term: ``p = a²b^{L−2}``,
    ``a ← a − αη c (p − σ*) a b^{L−1}``, ``b ← b − η c (p − σ*) a² b^{L−2}`` (``a ← a − αηc(p − σ*)a²`` at
    ``L = 2``), i.e. ``λ^{L−1}`` instead of ``λ^{L−2}`` in Theorem 1's bracket. Returns ``p``, ``(T+1, r̂)``."""
    s = np.asarray(sigma_star, dtype=np.float64).ravel()
    tgt = np.concatenate([s, np.zeros(r_hat - s.size)])
    a, b = np.full(r_hat, float(eps)), np.full(r_hat, float(eps))
    e, L = eta * loss_scale, depth
    outer = alpha * e
    out = np.empty((T + 1, r_hat))
    out[0] = a * a * b ** (L - 2)
    with np.errstate(all="ignore"):
        for t in range(1, T + 1):
            res = out[t - 1] - tgt
            if L == 2:
                a = a - outer * res * a * a
            else:
                a, b = a - outer * res * a * b ** (L - 1), b - e * res * a * a * b ** (L - 2)
            out[t] = a * a * b ** (L - 2)
    return out


def perturbed_recursion(kind: str) -> Recursion:
    """A deliberately wrong variant of :func:`theory.kwon_alpha` with the same signature
    ``(sigma_star, r_hat, depth, eps, eta, alpha, T, loss_scale=1.0) -> (T+1, r̂)``.

    ``kind``: ``"exponent"`` (``λ^{L−1}`` instead of ``λ^{L−2}`` inside the bracket, i.e. one extra factor in
    the gradient term); ``"alpha_middle"`` (α also on the middle factors: ``kwon_alpha`` with step ``αηc`` on
    every factor); ``"no_alpha"`` (α ignored); ``"tail_sigma"`` (the tail ``β`` is pulled to ``σ_r*`` instead of 0);
    ``"init"`` (``λ(0) = ε^{1/2}``). All but ``"exponent"`` are :func:`theory.kwon_alpha` called with the wrong
    arguments, so they round exactly as it does. Overflow gives ``inf``/``NaN`` silently.

    >>> ok = kwon_alpha([1.0], 2, 3, 0.3, 0.1, 2.0, 5)
    >>> bad = perturbed_recursion("alpha_middle")([1.0], 2, 3, 0.3, 0.1, 2.0, 5)
    >>> bool(np.allclose(ok, bad)), bool(np.array_equal(perturbed_recursion("no_alpha")([1.0], 2, 3, 0.3, 0.1, 2.0, 5),
    ...                                                 kwon_alpha([1.0], 2, 3, 0.3, 0.1, 1.0, 5)))
    (False, True)
    """
    if kind not in RECURSION_KINDS:
        raise ValueError(f"kind must be one of {RECURSION_KINDS}, got {kind!r}.")
    if kind == "exponent":
        return _extra_factor

    def rec(sigma_star, r_hat, depth, eps, eta, alpha, T, loss_scale=1.0):
        s = np.asarray(sigma_star, dtype=np.float64).ravel()
        args = dict(sigma_star=s, r_hat=r_hat, depth=depth, eps=eps, eta=eta, alpha=alpha, T=T, loss_scale=loss_scale)
        if kind == "alpha_middle":
            args.update(eta=alpha * (eta * loss_scale), alpha=1.0, loss_scale=1.0)
        elif kind == "no_alpha":
            args.update(alpha=1.0)
        elif kind == "tail_sigma":
            args.update(sigma_star=np.concatenate([s, np.full(r_hat - s.size, s[-1])]))
        else:  # "init"
            args.update(eps=np.sqrt(eps))
        with np.errstate(all="ignore"):
            return kwon_alpha(**args)

    return rec


def perturbed_rho(kind: str) -> Callable[..., np.ndarray]:
    """A wrong variant of :func:`theory.lop_rho` (same signature ``(eps, eta, depth, T, weight_decay, case,
    loss_scale) -> (T+1,)``): ``"exponent"`` (``ρ^{2L−1}`` instead of ``ρ^{2(L−1)}``), ``"coupled_decay"``
    (``ρ(1 − ηλ)(1 − ηcρ^{2(L−1)})`` instead of ``ρ(1 − ηλ − ηcρ^{2(L−1)})``), ``"no_decay"`` (λ ignored).

    >>> from dlnlib.theory import lop_rho
    >>> bool(np.allclose(perturbed_rho("no_decay")(0.5, 0.1, 2, 3, 0.2), lop_rho(0.5, 0.1, 2, 3, 0.2)))
    False
    """
    if kind not in RHO_KINDS:
        raise ValueError(f"kind must be one of {RHO_KINDS}, got {kind!r}.")

    def rho_fn(eps, eta, depth, T, weight_decay=0.0, case=1, loss_scale=1.0):
        rho = np.empty(T + 1)
        rho[0] = eps
        lam = 0.0 if kind == "no_decay" else weight_decay
        e = eta * loss_scale
        for t in range(1, T + 1):
            p = rho[t - 1]
            g = 0.0 if case == 2 else e * p ** (2 * depth - 1 if kind == "exponent" else 2 * (depth - 1))
            rho[t] = p * (1 - eta * lam) * (1 - g) if kind == "coupled_decay" else p * (1 - eta * lam - g)
        return rho

    return rho_fn
