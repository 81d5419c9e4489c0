"""numeric.regpath: the log-domain objective against mpmath, projected GD, and the regularisation paths
of the joint-relaxed data against hand-derived SVM directions."""
import mpmath
import numpy as np
import pytest

from attnsvm.numeric import LOGISTIC, EXPONENTIAL, one_minus_corr
from attnsvm.numeric import regpath as rp
from attnsvm.numeric.joint import scores

X = np.array([[[0, 0], [1, 1]], [[0, 0], [1, -1]], [[0, 0], [0.5, 1.5]]], float)
Y = np.array([1.0, -1.0, 1.0])
GAMMA = scores(np.array([0.0, 1.0]), X, Y)
P_PLAIN = [1.25, 0.25]    # min ||p|| s.t. p.(1,1) >= 1, p.(1,-1) >= 1, p.(0.5,1.5) >= 1 (by hand)
P_RELAXED = [1.0, 0.0]    # the same with the last margin 0


def mp_log_excess(p, gamma, loss, dps):
    """log(L(p) - L*) straight from the definition in mpmath."""
    with mpmath.workdps(dps):
        total = 0
        for i in range(X.shape[0]):
            q = [mpmath.mpf(float(X[i, t] @ p)) for t in range(X.shape[1])]
            e = [mpmath.exp(x) for x in q]
            s = [x / mpmath.fsum(e) for x in e]
            u = mpmath.fsum(s[t] * mpmath.mpf(gamma[i, t]) for t in range(len(s)))
            g = mpmath.mpf(max(gamma[i]))
            total += loss.mp_value(u) - loss.mp_value(g)
        return mpmath.log(total / X.shape[0])


@pytest.mark.parametrize("loss", [LOGISTIC, EXPONENTIAL])
@pytest.mark.parametrize("p", [[0.3, -0.2], [4.0, 1.0], [900.0, 10.0]])
def test_objective_matches_mpmath(loss, p):
    p = np.array(p)
    F, g = rp.p_objective(p, X, GAMMA, loss)
    dps = 40 + int(np.abs(X @ p).max())
    assert F == pytest.approx(float(mp_log_excess(p, GAMMA, loss, dps)), rel=1e-11, abs=1e-11)
    h = 1e-6
    fd = [(rp.p_objective(p + h * e, X, GAMMA, loss)[0] - rp.p_objective(p - h * e, X, GAMMA, loss)[0]) / (2 * h)
          for e in np.eye(2)]
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


def test_ball_minimize_quadratic():
    c = np.array([3.0, 4.0])
    res = rp.ball_minimize(lambda x: (0.5 * float((x - c) @ (x - c)), x - c), np.zeros(2), 2.0)
    np.testing.assert_allclose(res.x, c / 5 * 2, atol=1e-9)
    res = rp.ball_minimize(lambda x: (0.5 * float((x - c) @ (x - c)), x - c), np.zeros(2), 10.0)
    np.testing.assert_allclose(res.x, c, atol=1e-9)


def test_p_path_tends_to_plain_svm():
    path = rp.p_path(X, GAMMA, LOGISTIC, [10.0, 100.0, 1000.0], directions=[P_PLAIN], n_random=1)
    omc = [one_minus_corr(pt.x, P_PLAIN) for pt in path]
    assert omc[-1] < 1e-6
    assert omc[0] > 30 * omc[1] > 900 * omc[2]
    assert all(pt.reached >= 1 and pt.starts == 3 for pt in path[1:])


def test_joint_path_tends_to_relaxed_svm():
    path = rp.joint_path(X, Y, X, LOGISTIC, [10.0, 100.0, 1000.0], starts=[([0, 1], P_RELAXED)], n_random=1)
    last = path[-1]
    assert np.linalg.norm(last.v) == pytest.approx(1000.0)
    assert one_minus_corr(last.v, [0, 1]) < 1e-12
    assert one_minus_corr(last.x, P_RELAXED) < 1e-6
    assert one_minus_corr(last.x, P_PLAIN) > 1e-2
    assert one_minus_corr(path[0].x, P_RELAXED) > 10 * one_minus_corr(path[1].x, P_RELAXED)


