"""Check `assumption-A`: the loss satisfies Assumption A on the interval of outputs the dataset can produce.

Every output u_i = Y_i f(X_i) = sum_t s_it gamma_it is a convex combination of the token scores, so it lies
in [-U, U] with U = max_{i,t} |gamma_it| (exact rationals). On that interval: l strictly decreasing,
l' M0-Lipschitz and |l'| <= M1. Decided rigorously by :func:`symbolic.assumption_a` (exact when l' is a
polynomial, interval arithmetic otherwise): `holds` with proven upper bounds M0, M1; `fails` with a witness
u where l'(u) > 0 (or where l is undefined); `inconclusive` when neither could be proven.
When it fails, the checks that rest on it (``NEEDS_ASSUMPTION_A``) report `not-applicable` (see verify.api).
"""
from __future__ import annotations

from fractions import Fraction

from attnsvm import symbolic

from ..context import loss_expression
from ..claims import STATEMENTS, premise_result
from ..result import FAILS, HOLDS, INCONCLUSIVE

ID = "assumption-A"
ROLE = "premise"
STATEMENT = STATEMENTS["P1-A"]
CLAIM = ("Assumption A on [-U, U], U = max |gamma_it|: l is strictly decreasing, l' is M0-Lipschitz and "
         "|l'| <= M1 (proven symbolically or with interval arithmetic).")


def output_bound(dataset) -> Fraction:
    """U = max_{i,t} |gamma_it| (exact): every output Y_i f(X_i) lies in [-U, U]."""
    return max(abs(g) for g in dataset.gamma_exact.ravel())


def run(ctx):
    U = output_bound(ctx.dataset)
    expr = loss_expression(ctx.dataset)
    res = symbolic.assumption_a(expr, U)
    evidence = {"loss": str(expr), "U": str(U), "U_float": float(U), "holds": res.holds, "M0": res.M0, "M1": res.M1,
                "witness": res.witness, "method": res.method, "details": res.details}
    if res.holds:
        sup = res.details.get("sup_l_prime", res.details.get("sup_l_prime_upper"))
        return premise_result(ID, STATEMENT, HOLDS, f"l strictly decreasing on [-{float(U):.4g}, {float(U):.4g}] (sup l' <= {sup}), "
                           f"M0 <= {res.M0:.4g}, M1 <= {res.M1:.4g} ({res.method})", evidence)
    if res.holds is False:
        why = res.details.get("reason", f"l'({res.witness}) >= 0")
        return premise_result(ID, STATEMENT, FAILS, f"witness u = {res.witness}: {why} ({res.method})", evidence)
    return premise_result(ID, STATEMENT, INCONCLUSIVE, res.details.get("reason", "undecided"), evidence)
