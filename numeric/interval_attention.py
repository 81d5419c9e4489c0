"""Rigorous enclosures of the attention loss's gradient and Hessian over boxes, in ball arithmetic.

Same mathematics as :mod:`numeric.attention` (DESIGN.md section 3), one derivative further. For features Phi
(n, T, D), scores gamma (n, T), a reference token a_i per sequence (the dominant one, so that every exponent
stays <= 0 near the centre of the box), dPhi_it = Phi_it - Phi_{i,a_i}, dgamma_it = gamma_it - gamma_{i,a_i}:

    r_it  = <theta, dPhi_it>,   z_i = 1 + sum_{t != a_i} e^{r_it},   s_it = e^{r_it} / z_i
    gap_i = -sum_{t != a_i} s_it dgamma_it   (= gamma_{i,a_i} - u_i, a sum, never a difference)
    u_i   = gamma_{i,a_i} - gap_i,           w_it = s_it (dgamma_it + gap_i) = s_it (gamma_it - u_i)
    g_i   = grad u_i = sum_{t != a_i} w_it dPhi_it,      m_i = sum_{t != a_i} s_it dPhi_it
    Hess u_i = sum_{t != a_i} w_it dPhi_it dPhi_it^T - g_i m_i^T - m_i g_i^T
    grad L = (1/n) sum_i l'(u_i) g_i,        Hess L = (1/n) sum_i [l''(u_i) g_i g_i^T + l'(u_i) Hess u_i]

Hess u_i is the third mixed central moment E_s[(gamma - u)(Phi - Phi_bar)(Phi - Phi_bar)^T] of the softmax
distribution s_i (d/dtheta of grad u_i = E_s[(gamma - u)(Phi - Phi_bar)]), written around the reference token
(Phi - Phi_bar = dPhi - m_i; the shift cancels because E_s[gamma - u] = 0).

Arithmetic: python-flint's ``arb`` balls (a midpoint and a radius; every operation returns a ball that contains
the exact result for every input in the input balls), at the working precision ``flint.ctx.prec``. The data
enter exactly: Phi and gamma as exact rationals (Fraction, int, float, decimal string: each is the exact value
it denotes), differences formed in exact rational arithmetic, then rounded once into a ball that contains them.
l' and l'' are closed forms for the built-in losses (logistic, exponential, correlation) and, for a loss
expression, sympy's derivatives evaluated by :func:`symbolic.iv_eval` in ``mpmath.iv`` (outward-rounded
intervals; the conversions between the two kinds of interval are exact). e^{r} of a large negative r is a
number here (no underflow), so the enclosures stay tight at any ||theta||.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Callable

import mpmath
import numpy as np
from flint import arb, arb_mat, ctx, fmpq, fmpq_mat
from mpmath import iv
from scipy.special import expit

from .losses import BUILTIN_LOSSES, Loss

if TYPE_CHECKING:                   # sympy is imported on first use (it is slow to import)
    import sympy as sp

CLOSED_FORMS = ("logistic", "exponential", "correlation")
CHUNK_ROWS = 64          # token rows per block-diagonal chunk of the Hessian products


# -- exact numbers and conversions ------------------------------------------------------------------------

def to_fmpq(x) -> fmpq:
    """The exact rational value of x (Fraction, int, float, decimal string, numpy scalar or mpmath mpf)."""
    tx = type(x)
    if tx is fmpq:
        return x
    if tx is Fraction:
        return fmpq(x.numerator, x.denominator)
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bool):
        raise TypeError("expected a number, got a bool")
    if isinstance(x, int):
        return fmpq(x)
    if isinstance(x, Fraction):
        return fmpq(x.numerator, x.denominator)
    if isinstance(x, float):
        if x != x or x in (float("inf"), float("-inf")):
            raise ValueError(f"not a finite number: {x!r}")
        num, den = x.as_integer_ratio()
        return fmpq(num, den)
    if isinstance(x, str):
        f = Fraction(x.strip())
        return fmpq(f.numerator, f.denominator)
    if isinstance(x, mpmath.mpf):
        sign, man, exp, _ = x._mpf_
        if not man and exp:
            raise ValueError(f"not a finite number: {x}")
        man = -int(man) if sign else int(man)
        return fmpq(man * 2 ** exp) if exp >= 0 else fmpq(man, 2 ** (-exp))
    raise TypeError(f"expected a number, got {type(x).__name__}")


def exact_array(a) -> np.ndarray:
    """An array of exact numbers (any of :func:`to_fmpq`'s inputs) as an object array of fmpq, same shape."""
    arr = np.asarray(a, dtype=object)
    return np.array([to_fmpq(x) for x in arr.reshape(-1)] + [None], dtype=object)[:-1].reshape(arr.shape)


def float_array(q: np.ndarray) -> np.ndarray:
    """float64 values of an object array of fmpq (each correctly rounded)."""
    return np.array([int(x.p) / int(x.q) for x in q.reshape(-1)], dtype=float).reshape(q.shape)


def fraction_of(q: fmpq) -> Fraction:
    """An fmpq as a Python Fraction (exact)."""
    return Fraction(int(q.p), int(q.q))


def _dyadic(man: int, exp: int) -> arb:
    """The exact ball man * 2^exp (exact as long as man has at most ctx.prec bits)."""
    return arb(fmpq(man * 2 ** exp) if exp >= 0 else fmpq(man, 2 ** (-exp)))


def arb_endpoints(x: arb) -> tuple[Fraction, Fraction]:
    """The exact end points (mid - rad, mid + rad) of a finite ball."""
    if not x.is_finite():
        raise ValueError("ball is not finite")
    m, e = x.mid().man_exp()
    rm, re = x.rad().man_exp()
    mid = Fraction(int(m)) * Fraction(2) ** int(e)
    rad = Fraction(int(rm)) * Fraction(2) ** int(re)
    return mid - rad, mid + rad


def arb_to_iv(x: arb):
    """The ball x as an ``mpmath.iv`` interval containing it (end points rounded outward at iv.prec)."""
    if not x.is_finite():
        raise ValueError("ball is not finite")
    m, e = x.mid().man_exp()
    rm, re = x.rad().man_exp()
    m, e, rm, re = int(m), int(e), int(rm), int(re)
    base = min(e, re)
    mid, rad = m << (e - base), rm << (re - base)
    lo = mpmath.libmp.from_man_exp(mid - rad, base, iv.prec, "f")
    hi = mpmath.libmp.from_man_exp(mid + rad, base, iv.prec, "c")
    return iv.mpf([mpmath.mp.make_mpf(lo), mpmath.mp.make_mpf(hi)])


def iv_to_arb(x) -> arb:
    """An ``mpmath.iv`` interval as a ball containing it (exact end points, united)."""
    ends = []
    for raw in x._mpi_:
        sign, man, exp, _ = raw
        if not man and exp:
            raise ValueError("interval is not finite")
        ends.append(_dyadic(-int(man) if sign else int(man), int(exp)))
    return ends[0].union(ends[1])


# -- the loss: l' and l'' for float64 and in interval arithmetic ------------------------------------------

@dataclass(frozen=True)
class LossDerivatives:
    """l' and l'' of a loss: elementwise float64 callables, and enclosures over a ball.

    ``loss`` is the :class:`numeric.Loss` used by the float64 and mpmath engines; ``expr`` the sympy l(u);
    ``closed_form`` True for the built-ins (whose enclosures use closed forms, not the expression).
    """

    name: str
    loss: Loss
    expr: sp.Expr
    d1_expr: sp.Expr
    d2_expr: sp.Expr
    second_derivative: Callable[[np.ndarray], np.ndarray]
    closed_form: bool

    def enclose(self, u: arb) -> tuple[arb, arb]:
        """Balls containing l'(x) and l''(x) for every x in the ball u.

        logistic l' = -1/(1 + e^u), l'' = 1/(4 cosh^2(u/2)) (from the end points of |u|: even, decreasing in
        |u|); exponential l' = -e^{-u}, l'' = e^{-u};
        correlation l' = -1, l'' = 0; otherwise sympy's derivatives through ``symbolic.iv_eval``."""
        if self.closed_form:
            if self.name == "logistic":
                # l'' = 1/(4 cosh^2(u/2)) is even and decreasing in |u|: enclosed by its values at the ends of
                # |u| (thin balls), which stays tight where cosh of a wide ball would not
                def second(x):
                    return 1 / (4 * (x / 2).cosh() ** 2)
                return -1 / (1 + u.exp()), second(u.abs_upper()).union(second(u.abs_lower()))
            if self.name == "exponential":
                e = (-u).exp()
                return -e, e
            return arb(-1), arb(0)
        from attnsvm.symbolic.losses import iv_eval
        saved = iv.prec
        iv.prec = ctx.prec + 10
        try:
            x = arb_to_iv(u)
            return iv_to_arb(iv_eval(self.d1_expr, x)), iv_to_arb(iv_eval(self.d2_expr, x))
        finally:
            iv.prec = saved


def _lambdified(expr: sp.Expr) -> Callable[[np.ndarray], np.ndarray]:
    import sympy as sp

    from attnsvm.symbolic.losses import u
    f = sp.lambdify(u, expr, "numpy")

    def call(x):
        x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(f(x), dtype=float), x.shape).copy()
    return call


