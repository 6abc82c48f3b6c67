"""Metrics: recovery errors, principal angles, subspace distance, feature compression and separation.

Matrices are ``(..., m, n)`` tensors; results have the batch shape. Inputs are checked by name (shapes that do not
match, empty inputs, NaN where it has no meaning, counts and flags of the wrong type) before any arithmetic; the
checks read shapes only, except where noted, so a recorder that calls a metric every step pays nothing for them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ._util import Tensor, as_real_array, as_real_tensor, check_integer, check_scalar


# ----------------------------------------------------------------------------------------------
# Argument checks (no arithmetic)
# ----------------------------------------------------------------------------------------------


def _matrix(name: str, x) -> Tensor:
    """``x`` as a real ``(..., m, n)`` tensor with ``m, n ≥ 1`` (float tensors pass unchanged: same object)."""
    x = as_real_tensor(name, x)
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}); pass a matrix with at least one row and column.")
    return x


def _same_shape(na: str, A: Tensor, nb: str, B: Tensor, dims: int = 2) -> None:
    """The trailing ``dims`` dimensions agree and the leading (batch) ones broadcast."""
    if tuple(A.shape[-dims:]) != tuple(B.shape[-dims:]):
        raise ValueError(f"{na} has shape {tuple(A.shape)} but {nb} has {tuple(B.shape)}; their trailing "
                         f"{'(rows, cols)' if dims == 2 else 'dimension'} must match.")
    try:
        torch.broadcast_shapes(A.shape[:-dims], B.shape[:-dims])
    except RuntimeError:
        raise ValueError(f"the batch shapes of {na} {tuple(A.shape[:-dims])} and {nb} {tuple(B.shape[:-dims])} do "
                         "not broadcast.") from None


def _flag(name: str, x) -> None:
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(x).__name__} {x!r}.")


def _features(Z, labels, K) -> tuple[Tensor, Tensor, int]:
    """``Z (d, N)``, integer ``labels (N,)`` in ``[0, K)``, every class present (reads the labels: one sync)."""
    Z = as_real_tensor("Z (features)", Z)
    if Z.ndim != 2 or Z.shape[0] == 0 or Z.shape[1] == 0:
        raise ValueError(f"Z (features) must be a non-empty (d, N) matrix, got shape {tuple(Z.shape)}.")
    if not isinstance(labels, Tensor):
        labels = torch.as_tensor(np.asarray(labels))
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}.")
    if labels.ndim != 1 or labels.shape[0] != Z.shape[1]:
        raise ValueError(f"labels must have shape (N,) = ({Z.shape[1]},) for Z of shape {tuple(Z.shape)}, got "
                         f"{tuple(labels.shape)}.")
    lo, hi = int(labels.min()), int(labels.max())
    K = hi + 1 if K is None else check_integer("K (the number of classes)", K, 2)
    if lo < 0 or hi >= K:
        raise ValueError(f"labels must lie in [0, K) = [0, {K}), got values from {lo} to {hi}.")
    if K < 2:
        raise ValueError(f"labels name only K = {K} class; D and S compare classes and need K >= 2.")
    counts = torch.bincount(labels.long().cpu(), minlength=K)
    if (counts == 0).any():
        empty = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"every class needs at least one sample; classes {empty[:8]} of K = {K} have none: class "
                         "means, and so D and S, would be NaN.")
    return Z, labels, K


def relative_error(W: Tensor, M: Tensor) -> Tensor:
    """``‖W − M‖_F / ‖M‖_F`` ([K] §4.1 recovery error).

    >>> float(relative_error(torch.ones(2, 2), 2 * torch.ones(2, 2)))
    0.5

    ``W`` and ``M`` have the same ``(m, n)`` and broadcasting batch shapes (checked); NaN in ``W`` (a diverged run)
    gives NaN, ``M = 0`` gives inf/NaN (not checked: that would read the data on every call).
    """
    W, M = _matrix("W", W), _matrix("M", M)
    _same_shape("W", W, "M", M)
    return torch.linalg.matrix_norm(W - M) / torch.linalg.matrix_norm(M)


def nmse(W: Tensor, M: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean squared error over all entries, or over the entries where ``mask`` is 1 (the official figures' "recovery error").

    Shapes are checked by name; a mask that selects no entry of some batch member is an error (this reads the mask's
    count, one sync).

    >>> float(nmse(torch.zeros(2, 2), torch.ones(2, 2), torch.tensor([[1.0, 0.0], [0.0, 0.0]])))
    1.0
    """
    W, M = _matrix("W", W), _matrix("M", M)
    _same_shape("W", W, "M", M)
    R = (W - M).square()
    if mask is None:
        return R.mean((-2, -1))
    m = _matrix("mask", mask)
    _same_shape("mask", m, "W", W)
    mask = mask if isinstance(mask, Tensor) else m  # a bool/int tensor mask keeps its dtype (as before)
    n = mask.sum((-2, -1))
    if (n == 0).any():
        raise ValueError("mask selects no entry (all zeros) for some batch member: the mean over it is undefined.")
    return (R * mask).sum((-2, -1)) / n


