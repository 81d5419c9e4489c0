"""The extrapolated linearly implicit Euler integrator: its order, its stability far beyond explicit limits,
exactness on the linear-in-time solutions the attention flow approaches, and the mpmath backend."""
import math

import mpmath
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from attnsvm.numeric import FLOAT64, MPMATH, LIEIntegrator, lie_extrapolation_step
from attnsvm.numeric.extrapolation import extrapolation_weights, lie_extrapolation_step_rows


def scalar_problem():
    """y' = -y cos t + t (non-autonomous), with df/dy = -cos t and df/dt = y sin t + 1."""
    return (lambda t, y: np.array([-y[0] * math.cos(t) + t]), lambda t, y: np.array([[-math.cos(t)]]),
            lambda t, y, f: np.array([y[0] * math.sin(t) + 1]))


def reference(t0, y0, t1):
    return solve_ivp(lambda t, y: -y * math.cos(t) + t, (t0, t1), [y0], method="DOP853", rtol=2.3e-14,
                     atol=1e-16).y[0, -1]


@pytest.mark.parametrize("order", [2, 4, 6])
def test_local_error_has_order_K_plus_one(order):
    rhs, jac, dfdt = scalar_problem()
    errs = []
    for H in (0.2, 0.1):
        out = lie_extrapolation_step(rhs, jac, dfdt, 0.3, np.array([1.0]), H, order, FLOAT64, 1e-12, 1e-12)
        errs.append(abs(out.y[0] - reference(0.3, 1.0, 0.3 + H)))
    slope = math.log2(errs[0] / errs[1])
    assert order + 0.5 < slope < order + 1.8


def test_adaptive_integration_reaches_its_tolerance():
    rhs, jac, dfdt = scalar_problem()
    integ = LIEIntegrator(rhs, jac, dfdt, FLOAT64, order=8, rtol=1e-12, atol=1e-12, h0=0.01)
    t, y = 0.0, np.array([1.0])
    while t < 5.0:
        t, y = integ.advance(t, y, 5.0)
    assert t == 5.0
    assert abs(y[0] - reference(0.0, 1.0, 5.0)) < 1e-10
    assert integ.stats.rejected < integ.stats.accepted


def test_stiff_linear_system_with_steps_far_beyond_the_explicit_limit():
    """y' = A y + b(t) with eigenvalues -1 and -1e4: the fast mode decays, steps then reach h ||A|| >> 3.
    Exact solution: y1 = (sin t - cos t)/2 + 1.5 e^{-t}, y2 = 1e-4 + (1 - 1e-4) e^{-1e4 t}."""
    A = np.array([[-1.0, 0.0], [0.0, -1e4]])
    rhs = lambda t, y: A @ y + np.array([math.sin(t), 1.0])   # noqa: E731
    integ = LIEIntegrator(rhs, lambda t, y: A, lambda t, y, f: np.array([math.cos(t), 0.0]), FLOAT64, order=6,
                          rtol=1e-10, atol=1e-12, h0=1e-4, stiffness=lambda: 1e4)
    t, y = 0.0, np.array([1.0, 1.0])
    while t < 20.0:
        t, y = integ.advance(t, y, 20.0)
    ref = np.array([(math.sin(20) - math.cos(20)) / 2 + 1.5 * math.exp(-20), 1e-4])
    assert np.allclose(y, ref, rtol=1e-8, atol=1e-10)
    assert integ.stats.max_stiffness > 100
    assert integ.stats.accepted < 400


def test_exact_on_the_asymptotic_attention_flow():
    """y' = e^t F(y) with F(y) = -e^{-<a, y>} c a (one support vector, the flow of an exponential tail):
    y(t) = a t/|a|^2 + const; with J and df/dt exact one step of any size reproduces it."""
    a = np.array([0.6, 0.8])
    c = 1.0

    def rhs(t, y):
        return math.exp(t) * c * math.exp(-a @ y) * a

    def jac(t, y):
        return -math.exp(t) * c * math.exp(-a @ y) * np.outer(a, a)

    y0 = np.array([0.3, -0.2])
    y0 = y0 + a * (math.log(c) - a @ y0)          # on the solution y = a t + y0 at t = 0
    for H in (1.0, 100.0):
        out = lie_extrapolation_step(rhs, jac, lambda t, y, f: f, 0.0, y0, H, 6, FLOAT64, 1e-12, 1e-12)
        assert np.allclose(out.y, y0 + a * H, rtol=1e-11, atol=0)   # rounding of e^t e^{-<a, y>} at t = 100


def test_large_offsets_do_not_spoil_the_error_estimate():
    """The table holds increments: integrating y' = cos t from y0 = 1e8 is as accurate as from 0 (a table
    of values would round each entry to 1.5e-8 and the extrapolation weights, ~3000 for K = 8, would
    amplify that to ~1e-5)."""
    rhs = lambda t, y: np.array([math.cos(t)])   # noqa: E731
    jac = lambda t, y: np.zeros((1, 1))          # noqa: E731
    dfdt = lambda t, y, f: np.array([-math.sin(t)])   # noqa: E731
    out = lie_extrapolation_step(rhs, jac, dfdt, 0.3, np.array([1e8]), 0.2, 8, FLOAT64, 1e-16, 1e-16)
    assert abs((out.y[0] - 1e8) - (math.sin(0.5) - math.sin(0.3))) <= 2e-8    # the rounding of y1 itself
    assert out.err < 10


