"""Check `assumption-A`: the loss satisfies Assumption A of the first paper, decided on all of R.

The statement: over any bounded interval, l is strictly decreasing and l' is M0-Lipschitz with
|l'| <= M1. Since every bounded interval counts, this is a property of l on the whole real line:
defined and real everywhere, strictly decreasing (l' <= 0, vanishing only on a set without
interior), l' locally Lipschitz and bounded. Decided rigorously by :func:`symbolic.assumption_a`
(exact where l' is rational, interval arithmetic otherwise, closed forms for the built-in losses):
`holds` with the proof, `fails` with a witness u and the reason, `inconclusive` when undecided.

As evidence about the dataset (not part of the premise): every output u_i = Y_i f(X_i) is a convex
combination of the token scores gamma_it, so it lies in [u_min, u_max] = [min gamma_it, max gamma_it]
(exact rationals); there M0 >= sup |l''| and M1 >= sup |l'| are reported, and l'(u_max) = 0 is
flagged (GD drives each output towards its sequence's top score, so u_max is the end it approaches).
When the premise fails, the checks that rest on it (``NEEDS_ASSUMPTION_A``) report `not-applicable`
(see verify.api).
"""
from __future__ import annotations

from fractions import Fraction

import mpmath

from attnsvm import symbolic

from ..context import loss_expression
from ..claims import STATEMENTS, premise_result
from ..result import FAILS, HOLDS, INCONCLUSIVE

ID = "assumption-A"
ROLE = "premise"
STATEMENT = STATEMENTS["P1-A"]

def output_bound(dataset) -> Fraction:
    """U = max_{i,t} |gamma_it| (exact): every output Y_i f(X_i) lies in [-U, U]."""
    return max(abs(g) for g in dataset.gamma_exact.ravel())


def output_interval(dataset) -> tuple[Fraction, Fraction]:
    """[u_min, u_max] = [min_{i,t} gamma_it, max_{i,t} gamma_it] (exact): every output lies in it."""
    g = list(dataset.gamma_exact.ravel())
    return min(g), max(g)


def _short_up(text: str) -> str:
    """A 4-digit decimal >= the decimal ``text`` (for the one-line summary; the evidence keeps all digits)."""
    x = mpmath.mpf(text)
    if not mpmath.isfinite(x) or x == 0:
        return text
    return mpmath.nstr(x * (1 + mpmath.mpf("1e-3")) if x > 0 else x * (1 - mpmath.mpf("1e-3")), 4)


def run(ctx):
    a, b = output_interval(ctx.dataset)
    expr = loss_expression(ctx.dataset)
    res = symbolic.assumption_a(expr, interval=(a, b))
    evidence = {"loss": str(expr), "holds": res.holds, "method": res.method, "reason": res.reason,
                "failure": res.failure, "witness": res.witness, "witness_float": res.witness_float,
                "proof": res.proof, "interval": [str(a), str(b)], "U": str(output_bound(ctx.dataset)),
                "M0": res.M0 if res.M0 is None or res.M0 != float("inf") else res.M0_text,
                "M1": res.M1 if res.M1 is None or res.M1 != float("inf") else res.M1_text,
                "M0_text": res.M0_text, "M1_text": res.M1_text, "bounds_method": res.bounds_method,
                "sup_l_prime": res.sup_l_prime, "l_prime_at_end": res.l_prime_at_end,
                "vanishes_at_end": res.vanishes_at_end, "details": res.details}
    where = f"[{float(a):.4g}, {float(b):.4g}]"
    bounds = (f"; on the outputs {where}: M0 <= {_short_up(res.M0_text)}, M1 <= {_short_up(res.M1_text)}"
              if res.M1_text is not None else "")
    if res.vanishes_at_end:
        bounds += f", l'(u_max) = 0 (flagged: GD approaches u_max)"
    if res.holds:
        return premise_result(ID, STATEMENT, HOLDS, f"l strictly decreasing on R, l' locally Lipschitz and bounded "
                              f"({res.method})" + bounds, evidence)
    if res.holds is False:
        evidence["witness_u"] = {"u": res.witness, "u_float": res.witness_float, "failure": res.failure}
        return premise_result(ID, STATEMENT, FAILS, f"witness u = {res.witness}: {res.reason} ({res.method})" + bounds,
                              evidence)
    return premise_result(ID, STATEMENT, INCONCLUSIVE, res.reason + bounds, evidence)
