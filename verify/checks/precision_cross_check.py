"""Instrument `precision-cross-check`: float64 GD is trustworthy, judged on what matters.

Trajectories of GD amplify perturbations (near saddles, while the selection is being decided), so a float64 run
and an mpmath run from the same init may part (distance 1e-9 after 100 steps, O(1) later) while both are
right: each follows exact GD to within its own rounding. This instrument therefore does not compare the two
trajectories point by point; it checks (the runs are those of :mod:`verify.precision_runs`):

(a) one-step consistency: at every checkpoint of the float64 runs, the float64 update computed from the float64
    iterate by the run's code path (numeric.run_gd's step, with the zigzag step rule) and by the engines of
    batched GD's step that the dataset's runs use (numpy for small problems on the CPU; torch for larger ones and
    for self/cross-attention) equals the update computed in mpmath (``certify_dps`` digits, at least 30, default 50) from the exact
    value of the same iterate on the exact data, to within max(``cross_check_tol``, B) relative, B the first-order
    bound on float64's rounding in that step (a few ulps times the step's condition, :mod:`numeric.step_check`:
    about 1e-13 at ||p|| ~ 100, growing like ||p||); the mpmath step is recomputed 20 digits higher (at the
    first and last checkpoints of each run and where a step came closest to its tolerance) to show its own
    error is negligible;
(b) the float64 run and an mpmath run (``cross_check_dps`` digits) of the same GD from the same init reach the
    same limit: both converge (the one convergence rule, numeric.convergence) to the same selection, whose
    p_mm is certified exactly (ctx.svm(S).certificate()), with 1 - corr of each final iterate against it
    reported; or the runs never part over the whole float64 run (same selection throughout, final relative
    distance <= 1e-8);
(c) as a diagnostic, the amplification of perturbations along each float64 run (finite-time Lyapunov estimate,
    numeric.lyapunov): the growth factor and the rounding drift it predicts, beside the measured distance of
    the two runs at every checkpoint; it explains why and where they part.

When the two runs converge to different selections, the instrument looks for the reason. mpmath GD is restarted
from the exact iterate and step state of float64 checkpoints; bisection finds adjacent checkpoints such that
exact GD from the earlier one does not reach float64's selection and from the later one does. The float64 steps
between them are replayed and each is checked as in (a). If every one is consistent, the selection is decided
by a perturbation at rounding scale amplified by the dynamics (a basin boundary passes within rounding distance
of the run): float64 is not wrong, and the instrument holds with that finding in its summary. If one is not,
that step is the counterexample.

Both references are checked for their digits: every mpmath step of (a) must carry a mantissa of at least 30
digits and agree with itself 20 digits higher (where measured), and the first steps of every mpmath run of (b)
must match the reference step from the same iterate to 1e-25; otherwise the verdict is `inconclusive` (an instrument that
cannot tell 3 digits from 30 proves nothing).

Verdict: `holds` when (a) holds at every checkpoint and (b) holds for every run (or the basin-boundary finding
above); `fails` only when a float64 step is wrong beyond its tolerance (``evidence["counterexample"]``: run,
iteration, backend, the iterate as exact floats and hex, the step state, both updates, the digits);
`inconclusive` when the runs did not converge within ``cross_check_iterations`` and parted, when a restart
segment is too long to replay, when the mpmath reference is not accurate, or when an option sets fewer than 30
digits; `not-applicable` when the loss is not a real function where GD evaluates it (reported with the point).
Budgets are iteration counts; ``cross_check_time_budget`` (seconds, default none) may cut an mpmath run, and the
summary says so.

Evidence kept from before: the naive-formula warning (the ||p|| along the float64 runs and on along their final
rays where the textbook float64 gradient departs from the stable one by more than ``naive_tol``, and where it is
exactly 0: GD would stall); the one-step rows are the certified checkpoints (the float64 step against mpmath).
"""
from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np

from attnsvm import numeric
from attnsvm.numeric.convergence import CONVERGED, judge_run

