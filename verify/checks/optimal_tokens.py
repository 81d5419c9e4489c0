"""Premise `optimal-tokens`: every sequence has a unique optimal token alpha_i = argmax_t gamma_it.

gamma_it = Y_i v^T x_it. The scores are compared in exact rational arithmetic, so a tie is a tie, never a
rounding artefact. The theorems need a unique optimal token per sequence: a tie makes every GD conclusion
that rests on this premise `not-applicable` (outside the theory), never `fails`; the tied indices are the
witness.
"""
from __future__ import annotations

import numpy as np

from ..claims import STATEMENTS, premise_result
from ..result import FAILS, HOLDS

ID = "optimal-tokens"
ROLE = "premise"
STATEMENT = STATEMENTS["P1-D1"]


def optimal_tokens(dataset) -> tuple[list, list]:
    """(alpha, argmax sets): alpha_i = the first index of max_t gamma_it, and every tied index per i."""
    g = dataset.gamma_exact
    top = g.max(axis=1)
    is_top = g == top[:, None]
    alpha = [int(a) for a in np.argmax(is_top, axis=1)]
    argmax_sets = [[int(t) for t in np.nonzero(row)[0]] for row in is_top]
    return alpha, argmax_sets


def run(ctx):
    alpha, sets = optimal_tokens(ctx.dataset)
    ties = [{"sequence": i, "tokens": s} for i, s in enumerate(sets) if len(s) > 1]
    evidence = {"alpha": alpha, "unique": not ties, "ties": ties,
                "gamma": ctx.dataset.gamma, "arithmetic": "exact rationals"}
    if not ties:
        return premise_result(ID, STATEMENT, HOLDS, f"alpha = {alpha}, unique in every sequence", evidence)
    where = "; ".join(f"sequence {t['sequence']}: tokens {t['tokens']}" for t in ties)
    evidence["witness"] = ties
    return premise_result(ID, STATEMENT, FAILS, f"tied optimal tokens ({where})", evidence)
