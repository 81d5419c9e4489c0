"""The multi-token SVM equivalence on the tf-svm-multitoken family: the authors' 2,000 steps and a longer run.

    .venv/bin/python bench/svm_equivalence.py [--members 100] [--iterations 10000] [--device cpu]

Normalised GD on W with the relu head, step 0.1 (the authors'), from each member's stored init, all members in one
batched torch run (numeric.batched_w with numeric.batched_w.BatchedHead: the stable gradients). At the authors'
2,000 steps and at the end: the selected sets O_i = {t : s_it >= 1e-3}, theta_dir (cvxpy, numeric.equality_svm),
theta_fin (projection), R, and 1 - corr to W_fin + R W_dir, to W_dir and to the one-token W-SVM of the argmax (the
SVMs of each iterate, as the authors compute them). Members whose sets at the end leave a probability in
(1e-6, 1e-3] or mask nothing are counted apart. Also: the members with a sequence whose relu output is constant
at the end (every unit off at the attended vector: no gradient reaches it), where the fit stalls. Prints medians
and the seconds of each stage.
"""
import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from attnsvm import numeric  # noqa: E402
from attnsvm.numeric import multitoken as mt  # noqa: E402
from attnsvm.numeric.batched_w import BatchedHead, batched_w_gd  # noqa: E402
from attnsvm.numeric.equality_svm import solve_equality_svm  # noqa: E402
from attnsvm.numeric.heads import Readout, make_head  # noqa: E402
from attnsvm.verify.builtins import family_batch  # noqa: E402

AUTHORS = 2000


