"""Plots of the self/cross-attention checks: evidence dict -> inline SVG string (matplotlib, no maths here).

* :func:`w_limit_svg` -- for `w-directional-limit`: 1 - corr(W_k, W_F^mm) and both optimality gaps
  against ||W_k||.
* :func:`kq_limit_svg` -- for `kq-directional-limit`: the nuclear and Frobenius optimality gaps of
  K_k Q_k^T against ||W_k||, with the nuclear gap of the Frobenius solution as a reference line.

Both take the check's evidence (a dict, or its JSON form) and return ``<svg ...>...</svg>``.
"""
from __future__ import annotations

from .plots import _new_figure, to_svg


def _series(rows, key):
    pts = [(r["norm"], r[key]) for r in rows if r.get(key) is not None and r.get("norm", 0) > 0 and r[key] > 0]
    return [p[0] for p in pts], [p[1] for p in pts]


def w_limit_svg(evidence: dict, title: str = "GD on W") -> str:
    """1 - corr against W_F^mm, Frobenius gap and nuclear gap of the scaled iterate, against ||W_k|| (log-log)."""
    rows = evidence.get("trajectory", [])
    fig = _new_figure(5.5, 3.6)
    ax = fig.add_subplot()
    for key, label, style in (("one_minus_corr_fro", "1 - corr(W, W_F^mm)", "o-"),
                              ("fro_gap", "Frobenius optimality gap", "s--"),
                              ("nuc_gap", "nuclear optimality gap", "^:")):
        x, y = _series(rows, key)
        if x:
            ax.loglog(x, y, style, ms=3, label=label)
    tol = evidence.get("tol")
    if tol:
        ax.axhline(tol, color="grey", lw=0.8, ls="--", label=f"tol {tol:g}")
    ax.set_xlabel("||W_k||_F")
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    return to_svg(fig)


def kq_limit_svg(evidence: dict, title: str = "GD on (K, Q)") -> str:
    """Nuclear and Frobenius optimality gaps of K_k Q_k^T against ||W_k|| (log-log), with the Frobenius
    solution's nuclear gap and the nuclear solution's Frobenius gap as reference lines."""
    rows = evidence.get("trajectory", [])
    fig = _new_figure(5.5, 3.6)
    ax = fig.add_subplot()
    for key, label, style, color in (("nuc_gap", "nuclear optimality gap", "o-", "C0"),
                                     ("fro_gap", "Frobenius optimality gap", "s--", "C1")):
        x, y = _series(rows, key)
        if x:
            ax.loglog(x, y, style, ms=3, label=label, color=color)
    g_F = evidence.get("nuclear_gap_of_frobenius_solution")
    g_star = evidence.get("frobenius_gap_of_nuclear_solution")
    if g_F:
        ax.axhline(g_F, color="C0", lw=0.8, ls=":", label="nuclear gap of W_F^mm")
    if g_star:
        ax.axhline(g_star, color="C1", lw=0.8, ls=":", label="Frobenius gap of W_*^mm")
    ax.set_xlabel("||K_k Q_k^T||_F")
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    return to_svg(fig)
