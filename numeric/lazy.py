"""Modules imported on first use: ``cvxpy`` costs about a second to import (it pulls in scipy.stats), and the
checks of most prompt datasets never call it (the SVMs are solved by NNLS first, numeric.svm)."""
from __future__ import annotations

import importlib


class LazyModule:
    """Stands for the module ``name``: the first attribute read imports it (importlib caches it in sys.modules),
    every read returns the module's attribute."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)


cvxpy = LazyModule("cvxpy")
