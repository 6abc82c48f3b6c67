"""Run sizes of the nonlinear-network figures, per scale (``ci``, ``cpu``, ``paper``): pure data, shared by
notebooks 21 and 22 so that they share cached runs.

:data:`FIG1_PRESETS` (Figs 1, 20; talk T2) and :data:`TABLE1_PRESETS` (Fig. 21, Table 1) map a scale to the
keyword arguments of :func:`dlnlib.nonlinear.runs.update_dynamics` / :func:`~dlnlib.nonlinear.runs.penultimate_run`:
per architecture ``{"data", "n_train", "n_test", "model" (or "width"), "fit": fit kwargs, …}``. The builders below
state once what a scale does not change (optimiser, step, batch, data set).
"""

from __future__ import annotations

#: Fig. 1's DLN: every layer linear, ε-orthogonal init.
_DLN = dict(n_nonlinear=0, init="orthogonal", eps=1.0)


def _mnist(n_train: int | None, n_test: int | None, width: int, iterations: int, **model) -> dict:
    """Fig. 1's 4-layer MLP (or DLN with ``**_DLN``) on MNIST: SGD, η = 0.01, batch 128 ([K] App. A.4)."""
    return dict(data="mnist", n_train=n_train, n_test=n_test, model=dict(width=width, depth=4, **model),
                fit=dict(optimizer="sgd", lr=0.01, batch_size=128, iterations=iterations))


def _vgg(channels: tuple[int, ...], width: int, batch_size: int, iterations: int) -> dict:
    """Fig. 1's VGG-style CNN on the CIFAR-10 subset: SGD, η = 0.05, momentum 0.9, weight decay 5e-4, cosine."""
    return dict(data="cifar10-subset", n_train=None, n_test=None, model=dict(channels=channels, width=width),
                fit=dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, cosine=True,
                         batch_size=batch_size, iterations=iterations))


def _vit(model: dict, lr: float, batch_size: int, iterations: int, seeds: list[int] | None = None) -> dict:
    """A small ViT on the CIFAR-10 subset with Adam and cosine annealing; with ``seeds``: a Table 1 entry
    (``α = 1``, ``ε = 1``)."""
    fit = dict(optimizer="adam", lr=lr, cosine=True, batch_size=batch_size, iterations=iterations)
    if seeds is None:
        return dict(data="cifar10-subset", n_train=None, n_test=None, model=model, fit=fit)
    return dict(data="cifar10-subset", n_train=None, n_test=None, seeds=seeds, model=model, fit=dict(fit, alpha=1.0),
                eps=1.0)


def _track(every: int, n_sv: int) -> dict:
    """Penultimate-layer trackers: singular values and eq. (20) (``r = 10``) every ``every`` steps."""
    return dict(sv_every=every, dist_every=every, r=10, n_sv=n_sv)


def _fashion(n_train: int | None, n_test: int | None, width: int, seeds: list[int], lr: float,
             iterations: int) -> dict:
    """Table 1's MLP on Fashion-MNIST: SGD, batch 128, ``α = 1``, ``ε = 1``."""
    return dict(data="fashion-mnist", n_train=n_train, n_test=n_test, width=width, seeds=seeds,
                fit=dict(optimizer="sgd", lr=lr, batch_size=128, iterations=iterations, alpha=1.0), eps=1.0)


#: Fig. 1 / Fig. 20 / T2: the four architectures whose penultimate weights are tracked. ``paper``: [K] App. A.4
#: optimisers and step sizes; sizes and lengths are not given in [K], so they are our choice (marked "ours");
#: the CIFAR-10 runs can only use the 4,000-image subset that the workbook ships. ``cpu``: what a 2-core CPU runs
#: in about a minute (narrower nets, fewer steps, larger steps for the short runs). ``ci``: a few seconds.
FIG1_PRESETS: dict[str, dict] = {
    "ci": dict(dln=_mnist(2000, 500, 64, 100, **_DLN), mlp=_mnist(2000, 500, 64, 100),
               vgg=_vgg((4, 8, 16), 32, 64, 40),
               vit=_vit(dict(patch=8, dim=32, depth=1, heads=2, mlp_dim=64), 1e-3, 64, 40),
               track=_track(20, 32)),
    "cpu": dict(dln=_mnist(None, 2000, 256, 1500, **_DLN), mlp=_mnist(None, 2000, 256, 1500),
                vgg=_vgg((8, 16, 32), 128, 128, 400),
                vit=_vit(dict(patch=8, dim=64, depth=2, heads=4, mlp_dim=256), 1e-3, 128, 500),
                track=_track(25, 64)),
    "paper": dict(dln=_mnist(None, None, 512, 20000, **_DLN), mlp=_mnist(None, None, 512, 20000),
                  vgg=_vgg((64, 128, 256, 512), 512, 128, 6000),
                  vit=_vit(dict(patch=4, dim=768, depth=12, heads=12, mlp_dim=3072), 1e-5, 512, 6000),
                  track=_track(100, 64)),
}

#: Fig. 21 / Table 1: MLP on Fashion-MNIST with a linear / DLN / C-DLN penultimate layer; small ViT on the
#: CIFAR-10 subset with the last MLP block's ``fc2`` linear / DLN / C-DLN. ``paper``: [K] §4.2 (MLP width 784,
#: which reproduces Table 1's parameter counts 1.850M / 3.080M / 1.300M; η = 5e-3, α = 1, r̂ = 4·d_y = 40,
#: 5 seeds; ViT 6 blocks, dim 512, MLP 3072, η = 1e-4 (Adam), cosine; lengths not given, ours).
TABLE1_PRESETS: dict[str, dict] = {
    "ci": dict(mlp=_fashion(4000, 1000, 128, [0, 1], 0.05, 100),
               vit=_vit(dict(patch=8, dim=64, depth=1, heads=2, mlp_dim=256), 1e-3, 64, 40, seeds=[0]),
               record_every=10),
    "cpu": dict(mlp=_fashion(None, 5000, 256, [0, 1, 2], 0.05, 1500),
                vit=_vit(dict(patch=8, dim=64, depth=2, heads=4, mlp_dim=256), 1e-3, 64, 300, seeds=[0, 1]),
                record_every=50),
    "paper": dict(mlp=_fashion(None, None, 784, [0, 1, 2, 3, 4], 5e-3, 50000),
                  vit=_vit(dict(patch=4, dim=512, depth=6, heads=8, mlp_dim=3072), 1e-4, 128, 20000,
                           seeds=[0, 1, 2, 3, 4]),
                  record_every=500),
}
