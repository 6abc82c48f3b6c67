"""Compatibility shim: the old ``dlnlib.figures`` API (``scale`` passed to every call) on top of :mod:`dlnlib.report`.

Kept only until the notebooks use :class:`dlnlib.report.Session`; new code imports from :mod:`dlnlib.report`.
``python -m dlnlib.figures report`` still runs the report CLI (:func:`dlnlib.report.verification.main`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .report import cache as _cache
from .report import figures as _figures
from .report import tables as _tables
from .report import verification as _verification
from .report.cache import cached
from .report.figures import SCALES, device_name, output_dir
from .report.style import COLORS, OKABE_ITO, STYLE, use_style
from .report.verification import load_rows, main, merge_reports, render_report

__all__ = ["COLORS", "OKABE_ITO", "SCALES", "STYLE", "cache_dir", "cached", "check", "device_name", "load_rows",
           "main", "merge_reports", "output_dir", "render_report", "save_figure", "save_table", "skip",
           "use_style", "write_row"]


def _preset(scale: str, given: Any = None) -> str:
    """The preset of an old-style call: a preset named in the parameters (notebook 20 passes one), else the scale."""
    return given if isinstance(given, str) else scale


def save_figure(fig, fig_id: str, scale: str, params: dict | None = None, runtime_s: float | None = None,
                caption: str = "") -> Path:
    """Old-style :func:`dlnlib.report.figures.save_figure` into :func:`output_dir` ``(scale)``."""
    return _figures.save_figure(fig, fig_id, output_dir(scale), scale=scale,
                                preset=_preset(scale, (params or {}).get("preset")), params=params,
                                runtime_s=runtime_s, caption=caption)


def save_table(table_id: str, scale: str, columns, rows, params: dict | None = None, runtime_s: float | None = None,
               caption: str = "") -> Path:
    """Old-style :func:`dlnlib.report.tables.save_table` into :func:`output_dir` ``(scale)``."""
    return _tables.save_table(table_id, columns, rows, output_dir(scale), scale=scale, params=params,
                              runtime_s=runtime_s, caption=caption)


def check(claim: str, figure: str, statement: str, value: float, tolerance: float | None, *, scale: str,
          passed: bool | None = None, assert_: bool = True) -> bool:
    """Old-style :func:`dlnlib.report.verification.check` into :func:`output_dir` ``(scale)``."""
    return _verification.check(claim, figure, statement, value, tolerance, folder=output_dir(scale), scale=scale,
                               preset=_verification._preset_from(statement, scale), passed=passed, assert_=assert_)


def skip(claim: str, figure: str, statement: str, reason: str, *, scale: str, missing_data: bool | None = None) -> None:
    """Old-style :func:`dlnlib.report.verification.skip` into :func:`output_dir` ``(scale)``."""
    _verification.skip(claim, figure, statement, reason, folder=output_dir(scale), scale=scale,
                       preset=_verification._preset_from(statement, scale), missing_data=missing_data)


def write_row(row: dict, scale: str) -> None:
    """Old-style :func:`dlnlib.report.verification.write_row` into :func:`output_dir` ``(scale)``."""
    _verification.write_row(row, output_dir(scale))


def cache_dir() -> Path:
    """The result cache folder (:func:`dlnlib.report.cache.results_dir`)."""
    return _cache.results_dir()


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
