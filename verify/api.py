"""The Python API: ``check(dataset, **options) -> Result``. The CLI and the reports use exactly this."""
from __future__ import annotations

import time

from .builtins import load
from .checks import CHECK_IDS, REGISTRY
from .context import Context
from .errors import InputError
from .result import FAILS, NOT_APPLICABLE, Result


def check(dataset, only=None, **options) -> Result:
    """Run every check (or those named in ``only``) on a Dataset, a built-in name or a file path.

    Options (all optional): max_iterations, time_budget (s per run), tol, stop_tol, dps, method
    ("normalized" | "fixed"), step, fixed_iterations, fixed_time_budget, fixed_step; for
    precision-cross-check: cross_check_iterations, cross_check_dps, cross_check_time_budget, cross_check_tol,
    certify_dps, naive_tol.

    >>> r = check("single-input-global", only=["optimal-tokens"])
    >>> r["optimal-tokens"].verdict, r["optimal-tokens"].evidence["alpha"]
    ('holds', [0])
    """
    ds = load(dataset)
    start = time.perf_counter()
    ctx = Context.create(ds, **options)
    if only is not None:
        unknown = [c for c in only if c not in CHECK_IDS]
        if unknown:
            raise InputError(f"unknown check {unknown[0]!r} (checks: {', '.join(CHECK_IDS)})")
    results = [m.run(ctx) for m in REGISTRY if only is None or m.ID in only]
    results = _apply_assumption_a(ctx, results)
    summary = ds.summary()
    summary["loss"] = ds.loss_spec.name if ds.loss_spec.expr is None else ds.loss_spec.expr
    summary["source"] = ds.source
    return Result(dataset=summary, checks=results, options=ctx.options, seconds=time.perf_counter() - start)


def _apply_assumption_a(ctx, results: list) -> list:
    """The GD conclusions rest on Assumption A: where it fails, every check whose module declares
    ``NEEDS_ASSUMPTION_A = True`` becomes `not-applicable` (its evidence kept, the original verdict and
    summary recorded in it). Assumption A is evaluated even when it was not among the checks asked for."""
    from .checks import assumption_a

    needs = {m.ID for m in REGISTRY if getattr(m, "NEEDS_ASSUMPTION_A", False)}
    if not any(r.id in needs for r in results):
        return results
    a = next((r for r in results if r.id == assumption_a.ID), None) or assumption_a.run(ctx)
    if a.verdict != FAILS:
        return results
    out = []
    for r in results:
        if r.id in needs:
            evidence = dict(r.evidence)
            evidence.update(verdict_without_assumption_a=r.verdict, summary_without_assumption_a=r.summary,
                            assumption_a="fails")
            r = type(r)(r.id, NOT_APPLICABLE, f"Assumption A fails ({a.summary}); GD was run, no claim: {r.summary}",
                        r.claim, evidence)
        out.append(r)
    return out
