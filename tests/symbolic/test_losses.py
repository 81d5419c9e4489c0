"""symbolic.losses: the whitelist parser, lambdified losses and Assumption A."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from mpmath import iv

from attnsvm import numeric
from attnsvm.symbolic import BUILTIN_LOSSES, LossExpressionError, iv_eval, lambdify_loss, parse_loss
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


# -- operators that are not allowed --------------------------------------------------------------

def test_caret_is_explained_as_not_a_power():
    with pytest.raises(LossExpressionError) as info:
        parse_loss("(1 - u)^2")
    msg = str(info.value)
    assert "'^' is not a power" in msg and "**" in msg and "\n" not in msg
    for text, op in [("u % 2", "%"), ("u // 2", "//"), ("u & 1", "&"), ("u << 1", "<<")]:
        with pytest.raises(LossExpressionError, match=f"operator '{op}' is not allowed"):
            parse_loss(text)


# -- numeric callables where the loss is not real -------------------------------------------------

NOT_REAL = ["sqrt(-u)", "log(u)", "u**u**u**u", "1/u", "(-u)**1.5 - u", "exp(exp(exp(u)))", "sin(exp(exp(u)))"]


@pytest.mark.parametrize("text", NOT_REAL)
def test_numpy_callables_return_nan_without_warnings(text):
    import warnings

    fns = lambdify_loss(parse_loss(text))
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0, 800.0, 1e300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # a RuntimeWarning or ComplexWarning would raise here
        for f in (fns.value, fns.derivative):
            y = f(x)
            assert y.dtype == np.float64 and y.shape == x.shape
            # where sympy says the value is real and finite, the float agrees (to float accuracy or overflow)
            expr = fns.expr if f is fns.value else fns.derivative_expr
            for xi, yi in zip(x[:4], y[:4]):            # small u: sympy evaluates them quickly
                ex = sp.N(expr.subs(u, sp.Rational(str(xi))), 20)
                if ex.has(sp.zoo, sp.oo, -sp.oo, sp.nan):           # a pole: nan or an infinity
                    assert not math.isfinite(yi), (text, xi, yi)
                    continue
                v = complex(ex)
                if v.imag == 0:
                    assert math.isclose(yi, v.real, rel_tol=1e-9, abs_tol=1e-12), (text, xi, yi, v)
                else:                                               # not real: nan
                    assert math.isnan(yi), (text, xi, yi)


def test_mpmath_callables_raise_loss_domain_error():
    from attnsvm.symbolic.losses import LossDomainError

    cases = [("sqrt(-u)", "0.5", "not real"), ("log(u)", "-2", "not real"), ("u**u**u**u", "-0.5", "not real"),
             ("1/u", "0", "not defined"), ("log(u)", "0", "not finite"), ("exp(exp(exp(u)))", "30", "supported range"),
             ("sin(exp(exp(u)))", "30", "supported range"), ("u**u**u**u", "1e6", "supported range")]
    for text, at, what in cases:
        fns = lambdify_loss(parse_loss(text))
        with pytest.raises(LossDomainError, match=what) as info:
            fns.mp_value(mpmath.mpf(at))
        assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    # where the loss is real, the mpmath values are the real ones
    fns = lambdify_loss(parse_loss("sqrt(-u)"))
    assert fns.mp_value(mpmath.mpf(-4)) == 2 and fns.mp_derivative(mpmath.mpf(-4)) == mpmath.mpf(-1) / 4
    fns = lambdify_loss(parse_loss("u**(1/3)"))
    assert abs(fns.mp_value(mpmath.mpf(8)) - 2) < mpmath.mpf(10) ** -14


def test_assumption_a_is_reexported_from_losses():
    from attnsvm.symbolic import losses

    r = losses.assumption_a(parse_loss("(1 - u)**2"), 2)
    assert isinstance(r, losses.AssumptionA) and r.holds is False and r.failure == "increasing"