def analyse(theta, X, Y, Z, V, tau=1e-3):
    """The authors' procedure on one iterate: sets, theta_dir, theta_fin, R and the three fits (None if skipped)."""
    T, d = X.shape[1:]
    head = make_head("relu", np.ones(d), V)
    phi = numeric.w_features(X, Z)
    kern = numeric.StableAttention(phi, head.token_scores(X, Y), Readout(head, X, Y))
    tails = kern.tails(theta)
    st = kern.state(theta)
    s = st.s
    dead = [bool(np.all(row == 0)) for row in kern.effective_dgamma(tails)]
    sets = mt.selected_sets(s, tau)
    # a sequence whose output is constant (no gradient reaches it) but which masks some token
    out = {"sets": sets, "masked": None, "dead_sequence": any(dv and len(O) < T for dv, O in zip(dead, sets))}
    if np.any((s > mt.MASKED_TAU) & (s <= tau)):
        out["skip"] = "band"
        return out
    if not np.any(s <= mt.MASKED_TAU):
        out["skip"] = "finite"
        return out
    rows = mt.equivalence_rows(phi, out["sets"], st.dominant)
    sol = solve_equality_svm(rows.ineq, np.ones(len(rows.ineq)), rows.eq, np.zeros(len(rows.eq)))
    con = numeric.svm_constraints(phi, st.dominant)
    one = numeric.solve_svm(con.A, con.b)
    if not (sol.feasible and one.feasible):
        out["skip"] = "infeasible"
        return out
    fit = mt.equivalence_fit(theta, rows.eq, sol.theta)
    out.update(masked=mt.masked_mass(s, out["sets"]), svmeq=fit["one_minus_corr_svmeq"], dir=fit["one_minus_corr_dir"],
               one_token=numeric.one_minus_corr(theta, one.theta), R=fit["R"], norm=fit["norm"])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=100)
    p.add_argument("--iterations", type=int, default=10000)
    p.add_argument("--step", type=float, default=0.1)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    t_all = time.perf_counter()
    fam = family_batch("tf-svm-multitoken")
    X, Y, Z, V, W0 = (fam[k][:a.members] for k in ("X", "Y", "Z", "V", "W0"))
    B, n, T, d = X.shape
    import torch
    torch.set_num_threads(1)
    head = BatchedHead("relu", Y, np.ones((B, d)), V, device=a.device)
    t0 = time.perf_counter()
    marks = sorted({AUTHORS, a.iterations} | {int(round(10 ** (j / 4))) for j in range(17) if 10 ** (j / 4) <= a.iterations})
    tr = batched_w_gd(W0, X, Z, np.zeros((B, n, T)), step=a.step, iterations=a.iterations, head=head, device=a.device,
                      schedule=marks)
    t_gd = time.perf_counter() - t0
    t0 = time.perf_counter()
    k_auth = list(tr.iterations).index(AUTHORS)
    res = {"authors": [], "end": []}
    for b in range(B):
        res["authors"].append(analyse(tr.theta[k_auth, b], X[b], Y[b], Z[b], V[b]))
        res["end"].append(analyse(tr.theta[-1, b], X[b], Y[b], Z[b], V[b]))
    t_svm = time.perf_counter() - t0
    print(f"tf-svm-multitoken, {B} members, normalised GD step {a.step}, {a.iterations} steps "
          f"(batched torch float64 on {a.device}, stable gradients)")
    for name, k in (("authors' 2000 steps", AUTHORS), (f"end ({a.iterations} steps)", a.iterations)):
        rows = res["authors" if k == AUTHORS else "end"]
        ok = [r for r in rows if "skip" not in r]
        skips = {why: sum(r.get("skip") == why for r in rows) for why in ("band", "finite", "infeasible")}
        live = [r for r in ok if not r["dead_sequence"]]
        dead = [r for r in ok if r["dead_sequence"]]
        med = (lambda rs, key: float(np.median([r[key] for r in rs])) if rs else float("nan"))
        print(f"  {name:<22} fitted {len(ok)} (skipped: {skips}); median ||W|| {med(ok, 'norm'):.4g}, R {med(ok, 'R'):.4g}")
        print(f"      median 1 - corr:  W_fin + R W_dir {med(ok, 'svmeq'):.3e}   W_dir {med(ok, 'dir'):.3e}   "
              f"one-token {med(ok, 'one_token'):.3e}")
        print(f"      members without a constant-output sequence that masks a token ({len(live)}): W_fin + R W_dir "
              f"{med(live, 'svmeq'):.3e}; with one ({len(dead)}): {med(dead, 'svmeq'):.3e}")
    both = [(r0["svmeq"], r1["svmeq"]) for r0, r1 in zip(res["authors"], res["end"]) if "skip" not in r0 and
            "skip" not in r1]
    ratios = np.array([x / y for x, y in both if y > 0])
    both_live = [(r0["svmeq"], r1["svmeq"]) for r0, r1 in zip(res["authors"], res["end"]) if "skip" not in r0 and
                 "skip" not in r1 and not r1["dead_sequence"]]
    print(f"  median 1 - corr to W_fin + R W_dir, members fitted at both (with / without the stalled kind): "
          f"{np.median([x for x, _ in both]):.3e} -> {np.median([y for _, y in both]):.3e}  /  "
          f"{np.median([x for x, _ in both_live]):.3e} -> {np.median([y for _, y in both_live]):.3e}")
    print(f"  per member improvement 2000 -> {a.iterations} steps: median {np.median(ratios):.3g}x, "
          f"{np.sum(ratios >= 10)}/{len(ratios)} members >= 10x, {np.sum(ratios < 1.5)} below 1.5x")
    # trend: every checkpoint against the end's sets and theta_dir (its own theta_fin and R)
    print("  trend (1 - corr to W_fin + R W_dir of the end's sets; each checkpoint its own W_fin and R):")
    refs = {}
    for b, r in enumerate(res["end"]):
        if "skip" in r:
            continue
        phi = numeric.w_features(X[b], Z[b])
        head_b = make_head("relu", np.ones(d), V[b])
        kern = numeric.StableAttention(phi, head_b.token_scores(X[b], Y[b]), Readout(head_b, X[b], Y[b]))
        rows = mt.equivalence_rows(phi, r["sets"], kern.state(tr.theta[-1, b]).dominant)
        sol = solve_equality_svm(rows.ineq, np.ones(len(rows.ineq)), rows.eq, np.zeros(len(rows.eq)))
        refs[b] = (rows.eq, sol.theta)
    for kk, it in enumerate(tr.iterations):
        vals = [mt.equivalence_fit(tr.theta[kk, b], eq, th)["one_minus_corr_svmeq"] for b, (eq, th) in refs.items()]
        norms = [np.linalg.norm(tr.theta[kk, b]) for b in refs]
        print(f"    k = {it:>6}  median ||W|| {np.median(norms):9.4g}  median 1 - corr {np.median(vals):.3e}")
    print(f"  seconds: GD {t_gd:.1f}, SVMs and fits {t_svm:.1f}, total {time.perf_counter() - t_all:.1f}")


if __name__ == "__main__":
    main()
