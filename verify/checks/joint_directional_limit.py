"""Claim `joint-directional-limit` (an observation): joint GD on (v, p) converges in direction to the joint SVMs.

No theorem of either paper covers joint GD (the first paper proves the joint regularisation path,
`joint-regularization-path`); this is the authors' joint-training experiment (statement P1-E3), labelled as
an observation. For every init p_0 of the dataset, GD runs on (v, p) from (v_0, p_0) with v_0 the dataset's
v, with the stable joint gradients (numeric.joint_lockstep: the inits in lockstep, each with its own stop;
normalised per block, the nominal step; a run's ``seconds`` are those of its lockstep group up to its stop),
until 1 - corr against the v-SVM and the relaxed p-SVM of the tokens it currently selects (largest logits) are
both below STOP_TOL with a stable selection and a decade of ||p|| behind, or its iteration budget is spent. The
targets are those of the selected tokens (as in `directional-limit`); whether they are the optimal tokens alpha
of the dataset's v is reported. Per run: observed when the selection is stable over the second half, both final
values are <= tol and each fell at least tenfold over the last decade of ||p|| (or sits at rounding level);
contradicted when the selection is stable and the p value settles (less than twofold drop) above tol (the
counterexample: the init, the final iterate, the step); otherwise undecided (also when the selected tokens
have no feasible joint SVMs). The plain p-SVM's 1 - corr is reported beside it.
"""
from __future__ import annotations

from attnsvm import numeric

from ..claims import CONTRADICTED, OBSERVED, STATEMENTS, UNDECIDED, Observation, judge, out_of_scope
from ..result import FAILS, HOLDS, INCONCLUSIVE
from . import joint_common as jc

ID = "joint-directional-limit"
ROLE = "claim"
STATEMENT = STATEMENTS["P1-E3"]
STOP_TOL = 1e-9
ROUNDING_FLOOR = 1e-20


def targets(ctx, selection):
    """(v-SVM, relaxed p-SVM, plain p-SVM) directions of ``selection`` (None where infeasible)."""
    vrec = jc.v_svm(ctx, selection)
    if not vrec.feasible or vrec.polished is None:
        return None, None, None
    relaxed = ctx.svm(selection, jc.relaxed_margins(ctx, selection))
    plain = ctx.svm(selection)
    return (vrec.v_mm, relaxed.theta if relaxed.feasible else None, plain.theta if plain.feasible else None)


def _observer(ctx):
    history = []

    def observe(cp) -> bool:
        v_mm, p_rel, _ = targets(ctx, cp.selected)
        ov = numeric.one_minus_corr(cp.v, v_mm) if v_mm is not None and cp.v_norm > 0 else None
        op = numeric.one_minus_corr(cp.p, p_rel) if p_rel is not None and cp.p_norm > 0 else None
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


def judge_joint_run(ctx, traj, alpha, tol) -> dict:
    """The evidence and verdict of one joint GD run."""
    cps = traj.checkpoints
    final = traj.final
    stable = traj.selection_stable()
    v_mm, p_rel, p_plain = targets(ctx, final.selected)
    run = {"init_v": cps[0].v, "init_p": cps[0].p, "final_v": final.v, "final_p": final.p,
           "iterations": final.iteration, "stop_reason": traj.stop_reason,
           "seconds": round(traj.seconds, 3), "selected": list(final.selected),
           "selected_is_alpha": list(final.selected) == list(alpha), "selection_stable": stable,
           "v_norm": final.v_norm, "p_norm": final.p_norm,
           "trajectory": [{"iteration": c.iteration, "v_norm": c.v_norm, "p_norm": c.p_norm, "loss": c.loss,
                           "one_minus_corr_v": c.extra.get("one_minus_corr_v"),
                           "one_minus_corr_p": c.extra.get("one_minus_corr_p"),
                           "one_minus_mass": c.one_minus_mass, "selected": list(c.selected)} for c in cps]}
    if v_mm is None or p_rel is None:
        run.update(one_minus_corr_v=None, one_minus_corr_p=None, one_minus_corr_p_plain=None, verdict=INCONCLUSIVE,
                   reason=f"the selected tokens {list(final.selected)} have no feasible v-SVM / relaxed p-SVM")
        return run
    ov = numeric.one_minus_corr(final.v, v_mm)
    op = numeric.one_minus_corr(final.p, p_rel)
    run.update(one_minus_corr_v=ov, one_minus_corr_p=op,
               one_minus_corr_p_plain=numeric.one_minus_corr(final.p, p_plain) if p_plain is not None else None,
               v_target_unit=jc.unit_list(v_mm), p_target_unit=jc.unit_list(p_rel))
    earlier = [c for c in cps if 0 < c.p_norm <= final.p_norm / 10 and c.v_norm > 0]
    if not earlier:
        run.update(verdict=INCONCLUSIVE, reason="||p|| did not grow tenfold during the run")
        return run
    s = earlier[-1]
    dv = _drop(numeric.one_minus_corr(s.v, v_mm), ov)
    dp = _drop(numeric.one_minus_corr(s.p, p_rel), op)
    run["decade"] = {"p_norm_from": s.p_norm, "p_norm_to": final.p_norm, "drop_v": dv, "drop_p": dp}
    which = "alpha" if run["selected_is_alpha"] else f"the selected tokens {list(final.selected)} (not alpha)"
    if stable and max(ov, op) <= tol and dv >= 10 and dp >= 10:
        run.update(verdict=HOLDS, reason=f"1 - corr against the joint SVMs of {which}: v {ov:.2e}, p {op:.2e} "
                                         f"(<= {tol:g}), both falling over the last decade of ||p||")
    elif stable and op > tol and dp < 2:
        run.update(verdict=FAILS, reason=f"p settles at 1 - corr = {op:.2e} > {tol:g} against the relaxed p-SVM "
                                         f"of {which}")
    else:
        run.update(verdict=INCONCLUSIVE, reason=f"1 - corr against the joint SVMs of {which}: v {ov:.2e} (drop "
                                                f"{dv:.3g}x), p {op:.2e} (drop {dp:.3g}x), selection "
                                                f"{'stable' if stable else 'changing'} (stopped: {traj.stop_reason})")
    return run


