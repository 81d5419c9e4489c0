"""HTML reports rendered from verify's results (presentation only: reports never compute a result).

``write_report([(result, dataset), ...], out_dir)`` writes ``index.html`` and one page plus the JSON
result per dataset; ``render_dataset_page`` / ``render_index`` return the HTML; plots and
prediction-vs-observation tables are looked up per check id in :data:`PLOTS` and :data:`FACTS`, so
a new check plugs in with :func:`register` / :func:`register_facts` without touching the templates.
The names are imported on first use (module ``__getattr__``).

>>> from attnsvm.reports import safe_name
>>> safe_name("<script>alert(1)</script>")
'script-alert-1-script'
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "MANIFEST": "build", "ReportError": "build", "check_out_dir": "build", "safe_name": "build", "safe_names": "build",
    "write_report": "build",
    "overall_verdict": "page", "provenance": "page", "render_dataset_page": "page", "render_index": "page",
    "versions": "page",
    "PLOTS": "plots", "Figure": "plots", "PlotContext": "plots", "figures_for": "plots", "register": "plots",
    "render_sweep_page": "sweep_page",
    "FACTS": "views", "Table": "views", "evidence_tables": "views", "facts_for": "views", "register_facts": "views",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
