"""Check `precision-cross-check`: float64 GD is reproduced by arbitrary-precision GD.

For every init, GD (the method and step of the options) runs ``cross_check_iterations`` steps twice: in
float64 with the stable gradient, and in mpmath at ``cross_check_dps`` digits on the exact data. At every
common checkpoint the iterates are compared: relative difference of p, distance of the directions
||p64^ - p_mp^|| (and its digits), and 1 - corr with p_mm of the selected tokens in each backend.
The mpmath run has ``cross_check_time_budget`` seconds; the float64 run takes exactly as many steps.
`holds` when the directions agree to ``cross_check_tol`` (default 1e-10: at least 10 significant digits)
with the same selection at every checkpoint of every run; `fails` at the first checkpoint where they part
(reported); `inconclusive` when the time budget allowed fewer than 100 mpmath steps (and fewer than asked),
the runs stopped at different iterations, or no checkpoint had a nonzero iterate.

Evidence beyond the verdict (computed on the directional-limit runs, which go to large norms):
* certified checkpoints: at each checkpoint of those float64 runs, the float64 gradient direction against
  mpmath at ``certify_dps`` digits: how much one float64 step can be trusted there;
* the naive-formula warning: walking along those runs (and on along their final ray), the ||p|| at which
  the naive float64 gradient (softmax, then the Jacobian product, as autograd does) departs from the stable
  direction by more than ``naive_tol``, and the ||p|| at which it is exactly 0 (GD stalls).
"""
from __future__ import annotations

import mpmath
import numpy as np

from attnsvm import numeric

from ..claims import STATEMENTS
from ..result import FAILS, HOLDS, INCONCLUSIVE, CheckResult

ROLE = "instrument"
ID = "precision-cross-check"
MIN_ITERATIONS = 100  # fewest steps a time-cut cross-check may be judged on
STATEMENT = STATEMENTS["precision"]
CLAIM = ("float64 GD with the stable gradient and mpmath GD from the same init agree to at least 10 significant "
         "digits in direction at every checkpoint.")


def _result(*args):
    return CheckResult(*args, role=ROLE, statement=STATEMENT.to_dict())


def _reference(ctx):
    """selection -> p_mm of that selection (polished, mpmath) or None when its SVM is infeasible."""
    def ref(selected):
        rec = ctx.svm(selected)
        if not rec.feasible:
            return None
        return rec.polished.theta if rec.polished is not None else list(rec.theta)
    return ref


def _final_exact(t64, tmp, loss, gamma) -> dict:
    """The final iterate's loss quantities: mpmath values (decimal strings) beside float64's."""
    c_mp, c64 = tmp.final, t64.final
    rows = np.arange(len(c64.selected))
    l_alpha64 = float(np.mean(loss.value(gamma[rows, list(c64.selected)])))
    return {"iteration": c_mp.iteration, "norm": c_mp.norm,
            "loss_mp": mpmath.nstr(c_mp.loss_mp, 20), "loss_float64": c64.loss,
            "excess_loss_mp": mpmath.nstr(c_mp.excess_loss_mp, 15), "excess_loss_float64": c64.loss - l_alpha64,
            "one_minus_mass_mp": mpmath.nstr(c_mp.one_minus_mass_mp, 15),
            "one_minus_mass_float64": c64.one_minus_mass,
            "grad_norm_mp": mpmath.nstr(c_mp.grad_norm_mp, 15), "grad_norm_float64": c64.grad_norm}


def _certified_evidence(ctx) -> dict:
    out = []
    for traj, rows in zip(ctx.gd_runs(), ctx.certified_checkpoints()):
        errs = [r["direction_error"] for r in rows if r.get("direction_error") is not None]
        out.append({"init": traj.checkpoints[0].theta, "checkpoints": rows,
                    "worst_direction_error": max(errs, default=None)})
    return {"dps": ctx.options["certify_dps"], "of": "the directional-limit runs (float64)", "runs": out,
            "worst_direction_error": max((r["worst_direction_error"] for r in out
                                          if r["worst_direction_error"] is not None), default=None)}


def _naive_evidence(ctx) -> dict:
    runs = []
    for traj, walk in zip(ctx.gd_runs(), ctx.naive_walks()):
        runs.append({"init": traj.checkpoints[0].theta, "departure": walk["departure"], "stall": walk["stall"],
                     "walked_ray_beyond_run": walk["walked_ray_beyond_path"], "extend_to": walk["extend_to"],
                     "samples": walk["samples"]})
    dep = [r["departure"]["norm"] for r in runs if r["departure"] is not None]
    stall = [r["stall"]["norm"] for r in runs if r["stall"] is not None]
    return {"tol": ctx.options["naive_tol"], "departure_norm": min(dep, default=None),
            "stall_norm": min(stall, default=None), "runs": runs,
            "meaning": "beyond departure_norm the naive float64 gradient (softmax, then the Jacobian product, as "
                       "autograd computes it) points elsewhere than the true gradient by more than tol; beyond "
                       "stall_norm it is exactly 0"}


