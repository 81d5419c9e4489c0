"""The mpmath backend against float64 (moderate norms) and against direct high-precision formulas."""
from fractions import Fraction

import mpmath
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from attnsvm import numeric
from attnsvm.numeric import (BUILTIN_LOSSES, Loss, mp_attention_state, mp_excess_loss, mp_gradient, mp_loss_increment,
                     mp_loss_value, mp_naive_gradient, mp_norm, mp_unit_distance)
from attnsvm.numeric.mp_gd import FixedPointKernel, to_fixed


@st.composite
def problems(draw):
    n = draw(st.integers(1, 3))
    T = draw(st.integers(2, 5))
    D = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(n, T, D))
    gamma = rng.normal(size=(n, T))
    theta = rng.normal(size=D)
    theta *= draw(st.floats(0.0, 8.0)) / max(np.linalg.norm(theta), 1e-300)
    loss = BUILTIN_LOSSES[draw(st.sampled_from(sorted(BUILTIN_LOSSES)))]
    return phi, gamma, theta, loss


def _close(a64, amp, rtol=1e-12, atol=1e-13):
    amp = np.array([float(x) for x in np.asarray(amp, dtype=object).reshape(-1)])
    a64 = np.asarray(a64, dtype=float).reshape(-1)
    return np.allclose(a64, amp, rtol=rtol, atol=atol)


