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
_counter = itertools.count()   # numbers the figures of one page (ids unique within the page); see reset_figure_ids


def reset_figure_ids() -> None:
    """Start numbering figures from 0 again: called at the start of each page, so that a page's SVG ids (and
    bytes) do not depend on how many figures this process drew before.

    >>> from matplotlib.figure import Figure as MplFigure
    >>> def svg():
    ...     fig = MplFigure(); _ = fig.add_subplot().plot([0, 1]); return to_svg(fig)
    >>> reset_figure_ids(); a = svg(); b = svg(); reset_figure_ids(); c = svg()
    >>> a == c and a != b
    True
    """
    global _counter
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
def _new_figure(width=6.4, height=4.0, layout=None):
    """A matplotlib Figure. Plots with one axes get fixed margins (``layout=None``: 0.75 in left for the tick
    labels and the y label, 0.55 in below): constrained layout draws every text twice to measure it, which
    doubled the time to write a report. ``layout="constrained"`` for figures with a colour bar."""
    from matplotlib.figure import Figure as MplFigure

    if layout is not None:
        return MplFigure(figsize=(width, height), layout=layout)
    fig = MplFigure(figsize=(width, height))
    fig.subplots_adjust(left=0.85 / width, right=1 - 0.15 / width, bottom=0.55 / height, top=1 - 0.4 / height)
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
    if init is None or len(init) > 4:
        return f"run {i}"
    return f"run {i} from p0 = (" + ", ".join(f"{float(v) + 0.0:g}" for v in init) + ")"


def _run_points(run) -> list:
    """The checkpoints of a GD run in the evidence (``checkpoints`` or, in older results, ``trajectory``)."""
    return run.get("checkpoints") or run.get("trajectory") or []


def log_axis_with_zeros(ax, series, *, floor_below=None, xlog=True, zero_label="= 0 (rounding level)") -> int:
    """Draw ``series`` ([(xs, ys, style dict)]) on a log y axis (and log x when ``xlog``), keeping the axis on
    the positive values: points whose y is exactly 0 are not pushed to an arbitrary floor (which would squash
    the curves that matter) but drawn as open down-triangles on the bottom edge of the axis, with one legend
    entry that says so. ``floor_below``: values (a tolerance) the axis must also show. Returns the number of
    points drawn as zeros.

    >>> from matplotlib.figure import Figure as MplFigure
    >>> ax = MplFigure().add_subplot()
    >>> log_axis_with_zeros(ax, [([1, 10, 100], [1e-2, 1e-4, 0.0], {"color": "C0"})])
    1
    >>> bool(1e-7 < ax.get_ylim()[0] < 1e-4)
    True
    """
    positive, zeros = [], []
    for xs, ys, style in series:
        pts = [(float(x), float(y)) for x, y in zip(xs, ys) if x is not None and y is not None
               and math.isfinite(float(x)) and (float(x) > 0 or not xlog) and math.isfinite(float(y))]
        good = [(x, y) for x, y in pts if y > 0]
        zero = [(x, y) for x, y in pts if y <= 0]
        if good:
            kwargs = {"marker": "o", "ms": 3, "lw": 1.3, **style}
            ax.plot([p[0] for p in good], [p[1] for p in good], **kwargs)
            positive.extend(p[1] for p in good)
        zeros.append(([p[0] for p in zero], style.get("color", "0.3")))
    if xlog:
        ax.set_xscale("log")
    ax.set_yscale("log")
    low = min(positive + [v for v in (floor_below or []) if v and v > 0], default=None)
    high = max(positive, default=None)
    if low is None:
        low, high = 1e-16, 1.0
    bottom = 10 ** (math.floor(math.log10(low)) - 0.5)
    top = 10 ** (math.ceil(math.log10(max(high or low, low))) + 0.3)
    ax.set_ylim(bottom, top)
    count = 0
    for xs, colour in zeros:
        if xs:
            ax.plot(xs, [bottom] * len(xs), linestyle="none", marker="v", ms=7, mfc="none", mec=colour, mew=1.3,
                    clip_on=False, zorder=6, label=zero_label + ", on the bottom edge" if count == 0 else None)
            count += len(xs)
    return count


