"""MovieLens-100K completion ([K] Figs 7 and 17): the split, the held-out error, and the DLN / C-DLN / AltMin runs.

The rating matrix ``M`` (943 users × 1682 movies, 0 where unrated) is split at random into a training mask
``Ω_train`` (80% of the ratings) and a held-out mask ``Ω_test`` (20%). The networks are trained on the
completion loss ``ℓ = ½ Σ_{Ω_train} (W − M)² / |Ω_train|`` (the [K] code's ``"observed"`` normalisation) and
evaluated by the **held-out error** ``½ Σ_{Ω_test} (W − M)² / |Ω_test|``: half the held-out mean squared error,
the quantity the official figure plots as "recovery error". The RMSE on the 1–5 scale is ``√(2·that)``.

:meth:`dlnlib.problems.Completion.test_error` averages over *all* unobserved entries (the right thing for a
synthetic target known everywhere); for MovieLens most unobserved entries are unrated (target 0), so the
held-out mask must be given explicitly: :func:`heldout_error`, :func:`heldout_recorder` (for
:func:`dlnlib.train.train`) and :func:`run_altmin` (:func:`dlnlib.baselines.altmin` with a held-out recorder).
Times to a level are :func:`dlnlib.metrics.first_crossing` (``below=True, interpolate=True``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from .._util import Tensor, resolve
from ..baselines import altmin
from ..data import movielens_matrix
from ..metrics import nmse
from ..networks import cdln, wide_dln
from ..problems import Completion
from ..optim import GD
from ..train import train
from .kwon_compare import Curve


@dataclass(frozen=True)
class MovieLensSplit:
    """A completion problem on the training ratings and its held-out mask.

    ``problem``: :class:`Completion` with ``target`` the rating matrix ``(n_users, n_items)`` and ``mask`` the
    training mask; ``test_mask``: 0/1 ``(n_users, n_items)``; ``n_train``, ``n_test``: numbers of ratings.
    """

    problem: Completion
    test_mask: Tensor
    n_train: int
    n_test: int

    @property
    def target(self) -> Tensor:
        """The rating matrix ``M (n_users, n_items)``, 0 where unrated."""
        return self.problem.target

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_users, n_items)``."""
        return self.problem.shape


def make_split(ratings: np.ndarray, test_fraction: float = 0.2, seed: int = 0, *, users: int | None = None,
               items: int | None = None, normalisation: str = "observed", dtype=None, device=None) -> MovieLensSplit:
    """Build :class:`MovieLensSplit` from ratings rows ``user item rating …`` (1-based ids).

    ``users``/``items`` (optional) keep only the ``users`` most active users and ``items`` most rated items
    (a denser sub-block, for quick runs); ids are re-numbered. The split is :func:`dlnlib.data.movielens_matrix`'s
    (a random permutation of the ratings with ``seed``).

    >>> r = np.array([[1, 1, 5, 0], [1, 2, 3, 0], [2, 2, 4, 0], [3, 1, 1, 0], [2, 1, 2, 0]])
    >>> s = make_split(r, 0.2, 0)
    >>> s.shape, s.n_train, s.n_test
    ((3, 2), 4, 1)
    """
    r = subsample_ratings(ratings, users, items) if (users or items) else np.asarray(ratings)
    M, tr, te = movielens_matrix(r, test_fraction, seed)
    dtype, device = resolve(dtype, device)
    M_t = torch.as_tensor(M, dtype=dtype, device=device)
    prob = Completion(M_t, torch.as_tensor(tr, dtype=dtype, device=device), normalisation)
    return MovieLensSplit(prob, torch.as_tensor(te, dtype=dtype, device=device), int(tr.sum()), int(te.sum()))


def subsample_ratings(ratings: np.ndarray, users: int | None, items: int | None) -> np.ndarray:
    """Ratings restricted to the ``users`` users with most ratings and the ``items`` most-rated items, ids renumbered
    ``1..users`` and ``1..items`` (``None`` keeps all).

    >>> r = np.array([[1, 1, 5, 0], [2, 1, 3, 0], [2, 2, 4, 0], [3, 3, 1, 0]])
    >>> subsample_ratings(r, 2, 1)[:, :3].tolist()
    [[1, 1, 5], [2, 1, 3]]
    """
    r = np.asarray(ratings)
    keep = np.ones(len(r), dtype=bool)
    for col, k in ((0, users), (1, items)):
        if k is not None:
            ids, counts = np.unique(r[:, col], return_counts=True)
            top = ids[np.lexsort((ids, -counts))[:k]]  # most frequent first, ties by id
            keep &= np.isin(r[:, col], top)
    r = r[keep].copy()
    for col in (0, 1):
        ids = np.unique(r[:, col])
        # renumber by activity rank (most active = 1), ties by original id
        counts = np.array([(r[:, col] == i).sum() for i in ids])
        order = ids[np.lexsort((ids, -counts))]
        new = {int(old): k + 1 for k, old in enumerate(order)}
        r[:, col] = [new[int(v)] for v in r[:, col]]
    return r[np.lexsort((r[:, 1], r[:, 0]))]


