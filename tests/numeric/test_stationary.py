"""Finite stationary points of the attention loss: Newton in float64 and the Krawczyk certificate
(numeric/stationary.py), on datasets built to have (or to lack) one, with independent references: torch
autograd for the float64 Hessian, the mpmath engine (numeric/mp_attention.py) with central differences for
the interval gradient and Hessian, closed forms where the stationary point is known exactly."""
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import torch
from flint import arb, arb_mat, ctx
from mpmath import iv

from attnsvm import numeric
from attnsvm.numeric import (CORRELATION, EXPONENTIAL, LOGISTIC, IntervalAttention, StableAttention,
                             certified_inertia, certify_stationary_point, descent_certificate, find_stationary_point,
                             mp_gradient)
from attnsvm.numeric.interval_attention import arb_endpoints, loss_derivatives
from attnsvm.numeric.stationary import hessian

exact = np.vectorize(Fraction, otypes=[object])


# -- datasets ------------------------------------------------------------------------------------------------

def conflicting_three():
    """Prompt model (Phi = keys), n = 3, T = 2, D = 2: token 0 at the origin, token 1 (the optimal one) at
    delta_1 = (1, 0), delta_2 = (-1, 2), delta_3 = (-1, -1) with scores (0, 3), (0, 2), (1/2, 4).

    3 delta_1 + delta_2 + 2 delta_3 = 0, so no p has <p, delta_i> >= 1 for all i: the optimal tokens' p-SVM is
    infeasible, and in every direction w some <w, delta_i> < 0 (the deltas span R^2), i.e. some sequence's
    attention falls on its worse token as ||p|| grows. With u_i = gamma_i0 + sigma(<p, delta_i>) (gamma_i1 -
    gamma_i0) and l logistic: far out L(p) tends to at least (1/3) min over the sequence that loses of
    [l(its gamma_0) + l(the others' gamma_1)] = (1/3) (l(1/2) + l(3) + l(2)) ~ 0.2166 (checked in
    test_conflicting_sequences_have_a_finite_minimiser), above L(0) ~ 0.2049: L has a finite global minimiser.
    (L is not coercive: from far starts such as (3, -3) it decreases along paths to infinity, towards limits
    above min L, and Newton with L as merit follows them.)"""
    phi = exact(np.array([[[0, 0], [1, 0]], [[0, 0], [-1, 2]], [[0, 0], [-1, -1]]]))
    gamma = np.array([[Fraction(0), Fraction(3)], [Fraction(0), Fraction(2)], [Fraction(1, 2), Fraction(4)]],
                     dtype=object)
    return phi, gamma


def saddle_pair():
    """n = 3, T = 3, D = 2, with x_1 = <p, (2, 1)> and x_2 = <p, (1, 1)> as coordinates.

    Sequences 1 and 2: tokens (0, delta_1, 0) and (0, -delta_1, 0), scores (0, 4, 0): they contribute
    f(x_1) = l(4 e^x/(2 + e^x)) + l(4 e^-x/(2 + e^-x)), even, so f'(0) = 0. Sequence 3: tokens -delta_2, 0,
    2 delta_2 with scores (1, 0, 1): u = 1 - 1/(e^-x + 1 + e^2x) is smallest where e^-x + e^2x is, at
    x_2 = -ln(2)/3, so l(u) has its maximum there. L = (f(x_1) + l(u(x_2)))/3 is stationary at x = (0, -ln2/3),
    i.e. p* = (ln2/3, -2 ln2/3): a saddle when f''(0) > 0 (the certificate decides the inertia)."""
    d1, d2, z = np.array([2, 1]), np.array([1, 1]), np.zeros(2, dtype=int)
    phi = exact(np.array([[z, d1, z], [z, -d1, z], [-d2, z, 2 * d2]]))
    gamma = exact(np.array([[0, 4, 0], [0, 4, 0], [1, 0, 1]]))
    return phi, gamma


def saddle_point(dps=60):
    """p* = (ln2/3, -2 ln2/3) at ``dps`` digits."""
    with mpmath.workdps(dps):
        return [mpmath.log(2) / 3, -2 * mpmath.log(2) / 3]


