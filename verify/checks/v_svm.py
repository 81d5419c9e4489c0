"""Check `v-svm`: the v-SVM of the optimal tokens (joint training, train = "vp").

    v(alpha) = argmin ||v||  s.t.  Y_i v^T x_{i,alpha_i} >= 1  for all i

Solved with cvxpy (Clarabel) from the rows Y_i x_{i,alpha_i}, then polished: the KKT system solved in
mpmath from the exact data. Evidence: v(alpha) (decimal strings), Gamma = 1/||v(alpha)||, the support
set S (sequences whose constraint is tight), the multipliers and the KKT residual. The optimal tokens
alpha are those of the dataset's v.
"""
from __future__ import annotations

from ..result import HOLDS, INCONCLUSIVE, NOT_APPLICABLE, CheckResult
from . import joint_common as jc

ID = "v-svm"
CLAIM = ("The v-SVM of the optimal tokens is feasible and its solution v(alpha) satisfies the KKT conditions "
         "to the working precision; its support set S is reported.")


def run(ctx) -> CheckResult:
    why = jc.applicability(ctx)
    if why:
        return CheckResult(ID, NOT_APPLICABLE, why, CLAIM, {"train": ctx.dataset.train})
    rec = jc.v_svm(ctx)
    ev = rec.evidence()
    if not rec.feasible:
        return CheckResult(ID, NOT_APPLICABLE, f"the v-SVM of the optimal tokens is infeasible (solver: "
                           f"{rec.solution.status}): no v separates the optimal tokens by label", CLAIM, ev)
    pol = rec.polished
    if not pol.ok:
        return CheckResult(ID, INCONCLUSIVE, f"polishing did not reach a KKT point (residual "
                           f"{float(pol.kkt_residual):.1e})", CLAIM, ev)
    return CheckResult(ID, HOLDS, f"||v(alpha)|| = {float(pol.norm):.6g}, Gamma = {float(rec.gamma_mp):.6g}, "
                       f"support S = {rec.support} ({len(rec.support)} of {ctx.dataset.n} sequences), KKT residual "
                       f"{float(pol.kkt_residual):.1e} at {pol.dps} digits", CLAIM, ev)
