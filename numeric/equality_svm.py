"""Attention SVMs with equality and inequality constraints, solved with cvxpy and polished in mpmath.

    min ||theta||   s.t.   A theta >= b,   E theta = c

(the direction SVM of the multi-token equivalence has E theta = 0 for the selected tokens' logit differences; the
finite part has equalities only). Its KKT system is

    theta = A^T lambda + E^T mu,  lambda >= 0,  mu free,  A theta >= b,  E theta = c,  lambda_j (A_j theta - b_j) = 0.

The equalities are eliminated exactly rather than handled by a second active-set method: with E_B an independent
subset of the rows of E (the others must be consistent with it), G = E_B E_B^T, theta_E = E_B^T G^{-1} c_B (the
minimum-norm solution of the equalities, in the row space of E) and P = I - E_B^T G^{-1} E_B (the projection onto
the complement of that row space), every feasible theta is theta_E + theta_perp with theta_perp = P theta_perp, and

    ||theta||^2 = ||theta_E||^2 + ||theta_perp||^2,    A theta - b = (A P) theta_perp - (b - A theta_E),

so theta_perp solves the inequality SVM with rows A P and margins b - A theta_E, which :func:`numeric.svm.polish`
solves and :func:`symbolic.certify_svm` certifies unchanged. Then mu = G^{-1} E_B (theta - A^T lambda). The
decomposition theta = theta_E + theta_perp is orthogonal and unique.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cvxpy as cp
import mpmath
import numpy as np

from .svm import PolishedSVM, SVMSolution, _independent_rows, active_set_guess, polish, to_mpf


def solve_equality_svm(A, b, A_eq, b_eq) -> SVMSolution:
    """min ||theta||^2/2 s.t. A theta >= b, E theta = c with cvxpy (Clarabel), both constraint blocks vectorised.
    ``dual`` holds the inequality multipliers (lambda >= 0); ``A`` may have no rows."""
    A = np.asarray(A, dtype=float)
    A_eq = np.asarray(A_eq, dtype=float)
    D = A.shape[1] if A.size else A_eq.shape[1]
    x = cp.Variable(D)
    cons = []
    if A.shape[0]:
        cons.append(A.reshape(-1, D) @ x >= np.asarray(b, dtype=float))
    if A_eq.shape[0]:
        cons.append(A_eq.reshape(-1, D) @ x == np.asarray(b_eq, dtype=float))
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x)), cons)
    try:
        prob.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as exc:  # pragma: no cover - depends on the solver
        return SVMSolution(feasible=False, status=f"solver error: {exc}")
    status = str(prob.status)
    if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        theta = np.asarray(x.value, dtype=float)
        dual = np.asarray(cons[0].dual_value, dtype=float) if A.shape[0] else np.zeros(0)
        return SVMSolution(feasible=True, status=status, theta=theta, dual=dual, norm=float(np.linalg.norm(theta)))
    return SVMSolution(feasible=False, status=status)


@dataclass
class EqualityReduction:
    """The elimination of the module docstring in mpmath: ``basis`` (indices of the independent equality rows),
    theta_E (list of mpf), the reduced rows A P and margins b - A theta_E, the equality residual of the rows left
    out of the basis (0 when E theta = c is consistent), and G^{-1} E_B as rows (to recover mu)."""

    basis: list
    theta_E: list
    A_red: list
    b_red: list
    consistency_residual: mpmath.mpf
    Ginv_E: list
    dps: int


def _dot(u, v):
    return mpmath.fsum(a * b for a, b in zip(u, v))


def reduce_equalities(A, b, A_eq, b_eq, dps: int = 50) -> EqualityReduction:
    """Eliminate E theta = c from the inequality SVM (module docstring), in mpmath at ``dps`` digits from the
    given (exact or float) data."""
    with mpmath.workdps(dps):
        E = [[to_mpf(x) for x in row] for row in np.asarray(A_eq, dtype=object)]
        c = [to_mpf(x) for x in np.asarray(b_eq, dtype=object).ravel()]
        rows = [[to_mpf(x) for x in row] for row in np.asarray(A, dtype=object)] if len(A) else []
        bb = [to_mpf(x) for x in np.asarray(b, dtype=object).ravel()] if len(A) else []
        D = len(E[0]) if E else (len(rows[0]) if rows else 0)
        tol = mpmath.mpf(10) ** (-(dps * 3 // 5))
        basis = _independent_rows(E, list(range(len(E))), tol) if E else []
        if basis:
            G = mpmath.matrix([[_dot(E[j], E[k]) for k in basis] for j in basis])
            Ginv = mpmath.inverse(G)
            Ginv_E = [[mpmath.fsum(Ginv[p, q] * E[basis[q]][col] for q in range(len(basis))) for col in range(D)]
                      for p in range(len(basis))]
            w = [mpmath.fsum(Ginv[p, q] * c[basis[q]] for q in range(len(basis))) for p in range(len(basis))]
            theta_E = [mpmath.fsum(E[basis[p]][col] * w[p] for p in range(len(basis))) for col in range(D)]
        else:
            Ginv_E, theta_E = [], [mpmath.mpf(0)] * D

        def project(v):  # P v = v - E_B^T G^{-1} E_B v
            coef = [_dot(g, v) for g in Ginv_E]
            return [v[col] - mpmath.fsum(E[basis[p]][col] * coef[p] for p in range(len(basis))) for col in range(D)]

        A_red = [project(r) for r in rows]
        b_red = [bb[j] - _dot(rows[j], theta_E) for j in range(len(rows))]
        scale = max([abs(x) for row in E for x in row] + [abs(x) for x in c] + [mpmath.mpf(1)])
        resid = max([abs(_dot(E[j], theta_E) - c[j]) for j in range(len(E))] + [mpmath.mpf(0)]) / scale
        return EqualityReduction(basis=basis, theta_E=theta_E, A_red=A_red, b_red=b_red, consistency_residual=resid,
                                 Ginv_E=Ginv_E, dps=dps)


@dataclass
class PolishedEqualitySVM:
    """A polished solution of the SVM with equalities: theta = theta_E + theta_perp (lists of mpf), the inequality
    multipliers lam, the equality multipliers mu (on the independent rows ``eq_basis``), the active inequality rows,
    and the KKT residual of the full system (primal, equality, dual, complementarity, stationarity; relative to the
    data scale); ``inner`` is the polished reduced inequality SVM (None without inequality rows)."""

    theta: list
    theta_E: list
    theta_perp: list
    lam: list
    mu: list
    eq_basis: list
    active: list
    kkt_residual: mpmath.mpf
    ok: bool
    dps: int
    inner: PolishedSVM | None = None
    notes: list = field(default_factory=list)

    @property
    def theta_float(self) -> np.ndarray:
        return np.array([float(x) for x in self.theta])

    @property
    def norm(self) -> mpmath.mpf:
        return mpmath.sqrt(mpmath.fsum(x * x for x in self.theta))


def polish_equality_svm(A, b, A_eq, b_eq, active_guess, dps: int = 50) -> PolishedEqualitySVM:
    """Polish min ||theta|| s.t. A theta >= b, E theta = c in mpmath from the (exact) data: eliminate the
    equalities (:func:`reduce_equalities`), polish the reduced inequality SVM by :func:`numeric.svm.polish`
    warm-started from ``active_guess``, recover theta and mu, and check the full KKT system."""
    red = reduce_equalities(A, b, A_eq, b_eq, dps)
    notes = []
    with mpmath.workdps(dps):
        tol = mpmath.mpf(10) ** (-(dps * 3 // 5))
        D = len(red.theta_E)
        m = len(red.A_red)
        inner = None
        if m:
            A_obj = np.empty((m, D), dtype=object)
            for j, row in enumerate(red.A_red):
                A_obj[j, :] = row
            inner = polish(A_obj, np.array(red.b_red, dtype=object), active_guess, dps=dps)
            theta_perp = list(inner.theta)
            lam = list(inner.lam)
            notes += inner.notes
        else:
            theta_perp, lam = [mpmath.mpf(0)] * D, []
        theta = [x + y for x, y in zip(red.theta_E, theta_perp)]
        rows = [[to_mpf(x) for x in row] for row in np.asarray(A, dtype=object)] if m else []
        bb = [to_mpf(x) for x in np.asarray(b, dtype=object).ravel()] if m else []
        E = [[to_mpf(x) for x in row] for row in np.asarray(A_eq, dtype=object)]
        c = [to_mpf(x) for x in np.asarray(b_eq, dtype=object).ravel()]
        ATlam = [mpmath.fsum(lam[j] * rows[j][col] for j in range(m)) for col in range(D)]
        rest = [t - a for t, a in zip(theta, ATlam)]
        mu = [_dot(g, rest) for g in red.Ginv_E]
        stat = [rest[col] - mpmath.fsum(mu[p] * E[red.basis[p]][col] for p in range(len(mu))) for col in range(D)]
        slack = [_dot(rows[j], theta) - bb[j] for j in range(m)]
        scale = max([abs(x) for row in rows + E for x in row] + [abs(x) for x in bb + c] + [mpmath.mpf(1)])
        residual = max([-s for s in slack] + [abs(_dot(E[j], theta) - c[j]) for j in range(len(E))] +
                       [-x for x in lam] + [abs(lam[j] * slack[j]) for j in range(m)] + [abs(x) for x in stat] +
                       [mpmath.mpf(0)]) / scale
        if red.consistency_residual > tol:
            notes.append(f"the equalities are inconsistent (residual {mpmath.nstr(red.consistency_residual, 3)})")
        active = [j for j in range(m) if abs(slack[j]) <= tol * scale]
        ok = bool(residual <= tol and (inner is None or inner.ok))
        return PolishedEqualitySVM(theta=theta, theta_E=list(red.theta_E), theta_perp=theta_perp, lam=lam, mu=mu,
                                   eq_basis=list(red.basis), active=active, kkt_residual=residual, ok=ok, dps=dps,
                                   inner=inner, notes=notes)


def solve_and_polish_equality_svm(A, b, A_eq, b_eq, A_exact=None, b_exact=None, A_eq_exact=None, b_eq_exact=None,
                                  dps: int = 50) -> tuple[SVMSolution, PolishedEqualitySVM | None]:
    """The solver's answer (cvxpy) and the polished solution from the exact data when given. When the solver
    finds no solution, the polish runs from an empty active set and its KKT point, if it reaches one, stands."""
    A_exact = A if A_exact is None else A_exact
    b_exact = b if b_exact is None else b_exact
    A_eq_exact = A_eq if A_eq_exact is None else A_eq_exact
    b_eq_exact = b_eq if b_eq_exact is None else b_eq_exact
    sol = solve_equality_svm(A, b, A_eq, b_eq)
    if sol.feasible:
        guess = active_set_guess(sol, np.asarray(A, dtype=float), np.asarray(b, dtype=float)) if len(A) else []
        return sol, polish_equality_svm(A_exact, b_exact, A_eq_exact, b_eq_exact, guess, dps)
    if sol.status == cp.INFEASIBLE:
        return sol, None
    pol = polish_equality_svm(A_exact, b_exact, A_eq_exact, b_eq_exact, [], dps)
    if not pol.ok:
        return sol, None
    return SVMSolution(feasible=True, status=f"{sol.status}; solved by the mpmath active-set method instead",
                       theta=pol.theta_float, dual=np.array([float(x) for x in pol.lam]), norm=float(pol.norm)), pol
