"""Claim `norm-divergence`: ||theta_k|| -> infinity under the theorem's fixed-step GD.

Statement P1-T2 (or P2-T-GD for self/cross attention), first conclusion, with the global theorem's premises.
Divergence cannot be observed in finite time; the evidence the theory offers is the first paper's descent
lemma: under the premises, <grad L(theta), p_mm> < 0 at every finite theta, so no finite stationary point lies
anywhere and GD moves along p_mm for ever. The check runs the theorem's algorithm (:mod:`verify.theorem_runs`:
fixed-step GD with eta = min(the dataset's step, 1/L), from every init, to ||theta|| >= 1e4 ||p_mm|| where
possible) and proves the sign of <grad L(theta_k), p_mm> at every checkpoint of each run's last decade of
||theta|| (ball arithmetic on the exact data, :func:`numeric.descent_certificate`), with p_mm of the selection
the run ends on (alpha's, under the premises).

Observed: every run's norm grew at least tenfold and <grad L, p_mm> < 0 at every checkpoint of its last decade
(no stationary point on the path). Contradicted only with a certified finite stationary point (Krawczyk's
test in interval arithmetic, :mod:`numeric.stationary`) where a run stops. Undecided otherwise. The growth law
||theta_k|| ~ ||p_mm|| ln k + c is reported as a diagnostic (the fitted slope next to ||p_mm||), never judged:
the theory states the limit, not the rate.
"""
from __future__ import annotations

import math

import numpy as np

from attnsvm import numeric

from ..claims import CONTRADICTED, OBSERVED, STATEMENTS, UNDECIDED, Observation, judge
from ..theorem_runs import step_choice, theorem_runs
from .directional_limit import last_decade, statement_for

ID = "norm-divergence"
ROLE = "claim"
STATEMENT = STATEMENTS["P1-T2"]


DESCENT_MAX_ENTRIES = 1_000_000   # n T D: the largest exact feature tensor the ball-arithmetic proof takes


def descent_along(ctx, cps, p_mm_strings) -> list:
    """<grad L(theta_k), p_mm> at each checkpoint, its sign proved by a ball-arithmetic enclosure on the exact
    data (:func:`numeric.descent_certificate`; float64 by the stable, scaled formula first). Above
    DESCENT_MAX_ENTRIES feature entries the exact tensor is not built: the float64 sign is reported, unproved,
    with the size limit."""
    n, T, D = ctx.phi.shape
    if n * T * D > DESCENT_MAX_ENTRIES:
        out = []
        for c in cps:
            cert = numeric.descent_certificate(np.asarray(c["theta"], dtype=float), p_mm_strings, ctx.phi, ctx.gamma,
                                               ctx.loss, certify=False)
            out.append({"norm": c["norm"], "sign": cert.sign, "sign_certified": False,
                        "scaled_value": cert.scaled_value, "enclosure": None, "dps": None,
                        "size_limit": f"n T D = {n * T * D} > {DESCENT_MAX_ENTRIES}: the sign is float64's, not proved "
                                      "in ball arithmetic"})
        return out
    engine = ctx._theorem.get("interval_engine")
    if engine is None:
        engine = numeric.IntervalAttention(ctx.dataset.features_exact_fmpq(), ctx.dataset.gamma_exact, ctx.loss)
        ctx._theorem["interval_engine"] = engine
    out = []
    for c in cps:
        # the engine holds the exact data (all coordinates): descent_certificate takes them from it
        cert = numeric.descent_certificate(np.asarray(c["theta"], dtype=float), p_mm_strings, engine.phi,
                                           engine.gamma, ctx.loss, engine=engine)
        out.append({"norm": c["norm"], "sign": cert.sign, "sign_certified": cert.sign_certified,
                    "scaled_value": cert.scaled_value, "enclosure": cert.enclosure, "dps": cert.dps})
    return out


def growth_law(cps, p_mm_norm) -> dict | None:
    """Least-squares fit ||theta_k|| = a ln k + b over the last decade of log10 k (diagnostic only)."""
    pts = [(c["log10_iteration"], c["norm"]) for c in cps if c["log10_iteration"] is not None]
    if len(pts) < 3:
        return None
    top = pts[-1][0]
    pts = [p for p in pts if p[0] >= top - 1] if top >= 1 else pts
    if len(pts) < 3:
        return None
    x = np.array([p[0] * math.log(10) for p in pts])
    y = np.array([p[1] for p in pts])
    a, b = np.polyfit(x, y, 1)
    return {"slope_per_ln_k": float(a), "intercept": float(b), "p_mm_norm": p_mm_norm,
            "slope_over_p_mm_norm": float(a) / p_mm_norm if p_mm_norm else None,
            "window_log10_k": [pts[0][0], pts[-1][0]], "note": "diagnostic: the theory predicts slope ||p_mm|| for "
                                                             "fixed-step GD asymptotically, not a verdict"}


