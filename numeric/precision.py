"""How far float64 can be trusted: float64 against mpmath on the same GD run, certified checkpoints, and
where the naive (autograd-like) gradient breaks down.

Directions are compared by the distance of unit vectors ||u/||u|| - w/||w|||| (1 - corr is half its
square), computed in mpmath so that the comparison itself adds no float64 rounding. "Digits" of agreement
are -log10 of that distance.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np

from .attention import gradient, naive_gradient
from .directions import mp_one_minus_corr, one_minus_corr
from .losses import Loss
from .mp_attention import mp_array, mp_gradient, mp_norm, mp_unit_distance


def _digits(d) -> float:
    """-log10 of a nonnegative distance (inf when it is 0)."""
    return math.inf if d == 0 else -float(mpmath.log10(d))


def compare_trajectories(traj64, traj_mp, reference=None, dps: int = 50) -> dict:
    """Compare a float64 and an mpmath GD trajectory at their common checkpoints (same iteration).

    Per checkpoint: rel_p = ||p64 - p_mp|| / ||p_mp||, direction = ||p64^ - p_mp^|| and its digits, and,
    when ``reference(selected)`` returns a direction (sequence of numbers, e.g. p_mm polished in mpmath),
    1 - corr of each iterate with it and their relative difference. Returns {"checkpoints": [...],
    "common": count, "worst_direction": max distance, "min_digits": ...}.
    """
    mp_by_iter = {c.iteration: c for c in traj_mp.checkpoints}
    rows = []
    with mpmath.workdps(dps):
        for c64 in traj64.checkpoints:
            cmp_ = mp_by_iter.get(c64.iteration)
            if cmp_ is None:
                continue
            p64 = mp_array(c64.theta).reshape(-1)
            pmp = mp_array(cmp_.theta).reshape(-1)
            nmp = mp_norm(pmp)
            row = {"iteration": c64.iteration, "norm": float(nmp),
                   "selected_float64": list(c64.selected), "selected_mp": list(cmp_.selected)}
            if nmp == 0 or mp_norm(p64) == 0:
                row.update(rel_p=float(mp_norm(p64 - pmp)), direction=None, digits=None)
                rows.append(row)
                continue
            dist = mp_unit_distance(p64, pmp)
            row.update(rel_p=float(mp_norm(p64 - pmp) / nmp), direction=float(dist), digits=_digits(dist))
            ref = reference(cmp_.selected) if reference is not None else None
            if ref is not None:
                omc64 = one_minus_corr(np.asarray(c64.theta, dtype=float), np.asarray([float(x) for x in ref]))
                omc_mp = mp_one_minus_corr(list(pmp), [mpmath.mpf(x) for x in ref])
                row.update(one_minus_corr_float64=omc64, one_minus_corr_mp=float(omc_mp),
                           rel_one_minus_corr=float(abs(omc64 - omc_mp) / omc_mp) if omc_mp else None)
            rows.append(row)
    dists = [r["direction"] for r in rows if r["direction"] is not None]
    return {"checkpoints": rows, "common": len(rows), "worst_direction": max(dists, default=None),
            "min_digits": min((r["digits"] for r in rows if r["digits"] is not None), default=None)}


def first_parting(comparison: dict, tol: float) -> dict | None:
    """The first compared checkpoint whose direction distance exceeds ``tol`` (or whose selection differs)."""
    for row in comparison["checkpoints"]:
        if row["selected_float64"] != row["selected_mp"]:
            return row
        if row["direction"] is not None and row["direction"] > tol:
            return row
    return None


def certify_checkpoints(trajectory, phi, gamma, phi_exact, gamma_exact, loss: Loss, dps: int = 50) -> list:
    """For each checkpoint theta_k of a float64 trajectory: the stable float64 gradient direction at theta_k
    against the mpmath one at ``dps`` digits on the exact data (``direction_error`` = unit distance; the
    error of one float64 step's direction), and the same for the naive float64 formula (None when it is
    exactly 0). theta_k itself is taken exactly (a float is a rational)."""
    out = []
    for c in trajectory.checkpoints:
        theta = np.asarray(c.theta, dtype=float)
        row = {"iteration": c.iteration, "norm": c.norm, "selected": list(c.selected)}
        with mpmath.workdps(dps):
            g_mp = mp_gradient(theta, phi_exact, gamma_exact, loss, dps, scaled=True)
            if mp_norm(g_mp) == 0:
                row.update(direction_error=None, naive_direction_error=None, note="gradient is 0")
                out.append(row)
                continue
            g64 = gradient(theta, phi, gamma, loss, scaled=True)
            gn = naive_gradient(theta, phi, gamma, loss)
            row["direction_error"] = float(mp_unit_distance(g64, g_mp)) if np.any(g64) else None
            row["naive_direction_error"] = float(mp_unit_distance(gn, g_mp)) if np.any(gn) else None
        out.append(row)
    return out


def _naive_status(theta, phi, gamma, loss: Loss) -> tuple:
    """(unit distance of the naive and the stable float64 gradient directions, naive gradient is exactly 0)."""
    g = gradient(theta, phi, gamma, loss, scaled=True)
    gn = naive_gradient(theta, phi, gamma, loss)
    if not np.any(gn):
        return None, True
    if not np.any(g):
        return None, False
    with mpmath.workdps(30):
        return float(mp_unit_distance(gn, g)), False


def naive_breakdown(path, phi, gamma, loss: Loss, tol: float = 1e-8, extend_to: float = 1e8,
                    per_decade: int = 10, refine: int = 40) -> dict:
    """Walk along ``path`` (iterates theta of a GD run, in order), then on along the ray of its last point at
    norms 10^(1/per_decade) apart up to ``extend_to``, and measure the naive float64 gradient (softmax, then
    the Jacobian product) against the stable float64 one (DESIGN.md section 3):

    * departure: the first point where ||g_naive^ - g_stable^|| > tol (or g_naive is exactly 0),
    * stall: the first point where g_naive is exactly 0,

    each located by bisection (``refine`` halvings) on the segment from the previous point. Returns the
    norms, their brackets (norms and the points theta_before / theta_at on either side) and the samples walked.
    """
    pts = [np.asarray(p, dtype=float) for p in path if np.linalg.norm(p) > 0]
    samples = []

    def evaluate(theta):
        d, zero = _naive_status(theta, phi, gamma, loss)
        rec = {"norm": float(np.linalg.norm(theta)), "distance": d, "naive_zero": zero}
        return rec

    def departed(rec):
        return rec["naive_zero"] or (rec["distance"] is not None and rec["distance"] > tol)

    def locate(prev, cur, pred):
        if prev is None:
            return {"norm": float(np.linalg.norm(cur)), "bracket": None, "theta_before": None, "theta_at": cur,
                    "at_start": True}
        lo, hi = 0.0, 1.0
        for _ in range(refine):
            mid = 0.5 * (lo + hi)
            if pred(evaluate(prev + mid * (cur - prev))):
                hi = mid
            else:
                lo = mid
        a, b = prev + lo * (cur - prev), prev + hi * (cur - prev)
        return {"norm": float(np.linalg.norm(b)), "bracket": [float(np.linalg.norm(a)), float(np.linalg.norm(b))],
                "theta_before": a, "theta_at": b, "at_start": False}

    departure = stall = None
    prev = None
    walked_ray = False

    def visit(theta):
        nonlocal prev, departure, stall
        rec = evaluate(theta)
        samples.append(rec)
        if departure is None and departed(rec):
            departure = locate(prev, theta, departed)
        if stall is None and rec["naive_zero"]:
            stall = locate(prev, theta, lambda r: r["naive_zero"])
        prev = theta

    for theta in pts:
        visit(theta)
        if stall is not None:
            break
    if stall is None and pts:
        walked_ray = True
        last = pts[-1]
        n0 = float(np.linalg.norm(last))
        j = 1
        while stall is None and n0 * 10 ** (j / per_decade) <= extend_to:
            visit(last * 10 ** (j / per_decade))
            j += 1
    return {"tol": tol, "departure": departure, "stall": stall, "walked_ray_beyond_path": walked_ray,
            "extend_to": extend_to, "samples": samples}
