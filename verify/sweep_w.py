"""One grid point of the sweep for the self/cross-attention models: W (Frobenius W-SVM) and W = K Q^T (nuclear).

Family (the second paper's generator): unit-norm Gaussian tokens x_it, cross-attention queries z_i (unit-norm
Gaussian), a unit-norm Gaussian head v and random labels; X, Y, v are those of :func:`verify.sweep.random_dataset`,
the queries come from their own generator (SeedSequence([base_seed, n, T, d, seed, 2])).

Runs per dataset: W = 0 (for (K, Q): K = Q = I/10, balanced) and ``inits - 1`` random inits (W: uniform directions
of Frobenius norm ``init_radius``; (K, Q): K, Q Gaussian, each of Frobenius norm sqrt(init_radius)), normalised GD with
the zigzag step rule in rounds of growing budgets, judged by the one rule of :mod:`numeric.convergence`
(numeric.convergence.decide_runs with the factored runner of numeric.batched_w). The target of a run is the SVM of
its final selection: the Frobenius W-SVM for W, the nuclear-norm W-SVM (cvxpy) for (K, Q). A converged run is
classed by its selection: the optimal tokens, another locally optimal selection (support tokens of the Frobenius
W-SVM score below the selected token), or neither.

Per grid point also: the ranks of both W-SVMs of the optimal tokens (numeric.ranks): the Frobenius solution's exact
rank (from its exact KKT certificate), the nuclear solution's certified effective rank (dual certificate), next to
the authors' rule (matrix_rank with tol 1e-7 on the raw solver output); infeasible instances are excluded and
counted; and the mean and spread over runs of 1 - corr (to the target of the run's final selection) and of the
largest softmax probability (mean over the sequences of max_t s_it) at the first round's checkpoints.
"""
from __future__ import annotations

import time
from collections import Counter

import numpy as np

from attnsvm import numeric, symbolic
from attnsvm.numeric.batched_w import runner
from attnsvm.numeric.convergence import decide_runs
from attnsvm.numeric.ranks import LEVEL, absolute_rank, exact_rank, nuclear_effective_rank
from attnsvm.numeric.selections import analyse_selection

MODELS = ("W", "KQ")


def random_queries(n: int, d: int, seed: int, T: int, base_seed: int = 0) -> np.ndarray:
    """Unit-norm Gaussian cross-attention queries z_i (n, d) of the family's dataset ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence([base_seed, n, T, d, seed, 2]))
    Z = rng.standard_normal((n, d))
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


def _inits(model, d, seed, n, T, count, radius, base_seed):
    rng = np.random.default_rng(np.random.SeedSequence([base_seed, n, T, d, seed, 3]))
    rows = []
    if model == "W":
        rows.append(np.zeros(d * d))
        for _ in range(count - 1):
            u = rng.standard_normal(d * d)
            rows.append(radius * u / np.linalg.norm(u))
    else:
        K0, Q0 = numeric.balanced_init(d, d, 0.1)
        rows.append(np.concatenate([K0.ravel(), Q0.ravel()]))
        for _ in range(count - 1):
            K, Q = rng.standard_normal((2, d, d))
            K *= np.sqrt(radius) / np.linalg.norm(K)
            Q *= np.sqrt(radius) / np.linalg.norm(Q)
            rows.append(np.concatenate([K.ravel(), Q.ravel()]))
    return np.array(rows)


def _scs_nuclear_rank(A, b, d: int):
    """matrix_rank(tol=1e-7) of the nuclear-norm SVM as solved by SCS with cvxpy's defaults (the first-order solver
    cvxpy picked for this problem in the authors' code), or None when SCS fails."""
    import cvxpy as cp

    W = cp.Variable((d, d))
    prob = cp.Problem(cp.Minimize(cp.normNuc(W)), [A @ cp.reshape(W, (d * d,), order="C") >= b])
    try:
        prob.solve(solver=cp.SCS)
    except cp.error.SolverError:
        return None
    return absolute_rank(W.value) if W.value is not None else None


