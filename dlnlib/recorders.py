"""What a run records: built-in recorders (loss, errors, spectra, layer spectra, angles), the
:class:`History` of a run, and recording grids.

A recorder is ``f(net, W_end, loss) -> tensor`` evaluated at each recorded iteration, where ``W_end`` is the
end-to-end matrix ``(*batch, d_L, d_0)`` and ``loss`` has the batch shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ._util import Tensor
from .metrics import half_mse_masked, half_mse_unobserved, relative_error
from .networks import DLN
from .problems import Problem


Recorder = Callable[[DLN, Tensor, Tensor], Tensor]
"""``f(net, W_end, loss) -> tensor`` evaluated at each recorded iteration."""


def _svdvals(W: Tensor) -> Tensor:
    return torch.linalg.svdvals(W)


def _rec_recovery(problem: Problem) -> Recorder:
    return lambda net, W, loss: relative_error(W, problem.target)


def _rec_layer_sv(net, W, loss):
    return torch.stack([_pad(_svdvals(Wl), max(net.widths)) for Wl in net.weights], dim=-2)


def _pad(s: Tensor, n: int) -> Tensor:
    return torch.nn.functional.pad(s, (0, n - s.shape[-1]), value=float("nan"))


def _rec_angles(net0: DLN) -> Recorder:
    """Angles (radians) between the i-th left/right singular vectors of each factor at t and at 0."""
    svd0 = [torch.linalg.svd(W, full_matrices=False) for W in net0.weights]

    def f(net, W, loss):
        out = []
        n = max(net.widths)
        for (U0, _, Vh0), Wl in zip(svd0, net.weights):
            U, _, Vh = torch.linalg.svd(Wl, full_matrices=False)
            cu = (U * U0).sum(-2).abs().clamp(max=1.0)
            cv = (Vh * Vh0).sum(-1).abs().clamp(max=1.0)
            out.append(torch.stack([_pad(torch.arccos(cu), n), _pad(torch.arccos(cv), n)], -2))
        return torch.stack(out, -3)  # (..., L, 2, n): [left, right]
    return f


BUILTIN = ("loss", "recovery_error", "test_error", "half_mse_unobserved", "half_mse_masked", "sv", "layer_sv", "angles")
"""Built-in records. Completion only: ``test_error`` (mean squared residual on the unobserved entries,
:meth:`~dlnlib.problems.Completion.test_error`), ``half_mse_unobserved`` (half of it, the [K] code's test loss,
:func:`~dlnlib.metrics.half_mse_unobserved`) and ``half_mse_masked`` (the unobserved residual's ``½·Σ/(d_out·d_in)``,
the [Y] code's test loss, :func:`~dlnlib.metrics.half_mse_masked`); conventions §8."""

_COMPLETION_METRICS = {"half_mse_unobserved": half_mse_unobserved, "half_mse_masked": half_mse_masked}


@dataclass
class History:
    """What :func:`train` recorded.

    ``iterations (K,)``; ``values[name]`` arrays ``(K, *batch, …)`` (e.g. ``loss (K, *batch)``,
    ``sv (K, *batch, min(d_L, d_0))``, ``layer_sv (K, *batch, L, max width)``, ``angles (K, *batch, L, 2, width)``);
    ``wall_time (K,)`` seconds since the start; ``stop_iteration (*batch)`` the first iteration whose loss was
    ``<= tol`` (``-1`` if never); ``diverged_at (*batch)`` (``-1`` if not); ``net`` the final network.
    """

    iterations: np.ndarray
    values: dict[str, np.ndarray]
    wall_time: np.ndarray
    stop_iteration: np.ndarray
    diverged_at: np.ndarray
    net: DLN
    seconds_per_step: float

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    @property
    def loss(self) -> np.ndarray:
        return self.values["loss"]


def record_grid(iterations: int, n: int = 100, log: bool = False) -> np.ndarray:
    """``n``-ish recording iterations in ``[0, iterations]``, linear or log-spaced, always incl. 0 and the end.

    >>> record_grid(10, 5).tolist()
    [0, 2, 5, 8, 10]
    """
    if log:
        g = np.unique(np.round(np.logspace(0, math.log10(max(iterations, 1)), n)).astype(int))
        g = np.concatenate([[0], g])
    else:
        g = np.unique(np.round(np.linspace(0, iterations, n)).astype(int))
    return np.unique(np.clip(g, 0, iterations))


def spectral_diagonal(net: DLN, U: Tensor, V: Tensor) -> Tensor:
    """``Uᵀ W̃_{L:1} V`` formed factor by factor: ``(Uᵀ W̃_L) W̃_{L−1} ⋯ W̃_2 (W̃_1 V)``, shape ``(..., r̂, r̂)`` for
    ``U (..., d_out, r̂)``, ``V (..., d_in, r̂)``.

    Projecting each outer factor first keeps the tiny singular values (``β^L``) accurate to relative
    precision: rounding errors scale with each row's own size, not with ``σ_1``. Record it with
    ``train(..., recorders={"A": lambda net, W, loss: spectral_diagonal(net, U, V)})``.

    >>> I = torch.eye(2, dtype=torch.float64)
    >>> spectral_diagonal(DLN([2 * I, 3 * I]), I, I).diagonal().tolist()
    [6.0, 6.0]
    """
    A = U.transpose(-1, -2) @ net.weights[-1]
    for W in net.weights[-2:0:-1]:
        A = A @ W
    return A @ (net.weights[0] @ V)


def builtin_recorders(record: Sequence[str], net: DLN, problem: Problem) -> dict[str, Recorder]:
    """The recorders named in ``record`` (from :data:`BUILTIN`) for ``net`` on ``problem``, in order."""
    fns: dict[str, Recorder] = {}
    for name in record:
        if name == "loss":
            fns[name] = lambda n, W, loss: loss
        elif name == "recovery_error":
            if getattr(problem, "target", None) is None:
                raise ValueError("recovery_error needs a problem with a target matrix.")
            fns[name] = _rec_recovery(problem)
        elif name == "test_error":
            if not hasattr(problem, "test_error"):
                raise ValueError("test_error is defined for completion problems only.")
            fns[name] = lambda n, W, loss: problem.test_error(W)
        elif name in _COMPLETION_METRICS:
            if not hasattr(problem, "test_error"):
                raise ValueError(f"{name} is defined for completion problems only.")
            fns[name] = (lambda f: lambda n, W, loss: f(W, problem))(_COMPLETION_METRICS[name])
        elif name == "sv":
            fns[name] = lambda n, W, loss: _svdvals(W)
        elif name == "layer_sv":
            fns[name] = _rec_layer_sv
        elif name == "angles":
            fns[name] = _rec_angles(net.clone())
        else:
            raise ValueError(f"unknown record {name!r}; built-ins are {BUILTIN}, or pass recorders={{name: f}}.")
    return fns