# -- directional-limit ------------------------------------------------------------------------------
@register("directional-limit")
def one_minus_corr_plot(evidence, ctx) -> list[Figure]:
    """1 - corr(p_k, p_mm) against ||p_k|| on log-log axes, with the predicted ||p||^-2 slope (grey dashed,
    one per run, through 10x the run's last point) and rounding-level zeros marked on the bottom edge."""
    runs = [r for r in evidence.get("runs") or [] if any(_f(c.get("one_minus_corr")) is not None
                                                         for c in _run_points(r))]
    if not runs:
        return []
    fig = _new_figure()
    ax = fig.add_subplot()
    series = []
    for i, run in enumerate(runs):
        pts = _run_points(run)
        series.append(([_f(c.get("norm")) for c in pts], [_f(c.get("one_minus_corr")) for c in pts],
                       {"color": PALETTE[i % len(PALETTE)], "label": _label_run(i, run)}))
    tol = _f(evidence.get("tol"))
    zeros = log_axis_with_zeros(ax, series, floor_below=[tol] if tol else None)
    for i, (xs, ys, _) in enumerate(series):
        px, py = _positive(xs, ys)
        if len(px) >= 2:
            x1, y1 = px[-1], py[-1]
            x0 = max(px[0], x1 / 1e3)
            if x0 < x1:
                ref = np.geomspace(x0, x1, 20)
                ax.loglog(ref, 10 * y1 * (ref / x1) ** -2, "--", color="0.45", lw=1,
                          label=r"predicted slope: $\propto \|p\|^{-2}$ (10x above the last point)" if i == 0 else None)
    if tol:
        ax.axhline(tol, color="#B00020", lw=0.8, ls=":", label=f"tolerance {tol:g}")
    ax.set_xlabel(r"$\|p_k\|$")
    ax.set_ylabel(r"$1 - \mathrm{corr}(p_k,\ p^{\mathrm{mm}})$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    cap = ("Each run's 1 - corr against the p-SVM direction of the tokens it selects at that checkpoint (log-log). "
           "The grey dashed lines have the predicted slope -2 and pass 10x above each run's last point (so that they "
           "stay visible): parallel lines mean the predicted rate.")
    if zeros:
        cap += (f" {zeros} checkpoint(s) with 1 - corr = 0 (below what float64 resolves) are drawn as open triangles "
                "on the bottom edge, not at an arbitrary floor.")
    return [Figure("Directional convergence: 1 - corr against ||p||", to_svg(fig), cap)]


@register("directional-limit")
def off_selected_mass_plot(evidence, ctx) -> list[Figure]:
    """The attention mass off the selected tokens, 1 - s (worst sequence), against ||p_k||, on log axes: the
    prediction is that it falls to 0 (exponentially in ||p||)."""
    runs = [r for r in evidence.get("runs") or [] if any(_f(c.get("one_minus_mass")) is not None
                                                         for c in _run_points(r))]
    if not runs:
        return []
    fig = _new_figure(6.4, 3.6)
    ax = fig.add_subplot()
    series = []
    for i, run in enumerate(runs):
        pts = [c for c in _run_points(run) if (_f(c.get("norm")) or 0) > 0]
        series.append(([_f(c.get("norm")) for c in pts], [_f(c.get("one_minus_mass")) for c in pts],
                       {"color": PALETTE[i % len(PALETTE)], "label": _label_run(i, run)}))
    zeros = log_axis_with_zeros(ax, series, zero_label="= 0 (below float64's smallest number)")
    ax.set_xlabel(r"$\|p_k\|$")
    ax.set_ylabel(r"$\max_i\ (1 - s_{i,a_i})$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    cap = ("Softmax attention off the token each sequence selects (a_i = largest logit; worst sequence), 1 - s, "
           "computed without cancellation (one_minus_mass in the JSON), on a log axis: the prediction is that "
           "attention concentrates on one token per sequence, so 1 - s falls to 0, exponentially in ||p||.")
    if zeros:
        cap += f" {zeros} checkpoint(s) where 1 - s underflows float64 are marked on the bottom edge."
    return [Figure("Attention off the selected tokens: 1 - s against ||p||", to_svg(fig), cap)]


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


def token_labels(kp: np.ndarray, single: bool) -> list:
    """[(point, "x0, x2")]: one label per distinct key position (tokens whose keys coincide, e.g. at the origin,
    share one label instead of printing on top of each other).

    >>> token_labels(np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]), True)
    [((0.0, 0.0), 'x0, x2'), ((1.0, 0.0), 'x1')]
    """
    scale = max(float(np.abs(kp).max()) if kp.size else 1.0, 1e-300)
    groups: dict = {}
    for i in range(kp.shape[0]):
        for t in range(kp.shape[1]):
            key = tuple(np.round(kp[i, t] / scale, 9))
            groups.setdefault(key, ((float(kp[i, t, 0]) + 0.0, float(kp[i, t, 1]) + 0.0), []))
            groups[key][1].append(f"x{t}" if single else f"x{i},{t}")
    return [(p, ", ".join(names)) for p, names in groups.values()]


