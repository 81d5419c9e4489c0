"""attnsvm: formal-plus-numerical verification of attention as max-margin token selection.

One import root for the whole toolkit. The subpackages live at the top of the source tree and are
installed under this name (setuptools ``package-dir``):

* ``attnsvm.symbolic``: exact mathematics with sympy (gradients, KKT systems, certificates, Assumption A);
* ``attnsvm.numeric``: float64 and mpmath computation (stable attention, GD, SVMs);
* ``attnsvm.verify``: the judge (datasets, checks with verdicts, the Python API, the CLI, the pytest plugin);
* ``attnsvm.reports``: HTML reports.

The names of the Python API are re-exported here and imported on first use, so ``import attnsvm``
is cheap: ``from attnsvm import check, Dataset, builtin``.
"""
from __future__ import annotations

import importlib

__version__ = "0.2.0"

_API = {
    "check": "attnsvm.verify", "check_many": "attnsvm.verify", "Dataset": "attnsvm.verify",
    "builtin": "attnsvm.verify", "builtin_names": "attnsvm.verify", "load": "attnsvm.verify",
    "CHECK_IDS": "attnsvm.verify", "DatasetError": "attnsvm.verify", "InputError": "attnsvm.verify",
    "CheckResult": "attnsvm.verify", "Result": "attnsvm.verify", "VERDICTS": "attnsvm.verify",
    "HOLDS": "attnsvm.verify", "FAILS": "attnsvm.verify", "INCONCLUSIVE": "attnsvm.verify",
    "NOT_APPLICABLE": "attnsvm.verify", "write_report": "attnsvm.reports",
}
_SUBPACKAGES = ("symbolic", "numeric", "verify", "reports")

__all__ = ["__version__", *_API, *_SUBPACKAGES]


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"attnsvm.{name}")
    else:
        raise AttributeError(f"module 'attnsvm' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
