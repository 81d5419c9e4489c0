"""Trajectory comparison, certified checkpoints and the measured breakdown of the naive gradient."""
import copy

import mpmath
import numpy as np
import pytest

from attnsvm import numeric
from attnsvm.numeric import (certify_checkpoints, compare_trajectories, first_parting, mp_gradient, mp_unit_distance,
                     naive_breakdown, run_gd_mp)
from attnsvm.verify.builtins import builtin


@pytest.fixture(scope="module")
def multi():
    ds = builtin("multi-input")
    f = numeric.run_gd(ds.inits[0], ds.features(), ds.gamma, numeric.LOGISTIC, max_iter=1000, time_budget=1e9)
    return ds, f


def test_naive_direction_wrong_at_norm_300_stable_matches_200_digits(multi):
    """Regression (walking skeleton, mpmath side): at ||p|| ~ 300 on multi-input, on the GD path, the naive
    float64 direction is wrong while the stable float64 direction matches mpmath at 200 digits."""
    ds, _ = multi
    theta = numeric.run_gd(ds.inits[0], ds.features(), ds.gamma, numeric.LOGISTIC, max_iter=300).final.theta
    assert 250 < np.linalg.norm(theta) < 320
    with mpmath.workdps(200):
        g200 = mp_gradient(theta, ds.features_exact(), ds.gamma_exact, numeric.LOGISTIC, dps=200, scaled=True)
        stable = numeric.gradient(theta, ds.features(), ds.gamma, numeric.LOGISTIC, scaled=True)
        naive = numeric.naive_gradient(theta, ds.features(), ds.gamma, numeric.LOGISTIC)
        assert mp_unit_distance(stable, g200) < 1e-14
        assert mp_unit_distance(naive, g200) > 1e-3
        # more digits rescue the naive formula only once they exceed those of e^{-margin} (1 - s ~ 1e-215 here):
        # even 200 digits are not enough at ||p|| = 300, 300 are
        naive200 = numeric.mp_naive_gradient(theta, ds.features_exact(), ds.gamma_exact, numeric.LOGISTIC, dps=200)
        assert mp_unit_distance(naive200, g200) > 1e-3
        naive300 = numeric.mp_naive_gradient(theta, ds.features_exact(), ds.gamma_exact, numeric.LOGISTIC, dps=300)
        assert mp_unit_distance(naive300, g200) < 1e-30


def test_certified_checkpoints(multi):
    ds, f = multi
    rows = certify_checkpoints(f, ds.features(), ds.gamma, ds.features_exact(), ds.gamma_exact, numeric.LOGISTIC,
                               dps=50)
    assert [r["iteration"] for r in rows] == [c.iteration for c in f.checkpoints]
    assert max(r["direction_error"] for r in rows) < 1e-13
    late = [r for r in rows if r["norm"] > 100]
    assert late and all(r["naive_direction_error"] is None or r["naive_direction_error"] > 1e-4 for r in late)
    assert any(r["naive_direction_error"] is None for r in late)  # the naive gradient is exactly 0 by ||p|| = 1000


def test_naive_breakdown_is_measured(multi):
    ds, f = multi
    phi, gamma, loss = ds.features(), ds.gamma, numeric.LOGISTIC
    walk = naive_breakdown([c.theta for c in f.checkpoints], phi, gamma, loss, tol=1e-8)
    dep, stall = walk["departure"], walk["stall"]
    assert dep is not None and stall is not None and 1 < dep["norm"] < stall["norm"]
    # the bracket ends straddle the events
    assert np.any(numeric.naive_gradient(stall["theta_before"], phi, gamma, loss))
    assert not np.any(numeric.naive_gradient(stall["theta_at"], phi, gamma, loss))
    assert stall["bracket"][1] - stall["bracket"][0] < 1e-6 * stall["norm"]
    # around the departure the naive direction is judged against mpmath (not only against float64 stable)
    with mpmath.workdps(50):
        for theta, departed in ((dep["theta_before"], False), (dep["theta_at"], True)):
            ref = mp_gradient(theta, ds.features_exact(), ds.gamma_exact, loss, dps=50, scaled=True)
            err = mp_unit_distance(numeric.naive_gradient(theta, phi, gamma, loss), ref)
            assert (err > 1e-8) == departed
    # for a user: the naive gradient is already off by ~1e-8 at a modest norm (about 12 on multi-input)
    assert 5 < dep["norm"] < 50 and 200 < stall["norm"] < 1000


def test_compare_trajectories_and_first_parting(multi):
    ds, _ = multi
    f = numeric.run_gd(ds.inits[0], ds.features(), ds.gamma, numeric.LOGISTIC, max_iter=200)
    m = run_gd_mp(ds.inits[0], ds.features_exact(), ds.gamma_exact, numeric.LOGISTIC, dps=30, max_iter=200)
    cmp_ = compare_trajectories(f, m)
    assert cmp_["common"] == len(f.checkpoints) and cmp_["min_digits"] > 13
    assert first_parting(cmp_, 1e-10) is None
    bad = copy.deepcopy(f)
    cp = bad.checkpoints[-3]
    cp.theta = cp.theta + 1e-8 * np.linalg.norm(cp.theta) * np.array([0.0, 1.0, 0.0])
    part = first_parting(compare_trajectories(bad, m), 1e-10)
    assert part is not None and part["iteration"] == cp.iteration and part["direction"] > 1e-10