def equal_scores():
    """Negative control, the data condition of the first paper's global theorem: within each sequence every
    non-optimal token has the same score. Keys (2, 0), (0, 1), (0, -1) with scores (1, 0, 0) and (1, 1),
    (-1, 0), (0, -2) with scores (1, 1/2, 1/2). The optimal tokens' p-SVM is feasible, with
    p_mm = (4/7, 1/7) (active constraints (2, -1) and (1, 3), multipliers 11/49 and 6/49 >= 0; the third
    distinct constraint (2, 1) gives 9/7 >= 1). The descent lemma then says <grad L(p), p_mm> < 0 for every
    finite p: grad L never vanishes, so there is no finite stationary point."""
    phi = exact(np.array([[[2, 0], [0, 1], [0, -1]], [[1, 1], [-1, 0], [0, -2]]]))
    gamma = np.array([[Fraction(1), Fraction(0), Fraction(0)], [Fraction(1), Fraction(1, 2), Fraction(1, 2)]],
                     dtype=object)
    return phi, gamma, [Fraction(4, 7), Fraction(1, 7)]


EMBED = np.array([[1, 0], [Fraction(1, 2), 1], [1, -1]], dtype=object)     # R^2 -> R^3, full column rank


def flat_prompt():
    """conflicting_three with keys A k (A = EMBED, 3 x 2): the features span a plane of R^3, so L(p) = L_2(A^T p)
    is constant along ker A^T (one flat direction) and the stationary points form the line A^T p = p*_2."""
    phi, gamma = conflicting_three()
    return np.einsum("ab,itb->ita", EMBED, phi), gamma


def flat_cross():
    """Cross-attention W model with every query z = (1, 1/2) and the keys of conflicting_three:
    Phi_it = vec(x_it z^T) (D = 4), logits x_it^T W z, so L(W) = L_2(W z): stationary set W z = p*_2
    (two flat directions)."""
    phi, gamma = conflicting_three()
    Z = np.array([[Fraction(1), Fraction(1, 2)]] * 3, dtype=object)
    return numeric.w_features(phi, Z), gamma


# -- independent references --------------------------------------------------------------------------------

def mp_hessian(theta, phi, gamma, loss, dps=60, h="1e-20"):
    """Central differences of the mpmath gradient (numeric.mp_gradient), error O(h^2) = 1e-40."""
    with mpmath.workdps(dps):
        th = [mpmath.mpf(x) if not isinstance(x, Fraction) else mpmath.mpf(x.numerator) / x.denominator
              for x in theta]
        hh = mpmath.mpf(h)
        cols = []
        for j in range(len(th)):
            up = list(th)
            dn = list(th)
            up[j] += hh
            dn[j] -= hh
            gu = mp_gradient(up, phi, gamma, loss, dps=dps)
            gd = mp_gradient(dn, phi, gamma, loss, dps=dps)
            cols.append([(a - b) / (2 * hh) for a, b in zip(gu, gd)])
        return mpmath.matrix([[cols[j][i] for j in range(len(th))] for i in range(len(th))])


def mp_newton(theta, phi, gamma, loss, dps=60, steps=8):
    """Newton on grad L = 0 with mp_gradient and the central-difference Hessian (no code shared with the
    certificate)."""
    with mpmath.workdps(dps):
        x = [mpmath.mpf(float(v)) for v in theta]
        for _ in range(steps):
            g = mpmath.matrix(list(mp_gradient(x, phi, gamma, loss, dps=dps)))
            dx = mpmath.lu_solve(mp_hessian(x, phi, gamma, loss, dps=dps), g)
            x = [a - b for a, b in zip(x, dx)]
        return x, max(abs(v) for v in mp_gradient(x, phi, gamma, loss, dps=dps))


def torch_hessian(theta, phi, gamma, name):
    """Hess L by torch autograd of the textbook loss mean_i l(softmax(Phi_i theta) . gamma_i)."""
    P, G = torch.tensor(phi, dtype=torch.float64), torch.tensor(gamma, dtype=torch.float64)
    ell = {"logistic": lambda u: torch.nn.functional.softplus(-u), "exponential": lambda u: torch.exp(-u),
           "correlation": lambda u: -u}[name]

    def L(th):
        s = torch.softmax(P @ th, dim=1)
        return ell((s * G).sum(dim=1)).mean()
    return torch.autograd.functional.hessian(L, torch.tensor(theta, dtype=torch.float64)).numpy()


