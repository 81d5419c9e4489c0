"""Assumption A of the first paper, decided on the whole real line, for a loss given as a sympy expression.

The statement: over any bounded interval, (i) l : R -> R is strictly decreasing, (ii) l' is
M0-Lipschitz and |l'| <= M1. Since every bounded interval counts, this says: l is defined and real on
all of R, strictly decreasing on R, differentiable on R, and l' is Lipschitz and bounded on every
bounded interval. :func:`assumption_a` decides it with one of three outcomes: holds (a proof), fails
(a witness u and the reason), undecided (what was tried).

The argument, step by step.

1. Domain. Every node of the expression that restricts the real domain gives a condition on its
   argument g, required at every real u: log(g): g > 0; g**(-n) for an integer n > 0: g != 0;
   g**r with r not an integer: g >= 0 (r > 0) or g > 0 (r < 0); g**h with h depending on u (defined as
   exp(h log g)): g > 0. Abs(g) is defined everywhere but has kinks at the zeros of g. Each condition
   is decided exactly when g is built from rational functions of u with rational coefficients through
   products, powers and Abs (its zeros and poles are real algebraic numbers, isolated exactly by
   sympy, and its sign between them is read at rational points), and with interval arithmetic on all
   of R otherwise (:func:`symbolic.intervals.prove_sign`, unbounded tails included). A violation is a
   witness (g(w) < 0 under a log or a root, g(w) = 0 under a division).
2. Pieces. The break points are the zeros of the arguments of Abs and of the bases of non-integer
   powers (l may fail to be smooth there); they must be known exactly (else: undecided). On each open
   piece between consecutive break points, every Abs(h) equals +-h with a fixed sign, so l equals an
   Abs-free expression E whose every sensitive argument stays inside the open domain of its function
   (log and non-integer powers of positive numbers, divisions by non-zero numbers): E is real-analytic
   on the piece, and so is E'.
3. Sign of l' on each piece: l' = E' <= 0 on the piece, exactly when E' is a rational function with
   rational coefficients (the sign between its real roots), with interval arithmetic otherwise; a point
   with l'(w) > 0 is a witness that l increases near w. Strictness: an analytic function on an
   interval that is not identically zero has isolated zeros, so once l' <= 0 on the piece and
   l'(q) < 0 at one point q of it, the zeros of l' there form a set without interior and l is strictly
   decreasing on the piece; if E' is identically zero (proven exactly), l is constant on the piece (a
   failure). l is continuous on R (a composition of continuous functions where defined), so strictly
   decreasing pieces glue into a strictly decreasing l on R.
4. Smoothness at each break point c: the one-sided limits of l' (from E' of the two neighbouring
   pieces) must be finite and equal, which makes l differentiable at c (mean value theorem), and the
   one-sided limits of l'' finite, which bounds l'' near c, so l' is Lipschitz around c. The limits
   are values of the piece expressions at c where they are continuous there, and sympy ``limit``
   otherwise. On the open pieces l' is analytic, hence locally Lipschitz and locally bounded: (ii)
   holds on every bounded interval.

The built-in losses have closed forms and are decided exactly at any scale: logistic l = log(1 + e^-u),
l' = -1/(1 + e^u) in (-1, 0), l'' = e^u/(1 + e^u)^2 in (0, 1/4]; exponential l' = -e^-u < 0,
l'' = e^-u; correlation l' = -1, l'' = 0.

Beyond the premise, as evidence about the dataset, the restriction to the interval [u_min, u_max] of
reachable outputs: M1 >= sup |l'| and M0 >= sup |l''| there (rigorous upper bounds: exact at the
critical points of a rational l', else an interval cover refined where the bounds are largest), an
upper bound of sup l' there, and whether l'(u_max) = 0 (GD drives each output towards the top score
of its sequence, so u_max is the end that GD approaches).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import sympy as sp
from mpmath import iv

from . import intervals as ivl
from .intervals import Forms, prove_sign
from .losses import CORRELATION, EXPONENTIAL, LOGISTIC, u

MAX_SYMBOLIC_DEGREE = 24       # exact root isolation for polynomials of at most this degree, intervals beyond
MAX_BREAK_POINTS = 32
BOUND_EVALS = 400              # interval evaluations that tighten M0 and M1


@dataclass
class AssumptionA:
    """The outcome of :func:`assumption_a`.

    The premise, on all of R:
      holds: True (proven), False (disproven, see ``witness``) or None (undecided).
      method: "exact" (sympy: exact root isolation, exact signs, closed forms) or "interval" (at least
        one step used outward-rounded interval arithmetic).
      reason: one line: what was proven, why it fails, or what was left undecided.
      failure: None, or which part fails: "undefined" (l is not a real number at the witness),
        "increasing" (l'(witness) > 0), "flat" (l' = 0 on an interval containing the witness),
        "not-differentiable" (different one-sided derivatives at the witness), "derivative-unbounded"
        (l' unbounded near the witness), "not-lipschitz" (l'' unbounded near the witness).
      witness: the point u as an exact number (a string such as "3/2", "sqrt(2)", or an interval
        "(a, b)" when the failure is located between two points); witness_float: its value.
      proof: the steps (domain conditions, break points, pieces, smoothness at break points, or the
        closed form), as JSON-ready values.
    The restriction to the reachable outputs [u_min, u_max] (extra evidence; None when no interval):
      interval: (u_min, u_max) as exact strings; U = max(|u_min|, |u_max|).
      M0, M1: floats >= sup |l''| and >= sup |l'| on the interval (float('inf') when the bound is
        beyond float range or unbounded); M0_text, M1_text: the same upper bounds as decimal strings
        (any magnitude); bounds_method: "exact" or "interval".
      sup_l_prime: an upper bound of sup l' on the interval (decimal string).
      l_prime_at_end: l'(u_max) (from the left), exact or an enclosure [lo, hi]; vanishes_at_end:
        True when l'(u_max) = 0 is proven, False when l'(u_max) != 0 is proven, None otherwise.
    details: budgets spent and anything else worth keeping.
    """

    holds: bool | None
    method: str
    reason: str
    failure: str | None = None
    witness: str | None = None
    witness_float: float | None = None
    proof: dict = field(default_factory=dict)
    interval: tuple | None = None
    U: float | None = None
    M0: float | None = None
    M1: float | None = None
    M0_text: str | None = None
    M1_text: str | None = None
    bounds_method: str | None = None
    sup_l_prime: str | None = None
    l_prime_at_end: str | None = None
    vanishes_at_end: bool | None = None
    details: dict = field(default_factory=dict)


class _Fail(Exception):
    """A proven failure: (failure kind, witness expr or string, reason, method)."""

    def __init__(self, kind, witness, reason, method):
        super().__init__(reason)
        self.kind, self.witness, self.reason, self.method = kind, witness, reason, method


class _Undecided(Exception):
    pass


@contextmanager
def _precision(bits: int):
    saved = iv.prec
    iv.prec = bits
    try:
        with mpmath.workprec(bits):
            yield
    finally:
        iv.prec = saved


# -- exact numbers ----------------------------------------------------------------------------------

def _to_fraction(x) -> Fraction:
    if isinstance(x, Fraction):
        return x
    if isinstance(x, sp.Rational):
        return Fraction(int(x.p), int(x.q))
    if isinstance(x, float) and not math.isfinite(x):
        raise ValueError(f"interval end {x!r} is not finite")
    return Fraction(str(x)) if isinstance(x, str) else Fraction(x)


def _q(x: Fraction) -> sp.Rational:
    return sp.Rational(x.numerator, x.denominator)


def _bounds_of(r: sp.Expr) -> tuple[Fraction, Fraction]:
    """Rational lo <= r <= hi (equal when r is rational), for a real algebraic number r."""
    if r.is_Rational:
        f = _to_fraction(r)
        return f, f
    v = sp.N(r, 60)
    mid = Fraction(str(v))
    eps = Fraction(1, 10 ** 45) * max(1, abs(mid))
    lo, hi = mid - eps, mid + eps
    if not (bool(_q(lo) < r) and bool(r < _q(hi))):
        raise _Undecided(f"could not bracket the root {r}")
    return lo, hi


def _simplest(a: Fraction, b: Fraction | None) -> Fraction:
    """The rational with the smallest denominator in the open interval (a, b), 0 <= a, b None = +inf."""
    n = math.floor(a)
    if b is None or n + 1 < b:
        return Fraction(n + 1)
    x = _simplest(1 / (b - n), None if a == n else 1 / (a - n))
    return n + 1 / x


def simplest_between(a: Fraction | None, b: Fraction | None) -> Fraction:
    """A simple rational strictly inside (a, b) (None: unbounded): 0 when allowed, else the smallest
    denominator (and the smallest magnitude among integers).

    >>> simplest_between(Fraction(1), Fraction(2)), simplest_between(None, Fraction(0))
    (Fraction(3, 2), Fraction(-1, 2))
    """
    if a is None and b is None:
        return Fraction(0)
    if a is None:
        a = b - 1
    if b is None:
        b = a + 1
    if a < 0 < b:
        return Fraction(0)
    if b <= 0:
        return -_simplest(-b, -a)
    return _simplest(a, b)


def _sign_of_number(v: sp.Expr):
    """-1, 0 or 1 for a real sympy number; 'complex' when it is not a real number; None if undecided."""
    if v.has(sp.zoo, sp.nan) or v.has(sp.oo) or v.has(-sp.oo):
        return "complex"
    if v.is_extended_real is False or v.has(sp.I):
        return "complex"
    if v.is_zero:
        return 0
    if v.is_positive:
        return 1
    if v.is_negative:
        return -1
    try:
        with _precision(200):
            r = ivl.iv_eval(v, iv.mpf(0), u)
    except ValueError:
        return None
    if ivl._lo(r) > 0:
        return 1
    if ivl._hi(r) < 0:
        return -1
    return None


def _fmt_num(v: sp.Expr) -> str:
    return str(v) if v.is_Rational else f"{sp.N(v, 15)}"


def _float(v) -> float | None:
    try:
        return float(sp.N(v, 20)) if isinstance(v, sp.Basic) else float(v)
    except (TypeError, ValueError, OverflowError):
        return None


def _mpf_fraction(t: mpmath.mpf) -> Fraction:
    """The exact value of a finite mpf."""
    sign, man, exp, _ = mpmath.mpf(t)._mpf_
    return (-1 if sign else 1) * Fraction(int(man)) * (Fraction(2) ** int(exp))


def _upper_float(x: mpmath.mpf) -> float:
    """The smallest float >= x (inf beyond float range)."""
    if mpmath.isinf(x):
        return math.inf if x > 0 else -math.inf
    if x > mpmath.mpf(2) ** 1024:
        return math.inf
    f = float(x)
    return f if mpmath.mpf(f) >= x else math.nextafter(f, math.inf)


def _decimal_up(x: mpmath.mpf) -> str:
    """A 17-digit decimal string >= x."""
    if mpmath.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    y = x * (1 + mpmath.mpf(2) ** -50) if x > 0 else x * (1 - mpmath.mpf(2) ** -50)
    return mpmath.nstr(y, 17, min_fixed=-6, max_fixed=18)


def _upper_of_exact(v: sp.Expr) -> mpmath.mpf:
    """An mpf >= the exact real number v (40 digits and a relative margin of 1e-30)."""
    if v.is_Rational:
        r = iv.mpf(int(v.p)) / iv.mpf(int(v.q))
        return ivl._hi(r)
    val = mpmath.mpf(str(sp.N(v, 40)))
    return val + abs(val) * mpmath.mpf("1e-30") + mpmath.mpf(10) ** -300


# -- rational functions -----------------------------------------------------------------------------

def _rational_polys(g: sp.Expr):
    """(N, D) as Polys over QQ with g = N/D, when g is a rational function of u with rational
    coefficients of degree <= MAX_SYMBOLIC_DEGREE; else None."""
    for node in sp.preorder_traversal(g):
        if isinstance(node, sp.Function) or (node.is_Pow and not node.exp.is_Integer) or \
                (node.is_number and not node.is_Rational and node.is_Atom):
            return None
    num, den = sp.fraction(sp.together(g))
    try:
        pn, pd = sp.Poly(num, u, domain=sp.QQ), sp.Poly(den, u, domain=sp.QQ)
    except (sp.PolynomialError, sp.polys.polyerrors.CoercionFailed, sp.polys.polyerrors.GeneratorsNeeded):
        return None
    if max(pn.degree(), pd.degree()) > MAX_SYMBOLIC_DEGREE:
        return None
    return pn, pd


def _real_roots(p: sp.Poly) -> list:
    if p.is_zero or p.degree() <= 0:
        return []
    return sorted(set(sp.Poly(p.sqf_part(), u).real_roots()), key=lambda r: sp.N(r, 50))


def _zeros_poles(g: sp.Expr):
    """(zeros, poles) of g as sets of real algebraic numbers, when g is built from rational functions
    of u by products, rational powers, Abs and exp/cosh (no zeros); None otherwise."""
    if u not in g.free_symbols:
        return (set(), set()) if g != 0 else None
    rp = _rational_polys(g)
    if rp is not None:
        pn, pd = rp
        if pn.is_zero:
            return None
        return set(_real_roots(pn)), set(_real_roots(pd))
    if isinstance(g, sp.Abs):
        return _zeros_poles(g.args[0])
    if isinstance(g, (sp.exp, sp.cosh)):
        return set(), set()
    if g.is_Pow and g.exp.is_Rational:
        zp = _zeros_poles(g.base)
        if zp is None:
            return None
        return zp if g.exp > 0 else (zp[1], zp[0])
    if g.is_Mul:
        zeros, poles = set(), set()
        for f in g.args:
            zp = _zeros_poles(f)
            if zp is None:
                return None
            zeros |= zp[0]
            poles |= zp[1]
        return zeros, poles
    return None


def _samples(points: list) -> list:
    """One simple rational inside each open interval cut out of R by the sorted ``points``."""
    bounds = [_bounds_of(c) for c in points]
    out = []
    edges = [None] + bounds + [None]
    for left, right in zip(edges[:-1], edges[1:]):
        a = None if left is None else left[1]
        b = None if right is None else right[0]
        if a is not None and b is not None and not a < b:
            raise _Undecided("two special points could not be separated")
        out.append(simplest_between(a, b))
    return out


def _sorted_points(pts) -> list:
    return sorted(set(pts), key=lambda r: sp.N(r, 50))


# -- step 1: the domain -----------------------------------------------------------------------------

def _conditions(expr: sp.Expr) -> list:
    """(node, argument g, requirement) for every node that restricts the domain or has kinks, innermost first."""
    out = []
    for node in sp.postorder_traversal(expr):
        if isinstance(node, sp.log):
            out.append((node, node.args[0], ">0"))
        elif isinstance(node, sp.Abs):
            out.append((node, node.args[0], "kinks"))
        elif node.is_Pow and u in node.free_symbols:
            g, e = node.base, node.exp
            if u in e.free_symbols:
                if u in g.free_symbols or not g.is_positive:
                    out.append((node, g, ">0"))
            elif e.is_Integer:
                if e < 0:
                    out.append((node, g, "!=0"))
            elif e.is_positive:
                out.append((node, g, ">=0"))
            else:
                out.append((node, g, ">0"))
        elif isinstance(node, sp.Function) and not isinstance(node, (sp.exp, sp.sin, sp.cos, sp.sinh, sp.cosh,
                                                                       sp.tanh)):
            raise _Undecided(f"the function {type(node).__name__} is not supported")
    seen, uniq = set(), []
    for item in out:
        if item not in seen:
            seen.add(item)
            uniq.append(item)
    return uniq


_NEEDS = {">0": "> 0", ">=0": ">= 0", "!=0": "!= 0", "kinks": "(kinks where it vanishes)"}


def _domain_exact(node, g, need, zp):
    """Decide one condition exactly from the zeros and poles of g; returns (break points, record)."""
    zeros, poles = zp
    special = _sorted_points(zeros | poles)
    samples = _samples(special)
    signs = []
    for q in samples:
        s = _sign_of_number(g.subs(u, _q(q)))
        if s is None:
            raise _Undecided(f"the sign of {g} at u = {q} could not be decided")
        signs.append(s)
    # a sample where the condition is violated is the preferred (rational) witness
    for q, s in zip(samples, signs):
        if s == "complex":
            raise _Fail("undefined", _q(q), f"{g} is not a real number at u = {q}", "exact")
        if (need in (">0", ">=0") and s < 0):
            raise _Fail("undefined", _q(q), f"{node} is not real at u = {q}: its argument {g} is "
                                            f"{_fmt_num(g.subs(u, _q(q)))} < 0", "exact")
    live_zeros = [z for z in special if z in zeros and z not in poles]
    if need in (">0", "!=0") and live_zeros:
        z = live_zeros[0]
        what = "log of 0" if isinstance(node, sp.log) else "division by 0"
        raise _Fail("undefined", z, f"{node} is not defined at u = {z} ({what}: {g} = 0 there)", "exact")
    breaks = live_zeros if need in (">=0", "kinks") else []
    rec = {"node": str(node), "needs": f"{g} {_NEEDS[need]}", "by": "exact",
           "zeros": [str(z) for z in live_zeros]}
    return breaks, rec


def _domain_interval(node, g, need, budget):
    """Decide one condition with interval arithmetic on all of R (no break points can be located)."""
    rel = ">0"
    s0 = None
    if need in ("!=0", "kinks"):
        try:
            with _precision(113):
                r = ivl.enclose([g], iv.mpf(0), u)
            s0 = 1 if ivl._lo(r) > 0 else (-1 if ivl._hi(r) < 0 else None)
        except ValueError:
            s0 = None
        rel = "<0" if s0 == -1 else ">0"
    proof = prove_sign(g, u, rel, budget=budget)
    rec = {"node": str(node), "needs": f"{g} {_NEEDS[need]}", "by": "interval",
           "proved": f"{g} {rel[:-1]} 0 on R", "tails": proof.tails, "evaluations": proof.evaluations}
    if proof.status == "proven":
        return [], rec
    if proof.status == "violated":
        w = proof.witness
        wq = _q(_mpf_fraction(w))
        if proof.undefined:
            raise _Fail("undefined", wq, f"{g} is not defined at u = {wq} ({proof.value[0]})", "interval")
        lo, hi = proof.value
        if need == ">0":
            raise _Fail("undefined", wq, f"{node} is not real at u = {wq}: its argument {g} is in "
                                         f"[{mpmath.nstr(lo, 8)}, {mpmath.nstr(hi, 8)}] (<= 0)", "interval")
        if need == ">=0" and hi < 0:
            raise _Fail("undefined", wq, f"{node} is not real at u = {wq}: its argument {g} is in "
                                         f"[{mpmath.nstr(lo, 8)}, {mpmath.nstr(hi, 8)}] (< 0)", "interval")
        if need == "!=0" and s0 is not None and ((s0 > 0 and hi < 0) or (s0 < 0 and lo > 0)):
            a, b = sorted([Fraction(0), _mpf_fraction(w)])
            raise _Fail("undefined", f"({a}, {b})", f"{g} changes sign between u = {a} and u = {b}, so it "
                        f"vanishes in between (intermediate value theorem) and {node} is not defined there",
                        "interval")
        if need == "kinks":
            raise _Undecided(f"{g} changes sign, so Abs({g}) has kinks that cannot be located exactly")
    raise _Undecided(f"could not prove {g} {rel[:-1]} 0 on R (interval arithmetic: {proof.status})")


# -- steps 2-4: pieces, signs, smoothness ---------------------------------------------------------

def _resolve(e: sp.Expr, q: sp.Rational) -> sp.Expr:
    """e with every Abs(h) replaced by sign(h(q)) * h (valid on the piece containing q)."""
    if not e.has(sp.Abs):
        return e
    args = [_resolve(a, q) for a in e.args]
    if isinstance(e, sp.Abs):
        h = args[0]
        s = _sign_of_number(h.subs(u, q))
        if s not in (1, -1):
            raise _Undecided(f"the sign of {h} at u = {q} could not be decided")
        return h if s == 1 else -h
    return e.func(*args)


def _clip_set(e: sp.Expr) -> frozenset:
    """Bases of non-integer powers and arguments of logs: known >= 0 wherever l is defined."""
    out = set()
    for node in sp.preorder_traversal(e):
        if node.is_Pow and not node.exp.is_Integer:
            out.add(node.base)
        elif isinstance(node, sp.log):
            out.add(node.args[0])
    return frozenset(out)


@dataclass
class _Piece:
    lo: sp.Expr | None          # break point (exact) or None for -oo
    hi: sp.Expr | None
    lo_b: tuple | None          # rational bounds of lo
    hi_b: tuple | None
    q: Fraction                 # a rational inside
    E: sp.Expr                  # l on the piece, Abs-free
    forms: Forms = None

    def __post_init__(self):
        self.forms = Forms(self.E, u)

    def d(self, k):
        return self.forms.expr(k)

    def name(self):
        return f"({'-oo' if self.lo is None else self.lo}, {'oo' if self.hi is None else self.hi})"

    def inside(self, t: mpmath.mpf) -> bool:
        f = _mpf_fraction(t)
        return (self.lo_b is None or f > self.lo_b[1]) and (self.hi_b is None or f < self.hi_b[0])

    def mp_range(self):
        with mpmath.workprec(iv.prec):
            lo = -ivl.INF if self.lo_b is None else ivl._lo(iv.mpf(self.lo_b[0].numerator) / self.lo_b[0].denominator)
            hi = ivl.INF if self.hi_b is None else ivl._hi(iv.mpf(self.hi_b[1].numerator) / self.hi_b[1].denominator)
        return lo, hi


def _make_pieces(expr, breaks) -> list:
    pts = _sorted_points(breaks)
    if len(pts) > MAX_BREAK_POINTS:
        raise _Undecided(f"{len(pts)} break points (more than {MAX_BREAK_POINTS})")
    samples = _samples(pts)
    bnds = [_bounds_of(c) for c in pts]
    edges = [None] + pts
    edges_b = [None] + bnds
    out = []
    for j, q in enumerate(samples):
        E = _resolve(expr, _q(q))
        out.append(_Piece(lo=edges[j], hi=(pts[j] if j < len(pts) else None), lo_b=edges_b[j],
                          hi_b=(bnds[j] if j < len(pts) else None), q=q, E=E))
    return out


def _piece_sign(piece: _Piece, budget: int) -> dict:
    """l' <= 0 on the open piece with a point where l' < 0; raises _Fail / _Undecided."""
    d1 = piece.d(1)
    rec = {"piece": piece.name(), "l_prime": str(d1)}
    rp = _rational_polys(d1)
    if rp is not None:
        pn, pd = rp
        if pn.is_zero:
            raise _Fail("flat", _q(piece.q), f"l' = 0 on {piece.name()}: l is constant there", "exact")
        inner = [r for r in _real_roots(pn) + _real_roots(pd)
                 if (piece.lo is None or bool(r > piece.lo)) and (piece.hi is None or bool(r < piece.hi))]
        pts = _sorted_points(inner)
        if any(r in set(_real_roots(pd)) for r in pts):
            bad = next(r for r in pts if r in set(_real_roots(pd)))
            raise _Fail("derivative-unbounded", bad, f"l' has a pole at u = {bad}", "exact")
        # samples strictly inside the piece, between consecutive roots of l'
        lo_f = None if piece.lo_b is None else piece.lo_b[1]
        hi_f = None if piece.hi_b is None else piece.hi_b[0]
        bnds = [_bounds_of(c) for c in pts]
        neg = None
        for a, b in zip([lo_f] + [bd[1] for bd in bnds], [bd[0] for bd in bnds] + [hi_f]):
            q = simplest_between(a, b)
            val = d1.subs(u, _q(q))
            if val > 0:
                raise _Fail("increasing", _q(q), f"l'({q}) = {val} > 0: l increases near u = {q}", "exact")
            if val < 0 and neg is None:
                neg = (q, val)
        rec.update(by="exact", sign="l' <= 0", zeros_of_l_prime=[str(r) for r in pts],
                   strict_at=f"l'({neg[0]}) = {neg[1]}" if neg else None)
        if neg is None:                    # cannot happen for a non-zero rational function, kept for safety
            raise _Undecided(f"no point with l' < 0 found on {piece.name()}")
        return rec
    zero, _ = _is_zero(d1)
    if zero:
        raise _Fail("flat", _q(piece.q), f"l' = 0 on {piece.name()}: l is constant there", "exact")
    lo, hi = piece.mp_range()
    proof = prove_sign(d1, u, "<=0", lo, hi, forms=Forms(d1, u), clip=_clip_set(piece.E),
                       inside=piece.inside, budget=budget)
    rec.update(by="interval", tails=proof.tails, boxes=proof.boxes, evaluations=proof.evaluations)
    if proof.status == "violated":
        wq = _q(_mpf_fraction(proof.witness))
        if proof.undefined:
            raise _Fail("derivative-unbounded", wq, f"l' is not defined at u = {wq} ({proof.value[0]})", "interval")
        lo_w, hi_w = proof.value
        raise _Fail("increasing", wq, f"l'({wq}) is in [{mpmath.nstr(lo_w, 8)}, {mpmath.nstr(hi_w, 8)}] (> 0, "
                    f"interval-proven): l increases near u = {wq}", "interval")
    if proof.status != "proven":
        raise _Undecided(f"sign of l' on {piece.name()} not decided by interval arithmetic "
                         f"({proof.evaluations} evaluations; left: {proof.undecided[:3]})")
    strict = proof.strict_point
    if strict is None:                      # a point of the piece where l' < 0: the sample, then a few nearby
        for q in [piece.q + Fraction(k, 2) * s for k in range(0, 9) for s in (1, -1)][1:]:
            t = iv.mpf(q.numerator) / q.denominator
            if not piece.inside(ivl._lo(t)) or not piece.inside(ivl._hi(t)):
                continue
            try:
                r = ivl.enclose(Forms(d1, u).forms(0), t, u, _clip_set(piece.E))
            except ValueError:
                continue
            if ivl._hi(r) < 0:
                strict = (ivl._lo(t), r)
                break
    if strict is None:
        raise _Undecided(f"l' <= 0 on {piece.name()}, but no point with l' < 0 was found (l' might vanish "
                         f"on an interval)")
    t, r = strict
    rec.update(sign="l' <= 0", strict_at=f"l'({_mpf_fraction(t)}) <= {mpmath.nstr(ivl._hi(r), 8)} < 0")
    return rec


def _is_zero(e: sp.Expr):
    num, _ = sp.fraction(sp.together(e))
    num = sp.expand(num)
    return num == 0, num


def _continuous_at(E: sp.Expr, c: sp.Expr) -> bool:
    """Every node of E is continuous at c (no log of 0, no negative or variable power of 0, no division
    by 0): then E(c) is the one-sided limit of E at c."""
    for node in sp.preorder_traversal(E):
        if isinstance(node, sp.log) or (node.is_Pow and (not node.exp.is_number or node.exp.is_negative)):
            g = node.args[0] if isinstance(node, sp.log) else node.base
            if u not in g.free_symbols:
                continue
            s = _sign_of_number(g.subs(u, c))
            if s is None or s == "complex" or s == 0:
                return False
    return True


def _one_sided(E: sp.Expr, c: sp.Expr, side: str):
    """lim E(u) for u -> c from ``side`` ('-' or '+'): (value, how)."""
    if _continuous_at(E, c):
        v = E.subs(u, c)
        if not v.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I):
            return sp.simplify(v) if sp.count_ops(v) < 60 else v, "value"
    try:
        v = sp.limit(E, u, c, dir=side)
    except Exception:                       # sympy gives up: undecided
        raise _Undecided(f"the limit of {E} at u = {c}{side} could not be computed") from None
    if v in (sp.oo, -sp.oo):
        return v, "sympy limit"
    if not v.is_number or v.has(sp.nan, sp.zoo, sp.I) or isinstance(v, sp.AccumBounds) or v.is_extended_real is False:
        raise _Undecided(f"the limit of {E} at u = {c}{side} is {v}")
    return v, "sympy limit"


def _at_break(c, left: _Piece, right: _Piece) -> dict:
    d1l, how1l = _one_sided(left.d(1), c, "-")
    d1r, how1r = _one_sided(right.d(1), c, "+")
    rec = {"u": str(c), "l_prime_left": str(d1l), "l_prime_right": str(d1r)}
    for v in (d1l, d1r):
        if v in (sp.oo, -sp.oo):
            raise _Fail("derivative-unbounded", c, f"l' is unbounded near u = {c} (one-sided limit {v})", "exact")
    diff = sp.simplify(d1l - d1r)
    if diff != 0:
        s = _sign_of_number(diff)
        if s in (1, -1):
            raise _Fail("not-differentiable", c, f"l is not differentiable at u = {c}: left derivative {d1l}, "
                        f"right derivative {d1r}", "exact")
        raise _Undecided(f"could not decide whether the one-sided derivatives {d1l} and {d1r} at u = {c} agree")
    d2l, _ = _one_sided(left.d(2), c, "-")
    d2r, _ = _one_sided(right.d(2), c, "+")
    for v in (d2l, d2r):
        if v in (sp.oo, -sp.oo):
            raise _Fail("not-lipschitz", c, f"l'' is unbounded near u = {c} (one-sided limit {v}): l' is not "
                        f"Lipschitz on any interval around it", "exact")
    rec.update(l_second_left=str(d2l), l_second_right=str(d2r), how=sorted({how1l, how1r}))
    return rec


# -- the built-in losses --------------------------------------------------------------------------

_CLOSED_FORMS = {
    "logistic": ("l'(u) = -1/(1 + e^u) is in (-1, 0) for every real u, and l''(u) = e^u/(1 + e^u)^2 is in (0, 1/4]: "
                 "l is defined, smooth and strictly decreasing on R, |l'| <= 1, l' is 1/4-Lipschitz"),
    "exponential": ("l'(u) = -e^-u < 0 for every real u and l''(u) = e^-u: l is smooth and strictly decreasing on "
                    "R; on [a, b], |l'| <= e^-a and l' is e^-a-Lipschitz"),
    "correlation": "l'(u) = -1 < 0 for every real u and l'' = 0: l is strictly decreasing, |l'| = 1, M0 = 0",
}


def builtin_name(expr: sp.Expr) -> str | None:
    """The name of the built-in loss that ``expr`` is (structurally), or None."""
    for name, e in (("logistic", LOGISTIC), ("exponential", EXPONENTIAL), ("correlation", CORRELATION)):
        if expr == e:
            return name
    return None


def _closed_form_bounds(name: str, a: Fraction, b: Fraction) -> dict:
    """M1, M0, sup l' and l'(b) on [a, b] from the closed forms, as mpmath intervals (uncapped exp)."""
    A = iv.mpf(a.numerator) / a.denominator
    B = iv.mpf(b.numerator) / b.denominator
    if name == "correlation":
        one = iv.mpf(1)
        return {"M1": one, "M0": iv.mpf(0), "sup": -one, "end": -one, "end_exact": "-1"}
    if name == "exponential":
        ea = iv.exp(-A)
        eb = iv.exp(-B)
        return {"M1": ea, "M0": ea, "sup": -eb, "end": -eb, "end_exact": f"-exp({-_q(b)})"}
    # logistic: |l'| = 1/(1 + e^u) decreases; l'' = e^u/(1 + e^u)^2 = 1/(e^u + 2 + e^-u) peaks at u = 0
    m1 = 1 / (1 + iv.exp(A))
    if a <= 0 <= b:
        m0 = iv.mpf(1) / 4
    else:
        c = A if a > 0 else B
        m0 = 1 / (iv.exp(c) + 2 + iv.exp(-c))
    end = -1 / (1 + iv.exp(B))
    return {"M1": m1, "M0": m0, "sup": end, "end": end, "end_exact": f"-1/(1 + exp({_q(b)}))"}


# -- the restriction to [u_min, u_max] --------------------------------------------------------------

def _exact_sup_abs(f: sp.Expr, a: sp.Expr, b: sp.Expr):
    """sup |f| and sup f over [a, b] for a rational function f without poles there: the extrema lie at
    the end points or at real roots of the numerator of f' (exact). None when f is not such a function."""
    rp = _rational_polys(f)
    if rp is None:
        return None
    pn, pd = rp
    if any(bool(a <= r) and bool(r <= b) for r in _real_roots(pd)):
        return "pole"
    fp = _rational_polys(sp.diff(f, u))
    if fp is None:
        return None
    pts = {a, b} | {r for r in _real_roots(fp[0]) if bool(a <= r) and bool(r <= b)}
    vals = [f.subs(u, r) for r in pts]
    return max(vals, key=lambda v: abs(sp.N(v, 50))), max(vals, key=lambda v: sp.N(v, 50))


