"""A certified global bound on the Hessian of the attention loss, and the step-size test eta <= 1/L.

Model: logits q_it = <theta, Phi_it> (prompt model: Phi_it = W^T x_it, theta = p; self/cross attention:
Phi_it = vec(x_it z_i^T), theta = vec(W)), s_i = softmax(q_i), u_i = sum_t s_it gamma_it,
L(theta) = (1/n) sum_i l(u_i). For EVERY theta,

    ||hess L(theta)||_2 <= L_bound = (1/n) sum_i B_i,   B_i = sup_{a_i <= u <= b_i} delta_i^2 beta_i(u),

with, per sequence i: [a_i, b_i] = [min_t gamma_it, max_t gamma_it] (u_i is a convex combination of gamma_i, so
it stays there), Dgamma = b - a, p = u - a, q = b - u, m(u) = p q / Dgamma, delta_i = max_{t,tau} ||Phi_it - Phi_i tau||
(the diameter of the key set), the cross diameter delta_x(u) = max {||Phi_t - Phi_tau|| : gamma_tau <= u <= gamma_t}
(keys that can sit below and above the mean score u; <= delta), r = (delta_x/delta)^2, and

    G2 = m^2 r,   K+ = min(m r, Dgamma/8, q/4),   K- = min(m r, Dgamma/8, p/4),
    beta(u) = max(|l''| G2 + |l'| K-, |l'| K+)      when l'' >= 0 >= l' (the built-in losses: convex, nonincreasing),
    beta(u) = |l''| G2 + |l'| max(K+, K-)           otherwise.

Since m <= Dgamma/4 and r <= 1 this is at most the cruder M0_i Dgamma_i^2 delta_i^2/16 + M1_i Dgamma_i delta_i^2/8
with M0 >= sup|l''|, M1 >= sup|l'| on [a_i, b_i].

Derivation. hess L = (1/n) sum_i [ l''(u_i) g_i g_i^T + l'(u_i) K_i ] with the cumulants (see
:mod:`numeric.hessian`) g_i = Cov_s(gamma, Phi) and K_i = E_s[(gamma - u)(Phi - Phi_bar)(Phi - Phi_bar)^T].
Fix i and ANY distribution s on the tokens (not only softmax ones) with mean score u, a unit w, Y = <w, Phi>
(values in an interval of length <= delta), Y' = Y - E Y, Z = gamma - u (mean 0, values in [-p, q]), Z = Z+ - Z-.

* Chord bound: (gamma - u)^+ is convex in gamma on [a, b], so (gamma - u)^+ <= (gamma - a)(b - u)/Dgamma and
  mu := E[Z+] <= m(u); E[Z-] = E[Z+] = mu because E[Z] = 0. Write nu+ = Z+ s/mu, nu- = Z- s/mu (probability
  measures, carried by tokens with gamma > u and gamma < u respectively).
* ||g||: g = E[Z Phi] = mu (E_nu+ Phi - E_nu- Phi), a difference of two means of keys, one above u and one below,
  so ||g|| <= mu delta_x(u) <= m delta_x. Attained by two tokens (the chord is exact there): tight.
* K, cross-diameter bound: for any constant c, w^T K w = E[Z (Y - c)^2] (as E[Z] = 0 = E[Z Y']). With c = E_nu- Y
  (a point of the convex hull of the Y below u): w^T K w <= mu E_nu+ (Y - c)^2 <= mu delta_x^2; with c = E_nu+ Y,
  -w^T K w <= mu E_nu- (Y - c)^2 <= mu delta_x^2.
* K, range bound: also |w^T K w| <= Dgamma delta^2/8: E[Z V] = E[(gamma - c)(V - EV)] for V = Y'^2 and any constant
  c; c = a and c = b give |.| <= Dgamma E[(V - EV)^+]; V lies in [0, M], M = max V, and the chord of the convex
  (V - mu')^+ gives E[(V - mu')^+] <= mu' (M - mu')/M with mu' = EV = Var Y. If the projections have range delta
  and their mean lies at distance c <= delta/2 from one end, M = (delta - c)^2 and Var Y <= c (delta - c)
  (Bhatia-Davis); mu' (1 - mu'/M) increases up to mu' = M/2, so for c <= delta/3 it is <= c (delta - 2c) <=
  delta^2/8, and for c > delta/3 it is <= M/4 <= delta^2/9. (For two tokens the supremum is
  Dgamma delta^2/(6 sqrt 3), 0.77 of this.)
* K, one-sided bound: -w^T K w = E[Z- Y'^2] - E[Z+ Y'^2] <= p E[Y'^2] <= p delta^2/4 (Z- <= p, Popoviciu), and
  likewise w^T K w <= q delta^2/4. Asymptotically tight: half the mass at each end of the range with score a,
  a vanishing mass in the middle with score b.
* Signs: w^T H_i w = l'' (w.g)^2 + l' w^T K w. When l'' >= 0 >= l', w^T H_i w <= |l''| ||g||^2 + |l'| (-w^T K w)
  and -w^T H_i w <= |l'| (w^T K w) (the g term is >= 0), so ||H_i|| = max_w |w^T H_i w| <= delta^2 beta(u);
  without sign information the triangle inequality gives the second form.
* Average: ||hess L|| <= (1/n) sum_i ||H_i|| <= L_bound.

Certified evaluation of the supremum over u: [a_i, b_i] is cut into ``cells`` equal cells; on each cell the
supremum of a sum (of a min, of a max) is at most the sum (min, max) of suprema: m is concave (its maximum on a
cell [lo, hi] is at the point nearest (a+b)/2), p <= hi - a, q <= b - lo, delta_x(u) <= the largest distance
between a key with gamma <= hi and one with gamma >= lo (:func:`cross_diameters`, sets enlarged by 1e-12 relative),
and sup |l'|, sup |l''| on a cell come from closed forms for the built-in losses:
logistic l = log(1 + e^{-u}): |l'| = sigma(-u) decreasing, |l''| = sigma(u) sigma(-u) largest at the point nearest 0;
exponential l = e^{-u}: |l'| = |l''| = e^{-u} decreasing; correlation l = -u: |l'| = 1, l'' = 0.
Any other loss: one M0, M1 for every cell from :func:`attnsvm.symbolic.assumption_a` on [-U, U], U = max |gamma|.
The floats are rounded up by a relative 1e-12 (covers the rounding of delta_i, f and the closed forms).

Tightness (measured, bench/fixed_step.py --tightness 60: random prompt datasets with Gaussian tokens, n 1-8,
T 2-8, d 2-12, scale 0.5-4, unit v, W = I; the largest ||hess L|| found by :func:`search_hessian_norm`, the better
of its default budget and 400 thetas / 8 ascents / 100 iterations): L_bound / largest found has median 3.07
(logistic), 3.06 (exponential), 2.75 (correlation), 90th percentile 5.94, 5.34, 4.76, maximum 8.30, 11.54, 7.61
(one exponential dataset of 60 above 10, seed 1039, n, T, d = 5, 8, 3; before the cross diameter and the sign
split: medians 3.3, 4.6, 2.9, maxima 9.1, 21.3, 8.7). What is left is mostly not in the inequalities above: on a
one-sequence exponential dataset (seed 1051) the bound is 2.9 times the supremum over the whole simplex, and that
supremum 5 times the one over softmax-reachable distributions (keys in 2 dimensions); on seed 1039 the per-sequence
bounds are 3-6 times the simplex suprema, and the average of the per-sequence reachable suprema is 2.9 times the
Hessian norm of the average (sequences peak at different thetas).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .losses import Loss

ROUNDING_MARGIN = 1e-12
CELLS = 512
_BUILTIN = {"logistic": "log(1 + exp(-u))", "exponential": "exp(-u)", "correlation": "-u"}


def _is_builtin(loss: Loss) -> bool:
    return loss.name in _BUILTIN and loss.expression in ("", _BUILTIN[loss.name])


def derivative_sups(loss: Loss, lo, hi) -> tuple[np.ndarray, np.ndarray] | None:
    """(sup |l''|, sup |l'|) on each interval [lo_k, hi_k] (arrays of any shape) for the built-in losses, in
    closed form (module docstring); None for other losses."""
    if not _is_builtin(loss):
        return None
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    if loss.name == "logistic":
        c = np.clip(0.0, lo, hi)
        return expit(c) * expit(-c), expit(-lo)
    if loss.name == "exponential":
        with np.errstate(over="ignore"):
            e = np.exp(-lo)
        return e, e.copy()
    return np.zeros_like(lo), np.ones_like(lo)


@dataclass
class LossConstants:
    """M0 >= sup |l''|, M1 >= sup |l'| per sequence on its output interval [lo_i, hi_i] (arrays (n,)), and how
    they were obtained ("closed form" or "assumption_a on [-U, U]"); M0/M1 are None when no bound is known."""

    M0: np.ndarray | None
    M1: np.ndarray | None
    lo: np.ndarray
    hi: np.ndarray
    method: str


def loss_constants(loss: Loss, lo, hi) -> LossConstants:
    """M0 = sup |l''| and M1 = sup |l'| of ``loss`` on the intervals [lo_i, hi_i]: closed forms for the built-ins,
    :func:`attnsvm.symbolic.assumption_a` on [-U, U] (U = max(|lo|, |hi|)) for expression losses."""
    lo = np.atleast_1d(np.asarray(lo, dtype=float))
    hi = np.atleast_1d(np.asarray(hi, dtype=float))
    sups = derivative_sups(loss, lo, hi)
    if sups is not None:
        return LossConstants(sups[0], sups[1], lo, hi, "closed form")
    if not loss.expression:
        return LossConstants(None, None, lo, hi, f"loss {loss.name!r} has no expression: no bound")
    from attnsvm import symbolic

    U = float(max(np.max(np.abs(lo)), np.max(np.abs(hi))))
    res = symbolic.assumption_a(symbolic.parse_loss(loss.expression), U)
    method = f"assumption_a on [-{U:g}, {U:g}] ({res.method})"
    if res.M0 is None or res.M1 is None:
        return LossConstants(None, None, lo, hi, method + ": M0/M1 not bounded")
    return LossConstants(np.full(lo.shape, float(res.M0)), np.full(lo.shape, float(res.M1)), lo, hi, method)


@dataclass
class LipschitzBound:
    """The certified bound of the module docstring.

    value: L_bound (None when no bound on the loss's derivatives is known); per sequence: score_range
    Dgamma_i, key_diameter delta_i, terms B_i (value = mean(B) rounded up), M0_i, M1_i (sup |l''|, sup |l'| on
    [min gamma_i, max gamma_i]; B_i <= M0_i Dgamma^2 delta^2/16 + M1_i Dgamma delta^2/8); loss_method: how the
    loss's derivatives were bounded.
    """

    value: float | None
    score_range: np.ndarray
    key_diameter: np.ndarray
    terms: np.ndarray | None
    M0: np.ndarray | None
    M1: np.ndarray | None
    loss_method: str

    @property
    def max_step(self) -> float | None:
        """1 / L_bound (the largest step the GD theorems allow), None when unknown."""
        if self.value is None:
            return None
        return math.inf if self.value == 0 else 1.0 / self.value


def key_diameters(phi: np.ndarray) -> np.ndarray:
    """delta_i = max_{t, tau} ||Phi_it - Phi_i tau|| (the diameter of each sequence's key set), shape (n,)."""
    phi = np.asarray(phi, dtype=float)
    n, T = phi.shape[:2]
    P = phi.reshape(n, T, -1)
    diff = P[:, :, None, :] - P[:, None, :, :]
    return np.sqrt(np.einsum("itsd,itsd->its", diff, diff).max(axis=(1, 2)))


def cross_diameters(phi: np.ndarray, gamma: np.ndarray, lo, hi) -> np.ndarray:
    """delta_x_ik = max { ||Phi_it - Phi_i tau|| : gamma_i tau <= hi_ik, gamma_it >= lo_ik } (0 if no such pair), for
    cells [lo_ik, hi_ik] (arrays (n, K)): the largest distance between a key that can sit below a mean score u in
    the cell and one that can sit above it. The sets are enlarged by a relative 1e-12 of the score scale."""
    phi = np.asarray(phi, dtype=float)
    gamma = np.asarray(gamma, dtype=float)
    n, T = gamma.shape
    P = phi.reshape(n, T, -1)
    order = np.argsort(gamma, axis=1)
    gs = np.take_along_axis(gamma, order, axis=1)
    Ps = np.take_along_axis(P, order[:, :, None], axis=1)
    diff = Ps[:, :, None, :] - Ps[:, None, :, :]
    D = np.sqrt(np.einsum("itsd,itsd->its", diff, diff))                 # D[i, tau, t], sorted by gamma
    # M[i, j, k] = max_{tau < j, t >= k} D[i, tau, t]  (j lowest keys below, keys from k up above); 0 when empty
    M = np.zeros((n, T + 1, T + 1))
    M[:, 1:, :T] = np.maximum.accumulate(np.maximum.accumulate(D, axis=1)[:, :, ::-1], axis=2)[:, :, ::-1]
    tol = 1e-12 * (1.0 + np.abs(gamma).max(axis=1))[:, None]
    j = np.stack([np.searchsorted(gs[i], np.asarray(hi)[i] + tol[i], side="right") for i in range(n)])
    k = np.stack([np.searchsorted(gs[i], np.asarray(lo)[i] - tol[i], side="left") for i in range(n)])
    return np.take_along_axis(M.reshape(n, -1), j * (T + 1) + k, axis=1)


def _sequence_terms(phi, gamma, a, b, delta, l2, l1, cells: int, signs_known: bool) -> np.ndarray:
    """B_i from cell-wise suprema (module docstring): l2, l1 are callables (lo, hi) -> sup |l''|, sup |l'| on
    [lo, hi] (arrays); ``signs_known``: l'' >= 0 >= l' on [a_i, b_i] (convex, nonincreasing loss)."""
    dg = b - a
    t = np.linspace(0.0, 1.0, cells + 1)
    edges = a[:, None] + dg[:, None] * t[None, :]
    lo, hi = edges[:, :-1], edges[:, 1:]
    mid = ((a + b) / 2)[:, None]
    um = np.clip(mid, lo, hi)
    dx2 = cross_diameters(phi, gamma, lo, hi) ** 2
    d2 = (delta ** 2)[:, None]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = np.maximum((um - a[:, None]) * (b[:, None] - um), 0.0) / dg[:, None]     # sup of f/Dgamma on the cell
        s2, s1 = l2(lo, hi), l1(lo, hi)
        g2 = m * m * dx2                                                          # sup ||g||^2
        k_common = np.minimum(m * dx2, dg[:, None] * d2 / 8)
        k_plus = np.minimum(k_common, np.maximum(b[:, None] - lo, 0.0) * d2 / 4)    # sup of  w^T K w
        k_minus = np.minimum(k_common, np.maximum(hi - a[:, None], 0.0) * d2 / 4)   # sup of -w^T K w
        if signs_known:
            cell = np.maximum(s2 * g2 + s1 * k_minus, s1 * k_plus)
        else:
            cell = s2 * g2 + s1 * np.maximum(k_plus, k_minus)
        cell = np.where(m == 0, 0.0, cell)
        B = cell.max(axis=1)
    return np.where(dg * delta == 0, 0.0, B)


def lipschitz_bound(phi: np.ndarray, gamma: np.ndarray, loss: Loss | None = None, M0=None, M1=None,
                    cells: int = CELLS) -> LipschitzBound:
    """L_bound >= sup_theta ||hess L(theta)|| (module docstring) for features ``phi`` (n, T, D) and scores
    ``gamma`` (n, T). Given M0/M1 (scalars or per-sequence arrays: sup |l''|, sup |l'| on the output
    intervals) are used on every cell instead of the loss's cell-wise suprema."""
    gamma = np.asarray(gamma, dtype=float)
    a, b = gamma.min(axis=1), gamma.max(axis=1)
    dg = b - a
    delta = key_diameters(phi)
    n = len(a)
    if M0 is not None and M1 is not None:
        M0 = np.broadcast_to(np.asarray(M0, dtype=float), (n,)).copy()
        M1 = np.broadcast_to(np.asarray(M1, dtype=float), (n,)).copy()
        method = "given M0, M1"
        signs_known = False
        l2 = lambda lo, hi: np.broadcast_to(M0[:, None], lo.shape)   # noqa: E731
        l1 = lambda lo, hi: np.broadcast_to(M1[:, None], lo.shape)   # noqa: E731
    else:
        if loss is None:
            raise ValueError("lipschitz_bound needs a loss or both M0 and M1")
        const = loss_constants(loss, a, b)
        M0, M1, method = const.M0, const.M1, const.method
        if M0 is None:
            return LipschitzBound(None, dg, delta, None, None, None, method)
        signs_known = _is_builtin(loss)      # logistic, exponential, correlation: l'' >= 0 >= l'
        if signs_known:
            l2 = lambda lo, hi: derivative_sups(loss, lo, hi)[0]     # noqa: E731
            l1 = lambda lo, hi: derivative_sups(loss, lo, hi)[1]     # noqa: E731
        else:
            l2 = lambda lo, hi: np.broadcast_to(M0[:, None], lo.shape)   # noqa: E731
            l1 = lambda lo, hi: np.broadcast_to(M1[:, None], lo.shape)   # noqa: E731
    terms = _sequence_terms(phi, gamma, a, b, delta, l2, l1, cells, signs_known)
    value = float(terms.mean()) * (1 + ROUNDING_MARGIN)
    return LipschitzBound(value if math.isfinite(value) else None, dg, delta, terms, M0, M1, method)


@dataclass
class StepJudgement:
    """Whether a GD step is within the theorems' bound: ``within`` = (step <= 1/L_bound); ``ratio`` = step * L_bound
    (<= 1 when within); None when the bound is unknown."""

    step: float
    lipschitz_bound: float | None
    max_step: float | None
    within: bool | None
    ratio: float | None


def judge_step(step: float, bound: LipschitzBound | float | None) -> StepJudgement:
    """step <= 1/L (with L a :class:`LipschitzBound` or its value)."""
    L = bound.value if isinstance(bound, LipschitzBound) else bound
    if L is None:
        return StepJudgement(float(step), None, None, None, None)
    L = float(L)
    return StepJudgement(float(step), L, (math.inf if L == 0 else 1.0 / L), bool(step * L <= 1.0), float(step * L))


def search_hessian_norm(phi: np.ndarray, gamma: np.ndarray, loss: Loss, seed: int = 0, n_random: int = 120,
                        n_ascent: int = 3, max_iter: int = 50) -> tuple[float, np.ndarray]:
    """A lower estimate of sup_theta ||hess L(theta)|| (to see how tight :func:`lipschitz_bound` is): the best of
    ``n_random`` random thetas (random directions with log-uniform radii in [0.01, 30]/delta, delta the largest key
    diameter, where logit differences are of order one; and n_random/3 multiples of key differences
    (Phi_it - Phi_i tau)/|.|^2), then BFGS ascent from the ``n_ascent`` best, using d lambda/d theta =
    sign(lambda) D^3 L[w, w] for the top |eigenvalue| lambda with unit eigenvector w. Returns (value, theta).
    Deterministic for a given seed (budgets are counts)."""
    from scipy.optimize import minimize

    from .hessian import StableHessian

    rng = np.random.default_rng(seed)
    phi = np.asarray(phi, dtype=float)
    sh = StableHessian(phi, gamma, loss)
    n, T, D = phi.shape
    delta = float(key_diameters(phi).max()) or 1.0

    def value_grad(th):
        loc = sh.at(th)
        w, V = np.linalg.eigh(loc.eR * loc.dense())
        j = int(np.argmax(np.abs(w)))
        return float(abs(w[j])), np.sign(w[j]) * loc.eR * loc.third(V[:, j])

    starts = []
    for _ in range(n_random):
        u = rng.standard_normal(D)
        starts.append(np.exp(rng.uniform(math.log(0.01), math.log(30))) / delta * u / np.linalg.norm(u))
    for _ in range(n_random // 3):
        i, (t1, t2) = rng.integers(n), rng.choice(T, 2, replace=False)
        dd = phi[i, t1] - phi[i, t2]
        starts.append(dd / max(float(dd @ dd), 1e-300) * rng.uniform(-3, 3))
    scored = sorted(((value_grad(th)[0], th) for th in starts), key=lambda c: -c[0])
    best, best_th = scored[0]
    for _, th in scored[:n_ascent]:
        res = minimize(lambda t: tuple(-x for x in value_grad(t)), th, jac=True, method="BFGS",
                       options=dict(maxiter=max_iter))
        if -res.fun > best:
            best, best_th = float(-res.fun), np.asarray(res.x)
    return best, best_th
