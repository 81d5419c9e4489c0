"""Stable softmax-attention quantities in arbitrary precision (mpmath), beside :mod:`numeric.attention`.

Same names (prefixed ``mp_``), same mathematics (DESIGN.md section 3), same feature convention: logits
q_it = <theta, Phi_it> for a feature tensor Phi of shape (n, T, D), token scores gamma (n, T). With a_i
the dominant token and r_it = <theta, Phi_it - Phi_{i,a_i}> <= 0,

    s_it  = e^{r_it} / (1 + sum_{tau != a_i} e^{r_i tau})                 (t != a_i)
    gap_i = gamma_{i,a_i} - u_i = sum_{t != a_i} s_it (gamma_{i,a_i} - gamma_it)
    grad L = (1/n) sum_i l'(u_i) sum_{t != a_i} s_it ((gamma_it - gamma_{i,a_i}) + gap_i) (Phi_it - Phi_{i,a_i})

Every function takes ``dps`` (decimal digits) and works at that precision; inputs may be exact rationals
(``Fraction``, e.g. ``Dataset.features_exact()``), ints, floats, strings or mpmath numbers, and are rounded
once to the working precision (differences Phi_it - Phi_{i,a_i} and gamma_it - gamma_{i,a_i} of exact
inputs are formed exactly first). Results are numpy object arrays of ``mpmath.mpf``. Nothing underflows:
e^{-10^5} is a number here, so 1 - s_{i,a_i}, the gradient and the excess loss keep their values at any
norm. The precision is spent on accuracy, not on surviving cancellation: no quantity is formed as a
difference of nearly equal numbers (except in :func:`mp_naive_gradient`, which exists to show that).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np

from .attention import AttentionState
from .losses import Loss

DEFAULT_DPS = 50


def mp_number(x) -> mpmath.mpf:
    """x (Fraction, int, float, str, numpy scalar or mpf) as an mpf, rounded once to the working precision."""
    if isinstance(x, mpmath.mpf):
        return +x
    if isinstance(x, Fraction):
        return mpmath.mpf(x.numerator) / x.denominator
    if isinstance(x, np.generic):
        x = x.item()
    return mpmath.mpf(x)


def mp_array(a) -> np.ndarray:
    """An array (any nesting) as an object array of mpf at the working precision."""
    arr = np.asarray(a, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    flat_in, flat_out = arr.reshape(-1), out.reshape(-1)
    for j, x in enumerate(flat_in):
        flat_out[j] = mp_number(x)
    return out


def _exact(a) -> bool:
    """Whether every entry is an exact rational (so differences may be taken exactly)."""
    arr = np.asarray(a, dtype=object).reshape(-1)
    return all(isinstance(x, (Fraction, int)) and not isinstance(x, bool) for x in arr)


@dataclass
class MPAttentionState(AttentionState):
    """The stable decomposition of the attention at theta, in mpmath (fields as in
    :class:`numeric.attention.AttentionState`; arrays are object arrays of mpf, ``dps`` their precision).

    dominant: a_i (n,) ints; r: q - q_a (n, T) (0 at a_i); e: e^r; tail_sum: sum_{t != a_i} e^{r_it};
    s: softmax; one_minus_mass: 1 - s_{i,a_i} = tail/(1 + tail); gap: gamma_{i,a_i} - u_i; u: outputs;
    dphi: Phi_it - Phi_{i,a_i} (n, T, D); dgamma: gamma_it - gamma_{i,a_i}; mask: t != a_i (bool).
    """

    dps: int


def mp_logits(theta, phi, dps: int = DEFAULT_DPS) -> np.ndarray:
    """q_it = <theta, Phi_it> (n, T), each an mpmath dot product (fdot) at ``dps`` digits."""
    with mpmath.workdps(dps):
        th = list(mp_array(theta).reshape(-1))
        ph = mp_array(phi)
        n, T, _ = ph.shape
        q = np.empty((n, T), dtype=object)
        for i in range(n):
            for t in range(T):
                q[i, t] = mpmath.fdot(th, ph[i, t])
        return q


def mp_dominant_tokens(theta, phi, dps: int = DEFAULT_DPS) -> np.ndarray:
    """a_i = argmax_t q_it (the first index among equal logits), logits at ``dps`` digits."""
    q = mp_logits(theta, phi, dps)
    return np.array([max(range(q.shape[1]), key=lambda t, row=row: (row[t], -t)) for row in q], dtype=int)


def _differences(phi, gamma, dominant) -> tuple[np.ndarray, np.ndarray]:
    """Phi_it - Phi_{i,a_i} and gamma_it - gamma_{i,a_i}: exact first when the inputs are exact, then mpf."""
    rows = np.arange(len(dominant))
    phi_o = np.asarray(phi, dtype=object)
    gam_o = np.asarray(gamma, dtype=object)
    if _exact(phi_o):
        dphi = mp_array(phi_o - phi_o[rows, dominant][:, None, :])
    else:
        ph = mp_array(phi_o)
        dphi = ph - ph[rows, dominant][:, None, :]
    if _exact(gam_o):
        dgamma = mp_array(gam_o - gam_o[rows, dominant][:, None])
    else:
        g = mp_array(gam_o)
        dgamma = g - g[rows, dominant][:, None]
    return dphi, dgamma


def mp_attention_state(theta, phi, gamma, dps: int = DEFAULT_DPS) -> MPAttentionState:
    """Decompose the softmax attention at theta around the dominant tokens (module docstring), at ``dps`` digits.

    r_it is computed as <theta, Phi_it - Phi_{i,a_i}> (one rounding), never as q_it - q_{i,a_i}.
    """
    with mpmath.workdps(dps):
        th = list(mp_array(theta).reshape(-1))
        dominant = mp_dominant_tokens(th, phi, dps)
        dphi, dgamma = _differences(phi, gamma, dominant)
        n, T = dgamma.shape
        g = mp_array(gamma)
        mask = np.ones((n, T), dtype=bool)
        mask[np.arange(n), dominant] = False
        r = np.empty((n, T), dtype=object)
        e = np.empty((n, T), dtype=object)
        s = np.empty((n, T), dtype=object)
        tail, omm, gap, u = (np.empty(n, dtype=object) for _ in range(4))
        for i in range(n):
            for t in range(T):
                r[i, t] = min(mpmath.fdot(th, dphi[i, t]), mpmath.mpf(0)) if mask[i, t] else mpmath.mpf(0)
                e[i, t] = mpmath.exp(r[i, t])
            others = [e[i, t] for t in range(T) if mask[i, t]]
            tail[i] = mpmath.fsum(others)
            z = 1 + tail[i]
            for t in range(T):
                s[i, t] = e[i, t] / z
            omm[i] = tail[i] / z
            gap[i] = -mpmath.fsum(s[i, t] * dgamma[i, t] for t in range(T) if mask[i, t])
            u[i] = g[i, dominant[i]] - gap[i]
        return MPAttentionState(dominant=dominant, r=r, e=e, tail_sum=tail, s=s, one_minus_mass=omm, gap=gap,
                                u=u, dphi=dphi, dgamma=dgamma, mask=mask, dps=dps)


def mp_loss_value(theta, phi, gamma, loss: Loss, dps: int = DEFAULT_DPS,
                  state: MPAttentionState | None = None) -> mpmath.mpf:
    """L(theta) = (1/n) sum_i l(u_i) with u_i = gamma_{i,a_i} - gap_i, at ``dps`` digits."""
    with mpmath.workdps(dps):
        st = state if state is not None else mp_attention_state(theta, phi, gamma, dps)
        return mpmath.fsum(loss.mp_value(x) for x in st.u) / len(st.u)


def mp_loss_increment(loss: Loss, g, gap) -> mpmath.mpf:
    """l(g - gap) - l(g) without cancellation (gap >= 0 is tiny at large norms), at the working precision.

    logistic: log1p(expm1(gap) / (1 + e^g)); exponential: e^{-g} expm1(gap); correlation: gap. Other losses:
    the difference itself when gap > 10^{-dps/4}, else the Taylor value -l'(g) gap + l''(g) gap^2 / 2 with
    l'' by mpmath.diff (relative error O(gap)).
    """
    if loss.name == "logistic":
        return mpmath.log1p(mpmath.expm1(gap) / (1 + mpmath.exp(g)))
    if loss.name == "exponential":
        return mpmath.exp(-g) * mpmath.expm1(gap)
    if loss.name == "correlation":
        return +gap
    if gap > mpmath.mpf(10) ** (-mpmath.mp.dps // 4):
        return loss.mp_value(g - gap) - loss.mp_value(g)
    return -loss.mp_derivative(g) * gap + mpmath.diff(loss.mp_derivative, g) * gap ** 2 / 2


def mp_excess_loss(theta, phi, gamma, loss: Loss, dps: int = DEFAULT_DPS,
                   state: MPAttentionState | None = None) -> mpmath.mpf:
    """L(theta) - L_alpha with L_alpha = (1/n) sum_i l(gamma_{i,a_i}), the loss the dominant tokens reach as
    ||theta|| -> infinity along a direction selecting them (u_i -> gamma_{i,a_i}). Computed per sequence as
    l(gamma_{i,a_i} - gap_i) - l(gamma_{i,a_i}) by :func:`mp_loss_increment` (no cancellation): it keeps
    its value, e^{-(margin) ||theta||}-small, where float64 L - L_alpha is 0."""
    with mpmath.workdps(dps):
        st = state if state is not None else mp_attention_state(theta, phi, gamma, dps)
        g = mp_array(gamma)
        inc = [mp_loss_increment(loss, g[i, a], st.gap[i]) for i, a in enumerate(st.dominant)]
        return mpmath.fsum(inc) / len(inc)


def mp_gradient(theta, phi, gamma, loss: Loss, dps: int = DEFAULT_DPS, state: MPAttentionState | None = None,
                scaled: bool = False) -> np.ndarray:
    """grad_theta L by the stable formula (module docstring), at ``dps`` digits, object array (D,).

    With ``scaled=True`` the result is e^{-max_{i,t != a_i} r_it} grad L (same direction, as in float64).
    """
    with mpmath.workdps(dps):
        st = state if state is not None else mp_attention_state(theta, phi, gamma, dps)
        n, T, D = st.dphi.shape
        rmax = max((st.r[i, t] for i in range(n) for t in range(T) if st.mask[i, t]), default=mpmath.mpf(0))
        terms = []
        for i in range(n):
            lp = loss.mp_derivative(st.u[i])
            for t in range(T):
                if st.mask[i, t]:
                    base = (mpmath.exp(st.r[i, t] - rmax) / (1 + st.tail_sum[i])) if scaled else st.s[i, t]
                    terms.append((lp * base * (st.dgamma[i, t] + st.gap[i]), st.dphi[i, t]))
        out = np.empty(D, dtype=object)
        for k in range(D):
            out[k] = mpmath.fsum(w * dp[k] for w, dp in terms) / n
        return out


def mp_naive_gradient(theta, phi, gamma, loss: Loss, dps: int = DEFAULT_DPS) -> np.ndarray:
    """The textbook gradient at ``dps`` digits: s = softmax(q), u_i = s_i^T gamma_i,
    grad L = (1/n) sum_i l'(u_i) Phi_i^T (diag(s_i) - s_i s_i^T) gamma_i.

    For comparison only: it subtracts nearly equal numbers (s_it gamma_it - s_it u_i at the dominant token),
    so it needs more digits the larger ||theta|| is.
    """
    with mpmath.workdps(dps):
        q = mp_logits(theta, phi, dps)
        ph = mp_array(phi)
        g = mp_array(gamma)
        n, T, D = ph.shape
        out_terms = []
        for i in range(n):
            m = max(q[i])
            e = [mpmath.exp(x - m) for x in q[i]]
            z = mpmath.fsum(e)
            s = [x / z for x in e]
            u = mpmath.fsum(s[t] * g[i, t] for t in range(T))
            lp = loss.mp_derivative(u)
            for t in range(T):
                out_terms.append((lp * (s[t] * g[i, t] - s[t] * u), ph[i, t]))
        out = np.empty(D, dtype=object)
        for k in range(D):
            out[k] = mpmath.fsum(w * p[k] for w, p in out_terms) / n
        return out


def mp_norm(x) -> mpmath.mpf:
    """Euclidean norm of a sequence of numbers, at the working precision."""
    return mpmath.sqrt(mpmath.fsum(mp_number(v) ** 2 for v in np.asarray(x, dtype=object).reshape(-1)))


def mp_unit_distance(u, w) -> mpmath.mpf:
    """|| u/||u|| - w/||w|| || at the working precision (0 <= . <= 2; 1 - corr is half its square)."""
    u = [mp_number(v) for v in np.asarray(u, dtype=object).reshape(-1)]
    w = [mp_number(v) for v in np.asarray(w, dtype=object).reshape(-1)]
    nu, nw = mp_norm(u), mp_norm(w)
    return mpmath.sqrt(mpmath.fsum((a / nu - b / nw) ** 2 for a, b in zip(u, w)))
