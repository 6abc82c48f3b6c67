"""dlnlib.studies.kwon_thm2: Proposition 1 (flow gap, convergence order, velocity residual) and Theorem 2 (ordering,
orig-and-comp runs, α batches) on small problems; each check fails with a wrong flow, formula or recursion. (Also
dlnlib.theory.learning_time and recursion_recovery_error against simulation.)"""

from __future__ import annotations

import numpy as np
import pytest

import dlnlib as dl
from dlnlib.networks import wide_dln
from dlnlib.studies.kwon_assumption1 import spectral_recorder
from dlnlib.studies.kwon_cor1 import separated_targets
from dlnlib.studies.kwon_thm2 import (comp_errors, convergence_order, flow_gap, ordering_point, ordering_violations,
                                      orig_and_comp, prop1_point, velocity_residual)
from dlnlib.studies.perturbed import perturbed_recursion
from dlnlib.theory import kwon_alpha, learning_time, recursion_recovery_error, sv_flow_rhs
from dlnlib.optim import GD
from dlnlib.train import train

def _predicted_errors(sigma_star, iterations, recursion=None):
    """C-DLN's MF recovery error ``(K, B)`` predicted for ``r̂ = 4, L = 3, ε = 0.1, η = 0.03``: by
    :func:`theory.recursion_recovery_error`, or by the same formula on another ``recursion``."""
    if recursion is None:
        return np.stack([recursion_recovery_error(s, 4, 3, 0.1, 0.03, 1.0, iterations) for s in sigma_star], 1)
    cols = []
    for s in sigma_star:
        p = recursion(s, 4, 3, 0.1, 0.03, 1.0, int(np.max(iterations)))[iterations]
        cols.append(np.linalg.norm(p - np.concatenate([s, np.zeros(4 - s.size)]), axis=1) / np.linalg.norm(s))
    return np.stack(cols, 1)


def test_recursion_recovery_error_equals_simulation():
    M = separated_targets(2, 10, 2, seed=6)
    oc = orig_and_comp(dl.Factorisation(M), 2, 4, 3, 0.1, 0.03, 400, record_at=20, spectral=False)
    e = _predicted_errors(oc.sigma_star, oc.iterations)
    assert np.allclose(e, oc.err_comp, rtol=1e-9)


def test_comp_errors_alpha_batch():
    M = separated_targets(2, 8, 2, seed=7)
    it, e = comp_errors(dl.Factorisation(M), 4, 3, 0.1, 0.02, 100, [1.0, 2.0], record_at=5)
    oc = orig_and_comp(dl.Factorisation(M), 2, 4, 3, 0.1, 0.02, 100, record_at=5, spectral=False)
    assert e.shape == (len(it), 2, 2)
    assert np.allclose(e[:, 0], oc.err_comp, rtol=1e-12)


