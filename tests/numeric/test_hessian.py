"""The stable second and third derivatives against independent implementations: torch autograd in float64
(moderate norms) and the mpmath cumulant formulas (large norms, where autograd is pure rounding; those are
checked against mpmath.diff of the loss in test_mp_hessian.py)."""
import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnsvm.numeric import (CORRELATION, EXPONENTIAL, LOGISTIC, Loss, StableHessian, hessian_matrix,
                             hessian_vector_product, loss_derivatives, mp_hessian_matrix, mp_hessian_vector_product)
from attnsvm.numeric.mp_hessian import MPLocalDerivatives

LOSSES = {"logistic": LOGISTIC, "exponential": EXPONENTIAL, "correlation": CORRELATION}
TORCH_LOSSES = {
    "logistic": lambda u: torch.nn.functional.softplus(-u),
    "exponential": lambda u: torch.exp(-u),
    "correlation": lambda u: -u,
}


def torch_derivatives(theta, phi, gamma, loss_name, v):
    """(H, H v, D^3 L[v, v]) by torch autograd in float64."""
    P, G, V = torch.tensor(phi), torch.tensor(gamma), torch.tensor(v)

    def f(t):
        s = torch.softmax(torch.einsum("ntd,d->nt", P, t), dim=1)
        return TORCH_LOSSES[loss_name]((s * G).sum(dim=1)).mean()
    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    H = torch.autograd.functional.hessian(f, t.detach()).numpy()
    g = torch.autograd.grad(f(t), t, create_graph=True)[0]
    hv = torch.autograd.grad(g @ V, t, create_graph=True)[0]
    third = torch.autograd.grad(hv @ V, t)[0]
    return H, H @ v, third.numpy()


@st.composite
def problems(draw):
    n = draw(st.integers(1, 4))
    T = draw(st.integers(2, 5))
    D = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.floats(0.1, 4.0))
    return (rng.standard_normal((n, T, D)), rng.standard_normal((n, T)), scale * rng.standard_normal(D),
            rng.standard_normal(D))


def close(a, b, rel=1e-10):
    return np.allclose(a, b, rtol=rel, atol=rel * max(1e-300, float(np.abs(b).max())))


@settings(max_examples=25, deadline=None)
@given(problems(), st.sampled_from(sorted(LOSSES)))
def test_stable_derivatives_equal_autograd(problem, loss_name):
    phi, gamma, theta, v = problem
    H, hv, third = torch_derivatives(theta, phi, gamma, loss_name, v)
    loc = StableHessian(phi, gamma, LOSSES[loss_name]).at(theta)
    # autograd's own error: it forms the derivatives from s_a ~ 1 and cancels down to size e^R (the largest
    # tail weight), losing about eps / e^R relatively (the large-norm test below uses mpmath instead)
    rel = 1e-10 + 1e-13 / loc.eR
    assert close(loc.eR * loc.dense(), H, rel)
    assert close(loc.eR * loc.hvp(v), hv, rel)
    assert close(loc.eR * loc.third(v), third, 10 * rel)
    assert close(hessian_matrix(theta, phi, gamma, LOSSES[loss_name]), H, rel)
    assert close(hessian_vector_product(theta, phi, gamma, LOSSES[loss_name], v), hv, rel)
    assert np.abs(np.linalg.eigvalsh(H)).max() <= loc.eR * loc.bound() * (1 + 1e-12) + 1e-300


@pytest.mark.parametrize("norm", [50.0, 500.0, 5000.0])
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_scaled_derivatives_keep_full_accuracy_at_large_norms(norm, loss_name):
    """At ||theta|| = 5000 the Hessian is e^{-thousands}: float64 holds only e^{-R} H, to full relative accuracy."""
    rng = np.random.default_rng(int(norm) + len(loss_name))
    phi, gamma = rng.standard_normal((3, 4, 3)), rng.standard_normal((3, 4))
    theta = rng.standard_normal(3)
    theta *= norm / np.linalg.norm(theta)
    v = rng.standard_normal(3)
    loc = StableHessian(phi, gamma, LOSSES[loss_name]).at(theta)
    with mpmath.workdps(40):
        ml = MPLocalDerivatives(theta, phi, gamma, LOSSES[loss_name], dps=40)
        scale = mpmath.exp(-mpmath.mpf(loc.R))
        ref_hv = np.array([float(x * scale) for x in ml.hvp(v)])
        ref_H = np.array([[float(x * scale) for x in row] for row in ml.dense()])
        ref_t = np.array([float(x * scale) for x in ml.third(v)])
        ref_g = np.array([float(x * scale) for x in ml.gradient()])
    assert close(loc.hvp(v), ref_hv, 1e-11)
    assert close(loc.dense(), ref_H, 1e-11)
    assert close(loc.third(v), ref_t, 1e-10)
    assert close(loc.gradient(), ref_g, 1e-12)
    assert np.linalg.norm(ref_hv) > 0


