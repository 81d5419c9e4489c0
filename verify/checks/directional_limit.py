"""Claim `directional-limit`: fixed-step GD converges in direction to the max-margin SVM of the optimal tokens.

Statement P1-T2 (prompt model: p_k/||p_k|| -> p_mm/||p_mm||) or P2-T-GD (self/cross attention: W_k/||W_k|| ->
W_mm/||W_mm||_F, the Frobenius W-SVM), the global convergence theorems, whose premises are Assumption A, unique
optimal tokens with a feasible SVM, equal non-optimal scores within each sequence (the global data condition)
and a fixed step eta <= 1/L. The theorem's own algorithm is run (:mod:`verify.theorem_runs`: fixed-step GD with
eta = min(the dataset's step, 1/L), from every init, to ||theta|| >= 1e4 ||p_mm|| where possible).

Per run, with the checkpoints of the last decade of ||theta|| (from the last checkpoint at or below a tenth of
the final norm): observed when the selection there is the optimal tokens, 1 - corr(theta, p_mm) <= tol at the
end and it fell at least tenfold over that decade (or sits below 1e-20 throughout); contradicted when the run
converges elsewhere (a stable selection S != alpha with 1 - corr to p_mm(S) <= tol and falling) or stops at a
certified finite stationary point, with the init, the iterate and the step as the counterexample; undecided
otherwise. Normalised GD from the same inits (the authors' experimental algorithm, which no theorem covers)
is reported beside it, as an observation.
"""
from __future__ import annotations

import numpy as np

from attnsvm import numeric

from ..claims import CONTRADICTED, OBSERVED, STATEMENTS, UNDECIDED, Observation, judge
from ..theorem_runs import step_choice, theorem_runs
from .optimal_tokens import optimal_tokens

ID = "directional-limit"
ROLE = "claim"
STATEMENT = STATEMENTS["P1-T2"]
ROUNDING_FLOOR = 1e-20


def statement_for(ctx):
    return STATEMENT if ctx.dataset.model == "prompt" else STATEMENTS["P2-T-GD"]


def last_decade(checkpoints: list) -> int:
    """Index of the last checkpoint whose norm is at most a tenth of the final norm (0 if none)."""
    final = checkpoints[-1]["norm"]
    idx = [k for k, c in enumerate(checkpoints) if 0 < c["norm"] <= final / 10]
    return idx[-1] if idx else 0


