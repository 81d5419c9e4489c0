"""Fixed-step gradient descent theta_{k+1} = theta_k - eta grad L(theta_k), simulated to astronomically many steps.

Literal GD grows ||theta_k|| only like ||p_mm|| ln k, so the regime where its direction settles lies at
k ~ e^(||theta||/||p_mm||). Once eta ||H|| is small (H = hess L), many GD steps move theta by what a flow does
over the same time: GD is the explicit Euler method with unit step for theta' = F(theta) = -eta grad L, and
backward error analysis gives the *modified equation* whose exact flow interpolates the GD iterates,

    d theta/dk = F - (1/2) F'F + (1/3) F'F'F + (1/12) F''(F, F) + O(eta^4)
               = -eta g - (eta^2/2) H g - eta^3 [ (1/3) H H g + (1/12) D^3 L[g, g] ] + O(eta^4)

(g = grad L, k the iteration count as a continuous time). The simulator

1. runs literal GD (:func:`numeric.gd.run_gd`, ``method="fixed"``) until, at a checkpoint k_s >= 1,
   eps = eta ||H(theta)|| <= ``switch_tol``, with ||H|| bounded above by
   :meth:`numeric.hessian.LocalDerivatives.bound`;
2. integrates the modified equation (``order`` = 2 keeps both corrections above; 1 keeps -(eta^2/2) H g;
   0 is the plain gradient flow) in log-time tau = ln k, where k itself overflows float64 long before the
   interesting norms: d theta/dtau = e^tau F~(theta). With the scaled derivatives of :mod:`numeric.hessian`
   (g = e^R G^, H = e^R H^, D^3 L = e^R T^, R the largest tail logit),

       d theta/dtau = -A [ G^ + (B/2) H^ G^ + B^2 ((1/3) H^ H^ G^ + (1/12) T^[G^, G^]) ],
       A = eta e^(tau + R),  B = eta e^R,

   which never overflows (tau + R stays moderate along the trajectory) and keeps full relative accuracy;
   the integrator is the L-stable extrapolated linearly implicit Euler method of
   :mod:`numeric.extrapolation` (embedded error estimate; Jacobian -A H^; d/dtau of the right side is the
   right side itself), because in tau-time the flow has Jacobian eigenvalues of order one (the direction
   p_mm has eigenvalue exactly -1 asymptotically) while the solution becomes linear in tau: explicit pairs
   would be held at steps of order one, this one lengthens its steps geometrically. The rows of its table
   advance together (:meth:`ModifiedFlow.rows` evaluates the points of one substep in one pass of the stacked
   derivatives, :meth:`numeric.hessian.StableHessian.at_batch`), and a step that a checkpoint shortens runs at
   the lowest order, down to ``min_integrator_order``, whose estimate predicts the tolerance;
3. reports each checkpoint at k = e^tau: the exact integer k while 10^(log10 k) < 2^53 (checkpoint times
   are then ln of integers), and log10 k always.

Error model (the difference between the simulated and the literal GD iterate at the same k):
(a) truncation of the modified equation: the neglected terms are O(eps^(order+1)) relative to the GD
    step, so the error grows by about eps_k^(order+1) ||theta_{k+1} - theta_k|| per step; along the
    asymptotic trajectory eps_k ~ c/k and ||theta_{k+1} - theta_k|| ~ ||p_mm||/k, so the total is about
    eps_s^(order+1) ||p_mm|| / (order + 1) from the switch on, bounded independently of how far one
    integrates (``truncation_estimate`` accumulates eps^(order+1) ||Delta theta|| over the integration
    steps); with order 2 and switch_tol 1e-3 this is ~1e-10 ||p_mm||, and eps at the switch is usually
    well below switch_tol because the local bound overestimates ||H||. A run whose attention concentrates slowly
    (eps ~ 1e-2 after 1e4-1e5 steps) would spend its whole literal budget before eps reaches 1e-3: after
    ``late_switch_after`` (20,000) literal steps the switch is taken at eps <= ``late_switch_tol`` (1e-2), where
    the estimate is ~3e-7 ||p_mm|| (reported, as always, in ``switch_epsilon`` and ``truncation_estimate``);
(b) the integrator's tolerance (rtol, atol per step, scaled by |theta|);
(c) float64 rounding of the literal steps (about sqrt(k) 1e-16 ||theta||) and of the right side.
Measured (bench/fixed_step.py; multi-input and single-input-global, logistic loss, eta = 1/L and 0.1, against
literal float64 GD after 1e4, 1e5, 1e6 steps): 1 - corr <= 1e-25 and |norm/norm - 1| <= 3.5e-12 everywhere
(the switch happened after 1259-1585 literal steps, or after 1 where eta ||H|| <= 1e-3 from the start); the
truncation estimate (a) was 1.7e-10 - 2.6e-10. Against the mpmath simulator (dps 30) at ||theta|| = 1e4
||p_mm||: |theta_f64 - theta_mp| = 1.6e-11 at ||theta|| = 6074 (multi-input) and 2.3e-8 at ||theta|| = 9950
(single-input-global), log10 k equal to the 9 decimals printed. (Before the rows of the integrator's table
were advanced together and shortened steps could lower their order: the same literal figures, 8.2e-26 and
3.5e-12 at most, and 3.9e-10 and 2.7e-8 against mpmath, at 2.3-2.6 times the seconds.)
The mpmath simulator against literal mpmath GD isolates (a): 9e-13 at k = 100 and 5e-12 at k = 1e4
(single-input-global, eta = 0.1, switch after one step with eps = 6e-4; dps 30).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .gd import Checkpoint, run_gd
from .extrapolation import FLOAT64, IntegratorStats, LIEIntegrator
from .hessian import StableHessian
from .losses import Loss

EXACT_LIMIT = 2 ** 53
LN10 = math.log(10.0)
STOP_REASONS = ("target-norm", "max-log10-steps", "literal-steps", "stationary", "flow-invalid", "integrator-steps")


@dataclass
class FixedStepCheckpoint(Checkpoint):
    """The state after k GD steps (literal or simulated). Besides :class:`numeric.gd.Checkpoint`'s fields
    (``iteration`` = k when exact, else None; grad_norm and one_minus_mass may underflow to 0):
    ``iteration_log10`` = log10 k (-inf at k = 0), ``grad_norm_log10`` = log10 ||grad L||,
    ``one_minus_mass_log10`` = log10 max_i (1 - s_{i,a_i}), ``phase`` ("literal" or "flow")."""

    iteration_log10: float = 0.0
    grad_norm_log10: float = -math.inf
    one_minus_mass_log10: float = -math.inf
    phase: str = "literal"


@dataclass
class FixedStepTrajectory:
    """A simulated fixed-step GD run (module docstring).

    algorithm "fixed-step"; step eta; lipschitz_bound (L_bound when given, else None); checkpoints
    (:class:`FixedStepCheckpoint`, increasing k); stop_reason (one of :data:`STOP_REASONS`);
    literal_steps k_s (literal GD steps before the switch); switch_epsilon (eps = eta ||H|| bound at k_s);
    steps_equivalent_log10 (log10 of the final k), steps_equivalent (the final k when exact, else None),
    final_norm; integrator (:class:`numeric.extrapolation.IntegratorStats`); truncation_estimate (error model
    (a), absolute, in theta); order of the modified equation; options used.
    """

    step: float
    lipschitz_bound: float | None
    checkpoints: list
    stop_reason: str
    literal_steps: int
    switch_epsilon: float | None
    integrator: IntegratorStats
    truncation_estimate: float
    order: int
    options: dict = field(default_factory=dict)
    algorithm: str = "fixed-step"
    method: str = "fixed"

    @property
    def final(self) -> FixedStepCheckpoint:
        return self.checkpoints[-1]

    @property
    def steps_equivalent_log10(self) -> float:
        return self.final.iteration_log10

    @property
    def steps_equivalent(self) -> int | None:
        return self.final.iteration

    @property
    def final_norm(self) -> float:
        return self.final.norm

    def selection_stable(self) -> bool:
        """The final selection held at every checkpoint with k >= k_final / 2."""
        f = self.final
        return all(c.selected == f.selected for c in self.checkpoints
                   if c.iteration_log10 >= f.iteration_log10 - math.log10(2))

    def at_iteration(self, k: int) -> FixedStepCheckpoint | None:
        """The checkpoint at exactly k steps, if any."""
        return next((c for c in self.checkpoints if c.iteration == k), None)


class ModifiedFlow:
    """The right side of the modified equation in log-time (module docstring), for the float64 backend.

    ``__call__(tau, theta)`` = d theta/dtau; ``jacobian(tau, theta)`` = -A H^; ``epsilon(theta)`` = eta times
    the local Hessian bound (eps of the error model). The derivatives at the last theta are cached, so a
    right side and a Jacobian at the same point share one evaluation."""

    def __init__(self, hessian: StableHessian, step: float, order: int = 2):
        if order not in (0, 1, 2):
            raise ValueError(f"order must be 0, 1 or 2, got {order!r}")
        self.hessian = hessian
        self.step = float(step)
        self.order = order
        self._key = None
        self._loc = None
        self.terms = order
        self.last_jacobian_norm = 0.0

    def local(self, theta: np.ndarray):
        """The derivatives at theta, cached while theta and the kernel's dominant tokens stay the same (a refresh
        overwrites the feature differences that a cached one reads)."""
        key = (theta.tobytes(), self.hessian.kernel.refreshes)
        if key != self._key:
            self._key, self._loc = key, self.hessian.at(theta)
        return self._loc

    def epsilon(self, theta: np.ndarray) -> float:
        loc = self.local(theta)
        return self.step * loc.eR * loc.bound()

    def __call__(self, tau: float, theta: np.ndarray) -> np.ndarray:
        if self.terms == 0 and (theta.tobytes(), self.hessian.kernel.refreshes) != self._key:
            # the gradient flow alone at a new point: the scaled gradient of the engine, nothing else
            kernel = self.hessian.kernel
            tails = kernel.tails(theta)
            R = float(tails[0].max())
            G = kernel.gradient(theta, self.hessian.loss, scaled=True, tails=tails)
            with np.errstate(over="ignore", invalid="ignore"):
                return -(self.step * _exp(tau + R)) * G
        loc = self.local(theta)
        A = self.step * _exp(tau + loc.R)
        with np.errstate(over="ignore", invalid="ignore"):
            return -A * self._corrected(loc)

    def rows(self, taus: np.ndarray, thetas: np.ndarray) -> np.ndarray:
        """d theta/dtau at each (taus[b], thetas[b]) (B, D): the formula of ``__call__`` with the derivatives of all
        B points computed together (:meth:`numeric.hessian.StableHessian.at_batch`), the corrections kept being
        those of ``terms``; point by point where the points do not share the current dominant tokens."""
        if self.terms == 0:   # the gradient flow alone: the engine's scaled gradients, nothing else
            GR = self.hessian.kernel.gradient_batch(thetas, self.hessian.loss)
            if GR is None:
                return np.array([self(t, y) for t, y in zip(taus, thetas)])
            out, R = GR
        else:
            loc = self.hessian.at_batch(thetas)
            if loc is None:
                return np.array([self(t, y) for t, y in zip(taus, thetas)])
            out, R = self._corrected(loc), loc.R
        with np.errstate(over="ignore", invalid="ignore"):
            A = self.step * np.exp(np.asarray(taus, dtype=float) + R)   # inf past float64's range, as _exp
            return -A[:, None] * out

    def _corrected(self, loc):
        """G^ + (B/2) H^ G^ + B^2 ((1/3) H^ H^ G^ + (1/12) T^[G^, G^]) at ``loc`` (one theta or a batch), B = eta e^R,
        with the corrections of ``terms``."""
        G = loc.gradient()
        out = G
        if self.terms >= 1:
            B = self.step * np.asarray(loc.eR, dtype=float)[..., None]
            HG, TGG = loc.hvp_and_third(G) if self.terms >= 2 else (loc.hvp(G), None)
            out = G + (B / 2) * HG
            if self.terms >= 2:
                out = out + (B * B) * (loc.hvp(HG) / 3 + TGG / 12)
        return out

    def jacobian(self, tau: float, theta: np.ndarray) -> np.ndarray:
        """-A H^ at (tau, theta). Called at the start of every integration step, it also decides which
        corrections the step keeps: those whose relative size eps^j exceeds 1e-17 (j = 1, 2; up to order)."""
        loc = self.local(theta)
        eps = self.step * loc.eR * loc.bound()
        self.terms = max(j for j in range(self.order + 1) if j == 0 or eps ** j > 1e-17)
        with np.errstate(over="ignore", invalid="ignore"):
            J = -(self.step * _exp(tau + loc.R)) * loc.dense()
        self.last_jacobian_norm = float(np.linalg.norm(J, 2)) if J.size else 0.0
        return J


def _exp(x: float) -> float:
    """e^x, or inf past float64's range: a trial point of the integrator far beyond the trajectory (tau + R > 709)
    then gets a non-finite right side, and the integrator rejects the step and shortens it."""
    return math.exp(x) if x < 709.0 else math.inf


def log_schedule(start_log10: float, stop_log10: float = math.inf, per_decade: int = 10, dense_log10: float = 6.0):
    """Checkpoint positions x = log10 k in (start, stop], increasing (a generator): x = j/per_decade up to
    ``dense_log10``, then geometric in x (x_{j+1} = x_j 10^(1/per_decade), i.e. log-spaced in
    ||theta|| ~ ||p_mm|| ln k), and finally stop itself when finite."""
    j = math.floor(max(start_log10, 0.0) * per_decade) + 1
    while j / per_decade <= min(dense_log10, stop_log10):
        if j / per_decade > start_log10:
            yield j / per_decade
        j += 1
    x = max(dense_log10, start_log10, 1.0 / per_decade)
    while True:
        x *= 10 ** (1 / per_decade)
        if x >= stop_log10:
            break
        if x > start_log10:
            yield x
    if math.isfinite(stop_log10) and stop_log10 > start_log10:
        yield stop_log10


def _tau_of(x: float, ops) -> tuple:
    """(tau, exact k) for log10 k = x: k = round(10^x) and tau = ln k while 10^x < 2^53, else tau = x ln 10."""
    if x < math.log10(EXACT_LIMIT):
        k = max(1, int(round(10 ** x)))
        return ops.ln(k), k
    return x * ops.ln10, None


def _logsumexp_rows(r: np.ndarray) -> np.ndarray:
    m = r.max(axis=1)
    return m + np.log(np.exp(r - m[:, None]).sum(axis=1))


def make_checkpoint(hessian: StableHessian, loss: Loss, theta: np.ndarray, k: int | None, log10k: float,
                    phase: str, flow: ModifiedFlow | None = None) -> FixedStepCheckpoint:
    """The checkpoint fields at theta (stable formulas; logs of the quantities that underflow); the derivatives
    are ``flow``'s (cached) ones at theta when a flow is given."""
    kernel = hessian.kernel
    st = kernel.state(theta)
    loc = flow.local(theta) if flow is not None else hessian.at(theta)
    r_tail = np.where(st.mask, st.r, -np.inf)
    G = loc.gradient()
    gn = float(np.linalg.norm(G))
    grad_log10 = (loc.R + math.log(gn)) / LN10 if gn > 0 else -math.inf
    log_tail = _logsumexp_rows(r_tail)                       # ln sum_{t != a} e^{r_it}
    omm_log10 = float(np.max(log_tail - np.logaddexp(0.0, log_tail))) / LN10
    return FixedStepCheckpoint(iteration=k, theta=theta.copy(), norm=float(np.linalg.norm(theta)),
                               loss=float(np.mean(loss.value(st.u))), selected=tuple(int(a) for a in st.dominant),
                               one_minus_mass=float(np.max(st.one_minus_mass)), grad_norm=gn * loc.eR,
                               iteration_log10=(math.log10(k) if k else -math.inf) if k is not None else log10k,
                               grad_norm_log10=grad_log10, one_minus_mass_log10=omm_log10, phase=phase)


