"""The W/KQ plots render the evidence of the checks as SVG."""
import json

from attnsvm.reports.w_plots import kq_limit_svg, w_limit_svg
from attnsvm.verify.result import jsonable


def test_plots_render_svg_from_evidence_and_its_json():
    rows = [{"iteration": k, "norm": 10.0 ** (k / 2), "one_minus_corr_fro": 10.0 ** -k, "fro_gap": 10.0 ** -k / 2,
             "nuc_gap": 0.1 + 10.0 ** -k} for k in range(1, 6)] + [{"iteration": 0, "norm": 0.0}]
    ev = {"trajectory": rows, "tol": 1e-6, "nuclear_gap_of_frobenius_solution": 0.12,
          "frobenius_gap_of_nuclear_solution": 0.2}
    for f in (w_limit_svg, kq_limit_svg):
        svg = f(json.loads(json.dumps(jsonable(ev))))
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert "<path" in svg
