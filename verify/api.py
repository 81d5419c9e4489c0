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
    ("normalized" | "fixed"), step, fixed_iterations, fixed_time_budget, fixed_step; for
    precision-cross-check: cross_check_iterations (float64 run length), cross_check_dps (digits of the mpmath
    runs, >= 30), cross_check_time_budget (optional seconds per mpmath run; default none), cross_check_tol (least
    one-step tolerance, default 1e-13), certify_dps (digits of the one-step reference, >= 30), naive_tol. Unknown names, unknown checks and bad values raise
    :class:`~verify.errors.InputError`. ``progress``, when given, is called with each check id before that
    check runs.

    >>> r = check("single-input-global", only=["optimal-tokens"])
    >>> r["optimal-tokens"].verdict, r["optimal-tokens"].evidence["alpha"]
    ('holds', [0])
    >>> r.ok, [c.id for c in r]
    (True, ['optimal-tokens'])
    >>> import json; json.loads(r.to_json())["schema"]
    'attnsvm.check/2'
    >>> check("single-input-global", only=["no-such-check"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    attnsvm.verify.errors.InputError: unknown check 'no-such-check' (checks: assumption-A, optimal-tokens, ...)
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
            results.append(ctx.run_check(m.ID))
    summary = ds.summary()
    summary["loss"] = ds.loss_spec.name if ds.loss_spec.expr is None else ds.loss_spec.expr
    summary["source"] = ds.source
    return Result(dataset=summary, checks=results, options=ctx.options, seconds=time.perf_counter() - start)


def _check_in_worker(dataset, options):
    """``check`` in a worker process (module level, so that it can be pickled)."""
    return check(dataset, **options)


def check_many(datasets, jobs=None, *, progress=None, **options) -> list:
    """``check`` on several datasets, in ``jobs`` worker processes (default: one per CPU core, at most
    one per dataset; ``jobs=1``: in this process, one after the other). Results in input order.

    ``progress``, when given, is called as ``progress(k, dataset, step)``: with each check id when
    running in this process, with "done" as each dataset finishes in a worker.

    >>> rs = check_many(["single-input-global", "multi-input"], jobs=1, only=["optimal-tokens"])
    >>> [r.dataset["name"] for r in rs]
    ['single-input-global', 'multi-input']
    """
    import os

    datasets = [load(d) for d in datasets]
    jobs = min(len(datasets), os.cpu_count() or 1) if jobs is None else jobs
    if jobs < 1:
        raise InputError(f"jobs: expected a positive integer, got {jobs}")
    if jobs == 1 or len(datasets) <= 1:
        results = []
        for k, ds in enumerate(datasets, 1):
            step = None if progress is None else (lambda cid, k=k, ds=ds: progress(k, ds, cid))
            results.append(check(ds, progress=step, **options))
        return results
    import concurrent.futures as cf
    import multiprocessing

    results = [None] * len(datasets)
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_check_in_worker, ds, options): i for i, ds in enumerate(datasets)}
        for done, fut in enumerate(cf.as_completed(futures), 1):
            i = futures[fut]
            results[i] = fut.result()
            if progress is not None:
                progress(done, datasets[i], "done")
    return results
