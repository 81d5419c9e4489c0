"""The theorem claims `directional-limit` and `norm-divergence`: verdicts from runs built to hold, contradict or
stay undecided, and the stationary-point path on a dataset that has one."""
import math

import numpy as np
import pytest

from attnsvm.verify import Dataset, builtin, check
from attnsvm.verify.checks import directional_limit
from attnsvm.verify.claims import CONTRADICTED, OBSERVED, UNDECIDED
from attnsvm.verify.context import Context
from attnsvm.verify.theorem_runs import TheoremRun

FAST = dict(max_iterations=2000, fixed_iterations=2000)


def fake_run(thetas, norms_k, selected):
    cps = [{"log10_iteration": math.log10(k), "iteration": k, "theta": np.asarray(t, float),
            "norm": float(np.linalg.norm(t)), "selected": list(selected), "one_minus_mass": 0.0, "grad_log10": -5.0,
            "loss": 0.0} for k, t in zip(norms_k, thetas)]
    return TheoremRun(init=np.zeros(len(thetas[0])), step=0.5, checkpoints=cps, stop_reason="target norm", engine="fake")


@pytest.fixture(scope="module")
def ctx():
    return Context.create(builtin("single-input-global"))


def _perp(p_mm):
    return np.array([p_mm[1], -p_mm[0], 0.0])


def test_direction_converging_like_inverse_square_is_observed(ctx):
    p_mm = ctx.svm((0,)).theta
    ks = [10 ** j for j in range(1, 7)]
    run = fake_run([k * p_mm + _perp(p_mm) for k in ks], ks, (0,))          # bounded offset: 1 - corr ~ 1/k^2
    out = directional_limit.judge_theorem_run(ctx, run, [0], 1e-6)
    assert out["outcome"] == OBSERVED and out["one_minus_corr"] < 1e-9


def test_a_fixed_wrong_direction_is_not_observed(ctx):
    p_mm = ctx.svm((0,)).theta
    ks = [10 ** j for j in range(1, 6)]
    run = fake_run([k * (p_mm + 0.05 * _perp(p_mm)) for k in ks], ks, (0,))
    out = directional_limit.judge_theorem_run(ctx, run, [0], 1e-6)
    assert out["outcome"] == UNDECIDED and out["one_minus_corr"] > 1e-4


def test_small_but_flat_is_not_enough(ctx):
    """1 - corr below tol but not falling over the last decade (a fixed tiny tilt): no trend, no observation."""
    p_mm = ctx.svm((0,)).theta
    ks = [10 ** j for j in range(1, 6)]
    run = fake_run([k * (p_mm + 1e-4 * _perp(p_mm)) for k in ks], ks, (0,))
    out = directional_limit.judge_theorem_run(ctx, run, [0], 1e-6)
    assert out["one_minus_corr"] < 1e-6 and out["outcome"] == UNDECIDED and "fell only" in out["reason"]


def test_converging_to_another_selection_is_a_counterexample(ctx):
    other = ctx.svm((1,))
    assert other.feasible
    ks = [10 ** j for j in range(1, 7)]
    run = fake_run([k * other.theta + _perp(other.theta) for k in ks], ks, (1,))
    out = directional_limit.judge_theorem_run(ctx, run, [0], 1e-6)
    assert out["outcome"] == CONTRADICTED
    ce = out["counterexample"]
    assert ce["selection"] == [1] and "init" in ce and "iterate" in ce and ce["one_minus_corr_to_its_svm"] < 1e-6


def test_selection_changing_late_is_undecided(ctx):
    p_mm = ctx.svm((0,)).theta
    ks = [int(10 ** (j / 4)) for j in range(4, 25)]
    run = fake_run([k * p_mm for k in ks], ks, (0,))
    run.checkpoints[-2]["selected"] = [1]
    out = directional_limit.judge_theorem_run(ctx, run, [0], 1e-6)
    assert out["outcome"] == UNDECIDED and "selection changed" in out["reason"]


CONFLICT = Dataset(X=[[[1, 0], [0, 1]], [[1, 0], [0, 1]]], Y=[1, -1], v=[1, -1], name="conflict",
                   inits=[[0.5, -0.2]])


