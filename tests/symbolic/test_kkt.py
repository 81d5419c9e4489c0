"""symbolic.kkt: KKT systems as sympy, exact certificates (against the polished cvxpy solutions), degenerate
and infeasible cases, the nuclear-norm dual certificate."""
from __future__ import annotations

from fractions import Fraction

import cvxpy as cp
import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from attnsvm import numeric
from attnsvm.symbolic import SVM_KINDS, certify_svm, farkas_certificate, kkt_system, nuclear_dual_certificate


def F(rows):
    return np.array([[Fraction(x) for x in row] for row in rows], dtype=object)


def kkt_holds(A, b, theta, lam) -> bool:
    """The KKT conditions in plain Fractions (independent of the flint code under test)."""
    m, D = A.shape
    slack = [sum(A[j, k] * theta[k] for k in range(D)) - b[j] for j in range(m)]
    stat = [sum(lam[j] * A[j, k] for j in range(m)) for k in range(D)]
    return (all(x >= 0 for x in lam) and all(s >= 0 for s in slack)
            and all(lam[j] * slack[j] == 0 for j in range(m)) and stat == list(theta))


@pytest.mark.parametrize("kind", SVM_KINDS)
def test_kkt_systems_are_sympy_and_print_as_latex(kind):
    k = kkt_system(kind, m=3, shape=(2, 2) if kind.startswith("W") else (2, 1))
    tex = k.latex()
    assert tex["lagrangian"] and len(tex["primal"]) == 3 and len(tex["complementary"]) == 3
    assert all(isinstance(c, sp.Basic) for c in k.conditions())
    if kind != "W-svm-nuclear":   # stationarity is dL/dtheta = 0
        for eq, var in zip(k.stationarity, k.variable):
            assert sp.expand(sp.diff(k.lagrangian, var) - (eq.lhs - eq.rhs)) == 0
    else:
        assert r"\right\|_*" in tex["objective"] and r"\right\|_2 \leq 1" in tex["stationarity"][0]


def test_joint_p_svm_margins():
    k = kkt_system("joint-p-svm", m=3, margins=[1, 0, 1])
    assert k.b == [1, 0, 1]


def test_hand_solved_instance_with_a_weakly_active_row():
    # min ||theta|| s.t. 2 t1 >= 1, t1 + t2 >= 1: theta = (1/2, 1/2), both rows tight, lambda = (0, 1/2)
    A, b = F([[2, 0], [1, 1]]), np.array([1, 1], dtype=object)
    cert = certify_svm(A, b, [0, 1])
    assert cert.status == "exact" and cert.theta == [Fraction(1, 2), Fraction(1, 2)]
    assert cert.lam == [0, Fraction(1, 2)] and cert.active == [0, 1]
    assert kkt_holds(A, b, cert.theta, cert.lam)


def test_degenerate_active_sets_certify():
    # duplicated rows, and five tight rows in two dimensions
    A = F([[1, 0], [1, 0], [0, 1], [1, 1], [Fraction(1, 2), Fraction(1, 2)]])
    b = np.array([1, 1, 1, 2, 1], dtype=object)
    for guess in ([0, 1, 2, 3, 4], [3, 4, 0, 1, 2], [1, 0], []):
        cert = certify_svm(A, b, guess)
        assert cert.status == "exact" and cert.theta == [1, 1], guess
        assert kkt_holds(A, b, cert.theta, cert.lam)
        assert cert.active == [0, 1, 2, 3, 4]


def test_infeasible_case_has_an_exact_farkas_certificate():
    A, b = F([[1, 0], [-1, 0], [0, 1]]), np.array([1, 1, 1], dtype=object)
    y = dict(farkas_certificate(A, b))
    assert all(v > 0 for v in y.values())
    assert all(sum(y.get(j, 0) * A[j, k] for j in range(3)) == 0 for k in range(2))
    assert sum(y.get(j, 0) * b[j] for j in range(3)) > 0
    cert = certify_svm(A, b, [0, 1])
    assert cert.status == "none" and cert.infeasible
    assert numeric.solve_svm(A.astype(float), b.astype(float)).feasible is False


def test_feasible_problem_has_no_farkas_certificate():
    assert farkas_certificate(F([[1, 0], [0, 1]]), np.array([1, 1], dtype=object)) is None


def _compare_with_polished(A, b):
    Af, bf = np.vectorize(float, otypes=[float])(A), np.vectorize(float, otypes=[float])(b)
    sol = numeric.solve_svm(Af, bf)
    if not sol.feasible:
        return None
    guess = numeric.active_set_guess(sol, Af, bf)
    pol = numeric.polish(A, b, guess, dps=50)
    cert = certify_svm(A, b, guess, polished=pol)
    assert cert.status == "exact"
    assert kkt_holds(A, b, cert.theta, cert.lam)
    with mpmath.workdps(50):
        exact = [mpmath.mpf(x.numerator) / x.denominator for x in cert.theta]
        assert max(abs(a - c) for a, c in zip(exact, pol.theta)) <= mpmath.mpf(10) ** -40
    np.testing.assert_allclose([float(x) for x in cert.theta], sol.theta, atol=1e-4)   # interior-point accuracy
    return cert