def judge_theorem_run(ctx, run, alpha, tol) -> dict:
    """The evidence and outcome of one fixed-step run against p_mm(alpha) (see module docstring)."""
    cps = run.checkpoints
    final = cps[-1]
    k0 = last_decade(cps)
    window = cps[k0:]
    sel = tuple(final["selected"])
    stable = all(tuple(c["selected"]) == sel for c in window)
    rec = ctx.svm(alpha)
    out = {"init": run.init, "step": run.step, "engine": run.engine, "stop_reason": run.stop_reason,
           "final_norm": final["norm"], "final_log10_iteration": final["log10_iteration"],
           "final_iteration": final["iteration"], "selected": list(sel), "selected_is_optimal": sel == tuple(alpha),
           "selection_stable_last_decade": stable, **run.extra}
    target = rec.theta if rec.feasible else None
    rows = []
    for c in cps:
        row = {k: c[k] for k in ("log10_iteration", "iteration", "norm", "one_minus_mass", "grad_log10")}
        row["selected"] = c["selected"]
        row["one_minus_corr"] = numeric.one_minus_corr(c["theta"], target) if target is not None and c["norm"] > 0 \
            else None
        rows.append(row)
    out["checkpoints"] = rows
    if run.raw is not None and target is not None and sel == tuple(alpha):
        # second-order asymptotics (an observation beyond both papers): theta_k = p_mm ln k + rho_k
        rem = numeric.remainder(run.raw, np.asarray(target, dtype=float))
        out["remainder"] = {"rho_final": rem.final, "rho_norm": rem.rho_norm[-3:], "drift": rem.drift[-3:],
                            "settles": rem.settles, "tol": rem.tol,
                            "log10_k": rem.log10_k[-3:],
                            "meaning": "rho_k = theta_k - p_mm ln k at the last checkpoints; settles when it stops "
                                       "moving (up to the integration accuracy): an observation, not a claim"}
    omc1 = rows[-1]["one_minus_corr"]
    omc0 = rows[k0]["one_minus_corr"]
    out.update(one_minus_corr=omc1, decade={"norm_from": cps[k0]["norm"], "norm_to": final["norm"],
                                            "one_minus_corr_from": omc0, "one_minus_corr_to": omc1})
    grew = k0 > 0 or cps[0]["norm"] == 0
    if target is not None and omc1 is not None and omc0 is not None and grew:
        falling = (omc0 <= ROUNDING_FLOOR and omc1 <= ROUNDING_FLOOR) or omc1 == 0 or omc0 / omc1 >= 10
        if stable and sel == tuple(alpha) and omc1 <= tol and falling:
            out.update(outcome=OBSERVED, reason=f"1 - corr {omc1:.2e} <= {tol:g} at ||theta|| = {final['norm']:.4g}, "
                       f"fell {omc0 / omc1 if omc1 else float('inf'):.3g}x over the last decade, selection alpha")
            return out
    if stable and sel != tuple(alpha) and grew:
        other = ctx.svm(sel)
        if other.feasible:
            o1 = numeric.one_minus_corr(final["theta"], other.theta)
            o0 = numeric.one_minus_corr(cps[k0]["theta"], other.theta) if cps[k0]["norm"] > 0 else None
            if o1 <= tol and o0 is not None and (o1 == 0 or o0 / o1 >= 10):
                out.update(outcome=CONTRADICTED, reason=f"converges to the SVM of {list(sel)} (not alpha = {alpha}): "
                           f"1 - corr {o1:.2e} and falling",
                           counterexample={"init": run.init, "step": run.step, "iterate": final["theta"],
                                           "log10_iteration": final["log10_iteration"], "selection": list(sel),
                                           "one_minus_corr_to_its_svm": o1, "engine": run.engine})
                return out
    if run.stop_reason in ("stationary", "stalled"):
        cert = ctx.certify_stationary(final["theta"])
        out["stationary_certificate"] = cert
        if cert is not None and cert.get("certified"):
            out.update(outcome=CONTRADICTED, reason=f"GD stops at a certified finite stationary point (||theta|| = "
                       f"{final['norm']:.4g})", counterexample={"init": run.init, "step": run.step,
                                                                 "iterate": final["theta"], "certificate": cert})
            return out
    parts = []
    if not grew:
        parts.append("||theta|| did not grow tenfold")
    if not stable:
        parts.append("the selection changed in the last decade of ||theta||")
    elif sel != tuple(alpha):
        parts.append(f"the run selects {list(sel)}, not alpha")
    if omc1 is not None and omc1 > tol:
        parts.append(f"1 - corr {omc1:.2e} > {tol:g}")
    elif omc1 is not None and omc0 is not None and omc1 > 0 and omc0 / omc1 < 10:
        parts.append(f"1 - corr fell only {omc0 / omc1:.3g}x over the last decade")
    out.update(outcome=UNDECIDED, reason="; ".join(parts) or "no trend", )
    return out


def ngd_summary(ctx) -> dict:
    """Normalised GD from the same inits (the authors' algorithm; no theorem covers it), for the side-by-side."""
    runs = ctx.ngd_runs()
    rows = [{"init": init, **j.to_dict(), "history": h} for init, j, h in
            zip(np.asarray(ctx.dataset.inits, dtype=float).reshape(len(ctx.dataset.inits), -1), runs.judgements,
                runs.histories)]
    for r in rows:
        r["history"] = {k: v for k, v in r["history"].items() if k != "theta_final"}
    return {"algorithm": "normalised GD, zigzag step rule (the authors' experimental algorithm; not covered by the "
                         "theorems)", "step": ctx.options["step"], "budgets": list(runs.budgets),
            "cut_by_time_budget": runs.cut_by_time, "runs": rows}


