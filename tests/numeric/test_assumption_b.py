"""numeric.assumption_b: the hard margin (NNLS, against the distance to the hull and against the SOCP), the ratio
at hand-computable points, the mpmath branch, and the decision of both readings (B[n]: maximum over every
sequence; B[S]: over the v-SVM's support) on built-in and constructed datasets. W = I throughout, so keys =
tokens; every sequence has token 0 = (0, 0) unless said otherwise, and alpha = token 1, so the logit gap of
sequence i is <p, x_{i,1}>."""
import math
from fractions import Fraction as Fr

import mpmath
import numpy as np
import pytest

from attnsvm.numeric import assumption_b as nb

X_TIGHT = np.array([[[0, 0], [1, 1]], [[0, 0], [1, -1]], [[0, 0], [0.5, 1]]], float)
X_TIGHT_EXACT = np.array([[[Fr(0), Fr(0)], [Fr(1), Fr(1)]], [[Fr(0), Fr(0)], [Fr(1), Fr(-1)]],
                          [[Fr(0), Fr(0)], [Fr(1, 2), Fr(1)]]], dtype=object)
Y = np.array([1.0, -1.0, 1.0])
EYE = np.array([[Fr(1), Fr(0)], [Fr(0), Fr(1)]], dtype=object)


def evaluator(**kw):
    return nb.RatioEvaluator(X_TIGHT, Y, X_TIGHT.copy(), [1, 1, 1], 1.0, X_TIGHT_EXACT, [1, -1, 1], EYE,
                             mpmath.mpf(1), support=[0, 1, 2], **kw)


def test_margin_solver_known_value():
    # points (1, 1) (+) and (1, -1) (-): best unit v is (0, 1), margin 1
    m, v = nb.MarginSolver(2, 2)(np.array([[1.0, 1.0], [1.0, -1.0]]), np.array([1.0, -1.0]))
    assert m == pytest.approx(1.0, abs=1e-7)
    np.testing.assert_allclose(v, [0, 1], atol=1e-6)


def _segment_distance_mp(a, b):
    """Distance from 0 to the segment [a, b] in mpmath (50 digits)."""
    with mpmath.workdps(50):
        a = [mpmath.mpf(float(x)) for x in a]
        b = [mpmath.mpf(float(x)) for x in b]
        ab = [y - x for x, y in zip(a, b)]
        den = mpmath.fsum(x * x for x in ab)
        t = 0 if den == 0 else min(1, max(0, -mpmath.fsum(x * y for x, y in zip(a, ab)) / den))
        return mpmath.sqrt(mpmath.fsum((x + t * y) ** 2 for x, y in zip(a, ab)))