def _completion(problem):
    """``problem`` must be a :class:`dlnlib.problems.Completion` (checked by type, no arithmetic)."""
    from .problems import Completion  # the engine's metrics read problems; problems never import metrics

    if not isinstance(problem, Completion):
        raise TypeError(f"problem must be a dlnlib Completion (the test error lives on the unobserved entries), got "
                        f"{type(problem).__name__}.")
    return problem


def _unobserved_sse(W, problem) -> tuple[Tensor, Tensor]:
    """``(Σ_{(i,j)∉Ω} (W − M*)_ij², 1 − mask)``, batch shape; shapes checked (for :func:`half_mse_masked`)."""
    P = _completion(problem)
    W = _matrix("W", W)
    _same_shape("W", W, "problem.target", P.target)
    un = 1.0 - P.mask
    return (un * (W - P.target)).square().sum((-2, -1)), un


def half_mse_unobserved(W: Tensor, problem) -> Tensor:
    """Completion test loss of the official [K] code: ``½ Σ_{(i,j)∉Ω} (W − M*)_ij² / |Ωᶜ|``, half the mean squared
    residual over the unobserved entries (``create_loss(target, mask=1−mask)``, which divides by the mask's count).

    ``W``: ``(..., d_out, d_in)`` end-to-end matrices; ``problem``: a :class:`~dlnlib.problems.Completion`
    (target and mask ``(..., d_out, d_in)``). Returns the batch shape. Equals ``½ · problem.test_error(W)``; a
    mask that observes every entry (``|Ωᶜ| = 0``) gives 0, as :meth:`~dlnlib.problems.Completion.test_error` does.
    Record it with ``train(..., record=("half_mse_unobserved",))``. Conventions §8.

    >>> from dlnlib.problems import Completion
    >>> P = Completion(torch.zeros(2, 2, dtype=torch.float64), torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    >>> float(half_mse_unobserved(torch.ones(2, 2, dtype=torch.float64), P))  # ½·(1+1+1)/3
    0.5
    """
    P, W = _completion(problem), _matrix("W", W)
    _same_shape("W", W, "problem.target", P.target)
    return 0.5 * P.test_error(W)  # ×½ is exact: the same bits as ½·Σ/|Ωᶜ|


def half_mse_masked(W: Tensor, problem) -> Tensor:
    """Completion test loss of the official [Y] code: ``½ Σ_{(i,j)∉Ω} (W − M*)_ij² / (d_out·d_in)``, half the mean
    over **all** ``d_out·d_in`` entries of the residual masked to the unobserved ones (``create_loss(target,
    mask=1−mask)`` with ``jnp.mean``: the masked loss divided by ``d²``).

    ``W``: ``(..., d_out, d_in)``; ``problem``: a :class:`~dlnlib.problems.Completion`. Returns the batch shape.
    With ``|Ωᶜ|`` unobserved entries it is ``(|Ωᶜ|/(d_out·d_in)) ×`` :func:`half_mse_unobserved` (≈ ``1 − p`` times
    it for a mask that observes a fraction ``p``). Record it with ``train(..., record=("half_mse_masked",))``.
    Conventions §8.

    >>> from dlnlib.problems import Completion
    >>> P = Completion(torch.zeros(2, 2, dtype=torch.float64), torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    >>> float(half_mse_masked(torch.ones(2, 2, dtype=torch.float64), P))  # ½·(1+1+1)/4
    0.375
    """
    sse, _ = _unobserved_sse(W, problem)
    return 0.5 * sse / (W.shape[-2] * W.shape[-1])


