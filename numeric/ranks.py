"""Ranks of W-SVM solutions, decided from certificates rather than from an absolute threshold on raw solver output.

* Frobenius W-SVM: its solution is unique and, from an exact KKT certificate (symbolic.certify_svm), known as exact
  rationals; :func:`exact_rank` is then the exact rank (python-flint's rational row reduction).
* Nuclear-norm W-SVM: min ||W||_* s.t. <A_j, W> >= b_j. For any feasible dual lambda >= 0 with M = sum_j lambda_j A_j,
  M^ = M / ||M||_2 and any optimal W*, von Neumann's trace inequality gives
      sum_i sigma_i(W*) (1 - sigma_i(M^)) <= ||W*||_* - <M^, W*> <= upper - lower =: Delta,
  where lower = b^T lambda / ||M||_2 <= min ||W||_* <= upper (the weak-duality certificate of numeric.nuclear).
  So with tau_r = 1 - sigma_{r+1}(M^) > 0, every optimal solution has sum_{i > r} sigma_i(W*) <= Delta / tau_r.
  :func:`nuclear_effective_rank` returns the smallest r for which that tail bound is at most ``level`` ||W||_*:
  every optimal solution is within a nuclear-norm distance of ``level`` (relative) of a rank-r matrix. When the
  certificate's gap is too wide for any r, the rank is undetermined (None), never guessed.
* :func:`absolute_rank`: numpy's ``matrix_rank(W, tol=1e-7)`` on the raw solver output (the authors' rule), for
  comparison only.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

ABSOLUTE_TOL = 1e-7
LEVEL = 1e-6


def absolute_rank(W, tol: float = ABSOLUTE_TOL) -> int:
    """matrix_rank(W, tol) (singular values above ``tol`` in absolute terms): the authors' rule."""
    return int(np.linalg.matrix_rank(np.asarray(W, dtype=float), tol=tol))


def exact_rank(theta_exact, d1: int, d2: int | None = None) -> int:
    """The exact rank of the d1 x d2 matrix whose row-major entries are the exact rationals ``theta_exact``."""
    from flint import fmpq, fmpq_mat

    d2 = d1 if d2 is None else d2
    entries = [fmpq(x.numerator, x.denominator) if isinstance(x, Fraction) else fmpq(int(x)) for x in theta_exact]
    return int(fmpq_mat(d1, d2, entries).rank())


def nuclear_effective_rank(W, M, lower: float, upper: float, level: float = LEVEL) -> dict:
    """The certified effective rank of the nuclear-norm SVM (module docstring) from the solver's solution ``W``
    (feasible, scaled to margin 1: its nuclear norm is ``upper``), the dual matrix ``M`` = sum_j lambda_j A_j and the
    certified bounds lower <= min ||W||_* <= upper. Returns rank (or None), the tail bound Delta / tau_r on every
    optimal solution, tau_r, Delta, and the singular values of W / ||W||_2 and of M / ||M||_2."""
    sW = np.linalg.svd(np.asarray(W, dtype=float), compute_uv=False)
    sM = np.linalg.svd(np.asarray(M, dtype=float), compute_uv=False)
    sM = sM / sM[0] if sM[0] > 0 else sM
    delta = max(float(upper) - float(lower), 0.0)
    out = {"rank": None, "tail_bound": None, "tau": None, "delta": delta, "level": level,
           "singular_values": (sW / sW[0]).tolist() if sW[0] > 0 else sW.tolist(), "dual_singular_values": sM.tolist()}
    for r in range(len(sM) + 1):
        tau = 1.0 if r == len(sM) else 1.0 - float(sM[r])
        if tau > 0 and delta / tau <= level * float(upper):
            out.update(rank=r, tail_bound=delta / tau, tau=tau)
            return out
    return out