def run(ctx):
    statement = statement_for(ctx)
    choice = step_choice(ctx)
    runs_ev = []
    outcomes = []
    counterexample = None
    for r in theorem_runs(ctx):
        cps = r.checkpoints
        # the direction the run heads for: p_mm of its final selection (alpha's under the theorem's premises)
        rec = ctx.svm(tuple(cps[-1]["selected"]))
        p_mm = rec.theta if rec.feasible else None
        p_mm_strings = rec.evidence().get("p_mm") if p_mm is not None else None
        if p_mm is not None and p_mm_strings is None:
            # an SVM too large to polish (its size_limit): the float64 solution, taken as the exact binary numbers
            # it is; a negative <grad L, p> for any p still shows grad L != 0
            p_mm_strings = [float(x) for x in p_mm]
        k0 = last_decade(cps)
        tail = cps[k0:]
        grew = cps[-1]["norm"] >= 10 * max(cps[k0]["norm"], 1e-300) or (k0 > 0)
        ev = {"init": r.init, "step": r.step, "engine": r.engine, "stop_reason": r.stop_reason,
              "selected": cps[-1]["selected"], **r.extra,
              "final_norm": cps[-1]["norm"], "final_log10_iteration": cps[-1]["log10_iteration"],
              "checkpoints": [{k: c[k] for k in ("log10_iteration", "iteration", "norm", "grad_log10", "selected",
                                                 "one_minus_mass")} for c in cps]}
        if p_mm is not None:
            signs = descent_along(ctx, tail, p_mm_strings)
            ev["descent_last_decade"] = signs
            ev["descent"] = all(d["sign"] < 0 and d["sign_certified"] for d in signs)
            ev["growth_law"] = growth_law(cps, float(np.linalg.norm(p_mm)))
        outcome = UNDECIDED
        if grew and ev.get("descent"):
            outcome = OBSERVED
            ev["reason"] = (f"||theta|| grew to {cps[-1]['norm']:.4g}; <grad L, p_mm> < 0, proved by ball arithmetic, "
                            f"at all {len(tail)} checkpoints of the last decade (no stationary point on the path)")
        elif r.stop_reason in ("stationary", "stalled") or not grew:
            cert = ctx.certify_stationary(cps[-1]["theta"])
            ev["stationary_certificate"] = cert
            if cert is not None and cert.get("certified"):
                outcome = CONTRADICTED
                ev["reason"] = f"GD stops at a certified finite stationary point, ||theta|| = {cps[-1]['norm']:.6g}"
                counterexample = counterexample or {"init": r.init, "step": r.step, "iterate": cps[-1]["theta"],
                                                    "certificate": cert}
            else:
                ev["reason"] = "the norm did not grow tenfold and no stationary point was certified"
        else:
            ev["reason"] = "<grad L, p_mm> < 0 is not proved at every checkpoint of the last decade" \
                if p_mm is not None else "no p_mm to test the descent direction against"
            limit = next((d["size_limit"] for d in ev.get("descent_last_decade", []) if d.get("size_limit")), None)
            if limit:
                ev["reason"] += f" ({limit})"
        outcomes.append(outcome)
        runs_ev.append(ev)
    x = "p" if ctx.dataset.model == "prompt" else "W"
    evidence = {"algorithm": "fixed-step GD (the theorems' algorithm)", "step": choice["step"],
                "lipschitz_bound": choice["lipschitz_bound"], "runs": runs_ev}
    if not runs_ev:
        return judge(ctx, ID, statement, Observation(UNDECIDED, f"no certified fixed step ({choice['reason']})",
                                                     evidence))
    laws = [e["growth_law"] for e in runs_ev if e.get("growth_law")]
    law = (f"; growth {laws[0]['slope_per_ln_k']:.4g} per unit ln k (||{x}_mm|| = {laws[0]['p_mm_norm']:.4g}, "
           "diagnostic)") if laws else ""
    top = max(e["final_norm"] for e in runs_ev)
    if CONTRADICTED in outcomes:
        return judge(ctx, ID, statement, Observation(CONTRADICTED, runs_ev[outcomes.index(CONTRADICTED)]["reason"],
                                                     evidence, counterexample))
    if all(o == OBSERVED for o in outcomes):
        return judge(ctx, ID, statement, Observation(OBSERVED, f"||{x}_k|| grows without a stationary point on the "
                                                     f"path in all {len(runs_ev)} run(s) (to ||{x}|| = {top:.4g}, "
                                                     f"fixed step {choice['step']:.3g}){law}", evidence))
    bad = [k for k, o in enumerate(outcomes) if o != OBSERVED]
    return judge(ctx, ID, statement, Observation(UNDECIDED, f"run(s) {bad}: {runs_ev[bad[0]]['reason']}{law}",
                                                 evidence))
