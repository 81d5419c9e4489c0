"""Claim `joint-regularization-path`: the joint regularisation path of (v, p) tends to (v-SVM, relaxed p-SVM).

    (v_r, p_R) = argmin_{||v|| <= r, ||p|| <= R} L(v, p),   r = R:
    v_r / r -> v(alpha)/||v(alpha)||,   p_R / R -> p_relax(alpha)/||p_relax||

Theorem II of the first paper's slides (P1-T5), under Assumptions A and B (the reading over the support set
S; the reading over every sequence, `assumption-B[n]`, is shown beside it), with the v-SVM and the relaxed p-SVM as
premises. The path is computed as in `regularization-path` (block coordinate descent in the log domain from
several starts per radius; a best-of-starts local search, never called global), so the check never says
`fails`: observed when both directions' 1 - corr is <= tol at the largest radius and fell tenfold over the
last decade of radii, undecided otherwise. The plain p-SVM's 1 - corr is reported beside it.
"""
from __future__ import annotations

from ..claims import OBSERVED, STATEMENTS, UNDECIDED, Observation, judge, out_of_scope
from ..result import HOLDS, NOT_APPLICABLE
from . import joint_common as jc
from .regularization_path import _joint

ID = "joint-regularization-path"
ROLE = "claim"
STATEMENT = STATEMENTS["P1-T5"]


def run(ctx):
    why = jc.applicability(ctx)
    if why:
        return out_of_scope(ID, STATEMENT, why, evidence={"train": ctx.dataset.train})
    ev = {"radii": jc.PATH_RADII, "tol": ctx.options["tol"], "backend": "float64, log domain"}
    ev.update(_joint(ctx))
    if ev["verdict"] == NOT_APPLICABLE:
        return judge(ctx, ID, STATEMENT, Observation(UNDECIDED, ev["reason"], ev))
    extra = ""
    if ev.get("plain_final") is not None and not all(m == 1 for m in ev["margins"]):
        extra = f" (plain p-SVM stays at 1 - corr = {ev['plain_final']:.2e})"
    outcome = OBSERVED if ev["verdict"] == HOLDS else UNDECIDED
    return judge(ctx, ID, STATEMENT, Observation(outcome, f"joint: {ev['reason']}{extra}", ev))
