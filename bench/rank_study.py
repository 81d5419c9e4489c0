"""Ranks of the W-SVM solutions on the second paper's rank-study grid: certified next to the authors' rule.

    .venv/bin/python bench/rank_study.py [--instances 100] [--d 1,2,3,5,10] [--n 5] [--T 5]

Per setting, the family of verify.sweep_w (unit-norm tokens and cross-attention queries, unit v, random labels), the
W-SVMs of the optimal tokens of the first ``instances`` feasible datasets (infeasible ones are counted, never
ranked): the Frobenius solution's exact rank (exact KKT certificate over the rationals) and the nuclear solution's
certified effective rank (relative level 1e-6, from the dual certificate: numeric.ranks), next to numpy's
matrix_rank(tol=1e-7) on the raw solver output (the authors' rule; Clarabel, and for the nuclear norm also SCS, the
first-order solver cvxpy picks by default for it). Prints mean ranks, the distributions and how often the rules
disagree.
"""
import argparse
import pathlib
import sys
import time
from collections import Counter

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from attnsvm.verify.sweep import parse_int_list, random_dataset  # noqa: E402
from attnsvm.verify.sweep_w import random_queries, svm_ranks  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", type=int, default=100)
    p.add_argument("--d", default="1,2,3,5,10")
    p.add_argument("--n", type=int, default=5)
    p.add_argument("--T", type=int, default=5)
    p.add_argument("--max-draws", type=int, default=2000)
    a = p.parse_args()
    t_all = time.perf_counter()
    print(f"n = {a.n}, T = {a.T}; ranks of the W-SVMs of the optimal tokens, {a.instances} feasible instances per d")
    print(f"{'d':>3} {'infeas.':>8}  {'Frobenius: certified':>22} {'1e-7 rule':>10} {'differ':>7}   "
          f"{'nuclear: certified':>20} {'1e-7 rule':>10} {'differ':>7} {'undet.':>7} {'1e-7 SCS':>9} {'seconds':>8}")
    for d in parse_int_list(a.d, "--d"):
        t0 = time.perf_counter()
        recs, infeasible, seed = [], 0, 0
        while len(recs) < a.instances and seed < a.max_draws:
            X, Y, v = random_dataset(a.n, a.T, d, seed)
            Z = random_queries(a.n, d, seed, a.T)
            gamma = Y[:, None] * (X @ v)
            r = svm_ranks(X, Z, gamma, tuple(int(t) for t in gamma.argmax(axis=1)), d, scs=True)
            seed += 1
            if not r["feasible"]:
                infeasible += 1
                continue
            recs.append(r)
        line = f"{d:>3} {infeasible:>8}  "
        for norm in ("frobenius", "nuclear"):
            cert = [r[norm]["rank"] for r in recs]
            absr = [r[norm]["absolute_1e-7"] for r in recs]
            ok = [(c, b) for c, b in zip(cert, absr) if c is not None and b is not None]
            mean_c = np.mean([c for c, _ in ok]) if ok else float("nan")
            mean_a = np.mean([b for b in absr if b is not None]) if any(b is not None for b in absr) else float("nan")
            dist = dict(sorted(Counter(c for c in cert if c is not None).items()))
            line += f"{mean_c:>6.2f} {str(dist):>15} {mean_a:>10.2f} {sum(c != b for c, b in ok):>7}   "
            if norm == "nuclear":
                scs = [r[norm].get("absolute_1e-7_scs") for r in recs]
                scs = [x for x in scs if x is not None]
                line += f"{sum(c is None for c in cert):>7} {np.mean(scs) if scs else float('nan'):>9.2f} "
        print(line + f"{time.perf_counter() - t0:>8.1f}", flush=True)
    print(f"total {time.perf_counter() - t_all:.1f} s")


if __name__ == "__main__":
    main()
