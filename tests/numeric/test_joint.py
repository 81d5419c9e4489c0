"""numeric.joint: the stable joint gradients against an independent mpmath implementation, the scaled
directions at norms where the float64 gradient underflows, and joint GD on the joint-relaxed data."""
import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from attnsvm.numeric import LOGISTIC, EXPONENTIAL, one_minus_corr
from attnsvm.numeric import joint as nj

X_RELAXED = np.array([[[0, 0], [1, 1]], [[0, 0], [1, -1]], [[0, 0], [0.5, 1.5]]], float)
Y3 = np.array([1.0, -1.0, 1.0])


def _rel(a, b):
    a = np.asarray(a, float)
    b = np.asarray([float(x) for x in b])
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), loss=st.sampled_from([LOGISTIC, EXPONENTIAL]))
def test_gradients_match_mpmath(seed, loss):
    rng = np.random.default_rng(seed)
    n, T, d = 3, 4, 3
    X = rng.standard_normal((n, T, d))
    Y = rng.choice([-1.0, 1.0], n)
    W = rng.standard_normal((d, d))
    v, p = rng.standard_normal(d) * 2, rng.standard_normal(d) * 2
    phi = X @ W
    gv, gp = nj.joint_gradient(v, p, X, Y, phi, loss)
    mv, mp_ = nj.mp_joint_gradient(v, p, X, Y, W, loss)
    assert _rel(gv, mv) < 1e-10
    assert _rel(gp, mp_) < 1e-10


def test_mixed_features_and_loss_match_softmax():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2, 5, 3))
    Y = np.array([1.0, -1.0])
    v, p = rng.standard_normal(3), rng.standard_normal(3)
    js = nj.joint_state(v, p, X, Y, X)
    q = X @ p
    s = np.exp(q - q.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    z = np.einsum("it,itd->id", s, X)
    np.testing.assert_allclose(js.z, z, rtol=1e-13, atol=1e-15)
    u = Y * (z @ v)
    assert nj.joint_loss(v, p, X, Y, X, LOGISTIC) == pytest.approx(np.mean(np.log1p(np.exp(-u))), rel=1e-13)


def test_scaled_directions_survive_underflow():
    """At ||v|| = 900 and ||p|| = 800 l'(u_i) and the softmax tails underflow in float64: the plain gradient
    is exactly zero, the scaled one keeps the direction of the mpmath gradient."""
    v = np.array([0.0, 900.0])
    p = np.array([800.0, 30.0])
    gv, gp = nj.joint_gradient(v, p, X_RELAXED, Y3, X_RELAXED, LOGISTIC)
    assert np.all(gv == 0) and np.all(gp == 0)
    sv, sp = nj.joint_gradient(v, p, X_RELAXED, Y3, X_RELAXED, LOGISTIC, scaled=True)
    # the textbook formula cancels e^{-830} against 1: it needs about 360 digits more than the answer
    mv, mp_ = nj.mp_joint_gradient(v, p, X_RELAXED, Y3, np.eye(2), LOGISTIC, dps=500)
    with mpmath.workdps(500):
        nv = mpmath.sqrt(mpmath.fsum(x * x for x in mv))
        npn = mpmath.sqrt(mpmath.fsum(x * x for x in mp_))
        uv = [float(x / nv) for x in mv]
        up = [float(x / npn) for x in mp_]
    assert one_minus_corr(sv, uv) < 1e-20
    assert one_minus_corr(sp, up) < 1e-20


def test_joint_gd_reaches_hand_derived_directions():
    """joint-relaxed: v-SVM (0, 1) with support {0, 1}; relaxed p-SVM (1, 0) (margins 1, 1, 0), derived by hand."""
    tr = nj.run_joint_gd([0, 1], [0, 0], X_RELAXED, Y3, X_RELAXED, LOGISTIC, max_iter=2000, time_budget=10)
    f = tr.final
    assert f.selected == (1, 1, 1)
    assert one_minus_corr(f.p, [1, 0]) < 1e-6
    assert one_minus_corr(f.v, [0, 1]) < 1e-12
    assert one_minus_corr(f.p, [1.25, 0.25]) > 1e-2     # not the plain p-SVM


def test_v_svm_rows():
    rows = nj.v_svm_rows(X_RELAXED, Y3, [1, 1, 1])
    np.testing.assert_array_equal(rows, [[1, 1], [-1, 1], [0.5, 1.5]])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_scaled_gradient_keeps_the_direction(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, 4, 2))
    Y = rng.choice([-1.0, 1.0], 3)
    v, p = rng.standard_normal(2) * 3, rng.standard_normal(2) * 3
    gv, gp = nj.joint_gradient(v, p, X, Y, X, LOGISTIC)
    sv, sp = nj.joint_gradient(v, p, X, Y, X, LOGISTIC, scaled=True)
    assert one_minus_corr(sv, gv) < 1e-24 and one_minus_corr(sp, gp) < 1e-24


def test_one_kernel_along_a_walk_matches_fresh_gradients():
    """One JointKernel reused along a walk on which the dominant tokens change (cached differences refreshed, scores
    rescored from v at every point) gives the directions of the unscaled gradients computed from scratch."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((4, 3, 2))
    Y = rng.choice([-1.0, 1.0], 4)
    W = rng.standard_normal((2, 2))
    kernel = nj.JointKernel(X, Y, X @ W)
    seen = set()
    for _ in range(15):
        v, p = rng.standard_normal(2) * 3, rng.standard_normal(2) * 4
        sv, sp = kernel.scaled_gradient(v, p, LOGISTIC)
        gv, gp = nj.joint_gradient(v, p, X, Y, X @ W, LOGISTIC)
        assert one_minus_corr(sv, gv) < 1e-24 and one_minus_corr(sp, gp) < 1e-24
        js, ref = kernel.state(v, p), nj.joint_state(v, p, X, Y, X @ W)
        np.testing.assert_allclose(js.z, ref.z, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(js.u, ref.u, rtol=1e-13, atol=1e-15)
        seen.add(tuple(kernel.att.dominant))
    assert len(seen) > 3