@pytest.mark.parametrize("seed", range(8))
def test_hard_margin_is_the_distance_to_the_hull_in_the_plane(seed):
    """Rows in an open half-plane (margin > 0), of norms spread over 1e-6 ... 10: margin = distance from 0 to their
    convex hull = the smallest distance to a segment between two rows (mpmath), to 1e-14; the bracket is narrow and
    v attains the margin."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    w = rng.standard_normal(2)
    A = rng.standard_normal((n, 2))
    A = A * np.sign(A @ w)[:, None] * 10 ** rng.uniform(-6, 1, size=(n, 1))
    m, upper, v, passes = nb.hard_margin(A)
    exact = float(min(_segment_distance_mp(A[i], A[j]) for i in range(n) for j in range(i, n)))
    scale = max(1.0, float(np.max(np.abs(A))))
    assert m - 1e-15 * scale <= exact <= upper + 1e-15 * scale      # the bracket holds the distance
    assert upper - m <= nb.MARGIN_TOL * scale and 1 <= passes <= 4
    assert float(np.min(A @ v)) == pytest.approx(m, abs=1e-15) and np.linalg.norm(v) == pytest.approx(1.0)


def test_hard_margin_refines_a_tiny_margin():
    """Rows of norms 1.6e-6, 0.04 and 9e-5 (met on joint-tight): the margin 1.6e-6 is below the first NNLS pass's
    resolution (its gradients are of size margin^2: the first bracket is 4e-12 wide); the pass on the rescaled
    rows brackets it to 1e-16."""
    A = np.array([[1.1357377079163538e-06, 1.1357377079163538e-06], [-2.7808405994821629e-02, 2.7808405994821629e-02],
                  [4.2294715835070512e-05, 8.4589431670141024e-05]])
    lo, up, _ = nb._nnls_bracket(A)
    assert up - lo > 1e-12
    m, upper, v, passes = nb.hard_margin(A)
    exact = float(min(_segment_distance_mp(A[i], A[j]) for i in range(3) for j in range(i, 3)))
    assert passes == 2 and upper - m < 1e-16 and m - 1e-20 <= exact <= upper + 1e-20
    assert float(exact) == pytest.approx(1.60617e-6, rel=1e-5)


def test_hard_margin_is_zero_when_the_hull_holds_the_origin():
    for A in (np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([[1.0, 1.0], [-2.0, 0.5], [0.5, -3.0]]),
              np.array([[0.0, 0.0], [1.0, 2.0]])):
        m, upper, v, _ = nb.hard_margin(A)
        assert m == 0.0 and not np.any(v) and 0 <= upper <= 1e-15


def test_hard_margin_agrees_with_the_socp():
    """The NNLS answer against cvxpy's SOCP (Clarabel, tolerance ~1e-8) on random rows, separable or not."""
    rng = np.random.default_rng(11)
    for k in range(12):
        n, d = int(rng.integers(2, 7)), int(rng.integers(1, 4))
        A = rng.standard_normal((n, d)) * 10 ** rng.uniform(-3, 1, size=(n, 1))
        if k % 2:
            A[:, 0] = np.abs(A[:, 0]) + 0.1
        solver = nb.MarginSolver(n, d)
        t, _ = solver._solve_socp(A)
        m, _, _, _ = nb.hard_margin(A)
        assert m == pytest.approx(max(t, 0.0), abs=2e-8)


def test_margin_solver_falls_back_to_the_socp(monkeypatch):
    monkeypatch.setattr(nb, "MARGIN_GIVE_UP", -1.0)      # no bracket is narrow enough
    solver = nb.MarginSolver(2, 2)
    m, v = solver(np.array([[1.0, 1.0], [1.0, -1.0]]), np.array([1.0, -1.0]))
    assert solver.socp_solves == 1 and m == pytest.approx(1.0, abs=1e-7)


@pytest.mark.parametrize("x2,expect", [((Fr(1, 2), Fr(3, 2)), ("holds", "fails")), ((Fr(1, 2), 1), ("holds", "holds"))])
def test_joint_built_ins_are_decided_without_cvxpy(monkeypatch, x2, expect):
    """joint-relaxed and joint-tight: both readings decided (with the sampling) while every cvxpy use fails."""
    from attnsvm.numeric import assumption_b_search as search

    class NoCvxpy:
        def __getattr__(self, name):
            raise AssertionError(f"cvxpy.{name} used")

    monkeypatch.setattr(nb, "cp", NoCvxpy())
    monkeypatch.setattr(search, "cp", NoCvxpy())
    d = nb.decide_assumption_b(tokens(x2), Y_EXACT, EYE, [1, 1, 1], directions=[[1.0, 0.0]])
    assert (d.b_s.verdict, d.b_n.verdict) == expect
    assert d.estimate["samples"] > 100


def test_ratio_at_origin_is_one():
    # p = 0: s = (1/2, 1/2), z_i = x_{i,1}/2, margin = Gamma/2 = 1/2, max(1 - s) = 1/2
    res = evaluator()(np.zeros(2))
    assert res["backend"] == "float64"
    assert res["ratio"] == pytest.approx(1.0, abs=1e-6)


