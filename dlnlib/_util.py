"""Small shared helpers: default dtype/device, generators, input checks."""

from __future__ import annotations

import math
import os
from typing import Sequence

import torch

Tensor = torch.Tensor

DEFAULT_DTYPE = torch.float64


def default_device() -> torch.device:
    """``cuda`` when available, else ``cpu``; override with the ``DLN_DEVICE`` environment variable."""
    name = os.environ.get("DLN_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve(dtype: torch.dtype | None = None, device: str | torch.device | None = None):
    """Return ``(dtype, device)`` with the library defaults (float64, :func:`default_device`) filled in."""
    return (dtype or DEFAULT_DTYPE), (torch.device(device) if device is not None else default_device())


def make_generator(seed: int | torch.Generator | None, device: torch.device | None = None) -> torch.Generator:
    """A CPU ``torch.Generator`` from a seed (random draws are made on the CPU, then moved).

    Drawing on the CPU keeps results identical across devices for the same seed.
    """
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator(device="cpu")
    g.manual_seed(0 if seed is None else int(seed))
    return g


def randn(shape: Sequence[int], gen: torch.Generator, dtype, device) -> Tensor:
    """Standard normal draws of ``shape`` made on the CPU with ``gen`` and moved to ``device``."""
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)


def check_finite(name: str, x: Tensor) -> None:
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf entries; pass a finite tensor.")


def as_real_tensor(name: str, x, ndim_min: int = 2) -> Tensor:
    """The workbook's dtype policy for data given to a public function (targets, masks, measurements, data).

    float64 (the default) and float32 pass through unchanged; integer and bool tensors, NumPy arrays and nested
    lists are converted (NumPy float32 stays float32, everything else becomes float64); float16/bfloat16 (too
    coarse for the checks here) and complex tensors are rejected by name. Shapes are checked by the caller.

    >>> as_real_tensor("target", [[1, 2], [3, 4]]).dtype
    torch.float64
    >>> as_real_tensor("target", torch.ones(2, 2, dtype=torch.complex128))
    Traceback (most recent call last):
    ...
    TypeError: target must be real, got dtype torch.complex128; pass float64 (default) or float32.
    """
    if not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"{name} must be a tensor or an array of numbers, got {type(x).__name__}.") from e
    if x.is_complex():
        raise TypeError(f"{name} must be real, got dtype {x.dtype}; pass float64 (default) or float32.")
    if x.dtype in (torch.float16, torch.bfloat16):
        raise TypeError(f"{name} has dtype {x.dtype}, too coarse for the workbook's checks; pass float64 "
                        "(default) or float32.")
    if not x.is_floating_point():
        x = x.to(DEFAULT_DTYPE)
    if x.ndim < ndim_min:
        raise ValueError(f"{name} must be a matrix of shape (..., rows, cols), got shape {tuple(x.shape)}.")
    return x


def check_matrix(name: str, x: Tensor, shape: tuple[int, int] | None = None) -> None:
    if x.ndim < 2:
        raise ValueError(f"{name} must be a matrix of shape (..., rows, cols), got shape {tuple(x.shape)}.")
    if shape is not None and tuple(x.shape[-2:]) != tuple(shape):
        raise ValueError(f"{name} must have trailing shape {tuple(shape)}, got {tuple(x.shape)}.")


def check_multiplier(name: str, x, allow_zero: bool = False) -> None:
    """A step multiplier (``α``, ``γ``): a real number or a real tensor, finite and ``> 0`` (``≥ 0`` with
    ``allow_zero``).

    >>> check_multiplier("alpha", -1.0)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be finite and > 0, got -1.0.
    """
    what = ">= 0" if allow_zero else "> 0"
    if isinstance(x, Tensor):
        if x.is_complex() or not x.is_floating_point():
            raise TypeError(f"{name} must be a real floating-point tensor, got dtype {x.dtype}.")
        bad = ~torch.isfinite(x) | ((x < 0) if allow_zero else (x <= 0))
        if bad.any():
            raise ValueError(f"{name} must be finite and {what} everywhere, got {x[bad].flatten()[:4].tolist()} "
                             "among its entries.")
        return
    if isinstance(x, bool) or not isinstance(x, (int, float)) and not hasattr(x, "__float__"):
        raise TypeError(f"{name} must be a real number or a tensor, got {type(x).__name__} {x!r}.")
    v = float(x)
    if not (v == v and abs(v) != float("inf")) or (v < 0 if allow_zero else v <= 0):
        raise ValueError(f"{name} must be finite and {what}, got {x!r}.")


def check_int(name: str, x, minimum: int = 0) -> int:
    """An integer count ``>= minimum`` (bools and floats like ``10.5`` are rejected by name).

    >>> check_int("iterations", 10.5)
    Traceback (most recent call last):
    ...
    TypeError: iterations must be an integer, got float 10.5.
    """
    if isinstance(x, bool) or not isinstance(x, int) and not (hasattr(x, "__index__") and not hasattr(x, "shape")):
        raise TypeError(f"{name} must be an integer, got {type(x).__name__} {x!r}.")
    x = int(x)
    if x < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {x}.")
    return x


def check_real(name: str, x, *, low: float = -math.inf, high: float = math.inf, low_open: bool = False,
               high_open: bool = False) -> float:
    """A finite real number in the interval ``[low, high]`` (open ends on request); returns it as a float.

    >>> check_real("momentum", 1.0, low=0.0, high=1.0, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: momentum must be a finite number in [0, 1), got 1.0.
    """
    if isinstance(x, bool) or isinstance(x, str) or not hasattr(x, "__float__") or isinstance(x, complex):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r}.")
    v = float(x)
    bad = not math.isfinite(v) or (v <= low if low_open else v < low) or (v >= high if high_open else v > high)
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be a finite number in {lo}{low:g}, {high:g}{hi}, got {x!r}.")
    return v


def check_rank(r: int, d_out: int, d_in: int, what: str = "rank r") -> None:
    if not isinstance(r, int) or r < 1:
        raise ValueError(f"{what} must be a positive integer, got {r!r}.")
    if r > min(d_out, d_in):
        raise ValueError(
            f"{what} = {r} exceeds the dimension min(d_out, d_in) = {min(d_out, d_in)}; "
            f"choose {what} <= {min(d_out, d_in)}."
        )


def bshape(x: Tensor | float, ndim_batch: int) -> Tensor | float:
    """Reshape a per-run scalar tensor of shape ``batch`` to ``batch + (1, 1)`` for broadcasting with matrices."""
    if isinstance(x, Tensor) and x.ndim > 0:
        return x.reshape(x.shape + (1, 1))
    return x
