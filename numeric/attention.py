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
    dominant = np.argmax(phi @ theta, axis=1)
    if _cache is not None and _cache.get("dominant") is not None and np.array_equal(_cache["dominant"], dominant):
        dphi, dgamma, mask, off = _cache["dphi"], _cache["dgamma"], _cache["mask"], _cache["off"]
    else:
        rows = np.arange(phi.shape[0])
        dphi = phi - phi[rows, dominant][:, None, :]
        dgamma = gamma - gamma[rows, dominant][:, None]
        mask = np.ones(gamma.shape, dtype=bool)
        mask[rows, dominant] = False
        off = np.where(mask, 0.0, -np.inf)  # -inf at a_i: its term is taken out of every tail sum
        if _cache is not None:
            _cache.update(dominant=dominant, dphi=dphi, dgamma=dgamma, mask=mask, off=off)
    # r_it = <theta, Phi_it - Phi_{i,a_i}> <= 0 (the min guards against rounding of the difference form)
    r = np.minimum(dphi @ theta, 0.0)
    e_tail = np.exp(r + off)                 # e^{r_it} for t != a_i, exactly 0 at a_i
    tail_sum = e_tail.sum(axis=1)
    z = 1.0 + tail_sum
    s_tail = e_tail / z[:, None]
    gap = -(s_tail * dgamma).sum(axis=1)     # dgamma = 0 at a_i
    u = gamma[np.arange(len(dominant)), dominant] - gap
    s = np.where(mask, s_tail, (1.0 / z)[:, None])
    return AttentionState(dominant=dominant, r=r, e=np.where(mask, e_tail, 1.0), tail_sum=tail_sum, s=s,
                          one_minus_mass=tail_sum / z, gap=gap, u=u, dphi=dphi, dgamma=dgamma, mask=mask)


def loss_value(theta: np.ndarray, phi: np.ndarray, gamma: np.ndarray, loss: Loss,
               state: AttentionState | None = None) -> float:
    """L(theta) = (1/n) sum_i l(u_i) with u_i = gamma_{i,a_i} - gap_i."""
    st = state if state is not None else attention_state(theta, phi, gamma)
    return float(np.mean(loss.value(st.u)))


def coefficients(st: AttentionState, loss: Loss, scaled: bool = False) -> np.ndarray:
    """c_it = l'(u_i) s_it ((gamma_it - gamma_{i,a_i}) + gap_i) for t != a_i and 0 at a_i, so that
    grad L = (1/n) sum_{i,t} c_it (Phi_it - Phi_{i,a_i}). With ``scaled``, every c_it is multiplied
    by e^{-max_{j, tau != a_j} r_j tau} (exponents stay <= 0, nothing underflows to a zero direction)."""
    if scaled:
        r_tail = np.where(st.mask, st.r, -np.inf)
        rmax = r_tail.max()
        if not np.isfinite(rmax):
            rmax = 0.0
        base = np.exp(r_tail - rmax) / (1.0 + st.tail_sum)[:, None]
    else:
        base = np.where(st.mask, st.s, 0.0)
    return loss.derivative(st.u)[:, None] * base * (st.dgamma + st.gap[:, None])


def gradient(theta: np.ndarray, phi: np.ndarray, gamma: np.ndarray, loss: Loss,
             state: AttentionState | None = None, scaled: bool = False) -> np.ndarray:
    """grad_theta L by the stable formula of DESIGN.md section 3.

    With ``scaled=True`` the result is e^{-max_{i,t != a_i} r_it} grad L: the same direction,
    never underflowing (for normalised GD).
    """
    st = state if state is not None else attention_state(theta, phi, gamma)
    c = coefficients(st, loss, scaled)
    n, T, D = st.dphi.shape
    return (c.reshape(n * T) @ st.dphi.reshape(n * T, D)) / n


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
