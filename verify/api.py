"""The Python API: ``check(dataset, **options) -> Result``. The CLI and the reports use exactly this."""
from __future__ import annotations

import time

from .builtins import load
from .checks import CHECK_IDS, REGISTRY
from .context import Context
from .errors import InputError
from .result import Result


def check(dataset, only=None, *, progress=None, **options) -> Result:
    """Run every check (or those named in ``only``) on a Dataset, a built-in name or a file path.

    Options (all optional): max_iterations, time_budget (s per run), tol, stop_tol, dps, method
    ("normalized" | "fixed"), step, fixed_iterations, fixed_time_budget, fixed_step.

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
    results = []
    for m in REGISTRY:
        if only is None or m.ID in only:
            if progress is not None:
                progress(m.ID)
            results.append(m.run(ctx))
    summary = ds.summary()
    summary["loss"] = ds.loss_spec.name if ds.loss_spec.expr is None else ds.loss_spec.expr
    summary["source"] = ds.source
    return Result(dataset=summary, checks=results, options=ctx.options, seconds=time.perf_counter() - start)