def loss_derivatives(loss) -> LossDerivatives:
    """l' and l'' of ``loss``: a :class:`numeric.Loss` (a built-in by name, else its ``expression``), a loss
    expression string (parsed by ``symbolic.parse_loss``) or a sympy expression in ``symbolic.losses.u``."""
    import sympy as sp

    from attnsvm.symbolic.losses import BUILTIN_LOSSES as SYMBOLIC_BUILTINS
    from attnsvm.symbolic.losses import lambdify_loss, parse_loss, u
    if isinstance(loss, Loss):
        if loss.name in CLOSED_FORMS and BUILTIN_LOSSES.get(loss.name) is loss:
            expr, obj, closed = SYMBOLIC_BUILTINS[loss.name], loss, True
        else:
            if not loss.expression:
                raise ValueError(f"loss {loss.name!r} has no expression: its derivatives cannot be enclosed")
            expr, obj, closed = parse_loss(loss.expression), loss, False
    else:
        expr = parse_loss(loss) if isinstance(loss, str) else loss
        if not isinstance(expr, sp.Expr):
            raise TypeError(f"expected a Loss, a loss expression or a sympy expression, got {type(loss).__name__}")
        closed = False
        for name in CLOSED_FORMS:
            if expr == SYMBOLIC_BUILTINS[name]:
                expr, obj, closed = SYMBOLIC_BUILTINS[name], BUILTIN_LOSSES[name], True
                break
        else:
            fns = lambdify_loss(expr)
            obj = Loss(name="expr", value=fns.value, derivative=fns.derivative, mp_value=fns.mp_value,
                       mp_derivative=fns.mp_derivative, expression=str(expr))
    d1 = sp.diff(expr, u)
    d2 = sp.diff(d1, u)
    name = obj.name if closed else "expr"
    if closed and name == "logistic":
        second = lambda x: expit(np.asarray(x, dtype=float)) * expit(-np.asarray(x, dtype=float))  # noqa: E731
    elif closed and name == "exponential":
        second = lambda x: np.exp(-np.asarray(x, dtype=float))  # noqa: E731
    elif closed:
        second = lambda x: np.zeros_like(np.asarray(x, dtype=float))  # noqa: E731
    else:
        second = _lambdified(d2)
    return LossDerivatives(name=name, loss=obj, expr=expr, d1_expr=d1, d2_expr=d2, second_derivative=second,
                           closed_form=closed)


