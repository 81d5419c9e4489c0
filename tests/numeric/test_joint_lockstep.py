"""numeric.joint_lockstep: the lockstep directions against numeric.joint's kernels (scaled and unscaled) and against
mpmath where float64 tails underflow, and runs in lockstep against the same runs alone (stopping at different
iterations)."""
import mpmath
import numpy as np
import pytest

from attnsvm.numeric import EXPONENTIAL, LOGISTIC, one_minus_corr
from attnsvm.numeric import joint as nj
from attnsvm.numeric import joint_lockstep as jl

X_RELAXED = np.array([[[0, 0], [1, 1]], [[0, 0], [1, -1]], [[0, 0], [0.5, 1.5]]], float)
Y3 = np.array([1.0, -1.0, 1.0])


def _rel(a, b):
    nb = np.linalg.norm(b)
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / nb if nb > 0 else np.linalg.norm(a)


@pytest.mark.parametrize("seed", range(12))
def test_descent_matches_the_single_run_kernels(seed):
    """Every run's blocks: -(scaled gradient) of JointKernel and -(gradient) of joint_gradient, after theta moved
    away from where the arrays were built (dominant tokens refreshed); shapes with T = 1 and D != d included."""
    rng = np.random.default_rng(seed)
    n, T, d, D = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    X = rng.standard_normal((n, T, d))
    Y = rng.choice([-1.0, 1.0], n)
    phi = X @ rng.standard_normal((d, D))
    R = int(rng.integers(1, 4))
    scale = 10 ** rng.uniform(-1, 2)
    V, P = rng.standard_normal((R, d)) * scale, rng.standard_normal((R, D)) * scale
    loss = (LOGISTIC, EXPONENTIAL)[seed % 2]
    lock = jl.JointLockstep(X, Y, phi, V, -P)
    lock.p_flat[:] = P.ravel()
    for scaled in (True, False):
        g = lock.descent(loss, scaled).copy()
        gp, gv = g[:R * D].reshape(R, D), g[R * D:].reshape(R, d)
        for b in range(R):
            if scaled:
                rv, rp = nj.JointKernel(X, Y, phi).scaled_gradient(V[b], P[b], loss)
            else:
                rv, rp = nj.joint_gradient(V[b], P[b], X, Y, phi, loss)
            assert _rel(-gv[b], rv) < 1e-11 and _rel(-gp[b], rp) < 1e-11
    assert np.array_equal(lock.dominant.reshape(R, n), np.argmax(np.einsum("itc,rc->rit", phi, P), axis=2))


def test_directions_survive_underflow_in_lockstep():
    """Two runs, one at ||v|| = 900, ||p|| = 800 (every float64 l'(u_i) and tail underflows), one at moderate norms:
    each keeps the direction of its mpmath gradient (the scales are per run)."""
    V = np.array([[0.0, 900.0], [0.3, 1.0]])
    P = np.array([[800.0, 30.0], [1.0, -0.5]])
    lock = jl.JointLockstep(X_RELAXED, Y3, X_RELAXED, V, P)
    g = lock.descent(LOGISTIC, scaled=True)
    for b in range(2):
        mv, mp_ = nj.mp_joint_gradient(V[b], P[b], X_RELAXED, Y3, np.eye(2), LOGISTIC, dps=500)
        with mpmath.workdps(500):
            nv = mpmath.sqrt(mpmath.fsum(x * x for x in mv))
            npn = mpmath.sqrt(mpmath.fsum(x * x for x in mp_))
            uv = [-float(x / nv) for x in mv]
            up = [-float(x / npn) for x in mp_]
        assert one_minus_corr(g[4 + 2 * b:6 + 2 * b], uv) < 1e-20
        assert one_minus_corr(g[2 * b:2 * b + 2], up) < 1e-20


def _stopper(at):
    def observe(cp):
        return cp.iteration >= at
    return observe


@pytest.mark.parametrize("method,step", [("normalized", 1.0), ("fixed", 0.5)])
def test_runs_in_lockstep_match_the_runs_alone(method, step):
    """Three inits on joint-relaxed data with observers that stop them at different checkpoints: each lockstep
    trajectory equals the trajectory of the same run alone (checkpoints and selections exactly, iterates to
    rounding: the block-diagonal products of three runs and of one sum in different orders)."""
    v0s = [np.array([0.0, 1.0]), np.array([0.5, -0.2]), np.array([-1.0, 0.3])]
    p0s = [np.zeros(2), np.array([-1.0, 2.0]), np.array([0.5, 0.5])]
    stops = [50, 1000, 200]
    together = jl.run_joint_gd_lockstep(v0s, p0s, X_RELAXED, Y3, X_RELAXED, LOGISTIC, method=method, step=step,
                                        max_iter=1500, observers=[_stopper(s) for s in stops])
    for b in range(3):
        alone = jl.run_joint_gd_lockstep([v0s[b]], [p0s[b]], X_RELAXED, Y3, X_RELAXED, LOGISTIC, method=method,
                                         step=step, max_iter=1500, observers=[_stopper(stops[b])])[0]
        t = together[b]
        assert t.stop_reason == alone.stop_reason == "observer"
        assert [c.iteration for c in t.checkpoints] == [c.iteration for c in alone.checkpoints]
        assert stops[b] <= t.final.iteration < 1.3 * stops[b]
        assert [c.selected for c in t.checkpoints] == [c.selected for c in alone.checkpoints]
        for ca, cb in zip(t.checkpoints, alone.checkpoints):
            assert np.linalg.norm(ca.p - cb.p) <= 1e-12 * max(1.0, np.linalg.norm(cb.p))
            assert np.linalg.norm(ca.v - cb.v) <= 1e-12 * max(1.0, np.linalg.norm(cb.v))
            assert ca.loss == pytest.approx(cb.loss, rel=1e-9)


def test_lockstep_gd_matches_the_single_run_kernel_loop():
    """Normalised joint GD written out with JointKernel.scaled_gradient (the single-run kernel) and the lockstep
    engine agree along 300 steps on joint-relaxed data from two inits, to rounding."""
    v0s, p0s = [np.array([0.0, 1.0]), np.array([0.5, -0.2])], [np.zeros(2), np.array([-1.0, 2.0])]
    trajs = jl.run_joint_gd_lockstep(v0s, p0s, X_RELAXED, Y3, X_RELAXED, LOGISTIC, max_iter=300)
    for b in range(2):
        kernel, v, p = nj.JointKernel(X_RELAXED, Y3, X_RELAXED), v0s[b].copy(), p0s[b].copy()
        for _ in range(300):
            gv, gp = kernel.scaled_gradient(v, p, LOGISTIC)
            v, p = v - gv / np.linalg.norm(gv), p - gp / np.linalg.norm(gp)
        assert trajs[b].final.iteration == 300
        assert np.linalg.norm(trajs[b].final.v - v) <= 1e-11 * np.linalg.norm(v)
        assert np.linalg.norm(trajs[b].final.p - p) <= 1e-11 * np.linalg.norm(p)


def test_large_data_runs_one_at_a_time():
    assert jl.lockstep_groups(4, 200, 64, 128, 128) == [range(0, 1), range(1, 2), range(2, 3), range(3, 4)]
    assert jl.lockstep_groups(5, 3, 2, 2, 2) == [range(0, 5)]
