"""Start-up time of the command line: the import-time profile (``python -X importtime``) of what ``attnsvm list``
loads and of what ``attnsvm check`` loads, with the slowest modules, and the wall and CPU time of
``attnsvm list`` / ``--help`` / ``--version`` / a usage error (target: each under 0.5 s).

    .venv/bin/python bench/startup.py [--runs 5] [--top 12]

Wall time depends on what else runs on the machine; the CPU time (user + system of the child) is printed
beside it, and the target is judged on the median wall time.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

TARGET = 0.5


def import_profile(statement: str) -> list[tuple[str, float, float]]:
    """[(module, self seconds, cumulative seconds)] from ``python -X importtime -c statement``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], capture_output=True, text=True,
                          check=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:"):].split("|")
        rows.append((name.strip(), int(self_us) / 1e6, int(cum_us) / 1e6))
    return rows


def print_profile(title: str, statement: str, top: int) -> None:
    rows = import_profile(statement)
    total = sum(r[1] for r in rows)
    heavy = [m for m in ("numpy", "scipy", "sympy", "mpmath", "torch", "cvxpy", "matplotlib", "jinja2")
             if any(r[0] == m for r in rows)]
    print(f"{title}: {len(rows)} modules, {total:.2f} s of imports; heavy libraries loaded: {', '.join(heavy) or 'none'}")
    print(f"  {'cumulative':>10} {'self':>8}  module (top level of each import tree first)")
    for name, self_s, cum_s in sorted(rows, key=lambda r: -r[2])[:top]:
        print(f"  {cum_s:>9.3f}s {self_s:>7.3f}s  {name}")


def timed(cmd: list[str], runs: int) -> tuple[list[float], list[float], int]:
    """(wall seconds per run, CPU seconds per run, exit status of the last run)."""
    walls, cpus, code = [], [], 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        code = proc.returncode
    return walls, cpus, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    exe = shutil.which("attnsvm", path=os.path.dirname(sys.executable)) or shutil.which("attnsvm")
    base = [exe] if exe else [sys.executable, "-m", "attnsvm"]
    print(f"machine: {os.cpu_count()} CPU(s), load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"command: {' '.join(base)}")
    print_profile("attnsvm list / --help / --version (import attnsvm.verify.cli, run list)",
                  "import contextlib, io; from attnsvm.verify.cli import main\n"
                  "with contextlib.redirect_stdout(io.StringIO()): main(['list'])", args.top)
    print_profile("attnsvm check (import attnsvm.verify.api, attnsvm.reports.build)",
                  "import attnsvm.verify.api, attnsvm.reports.build", args.top)
    print(f"\n{'command':<34} {'median wall':>11} {'min wall':>9} {'median CPU':>10}  (target {TARGET} s)")
    worst = 0.0
    for label, extra in (("attnsvm list", ["list"]), ("attnsvm --help", ["--help"]),
                         ("attnsvm --version", ["--version"]), ("attnsvm check (usage error)", ["check"]),
                         ("attnsvm check no-such (bad name)", ["check", "multi-inptu"])):
        walls, cpus, code = timed(base + extra, args.runs)
        med = statistics.median(walls)
        worst = max(worst, med)
        print(f"{label:<34} {med:>10.3f}s {min(walls):>8.3f}s {statistics.median(cpus):>9.3f}s  "
              f"exit {code}  {'ok' if med <= TARGET else 'SLOW'}")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
