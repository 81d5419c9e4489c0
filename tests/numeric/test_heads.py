"""Nonlinear heads: the stable gradient against torch autograd (moderate norms), against an independent mpmath
evaluation of the textbook chain rule (large norms, where float64 autograd is wrong), and the batched torch heads
against the numpy ones."""
import mpmath
import numpy as np
import pytest
import torch

from attnsvm import numeric
from attnsvm.numeric.batched_w import BatchedHead, batched_w_gradient
from attnsvm.numeric.heads import Readout, make_head, mp_head_gradient

n, T, d = 3, 4, 4


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T, d))
    X /= np.linalg.norm(X, axis=-1, keepdims=True)
    Z = rng.standard_normal((n, d))
    Z /= np.linalg.norm(Z, axis=-1, keepdims=True)
    Y = np.array([1.0, -1.0, 1.0])
    V = rng.standard_normal((d, d))
    return X, Z, Y, V / np.linalg.norm(V), rng


def _heads(rng, V):
    return [make_head("relu", np.ones(d), V), make_head("relu", rng.standard_normal(d), V),
            make_head("quadratic", rng.standard_normal(d), lam=0.7), make_head("linear", rng.standard_normal(d))]


def _torch_loss(W, X, Z, Y, head):
    """The textbook model in torch: s = softmax(x^T W z), y = X^T s, f = h(y), logistic loss."""
    Xt, Zt, Yt = (torch.tensor(a) for a in (X, Z, Y))
    q = torch.einsum("ita,ab,ib->it", Xt, W.reshape(d, d), Zt)
    y = torch.einsum("it,itd->id", torch.softmax(q, dim=1), Xt)
    v = torch.tensor(head.v)
    if head.kind == "relu":
        f = torch.relu(y @ torch.tensor(head.V)) @ v
    elif head.kind == "quadratic":
        f = y @ v - head.lam * (y * y).sum(dim=1)
    else:
        f = y @ v
    return torch.nn.functional.softplus(-Yt * f).mean()


def test_stable_gradient_and_loss_match_torch_autograd_at_moderate_norms():
    X, Z, Y, V, rng = _data()
    phi = numeric.w_features(X, Z)
    for head in _heads(rng, V):
        kernel = numeric.StableAttention(phi, head.token_scores(X, Y), Readout(head, X, Y))
        for scale in (0.5, 3.0, 10.0):
            W = scale * rng.standard_normal(d * d)
            Wt = torch.tensor(W, requires_grad=True)
            L = _torch_loss(Wt, X, Z, Y, head)
            L.backward()
            g = kernel.gradient(W, numeric.LOGISTIC)
            np.testing.assert_allclose(g, Wt.grad.numpy(), rtol=1e-9, atol=1e-13 * np.abs(g).max())
            assert np.mean(numeric.LOGISTIC.value(kernel.state(W).u)) == pytest.approx(float(L.detach()), rel=1e-12)
            # the scaled gradient has the same direction
            gs = kernel.gradient(W, numeric.LOGISTIC, scaled=True)
            assert numeric.one_minus_corr(gs, g) < 1e-14


def _large_norm_W(X, Z, sets, R, rng):
    """W with logits x_it^T W z_i = 0 for t in sets[i] (up to a small O(1) part) and about -R for the others."""
    A, b = [], []
    for i in range(n):
        for t in range(T):
            A.append(np.outer(X[i, t], Z[i]).ravel())
            b.append(rng.uniform(-0.5, 0.5) if t in sets[i] else -R * rng.uniform(0.8, 1.2))
    return np.linalg.lstsq(np.array(A), np.array(b), rcond=None)[0]


