"""Check `w-directional-limit`: GD on W converges in direction to the Frobenius W-SVM of the tokens it selects.

Normalised GD on W (step: the context's step, default 1; the dataset's first W init, default 0) for up to
20,000 iterations. At every checkpoint, against both W-SVMs of the final selection: 1 - corr with W_F^mm
(unique, so the angle is meaningful), and the optimality gaps ||W_s||_F / ||W_F^mm|| - 1 and
||W_s||_* / ||W_*^mm||_* - 1 of W_s = W_k / min_j <A_j, W_k> (the iterate scaled to margin 1).

`holds`: the selection is the same over the second half of the run, 1 - corr <= tol and it fell at least
tenfold over the last decade of ||W||, and the iterate is told apart from the nuclear solution (its nuclear
gap stays above its Frobenius gap, or both SVMs coincide). `fails`: stable selection and 1 - corr settles
(< 2x drop over the last decade) above tol. Otherwise `inconclusive`.
"""
from __future__ import annotations

from ..result import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, CheckResult
from ..w_runs import RANK_RTOL_ITERATE, decade_drop, judge_iterate, trajectory_evidence, w_run, w_svm
from .optimal_tokens import optimal_tokens

ID = "w-directional-limit"
NEEDS_ASSUMPTION_A = True  # a GD conclusion: no claim where the loss violates Assumption A
CLAIM = "GD on W: W_k/||W_k|| converges to W_F^mm/||W_F^mm|| (Frobenius W-SVM) of the tokens GD selects."


def run(ctx) -> CheckResult:
    ds = ctx.dataset
    if not ds.is_attention_model:
        return CheckResult(ID, NOT_APPLICABLE, "prompt model: see directional-limit", CLAIM, {})
    traj = w_run(ctx)
    final = traj.final
    _, argmax_sets = optimal_tokens(ds)
    svms = w_svm(ctx, final.selected)
    stable = traj.selection_stable()
    ev = {"method": traj.method, "step": traj.step, "iterations": final.iteration, "seconds": round(traj.seconds, 3),
          "stop_reason": traj.stop_reason, "selected": list(final.selected), "selection_stable": stable,
          "selected_is_optimal": all(a in s for a, s in zip(final.selected, argmax_sets)),
          "init": ds.inits[0], "rank_rtol_iterate": RANK_RTOL_ITERATE, "backend": "float64",
          "gradient": "stable (DESIGN.md section 3)", "tol": ctx.options["tol"]}
    if not svms.fro.feasible:
        ev["svm_feasible"] = False
        return CheckResult(ID, INCONCLUSIVE, f"the W-SVM of the selected tokens {list(final.selected)} is infeasible",
                           CLAIM, ev)
    rows = trajectory_evidence(traj, svms, ds.d)
    ev["trajectory"] = rows
    j = judge_iterate(final.theta, svms, ds.d)
    ev["final"] = j
    ev["svm_ranks"] = {"frobenius": svms.evidence(ds.d)["frobenius"].get("rank"),
                       "nuclear": svms.evidence(ds.d)["nuclear"].get("rank")}
    drop, window = decade_drop(rows, "one_minus_corr_fro")
    ev["decade"] = window
    omc = j["one_minus_corr_fro"]
    apart = j["nuc_gap"] is None or j["fro_gap"] is None or j["nuc_gap"] > j["fro_gap"]
    ev["told_apart"] = apart
    desc = (f"1 - corr(W_k, W_F^mm) = {omc:.1e}, Frobenius gap {j['fro_gap']:.1e}, nuclear gap "
            f"{j['nuc_gap']:.1e} at ||W|| = {j['norm']:.3g}; rank {j['rank']} (SVMs: F {ev['svm_ranks']['frobenius']}, "
            f"* {ev['svm_ranks']['nuclear']})") if j["fro_gap"] is not None else f"1 - corr = {omc:.1e}"
    tol = ctx.options["tol"]
    if drop is not None and stable and omc <= tol and drop >= 10 and apart:
        return CheckResult(ID, HOLDS, desc + f"; fell {drop:.3g}x over the last decade of ||W||", CLAIM, ev)
    if drop is not None and stable and omc > tol and drop < 2:
        return CheckResult(ID, FAILS, desc + f"; settles (only {drop:.3g}x lower over the last decade)", CLAIM, ev)
    why = []
    if not stable:
        why.append("the selection changed in the second half")
    if drop is None:
        why.append("||W|| did not grow tenfold on the final selection")
    elif drop < 10:
        why.append(f"fell only {drop:.3g}x over the last decade")
    if omc > tol:
        why.append(f"above tol {tol:g}")
    if not apart:
        why.append("not told apart from the nuclear solution")
    return CheckResult(ID, INCONCLUSIVE, desc + "; " + ", ".join(why), CLAIM, ev)
