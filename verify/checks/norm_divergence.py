"""Check `norm-divergence`: ||p_k|| -> infinity under fixed-step GD, at the predicted rate.

For fixed-step GD the logits of the support tokens fall behind like log k, so
||p_k|| = ||p_mm|| log k + O(1): over a decade of iterations the norm grows by ||p_mm|| ln 10.
The check runs fixed-step GD from the first init, records ||p_k|| at log-spaced checkpoints, and
compares the slope d||p_k|| / d ln k over the last decade with ||p_mm|| of the tokens GD selects.
Divergence itself cannot be observed in finite time: `holds` means the norm grows without pause and at
the predicted logarithmic rate (slope within 25%); `fails` means it has stalled (GD sits at a finite
stationary point); anything else is `inconclusive`.
"""
from __future__ import annotations

import math

import numpy as np

from ..result import FAILS, HOLDS, INCONCLUSIVE, CheckResult

NEEDS_ASSUMPTION_A = True  # GD conclusions rest on Assumption A (see verify.api.check)
ID = "norm-divergence"
CLAIM = "||p_k|| -> infinity under fixed-step GD, growing like ||p_mm|| log k."


def last_decade_slope(iterations, norms) -> tuple[float, int, int] | None:
    """(slope of ||p_k|| against ln k over the last decade of k, k_start, k_end)."""
    ks = np.asarray(iterations, dtype=float)
    k_end = ks[-1]
    cand = np.nonzero((ks > 0) & (ks <= k_end / 10))[0]
    if k_end < 10 or len(cand) == 0:
        return None
    j = cand[-1]
    return (norms[-1] - norms[j]) / math.log(k_end / ks[j]), int(ks[j]), int(k_end)


def run(ctx) -> CheckResult:
    x = "p" if ctx.dataset.model == "prompt" else "W"  # the trained parameter (W for self/cross attention)
    traj = ctx.fixed_run()
    cps = traj.checkpoints
    its = [c.iteration for c in cps]
    norms = [c.norm for c in cps]
    final = traj.final
    rec = ctx.svm(final.selected)
    evidence = {"method": "fixed", "step": traj.step, "init": ctx.dataset.inits[0], "iterations": final.iteration,
                "stop_reason": traj.stop_reason, "seconds": round(traj.seconds, 3),
                "selected": list(final.selected),
                "checkpoints": [{"iteration": c.iteration, "norm": c.norm, "loss": c.loss,
                                 "grad_norm": c.grad_norm, "one_minus_mass": c.one_minus_mass} for c in cps]}
    fit = last_decade_slope(its, norms)
    predicted = float(rec.polished.norm) if rec.polished is not None else None
    evidence["predicted_slope"] = predicted
    if fit is None:
        return CheckResult(ID, INCONCLUSIVE, "the run is too short to measure a decade of growth", CLAIM, evidence)
    slope, k0, k1 = fit
    evidence.update({"slope": slope, "slope_window": [k0, k1]})
    second_half = [c.norm for c in cps if c.iteration >= final.iteration / 2]
    increasing = all(b > a for a, b in zip(second_half, second_half[1:]))
    evidence["increasing"] = increasing
    if predicted is not None:
        ratio = slope / predicted
        evidence["slope_ratio"] = ratio
        if increasing and 0.75 <= ratio <= 1.25:
            return CheckResult(ID, HOLDS, f"||{x}_k|| grows by {slope:.4g} per unit ln k over k in [{k0}, {k1}] "
                               f"(predicted ||{x}_mm|| = {predicted:.4g}); ||{x}|| = {final.norm:.4g} at k = {k1}",
                               CLAIM, evidence)
    stalled = slope <= 1e-6 * max(1.0, final.norm)
    if stalled:
        return CheckResult(ID, FAILS, f"||{x}_k|| has stalled at {final.norm:.6g} (slope {slope:.2e} over the last "
                           f"decade): GD approaches a finite stationary point", CLAIM, evidence)
    why = "the selected tokens have no feasible p-SVM" if predicted is None else \
        f"slope {slope:.4g} vs predicted {predicted:.4g}" + ("" if increasing else ", not increasing")
    return CheckResult(ID, INCONCLUSIVE, f"||{x}_k|| grows ({norms[0]:.3g} -> {final.norm:.3g}) but {why}",
                       CLAIM, evidence)
