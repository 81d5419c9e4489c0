"""Comparing directions without cancellation.

1 - corr(u, w) = 1 - <u, w>/(|u||w|) is computed as ||u/|u| - w/|w|||^2 / 2, which is the same
number algebraically but keeps full relative accuracy when the directions nearly agree.
"""
from __future__ import annotations

import mpmath
import numpy as np


def unit(u: np.ndarray) -> np.ndarray:
    """u / ||u|| (Euclidean/Frobenius norm of the flattened array); u is first divided by max |u_k|,
    so vectors of any magnitude (1e-300 or 1e300) keep their direction."""
    u = np.asarray(u, dtype=float).ravel()
    u = u / np.max(np.abs(u))
    return u / np.linalg.norm(u)


def one_minus_corr(u: np.ndarray, w: np.ndarray) -> float:
    """1 - <u, w>/(||u|| ||w||) = ||u/||u|| - w/||w||||^2 / 2 (stable near 1)."""
    d = unit(u) - unit(w)
    return float(0.5 * np.dot(d, d))


def mp_one_minus_corr(u, w) -> mpmath.mpf:
    """The same in mpmath, for sequences of mpmath numbers."""
    nu = mpmath.sqrt(mpmath.fsum(x * x for x in u))
    nw = mpmath.sqrt(mpmath.fsum(x * x for x in w))
    return mpmath.fsum((a / nu - b / nw) ** 2 for a, b in zip(u, w)) / 2
