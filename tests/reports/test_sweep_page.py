"""Tests of reports.sweep_page: escaping, and plots that show the table's numbers."""
import re
import xml.etree.ElementTree as ET

from attnsvm.reports.sweep_page import HEIGHT, TOP, BOTTOM, render_sweep_page


def table(name="unit-norm Gaussian"):
    rows = []
    for d, (feas, opt) in zip([2, 4, 6], [(0.25, 0.2), (0.5, 0.5), (1.0, 0.75)]):
        fr = {"optimal": opt, "local": 1 - opt, "not_local": 0.0, "stalled": 0.0, "mixed": 0.0, "undecided": 0.0,
              "neither": 0.0}
        rows.append({"n": 3, "T": 4, "d": d, "datasets": 4, "runs": 20, "feasible_optimal": feas,
                     "feasible_selections": None, "locally_optimal_per_dataset": None, "fractions": fr,
                     "seconds": 1.0})
    return {"schema": "attnsvm.sweep/1", "family": {"name": name}, "gd": {}, "options": {}, "rule": "r",
            "classes": {"optimal": "o"}, "rows": rows, "where": "local", "seconds": 3.0}


def test_strings_from_the_table_are_escaped():
    html = render_sweep_page(table(name="<script>alert(1)</script>"))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_svg_is_well_formed_and_plots_the_fractions():
    html = render_sweep_page(table())
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 1                                   # one (n, T) group
    root = ET.fromstring(svgs[0])
    ns = {"s": "http://www.w3.org/2000/svg"}
    lines = root.findall("s:polyline", ns)
    inner_h = HEIGHT - TOP - BOTTOM
    ys = [[float(p.split(",")[1]) for p in pl.get("points").split()] for pl in lines]
    values = [[(TOP + inner_h - y) / inner_h for y in series] for series in ys]
    # first series: feasibility of the optimal tokens' p-SVM; second: runs converging to the optimal tokens
    assert [round(v, 6) for v in values[0]] == [0.25, 0.5, 1.0]
    assert [round(v, 6) for v in values[1]] == [0.2, 0.5, 0.75]
