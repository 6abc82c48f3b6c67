"""dlnlib.recorders: the completion test losses of the official codes recorded in a training History."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnlib.metrics import half_mse_masked, half_mse_unobserved
from dlnlib.networks import wide_dln
from dlnlib.optim import GD
from dlnlib.problems import Completion, Factorisation, exact_count_mask, low_rank_target
from dlnlib.recorders import BUILTIN
from dlnlib.train import train

F64 = torch.float64


def test_completion_test_losses_are_recorded():
    M = low_rank_target(8, 8, 2, seed=0)
    P = Completion(M, exact_count_mask(8, 8, 0.5, seed=1), "mean")
    assert {"half_mse_unobserved", "half_mse_masked"} <= set(BUILTIN)
    h = train(wide_dln([8, 8, 8, 8], 0.3, seed=2), P, GD(20.0), 300, record_at=[0, 150, 300],
              record=("loss", "test_error", "half_mse_unobserved", "half_mse_masked"))
    assert h["half_mse_unobserved"].shape == h["half_mse_masked"].shape == (3,)
    np.testing.assert_allclose(h["half_mse_unobserved"], 0.5 * h["test_error"], rtol=1e-14, atol=0)
    np.testing.assert_allclose(h["half_mse_masked"], h["half_mse_unobserved"] * 32 / 64, rtol=1e-14, atol=0)
    W = h.net.end_to_end()
    assert h["half_mse_masked"][-1] == float(half_mse_masked(W, P))
    assert h["half_mse_unobserved"][-1] == float(half_mse_unobserved(W, P))
    assert h["half_mse_masked"][-1] < h["half_mse_masked"][0]  # training on Ω lowers the error off Ω here


def test_completion_test_losses_recorded_for_a_batch():
    M = low_rank_target(6, 6, 1, seed=0)
    P = Completion(M, exact_count_mask(6, 6, 0.5, seed=1, batch=(2,)))
    h = train(wide_dln([6, 6, 6], 0.2, seed=3, batch=(2,)), P, GD(0.5), 20, record_at=[0, 20],
              record=("half_mse_unobserved", "half_mse_masked"))
    assert h["half_mse_unobserved"].shape == (2, 2) == h["half_mse_masked"].shape


@pytest.mark.parametrize("name", ["half_mse_unobserved", "half_mse_masked"])
def test_completion_test_losses_need_a_completion(name):
    P = Factorisation(torch.eye(3, dtype=F64))
    with pytest.raises(ValueError, match=f"{name} is defined for completion problems only"):
        train(wide_dln([3, 3, 3], 0.1, seed=0), P, GD(0.1), 1, record=(name,))
