"""Training the nonlinear networks and what it records ([K] Figs 1, 20, 21, Table 1; talk T1–T3, T10).

:func:`fit`: mini-batch SGD (momentum, weight decay) or Adam, optional cosine annealing, per-group step multipliers
(C-DLN's ``α`` on the outer factors, :func:`param_groups`); records test accuracy against iterations and against
the **training** wall-clock time (evaluation excluded), and the penultimate-layer trackers: the singular values of
``W(t) − W(0)`` (Fig. 1) and the subspace distance ``r − ‖U_r(t)ᵀU_r(t+1)‖_F²`` between consecutive iterations
(eq. 20, Fig. 20). :func:`fit_full_batch` fits a training set (T1/T3); :func:`layerwise_metrics` measures per-layer
compression and separation. The device is ``cuda`` when available (``device="auto"``); computations run in float32.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .._util import Tensor, check_integer, check_positive, check_real
from ..metrics import compression, first_crossing, separation, subspace_distance, top_singular_subspace
from .datasets import Dataset
from .models import DeepMLP


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``cuda`` if available for ``"auto"``, else the given device."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N' (or a torch.device), got {device!r}.") from e


def param_groups(model: nn.Module, lr: float, alpha: float = 1.0) -> list[dict]:
    """Optimiser groups: C-DLN outer factors (``CDLNLayer.outer_names``) at ``α·lr``, everything else at ``lr``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    check_positive("lr (the step size η)", lr)
    check_positive("alpha (the outer factors' step multiplier α)", alpha)
    outer = []
    for name, mod in model.named_modules():
        for o in getattr(mod, "outer_names", ()):
            outer.append(f"{name}.{o}" if name else o)
    fast, rest = [], []
    for name, p in model.named_parameters():
        (fast if name in outer else rest).append(p)
    groups = [{"params": rest, "lr": lr}]
    if fast:
        groups.append({"params": fast, "lr": alpha * lr})
    return groups


@dataclass
class FitResult:
    """What :func:`fit` recorded. ``iterations (K,)``, ``train_time (K,)`` seconds of training (evaluation excluded),
    ``test_acc (K,)`` in %, ``train_loss (K,)`` (mean over the steps since the last record),
    ``update_sv (K', q)`` singular values of ``W(t) − W(0)`` and ``weight_sv (K', q)`` those of ``W(t)`` at
    ``sv_iterations (K',)``, ``subspace_dist (K'',)``
    eq. (20) between ``t`` and ``t+1`` at ``dist_iterations``; ``final_acc``; ``seconds_per_step``."""

    iterations: np.ndarray
    train_time: np.ndarray
    test_acc: np.ndarray
    train_loss: np.ndarray
    update_sv: np.ndarray
    sv_iterations: np.ndarray
    subspace_dist: np.ndarray
    dist_iterations: np.ndarray
    final_acc: float
    seconds_per_step: float
    weight_sv: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    extra: dict = field(default_factory=dict)

    def time_to_fraction(self, fraction: float = 0.99) -> float:
        """Training time until the test accuracy first reaches ``fraction`` × its final value (Table 1's "time to
        99%", read as in conventions §9.10; :func:`dlnlib.metrics.first_crossing`, ``inf`` if never)."""
        return first_crossing(self.test_acc, self.train_time, fraction * self.final_acc)


