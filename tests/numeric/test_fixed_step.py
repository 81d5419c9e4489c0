"""The fixed-step GD simulator against literal GD (numeric.gd.run_gd, method="fixed"), its error model, its
stop rules and checkpoints, and the second-order remainder on the built-ins."""
import json
import math

import numpy as np
import pytest

from attnsvm.numeric import (LOGISTIC, least_distance, lipschitz_bound, log_schedule,
                             one_minus_corr, remainder, run_gd, simulate_fixed_step, svm_constraints,
                             trajectory_evidence)
from attnsvm.verify import builtin

LITERAL = {}


def data(name):
    ds = builtin(name)
    return ds, ds.features(), ds.gamma


def p_mm(phi, gamma):
    con = svm_constraints(phi, np.argmax(gamma, axis=1))
    return least_distance(con.A, con.b).x


def literal(name, step, steps):
    """Literal GD from the dataset's last init (cached: the same run serves several tests)."""
    key = (name, step, steps)
    if key not in LITERAL:
        ds, phi, gamma = data(name)
        LITERAL[key] = run_gd(ds.inits[-1], phi, gamma, LOGISTIC, method="fixed", step=step, max_iter=steps,
                              time_budget=math.inf)
    return LITERAL[key]


def step_of(name, which):
    _, phi, gamma = data(name)
    return lipschitz_bound(phi, gamma, LOGISTIC).max_step if which == "1/L" else 0.1


@pytest.mark.parametrize("which", ["1/L", "0.1"])
@pytest.mark.parametrize("name", ["multi-input", "single-input-global"])
def test_simulator_agrees_with_literal_gd_after_1e4_steps(name, which):
    ds, phi, gamma = data(name)
    eta = step_of(name, which)
    lit = literal(name, eta, 10_000)
    sim = simulate_fixed_step(ds.inits[-1], phi, gamma, LOGISTIC, eta, max_log10_steps=4.0)
    assert sim.stop_reason == "max-log10-steps"
    assert sim.literal_steps < 3000      # most of the way is the modified flow, not literal steps
    for k in (1000, 3162, 10_000):
        ref = next(c for c in lit.checkpoints if c.iteration == k)
        got = sim.at_iteration(k)
        if k > sim.literal_steps:
            assert got.phase == "flow"
        assert one_minus_corr(got.theta, ref.theta) <= 1e-12
        assert abs(got.norm / ref.norm - 1) <= 1e-10
        assert got.selected == ref.selected
    assert sim.truncation_estimate < 1e-9


@pytest.mark.parametrize("order, worse_than", [(0, 1e-7), (1, 1e-11)])
def test_dropping_modified_equation_terms_is_visible(order, worse_than):
    """The error model: order 0 (plain gradient flow) and order 1 miss literal GD by O(eps) and O(eps^2)."""
    ds, phi, gamma = data("multi-input")
    eta = step_of("multi-input", "1/L")
    lit = literal("multi-input", eta, 10_000)
    sim = simulate_fixed_step(ds.inits[-1], phi, gamma, LOGISTIC, eta, max_log10_steps=4.0, order=order)
    ref = lit.final
    err = np.linalg.norm(sim.at_iteration(10_000).theta - ref.theta)
    assert err > worse_than


def test_long_run_reaches_the_target_norm_in_the_max_margin_direction():
    ds, phi, gamma = data("single-input-global")
    p = p_mm(phi, gamma)
    bound = lipschitz_bound(phi, gamma, LOGISTIC)
    target = 1e4 * np.linalg.norm(p)
    sim = simulate_fixed_step(ds.inits[0], phi, gamma, LOGISTIC, bound.max_step, target_norm=target,
                              lipschitz_bound=bound.value)
    assert sim.stop_reason == "target-norm"
    assert target <= sim.final_norm <= target * (1 + 1e-9)
    assert sim.steps_equivalent is None and 4000 < sim.steps_equivalent_log10 < 5000
    assert sim.algorithm == "fixed-step" and sim.lipschitz_bound == bound.value
    assert one_minus_corr(sim.final.theta, p) < 1e-7
    assert sim.selection_stable() and sim.final.selected == (0,)
    assert sim.final.grad_norm == 0.0 and -5000 < sim.final.grad_norm_log10 < -4000   # underflowed; log kept
    rem = remainder(sim, p)
    assert rem.settles is True
    assert np.linalg.norm(rem.final) < 10
    ev = trajectory_evidence(sim, p)
    json.dumps(ev)
    assert ev["one_minus_corr"] == one_minus_corr(sim.final.theta, p)
    assert ev["checkpoints"][-1]["log10_iteration"] == sim.steps_equivalent_log10
    assert sim.integrator.max_stiffness > 3      # steps an explicit pair could not take