def check_arguments(theta0, phi, step, target_norm, max_log10_steps, switch_tol) -> None:
    """One-line ValueErrors for arguments the simulator cannot run with."""
    if target_norm is None and not math.isfinite(max_log10_steps):
        raise ValueError("fixed-step simulation needs target_norm or a finite max_log10_steps")
    if not (isinstance(step, (int, float)) or hasattr(step, "__float__")) or not 0 < float(step) < math.inf:
        raise ValueError(f"step must be a positive finite number, got {step!r}")
    if target_norm is not None and not 0 < float(target_norm) < math.inf:
        raise ValueError(f"target_norm must be a positive finite number, got {target_norm!r}")
    if not 0 < switch_tol < 1:
        raise ValueError(f"switch_tol must lie in (0, 1), got {switch_tol!r}")
    D = np.asarray(phi, dtype=object).shape[2]
    if np.asarray(theta0, dtype=object).size != D:
        raise ValueError(f"theta0 has {np.asarray(theta0, dtype=object).size} entries, the features have {D}")


def switch_observer(flow, target_norm, max_log10_steps: float, switch_tol: float, late_switch_tol=None,
                    late_switch_after: int = 0):
    """The literal phase's stop rule at a checkpoint: the target norm reached, log10 k at its cap, or (k >= 1)
    eps = eta ||H|| <= switch_tol, where the modified equation takes over; from k >= ``late_switch_after`` on also
    eps <= ``late_switch_tol`` (when given)."""
    def observe(cp) -> bool:
        if target_norm is not None and cp.norm >= target_norm:
            return True
        if cp.iteration >= 1 and math.log10(cp.iteration) >= max_log10_steps:
            return True
        if cp.iteration < 1:
            return False
        eps = flow.epsilon(cp.theta)
        return eps <= switch_tol or (late_switch_tol is not None and cp.iteration >= late_switch_after
                                     and eps <= late_switch_tol)

    return observe


