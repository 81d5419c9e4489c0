"""symbolic.assumption_b: each certificate condition against hand-computed cases, and each one's rejection.

Data used throughout (W = I, so keys = tokens, d_it = x_{i,1} - x_{i,0} = x_{i,1} since x_{i,0} = 0):
joint-relaxed  x_{0,1} = (1, 1), Y_0 = +1;  x_{1,1} = (1, -1), Y_1 = -1;  x_{2,1} = (1/2, 3/2), Y_2 = +1;
  alpha = (1, 1, 1).
  v(alpha) = (0, 1), Gamma = 1, c_{i,1} = (1, 1, 3/2), c_{i,0} = 0, S = {0, 1}, multipliers (1/2, 1/2, 0).
joint-tight    the same with x_{2,1} = (1/2, 1): c_{2,1} = 1, S = {0, 1, 2}.
"""
import math
from fractions import Fraction as Fr

import numpy as np
import pytest

from attnsvm.numeric import MarginSolver
from attnsvm.numeric.attention import attention_state
from attnsvm.numeric.joint import mixed_features
from attnsvm.symbolic import assumption_b as sab


def data(x2, Y=(1, -1, 1)):
    X = np.array([[[0, 0], [1, 1]], [[0, 0], [1, -1]], [[0, 0], list(x2)]], dtype=object)
    X = np.vectorize(Fr, otypes=[object])(X)
    return X, [Fr(y) for y in Y]


RELAXED = data((Fr(1, 2), Fr(3, 2)))
TIGHT = data((Fr(1, 2), 1))
ALPHA = [1, 1, 1]


def vsvm(ds):
    return sab.exact_v_svm(ds[0], ds[1], ALPHA, [0, 1])


def test_sqrt_bounds_bracket_exactly():
    lo, hi = sab.sqrt_bounds(Fr(2))
    assert lo * lo <= 2 <= hi * hi and hi - lo <= Fr(1, 2 ** 79)
    assert sab.round_down(Fr(1, 3)) == Fr(333333, 10 ** 6)


def test_exact_v_svm_of_joint_relaxed():
    vs = vsvm(RELAXED)
    assert vs.v == [0, 1] and vs.norm_sq == 1 and vs.support == [0, 1]
    assert vs.multipliers == [Fr(1, 2), Fr(1, 2), 0]
    assert list(vs.scores[:, 1]) == [1, 1, Fr(3, 2)] and list(vs.scores[:, 0]) == [0, 0, 0]
    assert vsvm(TIGHT).support == [0, 1, 2]


# -- convexity ----------------------------------------------------------------------------------------------

def test_convexity_b_s_on_joint_relaxed_hand_value():
    """lambda = (1/2, 1/2, 0). Token choices on S = {0, 1}: (0, 0) -> w = 0; (0, 1) -> (-1/2, 1/2);
    (1, 0) -> (1/2, 1/2); (1, 1) = alpha -> (0, 1), norm Gamma. So nu = 1 - 1/sqrt(2) (rounded down to 6 digits)."""
    vs = vsvm(RELAXED)
    cert = sab.convexity_certificate(*RELAXED, vs, [0, 1], vs.dual_point())
    assert cert.proved and cert.vertices == 4 and cert.worst_norm_sq == Fr(1, 2)
    assert cert.nu == Fr(292893, 10 ** 6)
    assert 0 < 1 - 1 / math.sqrt(2) - float(cert.nu) < 1e-6


def brute_force_worst(ds, lam, I):
    """max ||sum_i lambda_i Y_i x_{i,tau_i}||^2 over every tau in {0,1}^3 with tau_I != alpha_I, in floats."""
    X, Y = ds
    best = -1.0
    for tau in np.ndindex(2, 2, 2):
        if all(tau[i] == ALPHA[i] for i in I):
            continue
        w = sum(float(lam[i]) * float(Y[i]) * np.array(X[i, tau[i]], float) for i in range(3))
        best = max(best, float(w @ w))
    return best