def test_geometric_radii():
    assert rp.geometric_radii(0.1, 100, 1) == pytest.approx([0.1, 1, 10, 100])


def test_objective_correlation_loss_is_log_deficit():
    from attnsvm.numeric import CORRELATION
    p = np.array([2.0, 0.5])
    F, _ = rp.p_objective(p, X, GAMMA, CORRELATION)
    q = X @ p
    s = np.exp(q) / np.exp(q).sum(axis=1, keepdims=True)
    deficit = (s * (GAMMA.max(axis=1, keepdims=True) - GAMMA)).sum(axis=1)
    assert F == pytest.approx(np.log(deficit.mean()), rel=1e-12)


# --- the lean objectives and the spectral ball solver against the plain implementations they replaced ---------------

def reference_p_objective(p, phi, gamma, loss, gap=None):
    """F_p and grad F_p from a fresh attention state, literally the formulas of the module docstring."""
    from attnsvm.numeric.attention import attention_state
    from attnsvm.numeric.joint import log_neg_derivative
    st = attention_state(p, phi, gamma)
    c = gamma.max(axis=1)[:, None] - gamma if gap is None else gap
    log_s = st.r - np.log1p(st.tail_sum)[:, None]
    with np.errstate(divide="ignore"):
        terms = np.where(c > 0, log_s + np.log(np.where(c > 0, c, 1.0)), -np.inf)
    log_delta = np.array([float(mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(x)) for x in row))) for row in terms])
    gs = gamma.max(axis=1)
    with mpmath.workdps(60):   # log(l(g* - delta) - l(g*)) in high precision, straight from the definition
        lex = []
        for g, ld in zip(gs, log_delta):
            d = mpmath.exp(mpmath.mpf(ld))
            lex.append(mpmath.log(loss.mp_value(mpmath.mpf(g) - d) - loss.mp_value(mpmath.mpf(g))))
        M = max(lex)
        den = mpmath.fsum(mpmath.exp(x - M) for x in lex)
        F = float(mpmath.log(den) + M - mpmath.log(len(lex)))
        lam = log_neg_derivative(loss, st.u) - float(M)
    w = np.exp(np.where(st.mask, log_s, -np.inf) + lam[:, None]) * (st.dgamma + st.gap[:, None])
    return F, -np.einsum("it,itd->d", w, st.dphi) / float(den)


def plain_projected_gd(fun, x0, radius, max_iter=300, tol=1e-11):
    """The solver the spectral one replaced: step x -> proj(x - t g), Armijo, t doubled after an accepted step and
    halved after a rejected one (same acceptance and stopping rules)."""
    x = rp.project_ball(np.asarray(x0, dtype=float).copy(), radius)
    F, g = fun(x)
    t, scale, reason = 1.0, max(1.0, radius), "iterations"
    for _ in range(max_iter):
        if np.linalg.norm(x - rp.project_ball(x - g, radius)) <= tol * scale:
            reason = "converged"
            break
        while True:
            xn = rp.project_ball(x - t * g, radius)
            d = xn - x
            Fn, gn = fun(xn)
            if Fn <= F + 1e-4 * float(g @ d) or (abs(Fn - F) <= 8e-16 * max(1.0, abs(F)) and float(gn @ d) <= 0):
                break
            t *= 0.5
            if t < 1e-30:
                return x, F, "rounding"
        x, F, g = xn, Fn, gn
        t = min(t * 2.0, 1e8)
    return x, F, reason


def random_problem(seed, n=3, T=4, D=2):
    rng = np.random.default_rng(seed)
    phi = rng.standard_normal((n, T, D))
    gamma = rng.standard_normal((n, T))
    return rng, phi, gamma


