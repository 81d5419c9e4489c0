"""p-SVM solving and polishing, against solutions derived by hand and an independent KKT check."""
from fractions import Fraction as F

import mpmath
import numpy as np
import pytest

from attnsvm import numeric
from attnsvm.numeric import active_set_guess, polish, solve_svm, svm_constraints, to_mpf
from attnsvm.verify import builtin


def solve_and_polish(phi_float, phi_exact, alpha, margins=None, dps=50):
    con = svm_constraints(phi_float, alpha, margins)
    sol = solve_svm(con.A, con.b)
    if not sol.feasible:
        return con, sol, None
    exact = svm_constraints(phi_exact, alpha, margins)
    return con, sol, polish(exact.A, exact.b, active_set_guess(sol, con.A, con.b), dps=dps)


def assert_kkt(A_exact, b_exact, pol, digits=40):
    """theta = A^T lambda, lambda >= 0, A theta >= b, lambda_j (A_j theta - b_j) = 0, checked here in mpmath."""
    with mpmath.workdps(60):
        tol = mpmath.mpf(10) ** -digits
        A = [[to_mpf(x) for x in row] for row in A_exact]
        b = [to_mpf(x) for x in b_exact]
        theta, lam = pol.theta, pol.lam
        for c in range(len(theta)):
            assert abs(theta[c] - mpmath.fsum(lam[j] * A[j][c] for j in range(len(A)))) < tol
        for j in range(len(A)):
            slack = mpmath.fsum(a * t for a, t in zip(A[j], theta)) - b[j]
            assert lam[j] >= -tol
            assert slack >= -tol
            assert abs(lam[j] * slack) < tol


def test_single_input_global_matches_hand_solution():
    # keys (-0.1, 1, 0), (1, 0, 0), (0, 0, 0); alpha = 0. Only the constraint against token 2 is active:
    # p = (-0.1, 1, 0) / 1.01 = (-10/101, 100/101, 0), and then p.(k0 - k1) = 1.11/1.01 > 1.
    ds = builtin("single-input-global")
    con, sol, pol = solve_and_polish(ds.features(), ds.features_exact(), [0])
    assert sol.feasible and pol.ok
    with mpmath.workdps(50):
        expected = [mpmath.mpf(-10) / 101, mpmath.mpf(100) / 101, 0]
        assert all(abs(a - b) < mpmath.mpf(10) ** -45 for a, b in zip(pol.theta, expected))
    assert [tuple(con.pairs[j]) for j in pol.active] == [(0, 2)]
    exact = svm_constraints(ds.features_exact(), [0])
    assert_kkt(exact.A, exact.b, pol)


def test_single_input_local_second_token():
    # alpha = 1: p.(k1 - k0) = 1.1 p1 - p2 >= 1 and p.(k1 - k2) = p1 >= 1; p = (1, 0, 0) satisfies both,
    # and nothing shorter satisfies p1 >= 1, so p_mm = (1, 0, 0) with token 2 its only support token.
    ds = builtin("single-input-local")
    con, sol, pol = solve_and_polish(ds.features(), ds.features_exact(), [1])
    assert pol.ok
    assert [float(x) for x in pol.theta] == [1.0, 0.0, 0.0]
    assert [tuple(con.pairs[j]) for j in pol.active] == [(0, 2)]


def test_multi_input_polished_kkt():
    ds = builtin("multi-input")
    con, sol, pol = solve_and_polish(ds.features(), ds.features_exact(), [0, 0, 0])
    exact = svm_constraints(ds.features_exact(), [0, 0, 0])
    assert pol.ok and pol.kkt_residual < mpmath.mpf(10) ** -40
    assert_kkt(exact.A, exact.b, pol)
    # the solver's norm and the polished norm agree to the solver's accuracy
    assert abs(sol.norm - float(pol.norm)) < 1e-6


