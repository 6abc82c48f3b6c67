"""Targets and problems: factorisation, sensing, completion, regression.

Every problem's loss depends on the network only through the end-to-end matrix
``W = W_L ... W_1`` of shape ``(..., d_out, d_in)``, so a problem is a function
``W -> (loss, dloss/dW)``; :mod:`dlnlib.train` chains the end-to-end gradient to the layers.

Loss normalisation is an explicit choice (conventions §1.4). With ``c`` the normalisation constant
every loss is ``(c/2) * ||residual||^2``:

=================  ===========================================  ==============================
``normalisation``  meaning                                      ``c``
=================  ===========================================  ==============================
``"sum"``          ``½‖·‖²`` (the papers' equations)            1
``"mean"``         mean over all entries / measurements         1/(d_out·d_in), 1/m, 1/(d_y·N)
``"observed"``     completion only: mean over observed entries  ``1/|Ω|``
=================  ===========================================  ==============================

The official [K] sensing code scales the measurement matrices by 1/m instead
(:func:`sensing` with ``scale="official"``). A step ``η`` on a normalised loss is a step
``c·η`` on the ``½‖·‖²`` loss: :attr:`Problem.loss_scale` is ``c``.

Batching: any tensor may carry leading batch dimensions; losses have the batch shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import torch

from ._util import Tensor, as_real_tensor, check_finite, check_matrix, check_rank, make_generator, randn, resolve

Normalisation = Literal["sum", "mean", "observed"]


# ----------------------------------------------------------------------------------------------
# Targets
# ----------------------------------------------------------------------------------------------


def random_orthonormal(n: int, k: int, seed=None, *, batch: tuple[int, ...] = (), dtype=None, device=None) -> Tensor:
    """Haar-random ``(*batch, n, k)`` matrix with orthonormal columns (``k <= n``).

    >>> Q = random_orthonormal(5, 3, seed=0)
    >>> bool(torch.allclose(Q.T @ Q, torch.eye(3, dtype=Q.dtype)))
    True
    """
    dtype, device = resolve(dtype, device)
    check_rank(k, n, n, "number of columns k")
    g = make_generator(seed)
    A = torch.randn(batch + (n, k), generator=g, dtype=torch.float64)
    Q, R = torch.linalg.qr(A)
    Q = Q * torch.sign(torch.diagonal(R, dim1=-2, dim2=-1)).unsqueeze(-2)  # Haar measure
    return Q.to(dtype=dtype, device=device)


def low_rank_target(
    d_out: int,
    d_in: int,
    r: int,
    singular_values=None,
    seed=None,
    *,
    batch: tuple[int, ...] = (),
    dtype=None,
    device=None,
) -> Tensor:
    """Rank-``r`` target ``U diag(s) Vᵀ`` of shape ``(*batch, d_out, d_in)`` with Haar-random ``U, V``.

    ``singular_values``: length-``r`` sequence (sorted descending by this function); default
    ``r, r-1, ..., 1`` (well separated, largest = r).

    >>> M = low_rank_target(6, 5, 2, [3.0, 1.0], seed=1)
    >>> [round(float(s), 12) for s in torch.linalg.svdvals(M)[:3]]
    [3.0, 1.0, 0.0]
    """
    dtype, device = resolve(dtype, device)
    check_rank(r, d_out, d_in)
    if singular_values is None:
        s = torch.arange(r, 0, -1, dtype=torch.float64)
    else:
        s = torch.as_tensor(singular_values, dtype=torch.float64).flatten()
        if s.numel() != r:
            raise ValueError(f"singular_values has {s.numel()} entries but the rank r = {r}.")
        if not torch.isfinite(s).all() or (s < 0).any():
            raise ValueError("singular_values must be finite and non-negative.")
        s = torch.sort(s, descending=True).values
    g = make_generator(seed)
    U = random_orthonormal(d_out, r, g, batch=batch, dtype=torch.float64, device="cpu")
    V = random_orthonormal(d_in, r, g, batch=batch, dtype=torch.float64, device="cpu")
    return ((U * s) @ V.transpose(-1, -2)).to(dtype=dtype, device=device)


def kwon_target(d: int, r: int, seed=None, *, dtype=None, device=None) -> Tensor:
    """Target of the official [K] code: every ``(d/2r)``-th singular triple of a ``d×d`` Gaussian.

    ``M* = Σ_k s_{j_k} u_{j_k} v_{j_k}ᵀ`` with ``j_k = floor(k·d/(2r))``, ``k = 0..r-1`` (conventions §9.9):
    well-separated singular values of order ``√d``. Shape ``(d, d)``.
    """
    dtype, device = resolve(dtype, device)
    check_rank(r, d, d)
    g = make_generator(seed)
    G = torch.randn(d, d, generator=g, dtype=torch.float64)
    U, s, Vh = torch.linalg.svd(G)
    idx = torch.tensor([math.floor(k * d / (2 * r)) for k in range(r)])
    M = (U[:, idx] * s[idx]) @ Vh[idx, :]
    return M.to(dtype=dtype, device=device)


def truncated_gaussian_target(d_out: int, d_in: int, r: int, seed=None, *, dtype=None, device=None) -> Tensor:
    """Target of the official [Y] code: the best rank-``r`` approximation of a Gaussian ``d_out×d_in`` matrix."""
    dtype, device = resolve(dtype, device)
    check_rank(r, d_out, d_in)
    g = make_generator(seed)
    G = torch.randn(d_out, d_in, generator=g, dtype=torch.float64)
    U, s, Vh = torch.linalg.svd(G, full_matrices=False)
    return ((U[:, :r] * s[:r]) @ Vh[:r]).to(dtype=dtype, device=device)


def spectral_factors(M: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """Top-``k`` singular triples of ``M`` (``(..., d_out, d_in)``): ``U (..., d_out, k)``, ``s (..., k)``, ``V (..., d_in, k)``.

    For ``k`` above the rank the extra columns are the SVD's orthonormal completion.
    """
    check_matrix("M", M)
    check_rank(k, M.shape[-2], M.shape[-1], "r_hat")
    U, s, Vh = torch.linalg.svd(M, full_matrices=True)
    return U[..., :, :k], s[..., :k], Vh[..., :k, :].transpose(-1, -2)


# ----------------------------------------------------------------------------------------------
# Problems
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Problem:
    """Base class. Subclasses implement :meth:`loss_grad` and :meth:`surrogate`.

    Attributes: ``shape = (d_out, d_in)``; ``target`` ``M*`` (``(..., d_out, d_in)``, used for the
    recovery error; ``None`` for regression); ``loss_scale`` ``c``.
    """

    def loss_grad(self, W: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def loss(self, W: Tensor) -> Tensor:
        """Loss of end-to-end matrices ``W (..., d_out, d_in)``, shape ``(...)``."""
        return self.loss_grad(W)[0]

    def surrogate(self) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def check_end_to_end(self, W: Tensor) -> None:
        check_matrix("end-to-end matrix", W, self.shape)


def _norm_const(normalisation: str, allowed: dict[str, float], problem: str) -> float:
    if normalisation not in allowed:
        raise ValueError(
            f"normalisation {normalisation!r} is not defined for {problem}; choose one of {sorted(allowed)}."
        )
    return allowed[normalisation]


@dataclass(frozen=True, eq=False)
class Factorisation(Problem):
    """Deep matrix factorisation: ``ℓ = (c/2)‖W − M*‖_F²``. ``target``: ``(..., d_out, d_in)``.

    >>> P = Factorisation(torch.eye(2, dtype=torch.float64))
    >>> loss, G = P.loss_grad(torch.zeros(2, 2, dtype=torch.float64))
    >>> float(loss), (G + 0.0).tolist()
    (1.0, [[-1.0, 0.0], [0.0, -1.0]])
    """

    target: Tensor
    normalisation: Normalisation = "sum"
    loss_scale: float = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "target", as_real_tensor("target", self.target))
        check_finite("target", self.target)
        d_out, d_in = self.target.shape[-2:]
        c = _norm_const(self.normalisation, {"sum": 1.0, "mean": 1.0 / (d_out * d_in)}, "factorisation")
        object.__setattr__(self, "loss_scale", c)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.target.shape[-2:])

    def loss_grad(self, W):
        R = W - self.target
        return 0.5 * self.loss_scale * R.square().sum((-2, -1)), (R * self.loss_scale if self.loss_scale != 1.0 else R)

    def surrogate(self):
        return self.target


@dataclass(frozen=True, eq=False)
class Completion(Problem):
    """Deep matrix completion: ``ℓ = (c/2)‖Ω ⊙ (W − M*)‖_F²``.

    ``target``: ``(..., d_out, d_in)``; ``mask``: 0/1 tensor broadcastable to it. Normalisation
    ``"observed"`` (mean over ``|Ω|``, the [K] code), ``"mean"`` (over all entries, the [Y] code) or ``"sum"``.
    ``surrogate()`` is ``P_Ω(M*)/|Ω|`` (eq. 8). ``test_error`` is the mean squared residual on
    the unobserved entries, **without** a factor ½. The official codes plot other normalisations of it as their
    "recovery error": ``½·test_error`` ([K], :func:`dlnlib.metrics.half_mse_unobserved`) and ``½·Σ_{Ωᶜ}/(d_out·d_in)``
    ([Y], :func:`dlnlib.metrics.half_mse_masked`); conventions §8.
    """

    target: Tensor
    mask: Tensor
    normalisation: Normalisation = "observed"
    loss_scale: Tensor | float = field(init=False)

    def __post_init__(self):
        target = as_real_tensor("target", self.target)
        mask = as_real_tensor("mask", self.mask)
        if tuple(mask.shape[-2:]) != tuple(target.shape[-2:]):
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match target shape {tuple(target.shape)}.")
        try:
            torch.broadcast_shapes(mask.shape[:-2], target.shape[:-2])
        except RuntimeError:
            raise ValueError(f"the mask's batch shape {tuple(mask.shape[:-2])} and the target's "
                             f"{tuple(target.shape[:-2])} do not broadcast; give them the same batch.") from None
        mask = mask.to(dtype=target.dtype, device=target.device)
        if not ((mask == 0) | (mask == 1)).all():
            raise ValueError("mask must contain only 0 and 1.")
        if not torch.isfinite(target).all():
            if (~torch.isfinite(target) & (mask == 1)).any():
                raise ValueError("target has NaN or Inf at observed entries (mask = 1); NaN marks a missing entry "
                                 "only where the mask is 0.")
            target = torch.where(torch.isfinite(target), target, torch.zeros((), dtype=target.dtype))
        object.__setattr__(self, "target", target)
        n_obs = mask.sum((-2, -1))
        if (n_obs == 0).any():
            raise ValueError("the mask observes no entry (|Ω| = 0); raise the sampling probability p.")
        object.__setattr__(self, "mask", mask)
        d_out, d_in = self.target.shape[-2:]
        if self.normalisation == "observed":
            c = 1.0 / n_obs if n_obs.ndim else 1.0 / float(n_obs)
        else:
            c = _norm_const(self.normalisation, {"sum": 1.0, "mean": 1.0 / (d_out * d_in)}, "completion")
        object.__setattr__(self, "loss_scale", c)

    @property
    def shape(self):
        return tuple(self.target.shape[-2:])

    @classmethod
    def from_matrix(cls, ratings, normalisation: Normalisation = "observed") -> "Completion":
        """Completion of a matrix whose missing entries are NaN: ``Ω = {(i, j): ratings_ij is not NaN}``.

        ``ratings``: ``(..., d_out, d_in)`` tensor or array. The stored target has zeros at missing entries, so
        the recovery and test errors have no ground truth there.

        >>> P = Completion.from_matrix([[1.0, float("nan")], [float("nan"), 2.0]])
        >>> P.mask.tolist(), int(P.n_observed)
        ([[1.0, 0.0], [0.0, 1.0]], 2)
        """
        M = as_real_tensor("ratings", ratings)
        return cls(M, (~torch.isnan(M)).to(M.dtype), normalisation)

    @property
    def n_observed(self) -> Tensor:
        return self.mask.sum((-2, -1))

    def _c(self):
        c = self.loss_scale
        return c.reshape(c.shape + (1, 1)) if isinstance(c, Tensor) else c

    def loss_grad(self, W):
        R = self.mask * (W - self.target)
        c = self.loss_scale
        return 0.5 * c * R.square().sum((-2, -1)), R * self._c()

    def surrogate(self):
        return self.mask * self.target / self.n_observed.reshape(self.n_observed.shape + (1, 1))

    def test_error(self, W: Tensor) -> Tensor:
        """Mean squared residual on the unobserved entries, no factor ½: ``Σ_{(i,j)∉Ω} (W − M*)_ij² / |Ωᶜ|``.

        ``W``: ``(..., d_out, d_in)``; returns shape ``(...)``; 0 when ``Ω`` observes every entry. The official
        codes' test losses are :func:`dlnlib.metrics.half_mse_unobserved` (``½×`` this, [K]) and
        :func:`dlnlib.metrics.half_mse_masked` ([Y]).

        >>> P = Completion(torch.zeros(2, 2, dtype=torch.float64), torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
        >>> float(P.test_error(torch.ones(2, 2, dtype=torch.float64)))
        1.0
        """
        un = 1.0 - self.mask
        return (un * (W - self.target)).square().sum((-2, -1)) / un.sum((-2, -1)).clamp_min(1)


def bernoulli_mask(d_out: int, d_in: int, p: float, seed=None, *, batch=(), dtype=None, device=None) -> Tensor:
    """MCAR mask: each entry observed independently with probability ``p``. Shape ``(*batch, d_out, d_in)``."""
    dtype, device = resolve(dtype, device)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"sampling probability p must be in (0, 1], got {p}.")
    g = make_generator(seed)
    m = (torch.rand(tuple(batch) + (d_out, d_in), generator=g, dtype=torch.float64) < p).to(dtype)
    return m.to(device)


def exact_count_mask(d_out: int, d_in: int, p: float, seed=None, *, batch=(), dtype=None, device=None) -> Tensor:
    """Exactly ``floor(p·d_out·d_in)`` entries observed, uniformly without replacement (the official codes).

    The count is computed from the decimal ``p`` exactly (``p = 0.57``, ``10×10``: 57 entries).
    """
    dtype, device = resolve(dtype, device)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"sampling probability p must be in (0, 1], got {p}.")
    n = d_out * d_in
    k = math.floor(Fraction(str(float(p))) * n)  # exact: floor(0.57·100) = 57, not 56 as in float arithmetic
    if k == 0:
        raise ValueError(f"p = {p} observes no entry of a {d_out}×{d_in} matrix; raise p.")
    g = make_generator(seed)
    B = int(math.prod(batch)) if batch else 1
    scores = torch.rand(B, n, generator=g, dtype=torch.float64)
    idx = scores.argsort(dim=1)[:, :k]
    m = torch.zeros(B, n, dtype=torch.float64)
    m.scatter_(1, idx, 1.0)
    return m.reshape(tuple(batch) + (d_out, d_in)).to(dtype=dtype, device=device)


@dataclass(frozen=True, eq=False)
class Sensing(Problem):
    """Deep matrix sensing: ``ℓ = (c/2) Σ_i (⟨A_i, W⟩ − y_i)²``.

    ``A``: ``(m, d_out, d_in)`` measurement matrices (shared across the batch); ``target`` ``M*``
    ``(..., d_out, d_in)`` or ``None``; ``y`` ``(..., m)``: the measurements, ``A(M*)`` computed from the target
    when not given. Normalisation ``"sum"`` or ``"mean"`` (1/m). Build a synthetic problem with :func:`sensing`,
    one from measured data with :meth:`from_measurements`.

    Without a target (measured ``y`` only) the loss, its gradient, the surrogate and training work as with one;
    the recovery error has no ground truth, so ``target`` is ``None`` and recording ``recovery_error`` raises. A
    ``y`` given together with a target is used as measured (e.g. noisy measurements of a known ``M*``).

    >>> A = torch.eye(4, dtype=torch.float64).reshape(4, 2, 2)  # the four entries of a 2×2 matrix
    >>> P = Sensing(A, y=torch.tensor([1.0, 0.0, 0.0, 2.0], dtype=torch.float64))
    >>> P.target is None, P.shape, float(P.loss(torch.zeros(2, 2, dtype=torch.float64)))
    (True, (2, 2), 2.5)
    """

    A: Tensor
    target: Tensor | None = None
    normalisation: Normalisation = "sum"
    y: Tensor | None = None
    loss_scale: float = field(init=False)
    _A2: Tensor = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "A", as_real_tensor("A", self.A))
        if self.A.ndim != 3 or 0 in self.A.shape:
            raise ValueError(f"A must have shape (m, d_out, d_in) with m, d_out, d_in >= 1, got {tuple(self.A.shape)}.")
        if self.target is None and self.y is None:
            raise ValueError("sensing needs the measurements: give y (shape (..., m)) or a target M* to measure.")
        if self.target is not None:
            object.__setattr__(self, "target", as_real_tensor("target", self.target))
            check_finite("target", self.target)
            if self.A.dtype != self.target.dtype:
                raise TypeError(f"A is {self.A.dtype} but the target is {self.target.dtype}; use one dtype.")
            if tuple(self.A.shape[1:]) != tuple(self.target.shape[-2:]):
                raise ValueError(
                    f"A must have shape (m, d_out, d_in) = (m, {self.target.shape[-2]}, {self.target.shape[-1]}), "
                    f"got {tuple(self.A.shape)}."
                )
        m = self.A.shape[0]
        c = _norm_const(self.normalisation, {"sum": 1.0, "mean": 1.0 / m}, "sensing")
        object.__setattr__(self, "loss_scale", c)
        A2 = self.A.reshape(m, -1)
        object.__setattr__(self, "_A2", A2)
        if self.y is None:
            object.__setattr__(self, "y", self.measure(self.target))
        else:
            y = as_real_tensor("y", self.y, ndim_min=0)
            check_finite("y", y)
            if y.ndim < 1 or y.shape[-1] != m:
                raise ValueError(f"y must have shape (..., m) = (..., {m}) for A of shape {tuple(self.A.shape)}, "
                                 f"got {tuple(y.shape)}.")
            if y.dtype != self.A.dtype:
                raise TypeError(f"A is {self.A.dtype} but y is {y.dtype}; use one dtype.")
            object.__setattr__(self, "y", y.to(self.A.device))

    @classmethod
    def from_measurements(cls, A, y, normalisation: Normalisation = "sum") -> "Sensing":
        """Sensing from measured data, no ground truth: ``A (m, d_out, d_in)``, ``y (..., m)``; ``target`` is ``None``.

        >>> A = torch.eye(4, dtype=torch.float64).reshape(4, 2, 2)
        >>> Sensing.from_measurements(A, torch.ones(3, 4, dtype=torch.float64)).y.shape
        torch.Size([3, 4])
        """
        return cls(A, None, normalisation, y)

    @property
    def shape(self):
        return tuple(self.A.shape[1:])

    @property
    def m(self) -> int:
        return self.A.shape[0]

    def measure(self, W: Tensor) -> Tensor:
        """``A(W)``: ``(..., d_out, d_in) -> (..., m)``."""
        return W.flatten(-2) @ self._A2.T

    def adjoint(self, z: Tensor) -> Tensor:
        """``A†(z) = Σ_i z_i A_i``: ``(..., m) -> (..., d_out, d_in)``."""
        return (z @ self._A2).reshape(z.shape[:-1] + self.shape)

    def loss_grad(self, W):
        res = self.measure(W) - self.y
        G = self.adjoint(res)
        c = self.loss_scale
        return 0.5 * c * res.square().sum(-1), (G * c if c != 1.0 else G)

    def surrogate(self):
        return self.adjoint(self.y) / self.m


def sensing(target: Tensor, m: int, seed=None, *, scale: Literal["paper", "official"] = "paper",
            normalisation: Normalisation = "sum") -> Sensing:
    """Gaussian sensing problem with ``m`` measurements of ``target`` (``(..., d_out, d_in)``).

    ``scale="paper"``: ``A_i`` entries i.i.d. N(0, 1). ``scale="official"``: N(0, 1)/m, as in the [K] code.
    """
    if m < 1:
        raise ValueError(f"number of measurements m must be >= 1, got {m}.")
    d_out, d_in = target.shape[-2:]
    g = make_generator(seed)
    A = randn((m, d_out, d_in), g, target.dtype, target.device)
    if scale == "official":
        A = A / m
    elif scale != "paper":
        raise ValueError(f"scale must be 'paper' or 'official', got {scale!r}.")
    return Sensing(A, target, normalisation)


@dataclass(frozen=True, eq=False)
class Regression(Problem):
    """DLN regression on data: ``ℓ = (c/2)‖W X − Y‖_F²``.

    ``X``: ``(d_x, N)``; ``Y``: ``(..., d_y, N)``. ``"mean"`` normalisation divides by ``d_y·N``.
    With whitened ``X`` (``XXᵀ = I``) this equals factorisation of ``Φ = YXᵀ`` up to a constant
    (conventions §1.1); ``surrogate()`` returns ``Φ``. ``target`` is ``None`` (no ground-truth matrix)
    unless given.
    """

    X: Tensor
    Y: Tensor
    normalisation: Normalisation = "sum"
    target: Tensor | None = None
    loss_scale: float = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "X", as_real_tensor("X", self.X))
        object.__setattr__(self, "Y", as_real_tensor("Y", self.Y))
        check_finite("X", self.X)
        check_finite("Y", self.Y)
        if self.X.shape[-1] != self.Y.shape[-1]:
            raise ValueError(f"X has {self.X.shape[-1]} samples (columns) but Y has {self.Y.shape[-1]}.")
        c = _norm_const(self.normalisation, {"sum": 1.0, "mean": 1.0 / (self.Y.shape[-2] * self.Y.shape[-1])}, "regression")
        object.__setattr__(self, "loss_scale", c)

    @property
    def shape(self):
        return (self.Y.shape[-2], self.X.shape[-2])

    def loss_grad(self, W):
        R = W @ self.X - self.Y
        G = R @ self.X.transpose(-1, -2)
        c = self.loss_scale
        return 0.5 * c * R.square().sum((-2, -1)), (G * c if c != 1.0 else G)

    def surrogate(self):
        return self.Y @ self.X.transpose(-1, -2)


def whiten(X: Tensor, eps: float = 0.0) -> tuple[Tensor, Tensor]:
    """Whitening of data ``X (d_x, N)``, ``N >= d_x``: returns ``(X_w, P)`` with ``X_w = P X`` and ``X_w X_wᵀ = I``.

    ``P = (XXᵀ + eps·I)^{-1/2}``. Raises if ``XXᵀ`` is singular (rank-deficient data).

    >>> X = torch.randn(3, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> Xw, P = whiten(X)
    >>> bool(torch.allclose(Xw @ Xw.T, torch.eye(3, dtype=torch.float64)))
    True
    """
    check_matrix("X", X)
    d, N = X.shape[-2:]
    if N < d:
        raise ValueError(f"whitening needs at least as many samples as features: X is {d}×{N}.")
    C = X @ X.transpose(-1, -2) + eps * torch.eye(d, dtype=X.dtype, device=X.device)
    evals, evecs = torch.linalg.eigh(C)
    if (evals <= 1e-12 * evals.max()).any():
        raise ValueError("X Xᵀ is singular: the data do not span all feature directions; pass eps > 0.")
    P = (evecs * evals.rsqrt().unsqueeze(-2)) @ evecs.transpose(-1, -2)
    return P @ X, P


# ----------------------------------------------------------------------------------------------
# The one step-size convention
# ----------------------------------------------------------------------------------------------


def rescale_step(eta, problem: Problem, normalisation: Normalisation):
    """The step that makes GD on ``problem`` under another ``normalisation`` take the same update: ``η·c/c'``.

    A step is always given on the problem's declared loss ``(c/2)‖residual‖²`` (conventions §1.4): GD moves by
    ``η·c·∂(½‖residual‖²)``, so the same update under normalisation constant ``c'`` needs ``η' = η·c/c'``. E.g. the
    talk's steps on the mean factorisation loss, ``η_mean``, are ``η_mean/d²`` on the sum loss. Returns a float,
    or a tensor with the problem's batch shape when ``c`` is per run (completion's ``"observed"``).

    >>> P = Factorisation(torch.eye(10, dtype=torch.float64), "mean")
    >>> rescale_step(100.0, P, "sum")
    1.0
    """
    import dataclasses

    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a dlnlib Problem, got {type(problem).__name__}.")
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not (0 < eta < math.inf):
        raise ValueError(f"eta must be a finite number > 0, got {eta!r}.")
    other = dataclasses.replace(problem, normalisation=normalisation)
    return eta * problem.loss_scale / other.loss_scale


# ----------------------------------------------------------------------------------------------
# [K]'s synthetic problems with the official code's normalisations; sensing read in blocks
# ----------------------------------------------------------------------------------------------


def make_problem(kind: str, d: int, r: int, *, p: float | None = None, m: int | None = None, mask: str = "bernoulli",
                 seed: int = 0, dtype=None, device=None) -> Problem:
    """The [K] synthetic problems with the official code's normalisations (conventions §1.4), from a preset.

    ``kind``: ``"mf"`` (``Factorisation(M*, "mean")``, ``c = 1/d²``), ``"mc"`` (``Completion`` with the loss
    averaged over the observed entries, ``c = 1/|Ω|``; ``mask`` ``"bernoulli"`` (MCAR, the paper) or ``"exact"``
    (``⌊p d²⌋`` entries, the code)), ``"ms"`` (Gaussian sensing with ``A_i ~ N(0,1)/m`` and the summed loss,
    ``c = 1``: a step ≈ η/m on ``½‖W − M*‖²``). The target ``M* (d, d)`` of rank ``r`` is :func:`kwon_target`
    (seed ``seed``); the mask / operator use ``seed + 1``.

    >>> P = make_problem("mc", 10, 2, p=0.5, mask="exact"); int(P.n_observed), P.shape
    (50, (10, 10))
    """
    M = kwon_target(d, r, seed=seed, dtype=dtype, device=device)
    if kind == "mf":
        return Factorisation(M, "mean")
    if kind == "mc":
        if p is None:
            raise ValueError("completion needs a sampling probability p.")
        make = {"bernoulli": bernoulli_mask, "exact": exact_count_mask}[mask]
        return Completion(M, make(d, d, p, seed + 1, dtype=M.dtype, device=M.device), "observed")
    if kind == "ms":
        if m is None:
            raise ValueError("sensing needs a number of measurements m.")
        return sensing(M, m, seed + 1, scale="official", normalisation="sum")
    raise ValueError(f"kind must be 'mf', 'mc' or 'ms', got {kind!r}.")


def problem_kind(problem: Problem) -> str:
    """The ``kind`` of :func:`make_problem` that ``problem`` is: ``"mf"`` (factorisation), ``"mc"`` (completion) or
    ``"ms"`` (sensing, blocked sensing included), whatever its normalisation.

    >>> problem_kind(make_problem("mc", 4, 1, p=0.5)), problem_kind(make_problem("ms", 4, 1, m=8))
    ('mc', 'ms')
    """
    for cls, kind in ((Factorisation, "mf"), (Completion, "mc"), (Sensing, "ms")):
        if isinstance(problem, cls):
            return kind
    raise TypeError(f"problem must be a Factorisation, Completion or Sensing, got {type(problem).__name__}.")


@dataclass(frozen=True, eq=False)
class BlockedSensing(Sensing):
    """:class:`Sensing` whose loss and gradient read the measurement operator once per evaluation.

    ``A(W) − y (..., m)`` and ``A†(A(W) − y) (..., d_out, d_in)`` are formed block by block over ``rows``
    measurements, so each block of the ``m × d_out·d_in`` operator is used twice while it is in cache (the plain
    version streams the whole operator from memory twice). Same loss and gradient up to rounding; worth it when
    the operator is larger than the cache.

    >>> M = torch.eye(3, dtype=torch.float64)
    >>> plain = Sensing(torch.randn(10, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)), M)
    >>> fast = BlockedSensing(plain.A, M, rows=3)
    >>> W = torch.zeros(2, 3, 3, dtype=torch.float64)
    >>> all(torch.allclose(a, b) for a, b in zip(plain.loss_grad(W), fast.loss_grad(W)))
    True
    """

    rows: int = 8

    def loss_grad(self, W):
        n, m = self._A2.shape[1], self._A2.shape[0]
        batch = torch.broadcast_shapes(W.shape[:-2], self.y.shape[:-1])
        Wf = W.flatten(-2).expand(batch + (n,)).reshape(-1, n)
        y = self.y.expand(batch + (m,)).reshape(-1, m)
        G = torch.zeros_like(Wf)
        sq = torch.zeros(Wf.shape[0], dtype=W.dtype, device=W.device)
        for Ab, yb in zip(self._A2.split(self.rows), y.split(self.rows, dim=1)):
            res = Wf @ Ab.T - yb
            sq += res.square().sum(-1)
            G.addmm_(res, Ab)
        c = self.loss_scale
        return (0.5 * c * sq).reshape(batch), (G * c if c != 1.0 else G).reshape(batch + self.shape)