def test_convexity_checks_every_vertex_on_joint_tight():
    """Hand dual point lambda = (1/4, 5/12, 1/3) on the dual face (sum lambda_i a_i = (1/4 - 5/12 + 1/6, 1) = (0, 1)),
    a_i = Y_i x_{i,1}, token 0 contributing 0. The choices with two alpha tokens give (-1/6, 2/3) (17/36),
    (5/12, 7/12) (74/144) and, worst, tau = (0, 1, 1): (5/12)(-1, 1) + (1/3)(1/2, 1) = (-1/4, 3/4), norm^2 10/16;
    one alpha token or none give less. So nu = 1 - sqrt(10)/4; the float brute force over all 7 agrees."""
    vs = vsvm(TIGHT)
    lam = [Fr(1, 4), Fr(5, 12), Fr(1, 3)]
    cert = sab.convexity_certificate(*TIGHT, vs, [0, 1, 2], lam)
    assert cert.vertices == 8                                    # every token choice, none skipped
    assert float(cert.worst_norm_sq) == pytest.approx(brute_force_worst(TIGHT, lam, [0, 1, 2]), rel=1e-15)
    assert cert.worst_norm_sq == Fr(10, 16) and cert.worst_vertex == [0, 1, 1]
    assert cert.proved and 0 < 1 - math.sqrt(10) / 4 - float(cert.nu) < 1e-6


def test_convexity_rejects_a_dual_point_off_the_face():
    """lambda = (1/3, 1/3, 1/3) is in the simplex but w_alpha = (1/6, 7/6) is longer than Gamma = 1: the bound
    margin <= ||w|| then says nothing, and the inner check must refuse (the outer choices alone would pass)."""
    vs = vsvm(RELAXED)
    cert = sab.convexity_certificate(*RELAXED, vs, [0, 1], [Fr(1, 3)] * 3)
    assert not cert.checks["inner_vertices_within_gamma"] and cert.checks["outer_vertices_nu_positive"]
    assert not cert.proved and cert.nu is None


def test_convexity_rejects_weights_outside_the_simplex():
    vs = vsvm(RELAXED)
    cert = sab.convexity_certificate(*RELAXED, vs, [0, 1], [Fr(2, 5), Fr(2, 5), 0])
    assert not cert.checks["lambda_in_simplex"] and not cert.proved


def test_convexity_cannot_prove_b_n_when_s_is_not_every_sequence():
    """Choice (1, 1, 0): alpha on S, sequence 2 off alpha, w = w_alpha: ||w||^2 = Gamma^2 = 1, so nu <= 0."""
    vs = vsvm(RELAXED)
    cert = sab.convexity_certificate(*RELAXED, vs, [0, 1, 2], vs.dual_point())
    assert not cert.proved and cert.worst_norm_sq == 1 and cert.worst_vertex == [1, 1, 0]


@pytest.mark.parametrize("ds,I", [(TIGHT, [0, 1, 2]), (RELAXED, [0, 1])])
def test_convexity_nu_is_sound_on_samples(ds, I):
    """margin(p) <= Gamma - nu max_{i in I} (1 - s_i,alpha_i(p)) at random p (float margin, tolerance 1e-7)."""
    vs = vsvm(ds)
    lam = vs.dual_point() if ds is RELAXED else [Fr(1, 4), Fr(5, 12), Fr(1, 3)]
    cert = sab.convexity_certificate(*ds, vs, I, lam)
    X = np.array(ds[0], float)
    Y = np.array(ds[1], float)
    ms = MarginSolver(3, 2)
    rng = np.random.default_rng(3)
    for _ in range(40):
        p = rng.standard_normal(2) * 10 ** rng.uniform(-1, 1.3)
        st = attention_state(p, X, np.zeros((3, 2)))
        m, _ = ms(mixed_features(X, st), Y)
        h = max(1 - st.s[i, 1] for i in I)
        assert m <= 1 - float(cert.nu) * h + 1e-7


