"""mpmath GD: precision is a real parameter, it agrees with float64 and with its reference kernel, and it keeps
the loss and 1 - s_selected where float64 underflows."""
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from attnsvm import numeric
from attnsvm.numeric import mp_norm, mp_unit_distance, run_gd_mp
from attnsvm.verify.builtins import builtin


@pytest.fixture(scope="module")
def multi():
    ds = builtin("multi-input")
    return ds, ds.features_exact(), ds.gamma_exact, numeric.LOGISTIC


def test_50_and_100_digits_agree_to_45_digits_after_1000_steps(multi):
    ds, phi, gamma, loss = multi
    a = run_gd_mp(ds.inits[0], phi, gamma, loss, dps=50, max_iter=1000, time_budget=1e9).final
    b = run_gd_mp(ds.inits[0], phi, gamma, loss, dps=100, max_iter=1000, time_budget=1e9).final
    f = numeric.run_gd(ds.inits[0], ds.features(), ds.gamma, loss, max_iter=1000, time_budget=1e9).final
    assert a.iteration == b.iteration == 1000
    with mpmath.workdps(120):
        dist = mp_unit_distance(a.theta, b.theta)
        rel = mp_norm([x - y for x, y in zip(a.theta, b.theta)]) / mp_norm(b.theta)
        assert dist < mpmath.mpf("1e-45") and rel < mpmath.mpf("1e-45")
        # ... and the precision is real: 50 digits is not 100 digits, and float64 is far coarser
        assert dist > mpmath.mpf("1e-80")
        assert mp_unit_distance(f.theta, b.theta) > mpmath.mpf("1e-20")


def test_fast_kernel_agrees_with_reference_kernel(multi):
    ds, phi, gamma, loss = multi
    for method, step in (("normalized", 1.0), ("fixed", 2.0)):
        a = run_gd_mp(ds.inits[1], phi, gamma, loss, dps=30, method=method, step=step, max_iter=15)
        b = run_gd_mp(ds.inits[1], phi, gamma, loss, dps=30, method=method, step=step, max_iter=15,
                      kernel="reference")
        assert [c.iteration for c in a.checkpoints] == [c.iteration for c in b.checkpoints]
        with mpmath.workdps(40):
            for ca, cb in zip(a.checkpoints[1:], b.checkpoints[1:]):
                assert mp_norm([x - y for x, y in zip(ca.theta, cb.theta)]) < mpmath.mpf("1e-27") * mp_norm(cb.theta)


@pytest.mark.parametrize("method,step", [("normalized", 1.0), ("fixed", 1.0)])
def test_agrees_with_float64_to_near_float64_precision(multi, method, step):
    ds, phi, gamma, loss = multi
    a = run_gd_mp(ds.inits[0], phi, gamma, loss, dps=30, method=method, step=step, max_iter=300)
    f = numeric.run_gd(ds.inits[0], ds.features(), ds.gamma, loss, method=method, step=step, max_iter=300)
    assert [c.iteration for c in a.checkpoints] == [c.iteration for c in f.checkpoints]
    for ca, cf in zip(a.checkpoints[1:], f.checkpoints[1:]):
        assert ca.selected == cf.selected
        with mpmath.workdps(40):
            assert mp_unit_distance(ca.theta, cf.theta) < 1e-13
        assert ca.loss == pytest.approx(cf.loss, rel=1e-12)


