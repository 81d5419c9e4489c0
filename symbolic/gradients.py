"""The attention loss built and differentiated with sympy, and proofs that the derivative equals the
closed forms the numeric code uses.

Model (DESIGN.md section 1), for a shape (n, T, d): sequences X_i (T x d), labels Y_i, head v,
attention logits q_i = X_i W theta_i with theta_i = p (prompt model) or z_i (self/cross attention,
query z_i given), W = K Q^T in the (K, Q) parameterisation, s_i = softmax(q_i),
f_i = (X_i v)^T s_i, and L = (1/n) sum_i l(Y_i f_i) with the loss l an *undefined* sympy function,
so that every identity proven here holds for every loss.

:func:`derive_gradient` differentiates L with sympy (``diff``) with respect to p, v, W, K or Q. To
compare with a closed form, both are put in one exact normal form: every e^{q_it} (and its powers,
which sympy forms from products) becomes a positive symbol E_it, and every l'(Y_i f_i) becomes a
symbol g_i; the closed forms are written in the same symbols. Since the g_i and E_it are then
independent, an identity in them holds for every loss and every logit. :func:`prove_equal` proves
A == B entrywise: the numerator of the common-denominator form of A - B expands to 0 (an exact
polynomial identity, never a floating comparison); both sides are affine in the g_i, so each entry is
split into its g-free part and its coefficients of g_i, which are proven 0 one by one.

Closed forms (gamma_it = Y_i v^T x_it, k_it = W^T x_it the rows of K_i = X_i W):

    grad_p L = (1/n) sum_i l'(u_i) Y_i K_i^T (diag(s_i) - s_i s_i^T) X_i v                     (matrix)
    grad_p L = (1/n) sum_i l'(u_i) sum_{t != a} s_it ((gamma_it - gamma_ia) + gap_i) (k_it - k_ia)   (stable)
               with gap_i = sum_{t != a} s_it (gamma_ia - gamma_it), any reference token a
    grad_v L = (1/n) sum_i l'(u_i) Y_i X_i^T s_i
    grad_W L = (1/n) sum_i l'(u_i) Y_i X_i^T (diag(s_i) - s_i s_i^T) X_i v theta_i^T
    grad_K L = grad_W L Q,   grad_Q L = (grad_W L)^T K

:func:`lambdify_gradient` turns the *derived* gradient (not the closed form) for a concrete loss into
numpy and mpmath functions: an implementation that shares no code with numeric/.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp

PARAMETERS = ("p", "v", "W", "K", "Q")
MODELS = ("prompt", "attention")


@dataclass
class SymbolicAttention:
    """The attention ERM of one shape with sympy entries (see module docstring).

    X: list of T x d matrices; Y: list of labels; v: d x 1; W: d x d (K Q^T when factored);
    p: d x 1 (prompt model) or None; z: list of d x 1 queries (attention model) or None;
    params: the trained parameters by name (matrices of free symbols); l: the undefined loss;
    E[i][t]: the positive symbol standing for e^{q_it}; g[i]: the symbol standing for l'(Y_i f_i);
    q[i]: the logits (T x 1); u[i]: the outputs Y_i f_i.
    """

    n: int
    T: int
    d: int
    model: str
    X: list
    Y: list
    v: sp.Matrix
    W: sp.Matrix
    p: sp.Matrix | None
    z: list | None
    K: sp.Matrix | None
    Q: sp.Matrix | None
    params: dict
    l: sp.Function
    E: list = field(default_factory=list)
    g: list = field(default_factory=list)
    q: list = field(default_factory=list)
    u: list = field(default_factory=list)

    @property
    def theta(self) -> list:
        """The vector each logit is linear in through W: p for every i, or z_i."""
        return [self.p] * self.n if self.model == "prompt" else self.z


def _sym_matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda a, b: sp.Symbol(f"{name}_{a}{b}", real=True))


def _sym_vector(name: str, size: int) -> sp.Matrix:
    return sp.Matrix(size, 1, lambda a, _: sp.Symbol(f"{name}_{a}", real=True))


def _rational(x) -> sp.Expr:
    """An exact sympy number: sympy numbers as they are; ints, Fractions, fraction strings and floats
    (their exact binary value) as Rationals."""
    from fractions import Fraction

    if isinstance(x, sp.Basic):
        return x
    fx = Fraction(x)
    return sp.Rational(fx.numerator, fx.denominator)


def attention_model(n: int, T: int, d: int, *, model: str = "prompt", factored: bool = False, rank: int | None = None,
                    data: dict | None = None) -> SymbolicAttention:
    """Build the symbolic attention ERM of shape (n, T, d).

    Every entry is a free symbol (X_i_tk, Y_i, v_k, W_ab, p_k, z_i_k; with ``factored`` W = K Q^T with
    K, Q of shape d x rank) unless ``data`` gives exact values for some of X (n x T x d nested lists),
    Y, v, W, z (ints, Fractions, floats as their exact binary value, or sympy numbers); the trained
    parameters p, W (or K, Q) stay symbolic so that they can be differentiated.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")
    data = data or {}
    if "X" in data:
        X = [sp.Matrix(T, d, lambda t, k: _rational(data["X"][i][t][k])) for i in range(n)]
    else:
        X = [_sym_matrix(f"X{i}", T, d) for i in range(n)]
    Y = [_rational(data["Y"][i]) for i in range(n)] if "Y" in data else [sp.Symbol(f"Y_{i}", real=True) for i in range(n)]
    v = sp.Matrix(d, 1, lambda a, _: _rational(data["v"][a])) if "v" in data else _sym_vector("v", d)
    params: dict = {"v": v} if "v" not in data else {}
    K = Q = None
    if factored:
        r = rank or d
        K, Q = _sym_matrix("K", d, r), _sym_matrix("Q", d, r)
        W = K * Q.T
        params.update(K=K, Q=Q)
    elif "W" in data:
        W = sp.Matrix(d, d, lambda a, b: _rational(data["W"][a][b]))
    else:
        W = _sym_matrix("W", d, d)
        params["W"] = W
    p = z = None
    if model == "prompt":
        p = _sym_vector("p", d)
        params["p"] = p
    else:
        if "z" in data:
            z = [sp.Matrix(d, 1, lambda a, _: _rational(data["z"][i][a])) for i in range(n)]
        else:
            z = [_sym_vector(f"z{i}", d) for i in range(n)]
    m = SymbolicAttention(n=n, T=T, d=d, model=model, X=X, Y=Y, v=v, W=W, p=p, z=z, K=K, Q=Q, params=params,
                          l=sp.Function("l"))
    m.E = [[sp.Symbol(f"E_{i}{t}", positive=True) for t in range(T)] for i in range(n)]
    m.g = [sp.Symbol(f"g_{i}", real=True) for i in range(n)]
    m.q = [X[i] * W * m.theta[i] for i in range(n)]
    exps = [sp.Matrix(T, 1, lambda t, _: sp.exp(m.q[i][t])) for i in range(n)]
    s = [e / sum(e) for e in exps]
    m.u = [Y[i] * ((X[i] * v).T * s[i])[0, 0] for i in range(n)]
    return m


