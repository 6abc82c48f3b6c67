"""The report layer: figure style, saving figures and tables, the result cache, the verification ledger and its CLI.

Notebooks use one object, :class:`Session` (made from the ``parameters`` cell), to check, skip, save and cache::

    from dlnlib.report import Session, use_style
    S = Session(scale, presets=PRESETS)       # a bad scale is a ValueError listing the valid ones
    P = S.params                              # PRESETS[S.preset]; S.preset is "cpu" for paper scale without a GPU
    res = S.cached("kwon-fig01", P, lambda: run(P), study=kwon_compare)
    S.check("kwon-fig01-final", "kwon-fig01", "final error below 1e-6", err, 1e-6)
    S.save_figure(fig, "kwon-fig01", P, runtime_s, caption="…")

Modules: :mod:`~dlnlib.report.style` (style file, colours), :mod:`~dlnlib.report.figures` (output folders, one
figure as one file set), :mod:`~dlnlib.report.tables` (tables as CSV + JSON, Markdown rendered from them),
:mod:`~dlnlib.report.cache` (the result cache keyed per study), :mod:`~dlnlib.report.verification` (the ledger,
its report and ``python -m dlnlib.report``), :mod:`~dlnlib.report.session` (the notebook session).
"""

from .cache import cached
from .figures import SCALES, device_name, figures_root, output_dir, workbook_root
from .session import Session
from .style import COLORS, OKABE_ITO, STYLE, use_style
from .tables import markdown_table, save_table

__all__ = ["COLORS", "OKABE_ITO", "SCALES", "STYLE", "Session", "cached", "device_name", "figures_root",
           "markdown_table", "output_dir", "save_table", "use_style", "workbook_root"]