def test_builtin_datasets_certify_and_agree_with_polished_cvxpy():
    from attnsvm import verify
    from attnsvm.verify.checks.optimal_tokens import optimal_tokens

    for name in verify.builtin_names():
        ds = verify.builtin(name)
        alpha, _ = optimal_tokens(ds)
        ex = numeric.svm_constraints(ds.features_exact(), alpha)
        assert _compare_with_polished(ex.A, ex.b) is not None


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 7), st.integers(1, 3), st.data())
def test_random_rational_instances(m, D, data):
    ints = data.draw(st.lists(st.integers(-4, 4), min_size=m * D, max_size=m * D))
    dens = data.draw(st.lists(st.integers(1, 3), min_size=m * D, max_size=m * D))
    A = np.array([Fraction(a, q) for a, q in zip(ints, dens)], dtype=object).reshape(m, D)
    b = np.array(data.draw(st.lists(st.sampled_from([0, 1]), min_size=m, max_size=m)), dtype=object)
    cert = _compare_with_polished(A, b)
    if cert is None:
        # the solver found no solution (infeasible, or it failed): from scratch, the exact method either
        # certifies a solution or proves infeasibility
        cert = certify_svm(A, b, [])
        if cert.status == "exact":
            assert kkt_holds(A, b, cert.theta, cert.lam)
        else:
            assert cert.infeasible and farkas_certificate(A, b) is not None


def test_solver_failure_is_certified_exactly():
    # Clarabel fails on this feasible, degenerate instance (rows with margin 0 through the origin)
    A = np.array([Fraction(a, q) for a, q in zip([-2, -4, 0, -1, 1, 2, 2, 1, 0, -2, -1, -3],
                                                  [1, 3, 1, 1, 1, 3, 1, 2, 1, 1, 1, 3])], dtype=object).reshape(6, 2)
    b = np.array([0, 0, 0, 1, 0, 1], dtype=object)
    cert = certify_svm(A, b, [])
    assert cert.status == "exact" and cert.theta == [2, -3] and kkt_holds(A, b, cert.theta, cert.lam)


def test_nuclear_dual_certificate():
    I2 = [[1, 0], [0, 1]]
    e11, e22 = [[1, 0], [0, 0]], [[0, 0], [0, 1]]
    # min ||W||_* s.t. <I, W> >= 1: W = diag(1, 0), lambda = 1, ||I||_2 = 1, gap 0
    good = nuclear_dual_certificate([I2], [1], [[1, 0], [0, 0]])
    assert good.ok and abs(good.gap) < 1e-40
    assert not nuclear_dual_certificate([I2], [2], [[1, 0], [0, 0]]).ok       # ||2 I||_2 = 2 > 1
    assert not nuclear_dual_certificate([I2], [1], [[1, 0], [0, 1]]).ok       # W feasible but not optimal: gap 1
    assert not nuclear_dual_certificate([e11, e22], [1, 1], [[1, 0], [0, Fraction(1, 2)]]).ok   # infeasible W
    assert nuclear_dual_certificate([e11, e22], [1, 1], I2).ok


def test_nuclear_certificate_from_cvxpy():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 3, 3))
    W = cp.Variable((3, 3))
    cons = [cp.sum(cp.multiply(A[j], W)) >= 1 for j in range(4)]
    cp.Problem(cp.Minimize(cp.normNuc(W)), cons).solve(solver=cp.CLARABEL)
    lam = [float(c.dual_value) for c in cons]
    cert = nuclear_dual_certificate(A, lam, W.value, tol=1e-6)
    assert cert.ok and cert.spectral_norm <= 1 + 1e-6
    assert not nuclear_dual_certificate(A, [2 * x for x in lam], W.value, tol=1e-6).ok


def test_a_wrong_guess_with_a_negative_multiplier_is_refined():
    # both rows tight would give theta = (1, -1/2) with lambda_2 = -1/2; the optimum is (1, 0), row 2 slack
    A, b = F([[1, 0], [1, 1]]), np.array([1, Fraction(1, 2)], dtype=object)
    cert = certify_svm(A, b, [1, 0])
    assert cert.status == "exact" and cert.theta == [1, 0] and cert.lam == [1, 0]
    assert kkt_holds(A, b, cert.theta, cert.lam)


def test_mpmath_and_none_fallbacks_when_exact_arithmetic_is_too_large():
    A = F([[Fraction(1, 3), 0], [0, Fraction(2, 7)]])
    b = np.array([1, 1], dtype=object)
    pol = numeric.polish(A, b, [0, 1], dps=40)
    cert = certify_svm(A, b, [0, 1], polished=pol, max_entry_bits=2)
    assert cert.status == "mpmath" and cert.dps == 40 and cert.residual <= 1e-20 and "bits" in cert.reason
    bare = certify_svm(A, b, [0, 1], max_entry_bits=2)
    assert bare.status == "none" and bare.theta is None
    assert certify_svm(A, b, [0, 1]).theta == [3, Fraction(7, 2)]


def test_kkt_system_of_a_dataset():
    from attnsvm import verify

    ds = verify.builtin("single-input-global")
    con = numeric.svm_constraints(ds.features_exact(), [0])
    k = kkt_system("p-svm", A=con.A)
    assert len(k.primal) == len(con.b) and len(k.variable) == ds.d
    cert = certify_svm(con.A, con.b, [])
    values = {**{p: sp.Rational(x.numerator, x.denominator) for p, x in zip(k.variable, cert.theta)},
              **{lam: sp.Rational(x.numerator, x.denominator) for lam, x in zip(k.lam, cert.lam)}}
    assert all(bool(c.subs(values)) for c in k.conditions())      # the exact solution satisfies the sympy KKT
    assert "p_{0}" in k.latex()["lagrangian"]
