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

from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from .losses import Loss
from .threads import blas_threads


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


class WFeatures:
    """The features Phi_it = vec(x_it z_i^T) of the self/cross-attention logits q_it = x_it^T W z_i, kept
    factored as X (n, T, d) and Z (n, d2): shape (n, T, d * d2) without materialising it. StableAttention
    contracts with X and Z instead (O(n T d + n d d2) per product rather than O(n T d d2)).

    >>> f = WFeatures(np.ones((2, 3, 4)), np.ones((2, 5)))
    >>> f.shape
    (2, 3, 20)
    """

    def __init__(self, X: np.ndarray, Z: np.ndarray):
        self.X = np.asarray(X, dtype=float)
        self.Z = np.asarray(Z, dtype=float)
        n, T, d = self.X.shape
        self.shape = (n, T, d * self.Z.shape[1])

    def dense(self) -> np.ndarray:
        """Phi itself, (n, T, d * d2)."""
        n, T, d = self.X.shape
        return (self.X[:, :, :, None] * self.Z[:, None, None, :]).reshape(self.shape)


class StableAttention:
    """The stable formulas of the module docstring for fixed data (Phi, gamma), evaluated at any theta.

    Phi_it - Phi_{i,a_i} and gamma_it - gamma_{i,a_i} are cached for the current dominant tokens and
    recomputed only when some r_it turns positive (another token took the lead), which keeps GD loops
    to a few array operations per step. Every function of this module goes through this class, so the
    formulas exist once.
    """

    def __init__(self, phi, gamma: np.ndarray, readout=None):
        self.factored = phi if isinstance(phi, WFeatures) else None
        if self.factored is not None:   # x_it z_i^T features: the per-token arrays are X (n, T, d) and Z
            self.phi = self.factored.X
            self.Z = self.factored.Z
        else:
            self.phi = np.asarray(phi, dtype=float)
        self.gamma = np.asarray(gamma, dtype=float)
        self.n, self.T = self.phi.shape[:2]
        self.D = self.factored.shape[2] if self.factored is not None else self.phi.shape[2]
        self.dominant = None
        self.dphi = None
        # a nonlinear head bound to its data (numeric.heads.Readout): its effective scores replace the fixed
        # gamma in gap, u and the coefficients (a linear head is the fixed-score case and is not needed here)
        self.readout = None if readout is None or readout.head.is_linear else readout
        self.scale_exponent = 0.0
        self._all_rows = np.arange(self.n)
        self.refreshes = 0   # how many times the dominant tokens were (re)computed: callers key their own caches on it
        # OpenBLAS runs products of fewer than ~9000 elements on one thread anyway: below that, limiting its threads
        # around every product only costs the two library calls
        self._threads = 1 if self.n * self.T * self.D >= 4096 else None

    def _query_weights(self, theta: np.ndarray) -> np.ndarray:
        """Factored features: u_i = W z_i (n, d) with W = theta reshaped (d, d2), so q_it = <x_it, u_i>."""
        W = np.asarray(theta, dtype=float).reshape(self.phi.shape[2], self.Z.shape[1])
        return self.Z @ W.T

    def _products_rows(self, arr: np.ndarray, theta: np.ndarray, rows) -> np.ndarray:
        """<theta, F_it> for per-token arrays F of the sequences ``rows`` (None: all): the features, or their
        differences to the dominant tokens; (k, T)."""
        if self.factored is None:
            return (arr.reshape(-1, arr.shape[-1]) @ theta).reshape(arr.shape[:2])
        U = self._query_weights(theta)
        U = U if rows is None else U[rows]
        return np.einsum("itd,id->it", arr, U)

    def _refresh(self, theta: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Dominant tokens at theta and the differences to them, for the sequences ``rows`` (default all).
        Memory: one (n, T, D) array, allocated once and overwritten in place, row by row, where the dominant
        token changed (so a state's ``dphi`` is valid until the kernel's next refresh), besides Phi itself."""
        if self.dphi is None:
            self.dphi = np.empty_like(self.phi)
            self.dphi_flat = self.dphi.reshape(self.n * self.T, self.dphi.shape[2])
            self.dominant = np.zeros(self.n, dtype=np.intp)
            self.gamma_a = np.zeros(self.n)
            self.dgamma = np.zeros((self.n, self.T))
            self.off = np.zeros((self.n, self.T))
        if rows is None or 4 * len(rows) > self.n:   # many rows: one contiguous pass is faster
            rows = np.arange(self.n)
        phi = self.phi[rows] if len(rows) < self.n else self.phi
        dom = np.argmax(self._products_rows(phi, theta, rows if len(rows) < self.n else None), axis=1)
        self.dominant[rows] = dom
        if len(rows) < self.n:
            self.dphi[rows] = phi - phi[np.arange(len(rows)), dom][:, None, :]
        else:
            np.subtract(self.phi, self.phi[rows, dom][:, None, :], out=self.dphi)
        self.gamma_a[rows] = self.gamma[rows, dom]
        self.dgamma[rows] = self.gamma[rows] - self.gamma_a[rows, None]   # 0 at a_i
        self.off[rows] = 0.0
        self.off[rows, dom] = -np.inf                                     # takes a_i out of every tail sum
        self.refreshes += 1

    def rescore(self, gamma: np.ndarray) -> None:
        """Replace the token scores gamma (n, T) (a linear head whose v moved), keeping the dominant tokens and the
        feature differences: gamma_{i,a_i} and gamma_it - gamma_{i,a_i} are recomputed from the new scores."""
        if self.readout is not None:
            raise ValueError("rescore: a nonlinear head takes its scores from its readout, not from gamma")
        self.gamma = np.asarray(gamma, dtype=float)
        if self.dphi is not None:
            self.gamma_a = self.gamma[self._all_rows, self.dominant]
            self.dgamma = self.gamma - self.gamma_a[:, None]

    def tail_logits(self, theta: np.ndarray) -> np.ndarray:
        """r_it = <theta, Phi_it - Phi_{i,a_i}> clipped at 0, so <= 0 everywhere and exactly 0 at a_i (n, T). The dominant
        tokens are refreshed first in the sequences where some r_it turned positive (another token took the lead)."""
        with blas_threads(1) if self._threads else nullcontext():
            if self.dphi is None:
                self._refresh(theta)
            r = self._products_rows(self.dphi, theta, None)
            if r.max() > 0:
                changed = np.nonzero(r.max(axis=1) > 0)[0]
                self._refresh(theta, changed)
                r[changed] = self._products_rows(self.dphi[changed], theta, changed)
                np.minimum(r, 0.0, out=r)
        return r

    def tails(self, theta: np.ndarray):
        """(r_tail, e_tail, z, gap, u): r_it = <theta, Phi_it - Phi_{i,a_i}> (<= 0) with -inf at a_i,
        e_tail = e^{r_tail}, z_i = 1 + sum_{t != a_i} e^{r_it}, gap_i = sum_{t != a_i} s_it (gamma_{i,a_i} - gamma_it),
        u_i = gamma_{i,a_i} - gap_i = Y_i f(X_i). The dominant tokens are refreshed in the sequences where some
        r_it turned positive."""
        return self.tails_from(self.tail_logits(theta))

    def tails_from(self, r: np.ndarray):
        """:meth:`tails` from the clipped logits r = :meth:`tail_logits` (theta) (for callers that also need r).
        Without a nonlinear head, r may carry leading axes (a stack of thetas: :meth:`tails_batch`)."""
        r_tail = r + self.off
        e_tail = np.exp(r_tail)
        z = 1.0 + e_tail.sum(axis=-1)
        if self.readout is not None:
            dgamma, gap, u, _ = self.readout.scores(self.dominant, e_tail, z)
            self._head_cache = (e_tail, dgamma)
            return r_tail, e_tail, z, gap, u
        gap = -(e_tail * self.dgamma).sum(axis=-1) / z
        return r_tail, e_tail, z, gap, self.gamma_a - gap

    def tails_batch(self, thetas: np.ndarray):
        """:meth:`tails` at each row of ``thetas`` (B, D) at once (each returned array gains a leading axis B),
        at the current dominant tokens; None where that is not valid: some r_it > 0 at some theta (another token
        leads there: evaluate those one by one with :meth:`tails`, which refreshes), no dominant tokens yet,
        factored features or a nonlinear head."""
        if self.dphi is None or self.factored is not None or self.readout is not None:
            return None
        B = len(thetas)
        with blas_threads(1) if self._threads else nullcontext():
            r = (self.dphi_flat @ thetas.T).T.reshape(B, self.n, self.T)
        if r.max() > 0:
            return None
        return self.tails_from(r)

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
        w = self._weights(tails, loss)
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

    def _weights(self, tails, loss: Loss) -> np.ndarray:
        """w_it = ((gamma_it - gamma_{i,a_i}) + gap_i) l'(u_i) / z_i, so that c_it = e^{r_it} w_it (leading axes
        allowed without a nonlinear head)."""
        _, _, z, gap, u = tails
        return (self.effective_dgamma(tails) + gap[..., None]) * (loss.derivative(u) / z)[..., None]

    def gradient_batch(self, thetas: np.ndarray, loss: Loss):
        """(G, R) for a stack of thetas (B, D): R_b = max_{i, t != a_i} r_it at theta_b and
        G_b = e^{-R_b} grad L(theta_b) (the scaled gradient of :meth:`gradient`, one scale per row), computed
        together at the current dominant tokens; None where :meth:`tails_batch` is None or some row has no tail
        token."""
        tails = self.tails_batch(thetas)
        if tails is None:
            return None
        r_tail = tails[0]
        R = r_tail.max(axis=(1, 2))
        if not np.all(np.isfinite(R)):
            return None
        c = np.exp(r_tail - R[:, None, None]) * self._weights(tails, loss)
        with blas_threads(1) if self._threads else nullcontext():
            return (c.reshape(len(R), -1) @ self.dphi_flat) / self.n, R

    def gradient(self, theta: np.ndarray, loss: Loss, scaled: bool = False, tails=None) -> np.ndarray:
        """grad_theta L (or, with ``scaled``, the same vector times e^{-max r}) by the stable formula."""
        c = self.coefficients(theta, loss, scaled, tails)
        with blas_threads(1) if self._threads else nullcontext():
            if self.factored is not None:   # sum_it c_it vec((x_it - x_{i,a_i}) z_i^T)
                M = np.einsum("it,itd->id", c, self.dphi)          # sum_t c_it (x_it - x_{i,a_i})
                return (M.T @ self.Z).ravel() / self.n
            return (c.reshape(self.n * self.T) @ self.dphi_flat) / self.n

    def state(self, theta: np.ndarray) -> AttentionState:
        """The full decomposition at theta (see :class:`AttentionState`)."""
        r_tail, e_tail, z, gap, u = self.tails(theta)
        mask = np.isfinite(r_tail)
        tail_sum = e_tail.sum(axis=1)  # the sum itself, never 1 - s_a
        return AttentionState(dominant=self.dominant.copy(), r=np.where(mask, r_tail, 0.0),
                              e=np.where(mask, e_tail, 1.0), tail_sum=tail_sum,
                              s=np.where(mask, e_tail, 1.0) / z[:, None], one_minus_mass=tail_sum / z, gap=gap,
                              u=u, dphi=self.dphi if self.factored is None else None,
                              dgamma=self.effective_dgamma((r_tail, e_tail, z)), mask=mask)


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
