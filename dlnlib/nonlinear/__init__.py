"""Nonlinear networks with a linear, DLN or C-DLN penultimate layer ([K] §2.3, §4.2, Figs 1, 20, 21, Table 1; talk
T1–T3, T10).

Modules (import them directly, e.g. ``from dlnlib.nonlinear import runs``):

- :mod:`~dlnlib.nonlinear.datasets`: classification data sets as tensors (MNIST, Fashion-MNIST, USPS, CIFAR subset).
- :mod:`~dlnlib.nonlinear.models`: layers (linear, DLN, C-DLN, low-rank) and models (MLPs, small VGG, small ViT).
- :mod:`~dlnlib.nonlinear.fit`: the training loop and its trackers (accuracy, penultimate spectra, eq. 20).
- :mod:`~dlnlib.nonlinear.costs`: parameters, MACs per sample and training memory, counted.
- :mod:`~dlnlib.nonlinear.presets`: run sizes per scale (``ci``, ``cpu``, ``paper``), pure data.
- :mod:`~dlnlib.nonlinear.runs`: the experiments of notebooks 21 and 22 (Fig. 1 dynamics, Table 1, T1/T3, T10).
"""
