"""The nuclear-norm W-SVM and its weak-duality certificate."""
import mpmath
import numpy as np

from attnsvm import numeric


def _rows(*mats):
    return np.array([np.asarray(m, dtype=float).ravel() for m in mats])


def test_known_rank_one_solution_is_found_and_certified():
    # W_11 >= 1, W_12 >= 1: min ||W||_* = sqrt(2) at W = e1 (e1 + e2)^T (rank 1): ||W||_* >= ||W||_2 >=
    # |<W, e1 (e1+e2)^T>| / ||e1 (e1+e2)^T||_F >= 2 / sqrt(2).
    A = _rows([[1, 0, 0], [0, 0, 0], [0, 0, 0]], [[0, 1, 0], [0, 0, 0], [0, 0, 0]])
    b = np.ones(2)
    sol = numeric.solve_nuclear_svm(A, b, 3)
    assert sol.feasible
    assert abs(sol.norm - np.sqrt(2)) < 1e-6
    assert numeric.numerical_rank(sol.W) == 1
    cert = numeric.nuclear_certificate(A, b, sol.W, sol.dual, 3)
    assert cert.ok
    with mpmath.workdps(30):   # weak duality: lower <= sqrt(2) <= upper, up to the working precision
        eps = mpmath.mpf(10) ** -25
        assert cert.lower <= mpmath.sqrt(2) + eps and cert.upper >= mpmath.sqrt(2) - eps
        assert abs(cert.lower - mpmath.sqrt(2)) < 1e-8


def test_certificate_rejects_wrong_multipliers_and_suboptimal_points():
    A = _rows([[1, 0], [0, 0]], [[0, 0], [0, 1]])        # W_11 >= 1, W_22 >= 1: optimum 2 (W = I)
    b = np.ones(2)
    good = numeric.nuclear_certificate(A, b, np.eye(2), [1.0, 1.0], 2)
    assert good.ok and abs(good.upper - 2) < 1e-25 and abs(good.lower - 2) < 1e-25
    bad_lam = numeric.nuclear_certificate(A, b, np.eye(2), [1.0, 0.0], 2)     # lower bound 1 only
    assert not bad_lam.ok and bad_lam.gap > 0.5
    bad_W = numeric.nuclear_certificate(A, b, np.array([[2.0, 0.0], [0.0, 1.0]]), [1.0, 1.0], 2)
    assert not bad_W.ok and abs(bad_W.gap - 0.5) < 1e-25                     # feasible, ||.||_* = 3
    # the optimum is not unique: the all-ones matrix (rank 1) is optimal too, and certified as such
    other = numeric.nuclear_certificate(A, b, np.ones((2, 2)), [1.0, 1.0], 2)
    assert other.ok and abs(other.upper - 2) < 1e-25
    infeasible = numeric.nuclear_certificate(A, b, np.array([[1.0, 0], [0, -1.0]]), [1.0, 1.0], 2)
    assert not infeasible.ok


def test_frobenius_and_nuclear_solutions_differ_where_they_should():
    # W_11 >= 1, W_22 >= 1, W_12 >= 1, W_21 >= 1: Frobenius optimum all-ones (rank 1, ||.||_* = 2);
    # with only the diagonal constraints the Frobenius optimum I has ||.||_* = 2 = the nuclear optimum too.
    A = _rows([[1, 0], [0, 0]], [[0, 0], [0, 1]], [[0, 1], [0, 0]], [[0, 0], [1, 0]])
    b = np.ones(4)
    fro = numeric.solve_svm(A, b)
    nuc = numeric.solve_nuclear_svm(A, b, 2)
    np.testing.assert_allclose(fro.theta, np.ones(4), atol=1e-6)
    assert abs(nuc.norm - 2) < 1e-6
    assert numeric.numerical_rank(nuc.W) == 1


def test_optimality_gaps_are_scale_invariant_and_zero_at_the_optimum():
    A = _rows([[1, 0], [0, 0]], [[0, 1], [0, 0]])
    b = np.ones(2)
    opt = np.array([1.0, 1.0, 0.0, 0.0])
    g = numeric.optimality_gaps(opt, A, b, 2, np.sqrt(2), np.sqrt(2))
    assert abs(g["fro_gap"]) < 1e-15 and abs(g["nuc_gap"]) < 1e-15
    other = np.array([1.0, 2.0, 0.5, 0.0])
    g1 = numeric.optimality_gaps(other, A, b, 2, np.sqrt(2), np.sqrt(2))
    g7 = numeric.optimality_gaps(7.0 * other, A, b, 2, np.sqrt(2), np.sqrt(2))
    assert g1["nuc_gap"] > 0.1 and abs(g1["nuc_gap"] - g7["nuc_gap"]) < 1e-12
    assert numeric.optimality_gaps(-other, A, b, 2, 1.0, 1.0)["nuc_gap"] is None
