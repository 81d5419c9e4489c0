"""Deciding, after finitely many GD steps, which token selection a run converges to.

Let K be the last checkpoint's iteration and K0 the last checkpoint with iteration <= K/10 (the last
decade of the run). A run is

* ``converged`` to the selection S when the dominant tokens equal S at every checkpoint in [K0, K],
  the p-SVM of S is feasible, 1 - corr(theta_K, p_mm(S)) <= ``tol``, and 1 - corr fell at least
  ``min_drop``-fold from K0 to K (or sits below 1e-20 at both): the direction approaches p_mm(S);
* ``mixed`` when it is not converged and the attention does not concentrate on one token per
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

CONVERGED, MIXED, UNDECIDED = "converged", "mixed", "undecided"
ROUNDING_FLOOR = 1e-20


@dataclass
class RunJudgement:
    """The verdict on one run: status, the final selection, 1 - corr at K0 and K against p_mm of that
    selection (None when its SVM is infeasible), max_i (1 - s_{i,a_i}) at K0 and K, and the reason."""

    status: str
    selection: tuple
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
              min_drop: float = 4.0, mixed_mass: float = 1e-3) -> RunJudgement:
    """Judge one run from its checkpoints: iterations (K,), thetas (K, D), selected (K, n),
    one_minus_mass (K,); ``p_mm(selection)`` returns p_mm (array) or None when infeasible."""
    k0 = decade_start(iterations)
    sel = tuple(int(a) for a in selected[-1])
    stable = bool(np.all(np.asarray(selected[k0:]) == np.asarray(sel)[None, :]))
    m0, m1 = float(one_minus_mass[k0]), float(one_minus_mass[-1])
    target = p_mm(sel)
    omc0 = omc1 = None
    if target is not None and np.linalg.norm(thetas[-1]) > 0 and np.linalg.norm(thetas[k0]) > 0:
        omc0 = one_minus_corr(thetas[k0], target)
        omc1 = one_minus_corr(thetas[-1], target)
    if stable and omc1 is not None and omc1 <= tol:
        if (omc0 <= ROUNDING_FLOOR and omc1 <= ROUNDING_FLOOR) or omc1 == 0 or omc0 / omc1 >= min_drop:
            return RunJudgement(CONVERGED, sel, omc1, omc0, m1, m0,
                                f"selection stable over the last decade, 1 - corr {omc1:.1e} <= {tol:g} and falling")
    if m1 >= mixed_mass and m0 < 2 * m1:
        return RunJudgement(MIXED, sel, omc1, omc0, m1, m0,
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
    return RunJudgement(UNDECIDED, sel, omc1, omc0, m1, m0, "; ".join(parts) or "no trend to judge")


def judge_batched(traj, p_mm: Callable, **kw) -> list:
    """:func:`judge_run` for every batch element of a :class:`numeric.batched.BatchedTrajectory`;
    ``p_mm(b, selection)`` gives p_mm of ``selection`` for batch element b (or None)."""
    out = []
    for b in range(traj.theta.shape[1]):
        out.append(judge_run(traj.iterations, traj.theta[:, b], traj.selected[:, b], traj.one_minus_mass[:, b],
                             lambda sel, b=b: p_mm(b, sel), **kw))
    return out
