"""numeric.exact_rows: lazy exact rows and the rigorous float64 bounds on slacks."""
from fractions import Fraction as F

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from attnsvm.numeric.exact_rows import ExactRows, float_with_error, slack_lower_bounds

small = st.fractions(min_value=-10, max_value=10, max_denominator=10 ** 6)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(small, min_size=3, max_size=3), min_size=1, max_size=6),
       theta=st.lists(small, min_size=3, max_size=3), b=small, scale=st.sampled_from([1e-80, 1e-8, 1, 1e8, 1e40]))
def test_slack_lower_bounds_are_below_the_exact_slacks(rows, theta, b, scale):
    """lb_j <= A_j theta - b exactly, for exact rows, theta and b (scaled over many orders of magnitude);
    and the bound is tight enough to prove clearly positive slacks."""
    s = F(scale)
    A = [[x * s for x in r] for r in rows]
    th = [x / s for x in theta]
    A_rows = ExactRows.from_array(np.array(A, dtype=object))
    th_f, th_e = float_with_error(th)
    bs = [b] * len(A)
    b_f, b_e = float_with_error(bs)
    lb = slack_lower_bounds(A_rows, th_f, th_e, b_f, b_e)
    for j, row in enumerate(A):
        exact = sum(a * t for a, t in zip(row, th)) - b
        assert lb[j] <= exact
        if exact > 1e-6 * (1 + sum(abs(a * t) for a, t in zip(row, th)) + abs(b)):
            assert lb[j] > 0


def test_rows_are_fetched_once_and_on_demand():
    calls = []

    def fetch(idx):
        calls.append(list(idx))
        return [[F(j), F(1, 3)] for j in idx]

    A = ExactRows(np.array([[0.0, 1 / 3], [1.0, 1 / 3], [2.0, 1 / 3]]), np.full(3, 1e-16), fetch)
    assert A.fetched == 0 and A.shape == (3, 2)
    assert A.rows([2, 0]) == [[2, F(1, 3)], [0, F(1, 3)]]
    assert A.rows([0, 1]) == [[0, F(1, 3)], [1, F(1, 3)]]
    assert calls == [[2, 0], [1]] and A.fetched == 3


def test_a_wrong_error_bound_is_caught():
    """The bound uses the stated entrywise error: a row whose float copy is off by more than its stated error
    can get a bound above its exact slack (so the error terms matter)."""
    exact = [[F(1), F(0)]]
    A = ExactRows(np.array([[1.001, 0.0]]), np.zeros(1), lambda idx: [exact[j] for j in idx])
    lb = slack_lower_bounds(A, np.array([1.0, 0.0]), np.zeros(2), np.array([1.0]), np.zeros(1))
    assert lb[0] > 0 == exact[0][0] * 1 - 1   # wrong data in, wrong bound out
    A_ok = ExactRows(np.array([[1.001, 0.0]]), np.array([0.0011]), lambda idx: [exact[j] for j in idx])
    assert slack_lower_bounds(A_ok, np.array([1.0, 0.0]), np.zeros(2), np.array([1.0]), np.zeros(1))[0] <= 0
