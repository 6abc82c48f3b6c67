"""Where figures go and how they are saved: output folders per scale, the machine's name, one figure as one file set.

- ``scale`` is ``"ci"`` (fast) or ``"paper"``. Paper-scale outputs go to the figures root; ci-scale outputs to its
  ``_ci/`` subfolder (not committed), so running the tests never overwrites the committed figures.
- The figures root is ``DLN_FIGURES_DIR`` if set, else the workbook's ``figures/`` when working inside the
  checkout (the current directory is the repository root or its ``notebooks/``), else ``./figures`` of the
  current directory — a user's own script never writes into the installed package's tree.
- Every caption names the run's scale (``"… (ci scale)"``, :func:`scale_caption`) unless it names the scale or
  preset already; with ``DLN_LINT=1`` a figure is checked by :mod:`dlnlib.report.lint` once written.
- A figure ``<id>`` is saved as ``<id>.pdf`` (fixed metadata: byte-identical reruns), ``<id>.png`` and ``<id>.json``
  (the parameters it was drawn from, scale, preset, device, runtime, caption), written as one set
  (:mod:`dlnlib.report._files`): a writer killed mid-way leaves the previous set intact.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from . import lint
from ._files import dumps, write_files

SCALES = ("ci", "paper")
PDF_METADATA = {"Creator": "DLN Workbook", "Producer": "matplotlib", "CreationDate": None, "ModDate": None}
PNG_METADATA = {"Software": None}


def validate_scale(scale: str) -> str:
    """``scale`` itself if it is one of :data:`SCALES`, else a ``ValueError`` listing them.

    >>> validate_scale("ci")
    'ci'
    >>> validate_scale("bogus")
    Traceback (most recent call last):
    ...
    ValueError: scale must be one of ('ci', 'paper'), got 'bogus'.
    """
    if not isinstance(scale, str) or scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}.")
    return scale


def workbook_root(cwd: Path | None = None) -> Path | None:
    """The workbook checkout the current directory belongs to, or ``None``.

    A checkout is a folder holding a ``pyproject.toml`` that names ``dlnlib`` and a ``notebooks/`` folder; the
    current directory must be that folder or its ``notebooks/`` (where the notebooks run). Deeper folders and
    other projects do not count, so a user's script writes beside itself.

    >>> import tempfile; d = Path(tempfile.mkdtemp()); (d / "notebooks").mkdir()
    >>> _ = (d / "pyproject.toml").write_text('[project]\\nname = "dlnlib"\\n')
    >>> workbook_root(d / "notebooks") == d, workbook_root(d.parent)
    (True, None)
    """
    here = Path.cwd() if cwd is None else Path(cwd)
    for p in (here, here.parent) if here.name == "notebooks" else (here,):
        toml = p / "pyproject.toml"
        if (p / "notebooks").is_dir() and toml.is_file() and 'name = "dlnlib"' in toml.read_text(errors="replace"):
            return p.resolve()
    return None


def figures_root() -> Path:
    """``DLN_FIGURES_DIR``, else the checkout's ``figures/`` (:func:`workbook_root`), else ``./figures``."""
    if os.environ.get("DLN_FIGURES_DIR"):
        return Path(os.environ["DLN_FIGURES_DIR"])
    root = workbook_root()
    return (root if root is not None else Path.cwd()) / "figures"


def output_dir(scale: str) -> Path:
    """The figures root for ``scale="paper"``, its ``_ci/`` for ``"ci"`` (created)."""
    d = figures_root() if validate_scale(scale) == "paper" else figures_root() / "_ci"
    d.mkdir(parents=True, exist_ok=True)
    return d


def device_name(device: str | None = None) -> str:
    """A one-line description of the machine ``device`` runs on: the GPU's name, or the CPU and torch's threads.

    ``device=None`` describes the default device (``cuda`` when available).

    >>> device_name("cpu").startswith("cpu: ")
    True
    """
    try:
        import torch

        if (device is None and torch.cuda.is_available()) or (device is not None and str(device).startswith("cuda")):
            return f"cuda: {torch.cuda.get_device_name(torch.device(device or 'cuda'))}"
        return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    except Exception:  # pragma: no cover
        return "cpu"