def test_ratio_on_a_ray_in_mpmath():
    """p = (80, 0): z_1 = s (1, 1), z_2 = s (1, -1) with 1 - s = e^-80 (negligible here), z_3 = (1 - eps) (0.5, 1)
    with eps = 1 - sigma(40). Tilting v = (a, b) to balance min(b - a, (1 - eps)(b + a/2)) gives a = 2 eps/3 to
    first order, margin = 1 - 2 eps/3, so ratio = (2 eps/3) / eps = 2/3 (by hand), at eps ~ 4e-18, where a
    float64 margin could not resolve the numerator."""
    ev = evaluator()
    res = ev(np.array([80.0, 0.0]))
    assert res["backend"].startswith("mpmath")
    assert res["denominator"] == pytest.approx(1 / (1 + math.exp(40)), rel=1e-12)
    assert res["ratio"] == pytest.approx(2 / 3, rel=1e-9)
    assert res["kkt_ok"]


def test_estimate_is_a_sampled_minimum():
    ev = evaluator()
    est = nb.estimate_nu(ev, 2, directions=[[4 / 3, 1 / 3]], norms=[0.1, 1, 10], n_random=4, local_starts=1,
                         local_evals=20)
    assert est["samples"] == (4 + 3) * 3
    assert 0 < est["nu_hat"] <= min(r for _, r in est["sample_ratios"]) + 1e-15
    assert est["nu_hat"] <= 1.0 + 1e-6     # the value at p = 0 bounds the infimum


def test_gamma_is_repolished_at_the_working_precision():
    """Gamma = 1/||v(alpha)|| = sqrt(2) for the single row (1, 1): an irrational number, so a 50-digit value
    would spoil numerators below 1e-50; the evaluator recomputes it at the digits it needs."""
    X = np.array([[[0.0, 0.0], [1.0, 1.0]]])
    Xe = np.array([[[Fr(0), Fr(0)], [Fr(1), Fr(1)]]], dtype=object)
    ev = nb.RatioEvaluator(X, np.array([1.0]), X.copy(), [1], math.sqrt(2), Xe, [1], EYE, None,
                           v_rows_exact=np.array([[Fr(1), Fr(1)]], dtype=object), v_active=[0])
    G, digits = ev.gamma_at(200)
    assert digits == 200
    with mpmath.workdps(200):
        assert abs(G - mpmath.sqrt(2)) < mpmath.mpf(10) ** -190
    res = ev(np.array([60.0, 60.0]))     # one sequence: margin = ||z|| = sqrt(2) s, ratio = sqrt(2) exactly
    assert res["backend"].startswith("mpmath")
    assert res["ratio"] == pytest.approx(math.sqrt(2), rel=1e-12)


def test_mp_ratio_agrees_with_the_evaluator():
    """Entirely in mpmath (no float64 tails) at p = (80, 0) on joint-tight: ratio 2/3 by hand (see above)."""
    r = nb.mp_ratio([80, 0], X_TIGHT_EXACT, [Fr(1), Fr(-1), Fr(1)], X_TIGHT_EXACT, [1, 1, 1], Fr(1), [0, 1, 2], 60)
    assert float(r["ratio"]) == pytest.approx(2 / 3, rel=1e-9) and r["kkt_ok"]


def test_mp_ratio_where_float64_tails_underflow():
    """p = (2000, 0): every float64 tail underflows (e^-1000), the mpmath ratio is still 2/3 to first order."""
    r = nb.mp_ratio([2000, 0], X_TIGHT_EXACT, [Fr(1), Fr(-1), Fr(1)], X_TIGHT_EXACT, [1, 1, 1], Fr(1), [0, 1, 2], 900)
    assert float(r["ratio"]) == pytest.approx(2 / 3, rel=1e-9)
    assert float(r["denominator"]) == pytest.approx(math.exp(-1000), rel=1e-9)


def test_tiny_positive_ratio_is_resolved_in_mpmath():
    """On joint-relaxed at p = (700, -12), sequence 2 keeps e^-314 off alpha while sequences 0 and 1 lose far less:
    the ratio is positive but astronomically small, and only the mpmath branch resolves its numerator."""
    Xe = X_TIGHT_EXACT.copy()
    Xe[2, 1] = [Fr(1, 2), Fr(3, 2)]
    X = np.array(Xe, dtype=float)
    ev = nb.RatioEvaluator(X, Y, X.copy(), [1, 1, 1], 1.0, Xe, [1, -1, 1], EYE, None, support=[0, 1], mp_below=2.0,
                           gamma_sq=Fr(1))
    res = ev(np.array([700.0, -12.0]))
    assert res["backend"].startswith("mpmath") and 0 < res["ratio"] < 1e-100


