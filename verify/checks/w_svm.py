"""Premise `w-svm`: the W-SVM of the optimal tokens (self/cross attention) is feasible; its solutions.

    W_F^mm = argmin ||W||_F,  W_*^mm = argmin ||W||_*   s.t.  <W, x_{i,alpha_i} z_i^T - x_it z_i^T> >= 1

(logits x_it^T W z_i). Frobenius: the p-SVM machinery on the features vec(x_it z_i^T) (cvxpy/Clarabel, then
the KKT system polished in mpmath from the exact data). Nuclear: cvxpy ``normNuc`` on a d x d variable,
certified by weak duality in mpmath (lambda^T b / ||sum_j lambda_j A_j||_2 <= min ||W||_* <= ||W_s||_* for the
solver's W scaled to margin 1). Both SVMs share their constraints, so one is feasible exactly when the other
is. `holds`: feasible (evidence: both solutions, norms, ranks, the nuclear certificate); `fails`: infeasible
with the exact Farkas certificate as the witness; `inconclusive`: no proof either way. Prompt datasets: `p-svm`.
"""
from __future__ import annotations

from ..claims import STATEMENTS, out_of_scope, premise_result
from ..result import FAILS, HOLDS, INCONCLUSIVE
from ..w_runs import w_svm
from .optimal_tokens import optimal_tokens

ID = "w-svm"
ROLE = "premise"
STATEMENT = STATEMENTS["P2-D2"]


def run(ctx):
    ds = ctx.dataset
    if not ds.is_attention_model:
        return out_of_scope(ID, STATEMENT, "prompt model: see p-svm", ROLE)
    alpha, _ = optimal_tokens(ds)
    rec = w_svm(ctx, alpha)
    evidence = {"optimal": rec.evidence(ds.d)}
    if rec.fro.feasible:
        ranks = (evidence["optimal"]["frobenius"].get("rank"), evidence["optimal"]["nuclear"].get("rank"))
        nuc = (f", ||W_*^mm||_* = {rec.nuc_opt:.6g} (duality gap {float(rec.cert.gap):.1e})"
               if rec.cert is not None else f"; nuclear SVM not solved ({rec.too_large})" if rec.too_large
               else ", nuclear solution not certified")
        if rec.fro.too_large:
            nuc += f"; {rec.fro.too_large}"
        return premise_result(ID, STATEMENT, HOLDS, f"||W_F^mm|| = {rec.fro_opt:.6g}{nuc}; ranks {ranks[0]} / "
                              f"{ranks[1]}", evidence)
    cert = rec.fro.certificate()
    if cert.status == "exact":
        return premise_result(ID, STATEMENT, HOLDS, f"the solver reported {rec.fro.solution.status}, but an exact KKT "
                              "point exists", evidence)
    if cert.infeasible:
        evidence["witness"] = {"farkas_y": cert.evidence().get("farkas_y"), "selection": alpha,
                               "meaning": "y >= 0 on the constraint rows with A^T y = 0 and b^T y > 0"}
        return premise_result(ID, STATEMENT, FAILS, "the W-SVM of the optimal tokens is infeasible (exact Farkas "
                              "certificate)", evidence)
    return premise_result(ID, STATEMENT, INCONCLUSIVE, f"the solver reports {rec.fro.solution.status} and no exact "
                          f"certificate was found ({cert.reason})", evidence)
