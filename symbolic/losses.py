"""Losses as sympy expressions in ``u``, a whitelist parser for user expressions, and numeric callables.

A loss l enters the theory through l and l' at the outputs u_i = Y_i f(X_i). The built-in losses are
the logistic log(1 + e^-u), the exponential e^-u and the correlation loss -u; a dataset may give any
other loss as an expression in u.

User expressions (``{"expr": "..."}`` in a dataset file) are parsed by walking Python's ``ast`` of
the string and building sympy objects from a whitelist: the symbol ``u``, the constants ``e`` and
``pi``, numbers (kept exact), ``+ - * / **`` and the functions in :data:`FUNCTIONS`. Nothing is
evaluated as code, and ``sympify`` never sees the string.

Assumption A (l strictly decreasing on R, l' locally Lipschitz and bounded) is decided in
:mod:`symbolic.assumption`; :func:`assumption_a` and :class:`AssumptionA` are re-exported here.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import sympy as sp

u = sp.Symbol("u", real=True)

LOGISTIC = sp.log(1 + sp.exp(-u))
EXPONENTIAL = sp.exp(-u)
CORRELATION = -u
BUILTIN_LOSSES = {"logistic": LOGISTIC, "exponential": EXPONENTIAL, "correlation": CORRELATION}

FUNCTIONS = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos,
             "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "abs": sp.Abs}
CONSTANTS = {"u": u, "e": sp.E, "pi": sp.pi}
MAX_LENGTH = 400
MAX_DEPTH = 100
MAX_EXPONENT = 64        # |n| for a numeric exponent, so that no input builds a huge number
MAX_INTEGER_DIGITS = 30
MAX_NUMBER_BITS = 4096   # a power of two numbers may not exceed this size
MP_MAX_EXP_ARG = 2 ** 30   # mpmath: exp, sinh, cosh of |x| beyond this (and powers b**e with |e log b| beyond it) raise
MP_MAX_TRIG_BITS = 2 ** 12  # mpmath: sin, cos of |x| >= 2^(2^12) raise (argument reduction would take too long)


class LossExpressionError(ValueError):
    """A loss expression outside the whitelist (one-line message)."""


def _number(value, text: str) -> sp.Expr:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LossExpressionError(f"unsupported constant {text[:30]!r} (only real numbers)")
    if isinstance(value, int):
        if len(str(abs(value))) > MAX_INTEGER_DIGITS:
            raise LossExpressionError(f"number {text[:30]}... has more than {MAX_INTEGER_DIGITS} digits")
        return sp.Integer(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise LossExpressionError(f"number {text[:30]!r} is not finite")
    # the shortest decimal of the float, exactly (0.1 -> 1/10)
    frac = Fraction(repr(value))
    return sp.Rational(frac.numerator, frac.denominator)


_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b}


def _build(node: ast.AST, text: str, depth: int) -> sp.Expr:
    if depth > MAX_DEPTH:
        raise LossExpressionError(f"expression nested deeper than {MAX_DEPTH} levels")
    seg = ast.get_source_segment(text, node) or type(node).__name__
    if isinstance(node, ast.Constant):
        return _number(node.value, seg)
    if isinstance(node, ast.Name):
        if node.id not in CONSTANTS:
            raise LossExpressionError(f"unknown name {node.id[:30]!r} (allowed: u, e, pi and the functions "
                                      f"{', '.join(FUNCTIONS)})")
        return CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        arg = _build(node.operand, text, depth + 1)
        return -arg if isinstance(node.op, ast.USub) else arg
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _build(node.left, text, depth + 1), _build(node.right, text, depth + 1)
        if isinstance(node.op, ast.Div) and b == 0:
            raise LossExpressionError(f"division by zero in {seg[:40]!r}")
        return _BINOPS[type(node.op)](a, b)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        a, b = _build(node.left, text, depth + 1), _build(node.right, text, depth + 1)
        if b.is_number and (not b.is_real or abs(b) > MAX_EXPONENT):
            raise LossExpressionError(f"exponent in {seg[:40]!r} must be a real number of size at most "
                                      f"{MAX_EXPONENT}")
        if a.is_Rational and b.is_Rational and \
                max(int(a.p).bit_length(), int(a.q).bit_length()) * abs(b) > MAX_NUMBER_BITS:
            raise LossExpressionError(f"number {seg[:40]!r} is too large (more than {MAX_NUMBER_BITS} bits)")
        if a.is_number and not b.is_number and not (a.is_positive):
            raise LossExpressionError(f"base of {seg[:40]!r} must be positive when the exponent depends on u")
        if a == 0 and b.is_number and b.is_negative:
            raise LossExpressionError(f"division by zero in {seg[:40]!r}")
        return a ** b
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            what = node.func.id if isinstance(node.func, ast.Name) else ast.get_source_segment(text, node.func)
            raise LossExpressionError(f"call of {str(what)[:30]!r} is not allowed (allowed functions: "
                                      f"{', '.join(FUNCTIONS)})")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise LossExpressionError(f"{node.func.id}() takes exactly one argument, in {seg[:40]!r}")
        return FUNCTIONS[node.func.id](_build(node.args[0], text, depth + 1))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
        raise LossExpressionError(f"'^' is not a power in this syntax (it is bitwise xor); write '**' for a power, "
                                  f"e.g. u**2 (at {seg[:40]!r})")
    if isinstance(node, ast.BinOp):
        sym = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|",
               ast.LShift: "<<", ast.RShift: ">>"}.get(type(node.op), type(node.op).__name__)
        raise LossExpressionError(f"operator '{sym}' is not allowed in a loss expression (allowed: + - * / **; "
                                  f"at {seg[:40]!r})")
    kind = {ast.Attribute: "attribute access", ast.Lambda: "lambda", ast.Subscript: "subscript",
            ast.Compare: "comparison", ast.BoolOp: "boolean operator"}.get(type(node), type(node).__name__)
    raise LossExpressionError(f"{kind} is not allowed in a loss expression (at {seg[:40]!r})")


def parse_loss(text: str) -> sp.Expr:
    """The sympy expression l(u) of a loss written in ``text``, built from a whitelist.

    Allowed: the symbol ``u``, ``e``, ``pi``, numbers (exact: "0.1" is 1/10), ``+ - * / **`` and
    exp, log, sqrt, sin, cos, sinh, cosh, tanh, abs with one argument. Anything else raises
    :class:`LossExpressionError` with a one-line message.

    >>> parse_loss("log(1 + exp(-u))") == LOGISTIC
    True
    >>> parse_loss("0.5*(1 - u)**2")
    (1 - u)**2/2
    """
    if not isinstance(text, str):
        raise LossExpressionError(f"expected a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise LossExpressionError(f"expression longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise LossExpressionError("empty expression")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise LossExpressionError(f"not a valid expression: {exc.msg}") from None
    except (ValueError, MemoryError, RecursionError):
        raise LossExpressionError("not a valid expression") from None
    try:
        expr = _build(tree.body, text.strip(), 0)
    except RecursionError:
        raise LossExpressionError(f"expression nested deeper than {MAX_DEPTH} levels") from None
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan, sp.I):
        raise LossExpressionError("expression is not a finite real function of u")
    if u not in expr.free_symbols:
        raise LossExpressionError("expression does not depend on u")
    return expr


# -- numeric callables (sympy's printers generate the code from the whitelisted expression) --------------

class LossDomainError(ValueError):
    """Raised by the mpmath callables of :func:`lambdify_loss` where l or l' is not a finite real number:
    the expression is undefined or complex there (sqrt(-u) at u = 1, log(u) at u = -1, 1/u at 0), or an
    argument leaves the supported range (exp, sinh, cosh of |x| > 2^30, b**e with |e log b| > 2^30, sin and
    cos of |x| >= 2^4096)."""


@dataclass(frozen=True)
class LossFunctions:
    """l and l' of a sympy loss as numpy (elementwise) and mpmath (one number) callables.

    ``value``/``derivative`` take float arrays and return float64 arrays of the same shape; they never
    raise and never warn: nan where the expression is not real, +-inf at a pole or on overflow.
    ``mp_value``/``mp_derivative`` take one mpmath number and return a finite real mpf, or raise
    :class:`LossDomainError` (a ValueError) with a one-line message.
    """

    expr: sp.Expr
    derivative_expr: sp.Expr
    value: object
    derivative: object
    mp_value: object
    mp_derivative: object


_RPOW = sp.Function("rpow")


def _too_big(x) -> bool:
    return not mpmath.isfinite(x) or abs(x) > MP_MAX_EXP_ARG


def _trig_too_big(x) -> bool:
    return not mpmath.isfinite(x) or (x != 0 and mpmath.mag(x) > MP_MAX_TRIG_BITS)


def _mp_guard(fn, name, too_big):
    def g(x):
        if not isinstance(x, (mpmath.mpf, mpmath.mpc)):
            x = mpmath.mpf(x)
        if isinstance(x, mpmath.mpc):
            raise LossDomainError(f"{name} of a complex number")
        if too_big(x):
            raise LossDomainError(f"{name} of {mpmath.nstr(x, 5)}, beyond the supported range")
        return fn(x)
    return g


def _mp_rpow(b, e):
    """b**e for a non-integer or variable exponent: real only for b > 0 (or b = 0 with e > 0)."""
    b, e = mpmath.mpf(b) if not isinstance(b, mpmath.mpc) else b, e
    if isinstance(b, mpmath.mpc) or isinstance(e, mpmath.mpc):
        raise LossDomainError("a power of a complex number")
    if b < 0:
        raise LossDomainError(f"not real: a non-integer power of the negative number {mpmath.nstr(b, 8)}")
    if b == 0:
        if e > 0:
            return mpmath.mpf(0)
        raise LossDomainError("not defined: a non-positive power of 0")
    if _too_big(e * mpmath.log(b)):
        raise LossDomainError("a power beyond the supported range")
    return mpmath.power(b, e)


_MP_NAMESPACE = {"exp": _mp_guard(mpmath.exp, "exp", _too_big), "sinh": _mp_guard(mpmath.sinh, "sinh", _too_big),
                 "cosh": _mp_guard(mpmath.cosh, "cosh", _too_big), "sin": _mp_guard(mpmath.sin, "sin", _trig_too_big),
                 "cos": _mp_guard(mpmath.cos, "cos", _trig_too_big), "rpow": _mp_rpow}


def _with_rpow(expr: sp.Expr) -> sp.Expr:
    """expr with every power whose exponent is not an integer written rpow(base, exponent)."""
    return expr.replace(lambda e: e.is_Pow and not e.exp.is_Integer, lambda e: _RPOW(e.base, e.exp))


def _mp_callable(expr: sp.Expr, what: str):
    f = sp.lambdify(u, _with_rpow(expr), modules=[_MP_NAMESPACE, "mpmath"])

    def call(x):
        try:
            y = f(x)
        except LossDomainError as exc:
            raise LossDomainError(f"{what} at u = {mpmath.nstr(x, 15)}: {exc}") from None
        except (ZeroDivisionError, ValueError, TypeError, OverflowError, ArithmeticError) as exc:
            raise LossDomainError(f"{what} is not defined at u = {mpmath.nstr(x, 15)} "
                                  f"({type(exc).__name__}{': ' + str(exc)[:60] if str(exc) else ''})") from None
        if isinstance(y, mpmath.mpc):
            if y.imag != 0:
                raise LossDomainError(f"{what} is not real at u = {mpmath.nstr(x, 15)} (complex value)")
            y = y.real
        y = mpmath.mpf(y)
        if not mpmath.isfinite(y):
            raise LossDomainError(f"{what} is not finite at u = {mpmath.nstr(x, 15)}")
        return y
    return call


def _np_callable(expr: sp.Expr):
    import numpy as np

    f = sp.lambdify(u, expr, "numpy")

    def call(x):
        x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            try:
                y = np.asarray(f(x))
            except (ValueError, TypeError, OverflowError, ZeroDivisionError, ArithmeticError):
                y = np.full(x.shape, np.nan)
            if np.iscomplexobj(y):
                y = np.where(y.imag == 0, y.real, np.nan)
            return np.broadcast_to(np.asarray(y, dtype=float), x.shape).copy()
    return call


def lambdify_loss(expr: sp.Expr) -> LossFunctions:
    """numpy and mpmath callables for l(u) and l'(u) = d l / d u (sympy.lambdify of the expressions; see
    :class:`LossFunctions` for what they return where l is not a finite real number).

    >>> f = lambdify_loss(parse_loss("sqrt(-u)"))
    >>> f.value([-4.0, 1.0]).tolist()
    [2.0, nan]
    >>> f.mp_value(mpmath.mpf(1))
    Traceback (most recent call last):
    ...
    attnsvm.symbolic.losses.LossDomainError: l at u = 1.0: not real: a non-integer power of the negative number -1.0
    """
    d = sp.diff(expr, u)
    return LossFunctions(expr=expr, derivative_expr=d, value=_np_callable(expr), derivative=_np_callable(d),
                         mp_value=_mp_callable(expr, "l"), mp_derivative=_mp_callable(d, "l'"))


# -- interval evaluation and Assumption A (reachable from here; symbolic.assumption imports u from this module)

from . import intervals as _intervals  # noqa: E402
from .intervals import UndefinedError  # noqa: E402,F401


def iv_eval(expr: sp.Expr, x, clip=frozenset()):
    """The interval extension of ``expr`` (in u) at the mpmath.iv interval ``x``: see
    :func:`symbolic.intervals.iv_eval`."""
    return _intervals.iv_eval(expr, x, u, clip)


def __getattr__(name: str):
    """AssumptionA and assumption_a live in symbolic.assumption (which imports u from here); they are
    reachable from this module too, resolved on first use so that either module may be imported first."""
    if name in ("AssumptionA", "assumption_a"):
        from . import assumption
        return getattr(assumption, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
