"""Shared set-up for the unit tests: CPU by default, one thread, a non-interactive matplotlib backend, and the
result cache and figure output in a temporary folder (tests never write into the checkout's .cache or figures).

``DLN_DEVICE`` is left alone when already set (run the suite on a GPU with ``DLN_DEVICE=cuda``).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("DLN_DEVICE", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("DLN_LINT", "1")  # every figure a test saves is linted (dlnlib.report.lint)
_TMP = tempfile.mkdtemp(prefix="dlnlib-tests-")
os.environ.setdefault("DLN_RESULTS_DIR", os.path.join(_TMP, "results"))
os.environ.setdefault("DLN_FIGURES_DIR", os.path.join(_TMP, "figures"))

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every matplotlib figure a test leaves open (no "more than 20 figures" warning, no leaked memory)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
