"""Premise `p-svm`: the p-SVM (ATT-SVM) of the optimal tokens is feasible; its solution is the reference.

    p_mm(alpha) = argmin ||p||  s.t.  p^T (k_{i,alpha_i} - k_it) >= 1  for all i, t != alpha_i

Solved with cvxpy (Clarabel) from the vectorised constraint matrix, then polished: the active set from the
solver, the KKT system solved in mpmath from the exact data. `holds`: a solution exists (evidence: p_mm as
decimal strings, the support tokens, the multipliers, the KKT residual); `fails`: infeasible, with the exact
Farkas certificate as the witness (u >= 0 with A^T u = 0 and b^T u > 0); `inconclusive`: the solver says
infeasible but no exact certificate either way was found. The exact KKT certificate of the solution is the
instrument `svm-certificate`. Self/cross-attention datasets: see `w-svm`.
"""
from __future__ import annotations

from ..claims import STATEMENTS, out_of_scope, premise_result
from ..result import FAILS, HOLDS, INCONCLUSIVE
from .optimal_tokens import optimal_tokens

ID = "p-svm"
ROLE = "premise"
STATEMENT = STATEMENTS["P1-D2"]


def run(ctx):
    if ctx.dataset.model != "prompt":
        return out_of_scope(ID, STATEMENT, "self/cross-attention model: see w-svm", ROLE)
    alpha, _ = optimal_tokens(ctx.dataset)
    rec = ctx.svm(alpha)
    evidence = rec.evidence()
    if rec.feasible and rec.polished is not None:
        pol = rec.polished
        polish = f"KKT residual {float(pol.kkt_residual):.1e} at {pol.dps} digits" if pol.ok else \
            f"polishing did not reach a KKT point (residual {float(pol.kkt_residual):.1e}; see svm-certificate)"
        return premise_result(ID, STATEMENT, HOLDS, f"||p_mm|| = {float(pol.norm):.6g}, {len(rec.support())} support "
                              f"token(s), {polish}", evidence)
    cert = rec.certificate()
    if cert.status == "exact":
        return premise_result(ID, STATEMENT, HOLDS, f"the solver reported {rec.solution.status}, but an exact KKT point "
                              f"exists: p_mm = [{', '.join(cert.theta_strings())}]", evidence)
    if cert.infeasible:
        evidence["witness"] = {"farkas_y": cert.evidence().get("farkas_y"), "selection": alpha,
                               "meaning": "y >= 0 on the constraint rows with A^T y = 0 and b^T y > 0"}
        return premise_result(ID, STATEMENT, FAILS, "the p-SVM of the optimal tokens is infeasible (exact Farkas "
                              "certificate): no direction makes every optimal token dominant", evidence)
    return premise_result(ID, STATEMENT, INCONCLUSIVE, f"the solver reports {rec.solution.status} and no exact "
                          f"certificate was found ({cert.reason})", evidence)
