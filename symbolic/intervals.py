"""Interval arithmetic on the whole real line, for elementary expressions in one variable.

:func:`iv_eval` is the interval extension of a sympy expression built from numbers, ``+ * **``,
exp, log, sqrt (a power 1/2), sin, cos, sinh, cosh, tanh, Abs and sign: an ``mpmath.iv`` interval
that contains expr(t) for every t of the argument interval, computed with outward rounding.
Argument intervals and results may have infinite end points ([B, +inf] is a valid box), so a
whole tail of the real line is one box. Numbers beyond the range where mpmath stays fast are
widened outward (to +-inf, or to the largest kept magnitude), which keeps every enclosure valid:
an overflow only loses information, it never gives a wrong bound.

:func:`prove_sign` proves a sign condition f <= 0, f < 0, f >= 0 or f > 0 on an interval that may
be unbounded, or finds a point where the condition is violated (a witness), or reports what it could
not decide. Bounded parts are covered by an adaptive subdivision. An unbounded tail [B, +inf) is
decided by one of:

- the enclosure of f on the whole tail box;
- monotonicity from the end point: f(B) <= 0 and f' <= 0 on [B, +inf) give f <= 0 there (on a left
  tail (-inf, A]: f(A) <= 0 and f' >= 0), with the derivative's sign proven recursively;
- monotonicity towards the limit: f' >= 0 on [B, +inf) and lim_{u -> +inf} f(u) = L <= 0 give
  f <= L <= 0 there (L from sympy's ``limit``, the Gruntz algorithm, which is exact symbolic
  computation; used only for small expressions);
- else the tail is split: [B, 4B] joins the bounded cover and [4B, +inf) is tried again, up to
  |B| = 2^64; beyond that the tail is undecided.

Several algebraically equal forms of f may be given: each box's enclosure is the intersection of
theirs, which fights the dependency problem (e^u/(e^u + 1) - 1 encloses badly, -1/(e^u + 1) well).
Budgets are evaluation counts, never seconds.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import mpmath
import mpmath.libmp as lm
import mpmath.libmp.libmpi as mpi
import sympy as sp
from mpmath import iv

EXP_MAX_ARG = 2 ** 22        # exp(x) for x beyond this is widened to +inf (or bounded below by exp(2^22))
MAX_MAGNITUDE_BITS = 2 ** 23  # end points beyond 2^(2^23) in magnitude are widened outward
TRIG_MAX_ARG = 2 ** 50       # sin/cos beyond this magnitude: [-1, 1]
TAIL_MAX = mpmath.mpf(2) ** 64  # unbounded tails are split up to this magnitude
LIMIT_MAX_OPS = 50           # sympy limits only for expressions this small (count_ops)
INF = mpmath.inf
MAX_TAIL_DEPTH = 2          # derivatives used by the monotonicity arguments on tails: f' and f''


class UndefinedError(ValueError):
    """The expression is proven not to be a real number at every point of the interval (for example
    log of an interval of negative numbers, or a division by the interval [0, 0])."""


class _Unsupported(Exception):
    pass


class _Undefined(_Unsupported):
    pass


def _lo(x) -> mpmath.mpf:
    return mpmath.mp.make_mpf(x._mpi_[0])


def _hi(x) -> mpmath.mpf:
    return mpmath.mp.make_mpf(x._mpi_[1])


def interval(lo, hi):
    """The mpmath.iv interval [lo, hi] (end points mpf, int, '+inf' or '-inf')."""
    if isinstance(lo, mpmath.mpf) and isinstance(hi, mpmath.mpf):
        return iv.make_mpf((lo._mpf_, hi._mpf_))
    return iv.mpf([lo, hi])


# -- the evaluator: sympy expression -> a list of operations on raw (lo, hi) mpf tuples (mpmath.libmp) --

_FLOOR, _CEIL = lm.round_floor, lm.round_ceiling
_EXP_MAX = lm.from_int(EXP_MAX_ARG)
_NEG_EXP_MAX = lm.from_int(-EXP_MAX_ARG)
_TRIG_MAX_BITS = 50
_ONE = (lm.fone, lm.fone)


def _finite(v) -> bool:
    return v not in (lm.finf, lm.fninf, lm.fnan)


def _mag_big(v) -> bool:
    return _finite(v) and v != lm.fzero and v[2] + v[3] > MAX_MAGNITUDE_BITS


def _clampt(s):
    a, b = s
    if a == lm.fnan or b == lm.fnan:
        raise _Unsupported("an indeterminate form (0 * inf or inf - inf)")
    if _mag_big(a):
        a = lm.fninf if a[0] else lm.from_man_exp(1, MAX_MAGNITUDE_BITS)
    if _mag_big(b):
        b = lm.finf if not b[0] else lm.mpf_neg(lm.from_man_exp(1, MAX_MAGNITUDE_BITS))
    return a, b


def _exp_end(v, prec, rnd):
    if v == lm.finf or lm.mpf_gt(v, _EXP_MAX):
        return lm.finf if rnd == _CEIL else lm.mpf_exp(_EXP_MAX, prec, _FLOOR)
    if v == lm.fninf or lm.mpf_lt(v, _NEG_EXP_MAX):
        return lm.fzero if rnd == _FLOOR else lm.mpf_exp(_NEG_EXP_MAX, prec, _CEIL)
    return lm.mpf_exp(v, prec, rnd)


def _t_exp(s, prec):
    return _exp_end(s[0], prec, _FLOOR), _exp_end(s[1], prec, _CEIL)


def _log_end(v, prec, rnd):
    if v == lm.fzero:
        return lm.fninf
    if v == lm.finf:
        return lm.finf
    return lm.mpf_log(v, prec, rnd)


def _t_log(s, prec):
    a, b = s
    if lm.mpf_sign(b) <= 0:
        raise _Undefined("log of a non-positive number")
    if lm.mpf_sign(a) < 0:
        raise _Unsupported("log of an interval containing non-positive numbers")
    return _log_end(a, prec, _FLOOR), _log_end(b, prec, _CEIL)


def _t_trig(s, prec, which):
    a, b = s
    if not (_finite(a) and _finite(b)) or any(v != lm.fzero and v[2] + v[3] > _TRIG_MAX_BITS for v in (a, b)) or \
            lm.mpf_ge(lm.mpf_sub(b, a, 20, _FLOOR), lm.from_int(7)):
        return lm.fnone, lm.fone
    c, sn = mpi.mpi_cos_sin(s, prec)
    return c if which == "cos" else sn


def _point(v):
    return v, v


def _t_monotone(s, prec, at):
    """An increasing function given by ``at(point interval) -> interval``, infinite ends by at(None, sign)."""
    a, b = s
    return at(a, prec)[0], at(b, prec)[1]


def _tanh_at(v, prec):
    if v == lm.finf:
        return _ONE
    if v == lm.fninf:
        return lm.fnone, lm.fnone
    e = _t_exp(mpi.mpi_shift(_point(v), 1), prec)                       # e^{2t}
    r = mpi.mpi_sub(_ONE, mpi.mpi_div((lm.from_int(2), lm.from_int(2)), mpi.mpi_add(e, _ONE, prec), prec), prec)
    return _maxf(r[0], lm.fnone), _minf(r[1], lm.fone)


def _maxf(x, y):
    return x if lm.mpf_ge(x, y) else y


def _minf(x, y):
    return x if lm.mpf_le(x, y) else y


def _sinh_at(v, prec):
    if not _finite(v):
        return v, v
    p = _point(v)
    return mpi.mpi_shift(mpi.mpi_sub(_t_exp(p, prec), _t_exp(mpi.mpi_neg(p), prec), prec), -1)


def _cosh_at(v, prec):
    if not _finite(v):
        return lm.finf, lm.finf
    p = _point(v)
    return mpi.mpi_shift(mpi.mpi_add(_t_exp(p, prec), _t_exp(mpi.mpi_neg(p), prec), prec), -1)


def _t_cosh(s, prec):
    a, b = s
    if lm.mpf_sign(a) <= 0 <= lm.mpf_sign(b):
        return lm.fone, _maxf(_cosh_at(a, prec)[1], _cosh_at(b, prec)[1])
    if lm.mpf_sign(a) > 0:
        return _cosh_at(a, prec)[0], _cosh_at(b, prec)[1]
    return _cosh_at(b, prec)[0], _cosh_at(a, prec)[1]


def _t_sign(s, prec):
    return tuple(lm.from_int(lm.mpf_sign(v)) for v in s)


def _clip(s):
    a, b = s
    if lm.mpf_sign(a) >= 0:
        return s
    if lm.mpf_sign(b) < 0:
        raise _Unsupported("a quantity known to be >= 0 is enclosed below 0 (the box leaves its region)")
    return lm.fzero, b


def _t_pow_int(s, n, prec):
    if n >= 0:
        return mpi.mpi_pow_int(s, n, prec)
    a, b = s
    sa, sb = lm.mpf_sign(a), lm.mpf_sign(b)
    if sa == 0 and sb == 0:
        raise _Undefined("division by zero")
    if sa <= 0 <= sb:
        raise _Unsupported("division by an interval containing 0")
    return mpi.mpi_div(_ONE, mpi.mpi_pow_int(s, -n, prec + 20), prec)


def _t_pow_pos(s, e, prec):
    """base**e for a constant e > 0 (not an integer) and a base >= 0: increasing in the base."""
    a, b = s
    if lm.mpf_sign(b) < 0:
        raise _Undefined("a non-integer power of a negative number")
    if lm.mpf_sign(a) < 0:
        raise _Unsupported("a non-integer power of an interval containing negative numbers")

    def at(v, side):
        if v == lm.fzero:
            return lm.fzero
        if v == lm.finf:
            return lm.finf
        r = _t_exp(mpi.mpi_mul(e, (_log_end(v, prec, _FLOOR), _log_end(v, prec, _CEIL)), prec), prec)
        return r[side]
    return at(a, 0), at(b, 1)


def _t_pow_gen(s, e, prec):
    """base**e = exp(e log base) for a base > 0."""
    a, b = s
    if lm.mpf_sign(b) <= 0:
        raise _Undefined("a non-integer or variable power of a non-positive number"
                         if lm.mpf_sign(b) < 0 else "a negative power of 0")
    if lm.mpf_sign(a) <= 0:
        raise _Unsupported("a negative or variable power of an interval containing 0")
    return _t_exp(mpi.mpi_mul(e, _t_log(s, prec), prec), prec)


def _const(e: sp.Expr, prec: int):
    if e.is_Rational:
        return mpi.mpi_div(_point(lm.from_int(int(e.p))), _point(lm.from_int(int(e.q))), prec)
    if e is sp.E:
        return lm.mpf_e(prec, _FLOOR), lm.mpf_e(prec, _CEIL)
    if e is sp.pi:
        return lm.mpf_pi(prec, _FLOOR), lm.mpf_pi(prec, _CEIL)
    return None


_UNARY = {sp.exp: _t_exp, sp.log: _t_log, sp.Abs: lambda s, p: mpi.mpi_abs(s, p), sp.sign: _t_sign,
          sp.sin: lambda s, p: _t_trig(s, p, "sin"), sp.cos: lambda s, p: _t_trig(s, p, "cos"),
          sp.tanh: lambda s, p: _t_monotone(s, p, _tanh_at), sp.sinh: lambda s, p: _t_monotone(s, p, _sinh_at),
          sp.cosh: _t_cosh}


class _Program:
    """A sympy expression compiled to a straight-line list of interval operations on raw (lo, hi) tuples
    of mpmath.libmp numbers (each shared subexpression once)."""

    def __init__(self, expr: sp.Expr, var: sp.Symbol, clip: frozenset, prec: int):
        self.prec = prec
        self.ops = []
        self.index: dict = {}
        self.var = var
        self.clip = clip
        self.root = self._compile(expr)

    def _emit(self, op):
        self.ops.append(op)
        return len(self.ops) - 1

    def _compile(self, e):
        if e in self.index:
            return self.index[e]
        if e == self.var:
            k = self._emit(("var",))
        elif e.is_Atom and self.var not in e.free_symbols:
            c = _const(e, self.prec)
            if c is None:
                raise _Unsupported(f"constant {e}")
            k = self._emit(("const", c))
        elif e.is_Add or e.is_Mul:
            args = [self._compile(a) for a in e.args]
            k = self._emit(("add" if e.is_Add else "mul", args))
        elif e.is_Pow:
            b = self._compile(e.base)
            clip = e.base in self.clip
            x = e.exp
            if x.is_Integer:
                k = self._emit(("powi", b, int(x), clip))
            elif x.is_number and x.is_positive:
                k = self._emit(("powp", b, self._compile(x), clip))
            else:
                k = self._emit(("powg", b, self._compile(x), clip))
        elif type(e) in _UNARY:
            a = self._compile(e.args[0])
            k = self._emit(("fn", _UNARY[type(e)], a, isinstance(e, sp.log) and e.args[0] in self.clip))
        else:
            raise _Unsupported(type(e).__name__)
        self.index[e] = k
        return k

    def run(self, x):
        prec = self.prec
        vals = []
        for op in self.ops:
            kind = op[0]
            if kind == "var":
                r = x
            elif kind == "const":
                r = op[1]
            elif kind == "add":
                r = vals[op[1][0]]
                for j in op[1][1:]:
                    r = mpi.mpi_add(r, vals[j], prec)
            elif kind == "mul":
                r = vals[op[1][0]]
                for j in op[1][1:]:
                    r = mpi.mpi_mul(r, vals[j], prec)
            elif kind == "powi":
                base = _clip(vals[op[1]]) if op[3] else vals[op[1]]
                r = _t_pow_int(base, op[2], prec)
            elif kind == "powp":
                base = _clip(vals[op[1]]) if op[3] else vals[op[1]]
                r = _t_pow_pos(base, vals[op[2]], prec)
            elif kind == "powg":
                base = _clip(vals[op[1]]) if op[3] else vals[op[1]]
                r = _t_pow_gen(base, vals[op[2]], prec)
            else:
                arg = _clip(vals[op[2]]) if op[3] else vals[op[2]]
                r = op[1](arg, prec)
            vals.append(_clampt(r))
        return vals[self.root]


_PROGRAMS: dict = {}


def _program(expr, var, clip, prec) -> _Program:
    key = (expr, var, clip, prec)
    prog = _PROGRAMS.get(key)
    if prog is None:
        if len(_PROGRAMS) > 2000:
            _PROGRAMS.clear()
        prog = _PROGRAMS[key] = _Program(expr, var, clip, prec)
    return prog


def iv_eval(expr: sp.Expr, x, var: sp.Symbol, clip=frozenset()):
    """The interval extension of ``expr`` (a sympy expression in ``var``) at the interval ``x``:
    an ``mpmath.iv`` interval containing expr(t) for every real t in x where expr is defined (outward
    rounding throughout, at the precision ``iv.prec``; x and the result may have infinite end points).

    ``clip``: subexpressions known to be >= 0 at every point of interest; their enclosures are
    intersected with [0, +inf] before a power or log is taken (sound for those points only).

    Raises :class:`UndefinedError` where the expression is proven not to be real at every point of x,
    ValueError where no enclosure could be computed (a pole inside x, an unsupported function).
    """
    try:
        prog = _program(expr, var, frozenset(clip), iv.prec)
        r = prog.run(x._mpi_)
    except _Undefined as exc:
        raise UndefinedError(str(exc)) from None
    except _Unsupported as exc:
        raise ValueError(str(exc)) from None
    except (ZeroDivisionError, mpmath.libmp.libmpf.ComplexResult) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
    return iv.make_mpf(r)


def enclose(forms, x, var, clip=frozenset(), enough=None):
    """The intersection of the enclosures of several equal ``forms`` on x (the first one is the expression
    as given); UndefinedError when that one is proven undefined on all of x, ValueError when no form
    gives an enclosure. ``enough(interval) -> bool``: stop at the first partial intersection that satisfies it
    (the remaining forms could only narrow it further)."""
    best = None
    why = "no form"
    for j, f in enumerate(forms):
        try:
            r = iv_eval(f, x, var, clip)
        except UndefinedError as exc:
            if j == 0:                  # only the expression as given decides where it is undefined
                raise
            why = str(exc)
            continue
        except ValueError as exc:
            why = str(exc)
            continue
        if best is None:
            best = r
        else:
            lo, hi = max(_lo(best), _lo(r)), min(_hi(best), _hi(r))
            if lo <= hi:
                best = interval(lo, hi)
        if enough is not None and enough(best):
            break
    if best is None:
        raise ValueError(why)
    return best


class Forms:
    """Equal forms of f and of its derivatives (computed lazily): as given, ``together``, ``powsimp``
    and, for small expressions, ``factor`` and (polynomials) ``horner`` (sympy identities, valid wherever
    the given form is defined);
    the enclosure of each box is the intersection over the forms."""

    MAX_FACTOR_OPS = 150

    def __init__(self, expr: sp.Expr, var: sp.Symbol):
        self.var = var
        self._exprs = [expr]
        self._forms: dict = {}

    def expr(self, k: int = 0) -> sp.Expr:
        while len(self._exprs) <= k:
            self._exprs.append(sp.diff(self._exprs[-1], self.var))
        return self._exprs[k]

    def forms(self, k: int = 0) -> list:
        if k not in self._forms:
            e = self.expr(k)
            out = [e]
            for make in (sp.together, sp.powsimp, sp.factor, sp.horner):
                if make in (sp.factor, sp.horner) and sp.count_ops(e) > self.MAX_FACTOR_OPS:
                    continue
                if make is sp.horner and not e.is_polynomial(self.var):
                    continue
                try:
                    g = make(e)
                except Exception:           # sympy may refuse a form; the others still count
                    continue
                if g not in out and g.is_finite is not False:
                    out.append(g)
            self._forms[k] = out
        return self._forms[k]


RELATIONS = ("<=0", "<0", ">=0", ">0")
PROBES = (0, 1, -1, 2, -2, 0.5, -0.5, 4, -4, 8, -8)


def _holds(rel: str, x) -> bool:
    lo, hi = _lo(x), _hi(x)
    return {"<=0": hi <= 0, "<0": hi < 0, ">=0": lo >= 0, ">0": lo > 0}[rel]


def _violated(rel: str, x) -> bool:
    """The enclosure proves the negation of ``rel`` at a point."""
    lo, hi = _lo(x), _hi(x)
    return {"<=0": lo > 0, "<0": lo >= 0, ">=0": hi < 0, ">0": hi <= 0}[rel]


_NEGATION = {"<=0": ">0", "<0": ">=0", ">=0": "<0", ">0": "<=0"}     # a point enclosure proving it violates rel


def _opposite(rel: str) -> str:
    return {"<=0": ">=0", "<0": ">=0", ">=0": "<=0", ">0": "<=0"}[rel]


def _weak(rel: str) -> str:
    return {"<=0": "<=0", "<0": "<=0", ">=0": ">=0", ">0": ">=0"}[rel]


@dataclass
class SignProof:
    """The outcome of :func:`prove_sign`.

    status: "proven" (the relation holds on the whole interval), "violated" (``witness`` is a point of
    the interval where the negation is proven, ``value`` its enclosure; or where f is undefined:
    ``undefined`` True) or "undecided" (``undecided`` lists the boxes left, with why).
    strict_point: a point where f < 0 (or > 0) was proven, with its enclosure, when one was seen.
    tails: how each unbounded end was decided. evaluations: interval evaluations spent.
    """

    status: str
    relation: str
    witness: mpmath.mpf | None = None
    value: tuple | None = None
    undefined: bool = False
    strict_point: tuple | None = None
    boxes: int = 0
    evaluations: int = 0
    tails: list = field(default_factory=list)
    undecided: list = field(default_factory=list)


class _Prover:
    def __init__(self, forms: Forms, var, clip, inside, budget: int, depth: int):
        self.forms, self.var, self.clip, self.inside = forms, var, clip, inside
        self.budget, self.depth = budget, depth
        self.evals = 0
        self._limits: dict = {}

    def enc(self, k, x, rel=None):
        self.evals += 1
        return enclose(self.forms.forms(k), x, self.var, self.clip,
                       enough=None if rel is None else (lambda r: _holds(rel, r)))

    def point(self, k, t, rel=None):
        try:
            return self.enc(k, iv.mpf(t), rel), None
        except UndefinedError as exc:
            return None, str(exc)
        except ValueError as exc:
            return None, "?" + str(exc)

    def limit(self, k, side):
        key = (k, side)
        if key not in self._limits:
            L = None
            e = self.forms.expr(k)
            if sp.count_ops(e) <= LIMIT_MAX_OPS:
                try:
                    L = sp.limit(e, self.var, sp.oo if side > 0 else -sp.oo)
                except Exception:           # sympy gives up on some limits; then this argument is not used
                    L = None
                if L is not None and not (L.is_extended_real and (L.is_number or L.is_infinite)):
                    L = None
            self._limits[key] = L
        return self._limits[key]

    def prove(self, k, rel, lo, hi, pieces) -> SignProof:
        out = SignProof(status="proven", relation=rel)
        queue = deque()
        start_eval = self.evals
        fin_lo = lo if mpmath.isfinite(lo) else None
        fin_hi = hi if mpmath.isfinite(hi) else None
        # bounded middle [a, b] and unbounded tails
        if fin_lo is None and fin_hi is None:
            a, b = mpmath.mpf(-8), mpmath.mpf(8)
        elif fin_lo is None:
            a, b = min(fin_hi, 0) - 8, fin_hi
        elif fin_hi is None:
            a, b = fin_lo, max(fin_lo, 0) + 8
        else:
            a, b = fin_lo, fin_hi
        if fin_lo is None:
            queue.append(("tail", -1, a))
        if fin_hi is None:
            queue.append(("tail", 1, b))
        if b > a:
            step = (b - a) / pieces
            cuts = [a + j * step for j in range(pieces)] + [b]
            for c0, c1 in zip(cuts[:-1], cuts[1:]):
                queue.append(("box", c0, c1))
        else:
            queue.append(("box", a, b))
        # simple points first: a witness there reads better than one found by the subdivision
        for t in PROBES:
            t = mpmath.mpf(t)
            if lo <= t <= hi and self._witness(k, rel, t, out):
                out.status = "violated"
                out.evaluations = self.evals - start_eval
                return out
        while queue:
            item = queue.popleft()
            if self.evals - start_eval > self.budget:
                out.status = "undecided"
                out.undecided.append(self._describe(item, "evaluation budget spent"))
                out.undecided.extend(self._describe(it, "evaluation budget spent") for it in list(queue)[:4])
                break
            kind = item[0]
            if kind == "box":
                res = self._box(k, rel, item[1], item[2], out, queue)
            else:
                res = self._tail(k, rel, item[1], item[2], out, queue)
            if res == "violated":
                out.status = "violated"
                break
        out.evaluations = self.evals - start_eval
        if out.status == "proven" and out.undecided:
            out.status = "undecided"
        return out

    @staticmethod
    def _describe(item, why):
        if item[0] == "box":
            return (mpmath.nstr(item[1], 10), mpmath.nstr(item[2], 10), why)
        side, B = item[1], item[2]
        return ((mpmath.nstr(B, 10), "+inf") if side > 0 else ("-inf", mpmath.nstr(B, 10))) + (why,)

    def _note_strict(self, out, t, r):
        if out.strict_point is None and ((out.relation in ("<=0", "<0") and _hi(r) < 0) or
                                         (out.relation in (">=0", ">0") and _lo(r) > 0)):
            out.strict_point = (t, r)

    def _witness(self, k, rel, t, out) -> bool:
        if not self.inside(t):
            return False
        r, why = self.point(k, t, _NEGATION[rel])
        if r is None:
            if why is not None and not why.startswith("?"):
                out.witness, out.undefined, out.value = t, True, (why,)
                return True
            return False
        self._note_strict(out, t, r)
        if _violated(rel, r):
            out.witness, out.value = t, (_lo(r), _hi(r))
            return True
        return False

    def _box(self, k, rel, a, b, out, queue):
        out.boxes += 1
        try:
            r = self.enc(k, interval(a, b), rel)
        except UndefinedError:
            r = None
        except ValueError:
            r = None
        if r is not None and _holds(rel, r):
            if out.strict_point is None and self.inside((a + b) / 2):
                mid = (a + b) / 2
                if (rel in ("<=0", "<0") and _hi(r) < 0) or (rel in (">=0", ">0") and _lo(r) > 0):
                    out.strict_point = (mid, r)
            return "ok"
        mid = (a + b) / 2
        if self._witness(k, rel, mid, out):
            return "violated"
        if b - a <= mpmath.mpf(2) ** -40 * max(1, abs(a), abs(b)):
            out.undecided.append((mpmath.nstr(a, 15), mpmath.nstr(b, 15),
                                  "the enclosure is not sharp enough" if r is not None else "no enclosure"))
            return "ok"
        queue.appendleft(("box", mid, b))
        queue.appendleft(("box", a, mid))
        return "split"

    def _tail(self, k, rel, side, B, out, queue):
        box = interval(B, INF) if side > 0 else interval(-INF, B)
        out.boxes += 1
        where = "[%s, +inf)" % mpmath.nstr(B, 6) if side > 0 else "(-inf, %s]" % mpmath.nstr(B, 6)
        try:
            r = self.enc(k, box, rel)
        except ValueError:
            r = None
        if r is not None and _holds(rel, r):
            out.tails.append(f"{where}: enclosure {_fmt(r)}")
            return "ok"
        if self._witness(k, rel, B, out):
            return "violated"
        if self.depth < MAX_TAIL_DEPTH:
            how = self._tail_by_monotonicity(k, rel, side, B)
            if how:
                out.tails.append(f"{where}: {how}")
                return "ok"
        if abs(B) >= TAIL_MAX:
            out.undecided.append((where, "the tail could not be decided"))
            return "ok"
        B2 = 4 * B
        lo, hi = (B, B2) if side > 0 else (B2, B)
        queue.append(("tail", side, B2))
        steps = 16
        width = (hi - lo) / steps
        cuts = [lo + j * width for j in range(steps)] + [hi]      # shared end points: no gaps
        for c0, c1 in zip(cuts[:-1], cuts[1:]):
            queue.append(("box", c0, c1))
        return "split"

    def _sub(self, k, rel, side, B):
        sub = _Prover(self.forms, self.var, self.clip, lambda t: True, self.budget // 8, self.depth + 1)
        lo, hi = (B, INF) if side > 0 else (-INF, B)
        res = sub.prove(k, rel, lo, hi, pieces=8)
        self.evals += sub.evals
        return res

    def _tail_by_monotonicity(self, k, rel, side, B) -> str | None:
        # from the end point: f(B) satisfies rel and f moves the right way on the tail
        r, _ = self.point(k, B, rel)
        if r is not None and _holds(rel, r):
            drel = _weak(rel) if side > 0 else _opposite(rel)
            res = self._sub(k + 1, drel, side, B)
            if res.status == "proven":
                return (f"f({mpmath.nstr(B, 6)}) in {_fmt(r)} and f^({k + 1}) {drel[:-1]} 0 on the tail "
                        f"(monotone from the end point)")
        # towards the limit at infinity
        L = self.limit(k, side)
        if L is not None:
            try:
                ok = {"<=0": bool(L <= 0), "<0": bool(L < 0), ">=0": bool(L >= 0), ">0": bool(L > 0)}[rel]
            except TypeError:               # a comparison sympy cannot decide
                ok = False
            if ok:
                drel = _opposite(_weak(rel)) if side > 0 else _weak(rel)
                res = self._sub(k + 1, drel, side, B)
                if res.status == "proven":
                    return (f"lim f = {L} (sympy limit) and f^({k + 1}) {drel[:-1]} 0 on the tail "
                            f"(monotone towards the limit)")
        return None


def _fmt(r) -> str:
    return f"[{mpmath.nstr(_lo(r), 6)}, {mpmath.nstr(_hi(r), 6)}]"


_FLIP = {"pos": "neg", "neg": "pos", "nonneg": "nonpos", "nonpos": "nonneg", None: None}


def structural_sign(e: sp.Expr) -> str | None:
    """"pos", "nonneg", "neg" or "nonpos" when the sign of e at every real point where it is defined
    follows from its structure alone (exact rules: exp, cosh, e, pi and positive numbers are positive,
    even powers and Abs are >= 0, sums and products of signed terms), else None.

    >>> x = sp.Symbol("x", real=True)
    >>> structural_sign(1 / (1 + x**2)), structural_sign(-sp.exp(x) * (x**2 + sp.Abs(x))), structural_sign(x)
    ('pos', 'nonpos', None)
    """
    if e.is_number:
        if e.is_Rational or e in (sp.E, sp.pi):
            return "pos" if e > 0 else ("neg" if e < 0 else "nonneg")
    if isinstance(e, (sp.exp, sp.cosh)):
        return "pos"
    if isinstance(e, sp.Abs):
        inner = structural_sign(e.args[0])
        return "pos" if inner in ("pos", "neg") else "nonneg"
    if e.is_Pow:
        b = structural_sign(e.base)
        if b == "pos":
            return "pos"
        if e.exp.is_Integer and int(e.exp) % 2 == 0:
            return "pos" if b in ("neg",) else "nonneg"
        if e.exp.is_Integer:
            return b if int(e.exp) > 0 or b in ("pos", "neg") else None
        if b == "nonneg" and e.exp.is_positive:
            return "nonneg"
        return None
    if e.is_Mul:
        sign, strict = 1, True
        for a in e.args:
            s = structural_sign(a)
            if s is None:
                return None
            sign *= -1 if s in ("neg", "nonpos") else 1
            strict &= s in ("pos", "neg")
        return ("pos" if strict else "nonneg") if sign > 0 else ("neg" if strict else "nonpos")
    if e.is_Add:
        signs = [structural_sign(a) for a in e.args]
        if all(s in ("pos", "nonneg") for s in signs):
            return "pos" if "pos" in signs else "nonneg"
        if all(s in ("neg", "nonpos") for s in signs):
            return "neg" if "neg" in signs else "nonpos"
    return None


_SETTLES = {"<=0": ("neg", "nonpos"), "<0": ("neg",), ">=0": ("pos", "nonneg"), ">0": ("pos",)}


def prove_sign(expr: sp.Expr, var: sp.Symbol, relation: str, lo=-INF, hi=INF, *, forms: Forms | None = None,
               clip=frozenset(), inside=None, budget: int = 2000, pieces: int = 16) -> SignProof:
    """Prove ``expr relation`` (relation one of "<=0", "<0", ">=0", ">0") for every real ``var`` in
    [lo, hi] (end points mpf, possibly infinite), or find a witness, by interval arithmetic: see the
    module docstring for the covering of bounded parts and the arguments for unbounded tails.

    ``inside(t)``: whether a point may serve as a witness (default: every point of [lo, hi]); a caller
    whose box reaches slightly beyond the region of interest passes the region's test. ``budget``:
    interval evaluations before giving up (the result is then "undecided").

    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> prove_sign(sp.cos(x) - 1, x, "<=0").status
    'proven'
    >>> r = prove_sign(2 * sp.cos(x) - 1, x, "<=0"); r.status, float(2 * mpmath.cos(r.witness) - 1) > 0
    ('violated', True)
    """
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {RELATIONS}")
    forms = forms or Forms(expr, var)
    lo, hi = mpmath.mpf(lo), mpmath.mpf(hi)
    for f in forms.forms(0):
        if structural_sign(f) in _SETTLES[relation]:
            return SignProof(status="proven", relation=relation, tails=[f"sign rules: {f} is {structural_sign(f)} "
                                                                        f"wherever it is defined"])
    inside = inside or (lambda t: lo <= t <= hi)
    prover = _Prover(forms, var, frozenset(clip), inside, budget, 0)
    return prover.prove(0, relation, lo, hi, pieces)