from .. import precision_runs as pr
from ..claims import STATEMENTS, instrument_result
from ..result import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE

ID = "precision-cross-check"
ROLE = "instrument"
STATEMENT = STATEMENTS["precision"]
CLAIM = STATEMENT.text
MIN_DPS = 30                 # fewer digits cannot judge float64 (its steps agree to about 1e-13..1e-10)
TOGETHER_REL = 1e-8          # final relative distance under which two runs have not parted
PART_REL = 1e-10             # relative distance at which the profile marks the runs as parted (diagnostic)
REFERENCE_MAX_ERROR = 1e-20  # the mpmath reference must agree with itself 20 digits higher to this
MP_RUN_MAX_DIFFERENCE = 1e-25  # an mpmath run's first steps must match the reference this well (>= 30 digits)
ILL_CONDITIONED = 1e-3       # a one-step tolerance above this: the step direction is ill-conditioned (reported)
SEGMENT_CAP = 2000           # longest float64 segment replayed step by step when the runs' selections differ


def _p_mm(ctx):
    def ref(sel):
        rec = ctx.svm(sel)
        return rec.theta if rec.feasible else None
    return ref


def _judge(cps, p_mm):
    """The convergence rule on a list of checkpoints (float64 or mpmath)."""
    glog = [c.grad_log10 if c.grad_log10 is not None else
            (float(np.log10(c.grad_norm)) if c.grad_norm > 0 else float("-inf")) for c in cps]
    with np.errstate(all="ignore"):
        return judge_run([c.iteration for c in cps], [np.asarray([float(x) for x in c.theta]) for c in cps],
                         [c.selected for c in cps], [c.one_minus_mass for c in cps], p_mm, grad_log10=glog)


def _exact_floats(theta) -> dict:
    th = [float(x) for x in np.asarray(theta, dtype=float).reshape(-1)]
    return {"theta": th, "theta_hex": [x.hex() for x in th]}


def _one_step_summary(ctx, rows_per_run) -> dict:
    runs = []
    for traj, rows in zip(pr.float64_runs(ctx), rows_per_run):
        ok = [r for r in rows if "ratio" in r]
        runs.append({"init": traj.checkpoints[0].theta, "checked": len(rows),
                     "worst_ratio": max((r["ratio"] for r in ok), default=None),
                     "worst_rel_error": max((r["rel_error"] for r in ok), default=None),
                     "ties": sum(bool(r.get("tie")) for r in rows),
                     "rows": [{k: r.get(k) for k in ("iteration", "backend", "norm", "rel_error", "bound", "tolerance",
                                                      "ratio", "reference_error", "reference_bits", "eta_float64",
                                                      "eta_mp", "inner_mp", "tie", "correctly_rounded", "consistent")}
                              for r in rows]})
    flat = [r for rows in rows_per_run for r in rows]
    ill = [r for r in flat if r.get("tolerance", 0.0) > ILL_CONDITIONED]
    rel = [r["rel_error"] for r in flat if np.isfinite(r.get("rel_error", np.inf))
           and r.get("tolerance", 0.0) <= ILL_CONDITIONED]
    return {"dps": ctx.options["certify_dps"], "reference_dps": ctx.options["certify_dps"] + 20,
            "tolerance_floor": ctx.options["cross_check_tol"],
            "tolerance_meaning": "max(floor, first-order bound on float64's rounding in the step: a few ulps times "
                                 "the condition of the step, numeric.step_check.rounding_bound)",
            "backends": [{"numpy": "numpy (numeric.run_gd's float64_step)",
                          "torch": "torch (numeric.batched.batched_step on torch tensors)",
                          "batched-numpy": "batched-numpy (numeric.batched.batched_step on numpy arrays)"}[b]
                         for b in pr.backends(ctx)],
            "checked": len(flat), "inconsistent": sum(not r["consistent"] for r in flat),
            "worst_ratio": max((r["ratio"] for r in flat if "ratio" in r), default=None),
            "worst_rel_error": max(rel, default=None), "median_rel_error": float(np.median(rel)) if rel else None,
            "worst_reference_error": max((r.get("reference_error") or 0.0 for r in flat), default=None),
            "ill_conditioned": len(ill), "ill_conditioned_correctly_rounded": sum(bool(r.get("correctly_rounded"))
                                                                                  for r in ill),
            "ill_conditioned_meaning": f"steps whose tolerance exceeds {ILL_CONDITIONED:g}: the gradient nearly "
                                       "cancels (near a stationary point), so no float64 evaluation fixes the step "
                                       "direction; they are judged by the rounding bound, and by whether float64's "
                                       "next iterate is the correctly rounded exact one; worst_rel_error and "
                                       "median_rel_error leave them out",
            "runs": runs}


