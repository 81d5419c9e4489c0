"""Tests of numeric.convergence: the rule that decides converged / stalled / mixed / undecided."""
import numpy as np

from attnsvm.numeric.convergence import (CONVERGED, MIXED, STALLED, UNDECIDED, continue_and_judge, decade_start,
                                 judge_run)
from attnsvm.numeric.gd import checkpoint_schedule

ITS = np.array(checkpoint_schedule(2000, 10))
U = np.array([1.0, 0.0])
W = np.array([0.0, 1.0])


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


def test_norm_that_stops_growing_is_stalled():
    thetas = np.tile(50 * U + 1e-3 * W, (len(ITS), 1))
    thetas[-5:] += 1e-4                     # direction ~ p_mm but no motion outwards
    assert run(thetas).status == STALLED


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


def test_continue_and_judge_on_a_real_problem():
    # single-input-local from inside the cone of token 1: normalised GD stays there
    phi = np.array([[[-0.1, 1.0], [1.0, 0.0], [0.0, 0.0]]])
    gamma = np.array([[1.0, 0.9, 0.0]])
    p_mm = {(1,): np.array([1.0, 0.0])}     # hand-solved: p.(1.1, -1) >= 1, p_x >= 1
    js = continue_and_judge(np.array([[8.0, 0.1]]), phi[None], gamma[None], "logistic",
                            lambda b, sel: p_mm.get(sel), iterations=2000, device="cpu")
    assert js[0].status == CONVERGED and js[0].selection == (1,)