def test_nonzero_excess_loss_and_tail_mass_where_float64_reports_zero(multi):
    """At ||p|| in the thousands float64 has 1 - s_selected = 0 (underflow) and L equal to L_alpha = (1/n) sum
    l(gamma_alpha) exactly (the excess L - L_alpha is 0); mpmath keeps both, and its values agree with a
    direct evaluation (1 - softmax, L - L_alpha as plain differences) at enough digits to survive the
    cancellation."""
    ds, phi, gamma, loss = multi
    mp_run = run_gd_mp(ds.inits[0], phi, gamma, loss, dps=30, max_iter=1500, time_budget=1e9)
    f_run = numeric.run_gd(ds.inits[0], ds.features(), ds.gamma, loss, max_iter=1500, time_budget=1e9)
    cm, cf = mp_run.final, f_run.final
    assert cm.norm > 1000 and cm.selected == cf.selected
    rows = np.arange(ds.n)
    l_alpha64 = float(np.mean(loss.value(ds.gamma[rows, list(cf.selected)])))
    assert cf.one_minus_mass == 0.0 and cf.loss - l_alpha64 == 0.0
    assert cm.one_minus_mass == 0.0  # its float field underflows too ...
    assert cm.one_minus_mass_mp > 0 and cm.excess_loss_mp > 0  # ... the mpmath values do not
    assert cm.loss_mp > l_alpha64 * (1 - 1e-15) and cm.grad_norm_mp > 0
    digits = int(-mpmath.log10(cm.one_minus_mass_mp)) + 60
    with mpmath.workdps(digits):
        q = numeric.mp_logits(cm.theta, phi, digits)
        direct_omm = max(1 - mpmath.exp(q[i, a]) / mpmath.fsum(mpmath.exp(x) for x in q[i]) for i, a in
                         enumerate(cm.selected))
        s = [[mpmath.exp(x) / mpmath.fsum(mpmath.exp(y) for y in q[i]) for x in q[i]] for i in range(ds.n)]
        g = numeric.mp_array(gamma)
        u = [mpmath.fsum(s[i][t] * g[i, t] for t in range(ds.T)) for i in range(ds.n)]
        direct_exc = mpmath.fsum(loss.mp_value(u[i]) - loss.mp_value(g[i, a]) for i, a in enumerate(cm.selected)) / ds.n
        assert abs(direct_omm / cm.one_minus_mass_mp - 1) < mpmath.mpf("1e-25")
        assert abs(direct_exc / cm.excess_loss_mp - 1) < mpmath.mpf("1e-25")


def test_bad_arguments():
    ds = builtin("single-input-global")
    with pytest.raises(ValueError, match="dps"):
        run_gd_mp(ds.inits[0], ds.features(), ds.gamma, numeric.LOGISTIC, dps=0)
    with pytest.raises(ValueError, match="kernel"):
        run_gd_mp(ds.inits[0], ds.features(), ds.gamma, numeric.LOGISTIC, kernel="gpu")
    with pytest.raises(ValueError, match="entries"):
        run_gd_mp([1.0, 2.0], ds.features(), ds.gamma, numeric.LOGISTIC)


def test_small_features_keep_full_precision(multi):
    """Phi -> c Phi, theta -> theta / c, step -> step / c (c = 2^-100) leaves the logits and the normalised GD
    iterates theta_k / c unchanged in exact arithmetic; fixed point must not lose the 100 bits."""
    ds, phi, gamma, loss = multi
    c = Fraction(1, 2**100)
    a = run_gd_mp(ds.inits[1], phi, gamma, loss, dps=30, max_iter=50).final
    b = run_gd_mp([x / c for x in ds.inits[1]], phi * c, gamma, loss, dps=30, step=1 / c, max_iter=50).final
    with mpmath.workdps(40):
        scaled = [x * mpmath.ldexp(1, -100) for x in b.theta]
        assert mp_norm([x - y for x, y in zip(scaled, a.theta)]) < mpmath.mpf("1e-29") * mp_norm(a.theta)


def test_losses_without_a_closed_form_go_through_mp_derivative(multi):
    """A user loss (here e^{-u} under another name, and with a deliberately wrong derivative) takes the
    generic path: same run as the built-in for the right derivative, a different one for the wrong one."""
    ds, phi, gamma, _ = multi
    exp_loss = numeric.EXPONENTIAL
    same = numeric.Loss(name="user", value=None, derivative=None, mp_value=lambda u: mpmath.exp(-u),
                        mp_derivative=lambda u: -mpmath.exp(-u))
    wrong = numeric.Loss(name="exponential", value=None, derivative=None, mp_value=lambda u: mpmath.exp(-u),
                         mp_derivative=lambda u: -mpmath.exp(-2 * u))  # named like a built-in, but not it
    a = run_gd_mp(ds.inits[0], phi, gamma, exp_loss, dps=30, max_iter=30).final
    b = run_gd_mp(ds.inits[0], phi, gamma, same, dps=30, max_iter=30).final
    c = run_gd_mp(ds.inits[0], phi, gamma, wrong, dps=30, max_iter=30).final
    ref = run_gd_mp(ds.inits[0], phi, gamma, wrong, dps=30, max_iter=30, kernel="reference").final
    with mpmath.workdps(40):
        assert mp_unit_distance(a.theta, b.theta) < mpmath.mpf("1e-28")
        assert mp_unit_distance(a.theta, c.theta) > mpmath.mpf("1e-12")
        assert mp_unit_distance(c.theta, ref.theta) < mpmath.mpf("1e-28")


