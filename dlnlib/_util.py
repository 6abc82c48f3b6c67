"""Small shared helpers: default dtype/device, generators, input checks."""

from __future__ import annotations

import math
import numbers
import os
from typing import Sequence

import numpy as np
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


def broadcasts_to(shape: Sequence[int], batch: Sequence[int]) -> bool:
    """Whether a tensor of shape ``shape`` broadcasts to exactly ``batch`` (``torch.broadcast_shapes(shape, batch)
    == batch``, without its cost: ~50 µs a call): no more dims than ``batch``, each trailing dim 1 or equal.

    >>> broadcasts_to((), (3,)), broadcasts_to((1, 4), (2, 4)), broadcasts_to((3,), (2, 4)), broadcasts_to((2,), ())
    (True, True, False, False)
    """
    shape, batch = tuple(shape), tuple(batch)
    if len(shape) > len(batch):
        return False
    return all(s == 1 or s == b for s, b in zip(shape[::-1], batch[::-1]))


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


def check_integer(name: str, x, minimum: int = 0, maximum: int | None = None) -> int:
    """An integer ``>= minimum`` (and ``<= maximum``) given as a Python int, a NumPy integer or a 0-d integer
    array/tensor; returns it as an ``int``. Bools, floats (``3.0`` too), strings and arrays are rejected by name.
    (:func:`check_int` is the stricter form for the training loop's own arguments.)

    >>> check_integer("depth", np.int64(3), 1)
    3
    >>> check_integer("T", 2.0)
    Traceback (most recent call last):
    ...
    TypeError: T must be an integer, got float 2.0.
    >>> check_integer("depth", 0, 1)
    Traceback (most recent call last):
    ...
    ValueError: depth must be an integer >= 1, got 0.
    """
    ok = isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))
    if not ok and isinstance(x, (Tensor, np.ndarray)) and x.ndim == 0:
        ok = (not x.is_floating_point() and not x.is_complex() and x.dtype != torch.bool) if isinstance(x, Tensor) \
            else x.dtype.kind in "iu"
    if not ok:
        raise TypeError(f"{name} must be an integer, got {type(x).__name__} {x!r}.")
    v = int(x)
    if v < minimum or (maximum is not None and v > maximum):
        allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {allowed}, got {v}.")
    return v


def check_scalar(name: str, x, *, low: float = -math.inf, high: float = math.inf, low_open: bool = False,
                 high_open: bool = False) -> float:
    """:func:`check_real` for a value that may come from NumPy or torch: a 0-d array or tensor passes, an array with
    more than one entry is rejected by name (instead of NumPy's or torch's own conversion error).

    >>> check_scalar("eta", np.float64(0.1), low=0.0, low_open=True)
    0.1
    >>> check_scalar("eta", np.array([0.1, 0.2]), low=0.0, low_open=True)
    Traceback (most recent call last):
    ...
    TypeError: eta must be a single real number, got an array of shape (2,).
    """
    if isinstance(x, (Tensor, np.ndarray)) and x.ndim > 0:
        raise TypeError(f"{name} must be a single real number, got an array of shape {tuple(x.shape)}.")
    if isinstance(x, (Tensor, np.ndarray)) and (x.dtype == torch.bool if isinstance(x, Tensor) else x.dtype.kind == "b"):
        raise TypeError(f"{name} must be a real number, got a boolean {type(x).__name__}.")
    return check_real(name, x, low=low, high=high, low_open=low_open, high_open=high_open)


def _holds_bool(x) -> bool:
    """A (nested) list or tuple with a bool in it (NumPy would read ``True`` as 1.0)."""
    return isinstance(x, (list, tuple)) and any(isinstance(e, (bool, np.bool_)) or _holds_bool(e) for e in x)


def as_real_array(name: str, x, *, ndim: tuple[int, ...] = (1,), min_size: int = 1, finite: bool = True,
                  low: float | None = None) -> np.ndarray:
    """A float64 NumPy copy of ``x`` (a sequence, array or CPU tensor) checked by name: its number of dimensions
    is one of ``ndim`` (a scalar counts as 0), it has at least ``min_size`` entries, every entry is finite (with
    ``finite``) and ``>= low`` (when given). Used by the NumPy closed forms and metrics.

    >>> as_real_array("sigma_star", [2.0, 1.0]).tolist()
    [2.0, 1.0]
    >>> as_real_array("sigma_star", [1.0, -1.0], low=0.0)
    Traceback (most recent call last):
    ...
    ValueError: sigma_star must have entries >= 0, got -1.0 among them.
    """
    if isinstance(x, (str, bytes)) or isinstance(x, (bool, np.bool_)) or _holds_bool(x):
        raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__} {x!r}.")
    if isinstance(x, Tensor):
        x = x.detach().cpu()
    try:
        a = np.asarray(x)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__}.") from e
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {a.dtype} ({type(x).__name__}).")
    a = a.astype(np.float64)
    if a.ndim not in ndim:
        raise ValueError(f"{name} must have {' or '.join(str(n) for n in ndim)} dimension(s), got shape {a.shape}.")
    if a.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} entr{'y' if min_size == 1 else 'ies'}, got shape "
                         f"{a.shape}.")
    if finite and not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite, got {a[~np.isfinite(a)][:4].tolist()} among its entries.")
    if low is not None and (a < low).any():
        raise ValueError(f"{name} must have entries >= {low:g}, got {a[a < low][:4].tolist()[0]!r} among them.")
    return a


def check_positive(name: str, x, allow_zero: bool = False) -> float:
    """A single finite real number ``> 0`` (``>= 0`` with ``allow_zero``) from Python, NumPy or a 0-d tensor;
    returns it as a float. Bools, strings, complex numbers and arrays of several entries are rejected by name.

    >>> check_positive("eps", np.float32(0.5))
    0.5
    >>> check_positive("alpha", -2.0)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be finite and > 0, got -2.0.
    >>> check_positive("eta", "0.1")
    Traceback (most recent call last):
    ...
    TypeError: eta must be a real number, got str '0.1'.
    """
    if isinstance(x, (Tensor, np.ndarray)) and x.ndim > 0:
        raise TypeError(f"{name} must be a single real number, got an array of shape {tuple(x.shape)}.")
    bad_type = isinstance(x, (bool, np.bool_, str, bytes, complex)) or not hasattr(x, "__float__") or (
        isinstance(x, Tensor) and (x.is_complex() or x.dtype == torch.bool)) or (
        isinstance(x, np.ndarray) and x.dtype.kind not in "iuf")
    if bad_type:
        raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r}.")
    v = float(x)
    if not math.isfinite(v) or (v < 0 if allow_zero else v <= 0):
        raise ValueError(f"{name} must be finite and {'>= 0' if allow_zero else '> 0'}, got {x!r}.")
    return v
