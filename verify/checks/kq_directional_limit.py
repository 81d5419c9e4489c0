"""Claim `kq-directional-limit` (an observation): GD on (K, Q) approaches the nuclear-norm W-SVM, told apart from
the Frobenius one. The second paper proves the nuclear-norm limit for the regularisation path of (K, Q); GD on
(K, Q) converging to it is the authors' empirical observation, labelled as such (statement P2-KQ).

Normalised GD on the joint (K, Q), W = K Q^T, from the dataset's first [K, Q] init (default: balanced,
K = Q = I_{d x m}/10), with constant normalised steps of 2 on the joint parameter, (K, Q) <- (K, Q) - 2 grad / ||grad||
(bench/tf_svm_kq_schedule.py: with stable gradients, larger steps converge faster; the initialisation
scale and balance matter little), up to 20,000 iterations. The step, the normalisation (joint, or per factor as
the authors do) and the authors' ridge lambda (||K||^2 + ||Q||^2) are settable (options kq_step / --step,
kq_normalization, kq_ridge; the dataset's gd.step, gd.normalization, gd.ridge; verify.w_runs.kq_settings) and
reported in the evidence. The observed rate is slow: over the
tf-svm-local family the median gap falls roughly like k^-0.8 (6.8e-3 at k = 2,000, 1.8e-3 at 10,000). The nuclear-norm SVM
need not have a unique solution, so the measure is optimality, not an angle: the iterate scaled to margin 1,
W_s = W_k / min_j <A_j, W_k>, has the nuclear gap ||W_s||_* / ||W_*^mm||_* - 1 (>= 0; 0 exactly at an
optimum) and the Frobenius gap ||W_s||_F / ||W_F^mm|| - 1.

Told apart: in the plane (Frobenius gap, nuclear gap) the Frobenius solution sits at (0, g_F) and a nuclear
solution at (g_*, 0); the iterate is closer to the nuclear one when nuc_gap / g_F < fro_gap / g_*.
Observed: the selection is stable over the second half, the nuclear gap is <= 1e-2, it fell over the
second half of the run (>= 1.2x), and the iterate is told apart as closer to the nuclear solution.
Contradicted: stable selection and the iterate sits closer to the Frobenius solution (the counterexample:
the init, the final iterate and both gaps). Otherwise undecided
(the rate is slow, and with diminishing relative steps the gap oscillates from one checkpoint to the next, so
a gap that did not fall over one half-run is not by itself evidence against the claim).
"""
from __future__ import annotations

from ..claims import CONTRADICTED, OBSERVED, STATEMENTS, UNDECIDED, Observation, judge, out_of_scope
from ..w_runs import (KQ_DECAY, KQ_RULE, RANK_RTOL_ITERATE, judge_iterate, kq_run, kq_settings, trajectory_evidence,
                      w_svm)

ID = "kq-directional-limit"
ROLE = "claim"
STATEMENT = STATEMENTS["P2-KQ"]
NUC_GAP_TOL = 1e-2


