"""Benchmark: time per Assumption A decision, for the built-in losses and a set of examples.

Each loss is decided on all of R and bounded on an output interval (default [-1, 1]; the built-ins also
on [-10^6, 10^6]). Prints, per loss: the outcome (holds / fails / undecided), the method, the witness,
M1 and M0 on the interval, and the median wall time of ``--repeat`` fresh decisions (the compiled
interval programs are cached across calls, so the first call of each loss is reported apart).

    .venv/bin/python bench/assumption_a.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from attnsvm.symbolic import BUILTIN_LOSSES, assumption_a, parse_loss

EXAMPLES = ["(1 - u)**2", "-u**3", "-u**3 - u", "-u + sin(u)", "-u + 2*sin(u)", "-tanh(u)", "1/u", "sqrt(-u)",
            "log(u)", "u**u**u**u", "-u + abs(u)", "-2*u + abs(u)", "-u - u*abs(u)", "-u - u*abs(u)**0.5",
            "log(exp(u) + 1) - u", "sqrt(1 + u**2) - 2*u", "-u + exp(u - 20)", "exp(exp(exp(exp(-u))))",
            "cosh(u) - 2*u", "-u - abs(sin(u))"]


def run(name, expr, interval, repeat):
    t0 = time.perf_counter()
    r = assumption_a(expr, interval=interval)
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        assumption_a(expr, interval=interval)
        times.append(time.perf_counter() - t0)
    verdict = {True: "holds", False: "fails", None: "undecided"}[r.holds]
    print(f"{name:26s} {str(interval):22s} {verdict:9s} {r.method:8s} {str(r.failure or ''):20s} "
          f"{str(r.witness or ''):8s} M1<={r.M1_text or '-':>12.12s} M0<={r.M0_text or '-':>12.12s} "
          f"first {first:6.3f}s  median {statistics.median(times):6.3f}s")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, expr in BUILTIN_LOSSES.items():
        for interval in [(-1, 1), (-10 ** 6, 10 ** 6)]:
            run(name, expr, interval, args.repeat)
    for text in EXAMPLES:
        run(text, parse_loss(text), (-1, 1), args.repeat)


if __name__ == "__main__":
    main()