def principal_angles(A: Tensor, B: Tensor) -> Tensor:
    """Principal angles (radians, ascending) between the column spans of orthonormal ``A (..., n, k)`` and ``B (..., n, k')``.

    >>> I = torch.eye(3, dtype=torch.float64)
    >>> principal_angles(I[:, :1], I[:, 1:2]).tolist()
    [1.5707963267948966]
    """
    A, B = _matrix("A", A), _matrix("B", B)
    if A.shape[-2] != B.shape[-2]:
        raise ValueError(f"A has {A.shape[-2]} rows but B has {B.shape[-2]}: their columns must live in one space.")
    _same_shape("A", A[..., :1], "B", B[..., :1])
    s = torch.linalg.svdvals(A.transpose(-1, -2) @ B).clamp(-1.0, 1.0)
    return torch.arccos(s)


def subspace_distance(U_t: Tensor, U_next: Tensor) -> Tensor:
    """Eq. (20) of [K]: ``r − ‖U_tᵀ U_{t+1}‖_F²`` for orthonormal ``(..., n, r)``; equals ``Σ sin²θ_i ∈ [0, r]``.

    >>> I = torch.eye(3, dtype=torch.float64)
    >>> float(subspace_distance(I[:, :2], I[:, 1:]))
    1.0
    """
    U_t, U_next = _matrix("U_t", U_t), _matrix("U_next", U_next)
    _same_shape("U_t", U_t, "U_next", U_next)
    r = U_t.shape[-1]
    return r - (U_t.transpose(-1, -2) @ U_next).square().sum((-2, -1))


def top_singular_subspace(W: Tensor, r: int, side: str = "left") -> Tensor:
    """Top-``r`` left (``(..., m, r)``) or right (``(..., n, r)``) singular vectors of ``W``; ``1 ≤ r ≤ min(m, n)``."""
    W = _matrix("W", W)
    check_integer("r", r, 1, min(W.shape[-2:]))
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}.")
    U, _, Vh = torch.linalg.svd(W, full_matrices=False)
    return U[..., :r] if side == "left" else Vh[..., :r, :].transpose(-1, -2)


