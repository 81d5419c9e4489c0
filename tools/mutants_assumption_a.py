"""Planted mutants of Assumption A (symbolic/assumption.py, symbolic/intervals.py): each must make a test fail.

Each mutant is a list of (file, old text, new text) replacements; the runner applies one mutant, runs
the tests that mirror those modules (stopping at the first failure), restores the files (also on
Ctrl-C) and prints KILLED (with the test that caught it) or SURVIVED.

    .venv/bin/python tools/mutants_assumption_a.py [name ...]
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MUTANTS = {
 "no-strictness": [
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
 ],
 "no-tails": [
   ("symbolic/intervals.py", '''        if fin_lo is None:
            queue.append(("tail", -1, a))
        if fin_hi is None:
            queue.append(("tail", 1, b))''', ''),
 ],
 "no-domain-check": [
   ("symbolic/assumption.py", '''    for node, g, need in conds:
        zp = _zeros_poles(g)''', '''    for node, g, need in [c for c in conds if c[2] == "kinks"]:
        zp = _zeros_poles(g)'''),
 ],
 "no-break-point-check": [
   ("symbolic/assumption.py", '''            proof["at_break_points"].append(_at_break(c, left, right))''', '''            pass'''),
 ],
 "tail-monotone-flipped": [
   ("symbolic/intervals.py", '''            drel = _weak(rel) if side > 0 else _opposite(rel)''', '''            drel = _opposite(rel) if side > 0 else _weak(rel)'''),
 ],
 "limit-direction-flipped": [
   ("symbolic/intervals.py", '''                drel = _opposite(_weak(rel)) if side > 0 else _weak(rel)''', '''                drel = _weak(rel) if side > 0 else _opposite(_weak(rel))'''),
 ],
 "holds-uses-lower-end": [
   ("symbolic/intervals.py", '''    return {"<=0": hi <= 0, "<0": hi < 0, ">=0": lo >= 0, ">0": lo > 0}[rel]''', '''    return {"<=0": lo <= 0, "<0": hi < 0, ">=0": lo >= 0, ">0": lo > 0}[rel]'''),
 ],
 "exp-overflow-capped-not-widened": [
   ("symbolic/intervals.py", '''        return lm.finf if rnd == _CEIL else lm.mpf_exp(_EXP_MAX, prec, _FLOOR)''', '''        return lm.mpf_exp(_EXP_MAX, prec, rnd)'''),
 ],
 "logistic-M1-at-wrong-end": [
   ("symbolic/assumption.py", '''    m1 = 1 / (1 + iv.exp(A))''', '''    m1 = 1 / (1 + iv.exp(B))'''),
 ],
 "exact-sign-ignores-positive-samples": [
   ("symbolic/assumption.py", '''            if val > 0:
                raise _Fail("increasing"''', '''            if val > 10**9:
                raise _Fail("increasing"'''),
 ],
 "bounds-skip-critical-points": [
   ("symbolic/assumption.py", '''    pts = {a, b} | {r for r in _real_roots(fp[0]) if bool(a <= r) and bool(r <= b)}''', '''    pts = {a, b}'''),
 ],
 "witness-sign-dropped": [
   ("symbolic/assumption.py", '''    return (-1 if sign else 1) * Fraction(int(man)) * (Fraction(2) ** int(exp))''', '''    return Fraction(int(man)) * (Fraction(2) ** int(exp))'''),
 ],
 "sqrt-of-negative-allowed": [
   ("symbolic/assumption.py", '''        if (need in (">0", ">=0") and s < 0):''', '''        if (need in (">0",) and s < 0):'''),
 ],
}
TESTS = ["tests/symbolic/test_assumption.py", "tests/symbolic/test_intervals.py", "tests/symbolic/test_losses.py"]


def run(name: str) -> str:
    originals = {}
    try:
        for path, old, new in MUTANTS[name]:
            path = ROOT / path
            cur = path.read_text()
            originals.setdefault(path, cur)
            if old not in cur:
                return f"{name}: PATTERN NOT FOUND ({old[:50]!r})"
            path.write_text(cur.replace(old, new, 1))
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *TESTS],
                           capture_output=True, text=True, cwd=ROOT)
        failed = [line for line in r.stdout.splitlines() if line.startswith("FAILED")]
        return f"{name}: KILLED by {failed[0][7:]}" if failed else f"{name}: SURVIVED"
    finally:
        for path, text in originals.items():
            path.write_text(text)


if __name__ == "__main__":
    for mutant in sys.argv[1:] or list(MUTANTS):
        print(run(mutant), flush=True)
