"""Lagrangians and KKT systems of the attention SVMs, and certificates of their solutions.

Every attention SVM (DESIGN.md section 1) has constraints <A_j, theta> >= b_j. For the Euclidean
(p-SVM, v-SVM, relaxed joint p-SVM) and Frobenius (W-SVM) norms,

    L(theta, lambda) = ||theta||^2 / 2 - sum_j lambda_j (<A_j, theta> - b_j)
    KKT:  theta = sum_j lambda_j A_j,  lambda >= 0,  <A_j, theta> >= b_j,  lambda_j (<A_j, theta> - b_j) = 0.

For the nuclear norm (W-SVM of the (K, Q) parameterisation), min ||W||_* s.t. <A_j, W> >= b_j has the
dual max b^T lambda s.t. ||sum_j lambda_j A_j||_2 <= 1, lambda >= 0; a feasible W and lambda with
b^T lambda = ||W||_* certify each other (zero duality gap).

:func:`kkt_system` returns these as sympy objects (printable as LaTeX). :func:`certify_svm` solves the
KKT system over the exact rationals from an active set (python-flint's fmpq matrices) and checks every
condition exactly; :func:`farkas_certificate` proves infeasibility exactly; :func:`nuclear_dual_certificate`
checks a nuclear-norm dual certificate in mpmath.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import numpy as np
import sympy as sp
from flint import fmpq, fmpq_mat

SVM_KINDS = ("p-svm", "v-svm", "joint-p-svm", "W-svm", "W-svm-nuclear")


# -- KKT systems as sympy objects ------------------------------------------------------------------

class NuclearNorm(sp.Function):
    """||W||_* (printing only)."""

    is_extended_real = True
    is_extended_nonnegative = True

    def _latex(self, printer):
        return r"\left\|" + printer._print(self.args[0]) + r"\right\|_*"


class SpectralNorm(sp.Function):
    """||M||_2 (printing only)."""

    is_extended_real = True
    is_extended_nonnegative = True

    def _latex(self, printer):
        return r"\left\|" + printer._print(self.args[0]) + r"\right\|_2"


@dataclass
class KKTSystem:
    """The Lagrangian and KKT conditions of one SVM, as sympy objects.

    variable: the trained parameter (Matrix of symbols); A: constraint data (list of Matrices of
    symbols, one per constraint, same shape as the variable); b: margins; lam: multipliers.
    """

    kind: str
    variable: sp.Matrix
    A: list
    b: list
    lam: list
    objective: sp.Expr
    lagrangian: sp.Expr
    stationarity: list
    primal: list
    dual: list
    complementary: list

    def conditions(self) -> list:
        return self.stationarity + self.primal + self.dual + self.complementary

    def latex(self) -> dict:
        """LaTeX of the objective, the Lagrangian and each group of conditions."""
        return {"objective": sp.latex(self.objective), "lagrangian": sp.latex(self.lagrangian),
                "stationarity": [sp.latex(c) for c in self.stationarity],
                "primal": [sp.latex(c) for c in self.primal], "dual": [sp.latex(c) for c in self.dual],
                "complementary": [sp.latex(c) for c in self.complementary]}


def _inner(A: sp.Matrix, B: sp.Matrix) -> sp.Expr:
    """<A, B> = sum of the entrywise products (the Frobenius inner product; the dot product for vectors)."""
    return sum(a * b for a, b in zip(A, B))


def _sym_number(x) -> sp.Expr:
    if isinstance(x, sp.Basic):
        return x
    f = Fraction(x) if not isinstance(x, (np.integer, np.floating)) else Fraction(x.item())
    return sp.Rational(f.numerator, f.denominator)


def kkt_system(kind: str, m: int = 2, shape: tuple = (2, 1), margins=None, A=None) -> KKTSystem:
    """The KKT system of the SVM ``kind`` (one of :data:`SVM_KINDS`) with ``m`` constraints on a
    parameter of ``shape`` ((D, 1) for p and v, (d, d) for W), all data symbolic.

    p-svm: b_j = 1; v-svm: rows A_j = Y_i x_{i,alpha_i}, b_j = 1; joint-p-svm: b_j = ``margins`` (1 for
    sequences in the v-SVM's support set, 0 otherwise; default alternating 1, 0); W-svm: Frobenius;
    W-svm-nuclear: nuclear norm with the dual-certificate conditions. With ``A`` (an (m, D) or (m, d, d)
    array of exact rationals, e.g. ``numeric.svm_constraints(...).A``) the constraint data are those
    numbers instead of symbols (m and shape are taken from it).

    >>> k = kkt_system("p-svm", m=2, shape=(2, 1))
    >>> k.stationarity[0]
    Eq(p_0, a_00*lambda_0 + a_10*lambda_1)
    """
    if kind not in SVM_KINDS:
        raise ValueError(f"unknown SVM {kind!r}; expected one of {SVM_KINDS}")
    name = {"p-svm": "p", "joint-p-svm": "p", "v-svm": "v"}.get(kind, "W")
    data = None
    if A is not None:
        data = np.asarray(A, dtype=object)
        m = data.shape[0]
        shape = (data.shape[1], 1) if data.ndim == 2 else data.shape[1:]
    rows, cols = shape
    if cols == 1:
        var = sp.Matrix(rows, 1, lambda a, _: sp.Symbol(f"{name}_{a}", real=True))
        A = [sp.Matrix(rows, 1, lambda a, _, j=j: sp.Symbol(f"a_{j}{a}", real=True)) for j in range(m)]
    else:
        var = sp.Matrix(rows, cols, lambda a, c: sp.Symbol(f"{name}_{a}{c}", real=True))
        A = [sp.Matrix(rows, cols, lambda a, c, j=j: sp.Symbol(f"A^{{({j})}}_{{{a}{c}}}", real=True))
             for j in range(m)]
    if data is not None:
        A = [sp.Matrix(rows, cols, [_sym_number(x) for x in data[j].ravel()]) for j in range(m)]
    if kind == "joint-p-svm":
        b = [sp.Integer(x) for x in (margins if margins is not None else [(j + 1) % 2 for j in range(m)])]
    else:
        b = [sp.Integer(1)] * m
    lam = [sp.Symbol(f"lambda_{j}", real=True) for j in range(m)]
    slack = [_inner(A[j], var) - b[j] for j in range(m)]
    primal = [sp.Ge(s + b[j], b[j]) for j, s in enumerate(slack)]
    dual = [sp.Ge(x, 0) for x in lam]
    comp = [sp.Eq(lam[j] * slack[j], 0) for j in range(m)]
    M = sum((lam[j] * A[j] for j in range(1, m)), lam[0] * A[0])
    if kind == "W-svm-nuclear":
        W = sp.MatrixSymbol("W", rows, cols)
        objective = NuclearNorm(W)
        lagrangian = objective - sum(lam[j] * slack[j] for j in range(m))
        stationarity = [sp.Le(SpectralNorm(sp.MatrixSymbol("M", rows, cols)), 1),
                        sp.Eq(sp.MatrixSymbol("M", rows, cols), M),
                        sp.Eq(_inner(M, var), NuclearNorm(W)),
                        sp.Eq(sum(lam[j] * b[j] for j in range(m)), NuclearNorm(W))]
    else:
        objective = _inner(var, var) / 2
        lagrangian = objective - sum(lam[j] * slack[j] for j in range(m))
        # dL/dtheta_k = theta_k - sum_j lambda_j A_jk = 0, solved for theta_k
        stationarity = [sp.Eq(var[k], sp.solve(sp.diff(lagrangian, var[k]), var[k])[0]) for k in range(len(var))]
    return KKTSystem(kind=kind, variable=var, A=A, b=b, lam=lam, objective=objective, lagrangian=lagrangian,
                     stationarity=stationarity, primal=primal, dual=dual, complementary=comp)


# -- exact certificates ---------------------------------------------------------------------------------

def _fmpq(x) -> fmpq:
    if isinstance(x, fmpq):
        return x
    if isinstance(x, Fraction):
        return fmpq(x.numerator, x.denominator)
    if isinstance(x, (int, np.integer)):
        return fmpq(int(x))
    if isinstance(x, (float, np.floating)):
        f = Fraction(float(x))
        return fmpq(f.numerator, f.denominator)
    if isinstance(x, sp.Rational):
        return fmpq(int(x.p), int(x.q))
    raise TypeError(f"not an exact rational: {type(x).__name__}")


def to_fmpq_mat(A) -> fmpq_mat:
    """An (m, D) array of exact rationals (Fraction, int, the exact value of a float) as an fmpq_mat."""
    A = np.asarray(A, dtype=object)
    if A.ndim == 1:
        A = A.reshape(-1, 1)
    return fmpq_mat(A.shape[0], A.shape[1], [_fmpq(x) for x in A.ravel()])


def _to_fraction(x: fmpq) -> Fraction:
    return Fraction(int(x.p), int(x.q))


def _rows(M: fmpq_mat, idx: list) -> fmpq_mat:
    D = M.ncols()
    return fmpq_mat(len(idx), D, [M[j, c] for j in idx for c in range(D)])


def _pivot_columns(R: fmpq_mat, rank: int) -> list:
    piv = []
    for r in range(rank):
        for c in range(R.ncols()):
            if R[r, c] != 0:
                piv.append(c)
                break
    return piv


def independent_rows(A: fmpq_mat, order: list) -> list:
    """The indices in ``order`` whose rows of A are linearly independent of the earlier chosen ones
    (exact: the pivot columns of the reduced row echelon form of [A_order]^T)."""
    if not order:
        return []
    R, rank = _rows(A, order).transpose().rref()
    return [order[c] for c in _pivot_columns(R, rank)]


@dataclass
class SVMCertificate:
    """A certificate of min ||theta|| s.t. A theta >= b.

    status: "exact" (every KKT condition checked in exact rational arithmetic), "mpmath" (residuals at
    ``dps`` digits, from a polished solution) or "none" (``reason`` says why); infeasible: True when an
    exact Farkas certificate proves that no theta satisfies the constraints. theta, lam: Fractions
    (exact case); basis: the independent active rows solved for; active: the rows with A_j theta = b_j;
    checks: each exact condition and whether it holds.
    """

    status: str
    reason: str = ""
    theta: list | None = None
    lam: list | None = None
    basis: list = field(default_factory=list)
    active: list = field(default_factory=list)
    checks: dict = field(default_factory=dict)
    norm_squared: Fraction | None = None
    infeasible: bool = False
    farkas: list | None = None
    residual: float | None = None
    dps: int | None = None
    iterations: int = 0
    seconds: float = 0.0
    exact_rows: int = 0   # constraint rows taken in exact arithmetic (the others settled by a float64 bound)

    def theta_strings(self) -> list | None:
        """theta as fraction strings ("7/5"), exact case only."""
        return None if self.theta is None else [str(x) for x in self.theta]

    def evidence(self) -> dict:
        ev = {"status": self.status, "seconds": round(self.seconds, 4)}
        if self.reason:
            ev["reason"] = self.reason
        if self.status == "exact":
            ev.update({"theta": self.theta_strings(), "norm_squared": str(self.norm_squared),
                       "multipliers": {str(j): str(self.lam[j]) for j in self.basis},
                       "basis": list(self.basis), "active": list(self.active), "checks": dict(self.checks),
                       "iterations": self.iterations, "arithmetic": "exact rationals (python-flint fmpq)",
                       "exact_rows": self.exact_rows})
        elif self.status == "mpmath":
            ev.update({"kkt_residual": self.residual, "dps": self.dps})
        if self.infeasible:
            ev.update({"infeasible": True, "farkas_y": {str(j): str(y) for j, y in self.farkas}})
        return ev


def _solve_on_basis(A: fmpq_mat, b: fmpq_mat, basis: list) -> tuple[fmpq_mat, fmpq_mat]:
    """lambda_B from (A_B A_B^T) lambda_B = b_B and theta = A_B^T lambda_B (A_B has independent rows)."""
    AB = _rows(A, basis)
    bB = fmpq_mat(len(basis), 1, [b[j, 0] for j in basis])
    lam_B = (AB * AB.transpose()).solve(bB)
    return lam_B, AB.transpose() * lam_B


class _ExactRowCache:
    """Rows of a lazy exact matrix (numeric.ExactRows protocol) as lists of fmpq, converted once."""

    def __init__(self, src, max_entry_bits: int):
        self.src = src
        self.D = src.shape[1]
        self.max_entry_bits = max_entry_bits
        self.rows: dict = {}
        self.big = 0

    def fetch(self, indices) -> None:
        missing = list(dict.fromkeys(int(j) for j in indices if int(j) not in self.rows))
        if missing:
            for j, row in zip(missing, self.src.rows(missing)):
                r = [_fmpq(x) for x in row]
                self.big = max([self.big] + [max(abs(int(x.p)).bit_length(), int(x.q).bit_length()) for x in r])
                self.rows[j] = r

    def matrix(self, indices) -> fmpq_mat:
        indices = [int(j) for j in indices]
        self.fetch(indices)
        return fmpq_mat(len(indices), self.D, [x for j in indices for x in self.rows[j]])


class _TooBig(Exception):
    pass


def certify_svm(A, b, active_guess, *, max_iter: int = 200, polished=None, max_entry_bits: int = 4096) -> SVMCertificate:
    """Certify min ||theta|| s.t. A theta >= b over the exact rationals, starting from ``active_guess``.

    On an independent subset B of the active rows (exact rank decisions, so dependent or surplus
    active rows are fine) solve (A_B A_B^T) lambda_B = b_B, theta = A_B^T lambda_B; drop a row with a
    negative multiplier or put a violated constraint first in the active list (so that it enters
    the next independent subset) until neither happens; then check exactly:
    lambda >= 0, A theta >= b, lambda_j (A_j theta - b_j) = 0 and theta = A^T lambda. When that cannot
    be done exactly (entries larger than ``max_entry_bits`` bits, or no convergence) the ``polished``
    mpmath solution (numeric.PolishedSVM), if given and within tolerance, makes the status "mpmath".

    ``A`` is an array of exact rationals or a lazy matrix (``numeric.ExactRows``: float rows with an error
    bound and exact rows on demand). Only the rows whose slack A_j theta - b_j a rigorous float64 bound
    (``numeric.exact_rows.slack_lower_bounds``) cannot prove positive are taken exactly; every other row
    satisfies its constraint strictly, with lambda_j = 0, so all four conditions hold for it.
    ``exact_rows`` of the certificate counts the rows taken exactly.
    """
    from attnsvm.numeric.exact_rows import as_exact_rows, float_with_error, slack_lower_bounds

    start = time.perf_counter()
    src = as_exact_rows(A)
    m, D = src.shape
    b_obj = list(np.asarray(b, dtype=object).ravel())

    def fallback(reason: str) -> SVMCertificate:
        if polished is not None and polished.ok:
            return SVMCertificate(status="mpmath", reason=reason, residual=float(polished.kkt_residual),
                                  dps=polished.dps, seconds=time.perf_counter() - start)
        return SVMCertificate(status="none", reason=reason, seconds=time.perf_counter() - start)

    try:
        bq = [_fmpq(x) for x in b_obj]
        b_f, b_err = float_with_error(b_obj)
        cache = _ExactRowCache(src, max_entry_bits)
    except TypeError as exc:
        return fallback(f"data are not exact rationals: {exc}")

    def exact_slacks(theta: fmpq_mat, rows: list) -> dict:
        if not rows:
            return {}
        s = cache.matrix(rows) * theta
        if cache.big > max_entry_bits:
            raise _TooBig
        return {j: s[k, 0] - bq[j] for k, j in enumerate(rows)}

    def uncertain(theta: fmpq_mat, basis: list) -> tuple[list, np.ndarray]:
        """Rows whose slack float64 cannot prove positive (and the basis rows), increasing; float estimates."""
        th_f, th_err = float_with_error([theta[k, 0] for k in range(D)])
        lb = slack_lower_bounds(src, th_f, th_err, b_f, b_err)
        with np.errstate(over="ignore", invalid="ignore"):
            est = src.approx @ th_f - b_f
        return sorted(set(np.nonzero(lb <= 0)[0].tolist()) | set(basis)), est

    active = list(dict.fromkeys(int(j) for j in active_guess))
    if not active and m:
        # no solution to start from (the solver found none): an infeasible system is settled by its Farkas
        # certificate, whose support is small, before any active-set work
        farkas = farkas_certificate(src, b_obj)
        if farkas is not None:
            return SVMCertificate(status="none", reason="infeasible: exact Farkas certificate y >= 0, A^T y = 0, "
                                  "b^T y > 0", infeasible=True, farkas=farkas, iterations=0,
                                  seconds=time.perf_counter() - start, exact_rows=len(farkas))
    seen: set = set()
    basis: list = []
    theta = lam_B = None
    slack: dict = {}
    it = 0
    converged = False
    try:
        for it in range(1, max_iter + 1):
            if active:
                R, rank = cache.matrix(active).transpose().rref()
                basis = [active[c] for c in _pivot_columns(R, rank)]
            else:
                basis = []
            if cache.big > max_entry_bits:
                raise _TooBig
            if basis:
                AB = cache.matrix(basis)
                bB = fmpq_mat(len(basis), 1, [bq[j] for j in basis])
                lam_B = (AB * AB.transpose()).solve(bB)
                theta = AB.transpose() * lam_B
            else:
                lam_B, theta = fmpq_mat(0, 1), fmpq_mat(D, 1)
            lam_list = [lam_B[k, 0] for k in range(len(basis))]
            if lam_list and min(lam_list) < 0:
                active.remove(basis[lam_list.index(min(lam_list))])
                continue
            cand, est = uncertain(theta, basis)
            # exact slacks of the uncertain rows, most violated (by the float estimate) first, in batches:
            # the first batch with a violated row gives the row that enters; none violated: converged
            order = sorted(cand, key=lambda j: (est[j] if np.isfinite(est[j]) else -np.inf, j))
            slack = {}
            worst = None
            for k in range(0, len(order), 16):
                batch = order[k:k + 16]
                slack.update(exact_slacks(theta, batch))
                neg = [j for j in batch if slack[j] < 0]
                if neg:
                    worst = min(neg, key=lambda j: (slack[j], j))
                    break
            if worst is not None:
                key = (tuple(sorted(basis)), worst)
                if key in seen:
                    break
                seen.add(key)
                # the violated row goes first, so that the next independent subset contains it
                active = [worst] + [j for j in active if j != worst]
                continue
            converged = True
            break
    except _TooBig:
        return fallback(f"entries of {cache.big} bits exceed the exact-arithmetic limit of {max_entry_bits}")
    if not converged:
        farkas = farkas_certificate(src, b_obj) if m else None
        if farkas is not None:
            return SVMCertificate(status="none", reason="infeasible: exact Farkas certificate y >= 0, A^T y = 0, "
                                  "b^T y > 0", infeasible=True, farkas=farkas, iterations=it,
                                  seconds=time.perf_counter() - start, exact_rows=len(cache.rows))
        return fallback(f"the exact active-set refinement did not converge in {it} iterations")
    lam_basis = {j: lam_B[k, 0] for k, j in enumerate(basis)}
    stat = cache.matrix(basis).transpose() * fmpq_mat(len(basis), 1, [lam_basis[j] for j in basis]) if basis \
        else fmpq_mat(D, 1)
    checks = {
        "multipliers_nonnegative": all(x >= 0 for x in lam_basis.values()),
        # rows outside `slack` have a positive slack proved by the float64 bound
        "primal_feasible": all(s >= 0 for s in slack.values()),
        "complementary_slackness": all(lam_basis[j] * slack[j] == 0 for j in basis),
        "stationarity": all(stat[k, 0] == theta[k, 0] for k in range(D)),
    }
    theta_fr = [_to_fraction(theta[k, 0]) for k in range(D)]
    zero = Fraction(0)
    lam_fr = [zero] * m
    for j, x in lam_basis.items():
        lam_fr[j] = _to_fraction(x)
    cert = SVMCertificate(status="exact" if all(checks.values()) else "none",
                          theta=theta_fr, lam=lam_fr, basis=sorted(basis),
                          active=sorted(j for j, s in slack.items() if s == 0), checks=checks,
                          norm_squared=sum((x * x for x in theta_fr), Fraction(0)), iterations=it,
                          seconds=time.perf_counter() - start, exact_rows=len(cache.rows))
    if cert.status != "exact":
        failed = [k for k, ok in checks.items() if not ok]
        out = fallback(f"exact check failed: {', '.join(failed)}")
        out.checks = checks
        return out
    return cert


def farkas_certificate(A, b) -> list | None:
    """An exact proof that A theta >= b has no solution: y >= 0 with A^T y = 0 and b^T y = 1 (then
    0 = <A^T y, theta> = y^T A theta >= y^T b = 1 would follow for any feasible theta). The support
    of y is guessed by a floating LP (scipy HiGHS) on the float rows; y itself is solved and checked in
    exact rationals on the rows of its support only (``A``: an array of exact rationals or a lazy
    ``numeric.ExactRows``). Returns [(j, y_j)] (Fractions) or None when no certificate was found."""
    from scipy.optimize import linprog

    from attnsvm.numeric.exact_rows import as_exact_rows, float_with_error

    src = as_exact_rows(A)
    b_obj = list(np.asarray(b, dtype=object).ravel())
    m, D = src.shape
    A_f = src.approx
    b_f = float_with_error(b_obj)[0]
    res = linprog(np.zeros(m), A_eq=np.vstack([A_f.T, b_f[None, :]]), b_eq=np.r_[np.zeros(D), 1.0],
                  bounds=[(0, None)] * m, method="highs")
    if res.status != 0:
        return None
    support = [int(j) for j in np.nonzero(res.x > 1e-12 * max(1.0, float(np.max(res.x))))[0]]
    if not support:
        return None
    rows = [[_fmpq(x) for x in row] for row in src.rows(support)]
    bS = [_fmpq(b_obj[j]) for j in support]
    # [A_S^T; b_S^T] y_S = [0; 1], solved by reduced row echelon form of the augmented matrix
    k = len(support)
    entries = [x for c in range(D) for x in [rows[r][c] for r in range(k)] + [fmpq(0)]]
    entries += bS + [fmpq(1)]
    aug = fmpq_mat(D + 1, k + 1, entries)
    R, rank = aug.rref()
    piv = _pivot_columns(R, rank)
    if k in piv:  # inconsistent
        return None
    y = [fmpq(0)] * k
    for r, c in enumerate(piv):
        y[c] = R[r, k]
    if any(x < 0 for x in y):
        return None
    # y is 0 off the support, so A^T y = A_S^T y_S and b^T y = b_S^T y_S: checked exactly
    y_S = fmpq_mat(k, 1, y)
    ATy = fmpq_mat(k, D, [x for r in rows for x in r]).transpose() * y_S
    bTy = (fmpq_mat(1, k, bS) * y_S)[0, 0]
    if any(ATy[c, 0] != 0 for c in range(D)) or bTy <= 0:
        return None
    return [(j, _to_fraction(y[c])) for c, j in enumerate(support) if y[c] != 0]


# -- nuclear norm ---------------------------------------------------------------------------------------

@dataclass
class NuclearCertificate:
    """A nuclear-norm dual certificate checked in mpmath at ``dps`` digits.

    spectral_norm = ||sum_j lambda_j A_j||_2, nuclear_norm = ||W||_*, dual_value = b^T lambda,
    gap = ||W||_* - b^T lambda, min_slack = min_j (<A_j, W> - b_j), max_complementarity =
    max_j |lambda_j (<A_j, W> - b_j)|; ok when lambda >= 0, min_slack >= -tol, spectral_norm <= 1 + tol
    and |gap| <= tol (relative to ||W||_*)."""

    ok: bool
    spectral_norm: mpmath.mpf
    nuclear_norm: mpmath.mpf
    dual_value: mpmath.mpf
    gap: mpmath.mpf
    min_slack: mpmath.mpf
    max_complementarity: mpmath.mpf
    lam_nonnegative: bool
    tol: mpmath.mpf
    dps: int


def _mp(x) -> mpmath.mpf:
    """An exact rational (Fraction, int, sympy Rational) or a float or mpf, at the working precision."""
    if isinstance(x, Fraction):
        return mpmath.mpf(x.numerator) / x.denominator
    if isinstance(x, sp.Rational):
        return mpmath.mpf(int(x.p)) / int(x.q)
    if isinstance(x, (np.integer, np.floating)):
        return mpmath.mpf(x.item())
    return mpmath.mpf(x)


def _mp_matrix(M, rows: int, cols: int):
    arr = np.asarray(M, dtype=object).reshape(rows, cols)
    return mpmath.matrix([[_mp(x) for x in row] for row in arr])


def nuclear_dual_certificate(A_mats, lam, W, b=None, dps: int = 50, tol=None) -> NuclearCertificate:
    """Check that ``lam`` certifies ``W`` as a solution of min ||W||_* s.t. <A_j, W> >= b_j (b = 1 by
    default): lambda >= 0, W feasible, ||sum_j lambda_j A_j||_2 <= 1 and b^T lambda = ||W||_* (weak
    duality then gives optimality of both). A_mats: (m, d1, d2) array-like; singular values in mpmath."""
    with mpmath.workdps(dps):
        tol = mpmath.mpf(10) ** (-(dps * 3 // 5)) if tol is None else mpmath.mpf(tol)
        A_arr = np.asarray(A_mats, dtype=object)
        mcount, d1, d2 = A_arr.shape
        Wm = _mp_matrix(W, d1, d2)
        As = [_mp_matrix(A_arr[j], d1, d2) for j in range(mcount)]
        lam_mp = [_mp(x) for x in lam]
        b_mp = [mpmath.mpf(1)] * mcount if b is None else [_mp(x) for x in b]
        M = mpmath.zeros(d1, d2)
        for j in range(mcount):
            M += lam_mp[j] * As[j]
        spec = max(mpmath.svd_r(M, compute_uv=False)) if d1 and d2 else mpmath.mpf(0)
        nuc = mpmath.fsum(mpmath.svd_r(Wm, compute_uv=False))
        slack = [mpmath.fsum(As[j][a, c] * Wm[a, c] for a in range(d1) for c in range(d2)) - b_mp[j]
                 for j in range(mcount)]
        dual_value = mpmath.fsum(l * bb for l, bb in zip(lam_mp, b_mp))
        gap = nuc - dual_value
        comp = max([abs(lam_mp[j] * slack[j]) for j in range(mcount)] + [mpmath.mpf(0)])
        nonneg = all(x >= 0 for x in lam_mp)
        scale = max(mpmath.mpf(1), nuc)
        ok = nonneg and min(slack) >= -tol * scale and spec <= 1 + tol and abs(gap) <= tol * scale
        return NuclearCertificate(ok=bool(ok), spectral_norm=spec, nuclear_norm=nuc, dual_value=dual_value, gap=gap,
                                  min_slack=min(slack), max_complementarity=comp, lam_nonnegative=nonneg, tol=tol,
                                  dps=dps)