def loss_expr(m: SymbolicAttention) -> sp.Expr:
    """L = (1/n) sum_i l(Y_i f_i) with f_i = (X_i v)^T softmax(X_i W theta_i)."""
    return sum(m.l(ui) for ui in m.u) / m.n


# -- normal form ------------------------------------------------------------------------------------

def _exp_to_E(m: SymbolicAttention, expr: sp.Expr) -> sp.Expr:
    """Replace every e^{k q_it} (k an integer) by E_it^k; anything else is an error."""
    table = [(m.q[i][t], m.E[i][t]) for i in range(m.n) for t in range(m.T)]

    def repl(arg):
        for q, E in table:
            if arg == q:
                return E
        for q, E in table:
            if q != 0:
                ratio = sp.cancel(arg / q)
                if ratio.is_Integer:
                    return E ** ratio
        if arg == 0:
            return sp.Integer(1)
        raise ValueError(f"exponential of an unexpected argument: {arg}")

    return expr.replace(lambda e: isinstance(e, sp.exp), lambda e: repl(e.args[0]))


def _lprime_to_g(m: SymbolicAttention, expr: sp.Expr) -> sp.Expr:
    """Replace every l'(Y_i f_i) (a Subs or Derivative object) by g_i."""

    def which(point) -> sp.Symbol:
        for i, ui in enumerate(m.u):
            if point == ui:
                return m.g[i]
        for i, ui in enumerate(m.u):
            if sp.simplify(point - ui) == 0:
                return m.g[i]
        raise ValueError(f"l' at an unexpected argument: {point}")

    mapping = {}
    for e in expr.atoms(sp.Subs):
        if isinstance(e.expr, sp.Derivative) and e.expr.expr.func == m.l and len(e.point) == 1:
            mapping[e] = which(e.point[0])
    for e in expr.atoms(sp.Derivative):
        if e.expr.func == m.l and not isinstance(e.expr.args[0], sp.Dummy) and e not in mapping:
            mapping[e] = which(e.expr.args[0])
    out = expr.xreplace(mapping)
    if out.has(m.l):
        raise ValueError("the loss l still occurs after replacing l' (second derivatives are not expected)")
    return out


