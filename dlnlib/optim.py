"""Gradients and optimisers: the hand-written DLN gradient, GD (weight decay, heavy ball) and Adam.

The gradient of a loss ``ℓ(W_{L:1})`` with end-to-end gradient ``G = ∂ℓ/∂W_{L:1}`` is
``∇_{W_l} ℓ = W_{L:l+1}ᵀ G W_{l-1:1}ᵀ``. :func:`layer_grads` computes it with ``3(L−1)`` matmuls
(``L−1`` forward prefix products, then ``B_{l-1} = W_lᵀ B_l`` and ``∇_l = B_l P_{l-1}ᵀ`` backwards), the
floor for an ``L``-factor step; no autograd. Every tensor may carry leading batch dimensions, so a
seed, α or ε sweep is one tensor program (``batch = (B,)``) and equals ``B`` separate runs.
Optimisers are update rules on lists of tensors; their state lives in the optimiser object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from ._util import Tensor, check_multiplier, check_real
from .networks import DLN
from .problems import Problem


class DivergenceError(RuntimeError):
    """Training produced NaN/Inf or an exploding loss; the message names the step sizes."""


# ----------------------------------------------------------------------------------------------
# Gradient
# ----------------------------------------------------------------------------------------------


def prefix_products(weights: Sequence[Tensor]) -> list[Tensor]:
    """``[W_1, W_2W_1, …, W_{L:1}]`` (``L−1`` matmuls)."""
    P = [weights[0]]
    for W in weights[1:]:
        P.append(W @ P[-1])
    return P


def layer_grads(weights: Sequence[Tensor], G: Tensor, prefix: Sequence[Tensor] | None = None) -> list[Tensor]:
    """Gradients ``∇_{W_l} ℓ = W_{L:l+1}ᵀ G W_{l-1:1}ᵀ`` for ``l = 1..L`` from the end-to-end gradient ``G``.

    ``weights[l-1]``: ``(..., d_l, d_{l-1})``; ``G``: ``(..., d_L, d_0)``; returns tensors shaped like the weights.

    >>> Ws = [torch.randn(3, 4, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)]
    >>> G = torch.randn(2, 4, dtype=torch.float64)
    >>> g1, g2 = layer_grads(Ws, G)
    >>> bool(torch.allclose(g1, Ws[1].T @ G)) and bool(torch.allclose(g2, G @ Ws[0].T))
    True
    """
    P = prefix if prefix is not None else prefix_products(weights)
    L = len(weights)
    grads: list[Tensor] = [None] * L  # type: ignore[list-item]
    B = G
    for l in range(L - 1, 0, -1):
        grads[l] = B @ P[l - 1].transpose(-1, -2)
        B = weights[l].transpose(-1, -2) @ B
    grads[0] = B
    return grads


def loss_and_grads(net: DLN, problem: Problem) -> tuple[Tensor, Tensor, list[Tensor]]:
    """``(loss (...), W_{L:1} (..., d_L, d_0), [∇_{W_l} ℓ])`` for the network on the problem."""
    P = prefix_products(net.weights)
    loss, G = problem.loss_grad(P[-1])
    return loss, P[-1], layer_grads(net.weights, G, P)


# ----------------------------------------------------------------------------------------------
# Optimisers: pure update rules on lists of tensors, state kept in the optimiser object
# ----------------------------------------------------------------------------------------------


def _per_run(x, ndim_batch: int, like: Tensor):
    """A scalar or a ``(*batch)`` tensor, reshaped to broadcast against ``(*batch, m, n)``."""
    if isinstance(x, Tensor):
        return x.to(dtype=like.dtype, device=like.device).reshape(x.shape + (1, 1))
    return x


@dataclass
class GD:
    """Gradient descent ``W ← (1 − ηλ) W − η·s_l·(∇W + μ·momentum)``.

    ``lr`` ``η`` (float or ``(*batch)`` tensor), ``weight_decay`` ``λ`` (decoupled form of conventions §1.3:
    ``(1 − ηλ)``, not scaled by ``s_l``), heavy-ball ``momentum`` ``μ``: ``v ← μv + ∇``, ``W ← (1−ηλ)W − η s_l v``.
    """

    lr: float | Tensor
    weight_decay: float = 0.0
    momentum: float = 0.0
    _buf: list | None = field(default=None, repr=False)

    def __post_init__(self):
        check_multiplier("lr (the step size η)", self.lr)
        check_real("weight_decay", self.weight_decay, low=0.0)
        check_real("momentum", self.momentum, low=0.0, high=1.0, high_open=True)

    def describe(self) -> str:
        return f"η = {_fmt(self.lr)}" + (f", λ = {self.weight_decay}" if self.weight_decay else "") + (
            f", momentum = {self.momentum}" if self.momentum else "")

    def step(self, weights: list[Tensor], grads: list[Tensor], scales: list, active: Tensor | None = None) -> None:
        nb = weights[0].ndim - 2
        if self.momentum:
            if self._buf is None:
                self._buf = [torch.zeros_like(g) for g in grads]
            for v, g in zip(self._buf, grads):
                v.mul_(self.momentum).add_(g)
            grads = self._buf
        lr = self.lr if active is None else self.lr * active
        for W, g, s in zip(weights, grads, scales):
            if isinstance(s, float) and s == 0.0:
                continue
            if self.weight_decay:
                W.mul_(1.0 - _per_run(lr, nb, W) * self.weight_decay)
            step = _per_run(lr * s, nb, W)
            if isinstance(step, Tensor):
                W.addcmul_(step, g, value=-1)  # no temporary for step·g
            else:
                W.add_(g, alpha=-step)


@dataclass
class Adam:
    """Adam with per-factor step ``η·s_l`` and optional decoupled weight decay (AdamW form)."""

    lr: float | Tensor
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    _m: list | None = field(default=None, repr=False)
    _v: list | None = field(default=None, repr=False)
    _t: int = 0

    def __post_init__(self):
        check_multiplier("lr (the step size η)", self.lr)
        b1, b2 = self.betas
        check_real("betas[0]", b1, low=0.0, high=1.0, high_open=True)
        check_real("betas[1]", b2, low=0.0, high=1.0, high_open=True)
        check_real("eps", self.eps, low=0.0, low_open=True)
        check_real("weight_decay", self.weight_decay, low=0.0)

    def describe(self) -> str:
        return f"Adam η = {_fmt(self.lr)}"

    def step(self, weights, grads, scales, active=None):
        nb = weights[0].ndim - 2
        if self._m is None:
            self._m = [torch.zeros_like(g) for g in grads]
            self._v = [torch.zeros_like(g) for g in grads]
        self._t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self._t, 1 - b2**self._t
        for W, g, m, v, s in zip(weights, grads, self._m, self._v, scales):
            if isinstance(s, float) and s == 0.0:
                continue
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            lr = self.lr if active is None else self.lr * active
            step = _per_run(lr * s, nb, W)
            if self.weight_decay:
                W.mul_(1 - _per_run(lr, nb, W) * self.weight_decay)
            W.sub_(step * (m / c1) / ((v / c2).sqrt() + self.eps))


def _fmt(x) -> str:
    if isinstance(x, Tensor):
        x = x.flatten().tolist()
        return str(x[0]) if len(x) == 1 else f"[{', '.join(f'{v:g}' for v in x[:8])}{', …' if len(x) > 8 else ''}]"
    return f"{x:g}"