def _interval_sup(forms: Forms, k: int, lo, hi, clip, budget: int, pieces: int = 16, rtol=1e-3):
    """(upper bound of sup |f^(k)|, upper bound of sup f^(k)) on [lo, hi] (mpf): a cover by boxes, the box
    with the largest bound bisected until that bound is within ``rtol`` of a point value of |f^(k)| (a lower
    estimate of the sup) or ``budget`` evaluations are spent; (inf, inf) when some box has no enclosure."""
    import heapq
    if hi == lo:
        boxes = [(lo, hi)]
    else:
        step = (hi - lo) / pieces
        cuts = [lo + j * step for j in range(pieces)] + [hi]
        boxes = list(zip(cuts[:-1], cuts[1:]))
    fs = forms.forms(k)

    def enc(a, b):
        r = ivl.enclose(fs, ivl.interval(a, b), u, clip)
        return (-max(abs(ivl._lo(r)), abs(ivl._hi(r))), a, b, ivl._hi(r))

    def point_abs(t):
        try:
            r = ivl.enclose(fs, iv.mpf(t), u, clip)
        except ValueError:
            return mpmath.mpf(0)
        lo_, hi_ = ivl._lo(r), ivl._hi(r)
        return mpmath.mpf(0) if lo_ <= 0 <= hi_ else min(abs(lo_), abs(hi_))

    try:
        heap = [enc(a, b) for a, b in boxes]
    except ValueError:
        return ivl.INF, ivl.INF
    heapq.heapify(heap)
    lower = mpmath.mpf(0)
    spent = 0
    while spent < budget:
        neg, a, b, _h = heap[0]
        lower = max(lower, point_abs((a + b) / 2))
        spent += 1
        if -neg <= lower * (1 + mpmath.mpf(rtol)) or b - a <= mpmath.mpf(2) ** -30 * max(1, abs(a)):
            break
        mid = (a + b) / 2
        try:
            left, right = enc(a, mid), enc(mid, b)
        except ValueError:
            break
        spent += 2
        heapq.heapreplace(heap, left)
        heapq.heappush(heap, right)
    sup = max(h for _, _, _, h in heap)
    return -heap[0][0], sup


