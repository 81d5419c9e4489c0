"""Claim `locally-optimal`: GD converges in direction only to locally optimal selections.

A selection alpha (one token per sequence) is locally optimal when its p-SVM is feasible and every support
token (active constraint at p_mm(alpha)) scores strictly below the selected token, gamma_it < gamma_{i,alpha_i}
(DESIGN.md section 1). Statement P1-LO (unconfirmed wording): if GD converges in direction to the max-margin
direction of a selection, that selection is locally optimal. Premise: Assumption A.

Computation (:mod:`verify.exploration`): normalised GD (zigzag step rule, growing budgets) from the
dataset's inits, from 64 random inits and from the cone inits of `cone-convergence`, every run judged by
the one rule of :mod:`numeric.convergence` (converged / stalled with a certified stationary point / mixed /
undecided); the local optimality of every selection a run reaches is decided exactly (polished SVM, exact
scores). Normalised GD traces the same path as gradient flow up to a change of time; the theorem's fixed-step
GD is run from the dataset's inits by `directional-limit`.

Observation: contradicted when some run converges to a selection that is exactly not locally optimal (the
counterexample: the run's init, final iterate, iteration, step and the support token that scores too high);
observed when at least one run converges, every converged run reaches a locally optimal selection and the
dataset's own runs are decided (a dataset run that normalised GD leaves undecided counts as decided when the
theorem's fixed-step GD from the same init settles at a certified finite stationary point,
:meth:`verify.exploration.Exploration.fixed_step_stall`); undecided otherwise. Runs that end mixed (attention kept on several tokens)
or at a certified finite stationary point are outside the one-token statement and reported as such.
"""
from __future__ import annotations

from attnsvm.numeric import CONVERGED, UNDECIDED

from ..claims import CONTRADICTED, OBSERVED, STATEMENTS, UNDECIDED as OUTCOME_UNDECIDED, Observation, judge
from ..exploration import CONE_PERTURBATION, CONE_PERTURBATIONS, CONE_RADII, RANDOM_LOGIT_SPREAD, RANDOM_SEED, \
    exploration

ID = "locally-optimal"
ROLE = "claim"
STATEMENT = STATEMENTS["P1-LO"]


def run(ctx):
    if ctx.dataset.model != "prompt":  # the selections of W models are judged by directional-limit
        from ..claims import out_of_scope
        return out_of_scope(ID, STATEMENT, "self/cross-attention model: local optimality is checked for the prompt "
                            "model (see directional-limit)")
    ex = exploration(ctx)
    contradictions = ex.contradictions()
    counts = ex.counts()
    local = [ex.status(s) for s in ex.local]
    ds_runs = ex.run_table(ex.dataset_runs, ctx.dataset.inits)
    for k, row in enumerate(ds_runs):
        if row["status"] == UNDECIDED:
            stall = ex.fixed_step_stall(k)    # the theorem's algorithm from the same init settles at a certified point
            if stall is not None:
                row["fixed_step"] = stall
    evidence = {
        "optimal_tokens": list(ex.alpha),
        "candidates": ex.candidate_evidence(),
        "locally_optimal": [{**e, "random_init_fraction": sum(j.status == CONVERGED and j.selection == s
                                                               for j in ex.random_runs.judgements) /
                                                           max(1, len(ex.random_runs.judgements))}
                            for s, e in ((s, ex.status(s)) for s in ex.local)],
        "dataset_runs": ds_runs,
        "random_inits": {"runs": len(ex.random_runs.judgements), "seed": RANDOM_SEED, "logit_spread": RANDOM_LOGIT_SPREAD,
                         "basins": ex.basins(), "counts": counts["random init"]},
        "cone_runs": {"counts": counts.get("cone"), "radii_over_p_mm_norm": list(CONE_RADII),
                      "perturbation": CONE_PERTURBATION, "perturbation_meaning": "norm 0.02 / A, A the largest key "
                      "difference", "perturbations": CONE_PERTURBATIONS},
        "counts": counts,
        "algorithm": {"method": "normalised GD, zigzag step rule (the step halves when consecutive gradients "
                                "disagree, grows 10% otherwise, capped at the nominal step)",
                      "step": ctx.options["step"], "budgets": list(ex.dataset_runs.budgets),
                      "backend": "batched float64 (numeric.batched_gd: numpy engine for small problems, torch otherwise), stable gradients"},
        "convergence_rule": dict(__import__("attnsvm.numeric.convergence", fromlist=["RULE"]).RULE),
        "contradictions": contradictions,
    }
    n_conv = sum(c[CONVERGED] for c in counts.values())
    undecided = [k for k, r in enumerate(ds_runs) if r["status"] == UNDECIDED and "fixed_step" not in r]
    reached = sorted({tuple(j.selection) for _, _, runs, _ in ex.families() for j in runs.judgements
                      if j.status == CONVERGED})
    local_text = ", ".join(f"{list(s)}{' (optimal)' if ex.status(s)['optimal'] else ''}" for s in reached)
    tally = "; ".join(f"{name}s: " + ", ".join(f"{v} {k}" for k, v in c.items() if v) for name, c in counts.items())
    if contradictions:
        c = contradictions[0]
        w = c["witness"] or {}
        obs = Observation(CONTRADICTED, f"{len(contradictions)} run(s) converge to a selection that is not locally "
                          f"optimal: {c['source']} -> {c['selection']} (1 - corr {c['one_minus_corr']:.1e} at iteration "
                          f"{c['iteration']}; support token {w.get('support_token')} scores {w.get('score')} >= "
                          f"{w.get('selected_score')})", evidence, counterexample=contradictions[0])
    elif n_conv == 0:
        obs = Observation(OUTCOME_UNDECIDED, f"no run converged within the budgets ({tally})", evidence)
    elif undecided:
        obs = Observation(OUTCOME_UNDECIDED, f"the dataset's run(s) {undecided} are undecided after "
                          f"{ex.dataset_runs.budgets[-1]} iterations ({ds_runs[undecided[0]]['reason']}); {tally}",
                          evidence)
    else:
        settled = [k for k, r in enumerate(ds_runs) if "fixed_step" in r]
        stall_text = (f"; the dataset's run(s) {settled} undecided by normalised GD settle at a certified finite "
                      f"stationary point under fixed-step GD (outside the one-token statement)") if settled else ""
        obs = Observation(OBSERVED, f"{n_conv} converged run(s), all to locally optimal selections ({local_text}); "
                          f"{len(local)} locally optimal selection(s) found; {tally}{stall_text}", evidence)
    return judge(ctx, ID, STATEMENT, obs)
