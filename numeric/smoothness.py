"""A certified global bound on the Hessian of the attention loss, and the step-size test eta <= 1/L.

Model: logits q_it = <theta, Phi_it> (prompt model: Phi_it = W^T x_it, theta = p; self/cross attention:
Phi_it = vec(x_it z_i^T), theta = vec(W)), s_i = softmax(q_i), u_i = sum_t s_it gamma_it,
L(theta) = (1/n) sum_i l(u_i). For EVERY theta,

    ||hess L(theta)||_2 <= L_bound = (1/n) sum_i B_i,
    B_i = sup_{a_i <= u <= b_i} delta_i^2 [ |l''(u)| (f_i(u)/Dgamma_i)^2 + |l'(u)| min(Dgamma_i/8, f_i(u)/Dgamma_i) ],

with, per sequence i: [a_i, b_i] = [min_t gamma_it, max_t gamma_it] (u_i is a convex combination of gamma_i, so
it stays there), Dgamma_i = b_i - a_i, f_i(u) = (u - a_i)(b_i - u), and delta_i = max_{t,tau} ||Phi_it - Phi_i tau||
(the diameter of the key set). Since f <= Dgamma^2/4 this is at most the cruder
M0_i Dgamma_i^2 delta_i^2/16 + M1_i Dgamma_i delta_i^2/8 with M0 >= sup|l''|, M1 >= sup|l'| on [a_i, b_i].

Derivation. hess L = (1/n) sum_i [ l''(u_i) g_i g_i^T + l'(u_i) K_i ] with the cumulants (see
:mod:`numeric.hessian`) g_i = Cov_s(gamma, Phi) and K_i = E_s[(gamma - u)(Phi - Phi_bar)(Phi - Phi_bar)^T].
Fix i and s with mean score u, a unit w, and Y = <w, Phi>, whose values lie in an interval of length <= delta.

* Chord bound: (gamma - u)^+ is convex in gamma on [a, b], so (gamma - u)^+ <= (gamma - a)(b - u)/Dgamma and
  E[(gamma - u)^+] <= f(u)/Dgamma; E[(gamma - u)^-] = E[(gamma - u)^+] because E[gamma - u] = 0.
* ||g|| = sup_w E[(gamma - u)(Y - min Y)] <= delta E[(gamma - u)^+] <= delta f(u)/Dgamma (and >= -delta E[(.)^-]).
  This is attained by two tokens: it is tight.
* ||K|| = sup_w |E[(gamma - u) V]| with V = (Y - E Y)^2 in [0, delta^2]: as above |.| <= delta^2 f(u)/Dgamma.
  Also ||K|| <= Dgamma delta^2/8: E[(gamma - u) V] = E[(gamma - c)(V - EV)] for any constant c; c = a and c = b
  give |.| <= Dgamma E[(V - EV)^+]; V lies in [0, M], M = max V, and the chord of the convex (V - mu)^+ gives
  E[(V - mu)^+] <= mu (M - mu)/M with mu = EV = Var Y. If the projections have range delta and their mean lies
  at distance c <= delta/2 from one end, M = (delta - c)^2 and Var Y <= c (delta - c) (Bhatia-Davis);
  mu (1 - mu/M) increases up to mu = M/2, so for c <= delta/3 it is <= c (delta - 2c) <= delta^2/8, and for
  c > delta/3 it is <= M/4 <= delta^2/9. (For two tokens the supremum is Dgamma delta^2/(6 sqrt 3), 0.77 of this.)
* Triangle inequality: ||hess L|| <= (1/n) sum_i sup_u [ |l''(u)| ||g_i||^2 + |l'(u)| ||K_i|| ] <= L_bound.

Certified evaluation of the supremum over u: [a_i, b_i] is cut into ``cells`` equal cells; on each cell the
supremum of a sum is at most the sum of suprema: f is concave (its maximum on a cell is at the point nearest
(a+b)/2), and sup |l'|, sup |l''| on a cell come from closed forms for the built-in losses:
logistic l = log(1 + e^{-u}): |l'| = sigma(-u) decreasing, |l''| = sigma(u) sigma(-u) largest at the point nearest 0;
exponential l = e^{-u}: |l'| = |l''| = e^{-u} decreasing; correlation l = -u: |l'| = 1, l'' = 0.
Any other loss: one M0, M1 for every cell from :func:`attnsvm.symbolic.assumption_a` on [-U, U], U = max |gamma|.
The floats are rounded up by a relative 1e-12 (covers the rounding of delta_i, f and the closed forms).

Tightness (measured, bench/fixed_step.py --tightness 60: random prompt datasets with Gaussian tokens, n 1-8,
T 2-8, d 2-12, scale 0.5-4, unit v, W = I; the largest ||hess L|| found by :func:`search_hessian_norm`):
L_bound / largest found has median 3.3 (logistic), 4.6 (exponential), 2.9 (correlation), 90th percentile
6.6, 8.9, 4.9, maximum 9.1, 21.3, 8.7. The slack comes from the sum over sequences (their suprema are reached
at different thetas), from two-token mixtures the softmax cannot reach when many keys lie in few dimensions,
and, for the exponential loss, from e^{-u} near the smallest score when the attention cannot reach it.
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


def _sequence_terms(a, b, delta, l2, l1, cells: int) -> np.ndarray:
    """B_i from cell-wise suprema: l2, l1 are callables (lo, hi) -> sup |l''|, sup |l'| on [lo, hi] (arrays)."""
    dg = b - a
    t = np.linspace(0.0, 1.0, cells + 1)
    edges = a[:, None] + dg[:, None] * t[None, :]
    lo, hi = edges[:, :-1], edges[:, 1:]
    mid = ((a + b) / 2)[:, None]
    um = np.clip(mid, lo, hi)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        f = np.maximum((um - a[:, None]) * (b[:, None] - um), 0.0) / dg[:, None]       # sup of f/Dgamma on the cell
        s2, s1 = l2(lo, hi), l1(lo, hi)
        cell = s2 * f * f + s1 * np.minimum(dg[:, None] / 8, f)
        cell = np.where(f == 0, 0.0, cell)
        B = delta ** 2 * cell.max(axis=1)
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
        l2 = lambda lo, hi: np.broadcast_to(M0[:, None], lo.shape)   # noqa: E731
        l1 = lambda lo, hi: np.broadcast_to(M1[:, None], lo.shape)   # noqa: E731
    else:
        if loss is None:
            raise ValueError("lipschitz_bound needs a loss or both M0 and M1")
        const = loss_constants(loss, a, b)
        M0, M1, method = const.M0, const.M1, const.method
        if M0 is None:
            return LipschitzBound(None, dg, delta, None, None, None, method)
        if _is_builtin(loss):
            l2 = lambda lo, hi: derivative_sups(loss, lo, hi)[0]     # noqa: E731
            l1 = lambda lo, hi: derivative_sups(loss, lo, hi)[1]     # noqa: E731
        else:
            l2 = lambda lo, hi: np.broadcast_to(M0[:, None], lo.shape)   # noqa: E731
            l1 = lambda lo, hi: np.broadcast_to(M1[:, None], lo.shape)   # noqa: E731
    terms = _sequence_terms(a, b, delta, l2, l1, cells)
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
