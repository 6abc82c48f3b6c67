"""Theory checks for [K] beyond Theorem 1 at α = 1: the α grid, Corollary 1 / Lemma 1, Assumption 1,
Proposition 1, Theorem 2, and sympy derivations of the recursions (THEORY §4–§6).

Every check is a pure function that returns numbers; the notebooks assert on them with ``figures.check``.
Each comparison takes the closed form it compares against as an argument (``recursion=``, ``flow=``, ``rhs=``,
``svals=``/``pair=``), so a test can feed a perturbed recursion and show the check fails
(``tests/test_checks_fail.py``). :func:`perturbed_recursion` and :func:`perturbed_rho` build such variants; the
symbolic derivations (``sym_*``, sympy) are compared with ``theory.lop_rho`` etc. the same way.

Conventions: float64; step sizes ``eta`` are on the problem's loss normalisation, and the recursions get the
problem's ``loss_scale`` ``c`` (THEORY §1.4). Batched runs carry one leading batch dimension ``B``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ._util import Tensor
from .networks import DLN, cdln, wide_dln
from .problems import Completion, Factorisation, Problem, Sensing, random_orthonormal, spectral_factors
from .theory import kwon_alpha, sv_flow_rhs, sv_gradient_flow
from .train import GD, train
from .verify import spectral_diagonal

Recursion = Callable[..., np.ndarray]
"""``recursion(sigma_star, r_hat, depth, eps, eta, alpha, T, loss_scale) -> (T+1, r̂)``, like :func:`theory.kwon_alpha`."""


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------


def _vec(x, B: int | None = None) -> np.ndarray:
    """A scalar or sequence as a float64 ``(B,)`` array (broadcast when ``B`` is given)."""
    a = np.atleast_1d(np.asarray(x, dtype=np.float64))
    return a if B is None else np.broadcast_to(a, (B,)).copy()


def grid(**axes: Sequence[float]) -> dict[str, np.ndarray]:
    """Cartesian product of named axes as flat ``(B,)`` arrays (first axis slowest).

    >>> g = grid(eps=[0.1, 0.2], alpha=[1, 2, 3])
    >>> g["eps"].tolist(), g["alpha"].tolist()
    ([0.1, 0.1, 0.1, 0.2, 0.2, 0.2], [1.0, 2.0, 3.0, 1.0, 2.0, 3.0])
    """
    mesh = np.meshgrid(*[np.asarray(v, dtype=np.float64) for v in axes.values()], indexing="ij")
    return {k: m.ravel() for k, m in zip(axes, mesh)}


def stability_bound_alpha(sigma_max: float, depth: int, alpha: float = 1.0, loss_scale: float = 1.0) -> float:
    """Largest stable GD step at the C-DLN fixed point ``p = σ_max`` for outer step ``αη``.

    Linearising the diagonal dynamics (outer ``a``, middle ``b``, ``p = a²b^{L−2}``, balanced as
    ``a² ≈ αb²`` for small ε) gives the curvature ``η c L α^{2/L} σ^{2−2/L}``, so GD is stable iff
    ``η < 2/(c L α^{2/L} σ_max^{2−2/L})``. At ``α = 1`` this is :func:`theory.stability_bound`.

    >>> round(stability_bound_alpha(1.0, 2, 1.0), 12), round(stability_bound_alpha(1.0, 2, 4.0), 12)
    (1.0, 0.25)
    """
    return 2.0 / (loss_scale * depth * alpha ** (2.0 / depth) * sigma_max ** (2.0 - 2.0 / depth))


def mf_equivalent_scale(problem: Problem) -> float:
    """The factorisation loss scale ``c_eff`` with ``E[∇ℓ(W)] ≈ c_eff (W − M*)`` for this problem.

    Factorisation: ``c``. Sensing: ``c·‖A‖_F²/(d_out d_in)`` (``E[A†A] = mean(A_ij²)·m·I``). Completion:
    ``c·|Ω|/(d_out d_in)`` (averaged over the batch). Used to compare MS/MC runs with the MF recursion.
    """
    d_out, d_in = problem.shape
    if isinstance(problem, Factorisation):
        return float(problem.loss_scale)
    if isinstance(problem, Sensing):
        return float(problem.loss_scale) * float(problem.A.square().sum()) / (d_out * d_in)
    if isinstance(problem, Completion):
        c = problem.loss_scale
        frac = problem.n_observed / (d_out * d_in)
        return float(torch.as_tensor(c * frac).mean())
    raise TypeError(f"no factorisation equivalent for {type(problem).__name__}.")


def batched_cdln(surrogate: Tensor | Problem, r_hat: int, depth: int, eps, alpha=1.0, *, batch: int | None = None,
                 name: str = "C-DLN") -> DLN:
    """C-DLN (Algorithm 1) for a grid of ``eps`` and ``alpha`` (scalars or ``(B,)``) on one surrogate or on a
    batch ``(B, d_out, d_in)`` of surrogates. Returns a DLN with batch shape ``(B,)``.

    The spectral init is computed once per surrogate; factor ``l`` of run ``b`` is ``eps[b]`` times it.
    """
    S = surrogate.surrogate() if isinstance(surrogate, Problem) else surrogate
    sizes = [np.size(eps), np.size(alpha), S.shape[0] if S.ndim == 3 else 1, batch or 1]
    B = max(sizes)
    if any(s not in (1, B) for s in sizes):
        raise ValueError(f"eps, alpha, the surrogate batch and batch must have size 1 or a common B, got {sizes}.")
    base = cdln(S, r_hat, depth, 1.0, 1.0)
    e = torch.as_tensor(_vec(eps, B), dtype=S.dtype, device=S.device).reshape(B, 1, 1)
    Ws = [(e * W.expand((B,) + W.shape[-2:])).contiguous() for W in base.weights]
    a = torch.as_tensor(_vec(alpha, B), dtype=S.dtype, device=S.device)
    return DLN(Ws, [a] + [1.0] * (depth - 2) + [a], name=name)


def _sigma_rows(M: Tensor, r: int, B: int) -> np.ndarray:
    """Top-``r`` singular values of ``M`` (``(d, d)`` or ``(B, d, d)``) as a ``(B, r)`` array."""
    s = torch.linalg.svdvals(M)[..., :r].cpu().numpy()
    return np.broadcast_to(s.reshape(-1, r), (B, r)).copy()


# ----------------------------------------------------------------------------------------------
# Perturbed closed forms (for the tests that show each check can fail)
# ----------------------------------------------------------------------------------------------


def perturbed_recursion(kind: str) -> Recursion:
    """A deliberately wrong variant of :func:`theory.kwon_alpha` with the same signature.

    ``kind``: ``"exponent"`` (``λ^{L−1}`` instead of ``λ^{L−2}`` inside the bracket, i.e. one extra factor in
    the gradient term); ``"alpha_middle"`` (α also on the middle factors); ``"no_alpha"`` (α ignored);
    ``"tail_sigma"`` (the tail ``β`` is pulled to ``σ_r*`` instead of 0); ``"init"`` (``λ(0) = ε^{1/2}``).

    >>> ok = kwon_alpha([1.0], 2, 3, 0.3, 0.1, 2.0, 5)
    >>> bad = perturbed_recursion("alpha_middle")([1.0], 2, 3, 0.3, 0.1, 2.0, 5)
    >>> bool(np.allclose(ok, bad))
    False
    """
    kinds = ("exponent", "alpha_middle", "no_alpha", "tail_sigma", "init")
    if kind not in kinds:
        raise ValueError(f"kind must be one of {kinds}, got {kind!r}.")

    def rec(sigma_star, r_hat, depth, eps, eta, alpha, T, loss_scale=1.0):
        s = np.asarray(sigma_star, dtype=np.float64).ravel()
        tail = s[-1] if kind == "tail_sigma" else 0.0
        tgt = np.concatenate([s, np.full(r_hat - s.size, tail)])
        a0 = np.sqrt(eps) if kind == "init" else float(eps)
        a, b = np.full(r_hat, a0), np.full(r_hat, a0)
        al = 1.0 if kind == "no_alpha" else alpha
        am = alpha if kind == "alpha_middle" else 1.0
        x = 1 if kind == "exponent" else 0
        e, L = eta * loss_scale, depth
        out = np.empty((T + 1, r_hat))
        with np.errstate(all="ignore"):
            for t in range(T + 1):
                p = a * a * b ** (L - 2)
                out[t] = p
                if t == T:
                    break
                res = p - tgt
                if L == 2:
                    a = a - al * e * res * a * a**x
                else:
                    a, b = (a - al * e * res * a * b ** (L - 2 + x),
                            b - am * e * res * a * a * b ** (L - 3 + x))
        return out

    return rec


def perturbed_rho(kind: str) -> Callable[..., np.ndarray]:
    """A wrong variant of :func:`theory.lop_rho` (same signature): ``"exponent"`` (``ρ^{2L−1}``),
    ``"coupled_decay"`` (``ρ(1 − ηλ)(1 − ηρ^{2(L−1)})``), ``"no_decay"`` (λ ignored)."""
    kinds = ("exponent", "coupled_decay", "no_decay")
    if kind not in kinds:
        raise ValueError(f"kind must be one of {kinds}, got {kind!r}.")

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


# ----------------------------------------------------------------------------------------------
# Theorem 1 on a grid of (ε, η, α), and where it stops holding
# ----------------------------------------------------------------------------------------------


@dataclass
class GridCheck:
    """C-DLN singular values against a recursion on a batch of runs ``b = 0..B−1``.

    ``iterations (K,)``; ``simulated``/``predicted`` ``(K, B, r̂)``; per run: ``rel_error (B,)`` max over
    recorded ``t`` (before divergence) and ``i`` of ``|sim − pred|/|pred|`` (NaN if the recursion overflowed),
    ``offdiag (B,)`` max ``|(U*ᵀW̃V*)_{ij}|/σ_1*`` over ``i ≠ j``, ``diverged_at (B,)`` (−1 if not), ``final_loss (B,)``;
    ``params``: per-run ``eps, eta, alpha (B,)``, ``sigma (B, r)``, and ``r_hat, depth, loss_scale``.
    """

    iterations: np.ndarray
    simulated: np.ndarray
    predicted: np.ndarray
    rel_error: np.ndarray
    offdiag: np.ndarray
    diverged_at: np.ndarray
    final_loss: np.ndarray
    params: dict

    @property
    def max_rel_error(self) -> float:
        """Max over runs (NaN propagates: a NaN run fails any ``≤`` check)."""
        return float(np.max(self.rel_error)) if self.rel_error.size else float("nan")


def _diag_recorder(U: Tensor, V: Tensor, sigma1: Tensor):
    def f(net, W, loss):
        A = spectral_diagonal(net, U, V)
        d = torch.diagonal(A, dim1=-2, dim2=-1)
        off = (A - torch.diag_embed(d)).abs().amax((-2, -1)) / sigma1
        return torch.cat([d, off.unsqueeze(-1)], -1)
    return f


def thm1_grid(M: Tensor, r: int, r_hat: int, depth: int, eps, eta, alpha=1.0, *, T: int, record_at=60,
              normalisation: str = "sum", recursion: Recursion = kwon_alpha) -> GridCheck:
    """Train C-DLN on factorisation of ``M`` (``(d_out, d_in)`` or ``(B, d_out, d_in)``) for every run of the grid
    ``eps, eta, alpha`` (scalars or ``(B,)``) as one batched program, and compare with ``recursion``.

    Runs whose loss explodes are frozen and flagged (``diverged_at``); their comparison stops there.
    """
    sizes = [np.size(eps), np.size(eta), np.size(alpha), M.shape[0] if M.ndim == 3 else 1]
    B = max(sizes)
    eps_, eta_, al_ = _vec(eps, B), _vec(eta, B), _vec(alpha, B)
    problem = Factorisation(M, normalisation)
    U, s, V = spectral_factors(M, r_hat)
    sigma = _sigma_rows(M, r, B)
    net = batched_cdln(M, r_hat, depth, eps_, al_, batch=B)
    lr = torch.as_tensor(eta_, dtype=M.dtype, device=M.device)
    rec = _diag_recorder(U, V, s[..., 0])
    with np.errstate(all="ignore"):
        h = train(net, problem, GD(lr), T, record_at=record_at, record=("loss",), recorders={"A": rec},
                  on_divergence="flag")
    A = np.asarray(h["A"])  # (K, B, r̂ + 1)
    sim, off = A[..., :r_hat], A[..., r_hat]
    div = np.asarray(h.diverged_at).reshape(B)
    chk = GridCheck(h.iterations, sim, sim, np.zeros(B), np.zeros(B), div, np.asarray(h.loss[-1]).reshape(B),
                    {"eps": eps_, "eta": eta_, "alpha": al_, "sigma": sigma, "r_hat": r_hat, "depth": depth,
                     "loss_scale": problem.loss_scale})
    chk.offdiag = np.where(_valid(chk), off, 0.0).max(0)
    return regrade(chk, recursion)


def _valid(chk: GridCheck) -> np.ndarray:
    """``(K, B)``: recorded iterations before the run diverged."""
    div = chk.diverged_at
    return (div[None, :] < 0) | (chk.iterations[:, None] < div[None, :])


def regrade(chk: GridCheck, recursion: Recursion = kwon_alpha) -> GridCheck:
    """Recompute ``predicted`` and ``rel_error`` of a :class:`GridCheck` against another ``recursion`` (no retraining)."""
    P, it = chk.params, chk.iterations
    B = chk.simulated.shape[1]
    with np.errstate(all="ignore"):
        pred = np.stack([recursion(P["sigma"][b], P["r_hat"], P["depth"], P["eps"][b], P["eta"][b], P["alpha"][b],
                                   int(it[-1]), P["loss_scale"])[it] for b in range(B)], 1)
        rel = np.abs(chk.simulated - pred) / np.abs(pred)
    valid = _valid(chk)
    rel = np.where(valid[..., None], rel, 0.0)
    rel_b = np.where(np.isfinite(rel).all((0, 2)), rel.max((0, 2)), np.nan)
    return GridCheck(it, chk.simulated, pred, rel_b, chk.offdiag, chk.diverged_at, chk.final_loss, P)


def offdiag_mass(W: Tensor, U: Tensor, V: Tensor) -> Tensor:
    """Fraction of ``W (..., d_out, d_in)`` off the diagonal in the basis ``U (…, d_out, k)``, ``V (…, d_in, k)``:
    ``‖W − U diag(UᵀWV) Vᵀ‖_F / ‖W‖_F`` (0 when ``W = U diag(·) Vᵀ``). Shape ``(...)``.

    >>> I = torch.eye(3, dtype=torch.float64)
    >>> float(offdiag_mass(torch.diag(torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)), I, I))
    0.0
    """
    A = U.transpose(-1, -2) @ W @ V
    D = (U * torch.diagonal(A, dim1=-2, dim2=-1).unsqueeze(-2)) @ V.transpose(-1, -2)
    return torch.linalg.matrix_norm(W - D) / torch.linalg.matrix_norm(W)


@dataclass
class BeyondMF:
    """C-DLN on a non-MF problem measured in ``M*``'s spectral basis: ``iterations (K,)``, ``offdiag (K, B)``
    (:func:`offdiag_mass` with ``M*``'s full singular bases), ``sv_dev (K, B)`` ``max_i |σ_i(W̃) − p_i|/σ_i*``
    against the MF recursion with ``c_eff`` (:func:`mf_equivalent_scale`), ``recovery (K, B)``, ``c_eff``."""

    iterations: np.ndarray
    offdiag: np.ndarray
    sv_dev: np.ndarray
    recovery: np.ndarray
    c_eff: float


def cdln_beyond_mf(problem: Problem, r: int, r_hat: int, depth: int, eps: float, eta: float, T: int, *,
                   alpha: float = 1.0, record_at=40, recursion: Recursion = kwon_alpha) -> BeyondMF:
    """Train C-DLN (spectral init from the surrogate) on a sensing/completion (or MF) problem with batched
    targets ``(B, d, d)`` and measure how far it is from Theorem 1's diagonal form and recursion."""
    M = problem.target
    B = M.shape[0] if M.ndim == 3 else 1
    Ufull, _, Vfull = spectral_factors(M, min(problem.shape))
    net = batched_cdln(problem, r_hat, depth, eps, alpha, batch=B)

    def rec(n, W, loss):
        sv = torch.linalg.svdvals(W)[..., :r_hat]
        return torch.cat([offdiag_mass(W, Ufull, Vfull).unsqueeze(-1), sv], -1)

    h = train(net, problem, GD(eta), T, record_at=record_at, record=("recovery_error",), recorders={"x": rec})
    x = np.asarray(h["x"]).reshape(len(h.iterations), B, r_hat + 1)
    c = mf_equivalent_scale(problem)
    sigma = _sigma_rows(M, r, B)
    pred = np.stack([recursion(sigma[b], r_hat, depth, eps, eta, alpha, int(h.iterations[-1]), c)[h.iterations]
                     for b in range(B)], 1)
    dev = (np.abs(x[..., 1:1 + r] - pred[..., :r]) / sigma[None]).max(-1)
    return BeyondMF(h.iterations, x[..., 0], dev, np.asarray(h["recovery_error"]).reshape(-1, B), c)


# ----------------------------------------------------------------------------------------------
# Lemma 1 and Corollary 1 (t = 0)
# ----------------------------------------------------------------------------------------------


def sorted_svals(A: Tensor) -> Tensor:
    """Singular values in decreasing order (``torch.linalg.svdvals``)."""
    return torch.linalg.svdvals(A)


def lemma1(A: Tensor, B: Tensor, svals: Callable[[Tensor], Tensor] = sorted_svals,
           pair: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] | None = None) -> tuple[Tensor, Tensor]:
    """Both sides of Lemma 1 (Mirsky): ``(‖A − B‖_F², ‖Σ_A − Σ_B‖_F²)`` for ``A, B (..., m, n)``; shapes ``(...)``.

    ``svals`` maps a matrix to its singular values (decreasing); ``pair(s_A, s_B)`` may re-pair them (the lemma
    pairs the i-th largest with the i-th largest; a test passes a wrong pairing to show the check can fail).

    >>> A = torch.diag(torch.tensor([3.0, 1.0], dtype=torch.float64))
    >>> [round(float(x), 12) for x in lemma1(A, torch.zeros_like(A))]
    [10.0, 10.0]
    """
    lhs = (A - B).square().sum((-2, -1))
    sa, sb = svals(A), svals(B)
    if pair is not None:
        sa, sb = pair(sa, sb)
    rhs = (sa - sb).square().sum(-1)
    return lhs, rhs


