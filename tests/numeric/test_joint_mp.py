"""numeric.joint_mp: the stable mpmath joint gradient against the float64 one, against the textbook
formula at huge precision, and mpmath joint GD against float64 joint GD."""
import mpmath
import numpy as np

from attnsvm.numeric import LOGISTIC, one_minus_corr
from attnsvm.numeric import joint as nj
from attnsvm.numeric import joint_mp as jm

X = np.array([[[0, 0], [1, 1]], [[0, 0], [1, -1]], [[0, 0], [0.5, 1.5]]], float)
Y = np.array([1.0, -1.0, 1.0])


def _f(xs):
    return np.array([float(x) for x in xs])


def test_matches_float64_at_moderate_norms():
    rng = np.random.default_rng(3)
    Xr = rng.standard_normal((3, 4, 2))
    W = rng.standard_normal((2, 2))
    v, p = rng.standard_normal(2), rng.standard_normal(2) * 2
    gv, gp = nj.joint_gradient(v, p, Xr, Y, Xr @ W, LOGISTIC)
    mv, mp_, _ = jm.mp_joint_gradient_stable(v, p, Xr, Y, Xr @ W, LOGISTIC, dps=30)
    np.testing.assert_allclose(gv, _f(mv), rtol=1e-13)
    np.testing.assert_allclose(gp, _f(mp_), rtol=1e-12)


def test_matches_textbook_at_large_norms_with_few_digits():
    """At ||p|| = 800 the textbook formula needs ~400 digits; the stable one gets the same at 30."""
    v, p = [0.0, 40.0], [800.0, 30.0]
    sv, sp, _ = jm.mp_joint_gradient_stable(v, p, X, Y, X, LOGISTIC, dps=30)
    tv, tp = nj.mp_joint_gradient(v, p, X, Y, np.eye(2), LOGISTIC, dps=500)
    with mpmath.workdps(30):
        for a, b in zip(sv + sp, tv + tp):
            assert abs(a - b) <= mpmath.mpf(10) ** -25 * abs(b)


def test_mp_gd_matches_float_gd():
    v, p = jm.mp_run_joint_gd([0, 1], [0, 0], X, Y, X, LOGISTIC, iterations=60, dps=30)
    tr = nj.run_joint_gd([0, 1], [0, 0], X, Y, X, LOGISTIC, max_iter=60, time_budget=10)
    # agreement to rounding relative to the norms (a component that is 0 in the limit only agrees absolutely)
    assert np.linalg.norm(tr.final.v - _f(v)) <= 1e-12 * np.linalg.norm(_f(v))
    assert np.linalg.norm(tr.final.p - _f(p)) <= 1e-12 * np.linalg.norm(_f(p))
    assert one_minus_corr(_f(p), [1, 0]) < 1e-3
