"""Check `w-svm`: the Frobenius- and nuclear-norm W-SVMs of the optimal tokens and of every selection GD reached.

    W_F^mm = argmin ||W||_F,  W_*^mm = argmin ||W||_*   s.t.  <W, x_{i,alpha_i} z_i^T - x_it z_i^T> >= 1

(self/cross attention, logits x_it^T W z_i). Frobenius: the p-SVM machinery on the features vec(x_it z_i^T)
(cvxpy/Clarabel, then the KKT system polished in mpmath from the exact data). Nuclear: cvxpy ``normNuc`` on a
d x d variable, certified by weak duality in mpmath: with M = sum_j lambda_j A_j from the solver's
multipliers, lambda^T b / ||M||_2 <= min ||W||_* <= ||W_s||_* for the solver's W scaled to margin 1; the
relative gap between the two bounds is the certificate. Evidence: both solutions, their norms and ranks
(numerical rank, singular values above 1e-6 of the largest), the bounds. The W-SVM of the optimal tokens
may be infeasible (T > d does not guarantee separability of the selection); that is reported, not hidden.
"""
from __future__ import annotations

from ..result import HOLDS, INCONCLUSIVE, NOT_APPLICABLE, CheckResult
from ..w_runs import kq_run, w_run, w_svm
from .optimal_tokens import optimal_tokens

ID = "w-svm"
CLAIM = ("The Frobenius W-SVM (polished KKT point) and the nuclear-norm W-SVM (certified by a duality gap) "
         "of the optimal tokens, and of every selection GD on W or on (K, Q) reached, are solved and certified.")


def run(ctx) -> CheckResult:
    ds = ctx.dataset
    if not ds.is_attention_model:
        return CheckResult(ID, NOT_APPLICABLE, "prompt model: see p-svm", CLAIM, {})
    alpha, _ = optimal_tokens(ds)
    sels = [tuple(alpha)]
    for traj in (w_run(ctx), kq_run(ctx)):
        if traj.final.selected not in sels:
            sels.append(traj.final.selected)
    recs = [w_svm(ctx, s) for s in sels]
    evidence = {"optimal": recs[0].evidence(ds.d), "selections": [r.evidence(ds.d) for r in recs[1:]],
                "reached": {"W": list(w_run(ctx).final.selected), "KQ": list(kq_run(ctx).final.selected)}}
    reached = [r for r in recs if r.selection in (w_run(ctx).final.selected, kq_run(ctx).final.selected)]
    uncertified = [r for r in recs if r.fro.feasible and not (r.fro.polished and r.fro.polished.ok)] + \
        [r for r in recs if r.nuc.feasible and not (r.cert and r.cert.ok)]
    infeasible_reached = [r for r in reached if not r.feasible]
    opt = recs[0]
    head = (f"optimal tokens: ||W_F^mm|| = {opt.fro_opt:.6g}, ||W_*^mm||_* = {opt.nuc_opt:.6g} (ranks "
            f"{evidence['optimal']['frobenius'].get('rank')} / {evidence['optimal']['nuclear'].get('rank')})"
            if opt.feasible else "the W-SVM of the optimal tokens is infeasible")
    if uncertified:
        bad = ", ".join(str(list(r.selection)) for r in uncertified)
        return CheckResult(ID, INCONCLUSIVE, f"{head}; not certified for selection(s) {bad}", CLAIM, evidence)
    if infeasible_reached:
        bad = ", ".join(str(list(r.selection)) for r in infeasible_reached)
        return CheckResult(ID, INCONCLUSIVE, f"{head}; GD reached selection(s) {bad} with no feasible W-SVM", CLAIM,
                           evidence)
    gaps = [float(r.cert.gap) for r in recs if r.cert is not None]
    tail = f"; {len(recs)} selection(s) certified (KKT polished; nuclear duality gap <= {max(gaps):.1e})"
    return CheckResult(ID, HOLDS, head + tail, CLAIM, evidence)