def test_target_norm_stops_at_the_first_exact_iteration():
    ds, phi, gamma = data("single-input-global")
    sim = simulate_fixed_step(ds.inits[0], phi, gamma, LOGISTIC, 0.1, target_norm=6.0)
    k = sim.steps_equivalent
    assert isinstance(k, int) and sim.final.iteration_log10 == pytest.approx(math.log10(k), abs=1e-15)
    assert sim.final_norm >= 6.0
    before = simulate_fixed_step(ds.inits[0], phi, gamma, LOGISTIC, 0.1, max_log10_steps=math.log10(k - 1))
    assert before.steps_equivalent == k - 1 and before.final_norm < 6.0


def test_stop_when_the_modified_flow_never_becomes_valid():
    """No max-margin direction (the selected token lies between the others): GD converges to a finite point,
    eta ||H|| stays large, the literal budget runs out."""
    phi = np.array([[[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]]])
    gamma = np.array([[1.0, 0.0, 0.0]])
    sim = simulate_fixed_step(np.array([0.5, 0.0]), phi, gamma, LOGISTIC, 1.0, max_log10_steps=8,
                              max_literal_steps=50)
    assert sim.stop_reason == "literal-steps" and sim.final.iteration == 50
    sim = simulate_fixed_step(np.array([0.5, 0.0]), phi, gamma, LOGISTIC, 1.0, max_log10_steps=8)
    assert sim.stop_reason == "stationary" and sim.final.norm < 1e-12 and sim.final.grad_norm < 1e-15


def test_log_schedule():
    xs = list(log_schedule(2.95, 40.0, per_decade=10, dense_log10=6.0))
    assert xs[0] == pytest.approx(3.0) and all(b > a for a, b in zip(xs, xs[1:]))
    dense = [x for x in xs if x <= 6.0]
    assert np.allclose(np.diff(dense), 0.1)
    geo = [x for x in xs if x > 6.0][:-1]
    assert np.allclose(np.array(geo[1:]) / np.array(geo[:-1]), 10 ** 0.1)
    assert xs[-1] == 40.0


def test_bad_arguments():
    ds, phi, gamma = data("single-input-global")
    with pytest.raises(ValueError, match="target_norm or a finite"):
        simulate_fixed_step(ds.inits[0], phi, gamma, LOGISTIC, 0.1)
    with pytest.raises(ValueError, match="step"):
        simulate_fixed_step(ds.inits[0], phi, gamma, LOGISTIC, -1.0, target_norm=10)
    with pytest.raises(ValueError, match="entries"):
        simulate_fixed_step([0.0, 0.0], phi, gamma, LOGISTIC, 0.1, target_norm=10)


class ExactLine:
    """A stand-in integrator whose solution is theta(tau) = p tau + c exactly (its norm is convex in tau, the
    case where plain regula falsi keeps one end of the bracket forever)."""

    def __init__(self, p, c):
        self.p, self.c, self.h = p, c, 1.0

    def advance(self, t, y, t_end):
        return t_end, self.p * t_end + self.c


@pytest.mark.parametrize("backend", ["float64", "mpmath"])
def test_locating_the_target_norm_converges_from_both_sides(backend):
    import mpmath

    from attnsvm.numeric.fixed_step import FlowOps, _locate_norm
    p, c = np.array([3.0, 4.0]), np.array([-40.0, 30.0])      # |p tau + c| has its minimum 50 at tau = 0
    target = 100.0
    tau_star = math.sqrt(target ** 2 - 50.0 ** 2) / 5.0
    with mpmath.workdps(30):
        if backend == "float64":
            ops = FlowOps(norm=lambda y: float(np.linalg.norm(y)), ln=math.log, exp=math.exp, ln10=math.log(10),
                          rel=1e-15)
            tau0, tau1 = 1.0, 1e4
        else:
            from attnsvm.numeric import mp_norm
            ops = FlowOps(norm=mp_norm, ln=mpmath.log, exp=mpmath.exp, ln10=mpmath.ln(10), rel=1e-26)
            p, c = np.array([mpmath.mpf(3), mpmath.mpf(4)], dtype=object), np.array([mpmath.mpf(-40), mpmath.mpf(30)],
                                                                                     dtype=object)
            tau0, tau1 = mpmath.mpf(1), mpmath.mpf(10) ** 4
        line = ExactLine(p, c)
        tau, theta, k = _locate_norm(line, ops, tau0, p * tau0 + c, tau1, p * tau1 + c, target)
        assert float(ops.norm(theta)) >= target
        k_star = math.ceil(math.exp(tau_star))      # the first integer time with |theta| >= target
        assert k == k_star and float(tau) == pytest.approx(math.log(k_star), rel=1e-15)


