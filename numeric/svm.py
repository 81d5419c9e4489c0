"""The attention SVM family, solved with cvxpy and polished in mpmath.

Every attention SVM is (DESIGN.md section 1)

    min ||theta||   s.t.   <theta, Phi_{i,alpha_i} - Phi_it> >= b_i   for all i, t != alpha_i

so it is determined by the constraint matrix A (one row A_j = Phi_{i,alpha_i} - Phi_it per
constraint j = (i, t)) and the margins b. The Euclidean (Frobenius) problem is solved as the QP
min ||theta||^2/2 s.t. A theta >= b; its KKT system is

    theta = A^T lambda,  lambda >= 0,  A theta >= b,  lambda_j (A_j theta - b_j) = 0.

:func:`polish` takes the active set the solver found and solves that system in mpmath from the
exact data, refining the active set until every condition holds to the working precision.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import cvxpy as cp
import mpmath
import numpy as np


@dataclass
class SVMConstraints:
    """A (m, D), b (m,), and pairs[j] = (i, t): the sequence and token of constraint j."""

    A: np.ndarray
    b: np.ndarray
    pairs: np.ndarray


def svm_constraints(phi: np.ndarray, alpha, margins=None) -> SVMConstraints:
    """Rows Phi_{i,alpha_i} - Phi_it for every i and t != alpha_i, in order of (i, t).

    ``phi`` may be float64 or an object array of exact rationals (the rows then stay exact);
    ``margins`` gives b_i per sequence (default 1 for every i).
    """
    n, T = phi.shape[:2]
    phi2 = phi.reshape(n, T, -1)
    alpha = np.asarray(alpha, dtype=int)
    mask = np.ones((n, T), dtype=bool)
    mask[np.arange(n), alpha] = False
    ii, tt = np.nonzero(mask)
    A = phi2[ii, alpha[ii]] - phi2[ii, tt]
    margins = np.ones(n, dtype=int) if margins is None else np.asarray(margins)
    b = margins[ii]
    return SVMConstraints(A=A, b=b, pairs=np.stack([ii, tt], axis=1))


@dataclass
class SVMSolution:
    """The solver's answer: feasible, status, theta (float64), lambda (duals) and ||theta||."""

    feasible: bool
    status: str
    theta: np.ndarray | None = None
    dual: np.ndarray | None = None
    norm: float | None = None


def solve_svm(A: np.ndarray, b: np.ndarray) -> SVMSolution:
    """min ||theta||^2 / 2 s.t. A theta >= b with cvxpy (Clarabel), one vectorised constraint."""
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    x = cp.Variable(A.shape[1])
    con = A @ x >= b
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x)), [con])
    try:
        prob.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as exc:  # pragma: no cover - depends on the solver
        return SVMSolution(feasible=False, status=f"solver error: {exc}")
    status = str(prob.status)
    if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        theta = np.asarray(x.value, dtype=float)
        return SVMSolution(feasible=True, status=status, theta=theta,
                           dual=np.asarray(con.dual_value, dtype=float), norm=float(np.linalg.norm(theta)))
    return SVMSolution(feasible=False, status=status)


def to_mpf(x) -> mpmath.mpf:
    """An exact rational (Fraction/int) or a float as an mpmath number at the working precision."""
    if isinstance(x, Fraction):
        return mpmath.mpf(x.numerator) / x.denominator
    return mpmath.mpf(x)


@dataclass
class PolishedSVM:
    """An SVM solution from its KKT system in mpmath.

    theta: list of mpf; lam: multipliers per constraint (mpf, 0 off the basis); active: indices j
    with A_j theta = b_j to the working precision; basis: the independent active rows used;
    kkt_residual: max of primal infeasibility, dual infeasibility, complementarity and
    stationarity (relative to the data scale); ok: all conditions hold to ``tol``.
    """

    theta: list
    lam: list
    active: list
    basis: list
    kkt_residual: mpmath.mpf
    ok: bool
    dps: int
    iterations: int
    notes: list = field(default_factory=list)

    @property
    def theta_float(self) -> np.ndarray:
        return np.array([float(x) for x in self.theta])

    @property
    def norm(self) -> mpmath.mpf:
        return mpmath.sqrt(mpmath.fsum(x * x for x in self.theta))


def _independent_rows(rows: list, order: list, tol) -> list:
    """Greedy Gram-Schmidt: the indices in ``order`` whose rows are independent of earlier ones."""
    basis_vecs: list = []
    chosen = []
    for j in order:
        v = list(rows[j])
        scale = mpmath.sqrt(mpmath.fsum(x * x for x in v))
        if scale == 0:
            continue
        for q in basis_vecs:
            c = mpmath.fsum(a * b for a, b in zip(v, q))
            v = [a - c * b for a, b in zip(v, q)]
        nv = mpmath.sqrt(mpmath.fsum(x * x for x in v))
        if nv > tol * scale:
            basis_vecs.append([x / nv for x in v])
            chosen.append(j)
    return chosen


