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

import mpmath
import numpy as np

from .exact_rows import ExactRows, as_exact_rows, float_with_error, pivot_rows, slack_lower_bounds
from .lazy import cvxpy as cp


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
    """The solver's answer: feasible, status, theta (float64), lambda (duals), ||theta|| and which solver."""

    feasible: bool
    status: str
    theta: np.ndarray | None = None
    dual: np.ndarray | None = None
    norm: float | None = None
    solver: str = ""


def solve_svm(A: np.ndarray, b: np.ndarray) -> SVMSolution:
    """min ||theta||^2 / 2 s.t. A theta >= b, on rows scaled to unit norm (A_j / ||A_j||, b_j / ||A_j||: the
    same feasible set, better conditioned when rows differ in scale by many orders of magnitude).

    First as a least-distance problem by non-negative least squares (Lawson-Hanson; see
    :mod:`numeric.selections`), whose steps cost O(m D), so it scales to many constraints; its answer is
    accepted when it checks (primal feasibility, stationarity and complementarity, or a Farkas vector
    A^T u ~ 0, b^T u = 1, to 1e-9 relative). Otherwise cvxpy (Clarabel) on the same scaled rows. The
    multipliers ``dual`` refer to the original rows."""
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float).ravel()
    m = A.shape[0]
    scale = np.linalg.norm(A, axis=1) if m else np.zeros(0)
    zero = scale == 0
    if np.any(zero & (b > 0)):   # 0 >= b_j > 0: infeasible (y = e_j is a Farkas vector)
        return SVMSolution(feasible=False, status="infeasible", solver="row check")
    keep = np.nonzero(~zero)[0]
    As = A[keep] / scale[keep, None]
    bs = b[keep] / scale[keep]
    sol = _solve_gram(As, bs) if 0 < As.shape[0] <= As.shape[1] and As.size >= GRAM_MIN_ENTRIES else None
    if sol is None:
        sol = _solve_ldp(As, bs)
    if sol is None:
        sol = _solve_clarabel(As, bs)
    if sol.feasible and sol.dual is not None:
        dual = np.zeros(m)
        dual[keep] = sol.dual / scale[keep]
        sol.dual = dual
    return sol


GRAM_MIN_ENTRIES = 1_000_000   # from this size of A (m <= D), the dual on the Gram matrix is tried first
GRAM_MAX_ROUNDS = 60


def _solve_gram(A: np.ndarray, b: np.ndarray, G: np.ndarray | None = None) -> SVMSolution | None:
    """min ||x|| s.t. A x >= b through its dual min_{lambda >= 0} lambda^T G lambda / 2 - b^T lambda, G = A A^T
    (m x m: for m <= D far smaller than the LDP's (D + 1) x m), by the primal-dual active-set method: on the free
    set F solve G_FF lambda_F = b_F (Cholesky), lambda = 0 elsewhere, mu = G lambda - b (the slacks A x - b);
    the next free set is {lambda_j > 0} plus {mu_j < 0}; stop when it repeats. x = A^T lambda. The answer is
    checked as in :func:`_solve_ldp`; None when G is singular on a free set, the method cycles, or the check
    fails (another solver runs then)."""
    import scipy.linalg as sla

    m, D = A.shape
    if G is None:
        G = A @ A.T
    free = np.ones(m, dtype=bool)        # start from every constraint tight (typical when m <= D)
    seen = set()
    lam = np.zeros(m)
    for _ in range(GRAM_MAX_ROUNDS):
        key = free.tobytes()
        if key in seen:
            return None
        seen.add(key)
        idx = np.nonzero(free)[0]
        lam = np.zeros(m)
        if len(idx):
            try:
                c = sla.cho_factor(G[np.ix_(idx, idx)], check_finite=False)
            except (np.linalg.LinAlgError, ValueError):
                return None
            lam[idx] = sla.cho_solve(c, b[idx], check_finite=False)
        mu = G @ lam - b
        nxt = (lam > 0) | ((~free) & (mu < 0))
        if np.array_equal(nxt, free) and np.all(lam >= 0):
            break
        free = nxt
    else:
        return None
    lam = np.maximum(lam, 0.0)
    x = A.T @ lam
    xn = float(np.linalg.norm(x))
    tol = 1e-9
    slack = A @ x - b
    ok = (float(np.min(slack)) >= -tol * max(1.0, xn)
          and float(np.max(np.abs(lam * np.minimum(slack, 1.0)), initial=0.0)) <= tol * max(1.0, xn))
    if not ok:
        return None
    return SVMSolution(feasible=True, status="optimal", theta=x, dual=lam, norm=xn, solver="gram active set")


