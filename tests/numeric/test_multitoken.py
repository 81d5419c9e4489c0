"""The multi-token SVM equivalence's pieces: selected sets, the rows of both SVMs, theta_fin, R, the fit."""
import numpy as np

from attnsvm import numeric
from attnsvm.numeric import multitoken as mt
from attnsvm.numeric.equality_svm import solve_equality_svm


def _data(seed=0, n=3, T=4, d=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T, d))
    Z = rng.standard_normal((n, d))
    return numeric.w_features(X, Z), rng


def test_selected_sets_and_masked_mass():
    s = np.array([[0.5, 0.5 - 2e-7, 2e-7, 0.0], [1 - 1e-3, 1e-3, 0, 0]])
    assert mt.selected_sets(s, 1e-3) == [(0, 1), (0, 1)]
    assert mt.selected_sets(s, 2e-3) == [(0, 1), (0,)]
    assert mt.masked_mass(s, [(0, 1), (0, 1)]) == 2e-7
    assert mt.masked_mass(s, [(0, 1, 2, 3), (0, 1, 2, 3)]) == 0.0


def test_rows_use_the_reference_token_and_span_every_within_set_difference():
    phi, _ = _data()
    sets, refs = [(0, 2), (1,), (0, 1, 3)], (2, 1, 0)
    rows = mt.equivalence_rows(phi, sets, refs)
    assert rows.eq_pairs == [(0, 0, 2), (2, 1, 0), (2, 3, 0)]
    assert rows.ineq_pairs == [(0, 2, 1), (0, 2, 3), (1, 1, 0), (1, 1, 2), (1, 1, 3), (2, 0, 2)]
    np.testing.assert_array_equal(rows.eq[0], phi[0, 0] - phi[0, 2])
    np.testing.assert_array_equal(rows.ineq[0], phi[0, 2] - phi[0, 1])
    # the pair (1, 3) of sequence 2 is in the span of the reference rows
    pair = phi[2, 1] - phi[2, 3]
    coef = np.linalg.lstsq(rows.eq.T, pair, rcond=None)[0]
    np.testing.assert_allclose(rows.eq.T @ coef, pair, atol=1e-12)


def test_direction_svm_written_with_references_equals_the_all_pairs_problem():
    """The reduced problem (references only) has the same solution as the authors' form with every pair."""
    phi, _ = _data(1)
    sets, refs = [(0, 2), (1,), (0, 1, 3)], (2, 1, 0)
    rows = mt.equivalence_rows(phi, sets, refs)
    red = solve_equality_svm(rows.ineq, np.ones(len(rows.ineq)), rows.eq, np.zeros(len(rows.eq)))
    eq, ineq = [], []
    for i, O in enumerate(sets):
        for t in O:
            for u in O:
                if t < u:
                    eq.append(phi[i, t] - phi[i, u])
            for u in range(phi.shape[1]):
                if u not in O:
                    ineq.append(phi[i, t] - phi[i, u])
    full = solve_equality_svm(np.array(ineq), np.ones(len(ineq)), np.array(eq), np.zeros(len(eq)))
    np.testing.assert_allclose(red.theta, full.theta, atol=1e-6)


def test_finite_part_is_the_projection_and_R_the_orthogonal_coordinate():
    phi, rng = _data(2)
    sets, refs = [(0, 2), (1,), (0, 1, 3)], (2, 1, 0)
    rows = mt.equivalence_rows(phi, sets, refs)
    theta_dir = solve_equality_svm(rows.ineq, np.ones(len(rows.ineq)), rows.eq, np.zeros(len(rows.eq))).theta
    fin_true = rows.eq.T @ rng.standard_normal(len(rows.eq))      # some element of the row space E
    noise = rng.standard_normal(theta_dir.size)
    noise -= rows.eq.T @ np.linalg.lstsq(rows.eq.T, noise, rcond=None)[0]   # orthogonal to E
    noise -= (noise @ theta_dir) / (theta_dir @ theta_dir) * theta_dir     # and to theta_dir
    theta = fin_true + 37.0 * theta_dir + 1e-3 * noise
    fin = mt.finite_part(theta, rows.eq)
    np.testing.assert_allclose(fin, fin_true, atol=1e-10)
    assert abs(fin @ theta_dir) < 1e-6 * np.linalg.norm(fin) * np.linalg.norm(theta_dir)
    # the within-set logit differences of theta are reproduced by theta_fin
    np.testing.assert_allclose(rows.eq @ fin, rows.eq @ theta, atol=1e-10)
    fit = mt.equivalence_fit(theta, rows.eq, theta_dir)
    assert abs(fit["R"] - 37.0) < 1e-8
    expected = numeric.one_minus_corr(theta, fin_true + 37.0 * theta_dir)
    assert abs(fit["one_minus_corr_svmeq"] - expected) <= 1e-12 * expected
    assert 0 < fit["one_minus_corr_svmeq"] < fit["one_minus_corr_dir"]
