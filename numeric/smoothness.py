"""A certified global bound on the Hessian of the attention loss, and the step-size test eta <= 1/L.

Model: logits q_it = <theta, Phi_it> (prompt model: Phi_it = W^T x_it, theta = p; self/cross attention:
Phi_it = vec(x_it z_i^T), theta = vec(W)), s_i = softmax(q_i), u_i = sum_t s_it gamma_it,
L(theta) = (1/n) sum_i l(u_i). For EVERY theta,

    ||hess L(theta)||_2 <= L_bound = (1/n) sum_i B_i,   B_i = sup_{a_i <= u <= b_i} delta_i^2 beta_i(u),

with, per sequence i: [a_i, b_i] = [min_t gamma_it, max_t gamma_it] (u_i is a convex combination of gamma_i, so
it stays there), Dgamma = b - a, p = u - a, q = b - u, m(u) = p q / Dgamma, delta_i = max_{t,tau} ||Phi_it - Phi_i tau||
(the diameter of the key set), the cross diameter delta_x(u) = max {||Phi_t - Phi_tau|| : gamma_tau <= u <= gamma_t}
(keys that can sit below and above the mean score u; <= delta), r = (delta_x/delta)^2, and

    G2 = m^2 r,   K+ = min(m r, Dgamma/8, q/4, m h(1 - pi)),   K- = min(m r, Dgamma/8, p/4, m h(pi)),
    pi = p/Dgamma,  h(pi) = S(0, 1, 2 pi - 1)  (S: :func:`strip_sup`),
    beta(u) = max(min(|l''| G2 + |l'| K-, J+), min(|l'| K+, J-))    when l'' >= 0 >= l' (the built-in losses),
    J+ = S(|l''| m^2, |l'| m, 2 pi - 1, r),   J- = sup {(|l'| m (1 - 2 pi) - |l''| m^2) D + |l'| m x (1 - x)},
    beta(u) = |l''| G2 + |l'| max(K+, K-)                            otherwise
(the sup in J- over x in [0, 1], 0 <= D <= max(x, 1 - x)^2, as in S).

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
* Strip reduction (exact for the laws below, used for K+-, J+-): w.g = E[Z Y'] and w^T K w = E[Z Y'^2] depend on
  the joint law of (Y, Z) only through the law of Y and z(Y) = E[Z | Y]. Let Z~ take the values q and -p with
  P(Z~ = q | Y) = (z(Y) + p)/Dgamma (in [0, 1] as z in [-p, q]): E[Z~ | Y] = z(Y), so w.g and w^T K w are the same
  for (Y, Z~), and E Z~ = 0 forces P(Z~ = q) = pi = p/Dgamma. Rescale y = (Y - min Y)/delta in [0, 1]; let nu+,
  nu- be the laws of y given Z~ = q, -p (means mu+, mu-, variances V+, V-), Dl = mu+ - mu-, so E y = mu- + pi Dl.
  Then E[Z~ y] = Dgamma pi (mu+ - E y) = m Dl with m = Dgamma pi (1 - pi) = p q/Dgamma exactly, and
  E[Z~ (y - E y)^2] = Dgamma pi (1 - pi) (E+ (y - E y)^2 - E- (y - E y)^2) = m (V+ - V- + (1 - 2 pi) Dl^2)
  (E+ (y - Ey)^2 = V+ + (1 - pi)^2 Dl^2, E- (y - Ey)^2 = V- + pi^2 Dl^2). So, with D = Dl^2:
  -w^T K w = m delta^2 (V- - V+ + (2 pi - 1) D) <= m delta^2 (x (1 - x) + (2 pi - 1) D) with x = mu-, as V+ >= 0
  and V- <= mu- (1 - mu-) (Bhatia-Davis on [0, 1]); |Dl| <= max(x, 1 - x) since mu+ is in [0, 1]. Hence
  -w^T K w <= m delta^2 S(0, 1, 2 pi - 1) and (x = mu+, V- >= 0) w^T K w <= m delta^2 S(0, 1, 1 - 2 pi). These
  are the exact suprema over all laws on [0, delta] x {-p, q} (nu+ a point, nu- two points at the ends), so they
  are <= p/4, q/4, Dgamma/8 pointwise; for two tokens their largest value is Dgamma/(6 sqrt 3).
  Joint, when l'' >= 0 >= l' (write l'' = A0, |l'| = E0 at u): w^T H_i w = A0 (w.g)^2 - E0 w^T K w with
  (w.g)^2 = m^2 delta^2 D and also (w.g)^2 <= ||g||^2 <= m^2 delta_x^2 = m^2 r delta^2 (chord bullet), so
  w^T H_i w <= delta^2 (A0 m^2 min(D, r) + E0 m (x (1 - x) + (2 pi - 1) D)) <= delta^2 J+; and
  -w^T H_i w = E0 w^T K w - A0 (w.g)^2 <= delta^2 ((E0 m (1 - 2 pi) - A0 m^2) D + E0 m x (1 - x)) <= delta^2 J-.
  Both hold for EVERY distribution on the tokens (softmax or not): nothing above uses how s arises.
* Signs: w^T H_i w = l'' (w.g)^2 + l' w^T K w. When l'' >= 0 >= l', w^T H_i w <= |l''| ||g||^2 + |l'| (-w^T K w)
  and -w^T H_i w <= |l'| (w^T K w) (the g term is >= 0), so ||H_i|| = max_w |w^T H_i w| <= delta^2 beta(u);
  without sign information the triangle inequality gives the second form.
* Average: ||hess L|| <= (1/n) sum_i ||H_i|| <= L_bound.

Certified evaluation of the supremum over u: [a_i, b_i] is cut into ``cells`` equal cells; on each cell the
supremum of a sum (of a min, of a max) is at most the sum (min, max) of suprema: m is concave (its maximum on a
cell [lo, hi] is at the point nearest (a+b)/2), p <= hi - a, q <= b - lo, delta_x(u) <= the largest distance
between a key with gamma <= hi and one with gamma >= lo (:func:`cross_diameters`, sets enlarged by 1e-12 relative),
and sup |l'|, sup |l''| on a cell come from closed forms for the built-in losses. For J+- (the objectives are
linear in (A, E) = (l'' m^2, |l'| m) for fixed x, D): J+ is nondecreasing in A, 2 pi - 1 and r, J- nonincreasing in
A and nondecreasing in 1 - 2 pi, and both are linear in E for fixed (x, D), so their sup over a cell is at most the
larger of the two values with E = |l'|_inf m_inf and E = |l'|_sup m_sup, with A = l''_sup m_sup^2 (J+) or
l''_inf m_inf^2 (J-), pi = hi's for J+, lo's for J-, r from the cell's cross diameter (m_inf = the smaller of m at
the cell's ends, m being concave; infima lowered and r raised by the rounding margin). Closed forms:
logistic l = log(1 + e^{-u}): |l'| = sigma(-u) decreasing, |l''| = sigma(u) sigma(-u) largest at the point nearest 0;
exponential l = e^{-u}: |l'| = |l''| = e^{-u} decreasing; correlation l = -u: |l'| = 1, l'' = 0 (infima:
:func:`derivative_infs`).
Any other loss: one M0, M1 for every cell from :func:`attnsvm.symbolic.assumption_a` on [-U, U], U = max |gamma|.
The floats are rounded up by a relative 1e-12 (covers the rounding of delta_i, f and the closed forms).

Tightness (measured, bench/fixed_step.py --datasets --tightness 60: random prompt datasets with Gaussian tokens,
n 1-8, T 2-8, d 2-12, scale 0.5-4, unit v, W = I; the largest ||hess L|| found by :func:`search_hessian_norm`, the
better of its default budget and 400 thetas / 8 ascents / 100 iterations): L_bound / largest found has median 2.07
(logistic), 1.55 (exponential), 2.13 (correlation), 90th percentile 3.82, 2.65, 3.69, maximum 4.93, 6.35, 5.90
(none of 180 above 10; worst seeds 1001, 1039, 1056). Before the strip and joint bounds: medians 3.07, 3.06, 2.75,
maxima 8.30, 11.54, 7.61. The strip bounds are exact over laws on the strip, and the two-token and three-token
tests show the per-sequence terms within a few percent of the simplex suprema; what is left is mostly that the
per-sequence suprema are not reached by softmax distributions of one theta for all sequences at once (seed 1039:
the average of the per-sequence reachable suprema was 2.9 times the Hessian norm of the average).
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


def derivative_infs(loss: Loss, lo, hi) -> tuple[np.ndarray, np.ndarray] | None:
    """(inf |l''|, inf |l'|) on each interval [lo_k, hi_k] for the built-in losses, in closed form: logistic
    |l''| = sigma(u) sigma(-u) (unimodal, so its inf is at an end), |l'| = sigma(-u) nonincreasing (inf at hi);
    exponential e^{-hi} for both; correlation 0 and 1. None for other losses."""
    if not _is_builtin(loss):
        return None
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    if loss.name == "logistic":
        return np.minimum(expit(lo) * expit(-lo), expit(hi) * expit(-hi)), expit(-hi)
    if loss.name == "exponential":
        with np.errstate(over="ignore"):
            e = np.exp(-hi)
        return e, e.copy()
    return np.zeros_like(hi), np.ones_like(hi)


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
    """delta_i = max_{t, tau} ||Phi_it - Phi_i tau|| (the diameter of each sequence's key set), shape (n,).
    One token t at a time, so the temporaries have the size of Phi (not n T^2 D)."""
    phi = np.asarray(phi, dtype=float)
    n, T = phi.shape[:2]
    P = phi.reshape(n, T, -1)
    best = np.zeros(n)
    for t in range(T):
        diff = P - P[:, t:t + 1, :]
        np.maximum(best, np.einsum("isd,isd->is", diff, diff).max(axis=1), out=best)
    return np.sqrt(best)


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


def _cd_sup(c, E) -> np.ndarray:
    """sup { c D + E x (1 - x) : x in [0, 1], 0 <= D <= max(x, 1 - x)^2 } for E >= 0 and any real c: E/4 when
    c <= 0 (D = 0, x = 1/2), else the largest value of c (1 - x)^2 + E x (1 - x) on [0, 1/2] (D at its maximum,
    x <= 1/2 by symmetry)."""
    c = np.asarray(c, dtype=float)
    E = np.asarray(E, dtype=float)
    half = np.full(np.broadcast(c, E).shape, 0.5)
    q = _quad_max(lambda x: c * (1 - x) ** 2 + E * x * (1 - x), E - 2 * c, c - E, 0 * half, half)
    return np.where(c <= 0, E / 4 + 0 * half, np.maximum(q, E / 4))


def _quad_max(f, c1, c2, x0, x1):
    """max of the quadratic f(x) (callable, evaluated in factored form) with f'(x) = c1 + 2 c2 x on [x0, x1]
    (arrays; -inf where x0 > x1): the endpoints and, when c2 < 0, the stationary point clipped into the interval."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        xs = np.clip(np.where(c2 < 0, -c1 / np.where(c2 < 0, 2 * c2, -1.0), x0), x0, x1)
        v = np.maximum(np.maximum(f(x0), f(x1)), f(xs))
    return np.where(x0 <= x1, v, -np.inf)


def strip_sup(A, E, k, r=1.0) -> np.ndarray:
    """S(A, E, k, r) = sup { A min(D, r) + E (x (1 - x) + k D) : x in [0, 1], 0 <= D <= max(x, 1 - x)^2 }
    for A, E >= 0, k in [-1, 1], r in [0, 1] (arrays, broadcast). Nondecreasing in A, k and r (each term is);
    positively homogeneous in (A, E). Evaluation: by the symmetry x -> 1 - x take x <= 1/2; for fixed x the
    objective is piecewise linear in D with a break at r, so D is 0, min(r, (1 - x)^2) or (1 - x)^2; with
    x_r = 1 - sqrt(r) this leaves E/4 (D = 0), the quadratics (A + E k)(1 - x)^2 + E x (1 - x) on
    [max(x_r, 0), 1/2] and A r + E (x (1 - x) + k (1 - x)^2) on [0, min(1/2, x_r)], and A r + E k r + E x (1 - x)
    at x = min(1/2, x_r)."""
    A, E, k, r = (np.asarray(z, dtype=float) for z in (A, E, k, r))
    r = np.clip(r, 0.0, 1.0)
    xr = 1.0 - np.sqrt(r)
    half = np.full(np.broadcast(A, E, k, r).shape, 0.5)
    c = A + E * k
    p1 = _quad_max(lambda x: c * (1 - x) ** 2 + E * x * (1 - x), E - 2 * c, c - E, np.maximum(xr, 0.0), half)
    p3 = _quad_max(lambda x: A * r + E * (x * (1 - x) + k * (1 - x) ** 2), E - 2 * E * k, E * k - E, 0 * half,
                   np.minimum(half, xr))
    xs = np.minimum(half, xr)
    p2 = A * r + E * k * r + E * xs * (1 - xs)
    return np.maximum.reduce([E / 4 + 0 * half, p1, p2, p3])


def cell_bounds(phi, gamma, a, b, delta, l2, l1, cells: int, signs_known: bool, infs=None) -> dict[str, np.ndarray]:
    """Per sequence i and cell k of [a_i, b_i] (arrays (n, cells)), upper bounds over the mean scores u in the cell
    and over ALL distributions on the tokens with mean u (module docstring): ``g2`` >= ||g||^2, ``k_plus`` >=
    w^T K w, ``k_minus`` >= -w^T K w (unit w), ``up`` >= w^T H_i w and ``down`` >= -w^T H_i w (signs known) or
    ``up`` = ``down`` >= |w^T H_i w|; ``cell`` = max(up, down); lo, hi: the cells; with signs known also
    ``joint_up``, ``joint_down``: delta^2 times the cell-wise bounds on J+, J-. l2, l1: callables
    (lo, hi) -> sup |l''|, sup |l'| on [lo, hi]; ``signs_known``: l'' >= 0 >= l' on [a_i, b_i]; infs:
    (lo, hi) -> inf |l'| on [lo, hi] (default 0)."""
    if infs is None:
        infs = lambda lo, hi: (np.zeros_like(lo), np.zeros_like(lo))     # noqa: E731
    dg = b - a
    t = np.linspace(0.0, 1.0, cells + 1)
    edges = a[:, None] + dg[:, None] * t[None, :]
    lo, hi = edges[:, :-1], edges[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):  # pi = (u - a)/Dgamma lies in [pi_lo, pi_hi] on a cell
        tol_pi = np.nan_to_num(1e-12 * (1 + np.maximum(np.abs(a), np.abs(b))) / dg, posinf=1.0)[:, None]
    pi_lo, pi_hi = np.maximum(t[None, :-1] - tol_pi, 0.0), np.minimum(t[None, 1:] + tol_pi, 1.0)
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
        # strip bounds: sup -w^T K w <= m S(0, 1, 2 pi - 1) delta^2, sup w^T K w <= m S(0, 1, 1 - 2 pi) delta^2
        k_plus = np.minimum(k_plus, m * d2 * strip_sup(0.0, 1.0, 1 - 2 * pi_lo))
        k_minus = np.minimum(k_minus, m * d2 * strip_sup(0.0, 1.0, 2 * pi_hi - 1))
        if signs_known:
            # joint strip bound on l'' (w.g)^2 - |l'| w^T K w <= S(l'' m^2, |l'| m, 2 pi - 1, r) delta^2; on a cell
            # A = l'' m^2 <= s2 m^2, E = |l'| m in [i1 m_inf, s1 m], and the objective is linear in E
            r = np.where(d2 > 0, dx2 / np.where(d2 > 0, d2, 1.0), 0.0) * (1 + 4 * ROUNDING_MARGIN)
            m_inf = np.maximum(np.minimum((lo - a[:, None]) * (b[:, None] - lo),
                                          (hi - a[:, None]) * (b[:, None] - hi)), 0.0) / dg[:, None]
            i2, i1 = infs(lo, hi)
            e_inf = i1 * m_inf * (1 - ROUNDING_MARGIN)
            a_inf = i2 * m_inf * m_inf * (1 - ROUNDING_MARGIN)
            k_hi = 2 * pi_hi - 1
            joint = np.maximum(strip_sup(s2 * m * m, s1 * m, k_hi, r), strip_sup(s2 * m * m, e_inf, k_hi, r)) * d2
            up = np.minimum(s2 * g2 + s1 * k_minus, joint)
            # joint strip bound on |l'| w^T K w - l'' (w.g)^2 <= sup (E (1 - 2 pi) - A) D + E x (1 - x), times
            # delta^2: nonincreasing in A, nondecreasing in 1 - 2 pi, linear in E
            k_lo = 1 - 2 * pi_lo
            e_sup = s1 * m
            down_joint = np.maximum(_cd_sup(e_sup * k_lo - a_inf, e_sup), _cd_sup(e_inf * k_lo - a_inf, e_inf)) * d2
            down = np.minimum(s1 * k_plus, down_joint)
        else:
            up = down = s2 * g2 + s1 * np.maximum(k_plus, k_minus)
        zero = (m == 0) | (dg[:, None] * d2 == 0)
        up, down = np.where(zero, 0.0, up), np.where(zero, 0.0, down)
    out = dict(lo=lo, hi=hi, g2=g2, k_plus=k_plus, k_minus=k_minus, up=up, down=down, cell=np.maximum(up, down))
    if signs_known:
        out.update(joint_up=joint, joint_down=down_joint)
    return out


def _sequence_terms(phi, gamma, a, b, delta, l2, l1, cells: int, signs_known: bool, infs=None) -> np.ndarray:
    """B_i = the largest of :func:`cell_bounds`' ``cell`` over the cells of [a_i, b_i]."""
    B = cell_bounds(phi, gamma, a, b, delta, l2, l1, cells, signs_known, infs)["cell"].max(axis=1)
    return np.where((b - a) * delta == 0, 0.0, B)


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
    infs = None
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
            infs = lambda lo, hi: derivative_infs(loss, lo, hi)       # noqa: E731
        else:
            l2 = lambda lo, hi: np.broadcast_to(M0[:, None], lo.shape)   # noqa: E731
            l1 = lambda lo, hi: np.broadcast_to(M1[:, None], lo.shape)   # noqa: E731
    terms = _sequence_terms(phi, gamma, a, b, delta, l2, l1, cells, signs_known, infs)
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
