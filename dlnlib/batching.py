"""Batching: the one way to stack runs into a batch, and to repeat a problem along a batch dimension.

A batch of ``B`` runs is one tensor program: every factor is ``(B, d_l, d_{l-1})`` and every target ``(B, m, n)``,
and a batched run equals its ``B`` members run one at a time (tests/test_train.py). Networks of different inner
widths share a batch by zero-padding: a padded row or column of a factor receives an exactly zero gradient (each
gradient term multiplies it by an exact zero), so each member's end-to-end matrix is unchanged.
"""

from __future__ import annotations

from typing import Sequence

import torch

from ._util import Tensor, check_int
from .networks import DLN
from .problems import Completion, Factorisation, Problem, Sensing


def pad_to(W: Tensor, rows: int, cols: int) -> Tensor:
    """Zero-pad the trailing two dims of ``W (..., m, n)`` to ``(..., rows, cols)``.

    >>> pad_to(torch.ones(1, 2), 2, 3).tolist()
    [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    m, n = W.shape[-2:]
    if m > rows or n > cols:
        raise ValueError(f"cannot pad a {m}×{n} matrix to {rows}×{cols}.")
    return torch.nn.functional.pad(W, (0, cols - n, 0, rows - m))


def _per_member(values: list, like: Tensor):
    """One step multiplier for the batch: the common float, or a ``(B,)`` tensor when the members differ."""
    v = [float(x) for x in values]
    return v[0] if len(set(v)) == 1 else torch.tensor(v, dtype=like.dtype, device=like.device)


def stack_nets(nets: Sequence[DLN], name: str | None = None) -> DLN:
    """Unbatched DLNs of one depth as one DLN of batch shape ``(B,)``; factors zero-padded to the largest shape.

    ``W_l`` of the result is ``(B, max_i d_l^(i), max_i d_{l-1}^(i))``; ``α`` and ``γ`` stay floats when all
    members share them and become ``(B,)`` tensors otherwise (an α grid). ``name`` defaults to the first net's.
    Members of different widths (the wide DLN beside a C-DLN) then train in lockstep: when the loss evaluation
    dominates (sensing), one pass over the measurement operator serves every member.

    >>> a = DLN([torch.ones(1, 2, dtype=torch.float64), torch.ones(2, 1, dtype=torch.float64)], alpha=2.0)
    >>> b = DLN([torch.ones(2, 2, dtype=torch.float64), torch.ones(2, 2, dtype=torch.float64)])
    >>> s = stack_nets([a, b]); s.batch_shape, s.widths, s.alpha.tolist()
    ((2,), [2, 2, 2], [2.0, 1.0])
    """
    if not nets:
        raise ValueError("stack_nets needs at least one network (nets is empty).")
    depth = {n.depth for n in nets}
    if len(depth) != 1:
        raise ValueError(f"stack_nets needs networks of one depth, got depths {sorted(depth)}.")
    if any(n.batch_shape for n in nets):
        raise ValueError("stack_nets stacks unbatched networks; got a network with batch shape "
                         f"{next(n.batch_shape for n in nets if n.batch_shape)}.")
    Ws = []
    for l in range(depth.pop()):
        rows = max(n.weights[l].shape[-2] for n in nets)
        cols = max(n.weights[l].shape[-1] for n in nets)
        Ws.append(torch.stack([pad_to(n.weights[l], rows, cols) for n in nets]))
    return DLN(Ws, name=name or nets[0].name, alpha=_per_member([n.alpha for n in nets], Ws[0]),
               gamma=_per_member([n.gamma for n in nets], Ws[0]))


def repeat_problem(problem: Problem, n: int) -> Problem:
    """The same problem with its targets (and masks) repeated ``n`` times along a new leading batch dimension,
    flattened with the problem's own batch: ``(*b, m, n_)`` → ``(n·prod(b), m, n_)``, repeat-major.

    >>> P = repeat_problem(Factorisation(torch.eye(2, dtype=torch.float64)), 3); tuple(P.target.shape)
    (3, 2, 2)
    >>> S = repeat_problem(Sensing(torch.ones(4, 2, 2, dtype=torch.float64), y=torch.arange(4.0).double()), 3)
    >>> tuple(S.y.shape), S.target is None  # measurements only: the measurements are repeated
    ((3, 4), True)
    >>> N = repeat_problem(Sensing(torch.ones(4, 2, 2, dtype=torch.float64), torch.eye(2, dtype=torch.float64),
    ...                            y=torch.full((4,), 9.0, dtype=torch.float64)), 2)
    >>> N.y.tolist()  # measured (noisy) y beside a target: kept, not re-measured from the target
    [[9.0, 9.0, 9.0, 9.0], [9.0, 9.0, 9.0, 9.0]]
    """
    n = check_int("n", n, 1)
    rep = lambda X, k=2: X.unsqueeze(0).expand((n,) + X.shape).reshape((-1,) + X.shape[X.ndim - k:])
    if isinstance(problem, Factorisation):
        return Factorisation(rep(problem.target), problem.normalisation)
    if isinstance(problem, Completion):
        return Completion(rep(problem.target), rep(problem.mask), problem.normalisation)
    if isinstance(problem, Sensing):
        target = None if problem.target is None else rep(problem.target)
        measured = problem.target is None or not torch.equal(problem.y, problem.measure(problem.target))
        return Sensing(problem.A, target, problem.normalisation, rep(problem.y, 1) if measured else None)
    raise TypeError(f"cannot repeat a {type(problem).__name__}; repeat_problem knows Factorisation, Completion "
                    "and Sensing.")
