"""The W-SVM with the nuclear norm (the limit of GD on (K, Q)), its dual certificate, and optimality gaps.

    W_*^mm = argmin ||W||_*   s.t.   <W, A_j> >= b_j   for every constraint j = (i, t), t != alpha_i

with A_j = x_{i,alpha_i} z_i^T - x_it z_i^T (one row of the vectorised constraint matrix A, reshaped
d x d; see :func:`numeric.svm.svm_constraints`). Weak duality gives the certificate: for any
lambda >= 0 with M = sum_j lambda_j A_j and every feasible W,

    ||W||_* >= <M, W> / ||M||_2 >= (lambda^T b) / ||M||_2

(the nuclear and spectral norms are dual). So lower = lambda^T b / ||M||_2 bounds the optimum from
below, and upper = ||W / min_j (<A_j, W>/b_j)||_* (a feasible point) bounds it from above; the
certificate is the relative duality gap upper / lower - 1, evaluated in mpmath. The optimum need not
be unique, so iterates are judged by their optimality gap, never by their angle to one solution.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np

from .lazy import cvxpy as cp


@dataclass
class NuclearSVM:
    """The solver's answer: feasible, status, W (d x d), dual multipliers lambda, ||W||_*."""

    feasible: bool
    status: str
    W: np.ndarray | None = None
    dual: np.ndarray | None = None
    norm: float | None = None


def solve_nuclear_svm(A: np.ndarray, b: np.ndarray, d: int, d2: int | None = None) -> NuclearSVM:
    """min ||W||_* s.t. A vec(W) >= b (vec row-major, W of shape d x d2), with cvxpy (Clarabel, SCS as
    fallback), one vectorised constraint."""
    d2 = d if d2 is None else d2
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    W = cp.Variable((d, d2))
    con = A @ cp.reshape(W, (d * d2,), order="C") >= b
    prob = cp.Problem(cp.Minimize(cp.normNuc(W)), [con])
    status = "not solved"
    for solver in (cp.CLARABEL, cp.SCS):
        try:
            prob.solve(solver=solver)
        except (cp.error.SolverError, ValueError) as exc:  # pragma: no cover - depends on the solver
            status = f"solver error: {exc}"
            continue
        status = str(prob.status)
        if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            break
    if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        Wv = np.asarray(W.value, dtype=float)
        return NuclearSVM(True, status, Wv, np.maximum(np.asarray(con.dual_value, dtype=float), 0.0),
                          float(np.linalg.norm(Wv, "nuc")))
    return NuclearSVM(False, status)


@dataclass
class NuclearCertificate:
    """lower <= min ||W||_* <= upper, proved by weak duality in mpmath at ``dps`` digits.

    spectral: ||sum_j lambda_j A_j||_2 before rescaling; gap = upper/lower - 1; ok: gap <= tol."""

    lower: mpmath.mpf
    upper: mpmath.mpf
    gap: mpmath.mpf
    spectral: mpmath.mpf
    min_margin: mpmath.mpf
    ok: bool
    dps: int


def _mp_matrix(M) -> mpmath.matrix:
    return mpmath.matrix([[mpmath.mpf(x) if not hasattr(x, "numerator") else
                           mpmath.mpf(x.numerator) / x.denominator for x in row] for row in M])


def _mp_singular_values(M: mpmath.matrix) -> list:
    return [M_s for M_s in mpmath.svd_r(M, compute_uv=False)]


def nuclear_certificate(A, b, W, lam, d: int, d2: int | None = None, dps: int = 30,
                        tol: float = 1e-6) -> NuclearCertificate:
    """The weak-duality bracket of the module docstring, from the data A, b (float or exact rationals, or a
    lazy ``numeric.ExactRows``: see :func:`_rows_certificate`), a candidate W and multipliers lambda >= 0
    (negative entries are clipped to 0)."""
    d2 = d if d2 is None else d2
    if hasattr(A, "approx") and hasattr(A, "rows"):
        return _rows_certificate(A, b, W, lam, d, d2, dps, tol)
    with mpmath.workdps(dps):
        def mpf(x):
            return mpmath.mpf(x.numerator) / x.denominator if hasattr(x, "numerator") and not isinstance(x, float) \
                else mpmath.mpf(float(x))
        A_mp = mpmath.matrix([[mpf(x) for x in row] for row in np.asarray(A, dtype=object)])
        b_mp = [mpf(x) for x in np.asarray(b, dtype=object).ravel()]
        w = mpmath.matrix([mpmath.mpf(float(x)) for x in np.asarray(W, dtype=float).ravel()])
        lam_mp = [mpmath.mpf(max(float(x), 0.0)) for x in np.asarray(lam, dtype=float).ravel()]
        m, D = A_mp.rows, A_mp.cols
        margins = A_mp * w
        min_margin = min(margins[j] / b_mp[j] for j in range(m))
        Wm = mpmath.matrix(d, d2)
        for a in range(d):
            for c in range(d2):
                Wm[a, c] = w[a * d2 + c] / min_margin
        upper = mpmath.fsum(_mp_singular_values(Wm))
        Mv = [mpmath.fsum(lam_mp[j] * A_mp[j, k] for j in range(m)) for k in range(D)]
        M = mpmath.matrix(d, d2)
        for a in range(d):
            for c in range(d2):
                M[a, c] = Mv[a * d2 + c]
        spectral = max(_mp_singular_values(M))
        lower = mpmath.fsum(l * bj for l, bj in zip(lam_mp, b_mp)) / spectral
        gap = upper / lower - 1
        return NuclearCertificate(lower=lower, upper=upper, gap=gap, spectral=spectral, min_margin=min_margin,
                                  ok=bool(min_margin > 0 and 0 <= gap <= tol), dps=dps)


