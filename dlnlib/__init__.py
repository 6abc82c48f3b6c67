"""dlnlib — the DLN Workbook's library, in three layers whose imports run one way: engine ← studies ← report.

Engine (this package's top level):

- :mod:`~dlnlib.problems` — targets; factorisation, sensing, completion, regression; ``rescale_step``
- :mod:`~dlnlib.networks` — inits, the ``DLN`` (α, γ as fields), wide DLN, C-DLN, narrow and LoP-compressed nets
- :mod:`~dlnlib.batching` — the one way to stack runs into a batch
- :mod:`~dlnlib.optim` — hand-written gradients, GD (weight decay, momentum), Adam, ``DivergenceError``
- :mod:`~dlnlib._engines` — the fused GD step and the reference step
- :mod:`~dlnlib.recorders` — built-in recorders, ``History``, recording grids
- :mod:`~dlnlib.train` — the training loop
- :mod:`~dlnlib.theory` — closed-form recursions, flows, stability bounds
- :mod:`~dlnlib.metrics` — errors, angles, D_l and S_l, fits, ``first_crossing``
- :mod:`~dlnlib.baselines` — AltMin, Burer–Monteiro
- :mod:`~dlnlib.data` — checksummed data sets and the fetcher
- :mod:`~dlnlib.sweep` — a function mapped over a grid, on Dask or in-process
- :mod:`~dlnlib._util` — dtype/device defaults and argument checks

Studies (:mod:`dlnlib.studies`, one module per claim family): ``kwon_thm1``, ``kwon_cor1``, ``kwon_assumption1``,
``kwon_thm2``, ``kwon_compare``, ``kwon_incremental``, ``movielens``, ``lop``, ``lop_compressed``, ``wang``,
``symbolic``, ``perturbed``, and the maps of where the empirical claims hold (``maps_recovery``, ``maps_ordering``,
``maps_dynamics``); and :mod:`dlnlib.nonlinear` (``datasets``, ``models``, ``fit``, ``costs``, ``presets``,
``runs``).

Report (:mod:`dlnlib.report`): ``session``, ``style``, ``figures``, ``tables``, ``cache``, ``verification``,
``lint``, ``explorers``, ``_files``, ``__main__``.

Everything is float64 by default (float32 allowed) and runs on CUDA when available (``DLN_DEVICE`` overrides).
"""

from ._util import DEFAULT_DTYPE, default_device
from .networks import DLN, cdln, init_weight, lop_basis, lop_compressed, narrow_dln, wide_dln
from .problems import (Completion, Factorisation, Regression, Sensing, bernoulli_mask, exact_count_mask,
                       kwon_target, low_rank_target, sensing, spectral_factors, truncated_gaussian_target, whiten)
from .optim import GD, Adam, DivergenceError, layer_grads, loss_and_grads
from .recorders import History, record_grid
from .train import train

__version__ = "0.1.0"
