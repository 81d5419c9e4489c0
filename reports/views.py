"""Tables for the page: the evidence of any check as readable tables, and, for the checks that have
one, a registry of "prediction next to observation" tables.

>>> t = evidence_tables({"alpha": [0, 2], "unique": True, "kkt_residual": 1.5e-51})[0]
>>> t.rows
[['alpha', '[0, 2]'], ['unique', 'yes'], ['kkt_residual', '1.5e-51']]

Like the plots, views only rearrange the evidence; they never compute a result.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

FACTS: dict[str, Callable] = {}
MAX_ROWS = 40
SHORT = 90


class VerdictCell(str):
    """A table cell holding a verdict: the page shows it as a badge (colour, symbol and word).

    >>> record_table("runs", [{"run": 0, "verdict": "holds"}]).rows
    [['0', 'holds']]
    >>> isinstance(_[0][1], VerdictCell)
    True
    """


@dataclass
class Table:
    """A table: ``columns`` (may be empty for key/value tables), ``rows`` of cells (str or VerdictCell)."""

    title: str
    columns: list
    rows: list
    note: str = ""
    details: list = field(default_factory=list)  # (label, json text) shown collapsed


def register_facts(check_id: str) -> Callable:
    """Decorator: ``fn(evidence, ctx) -> list[Table]`` shows the prediction next to the observation.

    >>> @register_facts("demo-check")
    ... def _demo(evidence, ctx):
    ...     return [Table("Prediction and observation", ["predicted", "observed"], [["1", fmt(evidence["x"])]])]
    >>> facts_for("demo-check", {"x": 0.5}, None)[0].rows
    [['1', '0.5']]
    >>> del FACTS["demo-check"]
    """

    def deco(fn):
        FACTS[check_id] = fn
        return fn

    return deco


def facts_for(check_id: str, evidence: dict, ctx) -> list[Table]:
    """The prediction-vs-observation tables of a check ([] when none is registered)."""
    fn = FACTS.get(check_id)
    if fn is None:
        return []
    try:
        return fn(evidence, ctx)
    except Exception as exc:  # noqa: BLE001 - shown in the page instead
        return [Table("Prediction and observation", [], [], note=f"could not lay out this table: "
                      f"{type(exc).__name__}: {exc}")]


# -- formatting ---------------------------------------------------------------------------------------
def fmt(value: Any) -> str:
    """A short text for one evidence value (floats to 6 significant digits; exact strings kept).

    >>> fmt(1/3), fmt(True), fmt(None), fmt([1, 2.5]), fmt("0.33333333333333333333")
    ('0.333333', 'yes', '—', '[1, 2.5]', '0.33333333333333333333')
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return json.dumps(value, separators=(", ", ": "))


def _is_short(value: Any) -> bool:
    return not isinstance(value, (list, dict)) or len(fmt(value)) <= SHORT


def evidence_tables(evidence: dict, title: str = "Evidence") -> list[Table]:
    """Any evidence dict as tables: short values in a key/value table, each list of records as a
    table (its short fields as columns), everything long as collapsed JSON."""
    if not isinstance(evidence, dict):
        return [Table(title, [], [], details=[("value", json.dumps(evidence, indent=1))])]
    scalars, tables, details = [], [], []
    for key, value in evidence.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.append(record_table(key, value))
        elif _is_short(value):
            scalars.append([key, fmt(value)])
        else:
            details.append((key, json.dumps(value, indent=1)))
    out = [Table(title, [], scalars, details=details)] if scalars or details else []
    return out + tables


def record_table(title: str, records: list) -> Table:
    """A list of dicts as a table: columns are the fields that are short in every record."""
    cols: list = []
    for r in records:
        for k in r:
            if k not in cols:
                cols.append(k)
    shown = [k for k in cols if all(_is_short(r.get(k)) for r in records)]
    hidden = [k for k in cols if k not in shown]
    rows = []
    for r in records[:MAX_ROWS]:
        rows.append([VerdictCell(r[k]) if k == "verdict" and isinstance(r.get(k), str) else fmt(r.get(k))
                     for k in shown])
    notes = []
    if len(records) > MAX_ROWS:
        notes.append(f"first {MAX_ROWS} of {len(records)} rows")
    if hidden:
        notes.append("long fields (" + ", ".join(hidden) + ") are in the JSON below")
    details = [(f"{title} (JSON)", json.dumps(records, indent=1))] if hidden or len(records) > MAX_ROWS else []
    return Table(title, shown, rows, note="; ".join(notes), details=details)


