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
