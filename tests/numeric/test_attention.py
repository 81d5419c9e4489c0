"""The stable gradient against independent implementations: torch autograd (moderate norms) and a
straightforward mpmath formula at 200 digits (large norms, where the naive float64 formula breaks)."""
import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnsvm.numeric import (CORRELATION, EXPONENTIAL, LOGISTIC, attention_state, gradient, loss_value, naive_gradient,
                     one_minus_corr)
from attnsvm.verify import builtin

TORCH_LOSSES = {
    "logistic": lambda u: torch.nn.functional.softplus(-u),
    "exponential": lambda u: torch.exp(-u),
    "correlation": lambda u: -u,
}
LOSSES = {"logistic": LOGISTIC, "exponential": EXPONENTIAL, "correlation": CORRELATION}


def autograd_gradient(theta, phi, gamma, loss_name):
    """L = mean_i l(sum_t softmax(Phi_i theta)_t gamma_it), differentiated by torch in float64."""
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    s = torch.softmax(torch.einsum("ntd,d->nt", torch.tensor(phi), th), dim=1)
    u = (s * torch.tensor(gamma)).sum(dim=1)
    TORCH_LOSSES[loss_name](u).mean().backward()
    return th.grad.numpy(), float(TORCH_LOSSES[loss_name](u).mean().detach())


@st.composite
def problems(draw):
    n = draw(st.integers(1, 4))
    T = draw(st.integers(2, 5))
    D = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.floats(0.1, 5.0))
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, T, D)), rng.standard_normal((n, T)), scale * rng.standard_normal(D)


@settings(max_examples=60, deadline=None)
@given(problems(), st.sampled_from(sorted(LOSSES)))
def test_stable_gradient_equals_autograd(problem, loss_name):
    phi, gamma, theta = problem
    ours = gradient(theta, phi, gamma, LOSSES[loss_name])
    ref, ref_loss = autograd_gradient(theta, phi, gamma, loss_name)
    assert np.allclose(ours, ref, rtol=1e-10, atol=1e-13 * max(1.0, np.abs(ref).max()))
    assert loss_value(theta, phi, gamma, LOSSES[loss_name]) == pytest.approx(ref_loss, rel=1e-12, abs=1e-14)


@settings(max_examples=40, deadline=None)
@given(problems())
def test_scaled_gradient_has_the_same_direction(problem):
    phi, gamma, theta = problem
    g = gradient(theta, phi, gamma, LOGISTIC)
    gs = gradient(theta, phi, gamma, LOGISTIC, scaled=True)
    if np.abs(g).max() > 1e-150:
        assert one_minus_corr(g, gs) < 1e-24
        assert np.linalg.norm(gs) > 0


def test_softmax_tail_has_no_cancellation():
    # one sequence whose non-dominant token sits 800 below: 1 - s_a = e^-800 (float64 has it; 1 - s_a does not)
    phi = np.array([[[1.0], [0.0]]])
    st_ = attention_state(np.array([800.0]), phi, np.array([[1.0, 0.0]]))
    assert st_.one_minus_mass[0] == pytest.approx(float(mpmath.exp(-800) / (1 + mpmath.exp(-800))), rel=1e-14)
    assert st_.gap[0] == pytest.approx(float(mpmath.exp(-800) / (1 + mpmath.exp(-800))), rel=1e-14)


def mp_gradient(theta, phi, gamma, dps=None):
    """grad L with the textbook formula sum_t s_t (gamma_t - sum_tau s_tau gamma_tau) Phi_t, in mpmath;
    logistic loss. The formula cancels 1 - s_a, which is about e^{-(logit spread)}: by default it gets
    60 digits more than that spread has decimal digits, so the cancellation costs nothing."""
    if dps is None:
        q = phi @ theta
        dps = 60 + int(np.max(q.max(axis=1) - q.min(axis=1)) / np.log(10))
    with mpmath.workdps(dps):
        n, T, D = phi.shape
        th = [mpmath.mpf(float(x)) for x in theta]
        grad = [mpmath.mpf(0)] * D
        for i in range(n):
            q = [mpmath.fsum(mpmath.mpf(float(phi[i, t, k])) * th[k] for k in range(D)) for t in range(T)]
            e = [mpmath.exp(x) for x in q]
            z = mpmath.fsum(e)
            s = [x / z for x in e]
            g = [mpmath.mpf(float(x)) for x in gamma[i]]
            u = mpmath.fsum(a * b for a, b in zip(s, g))
            lp = -1 / (1 + mpmath.exp(u))
            for t in range(T):
                w = lp * s[t] * (g[t] - u) / n
                for k in range(D):
                    grad[k] += w * mpmath.mpf(float(phi[i, t, k]))
        return grad


def test_large_norm_regression_on_multi_input():
    """At ||p|| = 300 along the max-margin direction of multi-input the naive float64 gradient points the
    wrong way (it has lost the dominant tokens' terms), while the stable one matches the textbook formula in
    mpmath at 60 digits beyond the logit spread (about 280 digits here; at 200 digits the textbook formula
    itself still cancels 1 - s_a = e^-493 to zero)."""
    ds = builtin("multi-input")
    phi, gamma = ds.features(), ds.gamma
    # p_mm of the optimal tokens, to float64 (from the constraint set's two support tokens; see test_svm)
    from attnsvm.numeric import active_set_guess, polish, solve_svm, svm_constraints
    con = svm_constraints(phi, [0, 0, 0])
    sol = solve_svm(con.A, con.b)
    p_dir = polish(con.A, con.b, active_set_guess(sol, con.A, con.b)).theta_float
    theta = 300 * p_dir / np.linalg.norm(p_dir) + np.array([0.05, -0.03, 0.0])
    ref = np.array([float(x) for x in mp_gradient(theta, phi, gamma)])
    stable = gradient(theta, phi, gamma, LOGISTIC)
    naive = naive_gradient(theta, phi, gamma, LOGISTIC)
    assert np.abs(ref).max() > 0  # tiny (about 1e-216) but nonzero
    assert np.allclose(stable, ref, rtol=1e-12, atol=0)
    assert one_minus_corr(stable, ref) < 1e-24
    assert np.abs(naive).max() == 0 or one_minus_corr(naive, ref) > 1e-3
    # the scaled direction (normalised GD) also matches
    assert one_minus_corr(gradient(theta, phi, gamma, LOGISTIC, scaled=True), ref) < 1e-24