def heldout_error(W: Tensor, target: Tensor, test_mask: Tensor) -> Tensor:
    """``½ Σ_test (W − M)² / |test|`` for ``W (..., m, n)``; shape ``(...)``: half of
    :func:`dlnlib.metrics.nmse` over the held-out mask.

    >>> M = torch.tensor([[1.0, 2.0], [3.0, 4.0]]); te = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    >>> float(heldout_error(M + 1, M, te))
    0.5
    """
    return 0.5 * nmse(W, target, test_mask)


def rmse(half_mse: float | np.ndarray) -> float | np.ndarray:
    """RMSE on the rating scale from the plotted ``½·MSE``: ``√(2·x)``.

    >>> rmse(0.5)
    1.0
    """
    return np.sqrt(2.0 * np.asarray(half_mse)) if isinstance(half_mse, np.ndarray) else math.sqrt(2.0 * half_mse)


def heldout_recorder(split: MovieLensSplit):
    """A :func:`dlnlib.train.train` recorder ``f(net, W_end (..., m, n), loss) -> ½·MSE on the held-out ratings
    (...)``."""
    M, te = split.target, split.test_mask

    def f(net, W, loss):
        return heldout_error(W, M, te)
    return f


def run_dln(split: MovieLensSplit, kind: str, *, depth: int, eps: float, eta: float, iterations: int,
            r_hat: int = 10, alpha: float = 1.0, record_at=100, seed: int = 0, width: int | None = None):
    """Train the wide DLN (``kind="wide"``: widths ``[n_items, w, …, w, n_users]`` with ``w = width`` or
    ``max(n_users, n_items)``, ε-orthogonal init) or C-DLN (``kind="cdln"``: Algorithm 1 with ``r̂``, ``α``) on the
    training ratings with GD step ``eta`` (on the ``"observed"``-normalised loss) and return a
    :class:`~dlnlib.studies.kwon_compare.Curve` with ``loss`` and ``heldout`` (½·MSE); C-DLN's time includes the
    SVD of the surrogate. A divergence is not an error here: the run is frozen there (a batch of one run with
    ``on_divergence="flag"``), its curve is cut at the last finite record, and ``diverged_at`` says when
    (``-1``: never).
    """
    prob = split.problem
    n_users, n_items = prob.shape
    t0 = time.perf_counter()
    if kind == "wide":
        w = width or max(n_users, n_items)
        net = wide_dln([n_items] + [w] * (depth - 1) + [n_users], eps, "orthogonal", seed, batch=(1,),
                       dtype=prob.target.dtype, device=prob.target.device, name="wide DLN")
        setup = 0.0
        label = "Original DLN"
    elif kind == "cdln":
        net = cdln(prob.surrogate().unsqueeze(0), r_hat, depth, eps, alpha, name="C-DLN")
        setup = time.perf_counter() - t0
        label = f"C-DLN (α = {alpha:g})"
    else:
        raise ValueError(f"kind must be 'wide' or 'cdln', got {kind!r}.")
    h = train(net, prob, GD(eta), iterations, record_at=record_at, record=("loss",),
              recorders={"heldout": heldout_recorder(split)}, on_divergence="flag")
    vals = {k: np.asarray(v).reshape(len(h.iterations), -1)[:, 0] for k, v in h.values.items()}
    div = int(np.asarray(h.diverged_at).reshape(-1)[0])
    keep = np.ones(len(h.iterations), dtype=bool)
    if div >= 0:
        keep = (h.iterations < div) & np.isfinite(vals["loss"]) & np.isfinite(vals["heldout"])
    return Curve(label, h.iterations[keep], h.wall_time[keep] + setup, {k: v[keep] for k, v in vals.items()}, setup,
                 h.seconds_per_step, diverged_at=div)


def run_altmin(split: MovieLensSplit, r_hat: int, iterations: int, ridge: float = 0.0) -> Curve:
    """AltMin (:func:`dlnlib.baselines.altmin`, same start as C-DLN: the surrogate's top-``r̂`` factors) on the
    training ratings, as a :class:`~dlnlib.studies.kwon_compare.Curve` with ``loss`` and ``heldout`` (½·MSE), one
    record per iteration. Its time counts the initial SVD and the half-steps, not the evaluation. ``ridge = 0`` is
    the plain AltMin of [K], whose held-out error can rise again as it overfits.
    """
    M, te = split.target, split.test_mask
    r = altmin(split.problem, r_hat, iterations, ridge, recorders={"heldout": lambda W: heldout_error(W, M, te)})
    return Curve("AltMin", r.iterations, r.wall_time + r.setup_s, {"loss": r.train_loss, "heldout": r.values["heldout"]},
                 r.setup_s, float(r.wall_time[-1] / max(len(r.iterations) - 1, 1)))


def summarise(c: Curve) -> dict:
    """Final and best held-out ½·MSE (and RMSE), iterations and seconds of a curve."""
    ho = np.asarray(c["heldout"], dtype=float)
    i = int(np.nanargmin(ho))
    return {"final": float(ho[-1]), "final_rmse": rmse(float(ho[-1])), "best": float(ho[i]),
            "best_rmse": rmse(float(ho[i])), "best_iteration": int(c.iterations[i]), "best_time": float(c.wall_time[i]),
            "iterations": int(c.iterations[-1]), "seconds": float(c.wall_time[-1])}