@settings(max_examples=40, deadline=None)
@given(problems())
def test_backends_agree_at_moderate_norms(prob):
    phi, gamma, theta, loss = prob
    q = np.sort(phi @ theta, axis=1)
    # near-ties of the top logits (within rounding) may be broken differently by the two precisions
    assume(np.all(q[:, -1] - q[:, -2] > 1e-9 * (1 + np.abs(q[:, -1]))))
    st64 = numeric.attention_state(theta, phi, gamma)
    stmp = mp_attention_state(theta, phi, gamma, dps=40)
    assert list(stmp.dominant) == list(st64.dominant)
    assert _close(st64.one_minus_mass, stmp.one_minus_mass)
    assert _close(st64.gap, stmp.gap)
    assert _close(st64.u, stmp.u)
    assert _close([numeric.loss_value(theta, phi, gamma, loss)], [mp_loss_value(theta, phi, gamma, loss, 40)])
    for scaled in (False, True):
        g64 = numeric.gradient(theta, phi, gamma, loss, scaled=scaled)
        gmp = mp_gradient(theta, phi, gamma, loss, dps=40, scaled=scaled)
        assert _close(g64, gmp), (g64, gmp)
    assert _close(numeric.naive_gradient(theta, phi, gamma, loss), mp_naive_gradient(theta, phi, gamma, loss, 40),
                  rtol=1e-9, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(problems(), st.floats(1.0, 400.0))
def test_fixed_point_kernel_matches_reference_gradient(prob, norm):
    """The fast kernel of run_gd_mp (integers + mpf tuples) against mp_gradient, at any norm: same direction
    to about dps digits, and grad = G 2^(M - 2P) / n."""
    phi, gamma, theta, loss = prob
    if not np.linalg.norm(theta) > 1e-6:
        theta = np.ones_like(theta)
    theta = theta * (norm / np.linalg.norm(theta))
    ker = FixedPointKernel(phi, gamma, loss, dps=30)
    th_fixed = [to_fixed(x, ker.P) for x in theta]
    th_exact = [numeric.from_fixed(x, ker.P) for x in th_fixed]
    _, G, M = ker.gradient(th_fixed)
    with mpmath.workdps(60):
        ref = mp_gradient(th_exact, phi, gamma, loss, dps=60)
        if mp_norm(ref) == 0:
            assert not any(G)
            return
        fast = [mpmath.mpf(g) * mpmath.ldexp(1, M - 2 * ker.P) / phi.shape[0] for g in G]
        assert mp_unit_distance(fast, ref) < mpmath.mpf("1e-27")
        assert mp_norm([a - b for a, b in zip(fast, ref)]) <= mpmath.mpf("1e-27") * mp_norm(ref)


def test_exact_inputs_are_used_exactly():
    """Fractions are rounded once at the working precision: 1/3 is not a float."""
    phi = np.array([[[Fraction(1, 3)], [Fraction(0)]]], dtype=object)
    gamma = np.array([[Fraction(1), Fraction(0)]], dtype=object)
    with mpmath.workdps(60):
        st_ = mp_attention_state([Fraction(3)], phi, gamma, dps=60)
        # r = -(1/3) * 3 = -1 exactly, so 1 - s_0 = e^-1 / (1 + e^-1)
        assert abs(st_.one_minus_mass[0] - mpmath.exp(-1) / (1 + mpmath.exp(-1))) < mpmath.mpf("1e-58")


def test_large_norm_quantities_keep_their_value():
    """At r = -10^5 mpmath gives e^{-10^5}-sized tails, gaps, gradients, excess losses: checked against the
    closed form for one sequence of two tokens (gamma = (1, 0), Phi = (1, 0))."""
    phi = np.array([[[1.0], [0.0]]])
    gamma = np.array([[1.0, 0.0]])
    R = 10**5
    with mpmath.workdps(50):
        e = mpmath.exp(-R)
        st_ = mp_attention_state([R], phi, gamma, dps=50)
        assert abs(st_.one_minus_mass[0] / (e / (1 + e)) - 1) < mpmath.mpf("1e-45")
        # L(R) = l(u(R)) with u = 1/(1 + e^{-R}): dL/dR = l'(u) e^{-R} / (1 + e^{-R})^2 (calculus, not section 3)
        u = 1 / (1 + e)
        g = mp_gradient([R], phi, gamma, numeric.LOGISTIC, dps=50)
        expected = -1 / (1 + mpmath.exp(u)) * e / (1 + e) ** 2
        assert abs(g[0] / expected - 1) < mpmath.mpf("1e-45")
        assert g[0] != 0 and float(g[0]) == 0.0  # float64 cannot hold it
        exc = mp_excess_loss([R], phi, gamma, numeric.LOGISTIC, dps=50)
        direct = mpmath.log1p(mpmath.exp(-u)) - mpmath.log1p(mpmath.exp(-1))
        assert exc > 0
        with mpmath.workdps(R // 2 + 100):  # direct difference, with enough digits to survive the cancellation
            u2 = 1 / (1 + mpmath.exp(-R))
            direct = mpmath.log1p(mpmath.exp(-u2)) - mpmath.log1p(mpmath.exp(-1))
        assert abs(exc / direct - 1) < mpmath.mpf("1e-40")


def test_loss_increment_against_direct_difference():
    """l(g - gap) - l(g) by the stable forms (and the Taylor fallback for other losses) against the plain
    difference at many more digits."""
    custom = Loss(name="custom", value=None, derivative=None, mp_value=lambda u: mpmath.exp(-2 * u) + u ** 2,
                  mp_derivative=lambda u: -2 * mpmath.exp(-2 * u) + 2 * u)
    for loss in (*BUILTIN_LOSSES.values(), custom):
        for g, gap in (("0.7", "1e-60"), ("-1.3", "1e-3"), ("2", "1e-25")):
            with mpmath.workdps(30):
                inc = mp_loss_increment(loss, mpmath.mpf(g), mpmath.mpf(gap))
            with mpmath.workdps(200):
                direct = loss.mp_value(mpmath.mpf(g) - mpmath.mpf(gap)) - loss.mp_value(mpmath.mpf(g))
            assert abs(inc - direct) <= mpmath.mpf("1e-25") * abs(direct), (loss.name, g, gap)


def test_fixed_point_kernel_with_score_ties_at_large_norm():
    """A runner-up token with the dominant token's score (dgamma = 0) has weight s (0 + gap) ~ e^{2r}: far below
    the other tokens' e^{r'} unless r' << r. Both regimes against mp_gradient."""
    phi = np.array([[[1.0, 0.0], [0.0, 0.0], [-1.0, 0.5]],
                    [[0.0, 1.0], [0.3, 0.0], [0.0, -1.0]]])
    gamma = np.array([[1.0, 1.0, 0.0], [1.0, 0.2, 1.0]])
    for theta in ([300.0, 40.0], [2000.0, 1500.0], [5.0, 5.0], [1e4, 3.0]):
        ker = FixedPointKernel(phi, gamma, numeric.LOGISTIC, dps=30)
        th = [to_fixed(x, ker.P) for x in theta]
        _, G, M = ker.gradient(th)
        with mpmath.workdps(60):
            ref = mp_gradient(theta, phi, gamma, numeric.LOGISTIC, dps=60)
            fast = [mpmath.mpf(g) * mpmath.ldexp(1, M - 2 * ker.P) / 2 for g in G]
            assert mp_norm(ref) > 0
            assert mp_norm([a - b for a, b in zip(fast, ref)]) <= mpmath.mpf("1e-27") * mp_norm(ref), theta


def _kernel_vs_reference(phi, gamma, theta, loss=numeric.LOGISTIC):
    ker = FixedPointKernel(phi, gamma, loss, dps=30)
    _, G, M = ker.gradient([to_fixed(x, ker.P) for x in theta])
    with mpmath.workdps(60):
        ref = mp_gradient(theta, phi, gamma, loss, dps=60)
        fast = [mpmath.mpf(g) * mpmath.ldexp(1, M - 2 * ker.P) / phi.shape[0] for g in G]
        assert mp_norm(ref) > 0
        assert mp_norm([a - b for a, b in zip(fast, ref)]) <= mpmath.mpf("1e-27") * mp_norm(ref)
    return ker.skipped_last


def test_kernel_leaves_out_far_tokens_only_when_the_bound_allows():
    """theta = (1, 0): r_it is the first feature. Sequence 0: a tie token (dgamma = 0) at r = -150 and a
    token at r = r2; sequence 1: a token at -200 and one at -400. Tokens below -150 - (P + 64) ln 2 are
    candidates to leave out. With r2 = -600 that is harmless (accepted); with r2 = -280 the left-out token
    outweighs 2^-(P+8) of the gradient (its weight e^-280 against e^-200), so the kernel must recompute."""
    gamma = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    for r2, skipped in ((-600.0, True), (-280.0, False)):
        phi = np.array([[[0.0, 0.0], [-150.0, 1.0], [r2, -1.0]],
                        [[0.0, 0.0], [-200.0, 0.5], [-400.0, 1.0]]])
        n_skipped = _kernel_vs_reference(phi, gamma, [1.0, 0.0])
        assert (n_skipped > 0) == skipped, (r2, n_skipped)


def test_kernel_recomputes_when_only_tie_tokens_are_kept():
    """Every kept token ties with its dominant token (dgamma = 0) and the gaps come from left-out tokens
    alone: without them the gradient would be exactly 0, so the kernel must fall back to all tokens."""
    gamma = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    phi = np.array([[[0.0, 0.0], [-150.0, 1.0], [-280.0, -1.0]],
                    [[0.0, 0.0], [-151.0, 0.5], [-290.0, 1.0]]])
    assert _kernel_vs_reference(phi, gamma, [1.0, 0.0]) == 0
