"""Claim `cone-convergence`: from a cone around a locally optimal p_mm, GD keeps the selection and converges.

Statement P1-T3 (unconfirmed wording): for a locally optimal selection alpha there are mu and R such that GD
started in {||p|| >= R, corr(p, p_mm(alpha)) >= 1 - mu} keeps selecting alpha and converges in direction to
p_mm(alpha). R and mu are existential, so the check looks for them: for every locally optimal selection found
(all of them when T^n <= 4096), cone inits R p_mm/||p_mm|| plus a random perturbation of norm 0.02 / A (A the
largest key difference: it moves a logit gap by at most 0.02 margins) at R = 0.25, 1, 4, 16 ||p_mm||, and where
none of these works at the first radius 4^j ||p_mm|| (up to 4^10) past what a near-support competitor needs
(verify.exploration.cone_reach) (three perturbations each; the angle shrinks like 1/R, so mu and R both tighten),
normalised GD (zigzag step rule, growing budgets; the one convergence rule of :mod:`numeric.convergence`), then
fixed-step GD with the certified step where normalised GD settled no radius. Premise: Assumption A.

Observation: observed when for every locally optimal selection some tested radius has all its runs stay and
converge, and every selection that a dataset or random run converged to (and is locally optimal) is among
those confirmed (the cone test agrees with the dataset's own runs); undecided otherwise (an existential claim
is never contradicted by finitely many radii). When no locally optimal selection exists (decided over all
T^n selections) the statement is vacuous: not-applicable.
"""
from __future__ import annotations

from attnsvm.numeric import CONVERGED

from ..claims import OBSERVED, STATEMENTS, UNDECIDED, Observation, judge, out_of_scope
from ..exploration import CONE_PERTURBATION, CONE_PERTURBATIONS, CONE_RADII, exploration

ID = "cone-convergence"
ROLE = "claim"
STATEMENT = STATEMENTS["P1-T3"]


def run(ctx):
    if ctx.dataset.model != "prompt":
        return out_of_scope(ID, STATEMENT, "self/cross-attention model: see directional-limit")
    ex = exploration(ctx)
    cones = ex.cones()
    reached_local = sorted({tuple(j.selection) for name, _, runs, _ in ex.families() if name != "cone"
                            for j in runs.judgements if j.status == CONVERGED and ex.status(j.selection)["locally_optimal"]})
    confirmed = [s for s, c in cones.items() if c["smallest_R"] is not None]
    disagree = [list(s) for s in reached_local if s not in confirmed]
    evidence = {"cones": [c for c in cones.values()], "radii_over_p_mm_norm": list(CONE_RADII),
                "perturbation": CONE_PERTURBATION, "perturbation_meaning": "norm 0.02 / A, A the largest key difference",
                "perturbations": CONE_PERTURBATIONS,
                "locally_optimal": [list(s) for s in ex.local], "tested": [list(s) for s in ex.cone_selections],
                "reached_by_other_runs": [list(s) for s in reached_local], "disagreements": disagree,
                "all_selections_examined": ex.enumerated and ex.candidates_examined == len(ex.candidates),
                "candidates_examined": ex.candidates_examined, "candidates": len(ex.candidates),
                "algorithm": "normalised GD, zigzag step rule, growing budgets (numeric.decide_runs)",
                "counts": ex.counts().get("cone")}
    if not ex.local:
        if ex.enumerated and ex.candidates_examined == len(ex.candidates):
            return out_of_scope(ID, STATEMENT, f"no locally optimal selection exists among all {ctx.dataset.T}^"
                                f"{ctx.dataset.n} selections: the local theorem has no target", evidence=evidence)
        return judge(ctx, ID, STATEMENT, Observation(UNDECIDED, "no locally optimal selection found among the "
                                                     f"{ex.candidates_examined} candidates examined"
                                                     + (f" (of {len(ex.candidates)}: the size budget)"
                                                        if ex.candidates_examined < len(ex.candidates) else ""),
                                                     evidence))
    text = "; ".join(f"{list(s)}: R >= {c['smallest_R']:.3g}" if c["smallest_R"] is not None else f"{list(s)}: none"
                     for s, c in cones.items())
    missing = [list(s) for s, c in cones.items() if c["smallest_R"] is None]
    untested = len(ex.local) - len(ex.cone_selections)
    if missing or disagree:
        parts = []
        if missing:
            parts.append(f"no tested radius converged for {missing}")
        if disagree:
            parts.append(f"runs converged to {disagree} but its cone runs did not")
        return judge(ctx, ID, STATEMENT, Observation(UNDECIDED, "; ".join(parts) + f" ({text})", evidence))
    more = f" ({untested} more locally optimal selection(s) not tested)" if untested else ""
    return judge(ctx, ID, STATEMENT, Observation(OBSERVED, f"every locally optimal selection's cone converges: {text}"
                                                 + more, evidence))
