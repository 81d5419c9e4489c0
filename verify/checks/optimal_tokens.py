"""Check `optimal-tokens`: alpha_i in argmax_t gamma_it, with ties reported.

Claim: every sequence has a unique optimal token alpha_i = argmax_t gamma_it, gamma_it = Y_i v^T x_it.
The scores are compared in exact rational arithmetic, so a tie is a tie, never a rounding artefact.
"""
from __future__ import annotations

import numpy as np

from ..result import HOLDS, INCONCLUSIVE, CheckResult

ID = "optimal-tokens"
CLAIM = "Each sequence has a unique optimal token alpha_i = argmax_t gamma_it (exact comparison)."


def optimal_tokens(dataset) -> tuple[list, list]:
    """(alpha, argmax sets): alpha_i = the first index of max_t gamma_it, and every tied index per i."""
    g = dataset.gamma_exact
    top = g.max(axis=1)
    is_top = g == top[:, None]
    alpha = [int(a) for a in np.argmax(is_top, axis=1)]
    argmax_sets = [[int(t) for t in np.nonzero(row)[0]] for row in is_top]
    return alpha, argmax_sets


def run(ctx) -> CheckResult:
    alpha, sets = optimal_tokens(ctx.dataset)
    ties = [{"sequence": i, "tokens": s} for i, s in enumerate(sets) if len(s) > 1]
    unique = not ties
    evidence = {"alpha": alpha, "unique": unique, "ties": ties,
                "gamma": ctx.dataset.gamma, "arithmetic": "exact rationals"}
    if unique:
        return CheckResult(ID, HOLDS, f"alpha = {alpha}, unique in every sequence", CLAIM, evidence)
    where = "; ".join(f"sequence {t['sequence']}: tokens {t['tokens']}" for t in ties)
    return CheckResult(ID, INCONCLUSIVE, f"tied optimal tokens ({where}); alpha uses the first of each", CLAIM,
                       evidence)