@register("directional-limit")
def trajectory_plane_plot(evidence, ctx) -> list[Figure]:
    """GD trajectories in the plane of the keys, with the tokens and the p-SVM directions (2-D data only)."""
    runs = evidence.get("runs") or []
    ds = ctx.dataset
    if ds is None or not runs or not all(_run_points(r) and "theta" in _run_points(r)[0] for r in runs):
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
    init_r = max((float(np.linalg.norm(_vec(_run_points(r)[0]["theta"]) @ basis)) for r in runs), default=0.0)
    R = max(2.0 * max(key_r, 1.0), 1.25 * init_r)
    fig = _new_figure(6.4, 5.6, layout="constrained")
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
        for point, names in token_labels(kp, ds.n == 1):
            ax.annotate(names, point, xytext=(6, 6), textcoords="offset points", fontsize=8)
    seen_dirs = []
    for i, run in enumerate(runs):
        colour = PALETTE[i % len(PALETTE)]
        th = np.array([_vec(c["theta"]) for c in _run_points(run)]) @ basis
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
def _norm_runs(evidence) -> list:
    """[(label, checkpoints, measured slope, window (k from, k to))] of the fixed-step runs: ``runs[*]`` with
    their ``growth_law``, or (older results) one run at the top level."""
    out = []
    for i, run in enumerate(evidence.get("runs") or []):
        law = run.get("growth_law") or {}
        window = law.get("window_log10_k")
        window = [10 ** window[0], 10 ** window[1]] if window and len(window) == 2 else None
        out.append((_label_run(i, run), run.get("checkpoints") or [], _f(law.get("slope_per_ln_k")), window))
    if not out and evidence.get("checkpoints"):
        out.append(("fixed-step GD", evidence["checkpoints"], _f(evidence.get("slope")), evidence.get("slope_window")))
    return out


def _predicted_slope(evidence) -> float | None:
    pred = _f(evidence.get("predicted_slope"))
    if pred is None:
        for run in evidence.get("runs") or []:
            pred = _f((run.get("growth_law") or {}).get("p_mm_norm"))
            if pred is not None:
                break
    return pred


@register("norm-divergence")
def norm_growth_plot(evidence, ctx) -> list[Figure]:
    """||p_k|| against k (log axis) for fixed-step GD, with the predicted ||p_mm|| ln k growth drawn through
    each run's last point."""
    runs = [(label, [(c["iteration"], _f(c.get("norm"))) for c in cps
                     if (c.get("iteration") or 0) >= 1 and _f(c.get("norm")) is not None], slope, window)
            for label, cps, slope, window in _norm_runs(evidence)]
    runs = [r for r in runs if r[1]]
    if not runs:
        return []
    fig = _new_figure(6.4, 3.8)
    ax = fig.add_subplot()
    pred = _predicted_slope(evidence)
    for i, (label, pts, slope, window) in enumerate(runs):
        ks = np.array([p[0] for p in pts], dtype=float)
        norms = np.array([p[1] for p in pts])
        ax.semilogx(ks, norms, "o-", ms=3, lw=1.3, color=PALETTE[i % len(PALETTE)], label=rf"$\|p_k\|$, {label}")
        if pred:
            line = norms[-1] + pred * (np.log(ks) - math.log(ks[-1]))
            ax.semilogx(ks, line, "--", color="0.35", lw=1.1,
                        label=rf"predicted $\|p^{{\mathrm{{mm}}}}\|\,\ln k$ + const (slope {pred:.4g})" if i == 0 else None)
        if window and len(window) == 2 and window[0] > 0 and i == 0:
            ax.axvspan(window[0], window[1], color="0.92", zorder=0, label="window of the measured slope")
    ax.set_xlabel("iteration k")
    ax.set_ylabel(r"$\|p_k\|$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    cap = "Fixed-step GD: the theory predicts that the norm grows without bound, like ||p_mm|| ln k."
    slopes = [r[2] for r in runs if r[2] is not None]
    if slopes and pred:
        cap += (" Measured slope d||p_k||/d ln k = " + ", ".join(f"{x:.4g}" for x in slopes) +
                f" over the shaded window; predicted ||p_mm|| = {pred:.4g}. The dashed lines pass through the last "
                "points.")
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
@register("joint-regularization-path")
def regularization_path_plots(evidence, ctx) -> list[Figure]:
    from .joint_plots import has_path, one_minus_corr_svg, path_plane_svg, plane_dimension

    if not has_path(evidence):
        return []
    figs = []
    if plane_dimension(evidence) == 2:
        figs.append(Figure("Regularisation paths in the plane", path_plane_svg(evidence),
                           "The normalised path p_R/R (and v_r/r when v is trained) along the grid of radii, with the "
                           "predicted directions dashed: the p-SVM (p alone), or the v-SVM and the relaxed p-SVM, with "
                           "the plain p-SVM for contrast (joint)."))
    figs.append(Figure("1 - corr along the regularisation path", one_minus_corr_svg(evidence),
                       "1 - corr of the path's directions with the predicted SVM directions, against the radius "
                       "(log-log); values at rounding level (exactly 0) are marked on the bottom edge."))
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
