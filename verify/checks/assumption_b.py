"""Check `assumption-B`: the label margin of the mixed features is at most Gamma - nu max_{i in I} (1 - s_{i,alpha_i}).

    ratio_I(p) = (Gamma - margin(p)) / max_{i in I} (1 - s_{i,alpha_i}(p)),   Gamma = 1/||v(alpha)||,
    margin(p) = max_{||v|| <= 1} min_i Y_i v^T X_i^T s_i(p),   B[I]: inf_p ratio_I(p) > 0

decided under two readings, as two separate results (numeric.assumption_b.decide_assumption_b):

* B[n]: I = every sequence, as the seed slides state it;
* B[S]: I = the support set S of the v-SVM. Theorem II's relaxed p-SVM differs from the plain one only when
  S != [n], and then the sequences outside S may keep attention off alpha while the margin approaches
  Gamma, which can make B[n] false; B[S] is the reading under which the relaxed case is not vacuous.

Each reading is `holds` with a certified rational nu (convexity certificate: weak duality and convexity over
the token choices, exact; for B[n] with S != [n], B[S] plus an exact domination of the non-support tails),
`fails` with a certificate (a ray p = a u + p0 whose exact logit-gap asymptotics send the ratio to 0,
cross-checked in mpmath at growing a; or a point where the margin provably exceeds Gamma), or
`inconclusive` with the sampled nu_hat, the search done and its budget (counts).

The check's verdict is that of B[S]; B[n]'s verdict is in the summary and the evidence. The two readings as
separate results (for claims that name the reading they rest on): :func:`assumption_b_s` and
:func:`assumption_b_n`.
"""
from __future__ import annotations

from ..result import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, CheckResult
from . import joint_common as jc

ID = "assumption-B"
CLAIM = ("There is nu > 0 such that for every p the v-SVM margin on the mixed features X_i^T s_i(p) is at most "
         "Gamma - nu max_{i in I} (1 - s_{i,alpha_i}(p)); decided for I = S (the v-SVM's support, the verdict) and "
         "for I = [n] (as the slides state it, reported beside it).")
READING_CLAIMS = {
    "B[n]": "There is nu > 0 such that for every p the v-SVM margin on the mixed features X_i^T s_i(p) is at most "
            "Gamma - nu max_{i in [n]} (1 - s_{i,alpha_i}(p)) (Assumption B as the slides state it).",
    "B[S]": "There is nu > 0 such that for every p the v-SVM margin on the mixed features X_i^T s_i(p) is at most "
            "Gamma - nu max_{i in S} (1 - s_{i,alpha_i}(p)), S the support set of the v-SVM.",
}


def _not_applicable(ctx) -> str | None:
    why = jc.applicability(ctx)
    if why:
        return why
    vrec = jc.v_svm(ctx)
    if not vrec.feasible or vrec.polished is None or not vrec.polished.ok:
        return "no certified v-SVM: Gamma is undefined"
    return None


def _common_evidence(ctx, decision) -> dict:
    vs = decision.vsvm
    ev = {"budget": decision.budget.to_dict()}
    if vs is not None:
        ev.update({"Gamma_squared": vs.gamma_sq, "Gamma": float(vs.gamma_sq) ** 0.5, "support": list(vs.support),
                   "v_mm_exact": [str(x) for x in vs.v], "alpha": list(vs.alpha)})
    est = decision.estimate
    if est is not None:
        ev["sampling"] = {k: est[k] for k in ("nu_hat", "p_worst", "nu_hat_S", "p_worst_S", "samples",
                                              "skipped_underflow", "directions", "norms", "local_searches",
                                              "evaluations", "mp_evaluations")}
    return ev


def reading_result(ctx, name: str) -> CheckResult:
    """One reading ("B[n]" or "B[S]") as its own result, id ``assumption-B[n]`` / ``assumption-B[S]``."""
    rid = f"{ID}[{name[2:-1]}]"
    why = _not_applicable(ctx)
    if why:
        return CheckResult(rid, NOT_APPLICABLE, why, READING_CLAIMS[name], {"train": ctx.dataset.train})
    decision = jc.assumption_b(ctx)
    res = decision.readings[name]
    ev = {**_common_evidence(ctx, decision), name: res.evidence()}
    return CheckResult(rid, res.verdict, f"{name} {res.verdict}: {res.summary}", READING_CLAIMS[name], ev)


def assumption_b_s(ctx) -> CheckResult:
    """B[S] (maximum over the v-SVM's support set): the reading the joint claims rest on."""
    return reading_result(ctx, "B[S]")


def assumption_b_n(ctx) -> CheckResult:
    """B[n] (maximum over every sequence, as the slides state it): shown beside B[S]."""
    return reading_result(ctx, "B[n]")


def run(ctx) -> CheckResult:
    why = _not_applicable(ctx)
    if why:
        return CheckResult(ID, NOT_APPLICABLE, why, CLAIM, {"train": ctx.dataset.train})
    decision = jc.assumption_b(ctx)
    b_s, b_n = decision.b_s, decision.b_n
    ev = _common_evidence(ctx, decision)
    ev.update({"verdict_reading": "B[S]", "B[S]": b_s.evidence(), "B[n]": b_n.evidence()})
    verdict = b_s.verdict if b_s.verdict in (HOLDS, FAILS) else INCONCLUSIVE
    summary = f"B[S] {b_s.verdict}: {b_s.summary} | B[n] {b_n.verdict}: {b_n.summary}"
    return CheckResult(ID, verdict, summary, CLAIM, ev)
