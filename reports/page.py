"""HTML pages from verify's results: one page per dataset and an index (Jinja2, autoescaped).

Pages are self-contained: inline CSS, plots as inline SVG, no script, no external URL, and a
Content-Security-Policy that forbids loading anything. Every string that comes from a dataset or a
result is escaped by Jinja2's autoescape.

>>> from attnsvm.verify import Dataset, check
>>> ds = Dataset(X=[[[1, 0], [0, 1]]], Y=[1], v=[1, 0], name="<b>tiny</b>")
>>> html = render_dataset_page(check(ds, only=["optimal-tokens"]), ds)
>>> "&lt;b&gt;tiny&lt;/b&gt;" in html and "<b>tiny</b>" not in html
True
"""
from __future__ import annotations

import json
import platform
import sys
from importlib import metadata

import jinja2
import numpy as np

from .plots import PlotContext, figures_for, reset_figure_ids
from .views import VerdictCell, evidence_tables, facts_for

SYMBOLS = {"holds": "✓", "fails": "✗", "inconclusive": "?", "not-applicable": "–"}
PACKAGES = ("attnsvm", "numpy", "scipy", "sympy", "mpmath", "cvxpy", "clarabel", "torch", "matplotlib", "jinja2")
MAX_SEQUENCES, MAX_TOKENS = 6, 12


