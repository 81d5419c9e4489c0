"""Deciding, after finitely many GD steps, which token selection a run converges to.

Let K be the last checkpoint's iteration and K0 the last checkpoint with iteration <= K/10 (the last
decade of the run). A run is

* ``converged`` to the selection S when the dominant tokens equal S at every checkpoint in [K0, K],
  ||p|| advanced by at least ``min_speed`` per iteration from K0 to K (the norm diverges: normalised GD
  with step eta moves it by about eta per iteration once the direction settles), the p-SVM of S is feasible, 1 - corr(theta_K, p_mm(S)) <= ``tol``, and 1 - corr fell at least
  ``min_drop``-fold from K0 to K (or sits below 1e-20 at both): the direction approaches p_mm(S);
* ``stalled`` when ||p|| advanced by less than ``min_speed`` per iteration over [K0, K]: GD settles near
  a finite point (a finite stationary point of the loss; normalised steps then go back and forth);
* ``mixed`` when it is neither converged nor stalled and the attention does not concentrate on one token per
  sequence: max_i (1 - s_{i,a_i}) >= ``mixed_mass`` at K and fell less than twofold from K0 to K
  (the limit mixes several tokens of some sequence, as when no selection's SVM fits);
* ``undecided`` otherwise (the run is still moving: more iterations could decide it).

1 - corr is computed stably (:func:`numeric.directions.one_minus_corr`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .directions import one_minus_corr

CONVERGED, STALLED, MIXED, UNDECIDED = "converged", "stalled", "mixed", "undecided"
ROUNDING_FLOOR = 1e-20


@dataclass
class RunJudgement:
    """The verdict on one run: status, the final selection, (||p_K|| - ||p_K0||) / (K - K0), 1 - corr at K0 and K against p_mm of that
    selection (None when its SVM is infeasible), max_i (1 - s_{i,a_i}) at K0 and K, and the reason."""

    status: str
    selection: tuple
    norm_speed: float
    one_minus_corr: float | None
    one_minus_corr_start: float | None
    one_minus_mass: float
    one_minus_mass_start: float
    reason: str


def decade_start(iterations) -> int:
    """The index of the last checkpoint whose iteration is at most a tenth of the final one (0 if none)."""
    its = np.asarray(iterations)
    idx = np.nonzero(its <= its[-1] / 10)[0]
    return int(idx[-1]) if len(idx) else 0


def judge_run(iterations, thetas, selected, one_minus_mass, p_mm: Callable, *, tol: float = 1e-3,
              min_drop: float = 4.0, mixed_mass: float = 1e-3, min_speed: float = 0.05) -> RunJudgement:
    """Judge one run from its checkpoints: iterations (K,), thetas (K, D), selected (K, n),
    one_minus_mass (K,); ``p_mm(selection)`` returns p_mm (array) or None when infeasible."""
    k0 = decade_start(iterations)
    sel = tuple(int(a) for a in selected[-1])
    stable = bool(np.all(np.asarray(selected[k0:]) == np.asarray(sel)[None, :]))
    m0, m1 = float(one_minus_mass[k0]), float(one_minus_mass[-1])
    target = p_mm(sel)
    n0, n1 = float(np.linalg.norm(thetas[k0])), float(np.linalg.norm(thetas[-1]))
    its = np.asarray(iterations)
    speed = (n1 - n0) / (its[-1] - its[k0]) if its[-1] > its[k0] else 0.0
    omc0 = omc1 = None
    if target is not None and np.linalg.norm(thetas[-1]) > 0 and np.linalg.norm(thetas[k0]) > 0:
        omc0 = one_minus_corr(thetas[k0], target)
        omc1 = one_minus_corr(thetas[-1], target)
    if stable and omc1 is not None and omc1 <= tol and speed >= min_speed:
        if (omc0 <= ROUNDING_FLOOR and omc1 <= ROUNDING_FLOOR) or omc1 == 0 or omc0 / omc1 >= min_drop:
            return RunJudgement(CONVERGED, sel, speed, omc1, omc0, m1, m0,
                                f"selection stable over the last decade, 1 - corr {omc1:.1e} <= {tol:g} and falling")
    if speed < min_speed:
        return RunJudgement(STALLED, sel, speed, omc1, omc0, m1, m0,
                            f"||p|| advanced only {speed:.3g} per iteration over the last decade: GD settles at a "
                            "finite point")
    if m1 >= mixed_mass and m0 < 2 * m1:
        return RunJudgement(MIXED, sel, speed, omc1, omc0, m1, m0,
                            f"attention stays spread: max_i (1 - s_i,a_i) = {m1:.2e} did not halve over the last decade")
    parts = []
    if not stable:
        parts.append("the selection changed in the last decade")
    if target is None:
        parts.append("the p-SVM of the final selection is infeasible")
    elif omc1 is not None and omc1 > tol:
        parts.append(f"1 - corr {omc1:.1e} > {tol:g}")
    elif omc1 is not None:
        parts.append(f"1 - corr fell only {omc0 / omc1 if omc1 else float('inf'):.3g}x over the last decade")
    return RunJudgement(UNDECIDED, sel, speed, omc1, omc0, m1, m0, "; ".join(parts) or "no trend to judge")


def judge_batched(traj, p_mm: Callable, **kw) -> list:
    """:func:`judge_run` for every batch element of a :class:`numeric.batched.BatchedTrajectory`;
    ``p_mm(b, selection)`` gives p_mm of ``selection`` for batch element b (or None)."""
    out = []
    for b in range(traj.theta.shape[1]):
        out.append(judge_run(traj.iterations, traj.theta[:, b], traj.selected[:, b], traj.one_minus_mass[:, b],
                             lambda sel, b=b: p_mm(b, sel), **kw))
    return out


def continue_and_judge(theta, phi, gamma, loss, p_mm: Callable, *, step: float = 1.0, iterations: int = 20_000,
                       device: str | None = None, **kw) -> list:
    """Continue normalised GD from the rows of ``theta`` (B, D) for ``iterations`` more steps (batched,
    torch float64) and judge the continuation alone with :func:`judge_run`; ``p_mm(b, selection)`` as in
    :func:`judge_batched`. Used to look again at a run that seems to converge where the theory says it
    cannot: a longer run either confirms it or shows it was still moving."""
    from .batched import batched_gd

    theta = np.asarray(theta, dtype=float)
    if theta.shape[0] == 0:
        return []
    traj = batched_gd(theta, phi, gamma, loss, method="normalized", step=step, iterations=iterations, device=device)
    return judge_batched(traj, p_mm, **kw)
