"""reports.joint_plots: SVG strings with the expected series, from real check evidence (also via JSON):
`joint-regularization-path` (v and p trained) and `regularization-path` (p alone)."""
import json
import re

import pytest

from attnsvm.reports.joint_plots import has_path, one_minus_corr_svg, path_plane_svg, plane_dimension
from attnsvm.verify import check

IDS = ["regularization-path", "joint-regularization-path"]


@pytest.fixture(scope="module")
def evidence():
    """{check id: (evidence, the same evidence through JSON)} on joint-relaxed."""
    r = check("joint-relaxed", only=IDS)
    doc = {c["id"]: c["evidence"] for c in json.loads(r.to_json())["checks"]}
    return {cid: (r[cid].evidence, doc[cid]) for cid in IDS}


def test_path_plane_svg(evidence):
    for ev in evidence["joint-regularization-path"]:
        assert has_path(ev) and plane_dimension(ev) == 2
        svg = path_plane_svg(ev, title="joint-relaxed")
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        for label in ("v_r / r (path)", "p_R / R (path)", "v-SVM direction", "relaxed p-SVM direction",
                      "plain p-SVM direction", "joint-relaxed"):
            assert label in svg, label
        assert len(re.findall(r'id="f\d+-line2d_', svg)) >= 6  # ids made unique per figure by reports.plots.to_svg
        assert "xmlns" not in svg and "http" not in svg


def test_one_minus_corr_svg(evidence):
    svg = one_minus_corr_svg(evidence["joint-regularization-path"][1])
    for label in ("joint v vs v-SVM", "joint p vs relaxed p-SVM", "joint p vs plain p-SVM", "1 - corr"):
        assert label in svg, label
    assert "p alone vs p-SVM" not in svg
    svg = one_minus_corr_svg(evidence["regularization-path"][1])
    assert "p alone vs p-SVM" in svg and "joint v vs v-SVM" not in svg


def test_p_alone_only(evidence):
    ev = evidence["regularization-path"][0]
    assert has_path(ev) and "p-SVM direction" in path_plane_svg(ev)
    assert not has_path({}) and plane_dimension({}) is None