def _counterexample(ctx, index, row, note="") -> dict:
    s = pr.settings(ctx)
    theta = row.get("theta")
    if theta is None:
        cp = next(c for c in pr.float64_runs(ctx)[index].checkpoints if c.iteration == row["iteration"])
        theta, state = cp.theta, {"factor": cp.step_state.factor, "direction": cp.step_state.direction}
    else:
        state = row["step_state"]
    return {"run": index, "init": ctx.dataset.inits[index], "iteration": row["iteration"], "backend": row["backend"],
            **_exact_floats(theta),
            "step_state": {"factor": float(state["factor"]),
                           "direction": None if state["direction"] is None else [float(x) for x in state["direction"]]},
            "method": s["method"], "step": s["step"], "adaptive": s["adaptive"], "relative": s["relative"],
            "delta_float64": row.get("delta_float64"), "delta_mp": row.get("delta_mp"),
            "rel_error": row["rel_error"], "tolerance": row["tolerance"], "dps": ctx.options["certify_dps"],
            "eta_float64": row.get("eta_float64"), "eta_mp": row.get("eta_mp"), "inner_mp": row.get("inner_mp"),
            "note": note,
            "reproduce": "numeric.gd.float64_step(numeric.StableAttention(phi, gamma), theta, loss, "
                         "numeric.gd.StepState(factor, direction), method=..., step=..., adaptive=..., "
                         "relative=...).delta (numpy) or "
                         "numeric.batched.batched_step (torch tensors: torch; numpy arrays: batched-numpy) against numeric.step_check.mp_step(theta, state, "
                         "MPData(features_exact, gamma_exact, dps), loss, ...).delta"}


def _profile(traj64, mp) -> dict:
    """The two runs' distance at their common checkpoints (relative to ||p_mp||, direction, selections)."""
    cmp_ = numeric.compare_trajectories(traj64, mp, dps=mp.checkpoints[0].dps + 10 if mp.checkpoints else 50)
    rows = cmp_["checkpoints"]
    parted = next((r for r in rows if r["selected_float64"] != r["selected_mp"] or r["rel_p"] > PART_REL), None)
    return {"rows": [{k: r.get(k) for k in ("iteration", "norm", "rel_p", "direction", "selected_float64",
                                             "selected_mp")} for r in rows],
            "first_parting": None if parted is None else {k: parted.get(k) for k in (
                "iteration", "norm", "rel_p", "direction", "selected_float64", "selected_mp")},
            "final_rel": rows[-1]["rel_p"] if rows else None,
            "same_selection_throughout": all(r["selected_float64"] == r["selected_mp"] for r in rows)}


def _limit_agreement(ctx, sel, f_cp, m_cp) -> dict:
    """1 - corr of both final iterates against p_mm of ``sel`` (polished, mpmath), and its certificate."""
    rec = ctx.svm(sel)
    out = {"selection": list(sel), "feasible": rec.feasible}
    if not rec.feasible or rec.polished is None:
        out["certificate"] = None
        return out
    cert = rec.certificate()
    out["certificate"] = cert.status
    ref = list(rec.polished.theta)
    with mpmath.workdps(60):
        out["one_minus_corr_float64"] = float(numeric.mp_one_minus_corr([mpmath.mpf(float(x)) for x in f_cp.theta],
                                                                        ref))
        out["one_minus_corr_mp"] = float(numeric.mp_one_minus_corr(list(m_cp.theta), ref))
    return out


