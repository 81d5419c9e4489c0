"""Losses as sympy expressions in ``u``, a whitelist parser for user expressions, and Assumption A.

A loss l enters the theory through l and l' at the outputs u_i = Y_i f(X_i). Since u_i is a convex
combination of the token scores gamma_it, every output lies in [-U, U] with U = max_{i,t} |gamma_it|.
Assumption A on that interval:

    (i)  l is strictly decreasing (proven through l' < 0 on [-U, U], or for a polynomial l' through
         l' <= 0 with finitely many zeros; disproven by a witness with l'(w) > 0),
    (ii) l' is M0-Lipschitz (M0 = sup |l''|) and |l'| <= M1 (M1 = sup |l'|).

:func:`assumption_a` decides it rigorously: exactly with sympy when l' is a polynomial (its extrema
are at the endpoints or at real roots of l'', isolated exactly), otherwise with interval arithmetic
(``mpmath.iv``) on an adaptive subdivision of [-U, U]; either way M0 and M1 are proven upper bounds,
and a failure comes with a witness u where l'(u) > 0 is proven (or where l is undefined).

User expressions (``{"expr": "..."}`` in a dataset file) are parsed by walking Python's ``ast`` of
the string and building sympy objects from a whitelist: the symbol ``u``, the constants ``e`` and
``pi``, numbers (kept exact), ``+ - * / **`` and the functions in :data:`FUNCTIONS`. Nothing is
evaluated as code, and ``sympify`` never sees the string.
"""
from __future__ import annotations

import ast
import heapq
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import sympy as sp
from mpmath import iv

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
MAX_SYMBOLIC_DEGREE = 24  # exact root isolation for l' of at most this degree, intervals beyond
MAX_NUMBER_BITS = 4096   # a power of two numbers may not exceed this size
MAX_MAGNITUDE = mpmath.mpf(10) ** 300   # interval values beyond this are treated as unbounded
REFINE_EVALS = 400       # extra evaluations that tighten M0 and M1
TIME_BUDGET = 10.0       # seconds for the interval search; undecided after that


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

@dataclass(frozen=True)
class LossFunctions:
    """l and l' of a sympy loss as numpy (elementwise) and mpmath (one number) callables."""

    expr: sp.Expr
    derivative_expr: sp.Expr
    value: object
    derivative: object
    mp_value: object
    mp_derivative: object


def lambdify_loss(expr: sp.Expr) -> LossFunctions:
    """numpy and mpmath callables for l(u) and l'(u) = d l / d u (sympy.lambdify of the expressions)."""
    d = sp.diff(expr, u)
    np_l, np_d = sp.lambdify(u, expr, "numpy"), sp.lambdify(u, d, "numpy")
    mp_l, mp_d = sp.lambdify(u, expr, "mpmath"), sp.lambdify(u, d, "mpmath")

    import numpy as np

    def value(x):
        x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(np_l(x), dtype=float), x.shape).copy()

    def derivative(x):
        x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(np_d(x), dtype=float), x.shape).copy()

    return LossFunctions(expr=expr, derivative_expr=d, value=value, derivative=derivative,
                         mp_value=lambda x: mpmath.mpf(mp_l(x)), mp_derivative=lambda x: mpmath.mpf(mp_d(x)))


# -- interval evaluation ------------------------------------------------------------------------------

class _Unsupported(Exception):
    """The enclosure cannot be computed (unsupported function, overflow, an argument straddling a pole)."""


class _Undefined(_Unsupported):
    """Proven undefined: the whole enclosure of an argument lies outside the function's real domain."""


class UndefinedError(ValueError):
    """Raised by :func:`iv_eval` when the expression is proven not to be a real number on the interval."""


def _iv_number(x: sp.Expr):
    if x.is_Rational:
        return iv.mpf(int(x.p)) / iv.mpf(int(x.q))
    if x is sp.E:
        return iv.e
    if x is sp.pi:
        return iv.pi
    raise _Unsupported(str(x))


