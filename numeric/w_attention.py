"""Self- and cross-attention with the combined key-query matrix W, or with W = K Q^T (float64, numpy).

Logits q_it = x_it^T W z_i (query z_i: a token of X_i for self-attention, given for cross-attention)
are linear in W with features Phi_it = x_it z_i^T, so the stable machinery of
:mod:`numeric.attention` (DESIGN.md section 3) applies unchanged. Its coefficients c_it give

    grad_W L = (1/n) sum_i sum_{t != a_i} c_it (Phi_it - Phi_{i,a_i})
             = (1/n) sum_i (sum_t c_it (x_it - x_{i,a_i})) z_i^T

which is computed in that factored form (O(n T d) instead of O(n T d^2)). With W = K Q^T
(K, Q in R^{d x m}) the chain rule gives grad_K L = G Q and grad_Q L = G^T K with G = grad_W L.
"""
from __future__ import annotations

import numpy as np

from .attention import StableAttention, attention_state
from .gd import Checkpoint, CheckpointSchedule, Trajectory
from .losses import Loss


def w_features(X: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Phi_it = vec(x_it z_i^T) (row-major), shape (n, T, d*d): q_it = <vec(W), Phi_it>.

    Works on float arrays and on object arrays of exact rationals."""
    n, T, d = X.shape
    return (X[:, :, :, None] * Z[:, None, None, :]).reshape(n, T, d * Z.shape[1])


def self_queries(X: np.ndarray, query_index: int) -> np.ndarray:
    """Self-attention queries z_i = x_{i, query_index}, shape (n, d)."""
    return X[:, query_index, :]


def w_logits(W: np.ndarray, X: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """q_it = x_it^T W z_i, shape (n, T)."""
    return np.einsum("ita,ia->it", X, Z @ W.T)


def _state_and_coefficients(W, X, Z, gamma, loss: Loss, scaled: bool):
    """The stable state (on the scalar logits) and c_it = l'(u_i) s_it (dgamma_it + gap_i) (times e^{-max r})."""
    q = w_logits(W, X, Z)
    one = np.ones(1)
    # scalar features Phi_it = q_it with theta = 1: r_it = q_it - q_{i,a_i}, the rest is the shared machinery
    kernel = StableAttention(q[:, :, None], gamma)
    return kernel.state(one), kernel.coefficients(one, loss, scaled)


def w_gradient(W: np.ndarray, X: np.ndarray, Z: np.ndarray, gamma: np.ndarray, loss: Loss,
               scaled: bool = False) -> np.ndarray:
    """grad_W L = (1/n) sum_i (sum_{t != a_i} c_it (x_it - x_{i,a_i})) z_i^T, shape (d, d).

    c_it are the stable coefficients of :mod:`numeric.attention`; ``scaled`` multiplies the result by
    e^{-max r} (same direction, never underflows)."""
    st, c = _state_and_coefficients(W, X, Z, gamma, loss, scaled)
    rows = np.arange(X.shape[0])
    dX = X - X[rows, st.dominant][:, None, :]
    return np.einsum("it,ita,ib->ab", c, dX, Z) / X.shape[0]


def kq_gradient(K: np.ndarray, Q: np.ndarray, X: np.ndarray, Z: np.ndarray, gamma: np.ndarray, loss: Loss,
                scaled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(grad_K L, grad_Q L) = (G Q, G^T K) with G = grad_W L at W = K Q^T (chain rule)."""
    G = w_gradient(K @ Q.T, X, Z, gamma, loss, scaled)
    return G @ Q, G.T @ K


def _scale_exponent(W, X, Z, gamma) -> float:
    """rmax = max_{i, t != a_i} r_it, the exponent of the scale e^{-rmax} of the scaled gradient (0 if none)."""
    q = w_logits(W, X, Z)
    r_tail = StableAttention(q[:, :, None], gamma).tails(np.ones(1))[0]
    rmax = float(r_tail.max())
    return rmax if np.isfinite(rmax) else 0.0


def kq_direction(K, Q, X, Z, gamma, loss: Loss, ridge: float = 0.0):
    """A positive multiple of the gradient of L(K Q^T) + ridge (||K||_F^2 + ||Q||_F^2) with respect to (K, Q),
    computed without underflow or overflow: with the scaled attention gradient e^{-rmax} (G Q, G^T K) and
    c = ln(2 ridge) - rmax, e^{min(0, -c)} (G Q, G^T K)_scaled + e^{min(0, c)} (K, Q). Returns (dK, dQ)."""
    gK, gQ = kq_gradient(K, Q, X, Z, gamma, loss, scaled=True)
    if ridge <= 0:
        return gK, gQ
    c = float(np.log(2.0 * ridge)) - _scale_exponent(K @ Q.T, X, Z, gamma)
    w_att, w_ridge = np.exp(min(0.0, -c)), np.exp(min(0.0, c))
    return w_att * gK + w_ridge * K, w_att * gQ + w_ridge * Q


def w_loss(W, X, Z, gamma, loss: Loss) -> float:
    """L(W) = (1/n) sum_i l(u_i), u_i computed without cancellation."""
    q = w_logits(W, X, Z)
    st = attention_state(np.ones(1), q[:, :, None], gamma)
    return float(np.mean(loss.value(st.u)))


def balanced_init(d: int, m: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """K0 = Q0 = scale * I_{d x m} (the first m columns of the identity): balanced, K0^T K0 = Q0^T Q0,
    and W0 = K0 Q0^T = scale^2 diag(1,..,1,0,..) deterministic and free of any preferred direction
    inside its range."""
    E = np.eye(d, m)
    return scale * E, scale * E.copy()


KQ_NORMALIZATIONS = ("joint", "per-factor")


def run_kq_gd(K0: np.ndarray, Q0: np.ndarray, X: np.ndarray, Z: np.ndarray, gamma: np.ndarray, loss: Loss, *,
              step: float = 0.1, max_iter: int = 20_000, time_budget: float | None = None, per_decade: int = 10,
              rule: str = "constant", decay: float | None = None, observer=None, normalization: str = "joint",
              ridge: float = 0.0) -> Trajectory:
    """Normalised GD on the joint parameter (K, Q):

        (K, Q) <- (K, Q) - eta_k (grad_K, grad_Q) / ||(grad_K, grad_Q)||_F          (normalization "joint")
        K <- K - eta_k grad_K / ||grad_K||_F,  Q <- Q - eta_k grad_Q / ||grad_Q||_F    ("per-factor", the authors')

    of L(K Q^T) + ``ridge`` (||K||_F^2 + ||Q||_F^2) (the authors add ridge = float64's machine epsilon; default 0)

    with eta_k = step (``rule="constant"``) or eta_k = step * max(1, ||(K_k, Q_k)||_F) (``"relative"``:
    the norm grows geometrically), both divided by sqrt(1 + k/decay) when ``decay`` is given (with a fixed
    relative step the direction oscillates at large norms with an amplitude proportional to the step),
    using the scaled stable gradient (its direction survives at any norm). Checkpoints hold
    theta = vec(K Q^T) (so every W-level tool applies) and extra["K"], extra["Q"]."""
    if rule not in ("constant", "relative"):
        raise ValueError(f"unknown step rule {rule!r}; expected constant or relative")
    if normalization not in KQ_NORMALIZATIONS:
        raise ValueError(f"unknown normalisation {normalization!r}; expected one of {KQ_NORMALIZATIONS}")
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge!r}")
    K = np.array(K0, dtype=float).copy()
    Q = np.array(Q0, dtype=float).copy()
    book = CheckpointSchedule(max_iter, per_decade, time_budget, observer)
    k = 0
    while True:
        gK, gQ = kq_direction(K, Q, X, Z, gamma, loss, ridge)
        gn = float(np.sqrt(np.sum(gK * gK) + np.sum(gQ * gQ)))
        if book.due(k, gn == 0.0):
            W = K @ Q.T
            q = w_logits(W, X, Z)
            st = attention_state(np.ones(1), q[:, :, None], gamma)
            G = w_gradient(W, X, Z, gamma, loss)
            cp = Checkpoint(iteration=k, theta=W.ravel().copy(), norm=float(np.linalg.norm(W)),
                            loss=float(np.mean(loss.value(st.u))), selected=tuple(int(a) for a in st.dominant),
                            one_minus_mass=float(np.max(st.one_minus_mass)),
                            grad_norm=float(np.sqrt(np.sum((G @ Q) ** 2) + np.sum((G.T @ K) ** 2))),
                            extra={"K": K.copy(), "Q": Q.copy()})
            stop = book.record(cp, gn == 0.0)
            if stop:
                break
        eta = step if decay is None else step / np.sqrt(1.0 + k / decay)
        if rule == "relative":
            eta *= max(1.0, float(np.sqrt(np.sum(K * K) + np.sum(Q * Q))))
        if normalization == "per-factor":
            nK, nQ = float(np.sqrt(np.sum(gK * gK))), float(np.sqrt(np.sum(gQ * gQ)))
            K = K - (eta * gK / nK if nK > 0 else 0.0)
            Q = Q - (eta * gQ / nQ if nQ > 0 else 0.0)
        else:
            K = K - eta * gK / gn
            Q = Q - eta * gQ / gn
        k += 1
    method = f"normalized-kq-{rule}" + ("-per-factor" if normalization == "per-factor" else "") + \
        (f"-ridge{ridge:g}" if ridge > 0 else "")
    return Trajectory(method=method, step=step, checkpoints=book.checkpoints, stop_reason=stop, seconds=book.seconds)
