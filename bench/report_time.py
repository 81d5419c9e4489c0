"""Where the time of ``bash scripts/main.sh`` goes: every built-in dataset checked in this process, one after
the other, with the CPU and wall time of each check (from the ``progress`` callback of ``verify.check``),
plus the import time of the libraries and the time to write the report.

    .venv/bin/python bench/report_time.py [DATASET ...] [--out DIR]

CPU seconds do not depend much on what else runs on the machine; wall seconds do. ``attnsvm report`` runs the
datasets in one worker per core, so on a machine of its own its wall time is about
max(total CPU / cores, the slowest dataset) + imports + writing.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="*")
    parser.add_argument("--out", help="report folder (default: a temporary folder)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPU(s), load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    w0, c0 = time.perf_counter(), time.process_time()
    from attnsvm.reports import write_report
    from attnsvm.verify import builtin_names, check, load

    print(f"imports: {time.perf_counter() - w0:.1f} s wall, {time.process_time() - c0:.1f} s CPU")
    names = args.datasets or builtin_names()
    entries, per_check = [], {}
    totals = {}
    for name in names:
        ds = load(name)
        marks = []

        def step(cid, marks=marks):
            marks.append((cid, time.perf_counter(), time.process_time()))

        w, c = time.perf_counter(), time.process_time()
        result = check(ds, progress=step)
        marks.append(("end", time.perf_counter(), time.process_time()))
        totals[name] = (time.perf_counter() - w, time.process_time() - c)
        for (cid, wa, ca), (_, wb, cb) in zip(marks, marks[1:]):
            per_check.setdefault(cid, {})[name] = (wb - wa, cb - ca)
        entries.append((result, ds))
        print(f"{name:<22} {totals[name][0]:7.1f} s wall {totals[name][1]:7.1f} s CPU  status: {result.status}",
              flush=True)
    out = args.out or tempfile.mkdtemp(prefix="attnsvm-report-")
    w, c = time.perf_counter(), time.process_time()
    write_report(entries, out)
    print(f"writing the report: {time.perf_counter() - w:.1f} s wall, {time.process_time() - c:.1f} s CPU ({out})")
    print(f"\nCPU seconds per check and dataset (columns: {', '.join(names)})")
    width = max(len(c) for c in per_check) + 2
    print(f"{'check':<{width}}" + "".join(f"{n[:12]:>13}" for n in names) + f"{'sum':>9}")
    for cid, row in sorted(per_check.items(), key=lambda kv: -sum(v[1] for v in kv[1].values())):
        cells = "".join(f"{row[n][1]:>13.1f}" if n in row else f"{'':>13}" for n in names)
        print(f"{cid:<{width}}{cells}{sum(v[1] for v in row.values()):>9.1f}")
    cpu = sum(t[1] for t in totals.values())
    print(f"\nchecks: {cpu:.1f} s CPU in all; slowest dataset {max(t[1] for t in totals.values()):.1f} s CPU; "
          f"estimated 'attnsvm report' wall time with {os.cpu_count()} idle core(s): "
          f"{max(cpu / (os.cpu_count() or 1), max(t[1] for t in totals.values())):.0f} s + imports + writing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
