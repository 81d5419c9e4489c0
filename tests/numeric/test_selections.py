"""Tests of numeric.selections: enumeration, the NNLS least-distance SVM against cvxpy, local optimality."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attnsvm.numeric.selections import (all_selections, analyse_selection, candidate_selections, feasible_many,
                                is_locally_optimal, least_distance, single_sequence_variations)
from attnsvm.numeric.svm import solve_svm, svm_constraints

# keys of the single-input-local dataset (third coordinate zeroed by W), scores 1, 0.9, 0
PHI = np.array([[[-0.1, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
GAMMA = np.array([[1.0, 0.9, 0.0]])


def test_all_selections_enumerates_every_tuple_once():
    sels = all_selections(3, 4)
    assert sels.shape == (64, 3)
    assert len({tuple(s) for s in sels}) == 64
    assert sels.min() == 0 and sels.max() == 3


def test_single_sequence_variations_differ_in_one_sequence():
    base = np.array([1, 0, 2])
    var = single_sequence_variations(base, 4)
    assert var.shape == (9, 3)
    assert np.all((var != base).sum(axis=1) == 1)
    assert len({tuple(v) for v in var}) == 9


def test_candidates_small_problems_are_exhaustive_large_ones_are_local():
    assert len(candidate_selections(2, 3, [(0, 0)])) == 9
    cands = candidate_selections(3, 20, [(0, 0, 0), (1, 2, 3)])   # 8000 > 4096
    assert len(cands) == 2 + 2 * 3 * 19
    assert tuple(cands[0]) == (0, 0, 0)


def test_hand_solved_svms_of_single_input_local():
    # alpha = [1]: constraints p.(1.1, -1) >= 1 and p_x >= 1; p_mm = (1, 0), only token 2 is support (score 0 < 0.9)
    a = analyse_selection(PHI, GAMMA, [1])
    assert a.feasible and np.allclose(a.p_mm, [1, 0, 0], atol=1e-12)
    assert a.support == [(0, 2)] and a.locally_optimal
    # alpha = [2]: p.(0.1, -1) >= 1 and -p_x >= 1; p_mm = (-1, -1.1), both tokens support with higher scores
    b = analyse_selection(PHI, GAMMA, [2])
    assert b.feasible and np.allclose(b.p_mm, [-1, -1.1, 0], atol=1e-12)
    assert sorted(b.support) == [(0, 0), (0, 1)] and b.locally_optimal is False


def test_infeasible_selection_has_a_farkas_certificate():
    # collinear keys 0, 1, 2: the middle one can never dominate both neighbours
    phi = np.array([[[0.0], [1.0], [2.0]]])
    con = svm_constraints(phi, [1])
    sol = least_distance(con.A, con.b)
    assert not sol.feasible and sol.certificate < 1e-9
    assert list(feasible_many(phi, [[0], [1], [2]])) == [True, False, True]


def test_local_optimality_compares_scores_exactly():
    g = np.array([[Fraction(1, 3), Fraction(1, 3) - Fraction(1, 10**30), Fraction(1, 3)]], dtype=object)
    assert is_locally_optimal(g, [0], [(0, 1)])
    assert not is_locally_optimal(g, [0], [(0, 2)])        # a tie is not strictly below


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3), st.integers(2, 4), st.integers(2, 6))
def test_least_distance_agrees_with_cvxpy(seed, n, T, d):
    rng = np.random.default_rng(seed)
    phi = rng.standard_normal((n, T, d))
    sel = rng.integers(0, T, n)
    con = svm_constraints(phi, sel)
    ldp = least_distance(con.A, con.b)
    qp = solve_svm(con.A, con.b)
    assert ldp.feasible == qp.feasible
    if ldp.feasible:
        assert ldp.certificate < 1e-8
        assert np.all(ldp.lam >= 0)
        assert np.allclose(ldp.x, qp.theta, atol=1e-5 * max(1.0, qp.norm))


def test_generic_feasibility_when_d_exceeds_the_constraints():
    # n (T - 1) = 4 constraint rows in R^5 are independent almost surely: every selection is feasible
    rng = np.random.default_rng(7)
    phi = rng.standard_normal((2, 3, 5))
    assert feasible_many(phi, all_selections(2, 3)).all()


@pytest.mark.parametrize("sel", [[0], [1], [2]])
def test_multipliers_reproduce_p_mm(sel):
    con = svm_constraints(PHI, sel)
    sol = least_distance(con.A, con.b)
    assert np.allclose(con.A.T @ sol.lam, sol.x, atol=1e-12)
    slack = con.A @ sol.x - con.b
    assert np.all(slack >= -1e-12) and np.allclose(sol.lam * slack, 0, atol=1e-12)
