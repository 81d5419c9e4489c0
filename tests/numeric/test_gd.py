import numpy as np
import pytest

from attnsvm.numeric import LOGISTIC, StableAttention, checkpoint_schedule, gradient, one_minus_corr, run_gd
from attnsvm.verify import builtin


def test_checkpoint_schedule_is_log_spaced():
    ks = checkpoint_schedule(1000, per_decade=2)
    assert ks == [0, 1, 3, 10, 32, 100, 316, 1000]


def test_normalized_steps_have_unit_length():
    ds = builtin("multi-input")
    traj = run_gd(np.zeros(3), ds.features(), ds.gamma, LOGISTIC, max_iter=100, per_decade=100)
    by_k = {c.iteration: c.theta for c in traj.checkpoints}
    for k in range(1, 100):
        if k in by_k and k - 1 in by_k:
            assert np.linalg.norm(by_k[k] - by_k[k - 1]) == pytest.approx(1.0, rel=1e-12)


def test_fixed_step_matches_a_hand_loop():
    ds = builtin("single-input-global")
    phi, gamma = ds.features(), ds.gamma
    p = np.array([0.3, -0.2, 0.0])
    for _ in range(50):
        p = p - 0.5 * gradient(p, phi, gamma, LOGISTIC)
    traj = run_gd([0.3, -0.2, 0.0], phi, gamma, LOGISTIC, method="fixed", step=0.5, max_iter=50)
    assert np.array_equal(traj.final.theta, p)


def test_normalized_gd_aligns_with_svm_direction():
    ds = builtin("single-input-global")
    traj = run_gd([0, 1, 0], ds.features(), ds.gamma, LOGISTIC, max_iter=3000)
    p_mm = np.array([-10 / 101, 100 / 101, 0.0])  # derived by hand in test_svm
    omc = [one_minus_corr(c.theta, p_mm) for c in traj.checkpoints if c.iteration >= 100]
    assert traj.final.selected == (0,)
    assert omc[-1] < 1e-5
    assert omc[-1] < omc[0] / 50  # falls like ||p||^-2 (a decade of ||p|| -> about 100x)


def test_observer_can_stop_and_time_budget():
    ds = builtin("multi-input")
    traj = run_gd(np.zeros(3), ds.features(), ds.gamma, LOGISTIC, max_iter=10**6,
                  observer=lambda cp: cp.iteration >= 100)
    assert traj.stop_reason == "observer" and traj.final.iteration == 100
    traj = run_gd(np.zeros(3), ds.features(), ds.gamma, LOGISTIC, max_iter=10**9, time_budget=0.2)
    assert traj.stop_reason == "time"


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown GD method"):
        run_gd([0.0], np.zeros((1, 2, 1)), np.zeros((1, 2)), LOGISTIC, method="adam")


def test_each_checkpoint_keeps_the_step_rule_state_that_reproduces_its_step():
    """float64_step from a checkpoint's iterate and step_state is the run's next step, bit for bit."""
    from attnsvm.numeric.gd import float64_step

    rng = np.random.default_rng(0)       # Gaussian tokens of scale 2: normalised GD zigzags here
    phi = 2.0 * rng.standard_normal((3, 4, 3))
    gamma = np.sign(rng.standard_normal(3))[:, None] * (phi @ rng.standard_normal(3))
    traj = run_gd(np.zeros(3), phi, gamma, LOGISTIC, max_iter=300, per_decade=1000, adaptive=True)
    by_k = {c.iteration: c for c in traj.checkpoints}
    assert by_k[0].step_state.factor == 1.0 and by_k[0].step_state.direction is None
    pairs = [k for k in by_k if k + 1 in by_k]
    assert len(pairs) == 300
    shrunk = 0
    for k in pairs:
        cp = by_k[k]
        kernel = StableAttention(phi, gamma)
        fs = float64_step(kernel, cp.theta.copy(), LOGISTIC, cp.step_state, method="normalized", step=1.0,
                          adaptive=True)
        assert np.array_equal(cp.theta - fs.delta, by_k[k + 1].theta)
        assert fs.eta == cp.step and fs.factor == by_k[k + 1].step_state.factor
        shrunk += bool(fs.turned)
    assert shrunk > 0      # the zigzag rule acted on some of them


def test_a_continued_schedule_starts_at_its_start():
    from attnsvm.numeric.gd import CheckpointSchedule

    book = CheckpointSchedule(100, 10, start=30)
    assert book.iterations[:3] == [30, 32, 40] and book.iterations[-1] == 100


def test_fixed_step_gd_stops_at_a_float64_fixed_point():
    """Stress dataset 21 (n = 7, T = 4, d = 2) has a strict local minimum at ||p|| = 0.754 that fixed-step GD from 0
    reaches: after a few hundred steps the step no longer changes theta in float64, so the run stops there
    ("stationary") instead of spending its whole budget, and one more step indeed leaves theta unchanged."""
    from attnsvm.verify.random_datasets import stress_dataset

    ds = stress_dataset(21, 0)
    phi, gamma = ds.features(), ds.gamma
    traj = run_gd(np.zeros(2), phi, gamma, LOGISTIC, method="fixed", step=0.5, max_iter=200_000)
    assert traj.stop_reason == "stationary" and traj.final.iteration < 5000
    theta = traj.final.theta
    assert traj.final.grad_norm > 0                       # not an exact zero of the float64 gradient
    assert np.array_equal(theta - 0.5 * gradient(theta, phi, gamma, LOGISTIC), theta)
    assert traj.final.norm == pytest.approx(0.7541, abs=2e-3)