def test_convergence_order_and_flow_gap():
    assert convergence_order([1, 0.5, 0.25], [4, 1, 0.25]) == pytest.approx(2.0)
    sig = np.array([[2.0, 1.0]])
    etas = [0.04, 0.02, 0.01]
    gaps = []
    for eta in etas:
        T = int(round(8 / eta))
        p = kwon_alpha(sig[0], 2, 3, 0.2, eta, 1.0, T)
        its = np.arange(0, T + 1, T // 20)
        gaps.append(flow_gap(p[its][:, None, :], its * eta, sig, 3, 0.2**3))
    assert abs(convergence_order(etas, gaps) - 1) < 0.2


def test_velocity_residual_is_first_order():
    M = separated_targets(2, 8, 2, seed=8)
    P = dl.Factorisation(M)
    res = []
    for eta in (0.04, 0.02):
        its = np.array([20, 21]) * int(0.04 / eta)
        its[1] = its[0] + 1
        net = wide_dln([8] * 4, 0.3, seed=0, batch=(2,))
        h = train(net, P, GD(eta), int(its[1]), record_at=its, recorders={"s": spectral_recorder(M, 2)})
        x = np.asarray(h["s"])
        res.append(velocity_residual(x[:1, :, 0], x[1:, :, 0], x[:1, :, 4], eta, 3).max())
    assert res[1] < 0.7 * res[0]


def test_learning_time():
    t = learning_time([2.0, 1.0], 2, 2, 0.1, 0.1)
    p = kwon_alpha([2.0, 1.0], 2, 2, 0.1, 0.1, 1.0, t)
    assert (p[t] >= 0.99 * np.array([2.0, 1.0])).all() and not (p[t - 1] >= 0.99 * np.array([2.0, 1.0])).all()
    assert learning_time([1.0], 1, 3, 1e-6, 1e-3, T_max=100) == -1



# ---- each check fails when fed a perturbed closed form, a wrong pairing or a wrong formula ----



def _gd_sv(etas, sig, recursion):
    out = []
    for eta in etas:
        T = int(round(8 / eta))
        its = np.arange(0, T + 1, T // 20)
        out.append((recursion(sig[0], 2, 3, 0.2, eta, 1.0, T)[its][:, None, :], its * eta))
    return out


def test_prop1_order_fails_with_wrong_flow():
    sig, etas = np.array([[2.0, 1.0]]), [0.04, 0.02, 0.01]

    def wrong_flow(sigma, depth, s0, times, dt, loss_scale):  # exponent 1 − 2/L instead of 1 − 1/L
        rhs = lambda s: -depth * (s * s) ** (1.0 - 2.0 / depth) * (s - sigma)
        s, out, t = np.full(sigma.shape, s0), [], 0.0
        for tt in times:
            while t < tt - 1e-12:
                h = min(dt, tt - t)
                s, t = s + h * rhs(s), t + h
            out.append(s.copy())
        return np.array(out)

    runs = _gd_sv(etas, sig, kwon_alpha)
    good = [flow_gap(x, ts, sig, 3, 0.2**3) for x, ts in runs]
    bad = [flow_gap(x, ts, sig, 3, 0.2**3, flow=wrong_flow) for x, ts in runs]
    assert abs(convergence_order(etas, good) - 1) <= 0.2
    assert not abs(convergence_order(etas, bad) - 1) <= 0.2


def test_prop1_order_fails_with_perturbed_recursion():
    sig, etas = np.array([[2.0, 1.0]]), [0.04, 0.02, 0.01]
    runs = _gd_sv(etas, sig, perturbed_recursion("exponent"))
    gaps = [flow_gap(x, ts, sig, 3, 0.2**3) for x, ts in runs]
    assert not abs(convergence_order(etas, gaps) - 1) <= 0.2


def test_prop1_velocity_residual_fails_with_wrong_rhs():
    s = np.array([[[1.0, 0.5]]])
    proj = np.array([[[2.0, 1.0]]])
    step = 1e-6
    s_next = s + step * sv_flow_rhs(s, proj, 3)  # an exact Euler step of Proposition 1
    assert velocity_residual(s, s_next, proj, step, 3).max() < 1e-9
    wrong = lambda x, p, L: -L * (x * x) ** (1 - 2 / L) * (x - p)
    assert velocity_residual(s, s_next, proj, step, 3, rhs=wrong).max() > 0.1


def test_thm2_ordering_fails_on_perturbed_recursion():
    M = separated_targets(3, 10, 2, seed=7)
    oc = orig_and_comp(dl.Factorisation(M), 2, 4, 3, 0.1, 0.03, 800, record_at=40, spectral=False)
    ok = _predicted_errors(oc.sigma_star, oc.iterations)
    assert ordering_violations(oc.err_orig, ok, 1e-12)[0] == 0
    for kind in ("exponent", "init"):
        bad = _predicted_errors(oc.sigma_star, oc.iterations, perturbed_recursion(kind))
        assert ordering_violations(oc.err_orig, bad, 1e-12)[0] > 0


def test_ordering_point_and_prop1_point():
    """notebook 04's sweep points: ordering_point = orig_and_comp (+ comp_errors at α > 1, None without); prop1_point
    records C-DLN at round(τ/η) and the original at consecutive pairs of the interior times."""
    M = separated_targets(2, 8, 2, seed=0)
    prob = dl.Factorisation(M)
    pt = ordering_point(prob, 2, 4, 3, 0.1, 0.02, 60, alphas=[2.0], record_at=20)
    oc = orig_and_comp(prob, 2, 4, 3, 0.1, 0.02, 60, record_at=20)
    assert np.array_equal(pt["oc"].err_comp, oc.err_comp) and np.array_equal(pt["oc"].err_orig, oc.err_orig)
    its, err = comp_errors(prob, 4, 3, 0.1, 0.02, 60, [2.0], record_at=20)
    assert np.array_equal(pt["alpha"][1], err)
    assert ordering_point(prob, 2, 4, 3, 0.1, 0.02, 20, record_at=20)["alpha"] is None
    taus = np.linspace(0, 0.4, 5)
    p1 = prop1_point(M, 2, 3, 0.1, 0.02, taus)
    assert p1["its"].tolist() == [0, 5, 10, 15, 20] and p1["pairs"].tolist() == [5, 6, 10, 11, 15, 16]
    assert p1["comp"].shape == (5, 2, 5, 2) and p1["orig"].shape == (6, 2, 5, 2)
