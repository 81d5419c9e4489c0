"""The fixed-step GD simulator of :mod:`numeric.fixed_step` in arbitrary precision (mpmath), for the cross-check.

Same algorithm, same schedule, same driver (:func:`numeric.fixed_step.flow_phase`), other arithmetic:

1. literal GD with :func:`numeric.mp_gd.run_gd_mp` (``method="fixed"``, fixed-point kernel) until, at a
   checkpoint k_s >= 1, eps = eta ||H|| bound <= ``switch_tol`` (bound from
   :meth:`numeric.mp_hessian.MPLocalDerivatives.bound`);
2. the modified equation in tau = ln k, unscaled (mpmath numbers do not underflow or overflow):

       d theta/dtau = -eta e^tau [ g + (eta/2) H g + eta^2 ((1/3) H H g + (1/12) D^3 L[g, g]) ]

   with the derivatives of :mod:`numeric.mp_hessian` and the extrapolated linearly implicit Euler method
   of :mod:`numeric.extrapolation` on mpmath numbers (Jacobian -eta e^tau H);
3. checkpoints as :class:`numeric.fixed_step.FixedStepCheckpoint` whose ``theta`` is an object array of mpf
   and whose ``extra`` holds the mpmath values of ||theta||, ||grad L||, max_i (1 - s_{i,a_i}) and L.

The error model is that of :mod:`numeric.fixed_step` with (b) at the tolerances given here and (c) at
``dps`` digits, so against the float64 simulator it isolates float64 rounding and integration error, and
against literal mpmath GD it isolates the truncation of the modified equation.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np

from .extrapolation import MPMATH, IntegratorStats, LIEIntegrator
from .fixed_step import (FixedStepCheckpoint, FixedStepTrajectory, FlowOps, check_arguments, flow_phase,
                         switch_observer)
from .hessian import loss_derivatives
from .losses import Loss
from .mp_attention import mp_array, mp_loss_value, mp_norm
from .mp_gd import run_gd_mp
from .mp_hessian import MPLocalDerivatives


class MPModifiedFlow:
    """d theta/dtau of the modified equation in mpmath (module docstring); ``jacobian`` = -eta e^tau H, which also
    decides (once per integration step) which corrections are kept: those of relative size eps^j > 10^-(dps+2)."""

    def __init__(self, phi, gamma, loss: Loss, step, order: int = 2, dps: int = 30):
        if order not in (0, 1, 2):
            raise ValueError(f"order must be 0, 1 or 2, got {order!r}")
        self.loss, self.dps, self.order = loss, dps, order
        self.derivs = loss_derivatives(loss)
        with mpmath.workdps(dps):
            # rounded once to mpf (exact inputs would be re-converted at every evaluation otherwise)
            self.phi, self.gamma = mp_array(phi), mp_array(gamma)
            self.step = mp_array([step])[0]
        self._key, self._loc = None, None
        self.terms = order
        self.last_jacobian_norm = 0.0

    def local(self, theta) -> MPLocalDerivatives:
        key = tuple(theta)
        if key != self._key:
            self._key = key
            self._loc = MPLocalDerivatives(np.asarray(theta, dtype=object), self.phi, self.gamma, self.loss, self.dps,
                                           self.derivs)
        return self._loc

    def epsilon(self, theta) -> float:
        return float(self.step * self.local(theta).bound())

    def __call__(self, tau, theta):
        loc = self.local(theta)
        eta = self.step
        g = loc.gradient()
        out = g
        if self.terms >= 1:
            hg = loc.hvp(g)
            out = g + hg * (eta / 2)
            if self.terms >= 2:
                out = out + (loc.hvp(hg) / 3 + loc.third(g) / 12) * (eta * eta)
        return out * (-(eta * mpmath.exp(tau)))

    def jacobian(self, tau, theta):
        loc = self.local(theta)
        eps = self.step * loc.bound()
        small = mpmath.mpf(10) ** (-(self.dps + 2))
        self.terms = max(j for j in range(self.order + 1) if j == 0 or eps ** j > small)
        J = loc.dense() * (-(self.step * mpmath.exp(tau)))
        self.last_jacobian_norm = float(np.linalg.norm(np.array(J, dtype=float), 2)) if J.size else 0.0
        return J


def mp_make_checkpoint(flow: MPModifiedFlow, theta, k, log10k: float, phase: str) -> FixedStepCheckpoint:
    """A checkpoint at theta (mpf entries): float fields rounded from the mpmath values, which are kept in
    ``extra`` (norm_mp, grad_norm_mp, one_minus_mass_mp, loss_mp)."""
    with mpmath.workdps(flow.dps):
        th = np.array([mpmath.mpf(x) for x in theta], dtype=object)
        loc = flow.local(th)
        st = loc.state
        nrm = mp_norm(th)
        gn = mp_norm(loc.gradient())
        omm = max(st.one_minus_mass)
        L = mp_loss_value(th, flow.phi, flow.gamma, flow.loss, flow.dps, st)
        return FixedStepCheckpoint(
            iteration=k, theta=th, norm=float(nrm), loss=float(L), selected=tuple(int(a) for a in st.dominant),
            one_minus_mass=float(omm), grad_norm=float(gn),
            extra=dict(norm_mp=nrm, grad_norm_mp=gn, one_minus_mass_mp=omm, loss_mp=L),
            iteration_log10=(math.log10(k) if k else -math.inf) if k is not None else log10k,
            grad_norm_log10=float(mpmath.log10(gn)) if gn else -math.inf,
            one_minus_mass_log10=float(mpmath.log10(omm)) if omm else -math.inf, phase=phase)


def mp_simulate_fixed_step(theta0, phi, gamma, loss: Loss, step, *, dps: int = 30, target_norm: float | None = None,
                           max_log10_steps: float = math.inf, max_literal_steps: int = 100_000,
                           switch_tol: float = 1e-3, order: int = 2, rtol: float = 1e-20, atol: float = 1e-20,
                           integrator_order: int = 10, max_integrator_steps: int = 5000, per_decade: int = 10,
                           dense_log10: float = 6.0, lipschitz_bound: float | None = None) -> FixedStepTrajectory:
    """Simulate fixed-step GD at ``dps`` digits (module docstring); options and stop rules as in
    :func:`numeric.fixed_step.simulate_fixed_step`. ``phi``/``gamma`` may be exact rationals
    (``Dataset.features_exact()``) or floats; ``theta0`` and ``step`` are taken exactly."""
    check_arguments(theta0, phi, step, target_norm, max_log10_steps, switch_tol)
    flow = MPModifiedFlow(phi, gamma, loss, step, order, dps)
    options = dict(target_norm=target_norm, max_log10_steps=max_log10_steps, max_literal_steps=max_literal_steps,
                   switch_tol=switch_tol, rtol=rtol, atol=atol, integrator_order=integrator_order,
                   max_integrator_steps=max_integrator_steps, per_decade=per_decade, dense_log10=dense_log10, dps=dps)

    observe = switch_observer(flow, target_norm, max_log10_steps, switch_tol)
    lit = run_gd_mp(theta0, phi, gamma, loss, dps=dps, method="fixed", step=step, max_iter=max_literal_steps,
                    time_budget=math.inf, per_decade=per_decade, observer=observe)
    cps = [mp_make_checkpoint(flow, c.theta, c.iteration, 0.0, "literal") for c in lit.checkpoints]
    last = cps[-1]
    k_s = last.iteration
    eps_s = flow.epsilon(last.theta) if k_s >= 1 else None

    def result(reason, trunc=0.0, stats=None):
        return FixedStepTrajectory(step=float(step), lipschitz_bound=lipschitz_bound, checkpoints=cps,
                                   stop_reason=reason, literal_steps=k_s, switch_epsilon=eps_s,
                                   integrator=stats or IntegratorStats(), truncation_estimate=float(trunc),
                                   order=order, options=options)

    if target_norm is not None and last.norm >= target_norm:
        return result("target-norm")
    if k_s >= 1 and math.log10(k_s) >= max_log10_steps:
        return result("max-log10-steps")
    if lit.stop_reason != "observer":
        return result("stationary" if lit.stop_reason == "stationary" else "literal-steps")
    with mpmath.workdps(dps):
        theta = np.array([mpmath.mpf(x) for x in last.theta], dtype=object)
        integ = LIEIntegrator(flow, flow.jacobian, lambda t, y, f: f, MPMATH, order=integrator_order, rtol=rtol,
                              atol=atol * max(1.0, last.norm), h0=mpmath.mpf("0.05"), max_steps=max_integrator_steps,
                              stiffness=lambda: flow.last_jacobian_norm)
        ops = FlowOps(norm=mp_norm, ln=lambda k: mpmath.log(k), exp=mpmath.exp, ln10=mpmath.ln(10),
                      rel=10.0 ** (-(dps - 4)))
        reason, trunc = flow_phase(flow, integ, ops, k_s, theta, cps,
                                   lambda th, k, x: mp_make_checkpoint(flow, th, k, x, "flow"),
                                   target_norm, max_log10_steps, switch_tol, order, per_decade, dense_log10)
    return result(reason, trunc, integ.stats)
