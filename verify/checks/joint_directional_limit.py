"""Check `joint-directional-limit`: joint GD on (v, p) converges in direction to (v(alpha), p_relax(alpha)).

For every init p_0 of the dataset, GD runs on (v, p) from (v_0, p_0) with v_0 the dataset's v, with the
stable gradients of numeric.joint (default: normalised per block, step 1), until both 1 - corr(v_k, v(alpha))
and 1 - corr(p_k, p_relax(alpha)) are below STOP_TOL with a stable selection and a decade of ||p|| behind,
or its budget (at most 3 s per run) is spent. Per run: `holds` when the selection is stable over the
second half, both final values are <= tol and each fell at least tenfold over the last decade of ||p|| (or
sits at rounding level); `fails` when the selection is stable and the p value settles (less than twofold
drop) above tol; otherwise `inconclusive`. The plain p-SVM's 1 - corr is reported beside it.
"""
from __future__ import annotations

import numeric
from numeric import joint as nj

from ..result import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, CheckResult
from . import joint_common as jc

ID = "joint-directional-limit"
CLAIM = "Joint GD on (v, p) converges in direction to the v-SVM and to the relaxed p-SVM."
STOP_TOL = 1e-9
TIME_BUDGET = 3.0
ROUNDING_FLOOR = 1e-20


def _observer(v_mm, p_rel):
    history = []

    def observe(cp) -> bool:
        ov = numeric.one_minus_corr(cp.v, v_mm) if cp.v_norm > 0 else None
        op = numeric.one_minus_corr(cp.p, p_rel) if cp.p_norm > 0 else None
        cp.extra.update(one_minus_corr_v=ov, one_minus_corr_p=op)
        history.append(cp)
        if ov is None or op is None or max(ov, op) > STOP_TOL or len(history) < 6:
            return False
        if any(h.selected != cp.selected for h in history[-6:]):
            return False
        return cp.p_norm >= 100 and any(h.p_norm <= cp.p_norm / 10 for h in history)

    return observe


def _drop(start, final):
    if final <= ROUNDING_FLOOR:
        return float("inf")
    return start / final


def judge(traj, v_mm, p_rel, p_plain, tol) -> dict:
    cps = traj.checkpoints
    final = traj.final
    half = [c for c in cps if c.iteration >= final.iteration / 2]
    stable = all(c.selected == final.selected for c in half)
    ov = numeric.one_minus_corr(final.v, v_mm)
    op = numeric.one_minus_corr(final.p, p_rel)
    run = {"init_v": cps[0].v, "init_p": cps[0].p, "iterations": final.iteration, "stop_reason": traj.stop_reason,
           "seconds": round(traj.seconds, 3), "selected": list(final.selected), "selection_stable": stable,
           "v_norm": final.v_norm, "p_norm": final.p_norm, "one_minus_corr_v": ov, "one_minus_corr_p": op,
           "one_minus_corr_p_plain": numeric.one_minus_corr(final.p, p_plain) if p_plain is not None else None,
           "trajectory": [{"iteration": c.iteration, "v_norm": c.v_norm, "p_norm": c.p_norm, "loss": c.loss,
                           "one_minus_corr_v": c.extra.get("one_minus_corr_v"),
                           "one_minus_corr_p": c.extra.get("one_minus_corr_p"),
                           "one_minus_mass": c.one_minus_mass, "selected": list(c.selected)} for c in cps]}
    earlier = [c for c in cps if 0 < c.p_norm <= final.p_norm / 10 and c.v_norm > 0]
    if not earlier:
        run.update(verdict=INCONCLUSIVE, reason="||p|| did not grow tenfold during the run")
        return run
    s = earlier[-1]
    dv = _drop(numeric.one_minus_corr(s.v, v_mm), ov)
    dp = _drop(numeric.one_minus_corr(s.p, p_rel), op)
    run["decade"] = {"p_norm_from": s.p_norm, "p_norm_to": final.p_norm, "drop_v": dv, "drop_p": dp}
    if stable and max(ov, op) <= tol and dv >= 10 and dp >= 10:
        run.update(verdict=HOLDS, reason=f"1 - corr: v {ov:.2e}, p {op:.2e} (<= {tol:g}), both falling over the last "
                                         "decade of ||p||")
    elif stable and op > tol and dp < 2:
        run.update(verdict=FAILS, reason=f"p settles at 1 - corr = {op:.2e} > {tol:g} against the relaxed p-SVM")
    else:
        run.update(verdict=INCONCLUSIVE, reason=f"1 - corr: v {ov:.2e} (drop {dv:.3g}x), p {op:.2e} (drop {dp:.3g}x), "
                                                f"selection {'stable' if stable else 'changing'} "
                                                f"(stopped: {traj.stop_reason})")
    return run


def run(ctx) -> CheckResult:
    why = jc.applicability(ctx)
    if why:
        return CheckResult(ID, NOT_APPLICABLE, why, CLAIM, {"train": ctx.dataset.train})
    vrec = jc.v_svm(ctx)
    if not vrec.feasible:
        return CheckResult(ID, NOT_APPLICABLE, "the v-SVM is infeasible", CLAIM, {})
    relaxed = ctx.svm(vrec.alpha, jc.relaxed_margins(ctx))
    plain = ctx.svm(vrec.alpha)
    if not relaxed.feasible:
        return CheckResult(ID, NOT_APPLICABLE, "the relaxed p-SVM is infeasible", CLAIM, {})
    ds, o = ctx.dataset, ctx.options
    runs = []
    for init in ds.inits:
        traj = nj.run_joint_gd(ds.v, init, ds.X, ds.Y, ctx.phi, ctx.loss, method=o["method"], step=o["step"],
                               max_iter=o["max_iterations"], time_budget=min(TIME_BUDGET, o["time_budget"]),
                               observer=_observer(vrec.v_mm, relaxed.theta))
        runs.append(judge(traj, vrec.v_mm, relaxed.theta, plain.theta if plain.feasible else None, o["tol"]))
    ev = {"runs": runs, "tol": o["tol"], "stop_tol": STOP_TOL, "backend": "float64",
          "gradient": "stable joint gradients (numeric.joint), normalised per block" if o["method"] == "normalized"
          else "stable joint gradients (numeric.joint), fixed step"}
    verdicts = [r["verdict"] for r in runs]
    worst = max(max(r["one_minus_corr_v"], r["one_minus_corr_p"]) for r in runs)
    if all(v == HOLDS for v in verdicts):
        return CheckResult(ID, HOLDS, f"all {len(runs)} runs converge to (v(alpha), p_relax); worst final 1 - corr "
                           f"{worst:.1e}", CLAIM, ev)
    if FAILS in verdicts:
        bad = [i for i, v in enumerate(verdicts) if v == FAILS]
        return CheckResult(ID, FAILS, f"run(s) {bad} settle away from the relaxed p-SVM", CLAIM, ev)
    bad = [i for i, v in enumerate(verdicts) if v != HOLDS]
    return CheckResult(ID, INCONCLUSIVE, f"run(s) {bad} inconclusive ({runs[bad[0]]['reason']})", CLAIM, ev)