# -- the engine ----------------------------------------------------------------------------------------------

@dataclass
class TokenState:
    """Enclosures over a box, per sequence i: s_i and w_i (lists over the tokens t != a_i), u_i, l'(u_i),
    l''(u_i)."""

    s: list
    w: list
    u: list
    lp: list
    lpp: list


class IntervalAttention:
    """Ball enclosures of grad L and Hess L (module docstring) for exact data, in the coordinates ``coords``.

    ``coords`` (a list of indices into 0..D-1, default all) restricts theta to those coordinates, the others
    held at 0: L is then evaluated at E_J xi for xi in R^k (k = len(coords)), and ``gradient``/``hessian``
    enclose grad_xi and Hess_xi of xi -> L(E_J xi), i.e. (grad L)_J and (Hess L)_{J,J}.

    Per sequence i, M_i is the (T-1, k) matrix of rows dPhi_it (t != a_i). Then

        grad L = (1/n) sum_i l'(u_i) M_i^T w_i
        Hess L = (1/n) sum_i M_i^T Theta_i M_i,
        Theta_i = l'(u_i) (diag(w_i) - w_i s_i^T - s_i w_i^T) + l''(u_i) w_i w_i^T

    (the module docstring's formulas with g_i = M_i^T w_i, m_i = M_i^T s_i), every product a small ball matrix
    product. A box is an ``arb_mat`` of shape (k, 1) whose entries are balls; a point is a box of thin balls.
    The reference tokens ``reference`` (n ints) are fixed per call (any choice is exact algebra; the dominant
    tokens at the box's centre keep the exponents <= 0 and the enclosures tight).
    """

    def __init__(self, phi, gamma, loss, coords=None):
        phi = np.asarray(phi, dtype=object)
        gamma = np.asarray(gamma, dtype=object)
        if phi.ndim != 3 or gamma.shape != phi.shape[:2]:
            raise ValueError(f"features must be (n, T, D) and scores (n, T); got {phi.shape} and {gamma.shape}")
        self.n, self.T, self.D = phi.shape
        self.coords = list(range(self.D)) if coords is None else [int(c) for c in coords]
        self.k = len(self.coords)
        self.phi = exact_array(phi[:, :, self.coords])
        self.gamma = exact_array(gamma)
        self.derivs = loss if isinstance(loss, LossDerivatives) else loss_derivatives(loss)
        self._cache: dict = {}

    # exact differences around the reference tokens, as balls at the working precision (cached); the blocks
    # M_i are also stacked into chunks of about CHUNK_ROWS rows, so that the Hessian is a few large products
    def _prepared(self, reference) -> dict:
        key = (tuple(int(a) for a in reference), ctx.prec)
        if key in self._cache:
            return self._cache[key]
        rows, dgamma, gamma_ref = [], [], []
        for i, a in enumerate(key[0]):
            others = [t for t in range(self.T) if t != a]
            rows.append([[self.phi[i, t, c] - self.phi[i, a, c] for c in range(self.k)] for t in others])
            dgamma.append([arb(self.gamma[i, t] - self.gamma[i, a]) for t in others])
            gamma_ref.append(arb(self.gamma[i, a]))
        blocks = [arb_mat(fmpq_mat(r)) if r and self.k else None for r in rows]
        per = max(1, CHUNK_ROWS // max(self.T - 1, 1))
        chunks = []
        if self.T > 1 and self.k:
            for start in range(0, self.n, per):
                seqs = list(range(start, min(start + per, self.n)))
                chunks.append((seqs, arb_mat(fmpq_mat([row for i in seqs for row in rows[i]]))))
        prep = {"M": blocks, "chunks": chunks, "dgamma": dgamma, "gamma_ref": gamma_ref}
        if len(self._cache) > 16:
            self._cache.clear()
        self._cache[key] = prep
        return prep

    def box(self, centre, radius=0) -> arb_mat:
        """The box centre + [-radius, radius]^k (centre: k exact numbers; radius: an exact number >= 0)."""
        if radius == 0:
            return arb_mat([[arb(to_fmpq(c))] for c in centre])
        r = arb(to_fmpq(radius))
        rad = arb(0).union(r).union(-r)
        return arb_mat([[arb(to_fmpq(c)) + rad] for c in centre])

    def tokens(self, X: arb_mat, reference) -> TokenState:
        """s_i, w_i, u_i, l'(u_i), l''(u_i), enclosed over the box X."""
        prep = self._prepared(reference)
        S, Wt, U = [], [], []
        for i in range(self.n):
            M, dg = prep["M"][i], prep["dgamma"][i]
            if M is None:
                S.append([])
                Wt.append([])
                U.append(prep["gamma_ref"][i])
                continue
            R = M * X
            e = [R[j, 0].exp() for j in range(len(dg))]
            z = arb(1)
            for x in e:
                z += x
            s = [x / z for x in e]
            gap = arb(0)
            for sj, dj in zip(s, dg):
                gap -= sj * dj
            S.append(s)
            Wt.append([sj * (dj + gap) for sj, dj in zip(s, dg)])
            U.append(prep["gamma_ref"][i] - gap)
        parts = [self.derivs.enclose(x) for x in U]
        return TokenState(s=S, w=Wt, u=U, lp=[p[0] for p in parts], lpp=[p[1] for p in parts])

    def gradient(self, X: arb_mat, reference) -> arb_mat:
        """A (k, 1) ball vector containing grad L(theta) for every theta in the box X:
        (1/n) sum_i l'(u_i) M_i^T w_i."""
        prep = self._prepared(reference)
        st = self.tokens(X, reference)
        out = arb_mat(self.k, 1)
        for seqs, M in prep["chunks"]:
            c = arb_mat([[st.lp[i] * x] for i in seqs for x in st.w[i]])
            out += M.transpose() * c
        return out * (arb(1) / self.n)

    def directional(self, X: arb_mat, reference, direction) -> arb:
        """A ball containing <grad L(theta), direction> for every theta in X (direction: k exact numbers):
        (1/n) sum_i l'(u_i) w_i^T (M_i direction)."""
        prep = self._prepared(reference)
        st = self.tokens(X, reference)
        p = arb_mat([[arb(to_fmpq(x))] for x in direction])
        total = arb(0)
        for i in range(self.n):
            if prep["M"][i] is not None:
                proj = prep["M"][i] * p
                for j, wj in enumerate(st.w[i]):
                    total += st.lp[i] * wj * proj[j, 0] / self.n
        return total

    def hessian(self, X: arb_mat, reference) -> arb_mat:
        """A (k, k) ball matrix containing Hess L(theta) for every theta in the box X:
        (1/n) sum_i M_i^T Theta_i M_i (class docstring), summed per chunk of sequences as M_c^T Theta_c M_c with
        Theta_c block-diagonal."""
        prep = self._prepared(reference)
        st = self.tokens(X, reference)
        out = arb_mat(self.k, self.k)
        zero = arb(0)
        for seqs, M in prep["chunks"]:
            size = M.nrows()
            theta = [[zero] * size for _ in range(size)]
            off = 0
            for i in seqs:
                s, w, lp, lpp = st.s[i], st.w[i], st.lp[i], st.lpp[i]
                m = len(w)
                for a in range(m):
                    for b in range(m):
                        entry = lpp * w[a] * w[b] - lp * (w[a] * s[b] + s[a] * w[b])
                        theta[off + a][off + b] = entry + lp * w[a] if a == b else entry
                off += m
            out += M.transpose() * (arb_mat(theta) * M)
        return out * (arb(1) / self.n)
