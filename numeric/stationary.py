"""Finite stationary points of the attention loss: found by Newton's method in float64, certified by the
Krawczyk test in interval arithmetic; and the descent certificate that rules them out along a diverging run.

The loss (DESIGN.md section 1) is L(theta) = (1/n) sum_i l(u_i), u_i = sum_t s_it gamma_it, s_i = softmax(Phi_i
theta), for features Phi (n, T, D) and scores gamma (n, T): the prompt model has Phi_it = W^T x_it (theta = p),
the self/cross W model Phi_it = vec(x_it z_i^T) (theta = vec(W)). Its gradient and Hessian (stable forms around
the dominant tokens) are stated in :mod:`numeric.interval_attention`.

Flat directions. L depends on theta only through the logit differences <theta, Phi_it - Phi_i0>, i.e. through
the projection of theta onto V = span{Phi_it - Phi_i0}: L(theta + w) = L(theta) for w in V^perp, grad L lies in
V and Hess L vanishes on V^perp. When dim V = k < D (few sequences, or features confined to a subspace, as for
W = diag(1, 1, 0) or for the W model with n(T - 1) < d^2) no stationary point is isolated: they come in affine
sets theta* + V^perp. The certificate then works in k coordinates J of theta (pivot columns of the exact matrix of
differences, so that theta = E_J xi reaches every logit pattern), proves that xi -> L(E_J xi) has a unique
stationary point in a box, and reports the set E_J xi* + V^perp. This is exact: grad L = M^T c for the matrix M of
differences and some c; if (M^T c)_J = M_J^T c = 0 then M^T c = 0, because every column of M is a combination of
the columns J. Gradient descent from theta_0 moves in theta_0 + V, so it meets that set in exactly one point.
"""
from __future__ import annotations

import decimal
import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction

import mpmath
import numpy as np
from flint import arb, arb_mat, ctx, fmpq, fmpq_mat, nmod_mat

from .attention import StableAttention
from .interval_attention import (IntervalAttention, LossDerivatives, arb_endpoints, exact_array, float_array,
                                 fraction_of, loss_derivatives, to_fmpq)

DEFAULT_DPS = 40
MAX_DIM = 300           # certify at most this many free coordinates ("too large" beyond)
PRIME = 2305843009213693951   # 2^61 - 1: ranks mod p are lower bounds of ranks over Q


# -- float64: the Hessian and Newton's method -----------------------------------------------------------------

def _derivs(loss) -> LossDerivatives:
    return loss if isinstance(loss, LossDerivatives) else loss_derivatives(loss)


def hessian(theta, phi, gamma, loss, attention: StableAttention | None = None) -> np.ndarray:
    """Hess_theta L in float64 by the stable formula around the dominant tokens a_i:

        Hess L = (1/n) sum_i [ l''(u_i) g_i g_i^T
                               + l'(u_i) (sum_{t != a_i} w_it dPhi_it dPhi_it^T - g_i m_i^T - m_i g_i^T) ]

    with w_it = s_it (dgamma_it + gap_i), g_i = sum_t w_it dPhi_it (= grad u_i), m_i = sum_t s_it dPhi_it
    (see :mod:`numeric.interval_attention`). No weight is formed by cancellation (s, gap from the tails).
    ``loss``: a :class:`numeric.Loss`, a loss expression, or :class:`LossDerivatives` (which supplies l'')."""
    d = _derivs(loss)
    att = attention if attention is not None else StableAttention(phi, gamma)
    theta = np.asarray(theta, dtype=float).reshape(-1)
    _, e_tail, z, gap, u = att.tails(theta)
    s = e_tail / z[:, None]                                   # 0 at a_i
    w = s * (att.dgamma + gap[:, None])
    n, T, D = att.dphi.shape
    dphi = att.dphi_flat
    g = np.einsum("it,itd->id", w, att.dphi)
    m = np.einsum("it,itd->id", s, att.dphi)
    lp = d.loss.derivative(u)
    lpp = d.second_derivative(u)
    c = (lp[:, None] * w).reshape(n * T)
    first = (dphi * c[:, None]).T @ dphi
    cross = (g * lp[:, None]).T @ m
    return (first + (g * lpp[:, None]).T @ g - cross - cross.T) / n


def loss_subspace(phi) -> np.ndarray:
    """An orthonormal basis (D, k) of V = span{Phi_it - Phi_i0} (float64 SVD, relative tolerance 1e-12): the
    directions L depends on (module docstring)."""
    phi = np.asarray(phi, dtype=float)
    n, T, D = phi.shape
    M = (phi[:, 1:, :] - phi[:, :1, :]).reshape(-1, D)
    if M.size == 0:
        return np.zeros((D, 0))
    _, sv, vt = np.linalg.svd(M, full_matrices=False)
    k = int(np.sum(sv > 1e-12 * max(sv.max(initial=0.0), 1e-300)))
    return vt[:k].T


