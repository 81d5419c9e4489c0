"""W and (K, Q) gradients of self/cross attention: stable formula vs torch autograd, vs the generic
feature machinery, vs a high-precision mpmath evaluation at large norms; GD on (K, Q) vs on W."""
import mpmath
import numpy as np
import pytest
import torch

from attnsvm import numeric
from attnsvm.numeric.w_attention import kq_gradient, run_kq_gd, w_features, w_gradient


def _data(seed, n=3, T=4, d=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T, d))
    Z = rng.standard_normal((n, d))
    v = rng.standard_normal(d)
    Y = rng.choice([-1.0, 1.0], size=n)
    return X, Z, Y[:, None] * (X @ v)


def _torch_loss(W, X, Z, gamma, loss):
    s = torch.softmax(torch.einsum("nta,ab,nb->nt", X, W, Z), dim=1)
    u = (s * gamma).sum(dim=1)
    return {"logistic": torch.nn.functional.softplus(-u), "exponential": torch.exp(-u), "correlation": -u}[loss].mean()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("loss", ["logistic", "exponential", "correlation"])
def test_w_and_kq_gradients_match_autograd_at_moderate_norms(seed, loss):
    X, Z, gamma = _data(seed)
    rng = np.random.default_rng(100 + seed)
    K, Q = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    W = K @ Q.T
    Xt, Zt, gt = (torch.tensor(a) for a in (X, Z, gamma))
    Wt = torch.tensor(W, requires_grad=True)
    (gW,) = torch.autograd.grad(_torch_loss(Wt, Xt, Zt, gt, loss), [Wt])
    ours = w_gradient(W, X, Z, gamma, numeric.BUILTIN_LOSSES[loss])
    np.testing.assert_allclose(ours, gW.numpy(), rtol=1e-10, atol=1e-13)
    Kt, Qt = torch.tensor(K, requires_grad=True), torch.tensor(Q, requires_grad=True)
    gK, gQ = torch.autograd.grad(_torch_loss(Kt @ Qt.T, Xt, Zt, gt, loss), [Kt, Qt])
    oK, oQ = kq_gradient(K, Q, X, Z, gamma, numeric.BUILTIN_LOSSES[loss])
    np.testing.assert_allclose(oK, gK.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(oQ, gQ.numpy(), rtol=1e-10, atol=1e-13)


def test_factored_w_gradient_equals_generic_feature_gradient():
    X, Z, gamma = _data(7, n=4, T=5, d=3)
    W = 3.0 * np.random.default_rng(1).standard_normal((3, 3))
    phi = w_features(X, Z)
    for scaled in (False, True):
        generic = numeric.gradient(W.ravel(), phi, gamma, numeric.LOGISTIC, scaled=scaled).reshape(3, 3)
        np.testing.assert_allclose(w_gradient(W, X, Z, gamma, numeric.LOGISTIC, scaled=scaled), generic,
                                   rtol=1e-12, atol=1e-300)
    assert np.allclose(numeric.w_logits(W, X, Z), phi @ W.ravel())


def _mp_gradient(W, X, Z, gamma, dps=400):
    """The textbook gradient in mpmath at ``dps`` digits (enough for e^{-margin} at the norms used)."""
    with mpmath.workdps(dps):
        n, T, d = X.shape
        G = [[mpmath.mpf(0)] * d for _ in range(d)]
        for i in range(n):
            wz = [mpmath.fsum(mpmath.mpf(W[a, b]) * mpmath.mpf(Z[i, b]) for b in range(d)) for a in range(d)]
            q = [mpmath.fsum(mpmath.mpf(X[i, t, a]) * wz[a] for a in range(d)) for t in range(T)]
            e = [mpmath.exp(x) for x in q]
            s = [x / mpmath.fsum(e) for x in e]
            u = mpmath.fsum(s[t] * mpmath.mpf(gamma[i, t]) for t in range(T))
            dl = -1 / (1 + mpmath.exp(u))
            for t in range(T):
                c = dl * s[t] * (mpmath.mpf(gamma[i, t]) - u) / n
                for a in range(d):
                    for b in range(d):
                        G[a][b] += c * mpmath.mpf(X[i, t, a]) * mpmath.mpf(Z[i, b])
        return G


def test_stable_w_gradient_keeps_relative_accuracy_at_large_norm():
    X, Z, gamma = _data(3, n=2, T=3, d=2)
    W = 200.0 * np.random.default_rng(5).standard_normal((2, 2))
    ours = w_gradient(W, X, Z, gamma, numeric.LOGISTIC)
    ref = _mp_gradient(W, X, Z, gamma)
    ref_f = np.array([[float(x) for x in row] for row in ref])
    assert np.any(ref_f != 0)
    np.testing.assert_allclose(ours, ref_f, rtol=1e-9)


def test_kq_gd_limit_is_told_apart_from_the_frobenius_solution():
    """On tf-svm-local-1 the two W-SVMs differ (ranks 6 and 4); GD on (K, Q) ends far closer to the nuclear
    optimum than the Frobenius solution is, and GD on W the other way round."""
    from attnsvm import verify

    ds = verify.builtin("tf-svm-local-1")
    K0, Q0 = numeric.balanced_init(ds.d, ds.d, 0.1)
    kq = run_kq_gd(K0, Q0, ds.X, ds.Z, ds.gamma, numeric.LOGISTIC, step=0.1, rule="relative", decay=10.0,
                   max_iter=3000, time_budget=60)
    wt = numeric.run_gd(np.zeros(ds.d * ds.d), ds.features(), ds.gamma, numeric.LOGISTIC, step=1.0, max_iter=3000,
                        time_budget=60)
    for traj, closer_to in ((kq, "nuclear"), (wt, "frobenius")):
        con = numeric.svm_constraints(ds.features(), traj.final.selected)
        fro = numeric.solve_svm(con.A, con.b)
        nuc = numeric.solve_nuclear_svm(con.A, con.b, ds.d)
        g = numeric.optimality_gaps(traj.final.theta, con.A, con.b, ds.d, fro.norm, nuc.norm)
        g_F = np.linalg.norm(fro.theta.reshape(ds.d, ds.d), "nuc") / nuc.norm - 1   # nuclear gap of W_F^mm
        g_star = np.linalg.norm(nuc.W) / fro.norm - 1                             # Frobenius gap of W_*^mm
        assert g_F > 0.05 and g_star > 0.05
        if closer_to == "nuclear":
            assert g["nuc_gap"] < g_F / 3 and g["fro_gap"] > g_star / 2
        else:
            assert g["fro_gap"] < g_star / 10 and g["nuc_gap"] > g_F / 2


def test_w_and_kq_gradients_match_a_sympy_derivation():
    """d L / d W and d L / d (K, Q) by sympy differentiation of the loss written out symbolically
    (n = 2, T = 3, d = 2, rank 1), evaluated at a rational point."""
    import sympy as sp

    X = np.array([[[1, 0], [0, 1], [1, 1]], [[2, -1], [0, 1], [-1, 0]]], dtype=float)
    Z = np.array([[1, 2], [0, -1]], dtype=float)
    gamma = np.array([[1.0, -0.5, 0.25], [0.5, 2.0, -1.0]])
    w = sp.Matrix(2, 2, sp.symbols("w0:4"))
    k = sp.Matrix(2, 1, sp.symbols("k0:2"))
    q = sp.Matrix(2, 1, sp.symbols("q0:2"))

    def loss(Wm):
        total = 0
        for i in range(2):
            logits = [(sp.Matrix(X[i, t].astype(int)).T * Wm * sp.Matrix(Z[i].astype(int)))[0] for t in range(3)]
            den = sum(sp.exp(l) for l in logits)
            u = sum(sp.exp(l) / den * sp.nsimplify(gamma[i, t]) for t, l in enumerate(logits))
            total += sp.log(1 + sp.exp(-u))
        return total / 2

    point_W = {s: sp.Rational(v, 3) for s, v in zip(w, [1, -2, 2, 1])}
    Lw = loss(w)
    gW = np.array([[float(sp.diff(Lw, w[a, b]).subs(point_W).evalf(30)) for b in range(2)] for a in range(2)])
    Wv = np.array([[1, -2], [2, 1]], dtype=float) / 3
    np.testing.assert_allclose(w_gradient(Wv, X, Z, gamma, numeric.LOGISTIC), gW, rtol=1e-12)
    point_KQ = {k[0]: sp.Rational(1, 2), k[1]: -1, q[0]: sp.Rational(3, 4), q[1]: sp.Rational(1, 4)}
    Lkq = loss(k * q.T)
    gK = np.array([[float(sp.diff(Lkq, k[a]).subs(point_KQ).evalf(30))] for a in range(2)])
    gQ = np.array([[float(sp.diff(Lkq, q[a]).subs(point_KQ).evalf(30))] for a in range(2)])
    oK, oQ = kq_gradient(np.array([[0.5], [-1.0]]), np.array([[0.75], [0.25]]), X, Z, gamma, numeric.LOGISTIC)
    np.testing.assert_allclose(oK, gK, rtol=1e-12)
    np.testing.assert_allclose(oQ, gQ, rtol=1e-12)


def test_kq_direction_with_ridge_matches_autograd_and_survives_large_norms():
    """kq_direction is a positive multiple of grad (L(K Q^T) + lambda (||K||^2 + ||Q||^2)): against autograd at
    moderate norms; at large norms, where the attention part is ~e^-300, the ridge term takes over (autograd's
    attention part is then rounding noise or 0, the sum is 2 lambda (K, Q) to float64 accuracy)."""
    from attnsvm.numeric.w_attention import kq_direction

    X, Z, gamma = _data(7)
    rng = np.random.default_rng(7)
    for scale, lam in ((0.7, 0.05), (0.7, 2.2e-16), (25.0, 1e-3)):
        K = scale * rng.standard_normal((3, 3))
        Q = scale * rng.standard_normal((3, 3))
        Kt = torch.tensor(K, requires_grad=True)
        Qt = torch.tensor(Q, requires_grad=True)
        L = _torch_loss(Kt @ Qt.T, *(torch.tensor(a) for a in (X, Z, gamma)), "logistic") + lam * ((Kt * Kt).sum() + (Qt * Qt).sum())
        L.backward()
        dK, dQ = kq_direction(K, Q, X, Z, gamma, numeric.LOGISTIC, ridge=lam)
        ours = np.concatenate([dK.ravel(), dQ.ravel()])
        ref = np.concatenate([Kt.grad.numpy().ravel(), Qt.grad.numpy().ravel()])
        assert numeric.one_minus_corr(ours, ref) < 1e-14
    dK, dQ = kq_direction(K, Q, X, Z, gamma, numeric.LOGISTIC, ridge=0.0)
    assert numeric.one_minus_corr(np.concatenate([dK.ravel(), dQ.ravel()]),
                                  np.concatenate([*(g.ravel() for g in kq_gradient(K, Q, X, Z, gamma,
                                                                                   numeric.LOGISTIC))])) < 1e-14


def test_per_factor_normalisation_moves_each_factor_by_the_step():
    X, Z, gamma = _data(8)
    K0, Q0 = numeric.balanced_init(3, 3, 0.1)
    joint = run_kq_gd(K0, Q0, X, Z, gamma, numeric.LOGISTIC, step=0.1, max_iter=1)
    per = run_kq_gd(K0, Q0, X, Z, gamma, numeric.LOGISTIC, step=0.1, max_iter=1, normalization="per-factor")
    K1, Q1 = per.final.extra["K"], per.final.extra["Q"]
    assert np.linalg.norm(K1 - K0) == pytest.approx(0.1, rel=1e-12)
    assert np.linalg.norm(Q1 - Q0) == pytest.approx(0.1, rel=1e-12)
    Kj, Qj = joint.final.extra["K"], joint.final.extra["Q"]
    assert np.hypot(np.linalg.norm(Kj - K0), np.linalg.norm(Qj - Q0)) == pytest.approx(0.1, rel=1e-12)
    with pytest.raises(ValueError):
        run_kq_gd(K0, Q0, X, Z, gamma, numeric.LOGISTIC, normalization="each")


def test_batched_kq_controls_follow_the_numpy_run():
    from attnsvm.numeric.batched_w import batched_kq_gd

    X, Z, gamma = _data(9)
    K0, Q0 = numeric.balanced_init(3, 3, 0.3)
    for kw in ({"normalization": "per-factor"}, {"ridge": 1e-3}, {"normalization": "per-factor", "ridge": 2.2e-16}):
        ref = run_kq_gd(K0, Q0, X, Z, gamma, numeric.LOGISTIC, step=0.2, max_iter=40, **kw)
        tr = batched_kq_gd(K0[None], Q0[None], X[None], Z[None], gamma[None], step=0.2, iterations=40, device="cpu",
                           **kw)
        np.testing.assert_allclose(tr.theta[-1, 0], ref.final.theta, rtol=1e-9, atol=1e-12)
