"""Plots of the joint-training checks as inline SVG strings (presentation only: no computation of results).

Both functions take the evidence of the `regularization-path` check (the ``evidence`` dict of its
CheckResult, or the same dict from the JSON result) and return an ``<svg ...>`` string.

* :func:`path_plane_svg`: the v and p regularisation paths in the plane (first two coordinates), each
  point v_r/r or p_R/R on the grid of radii, with the predicted directions drawn as dashed rays: v(alpha),
  the relaxed p-SVM and, for contrast, the plain p-SVM (as in the joint-training figure of the first paper).
* :func:`one_minus_corr_svg`: 1 - corr against the predicted directions along the grid of radii (log-log).
"""
from __future__ import annotations

import numpy as np

from .plots import _new_figure, to_svg

FLOOR = 1e-40   # 1 - corr values of 0 (rounding level) are drawn here


def _figure(width=5.2, height=4.2):
    fig = _new_figure(width, height)
    return fig, fig.add_subplot()


def _xy(vectors) -> np.ndarray:
    a = np.asarray([[float(x) for x in v] for v in vectors], dtype=float)
    if a.ndim != 2 or a.shape[1] < 2:
        a = np.hstack([a.reshape(len(a), -1), np.zeros((len(a), 1))])
    return a[:, :2]


def path_plane_svg(evidence: dict, title: str = "") -> str:
    """The joint regularisation paths (v_r/r and p_R/R) in the plane with the SVM directions."""
    joint = evidence.get("joint") or {}
    rows = joint.get("rows") or []
    fig, ax = _figure()
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.85", lw=0.8)
    if rows:
        v = _xy([r["v_unit"] for r in rows])
        p = _xy([r["p_unit"] for r in rows])
        ax.plot(v[:, 0], v[:, 1], "-o", color="tab:blue", ms=3, label="v_r / r (path)")
        ax.plot(p[:, 0], p[:, 1], "-o", color="tab:red", ms=3, label="p_R / R (path)")
        ax.annotate("", xy=v[-1], xytext=v[-2] if len(v) > 1 else (0, 0),
                    arrowprops={"arrowstyle": "->", "color": "tab:blue"})
        ax.annotate("", xy=p[-1], xytext=p[-2] if len(p) > 1 else (0, 0),
                    arrowprops={"arrowstyle": "->", "color": "tab:red"})
    for key, color, label in (("v_mm_unit", "tab:blue", "v-SVM direction"),
                              ("p_relaxed_unit", "tab:red", "relaxed p-SVM direction"),
                              ("p_plain_unit", "0.4", "plain p-SVM direction")):
        u = joint.get(key)
        if u is None:
            continue
        u = _xy([u])[0]
        ax.plot([0, 1.15 * u[0]], [0, 1.15 * u[1]], "--", color=color, lw=1.2, label=label)
    alone = (evidence.get("p_alone") or {})
    if alone.get("p_mm_unit") is not None and not rows:
        u = _xy([alone["p_mm_unit"]])[0]
        ax.plot([0, 1.15 * u[0]], [0, 1.15 * u[1]], "--", color="tab:red", label="p-SVM direction")
        p = _xy([r["p_unit"] for r in alone.get("rows", [])]) if alone.get("rows") else None
        if p is not None:
            ax.plot(p[:, 0], p[:, 1], "-o", color="tab:red", ms=3, label="p_R / R (path)")
    ax.axhline(0, color="0.9", lw=0.5)
    ax.axvline(0, color="0.9", lw=0.5)
    ax.set_aspect("equal")
    ax.set_xlim(-1.25, 1.25)
    ax.set_ylim(-1.25, 1.25)
    ax.set_xlabel("coordinate 1")
    ax.set_ylabel("coordinate 2")
    ax.set_title(title or "regularisation paths and SVM directions")
    ax.legend(fontsize=7, loc="lower left")
    return to_svg(fig)


def one_minus_corr_svg(evidence: dict, title: str = "") -> str:
    """1 - corr of the path directions against the SVM directions along the grid of radii."""
    fig, ax = _figure(5.6, 3.8)
    series = []
    alone = evidence.get("p_alone") or {}
    if alone.get("rows"):
        series.append(("p alone vs p-SVM", [r["radius"] for r in alone["rows"]],
                       [r["one_minus_corr"] for r in alone["rows"]], "tab:orange", "-o"))
    joint = evidence.get("joint") or {}
    if joint.get("rows"):
        rows = joint["rows"]
        R = [r["radius"] for r in rows]
        series.append(("joint v vs v-SVM", R, [r["one_minus_corr_v"] for r in rows], "tab:blue", "-o"))
        series.append(("joint p vs relaxed p-SVM", R, [r["one_minus_corr_p_relaxed"] for r in rows], "tab:red", "-o"))
        if rows[0].get("one_minus_corr_p_plain") is not None:
            series.append(("joint p vs plain p-SVM", R, [r["one_minus_corr_p_plain"] for r in rows], "0.4", "--s"))
    for label, x, y, color, style in series:
        y = np.maximum(np.asarray([float(v) for v in y]), FLOOR)
        ax.loglog(np.asarray(x, float), y, style, color=color, ms=3, label=label)
    tol = evidence.get("tol")
    if tol:
        ax.axhline(float(tol), color="0.6", lw=0.8, ls=":", label=f"tol = {float(tol):g}")
    ax.set_xlabel("radius R (r = R on the joint path)")
    ax.set_ylabel("1 - corr")
    ax.set_title(title or "1 - corr along the regularisation path")
    ax.legend(fontsize=7)
    return to_svg(fig)