def _separate(ctx, index, traj64, mp, K, sel64) -> dict:
    """The runs converged to different selections: find where exact GD from float64's own iterates changes
    outcome, and check every float64 step there (module docstring)."""
    p_mm = _p_mm(ctx)
    cps = [c for c in traj64.checkpoints if c.iteration < K]
    final64 = next(c for c in traj64.checkpoints if c.iteration == K)
    tried = {}

    def decided(prefix):
        # the restart continues float64's run: judge it with float64's checkpoints before it
        return lambda seen: _judge(prefix + seen, p_mm).status == CONVERGED

    def reaches(idx) -> bool:
        if idx not in tried:
            prefix = cps[:idx]
            if idx == 0 and exact_init:
                run = mp              # the mpmath run itself starts from the same exact init
            else:
                run = pr.restart(ctx, index, cps[idx], K, stop=decided(prefix))
            j = _judge(prefix + run.checkpoints, p_mm)
            tried[idx] = {"from_iteration": cps[idx].iteration, "status": j.status, "selection": list(j.selection),
                          "stop_reason": run.stop_reason}
        t = tried[idx]
        return t["status"] == CONVERGED and tuple(t["selection"]) == tuple(sel64)

    exact_init = all(Fraction(float(x)) == x for x in np.asarray(ctx.dataset.inits_exact[index]).reshape(-1))
    lo, hi = 0, len(cps)             # reaches(lo) is False (checked), "reaches(len(cps))" is the float64 run itself
    out = {"restarts": tried}
    if reaches(0):
        out.update(found="init", reason="mpmath GD from the float64 init (its exact binary value) reaches float64's "
                                        "selection: the runs differ by the rounding of the init or of the data")
        return out
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reaches(mid):
            hi = mid
        else:
            lo = mid
    start = cps[lo]
    end = cps[hi] if hi < len(cps) else final64
    out["segment"] = [start.iteration, end.iteration]
    if end.iteration - start.iteration > SEGMENT_CAP:
        out.update(found="undecided", reason=f"the segment [{start.iteration}, {end.iteration}] is longer than "
                                              f"{SEGMENT_CAP} steps to replay")
        return out
    rep = pr.replay_segment(ctx, start, end.iteration)
    out["replay"] = {"steps": rep["steps"], "worst_ratio": rep["worst_ratio"],
                     "inconsistent": len(rep["inconsistent"]),
                     "reproduces_run": bool(np.array_equal(rep["theta_reached"], end.theta))}
    if rep["inconsistent"]:
        out.update(found="error", row=rep["inconsistent"][0])
        return out
    if not out["replay"]["reproduces_run"] and not rep["inconsistent"]:
        out.update(found="undecided", reason="the replay of the segment does not reproduce the run's iterate")
        return out
    out.update(found="boundary", reason=f"exact GD from float64's iterate at iteration {start.iteration} does not "
                                        f"reach selection {list(sel64)}, from iteration {end.iteration} it does, and "
                                        f"all {rep['steps']} float64 steps between are consistent (worst "
                                        f"{rep['worst_ratio']:.2g} of the tolerance): the selection is decided at "
                                        "rounding scale (a basin boundary)")
    return out


