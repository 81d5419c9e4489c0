"""Tests of numeric.convergence: the one rule that decides converged / stalled / mixed / undecided, and the
rounds of growing budgets (decide_runs) with the zigzag step rule."""
import numpy as np

from attnsvm.numeric.convergence import (CONVERGED, MIXED, STALLED, UNDECIDED, decade_start, decide_runs,
                                         judge_run)
from attnsvm.numeric.gd import checkpoint_schedule

ITS = np.array(checkpoint_schedule(2000, 10))
U = np.array([1.0, 0.0])
W = np.array([0.0, 1.0])
CERTIFIED = {"certified": True, "radius": 1e-12}


def run(thetas, selected=None, omm=None, target=U, **kw):
    K = len(ITS)
    selected = np.zeros((K, 1), dtype=int) if selected is None else selected
    omm = np.exp(-np.linalg.norm(thetas, axis=1)) if omm is None else omm
    return judge_run(ITS, thetas, selected, omm, lambda sel: target, **kw)


def test_decade_start():
    k0 = decade_start(ITS)
    assert ITS[k0] == 200 and ITS[k0 + 1] > 200


def test_direction_approaching_p_mm_with_growing_norm_is_converged():
    thetas = ITS[:, None] * U + W          # 1 - corr ~ 1 / (2 k^2): falls 100x per decade
    j = run(thetas)
    assert j.status == CONVERGED and j.one_minus_corr < 1e-6 and j.one_minus_corr_start / j.one_minus_corr > 50


def test_settled_direction_away_from_p_mm_is_not_converged():
    thetas = ITS[:, None] * (U + 0.1 * W)   # a fixed direction: 1 - corr does not fall
    assert run(thetas).status == UNDECIDED


def _settled(grad_drop: bool):
    thetas = np.tile(50 * U + 1e-3 * W, (len(ITS), 1))
    thetas[-5:] += 1e-4                     # no motion outwards
    glog = np.linspace(-1, -9, len(ITS)) if grad_drop else np.full(len(ITS), -1.0)
    return thetas, glog


def test_a_stall_needs_a_vanishing_gradient_and_a_certificate():
    thetas, glog = _settled(True)
    assert run(thetas, grad_log10=glog, certify=lambda th: CERTIFIED).status == STALLED
    # the same run without a certificate, or with a refused one, is undecided: never a stall on its own
    assert run(thetas, grad_log10=glog).status == UNDECIDED
    assert run(thetas, grad_log10=glog, certify=lambda th: {"certified": False, "reason": "no zero"}).status == UNDECIDED


def test_a_zigzag_that_does_not_move_outwards_is_not_a_stall():
    thetas, glog = _settled(False)          # the gradient does not vanish: a zigzag, not a stationary point
    j = run(thetas, grad_log10=glog, certify=lambda th: CERTIFIED)
    assert j.status == UNDECIDED


def test_spread_attention_with_growing_norm_is_mixed():
    thetas = ITS[:, None] * (U + 0.3 * W) + 1.0
    j = run(thetas, omm=np.full(len(ITS), 0.4), target=None)
    assert j.status == MIXED


def test_selection_change_in_last_decade_is_undecided():
    thetas = ITS[:, None] * U + W
    sel = np.zeros((len(ITS), 1), dtype=int)
    sel[-3:] = 1
    j = run(thetas, selected=sel)
    assert j.status == UNDECIDED and "selection changed" in j.reason


PHI = np.array([[[-0.1, 1.0], [1.0, 0.0], [0.0, 0.0]]])   # single-input-local: keys of the three tokens
GAMMA = np.array([[1.0, 0.9, 0.0]])
P_MM = {(1,): np.array([1.0, 0.0]), (0,): np.array([-10.0, 100.0]) / 101}   # hand-solved p-SVMs


def test_decide_runs_on_a_real_problem_from_the_cone_of_the_local_token():
    # from inside the cone of token 1, normalised GD stays there (local convergence)
    out = decide_runs(np.array([[8.0, 0.1]]), PHI, GAMMA, "logistic", lambda b, sel: P_MM.get(sel),
                      budgets=(2000,), device="cpu")
    j = out.judgements[0]
    assert j.status == CONVERGED and j.selection == (1,)
    assert out.rounds == 1 and out.histories[0]["iterations"][-1] == 2000


def test_rounds_continue_only_the_undecided_runs_and_match_an_uninterrupted_run():
    theta0 = np.array([[8.0, 0.1], [0.0, 0.2]])
    # the first budget is too short to judge (no decade), the second decides: same result as one long round
    two = decide_runs(theta0, PHI, GAMMA, "logistic", lambda b, sel: P_MM.get(sel), budgets=(5, 3000), device="cpu")
    one = decide_runs(theta0, PHI, GAMMA, "logistic", lambda b, sel: P_MM.get(sel), budgets=(3000,), device="cpu")
    assert two.rounds == 2
    for a, b in zip(two.histories, one.histories):
        assert a["iterations"] == b["iterations"]
        np.testing.assert_allclose(a["theta_final"], b["theta_final"], rtol=0, atol=1e-9)
    assert [j.status for j in two.judgements] == [j.status for j in one.judgements]


def test_the_zigzag_rule_shortens_the_step_where_normalised_gd_overshoots():
    # a finite minimiser: with a constant step 1 normalised GD bounces around it for ever; with the rule the
    # step halves at every reversal, so the iterate settles and the gradient vanishes
    phi = np.array([[[1.0], [0.0]], [[-1.0], [0.0]]])     # two sequences pulling p in opposite directions
    gamma = np.array([[1.0, 0.0], [1.0, 0.0]])
    out = decide_runs(np.array([[0.3]]), phi, gamma, "logistic", lambda b, sel: None, budgets=(2000,), device="cpu",
                      certify=lambda b, th: {"certified": abs(th[0]) < 1e-6})
    h = out.histories[0]
    assert min(h["step"]) < 1e-6 and abs(h["theta_final"][0]) < 1e-6
    assert out.judgements[0].status == STALLED


def test_a_direction_settling_on_p_mm_without_norm_growth_is_not_converged():
    # ||theta|| = 1 throughout while the direction turns onto U (1 - corr falls 100x over the decade): the norm
    # does not diverge, so this is no directional limit of a diverging run
    thetas = ITS[:, None] * U + W
    thetas = thetas / np.linalg.norm(thetas, axis=1)[:, None]
    j = run(thetas)
    assert j.status == UNDECIDED and j.growth == 1.0 and "grew only" in j.reason


def test_a_direction_still_1e_2_from_p_mm_is_not_converged_at_the_tolerance():
    # theta_k = k U + 285 W: 1 - corr = 1 - k / sqrt(k^2 + 285^2) is about 1e-2 at k = 2000, fell ~40x over the
    # decade while ||theta|| grew ~6x; converged only for a tolerance above 1e-2
    thetas = ITS[:, None] * U + 285.0 * W
    j = run(thetas)
    assert 0.009 < j.one_minus_corr < 0.011
    assert j.status == UNDECIDED and "> 0.001" in j.reason
    assert run(thetas, tol=0.02).status == CONVERGED