def normal_form(m: SymbolicAttention, expr):
    """``expr`` (a sympy expression or Matrix) with e^{q_it} -> E_it and l'(Y_i f_i) -> g_i."""
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: normal_form(m, e))
    return _exp_to_E(m, _lprime_to_g(m, expr))


# -- derivation and closed forms -----------------------------------------------------------------------

@dataclass
class GradientDerivation:
    """dL/d(param) from sympy: ``raw`` (with e^{q} and l' objects) and ``normal`` (in E_it, g_i)."""

    param: str
    raw: sp.Matrix
    normal: sp.Matrix


def derive_gradient(m: SymbolicAttention, wrt: str) -> GradientDerivation:
    """grad_{wrt} L by sympy differentiation of :func:`loss_expr`, entry by entry of the parameter."""
    if wrt not in m.params:
        raise ValueError(f"{wrt!r} is not a trained parameter of this model (have {sorted(m.params)})")
    L = loss_expr(m)
    P = m.params[wrt]
    raw = P.applyfunc(lambda sym: sp.diff(L, sym))
    return GradientDerivation(param=wrt, raw=raw, normal=normal_form(m, raw))


def _softmax_E(m: SymbolicAttention, i: int) -> sp.Matrix:
    E = sp.Matrix(m.E[i])
    return E / sum(E)


def closed_form(m: SymbolicAttention, wrt: str, form: str = "matrix", reference: int = 0,
                drop: str | None = None) -> sp.Matrix:
    """The closed form of grad_{wrt} L in the normal-form symbols (see module docstring).

    ``form`` "matrix" or "stable" (p only; ``reference`` is the token a). ``drop`` removes one term on
    purpose, to show that the proof rejects a wrong formula: "ssT" (the - s s^T term of the matrix form)
    or "gap" (the gap term of the stable form).
    """
    n = m.n
    terms = []
    for i in range(n):
        s = _softmax_E(m, i)
        J = sp.diag(*s) - (sp.zeros(m.T, m.T) if drop == "ssT" else s * s.T)
        Xv = m.X[i] * m.v
        if wrt == "v":
            terms.append(m.g[i] * m.Y[i] * m.X[i].T * s)
        elif wrt == "p" and form == "matrix":
            Ki = m.X[i] * m.W
            terms.append(m.g[i] * m.Y[i] * Ki.T * J * Xv)
        elif wrt == "p" and form == "stable":
            a = reference
            Ki = m.X[i] * m.W
            gamma = [m.Y[i] * Xv[t] for t in range(m.T)]
            others = [t for t in range(m.T) if t != a]
            ratio = {t: m.E[i][t] / m.E[i][a] for t in others}          # e^{r_it}, r_it = q_it - q_ia
            z = 1 + sum(ratio.values())
            st = {t: ratio[t] / z for t in others}
            gap = sum(st[t] * (gamma[a] - gamma[t]) for t in others)
            if drop == "gap":
                gap = 0
            inner = sp.zeros(m.d, 1)
            for t in others:
                inner += st[t] * ((gamma[t] - gamma[a]) + gap) * (Ki[t, :] - Ki[a, :]).T
            terms.append(m.g[i] * inner)
        elif wrt in ("W", "K", "Q"):
            terms.append(m.g[i] * m.Y[i] * m.X[i].T * J * Xv * m.theta[i].T)
        else:
            raise ValueError(f"no closed form for {wrt!r} with form {form!r}")
    total = sum(terms[1:], terms[0]) / n
    if wrt == "K":
        return total * m.Q
    if wrt == "Q":
        return total.T * m.K
    return total