def random_problem(seed, n=3, T=4, D=3, scale=1.0):
    rng = np.random.default_rng(seed)
    phi = rng.integers(-8, 9, size=(n, T, D)) / 4
    gamma = rng.integers(-6, 7, size=(n, T)) / 3
    theta = rng.normal(size=D) * scale
    return phi, gamma, theta


def contains(ball, value, slack=0.0):
    lo, hi = arb_endpoints(ball)
    v = Fraction(mpmath.nstr(value, 70)) if isinstance(value, mpmath.mpf) else Fraction(value)
    return lo - Fraction(slack) <= v <= hi + Fraction(slack)


# -- the float64 Hessian -------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("loss", [LOGISTIC, EXPONENTIAL, CORRELATION])
def test_hessian_matches_torch_autograd(seed, loss):
    phi, gamma, theta = random_problem(seed, scale=0.7)
    H = hessian(theta, phi, gamma, loss)
    ref = torch_hessian(theta, phi, gamma, loss.name)
    assert np.allclose(H, ref, rtol=1e-10, atol=1e-12), (H, ref)
    assert np.allclose(H, H.T, atol=1e-14)


def test_hessian_of_an_expression_loss_matches_differences_of_the_gradient():
    phi, gamma, theta = random_problem(7)
    d = loss_derivatives("log(1 + exp(-2*u))")
    assert not d.closed_form and d.name == "expr"
    att = StableAttention(phi, gamma)
    h = 1e-6
    fd = np.array([(att.gradient(theta + h * e, d.loss) - att.gradient(theta - h * e, d.loss)) / (2 * h)
                   for e in np.eye(3)]).T
    assert np.allclose(hessian(theta, phi, gamma, d), fd, rtol=1e-7, atol=1e-9)


# -- the interval engine against mpmath ------------------------------------------------------------------------

@pytest.mark.parametrize("seed,scale,loss", [(0, 0.5, LOGISTIC), (1, 2.0, EXPONENTIAL), (2, 1.0, CORRELATION),
                                             (3, 1.0, "log(1 + exp(-2*u))"), (4, 60.0, LOGISTIC)])
def test_interval_gradient_and_hessian_contain_the_mpmath_values(seed, scale, loss):
    """At a point: the ball gradient contains mp_gradient (60 digits) and the ball Hessian the central
    differences of mp_gradient (error 1e-40), with the data as exact rationals; scale 60 puts the softmax
    tails near e^-100, where only the stable forms keep digits."""
    phi, gamma, theta = random_problem(seed, scale=scale)
    phi_q, gamma_q, theta_q = exact(phi), exact(gamma), exact(theta)
    d = loss_derivatives(loss)
    eng = IntervalAttention(phi_q, gamma_q, d)
    ref = np.argmax(phi @ theta, axis=1)
    g_mp = mp_gradient(theta_q, phi_q, gamma_q, d.loss, dps=60)
    H_mp = mp_hessian(theta_q, phi_q, gamma_q, d.loss)
    with ctx.workprec(200):
        X = eng.box(theta_q)
        g = eng.gradient(X, ref)
        H = eng.hessian(X, ref)
        for i in range(3):
            assert contains(g[i, 0], g_mp[i], slack="1e-45")
            for j in range(3):
                assert contains(H[i, j], H_mp[i, j], slack="1e-32")
        # the float64 Hessian agrees to float precision (a separate formula: G, m instead of Theta_i)
        H64 = hessian(theta, phi, gamma, d)
        for i in range(3):
            for j in range(3):
                assert abs(float(H[i, j].mid()) - H64[i, j]) <= 1e-9 * (1 + abs(H64[i, j]))