def _compare_runs(ctx, index) -> dict:
    """(b) for one init: the mpmath run in rounds until the comparison is decided."""
    traj64 = pr.float64_runs(ctx)[index]
    p_mm = _p_mm(ctx)
    rec = {}
    budgets = pr.mp_budgets(ctx, index, lambda cps: _judge(cps, p_mm))
    for budget in budgets:
        mp = pr.mp_run(ctx, index, budget)
        K = mp.final.iteration
        cps64 = [c for c in traj64.checkpoints if c.iteration <= K]
        sub64 = numeric.Trajectory(traj64.method, traj64.step, cps64, traj64.stop_reason, 0.0)
        j64, jmp = _judge(cps64, p_mm), _judge(mp.checkpoints, p_mm)
        rec = {"iterations": K, "budgets": list(budgets), "float64": j64.to_dict(), "mp": jmp.to_dict(),
               "profile": _profile(sub64, mp), "mp_stop_reason": mp.stop_reason, "seconds_mp": round(mp.seconds, 3)}
        if mp.stop_reason == "time":
            rec["cut_by_time_budget"] = True
        prof = rec["profile"]
        if j64.status == CONVERGED and jmp.status == CONVERGED and j64.selection == jmp.selection:
            lim = _limit_agreement(ctx, j64.selection, cps64[-1], mp.final)
            rec["limit"] = lim
            if lim.get("certificate") == "exact":
                rec.update(outcome="same limit", agree=True)
            else:
                rec.update(outcome="undecided", agree=None, reason=f"p_mm of selection {list(j64.selection)} is not "
                                                                   f"certified ({lim.get('certificate')})")
            return rec
        whole = K >= pr.settings(ctx)["iterations"]       # the comparison covers the whole float64 run
        # both runs stopped at the same finite point (the gradient vanished to working precision in each)
        both_stopped = mp.stop_reason == "stationary" and traj64.stop_reason == "stationary"
        if (whole or both_stopped) and prof["same_selection_throughout"] and prof["final_rel"] is not None \
                and prof["final_rel"] <= TOGETHER_REL:
            rec.update(outcome="together", agree=True, both_stationary=both_stopped)
            return rec
        if j64.status == CONVERGED and jmp.status == CONVERGED:
            sep = _separate(ctx, index, traj64, mp, K, j64.selection)
            rec["separation"] = sep
            if sep["found"] in ("boundary", "init"):
                rec.update(outcome="basin boundary", agree=True)
            elif sep["found"] == "error":
                rec.update(outcome="float64 error", agree=False)
            else:
                rec.update(outcome="undecided", agree=None, reason=sep["reason"])
            return rec
        if mp.stop_reason == "time":
            break
    final_rel = rec["profile"]["final_rel"]
    status = f"(float64: {rec['float64']['status']}, mpmath: {rec['mp']['status']})"
    if final_rel is not None and final_rel <= TOGETHER_REL and rec["profile"]["same_selection_throughout"]:
        why = (f"the runs agree so far (relative distance {final_rel:.1e}) but the mpmath run stopped at iteration "
               f"{rec['iterations']} of {pr.settings(ctx)['iterations']} {status}")
    else:
        dist = "n/a" if final_rel is None else f"{final_rel:.1e}"
        why = (f"the runs part (final relative distance {dist}) and did not both converge within "
               f"{rec['iterations']} iterations {status}")
    rec.update(outcome="undecided", agree=None, reason=why)
    return rec