def figure_info(fig_id: str, *, scale: str, preset: str, device: str, params: dict | None, runtime_s: float | None,
                caption: str) -> dict:
    """The ``<id>.json`` record of a figure: what it shows, how it was made and from which parameters."""
    return {"figure": fig_id, "scale": scale, "preset": preset, "device": device, "caption": caption,
            "notebook": os.environ.get("DLN_NOTEBOOK", ""),
            "runtime_s": None if runtime_s is None else round(runtime_s, 2), "params": params or {}}


def scale_caption(caption: str, scale: str, preset: str | None = None) -> str:
    """``caption`` with its scale named (``" (ci scale)"`` appended) unless it names the scale or preset already
    (:func:`lint.caption_names_scale`); an empty caption stays empty (the linter reports it).

    >>> scale_caption("Errors.", "ci"), scale_caption("Errors (preset 'cpu').", "paper", "cpu"), scale_caption("", "ci")
    ('Errors. (ci scale)', "Errors (preset 'cpu').", '')
    """
    if not caption.strip() or lint.caption_names_scale(caption, scale, preset):
        return caption
    return f"{caption.rstrip()} ({scale} scale)"


def pin_layout(fig) -> None:
    """Keep a figure placed by hand (``layout="none"``) placed by hand: give it a do-nothing layout engine.

    Without one, ``savefig`` ends by restoring "no engine", which under the style's
    ``figure.constrained_layout.use: True`` turns constrained layout *on*: the next file of the set (the PNG after
    the PDF) would be laid out differently from the first.

    >>> import matplotlib.pyplot as plt; fig = plt.figure(layout="none"); pin_layout(fig)
    >>> type(fig.get_layout_engine()).__name__, fig.get_layout_engine().adjust_compatible
    ('PlaceHolderLayoutEngine', True)
    """
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    if fig.get_layout_engine() is None:
        fig.set_layout_engine(PlaceHolderLayoutEngine(adjust_compatible=True, colorbar_gridspec=True))


def save_figure(fig, fig_id: str, folder: Path, *, scale: str, preset: str | None = None, params: dict | None = None,
                runtime_s: float | None = None, caption: str = "", device: str | None = None) -> Path:
    """Save ``fig`` as ``<id>.pdf``, ``<id>.png`` and ``<id>.json`` in ``folder``, as one set; return the PDF's path.

    The PDF carries fixed metadata (no dates), so a rerun from the same numbers is byte-identical. ``preset``
    defaults to ``scale``; ``device`` (a description, :func:`device_name`) to the default device's. The caption
    gets the scale named (:func:`scale_caption`). With ``DLN_LINT=1`` the figure is then linted
    (:func:`lint.check_figure`): a broken rule raises :class:`lint.FigureLintError` naming the figure and the rules;
    the files are written first (the same bytes as without the linter), so the faulty figure can be looked at
    (``DLN_LINT=warn``: a warning instead).
    """
    folder = Path(folder)
    preset = preset or scale
    info = figure_info(fig_id, scale=validate_scale(scale), preset=preset, device=device or device_name(),
                       params=params, runtime_s=runtime_s, caption=scale_caption(caption, scale, preset))
    pin_layout(fig)
    write_files({
        folder / f"{fig_id}.pdf": lambda t: fig.savefig(t, format="pdf", metadata=PDF_METADATA),
        folder / f"{fig_id}.png": lambda t: fig.savefig(t, format="png", metadata=PNG_METADATA),
        folder / f"{fig_id}.json": lambda t: t.write_text(dumps(info, sort_keys=True), encoding="utf-8"),
    })
    how = lint.mode()
    if how != "off":  # after writing: the linter's own draw never changes the files
        lint.check_figure(fig, fig_id, info, how)
    return folder / f"{fig_id}.pdf"