def test_interval_hessian_over_a_box_contains_the_hessian_at_its_points():
    phi, gamma, theta = random_problem(5)
    phi_q, gamma_q = exact(phi), exact(gamma)
    eng = IntervalAttention(phi_q, gamma_q, LOGISTIC)
    ref = np.argmax(phi @ theta, axis=1)
    r = Fraction(1, 20)
    centre = exact(theta)
    rng = np.random.default_rng(0)
    with ctx.workprec(120):
        H = eng.hessian(eng.box(centre, r), ref)
        g = eng.gradient(eng.box(centre, r), ref)
        for _ in range(4):
            point = centre + exact(rng.choice([-1.0, 1.0, 0.5, -0.25], size=3)) * r
            H_mp = mp_hessian(point, phi_q, gamma_q, LOGISTIC, dps=40, h="1e-12")
            g_mp = mp_gradient(point, phi_q, gamma_q, LOGISTIC, dps=40)
            for i in range(3):
                assert contains(g[i, 0], g_mp[i])
                for j in range(3):
                    assert contains(H[i, j], H_mp[i, j], slack="1e-20")


@pytest.mark.parametrize("loss", ["logistic", "exponential", "correlation", "log(1 + exp(-2*u))",
                                  "exp(-u/2) + log(1 + exp(-u))"])
def test_loss_derivative_enclosures(loss):
    d = loss_derivatives(numeric.BUILTIN_LOSSES[loss] if loss in numeric.BUILTIN_LOSSES else loss)
    with mpmath.workdps(40), ctx.workprec(140):
        for mid in ("-3.5", "0", "0.75", "6"):
            ball = arb(mid, "0.01")
            lp, lpp = d.enclose(ball)
            for off in ("-0.01", "-0.004", "0", "0.01"):
                x = mpmath.mpf(mid) + mpmath.mpf(off)
                assert contains(lp, mpmath.diff(d.loss.mp_value, x), slack="1e-25")
                assert contains(lpp, mpmath.diff(d.loss.mp_value, x, 2), slack="1e-25")


def test_string_losses_equal_to_builtins_use_the_closed_forms():
    d = loss_derivatives("log(1 + exp(-u))")
    assert d.closed_form and d.loss is LOGISTIC
    assert loss_derivatives("exp(-u)").loss is EXPONENTIAL


# -- a finite minimiser ------------------------------------------------------------------------------------------

def test_conflicting_sequences_have_a_finite_minimiser():
    """The existence argument of conflicting_three, in numbers, then the certificate."""
    phi, gamma = conflicting_three()
    ell = LOGISTIC.mp_value
    with mpmath.workdps(30):
        far = min(ell(mpmath.mpf(0)) + ell(mpmath.mpf(2)) + ell(mpmath.mpf(4)),
                  ell(mpmath.mpf(0)) + ell(mpmath.mpf(3)) + ell(mpmath.mpf(4)),
                  ell(mpmath.mpf(0.5)) + ell(mpmath.mpf(3)) + ell(mpmath.mpf(2))) / 3
        at_zero = numeric.mp_loss_value([0, 0], phi, gamma, LOGISTIC, dps=30)
    assert at_zero < far
    # GD settles: fixed-step GD from 0, gradient falling, norm bounded
    pf, gf = phi.astype(float), gamma.astype(float)
    att = StableAttention(pf, gf)
    theta = np.zeros(2)
    norms = []
    for _ in range(3000):
        theta = theta - 4.0 * att.gradient(theta, LOGISTIC)
        norms.append(np.linalg.norm(theta))
    assert np.linalg.norm(att.gradient(theta, LOGISTIC)) < 1e-8 and max(norms) < 1.0
    res = find_stationary_point(theta, pf, gf, LOGISTIC)
    assert res.converged and res.iterations <= 5 and res.eigenvalues[0] > 0
    cert = certify_stationary_point(res.theta, phi, gamma, LOGISTIC)
    assert cert.certified, cert.reason
    assert cert.kind == "minimum" and cert.inertia == (2, 0) and cert.positive_definite_on_box
    assert cert.flat_dimension == 0 and cert.coordinates is None
    assert 0 < cert.eigenvalue_bounds[0] <= cert.eigenvalues[0] <= cert.eigenvalues[1] <= cert.eigenvalue_bounds[1]
    assert cert.krawczyk_margin > 0 and cert.contraction < 1 and cert.radius >= 1e-12
    assert cert.checks["hessian_consistent"]
    assert abs(cert.theta_norm - np.linalg.norm(res.theta)) < 1e-12 and cert.distance < 1e-12
    # an independent zero (mpmath Newton, central differences) lies in the box, 30 digits from the centre
    x, resid = mp_newton(res.theta, phi, gamma, LOGISTIC)
    assert resid < mpmath.mpf("1e-45")
    with mpmath.workdps(60):
        gap = max(abs(mpmath.mpf(c) - v) for c, v in zip(cert.centre, x))
    assert gap < mpmath.mpf("1e-35") and gap < cert.radius
    lo, hi = cert.gradient_enclosure[0]
    assert Fraction(lo) <= Fraction(hi) and abs(Fraction(hi)) < Fraction(1, 10 ** 35)
    assert set(cert.to_dict()) >= {"certified", "centre", "radius", "gradient_enclosure", "krawczyk_margin", "dps",
                                   "eigenvalues", "kind", "positive_definite_on_box", "theta_norm", "reason"}