def _solve_ldp(A: np.ndarray, b: np.ndarray) -> SVMSolution | None:
    """min ||x|| s.t. A x >= b by NNLS: min_{u >= 0} ||E u - f||, E = [A^T; b^T], f = (0, .., 0, 1); r = E u - f;
    x = -r[:D] / r[D], lambda = u / (-r[D]). None when the answer does not check (then another solver runs)."""
    from scipy.optimize import nnls

    m, D = A.shape
    if m == 0:
        return SVMSolution(feasible=True, status="optimal", theta=np.zeros(D), dual=np.zeros(0), norm=0.0,
                           solver="nnls")
    E = np.vstack([A.T, b[None, :]])
    f = np.zeros(D + 1)
    f[D] = 1.0
    try:
        u, _ = nnls(E, f, maxiter=50 * (m + D + 1))
    except (RuntimeError, ValueError):   # pragma: no cover - iteration limit
        return None
    r = E @ u - f
    tol = 1e-9
    if -r[D] > tol:
        x = -r[:D] / r[D]
        lam = u / (-r[D])
        xn = float(np.linalg.norm(x))
        slack = A @ x - b
        ok = (float(np.min(slack)) >= -tol * max(1.0, xn)
              and float(np.max(np.abs(x - A.T @ lam))) <= tol * max(1.0, xn)
              and float(np.max(np.abs(lam * np.minimum(slack, 1.0)), initial=0.0)) <= tol * max(1.0, xn))
        if ok:
            return SVMSolution(feasible=True, status="optimal", theta=x, dual=lam, norm=xn, solver="nnls")
        return None
    bu = float(b @ u)
    if bu > 0.5 and float(np.max(np.abs(A.T @ u))) <= tol * max(1.0, float(np.sum(u))):
        return SVMSolution(feasible=False, status="infeasible", solver="nnls")
    return None


def _solve_clarabel(A: np.ndarray, b: np.ndarray) -> SVMSolution:
    """min ||theta||^2 / 2 s.t. A theta >= b with cvxpy (Clarabel), one vectorised constraint."""
    x = cp.Variable(A.shape[1])
    con = A @ x >= b
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x)), [con])
    try:
        prob.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as exc:  # pragma: no cover - depends on the solver
        return SVMSolution(feasible=False, status=f"solver error: {exc}", solver="clarabel")
    status = str(prob.status)
    if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        theta = np.asarray(x.value, dtype=float)
        return SVMSolution(feasible=True, status=status, theta=theta,
                           dual=np.asarray(con.dual_value, dtype=float), norm=float(np.linalg.norm(theta)),
                           solver="clarabel")
    return SVMSolution(feasible=False, status=status, solver="clarabel")


def to_mpf(x) -> mpmath.mpf:
    """An exact rational (Fraction/int/python-flint fmpq) or a float as an mpmath number at the working precision."""
    if isinstance(x, Fraction):
        return mpmath.mpf(x.numerator) / x.denominator
    if hasattr(x, "p") and hasattr(x, "q") and not isinstance(x, mpmath.mpf):   # fmpq
        return mpmath.mpf(int(x.p)) / int(x.q)
    if isinstance(x, (int, np.integer)):
        return mpmath.mpf(int(x))
    return mpmath.mpf(float(x)) if isinstance(x, np.floating) else mpmath.mpf(x)


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
    rows_in_mpmath: int = 0   # constraint rows taken at the working precision (the others settled in float64)

    @property
    def theta_float(self) -> np.ndarray:
        return np.array([float(x) for x in self.theta])

    @property
    def norm(self) -> mpmath.mpf:
        return mpmath.sqrt(mpmath.fsum(x * x for x in self.theta))


