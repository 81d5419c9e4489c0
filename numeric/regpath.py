"""Regularisation paths of the attention ERM, in the log domain so that they stay exact at any radius.

    p alone:  p_R = argmin_{||p|| <= R} L(p)                         (v fixed, gamma fixed)
    joint:    (v_r, p_R) = argmin_{||v|| <= r, ||p|| <= R} L(v, p)

At large radii L - inf L is far below the float64 resolution of L (it scales like e^{-R * margin}),
so the minimisations use objectives whose float64 values keep full relative accuracy:

* p block: F_p(p) = log(L(p) - L*) with L* = (1/n) sum_i l(gamma*_i), gamma*_i = max_t gamma_it.
  The excess of sequence i is l(gamma*_i - delta_i) - l(gamma*_i) with the deficit
  delta_i = gamma*_i - u_i = sum_t s_it (gamma*_i - gamma_it), a sum of non-negative terms; log delta_i
  is a log-sum-exp of r_it - log(1 + tail_i) + log(gamma*_i - gamma_it), and log excess_i follows from
  expm1/log1p forms of l. grad F_p = sum_i l'(u_i) grad u_i / sum_i excess_i, both sums rescaled by
  the same e^{-M}.
* v block: F_v(v) = log L(v, p) = log sum_i l(u_i) - log n, with u_i = Y_i v^T z_i(p) and
  grad F_v = sum_i l'(u_i) Y_i z_i / sum_i l(u_i), again rescaled in the log domain.

Each block is minimised over its ball by projected gradient descent with Armijo backtracking and spectral
(Barzilai-Borwein) step lengths, falling back on plain doubling/halving steps where those do not converge
(:func:`ball_minimize`); the objectives are evaluated by :class:`PObjective` / :class:`VObjective`, which keep
one attention engine and the parts that do not move. The joint problem is solved by alternating the two blocks
(block coordinate descent) until neither moves. The p
problem is not convex: every radius is solved from several starts (the previous radius's solution,
given directions such as the SVM directions, seeded random directions), and the record keeps the
best value, how many starts reached it and the spread. A best value over starts is a local search,
never a certificate of a global minimum.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .attention import StableAttention, attention_state
from .joint import log_loss_and_neg_derivative, log_neg_derivative, mixed_features, scores
from .losses import Loss


def _softplus(x):
    x = np.asarray(x, dtype=float)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _logsumexp(a, axis=None):
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis) if axis is not None else float(out.ravel()[0])


def _log_logistic_excess(lem, softplus_gstar):
    """log(log1p(y)) with log y = lem - softplus(gamma*), y = (e^delta - 1) sigma(-gamma*): the logistic excess
    l(gamma* - delta) - l(gamma*) = log1p(y). For log y <= 0 as log y + log(log1p(y) / y) (no underflow of y's
    logarithm), else log(log y + log1p(e^{-log y})). e^{-|log y|} is clipped at 1e-300, where log1p(w)/w = 1 and
    log y + w = log y to the last bit, so that no logarithm of 0 is formed in either branch."""
    logy = lem - softplus_gstar
    w = np.maximum(np.exp(-np.abs(logy)), 1e-300)       # y for log y <= 0, 1/y above
    l1 = np.log1p(w)
    return np.where(logy <= 0, logy + np.log(l1 / w), np.log(np.maximum(logy, 0.0) + l1))


def _log_expm1_of_exp(log_delta):
    """log(e^delta - 1) from log delta: delta + log(1 - e^{-delta}) (expm1 keeps small delta exact), and log delta
    itself where delta < 1e-300 (there e^delta - 1 = delta to the last bit, and delta may have underflowed)."""
    delta = np.exp(log_delta)
    clipped = np.maximum(delta, 1e-300)                 # the branch np.where drops never takes log 0
    return np.where(delta < 1e-300, log_delta, clipped + np.log(-np.expm1(-clipped)))


def log_excess(loss: Loss, gamma_star: np.ndarray, log_delta: np.ndarray, softplus_gstar=None) -> np.ndarray:
    """log(l(gamma* - delta) - l(gamma*)) from log delta, stably.

    exponential: e^{-gamma*} (e^delta - 1); logistic: log1p((e^delta - 1) sigma(-gamma*)); correlation:
    delta; any other loss: -l'(gamma*) delta for delta < 1e-8, else the difference of values.
    ``softplus_gstar`` may give softplus(gamma*) (logistic) computed once.
    """
    log_delta = np.asarray(log_delta, dtype=float)
    if loss.name == "correlation":
        return log_delta                                              # l(g - delta) - l(g) = delta
    if loss.name == "exponential":
        return -gamma_star + _log_expm1_of_exp(log_delta)
    if loss.name == "logistic":
        return _log_logistic_excess(_log_expm1_of_exp(log_delta),
                                    _softplus(gamma_star) if softplus_gstar is None else softplus_gstar)
    # any other decreasing loss: first order where delta is tiny, the direct difference elsewhere
    delta = np.exp(log_delta)
    with np.errstate(divide="ignore", invalid="ignore"):  # nan where l is not decreasing (Assumption A fails)
        first = log_neg_derivative(loss, gamma_star) + log_delta
        direct = np.log(np.maximum(loss.value(gamma_star - delta) - loss.value(gamma_star), 0.0))
    return np.where(delta < 1e-8, first, direct)


class PObjective:
    """F_p(p) = log(L(p) - L*) and grad F_p for fixed data (Phi, gamma), evaluated at any p (see module docstring).

    One :class:`numeric.attention.StableAttention` serves every evaluation (the dominant tokens and the feature
    differences Phi_it - Phi_{i,a_i} stay cached while the dominant tokens stay), and the parts that do not depend
    on p are computed once: log(gamma*_i - gamma_it) (-inf where zero) and softplus(gamma*_i). ``gamma_star_gap``
    (n, T) may give gamma*_i - gamma_it computed from data differences.
    """

    def __init__(self, phi, gamma, loss: Loss, gamma_star_gap=None):
        self.att = StableAttention(phi, gamma)
        gamma = self.att.gamma
        self.loss = loss
        self.gamma_star = gamma.max(axis=1)
        c = self.gamma_star[:, None] - gamma if gamma_star_gap is None else np.asarray(gamma_star_gap, dtype=float)
        with np.errstate(divide="ignore"):
            self.log_c = np.where(c > 0, np.log(np.where(c > 0, c, 1.0)), -np.inf)
        self.softplus_gstar = _softplus(self.gamma_star) if loss.name == "logistic" else None
        self.flat_rows_index = np.nonzero(np.all(c <= 0, axis=1))[0]
        self.flat_rows = len(self.flat_rows_index) > 0
        self.log_n = float(np.log(self.att.n))
        self.evaluations = 0

    def __call__(self, p):
        self.evaluations += 1
        att = self.att
        r = att.tail_logits(p)                                   # <= 0, exactly 0 at a_i
        r_tail, e_tail, z, gap, u = att.tails_from(r)
        log_s = r - np.log1p(np.add.reduce(e_tail, axis=1))[:, None]   # log s_it; -log(1 + tail sum) at a_i
        terms = log_s + self.log_c                               # log s_it + log(gamma*_i - gamma_it)
        m = np.maximum.reduce(terms, axis=1)
        if self.flat_rows:                                       # rows with no positive gamma*_i - gamma_it: delta_i = 0
            m[self.flat_rows_index] = 0.0
            with np.errstate(divide="ignore"):
                log_delta = np.log(np.add.reduce(np.exp(terms - m[:, None]), axis=1)) + m
        else:
            log_delta = np.log(np.add.reduce(np.exp(terms - m[:, None]), axis=1)) + m
        lex = log_excess(self.loss, self.gamma_star, log_delta, self.softplus_gstar)
        M = float(lex.max())
        if not math.isfinite(M):
            return -np.inf, np.zeros_like(p)
        den = float(np.add.reduce(np.exp(lex - M)))
        lam = log_neg_derivative(self.loss, u) - M
        w = np.exp((log_s + att.off) + lam[:, None]) * (att.dgamma + gap[:, None])
        # sum_i l'(u_i) grad u_i, times e^{-M}
        num = w.reshape(-1) @ att.dphi_flat if att.factored is None else np.einsum("it,itd->d", w, att.dphi)
        return math.log(den) + M - self.log_n, num / -den


def p_objective(p, phi, gamma, loss: Loss, gamma_star_gap=None):
    """(F_p(p), grad F_p(p)) with F_p = log(L(p) - L*) (see module docstring and :class:`PObjective`).

    ``gamma_star_gap`` (n, T) may give gamma*_i - gamma_it computed from data differences.
    """
    return PObjective(phi, gamma, loss, gamma_star_gap)(np.asarray(p, dtype=float))


class VObjective:
    """F_v(v) = log L = log((1/n) sum_i l(Y_i v^T z_i)) and grad F_v for fixed mixed features Z (n, d)."""

    def __init__(self, Z, Y, loss: Loss):
        self.Z, self.Y, self.loss = np.asarray(Z, dtype=float), np.asarray(Y, dtype=float), loss
        self.log_n = float(np.log(len(self.Y)))
        self.evaluations = 0

    def __call__(self, v):
        self.evaluations += 1
        u = self.Y * (self.Z @ v)
        ll, lam = log_loss_and_neg_derivative(self.loss, u)
        M = float(ll.max())
        den = float(np.add.reduce(np.exp(ll - M)))
        g = (np.exp(lam - M) * self.Y) @ self.Z
        return math.log(den) + M - self.log_n, g / -den


def v_objective(v, Z, Y, loss: Loss):
    """(F_v(v), grad F_v(v)) with F_v = log L = log((1/n) sum_i l(Y_i v^T z_i))."""
    return VObjective(Z, Y, loss)(np.asarray(v, dtype=float))


def _norm(x) -> float:
    return math.sqrt(float(x @ x))


def project_ball(x, radius):
    """The Euclidean projection onto {||x|| <= radius}."""
    nx = _norm(x)
    return x if nx <= radius else x * (radius / nx)


@dataclass
class BallMin:
    """Result of the projected-gradient minimisation: x, F(x), iterations, the projected-gradient residual
    ||x - proj(x - grad F(x))||, why it stopped and how many times F was evaluated."""

    x: np.ndarray
    value: float
    iterations: int
    residual: float
    reason: str
    evaluations: int = 0


def spectral_ball_minimize(fun, x0, radius, max_iter: int = 300, tol: float = 1e-11) -> BallMin:
    """min F over {||x|| <= radius} by projected gradient steps x -> proj(x - t grad F(x)) with spectral step
    lengths and a backtracking line search along the projection arc.

    The first trial step of every iteration is the Barzilai-Borwein length t = s.s / s.y of the last accepted
    step s and gradient change y (the inverse curvature of F along s; on the sphere ||x|| = radius the projection
    supplies the curvature of the sphere, so the Euclidean s.y is the one that matters), doubled from the last t
    when s.y <= 0. A trial is accepted when F(x_new) <= F(x) + 1e-4 grad F.(x_new - x) (monotone Armijo: a
    nonmonotone test lets a spectral step climb out of a region and lose it when F spans hundreds of units, as
    on the v block at large radii), or, once F no longer changes above its rounding level, when the
    gradient at the new point still has a non-positive slope along the step (the gradients keep full relative
    accuracy where F's values do not); otherwise t halves. Stops when the projected gradient residual
    ||x - proj(x - grad F(x))|| is below tol * max(1, radius) ("converged"), when no step can be found
    (t < 1e-30, "rounding") or after ``max_iter`` iterations ("iterations"; then the point of least F seen is
    returned)."""
    return _projected_gradient(fun, x0, radius, max_iter, tol, spectral=True)


def plain_ball_minimize(fun, x0, radius, max_iter: int = 300, tol: float = 1e-11) -> BallMin:
    """min F over {||x|| <= radius} by projected gradient descent x -> proj(x - t grad F(x)) with the acceptance and
    stopping rules of :func:`spectral_ball_minimize`, but t doubled after an accepted step and halved after a
    rejected one. Slower on smooth problems, steadier where F behaves like a maximum of linear functions (large
    radii, many active constraints), where spectral steps can keep overshooting the kinks."""
    return _projected_gradient(fun, x0, radius, max_iter, tol, spectral=False)


def _projected_gradient(fun, x0, radius, max_iter: int, tol: float, spectral: bool) -> BallMin:
    """The projected gradient loop of both ball solvers; only the next trial step differs (``spectral``:
    Barzilai-Borwein, capped at 1e12, and the least F seen returned after ``max_iter``; else doubling, capped
    at 1e8)."""
    x = project_ball(np.asarray(x0, dtype=float).copy(), radius)
    F, g = fun(x)
    evaluations = 1
    t = 1.0
    scale = max(1.0, radius)
    reason = "iterations"
    best = (F, x, g)
    it = 0
    for it in range(1, max_iter + 1):
        if _norm(x - project_ball(x - g, radius)) <= tol * scale:
            reason = "converged"
            break
        while True:
            xn = project_ball(x - t * g, radius)
            d = xn - x
            if not d.any():
                t = 0.0
                break
            Fn, gn = fun(xn)
            evaluations += 1
            if Fn <= F + 1e-4 * float(g @ d):
                break
            if abs(Fn - F) <= 8e-16 * max(1.0, abs(F)) and float(gn @ d) <= 0:
                break
            t *= 0.5
            if t < 1e-30:
                break
        if t < 1e-30:
            reason = "rounding"
            break
        if spectral:
            sy = float(d @ (gn - g))
            t = min(float(d @ d) / sy, 1e12) if sy > 0 else min(2.0 * t, 1e12)
        else:
            t = min(t * 2.0, 1e8)
        x, F, g = xn, Fn, gn
        if F < best[0]:
            best = (F, x, g)
    if spectral and reason == "iterations" and best[0] < F:
        F, x, g = best
    residual = _norm(x - project_ball(x - g, radius))
    return BallMin(x=x, value=float(F), iterations=it, residual=residual, reason=reason, evaluations=evaluations)


def ball_minimize(fun, x0, radius, max_iter: int = 300, tol: float = 1e-11) -> BallMin:
    """min F over {||x|| <= radius}: :func:`spectral_ball_minimize` from x0, and where it does not converge also
    :func:`plain_ball_minimize` from x0; the result of lower F (a converged one on ties). ``iterations`` and
    ``evaluations`` count both runs."""
    first = spectral_ball_minimize(fun, x0, radius, max_iter=max_iter, tol=tol)
    if first.reason == "converged":
        return first
    second = plain_ball_minimize(fun, x0, radius, max_iter=max_iter, tol=tol)
    best = second if (second.value, second.reason != "converged") < (first.value, first.reason != "converged") \
        else first
    best.iterations = first.iterations + second.iterations
    best.evaluations = first.evaluations + second.evaluations
    return best


@dataclass
class PathPoint:
    """One radius of a regularisation path: the best solution over the starts and the search record.

    value: best objective (F_p for p alone, log L for joint), starts: how many starts, reached: how many
    ended within ``value_tol`` of the best, spread: max - min of the final values, direction_spread:
    the largest 1 - corr between the best solution and another start that reached the best value.
    """

    radius: float
    x: np.ndarray
    value: float
    starts: int
    reached: int
    spread: float
    direction_spread: float
    residual: float
    v: np.ndarray | None = None
    v_radius: float | None = None
    start_values: list = field(default_factory=list)


def _omc(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 1.0
    d = a / na - b / nb
    return float(0.5 * d @ d)


def _starts(radius, prev, directions, rng, n_random, D):
    out = []
    if prev is not None and np.linalg.norm(prev) > 0:
        out.append(prev / np.linalg.norm(prev) * radius)
    for u in directions:
        u = np.asarray(u, dtype=float)
        if np.linalg.norm(u) > 0:
            out.append(u / np.linalg.norm(u) * radius)
    for _ in range(n_random):
        g = rng.standard_normal(D)
        out.append(g / np.linalg.norm(g) * radius)
    return out


def _tally(results, value_tol):
    vals = np.array([r[1] for r in results], dtype=float)
    vals = np.where(np.isnan(vals), np.inf, vals)  # a start whose value could not be evaluated never wins
    best = int(np.argmin(vals))
    if np.isfinite(vals[best]):
        tol = value_tol * max(1.0, abs(vals[best]))
        reached = [k for k in range(len(results)) if vals[k] <= vals[best] + tol]
    else:
        reached = [k for k in range(len(results)) if vals[k] == vals[best]]
    dspread = max([_omc(results[k][0], results[best][0]) for k in reached] + [0.0])
    finite = vals[np.isfinite(vals)]
    spread = float(finite.max() - finite.min()) if len(finite) == len(vals) else float("inf")
    return best, reached, spread, dspread, vals


def p_path(phi, gamma, loss: Loss, radii, directions=(), n_random: int = 3, seed: int = 0,
           value_tol: float = 1e-10, max_iter: int = 400) -> list:
    """p_R = argmin_{||p|| <= R} L(p) on each radius R of ``radii`` (increasing), v fixed.

    Starts at each R: the previous radius's best solution rescaled to R, each of ``directions`` at
    norm R, and ``n_random`` seeded random directions at norm R."""
    rng = np.random.default_rng(seed)
    D = phi.shape[2]
    prev = None
    out = []
    for R in radii:
        results = []
        objective = PObjective(phi, gamma, loss)
        for x0 in _starts(R, prev, directions, rng, n_random, D):
            res = ball_minimize(objective, x0, R, max_iter=max_iter)
            results.append((res.x, res.value, res.residual))
        best, reached, spread, dspread, vals = _tally(results, value_tol)
        prev = results[best][0]
        out.append(PathPoint(radius=float(R), x=prev, value=float(vals[best]), starts=len(results),
                             reached=len(reached), spread=spread, direction_spread=dspread,
                             residual=results[best][2], start_values=vals.tolist()))
    return out


def joint_minimize(v0, p0, X, Y, phi, loss: Loss, r, R, rounds: int = 30, tol: float = 1e-12,
                   max_iter: int = 300):
    """(v, p) minimising L over ||v|| <= r, ||p|| <= R by block coordinate descent: the p block
    minimises F_p with gamma = Y X v, the v block minimises F_v with the mixed features z(p); repeat
    until neither block moves by more than tol (relative to its radius). Returns (v, p, log L, F_p)."""
    v = project_ball(np.asarray(v0, dtype=float), r)
    p = project_ball(np.asarray(p0, dtype=float), R)
    n = X.shape[0]
    rows = np.arange(n)
    for _ in range(rounds):
        gamma = scores(v, X, Y)
        star = np.argmax(gamma, axis=1)
        gap = Y[:, None] * ((X[rows, star][:, None, :] - X) @ v)        # gamma*_i - gamma_it from data differences
        gap = np.maximum(gap, 0.0)
        pr = ball_minimize(PObjective(phi, gamma, loss, gap), p, R, max_iter=max_iter)
        st = attention_state(pr.x, phi, gamma)
        Z = mixed_features(X, st)
        vr = ball_minimize(VObjective(Z, Y, loss), v, r, max_iter=max_iter)
        moved = np.linalg.norm(vr.x - v) / max(r, 1e-300) + np.linalg.norm(pr.x - p) / max(R, 1e-300)
        v, p = vr.x, pr.x
        if moved <= tol:
            break
    gamma = scores(v, X, Y)
    Fp, _ = p_objective(p, phi, gamma, loss)
    st = attention_state(p, phi, gamma)
    Fv, _ = v_objective(v, mixed_features(X, st), Y, loss)
    return v, p, Fv, Fp


def joint_path(X, Y, phi, loss: Loss, radii, ratio: float = 1.0, starts=(), n_random: int = 2,
               seed: int = 0, value_tol: float = 1e-12) -> list:
    """(v_r, p_R) on the grid R in ``radii``, r = ratio * R. ``starts`` are (v direction, p direction)
    pairs; with the previous radius's solution and ``n_random`` seeded random pairs they are the starts
    of block coordinate descent. The best start minimises log L, ties (within value_tol) broken by F_p."""
    rng = np.random.default_rng(seed)
    d, D = X.shape[2], phi.shape[2]
    prev = None
    out = []
    for R in radii:
        r = ratio * R
        pairs = []
        if prev is not None:
            pairs.append(prev)
        pairs += [(np.asarray(a, float), np.asarray(b, float)) for a, b in starts]
        for _ in range(n_random):
            pairs.append((rng.standard_normal(d), rng.standard_normal(D)))
        results = []
        for a, b in pairs:
            v0 = a / np.linalg.norm(a) * r
            p0 = b / np.linalg.norm(b) * R
            v, p, Fv, Fp = joint_minimize(v0, p0, X, Y, phi, loss, r, R)
            results.append((v, p, Fv, Fp))
        vals = np.array([x[2] for x in results])
        tol = value_tol * max(1.0, abs(vals.min()))
        reached = [k for k in range(len(results)) if vals[k] <= vals.min() + tol]
        best = min(reached, key=lambda k: results[k][3])
        dspread = max(max(_omc(results[k][1], results[best][1]), _omc(results[k][0], results[best][0]))
                      for k in reached)
        v, p = results[best][0], results[best][1]
        prev = (v, p)
        out.append(PathPoint(radius=float(R), x=p, value=float(vals[best]), starts=len(results),
                             reached=len(reached), spread=float(vals.max() - vals.min()),
                             direction_spread=float(dspread), residual=float("nan"), v=v, v_radius=float(r),
                             start_values=vals.tolist()))
    return out


def geometric_radii(r_min: float, r_max: float, per_decade: int = 3) -> list:
    """r_min * 10^(k / per_decade) for k = 0, 1, ... up to r_max (inclusive, rounded)."""
    k = int(round(np.log10(r_max / r_min) * per_decade))
    return [float(r_min * 10 ** (j / per_decade)) for j in range(k + 1)]
