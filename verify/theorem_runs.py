"""The theorems' own algorithm: fixed-step GD with a certified step, from every init (computed once).

The GD theorems of both papers are about p_{k+1} = p_k - eta grad L(p_k) with eta <= 1/L. :func:`step_choice`
picks eta = min(the dataset's fixed step (or the ``fixed_step`` option), 1/L) with L a bound on the Hessian's
operator norm valid for every parameter; :func:`theorem_runs` runs fixed-step GD with that step from every
init of the dataset (the simulator of :mod:`numeric.fixed_step` when present, which reaches astronomically
many steps; otherwise literal steps), recording log-spaced checkpoints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from attnsvm import numeric

TARGET_FACTOR = 1e4              # run to ||theta|| >= TARGET_FACTOR ||p_mm|| (when p_mm exists)


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


def simple_lipschitz_bound(phi: np.ndarray, gamma: np.ndarray, M0: float, M1: float) -> float:
    """A bound on ||Hess L(theta)|| valid for every theta (derivation, per sequence i with keys k_t = Phi_it):
    grad u_i = sum_t s_t (gamma_t - u_i)(k_t - kbar) and Hess u_i = sum_t s_t (gamma_t - u_i)(k_t - kbar)(k_t - kbar)^T
    (kbar = sum_t s_t k_t; the other terms vanish because sum_t s_t (k_t - kbar) = 0 and sum_t s_t (gamma_t - u) = 0),
    so with Dg_i = max_t gamma_it - min_t gamma_it and Dk_i = max_{t,tau} ||k_t - k_tau||,
    ||grad u_i|| <= Dg_i Dk_i, ||Hess u_i|| <= Dg_i Dk_i^2 and
    ||Hess L|| <= (1/n) sum_i (M0 Dg_i^2 Dk_i^2 + M1 Dg_i Dk_i^2)."""
    diffs = phi[:, :, None, :] - phi[:, None, :, :]
    Dk = np.sqrt(np.max(np.sum(diffs * diffs, axis=-1), axis=(1, 2)))
    Dg = gamma.max(axis=1) - gamma.min(axis=1)
    return float(np.mean(M0 * Dg ** 2 * Dk ** 2 + M1 * Dg * Dk ** 2))


def step_choice(ctx) -> dict:
    """The fixed step of the theorem's algorithm and its justification (cached): L, 1/L, the dataset's own
    step, eta = min(own step or option, 1/L)."""
    cache = ctx._theorem
    if "step" not in cache:
        lo, hi = float(ctx.gamma.min()), float(ctx.gamma.max())
        M0, M1, how = loss_constants(ctx)
        bound = getattr(numeric, "lipschitz_bound", None)
        if not (math.isfinite(M0) and math.isfinite(M1)):
            L, method = math.inf, "none"
        elif bound is not None:
            L, method = float(bound(ctx.phi, ctx.gamma, M0, M1)), "numeric.lipschitz_bound"
        else:
            L, method = simple_lipschitz_bound(ctx.phi, ctx.gamma, M0, M1), "verify.theorem_runs.simple_lipschitz_bound"
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

    @property
    def final(self) -> dict:
        return self.checkpoints[-1]


def _literal(ctx, init, step, target) -> TheoremRun:
    stop = (lambda cp: cp.norm >= target) if target is not None else None
    traj = numeric.run_gd(init, ctx.phi, ctx.gamma, ctx.loss, method="fixed", step=step, max_iter=ctx.options["fixed_iterations"],
                          observer=stop)
    cps = [{"log10_iteration": math.log10(c.iteration) if c.iteration > 0 else None, "iteration": c.iteration,
            "theta": c.theta, "norm": c.norm, "selected": list(c.selected), "one_minus_mass": c.one_minus_mass,
            "grad_log10": c.grad_log10, "loss": c.loss} for c in traj.checkpoints]
    reason = {"observer": "target norm"}.get(traj.stop_reason, traj.stop_reason)
    return TheoremRun(init=np.asarray(init, dtype=float), step=step, checkpoints=cps, stop_reason=reason,
                      engine=f"literal fixed-step GD (numeric.run_gd, at most {ctx.options['fixed_iterations']} steps)")


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
                runs.append(_literal(ctx, np.asarray(init, dtype=float).ravel(), choice["step"], target))
        cache["runs"] = runs
    return cache["runs"]
