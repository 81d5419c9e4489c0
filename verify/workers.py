"""Worker processes of :func:`verify.check_many`: started light, stopped at once, never orphaned.

A worker imports only the standard library before its initializer runs (the numerical libraries come with
the first task), so from its first moments it ignores Ctrl-C (the parent stops the workers; the disposition
is inherited from the parent, which ignores SIGINT while it starts them) and watches its parent: when the
parent dies without stopping it (SIGKILL, a crash), the worker exits within a fraction of a second.
"""
from __future__ import annotations

import os
import signal
import threading
import time

_EVENTS = None   # in a worker process: the queue of (dataset index, check id) progress events
WATCH_INTERVAL = 0.2


def _watch_parent(parent_pid: int, interval: float = WATCH_INTERVAL) -> None:
    """End this worker as soon as its parent is gone (it was reparented: the parent died without stopping us)."""
    while True:
        time.sleep(interval)
        if os.getppid() != parent_pid:
            os._exit(70)


def init_worker(parent_pid: int, events=None) -> None:
    """Worker start-up: ignore Ctrl-C, start the watchdog thread on ``parent_pid``, keep the progress queue."""
    global _EVENTS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _EVENTS = events
    if os.getppid() != parent_pid:
        os._exit(70)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="attnsvm-parent-watchdog").start()


def check_in_worker(index: int, dataset, options: dict, then=None):
    """``verify.check`` in a worker process: (result, the warnings raised outside the checks, as text), or
    ((result, then(index + 1, result, dataset)), warnings) when ``then`` is given. Each check id is sent to
    the parent's progress queue before that check runs."""
    import warnings

    from .api import check

    def step(cid):
        if _EVENTS is not None:
            try:
                _EVENTS.put((index, cid))
            except (OSError, ValueError):
                pass

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = check(dataset, progress=step, **options)
        if then is not None:
            result = (result, then(index + 1, result, dataset))
    notes = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    return result, notes


class sigint_ignored:
    """Ignore SIGINT in this (main) thread while worker processes are started, so that they inherit the
    ignored disposition from their first instruction (a Ctrl-C in those milliseconds is lost). A no-op
    outside the main thread."""

    def __enter__(self):
        self.active = threading.current_thread() is threading.main_thread()
        if self.active:
            self.previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.signal(signal.SIGINT, self.previous)
        return False


def stop_pool(pool) -> None:
    """Stop a ProcessPoolExecutor now: terminate its workers (also those still starting), then cancel what
    has not started. The workers are taken before ``shutdown``, which forgets them."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        try:
            proc.terminate()
        except (OSError, ValueError, AttributeError):
            pass
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + 1.0
    for proc in procs:
        try:
            proc.join(timeout=max(deadline - time.monotonic(), 0.01))
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=0.5)
        except (OSError, ValueError, AttributeError, AssertionError):
            pass
