"""Costs of a model, counted rather than profiled ([K] Table 1; talk T10): parameters, multiply–accumulates per
sample of the forward pass (from the layer shapes) and training memory (parameters, gradients, optimiser state and
the activations autograd saves for one batch, measured with saved-tensor hooks)."""

from __future__ import annotations

import torch
from torch import nn

from .._util import Tensor
from .models import DLNLayer, LinearLayer, LowRankLinear, ViTBlock


def count_params(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, example: Tensor) -> int:
    """Multiply–accumulates of one forward pass **per sample**, counted from the layer shapes with forward hooks:
    :class:`LinearLayer`/:class:`LowRankLinear`/:class:`DLNLayer` (``Σ d_out·d_in`` per factor and token),
    ``nn.Conv2d`` (``k²·C_in·C_out·H_out·W_out``) and the attention products of :class:`SmallViT`
    (``2·T²·dim`` per block). Element-wise operations are not counted.

    >>> from dlnlib.nonlinear.models import PenultimateMLP
    >>> m = PenultimateMLP(4, 2, 3, 1, "dln")
    >>> count_macs(m, torch.zeros(5, 4))  # 4·3 + 3·(3·3) + 3·2
    45
    """
    total = [0]
    hooks = []

    def lin(mod, inp, out):
        x = inp[0]
        tokens = x.numel() // x.shape[-1]
        if isinstance(mod, DLNLayer):
            total[0] += tokens * sum(W.shape[0] * W.shape[1] for W in mod.factors)
        elif isinstance(mod, LowRankLinear):
            total[0] += tokens * (mod.A.numel() + mod.B.numel())
        else:
            total[0] += tokens * mod.weight.numel()

    def conv(mod, inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1]
        total[0] += out.numel() * k * mod.in_channels // mod.groups

    def attn(mod, inp, out):
        B, T, D = inp[0].shape
        total[0] += B * 2 * T * T * D

    for m in model.modules():
        if isinstance(m, (LinearLayer, DLNLayer, LowRankLinear)):
            hooks.append(m.register_forward_hook(lin))
        elif isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, ViTBlock):
            hooks.append(m.register_forward_hook(attn))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in hooks:
            h.remove()
    return total[0] // example.shape[0]


def activation_bytes(model: nn.Module, example: Tensor, loss_fn=None, y: Tensor | None = None) -> int:
    """Bytes of the tensors autograd saves in one forward pass on the batch ``example`` (unique storages)."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t):
        try:
            seen[(t.data_ptr(), t.numel())] = t.numel() * t.element_size()
        except Exception:  # pragma: no cover
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(example)
        if loss_fn is not None and y is not None:
            loss_fn(out, y)
    params = {p.data_ptr() for p in model.parameters()}
    return int(sum(v for k, v in seen.items() if k[0] not in params))


def training_memory(model: nn.Module, example: Tensor, optimizer: str = "sgd", momentum: float = 0.0) -> dict:
    """Training memory estimate in bytes for one batch ``example``: parameters, gradients, optimiser state
    (momentum buffer for SGD with momentum, two moments for Adam) and saved activations; ``"total"`` their sum."""
    pbytes = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    n_state = 2 if optimizer == "adam" else (1 if momentum else 0)
    act = activation_bytes(model, example.clone())
    return {"params": pbytes, "grads": pbytes, "optimizer": n_state * pbytes, "activations": act,
            "total": pbytes * (2 + n_state) + act}


def batch_costs(model: nn.Module, example: Tensor, optimizer: str = "sgd", momentum: float = 0.0) -> dict:
    """``{"params", "macs", "memory"}`` of ``model`` for one training batch ``example (B, …)``: trainable
    parameters, :func:`count_macs` per sample (on the first 8 samples) and :func:`training_memory`'s total bytes."""
    return {"params": count_params(model), "macs": count_macs(model, example[:8]),
            "memory": training_memory(model, example, optimizer, momentum)["total"]}
