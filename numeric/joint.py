"""Joint training of the head v and the prompt p, float64 (and an mpmath reference gradient).

Model: f(X_i) = v^T X_i^T s_i(p), s_i = softmax(K_i p), keys Phi_it = W^T x_it. With v trained the
token scores gamma_it = Y_i v^T x_it change with v, so they are recomputed from v at every evaluation.

    z_i(p)  = X_i^T s_i = x_{i,a_i} + sum_{t != a_i} s_it (x_it - x_{i,a_i})     (mixed features)
    u_i     = Y_i v^T z_i = gamma_{i,a_i} - gap_i                                (outputs)
    grad_v L = (1/n) sum_i l'(u_i) Y_i z_i
    grad_p L = the stable p-gradient of numeric.attention with gamma = Y_i X_i v

a_i is the dominant token (largest logit). Neither z_i nor u_i is formed from 1 - s_{i,a_i}, so
both keep full relative accuracy at any ||p|| (u_i as a difference gamma_a - gap_i only cancels when
u_i itself is tiny compared with gamma_a, which is then its true size). For normalised steps every
per-sequence weight l'(u_i) (and s_it) is carried in the log domain and rescaled by its maximum, so
the directions of both blocks survive when l'(u_i) or s_it underflow.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import mpmath
import numpy as np

from .attention import StableAttention, attention_state
from .gd import Trajectory
from .losses import Loss

JOINT_LOSSES = ("logistic", "exponential")


def scores(v: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """gamma_it = Y_i v^T x_it, shape (n, T)."""
    return Y[:, None] * (X @ v)


def mixed_features(X: np.ndarray, st) -> np.ndarray:
    """z_i = X_i^T s_i = x_{i,a_i} + sum_{t != a_i} s_it (x_it - x_{i,a_i}) (no 1 - s_a formed), (n, d)."""
    n = X.shape[0]
    rows = np.arange(n)
    xa = X[rows, st.dominant]
    dx = X - xa[:, None, :]
    w = np.where(st.mask, st.s, 0.0)
    return xa + np.einsum("it,itd->id", w, dx)


def log_neg_derivative(loss: Loss, u: np.ndarray) -> np.ndarray:
    """log(-l'(u)) without under/overflow: logistic -softplus(u) = -log(1 + e^u) (numpy's logaddexp(0, u), which
    takes max(u, 0) + log1p(e^{-|u|})), exponential -u, correlation 0."""
    u = np.asarray(u, dtype=float)
    if loss.name == "logistic":
        return np.negative(np.logaddexp(0.0, u))
    if loss.name == "exponential":
        return -u
    if loss.name == "correlation":
        return np.zeros_like(u)
    with np.errstate(divide="ignore"):
        return np.log(-loss.derivative(u))


def log_loss_and_neg_derivative(loss: Loss, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log l(u_i), log(-l'(u_i))) without under/overflow, sharing e^{-|u|}: logistic log l = -u + log(log1p(e^-u)/e^-u)
    for u > 0 and log(-u + log1p(e^u)) otherwise, log(-l') = -softplus(u); exponential both -u."""
    u = np.asarray(u, dtype=float)
    if loss.name == "exponential":
        return -u, -u
    if loss.name == "logistic":
        # e^{-|u|} clipped at 1e-300, where log1p(x)/x = 1 and |u| + x = |u| to the last bit: no log 0 in either branch
        x = np.maximum(np.exp(-np.abs(u)), 1e-300)
        l1 = np.log1p(x)
        ll = np.where(u > 0, np.log(l1 / x) - u, np.log(np.maximum(-u, 0.0) + l1))
        return ll, -(np.maximum(u, 0.0) + l1)
    raise ValueError(f"log_loss_terms: the loss {loss.name!r} is not positive; joint training needs one of "
                     f"{JOINT_LOSSES}")


def log_loss_terms(loss: Loss, u: np.ndarray) -> np.ndarray:
    """log l(u_i) without underflow (logistic: -u + log(log1p(e^-u)/e^-u) for u > 0; exponential: -u)."""
    return log_loss_and_neg_derivative(loss, u)[0]


@dataclass
class JointState:
    """The attention state at p with gamma = Y X v, plus the mixed features z (n, d)."""

    gamma: np.ndarray
    att: object
    z: np.ndarray

    @property
    def u(self) -> np.ndarray:
        return self.att.u


