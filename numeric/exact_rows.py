"""Constraint matrices over the exact rationals, materialised row by row on demand.

An attention SVM has m = n (T - 1) constraints <A_j, theta> >= b_j, but a certificate of its solution
needs the exact rows of few of them: the active ones (at most D independent after the active-set step)
and those whose slack a float64 computation cannot prove positive. :class:`ExactRows` holds

* ``approx``: the float64 rows (m, D) and ``error`` (m,): |A_jk - approx_jk| <= error_j for every k;
* ``fetch(indices)``: the exact rows for those indices (any exact rationals: Fraction, int, python-flint
  fmpq), called only for rows not fetched before.

:func:`slack_lower_bounds` turns the float rows into rigorous lower bounds on the exact slacks
A_j theta - b_j: with theta = theta_f + delta (|delta_k| <= e_k) and fl() the float64 evaluation,

    A_j theta - b_j >= fl(approx_j theta_f - b_j) - [gamma_{D+2} |approx_j| |theta_f| + |approx_j| e
                       + error_j (||theta_f||_1 + ||e||_1) + b_err_j + eta]

(gamma_k = k u / (1 - k u), u = 2^-53: the error of a float64 dot product of length k in any summation
order; eta covers underflow), evaluated with every term enlarged so that its own rounding cannot make it
smaller than the exact bound. A row whose bound is positive satisfies its constraint strictly; only the
others need their exact row. The same protocol is accepted (duck-typed: ``shape``, ``approx``, ``error``,
``rows``) by ``symbolic.certify_svm`` and ``symbolic.farkas_certificate``.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable

import numpy as np

U = 2.0 ** -53
TINY = 2.0 ** -1022


class ExactRows:
    """An (m, D) matrix of exact rationals given lazily (module docstring).

    >>> A = ExactRows.from_array([[Fraction(1, 3), 0], [1, 1]])
    >>> A.shape, A.rows([1])[0]
    ((2, 2), [1, 1])
    """

    def __init__(self, approx: np.ndarray, error: np.ndarray, fetch: Callable):
        self.approx = np.asarray(approx, dtype=float)
        if self.approx.ndim != 2:
            self.approx = self.approx.reshape(len(self.approx), -1)
        self.error = np.broadcast_to(np.asarray(error, dtype=float), (self.approx.shape[0],))
        self._fetch = fetch
        self._cache: dict = {}

    @classmethod
    def from_array(cls, A) -> "ExactRows":
        """Wrap an array of exact rationals (or floats, which are exact): approx = its float64 rounding."""
        A_obj = np.asarray(A, dtype=object)
        if A_obj.ndim == 1:
            A_obj = A_obj.reshape(-1, 1) if A_obj.size else A_obj.reshape(0, 0)
        m = A_obj.shape[0]
        D = A_obj.shape[1] if A_obj.ndim == 2 else 0
        approx = np.array([[_to_float(x) for x in row] for row in A_obj], dtype=float).reshape(m, D)
        error = U * np.max(np.abs(approx), axis=1, initial=0.0) + TINY
        return cls(approx, error, lambda idx: [list(A_obj[j]) for j in idx])

    @property
    def shape(self) -> tuple:
        return self.approx.shape

    def __len__(self) -> int:
        return self.approx.shape[0]

    @property
    def fetched(self) -> int:
        """How many exact rows were materialised so far."""
        return len(self._cache)

    def rows(self, indices) -> list:
        """The exact rows A_j for j in ``indices`` (lists of exact rationals), fetched once and cached."""
        indices = [int(j) for j in indices]
        missing = list(dict.fromkeys(j for j in indices if j not in self._cache))
        if missing:
            for j, row in zip(missing, self._fetch(missing)):
                self._cache[j] = list(row)
        return [self._cache[j] for j in indices]

    def dense(self) -> np.ndarray:
        """Every row, as an object array (m, D) (fetches all rows: for small problems and tests)."""
        out = np.empty(self.shape, dtype=object)
        for j, row in enumerate(self.rows(range(self.shape[0]))):
            out[j, :] = row
        return out


def _to_float(x) -> float:
    if isinstance(x, Fraction):
        return x.numerator / x.denominator
    if hasattr(x, "p") and hasattr(x, "q"):   # python-flint fmpq
        return int(x.p) / int(x.q)
    return float(x)


def as_exact_rows(A) -> ExactRows:
    """``A`` itself when it follows the protocol, else ExactRows.from_array(A)."""
    if hasattr(A, "rows") and hasattr(A, "approx") and hasattr(A, "error"):
        return A
    return ExactRows.from_array(A)


def slack_lower_bounds(A: ExactRows, theta_f, theta_err, b_f, b_err) -> np.ndarray:
    """Rigorous lower bounds on A_j theta - b_j for every row j (module docstring), where the exact theta
    and b satisfy |theta - theta_f| <= theta_err and |b - b_f| <= b_err entrywise. Non-finite bounds are
    returned as -inf (that row needs its exact value)."""
    approx = A.approx
    m, D = approx.shape
    theta_f = np.asarray(theta_f, dtype=float).reshape(D)
    theta_err = np.broadcast_to(np.asarray(theta_err, dtype=float), (D,))
    b_f = np.broadcast_to(np.asarray(b_f, dtype=float), (m,))
    b_err = np.broadcast_to(np.asarray(b_err, dtype=float), (m,))
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        value = approx @ theta_f - b_f
        absA = np.abs(approx)
        gamma = (D + 4) * U / (1 - (D + 4) * U)
        err = (gamma * (absA @ np.abs(theta_f)) + absA @ theta_err
               + A.error * (np.sum(np.abs(theta_f)) + np.sum(theta_err))
               + b_err + 4 * U * (np.abs(value) + np.abs(b_f)) + (D + 4) * 2.0 ** -1070)
        bound = value - 2.0 * err   # factor 2: the rounding of the error terms themselves
    return np.where(np.isfinite(bound), bound, -np.inf)


def float_with_error(values) -> tuple[np.ndarray, np.ndarray]:
    """Exact rationals (Fraction, int, fmpq, mpf) rounded to float64, with a bound on each rounding error."""
    f = np.array([_to_float(x) for x in values], dtype=float)
    return f, U * np.abs(f) + 2.0 ** -1074


def pivot_rows(mat, order: list) -> list:
    """The entries of ``order`` whose rows of the fmpq matrix ``mat`` (row r of ``mat`` is row order[r]) are
    linearly independent of the earlier ones: the pivot columns of the reduced row echelon form of mat^T."""
    if not order:
        return []
    R, rank = mat.transpose().rref()
    chosen = []
    for r in range(rank):
        c = next((c for c in range(R.ncols()) if R[r, c] != 0), None)
        if c is not None:
            chosen.append(order[c])
    return chosen
