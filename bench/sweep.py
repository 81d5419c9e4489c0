"""Benchmark: the 1,000-dataset sweep (n = 3, T = 4, d in {2, 4, 6, 8, 10}, 200 seeds per d, 5 inits each).

Measures, in one run:
  * the batched sweep (verify.sweep.sweep: one torch float64 batch of 1,000 runs per grid point, CPU or GPU);
  * a baseline: the same GD runs one at a time with the float64 numpy loop (numeric.run_gd) on a sample of
    SAMPLE datasets per grid point, extrapolated to 200; the judging/SVM part is taken from the batched run
    (it is the same code in both).
Prints seconds and the speed-up. Usage: python bench/sweep.py [--sample 4] [--seeds 200]
Timings are wall-clock and depend on the machine's load.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


import torch  # noqa: E402

from attnsvm import numeric  # noqa: E402
from attnsvm.verify.sweep import random_dataset, random_inits, sweep  # noqa: E402
from attnsvm.verify.sweep_cli import format_table  # noqa: E402

DS = (2, 4, 6, 8, 10)


def baseline_gd_seconds(sample: int, inits: int, iterations: int) -> float:
    """Seconds of numpy GD (one run at a time) for ``sample`` datasets per grid point, all inits."""
    total = 0.0
    for d in DS:
        for s in range(sample):
            X, Y, v = random_dataset(3, 4, d, s)
            gamma = Y[:, None] * (X @ v)
            for p0 in random_inits(3, 4, d, s, inits, 2.0):
                t = time.perf_counter()
                numeric.run_gd(p0, X, gamma, numeric.LOGISTIC, method="normalized", step=1.0, max_iter=iterations,
                               time_budget=1e9)
                total += time.perf_counter() - t
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--sample", type=int, default=4)
    ap.add_argument("--inits", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=2000)
    args = ap.parse_args()
    print(f"cpu cores: {os.cpu_count()}, torch threads used by the sweep: 1, gpu: {torch.cuda.is_available()}")
    t = time.perf_counter()
    table = sweep([3], [4], list(DS), args.seeds, inits=args.inits, iterations=args.iterations)
    batched = time.perf_counter() - t
    print(format_table(table))
    gd_batched = sum(r["gd_seconds"] for r in table["rows"])
    rest = batched - gd_batched
    base_gd = baseline_gd_seconds(args.sample, args.inits, args.iterations) * args.seeds / args.sample
    print(f"batched sweep: {batched:.1f} s total ({gd_batched:.1f} s GD, {rest:.1f} s SVMs and judging) "
          f"for {len(DS) * args.seeds} datasets x {args.inits} inits x {args.iterations} steps")
    print(f"baseline (numpy run_gd per run, {args.sample} datasets per d measured, extrapolated to {args.seeds}): "
          f"{base_gd:.1f} s GD + {rest:.1f} s SVMs and judging = {base_gd + rest:.1f} s")
    print(f"speed-up of GD: {base_gd / gd_batched:.1f}x; overall: {(base_gd + rest) / batched:.1f}x; "
          f"target < 120 s: {'met' if batched < 120 else 'NOT met'}")


if __name__ == "__main__":
    main()
