"""Check `svm-certificate`: the p-SVM solutions are certified in exact rational arithmetic.

For the p-SVM of the optimal tokens and of every selection GD reached, :func:`symbolic.certify_svm`
takes the active set of the polished solution, solves the KKT system

    p = sum_j lambda_j A_j,  lambda >= 0,  A p >= 1,  lambda_j (A_j p - 1) = 0

over the exact rationals of the dataset (the strings of the file, or the exact binary value of each
float) and checks every condition exactly. `holds` when every certificate is exact; `inconclusive`
when one is only an mpmath residual or none; `not-applicable` when the optimal tokens' p-SVM is
infeasible (with an exact Farkas certificate when one was found).
"""
from __future__ import annotations

from ..result import HOLDS, INCONCLUSIVE, NOT_APPLICABLE, CheckResult
from .optimal_tokens import optimal_tokens

ID = "svm-certificate"
CLAIM = ("p_mm of the optimal tokens (and of every selection GD reached) is an exact KKT point: "
         "all conditions hold in exact rational arithmetic.")


def run(ctx) -> CheckResult:
    x = "p" if ctx.dataset.model == "prompt" else "W"  # the trained parameter (Frobenius W-SVM for self/cross)
    alpha, _ = optimal_tokens(ctx.dataset)
    rec = ctx.svm(alpha)
    selections = [tuple(alpha)] + [sel for sel in (traj.final.selected for traj in ctx.gd_runs())
                                    if list(sel) != alpha]
    selections = list(dict.fromkeys(selections))
    certs = {sel: ctx.svm(sel).certificate() for sel in selections}
    evidence = {"certificates": [{"selection": list(sel), **c.evidence()} for sel, c in certs.items()]}
    main = certs[tuple(alpha)]
    if not rec.feasible and main.status == "exact":
        return CheckResult(ID, HOLDS, f"the solver reported {rec.solution.status}, but an exact KKT point exists: "
                           f"{x}_mm = [{', '.join(main.theta_strings())}]", CLAIM, evidence)
    if not rec.feasible:
        proof = "proven by an exact Farkas certificate" if main.infeasible else "per the solver (no exact proof)"
        return CheckResult(ID, NOT_APPLICABLE, f"the {x}-SVM of the optimal tokens is infeasible ({proof})", CLAIM,
                           evidence)
    not_exact = [(sel, c) for sel, c in certs.items() if c.status != "exact"]
    if not_exact:
        sel, c = not_exact[0]
        return CheckResult(ID, INCONCLUSIVE, f"selection {list(sel)}: certificate {c.status} ({c.reason})", CLAIM,
                           evidence)
    sizes = max(len(x) for c in certs.values() for x in c.theta_strings())
    return CheckResult(ID, HOLDS, f"{len(certs)} {x}-SVM(s) certified exactly; {x}_mm = "
                       f"[{', '.join(main.theta_strings()) if sizes <= 12 else '... (long fractions)'}]",
                       CLAIM, evidence)
