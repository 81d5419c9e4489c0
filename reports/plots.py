"""Plots of the checks' evidence, as inline SVG, and the registry that maps a check id to its plots.

A plot function takes the check's evidence (the JSON form, ``CheckResult.to_dict()["evidence"]``)
and a :class:`PlotContext` (the dataset and the whole result, for cross-references) and returns a
list of :class:`Figure`. Register one with :func:`register`; the page template shows whatever the
registry returns for each check, so a new check gets plots without touching the template.

>>> @register("example-check")
... def _example(evidence, ctx):
...     return []
>>> figures_for("example-check", {}, PlotContext()) == []
True
>>> del PLOTS["example-check"]

Plots only draw what the evidence holds (and, for the token plane, the dataset's keys); they never
compute a result.
"""
from __future__ import annotations

import io
import itertools
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

PLOTS: dict[str, list[Callable]] = {}
_counter = itertools.count()

# a colour-blind-safe palette (Okabe-Ito), one colour per GD run
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]


@dataclass
class Figure:
    """One plot: a title, the SVG markup (an ``<svg>`` element, safe to inline) and a caption.

    >>> Figure("t", "<svg></svg>").caption
    ''
    """

    title: str
    svg: str
    caption: str = ""


@dataclass
class PlotContext:
    """What plots may look at besides the evidence: the Dataset (optional) and the whole Result.

    >>> PlotContext().dataset is None
    True
    """

    dataset: Any = None
    result: Any = None


def register(check_id: str) -> Callable:
    """Decorator: add ``fn(evidence, ctx) -> list[Figure]`` to the plots of ``check_id``."""

    def deco(fn):
        PLOTS.setdefault(check_id, []).append(fn)
        return fn

    return deco


def figures_for(check_id: str, evidence: dict, ctx: PlotContext) -> list[Figure]:
    """Every registered figure for one check; a plot that raises is replaced by a note (a report
    must not die because one plot could not be drawn)."""
    out: list[Figure] = []
    for fn in PLOTS.get(check_id, []):
        try:
            out.extend(fn(evidence, ctx))
        except Exception as exc:  # noqa: BLE001 - shown in the page instead
            out.append(Figure(title=f"plot {fn.__name__} unavailable", svg="",
                              caption=f"could not draw this plot: {type(exc).__name__}: {exc}"))
    return out


# -- SVG output -------------------------------------------------------------------------------------
def _new_figure(width=6.4, height=4.0):
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width, height), layout="constrained")
    return fig


def to_svg(fig) -> str:
    """An inline ``<svg>`` element for a matplotlib figure: text as paths (no fonts needed), ids
    made unique per figure (several SVGs share one HTML document), scaled to the page width.

    >>> from matplotlib.figure import Figure as MplFigure
    >>> fig = MplFigure(); _ = fig.add_subplot().plot([0, 1])
    >>> to_svg(fig)[:20]
    '<svg class="plot" wi'
    """
    import matplotlib

    n = next(_counter)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": f"attnsvm-{n}"}):
        fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    # inline SVG in HTML needs no namespace declarations (the HTML parser supplies them), and the
    # metadata block only names the generator: drop both, so the page holds no URL at all
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", svg)
    ids = set(re.findall(r'\sid="([^"]+)"', svg))
    prefix = f"f{n}-"
    if ids:
        pattern = re.compile(r'(\sid="|#)(' + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
                             + r')(?=["\)])')
        svg = pattern.sub(lambda m: m.group(1) + prefix + m.group(2), svg)
    svg = re.sub(r'<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"', r'<svg\1 class="plot" width="100%"', svg, count=1)
    return svg


# -- helpers ----------------------------------------------------------------------------------------
def _f(x) -> float | None:
    """A float from evidence (numbers, decimal strings, 'inf'); None when absent."""
    if x is None:
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _vec(xs) -> np.ndarray:
    return np.array([float(x) for x in xs], dtype=float)


def _positive(xs, ys):
    pts = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None and x > 0 and y > 0]
    return [p[0] for p in pts], [p[1] for p in pts]