def test_minimum_mode_descends_and_reaches_the_minimiser_from_afar():
    """mode="minimum" never increases L (float noise aside) and, from starts in the minimiser's basin, ends at the
    certified point; from (3, -3) it follows a valley to infinity and reports no convergence."""
    phi, gamma = conflicting_three()
    pf, gf = phi.astype(float), gamma.astype(float)
    target = find_stationary_point(np.zeros(2), pf, gf, LOGISTIC).theta
    for start in ([-4.0, 2.0], [-2.0, -2.0], [3.0, -3.0]):
        res = find_stationary_point(start, pf, gf, LOGISTIC)
        losses = [numeric.loss_value(np.array(start), pf, gf, LOGISTIC)] + [h["loss"] for h in res.history]
        assert all(b <= a + 1e-15 * abs(a) for a, b in zip(losses, losses[1:])), start
        if start[0] < 0:
            assert res.converged and np.allclose(res.theta, target, atol=1e-12)
        else:
            assert not res.converged and res.theta_norm > 50


def test_expression_loss_minimiser_is_certified():
    phi, gamma = conflicting_three()
    d = loss_derivatives("log(1 + exp(-2*u))")
    res = find_stationary_point(np.zeros(2), phi.astype(float), gamma.astype(float), d)
    cert = certify_stationary_point(res.theta, phi, gamma, "log(1 + exp(-2*u))", dps=30)
    assert cert.certified and cert.kind == "minimum", cert.reason
    x, _ = mp_newton(res.theta, phi, gamma, d.loss, dps=50)
    with mpmath.workdps(50):
        assert max(abs(mpmath.mpf(c) - v) for c, v in zip(cert.centre, x)) < mpmath.mpf("1e-25")


# -- a saddle ---------------------------------------------------------------------------------------------------

def test_saddle_is_certified_at_its_closed_form_location():
    phi, gamma = saddle_pair()
    pf, gf = phi.astype(float), gamma.astype(float)
    res = find_stationary_point([0.3, -0.5], pf, gf, LOGISTIC, mode="any")
    assert res.converged and res.eigenvalues[0] < 0 < res.eigenvalues[1]
    cert = certify_stationary_point(res.theta, phi, gamma, LOGISTIC)
    assert cert.certified, cert.reason
    assert cert.kind == "saddle" and cert.inertia == (1, 1) and not cert.positive_definite_on_box
    with mpmath.workdps(50):
        assert max(abs(mpmath.mpf(c) - v) for c, v in zip(cert.centre, saddle_point())) < mpmath.mpf("1e-37")
    # minimisation from the same start does not stop at the saddle
    other = find_stationary_point([0.3, -0.5], pf, gf, LOGISTIC)
    assert not (other.converged and np.allclose(other.theta, res.theta, atol=1e-3))


def test_box_that_misses_the_zero_is_not_certified():
    """Centre delta = 1e-6 away from the known saddle, no refinement, one radius: r = delta/2 leaves the zero
    outside the box and must fail; r = 2 delta holds it and passes."""
    phi, gamma = saddle_pair()
    star = saddle_point()
    with mpmath.workdps(60):
        centre = [mpmath.nstr(star[0] + mpmath.mpf("1e-6"), 40), mpmath.nstr(star[1], 40)]
    common = dict(refine_steps=0, max_tries=1, grow=0)
    miss = certify_stationary_point(centre, phi, gamma, LOGISTIC, radius=0.5e-6, **common)
    assert not miss.certified and "Krawczyk" in miss.reason
    hit = certify_stationary_point(centre, phi, gamma, LOGISTIC, radius=2e-6, **common)
    assert hit.certified, hit.reason
    assert hit.centre == centre and hit.radius == 2e-6


