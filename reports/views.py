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
SHORT = 90          # longest value shown in a key/value table (longer ones: collapsed JSON)
CELL = 28           # longest value shown in a column of a record table (longer ones: the row's details)
MAX_COLUMNS = 7     # columns of a record table; the other fields go behind each row's details
ROW_CHARS = 120     # and at most this many characters per row (the table fits a 1400 px window)
# fields shown first in a record table when present (what identifies a row, then its outcome)
PRIORITY = ("run", "i", "sequence", "selection", "selected", "init", "radius", "iteration", "iterations", "status",
            "outcome", "verdict", "one_minus_corr", "norm", "final_norm", "locally_optimal", "optimal", "feasible")


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
    row_details: list = field(default_factory=list)  # per row: [(field, text)] behind the row's "more"


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

    >>> fmt(1/3), fmt(True), fmt(None), fmt([1, 2.5]), fmt("0.33333333333333333333"), fmt(-0.0)
    ('0.333333', 'yes', '—', '[1, 2.5]', '0.33333333333333333333', '0')
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value + 0.0:.6g}"   # + 0.0: never "-0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return json.dumps(value, separators=(", ", ": "))


def _is_short(value: Any) -> bool:
    return not isinstance(value, (list, dict)) or len(fmt(value)) <= SHORT


def _flatten(evidence: dict, prefix: str = "", depth: int = 0) -> list:
    """(dotted key, value) pairs: nested dicts opened up to two levels (``observation.outcome``)."""
    out = []
    for key, value in evidence.items():
        name = f"{prefix}{key}"
        scalars = isinstance(value, dict) and value and all(not isinstance(v, (dict, list)) for v in value.values())
        if scalars and len(value) <= 6 and len(", ".join(f"{k} {fmt(v)}" for k, v in value.items())) <= SHORT:
            out.append((name, _Inline(", ".join(f"{k} {fmt(v)}" for k, v in value.items()))))
        elif isinstance(value, dict) and value and depth < 2 and len(value) <= 12:
            out.extend(_flatten(value, name + ".", depth + 1))
        else:
            out.append((name, value))
    return out


class _Inline(str):
    """A small dict already written as one line ("converged 64, stalled 0")."""


def evidence_tables(evidence: dict, title: str = "Evidence") -> list[Table]:
    """Any evidence dict as tables, whatever its keys (a check that adds a field is shown at once): short
    values in a key/value table (nested dicts opened as dotted keys), each list of records as a table (see
    :func:`record_table`), everything long as collapsed JSON.

    >>> [t.rows for t in evidence_tables({"counts": {"converged": 2, "stalled": 0}, "x": -0.0})]
    [[['counts', 'converged 2, stalled 0'], ['x', '0']]]
    """
    if not isinstance(evidence, dict):
        return [Table(title, [], [], details=[("value", json.dumps(evidence, indent=1))])]
    scalars, tables, details = [], [], []
    for key, value in _flatten(evidence):
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.append(record_table(key, value))
        elif _is_short(value):
            scalars.append([key, fmt(value)])
        else:
            details.append((key, json.dumps(value, indent=1)))
    out = [Table(title, [], scalars, details=details)] if scalars or details else []
    return out + tables


def _fits_column(records: list, key) -> bool:
    return all(not isinstance(r.get(key), (list, dict)) or len(fmt(r.get(key))) <= CELL for r in records) and \
        all(len(fmt(r.get(key))) <= CELL for r in records)


def record_table(title: str, records: list) -> Table:
    """A list of dicts as a table that fits the page: at most :data:`MAX_COLUMNS` columns, chosen among the
    fields that are short in every record (identifying fields and outcomes first, see :data:`PRIORITY`);
    every other field of a row is behind that row's details ("n more"), the whole list in collapsed JSON.

    >>> t = record_table("runs", [{"run": 0, "verdict": "holds", "reason": "a long explanation " * 3}])
    >>> t.columns, t.rows, [k for k, _ in t.row_details[0]]
    (['run', 'verdict'], [['0', 'holds']], ['reason'])
    """
    cols: list = []
    for r in records:
        for k in r:
            if k not in cols:
                cols.append(k)
    fitting = [k for k in cols if _fits_column(records, k)]
    ordered = [k for k in PRIORITY if k in fitting] + [k for k in fitting if k not in PRIORITY]
    chosen, used = [], 0
    for k in ordered:
        width = max([len(str(k))] + [len(fmt(r.get(k))) for r in records[:MAX_ROWS]]) + 3
        if len(chosen) < MAX_COLUMNS and used + width <= ROW_CHARS:
            chosen.append(k)
            used += width
    shown = chosen   # identifying fields and outcomes first (PRIORITY), then the others in their order
    hidden = [k for k in cols if k not in shown]
    rows, row_details = [], []
    for r in records[:MAX_ROWS]:
        rows.append([VerdictCell(r[k]) if k == "verdict" and isinstance(r.get(k), str) else fmt(r.get(k))
                     for k in shown])
        extra = []
        for k in hidden:
            if k in r:
                v = r[k]
                text = fmt(v) if _is_short(v) else json.dumps(v, indent=None, separators=(", ", ": "))
                extra.append((k, text if len(text) <= 2000 else text[:2000] + f" ... ({len(text)} characters)"))
        row_details.append(extra)
    notes = []
    if len(records) > MAX_ROWS:
        notes.append(f"first {MAX_ROWS} of {len(records)} rows")
    if hidden:
        notes.append("other fields (" + ", ".join(hidden) + ") are behind each row's \"more\"")
    details = [(f"{title} (JSON)", json.dumps(records, indent=1))] if hidden or len(records) > MAX_ROWS else []
    return Table(title, shown, rows, note="; ".join(notes), details=details,
                 row_details=row_details if hidden else [])


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


