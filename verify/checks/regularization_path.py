"""Claims `regularization-path` (p alone, or W for self/cross attention) and `joint-regularization-path`
(v and p jointly, :mod:`verify.checks.joint_regularization_path`): argmin over balls, divided by the radius,
tends to the SVM directions.

    p alone (every prompt dataset, v fixed):  p_R = argmin_{||p|| <= R} L(p),  p_R / R -> p_mm(alpha)/||p_mm||
    joint (train = "vp"):  (v_r, p_R) = argmin_{||v|| <= r, ||p|| <= R} L(v, p),  r = R,
                           v_r / r -> v(alpha)/||v(alpha)||,  p_R / R -> p_relax(alpha)/||p_relax||

on the radii 0.1 ... 10^4 (two per decade). Every radius is solved by projected gradient descent in the log
domain (numeric.regpath) from several starts: the previous radius's solution, the SVM directions and seeded
random directions; the joint problem by block coordinate descent from the same kinds of starts. The evidence
lists, per radius, the best value, how many starts reached it, the spread, and 1 - corr against the
predicted directions (and, for the joint path, against the plain p-SVM for contrast).

Observation per path: observed when 1 - corr at the largest radius is <= tol and fell at least tenfold over
the last decade of radii (1/R^2 is expected); otherwise undecided. A local search cannot show that the true
minimiser goes elsewhere, so these checks never say `fails`. Statements: P1-T1 (p alone; premises A, unique
optimal tokens, feasible p-SVM), its W analogue for self/cross attention (P2-RP-W: Frobenius W-SVM), and
P1-T5 for the joint path (Theorem II of the slides; premises A, B, the v-SVM and the relaxed p-SVM).
"""
from __future__ import annotations

from attnsvm import numeric
from attnsvm.numeric import joint as nj

from ..claims import OBSERVED, STATEMENTS, UNDECIDED, Observation, judge
from ..result import HOLDS, INCONCLUSIVE, NOT_APPLICABLE
from . import joint_common as jc
from .optimal_tokens import optimal_tokens

ID = "regularization-path"
ROLE = "claim"
STATEMENT = STATEMENTS["P1-T1"]
ROUNDING_FLOOR = 1e-20
ACCURACY_FLOOR = 1e-12   # below this over a whole decade, the path sits on the direction to solver accuracy


def trend(radii, omcs, tol) -> dict:
    """Final 1 - corr, its drop over the last decade of radii, and the verdict of one path."""
    final = omcs[-1]
    earlier = [k for k, r in enumerate(radii) if r <= radii[-1] / 10]
    out = {"final": final, "radius": radii[-1]}
    if not earlier:
        out.update(verdict=INCONCLUSIVE, reason="the grid spans less than a decade")
        return out
    start = omcs[earlier[-1]]
    drop = float("inf") if final <= ROUNDING_FLOOR or final == 0 else start / final
    out.update(decade_from=radii[earlier[-1]], one_minus_corr_from=start, drop=drop)
    flat = max(omcs[earlier[-1]:]) <= ACCURACY_FLOOR
    if final <= tol and (drop >= 10 or flat):
        how = ("at rounding level" if drop == float("inf") else f"fell {drop:.3g}x over the last decade" if drop >= 10
               else f"at most {ACCURACY_FLOOR:g} over the whole last decade (on the direction to solver accuracy)")
        out.update(verdict=HOLDS, reason=f"1 - corr = {final:.2e} <= {tol:g} at radius {radii[-1]:g}, {how}")
    else:
        parts = []
        if final > tol:
            parts.append(f"1 - corr = {final:.2e} > {tol:g} at radius {radii[-1]:g}")
        if drop < 10:
            parts.append(f"fell only {drop:.3g}x over the last decade")
        out.update(verdict=INCONCLUSIVE, reason="; ".join(parts))
    return out


def _p_alone(ctx) -> dict:
    alpha, _ = optimal_tokens(ctx.dataset)
    rec = ctx.svm(alpha)
    if not rec.feasible:
        return {"verdict": NOT_APPLICABLE, "reason": "the SVM of the optimal tokens is infeasible: no direction to "
                                                     "compare the path with"}
    path = jc.p_path(ctx)
    budget = jc._cache(ctx)["p_path_budget"]
    rows = []
    for pt in path:
        st = numeric.attention_state(pt.x, ctx.phi, ctx.gamma)
        rows.append({"radius": pt.radius, "one_minus_corr": numeric.one_minus_corr(pt.x, rec.theta),
                     "value": pt.value, "starts": pt.starts, "reached": pt.reached, "spread": pt.spread,
                     "direction_spread": pt.direction_spread, "residual": pt.residual,
                     "selected": [int(a) for a in st.dominant], "p_unit": jc.unit_list(pt.x)})
    out = {"objective": "log(L(p) - L*), L* = (1/n) sum_i l(max_t gamma_it)", "rows": rows,
           "p_mm_unit": jc.unit_list(rec.theta), "alpha": alpha,
           "search": f"projected gradient with Armijo backtracking (at most {budget['iterations']} iterations) from "
                     f"the previous solution, p_mm and {budget['random_starts']} seeded random directions per radius; "
                     "best of the starts, not a certified global minimum"
                     + (" (fewer starts or iterations than on small data: the size budget of "
                        "verify.checks.joint_common.path_budget)" if budget["scaled"] else "")}
    out.update(trend([r["radius"] for r in rows], [r["one_minus_corr"] for r in rows], ctx.options["tol"]))
    if out["verdict"] == HOLDS and rows[-1]["selected"] != alpha:
        out.update(verdict=INCONCLUSIVE, reason=f"the best solution at the largest radius selects {rows[-1]['selected']}, "
                                                f"not alpha = {alpha}")
    return out


