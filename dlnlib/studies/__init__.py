"""Studies: one module per claim family; each owns its computations and the plots of its figures."""
