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

Two premises: `assumption-B[S]` (this module), the reading the joint claims rest on, and `assumption-B[n]`
(:mod:`verify.checks.assumption_b_n`), shown beside it; both come from one decision (cached).
"""
from __future__ import annotations

from ..claims import STATEMENTS, out_of_scope, premise_result
from ..result import NOT_APPLICABLE
from . import joint_common as jc

ID = "assumption-B[S]"
ROLE = "premise"
STATEMENT = STATEMENTS["P1-B[S]"]
READINGS = {"B[S]": ("assumption-B[S]", "P1-B[S]"), "B[n]": ("assumption-B[n]", "P1-B[n]")}


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


def reading_result(ctx, name: str):
    """One reading ("B[n]" or "B[S]") as its own premise result, id ``assumption-B[n]`` / ``assumption-B[S]``;
    the other reading's verdict is shown beside it."""
    rid, sid = READINGS[name]
    statement = STATEMENTS[sid]
    why = jc.applicability(ctx)
    if why:
        return out_of_scope(rid, statement, why, "premise", {"train": ctx.dataset.train})
    why = _not_applicable(ctx)
    if why:
        return premise_result(rid, statement, NOT_APPLICABLE, why, {"train": ctx.dataset.train})
    decision = jc.assumption_b(ctx)
    res = decision.readings[name]
    other = "B[n]" if name == "B[S]" else "B[S]"
    ev = {**_common_evidence(ctx, decision), name: res.evidence(),
          "other_reading": {"reading": other, "verdict": decision.readings[other].verdict,
                            "summary": decision.readings[other].summary}}
    return premise_result(rid, statement, res.verdict, f"{res.summary} ({other} {decision.readings[other].verdict})",
                          ev)


def assumption_b_s(ctx):
    """B[S] (maximum over the v-SVM's support set): the reading the joint claims rest on."""
    return reading_result(ctx, "B[S]")


def assumption_b_n(ctx):
    """B[n] (maximum over every sequence, as the slides state it): shown beside B[S]."""
    return reading_result(ctx, "B[n]")


def run(ctx):
    return assumption_b_s(ctx)