def svm_ranks(X, Z, gamma, alpha, d: int, dps: int = 40, scs: bool = False) -> dict:
    """Both W-SVMs of the selection ``alpha`` and their ranks (module docstring); {"feasible": False} if none.
    ``scs``: also the 1e-7 rule on the nuclear solution of SCS (cvxpy's default first-order solver)."""
    from fractions import Fraction

    phi = numeric.w_features(X, Z)
    con = numeric.svm_constraints(phi, alpha)
    sel = analyse_selection(phi, gamma, alpha)
    if not sel.feasible:
        return {"feasible": False}
    out = {"feasible": True}
    sol = numeric.solve_svm(con.A, con.b)
    exact = numeric.svm_constraints(numeric.w_features(np.vectorize(Fraction, otypes=[object])(X),
                                                       np.vectorize(Fraction, otypes=[object])(Z)), alpha)
    guess = numeric.active_set_guess(sol, con.A, con.b) if sol.feasible else []
    cert = symbolic.certify_svm(exact.A, exact.b, guess)
    fro = {"absolute_1e-7": absolute_rank(sol.theta.reshape(d, d)) if sol.feasible else None,
           "certificate": cert.status}
    fro["rank"] = exact_rank(cert.theta, d) if cert.status == "exact" else None
    out["frobenius"] = fro
    nuc = numeric.solve_nuclear_svm(con.A, con.b, d)
    if nuc.feasible:
        c = numeric.nuclear_certificate(exact.A, exact.b, nuc.W, nuc.dual, d, dps=dps)
        M = (np.maximum(nuc.dual, 0) @ con.A).reshape(d, d)
        W_s, _ = numeric.margin_scaled(nuc.W.ravel(), con.A, con.b)
        eff = nuclear_effective_rank(W_s.reshape(d, d), M, float(c.lower), float(c.upper))
        out["nuclear"] = {"absolute_1e-7": absolute_rank(nuc.W), "rank": eff["rank"], "tail_bound": eff["tail_bound"],
                          "relative_gap": float(c.gap)}
    else:
        out["nuclear"] = {"absolute_1e-7": None, "rank": None, "solver_status": nuc.status}
    if scs:
        out["nuclear"]["absolute_1e-7_scs"] = _scs_nuclear_rank(con.A, con.b, d)
    return out


def sweep_point_w(model: str, n: int, T: int, d: int, seeds: int, inits: int, init_radius: float, iterations: int,
                  base_seed: int, device: str, budget_factors=(1, 4, 16), ranks: bool = True) -> dict:
    """One row of the sweep table for ``model`` W or KQ (module docstring)."""
    from .sweep import random_dataset

    data = [random_dataset(n, T, d, s, base_seed) for s in range(seeds)]
    X = np.stack([x for x, _, _ in data])
    Z = np.stack([random_queries(n, d, s, T, base_seed) for s in range(seeds)])
    gamma = np.stack([y[:, None] * (x @ v) for x, y, v in data])
    alpha = gamma.argmax(axis=2)
    theta0 = np.concatenate([_inits(model, d, s, n, T, inits, init_radius, base_seed) for s in range(seeds)])
    owner = np.repeat(np.arange(seeds), inits)
    phis = [numeric.w_features(X[s], Z[s]) for s in range(seeds)]
    fro_cache: dict = {}
    nuc_cache: dict = {}

    def fro(s, sel):
        if (s, sel) not in fro_cache:
            fro_cache[(s, sel)] = analyse_selection(phis[s], gamma[s], sel)
        return fro_cache[(s, sel)]

    def target(s, sel):
        if model == "W":
            return fro(s, sel).p_mm
        if (s, sel) not in nuc_cache:
            if not fro(s, sel).feasible:
                nuc_cache[(s, sel)] = None
            else:
                con = numeric.svm_constraints(phis[s], sel)
                nuc = numeric.solve_nuclear_svm(con.A, con.b, d)
                nuc_cache[(s, sel)] = nuc.W.ravel() if nuc.feasible else None
        return nuc_cache[(s, sel)]

    shape = ((d, d),) if model == "W" else ((d, d), (d, d))
    run = runner(model, X[owner], Z[owner], gamma[owner], shape, step=1.0, device=device)
    t0 = time.perf_counter()
    budgets = tuple(f * iterations for f in budget_factors)
    decided = decide_runs(theta0, None, None, "logistic", lambda b, sel: target(int(owner[b]), sel), budgets=budgets,
                          runner=run, keep_thetas=True)
    gd_seconds = time.perf_counter() - t0
    from .sweep import classify_runs

    counts, zero_counts = classify_runs(decided.judgements, owner, alpha, inits, fro)
    from .sweep import CLASSES

    runs = len(decided.judgements)
    row = {"model": model, "n": n, "T": T, "d": d, "datasets": seeds, "runs": runs, "rechecked": 0,
           "feasible_optimal": float(np.mean([fro(s, tuple(int(a) for a in alpha[s])).feasible for s in range(seeds)])),
           "feasible_selections": None, "locally_optimal_per_dataset": None,
           "counts": {c: int(counts.get(c, 0)) for c in CLASSES},
           "fractions": {c: counts.get(c, 0) / runs for c in CLASSES},
           "fractions_from_zero": {c: zero_counts.get(c, 0) / seeds for c in CLASSES},
           "gd_seconds": round(gd_seconds, 3)}
    row["fractions"]["neither"] = sum(counts.get(c, 0) for c in ("not_local", "stalled", "mixed")) / runs
    row["curves"] = _curves(decided, owner, X, Z, gamma, target, budgets[0])
    if ranks:
        row["ranks"] = _rank_summary([svm_ranks(X[s], Z[s], gamma[s], tuple(int(a) for a in alpha[s]), d)
                                      for s in range(seeds)])
    return row


