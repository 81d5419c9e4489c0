"""How time and memory grow with the data: loading, the numeric core, and the whole check suite.

Random Gaussian datasets (tokens x_it ~ N(0, I_d), head v ~ N(0, I_d), labels random signs; prompt model
with W = I, or self-attention trained as W), logistic loss, one init. Each case runs in its own
subprocess, so its peak memory (ru_maxrss) is its own; the memory after the imports is printed beside it
(the baseline of that process). For each case the script prints

* load: writing the JSON file, then ``Dataset.from_file`` (seconds, peak memory, file size);
* core: features, 200 normalised GD steps (numeric.run_gd), one p-SVM solved and polished with its exact
  certificate from the lazy exact rows (Dataset.exact_constraints);
* check (with ``--check``): ``attnsvm.verify.check(ds)`` as a whole and per check (``progress=``), each
  check's seconds; ``--profile`` adds the top functions by cumulative time;

and, separately, the time per normalised GD step against n, T and d (each doubled from a base size; the
log-log slope of the median step time; linear cost in n T d gives slopes near 1).

    .venv/bin/python bench/scale.py                      # load + core for every case, GD-step slopes
    .venv/bin/python bench/scale.py --check              # also the whole check suite (minutes)
    .venv/bin/python bench/scale.py --case n2000 --check --profile
    .venv/bin/python bench/scale.py --check --skip locally-optimal   # without the selection enumeration

It prints, never asserts: the numbers go to the README's size table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CASES = {
    # name: (model, n, T, d, issue-16 target "seconds / GB" of the whole check)
    "n2000": ("prompt", 2000, 16, 16, "<= 120 s, <= 2 GB"),
    "T64d128": ("prompt", 200, 64, 128, "<= 180 s, <= 2 GB"),
    "d512": ("prompt", 20, 8, 512, "<= 120 s"),
    "selfW": ("self", 100, 32, 64, "<= 300 s, <= 4 GB"),
    "big50MB": ("prompt", 40000, 16, 8, "load in seconds"),
}


def dataset_dict(model: str, n: int, T: int, d: int, seed: int = 0) -> dict:
    """The random dataset of a case, as the JSON object of the file format (numbers with 8 significant digits)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = np.round(rng.standard_normal((n, T, d)), 6)
    v = np.round(rng.standard_normal(d), 6)
    Y = rng.choice([-1, 1], size=n)
    obj = {"name": f"gauss-{model}-{n}-{T}-{d}", "X": X.tolist(), "Y": Y.tolist(), "v": v.tolist(),
           "loss": "logistic"}
    if model == "self":
        obj.update(model="self", query_index=0, parameterization="W")
    return obj


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def run_case(name: str, with_check: bool, profile: bool, skip: tuple = ()) -> dict:
    """One case in this process (called in a subprocess by main)."""
    import numpy as np

    from attnsvm import numeric
    from attnsvm.verify import Dataset, check

    model, n, T, d, target = CASES[name]
    out = {"case": name, "model": model, "n": n, "T": T, "d": d, "target": target}
    out["mb_after_imports"] = round(_current_mb())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.json")
        obj = dataset_dict(model, n, T, d)
        with open(path, "w") as fh:
            json.dump(obj, fh)
        del obj
        out["file_mb"] = round(os.path.getsize(path) / 2 ** 20, 1)
        base = _current_mb()
        t0 = time.perf_counter()
        ds = Dataset.from_file(path)
        out["load_s"] = round(time.perf_counter() - t0, 2)
        out["load_peak_mb_over_base"] = round(_rss_mb() - base)
        out["X_float64_mb"] = round(ds.X.nbytes / 2 ** 20, 1)
    if name == "big50MB":
        return out
    t0 = time.perf_counter()
    phi = ds.features()
    traj = numeric.run_gd(ds.inits[0].ravel() if ds.is_attention_model else ds.inits[0], phi, ds.gamma,
                          numeric.LOGISTIC, method="normalized", step=1.0, max_iter=200, time_budget=float("inf"))
    out["gd_200_steps_s"] = round(time.perf_counter() - t0, 2)
    sel = traj.final.selected
    t0 = time.perf_counter()
    con = numeric.svm_constraints(phi, sel)
    exact = ds.exact_constraints(sel, approx=con.A)
    sol = numeric.solve_svm(con.A, con.b)
    from attnsvm.verify.context import exact_too_large   # the size cap of Context.svm

    too_large = exact_too_large(sol, con) if sol.feasible else None
    pol = None
    if too_large is None:
        sol, pol = numeric.solve_and_polish(con.A, con.b, exact.A, exact.b, solution=sol)
    else:
        out["svm_not_polished"] = too_large
    out["svm_solve_polish_s"] = round(time.perf_counter() - t0, 2)
    out["svm_feasible"] = sol.feasible
    out["svm_solver"] = sol.solver
    if pol is not None:
        from attnsvm import symbolic

        t0 = time.perf_counter()
        cert = symbolic.certify_svm(exact.A, exact.b, list(pol.basis) + list(pol.active), polished=pol)
        out["certificate_s"] = round(time.perf_counter() - t0, 2)
        out["certificate"] = cert.status
        out["exact_rows"] = f"{exact.A.fetched} of {exact.A.shape[0]}"
    out["core_peak_mb"] = round(_rss_mb())
    if with_check:
        times: dict = {}
        state = {"id": None, "t": time.perf_counter()}

        def progress(cid):
            now = time.perf_counter()
            if state["id"] is not None:
                times[state["id"]] = round(now - state["t"], 1)
                print(f"  {name}: {state['id']} {times[state['id']]} s, peak {_rss_mb():.0f} MB", file=sys.stderr,
                      flush=True)
            state.update(id=cid, t=now)

        prof = None
        if profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        t0 = time.perf_counter()
        from attnsvm.verify import CHECK_IDS

        only = [c for c in CHECK_IDS if c not in skip] if skip else None
        out["skipped_checks"] = list(skip)
        res = check(ds, only, progress=progress)
        if prof is not None:
            prof.disable()
        times[state["id"]] = round(time.perf_counter() - state["t"], 1)
        out["check_s"] = round(time.perf_counter() - t0, 1)
        out["check_peak_mb"] = round(_rss_mb())
        out["per_check_s"] = times
        out["verdicts"] = {c.id: c.verdict for c in res}
        # what a size limit or a budget left undecided, in the checks' own words
        out["inconclusive"] = {c.id: c.summary[:240] for c in res if c.verdict == "inconclusive"}
        if prof is not None:
            import io
            import pstats

            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
            out["profile"] = buf.getvalue()
    return out