def _restriction(expr, pieces: list | None, a: Fraction, b: Fraction, budget: int) -> dict:
    """M0, M1, sup l', l'(b) on [a, b], per piece (or on l itself when the pieces are unknown)."""
    A, B = _q(a), _q(b)
    if pieces is None:
        pieces = [_Piece(lo=None, hi=None, lo_b=None, hi_b=None, q=Fraction(0), E=expr)]
    m1 = m0 = mpmath.mpf(0)
    sup = -ivl.INF
    method = "exact"
    end = None
    for p in pieces:
        lo = A if p.lo is None or bool(p.lo <= A) else p.lo
        hi = B if p.hi is None or bool(p.hi >= B) else p.hi
        if bool(lo > hi):
            continue
        for k in (1, 2):
            ex = _exact_sup_abs(p.d(k), lo, hi)
            if ex == "pole":
                bound_abs, bound_sup = ivl.INF, ivl.INF
            elif ex is not None:
                bound_abs, bound_sup = _upper_of_exact(abs(ex[0])), _upper_of_exact(ex[1])
            else:
                method = "interval"
                lo_m = ivl._lo(iv.mpf(_bounds_of(lo)[0].numerator) / _bounds_of(lo)[0].denominator)
                hi_m = ivl._hi(iv.mpf(_bounds_of(hi)[1].numerator) / _bounds_of(hi)[1].denominator)
                bound_abs, bound_sup = _interval_sup(p.forms, k, lo_m, hi_m, _clip_set(p.E), budget)
            if k == 1:
                m1 = max(m1, bound_abs)
                sup = max(sup, bound_sup)
            else:
                m0 = max(m0, bound_abs)
        if p.hi is None or bool(p.hi >= B):
            if p.lo is None or bool(p.lo < B) or a == b:
                end = _end_value(p, B)
    return {"M1": m1, "M0": m0, "sup": sup, "method": method, "end": end}


