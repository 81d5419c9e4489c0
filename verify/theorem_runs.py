"""The theorems' own algorithm: fixed-step GD with a certified step, from every init (computed once).

The GD theorems of both papers are about p_{k+1} = p_k - eta grad L(p_k) with eta <= 1/L. :func:`step_choice`
picks eta = min(the dataset's fixed step (or the ``fixed_step`` option), 1/L) with L a bound on the Hessian's
operator norm valid for every parameter (:func:`numeric.lipschitz_bound`, from the loss constants that the
premise `assumption-A` proved); :func:`theorem_runs` runs fixed-step GD with that step from every init of the
dataset with the simulator of :mod:`numeric.fixed_step`: literal steps while eta ||H|| is not small, then the
modified equation of GD integrated in log-time, so that the runs reach ||theta|| = 1e4 ||p_mm|| (about
e^(1e4) equivalent steps, reported as a base-10 exponent).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from attnsvm import numeric

TARGET_FACTOR = 1e4              # run to ||theta|| >= TARGET_FACTOR ||p_mm|| (when p_mm exists)
LITERAL_MAX_WORK = 2e9           # literal steps x n T D: the literal phase's budget shrinks for large data
FLOW_MAX_WORK = 1e11             # integrator steps x (n T D^2 + 30 D^3): the Hessians and the ~30 LU solves of one
                                 # extrapolation step of the modified flow
FLOW_MIN_STEPS = 100             # fewer integrator steps than this within FLOW_MAX_WORK: the flow phase is not run
INTEGRATOR_STEPS = 20_000        # numeric.simulate_fixed_step's default budget of integrator steps


def loss_constants(ctx) -> tuple[float, float, str]:
    """(M0, M1, how): upper bounds on sup |l''| and sup |l'| over the reachable outputs [min gamma, max gamma],
    as the premise `assumption-A` proved them (closed forms for the built-in losses, exact or interval
    arithmetic for expressions); +inf where no finite bound is known."""
    ev = ctx.premise("assumption-A").evidence

    def num(x):
        try:
            return float(x) if x is not None else math.inf
        except (TypeError, ValueError):
            return math.inf

    return num(ev.get("M0")), num(ev.get("M1")), f"assumption-A ({ev.get('bounds_method')})"


def step_choice(ctx) -> dict:
    """The fixed step of the theorem's algorithm and its justification (cached): L, 1/L, the dataset's own
    step, eta = min(own step or option, 1/L)."""
    cache = ctx._theorem
    if "step" not in cache:
        lo, hi = float(ctx.gamma.min()), float(ctx.gamma.max())
        M0, M1, how = loss_constants(ctx)
        if not (math.isfinite(M0) and math.isfinite(M1)):
            L, method = math.inf, "none"
        else:
            # built-in losses: their derivatives' suprema per sequence and cell (closed forms, tighter); else the
            # constants that the premise assumption-A proved on the reachable outputs
            lb = numeric.lipschitz_bound(ctx.phi, ctx.gamma, loss=ctx.loss) if ctx.loss.name in numeric.BUILTIN_LOSSES \
                else numeric.lipschitz_bound(ctx.phi, ctx.gamma, M0=M0, M1=M1)
            L, method = (lb.value if lb.value is not None else math.inf), "numeric.lipschitz_bound"
        own = ctx.dataset.gd.get("step") if ctx.dataset.gd.get("method") == "fixed" else None
        requested = ctx.options["fixed_step"]
        base = requested if requested is not None else own
        if L == 0:
            step = base if base is not None else 1.0
        elif math.isfinite(L):
            step = min(base, 1.0 / L) if base is not None else 1.0 / L
        else:
            step = None
        cache["step"] = {"lipschitz_bound": L, "bound_method": method, "M0": M0, "M1": M1, "loss_constants": how,
                         "output_interval": [lo, hi], "dataset_step": own, "requested_step": requested, "step": step,
                         "parameter": "p" if ctx.dataset.model == "prompt" else "W",
                         "reason": "" if math.isfinite(L) else f"M0 = {M0}, M1 = {M1} on [{lo:.4g}, {hi:.4g}]"}
    return cache["step"]


@dataclass
class TheoremRun:
    """Fixed-step GD from one init: checkpoints (dicts: log10_iteration, iteration (int when exact), theta,
    norm, selected, one_minus_mass, grad_log10), the step, why it stopped, and what ran it."""

    init: np.ndarray
    step: float
    checkpoints: list
    stop_reason: str
    engine: str
    extra: dict = field(default_factory=dict)
    raw: object = None          # the numeric.FixedStepTrajectory behind the checkpoints

    @property
    def final(self) -> dict:
        return self.checkpoints[-1]


STOP_WORDS = {"target-norm": "target norm", "max-log10-steps": "step cap", "literal-steps": "literal step budget",
              "stationary": "stationary", "flow-invalid": "flow invalid", "integrator-steps": "integrator budget"}


def size_budgets(ctx) -> dict:
    """The literal-step budget and whether the modified flow runs, scaled to the data (counts, never seconds):
    literal steps at most ``fixed_iterations`` and at most LITERAL_MAX_WORK / (n T D); the flow's Jacobian costs
    n T D^2 per evaluation (a D x D matrix), so it runs only up to FLOW_MAX_WORK."""
    n, T, D = ctx.phi.shape
    literal = min(int(ctx.options["fixed_iterations"]), max(1000, int(LITERAL_MAX_WORK // (n * T * D))))
    flow_cost = n * T * D * D + 30 * D ** 3
    steps = int(min(INTEGRATOR_STEPS, FLOW_MAX_WORK // flow_cost))
    out = {"literal_steps": literal, "flow": steps >= FLOW_MIN_STEPS, "integrator_steps": steps}
    notes = []
    if literal < int(ctx.options["fixed_iterations"]):
        notes.append(f"literal steps capped at {literal} (n T D = {n * T * D}: at most {LITERAL_MAX_WORK:.0e} "
                     f"step-entries)")
    if not out["flow"]:
        notes.append(f"the modified flow is not run: its Jacobian is {D} x {D} (n T D^2 + 30 D^3 = {flow_cost:.2g}, "
                     f"fewer than {FLOW_MIN_STEPS} integrator steps within {FLOW_MAX_WORK:.0e})")
    elif steps < INTEGRATOR_STEPS:
        notes.append(f"integrator steps capped at {steps} (n T D^2 + 30 D^3 = {flow_cost:.2g})")
    out["note"] = "; ".join(notes)
    return out


def _simulated(ctx, init, step, target) -> TheoremRun:
    o = ctx.options
    size = size_budgets(ctx)
    traj = numeric.simulate_fixed_step(init, ctx.phi, ctx.gamma, ctx.loss, step, target_norm=target,
                                       max_log10_steps=o["fixed_max_log10_steps"],
                                       max_literal_steps=size["literal_steps"],
                                       max_integrator_steps=size["integrator_steps"] if size["flow"] else 0)
    cps = [{"log10_iteration": c.iteration_log10 if math.isfinite(c.iteration_log10) else None,
            "iteration": c.iteration, "theta": c.theta, "norm": c.norm, "selected": list(c.selected),
            "one_minus_mass": c.one_minus_mass, "one_minus_mass_log10": c.one_minus_mass_log10,
            "grad_log10": c.grad_norm_log10, "loss": c.loss, "phase": c.phase} for c in traj.checkpoints]
    extra = {"steps_equivalent_log10": traj.steps_equivalent_log10, "steps_equivalent": traj.steps_equivalent,
             "literal_steps": traj.literal_steps, "switch_epsilon": traj.switch_epsilon,
             "truncation_estimate": traj.truncation_estimate, "modified_equation_order": traj.order,
             "algorithm": "fixed-step", "target_norm": target}
    if size["note"]:
        extra["size_limit"] = size["note"]
    return TheoremRun(init=np.asarray(init, dtype=float), step=step, checkpoints=cps,
                      stop_reason=STOP_WORDS.get(traj.stop_reason, traj.stop_reason),
                      engine="fixed-step GD: literal steps, then its modified equation in log-time "
                             "(numeric.simulate_fixed_step)", extra=extra, raw=traj)


def theorem_runs(ctx) -> list:
    """Fixed-step GD with the certified step from every init of the dataset (computed once); [] when no
    step could be certified."""
    cache = ctx._theorem
    if "runs" not in cache:
        choice = step_choice(ctx)
        runs = []
        if choice["step"] is not None:
            from .checks.optimal_tokens import optimal_tokens

            alpha, _ = optimal_tokens(ctx.dataset)
            p_mm = ctx.p_mm_float(alpha)
            target = TARGET_FACTOR * float(np.linalg.norm(p_mm)) if p_mm is not None else None
            for init in ctx.dataset.inits:
                runs.append(_simulated(ctx, np.asarray(init, dtype=float).ravel(), choice["step"], target))
        cache["runs"] = runs
    return cache["runs"]
