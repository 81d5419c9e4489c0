"""Prediction heads acting on the attended vector y_i = X_i^T s_i, and their part of the stable gradient.

The model is a feature map Phi (logits q_it = <theta, Phi_it>, :mod:`numeric.attention`) and a head h: R^d -> R
applied to the attention-weighted token, f(X_i) = h(y_i) with y_i = X_i^T s_i = sum_t s_it x_it. Heads:

* linear     h(y) = v^T y                               grad h(y) = v
* relu       h(y) = sum_j v_j ReLU((V^T y)_j)            grad h(y) = V (v * 1[V^T y > 0])   (V: d x d)
* quadratic  h(y) = v^T y - lambda ||y||^2               grad h(y) = v - 2 lambda y

(ReLU'(0) is taken as 0, as torch does). The authors' nonlinear experiment uses the relu head with v = 1, i.e.
f = sum_j ReLU((V^T X^T s)_j).

With g_i = grad h(y_i), the chain rule through the softmax gives d u_i / d q_it = s_it Y_i g_i^T (x_it - y_i): the
linear head's formula with the *effective scores* gamma~_it = Y_i g_i^T x_it, which depend on theta through y_i.
Around the dominant token a_i (DESIGN.md section 3) every quantity is formed without cancellation:

    y_i - x_{i,a_i}         = sum_{t != a_i} s_it (x_it - x_{i,a_i})
    dgamma~_it              = Y_i g_i^T (x_it - x_{i,a_i})                      (0 at a_i)
    gap~_i                  = sum_{t != a_i} s_it (gamma~_{i,a_i} - gamma~_it) = -sum_{t != a_i} s_it dgamma~_it
    u_i                     = Y_i h(y_i)
    grad L = (1/n) sum_i l'(u_i) sum_{t != a_i} s_it (dgamma~_it + gap~_i) (Phi_it - Phi_{i,a_i})

so a head contributes (dgamma~, gap~, u) and :class:`numeric.attention.StableAttention` does the rest: no second
copy of the gradient. For the linear head dgamma~ and gap~ are the fixed-score quantities of that module.
The token scores gamma_it = Y_i h(x_it) (the output when attention selects token t alone) generalise the linear
scores Y_i v^T x_it.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np

HEAD_KINDS = ("linear", "relu", "quadratic")


@dataclass(frozen=True, eq=False)
class Head:
    """A head h of the module docstring: ``kind``, the weights ``v`` (d,), ``V`` (d, d) for relu, ``lam`` for
    quadratic. ``value``/``gradient`` act on rows y (..., d) in float64; ``mp_value``/``mp_gradient`` on one
    vector of mpmath numbers."""

    kind: str
    v: np.ndarray
    V: np.ndarray | None = None
    lam: float = 0.0
    exact: dict | None = None   # exact rationals ("v", "V", "lambda") for the mpmath functions, when known

    def __post_init__(self):
        if self.kind not in HEAD_KINDS:
            raise ValueError(f"unknown head {self.kind!r}; expected one of {HEAD_KINDS}")
        if self.kind == "relu" and self.V is None:
            raise ValueError("the relu head needs its matrix V")

    @property
    def is_linear(self) -> bool:
        return self.kind == "linear"

    def value(self, y: np.ndarray) -> np.ndarray:
        """h(y) for every row of y (..., d)."""
        y = np.asarray(y, dtype=float)
        if self.kind == "linear":
            return y @ self.v
        if self.kind == "relu":
            return np.maximum(y @ self.V, 0.0) @ self.v
        return y @ self.v - self.lam * np.einsum("...d,...d->...", y, y)

    def gradient(self, y: np.ndarray) -> np.ndarray:
        """grad h(y) for every row of y (..., d)."""
        y = np.asarray(y, dtype=float)
        if self.kind == "linear":
            return np.broadcast_to(self.v, y.shape).copy()
        if self.kind == "relu":
            return ((y @ self.V > 0) * self.v) @ self.V.T
        return self.v - 2.0 * self.lam * y

    def mp_value(self, y):
        """h(y) for one vector y of mpmath numbers (at the working precision)."""
        v = self._mp_v()
        if self.kind == "linear":
            return mpmath.fsum(a * b for a, b in zip(v, y))
        if self.kind == "relu":
            pre = self._mp_pre(y)
            return mpmath.fsum(v[j] * max(pre[j], mpmath.mpf(0)) for j in range(len(pre)))
        return mpmath.fsum(a * b for a, b in zip(v, y)) - self._mp_lam() * mpmath.fsum(x * x for x in y)

    def mp_gradient(self, y) -> list:
        """grad h(y) for one vector y of mpmath numbers."""
        v = self._mp_v()
        if self.kind == "linear":
            return list(v)
        if self.kind == "relu":
            pre = self._mp_pre(y)
            Vm = self._mp_V()
            d = len(y)
            return [mpmath.fsum(Vm[a][j] * v[j] for j in range(len(pre)) if pre[j] > 0) for a in range(d)]
        lam = self._mp_lam()
        return [v[a] - 2 * lam * y[a] for a in range(len(y))]

    def _source(self, key, fallback):
        src = None if self.exact is None else self.exact.get(key)
        return fallback if src is None else src

    def _mp_v(self):
        return [_mp(x) for x in self._source("v", self.v)]

    def _mp_V(self):
        return [[_mp(x) for x in row] for row in self._source("V", self.V)]

    def _mp_lam(self):
        return _mp(self._source("lambda", self.lam))

    def _mp_pre(self, y):
        Vm = self._mp_V()
        return [mpmath.fsum(Vm[a][j] * y[a] for a in range(len(y))) for j in range(len(Vm[0]))]

    def token_scores(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """gamma_it = Y_i h(x_it) (n, T): the output when attention selects token t alone."""
        return np.asarray(Y, dtype=float)[:, None] * self.value(X)

    def to_dict(self) -> dict:
        out = {"kind": self.kind}
        if self.kind == "relu":
            out["V"] = np.asarray(self.V).tolist()
        if self.kind == "quadratic":
            out["lambda"] = float(self.lam)
        return out

    def describe(self) -> str:
        return {"linear": "linear head v^T y", "relu": "relu head sum_j v_j ReLU((V^T y)_j)",
                "quadratic": f"quadratic head v^T y - {float(self.lam):g} ||y||^2"}[self.kind]


def _mp(x):
    from fractions import Fraction

    if isinstance(x, mpmath.mpf):
        return x
    if isinstance(x, Fraction):
        return mpmath.mpf(x.numerator) / x.denominator
    if isinstance(x, np.generic):
        x = x.item()
    return mpmath.mpf(x)


def make_head(kind: str, v, V=None, lam=0.0, exact: dict | None = None) -> Head:
    """A :class:`Head` from float data; ``exact`` may hold the exact rationals ("v", "V", "lambda") used by the
    mpmath functions instead of the float values."""
    return Head(kind=kind, v=np.asarray(v, dtype=float), V=None if V is None else np.asarray(V, dtype=float),
                lam=float(lam), exact=exact or None)


def linear_head(v) -> Head:
    return make_head("linear", v)


@dataclass(frozen=True, eq=False)
class Readout:
    """A head bound to its data: the outputs u_i = Y_i h(X_i^T s_i) of tokens X (n, T, d) and labels Y (n,).
    :class:`numeric.attention.StableAttention` takes one to replace its fixed scores."""

    head: Head
    X: np.ndarray
    Y: np.ndarray

    def scores(self, dominant: np.ndarray, e_tail: np.ndarray, z: np.ndarray):
        """(dgamma~, gap~, u, y) of the module docstring at the attention given by the dominant tokens a_i,
        e_tail = e^{r_it} (0 at a_i) and z_i = 1 + sum_{t != a_i} e^{r_it}."""
        X = self.X
        rows = np.arange(X.shape[0])
        x_a = X[rows, dominant]                                   # (n, d)
        dX = X - x_a[:, None, :]                                  # x_it - x_{i,a_i}, 0 at a_i
        s_tail = e_tail / z[:, None]                              # s_it for t != a_i, 0 at a_i
        y = x_a + np.einsum("it,itd->id", s_tail, dX)
        g = self.head.gradient(y)
        dgamma = self.Y[:, None] * np.einsum("itd,id->it", dX, g)
        gap = -(s_tail * dgamma).sum(axis=1)
        u = self.Y * self.head.value(y)
        return dgamma, gap, u, y


def mp_head_gradient(theta, phi, X, Y, head: Head, loss, dps: int = 50):
    """grad_theta L for a head, evaluated independently of the stable float64 formula: the textbook chain rule

        s_i = softmax(q_i), y_i = X_i^T s_i, u_i = Y_i h(y_i),
        grad L = (1/n) sum_i l'(u_i) Y_i sum_t s_it (g_i^T x_it - g_i^T y_i) Phi_it,   g_i = grad h(y_i),

    in mpmath at ``dps`` digits (choose dps above the largest logit gap / ln 10 plus the digits wanted: then
    the cancellation in the textbook formula costs nothing). Inputs may be exact rationals; returns a list of
    mpf (D,), the loss value and the logit gradient dL/dq_it = (1/n) l'(u_i) Y_i s_it (g_i^T x_it - g_i^T y_i)
    (an (n, T) object array of mpf)."""
    with mpmath.workdps(dps):
        phi = np.asarray(phi, dtype=object)
        X = np.asarray(X, dtype=object)
        n, T, D = phi.shape
        d = X.shape[2]
        th = [_mp(x) for x in np.asarray(theta, dtype=object).ravel()]
        grad = [mpmath.mpf(0)] * D
        total = mpmath.mpf(0)
        dq = np.empty((n, T), dtype=object)
        for i in range(n):
            q = [mpmath.fsum(_mp(phi[i, t, k]) * th[k] for k in range(D)) for t in range(T)]
            qm = max(q)
            e = [mpmath.exp(x - qm) for x in q]
            zs = mpmath.fsum(e)
            s = [x / zs for x in e]
            xs = [[_mp(X[i, t, a]) for a in range(d)] for t in range(T)]
            y = [mpmath.fsum(s[t] * xs[t][a] for t in range(T)) for a in range(d)]
            g = head.mp_gradient(y)
            yi = _mp(Y[i])
            u = yi * head.mp_value(y)
            total += loss.mp_value(u)
            lp = loss.mp_derivative(u)
            gy = mpmath.fsum(a * b for a, b in zip(g, y))
            for t in range(T):
                w = lp * yi * s[t] * (mpmath.fsum(a * b for a, b in zip(g, xs[t])) - gy) / n
                dq[i, t] = w
                for k in range(D):
                    grad[k] += w * _mp(phi[i, t, k])
        return grad, total / n, dq
