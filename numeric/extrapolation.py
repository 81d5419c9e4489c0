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
"""
from __future__ import annotations

import math
from dataclasses import dataclass
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


@dataclass
class IntegratorStats:
    """Counts of an integration: accepted and rejected steps, right-hand-side and Jacobian evaluations, and the
    largest h ||J||_2 over accepted steps (the stiffness index; an explicit method needs it below about 3)."""

    accepted: int = 0
    rejected: int = 0
    evaluations: int = 0
    jacobians: int = 0
    max_stiffness: float = 0.0


class LIEIntegrator:
    """Adaptive integration with :func:`lie_extrapolation_step`. ``advance(t, y, t_end)`` takes one accepted
    step towards t_end (never past it) and returns (t_new, y_new); the step size carries over between calls.
    ``max_steps`` bounds the number of attempted steps (a count, not a time)."""

    def __init__(self, rhs, jac, dfdt, backend: Backend = FLOAT64, order: int = 6, rtol: float = 1e-13,
                 atol: float = 1e-13, h0=1e-2, max_steps: int = 100_000, stiffness: Callable | None = None):
        self.rhs, self.jac, self.dfdt = rhs, jac, dfdt
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
        is spent."""
        while not self.exhausted:
            H = min(self.h, t_end - t)
            last = H >= t_end - t
            with np.errstate(over="ignore", invalid="ignore"):   # a non-finite trial is rejected below
                out = lie_extrapolation_step(self.rhs, self.jac, self.dfdt, t, y, H, self.order, self.backend,
                                             self.rtol, self.atol)
            self.stats.evaluations += out.evaluations
            self.stats.jacobians += 1
            err = out.err
            fac = 4.0 if err == 0 else min(4.0, max(0.2, 0.9 * err ** (-1.0 / self.order)))
            if err <= 1.0 and math.isfinite(err):
                self.stats.accepted += 1
                if self.stiffness is not None:
                    self.stats.max_stiffness = max(self.stats.max_stiffness, float(H) * self.stiffness())
                if not last or fac < 1:
                    self.h = H * fac
                return (t_end if last else t + H), out.y
            self.stats.rejected += 1
            self.h = H * (fac if math.isfinite(err) else 0.2)
        return None
