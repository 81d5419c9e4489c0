"""The numpy engine of batched GD against the torch engine (independent codings of one formula) and numeric.run_gd."""
import numpy as np
import pytest
import torch

from attnsvm import numeric
from attnsvm.numeric import batched, batched_numpy


def _data(rng, B, n, T, D, shared, scale=3.0):
    X = scale * rng.standard_normal((n, T, D))
    gamma = rng.standard_normal((n, T))
    if shared:
        return X, gamma
    return (np.repeat(X[None], B, 0) + 0.2 * rng.standard_normal((B, n, T, D)),
            np.repeat(gamma[None], B, 0) + 0.1 * rng.standard_normal((B, n, T)))


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("loss", ["logistic", "exponential", "correlation"])
def test_numpy_gradient_equals_torch_gradient(shared, scaled, loss):
    rng = np.random.default_rng(7)
    B, n, T, D = 5, 4, 6, 3
    X, gamma = _data(rng, B, n, T, D, shared)
    for norm in (0.5, 5.0, 400.0):            # at 400 the unscaled gradient underflows, the scaled one does not
        theta = norm * rng.standard_normal((B, D))
        tg = batched.batched_gradient(torch.as_tensor(theta), torch.as_tensor(X), torch.as_tensor(gamma),
                                      batched.loss_derivative(loss), scaled=scaled)
        ng = batched_numpy.gradient(theta, X, gamma, batched_numpy.loss_derivative(loss), scaled=scaled)
        grad_t, grad_n = tg[0].numpy(), ng[0]
        assert np.array_equal(tg[1].numpy(), ng[1])                           # the same dominant tokens
        big = np.abs(grad_t).max(axis=1, keepdims=True)
        assert np.all(np.abs(grad_t - grad_n) <= 1e-11 * np.maximum(big, 1e-300))    # sums of terms that cancel
        assert np.allclose(tg[2].numpy(), ng[2], rtol=1e-12, atol=1e-290)      # 1 - s_a, summed tails
        assert np.allclose(tg[3].numpy(), ng[3], rtol=1e-14, atol=0)
        if scaled and norm == 400.0:
            assert np.all(np.abs(grad_n).max(axis=1) > 1e-3)                 # scaled: a usable direction


def test_numpy_engine_follows_run_gd_and_torch_engine_for_many_steps():
    rng = np.random.default_rng(3)
    X = 2.0 * rng.standard_normal((3, 4, 3))
    v = rng.standard_normal(3)
    gamma = np.sign(rng.standard_normal(3))[:, None] * (X @ v)
    theta0 = rng.standard_normal((2, 3))
    runs = {e: batched.batched_gd(theta0, X, gamma, "logistic", iterations=60, per_decade=100, adaptive=True,
                                  device="cpu", engine=e) for e in ("numpy", "torch")}
    assert np.allclose(runs["numpy"].theta, runs["torch"].theta, rtol=1e-12, atol=1e-12)
    assert np.array_equal(runs["numpy"].selected, runs["torch"].selected)
    assert np.allclose(runs["numpy"].step, runs["torch"].step, rtol=1e-12)
    for b in range(2):
        f = numeric.run_gd(theta0[b], X, gamma, numeric.LOGISTIC, max_iter=60, per_decade=100, adaptive=True)
        assert np.allclose(f.final.theta, runs["numpy"].theta[-1, b], rtol=1e-12, atol=1e-12)


def test_numpy_engine_continues_a_run_exactly():
    rng = np.random.default_rng(5)
    X, gamma = _data(rng, 3, 3, 5, 4, shared=True)
    theta0 = rng.standard_normal((3, 4))
    whole = batched.batched_gd(theta0, X, gamma, "logistic", iterations=200, adaptive=True, relative=0.01,
                               device="cpu", engine="numpy")
    first = batched.batched_gd(theta0, X, gamma, "logistic", iterations=80, adaptive=True, relative=0.01,
                               device="cpu", engine="numpy")
    rest = batched.batched_gd(first.state["theta"], X, gamma, "logistic", iterations=120, adaptive=True,
                              relative=0.01, device="cpu", engine="numpy", state=first.state, start=80)
    assert np.array_equal(rest.theta[-1], whole.theta[-1])


def test_engine_is_chosen_by_size_and_device():
    assert batched.engine_for(64, (3, 7, 3), "cpu") == "numpy"
    assert batched.engine_for(4, (2000, 16, 16), "cpu") == "torch"
    assert batched.engine_for(2, (3, 7, 3), "cuda") == "torch"
    with pytest.raises(ValueError, match="engine"):
        batched.batched_gd(np.zeros((1, 2)), np.ones((1, 2, 2)), np.ones((1, 2)), engine="jax")
