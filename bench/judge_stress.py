"""Benchmark: the judge on random datasets of the papers' kind (prints figures, asserts nothing).

N datasets from one seed: Gaussian tokens (n 1-8, T 2-8, d 2-12, token scale 0.5-4), a unit-norm Gaussian head
v, random labels, W = I, logistic loss, one init p = 0. ``attnsvm.verify.check`` runs on each; the script
prints, per check, the count of each verdict; the fraction of datasets whose every applicable claim is decided
(holds, fails with a counterexample artefact, or not-applicable); the number of `fails` without a
counterexample; the disagreements between the cone test and the other runs; the dataset statuses; and the
seconds per dataset (median and maximum). A dataset that is not decided is listed with the reasons.

Usage: python bench/judge_stress.py [--n 50] [--seed 0] [--jobs 2] [--json out.json] [--only K,K,...]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter, defaultdict


def _one(args):
    k, seed, options = args
    from attnsvm.verify import check
    from attnsvm.verify.random_datasets import stress_dataset

    ds = stress_dataset(k, seed)
    t0 = time.perf_counter()
    r = check(ds, **options)
    seconds = time.perf_counter() - t0
    checks = {c.id: {"verdict": c.verdict, "role": c.role, "summary": c.summary,
                     "counterexample": "counterexample" in c.evidence,
                     "disagreements": c.evidence.get("disagreements"), "seconds": c.seconds or 0.0} for c in r.checks}
    return {"k": k, "name": ds.name, "shape": ds.description, "status": r.status, "seconds": seconds, "checks": checks}


def decided(entry) -> tuple[bool, list]:
    """Every applicable claim decided: holds, fails with a counterexample, or not-applicable."""
    bad = []
    for cid, c in entry["checks"].items():
        if c["role"] != "claim":
            continue
        if c["verdict"] == "inconclusive" or (c["verdict"] == "fails" and not c["counterexample"]):
            bad.append(f"{cid}: {c['verdict']}: {c['summary'][:160]}")
    return not bad, bad


def _progress(entry, total):
    """One line per finished dataset on stderr (its status and seconds)."""
    import sys

    _progress.done = getattr(_progress, "done", 0) + 1
    print(f"[{_progress.done}/{total}] {entry['name']} ({entry['shape']}): {entry['status']}, "
          f"{entry['seconds']:.1f} s", file=sys.stderr, flush=True)
    return entry


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", help="write every dataset's verdicts to this file")
    ap.add_argument("--only", help="comma-separated dataset indices k to run (of the family's first --n)")
    args = ap.parse_args(argv)
    options: dict = {}
    ks = range(args.n) if not args.only else [int(k) for k in args.only.split(",")]
    work = [(k, args.seed, options) for k in ks]
    t0 = time.perf_counter()
    if args.jobs > 1:
        import concurrent.futures as cf
        import multiprocessing

        with cf.ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            entries = []
            for e in pool.map(_one, work):
                entries.append(_progress(e, len(work)))
    else:
        entries = [_progress(_one(w), len(work)) for w in work]
    wall = time.perf_counter() - t0
    per_check: dict = defaultdict(Counter)
    roles = {}
    for e in entries:
        for cid, c in e["checks"].items():
            per_check[cid][c["verdict"]] += 1
            roles[cid] = c["role"]
    verdicts = ("holds", "fails", "inconclusive", "not-applicable")
    print(f"{len(work)} random datasets (seed {args.seed}): Gaussian tokens, n 1-8, T 2-8, d 2-12, scale 0.5-4, unit v, "
          "random labels, W = I, logistic loss")
    print(f"{'check':<28}{'role':<12}" + "".join(f"{v:>16}" for v in verdicts))
    for cid, cnt in per_check.items():
        print(f"{cid:<28}{roles[cid]:<12}" + "".join(f"{cnt.get(v, 0):>16}" for v in verdicts))
    ok = [decided(e) for e in entries]
    n_dec = sum(d for d, _ in ok)
    fails_without = sum(1 for e in entries for c in e["checks"].values()
                        if c["role"] == "claim" and c["verdict"] == "fails" and not c["counterexample"])
    disagree = sum(1 for e in entries if (e["checks"].get("cone-convergence", {}).get("disagreements") or []))
    secs = [e["seconds"] for e in entries]
    print(f"decided (every applicable claim holds, fails with a counterexample, or is not-applicable): "
          f"{n_dec}/{len(entries)} = {n_dec / len(entries):.0%}")
    print(f"fails without a counterexample: {fails_without}; cone test disagreeing with other runs: {disagree}")
    print("statuses: " + ", ".join(f"{s}: {c}" for s, c in Counter(e["status"] for e in entries).most_common()))
    print(f"seconds per dataset: median {statistics.median(secs):.1f}, max {max(secs):.1f}; wall {wall:.0f} s with "
          f"{args.jobs} job(s)")
    slow = sorted(per_check, key=lambda cid: -statistics.median(e["checks"][cid]["seconds"] for e in entries))
    print("seconds per check (median / max over the datasets): " + "; ".join(
        f"{cid} {statistics.median(x):.1f} / {max(x):.1f}" for cid in slow[:6]
        for x in [[e["checks"][cid]["seconds"] for e in entries]]))
    for e, (d, bad) in zip(entries, ok):
        if not d:
            print(f"  undecided {e['name']} ({e['shape']}):")
            for b in bad:
                print(f"    {b}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(entries, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