def lemma1_instances(n: int, seed: int = 0, max_dim: int = 12) -> list[tuple[Tensor, Tensor, str]]:
    """``n`` random pairs ``(A, B, kind)`` of equal random shape: independent Gaussians, low-rank pairs,
    small perturbations ``B = A + δE``, and equality cases ``B = U_A diag(s) V_Aᵀ`` with sorted ``s``."""
    g = torch.Generator().manual_seed(seed)
    kinds = ("gaussian", "low_rank", "perturbed", "shared_svd")
    out = []
    for k in range(n):
        m, q = (int(x) for x in torch.randint(1, max_dim + 1, (2,), generator=g))
        kind = kinds[k % len(kinds)]
        A = torch.randn(m, q, generator=g, dtype=torch.float64) * float(10 ** torch.empty(1).uniform_(-2, 2, generator=g))
        if kind == "gaussian":
            B = torch.randn(m, q, generator=g, dtype=torch.float64)
        elif kind == "low_rank":
            rk = int(torch.randint(1, min(m, q) + 1, (1,), generator=g))
            A = torch.randn(m, rk, generator=g, dtype=torch.float64) @ torch.randn(rk, q, generator=g, dtype=torch.float64)
            B = torch.randn(m, rk, generator=g, dtype=torch.float64) @ torch.randn(rk, q, generator=g, dtype=torch.float64)
        elif kind == "perturbed":
            B = A + 10 ** float(torch.empty(1).uniform_(-8, 0, generator=g)) * torch.randn(m, q, generator=g, dtype=torch.float64)
        else:
            U, _, Vh = torch.linalg.svd(A, full_matrices=False)
            s = torch.sort(torch.rand(U.shape[-1], generator=g, dtype=torch.float64) * 5, descending=True).values
            B = (U * s) @ Vh
        out.append((A, B, kind))
    return out