def test_convexity_takes_the_worst_outer_choice_when_it_is_every_non_alpha_token():
    """Token 0 of the two sequences replaced: Y_0 x_{0,0} = Y_1 x_{1,0} = (0, -9/10) (so x_{0,0} = (0, -9/10),
    x_{1,0} = (0, 9/10)); alpha tokens as in joint-relaxed, so v = (0, 1), Gamma = 1, lambda = (1/2, 1/2). Outer
    choices over I = {0, 1}: tau = (0, 0) -> w = (0, -9/10), norm^2 81/100; (0, 1) -> (-1/2, 1/20) and
    (1, 0) -> (1/2, 1/20), norm^2 101/400 each. The worst is tau = (0, 0): nu <= 1 - 9/10 = 1/10. At
    p = (-30, 0) both sequences attend to token 0 (logit gap 30), the margin is ~ 9/10 with h ~ 1, so any
    nu above ~1/10 would be contradicted there (float margin)."""
    X = np.array([[[0, Fr(-9, 10)], [1, 1]], [[0, Fr(9, 10)], [1, -1]]], dtype=object)
    X = np.vectorize(Fr, otypes=[object])(X)
    Y = [Fr(1), Fr(-1)]
    vs = sab.exact_v_svm(X, Y, [1, 1], [0, 1])
    assert vs.v == [0, 1] and vs.norm_sq == 1
    cert = sab.convexity_certificate(X, Y, vs, [0, 1], vs.dual_point())
    assert cert.proved and cert.worst_vertex == [0, 0] and cert.worst_norm_sq == Fr(81, 100)
    assert 0 < Fr(1, 10) - cert.nu <= Fr(1, 10 ** 6)
    Xf = np.array(X, float)
    st = attention_state(np.array([-30.0, 0.0]), Xf, np.zeros((2, 2)))
    m, _ = MarginSolver(2, 2)(mixed_features(Xf, st), np.array([1.0, -1.0]))
    h = max(1 - st.s[i, 1] for i in (0, 1))
    assert m == pytest.approx(0.9, abs=1e-6) and m <= 1 - float(cert.nu) * h + 1e-7


def test_convexity_rejects_a_negative_weight_on_the_face_s_affine_hull():
    """lambda = (3/4, 7/12, -1/3) sums to 1 and gives sum_i lambda_i a_i = (3/4 - 7/12 - 1/6, 3/4 + 7/12 - 1/3)
    = (0, 1) = v/||v||^2 on joint-tight, but a negative weight breaks weak duality (min_i <= sum_i lambda_i ...
    needs lambda >= 0): the simplex condition must refuse it."""
    vs = vsvm(TIGHT)
    cert = sab.convexity_certificate(*TIGHT, vs, [0, 1, 2], [Fr(3, 4), Fr(7, 12), Fr(-1, 3)])
    assert cert.checks["lambda_in_simplex"] is False
    assert not cert.proved and cert.nu is None and "simplex" in cert.reason


def test_dual_face_projection_is_exact():
    vs = vsvm(TIGHT)
    lam = sab.project_to_dual_face(*TIGHT, vs, [0.25 + 1e-10, 5 / 12, 1 / 3])
    assert lam is not None and sum(lam) == 1
    assert [sum(lam[i] * TIGHT[1][i] * TIGHT[0][i, 1, c] for i in range(3)) for c in range(2)] == [0, 1]


# -- domination -----------------------------------------------------------------------------------------------

def keys(ds):
    return ds[0]          # W = I


def test_domination_with_a_doubled_gap():
    """x_{2,1} = (2, 2): d_{2,0} = 2 d_{0,0}, mu = 2 >= 1: sequence 2 concentrates twice as fast as sequence 0."""
    ds = data((2, 2))
    cert = sab.domination_certificate(keys(ds), ALPHA, [0, 1], {(2, 0): {(0, 0): Fr(2)}})
    assert cert.proved and cert.constant == 2


