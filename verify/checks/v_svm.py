"""Premise `v-svm`: the v-SVM of the optimal tokens is feasible (joint training, train = "vp").

    v(alpha) = argmin ||v||  s.t.  Y_i v^T x_{i,alpha_i} >= 1  for all i

Solved with cvxpy (Clarabel) from the rows Y_i x_{i,alpha_i}, then polished: the KKT system solved in
mpmath from the exact data. Evidence: v(alpha) (decimal strings), Gamma = 1/||v(alpha)||, the support set S
(sequences whose constraint is tight), the multipliers and the KKT residual. The optimal tokens alpha are
those of the dataset's v. `fails` when infeasible (no v separates the optimal tokens by label); outside
joint training the premise is out of scope (`not-applicable`).
"""
from __future__ import annotations

from ..claims import STATEMENTS, out_of_scope, premise_result
from ..result import FAILS, HOLDS
from . import joint_common as jc

ID = "v-svm"
ROLE = "premise"
STATEMENT = STATEMENTS["P1-vSVM"]


def run(ctx):
    why = jc.applicability(ctx)
    if why:
        return out_of_scope(ID, STATEMENT, why, ROLE, {"train": ctx.dataset.train})
    rec = jc.v_svm(ctx)
    ev = rec.evidence()
    if not rec.feasible:
        return premise_result(ID, STATEMENT, FAILS, f"the v-SVM of the optimal tokens is infeasible (solver: "
                              f"{rec.solution.status}): no v separates the optimal tokens by label", ev)
    pol = rec.polished
    polish = (f"KKT residual {float(pol.kkt_residual):.1e} at {pol.dps} digits" if pol.ok else
              f"polishing did not reach a KKT point (residual {float(pol.kkt_residual):.1e})")
    return premise_result(ID, STATEMENT, HOLDS, f"||v(alpha)|| = {float(pol.norm):.6g}, Gamma = "
                          f"{float(rec.gamma_mp):.6g}, support S = {rec.support} ({len(rec.support)} of "
                          f"{ctx.dataset.n} sequences), {polish}", ev)