def _iv_pow(base, e: sp.Expr, ebase):
    if e.is_Integer:
        n = int(e)
        if n >= 0:
            return base ** n
        den = base ** (-n)
        if den.a == 0 and den.b == 0:
            raise _Undefined("division by zero")
        if den.a <= 0 <= den.b:
            raise _Unsupported("division by an interval containing 0")
        return 1 / den
    if base.b < 0 or (base.b == 0 and e.is_negative):
        raise _Undefined("a fractional power of a negative number")
    if e == sp.Rational(1, 2):
        if base.a < 0:
            raise _Unsupported("sqrt of an interval containing negative numbers")
        return iv.sqrt(base)
    if base.a <= 0:
        raise _Unsupported("power of an interval containing non-positive numbers")
    return iv.exp(ebase * iv.log(base))


def iv_eval(expr: sp.Expr, x):
    """The interval extension of ``expr`` (a sympy expression in u) at the interval ``x``: an
    ``mpmath.iv`` interval that contains expr(t) for every t in x (outward rounding throughout).
    Raises :class:`UndefinedError` where the expression is proven not real-valued on all of x, and
    ValueError where no finite enclosure could be computed (unsupported, overflow, a pole inside x)."""
    memo: dict = {}

    def ev(e):
        if e in memo:
            return memo[e]
        if e == u:
            r = x
        elif e.is_number and (e.is_Rational or e in (sp.E, sp.pi)):
            r = _iv_number(e)
        elif e.is_Add:
            r = ev(e.args[0])
            for a in e.args[1:]:
                r = r + ev(a)
        elif e.is_Mul:
            r = ev(e.args[0])
            for a in e.args[1:]:
                r = r * ev(a)
        elif e.is_Pow:
            r = _iv_pow(ev(e.base), e.exp, ev(e.exp))
        elif isinstance(e, sp.exp):
            r = iv.exp(ev(e.args[0]))
        elif isinstance(e, sp.log):
            a = ev(e.args[0])
            if a.b <= 0:
                raise _Undefined("log of a non-positive number")
            if a.a <= 0:
                raise _Unsupported("log of an interval containing non-positive numbers")
            r = iv.log(a)
        elif isinstance(e, sp.sin):
            r = iv.sin(ev(e.args[0]))
        elif isinstance(e, sp.cos):
            r = iv.cos(ev(e.args[0]))
        elif isinstance(e, sp.Abs):
            a = ev(e.args[0])
            lo = 0 if a.a <= 0 <= a.b else min(abs(a.a), abs(a.b))
            r = iv.mpf([lo, max(abs(a.a), abs(a.b))])
        elif isinstance(e, sp.tanh):
            r = 1 - 2 / (iv.exp(2 * ev(e.args[0])) + 1)        # one occurrence of the argument
        elif isinstance(e, sp.sinh):
            a = ev(e.args[0])
            r = (iv.exp(a) - iv.exp(-a)) / 2
        elif isinstance(e, sp.cosh):
            a = ev(e.args[0])
            r = (iv.exp(a) + iv.exp(-a)) / 2
        else:
            raise _Unsupported(type(e).__name__)
        if not (abs(r.a) <= MAX_MAGNITUDE and abs(r.b) <= MAX_MAGNITUDE):
            raise _Unsupported("overflow (an intermediate value beyond 1e300)")
        memo[e] = r
        return r

    try:
        r = ev(expr)
    except _Undefined as exc:
        raise UndefinedError(str(exc)) from None
    except _Unsupported as exc:
        raise ValueError(str(exc)) from None
    except (ZeroDivisionError, mpmath.libmp.libmpf.ComplexResult) as exc:
        raise ValueError(str(exc)) from None
    if not (mpmath.isfinite(r.a) and mpmath.isfinite(r.b)):
        raise ValueError("unbounded")
    return r


