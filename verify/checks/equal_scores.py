"""Premise `equal-scores`: the data condition of the first paper's global convergence theorem.

Within each sequence every non-optimal token has the same score: gamma_it = gamma_i,tau for all
t, tau != alpha_i (the authors' global demos are built this way: PAPERS.md, P1-T2, condition 3, [U]).
Decided in exact rational arithmetic. Without it only the local theorem applies (GD from a cone around a
locally optimal direction). Sequences with T = 2 satisfy it trivially. When the optimal token is tied
the condition is read with alpha_i the first tied index (the optimal-tokens premise fails anyway).
"""
from __future__ import annotations

from ..claims import STATEMENTS, premise_result
from ..result import FAILS, HOLDS
from .optimal_tokens import optimal_tokens

ID = "equal-scores"
ROLE = "premise"
STATEMENT = STATEMENTS["P1-T2-data"]


def distinct_nonoptimal_scores(gamma_exact, alpha) -> list:
    """Per sequence, the distinct scores of its non-optimal tokens (exact), in increasing order."""
    out = []
    for i, a in enumerate(alpha):
        out.append(sorted({g for t, g in enumerate(gamma_exact[i]) if t != a}))
    return out


def run(ctx):
    alpha, _ = optimal_tokens(ctx.dataset)
    distinct = distinct_nonoptimal_scores(ctx.dataset.gamma_exact, alpha)
    unequal = [i for i, d in enumerate(distinct) if len(d) > 1]
    evidence = {"alpha": alpha, "arithmetic": "exact rationals",
                "nonoptimal_scores": [[str(g) for g in d] for d in distinct]}
    if not unequal:
        return premise_result(ID, STATEMENT, HOLDS, "within every sequence the non-optimal tokens share one score",
                              evidence)
    i = unequal[0]
    evidence["witness"] = {"sequence": i, "scores": [str(g) for g in distinct[i]]}
    return premise_result(ID, STATEMENT, FAILS,
                          f"{len(unequal)} of {ctx.dataset.n} sequences have non-optimal tokens of different scores "
                          f"(sequence {i}: {len(distinct[i])} distinct values, e.g. {float(distinct[i][0]):.4g} and "
                          f"{float(distinct[i][-1]):.4g}); only the local theorem applies", evidence)
