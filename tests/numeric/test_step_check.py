"""One-step consistency: the float64 step against mpmath, the rounding bound, ties, resolution, real digits."""
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from attnsvm import numeric
from attnsvm.numeric.batched import GROWTH, SHRINK
from attnsvm.numeric.gd import StepState, float64_step
from attnsvm.numeric.step_check import (MPData, StepReference, check_step, correctly_rounded, mp_step,
                                        reference_bits, rounding_bound)


def papers_data(seed, n=3, T=4, d=3, scale=2.0):
    """Gaussian tokens, unit v, random labels, W = I: Phi = X, gamma_it = Y_i v^T x_it."""
    rng = np.random.default_rng([11, seed])
    X = scale * rng.standard_normal((n, T, d))
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    Y = rng.choice([-1.0, 1.0], size=n)
    gamma = Y[:, None] * (X @ v)
    exact_phi = np.vectorize(Fraction, otypes=[object])(X)
    exact_gamma = np.array([[sum(Fraction(float(Y[i])) * Fraction(float(x)) * Fraction(float(w))
                                 for x, w in zip(X[i, t], v)) for t in range(T)] for i in range(n)], dtype=object)
    return X, gamma, exact_phi, exact_gamma


def run(X, gamma, iterations=300):
    return numeric.run_gd(np.zeros(X.shape[2]), X, gamma, numeric.LOGISTIC, max_iter=iterations, adaptive=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float64_steps_are_within_the_rounding_bound_and_the_bound_is_not_vacuous(seed):
    X, gamma, pe, ge = papers_data(seed)
    data = MPData(pe, ge, 50)
    kernel = numeric.StableAttention(X, gamma)
    ratios = []
    for cp in run(X, gamma).checkpoints:
        fs = float64_step(kernel, cp.theta.copy(), numeric.LOGISTIC, cp.step_state, method="normalized", step=1.0,
                          adaptive=True)
        bound = rounding_bound(kernel, cp.theta, numeric.LOGISTIC)
        row = check_step(fs.delta, fs.eta, StepReference(cp.theta, cp.step_state, data, numeric.LOGISTIC,
                                                         method="normalized", step=1.0, adaptive=True),
                         bound=bound, floor=0.0, turned64=fs.turned)
        assert row["consistent"] and row["rel_error"] <= bound, (cp.iteration, row)
        assert row["eta_mp"] == pytest.approx(row["eta_float64"], rel=1e-15)
        ratios.append(row["rel_error"] / bound)
        assert bound < 1e-10          # a few ulps times the condition, at these norms (<= 300)
    assert max(ratios) > 5e-3         # the bound is not loose: some step comes within a factor 200 of it


def test_a_perturbed_step_and_a_wrong_branch_are_inconsistent():
    X, gamma, pe, ge = papers_data(3)
    data = MPData(pe, ge, 50)
    kernel = numeric.StableAttention(X, gamma)
    cp = run(X, gamma, 100).checkpoints[-3]
    fs = float64_step(kernel, cp.theta.copy(), numeric.LOGISTIC, cp.step_state, method="normalized", step=1.0,
                      adaptive=True)
    ref = StepReference(cp.theta, cp.step_state, data, numeric.LOGISTIC, method="normalized", step=1.0, adaptive=True)
    bound = rounding_bound(kernel, cp.theta, numeric.LOGISTIC)
    assert check_step(fs.delta, fs.eta, ref, bound=bound, floor=1e-13, turned64=fs.turned)["consistent"]
    bent = fs.delta + 1e-9 * np.linalg.norm(fs.delta) * np.eye(len(fs.delta))[0]
    row = check_step(bent, fs.eta, ref, bound=bound, floor=1e-13, turned64=fs.turned)
    assert not row["consistent"] and 5e-10 < row["rel_error"] < 2e-9
    # the other branch of the zigzag rule, where the test <g_k, d_{k-1}> is far from 0, is wrong
    f = cp.step_state.factor
    other = f * GROWTH if fs.turned else f * SHRINK
    row = check_step(fs.unit * min(other, 1.0), min(other, 1.0), ref, bound=bound, floor=1e-13,
                     turned64=not fs.turned)
    assert abs(row["inner_mp"]) > 1e-3 and not row["tie"] and not row["consistent"]


def test_a_zigzag_test_within_rounding_of_zero_is_a_tie():
    X, gamma, pe, ge = papers_data(4)
    data = MPData(pe, ge, 50)
    kernel = numeric.StableAttention(X, gamma)
    theta = np.array([0.3, -0.7, 1.1])
    g = kernel.gradient(theta, numeric.LOGISTIC, scaled=True)
    u = g / np.linalg.norm(g)
    e = np.array([1.0, 0.0, 0.0])
    ortho = e - (e @ u) * u            # <u, ortho> is 0 up to rounding
    ortho /= np.linalg.norm(ortho)
    state = StepState(0.5, ortho)
    ref = StepReference(theta, state, data, numeric.LOGISTIC, method="normalized", step=1.0, adaptive=True)
    bound = rounding_bound(kernel, theta, numeric.LOGISTIC)
    assert abs(ref.get().inner) < 1e-15
    for turned, eta in ((True, 0.5 * SHRINK), (False, min(1.0, 0.5 * GROWTH))):   # both branches are correct
        row = check_step(eta * u, eta, ref, bound=bound, floor=1e-13, turned64=turned)
        assert row["consistent"], row


def test_a_step_below_float64_resolution_is_correctly_rounded():
    theta = np.array([1e6, -3e6])
    delta64 = np.zeros(2)                          # e.g. an underflowed fixed-step gradient
    tiny = [mpmath.mpf("1e-300"), mpmath.mpf("-2e-290")]
    assert correctly_rounded(theta, delta64, tiny)
    assert not correctly_rounded(theta, delta64, [mpmath.mpf(1), mpmath.mpf(0)])


def test_the_reference_carries_its_digits_and_agrees_with_itself_higher():
    X, gamma, pe, ge = papers_data(5)
    theta = np.array([2.0, -1.0, 0.5])
    state = StepState()
    lo = mp_step(theta, state, MPData(pe, ge, 50), numeric.LOGISTIC, method="normalized", step=1.0, adaptive=True)
    hi = mp_step(theta, state, MPData(pe, ge, 70), numeric.LOGISTIC, method="normalized", step=1.0, adaptive=True)
    with mpmath.workdps(80):
        assert max(abs(a - b) for a, b in zip(lo.delta, hi.delta)) < mpmath.mpf("1e-48")
    assert reference_bits(lo.delta) >= 160
    three = mp_step(theta, state, MPData(pe, ge, 3), numeric.LOGISTIC, method="normalized", step=1.0, adaptive=True)
    assert reference_bits(three.delta) < 20       # 3 digits show as a short mantissa


def test_fixed_step_is_checked_against_the_true_gradient():
    X, gamma, pe, ge = papers_data(6)
    data = MPData(pe, ge, 50)
    kernel = numeric.StableAttention(X, gamma)
    theta = np.array([0.4, 0.1, -0.3])
    state = StepState()
    fs = float64_step(kernel, theta.copy(), numeric.LOGISTIC, state, method="fixed", step=0.25)
    ref = StepReference(theta, state, data, numeric.LOGISTIC, method="fixed", step=0.25, adaptive=False)
    row = check_step(fs.delta, fs.eta, ref, bound=rounding_bound(kernel, theta, numeric.LOGISTIC, normalized=False),
                     floor=1e-13)
    assert row["consistent"] and row["rel_error"] < 1e-14
    g = numeric.gradient(theta, X, gamma, numeric.LOGISTIC)
    assert np.allclose(np.array([float(x) for x in ref.get().delta]), 0.25 * g, rtol=1e-13, atol=0)