def test_a_far_init_whose_float64_gradient_underflows_starts_in_the_flow():
    """Restarted from a checkpoint where the float64 gradient is exactly 0 (underflow, not a stationary point),
    the simulator continues the same GD: GD is autonomous, so the restart at k = 1 is the first run at k_r + k - 1,
    and both reach the target norm at the same point and (k_r being negligible) the same log10 k."""
    ds, phi, gamma = data("single-input-global")
    p = p_mm(phi, gamma)
    step = lipschitz_bound(phi, gamma, LOGISTIC).max_step
    target = 1e4 * np.linalg.norm(p)
    first = simulate_fixed_step(ds.inits[0], phi, gamma, LOGISTIC, step, target_norm=target)
    far = next(c for c in first.checkpoints if c.norm >= 2e3 * np.linalg.norm(p))
    assert far.grad_norm == 0.0 and far.grad_norm_log10 < -400                  # underflowed in float64
    again = simulate_fixed_step(far.theta, phi, gamma, LOGISTIC, step, target_norm=target)
    assert again.stop_reason == "target-norm" and again.literal_steps == 1
    assert np.linalg.norm(again.final.theta - first.final.theta) <= 1e-9 * target
    assert again.steps_equivalent_log10 == pytest.approx(first.steps_equivalent_log10, rel=1e-9)
    assert far.iteration_log10 < first.steps_equivalent_log10 - 100


@pytest.mark.parametrize("terms", [0, 1, 2])
def test_modified_flow_at_a_stack_of_points_is_the_flow_at_each(terms):
    """ModifiedFlow.rows (what the integrator's rows evaluate together) equals ModifiedFlow at each point, for each
    set of corrections kept; points where another token leads are evaluated one by one (same values)."""
    from attnsvm.numeric import ModifiedFlow, StableHessian

    _, phi, gamma = data("multi-input")
    rng = np.random.default_rng(terms)
    flow = ModifiedFlow(StableHessian(phi, gamma, LOGISTIC), 0.5, order=2)
    theta = np.array([2.0, -1.0, 0.5])
    flow.jacobian(3.0, theta)
    flow.terms = terms
    taus = np.array([3.0, 3.1, 3.5, 4.0])
    for thetas in (theta + 0.05 * rng.standard_normal((4, 3)), np.array([theta, -theta, 2 * theta, theta + 1])):
        got = flow.rows(taus, thetas)
        for b in range(4):
            want = flow(taus[b], thetas[b])
            assert np.allclose(got[b], want, rtol=1e-12, atol=1e-14 * np.abs(want).max())
    assert flow.hessian.at_batch(thetas) is None and flow.hessian.kernel.gradient_batch(thetas, LOGISTIC) is None
    flow.terms = 2
    corrections = flow.rows(taus, thetas) - ModifiedFlow(flow.hessian, 0.5, order=0).rows(taus, thetas)
    assert np.abs(corrections).max() > 1e-6      # the corrections are there, and make a difference


def test_a_slowly_concentrating_run_switches_late_at_a_looser_tolerance_and_stays_within_its_estimate():
    """Stress dataset 9 (n = 3, T = 5, d = 4), eta = 0.584: eta ||H|| is still 8e-3 after 25,000 literal steps and
    would reach 1e-3 only near the 200,000-step budget. After late_switch_after steps the switch is taken at
    eps <= late_switch_tol (1e-2); the simulated iterate at k = 40,000 then equals literal GD's within the truncation
    estimate that the simulator reports. Without the late switch the literal budget runs out first."""
    import math

    from attnsvm.numeric import LOGISTIC, run_gd, simulate_fixed_step
    from attnsvm.verify.random_datasets import stress_dataset

    ds = stress_dataset(9, 0)
    phi, gamma = ds.features(), ds.gamma
    eta, K = 0.5841178176723858, 40_000
    theta0 = np.zeros(phi.shape[2])
    sim = simulate_fixed_step(theta0, phi, gamma, LOGISTIC, eta, max_log10_steps=math.log10(K))
    assert sim.stop_reason == "max-log10-steps" and sim.final.iteration == K
    assert 20_000 <= sim.literal_steps < K and 1e-3 < sim.switch_epsilon <= 1e-2
    lit = run_gd(theta0, phi, gamma, LOGISTIC, method="fixed", step=eta, max_iter=K)
    err = np.linalg.norm(sim.final.theta - lit.final.theta)
    assert err <= sim.truncation_estimate + 1e-9 * np.linalg.norm(lit.final.theta), (err, sim.truncation_estimate)
    strict = simulate_fixed_step(theta0, phi, gamma, LOGISTIC, eta, max_log10_steps=math.log10(K),
                                 max_literal_steps=30_000, late_switch_tol=None)
    assert strict.stop_reason == "literal-steps" and strict.literal_steps == 30_000
