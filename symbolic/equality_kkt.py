"""Exact certificates of attention SVMs with equality and inequality constraints.

    min ||theta||   s.t.   A theta >= b,   E theta = c

KKT: theta = A^T lambda + E^T mu, lambda >= 0, A theta >= b, E theta = c, lambda_j (A_j theta - b_j) = 0 (mu free).
Over the exact rationals the equalities are eliminated as in :mod:`numeric.equality_svm`: with E_B an independent
subset of the rows of E (exact rank decisions), G = E_B E_B^T, theta_E = E_B^T G^{-1} c_B and P = I - E_B^T G^{-1} E_B,
theta = theta_E + theta_perp where theta_perp solves the inequality SVM with rows A P and margins b - A theta_E,
which :func:`symbolic.kkt.certify_svm` certifies; then mu = G^{-1} E_B (theta - A^T lambda) and every KKT condition
of the full system is checked exactly. Infeasibility of the reduced problem (its exact Farkas vector y) gives the
exact Farkas certificate of the full one: y >= 0 and y_E = -G^{-1} E_B A^T y satisfy A^T y + E_B^T y_E = 0 and
b^T y + c_B^T y_E = (b - A theta_E)^T y > 0, so no theta is feasible.
"""
from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
from flint import fmpq, fmpq_mat

from .kkt import SVMCertificate, _rows, _to_fraction, certify_svm, independent_rows, to_fmpq_mat


