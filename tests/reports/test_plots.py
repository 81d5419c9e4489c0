"""Plots: the registry, SVG output safe to inline, the token plane only for 2-D key spans, and the
drawn prediction lines where the evidence puts them."""
from __future__ import annotations

import re

import numpy as np
import pytest

from attnsvm.reports import plots
from attnsvm.reports.plots import Figure, PlotContext, figures_for, plane_basis, register, to_svg
from attnsvm.verify import Dataset


def test_plane_basis_uses_coordinates_when_keys_live_in_two():
    keys = np.zeros((2, 3, 3))
    keys[..., :2] = np.arange(12).reshape(2, 3, 2) - 5.0
    basis, names = plane_basis(keys)
    assert basis.tolist() == [[1, 0], [0, 1], [0, 0]] and names == ["coordinate 1", "coordinate 2"]


def test_plane_basis_rotated_plane_and_full_rank():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    keys = rng.normal(size=(5, 3, 2)) @ q[:, :2].T  # a 2-D plane in R^4, not a coordinate plane
    basis, names = plane_basis(keys)
    flat = keys.reshape(-1, 4)
    assert np.allclose(flat @ basis @ basis.T, flat)  # the plane is spanned
    assert names[0].startswith("e1")
    assert plane_basis(rng.normal(size=(5, 3, 3))) is None


def test_to_svg_is_inlinable_and_ids_are_unique():
    from matplotlib.figure import Figure as MplFigure

    svgs = []
    for _ in range(2):
        fig = MplFigure()
        fig.add_subplot().plot([1, 2], [3, 4])
        svgs.append(to_svg(fig))
    for svg in svgs:
        assert svg.startswith("<svg") and "<?xml" not in svg and "http" not in svg
    ids = [set(re.findall(r'\sid="([^"]+)"', s)) for s in svgs]
    assert ids[0] and not ids[0] & ids[1]
    for s, own in zip(svgs, ids):  # every internal reference points to an id of the same SVG
        refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', s))
        assert refs and refs <= own


def test_registry_plugs_in_and_survives_broken_plots():
    @register("test-check")
    def broken(evidence, ctx):
        raise ValueError("no data")

    try:
        (fig,) = figures_for("test-check", {}, PlotContext())
        assert isinstance(fig, Figure) and fig.svg == "" and "no data" in fig.caption
    finally:
        del plots.PLOTS["test-check"]
    assert figures_for("never-registered", {}, PlotContext()) == []


def _run(thetas, omc, p_mm):
    traj = [{"iteration": k, "norm": float(np.linalg.norm(t)), "one_minus_corr": c, "mass_selected": 0.9,
             "one_minus_mass": 0.1, "theta": list(t), "selected": [0]} for k, (t, c) in enumerate(zip(thetas, omc))]
    return {"init": list(thetas[0]), "selected": [0], "p_mm": [str(x) for x in p_mm], "trajectory": traj}