def _end_value(p: _Piece, B: sp.Rational):
    """(text, vanishes) for l'(B) from the left, on piece p."""
    d1 = p.d(1)
    if _continuous_at(d1, B):
        v = d1.subs(u, B)
        if not v.has(sp.zoo, sp.nan, sp.oo, sp.I):
            if _rational_polys(d1) is not None or v.is_Rational:
                return str(sp.nsimplify(v) if v.is_Rational else v), v == 0
            s = _sign_of_number(v)
            if s in (1, -1, 0):
                return str(v) if sp.count_ops(v) < 40 else _fmt_num(v), s == 0
    try:
        r = ivl.enclose(p.forms.forms(1), iv.mpf(B.p) / iv.mpf(B.q), u, _clip_set(p.E))
    except ValueError:
        return None, None
    txt = f"[{mpmath.nstr(ivl._lo(r), 10)}, {mpmath.nstr(ivl._hi(r), 10)}]"
    if ivl._hi(r) < 0 or ivl._lo(r) > 0:
        return txt, False
    return txt, None


# -- the decision ---------------------------------------------------------------------------------

def _decide(expr, budget: int, proof: dict):
    """(failures, undecided, pieces, used_interval); fills ``proof``. A domain failure raises _Fail."""
    used_interval = False
    if u not in expr.free_symbols:
        raise _Fail("flat", sp.Integer(0), "l is constant: l' = 0 on all of R", "exact")
    conds = _conditions(expr)
    breaks = []
    domain = []
    proof["domain"] = domain
    for node, g, need in conds:
        zp = _zeros_poles(g)
        if zp is not None:
            b, rec = _domain_exact(node, g, need, zp)
        else:
            used_interval = True
            b, rec = _domain_interval(node, g, need, budget)
        breaks.extend(b)
        domain.append(rec)
    pieces = _make_pieces(expr, breaks)
    proof["break_points"] = [str(c) for c in _sorted_points(breaks)]
    proof["pieces"] = []
    failures = []
    undecided = []
    for p in pieces:
        try:
            rec = _piece_sign(p, budget)
            used_interval |= rec.get("by") == "interval"
            proof["pieces"].append(rec)
        except _Fail as f:
            failures.append(f)
        except _Undecided as exc:
            undecided.append(str(exc))
    proof["at_break_points"] = []
    for c, left, right in zip(_sorted_points(breaks), pieces[:-1], pieces[1:]):
        try:
            proof["at_break_points"].append(_at_break(c, left, right))
        except _Fail as f:
            failures.append(f)
        except _Undecided as exc:
            undecided.append(str(exc))
    return failures, undecided, pieces, used_interval