def _num(x) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


# -- prediction vs observation, per check ------------------------------------------------------------
@register_facts("optimal-tokens")
def _optimal_tokens(ev, ctx):
    rows = [["optimal token per sequence (alpha_i, from 0)", fmt(ev.get("alpha"))],
            ["unique in every sequence", fmt(ev.get("unique"))],
            ["ties", "none" if not ev.get("ties") else fmt(ev.get("ties"))],
            ["arithmetic", fmt(ev.get("arithmetic"))]]
    return [Table("Observation", [], rows)]


@register_facts("p-svm")
def _p_svm(ev, ctx):
    tables = []
    if ev.get("p_mm"):
        rows = [[f"p_mm[{j}]", v] for j, v in enumerate(ev["p_mm"])]
        rows.append(["||p_mm||", fmt(ev.get("p_mm_norm"))])
        tables.append(Table(f"Max-margin direction p_mm of the tokens {fmt(ev.get('selection'))} "
                            f"({fmt(ev.get('dps'))} digits)", [], rows))
    if ev.get("support") is not None:
        mult = ev.get("multipliers") or {}
        rows = [[f"sequence {i}, token {t}", mult.get(f"{i},{t}", "0")] for i, t in ev["support"]]
        tables.append(Table("Support tokens (active constraints) and their KKT multipliers lambda_it",
                            ["constraint", "lambda"], rows))
    kkt = [["KKT residual (prediction: 0)", fmt(ev.get("kkt_residual"))],
           ["KKT conditions met at the working precision", fmt(ev.get("kkt_ok"))],
           ["solver status", fmt(ev.get("solver_status"))],
           ["|solver norm - polished norm|", fmt(ev.get("solver_norm_error"))]]
    tables.append(Table("Certificate", [], kkt))
    for sel in ev.get("selections") or []:
        tables.append(Table(f"p-SVM of the tokens {fmt(sel.get('selection'))} reached by GD", [],
                            [[k, fmt(v)] for k, v in sel.items() if _is_short(v)]))
    return tables


@register_facts("norm-divergence")
def _norm_divergence(ev, ctx):
    pred, slope = _num(ev.get("predicted_slope")), _num(ev.get("slope"))
    window = ev.get("slope_window")
    rows = [["d||p_k|| / d ln k" + (f" over k in {fmt(window)}" if window else ""),
             fmt(pred) + " (= ||p_mm||)", fmt(slope),
             fmt(_num(ev.get("slope_ratio")))],
            ["||p_k|| increasing over the second half", "yes", fmt(ev.get("increasing")), ""]]
    return [Table("Prediction and observation (fixed-step GD, step " + fmt(ev.get("step")) + ")",
                  ["quantity", "predicted", "observed", "observed / predicted"], rows)]


@register_facts("directional-limit")
def _directional_limit(ev, ctx):
    rows = []
    for j, r in enumerate(ev.get("runs") or []):
        dec = r.get("decade") or {}
        rows.append([str(j), fmt(r.get("init")), fmt(r.get("selected")), fmt(r.get("selected_is_optimal")),
                     fmt(r.get("iterations")), fmt(_num(r.get("final_norm"))),
                     fmt(_num(r.get("one_minus_corr"))) + f" (≤ {fmt(ev.get('tol'))})",
                     (fmt(_num(dec.get("drop"))) + "x") if dec else "—",
                     VerdictCell(r.get("verdict", "inconclusive"))])
    note = ("Prediction for normalised GD: 1 - corr falls like ||p||^-2, i.e. about 100x per decade of ||p||, "
            "towards 0 (converged when below the tolerance). Tokens are numbered from 0.")
    reasons = [[str(j), r.get("reason", "")] for j, r in enumerate(ev.get("runs") or [])]
    return [Table("Runs: prediction and observation",
                  ["run", "init p0", "selected tokens", "optimal?", "iterations", "final ||p||",
                   "final 1 - corr", "drop over last decade (pred. ~100x)", "verdict"], rows, note=note),
            Table("Why each run got its verdict", ["run", "reason"], reasons)]