@pytest.mark.parametrize("kind", ["relu", "quadratic"])
def test_stable_logit_gradient_keeps_full_relative_accuracy_at_large_norms_against_mpmath(kind):
    """At logit gaps of about 200 the masked tokens' weights are ~e^-200. The stable formula gives every entry of
    the logit gradient dL/dq_it (c_it / n off the dominant token, minus their sum at it) to full relative
    accuracy; float64 autograd gets the dominant entry of a sequence with one selected token wrong (it forms
    g^T x_a - g^T y, a difference of O(1) numbers worth ~e^-200). Reference: the textbook chain rule in mpmath at
    150 digits, where that cancellation costs nothing."""
    X, Z, Y, V, rng = _data(1)
    head = make_head("relu", np.ones(d), V) if kind == "relu" else make_head("quadratic", rng.standard_normal(d), lam=0.7)
    phi = numeric.w_features(X, Z)
    sets = [(0, 1), (2,), (1, 3)]
    W = _large_norm_W(X, Z, sets, 200.0, rng)
    kernel = numeric.StableAttention(phi, head.token_scores(X, Y), Readout(head, X, Y))
    c = kernel.coefficients(W, numeric.LOGISTIC) / n
    dq = c.copy()
    rows = np.arange(n)
    dq[rows, kernel.dominant] = -c.sum(axis=1)
    ref_g, _, ref_dq = mp_head_gradient(W, phi, X, Y, head, numeric.LOGISTIC, dps=150)
    ref = np.array([[float(x) for x in row] for row in ref_dq])
    assert 0 < np.abs(ref[1]).max() < 1e-60          # sequence 1 selects one token: all its entries are tiny
    np.testing.assert_allclose(dq, ref, rtol=1e-10, atol=0)
    np.testing.assert_allclose(kernel.gradient(W, numeric.LOGISTIC), [float(x) for x in ref_g], rtol=1e-8, atol=1e-14)
    # float64 autograd: the dominant entry of sequence 1 is rounding noise
    Wt = torch.tensor(W, requires_grad=True)
    Xt, Zt, Yt = (torch.tensor(a) for a in (X, Z, Y))
    q = torch.einsum("ita,ab,ib->it", Xt, Wt.reshape(d, d), Zt)
    q.retain_grad()
    y = torch.einsum("it,itd->id", torch.softmax(q, dim=1), Xt)
    f = torch.relu(y @ torch.tensor(V)) @ torch.tensor(head.v) if kind == "relu" else \
        y @ torch.tensor(head.v) - head.lam * (y * y).sum(dim=1)
    torch.nn.functional.softplus(-Yt * f).mean().backward()
    a1 = kernel.dominant[1]
    assert abs(q.grad[1, a1].item() - ref[1, a1]) >= 0.5 * abs(ref[1, a1])   # 0 or noise: no correct digit


def test_one_token_limit_direction_survives_where_autograd_is_noise():
    """One selected token per sequence at logit gaps of about 400: the whole gradient is ~e^-400; the scaled stable
    gradient keeps its direction (mpmath reference at 250 digits), float64 autograd's is noise."""
    X, Z, Y, V, rng = _data(2)
    head = make_head("relu", np.ones(d), V)
    phi = numeric.w_features(X, Z)
    W = _large_norm_W(X, Z, [(0,), (1,), (2,)], 400.0, rng)
    kernel = numeric.StableAttention(phi, head.token_scores(X, Y), Readout(head, X, Y))
    gs = kernel.gradient(W, numeric.LOGISTIC, scaled=True)
    ref, _, _ = mp_head_gradient(W, phi, X, Y, head, numeric.LOGISTIC, dps=250)
    assert numeric.mp_one_minus_corr([mpmath.mpf(float(x)) for x in gs], ref) < 1e-20
    Wt = torch.tensor(W, requires_grad=True)
    _torch_loss(Wt, X, Z, Y, head).backward()
    naive = Wt.grad.numpy()   # autograd: rounding noise of the dominant tokens' terms, pointing elsewhere
    assert not np.any(naive) or numeric.mp_one_minus_corr([mpmath.mpf(float(x)) for x in naive], ref) > 1e-2