class JointKernel:
    """The stable joint quantities at any (v, p) for fixed data (X, Y, Phi): one
    :class:`numeric.attention.StableAttention` serves every evaluation (dominant tokens and feature differences
    Phi_it - Phi_{i,a_i} cached while the dominant tokens stay; the scores gamma = Y X v are replaced at each
    evaluation), and x_{i,a_i}, x_it - x_{i,a_i} are cached with the dominant tokens."""

    def __init__(self, X, Y, phi):
        self.X = np.asarray(X, dtype=float)
        self.Y = np.asarray(Y, dtype=float)
        self.att = StableAttention(phi, np.zeros(self.X.shape[:2]))
        self.rows = np.arange(self.X.shape[0])
        self._refreshes = -1

    def _tokens(self):
        """(x_{i,a_i} (n, d), x_it - x_{i,a_i} (n, T, d)) for the current dominant tokens."""
        if self._refreshes != self.att.refreshes:
            self.xa = self.X[self.rows, self.att.dominant]
            self.dx = self.X - self.xa[:, None, :]
            self._refreshes = self.att.refreshes
        return self.xa, self.dx

    def _tails(self, v, p):
        self.att.rescore(scores(v, self.X, self.Y))
        r = self.att.tail_logits(p)
        return r, self.att.tails_from(r)

    def _mixed(self, e_tail, z):
        """z_i = x_{i,a_i} + sum_{t != a_i} s_it (x_it - x_{i,a_i}) (see :func:`mixed_features`)."""
        xa, dx = self._tokens()
        return xa + ((e_tail / z[:, None])[:, None, :] @ dx)[:, 0, :]

    def state(self, v, p) -> JointState:
        """The attention state at p with gamma = Y X v, plus the mixed features (like :func:`joint_state`)."""
        self.att.rescore(scores(v, self.X, self.Y))
        st = self.att.state(np.asarray(p, dtype=float))
        return JointState(gamma=self.att.gamma, att=st, z=mixed_features(self.X, st))

    def scaled_gradient(self, v, p, loss: Loss) -> tuple[np.ndarray, np.ndarray]:
        """(grad_v L, grad_p L), each block times its own positive factor (see :func:`joint_gradient`)."""
        r, (r_tail, e_tail, z, gap, u) = self._tails(v, p)
        zf = self._mixed(e_tail, z)
        lam = log_neg_derivative(loss, u)                       # log(-l'(u_i))
        wv = np.exp(lam - lam.max())
        gv = -((wv * self.Y) @ zf)
        logs = (r_tail - np.log1p(np.add.reduce(e_tail, axis=1))[:, None]) + lam[:, None]   # log(-l'(u_i) s_it)
        m = logs.max()
        if not np.isfinite(m):
            return gv, np.zeros_like(p)
        wp = np.exp(logs - m) * (self.att.dgamma + gap[:, None])
        att = self.att
        gp = -(wp.reshape(-1) @ att.dphi_flat) if att.factored is None else -np.einsum("it,itd->d", wp, att.dphi)
        return gv, gp


def joint_state(v, p, X, Y, phi) -> JointState:
    """Attention state (numeric.attention.attention_state) with gamma recomputed from v."""
    gamma = scores(v, X, Y)
    st = attention_state(p, phi, gamma)
    return JointState(gamma=gamma, att=st, z=mixed_features(X, st))


def joint_loss(v, p, X, Y, phi, loss: Loss) -> float:
    """L(v, p) = (1/n) sum_i l(Y_i v^T X_i^T s_i(p))."""
    js = joint_state(v, p, X, Y, phi)
    return float(np.mean(loss.value(js.u)))


def grad_v(v, p, X, Y, phi, loss: Loss, state: JointState | None = None) -> np.ndarray:
    """grad_v L = (1/n) sum_i l'(u_i) Y_i z_i with the stable mixed features z_i = X_i^T s_i."""
    js = state if state is not None else joint_state(v, p, X, Y, phi)
    return ((loss.derivative(js.u) * Y)[:, None] * js.z).sum(axis=0) / X.shape[0]


def grad_p(v, p, X, Y, phi, loss: Loss, state: JointState | None = None) -> np.ndarray:
    """grad_p L = (1/n) sum_i l'(u_i) sum_{t != a_i} s_it ((gamma_it - gamma_{i,a_i}) + gap_i) (Phi_it - Phi_{i,a_i})."""
    js = state if state is not None else joint_state(v, p, X, Y, phi)
    st = js.att
    w = np.where(st.mask, st.s, 0.0) * (st.dgamma + st.gap[:, None])
    return np.einsum("it,itd->d", loss.derivative(st.u)[:, None] * w, st.dphi) / X.shape[0]


