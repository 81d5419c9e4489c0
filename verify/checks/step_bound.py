"""Premise `step-bound`: the fixed step of the theorem's algorithm is at most 1/L for a certified bound L.

The GD theorems take fixed-step GD, p_{k+1} = p_k - eta grad L(p_k), with eta <= 1/L where L bounds the
Lipschitz constant of grad L, i.e. the operator norm of the Hessian, over every p. ``L`` comes from
:func:`numeric.lipschitz_bound` (a bound valid for every theta, from the features, the scores and the loss's
M0 = sup |l''| and M1 = sup |l'| on each sequence's reachable outputs). The algorithm run by the theorem
checks uses eta = min(the dataset's fixed step, 1/L) (or the ``fixed_step`` option), so this premise holds
whenever L is finite; the dataset's own step is judged against the bound in the evidence. `inconclusive`
when no finite bound is available (a loss whose M0 or M1 is unbounded on the reachable outputs).
"""
from __future__ import annotations

import math

from ..claims import STATEMENTS, premise_result
from ..result import HOLDS, INCONCLUSIVE
from ..theorem_runs import step_choice

ID = "step-bound"
ROLE = "premise"
STATEMENT = STATEMENTS["P1-L1"]


def run(ctx):
    choice = step_choice(ctx)
    evidence = dict(choice)
    L = choice["lipschitz_bound"]
    if L is None or not math.isfinite(L):
        return premise_result(ID, STATEMENT, INCONCLUSIVE, f"no finite Lipschitz bound of grad L ({choice['reason']})",
                              evidence)
    own = choice["dataset_step"]
    judged = ""
    if own is not None:
        judged = (f"; the dataset's own step {own:g} is within it" if own <= 1 / L else
                  f"; the dataset's own step {own:g} exceeds 1/L, so the theorem's algorithm runs with {choice['step']:.4g}")
    return premise_result(ID, STATEMENT, HOLDS, f"L <= {L:.4g} for every {choice['parameter']}: the fixed step "
                          f"{choice['step']:.4g} <= 1/L = {1 / L:.4g}{judged}", evidence)