@dataclass
class Cor1Result:
    """Corollary 1 at ``t = 0`` on a batch of targets (all ``(B,)``):

    ``lhs = ‖W_{L:1}(0) − M*‖²`` (original, ε-orthogonal), ``rhs = ‖W̃_{L:1}(0) − M*‖²`` (C-DLN), ``gap = lhs − rhs``
    computed without cancellation (``(‖W‖² − ‖W̃‖²) − 2⟨W − W̃, M*⟩``), ``scale`` the size of the expected gap
    (``2ε^L Σσ* + (d − r̂)ε^{2L}``), the proof chain ``step1 = ‖Σ_W − Σ*‖²`` (Lemma 1 bound),
    ``step2 = Σ_{i≤r}(ε^L − σ_i*)² + (d − r)ε^{2L}``, ``closed = Σ_{i≤r̂}(p_i(0) − σ_i*)²`` from the recursion, and
    ``sv0_rel`` the max relative error of C-DLN's spectral diagonal at ``t = 0`` against ``p(0)``.
    """

    lhs: np.ndarray
    rhs: np.ndarray
    gap: np.ndarray
    scale: np.ndarray
    step1: np.ndarray
    step2: np.ndarray
    closed: np.ndarray
    sv0_rel: np.ndarray


def corollary1(M: Tensor, r: int, r_hat: int, depth: int, eps: float, seed: int = 0, *, init: str = "orthogonal",
               recursion: Recursion = kwon_alpha) -> Cor1Result:
    """Both sides of Corollary 1 at ``t = 0`` and its proof chain for targets ``M (B, d, d)`` of rank ``r``."""
    B, d = M.shape[0], M.shape[-1]
    orig = wide_dln([d] * (depth + 1), eps, init, seed, batch=(B,), dtype=M.dtype, device=M.device)
    comp = cdln(M, r_hat, depth, eps)
    W, Wt = orig.end_to_end(), comp.end_to_end()
    sq = lambda X: X.square().sum((-2, -1))
    lhs, rhs = sq(W - M), sq(Wt - M)
    gap = (sq(W) - sq(Wt)) - 2 * ((W - Wt) * M).sum((-2, -1))
    sig_all = torch.linalg.svdvals(M)
    step1 = (torch.linalg.svdvals(W) - sig_all).square().sum(-1)
    sig = sig_all[..., :r].cpu().numpy()
    eL = eps**depth
    step2 = ((eL - sig) ** 2).sum(-1) + (d - r) * eL**2
    p0 = np.stack([recursion(sig[b], r_hat, depth, eps, 0.0, 1.0, 0)[0] for b in range(B)])  # (B, r̂)
    tgt = np.concatenate([sig, np.zeros((B, r_hat - r))], 1)
    closed = ((p0 - tgt) ** 2).sum(-1)
    U, _, V = spectral_factors(M, r_hat)
    diag0 = torch.diagonal(spectral_diagonal(comp, U, V), dim1=-2, dim2=-1).cpu().numpy()
    sv0_rel = (np.abs(diag0 - p0) / np.abs(p0)).max(-1)
    scale = 2 * eL * sig.sum(-1) + (d - r_hat) * eL**2
    f = lambda x: x.cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)
    return Cor1Result(f(lhs), f(rhs), f(gap), scale, f(step1), step2, closed, sv0_rel)