# -- the decision --------------------------------------------------------------------------------------------

def tokens(x2, x0_2=(0, 0), first=((0, 0), (1, 1))):
    """Sequences 0 and 1 of joint-relaxed/-tight ((0,0), (1,1), Y = +1; (0,0), (1,-1), Y = -1) and sequence 2 with
    tokens x0_2, x2 (Y = +1), as exact arrays."""
    X = [list(first), [(0, 0), (1, -1)], [x0_2, x2]]
    return np.array([[[Fr(c) for c in tok] for tok in seq] for seq in X], dtype=object)


Y_EXACT = [Fr(1), Fr(-1), Fr(1)]
NO_SAMPLES = dict(sample=False)


def decide(X, alpha=(1, 1, 1), W=EYE, Yx=Y_EXACT, **kw):
    return nb.decide_assumption_b(X, Yx, W, list(alpha), **{**NO_SAMPLES, **kw})


def test_joint_relaxed_b_n_fails_by_a_ray_and_b_s_holds():
    d = decide(tokens((Fr(1, 2), Fr(3, 2))))
    bn, bs = d.b_n, d.b_s
    assert d.vsvm.support == [0, 1]
    assert bs.verdict == "holds" and 0 < 1 - 1 / math.sqrt(2) - float(bs.nu) < 1e-6     # see the symbolic tests
    assert bn.verdict == "fails" and bn.certificate["kind"] == "ray" and bn.certificate["accepted"]
    assert Fr(bn.certificate["rate"]) > 0 and bn.certificate["slow_sequence"] == 2      # the non-support sequence
    cross = bn.cross_check
    assert cross["consistent"] and cross["points"][-1]["ratio"] < 1e-10
    assert cross["points"][-1]["ratio"] < cross["points"][0]["ratio"] * 1e-6
    assert cross["observed_log_slope"] == pytest.approx(-float(Fr(bn.certificate["rate"])), rel=0.05)


def test_joint_tight_both_readings_hold():
    d = decide(X_TIGHT_EXACT)
    assert d.b_s.verdict == d.b_n.verdict == "holds"
    assert 1 - math.sqrt(10) / 4 <= float(d.b_s.nu) <= 0.5          # the hand dual point; the sampled value 0.5
    assert d.b_n.nu == d.b_s.nu and "coincide" in d.b_n.search["note"]


def test_b_n_holds_with_s_not_every_sequence():
    """x_{2,1} = (2, 2): sequence 2 is off the support (score 2 > Gamma = 1) but its logit gap is twice sequence 0's,
    so it concentrates faster: max_i (1 - s_i) <= 2 max_(i in S) (1 - s_i) and B[n] holds with nu_S / 2."""
    d = decide(tokens((2, 2)))
    assert d.vsvm.support == [0, 1]
    assert d.b_s.verdict == d.b_n.verdict == "holds"
    assert d.b_n.nu == d.b_s.nu / 2 and d.b_n.certificate["kind"] == "B[S] and domination"


def test_b_s_fails_on_a_support_sequence_with_a_second_token_at_the_margin():
    """Sequence 0 has tokens (2, 1) and alpha = (1, 1); the dataset's v = (-1/10, 1) prefers (1, 1) (9/10 > 8/10), so
    alpha is unique, but v(alpha) = (0, 1) (all three sequences tight, S = [n]) scores both at exactly Gamma = 1.
    Along p = a u with u_1 > 0 (e.g. (1, 0)) sequence 0 moves all its attention to (2, 1) (1 - s_0,alpha -> 1) while
    the other support sequences concentrate on alpha: the mixed features tend to (2, 1), (-1, 1), (1/2, 1), whose
    margin is exactly Gamma, so the ratio -> 0 (no nu > 0) even over S."""
    X = tokens((Fr(1, 2), 1), first=((2, 1), (1, 1)))
    d = decide(X)
    assert d.vsvm.support == [0, 1, 2]
    assert d.b_s.verdict == "fails" and d.b_s.certificate["kind"] == "ray"
    assert d.b_s.certificate["sequences"][0]["limit"] == "zero" and d.b_s.certificate["rate_denominator"] == "0"
    assert d.b_s.cross_check["consistent"] and d.b_n.verdict == "fails"


