"""The Python API: ``check(dataset, **options) -> Result``. The CLI and the reports use exactly this."""
from __future__ import annotations

import time

from .builtins import load
from .checks import CHECK_IDS, REGISTRY
from .context import Context
from .errors import InputError
from .result import Result


def check(dataset, only=None, *, progress=None, **options) -> Result:
    """Run every check (or those named in ``only``) on a Dataset, a built-in name or a file path,
    in the order of ``verify.checks.REGISTRY``, and return the :class:`~verify.result.Result`.

    Options (all optional): max_iterations, time_budget (s per run), tol, stop_tol, dps, method
    ("normalized" | "fixed"), step, fixed_iterations, fixed_time_budget, fixed_step. Unknown names,
    unknown checks and bad values raise :class:`~verify.errors.InputError`. ``progress``, when
    given, is called with each check id before that check runs.

    >>> r = check("single-input-global", only=["optimal-tokens"])
    >>> r["optimal-tokens"].verdict, r["optimal-tokens"].evidence["alpha"]
    ('holds', [0])
    >>> r.ok, [c.id for c in r]
    (True, ['optimal-tokens'])
    >>> import json; json.loads(r.to_json())["schema"]
    'attnsvm.check/1'
    >>> check("single-input-global", only=["no-such-check"])
    Traceback (most recent call last):
    ...
    verify.errors.InputError: unknown check 'no-such-check' (checks: optimal-tokens, ...)
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