def test_autograd_is_wrong_where_the_stable_product_is_not():
    """The reason for the stable formulas: at ||theta|| ~ 60 autograd's Hessian-vector product is rounding."""
    rng = np.random.default_rng(4)
    phi, gamma = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3))
    theta = 60 * np.array([0.6, 0.8])
    v = np.array([1.0, -0.5])
    _, hv_torch, _ = torch_derivatives(theta, phi, gamma, "logistic", v)
    ref = np.array(mp_hessian_vector_product(theta, phi, gamma, LOGISTIC, v, dps=60), dtype=float)
    assert close(hessian_vector_product(theta, phi, gamma, LOGISTIC, v), ref, 1e-11)
    assert not close(hv_torch, ref, 1e-3)
    assert np.allclose(np.array(mp_hessian_matrix(theta, phi, gamma, LOGISTIC, dps=60), dtype=float) @ v, ref,
                       rtol=1e-12, atol=0)


def test_expression_loss_derivatives_match_the_closed_forms():
    from attnsvm.symbolic import lambdify_loss, parse_loss
    u = np.linspace(-8, 8, 33)   # the lambdified sympy forms cancel beyond that; the closed forms do not
    for loss in LOSSES.values():
        fns = lambdify_loss(parse_loss(loss.expression))
        expr = Loss(name="expr", value=fns.value, derivative=fns.derivative, mp_value=fns.mp_value,
                    mp_derivative=fns.mp_derivative, expression=loss.expression)
        a, b = loss_derivatives(loss), loss_derivatives(expr)
        assert np.allclose(a.second(u), b.second(u), rtol=1e-12, atol=1e-300)
        assert np.allclose(a.third(u), b.third(u), rtol=1e-9, atol=1e-300)
        with mpmath.workdps(30):
            for x in (-2.5, 0.0, 1.75):
                xm = mpmath.mpf(x)
                assert abs(a.mp_second(xm) - mpmath.diff(loss.mp_derivative, xm)) < 1e-25
                assert abs(a.mp_third(xm) - mpmath.diff(loss.mp_derivative, xm, 2)) < 1e-25


def test_a_loss_without_expression_is_refused():
    odd = Loss(name="custom", value=np.negative, derivative=lambda u: -np.ones_like(u), mp_value=lambda u: -u,
               mp_derivative=lambda u: -1)
    with pytest.raises(ValueError, match="no expression"):
        loss_derivatives(odd)


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_a_stack_of_thetas_gives_each_theta_its_own_scaled_derivatives(loss_name):
    """StableHessian.at_batch: rows from ||theta|| ~ 1 to ~5000 (where the unscaled derivatives underflow), each
    with its own scale e^R, give the gradient, H v, T[v, v] and H of the one-theta formulas (checked against
    autograd and mpmath above) row by row; hvp_and_third gives hvp and third at once; a row where another token
    leads refuses the stack."""
    rng = np.random.default_rng(21)
    phi, gamma = rng.standard_normal((3, 4, 3)), rng.standard_normal((3, 4))
    u = rng.standard_normal(3)
    u /= np.linalg.norm(u)
    thetas = np.array([c * u for c in (1.0, 30.0, 500.0, 5000.0)]) + 1e-3 * rng.standard_normal((4, 3))
    V = rng.standard_normal((4, 3))
    hess = StableHessian(phi, gamma, LOSSES[loss_name])
    hess.at(thetas[-1])
    loc = hess.at_batch(thetas)
    assert loc is not None and loc.R.shape == (4,) and loc.eR[-1] == 0.0
    G, HV, TV, Hd = loc.gradient(), loc.hvp(V), loc.third(V), loc.dense()
    hv2, tv2 = loc.hvp_and_third(V)
    assert np.array_equal(hv2, HV) and np.array_equal(tv2, TV)
    for b, theta in enumerate(thetas):
        one = StableHessian(phi, gamma, LOSSES[loss_name]).at(theta)
        assert loc.R[b] == pytest.approx(one.R, rel=1e-14, abs=1e-14)
        assert close(G[b], one.gradient(), 1e-12)
        assert close(HV[b], one.hvp(V[b]), 1e-12)
        assert close(TV[b], one.third(V[b]), 1e-10)
        assert close(Hd[b], one.dense(), 1e-12)
        assert np.abs(HV[b]).max() > 0
    assert hess.at_batch(np.array([thetas[0], -thetas[0]])) is None