# ----------------------------------------------------------------------------------------------
# Random targets with well-separated singular values
# ----------------------------------------------------------------------------------------------


def separated_targets(B: int, d: int, r: int, seed: int = 0, *, top=(3.0, 5.0), ratio=(0.5, 0.7), dtype=None,
                      device=None) -> Tensor:
    """``B`` random rank-``r`` targets ``(B, d, d)``: Haar ``U, V`` and ``σ_i* = σ_1 ρ^{i−1}`` with ``σ_1 ~ U(top)``,
    ``ρ ~ U(ratio)`` per instance (consecutive ratios ≤ ``ratio[1]``: well separated).

    >>> M = separated_targets(2, 6, 3, seed=0)
    >>> s = torch.linalg.svdvals(M)[:, :3]
    >>> bool(((s[:, 1:] / s[:, :-1]) < 0.71).all())
    True
    """
    from ._util import resolve

    dtype, device = resolve(dtype, device)
    g = torch.Generator().manual_seed(seed)
    s1 = torch.empty(B, 1, dtype=torch.float64).uniform_(*top, generator=g)
    rho = torch.empty(B, 1, dtype=torch.float64).uniform_(*ratio, generator=g)
    s = s1 * rho ** torch.arange(r, dtype=torch.float64)
    U = random_orthonormal(d, r, g, batch=(B,), dtype=torch.float64, device="cpu")
    V = random_orthonormal(d, r, g, batch=(B,), dtype=torch.float64, device="cpu")
    return ((U * s.unsqueeze(-2)) @ V.transpose(-1, -2)).to(dtype=dtype, device=device)


def kwon_targets(B: int, d: int, r: int, seed: int = 0, **kw) -> Tensor:
    """``B`` targets of the official [K] code (:func:`problems.kwon_target`), seeds ``seed..seed+B−1``: ``(B, d, d)``."""
    from .problems import kwon_target

    return torch.stack([kwon_target(d, r, seed + b, **kw) for b in range(B)])


# ----------------------------------------------------------------------------------------------
# Assumption 1: incremental learning times, c_val(t), c_vec(t)
# ----------------------------------------------------------------------------------------------


FIELDS = ("sv", "c_val", "c_vec_u", "c_vec_v", "proj")
"""Rows of :func:`spectral_recorder`'s output."""


def spectral_recorder(M: Tensor, k: int):
    """Recorder for :func:`train`: per recorded iteration a ``(..., 5, k)`` tensor with rows :data:`FIELDS`:

    ``sv`` the top-``k`` singular values ``σ_i(t)`` of ``W_{L:1}(t)``; ``c_val = (σ_i(t) − σ_i*)²``;
    ``c_vec_u = 1 − |⟨u_i(t), u_i*⟩|`` and ``c_vec_v`` likewise, computed as ``½‖u_i − ±u_i*‖²`` (no cancellation,
    so values far below 1e-16 are resolved); ``proj = u_i(t)ᵀ M* v_i(t)`` (Proposition 1's projection).
    """
    Us, ss, Vs = spectral_factors(M, k)

    def close(x, y):
        sgn = torch.where((x * y).sum(-2, keepdim=True) >= 0, 1.0, -1.0).to(x.dtype)
        return 0.5 * (x - sgn * y).square().sum(-2)

    def f(net, W, loss):
        U, s, Vh = torch.linalg.svd(W, full_matrices=False)
        u, v = U[..., :k], Vh[..., :k, :].transpose(-1, -2)
        proj = (u * (M @ v)).sum(-2)
        return torch.stack([s[..., :k], (s[..., :k] - ss).square(), close(u, Us), close(v, Vs), proj], -2)

    return f