def simulate_fixed_step(theta0, phi: np.ndarray, gamma: np.ndarray, loss: Loss, step: float, *,
                        target_norm: float | None = None, max_log10_steps: float = math.inf,
                        max_literal_steps: int = 200_000, switch_tol: float = 1e-3,
                        late_switch_tol: float | None = 1e-2, late_switch_after: int = 20_000, order: int = 2,
                        rtol: float = 1e-11, atol: float = 1e-11, integrator_order: int = 8,
                        min_integrator_order: int = 4,
                        max_integrator_steps: int = 20_000, per_decade: int = 10, dense_log10: float = 6.0,
                        lipschitz_bound: float | None = None) -> FixedStepTrajectory:
    """Simulate fixed-step GD from theta0 with step eta = ``step`` (module docstring).

    Stops at the first k with ||theta_k|| >= ``target_norm`` (in the flow: located to float64 precision in
    tau, then rounded up to an integer k while that is exact; in the literal phase: the first checkpoint
    past it), or at log10 k = ``max_log10_steps``, whichever comes
    first (at least one must be given). Budgets are counts: ``max_literal_steps`` literal GD steps before
    the switch (stop reason "literal-steps" when eps never fell below ``switch_tol``; "stationary" when
    literal GD reached a float64 fixed point, a zero gradient or a step that leaves theta unchanged, with eps still
    above it); after ``late_switch_after`` literal steps the switch is also taken at eps <= ``late_switch_tol``
    (None: never; error model (a)),
    ``max_integrator_steps`` attempted integration steps. The flow stops ("flow-invalid") if eps rises above
    10 ``switch_tol``. ``lipschitz_bound`` is only recorded. ``integrator_order`` is the extrapolation's order K,
    ``min_integrator_order`` the lowest it may drop to on steps shortened by a checkpoint (K: never).
    """
    check_arguments(theta0, phi, step, target_norm, max_log10_steps, switch_tol)
    if late_switch_tol is not None and not switch_tol <= late_switch_tol < 1:
        raise ValueError(f"late_switch_tol must lie in [switch_tol, 1), got {late_switch_tol!r}")
    phi = np.asarray(phi, dtype=float)
    gamma = np.asarray(gamma, dtype=float)
    hess = StableHessian(phi, gamma, loss)
    flow = ModifiedFlow(hess, step, order)
    options = dict(target_norm=target_norm, max_log10_steps=max_log10_steps, max_literal_steps=max_literal_steps,
                   switch_tol=switch_tol, late_switch_tol=late_switch_tol, late_switch_after=late_switch_after,
                   rtol=rtol, atol=atol, integrator_order=integrator_order,
                   min_integrator_order=min_integrator_order, max_integrator_steps=max_integrator_steps,
                   per_decade=per_decade, dense_log10=dense_log10)

    # -- 1. literal GD until eps <= switch_tol ------------------------------------------------------------
    observe = switch_observer(flow, target_norm, max_log10_steps, switch_tol, late_switch_tol, late_switch_after)
    lit = run_gd(theta0, phi, gamma, loss, method="fixed", step=step, max_iter=max_literal_steps,
                 time_budget=math.inf, per_decade=per_decade, observer=observe)
    cps = [make_checkpoint(hess, loss, c.theta, c.iteration, 0.0, "literal") for c in lit.checkpoints]
    last = cps[-1]
    k_s = last.iteration
    theta = last.theta.copy()
    eps_s = flow.epsilon(theta) if k_s >= 1 else None
    stats = IntegratorStats()

    def result(reason, trunc=0.0, integ_stats=stats):
        return FixedStepTrajectory(step=float(step), lipschitz_bound=lipschitz_bound, checkpoints=cps,
                                   stop_reason=reason, literal_steps=k_s, switch_epsilon=eps_s,
                                   integrator=integ_stats, truncation_estimate=trunc, order=order, options=options)

    if target_norm is not None and last.norm >= target_norm:
        return result("target-norm")
    if k_s >= 1 and math.log10(k_s) >= max_log10_steps:
        return result("max-log10-steps")
    underflow = lit.stop_reason == "stationary" and _underflowed(flow, theta, switch_tol)
    if underflow:
        # far out the float64 gradient underflows to exactly 0 while the scaled one does not: the exact GD step
        # eta e^R G^ is then far below the resolution of theta (eps <= switch_tol), so literal float64 GD would stand
        # still while exact GD moves; the flow takes over from k_s = max(k, 1), where theta_k is theta to rounding
        k_s = max(k_s, 1)
        eps_s = flow.epsilon(theta)
    elif lit.stop_reason != "observer":   # eps stayed above switch_tol: budget spent, or a float64 stationary point
        return result("stationary" if lit.stop_reason == "stationary" else "literal-steps")

    # -- 2. the modified flow in tau = ln k ---------------------------------------------------------------
    integ = LIEIntegrator(flow, flow.jacobian, lambda t, y, f: f, FLOAT64, order=integrator_order, rtol=rtol,
                          atol=atol * max(1.0, float(np.linalg.norm(theta))), h0=0.05,
                          max_steps=max_integrator_steps, stiffness=lambda: flow.last_jacobian_norm,
                          rhs_rows=flow.rows, min_order=min_integrator_order)
    ops = FlowOps(norm=lambda y: float(np.linalg.norm(y)), ln=math.log, exp=math.exp, ln10=LN10, rel=1e-15)
    in_force = switch_tol if eps_s is None or eps_s <= switch_tol else late_switch_tol   # the switch's tolerance
    reason, trunc = flow_phase(flow, integ, ops, k_s, theta, cps,
                               lambda th, k, x: make_checkpoint(hess, loss, th, k, x, "flow", flow),
                               target_norm, max_log10_steps, in_force, order, per_decade, dense_log10)
    return result(reason, trunc, integ.stats)