@torch.no_grad()
def accuracy(model: nn.Module, X: Tensor, y: Tensor, batch: int = 2048) -> float:
    """Classification accuracy in % (eval mode)."""
    _check_xy(X, y)
    check_integer("batch", batch, 1)
    was = model.training
    model.eval()
    correct = 0
    for i in range(0, len(y), batch):
        correct += int((model(X[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    model.train(was)
    return 100.0 * correct / max(len(y), 1)


def fit(model: nn.Module, data: Dataset, *, iterations: int, batch_size: int = 128, lr: float = 0.01,
        optimizer: str = "sgd", momentum: float = 0.0, weight_decay: float = 0.0, alpha: float = 1.0,
        cosine: bool = False, loss: str = "ce", record_every: int = 50, sv_every: int | None = None,
        dist_every: int | None = None, r: int = 10, n_sv: int = 40, seed: int = 0, eval_test: int | None = None,
        device: str | torch.device = "auto") -> FitResult:
    """Train ``model`` on ``data`` for ``iterations`` mini-batch steps and record what Figs 1, 20, 21 and Table 1 need.

    ``optimizer``: ``"sgd"`` (``momentum``, ``weight_decay``) or ``"adam"``; ``alpha`` multiplies the step of
    C-DLN outer factors; ``cosine``: cosine annealing of every group's step to 0 over ``iterations``.
    ``loss``: ``"ce"`` (cross-entropy) or ``"mse"`` (½·mean over classes of the squared error to one-hot labels).
    Every ``record_every`` steps: test accuracy (on the first ``eval_test`` test samples, default all) and the
    training time so far. ``sv_every``: the top ``n_sv`` singular values of ``W(t) − W(0)`` for
    ``model.penultimate`` (its end-to-end matrix); ``dist_every``: eq. (20) with ``r`` between ``U_r(t)`` and
    ``U_r(t+1)`` (one step apart). Batches are drawn by a seeded permutation, epoch after epoch (a ``batch_size``
    above the number of training samples trains on all of them every step). Bad arguments are rejected by name
    before anything is moved or drawn (``ValueError``/``TypeError``: counts are integers ``>= 1``, ``lr`` and
    ``alpha`` finite and ``> 0``, ``momentum`` in ``[0, 1)``, ``optimizer``/``loss`` from their lists); a non-finite
    training loss raises ``FloatingPointError`` naming the step and ``lr``.
    """
    _check_fit_args(model, data, iterations=iterations, batch_size=batch_size, lr=lr, optimizer=optimizer,
                    momentum=momentum, weight_decay=weight_decay, alpha=alpha, cosine=cosine, loss=loss,
                    record_every=record_every, sv_every=sv_every, dist_every=dist_every, r=r, n_sv=n_sv,
                    eval_test=eval_test)
    dev = pick_device(device)
    model = model.to(dev)
    data = data.to(dev)
    torch.manual_seed(seed)
    groups = param_groups(model, lr, alpha)
    if optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}.")
    base_lrs = [gr["lr"] for gr in opt.param_groups]
    K = data.n_classes
    Xte = data.X_test if eval_test is None else data.X_test[:eval_test]
    yte = data.y_test if eval_test is None else data.y_test[:eval_test]

    def loss_fn(out, y):
        if loss == "ce":
            return torch.nn.functional.cross_entropy(out, y)
        return 0.5 * (out - torch.nn.functional.one_hot(y, K).to(out.dtype)).square().mean()

    pen = getattr(model, "penultimate", None)
    W0 = pen.matrix().detach().clone() if pen is not None else None
    g = torch.Generator().manual_seed(seed)
    N = len(data.y_train)
    perm = torch.randperm(N, generator=g).to(dev)
    pos = 0
    its, times, accs, losses = [], [], [], []
    sv_its, svs, wsvs, d_its, dists = [], [], [], [], []
    train_time = 0.0
    run_loss, n_loss = 0.0, 0
    pending_U = None

    def top_u():  # U_r of the penultimate matrix, (d_out, r)
        return top_singular_subspace(pen.matrix().detach().double(), r)

    def record(t):
        its.append(t)
        times.append(train_time)
        accs.append(accuracy(model, Xte, yte))
        losses.append(run_loss / n_loss if n_loss else float("nan"))

    for t in range(iterations + 1):
        with torch.no_grad():
            if pending_U is not None:  # U_r(t) one step after the recorded t-1
                dists.append(float(subspace_distance(pending_U, top_u())))
                pending_U = None
            if t % record_every == 0 or t == iterations:
                record(t)
                run_loss, n_loss = 0.0, 0
            if sv_every and pen is not None and (t % sv_every == 0 or t == iterations):
                Wt = pen.matrix().detach().double()
                s = torch.linalg.svdvals(Wt - W0.double())[:n_sv]
                svs.append(torch.nn.functional.pad(s, (0, n_sv - s.numel())).cpu().numpy())
                s = torch.linalg.svdvals(Wt)[:n_sv]
                wsvs.append(torch.nn.functional.pad(s, (0, n_sv - s.numel())).cpu().numpy())
                sv_its.append(t)
            if dist_every and pen is not None and t % dist_every == 0 and t < iterations:
                pending_U = top_u()
                d_its.append(t)
        if t == iterations:
            break
        if pos + batch_size > N:
            perm = torch.randperm(N, generator=g).to(dev)
            pos = 0
        idx = perm[pos:pos + batch_size]
        pos += batch_size
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        if cosine:
            f = 0.5 * (1 + math.cos(math.pi * t / iterations))
            for gr, b in zip(opt.param_groups, base_lrs):
                gr["lr"] = b * f
        opt.zero_grad(set_to_none=True)
        out = model(data.X_train[idx])
        L = loss_fn(out, data.y_train[idx])
        L.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        train_time += time.perf_counter() - t0
        run_loss += float(L.detach())
        n_loss += 1
        if not math.isfinite(run_loss):
            raise FloatingPointError(f"training diverged at step {t}: loss {run_loss}; lower lr = {lr} (α = {alpha}).")
    return FitResult(np.asarray(its), np.asarray(times), np.asarray(accs), np.asarray(losses),
                     np.asarray(svs) if svs else np.zeros((0, n_sv)), np.asarray(sv_its), np.asarray(dists),
                     np.asarray(d_its[:len(dists)]), float(accs[-1]), train_time / max(iterations, 1),
                     np.asarray(wsvs) if wsvs else np.zeros((0, n_sv)))


def fit_full_batch(model: nn.Module, X: Tensor, y: Tensor, n_classes: int, *, iterations: int, lr: float,
                   optimizer: str = "sgd", momentum: float = 0.9, weight_decay: float = 0.0, loss: str = "mse",
                   seed: int = 0) -> list[float]:
    """Full-batch training on ``(X, y)`` (T1/T3: fit the training set); returns the loss every step."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    _check_xy(X, y)
    _check_dtypes(model, X, "X")
    check_integer("n_classes", n_classes, 1)
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(f"y must lie in [0, n_classes) = [0, {n_classes}), got labels in [{int(y.min())}, "
                         f"{int(y.max())}].")
    _check_steps(iterations=iterations, lr=lr, optimizer=optimizer, momentum=momentum, weight_decay=weight_decay,
                 loss=loss)
    torch.manual_seed(seed)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    Y = torch.nn.functional.one_hot(y, n_classes).float()
    hist = []
    for _ in range(iterations):
        opt.zero_grad(set_to_none=True)
        out = model(X)
        L = torch.nn.functional.cross_entropy(out, y) if loss == "ce" else 0.5 * (out - Y).square().sum(1).mean()
        L.backward()
        opt.step()
        hist.append(float(L.detach()))
        if not math.isfinite(hist[-1]):
            raise FloatingPointError(f"full-batch training diverged (lr = {lr}).")
    return hist


@torch.no_grad()
def layerwise_metrics(model: DeepMLP, X: Tensor, y: Tensor, n_classes: int) -> dict[str, np.ndarray]:
    """Per-layer feature compression ``D_l`` and separation ``S_l`` (un-centred and centred) of
    :meth:`DeepMLP.layer_features` on ``(X, y)`` (conventions §7; :func:`dlnlib.metrics.compression`/``separation``).
    Layer 0 is the input. Returns ``{"compression", "separation", "separation_centred"}`` arrays of length
    ``depth + 1``."""
    if not isinstance(model, DeepMLP):
        raise TypeError(f"model must be a DeepMLP (it has layer_features), got {type(model).__name__}.")
    _check_xy(X, y)
    check_integer("n_classes", n_classes, 2)
    Z = [X.flatten(1)] + model.layer_features(X)
    D, S, Sc = [], [], []
    for z in Z:
        zt = z.double().T  # (d, N)
        D.append(float(compression(zt, y, n_classes)))
        S.append(float(separation(zt, y, n_classes)))
        Sc.append(float(separation(zt, y, n_classes, centred=True)))
    return {"compression": np.asarray(D), "separation": np.asarray(S), "separation_centred": np.asarray(Sc)}


def _check_xy(X, y) -> None:
    """``X (N, …)`` a real floating-point tensor and ``y (N,)`` integer labels, one per sample."""
    for name, x in (("X", X), ("y", y)):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}.")
    if X.ndim < 2 or X.is_complex() or not X.is_floating_point():
        raise TypeError(f"X must be a real floating-point tensor (N, …), got {X.dtype} of shape {tuple(X.shape)}.")
    if y.ndim != 1 or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"y must be an integer tensor of labels (N,), got {y.dtype} of shape {tuple(y.shape)}.")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]} labels.")


def _check_dtypes(model: nn.Module, X: Tensor, what: str) -> None:
    """The model's floating-point parameters and the data share one dtype (float32 as the paper's nets, or float64
    for both: ``model.double()``), instead of torch's matmul error from inside the first step."""
    p = next((q for q in model.parameters() if q.is_floating_point()), None)
    if p is not None and p.dtype != X.dtype:
        raise TypeError(f"the model's parameters are {p.dtype} but {what} is {X.dtype}; use one dtype for both "
                        f"(float32 as the paper's nets, or model.double() with float64 data).")


def _check_steps(*, iterations, lr, optimizer, momentum, weight_decay, loss) -> None:
    check_integer("iterations", iterations, 0)
    check_positive("lr (the step size η)", lr)
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}.")
    check_real("momentum", momentum, low=0.0, high=1.0, high_open=True)
    check_real("weight_decay", weight_decay, low=0.0)
    if loss not in ("ce", "mse"):
        raise ValueError(f"loss must be 'ce' (cross-entropy) or 'mse', got {loss!r}.")


def _check_fit_args(model, data, *, iterations, batch_size, lr, optimizer, momentum, weight_decay, alpha, cosine,
                    loss, record_every, sv_every, dist_every, r, n_sv, eval_test) -> None:
    """Reject bad arguments of :func:`fit` by name, value and what is allowed, before anything is moved or drawn."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a dlnlib.nonlinear.Dataset, got {type(data).__name__}.")
    _check_steps(iterations=iterations, lr=lr, optimizer=optimizer, momentum=momentum, weight_decay=weight_decay,
                 loss=loss)
    _check_dtypes(model, data.X_train, "data.X_train")
    N = len(data.y_train)
    if N == 0:
        raise ValueError("data has no training samples.")
    check_integer("batch_size", batch_size, 1)  # above N: every step takes all N samples (full batch)
    check_positive("alpha (the outer factors' step multiplier α)", alpha)
    if not isinstance(cosine, (bool, np.bool_)):
        raise TypeError(f"cosine must be True or False, got {type(cosine).__name__} {cosine!r}.")
    check_integer("record_every", record_every, 1)
    for name, v in (("sv_every", sv_every), ("dist_every", dist_every)):
        if v is not None:
            check_integer(name, v, 0)  # 0 (like None): not recorded
    check_integer("n_sv", n_sv, 1)
    if dist_every:
        pen = getattr(model, "penultimate", None)
        k = min(pen.matrix().shape) if pen is not None else None
        check_integer("r (the subspace rank of eq. 20)", r, 1, k)
    if eval_test is not None:
        check_integer("eval_test", eval_test, 1)