@pytest.mark.parametrize("loss", [LOGISTIC, EXPONENTIAL])
def test_lean_p_objective_matches_the_reference_along_a_path(loss):
    """One PObjective evaluated along a walk that changes the dominant tokens (cached differences refreshed) gives
    the values and gradients of the fresh, high-precision reference at every point."""
    rng, phi, gamma = random_problem(1)
    gap = np.maximum(gamma.max(axis=1)[:, None] - gamma, 0.0)
    f = rp.PObjective(phi, gamma, loss, gap)
    refreshes = []
    for k in range(12):
        p = rng.standard_normal(2) * 10 ** rng.uniform(-1, 2.5)
        F, g = f(p)
        Fr, gr = reference_p_objective(p, phi, gamma, loss, gap)
        assert F == pytest.approx(Fr, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(g, gr, rtol=1e-11, atol=1e-14 * np.linalg.norm(gr))
        refreshes.append(f.att.refreshes)
    assert refreshes[-1] > 1          # the walk did move the dominant tokens


def test_lean_v_objective_matches_mpmath():
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((4, 3))
    Y = rng.choice([-1.0, 1.0], 4)
    for scale in (0.3, 30.0, 3000.0):
        v = rng.standard_normal(3) * scale
        F, g = rp.VObjective(Z, Y, LOGISTIC)(v)
        with mpmath.workdps(50):
            u = [mpmath.mpf(float(Y[i])) * mpmath.fsum(mpmath.mpf(float(Z[i, k])) * mpmath.mpf(float(v[k]))
                                                      for k in range(3)) for i in range(4)]
            Lsum = mpmath.fsum(LOGISTIC.mp_value(x) for x in u)
            Fm = mpmath.log(Lsum / 4)
            gm = [mpmath.fsum(LOGISTIC.mp_derivative(u[i]) * float(Y[i]) * float(Z[i, k]) for i in range(4)) / Lsum
                  for k in range(3)]
        assert F == pytest.approx(float(Fm), rel=1e-13, abs=1e-13)
        np.testing.assert_allclose(g, [float(x) for x in gm], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("radius", [10.0, 100.0])
def test_spectral_solver_matches_the_plain_one(seed, radius):
    """The solver ends on the minimiser of the plain projected GD it replaced (1e-8 relative) with the same value
    (1e-10 relative), in fewer evaluations overall. The plain solver gets a larger budget (it needs more than 300
    iterations on some of these); where even 3000 do not reach the tolerance, the new value must be at least as
    low. The v block (L convex in v): from the same start. The p block is not convex, and two descent methods may
    end in different local minima from one start, so there, as on the paths, the best over eight seeded starts is
    compared. (At radius 1000 the v block of some seeds defeats both within 300 iterations: see the next tests.)"""
    rng, phi, gamma = random_problem(seed)
    Z, Yv = rng.standard_normal((5, 3)), rng.choice([-1.0, 1.0], 5)
    fv = rp.VObjective(Z, Yv, LOGISTIC)
    fp = rp.PObjective(phi, gamma, LOGISTIC)
    cases = [(fv, [rng.standard_normal(3)])] + [(fp, list(rng.standard_normal((8, 2))))]
    for f, starts in cases:
        old_runs, new_runs = [], []
        for x0 in starts:
            x0 = x0 * (radius / np.linalg.norm(x0))
            before = f.evaluations
            x_old, F_old, reason = plain_projected_gd(f, x0, radius, max_iter=3000)
            old_evals = f.evaluations - before
            new = rp.ball_minimize(f, x0, radius)
            assert new.evaluations == f.evaluations - before - old_evals
            old_runs.append((F_old, x_old, reason))
            new_runs.append((new.value, new.x, new.reason))
            test_spectral_solver_matches_the_plain_one.evals[0] += new.evaluations
            test_spectral_solver_matches_the_plain_one.evals[1] += old_evals
        F_old, x_old, reason = min(old_runs, key=lambda r: r[0])
        F_new, x_new, new_reason = min(new_runs, key=lambda r: r[0])
        tol = 1e-10 * max(1.0, abs(F_old))
        assert F_new <= F_old + tol
        if reason == "converged" and new_reason == "converged":
            assert F_new >= F_old - tol
            assert np.linalg.norm(x_new - x_old) <= 1e-8 * radius
            test_spectral_solver_matches_the_plain_one.compared += 1


test_spectral_solver_matches_the_plain_one.evals = [0, 0]
test_spectral_solver_matches_the_plain_one.compared = 0


def test_spectral_solver_is_cheaper():
    """Over the cases above (which run first), the new solver uses at most half the evaluations, and both converged
    in most of them."""
    new, old = test_spectral_solver_matches_the_plain_one.evals
    if old == 0:
        pytest.skip("run with test_spectral_solver_matches_the_plain_one")
    assert new <= old / 2
    assert test_spectral_solver_matches_the_plain_one.compared >= 10    # of 12 (v and p block, 3 seeds, 2 radii)


@pytest.mark.parametrize("seed", [0, 1, 2, 7, 24])
def test_never_worse_than_the_plain_solver_at_equal_budget(seed):
    """Where spectral steps keep overshooting (v block at radius 1000, minimiser among kinks of a near max-of-linear
    F; on seeds 7 and 24 the spectral run alone ends higher than the plain one, found by a scan of seeds 0-39),
    ball_minimize falls back on the plain solver from the same start: its value is never above the plain
    solver's at the same iteration budget."""
    rng, _, _ = random_problem(seed)
    Z, Yv = rng.standard_normal((5, 3)), rng.choice([-1.0, 1.0], 5)
    f = rp.VObjective(Z, Yv, LOGISTIC)
    x0 = rng.standard_normal(3)
    x0 *= 1000.0 / np.linalg.norm(x0)
    _, F_old, _ = plain_projected_gd(f, x0, 1000.0, max_iter=300)
    new = rp.ball_minimize(f, x0, 1000.0)
    assert new.value <= F_old + 1e-10 * max(1.0, abs(F_old))


def test_paths_match_the_plain_solver(monkeypatch):
    """p_path and joint_path with the spectral solver reproduce the paths of the plain solver on the joint-relaxed
    data: same best values (1e-10), same solutions (1e-8 relative), same 1 - corr to the SVM directions."""
    radii = [10.0, 1000.0]
    new_p = rp.p_path(X, GAMMA, LOGISTIC, radii, directions=[P_PLAIN], n_random=1)
    new_j = rp.joint_path(X, Y, X, LOGISTIC, radii, starts=[([0, 1], P_RELAXED)], n_random=1)
    monkeypatch.setattr(rp, "ball_minimize", lambda fun, x0, R, max_iter=300, tol=1e-11:
                        rp.BallMin(*plain_projected_gd(fun, x0, R, max_iter, tol)[:2], 0, 0.0, ""))
    old_p = rp.p_path(X, GAMMA, LOGISTIC, radii, directions=[P_PLAIN], n_random=1)
    old_j = rp.joint_path(X, Y, X, LOGISTIC, radii, starts=[([0, 1], P_RELAXED)], n_random=1)
    for new, old, ref in ((new_p, old_p, P_PLAIN), (new_j, old_j, P_RELAXED)):
        for a, b in zip(new, old):
            assert a.value == pytest.approx(b.value, rel=1e-10, abs=1e-10)
            assert np.linalg.norm(a.x - b.x) <= 1e-8 * a.radius
            if a.v is not None:
                assert np.linalg.norm(a.v - b.v) <= 1e-8 * a.v_radius
            assert one_minus_corr(a.x, ref) == pytest.approx(one_minus_corr(b.x, ref), rel=1e-4)
