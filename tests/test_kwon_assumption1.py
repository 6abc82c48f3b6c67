"""dlnlib.studies.kwon_assumption1: the spectral recorder, incremental learning times and their order — on small
runs, and the order check fails when components swap or are graded against the wrong σ*."""

from __future__ import annotations

import numpy as np
import torch

import dlnlib as dl
from dlnlib.studies.kwon_assumption1 import assumption1, incremental_times, order_violations, spectral_recorder
from dlnlib.studies.kwon_cor1 import separated_targets
from dlnlib.studies.kwon_thm2 import ordering_violations, orig_and_comp

def test_spectral_recorder_fields():
    M = separated_targets(1, 6, 2, seed=0)
    f = spectral_recorder(M, 2)
    x = f(None, M.clone(), None)  # W = M*: exact fit
    assert x.shape == (1, 5, 2)
    sv, c_val, cu, cv, proj = x[0]
    assert torch.allclose(sv, torch.linalg.svdvals(M)[0, :2])
    assert c_val.max() < 1e-26 and cu.max() < 1e-26 and cv.max() < 1e-26
    assert torch.allclose(proj, sv)
    y = f(None, -M.clone(), None)  # sign flips do not count
    assert y[0, 2].max() < 1e-26


def test_incremental_times_and_order():
    it = np.arange(5)
    c = np.array([[1, 1], [0, 1], [1, 1], [0, 0], [0, 0]], dtype=float)  # i=1 drops, comes back, drops again
    assert incremental_times(c, 0 * c, it, 0.5, 0.5).tolist() == [3, 3]
    assert incremental_times(c, 0 * c + 1, it, 0.5, 0.5).tolist() == [-1, -1]
    assert order_violations(np.array([[1, 2], [2, 1]])) == 1


def test_assumption1_on_a_small_run():
    M = separated_targets(3, 10, 2, seed=4)
    oc = orig_and_comp(dl.Factorisation(M), 2, 4, 3, 0.1, 0.03, 1500, record_at=60)
    a = assumption1(oc.rec_orig, oc.sigma_star, oc.iterations)
    assert a.order_violations == 0 and a.final_c_val_rel < 1e-10 and a.final_c_vec < 1e-10
    n, worst = ordering_violations(oc.err_orig, oc.err_comp, 1e-12)
    assert n == 0 and worst < 0



# ---- each check fails when fed a perturbed closed form, a wrong pairing or a wrong formula ----



def test_assumption1_order_fails_when_components_swap():
    it = np.arange(6)
    c = np.ones((6, 1, 2))
    c[2:, 0, 1] = 0  # component 2 fitted at t = 2
    c[4:, 0, 0] = 0  # component 1 only at t = 4
    t = incremental_times(c, 0 * c, it, 0.5, 0.5)
    assert t.tolist() == [[4, 2]] and order_violations(t) == 1


def test_assumption1_order_fails_on_wrong_target_pairing():
    """c_val graded against σ* in the wrong order (σ_1(t) compared with σ_2*): the run no longer 'fits in order'."""
    M = separated_targets(2, 10, 2, seed=6)
    oc = orig_and_comp(dl.Factorisation(M), 2, 4, 3, 0.1, 0.03, 1200, record_at=60)
    ok = assumption1(oc.rec_orig, oc.sigma_star, oc.iterations)
    assert ok.order_violations == 0
    rec = oc.rec_orig.copy()
    wrong = oc.sigma_star[:, ::-1]
    rec[:, :, 1] = (rec[:, :, 0] - wrong[None]) ** 2
    assert assumption1(rec, wrong.copy(), oc.iterations).order_violations > 0