def _lyapunov_evidence(ctx, index, comparison) -> dict:
    tg = pr.tangents(ctx, index, comparison["iterations"])
    traj64 = pr.float64_runs(ctx)[index]
    by_k = {c.iteration: c for c in traj64.checkpoints}
    replay_ok = all(np.array_equal(th, by_k[k].theta) for k, th in zip(tg["iterations"], tg["theta"]) if k in by_k)
    measured = {r["iteration"]: r for r in comparison["profile"]["rows"]}
    rows = []
    for k, lg, lam, ld in zip(tg["iterations"], tg["log10_growth"], tg["lyapunov"], tg["log10_drift"]):
        row = {"iteration": k, "log10_growth": lg, "lyapunov_exponent": lam, "log10_predicted_drift": ld}
        m = measured.get(k)
        if m is not None and m["rel_p"] is not None:
            dist = m["rel_p"] * m["norm"]
            row["measured_distance"] = dist
            # the linear estimate holds while the drift is small against the iterate (afterwards it saturates)
            if dist > 0 and np.isfinite(ld) and ld < np.log10(1e-3 * max(m["norm"], 1e-300)):
                row["log10_measured_over_predicted"] = float(np.log10(dist) - ld)
        rows.append(row)
    ratios = [r["log10_measured_over_predicted"] for r in rows if "log10_measured_over_predicted" in r]
    return {"replay_reproduces_run": bool(replay_ok), "max_log10_growth": max(tg["log10_growth"]),
            "final_log10_growth": tg["log10_growth"][-1], "final_lyapunov_exponent": tg["lyapunov"][-1],
            "max_step_log10_growth": tg["max_step_log10_growth"], "max_step_growth_at": tg["max_step_growth_at"],
            "log10_measured_over_predicted_range": [min(ratios), max(ratios)] if ratios else None,
            "meaning": "log10_growth: how much the most amplified perturbation has grown since the init (linearised "
                       "step maps); predicted drift: float64's rounding carried along with that growth; where the "
                       "two runs part, the measured distance follows the predicted drift",
            "checkpoints": rows}


def _naive_evidence(ctx) -> dict:
    runs = []
    for traj, walk in zip(pr.float64_runs(ctx), pr.naive_walks(ctx)):
        runs.append({"init": traj.checkpoints[0].theta, "departure": walk["departure"], "stall": walk["stall"],
                     "walked_ray_beyond_run": walk["walked_ray_beyond_path"], "extend_to": walk["extend_to"]})
    dep = [r["departure"]["norm"] for r in runs if r["departure"] is not None]
    stall = [r["stall"]["norm"] for r in runs if r["stall"] is not None]
    return {"tol": ctx.options["naive_tol"], "departure_norm": min(dep, default=None),
            "stall_norm": min(stall, default=None), "runs": runs,
            "meaning": "beyond departure_norm the naive float64 gradient (softmax, then the Jacobian product, as "
                       "autograd computes it) points elsewhere than the true gradient by more than tol; beyond "
                       "stall_norm it is exactly 0"}


def _naive_text(nw) -> str:
    return "; naive float64 gradient " + (
        f"departs (> {nw['tol']:g}) at ||p|| = {nw['departure_norm']:.4g}" if nw["departure_norm"] is not None
        else "never departs on the walk") + (
        f", stalls (= 0) at ||p|| = {nw['stall_norm']:.4g}" if nw["stall_norm"] is not None
        else ", never stalls on the walk")


def run(ctx):
    o = ctx.options
    s = pr.settings(ctx)
    base = {"float64_runs": f"numeric.run_gd from each of the {len(ctx.dataset.inits)} init(s): {s['method']} GD, "
                            f"nominal step {s['step']:g}"
                            + (f", zigzag step rule (adaptive, relative {s['relative']:g})" if s["adaptive"] else "")
                            + f", {s['iterations']} iterations (the algorithm of Context.ngd_runs)",
            "dps_one_step": o["certify_dps"], "dps_mp_runs": o["cross_check_dps"], "iterations": s["iterations"]}
    low = [k for k in ("certify_dps", "cross_check_dps") if int(o[k]) < MIN_DPS]
    if low:
        return instrument_result(ID, STATEMENT, INCONCLUSIVE, f"{low[0]} = {o[low[0]]} digits cannot judge float64 "
                                 f"(at least {MIN_DPS} needed)", base)
    defect = pr.loss_defect(ctx)
    if defect is not None:
        base["loss_defect"] = defect
        return instrument_result(ID, STATEMENT, NOT_APPLICABLE,
                                 f"the loss is not a real function where GD evaluates it (u = {defect['u']:.6g} in "
                                 f"[min gamma, max gamma], {defect['backend']}: {defect['what']}): GD is undefined",
                                 base)
    n, T, D = ctx.phi.shape
    cap = int(o["cross_check_max_entries"])
    if n * T * D <= cap:
        return _run(ctx, base)
    return _on_subsample(ctx, base, cap)