def joint_gradient(v, p, X, Y, phi, loss: Loss, scaled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(grad_v L, grad_p L). With ``scaled=True`` each block is multiplied by its own positive factor
    (e^{-max_i log|l'(u_i)|} for v, e^{-max_{i,t} (log|l'(u_i)| + log s_it)} for p): the directions
    are exact and never underflow, the lengths are meaningless (for normalised steps)."""
    if not scaled:
        js = joint_state(v, p, X, Y, phi)
        return grad_v(v, p, X, Y, phi, loss, js), grad_p(v, p, X, Y, phi, loss, js)
    return JointKernel(X, Y, phi).scaled_gradient(np.asarray(v, dtype=float), np.asarray(p, dtype=float), loss)


def mp_joint_gradient(v, p, X, Y, W, loss: Loss, dps: int = 50) -> tuple[list, list]:
    """(grad_v L, grad_p L) in mpmath from the textbook formulas (independent reference):
    s_i = softmax(X_i W p), u_i = Y_i v^T X_i^T s_i, grad_v = (1/n) sum l'(u_i) Y_i X_i^T s_i,
    grad_p = (1/n) sum l'(u_i) Y_i W^T X_i^T (diag(s_i) - s_i s_i^T) X_i v."""
    with mpmath.workdps(dps):
        X = [[[mpmath.mpf(x) for x in tok] for tok in seq] for seq in np.asarray(X, dtype=object)]
        v = [mpmath.mpf(x) for x in v]
        p = [mpmath.mpf(x) for x in p]
        W = [[mpmath.mpf(x) for x in row] for row in np.asarray(W, dtype=object)]
        n, d = len(X), len(v)
        gv = [mpmath.mpf(0)] * d
        gp = [mpmath.mpf(0)] * d
        for i, seq in enumerate(X):
            y = mpmath.mpf(Y[i])
            keys = [[mpmath.fsum(W[a][c] * tok[a] for a in range(d)) for c in range(d)] for tok in seq]
            q = [mpmath.fsum(k[c] * p[c] for c in range(d)) for k in keys]
            e = [mpmath.exp(x) for x in q]
            zsum = mpmath.fsum(e)
            s = [x / zsum for x in e]
            xv = [mpmath.fsum(tok[c] * v[c] for c in range(d)) for tok in seq]
            z = [mpmath.fsum(s[t] * seq[t][c] for t in range(len(seq))) for c in range(d)]
            u = y * mpmath.fsum(z[c] * v[c] for c in range(d))
            lp = loss.mp_derivative(u)
            mean_xv = mpmath.fsum(s[t] * xv[t] for t in range(len(seq)))
            for c in range(d):
                gv[c] += lp * y * z[c] / n
                gp[c] += lp * y * mpmath.fsum(s[t] * (xv[t] - mean_xv) * keys[t][c] for t in range(len(seq))) / n
        return gv, gp


@dataclass
class JointCheckpoint:
    """The state of joint GD after ``iteration`` steps: v, p, their norms, L (float64), the dominant
    tokens, max_i (1 - s_{i,a_i}) without cancellation, and what an observer added."""

    iteration: int
    v: np.ndarray
    p: np.ndarray
    v_norm: float
    p_norm: float
    loss: float
    selected: tuple
    one_minus_mass: float
    extra: dict = field(default_factory=dict)


JointTrajectory = Trajectory  # a joint run has the same fields; its checkpoints are JointCheckpoints


def run_joint_gd(v0, p0, X, Y, phi, loss: Loss, *, method: str = "normalized", step: float = 1.0,
                 max_iter: int = 100_000, time_budget: float | None = None, per_decade: int = 10,
                 observer: Callable[[JointCheckpoint], bool] | None = None) -> JointTrajectory:
    """Joint GD on (v, p), float64, with the stable gradients:

    fixed:       (v, p) <- (v, p) - eta (grad_v L, grad_p L)
    normalized:  v <- v - eta grad_v L / ||grad_v L||,  p <- p - eta grad_p L / ||grad_p L||  (per block)

    One run of :func:`numeric.joint_lockstep.run_joint_gd_lockstep` (which runs several inits at once)."""
    from .joint_lockstep import run_joint_gd_lockstep

    return run_joint_gd_lockstep([v0], [p0], X, Y, phi, loss, method=method, step=step, max_iter=max_iter,
                                 time_budget=time_budget, per_decade=per_decade, observers=[observer])[0]


def v_svm_rows(X, Y, alpha):
    """Rows Y_i x_{i,alpha_i} of the v-SVM  min ||v|| s.t. Y_i v^T x_{i,alpha_i} >= 1 (float or exact)."""
    X = np.asarray(X)
    alpha = np.asarray(alpha, dtype=int)
    rows = np.arange(X.shape[0])
    return np.asarray(Y)[:, None] * X[rows, alpha]
