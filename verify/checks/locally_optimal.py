"""Check `locally-optimal`: GD converges only to locally optimal selections, and stays on one from its cone.

A selection alpha (one token per sequence) is locally optimal when its p-SVM is feasible and every
support token (active constraint at p_mm(alpha)) scores strictly below the selected token:
gamma_it < gamma_{i,alpha_i} (DESIGN.md section 1). The theory predicts:

1. Every selection that GD converges to in direction is locally optimal (the globally optimal tokens
   are one such selection; others may attract GD from some inits: convergence can be local).
2. Local convergence: for each locally optimal alpha, GD started at R p_mm/||p_mm|| plus a small
   perturbation (of norm 0.05 ||p_mm||, so its angle to p_mm shrinks as R grows), for R large enough, keeps selecting alpha and converges to p_mm(alpha)/||p_mm(alpha)||.

Computation. Candidate selections: all T^n when T^n <= 4096, else the optimal tokens, the selections GD
reached and their single-sequence variations. Each candidate's p-SVM is solved in float64 (least
distance by NNLS, :mod:`numeric.selections`); every selection reported (locally optimal or reached by
GD) is solved again with cvxpy and polished in mpmath from the exact data, and its local optimality is
decided from the polished active set with the scores compared as exact rationals.
GD runs judged: the dataset's inits (the directional-limit runs; converged = that check's `holds`),
RANDOM_INITS random inits (fixed seed, radii up to a logit spread of 5), and the cone runs (normalised GD
in torch float64, batched; converged = :mod:`numeric.convergence`'s rule; a batched run that seems to converge
to a selection that is not locally optimal is first continued for ten times the iterations and judged again).

Verdict: `fails` when some run converges (stable selection, 1 - corr small and falling) to a selection
that is not locally optimal; `holds` when every run from the dataset's inits converges to a locally
optimal selection and every locally optimal selection's cone run converges for some tested R;
otherwise `inconclusive`.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from attnsvm.numeric.batched import batched_gd
from attnsvm.numeric.convergence import CONVERGED, MIXED, STALLED, UNDECIDED, continue_and_judge, judge_batched
from attnsvm.numeric.selections import analyse_selections, candidate_selections, is_locally_optimal
from attnsvm.numeric.threads import torch_threads

from ..result import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, CheckResult
from . import directional_limit
from .optimal_tokens import optimal_tokens

ID = "locally-optimal"
NEEDS_ASSUMPTION_A = True  # a GD conclusion: no claim where the loss violates Assumption A
CLAIM = ("Every selection GD converges to is locally optimal (feasible p-SVM, every support token scores "
         "strictly below the selected token); from the cone around a locally optimal p_mm, GD stays on it.")

RANDOM_INITS = 64
RANDOM_SEED = 2023
RANDOM_LOGIT_SPREAD = 5.0
BATCH_ITERATIONS = 2000
RECHECK_FACTOR = 10
CONE_RADII = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)   # R in units of ||p_mm||
CONE_PERTURBATIONS = 4
CONE_PERTURBATION = 0.05       # ||perturbation|| / ||p_mm||: the angle to p_mm shrinks like 1/R
MAX_CONE_SELECTIONS = 16
MAX_TABLE = 256                # candidates listed one by one in the evidence (float64 analysis)
JUDGE = {"tol": 1e-3, "min_drop": 4.0, "mixed_mass": 1e-3, "min_speed": 0.05}


def _exact_status(ctx, sel) -> dict:
    """The polished p-SVM of ``sel`` and its local optimality decided exactly (None when unknown)."""
    rec = ctx.svm(sel)
    out = {"selection": list(sel), "feasible": rec.feasible, "p_mm_norm": None, "support": [],
           "locally_optimal": False if not rec.feasible else None, "exact": False}
    if rec.feasible and rec.polished is not None:
        sup = rec.support()
        out["p_mm_norm"] = float(rec.polished.norm)
        out["support"] = sup
        if rec.polished.ok:
            out["locally_optimal"] = is_locally_optimal(ctx.dataset.gamma_exact, sel, sup)
            out["exact"] = True
        out["kkt_residual"] = float(rec.polished.kkt_residual)
    return out


def _random_inits(ctx, rng) -> np.ndarray:
    """RANDOM_INITS directions uniform on the sphere, radii uniform up to the norm at which the largest
    logit difference within a sequence can reach RANDOM_LOGIT_SPREAD."""
    phi = ctx.phi
    diffs = phi[:, :, None, :] - phi[:, None, :, :]
    spread = float(np.max(np.linalg.norm(diffs, axis=-1)))
    rho_max = RANDOM_LOGIT_SPREAD / spread if spread > 0 else 1.0
    u = rng.standard_normal((RANDOM_INITS, phi.shape[2]))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return u * rng.uniform(0.0, rho_max, RANDOM_INITS)[:, None]


def _batched_runs(ctx, theta0: np.ndarray, p_mm_of, suspicious) -> list:
    """Normalised GD from every row of theta0 (torch float64, batched over inits), judged; a run judged
    converged to a selection for which ``suspicious(selection)`` is True (not locally optimal) is continued
    for RECHECK_FACTOR times the iterations and judged again on the continuation."""
    B = theta0.shape[0]
    if B == 0:
        return []
    phi = np.repeat(ctx.phi[None], B, axis=0)
    gamma = np.repeat(ctx.gamma[None], B, axis=0)
    step = ctx.options["step"] if ctx.options["method"] == "normalized" else 1.0
    judge = {**JUDGE, "min_speed": JUDGE["min_speed"] * step}
    loss = ctx.loss
    with torch_threads(1):
        traj = batched_gd(theta0, phi, gamma, loss, method="normalized", step=step, iterations=BATCH_ITERATIONS)
    judged = judge_batched(traj, lambda b, sel: p_mm_of(sel), **judge)
    suspect = [b for b, j in enumerate(judged) if j.status == CONVERGED and suspicious(j.selection)]
    if suspect:
        with torch_threads(1):
            again = continue_and_judge(traj.theta[-1, suspect], phi[suspect], gamma[suspect], loss,
                                       lambda k, sel: p_mm_of(sel), step=step,
                                       iterations=RECHECK_FACTOR * BATCH_ITERATIONS, **judge)
        for b, j in zip(suspect, again):
            judged[b] = j
    return judged


def run(ctx) -> CheckResult:
    ds = ctx.dataset
    if ds.model != "prompt":  # the selections of W models are judged by w-directional-limit / kq-directional-limit
        return CheckResult(ID, NOT_APPLICABLE, "self/cross-attention model: local optimality is checked for the "
                           "prompt model only (see w-directional-limit and kq-directional-limit)", CLAIM, {})
    alpha, argmax_sets = optimal_tokens(ds)
    alpha = tuple(alpha)
    is_optimal = lambda sel: all(a in s for a, s in zip(sel, argmax_sets))  # noqa: E731
    float_cache: dict = {}

    def p_mm_of(sel):
        sel = tuple(int(a) for a in sel)
        if sel not in float_cache:
            float_cache[sel] = analyse_selections(ctx.phi, ctx.gamma, [sel])[0]
        return float_cache[sel].p_mm

    # 1. the dataset's own runs (shared with directional-limit)
    dataset_runs = []
    for k, traj in enumerate(ctx.gd_runs()):
        judged = directional_limit.judge_run(ctx, traj, argmax_sets)
        dataset_runs.append({"init": k, "selected": tuple(judged["selected"]),
                             "converged": judged["verdict"] == HOLDS, "one_minus_corr": judged["one_minus_corr"],
                             "reason": judged["reason"]})

    # 2. random inits, batched
    rng = np.random.default_rng(RANDOM_SEED)

    def suspicious(sel):
        p_mm_of(sel)
        return float_cache[tuple(sel)].locally_optimal is not True

    random_judged = _batched_runs(ctx, _random_inits(ctx, rng), p_mm_of, suspicious)

    # 3. candidate selections and their float analysis
    reached = [r["selected"] for r in dataset_runs] + [j.selection for j in random_judged]
    base = list(dict.fromkeys([alpha] + reached))
    cands = candidate_selections(ds.n, ds.T, base)
    for a in analyse_selections(ctx.phi, ctx.gamma, cands):
        float_cache.setdefault(a.selection, a)
    float_local = [s for s, a in float_cache.items() if a.locally_optimal]

    # 4. exact status of every selection reported
    exact: dict = {}
    for sel in dict.fromkeys(base + float_local[:MAX_CONE_SELECTIONS]):
        exact[sel] = _exact_status(ctx, sel)
        exact[sel]["optimal"] = is_optimal(sel)
        exact[sel]["float_locally_optimal"] = float_cache[sel].locally_optimal if sel in float_cache else None
    local_sels = [s for s, e in exact.items() if e["locally_optimal"]]

    # 5. cone initialisation around each locally optimal p_mm
    cone_sels = local_sels[:MAX_CONE_SELECTIONS]
    inits, labels = [], []
    for sel in cone_sels:
        pm = ctx.svm(sel).theta
        unit = pm / np.linalg.norm(pm)
        for c in CONE_RADII:
            R = c * float(np.linalg.norm(pm))
            for _ in range(CONE_PERTURBATIONS):
                e = rng.standard_normal(pm.shape)
                e *= CONE_PERTURBATION * float(np.linalg.norm(pm)) / np.linalg.norm(e)
                inits.append(R * unit + e)
                labels.append((sel, c, R))
    cone_judged = _batched_runs(ctx, np.array(inits).reshape(len(inits), ds.d), p_mm_of, suspicious)
    cones = {}
    for sel in cone_sels:
        per_r = []
        for c in CONE_RADII:
            js = [j for j, lab in zip(cone_judged, labels) if lab[0] == sel and lab[1] == c]
            ok = all(j.status == CONVERGED and j.selection == sel for j in js)
            per_r.append({"R": c * exact[sel]["p_mm_norm"], "R_over_p_mm_norm": c, "runs": len(js),
                          "stayed_and_converged": sum(j.status == CONVERGED and j.selection == sel for j in js),
                          "ok": ok})
        worked = [p for p in per_r if p["ok"]]
        cones[sel] = {"selection": list(sel), "smallest_R": worked[0]["R"] if worked else None,
                      "smallest_R_over_p_mm_norm": worked[0]["R_over_p_mm_norm"] if worked else None,
                      "all_larger_R_ok": bool(worked) and all(p["ok"] for p in per_r if p["R_over_p_mm_norm"] >=
                                                              worked[0]["R_over_p_mm_norm"]),
                      "radii": per_r}

    # 6. contradictions: converged runs on selections that are exactly not locally optimal
    def status_of(sel):
        if sel not in exact:
            exact[sel] = _exact_status(ctx, sel)
            exact[sel]["optimal"] = is_optimal(sel)
        return exact[sel]["locally_optimal"]

    contradictions = []
    for r in dataset_runs:
        r["locally_optimal"] = status_of(r["selected"])
        r["optimal"] = is_optimal(r["selected"])
        if r["converged"] and r["locally_optimal"] is False:
            contradictions.append({"source": f"init {r['init']}", "selection": list(r["selected"])})
    for k, j in enumerate(random_judged):
        if j.status == CONVERGED and status_of(j.selection) is False:
            contradictions.append({"source": f"random init {k}", "selection": list(j.selection),
                                   "one_minus_corr": j.one_minus_corr})
    for j, lab in zip(cone_judged, labels):
        if j.status == CONVERGED and status_of(j.selection) is False:
            contradictions.append({"source": f"cone of {list(lab[0])} at R = {lab[2]:.4g}",
                                   "selection": list(j.selection), "one_minus_corr": j.one_minus_corr})

    # 7. global versus local: which selections attract GD from random inits
    counts = Counter((j.status, j.selection if j.status == CONVERGED else None) for j in random_judged)
    basins = []
    for (status, sel), cnt in sorted(counts.items(), key=lambda kv: -kv[1]):
        entry = {"status": status, "runs": cnt, "fraction": cnt / max(1, len(random_judged))}
        if sel is not None:
            entry.update(selection=list(sel), optimal=is_optimal(sel), locally_optimal=exact[sel]["locally_optimal"])
        basins.append(entry)
    n_undecided = sum(j.status == UNDECIDED for j in random_judged)
    n_mixed = sum(j.status == MIXED for j in random_judged)
    n_stalled = sum(j.status == STALLED for j in random_judged)

    local_report = []
    for sel in local_sels:
        share = sum(1 for j in random_judged if j.status == CONVERGED and j.selection == sel)
        local_report.append({**exact[sel], "random_init_fraction": share / max(1, len(random_judged)),
                             "cone": cones.get(sel)})
    evidence = {
        "optimal_tokens": list(alpha),
        "candidates": {"examined": int(len(cands)), "all": bool(ds.T ** ds.n <= 4096),
                       "feasible": int(sum(a.feasible for a in float_cache.values())),
                       "locally_optimal_float": [list(s) for s in float_local],
                       "table": [{"selection": list(a.selection), "feasible": a.feasible,
                                  "support": [list(x) for x in a.support], "locally_optimal": a.locally_optimal}
                                 for a in (float_cache[tuple(int(t) for t in c)] for c in cands)]
                       if len(cands) <= MAX_TABLE else None},
        "locally_optimal": local_report,
        "dataset_runs": [{**r, "selected": list(r["selected"])} for r in dataset_runs],
        "random_inits": {"runs": len(random_judged), "seed": RANDOM_SEED, "logit_spread": RANDOM_LOGIT_SPREAD,
                         "iterations": BATCH_ITERATIONS, "method": "normalized", "basins": basins,
                         "mixed": n_mixed, "stalled": n_stalled, "undecided": n_undecided},
        "cone": {"radii_over_p_mm_norm": list(CONE_RADII), "perturbation": CONE_PERTURBATION,
                 "perturbations": CONE_PERTURBATIONS, "iterations": BATCH_ITERATIONS, "method": "normalized",
                 "step": ctx.options["step"] if ctx.options["method"] == "normalized" else 1.0},
        "convergence_rule": {"dataset_runs": "directional-limit verdict holds",
                             "batched_runs": "numeric.convergence: stable selection over the last decade, "
                                             "||p|| advanced >= min_speed * step per iteration, 1 - corr <= tol and fell >= min_drop-fold", **JUDGE},
        "contradictions": contradictions,
        "backend": "float64 (NNLS least distance for candidates; cvxpy + mpmath polish and exact scores for "
                   "reported selections; torch float64 batched GD)",
    }

    glob = sum(r["converged"] and r["optimal"] for r in dataset_runs)
    loc = sum(r["converged"] and r["locally_optimal"] and not r["optimal"] for r in dataset_runs)
    sel_text = "; ".join(
        f"{list(e['selection'])} {'global' if e['optimal'] else 'local'}, {e['random_init_fraction']:.0%} of random "
        f"inits, cone R >= " + (f"{e['cone']['smallest_R']:.3g}" if e["cone"] and e["cone"]["smallest_R"] else "?")
        for e in local_report)
    tail = f"{len(local_sels)} locally optimal selection(s): {sel_text}" if local_sels else \
        "no locally optimal selection"
    if contradictions:
        c = contradictions[0]
        return CheckResult(ID, FAILS, f"GD ({c['source']}) converges to {c['selection']}, which is not locally "
                                      f"optimal ({len(contradictions)} such run(s)); " + tail, CLAIM, evidence)
    undecided_runs = [r["init"] for r in dataset_runs if not r["converged"]]
    no_cone = [list(s) for s in cone_sels if cones[s]["smallest_R"] is None]
    unknown = [list(s) for s, e in exact.items() if e["locally_optimal"] is None]
    runs_text = f"{glob + loc}/{len(dataset_runs)} runs converge to locally optimal selections " \
                f"({glob} globally optimal, {loc} only locally)"
    local_only = [r for r in dataset_runs if r["converged"] and r["locally_optimal"] and not r["optimal"]]
    if local_only:
        runs_text += "; " + ", ".join(f"init {r['init']} -> {list(r['selected'])}" for r in local_only) + \
            " locally but not globally optimal (consistent with the theory)"
    if undecided_runs or no_cone or unknown:
        parts = []
        if undecided_runs:
            parts.append(f"run(s) {undecided_runs} did not converge within budget")
        if no_cone:
            parts.append(f"no tested cone radius converged for {no_cone}")
        if unknown:
            parts.append(f"polishing failed for {unknown}")
        return CheckResult(ID, INCONCLUSIVE, "; ".join(parts) + f"; {runs_text}; " + tail, CLAIM, evidence)
    return CheckResult(ID, HOLDS, f"{runs_text}; " + tail, CLAIM, evidence)