def assumption_a(expr: sp.Expr, U=None, *, interval=None, budget: int = 2000, dps: int = 30) -> AssumptionA:
    """Decide Assumption A for the loss ``expr`` (a sympy expression in u) on all of R: l defined and real
    everywhere, strictly decreasing (l' <= 0 with zeros forming a set without interior), differentiable
    with l' Lipschitz and bounded on every bounded interval. See the module docstring for the argument.

    ``interval`` = (u_min, u_max), or ``U`` for (-U, U): the reachable outputs, on which M0 >= sup |l''|,
    M1 >= sup |l'|, sup l' and l'(u_max) are reported (extra evidence, not part of the premise).
    ``budget``: interval evaluations per sign proof; ``dps``: interval precision in decimal digits.

    >>> from attnsvm.symbolic import parse_loss
    >>> r = assumption_a(parse_loss("(1 - u)**2"), interval=(-1, 1))
    >>> r.holds, r.failure, r.witness, r.vanishes_at_end
    (False, 'increasing', '3/2', True)
    """
    if interval is not None and U is not None:
        raise ValueError("give either U or interval, not both")
    if U is not None:
        Uf = abs(_to_fraction(U))
        interval = (-Uf, Uf)
    if interval is not None:
        a, b = _to_fraction(interval[0]), _to_fraction(interval[1])
        if a > b:
            raise ValueError(f"empty interval [{a}, {b}]")
        interval = (a, b)
    with _precision(int(dps * 3.33) + 10):
        res = _assumption_a(expr, interval, budget)
    if interval is not None:
        res.interval = (str(interval[0]), str(interval[1]))
        res.U = float(max(abs(interval[0]), abs(interval[1])))
    return res


