"""dlnlib.nonlinear.presets and runs: every scale names the same runs; Table 1 rows; the runs on real data."""

import numpy as np
import pytest

from dlnlib import data as D
from dlnlib.nonlinear import presets, runs
from dlnlib.nonlinear.fit import FitResult


def test_presets_cover_every_scale_with_the_same_runs():
    for table in (presets.FIG1_PRESETS, presets.TABLE1_PRESETS):
        assert set(table) == {"ci", "cpu", "paper"}
        keys = {s: {k: sorted(v) if isinstance(v, dict) else None for k, v in table[s].items()} for s in table}
        assert keys["ci"] == keys["cpu"] == keys["paper"]
    f1 = presets.FIG1_PRESETS
    assert f1["ci"]["dln"]["model"] == dict(width=64, depth=4, n_nonlinear=0, init="orthogonal", eps=1.0)
    assert f1["paper"]["vit"]["fit"]["lr"] == 1e-5 and f1["paper"]["vgg"]["fit"]["momentum"] == 0.9
    t1 = presets.TABLE1_PRESETS["paper"]
    assert t1["mlp"]["width"] == 784 and t1["mlp"]["fit"]["lr"] == 5e-3 and t1["vit"]["seeds"] == [0, 1, 2, 3, 4]
    for s in ("ci", "cpu"):  # smaller scales never run longer than the paper's
        assert f1[s]["mlp"]["fit"]["iterations"] < f1["paper"]["mlp"]["fit"]["iterations"]


def _fit(acc, times):
    z, e = np.zeros((0, 0)), np.zeros(0)
    return FitResult(np.arange(len(acc)), np.asarray(times), np.asarray(acc), e, z, e, e, e,
                     float(acc[-1]), 1.0)


def test_table_rows_mean_std_and_time_to_99():
    rs = {"cdln": [dict(fit=_fit([10.0, 80.0, 90.0], [0.0, 1.0, 2.0]), params=2e6, macs=5, memory=3e6),
                   dict(fit=_fit([10.0, 88.0, 88.0], [0.0, 1.5, 3.0]), params=2e6, macs=5, memory=3e6)]}
    (row,) = runs.table_rows(rs)
    assert row["method"] == "Original + C-DLN" and row["n_seeds"] == 2
    assert row["acc_mean"] == pytest.approx(89.0) and row["acc_std"] == pytest.approx(np.std([90, 88], ddof=1))
    assert row["t99_mean"] == pytest.approx((2.0 + 1.5) / 2) and row["time_total"] == pytest.approx(2.5)
    assert row["params_m"] == 2.0 and row["memory_mb"] == 3.0


@pytest.mark.skipif(not D.available("mnist"), reason="MNIST not in DLN_DATA_DIR")
def test_update_dynamics_tracks_the_penultimate_layer():
    p = {"mlp": dict(presets.FIG1_PRESETS["ci"]["mlp"], n_train=500, n_test=100,
                     fit=dict(optimizer="sgd", lr=0.01, batch_size=64, iterations=20)),
         "track": dict(sv_every=10, dist_every=10, r=4, n_sv=8)}
    d = runs.update_dynamics("mlp", p, device="cpu")
    assert d["shape"] == (64, 64) and d["n_classes"] == 10
    assert d["fit"].update_sv.shape == (3, 8) and d["fit"].sv_iterations.tolist() == [0, 10, 20]


@pytest.mark.skipif(not D.available("mnist"), reason="MNIST not in DLN_DATA_DIR")
def test_lowrank_run_counts_costs():
    spec = dict(width=32, n_train=300, n_test=100, fit=dict(optimizer="adam", lr=1e-3, batch_size=32, iterations=5))
    full, low = runs.lowrank_run("mnist", None, spec, device="cpu"), runs.lowrank_run("mnist", 2, spec, device="cpu")
    assert low["params"] < full["params"] and low["train_flops"] < full["train_flops"]
    assert full["train_flops"] == 6 * full["macs"] * 32 * 5 and 0 <= full["acc"] <= 100