@dataclass
class NewtonResult:
    """The outcome of :func:`find_stationary_point`.

    theta: the last iterate (float64, D); converged: the last Newton step was below ``step_tol`` (1 + ||theta||)
    (a candidate only: :func:`certify_stationary_point` decides); iterations; grad_norm: ||grad L|| there;
    step_norm: the last step's size; theta_norm; distance: ||theta - theta0||; subspace_dimension: dim V;
    eigenvalues: (min, max) of Hess L restricted to V at theta (float64), or None; reason: why it stopped;
    history: per iteration grad_norm (before the step), step_norm, theta_norm and loss (after it), and whether
    the step was damped (regularised).
    """

    theta: np.ndarray
    converged: bool
    iterations: int
    grad_norm: float
    step_norm: float
    theta_norm: float
    distance: float
    subspace_dimension: int
    eigenvalues: tuple | None
    reason: str
    history: list = field(default_factory=list)


def find_stationary_point(theta0, phi, gamma, loss, max_iter: int = 100, step_tol: float = 1e-12,
                          max_norm: float = 1e4, max_step: float | None = None, max_damping: int = 30,
                          mode: str = "minimum") -> NewtonResult:
    """Newton's method for grad L(theta) = 0 from theta0 (e.g. where GD seems to settle), in float64.

    Works in V (module docstring; orthonormal basis Q): g = Q^T grad L, H = Q^T Hess L Q, Newton step
    delta = -H^{-1} g. ``mode="minimum"`` (default; GD settles at minima): the Newton step is taken when H is
    positive definite and it decreases L, or it is small (<= 1e-3 (1 + ||theta||_inf)) and decreases ||g||
    (the local regime, where L's changes fall below float resolution); ``mode="any"``: taken whenever it
    decreases ||g|| (so Newton also converges to a nearby saddle, and may follow ||g|| -> 0 towards infinity).
    Otherwise a regularised Newton step on L, delta = -(H + mu I)^{-1} g with mu >= -lambda_min(H) (a descent
    direction of L), mu raised tenfold until L decreases, at most ``max_damping`` times. Steps are capped at
    ``max_step`` (default 1 + ||theta||). Stops when a Newton step is below step_tol (1 + ||theta||_inf)
    (converged), when ||theta|| exceeds ``max_norm`` or the attention saturates (every tail weight e^{r}
    below 1e-300: the path runs to infinity, no finite stationary point reached), when no step is accepted,
    or after ``max_iter`` iterations. Budgets are iteration counts. Converged is evidence, not proof: certify
    the result with :func:`certify_stationary_point`.
    """
    if mode not in ("minimum", "any"):
        raise ValueError(f"mode: expected 'minimum' or 'any', got {mode!r}")
    d = _derivs(loss)
    phi = np.asarray(phi, dtype=float)
    gamma = np.asarray(gamma, dtype=float)
    theta0 = np.asarray(theta0, dtype=float).reshape(-1)
    theta = theta0.copy()
    att = StableAttention(phi, gamma)
    Q = loss_subspace(phi)
    k = Q.shape[1]
    full = k == phi.shape[2]
    history: list = []

    def grad_q(th):
        g = att.gradient(th, d.loss)
        return g if full else Q.T @ g

    def hess_q(th):
        H = hessian(th, phi, gamma, d, attention=att)
        return H if full else Q.T @ H @ Q

    def lift(step):
        return step if full else Q @ step

    def loss_at(th):
        return float(np.mean(d.loss.value(att.tails(th)[4])))

    reason, converged, step_norm, it = "iteration budget spent", False, float("nan"), 0
    if k == 0:
        reason = "L is constant (no two tokens of a sequence differ in features): every point is stationary"
    for it in range(1, max_iter + 1):
        if k == 0:
            it = 0
            break
        r_tail = att.tails(theta)[0]
        if np.all(r_tail[np.isfinite(r_tail)] < -690.0) and np.isfinite(r_tail).any():
            reason = "attention saturated (every tail weight below 1e-300): the path runs to infinity"
            break
        g = grad_q(theta)
        H = hess_q(theta)
        gnorm = float(np.linalg.norm(g))
        try:
            newton = -np.linalg.solve(H, g)
            if not np.all(np.isfinite(newton)):
                newton = None
        except np.linalg.LinAlgError:
            newton = None
        scale = 1.0 + float(np.max(np.abs(theta)))
        if newton is not None and float(np.max(np.abs(newton), initial=0.0)) <= step_tol * scale:
            theta = theta + lift(newton)
            step_norm = float(np.linalg.norm(newton))
            history.append({"grad_norm": gnorm, "step_norm": step_norm, "theta_norm": float(np.linalg.norm(theta)),
                            "loss": loss_at(theta), "damped": False})
            converged, reason = True, "Newton step below step_tol"
            break
        cap = max_step if max_step is not None else 1.0 + float(np.linalg.norm(theta))
        accepted, damped = None, False
        lam = np.linalg.eigvalsh(H)
        base = loss_at(theta)
        if newton is not None:
            size = float(np.linalg.norm(newton))
            step = newton * (cap / size) if size > cap else newton
            trial = theta + lift(step)
            if mode == "any":
                # Newton on grad L = 0 with ||grad L|| as merit: converges to nearby saddles too
                if float(np.linalg.norm(grad_q(trial))) < gnorm:
                    accepted = step
            elif lam[0] > 0:
                # local Newton regime: a small step that decreases ||grad L||, or any step that decreases L
                small = float(np.linalg.norm(step)) <= 1e-3 * scale
                if (small and float(np.linalg.norm(grad_q(trial))) < gnorm) or loss_at(trial) < base:
                    accepted = step
        if accepted is None:
            # regularised Newton on L itself: (H + mu I) positive definite, so the step descends L
            mu = max(0.0, -float(lam[0])) + 1e-8 * max(float(np.max(np.abs(lam))), 1e-300)
            for _ in range(max_damping + 1):
                step = -np.linalg.solve(H + mu * np.eye(k), g)
                size = float(np.linalg.norm(step))
                if size > cap:
                    step = step * (cap / size)
                if loss_at(theta + lift(step)) < base:
                    accepted, damped = step, True
                    break
                mu = 10.0 * mu + 1e-300
        if accepted is None:
            reason = "no step decreases ||grad L|| (Newton) or L (regularised Newton)"
            break
        theta = theta + lift(accepted)
        step_norm = float(np.linalg.norm(accepted))
        history.append({"grad_norm": gnorm, "step_norm": step_norm, "theta_norm": float(np.linalg.norm(theta)),
                        "loss": loss_at(theta), "damped": damped})
        if np.linalg.norm(theta) > max_norm:
            reason = f"||theta|| exceeded max_norm = {max_norm:g}: the Newton path runs to infinity"
            break
    eig = None
    if k > 0:
        lam = np.linalg.eigvalsh(hess_q(theta))
        eig = (float(lam[0]), float(lam[-1]))
    return NewtonResult(theta=theta, converged=converged, iterations=it,
                        grad_norm=float(np.linalg.norm(att.gradient(theta, d.loss))), step_norm=step_norm,
                        theta_norm=float(np.linalg.norm(theta)), distance=float(np.linalg.norm(theta - theta0)),
                        subspace_dimension=k, eigenvalues=eig, reason=reason, history=history)