def test_infeasible_is_reported_not_raised():
    # the selected token has the same key as another token: no p separates them
    phi = np.array([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    con = svm_constraints(phi, [0])
    sol = solve_svm(con.A, con.b)
    assert not sol.feasible
    assert "infeasible" in sol.status


def test_degenerate_duplicate_and_dependent_rows():
    # tokens 1 and 2 have identical keys (duplicate active rows) and token 3 is a multiple of them
    phi = np.array([[[0.0, 0.0], [-1.0, 0.0], [-1.0, 0.0], [-2.0, 0.0]]])
    exact = np.vectorize(F, otypes=[object])(phi.astype(int))
    con, sol, pol = solve_and_polish(phi, exact, [0])
    assert pol.ok
    assert [float(x) for x in pol.theta] == [1.0, 0.0]
    assert sorted(tuple(con.pairs[j]) for j in pol.active) == [(0, 1), (0, 2)]
    assert_kkt(svm_constraints(exact, [0]).A, svm_constraints(exact, [0]).b, pol)


def test_polish_repairs_a_wrong_active_set():
    ds = builtin("multi-input")
    exact = svm_constraints(ds.features_exact(), [0, 0, 0])
    pol = polish(exact.A, exact.b, [0, 1, 2, 3], dps=50)  # a deliberately wrong guess
    good = solve_and_polish(ds.features(), ds.features_exact(), [0, 0, 0])[2]
    assert pol.ok
    assert pol.active == good.active
    with mpmath.workdps(50):
        assert max(abs(a - b) for a, b in zip(pol.theta, good.theta)) < mpmath.mpf(10) ** -40


@pytest.mark.parametrize("margins", [[1], [0]])
def test_margins(margins):
    ds = builtin("single-input-global")
    con, sol, pol = solve_and_polish(ds.features(), ds.features_exact(), [0], margins)
    if margins == [0]:
        assert [float(x) for x in pol.theta] == [0.0, 0.0, 0.0]
    else:
        assert pol.ok and float(pol.norm) > 0


def test_solver_failure_falls_back_to_the_active_set_method():
    """Clarabel gives no answer on this feasible, degenerate instance (rows with margin 0 through the
    origin); the active-set method from an empty set solves it: p_mm = (2, -3), whose KKT conditions
    assert_kkt checks independently."""
    A = np.array([F(a, q) for a, q in zip([-2, -4, 0, -1, 1, 2, 2, 1, 0, -2, -1, -3],
                                          [1, 3, 1, 1, 1, 3, 1, 2, 1, 1, 1, 3])], dtype=object).reshape(6, 2)
    b = np.array([0, 0, 0, 1, 0, 1], dtype=object)
    sol, pol = numeric.solve_and_polish(A.astype(float), b.astype(float), A, b)
    assert sol.feasible and pol is not None and pol.ok
    assert [float(x) for x in pol.theta] == [2.0, -3.0]
    assert_kkt(A, b, pol)
    # a genuinely infeasible SVM stays infeasible
    phi = np.array([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    con = svm_constraints(phi, [0])
    sol, pol = numeric.solve_and_polish(con.A, con.b)
    assert not sol.feasible and sol.status == "infeasible" and pol is None


def test_rows_of_very_different_scale_are_solved():
    """multi-input with token 0 of sequence 0 scaled by 1e20 (inside the supported range): constraint rows
    differ in norm by 20 orders of magnitude; the solver works on rows scaled to unit norm and the answer
    polishes to a KKT point that the exact certificate confirms (Clarabel on the raw rows fails here)."""
    from attnsvm import symbolic
    from attnsvm.verify import Dataset

    ds0 = builtin("multi-input")
    X = ds0.X_exact.copy()
    X[0, 0] = X[0, 0] * 10 ** 20
    ds = Dataset(X=X, Y=ds0.Y_exact, v=ds0.v_exact)
    con = svm_constraints(ds.features(), [0, 0, 0])
    exact = ds.exact_constraints([0, 0, 0], approx=con.A)
    sol, pol = numeric.solve_and_polish(con.A, con.b, exact.A, exact.b)
    assert sol.feasible and sol.solver == "nnls" and pol.ok
    cert = symbolic.certify_svm(exact.A, exact.b, list(pol.basis), polished=pol)
    assert cert.status == "exact"
    assert np.allclose([float(x) for x in cert.theta], pol.theta_float, rtol=1e-12)


def test_a_polish_stopped_before_it_is_feasible_is_not_ok():
    """min ||theta|| s.t. theta_1 >= 1, theta_2 >= 1 (optimum (1, 1), lambda = (1, 1)). From the guess {row 0}
    with no iteration allowed, theta = (1, 0) violates row 1 by 1: the residual must say so; with iterations the
    method adds row 1 and reaches the optimum."""
    A = np.array([[F(1), F(0)], [F(0), F(1)]], dtype=object)
    b = np.array([F(1), F(1)], dtype=object)
    stopped = polish(A, b, [0], dps=30, max_iter=0)
    assert [float(x) for x in stopped.theta] == [1.0, 0.0]
    assert not stopped.ok and float(stopped.kkt_residual) >= 0.5
    done = polish(A, b, [0], dps=30)
    assert done.ok and [float(x) for x in done.theta] == [1.0, 1.0]
    assert_kkt(A, b, done, digits=25)


def test_the_gram_dual_agrees_with_the_ldp_and_is_used_for_wide_problems(monkeypatch):
    """m <= D: the primal-dual active set on G = A A^T (numeric.svm._solve_gram) gives the LDP's solution (NNLS,
    an independent method) to 1e-12, with some constraints inactive (correlated rows) or all active; solve_svm
    takes it from GRAM_MIN_ENTRIES on."""
    from attnsvm.numeric import svm as S

    rng = np.random.default_rng(3)
    inactive = 0
    for trial in range(12):
        m, D = int(rng.integers(5, 40)), int(rng.integers(40, 60))
        A = rng.standard_normal((m, D))
        if trial % 2:
            A[:, : D // 2] += 2.0
        b = np.ones(m)
        g, ref = S._solve_gram(A, b), S._solve_ldp(A, b)
        assert g is not None and ref is not None and g.solver == "gram active set"
        assert np.linalg.norm(g.theta - ref.theta) <= 1e-12 * np.linalg.norm(ref.theta)
        assert np.all(A @ g.theta - b >= -1e-9) and np.all(g.dual >= 0)
        inactive += int(np.sum(g.dual == 0))
    assert inactive > 0
    A = rng.standard_normal((8, 20))
    monkeypatch.setattr(S, "GRAM_MIN_ENTRIES", 0)
    assert solve_svm(A, np.ones(8)).solver == "gram active set"
    monkeypatch.setattr(S, "GRAM_MIN_ENTRIES", 10 ** 9)
    assert solve_svm(A, np.ones(8)).solver == "nnls"