# -- Assumption A -------------------------------------------------------------------------------------

@dataclass
class AssumptionA:
    """The outcome of :func:`assumption_a` on [-U, U].

    holds: True (proven), False (disproven: ``witness`` has l'(witness) >= 0, or l is not defined
    there) or None (undecided); M0, M1: proven upper bounds of sup|l''| and sup|l'| (None when not
    bounded or undecided); method "symbolic" or "interval"; details: how it was decided.
    """

    holds: bool | None
    M0: float | None
    M1: float | None
    U: float
    witness: str | None
    method: str
    details: dict = field(default_factory=dict)


def _upper(x) -> float:
    """A float >= the exact real x >= 0 (a sympy number, evaluated to 40 digits with a relative margin
    of 1e-30, or an mpmath number taken as exact)."""
    with mpmath.workprec(140):
        if isinstance(x, sp.Basic):
            if x.is_Rational:
                val = mpmath.mpf(int(x.p)) / int(x.q)
            else:
                val = mpmath.mpf(str(sp.N(x, 40)))
                val += abs(val) * mpmath.mpf("1e-30")
        else:
            val = mpmath.mpf(x)
        f = float(val)
        return f if mpmath.mpf(f) >= val else math.nextafter(f, math.inf)


def _degree_bound(e: sp.Expr) -> int:
    """An upper bound of the degree in u of a polynomial expression, without expanding it."""
    if e == u:
        return 1
    if e.is_Add:
        return max(_degree_bound(a) for a in e.args)
    if e.is_Mul:
        return sum(_degree_bound(a) for a in e.args)
    if e.is_Pow and e.exp.is_Integer and e.exp >= 0:
        return _degree_bound(e.base) * int(e.exp)
    return 0 if u not in e.free_symbols else 10 ** 9


def _assumption_symbolic(expr, U: Fraction) -> AssumptionA | None:
    """Exact decision when l' is a polynomial in u (of degree <= MAX_SYMBOLIC_DEGREE): the extrema of l' and l'' on [-U, U] lie at the
    endpoints or at real roots of l'' and l''' (isolated exactly); None when l' is no such polynomial or
    a sign cannot be decided exactly."""
    d1 = sp.diff(expr, u)
    if not d1.is_polynomial(u) or _degree_bound(d1) > MAX_SYMBOLIC_DEGREE:
        return None
    p1 = sp.Poly(d1, u)
    if not all(c.is_Rational for c in p1.all_coeffs()):
        return None
    p2, p3 = p1.diff(u), p1.diff(u).diff(u)
    lo, hi = sp.Rational(-U.numerator, U.denominator), sp.Rational(U.numerator, U.denominator)

    def crit(p):
        pts = {lo, hi}
        if not p.is_zero and p.degree() > 0:
            for r in sp.real_roots(p):
                if bool(lo <= r) and bool(r <= hi):
                    pts.add(r)
        return pts

    pts1 = crit(p2)
    vals1 = {r: p1.as_expr().subs(u, r) for r in pts1}
    sup_d1 = max(vals1.values(), key=lambda v: sp.N(v, 50))
    inf_d1 = min(vals1.values(), key=lambda v: sp.N(v, 50))
    vals2 = [p2.as_expr().subs(u, r) for r in crit(p3)]
    M1 = max(abs(sup_d1), abs(inf_d1), key=lambda v: sp.N(v, 50))
    M0 = max([abs(v) for v in vals2], key=lambda v: sp.N(v, 50))
    # a polynomial l' <= 0 that is not identically 0 vanishes at finitely many points: l is strictly decreasing.
    # The signs are decided exactly (sympy compares algebraic numbers by refining isolating intervals);
    # where sympy cannot decide, the interval method takes over.
    try:
        positive = [r for r, v in vals1.items() if bool(v > 0)]
    except TypeError:
        return None
    holds = not positive and not p1.is_zero
    witness = None
    if positive:
        arg = min(positive, key=lambda r: 0 if r.is_Rational else 1)      # a rational witness when there is one
        sup_d1 = vals1[arg]
        witness = str(arg) if arg.is_Rational else f"{sp.N(arg, 20)} (root of {p2.as_expr()})"
    details = {}
    if witness is not None:
        details["reason"] = f"l'({witness}) = {sp.N(sup_d1, 12)} > 0: l increases near the witness"
    return AssumptionA(holds=holds, M0=_upper(M0), M1=_upper(M1), U=float(U), witness=witness, method="symbolic",
                       details={**details, "l_prime": str(d1), "sup_l_prime": str(sp.N(sup_d1, 20)),
                                "M0_exact": str(M0), "M1_exact": str(M1),
                                "argument": "l' is a polynomial: extrema at the endpoints and the real roots of "
                                            "l'' and l''' (exact real-root isolation)"})