def certify_equality_svm(A, b, A_eq, b_eq, active_guess, *, polished=None, max_iter: int = 200,
                         max_entry_bits: int = 4096) -> SVMCertificate:
    """Certify min ||theta|| s.t. A theta >= b, E theta = c over the exact rationals (module docstring).

    The returned certificate has status "exact" when every condition of the full KKT system holds exactly (its
    ``checks`` name them; ``theta`` the exact solution, ``lam`` the inequality multipliers, and
    ``checks["mu"]`` the equality multipliers as strings), infeasible=True with the Farkas vector (inequality
    part; the equality part in ``checks["farkas_y_eq"]``) when no theta is feasible, else the ``polished`` mpmath
    solution's status ("mpmath") or "none" with the reason."""
    start = time.perf_counter()

    def fallback(reason: str) -> SVMCertificate:
        if polished is not None and getattr(polished, "ok", False):
            return SVMCertificate(status="mpmath", reason=reason, residual=float(polished.kkt_residual),
                                  dps=polished.dps, seconds=time.perf_counter() - start)
        return SVMCertificate(status="none", reason=reason, seconds=time.perf_counter() - start)

    A_obj = np.asarray(A, dtype=object)
    E_obj = np.asarray(A_eq, dtype=object)
    m = A_obj.shape[0] if A_obj.size else 0
    try:
        Ef = to_fmpq_mat(E_obj)
        cf = to_fmpq_mat(np.asarray(b_eq, dtype=object).ravel())
        Af = to_fmpq_mat(A_obj) if m else None
        bf = to_fmpq_mat(np.asarray(b, dtype=object).ravel()) if m else None
    except TypeError as exc:
        return fallback(f"data are not exact rationals: {exc}")
    D = Ef.ncols()
    basis = independent_rows(Ef, list(range(Ef.nrows())))
    if basis:
        EB = _rows(Ef, basis)
        cB = fmpq_mat(len(basis), 1, [cf[j, 0] for j in basis])
        Ginv = (EB * EB.transpose()).inv()
        theta_E = EB.transpose() * (Ginv * cB)
        P = fmpq_mat(D, D, [fmpq(int(r == c)) for r in range(D) for c in range(D)]) - EB.transpose() * Ginv * EB
    else:
        EB = Ginv = None
        theta_E = fmpq_mat(D, 1)
        P = fmpq_mat(D, D, [fmpq(int(r == c)) for r in range(D) for c in range(D)])
    eq_ok = all((Ef * theta_E)[j, 0] == cf[j, 0] for j in range(Ef.nrows()))
    if not eq_ok:
        return SVMCertificate(status="none", reason="the equalities E theta = c are inconsistent (exact)",
                              infeasible=True, seconds=time.perf_counter() - start)
    if m:
        A_red = Af * P
        b_red = bf - Af * theta_E
        A_red_obj = np.array([[_to_fraction(A_red[j, c]) for c in range(D)] for j in range(m)], dtype=object)
        b_red_obj = np.array([_to_fraction(b_red[j, 0]) for j in range(m)], dtype=object)
        inner = certify_svm(A_red_obj, b_red_obj, active_guess, max_iter=max_iter, max_entry_bits=max_entry_bits)
        if inner.infeasible:
            y = fmpq_mat(m, 1)
            for j, val in inner.farkas:
                y[j, 0] = fmpq(val.numerator, val.denominator)
            cert = SVMCertificate(status="none", infeasible=True, farkas=inner.farkas,
                                  reason="infeasible: exact Farkas certificate y >= 0, A^T y + E^T y_E = 0, "
                                         "b^T y + c^T y_E > 0", seconds=time.perf_counter() - start)
            if basis:
                y_eq = -(Ginv * (EB * (Af.transpose() * y)))
                zero = Af.transpose() * y + EB.transpose() * y_eq
                value = (bf.transpose() * y)[0, 0] + (cB.transpose() * y_eq)[0, 0]
                cert.checks = {"farkas_y_eq": {str(basis[p]): str(_to_fraction(y_eq[p, 0])) for p in range(len(basis))},
                               "farkas_combination_zero": all(zero[k, 0] == 0 for k in range(D)),
                               "farkas_value_positive": bool(value > 0)}
            return cert
        if inner.status != "exact":
            return fallback(f"reduced inequality SVM not certified exactly: {inner.reason}")
        theta_perp = fmpq_mat(D, 1, [fmpq(x.numerator, x.denominator) for x in inner.theta])
        lam = fmpq_mat(m, 1, [fmpq(x.numerator, x.denominator) for x in inner.lam])
    else:
        theta_perp = fmpq_mat(D, 1)
        lam = None
    theta = theta_E + theta_perp
    rest = theta - (Af.transpose() * lam if m else fmpq_mat(D, 1))
    mu = Ginv * (EB * rest) if basis else fmpq_mat(0, 1)
    stat = rest - (EB.transpose() * mu if basis else fmpq_mat(D, 1))
    checks = {"equalities_hold": all((Ef * theta)[j, 0] == cf[j, 0] for j in range(Ef.nrows())),
              "stationarity": all(stat[k, 0] == 0 for k in range(D))}
    if m:
        slack = Af * theta - bf
        checks.update({"multipliers_nonnegative": all(lam[j, 0] >= 0 for j in range(m)),
                       "primal_feasible": all(slack[j, 0] >= 0 for j in range(m)),
                       "complementary_slackness": all(lam[j, 0] * slack[j, 0] == 0 for j in range(m))})
        active = [j for j in range(m) if slack[j, 0] == 0]
    else:
        active = []
    theta_fr = [_to_fraction(theta[k, 0]) for k in range(D)]
    ok = all(checks.values())
    cert = SVMCertificate(status="exact" if ok else "none",
                          reason="" if ok else "exact check failed: " + ", ".join(k for k, v in checks.items() if not v),
                          theta=theta_fr, lam=[_to_fraction(lam[j, 0]) for j in range(m)] if m else [],
                          basis=[j for j in range(m) if m and lam[j, 0] != 0], active=active, checks=dict(checks),
                          norm_squared=sum((x * x for x in theta_fr), Fraction(0)),
                          seconds=time.perf_counter() - start)
    cert.checks["mu"] = {str(basis[p]): str(_to_fraction(mu[p, 0])) for p in range(len(basis))}
    if not ok:
        out = fallback(cert.reason)
        out.checks = cert.checks
        return out
    return cert
