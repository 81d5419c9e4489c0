"""Plots of the regularisation-path checks as inline SVG strings (presentation only: no computation of results).

Both functions take the evidence of `regularization-path` (p alone: ``rows`` of radius, 1 - corr and p_R/R,
with ``p_mm_unit``) or of `joint-regularization-path` (``rows`` with both paths' 1 - corr and v_r/r, p_R/R,
with ``v_mm_unit``, ``p_relaxed_unit``, ``p_plain_unit``); older results (``p_alone`` and ``joint`` in one
evidence dict) are read too. They return an ``<svg ...>`` string.

* :func:`path_plane_svg`: the paths in the plane (2-D data), each point v_r/r or p_R/R on the grid of radii,
  with the predicted directions drawn as dashed rays (as in the joint-training figure of the first paper).
* :func:`one_minus_corr_svg`: 1 - corr against the predicted directions along the grid of radii (log-log),
  values at rounding level (exactly 0) marked on the bottom edge instead of at an arbitrary floor.
"""
from __future__ import annotations

import numpy as np

from .plots import _new_figure, log_axis_with_zeros, to_svg


def _paths(evidence: dict) -> dict:
    """{"alone": {"rows", "p_mm_unit"} or None, "joint": {"rows", "v_mm_unit", ...} or None}."""
    out = {"alone": None, "joint": None}
    rows = evidence.get("rows") or []
    if (evidence.get("p_alone") or {}).get("rows"):
        out["alone"] = evidence["p_alone"]
    elif rows and "one_minus_corr" in rows[0]:
        out["alone"] = evidence
    if (evidence.get("joint") or {}).get("rows"):
        out["joint"] = evidence["joint"]
    elif rows and "one_minus_corr_v" in rows[0]:
        out["joint"] = evidence
    return out


def has_path(evidence: dict) -> bool:
    """Whether the evidence holds a regularisation path to draw.

    >>> has_path({}), has_path({"rows": [{"radius": 1, "one_minus_corr": 0.1, "p_unit": [1, 0]}]})
    (False, True)
    """
    paths = _paths(evidence)
    return paths["alone"] is not None or paths["joint"] is not None


def plane_dimension(evidence: dict) -> int | None:
    """The dimension of the path's directions (the plane plot needs 2)."""
    for path in _paths(evidence).values():
        if path and path["rows"] and path["rows"][0].get("p_unit") is not None:
            return len(path["rows"][0]["p_unit"])
    return None


def _figure(width=5.2, height=4.2):
    fig = _new_figure(width, height)
    return fig, fig.add_subplot()


def _xy(vectors) -> np.ndarray:
    a = np.asarray([[float(x) for x in v] for v in vectors], dtype=float)
    if a.ndim != 2 or a.shape[1] < 2:
        a = np.hstack([a.reshape(len(a), -1), np.zeros((len(a), 1))])
    return a[:, :2]


def path_plane_svg(evidence: dict, title: str = "") -> str:
    """The regularisation paths (v_r/r and p_R/R) in the plane with the SVM directions."""
    paths = _paths(evidence)
    fig, ax = _figure()
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.85", lw=0.8)
    joint = paths["joint"]
    if joint is not None:
        rows = joint["rows"]
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
            if u is not None:
                u = _xy([u])[0]
                ax.plot([0, 1.15 * u[0]], [0, 1.15 * u[1]], "--", color=color, lw=1.2, label=label)
    alone = paths["alone"]
    if alone is not None and joint is None:
        if alone.get("p_mm_unit") is not None:
            u = _xy([alone["p_mm_unit"]])[0]
            ax.plot([0, 1.15 * u[0]], [0, 1.15 * u[1]], "--", color="tab:red", label="p-SVM direction")
        p = _xy([r["p_unit"] for r in alone["rows"] if r.get("p_unit") is not None])
        if len(p):
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
    """1 - corr of the path directions against the SVM directions along the grid of radii (log-log); exact
    zeros (rounding level) on the bottom edge."""
    fig, ax = _figure(5.6, 3.8)
    series = []
    paths = _paths(evidence)
    if paths["alone"] is not None:
        rows = paths["alone"]["rows"]
        series.append(([r["radius"] for r in rows], [r["one_minus_corr"] for r in rows],
                       {"color": "tab:orange", "label": "p alone vs p-SVM"}))
    if paths["joint"] is not None:
        rows = paths["joint"]["rows"]
        R = [r["radius"] for r in rows]
        series.append((R, [r.get("one_minus_corr_v") for r in rows], {"color": "tab:blue", "label": "joint v vs v-SVM"}))
        series.append((R, [r.get("one_minus_corr_p_relaxed") for r in rows],
                       {"color": "tab:red", "label": "joint p vs relaxed p-SVM"}))
        if rows[0].get("one_minus_corr_p_plain") is not None:
            series.append((R, [r.get("one_minus_corr_p_plain") for r in rows],
                           {"color": "0.4", "marker": "s", "ls": "--", "label": "joint p vs plain p-SVM"}))
    tol = evidence.get("tol")
    log_axis_with_zeros(ax, series, floor_below=[float(tol)] if tol else None)
    if tol:
        ax.axhline(float(tol), color="0.6", lw=0.8, ls=":", label=f"tol = {float(tol):g}")
    ax.set_xlabel("radius R (r = R on the joint path)")
    ax.set_ylabel("1 - corr")
    ax.set_title(title or "1 - corr along the regularisation path")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    return to_svg(fig)
