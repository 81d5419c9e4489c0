"""Stable second and third derivatives of the attention loss in mpmath, beside :mod:`numeric.hessian`.

Same mathematics (the cumulant formulas of :mod:`numeric.hessian`), around the dominant tokens of
:func:`numeric.mp_attention.mp_attention_state`, at ``dps`` digits. mpmath numbers do not underflow, so the
quantities are returned unscaled: g = grad L, H v, H, D^3 L[v, v] themselves (e^{-10^4} is a number here).
With d_t = Phi_t - Phi_{a_i}, tail weights s_t (t != a_i), s_a = 1/(1 + sum_{t != a} e^{r_t}),

    m_i = sum_{t != a} s_t d_t,  e_t = (gamma_t - gamma_a) + gap_i,  X_t = d_t - m_i,
    g_i   = sum_{t != a} s_t e_t d_t
    K_i v = sum_{t != a} s_t e_t (X_t.v) X_t + s_a gap_i (m_i.v) m_i
    C_i v = sum_{t != a} s_t (X_t.v) X_t + s_a (m_i.v) m_i
    Q_i[v, v] = sum_{t != a} s_t e_t (X_t.v)^2 X_t - s_a gap_i (m_i.v)^2 m_i - 2 (g_i.v) C_i v - (v.C_i v) g_i
    H v       = (1/n) sum_i [ l'' g_i (g_i.v) + l' K_i v ]
    D^3 L[v,v] = (1/n) sum_i [ l''' (g_i.v)^2 g_i + l'' (2 (g_i.v) K_i v + (v.K_i v) g_i) + l' Q_i[v, v] ]

with no difference of nearly equal numbers (DESIGN.md section 3).
"""
from __future__ import annotations

import mpmath
import numpy as np

from .hessian import loss_derivatives
from .losses import Loss
from .mp_attention import DEFAULT_DPS, mp_array, mp_attention_state


def _dot(a, b):
    return mpmath.fsum(x * y for x, y in zip(a, b))