def test_a_finite_stationary_point_is_certified_and_outside_the_theory():
    """Two sequences with the same keys but opposite labels: the loss is minimised at a finite p (p1 = p2),
    so fixed-step GD settles there; the optimal tokens' p-SVM is infeasible (a failed premise), so the
    certified stationary point is an observation outside the theory, not a counterexample."""
    r = check(CONFLICT, only=["p-svm", "norm-divergence"], **FAST)
    assert r["p-svm"].verdict == "fails"
    nd = r["norm-divergence"]
    assert nd.verdict == "not-applicable" and "certified finite stationary point" in nd.summary
    cert = nd.evidence["counterexample"]["certificate"]
    assert cert["certified"] and cert["kind"] == "minimum" and cert["radius"] > 0
    centre = np.array([float(x) for x in cert["centre"]])
    assert abs(centre[0] - centre[1]) < 1e-12            # by symmetry p1 = p2 at the minimum


def test_unknown_option_and_check():
    from attnsvm.verify import InputError
    with pytest.raises(InputError, match="unknown option 'speed'"):
        check("multi-input", speed=3)
    with pytest.raises(InputError, match="unknown check"):
        check("multi-input", only=["nope"])


@pytest.mark.parametrize("opt,value,message", [("tol", 1e300, "meaningless"), ("tol", 0.5, "meaningless"),
                                               ("dps", 3, "cannot certify"), ("step", -1, "positive"),
                                               ("max_iterations", 0, "positive integer")])
def test_options_that_would_make_a_verdict_meaningless_are_refused(opt, value, message):
    from attnsvm.verify import InputError
    with pytest.raises(InputError, match=message):
        check("multi-input", only=["optimal-tokens"], **{opt: value})


def test_a_direction_above_the_tolerance_is_not_observed(ctx):
    """1 - corr falling 100x per decade but still ~1e-5 at the end: observed at tol 1e-4, not at tol 1e-6."""
    p_mm = ctx.svm((0,)).theta
    perp = _perp(p_mm)
    offset = 447.0 * np.linalg.norm(p_mm) * perp / np.linalg.norm(perp)   # 1 - corr ~ (447 / k)^2 / 2
    ks = [10 ** j for j in range(1, 6)]
    run = fake_run([k * p_mm + offset for k in ks], ks, (0,))
    out = directional_limit.judge_theorem_run(ctx, run, [0], 1e-6)
    assert 5e-6 < out["one_minus_corr"] < 2e-5
    assert out["outcome"] == UNDECIDED and "> 1e-06" in out["reason"]
    assert directional_limit.judge_theorem_run(ctx, run, [0], 1e-4)["outcome"] == OBSERVED


def test_norm_divergence_holds_with_the_descent_direction_proved_along_each_run():
    """single-input-global meets the global theorem's premises: every run grows and <grad L, p_mm> is proved
    negative at each checkpoint of its last decade (the descent lemma)."""
    nd = check("single-input-global", only=["norm-divergence"], **FAST)["norm-divergence"]
    assert nd.verdict == "holds", nd.summary
    for r in nd.evidence["runs"]:
        assert r["final_norm"] > 1000 and r["descent_last_decade"]
        assert all(d["sign"] < 0 and d["sign_certified"] for d in r["descent_last_decade"])


def test_norm_divergence_without_growth_or_a_certified_stationary_point_is_inconclusive():
    """20 steps: the norm has not grown tenfold, and no stationary point is certified where the runs stop (there
    is none: the premises hold), so the claim is undecided, never contradicted."""
    nd = check("single-input-global", only=["norm-divergence"], max_iterations=20, fixed_iterations=20)[
        "norm-divergence"]
    assert nd.verdict == "inconclusive" and "counterexample" not in nd.evidence
    assert all("no stationary point was certified" in r["reason"] for r in nd.evidence["runs"])


def test_exact_fractions_longer_than_pythons_digit_limit_reach_the_evidence():
    """A certificate's exact numbers may exceed Python's 4300-digit int-to-str guard on large data: a check's
    evidence still gets them (the guard is lifted while a check runs and restored after)."""
    import sys
    from fractions import Fraction

    from attnsvm.verify import context

    big = Fraction(10 ** 5000 + 1, 3)
    before = sys.get_int_max_str_digits()
    with context._long_integer_strings():
        text = str(big)
        assert Fraction(text) == big
    assert len(text) > 5000
    assert sys.get_int_max_str_digits() == before