def krawczyk_by_hand(centre, radius, phi, gamma, loss):
    """The Krawczyk inclusion K(X) in int X recomputed in mpmath.iv from the engine's enclosures of grad L at the
    centre and Hess L over X, with C the inverse of the float64 Hessian at the centre (the certificate's choice
    when it does not refine)."""
    centre_q = [Fraction(c) for c in centre]
    eng = IntervalAttention(phi, gamma, loss)
    pf, gf = phi.astype(float), gamma.astype(float)
    cf = np.array([float(c) for c in centre_q])
    C = np.linalg.inv(hessian(cf, pf, gf, loss))
    ref = np.argmax(pf @ cf, axis=1)
    with ctx.workprec(160):
        g = eng.gradient(eng.box(centre_q), ref)
        H = eng.hessian(eng.box(centre_q, Fraction(radius)), ref)
        k = len(centre_q)
        saved = iv.prec
        iv.prec = 200
        try:
            def ivs(ball):
                if not ball.is_finite():
                    return iv.mpf([-mpmath.inf, mpmath.inf])
                lo, hi = arb_endpoints(ball)
                return iv.mpf([(iv.mpf(lo.numerator) / lo.denominator).a, (iv.mpf(hi.numerator) / hi.denominator).b])
            rq = Fraction(radius)
            r = iv.mpf(rq.numerator) / rq.denominator
            box = iv.mpf([-r.b, r.b])
            for i in range(k):
                Ki = -sum((iv.mpf(C[i, j]) * ivs(g[j, 0]) for j in range(k)), iv.mpf(0))
                for j in range(k):
                    Zij = (1 if i == j else 0) - sum((iv.mpf(C[i, m]) * ivs(H[m, j]) for m in range(k)), iv.mpf(0))
                    Ki += Zij * box
                if not (mpmath.isfinite(Ki.a) and mpmath.isfinite(Ki.b) and Ki.b < r.a and Ki.a > -r.a):
                    return False
            return True
        finally:
            iv.prec = saved


def test_krawczyk_decision_agrees_with_a_recomputation_in_mpmath_iv():
    """Over a sweep of radii around a centre 1e-6 from the known saddle (small radii: the centre term decides;
    large ones: the Hessian's variation over X does), the certificate passes exactly when the hand-written
    mpmath.iv Krawczyk test does, and a pass always holds the known zero."""
    phi, gamma = saddle_pair()
    star = saddle_point()
    with mpmath.workdps(60):
        centre = [mpmath.nstr(star[0] + mpmath.mpf("1e-6"), 40), mpmath.nstr(star[1] - mpmath.mpf("4e-7"), 40)]
    outcomes = set()
    for radius in [0.5e-6, 0.7e-6, 0.9e-6, 1.2e-6, 2e-6, 1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4, 8e-4, 1e-3, 0.1, 1.2]:
        cert = certify_stationary_point(centre, phi, gamma, LOGISTIC, radius=radius, refine_steps=0, max_tries=1,
                                        grow=0)
        expected = krawczyk_by_hand(centre, radius, phi, gamma, LOGISTIC)
        assert cert.certified == expected, (radius, cert.reason, cert.tries)
        outcomes.add(expected)
        if cert.certified:
            with mpmath.workdps(60):
                assert all(abs(mpmath.mpf(c) - v) < radius for c, v in zip(centre, star))
    assert outcomes == {True, False}


