"""Premise `relaxed-p-svm`: the p-SVM whose margins depend on the v-SVM's support set S is feasible.

    p_relax(alpha) = argmin ||p||  s.t.  p^T (k_{i,alpha_i} - k_it) >= b_i,  b_i = 1 (i in S), 0 (i not in S)

solved and polished like the p-SVM (numeric.svm with per-sequence margins). The plain p-SVM (all b_i = 1)
is solved next to it for contrast: the joint regularisation path is predicted to follow the relaxed one.
Evidence: both solutions and 1 - corr between them (0 when S is every sequence).
"""
from __future__ import annotations

from attnsvm import numeric

from ..claims import STATEMENTS, out_of_scope, premise_result
from ..result import FAILS, HOLDS, NOT_APPLICABLE
from . import joint_common as jc

ID = "relaxed-p-svm"
ROLE = "premise"
STATEMENT = STATEMENTS["P1-relaxed"]


def run(ctx):
    why = jc.applicability(ctx)
    if why:
        return out_of_scope(ID, STATEMENT, why, ROLE, {"train": ctx.dataset.train})
    vrec = jc.v_svm(ctx)
    if not vrec.feasible or vrec.polished is None:
        return premise_result(ID, STATEMENT, NOT_APPLICABLE, "the v-SVM is infeasible: no support set S defines the "
                              "margins", {"v_svm_feasible": vrec.feasible})
    margins = jc.relaxed_margins(ctx)
    relaxed = ctx.svm(vrec.alpha, margins)
    plain = ctx.svm(vrec.alpha)
    ev = {"support": vrec.support, "margins": list(margins), "relaxed": relaxed.evidence(), "plain": plain.evidence()}
    if relaxed.feasible and plain.feasible:
        ev["one_minus_corr_relaxed_plain"] = numeric.one_minus_corr(relaxed.theta, plain.theta)
    if not relaxed.feasible:
        return premise_result(ID, STATEMENT, FAILS, f"the relaxed p-SVM is infeasible (solver: "
                              f"{relaxed.solution.status})", ev)
    pol = relaxed.polished
    same = all(m == 1 for m in margins)
    contrast = ("S is every sequence, so the relaxed and plain p-SVMs coincide" if same else
                f"plain p-SVM differs: 1 - corr(relaxed, plain) = {ev.get('one_minus_corr_relaxed_plain', float('nan')):.3g}")
    return premise_result(ID, STATEMENT, HOLDS, f"margins {list(margins)}, ||p_relax|| = {float(pol.norm):.6g}, KKT "
                          f"residual {float(pol.kkt_residual):.1e}; {contrast}", ev)
