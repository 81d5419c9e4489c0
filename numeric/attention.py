"""Stable softmax-attention quantities in float64 (DESIGN.md section 3).

Every attention logit is linear in the trained parameter: q_it = <theta, Phi_it>, with the feature
tensor Phi of shape (n, T, D) (prompt model: Phi_it = W^T x_it and theta = p; self/cross attention:
Phi_it = vec(x_it z_i^T) and theta = vec(W)). Token scores gamma_it = Y_i v^T x_it, outputs
u_i = Y_i f(X_i) = sum_t s_it gamma_it, loss L = (1/n) sum_i l(u_i).

With a_i the dominant token (largest logit) and r_it = <theta, Phi_it - Phi_{i,a_i}> <= 0,

    s_it  = e^{r_it} / (1 + sum_{tau != a_i} e^{r_i tau})                 (t != a_i)
    gap_i = gamma_{i,a_i} - u_i = sum_{t != a_i} s_it (gamma_{i,a_i} - gamma_it)
    grad L = (1/n) sum_i l'(u_i) sum_{t != a_i} s_it ((gamma_it - gamma_{i,a_i}) + gap_i) (Phi_it - Phi_{i,a_i})

Nothing here computes 1 - s_{i,a_i} or gap_i as a difference, so every quantity keeps full relative
accuracy at any norm. For a direction only, every weight is multiplied by e^{-max r} first, so the
direction never underflows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .losses import Loss


@dataclass
class AttentionState:
    """The stable decomposition of the attention at theta.

    dominant: a_i (n,), r: logits minus the dominant logit (n, T) (exactly 0 at a_i),
    e: e^{r} with e_{i,a_i} = 1, tail_sum: sum_{t != a_i} e^{r_it} (n,) (no subtraction),
    s: softmax (n, T), one_minus_mass: 1 - s_{i,a_i} = tail_sum / (1 + tail_sum) (n,),
    gap: gamma_{i,a_i} - u_i (n,), u: outputs Y_i f(X_i) (n,), dphi: Phi_it - Phi_{i,a_i} (n, T, D),
    dgamma: gamma_it - gamma_{i,a_i} (n, T), mask: t != a_i (n, T).
    """

    dominant: np.ndarray
    r: np.ndarray
    e: np.ndarray
    tail_sum: np.ndarray
    s: np.ndarray
    one_minus_mass: np.ndarray
    gap: np.ndarray
    u: np.ndarray
    dphi: np.ndarray
    dgamma: np.ndarray
    mask: np.ndarray


def logits(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """q_it = <theta, Phi_it>, shape (n, T)."""
    return phi @ theta


def dominant_tokens(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """a_i = argmax_t q_it (the first index among equal logits)."""
    return np.argmax(phi @ theta, axis=1)


def attention_state(theta: np.ndarray, phi: np.ndarray, gamma: np.ndarray,
                    _cache: dict | None = None) -> AttentionState:
    """Decompose the softmax attention at theta around the dominant tokens (see module docstring).

    ``_cache`` (optional) keeps Phi - Phi_a and gamma - gamma_a between calls whose dominant tokens
    agree, which saves the (n, T, D) subtraction inside GD loops.
    """
    n = phi.shape[0]
    rows = np.arange(n)
    dominant = np.argmax(phi @ theta, axis=1)
    if _cache is not None and _cache.get("dominant") is not None and np.array_equal(_cache["dominant"], dominant):
        dphi, dgamma, mask = _cache["dphi"], _cache["dgamma"], _cache["mask"]
    else:
        dphi = phi - phi[rows, dominant][:, None, :]
        dgamma = gamma - gamma[rows, dominant][:, None]
        mask = np.ones(gamma.shape, dtype=bool)
        mask[rows, dominant] = False
        if _cache is not None:
            _cache.update(dominant=dominant, dphi=dphi, dgamma=dgamma, mask=mask)
    r = dphi @ theta
    r[~mask] = 0.0
    r = np.minimum(r, 0.0)  # a_i has the largest logit; guard against rounding of the difference form
    e = np.exp(r)
    tail_sum = np.where(mask, e, 0.0).sum(axis=1)
    z = 1.0 + tail_sum
    s = e / z[:, None]
    gap = -(np.where(mask, s * dgamma, 0.0)).sum(axis=1)
    u = gamma[rows, dominant] - gap
    return AttentionState(dominant=dominant, r=r, e=e, tail_sum=tail_sum, s=s,
                          one_minus_mass=tail_sum / z, gap=gap, u=u, dphi=dphi, dgamma=dgamma,
                          mask=mask)


def loss_value(theta: np.ndarray, phi: np.ndarray, gamma: np.ndarray, loss: Loss,
               state: AttentionState | None = None) -> float:
    """L(theta) = (1/n) sum_i l(u_i) with u_i = gamma_{i,a_i} - gap_i."""
    st = state if state is not None else attention_state(theta, phi, gamma)
    return float(np.mean(loss.value(st.u)))


def _weights(st: AttentionState, scaled: bool) -> tuple[np.ndarray, float]:
    """Per-token weights s_it (dgamma_it + gap_i), optionally times e^{-max r}; returns (w, log scale)."""
    mask = st.mask
    if scaled:
        rmax = float(np.max(np.where(mask, st.r, -np.inf))) if mask.any() else 0.0
        if not np.isfinite(rmax):
            rmax = 0.0
        base = np.exp(np.where(mask, st.r - rmax, -np.inf)) / (1.0 + st.tail_sum)[:, None]
    else:
        rmax = 0.0
        base = np.where(mask, st.s, 0.0)
    return base * (st.dgamma + st.gap[:, None]), rmax


def gradient(theta: np.ndarray, phi: np.ndarray, gamma: np.ndarray, loss: Loss,
             state: AttentionState | None = None, scaled: bool = False) -> np.ndarray:
    """grad_theta L by the stable formula of DESIGN.md section 3.

    With ``scaled=True`` the result is e^{-max_{i,t != a_i} r_it} grad L: the same direction,
    never underflowing (for normalised GD).
    """
    st = state if state is not None else attention_state(theta, phi, gamma)
    w, _ = _weights(st, scaled)
    coeff = loss.derivative(st.u)[:, None] * w
    return np.einsum("it,itd->d", coeff, st.dphi) / phi.shape[0]


def naive_gradient(theta: np.ndarray, phi: np.ndarray, gamma: np.ndarray, loss: Loss) -> np.ndarray:
    """The textbook gradient (what autograd computes): s = softmax(q), then
    grad L = (1/n) sum_i l'(s_i^T gamma_i) Phi_i^T (diag(s_i) - s_i s_i^T) gamma_i.

    Kept for comparison only: it loses the dominant token's term once e^{-margin} < eps.
    """
    q = phi @ theta
    q = q - q.max(axis=1, keepdims=True)
    s = np.exp(q)
    s = s / s.sum(axis=1, keepdims=True)
    u = (s * gamma).sum(axis=1)
    jac_gamma = s * gamma - s * u[:, None]
    return np.einsum("i,it,itd->d", loss.derivative(u), jac_gamma, phi) / phi.shape[0]
