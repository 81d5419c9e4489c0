"""Verdict logic of the skeleton's checks on cases built to hold, fail, or be undecidable."""
import numpy as np
import pytest

from attnsvm.numeric import Checkpoint, Trajectory
from attnsvm.verify import Dataset, builtin, check
from attnsvm.verify.checks import directional_limit
from attnsvm.verify.context import Context


def fake_trajectory(thetas, iterations, selected):
    cps = [Checkpoint(iteration=k, theta=np.asarray(t, float), norm=float(np.linalg.norm(t)), loss=0.0,
                      selected=selected, one_minus_mass=0.0, grad_norm=1.0) for k, t in zip(iterations, thetas)]
    return Trajectory(method="normalized", step=1.0, checkpoints=cps, stop_reason="iterations", seconds=0.0)


@pytest.fixture(scope="module")
def ctx():
    return Context.create(builtin("single-input-global"))


def test_direction_settling_away_fails(ctx):
    p_mm = ctx.svm((0,)).theta
    perp = np.array([p_mm[1], -p_mm[0], 0.0])
    ks = [10 ** j for j in range(1, 6)]
    traj = fake_trajectory([k * (p_mm + 0.05 * perp) for k in ks], ks, (0,))  # a fixed wrong direction
    run = directional_limit.judge_run(ctx, traj, [[0]])
    assert run["verdict"] == "fails" and run["one_minus_corr"] > 1e-4


def test_direction_converging_like_inverse_square_holds(ctx):
    p_mm = ctx.svm((0,)).theta
    perp = np.array([p_mm[1], -p_mm[0], 0.0])
    ks = [10 ** j for j in range(1, 7)]
    traj = fake_trajectory([k * p_mm + perp for k in ks], ks, (0,))  # bounded offset: 1 - corr ~ 1/k^2
    run = directional_limit.judge_run(ctx, traj, [[0]])
    assert run["verdict"] == "holds" and run["decade"]["drop"] > 50


def test_selection_changing_late_is_inconclusive(ctx):
    p_mm = ctx.svm((0,)).theta
    ks = [int(10 ** (j / 4)) for j in range(4, 25)]
    traj = fake_trajectory([k * p_mm for k in ks], ks, (0,))
    traj.checkpoints[-2].selected = (1,)  # at k = 10^5.75, in the second half of the run
    run = directional_limit.judge_run(ctx, traj, [[0]])
    assert run["verdict"] == "inconclusive" and "selection changed" in run["reason"]


def test_short_budget_is_inconclusive():
    r = check("multi-input", only=["directional-limit"], max_iterations=30)
    assert r["directional-limit"].verdict == "inconclusive"
    assert not r.ok


CONFLICT = Dataset(X=[[[1, 0], [0, 1]], [[1, 0], [0, 1]]], Y=[1, -1], v=[1, -1], name="conflict",
                   inits=[[0.5, -0.2]])


def test_finite_stationary_point_fails_norm_divergence():
    """Two sequences with the same keys but opposite labels: the loss is minimised at a finite p (p1 = p2),
    so fixed-step GD stalls; the optimal tokens' p-SVM is infeasible."""
    r = check(CONFLICT, only=["optimal-tokens", "p-svm", "norm-divergence"], fixed_iterations=20000)
    assert r["p-svm"].verdict == "not-applicable" and r["p-svm"].evidence["feasible"] is False
    nd = r["norm-divergence"]
    assert nd.verdict == "fails", nd.summary
    assert nd.evidence["checkpoints"][-1]["grad_norm"] < 1e-8


def test_norm_divergence_slope_matches_p_mm():
    r = check("single-input-global", only=["norm-divergence"], fixed_iterations=100000, fixed_time_budget=60)
    ev = r["norm-divergence"].evidence
    assert r["norm-divergence"].verdict == "holds"
    assert ev["predicted_slope"] == pytest.approx(np.sqrt(100 / 101), rel=1e-12)  # ||(-10, 100)/101||
    assert ev["slope"] == pytest.approx(ev["predicted_slope"], rel=0.1)


def test_ties_are_reported():
    ds = Dataset(X=[[[1, 0], [1, 1], [0, 0]]], Y=[1], v=[1, 0], name="tie")
    r = check(ds, only=["optimal-tokens"])
    assert r["optimal-tokens"].verdict == "inconclusive"
    assert r["optimal-tokens"].evidence["ties"] == [{"sequence": 0, "tokens": [0, 1]}]


def test_unknown_option_and_check():
    from attnsvm.verify import InputError
    with pytest.raises(InputError, match="unknown option 'speed'"):
        check("multi-input", speed=3)
    with pytest.raises(InputError, match="unknown check"):
        check("multi-input", only=["nope"])


def test_small_but_flat_is_not_enough(ctx):
    """1 - corr below tol but not falling over the last decade (a fixed tiny tilt): no trend, no `holds`."""
    p_mm = ctx.svm((0,)).theta
    perp = np.array([p_mm[1], -p_mm[0], 0.0])
    ks = [10 ** j for j in range(1, 6)]
    traj = fake_trajectory([k * (p_mm + 1e-4 * perp) for k in ks], ks, (0,))
    run = directional_limit.judge_run(ctx, traj, [[0]])
    assert run["one_minus_corr"] < 1e-6
    assert run["verdict"] == "inconclusive" and "fell only" in run["reason"]