def _underflowed(flow, theta, switch_tol: float) -> bool:
    """Literal GD stopped on a float64 gradient of exactly 0 that is an underflow, not a stationary point: the
    scaled gradient G^ (gradient times e^{-R}) is non-zero and eps = eta ||H|| <= switch_tol there."""
    kernel = flow.hessian.kernel
    G = kernel.gradient(theta, flow.hessian.loss, scaled=True)
    return bool(np.any(G != 0)) and float(flow.epsilon(theta)) <= switch_tol


@dataclass
class FlowOps:
    """What the flow phase needs from a backend: a norm (to a float), ln and exp of the time variable, ln 10,
    and the relative precision of tau (for locating the target norm)."""

    norm: Callable
    ln: Callable
    exp: Callable
    ln10: object
    rel: float


def flow_phase(flow, integ: LIEIntegrator, ops: FlowOps, k_s: int, theta, cps: list, make_cp: Callable,
               target_norm, max_log10_steps, switch_tol, order, per_decade, dense_log10) -> tuple[str, float]:
    """Integrate the modified flow from (tau = ln k_s, theta), appending checkpoints (``make_cp(theta, k, log10 k)``)
    to ``cps`` at the log-spaced schedule; returns (stop reason, truncation estimate). Backend-generic: the
    float64 and mpmath simulators share it."""
    tau = ops.ln(k_s)
    trunc = 0.0
    targets = (_tau_of(x, ops) for x in log_schedule(math.log10(k_s), max_log10_steps, per_decade, dense_log10))
    t_cp, k_cp = next(targets, (None, None))
    while True:
        if t_cp is None:
            return "max-log10-steps", trunc
        if t_cp <= tau:
            t_cp, k_cp = next(targets, (None, None))
            continue
        eps = float(flow.epsilon(theta))
        step_out = integ.advance(tau, theta, t_cp)
        if step_out is None:
            return "integrator-steps", trunc
        tau_new, theta_new = step_out
        trunc += eps ** (order + 1) * ops.norm(theta_new - theta)
        if target_norm is not None and ops.norm(theta_new) >= target_norm:
            tau_f, theta_f, k_f = _locate_norm(integ, ops, tau, theta, tau_new, theta_new, target_norm)
            cps.append(make_cp(theta_f, k_f, float(tau_f / ops.ln10)))
            return "target-norm", trunc
        tau, theta = tau_new, theta_new
        if tau == t_cp:
            cps.append(make_cp(theta, k_cp, float(t_cp / ops.ln10)))
            t_cp, k_cp = next(targets, (None, None))
        if float(flow.epsilon(theta)) > 10 * switch_tol:
            cps.append(make_cp(theta, None, float(tau / ops.ln10)))
            return "flow-invalid", trunc


