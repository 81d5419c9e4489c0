"""symbolic.assumption: Assumption A decided on all of R, with witnesses, and the bounds on the outputs.

Every expected answer is computed here, independently of the code under test: signs of l' at the
witness with sympy (exact) or mpmath (50 digits), suprema by dense numpy sampling, the built-in
closed forms by hand.
"""
from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from attnsvm.symbolic import BUILTIN_LOSSES, AssumptionA, assumption_a, parse_loss
from attnsvm.symbolic.assumption import simplest_between
from attnsvm.symbolic.losses import u


def loss(text):
    return parse_loss(text)


def exact(w: str) -> sp.Expr:
    """The witness string as an exact sympy number ("3/2", "-sqrt(2)")."""
    return sp.Rational(w) if "sqrt" not in w and "Root" not in w else sp.sympify(w)


def l_prime_at(expr, w: str):
    """l'(w) evaluated by sympy at the exact witness."""
    return sp.diff(expr, u).subs(u, exact(w))


def is_real_at(expr, w: str) -> bool:
    v = expr.subs(u, exact(w))
    return not v.has(sp.zoo, sp.nan, sp.I) and v.is_extended_real is not False and v.is_finite is not False


def sampled_sup(expr, a, b, order, n=20001):
    f = sp.lambdify(u, sp.diff(expr, u, order), "numpy")
    xs = np.linspace(a, b, n)
    with np.errstate(all="ignore"):
        return float(np.max(np.abs(np.broadcast_to(f(xs), xs.shape))))


# -- the known answers ----------------------------------------------------------------------------

def test_square_loss_fails_beyond_1_and_flags_the_end_on_minus1_1():
    expr = loss("(1 - u)**2")
    r = assumption_a(expr, interval=(-1, 1))
    assert r.holds is False and r.failure == "increasing" and r.method == "exact"
    w = sp.Rational(r.witness)
    assert w > 1 and l_prime_at(expr, r.witness) == 2 * (w - 1) > 0
    # restricted to [-1, 1]: l' = 2(u - 1) vanishes at the end u = 1 that GD approaches
    assert r.vanishes_at_end is True and r.l_prime_at_end == "0"
    assert r.M1 >= 4 and r.M0 >= 2 and r.M1 <= 4 * (1 + 1e-12) and r.M0 <= 2 * (1 + 1e-12)
    assert sp.Rational(r.sup_l_prime) >= 0


def test_minus_u_cubed_holds_exactly():
    r = assumption_a(loss("-u**3"), U=2)
    assert r.holds is True and r.method == "exact" and r.failure is None
    assert r.proof["pieces"][0]["zeros_of_l_prime"] == ["0"]      # l' = -3u^2: one zero, no interior
    assert r.M1 == 12.0 and r.M0 == 12.0                          # sup |3u^2| = 12, sup |6u| = 12 on [-2, 2]


def test_minus_u_plus_sin_holds_with_isolated_zeros():
    expr = loss("-u + sin(u)")                                    # l' = cos u - 1 <= 0, zero at 2 pi k
    r = assumption_a(expr, U=3)
    assert r.holds is True and r.method == "interval"
    assert r.M1 >= sampled_sup(expr, -3, 3, 1) and r.M1 <= 1.01 * sampled_sup(expr, -3, 3, 1)
    assert r.vanishes_at_end is False                             # l'(3) = cos 3 - 1 < 0


def test_minus_u_plus_2_sin_fails():
    expr = loss("-u + 2*sin(u)")
    r = assumption_a(expr)
    assert r.holds is False and r.failure == "increasing"
    with mpmath.workdps(50):
        assert 2 * mpmath.cos(mpmath.mpf(sp.Rational(r.witness).p) / sp.Rational(r.witness).q) - 1 > 0


