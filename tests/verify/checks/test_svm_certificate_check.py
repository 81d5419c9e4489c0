"""Check `svm-certificate` and the certificate fields of `p-svm`."""
from __future__ import annotations

from fractions import Fraction

import mpmath

from attnsvm.verify import Dataset, check

FAST = {"max_iterations": 300, "fixed_iterations": 300}


def test_builtin_certified_exactly_and_matches_polished_p_mm():
    r = check("single-input-global", only=["p-svm", "svm-certificate"], **FAST)
    ev = r["p-svm"].evidence
    assert r["svm-certificate"].verdict == "holds" and ev["certificate"] == "exact"
    with mpmath.workdps(50):
        for frac, dec in zip(ev["p_mm_exact"], ev["p_mm"]):
            f = Fraction(frac)
            assert abs(mpmath.mpf(f.numerator) / f.denominator - mpmath.mpf(dec)) < mpmath.mpf(10) ** -35


def test_hand_solved_dataset():
    # one sequence, keys (2, 0), (0, 0), (1, -1): constraints 2 p1 >= 1 and p1 + p2 >= 1 -> p_mm = (1/2, 1/2)
    ds = Dataset(X=[[["2", "0"], ["0", "0"], ["1", "-1"]]], Y=[1], v=["1", "0"])
    r = check(ds, only=["p-svm", "svm-certificate"], **FAST)
    assert r["p-svm"].evidence["p_mm_exact"] == ["1/2", "1/2"]
    cert = r["svm-certificate"].evidence["certificates"][0]
    assert cert["status"] == "exact" and all(cert["checks"].values())


def test_infeasible_p_svm_is_proven_by_an_exact_farkas_certificate():
    # W = 0: every key is 0, so no p satisfies <p, k_a - k_t> >= 1
    ds = Dataset(X=[[["1", "0"], ["0", "1"]]], Y=[1], v=["1", "0"], W=[[0, 0], [0, 0]])
    r = check(ds, only=["p-svm", "svm-certificate"], **FAST)
    assert r["p-svm"].verdict == "fails" and r["p-svm"].role == "premise"
    c = r["svm-certificate"]
    assert c.verdict == "holds" and "proven infeasible (Farkas)" in c.summary and c.role == "instrument"
    assert c.evidence["certificates"][0]["infeasible"] is True