def _assumption_a(expr, interval, budget) -> AssumptionA:
    name = builtin_name(expr)
    if name is not None:
        res = AssumptionA(holds=True, method="exact", reason=f"built-in {name} loss: {_CLOSED_FORMS[name]}",
                          proof={"closed_form": name, "argument": _CLOSED_FORMS[name]})
        if interval is not None:
            cf = _closed_form_bounds(name, *interval)
            _set_bounds(res, ivl._hi(cf["M0"]), ivl._hi(cf["M1"]), ivl._hi(cf["sup"]), "exact")
            res.l_prime_at_end = cf["end_exact"]
            res.vanishes_at_end = False            # l' < 0 everywhere (closed form)
            res.details["l_prime_at_end_enclosure"] = [mpmath.nstr(ivl._lo(cf["end"]), 17),
                                                       mpmath.nstr(ivl._hi(cf["end"]), 17)]
        return res
    pieces = None
    proof: dict = {}
    try:
        failures, undecided, pieces, used_interval = _decide(expr, budget, proof)
    except _Fail as f:
        res = _failed(f, proof)
    except _Undecided as exc:
        proof["undecided"] = [str(exc)]
        res = AssumptionA(holds=None, method="interval", reason=f"undecided: {exc}", proof=proof)
        res = _witness_search(expr, res, budget)
    else:
        if failures:
            order = ["undefined", "increasing", "flat", "derivative-unbounded", "not-differentiable", "not-lipschitz"]
            failures.sort(key=lambda f: order.index(f.kind))
            res = _failed(failures[0], proof)
            res.details["other_failures"] = [f"{f.kind} at u = {f.witness}: {f.reason}" for f in failures[1:]]
        elif undecided:
            proof["undecided"] = undecided
            res = AssumptionA(holds=None, method="interval" if used_interval else "exact",
                              reason=f"undecided: {undecided[0]}", proof=proof)
        else:
            method = "interval" if used_interval else "exact"
            nb = len(proof["break_points"])
            res = AssumptionA(holds=True, method=method, proof=proof,
                              reason=(f"l is defined on R and strictly decreasing: l' <= 0 on "
                                      f"{'R' if nb == 0 else f'each of {nb + 1} pieces'} ({method}), vanishing "
                                      f"only on a set without interior (l' is analytic and not identically 0 on "
                                      f"each piece)" + (", differentiable with bounded l'' at the break points"
                                                        if nb else "") + "; l' is locally Lipschitz and bounded"))
            proof["argument"] = ("domain conditions on all of R; on each piece l is real-analytic, l' <= 0 there and "
                                 "l' < 0 at one point, so the zeros of l' are isolated; l continuous on R; at break "
                                 "points equal finite one-sided derivatives and finite one-sided l''")
    if interval is not None:
        try:
            rb = _restriction(expr, pieces, interval[0], interval[1], BOUND_EVALS)
        except (_Undecided, ValueError) as exc:
            res.details["bounds"] = f"not computed: {exc}"
        else:
            _set_bounds(res, rb["M0"], rb["M1"], rb["sup"], rb["method"])
            if rb["end"] is not None:
                res.l_prime_at_end, res.vanishes_at_end = rb["end"]
    return res


