"""SVMs with equality and inequality constraints: cvxpy, the mpmath polish by elimination, the exact certificate."""
from fractions import Fraction as F

import mpmath
import numpy as np

from attnsvm.numeric.equality_svm import (polish_equality_svm, reduce_equalities, solve_and_polish_equality_svm,
                                          solve_equality_svm)
from attnsvm.symbolic.equality_kkt import certify_equality_svm


def _hand_problem():
    """min ||theta|| s.t. theta_0 + theta_1 = 1 (E), theta_1 + theta_2 >= 2, theta_2 - theta_0 >= 0.

    By hand: theta = (a, 1 - a, c); the first inequality reads c >= 1 + a and binds, so the objective is
    a^2 + (1 - a)^2 + (1 + a)^2 = 3 a^2 + 2, minimal at a = 0: theta = (0, 1, 1), ||theta||^2 = 2, the second
    inequality slack (1 > 0). KKT: (0, 1, 1) = lam_0 (0, 1, 1) + mu (1, 1, 0) gives lam = (1, 0), mu = 0."""
    A = np.array([[0, 1, 1], [-1, 0, 1]], dtype=object)
    b = np.array([2, 0], dtype=object)
    E = np.array([[1, 1, 0]], dtype=object)
    c = np.array([1], dtype=object)
    return A, b, E, c


def test_hand_solved_problem_by_cvxpy_polish_and_exact_certificate():
    A, b, E, c = _hand_problem()
    sol = solve_equality_svm(A.astype(float), b.astype(float), E.astype(float), c.astype(float))
    assert sol.feasible
    np.testing.assert_allclose(sol.theta, [0, 1, 1], atol=1e-7)
    pol = polish_equality_svm(A, b, E, c, [0], dps=50)
    assert pol.ok and pol.active == [0]
    assert max(abs(x - y) for x, y in zip(pol.theta, [0, 1, 1])) < mpmath.mpf(10) ** -45
    assert abs(pol.lam[0] - 1) < mpmath.mpf(10) ** -45 and abs(pol.mu[0]) < mpmath.mpf(10) ** -45
    cert = certify_equality_svm(A, b, E, c, [0], polished=pol)
    assert cert.status == "exact", cert.reason
    assert cert.theta == [0, 1, 1] and cert.lam == [1, 0] and cert.norm_squared == 2
    assert all(v for k, v in cert.checks.items() if k != "mu") and cert.checks["mu"] == {"0": "0"}


def test_equalities_only_give_the_minimum_norm_solution_and_dependent_rows_are_fine():
    rng = np.random.default_rng(0)
    E = rng.integers(-3, 4, size=(3, 6)).astype(object)
    E = np.vstack([E, E[0] + E[1]])            # a dependent, consistent row
    c = np.array([F(1, 2), F(-1), F(3), F(-1, 2)], dtype=object)
    cert = certify_equality_svm(np.zeros((0, 6), dtype=object), np.zeros(0, dtype=object), E, c, [])
    assert cert.status == "exact"
    Ef = E.astype(float)
    ref = np.linalg.pinv(Ef) @ c.astype(float)
    np.testing.assert_allclose([float(x) for x in cert.theta], ref, rtol=1e-12, atol=1e-14)
    red = reduce_equalities(np.zeros((0, 6)), np.zeros(0), E, c, dps=40)
    assert red.basis == [0, 1, 2] and red.consistent


def test_random_problems_agree_between_cvxpy_polish_and_certificate():
    rng = np.random.default_rng(1)
    certified = 0
    for _ in range(5):
        D = 7
        A = rng.integers(-4, 5, size=(5, D)).astype(object)
        E = rng.integers(-4, 5, size=(2, D)).astype(object)
        b = np.ones(5, dtype=object)
        c = np.zeros(2, dtype=object)
        sol, pol = solve_and_polish_equality_svm(A.astype(float), b.astype(float), E.astype(float),
                                                 c.astype(float), A, b, E, c)
        if not sol.feasible:
            continue
        cert = certify_equality_svm(A, b, E, c, pol.active, polished=pol)
        assert cert.status == "exact"
        np.testing.assert_allclose(sol.theta, [float(x) for x in cert.theta], atol=1e-6)
        np.testing.assert_allclose(pol.theta_float, [float(x) for x in cert.theta], rtol=1e-14, atol=1e-15)
        # E theta = 0 exactly: theta is orthogonal to E's rows
        assert all(v == 0 for v in (E.dot(np.array(cert.theta, dtype=object))))
        certified += 1
    assert certified >= 3