def gd_step_slopes(base=(64, 8, 8), steps: int = 300, repeats: int = 3) -> dict:
    """Median seconds per normalised GD step at the base (n, T, d) and with each of n, T, d multiplied by 2,
    4 and 8; the log-log slope of time against each size (least squares over the four points)."""
    import numpy as np

    from attnsvm import numeric

    def step_time(n, T, d):
        rng = np.random.default_rng(1)
        X = rng.standard_normal((n, T, d))
        v = rng.standard_normal(d)
        Y = rng.choice([-1.0, 1.0], size=n)
        gamma = Y[:, None] * (X @ v)
        best = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            numeric.run_gd(np.zeros(d), X, gamma, numeric.LOGISTIC, method="normalized", step=1.0,
                           max_iter=steps, time_budget=float("inf"), per_decade=1)
            best.append((time.perf_counter() - t0) / steps)
        return float(np.median(best))

    out = {}
    for axis in range(3):
        sizes, times = [], []
        for f in (1, 2, 4, 8):
            size = list(base)
            size[axis] *= f
            size = [s * 4 if k != axis else s for k, s in enumerate(size)]  # large enough to dominate overheads
            sizes.append(size[axis])
            times.append(step_time(*size))
        slope = float(np.polyfit(np.log(sizes), np.log(times), 1)[0])
        out["nTd"[axis]] = {"sizes": sizes, "seconds_per_step": [f"{t:.2e}" for t in times], "slope": round(slope, 2)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="run only this case (repeatable)")
    parser.add_argument("--check", action="store_true", help="also run the whole check suite per case")
    parser.add_argument("--profile", action="store_true", help="profile the check suite (with --check)")
    parser.add_argument("--no-slopes", action="store_true", help="skip the GD-step slopes")
    parser.add_argument("--skip", action="append", default=[], metavar="CHECK",
                        help="leave this check out of --check (repeatable)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_case(args.worker, args.check, args.profile, tuple(args.skip))))
        return 0
    for name in args.case or list(CASES):
        cmd = [sys.executable, __file__, "--worker", name] + (["--check"] if args.check else []) + \
            (["--profile"] if args.profile else []) + [f"--skip={c}" for c in args.skip]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)   # progress lines go to stderr as they come
        if proc.returncode != 0:
            print(f"{name}: exit {proc.returncode} after {time.perf_counter() - t0:.0f} s (see the lines above)")
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        prof = res.pop("profile", None)
        print(json.dumps(res))
        if prof:
            print(prof)
        sys.stdout.flush()
    if not args.no_slopes:
        print(json.dumps({"gd_step_slopes": gd_step_slopes()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
