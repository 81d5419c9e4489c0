"""Stable softmax-attention quantities in float64 (DESIGN.md section 3).

Every attention logit is linear in the trained parameter: q_it = <theta, Phi_it>, with the feature
tensor Phi of shape (n, T, D) (prompt model: Phi_it = W^T x_it and theta = p; self/cross attention:
Phi_it = vec(x_it z_i^T) and theta = vec(W)). Token scores gamma_it = Y_i v^T x_it, outputs
u_i = Y_i f(X_i) = sum_t s_it gamma_it, loss L = (1/n) sum_i l(u_i).

With a_i the dominant token (largest logit) and r_it = <theta, Phi_it - Phi_{i,a_i}> <= 0,

    s_it  = e^{r_it} / (1 + sum_{tau != a_i} e^{r_i tau})                 (t != a_i)
    gap_i = gamma_{i,a_i} - u_i = sum_{t != a_i} s_it (gamma_{i,a_i} - gamma_it)
    grad L = (1/n) sum_i l'(u_i) sum_{t != a_i} s_it ((gamma_it - gamma_{i,a_i}) + gap_i) (Phi_it - Phi_{i,a_i})

A nonlinear head h acting on y_i = X_i^T s_i (:mod:`numeric.heads`) enters only through its effective scores:
``StableAttention(phi, gamma, readout)`` replaces gamma_it - gamma_{i,a_i} by Y_i grad h(y_i)^T (x_it - x_{i,a_i}),
gap_i by the same weighted sum of those, and u_i by Y_i h(y_i); the formulas above are otherwise unchanged.

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


class StableAttention:
    """The stable formulas of the module docstring for fixed data (Phi, gamma), evaluated at any theta.

    Phi_it - Phi_{i,a_i} and gamma_it - gamma_{i,a_i} are cached for the current dominant tokens and
    recomputed only when some r_it turns positive (another token took the lead), which keeps GD loops
    to a few array operations per step. Every function of this module goes through this class, so the
    formulas exist once.
    """

    def __init__(self, phi: np.ndarray, gamma: np.ndarray, readout=None):
        self.phi = np.asarray(phi, dtype=float)
        self.gamma = np.asarray(gamma, dtype=float)
        self.n, self.T, self.D = self.phi.shape
        self.dominant = None
        # a nonlinear head bound to its data (numeric.heads.Readout): its effective scores replace the fixed
        # gamma in gap, u and the coefficients (a linear head is the fixed-score case and is not needed here)
        self.readout = None if readout is None or readout.head.is_linear else readout

    def _refresh(self, theta: np.ndarray) -> None:
        rows = np.arange(self.n)
        self.dominant = np.argmax(self.phi @ theta, axis=1)
        self.dphi = self.phi - self.phi[rows, self.dominant][:, None, :]
        self.dphi_flat = self.dphi.reshape(self.n * self.T, self.D)
        self.gamma_a = self.gamma[rows, self.dominant]
        self.dgamma = self.gamma - self.gamma_a[:, None]          # 0 at a_i
        self.off = np.zeros((self.n, self.T))
        self.off[rows, self.dominant] = -np.inf                   # takes a_i out of every tail sum

    def tails(self, theta: np.ndarray):
        """(r_tail, e_tail, z, gap, u): r_it = <theta, Phi_it - Phi_{i,a_i}> (<= 0) with -inf at a_i,
        e_tail = e^{r_tail}, z_i = 1 + sum_{t != a_i} e^{r_it}, gap_i = sum_{t != a_i} s_it (gamma_{i,a_i} - gamma_it),
        u_i = gamma_{i,a_i} - gap_i = Y_i f(X_i)."""
        if self.dominant is None:
            self._refresh(theta)
        r = (self.dphi_flat @ theta).reshape(self.n, self.T)
        if r.max() > 0:
            self._refresh(theta)
            r = (self.dphi_flat @ theta).reshape(self.n, self.T)
        r_tail = np.minimum(r, 0.0) + self.off
        e_tail = np.exp(r_tail)
        z = 1.0 + e_tail.sum(axis=1)
        if self.readout is not None:
            dgamma, gap, u, _ = self.readout.scores(self.dominant, e_tail, z)
            self._head_cache = (e_tail, dgamma)
            return r_tail, e_tail, z, gap, u
        gap = -(e_tail * self.dgamma).sum(axis=1) / z
        return r_tail, e_tail, z, gap, self.gamma_a - gap

    def effective_dgamma(self, tails) -> np.ndarray:
        """gamma_it - gamma_{i,a_i} (n, T): the fixed scores' differences, or with a nonlinear head the
        effective ones, Y_i grad h(y_i)^T (x_it - x_{i,a_i}) (numeric.heads), at the attention of ``tails``."""
        if self.readout is None:
            return self.dgamma
        cache = getattr(self, "_head_cache", None)
        if cache is not None and cache[0] is tails[1]:
            return cache[1]
        return self.readout.scores(self.dominant, tails[1], tails[2])[0]

    def coefficients(self, theta: np.ndarray, loss: Loss, scaled: bool = False, tails=None) -> np.ndarray:
        """c_it = l'(u_i) s_it ((gamma_it - gamma_{i,a_i}) + gap_i) for t != a_i and 0 at a_i, so that
        grad L = (1/n) sum_{i,t} c_it (Phi_it - Phi_{i,a_i}). With ``scaled``, every c_it is multiplied
        by e^{-max_{j, tau != a_j} r_j tau} (exponents stay <= 0, nothing underflows to a zero direction).

        With a nonlinear head some tokens may carry no weight at all (a sequence whose ReLU units are all off has
        a constant output), so there the scale is set by the largest actual coefficient instead: with
        w_it = (dgamma~_it + gap~_i) l'(u_i) / z_i, every c_it = sign(w_it) e^{r_it + ln|w_it| - m},
        m = max over w_it != 0 of (r_it + ln|w_it|). ``self.scale_exponent`` holds the exponent used (the true
        coefficients are e^{scale_exponent} times the scaled ones)."""
        tails = tails if tails is not None else self.tails(theta)
        r_tail, e_tail, z, gap, u = tails
        w = (self.effective_dgamma(tails) + gap[:, None]) * (loss.derivative(u) / z)[:, None]
        self.scale_exponent = 0.0
        if not scaled:
            return e_tail * w
        if self.readout is None:
            rmax = r_tail.max()
            if np.isfinite(rmax):
                self.scale_exponent = float(rmax)
                return np.exp(r_tail - rmax) * w
            return e_tail * w
        live = np.isfinite(r_tail) & (w != 0)
        if not live.any():
            return np.zeros_like(w)
        with np.errstate(divide="ignore"):
            expo = np.where(live, r_tail + np.log(np.abs(w)), -np.inf)
        m = float(expo.max())
        self.scale_exponent = m
        return np.where(live, np.sign(w) * np.exp(expo - m), 0.0)

    def gradient(self, theta: np.ndarray, loss: Loss, scaled: bool = False, tails=None) -> np.ndarray:
        """grad_theta L (or, with ``scaled``, the same vector times e^{-max r}) by the stable formula."""
        c = self.coefficients(theta, loss, scaled, tails)
        return (c.reshape(self.n * self.T) @ self.dphi_flat) / self.n

    def state(self, theta: np.ndarray) -> AttentionState:
        """The full decomposition at theta (see :class:`AttentionState`)."""
        r_tail, e_tail, z, gap, u = self.tails(theta)
        mask = np.isfinite(r_tail)
        tail_sum = e_tail.sum(axis=1)  # the sum itself, never 1 - s_a
        return AttentionState(dominant=self.dominant.copy(), r=np.where(mask, r_tail, 0.0),
                              e=np.where(mask, e_tail, 1.0), tail_sum=tail_sum,
                              s=np.where(mask, e_tail, 1.0) / z[:, None], one_minus_mass=tail_sum / z, gap=gap,
                              u=u, dphi=self.dphi, dgamma=self.effective_dgamma((r_tail, e_tail, z)), mask=mask)


def attention_state(theta: np.ndarray, phi: np.ndarray, gamma: np.ndarray) -> AttentionState:
    """Decompose the softmax attention at theta around the dominant tokens (see module docstring)."""
    return StableAttention(phi, gamma).state(np.asarray(theta, dtype=float))


def loss_value(theta: np.ndarray, phi: np.ndarray, gamma: np.ndarray, loss: Loss,
               state: AttentionState | None = None) -> float:
    """L(theta) = (1/n) sum_i l(u_i) with u_i = gamma_{i,a_i} - gap_i."""
    st = state if state is not None else attention_state(theta, phi, gamma)
    return float(np.mean(loss.value(st.u)))


def gradient(theta: np.ndarray, phi: np.ndarray, gamma: np.ndarray, loss: Loss, scaled: bool = False) -> np.ndarray:
    """grad_theta L by the stable formula of DESIGN.md section 3.

    With ``scaled=True`` the result is e^{-max_{i,t != a_i} r_it} grad L: the same direction,
    never underflowing (for normalised GD).
    """
    return StableAttention(phi, gamma).gradient(np.asarray(theta, dtype=float), loss, scaled)


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