def incremental_times(c_val_rel: np.ndarray, c_vec: np.ndarray, iterations: np.ndarray, tau_val: float,
                      tau_vec: float) -> np.ndarray:
    """Estimated ``t_i``: the first recorded iteration from which on ``c_val_rel ≤ τ_val`` and ``c_vec ≤ τ_vec``
    hold at every later recorded iteration. Inputs ``(K, ..., r)``; returns ``(..., r)`` ints, −1 if never.

    >>> cv = np.array([[1, 1], [0, 1], [0, 0], [0, 0]], dtype=float)
    >>> incremental_times(cv, 0 * cv, np.arange(4), 0.5, 0.5).tolist()
    [1, 2]
    """
    ok = (c_val_rel <= tau_val) & (c_vec <= tau_vec)
    tail_ok = np.flip(np.logical_and.accumulate(np.flip(ok, 0), 0), 0)  # ok at k and every later k
    first = np.argmax(tail_ok, 0)
    return np.where(tail_ok.any(0), np.asarray(iterations)[first], -1)


def order_violations(t: np.ndarray) -> int:
    """Instances (rows of ``t (..., r)``) whose times are not ordered ``t_1 ≤ t_2 ≤ … ≤ t_r`` or contain −1.

    >>> order_violations(np.array([[1, 2, 2], [3, 2, 5], [1, -1, 4]]))
    2
    """
    t = np.asarray(t).reshape(-1, np.shape(t)[-1])
    bad = (np.diff(t, axis=-1) < 0).any(-1) | (t < 0).any(-1)
    return int(bad.sum())


@dataclass
class Assumption1:
    """Assumption 1 on a batch of runs: ``times (B, r)`` (:func:`incremental_times`), ``order_violations``,
    ``final_c_val_rel``, ``final_c_vec`` (max over runs and ``i`` at the last iteration), ``min_c_val``/``min_c_vec``
    (smallest values reached, max over ``i`` and runs), ``early_max (B, r−1)`` ``max_{t < t_i} σ_{i+1}(t)/σ_{i+1}*``."""

    times: np.ndarray
    order_violations: int
    final_c_val_rel: float
    final_c_vec: float
    min_c_val: float
    min_c_vec: float
    early_max: np.ndarray


def assumption1(rec: np.ndarray, sigma_star: np.ndarray, iterations: np.ndarray, tau_val: float = 1e-2,
                tau_vec: float = 1e-2) -> Assumption1:
    """Summarise a :func:`spectral_recorder` record ``rec (K, B, 5, r)`` for targets ``sigma_star (B, r)``."""
    sv, c_val, cu, cv = rec[:, :, 0], rec[:, :, 1], rec[:, :, 2], rec[:, :, 3]
    c_rel = c_val / sigma_star[None] ** 2
    c_vec = np.maximum(cu, cv)
    t = incremental_times(c_rel, c_vec, iterations, tau_val, tau_vec)
    r = sv.shape[-1]
    early = np.full((sv.shape[1], max(r - 1, 0)), np.nan)
    for b in range(sv.shape[1]):
        for i in range(r - 1):
            before = np.asarray(iterations) < t[b, i] if t[b, i] >= 0 else np.ones(len(iterations), bool)
            early[b, i] = (sv[before, b, i + 1] / sigma_star[b, i + 1]).max() if before.any() else 0.0
    return Assumption1(t, order_violations(t), float(c_rel[-1].max()), float(c_vec[-1].max()),
                       float(c_rel.min(0).max()), float(c_vec.min(0).max()), early)


# ----------------------------------------------------------------------------------------------
# Proposition 1: GD singular values against the gradient flow, order of convergence in η
# ----------------------------------------------------------------------------------------------


def convergence_order(etas: Sequence[float], gaps: Sequence[float]) -> float:
    """Least-squares slope of ``log gap`` against ``log η`` (1 for a first-order method).

    >>> round(convergence_order([0.1, 0.05, 0.025], [2e-3, 1e-3, 5e-4]), 12)
    1.0
    """
    x, y = np.log(np.asarray(etas, dtype=np.float64)), np.log(np.asarray(gaps, dtype=np.float64))
    return float(np.polyfit(x, y, 1)[0])


def flow_gap(gd_sv: np.ndarray, times: np.ndarray, sigma_star: np.ndarray, depth: int, s0: float, *,
             loss_scale: float = 1.0, flow=sv_gradient_flow, dt: float = 2e-3) -> float:
    """``max_{t,i,b} |σ_i^{GD} − s_i(τ)|/σ_i*`` between GD singular values ``gd_sv (K, B, k)`` recorded at flow times
    ``times (K,)`` and the flow ``flow(sigma, depth, s0, times, dt, loss_scale)`` integrated for all ``B·k``
    components at once (the flow is elementwise). Flow time is ``τ = c·η·t`` (pass ``loss_scale=1`` then)."""
    sig = np.atleast_2d(sigma_star)
    B, k = sig.shape
    s = np.asarray(flow(sig.ravel(), depth, s0, times, dt, loss_scale)).reshape(len(times), B, k)
    return float((np.abs(gd_sv[:, :, :k] - s) / sig[None]).max())


def velocity_residual(sv_t: np.ndarray, sv_next: np.ndarray, proj: np.ndarray, step: float, depth: int,
                      rhs: Callable = None) -> np.ndarray:
    """Proposition 1 on GD: ``(σ(t+1) − σ(t))/(cη)`` against ``−L(σ²)^{1−1/L}(σ − u_iᵀM*v_i)``.

    Inputs ``(K, B, k)`` (``step = c·η``); returns ``max_t |fd − formula| / max_t |formula|``, shape ``(B, k)``.
    ``rhs(s, proj, L)`` replaces the formula (default :func:`theory.sv_flow_rhs` with ``σ* → proj``).
    """
    rhs = rhs or (lambda s, p, L: sv_flow_rhs(s, p, L))
    fd = (sv_next - sv_t) / step
    formula = rhs(sv_t, proj, depth)
    return np.abs(fd - formula).max(0) / np.abs(formula).max(0)


# ----------------------------------------------------------------------------------------------
# Theorem 2: ordering of recovery errors
# ----------------------------------------------------------------------------------------------