def test_per_sequence_refresh_matches_a_fresh_kernel():
    """One kernel driven along a path where dominant tokens change in some sequences (refreshed row by row,
    in place) gives the same tails and gradient as a fresh kernel at every point."""
    from attnsvm import numeric

    rng = np.random.default_rng(5)
    n, T, D = 40, 6, 4
    phi = rng.standard_normal((n, T, D))
    gamma = rng.standard_normal((n, T))
    kernel = numeric.StableAttention(phi, gamma)
    theta = rng.standard_normal(D)
    changes = 0
    for k in range(60):
        before = None if kernel.dphi is None else kernel.dominant.copy()
        g = kernel.gradient(theta, numeric.LOGISTIC, scaled=True)
        fresh = numeric.StableAttention(phi, gamma)
        np.testing.assert_allclose(g, fresh.gradient(theta, numeric.LOGISTIC, scaled=True), rtol=1e-13, atol=1e-300)
        assert np.array_equal(kernel.dominant, fresh.dominant)
        if before is not None:
            changes += int(0 < np.sum(before != kernel.dominant) < n / 4)
        theta = theta + 0.3 * rng.standard_normal(D)
    assert changes > 5   # the row-by-row path was taken


def test_factored_w_features_match_the_dense_features():
    """StableAttention on WFeatures(X, Z) (contracting with X and Z) against the dense features vec(x_it z_i^T):
    same dominant tokens, tails and gradients along a GD path, and the same GD run."""
    from attnsvm import numeric

    rng = np.random.default_rng(11)
    n, T, d, d2 = 7, 5, 3, 4
    X = rng.standard_normal((n, T, d))
    Z = rng.standard_normal((n, d2))
    gamma = rng.standard_normal((n, T))
    f = numeric.WFeatures(X, Z)
    dense = numeric.w_features(X, Z)
    assert np.array_equal(f.dense(), dense) and f.shape == dense.shape
    kf, kd = numeric.StableAttention(f, gamma), numeric.StableAttention(dense, gamma)
    theta = np.zeros(d * d2)
    for _ in range(30):
        gf = kf.gradient(theta, numeric.LOGISTIC, scaled=True)
        gd = kd.gradient(theta, numeric.LOGISTIC, scaled=True)
        np.testing.assert_allclose(gf, gd, rtol=1e-12, atol=1e-15)
        assert np.array_equal(kf.dominant, kd.dominant)
        theta = theta - gf / np.linalg.norm(gf)
    tf = numeric.run_gd(np.zeros(d * d2), f, gamma, numeric.LOGISTIC, max_iter=300, time_budget=1e9)
    td = numeric.run_gd(np.zeros(d * d2), dense, gamma, numeric.LOGISTIC, max_iter=300, time_budget=1e9)
    np.testing.assert_allclose(tf.final.theta, td.final.theta, rtol=1e-9)
    assert tf.final.selected == td.final.selected


def test_a_stack_of_thetas_gives_each_theta_its_own_tails_and_scaled_gradient():
    """tails_batch / gradient_batch at rows of very different norms (one scale e^R per row; the far rows'
    unscaled tail weights underflow) equal the one-theta kernel at each row; a row where another token leads
    refuses the stack (None: the caller evaluates it alone, with a refresh)."""
    from attnsvm import numeric

    rng = np.random.default_rng(8)
    phi, gamma = rng.standard_normal((4, 5, 3)), rng.standard_normal((4, 5))
    u = rng.standard_normal(3)
    u /= np.linalg.norm(u)
    thetas = np.array([c * u for c in (0.5, 3.0, 40.0, 9000.0)]) + 1e-3 * rng.standard_normal((4, 3))
    for loss in LOSSES.values():
        kernel = numeric.StableAttention(phi, gamma)
        kernel.tails(thetas[-1])
        stack = kernel.tails_batch(thetas)
        G, R = kernel.gradient_batch(thetas, loss)
        for b, theta in enumerate(thetas):
            one = numeric.StableAttention(phi, gamma)
            for x, y in zip(stack, one.tails(theta)):    # e^r to |r| ulps: the logits' rounding, amplified
                np.testing.assert_allclose(x[b], y, rtol=1e-12, atol=1e-300)
            g = one.gradient(theta, loss, scaled=True)
            assert R[b] == pytest.approx(one.scale_exponent, rel=1e-14, abs=1e-14)
            np.testing.assert_allclose(G[b], g, rtol=1e-12, atol=1e-13 * np.abs(g).max())
        assert np.abs(G[-1]).max() > 0 and np.abs(kernel.gradient(thetas[-1], loss)).max() < 1e-300
    other = -thetas[1]
    assert np.any(np.argmax(phi @ other, axis=1) != kernel.dominant)     # another token leads there
    assert kernel.tails_batch(np.array([thetas[1], other])) is None
    assert kernel.gradient_batch(np.array([thetas[1], other]), LOGISTIC) is None
