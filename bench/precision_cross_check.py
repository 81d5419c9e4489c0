"""Benchmark: the precision-cross-check instrument on N random datasets of the papers' kind.

Datasets: Gaussian tokens, n in 1..8, T in 2..8, d in 2..12, token scale in [0.5, 4], unit v, random labels,
W = I, logistic loss, init 0 (seeded: dataset k uses numpy's default_rng([base, k])). For each, the instrument
runs with its default options (or ``--iterations``) and the script prints one line per dataset (verdict,
outcome of the float64-vs-mpmath comparison, where the runs part, the worst one-step error and its ratio to the
tolerance, the largest growth of perturbations, seconds), then the counts of each verdict and the medians.

Usage: python bench/precision_cross_check.py [--n 20] [--base 2024] [--iterations 3000]
Seconds are wall-clock and depend on the machine's load; everything else is deterministic.
"""
from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

from attnsvm.verify.api import check
from attnsvm.verify.dataset import Dataset
from attnsvm.verify.random_datasets import stress_dataset

ID = "precision-cross-check"


def papers_dataset(seed: int, base: int = 2024) -> Dataset:
    """One random dataset of the papers' kind (module docstring): dataset ``seed`` of the stress family of ``base``
    (attnsvm.verify.random_datasets)."""
    ds = stress_dataset(seed, base)
    return Dataset(X=ds.X, Y=ds.Y, v=ds.v, name=f"papers-{base}-{seed}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--base", type=int, default=2024)
    ap.add_argument("--iterations", type=int, default=None, help="cross_check_iterations (default: the option's)")
    args = ap.parse_args()
    verdicts, outcomes = Counter(), Counter()
    worst_rel, ratios, growth, median_rel, seconds = [], [], [], [], []
    parted = warned = 0
    at_parting = []
    for k in range(args.n):
        ds = papers_dataset(k, args.base)
        t = time.perf_counter()
        r = check(ds, only=[ID], cross_check_iterations=args.iterations)[ID]
        sec = time.perf_counter() - t
        seconds.append(sec)
        verdicts[r.verdict] += 1
        ev = r.evidence
        warned += "numerical_warnings" in ev
        one = ev.get("one_step", {})
        runs = ev.get("runs", [])
        for c in runs:
            outcomes[c["outcome"]] += 1
        part = [c["profile"]["first_parting"] for c in runs]
        parted += any(p is not None for p in part)
        g = max((c["lyapunov"]["max_log10_growth"] for c in runs), default=None)
        if one.get("worst_rel_error") is not None:
            worst_rel.append(one["worst_rel_error"])
            median_rel.append(one["median_rel_error"])
            ratios.append(one["worst_ratio"])
        if g is not None:
            growth.append(g)
        def grown(c, p):
            return {row["iteration"]: row["log10_growth"] for row in c["lyapunov"]["checkpoints"]}.get(p["iteration"])

        where = ", ".join("-" if p is None else f"{p['iteration']} ({p['rel_p']:.0e}, 10^{grown(c, p):.1f})"
                          for c, p in zip(runs, part)) or "-"
        at_parting.extend(grown(c, p) for c, p in zip(runs, part) if p is not None)
        outcome = ", ".join(c["outcome"] for c in runs) or "-"
        print(f"{k:3d} n={ds.n} T={ds.T} d={ds.d:2d}  {r.verdict:14s} {outcome:16s}"
              f" part at {where:26s} one-step worst {one.get('worst_rel_error', float('nan')):.1e} "
              f"({one.get('worst_ratio', float('nan')):.2g} of tol)  "
              f"max growth 10^{g if g is not None else float('nan'):.1f}"
              f"  {sec:5.1f} s", flush=True)
        if r.verdict != "holds":
            print(f"      {r.summary}")
    print(f"\nverdicts: {dict(verdicts)}; outcomes: {dict(outcomes)}; datasets whose runs part: {parted}/{args.n}; "
          f"with floating-point warnings: {warned}")
    if worst_rel:
        print(f"one-step relative error: median {np.median(median_rel):.1e}, worst {max(worst_rel):.1e}; "
              f"worst ratio to "
              f"the tolerance {max(ratios):.2g} (median of per-dataset worst {np.median(ratios):.2g})")
    if growth:
        print(f"largest perturbation growth per dataset: median 10^{np.median(growth):.1f}, max 10^{max(growth):.1f}"
              " (linearised; it keeps growing while a run zigzags across a narrow valley)")
    if at_parting:
        print(f"growth where the runs part (rel. distance > 1e-10): {', '.join(f'10^{g:.1f}' for g in at_parting)}")
    print(f"seconds per dataset: median {np.median(seconds):.1f}, max {max(seconds):.1f}")


if __name__ == "__main__":
    main()
