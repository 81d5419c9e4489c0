"""The memory limit of a command (``--max-memory``): its default, its parsing, and how it is enforced.

The limit is set as the process's RLIMIT_DATA (Linux counts every private writable mapping against it: the
heap, numpy's and torch's arrays, thread stacks; not the code of the libraries, and not address space that
is only reserved, which torch and BLAS do in large amounts, so RLIMIT_AS would break them). An allocation
beyond it fails at once: numpy raises MemoryError, torch a RuntimeError ("can't allocate memory"); the
check that asked becomes `inconclusive` with that reason (verify.context), and outside the checks the
command ends with one line and exit status 2. Parts whose size is known in advance (the W-SVMs, the exact
feature tensor) compare their estimate with :func:`available` first and say `inconclusive` with both
numbers instead of allocating.

The default is half the machine's memory (MemTotal of /proc/meminfo, or the cgroup's memory.max when that is
smaller).
"""
from __future__ import annotations

import re

from .errors import InputError

GIB = 2 ** 30
DEFAULT_FRACTION = 0.5
_UNITS = {"": 1, "b": 1, "k": 2 ** 10, "kb": 2 ** 10, "m": 2 ** 20, "mb": 2 ** 20, "g": GIB, "gb": GIB,
          "t": 2 ** 40, "tb": 2 ** 40, "kib": 2 ** 10, "mib": 2 ** 20, "gib": GIB, "tib": 2 ** 40}
MIN_LIMIT = 256 * 2 ** 20   # below this the interpreter and its libraries alone do not fit
HEADROOM = 128 * 2 ** 20    # beyond the loaded libraries: the least room a command needs to do anything

_state = {"limit": None}   # the limit set by :func:`apply` in this process (bytes), None when unset


def proc_bytes(path: str, key: str) -> int | None:
    """The value of the line ``key: N kB`` of a /proc file (e.g. /proc/meminfo, /proc/self/status), in bytes;
    None when the file or the line cannot be read."""
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_memory() -> int | None:
    """Bytes of memory of this machine: MemTotal of /proc/meminfo, or the cgroup's memory.max when smaller;
    None when neither can be read."""
    total = proc_bytes("/proc/meminfo", "MemTotal")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit() and (total is None or int(text) < total):
            total = int(text)
    return total


def default_limit() -> int | None:
    """Half the machine's memory (bytes), or None when it cannot be read."""
    total = machine_memory()
    return None if total is None else int(total * DEFAULT_FRACTION)


def parse_size(text: str, option: str = "--max-memory") -> int:
    """'4G', '512M', '1.5GB', '2GiB' or a plain number of bytes, as bytes (one-line InputError otherwise).

    >>> parse_size("4G"), parse_size("512 MB"), parse_size("1.5g"), parse_size("1000000000")
    (4294967296, 536870912, 1610612736, 1000000000)
    """
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = m.group(2).lower() if m else None
    if m is None or unit not in _UNITS:
        raise InputError(f"{option}: expected a size such as 4G or 512M, got {str(text)[:40]!r}")
    value = int(float(m.group(1)) * _UNITS[unit])
    if value < MIN_LIMIT:
        raise InputError(f"{option}: {format_bytes(value)} is too small (at least {format_bytes(MIN_LIMIT)}: the "
                         "interpreter and its libraries need about that)")
    return value


def format_bytes(n: float) -> str:
    """'1.5 GB', '300 MB' (powers of 2)."""
    return f"{n / GIB:.3g} GB" if n >= GIB else f"{n / 2 ** 20:.3g} MB"


def load_libraries(cvxpy: bool = True, torch: bool = True) -> None:
    """Import the numerical libraries the checks use, so that they are loaded before a limit is set: the checks'
    own modules (numpy, scipy, sympy, mpmath, python-flint, through verify.api), cvxpy (the fallback SVM solver,
    numeric.lazy) when ``cvxpy``, torch (batched GD of large problems) when ``torch``."""
    from attnsvm.verify import api  # noqa: F401
    if cvxpy:
        import cvxpy as _cvxpy  # noqa: F401
    if torch:
        import torch as _torch  # noqa: F401


def lift() -> None:
    """Lift the soft RLIMIT_DATA set by :func:`apply` back to the hard limit (before libraries are loaded for a
    second time, so that loading them never runs into the first limit)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not Linux
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if _state["limit"] is not None and soft != hard:
        resource.setrlimit(resource.RLIMIT_DATA, (hard, hard))
    _state["limit"] = None


def startup_need() -> int:
    """The least limit a command can run under: what is in use now (VmData, the libraries loaded) plus
    HEADROOM."""
    return (data_in_use() or 0) + HEADROOM


def apply(limit: int | None) -> int | None:
    """Set RLIMIT_DATA's soft limit to ``limit`` bytes (never above the hard limit); returns the limit in force
    (None when ``limit`` is None or the platform has no RLIMIT_DATA)."""
    if limit is None:
        return None
    try:
        import resource
    except ImportError:  # pragma: no cover - not Linux
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    value = int(limit) if hard == resource.RLIM_INFINITY else min(int(limit), hard)
    resource.setrlimit(resource.RLIMIT_DATA, (value, hard))
    _state["limit"] = value
    return value


def current_limit() -> int | None:
    """The limit set by :func:`apply` in this process (inherited by its worker processes), else None."""
    return _state["limit"]


def data_in_use() -> int | None:
    """Bytes counted against RLIMIT_DATA now (VmData of /proc/self/status), or None."""
    return proc_bytes("/proc/self/status", "VmData")


def available() -> int | None:
    """Bytes that may still be allocated under the limit (None without a limit)."""
    limit = current_limit()
    if limit is None:
        return None
    used = data_in_use()
    return limit - (used or 0)


def too_large(estimate: float, what: str) -> str | None:
    """None when ``estimate`` bytes fit under the limit; else the reason, 'WHAT would need X GB, the limit
    leaves Y GB (--max-memory)'."""
    free = available()
    if free is None or estimate <= free:
        return None
    return (f"{what} would need {format_bytes(estimate)}, the memory limit leaves {format_bytes(max(free, 0))} "
            f"(--max-memory {format_bytes(current_limit())})")


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or torch's allocation failure (a RuntimeError saying it cannot allocate)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "not enough memory" in text)
