"""dlnlib.studies.perturbed: each planted error gives numbers different from the closed form it perturbs, and the
variants built on theory.kwon_alpha equal the wrong recursion written out by hand, to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

from dlnlib.studies.perturbed import RECURSION_KINDS, RHO_KINDS, perturbed_recursion, perturbed_rho
from dlnlib.theory import kwon_alpha, lop_rho


def _written_out(kind, sigma_star, r_hat, depth, eps, eta, alpha, T, loss_scale=1.0):
    """The wrong recursions as first written (one loop with the planted error in place), the reference."""
    s = np.asarray(sigma_star, dtype=np.float64).ravel()
    tgt = np.concatenate([s, np.full(r_hat - s.size, s[-1] if kind == "tail_sigma" else 0.0)])
    a = b = np.full(r_hat, np.sqrt(eps) if kind == "init" else float(eps))
    al = 1.0 if kind == "no_alpha" else alpha
    am = alpha if kind == "alpha_middle" else 1.0
    x = 1 if kind == "exponent" else 0
    e = eta * loss_scale
    out = np.empty((T + 1, r_hat))
    with np.errstate(all="ignore"):
        for t in range(T + 1):
            out[t] = a * a * b ** (depth - 2)
            res = out[t] - tgt
            if depth == 2:
                a = a - al * e * res * a * a**x
            else:
                a, b = a - al * e * res * a * b ** (depth - 2 + x), b - am * e * res * a * a * b ** (depth - 3 + x)
    return out


@pytest.mark.parametrize("kind", RECURSION_KINDS)
@pytest.mark.parametrize("L,alpha,eta,c", [(2, 1.0, 0.05, 1.0), (2, 3.0, 0.02, 0.5), (3, 2.5, 0.03, 1.0),
                                           (4, 0.5, 0.3, 0.7), (3, 5.0, 0.4, 1.0)])
def test_perturbed_recursion_equals_written_out_and_differs_from_kwon_alpha(kind, L, alpha, eta, c):
    sig, r_hat, eps, T = [3.0, 1.0], 4, 0.2, 200
    got = perturbed_recursion(kind)(sig, r_hat, L, eps, eta, alpha, T, c)
    ref = _written_out(kind, sig, r_hat, L, eps, eta, alpha, T, c)
    assert np.array_equal(got, ref, equal_nan=True)
    if not (kind in ("alpha_middle", "no_alpha") and (alpha == 1.0 or (kind == "alpha_middle" and L == 2))):
        with np.errstate(all="ignore"):
            assert not np.allclose(got, kwon_alpha(sig, r_hat, L, eps, eta, alpha, T, c), equal_nan=True)


@pytest.mark.parametrize("kind", RHO_KINDS)
@pytest.mark.parametrize("case", [1, 2])
def test_perturbed_rho_differs_from_lop_rho(kind, case):
    got = perturbed_rho(kind)(0.5, 0.1, 3, 100, 0.3, case, 0.8)
    ref = lop_rho(0.5, 0.1, 3, 100, 0.3, case, 0.8)
    assert got.shape == ref.shape and got[0] == ref[0]
    same = case == 2 and kind != "no_decay"  # case 2 has no gradient term: only λ matters
    assert np.array_equal(got, ref) == same


def test_unknown_kinds_rejected():
    with pytest.raises(ValueError, match="kind must be one of"):
        perturbed_recursion("sign")
    with pytest.raises(ValueError, match="kind must be one of"):
        perturbed_rho("sign")