def ordering_violations(err_orig: np.ndarray, err_comp: np.ndarray, allowance: float = 0.0) -> tuple[int, float]:
    """Theorem 2 ordering ``‖W̃ − M*‖ ≤ ‖W − M*‖``: number of entries of ``(K, B)`` arrays with
    ``err_comp > err_orig + allowance``, and the largest ``(err_comp − err_orig)/err_orig`` (≤ 0 when it holds).

    >>> ordering_violations(np.array([[1.0, 2.0]]), np.array([[0.5, 2.5]]))
    (1, 0.25)
    """
    bad = err_comp > err_orig + allowance
    return int(bad.sum()), float(((err_comp - err_orig) / err_orig).max())


def comp_error_recursion(sigma_star: np.ndarray, r_hat: int, depth: int, eps: float, eta: float, iterations,
                         *, alpha: float = 1.0, loss_scale: float = 1.0, norm: np.ndarray | None = None,
                         recursion: Recursion = kwon_alpha) -> np.ndarray:
    """C-DLN's MF recovery error from the recursion: ``sqrt(Σ_{i≤r̂}(p_i(t) − σ_i*)²)/‖M*‖`` at ``iterations``.

    ``sigma_star (B, r)``; returns ``(K, B)``. Exact by Theorem 1 (``M*`` lies in the span of ``U*_r̂, V*_r̂``).
    """
    sig = np.atleast_2d(sigma_star)
    it = np.asarray(iterations)
    norm = np.sqrt((sig**2).sum(-1)) if norm is None else norm
    out = []
    for b in range(sig.shape[0]):
        p = recursion(sig[b], r_hat, depth, eps, eta, alpha, int(it.max()), loss_scale)[it]
        tgt = np.concatenate([sig[b], np.zeros(r_hat - sig.shape[1])])
        out.append(np.sqrt(((p - tgt) ** 2).sum(-1)) / norm[b])
    return np.stack(out, 1)


@dataclass
class OrigComp:
    """Original DLN and C-DLN on the same batched problem: ``iterations (K,)``, ``err_orig``/``err_comp (K, B)``
    relative recovery errors, ``rec_orig``/``rec_comp (K, B, 5, k)`` :func:`spectral_recorder` records,
    ``sigma_star (B, k)``, ``diverged (B,)`` either net diverged, ``seconds`` wall time of both runs."""

    iterations: np.ndarray
    err_orig: np.ndarray
    err_comp: np.ndarray
    rec_orig: np.ndarray
    rec_comp: np.ndarray
    sigma_star: np.ndarray
    diverged: np.ndarray
    seconds: float


def orig_and_comp(problem: Problem, r: int, r_hat: int, depth: int, eps: float, eta: float, T: int, *,
                  alpha=1.0, k: int | None = None, record_at=100, seed: int = 0, init: str = "orthogonal",
                  spectral: bool = True) -> OrigComp:
    """Train the wide DLN (ε-``init``) and C-DLN (α) on a problem with batched targets ``(B, d, d)`` (GD, step
    ``eta``), recording recovery errors and, if ``spectral``, :func:`spectral_recorder` for the top ``k`` (default ``r``)."""
    import time

    M = problem.target
    B, d = M.shape[0], M.shape[-1]
    k = k or r
    t0 = time.perf_counter()
    orig = wide_dln([d] * (depth + 1), eps, init, seed, batch=(B,), dtype=M.dtype, device=M.device, name="orig")
    comp = batched_cdln(problem, r_hat, depth, eps, alpha, batch=B, name="comp")
    rec = {"s": spectral_recorder(M, k)} if spectral else {}
    kw = dict(record_at=record_at, record=("recovery_error",), recorders=rec, on_divergence="flag")
    ho, hc = train(orig, problem, GD(eta), T, **kw), train(comp, problem, GD(eta), T, **kw)
    K = len(ho.iterations)
    get = lambda h: np.asarray(h["s"]) if spectral else np.zeros((K, B, 5, k))
    return OrigComp(ho.iterations, np.asarray(ho["recovery_error"]).reshape(K, B),
                    np.asarray(hc["recovery_error"]).reshape(K, B), get(ho), get(hc), _sigma_rows(M, k, B),
                    (np.asarray(ho.diverged_at).reshape(B) >= 0) | (np.asarray(hc.diverged_at).reshape(B) >= 0),
                    time.perf_counter() - t0)


# ----------------------------------------------------------------------------------------------
# Symbolic derivations (sympy): the diagonal-factor loss, its gradient and the recursions
# ----------------------------------------------------------------------------------------------


def _sp():
    import sympy

    return sympy


def sym_equal(a, b) -> bool:
    """``True`` iff sympy simplifies ``a − b`` to 0 (expressions, or matrices entry by entry)."""
    sp = _sp()
    d = sp.Matrix(a) - sp.Matrix(b) if isinstance(a, sp.MatrixBase) else sp.Matrix([a - b])
    return all(sp.simplify(sp.expand(x)) == 0 for x in d)


def sym_matrix_gradients(depth: int, dims: Sequence[int]):
    """Symbolic gradient of ``ℓ = ½‖W_L ⋯ W_1 − M‖_F²`` with respect to every entry of every ``W_l``.

    ``dims = [d_0, …, d_L]``. Returns ``(Ws, M, derived, formula)``: the symbol matrices, the entrywise
    derivatives ``∂ℓ/∂W_l`` and the closed form ``W_{L:l+1}ᵀ (W_{L:1} − M) W_{l−1:1}ᵀ`` (THEORY §1.1).
    """
    sp = _sp()
    if len(dims) != depth + 1:
        raise ValueError("dims must list d_0, ..., d_L.")
    Ws = [sp.Matrix(dims[l + 1], dims[l], lambda i, j, l=l: sp.Symbol(f"w{l + 1}_{i}{j}")) for l in range(depth)]
    M = sp.Matrix(dims[-1], dims[0], lambda i, j: sp.Symbol(f"m_{i}{j}"))

    def chain(ws):
        P = None
        for W in ws:
            P = W if P is None else W * P
        return P

    E = chain(Ws)
    R = E - M
    loss = sum(x**2 for x in R) / 2
    derived = [W.applyfunc(lambda w: sp.diff(loss, w)) for W in Ws]
    formula = []
    for l in range(depth):
        left = chain(Ws[l + 1:]) if l + 1 < depth else sp.eye(dims[-1])
        right = chain(Ws[:l]) if l > 0 else sp.eye(dims[0])
        formula.append(left.T * R * right.T)
    return Ws, M, derived, formula


