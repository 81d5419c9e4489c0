"""Batched torch W/(K, Q) GD against the single-dataset numpy implementation."""
import numpy as np
import torch

from attnsvm import numeric
from attnsvm.numeric.batched_w import batched_kq_gd, batched_w_gd, batched_w_gradient


def _batch(B=4, n=3, T=4, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, n, T, d))
    Z = rng.standard_normal((B, n, d))
    v = rng.standard_normal((B, d))
    Y = rng.choice([-1.0, 1.0], size=(B, n))
    return X, Z, Y[..., None] * np.einsum("bnta,ba->bnt", X, v)


def test_batched_gradient_matches_numpy_per_dataset_including_scaled_at_large_norm():
    X, Z, gamma = _batch()
    for scale in (1.0, 300.0):
        W = scale * np.random.default_rng(2).standard_normal((4, 3, 3))
        for scaled in (False, True):
            g, dom, _ = batched_w_gradient(*(torch.tensor(a) for a in (W, X, Z, gamma)),
                                           lambda u: -torch.sigmoid(-u), scaled=scaled)
            for b in range(4):
                ref = numeric.w_gradient(W[b], X[b], Z[b], gamma[b], numeric.LOGISTIC, scaled=scaled)
                # the batched scale e^{-max r} is per dataset, the same as the single-dataset one
                np.testing.assert_allclose(g[b].numpy(), ref, rtol=1e-9, atol=1e-300)


def test_batched_w_and_kq_gd_follow_the_numpy_runs():
    X, Z, gamma = _batch(B=3)
    tr = batched_w_gd(np.zeros((3, 3, 3)), X, Z, gamma, step=1.0, iterations=50, device="cpu")
    K0, Q0 = numeric.balanced_init(3, 3, 0.1)
    trk = batched_kq_gd(np.stack([K0] * 3), np.stack([Q0] * 3), X, Z, gamma, step=0.1, iterations=50,
                        rule="relative", decay=10.0, device="cpu")
    for b in range(3):
        ref = numeric.run_gd(np.zeros(9), numeric.w_features(X[b], Z[b]), gamma[b], numeric.LOGISTIC, step=1.0,
                             max_iter=50)
        np.testing.assert_allclose(tr.theta[-1, b], ref.final.theta, rtol=1e-9, atol=1e-12)
        refk = numeric.run_kq_gd(K0, Q0, X[b], Z[b], gamma[b], numeric.LOGISTIC, step=0.1, rule="relative",
                                 decay=10.0, max_iter=50)
        np.testing.assert_allclose(trk.theta[-1, b], refk.final.theta, rtol=1e-9, atol=1e-12)


def test_w_runner_in_decide_runs_matches_the_feature_route_and_continues_exactly():
    """decide_runs with the factored W runner equals decide_runs on the features vec(x z^T) (same step rule,
    same rounds); and a run continued over rounds equals one uninterrupted run."""
    from attnsvm.numeric.batched_w import runner
    from attnsvm.numeric.convergence import decide_runs

    X, Z, gamma = _batch(B=3, d=3, seed=4)
    phi = np.stack([numeric.w_features(X[b], Z[b]) for b in range(3)])
    theta0 = np.random.default_rng(1).standard_normal((3, 9))
    p_mm = lambda b, sel: numeric.analyse_selection(phi[b], gamma[b], sel).p_mm   # noqa: E731
    ref = decide_runs(theta0, phi, gamma, "logistic", p_mm, budgets=(200, 800), device="cpu")
    run = runner("W", X, Z, gamma, ((3, 3),), device="cpu")
    got = decide_runs(theta0, None, None, "logistic", p_mm, budgets=(200, 800), runner=run)
    for a, b in zip(ref.judgements, got.judgements):
        assert a.status == b.status and a.selection == b.selection
    for ha, hb in zip(ref.histories, got.histories):
        assert ha["iterations"] == hb["iterations"]
        np.testing.assert_allclose(ha["theta_final"], hb["theta_final"], rtol=1e-8, atol=1e-10)
    one = run(theta0, np.arange(3), 800, None, 0)
    two = run(theta0, np.arange(3), 300, None, 0)
    two = run(None, np.arange(3), 500, two.state, 300)
    np.testing.assert_allclose(two.theta[-1], one.theta[-1], rtol=1e-12, atol=1e-12)
    assert two.iterations[0] > 300 and two.iterations[-1] == 800


def test_kq_runner_continues_exactly():
    from attnsvm.numeric.batched_w import runner

    X, Z, gamma = _batch(B=2, d=3, seed=5)
    K0, Q0 = numeric.balanced_init(3, 3, 0.3)
    theta0 = np.tile(np.concatenate([K0.ravel(), Q0.ravel()]), (2, 1))
    run = runner("KQ", X, Z, gamma, ((3, 3), (3, 3)), step=0.5, normalization="per-factor", device="cpu")
    one = run(theta0, np.arange(2), 400, None, 0)
    two = run(theta0, np.arange(2), 150, None, 0)
    two = run(None, np.arange(2), 250, two.state, 150)
    np.testing.assert_allclose(two.theta[-1], one.theta[-1], rtol=1e-12, atol=1e-12)