def run(ctx):
    ds = ctx.dataset
    if not ds.is_attention_model:
        return out_of_scope(ID, STATEMENT, "prompt model: no (K, Q) parameterisation")
    from ..w_runs import NUC_MAX_ENTRIES

    m, D = ds.n * (ds.T - 1), ds.d * ds.d
    if m * D > NUC_MAX_ENTRIES:   # every selection's nuclear-norm W-SVM has this size: nothing to compare a run with
        reason = (f"the nuclear-norm W-SVM is too large for the SDP solver: {m} dense constraints in D = {D} "
                  f"dimensions (m D = {m * D} > {NUC_MAX_ENTRIES}); the (K, Q) run is not made")
        return judge(ctx, ID, STATEMENT, Observation(UNDECIDED, reason, {"size_limit": reason}))
    traj = kq_run(ctx)
    final = traj.final
    svms = w_svm(ctx, final.selected)
    stable = traj.selection_stable()
    settings = kq_settings(ctx)
    ev = {"method": traj.method, "step": settings["step"], "step_source": settings["step_source"],
          "normalization": settings["normalization"], "ridge": settings["ridge"],
          "step_rule": KQ_RULE, "step_decay": KQ_DECAY,
          "iterations": final.iteration, "seconds": round(traj.seconds, 3),
          "stop_reason": traj.stop_reason, "selected": list(final.selected), "selection_stable": stable,
          "rank": ds.rank, "init_from_dataset": ds.kq_inits is not None, "rank_rtol_iterate": RANK_RTOL_ITERATE,
          "backend": "float64", "gradient": "stable (DESIGN.md section 3), chain rule G Q, G^T K",
          "regularisation": (f"ridge {settings['ridge']:g} (||K||^2 + ||Q||^2)" if settings["ridge"] > 0 else "none"),
          "nuc_gap_tol": NUC_GAP_TOL}
    if svms.too_large:
        ev["size_limit"] = svms.too_large
        return judge(ctx, ID, STATEMENT, Observation(UNDECIDED, svms.too_large, ev))
    if not svms.feasible:
        return judge(ctx, ID, STATEMENT, Observation(UNDECIDED, f"a W-SVM of the selected tokens "
                                                     f"{list(final.selected)} is infeasible", ev))
    rows = trajectory_evidence(traj, svms, ds.d)
    ev["trajectory"] = rows
    j = judge_iterate(final.theta, svms, ds.d)
    ev["final"] = j
    sv = svms.evidence(ds.d)
    g_F = sv["frobenius"]["nuclear_norm"] / svms.nuc_opt - 1.0          # nuclear gap of W_F^mm
    g_star = sv["nuclear"]["frobenius_norm"] / svms.fro_opt - 1.0       # Frobenius gap of the nuclear solution
    ev.update(nuclear_gap_of_frobenius_solution=g_F, frobenius_gap_of_nuclear_solution=g_star,
              svm_ranks={"frobenius": sv["frobenius"]["rank"], "nuclear": sv["nuclear"]["rank"]})
    mid = [r for r in rows if r["iteration"] <= final.iteration / 2 and r.get("nuc_gap") is not None]
    drop = None
    if mid and j["nuc_gap"] is not None:
        drop = mid[-1]["nuc_gap"] / j["nuc_gap"] if j["nuc_gap"] > 0 else float("inf")
        ev["second_half"] = {"iteration_from": mid[-1]["iteration"], "nuc_gap_from": mid[-1]["nuc_gap"],
                             "nuc_gap_to": j["nuc_gap"], "drop": drop}
    if j["nuc_gap"] is None:
        return judge(ctx, ID, STATEMENT, Observation(UNDECIDED, "the final iterate does not separate the selected "
                                                     "tokens (margin <= 0)", ev))
    distinct = g_F > 1e-6 and g_star > 1e-6
    closer_nuc = (not distinct) or (j["nuc_gap"] / g_F < j["fro_gap"] / g_star)
    ev["svms_differ"] = distinct
    ev["closer_to_nuclear"] = closer_nuc
    desc = (f"nuclear gap {j['nuc_gap']:.1e} (Frobenius solution's: {g_F:.1e}), Frobenius gap {j['fro_gap']:.1e} "
            f"at ||W|| = {j['norm']:.3g} after {final.iteration} steps; rank {j['rank']} (SVMs: F "
            f"{sv['frobenius']['rank']}, * {sv['nuclear']['rank']})")
    if drop is not None:
        desc += f"; gap fell {drop:.3g}x over the second half"
    if stable and j["nuc_gap"] <= NUC_GAP_TOL and drop is not None and drop >= 1.2 and closer_nuc:
        return judge(ctx, ID, STATEMENT, Observation(OBSERVED, desc, ev))
    if stable and not closer_nuc:
        K0, Q0 = (ds.kq_inits[0] if ds.kq_inits is not None else (None, None))
        counterexample = {"init_K": K0, "init_Q": Q0, "init": "dataset" if ds.kq_inits is not None else "balanced I/10",
                          "final_W": final.theta, "iteration": final.iteration, "step": settings["step"],
                          "normalization": settings["normalization"], "ridge": settings["ridge"],
                          "nuclear_gap": j["nuc_gap"], "frobenius_gap": j["fro_gap"]}
        return judge(ctx, ID, STATEMENT, Observation(CONTRADICTED, desc + "; closer to the Frobenius solution", ev,
                                                     counterexample))
    why = []
    if not stable:
        why.append("the selection changed in the second half")
    if j["nuc_gap"] > NUC_GAP_TOL:
        why.append(f"gap above {NUC_GAP_TOL:g}")
    if drop is None or drop < 1.2:
        why.append("gap not clearly falling over the second half")
    return judge(ctx, ID, STATEMENT, Observation(UNDECIDED, desc + "; " + ", ".join(why), ev))
