import mpmath
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from attnsvm.numeric import mp_one_minus_corr, one_minus_corr


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(1e-12, 1e-3), st.floats(-300, 300))
def test_one_minus_corr_is_accurate_near_one(seed, eps, log_scale):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(4)
    w = u + eps * rng.standard_normal(4)
    u = u * 10.0 ** (log_scale / 2)  # any magnitude
    with mpmath.workdps(50):
        ref = mp_one_minus_corr([mpmath.mpf(float(x)) for x in u], [mpmath.mpf(float(x)) for x in w])
    # the unit vectors carry ~1e-16 absolute error, so the stable formula is accurate to ~1e-16 sqrt(1 - corr)
    # (1 - cos would be off by ~1e-16 absolutely, i.e. useless below 1e-16)
    assert abs(one_minus_corr(u, w) - float(ref)) <= 2e-15 * float(mpmath.sqrt(ref)) + 1e-300


def test_naive_formula_would_fail():
    u = np.array([1.0, 1e-9])
    w = np.array([1.0, 0.0])
    naive = 1 - u @ w / np.linalg.norm(u) / np.linalg.norm(w)
    assert naive == 0.0  # cancels completely
    assert one_minus_corr(u, w) == np.float64(5e-19).item() or abs(one_minus_corr(u, w) - 5e-19) < 1e-30
