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
from fractions import Fraction

import mpmath
import numpy as np

from .exact_rows import pivot_rows
from .lazy import cvxpy as cp
from .svm import PolishedSVM, SVMSolution, _fmpq, active_set_guess, polish, to_mpf


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
    """The elimination of the module docstring, in exact rational arithmetic (python-flint) from the data (floats
    are taken at their exact binary values): ``basis`` (indices of an independent subset of the equality rows,
    exact rank decisions), theta_E (exact, as Fractions), the reduced rows A P and margins b - A theta_E (exact
    Fractions, what :func:`numeric.svm.polish` takes), ``consistent`` (E theta_E = c holds exactly for every row,
    the dependent ones included) and G^{-1} E_B as mpf rows at ``dps`` digits (to recover mu)."""

    basis: list
    theta_E: list
    A_red: np.ndarray
    b_red: np.ndarray
    consistent: bool
    Ginv_E: list
    dps: int


def _dot(u, v):
    return mpmath.fsum(a * b for a, b in zip(u, v))


def _fraction(x) -> Fraction:
    return Fraction(int(x.p), int(x.q))


def _independent(M, order: list) -> list:
    """The indices in ``order`` whose rows of the fmpq_mat M are independent of the earlier chosen ones (exact)."""
    from flint import fmpq_mat

    if not order:
        return []
    sub = fmpq_mat(len(order), M.ncols(), [M[j, c] for j in order for c in range(M.ncols())])
    return pivot_rows(sub, order)


def reduce_equalities(A, b, A_eq, b_eq, dps: int = 50) -> EqualityReduction:
    """Eliminate E theta = c from the inequality SVM (module docstring), exactly."""
    from flint import fmpq, fmpq_mat

    E_obj = np.asarray(A_eq, dtype=object)
    k = E_obj.shape[0] if E_obj.size else 0
    A_obj = np.asarray(A, dtype=object)
    m = A_obj.shape[0] if A_obj.size else 0
    D = E_obj.shape[1] if k else A_obj.shape[1]
    E = fmpq_mat(k, D, [_fmpq(x) for x in E_obj.ravel()]) if k else fmpq_mat(0, D)
    c = fmpq_mat(k, 1, [_fmpq(x) for x in np.asarray(b_eq, dtype=object).ravel()]) if k else fmpq_mat(0, 1)
    basis = _independent(E, list(range(k)))
    if basis:
        EB = fmpq_mat(len(basis), D, [E[j, col] for j in basis for col in range(D)])
        cB = fmpq_mat(len(basis), 1, [c[j, 0] for j in basis])
        Ginv = (EB * EB.transpose()).inv()
        theta_E = EB.transpose() * (Ginv * cB)
        GinvE = Ginv * EB
    else:
        theta_E = fmpq_mat(D, 1)
        GinvE = fmpq_mat(0, D)
    consistent = all((E * theta_E)[j, 0] == c[j, 0] for j in range(k)) if k else True
    A_red = np.empty((m, D), dtype=object)
    b_red = np.empty(m, dtype=object)
    if m:
        Af = fmpq_mat(m, D, [_fmpq(x) for x in A_obj.ravel()])
        bf = [_fmpq(x) for x in np.asarray(b, dtype=object).ravel()]
        red = Af - (Af * EB.transpose()) * GinvE if basis else Af      # A P = A - (A E_B^T) G^{-1} E_B
        Ath = Af * theta_E
        for j in range(m):
            A_red[j, :] = [_fraction(red[j, col]) for col in range(D)]
            b_red[j] = _fraction(bf[j] - Ath[j, 0])
    with mpmath.workdps(dps):
        Ginv_E = [[mpmath.mpf(int(GinvE[p, col].p)) / int(GinvE[p, col].q) for col in range(D)]
                  for p in range(GinvE.nrows())]
    return EqualityReduction(basis=basis, theta_E=[_fraction(theta_E[col, 0]) for col in range(D)], A_red=A_red,
                             b_red=b_red, consistent=consistent, Ginv_E=Ginv_E, dps=dps)


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
            inner = polish(red.A_red, red.b_red, active_guess, dps=dps)
            theta_perp = list(inner.theta)
            lam = list(inner.lam)
            notes += inner.notes
        else:
            theta_perp, lam = [mpmath.mpf(0)] * D, []
        theta_E = [to_mpf(x) for x in red.theta_E]
        theta = [x + y for x, y in zip(theta_E, theta_perp)]
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
        if not red.consistent:
            notes.append("the equalities are inconsistent (exact)")
        active = [j for j in range(m) if abs(slack[j]) <= tol * scale]
        ok = bool(residual <= tol and (inner is None or inner.ok) and red.consistent)
        return PolishedEqualitySVM(theta=theta, theta_E=theta_E, theta_perp=theta_perp, lam=lam, mu=mu,
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