def _integrate(integ: LIEIntegrator, tau0, theta0, tau1):
    """theta at tau1 from (tau0, theta0) with the integrator (step-size state restored afterwards)."""
    h = integ.h
    integ.h = min(h, tau1 - tau0) if tau1 > tau0 else h
    t, y = tau0, theta0
    while t < tau1:
        out = integ.advance(t, y, tau1)
        if out is None:
            break
        t, y = out
    integ.h = h
    return y


def _locate_norm(integ, ops: FlowOps, tau0, theta0, tau1, theta1, target):
    """The first tau in (tau0, tau1] with ||theta(tau)|| = target (Illinois regula falsi on re-integrations from
    (tau0, theta0), keeping ||theta(a)|| < target <= ||theta(b)||, until b - a <= rel max(1, |b|)), then rounded
    up to tau = ln k for an integer k while k is exact; returns (tau, theta, k)."""
    a, fa = tau0, ops.norm(theta0) - target
    b, fb = tau1, ops.norm(theta1) - target
    side = 0
    for _ in range(200):
        if abs(float(b - a)) <= ops.rel * max(1.0, abs(float(b))):
            break
        c = b - fb * (b - a) / (fb - fa)
        if not a < c < b:
            c = (a + b) / 2
        fc = ops.norm(_integrate(integ, tau0, theta0, c)) - target
        if fc >= 0:
            b, fb = c, fc
            if side == 1:
                fa = fa / 2
            side = 1
        else:
            a, fa = c, fc
            if side == -1:
                fb = fb / 2
            side = -1
    k = None
    if float(b / ops.ln10) < math.log10(EXACT_LIMIT):
        k = int(math.ceil(float(ops.exp(b))))
        while k > 1 and ops.ln(k - 1) >= b:
            k -= 1
        while ops.ln(k) < b:
            k += 1
        b = ops.ln(k)
    return b, _integrate(integ, tau0, theta0, b), k