def test_certified_inertia_of_crafted_interval_matrices():
    """Gershgorin on Q^T H Q: a pass needs every interval to avoid 0, off-diagonal entries included."""
    with ctx.workprec(100):
        eye = np.eye(2)
        indefinite = arb_mat([[1, 2], [2, 1]])                   # eigenvalues 3 and -1
        assert certified_inertia(indefinite, eye)[0] is None
        rot = np.array([[1, 1], [1, -1]]) / np.sqrt(2)              # its eigenvectors: now decided
        inertia, (lo, hi) = certified_inertia(indefinite, rot)
        assert inertia == (1, 1) and lo <= -1 and 3 <= hi and lo > -1.01 and hi < 3.01
        wide = arb_mat([[arb(2, 0.1), arb(0, 2.5)], [arb(0, 2.5), arb(3, 0.1)]])
        assert certified_inertia(wide, eye)[0] is None           # holds [[1.9, 2.5], [2.5, 2.9]], indefinite
        snug = arb_mat([[arb(2, 0.1), arb(0, 1.5)], [arb(0, 1.5), arb(3, 0.1)]])
        assert certified_inertia(snug, eye)[0] == (2, 0)         # every member has det >= 1.9 * 2.9 - 1.5^2 > 0
        narrow = arb_mat([[arb(2, 0.1), arb(0, 0.5)], [arb(0, 0.5), arb(-3, 0.1)]])
        assert certified_inertia(narrow, eye)[0] == (1, 1)
        assert certified_inertia(arb_mat([[2, 0], [0, 3]]), 3 * eye) == (None, None)   # Q far from orthogonal


# -- no finite stationary point ------------------------------------------------------------------------------------

def test_equal_scores_descent_is_certified_and_newton_finds_nothing():
    phi, gamma, p_mm = equal_scores()
    pf, gf = phi.astype(float), gamma.astype(float)
    rng = np.random.default_rng(1)
    points = [rng.normal(size=2) * s for s in (0.5, 3.0, 10.0) for _ in range(3)] + [np.array([700.0, 175.0])]
    for th in points:
        dc = descent_certificate(th, p_mm, phi, gamma, LOGISTIC)
        assert dc.sign == -1 and dc.sign_certified, (th, dc)
        assert Fraction(dc.enclosure[1]) < 0
    far = descent_certificate([700.0, 175.0], p_mm, phi, gamma, LOGISTIC)
    assert far.value == 0.0 and far.scaled_value < 0          # float64 underflows; the enclosure does not
    # along a GD run (normalised steps): the tail keeps a certified negative sign
    att = StableAttention(pf, gf)
    theta = np.zeros(2)
    engine = IntervalAttention(phi, gamma, LOGISTIC)
    for k in range(200):
        g = att.gradient(theta, LOGISTIC, scaled=True)
        theta = theta - 0.5 * g / np.linalg.norm(g)
        if k % 50 == 49:
            dc = descent_certificate(theta, p_mm, phi, gamma, LOGISTIC, engine=engine)
            assert dc.sign == -1 and dc.sign_certified
    assert np.linalg.norm(theta) > 50
    for mode in ("minimum", "any"):
        res = find_stationary_point(theta, pf, gf, LOGISTIC, mode=mode)
        assert not res.converged
        cert = certify_stationary_point(res.theta, phi, gamma, LOGISTIC)
        assert not cert.certified and cert.reason


def test_descent_certificate_does_not_certify_a_zero():
    """Two mirrored sequences: L is even in x = <p, (1, 2)>, so grad L(0) = 0 exactly and the sign of
    <grad L(0), p> cannot be certified at any precision."""
    phi = exact(np.array([[[0, 0], [1, 2]], [[0, 0], [-1, -2]]]))
    gamma = exact(np.array([[0, 4], [0, 4]]))
    dc = descent_certificate([0, 0], [1, 0], phi, gamma, LOGISTIC, max_dps=60)
    assert not dc.sign_certified and Fraction(dc.enclosure[0]) <= 0 <= Fraction(dc.enclosure[1])
    assert dc.dps == 60


def test_descent_float_path():
    phi, gamma, p_mm = equal_scores()
    dc = descent_certificate([1.0, 0.5], p_mm, phi, gamma, LOGISTIC, certify=False)
    assert dc.method == "float64" and not dc.sign_certified and dc.enclosure is None and dc.sign == -1
    full = descent_certificate([1.0, 0.5], p_mm, phi, gamma, LOGISTIC)
    lo, hi = (Fraction(x) for x in full.enclosure)
    assert abs((lo + hi) / 2 - Fraction(dc.value)) <= abs(Fraction(dc.value)) / 10 ** 12
    assert hi - lo < Fraction(1, 10 ** 18)


# -- refusals ------------------------------------------------------------------------------------------------------