def _curves(decided, owner, X, Z, gamma, target, first_budget) -> dict:
    """Mean and standard deviation over runs of 1 - corr (to the target of the run's final selection) and of the
    largest softmax probability, at the checkpoints of the first round (common to every run)."""
    its = [k for k in decided.histories[0]["iterations"] if k <= first_budget]
    omc = np.full((len(decided.histories), len(its)), np.nan)
    top = np.full((len(decided.histories), len(its)), np.nan)
    for b, (h, j) in enumerate(zip(decided.histories, decided.judgements)):
        s = int(owner[b])
        tgt = target(s, j.selection)
        d = X.shape[-1]
        for k, it in enumerate(its):
            idx = h["iterations"].index(it)
            W = np.asarray(h["theta"][idx], dtype=float)
            q = np.einsum("ita,ab,ib->it", X[s], W.reshape(d, d), Z[s])
            q -= q.max(axis=1, keepdims=True)
            p = np.exp(q)
            p /= p.sum(axis=1, keepdims=True)
            top[b, k] = float(np.mean(p.max(axis=1)))
            if tgt is not None and np.linalg.norm(W) > 0:
                omc[b, k] = numeric.one_minus_corr(W, tgt)
    def stats(a):
        cols = [a[~np.isnan(a[:, k]), k] for k in range(a.shape[1])]
        return ([float(c.mean()) if c.size else None for c in cols], [float(c.std()) if c.size else None for c in cols])

    omc_mean, omc_std = stats(omc)
    top_mean, top_std = stats(top)
    return {"iterations": its, "one_minus_corr_mean": omc_mean, "one_minus_corr_std": omc_std,
            "one_minus_corr_runs": int(np.sum(~np.isnan(omc[:, -1]))) if its else 0,
            "top_probability_mean": top_mean, "top_probability_std": top_std}


def _rank_summary(recs: list) -> dict:
    feas = [r for r in recs if r["feasible"]]
    out = {"instances": len(recs), "infeasible": len(recs) - len(feas), "level": LEVEL}
    for norm in ("frobenius", "nuclear"):
        cert = [r[norm]["rank"] for r in feas if r[norm].get("rank") is not None]
        absr = [r[norm]["absolute_1e-7"] for r in feas if r[norm].get("absolute_1e-7") is not None]
        out[norm] = {"certified_mean": float(np.mean(cert)) if cert else None,
                     "certified_counts": {str(k): int(v) for k, v in sorted(Counter(cert).items())},
                     "undetermined": len(feas) - len(cert),
                     "absolute_1e-7_mean": float(np.mean(absr)) if absr else None,
                     "absolute_1e-7_counts": {str(k): int(v) for k, v in sorted(Counter(absr).items())}}
    return out
