"""Exact certificates of SVMs with equalities (symbolic.equality_kkt): multipliers, infeasibility, inconsistency."""
import numpy as np

from attnsvm.numeric.equality_svm import solve_and_polish_equality_svm, solve_equality_svm
from attnsvm.symbolic.equality_kkt import certify_equality_svm


def test_equality_multiplier_is_nonzero_when_the_equality_pulls():
    """min ||theta|| s.t. theta_0 = 2 (E), theta_0 + theta_1 >= 1: theta = (2, 0), the inequality is slack
    (2 > 1), mu = 2."""
    A = np.array([[1, 1]], dtype=object)
    E = np.array([[1, 0]], dtype=object)
    cert = certify_equality_svm(A, np.array([1], dtype=object), E, np.array([2], dtype=object), [])
    assert cert.status == "exact" and cert.theta == [2, 0] and cert.lam == [0] and cert.checks["mu"] == {"0": "2"}
    _, pol = solve_and_polish_equality_svm(A, np.array([1]), E, np.array([2]))
    assert pol.ok and abs(pol.mu[0] - 2) < 1e-40


def test_inconsistent_equalities_and_infeasible_inequalities_are_proved_so():
    E = np.array([[1, 0], [2, 0]], dtype=object)
    bad = certify_equality_svm(np.zeros((0, 2), dtype=object), np.zeros(0, dtype=object), E,
                               np.array([1, 1], dtype=object), [])
    assert bad.infeasible and "inconsistent" in bad.reason
    # theta_0 = 0 and theta_0 >= 1 (through a row that also involves theta_1): infeasible only with the equality
    A = np.array([[1, 1], [1, -1]], dtype=object)
    b = np.array([1, 1], dtype=object)
    E = np.array([[1, 0]], dtype=object)
    cert = certify_equality_svm(A, b, E, np.array([0], dtype=object), [])
    assert cert.infeasible and cert.checks["farkas_combination_zero"] and cert.checks["farkas_value_positive"]
    assert not solve_equality_svm(A.astype(float), b.astype(float), E.astype(float), np.zeros(1)).feasible
    assert certify_equality_svm(A, b, np.zeros((0, 2), dtype=object), np.zeros(0, dtype=object), []).status == "exact"
