"""Limiting torch's and numpy's BLAS CPU threads around small computations.

For the small tensors of batched GD (thousands of runs of a few tokens) one thread is as fast as several
on an idle machine and much faster on a busy one (measured: 2.7 ms versus 31.6 ms per step at B = 1000 on
a loaded 2-core machine), so batched callers run inside ``torch_threads(1)``.
"""
from __future__ import annotations

from contextlib import contextmanager


_PENDING: list = []   # thread counts asked for while torch was not loaded yet (innermost last)


@contextmanager
def torch_threads(count: int | None):
    """Run the block with torch.set_num_threads(count) (None: unchanged), then restore the previous value.
    Where torch is not loaded yet it is not loaded for this: the count waits until an engine loads torch inside
    the block (:func:`torch_loaded`), and the previous value is restored at the end if it did."""
    import sys

    if "torch" not in sys.modules:
        _PENDING.append([count, None])
        try:
            yield
        finally:
            _, previous = _PENDING.pop()
            if previous is not None:
                sys.modules["torch"].set_num_threads(previous)
        return
    import torch

    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def torch_loaded(torch) -> None:
    """Called by an engine right after importing torch: applies the innermost pending :func:`torch_threads`
    count (once) and records the value to restore."""
    if _PENDING and _PENDING[-1][1] is None:
        count = _PENDING[-1][0]
        _PENDING[-1][1] = torch.get_num_threads()
        if count is not None:
            torch.set_num_threads(count)


_OPENBLAS: list = []


def _numpy_openblas():
    """(set, get) of numpy's bundled OpenBLAS thread count through ctypes, or None when not found (another
    BLAS, or a layout this does not know: then :func:`blas_threads` does nothing)."""
    if not _OPENBLAS:
        found = None
        try:
            import ctypes
            import glob
            import os

            import numpy as np

            here = os.path.dirname(np.__file__)
            for path in sorted(glob.glob(os.path.join(here, "..", "numpy.libs", "*openblas*"))):
                lib = ctypes.CDLL(path)
                for suffix in ("64_", ""):
                    for prefix in ("scipy_openblas", "openblas"):
                        set_fn = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                        get_fn = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                        if set_fn is not None and get_fn is not None and found is None:
                            set_fn.argtypes = [ctypes.c_int]
                            get_fn.restype = ctypes.c_int
                            found = (set_fn, get_fn)
        except OSError:  # pragma: no cover - unusual installations
            found = None
        _OPENBLAS.append(found)
    return _OPENBLAS[0]


@contextmanager
def blas_threads(count: int | None):
    """Run the block with numpy's OpenBLAS limited to ``count`` threads (None: unchanged), then restore.

    The per-step products of GD (a matrix-vector product over n T rows of D features) are memory-bound: one
    thread is about as fast as two on an idle machine and up to 20x faster on a busy one, where OpenBLAS's
    threads wait for each other (measured on the shared 2-core machine: 35.6 ms against 0.85 ms for
    (32000 x 16) @ (16,)). Without numpy's bundled OpenBLAS this does nothing."""
    fns = _numpy_openblas() if count is not None else None
    if fns is None:
        yield
        return
    set_fn, get_fn = fns
    previous = get_fn()
    set_fn(int(count))
    try:
        yield
    finally:
        set_fn(previous)
