"""The workbook's figure style: the matplotlib style file and the colour constants every plot uses.

Pure data plus two small functions (the report layer is imported only inside them), so study modules may import
it (``from ..report.style import COLORS, OKABE_ITO``) without pulling in the rest of the report layer.
"""

from __future__ import annotations

from pathlib import Path

#: The matplotlib style file: two-column paper width, Okabe–Ito colour cycle, fixed hash salt (reproducible files).
STYLE = Path(__file__).with_name("dln.mplstyle")

#: The Okabe–Ito colour-blind-safe palette (also the style's colour cycle), as hex strings.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

#: Fixed colours of the recurring curves: original DLN, C-DLN, AltMin, closed-form theory, narrow DLN.
COLORS = {"orig": "#0072B2", "comp": "#E69F00", "altmin": "#009E73", "theory": "#000000", "narrow": "#CC79A7"}


def use_style() -> None:
    """Apply the workbook's matplotlib style (:data:`STYLE`) to every figure drawn afterwards; with ``DLN_LINT``
    on, also remember layout warnings per figure for the linter (:func:`lint.watch_layout_warnings`).

    >>> import matplotlib; use_style(); matplotlib.rcParams["figure.figsize"]
    [3.4, 2.5]
    """
    import matplotlib.pyplot as plt

    from . import lint

    plt.style.use(str(STYLE))
    if lint.mode() != "off":
        lint.watch_layout_warnings()


def savefig_dpi() -> float:
    """The resolution of saved PNGs in the style file (``savefig.dpi``).

    >>> savefig_dpi()
    200.0
    """
    text = STYLE.read_text(encoding="utf-8")
    return float(next(ln.split(":", 1)[1] for ln in text.splitlines() if ln.startswith("savefig.dpi:")))