def subsample_indices(n: int, T: int, D: int, cap: int):
    """The sequences the instrument runs on when the dataset's n T D feature entries exceed ``cap``: m = cap // (T D)
    of them, evenly spaced over 0..n-1 (deterministic); None when one sequence alone exceeds ``cap``."""
    m = cap // (T * D)
    if m < 1:
        return None
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, min(m, n))})


def _on_subsample(ctx, base: dict, cap: int):
    """The instrument on a subsample of the sequences (its mpmath GD costs n T D operations per step at 30 to 70
    digits, so the whole dataset is out of reach above ``cross_check_max_entries``): the same float64 code paths
    and the same checks, on the dataset of those sequences; the evidence says so and the verdict speaks of it."""
    from ..context import Context

    n, T, D = ctx.phi.shape
    idx = subsample_indices(n, T, D, cap)
    size = {"n_T_D": n * T * D, "cross_check_max_entries": cap}
    if idx is None:
        return instrument_result(ID, STATEMENT, INCONCLUSIVE,
                                 f"too large for the mpmath runs: one sequence has T D = {T * D} feature entries, more "
                                 f"than the {cap} the instrument runs on (option cross_check_max_entries)",
                                 {**base, "size_limit": size})
    sub = Context.create(ctx.dataset.subsample(idx), **ctx.options)
    res = _run(sub, base)
    res.evidence = {**res.evidence, "size_limit": size,
                    "subsample": {"sequences": idx, "of": n,
                                  "meaning": f"n T D = {n * T * D} exceeds {cap}: float64 GD and its mpmath reference "
                                             f"run on the dataset of these {len(idx)} sequences (evenly spaced), "
                                             "not on the whole dataset"}}
    res.summary = f"on {len(idx)} of {n} sequences (n T D = {n * T * D} > {cap}, cross_check_max_entries): " + \
        res.summary
    return res