def _joint(ctx) -> dict:
    vrec = jc.v_svm(ctx)
    if not vrec.feasible:
        return {"verdict": NOT_APPLICABLE, "reason": "the v-SVM is infeasible"}
    relaxed = ctx.svm(vrec.alpha, jc.relaxed_margins(ctx))
    plain = ctx.svm(vrec.alpha)
    if not relaxed.feasible:
        return {"verdict": NOT_APPLICABLE, "reason": "the relaxed p-SVM is infeasible"}
    path = jc.joint_path(ctx)
    ds = ctx.dataset
    rows = []
    for pt in path:
        row = {"radius": pt.radius, "v_radius": pt.v_radius, "value": pt.value, "starts": pt.starts,
               "reached": pt.reached, "spread": pt.spread, "direction_spread": pt.direction_spread,
               "one_minus_corr_v": numeric.one_minus_corr(pt.v, vrec.v_mm),
               "one_minus_corr_p_relaxed": numeric.one_minus_corr(pt.x, relaxed.theta),
               "v_unit": jc.unit_list(pt.v), "p_unit": jc.unit_list(pt.x),
               "selected": [int(a) for a in numeric.attention_state(pt.x, ctx.phi, nj.scores(pt.v, ds.X, ds.Y)).dominant]}
        if plain.feasible:
            row["one_minus_corr_p_plain"] = numeric.one_minus_corr(pt.x, plain.theta)
        rows.append(row)
    radii = [r["radius"] for r in rows]
    tol = ctx.options["tol"]
    tv = trend(radii, [r["one_minus_corr_v"] for r in rows], tol)
    tp = trend(radii, [r["one_minus_corr_p_relaxed"] for r in rows], tol)
    out = {"objective": "log L(v, p); ties broken by log(L - L*) in p", "ratio_r_over_R": jc.JOINT_RATIO,
           "rows": rows, "v_mm_unit": jc.unit_list(vrec.v_mm), "p_relaxed_unit": jc.unit_list(relaxed.theta),
           "p_plain_unit": jc.unit_list(plain.theta) if plain.feasible else None,
           "margins": list(jc.relaxed_margins(ctx)), "v_trend": tv, "p_trend": tp,
           "search": "block coordinate descent (projected gradient per block) from the previous solution, "
                     "(v_mm, relaxed p-SVM), (v_mm, plain p-SVM) and 2 seeded random pairs per radius; best of "
                     "the starts, not a certified global minimum"}
    if plain.feasible and rows:
        out["plain_final"] = rows[-1]["one_minus_corr_p_plain"]
    off = ""
    if rows and rows[-1]["selected"] != list(vrec.alpha):
        off = (f"; the best solution at the largest radii selects tokens {rows[-1]['selected']}, not alpha = "
               f"{list(vrec.alpha)} (another optimum of the joint problem, or the search missed alpha's)")
    if tv["verdict"] == HOLDS and tp["verdict"] == HOLDS and not off:
        out.update(verdict=HOLDS, reason=f"v: {tv['reason']}; p (relaxed): {tp['reason']}")
    else:
        out.update(verdict=INCONCLUSIVE, reason=f"v: {tv['reason']}; p (relaxed): {tp['reason']}{off}")
    return out


def run(ctx):
    statement = STATEMENT if ctx.dataset.model == "prompt" else STATEMENTS["P2-RP-W"]
    ev = {"radii": jc.PATH_RADII, "tol": ctx.options["tol"], "backend": "float64, log domain"}
    ev.update(_p_alone(ctx))
    x = "p" if ctx.dataset.model == "prompt" else "W"
    if ev["verdict"] == NOT_APPLICABLE:
        return judge(ctx, ID, statement, Observation(UNDECIDED, ev["reason"], ev))
    outcome = OBSERVED if ev["verdict"] == HOLDS else UNDECIDED
    return judge(ctx, ID, statement, Observation(outcome, f"{x} alone: {ev['reason']}", ev))
