"""The finite-time Lyapunov estimate: the replay is the run, the JVP is torch autograd's, the growth is what two nearby
runs show."""
import numpy as np
import pytest
import torch

from attnsvm import numeric
from attnsvm.numeric.batched import batched_gradient, loss_derivative
from attnsvm.numeric.lyapunov import initial_tangent, step_jvp, tangent_growth


def data(seed, n=3, T=4, d=3, scale=2.0):
    rng = np.random.default_rng([13, seed])
    X = scale * rng.standard_normal((n, T, d))
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    Y = rng.choice([-1.0, 1.0], size=n)
    return X, Y[:, None] * (X @ v)


def test_the_replay_is_the_run_bit_for_bit():
    X, gamma = data(0)
    theta0 = np.array([0.5, -0.2, 0.1])
    traj = numeric.run_gd(theta0, X, gamma, numeric.LOGISTIC, max_iter=400, adaptive=True)
    tg = tangent_growth(theta0, X, gamma, numeric.LOGISTIC, iterations=400, adaptive=True)
    assert tg["iterations"] == [c.iteration for c in traj.checkpoints]
    assert all(np.array_equal(a, c.theta) for a, c in zip(tg["theta"], traj.checkpoints))


@pytest.mark.parametrize("seed", [1, 2])
def test_jacobian_vector_product_matches_torch_autograd(seed):
    X, gamma = data(seed)
    rng = np.random.default_rng(seed)
    theta, v = rng.standard_normal(3), rng.standard_normal(3)
    eta = 0.7
    phi_t = torch.as_tensor(X[None])
    gamma_t = torch.as_tensor(gamma[None])
    dloss = loss_derivative("logistic")

    def step(th):
        g = batched_gradient(th[None], phi_t, gamma_t, dloss, scaled=True)[0][0]
        return th - eta * g / g.norm()

    jac = torch.autograd.functional.jacobian(step, torch.as_tensor(theta))   # reverse mode, row by row
    jv_torch = jac @ torch.as_tensor(v)
    kernel = numeric.StableAttention(X, gamma)
    jv = step_jvp(kernel, theta, v, numeric.LOGISTIC, eta, normalized=True, h=1e-6)
    assert np.allclose(jv, jv_torch.numpy(), rtol=1e-5, atol=1e-6 * np.linalg.norm(jv))


def test_growth_predicts_how_two_nearby_runs_separate():
    """Linearisation: a perturbation eps v0 of the init grows like eps G_k, while it stays small."""
    X, gamma = data(5)
    theta0 = np.zeros(3)
    K = 300
    tg = tangent_growth(theta0, X, gamma, numeric.LOGISTIC, iterations=K)   # constant normalised step
    eps = 1e-9
    a = numeric.run_gd(theta0, X, gamma, numeric.LOGISTIC, max_iter=K)
    b = numeric.run_gd(theta0 + eps * initial_tangent(3), X, gamma, numeric.LOGISTIC, max_iter=K)
    checked = 0
    for k, lg, ca, cb in zip(tg["iterations"], tg["log10_growth"], a.checkpoints, b.checkpoints):
        predicted = eps * 10 ** lg
        if 1e-6 > predicted > 1e-13 * max(1.0, ca.norm) and k > 0:
            measured = np.linalg.norm(ca.theta - cb.theta)
            assert measured == pytest.approx(predicted, rel=0.2), k
            checked += 1
    assert checked >= 10
    assert max(tg["log10_growth"]) > 2         # this run amplifies: the test is not about a contraction


def test_drift_estimate_grows_with_the_growth_factor():
    X, gamma = data(4)
    tg = tangent_growth(np.zeros(3), X, gamma, numeric.LOGISTIC, iterations=200, adaptive=True)
    drift = np.array(tg["log10_drift"][1:])
    assert np.all(np.isfinite(drift)) and drift[-1] > -16   # at least a rounding's worth by the end
    assert tg["lyapunov"][0] == 0.0 and len(tg["lyapunov"]) == len(tg["iterations"])