def run(ctx) -> CheckResult:
    o = ctx.options
    tol = o["cross_check_tol"]
    ref = _reference(ctx)
    runs, verdicts = [], []
    for t64, tmp in ctx.precision_runs():
        cmp_ = numeric.compare_trajectories(t64, tmp, reference=ref, dps=max(o["cross_check_dps"], 30) + 10)
        parting = numeric.first_parting(cmp_, tol)
        compared = [r for r in cmp_["checkpoints"] if r["direction"] is not None]
        rec = {"init": t64.checkpoints[0].theta, "method": t64.method, "step": t64.step,
               "iterations_float64": t64.final.iteration, "iterations_mp": tmp.final.iteration,
               "stop_reason_float64": t64.stop_reason, "stop_reason_mp": tmp.stop_reason,
               "seconds_float64": round(t64.seconds, 3), "seconds_mp": round(tmp.seconds, 3),
               "min_digits": cmp_["min_digits"], "worst_direction": cmp_["worst_direction"],
               "first_parting": parting, "final": _final_exact(t64, tmp, ctx.loss, ctx.gamma),
               "checkpoints": cmp_["checkpoints"]}
        cut = tmp.stop_reason == "time" and tmp.final.iteration < o["cross_check_iterations"]
        rec["cut_by_time_budget"] = cut
        if parting is not None:
            rec["verdict"] = FAILS
        elif cut and tmp.final.iteration < min(o["cross_check_iterations"], MIN_ITERATIONS):
            rec["verdict"] = INCONCLUSIVE
            rec["reason"] = (f"the mpmath run reached only iteration {tmp.final.iteration} in its time budget "
                             f"({o['cross_check_time_budget']:g} s); at least {MIN_ITERATIONS} are needed")
        elif tmp.final.iteration != t64.final.iteration:
            rec["verdict"] = INCONCLUSIVE
            rec["reason"] = (f"the runs stopped at different iterations (float64 {t64.final.iteration}, "
                             f"{t64.stop_reason}; mpmath {tmp.final.iteration}, {tmp.stop_reason})")
        elif not compared:
            rec["verdict"] = INCONCLUSIVE
            rec["reason"] = "no checkpoint with a nonzero iterate to compare"
        else:
            rec["verdict"] = HOLDS
        runs.append(rec)
        verdicts.append(rec["verdict"])
    evidence = {"dps": o["cross_check_dps"], "iterations": o["cross_check_iterations"], "tol": tol,
                "digits_required": -float(np.log10(tol)), "runs": runs,
                "certified": _certified_evidence(ctx), "naive_warning": _naive_evidence(ctx)}
    nw = evidence["naive_warning"]
    warn = "; naive float64 gradient " + (
        f"departs (> {nw['tol']:g}) at ||p|| = {nw['departure_norm']:.4g}" if nw["departure_norm"] is not None
        else "never departs on the walk") + (
        f", stalls (= 0) at ||p|| = {nw['stall_norm']:.4g}" if nw["stall_norm"] is not None else ", never stalls on the walk")
    if FAILS in verdicts:
        bad = [i for i, v in enumerate(verdicts) if v == FAILS]
        p = runs[bad[0]]["first_parting"]
        what = (f"selection {p['selected_float64']} vs {p['selected_mp']}" if p["selected_float64"] != p["selected_mp"]
                else f"direction distance {p['direction']:.2e} > {tol:g}")
        return _result(ID, FAILS, f"run(s) {bad}: float64 and mpmath ({o['cross_check_dps']} digits) part at "
                                      f"iteration {p['iteration']} (||p|| = {p['norm']:.4g}; {what})" + warn,
                           CLAIM, evidence)
    if all(v == HOLDS for v in verdicts):
        digits = min(r["min_digits"] for r in runs)
        n_cp = sum(len(r["checkpoints"]) for r in runs)
        cuts = [r["iterations_mp"] for r in runs if r["cut_by_time_budget"]]
        cut = f" (time budget: {min(cuts)} of {o['cross_check_iterations']} steps)" if cuts else ""
        return _result(ID, HOLDS, f"float64 and mpmath ({o['cross_check_dps']} digits) agree to >= {digits:.1f} "
                                      f"digits in direction at all {n_cp} checkpoints of {len(runs)} run(s)" + cut
                           + warn,
                           CLAIM, evidence)
    bad = [i for i, v in enumerate(verdicts) if v != HOLDS]
    return _result(ID, INCONCLUSIVE, f"run(s) {bad} inconclusive ({runs[bad[0]]['reason']})" + warn, CLAIM,
                       evidence)
