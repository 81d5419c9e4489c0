"""Mutation testing: planted defects, each run against the tests that mirror the module(s) it changes.

A mutant is a name, a list of edits (file, exact old text, new text) and the test files that mirror the mutated
module(s). The runner applies the edits in order; each old text must occur exactly once in its file when its turn
comes and every mutated file must still parse, else the mutant is reported "not applied" (never skipped silently).
It then runs ``python -m pytest -x -q -p no:cacheprovider <tests>`` and restores every file it touched, also on an
error or Ctrl-C. The mutant is killed when some test fails. Each set of tests is first run once without a mutant:
when it fails there, its mutants are reported "not applied" (a kill would mean nothing). A defect that no test
catches is a gap in the suite: the score printed at the end is killed / total, with every other mutant listed.

Usage (from anywhere): python tools/mutants.py [--only SUBSTRING] [--list] [--no-baseline]
``--list`` runs no test: it prints every chosen mutant with whether all its edits apply to the current code.
Exit status 0 only when every chosen mutant is killed.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import NamedTuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Mutant(NamedTuple):
    name: str
    edits: list[tuple[str, str, str]]    # (file relative to the repository root, exact old text, new text)
    tests: list[str]


def one(name, path, old, new, tests) -> Mutant:
    """A mutant made of one edit."""
    return Mutant(name, [(path, old, new)], tests)


KKT_TESTS = ["tests/symbolic/test_kkt.py"]
SVM_TESTS = ["tests/numeric/test_svm.py"]
CLAIMS_TESTS = ["tests/verify/test_claims.py"]
CONVERGENCE_TESTS = ["tests/numeric/test_convergence.py"]
BATCHED_TESTS = ["tests/numeric/test_batched.py", "tests/numeric/test_batched_numpy.py"]
CHECKS_TESTS = ["tests/verify/test_checks.py"]
ASSUMPTION_A_TESTS = ["tests/symbolic/test_assumption.py", "tests/symbolic/test_intervals.py",
                      "tests/symbolic/test_losses.py"]
PRECISION_TESTS = ["tests/verify/test_precision_runs.py", "tests/verify/test_precision_cross_check.py"]
STEP_TESTS = ["tests/numeric/test_step_check.py"] + PRECISION_TESTS
SAB = "symbolic/assumption_b.py"
ASSUMPTION_B_TESTS = ["tests/symbolic/test_assumption_b.py", "tests/numeric/test_assumption_b.py"]

MUTANTS: list[Mutant] = [
    # exact certificates (symbolic/kkt.py). The four final checks restate invariants of the active-set loop (it
    # ends only with lambda >= 0 and no violated row, and theta = A_B^T lambda_B with A_B theta = b_B exactly), so
    # dropping one check alone changes nothing; each mutant breaks the loop's invariant and the check together.
    Mutant("kkt: violated rows neither entered nor checked (primal feasibility)", [
        ("symbolic/kkt.py", "neg = [j for j in batch if slack[j] < 0]", "neg = []"),
        ("symbolic/kkt.py", '"primal_feasible": all(s >= 0 for s in slack.values()),', '"primal_feasible": True,'),
    ], KKT_TESTS),
    Mutant("kkt: multipliers doubled off the tight face, complementarity not checked", [
        ("symbolic/kkt.py", "                lam_B = (AB * AB.transpose()).solve(bB)\n                theta",
         "                lam_B = 2 * (AB * AB.transpose()).solve(bB)\n                theta"),
        ("symbolic/kkt.py", '"complementary_slackness": all(lam_basis[j] * slack[j] == 0 for j in basis),',
         '"complementary_slackness": True,'),
    ], KKT_TESTS),
    Mutant("kkt: negative multipliers neither dropped nor checked", [
        ("symbolic/kkt.py", "if lam_list and min(lam_list) < 0:", "if False:"),
        ("symbolic/kkt.py", '"multipliers_nonnegative": all(x >= 0 for x in lam_basis.values()),',
         '"multipliers_nonnegative": True,'),
    ], KKT_TESTS),
    # the polish's KKT residual (numeric/svm.py): a polish stopped before it is feasible is not ok. (Dropping the
    # complementarity term is not observable: every outer iteration ends on the equality solution of its free set.)
    one("polish: primal infeasibility dropped from the residual", "numeric/svm.py",
        "primal_inf = max([-s for s in slack.values()] + [zero], key=float)", "primal_inf = zero", SVM_TESTS),
    # the judge's semantics (verify/claims.py)
    one("claims: a failed premise does not make a claim not-applicable", "verify/claims.py",
        "failed = [p for p, v in premise_verdicts.items() if v in (FAILS, NOT_APPLICABLE)]", "failed = []",
        CLAIMS_TESTS),
    one("claims: an undecided premise is ignored", "verify/claims.py",
        "undecided = [p for p, v in premise_verdicts.items() if v == INCONCLUSIVE]", "undecided = []",
        CLAIMS_TESTS),
    one("claims: a failing instrument leaves the dataset consistent", "verify/claims.py",
        "any(c.verdict in (FAILS, INCONCLUSIVE) for c in checks if c.role == INSTRUMENT)", "False",
        CLAIMS_TESTS),
    # the one convergence rule (numeric/convergence.py)
    one("convergence: a stall without a certificate", "numeric/convergence.py",
        'if cert is not None and cert.get("certified"):', "if True:", CONVERGENCE_TESTS),
    one("convergence: no norm growth needed", "numeric/convergence.py",
        "if stable and omc1 is not None and omc1 <= tol and growth >= min_growth:",
        "if stable and omc1 is not None and omc1 <= tol:", CONVERGENCE_TESTS),
    one("convergence: tolerance x100", "numeric/convergence.py",
        "if stable and omc1 is not None and omc1 <= tol and growth >= min_growth:",
        "if stable and omc1 is not None and omc1 <= 100 * tol and growth >= min_growth:", CONVERGENCE_TESTS),
    # the step rule of both batched engines (torch and numpy), held to each other and to numeric.run_gd
    one("zigzag rule: the step never shrinks (torch engine)", "numeric/batched.py",
        "factor = torch.where(turned, factor * SHRINK, torch.clamp(factor * GROWTH, max=1.0))",
        "factor = torch.clamp(factor * GROWTH, max=1.0)", CONVERGENCE_TESTS + BATCHED_TESTS),
    one("zigzag rule: the step never shrinks (numpy engine)", "numeric/batched.py",
        "factor = np.where(turned, factor * SHRINK, np.minimum(factor * GROWTH, 1.0))",
        "factor = np.minimum(factor * GROWTH, 1.0)", CONVERGENCE_TESTS + BATCHED_TESTS),
    # directional limit of the theorem's algorithm (verify/checks/directional_limit.py)
    one("directional-limit: tolerance x100", "verify/checks/directional_limit.py",
        "if stable and sel == tuple(alpha) and omc1 <= tol and falling:",
        "if stable and sel == tuple(alpha) and omc1 <= 100 * tol and falling:", CHECKS_TESTS),
    one("directional-limit: no falling trend needed", "verify/checks/directional_limit.py",
        "if stable and sel == tuple(alpha) and omc1 <= tol and falling:",
        "if stable and sel == tuple(alpha) and omc1 <= tol:", CHECKS_TESTS),
    # norm divergence (verify/checks/norm_divergence.py)
    one("norm-divergence: descent sign flipped", "verify/checks/norm_divergence.py",
        'ev["descent"] = all(d["sign"] < 0 and d["sign_certified"] for d in signs)',
        'ev["descent"] = all(d["sign"] > 0 and d["sign_certified"] for d in signs)', CHECKS_TESTS),
    one("norm-divergence: a stall without a certificate", "verify/checks/norm_divergence.py",
        'if cert is not None and cert.get("certified"):', "if True:", CHECKS_TESTS),
    # (K, Q): told apart from the Frobenius solution (verify/checks/kq_directional_limit.py)
    one("kq: told apart forced true", "verify/checks/kq_directional_limit.py",
        "closer_nuc = (not distinct) or (j[\"nuc_gap\"] / g_F < j[\"fro_gap\"] / g_star)", "closer_nuc = True",
        ["tests/verify/test_w_checks.py"]),
    # local optimality (verify/exploration.py)
    one("exploration: contradictions never reported", "verify/exploration.py",
        'if j.status == CONVERGED and self.status(j.selection)["locally_optimal"] is False:', "if False:",
        ["tests/verify/test_locally_optimal.py"]),
    one("exploration: an apparent convergence to a saddle selection not continued", "verify/context.py",
        "keep_going = self.suspicious if keep_going is None else keep_going", "keep_going = keep_going",
        ["tests/verify/test_locally_optimal.py"]),
    one("gd: a float64 fixed point of fixed-step GD not stopped", "numeric/gd.py",
        "stationary = gn == 0.0 or (not normalized and bool(np.array_equal(new, theta)))",
        "stationary = gn == 0.0",
        ["tests/numeric/test_gd.py"]),
    one("fixed-step: the late switch never taken", "numeric/fixed_step.py",
        "return eps <= switch_tol or (late_switch_tol is not None", "return eps <= switch_tol or (False",
        ["tests/numeric/test_fixed_step.py"]),
    one("ties: a tie passes as unique", "verify/checks/optimal_tokens.py",
        "ties = [{\"sequence\": i, \"tokens\": s} for i, s in enumerate(sets) if len(s) > 1]", "ties = []",
        CLAIMS_TESTS),

    # Assumption A, exact and interval arithmetic (symbolic/assumption.py, symbolic/intervals.py)
    Mutant("assumption-a: no strictness (l' < 0 somewhere not required)", [
        ("symbolic/assumption.py", '''        if pn.is_zero:
            raise _Fail("flat", _q(piece.q), f"l' = 0 on {piece.name()}: l is constant there", "exact")
        inner''', '''        inner'''),
        ("symbolic/assumption.py", '''        if neg is None:                    # cannot happen for a non-zero rational function, kept for safety
            raise _Undecided(f"no point with l' < 0 found on {piece.name()}")''', ''),
        ("symbolic/assumption.py", '''    zero, _ = _is_zero(d1)
    if zero:
        raise _Fail("flat", _q(piece.q), f"l' = 0 on {piece.name()}: l is constant there", "exact")''', ''),
        ("symbolic/assumption.py", '''    if strict is None:
        raise _Undecided(f"l' <= 0 on {piece.name()}, but no point with l' < 0 was found (l' might vanish "
                         f"on an interval)")
    t, r = strict''', '''    if strict is None:
        strict = (mpmath.mpf(0), iv.mpf(0))
    t, r = strict'''),
        ("symbolic/assumption.py", '''    if u not in expr.free_symbols:
        raise _Fail("flat", sp.Integer(0), "l is constant: l' = 0 on all of R", "exact")''', ''),
    ], ASSUMPTION_A_TESTS),
    one("assumption-a: unbounded tails not examined", "symbolic/intervals.py", '''        if fin_lo is None:
            queue.append(("tail", -1, a))
        if fin_hi is None:
            queue.append(("tail", 1, b))''', '', ASSUMPTION_A_TESTS),
    one("assumption-a: domain conditions not checked", "symbolic/assumption.py", '''    for node, g, need in conds:
        zp = _zeros_poles(g)''', '''    for node, g, need in [c for c in conds if c[2] == "kinks"]:
        zp = _zeros_poles(g)''', ASSUMPTION_A_TESTS),
    one("assumption-a: break points not checked", "symbolic/assumption.py",
        '''            proof["at_break_points"].append(_at_break(c, left, right))''', '''            pass''',
        ASSUMPTION_A_TESTS),
    one("assumption-a: tail monotonicity flipped", "symbolic/intervals.py",
        '''            drel = _weak(rel) if side > 0 else _opposite(rel)''',
        '''            drel = _opposite(rel) if side > 0 else _weak(rel)''', ASSUMPTION_A_TESTS),
    one("assumption-a: limit direction flipped", "symbolic/intervals.py",
        '''                drel = _opposite(_weak(rel)) if side > 0 else _weak(rel)''',
        '''                drel = _weak(rel) if side > 0 else _opposite(_weak(rel))''', ASSUMPTION_A_TESTS),
    one("assumption-a: '<=0' decided on the lower end", "symbolic/intervals.py",
        '''    return {"<=0": hi <= 0, "<0": hi < 0, ">=0": lo >= 0, ">0": lo > 0}[rel]''',
        '''    return {"<=0": lo <= 0, "<0": hi < 0, ">=0": lo >= 0, ">0": lo > 0}[rel]''', ASSUMPTION_A_TESTS),
    one("assumption-a: exp overflow capped, not widened", "symbolic/intervals.py",
        '''        return lm.finf if rnd == _CEIL else lm.mpf_exp(_EXP_MAX, prec, _FLOOR)''',
        '''        return lm.mpf_exp(_EXP_MAX, prec, rnd)''', ASSUMPTION_A_TESTS),
    one("assumption-a: logistic M1 at the wrong end", "symbolic/assumption.py",
        '''    m1 = 1 / (1 + iv.exp(A))''', '''    m1 = 1 / (1 + iv.exp(B))''', ASSUMPTION_A_TESTS),
    one("assumption-a: exact sign ignores positive samples", "symbolic/assumption.py", '''            if val > 0:
                raise _Fail("increasing"''', '''            if val > 10**9:
                raise _Fail("increasing"''', ASSUMPTION_A_TESTS),
    one("assumption-a: bounds skip critical points", "symbolic/assumption.py",
        '''    pts = {a, b} | {r for r in _real_roots(fp[0]) if bool(a <= r) and bool(r <= b)}''',
        '''    pts = {a, b}''', ASSUMPTION_A_TESTS),
    one("assumption-a: witness sign dropped", "symbolic/assumption.py",
        '''    return (-1 if sign else 1) * Fraction(int(man)) * (Fraction(2) ** int(exp))''',
        '''    return Fraction(int(man)) * (Fraction(2) ** int(exp))''', ASSUMPTION_A_TESTS),
    one("assumption-a: sqrt of a negative allowed", "symbolic/assumption.py",
        '''        if (need in (">0", ">=0") and s < 0):''', '''        if (need in (">0",) and s < 0):''',
        ASSUMPTION_A_TESTS),

    # Assumption B's certificates (symbolic/assumption_b.py) and their numeric use (numeric/assumption_b.py,
    # numeric/assumption_b_search.py): one mutant per certificate condition
    one("assumption-b: convexity, inner token choices not checked (lambda off the dual face)", SAB,
        'checks["inner_vertices_within_gamma"] = all(s <= gamma_sq for s in inner_sq)',
        'checks["inner_vertices_within_gamma"] = True', ASSUMPTION_B_TESTS),
    one("assumption-b: convexity, reading sequences outside supp(lambda) not enumerated", SAB,
        "U = sorted(set(i for i in range(n) if lam[i] != 0) | set(I))",
        "U = sorted(set(i for i in range(n) if lam[i] != 0))", ASSUMPTION_B_TESTS),
    one("assumption-b: convexity, the first outer token choice skipped", SAB,
        "outer_idx = [k for k in range(len(sq)) if outer[k]]",
        "outer_idx = [k for k in range(1, len(sq)) if outer[k]]", ASSUMPTION_B_TESTS),
    one("assumption-b: convexity, nu from the shortest outer vertex, not the longest", SAB,
        "k_worst = max(outer_idx, key=lambda k: sq[k])", "k_worst = min(outer_idx, key=lambda k: sq[k])",
        ASSUMPTION_B_TESTS),
    one("assumption-b: convexity, nu rounded to nearest, not down", SAB,
        "out = Fraction(math.floor(x * scale)) / scale\n    assert out <= x",
        "out = Fraction(round(x * scale)) / scale", ASSUMPTION_B_TESTS),
    one("assumption-b: convexity, lambda >= 0 not required", SAB,
        'checks = {"lambda_in_simplex": all(x >= 0 for x in lam) and sum(lam) == 1}',
        'checks = {"lambda_in_simplex": sum(lam) == 1}', ASSUMPTION_B_TESTS),
    one("assumption-b: domination, weights summing below 1 accepted", SAB,
        'checks["sum_at_least_one"] &= sum(combo.values()) >= 1',
        'checks["sum_at_least_one"] &= sum(combo.values()) >= 0', ASSUMPTION_B_TESTS),
    one("assumption-b: domination, gaps of non-support sequences accepted as terms", SAB,
        'checks["support_terms_only"] &= all(i in S and (i, tau) in gaps for (i, tau) in combo)',
        'checks["support_terms_only"] &= all((i, tau) in gaps for (i, tau) in combo)', ASSUMPTION_B_TESTS),
    one("assumption-b: domination, uncovered pairs ignored", SAB,
        'checks["every_pair_covered"] = not missing', 'checks["every_pair_covered"] = True', ASSUMPTION_B_TESTS),
    one("assumption-b: ray, equal rates accepted (non-strict comparison)", SAB,
        "(rho_num is None or rho_num > rho_den)", "(rho_num is None or rho_num >= rho_den)", ASSUMPTION_B_TESTS),
    one("assumption-b: ray, sign of the limit term ignored", SAB,
        "if sign is not None and sign < 0:", "if sign is not None:", ASSUMPTION_B_TESTS),
    one("assumption-b: ray, an undecided interval sign taken as negative", SAB,
        "if sign is not None and sign < 0:", "if sign is None or sign < 0:", ASSUMPTION_B_TESTS),
    one("assumption-b: ray, 'zero' limit with one top token at Gamma only", SAB,
        "if all(c[i, t] == 1 for t in M):", "if any(c[i, t] == 1 for t in M):", ASSUMPTION_B_TESTS),
    one("assumption-b: ray, tilt rate not below the slow sequence's rate", SAB,
        "rho_eta = Fraction(3, 4) * min(finite)", "rho_eta = min(finite)", ASSUMPTION_B_TESTS),
    one("assumption-b: point, Gamma ||w|| without ||w||", SAB,
        "_, bound = sqrt_bounds(as_fraction(gamma_sq) * ww)", "_, bound = sqrt_bounds(as_fraction(gamma_sq))",
        ASSUMPTION_B_TESTS),
    one("assumption-b: point, minimum over the first sequence only", SAB,
        "            if x.a < low:", "            if False:", ASSUMPTION_B_TESTS),
    one("assumption-b: mpmath cross-check of a ray accepts a ratio that does not vanish at the rate",
        "numeric/assumption_b_search.py", "(slope is not None and slope <= -0.5 * rate)", "True", ASSUMPTION_B_TESTS),
    one("assumption-b: B[n] from B[S] without the domination certificate", "numeric/assumption_b.py",
        "if dom.proved and b_s.verdict == HOLDS:", "if b_s.verdict == HOLDS:", ASSUMPTION_B_TESTS),

    # the precision cross-check instrument (numeric/step_check.py, verify/precision_runs.py,
    # verify/checks/precision_cross_check.py)
    one("precision: one-step reference at 3 digits", "verify/precision_runs.py",
        'dps = int(ctx.options["certify_dps"])\n    return StepReference',
        'dps = 3\n    return StepReference', PRECISION_TESTS),
    one("precision: mpmath runs at 3 digits", "verify/precision_runs.py",
        'traj = numeric.run_gd_mp(ctx.dataset.inits_exact[index], phi, gamma, ctx.loss, dps=o["cross_check_dps"],',
        'traj = numeric.run_gd_mp(ctx.dataset.inits_exact[index], phi, gamma, ctx.loss, dps=3,', PRECISION_TESTS),
    one("precision: rounding bound x10", "numeric/step_check.py",
        "out = E / gn + (D + 4) * U if gn > 0 else np.inf",
        "out = 10 * (E / gn + (D + 4) * U) if gn > 0 else np.inf", STEP_TESTS),
    one("precision: rounding bound without the logit term", "numeric/step_check.py",
        "rel_w = U * (2 * (D + 2) * rho_i + T + 8) + cond_lp * err_u", "rel_w = U * (T + 8) + cond_lp * err_u",
        STEP_TESTS),
    one("precision: tolerance floor ignored (1e-7)", "verify/precision_runs.py",
        'floor=o["cross_check_tol"], turned64=turned)', 'floor=1e-7, turned64=turned)', PRECISION_TESTS),
    one("precision: zigzag rule flipped in mpmath", "numeric/step_check.py",
        "back = inner < 0 if turned is None else turned", "back = inner > 0 if turned is None else turned",
        STEP_TESTS),
    one("precision: tie accepted whatever the inner product", "numeric/step_check.py",
        'row["tie"] = bool(abs(ref.inner) <= max(tol, 4 * (len(theta) + 2) * U))', 'row["tie"] = True',
        STEP_TESTS),
    one("precision: batched engines not checked", "verify/precision_runs.py",
        'return tuple(b for b in BACKENDS if b != "torch" or torch_used_here)',
        'return tuple(b for b in BACKENDS if b == "numpy")', PRECISION_TESTS),
    one("precision: same selection not required", "verify/checks/precision_cross_check.py",
        "if j64.status == CONVERGED and jmp.status == CONVERGED and j64.selection == jmp.selection:",
        "if j64.status == CONVERGED and jmp.status == CONVERGED:", PRECISION_TESTS),
    one("precision: segment replay skipped", "verify/checks/precision_cross_check.py",
        "rep = pr.replay_segment(ctx, start, end.iteration)",
        "rep = {'steps': 0, 'worst_ratio': 0.0, 'inconsistent': [], 'theta_reached': end.theta}",
        PRECISION_TESTS),
    one("precision: segment replay does not check its steps", "verify/precision_runs.py",
        'if not row["consistent"]:\n                row.update(', 'if False:\n                row.update(',
        PRECISION_TESTS),
    one("precision: a wrong step in the flip segment accepted", "verify/checks/precision_cross_check.py",
        'rec.update(outcome="float64 error", agree=False)', 'rec.update(outcome="basin boundary", agree=True)',
        PRECISION_TESTS),
    one("precision: digits of the mpmath run not checked", "verify/checks/precision_cross_check.py",
        'weak = [(i, c) for i, c in enumerate(comps) '
        'if c["mp_digits"]["worst_rel_difference"] > MP_RUN_MAX_DIFFERENCE]',
        "weak = []", PRECISION_TESTS),
    one("precision: reference mantissa not checked", "verify/checks/precision_cross_check.py",
        "if short is not None and short < need_bits:", "if False:", PRECISION_TESTS),
    one("precision: runs that part judged together", "verify/checks/precision_cross_check.py",
        "TOGETHER_REL = 1e-8 ", "TOGETHER_REL = 1e30 ", PRECISION_TESTS),
    one("precision: time budget cut not required for together", "verify/checks/precision_cross_check.py",
        'whole = K >= pr.settings(ctx)["iterations"]', "whole = True", PRECISION_TESTS),
    one("precision: float64 step state not recorded (fresh state)", "numeric/gd.py",
        "step_state=StepState(state.factor, None if state.direction is None",
        "step_state=StepState(1.0, None if True", ["tests/numeric/test_gd.py"] + PRECISION_TESTS),
]


def edited(mutant: Mutant) -> tuple[dict[str, tuple[str, str]], str | None]:
    """The mutated text of every file the mutant touches, computed in memory: ({path: (original, mutated)}, None),
    or ({}, why) when some edit does not apply (its old text must occur exactly once when its turn comes) or a
    mutated file does not parse."""
    texts: dict[str, tuple[str, str]] = {}
    for k, (path, old, new) in enumerate(mutant.edits):
        full = os.path.join(ROOT, path)
        if full not in texts:
            try:
                with open(full, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as exc:
                return {}, f"edit {k + 1}: cannot read {path} ({exc.strerror})"
            texts[full] = (text, text)
        original, current = texts[full]
        count = current.count(old)
        if count != 1:
            return {}, f"edit {k + 1}: the old text occurs {count} times in {path}"
        texts[full] = (original, current.replace(old, new))
    for full, (_, mutated) in texts.items():
        try:
            compile(mutated, full, "exec")
        except SyntaxError as exc:     # a mutant that does not even parse tests nothing
            return {}, f"the mutated {os.path.relpath(full, ROOT)} does not parse (line {exc.lineno}: {exc.msg})"
    return texts, None


TIMEOUT_S = 900       # a mutant that makes the tests hang this long is caught by them (reported as such)


def run_tests(tests: list[str]) -> str | None:
    """Run ``pytest -x -q`` on the test files: None when they pass, else the first failing test."""
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                              cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"a timeout: the tests ran over {TIMEOUT_S} s"
    if proc.returncode == 0:
        return None
    failed = [line.split(" ", 1)[1].split(" - ")[0] for line in proc.stdout.splitlines()
              if line.startswith(("FAILED ", "ERROR "))]
    return failed[0] if failed else f"pytest exit status {proc.returncode}"


def run_mutant(mutant: Mutant) -> tuple[str, float, str]:
    """(result, seconds, detail): result is "killed", "SURVIVED" or "not applied"; the files are always restored,
    also when the run is interrupted."""
    texts, why = edited(mutant)
    if why is not None:
        return "not applied", 0.0, why
    start = time.perf_counter()
    written = []
    try:
        for full, (_, mutated) in texts.items():
            written.append(full)
            with open(full, "w", encoding="utf-8") as fh:
                fh.write(mutated)
        failed = run_tests(mutant.tests)
    finally:
        for full in written:
            with open(full, "w", encoding="utf-8") as fh:
                fh.write(texts[full][0])
    seconds = time.perf_counter() - start
    return ("SURVIVED", seconds, "") if failed is None else ("killed", seconds, f"by {failed}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="run only the mutants whose name contains this text")
    ap.add_argument("--list", action="store_true",
                    help="list the mutants with whether their edits apply to the current code, run no test")
    ap.add_argument("--no-baseline", dest="baseline", action="store_false",
                    help="do not first run each set of tests without a mutant (they must pass for a kill to count)")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if args.only is None or args.only in m.name]
    if not chosen:
        print(f"no mutant's name contains {args.only!r}", file=sys.stderr)
        return 2
    if args.list:
        bad = 0
        for m in chosen:
            why = edited(m)[1]
            bad += why is not None
            files = ", ".join(dict.fromkeys(path for path, _, _ in m.edits))
            print(f"{'applies' if why is None else 'NOT APPLIED':<12} {m.name:<64} {files}"
                  + ("" if why is None else f"  ({why})"))
        print(f"{len(chosen) - bad}/{len(chosen)} mutants apply")
        return 0 if bad == 0 else 1
    results = []
    baseline: dict[tuple, str | None] = {}
    try:
        for m in chosen:
            key = tuple(m.tests)
            if args.baseline and key not in baseline:
                # a test that fails without any mutant would count every mutant on it as killed
                baseline[key] = run_tests(m.tests)
            if args.baseline and baseline[key] is not None:
                status, seconds, detail = "not applied", 0.0, f"the tests fail without the mutant: {baseline[key]}"
            else:
                status, seconds, detail = run_mutant(m)
            results.append((m.name, status))
            print(f"{status:<12} {seconds:6.0f} s  {m.name}  ({detail + '; ' if detail else ''}"
                  f"tests: {', '.join(m.tests)})", flush=True)
    except KeyboardInterrupt:
        print("interrupted: the files are restored; the score covers the mutants run so far", file=sys.stderr)
    killed = sum(s == "killed" for _, s in results)
    print(f"score: {killed}/{len(results)} killed")
    for name, status in results:
        if status != "killed":
            print(f"  {status}: {name}")
    return 0 if results and killed == len(chosen) else 1


if __name__ == "__main__":
    raise SystemExit(main())