def alignment(W: Tensor, M: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """``|⟨u_i(W), u_i(M)⟩|`` and ``|⟨v_i(W), v_i(M)⟩|`` for ``i < k``: two ``(..., k)`` tensors (``1 ≤ k ≤ min(m, n)``)."""
    W, M = _matrix("W", W), _matrix("M", M)
    _same_shape("W", W, "M", M)
    check_integer("k", k, 1, min(W.shape[-2:]))
    U, _, Vh = torch.linalg.svd(W, full_matrices=False)
    Us, _, Vhs = torch.linalg.svd(M, full_matrices=False)
    cu = (U[..., :k] * Us[..., :k]).sum(-2).abs()
    cv = (Vh[..., :k, :] * Vhs[..., :k, :]).sum(-1).abs()
    return cu, cv


def _class_means(Z: Tensor, labels: Tensor, K: int) -> Tensor:
    onehot = torch.nn.functional.one_hot(labels.long(), K).to(Z.dtype)  # (N, K)
    counts = onehot.sum(0)
    return (Z @ onehot) / counts  # (d, K)


CENTRES = ("class_means", "sample")
"""The two centres of the between-class covariance in :func:`compression`."""


def compression(Z: Tensor, labels: Tensor, K: int | None = None, *, centre: str = "class_means") -> Tensor:
    """Feature compression ``D = tr Σ_W / tr Σ_B`` of features ``Z (d, N)`` with integer ``labels (N,)`` (conventions §7).

    ``Σ_W = (1/N) Σ_i (z_i − z̄_{k(i)})(z_i − z̄_{k(i)})ᵀ`` over all ``N`` samples; ``Σ_B = (1/K) Σ_k (z̄_k − c)(z̄_k − c)ᵀ``
    over the ``K`` classes, centred at ``c``:

    - ``centre="class_means"`` (default): ``c = (1/K) Σ_k z̄_k``, the mean of the class means ([T]'s formula);
    - ``centre="sample"``: ``c = (1/N) Σ_i z_i = Σ_k (n_k/N) z̄_k``, the sample (global) mean, as the [W] code
      (``compute_Sigma_B`` with ``mu_G`` summed over the data) and the [Y] code do.

    The two agree on balanced classes (``n_k = N/K``). Otherwise the sample mean leans towards the large classes;
    the mean of class means minimises ``Σ_k ‖z̄_k − c‖²``, so ``tr Σ_B`` is larger and ``D`` smaller with
    ``centre="sample"``.

    >>> Z = torch.tensor([[1.0, 1.2, -1.0, -1.2]], dtype=torch.float64)
    >>> round(float(compression(Z, torch.tensor([0, 0, 1, 1]))), 6)
    0.008264
    >>> Z = torch.tensor([[1.0, 1.2, 1.1, -1.0]], dtype=torch.float64)  # 3 samples of class 0, 1 of class 1
    >>> [round(float(compression(Z, torch.tensor([0, 0, 0, 1]), centre=c)), 6) for c in CENTRES]
    [0.004535, 0.003628]

    Checked: ``Z`` a non-empty ``(d, N)`` matrix, ``labels`` ``N`` integers in ``[0, K)``, ``K ≥ 2`` with every class
    present (an empty class has no mean), ``centre`` one of :data:`CENTRES`.
    """
    if centre not in CENTRES:
        raise ValueError(f"centre must be one of {CENTRES} (the mean of the class means, or the sample mean), got "
                         f"{centre!r}.")
    Z, labels, K = _features(Z, labels, K)
    means = _class_means(Z, labels, K)
    within = (Z - means[:, labels.long()]).square().sum() / Z.shape[1]
    c = means.mean(1, keepdim=True) if centre == "class_means" else Z.mean(1, keepdim=True)
    centred = means - c
    between = centred.square().sum() / K
    return within / between


def separation(Z: Tensor, labels: Tensor, K: int | None = None, centred: bool = False) -> Tensor:
    """Feature separation ``S = 1 − max_{k≠k'} cos(μ_k, μ_k')`` (conventions §7).

    ``centred=False`` (default, the [W] code): un-centred class means, no absolute value.
    ``centred=True`` (the talk's formula): globally centred means and ``|cos|``. Checked as :func:`compression`.

    >>> round(float(separation(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1]))), 6)
    1.0
    """
    Z, labels, K = _features(Z, labels, K)
    _flag("centred", centred)
    mu = _class_means(Z, labels, K)
    if centred:
        mu = mu - mu.mean(1, keepdim=True)
    mu = mu / torch.linalg.vector_norm(mu, dim=0, keepdim=True)
    C = mu.T @ mu
    if centred:
        C = C.abs()
    C = C - 2 * torch.eye(K, dtype=C.dtype, device=C.device)  # exclude the diagonal
    return 1 - C.max()


def layer_features(weights: Sequence[Tensor], X: Tensor, activation=None) -> list[Tensor]:
    """Features ``[X, f_1(X), …, f_L(X)]`` with ``f_l = σ(W_l f_{l−1})``; ``activation`` (e.g. ``torch.relu``)
    is applied after every layer except the last. ``X``: ``(d_0, N)``."""
    if not isinstance(weights, (list, tuple)) or not weights:
        raise ValueError("weights must be a non-empty list of factors W_1, …, W_L.")
    X = _matrix("X", X)
    for i, W in enumerate(weights):
        cols = _matrix(f"weights[{i}]", W).shape[-1]
        rows = X.shape[-2] if i == 0 else weights[i - 1].shape[-2]
        if cols != rows:
            raise ValueError(f"weights[{i}] has {cols} columns but its input has {rows} rows "
                             f"({'X' if i == 0 else f'weights[{i - 1}]'}): the factors must chain.")
    if activation is not None and not callable(activation):
        raise TypeError(f"activation must be a function (e.g. torch.relu) or None, got {type(activation).__name__}.")
    Z = [X]
    for i, W in enumerate(weights):
        z = W @ Z[-1]
        if activation is not None and i < len(weights) - 1:
            z = activation(z)
        Z.append(z)
    return Z


def fit_log_linear(values: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares fit ``log D_l ≈ a + b·l``: returns ``(b, a, R²)``; ``exp(b)`` is the per-layer ratio.

    ``values``: at least two finite values ``> 0`` (a logarithm is taken).

    >>> [round(v, 6) for v in fit_log_linear([4.0, 2.0, 1.0])]
    [-0.693147, 1.386294, 1.0]
    """
    import numpy as np

    v = as_real_array("values", values, min_size=2)
    if (v <= 0).any():
        raise ValueError(f"values must be > 0 (their logarithm is fitted), got {v[v <= 0][:4].tolist()} among them.")

    y = np.log(np.asarray(values, dtype=np.float64))
    x = np.arange(y.size, dtype=np.float64)
    b, a = np.polyfit(x, y, 1)
    resid = y - (a + b * x)
    ss = ((y - y.mean()) ** 2).sum()
    return float(b), float(a), float(1 - (resid**2).sum() / ss) if ss > 0 else 1.0


def first_crossing(values, x, level, *, below: bool = False, interpolate: bool = False):
    """The first ``x`` at which ``values`` reaches ``level``: ``values ≥ level`` (or ``≤ level`` with ``below``).

    ``values`` is ``(K,)`` or ``(K, n)`` (one column per curve), ``x`` the ``(K,)`` axis (iterations or seconds),
    ``level`` a scalar or an ``(n,)`` array (one level per column). Returns a float, or an ``(n,)`` array for 2-D
    ``values``; ``inf`` where the level is never reached (NaN never counts). With ``interpolate`` the crossing
    between two records ``k−1, k`` is placed by linear interpolation in ``values``:
    ``x_{k−1} + (level − v_{k−1})/(v_k − v_{k−1})·(x_k − x_{k−1})`` (at ``x_k`` when ``v_k = v_{k−1}``); a crossing
    at the first record is ``x_0``. This is the one threshold helper of the workbook: learning times
    (``σ_i ≥ σ_i*/2``), times to a tolerance, first iteration below a level.

    >>> first_crossing(np.array([3.0, 2.0, 1.0]), np.array([0.0, 1.0, 2.0]), 1.5, below=True, interpolate=True)
    1.5
    >>> first_crossing(np.array([[0, 0], [2, 0], [3, 1]]), np.array([0, 10, 20]), np.array([1.5, 1.0])).tolist()
    [10.0, 20.0]
    >>> first_crossing(np.array([3.0, np.nan, 0.5]), np.arange(3), 1.0, below=True)
    2.0
    """
    as_real_array("values", values, ndim=(1, 2), min_size=0, finite=False)
    as_real_array("x", x, ndim=(1,), min_size=0)
    if np.isnan(as_real_array("level", level, ndim=(0, 1), min_size=0, finite=False)).any():
        raise ValueError("level must not be NaN.")
    _flag("below", below)
    _flag("interpolate", interpolate)
    v = np.asarray(values, dtype=float)
    t = np.asarray(x, dtype=float)
    if v.ndim not in (1, 2):
        raise ValueError(f"values must be (K,) or (K, n), got shape {v.shape}.")
    if v.shape[0] == 0:
        raise ValueError("values has no records (shape (0, ...)); there is nothing to cross.")
    if t.shape != v.shape[:1]:
        raise ValueError(f"x has shape {t.shape} but values have {v.shape[0]} records.")
    n_cols = v.shape[1] if v.ndim == 2 else 1
    if np.ndim(level) == 1 and np.shape(level)[0] not in (1, n_cols):
        raise ValueError(f"level has {np.shape(level)[0]} entries but values have {n_cols} column(s); give one level "
                         "or one per column.")
    cols = v.reshape(v.shape[0], -1)
    lev = np.broadcast_to(np.asarray(level, dtype=float), cols.shape[1:])
    out = np.full(cols.shape[1], np.inf)
    for j in range(cols.shape[1]):
        c, L = cols[:, j], lev[j]
        hit = np.nonzero(c <= L if below else c >= L)[0]
        if hit.size == 0:
            continue
        k = int(hit[0])
        if not interpolate or k == 0:
            out[j] = t[k]
            continue
        v0, v1 = c[k - 1], c[k]
        w = (L - v0) / (v1 - v0) if v1 != v0 else 1.0
        out[j] = t[k - 1] + w * (t[k] - t[k - 1])
    return float(out[0]) if v.ndim == 1 else out


# ----------------------------------------------------------------------------------------------
# Angles of vectors and subspaces, rank correlation, distance to a path (NumPy)
# ----------------------------------------------------------------------------------------------


def vector_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles ``(k,)`` in radians between the unit columns of ``a, b (n, k)``, sign-invariant and accurate near 0:
    ``atan2(‖a − (a·b)b‖, |a·b|)``.

    >>> vector_angles(np.eye(2), -np.eye(2)).tolist()
    [0.0, 0.0]
    """
    A = as_real_array("a", a, ndim=(1, 2))
    if A.shape != as_real_array("b", b, ndim=(1, 2)).shape:
        raise ValueError(f"a has shape {np.shape(a)} but b has {np.shape(b)}; they must match.")
    a, b = np.asarray(a), np.asarray(b)  # lists too; arrays keep their dtype
    c = (a * b).sum(0)
    s = np.linalg.norm(a - b * c, axis=0)
    return np.arctan2(s, np.abs(c))


def max_principal_angle(A: np.ndarray, B: np.ndarray) -> float:
    """Largest principal angle (radians) between the spans of orthonormal ``A, B (n, k)``:
    ``atan2(‖(I − AAᵀ)B‖₂, σ_min(AᵀB))``, accurate near 0 (``0`` for ``k = 0``).

    >>> round(max_principal_angle(np.eye(3)[:, :1], np.array([[1.0], [1.0], [0.0]]) / np.sqrt(2)), 6)
    0.785398
    """
    a_, b_ = as_real_array("A", A, ndim=(2,), min_size=0), as_real_array("B", B, ndim=(2,), min_size=0)
    if a_.shape[0] != b_.shape[0] or a_.shape[0] == 0:
        raise ValueError(f"A has shape {a_.shape} and B {b_.shape}: they need the same number n >= 1 of rows.")
    A, B = np.asarray(A), np.asarray(B)  # lists too; arrays keep their dtype
    if A.shape[1] == 0:
        return 0.0
    R = B - A @ (A.T @ B)
    s = np.linalg.norm(R, 2)
    c = np.linalg.svd(A.T @ B, compute_uv=False).min()
    return float(np.arctan2(s, c))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation of ``x, y (n,)`` (ties get average ranks; NaN when either is constant).

    >>> spearman([1, 2, 3], [30, 20, 10])
    -1.0

    ``x``, ``y``: the same number ``n ≥ 2`` of finite values (NaN has no rank).
    """
    import math

    if as_real_array("x", x, min_size=2).shape != as_real_array("y", y, min_size=2).shape:
        raise ValueError(f"x has {len(x)} values but y has {len(y)}; they must pair up.")

    def rank(a):
        a = np.asarray(a, dtype=np.float64)
        order = a.argsort(kind="stable")
        r = np.empty_like(a)
        r[order] = np.arange(len(a), dtype=np.float64)
        for v in np.unique(a):  # average ranks of ties
            r[a == v] = r[a == v].mean()
        return r
    rx, ry = rank(x), rank(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float((rx**2).sum() * (ry**2).sum()))
    return float((rx * ry).sum() / den) if den > 0 else float("nan")


def polyline_distance(points: np.ndarray, path: np.ndarray) -> float:
    """``max_i min_{x ∈ path} ‖points_i − x‖``: how far the trajectory ``points (K, …)`` strays from the
    piecewise-linear curve through ``path (K', …)`` (a directed Hausdorff distance; it ignores timing).

    >>> polyline_distance(np.array([[0.5, 1.0]]), np.array([[0.0, 0.0], [1.0, 0.0]]))
    1.0
    """
    pa = as_real_array("points", points, ndim=(1, 2, 3, 4))
    pb = as_real_array("path", path, ndim=(1, 2, 3, 4))
    if pa.shape[1:] != pb.shape[1:]:
        raise ValueError(f"points have shape {pa.shape} and path {pb.shape}: each point must have the path's shape "
                         f"{pb.shape[1:]}.")
    A = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    B = np.asarray(path, dtype=np.float64).reshape(len(path), -1)
    if len(B) == 1:
        return float(np.linalg.norm(A - B[0], axis=1).max())
    S, E = B[:-1], B[1:]
    D = E - S
    dd = (D * D).sum(1)
    AS = A @ S.T  # (K, K'-1)
    AD = A @ D.T
    SD = (S * D).sum(1)
    SS = (S * S).sum(1)
    AA = (A * A).sum(1)
    tpar = np.where(dd > 0, (AD - SD[None]) / np.where(dd > 0, dd, 1.0)[None], 0.0).clip(0.0, 1.0)
    # ‖a − s − t·D‖² = ‖a‖² + ‖s‖² + t²‖D‖² − 2⟨a,s⟩ − 2t⟨a,D⟩ + 2t⟨s,D⟩
    sq = AA[:, None] + SS[None] + tpar**2 * dd[None] - 2 * AS - 2 * tpar * AD + 2 * tpar * SD[None]
    return float(np.sqrt(np.clip(sq.min(1), 0.0, None)).max())


def count_above(values, threshold: float) -> int:
    """Number of entries of ``values`` (any shape) above ``threshold`` ([K] Fig. 1's "how many singular values of
    ``W(T) − W(0)`` moved": ``values`` the singular values, ``threshold`` a fraction of the largest).

    >>> count_above(np.array([3.0, 1.0, 0.1]), 0.5)
    2
    """
    as_real_array("values", values, ndim=(0, 1, 2, 3), min_size=0)
    check_scalar("threshold", threshold)
    return int((np.asarray(values) > threshold).sum())
