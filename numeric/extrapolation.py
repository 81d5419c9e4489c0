"""Extrapolated linearly implicit Euler: an embedded, L-stable integrator for y' = f(t, y), in float64 or mpmath.

One step of size H from (t0, y0), with J = df/dy(t0, y0) and f_t = df/dt(t0, y0) frozen for the step
(the linearly implicit Euler method applied to the autonomous system (t, y)' = (1, f)):

    for j = 1..K, h = H/j:   y_{m+1} = y_m + (I - h J)^{-1} (h f(t0 + m h, y_m) + h^2 f_t),   m = 0..j-1,
                              T_{j,1} = y_j
    Aitken-Neville in h:     T_{j,k+1} = T_{j,k} + (T_{j,k} - T_{j-1,k}) / (j/(j-k) - 1)

T_{K,K} has order K and T_{K,K-1} order K - 1; their difference is the embedded error estimate
(the accepted value is T_{K,K}). The table holds increments y_j - y0, not values, so the rounding of a
large |y0| is not amplified by the extrapolation weights (their sum of magnitudes is ~3000 for K = 8).
The error expansion of a one-step method in powers of h holds for any
frozen J, so J only decides stability: for J = df/dy every T_{j,1} has the stability function
(1 - z/j)^{-j}, which tends to 0 as z -> -infinity, and so do the extrapolated ones (their linear
combinations): steps far beyond 1/|lambda| stay stable once fast modes have decayed, which explicit pairs
cannot do. Step control: err = max_i |T_KK - T_K,K-1|_i / (atol + rtol max(|y0_i|, |y1_i|)); accept when
err <= 1; next H = H min(4, max(0.2, 0.9 err^{-1/K})).

Everything is generic over the backend: numpy float arrays (:data:`FLOAT64`) or numpy object arrays of
mpmath numbers (:data:`MPMATH`, at the caller's working precision); coefficients are exact rationals
rounded once to the backend.

In float64, with a right side that evaluates a stack of points at once, :func:`lie_extrapolation_step_rows`
runs the same step with the K rows advanced together (substep m of every row j > m in one call: K - 1 calls
instead of K (K - 1)/2; the rows are independent until the extrapolation, which is then its closed form as
a weighted sum of the increments), and :class:`LIEIntegrator` may lower the order of a step that its end
point shortens (``min_order``): such a step is short enough for a lower order at the same tolerance, judged
by the estimates T_jj - T_{j,j-1} of every order j that the table of the previous step holds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np


class Backend:
    """The few operations the integrator needs beyond array arithmetic."""

    name = "abstract"

    def num(self, p: int, q: int = 1):
        raise NotImplementedError

    def solver(self, M):
        """A function b -> M^{-1} b (M factored once)."""
        raise NotImplementedError

    def eye(self, D: int):
        raise NotImplementedError

    def err(self, e, y0, y1, rtol: float, atol: float) -> float:
        raise NotImplementedError


class _Float64(Backend):
    name = "float64"

    def num(self, p, q=1):
        return p / q

    def solver(self, M):
        if len(M) <= 16:   # small systems: one inverse (I - hJ is well conditioned here), then products
            Minv = np.linalg.inv(M)
            return lambda b: Minv @ b
        from scipy.linalg import lu_factor, lu_solve
        lu = lu_factor(M, check_finite=False)
        return lambda b: lu_solve(lu, b, check_finite=False)

    def eye(self, D):
        return np.eye(D)

    def err(self, e, y0, y1, rtol, atol):
        sc = atol + rtol * np.maximum(np.abs(y0), np.abs(y1))
        return float(np.max(np.abs(e) / sc)) if len(e) else 0.0


class _MPMath(Backend):
    name = "mpmath"

    def num(self, p, q=1):
        import mpmath
        return mpmath.mpf(p) / q

    def solver(self, M):
        import mpmath
        A = mpmath.matrix(M.tolist())

        def solve(b):
            x = mpmath.lu_solve(A, mpmath.matrix(list(b)))
            return np.array([x[i] for i in range(len(b))], dtype=object)
        return solve

    def eye(self, D):
        import mpmath
        out = np.empty((D, D), dtype=object)
        for i in range(D):
            for j in range(D):
                out[i, j] = mpmath.mpf(int(i == j))
        return out

    def err(self, e, y0, y1, rtol, atol):
        worst = 0.0
        for a, b, c in zip(e, y0, y1):
            sc = atol + rtol * float(max(abs(b), abs(c)))
            worst = max(worst, float(abs(a)) / sc)
        return worst


FLOAT64 = _Float64()
MPMATH = _MPMath()


@dataclass
class StepOutcome:
    """One attempted step: the new value (order K), the scaled error estimate, the right-hand-side calls."""

    y: object
    err: float
    evaluations: int
    order_errors: object = None   # float64 rows step: the scaled estimates of orders j = 2..K (err_j = T_jj - T_j,j-1)


def lie_extrapolation_step(rhs: Callable, jac: Callable, dfdt: Callable, t, y, H, order: int,
                           backend: Backend, rtol: float, atol: float, f0=None) -> StepOutcome:
    """One extrapolated linearly implicit Euler step of size H (module docstring). ``rhs(t, y)`` = f,
    ``jac(t, y)`` = df/dy (D x D), ``dfdt(t, y, f)`` = df/dt; ``f0`` = f(t, y) when already known."""
    D = len(y)
    J = jac(t, y)
    f_start = rhs(t, y) if f0 is None else f0
    evals = 0 if f0 is not None else 1
    ft = dfdt(t, y, f_start)
    eye = backend.eye(D)
    table: list[list] = []
    for j in range(1, order + 1):
        h = H * backend.num(1, j)
        solve = backend.solver(eye - J * h)          # array * scalar: mpmath scalars must not lead
        corr = ft * (h * h)
        dy = None
        for m in range(j):
            f = f_start if m == 0 else rhs(t + m * h, y + dy)
            evals += m > 0
            inc = solve(f * h + corr)
            dy = inc if dy is None else dy + inc
        row = [dy]
        for k in range(1, j):
            prev = table[j - 2][k - 1]
            row.append(row[k - 1] + (row[k - 1] - prev) * backend.num(j - k, k))   # 1/(j/(j-k) - 1) = (j-k)/k
        table.append(row)
    best = table[-1][-1]
    lower = table[-1][-2] if order > 1 else 0 * best
    y_new = y + best
    return StepOutcome(y_new, backend.err(best - lower, y, y_new, rtol, atol), evals)


@lru_cache(maxsize=None)
def _eye(D: int) -> np.ndarray:
    out = np.eye(D)
    out.flags.writeable = False
    return out


def _neville_weights(K: int) -> tuple:
    """Exact (w, w') of T_KK = sum_j w_j T_{j,1} and T_{K,K-1} = sum_j w'_j T_{j,1}, j = 1..K."""
    from fractions import Fraction

    w = [math.prod(Fraction(j, j - i) for i in range(1, K + 1) if i != j) for j in range(1, K + 1)]
    w2 = [Fraction(0)] + [math.prod(Fraction(j, j - i) for i in range(2, K + 1) if i != j) for j in range(2, K + 1)]
    return w, w2[:K]


@lru_cache(maxsize=None)
def extrapolation_weights(order: int) -> tuple:
    """(1/j for j = 1..K, w, w - w', E) for K = ``order``: T_KK = sum_j w_j T_{j,1} and T_{K,K-1} = sum_j w'_j T_{j,1}
    (Aitken-Neville in h over h_j = H/j is polynomial extrapolation to h = 0, so w_j = prod_{i != j} j/(j - i) over
    i = 1..K, and w'_j the same over i = 2..K, w'_1 = 0); row j - 2 of E (K - 1, K) holds w - w' of the order-j
    table (rows 1..j of this one; zeros after), j = 2..K. Exact rationals rounded once to float64."""
    K = order
    w, w2 = _neville_weights(K)
    E = np.zeros((max(K - 1, 0), K))
    for j in range(2, K + 1):
        a, b = _neville_weights(j)
        E[j - 2, :j] = [float(x - y) for x, y in zip(a, b)]
    return (np.array([1.0 / j for j in range(1, K + 1)]), np.array([float(x) for x in w]),
            np.array([float(a - b) for a, b in zip(w, w2)]), E)


def lie_extrapolation_step_rows(rhs: Callable, rhs_rows: Callable, jac: Callable, dfdt: Callable, t, y, H,
                                order: int, rtol: float, atol: float, f0=None) -> StepOutcome:
    """:func:`lie_extrapolation_step` in float64 with the K rows of the table advanced together. The rows are
    independent until the extrapolation, so at substep m the m-th points of all rows j > m are evaluated in one
    call ``rhs_rows(ts, ys)`` (ts (B,), ys (B, D) -> f (B, D)), and the K matrices I - (H/j) J are inverted in one
    call: K - 1 calls of the right side instead of K (K - 1)/2. Each row's increments are those of the sequential
    step; the extrapolation is its closed form, T_KK = sum_j w_j T_{j,1} and the error estimate
    T_KK - T_{K,K-1} = sum_j (w_j - w'_j) T_{j,1} (:func:`extrapolation_weights`), a combination of increments
    like the recursion (the rounding of a large |y0| is not amplified either)."""
    D = len(y)
    K = order
    inv_j, w, w_err, E = extrapolation_weights(K)
    J = jac(t, y)
    f_start = rhs(t, y) if f0 is None else f0
    evals = 0 if f0 is not None else 1
    ft = dfdt(t, y, f_start)
    h = H * inv_j                                                    # h_j = H/j, rows j = 1..K
    M = _eye(D) - h[:, None, None] * J
    if D <= 16:   # small systems: the K inverses at once (I - hJ is well conditioned here), then products
        Minv = np.linalg.inv(M)

        def solve(m, b):
            return np.matmul(Minv[m:], b[:, :, None])[:, :, 0]
    else:
        from scipy.linalg import lu_factor, lu_solve
        lus = [lu_factor(Mj, check_finite=False) for Mj in M]

        def solve(m, b):
            return np.array([lu_solve(lus[m + i], bi, check_finite=False) for i, bi in enumerate(b)])
    corr = np.multiply.outer(h * h, ft)
    dy = solve(0, np.multiply.outer(h, f_start) + corr)             # substep m = 0 of every row
    for m in range(1, K):                                           # substep m of the rows j > m
        hm = h[m:, None]
        f = rhs_rows(t + m * h[m:], y + dy[m:])
        evals += K - m
        dy[m:] += solve(m, f * hm + corr[m:])
    best = w @ dy
    y_new = y + best
    if K < 2:
        return StepOutcome(y_new, FLOAT64.err(w_err @ dy, y, y_new, rtol, atol), evals)
    errs = np.max(np.abs(E @ dy) / (atol + rtol * np.maximum(np.abs(y), np.abs(y_new))), axis=1) if D else 0 * E[:, 0]
    return StepOutcome(y_new, float(errs[-1]), evals, errs)


@dataclass
class IntegratorStats:
    """Counts of an integration: accepted and rejected steps, right-hand-side and Jacobian evaluations (points at
    which the right side was evaluated, whether one by one or in stacks), the largest h ||J||_2 over accepted
    steps (the stiffness index; an explicit method needs it below about 3), and how many accepted steps ran
    below the full order (``reduced_order``, see :meth:`LIEIntegrator.advance`)."""

    accepted: int = 0
    rejected: int = 0
    evaluations: int = 0
    jacobians: int = 0
    max_stiffness: float = 0.0
    reduced_order: int = 0


REDUCED_ORDER_SHARE = 0.1   # a lowered order (LIEIntegrator.advance) is predicted to meet this share of the tolerance


class LIEIntegrator:
    """Adaptive integration with :func:`lie_extrapolation_step`. ``advance(t, y, t_end)`` takes one accepted
    step towards t_end (never past it) and returns (t_new, y_new); the step size carries over between calls.
    ``max_steps`` bounds the number of attempted steps (a count, not a time).

    ``rhs_rows(ts, ys)`` (float64 only): the right side at a stack of points, (B,) and (B, D) -> (B, D); with it
    the steps are :func:`lie_extrapolation_step_rows`, and ``min_order`` (at least 2) allows the order of a
    step shortened by t_end to drop to it (:meth:`advance`)."""

    def __init__(self, rhs, jac, dfdt, backend: Backend = FLOAT64, order: int = 6, rtol: float = 1e-13,
                 atol: float = 1e-13, h0=1e-2, max_steps: int = 100_000, stiffness: Callable | None = None,
                 rhs_rows: Callable | None = None, min_order: int | None = None):
        self.rhs, self.jac, self.dfdt = rhs, jac, dfdt
        self.rhs_rows = rhs_rows if backend is FLOAT64 else None
        self.min_order = min(order, max(2, min_order)) if min_order is not None and self.rhs_rows is not None \
            else order
        self._h_order: dict = {}
        self.backend, self.order, self.rtol, self.atol = backend, order, rtol, atol
        self.h = h0
        self.max_steps = max_steps
        self.stats = IntegratorStats()
        self.stiffness = stiffness

    @property
    def exhausted(self) -> bool:
        return self.stats.accepted + self.stats.rejected >= self.max_steps

    def advance(self, t, y, t_end):
        """One accepted step from (t, y) towards t_end; returns (t_new, y_new), or None when the step budget
        is spent.

        With ``min_order`` < ``order`` (float64 rows steps), a step that t_end shortens below the proposed step
        size runs at the lowest order j >= min_order whose step size predicted from the last estimates of order j
        covers it, the prediction aiming at REDUCED_ORDER_SHARE (1/10) of the tolerance: 0.9 (err_j / 0.1)^(-1/j)
        times that step. (A shortened step of the full order lands far inside the tolerance; a lower order aimed
        at the tolerance itself would spend that accuracy: on the fixed-step simulator's checkpoints up to 1e6
        steps its agreement with literal GD went from 3.5e-12 to 5.7e-12 in the norm, at a tenth it stayed.)
        Such a step leaves the proposed step size of the full order as it was; if it is rejected, it is retried
        at the full order."""
        full = False
        while not self.exhausted:
            H = min(self.h, t_end - t)
            last = H >= t_end - t
            K = self.order if full or not last else self._capped_order(H)
            with np.errstate(over="ignore", invalid="ignore"):   # a non-finite trial is rejected below
                if self.rhs_rows is not None:
                    out = lie_extrapolation_step_rows(self.rhs, self.rhs_rows, self.jac, self.dfdt, t, y, H,
                                                      K, self.rtol, self.atol)
                else:
                    out = lie_extrapolation_step(self.rhs, self.jac, self.dfdt, t, y, H, K, self.backend,
                                                 self.rtol, self.atol)
            self.stats.evaluations += out.evaluations
            self.stats.jacobians += 1
            err = out.err
            fac = 4.0 if err == 0 else min(4.0, max(0.2, 0.9 * err ** (-1.0 / K)))
            if out.order_errors is not None and self.min_order < self.order:
                self._predict(H, out.order_errors)
            if err <= 1.0 and math.isfinite(err):
                self.stats.accepted += 1
                self.stats.reduced_order += K < self.order
                if self.stiffness is not None:
                    self.stats.max_stiffness = max(self.stats.max_stiffness, float(H) * self.stiffness())
                if K == self.order and (not last or fac < 1):
                    self.h = H * fac
                return (t_end if last else t + H), out.y
            self.stats.rejected += 1
            if K < self.order:
                full = True
            else:
                self.h = H * (fac if math.isfinite(err) else 0.2)
        return None

    def _predict(self, H, errors) -> None:
        """Step sizes with which orders j = 2..K would meet REDUCED_ORDER_SHARE times the tolerance, after a step of
        size H with estimates ``errors``."""
        for j, e in enumerate(errors, start=2):
            e = float(e)
            if math.isfinite(e):
                self._h_order[j] = H * (4.0 if e == 0 else
                                        min(4.0, max(0.2, 0.9 * (e / REDUCED_ORDER_SHARE) ** (-1.0 / j))))
            else:
                self._h_order.pop(j, None)

    def _capped_order(self, H) -> int:
        for j in range(self.min_order, self.order):
            if self._h_order.get(j, 0.0) >= H:
                return j
        return self.order