def test_mpmath_backend_reaches_high_precision():
    with mpmath.workdps(30):
        integ = LIEIntegrator(lambda t, y: np.array([-y[0] * mpmath.cos(t) + t], dtype=object),
                              lambda t, y: np.array([[-mpmath.cos(t)]], dtype=object),
                              lambda t, y, f: np.array([y[0] * mpmath.sin(t) + 1], dtype=object),
                              MPMATH, order=10, rtol=1e-24, atol=1e-24, h0=mpmath.mpf("0.05"))
        t, y = mpmath.mpf(0), np.array([mpmath.mpf(1)], dtype=object)
        while t < 1:
            t, y = integ.advance(t, y, mpmath.mpf(1))
        exact = mpmath.odefun(lambda t, y: -y * mpmath.cos(t) + t, 0, 1)(1)
        assert abs(y[0] - exact) < 1e-22


def test_step_budget_is_a_count():
    rhs, jac, dfdt = scalar_problem()
    integ = LIEIntegrator(rhs, jac, dfdt, FLOAT64, order=4, rtol=1e-14, atol=1e-14, h0=0.5, max_steps=3)
    t, y = 0.0, np.array([1.0])
    steps = 0
    while True:
        out = integ.advance(t, y, 50.0)
        if out is None:
            break
        t, y = out
        steps += 1
    assert integ.exhausted and integ.stats.accepted + integ.stats.rejected == 3 and steps <= 3


def coupled_problem():
    """y' = A(t) y + sin(y) (nonlinear, non-autonomous, D = 3), one point or a stack of points at once."""
    A = np.array([[-1.0, 0.3, 0.0], [0.2, -2.0, 0.5], [0.0, -0.4, -3.0]])

    def rhs(t, y):
        return math.cos(t) * (A @ y) + np.sin(y)

    def rows(ts, ys):
        return np.cos(ts)[:, None] * (ys @ A.T) + np.sin(ys)

    def jac(t, y):
        return math.cos(t) * A + np.diag(np.cos(y))

    return rhs, rows, jac, lambda t, y, f: -math.sin(t) * (A @ y)


@pytest.mark.parametrize("order", [1, 2, 3, 6, 8])
def test_rows_step_is_the_sequential_step(order):
    """The rows advanced together, and the extrapolation in closed form, give the sequential step's value and error
    estimate (to rounding), with the same count of right-side points; the estimates of every lower order j are
    those of a step of order j."""
    rhs, rows, jac, dfdt = coupled_problem()
    y0 = np.array([0.7, -1.2, 2.5])
    seq = lie_extrapolation_step(rhs, jac, dfdt, 0.4, y0, 0.3, order, FLOAT64, 1e-12, 1e-12)
    par = lie_extrapolation_step_rows(rhs, rows, jac, dfdt, 0.4, y0, 0.3, order, 1e-12, 1e-12)
    assert np.allclose(par.y, seq.y, rtol=1e-13, atol=1e-13)     # weights up to ~3400: rounding of the combination
    assert par.err == pytest.approx(seq.err, rel=1e-6, abs=1e-3)
    assert par.evaluations == seq.evaluations == 1 + order * (order - 1) // 2
    if order >= 2:
        assert par.order_errors[-1] == par.err
        for j in range(2, order):
            low = lie_extrapolation_step(rhs, jac, dfdt, 0.4, y0, 0.3, j, FLOAT64, 1e-12, 1e-12)
            assert par.order_errors[j - 2] == pytest.approx(low.err, rel=1e-6, abs=1e-3)


def test_extrapolation_weights_are_the_aitken_neville_table():
    inv_j, w, w_err, E = extrapolation_weights(8)
    assert np.allclose(inv_j, 1.0 / np.arange(1, 9))
    assert sum(w) == pytest.approx(1.0, abs=1e-12) and abs(w).sum() == pytest.approx(3391.914, rel=1e-6)
    assert np.array_equal(E[-1], w_err) and np.allclose(E.sum(axis=1), 0.0, atol=1e-9)
    T = np.random.default_rng(3).standard_normal(8)      # T_{j,1}: the recursion of the sequential step
    table = []
    for j in range(1, 9):
        row = [T[j - 1]]
        for k in range(1, j):
            row.append(row[k - 1] + (row[k - 1] - table[j - 2][k - 1]) * (j - k) / k)
        table.append(row)
    assert w @ T == pytest.approx(table[-1][-1], rel=1e-12)
    assert w_err @ T == pytest.approx(table[-1][-1] - table[-1][-2], rel=1e-9)


def test_steps_shortened_by_their_end_run_at_a_lower_order():
    """Integrating to many close end points (checkpoints): with min_order the shortened steps drop to a lower
    order, with fewer right-side points, and the result keeps the tolerance."""
    rhs, rows, jac, dfdt = coupled_problem()
    y0 = np.array([0.7, -1.2, 2.5])
    ref = solve_ivp(lambda t, y: rhs(t, y), (0.0, 2.0), y0, method="DOP853", rtol=1e-13, atol=1e-14).y[:, -1]
    counts = {}
    for min_order in (8, 3):
        integ = LIEIntegrator(rhs, jac, dfdt, FLOAT64, order=8, rtol=1e-10, atol=1e-10, h0=0.05,
                              rhs_rows=rows, min_order=min_order)
        t, y = 0.0, y0
        for t_end in np.arange(1, 101) * 0.02:
            while t < t_end:
                t, y = integ.advance(t, y, float(t_end))
        assert np.allclose(y, ref, rtol=1e-9, atol=1e-9)
        counts[min_order] = integ.stats
    assert counts[8].reduced_order == 0 and counts[3].reduced_order > 50
    assert counts[3].evaluations < 0.6 * counts[8].evaluations
