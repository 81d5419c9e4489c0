"""The judge: datasets, checks with verdicts and evidence, the Python API, the CLI and the pytest plugin.

The Python API in three names: ``Dataset`` (from arrays or a file), ``builtin(name)``, and
``check(dataset, **options) -> Result``; the CLI (``attnsvm check``, ``attnsvm report``), the
reports and the pytest plugin are built on exactly these.

>>> from attnsvm.verify import Dataset, builtin, check
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
from .api import check, check_many
from .builtins import builtin, builtin_names, load
from .checks import CHECK_IDS
from .dataset import Dataset
from .errors import DatasetError, InputError
from .result import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, VERDICTS, CheckResult, Result

__all__ = ["check", "check_many", "builtin", "builtin_names", "load", "CHECK_IDS", "Dataset", "DatasetError", "InputError",
           "FAILS", "HOLDS", "INCONCLUSIVE", "NOT_APPLICABLE", "VERDICTS", "CheckResult", "Result"]
from .builtins import builtin_families, family_batch

__all__ += ["builtin_families", "family_batch"]
