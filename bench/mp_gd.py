"""Benchmark: mpmath normalised GD on a built-in dataset (default multi-input, n*T*d = 63) at dps = 30.

Prints iterations/second of
  * numeric.run_gd_mp (fixed-point kernel: integer logits and contractions, mpf tuples for the O(nT) part),
  * a straightforward mpmath.matrix implementation of the same stable normalised step (baseline),
  * numeric.run_gd (float64), for scale,
the ratio fast/baseline, and the distance between the iterates the two mpmath implementations reach
(they must agree to about dps digits, or the comparison is meaningless).

    .venv/bin/python bench/mp_gd.py [--dataset multi-input] [--dps 30] [--iters 3000] [--base-iters 3000]
"""
from __future__ import annotations

import argparse
import time

import mpmath

from attnsvm import numeric
from attnsvm.verify.builtins import builtin


def matrix_gd(theta0, phi_exact, gamma_exact, loss, dps: int, iters: int, step=1):
    """Normalised GD with the stable gradient (DESIGN.md section 3), written plainly with mpmath.matrix."""
    with mpmath.workdps(dps):
        n, T, D = phi_exact.shape
        Phi = [mpmath.matrix([[numeric.mp_number(x) for x in phi_exact[i, t]] for t in range(T)]) for i in range(n)]
        G = [[numeric.mp_number(gamma_exact[i, t]) for t in range(T)] for i in range(n)]
        theta = mpmath.matrix([numeric.mp_number(x) for x in theta0])
        for _ in range(iters):
            grad = mpmath.matrix(D, 1)
            for i in range(n):
                q = Phi[i] * theta
                a = max(range(T), key=lambda t: q[t])
                dphi = Phi[i] - mpmath.matrix([list(Phi[i][a, :])] * T)
                r = dphi * theta
                e = [mpmath.exp(min(r[t], 0)) if t != a else mpmath.mpf(0) for t in range(T)]
                z = 1 + mpmath.fsum(e)
                gap = -mpmath.fsum(e[t] * (G[i][t] - G[i][a]) for t in range(T)) / z
                lp = loss.mp_derivative(G[i][a] - gap)
                w = mpmath.matrix([[lp * e[t] / z * ((G[i][t] - G[i][a]) + gap) for t in range(T)]])
                grad += (w * dphi).T
            theta = theta - step * grad / mpmath.norm(grad)
        return [theta[k] for k in range(D)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="multi-input")
    ap.add_argument("--dps", type=int, default=30)
    ap.add_argument("--iters", type=int, default=3000, help="iterations of the fast mpmath and float64 runs")
    ap.add_argument("--base-iters", type=int, default=3000, help="iterations of the mpmath.matrix baseline")
    args = ap.parse_args(argv)
    ds = builtin(args.dataset)
    phi_x, gam_x, loss = ds.features_exact(), ds.gamma_exact, numeric.BUILTIN_LOSSES[ds.loss_spec.name]
    init = ds.inits[0]
    n, T, D = phi_x.shape
    print(f"dataset {args.dataset}: n={n} T={T} D={D} (n*T*D = {n * T * D}), loss {loss.name}, dps {args.dps}, "
          f"mpmath backend {mpmath.libmp.BACKEND}")

    def rate(fn, iters):
        t = time.perf_counter()
        out = fn(iters)
        return out, iters / (time.perf_counter() - t)

    base, r_base = rate(lambda k: matrix_gd(init, phi_x, gam_x, loss, args.dps, k), args.base_iters)
    fast, r_fast = rate(lambda k: numeric.run_gd_mp(init, phi_x, gam_x, loss, dps=args.dps, max_iter=k,
                                                    per_decade=1, time_budget=1e9), args.iters)
    _, r_f64 = rate(lambda k: numeric.run_gd(init, ds.features(), ds.gamma, loss, max_iter=k, per_decade=1,
                                             time_budget=1e9), args.iters)
    same = args.base_iters == args.iters
    print(f"mpmath.matrix baseline : {r_base:10.0f} it/s  ({args.base_iters} iterations)")
    print(f"run_gd_mp (fixed-point): {r_fast:10.0f} it/s  ({args.iters} iterations incl. checkpoints, final ||p|| = "
          f"{fast.final.norm:.1f})")
    print(f"run_gd (float64)       : {r_f64:10.0f} it/s  ({args.iters} iterations; shows the machine's load)")
    print(f"ratio fast/baseline    : {r_fast / r_base:10.1f}x" + ("  (the same run)" if same else ""))
    if same:
        with mpmath.workdps(args.dps + 10):
            agree = numeric.mp_unit_distance(fast.final.theta, base)
            rel = numeric.mp_norm([a - b for a, b in zip(fast.final.theta, base)]) / numeric.mp_norm(base)
        print(f"agreement after {args.iters} steps: relative difference of p {mpmath.nstr(rel, 3)}, "
              f"direction distance {mpmath.nstr(agree, 3)}")

if __name__ == "__main__":
    main()