# -- exact span of the differences -------------------------------------------------------------------------

def exact_span(phi_exact) -> tuple[int, list[int]]:
    """(k, J): k = dim V = rank of the exact matrix M of rows Phi_it - Phi_i0, and J (k column indices) whose
    columns of M are linearly independent and span its column space. Rank mod the prime 2^61 - 1 (a lower bound
    of the rank over Q) proves full rank D cheaply; otherwise exact row reduction over Q (python-flint)."""
    phi = exact_array(phi_exact)
    n, T, D = phi.shape
    diffs = (phi[:, 1:, :] - phi[:, :1, :]).reshape(-1, D)
    rows = [list(r) for r in diffs if any(x != 0 for x in r)]
    if not rows:
        return 0, []
    mat = fmpq_mat(rows)
    if len(rows) >= D:
        numer, _ = mat.numer_denom()
        if nmod_mat(numer, PRIME).rank() == D:
            return D, list(range(D))
    R, rank = mat.rref()
    pivots = []
    for i in range(rank):
        for c in range(D):
            if R[i, c] != 0:
                pivots.append(c)
                break
    return int(rank), pivots


# -- small helpers for balls and decimals ------------------------------------------------------------------

def _upper(x: arb) -> float:
    """A float >= every point of the ball x."""
    hi = float(x.upper().mid()) if x.is_finite() else math.inf
    return math.nextafter(hi, math.inf)


def _lower(x: arb) -> float:
    """A float <= every point of the ball x."""
    lo = float(x.lower().mid()) if x.is_finite() else -math.inf
    return math.nextafter(lo, -math.inf)


def _mid_fmpq(x: arb) -> fmpq:
    m, e = x.mid().man_exp()
    m, e = int(m), int(e)
    return fmpq(m * 2 ** e) if e >= 0 else fmpq(m, 2 ** (-e))


def _decimal(q: fmpq, digits: int) -> str:
    """q rounded to ``digits`` significant decimal digits (a string whose exact value is the new centre)."""
    with mpmath.workprec(int(digits * 3.33) + 40):
        return mpmath.nstr(mpmath.mpf(int(q.p)) / int(q.q), digits, strip_zeros=True, min_fixed=-4, max_fixed=8)


def _directed(q: Fraction, digits: int, up: bool) -> str:
    """q rounded to ``digits`` significant decimal digits upwards (``up``) or downwards."""
    with decimal.localcontext() as dc:
        dc.prec = digits
        dc.rounding = decimal.ROUND_CEILING if up else decimal.ROUND_FLOOR
        return str(decimal.Decimal(q.numerator) / decimal.Decimal(q.denominator))


def _interval_strings(x: arb, digits: int = 20) -> list:
    """[lo, hi] decimal strings with lo <= every point of the ball x <= hi (directed rounding)."""
    lo, hi = arb_endpoints(x)
    return [_directed(lo, digits, False), _directed(hi, digits, True)]


def _abs_upper(x: arb) -> arb:
    return x.abs_upper()


# -- the inertia of an interval Hessian -------------------------------------------------------------------------

