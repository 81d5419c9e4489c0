"""Benchmark: exact certificate of a p-SVM with 1,000 constraints in d = 20.

The instance: n = 100 sequences of T = 11 tokens with features in d = 20 given as decimals with three
digits (exact rationals), the first token of each sequence shifted along a fixed direction so that the
SVM is feasible; 100 x 10 = 1,000 constraints. The active set comes from cvxpy (Clarabel); the timed
step is :func:`symbolic.certify_svm` (python-flint fmpq matrices): independent active rows, the
KKT solve, and exact checks of every condition over all 1,000 rows. Baseline, same run: the same
solve and checks with sympy's exact Matrix (Rational entries) on the same active set.

    .venv/bin/python bench/certificate.py
"""
from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import sympy as sp

from attnsvm import numeric
from attnsvm.symbolic import certify_svm


def instance(n: int = 100, T: int = 11, d: int = 20, seed: int = 0, floats: bool = False):
    """Features k/1000 as exact decimals, or (``floats``) the exact binary values of the floats k/1000."""
    rng = np.random.default_rng(seed)
    ints = rng.integers(-1000, 1001, size=(n, T, d))
    shift = rng.integers(0, 1001, size=d)
    ints[:, 0, :] += shift
    if floats:
        return np.vectorize(lambda k: Fraction(int(k) / 1000), otypes=[object])(ints)
    return np.vectorize(lambda k: Fraction(int(k), 1000), otypes=[object])(ints)


def sympy_baseline(A_exact, b_exact, basis):
    """The certificate's exact steps with sympy Matrix: solve on the basis, check all rows."""
    A = sp.Matrix(A_exact.shape[0], A_exact.shape[1], lambda i, j: sp.Rational(A_exact[i, j].numerator,
                                                                                 A_exact[i, j].denominator))
    b = sp.Matrix([sp.Integer(int(x)) for x in b_exact])
    AB = A.extract(basis, list(range(A.shape[1])))
    lam_B = (AB * AB.T).LUsolve(b.extract(basis, [0]))
    theta = AB.T * lam_B
    slack = A * theta - b
    ok = all(x >= 0 for x in lam_B) and all(s >= 0 for s in slack)
    return ok, theta


def main() -> None:
    for floats in (False, True):
        print(f"--- data: {'exact binary values of float64 numbers' if floats else 'three-digit decimals'}")
        run(instance(floats=floats))


def run(phi) -> None:
    alpha = np.zeros(phi.shape[0], dtype=int)
    t0 = time.perf_counter()
    exact = numeric.svm_constraints(phi, alpha)
    A_float = np.vectorize(float, otypes=[float])(exact.A)
    sol = numeric.solve_svm(A_float, exact.b.astype(float))
    guess = numeric.active_set_guess(sol, A_float, exact.b.astype(float))
    t_solver = time.perf_counter() - t0
    print(f"instance: {exact.A.shape[0]} constraints, d = {exact.A.shape[1]}; cvxpy solve + active set: "
          f"{t_solver:.2f} s ({len(guess)} candidate rows)")
    times = []
    for _ in range(3):
        t = time.perf_counter()
        cert = certify_svm(exact.A, exact.b, guess)
        times.append(time.perf_counter() - t)
    print(f"symbolic.certify_svm (python-flint): status {cert.status}, {len(cert.basis)} basis rows, "
          f"{len(cert.active)} active, {cert.iterations} iteration(s); best of 3: {min(times):.3f} s "
          f"(all: {', '.join(f'{x:.3f}' for x in times)})")
    print(f"  ||p_mm||^2 = {float(cert.norm_squared):.12g} (exact fraction with "
          f"{len(str(cert.norm_squared))} characters); cvxpy ||p||^2 = {sol.norm ** 2:.12g}")
    t = time.perf_counter()
    scratch = certify_svm(exact.A, exact.b, [])
    print(f"  without the solver's active set (from an empty guess): status {scratch.status}, "
          f"{scratch.iterations} iterations, {time.perf_counter() - t:.3f} s, same p_mm: {scratch.theta == cert.theta}")
    t = time.perf_counter()
    ok, theta = sympy_baseline(exact.A, exact.b, cert.basis)
    t_sympy = time.perf_counter() - t
    same = [sp.Rational(x.numerator, x.denominator) for x in cert.theta] == list(theta)
    print(f"baseline sympy Matrix (same basis, solve + checks): {t_sympy:.3f} s, ok={ok}, same theta: {same}")
    print(f"speed-up: {t_sympy / min(times):.1f}x; target: under 5 s -> {'met' if min(times) < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