@pytest.mark.parametrize("x0_2,x2", [((0, 0), (Fr(3, 2), Fr(5, 2))), ((Fr(1, 2), 1), (1, Fr(3, 2)))])
def test_b_n_fails_where_domination_fails(x0_2, x2):
    """Sequence 2 off the support with a logit gap (3/2, 5/2) = 2 (1,1) - 1/2 (1,-1) (a negative weight), or
    (1/2, 1/2) = 1/2 (1, 1) (weight below 1): it can lose its attention slower than the support sequences, and a
    ray proves B[n] false while B[S] holds; the domination certificate must not claim B[n] (that would be a
    proof and a disproof at once)."""
    d = decide(tokens(x2, x0_2))
    assert d.b_s.verdict == "holds"
    assert d.b_n.verdict == "fails" and not d.b_n.search["domination"]["proved"]


def test_point_certificate_decides_both_readings():
    """One sequence, x_alpha = (1, 0), other token (1/2, 5), v = (1, 0): at p = 0 the margin is
    ||(3/4, 5/2)|| > Gamma = 1, so the ratio is negative there (interval arithmetic)."""
    X = np.array([[[Fr(1), Fr(0)], [Fr(1, 2), Fr(5)]]], dtype=object)
    d = nb.decide_assumption_b(X, [Fr(1)], EYE, [0], sample=False)
    for r in (d.b_n, d.b_s):
        assert r.verdict == "fails" and r.certificate["kind"] == "point" and r.cross_check["ratio_mpmath"] < 0


def test_tie_ray_with_identical_keys():
    """W = diag(1, 0) keys only the first coordinate: sequence 2's tokens (0, 3) and (0, 2) (scores 3, 2 > Gamma)
    share the key 0 and split their attention in half for every p, while the support sequences concentrate
    along p = a (1, 0): B[n] fails by a tie ray (denominator rate 0), B[S] holds."""
    W = np.array([[Fr(1), Fr(0)], [Fr(0), Fr(0)]], dtype=object)
    d = decide(tokens((0, 2), x0_2=(0, 3)), alpha=(1, 1, 0), W=W)
    assert d.b_n.verdict == "fails" and d.b_n.certificate["rate_denominator"] == "0"
    assert d.b_n.certificate["sequences"][2]["top_tokens"] == [0, 1]
    assert d.b_s.verdict == "holds"


def test_zero_multiplier_support_fails_b_s_at_second_order():
    """d = 3: a_0 = (1,0,1), a_1 = (-1,0,1), a_2 = (0,1,1), all tight for v(alpha) = (0,0,1), but a_2's multiplier is 0
    in every dual solution. Leaking delta of sequence 2 costs the margin only ~delta^2 (v tilts towards a_2 by
    ~delta), so over S the ratio tends to 0. The ray certificate with the tilt g = (0, 1, 0) (orthogonal to v,
    >= 0 on every support row, > 0 on a_2) proves it; the mpmath ratio along the ray falls at the proved rate."""
    I3 = np.array([[Fr(int(i == j)) for j in range(3)] for i in range(3)], dtype=object)
    X = np.array([[[Fr(0)] * 3, [Fr(c) for c in row]] for row in ((1, 0, 1), (-1, 0, 1), (0, 1, 1))], dtype=object)
    d = nb.decide_assumption_b(X, [Fr(1)] * 3, I3, [1, 1, 1], sample=False)
    r = d.b_s
    assert d.vsvm.multipliers[2] == 0 and d.vsvm.support == [0, 1, 2]
    assert r.verdict == "fails" and r.certificate["tilt"] is not None and r.certificate["slow_sequence"] == 2
    assert not r.search["convexity"]["proved"]
    rate = float(Fr(r.certificate["rate"]))
    assert rate > 0 and r.cross_check["observed_log_slope"] == pytest.approx(-rate, rel=0.05)