def _label_run(i, run) -> str:
    init = run.get("init")
    init_s = "" if init is None else " from p0 = (" + ", ".join(f"{float(v):g}" for v in init) + ")"
    return f"run {i}{init_s}"


# -- directional-limit ------------------------------------------------------------------------------
@register("directional-limit")
def one_minus_corr_plot(evidence, ctx) -> list[Figure]:
    """1 - corr(p_k, p_mm) against ||p_k|| on log-log axes, with the predicted ||p||^-2 slope."""
    runs = evidence.get("runs") or []
    if not runs:
        return []
    fig = _new_figure()
    ax = fig.add_subplot()
    dropped = 0
    for i, run in enumerate(runs):
        traj = run.get("trajectory") or []
        xs = [_f(c.get("norm")) for c in traj]
        ys = [_f(c.get("one_minus_corr")) for c in traj]
        px, py = _positive(xs, ys)
        dropped += sum(1 for x, y in zip(xs, ys) if x and x > 0 and y is not None and y <= 0)
        colour = PALETTE[i % len(PALETTE)]
        if px:
            ax.loglog(px, py, "o-", ms=3, lw=1.3, color=colour, label=_label_run(i, run))
            x1, y1 = px[-1], py[-1]
            x0 = max(px[0], x1 / 1e3)
            if x0 < x1:
                ref = np.geomspace(x0, x1, 20)
                ax.loglog(ref, 10 * y1 * (ref / x1) ** -2, "--", color=colour, lw=1, alpha=0.7,
                          label=r"predicted slope: $\propto \|p\|^{-2}$ (shifted up 10x)" if i == 0 else None)
    tol = _f(evidence.get("tol"))
    if tol:
        ax.axhline(tol, color="#B00020", lw=0.8, ls=":", label=f"tolerance {tol:g}")
    ax.set_xlabel(r"$\|p_k\|$")
    ax.set_ylabel(r"$1 - \mathrm{corr}(p_k,\ p^{\mathrm{mm}})$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    cap = ("Each run's 1 - corr against the p-SVM direction of the tokens it selects at that checkpoint. Each dashed "
           "line has the predicted slope -2 and passes 10x above the run's last point (so that it stays visible): "
           "parallel lines mean the predicted rate.")
    if dropped:
        cap += f" {dropped} checkpoint(s) with 1 - corr = 0 (below float64 resolution) are not shown."
    return [Figure("Directional convergence: 1 - corr against ||p||", to_svg(fig), cap)]


@register("directional-limit")
def selected_mass_plot(evidence, ctx) -> list[Figure]:
    """The softmax mass on the selected tokens, min_i s_{i,a_i}, against ||p_k||."""
    runs = evidence.get("runs") or []
    if not runs:
        return []
    fig = _new_figure(6.4, 3.4)
    ax = fig.add_subplot()
    for i, run in enumerate(runs):
        traj = run.get("trajectory") or []
        pts = [(_f(c.get("norm")), _f(c.get("mass_selected"))) for c in traj]
        pts = [(x, y) for x, y in pts if x is not None and y is not None and x > 0]
        if pts:
            ax.semilogx([p[0] for p in pts], [p[1] for p in pts], "o-", ms=3, lw=1.3,
                        color=PALETTE[i % len(PALETTE)], label=_label_run(i, run))
    ax.axhline(1.0, color="0.5", lw=0.8, ls="--", label="prediction: all mass on one token per sequence")
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel(r"$\|p_k\|$")
    ax.set_ylabel(r"$\min_i\ s_{i,a_i}$")
    ax.grid(True, which="major", alpha=0.3)
    if ax.has_data():
        ax.legend(fontsize=8, loc="lower right")
    cap = ("Softmax attention on the token each sequence selects (a_i = largest logit; worst sequence): attention "
           "concentrates on one token per sequence as ||p|| grows. The mass off that token, in the JSON as "
           "one_minus_mass, is computed without cancellation.")
    return [Figure("Softmax mass on the selected tokens", to_svg(fig), cap)]


