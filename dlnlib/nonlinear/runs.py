"""The nonlinear-network experiments of notebooks 21 and 22 ([K] Figs 1, 20, 21, Table 1; talk T1–T3, T10):
one function per kind of run, each taking a preset entry (:mod:`.presets`) and returning plain results.

- :func:`update_dynamics`: train one Fig. 1 architecture and track its penultimate layer.
- :func:`penultimate_run` and :func:`table_rows`: Table 1 runs (linear / DLN / C-DLN penultimate) and their rows.
- :func:`lowrank_run`: T10's low-rank MLP; :func:`layerwise_run`: T1/T3's per-layer compression and separation.
"""

from __future__ import annotations

import numpy as np

from .costs import batch_costs, count_params
from .datasets import Dataset, load_dataset
from .fit import accuracy, fit, fit_full_batch, layerwise_metrics, pick_device
from .models import KIND_LABELS, DeepMLP, LowRankMLP, SmallViT, build_model, build_penultimate_mlp


def dataset_for(spec: dict, flatten: bool, seed: int = 0) -> Dataset:
    """The data set of a preset entry ``spec = {"data", "n_train", "n_test", …}`` (see :mod:`.presets`)."""
    return load_dataset(spec["data"], spec.get("n_train"), spec.get("n_test"), seed=seed, flatten=flatten)


def update_dynamics(arch: str, preset: dict, seed: int = 0, device="auto") -> dict:
    """Train one Fig. 1 architecture and track its penultimate layer (Figs 1, 20; talk T2).

    Returns ``{"fit": FitResult, "shape": (d_out, d_in) of the penultimate matrix, "params": int,
    "n_classes": int}``."""
    spec, track = preset[arch], preset["track"]
    data = dataset_for(spec, flatten=arch in ("dln", "mlp"), seed=seed)
    model = build_model(arch, data, spec["model"], seed)
    res = fit(model, data, seed=seed, device=device, record_every=max(track["sv_every"], 1),
              sv_every=track["sv_every"], dist_every=track["dist_every"], r=track["r"], n_sv=track["n_sv"],
              **spec["fit"])
    shape = tuple(model.penultimate.matrix().shape)
    return {"fit": res, "shape": shape, "params": count_params(model), "n_classes": data.n_classes}



def dynamics_runs(archs, preset: dict, available: dict, cached, device_tag: str) -> tuple[dict, dict]:
    """:func:`update_dynamics` for each architecture in ``archs`` whose data set is ``available``, through the
    caller's result cache ``cached(name, params, compute)`` (the notebook session's), keyed ``nl-fig1-<arch>``.

    Returns ``({arch: result}, {arch: missing data set name})`` so the caller can record a skipped row for each
    missing one.
    """
    runs, missing = {}, {}
    for arch in archs:
        need = preset[arch]["data"]
        if not available[need]:
            missing[arch] = need
            continue
        runs[arch] = cached(f"nl-fig1-{arch}", dict(preset[arch], track=preset["track"], device=device_tag),
                            lambda arch=arch: update_dynamics(arch, preset))
    return runs, missing


def penultimate_run(arch: str, kind: str, preset: dict, seed: int, device="auto") -> dict:
    """One Table 1 run: returns ``{"fit": FitResult, "params", "macs", "memory"}`` (memory for one training batch)."""
    spec = preset[arch]
    data = load_dataset(spec["data"], spec.get("n_train"), spec.get("n_test"), seed=0, flatten=arch == "mlp")
    if arch == "mlp":
        model = build_penultimate_mlp(kind, data, spec["width"], eps=spec["eps"], seed=seed)
    else:
        model = SmallViT(image=data.input_shape[-1], in_ch=data.input_shape[0], n_classes=data.n_classes, seed=seed,
                         pen_kind=kind, eps=spec["eps"], **spec["model"])
    fk = dict(spec["fit"])
    costs = batch_costs(model, data.X_train[: fk["batch_size"]], fk["optimizer"], fk.get("momentum", 0.0))
    res = fit(model, data, seed=seed, device=device, record_every=preset["record_every"], **fk)
    return dict(costs, fit=res)


