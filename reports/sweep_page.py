"""The HTML page of a sweep table (schema attnsvm.sweep/1): plots of the fractions against d, for the W and (K, Q)
models also the mean and spread of 1 - corr and of the largest softmax probability against iteration and the
table of certified ranks, and the table.

Presentation only: every number shown comes from the table; nothing is computed here but plot
coordinates. The page is self-contained (inline SVG, no scripts, no external files); every string from
the table is escaped by Jinja2's autoescape.
"""
from __future__ import annotations

from jinja2 import Environment, select_autoescape

SERIES = (
    ("feasible_optimal", "SVM of the optimal tokens feasible (datasets)", "#1b9e77", False),
    ("optimal", "runs converging to the optimal tokens", "#d95f02", True),
    ("local", "runs converging to another locally optimal selection", "#7570b3", True),
    ("neither", "runs converging to neither (stalled, mixed, not locally optimal)", "#e7298a", True),
    ("undecided", "runs undecided", "#999999", True),
    ("zero_optimal", "runs from the first init (p = 0, W = 0, K = Q = I/10) converging to the optimal tokens",
     "#66a61e", True),
)
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 570, 300, 60, 20, 20, 40

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>attnsvm sweep</title>
<style>
body { font-family: sans-serif; margin: 2em; max-width: 70em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
.legend span { display: inline-block; margin-right: 1.2em; }
.swatch { display: inline-block; width: 1em; height: 0.6em; margin-right: 0.3em; }
code { background: #f6f6f6; }
</style></head><body>
<h1>Sweep over a random family</h1>
<p>Family: {{ family.name }} ({{ family.tokens }}; head {{ family.head }}; labels {{ family.labels }}; W {{ family.W }};
{% if family.queries %}queries {{ family.queries }}; {% endif %}seeding {{ family.seeding }}).
{% if gd.target %}Trained parameter {{ gd.parameter }}; the SVM of a selection: the {{ gd.target }}
(for W and (K, Q) read p as that parameter and p-SVM as that SVM in the rule below).{% endif %} GD: {{ gd.method }}, step {{ gd.step }}, {{ gd.loss }} loss, {{ options.iterations }}
iterations, {{ options.inits }} init(s) per dataset (p = 0 and random inits of radius {{ options.init_radius }}),
{{ options.seeds }} dataset(s) per grid point; {{ gd.backend }}; computed {{ where }} in {{ seconds }} s.</p>
<p>Convergence rule: {{ rule }}.</p>
{% for plot in plots %}
<h2>n = {{ plot.n }}, T = {{ plot.T }}</h2>
<svg xmlns="http://www.w3.org/2000/svg" width="{{ width }}" height="{{ height }}" role="img"
     aria-label="fractions against d for n = {{ plot.n }}, T = {{ plot.T }}">
  <rect x="{{ left }}" y="{{ top }}" width="{{ inner_w }}" height="{{ inner_h }}" fill="none" stroke="#888"/>
  {% for tick in plot.yticks %}
  <line x1="{{ left }}" x2="{{ left + inner_w }}" y1="{{ tick.y }}" y2="{{ tick.y }}" stroke="#eee"/>
  <text x="{{ left - 6 }}" y="{{ tick.y + 4 }}" font-size="11" text-anchor="end">{{ tick.label }}</text>
  {% endfor %}
  {% for tick in plot.xticks %}
  <text x="{{ tick.x }}" y="{{ top + inner_h + 16 }}" font-size="11" text-anchor="middle">{{ tick.label }}</text>
  {% endfor %}
  <text x="{{ left + inner_w / 2 }}" y="{{ height - 4 }}" font-size="12" text-anchor="middle">d</text>
  <text x="14" y="{{ top + inner_h / 2 }}" font-size="12" text-anchor="middle" transform="rotate(-90 14 {{ top + inner_h / 2 }})">fraction of datasets / runs</text>
  {% for s in plot.series %}
  <polyline fill="none" stroke="{{ s.color }}" stroke-width="2" points="{{ s.points }}"/>
  {% for p in s.markers %}<circle cx="{{ p.x }}" cy="{{ p.y }}" r="3" fill="{{ s.color }}"><title>{{ s.label }}: d = {{ p.d }}, {{ p.value }}</title></circle>{% endfor %}
  {% endfor %}
</svg>
<p class="legend">{% for s in plot.series %}<span><span class="swatch" style="background: {{ s.color }}"></span>{{ s.label }}</span>{% endfor %}</p>
{% endfor %}
{% for cp in curve_plots %}
<h2>{{ cp.title }}</h2>
<svg xmlns="http://www.w3.org/2000/svg" width="{{ width }}" height="{{ height }}" role="img" aria-label="{{ cp.title }}">
  <rect x="{{ left }}" y="{{ top }}" width="{{ inner_w }}" height="{{ inner_h }}" fill="none" stroke="#888"/>
  {% for tick in cp.yticks %}
  <line x1="{{ left }}" x2="{{ left + inner_w }}" y1="{{ tick.y }}" y2="{{ tick.y }}" stroke="#eee"/>
  <text x="{{ left - 6 }}" y="{{ tick.y + 4 }}" font-size="11" text-anchor="end">{{ tick.label }}</text>
  {% endfor %}
  {% for tick in cp.xticks %}
  <text x="{{ tick.x }}" y="{{ top + inner_h + 16 }}" font-size="11" text-anchor="middle">{{ tick.label }}</text>
  {% endfor %}
  <text x="{{ left + inner_w / 2 }}" y="{{ height - 4 }}" font-size="12" text-anchor="middle">iteration</text>
  {% for s in cp.series %}
  {% if s.band %}<polygon points="{{ s.band }}" fill="{{ s.color }}" fill-opacity="0.15" stroke="none"/>{% endif %}
  <polyline fill="none" stroke="{{ s.color }}" stroke-width="2" points="{{ s.points }}"><title>{{ s.label }}</title></polyline>
  {% endfor %}
</svg>
<p class="legend">{% for s in cp.series %}<span><span class="swatch" style="background: {{ s.color }}"></span>{{ s.label }}</span>{% endfor %}
(line: mean over runs; band: mean +- one standard deviation)</p>
{% endfor %}
{% if rank_rows %}
<h2>Ranks of the W-SVMs of the optimal tokens</h2>
<p>Certified: the Frobenius solution's exact rank (exact KKT certificate); the nuclear solution's effective rank at
relative level {{ rank_level }} (every optimal solution is that close, in nuclear norm, to a matrix of that rank: dual
certificate). Beside them, the authors' rule: matrix_rank(tol=1e-7) on the raw solver output. Infeasible instances are
excluded and counted; "undetermined": no certified decision.</p>
<table>
<tr><th>n</th><th>T</th><th>d</th><th>instances</th><th>infeasible</th><th>Frobenius certified</th><th>Frobenius 1e-7</th>
<th>nuclear certified</th><th>nuclear 1e-7</th><th>undetermined (F / *)</th></tr>
{% for r in rank_rows %}
<tr><td>{{ r.n }}</td><td>{{ r.T }}</td><td>{{ r.d }}</td><td>{{ r.instances }}</td><td>{{ r.infeasible }}</td>
<td>{{ r.fro_cert }}</td><td>{{ r.fro_abs }}</td><td>{{ r.nuc_cert }}</td><td>{{ r.nuc_abs }}</td><td>{{ r.undetermined }}</td></tr>
{% endfor %}
</table>
{% endif %}
<h2>Table</h2>
<table>
<tr><th>n</th><th>T</th><th>d</th><th>datasets</th><th>runs</th><th>p-SVM(optimal) feasible</th><th>selections feasible</th>
<th>locally optimal / dataset</th>{% for c in classes %}<th>{{ c }}</th>{% endfor %}<th>seconds</th></tr>
{% for r in rows %}
<tr><td>{{ r.n }}</td><td>{{ r.T }}</td><td>{{ r.d }}</td><td>{{ r.datasets }}</td><td>{{ r.runs }}</td>
<td>{{ r.feasible_optimal }}</td><td>{{ r.feasible_selections }}</td><td>{{ r.locally_optimal_per_dataset }}</td>
{% for c in classes %}<td>{{ r.fractions[c] }}</td>{% endfor %}<td>{{ r.seconds }}</td></tr>
{% endfor %}
</table>
<p>Classes: {% for name, text in class_text %}<code>{{ name }}</code>: {{ text }}{% if not loop.last %}; {% endif %}{% endfor %}.</p>
</body></html>
"""


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def _plots(rows: list) -> list:
    """Coordinates of one plot per (n, T): each series' points (x from d, y from the fraction in [0, 1])."""
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["n"], r["T"]), []).append(r)
    plots = []
    for (n, T), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["d"])
        ds = [r["d"] for r in rs]
        lo, hi = min(ds), max(ds)
        xs = {d: LEFT + (inner_w * (d - lo) / (hi - lo) if hi > lo else inner_w / 2) for d in ds}
        series = []
        for key, label, color, is_fraction in SERIES:
            markers = []
            for r in rs:
                if key == "zero_optimal":
                    value = r.get("fractions_from_zero", {}).get("optimal")
                else:
                    value = r["fractions"].get(key) if is_fraction else r.get(key)
                if value is None:
                    continue
                markers.append({"x": round(xs[r["d"]], 2), "y": round(TOP + inner_h * (1 - float(value)), 2),
                                "d": r["d"], "value": f"{float(value):.3f}"})
            series.append({"label": label, "color": color, "markers": markers,
                           "points": " ".join(f"{m['x']},{m['y']}" for m in markers)})
        plots.append({"n": n, "T": T, "series": series,
                      "xticks": [{"x": round(xs[d], 2), "label": d} for d in ds],
                      "yticks": [{"y": round(TOP + inner_h * (1 - f), 2), "label": f"{f:.2f}"}
                                 for f in (0, 0.25, 0.5, 0.75, 1)]})
    return plots