def polish(A_exact, b_exact, active_guess, dps: int = 50, max_iter: int = 200) -> PolishedSVM:
    """Solve the KKT system of min ||theta|| s.t. A theta >= b in mpmath at ``dps`` digits.

    Start from the solver's active set; on an independent subset B of the active rows solve
    (A_B A_B^T) lambda_B = b_B and theta = A_B^T lambda_B; drop the most negative multiplier or add
    the most violated constraint until lambda >= 0 and A theta >= b hold to the working precision.
    """
    with mpmath.workdps(dps):
        m = len(A_exact)
        rows = [[to_mpf(x) for x in row] for row in np.asarray(A_exact, dtype=object)]
        b = [to_mpf(x) for x in np.asarray(b_exact, dtype=object).ravel()]
        data_scale = max([abs(x) for row in rows for x in row] + [abs(x) for x in b] + [mpmath.mpf(1)])
        tol = mpmath.mpf(10) ** (-(dps * 3 // 5))
        active = list(dict.fromkeys(int(j) for j in active_guess))
        notes: list = []
        theta = [mpmath.mpf(0)] * (len(rows[0]) if rows else 0)
        lam_b: list = []
        basis: list = []
        seen = set()
        it = 0
        for it in range(1, max_iter + 1):
            basis = _independent_rows(rows, active, tol)
            if basis:
                G = mpmath.matrix([[mpmath.fsum(a * c for a, c in zip(rows[j], rows[k])) for k in basis] for j in basis])
                lam_vec = mpmath.lu_solve(G, mpmath.matrix([b[j] for j in basis]))
                lam_b = [lam_vec[k] for k in range(len(basis))]
                theta = [mpmath.fsum(lam_b[k] * rows[basis[k]][c] for k in range(len(basis)))
                         for c in range(len(rows[0]))]
            else:
                lam_b, theta = [], [mpmath.mpf(0)] * len(rows[0])
            key = tuple(sorted(basis))
            worst_lam = min(range(len(lam_b)), key=lambda k: lam_b[k]) if lam_b else None
            if worst_lam is not None and lam_b[worst_lam] < -tol * data_scale:
                active.remove(basis[worst_lam])
                continue
            slack = [mpmath.fsum(a * t for a, t in zip(rows[j], theta)) - b[j] for j in range(m)]
            worst = min(range(m), key=lambda j: slack[j])
            if slack[worst] < -tol * data_scale:
                if key in seen and worst in active:
                    notes.append("active-set refinement cycled")
                    break
                seen.add(key)
                active.append(worst)
                continue
            break
        lam = [mpmath.mpf(0)] * m
        for k, j in enumerate(basis):
            lam[j] = lam_b[k]
        slack = [mpmath.fsum(a * t for a, t in zip(rows[j], theta)) - b[j] for j in range(m)]
        stationarity = max([abs(theta[c] - mpmath.fsum(lam[j] * rows[j][c] for j in basis))
                            for c in range(len(theta))] + [mpmath.mpf(0)])
        primal = max([-s for s in slack] + [mpmath.mpf(0)])
        dual = max([-x for x in lam] + [mpmath.mpf(0)])
        comp = max([abs(lam[j] * slack[j]) for j in range(m)] + [mpmath.mpf(0)])
        residual = max(stationarity, primal, dual, comp) / data_scale
        act = [j for j in range(m) if abs(slack[j]) <= tol * data_scale]
        return PolishedSVM(theta=theta, lam=lam, active=act, basis=sorted(basis), kkt_residual=residual,
                           ok=bool(residual <= tol), dps=dps, iterations=it, notes=notes)


def active_set_guess(sol: SVMSolution, A: np.ndarray, b: np.ndarray, rel_tol: float = 1e-5) -> list:
    """Constraints the solver left (nearly) tight or gave a clearly positive multiplier, largest
    multiplier first."""
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    slack = A @ sol.theta - b
    scale = max(1.0, float(np.max(np.abs(b))))
    dual = sol.dual if sol.dual is not None else np.zeros(len(b))
    cand = np.nonzero((slack <= rel_tol * scale) | (dual > rel_tol * max(1.0, float(np.max(dual, initial=0)))))[0]
    return [int(j) for j in cand[np.argsort(-dual[cand])]]


def mp_decimal_strings(values, digits: int = 40) -> list[str]:
    """Decimal strings with ``digits`` significant digits (trailing zeros kept)."""
    return [mpmath.nstr(v, digits, strip_zeros=False, min_fixed=-10, max_fixed=10) for v in values]