def run(ctx):
    why = jc.applicability(ctx)
    if why:
        return out_of_scope(ID, STATEMENT, why, evidence={"train": ctx.dataset.train})
    alpha = jc.v_svm(ctx).alpha
    ds, o = ctx.dataset, ctx.options
    v_init = ds.v if ds.v0 is None else ds.v0           # the dataset's v0: joint GD's initial head (default v)
    trajs = numeric.run_joint_gd_lockstep([v_init] * len(ds.inits), list(ds.inits), ds.X, ds.Y, ctx.phi, ctx.loss,
                                          method="normalized", step=o["step"], max_iter=o["max_iterations"],
                                          time_budget=o["time_budget"], observers=[_observer(ctx) for _ in ds.inits])
    runs = [judge_joint_run(ctx, traj, alpha, o["tol"]) for traj in trajs]
    ev = {"runs": runs, "alpha": alpha, "tol": o["tol"], "stop_tol": STOP_TOL, "backend": "float64",
          "gradient": "stable joint gradients (numeric.joint_lockstep, the inits in lockstep), normalised per block",
          "step": o["step"],
          "initial_head": "v0 (dataset)" if ds.v0 is not None else "v (dataset)",
          "max_iterations": o["max_iterations"]}
    verdicts = [r["verdict"] for r in runs]
    n_alpha = sum(r["selected_is_alpha"] for r in runs)
    tail = f"{n_alpha}/{len(runs)} runs select alpha"
    finals = [max(r["one_minus_corr_v"], r["one_minus_corr_p"]) for r in runs if r["one_minus_corr_v"] is not None]
    if finals:
        tail += f"; worst final 1 - corr {max(finals):.1e}"
    if all(v == HOLDS for v in verdicts):
        return judge(ctx, ID, STATEMENT, Observation(OBSERVED, f"all {len(runs)} runs converge to the v-SVM and relaxed "
                                                     "p-SVM of their tokens; " + tail, ev))
    if FAILS in verdicts:
        bad = [i for i, v in enumerate(verdicts) if v == FAILS]
        r = runs[bad[0]]
        counterexample = {"init_v": r["init_v"], "init_p": r["init_p"], "final_v": r["final_v"],
                          "final_p": r["final_p"], "iteration": r["iterations"], "step": o["step"],
                          "one_minus_corr_p": r["one_minus_corr_p"], "selected": r["selected"]}
        return judge(ctx, ID, STATEMENT, Observation(CONTRADICTED, f"run(s) {bad} settle away from the relaxed p-SVM "
                                                     f"({r['reason']}); " + tail, ev, counterexample))
    bad = [i for i, v in enumerate(verdicts) if v != HOLDS]
    return judge(ctx, ID, STATEMENT, Observation(UNDECIDED, f"run(s) {bad} undecided ({runs[bad[0]]['reason']}); "
                                                 + tail, ev))