@pytest.mark.parametrize("name", ["exponential", "logistic", "correlation"])
def test_builtins_hold_at_any_scale(name):
    r = assumption_a(BUILTIN_LOSSES[name], U=10 ** 6)
    assert r.holds is True and r.method == "exact" and r.proof["closed_form"] == name
    assert r.vanishes_at_end is False
    with mpmath.workdps(40):
        big = mpmath.exp(mpmath.mpf(10) ** 6)
        m1_true = {"exponential": big, "logistic": 1 / (1 + 1 / big), "correlation": mpmath.mpf(1)}[name]
        m0_true = {"exponential": big, "logistic": mpmath.mpf(1) / 4, "correlation": mpmath.mpf(0)}[name]
        assert m1_true <= mpmath.mpf(r.M1_text) <= m1_true * (1 + mpmath.mpf(10) ** -14)
        assert m0_true <= mpmath.mpf(r.M0_text) <= m0_true * (1 + mpmath.mpf(10) ** -14) + mpmath.mpf(10) ** -300
    if name == "exponential":
        assert r.M1 == math.inf and r.M0 == math.inf              # e^(10^6) is beyond float range
    else:
        assert r.M1 >= float(m1_true) and r.M0 >= float(m0_true)


@pytest.mark.parametrize("name", ["logistic", "exponential", "correlation"])
@pytest.mark.parametrize("U", [Fraction(1), Fraction(7, 2)])
def test_builtin_bounds_are_valid_and_tight(name, U):
    expr = BUILTIN_LOSSES[name]
    r = assumption_a(expr, U=U)
    m1, m0 = sampled_sup(expr, -float(U), float(U), 1), sampled_sup(expr, -float(U), float(U), 2)
    assert m1 <= r.M1 <= 1.01 * m1 + 1e-12 and m0 <= r.M0 <= 1.01 * m0 + 1e-12
    if name == "exponential":                                      # sup |l'| = sup |l''| = e^U exactly
        assert r.M1 >= math.exp(float(U)) and r.M0 >= math.exp(float(U))


def test_builtin_bounds_on_a_positive_interval_underflow_upwards():
    # on [10^6, 10^6 + 1]: sup |l'| = e^(-10^6) for both; the float bound must stay >= the true value
    for name in ("exponential", "logistic"):
        r = assumption_a(BUILTIN_LOSSES[name], interval=(10 ** 6, 10 ** 6 + 1))
        assert r.M1 > 0 and r.M0 > 0
        with mpmath.workdps(40):
            assert mpmath.mpf(r.M1_text) >= mpmath.exp(-mpmath.mpf(10) ** 6)


def test_the_generic_path_also_decides_the_logistic_loss():
    # the logistic loss written differently: no closed form, intervals with tail arguments on all of R
    expr = loss("log(exp(u) + 1) - u")
    assert expr != BUILTIN_LOSSES["logistic"]
    r = assumption_a(expr, U=4)
    assert r.holds is True and r.method == "interval" and "closed_form" not in r.proof
    m1 = 1 / (1 + math.exp(-4))                                    # sup 1/(1 + e^u) on [-4, 4]
    assert m1 <= r.M1 <= 1.01 * m1 and 0.25 <= r.M0 <= 0.2525


@pytest.mark.parametrize("text", ["1/u", "sqrt(-u)", "log(u)", "u**u**u**u", "sqrt(1 - u)", "log(u**2)",
                                  "1/(u**2 - 2)"])
def test_losses_undefined_somewhere_fail_with_a_witness(text):
    expr = loss(text)
    r = assumption_a(expr)
    assert r.holds is False and r.failure == "undefined", r.reason
    w = r.witness
    if w.startswith("("):
        pytest.fail("an exact witness was expected")
    assert not is_real_at(expr, w), (text, w)


def test_an_irrational_witness_is_exact():
    r = assumption_a(loss("1/(u**2 - 2)"))
    assert sp.sympify(r.witness) ** 2 == 2 and math.isclose(abs(r.witness_float), math.sqrt(2))


