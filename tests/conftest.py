"""Shared set-up for the unit tests: CPU by default, one thread, a non-interactive matplotlib backend.

``DLN_DEVICE`` is left alone when already set (run the suite on a GPU with ``DLN_DEVICE=cuda``).
"""

from __future__ import annotations

import os

os.environ.setdefault("DLN_DEVICE", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

torch.set_num_threads(1)