def plane_basis(keys: np.ndarray) -> tuple[np.ndarray, list[str]] | None:
    """A 2-D basis (D, 2) of the span of the keys when that span has dimension <= 2, else None.

    When the keys vary in at most two coordinates (e.g. W = diag(1, 1, 0)), those coordinate axes are
    used, so the axes keep their names; otherwise an orthonormal basis of the span."""
    flat = np.asarray(keys, dtype=float).reshape(-1, keys.shape[-1])
    D = flat.shape[1]
    if D < 2:
        return None
    scale = max(float(np.abs(flat).max()), 1e-300)
    sv = np.linalg.svd(flat, compute_uv=False)
    rank = int(np.sum(sv > 1e-12 * scale * max(flat.shape)))
    if rank > 2:
        return None
    used = [j for j in range(D) if np.any(flat[:, j] != 0)]
    if len(used) <= 2:
        cols = (used + [j for j in range(D) if j not in used])[:2]
        cols.sort()
        basis = np.zeros((D, 2))
        basis[cols[0], 0] = basis[cols[1], 1] = 1.0
        return basis, [f"coordinate {cols[0] + 1}", f"coordinate {cols[1] + 1}"]
    _, _, vt = np.linalg.svd(flat, full_matrices=False)
    return vt[:2].T, ["e1 (key span)", "e2 (key span)"]


@register("directional-limit")
def trajectory_plane_plot(evidence, ctx) -> list[Figure]:
    """GD trajectories in the plane of the keys, with the tokens and the p-SVM directions (2-D data only)."""
    runs = evidence.get("runs") or []
    ds = ctx.dataset
    if ds is None or not runs or not all(r.get("trajectory") and "theta" in r["trajectory"][0] for r in runs):
        return []
    keys = np.asarray(ds.features(), dtype=float)
    found = plane_basis(keys)
    if found is None:
        return []
    basis, axis_names = found
    kp = keys @ basis                      # (n, T, 2)
    alpha = None
    if ctx.result is not None:
        try:
            alpha = ctx.result["optimal-tokens"].evidence.get("alpha")
        except KeyError:
            alpha = None
    key_r = float(np.max(np.linalg.norm(kp, axis=-1))) if kp.size else 1.0
    init_r = max((float(np.linalg.norm(_vec(r["trajectory"][0]["theta"]) @ basis)) for r in runs), default=0.0)
    R = max(2.0 * max(key_r, 1.0), 1.25 * init_r)
    fig = _new_figure(6.4, 5.6)
    ax = fig.add_subplot()
    gamma = np.asarray(ds.gamma, dtype=float)
    sc = ax.scatter(kp[..., 0].ravel(), kp[..., 1].ravel(), c=gamma.ravel(), cmap="viridis", s=46,
                    edgecolors="k", linewidths=0.5, zorder=3)
    cb = fig.colorbar(sc, ax=ax, shrink=0.8)
    cb.set_label(r"score $\gamma_{it}$")
    if alpha is not None:
        opt = np.array([kp[i, a] for i, a in enumerate(alpha)])
        ax.scatter(opt[:, 0], opt[:, 1], s=190, facecolors="none", edgecolors="#B00020", linewidths=1.6, zorder=4,
                   label=r"optimal token $\alpha_i$")
    if ds.n * ds.T <= 12:
        for i in range(ds.n):
            for t in range(ds.T):
                name = f"x{t}" if ds.n == 1 else f"x{i},{t}"
                ax.annotate(name, kp[i, t], xytext=(6, 6), textcoords="offset points", fontsize=8)
    seen_dirs = []
    for i, run in enumerate(runs):
        colour = PALETTE[i % len(PALETTE)]
        th = np.array([_vec(c["theta"]) for c in run["trajectory"]]) @ basis
        norms = np.linalg.norm(th, axis=1)
        inside = th[norms <= R]
        if len(inside):
            ax.plot(inside[:, 0], inside[:, 1], "-", color=colour, lw=1.6, zorder=5, label=_label_run(i, run))
            ax.plot(inside[0, 0], inside[0, 1], "s", color=colour, ms=5, zorder=6)
        end = th[-1]
        if np.linalg.norm(end) > 0:
            tip = end / np.linalg.norm(end) * R
            if len(inside):
                ax.plot([inside[-1, 0], tip[0]], [inside[-1, 1], tip[1]], ":", color=colour, lw=1.2, zorder=5)
            ax.plot(tip[0], tip[1], "*", color=colour, ms=13, mec="k", mew=0.5, zorder=7)
        pmm = run.get("p_mm")
        if pmm:
            d = _vec(pmm) @ basis
            if np.linalg.norm(d) > 0:
                d = d / np.linalg.norm(d)
                if not any(np.allclose(d, s, atol=1e-9) for s in seen_dirs):
                    seen_dirs.append(d)
                    ax.annotate("", xy=d * R * 1.08, xytext=(0, 0), zorder=2,
                                arrowprops=dict(arrowstyle="-|>", color="#B00020", lw=1.4, ls="--"))
                    sel = run.get("selected")
                    ha = "left" if d[0] > 0.3 else "right" if d[0] < -0.3 else "center"
                    ax.annotate(r"$p^{\mathrm{mm}}$" + (f" {sel}" if sel is not None else ""), d * R * 1.12,
                                fontsize=9, color="#B00020", ha=ha, va="center", annotation_clip=False)
    circle = np.linspace(0, 2 * math.pi, 200)
    ax.plot(R * np.cos(circle), R * np.sin(circle), color="0.8", lw=0.8, zorder=1)
    ax.axhline(0, color="0.85", lw=0.6, zorder=0)
    ax.axvline(0, color="0.85", lw=0.6, zorder=0)
    ax.set_aspect("equal")
    lim = 1.3 * R
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.legend(fontsize=7.5, loc="lower left", framealpha=0.9)
    cap = (f"Keys k_it = W^T x_it (dots, coloured by score; tokens numbered from 0) and the GD iterates p_k (lines from the squares) in the "
           f"plane of the keys ({axis_names[0]}, {axis_names[1]}). Beyond the grey circle (radius {R:.3g}) only the "
           "direction is drawn: the star marks the direction of the last iterate, the dashed red arrows the p-SVM "
           "directions of the selected tokens.")
    return [Figure("GD trajectories and SVM directions in the plane of the keys", to_svg(fig), cap)]