def test_inconclusive_reports_nu_hat_search_and_budget():
    """joint-tight with a vertex budget too small for the convexity certificate (8 token choices > 4): no proof,
    no disproof (B holds there), so inconclusive with the sampled nu_hat, what was searched and the budget."""
    budget = nb.Budget(max_vertices=4, n_random=4, local_starts=0)
    d = nb.decide_assumption_b(X_TIGHT_EXACT, Y_EXACT, EYE, [1, 1, 1], budget=budget)
    r = d.b_s
    assert r.verdict == "inconclusive" and "no certificate within the budget" in r.summary
    assert 0 < r.nu_hat <= 1 and r.p_worst is not None
    assert "exceed the budget" in r.search["convexity"]["reason"] and r.search["rays"]["accepted"] == 0
    assert d.budget.max_vertices == 4 and d.estimate["samples"] == 4 * 7      # 4 random directions x 7 norms


def test_ray_budget_is_a_count():
    d = decide(tokens((Fr(1, 2), Fr(3, 2))), budget=nb.Budget(ray_lps=0))
    assert d.b_n.verdict == "inconclusive" and d.b_n.search["rays"]["budget_exhausted"]
    assert d.b_n.search["rays"]["lps"] == 0


def test_sampled_value_below_the_certificate_is_rechecked(monkeypatch):
    """A float sample below nu is re-evaluated in mpmath before anything is concluded (here at p = 0, where the
    ratio is 1 by hand on joint-tight: z_i = x_{i,1}/2, margin 1/2, max_i (1 - s_i) = 1/2)."""
    fake = {"nu_hat": 0.01, "p_worst": [0.0, 0.0], "nu_hat_S": 0.01, "p_worst_S": [0.0, 0.0], "samples": 1,
            "local_searches": []}
    monkeypatch.setattr(nb, "estimate_nu", lambda *a, **k: fake)
    d = nb.decide_assumption_b(X_TIGHT_EXACT, Y_EXACT, EYE, [1, 1, 1])
    assert d.b_s.verdict == "holds" and d.b_s.nu_hat == pytest.approx(1.0, rel=1e-12)


def test_a_proof_and_a_disproof_together_are_reported_as_a_defect(monkeypatch):
    """If a (broken) search returned a ray accepted for B[S] on joint-relaxed, where the convexity certificate proves
    B[S], the reading must say so instead of choosing one."""
    from attnsvm.numeric import assumption_b_search as search

    real = search.find_rays

    def broken(keys, vs, reading, **kw):
        out = real(keys, vs, list(range(3)), **kw)          # the B[n] ray, passed off as a B[S] one
        return out

    monkeypatch.setattr(search, "find_rays", broken)
    d = decide(tokens((Fr(1, 2), Fr(3, 2))))
    assert d.b_s.verdict == "inconclusive" and "defect" in d.b_s.summary


def test_cross_check_rejects_a_ray_whose_ratio_does_not_vanish():
    """A forged certificate claiming rate 1/2 along p = a (1, 0) on joint-tight (where the rates tie and the ratio
    tends to 2/3): the mpmath evaluation along the ray must not call it consistent."""
    from attnsvm.numeric import assumption_b_search as search
    from attnsvm.symbolic import assumption_b as sab

    forged = sab.RayCertificate(reading=[0, 1, 2], u=[Fr(1), Fr(0)], p0=[Fr(0), Fr(0)], accepted=True,
                                rate_numerator=Fr(1), rate_denominator=Fr(1, 2), slow_sequence=2, sequences=[])

    def ratio_at(p, dps):
        return nb.mp_ratio(p, X_TIGHT_EXACT, Y_EXACT, X_TIGHT_EXACT, [1, 1, 1], Fr(1), [0, 1, 2], dps)

    cross = search.ray_cross_check(ratio_at, X_TIGHT, forged)
    assert not cross["consistent"]
    assert cross["points"][-1]["ratio"] == pytest.approx(2 / 3, rel=1e-6)