@dataclass
class Proof:
    """The outcome of :func:`prove_equal`: ok when every entry of A - B is exactly 0; nonzero lists
    the indices of the entries that are not, with their reduced numerators."""

    ok: bool
    entries: int
    nonzero: list
    method: str = "numerator of together(A - B) expands to 0"


def is_zero_exact(expr: sp.Expr) -> tuple[bool, sp.Expr]:
    """(expr == 0 as a rational function, the expanded numerator): together, then expand the numerator."""
    num, _ = sp.fraction(sp.together(expr))
    num = sp.expand(num)
    return num == 0, num


def _entry_is_zero(D: sp.Expr, linear_in: tuple) -> tuple[bool, sp.Expr]:
    """D == 0 exactly; with ``linear_in`` symbols g, first split D = D|_{g=0} + sum_i g_i dD/dg_i, which is
    valid once every dD/dg_i is seen to be free of g (then D is affine in g), and prove each part 0."""
    if linear_in:
        parts = [D.diff(g) for g in linear_in]
        if not any(part.has(*linear_in) for part in parts):
            for part in [D.subs({g: 0 for g in linear_in})] + parts:
                zero, num = is_zero_exact(part)
                if not zero:
                    return False, num
            return True, sp.Integer(0)
    return is_zero_exact(D)


def prove_equal(A: sp.Matrix, B: sp.Matrix, linear_in: tuple = ()) -> Proof:
    """Prove A == B entrywise in exact arithmetic (see :func:`is_zero_exact`); ``linear_in``: symbols in
    which both sides are affine (the g_i), used to split each entry into smaller identities."""
    if A.shape != B.shape:
        return Proof(ok=False, entries=0, nonzero=[("shape", A.shape, B.shape)])
    bad = []
    for idx in range(len(A)):
        zero, num = _entry_is_zero(A[idx] - B[idx], tuple(linear_in))
        if not zero:
            bad.append((divmod(idx, A.shape[1]), num))
    return Proof(ok=not bad, entries=len(A), nonzero=bad)


def prove_gradient(m: SymbolicAttention, wrt: str, form: str = "matrix", reference: int = 0,
                   drop: str | None = None) -> Proof:
    """Derive grad_{wrt} L with sympy and prove it equal to the closed form (``form``, ``reference``)."""
    return prove_equal(derive_gradient(m, wrt).normal, closed_form(m, wrt, form, reference, drop), linear_in=tuple(m.g))


# -- LaTeX ---------------------------------------------------------------------------------------