def certified_inertia(H: arb_mat, Q: np.ndarray) -> tuple[tuple | None, tuple | None]:
    """((#positive, #negative), (lower, upper)) for every symmetric matrix A in the ball matrix H, or None parts.

    Q is any real k x k matrix (the float64 eigenvectors of a member of H make it work well). With
    B = Q^T H Q (ball matrix) and eps an upper bound of ||Q^T Q - I||_2 (by ||.||_inf, E being symmetric):
    if eps < 1, Q is nonsingular and, for every A in H, Q^T A Q is congruent to A (Sylvester: same inertia)
    and lambda_k(Q^T A Q) = theta_k lambda_k(A) with theta_k in [1 - eps, 1 + eps] (Ostrowski). Every
    eigenvalue of Q^T A Q lies in the union of the Gershgorin intervals [B_ii -+ sum_{j != i} |B_ij|], and a
    connected union of m of them holds m eigenvalues; so when no interval contains 0, the number of intervals
    right of 0 is the number of positive eigenvalues of every A in H. The bounds are those of the union,
    divided by theta on the safe side."""
    k = H.nrows()
    Qa = arb_mat(np.asarray(Q, dtype=float).tolist())
    eye = arb_mat([[1 if i == j else 0 for j in range(k)] for i in range(k)])
    unit_box = arb_mat([[arb(0).union(arb(1)).union(arb(-1))] for _ in range(k)])
    B = Qa.transpose() * H * Qa
    spread_e = (Qa.transpose() * Qa - eye) * unit_box       # radii >= the row sums of |Q^T Q - I|
    eps = max(_abs_upper(spread_e[i, 0]) for i in range(k))
    if not eps < 1:
        return None, None
    spread_b = B * unit_box
    lows, highs, pos, neg = [], [], 0, 0
    for i in range(k):
        # Gershgorin radius: sum_{j != i} |B_ij| <= (row sum of |B_i.|) - |B_ii|
        rad = _abs_upper(spread_b[i, 0]) - _abs_upper(B[i, i])
        lo, hi = B[i, i] - rad, B[i, i] + rad
        lows.append(lo.lower())
        highs.append(hi.upper())
        pos += bool(lo > 0)
        neg += bool(hi < 0)
    lo_b, hi_b = min(lows, key=_lower), max(highs, key=_upper)
    lo_b = lo_b / (1 + eps) if lo_b >= 0 else lo_b / (1 - eps)
    hi_b = hi_b / (1 - eps) if hi_b >= 0 else hi_b / (1 + eps)
    return ((pos, neg) if pos + neg == k else None), (_lower(lo_b), _upper(hi_b))


# -- the Krawczyk certificate ------------------------------------------------------------------------------