def sym_diagonal_invariance(depth: int, n: int = 2) -> bool:
    """Symbolic check of Theorem 1's mechanism: at diagonal factors and a diagonal target (the spectral basis),
    every entrywise gradient ``∂ℓ/∂W_l`` is diagonal, so GD keeps the factors diagonal (``n×n`` factors)."""
    sp = _sp()
    Ws, M, derived, _ = sym_matrix_gradients(depth, [n] * (depth + 1))
    subs = {}
    for W in Ws + [M]:
        for i in range(n):
            for j in range(n):
                if i != j:
                    subs[W[i, j]] = 0
    for G in derived:
        for i in range(n):
            for j in range(n):
                if i != j and sp.simplify(G[i, j].subs(subs)) != 0:
                    return False
    return True


def sym_diag_loss(depth: int):
    """The per-component diagonal-factor loss ``ℓ = ½(w_1 w_2 ⋯ w_L − σ)²`` and its gradient.

    Returns ``(loss, ws, sigma, grads)`` with ``grads[l] = ∂ℓ/∂w_{l+1} = (Π_k w_k − σ) Π_{k≠l} w_k``.
    """
    sp = _sp()
    ws = sp.symbols(f"w1:{depth + 1}", positive=True)
    sigma = sp.Symbol("sigma", nonnegative=True)
    loss = (sp.Mul(*ws) - sigma) ** 2 / 2
    return loss, ws, sigma, [sp.diff(loss, w) for w in ws]


def sym_thm1_step(depth: int | None = None) -> dict:
    """Derive Theorem 1's update from GD on the diagonal-factor loss with all factors equal to ``λ``.

    ``depth`` an int: from the full product (checks that every factor gets the same update, so equal factors
    stay equal). ``depth=None``: for symbolic ``L`` (one factor ``w`` times ``λ^{L−1}``).
    Returns ``{"derived", "closed", "equal", "lam", "sigma", "eta", "L"}``; ``closed`` is THEORY §4's
    ``λ(1 − η(λ^L − σ)λ^{L−2})``.
    """
    sp = _sp()
    lam, eta = sp.symbols("lambda eta", positive=True)
    sigma = sp.Symbol("sigma", nonnegative=True)
    if depth is None:
        L = sp.Symbol("L", integer=True, positive=True)
        w = sp.Symbol("w", positive=True)
        loss = (w * lam ** (L - 1) - sigma) ** 2 / 2
        g = sp.diff(loss, w).subs(w, lam)
        same = True
    else:
        L = depth
        loss, ws, s_, grads = sym_diag_loss(depth)
        at = {w: lam for w in ws}
        gs = [gr.subs(at).subs(s_, sigma) for gr in grads]
        g = gs[0]
        same = all(sp.simplify(x - g) == 0 for x in gs)
    derived = lam - eta * g
    closed = lam * (1 - eta * (lam**L - sigma) * lam ** (L - 2))
    ok = sp.simplify(sp.powsimp(sp.expand(derived - closed), force=True)) == 0
    return {"derived": derived, "closed": closed, "equal": bool(ok and same), "lam": lam, "sigma": sigma,
            "eta": eta, "L": L}


def sym_alpha_step(depth: int) -> dict:
    """Derive the α ≠ 1 update (THEORY §4.3): outer factors ``w_1 = w_L = a`` (step ``αη``), middle ``b`` (step ``η``).

    Returns ``{"a_next", "b_next", "closed_a", "closed_b", "equal", "symbols"}``; ``b_next`` is ``None`` for ``L = 2``.
    """
    sp = _sp()
    a, b, eta, alpha = sp.symbols("a b eta alpha", positive=True)
    sigma = sp.Symbol("sigma", nonnegative=True)
    loss, ws, s_, grads = sym_diag_loss(depth)
    at = {ws[0]: a, ws[-1]: a}
    at.update({w: b for w in ws[1:-1]})
    g_out = [grads[0].subs(at).subs(s_, sigma), grads[-1].subs(at).subs(s_, sigma)]
    g_mid = [gr.subs(at).subs(s_, sigma) for gr in grads[1:-1]]
    p = a**2 * b ** (depth - 2)
    a_next = a - alpha * eta * g_out[0]
    closed_a = a - alpha * eta * (p - sigma) * a * b ** (depth - 2)
    ok = sp.simplify(g_out[0] - g_out[1]) == 0 and sp.simplify(a_next - closed_a) == 0
    b_next = closed_b = None
    if depth > 2:
        b_next = b - eta * g_mid[0]
        closed_b = b - eta * (p - sigma) * a**2 * b ** (depth - 3)
        ok = ok and all(sp.simplify(x - g_mid[0]) == 0 for x in g_mid) and sp.simplify(b_next - closed_b) == 0
    return {"a_next": a_next, "b_next": b_next, "closed_a": closed_a, "closed_b": closed_b, "equal": bool(ok),
            "symbols": (a, b, sigma, eta, alpha)}


def sym_rho_step(depth: int, case: int = 1) -> dict:
    """Derive ρ(t) of the Law of Parsimony (THEORY §2.2–2.3) from GD with decoupled weight decay
    ``w ← (1 − ηλ)w − η∂ℓ/∂w`` on the invariant block, where every factor equals ``ρ`` and the target is 0.

    Case 1: the block's loss is ``½(w_1⋯w_L)²``. Case 2 (wide target): the output factor has no row for the
    block (``w_L = 0``), so the gradient vanishes and ``ρ ← (1 − ηλ)ρ``; sympy's ``rsolve`` then gives the
    closed form ``ε(1 − ηλ)^t``. Returns ``{"derived", "closed", "equal", "solution", "symbols"}``.
    """
    sp = _sp()
    rho, eta, lam, eps = sp.symbols("rho eta lambda epsilon", positive=True)
    loss, ws, s_, grads = sym_diag_loss(depth)
    at = {w: rho for w in ws}
    if case == 1:
        g = grads[0].subs(s_, 0).subs(at)
        closed = rho * (1 - eta * lam - eta * rho ** (2 * (depth - 1)))
    elif case == 2:
        g = grads[0].subs(s_, 0).subs({ws[-1]: 0}).subs(at)
        closed = rho * (1 - eta * lam)
    else:
        raise ValueError("case must be 1 or 2.")
    derived = (1 - eta * lam) * rho - eta * g
    ok = sp.simplify(derived - closed) == 0
    solution = None
    if case == 2:
        t = sp.Symbol("t", integer=True, nonnegative=True)
        f = sp.Function("rho")
        sol = sp.rsolve(f(t + 1) - derived.subs(rho, f(t)), f(t), {f(0): eps})
        solution = sp.simplify(sol)
        ok = ok and sp.simplify(solution - eps * (1 - eta * lam) ** t) == 0
    return {"derived": derived, "closed": closed, "equal": bool(ok), "solution": solution, "grad": g,
            "symbols": (rho, eta, lam, eps)}


