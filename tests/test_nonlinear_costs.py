"""dlnlib.nonlinear.costs: Table 1's parameter counts and MACs, low-rank costs, training memory."""

import pytest
import torch

from dlnlib.nonlinear.costs import activation_bytes, batch_costs, count_macs, count_params, training_memory
from dlnlib.nonlinear.models import KINDS, LowRankMLP, PenultimateMLP, SmallVGG, SmallViT


def test_table1_parameter_counts_match_the_paper():
    """[K] Table 1: MLP 1.850M / +DLN 3.080M / +C-DLN 1.300M parameters with width 784 and r̂ = 40."""
    X = torch.zeros(8, 784)
    counts = {k: count_params(PenultimateMLP(784, 10, 784, 2, k, r_hat=40)) for k in KINDS}
    assert round(counts["linear"] / 1e6, 2) == 1.85
    assert round(counts["dln"] / 1e6, 2) == 3.08
    assert round(counts["cdln"] / 1e6, 2) == 1.30
    macs = {k: count_macs(PenultimateMLP(784, 10, 784, 2, k, r_hat=40), X) for k in KINDS}
    assert macs["cdln"] < macs["linear"] < macs["dln"]
    # paper's MACs ratios 1.670 : 2.370 : 3.940 equal the parameter ratios
    assert macs["dln"] / macs["linear"] == pytest.approx(3.94 / 2.37, rel=0.01)
    assert macs["cdln"] / macs["linear"] == pytest.approx(1.67 / 2.37, rel=0.01)


def test_vit_dln_cdln_parameter_changes_match_the_paper():
    """[K] Table 1 ViT: +DLN adds ≈ 18.9M, C-DLN removes ≈ 1.4M (dim 512, MLP 3072, r̂ = 40): check the deltas only."""
    def fc2_params(kind):
        m = SmallViT(image=8, patch=8, dim=512, depth=1, heads=8, mlp_dim=3072, pen_kind=kind)
        return sum(p.numel() for p in m.blocks[-1].fc2.parameters())
    lin, dln, cd = (fc2_params(k) for k in KINDS)
    assert (dln - lin) / 1e6 == pytest.approx(18.9, abs=0.1)
    assert (lin - cd) / 1e6 == pytest.approx(1.4, abs=0.05)


def test_lowrank_mlp_and_costs():
    m = LowRankMLP(100, 10, 50, rank=3)
    assert count_params(m) == 100 * 50 + 50 + 2 * (3 * 50 + 50 * 3 + 50) + 50 * 10 + 10
    assert count_macs(m, torch.zeros(4, 100)) == 100 * 50 + 2 * (2 * 3 * 50) + 50 * 10
    full = LowRankMLP(100, 10, 50)
    x = torch.randn(16, 100)
    mem_full = training_memory(full, x, "adam")
    mem_low = training_memory(m, x, "adam")
    assert mem_full["optimizer"] == 2 * mem_full["params"] and mem_low["total"] < mem_full["total"]
    assert activation_bytes(full, x) > 0
    c = batch_costs(full, x, "adam")
    assert c == {"params": count_params(full), "macs": count_macs(full, x[:8]), "memory": mem_full["total"]}
    assert training_memory(full, x, "sgd", momentum=0.9)["optimizer"] == mem_full["params"]


def test_vgg_macs_count_convolutions():
    x = torch.randn(2, 3, 16, 16)
    vgg = SmallVGG(channels=(4, 8), width=16, image=16)
    conv_macs = 16 * 16 * 4 * 3 * 9 + 8 * 8 * 8 * 4 * 9
    assert count_macs(vgg, x) == conv_macs + 8 * 4 * 4 * 16 + 16 * 16 + 16 * 10