def test_zigzag_step_rule_agrees_with_float64_and_continues_exactly(multi):
    """adaptive=True: the same step sizes as float64's zigzag rule; a run continued from a checkpoint's
    step_state is the uninterrupted run; the reference kernel takes the same steps."""
    loss = multi[3]
    rng = np.random.default_rng(0)       # Gaussian tokens of scale 2: normalised GD zigzags here
    X = 2.0 * rng.standard_normal((3, 4, 3))
    g = np.sign(rng.standard_normal(3))[:, None] * (X @ rng.standard_normal(3))
    phi, gamma = np.vectorize(Fraction, otypes=[object])(X), np.vectorize(Fraction, otypes=[object])(g)
    init = np.zeros(3)
    f = numeric.run_gd(init, X, g, loss, max_iter=200, adaptive=True)
    a = run_gd_mp(init, phi, gamma, loss, dps=30, max_iter=200, adaptive=True)
    assert [c.iteration for c in a.checkpoints] == [c.iteration for c in f.checkpoints]
    assert any(c.step < 1.0 for c in f.checkpoints)          # the rule shortened some steps
    for ca, cf in zip(a.checkpoints[1:], f.checkpoints[1:]):
        assert ca.step == pytest.approx(cf.step, rel=1e-12)
        with mpmath.workdps(40):
            assert mp_unit_distance(ca.theta, cf.theta) < 1e-9   # (the dynamics amplifies float64's rounding)
    half = run_gd_mp(init, phi, gamma, loss, dps=30, max_iter=100, adaptive=True)
    rest = run_gd_mp(half.final.theta, phi, gamma, loss, dps=30, max_iter=200, adaptive=True,
                     state=half.final.step_state, start=100)
    assert [c.iteration for c in rest.checkpoints] == [c.iteration for c in a.checkpoints if c.iteration >= 100]
    assert all(x == y for x, y in zip(rest.final.theta, a.final.theta))
    ref = run_gd_mp(init, phi, gamma, loss, dps=30, max_iter=20, adaptive=True, kernel="reference")
    with mpmath.workdps(40):
        for cr, ca in zip(ref.checkpoints[1:], a.checkpoints[1:]):
            assert cr.iteration == ca.iteration and cr.step == pytest.approx(ca.step, rel=1e-25)
            assert mp_norm([x - y for x, y in zip(cr.theta, ca.theta)]) < mpmath.mpf("1e-26") * mp_norm(ca.theta)


def test_continues_from_a_float64_checkpoint(multi):
    """A float64 checkpoint's exact iterate and step_state start an mpmath run at its iteration."""
    ds, phi, gamma, loss = multi
    f = numeric.run_gd(np.zeros(3), ds.features(), ds.gamma, loss, max_iter=100, adaptive=True)
    cp = next(c for c in f.checkpoints if c.iteration == 40)
    m = run_gd_mp(cp.theta, phi, gamma, loss, dps=30, max_iter=100, adaptive=True, state=cp.step_state, start=40)
    assert m.checkpoints[0].iteration == 40 and all(x == y for x, y in zip(m.checkpoints[0].theta, cp.theta))
    assert m.checkpoints[1].iteration == 50 and m.checkpoints[1].step == pytest.approx(
        next(c for c in f.checkpoints if c.iteration == 50).step, rel=1e-14)


def test_step_rule_with_a_base_growing_with_the_norm(multi):
    """relative = rho > 0: eta_k = f_k max(step, rho ||theta_k||) in both backends, and the one-step reference
    (numeric.step_check) takes the same step."""
    from attnsvm.numeric.step_check import MPData, mp_step

    loss = multi[3]
    rng = np.random.default_rng(1)
    X = 2.0 * rng.standard_normal((2, 3, 3))
    g = np.sign(rng.standard_normal(2))[:, None] * (X @ rng.standard_normal(3))
    phi, gamma = np.vectorize(Fraction, otypes=[object])(X), np.vectorize(Fraction, otypes=[object])(g)
    f = numeric.run_gd(np.ones(3), X, g, loss, max_iter=60, adaptive=True, relative=0.05)
    a = run_gd_mp(np.ones(3), phi, gamma, loss, dps=30, max_iter=60, adaptive=True, relative=0.05)
    assert any(c.step > 1.0 for c in f.checkpoints)          # the base grew with ||theta||
    for ca, cf in zip(a.checkpoints[1:], f.checkpoints[1:]):
        assert ca.step == pytest.approx(cf.step, rel=1e-12)
    cp = f.checkpoints[-2]
    ref = mp_step(cp.theta, cp.step_state, MPData(phi, gamma, 50), loss, method="normalized", step=1.0,
                  adaptive=True, relative=0.05)
    assert float(ref.eta) == pytest.approx(cp.step, rel=1e-14)