def sym_flow_rhs(depth: int | None = None) -> dict:
    """Derive the singular-value flow (Proposition 1 for aligned factors): with ``λ̇ = −∂ℓ/∂w|_{w=λ}`` and
    ``s = λ^L``, ``ṡ = Lλ^{L−1}λ̇ = −L(s²)^{1−1/L}(s − σ)``. ``depth=None``: symbolic ``L``.
    Returns ``{"derived", "closed", "equal", "s", "sigma", "L"}`` (``derived`` written in ``s``)."""
    sp = _sp()
    s, lam = sp.symbols("s lambda", positive=True)
    sigma = sp.Symbol("sigma", nonnegative=True)
    L = sp.Symbol("L", integer=True, positive=True) if depth is None else depth
    w = sp.Symbol("w", positive=True)
    lam_dot = -sp.diff((w * lam ** (L - 1) - sigma) ** 2 / 2, w).subs(w, lam)
    s_dot = (L * lam ** (L - 1) * lam_dot).subs(lam, s ** (sp.Integer(1) / L))
    closed = -L * (s**2) ** (1 - sp.Integer(1) / L) * (s - sigma)
    ok = sp.simplify(sp.powsimp(sp.expand(s_dot - closed), force=True)) == 0
    return {"derived": s_dot, "closed": closed, "equal": bool(ok), "s": s, "sigma": sigma, "L": L}


def iterate_thm1_sym(depth: int, sigma_star, r_hat: int, eps: float, eta: float, alpha: float, T: int,
                     loss_scale: float = 1.0) -> np.ndarray:
    """Iterate the **sympy-derived** update (lambdified :func:`sym_alpha_step`; at ``α = 1`` it reduces to
    :func:`sym_thm1_step`) from ``a = b = ε``; returns ``p(t) = a²b^{L−2}``, ``(T+1, r̂)``, like ``kwon_alpha``."""
    sp = _sp()
    st = sym_alpha_step(depth)
    a, b, sigma, eta_s, alpha_s = st["symbols"]
    fa = sp.lambdify((a, b, sigma, eta_s, alpha_s), st["a_next"], "numpy")
    fb = sp.lambdify((a, b, sigma, eta_s, alpha_s), st["b_next"], "numpy") if depth > 2 else None
    s = np.asarray(sigma_star, dtype=np.float64).ravel()
    tgt = np.concatenate([s, np.zeros(r_hat - s.size)])
    av, bv = np.full(r_hat, float(eps)), np.full(r_hat, float(eps))
    e = eta * loss_scale
    out = np.empty((T + 1, r_hat))
    for t in range(T + 1):
        out[t] = av * av * bv ** (depth - 2)
        if t == T:
            break
        if depth > 2:
            av, bv = fa(av, bv, tgt, e, alpha), fb(av, bv, tgt, e, alpha)
        else:
            av = fa(av, bv, tgt, e, alpha)
    return out


def iterate_rho_sym(depth: int, eps: float, eta: float, T: int, weight_decay: float = 0.0, case: int = 1,
                    loss_scale: float = 1.0) -> np.ndarray:
    """Iterate the sympy-derived ρ update (:func:`sym_rho_step`), ``(T+1,)`` like :func:`theory.lop_rho`.

    The loss scale ``c`` multiplies η in the gradient term only (THEORY §1.4)."""
    sp = _sp()
    st = sym_rho_step(depth, case)
    rho, eta_s, lam, _ = st["symbols"]
    grad = sp.lambdify((rho,), st["grad"], "numpy")  # the derived ∂ℓ/∂w at w = ρ
    out = np.empty(T + 1)
    out[0] = eps
    for t in range(1, T + 1):
        p = out[t - 1]
        out[t] = (1 - eta * weight_decay) * p - eta * loss_scale * grad(p)
    return out


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a − b| / |b|`` (NaN-propagating)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(all="ignore"):
        return float(np.max(np.abs(a - b) / np.abs(b)))


def learning_time(sigma_star, r_hat: int, depth: int, eps: float, eta: float, *, alpha: float = 1.0,
                  loss_scale: float = 1.0, frac: float = 0.99, T_max: int = 10**6, chunk: int = 1000) -> int:
    """First iteration at which C-DLN's recursion has ``p_i ≥ frac·σ_i*`` for every ``i ≤ r`` (−1 if not by ``T_max``).

    Used to size the number of iterations of a run. ``sigma_star (r,)``.
    """
    s = np.asarray(sigma_star, dtype=np.float64).ravel()
    T = chunk
    while True:
        p = kwon_alpha(s, r_hat, depth, eps, eta, alpha, min(T, T_max), loss_scale)[:, :s.size]
        hit = np.nonzero((p >= frac * s).all(1))[0]
        if hit.size:
            return int(hit[0])
        if T >= T_max:
            return -1
        T *= 4


def comp_errors(problem: Problem, r_hat: int, depth: int, eps: float, eta: float, T: int, alpha, *,
                record_at=100) -> tuple[np.ndarray, np.ndarray]:
    """Relative recovery errors of C-DLN for several ``alpha`` on a problem with targets ``(B, d, d)``: one batched
    run over ``len(alpha)·B`` networks. Returns ``(iterations (K,), errors (K, len(alpha), B))``."""
    M = problem.target
    B = M.shape[0]
    alphas = _vec(alpha)
    S = problem.surrogate()
    Srep = S.unsqueeze(0).expand((alphas.size,) + S.shape).reshape((-1,) + S.shape[-2:])
    net = batched_cdln(Srep, r_hat, depth, eps, np.repeat(alphas, B), name="comp")
    Mrep = M.unsqueeze(0).expand((alphas.size,) + M.shape).reshape((-1,) + M.shape[-2:])
    err = lambda n, W, loss: torch.linalg.matrix_norm(W - Mrep) / torch.linalg.matrix_norm(Mrep)
    h = train(net, _repeat_problem(problem, alphas.size), GD(eta), T, record_at=record_at, recorders={"e": err},
              on_divergence="flag")
    return h.iterations, np.asarray(h["e"]).reshape(len(h.iterations), alphas.size, B)


def _repeat_problem(problem: Problem, n: int) -> Problem:
    """The same problem with its batch of targets (and masks) repeated ``n`` times along the batch dimension."""
    rep = lambda X: X.unsqueeze(0).expand((n,) + X.shape).reshape((-1,) + X.shape[-2:])
    if isinstance(problem, Factorisation):
        return Factorisation(rep(problem.target), problem.normalisation)
    if isinstance(problem, Completion):
        return Completion(rep(problem.target), rep(problem.mask), problem.normalisation)
    if isinstance(problem, Sensing):
        return Sensing(problem.A, rep(problem.target), problem.normalisation)
    raise TypeError(f"cannot repeat a {type(problem).__name__}.")