class MPLocalDerivatives:
    """The derivatives of L at one theta in mpmath (module docstring), at ``dps`` digits: ``gradient()``,
    ``hvp(v)``, ``dense()``, ``third(v)``, ``bound()`` (an upper bound on ||H||, as in float64), each an object
    array of mpf (``bound`` an mpf)."""

    def __init__(self, theta, phi, gamma, loss: Loss, dps: int = DEFAULT_DPS, derivs=None, state=None):
        self.dps = dps
        derivs = derivs if derivs is not None else loss_derivatives(loss)
        with mpmath.workdps(dps):
            st = state if state is not None else mp_attention_state(theta, phi, gamma, dps)
            self.state = st
            n, T, D = st.dphi.shape
            self.n, self.T, self.D = n, T, D
            self.lp = [derivs.mp_first(x) for x in st.u]
            self.lpp = [derivs.mp_second(x) for x in st.u]
            self.lppp = [derivs.mp_third(x) for x in st.u]
            self.sa = [1 / (1 + x) for x in st.tail_sum]
            self.tok = [[t for t in range(T) if st.mask[i, t]] for i in range(n)]
            self.m, self.g, self.X, self.e = [], [], [], []
            for i in range(n):
                toks = self.tok[i]
                s = [st.s[i, t] for t in toks]
                d = [list(st.dphi[i, t]) for t in toks]
                e = [st.dgamma[i, t] + st.gap[i] for t in toks]
                m = [mpmath.fsum(sw * dd[k] for sw, dd in zip(s, d)) for k in range(D)]
                g = [mpmath.fsum(sw * ew * dd[k] for sw, ew, dd in zip(s, e, d)) for k in range(D)]
                self.m.append(m)
                self.g.append(g)
                self.X.append([[dd[k] - m[k] for k in range(D)] for dd in d])
                self.e.append(e)

    def _s(self, i):
        return [self.state.s[i, t] for t in self.tok[i]]

    def gradient(self) -> np.ndarray:
        """grad L = (1/n) sum_i l'(u_i) g_i."""
        with mpmath.workdps(self.dps):
            return np.array([mpmath.fsum(self.lp[i] * self.g[i][k] for i in range(self.n)) / self.n
                             for k in range(self.D)], dtype=object)

    def _kv(self, i, v):
        """(K_i v, v.K_i v, Y, m.v) for sequence i."""
        X, m, e, s = self.X[i], self.m[i], self.e[i], self._s(i)
        Y = [_dot(x, v) for x in X]
        mv = _dot(m, v)
        ga = self.state.gap[i]
        kv = [mpmath.fsum(sw * ew * y * x[k] for sw, ew, y, x in zip(s, e, Y, X)) + self.sa[i] * ga * mv * m[k]
              for k in range(self.D)]
        vkv = mpmath.fsum(sw * ew * y * y for sw, ew, y in zip(s, e, Y)) + self.sa[i] * ga * mv * mv
        return kv, vkv, Y, mv

    def hvp(self, v) -> np.ndarray:
        """H v = (1/n) sum_i [ l'' g_i (g_i.v) + l' K_i v ]."""
        with mpmath.workdps(self.dps):
            v = list(mp_array(v).reshape(-1))
            out = [mpmath.mpf(0)] * self.D
            for i in range(self.n):
                gv = _dot(self.g[i], v)
                kv, _, _, _ = self._kv(i, v)
                out = [o + self.lpp[i] * gv * self.g[i][k] + self.lp[i] * kv[k] for k, o in enumerate(out)]
            return np.array([o / self.n for o in out], dtype=object)

    def dense(self) -> np.ndarray:
        """H = (1/n) sum_i [ l'' g_i g_i^T + l' (sum_t s_t e_t X_t X_t^T + s_a gap_i m_i m_i^T) ], (D, D)."""
        with mpmath.workdps(self.dps):
            H = np.empty((self.D, self.D), dtype=object)
            for a in range(self.D):
                for b in range(a, self.D):
                    terms = []
                    for i in range(self.n):
                        X, e, s, m, g = self.X[i], self.e[i], self._s(i), self.m[i], self.g[i]
                        k = mpmath.fsum(sw * ew * x[a] * x[b] for sw, ew, x in zip(s, e, X))
                        k += self.sa[i] * self.state.gap[i] * m[a] * m[b]
                        terms.append(self.lpp[i] * g[a] * g[b] + self.lp[i] * k)
                    H[a, b] = H[b, a] = mpmath.fsum(terms) / self.n
            return H

    def third(self, v) -> np.ndarray:
        """D^3 L[v, v] (module docstring)."""
        with mpmath.workdps(self.dps):
            v = list(mp_array(v).reshape(-1))
            out = [mpmath.mpf(0)] * self.D
            for i in range(self.n):
                X, e, s, m, g = self.X[i], self.e[i], self._s(i), self.m[i], self.g[i]
                gv = _dot(g, v)
                kv, vkv, Y, mv = self._kv(i, v)
                sa, ga = self.sa[i], self.state.gap[i]
                cv = [mpmath.fsum(sw * y * x[k] for sw, y, x in zip(s, Y, X)) + sa * mv * m[k] for k in range(self.D)]
                vcv = mpmath.fsum(sw * y * y for sw, y in zip(s, Y)) + sa * mv * mv
                for k in range(self.D):
                    q = (mpmath.fsum(sw * ew * y * y * x[k] for sw, ew, y, x in zip(s, e, Y, X))
                         - sa * ga * mv * mv * m[k] - 2 * gv * cv[k] - vcv * g[k])
                    out[k] += (self.lppp[i] * gv * gv * g[k] + self.lpp[i] * (2 * gv * kv[k] + vkv * g[k])
                               + self.lp[i] * q)
            return np.array([o / self.n for o in out], dtype=object)

    def bound(self):
        """(1/n) sum_i [ |l''| ||g_i||^2 + |l'| (sum_t s_t |e_t| ||X_t||^2 + s_a |gap_i| ||m_i||^2) ] >= ||H||."""
        with mpmath.workdps(self.dps):
            tot = []
            for i in range(self.n):
                X, e, s, m, g = self.X[i], self.e[i], self._s(i), self.m[i], self.g[i]
                k = mpmath.fsum(sw * abs(ew) * _dot(x, x) for sw, ew, x in zip(s, e, X))
                k += self.sa[i] * abs(self.state.gap[i]) * _dot(m, m)
                tot.append(abs(self.lpp[i]) * _dot(g, g) + abs(self.lp[i]) * k)
            return mpmath.fsum(tot) / self.n


def mp_hessian_matrix(theta, phi, gamma, loss: Loss, dps: int = DEFAULT_DPS) -> np.ndarray:
    """The Hessian of L at theta at ``dps`` digits (object array (D, D))."""
    return MPLocalDerivatives(theta, phi, gamma, loss, dps).dense()


def mp_hessian_vector_product(theta, phi, gamma, loss: Loss, v, dps: int = DEFAULT_DPS) -> np.ndarray:
    """H(theta) v at ``dps`` digits (object array (D,))."""
    return MPLocalDerivatives(theta, phi, gamma, loss, dps).hvp(v)
