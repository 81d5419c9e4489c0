"""symbolic.gradients: sympy derivations proven equal to the closed forms, and the lambdified gradients
checked against numeric/ (an independent implementation)."""
from __future__ import annotations

import random
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from attnsvm import numeric
from attnsvm.symbolic import (attention_model, closed_form, derivation_latex, derive_gradient, lambdify_gradient,
                      prove_gradient)


@pytest.fixture(scope="module")
def model_132():
    return attention_model(1, 3, 2)


@pytest.mark.parametrize("wrt", ["p", "v", "W"])
def test_fully_symbolic_matrix_forms(model_132, wrt):
    proof = prove_gradient(model_132, wrt, "matrix")
    assert proof.ok and proof.entries == model_132.params[wrt].shape[0] * model_132.params[wrt].shape[1]


@pytest.mark.parametrize("reference", [0, 1, 2])
def test_fully_symbolic_stable_form_any_reference(model_132, reference):
    assert prove_gradient(model_132, "p", "stable", reference).ok


def test_dropped_terms_are_rejected(model_132):
    wrong_stable = prove_gradient(model_132, "p", "stable", 0, drop="gap")
    wrong_matrix = prove_gradient(model_132, "p", "matrix", drop="ssT")
    assert not wrong_stable.ok and wrong_stable.nonzero
    assert not wrong_matrix.ok and wrong_matrix.nonzero
    # a sign flip is rejected too
    flipped = -closed_form(model_132, "p")
    from attnsvm.symbolic import prove_equal

    assert not prove_equal(derive_gradient(model_132, "p").normal, flipped).ok


@pytest.mark.parametrize("wrt", ["K", "Q"])
def test_factored_W_prompt_model(wrt):
    assert prove_gradient(attention_model(1, 2, 2, factored=True), wrt).ok


@pytest.mark.parametrize("wrt", ["W", "v"])
def test_self_cross_attention_logits(wrt):
    assert prove_gradient(attention_model(2, 2, 2, model="attention"), wrt).ok


def test_self_cross_attention_factored():
    m = attention_model(1, 2, 2, model="attention", factored=True, rank=1)
    assert prove_gradient(m, "K").ok and prove_gradient(m, "Q").ok


def test_exact_rational_data_larger_shape():
    rnd = random.Random(3)
    n, T, d = 3, 4, 3
    data = {"X": [[[Fraction(rnd.randint(-5, 5), rnd.randint(1, 4)) for _ in range(d)] for _ in range(T)]
                  for _ in range(n)],
            "Y": [1, -1, 1], "v": [Fraction(1, 2), -1, 2],
            "W": [[Fraction(rnd.randint(-3, 3), 2) for _ in range(d)] for _ in range(d)]}
    m = attention_model(n, T, d, data=data)
    assert prove_gradient(m, "p", "stable", reference=2).ok
    assert not prove_gradient(m, "p", "stable", reference=2, drop="gap").ok


def test_latex_printing(model_132):
    tex = derivation_latex(model_132, "p")
    assert r"\nabla_p" in tex["closed_form"] and "E_{" in tex["gradient"] and "l{\\left(" in tex["loss"]
    tex_w = derivation_latex(attention_model(1, 2, 2), "W")
    assert r"\nabla_W" in tex_w["closed_form"]


# -- lambdified gradients vs numeric/ ------------------------------------------------------------------

LOSSES = {"logistic": ("log(1 + exp(-u))", numeric.LOGISTIC), "exponential": ("exp(-u)", numeric.EXPONENTIAL),
          "correlation": ("-u", numeric.CORRELATION)}
N, T, D = 2, 3, 2


