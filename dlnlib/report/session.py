"""The notebook session: one object, made from the ``parameters`` cell, through which a notebook checks, skips,
saves figures and tables, and caches results — the scale, the preset actually run, the output folder and the
device are decided once, here, and recorded in every row, figure and table it writes.

>>> import tempfile; S = Session("ci", out=tempfile.mkdtemp())
>>> S.scale, S.preset
('ci', 'ci')
>>> S.check("demo", "fig-x", "error below 1e-10", 3e-14, 1e-10)
True
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence

from . import cache, figures, tables, verification


def resolve_preset(scale: str, device: str, presets: Collection[str] | None = None) -> str:
    """The preset a run at ``scale`` on ``device`` uses: ``"ci"`` at ci scale; at paper scale ``"cpu"`` when the
    device is not a GPU and the notebook defines a ``"cpu"`` preset (a paper-size run would not finish), else
    ``"paper"``.

    >>> resolve_preset("paper", "cpu", {"ci": {}, "cpu": {}, "paper": {}}), resolve_preset("paper", "cuda", ["cpu"])
    ('cpu', 'paper')
    >>> resolve_preset("paper", "cpu"), resolve_preset("ci", "cpu", ["cpu"])
    ('paper', 'ci')
    """
    if figures.validate_scale(scale) == "ci":
        return "ci"
    return "cpu" if not device.startswith("cuda") and presets is not None and "cpu" in presets else "paper"


class Session:
    """The settings of one notebook run and the functions that write its outputs.

    ``Session(scale, *, out=None, device=None, presets=None)``:

    - ``scale``: ``"ci"`` or ``"paper"``; anything else is a ``ValueError`` listing the valid ones.
    - ``out``: the folder for figures, tables and ``verification.json``; default :func:`figures.output_dir`
      (``figures/`` or ``figures/_ci/`` of the workbook inside the checkout, ``DLN_FIGURES_DIR`` when set).
    - ``device``: the torch device the notebook computes on; default ``cuda`` when available (``DLN_DEVICE``
      overrides). A GPU that is not there is a ``ValueError``.
    - ``presets``: the notebook's presets (a dict, or their names). When it has a ``"cpu"`` preset, a paper-scale
      run without a GPU uses it (:func:`resolve_preset`); :attr:`params` is then ``presets[preset]``.
    - ``study``: the study module (or its name) whose code keys :meth:`cached` by default.

    :attr:`preset` (the preset actually run) is written in every row, figure and table JSON, and added to a
    figure's caption when it differs from the scale.
    """

    def __init__(self, scale: str, *, out: str | Path | None = None, device: str | None = None,
                 presets: Collection[str] | None = None, study: ModuleType | str | None = None):
        import torch

        from .._util import default_device

        self.scale = figures.validate_scale(scale)
        dev = torch.device(device) if device is not None else default_device()
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but no CUDA GPU is available; use device='cpu'.")
        self.device = str(dev)
        self.device_name = figures.device_name(self.device)
        self.presets = presets
        self.study = study
        self.preset = resolve_preset(self.scale, self.device, presets)
        if presets is not None and self.preset not in presets:
            raise ValueError(f"presets has no {self.preset!r} preset; it has {sorted(presets)}.")
        self.out = Path(out) if out is not None else figures.output_dir(self.scale)
        self.out.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"Session(scale={self.scale!r}, preset={self.preset!r}, device={self.device!r}, out='{self.out}')"

    @property
    def params(self) -> Any:
        """``presets[preset]``: the parameters of the preset this run uses."""
        if not isinstance(self.presets, dict):
            raise TypeError("Session.params needs the presets as a dict: Session(scale, presets=PRESETS).")
        return self.presets[self.preset]

    def check(self, claim: str, figure: str, statement: str, value: float, tolerance: float | None, *,
              direction: str | None = None, passed: bool | None = None, assert_: bool = True) -> bool:
        """Record a verification row (:func:`verification.check`) in :attr:`out`; raise if an asserted claim fails."""
        return verification.check(claim, figure, statement, value, tolerance, folder=self.out, scale=self.scale,
                                  preset=self.preset, direction=direction, passed=passed, assert_=assert_)

    def skip(self, claim: str, figure: str, statement: str, reason: str, *, missing_data: bool | None = None) -> None:
        """Record a skipped row (:func:`verification.skip`) and print why."""
        verification.skip(claim, figure, statement, reason, folder=self.out, scale=self.scale, preset=self.preset,
                          missing_data=missing_data)

    def caption(self, caption: str) -> str:
        """``caption``, with the preset named when it differs from the scale (and the caption does not say it)."""
        if self.preset == self.scale or re.search(rf"preset '?{self.preset}\b", caption, re.IGNORECASE):
            return caption
        return f"{caption.rstrip()} (preset '{self.preset}')".lstrip()

    def save_figure(self, fig, fig_id: str, params: dict | None = None, runtime_s: float | None = None,
                    caption: str = "") -> Path:
        """Save ``fig`` as ``<id>.pdf/.png/.json`` in :attr:`out` (:func:`figures.save_figure`); return the PDF's path."""
        return figures.save_figure(fig, fig_id, self.out, scale=self.scale, preset=self.preset, params=params,
                                   runtime_s=runtime_s, caption=self.caption(caption), device=self.device_name)

    def save_table(self, table_id: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                   params: dict | None = None, runtime_s: float | None = None, caption: str = "") -> Path:
        """Save a table as ``<id>.csv/.table.json/.md`` in :attr:`out` (:func:`tables.save_table`); return the ``.md``."""
        return tables.save_table(table_id, columns, rows, self.out, scale=self.scale, preset=self.preset,
                                 params=params, runtime_s=runtime_s, caption=self.caption(caption),
                                 device=self.device_name)

    def cached(self, name: str, params: dict, compute: Callable[[], Any],
               study: ModuleType | str | None = None) -> Any:
        """``compute()``, cached under ``name``, ``params`` and the code of ``study`` (default: the session's study;
        :func:`cache.cached`)."""
        return cache.cached(name, params, compute, study=study if study is not None else self.study)

    def cached_by(self, params_of: Callable[[dict], dict], name_of: Callable[[str, dict], str] | None = None,
                  study: ModuleType | str | None = None) -> Callable:
        """The ``cache`` of :func:`dlnlib.sweep.sweep` that stores each point under ``params_of(point)`` (and the
        name ``name_of(key, point)``, default the sweep's ``key``): the parameters a notebook keys its runs by
        (e.g. the preset and the point's own coordinates), not necessarily the point's keyword arguments (which
        may hold tensors). ``cache=nb.cached`` keys by the point itself.

        >>> nb = Session.__new__(Session); nb.study = None
        >>> nb.cached = lambda name, params, compute, study=None: (name, params)
        >>> nb.cached_by(lambda p: {"d": p["d"]})("run", {"d": 3, "M": object()}, None)
        ('run', {'d': 3})
        >>> nb.cached_by(lambda p: {}, name_of=lambda key, p: f"{key}-d{p['d']}")("run", {"d": 3}, None)
        ('run-d3', {})
        """
        for arg, f in (("params_of", params_of), ("name_of", name_of)):
            if not (callable(f) or (arg == "name_of" and f is None)):
                raise TypeError(f"cached_by: {arg} must be a function of a sweep point, got {type(f).__name__}.")
        return lambda name, point, compute: self.cached(name if name_of is None else name_of(name, point),
                                                        params_of(point), compute, study=study)

    def timed_cached(self, name: str, params: dict, compute: Callable[[], Any],
                     study: ModuleType | str | None = None) -> tuple[Any, float]:
        """``(compute(), seconds)``, cached like :meth:`cached` with the compute time kept (:func:`cache.timed_cached`)."""
        return cache.timed_cached(name, params, compute, study=study if study is not None else self.study)
