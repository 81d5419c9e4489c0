"""Check `directional-limit`: p_k / ||p_k|| -> p_mm(alpha) / ||p_mm(alpha)|| for the tokens alpha GD selects.

For every init, GD runs (default: normalised, step 1) until 1 - corr(p_k, p_mm) <= stop_tol with a stable
selection, or its budget is spent. The selected tokens are the largest logit per sequence; 1 - corr is
measured against p_mm of the selected tokens (polished SVM solution), stably as ||u - w||^2 / 2 for unit u, w.

Per run: `holds` when the selection is the same over the second half of the run, the final 1 - corr is
below ``tol`` and it fell at least tenfold over the last decade of ||p|| (normalised GD predicts a
hundredfold: 1 - corr ~ ||p||^-2), or sat at rounding level (< 1e-20) over that whole decade; `fails`
when the selection is stable and 1 - corr settles (less than a twofold drop over the last decade) above
``tol``; otherwise `inconclusive`. The check holds when every run holds and fails when any run fails.
"""
from __future__ import annotations

from attnsvm import numeric

from ..result import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, CheckResult
from .optimal_tokens import optimal_tokens

NEEDS_ASSUMPTION_A = True  # GD conclusions rest on Assumption A (see verify.api.check)
ID = "directional-limit"
CLAIM = "For every init, p_k/||p_k|| converges to p_mm/||p_mm|| of the tokens GD selects."
ROUNDING_FLOOR = 1e-20


def judge_run(ctx, traj, argmax_sets) -> dict:
    """The evidence and verdict of one GD run."""
    o = ctx.options
    cps = traj.checkpoints
    final = traj.final
    rec = ctx.svm(final.selected)
    stable = traj.selection_stable()
    run = {"init": cps[0].theta, "selected": list(final.selected),
           "selected_is_optimal": all(a in s for a, s in zip(final.selected, argmax_sets)),
           "method": traj.method, "step": traj.step, "iterations": final.iteration, "final_norm": final.norm,
           "stop_reason": traj.stop_reason, "seconds": round(traj.seconds, 3), "selection_stable": stable,
           "feasible": rec.feasible}
    trajectory = []
    for c in cps:
        trajectory.append({"iteration": c.iteration, "norm": c.norm,
                           "one_minus_corr": c.extra.get("one_minus_corr"), "loss": c.loss,
                           "mass_selected": 1.0 - c.one_minus_mass, "one_minus_mass": c.one_minus_mass,
                           "selected": list(c.selected), "theta": c.theta})
    run["trajectory"] = trajectory
    if not rec.feasible:
        run.update(one_minus_corr=None, verdict=INCONCLUSIVE,
                   reason="the p-SVM of the selected tokens is infeasible: there is no max-margin direction to compare with")
        return run
    run["p_mm"] = numeric.mp_decimal_strings(rec.polished.theta, 40) if rec.polished else list(rec.theta)
    omc_final = numeric.one_minus_corr(final.theta, rec.theta) if final.norm > 0 else None
    run["one_minus_corr"] = omc_final
    # trend over the last decade of ||p||, against the final selection's p_mm
    earlier = [c for c in cps if 0 < c.norm <= final.norm / 10]
    drop = None
    if earlier and omc_final is not None:
        start = earlier[-1]
        omc_start = numeric.one_minus_corr(start.theta, rec.theta)
        run["decade"] = {"norm_from": start.norm, "norm_to": final.norm,
                         "one_minus_corr_from": omc_start, "one_minus_corr_to": omc_final}
        if omc_start <= ROUNDING_FLOOR and omc_final <= ROUNDING_FLOOR:
            drop = float("inf")
        elif omc_final > 0:
            drop = omc_start / omc_final
        else:
            drop = float("inf")
        run["decade"]["drop"] = drop
    if omc_final is None or drop is None:
        run.update(verdict=INCONCLUSIVE, reason="||p|| did not grow tenfold during the run: no trend to judge")
    elif stable and omc_final <= o["tol"] and drop >= 10:
        run.update(verdict=HOLDS, reason=f"1 - corr = {omc_final:.2e} <= {o['tol']:g}, fell {drop:.3g}x over the "
                                         "last decade of ||p|| with a stable selection")
    elif stable and omc_final > o["tol"] and drop < 2:
        run.update(verdict=FAILS, reason=f"1 - corr settles at {omc_final:.2e} > {o['tol']:g} (only {drop:.3g}x "
                                         "lower over the last decade of ||p||)")
    else:
        parts = []
        if not stable:
            parts.append("the selection changed in the second half of the run")
        if omc_final > o["tol"]:
            parts.append(f"1 - corr = {omc_final:.2e} is above {o['tol']:g}")
        if drop < 10:
            parts.append(f"1 - corr fell only {drop:.3g}x over the last decade of ||p||")
        run.update(verdict=INCONCLUSIVE, reason="; ".join(parts) + f" (stopped: {traj.stop_reason})")
    return run


def run(ctx) -> CheckResult:
    if ctx.dataset.model != "prompt":  # self/cross attention: see w-directional-limit and kq-directional-limit
        return CheckResult(ID, NOT_APPLICABLE, "self/cross-attention model: see w-directional-limit and kq-directional-limit", CLAIM, {})
    _, argmax_sets = optimal_tokens(ctx.dataset)
    runs = [judge_run(ctx, traj, argmax_sets) for traj in ctx.gd_runs()]
    verdicts = [r["verdict"] for r in runs]
    evidence = {"runs": runs, "tol": ctx.options["tol"], "stop_tol": ctx.options["stop_tol"],
                "backend": "float64", "gradient": "stable (DESIGN.md section 3)"}
    worst = max((r["one_minus_corr"] for r in runs if r["one_minus_corr"] is not None), default=None)
    n_opt = sum(r["selected_is_optimal"] for r in runs)
    tail = f"{n_opt}/{len(runs)} runs select the optimal tokens" + \
        (f"; worst final 1 - corr {worst:.1e}" if worst is not None else "")
    if all(v == HOLDS for v in verdicts):
        return CheckResult(ID, HOLDS, f"all {len(runs)} runs converge in direction; " + tail, CLAIM, evidence)
    if FAILS in verdicts:
        bad = [i for i, v in enumerate(verdicts) if v == FAILS]
        return CheckResult(ID, FAILS, f"run(s) {bad} settle away from the SVM direction; " + tail, CLAIM, evidence)
    bad = [i for i, v in enumerate(verdicts) if v != HOLDS]
    return CheckResult(ID, INCONCLUSIVE, f"run(s) {bad} inconclusive ({runs[bad[0]]['reason']}); " + tail,
                       CLAIM, evidence)