def test_a_constant_loss_fails_flat():
    r = assumption_a(sp.Integer(3))
    assert r.holds is False and r.failure == "flat"


def test_minus_u_plus_abs_u_is_flat_for_positive_u():
    expr = loss("-u + abs(u)")                                    # l = 0 for u >= 0, -2u for u < 0
    r = assumption_a(expr)
    assert r.holds is False and r.failure == "flat"
    w = sp.Rational(r.witness)
    assert w > 0 and l_prime_at(expr, r.witness) == 0 and l_prime_at(expr, str(w + 1)) == 0
    # it is also not differentiable at 0: reported as a further failure
    assert any("not-differentiable" in f for f in r.details["other_failures"])


def test_a_kink_fails_part_ii():
    expr = loss("-2*u + abs(u)")                                  # strictly decreasing, l'(0-) = -3, l'(0+) = -1
    r = assumption_a(expr)
    assert r.holds is False and r.failure == "not-differentiable" and r.witness == "0"
    h = sp.Rational(1, 10 ** 6)
    right = (expr.subs(u, h) - expr.subs(u, 0)) / h
    left = (expr.subs(u, 0) - expr.subs(u, -h)) / h
    assert right == -1 and left == -3


def test_a_smooth_abs_loss_holds():
    expr = loss("-u - u*abs(u)")                                  # l' = -1 - 2|u|: continuous, l'' = -2 sign(u) bounded
    r = assumption_a(expr, U=1)
    assert r.holds is True and r.proof["break_points"] == ["0"]
    assert r.M1 == 3.0 and r.M0 == 2.0


def test_an_unbounded_second_derivative_at_a_kink_fails():
    expr = loss("-u - u*abs(u)**0.5")                             # l' = -1 - (3/2)|u|^(1/2): l'' ~ |u|^(-1/2)
    r = assumption_a(expr)
    assert r.holds is False and r.failure == "not-lipschitz" and r.witness == "0"


def test_cosh_minus_2u_fails():
    r = assumption_a(loss("cosh(u) - 2*u"))                        # l'(u) = sinh u - 2 > 0 for u > asinh 2
    assert r.holds is False and r.failure == "increasing" and math.sinh(r.witness_float) - 2 > 0


def test_minus_tanh_holds():
    expr = loss("-tanh(u)")
    r = assumption_a(expr, U=3)
    assert r.holds is True
    assert r.M1 >= 1 and r.M1 <= 1.01
    assert 4 / (3 * math.sqrt(3)) <= r.M0 <= 1.01 * 4 / (3 * math.sqrt(3))   # sup |2 tanh (1 - tanh^2)|


@pytest.mark.parametrize("text, side", [("-u + exp(u - 20)", 1), ("-u - exp(-u - 20)", -1)])
def test_violations_far_in_the_tails_are_found(text, side):
    # l' = -1 + e^(+-u - 20) turns positive only beyond |u| = 20: a decision on a bounded window misses it
    expr = loss(text)
    r = assumption_a(expr, U=1)
    assert r.holds is False and r.failure == "increasing"
    w = sp.Rational(r.witness)
    assert side * w > 20 and l_prime_at(expr, r.witness).evalf(30) > 0


def test_tails_needing_a_limit_argument():
    expr = loss("sqrt(1 + u**2) - 2*u")                           # l' = u/sqrt(1+u^2) - 2 increases to -1
    r = assumption_a(expr)
    assert r.holds is True and r.method == "interval"
    assert any("limit" in t or "monotone" in t for p in r.proof["pieces"] for t in p.get("tails", []))


def test_undecided_cases_say_what_was_tried():
    # kinks of |sin u| at every multiple of pi cannot be located exactly
    r = assumption_a(loss("-u - abs(sin(u))"))
    assert r.holds is None and r.witness is None and "kinks" in r.reason
    # a budget too small to cover the line
    r = assumption_a(loss("-u + sin(u)"), budget=5)
    assert r.holds is None and "budget" in r.reason