def _data(seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, T, D))
    Y = rng.choice([-1.0, 1.0], size=N)
    v = rng.normal(size=D)
    W = rng.normal(size=(D, D))
    p = rng.normal(size=D) * 2
    return X, Y, v, W, p


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2 ** 31), loss=st.sampled_from(sorted(LOSSES)))
def test_lambdified_gradient_matches_numeric_float64(seed, loss):
    text, ref = LOSSES[loss]
    X, Y, v, W, p = _data(seed)
    lam = lambdify_gradient(N, T, D, text)
    phi, gamma = X @ W, Y[:, None] * (X @ v)
    g_num = numeric.gradient(p, phi, gamma, ref)
    g_sym = lam.numpy(X, Y, v, W, p)
    # the lambdified derivative is evaluated as written (it cancels like the naive formula): absolute
    # error ~ eps * (size of the terms), bounded by |l'| * max|gamma| * max|Phi| up to a small factor
    terms = np.abs(ref.derivative(gamma)).max() * np.abs(gamma).max() * np.abs(phi).max() + np.abs(g_num).max()
    np.testing.assert_allclose(g_sym, g_num, rtol=1e-9, atol=1e-13 * terms)
    np.testing.assert_allclose(numeric.naive_gradient(p, phi, gamma, ref), g_sym, rtol=1e-9, atol=1e-13 * terms)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2 ** 31))
def test_lambdified_gradient_at_50_digits(seed):
    """The mpmath lambdification of the derived gradient at 50 digits agrees with (a) numeric/ in float64 to
    float64 accuracy, (b) the stable closed form evaluated at 50 digits and (c) numeric/'s mpmath backend at
    50 digits, both to 45 digits."""
    X, Y, v, W, p = _data(seed)
    lam = lambdify_gradient(N, T, D, "log(1 + exp(-u))")
    m = attention_model(N, T, D)
    stable = closed_form(m, "p", "stable", reference=1)
    with mpmath.workdps(50):
        mpX = [[[mpmath.mpf(float(x)) for x in row] for row in Xi] for Xi in X]
        mpY, mpv, mpp = [mpmath.mpf(float(y)) for y in Y], [mpmath.mpf(float(x)) for x in v], \
            [mpmath.mpf(float(x)) for x in p]
        mpW = [[mpmath.mpf(float(x)) for x in row] for row in W]
        g_mp = lam.mpmath(mpX, mpY, mpv, mpW, mpp)
        # the closed form at 50 digits: E_it = e^{q_it}, g_i = l'(u_i) with l' = -1/(1 + e^u)
        subs = {}
        for i in range(N):
            q = [mpmath.fsum(mpX[i][t][a] * mpW[a][b] * mpp[b] for a in range(D) for b in range(D)) for t in range(T)]
            E = [mpmath.exp(x) for x in q]
            s = [e / mpmath.fsum(E) for e in E]
            u_i = mpY[i] * mpmath.fsum(s[t] * mpmath.fsum(mpX[i][t][k] * mpv[k] for k in range(D)) for t in range(T))
            subs[m.g[i]] = -1 / (1 + mpmath.exp(u_i))
            subs.update({m.E[i][t]: E[t] for t in range(T)})
            subs.update({m.X[i][t, k]: mpX[i][t][k] for t in range(T) for k in range(D)})
            subs[m.Y[i]] = mpY[i]
        subs.update({m.v[k]: mpv[k] for k in range(D)})
        subs.update({m.W[a, b]: mpW[a][b] for a in range(D) for b in range(D)})
        keys = list(subs)
        f = sp.lambdify(keys, list(stable), "mpmath")
        g_closed = f(*[subs[k] for k in keys])
        # both are evaluated as written: absolute error ~ 10^-50 times the size of the terms
        terms = mpmath.mpf(float(np.abs(Y[:, None] * (X @ v)).max() * np.abs(X @ W).max()))
        scale = max(abs(x) for x in g_closed) + terms
        assert max(abs(a - b) for a, b in zip(g_mp, g_closed)) <= mpmath.mpf(10) ** -45 * scale
        # (c) numeric/'s mpmath backend (stable formula) at 50 digits, from the exact values of the same data
        from fractions import Fraction
        exact = np.vectorize(Fraction, otypes=[object])
        phi_x, gamma_x = exact(X).dot(exact(W)), exact(Y)[:, None] * exact(X).dot(exact(v))
        g_backend = numeric.mp_gradient(exact(p), phi_x, gamma_x, numeric.LOGISTIC, dps=50)
        assert max(abs(a - b) for a, b in zip(g_mp, g_backend)) <= mpmath.mpf(10) ** -45 * scale
    g_num = numeric.gradient(p, X @ W, Y[:, None] * (X @ v), numeric.LOGISTIC)
    # float64 (stable formula) against 50 digits: full relative accuracy up to cancellation in the terms
    np.testing.assert_allclose([float(x) for x in g_mp], g_num, rtol=1e-10, atol=1e-14 * float(terms))
