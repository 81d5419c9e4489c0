"""The mpmath cumulant formulas against mpmath.diff of the loss itself (an independent route: finite
differences at high precision of L - L_alpha, which keeps its value at any norm), at large norms."""
import mpmath
import numpy as np
import pytest

from attnsvm.numeric import EXPONENTIAL, LOGISTIC, mp_excess_loss
from attnsvm.numeric.mp_hessian import MPLocalDerivatives


@pytest.mark.parametrize("norm", [2.0, 300.0, 3000.0])
@pytest.mark.parametrize("loss", [LOGISTIC, EXPONENTIAL], ids=lambda l: l.name)
def test_mp_hessian_and_third_derivative_equal_mpmath_diff(norm, loss):
    rng = np.random.default_rng(int(norm))
    phi, gamma = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3))
    theta = rng.standard_normal(2)
    theta *= norm / np.linalg.norm(theta)
    v = rng.standard_normal(2)
    with mpmath.workdps(30):
        ml = MPLocalDerivatives(theta, phi, gamma, loss, dps=40)
        H, third = ml.dense(), ml.third(v)

        def f(a, b):
            return mp_excess_loss([mpmath.mpf(theta[0]) + a, mpmath.mpf(theta[1]) + b], phi, gamma, loss,
                                  dps=mpmath.mp.dps)

        for (i, j), orders in {(0, 0): (2, 0), (0, 1): (1, 1), (1, 1): (0, 2)}.items():
            ref = mpmath.diff(f, (0, 0), orders)
            assert abs(H[i, j] - ref) <= 1e-25 * abs(ref)
        # D^3 L[v, v, v] = d^3/de^3 L(theta + e v)
        ref3 = mpmath.diff(lambda e: f(e * v[0], e * v[1]), 0, 3)
        ours = third[0] * v[0] + third[1] * v[1]
        assert abs(ours - ref3) <= 1e-22 * abs(ref3)
        hv = ml.hvp(v)
        for i in range(2):
            assert abs(hv[i] - (H[i, 0] * v[0] + H[i, 1] * v[1])) <= 1e-30 * abs(hv[i])
        # the local bound
        w = mpmath.eigsy(mpmath.matrix(H.tolist()))[0]
        # (equal, up to rounding, when one token leads the tail)
        assert max(abs(x) for x in w) <= ml.bound() * (1 + mpmath.mpf(10) ** -25)