def _run(ctx, base: dict):
    o = ctx.options
    evidence = dict(base)
    rows = pr.one_step_rows(ctx)
    one = _one_step_summary(ctx, rows)
    evidence["one_step"] = one
    evidence["naive_warning"] = _naive_evidence(ctx)
    warn = _naive_text(evidence["naive_warning"])
    # the reference must carry its digits (a mantissa of that length) and agree with itself 20 digits higher
    need_bits = int(mpmath.libmp.dps_to_prec(MIN_DPS)) - 8
    flat = [r for run_rows in rows for r in run_rows if "rel_error" in r and np.isfinite(r["rel_error"])]
    short = min((r["reference_bits"] for r in flat if "reference_bits" in r), default=None)
    if short is not None and short < need_bits:
        return instrument_result(ID, STATEMENT, INCONCLUSIVE,
                                 f"the mpmath reference step carries only {short} bits (at least {need_bits} needed "
                                 f"to judge float64)" + warn, evidence)
    if one["worst_reference_error"] is not None and one["worst_reference_error"] > REFERENCE_MAX_ERROR:
        return instrument_result(ID, STATEMENT, INCONCLUSIVE,
                                 f"the mpmath reference step is not accurate: it moves by "
                                 f"{one['worst_reference_error']:.1e} 20 digits higher" + warn, evidence)
    # (a) a float64 step wrong beyond its tolerance is a counterexample
    for index, run_rows in enumerate(rows):
        bad = [r for r in run_rows if not r["consistent"]]
        if bad:
            r = bad[0]
            evidence["counterexample"] = _counterexample(ctx, index, r)
            return instrument_result(ID, STATEMENT, FAILS,
                                     f"run {index}: the float64 step ({r['backend']}) at iteration {r['iteration']} "
                                     f"(||p|| = {r['norm']:.4g}) differs from mpmath ({o['certify_dps']} digits) by "
                                     f"{r['rel_error']:.2e} relative > tolerance {r['tolerance']:.1e} "
                                     f"({one['inconsistent']} of {one['checked']} checked steps)" + warn, evidence)
    # (b) and (c)
    comps = []
    for index in range(len(ctx.dataset.inits)):
        comp = _compare_runs(ctx, index)
        comp["mp_digits"] = pr.mp_run_digits(ctx, pr.mp_run(ctx, index, comp["iterations"]))
        comp["lyapunov"] = _lyapunov_evidence(ctx, index, comp)
        comps.append(comp)
    evidence["runs"] = comps
    weak = [(i, c) for i, c in enumerate(comps) if c["mp_digits"]["worst_rel_difference"] > MP_RUN_MAX_DIFFERENCE]
    if weak:
        i, c = weak[0]
        return instrument_result(ID, STATEMENT, INCONCLUSIVE,
                                 f"run {i}: the mpmath run does not carry its digits (its steps differ from the "
                                 f"reference by {c['mp_digits']['worst_rel_difference']:.1e} relative)" + warn,
                                 evidence)
    err = [(i, c) for i, c in enumerate(comps) if c["outcome"] == "float64 error"]
    if err:
        i, c = err[0]
        row = c["separation"]["row"]
        evidence["counterexample"] = _counterexample(ctx, i, row, note="found replaying the float64 steps where exact "
                                                                       "GD from float64's iterates changes selection")
        return instrument_result(ID, STATEMENT, FAILS,
                                 f"run {i}: float64 and mpmath reach different selections ({c['float64']['selection']}"
                                 f" vs {c['mp']['selection']}) and the float64 step at iteration {row['iteration']} "
                                 f"differs from mpmath by {row['rel_error']:.2e} > tolerance {row['tolerance']:.1e}"
                                 + warn, evidence)
    cut = [c["iterations"] for c in comps if c.get("cut_by_time_budget")]
    cut_text = f" (the time budget cut an mpmath run at iteration {min(cut)})" if cut else ""
    undecided = [(i, c) for i, c in enumerate(comps) if c["agree"] is None]
    worst = "n/a" if one["worst_rel_error"] is None else f"{one['worst_rel_error']:.1e}"
    first = (f"float64 steps agree with mpmath ({o['certify_dps']} digits) at all {one['checked']} checked steps "
             f"(worst {worst} relative, {one['worst_ratio']:.2g} of the tolerance)")
    if one["ill_conditioned"]:
        first += (f"; {one['ill_conditioned']} of them ill-conditioned (tolerance > {ILL_CONDITIONED:g}, near a "
                  f"stationary point), float64's next iterate correctly rounded at "
                  f"{one['ill_conditioned_correctly_rounded']}")
    if undecided:
        i, c = undecided[0]
        return instrument_result(ID, STATEMENT, INCONCLUSIVE, f"{first}; run {i}: {c['reason']}{cut_text}" + warn,
                                 evidence)
    parts = []
    for i, c in enumerate(comps):
        fp = c["profile"]["first_parting"]
        if c["outcome"] == "same limit":
            lim = c["limit"]
            what = (f"same limit (selection {lim['selection']}, 1 - corr with the certified p_mm "
                    f"{lim['one_minus_corr_float64']:.1e} / {lim['one_minus_corr_mp']:.1e})")
        elif c["outcome"] == "together":
            what = f"the runs never part (final relative distance {c['profile']['final_rel']:.1e})"
            if c.get("both_stationary"):
                what += "; both stop where the gradient vanishes to working precision, at the same point"
        else:
            what = c["separation"]["reason"]
        if fp is not None and c["outcome"] != "together":
            grown = {r["iteration"]: r["log10_growth"] for r in c["lyapunov"]["checkpoints"]}.get(fp["iteration"])
            what += f"; they part at iteration {fp['iteration']}" + (
                f", where perturbations have grown 10^{grown:.1f}" if grown is not None else "")
        parts.append(f"run {i}: {what}")
    return instrument_result(ID, STATEMENT, HOLDS, f"{first}; float64 and mpmath ({o['cross_check_dps']} digits) runs: "
                             + "; ".join(parts) + cut_text + warn, evidence)