def test_points_away_from_a_stationary_point_are_not_certified():
    phi, gamma = conflicting_three()
    res = find_stationary_point(np.zeros(2), phi.astype(float), gamma.astype(float), LOGISTIC)
    off = res.theta + np.array([0.1, 0.0])
    cert = certify_stationary_point(off, phi, gamma, LOGISTIC)
    assert not cert.certified and "not near" in cert.reason
    # no refinement at all, the default radius: the Krawczyk test itself refuses
    cert = certify_stationary_point(off, phi, gamma, LOGISTIC, refine_steps=0)
    assert not cert.certified and "Krawczyk" in cert.reason
    for r in (1e-3, 1e-2, 0.05):          # boxes that do not reach the minimiser, 0.1 away
        cert = certify_stationary_point(off, phi, gamma, LOGISTIC, refine_steps=0, radius=r, max_tries=1, grow=0)
        assert not cert.certified


def test_wrong_hessian_enclosure_is_refused(monkeypatch):
    """A Hessian enclosure off by a relative 1e-6 still passes the Krawczyk test (any C works), so the certificate
    must notice the inconsistency with the gradient itself."""
    phi, gamma = conflicting_three()
    res = find_stationary_point(np.zeros(2), phi.astype(float), gamma.astype(float), LOGISTIC)
    honest = IntervalAttention.hessian
    monkeypatch.setattr(IntervalAttention, "hessian", lambda self, X, ref: honest(self, X, ref) * arb("1.000001"))
    cert = certify_stationary_point(res.theta, phi, gamma, LOGISTIC)
    assert not cert.certified and "inconsistent" in cert.reason


def test_degenerate_and_too_large_inputs():
    phi = exact(np.ones((2, 3, 2)))
    gamma = exact(np.array([[1, 0, 0], [0, 1, 0]]))
    cert = certify_stationary_point([0, 0], phi, gamma, LOGISTIC)
    assert not cert.certified and "constant" in cert.reason
    big = np.zeros((200, 3, 400), dtype=object)
    cert = certify_stationary_point(np.zeros(400), big, np.zeros((200, 3), dtype=object), LOGISTIC)
    assert not cert.certified and "too large" in cert.reason


# -- flat directions ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("build,flat", [(flat_prompt, 1), (flat_cross, 2)])
def test_flat_directions_are_reduced_exactly(build, flat):
    phi2, gamma2 = conflicting_three()
    base = certify_stationary_point(
        find_stationary_point(np.zeros(2), phi2.astype(float), gamma2.astype(float), LOGISTIC).theta,
        phi2, gamma2, LOGISTIC)
    phi, gamma = build()
    pf = phi.astype(float)
    res = find_stationary_point(np.zeros(pf.shape[2]), pf, gamma.astype(float), LOGISTIC)
    assert res.converged and res.subspace_dimension == 2
    cert = certify_stationary_point(res.theta, phi, gamma, LOGISTIC)
    assert cert.certified and cert.kind == "minimum", cert.reason
    assert cert.flat_dimension == flat and len(cert.coordinates) == 2
    # the certified point reproduces the 2-D minimiser's logits: A^T p (prompt) or W z (cross)
    centre = np.array([Fraction(c) for c in cert.centre], dtype=object)
    mapped = EMBED.T.dot(centre) if flat == 1 else centre.reshape(2, 2).dot([Fraction(1), Fraction(1, 2)])
    assert max(abs(float(a - Fraction(b))) for a, b in zip(mapped, base.centre)) < 1e-30
    assert cert.theta_norm_min <= cert.theta_norm + 1e-15


# -- determinism -----------------------------------------------------------------------------------------------------

def test_results_are_deterministic():
    phi, gamma = conflicting_three()
    a = find_stationary_point(np.zeros(2), phi.astype(float), gamma.astype(float), LOGISTIC)
    b = find_stationary_point(np.zeros(2), phi.astype(float), gamma.astype(float), LOGISTIC)
    assert a.iterations == b.iterations and np.array_equal(a.theta, b.theta)
    ca = certify_stationary_point(a.theta, phi, gamma, LOGISTIC).to_dict()
    cb = certify_stationary_point(b.theta, phi, gamma, LOGISTIC).to_dict()
    assert ca == cb
