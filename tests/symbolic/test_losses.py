"""symbolic.losses: the whitelist parser, lambdified losses and Assumption A."""
from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp
from mpmath import iv

from attnsvm import numeric
from attnsvm.symbolic import BUILTIN_LOSSES, LossExpressionError, assumption_a, iv_eval, lambdify_loss, parse_loss
from attnsvm.symbolic.losses import u

HOSTILE = [
    '__import__("os").system("ls")', "u.__class__", "u.real", "lambda: 1", "os", "foo(u)", "eval('u')",
    "exec('1')", "open('/etc/passwd')", "getattr(u, 'x')", "[u]", "{u: 1}", "u if u else 1", "u == 1",
    "u and 1", "exp(u, 2)", "exp(base=u)", "exp(*[u])", "9**9**9", "2**100000", "1/0", "", "   ", "u" * 401,
    "1j*u", "log(-1)*u", "3", "(u", "u;u", "sympify('u')", "S('u')", "Symbol('x')", "(-2)**u", "1e400*u",
    "u[0]", "x", "E", "exp", "u.subs(u, 1)", "((((2**64)**64)**64)**64)**64*u",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_are_rejected(text):
    with pytest.raises(LossExpressionError) as info:
        parse_loss(text)
    msg = str(info.value)
    assert msg and "\n" not in msg and len(msg) < 200


def test_parser_builds_the_builtins_and_exact_numbers():
    assert parse_loss("log(1 + exp(-u))") == BUILTIN_LOSSES["logistic"]
    assert parse_loss("exp(-u)") == BUILTIN_LOSSES["exponential"]
    assert parse_loss("-u") == BUILTIN_LOSSES["correlation"]
    assert parse_loss("0.1*u") == u / 10          # the decimal, exactly
    assert parse_loss("e**(-u) + pi*u") == sp.exp(-u) + sp.pi * u
    assert parse_loss("sqrt(1 + u**2) - u") == sp.sqrt(1 + u ** 2) - u


def test_dataset_rejects_a_bad_expression_naming_the_field():
    from attnsvm.verify import Dataset, DatasetError

    with pytest.raises(DatasetError, match=r"^loss\.expr: "):
        Dataset(X=[[[1, 0], [0, 1]]], Y=[1], v=[1, 0], loss={"expr": "__import__('os')"})
    ds = Dataset(X=[[[1, 0], [0, 1]]], Y=[1], v=[1, 0], loss={"expr": "log(1 + exp(-u))"})
    assert ds.loss_spec.expr == "log(1 + exp(-u))"


def test_cli_exits_2_with_one_line(tmp_path, capsys):
    from attnsvm.verify.cli import main

    path = tmp_path / "bad.json"
    path.write_text('{"X": [[[1, 0], [0, 1]]], "Y": [1], "v": [1, 0], "loss": {"expr": "u.__class__"}}')
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "loss.expr" in err and "attribute access" in err


@pytest.mark.parametrize("name", ["logistic", "exponential", "correlation"])
def test_lambdified_losses_agree_with_numeric(name):
    fns = lambdify_loss(BUILTIN_LOSSES[name])
    ref = numeric.BUILTIN_LOSSES[name]
    x = np.linspace(-20, 20, 81)
    # the value as written (log(1 + e^{-u})) loses relative accuracy for large u, where it is tiny
    small = x[np.abs(x) <= 5]
    np.testing.assert_allclose(fns.value(small), ref.value(small), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(fns.derivative(x), ref.derivative(x), rtol=1e-13, atol=1e-300)
    with mpmath.workdps(50):
        for t in ("-3.25", "0", "7.5"):
            a, b = fns.mp_derivative(mpmath.mpf(t)), ref.mp_derivative(mpmath.mpf(t))
            assert abs(a - b) <= mpmath.mpf(10) ** -45 * max(1, abs(b))


def test_interval_evaluation_encloses_point_values():
    expr = parse_loss("log(1 + exp(-u)) + sin(3*u)/7 - sqrt(2 + u)")
    f = sp.lambdify(u, expr, "mpmath")
    for a in np.linspace(-1.9, 3, 23):
        box = iv_eval(expr, iv.mpf([a, a + 0.1]))
        for t in np.linspace(a, a + 0.1, 5):
            assert box.a <= f(mpmath.mpf(t)) <= box.b


# -- Assumption A --------------------------------------------------------------------------------

def _true_sup(expr, U, order):
    """sup |l^(order)| on [-U, U] by dense sampling (a lower estimate of the true sup)."""
    f = sp.lambdify(u, sp.diff(expr, u, order), "numpy")
    x = np.linspace(-U, U, 20001)
    return float(np.max(np.abs(np.broadcast_to(f(x), x.shape))))


@pytest.mark.parametrize("name", ["logistic", "exponential", "correlation"])
@pytest.mark.parametrize("U", [Fraction(1), Fraction(7, 2)])
def test_assumption_a_holds_for_the_builtins_with_valid_bounds(name, U):
    expr = BUILTIN_LOSSES[name]
    res = assumption_a(expr, U)
    assert res.holds is True and res.witness is None
    m1, m0 = _true_sup(expr, float(U), 1), _true_sup(expr, float(U), 2)
    assert m1 <= res.M1 <= 1.01 * m1 + 1e-12     # upper bounds, and tight ones
    assert m0 <= res.M0 <= 1.01 * m0 + 1e-12
    if name == "exponential":                     # sup |l'| = sup |l''| = e^U, exactly known
        assert res.M1 >= math.exp(float(U)) and res.M0 >= math.exp(float(U))


def test_assumption_a_fails_for_the_square_loss_with_a_witness():
    expr = parse_loss("(1 - u)**2")
    res = assumption_a(expr, 2)
    assert res.holds is False and res.method == "symbolic"
    w = sp.Rational(res.witness)
    assert -2 <= w <= 2 and sp.diff(expr, u).subs(u, w) > 0
    # on [-1, 1] the square loss is strictly decreasing (l' = 2(u - 1) vanishes only at u = 1)
    assert assumption_a(expr, 1).holds is True


def test_assumption_a_interval_witness_and_undecided_cases():
    res = assumption_a(parse_loss("exp(-u) + u/2"), 3)          # l'(u) = -e^{-u} + 1/2 > 0 for u > log 2
    assert res.holds is False and res.method == "interval"
    w = float(res.witness)
    assert -3 <= w <= 3 and -math.exp(-w) + 0.5 > 0
    undecided = assumption_a(parse_loss("-u + sin(u)"), 2)     # l' = cos u - 1 <= 0 with a zero at 0
    assert undecided.holds is None and undecided.M0 is None
    assert assumption_a(parse_loss("sqrt(1 - u)"), 2).holds is False    # undefined for u > 1


def test_assumption_a_symbolic_isolated_zero():
    res = assumption_a(parse_loss("-u**3 - u"), 2)
    assert res.holds is True and res.method == "symbolic" and res.M1 == 13.0 and res.M0 == 12.0
    assert assumption_a(parse_loss("-u**3"), 2).holds is True    # l' = -3u^2 <= 0, zero only at 0


def test_overflow_is_undecided_not_a_failure():
    # l' is finite everywhere but beyond 1e300 near u = -3: no bound can be proven, and no witness exists
    res = assumption_a(parse_loss("exp(exp(exp(exp(-u))))"), 3, max_evals=300)
    assert res.holds is None and res.witness is None


def test_hyperbolic_losses():
    res = assumption_a(parse_loss("-tanh(u)"), 3)
    assert res.holds is True and 4 / (3 * math.sqrt(3)) <= res.M0 <= 0.78 and 1 <= res.M1 <= 1.01
    assert assumption_a(parse_loss("cosh(u) - 2*u"), 3).holds is False    # l'(3) = sinh 3 - 2 > 0


def test_a_pole_is_a_witness():
    res = assumption_a(parse_loss("1/u"), 1)
    assert res.holds is False and float(res.witness) == 0.0
