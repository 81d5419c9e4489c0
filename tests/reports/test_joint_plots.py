"""reports.joint_plots: SVG strings with the expected series, from real check evidence (also via JSON)."""
import json
import re

import pytest

from attnsvm.reports.joint_plots import one_minus_corr_svg, path_plane_svg
from attnsvm.verify import check


@pytest.fixture(scope="module")
def evidence():
    r = check("joint-relaxed", only=["regularization-path"])
    return r["regularization-path"].evidence, json.loads(r.to_json())["checks"][0]["evidence"]


def test_path_plane_svg(evidence):
    for ev in evidence:
        svg = path_plane_svg(ev, title="joint-relaxed")
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        for label in ("v_r / r (path)", "p_R / R (path)", "v-SVM direction", "relaxed p-SVM direction",
                      "plain p-SVM direction", "joint-relaxed"):
            assert label in svg, label
        assert len(re.findall(r'id="f\d+-line2d_', svg)) >= 6  # ids made unique per figure by reports.plots.to_svg
        assert "xmlns" not in svg and "http" not in svg


def test_one_minus_corr_svg(evidence):
    svg = one_minus_corr_svg(evidence[1])
    assert svg.startswith("<svg")
    for label in ("p alone vs p-SVM", "joint v vs v-SVM", "joint p vs relaxed p-SVM", "joint p vs plain p-SVM",
                  "1 - corr"):
        assert label in svg, label


def test_p_alone_only():
    ev = check("single-input-global", only=["regularization-path"])["regularization-path"].evidence
    svg = one_minus_corr_svg(ev)
    assert "p alone vs p-SVM" in svg and "joint v vs v-SVM" not in svg
    assert path_plane_svg(ev).startswith("<svg")