@pytest.mark.parametrize("x2,combo,failed", [
    ((Fr(3, 2), Fr(5, 2)), {(0, 0): Fr(2), (1, 0): Fr(-1, 2)}, "nonnegative"),   # (3/2, 5/2) = 2 (1,1) - 1/2 (1,-1)
    ((Fr(1, 2), Fr(1, 2)), {(0, 0): Fr(1, 2)}, "sum_at_least_one"),               # half the gap: slower
    ((Fr(1, 2), Fr(3, 2)), {(0, 0): Fr(1)}, "represents"),                         # (1, 1) != (1/2, 3/2)
])
def test_domination_rejects_each_broken_condition(x2, combo, failed):
    ds = data(x2)
    cert = sab.domination_certificate(keys(ds), ALPHA, [0, 1], {(2, 0): combo})
    assert not cert.proved and cert.checks[failed] is False


def test_domination_rejects_terms_of_non_support_sequences():
    """d_{2,0} = 1 d_{2,0} is a non-negative combination with sum 1, but of sequence 2's own gap: sequence 2 is
    not in S = {0, 1}, so it bounds nothing by h_S."""
    cert = sab.domination_certificate(keys(RELAXED), ALPHA, [0, 1], {(2, 0): {(2, 0): Fr(1)}})
    assert not cert.proved and cert.checks["support_terms_only"] is False
    assert cert.checks["represents"] and cert.checks["nonnegative"] and cert.checks["sum_at_least_one"]


def test_domination_needs_every_pair():
    cert = sab.domination_certificate(keys(RELAXED), ALPHA, [0, 1], {})
    assert not cert.proved and not cert.checks["every_pair_covered"]


def test_exact_conic_combination():
    cols = [[Fr(1), Fr(1)], [Fr(1), Fr(-1)]]
    assert sab.exact_conic_combination(cols, [Fr(1, 2), Fr(3, 2)], [0, 1]) == {0: 1, 1: Fr(-1, 2)}
    assert sab.exact_conic_combination(cols, [Fr(1, 2), Fr(3, 2)], [0]) is None


# -- rays -----------------------------------------------------------------------------------------------------

def ray(ds, I, u, p0=None):
    vs = vsvm(ds)
    return sab.ray_certificate(keys(ds), vs.scores, ALPHA, I, u, p0)


def test_ray_disproves_b_n_on_joint_relaxed():
    """p = a (1, 0): gaps 1, 1, 1/2. Support sequences lose e^-a (numerator rate 1); sequence 2 (c = 3/2 > 1,
    limit term 1 - 3/2 < 0) loses e^-a/2 (denominator rate 1/2): ratio -> 0 at rate 1/2."""
    cert = ray(RELAXED, [0, 1, 2], [1, 0])
    assert cert.accepted
    assert (cert.rate_numerator, cert.rate_denominator, cert.rate, cert.slow_sequence) == (1, Fr(1, 2), Fr(1, 2), 2)
    assert [s["limit"] for s in cert.sequences] == ["zero", "zero", "negative"]


def test_same_ray_does_not_disprove_b_s():
    """Over S the slowest denominator is a support sequence's own e^-a: equal rates, the ratio stays bounded."""
    cert = ray(RELAXED, [0, 1], [1, 0])
    assert not cert.accepted and not cert.checks["rate_gap_positive"]
    assert cert.rate_numerator == cert.rate_denominator == 1


def test_equal_rates_are_rejected_on_joint_tight():
    """p = a (1, 0) on joint-tight: sequence 2 is a support sequence with gap 1/2 in both terms (rate 0)."""
    cert = ray(TIGHT, [0, 1, 2], [1, 0])
    assert not cert.accepted and cert.rate_numerator == cert.rate_denominator == Fr(1, 2)


