"""The judge: datasets, checks with verdicts and evidence, the Python API and the CLI.

>>> from verify import builtin, check
>>> builtin("multi-input").summary()["n"]
3
"""
from .api import check
from .builtins import builtin, builtin_names, load
from .checks import CHECK_IDS
from .dataset import Dataset
from .errors import DatasetError, InputError
from .result import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, VERDICTS, CheckResult, Result

__all__ = ["check", "builtin", "builtin_names", "load", "CHECK_IDS", "Dataset", "DatasetError", "InputError",
           "FAILS", "HOLDS", "INCONCLUSIVE", "NOT_APPLICABLE", "VERDICTS", "CheckResult", "Result"]
