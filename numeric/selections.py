"""Token selections, their p-SVMs, support tokens and local optimality (DESIGN.md section 1).

A selection alpha picks one token alpha_i per sequence. Its p-SVM is

    p_mm(alpha) = argmin ||p||   s.t.   <p, Phi_{i,alpha_i} - Phi_it> >= 1   for all i, t != alpha_i,

feasible when some direction makes every selected token strictly dominant. Its support tokens are the
(i, t) whose constraint is active, <p_mm, Phi_{i,alpha_i} - Phi_it> = 1. The selection is *locally
optimal* when the p-SVM is feasible and every support token scores strictly below the selected one:
gamma_it < gamma_{i,alpha_i}. The globally optimal tokens (argmax_t gamma_it) are locally optimal
whenever their p-SVM is feasible.

Many small SVMs are solved here with the least-distance-programming reduction to non-negative least
squares: for min ||x|| s.t. G x >= h, solve min_{u >= 0} ||E u - f|| with E = [G^T; h^T] and
f = (0, ..., 0, 1); with r = E u - f, the problem is infeasible exactly when r = 0 (then A^T u = 0 and
b^T u = 1 with u >= 0 is a Farkas certificate), and otherwise x = -r[:D] / r[D], lambda = u / (-r[D])
are the solution and its KKT multipliers. Each answer is checked against its certificate in float64;
results that are reported as evidence should be polished (:func:`numeric.svm.polish`) from exact data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from .svm import svm_constraints


MAX_ENUMERATION = 1 << 20   # all_selections refuses more selections than this (T^n grows too fast to list)


def enumeration_size(n: int, T: int) -> int | None:
    """T^n, or None when it exceeds MAX_ENUMERATION (computed without forming a huge power)."""
    if n * np.log2(max(T, 1)) > 40:
        return None
    count = T ** n
    return count if count <= MAX_ENUMERATION else None


def all_selections(n: int, T: int) -> np.ndarray:
    """Every selection alpha in {0..T-1}^n, shape (T^n, n), in lexicographic order. Only where T^n is at most
    ``MAX_ENUMERATION`` (a ValueError otherwise: callers enumerate only small problems)."""
    if enumeration_size(n, T) is None:
        raise ValueError(f"T^n = {T}^{n} selections are too many to enumerate (limit {MAX_ENUMERATION})")
    grids = np.indices((T,) * n).reshape(n, -1).T
    return np.ascontiguousarray(grids)


def token_dtype(T: int):
    """The smallest integer type that holds the token indices 0..T-1 (selection tables stay compact: n (T - 1)
    variations of an n-token selection are n^2 (T - 1) entries)."""
    return np.int8 if T <= 127 else np.int16 if T <= 32767 else np.int64


def single_sequence_variations(selection, T: int) -> np.ndarray:
    """The selections that differ from ``selection`` in exactly one sequence, shape (n (T-1), n)."""
    sel = np.asarray(selection).astype(token_dtype(T))
    n = sel.shape[0]
    ii, tt = np.meshgrid(np.arange(n), np.arange(T), indexing="ij")
    keep = tt != sel[ii]
    ii, tt = ii[keep], tt[keep]
    out = np.repeat(sel[None, :], len(ii), axis=0)
    out[np.arange(len(ii)), ii] = tt
    return out


def candidate_selections(n: int, T: int, base, limit: int = 4096) -> np.ndarray:
    """The selections worth examining: all T^n of them when T^n <= ``limit``; otherwise the ``base``
    selections (optimal tokens, the selections GD reached) and their single-sequence variations,
    deduplicated in order of first appearance."""
    size = enumeration_size(n, T)
    if size is not None and size <= limit:
        return all_selections(n, T)
    rows = []
    for sel in base:
        rows.append(np.asarray(sel).astype(token_dtype(T))[None, :])
    for sel in base:
        rows.append(single_sequence_variations(sel, T))
    stacked = np.concatenate(rows, axis=0) if rows else np.zeros((0, n), dtype=token_dtype(T))
    del rows
    return stacked[_first_occurrences(stacked)]


def _first_occurrences(rows: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row, increasing. Rows are hashed to one 64-bit
    number each (a random linear form, wrapping); only rows with equal hashes are compared entry by entry,
    so the cost is O(rows x n) rather than a lexicographic sort of whole rows."""
    if len(rows) == 0:
        return np.zeros(0, dtype=int)
    weights = np.random.default_rng(12345).integers(1, 2 ** 62, size=rows.shape[1], dtype=np.int64)
    h = np.empty(len(rows), dtype=np.int64)
    step = max(1, 2 ** 22 // max(rows.shape[1], 1))      # int64 copies of at most 32 MB at a time
    with np.errstate(over="ignore"):
        for a in range(0, len(rows), step):
            h[a:a + step] = rows[a:a + step].astype(np.int64) @ weights
    order = np.argsort(h, kind="stable")
    hs = h[order]
    keep = []
    start = 0
    for end in list(np.nonzero(np.diff(hs))[0] + 1) + [len(hs)]:
        group = order[start:end]       # equal hashes, in order of appearance
        if len(group) == 1:
            keep.append(int(group[0]))
        else:
            seen: list = []
            for j in group:
                if not any(np.array_equal(rows[j], rows[k]) for k in seen):
                    seen.append(int(j))
            keep.extend(seen)
        start = end
    return np.sort(np.array(keep, dtype=int))


@dataclass
class LDPSolution:
    """min ||x|| s.t. A x >= b: ``feasible``; x and the multipliers lam (x = A^T lam, lam >= 0) when
    feasible; ``certificate`` = max primal/stationarity residual of the float64 answer, or, when
    infeasible, the Farkas residual ||A^T u|| / (b^T u) of the certificate u (>= 0)."""

    feasible: bool
    x: np.ndarray | None
    lam: np.ndarray | None
    certificate: float


def least_distance(A: np.ndarray, b: np.ndarray, zero_tol: float = 1e-12) -> LDPSolution:
    """min ||x|| s.t. A x >= b by non-negative least squares (see module docstring)."""
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    m, D = A.shape
    E = np.vstack([A.T, b[None, :]])
    f = np.zeros(D + 1)
    f[D] = 1.0
    u, _ = nnls(E, f, maxiter=50 * (m + D + 1))
    r = E @ u - f
    if np.linalg.norm(r) <= zero_tol or -r[D] <= zero_tol:
        bu = float(b @ u)
        cert = float(np.linalg.norm(A.T @ u) / bu) if bu > 0 else float("inf")
        return LDPSolution(False, None, None, cert)
    x = -r[:D] / r[D]
    lam = u / (-r[D])
    scale = max(1.0, float(np.max(np.abs(A))))
    primal = float(np.max(np.maximum(b - A @ x, 0.0), initial=0.0))
    station = float(np.max(np.abs(x - A.T @ lam), initial=0.0)) / scale
    return LDPSolution(True, x, lam, max(primal, station))


@dataclass
class SelectionSVM:
    """One selection's p-SVM in float64: feasible, p_mm, the support tokens [(i, t), ...] (active
    constraints, slack <= ``active_tol`` relative), and locally_optimal (None when infeasible)."""

    selection: tuple
    feasible: bool
    p_mm: np.ndarray | None
    support: list
    locally_optimal: bool | None
    certificate: float


def support_tokens(A: np.ndarray, b: np.ndarray, x: np.ndarray, pairs: np.ndarray, active_tol: float = 1e-9) -> list:
    """The (i, t) whose constraint <x, A_j> >= b_j is active: A_j x - b_j <= active_tol * max(1, |b_j|)."""
    slack = np.asarray(A, dtype=float) @ x - np.asarray(b, dtype=float)
    active = slack <= active_tol * np.maximum(1.0, np.abs(b))
    return [(int(i), int(t)) for i, t in pairs[active]]


def is_locally_optimal(gamma, selection, support) -> bool:
    """Every support token scores strictly below the selected token of its sequence:
    gamma_it < gamma_{i,alpha_i} for all (i, t) in ``support``. ``gamma`` may hold exact rationals
    (Fractions; then the comparison is exact) or floats."""
    return all(gamma[i, t] < gamma[i, selection[i]] for i, t in support)


def analyse_selection(phi: np.ndarray, gamma, selection, active_tol: float = 1e-9) -> SelectionSVM:
    """Feasibility, p_mm, support tokens and local optimality of one selection (float64 LDP)."""
    sel = tuple(int(a) for a in selection)
    con = svm_constraints(np.asarray(phi, dtype=float), sel)
    sol = least_distance(con.A, con.b)
    if not sol.feasible:
        return SelectionSVM(sel, False, None, [], None, sol.certificate)
    sup = support_tokens(con.A, con.b, sol.x, con.pairs, active_tol)
    return SelectionSVM(sel, True, sol.x, sup, is_locally_optimal(gamma, sel, sup), sol.certificate)


def analyse_selections(phi: np.ndarray, gamma, selections, active_tol: float = 1e-9) -> list:
    """:func:`analyse_selection` for each row of ``selections``."""
    return [analyse_selection(phi, gamma, s, active_tol) for s in np.asarray(selections, dtype=int)]


def feasible_many(phi: np.ndarray, selections) -> np.ndarray:
    """Whether each selection's p-SVM is feasible (bool array, one entry per row of ``selections``)."""
    phi = np.asarray(phi, dtype=float)
    return np.array([least_distance(*_ab(phi, s)).feasible for s in np.asarray(selections, dtype=int)], dtype=bool)


def _ab(phi, sel):
    con = svm_constraints(phi, sel)
    return con.A, con.b
