"""Batched torch GD: its step is batched_step, and it follows the float64 numpy run."""
import numpy as np
import pytest
import torch

from attnsvm import numeric
from attnsvm.numeric import batched_numpy
from attnsvm.numeric.batched import batched_gd, batched_step, loss_derivative


@pytest.mark.parametrize("engine", ["torch", "numpy"])
def test_batched_gd_takes_batched_step_and_matches_run_gd(engine):
    rng = np.random.default_rng(3)
    X = 2.0 * rng.standard_normal((3, 4, 3))
    v = rng.standard_normal(3)
    gamma = np.sign(rng.standard_normal(3))[:, None] * (X @ v)
    theta0 = rng.standard_normal((2, 3))
    traj = batched_gd(theta0, np.repeat(X[None], 2, 0), np.repeat(gamma[None], 2, 0), "logistic", iterations=60,
                      per_decade=100, adaptive=True, device="cpu", engine=engine)
    if engine == "torch":
        f64 = dict(dtype=torch.float64)
        theta = torch.as_tensor(theta0, **f64)
        phi_t = torch.as_tensor(np.repeat(X[None], 2, 0), **f64)
        gamma_t = torch.as_tensor(np.repeat(gamma[None], 2, 0), **f64)
        factor, prev, dloss = torch.ones(2, **f64), None, loss_derivative("logistic")
    else:
        theta, phi_t, gamma_t = theta0.copy(), np.repeat(X[None], 2, 0), np.repeat(gamma[None], 2, 0)
        factor, prev, dloss = np.ones(2), None, batched_numpy.loss_derivative("logistic")
    by_k = dict(zip(traj.iterations.tolist(), traj.theta))
    for k in range(60):
        if k in by_k:
            assert np.array_equal(by_k[k], np.asarray(theta))
        bs = batched_step(theta, phi_t, gamma_t, dloss, factor, prev, adaptive=True)
        theta, factor, prev = theta - bs.delta, bs.factor, bs.unit
    for b in range(2):
        f = numeric.run_gd(theta0[b], X, gamma, numeric.LOGISTIC, max_iter=60, per_decade=100, adaptive=True)
        assert np.allclose(f.final.theta, traj.theta[-1, b], rtol=1e-12, atol=1e-12)
