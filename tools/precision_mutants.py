"""Mutation test of the precision-cross-check instrument: each single-line change below must make a test fail.

Each mutant replaces one line of one module, runs the tests that mirror it (a failing test kills the mutant),
and restores the file. Usage (from the repository root): python tools/precision_mutants.py [--only NAME]
Prints one line per mutant (killed / SURVIVED, seconds) and the score.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK_TESTS = ["tests/verify/test_precision_runs.py", "tests/verify/test_precision_cross_check.py"]
STEP_TESTS = ["tests/numeric/test_step_check.py"] + CHECK_TESTS

# (name, file, old line fragment, new line fragment, tests)
MUTANTS = [
    ("one-step reference at 3 digits", "verify/precision_runs.py",
     'dps = int(ctx.options["certify_dps"])\n    return StepReference',
     'dps = 3\n    return StepReference', CHECK_TESTS),
    ("mpmath runs at 3 digits", "verify/precision_runs.py",
     'traj = numeric.run_gd_mp(ctx.dataset.inits_exact[index], phi, gamma, ctx.loss, dps=o["cross_check_dps"],',
     'traj = numeric.run_gd_mp(ctx.dataset.inits_exact[index], phi, gamma, ctx.loss, dps=3,', CHECK_TESTS),
    ("rounding bound x10", "numeric/step_check.py",
     "out = E / gn + (D + 4) * U if gn > 0 else np.inf", "out = 10 * (E / gn + (D + 4) * U) if gn > 0 else np.inf",
     STEP_TESTS),
    ("rounding bound without the logit term", "numeric/step_check.py",
     "rel_w = U * (2 * (D + 2) * rho_i + T + 8) + cond_lp * err_u", "rel_w = U * (T + 8) + cond_lp * err_u",
     STEP_TESTS),
    ("tolerance floor ignored (1e-7)", "verify/precision_runs.py",
     'floor=o["cross_check_tol"], turned64=turned)', 'floor=1e-7, turned64=turned)', CHECK_TESTS),
    ("zigzag rule flipped in mpmath", "numeric/step_check.py",
     "back = inner < 0 if turned is None else turned", "back = inner > 0 if turned is None else turned", STEP_TESTS),
    ("tie accepted whatever the inner product", "numeric/step_check.py",
     'row["tie"] = bool(abs(ref.inner) <= max(tol, 4 * (len(theta) + 2) * U))', 'row["tie"] = True', STEP_TESTS),
    ("torch backend not checked", "verify/precision_runs.py",
     'for backend in ("numpy", "torch"):', 'for backend in ("numpy",):', CHECK_TESTS),
    ("same selection not required", "verify/checks/precision_cross_check.py",
     "if j64.status == CONVERGED and jmp.status == CONVERGED and j64.selection == jmp.selection:",
     "if j64.status == CONVERGED and jmp.status == CONVERGED:", CHECK_TESTS),
    ("segment replay skipped", "verify/checks/precision_cross_check.py",
     "rep = pr.replay_segment(ctx, start, end.iteration)",
     "rep = {'steps': 0, 'worst_ratio': 0.0, 'inconsistent': [], 'theta_reached': end.theta}", CHECK_TESTS),
    ("segment replay does not check its steps", "verify/precision_runs.py",
     'if not row["consistent"]:\n                row.update(', 'if False:\n                row.update(', CHECK_TESTS),
    ("a wrong step in the flip segment accepted", "verify/checks/precision_cross_check.py",
     'rec.update(outcome="float64 error", agree=False)', 'rec.update(outcome="basin boundary", agree=True)',
     CHECK_TESTS),
    ("digits of the mpmath run not checked", "verify/checks/precision_cross_check.py",
     'weak = [(i, c) for i, c in enumerate(comps) if c["mp_digits"]["worst_rel_difference"] > MP_RUN_MAX_DIFFERENCE]',
     "weak = []", CHECK_TESTS),
    ("reference mantissa not checked", "verify/checks/precision_cross_check.py",
     "if short is not None and short < need_bits:", "if False:", CHECK_TESTS),
    ("runs that part judged together", "verify/checks/precision_cross_check.py",
     "TOGETHER_REL = 1e-8 ", "TOGETHER_REL = 1e30 ", CHECK_TESTS),
    ("time budget cut not required for together", "verify/checks/precision_cross_check.py",
     'whole = K >= pr.settings(ctx)["iterations"]', "whole = True", CHECK_TESTS),
    ("float64 step state not recorded (fresh state)", "numeric/gd.py",
     "step_state=StepState(state.factor, None if state.direction is None",
     "step_state=StepState(1.0, None if True", ["tests/numeric/test_gd.py"] + CHECK_TESTS),
]


def run_tests(tests) -> str | None:
    """None when the tests pass (the mutant survives), else the first failing test."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if res.returncode == 0:
        return None
    failed = [line.split()[1] for line in res.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return failed[0] if failed else f"pytest exit {res.returncode}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    killed = total = 0
    for name, path, old, new, tests in MUTANTS:
        if args.only and args.only not in name:
            continue
        full = os.path.join(ROOT, path)
        with open(full) as fh:
            text = fh.read()
        if text.count(old) != 1:
            print(f"{name}: the line to mutate is not found once in {path}")
            continue
        total += 1
        t = time.perf_counter()
        try:
            with open(full, "w") as fh:
                fh.write(text.replace(old, new))
            by = run_tests(tests)
        finally:
            with open(full, "w") as fh:
                fh.write(text)
        killed += by is not None
        tail = f"  by {by}" if by else ""
        print(f"{'killed  ' if by else 'SURVIVED'}  {name}  ({time.perf_counter() - t:.0f} s){tail}", flush=True)
    print(f"score: {killed}/{total} killed")


if __name__ == "__main__":
    main()