def test_batched_heads_match_numpy_per_dataset():
    rng = np.random.default_rng(3)
    B = 3
    X = rng.standard_normal((B, n, T, d))
    Z = rng.standard_normal((B, n, d))
    Y = rng.choice([-1.0, 1.0], size=(B, n))
    V = rng.standard_normal((B, d, d))
    v = rng.standard_normal((B, d))
    for kind in ("relu", "quadratic"):
        lam = np.full(B, 0.3)
        bh = BatchedHead(kind, Y, v, V if kind == "relu" else None, lam if kind == "quadratic" else None, device="cpu")
        W = 5.0 * rng.standard_normal((B, d, d))
        for scaled in (False, True):
            g, _, _ = batched_w_gradient(*(torch.tensor(a) for a in (W, X, Z, np.zeros((B, n, T)))),
                                         lambda u: -torch.sigmoid(-u), scaled=scaled, head=bh)
            for b in range(B):
                h = make_head(kind, v[b], V[b] if kind == "relu" else None, lam=0.3)
                kernel = numeric.StableAttention(numeric.w_features(X[b], Z[b]), h.token_scores(X[b], Y[b]),
                                                 Readout(h, X[b], Y[b]))
                ref = kernel.gradient(W[b].ravel(), numeric.LOGISTIC, scaled=scaled)
                np.testing.assert_allclose(g[b].numpy().ravel(), ref, rtol=1e-9, atol=1e-15 * np.abs(ref).max())


def test_head_values_and_gradients_by_finite_differences():
    rng = np.random.default_rng(4)
    V = rng.standard_normal((d, d))
    y = rng.standard_normal((5, d))
    for head in _heads(rng, V):
        g = head.gradient(y)
        for a in range(d):
            e = np.zeros(d)
            e[a] = 1e-6
            fd = (head.value(y + e) - head.value(y - e)) / 2e-6
            np.testing.assert_allclose(g[:, a], fd, rtol=1e-6, atol=1e-8)
        with mpmath.workdps(30):
            for k in range(5):
                yk = [mpmath.mpf(float(x)) for x in y[k]]
                assert float(head.mp_value(yk)) == pytest.approx(float(head.value(y[k])), rel=1e-12, abs=1e-14)
                np.testing.assert_allclose([float(x) for x in head.mp_gradient(yk)], g[k], rtol=1e-12, atol=1e-14)


def test_scaled_gradient_survives_a_sequence_with_constant_output():
    """Sequence 0 has every relu unit off (V^T x < 0 for all its tokens), so it carries no weight while its
    tokens keep O(1) probabilities; the others are separated by logit gaps of about 800. The scale must come from
    the largest actual coefficient (e^-800 relative to sequence 0's logits would underflow to a zero gradient)."""
    rng = np.random.default_rng(6)
    u = np.array([1.0, 0.0, 0.0, 0.0])
    X = rng.standard_normal((n, T, d)) * 0.1
    X[0] += 2 * u                       # u^T x > 0 on sequence 0
    X[1:] -= 2 * u                      # u^T x < 0 elsewhere
    V = -np.outer(u, np.ones(d)) + 0.01 * rng.standard_normal((d, d)) * (np.arange(d) == 0)[:, None]
    Z = rng.standard_normal((n, d))
    Y = np.array([1.0, -1.0, 1.0])
    head = make_head("relu", np.ones(d), V)
    phi = numeric.w_features(X, Z)
    W = _large_norm_W(X, Z, [(0, 1, 2, 3), (1,), (2,)], 800.0, rng)
    kernel = numeric.StableAttention(phi, head.token_scores(X, Y), Readout(head, X, Y))
    tails = kernel.tails(W)
    assert not np.any(kernel.effective_dgamma(tails)[0])          # sequence 0: constant output
    gs = kernel.gradient(W, numeric.LOGISTIC, scaled=True)
    assert np.linalg.norm(gs) > 1e-3 and kernel.scale_exponent < -700
    ref, _, _ = mp_head_gradient(W, phi, X, Y, head, numeric.LOGISTIC, dps=450)
    assert numeric.mp_one_minus_corr([mpmath.mpf(float(x)) for x in gs], ref) < 1e-20
