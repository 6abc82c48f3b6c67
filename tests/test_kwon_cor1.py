"""dlnlib.studies.kwon_cor1: Lemma 1 and Corollary 1 at t = 0 with the proof chain, and the random instances —
each holds on small instances and fails with a wrong pairing or a perturbed recursion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dlnlib as dl
from dlnlib.studies.kwon_cor1 import corollary1, kwon_targets, lemma1, lemma1_instances, separated_targets
from dlnlib.studies.perturbed import perturbed_recursion

TOL = 1e-10  # the notebooks' tolerance for Theorem 1 checks


def test_lemma1_basic_and_equality():
    g = torch.Generator().manual_seed(0)
    A, B = torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64)
    lhs, rhs = lemma1(A, B)
    assert float(lhs) >= float(rhs)
    U, _, Vh = torch.linalg.svd(A, full_matrices=False)
    Bs = (U * torch.tensor([4.0, 3.0, 2.0, 1.0], dtype=torch.float64)) @ Vh
    lhs, rhs = lemma1(A, Bs)
    assert float(lhs) == pytest.approx(float(rhs), rel=1e-12)
    kinds = {k for _, _, k in lemma1_instances(8)}
    assert kinds == {"gaussian", "low_rank", "perturbed", "shared_svd"}


@pytest.mark.parametrize("L,eps", [(2, 0.5), (3, 1e-2), (5, 1e-3)])
def test_corollary1_holds_and_gap_is_accurate(L, eps):
    M = separated_targets(6, 8, 2, seed=L)
    res = corollary1(M, 2, 4, L, eps, seed=1)
    assert (res.gap > 0).all()
    assert np.allclose(res.gap / res.scale, (res.lhs - res.rhs) / res.scale, atol=1e-3 if eps > 0.1 else 1.0)
    assert np.allclose(res.step1, res.step2, rtol=1e-12)
    assert np.allclose(res.closed, res.rhs, rtol=1e-12)
    assert res.sv0_rel.max() < 1e-12


def test_separated_and_kwon_targets():
    M = separated_targets(4, 7, 3, seed=5)
    s = torch.linalg.svdvals(M)
    assert (s[:, 3:] < 1e-12).all() and ((s[:, 1:3] / s[:, :2]) <= 0.7 + 1e-12).all()
    K = kwon_targets(2, 10, 2, seed=3)
    assert torch.allclose(K[1], dl.kwon_target(10, 2, seed=4))



# ---- each check fails when fed a perturbed closed form, a wrong pairing or a wrong formula ----



def test_lemma1_fails_with_wrong_pairing():
    reversed_pairing = lambda sa, sb: (sa, torch.flip(sb, (-1,)))  # largest with smallest
    viol_ok = viol_bad = 0
    for A, B, _ in lemma1_instances(40, seed=0):
        l, r = lemma1(A, B)
        viol_ok += float(l) < float(r) - 1e-12 * float(A.square().sum() + B.square().sum())
        l, r = lemma1(A, B, pair=reversed_pairing)
        viol_bad += float(l) < float(r) - 1e-12 * float(A.square().sum() + B.square().sum())
    assert viol_ok == 0 and viol_bad > 0


def test_corollary1_chain_fails_on_perturbed_recursion():
    M = separated_targets(4, 8, 2, seed=4)
    ok = corollary1(M, 2, 4, 3, 0.1)
    bad = corollary1(M, 2, 4, 3, 0.1, recursion=perturbed_recursion("init"))
    assert ok.sv0_rel.max() <= TOL and np.allclose(ok.closed, ok.rhs, rtol=1e-12)
    assert not bad.sv0_rel.max() <= TOL
    assert not np.allclose(bad.closed, bad.rhs, rtol=1e-12)


def test_corollary1_inequality_fails_when_comp_is_worse():
    """The violation count the notebook asserts is > 0 if the 'compressed' side is started farther away."""
    M = separated_targets(4, 8, 2, seed=5)
    ok = corollary1(M, 2, 4, 3, 0.5)
    assert (ok.gap >= -1e-12 * ok.scale).all()
    worse = corollary1(M, 2, 4, 3, 0.5, init="orthogonal")
    gap_bad = worse.lhs - (worse.rhs + 2 * worse.scale)  # comp error inflated beyond the margin
    assert (gap_bad < -1e-12 * worse.scale).any()
