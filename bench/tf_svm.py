"""Benchmark: GD on W and on (K, Q) over the built-in family tf-svm-local-<seed> (seeds 0-99).

Baseline (measured in the same run): a plain torch float64 autograd loop per seed, the softmax/loss
written out the textbook way, normalised steps of 0.1, 2,000 iterations, W_0 = 0 for W and the balanced
K_0 = Q_0 = I/10 for (K, Q) (the same inits as ours, so only the method differs). A sample of seeds is
timed and the time extrapolated to 100 seeds unless --baseline-seeds 100.

Ours: all 100 seeds as one batch (numeric.batched_w: stable gradients, torch float64, normalised steps):
W with constant normalised steps (--w-step, --w-iterations); (K, Q) with constant normalised steps on
the joint parameter (--kq-step, default 2), or relative steps eta_k = c max(1, ||(K, Q)||) / sqrt(1 + k/decay)
(--kq-rule relative --kq-step c --kq-decay); see bench/tf_svm_kq_schedule.py for the comparison.

Measures, against the W-SVMs of the tokens each run selects (cvxpy; nuclear gap relative to the
certified-by-solver optimum): 1 - corr with W_F^mm (W runs), and the nuclear optimality gap
||W_s||_* / ||W_*^mm||_* - 1 of the iterate scaled to margin 1 (KQ runs), median and quantiles; the
nuclear gap at checkpoints of the KQ run (to show whether it is still falling) and the ranks.

    .venv/bin/python bench/tf_svm.py                 # default settings (about a minute on 2 loaded cores)
    .venv/bin/python bench/tf_svm.py --baseline-seeds 3 --kq-iterations 5000   # quicker
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch


from attnsvm import numeric  # noqa: E402
from attnsvm.numeric.batched_w import batched_kq_gd, batched_w_gd  # noqa: E402
from attnsvm.verify.builtins import family_batch  # noqa: E402


def baseline_run(X, Z, gamma, kind, step=0.1, iterations=2000):
    """Plain autograd: s = softmax(X W z), u = Y f = sum_t s_t gamma_t, L = mean log(1 + e^{-u}); normalised
    step on W or on the joint (K, Q)."""
    X, Z, g = (torch.tensor(a) for a in (X, Z, gamma))
    d = X.shape[-1]
    if kind == "W":
        params = [torch.zeros(d, d, dtype=torch.float64, requires_grad=True)]
    else:
        params = [(0.1 * torch.eye(d, dtype=torch.float64)).requires_grad_(),
                  (0.1 * torch.eye(d, dtype=torch.float64)).requires_grad_()]
    for _ in range(iterations):
        W = params[0] if kind == "W" else params[0] @ params[1].T
        s = torch.softmax(torch.einsum("nta,ab,nb->nt", X, W, Z), dim=1)
        u = (s * g).sum(dim=1)
        loss = torch.nn.functional.softplus(-u).mean()
        grads = torch.autograd.grad(loss, params)
        gn = torch.sqrt(sum((gr * gr).sum() for gr in grads))
        with torch.no_grad():
            for p, gr in zip(params, grads):
                p -= step * gr / gn if gn > 0 else 0 * gr
    with torch.no_grad():
        W = params[0] if kind == "W" else params[0] @ params[1].T
    return W.detach().numpy().copy()


class SVMCache:
    """Both W-SVMs per (seed, selection), solved once."""

    def __init__(self, phi):
        self.phi = phi
        self.cache = {}

    def get(self, b, sel):
        key = (b, tuple(int(a) for a in sel))
        if key not in self.cache:
            con = numeric.svm_constraints(self.phi[b], key[1])
            fro = numeric.solve_svm(con.A, con.b)
            nuc = numeric.solve_nuclear_svm(con.A, con.b, 10) if fro.feasible else None
            self.cache[key] = (con, fro, nuc)
        return self.cache[key]


def measure(W, b, X, Z, svms: SVMCache):
    """(1 - corr vs W_F^mm, Frobenius gap, nuclear gap, rank of W (1e-3), ranks of the SVM solutions)."""
    sel = np.argmax(numeric.w_logits(W, X[b], Z[b]), axis=1)
    con, fro, nuc = svms.get(b, sel)
    if not fro.feasible or nuc is None or not nuc.feasible:
        return None
    gaps = numeric.optimality_gaps(W.ravel(), con.A, con.b, 10, fro.norm, nuc.norm)
    return {"omc": numeric.one_minus_corr(W, fro.theta), "fro_gap": gaps["fro_gap"], "nuc_gap": gaps["nuc_gap"],
            "rank": numeric.numerical_rank(W, 1e-3), "rank_fro": numeric.numerical_rank(fro.theta.reshape(10, 10)),
            "rank_nuc": numeric.numerical_rank(nuc.W), "sel": tuple(int(a) for a in sel)}


def quantiles(values):
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return "n/a"
    q = np.quantile(v, [0.1, 0.5, 0.9])
    return f"median {q[1]:.2e}  (10%: {q[0]:.2e}, 90%: {q[2]:.2e}, max {v.max():.2e}, n={v.size})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-seeds", type=int, default=5, help="seeds timed for the baseline (extrapolated)")
    ap.add_argument("--w-step", type=float, default=2.0)
    ap.add_argument("--w-iterations", type=int, default=5000)
    ap.add_argument("--kq-step", type=float, default=2.0)
    ap.add_argument("--kq-decay", type=float, default=0.0, help="0: no decay")
    ap.add_argument("--kq-rule", default="constant", choices=["relative", "constant"])
    ap.add_argument("--kq-iterations", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    fam = family_batch("tf-svm-local")
    X, Z, v, Y = fam["X"], fam["Z"], fam["v"], fam["Y"]
    B, n, T, d = X.shape
    gamma = Y[..., None] * np.einsum("bnta,ba->bnt", X, v)
    phi = np.stack([numeric.w_features(X[b], Z[b]) for b in range(B)])
    svms = SVMCache(phi)
    print(f"tf-svm-local: {B} seeds, n={n} T={T} d={d}; torch {torch.__version__}, {a.threads} thread(s), "
          f"device {a.device}; load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    # -- baseline ------------------------------------------------------------------------------
    seeds = list(range(a.baseline_seeds))
    base = {"W": (float("nan"), []), "KQ": (float("nan"), [])}
    for kind in ("W", "KQ") if seeds else ():
        t0 = time.perf_counter()
        Ws = [baseline_run(X[b], Z[b], gamma[b], kind) for b in seeds]
        per_seed = (time.perf_counter() - t0) / len(seeds)
        ms = [measure(W, b, X, Z, svms) for b, W in zip(seeds, Ws)]
        base[kind] = (per_seed, ms)
        print(f"baseline {kind:>2}: autograd, normalised step 0.1, 2000 its: {per_seed:.2f} s/seed on {len(seeds)} "
              f"seeds -> {100 * per_seed:.0f} s for 100 seeds")
        print(f"   1 - corr vs W_F^mm: {quantiles([m['omc'] for m in ms if m])}")
        print(f"   nuclear gap:        {quantiles([m['nuc_gap'] for m in ms if m])}")

    # -- ours ------------------------------------------------------------------------------------
    t0 = time.perf_counter()
    if a.w_iterations == 0:
        a.w_iterations = 1
    trW = batched_w_gd(np.zeros((B, d, d)), X, Z, gamma, step=a.w_step, iterations=a.w_iterations, device=a.device)
    tW = time.perf_counter() - t0
    K0 = np.broadcast_to(0.1 * np.eye(d), (B, d, d)).copy()
    t0 = time.perf_counter()
    trK = batched_kq_gd(K0, K0.copy(), X, Z, gamma, step=a.kq_step, iterations=a.kq_iterations, rule=a.kq_rule,
                        decay=a.kq_decay if a.kq_decay > 0 else None, device=a.device)
    tK = time.perf_counter() - t0
    print(f"ours W : batched over {B} seeds, stable gradients, normalised step {a.w_step}, {a.w_iterations} its: "
          f"{tW:.1f} s")
    msW = [measure(trW.theta[-1, b].reshape(d, d), b, X, Z, svms) for b in range(B)]
    print(f"   1 - corr vs W_F^mm: {quantiles([m['omc'] for m in msW if m])}")
    print(f"   nuclear gap:        {quantiles([m['nuc_gap'] for m in msW if m])}")
    print(f"ours KQ: batched, {a.kq_rule} steps, step {a.kq_step}, decay {a.kq_decay or 'none'}, {a.kq_iterations} its: "
          f"{tK:.1f} s")
    for k_idx in np.unique(np.linspace(0, len(trK.iterations) - 1, 7).astype(int))[1:]:
        ms = [measure(trK.theta[k_idx, b].reshape(d, d), b, X, Z, svms) for b in range(B)]
        print(f"   k={trK.iterations[k_idx]:>6} nuclear gap {quantiles([m['nuc_gap'] for m in ms if m])}")
    msK = [measure(trK.theta[-1, b].reshape(d, d), b, X, Z, svms) for b in range(B)]
    print(f"   Frobenius gap (KQ): {quantiles([m['fro_gap'] for m in msK if m])}")
    differ = [m for m in msK if m and m["rank_fro"] != m["rank_nuc"]]
    print(f"   ranks: limit (1e-3) vs nuclear SVM equal on {sum(m['rank'] == m['rank_nuc'] for m in msK if m)}"
          f"/{sum(1 for m in msK if m)} seeds; Frobenius and nuclear SVM ranks differ on {len(differ)} seeds")
    infeasible = sum(1 for m in msW + msK if m is None)
    print(f"   runs whose selection has no feasible W-SVM: {infeasible}")
    alpha = np.argmax(gamma, axis=2)                                   # optimal tokens (ties: none in this family)
    opt_feasible = sum(numeric.solve_svm(*(lambda c: (c.A, c.b))(numeric.svm_constraints(phi[b], alpha[b]))).feasible
                       for b in range(B))
    sel_opt_W = sum(1 for b, m in enumerate(msW) if m and m["sel"] == tuple(alpha[b]))
    sel_opt_K = sum(1 for b, m in enumerate(msK) if m and m["sel"] == tuple(alpha[b]))
    same = sum(1 for mw, mk in zip(msW, msK) if mw and mk and mw["sel"] == mk["sel"])
    print(f"selections: W-SVM of the optimal tokens feasible on {opt_feasible}/{B} seeds; GD on W selects the optimal "
          f"tokens on {sel_opt_W}/{B}, GD on (K, Q) on {sel_opt_K}/{B}; W and (K, Q) select the same tokens on "
          f"{same}/{B}")
    for kind, t_ours in (("W", tW), ("KQ", tK)):
        per_seed = base[kind][0]
        if per_seed == per_seed:  # measured
            print(f"equal wall time, {kind}: ours finished 100 seeds in {t_ours:.1f} s; in that time the baseline "
                  f"finishes about {t_ours / per_seed:.0f} seeds of its 2,000 iterations")
    print(f"total (ours): {tW + tK:.1f} s for 100 seeds x 2 parameterisations; baseline (extrapolated): "
          f"{100 * (base['W'][0] + base['KQ'][0]):.0f} s; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
