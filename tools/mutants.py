"""Mutation testing of the judge: planted single-line defects, each run against the tests that mirror its module.

Each mutant replaces one exact line fragment in one file (the fragment must occur exactly once), runs the given
test files (``pytest -x -q``), restores the file, and counts the mutant as killed when some test fails. A check
that no test can fail is a defect of the suite: the score printed at the end is killed / total, with every
survivor listed. Files are restored even when interrupted.

Usage: python tools/mutants.py [--only SUBSTRING] [--list]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, file, fragment, replacement, tests)
MUTANTS = [
    # exact certificates must check every KKT condition (symbolic/kkt.py)
    ("kkt: complementarity not checked", "symbolic/kkt.py",
     '"complementary_slackness": all(lam[j] * slack[j, 0] == 0 for j in range(m)),',
     '"complementary_slackness": True,', ["tests/symbolic/test_kkt.py"]),
    ("kkt: primal feasibility not checked", "symbolic/kkt.py",
     '"primal_feasible": all(slack[j, 0] >= 0 for j in range(m)),', '"primal_feasible": True,',
     ["tests/symbolic/test_kkt.py"]),
    # the polish solves the KKT system with complementarity (numeric/svm.py)
    ("polish: complementarity dropped", "numeric/svm.py",
     "comp = max([abs(lam_all[j] * slack[j]) for j in range(m)] + [mpmath.mpf(0)])", "comp = mpmath.mpf(0)",
     ["tests/numeric/test_svm.py"]),
    # the judge's semantics (verify/claims.py)
    ("claims: a failed premise does not make a claim not-applicable", "verify/claims.py",
     "failed = [p for p, v in premise_verdicts.items() if v in (FAILS, NOT_APPLICABLE)]",
     "failed = []", ["tests/verify/test_claims.py"]),
    ("claims: an undecided premise is ignored", "verify/claims.py",
     "undecided = [p for p, v in premise_verdicts.items() if v == INCONCLUSIVE]", "undecided = []",
     ["tests/verify/test_claims.py"]),
    ("claims: a failing instrument leaves the dataset consistent", "verify/claims.py",
     "any(c.verdict in (FAILS, INCONCLUSIVE) for c in checks if c.role == INSTRUMENT)", "False",
     ["tests/verify/test_claims.py"]),
    # the one convergence rule (numeric/convergence.py)
    ("convergence: a stall without a certificate", "numeric/convergence.py",
     'if cert is not None and cert.get("certified"):', "if True:", ["tests/numeric/test_convergence.py"]),
    ("convergence: no norm growth needed", "numeric/convergence.py",
     "if stable and omc1 is not None and omc1 <= tol and growth >= min_growth:",
     "if stable and omc1 is not None and omc1 <= tol:", ["tests/numeric/test_convergence.py"]),
    ("convergence: tolerance x100", "numeric/convergence.py",
     "if stable and omc1 is not None and omc1 <= tol and growth >= min_growth:",
     "if stable and omc1 is not None and omc1 <= 100 * tol and growth >= min_growth:",
     ["tests/numeric/test_convergence.py"]),
    ("zigzag rule: the step never shrinks", "numeric/batched.py",
     "factor = torch.where(turned, factor * SHRINK, torch.clamp(factor * GROWTH, max=1.0))",
     "factor = torch.clamp(factor * GROWTH, max=1.0)", ["tests/numeric/test_convergence.py"]),
    # directional limit of the theorem's algorithm (verify/checks/directional_limit.py)
    ("directional-limit: tolerance x100", "verify/checks/directional_limit.py",
     "if stable and sel == tuple(alpha) and omc1 <= tol and falling:",
     "if stable and sel == tuple(alpha) and omc1 <= 100 * tol and falling:", ["tests/verify/test_checks.py"]),
    ("directional-limit: no falling trend needed", "verify/checks/directional_limit.py",
     "if stable and sel == tuple(alpha) and omc1 <= tol and falling:",
     "if stable and sel == tuple(alpha) and omc1 <= tol:", ["tests/verify/test_checks.py"]),
    # norm divergence (verify/checks/norm_divergence.py)
    ("norm-divergence: descent sign flipped", "verify/checks/norm_divergence.py",
     'ev["descent"] = all(c is not None and c < 0 for c in cos)',
     'ev["descent"] = all(c is not None and c > 0 for c in cos)', ["tests/verify/test_checks.py"]),
    ("norm-divergence: a stall without a certificate", "verify/checks/norm_divergence.py",
     'if cert is not None and cert.get("certified"):', "if True:", ["tests/verify/test_checks.py"]),
    # (K, Q): told apart from the Frobenius solution (verify/checks/kq_directional_limit.py)
    ("kq: told apart forced true", "verify/checks/kq_directional_limit.py",
     "closer_nuc = (not distinct) or (j[\"nuc_gap\"] / g_F < j[\"fro_gap\"] / g_star)", "closer_nuc = True",
     ["tests/verify/test_w_checks.py"]),
    # local optimality (verify/exploration.py)
    ("exploration: contradictions never reported", "verify/exploration.py",
     'if j.status == CONVERGED and self.status(j.selection)["locally_optimal"] is False:', "if False:",
     ["tests/verify/test_locally_optimal.py"]),
    ("ties: a tie passes as unique", "verify/checks/optimal_tokens.py",
     "ties = [{\"sequence\": i, \"tokens\": s} for i, s in enumerate(sets) if len(s) > 1]", "ties = []",
     ["tests/verify/test_claims.py"]),
]


def run_mutant(name, path, fragment, replacement, tests) -> tuple[str, float]:
    full = os.path.join(ROOT, path)
    with open(full, encoding="utf-8") as fh:
        original = fh.read()
    count = original.count(fragment)
    if count != 1:
        return f"not applied (the fragment occurs {count} times)", 0.0
    start = time.perf_counter()
    try:
        with open(full, "w", encoding="utf-8") as fh:
            fh.write(original.replace(fragment, replacement))
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                              cwd=ROOT, capture_output=True, text=True)
    finally:
        with open(full, "w", encoding="utf-8") as fh:
            fh.write(original)
    return ("killed" if proc.returncode != 0 else "SURVIVED"), time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="run the mutants whose name contains this text")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if args.only is None or args.only in m[0]]
    if args.list:
        for m in chosen:
            print(f"{m[0]:<62} {m[1]}")
        return 0
    results = []
    for m in chosen:
        status, seconds = run_mutant(*m)
        results.append((m[0], status))
        print(f"{status:<10} {seconds:6.0f} s  {m[0]}  ({m[1]}; tests: {', '.join(m[4])})", flush=True)
    killed = sum(s == "killed" for _, s in results)
    print(f"score: {killed}/{len(results)} killed")
    for name, status in results:
        if status != "killed":
            print(f"  {status}: {name}")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