def table_rows(runs: dict[str, list[dict]]) -> list[dict]:
    """Table 1 rows from ``{kind: [penultimate_run results over seeds]}``: accuracy mean/std (%), time to 99% of
    the final accuracy mean/std (s), total training time, MACs, memory (MB), parameters (M)."""
    rows = []
    for kind, rs in runs.items():
        acc = np.array([r["fit"].final_acc for r in rs])
        t99 = np.array([r["fit"].time_to_fraction(0.99) for r in rs])
        tot = np.array([r["fit"].train_time[-1] for r in rs])
        rows.append({"method": KIND_LABELS.get(kind, kind), "kind": kind, "acc_mean": acc.mean(),
                     "acc_std": acc.std(ddof=1) if len(acc) > 1 else 0.0, "t99_mean": t99.mean(),
                     "t99_std": t99.std(ddof=1) if len(t99) > 1 else 0.0, "time_total": tot.mean(),
                     "macs": rs[0]["macs"], "memory_mb": rs[0]["memory"] / 1e6, "params_m": rs[0]["params"] / 1e6,
                     "n_seeds": len(rs)})
    return rows


def lowrank_run(dataset: str, rank: int | None, spec: dict, seed: int = 0, device="auto") -> dict:
    """T10: train :class:`LowRankMLP` (``rank=None``: normal training) on ``dataset`` with ``spec`` =
    ``{"width", "n_train", "n_test", "fit": fit kwargs}``. Returns ``{"acc", "params", "macs", "memory",
    "train_flops", "fit"}``; ``train_flops = 6 · MACs/sample · samples seen`` (2 FLOPs per MAC, backward ≈ 2×
    forward), a convention, not a measurement."""
    data = load_dataset(dataset, spec.get("n_train"), spec.get("n_test"), seed=0, flatten=True)
    model = LowRankMLP(data.d_in, data.n_classes, spec["width"], rank, seed=seed)
    fk = dict(spec["fit"])
    costs = batch_costs(model, data.X_train[: fk["batch_size"]], fk["optimizer"], fk.get("momentum", 0.0))
    res = fit(model, data, seed=seed, device=device, record_every=fk["iterations"], **fk)
    return dict(acc=res.final_acc, **costs, train_flops=6 * costs["macs"] * fk["batch_size"] * fk["iterations"],
                fit=res)


def layerwise_run(n_nonlinear: int, spec: dict, seed: int = 0, device="auto") -> dict:
    """T1/T3: fit a :class:`DeepMLP` (``spec["depth"]`` layers, ReLU after the first ``n_nonlinear``) to a
    class-balanced training set by full-batch training and measure per-layer compression and separation on it.

    ``spec``: ``{"data", "n_train", "width", "depth", "init", "eps", "fit": fit_full_batch kwargs}``. Returns
    ``{"metrics": layerwise_metrics(...) at the end, "metrics0": at init, "loss": history, "train_acc"}``."""
    dev = pick_device(device)
    data = load_dataset(spec["data"], spec["n_train"], 0 if spec["data"] == "cifar10-subset" else 10, seed=0,
                        flatten=True)
    X, y = data.X_train.to(dev), data.y_train.to(dev)
    model = DeepMLP(data.d_in, data.n_classes, spec["width"], spec["depth"], n_nonlinear, spec.get("init", "uniform"),
                    spec.get("eps", 1.0), seed=seed).to(dev)
    m0 = layerwise_metrics(model, X, y, data.n_classes)
    hist = fit_full_batch(model, X, y, data.n_classes, seed=seed, **spec["fit"])
    return {"metrics": layerwise_metrics(model, X, y, data.n_classes), "metrics0": m0, "loss": np.asarray(hist),
            "train_acc": accuracy(model, X, y), "n_train": len(y)}
