"""Cost of the regularisation paths and of joint GD on the built-in datasets: objective evaluations and CPU seconds
of ``numeric.regpath.p_path`` / ``joint_path`` (as the checks `regularization-path` and `joint-regularization-path`
call them), with the ball solver of the checks (spectral steps, plain fallback) and, with ``--plain``, with the
plain doubling/halving projected GD alone (the solver before the spectral one), for comparison.

    .venv/bin/python bench/regpath.py [DATASET ...] [--plain]

CPU seconds depend little on the load of the machine; evaluation counts not at all.
"""
from __future__ import annotations

import argparse
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="*", default=["joint-tight", "joint-relaxed", "multi-input"])
    parser.add_argument("--plain", action="store_true", help="also run the paths with the plain solver alone")
    args = parser.parse_args()
    from attnsvm.numeric import regpath as rp
    from attnsvm.verify import load
    from attnsvm.verify.checks import joint_common as jc
    from attnsvm.verify.context import Context

    solvers = [("spectral+fallback", rp.ball_minimize)]
    if args.plain:
        solvers.append(("plain", rp.plain_ball_minimize))
    for name in args.datasets:
        for label, solver in solvers:
            counts = {"evaluations": 0, "solves": 0, "not converged": 0}

            def counted(fun, x0, radius, max_iter=300, tol=1e-11, solver=solver, counts=counts):
                res = solver(fun, x0, radius, max_iter=max_iter, tol=tol)
                counts["evaluations"] += res.evaluations
                counts["solves"] += 1
                counts["not converged"] += res.reason != "converged"
                return res

            rp.ball_minimize, original = counted, rp.ball_minimize
            try:
                for path in ("p_path", "joint_path"):
                    ctx = Context.create(load(name))
                    if path == "joint_path" and jc.applicability(ctx):
                        continue
                    for key in counts:
                        counts[key] = 0
                    c0 = time.process_time()
                    getattr(jc, path)(ctx)
                    print(f"{name:14s} {path:10s} {label:18s} {time.process_time() - c0:6.2f} s CPU  "
                          + "  ".join(f"{k} {v}" for k, v in counts.items()))
            finally:
                rp.ball_minimize = original
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
