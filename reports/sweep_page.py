"""The HTML page of a sweep table (schema attnsvm.sweep/1): plots of the fractions against d, and the table.

Presentation only: every number shown comes from the table; nothing is computed here but plot
coordinates. The page is self-contained (inline SVG, no scripts, no external files); every string from
the table is escaped by Jinja2's autoescape.
"""
from __future__ import annotations

from jinja2 import Environment, select_autoescape

SERIES = (
    ("feasible_optimal", "p-SVM of the optimal tokens feasible (datasets)", "#1b9e77", False),
    ("optimal", "runs converging to the optimal tokens", "#d95f02", True),
    ("local", "runs converging to another locally optimal selection", "#7570b3", True),
    ("neither", "runs converging to neither (stalled, mixed, not locally optimal)", "#e7298a", True),
    ("undecided", "runs undecided", "#999999", True),
    ("zero_optimal", "runs from p = 0 converging to the optimal tokens", "#66a61e", True),
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
seeding {{ family.seeding }}). GD: {{ gd.method }}, step {{ gd.step }}, {{ gd.loss }} loss, {{ options.iterations }}
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
        plots=_plots(table["rows"]), rows=rows, classes=classes,
        class_text=sorted(table.get("classes", {}).items()),
        width=WIDTH, height=HEIGHT, left=LEFT, top=TOP, inner_w=WIDTH - LEFT - RIGHT, inner_h=HEIGHT - TOP - BOTTOM)