def _fmpq(x):
    """An exact rational (Fraction, int, python-flint fmpq, or the exact value of a float or an mpf) as an fmpq."""
    from flint import fmpq

    if isinstance(x, fmpq):
        return x
    if isinstance(x, Fraction):
        return fmpq(x.numerator, x.denominator)
    if isinstance(x, (int, np.integer)):
        return fmpq(int(x))
    if isinstance(x, mpmath.mpf):   # a binary number: man * 2^exp, exactly
        sign, man, exp, _ = x._mpf_   # mpf.man_exp drops the sign
        man = -int(man) if sign else int(man)
        return fmpq(man * 2 ** int(exp)) if exp >= 0 else fmpq(man, 2 ** int(-exp))
    p, q = float(x).as_integer_ratio()
    return fmpq(p, q)


def _mpf(a) -> mpmath.mpf:
    """The midpoint of a python-flint arb as an mpf (exact: both are binary floating point)."""
    man, exp = a.mid().man_exp()
    return mpmath.mpf((int(man), int(exp)))


class _ArbRows:
    """Rows of an exact constraint matrix (numeric.ExactRows) kept as fmpq, turned into python-flint arb
    matrices (ball arithmetic at the working precision, C speed) for the linear algebra of :func:`polish`."""

    def __init__(self, src: ExactRows):
        self.src = src
        self.D = src.shape[1]
        self.q: dict = {}

    def fetch(self, indices) -> None:
        missing = list(dict.fromkeys(int(j) for j in indices if int(j) not in self.q))
        if missing:
            for j, row in zip(missing, self.src.rows(missing)):
                self.q[j] = [_fmpq(x) for x in row]

    def exact(self, indices):
        from flint import fmpq_mat

        indices = [int(j) for j in indices]
        self.fetch(indices)
        return fmpq_mat(len(indices), self.D, [x for j in indices for x in self.q[j]])

    def arb(self, indices):
        from flint import arb_mat

        return arb_mat(self.exact(indices))

    def independent(self, order: list) -> list:
        """The indices in ``order`` whose rows are linearly independent of the earlier chosen ones (exact: the
        pivot columns of the reduced row echelon form of [A_order]^T)."""
        order = list(dict.fromkeys(int(j) for j in order))
        return pivot_rows(self.exact(order), order) if order else []


def polish(A_exact, b_exact, active_guess, dps: int = 50, max_iter: int = 500) -> PolishedSVM:
    """Solve min ||theta||^2/2 s.t. A theta >= b exactly enough: its dual
    min_{lambda >= 0} ||A^T lambda||^2/2 - b^T lambda by the Lawson-Hanson active-set method at ``dps``
    digits, warm-started from the solver's active set.

    On the free set F the dual optimum solves (A_F A_F^T) lambda_F = b_F, theta = A_F^T lambda_F; the
    method adds the most violated primal constraint (the most negative dual gradient A_j theta - b_j),
    and steps back to keep lambda >= 0 when a multiplier would turn negative. It ends when
    lambda >= 0, A theta >= b and lambda_j (A_j theta - b_j) = 0 hold to the working precision.

    Arithmetic: products and solves with python-flint's arb matrices at ``dps`` digits (midpoints kept, so
    every quantity is a binary number of that precision, as in mpmath); rank decisions on the exact rows;
    results as mpmath numbers. ``A_exact`` is an array of exact rationals or a lazy ``numeric.ExactRows``:
    only the rows whose slack float64 cannot prove larger than the tolerance
    (numeric.exact_rows.slack_lower_bounds) are taken; the others satisfy their constraint strictly and are
    neither active nor violated.
    """
    from flint import ctx

    src = as_exact_rows(A_exact)
    previous = ctx.prec
    ctx.prec = int(dps * 3.33) + 16
    try:
        with mpmath.workdps(dps):
            return _polish(src, b_exact, active_guess, dps, max_iter)
    finally:
        ctx.prec = previous