def margin_scaled(theta: np.ndarray, A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """(theta / mu, mu) with mu = min_j <A_j, theta> / b_j: the iterate scaled to margin 1 (feasible for
    the SVM when mu > 0)."""
    theta = np.asarray(theta, dtype=float).ravel()
    mu = float(np.min((np.asarray(A, dtype=float) @ theta) / np.asarray(b, dtype=float)))
    return theta / mu, mu


def optimality_gaps(theta: np.ndarray, A: np.ndarray, b: np.ndarray, d: int, fro_opt: float | None,
                    nuc_opt: float | None) -> dict:
    """Scale theta = vec(W) to margin 1 and report ||W_s||_F / fro_opt - 1 and ||W_s||_* / nuc_opt - 1
    (both >= 0 up to rounding when W_s is feasible); None where the margin is not positive."""
    Ws, mu = margin_scaled(theta, A, b)
    out = {"min_margin": mu, "fro_gap": None, "nuc_gap": None}
    if not mu > 0:
        return out
    Wm = Ws.reshape(d, -1)
    if fro_opt:
        out["fro_gap"] = float(np.linalg.norm(Wm) / fro_opt - 1.0)
    if nuc_opt:
        out["nuc_gap"] = float(np.linalg.norm(Wm, "nuc") / nuc_opt - 1.0)
    return out


def numerical_rank(M: np.ndarray, rtol: float = 1e-6) -> int:
    """The number of singular values of M above rtol * sigma_max."""
    s = np.linalg.svd(np.asarray(M, dtype=float), compute_uv=False)
    return int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0


def _rows_certificate(A, b, W, lam, d: int, d2: int, dps: int, tol: float) -> NuclearCertificate:
    """The same bracket from a lazy exact matrix A (numeric.ExactRows: float rows ``approx`` with
    |A_jk - approx_jk| <= error_j), without converting all m x D entries to mpmath:

    * min_j <A_j, W> / b_j: float64 values with rigorous error bounds single out the rows that can attain
      the minimum; only those are evaluated in mpmath from their exact rows;
    * M = sum_j lambda_j A_j: M_f = sum_j lambda_j approx_j in float64 and an entrywise bound E on
      |M - M_f| (rounding gamma_m |lambda| |approx| plus lambda^T error), so ||M||_2 <= ||M_f||_2 + ||E||_F
      with ||M_f||_2 from mpmath's SVD; lower = lambda^T b / (||M_f||_2 + ||E||_F) stays a lower bound.
    """
    from .exact_rows import U, float_with_error

    m, D = A.shape
    w_f = np.asarray(W, dtype=float).ravel()
    lam_f = np.maximum(np.asarray(lam, dtype=float).ravel(), 0.0)
    b_obj = list(np.asarray(b, dtype=object).ravel())
    b_f, b_err = float_with_error(b_obj)
    with np.errstate(over="ignore", invalid="ignore"):
        absA = np.abs(A.approx)
        marg = A.approx @ w_f
        err = 2 * ((D + 4) * U * (absA @ np.abs(w_f)) + A.error * np.sum(np.abs(w_f)) + 4 * U * np.abs(marg)) + 1e-300
        lo = (marg - err) / (b_f + b_err)
        hi = (marg + err) / np.maximum(b_f - b_err, 1e-300)
        M_f = (lam_f @ A.approx).reshape(d, d2)
        E = 2 * ((m + 4) * U * (lam_f @ absA) + lam_f @ A.error + 4 * U * np.abs(M_f.ravel()))
    cand = np.nonzero(~(lo > np.min(hi)))[0].tolist() if m else []
    with mpmath.workdps(dps):
        def mpf(x):
            return mpmath.mpf(x.numerator) / x.denominator if hasattr(x, "numerator") and not isinstance(x, float) \
                else mpmath.mpf(int(x.p)) / int(x.q) if hasattr(x, "p") else mpmath.mpf(float(x))
        w = [mpmath.mpf(float(x)) for x in w_f]
        rows = A.rows(cand)
        min_margin = min(mpmath.fsum(mpf(a) * x for a, x in zip(row, w)) / mpf(b_obj[j]) for j, row in zip(cand, rows))
        Wm = mpmath.matrix(d, d2)
        for a in range(d):
            for c in range(d2):
                Wm[a, c] = w[a * d2 + c] / min_margin
        upper = mpmath.fsum(_mp_singular_values(Wm))
        Mm = mpmath.matrix([[mpmath.mpf(float(x)) for x in row] for row in M_f])
        spectral = max(_mp_singular_values(Mm)) + mpmath.mpf(float(np.sqrt(np.sum(E * E))) * (1 + 1e-12))
        lower = mpmath.fsum(mpmath.mpf(float(l)) * mpf(bj) for l, bj in zip(lam_f, b_obj)) / spectral
        gap = upper / lower - 1
        return NuclearCertificate(lower=lower, upper=upper, gap=gap, spectral=spectral, min_margin=min_margin,
                                  ok=bool(min_margin > 0 and 0 <= gap <= tol), dps=dps)