def test_the_tie_ray_through_the_origin_is_rejected():
    """p = a (3, -1) (the direction (a, -a/3)): sequence 2 ties (gap 1/2 * 3 - 3/2 = 0); at p0 = 0 its limit is
    half on each token, score (0 + 3/2)/2 = 3/4 < Gamma: the limit term 1 - 3/4 > 0 and the ratio tends to a
    positive constant, so the ray must be rejected on the sign of that leading coefficient."""
    cert = ray(RELAXED, [0, 1, 2], [3, -1])
    assert not cert.accepted and cert.sequences[2]["limit"] == "positive"
    assert cert.sequences[2]["limit_value"] == "1/2"           # (1 - 0) + (1 - 3/2), unnormalised


@pytest.mark.parametrize("p0,accepted", [([0, Fr(1, 2)], True), ([0, Fr(2, 5)], False)])
def test_tie_ray_with_an_offset_uses_interval_arithmetic(p0, accepted):
    """p = a (3, -1) + p0: sequence 2's weight on alpha is e^{(3/2) p0_2} against 1, so its limit term
    1 - 0 + e^{(3/2) p0_2} (1 - 3/2) is < 0 iff (3/2) p0_2 > ln 2: p0_2 = 1/2 gives 0.75 > 0.693 (accepted, rates
    2 and 0), p0_2 = 2/5 gives 0.6 < 0.693 (rejected). Only the interval enclosure of e^0.75 decides."""
    cert = ray(RELAXED, [0, 1, 2], [3, -1], p0)
    assert cert.accepted is accepted
    assert "[" in cert.sequences[2]["limit_value"]             # an interval, not an exact rational
    if accepted:
        assert (cert.rate_numerator, cert.rate_denominator) == (2, 0)


def test_tie_ray_with_an_undecided_limit_sign_is_rejected():
    """As above with p0_2 = 231049/500000: (3/2) p0_2 = 0.693147 < ln 2 = 0.69314718..., so the limit term
    1 - e^{0.693147}/2 is positive but only ~1.8e-7. At 5 digits the interval encloses 0: the sign is undecided,
    and an undecided limit must not count as negative (at 30 digits it is decided positive: rejected too)."""
    vs = vsvm(RELAXED)
    for dps, limit in ((5, "undecided"), (30, "positive")):
        cert = sab.ray_certificate(keys(RELAXED), vs.scores, ALPHA, [0, 1, 2], [3, -1], [0, Fr(231049, 500000)],
                                   dps=dps)
        assert not cert.accepted and cert.sequences[2]["limit"] == limit
        assert not cert.checks["limits_classified"]


def test_support_tie_with_a_lower_token_is_rejected():
    """p = a (1, -1) on joint-tight: sequence 0 ties alpha (c = 1) with token 0 (c = 0 < 1): positive limit."""
    cert = ray(TIGHT, [0, 1, 2], [1, -1])
    assert not cert.accepted and cert.sequences[0]["limit"] == "positive"