CLOSED_FORMS_LATEX = {
    "p_matrix": r"\nabla_p \mathcal{L} = \frac{1}{n}\sum_{i=1}^n \ell'(Y_i f_i)\, Y_i K_i^\top "
                r"\left(\operatorname{diag}(s_i) - s_i s_i^\top\right) X_i v",
    "p_stable": r"\nabla_p \mathcal{L} = \frac{1}{n}\sum_{i=1}^n \ell'(Y_i f_i) \sum_{t \ne a_i} s_{it}"
                r"\left((\gamma_{it} - \gamma_{ia_i}) + \mathrm{gap}_i\right)(k_{it} - k_{ia_i}),\quad "
                r"\mathrm{gap}_i = \sum_{t \ne a_i} s_{it}(\gamma_{ia_i} - \gamma_{it})",
    "v": r"\nabla_v \mathcal{L} = \frac{1}{n}\sum_{i=1}^n \ell'(Y_i f_i)\, Y_i X_i^\top s_i",
    "W": r"\nabla_W \mathcal{L} = \frac{1}{n}\sum_{i=1}^n \ell'(Y_i f_i)\, Y_i X_i^\top "
         r"\left(\operatorname{diag}(s_i) - s_i s_i^\top\right) X_i v\, \theta_i^\top",
    "K": r"\nabla_K \mathcal{L} = \nabla_W \mathcal{L}\, Q",
    "Q": r"\nabla_Q \mathcal{L} = (\nabla_W \mathcal{L})^\top K",
}


def derivation_latex(m: SymbolicAttention, wrt: str) -> dict:
    """LaTeX of the loss, of the derived gradient (in the normal-form symbols, E_it = e^{q_it} and
    g_i = l'(Y_i f_i)) and of the closed form it was proven equal to."""
    der = derive_gradient(m, wrt)
    key = "p_matrix" if wrt == "p" else wrt
    return {"loss": sp.latex(loss_expr(m)), "gradient": sp.latex(der.normal.applyfunc(sp.factor)),
            "closed_form": CLOSED_FORMS_LATEX[key],
            "symbols": r"E_{it} = e^{q_{it}},\ g_i = \ell'(Y_i f_i)"}


# -- lambdified gradients ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LambdifiedGradient:
    """grad_p L of the prompt model for one shape and one loss, from the sympy derivation.

    ``numpy(X, Y, v, W, p)`` (float64) and ``mpmath(X, Y, v, W, p)`` (mpmath numbers at the working
    precision) return the gradient as a list of d numbers; X is (n, T, d), Y (n,), v (d,), W (d, d).
    """

    n: int
    T: int
    d: int
    loss: str
    numpy: object
    mpmath: object


@lru_cache(maxsize=32)
def lambdify_gradient(n: int, T: int, d: int, loss: str = "log(1 + exp(-u))", wrt: str = "p") -> LambdifiedGradient:
    """Lambdify grad_{wrt} L of the fully symbolic prompt model of shape (n, T, d) with the loss
    ``loss`` (an expression in u, parsed by :func:`symbolic.losses.parse_loss`) substituted for l."""
    from .losses import parse_loss, u as u_sym

    m = attention_model(n, T, d)
    der = derive_gradient(m, wrt)
    lexpr = parse_loss(loss)
    concrete = der.raw.subs(m.l, sp.Lambda(u_sym, lexpr)).doit()
    args = [sp.Matrix([[m.X[i][t, k] for k in range(d)] for t in range(T)]) for i in range(n)]
    flat = [s for Xi in args for s in Xi] + list(m.Y) + list(m.v) + list(m.W) + list(m.p)
    out = list(concrete)
    f_np = sp.lambdify(flat, out, "numpy")
    f_mp = sp.lambdify(flat, out, "mpmath")

    def pack(X, Y, v, W, p):
        vals = [X[i][t][k] for i in range(n) for t in range(T) for k in range(d)]
        vals += list(Y) + list(v) + [W[a][b] for a in range(d) for b in range(d)] + list(p)
        return vals

    def grad_np(X, Y, v, W, p):
        import numpy as np

        X, W = np.asarray(X, dtype=float), np.asarray(W, dtype=float)
        return np.array(f_np(*[float(x) for x in pack(X.tolist(), Y, v, W.tolist(), p)]), dtype=float)

    def grad_mp(X, Y, v, W, p):
        return list(f_mp(*pack(X, Y, v, W, p)))

    return LambdifiedGradient(n=n, T=T, d=d, loss=loss, numpy=grad_np, mpmath=grad_mp)