def _polish(src: ExactRows, b_exact, active_guess, dps: int, max_iter: int) -> PolishedSVM:
    from flint import arb, arb_mat

    m, D = src.shape
    rows = _ArbRows(src)
    b_obj = list(np.asarray(b_exact, dtype=object).ravel())
    b = [arb(_fmpq(x)) for x in b_obj]
    b_f, b_err = float_with_error(b_obj)
    scale_f = float(np.max(np.abs(src.approx) + src.error[:, None], initial=0.0)) if m and D else 0.0
    data_scale = max([arb(scale_f)] + [abs(x) for x in b] + [arb(1)], key=float)
    tol = (arb(10) ** (-(dps * 3 // 5))).mid()
    tds = (tol * data_scale).mid()
    tol_f = float(tds)
    notes: list = []

    def mids(M) -> list:
        return [M[k, 0].mid() for k in range(M.nrows())]

    def solve_on(free: list, rhs: list):
        """x with (A_F A_F^T) x = rhs, or None when the Gram matrix is (numerically) singular."""
        AF = rows.arb(free)
        try:
            return mids((AF * AF.transpose()).solve(arb_mat(len(free), 1, rhs)))
        except (ZeroDivisionError, ValueError):
            return None

    def primal(lam: dict) -> list:
        if not lam:
            return [arb(0)] * D
        F = list(lam)
        return mids(rows.arb(F).transpose() * arb_mat(len(F), 1, [lam[j] for j in F]))

    def near(lam: dict):
        """theta = A^T lam and the rows whose slack float64 cannot prove > tol * data_scale (with the free rows)."""
        theta = primal(lam)
        th_f = np.array([float(x) for x in theta]) if D else np.zeros(0)
        lb = slack_lower_bounds(src, th_f, 2.0 ** -50 * np.abs(th_f) + 2.0 ** -1070, b_f, b_err)
        out = sorted(set(np.nonzero(lb <= tol_f)[0].tolist()) | set(lam))
        return theta, out

    def slacks(theta: list, idx: list) -> dict:
        if not idx:
            return {}
        s = rows.arb(idx) * arb_mat(D, 1, theta)
        return {j: (s[k, 0] - b[j]).mid() for k, j in enumerate(idx)}

    # warm start: an independent subset of the guess whose equality solution has lambda > 0
    free = rows.independent(list(dict.fromkeys(int(j) for j in active_guess)))
    lam_f = None
    while free:
        lam_f = solve_on(free, [b[j] for j in free])
        if lam_f is None:
            free.pop()
            continue
        worst = min(range(len(free)), key=lambda k: lam_f[k])
        if lam_f[worst] > tds:
            break
        free.pop(worst)
    lam = {j: lam_f[k] for k, j in enumerate(free)} if free else {}

    it = 0
    for it in range(1, max_iter + 1):
        theta, cand_rows = near(lam)
        slack = slacks(theta, cand_rows)
        cand = [j for j in cand_rows if j not in lam]
        if not cand:
            break
        j_add = min(cand, key=lambda j: slack[j])
        if slack[j_add] >= -tds:
            break
        if lam and not rows.independent(list(lam) + [j_add])[-1:] == [j_add]:
            # A_j = sum_k c_k A_k over the free rows and A_j theta < b_j: trade lambda_k for lambda_j
            # (theta stays, the dual objective grows) until a multiplier reaches 0
            free = list(lam)
            g = rows.arb(free) * rows.arb([j_add]).transpose()
            c = solve_on(free, [g[k, 0] for k in range(len(free))])
            pos = [((lam[k] / c[i]).mid(), k) for i, k in enumerate(free) if c is not None and c[i] > tol]
            if not pos:
                notes.append("the constraints are inconsistent: the SVM is infeasible")
                break
            t, k_out = min(pos, key=lambda pk: (pk[0], pk[1]))
            current = {k: (lam[k] - t * c[i]).mid() for i, k in enumerate(free) if k != k_out}
            current[j_add] = t
            free = list(current)
        else:
            free = list(lam) + [j_add]
            current = {**lam, j_add: arb(0)}
        for _ in range(len(free) + 1):  # inner loop: move towards the equality solution, keep lambda >= 0
            z = solve_on(free, [b[j] for j in free])
            if z is None:
                notes.append("singular system on the free set")
                break
            if all(x > tds for x in z):
                current = dict(zip(free, z))
                break
            steps = [(current[j] / (current[j] - z[k])).mid() for k, j in enumerate(free) if z[k] <= tds]
            alpha = min(steps)
            current = {j: (current[j] + alpha * (z[k] - current[j])).mid() for k, j in enumerate(free)}
            free = [j for j in free if current[j] > tds]
            current = {j: current[j] for j in free}
            if not free:
                break
        lam = current
    else:
        notes.append(f"no convergence in {max_iter} iterations")

    theta, cand_rows = near(lam)
    slack = slacks(theta, cand_rows)
    zero = arb(0)
    primal_inf = max([-s for s in slack.values()] + [zero], key=float)
    dual_inf = max([-x for x in lam.values()] + [zero], key=float)
    comp = max([abs(lam[j] * slack[j]).mid() for j in lam] + [zero], key=float)
    residual = _mpf(max(primal_inf, dual_inf, comp, key=float)) / _mpf(data_scale.mid())
    act = [j for j in cand_rows if abs(slack[j]) <= tds]
    mp_zero = mpmath.mpf(0)
    lam_all = [mp_zero] * m
    for j, x in lam.items():
        lam_all[j] = _mpf(x)
    return PolishedSVM(theta=[_mpf(x) for x in theta], lam=lam_all, active=act, basis=sorted(lam),
                       kkt_residual=residual, ok=bool(residual <= _mpf(tol)), dps=dps, iterations=it, notes=notes,
                       rows_in_mpmath=len(rows.q))


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


def solve_and_polish(A, b, A_exact=None, b_exact=None, dps: int = 50,
                     solution: SVMSolution | None = None) -> tuple[SVMSolution, PolishedSVM | None]:
    """The solver's answer and its polished KKT solution (from the exact rows when given: an array of exact
    rationals or a lazy ``numeric.ExactRows``, e.g. ``Dataset.exact_constraints(selection).A``).

    When the solver gives no answer that is a proof of infeasibility (an error, or an "inaccurate"
    status), the active-set method runs from an empty active set; if it reaches a KKT point the SVM is
    reported feasible with that solution (its status says so), otherwise the solver's answer stands.
    ``solution``: the answer of :func:`solve_svm` on (A, b) when already computed.
    """
    A_exact = A if A_exact is None else A_exact
    b_exact = b if b_exact is None else b_exact
    sol = solve_svm(A, b) if solution is None else solution
    if sol.feasible:
        return sol, polish(A_exact, b_exact, active_set_guess(sol, A, b), dps=dps)
    if sol.status == "infeasible":   # cvxpy's INFEASIBLE (the NNLS solvers say it too)
        return sol, None
    pol = polish(A_exact, b_exact, [], dps=dps)
    if not pol.ok:
        return sol, None
    return SVMSolution(feasible=True, status=f"{sol.status}; solved by the mpmath active-set method instead",
                       theta=pol.theta_float, dual=np.array([float(x) for x in pol.lam]),
                       norm=float(pol.norm)), pol
