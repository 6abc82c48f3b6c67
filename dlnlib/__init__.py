"""dlnlib — the engine of the DLN Workbook.

Modules: :mod:`~dlnlib.problems` (targets; factorisation, sensing, completion, regression),
:mod:`~dlnlib.networks` (inits, wide DLN, C-DLN, narrow and LoP-compressed nets),
:mod:`~dlnlib.train` (hand-written gradients, optimisers, the GD loop), :mod:`~dlnlib.theory`
(closed-form recursions and flows), :mod:`~dlnlib.metrics`, :mod:`~dlnlib.baselines`,
:mod:`~dlnlib.figures` (style, saving, caching, the verification report) and :mod:`~dlnlib.data`.

Everything is float64 by default and runs on CUDA when available (``DLN_DEVICE`` overrides).
"""

from ._util import DEFAULT_DTYPE, default_device
from .networks import DLN, cdln, init_weight, lop_basis, lop_compressed, narrow_dln, wide_dln
from .problems import (Completion, Factorisation, Regression, Sensing, bernoulli_mask, exact_count_mask,
                       kwon_target, low_rank_target, sensing, spectral_factors, truncated_gaussian_target, whiten)
from .optim import GD, Adam, DivergenceError, layer_grads, loss_and_grads
from .recorders import History, record_grid
from .train import train

__version__ = "0.1.0"
