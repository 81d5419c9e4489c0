"""Stable second and third derivatives of the attention loss in float64 (DESIGN.md section 3).

With logits q_it = <theta, Phi_it>, s_i = softmax(q_i), outputs u_i = sum_t s_it gamma_it and
L(theta) = (1/n) sum_i l(u_i), the derivatives of u_i are joint cumulants under s_i of the token
score gamma and the features Phi (the logits are an exponential family with sufficient statistic Phi):

    grad u_i        = g_i      = E[e X]                              e_t = gamma_t - u_i
    hess u_i        = K_i      = E[e X X^T]                          X_t = Phi_t - Phi_bar_i
    D^3 u_i [v, v]  = Q_i[v,v] = E[e Y^2 X] - 2 (g_i.v) C_i v - (v^T C_i v) g_i,   Y = X.v, C_i = E[X X^T]

(E = expectation over t ~ s_i, Phi_bar_i = E[Phi]), so that

    H v          = (1/n) sum_i [ l''(u_i) g_i (g_i.v) + l'(u_i) K_i v ]
    D^3 L[v, v]  = (1/n) sum_i [ l'''(u_i) (g_i.v)^2 g_i + l''(u_i) (2 (g_i.v) K_i v + (v^T K_i v) g_i)
                                 + l'(u_i) Q_i[v, v] ].

Stable evaluation (no cancellation at any norm): with a_i the dominant token, d_t = Phi_t - Phi_{a_i},
r_t = <theta, d_t> <= 0 and the tail weights s_t (t != a_i) from :class:`numeric.attention.StableAttention`,

    gap_i = gamma_{a_i} - u_i = -sum_{t != a} s_t (gamma_t - gamma_a),
    m_i = Phi_bar_i - Phi_{a_i} = sum_{t != a} s_t d_t,
    e_t = (gamma_t - gamma_a) + gap_i,  X_t = d_t - m_i  (t != a),       e_a = gap_i,  X_a = -m_i,

so every expectation is a sum of tail terms s_t (...) plus the dominant token's term s_a gap_i (products of
m_i), each computed without subtraction of nearly equal numbers (g_i = sum_{t != a} s_t e_t d_t because
sum_t s_t e_t = 0). Everything is returned *scaled* by e^{-R}, R = max_{i, t != a_i} r_it (the largest tail
logit), like the scaled gradient of :mod:`numeric.attention`: with the scaled tail weights
s^_t = e^{r_t - R} / z_i, g_i = e^R g^_i, and

    H = e^R H^,   D^3 L = e^R T^,   grad L = e^R G^,

so nothing underflows to a zero direction; the factors e^R (possibly 0 in float64) multiply only the terms
that are higher order in the tail weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit

from .attention import StableAttention
from .losses import Loss


def _logistic_second(u):
    """l''(u) = sigma(u) sigma(-u) for l(u) = log(1 + e^{-u})."""
    u = np.asarray(u, dtype=float)
    return expit(u) * expit(-u)


def _logistic_third(u):
    """l'''(u) = sigma(u) sigma(-u) (sigma(-u) - sigma(u)) = -sigma(u) sigma(-u) tanh(u/2)."""
    u = np.asarray(u, dtype=float)
    return -expit(u) * expit(-u) * np.tanh(u / 2)


_HIGHER = {
    "logistic": (_logistic_second, _logistic_third),
    "exponential": (lambda u: np.exp(-np.asarray(u, dtype=float)), lambda u: -np.exp(-np.asarray(u, dtype=float))),
    "correlation": (lambda u: np.zeros_like(np.asarray(u, dtype=float)),
                    lambda u: np.zeros_like(np.asarray(u, dtype=float))),
}


@dataclass(frozen=True)
class LossDerivatives:
    """l', l'' and l''' of a loss, elementwise on float64 arrays, and their mpmath versions (one number)."""

    first: Callable
    second: Callable
    third: Callable
    mp_first: Callable
    mp_second: Callable
    mp_third: Callable


def _mp_builtin(name: str):
    import mpmath

    def sig(x):
        return 1 / (1 + mpmath.exp(-x))
    return {
        "logistic": (lambda u: sig(u) * sig(-u), lambda u: sig(u) * sig(-u) * (sig(-u) - sig(u))),
        "exponential": (lambda u: mpmath.exp(-u), lambda u: -mpmath.exp(-u)),
        "correlation": (lambda u: mpmath.mpf(0), lambda u: mpmath.mpf(0)),
    }[name]


def loss_derivatives(loss: Loss) -> LossDerivatives:
    """l', l'', l''' of ``loss``: closed forms for the built-ins (logistic, exponential, correlation);
    otherwise sympy derivatives of ``loss.expression`` (parsed by :func:`attnsvm.symbolic.parse_loss`)."""
    if loss.name in _HIGHER and loss.expression in ("", _BUILTIN_EXPRESSIONS[loss.name]):
        second, third = _HIGHER[loss.name]
        mp_second, mp_third = _mp_builtin(loss.name)
        return LossDerivatives(loss.derivative, second, third, loss.mp_derivative, mp_second, mp_third)
    if not loss.expression:
        raise ValueError(f"loss {loss.name!r}: no expression to differentiate (needed for l'' and l''')")
    import sympy as sp

    from attnsvm import symbolic

    expr = symbolic.parse_loss(loss.expression)
    (u,) = expr.free_symbols or {sp.Symbol("u", real=True)}
    d2, d3 = sp.diff(expr, u, 2), sp.diff(expr, u, 3)
    np2, np3 = sp.lambdify(u, d2, "numpy"), sp.lambdify(u, d3, "numpy")
    mp2, mp3 = sp.lambdify(u, d2, "mpmath"), sp.lambdify(u, d3, "mpmath")

    def wrap(f):
        def g(x):
            x = np.asarray(x, dtype=float)
            with np.errstate(all="ignore"):
                return np.broadcast_to(np.asarray(f(x), dtype=float), x.shape).copy()
        return g

    import mpmath
    return LossDerivatives(loss.derivative, wrap(np2), wrap(np3), loss.mp_derivative,
                           lambda x: mpmath.mpf(mp2(x)), lambda x: mpmath.mpf(mp3(x)))


_BUILTIN_EXPRESSIONS = {"logistic": "log(1 + exp(-u))", "exponential": "exp(-u)", "correlation": "-u"}


class LocalDerivatives:
    """The derivatives of L at one theta, scaled by e^{-R} (module docstring), sharing one stable state.

    ``R`` is the scale exponent; ``gradient()`` = G^ (e^R G^ = grad L); ``hvp(v)`` = H^ v; ``dense()`` = H^;
    ``third(v)`` = T^[v, v] (e^R T^[v, v] = D^3 L[v, v]); ``bound()`` >= ||H^|| (a local upper bound, see
    :meth:`bound`). Quantities are computed on first use and cached.

    A stack of B thetas (:meth:`StableHessian.at_batch`; ``tails`` = the kernel's tails at all of them) gives the
    same quantities with a leading axis B, each theta with its own scale (``R`` and ``eR`` arrays of shape (B,));
    ``gradient``, ``hvp`` and ``third`` then take and return (B, D) arrays. ``dense`` and ``bound`` are for one
    theta.
    """

    def __init__(self, kernel: StableAttention, theta: np.ndarray, derivs: LossDerivatives, tails=None):
        self.kernel = kernel
        self.theta = theta
        r_tail, e_tail, z, gap, u = tails if tails is not None else kernel.tails(theta)
        self.batch = r_tail.ndim == 3
        R = r_tail.max(axis=(-2, -1))
        self.R = R if self.batch else float(R)
        self.eR = np.exp(R) if self.batch else float(np.exp(R))
        # e^R shaped to multiply per-sequence arrays (..., n) and per-sequence vectors (..., n, D)
        self._eRi = self.eR[:, None] if self.batch else self.eR
        self._eRid = self.eR[:, None, None] if self.batch else self.eR
        n = kernel.n
        # scaled tail weights s^_t = e^{r_t - R} / z (0 at the dominant token), s_a = 1 / z
        self.sh = np.exp(r_tail - (R[:, None, None] if self.batch else self.R)) / z[..., None]
        self.sa = 1.0 / z
        self.gap = gap
        self.gap_h = -(self.sh * kernel.dgamma).sum(axis=-1)           # e^{-R} gap, no subtraction
        self.e = kernel.dgamma + gap[..., None]                         # e_t for t != a (unused at a: s^ = 0)
        self.u = u
        self.derivs = derivs
        self.lp = derivs.first(u)
        self.dphi = kernel.dphi                                         # d_t = Phi_t - Phi_a, (n, T, D)
        self.n = n
        self._cache: dict = {}

    # -- shared pieces ------------------------------------------------------------------------------
    @property
    def lpp(self) -> np.ndarray:
        """l''(u_i)."""
        if "lpp" not in self._cache:
            self._cache["lpp"] = self.derivs.second(self.u)
        return self._cache["lpp"]

    @property
    def lppp(self) -> np.ndarray:
        """l'''(u_i)."""
        if "lppp" not in self._cache:
            self._cache["lppp"] = self.derivs.third(self.u)
        return self._cache["lppp"]

    @property
    def g_h(self) -> np.ndarray:
        """g^_i = e^{-R} grad u_i = sum_{t != a} s^_t e_t d_t, shape (n, D)."""
        if "g" not in self._cache:
            self._cache["g"] = np.einsum("...it,itd->...id", self.sh * self.e, self.dphi)
        return self._cache["g"]

    @property
    def m(self) -> np.ndarray:
        """m_i = Phi_bar_i - Phi_{a_i} = e^R sum_{t != a} s^_t d_t (unscaled), shape (n, D)."""
        if "m" not in self._cache:
            self._cache["m_h"] = np.einsum("...it,itd->...id", self.sh, self.dphi)
            self._cache["m"] = self._eRid * self._cache["m_h"]
        return self._cache["m"]

    @property
    def X(self) -> np.ndarray:
        """X_t = d_t - m_i (t != a), shape (n, T, D)."""
        if "X" not in self._cache:
            self._cache["X"] = self.dphi - self.m[..., None, :]
        return self._cache["X"]

    def gradient(self) -> np.ndarray:
        """G^ = e^{-R} grad L = (1/n) sum_i l'(u_i) g^_i."""
        return np.einsum("...i,...id->...d", self.lp, self.g_h) / self.n

    def _kv(self, v: np.ndarray):
        """(K^_i v, v.K^_i v, Y, m.v) with
        K^_i v = e^{-R} K_i v = sum_{t != a} s^_t e_t Y_t X_t + s_a gap^_i m_i (m_i.v)."""
        X, m = self.X, self.m
        Y = np.einsum("...itd,...d->...it", X, v)
        mv = np.einsum("...id,...d->...i", m, v)
        w = self.sh * self.e * Y
        kv = np.einsum("...it,...itd->...id", w, X) + (self.sa * self.gap_h * mv)[..., None] * m
        vkv = (w * Y).sum(axis=-1) + self.sa * self.gap_h * mv * mv
        return kv, vkv, Y, mv

    def hvp(self, v: np.ndarray) -> np.ndarray:
        """H^ v = e^{-R} H v = (1/n) sum_i [ l''(u_i) e^R g^_i (g^_i.v) + l'(u_i) K^_i v ]."""
        v = np.asarray(v, dtype=float)
        gv = np.einsum("...id,...d->...i", self.g_h, v)
        kv, _, _, _ = self._kv(v)
        return (np.einsum("...i,...id->...d", self.lpp * self._eRi * gv, self.g_h)
                + np.einsum("...i,...id->...d", self.lp, kv)) / self.n

    def dense(self) -> np.ndarray:
        """H^ = e^{-R} H
              = (1/n) sum_i [ l'' e^R g^_i g^_i^T + l' (sum_t s^_t e_t X_t X_t^T + s_a gap^_i m_i m_i^T) ]."""
        X, m, g = self.X, self.m, self.g_h
        w = (self.sh * self.e) * self.lp[..., None]
        H = np.einsum("...it,...itd,...ite->...de", w, X, X)
        H += np.einsum("...i,...id,...ie->...de", self.lp * self.sa * self.gap_h, m, m)
        H += np.einsum("...i,...id,...ie->...de", self.lpp * self._eRi, g, g)
        return H / self.n

    def third(self, v: np.ndarray) -> np.ndarray:
        """T^[v, v] = e^{-R} D^3 L[v, v] (module docstring), with, scaled,
        Q^_i[v,v] = sum_t s^_t e_t Y_t^2 X_t - s_a gap^_i (m.v)^2 m - e^R (2 (g^.v) C^ v + (v.C^ v) g^),
        C^_i v = sum_{t != a} s^_t Y_t X_t + s_a (m.v) m^_i."""
        return self.hvp_and_third(v)[1]

    def hvp_and_third(self, v: np.ndarray) -> tuple:
        """(H^ v, T^[v, v]) sharing K^_i v and g^_i.v (:meth:`hvp`, :meth:`third`)."""
        v = np.asarray(v, dtype=float)
        g = self.g_h
        gv = np.einsum("...id,...d->...i", g, v)
        kv, vkv, Y, mv = self._kv(v)
        X, m = self.X, self.m
        m_h = self._cache["m_h"]
        lpp_e = self.lpp * self._eRi
        hv = (np.einsum("...i,...id->...d", lpp_e * gv, g) + np.einsum("...i,...id->...d", self.lp, kv)) / self.n
        cv = np.einsum("...it,...itd->...id", self.sh * Y, X) + (self.sa * mv)[..., None] * m_h
        vcv = (self.sh * Y * Y).sum(axis=-1) + self.sa * mv * np.einsum("...id,...d->...i", m_h, v)
        eyyx = (np.einsum("...it,...itd->...id", self.sh * self.e * Y * Y, X)
                - (self.sa * self.gap_h * mv * mv)[..., None] * m)
        q = eyyx - self._eRid * (2 * gv[..., None] * cv + vcv[..., None] * g)
        t1 = (self.lppp * self._eRi * self._eRi * gv * gv)[..., None] * g
        t2 = lpp_e[..., None] * (2 * gv[..., None] * kv + vkv[..., None] * g)
        t3 = self.lp[..., None] * q
        return hv, (t1 + t2 + t3).sum(axis=-2) / self.n

    def bound(self) -> float:
        """An upper bound on ||H^|| (spectral norm) at this theta, from the triangle inequality:
        (1/n) sum_i [ |l''| e^R ||g^_i||^2 + |l'| (sum_{t != a} s^_t |e_t| ||X_t||^2 + s_a |gap^_i| ||m_i||^2) ]."""
        if "bound" not in self._cache:
            X, m, g = self.X, self.m, self.g_h
            k = (self.sh * np.abs(self.e) * np.einsum("itd,itd->it", X, X)).sum(axis=1)
            k += self.sa * np.abs(self.gap_h) * np.einsum("id,id->i", m, m)
            self._cache["bound"] = float((np.abs(self.lpp) * self.eR * np.einsum("id,id->i", g, g)
                                          + np.abs(self.lp) * k).sum() / self.n)
        return self._cache["bound"]


class StableHessian:
    """Stable derivatives of L for fixed data (Phi, gamma) and loss, at any theta: ``at(theta)`` returns the
    :class:`LocalDerivatives` (scaled by e^{-R}; see the module docstring). Built on
    :class:`numeric.attention.StableAttention` (the float64 engine)."""

    def __init__(self, phi: np.ndarray, gamma: np.ndarray, loss: Loss):
        self.kernel = StableAttention(phi, gamma)
        self.loss = loss
        self.derivs = loss_derivatives(loss)

    def at(self, theta: np.ndarray) -> LocalDerivatives:
        return LocalDerivatives(self.kernel, np.asarray(theta, dtype=float).ravel(), self.derivs)

    def at_batch(self, thetas: np.ndarray) -> LocalDerivatives | None:
        """The derivatives at every row of ``thetas`` (B, D) at once (a batched :class:`LocalDerivatives`), or None
        where the rows cannot share the kernel's current dominant tokens (:meth:`StableAttention.tails_batch`) or
        some row has no tail token at all: then evaluate the rows one by one with :meth:`at`."""
        thetas = np.asarray(thetas, dtype=float)
        tails = self.kernel.tails_batch(thetas)
        if tails is None or not np.all(np.isfinite(tails[0].max(axis=(-2, -1)))):
            return None
        return LocalDerivatives(self.kernel, thetas, self.derivs, tails)


def hessian_matrix(theta: np.ndarray, phi: np.ndarray, gamma: np.ndarray, loss: Loss) -> np.ndarray:
    """The Hessian of L at theta (unscaled: e^R H^), by the stable formulas of the module docstring."""
    loc = StableHessian(phi, gamma, loss).at(theta)
    return loc.eR * loc.dense()


def hessian_vector_product(theta: np.ndarray, phi: np.ndarray, gamma: np.ndarray, loss: Loss, v: np.ndarray,
                           scaled: bool = False) -> np.ndarray:
    """H(theta) v by the stable formula; with ``scaled`` the result is e^{-R} H v (R: the largest tail logit),
    which keeps its value where H v underflows."""
    loc = StableHessian(phi, gamma, loss).at(theta)
    hv = loc.hvp(v)
    return hv if scaled else loc.eR * hv