def test_tilted_ray_for_a_zero_multiplier_support_sequence():
    """d = 3, W = I: a_0 = (1,0,1), a_1 = (-1,0,1), a_2 = (0,1,1) (token 0 = 0 everywhere), v = (0,0,1), all tight,
    multipliers (1/2, 1/2, 0). Ray u = (0, -1/4, 1): gaps 1, 1, 3/4, so without tilt the rates tie (3/4 = 3/4).
    With g = (0, 1, 0): T = {2}, rho_eta = (3/4)(3/4) = 9/16, sequence 2 contributes 2 rho_eta = 9/8, sequences 0, 1
    min(1, 9/16 + 1, 9/8) = 1: rho_num = 1 > rho_den = 3/4."""
    X = np.array([[[Fr(0)] * 3, [Fr(c) for c in row]] for row in ((1, 0, 1), (-1, 0, 1), (0, 1, 1))], dtype=object)
    vs = sab.exact_v_svm(X, [Fr(1)] * 3, [1, 1, 1], [0, 1, 2])
    rows = X[:, 1, :]
    u = [0, Fr(-1, 4), 1]
    plain = sab.ray_certificate(X, vs.scores, [1, 1, 1], [0, 1, 2], u)
    assert not plain.accepted and plain.rate_numerator == plain.rate_denominator == Fr(3, 4)
    cert = sab.ray_certificate(X, vs.scores, [1, 1, 1], [0, 1, 2], u, tilt=[0, 1, 0], rows=rows, v=vs.v)
    assert cert.accepted and (cert.rate_numerator, cert.rate_denominator) == (1, Fr(3, 4))
    assert cert.tilt["rho_eta"] == "9/16" and cert.tilt["tilted"] == [2]
    # gaps 4, 4, 1 (u = (0, -3, 4)): rho_eta = 3/4 and the eta^2 term of the tilt, 2 rho_eta = 3/2, binds
    fast = sab.ray_certificate(X, vs.scores, [1, 1, 1], [0, 1, 2], [0, -3, 4], tilt=[0, 1, 0], rows=rows, v=vs.v)
    assert fast.accepted and (fast.rate_numerator, fast.rate_denominator) == (Fr(3, 2), 1)
    bad = {"tilt_orthogonal_to_v": [0, 1, Fr(1, 10)], "tilt_nonnegative_on_support": [Fr(1, 10), 1, 0]}
    for failed, g in bad.items():
        c = sab.ray_certificate(X, vs.scores, [1, 1, 1], [0, 1, 2], u, tilt=g, rows=rows, v=vs.v)
        assert not c.accepted and c.checks[failed] is False


# -- points ---------------------------------------------------------------------------------------------------

def test_point_certificate_where_the_margin_exceeds_gamma():
    """One sequence, x_alpha = (1, 0), other token (1/2, 5), v(alpha) = (1, 0), Gamma = 1. At p = 0,
    z = (3/4, 5/2) and w = z gives margin >= ||z|| = 2.61 > 1."""
    X = np.array([[[Fr(1), Fr(0)], [Fr(1, 2), Fr(5)]]], dtype=object)
    cert = sab.point_certificate(X, X, [Fr(1)], Fr(1), [0, 0], [Fr(3, 4), Fr(5, 2)])
    assert cert.proved


def test_point_certificate_normalises_w():
    """joint-tight at p = 0, w = (0, 10): min_i Y_i w^T z_i = 5 but Gamma ||w|| = 10, so margin >= 1/2 only."""
    cert = sab.point_certificate(TIGHT[0], *TIGHT, Fr(1), [0, 0], [0, 10])
    assert not cert.proved
    assert float(cert.min_lower) == pytest.approx(5) and float(cert.gamma_norm_upper) == pytest.approx(10)


def test_point_certificate_takes_the_minimum_over_sequences():
    """Two sequences (Y = +1, W = I): tokens (4, 0), (1, 0) and (0, 0), (1, 0), alpha = token 1, so v = (1, 0),
    Gamma = 1. At p = 0, z_0 = (5/2, 0) and z_1 = (1/2, 0): with w = (1, 0) the first sequence scores 5/2 > Gamma
    but the second 1/2 < Gamma ||w|| = 1, so min_i Y_i w^T z_i = 1/2 proves nothing."""
    X = np.vectorize(Fr, otypes=[object])(np.array([[[4, 0], [1, 0]], [[0, 0], [1, 0]]], dtype=object))
    vs = sab.exact_v_svm(X, [Fr(1), Fr(1)], [1, 1], [0, 1])
    assert vs.v == [1, 0] and vs.gamma_sq == 1
    cert = sab.point_certificate(X, X, [Fr(1), Fr(1)], vs.gamma_sq, [0, 0], [1, 0])
    assert not cert.proved
    assert float(cert.min_lower) == pytest.approx(0.5) and float(cert.gamma_norm_upper) == pytest.approx(1)
