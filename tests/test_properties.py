"""Property-based tests (hypothesis) of the engine's invariants on random shapes, depths (1–4), widths, batch sizes
and normalisations, in float64:

- the hand-written layer gradients (:func:`dlnlib.optim.loss_and_grads`) equal autograd to 1e-12 (relative to the
  largest entry) on factorisation, completion, sensing and regression;
- a batched run (:func:`dlnlib.batching.stack_nets`, zero-padded widths, per-member targets) equals the same runs
  one at a time to 1e-14 relative — not bit for bit: the batched matmuls and reductions round in another order
  (measured: up to ~6e-16 relative on the loss, ~1e-16 absolute on ``W_{L:1}``);
- GD below the stability bound (:func:`dlnlib.theory.stability_rule`) decreases the factorisation loss at every
  step from a small initialisation;
- C-DLN at α = 1 on factorisation follows Theorem 1 (``cdln_vs_recursion(...).rel_error ≤ 1e-9``);
- every validator rejects what it should: negative, zero, NaN and infinite numbers, strings, bools, floats for
  integers, each by the argument's name.

Kept fast and deterministic: few examples per property, ``derandomize=True`` (the same examples on every run, so
CI never flakes), no example database, ``deadline=None`` (a loaded machine is slow, not wrong).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dlnlib.baselines import altmin
from dlnlib.batching import stack_nets
from dlnlib.metrics import first_crossing, relative_error, top_singular_subspace
from dlnlib.networks import DLN, cdln, narrow_dln, wide_dln
from dlnlib.optim import GD, Adam, loss_and_grads
from dlnlib.problems import (Completion, Factorisation, Regression, Sensing, bernoulli_mask, low_rank_target,
                             rescale_step)
from dlnlib.studies.kwon_thm1 import cdln_vs_recursion
from dlnlib.theory import kwon_alpha, learning_time, lop_rho, stability_bound, stability_bound_alpha, stability_rule
from dlnlib.train import train

F64 = torch.float64
CPU = "cpu"

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _randn(shape, seed):
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed), dtype=F64)


KINDS = ["factorisation", "completion", "sensing", "regression"]


@st.composite
def problems(draw, kind: str):
    """A random problem of ``kind``: ``d_out, d_in ∈ [1, 5]``, batch ``()`` or ``(B,)`` with ``B ∈ [1, 3]``, a
    normalisation the kind allows; returns ``(problem, batch)``."""
    d_out, d_in = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    batch = draw(st.sampled_from([(), (1,), (2,), (3,)]))
    seed = draw(st.integers(0, 2**16))
    M = _randn(batch + (d_out, d_in), seed)
    if kind == "factorisation":
        return Factorisation(M, draw(st.sampled_from(["sum", "mean"]))), batch
    if kind == "completion":
        mask = bernoulli_mask(d_out, d_in, draw(st.floats(0.2, 1.0)), seed + 1, batch=batch, device=CPU)
        mask[..., 0, 0] = 1.0  # at least one observed entry per member
        return Completion(M, mask, draw(st.sampled_from(["observed", "mean", "sum"]))), batch
    if kind == "sensing":
        A = _randn((draw(st.integers(1, 8)), d_out, d_in), seed + 2)
        return Sensing(A, M, draw(st.sampled_from(["sum", "mean"]))), batch
    X = _randn((d_in, draw(st.integers(1, 7))), seed + 3)
    Y = _randn(batch + (d_out, X.shape[1]), seed + 4)
    return Regression(X, Y, draw(st.sampled_from(["sum", "mean"]))), batch


def _widths(draw, d_in, d_out, depth):
    return [d_in] + [draw(st.integers(1, 5)) for _ in range(depth - 1)] + [d_out]


# ----------------------------------------------------------------------------------------------
# Hand-written gradients equal autograd
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(data=st.data(), depth=st.integers(1, 4))
def test_layer_gradients_equal_autograd(kind, data, depth):
    problem, batch = data.draw(problems(kind))
    d_out, d_in = problem.shape
    widths = _widths(data.draw, d_in, d_out, depth)
    net = wide_dln(widths, data.draw(st.floats(0.3, 1.5)), "normal", seed=data.draw(st.integers(0, 999)),
                   batch=batch, device=CPU)
    net.alpha = data.draw(st.sampled_from([1.0, 0.5, 3.0]))  # α scales the step, never the gradient
    loss, E, grads = loss_and_grads(net, problem)
    leaves = [W.clone().requires_grad_(True) for W in net.weights]
    E2 = leaves[0]
    for W in leaves[1:]:
        E2 = W @ E2
    L2 = problem.loss(E2)
    auto = torch.autograd.grad(L2.sum(), leaves)
    assert torch.allclose(loss, L2.detach(), rtol=1e-12, atol=0)
    for g, a in zip(grads, auto):
        assert g.shape == a.shape
        scale = a.abs().max().item()
        assert (g - a).abs().max().item() <= 1e-12 * scale + 1e-300, (g - a).abs().max().item() / scale


# ----------------------------------------------------------------------------------------------
# A batched run equals the same runs one at a time
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["factorisation", "completion"])
@FAST
@given(data=st.data(), B=st.integers(1, 4), depth=st.integers(1, 4), d_out=st.integers(1, 5), d_in=st.integers(1, 5))
def test_batched_run_equals_runs_one_at_a_time(kind, data, B, depth, d_out, d_in):
    """Members of different inner widths (zero-padded), own targets (and masks), own α; 1e-14 relative."""
    seed = data.draw(st.integers(0, 2**16))
    nets = [wide_dln(_widths(data.draw, d_in, d_out, depth), 0.5, "normal", seed=seed + b, device=CPU)
            for b in range(B)]
    for n in nets:
        n.alpha = data.draw(st.sampled_from([1.0, 2.0]))
    M = _randn((B, d_out, d_in), seed)
    norm = data.draw(st.sampled_from(["sum", "mean"]))
    if kind == "factorisation":
        make = lambda T, mask=None: Factorisation(T, norm)
        masks = [None] * B
    else:
        masks = bernoulli_mask(d_out, d_in, 0.7, seed + 1, batch=(B,), device=CPU).clone()
        masks[:, 0, 0] = 1.0
        make = lambda T, mask=None: Completion(T, mask, norm)
    eta = 0.1 if norm == "mean" else 0.1 / (d_out * d_in)
    T = 15
    hb = train(stack_nets(nets), make(M, None if kind == "factorisation" else masks), GD(eta), T,
               record_at=range(T + 1))
    for b in range(B):
        h = train(nets[b], make(M[b], masks[b]), GD(eta), T, record_at=range(T + 1))
        ref = np.abs(h.loss).max()
        assert np.abs(hb.loss[:, b] - h.loss).max() <= 1e-14 * ref
        Eb, E = hb.net.end_to_end()[b], h.net.end_to_end()
        assert (Eb - E).abs().max().item() <= 1e-14 * max(E.abs().max().item(), 1e-300)


# ----------------------------------------------------------------------------------------------
# GD below the stability bound decreases the factorisation loss
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@FAST
@given(data=st.data(), d_out=st.integers(1, 6), d_in=st.integers(1, 6), norm=st.sampled_from(["sum", "mean"]),
       frac=st.floats(0.05, 0.5), comp=st.booleans())
def test_gd_below_the_stability_bound_decreases_the_factorisation_loss(depth, data, d_out, d_in, norm, frac, comp):
    r = data.draw(st.integers(1, min(d_out, d_in)))
    sig = sorted(data.draw(st.lists(st.floats(0.5, 3.0), min_size=r, max_size=r)), reverse=True)
    seed = data.draw(st.integers(0, 2**16))
    P = Factorisation(low_rank_target(d_out, d_in, r, sig, seed=seed, device=CPU), norm)
    eps = data.draw(st.floats(0.05, 0.5))
    if comp and depth >= 2:
        net = cdln(P, data.draw(st.integers(r, min(d_out, d_in))), depth, eps, data.draw(st.floats(0.5, 4.0)))
    else:
        net = wide_dln(_widths(data.draw, d_in, d_out, depth), eps, "orthogonal", seed=seed, device=CPU)
    eta = frac * stability_rule(P, net, GD(1.0)).bound
    h = train(net, P, GD(eta), 20, record_at=range(21))
    assert np.all(np.diff(h.loss) <= 1e-12 * h.loss[0]), np.diff(h.loss).max()
    assert h.loss[-1] < h.loss[0]


# ----------------------------------------------------------------------------------------------
# C-DLN at α = 1 follows Theorem 1
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [2, 3, 4])
@FAST
@given(data=st.data(), d=st.integers(2, 7), eps=st.floats(0.1, 0.5), frac=st.floats(0.05, 0.5),
       norm=st.sampled_from(["sum", "mean"]))
def test_cdln_at_alpha_one_follows_theorem_1(depth, data, d, eps, frac, norm):
    r = data.draw(st.integers(1, d))
    r_hat = data.draw(st.integers(r, d))
    sig = sorted(data.draw(st.lists(st.floats(0.5, 3.0), min_size=r, max_size=r)), reverse=True)
    M = low_rank_target(d, d, r, sig, seed=data.draw(st.integers(0, 2**16)), device=CPU)
    c = Factorisation(M, norm).loss_scale
    eta = frac * stability_bound(sig[0], depth, loss_scale=c)
    chk = cdln_vs_recursion(M, r, r_hat, depth, eps, eta, 80, record_at=20, normalisation=norm)
    assert chk.rel_error <= 1e-9
    assert chk.offdiag <= 1e-9


# ----------------------------------------------------------------------------------------------
# Every validator rejects what it should, by name
# ----------------------------------------------------------------------------------------------

BAD_POSITIVE = st.one_of(st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf")),
                         st.just(-float("inf")), st.text(max_size=3), st.booleans(), st.none(),
                         st.just(complex(1, 1)))
"""Not a finite number > 0: zero and negative floats (±0, -inf), NaN, +inf, strings, bools, None, complex."""

BAD_NONNEG = st.one_of(st.floats(max_value=-1e-300), st.just(float("nan")), st.just(float("inf")),
                       st.text(max_size=3), st.booleans(), st.none())


def BAD_INT(minimum: int):
    """Not an integer >= minimum: too small, floats (``3.0`` too), NaN, strings, bools, None."""
    return st.one_of(st.integers(max_value=minimum - 1), st.floats(allow_nan=True), st.text(max_size=3),
                     st.booleans(), st.none())


_M = torch.diag(torch.tensor([3.0, 2.0, 1.0], dtype=F64))
_P = Factorisation(_M)
_PC = Completion(_M, torch.ones(3, 3, dtype=F64))
_NET = cdln(_M, 2, 3, 0.1)

VALIDATORS = [
    # (what, strategy of bad values, call(value), a word the message must contain)
    ("GD lr", BAD_POSITIVE, lambda v: GD(v), "lr"),
    ("GD weight_decay", BAD_NONNEG, lambda v: GD(0.1, weight_decay=v), "weight_decay"),
    ("Adam lr", BAD_POSITIVE, lambda v: Adam(v), "lr"),
    ("DLN alpha", BAD_POSITIVE, lambda v: DLN([torch.eye(2, dtype=F64)] * 2, alpha=v), "alpha"),
    ("DLN gamma", BAD_NONNEG, lambda v: DLN([torch.eye(2, dtype=F64)] * 2, gamma=v), "gamma"),
    ("cdln eps", BAD_POSITIVE, lambda v: cdln(_M, 2, 3, v), "eps"),
    ("cdln alpha", BAD_POSITIVE, lambda v: cdln(_M, 2, 3, 0.1, v), "alpha"),
    ("narrow_dln depth", BAD_INT(1), lambda v: narrow_dln(3, 3, 2, v, 0.1, device=CPU), "depth"),
    ("wide_dln widths", BAD_INT(1), lambda v: wide_dln([3, v, 3], 0.1, device=CPU), "widths[1]"),
    ("train iterations", BAD_INT(0), lambda v: train(_NET, _P, GD(0.01), v), "iterations"),
    ("rescale_step eta", BAD_POSITIVE, lambda v: rescale_step(v, _P, "mean"), "eta"),
    ("kwon_alpha eta", BAD_NONNEG, lambda v: kwon_alpha([1.0], 1, 2, 0.1, v, 1.0, 5), "eta"),
    ("kwon_alpha eps", BAD_POSITIVE, lambda v: kwon_alpha([1.0], 1, 2, v, 0.1, 1.0, 5), "eps"),
    ("kwon_alpha alpha", BAD_POSITIVE, lambda v: kwon_alpha([1.0], 1, 2, 0.1, 0.1, v, 5), "alpha"),
    ("kwon_alpha depth", BAD_INT(2), lambda v: kwon_alpha([1.0], 1, v, 0.1, 0.1, 1.0, 5), "depth"),
    ("kwon_alpha T", BAD_INT(0), lambda v: kwon_alpha([1.0], 1, 2, 0.1, 0.1, 1.0, v), "T"),
    ("kwon_alpha r_hat", BAD_INT(1), lambda v: kwon_alpha([1.0], v, 2, 0.1, 0.1, 1.0, 5), "r_hat"),
    ("kwon_alpha loss_scale", BAD_POSITIVE, lambda v: kwon_alpha([1.0], 1, 2, 0.1, 0.1, 1.0, 5, v), "loss_scale"),
    ("kwon_alpha sigma_star", BAD_NONNEG, lambda v: kwon_alpha([1.0, v], 2, 2, 0.1, 0.1, 1.0, 5), "sigma_star"),
    ("lop_rho weight_decay", BAD_NONNEG, lambda v: lop_rho(0.5, 0.1, 2, 5, v), "weight_decay"),
    ("stability_bound sigma_max", BAD_POSITIVE, lambda v: stability_bound(v, 3), "sigma_max"),
    ("stability_bound_alpha alpha", BAD_POSITIVE, lambda v: stability_bound_alpha(2.0, 3, v), "alpha"),
    ("learning_time T_max", BAD_INT(1), lambda v: learning_time([1.0], 1, 2, 0.5, 0.5, T_max=v), "T_max"),
    ("top_singular_subspace r", BAD_INT(1), lambda v: top_singular_subspace(_M, v), "r"),
    ("first_crossing level", st.just(float("nan")), lambda v: first_crossing(np.ones(2), np.arange(2), v), "level"),
    ("relative_error M", st.sampled_from(["M", None, 3.0, [1.0]]), lambda v: relative_error(_M, v), "M"),
    ("altmin ridge", BAD_NONNEG, lambda v: altmin(_PC, 1, 2, v), "ridge"),
    ("altmin iterations", BAD_INT(0), lambda v: altmin(_PC, 1, v), "iterations"),
]


@pytest.mark.parametrize("what,bad,call,word", VALIDATORS, ids=[v[0] for v in VALIDATORS])
def test_validators_reject_bad_values_by_name(what, bad, call, word):
    @settings(max_examples=10, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(v=bad)
    def check(v):
        with pytest.raises((TypeError, ValueError)) as e:
            call(v)
        assert re.search(re.escape(word), str(e.value)), f"{what}: {v!r} -> {e.value}"
        assert "Traceback" not in str(e.value)

    check()


def test_validators_accept_good_values():
    """The other side: NumPy scalars and integers pass where Python numbers do (no false alarms)."""
    assert GD(np.float64(0.1)).lr == 0.1
    assert kwon_alpha(np.array([1.0]), np.int64(1), np.int64(2), np.float64(0.1), 0.1, 1.0, np.int64(3)).shape == (4, 1)
    assert math.isfinite(stability_bound(np.float64(2.0), 3))