# -- norm-divergence --------------------------------------------------------------------------------
@register("norm-divergence")
def norm_growth_plot(evidence, ctx) -> list[Figure]:
    """||p_k|| against k (log axis) for fixed-step GD, with the predicted ||p_mm|| log k growth."""
    cps = evidence.get("checkpoints") or []
    pts = [(c["iteration"], _f(c.get("norm"))) for c in cps if c.get("iteration", 0) >= 1 and _f(c.get("norm")) is not None]
    if not pts:
        return []
    ks = np.array([p[0] for p in pts], dtype=float)
    norms = np.array([p[1] for p in pts])
    fig = _new_figure(6.4, 3.8)
    ax = fig.add_subplot()
    ax.semilogx(ks, norms, "o-", ms=3, lw=1.3, color=PALETTE[0], label=r"$\|p_k\|$ (fixed-step GD)")
    pred = _f(evidence.get("predicted_slope"))
    if pred:
        line = norms[-1] + pred * (np.log(ks) - math.log(ks[-1]))
        ax.semilogx(ks, line, "--", color="0.35", lw=1.1,
                    label=rf"predicted $\|p^{{\mathrm{{mm}}}}\|\,\ln k$ + const (slope {pred:.4g})")
    window = evidence.get("slope_window")
    if window and len(window) == 2 and window[0] > 0:
        ax.axvspan(window[0], window[1], color="0.9", zorder=0, label="window of the measured slope")
    ax.set_xlabel("iteration k")
    ax.set_ylabel(r"$\|p_k\|$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    slope = _f(evidence.get("slope"))
    cap = "Fixed-step GD: the norm grows without bound, logarithmically in k."
    if slope is not None and pred:
        cap += (f" Measured slope d||p_k||/d ln k = {slope:.4g} over the shaded window; predicted ||p_mm|| = {pred:.4g}. "
                "The dashed line is drawn through the last point.")
    return [Figure("Norm divergence: ||p_k|| against k", to_svg(fig), cap)]


# -- self/cross attention and joint training (drawn by reports.w_plots and reports.joint_plots) ------
@register("w-directional-limit")
def w_limit_plot(evidence, ctx) -> list[Figure]:
    from .w_plots import w_limit_svg

    if not evidence.get("trajectory"):
        return []
    return [Figure("GD on W: distance to the W-SVMs", w_limit_svg(evidence),
                   "1 - corr with the Frobenius W-SVM and the optimality gaps of the iterate scaled to margin 1, "
                   "against ||W_k||; the theory predicts the Frobenius curves fall to 0.")]


@register("kq-directional-limit")
def kq_limit_plot(evidence, ctx) -> list[Figure]:
    from .w_plots import kq_limit_svg

    if not evidence.get("trajectory"):
        return []
    return [Figure("GD on (K, Q): nuclear against Frobenius optimality", kq_limit_svg(evidence),
                   "Optimality gaps of K_k Q_k^T scaled to margin 1, for the nuclear and the Frobenius norm; the "
                   "theory predicts the nuclear gap falls to 0, while the Frobenius gap stays near the Frobenius "
                   "gap of the nuclear solution.")]


@register("regularization-path")
def regularization_path_plots(evidence, ctx) -> list[Figure]:
    from .joint_plots import one_minus_corr_svg, path_plane_svg

    figs = []
    if not (evidence.get("joint") or {}).get("rows") and not (evidence.get("p_alone") or {}).get("rows"):
        return figs                         # nothing computed (the check was out of scope)
    if (evidence.get("joint") or {}).get("rows"):
        figs.append(Figure("v and p regularisation paths in the plane", path_plane_svg(evidence),
                           "v_r/r and p_R/R along the grid of radii, with the v-SVM direction, the relaxed p-SVM "
                           "direction (the predicted limit of p) and the plain p-SVM direction for contrast."))
    figs.append(Figure("1 - corr along the regularisation path", one_minus_corr_svg(evidence),
                       "1 - corr of the path's directions with the predicted SVM directions, against the radius."))
    return figs


@register("svm-equivalence")
def svm_equivalence_plot(evidence, ctx) -> list[Figure]:
    """1 - corr of the iterate against W_fin + R W_dir, W_dir alone and the one-token SVM, and the masked softmax
    mass, against ||W_k|| (log-log)."""
    rows = [r for r in evidence.get("trend") or [] if _f(r.get("norm")) and r.get("one_minus_corr_svmeq") is not None]
    if not rows:
        return []
    fig = _new_figure(6.4, 3.8)
    ax = fig.add_subplot()
    norms = np.array([r["norm"] for r in rows], dtype=float)
    for key, label, color in (("one_minus_corr_svmeq", "fin + R dir (the conjecture)", PALETTE[0]),
                              ("one_minus_corr_dir", "dir alone", PALETTE[1]),
                              ("one_minus_corr_one_token", "one-token SVM", PALETTE[2])):
        ys = [_f(r.get(key)) for r in rows]
        pts = [(x, max(y, 1e-300)) for x, y in zip(norms, ys) if y is not None]
        if pts:
            ax.loglog([p[0] for p in pts], [p[1] for p in pts], "o-", ms=3, lw=1.2, color=color, label=label)
    masked = [(x, _f(r.get("masked_mass"))) for x, r in zip(norms, rows)]
    masked = [(x, y) for x, y in masked if y is not None and y > 0]
    if masked:
        ax.loglog([p[0] for p in masked], [p[1] for p in masked], ":", lw=1, color="0.5",
                  label="masked softmax mass max s_i,tau (tau not in O_i)")
    at = evidence.get("at_authors_steps") or {}
    if _f(at.get("norm")):
        ax.axvline(float(at["norm"]), color="0.7", lw=0.8, ls="--", label="the authors' 2,000 steps")
    ax.set_xlabel("||theta_k||")
    ax.set_ylabel("1 - corr")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    cap = ("1 - corr of the GD iterate with theta_fin + R theta_dir (each checkpoint its own theta_fin and R, the final "
           "selected sets and theta_dir), with theta_dir alone, and with the one-token SVM of the final argmax; the "
           "conjecture predicts the first falls to 0 (like ||theta||^-2 if the rest stays bounded).")
    return [Figure("SVM equivalence: the fit against ||theta_k||", to_svg(fig), cap)]
