"""One-step consistency: a float64 GD step from a float64 iterate against the same step in mpmath.

A float64 GD run is trustworthy step by step when, at an iterate theta_k (a float64 vector, hence an exact
rational) with the step rule's state (f_{k-1}, the previous unit direction d_{k-1}), the update the float64
code computes,

    normalised:  delta_k = eta_k g_k / ||g_k||,  eta_k = the step rule of :mod:`numeric.gd` (constant, or
                 f_k max(eta, rho ||theta_k||) with the zigzag factor f_k)
    fixed:       delta_k = eta grad L(theta_k),

equals the update computed by the independent mpmath implementation (:func:`numeric.mp_attention.mp_gradient`,
``dps`` digits, exact data) from the same theta_k and state, to within what rounding can explain:

    ||delta_64 - delta_mp|| / ||delta_mp|| <= max(floor, B(theta_k)),

where B is a first-order bound on float64's rounding error in the step (:func:`rounding_bound`: a few ulps
times the condition of the step). The logits r_it = <theta, Phi_it - Phi_{i,a_i}> carry an absolute error of
about (D + 2) u sum_j |theta_j (Phi_it - Phi_{i,a_i})_j| (u = 2^-53); the weights e^{r_it} inherit it as a
relative error, so the step's relative error grows like u ||theta|| ||Phi_it - Phi_{i,a_i}||: about 1e-13 at
||theta|| ~ 100 and 1e-11 at ||theta|| ~ 1e4 for unit-scale tokens. Cancellation in the gap, in
gamma_it - gamma_{i,a_i} + gap_i, in l'(u_i) and in the final sum over tokens is accounted for the same way.

A step is also consistent when float64's next iterate fl(theta - delta_64) is the correctly rounded exact next
iterate theta - delta_mp (the best float64 can do; e.g. a fixed step below float64's resolution), or when the
zigzag rule's test <g_k, d_{k-1}> < 0 is within rounding of 0 (both step sizes are then correct: a tie).
The mpmath step is computed twice, at ``dps`` and ``dps + 20`` digits; their difference (``reference_error``)
shows that the reference itself is accurate.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np

from .batched import GROWTH, SHRINK
from .losses import Loss
from .mp_attention import mp_array, mp_gradient, mp_norm

U = 2.0 ** -53             # float64 unit roundoff
REFERENCE_EXTRA_DPS = 20   # the reference is recomputed this many digits higher to measure its own error


@dataclass
class MPStep:
    """The mpmath step from an iterate: the update delta (theta_{k+1} = theta - delta), the step size eta_k and
    the factor f_k of the step rule, the inner product <g_k/||g_k||, d_{k-1}> of its test (None when there is
    no test), ||g|| (of the scaled gradient for normalised GD) and the precision."""

    delta: list
    eta: mpmath.mpf
    factor: mpmath.mpf
    inner: mpmath.mpf | None
    grad_norm: mpmath.mpf
    dps: int


class MPData:
    """The exact data (Phi, gamma) rounded once to ``dps`` digits (object arrays of mpf), for repeated steps."""

    def __init__(self, phi_exact, gamma_exact, dps: int):
        self.dps = dps
        with mpmath.workdps(dps):
            self.phi = mp_array(phi_exact)
            self.gamma = mp_array(gamma_exact)


def _exact(x):
    """A float (or numpy float) as the mpf of its exact binary value; an mpf as it is (not rounded)."""
    return x if isinstance(x, mpmath.mpf) else mpmath.mpf(float(x))


def _values(a) -> list:
    return [_exact(x) for x in np.asarray(a, dtype=object).reshape(-1)]


def mp_step(theta, state, data: MPData, loss: Loss, *, method: str, step: float, adaptive: bool,
            relative: float = 0.0, turned: bool | None = None) -> MPStep:
    """The GD step from the iterate ``theta`` (floats: their exact binary values; or mpf numbers, e.g. an mpmath
    run's iterate) with the step rule's ``state`` (:class:`numeric.gd.StepState`), in mpmath at ``data.dps``
    digits (module docstring). ``turned``, when given, forces the zigzag test's branch (to compare a step at a
    tie with float64's branch)."""
    normalized = method == "normalized"
    dps = data.dps
    with mpmath.workdps(dps):
        th = _values(theta)
        g = mp_gradient(th, data.phi, data.gamma, loss, dps, scaled=normalized)
        gn = mp_norm(g)
        factor = _exact(state.factor)
        if not normalized:
            s = _exact(step)
            return MPStep([s * x for x in g], s, factor, None, gn, dps)
        unit = [x / gn for x in g] if gn else [mpmath.mpf(0)] * len(g)
        if not adaptive:
            eta = _exact(step)
            return MPStep([eta * x for x in unit], eta, factor, None, gn, dps)
        inner = None
        if state.direction is not None:
            prev = _values(state.direction)
            inner = mpmath.fsum(a * b for a, b in zip(unit, prev))
            back = inner < 0 if turned is None else turned
            factor = factor * mpmath.mpf(SHRINK) if back else min(mpmath.mpf(1), factor * mpmath.mpf(GROWTH))
        eta = factor * max(_exact(step), _exact(relative) * mp_norm(th))
        return MPStep([eta * x for x in unit], eta, factor, inner, gn, dps)


def rounding_bound(kernel, theta, loss: Loss, normalized: bool = True) -> float:
    """A first-order bound on the relative error of float64's GD update at ``theta`` (module docstring), from
    the stable decomposition of ``kernel`` (:class:`numeric.attention.StableAttention`): per token, the absolute
    error of its coefficient c_it = l'(u_i) s_it (gamma_it - gamma_{i,a_i} + gap_i) (scaled by e^{-max r} for
    normalised GD) from the rounding of the logits (D + 2) u rho_i, rho_i = max_t sum_j |theta_j (Phi_it -
    Phi_{i,a_i})_j|, of the tail sums, the gap (with its cancellation), u_i (through |l''/l'|, by a central
    difference) and the difference gamma_it - gamma_{i,a_i} + gap_i; then the error of the sum over tokens
    (nT + D + 2) u sum |c_it| ||Phi_it - Phi_{i,a_i}||, divided by ||g||, plus (D + 4) u for the
    normalisation and the step size. Returns inf where g = 0 or the evaluation is not finite."""
    theta = np.asarray(theta, dtype=float).reshape(-1)
    with np.errstate(all="ignore"):
        r_tail, e_tail, z, gap, u = kernel.tails(theta)
        n, T, D = kernel.dphi.shape
        dphi, dg = kernel.dphi, kernel.dgamma
        mask = np.isfinite(r_tail)
        if normalized:
            rmax = r_tail.max()
            base = np.exp(r_tail - rmax) if np.isfinite(rmax) else e_tail
        else:
            base = e_tail
        lp = np.asarray(loss.derivative(u), dtype=float)
        w = base * (lp / z)[:, None]
        h = dg + gap[:, None]
        c = np.where(mask, w * h, 0.0)
        dnorm = np.linalg.norm(dphi, axis=2)
        rho_i = (np.abs(dphi) @ np.abs(theta)).max(axis=1)
        s = np.where(mask, e_tail, 0.0) / z[:, None]
        err_gap = U * ((T + 2) + (D + 2) * rho_i) * (s * np.abs(dg)).sum(axis=1)
        err_u = U * np.abs(kernel.gamma_a) + err_gap
        hh = 1e-4 * np.maximum(1.0, np.abs(u))
        lpp = (np.asarray(loss.derivative(u + hh), dtype=float) - np.asarray(loss.derivative(u - hh), dtype=float)) \
            / (2 * hh)
        cond_lp = np.where(lp != 0, np.abs(lpp / np.where(lp != 0, lp, 1.0)), 1.0)
        rel_w = U * (2 * (D + 2) * rho_i + T + 8) + cond_lp * err_u
        err_h = U * np.abs(dg) + err_gap[:, None] + U * np.abs(h)
        err_c = np.where(mask, np.abs(w) * (np.abs(h) * rel_w[:, None] + err_h), 0.0)
        g = (c.reshape(-1) @ kernel.dphi_flat) / n
        E = ((err_c * dnorm).sum() + U * (n * T + D + 2) * (np.abs(c) * dnorm).sum()) / n
        gn = float(np.linalg.norm(g))
        out = E / gn + (D + 4) * U if gn > 0 else np.inf
    return float(out) if np.isfinite(out) else float("inf")


def reference_bits(values) -> int:
    """The longest mantissa (in bits) among mpf ``values``: a number computed at p bits carries about p, so a
    reference computed at too few digits shows here (exact short numbers aside)."""
    return max((int(v._mpf_[1]).bit_length() for v in values if isinstance(v, mpmath.mpf)), default=0)


def _rel(a, b) -> mpmath.mpf:
    """||a - b|| / ||b|| at the working precision (||a|| when b = 0)."""
    nb = mp_norm(b)
    diff = mp_norm([mpmath.mpf(x) - y for x, y in zip(a, b)])
    return diff / nb if nb else diff


def correctly_rounded(theta, delta64, delta_mp) -> bool:
    """Whether float64's next iterate fl(theta - delta_64) equals the exact theta - delta_mp rounded to
    nearest, in every component (float64's best possible next iterate)."""
    th = np.asarray(theta, dtype=float).reshape(-1)
    with np.errstate(all="ignore"):
        nxt = th - np.asarray(delta64, dtype=float).reshape(-1)
    for t, x, d in zip(th, nxt, delta_mp):
        exact = mpmath.mpf(float(t)) - d
        if float(exact) != float(x):   # mpf -> float rounds to nearest
            return False
    return True


class StepReference:
    """The mpmath steps from one iterate and state (:func:`mp_step`), computed on demand and kept: at the
    working digits (``data``) and, to measure their own error, at more digits (``high``); for the zigzag
    test's own branch or a forced one."""

    def __init__(self, theta, state, data: MPData, loss: Loss, *, method: str, step: float, adaptive: bool,
                 relative: float = 0.0, high: MPData | None = None):
        self.theta = np.asarray(theta, dtype=float).reshape(-1).copy()
        self.state, self.data, self.high, self.loss = state, data, high, loss
        self.method, self.step, self.adaptive, self.relative = method, step, adaptive, relative
        self._steps: dict = {}

    def get(self, turned: bool | None = None, high: bool = False) -> MPStep:
        key = (turned, high)
        if key not in self._steps:
            self._steps[key] = mp_step(self.theta, self.state, self.high if high else self.data, self.loss,
                                       method=self.method, step=self.step, adaptive=self.adaptive,
                                       relative=self.relative, turned=turned)
        return self._steps[key]


def check_step(delta64, eta64, reference: StepReference, *, bound: float, floor: float,
               turned64: bool | None = None) -> dict:
    """Compare one float64 step (update ``delta64``, step size ``eta64``, zigzag branch ``turned64``: whether
    float64's test <g_k, d_{k-1}> < 0 held, None without a test) from the iterate and state of ``reference``
    with the mpmath step (module docstring). ``bound`` is :func:`rounding_bound` at theta, ``floor`` the least
    tolerance; when ``reference.high`` is set, the mpmath step's own error is measured.

    Returns a row: rel_error, tolerance = max(floor, bound), ratio = rel_error / tolerance, tie (the zigzag
    test within rounding of 0 with the branches differing), correctly_rounded, consistent, reference_error,
    reference_bits (:func:`reference_bits` of the mpmath update), the step sizes and the zigzag inner
    product."""
    theta, state = reference.theta, reference.state
    delta64 = np.asarray(delta64, dtype=float).reshape(-1)
    normalized = reference.method == "normalized"
    ref = reference.get()
    tol = max(float(floor), float(bound))
    row = {"norm": float(np.linalg.norm(theta)), "eta_float64": float(eta64), "eta_mp": float(ref.eta),
           "turned_float64": turned64,
           "inner_mp": None if ref.inner is None else float(ref.inner), "tie": False, "bound": float(bound),
           "tolerance": tol}
    forced = None
    if not (normalized and reference.adaptive and state.direction is not None and ref.inner is not None):
        turned64 = None
    elif turned64 is not None:
        if bool(turned64) != bool(ref.inner < 0):
            # the branches differ: consistent only when the test is within rounding of 0 (a tie)
            row["tie"] = bool(abs(ref.inner) <= max(tol, 4 * (len(theta) + 2) * U))
            forced = bool(turned64)
            ref = reference.get(turned=forced)
    with mpmath.workdps(reference.data.dps):
        row["rel_error"] = float(_rel([float(x) for x in delta64], ref.delta))
        row["correctly_rounded"] = correctly_rounded(theta, delta64, ref.delta)
    row["reference_bits"] = reference_bits(ref.delta)
    if reference.high is not None:
        hi = reference.get(turned=forced, high=True)
        with mpmath.workdps(reference.high.dps):
            row["reference_error"] = float(_rel(ref.delta, hi.delta))
    row["ratio"] = row["rel_error"] / tol if tol > 0 else float("inf")
    branch_ok = turned64 is None or bool(turned64) == bool(ref.inner < 0) or row["tie"]
    row["consistent"] = bool(branch_ok and (row["rel_error"] <= tol or row["correctly_rounded"]))
    row["delta_mp"] = [mpmath.nstr(x, 25) for x in ref.delta]
    return row
