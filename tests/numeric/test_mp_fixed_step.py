"""The mpmath simulator: against the float64 simulator (same algorithm, so they differ by float64 rounding and
integration tolerance) and against literal mpmath GD (run_gd_mp, so they differ by the truncation of the
modified equation alone)."""
import math

import mpmath
import numpy as np
import pytest

from attnsvm.numeric import LOGISTIC, mp_norm, mp_simulate_fixed_step, run_gd_mp, simulate_fixed_step
from attnsvm.verify import builtin

DPS = 20


@pytest.fixture(scope="module")
def runs():
    ds = builtin("single-input-global")
    phi, gamma = ds.features_exact(), ds.gamma_exact
    init = ds.inits[0]
    mp_sim = mp_simulate_fixed_step(init, phi, gamma, LOGISTIC, 0.1, dps=DPS, max_log10_steps=2.0, rtol=1e-16,
                                    atol=1e-16, integrator_order=8)
    f64 = simulate_fixed_step(init, ds.features(), ds.gamma, LOGISTIC, 0.1, max_log10_steps=2.0)
    lit = run_gd_mp(init, phi, gamma, LOGISTIC, dps=DPS, method="fixed", step=0.1, max_iter=100,
                    time_budget=math.inf)
    return mp_sim, f64, lit


def distance(a, b):
    with mpmath.workdps(DPS):
        return float(mp_norm(np.array([mpmath.mpf(x) for x in a], dtype=object)
                             - np.array([mpmath.mpf(x) for x in b], dtype=object)))


def test_same_schedule_and_switch(runs):
    mp_sim, f64, _ = runs
    assert mp_sim.literal_steps == f64.literal_steps == 1          # eta ||H|| <= 1e-3 from the first step
    assert [c.iteration for c in mp_sim.checkpoints] == [c.iteration for c in f64.checkpoints]
    assert mp_sim.stop_reason == f64.stop_reason == "max-log10-steps"


def test_float64_simulator_matches_the_mpmath_one(runs):
    mp_sim, f64, _ = runs
    for a, b in zip(mp_sim.checkpoints, f64.checkpoints):
        assert distance(a.theta, b.theta) <= 1e-10 * max(1.0, b.norm)
        assert a.selected == b.selected


def test_mpmath_simulator_matches_literal_mpmath_gd(runs):
    mp_sim, _, lit = runs
    for k in (10, 32, 100):
        ref = next(c for c in lit.checkpoints if c.iteration == k)
        got = mp_sim.at_iteration(k)
        assert distance(got.theta, ref.theta) <= 1e-11
        assert got.extra["norm_mp"] > 0 and got.one_minus_mass_log10 < 0