@dataclass
class Remainder:
    """rho_k = theta_k - p_mm ln k at the checkpoints with k >= 1 (ln k from ``iteration_log10``).

    log10_k, rho (m, D), rho_norm, drift_j = ||rho_j - rho_{j-1}|| between consecutive checkpoints,
    theta_norm; settles: True when each of the last ``window`` drifts is at most tol max(1, ||theta||) (the
    remainder stopped moving, up to the integration accuracy), False otherwise, None with fewer than
    window + 1 checkpoints."""

    log10_k: np.ndarray
    rho: np.ndarray
    rho_norm: np.ndarray
    drift: np.ndarray
    theta_norm: np.ndarray
    settles: bool | None
    tol: float

    @property
    def final(self) -> np.ndarray:
        return self.rho[-1]


def remainder(trajectory: FixedStepTrajectory, p_mm: np.ndarray, window: int = 3, tol: float = 1e-9) -> Remainder:
    """The second-order remainder rho_k = theta_k - p_mm ln k along a (simulated) fixed-step trajectory (an
    observation beyond both papers: for separable linear logistic regression the analogous remainder
    converges to a finite vector; whether attention has one is open).

    ``p_mm`` is the SVM solution with unit margins (not normalised): fixed-step GD grows like p_mm ln k."""
    p = np.asarray(p_mm, dtype=float).ravel()
    cps = [c for c in trajectory.checkpoints if math.isfinite(c.iteration_log10) and c.iteration_log10 >= 0]
    x = np.array([c.iteration_log10 for c in cps])
    th = np.array([np.asarray(c.theta, dtype=float) for c in cps]).reshape(len(cps), -1)
    rho = th - np.outer(x * LN10, p) if len(cps) else th
    norms = np.linalg.norm(rho, axis=1)
    tn = np.linalg.norm(th, axis=1)
    drift = np.linalg.norm(np.diff(rho, axis=0), axis=1) if len(cps) > 1 else np.zeros(0)
    settles = None
    if len(drift) >= window:
        settles = bool(np.all(drift[-window:] <= tol * np.maximum(1.0, tn[-window:])))
    return Remainder(log10_k=x, rho=rho, rho_norm=norms, drift=drift, theta_norm=tn, settles=settles, tol=tol)