CURVE_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")


def _curve_plots(rows: list) -> list:
    """Per (n, T): 1 - corr (log scale) and the largest softmax probability against iteration (log scale), one
    series per d (mean line, mean +- std band), from each row's ``curves``."""
    import math

    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    groups: dict = {}
    for r in rows:
        if r.get("curves") and r["curves"].get("iterations"):
            groups.setdefault((r["n"], r["T"]), []).append(r)
    plots = []
    for (n, T), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["d"])
        its_max = max(max(r["curves"]["iterations"]) for r in rs)
        xmax = math.log10(its_max + 1)

        def X(it):
            return round(LEFT + inner_w * math.log10(it + 1) / xmax, 2) if xmax > 0 else LEFT

        for key, title, log_y in (("one_minus_corr", "1 - corr to the SVM of the final selection", True),
                                  ("top_probability", "largest softmax probability (mean over sequences)", False)):
            vals = [v for r in rs for v in r["curves"][f"{key}_mean"] if v is not None and (v > 0 or not log_y)]
            if not vals:
                continue
            if log_y:
                lo = math.floor(math.log10(min(vals))) if min(vals) > 0 else -16
                hi = max(0, math.ceil(math.log10(max(vals))))
                fy = (lambda v, lo=lo, hi=hi: math.log10(max(v, 10.0 ** lo)))
                ticks = [(10.0 ** k, f"1e{k}") for k in range(lo, hi + 1, max(1, (hi - lo) // 5))]
            else:
                lo, hi = 0.0, 1.0
                fy = (lambda v: min(max(v, 0.0), 1.0))
                ticks = [(f, f"{f:.2f}") for f in (0, 0.25, 0.5, 0.75, 1)]

            def Y(v, lo=lo, hi=hi, fy=fy):
                return round(TOP + inner_h * (1 - (fy(v) - lo) / (hi - lo)), 2) if hi > lo else TOP

            series = []
            for k, r in enumerate(rs):
                c = r["curves"]
                pts = [(it, m, sd) for it, m, sd in zip(c["iterations"], c[f"{key}_mean"], c[f"{key}_std"])
                       if m is not None and (m > 0 or not log_y)]
                if not pts:
                    continue
                upper = [(X(it), Y(m + (sd or 0))) for it, m, sd in pts]
                lower = [(X(it), Y(max(m - (sd or 0), m / 10 if log_y else m - (sd or 0)))) for it, m, sd in pts]
                band = " ".join(f"{x},{y}" for x, y in upper + lower[::-1])
                series.append({"label": f"d = {r['d']}", "color": CURVE_COLORS[k % len(CURVE_COLORS)],
                               "points": " ".join(f"{X(it)},{Y(m)}" for it, m, _ in pts), "band": band})
            xt = [1, 10, 100, 1000, 10000, 100000]
            plots.append({"title": f"n = {n}, T = {T}: {title}", "series": series,
                          "xticks": [{"x": X(t), "label": t} for t in xt if t <= its_max],
                          "yticks": [{"y": Y(v), "label": lab} for v, lab in ticks]})
    return plots


def _rank_rows(rows: list) -> list:
    out = []
    for r in rows:
        rk = r.get("ranks")
        if not rk:
            continue
        f, nu = rk["frobenius"], rk["nuclear"]
        out.append({"n": r["n"], "T": r["T"], "d": r["d"], "instances": rk["instances"], "infeasible": rk["infeasible"],
                    "fro_cert": _fmt(f["certified_mean"]), "fro_abs": _fmt(f["absolute_1e-7_mean"]),
                    "nuc_cert": _fmt(nu["certified_mean"]), "nuc_abs": _fmt(nu["absolute_1e-7_mean"]),
                    "undetermined": f"{f['undetermined']} / {nu['undetermined']}"})
    return out


def render_sweep_page(table: dict) -> str:
    """The HTML page (a string) of a sweep table."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["fmt"] = _fmt
    rows = [{**r, "feasible_optimal": _fmt(r.get("feasible_optimal")),
             "feasible_selections": _fmt(r.get("feasible_selections")),
             "locally_optimal_per_dataset": _fmt(r.get("locally_optimal_per_dataset")),
             "fractions": {k: _fmt(v) for k, v in r["fractions"].items()}} for r in table["rows"]]
    classes = [c for c in ("optimal", "local", "not_local", "stalled", "mixed", "undecided", "neither")
               if any(c in r["fractions"] for r in table["rows"])]
    return env.from_string(_TEMPLATE).render(
        family=table.get("family", {}), gd=table.get("gd", {}), options=table.get("options", {}),
        rule=table.get("rule", ""), where=table.get("where", ""), seconds=table.get("seconds", ""),
        plots=_plots(table["rows"]), rows=rows, classes=classes, curve_plots=_curve_plots(table["rows"]),
        rank_rows=_rank_rows(table["rows"]),
        rank_level=next((r["ranks"]["level"] for r in table["rows"] if r.get("ranks")), ""),
        class_text=sorted(table.get("classes", {}).items()),
        width=WIDTH, height=HEIGHT, left=LEFT, top=TOP, inner_w=WIDTH - LEFT - RIGHT, inner_h=HEIGHT - TOP - BOTTOM)