def environment() -> jinja2.Environment:
    """The Jinja2 environment: templates of this package, autoescape on, undefined names are errors.

    >>> environment().from_string("{{ name }}").render(name="<b>")
    '&lt;b&gt;'
    """
    env = jinja2.Environment(loader=jinja2.PackageLoader("attnsvm.reports", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals["symbols"] = SYMBOLS
    env.tests["verdict_cell"] = lambda x: isinstance(x, VerdictCell)
    return env


def overall_verdict(verdicts) -> str:
    """The verdict of a set of checks: fails if any fails, else inconclusive if any is, else holds
    (not-applicable when nothing is applicable).

    >>> overall_verdict(["holds", "not-applicable"]), overall_verdict(["holds", "inconclusive"])
    ('holds', 'inconclusive')
    """
    verdicts = list(verdicts)
    if "fails" in verdicts:
        return "fails"
    if "inconclusive" in verdicts:
        return "inconclusive"
    if "holds" in verdicts:
        return "holds"
    return "not-applicable"


STATUS_BADGES = {"consistent with the theory": "holds", "counterexample": "fails", "undecided": "inconclusive",
                 "outside the theory": "not-applicable"}


def status_badge(status: str) -> str:
    """The badge (verdict colour) of a dataset's status.

    >>> status_badge("counterexample"), status_badge("outside the theory")
    ('fails', 'not-applicable')
    """
    return STATUS_BADGES.get(status, "inconclusive")


def versions() -> dict:
    """Versions of the toolkit, Python and the numerical libraries (for the reproducibility footer).

    >>> v = versions()
    >>> "attnsvm" in v and "numpy" in v and "python" in v
    True
    """
    out = {}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    out["python"] = platform.python_version()
    return out


def _scan(obj, keys, found, depth=0):
    """Collect the values of ``keys`` anywhere in nested evidence (backend, precision, seeds)."""
    if depth > 6:
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in keys and not isinstance(v, (dict, list)):
                found.setdefault(k, [])
                if v not in found[k]:
                    found[k].append(v)
            else:
                _scan(v, keys, found, depth + 1)
    elif isinstance(obj, list):
        for v in obj[:50]:
            _scan(v, keys, found, depth + 1)


def provenance(results, command: str | None = None) -> dict:
    """The footer: command, versions, backends and precisions named by the evidence, seeds, options. It
    holds no time (no generation time, no durations): a re-run writes the same bytes; the wall-clock
    times are in the report's ``timing.json`` and the results' ``timing``.

    >>> from attnsvm.verify import CheckResult, Result
    >>> r = Result(dataset={"name": "d"}, checks=[CheckResult("x", "holds", "", "", {"backend": "float64", "dps": 50})])
    >>> p = provenance([r], command="attnsvm report d --out out")
    >>> p["command"], p["precision"]
    ('attnsvm report d --out out', 'backend: float64; mpmath digits: 50')
    """
    found: dict = {}
    options: dict = {}
    per_result = []
    for r in results:
        d = r.to_dict()
        per_result.append(d["options"])
        options.update(d["options"])
        for c in d["checks"]:
            _scan(c["evidence"], {"backend", "backends", "dps", "precision", "arithmetic", "seed", "seeds"}, found)
    parts = []
    for key, label in (("backend", "backend"), ("backends", "backends"), ("precision", "precision"),
                       ("arithmetic", "arithmetic"), ("dps", "mpmath digits")):
        if key in found:
            parts.append(f"{label}: " + ", ".join(str(v) for v in found[key]))
    seed_opts = {k: v for k, v in options.items() if "seed" in k}
    seeds = [f"{k} = {v}" for k, v in seed_opts.items()] + \
        [f"{k}: " + ", ".join(map(str, v)) for k, v in found.items() if k in ("seed", "seeds")]
    return {
        "command": command or "Python API (reports.write_report)",
        "precision": "; ".join(parts) or "float64 (numpy)",
        "seeds": "; ".join(seeds) or "no random numbers are drawn (initial points are part of the dataset)",
        "options": ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
        if all(o == per_result[0] for o in per_result) else "they differ between datasets: see each dataset's page",
        "versions": versions(),
        "platform": f"{platform.system()} {platform.machine()}, Python {sys.version.split()[0]}",
    }


def number_text(x, spec: str = ".6g") -> str:
    """A float as text, with a zero always written "0" (never "-0").

    >>> number_text(-0.0), number_text(-1e-300, ".3g"), number_text(2.5)
    ('0', '-1e-300', '2.5')
    """
    return format(float(x) + 0.0, spec)


def _vec_text(v) -> str:
    return "(" + ", ".join(number_text(x, ".4g") for x in np.asarray(v, dtype=float).ravel()) + ")"


def _matrix_text(m) -> str:
    return "[" + "; ".join(" ".join(number_text(x, "g") for x in row) for row in np.asarray(m, dtype=float)) + "]"


def _dataset_view(result, dataset) -> dict:
    info = dict(result.dataset)
    view = {"name": info.get("name", "unnamed"), "source": info.get("source", ""), "model": info.get("model", ""),
            "n": info.get("n"), "T": info.get("T"), "d": info.get("d"), "loss": info.get("loss", ""),
            "description": "", "params": []}
    if dataset is not None:
        view["description"] = dataset.description
        if dataset.model == "prompt":
            view["params"] = [("head v", _vec_text(dataset.v)), ("key matrix W", _matrix_text(dataset.W)),
                              ("initial prompts", ", ".join(_vec_text(p) for p in dataset.inits))]
        else:  # self/cross attention: the trained parameter is W (or K, Q); logits x_it^T W z_i
            queries = (f"token {dataset.query_index} of each sequence" if dataset.model == "self"
                       else f"given, one per sequence (Z is {dataset.n} x {dataset.d})")
            view["params"] = [("head v", _vec_text(dataset.v)), ("queries z_i", queries),
                              ("parameterisation", f"{dataset.parameterization}" +
                               (f" (rank m = {dataset.rank})" if dataset.parameterization == "KQ" else "")),
                              ("initial W (Frobenius norms)",
                               ", ".join(number_text(np.linalg.norm(np.asarray(w, dtype=float)), ".4g") for w in dataset.inits))]
        if dataset.gd:
            view["params"].append(("GD options of the dataset", json.dumps(dataset.gd)))
    return view


def _token_view(result, dataset) -> dict | None:
    if dataset is None:
        return None
    marks: dict = {}

    def mark(i, t, label):
        marks.setdefault((i, t), [])
        if label not in marks[(i, t)]:
            marks[(i, t)].append(label)

    for c in result.checks:
        ev = c.to_dict()["evidence"]
        if c.id == "optimal-tokens":
            for i, a in enumerate(ev.get("alpha") or []):
                mark(i, a, "optimal")
        elif c.id == "p-svm":
            for i, t in ev.get("support") or []:
                mark(i, t, "support")
        elif c.id == "directional-limit":
            for j, run in enumerate(ev.get("runs") or []):
                for i, t in enumerate(run.get("selected") or []):
                    mark(i, t, f"GD run {j}")
    keys = dataset.features()
    show_keys = dataset.model == "prompt" and not np.array_equal(dataset.W, np.eye(dataset.d))
    sequences = []
    for i in range(min(dataset.n, MAX_SEQUENCES)):
        rows = [{"t": t, "x": _vec_text(dataset.X[i, t]), "k": _vec_text(keys[i, t]),
                 "gamma": number_text(dataset.gamma[i, t]), "marks": marks.get((i, t), [])}
                for t in range(min(dataset.T, MAX_TOKENS))]
        sequences.append({"i": i, "y": f"{dataset.Y[i]:+g}", "rows": rows})
    truncated = ""
    if dataset.n > MAX_SEQUENCES or dataset.T > MAX_TOKENS:
        truncated = (f"Showing {min(dataset.n, MAX_SEQUENCES)} of {dataset.n} sequences and "
                     f"{min(dataset.T, MAX_TOKENS)} of {dataset.T} tokens.")
    return {"sequences": sequences, "show_keys": show_keys, "truncated": truncated}


ROLES = (("premise", "Premises", "the hypotheses of the theorems, decided once for this dataset and shared by the "
                                 "claims that rest on them; a premise that does not hold puts those claims outside "
                                 "the theory (it is never a counterexample)"),
         ("claim", "Claims", "the conclusions of the papers' statements, each judged given its premises"),
         ("instrument", "Instruments", "the toolkit's own numerical self-checks (float64 against mpmath, exact "
                                       "certificates), reported apart from the claims"))
STATUS_TEXT = {
    "consistent with the theory": "every applicable claim holds, with its evidence; nothing is contradicted or undecided",
    "counterexample": "a claim fails while all its premises hold: the evidence holds what reproduces it",
    "undecided": "a claim or an instrument is inconclusive (a budget ran out, or a premise is undecided)",
    "outside the theory": "no claim applies: a premise of the theorems does not hold for this dataset "
                          "(what was observed is still reported)",
}
VERDICT_TEXT = {"holds": "holds", "fails": "fails", "inconclusive": "inconclusive", "not-applicable": "not applicable"}


def verdict_label(verdict: str, role: str = "claim") -> tuple[str, str]:
    """(css class, words) of a verdict as the pages show it: a premise that fails "does not hold" (neutral
    colour: it puts claims outside the theory, it is not a counterexample).

    >>> verdict_label("fails", "premise"), verdict_label("fails", "claim")
    (('premise-fails', 'does not hold'), ('fails', 'fails'))
    """
    if role == "premise" and verdict == "fails":
        return "premise-fails", "does not hold"
    return verdict, verdict


def _statement_view(st) -> dict | None:
    if not isinstance(st, dict):
        return None
    return {"paper": st.get("paper", ""), "paper_title": st.get("paper_title", ""), "name": st.get("statement", ""),
            "kind": st.get("kind", ""), "confidence": st.get("confidence", ""),
            "confidence_meaning": st.get("confidence_meaning", ""), "text": st.get("text", ""),
            "conclusion": st.get("conclusion", ""), "id": st.get("id", "")}


def check_views(result, dataset=None) -> list:
    """Per check, in the result's order (the order of verify's REGISTRY): id, role, verdict, summary, the
    statement it tests, its premises with their verdicts, prediction-vs-observation tables, figures, evidence
    tables and the raw evidence JSON.

    >>> from attnsvm.verify import CheckResult, Result
    >>> r = Result(dataset={"name": "demo"}, checks=[CheckResult("new-check", "holds", "ok", "", {"x": 1.0})])
    >>> [(v["id"], v["verdict"], v["evidence_tables"][0].rows) for v in check_views(r)]
    [('new-check', 'holds', [['x', '1']])]
    """
    ctx = PlotContext(dataset=dataset, result=result)
    roles = {c.id: c.role for c in result.checks}
    out = []
    for c in result.checks:
        ev = c.to_dict()["evidence"]
        css, words = verdict_label(c.verdict, c.role)
        premises = [{"id": p, "verdict": v, "css": verdict_label(v, roles.get(p, "premise"))[0],
                     "words": verdict_label(v, roles.get(p, "premise"))[1], "here": p in roles}
                    for p, v in (c.premises or {}).items()]
        facts, figures, tables = facts_for(c.id, ev, ctx), figures_for(c.id, ev, ctx), evidence_tables(ev)
        small = sum(len(t.rows) + len(t.details) for t in tables) <= 14
        out.append({"id": c.id, "verdict": c.verdict, "css": css, "words": words, "summary": c.summary,
                    "claim": c.claim, "role": c.role, "statement": _statement_view(c.statement),
                    "premises": premises, "facts": facts, "figures": figures, "evidence_tables": tables,
                    "evidence_open": small and not facts and not figures, "evidence_json": json.dumps(ev, indent=1)})
    return out


def _groups(views: list) -> list:
    """The views grouped by role, in the order premises, claims, instruments (empty groups left out)."""
    groups = []
    for role, title, text in ROLES:
        items = [v for v in views if v["role"] == role]
        if items:
            groups.append({"role": role, "title": title, "text": text, "checks": items})
    other = [v for v in views if v["role"] not in {r for r, _, _ in ROLES}]
    if other:
        groups.append({"role": "other", "title": "Other checks", "text": "", "checks": other})
    return groups


def _claim_counts(result) -> str:
    claims = [c.verdict for c in result.checks if c.role == "claim"]
    counts = {v: sum(1 for x in claims if x == v) for v in SYMBOLS}
    return ", ".join(f"{n} {VERDICT_TEXT[v]}" for v, n in counts.items() if n) or "no claims"


def render_dataset_page(result, dataset=None, *, json_file: str = "result.json", prov: dict | None = None) -> str:
    """The HTML page of one dataset's :class:`verify.Result` (``dataset``: the Dataset, for the token
    table and the token-plane plot; optional). See the module docstring for an example. The same result
    gives the same bytes, in any process (figure ids are numbered per page; no time is written)."""
    reset_figure_ids()
    views = check_views(result, dataset)
    return environment().get_template("dataset.html").render(
        ds=_dataset_view(result, dataset), tokens=_token_view(result, dataset), groups=_groups(views),
        status_words=result.status, status_css=status_badge(result.status), status_text=STATUS_TEXT.get(result.status, ""),
        claim_counts=_claim_counts(result), json_file=json_file, schema=result.to_dict()["schema"],
        prov=prov or provenance([result]), open=False, loss=result.dataset.get("loss", ""))


def render_index(entries: list, *, prov: dict | None = None) -> str:
    """The index page. ``entries``: dicts with ``result``, ``page`` and ``json`` (file names) and an
    optional ``dataset``. Columns: the dataset, its status, then one narrow column per check (a symbol with
    a link and the summary as its title), grouped by role (premises, claims, instruments) under rotated
    headers, so that the page fits 1400 px with all the checks.

    >>> from attnsvm.verify import CheckResult, Result
    >>> r = Result(dataset={"name": "demo", "n": 1, "T": 2, "d": 2}, checks=[CheckResult("p-svm", "fails", "bad")])
    >>> html = render_index([{"result": r, "page": "demo.html", "json": "demo.json"}])
    >>> 'href="demo.html#check-p-svm"' in html and 'title="p-svm: fails: bad"' in html
    True
    """
    role_of: dict = {}
    for e in entries:
        for c in e["result"].checks:
            role_of.setdefault(c.id, c.role)
    columns = []
    for role, title, _ in ROLES:
        ids = [cid for cid in role_of if role_of[cid] == role]
        if ids:
            columns.append({"role": role, "title": title, "ids": ids})
    other = [cid for cid in role_of if role_of[cid] not in {r for r, _, _ in ROLES}]
    if other:
        columns.append({"role": "other", "title": "Other", "ids": other})
    rows = []
    statuses: dict = {}
    for e in entries:
        r = e["result"]
        ds = e.get("dataset")
        cells = {}
        for c in r.checks:
            css, words = verdict_label(c.verdict, c.role)
            cells[c.id] = {"css": css, "words": words, "symbol": SYMBOLS.get(c.verdict, "?"), "summary": c.summary}
        statuses[r.status] = statuses.get(r.status, 0) + 1
        rows.append({"name": r.dataset.get("name", "unnamed"), "page": e["page"], "json": e["json"],
                     "n": r.dataset.get("n"), "T": r.dataset.get("T"), "d": r.dataset.get("d"),
                     "model": r.dataset.get("model", ""),
                     "description": ds.description if ds is not None else "",
                     "status": r.status, "status_css": status_badge(r.status), "cells": cells})
    summary = [{"status": st, "css": status_badge(st), "count": statuses[st]}
               for st in STATUS_TEXT if st in statuses] + \
        [{"status": st, "css": status_badge(st), "count": n} for st, n in statuses.items() if st not in STATUS_TEXT]
    return environment().get_template("index.html").render(
        entries=rows, columns=columns, summary=summary, status_text=STATUS_TEXT,
        prov=prov or provenance([e["result"] for e in entries]), open=False, loss="")
