"""The judge: datasets, checks with verdicts and evidence, the Python API, the CLI and the pytest plugin.

The Python API in three names: ``Dataset`` (from arrays or a file), ``builtin(name)``, and
``check(dataset, **options) -> Result``; the CLI (``attnsvm check``, ``attnsvm report``), the
reports and the pytest plugin are built on exactly these. The names are imported on first use
(module ``__getattr__``), so that ``attnsvm list`` and ``attnsvm --help`` never load the numerical
libraries.

>>> from attnsvm.verify import CHECK_IDS, VERDICTS, Dataset, builtin, check
>>> builtin("multi-input").summary()["n"]
3
>>> ds = Dataset(X=[[[1, 0], [0, 1]]], Y=[1], v=[1, 0], name="tiny")
>>> result = check(ds, only=["optimal-tokens"])
>>> result["optimal-tokens"].verdict, result.ok
('holds', True)
>>> "directional-limit" in CHECK_IDS
True
>>> VERDICTS
('holds', 'fails', 'inconclusive', 'not-applicable')
"""
from __future__ import annotations

import importlib

# public name -> submodule that defines it
_EXPORTS = {
    "check": "api", "check_many": "api",
    "builtin": "builtins", "builtin_names": "builtins", "load": "builtins", "builtin_families": "builtins",
    "family_batch": "builtins",
    "CHECK_IDS": "checks",
    "Dataset": "dataset",
    "DatasetError": "errors", "InputError": "errors",
    "FAILS": "result", "HOLDS": "result", "INCONCLUSIVE": "result", "NOT_APPLICABLE": "result", "VERDICTS": "result",
    "CheckResult": "result", "Result": "result",
}

__all__ = ["check", "check_many", "builtin", "builtin_names", "load", "CHECK_IDS", "Dataset", "DatasetError", "InputError",
           "FAILS", "HOLDS", "INCONCLUSIVE", "NOT_APPLICABLE", "VERDICTS", "CheckResult", "Result",
           "builtin_families", "family_batch"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
