"""Check `p-svm`: the p-SVM (ATT-SVM) of the optimal tokens, and of every selection GD reached.

    p_mm(alpha) = argmin ||p||  s.t.  p^T (k_{i,alpha_i} - k_it) >= 1  for all i, t != alpha_i

Solved with cvxpy (Clarabel) from the vectorised constraint matrix, then polished: the active set
from the solver, the KKT system solved in mpmath from the exact data. Evidence: p_mm (decimal strings),
the support tokens (active constraints), the multipliers and the KKT residual.
"""
from __future__ import annotations

from ..result import HOLDS, INCONCLUSIVE, NOT_APPLICABLE, CheckResult
from .optimal_tokens import optimal_tokens

ID = "p-svm"
CLAIM = ("The p-SVM of the optimal tokens is feasible and its solution p_mm satisfies the KKT conditions "
         "to the working precision; so does the p-SVM of every selection GD reached.")


def run(ctx) -> CheckResult:
    if ctx.dataset.model != "prompt":  # self/cross attention: see w-svm
        return CheckResult(ID, NOT_APPLICABLE, "self/cross-attention model: see w-svm", CLAIM, {})
    alpha, _ = optimal_tokens(ctx.dataset)
    rec = ctx.svm(alpha)
    evidence = rec.evidence()
    reached = []
    for traj in ctx.gd_runs():
        sel = traj.final.selected
        if list(sel) != alpha and sel not in reached:
            reached.append(sel)
    evidence["selections"] = [ctx.svm(sel).evidence() for sel in reached]
    bad = [r for r in [rec] + [ctx.svm(s) for s in reached] if r.feasible and not (r.polished and r.polished.ok)]
    if not rec.feasible:
        return CheckResult(ID, NOT_APPLICABLE,
                           f"the p-SVM of the optimal tokens is infeasible (solver: {rec.solution.status}); "
                           "global convergence has no target", CLAIM, evidence)
    if bad:
        sels = ", ".join(str(list(r.selection)) for r in bad)
        return CheckResult(ID, INCONCLUSIVE, f"polishing did not reach a KKT point for selection(s) {sels}",
                           CLAIM, evidence)
    pol = rec.polished
    return CheckResult(ID, HOLDS,
                       f"||p_mm|| = {float(pol.norm):.6g}, {len(rec.support())} support token(s), "
                       f"KKT residual {float(pol.kkt_residual):.1e} at {pol.dps} digits", CLAIM, evidence)