def test_a_tiny_budget_never_turns_into_holds():
    for text in ["-u + 2*sin(u)", "-u + exp(u - 20)", "-u + sin(u)"]:
        r = assumption_a(loss(text), budget=3)
        assert r.holds is not True


def test_the_old_overflow_case_is_now_decided():
    # l' = -e^-u e^(e^-u) e^(e^(e^-u)) ... < 0 everywhere; on [-3, 3] sup |l'| is finite but far beyond floats
    r = assumption_a(loss("exp(exp(exp(exp(-u))))"), U=3)
    assert r.holds is True and r.M1 == math.inf and r.witness is None


def test_exact_bounds_find_interior_extrema():
    # l' = u^2 - 2: on [-1, 1], sup |l'| = 2 at the interior point 0 (the ends give 1); sup |l''| = 2 at the ends
    expr = loss("-2*u + u**3/3")
    r = assumption_a(expr, interval=(-1, 1))
    assert r.M1 == 2.0 and r.M0 == 2.0 and r.bounds_method == "exact"
    assert r.holds is False and r.failure == "increasing" and sp.Rational(r.witness) ** 2 > 2


def test_result_fields_and_interval_arguments():
    r = assumption_a(loss("-u**3 - u"), interval=("-1/2", 2))
    assert isinstance(r, AssumptionA) and r.interval == ("-1/2", "2") and r.U == 2.0
    assert r.M1 == 13.0 and r.M0 == 12.0 and r.bounds_method == "exact"
    assert r.l_prime_at_end == "-13" and r.vanishes_at_end is False
    assert assumption_a(loss("-u**3 - u")).M1 is None            # no interval, no bounds
    with pytest.raises(ValueError):
        assumption_a(loss("-u"), U=1, interval=(0, 1))
    with pytest.raises(ValueError):
        assumption_a(loss("-u"), interval=(2, 1))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.integers(-3, 3), min_size=2, max_size=5))
def test_exact_and_interval_decisions_agree_on_polynomials(coeffs):
    """Two independent decisions of the same loss: exact root isolation and interval arithmetic (the exact
    path switched off). Where both decide they agree, and every witness is checked with sympy."""
    from unittest import mock

    from attnsvm.symbolic import assumption as A

    expr = sum(c * u ** (k + 1) for k, c in enumerate(coeffs))
    if u not in expr.free_symbols:
        return
    exact = assumption_a(expr)
    with mock.patch.object(A, "_rational_polys", lambda g: None), mock.patch.object(A, "_zeros_poles",
                                                                                   lambda g: None):
        by_intervals = assumption_a(expr)
    assert exact.holds is not None and exact.method == "exact"
    assert by_intervals.method == "interval"
    d1 = sp.diff(expr, u)
    for r in (exact, by_intervals):
        if r.holds is False and r.failure == "increasing":
            assert d1.subs(u, sp.Rational(r.witness)) > 0
    if by_intervals.holds is not None:
        assert by_intervals.holds == exact.holds, (expr, exact.reason, by_intervals.reason)
    # the exact answer, independently: l' <= 0 on R iff the leading term and every sign change allow it
    xs = np.linspace(-50, 50, 4001)
    sampled_positive = np.any(sp.lambdify(u, d1, "numpy")(xs) > 0)
    if sampled_positive:
        assert exact.holds is False


def test_simplest_between():
    F = Fraction
    assert simplest_between(F(1), F(2)) == F(3, 2)
    assert simplest_between(None, F(0)) == F(-1, 2)
    assert simplest_between(F(1, 3), F(1, 2)) == F(2, 5)
    assert simplest_between(F(-5), F(7)) == 0
    assert simplest_between(None, None) == 0
    for a, b in [(F(22, 7), F(355, 113)), (F(-3, 4), F(-2, 3))]:
        lo, hi = min(a, b), max(a, b)
        assert lo < simplest_between(lo, hi) < hi