def _assumption_interval(expr, U: Fraction, pieces: int, max_evals: int, dps: int) -> AssumptionA:
    """Interval arithmetic on an adaptive subdivision of [-U, U] (see module docstring)."""
    d1 = sp.diff(expr, u)
    d2 = sp.diff(d1, u)
    saved = iv.prec
    iv.prec = int(dps * 3.33) + 10
    try:
        with mpmath.workprec(iv.prec):
            return _interval_search(expr, d1, d2, U, pieces, max_evals)
    finally:
        iv.prec = saved


def _abs_hi(x) -> mpmath.mpf:
    """max |t| over the interval x, as an exact mpf (an upper bound of |f| where x encloses f)."""
    lo, hi = mpmath.mp.make_mpf(x._mpi_[0]), mpmath.mp.make_mpf(x._mpi_[1])
    return max(abs(lo), abs(hi))


def _tighten(expr, pieces: list, budget: int) -> mpmath.mpf:
    """sup |expr| over the union of ``pieces`` [(a, b, bound)], bisecting the piece with the largest bound
    while ``budget`` evaluations last; the result is the largest bound of the final cover (an upper bound)."""
    heap = [(-bound, a, b) for a, b, bound in pieces]
    heapq.heapify(heap)
    for _ in range(budget // 2):
        neg, a, b = heap[0]
        mid = (a + b) / 2
        try:
            left, right = _abs_hi(iv_eval(expr, iv.mpf([a, mid]))), _abs_hi(iv_eval(expr, iv.mpf([mid, b])))
        except ValueError:
            break
        heapq.heapreplace(heap, (-left, a, mid))
        heapq.heappush(heap, (-right, mid, b))
    return -heap[0][0]


def _interval_search(expr, d1, d2, U: Fraction, pieces: int, max_evals: int) -> AssumptionA:
    lo_u, hi_u = iv.mpf(-U.numerator) / U.denominator, iv.mpf(U.numerator) / U.denominator
    a0, b0 = mpmath.mp.make_mpf(lo_u._mpi_[0]), mpmath.mp.make_mpf(hi_u._mpi_[1])
    if U == 0:
        queue = [(a0, b0)]
    else:
        step = (b0 - a0) / pieces
        cuts = [a0] + [a0 + k * step for k in range(1, pieces)] + [b0]
        queue = list(zip(cuts[:-1], cuts[1:]))
    accepted = []          # (a, b, sup|l'| bound, sup|l''| bound) of the pieces where l' < 0 is proven
    sup_d1 = None
    evals = 0
    undecided = []
    deadline = time.perf_counter() + TIME_BUDGET
    while queue:
        if time.perf_counter() > deadline:
            return AssumptionA(holds=None, M0=None, M1=None, U=float(U), witness=None, method="interval",
                               details={"evaluations": evals, "reason": f"interval search stopped after "
                                                                        f"{TIME_BUDGET:g} s: undecided"})
        a, b = queue.pop()
        box = iv.mpf([a, b])
        evals += 1
        try:
            iv_eval(expr, box)
            g1 = iv_eval(d1, box)
            g2 = iv_eval(d2, box)
        except ValueError as exc:
            g1 = g2 = None
            reason = str(exc)
        if g1 is not None and g1.b < 0:
            accepted.append((a, b, _abs_hi(g1), _abs_hi(g2)))
            hi = mpmath.mp.make_mpf(g1._mpi_[1])
            sup_d1 = hi if sup_d1 is None else max(sup_d1, hi)
            continue
        # l' may reach 0 here: look for a point witness, else split
        mid = (a + b) / 2
        for point in (mid, a, b):
            try:
                val = iv_eval(d1, iv.mpf(point))
            except ValueError:
                try:
                    iv_eval(expr, iv.mpf(point))
                except UndefinedError:
                    return AssumptionA(holds=False, M0=None, M1=None, U=float(U), witness=mpmath.nstr(point, 20),
                                       method="interval",
                                       details={"reason": f"l is not defined (or not real) at u = "
                                                          f"{mpmath.nstr(point, 20)}"})
                except ValueError:
                    pass
                continue
            if val.a > 0:
                return AssumptionA(holds=False, M0=None, M1=None, U=float(U), witness=mpmath.nstr(point, 20),
                                   method="interval",
                                   details={"l_prime_at_witness": [mpmath.nstr(val.a, 15), mpmath.nstr(val.b, 15)],
                                            "reason": "l'(witness) > 0 (interval-proven): l increases near the "
                                                      "witness, so it is not strictly decreasing on [-U, U]"})
        if evals >= max_evals or b - a <= mpmath.mpf(2) ** (-40) * max(1, b0 - a0):
            undecided.append((mpmath.nstr(a, 10), mpmath.nstr(b, 10), "l' may vanish" if g1 is not None else reason))
            continue
        queue.extend([(a, mid), (mid, b)])
    if undecided:
        return AssumptionA(holds=None, M0=None, M1=None, U=float(U), witness=None, method="interval",
                           details={"undecided": undecided[:5], "evaluations": evals,
                                    "reason": "interval arithmetic could not decide the sign or bound of l' "
                                              "on some sub-intervals"})
    refine = max(0, min(REFINE_EVALS, max_evals - evals))
    m1 = _tighten(d1, [(a, b, m) for a, b, m, _ in accepted], refine)
    m0 = _tighten(d2, [(a, b, m) for a, b, _, m in accepted], refine)
    return AssumptionA(holds=True, M0=_upper(m0), M1=_upper(m1), U=float(U), witness=None, method="interval",
                       details={"sup_l_prime_upper": mpmath.nstr(sup_d1, 6), "evaluations": evals + 2 * refine,
                                "precision_bits": iv.prec,
                                "argument": "outward-rounded interval enclosures of l, l', l'' on a subdivision "
                                            "of [-U, U], refined where the bounds of |l'| and |l''| are largest"})


def assumption_a(expr: sp.Expr, U, pieces: int = 256, max_evals: int = 4000, dps: int = 30) -> AssumptionA:
    """Decide Assumption A for the loss ``expr`` (sympy, in u) on [-U, U] (U >= 0, any exact or float
    number): l' < 0 there (so l is strictly decreasing), M1 >= sup |l'|, M0 >= sup |l''| (the Lipschitz
    constant of l'). Symbolic when l' is a polynomial, interval arithmetic otherwise.

    >>> r = assumption_a(parse_loss("(1 - u)**2"), 2)
    >>> r.holds, r.witness, r.method
    (False, '2', 'symbolic')
    """
    Uf = Fraction(U) if not isinstance(U, Fraction) else U
    Uf = abs(Uf)
    sym = _assumption_symbolic(expr, Uf)
    if sym is not None:
        return sym
    return _assumption_interval(expr, Uf, pieces, max_evals, dps)