def rec_feasible(ctx, alpha) -> bool:
    return ctx.svm(alpha).feasible


def w_model_evidence(ctx, alpha, runs) -> dict:
    """Self/cross attention: each run's final W against both W-SVMs of alpha (Frobenius 1 - corr, the optimality
    gaps of the iterate scaled to margin 1 for the Frobenius and the nuclear norm, ranks): GD on W should sit at
    the Frobenius solution, told apart from the nuclear one (which GD on (K, Q) approaches)."""
    from ..w_runs import judge_iterate, w_svm

    svms = w_svm(ctx, alpha)
    sv = svms.evidence(ctx.dataset.d)
    out = {"svm_ranks": {"frobenius": sv["frobenius"].get("rank"), "nuclear": sv["nuclear"].get("rank")}, "runs": []}
    for r, tr in zip(runs, theorem_runs(ctx)):
        j = judge_iterate(tr.final["theta"], svms, ctx.dataset.d)
        out["runs"].append({k: j.get(k) for k in ("norm", "one_minus_corr_fro", "one_minus_corr_nuc", "fro_gap", "nuc_gap",
                                                  "rank")})
    return out


def run(ctx):
    statement = statement_for(ctx)
    alpha, _ = optimal_tokens(ctx.dataset)
    choice = step_choice(ctx)
    tol = ctx.options["tol"]
    runs = [judge_theorem_run(ctx, r, alpha, tol) for r in theorem_runs(ctx)]
    evidence = {"algorithm": "fixed-step GD (the theorems' algorithm)", "step": choice["step"],
                "lipschitz_bound": choice["lipschitz_bound"], "tol": tol, "alpha": alpha, "runs": runs,
                "normalized_gd": ngd_summary(ctx), "backend": "float64", "gradient": "stable (DESIGN.md section 3)"}
    if ctx.dataset.is_attention_model and rec_feasible(ctx, alpha):
        evidence["w_model"] = w_model_evidence(ctx, alpha, runs)
    ngd = evidence["normalized_gd"]["runs"]
    side = "; normalised GD: " + ", ".join(f"{r['status']} {r['selection']}" for r in ngd)
    if not runs:
        return judge(ctx, ID, statement, Observation(UNDECIDED, f"no certified fixed step ({choice['reason']})" + side,
                                                     evidence))
    outcomes = [r["outcome"] for r in runs]
    worst = max((r["one_minus_corr"] for r in runs if r["one_minus_corr"] is not None), default=None)
    tail = f"fixed step {choice['step']:.3g}: " + \
        f"{sum(r['selected_is_optimal'] for r in runs)}/{len(runs)} runs select alpha" + \
        (f", worst final 1 - corr {worst:.1e} at ||theta|| >= {min(r['final_norm'] for r in runs):.3g}"
         if worst is not None else "")
    if CONTRADICTED in outcomes:
        bad = [k for k, o in enumerate(outcomes) if o == CONTRADICTED]
        return judge(ctx, ID, statement, Observation(CONTRADICTED, f"run(s) {bad}: {runs[bad[0]]['reason']}; " + tail
                                                     + side, evidence, runs[bad[0]]["counterexample"]))
    if all(o == OBSERVED for o in outcomes):
        return judge(ctx, ID, statement, Observation(OBSERVED, f"all {len(runs)} runs converge in direction to "
                                                     f"the SVM of alpha; " + tail + side, evidence))
    bad = [k for k, o in enumerate(outcomes) if o != OBSERVED]
    return judge(ctx, ID, statement, Observation(UNDECIDED, f"run(s) {bad} undecided ({runs[bad[0]]['reason']}); "
                                                 + tail + side, evidence))
