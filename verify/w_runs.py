"""Shared computations of the self/cross-attention checks (cached on the Context, computed once).

* :func:`w_svm` -- for one token selection alpha, the Frobenius W-SVM (= the p-SVM machinery of
  ``Context.svm`` on the features vec(x_it z_i^T): solved, polished in mpmath) and the nuclear-norm
  W-SVM (cvxpy) with its weak-duality certificate in mpmath (``numeric.nuclear_certificate``).
* :func:`w_run` -- normalised GD on W (the dataset's first W init), :func:`kq_run` -- normalised GD on
  the joint (K, Q) (the dataset's first [K, Q] init, or the balanced default K = Q = I/10), constant
  normalised steps of 2 on the joint parameter.
* :func:`judge_iterate` -- the evidence of one iterate W against both SVMs of its selection: 1 - corr
  against W_F^mm (unique), and the optimality gaps for both norms after scaling to margin 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attnsvm import numeric

RANK_RTOL_SVM = 1e-6      # numerical rank of the (polished / certified) SVM solutions
RANK_RTOL_ITERATE = 1e-3  # numerical rank of a GD iterate W_k / ||W_k|| (its off-limit part decays slowly)
W_ITERATIONS = 20_000     # GD on W: normalised steps of the context's step (default 1)
KQ_ITERATIONS = 20_000    # GD on (K, Q): relative steps
KQ_STEP = 2.0             # normalised step on the joint (K, Q) (bench/tf_svm_kq_schedule.py: larger is faster)
KQ_RULE = "constant"
KQ_DECAY = None
NUC_CERT_TOL = 1e-6       # relative duality gap accepted as a nuclear-norm certificate
NUC_MAX_ENTRIES = 2_000_000   # m D of the constraint matrix: the largest nuclear-norm W-SVM handed to the SDP solver
                              # (its cone is 2d x 2d and every constraint row is dense; above this: not solved)


@dataclass
class WSVMs:
    """Both W-SVMs of one selection: ``fro`` (a Context SVMRecord), ``nuc`` (numeric.NuclearSVM) and
    ``cert`` (numeric.NuclearCertificate or None)."""

    selection: tuple
    fro: object
    nuc: object
    cert: object
    too_large: str | None = None   # why the nuclear-norm SVM was not solved (NUC_MAX_ENTRIES)

    @property
    def feasible(self) -> bool:
        return bool(self.fro.feasible and self.nuc.feasible)

    @property
    def fro_opt(self) -> float | None:
        return float(self.fro.polished.norm) if self.fro.polished is not None else self.fro.solution.norm

    @property
    def nuc_opt(self) -> float | None:
        """The certified upper bound on min ||W||_* (within the certificate's gap of the optimum)."""
        return float(self.cert.upper) if self.cert is not None else self.nuc.norm

    def evidence(self, d: int) -> dict:
        ev = {"selection": list(self.selection), "feasible": self.feasible,
              "frobenius": self.fro.evidence(), "nuclear": {"solver_status": self.nuc.status}}
        if self.fro.feasible:
            W = self.fro.theta.reshape(d, -1)
            ev["frobenius"]["rank"] = numeric.numerical_rank(W, RANK_RTOL_SVM)
            ev["frobenius"]["nuclear_norm"] = float(np.linalg.norm(W, "nuc"))
        if self.nuc.feasible:
            ev["nuclear"].update(W=self.nuc.W, norm=self.nuc.norm,
                                 rank=numeric.numerical_rank(self.nuc.W, RANK_RTOL_SVM),
                                 singular_values=np.linalg.svd(self.nuc.W, compute_uv=False),
                                 frobenius_norm=float(np.linalg.norm(self.nuc.W)))
            if self.cert is not None:
                ev["nuclear"]["certificate"] = {
                    "lower": self.cert.lower, "upper": self.cert.upper, "relative_gap": float(self.cert.gap),
                    "spectral_norm_of_dual": self.cert.spectral, "ok": self.cert.ok, "tol": NUC_CERT_TOL,
                    "dps": self.cert.dps,
                    "statement": "lower <= min ||W||_* <= upper by weak duality (mpmath)"}
        ev["rank_rtol"] = RANK_RTOL_SVM
        return ev


def w_svm(ctx, selection) -> WSVMs:
    """Both W-SVMs of ``selection`` (cached)."""
    key = ("svm", tuple(int(a) for a in selection))
    cache = ctx._w
    if key not in cache:
        fro = ctx.svm(key[1])
        con = fro.constraints
        m, D = con.A.shape
        too_large = None
        if m * D > NUC_MAX_ENTRIES:
            too_large = (f"the nuclear-norm W-SVM is too large for the SDP solver: {m} dense constraints in D = {D} "
                         f"dimensions (m D = {m * D} > {NUC_MAX_ENTRIES})")
            nuc = numeric.NuclearSVM(False, f"not solved: {too_large}")
        else:
            nuc = numeric.solve_nuclear_svm(con.A, con.b, ctx.dataset.d)
        cert = None
        if nuc.feasible:
            exact = fro.exact   # the lazy exact constraints of Context.svm (Dataset.exact_constraints)
            cert = numeric.nuclear_certificate(exact.A, exact.b, nuc.W, nuc.dual, ctx.dataset.d, tol=NUC_CERT_TOL)
        cache[key] = WSVMs(selection=key[1], fro=fro, nuc=nuc, cert=cert, too_large=too_large)
    return cache[key]


def _queries_and_data(ctx):
    ds = ctx.dataset
    return ds.X, ds.Z, ctx.gamma


def w_run(ctx):
    """Normalised GD on W from the dataset's first W init (computed once)."""
    if "w_run" not in ctx._w:
        o = ctx.options
        # the GD kernel contracts with X and Z (numeric.WFeatures) instead of the d^2 features per token
        ctx._w["w_run"] = numeric.run_gd(ctx.dataset.inits[0].ravel(), numeric.WFeatures(ctx.dataset.X, ctx.dataset.Z),
                                         ctx.gamma, ctx.loss,
                                         method="normalized", step=o["step"],
                                         max_iter=min(o["max_iterations"], W_ITERATIONS),
                                         time_budget=o["time_budget"])
    return ctx._w["w_run"]


def kq_run(ctx):
    """Normalised GD on (K, Q) with relative steps, from the dataset's first [K, Q] init (computed once)."""
    if "kq_run" not in ctx._w:
        ds = ctx.dataset
        if ds.kq_inits is not None:
            K0, Q0 = ds.kq_inits[0]
        else:
            K0, Q0 = numeric.balanced_init(ds.d, ds.rank, 0.1)
        X, Z, gamma = _queries_and_data(ctx)
        o = ctx.options
        ctx._w["kq_run"] = numeric.run_kq_gd(K0, Q0, X, Z, gamma, ctx.loss, step=kq_settings(ctx)["step"],
                                             rule=KQ_RULE, decay=KQ_DECAY,
                                             max_iter=min(o["max_iterations"], KQ_ITERATIONS),
                                             time_budget=o["time_budget"],
                                             normalization=kq_settings(ctx)["normalization"],
                                             ridge=kq_settings(ctx)["ridge"])
    return ctx._w["kq_run"]


def kq_settings(ctx) -> dict:
    """The (K, Q) GD settings of this check: step (``kq_step``: an explicit step, from the options or the dataset's
    gd.step, else KQ_STEP), normalisation ("joint" or "per-factor") and ridge lambda (default 0), with where each
    came from."""
    o = ctx.options
    return {"step": KQ_STEP if o.get("kq_step") is None else float(o["kq_step"]),
            "step_source": "default" if o.get("kq_step") is None else "explicit (option or dataset gd.step)",
            "normalization": o.get("kq_normalization") or "joint",
            "ridge": 0.0 if o.get("kq_ridge") is None else float(o["kq_ridge"]),
            "rule": KQ_RULE, "decay": KQ_DECAY}


def judge_iterate(theta, svms: WSVMs, d: int) -> dict:
    """1 - corr against W_F^mm and the optimality gaps ||W_s|| / opt - 1 for both norms, W_s = W / mu with
    mu = min_j <A_j, W> / b_j (margin 1); rank and normalised singular values of W."""
    con = svms.fro.constraints
    out = numeric.optimality_gaps(theta, con.A, con.b, d, svms.fro_opt, svms.nuc_opt)
    W = np.asarray(theta, dtype=float).reshape(d, -1)
    nW = float(np.linalg.norm(W))
    out["norm"] = nW
    out["one_minus_corr_fro"] = numeric.one_minus_corr(theta, svms.fro.theta) if svms.fro.feasible and nW > 0 else None
    out["one_minus_corr_nuc"] = numeric.one_minus_corr(theta, svms.nuc.W) if svms.nuc.feasible and nW > 0 else None
    out["rank"] = numeric.numerical_rank(W, RANK_RTOL_ITERATE) if nW > 0 else 0
    out["singular_values"] = (np.linalg.svd(W, compute_uv=False) / nW) if nW > 0 else np.zeros(d)
    return out


def trajectory_evidence(traj, svms: WSVMs, d: int) -> list:
    """judge_iterate at every checkpoint of ``traj`` (against the SVMs of the final selection)."""
    rows = []
    for c in traj.checkpoints:
        row = {"iteration": c.iteration, "selected": list(c.selected), "loss": c.loss,
               "one_minus_mass": c.one_minus_mass}
        if c.norm > 0:
            j = judge_iterate(c.theta, svms, d)
            row.update({k: j[k] for k in ("norm", "one_minus_corr_fro", "one_minus_corr_nuc", "fro_gap", "nuc_gap",
                                          "min_margin", "rank")})
        else:
            row["norm"] = 0.0
        rows.append(row)
    return rows


def decade_drop(rows: list, key: str) -> tuple[float | None, dict | None]:
    """How many times ``key`` fell over the last decade of ||W|| (None when ||W|| did not grow tenfold or a
    value is missing)."""
    final = rows[-1]
    earlier = [r for r in rows if 0 < r.get("norm", 0) <= final["norm"] / 10 and r.get(key) is not None]
    if not earlier or final.get(key) is None:
        return None, None
    start = earlier[-1]
    a, b = start[key], final[key]
    drop = float("inf") if b <= 0 else a / b
    return drop, {"norm_from": start["norm"], "norm_to": final["norm"], f"{key}_from": a, f"{key}_to": b, "drop": drop}
