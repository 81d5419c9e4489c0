"""symbolic.intervals: enclosures on unbounded intervals and sign proofs with tails."""
from __future__ import annotations

import math
import random

import mpmath
import pytest
import sympy as sp
from mpmath import iv

from attnsvm.symbolic.intervals import UndefinedError, interval, iv_eval, prove_sign

x = sp.Symbol("x", real=True)

EXPRS = [
    sp.log(1 + sp.exp(-x)), -sp.exp(-x) / (1 + sp.exp(-x)), sp.tanh(x) ** 2 - 1, sp.sin(3 * x) / 7 - sp.cos(x),
    sp.sqrt(x ** 2 + 1) - 2 * x, x * sp.exp(-x ** 2), sp.cosh(x) - sp.sinh(x / 2), sp.Abs(x - 1) * x ** 3,
    2 ** x - x ** 5 / 3, sp.exp(sp.exp(x / 4)), (x ** 2 + 2) ** sp.Rational(-3, 2), sp.sign(x) * x ** 2,
    sp.pi * x - sp.E ** x, x ** 4 - 3 * x ** 3 + x,
]


def _value(expr, t):
    with mpmath.workdps(40):
        return sp.lambdify(x, expr, "mpmath")(mpmath.mpf(t))


@pytest.mark.parametrize("expr", EXPRS, ids=str)
def test_enclosures_contain_point_values(expr):
    rng = random.Random(7)
    for _ in range(12):
        a = rng.uniform(-30, 30)
        b = a + rng.choice([1e-6, 0.01, 0.5, 3.0])
        box = iv_eval(expr, interval(mpmath.mpf(a), mpmath.mpf(b)), x)
        for t in (a, b, a + (b - a) * rng.random()):
            v = _value(expr, t)
            assert box.a <= v <= box.b, (expr, a, b, t)


@pytest.mark.parametrize("expr", EXPRS, ids=str)
def test_enclosures_of_tails_contain_far_points(expr):
    for side in (1, -1):
        B = mpmath.mpf(5) * side
        box = interval(B, mpmath.inf) if side > 0 else interval(-mpmath.inf, B)
        try:
            r = iv_eval(expr, box, x)
        except ValueError:
            continue                        # no enclosure is allowed; a wrong one is not
        for t in (5, 6.5, 20, 300):
            v = _value(expr, side * t)
            if mpmath.isfinite(v):
                assert r.a <= v <= r.b, (expr, side * t)


def test_overflow_widens_instead_of_failing():
    r = iv_eval(sp.exp(sp.exp(x)), interval(20, 21), x)          # e^(e^21) is beyond 2^(2^23)
    assert r.b == mpmath.inf and r.a > mpmath.mpf(10) ** 1000
    r = iv_eval(sp.exp(-sp.exp(x)), interval(20, 21), x)
    assert r.a == 0 and 0 < r.b < mpmath.mpf(10) ** -1000
    with iv.workprec(113) if hasattr(iv, "workprec") else mpmath.workprec(113):
        big = iv_eval(sp.exp(-x), interval(mpmath.mpf(-10 ** 6), mpmath.mpf(-10 ** 6)), x)
    assert mpmath.log(big.a) > 999999 and mpmath.log(big.b) < 1000001       # e^(10^6), not capped


def test_undefined_and_unsupported_are_told_apart():
    with pytest.raises(UndefinedError):
        iv_eval(sp.log(x), interval(-2, -1), x)
    with pytest.raises(UndefinedError):
        iv_eval(sp.sqrt(x), interval(-2, -1), x)
    with pytest.raises(ValueError) as info:
        iv_eval(sp.sqrt(x), interval(-1, 1), x)                    # partly defined: no enclosure, not "undefined"
    assert not isinstance(info.value, UndefinedError)
    with pytest.raises(ValueError):
        iv_eval(1 / x, interval(-1, 1), x)
    # with the knowledge that x >= 0 where it matters, the part below 0 is clipped away
    r = iv_eval(sp.sqrt(x), interval(-1, 4), x, clip=frozenset({x}))
    assert r.a == 0 and r.b >= 2


def test_prove_sign_on_the_whole_line():
    assert prove_sign(sp.cos(x) - 1, x, "<=0").status == "proven"
    assert prove_sign(1 / (1 + x ** 2), x, ">0").status == "proven"
    # -1 + x e^-x < 0 everywhere (max of x e^-x is 1/e); the right tail needs a monotonicity argument
    res = prove_sign(-1 + x * sp.exp(-x), x, "<0")
    assert res.status == "proven" and res.tails
    res = prove_sign(2 * sp.cos(x) - 1, x, "<=0")
    assert res.status == "violated" and 2 * mpmath.cos(res.witness) - 1 > 0


@pytest.mark.parametrize("expr, side", [(-1 + sp.exp(x - 20), 1), (-1 + sp.exp(-x - 20), -1)])
def test_a_violation_far_in_a_tail_is_found(expr, side):
    # the violation starts at |x| = 20, beyond the bounded middle: only the tail handling can find it
    res = prove_sign(expr, x, "<=0")
    assert res.status == "violated"
    w = res.witness
    assert side * w > 20 and _value(expr, w) > 0


def test_prove_sign_respects_its_budget():
    res = prove_sign(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1, x, "<=0", budget=200)
    assert res.status == "undecided" and res.undecided       # identically 0, but intervals cannot see it


def test_prove_sign_on_a_bounded_interval():
    res = prove_sign(x ** 2 - 2, x, "<0", mpmath.mpf(-1), mpmath.mpf(1))
    assert res.status == "proven" and not res.tails
    res = prove_sign(x ** 2 - 2, x, "<0", mpmath.mpf(-1), mpmath.mpf(2))
    assert res.status == "violated" and res.witness ** 2 >= 2
    assert math.isfinite(float(res.witness))
