"""Instrument `svm-certificate`: every reference SVM solution is certified in exact rational arithmetic.

For every SVM that served as a reference direction in this run of the checks (the optimal tokens' p-SVM
or Frobenius W-SVM, the SVM of every selection a GD run reached, the relaxed p-SVM), :func:`symbolic.certify_svm`
takes the active set of the polished solution, solves the KKT system

    theta = sum_j lambda_j A_j,  lambda >= 0,  A theta >= b,  lambda_j (A_j theta - b_j) = 0

over the exact rationals of the dataset (the strings of the file, or the exact binary value of each float)
and checks every condition exactly; an infeasible SVM gets an exact Farkas certificate. `holds` when every
certificate is exact; `inconclusive` when one is only an mpmath residual or none. It runs after the claims,
so that it sees every SVM they used.
"""
from __future__ import annotations

from ..claims import STATEMENTS, instrument_result
from ..result import HOLDS, INCONCLUSIVE, NOT_APPLICABLE
from .optimal_tokens import optimal_tokens

ID = "svm-certificate"
ROLE = "instrument"
STATEMENT = STATEMENTS["certificate"]


def run(ctx):
    alpha, _ = optimal_tokens(ctx.dataset)
    ctx.svm(alpha)          # the optimal tokens' SVM is always among those certified
    records = ctx.svms()
    certs = [(rec, rec.certificate()) for rec in records]
    evidence = {"certificates": [{"selection": list(rec.selection),
                                  "margins": None if rec.margins is None else list(rec.margins), **c.evidence()}
                                 for rec, c in certs]}
    if not certs:
        return instrument_result(ID, STATEMENT, NOT_APPLICABLE, "no SVM was used", evidence)
    x = "p" if ctx.dataset.model == "prompt" else "W"
    not_exact = [(rec, c) for rec, c in certs if c.status != "exact" and not c.infeasible]
    if not_exact:
        rec, c = not_exact[0]
        return instrument_result(ID, STATEMENT, INCONCLUSIVE, f"{len(not_exact)} of {len(certs)} SVM(s) not certified "
                                 f"exactly; selection {list(rec.selection)}: {c.status} ({c.reason})", evidence)
    n_inf = sum(c.infeasible for _, c in certs)
    main = next((c for rec, c in certs if list(rec.selection) == alpha and rec.margins is None), None)
    shown = ""
    if main is not None and main.status == "exact":
        strings = main.theta_strings()
        shown = f"; {x}_mm = [{', '.join(strings)}]" if max(len(s) for s in strings) <= 12 else \
            f"; {x}_mm exact (long fractions)"
    inf = f", {n_inf} proven infeasible (Farkas)" if n_inf else ""
    return instrument_result(ID, STATEMENT, HOLDS, f"{len(certs) - n_inf} {x}-SVM(s) certified exactly{inf}{shown}",
                             evidence)