def _set_bounds(res: AssumptionA, m0, m1, sup, method):
    res.M0, res.M1 = _upper_float(m0), _upper_float(m1)
    res.M0_text, res.M1_text = _decimal_up(m0), _decimal_up(m1)
    res.sup_l_prime = _decimal_up(sup)
    res.bounds_method = method


def _failed(f: _Fail, proof: dict) -> AssumptionA:
    w = f.witness
    wtxt = str(w)
    wf = _float(w) if isinstance(w, sp.Basic) else None
    return AssumptionA(holds=False, method=f.method, reason=f.reason, failure=f.kind, witness=wtxt,
                       witness_float=wf, proof=proof)


def _witness_search(expr, res: AssumptionA, budget: int) -> AssumptionA:
    """When the decision is undecided: look for a point with l'(w) > 0 on l itself (interval-proven)."""
    try:
        proof = prove_sign(sp.diff(expr, u), u, "<=0", budget=budget)
    except ValueError:
        return res
    res.proof["witness_search"] = {"status": proof.status, "evaluations": proof.evaluations}
    if proof.status == "violated" and not proof.undefined:
        wq = _q(_mpf_fraction(proof.witness))
        lo, hi = proof.value
        return _failed(_Fail("increasing", wq, f"l'({wq}) is in [{mpmath.nstr(lo, 8)}, {mpmath.nstr(hi, 8)}] "
                             f"(> 0, interval-proven): l increases near u = {wq}", "interval"), res.proof)
    return res
