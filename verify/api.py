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

    Options (all optional; defaults in ``verify.context.DEFAULT_OPTIONS``): max_iterations (cap of the
    normalised GD rounds), time_budget (seconds per run; default none: budgets are iteration counts), tol
    (1 - corr of a converged run), step (normalised step), fixed_step (the theorem runs' step), fixed_iterations
    (literal fixed steps before the modified equation), fixed_max_log10_steps, random_inits, dps, certify_dps;
    for precision-cross-check: cross_check_iterations (float64 run length), cross_check_dps (digits of the
    mpmath runs, >= 30), cross_check_time_budget (optional seconds per mpmath run; default none),
    cross_check_tol (least one-step tolerance, default 1e-13), naive_tol; for (K, Q) and heads:
    kq_normalization, kq_ridge, kq_step, selected_threshold. Unknown names, unknown checks and bad values raise
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


def check_many(datasets, jobs=None, *, progress=None, then=None, **options) -> list:
    """``check`` on several datasets, in ``jobs`` worker processes (default: one per CPU core, at most
    one per dataset; ``jobs=1``: in this process, one after the other). Results in input order.

    ``progress``, when given, is called as ``progress(k, dataset, step)`` (k counts from 1 in input order):
    with each check id before that check runs, and with "done" as each dataset finishes.

    ``then``, when given, is a picklable (module-level) function called as ``then(k, result, dataset)`` in the
    process that checked the dataset (a worker, so that it runs in parallel too: ``attnsvm report`` renders
    the pages there); the list then holds ``(result, then's value)`` pairs.

    The workers ignore Ctrl-C; on any exception here (KeyboardInterrupt included) they are terminated at
    once, and each worker ends by itself within a second when this process dies. Warnings raised in a worker
    outside the checks (the checks record theirs in their evidence) are re-issued here as RuntimeWarnings.

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
            result = check(ds, progress=step, **options)
            results.append(result if then is None else (result, then(k, result, ds)))
            if progress is not None:
                progress(k, ds, "done")
        return results
    import concurrent.futures as cf
    import multiprocessing
    import queue as queue_module
    import warnings

    from .workers import check_in_worker, init_worker, sigint_ignored, stop_pool

    mp = multiprocessing.get_context("spawn")
    events = mp.Queue() if progress is not None else None
    results = [None] * len(datasets)
    pool = cf.ProcessPoolExecutor(max_workers=min(jobs, len(datasets)), mp_context=mp, initializer=init_worker,
                                  initargs=(os.getpid(), events))
    try:
        with sigint_ignored():  # the workers start with Ctrl-C ignored (inherited): no traceback from them
            futures = {pool.submit(check_in_worker, i, ds, options, then): i for i, ds in enumerate(datasets)}
        pending = set(futures)
        while pending:
            done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            while events is not None:
                try:
                    i, cid = events.get_nowait()
                except queue_module.Empty:
                    break
                progress(i + 1, datasets[i], cid)
            for fut in done:
                i = futures[fut]
                results[i], notes = fut.result()
                for note in notes:
                    warnings.warn(f"{datasets[i].name}: {note}", RuntimeWarning, stacklevel=2)
                if progress is not None:
                    progress(i + 1, datasets[i], "done")
    except BaseException:
        stop_pool(pool)
        raise
    finally:
        if events is not None:
            events.close()
            events.cancel_join_thread()
    pool.shutdown(wait=True)
    return results