def _short_vec(v) -> str:
    if isinstance(v, list) and len(v) > 4:
        return f"({len(v)} numbers)"
    return fmt(v)


@register_facts("norm-divergence")
def _norm_divergence(ev, ctx):
    runs = ev.get("runs")
    if runs is None:   # older results: one run at the top level
        pred, slope = _num(ev.get("predicted_slope")), _num(ev.get("slope"))
        if pred is None and slope is None:
            return []
        window = ev.get("slope_window")
        rows = [["d||p_k|| / d ln k" + (f" over k in {fmt(window)}" if window else ""),
                 fmt(pred) + " (= ||p_mm||)", fmt(slope), fmt(_num(ev.get("slope_ratio")))],
                ["||p_k|| increasing over the second half", "yes", fmt(ev.get("increasing")), ""]]
        return [Table("Prediction and observation (fixed-step GD, step " + fmt(ev.get("step")) + ")",
                      ["quantity", "predicted", "observed", "observed / predicted"], rows)]
    rows = []
    for j, r in enumerate(runs):
        law = r.get("growth_law") or {}
        rows.append([str(j), _short_vec(r.get("init")), fmt(_num(law.get("slope_per_ln_k"))),
                     fmt(_num(law.get("p_mm_norm"))), fmt(_num(law.get("slope_over_p_mm_norm"))),
                     fmt(_num(r.get("final_norm"))), fmt(r.get("descent")), fmt(r.get("stop_reason"))])
    note = ("Prediction for fixed-step GD: ||p_k|| -> infinity, asymptotically like ||p_mm|| ln k (the slope is a "
            "diagnostic, not the verdict). Step " + fmt(ev.get("step")) + ", smoothness bound L <= "
            + fmt(ev.get("lipschitz_bound")) + ".")
    tables = [Table("Runs: prediction and observation",
                    ["run", "init", "d||p_k||/d ln k", "predicted (||p_mm||)", "ratio", "final ||p||", "descent",
                     "stopped"], rows, note=note)]
    reasons = [[str(j), r.get("reason", "")] for j, r in enumerate(runs) if r.get("reason")]
    if reasons:
        tables.append(Table("Why each run got its outcome", ["run", "reason"], reasons))
    return tables


@register_facts("directional-limit")
def _directional_limit(ev, ctx):
    runs = ev.get("runs") or []
    if not runs:
        return []
    rows = []
    for j, r in enumerate(runs):
        dec = r.get("decade") or {}
        if dec.get("drop") is not None:
            drop = fmt(_num(dec.get("drop"))) + "x"
        elif _num(dec.get("one_minus_corr_from")) and _num(dec.get("one_minus_corr_to")):
            drop = fmt(_num(dec["one_minus_corr_from"]) / _num(dec["one_minus_corr_to"])) + "x"
        else:
            drop = "—"
        outcome = r.get("verdict") or r.get("outcome")
        rows.append([str(j), _short_vec(r.get("init")), fmt(r.get("selected")), fmt(r.get("selected_is_optimal")),
                     fmt(r.get("final_iteration", r.get("iterations"))), fmt(_num(r.get("final_norm"))),
                     fmt(_num(r.get("one_minus_corr"))) + f" (≤ {fmt(ev.get('tol'))})", drop,
                     VerdictCell(outcome) if outcome in ("holds", "fails", "inconclusive", "not-applicable")
                     else fmt(outcome)])
    note = ("Prediction: 1 - corr falls towards 0, like ||p||^-2 for normalised GD (about 100x per decade of ||p||); "
            "converged when below the tolerance. Tokens are numbered from 0.")
    reasons = [[str(j), r.get("reason", "")] for j, r in enumerate(runs) if r.get("reason")]
    tables = [Table("Runs: prediction and observation",
                    ["run", "init p0", "selected tokens", "optimal?", "iterations", "final ||p||",
                     "final 1 - corr", "drop over the last decade", "outcome"], rows, note=note)]
    if reasons:
        tables.append(Table("Why each run got its outcome", ["run", "reason"], reasons))
    return tables
