"""Deciding, after finitely many steps of normalised GD, what a run converges to: one rule for every run.

Let K be the last checkpoint's iteration and K0 the last checkpoint with iteration <= K/10 (the last decade
of the run). Normalised GD moves ||theta|| by at most the step per iteration, so a run whose direction has
settled grows ||theta|| about tenfold over a decade; a run that zigzags grows it slowly but keeps moving; a
run that approaches a finite stationary point stops moving while its gradient vanishes. A run is

* ``converged`` to the selection S when the dominant tokens equal S at every checkpoint in [K0, K],
  ||theta|| grew at least ``min_growth``-fold from K0 to K (the norm diverges), the p-SVM of S is feasible,
  1 - corr(theta_K, p_mm(S)) <= ``tol`` and 1 - corr fell at least ``min_drop``-fold and at least as much as
  ||theta|| grew from K0 to K (or sits below 1e-20 at both): the direction approaches p_mm(S) at least like
  1/||theta|| (the theory's rate is 1/||theta||^2; a direction that settles elsewhere stops falling);
* ``stalled`` only with evidence of a finite stationary point: ||theta|| changed by less than 1% over
  [K0, K], the gradient norm fell at least tenfold, and ``certify(theta_K)`` (e.g. Krawczyk's test in
  interval arithmetic, :mod:`numeric.stationary`) proves a zero of grad L nearby; the certificate is kept.
  A run that looks stalled without a certificate is ``undecided``: zigzagging is never a stall;
* ``mixed`` when the norm diverges (grew ``min_growth``-fold) but the attention does not concentrate on one
  token per sequence: max_i (1 - s_{i,a_i}) >= ``mixed_mass`` at K and fell less than twofold from K0 to K
  (the limit direction keeps several tokens of some sequence tied: outside the one-token theory);
* ``undecided`` otherwise (still moving: more iterations could decide it).

:func:`decide_runs` runs batched normalised GD with the step rule of :mod:`numeric.batched` (the step halves
on a zigzag, so GD stays in its monotone regime, and its base grows like 1% of ||theta||, so that runs started
far out still cross decades of ||theta||) in rounds of growing iteration budgets, continuing only the
undecided runs, until every run is decided or the last budget is spent. 1 - corr is computed stably
(:func:`numeric.directions.one_minus_corr`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .directions import one_minus_corr

CONVERGED, STALLED, MIXED, UNDECIDED = "converged", "stalled", "mixed", "undecided"
STATUSES = (CONVERGED, STALLED, MIXED, UNDECIDED)
ROUNDING_FLOOR = 1e-20
BUDGETS = (1000, 2000, 4000, 8000, 16000, 32000)   # doubling (verify.context.budgets)
RELATIVE_STEP = 0.0       # no growth of the base step with ||theta|| by default (see numeric.batched)
RULE = {"tol": 1e-3, "min_drop": 2.0, "mixed_mass": 1e-3, "min_growth": 2.0, "stall_growth": 1.01,
        "stall_grad_drop_log10": 1.0}


@dataclass
class RunJudgement:
    """The verdict on one run: status, the final selection, ||theta_K|| / ||theta_K0|| (growth over the last
    decade), 1 - corr at K and K0 against p_mm of that selection (None when its SVM is infeasible),
    max_i (1 - s_{i,a_i}) at K and K0, the reason, the iteration K and, for a stall, the certificate."""

    status: str
    selection: tuple
    growth: float
    one_minus_corr: float | None
    one_minus_corr_start: float | None
    one_minus_mass: float
    one_minus_mass_start: float
    reason: str
    iteration: int = 0
    norm: float = 0.0
    certificate: dict | None = None

    def to_dict(self) -> dict:
        out = {"status": self.status, "selection": list(self.selection), "iteration": self.iteration,
               "norm": self.norm, "growth_last_decade": self.growth, "one_minus_corr": self.one_minus_corr,
               "one_minus_corr_decade_start": self.one_minus_corr_start, "one_minus_mass": self.one_minus_mass,
               "reason": self.reason}
        if self.certificate is not None:
            out["certificate"] = self.certificate
        return out


def decade_start(iterations) -> int:
    """The index of the last checkpoint whose iteration is at most a tenth of the final one (0 if none)."""
    its = np.asarray(iterations)
    idx = np.nonzero(its <= its[-1] / 10)[0]
    return int(idx[-1]) if len(idx) else 0


def judge_run(iterations, thetas, selected, one_minus_mass, p_mm: Callable, *, grad_log10=None,
              certify: Callable | None = None, tol: float = RULE["tol"], min_drop: float = RULE["min_drop"],
              mixed_mass: float = RULE["mixed_mass"], min_growth: float = RULE["min_growth"],
              stall_growth: float = RULE["stall_growth"],
              stall_grad_drop_log10: float = RULE["stall_grad_drop_log10"]) -> RunJudgement:
    """Judge one run from its checkpoints (see the module docstring): iterations (K,), thetas (K, D),
    selected (K, n), one_minus_mass (K,), grad_log10 (K,) or None; ``p_mm(selection)`` returns p_mm (array)
    or None when infeasible; ``certify(theta)`` returns a stationary-point certificate (dict with
    ``certified``) or None."""
    its = np.asarray(iterations)
    thetas = np.asarray(thetas, dtype=float)
    k0 = decade_start(its)
    sel = tuple(int(a) for a in np.asarray(selected)[-1])
    stable = bool(np.all(np.asarray(selected)[k0:] == np.asarray(sel)[None, :]))
    m0, m1 = float(one_minus_mass[k0]), float(one_minus_mass[-1])
    n0, n1 = float(np.linalg.norm(thetas[k0])), float(np.linalg.norm(thetas[-1]))
    growth = n1 / n0 if n0 > 0 else (float("inf") if n1 > 0 else 1.0)
    target = p_mm(sel)
    omc0 = omc1 = None
    if target is not None and n1 > 0 and n0 > 0:
        omc0 = one_minus_corr(thetas[k0], target)
        omc1 = one_minus_corr(thetas[-1], target)
    base = dict(selection=sel, growth=growth, one_minus_corr=omc1, one_minus_corr_start=omc0, one_minus_mass=m1,
                one_minus_mass_start=m0, iteration=int(its[-1]), norm=n1)
    if its[-1] == its[k0]:
        return RunJudgement(UNDECIDED, reason="no decade of iterations to judge", **base)
    if stable and omc1 is not None and omc1 <= tol and growth >= min_growth:
        if (omc0 <= ROUNDING_FLOOR and omc1 <= ROUNDING_FLOOR) or omc1 == 0 or omc0 / omc1 >= max(min_drop, growth):
            return RunJudgement(CONVERGED, reason=f"selection stable over the last decade, ||theta|| grew {growth:.3g}x, "
                                f"1 - corr {omc1:.1e} <= {tol:g} and falling", **base)
    if growth < stall_growth:
        drop = None
        if grad_log10 is not None:
            g0, g1 = float(grad_log10[k0]), float(grad_log10[-1])
            drop = g0 - g1 if np.isfinite(g0) and np.isfinite(g1) else (np.inf if g1 == -np.inf else None)
        if drop is not None and drop >= stall_grad_drop_log10:
            cert = certify(thetas[-1]) if certify is not None else None
            if cert is not None and cert.get("certified"):
                return RunJudgement(STALLED, certificate=cert,
                                    reason=f"||theta|| settles at {n1:.6g} and the gradient vanishes: a finite "
                                           "stationary point, certified", **base)
            why = "no certificate attempted" if cert is None else f"not certified: {cert.get('reason', '?')}"
            return RunJudgement(UNDECIDED, certificate=cert,
                                reason=f"||theta|| settles at {n1:.6g} with a vanishing gradient, but the stationary "
                                       f"point is {why}", **base)
    if growth >= min_growth and m1 >= mixed_mass and m0 < 2 * m1:
        return RunJudgement(MIXED, reason=f"||theta|| diverges ({growth:.3g}x over the last decade) while "
                            f"max_i (1 - s_i,a_i) = {m1:.2e} stays: the limit keeps tokens tied", **base)
    parts = []
    if not stable:
        parts.append("the selection changed in the last decade")
    if target is None:
        parts.append("the p-SVM of the final selection is infeasible")
    elif omc1 is not None and omc1 > tol:
        parts.append(f"1 - corr {omc1:.1e} > {tol:g}")
    elif omc1 is not None and omc0 is not None:
        parts.append(f"1 - corr fell only {omc0 / omc1 if omc1 else float('inf'):.3g}x over the last decade")
    if growth < min_growth:
        parts.append(f"||theta|| grew only {growth:.3g}x over the last decade")
    return RunJudgement(UNDECIDED, reason="; ".join(parts) or "no trend to judge", **base)


def judge_trajectory(traj, p_mm: Callable, *, certify: Callable | None = None, **rule) -> RunJudgement:
    """:func:`judge_run` on a :class:`numeric.gd.Trajectory` (float64 GD of one init)."""
    cps = traj.checkpoints
    glog = [c.grad_log10 if c.grad_log10 is not None else (np.log10(c.grad_norm) if c.grad_norm > 0 else -np.inf)
            for c in cps]
    return judge_run([c.iteration for c in cps], [c.theta for c in cps], [c.selected for c in cps],
                     [c.one_minus_mass for c in cps], p_mm, grad_log10=glog, certify=certify, **rule)


@dataclass
class DecidedRuns:
    """The outcome of :func:`decide_runs`: one judgement per run, each run's checkpoint history
    (iterations, norms, selections, 1 - mass, grad log10, steps) and the budgets used."""

    judgements: list
    histories: list
    budgets: tuple
    rounds: int
    iterations: list = field(default_factory=list)
    cut_by_time: bool = False

    def counts(self) -> dict:
        return {s: sum(j.status == s for j in self.judgements) for s in STATUSES}


def decide_runs(theta0, phi, gamma, loss, p_mm: Callable, *, step: float = 1.0, budgets=BUDGETS,
                certify: Callable | None = None, keep_going: Callable | None = None, device: str | None = None,
                time_budget: float | None = None, relative: float = RELATIVE_STEP, runner: Callable | None = None,
                keep_thetas: bool = False, settled: Callable | None = None, **rule) -> DecidedRuns:
    """Normalised GD (step rule of :mod:`numeric.batched`) from every row of ``theta0`` (B, D) on the data
    ``phi`` (B, n, T, D) and ``gamma`` (B, n, T) (or (n, T, D) and (n, T) shared by all runs), in rounds: the
    first runs ``budgets[0]`` iterations, each later round continues the runs still undecided (or for which
    ``keep_going(judgement)`` is True, e.g. an apparent convergence the theory forbids) up to the next budget.
    ``p_mm(b, selection)`` gives p_mm of ``selection`` for run b (or None); ``certify(b, theta)`` a
    stationary-point certificate (or None). ``step`` and ``relative`` (the step rule's floor and rate) are
    numbers or one value per run. ``time_budget`` (seconds, optional) stops starting new rounds once
    exceeded; ``cut_by_time`` then says so. ``runner(theta_rows, active, iterations, state, start)`` replaces
    the batched GD on the features (``phi`` and ``gamma`` are then unused): e.g. :func:`numeric.batched_w.runner`
    for W or (K, Q) in factored form; its checkpoints' theta are what the rule judges. ``keep_thetas``: each history
    also holds its checkpoints' parameters ("theta"). ``settled(judgements, rounds)`` (optional; ``rounds``: the
    rounds run so far) returns the indices of runs whose outcome no longer matters to the caller (e.g. the other radii of a cone that has already worked):
    an undecided run among them is not continued (it stays undecided), unless ``keep_going`` asks for it."""
    import time

    from .batched import batched_gd

    theta0 = np.asarray(theta0, dtype=float)
    phi = np.asarray(phi, dtype=float)
    gamma = np.asarray(gamma, dtype=float)
    shared = phi.ndim == 3
    B = theta0.shape[0]
    step = np.broadcast_to(np.asarray(step, dtype=float), (B,))
    relative = np.broadcast_to(np.asarray(relative, dtype=float), (B,))
    t_start = time.perf_counter()
    cut = False
    hist = [{"iterations": [], "theta": [], "selected": [], "one_minus_mass": [], "grad_log10": [], "step": []}
            for _ in range(B)]
    judged: list = [None] * B
    active = np.arange(B)
    state = None
    done_iterations = 0
    rounds = 0
    for budget in budgets:
        if len(active) == 0:
            break
        if time_budget is not None and rounds > 0 and time.perf_counter() - t_start > time_budget:
            cut = True
            break
        rounds += 1
        if runner is not None:
            traj = runner(theta0[active], active, budget - done_iterations, state, done_iterations)
        else:
            traj = batched_gd(theta0[active] if state is None else state["theta"], phi if shared else phi[active],
                              gamma if shared else gamma[active], loss,
                              method="normalized", step=step[active], iterations=budget - done_iterations,
                              adaptive=True, relative=relative[active], state=state, start=done_iterations,
                              device=device)
        for j, b in enumerate(active):
            h = hist[b]
            h["iterations"].extend(traj.iterations.tolist())
            h["theta"].extend(list(traj.theta[:, j]))
            h["selected"].extend(list(traj.selected[:, j]))
            h["one_minus_mass"].extend(traj.one_minus_mass[:, j].tolist())
            h["grad_log10"].extend(traj.grad_log10[:, j].tolist())
            h["step"].extend(traj.step[:, j].tolist())
            judged[b] = judge_run(h["iterations"], h["theta"], h["selected"], h["one_minus_mass"],
                                  lambda sel, b=b: p_mm(b, sel), grad_log10=h["grad_log10"],
                                  certify=None if certify is None else (lambda th, b=b: certify(b, th)), **rule)
        done_iterations = budget
        dropped = set() if settled is None else set(settled(judged, rounds))
        again = [j for j, b in enumerate(active) if (judged[b].status == UNDECIDED and b not in dropped) or
                 (keep_going is not None and keep_going(judged[b]))]
        state = None if not again else {k: (v[again] if isinstance(v, np.ndarray) and v.ndim else v)
                                        for k, v in traj.state.items()}
        active = active[again]
    histories = [{"iterations": h["iterations"], "norm": [float(np.linalg.norm(t)) for t in h["theta"]],
                  "selected": [list(map(int, s)) for s in h["selected"]], "one_minus_mass": h["one_minus_mass"],
                  "grad_log10": h["grad_log10"], "step": h["step"], "theta_final": h["theta"][-1],
                  **({"theta": h["theta"]} if keep_thetas else {})} for h in hist]
    return DecidedRuns(judgements=judged, histories=histories, budgets=tuple(budgets), rounds=rounds,
                       iterations=[h["iterations"][-1] for h in hist], cut_by_time=cut)
