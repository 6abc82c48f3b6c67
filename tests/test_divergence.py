"""Divergence that knows the problem: the message quotes this problem's stability rule, and growth is detected
for Adam and heavy-ball momentum too (``dlnlib.train.DIVERGENCE_FACTOR``)."""

import numpy as np
import pytest
import torch

import dlnlib.theory
from dlnlib.networks import cdln, wide_dln
from dlnlib.optim import GD, Adam, DivergenceError
from dlnlib.problems import Factorisation, low_rank_target, make_problem
from dlnlib.train import DIVERGENCE_FACTOR, train

F64 = torch.float64


def test_completion_divergence_quotes_the_completion_rule():
    P = make_problem("mc", 10, 2, p=0.5)
    net = wide_dln([10] * 4, 0.3, seed=0)
    with pytest.raises(DivergenceError) as e:
        train(net, P, GD(500.0), 100)
    msg = str(e.value)
    rule = dlnlib.theory.stability_rule(P, net, GD(500.0))
    assert "Reduce η — for this completion ('observed' loss; c_eff = c·|Ω|/(d_out·d_in) = 0.01" in msg
    assert msg.endswith(rule.text) and "here η = 500 is 125× that" in msg
    assert "for factorisation with the ½‖·‖² loss" not in msg  # the old generic rule is gone
    assert "(the limit is divergence_factor = 1e+10, the default for GD)" in msg


def test_factorisation_divergence_quotes_alpha_in_the_rule():
    P = Factorisation(low_rank_target(5, 5, 2, [3.0, 2.0], seed=0))
    with pytest.raises(DivergenceError, match=r"Reduce η \(or α\) — for this factorisation \('sum' loss; c = 1, "
                                              r"σ_max = 3\) with L = 3, α = 3, GD is stable roughly when η < "):
        train(cdln(P, 2, 3, 0.5, alpha=3.0), P, GD(5.0), 200)


def test_a_problem_without_a_rule_falls_back_to_the_generic_text(monkeypatch):
    def no_rule(problem, net, optimizer):
        raise TypeError("no stability rule for a Custom")

    monkeypatch.setattr(dlnlib.theory, "stability_rule", no_rule)
    P = make_problem("mc", 10, 2, p=0.5)
    with pytest.raises(DivergenceError, match=r"Reduce η — for factorisation with the ½‖·‖² loss, GD is stable "
                                              r"roughly when η·L·σ_max\^\(2−2/L\) < 2 \(no closed-form rule"):
        train(wide_dln([10] * 4, 0.3, seed=0), P, GD(500.0), 100)


def test_negative_weight_decay_is_refused_not_reported_as_reduce_eta():
    for make in (lambda: GD(0.1, weight_decay=-1e-3), lambda: Adam(0.1, weight_decay=-1e-3)):
        with pytest.raises(ValueError, match=r"weight_decay must be a finite number in \[0, inf\], got -0.001"):
            make()
    # a positive weight decay enters the rule (it lowers the bound), and the message says λ
    P = Factorisation(low_rank_target(5, 5, 2, [3.0, 2.0], seed=0))
    with pytest.raises(DivergenceError, match=r"η = 5, λ = 0.1\. Reduce η — .*λ = 0.1, GD is stable roughly when "
                                              r"η < 2/\(c·L·σ_max\^\(2−2/L\) \+ λ\)"):
        train(wide_dln([5, 5, 5], 0.5, seed=0), P, GD(5.0, weight_decay=0.1), 200)


def test_adam_growth_without_inf_is_caught():
    """Adam at η = 10 on a 10×10 completion never reaches inf: its loss peaks at ~4e8 × the initial loss and then
    oscillates at ~5×. Under the old limit (1e10 for every optimiser) the run ended as a success."""
    P = make_problem("mc", 10, 2, p=0.5)
    net = wide_dln([10] * 4, 0.3, seed=0)
    old = train(net, P, Adam(10.0), 1000, record_at=range(1001), divergence_factor=1e10)
    assert np.isfinite(old.loss).all() and 1e8 < old.loss.max() / old.loss[0] < 1e10
    with pytest.raises(DivergenceError) as e:
        train(net, P, Adam(10.0), 1000)
    msg = str(e.value)
    assert "(the limit is divergence_factor = 1e+06, the default for Adam)" in msg
    assert "The step size is too large for Adam: Adam η = 10. Reduce η — for this completion" in msg
    assert "Adam has no closed-form stability bound" in msg
    ratio = float(msg.split(", ")[1].split("×")[0])
    assert ratio > DIVERGENCE_FACTOR["adam"]


def test_momentum_growth_names_eta_and_the_momentum():
    P = make_problem("mc", 10, 2, p=0.5)
    with pytest.raises(DivergenceError, match=r"too large for GD with momentum: η = 5, momentum = 0.95\. Reduce η or "
                                              r"the momentum μ = 0.95 — for this completion .* μ = 0.95, GD is stable "
                                              r"roughly when η < 2\(1\+μ\)/"):
        train(wide_dln([10] * 4, 0.3, seed=0), P, GD(5.0, momentum=0.95), 1000)


def test_growth_is_flagged_per_member_under_flag():
    """A batch of Adam steps: the member whose loss grows past 1e6× is frozen and flagged, the other runs on."""
    P = make_problem("mc", 10, 2, p=0.5)
    net = wide_dln([10] * 4, 0.3, seed=0, batch=(2,))
    h = train(net, P, Adam(torch.tensor([0.01, 10.0], dtype=F64)), 200, record_at=range(201), on_divergence="flag")
    assert int(h.diverged_at[0]) == -1 and 0 < int(h.diverged_at[1]) < 200
    assert h.loss[-1, 0] < h.loss[0, 0]
    with pytest.raises(DivergenceError, match=r"runs \[1\] of the batch.*the default for Adam"):
        train(net, P, Adam(torch.tensor([0.01, 10.0], dtype=F64)), 200)


@pytest.mark.parametrize("opt", [lambda: Adam(0.01), lambda: Adam(1.0), lambda: GD(0.5, momentum=0.9)])
def test_normal_adam_and_momentum_runs_are_untouched(opt):
    """Below the limit nothing changes: the history equals the one under an infinite limit, bit for bit (Adam at
    η = 1 peaks at ~6e2× its initial loss and converges)."""
    P = make_problem("mc", 10, 2, p=0.5)
    net = wide_dln([10] * 4, 0.3, seed=0)
    a = train(net, P, opt(), 300, record_at=range(301))
    b = train(net, P, opt(), 300, record_at=range(301), divergence_factor=1e300)
    assert int(a.diverged_at) == -1 and np.array_equal(a.loss, b.loss)
    assert a.loss[-1] < a.loss[0]


def test_the_factor_can_be_set_and_is_checked():
    P = make_problem("mc", 10, 2, p=0.5)
    h = train(wide_dln([10] * 4, 0.3, seed=0), P, Adam(10.0), 50, divergence_factor=1e12)
    assert int(h.diverged_at) == -1
    with pytest.raises(ValueError, match=r"divergence_factor must be a finite number in \(1, inf\], got 0.5"):
        train(wide_dln([10] * 4, 0.3, seed=0), P, Adam(0.1), 5, divergence_factor=0.5)