def trajectory_evidence(trajectory: FixedStepTrajectory, reference: np.ndarray | None = None) -> dict:
    """The run as JSON-ready data: algorithm, step, lipschitz_bound, steps_equivalent_log10 (and the exact
    steps_equivalent when known), final_norm, stop_reason, literal_steps, switch_epsilon, truncation_estimate,
    integrator counts, and per checkpoint log10 k, k (or None), ||theta||, selection, log10 max_i (1 - s_{i,a_i}),
    log10 ||grad L||, the phase, and 1 - corr with ``reference`` when given (also for the final iterate)."""
    from .directions import one_minus_corr

    def row(c):
        out = dict(log10_iteration=c.iteration_log10, iteration=c.iteration, norm=c.norm, selection=list(c.selected),
                   log10_one_minus_mass=c.one_minus_mass_log10, log10_grad_norm=c.grad_norm_log10, phase=c.phase)
        if reference is not None and c.norm > 0:
            out["one_minus_corr"] = one_minus_corr(np.asarray(c.theta, dtype=float), reference)
        return out

    st = trajectory.integrator
    ev = dict(algorithm=trajectory.algorithm, step=trajectory.step, lipschitz_bound=trajectory.lipschitz_bound,
              steps_equivalent_log10=trajectory.steps_equivalent_log10,
              steps_equivalent=trajectory.steps_equivalent, final_norm=trajectory.final_norm,
              stop_reason=trajectory.stop_reason, literal_steps=trajectory.literal_steps,
              switch_epsilon=trajectory.switch_epsilon, truncation_estimate=trajectory.truncation_estimate,
              modified_equation_order=trajectory.order,
              integrator=dict(accepted=st.accepted, rejected=st.rejected, evaluations=st.evaluations,
                              max_stiffness=st.max_stiffness),
              checkpoints=[row(c) for c in trajectory.checkpoints])
    if reference is not None and trajectory.final_norm > 0:
        ev["one_minus_corr"] = one_minus_corr(np.asarray(trajectory.final.theta, dtype=float), reference)
    return ev
