"""numeric.regpath: the log-domain objective against mpmath, projected GD, and the regularisation paths
of the joint-relaxed data against hand-derived SVM directions."""
import mpmath
import numpy as np
import pytest

from attnsvm.numeric import LOGISTIC, EXPONENTIAL, one_minus_corr
from attnsvm.numeric import regpath as rp
from attnsvm.numeric.joint import scores

X = np.array([[[0, 0], [1, 1]], [[0, 0], [1, -1]], [[0, 0], [0.5, 1.5]]], float)
Y = np.array([1.0, -1.0, 1.0])
GAMMA = scores(np.array([0.0, 1.0]), X, Y)
P_PLAIN = [1.25, 0.25]    # min ||p|| s.t. p.(1,1) >= 1, p.(1,-1) >= 1, p.(0.5,1.5) >= 1 (by hand)
P_RELAXED = [1.0, 0.0]    # the same with the last margin 0


def mp_log_excess(p, gamma, loss, dps):
    """log(L(p) - L*) straight from the definition in mpmath."""
    with mpmath.workdps(dps):
        total = 0
        for i in range(X.shape[0]):
            q = [mpmath.mpf(float(X[i, t] @ p)) for t in range(X.shape[1])]
            e = [mpmath.exp(x) for x in q]
            s = [x / mpmath.fsum(e) for x in e]
            u = mpmath.fsum(s[t] * mpmath.mpf(gamma[i, t]) for t in range(len(s)))
            g = mpmath.mpf(max(gamma[i]))
            total += loss.mp_value(u) - loss.mp_value(g)
        return mpmath.log(total / X.shape[0])


@pytest.mark.parametrize("loss", [LOGISTIC, EXPONENTIAL])
@pytest.mark.parametrize("p", [[0.3, -0.2], [4.0, 1.0], [900.0, 10.0]])
def test_objective_matches_mpmath(loss, p):
    p = np.array(p)
    F, g = rp.p_objective(p, X, GAMMA, loss)
    dps = 40 + int(np.abs(X @ p).max())
    assert F == pytest.approx(float(mp_log_excess(p, GAMMA, loss, dps)), rel=1e-11, abs=1e-11)
    h = 1e-6
    fd = [(rp.p_objective(p + h * e, X, GAMMA, loss)[0] - rp.p_objective(p - h * e, X, GAMMA, loss)[0]) / (2 * h)
          for e in np.eye(2)]
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


def test_ball_minimize_quadratic():
    c = np.array([3.0, 4.0])
    res = rp.ball_minimize(lambda x: (0.5 * float((x - c) @ (x - c)), x - c), np.zeros(2), 2.0)
    np.testing.assert_allclose(res.x, c / 5 * 2, atol=1e-9)
    res = rp.ball_minimize(lambda x: (0.5 * float((x - c) @ (x - c)), x - c), np.zeros(2), 10.0)
    np.testing.assert_allclose(res.x, c, atol=1e-9)


def test_p_path_tends_to_plain_svm():
    path = rp.p_path(X, GAMMA, LOGISTIC, [10.0, 100.0, 1000.0], directions=[P_PLAIN], n_random=1)
    omc = [one_minus_corr(pt.x, P_PLAIN) for pt in path]
    assert omc[-1] < 1e-6
    assert omc[0] > 30 * omc[1] > 900 * omc[2]
    assert all(pt.reached >= 1 and pt.starts == 3 for pt in path[1:])


def test_joint_path_tends_to_relaxed_svm():
    path = rp.joint_path(X, Y, X, LOGISTIC, [10.0, 100.0, 1000.0], starts=[([0, 1], P_RELAXED)], n_random=1)
    last = path[-1]
    assert np.linalg.norm(last.v) == pytest.approx(1000.0)
    assert one_minus_corr(last.v, [0, 1]) < 1e-12
    assert one_minus_corr(last.x, P_RELAXED) < 1e-6
    assert one_minus_corr(last.x, P_PLAIN) > 1e-2
    assert one_minus_corr(path[0].x, P_RELAXED) > 10 * one_minus_corr(path[1].x, P_RELAXED)


def test_geometric_radii():
    assert rp.geometric_radii(0.1, 100, 1) == pytest.approx([0.1, 1, 10, 100])


def test_objective_correlation_loss_is_log_deficit():
    from attnsvm.numeric import CORRELATION
    p = np.array([2.0, 0.5])
    F, _ = rp.p_objective(p, X, GAMMA, CORRELATION)
    q = X @ p
    s = np.exp(q) / np.exp(q).sum(axis=1, keepdims=True)
    deficit = (s * (GAMMA.max(axis=1, keepdims=True) - GAMMA)).sum(axis=1)
    assert F == pytest.approx(np.log(deficit.mean()), rel=1e-12)