def test_directional_limit_figures_depend_on_the_key_span():
    ds2 = Dataset(X=[[[1, 0, 5], [0, 1, 5], [0, 0, 5]]], Y=[1], v=[1, 0, 0], W=[[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    ds3 = Dataset(X=[[[1, 0, 0], [0, 1, 0], [0, 0, 1]]], Y=[1], v=[1, 0, 0])
    thetas = [np.array([0.0, 0, 0]), np.array([1.0, 0.2, 0]), np.array([10.0, 1, 0])]
    ev = {"runs": [_run(thetas, [None, 1e-2, 1e-4], [1, 0, 0])], "tol": 1e-6}
    titles2 = [f.title for f in figures_for("directional-limit", ev, PlotContext(dataset=ds2))]
    titles3 = [f.title for f in figures_for("directional-limit", ev, PlotContext(dataset=ds3))]
    assert any("plane of the keys" in t for t in titles2)
    assert not any("plane of the keys" in t for t in titles3) and len(titles3) == len(titles2) - 1


@pytest.mark.parametrize("check_id", ["norm-divergence", "directional-limit"])
def test_empty_evidence_draws_nothing(check_id):
    assert figures_for(check_id, {}, PlotContext()) == []


def test_norm_growth_caption_reports_measured_and_predicted():
    ev = {"checkpoints": [{"iteration": k, "norm": 0.6 * np.log(k) + 1} for k in (1, 10, 100, 1000)],
          "predicted_slope": 0.6, "slope": 0.6, "slope_window": [100, 1000]}
    (fig,) = figures_for("norm-divergence", ev, PlotContext())
    assert "Measured slope d||p_k||/d ln k = 0.6" in fig.caption and "predicted ||p_mm|| = 0.6" in fig.caption
    assert fig.svg.startswith("<svg")


def _capture_figures(monkeypatch):
    captured = []
    monkeypatch.setattr(plots, "to_svg", lambda fig: captured.append(fig) or "<svg></svg>")
    return captured


def test_predicted_lines_have_the_predicted_slopes(monkeypatch):
    captured = _capture_figures(monkeypatch)
    thetas = [np.array([x, 0.0]) for x in (1.0, 10.0, 100.0)]
    ev = {"runs": [_run(thetas, [1e-2, 1e-4, 1e-6], [1, 0])], "tol": 1e-6}
    figures_for("directional-limit", ev, PlotContext())
    ax = captured[0].axes[0]
    (ref,) = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    x, y = ref.get_xdata(), ref.get_ydata()
    assert np.polyfit(np.log(x), np.log(y), 1)[0] == pytest.approx(-2.0)
    captured.clear()
    ks = [1, 10, 100, 1000]
    ev = {"checkpoints": [{"iteration": k, "norm": 0.3 * np.log(k) + 2} for k in ks], "predicted_slope": 0.7}
    figures_for("norm-divergence", ev, PlotContext())
    ax = captured[0].axes[0]
    (pred,) = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    x, y = np.asarray(pred.get_xdata(), float), np.asarray(pred.get_ydata(), float)
    assert np.polyfit(np.log(x), y, 1)[0] == pytest.approx(0.7)  # ||p_mm|| per unit ln k
    assert y[-1] == pytest.approx(0.3 * np.log(1000) + 2)  # through the last observed point


def test_svm_equivalence_plot_and_empty_evidence():
    from attnsvm.reports.plots import regularization_path_plots, svm_equivalence_plot

    rows = [{"iteration": k, "norm": 0.1 * k, "one_minus_corr_svmeq": 1.0 / k ** 2, "one_minus_corr_dir": 2.0 / k ** 2,
             "one_minus_corr_one_token": 0.2, "masked_mass": 10.0 ** -k} for k in (10, 100, 1000)]
    figs = svm_equivalence_plot({"trend": rows, "at_authors_steps": {"norm": 10.0}}, None)
    assert len(figs) == 1 and "<svg" in figs[0].svg
    assert svm_equivalence_plot({}, None) == [] and regularization_path_plots({"scope": "x"}, None) == []


def _synthetic_run(zero_from=300.0):
    cps = []
    for k, r in enumerate(np.geomspace(0.1, 1e4, 30)):
        cps.append({"iteration": k, "norm": r, "theta": [r, 0.0], "selected": [0],
                    "one_minus_corr": 1e-2 * r ** -2 if r < zero_from else 0.0,
                    "one_minus_mass": float(np.exp(-r)) if r < 700 else 0.0})
    return {"init": [0.0, 0.0], "selected": [0], "p_mm": ["1", "0"], "checkpoints": cps}


def test_rounding_level_zeros_are_marked_and_keep_the_axis_on_the_curve(monkeypatch):
    captured = _capture_figures(monkeypatch)
    (fig,) = [f for f in figures_for("directional-limit", {"runs": [_synthetic_run()], "tol": 1e-6}, PlotContext())
              if "1 - corr" in f.title]
    assert "9 checkpoint(s) with 1 - corr = 0" in fig.caption
    ax = captured[0].axes[0]
    bottom = ax.get_ylim()[0]
    smallest = 1e-2 * max(r for r in np.geomspace(0.1, 1e4, 30) if r < 300) ** -2
    assert smallest / 100 < bottom < smallest          # the axis ends just below the smallest real value
    zeros = [ln for ln in ax.lines if ln.get_marker() == "v"]
    assert len(zeros) == 1 and len(zeros[0].get_xdata()) == 9
    assert np.allclose(zeros[0].get_ydata(), bottom)   # drawn on the bottom edge, named in the legend
    assert any("rounding level" in t.get_text() for t in ax.get_legend().get_texts())


def test_legend_colours_match_their_lines(monkeypatch):
    captured = _capture_figures(monkeypatch)
    figures_for("directional-limit", {"runs": [_synthetic_run(), _synthetic_run()], "tol": 1e-6}, PlotContext())
    from matplotlib.colors import to_rgba

    for fig in captured:
        ax = fig.axes[0]
        legend = ax.get_legend()
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            lines = [ln for ln in ax.lines if ln.get_label() == text.get_text()]
            if lines and hasattr(handle, "get_color"):
                assert to_rgba(handle.get_color()) == to_rgba(lines[0].get_color()), text.get_text()
        # the predicted slope is one grey entry, not the colour of a run
        slope = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
        assert all(to_rgba(ln.get_color()) == to_rgba("0.45") for ln in slope)


def test_off_selected_mass_is_on_a_log_axis(monkeypatch):
    captured = _capture_figures(monkeypatch)
    titles = [f.title for f in figures_for("directional-limit", {"runs": [_synthetic_run()]}, PlotContext())]
    assert "Attention off the selected tokens: 1 - s against ||p||" in titles
    ax = captured[titles.index("Attention off the selected tokens: 1 - s against ||p||")].axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylim()[1] <= 10


def test_coinciding_tokens_share_one_label():
    from attnsvm.reports.plots import token_labels

    kp = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 2.0], [1.0, 0.0]]])
    labels = dict((names, point) for point, names in token_labels(kp, single=False))
    assert labels == {"x0,0, x0,2, x1,0": (0.0, 0.0), "x0,1, x1,2": (1.0, 0.0), "x1,1": (0.0, 2.0)}


def test_zero_scores_are_never_written_minus_zero():
    from attnsvm.reports.page import number_text
    from attnsvm.reports.views import fmt

    assert number_text(-0.0) == "0" and fmt(-0.0) == "0" and fmt([-0.0, 1.0]) == "[0, 1]"
    ds = Dataset(X=[[[1, 0], [0, 1]]], Y=[1], v=[0, 1], name="zeros")
    from attnsvm.reports.page import _token_view

    view = _token_view(type("R", (), {"checks": []})(), ds)
    assert all(not row["gamma"].startswith("-0") for seq in view["sequences"] for row in seq["rows"])