@dataclass
class StationaryCertificate:
    """The outcome of :func:`certify_stationary_point` (JSON-ready through :meth:`to_dict`).

    certified: True only when the Krawczyk inclusion holds and both self-checks pass (see the function);
    reason: why not ("" when certified); centre: the exact centre theta_c (decimal strings, D entries; coordinates
    outside ``coordinates`` are 0); radius: r, the box is theta_c + [-r, r] in the coordinates J (the others
    fixed); coordinates: J (None when all D are used); flat_dimension: D - k (stationary points come in sets
    theta* + V^perp of that dimension); gradient_enclosure: [lo, hi] decimal strings of grad L at theta_c in the
    coordinates J; gradient_bound: an upper bound of max |grad L(theta_c)| over J; krawczyk_margin:
    r - max_i |K_i - y_i| (positive: inclusion in the interior) and its ratio to r, contraction: an upper bound
    of max_i sum_j |I - C H(X)|_ij; newton_correction: an upper bound of max |C grad L(theta_c)|; dps;
    eigenvalues: (min, max) of Hess L on V at theta_c in float64 (not certified); inertia: (#positive,
    #negative) eigenvalues, certified for every matrix in the interval Hessian over the smallest successful box
    (radius ``classification_radius``; it holds the zero too) (None if not certified);
    kind: "minimum" / "saddle" / "maximum" by that inertia (None if not certified); positive_definite_on_box:
    the interval Hessian is certified positive definite over that box (the point is then a strict local
    minimum of L, strict across V when flat_dimension > 0); eigenvalue_bounds: certified (lower bound of the
    smallest, upper bound of the largest) eigenvalue over that box, of Hess L in the coordinates J;
    theta_norm: ||theta_c||; theta_norm_min: min ||theta|| over theta_c + V^perp; distance: how far theta_approx
    is from that set (max norm, float64); shift: max |xi_c - xi_approx| in the coordinates J; refinement_steps;
    tries: the radii tried with their margins; checks: the self-checks (Hessian consistency, gradient against
    the float64 engine).
    """

    certified: bool
    reason: str
    dps: int
    centre: list | None = None
    radius: float | None = None
    classification_radius: float | None = None
    coordinates: list | None = None
    flat_dimension: int | None = None
    gradient_enclosure: list | None = None
    gradient_bound: float | None = None
    krawczyk_margin: float | None = None
    krawczyk_margin_ratio: float | None = None
    contraction: float | None = None
    newton_correction: float | None = None
    eigenvalues: tuple | None = None
    inertia: tuple | None = None
    kind: str | None = None
    positive_definite_on_box: bool = False
    eigenvalue_bounds: tuple | None = None
    theta_norm: float | None = None
    theta_norm_min: float | None = None
    distance: float | None = None
    shift: float | None = None
    refinement_steps: int = 0
    tries: list = field(default_factory=list)
    checks: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("eigenvalues", "inertia", "eigenvalue_bounds"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out


def certify_stationary_point(theta_approx, phi_exact, gamma_exact, loss, dps: int = DEFAULT_DPS,
                             max_dim: int = MAX_DIM, refine_steps: int = 8, max_shift: float = 1e-6,
                             max_tries: int = 8, radius: float | None = None, grow: int = 3) -> StationaryCertificate:
    """Prove (or fail to prove) that grad L has exactly one zero in a small box around theta_approx.

    Theorem (Krawczyk 1969; Moore 1977; Rump 1983). Let f: R^k -> R^k be C^1 on a box X, y in X, C a real
    k x k matrix and **H** an interval matrix containing f'(x) for every x in X. If

        K(X) = y - C f(y) + (I - C **H**)(X - y)   lies in the interior of X,

    then C and every matrix in **H** are nonsingular and f has exactly one zero x* in X (and x* is in K(X)).
    (g(x) = x - C f(x) maps X into K(X), by the mean value theorem, since g'(x) = I - C f'(x) and **H** is
    convex; Brouwer's theorem gives a fixed point, i.e. a zero of f once C is nonsingular; inclusion in the
    interior forces the spectral radius of |I - C **H**| below 1, hence nonsingularity and uniqueness.)

    Here f = grad of xi -> L(E_J xi) (module docstring), y = the centre, X = y + [-r, r]^k, C = the inverse of
    the float64 Hessian at y (a point matrix; any C is allowed, a good one makes K small), f(y) enclosed in
    ball arithmetic at the point y, **H** = the ball enclosure of the Hessian over all of X
    (:class:`numeric.interval_attention.IntervalAttention`). The data enter as exact rationals (Fraction object
    arrays; floats count as their exact binary values).

    Steps: exact span (k, J); k > ``max_dim`` -> "too large"; up to ``refine_steps`` Newton corrections
    y <- y - C f(y) at ``dps`` digits (their total must stay below ``max_shift`` (1 + ||y||_inf), else "not
    near a stationary point"); y rounded to ``dps`` significant digits (the exact decimal centre reported);
    then radii r tried at most ``max_tries`` times (first ``radius`` if given, else about sqrt(|C f(y)| 1e-4)),
    grown when |C f(y)| is the obstacle and shrunk when the Hessian's variation over X is. After a success the
    radius is grown up to ``grow`` times (towards where the row sums of |I - C **H**| would reach 0.2, at most
    1e8-fold per try, below 1e-3 (1 + ||y||_inf)) while the test still passes: a larger box proves
    uniqueness over a larger region. Two self-checks must pass before ``certified`` is set: (i) the Hessian
    enclosure is consistent with the gradient: for two corners x1 of the largest and of the smallest
    successful box, f(x1) - f(y) must meet **H** (x1 - y) (it lies in it when **H** is right); (ii) the
    gradient at y agrees with the float64 engine :class:`numeric.StableAttention` (separate code) to 1e-9 of
    the scale of its terms (a formula error in either shows up far above that). Classification
    (:func:`certified_inertia`) on the smallest successful box, which holds the zero too.

    Ball arithmetic: python-flint's arb (midpoint-radius, outward rounded) for the D-dimensional linear
    algebra, which keeps D ~ 150 within seconds; a loss expression's l', l'' go through ``symbolic.iv_eval``
    in mpmath.iv, converted exactly.
    """
    rec = StationaryCertificate(certified=False, reason="", dps=int(dps))
    phi_o = np.asarray(phi_exact, dtype=object)
    gamma_o = np.asarray(gamma_exact, dtype=object)
    if phi_o.ndim != 3 or gamma_o.shape != phi_o.shape[:2]:
        raise ValueError(f"features must be (n, T, D) and scores (n, T); got {phi_o.shape} and {gamma_o.shape}")
    n, T, D = phi_o.shape
    theta_a = np.asarray(theta_approx, dtype=object).reshape(-1)
    if theta_a.shape[0] != D:
        raise ValueError(f"theta_approx has {theta_a.shape[0]} entries, the features have D = {D}")
    derivs = _derivs(loss)
    if min(D, n * (T - 1)) > max_dim or D > 4 * max_dim:
        rec.reason = f"not certified: too large (D = {D}, n(T-1) = {n * (T - 1)}, limit {max_dim} free coordinates)"
        return rec
    phi_q, gamma_q = exact_array(phi_o), exact_array(gamma_o)
    k, J = exact_span(phi_q)
    rec.flat_dimension = D - k
    rec.coordinates = None if k == D else J
    if k == 0:
        rec.reason = "not certified: L is constant (every point is stationary; no isolated stationary point)"
        return rec
    if k > max_dim:
        rec.reason = f"not certified: too large (k = {k} free coordinates, limit {max_dim})"
        return rec
    phi_f, gamma_f = float_array(phi_q), float_array(gamma_q)
    theta_q = [to_fmpq(x) for x in theta_a]
    theta_f = np.array([float(fraction_of(x)) for x in theta_q])
    phi_J = phi_f[:, :, J]
    if k == D:
        xi0 = list(theta_q)
    else:
        M_f = (phi_f[:, 1:, :] - phi_f[:, :1, :]).reshape(-1, D)
        sol = np.linalg.lstsq(M_f[:, J], M_f @ theta_f, rcond=None)[0]
        xi0 = [to_fmpq(float(x)) for x in sol]
    xi0_f = np.array([float(fraction_of(x)) for x in xi0])
    att_J = StableAttention(phi_J, gamma_f)
    prec = int(dps * 3.33) + 20
    engine = IntervalAttention(phi_q, gamma_q, derivs, coords=J)

    def reference(xi_f):
        return np.argmax(phi_J @ xi_f, axis=1)

    H0 = hessian(xi0_f, phi_J, gamma_f, derivs, attention=att_J)
    if not np.all(np.isfinite(H0)):
        rec.reason = "not certified: the float64 Hessian is not finite at the candidate"
        return rec
    cond = np.linalg.cond(H0)
    if not np.isfinite(cond) or cond > 1e13:
        rec.reason = (f"not certified: the Hessian is singular or nearly so at the candidate (condition number "
                      f"{cond:.3g}); no isolated stationary point can be certified there")
        return rec
    C_f = np.linalg.inv(H0)

    with ctx.workprec(prec):
        C = arb_mat(C_f.tolist())
        y = list(xi0)
        ref = reference(xi0_f)
        last = 0.0 if refine_steps <= 0 else math.inf
        steps = 0
        for steps in range(1, max(refine_steps, 0) + 1):
            g = engine.gradient(engine.box(y), ref)
            delta = C * g
            y = [_mid_fmpq(arb(y[i]) - delta[i, 0]) for i in range(k)]
            last = max(abs(float(delta[i, 0].mid())) for i in range(k))
            ymax = max(abs(float(fraction_of(x))) for x in y)
            if last <= 2.0 ** (-(prec - 30)) * (1.0 + ymax):
                break
        rec.refinement_steps = steps
        centre = [to_fmpq(_decimal(x, dps)) for x in y]
        centre_f = np.array([float(fraction_of(x)) for x in centre])
        shift = float(max(abs(fraction_of(a - b)) for a, b in zip(centre, xi0)))
        rec.shift = shift
        ref = reference(centre_f)
        if shift > max_shift * (1.0 + float(np.max(np.abs(xi0_f)))):
            rec.reason = (f"not certified: the candidate is not near a stationary point (Newton corrections moved it "
                          f"by {shift:.3g} > max_shift)")
            return rec
        if last > 1e-6 * (1.0 + float(np.max(np.abs(centre_f)))):
            rec.reason = f"not certified: the Newton corrections do not settle (last correction {last:.3g})"
            return rec
        Y = engine.box(centre)
        gy = engine.gradient(Y, ref)
        v = C * gy
        a = max(_upper(_abs_upper(v[i, 0])) for i in range(k))
        rec.newton_correction = a
        rec.gradient_enclosure = [_interval_strings(gy[i, 0]) for i in range(k)]
        rec.gradient_bound = max(_upper(_abs_upper(gy[i, 0])) for i in range(k))
        eye = arb_mat([[1 if i == j else 0 for j in range(k)] for i in range(k)])
        scale = 1.0 + float(np.max(np.abs(centre_f)))
        if radius is not None:
            r = float(radius)
        else:
            r = min(max(math.sqrt(a * 1e-4), 16.0 * a, 2.0 ** (-prec / 2)), 1e-4 * scale)
        unit_box = arb_mat([[arb(0).union(arb(1)).union(arb(-1))] for _ in range(k)])

        def attempt(r):
            """The Krawczyk test with X = centre + [-r, r]^k: (passed, worst |K_i - y_i|, row-sum bound, **H**)."""
            rq = to_fmpq(r)
            HX = engine.hessian(engine.box(centre, rq), ref)
            Z = eye - C * HX
            sym = arb(0).union(arb(rq)).union(-arb(rq))
            dev = Z * arb_mat([[sym] for _ in range(k)]) - v
            worst = max(_upper(_abs_upper(dev[i, 0])) for i in range(k))
            passed = all(_abs_upper(dev[i, 0]) < arb(rq) for i in range(k))
            # Z (0 +- 1 per entry) has radii >= the row sums of |Z|: a bound of max_i sum_j |Z_ij|
            spread = Z * unit_box
            b = max(_upper(_abs_upper(spread[i, 0])) for i in range(k))
            rec.tries.append({"radius": r, "margin": r - worst, "contraction": b, "passed": passed})
            return passed, worst, b, HX

        best = first = None
        for _ in range(max_tries):
            passed, worst, b, HX = attempt(r)
            if passed:
                best = first = (r, worst, b, HX)
                break
            if a > 0.5 * r or not math.isfinite(b):
                r = 4.0 * a if 4.0 * a > r else 10.0 * r
            else:
                new = r * min(0.1, 0.5 / b)
                if new < 2.0 * a:
                    break
                r = new
        kappa = None
        for _ in range(grow if best is not None else 0):
            # b(r) ~ b0 + kappa r: aim at b = 0.2 (a fifth of the room), at most 1e8-fold, below 1e-3 (1 + |y|)
            target = best[0] * 1e3 if kappa is None else 0.2 / kappa
            target = min(target, best[0] * 1e8, 1e-3 * scale)
            if target <= 1.5 * best[0]:
                break
            passed, worst, b, HX = attempt(target)
            if b > best[2]:
                kappa = (b - best[2]) / (target - best[0])
            if not passed:
                break
            best = (target, worst, b, HX)
        ok = best is not None
        if ok:
            r, worst, b, HX = best
            rec.radius, rec.krawczyk_margin, rec.krawczyk_margin_ratio, rec.contraction = r, r - worst, \
                (r - worst) / r, b
        # centre and norms (reported whether or not certified)
        theta_c = [fmpq(0)] * D
        for j, c in zip(J, centre):
            theta_c[j] = c
        theta_cf = np.array([float(fraction_of(x)) for x in theta_c])
        rec.centre = [_decimal(x, dps) for x in theta_c]
        rec.theta_norm = float(np.linalg.norm(theta_cf))
        QV = loss_subspace(phi_f) if k < D else None
        if QV is None:
            rec.theta_norm_min = rec.theta_norm
            rec.distance = float(np.max(np.abs(theta_cf - theta_f)))
        else:
            rec.theta_norm_min = float(np.linalg.norm(QV.T @ theta_cf))
            rec.distance = float(np.max(np.abs(QV @ (QV.T @ (theta_cf - theta_f)))))
        Hfull = hessian(theta_cf, phi_f, gamma_f, derivs)
        lam = np.linalg.eigvalsh(Hfull if QV is None else QV.T @ Hfull @ QV)
        rec.eigenvalues = (float(lam[0]), float(lam[-1]))
        if not ok:
            rec.reason = "not certified: no tried radius gives K(X) inside X (Krawczyk test failed)"
            return rec
        # self-check (i): gradient differences against the Hessian enclosure, at two corners of the largest and
        # of the smallest successful box
        consistent = True
        for r_box, HX_box in {(best[0], id(best[3])): (best[0], best[3]),
                              (first[0], id(first[3])): (first[0], first[3])}.values():
            rq_box = to_fmpq(r_box)
            for pattern in (lambda i: 1, lambda i: 1 if (i * 7 + 3) % 5 < 2 else -1):
                h = [rq_box * pattern(i) for i in range(k)]
                g1 = engine.gradient(engine.box([c + hi for c, hi in zip(centre, h)]), ref)
                pred = HX_box * arb_mat([[arb(x)] for x in h])
                consistent = consistent and all((g1[i, 0] - gy[i, 0]).overlaps(pred[i, 0]) for i in range(k))
        rec.checks["hessian_consistent"] = consistent
        # self-check (ii): the gradient at the centre against the float64 engine (independent code)
        g64 = att_J.gradient(centre_f, derivs.loss)
        c64 = att_J.coefficients(centre_f, derivs.loss)
        term_scale = float(np.max(np.abs(c64.reshape(-1)) @ np.abs(att_J.dphi_flat))) / n
        H_c = hessian(centre_f, phi_J, gamma_f, derivs, attention=att_J)
        tol = 1e-9 * (term_scale + float(np.max(np.abs(H_c))) * scale)
        diff = max(abs(float(gy[i, 0].mid()) - float(g64[i])) for i in range(k))
        rec.checks["gradient_vs_float64"] = diff
        rec.checks["gradient_tolerance"] = tol
        if not consistent:
            rec.reason = "not certified: the Hessian enclosure is inconsistent with the gradient (internal error)"
            return rec
        if not diff <= tol:
            rec.reason = (f"not certified: the interval gradient disagrees with the float64 gradient by {diff:.3g} "
                          f"(internal error)")
            return rec
        # classification: inertia of every Hessian in the smallest successful box
        rec.classification_radius = first[0]
        inertia, bounds = certified_inertia(first[3], np.linalg.eigh(H_c)[1])
        rec.eigenvalue_bounds = bounds
        if inertia is not None:
            rec.inertia = inertia
            rec.kind = "minimum" if inertia[0] == k else "maximum" if inertia[1] == k else "saddle"
            rec.positive_definite_on_box = inertia[0] == k
    rec.certified = True
    return rec


# -- the descent certificate ---------------------------------------------------------------------------------

@dataclass
class DescentCertificate:
    """The outcome of :func:`descent_certificate`.

    value: <grad L(theta), p_mm> in float64 (stable formula; 0.0 when it underflows); scaled_value: the same
    times e^{-max r} (never underflows; same sign); float_error: an estimate of the float64 rounding error of
    scaled_value; sign: -1, 0 or +1 (from the enclosure when there is one, else from float64); sign_certified:
    the interval enclosure excludes 0; enclosure: [lo, hi] decimal strings of the exact value (None when not
    computed); dps: digits of the enclosure; method: "float64" or "interval (arb)"; theta_norm.
    """

    value: float
    scaled_value: float
    float_error: float
    sign: int
    sign_certified: bool
    enclosure: list | None
    dps: int | None
    method: str
    theta_norm: float

    def to_dict(self) -> dict:
        return asdict(self)


REFERENCE_REUSE_GAP = 8.0   # descent_certificate: largest logit excess over a reused reference token


def descent_certificate(theta, p_mm, phi, gamma, loss, dps: int = 30, max_dps: int = 240, certify: bool = True,
                        engine: IntervalAttention | None = None) -> DescentCertificate:
    """The sign of <grad L(theta), p_mm> (the first paper's descent lemma: under its premises, equal
    non-optimal scores within each sequence and Assumption A, it is negative for every finite theta, so grad L
    never vanishes and GD never stops at a finite point).

    float64 first, by the stable formula: sum_{i,t} c_it <dPhi_it, p_mm> / n with the scaled coefficients
    c_it of :meth:`StableAttention.coefficients` (no underflow), with a rounding-error estimate (an estimate,
    not a bound): (16 + D + nT) eps sum_it |c_it| (|<dPhi_it, p_mm>| + ||dPhi_it||_1 ||p_mm||_inf) / n.
    With ``certify`` (default), or when the float sign is doubtful (|value| below the estimate), the value is
    enclosed in ball arithmetic (exact data: phi, gamma, theta, p_mm taken as the exact numbers they denote)
    at ``dps`` digits, doubling up to ``max_dps`` until the enclosure excludes 0. A certified negative sign
    proves grad L(theta) != 0 (theta is not stationary) and that p_mm is a descent direction there; it says
    nothing about other points. Pass an ``engine`` (an :class:`IntervalAttention` over the same data, all
    coordinates) to reuse its exact data along a run. Without ``certify`` and with float64 ``phi``, nothing is
    converted to exact numbers: the float64 sign is returned, uncertified even when doubtful.
    """
    d = _derivs(loss)
    if engine is not None and engine.k == engine.D:   # the engine's exact data and their floats, converted once
        phi_q, gamma_q = engine.phi, engine.gamma
        if "floats" not in engine._cache:
            engine._cache["floats"] = (float_array(phi_q), float_array(gamma_q))
        phi_f, gamma_f = engine._cache["floats"]
    elif not certify and isinstance(phi, np.ndarray) and phi.dtype.kind == "f":   # float64 data, float64 sign only
        phi_q = gamma_q = None
        phi_f, gamma_f = phi, np.asarray(gamma, dtype=float)
    else:
        phi_q, gamma_q = exact_array(phi), exact_array(gamma)
        phi_f, gamma_f = float_array(phi_q), float_array(gamma_q)
    theta_q = exact_array(np.asarray(theta, dtype=object).reshape(-1))
    p_q = exact_array(np.asarray(p_mm, dtype=object).reshape(-1))
    theta_f, p_f = float_array(theta_q), float_array(p_q)
    n, T, D = phi_f.shape
    att = StableAttention(phi_f, gamma_f)
    tails = att.tails(theta_f)
    c_scaled = att.coefficients(theta_f, d.loss, scaled=True, tails=tails).reshape(-1)
    c = att.coefficients(theta_f, d.loss, scaled=False, tails=tails).reshape(-1)
    proj = att.dphi_flat @ p_f
    terms = c_scaled * proj
    scaled_value = float(terms.sum() / n)
    value = float((c * proj).sum() / n)
    spread = np.abs(proj) + np.abs(att.dphi_flat).sum(axis=1) * float(np.max(np.abs(p_f), initial=0.0))
    float_error = (16 + D + n * T) * float(np.finfo(float).eps) * float(np.abs(c_scaled) @ spread) / n
    theta_norm = float(np.linalg.norm(theta_f))
    doubtful = not abs(scaled_value) > float_error
    if not certify and (not doubtful or phi_q is None):
        return DescentCertificate(value=value, scaled_value=scaled_value, float_error=float_error,
                                  sign=int(np.sign(scaled_value)), sign_certified=False, enclosure=None, dps=None,
                                  method="float64", theta_norm=theta_norm)
    eng = engine if engine is not None else IntervalAttention(phi_q, gamma_q, d)
    logits = phi_f @ theta_f
    ref = np.argmax(logits, axis=1)
    # any reference tokens are exact algebra; the engine's previous ones are kept while no logit exceeds theirs by
    # more than REFERENCE_REUSE_GAP (bounded exponents), so its prepared exact differences serve the whole run
    last = eng._cache.get("last_reference")
    if last is not None and float(np.max(logits.max(axis=1) - logits[np.arange(n), last])) <= REFERENCE_REUSE_GAP:
        ref = last
    eng._cache["last_reference"] = ref
    digits = int(dps)
    while True:
        with ctx.workprec(int(digits * 3.33) + 20):
            enc = eng.directional(eng.box(theta_q), ref, p_q)
            certain = bool(enc < 0) or bool(enc > 0)
            strings = _interval_strings(enc)
            sign = -1 if enc < 0 else 1 if enc > 0 else int(np.sign(scaled_value))
        if certain or digits * 2 > max_dps:
            break
        digits *= 2
    return DescentCertificate(value=value, scaled_value=scaled_value, float_error=float_error, sign=sign,
                              sign_certified=certain, enclosure=strings, dps=digits, method="interval (arb)",
                              theta_norm=theta_norm)
