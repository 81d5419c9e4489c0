"""HTML reports rendered from verify's results (presentation only: reports never compute a result).

``write_report([(result, dataset), ...], out_dir)`` writes ``index.html`` and one page plus the JSON
result per dataset; ``render_dataset_page`` / ``render_index`` return the HTML; plots and
prediction-vs-observation tables are looked up per check id in :data:`PLOTS` and :data:`FACTS`, so
a new check plugs in with :func:`register` / :func:`register_facts` without touching the templates.

>>> from attnsvm.reports import safe_name
>>> safe_name("<script>alert(1)</script>")
'script-alert-1-script'
"""
from .build import MANIFEST, ReportError, check_out_dir, safe_name, safe_names, write_report
from .page import overall_verdict, provenance, render_dataset_page, render_index, versions
from .plots import PLOTS, Figure, PlotContext, figures_for, register
from .sweep_page import render_sweep_page
from .views import FACTS, Table, evidence_tables, facts_for, register_facts

__all__ = ["MANIFEST", "ReportError", "check_out_dir", "safe_name", "safe_names", "write_report",
           "overall_verdict", "provenance", "render_dataset_page", "render_index", "versions",
           "PLOTS", "Figure", "PlotContext", "figures_for", "register",
           "FACTS", "Table", "evidence_tables", "facts_for", "register_facts", "render_sweep_page"]
