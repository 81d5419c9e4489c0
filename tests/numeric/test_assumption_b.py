"""numeric.assumption_b: the margin SOCP, the ratio at hand-computable points, the mpmath branch."""
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


def test_convexity_certificate_on_joint_tight_is_a_valid_bound():
    """The certificate's nu must satisfy margin(p) <= Gamma - nu max_i (1 - s_i) at every p (checked on samples
    with the SOCP margin), and be at least what the hand-picked dual point lambda = (1/4, 5/12, 1/3) gives:
    its worst vertex keeps sequences 1, 2: ||(-1/4, 3/4)|| = sqrt(10)/4, so nu >= 1 - sqrt(10)/4."""
    cert = nb.convexity_certificate(X_TIGHT_EXACT, [1, -1, 1], [1, 1, 1], basis=[0, 1])
    assert cert["proved"]
    nu = float(cert["nu_cert"])
    assert 1 - math.sqrt(10) / 4 <= nu <= 0.5 + 1e-9       # 0.5: the sampled estimate bounds it from above
    ms = nb.MarginSolver(3, 2)
    rng = np.random.default_rng(5)
    for _ in range(40):
        p = rng.standard_normal(2) * 10 ** rng.uniform(-1, 1.3)
        st_, oms = evaluator().denominators(p)
        from attnsvm.numeric.joint import mixed_features
        m, _ = ms(mixed_features(X_TIGHT, st_), Y)
        assert m <= 1 - nu * float(np.max(oms)) + 1e-7


def test_convexity_certificate_cannot_prove_joint_relaxed():
    Xe = X_TIGHT_EXACT.copy()
    Xe[2, 1] = [Fr(1, 2), Fr(3, 2)]
    cert = nb.convexity_certificate(Xe, [1, -1, 1], [1, 1, 1], basis=[0, 1])
    assert not cert["proved"] and cert["nu_cert"] == 0
